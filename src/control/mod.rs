//! The control plane's core: the one writer of the EFD table and of the
//! workers' flow tables, changing flows while packets flow.
//!
//! [`FlowControl`] owns the [`Efd`] (the distributor only holds a reader)
//! and one change queue per node ([`sync`]). It is driven from one thread,
//! never from an lcore.
//!
//! # Moving a flow without losing a packet
//!
//! A packet of a flow is dropped by a node's filter if it reaches a node
//! that does not own it. So a move from node A to node B goes:
//!
//! 1. **add at B** and wait until B's worker has applied it: from now on B
//!    passes the flow's packets;
//! 2. **switch the EFD value** to B: lookups that see it send to B;
//! 3. **flush the distributor** ([`sync::DistributorSync`]): once it has
//!    answered, every packet looked up before the switch is on A's ring (or
//!    counted as a ring drop), and A's `rx` counter includes it;
//! 4. **wait for A's worker** to have filtered as many packets as were
//!    enqueued on its ring at that point: none of the old packets is left;
//! 5. **remove at A**.
//!
//! Until step 5 A still passes the flow, so every packet looked up with the
//! old value is forwarded by A and every later one by B. Many moves go
//! through the five steps together (one wait each), which is how a drain
//! moves a million flows.

pub mod api;
pub mod balance;
pub mod http;
pub mod service;
pub mod snapshot;
pub mod status;
pub mod sync;

use crate::efd::{Efd, EfdError, Reclaimed};
use crate::ids::NodeId;
use crate::key::FlowKey;
use crate::stats::Stats;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use sync::{DistributorSync, NodeLink, TableChange};

/// How long a step waits for an lcore before giving up.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a change was refused or could not complete; one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// The node id is not below the number of nodes.
    NoSuchNode {
        /// The node asked for.
        node: u16,
        /// The number of nodes.
        num_nodes: u16,
    },
    /// The flow is already in the table.
    Exists(String),
    /// The flow is not in the table.
    NotFound(String),
    /// The EFD table refused a key (full).
    Table(String),
    /// An lcore did not answer in time (a stalled worker or distributor).
    Timeout(String),
    /// A worker is gone.
    WorkerGone(u16),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::NoSuchNode { node, num_nodes } => {
                write!(f, "node {node} out of range ({num_nodes} nodes)")
            }
            ControlError::Exists(k) => write!(f, "flow {k} exists"),
            ControlError::NotFound(k) => write!(f, "flow {k} not found"),
            ControlError::Table(m) => write!(f, "{m}"),
            ControlError::Timeout(m) => write!(f, "timed out: {m}"),
            ControlError::WorkerGone(n) => write!(f, "the worker of node {n} is gone"),
        }
    }
}

impl std::error::Error for ControlError {}

/// What a batch of moves did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MoveReport {
    /// Flows that changed node.
    pub moved: usize,
    /// Flows that were already on their target node.
    pub unchanged: usize,
}

/// The single writer of the EFD table and the workers' flow tables.
pub struct FlowControl<K: FlowKey<Bytes = [u8; N]>, const N: usize> {
    efd: Efd<N>,
    nodes: Vec<NodeLink<K>>,
    distributor: Arc<DistributorSync>,
    stats: Arc<Stats>,
    timeout: Duration,
}

impl<K: FlowKey<Bytes = [u8; N]>, const N: usize> FlowControl<K, N> {
    /// Control over `efd` (whose readers the distributor holds), the nodes'
    /// change queues `nodes` (indexed by node id), the distributor's flush
    /// handshake and the counters the loops update.
    pub fn new(
        efd: Efd<N>,
        nodes: Vec<NodeLink<K>>,
        distributor: Arc<DistributorSync>,
        stats: Arc<Stats>,
    ) -> Self {
        FlowControl {
            efd,
            nodes,
            distributor,
            stats,
            timeout: DEFAULT_STEP_TIMEOUT,
        }
    }

    /// Sets how long each step waits for an lcore.
    pub fn set_step_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The EFD table (read only; changes go through this type).
    pub fn efd(&self) -> &Efd<N> {
        &self.efd
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> u16 {
        self.nodes.len() as u16
    }

    /// The node a stored flow with EFD value `v` is on (through the
    /// distributor's value slots: adopted flows keep the value they had).
    pub fn node_of_value(&self, v: u8) -> NodeId {
        NodeId::new(self.distributor.slot(v))
    }

    /// The node that owns `key`, if the flow is in the table.
    pub fn node_of(&self, key: K) -> Option<NodeId> {
        self.efd.get(&key.to_bytes()).map(|v| self.node_of_value(v))
    }

    /// [`FlowControl::node_of`] of many keys (prefetched: for bulk
    /// requests).
    pub fn nodes_of(&self, keys: &[K]) -> Vec<Option<NodeId>> {
        let bytes: Vec<[u8; N]> = keys.iter().map(FlowKey::to_bytes).collect();
        self.efd
            .get_batch(&bytes)
            .into_iter()
            .map(|v| v.map(|v| self.node_of_value(v)))
            .collect()
    }

    /// The flows of `node`, in table order.
    pub fn flows_of(&self, node: NodeId) -> Vec<K> {
        self.efd
            .iter()
            .filter(|&(_, v)| self.node_of_value(v) == node)
            .map(|(k, _)| K::from_bytes(&k))
            .collect()
    }

    fn check_node(&self, node: NodeId) -> Result<(), ControlError> {
        if node.index() < self.nodes.len() {
            Ok(())
        } else {
            Err(ControlError::NoSuchNode {
                node: node.get(),
                num_nodes: self.num_nodes(),
            })
        }
    }

    /// Adds a new flow owned by `node`: the node's table first, then the EFD
    /// table, so its first packets after the change are forwarded.
    pub fn add(&mut self, key: K, node: NodeId) -> Result<(), ControlError> {
        self.check_node(node)?;
        if self.efd.contains(&key.to_bytes()) {
            return Err(ControlError::Exists(key.to_string()));
        }
        self.send(node, TableChange::Add(key))?;
        self.wait_applied(&[node])?;
        if let Err(e) = self.efd.insert(&key.to_bytes(), node.efd_value()) {
            // Nothing half-applied: take it out of the node's table again.
            self.send(node, TableChange::Remove(key))?;
            self.wait_applied(&[node])?;
            return Err(table_error(e));
        }
        Ok(())
    }

    /// Removes a flow; its packets are dropped by the node filters from
    /// then on, once those looked up before have been forwarded. Returns
    /// the node that owned it.
    pub fn remove(&mut self, key: K) -> Result<NodeId, ControlError> {
        let Some(v) = self.efd.remove(&key.to_bytes()) else {
            return Err(ControlError::NotFound(key.to_string()));
        };
        let node = self.node_of_value(v);
        self.drain_old(&[node])?;
        self.send(node, TableChange::Remove(key))?;
        self.wait_applied(&[node])?;
        Ok(node)
    }

    /// Removes many flows at once (one flush and one wait for all); keys
    /// not in the table are skipped. Returns each removed flow's node.
    pub fn remove_many(&mut self, keys: &[K]) -> Result<Vec<(K, NodeId)>, ControlError> {
        let mut removed = Vec::with_capacity(keys.len());
        for &key in keys {
            if let Some(v) = self.efd.remove(&key.to_bytes()) {
                removed.push((key, self.node_of_value(v)));
            }
        }
        if removed.is_empty() {
            return Ok(removed);
        }
        let nodes = node_set(self.nodes.len(), removed.iter().map(|r| r.1));
        self.drain_old(&nodes)?;
        for &(key, node) in &removed {
            self.send(node, TableChange::Remove(key))?;
        }
        self.wait_applied(&nodes)?;
        Ok(removed)
    }

    /// Moves flows to new nodes without dropping a packet (see the module
    /// documentation). Every key must be in the table and every node valid,
    /// or nothing changes.
    pub fn move_flows(&mut self, moves: &[(K, NodeId)]) -> Result<MoveReport, ControlError> {
        let mut report = MoveReport::default();
        let mut plan = Vec::with_capacity(moves.len());
        for &(key, to) in moves {
            self.check_node(to)?;
            let from = self
                .node_of(key)
                .ok_or_else(|| ControlError::NotFound(key.to_string()))?;
            if from == to {
                report.unchanged += 1;
            } else {
                plan.push((key, from, to));
            }
        }
        report.moved = self.move_listed(&plan)?;
        Ok(report)
    }

    /// [`FlowControl::move_flows`] of flows listed with the node they are
    /// on (as [`FlowControl::flows_of`] gives them), each to another node:
    /// no lookup per flow. Returns how many moved.
    pub fn move_listed(&mut self, plan: &[(K, NodeId, NodeId)]) -> Result<usize, ControlError> {
        for &(key, from, to) in plan {
            self.check_node(to)?;
            self.check_node(from)?;
            if from == to {
                return Err(ControlError::Table(format!(
                    "flow {key}: a move to its own node"
                )));
            }
        }
        if plan.is_empty() {
            return Ok(0);
        }
        let targets = node_set(self.nodes.len(), plan.iter().map(|m| m.2));
        let sources = node_set(self.nodes.len(), plan.iter().map(|m| m.1));
        // 1. Add at the new nodes.
        for &(key, _, to) in plan {
            self.send(to, TableChange::Add(key))?;
        }
        self.wait_applied(&targets)?;
        // 2. Switch the EFD values. A group that no longer solves bumps
        // keys deeper; should the deeper levels be full, the thresholds
        // earlier changes lowered are raised and the rest is tried again.
        let entries: Vec<([u8; N], u8)> = plan
            .iter()
            .map(|&(key, _, to)| (key.to_bytes(), to.efd_value()))
            .collect();
        match self.efd.update_batch(&entries) {
            Ok(_) => {}
            Err(EfdError::TableFull) => {
                self.reclaim();
                self.efd.update_batch(&entries).map_err(table_error)?;
            }
            Err(e) => return Err(table_error(e)),
        }
        // 3 and 4. Every packet looked up before has left the old rings.
        self.drain_old(&sources)?;
        // 5. Remove at the old nodes.
        for &(key, from, _) in plan {
            self.send(from, TableChange::Remove(key))?;
        }
        self.wait_applied(&sources)?;
        Ok(plan.len())
    }

    /// Adds new flows, each `(key, node, EFD value)` (the value must send
    /// to the node through the distributor's value slots): every node's
    /// table first (waiting for the workers unless `wait_nodes` is false,
    /// for flows whose packets already reach their node and are forwarded
    /// there), then the EFD table in one batch. The keys must be new and
    /// distinct: the callers have looked them up already (a bulk request
    /// sorts its adds from its moves that way), so they are not looked up
    /// again. All or nothing: a bad node or a key the table cannot place
    /// leaves everything as it was. Returns how many were added.
    pub fn add_many(
        &mut self,
        flows: &[(K, NodeId, u8)],
        wait_nodes: bool,
    ) -> Result<usize, ControlError> {
        for &(_, node, _) in flows {
            self.check_node(node)?;
        }
        if flows.is_empty() {
            return Ok(0);
        }
        let nodes = node_set(self.nodes.len(), flows.iter().map(|f| f.1));
        let started = Instant::now();
        for &(key, node, _) in flows {
            self.send(node, TableChange::Add(key))?;
        }
        let sent_s = started.elapsed().as_secs_f64();
        if wait_nodes {
            self.wait_applied(&nodes)?;
        } else {
            self.flush()?;
        }
        let applied_s = started.elapsed().as_secs_f64();
        let entries: Vec<(K::Bytes, u8)> =
            flows.iter().map(|&(k, _, v)| (k.to_bytes(), v)).collect();
        let results = self.efd.insert_batch(&entries);
        debug_assert!(
            results
                .iter()
                .all(|r| !matches!(r, Ok(o) if *o != crate::efd::InsertOutcome::Inserted)),
            "add_many of a key in the table"
        );
        tracing::debug!(
            flows = flows.len(),
            sent_s,
            applied_s,
            inserted_s = started.elapsed().as_secs_f64(),
            "add_many"
        );
        if let Some(i) = results.iter().position(Result::is_err) {
            let err = results[i].unwrap_err();
            // Undo: out of the EFD table the ones that went in, then out of
            // the nodes' tables (after the packets looked up meanwhile).
            for (&(key, _, _), r) in flows.iter().zip(&results) {
                if r.is_ok() {
                    self.efd.remove(&key.to_bytes());
                }
            }
            self.drain_old(&nodes)?;
            for &(key, node, _) in flows {
                self.send(node, TableChange::Remove(key))?;
            }
            self.wait_applied(&nodes)?;
            return Err(table_error(err));
        }
        Ok(flows.len())
    }

    /// Gives flows a new EFD value that sends to the node they are on
    /// already (through the value slots): no packet changes node.
    pub fn revalue(&mut self, flows: &[(K, u8)]) -> Result<(), ControlError> {
        let entries: Vec<([u8; N], u8)> = flows.iter().map(|&(k, v)| (k.to_bytes(), v)).collect();
        self.efd.update_batch(&entries).map_err(table_error)?;
        Ok(())
    }

    /// Replaces the distributor's value slots: once every packet looked up
    /// before has been handed to its node (a flush), the new slots are
    /// published. Flows whose value's slot changes owner must have been
    /// given another value first ([`FlowControl::revalue`]).
    pub fn set_value_slots(&mut self, slots: &[u16]) -> Result<(), ControlError> {
        let n = self.distributor.request_flush();
        self.wait(
            || self.distributor.flushed(n),
            || "the distributor did not answer a flush".to_string(),
        )?;
        self.distributor.set_slots(slots);
        Ok(())
    }

    /// Raises the EFD thresholds that changes lowered ([`Efd::reclaim`]):
    /// keys the re-solves of moves and adds pushed to the deeper levels go
    /// back up where their groups have room, so a table that keeps changing
    /// neither fills its deeper levels nor slows its lookups. The grace
    /// period is a distributor flush: every lookup started before it has
    /// finished. (A distributor that does not answer within the step
    /// timeout is not looking anything up; the reclaim then goes on.)
    pub fn reclaim(&mut self) -> Reclaimed {
        let (distributor, timeout) = (&self.distributor, self.timeout);
        self.efd.reclaim(|| {
            let n = distributor.request_flush();
            let _ = wait_until(timeout, || distributor.flushed(n));
        })
    }

    /// Flows answered from the EFD table's deeper levels (a second cache
    /// line per lookup).
    pub fn deep_flows(&self) -> usize {
        self.efd.deep_len()
    }

    /// The value EFD answers for `key` now (for keys not in the table, the
    /// value their packets get).
    pub fn lookup_value(&self, key: K) -> u8 {
        self.efd.lookup(&key.to_bytes())
    }

    /// Moves every flow of `node` to the nodes `to`, round robin, without
    /// dropping a packet. Returns how many moved.
    pub fn drain(&mut self, node: NodeId, to: &[NodeId]) -> Result<usize, ControlError> {
        self.check_node(node)?;
        let targets: Vec<NodeId> = to.iter().copied().filter(|&n| n != node).collect();
        for &t in &targets {
            self.check_node(t)?;
        }
        let flows = self.flows_of(node);
        if flows.is_empty() {
            return Ok(0);
        }
        if targets.is_empty() {
            return Err(ControlError::NoSuchNode {
                node: node.get(),
                num_nodes: self.num_nodes(),
            });
        }
        let moves: Vec<(K, NodeId)> = flows
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, targets[i % targets.len()]))
            .collect();
        Ok(self.move_flows(&moves)?.moved)
    }

    fn send(&mut self, node: NodeId, change: TableChange<K>) -> Result<(), ControlError> {
        if self.nodes[node.index()].send(change) {
            Ok(())
        } else {
            Err(ControlError::WorkerGone(node.get()))
        }
    }

    /// Sends every node's pending changes.
    fn flush(&mut self) -> Result<(), ControlError> {
        for (i, l) in self.nodes.iter_mut().enumerate() {
            if !l.flush() {
                return Err(ControlError::WorkerGone(i as u16));
            }
        }
        Ok(())
    }

    /// Waits until the workers of `nodes` have applied every change sent.
    fn wait_applied(&mut self, nodes: &[NodeId]) -> Result<(), ControlError> {
        self.flush()?;
        self.wait(
            || nodes.iter().all(|n| self.nodes[n.index()].caught_up()),
            || "a worker did not apply its flow table changes".to_string(),
        )
    }

    /// Steps 3 and 4: flush the distributor, then wait until the workers of
    /// `nodes` have filtered every packet enqueued on their rings so far.
    fn drain_old(&self, nodes: &[NodeId]) -> Result<(), ControlError> {
        let n = self.distributor.request_flush();
        self.wait(
            || self.distributor.flushed(n),
            || "the distributor did not answer a flush".to_string(),
        )?;
        let enqueued: Vec<u64> = nodes
            .iter()
            .map(|n| self.stats.nodes[n.index()].rx.get())
            .collect();
        self.wait(
            || {
                nodes.iter().zip(&enqueued).all(|(n, &e)| {
                    let c = &self.stats.nodes[n.index()];
                    c.filter_passed.get() + c.filter_drop.get() >= e
                })
            },
            || "a worker did not empty its ring".to_string(),
        )
    }

    fn wait(&self, done: impl Fn() -> bool, what: impl Fn() -> String) -> Result<(), ControlError> {
        if wait_until(self.timeout, done) {
            Ok(())
        } else {
            Err(ControlError::Timeout(what()))
        }
    }
}

/// Waits until `done` (spinning, then sleeping 20 µs at a time); false if
/// `timeout` passed first.
fn wait_until(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    let mut spins = 0u32;
    while !done() {
        if start.elapsed() > timeout {
            return false;
        }
        spins += 1;
        if spins < 1000 {
            std::hint::spin_loop();
        } else {
            std::thread::sleep(Duration::from_micros(20));
        }
    }
    true
}

fn table_error(e: EfdError) -> ControlError {
    ControlError::Table(e.to_string())
}

/// The distinct nodes of `it`, ascending.
fn node_set(num_nodes: usize, it: impl Iterator<Item = NodeId>) -> Vec<NodeId> {
    let mut seen = vec![false; num_nodes];
    for n in it {
        seen[n.index()] = true;
    }
    (0..num_nodes)
        .filter(|&i| seen[i])
        .map(|i| NodeId::new(i as u16))
        .collect()
}

#[cfg(test)]
mod tests;

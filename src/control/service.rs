//! The control thread: the one place flows and nodes change while packets
//! flow. It executes the API's [`Request`]s one at a time on the
//! [`FlowControl`] it owns, adopts unknown flows (`unknown_flows =
//! "assign"`), keeps node states and weights, and publishes a
//! [`ControlStatus`] for readers that must not wait for it.
//!
//! Every request is checked in full before anything changes, so a refused
//! request leaves the tables as they were.

use super::api::{
    ApiError, BulkSource, ChangeReply, Envelope, FlowEntry, FlowPage, NodeReply, PutFlowReply,
    Reply, Request, SnapshotReply,
};
use super::balance::{self, NodePolicy, NO_NODE};
use super::status::{ControlStatus, ControlStatusCell, NodeState, NodeStatus, Op, OpStats};
use super::sync::{Activity, AdoptionDesk};
use super::{ControlError, FlowControl};
use crate::efd::Reclaimed;
use crate::flows;
use crate::ids::NodeId;
use crate::key::FlowKey;
use crate::lcore::flow_table::FlowMatch;
use crate::stats::Stats;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Adoption asks handled per round, so requests are not held up long.
const ADOPTIONS_PER_ROUND: usize = 8192;

/// What the control thread is told at start.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Flows the table may hold (adds, bulk loads and adoptions beyond it
    /// are refused).
    pub capacity: usize,
    /// EFD value width.
    pub value_bits: u32,
    /// Whether unknown flows are adopted.
    pub assign: bool,
    /// What the node flow tables hold (for the status).
    pub flow_match: FlowMatch,
    /// The snapshot file (`POST /snapshot` without a path, periodic saves).
    pub snapshot: Option<PathBuf>,
    /// Period of automatic snapshots.
    pub snapshot_period: Option<Duration>,
    /// Adopted flows without a packet for this long expire.
    pub idle_timeout: Option<Duration>,
    /// The workers' marks of active flows (with `idle_timeout`).
    pub activity: Option<Arc<Activity>>,
    /// Most flows a second that drains, restores and weight changes move
    /// (`control.rebalance_flows_per_s`); `None`: no limit.
    pub rebalance_rate: Option<u32>,
}

/// The control thread's state.
pub struct ControlService<K: FlowKey<Bytes = [u8; N]>, const N: usize> {
    control: FlowControl<K, N>,
    policy: Vec<NodePolicy>,
    /// Flows per node.
    counts: Vec<u64>,
    slots: Vec<u16>,
    config: ServiceConfig,
    status: ControlStatusCell,
    ops: Vec<OpStats>,
    adoption: Option<AdoptionDesk<K>>,
    stats: Arc<Stats>,
    adopted: u64,
    expired: u64,
    table_full: u64,
    next_snapshot: Option<Instant>,
    /// Adopted flows and when they were last seen active (with
    /// `idle_timeout`).
    idle: hashbrown::HashMap<[u8; N], Instant>,
    next_sweep: Option<Instant>,
    /// Whether flows changed since the last reclaim, and when the next may
    /// run.
    reclaim_due: Option<Instant>,
    /// Flows on the EFD table's deeper levels after the last reclaim.
    deep_floor: usize,
}

/// Least time between two reclaims of the EFD table's thresholds (each
/// after changes; a 1M-flow table's takes 10 to 20 ms).
const RECLAIM_PERIOD: Duration = Duration::from_secs(1);

/// Whether a reclaim is worth its time: the deeper levels gained more than
/// a 256th of the capacity since the last one. Moves of the same flows
/// (drains and restores) barely add to them; new flows in full groups do.
fn reclaim_needed(deep: usize, floor: usize, capacity: usize) -> bool {
    deep > floor + (capacity / 256).max(64)
}

fn control_error(e: ControlError) -> ApiError {
    match e {
        ControlError::NoSuchNode { .. } => ApiError::bad_request(e.to_string()),
        ControlError::NotFound(_) => ApiError::not_found(e.to_string()),
        ControlError::Exists(_) | ControlError::Table(_) => ApiError::conflict(e.to_string()),
        ControlError::Timeout(_) | ControlError::WorkerGone(_) => {
            ApiError::unavailable(e.to_string())
        }
    }
}

impl<K: FlowKey<Bytes = [u8; N]>, const N: usize> ControlService<K, N> {
    /// Takes over `control`, with node states and weights `policy` (one
    /// per node), publishing to `status`.
    pub fn new(
        control: FlowControl<K, N>,
        policy: Vec<NodePolicy>,
        config: ServiceConfig,
        adoption: Option<AdoptionDesk<K>>,
        stats: Arc<Stats>,
        status: ControlStatusCell,
    ) -> Result<Self, ControlError> {
        let mut counts = vec![0u64; policy.len()];
        // The start-up flows have their node's own value.
        for (_, v) in control.efd().iter() {
            counts[usize::from(v)] += 1;
        }
        let mut s = ControlService {
            control,
            policy,
            counts,
            slots: Vec::new(),
            next_snapshot: config.snapshot_period.map(|p| Instant::now() + p),
            config,
            status,
            ops: vec![OpStats::default(); Op::ALL.len()],
            adoption,
            stats,
            adopted: 0,
            expired: 0,
            table_full: 0,
            idle: hashbrown::HashMap::new(),
            next_sweep: None,
            reclaim_due: None,
            deep_floor: 0,
        };
        s.deep_floor = s.control.deep_flows();
        s.next_sweep = s.sweep_period().map(|p| Instant::now() + p);
        // The start-up flows all have their node's own value, so the
        // first slots can be set without revaluing anything.
        s.slots = balance::value_slots(s.config.value_bits, &s.policy, s.config.assign, None);
        s.control.set_value_slots(&s.slots)?;
        s.publish();
        Ok(s)
    }

    /// The flow control (tests).
    pub fn control(&self) -> &FlowControl<K, N> {
        &self.control
    }

    /// Serves requests from `requests` and adoption asks until `stop` is
    /// set; then returns, dropping nothing queued unanswered (a request
    /// still queued gets "stopped").
    pub fn run(mut self, requests: Receiver<Envelope>, stop: &AtomicBool) -> FlowControl<K, N> {
        while !stop.load(Ordering::Relaxed) {
            let wait = if self.adoption.is_some() {
                Duration::from_micros(200)
            } else {
                Duration::from_millis(20)
            };
            match requests.recv_timeout(wait) {
                Ok(env) => {
                    let answer = self.handle(env.request);
                    let _ = env.reply.send(answer);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if self.adoption.is_none() && self.next_snapshot.is_none() {
                        // Nothing else to do: wait for the stop.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            self.adopt_round();
            self.expire_idle();
            self.periodic_snapshot();
            self.reclaim();
        }
        while let Ok(env) = requests.try_recv() {
            let _ = env
                .reply
                .send(Err(ApiError::unavailable("the appliance is stopping")));
        }
        self.control
    }

    /// Executes one request; `Err` is the refusal, nothing changed.
    pub fn handle(&mut self, request: Request) -> Result<Reply, ApiError> {
        let (op, started) = (request_op(&request), Instant::now());
        let result = self.execute(request);
        if let Some((op, flows)) = op.map(|o| (o, changed_flows(&result))) {
            let ok = result.is_ok();
            self.ops[op as usize].record(started.elapsed().as_secs_f64(), flows, ok);
            if op != Op::Snapshot {
                self.changed();
            }
        }
        self.publish();
        result
    }

    fn execute(&mut self, request: Request) -> Result<Reply, ApiError> {
        match request {
            Request::GetFlow { key } => {
                let k = parse_key::<K>(&key)?;
                let node = self
                    .control
                    .node_of(k)
                    .ok_or_else(|| ApiError::not_found(format!("flow {k} not found")))?;
                Ok(Reply::Flow(FlowEntry {
                    key: k.to_string(),
                    node: node.get(),
                }))
            }
            Request::PutFlow { key, node } => self.put_flow(&key, node),
            Request::DeleteFlow { key } => {
                let k = parse_key::<K>(&key)?;
                let node = self.control.remove(k).map_err(control_error)?;
                self.counts[node.index()] -= 1;
                self.idle.remove(&k.to_bytes());
                self.after_removal();
                Ok(Reply::Flow(FlowEntry {
                    key: k.to_string(),
                    node: node.get(),
                }))
            }
            Request::Bulk(source) => self.bulk(source),
            Request::NodeFlows {
                node,
                offset,
                limit,
            } => {
                let id = self.node(node, true)?;
                let all = self.control.flows_of(id);
                let flows = all
                    .iter()
                    .skip(offset.min(all.len() as u64) as usize)
                    .take(limit as usize)
                    .map(|k| k.to_string())
                    .collect();
                Ok(Reply::Page(FlowPage {
                    node,
                    total: all.len() as u64,
                    offset,
                    flows,
                }))
            }
            Request::Nodes => Ok(Reply::Nodes(
                (0..self.policy.len()).map(|i| self.node_reply(i)).collect(),
            )),
            Request::Node { node } => {
                let id = self.node(node, true)?;
                Ok(Reply::Node(self.node_reply(id.index())))
            }
            Request::Drain { node } => self.drain(node),
            Request::Restore { node } => self.restore(node),
            Request::SetWeight { node, weight } => self.set_weight(node, weight),
            Request::Snapshot { path } => self.snapshot(path.as_deref()),
        }
    }

    /// `node` as an id: 404 for a path (`in_path`), 400 for a body.
    fn node(&self, node: u16, in_path: bool) -> Result<NodeId, ApiError> {
        if usize::from(node) < self.policy.len() {
            Ok(NodeId::new(node))
        } else {
            let msg = format!("node {node} out of range ({} nodes)", self.policy.len());
            Err(if in_path {
                ApiError::not_found(msg)
            } else {
                ApiError::bad_request(msg)
            })
        }
    }

    fn node_reply(&self, i: usize) -> NodeReply {
        let c = &self.stats.nodes[i];
        let p = self.policy[i];
        NodeReply {
            id: i as u16,
            state: p.state.name().to_string(),
            weight: p.weight,
            flows: self.counts[i],
            rx: c.rx.get(),
            rx_drop: c.rx_drop.get(),
            filter_passed: c.filter_passed.get(),
            filter_drop: c.filter_drop.get(),
            tx: c.tx.iter().map(|t| t.get()).sum(),
            tx_drop: c.tx_drop.iter().map(|t| t.get()).sum(),
        }
    }

    fn check_room(&self, new: usize) -> Result<(), ApiError> {
        let len = self.control.efd().len();
        if len + new > self.config.capacity {
            return Err(ApiError::conflict(format!(
                "table full: {len} flows + {new} new exceed the capacity of {} (control.capacity)",
                self.config.capacity
            )));
        }
        Ok(())
    }

    fn check_active(&self, node: NodeId) -> Result<(), ApiError> {
        let s = self.policy[node.index()].state;
        if s == NodeState::Active {
            Ok(())
        } else {
            Err(ApiError::conflict(format!(
                "node {node} is {s}: restore it before giving it flows"
            )))
        }
    }

    fn put_flow(&mut self, key: &str, node: u16) -> Result<Reply, ApiError> {
        let k = parse_key::<K>(key)?;
        let to = self.node(node, false)?;
        self.check_active(to)?;
        let previous = self.control.node_of(k);
        match previous {
            Some(from) if from == to => {}
            Some(from) => {
                self.control.move_flows(&[(k, to)]).map_err(control_error)?;
                self.counts[from.index()] -= 1;
                self.counts[to.index()] += 1;
            }
            None => {
                self.check_room(1)?;
                self.control.add(k, to).map_err(control_error)?;
                self.counts[to.index()] += 1;
            }
        }
        // A flow the operator places is no longer an adopted one: it does
        // not expire.
        self.idle.remove(&k.to_bytes());
        Ok(Reply::Put(PutFlowReply {
            key: k.to_string(),
            node,
            previous: previous.map(NodeId::get),
        }))
    }

    fn bulk(&mut self, source: BulkSource) -> Result<Reply, ApiError> {
        let num_nodes = self.policy.len() as u16;
        let started = Instant::now();
        let parsed = match &source {
            BulkSource::Text(text) => {
                flows::parse_flows::<K>(text, Path::new("request body"), num_nodes)
            }
            BulkSource::File(path) => flows::load_flow_file::<K>(path, num_nodes),
        }
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let parse_s = started.elapsed().as_secs_f64();
        let mut adds = Vec::new();
        let mut moves = Vec::new();
        let mut reply = ChangeReply::default();
        let keys: Vec<K> = parsed.iter().map(|f| f.key).collect();
        let now = self.control.nodes_of(&keys);
        drop(keys);
        let lookup_s = started.elapsed().as_secs_f64() - parse_s;
        for (f, now) in parsed.iter().zip(now) {
            self.check_active(f.node)?;
            match now {
                None => adds.push((f.key, f.node, f.node.efd_value())),
                Some(n) if n == f.node => reply.unchanged += 1,
                Some(n) => moves.push((f.key, n, f.node)),
            }
        }
        self.check_room(adds.len())?;
        self.control.move_listed(&moves).map_err(control_error)?;
        for &(_, from, to) in &moves {
            self.counts[from.index()] -= 1;
            self.counts[to.index()] += 1;
        }
        if let Err(e) = self.control.add_many(&adds, true) {
            // All or nothing: move the moved flows back.
            let back: Vec<(K, NodeId, NodeId)> =
                moves.iter().map(|&(k, from, to)| (k, to, from)).collect();
            let _ = self.control.move_listed(&back);
            for &(_, from, to) in &moves {
                self.counts[from.index()] += 1;
                self.counts[to.index()] -= 1;
            }
            return Err(control_error(e));
        }
        for &(_, n, _) in &adds {
            self.counts[n.index()] += 1;
        }
        tracing::debug!(
            flows = parsed.len(),
            parse_s,
            lookup_s,
            total_s = started.elapsed().as_secs_f64(),
            "bulk"
        );
        if !self.idle.is_empty() {
            for f in &parsed {
                self.idle.remove(&f.key.to_bytes());
            }
        }
        reply.added = adds.len() as u64;
        reply.moved = moves.len() as u64;
        Ok(Reply::Changed(reply))
    }

    /// Moves flows so that the nodes allowed to give (`givers`) reach their
    /// fair counts. Returns how many moved.
    fn rebalance(&mut self, givers: &[bool]) -> Result<u64, ApiError> {
        let total: u64 = self.counts.iter().sum();
        let targets = balance::targets(total, &self.policy);
        let plan = balance::plan_moves(&self.counts, &targets, givers);
        if plan.is_empty() {
            return Ok(0);
        }
        let mut moves = Vec::new();
        for from in 0..self.policy.len() {
            let out: Vec<_> = plan.iter().filter(|t| t.from.index() == from).collect();
            if out.is_empty() {
                continue;
            }
            let from = NodeId::new(from as u16);
            let mut flows = self.control.flows_of(from).into_iter();
            for t in out {
                for k in flows.by_ref().take(t.count as usize) {
                    moves.push((k, from, t.to));
                }
            }
        }
        let moved = self.move_paced(&moves)?;
        Ok(moved as u64)
    }

    /// Moves `moves` (and keeps the counts): all at once, or with
    /// `rebalance_rate`, in slices of a fiftieth of a second's worth, each
    /// slice starting no earlier than the rate allows, so the control
    /// thread leaves the rest of its CPU to whatever shares it (on a host
    /// without a core of its own, a worker lcore).
    fn move_paced(&mut self, moves: &[(K, NodeId, NodeId)]) -> Result<usize, ApiError> {
        let slice = match self.config.rebalance_rate {
            None => moves.len().max(1),
            Some(rate) => (rate as usize / 50).max(1),
        };
        let started = Instant::now();
        let mut moved = 0;
        for part in moves.chunks(slice) {
            if let Some(rate) = self.config.rebalance_rate {
                let due = started + Duration::from_secs_f64(moved as f64 / f64::from(rate));
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            moved += self.control.move_listed(part).map_err(control_error)?;
            for &(_, from, to) in part {
                self.counts[from.index()] -= 1;
                self.counts[to.index()] += 1;
            }
        }
        Ok(moved)
    }

    /// Recomputes the value slots for the current states and weights; flows
    /// whose value's slot changes owner first get their node's own value.
    fn update_slots(&mut self) -> Result<(), ApiError> {
        let new = balance::value_slots(
            self.config.value_bits,
            &self.policy,
            self.config.assign,
            Some(&self.slots),
        );
        if new == self.slots {
            return Ok(());
        }
        let changed: Vec<bool> = self.slots.iter().zip(&new).map(|(a, b)| a != b).collect();
        let revalue: Vec<(K, u8)> = self
            .control
            .efd()
            .iter()
            .filter(|&(_, v)| changed[usize::from(v)])
            .map(|(k, v)| (K::from_bytes(&k), self.slots[usize::from(v)] as u8))
            .collect();
        self.control.revalue(&revalue).map_err(control_error)?;
        self.control.set_value_slots(&new).map_err(control_error)?;
        self.slots = new;
        Ok(())
    }

    fn drain(&mut self, node: u16) -> Result<Reply, ApiError> {
        let id = self.node(node, true)?;
        let i = id.index();
        if self.policy[i].state == NodeState::Out {
            return Err(ApiError::conflict(format!("node {node} is already out")));
        }
        let others = (0..self.policy.len()).any(|j| j != i && self.policy[j].share() > 0);
        if !others && self.counts[i] > 0 {
            return Err(ApiError::conflict(format!(
                "node {node} cannot drain: no other active node with a weight takes its flows"
            )));
        }
        let before = self.policy[i].state;
        self.policy[i].state = NodeState::Draining;
        self.publish();
        let result = self.update_slots().and_then(|()| {
            let givers: Vec<bool> = (0..self.policy.len()).map(|j| j == i).collect();
            self.rebalance(&givers)
        });
        match result {
            Ok(moved) => {
                self.policy[i].state = NodeState::Out;
                Ok(Reply::Changed(ChangeReply {
                    moved,
                    ..ChangeReply::default()
                }))
            }
            Err(e) => {
                self.policy[i].state = before;
                let _ = self.update_slots();
                Err(e)
            }
        }
    }

    fn restore(&mut self, node: u16) -> Result<Reply, ApiError> {
        let id = self.node(node, true)?;
        let i = id.index();
        if self.policy[i].state == NodeState::Active {
            return Err(ApiError::conflict(format!("node {node} is already active")));
        }
        self.policy[i].state = NodeState::Active;
        self.update_slots()?;
        let moved = self.rebalance(&vec![true; self.policy.len()])?;
        Ok(Reply::Changed(ChangeReply {
            moved,
            ..ChangeReply::default()
        }))
    }

    fn set_weight(&mut self, node: u16, weight: u32) -> Result<Reply, ApiError> {
        let id = self.node(node, true)?;
        let i = id.index();
        let before = self.policy[i].weight;
        self.policy[i].weight = weight;
        if weight == 0
            && self.counts[i] > 0
            && !(0..self.policy.len()).any(|j| j != i && self.policy[j].share() > 0)
        {
            self.policy[i].weight = before;
            return Err(ApiError::conflict(format!(
                "node {node}: weight 0 leaves no active node with a weight for its flows"
            )));
        }
        self.update_slots()?;
        let moved = if self.policy[i].state == NodeState::Active {
            self.rebalance(&vec![true; self.policy.len()])?
        } else {
            0
        };
        Ok(Reply::Changed(ChangeReply {
            moved,
            ..ChangeReply::default()
        }))
    }

    fn snapshot(&mut self, path: Option<&Path>) -> Result<Reply, ApiError> {
        let path = match path.or(self.config.snapshot.as_deref()) {
            Some(p) => p.to_path_buf(),
            None => {
                return Err(ApiError::bad_request(
                    "no snapshot path: give one or configure control.snapshot",
                ))
            }
        };
        let nodes: Vec<(NodeState, u32)> =
            self.policy.iter().map(|p| (p.state, p.weight)).collect();
        let efd = self.control.efd();
        let info = super::snapshot::write::<K>(
            &path,
            &nodes,
            efd.iter()
                .map(|(k, v)| (K::from_bytes(&k), NodeId::new(u16::from(v)))),
        )
        .map_err(|e| ApiError::new(500, e.to_string()))?;
        Ok(Reply::Snapshot(SnapshotReply {
            path: info.path,
            flows: info.flows,
            bytes: info.bytes,
        }))
    }

    fn periodic_snapshot(&mut self) {
        let (Some(due), Some(period)) = (self.next_snapshot, self.config.snapshot_period) else {
            return;
        };
        if Instant::now() < due {
            return;
        }
        self.next_snapshot = Some(Instant::now() + period);
        if let Err(e) = self.handle(Request::Snapshot { path: None }) {
            tracing::warn!("periodic snapshot failed: {}", e.error);
        }
    }

    /// How often idle adopted flows are looked for: half the timeout, so a
    /// flow expires between one and one and a half timeouts after its last
    /// packet.
    fn sweep_period(&self) -> Option<Duration> {
        self.config
            .idle_timeout
            .filter(|_| self.config.activity.is_some())
            .map(|t| (t / 2).max(Duration::from_millis(10)))
    }

    /// Expires the adopted flows that saw no packet for the idle timeout.
    fn expire_idle(&mut self) {
        let (Some(due), Some(period), Some(timeout)) = (
            self.next_sweep,
            self.sweep_period(),
            self.config.idle_timeout,
        ) else {
            return;
        };
        let now = Instant::now();
        if now < due {
            return;
        }
        self.next_sweep = Some(now + period);
        let Some(activity) = self.config.activity.clone() else {
            return;
        };
        let mut idle = Vec::new();
        for (k, last) in self.idle.iter_mut() {
            if activity.seen(K::from_bytes(k).tag()) {
                *last = now;
            } else if now.duration_since(*last) >= timeout {
                idle.push(K::from_bytes(k));
            }
        }
        activity.clear();
        if idle.is_empty() {
            return;
        }
        let started = Instant::now();
        match self.control.remove_many(&idle) {
            Ok(removed) => {
                for (k, node) in &removed {
                    self.idle.remove(&k.to_bytes());
                    self.counts[node.index()] -= 1;
                }
                self.expired += removed.len() as u64;
                self.ops[Op::Expire as usize].record(
                    started.elapsed().as_secs_f64(),
                    removed.len() as u64,
                    true,
                );
                self.after_removal();
            }
            Err(e) => {
                tracing::warn!("expiring {} idle flows: {e}", idle.len());
                self.ops[Op::Expire as usize].record(started.elapsed().as_secs_f64(), 0, false);
            }
        }
        self.publish();
    }

    fn after_removal(&mut self) {
        if let Some(desk) = &self.adoption {
            if desk.is_full() && self.control.efd().len() < self.config.capacity {
                desk.set_full(false);
            }
        }
    }

    /// Adopts the flows workers asked for: on the node that saw it when
    /// active (keeping the value it has, so its packets keep going there),
    /// else on the active node furthest below its fair share.
    fn adopt_round(&mut self) {
        let Some(desk) = &self.adoption else {
            return;
        };
        let mut asks = Vec::new();
        while asks.len() < ADOPTIONS_PER_ROUND {
            match desk.asks.try_recv() {
                Ok(a) => asks.push(a),
                Err(_) => break,
            }
        }
        if asks.is_empty() {
            return;
        }
        let started = Instant::now();
        let mut seen = hashbrown::HashSet::new();
        let (mut stay, mut elsewhere) = (Vec::new(), Vec::new());
        let mut room = self
            .config
            .capacity
            .saturating_sub(self.control.efd().len());
        let mut refused = 0u64;
        let total: u64 = self.counts.iter().sum::<u64>() + asks.len() as u64;
        let targets = balance::targets(total, &self.policy);
        for (key, node) in asks {
            if !seen.insert(key.to_bytes()) || self.control.efd().contains(&key.to_bytes()) {
                continue;
            }
            if room == 0 {
                refused += 1;
                continue;
            }
            room -= 1;
            let v = self.control.lookup_value(key);
            let at = self.slots[usize::from(v)];
            if at == node.get() && self.policy[node.index()].state == NodeState::Active {
                stay.push((key, node, v));
                self.counts[node.index()] += 1;
            } else {
                let Some(to) = furthest_below(&self.counts, &targets, &self.policy) else {
                    refused += 1;
                    continue;
                };
                elsewhere.push((key, to, to.efd_value()));
                self.counts[to.index()] += 1;
            }
        }
        let n = (stay.len() + elsewhere.len()) as u64;
        if n > 0 {
            self.changed();
        }
        let mut ok = true;
        for (batch, wait) in [(&stay, false), (&elsewhere, true)] {
            if let Err(e) = self.control.add_many(batch, wait) {
                tracing::warn!("adopting {} flows: {e}", batch.len());
                for &(_, node, _) in batch.iter() {
                    self.counts[node.index()] -= 1;
                }
                ok = false;
            } else {
                self.adopted += batch.len() as u64;
                if self.config.idle_timeout.is_some() {
                    let now = Instant::now();
                    for &(k, _, _) in batch.iter() {
                        self.idle.insert(k.to_bytes(), now);
                    }
                }
            }
        }
        if refused > 0 || self.control.efd().len() >= self.config.capacity {
            self.table_full += refused;
            if let Some(desk) = &self.adoption {
                desk.set_full(true);
            }
        }
        if let Some(desk) = &self.adoption {
            desk.next_round();
        }
        self.ops[Op::Adopt as usize].record(started.elapsed().as_secs_f64(), n, ok);
        self.publish();
    }

    /// Notes that flows changed: the EFD table's thresholds are reclaimed
    /// within [`RECLAIM_PERIOD`] if the deeper levels grew
    /// ([`reclaim_needed`]).
    fn changed(&mut self) {
        if self.reclaim_due.is_none() {
            self.reclaim_due = Some(Instant::now() + RECLAIM_PERIOD);
        }
    }

    /// Moves keys that changes pushed to the EFD table's deeper levels back
    /// up, when due ([`FlowControl::reclaim`]).
    fn reclaim(&mut self) {
        if self.reclaim_due.is_none_or(|due| Instant::now() < due) {
            return;
        }
        let deep = self.control.deep_flows();
        if reclaim_needed(deep, self.deep_floor, self.config.capacity) {
            self.reclaim_now();
        } else {
            self.reclaim_due = None;
            // Removes shrink the deeper levels too: the floor follows.
            self.deep_floor = self.deep_floor.min(deep);
        }
    }

    /// Reclaims now (what [`ControlService::run`] does within
    /// [`RECLAIM_PERIOD`] of a change).
    pub fn reclaim_now(&mut self) -> Reclaimed {
        self.reclaim_due = None;
        let started = Instant::now();
        let done = self.control.reclaim();
        self.ops[Op::Reclaim as usize].record(
            started.elapsed().as_secs_f64(),
            done.keys as u64,
            true,
        );
        self.deep_floor = self.control.deep_flows();
        self.publish();
        done
    }

    /// Publishes the status.
    fn publish(&self) {
        let efd = self.control.efd();
        let status = ControlStatus {
            key_kind: K::KIND.to_string(),
            nodes: self
                .policy
                .iter()
                .enumerate()
                .map(|(i, p)| NodeStatus {
                    id: i as u16,
                    state: p.state,
                    weight: p.weight,
                    flows: self.counts[i],
                })
                .collect(),
            flows: efd.len() as u64,
            capacity: self.config.capacity as u64,
            efd_bytes: efd.online_bytes() as u64,
            efd_deep_flows: self.control.deep_flows() as u64,
            unknown_flows: if self.config.assign { "assign" } else { "drop" }.to_string(),
            flow_match: self.config.flow_match.name().to_string(),
            adopted: self.adopted,
            expired: self.expired,
            table_full: self.table_full,
            ops: Op::ALL
                .iter()
                .map(|&op| (op.name().to_string(), self.ops[op as usize].clone()))
                .collect(),
        };
        self.status.update(|s| *s = status);
    }
}

/// The active node with a weight furthest below its target.
fn furthest_below(counts: &[u64], targets: &[u64], policy: &[NodePolicy]) -> Option<NodeId> {
    (0..counts.len())
        .filter(|&i| policy[i].share() > 0)
        .max_by_key(|&i| (targets[i] as i64 - counts[i] as i64, std::cmp::Reverse(i)))
        .map(|i| NodeId::new(i as u16))
}

/// The key of a request's path segment; a 400 says what is wrong with it
/// as a flow file's error does ([`FlowKey::text_error`]), or what a key of
/// the kind looks like.
fn parse_key<K: FlowKey>(text: &str) -> Result<K, ApiError> {
    let text = text.trim();
    K::parse_text(text).ok_or_else(|| {
        ApiError::bad_request(match K::text_error(text) {
            Some(why) => format!("bad key {text:?} ({}): {why}", K::KIND),
            None => format!("bad key {text:?}: expected {} ({})", K::TEXT_FORM, K::KIND),
        })
    })
}

fn request_op(r: &Request) -> Option<Op> {
    Some(match r {
        Request::PutFlow { .. } => Op::Add,
        Request::DeleteFlow { .. } => Op::Remove,
        Request::Bulk(_) => Op::Bulk,
        Request::Drain { .. } => Op::Drain,
        Request::Restore { .. } => Op::Restore,
        Request::SetWeight { .. } => Op::Weight,
        Request::Snapshot { .. } => Op::Snapshot,
        _ => return None,
    })
}

fn changed_flows(r: &Result<Reply, ApiError>) -> u64 {
    match r {
        Ok(Reply::Changed(c)) => c.added + c.moved,
        Ok(Reply::Put(p)) => u64::from(p.previous != Some(p.node)),
        Ok(Reply::Flow(_)) => 1,
        Ok(Reply::Snapshot(s)) => s.flows,
        _ => 0,
    }
}

/// Keeps `NO_NODE` referenced for readers of this module's docs.
#[allow(dead_code)]
const _NO_NODE: u16 = NO_NODE;

#[cfg(test)]
mod reclaim_tests {
    use super::reclaim_needed;

    #[test]
    fn reclaims_only_when_the_deeper_levels_grew() {
        // 1M flows: a 256th is 4096 flows.
        assert!(!reclaim_needed(44_000, 44_000, 1 << 20));
        assert!(!reclaim_needed(48_096, 44_000, 1 << 20));
        assert!(reclaim_needed(48_097, 44_000, 1 << 20));
        // Small tables: at least 64 flows.
        assert!(!reclaim_needed(164, 100, 1000));
        assert!(reclaim_needed(165, 100, 1000));
    }
}

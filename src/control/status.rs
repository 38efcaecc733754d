//! What the control plane publishes for readers that must not wait for the
//! writer (the stats screen, `/metrics`, `/stats`, `GET /nodes`): node
//! states, weights and flow counts, table size, and operation counts and
//! latencies. The control thread rewrites it after every change; readers
//! take a copy ([`ControlStatusCell::get`]).

#![forbid(unsafe_code)]

use serde::Serialize;
use std::fmt;
use std::sync::{Arc, Mutex};

/// A node's state in the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Takes flows (its share is its weight).
    #[default]
    Active,
    /// Its flows are being moved away.
    Draining,
    /// Owns no flow and takes none until restored.
    Out,
}

impl NodeState {
    /// The name used in the API, the metrics and snapshots.
    pub const fn name(self) -> &'static str {
        match self {
            NodeState::Active => "active",
            NodeState::Draining => "draining",
            NodeState::Out => "out",
        }
    }

    /// Every state, in the order above.
    pub const ALL: [NodeState; 3] = [NodeState::Active, NodeState::Draining, NodeState::Out];

    /// The state called `name`.
    pub fn from_name(name: &str) -> Option<NodeState> {
        NodeState::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One node as the control plane sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// Its id.
    pub id: u16,
    /// Its state.
    pub state: NodeState,
    /// Its weight (its share of flows among active nodes).
    pub weight: u32,
    /// Flows it owns.
    pub flows: u64,
}

/// Control-plane operations, counted and timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Add one flow.
    Add,
    /// Move one flow to another node.
    Update,
    /// Remove one flow.
    Remove,
    /// Load a bulk of flows.
    Bulk,
    /// Drain a node.
    Drain,
    /// Restore a node.
    Restore,
    /// Change a node's weight.
    Weight,
    /// Adopt unknown flows (`unknown_flows = "assign"`).
    Adopt,
    /// Expire idle adopted flows.
    Expire,
    /// Write a snapshot.
    Snapshot,
    /// Move keys back up to the EFD table's first level
    /// ([`crate::efd::Efd::reclaim`]).
    Reclaim,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 11] = [
        Op::Add,
        Op::Update,
        Op::Remove,
        Op::Bulk,
        Op::Drain,
        Op::Restore,
        Op::Weight,
        Op::Adopt,
        Op::Expire,
        Op::Snapshot,
        Op::Reclaim,
    ];

    /// The name used in metrics labels.
    pub const fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Update => "update",
            Op::Remove => "remove",
            Op::Bulk => "bulk",
            Op::Drain => "drain",
            Op::Restore => "restore",
            Op::Weight => "weight",
            Op::Adopt => "adopt",
            Op::Expire => "expire",
            Op::Snapshot => "snapshot",
            Op::Reclaim => "reclaim",
        }
    }
}

/// Upper bounds (seconds) of the latency histogram buckets, Prometheus
/// style (cumulative, plus `+Inf`).
pub const LATENCY_BUCKETS_S: [f64; 10] =
    [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// One operation's count, failures and latency histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct OpStats {
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations refused or failed.
    pub failed: u64,
    /// Cumulative counts per bucket of [`LATENCY_BUCKETS_S`] (both
    /// succeeded and failed operations).
    pub buckets: [u64; LATENCY_BUCKETS_S.len()],
    /// Sum of latencies, seconds.
    pub sum_s: f64,
    /// Flows changed by the operations (added, moved, removed).
    pub flows: u64,
}

impl OpStats {
    /// Records one operation that took `seconds`, changed `flows` flows and
    /// succeeded or not.
    pub fn record(&mut self, seconds: f64, flows: u64, ok: bool) {
        if ok {
            self.ok += 1;
        } else {
            self.failed += 1;
        }
        self.sum_s += seconds;
        self.flows += flows;
        for (b, &le) in self.buckets.iter_mut().zip(&LATENCY_BUCKETS_S) {
            if seconds <= le {
                *b += 1;
            }
        }
    }

    /// Operations counted (succeeded and failed).
    pub fn count(&self) -> u64 {
        self.ok + self.failed
    }
}

/// What the control plane publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ControlStatus {
    /// The key kind (`ipv4_dst`, ...).
    pub key_kind: String,
    /// Nodes, by id.
    pub nodes: Vec<NodeStatus>,
    /// Flows in the EFD table.
    pub flows: u64,
    /// Flows the table is sized for (adoptions and adds beyond it are
    /// refused).
    pub capacity: u64,
    /// Bytes of the EFD table's lookup structure.
    pub efd_bytes: u64,
    /// Flows answered from the EFD table's deeper levels (a second cache
    /// line per lookup; kept low by the control thread's reclaims).
    pub efd_deep_flows: u64,
    /// Unknown flows: `drop` or `assign`.
    pub unknown_flows: String,
    /// What the node flow tables hold: `exact` or `fingerprint`.
    pub flow_match: String,
    /// Flows adopted since start (`assign`).
    pub adopted: u64,
    /// Adopted flows expired for idleness.
    pub expired: u64,
    /// Unknown flows not adopted because the table was full.
    pub table_full: u64,
    /// Per operation, in [`Op::ALL`] order.
    pub ops: Vec<(String, OpStats)>,
}

impl ControlStatus {
    /// The statistics of `op`, if recorded.
    pub fn op(&self, op: Op) -> Option<&OpStats> {
        self.ops
            .iter()
            .find(|(n, _)| n == op.name())
            .map(|(_, s)| s)
    }
}

/// The shared, replaceable status: the control thread writes, anyone reads.
#[derive(Debug, Clone, Default)]
pub struct ControlStatusCell(Arc<Mutex<ControlStatus>>);

impl ControlStatusCell {
    /// A copy of the current status.
    pub fn get(&self) -> ControlStatus {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the status in place.
    pub fn update(&self, f: impl FnOnce(&mut ControlStatus)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

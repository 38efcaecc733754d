//! Counters and rendering (no DPDK).
//!
//! [`counters`] holds the single-writer counters the lcores update and the
//! [`Snapshot`]s the stats lcore takes of them; [`render`](mod@render) draws
//! snapshots as the C sample's ANSI screen, plain lines or JSON lines;
//! [`sample`] hands the stats one key of a flow a node dropped.

#![forbid(unsafe_code)]

pub mod counters;
pub mod render;
pub mod sample;

pub use counters::{
    rates, Counter, DistributorCounters, DistributorSnapshot, HwPortStats, LcoreCounters,
    NodeCounters, NodeSnapshot, PortInfo, PortRxCounters, PortSnapshot, Rates, ReasonCounts,
    Snapshot, Stats, WorkerSnapshot,
};
pub use render::{format_timestamp, render, render_final, StatsFormat};
pub use sample::KeySample;

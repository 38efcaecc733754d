//! efd-lb: a flow-level load balancer on DPDK.
//!
//! The layout follows the architecture: [`efd`] is the native Elastic Flow
//! Distributor (no DPDK dependency), [`config`] turns flags and TOML into
//! settings, [`flows`] builds the flow population, [`packet`] extracts flow
//! keys, [`stats`] holds counters and renders them, [`lcore`] has the
//! distributor and worker loops, and [`app`] wires them onto DPDK. [`rng`]
//! is the splitmix64 generator they share for seeds and test traffic;
//! [`mem`] allocates the large, huge-page backed tables. [`traffic`]
//! generates test traffic and [`pcap`] reads and writes the classic pcap
//! files it goes into. [`faults`] injects the test-only faults of
//! `[faults]`.

pub mod app;
pub mod config;
pub mod control;
pub mod ctl;
pub mod efd;
pub mod faults;
pub mod flows;
pub mod ids;
pub mod key;
pub mod lcore;
pub mod mem;
pub mod metrics;
pub mod packet;
pub mod pcap;
pub mod props;
pub mod rng;
pub mod stats;
pub mod traffic;
pub mod wire;

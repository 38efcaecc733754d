//! The TOML configuration file, as written (all keys optional).
//!
//! Integers are read as `i64` so that out-of-range values get the
//! validator's messages rather than a serde type error.

use std::path::PathBuf;

use serde::Deserialize;

use crate::stats::StatsFormat;

/// A port mask written as a hex string (`"0x3"`, `"3"`) or an integer.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum PortmaskValue {
    /// `portmask = "0x3"`.
    Hex(String),
    /// `portmask = 3`.
    Int(i64),
}

/// Top level of the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// EAL `--lcores` value.
    pub lcores: Option<String>,
    /// Port mask.
    pub portmask: Option<PortmaskValue>,
    /// Number of nodes.
    pub num_nodes: Option<i64>,
    /// Number of seed flows.
    pub num_flows: Option<i64>,
    /// Flow key kind (`ipv4_dst`, `ipv4_5tuple`, ...).
    pub key: Option<String>,
    /// What the node flow tables hold (`auto`, `exact`, `fingerprint`).
    pub flow_match: Option<String>,
    /// Flow file (`key,node` lines).
    pub flow_file: Option<PathBuf>,
    /// EFD value width in bits.
    pub value_bits: Option<i64>,
    /// Nodes served by each worker lcore.
    pub nodes_per_lcore: Option<i64>,
    /// Run time in seconds, 0 = until a signal.
    pub duration_s: Option<i64>,
    /// `[eal]`.
    pub eal: Option<EalSection>,
    /// `[mempool]`.
    pub mempool: Option<MempoolSection>,
    /// `[ports]`.
    pub ports: Option<PortsSection>,
    /// `[rings]`.
    pub rings: Option<RingsSection>,
    /// `[stats]`.
    pub stats: Option<StatsSection>,
    /// `[traffic]`.
    pub traffic: Option<TrafficSection>,
    /// `[control]`.
    pub control: Option<ControlSection>,
    /// `[faults]`: test-only fault injection.
    pub faults: Option<FaultsSection>,
}

/// `[faults]`: test-only fault injection, each fault on for `*_ms`
/// milliseconds from `*_after_ms` after the loops are launched.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsSection {
    /// Node whose ring its worker stops dequeuing.
    pub stall_node: Option<i64>,
    /// When the stall starts.
    pub stall_after_ms: Option<i64>,
    /// How long the stall lasts.
    pub stall_ms: Option<i64>,
    /// When the TX queues start refusing packets.
    pub tx_refuse_after_ms: Option<i64>,
    /// How long they refuse.
    pub tx_refuse_ms: Option<i64>,
    /// When a thread starts holding every free mbuf.
    pub pool_hold_after_ms: Option<i64>,
    /// How long it holds them.
    pub pool_hold_ms: Option<i64>,
}

/// `[control]`: the control plane.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSection {
    /// HTTP API address (`127.0.0.1:9900`); off unless set.
    pub listen: Option<String>,
    /// File whose first line is the API's bearer token.
    pub token_file: Option<PathBuf>,
    /// CPU the control and API threads are pinned to.
    pub cpu: Option<i64>,
    /// Largest request body, MiB.
    pub max_body_mb: Option<i64>,
    /// Flows the table holds at most (flow file, seed, API and adopted).
    pub capacity: Option<i64>,
    /// `drop` or `assign`.
    pub unknown_flows: Option<String>,
    /// Seconds without a packet after which an adopted flow expires; 0 = never.
    pub idle_timeout_s: Option<i64>,
    /// Snapshot file: loaded at start if it exists, written on request.
    pub snapshot: Option<PathBuf>,
    /// Seconds between periodic snapshots; 0 = none.
    pub snapshot_period_s: Option<i64>,
    /// Most flows a second that drains, restores and weight changes move;
    /// 0 = no limit.
    pub rebalance_flows_per_s: Option<i64>,
}

/// `[eal]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EalSection {
    /// Extra EAL arguments.
    pub args: Option<Vec<String>>,
}

/// `[mempool]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolSection {
    /// Number of mbufs, 0 = auto.
    pub mbufs: Option<i64>,
    /// Per-lcore cache size.
    pub cache: Option<i64>,
    /// Mempool driver.
    pub ops: Option<super::MempoolOps>,
}

/// `[ports]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortsSection {
    /// RX descriptors per queue.
    pub rx_desc: Option<i64>,
    /// TX descriptors per queue.
    pub tx_desc: Option<i64>,
    /// Burst size.
    pub burst: Option<i64>,
}

/// `[rings]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingsSection {
    /// Per-node ring size.
    pub size: Option<i64>,
}

/// `[stats]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsSection {
    /// Refresh period in milliseconds.
    pub period_ms: Option<i64>,
    /// Output format.
    pub format: Option<StatsFormat>,
}

/// `[traffic]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSection {
    /// pcap path to generate unless it holds what this section generates.
    pub pcap: Option<PathBuf>,
    /// Packets to generate.
    pub packets: Option<i64>,
    /// Known flows (the population's first `known_flows`); default `num_flows`.
    pub known_flows: Option<i64>,
    /// Flows in the table (unknown destinations are `>= table_flows`);
    /// default `max(num_flows, known_flows)`, or `known_flows` with a flow file.
    pub table_flows: Option<i64>,
    /// Cycle flows in order.
    pub cycle: Option<bool>,
    /// Unknown-flow percentage.
    pub unknown_pct: Option<f64>,
    /// Malformed percentage.
    pub malformed_pct: Option<f64>,
    /// VLAN-tagged percentage.
    pub vlan_pct: Option<f64>,
    /// Percentage of the tagged packets with two tags (QinQ).
    pub qinq_pct: Option<f64>,
    /// Percentage with IPv4 options / IPv6 extension headers.
    pub ext_pct: Option<f64>,
    /// Percentage of fragments.
    pub fragment_pct: Option<f64>,
    /// Frame length including FCS.
    pub frame_len: Option<i64>,
    /// PRNG seed.
    pub seed: Option<i64>,
}

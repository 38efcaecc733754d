//! The counters of a stats [`Snapshot`] and the control plane's
//! [`ControlStatus`] in the Prometheus text exposition format 0.0.4 (what
//! `/metrics` answers).
//!
//! Every family is named `efd_lb_*`, has `# HELP` and `# TYPE`, counters end
//! in `_total` and values are in base units (seconds, bytes; cycles are TSC
//! cycles). Labels: `port` (DPDK port id), `node` (node id), `worker`
//! (worker lcore index), `reason`, `op`, `result`, `state`.
//!
//! Ratios are not exported: cycles per packet is
//! `rate(efd_lb_worker_busy_cycles_total[1m]) / rate(efd_lb_worker_processed_packets_total[1m])`
//! (likewise for the distributor) and the mean burst is
//! `rate(efd_lb_worker_processed_packets_total[1m]) / rate(efd_lb_worker_bursts_total[1m])`,
//! over whatever window the query picks. The distributor's total drop count
//! is `sum(efd_lb_distributor_dropped_packets_total)` (unknown node is one
//! of the reasons).
//!
//! Most families are rows of the tables `PORT`, `PORT_HW`, `DISTRIBUTOR`,
//! `NODE`, `WORKER`, `NODE_STATUS` and `CONTROL` below: adding a counter is
//! adding a row.

#![forbid(unsafe_code)]

use std::fmt::{Display, Write};

use crate::control::status::{ControlStatus, NodeState, NodeStatus, LATENCY_BUCKETS_S};
use crate::stats::{
    DistributorSnapshot, HwPortStats, NodeSnapshot, PortSnapshot, Snapshot, WorkerSnapshot,
};

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prefix of every metric name.
const PREFIX: &str = "efd_lb_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// A family whose one sample per item (port, node, ...) is read from a `T`.
struct Family<T> {
    /// Name without [`PREFIX`].
    name: &'static str,
    kind: Kind,
    help: &'static str,
    value: fn(&T) -> u64,
}

const fn counter<T>(name: &'static str, help: &'static str, value: fn(&T) -> u64) -> Family<T> {
    Family {
        name,
        kind: Kind::Counter,
        help,
        value,
    }
}

const fn gauge<T>(name: &'static str, help: &'static str, value: fn(&T) -> u64) -> Family<T> {
    Family {
        name,
        kind: Kind::Gauge,
        help,
        value,
    }
}

/// Per port (label `port`).
#[rustfmt::skip]
const PORT: &[Family<PortSnapshot>] = &[
    counter("port_receive_packets_total", "Packets received on the port by the distributor.", |p| p.rx),
    counter("port_transmit_packets_total", "Packets transmitted on the port, summed over nodes.", |p| p.tx),
    counter("port_transmit_dropped_packets_total", "Packets the port's TX queues did not take, summed over nodes.", |p| p.tx_drop),
];

/// Per port whose hardware counters were read (label `port`).
#[rustfmt::skip]
const PORT_HW: &[Family<HwPortStats>] = &[
    counter("port_hw_receive_packets_total", "Packets received by the NIC (rte_eth_stats ipackets).", |h| h.ipackets),
    counter("port_hw_transmit_packets_total", "Packets sent by the NIC (rte_eth_stats opackets).", |h| h.opackets),
    counter("port_hw_receive_missed_packets_total", "Packets the NIC dropped for lack of RX descriptors (imissed).", |h| h.imissed),
    counter("port_hw_receive_errors_total", "Erroneous packets received by the NIC (ierrors).", |h| h.ierrors),
    counter("port_hw_transmit_errors_total", "Failed transmissions (oerrors).", |h| h.oerrors),
    counter("port_hw_receive_mbuf_allocation_failures_total", "RX mbuf allocation failures (rx_nombuf).", |h| h.rx_nombuf),
];

/// The distributor (no label).
#[rustfmt::skip]
const DISTRIBUTOR: &[Family<DistributorSnapshot>] = &[
    counter("distributor_distributed_packets_total", "Packets looked up with a valid node id (then enqueued or dropped on a full ring).", |d| d.distributed),
    counter("distributor_busy_cycles_total", "TSC cycles the distributor spent in polls that returned packets.", |d| d.busy_cycles),
    counter("distributor_processed_packets_total", "Packets the distributor processed (denominator of cycles per packet).", |d| d.packets),
    counter("distributor_idle_polls_total", "Distributor polls that returned no packet.", |d| d.idle_polls),
];

/// Per node, from the data path (label `node`).
#[rustfmt::skip]
const NODE: &[Family<NodeSnapshot>] = &[
    counter("node_receive_packets_total", "Packets enqueued on the node's ring.", |n| n.rx),
    counter("node_receive_dropped_packets_total", "Packets dropped because the node's ring was full.", |n| n.rx_drop),
    counter("node_transmit_packets_total", "Packets the node transmitted, summed over ports.", |n| n.tx),
    counter("node_transmit_dropped_packets_total", "Packets the node's TX queues did not take, summed over ports.", |n| n.tx_drop),
    counter("node_filter_passed_packets_total", "Packets of flows the node owns.", |n| n.filter_passed),
    counter("node_filter_dropped_packets_total", "Packets of flows the node does not own (dropped).", |n| n.filter_drop),
    counter("node_unknown_forwarded_packets_total", "Of the passed packets: packets of flows not (yet) in the node's table, forwarded under unknown_flows = assign.", |n| n.unknown_forwarded),
    counter("node_table_full_dropped_packets_total", "Of the dropped packets: packets of unknown flows dropped because the flow table is full (assign).", |n| n.table_full),
];

/// Per worker lcore (label `worker`).
#[rustfmt::skip]
const WORKER: &[Family<WorkerSnapshot>] = &[
    counter("worker_busy_cycles_total", "TSC cycles the worker lcore spent in polls that returned packets.", |w| w.busy_cycles),
    counter("worker_processed_packets_total", "Packets the worker lcore processed.", |w| w.packets),
    counter("worker_bursts_total", "Non-empty ring dequeues of the worker lcore.", |w| w.bursts),
];

/// Per node, from the control plane (label `node`).
#[rustfmt::skip]
const NODE_STATUS: &[Family<NodeStatus>] = &[
    gauge("node_weight", "The node's weight (its share of flows among active nodes).", |n| u64::from(n.weight)),
    gauge("node_flows", "Flows the node owns.", |n| n.flows),
];

/// The control plane (no label).
#[rustfmt::skip]
const CONTROL: &[Family<ControlStatus>] = &[
    gauge("table_flows", "Flows in the EFD table.", |c| c.flows),
    gauge("table_capacity_flows", "Flows the table is sized for.", |c| c.capacity),
    gauge("table_efd_bytes", "Bytes of the EFD table's lookup structure.", |c| c.efd_bytes),
    gauge("table_efd_deep_flows", "Flows answered from the EFD table's deeper levels (a second cache line per lookup).", |c| c.efd_deep_flows),
    counter("adopted_flows_total", "Unknown flows adopted (unknown_flows = \"assign\").", |c| c.adopted),
    counter("expired_flows_total", "Adopted flows expired for idleness.", |c| c.expired),
    counter("adoption_table_full_total", "Unknown flows not adopted because the table was full.", |c| c.table_full),
];

/// Label pairs of one sample.
type Labels<'a> = Vec<(&'static str, &'a str)>;

/// `items` labelled `key="<id>"`, each with its id from `ids`.
fn labelled<'a, T>(
    key: &'static str,
    ids: &'a [String],
    items: impl IntoIterator<Item = &'a T>,
) -> Vec<(Labels<'a>, &'a T)> {
    ids.iter()
        .zip(items)
        .map(|(id, item)| (vec![(key, id.as_str())], item))
        .collect()
}

/// The output being built.
struct Out(String);

impl Out {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {PREFIX}{name} {}", escape_help(help));
        let _ = writeln!(self.0, "# TYPE {PREFIX}{name} {kind}");
    }

    fn sample(&mut self, name: &str, suffix: &str, labels: &[(&str, &str)], value: impl Display) {
        let _ = write!(self.0, "{PREFIX}{name}{suffix}");
        for (i, (k, v)) in labels.iter().enumerate() {
            let sep = if i == 0 { '{' } else { ',' };
            let _ = write!(self.0, "{sep}{k}=\"{}\"", escape_label_value(v));
        }
        if !labels.is_empty() {
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// Every family of `fams` with one sample per item; a family without
    /// items is left out.
    fn table<T>(&mut self, fams: &[Family<T>], items: &[(Labels<'_>, &T)]) {
        if items.is_empty() {
            return;
        }
        for f in fams {
            self.header(f.name, f.kind.name(), f.help);
            for (labels, item) in items {
                self.sample(f.name, "", labels, (f.value)(item));
            }
        }
    }
}

/// A float as the exposition format writes it (`+Inf`, `-Inf`, `NaN`;
/// otherwise Rust's shortest round-trip decimal).
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape_label_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Escapes `# HELP` text: backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The Prometheus text exposition (format 0.0.4) of `snap` and `status`:
/// the stats screen's counters, the nodes' states, weights and flow counts,
/// the table's size and the control operations' counts and latencies.
/// Families without samples (e.g. hardware counters no port has) are left
/// out. Serve it with [`CONTENT_TYPE`].
pub fn render(snap: &Snapshot, status: &ControlStatus) -> String {
    let mut out = Out(String::with_capacity(16 * 1024));

    // Ports.
    let port_ids: Vec<String> = snap.ports.iter().map(|p| p.id.to_string()).collect();
    let ports = labelled("port", &port_ids, &snap.ports);
    if !ports.is_empty() {
        let name = "port_info";
        out.header(
            name,
            "gauge",
            "Always 1: the port's device name and MAC address.",
        );
        for (l, p) in &ports {
            out.sample(name, "", &[l[0], ("name", &p.name), ("mac", &p.mac)], 1);
        }
    }
    out.table(PORT, &ports);
    let hw: Vec<_> = ports
        .iter()
        .filter_map(|(l, p)| p.hw.as_ref().map(|h| (l.clone(), h)))
        .collect();
    out.table(PORT_HW, &hw);

    // Distributor.
    let d = &snap.distributor;
    out.table(DISTRIBUTOR, &[(vec![], d)]);
    let name = "distributor_dropped_packets_total";
    out.header(
        name,
        "counter",
        "Packets the distributor dropped, by reason: unknown_node (EFD value not a node) or why the frame has no flow key.",
    );
    out.sample(name, "", &[("reason", "unknown_node")], d.drop_unknown_node);
    for (reason, n) in d.drop_by_reason.iter() {
        out.sample(name, "", &[("reason", reason)], n);
    }

    // Nodes (data path) and workers.
    let node_ids: Vec<String> = (0..snap.nodes.len()).map(|i| i.to_string()).collect();
    out.table(NODE, &labelled("node", &node_ids, &snap.nodes));
    let worker_ids: Vec<String> = (0..snap.workers.len()).map(|i| i.to_string()).collect();
    out.table(WORKER, &labelled("worker", &worker_ids, &snap.workers));

    // Nodes (control plane).
    let status_ids: Vec<String> = status.nodes.iter().map(|n| n.id.to_string()).collect();
    if !status.nodes.is_empty() {
        let name = "node_state";
        out.header(
            name,
            "gauge",
            "1 for the node's state (active, draining, out), 0 for the others.",
        );
        for (id, n) in status_ids.iter().zip(&status.nodes) {
            for s in NodeState::ALL {
                let labels = [("node", id.as_str()), ("state", s.name())];
                out.sample(name, "", &labels, u8::from(n.state == s));
            }
        }
    }
    out.table(NODE_STATUS, &labelled("node", &status_ids, &status.nodes));

    // Control plane.
    out.header(
        "control_info",
        "gauge",
        "Always 1: the flow key kind, what happens to unknown flows (drop or assign) and what the node flow tables hold (exact or fingerprint).",
    );
    out.sample(
        "control_info",
        "",
        &[
            ("key_kind", &status.key_kind),
            ("unknown_flows", &status.unknown_flows),
            ("flow_match", &status.flow_match),
        ],
        1,
    );
    out.table(CONTROL, &[(vec![], status)]);
    control_ops(&mut out, status);

    out.0
}

/// Counts, latency histograms and flows changed of the control operations.
fn control_ops(out: &mut Out, status: &ControlStatus) {
    if status.ops.is_empty() {
        return;
    }
    let name = "control_operations_total";
    out.header(
        name,
        "counter",
        "Control operations, by operation and result (ok or failed).",
    );
    for (op, s) in &status.ops {
        out.sample(name, "", &[("op", op), ("result", "ok")], s.ok);
        out.sample(name, "", &[("op", op), ("result", "failed")], s.failed);
    }

    let name = "control_operation_duration_seconds";
    out.header(
        name,
        "histogram",
        "Latency of control operations (succeeded and failed).",
    );
    let les: Vec<String> = LATENCY_BUCKETS_S.iter().map(|&le| float(le)).collect();
    for (op, s) in &status.ops {
        for (le, n) in les.iter().zip(&s.buckets) {
            out.sample(name, "_bucket", &[("op", op), ("le", le)], n);
        }
        out.sample(name, "_bucket", &[("op", op), ("le", "+Inf")], s.count());
        out.sample(name, "_sum", &[("op", op)], float(s.sum_s));
        out.sample(name, "_count", &[("op", op)], s.count());
    }

    let name = "control_changed_flows_total";
    out.header(
        name,
        "counter",
        "Flows added, moved or removed by control operations.",
    );
    for (op, s) in &status.ops {
        out.sample(name, "", &[("op", op)], s.flows);
    }
}

#[cfg(test)]
mod tests;

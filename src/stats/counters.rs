//! Single-writer counters shared between lcores, and snapshots of them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

use super::sample::KeySample;
use crate::packet::DropReason;

/// A counter written by exactly one lcore and read by others: a plain
/// load+store, no locked RMW.
#[repr(transparent)]
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n` (wrapping). Only the owning lcore may call this.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed)
    }

    /// Current value (any lcore).
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Counters of the distributor lcore.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct DistributorCounters {
    /// Packets looked up with a valid node id (then enqueued or ring-dropped).
    pub distributed: Counter,
    /// Packets whose EFD value was `>= num_nodes`.
    pub drop_unknown_node: Counter,
    /// Packets without a flow key, indexed by `packet::DropReason as usize`.
    pub drop: [Counter; DropReason::COUNT],
    /// TSC cycles spent in polls that returned packets.
    pub busy_cycles: Counter,
    /// Polls that returned no packet.
    pub idle_polls: Counter,
    /// Packets processed (denominator of cycles/packet).
    pub packets: Counter,
}

/// Per-port receive counter, written by the distributor.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct PortRxCounters {
    /// Packets received on this port.
    pub rx: Counter,
}

/// Per-node counters: `rx`/`rx_drop` written by the distributor, the rest by
/// the worker lcore serving the node. The two groups live on separate cache
/// lines, so the two lcores do not invalidate each other's line on every
/// burst (false sharing). The filter-drop sample follows on its own lines:
/// the stats reader writes there, at most once per reading.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct NodeCounters {
    /// Packets enqueued to the node's ring (distributor).
    pub rx: Counter,
    /// Packets dropped because the node's ring was full (distributor).
    pub rx_drop: Counter,
    /// Fills the distributor's cache line.
    _distributor_line: [u64; 6],
    /// Packets whose flow is in the node's table (worker).
    pub filter_passed: Counter,
    /// Packets whose flow is not in the node's table (worker).
    pub filter_drop: Counter,
    /// Of `filter_passed`: packets of flows not (yet) in the node's table,
    /// forwarded under the unknown-flow policy `assign` (worker).
    pub unknown_forwarded: Counter,
    /// Of `filter_drop`: packets of unknown flows dropped because the flow
    /// table is full (`assign`; worker).
    pub table_full: Counter,
    /// Packets transmitted, per port index (worker).
    pub tx: Box<[Counter]>,
    /// Packets the TX queue did not take, per port index (worker).
    pub tx_drop: Box<[Counter]>,
    /// The key of a packet the filter dropped, handed to the stats reader
    /// (worker; [`KeySample`]).
    pub filter_drop_sample: KeySample,
}

// The sample starts a cache line of its own (the worker's counters fill the
// line before it), as the doc above says.
const _: () = assert!(std::mem::offset_of!(NodeCounters, filter_drop_sample) % 64 == 0);

impl NodeCounters {
    /// Zeroed counters for `num_ports` ports.
    pub fn new(num_ports: usize) -> Self {
        let zeros = || (0..num_ports).map(|_| Counter::default()).collect();
        NodeCounters {
            rx: Counter::default(),
            rx_drop: Counter::default(),
            _distributor_line: [0; 6],
            filter_passed: Counter::default(),
            filter_drop: Counter::default(),
            unknown_forwarded: Counter::default(),
            table_full: Counter::default(),
            tx: zeros(),
            tx_drop: zeros(),
            filter_drop_sample: KeySample::default(),
        }
    }
}

/// Per-worker-lcore load counters.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct LcoreCounters {
    /// TSC cycles spent in polls that returned packets.
    pub busy_cycles: Counter,
    /// Packets processed.
    pub packets: Counter,
    /// Non-empty bursts processed (`packets / bursts` is the mean burst).
    pub bursts: Counter,
}

/// All counters of the appliance. Port indexes are positions in the
/// enabled-port list (not DPDK port ids).
#[derive(Debug)]
pub struct Stats {
    /// Receive counters per port index.
    pub ports: Box<[PortRxCounters]>,
    /// Distributor counters.
    pub distributor: DistributorCounters,
    /// Counters per node id.
    pub nodes: Box<[NodeCounters]>,
    /// Counters per worker lcore (in worker order).
    pub workers: Box<[LcoreCounters]>,
    /// The text form of a flow key's bytes (the running key kind's), for
    /// the keys the filters' samples hold; `None` (no text) by default.
    pub key_text: Option<KeyText>,
}

/// The text form of a flow key from its bytes (`None` if they are not a
/// key of the kind): `crate::key::text_of_bytes` of the running kind.
pub type KeyText = fn(&[u8]) -> Option<String>;

/// Hardware counters of a port (from `rte_eth_stats_get`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HwPortStats {
    /// Packets received by the NIC.
    pub ipackets: u64,
    /// Packets sent by the NIC.
    pub opackets: u64,
    /// Packets dropped by the NIC for lack of RX descriptors.
    pub imissed: u64,
    /// Erroneous received packets.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// RX mbuf allocation failures.
    pub rx_nombuf: u64,
}

/// Static description of a port plus its hardware counters, supplied by the
/// app for each snapshot (same order as [`Stats::ports`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortInfo {
    /// DPDK port id.
    pub id: u16,
    /// Device name (e.g. `net_pcap0`, `0000:01:00.0`).
    pub name: String,
    /// MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Hardware counters, if read.
    pub hw: Option<HwPortStats>,
}

/// A port in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortSnapshot {
    /// DPDK port id.
    pub id: u16,
    /// Device name.
    pub name: String,
    /// MAC address.
    pub mac: String,
    /// Packets received (distributor).
    pub rx: u64,
    /// Packets transmitted on this port, summed over nodes.
    pub tx: u64,
    /// TX drops on this port, summed over nodes.
    pub tx_drop: u64,
    /// Hardware counters, if read.
    pub hw: Option<HwPortStats>,
}

/// Drop counts per [`DropReason`], serialized as a `{name: count}` map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReasonCounts(pub [u64; DropReason::COUNT]);

impl ReasonCounts {
    /// Count for `r`.
    pub fn get(&self, r: DropReason) -> u64 {
        self.0[r as usize]
    }

    /// `(name, count)` pairs in [`DropReason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|r| (r.name(), self.0[*r as usize]))
    }

    /// Sum over all reasons.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl Serialize for ReasonCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

/// The distributor in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistributorSnapshot {
    /// Packets sent towards a node (enqueued or ring-dropped).
    pub distributed: u64,
    /// All distributor drops: `drop_unknown_node` + every reason.
    pub drop: u64,
    /// Packets whose EFD value was `>= num_nodes`.
    pub drop_unknown_node: u64,
    /// Packets without a flow key, per reason.
    pub drop_by_reason: ReasonCounts,
    /// Busy TSC cycles.
    pub busy_cycles: u64,
    /// Polls that returned nothing.
    pub idle_polls: u64,
    /// Packets processed.
    pub packets: u64,
    /// `busy_cycles / packets` since start (0 with no packets).
    pub cycles_per_packet: f64,
}

/// A node in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeSnapshot {
    /// Packets enqueued to the node's ring.
    pub rx: u64,
    /// Packets dropped on a full ring.
    pub rx_drop: u64,
    /// Packets transmitted, summed over ports.
    pub tx: u64,
    /// TX drops, summed over ports.
    pub tx_drop: u64,
    /// Packets of flows owned by the node.
    pub filter_passed: u64,
    /// Packets of flows not owned by the node.
    pub filter_drop: u64,
    /// Of `filter_passed`: packets of unknown flows forwarded (`assign`).
    pub unknown_forwarded: u64,
    /// Of `filter_drop`: packets of unknown flows dropped, table full.
    pub table_full: u64,
    /// The text form of the latest sampled key of a packet the filter
    /// dropped (`None` before the first, or without `Stats::key_text`).
    pub last_filter_drop: Option<String>,
}

/// A worker lcore in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerSnapshot {
    /// Busy TSC cycles.
    pub busy_cycles: u64,
    /// Packets processed.
    pub packets: u64,
    /// `busy_cycles / packets` since start (0 with no packets).
    pub cycles_per_packet: f64,
    /// Non-empty bursts processed.
    pub bursts: u64,
    /// `packets / bursts` since start (0 with no bursts).
    pub packets_per_burst: f64,
}

/// A copy of all counters at one moment (each counter read once; the copy
/// is not an atomic cut across lcores).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Monotonic time in nanoseconds since the first snapshot of the
    /// process (used for rates).
    pub mono_ns: u64,
    /// Ports, in port-index order.
    pub ports: Vec<PortSnapshot>,
    /// The distributor.
    pub distributor: DistributorSnapshot,
    /// Nodes, by node id.
    pub nodes: Vec<NodeSnapshot>,
    /// Worker lcores, in worker order.
    pub workers: Vec<WorkerSnapshot>,
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn mono_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

impl Stats {
    /// Zeroed counters for the given numbers of ports, nodes and worker lcores.
    pub fn new(num_ports: usize, num_nodes: usize, num_workers: usize) -> Self {
        Stats {
            ports: (0..num_ports).map(|_| PortRxCounters::default()).collect(),
            distributor: DistributorCounters::default(),
            nodes: (0..num_nodes)
                .map(|_| NodeCounters::new(num_ports))
                .collect(),
            workers: (0..num_workers).map(|_| LcoreCounters::default()).collect(),
            key_text: None,
        }
    }

    /// These counters, with the sampled keys shown as `text` gives them
    /// (the running key kind's text form).
    pub fn with_key_text(mut self, text: KeyText) -> Self {
        self.key_text = Some(text);
        self
    }

    /// Reads every counter. `ports` describes the ports in port-index order;
    /// ports beyond `ports.len()` get id = index and empty name/mac.
    pub fn snapshot(&self, ports: &[PortInfo]) -> Snapshot {
        let d = &self.distributor;
        let mut reasons = [0u64; DropReason::COUNT];
        for (r, c) in reasons.iter_mut().zip(&d.drop) {
            *r = c.get();
        }
        let reasons = ReasonCounts(reasons);
        let drop_unknown_node = d.drop_unknown_node.get();
        let (busy, pk) = (d.busy_cycles.get(), d.packets.get());
        let distributor = DistributorSnapshot {
            distributed: d.distributed.get(),
            drop: drop_unknown_node + reasons.total(),
            drop_unknown_node,
            drop_by_reason: reasons,
            busy_cycles: busy,
            idle_polls: d.idle_polls.get(),
            packets: pk,
            cycles_per_packet: ratio(busy, pk),
        };
        let mut port_tx = vec![0u64; self.ports.len()];
        let mut port_tx_drop = vec![0u64; self.ports.len()];
        let nodes = self
            .nodes
            .iter()
            .map(|n| {
                let (mut tx, mut tx_drop) = (0u64, 0u64);
                for (p, c) in n.tx.iter().enumerate() {
                    let v = c.get();
                    tx += v;
                    if let Some(s) = port_tx.get_mut(p) {
                        *s += v;
                    }
                }
                for (p, c) in n.tx_drop.iter().enumerate() {
                    let v = c.get();
                    tx_drop += v;
                    if let Some(s) = port_tx_drop.get_mut(p) {
                        *s += v;
                    }
                }
                NodeSnapshot {
                    rx: n.rx.get(),
                    rx_drop: n.rx_drop.get(),
                    tx,
                    tx_drop,
                    filter_passed: n.filter_passed.get(),
                    filter_drop: n.filter_drop.get(),
                    unknown_forwarded: n.unknown_forwarded.get(),
                    table_full: n.table_full.get(),
                    last_filter_drop: self
                        .key_text
                        .and_then(|text| n.filter_drop_sample.latest().and_then(|b| text(&b))),
                }
            })
            .collect();
        let ports = self
            .ports
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let info = ports.get(i);
                PortSnapshot {
                    id: info.map_or(i as u16, |p| p.id),
                    name: info.map(|p| p.name.clone()).unwrap_or_default(),
                    mac: info.map(|p| p.mac.clone()).unwrap_or_default(),
                    rx: c.rx.get(),
                    tx: port_tx[i],
                    tx_drop: port_tx_drop[i],
                    hw: info.and_then(|p| p.hw),
                }
            })
            .collect();
        let workers = self
            .workers
            .iter()
            .map(|w| {
                let (b, p, n) = (w.busy_cycles.get(), w.packets.get(), w.bursts.get());
                WorkerSnapshot {
                    busy_cycles: b,
                    packets: p,
                    cycles_per_packet: ratio(b, p),
                    bursts: n,
                    packets_per_burst: ratio(p, n),
                }
            })
            .collect();
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Snapshot {
            unix_ms,
            mono_ns: mono_ns(),
            ports,
            distributor,
            nodes,
            workers,
        }
    }
}

/// Rates between two snapshots (packets per second, cycles per packet over
/// the interval).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    /// Interval length in seconds.
    pub interval_s: f64,
    /// Receive rate per port.
    pub port_rx_pps: Vec<f64>,
    /// Transmit rate per port.
    pub port_tx_pps: Vec<f64>,
    /// Distributed packets per second.
    pub distributed_pps: f64,
    /// Distributor drops per second.
    pub drop_pps: f64,
    /// Transmit rate per node.
    pub node_tx_pps: Vec<f64>,
    /// Distributor cycles per packet over the interval.
    pub distributor_cycles_per_packet: f64,
    /// Worker cycles per packet over the interval.
    pub worker_cycles_per_packet: Vec<f64>,
}

/// Rates from `prev` to `cur` (counters that went backwards count as 0; a
/// zero-length interval gives 0 rates).
pub fn rates(prev: &Snapshot, cur: &Snapshot) -> Rates {
    let dt = cur.mono_ns.saturating_sub(prev.mono_ns) as f64 / 1e9;
    let pps = |a: u64, b: u64| {
        if dt > 0.0 {
            b.saturating_sub(a) as f64 / dt
        } else {
            0.0
        }
    };
    let per = |a: u64, b: u64, pa: u64, pb: u64| ratio(b.saturating_sub(a), pb.saturating_sub(pa));
    let zip_ports = |f: fn(&PortSnapshot) -> u64| {
        cur.ports
            .iter()
            .enumerate()
            .map(|(i, c)| pps(prev.ports.get(i).map_or(0, f), f(c)))
            .collect()
    };
    let (pd, cd) = (&prev.distributor, &cur.distributor);
    Rates {
        interval_s: dt,
        port_rx_pps: zip_ports(|p| p.rx),
        port_tx_pps: zip_ports(|p| p.tx),
        distributed_pps: pps(pd.distributed, cd.distributed),
        drop_pps: pps(pd.drop, cd.drop),
        node_tx_pps: cur
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| pps(prev.nodes.get(i).map_or(0, |p| p.tx), n.tx))
            .collect(),
        distributor_cycles_per_packet: per(pd.busy_cycles, cd.busy_cycles, pd.packets, cd.packets),
        worker_cycles_per_packet: cur
            .workers
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let (pb, pp) = prev
                    .workers
                    .get(i)
                    .map_or((0, 0), |p| (p.busy_cycles, p.packets));
                per(pb, w.busy_cycles, pp, w.packets)
            })
            .collect(),
    }
}

impl Snapshot {
    /// Checks that every packet is accounted for:
    ///
    /// 1. sum of port `rx` == `distributed` + all distributor drops;
    /// 2. sum over nodes of (`rx` + `rx_drop`) == `distributed`;
    /// 3. per node, `rx` == `filter_passed` + `filter_drop`;
    /// 4. per node, `filter_passed` == `tx` + `tx_drop`.
    ///
    /// Counters are read one by one while lcores run, so 1 and 2 hold only
    /// when the distributor is between bursts (reliably: after it stopped),
    /// and 3 and 4 only after the workers have drained their rings and
    /// flushed their TX buffers. Call this on the final snapshot.
    pub fn check_conservation(&self) -> Result<(), String> {
        let mut errs = Vec::new();
        let d = &self.distributor;
        let port_rx: u64 = self.ports.iter().map(|p| p.rx).sum();
        if port_rx != d.distributed + d.drop {
            errs.push(format!(
                "port rx {port_rx} != distributed {} + distributor drops {}",
                d.distributed, d.drop
            ));
        }
        let node_in: u64 = self.nodes.iter().map(|n| n.rx + n.rx_drop).sum();
        if node_in != d.distributed {
            errs.push(format!(
                "node rx + rx_drop {node_in} != distributed {}",
                d.distributed
            ));
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if n.rx != n.filter_passed + n.filter_drop {
                errs.push(format!(
                    "node {i}: rx {} != filter_passed {} + filter_drop {}",
                    n.rx, n.filter_passed, n.filter_drop
                ));
            }
            if n.filter_passed != n.tx + n.tx_drop {
                errs.push(format!(
                    "node {i}: filter_passed {} != tx {} + tx_drop {}",
                    n.filter_passed, n.tx, n.tx_drop
                ));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_of_different_writers_do_not_share_a_cache_line() {
        use std::mem::{align_of, offset_of};
        assert!(offset_of!(NodeCounters, rx_drop) < 64);
        assert!(offset_of!(NodeCounters, filter_passed) >= 64);
        for align in [
            align_of::<NodeCounters>(),
            align_of::<DistributorCounters>(),
            align_of::<LcoreCounters>(),
            align_of::<PortRxCounters>(),
        ] {
            assert_eq!(align, 64);
        }
    }

    /// Simulates: port 0 receives 100, 3 unknown-node drops, 2 of each
    /// reason (8), 89 distributed; node 0 gets 50 (1 ring drop), node 1 39.
    pub(crate) fn busy_stats() -> Stats {
        let s = Stats::new(2, 2, 2);
        s.ports[0].rx.add(100);
        let d = &s.distributor;
        d.drop_unknown_node.add(3);
        for c in d.drop.iter().take(4) {
            c.add(2);
        }
        d.distributed.add(89);
        d.packets.add(100);
        d.busy_cycles.add(5000);
        s.nodes[0].rx.add(49);
        s.nodes[0].rx_drop.add(1);
        s.nodes[1].rx.add(39);
        s.nodes[0].filter_passed.add(45);
        s.nodes[0].filter_drop.add(4);
        s.nodes[0].tx[1].add(44);
        s.nodes[0].tx_drop[1].add(1);
        s.nodes[1].filter_passed.add(39);
        s.nodes[1].tx[1].add(30);
        s.nodes[1].tx[0].add(9);
        s.workers[0].packets.add(49);
        s.workers[0].busy_cycles.add(4900);
        s.workers[0].bursts.add(2);
        s
    }

    #[test]
    fn counter_adds_and_wraps() {
        let c = Counter::default();
        c.add(5);
        c.add(7);
        assert_eq!(c.get(), 12);
        c.add(u64::MAX);
        assert_eq!(c.get(), 11);
    }

    #[test]
    fn layout() {
        assert_eq!(std::mem::size_of::<Counter>(), 8);
        assert_eq!(std::mem::align_of::<DistributorCounters>(), 64);
        assert_eq!(std::mem::align_of::<NodeCounters>(), 64);
        assert_eq!(std::mem::size_of::<PortRxCounters>(), 64);
        assert_eq!(std::mem::size_of::<LcoreCounters>(), 64);
    }

    #[test]
    fn snapshot_sums_and_conserves() {
        let s = busy_stats();
        let info = [PortInfo {
            id: 3,
            name: "net_pcap0".into(),
            mac: "02:00:00:00:00:01".into(),
            hw: Some(HwPortStats {
                ipackets: 100,
                ..Default::default()
            }),
        }];
        let snap = s.snapshot(&info);
        assert_eq!(snap.ports[0].id, 3);
        assert_eq!(snap.ports[0].name, "net_pcap0");
        assert_eq!(snap.ports[0].hw.unwrap().ipackets, 100);
        assert_eq!(snap.ports[1].id, 1);
        assert_eq!(snap.ports[1].tx, 74);
        assert_eq!(snap.ports[1].tx_drop, 1);
        assert_eq!(snap.ports[0].tx, 9);
        assert_eq!(snap.distributor.drop, 11);
        assert_eq!(snap.distributor.drop_by_reason.get(DropReason::NotIpv4), 2);
        assert_eq!(snap.distributor.cycles_per_packet, 50.0);
        assert_eq!(snap.nodes[0].tx, 44);
        assert_eq!(snap.nodes[1].tx, 39);
        assert_eq!(snap.workers[0].cycles_per_packet, 100.0);
        assert_eq!(snap.workers[1].cycles_per_packet, 0.0);
        assert_eq!(snap.workers[0].packets_per_burst, 24.5);
        assert_eq!(snap.workers[1].packets_per_burst, 0.0);
        snap.check_conservation().unwrap();
    }

    #[test]
    fn conservation_violations_reported() {
        let s = busy_stats();
        s.ports[0].rx.add(1);
        s.nodes[1].rx.add(1);
        s.nodes[0].tx[0].add(1);
        let e = s.snapshot(&[]).check_conservation().unwrap_err();
        assert!(e.contains("port rx 101 != distributed 89"), "{e}");
        assert!(e.contains("node rx + rx_drop 90 != distributed 89"), "{e}");
        assert!(e.contains("node 1: rx 40 != filter_passed 39"), "{e}");
        assert!(
            e.contains("node 0: filter_passed 45 != tx 45 + tx_drop 1"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn rates_between_snapshots() {
        let s = busy_stats();
        let mut a = s.snapshot(&[]);
        s.ports[0].rx.add(2_000_000);
        s.distributor.distributed.add(1_000_000);
        s.distributor.packets.add(1000);
        s.distributor.busy_cycles.add(30_000);
        s.nodes[1].tx[0].add(500_000);
        let mut b = s.snapshot(&[]);
        a.mono_ns = 1_000_000_000;
        b.mono_ns = 3_000_000_000;
        let r = rates(&a, &b);
        assert_eq!(r.interval_s, 2.0);
        assert_eq!(r.port_rx_pps, vec![1_000_000.0, 0.0]);
        assert_eq!(r.port_tx_pps, vec![250_000.0, 0.0]);
        assert_eq!(r.distributed_pps, 500_000.0);
        assert_eq!(r.node_tx_pps, vec![0.0, 250_000.0]);
        assert_eq!(r.distributor_cycles_per_packet, 30.0);
        assert_eq!(r.worker_cycles_per_packet, vec![0.0, 0.0]);
        // Zero interval: no division by zero.
        let r = rates(&b, &b);
        assert_eq!(r.distributed_pps, 0.0);
    }
}

//! The distributor and worker loops on in-memory queues ([`super::loopback`])
//! with a fake lookup: no EAL, no devices.

use super::distributor::{Distributor, FlowLookup, RxPort};
use super::flow_table::FlowTable;
use super::loopback::{LoopPacket, LoopPool, LoopRing, LoopRx, LoopTx, Loopback};
use super::worker::{Node, Worker};
use super::StopFlags;
use crate::control::sync::{node_channel, DistributorSync};
use crate::ids::{NodeId, PortIndex};
use crate::key::{FlowKey, Ipv4Dst};
use crate::packet::DropReason;
use crate::stats::Stats;
use std::sync::{Arc, Mutex};

/// A lookup that answers `key % modulus` (as the last key byte) and records
/// the length of every call.
struct FakeLookup {
    modulus: u8,
    calls: Arc<Mutex<Vec<usize>>>,
}

impl FlowLookup<[u8; 4]> for FakeLookup {
    fn lookup_bulk(&self, keys: &[[u8; 4]], out: &mut [u8]) {
        self.calls.lock().unwrap().push(keys.len());
        for (k, o) in keys.iter().zip(out.iter_mut()) {
            *o = k[3] % self.modulus;
        }
    }
}

/// An Ethernet + IPv4 frame to `dst` (64 bytes).
fn frame(dst: u32) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[23] = 17;
    f[30..34].copy_from_slice(&dst.to_be_bytes());
    f
}

/// A frame with no flow key (an ARP ethertype).
fn arp_frame() -> Vec<u8> {
    let mut f = frame(0);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    f
}

struct Rig {
    pool: LoopPool,
    rx: LoopRx,
    rings: Vec<LoopRing>,
    stats: Arc<Stats>,
    stop: Arc<StopFlags>,
    calls: Arc<Mutex<Vec<usize>>>,
}

impl Rig {
    fn new(num_nodes: usize, ring_size: usize, num_ports: usize) -> Rig {
        Rig {
            pool: LoopPool::new(),
            rx: LoopRx::new(),
            rings: (0..num_nodes).map(|_| LoopRing::new(ring_size)).collect(),
            stats: Arc::new(Stats::new(num_ports, num_nodes, 1)),
            stop: Arc::new(StopFlags::default()),
            calls: Arc::default(),
        }
    }

    fn distributor(&self, modulus: u8, burst: usize) -> Distributor<Loopback, Ipv4Dst, FakeLookup> {
        Distributor::new(
            vec![RxPort {
                index: PortIndex::new(0),
                queue: self.rx.clone(),
            }],
            self.rings.clone(),
            FakeLookup {
                modulus,
                calls: self.calls.clone(),
            },
            self.stats.clone(),
            self.stop.clone(),
            Arc::new(DistributorSync::default()),
            burst,
        )
    }

    fn feed(&self, frames: impl IntoIterator<Item = Vec<u8>>, port: u16) {
        let pool = &self.pool;
        self.rx.feed(
            frames
                .into_iter()
                .map(|f| pool.packet(&f, port))
                .collect::<Vec<_>>(),
        );
    }
}

#[test]
fn a_burst_above_32_reaches_the_lookup_in_calls_of_that_size() {
    for burst in [64usize, 256, 512] {
        let rig = Rig::new(1, 8192, 1);
        rig.feed((0..burst as u32 * 5).map(frame), 0);
        let mut lp = rig.distributor(1, burst).start();
        while rig.rx.pending() > 0 {
            lp.poll();
        }
        lp.finish();
        assert_eq!(*rig.calls.lock().unwrap(), vec![burst; 5], "burst {burst}");
        assert!(rig.rx.call_maxima().iter().all(|&m| m == burst));
        // Full bursts went to the one node: everything is on its ring.
        assert_eq!(rig.rings[0].len(), burst * 5);
        assert_eq!(rig.stats.nodes[0].rx.get(), burst as u64 * 5);
    }
}

#[test]
fn nodes_get_their_packets_in_whole_bursts_until_the_flush() {
    let rig = Rig::new(2, 1024, 1);
    // 100 packets per node (keys alternate between the nodes), in rx bursts
    // of 40: a node has 20 per rx burst and is due at 40.
    rig.feed((0..200).map(frame), 0);
    let mut lp = rig.distributor(2, 40).start();
    let mut seen = Vec::new();
    while rig.rx.pending() > 0 {
        lp.poll();
        seen.push((rig.rings[0].len(), rig.rings[1].len()));
    }
    assert!(
        seen.iter().all(|&(a, b)| a % 40 == 0 && b % 40 == 0),
        "{seen:?}"
    );
    // A round that receives nothing flushes what is left.
    assert!(!lp.poll());
    assert_eq!((rig.rings[0].len(), rig.rings[1].len()), (100, 100));
}

#[test]
fn malformed_frames_and_unknown_nodes_are_counted_and_freed() {
    let rig = Rig::new(2, 1024, 1);
    // Keys 0..30: the lookup answers key % 3, so a third name node 2, which
    // does not exist; 5 frames have no key; 3 are too short.
    let mut frames: Vec<Vec<u8>> = (0..30).map(frame).collect();
    frames.extend((0..5).map(|_| arp_frame()));
    frames.extend((0..3).map(|_| vec![0u8; 10]));
    rig.feed(frames, 0);
    let mut lp = rig.distributor(3, 32).start();
    while rig.rx.pending() > 0 {
        lp.poll();
    }
    lp.finish();
    let d = &rig.stats.distributor;
    assert_eq!(d.distributed.get(), 20);
    assert_eq!(d.drop_unknown_node.get(), 10);
    assert_eq!(d.drop[DropReason::NotIpv4 as usize].get(), 5);
    assert_eq!(d.drop[DropReason::TooShort as usize].get(), 3);
    assert_eq!(rig.stats.ports[0].rx.get(), 38);
    // Only the distributed packets are still alive, on the rings.
    assert_eq!(rig.rings[0].len() + rig.rings[1].len(), 20);
    assert_eq!(rig.pool.live(), 20);
}

#[test]
fn a_full_ring_is_a_counted_drop_for_that_node_only() {
    let rig = Rig::new(2, 64, 1);
    rig.feed((0..400).map(frame), 0);
    let mut lp = rig.distributor(2, 32).start();
    while rig.rx.pending() > 0 {
        lp.poll();
    }
    lp.finish();
    // Nobody dequeues: each ring keeps 64, the rest of its 200 is dropped.
    for n in 0..2 {
        assert_eq!(rig.rings[n].len(), 64);
        assert_eq!(rig.stats.nodes[n].rx.get(), 64);
        assert_eq!(rig.stats.nodes[n].rx_drop.get(), 136);
    }
    assert_eq!(rig.pool.live(), 128);
}

/// A worker serving every node of `rig`, node `n` owning the keys `k` with
/// `owns(n, k)`; `tx[p]` is the queue of port index `p` (DPDK port id p).
fn worker(
    rig: &Rig,
    keys: std::ops::Range<u32>,
    owns: impl Fn(usize, u32) -> bool,
    tx: &[LoopTx],
    burst: usize,
) -> Worker<Loopback, Ipv4Dst> {
    let port_index: Arc<[u8]> = (0..=255u8).collect::<Vec<_>>().into();
    let nodes = rig
        .rings
        .iter()
        .enumerate()
        .map(|(n, ring)| Node {
            id: NodeId::new(n as u16),
            ring: ring.clone(),
            flows: keys
                .clone()
                .filter(|&k| owns(n, k))
                .map(Ipv4Dst::from_u32)
                .collect::<FlowTable<_>>(),
            changes: node_channel().0,
            adopt: None,
            activity: None,
            tx_slot: n,
            port_index: port_index.clone(),
            stall: None,
        })
        .collect();
    Worker {
        index: 0,
        nodes,
        tx: rig.rings.iter().map(|_| tx.to_vec()).collect(),
        stats: rig.stats.clone(),
        stop: rig.stop.clone(),
        burst,
    }
}

fn tagged(pool: &LoopPool, dst: u32, port: u16) -> LoopPacket {
    let mut p = pool.packet(&frame(dst), port);
    super::io::Packet::set_tag(&mut p, Ipv4Dst::from_u32(dst).tag());
    p
}

#[test]
fn worker_keeps_owned_flows_and_sends_them_on_the_paired_port() {
    let rig = Rig::new(1, 1024, 2);
    let tx = [LoopTx::new(0), LoopTx::new(1)];
    // The node owns the even keys; packets come in on both ports.
    let mut w = worker(&rig, 0..100, |_, k| k % 2 == 0, &tx, 32).start();
    let mut ring = rig.rings[0].clone();
    let mut b: <Loopback as super::io::Io>::Burst<512> = super::io::PacketBurst::empty();
    for k in 0..100u32 {
        let _ = super::io::PacketBurst::push(&mut b, tagged(&rig.pool, k, (k % 4 < 2) as u16));
    }
    assert!(super::io::RingProducer::enqueue_front(
        &mut ring, &mut b, 100
    ));
    while w.poll() {}
    let nc = &rig.stats.nodes[0];
    assert_eq!((nc.filter_passed.get(), nc.filter_drop.get()), (50, 50));
    // Input port 1 (k % 4 in 0..2) goes out on port 0 and vice versa.
    let out0: Vec<u32> = tx[0].take_sent().iter().map(dst_of).collect();
    let out1: Vec<u32> = tx[1].take_sent().iter().map(dst_of).collect();
    assert!(out0.iter().all(|k| k % 2 == 0 && k % 4 < 2), "{out0:?}");
    assert!(out1.iter().all(|k| k % 2 == 0 && k % 4 >= 2), "{out1:?}");
    assert_eq!((out0.len(), out1.len()), (25, 25));
    assert_eq!((nc.tx[0].get(), nc.tx[1].get()), (25, 25));
    // What was sent is dropped with `out*`: nothing else is alive.
    assert_eq!(rig.pool.live(), 0);
    let wc = &rig.stats.workers[0];
    assert_eq!((wc.packets.get(), wc.bursts.get()), (100, 4));
}

fn dst_of(p: &LoopPacket) -> u32 {
    Ipv4Dst::parse_frame(super::io::Packet::data(p))
        .unwrap()
        .to_u32()
}

#[test]
fn worker_dequeues_and_transmits_in_the_configured_burst() {
    let rig = Rig::new(1, 4096, 1);
    let tx = [LoopTx::new(0)];
    let mut w = worker(&rig, 0..1000, |_, _| true, &tx, 100).start();
    let mut ring = rig.rings[0].clone();
    let mut b: <Loopback as super::io::Io>::Burst<512> = super::io::PacketBurst::empty();
    for chunk in 0..2u32 {
        for k in 0..500u32 {
            let _ = super::io::PacketBurst::push(&mut b, tagged(&rig.pool, chunk * 500 + k, 0));
        }
        assert!(super::io::RingProducer::enqueue_front(
            &mut ring, &mut b, 500
        ));
    }
    while w.poll() {}
    let wc = &rig.stats.workers[0];
    assert_eq!((wc.packets.get(), wc.bursts.get()), (1000, 10));
    assert_eq!(tx[0].take_sent().len(), 1000);
}

#[test]
fn a_refusing_tx_port_is_a_counted_drop_and_frees_the_packets() {
    let rig = Rig::new(1, 1024, 1);
    let tx = [LoopTx::new(0)];
    tx[0].set_budget(10);
    let mut w = worker(&rig, 0..64, |_, _| true, &tx, 32).start();
    let mut ring = rig.rings[0].clone();
    let mut b: <Loopback as super::io::Io>::Burst<512> = super::io::PacketBurst::empty();
    for k in 0..64u32 {
        let _ = super::io::PacketBurst::push(&mut b, tagged(&rig.pool, k, 0));
    }
    assert!(super::io::RingProducer::enqueue_front(
        &mut ring, &mut b, 64
    ));
    while w.poll() {}
    let nc = &rig.stats.nodes[0];
    assert_eq!((nc.tx[0].get(), nc.tx_drop[0].get()), (10, 54));
    assert_eq!(tx[0].take_sent().len(), 10);
    assert_eq!(rig.pool.live(), 0);
}

#[test]
fn the_pipeline_on_threads_accounts_for_every_packet() {
    // Distributor and worker on their own threads, as on lcores; 3 nodes
    // (lookup: the key's last byte % 3), each owning the keys below 900
    // that the lookup sends it. Rings that hold every packet: no ring drop,
    // so the filter must pass exactly the owned keys.
    let rig = Rig::new(3, 4096, 2);
    let tx = [LoopTx::new(0), LoopTx::new(1)];
    let mut frames: Vec<Vec<u8>> = (0..1000).map(frame).collect();
    frames.extend((0..50).map(|_| arp_frame()));
    rig.feed(frames.clone(), 0);
    rig.feed(frames, 1);
    let w = worker(&rig, 0..900, |n, k| (k & 0xff) as usize % 3 == n, &tx, 32);
    let d = rig.distributor(3, 32);
    let wt = std::thread::spawn(move || w.run());
    let rx = rig.rx.clone();
    let stop = rig.stop.clone();
    let dt = std::thread::spawn(move || d.run());
    while rx.pending() > 0 {
        std::thread::yield_now();
    }
    stop.stop_rx();
    dt.join().unwrap();
    stop.stop_workers();
    wt.join().unwrap();

    let s = &rig.stats;
    assert_eq!(s.distributor.distributed.get(), 2000);
    assert_eq!(s.distributor.drop[DropReason::NotIpv4 as usize].get(), 100);
    let sum = |f: &dyn Fn(usize) -> u64| (0..3).map(f).sum::<u64>();
    let rx_all = sum(&|n| s.nodes[n].rx.get() + s.nodes[n].rx_drop.get());
    assert_eq!(rx_all, 2000);
    let passed = sum(&|n| s.nodes[n].filter_passed.get());
    let filtered = sum(&|n| s.nodes[n].filter_drop.get());
    assert_eq!(passed + filtered, sum(&|n| s.nodes[n].rx.get()));
    let sent = tx[0].take_sent().len() + tx[1].take_sent().len();
    assert_eq!(sent as u64, passed);
    // The owned keys, 900 from each port. (With rings of 256 this check
    // used to be skipped whenever the worker thread fell behind, which hid
    // an ownership rule that did not match the lookup's.)
    assert_eq!(sum(&|n| s.nodes[n].rx_drop.get()), 0);
    assert_eq!(passed, 1800);
    assert_eq!(rig.pool.live(), 0);
}

/// A key wider than the tag: the worker gets it by parsing the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct WideKey(u64);

impl std::fmt::Display for WideKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FlowKey for WideKey {
    type Bytes = [u8; 8];
    const KIND: &'static str = "test_wide";
    const TEXT_FORM: &'static str = "number";
    fn parse_frame(frame: &[u8]) -> Result<Self, DropReason> {
        Ipv4Dst::parse_frame(frame).map(|k| WideKey(u64::from(k.to_u32()) << 8))
    }
    fn parse_text(text: &str) -> Option<Self> {
        text.parse().ok().map(WideKey)
    }
    fn to_bytes(&self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
    fn from_bytes(bytes: &[u8; 8]) -> Self {
        WideKey(u64::from_be_bytes(*bytes))
    }
    fn tag(&self) -> u32 {
        self.0 as u32
    }
    fn from_tag(_: u32) -> Option<Self> {
        None
    }
    fn seed(i: u32) -> Self {
        WideKey(u64::from(i) << 8)
    }
}

#[test]
fn a_key_wider_than_the_tag_is_parsed_again_and_a_keyless_frame_never_passes() {
    let rig = Rig::new(1, 1024, 1);
    let tx = [LoopTx::new(0)];
    let port_index: Arc<[u8]> = vec![0u8; 256].into();
    let node = Node::<Loopback, WideKey> {
        id: NodeId::new(0),
        ring: rig.rings[0].clone(),
        flows: (0..64u32).map(WideKey::seed).collect(),
        changes: node_channel().0,
        adopt: None,
        activity: None,
        tx_slot: 0,
        port_index,
        stall: None,
    };
    let mut w = Worker {
        index: 0,
        nodes: vec![node],
        tx: vec![tx.to_vec()],
        stats: rig.stats.clone(),
        stop: rig.stop.clone(),
        burst: 32,
    }
    .start();
    let mut ring = rig.rings[0].clone();
    let mut b: <Loopback as super::io::Io>::Burst<512> = super::io::PacketBurst::empty();
    // Two bursts: the first fills the scratch keys with owned keys; in the
    // second, packet 3's frame has lost its key (an ARP ethertype), and
    // keys 100.. are not owned.
    for k in (0..32u32).chain(100..132) {
        let f = if k == 103 {
            arp_frame()
        } else {
            frame(k - if k >= 100 { 97 } else { 0 })
        };
        let _ = super::io::PacketBurst::push(&mut b, rig.pool.packet(&f, 0));
    }
    assert!(super::io::RingProducer::enqueue_front(
        &mut ring, &mut b, 64
    ));
    while w.poll() {}
    let nc = &rig.stats.nodes[0];
    // Keys 3..35 of the second burst are owned, but the keyless frame is not.
    assert_eq!((nc.filter_passed.get(), nc.filter_drop.get()), (63, 1));
    assert_eq!(tx[0].take_sent().len(), 63);
    assert_eq!(rig.pool.live(), 0);
}

#[test]
fn a_stalled_node_is_left_alone_for_its_window_and_a_drain_waits_for_it() {
    use crate::faults::FaultWindow;
    use std::time::{Duration, Instant};
    let rig = Rig::new(2, 1024, 1);
    let tx = [LoopTx::new(0)];
    let mut w = worker(&rig, 0..64, |n, k| k as usize % 2 == n, &tx, 32);
    let now = Instant::now();
    let end = now + Duration::from_millis(200);
    w.nodes[1].stall = Some(FaultWindow { start: now, end });
    let mut lp = w.start();
    for (n, ring) in rig.rings.iter().enumerate() {
        let mut ring = ring.clone();
        let mut b: <Loopback as super::io::Io>::Burst<512> = super::io::PacketBurst::empty();
        for k in (0..64u32).filter(|k| *k as usize % 2 == n) {
            let _ = super::io::PacketBurst::push(&mut b, tagged(&rig.pool, k, 0));
        }
        assert!(super::io::RingProducer::enqueue_front(
            &mut ring, &mut b, 32
        ));
    }
    // During the stall: node 0 forwards, node 1's ring is not touched, and
    // the worker says it is not done (a drain goes on).
    for _ in 0..10 {
        assert!(lp.poll());
    }
    assert!(Instant::now() < end, "the window outlasted the rounds");
    let nc = &rig.stats.nodes;
    assert_eq!((nc[0].tx[0].get(), nc[1].tx[0].get()), (32, 0));
    assert_eq!((rig.rings[0].len(), rig.rings[1].len()), (0, 32));
    // After it, node 1 forwards what waited; then the worker is done.
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    while lp.poll() {}
    assert_eq!(nc[1].tx[0].get(), 32);
    assert_eq!(rig.rings[1].len(), 0);
    assert_eq!(tx[0].take_sent().len(), 64);
    assert_eq!(rig.pool.live(), 0);
}

//! Flow changes under continuous traffic, on the in-memory loops: the
//! distributor and a worker on their own threads, a feeder thread that never
//! stops sending, and the control thread (the test) moving flows.

use super::sync::{node_channel, DistributorSync};
use super::{ControlError, FlowControl};
use crate::efd::Efd;
use crate::ids::{NodeId, PortIndex};
use crate::key::{FlowKey, Ipv4Dst};
use crate::lcore::distributor::{Distributor, RxPort};
use crate::lcore::flow_table::FlowTable;
use crate::lcore::loopback::{LoopPool, LoopRing, LoopRx, LoopTx, Loopback};
use crate::lcore::worker::{Node, Worker};
use crate::lcore::StopFlags;
use crate::stats::Stats;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

fn frame(dst: u32) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[30..34].copy_from_slice(&dst.to_be_bytes());
    f
}

/// The loops on threads, `flows` flows (flow k on node k % nodes), a feeder
/// sending every flow round and round, and the control.
struct Appliance {
    control: FlowControl<Ipv4Dst, 4>,
    stats: Arc<Stats>,
    stop: Arc<StopFlags>,
    feeding: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    tx: LoopTx,
    pool: LoopPool,
}

impl Appliance {
    fn start(flows: u32, nodes: u16) -> Appliance {
        let pool = LoopPool::new();
        let rx = LoopRx::new();
        let rings: Vec<LoopRing> = (0..nodes).map(|_| LoopRing::new(1 << 14)).collect();
        let stats = Arc::new(Stats::new(1, usize::from(nodes), 1));
        let stop = Arc::new(StopFlags::default());
        let sync = Arc::new(DistributorSync::default());
        let efd = Efd::<4>::build(
            2 * flows as usize,
            8,
            (0..flows).map(|k| (Ipv4Dst::seed(k).to_bytes(), (k % u32::from(nodes)) as u8)),
        )
        .unwrap();
        let port_index: Arc<[u8]> = vec![0u8; 256].into();
        let mut links = Vec::new();
        let mut node_list = Vec::new();
        for n in 0..nodes {
            let (changes, link) = node_channel();
            links.push(link);
            let mut table = FlowTable::with_capacity(flows as usize);
            for k in (0..flows).filter(|k| k % u32::from(nodes) == u32::from(n)) {
                table.insert(Ipv4Dst::seed(k));
            }
            node_list.push(Node::<Loopback, Ipv4Dst> {
                id: NodeId::new(n),
                ring: rings[usize::from(n)].clone(),
                flows: table,
                changes,
                adopt: None,
                tx_slot: 0,
                port_index: port_index.clone(),
            });
        }
        let tx = LoopTx::new(0);
        let worker = Worker {
            index: 0,
            nodes: node_list,
            tx: vec![vec![tx.clone()]],
            stats: stats.clone(),
            stop: stop.clone(),
            burst: 32,
        };
        let distributor = Distributor::<Loopback, Ipv4Dst, _>::new(
            vec![RxPort {
                index: PortIndex::new(0),
                queue: rx.clone(),
            }],
            rings,
            efd.reader(),
            stats.clone(),
            stop.clone(),
            sync.clone(),
            32,
        );
        let feeding = Arc::new(AtomicBool::new(true));
        let mut threads = vec![
            std::thread::spawn(move || worker.run()),
            std::thread::spawn(move || distributor.run()),
        ];
        let (f, p, q) = (feeding.clone(), pool.clone(), rx.clone());
        threads.push(std::thread::spawn(move || {
            let frames: Vec<Vec<u8>> = (0..flows).map(frame).collect();
            while f.load(Ordering::Relaxed) {
                // Keep a few bursts queued, never drain dry for long.
                if q.pending() < 256 {
                    q.feed(frames.iter().take(256).map(|fr| p.packet(fr, 0)));
                    q.feed(frames.iter().skip(256).map(|fr| p.packet(fr, 0)));
                } else {
                    std::thread::yield_now();
                }
            }
        }));
        let control = FlowControl::new(efd, links, sync, stats.clone());
        Appliance {
            control,
            stats,
            stop,
            feeding,
            threads,
            tx,
            pool,
        }
    }

    fn passed(&self, node: usize) -> u64 {
        self.stats.nodes[node].filter_passed.get()
    }

    fn filter_drops(&self) -> u64 {
        self.stats.nodes.iter().map(|n| n.filter_drop.get()).sum()
    }

    /// Waits until every node has passed `more` more packets.
    fn traffic_for(&self, more: u64) {
        let start: Vec<u64> = (0..self.stats.nodes.len())
            .map(|n| self.passed(n))
            .collect();
        let t = Instant::now();
        while (0..start.len()).any(|n| self.passed(n) < start[n] + more) {
            assert!(t.elapsed() < Duration::from_secs(20), "traffic stalled");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn stop(mut self) -> (Arc<Stats>, LoopPool) {
        self.feeding.store(false, Ordering::Relaxed);
        let feeder = self.threads.pop().unwrap();
        feeder.join().unwrap();
        self.stop.stop_rx();
        let d = self.threads.pop().unwrap();
        d.join().unwrap();
        self.stop.stop_workers();
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        drop(self.tx.take_sent());
        (self.stats, self.pool)
    }
}

#[test]
fn drain_and_restore_under_traffic_drop_no_packet_of_a_moving_flow() {
    let mut app = Appliance::start(3000, 3);
    app.traffic_for(2000);
    assert_eq!(app.filter_drops(), 0);

    // Drain node 0 onto nodes 1 and 2 while packets flow, then move its
    // flows back; a few times, as each round has only a few packets in
    // flight at the switch.
    for round in 0..5 {
        let moved = app
            .control
            .drain(NodeId::new(0), &[NodeId::new(1), NodeId::new(2)])
            .unwrap();
        assert_eq!(moved, 1000);
        assert!(app.control.flows_of(NodeId::new(0)).is_empty());
        // Node 0 forwards nothing any more; the others carry its flows.
        let p0 = app.passed(0);
        let (p1, p2) = (app.passed(1), app.passed(2));
        let t = Instant::now();
        while app.passed(1) < p1 + 4000 || app.passed(2) < p2 + 4000 {
            assert!(t.elapsed() < Duration::from_secs(20), "traffic stalled");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(app.passed(0), p0, "node 0 forwards after its drain");

        // Restore: the flows of node 0 move back.
        let back: Vec<(Ipv4Dst, NodeId)> = (0..3000)
            .filter(|k| k % 3 == 0)
            .map(|k| (Ipv4Dst::seed(k), NodeId::new(0)))
            .collect();
        let r = app.control.move_flows(&back).unwrap();
        assert_eq!((r.moved, r.unchanged), (1000, 0));
        app.traffic_for(2000);
        assert_eq!(app.filter_drops(), 0, "round {round}");
    }

    assert_eq!(
        app.filter_drops(),
        0,
        "a packet of a moving flow was dropped"
    );
    let (stats, pool) = app.stop();
    let rx_drop: u64 = stats.nodes.iter().map(|n| n.rx_drop.get()).sum();
    let passed: u64 = stats.nodes.iter().map(|n| n.filter_passed.get()).sum();
    let rx: u64 = stats.nodes.iter().map(|n| n.rx.get()).sum();
    assert_eq!(passed, rx, "every enqueued packet was forwarded");
    assert_eq!(stats.distributor.distributed.get(), rx + rx_drop);
    assert_eq!(pool.live(), 0);
}

#[test]
fn add_and_remove_single_flows_and_refuse_bad_requests() {
    let mut app = Appliance::start(300, 2);
    let c = &mut app.control;
    let k = Ipv4Dst::seed(5000);
    c.add(k, NodeId::new(1)).unwrap();
    assert_eq!(c.node_of(k), Some(NodeId::new(1)));
    assert_eq!(
        c.add(k, NodeId::new(0)),
        Err(ControlError::Exists("0.0.19.136".into()))
    );
    assert_eq!(
        c.add(Ipv4Dst::seed(5001), NodeId::new(2)),
        Err(ControlError::NoSuchNode {
            node: 2,
            num_nodes: 2
        })
    );
    assert_eq!(
        c.move_flows(&[
            (Ipv4Dst::seed(1), NodeId::new(0)),
            (Ipv4Dst::seed(9999), NodeId::new(0))
        ]),
        Err(ControlError::NotFound("0.0.39.15".into()))
    );
    // The failed batch changed nothing.
    assert_eq!(c.node_of(Ipv4Dst::seed(1)), Some(NodeId::new(1)));
    assert_eq!(c.remove(k), Ok(NodeId::new(1)));
    assert_eq!(c.node_of(k), None);
    assert_eq!(
        c.remove(k),
        Err(ControlError::NotFound("0.0.19.136".into()))
    );
    app.traffic_for(500);
    assert_eq!(app.filter_drops(), 0);
    app.stop();
}

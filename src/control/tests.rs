//! Flow changes under continuous traffic, on the in-memory loops: the
//! distributor and a worker on their own threads, a feeder thread that never
//! stops sending, and the control thread (the test) moving flows.

use super::sync::{node_channel, Activity, AdoptionDesk, DistributorSync};
use super::{ControlError, FlowControl};
use crate::efd::Efd;
use crate::ids::{NodeId, PortIndex};
use crate::key::{FlowKey, Ipv4Dst};
use crate::lcore::distributor::{Distributor, RxPort};
use crate::lcore::flow_table::FlowTable;
use crate::lcore::loopback::LoopPacket;
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
    txs: Vec<LoopTx>,
    pool: LoopPool,
    /// The service's snapshot file and period (tests of the service).
    snapshot: Option<(std::path::PathBuf, Duration)>,
}

impl Appliance {
    fn start(flows: u32, nodes: u16) -> Appliance {
        Appliance::start_with(flows, nodes, None, None, (0..flows).collect())
    }

    /// `known` flows in the tables, a feeder sending packets to `feed`
    /// round and round, each node on its own TX queue (`txs`), and with
    /// `adoption` the policy `assign`.
    fn start_with(
        known: u32,
        nodes: u16,
        adoption: Option<&AdoptionDesk<Ipv4Dst>>,
        activity: Option<Arc<Activity>>,
        feed: Vec<u32>,
    ) -> Appliance {
        let capacity = (2 * known as usize).max(4 * feed.len());
        Appliance::start_sized(known, nodes, adoption, activity, feed, capacity)
    }

    /// [`Appliance::start_with`] with an EFD table for `capacity` flows.
    fn start_sized(
        known: u32,
        nodes: u16,
        adoption: Option<&AdoptionDesk<Ipv4Dst>>,
        activity: Option<Arc<Activity>>,
        feed: Vec<u32>,
        capacity: usize,
    ) -> Appliance {
        let flows = known;
        let pool = LoopPool::new();
        let rx = LoopRx::new();
        let rings: Vec<LoopRing> = (0..nodes).map(|_| LoopRing::new(1 << 14)).collect();
        let stats = Arc::new(Stats::new(1, usize::from(nodes), 1));
        let stop = Arc::new(StopFlags::default());
        let sync = Arc::new(DistributorSync::default());
        let efd = Efd::<4>::build(
            capacity,
            8,
            (0..flows).map(|k| (Ipv4Dst::seed(k).to_bytes(), (k % u32::from(nodes)) as u8)),
        )
        .unwrap();
        let port_index: Arc<[u8]> = vec![0u8; 256].into();
        let mut links = Vec::new();
        let mut node_list = Vec::new();
        let txs: Vec<LoopTx> = (0..nodes).map(|_| LoopTx::new(0)).collect();
        for n in 0..nodes {
            let (changes, link) = node_channel();
            links.push(link);
            let mut table = FlowTable::with_capacity(flows.max(feed.len() as u32) as usize);
            for k in (0..flows).filter(|k| k % u32::from(nodes) == u32::from(n)) {
                table.insert(Ipv4Dst::seed(k));
            }
            node_list.push(Node::<Loopback, Ipv4Dst> {
                id: NodeId::new(n),
                ring: rings[usize::from(n)].clone(),
                flows: table,
                changes,
                adopt: adoption.map(AdoptionDesk::adopter),
                activity: activity.clone(),
                tx_slot: usize::from(n),
                port_index: port_index.clone(),
                stall: None,
            });
        }
        let worker = Worker {
            index: 0,
            nodes: node_list,
            tx: txs.iter().map(|t| vec![t.clone()]).collect(),
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
            let frames: Vec<Vec<u8>> = feed.iter().map(|&k| frame(k)).collect();
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
            txs,
            pool,
            snapshot: None,
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

    /// Waits until the nodes together have passed `more` more packets.
    fn traffic_total(&self, more: u64) {
        let sum = || {
            (0..self.stats.nodes.len())
                .map(|n| self.passed(n))
                .sum::<u64>()
        };
        let start = sum();
        let t = Instant::now();
        while sum() < start + more {
            assert!(t.elapsed() < Duration::from_secs(20), "traffic stalled");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// What each node sent, by flow.
    fn sent_by_node(&self) -> Vec<Vec<LoopPacket>> {
        self.txs.iter().map(LoopTx::take_sent).collect()
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
        for t in &self.txs {
            drop(t.take_sent());
        }
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

// ----- the control service: requests, node states, the assign policy -----

use super::api::{ApiError, BulkSource, ChangeReply, Reply, Request};
use super::balance::NodePolicy;
use super::service::{ControlService, ServiceConfig};
use super::status::{ControlStatusCell, NodeState, Op};
use crate::lcore::io::Packet;

fn policy(weights: &[u32]) -> Vec<NodePolicy> {
    weights
        .iter()
        .map(|&weight| NodePolicy {
            state: NodeState::Active,
            weight,
        })
        .collect()
}

/// Takes the appliance's flow control into a service.
fn service(
    app: &mut Appliance,
    weights: &[u32],
    capacity: usize,
    adoption: Option<AdoptionDesk<Ipv4Dst>>,
) -> (ControlService<Ipv4Dst, 4>, ControlStatusCell) {
    service_expiring(app, weights, capacity, adoption, None)
}

/// [`service`] with idle adopted flows expiring.
fn service_expiring(
    app: &mut Appliance,
    weights: &[u32],
    capacity: usize,
    adoption: Option<AdoptionDesk<Ipv4Dst>>,
    idle: Option<(Duration, Arc<Activity>)>,
) -> (ControlService<Ipv4Dst, 4>, ControlStatusCell) {
    service_with(app, weights, capacity, adoption, idle, None)
}

/// [`service_expiring`] with rebalancing moves limited to `rate` flows/s.
fn service_with(
    app: &mut Appliance,
    weights: &[u32],
    capacity: usize,
    adoption: Option<AdoptionDesk<Ipv4Dst>>,
    idle: Option<(Duration, Arc<Activity>)>,
    rate: Option<u32>,
) -> (ControlService<Ipv4Dst, 4>, ControlStatusCell) {
    let dummy = FlowControl::new(
        Efd::new(1024, 8).unwrap(),
        Vec::new(),
        Arc::default(),
        app.stats.clone(),
    );
    let control = std::mem::replace(&mut app.control, dummy);
    let status = ControlStatusCell::default();
    let config = ServiceConfig {
        capacity,
        value_bits: 8,
        assign: adoption.is_some(),
        flow_match: Default::default(),
        snapshot: app.snapshot.clone().map(|s| s.0),
        snapshot_period: app.snapshot.clone().map(|s| s.1),
        idle_timeout: idle.as_ref().map(|i| i.0),
        activity: idle.map(|i| i.1),
        rebalance_rate: rate,
    };
    let s = ControlService::new(
        control,
        policy(weights),
        config,
        adoption,
        app.stats.clone(),
        status.clone(),
    )
    .unwrap();
    (s, status)
}

fn table(s: &ControlService<Ipv4Dst, 4>) -> Vec<([u8; 4], u8)> {
    let mut t: Vec<_> = s.control().efd().iter().collect();
    t.sort_unstable();
    t
}

#[test]
fn drain_and_restore_requests_move_flows_by_weight_without_a_drop() {
    let mut app = Appliance::start(6000, 3);
    let (mut s, status) = service(&mut app, &[1, 1, 2], 20_000, None);
    app.traffic_total(2000);
    for round in 0..3 {
        let on_0 = status.get().nodes[0].flows;
        let r = s.handle(Request::Drain { node: 0 }).unwrap();
        assert_eq!(
            r,
            Reply::Changed(ChangeReply {
                moved: on_0,
                ..Default::default()
            })
        );
        let st = status.get();
        assert_eq!(st.nodes[0].state, NodeState::Out);
        // Node 1 (weight 1) goes 2000 -> 2000, node 2 (weight 2) 2000 -> 4000:
        // targets 2000 / 4000 of 6000.
        assert_eq!(
            (st.nodes[0].flows, st.nodes[1].flows, st.nodes[2].flows),
            (0, 2000, 4000)
        );
        assert!(s.control().flows_of(NodeId::new(0)).is_empty());
        app.traffic_total(2000);
        let r = s.handle(Request::Restore { node: 0 }).unwrap();
        assert_eq!(
            r,
            Reply::Changed(ChangeReply {
                moved: 1500,
                ..Default::default()
            })
        );
        let st = status.get();
        assert_eq!(
            (st.nodes[0].flows, st.nodes[1].flows, st.nodes[2].flows),
            (1500, 1500, 3000)
        );
        app.traffic_total(2000);
        assert_eq!(app.filter_drops(), 0, "round {round}");
    }
    // A weight change moves the fewest flows: 1,1,2 -> 1,1,1 moves 1000 of
    // node 2's 3000 (500 to each other node).
    let r = s.handle(Request::SetWeight { node: 2, weight: 1 }).unwrap();
    assert_eq!(
        r,
        Reply::Changed(ChangeReply {
            moved: 1000,
            ..Default::default()
        })
    );
    app.traffic_total(2000);
    assert_eq!(app.filter_drops(), 0);
    drop(s);
    let (stats, pool) = app.stop();
    assert_eq!(
        stats.nodes.iter().map(|n| n.filter_drop.get()).sum::<u64>(),
        0
    );
    assert_eq!(pool.live(), 0);
}

#[test]
fn refused_requests_change_nothing() {
    let mut app = Appliance::start(1000, 2);
    let (mut s, _) = service(&mut app, &[1, 1], 1002, None);
    let before = table(&s);
    let cases: Vec<(Request, u16, &str)> = vec![
        (
            Request::GetFlow {
                key: "10.0.0".into(),
            },
            400,
            "bad key \"10.0.0\"",
        ),
        (
            Request::PutFlow {
                key: "1.2.3.400".into(),
                node: 0,
            },
            400,
            "bad key",
        ),
        (
            Request::PutFlow {
                key: "10.0.0.1".into(),
                node: 2,
            },
            400,
            "node 2 out of range (2 nodes)",
        ),
        (
            Request::DeleteFlow {
                key: "10.0.0.1".into(),
            },
            404,
            "flow 10.0.0.1 not found",
        ),
        (Request::Node { node: 7 }, 404, "node 7 out of range"),
        (Request::Drain { node: 9 }, 404, "node 9 out of range"),
        (Request::Restore { node: 0 }, 409, "already active"),
        (
            Request::Bulk(BulkSource::Text(
                "10.0.0.1,0\n10.0.0.2,1\n10.0.0.3,0\n".into(),
            )),
            409,
            "table full: 1000 flows + 3 new exceed the capacity of 1002",
        ),
        (
            Request::Bulk(BulkSource::Text("10.0.0.1,0\nnot-an-address,1\n".into())),
            400,
            "request body:2",
        ),
        (
            Request::Bulk(BulkSource::Text("0.0.0.1,0\n0.0.0.1,1\n".into())),
            400,
            "request body:2",
        ),
        (
            Request::Bulk(BulkSource::Text("0.0.0.1,0\n10.0.0.1,5\n".into())),
            400,
            "request body:2",
        ),
        (
            Request::Bulk(BulkSource::File("/nonexistent/flows.txt".into())),
            400,
            "/nonexistent/flows.txt",
        ),
        (Request::Snapshot { path: None }, 400, "no snapshot path"),
    ];
    for (req, status, text) in cases {
        let what = format!("{req:?}");
        match s.handle(req) {
            Err(ApiError { status: st, error }) => {
                assert_eq!(st, status, "{what}: {error}");
                assert!(error.contains(text), "{what}: {error:?} lacks {text:?}");
                assert!(!error.contains('\n'));
            }
            Ok(r) => panic!("{what} was accepted: {r:?}"),
        }
        assert_eq!(table(&s), before, "{what} changed the table");
    }
    // A drained node takes no flow until restored.
    s.handle(Request::Drain { node: 1 }).unwrap();
    let after_drain = table(&s);
    let e = s
        .handle(Request::PutFlow {
            key: "10.0.0.1".into(),
            node: 1,
        })
        .unwrap_err();
    assert_eq!(
        (e.status, e.error.as_str()),
        (409, "node 1 is out: restore it before giving it flows")
    );
    let e = s.handle(Request::Drain { node: 1 }).unwrap_err();
    assert_eq!(e.status, 409);
    let e = s.handle(Request::Drain { node: 0 }).unwrap_err();
    assert_eq!(e.status, 409, "{}", e.error);
    assert_eq!(table(&s), after_drain);
    app.traffic_total(500);
    assert_eq!(app.filter_drops(), 0);
    drop(s);
    app.stop();
}

/// `assign`: a stream of only new flows is forwarded completely, each flow
/// on one node from its first packet to its last, spread by weight.
#[test]
fn assign_forwards_new_flows_on_one_node_each_spread_by_weight() {
    const NEW: u32 = 80_000;
    let weights = [1u32, 1, 2, 4];
    let desk = AdoptionDesk::new();
    let feed: Vec<u32> = (0..NEW).map(|i| 0x0a00_0000 + i).collect();
    let mut app = Appliance::start_with(0, 4, Some(&desk), None, feed.clone());
    let (s, status) = service(&mut app, &weights, 4 * NEW as usize, Some(desk));
    let (handle, requests) = super::api::ControlHandle::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let control = std::thread::spawn(move || s.run(requests, &st));
    let t = Instant::now();
    while status.get().adopted < u64::from(NEW) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "adopted {} of {NEW}",
            status.get().adopted
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Then every flow again, after adoption.
    app.traffic_total(3 * u64::from(NEW) / 8);
    let sent = app.sent_by_node();
    stop.store(true, Ordering::Relaxed);
    drop(handle);
    let control = control.join().unwrap();
    assert_eq!(app.filter_drops(), 0, "a packet of a new flow was dropped");
    let mut node_of = vec![u8::MAX; NEW as usize];
    for (n, packets) in sent.iter().enumerate() {
        for p in packets {
            let d = p.data();
            let i = (u32::from_be_bytes([d[30], d[31], d[32], d[33]]) - 0x0a00_0000) as usize;
            assert!(
                node_of[i] == u8::MAX || node_of[i] == n as u8,
                "flow {i} on nodes {} and {n}",
                node_of[i]
            );
            node_of[i] = n as u8;
        }
    }
    // Every flow is in the table on the node that forwarded it.
    for (i, &n) in node_of.iter().enumerate() {
        let key = Ipv4Dst::seed(0x0a00_0000 + i as u32);
        if n != u8::MAX {
            assert_eq!(
                control.node_of(key),
                Some(NodeId::new(u16::from(n))),
                "flow {i}"
            );
        }
    }
    let counts: Vec<u64> = status.get().nodes.iter().map(|n| n.flows).collect();
    let total: u64 = counts.iter().sum();
    assert_eq!(total, u64::from(NEW));
    let wsum: u32 = weights.iter().sum();
    for (n, (&c, &w)) in counts.iter().zip(&weights).enumerate() {
        let want = f64::from(NEW) * f64::from(w) / f64::from(wsum);
        let off = (c as f64 - want).abs() / want;
        eprintln!(
            "node {n}: {c} flows, weight share {want:.0}, off {:.2} %",
            off * 100.0
        );
        assert!(
            off < 0.05,
            "node {n}: {c} flows against {want:.0} by weight"
        );
    }
    drop(sent);
    drop(control);
    let (stats, pool) = app.stop();
    let fwd: u64 = stats.nodes.iter().map(|n| n.unknown_forwarded.get()).sum();
    assert!(fwd > 0);
    assert_eq!(pool.live(), 0);
}

/// `assign` with a full table: new flows beyond the capacity are dropped
/// and counted as `table_full`; the flows adopted before keep flowing.
#[test]
fn assign_with_a_full_table_drops_and_counts_table_full() {
    let desk = AdoptionDesk::new();
    let feed: Vec<u32> = (0..3000).map(|i| 0x0a00_0000 + i).collect();
    let mut app = Appliance::start_with(0, 2, Some(&desk), None, feed);
    let (s, status) = service(&mut app, &[1, 1], 1000, Some(desk));
    let (handle, requests) = super::api::ControlHandle::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let control = std::thread::spawn(move || s.run(requests, &st));
    let t = Instant::now();
    while app
        .stats
        .nodes
        .iter()
        .map(|n| n.table_full.get())
        .sum::<u64>()
        < 10_000
    {
        assert!(t.elapsed() < Duration::from_secs(30), "no table_full drop");
        std::thread::sleep(Duration::from_millis(5));
    }
    let st = status.get();
    assert_eq!(st.flows, 1000);
    assert_eq!(st.adopted, 1000);
    assert!(st.table_full > 0);
    stop.store(true, Ordering::Relaxed);
    drop(handle);
    drop(control.join().unwrap());
    let (stats, pool) = app.stop();
    for n in &stats.nodes {
        assert!(n.table_full.get() <= n.filter_drop.get());
    }
    assert_eq!(pool.live(), 0);
}

/// `control.idle_timeout_s`: adopted flows expire once their packets stop,
/// not while they flow; flows the operator placed never expire.
#[test]
fn idle_adopted_flows_expire_and_active_ones_stay() {
    let desk = AdoptionDesk::new();
    let activity = Arc::new(Activity::new(10_000));
    let feed: Vec<u32> = (0..2000).map(|i| 0x0a00_0000 + i).collect();
    let mut app = Appliance::start_with(0, 2, Some(&desk), Some(activity.clone()), feed);
    let timeout = Duration::from_millis(400);
    let (mut s, status) = service_expiring(
        &mut app,
        &[1, 1],
        10_000,
        Some(desk),
        Some((timeout, activity)),
    );
    s.handle(Request::PutFlow {
        key: "20.0.0.1".into(),
        node: 1,
    })
    .unwrap();
    let (handle, requests) = super::api::ControlHandle::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let control = std::thread::spawn(move || s.run(requests, &st));
    let t = Instant::now();
    while status.get().adopted < 2000 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "adopted {}",
            status.get().adopted
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Three timeouts of traffic: nothing expires.
    std::thread::sleep(3 * timeout);
    assert_eq!(status.get().expired, 0);
    assert_eq!(status.get().flows, 2001);
    // The traffic stops: the adopted flows expire, the placed one stays.
    app.feeding.store(false, Ordering::Relaxed);
    let t = Instant::now();
    while status.get().expired < 2000 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "expired {}",
            status.get().expired
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let st = status.get();
    assert_eq!((st.flows, st.expired), (1, 2000));
    assert_eq!(st.nodes.iter().map(|n| n.flows).sum::<u64>(), 1);
    stop.store(true, Ordering::Relaxed);
    drop(handle);
    let control = control.join().unwrap();
    assert_eq!(
        control.node_of(Ipv4Dst::from_u32(0x1400_0001)),
        Some(NodeId::new(1))
    );
    assert_eq!(control.node_of(Ipv4Dst::from_u32(0x0a00_0000)), None);
    drop(control);
    let (_, pool) = app.stop();
    assert_eq!(pool.live(), 0);
}

/// `control.snapshot_period_s`: the control thread writes the configured
/// snapshot on its own, again after each period.
#[test]
fn periodic_snapshots_are_written() {
    let mut app = Appliance::start(500, 2);
    let dir = std::env::temp_dir().join(format!("efd-lb-periodic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flows.snapshot");
    app.snapshot = Some((path.clone(), Duration::from_millis(200)));
    let (mut s, status) = service(&mut app, &[1, 1], 1000, None);
    assert!(!path.exists(), "written before the first period");
    let (handle, requests) = super::api::ControlHandle::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    s.handle(Request::PutFlow {
        key: "20.0.0.1".into(),
        node: 0,
    })
    .unwrap();
    let control = std::thread::spawn(move || s.run(requests, &st));
    let t = Instant::now();
    while status
        .get()
        .op(super::status::Op::Snapshot)
        .map_or(0, |o| o.ok)
        < 2
    {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no periodic snapshot"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let snap = super::snapshot::load::<Ipv4Dst>(&path, 2).unwrap();
    assert_eq!(snap.flows.len(), 501);
    stop.store(true, Ordering::Relaxed);
    drop(handle);
    drop(control.join().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    app.stop();
}

/// `control.rebalance_flows_per_s`: a drain moves its flows no faster than
/// the limit (in slices, the first one at once), under traffic, and loses
/// nothing.
#[test]
fn rebalancing_moves_keep_to_their_rate() {
    let mut app = Appliance::start(20_000, 2);
    let (mut s, status) = service_with(&mut app, &[1, 1], 30_000, None, None, Some(20_000));
    app.traffic_total(2000);
    let t = Instant::now();
    let r = s.handle(Request::Drain { node: 0 }).unwrap();
    let took = t.elapsed();
    assert_eq!(
        r,
        Reply::Changed(ChangeReply {
            moved: 10_000,
            ..Default::default()
        })
    );
    // 10,000 flows at 20,000/s, the first slice (400) at once: 0.48 s at
    // least (unlimited, the same drain takes a few milliseconds).
    assert!(took >= Duration::from_millis(480), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(status.get().nodes[1].flows, 20_000);
    app.traffic_total(2000);
    let t = Instant::now();
    s.handle(Request::Restore { node: 0 }).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(230),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(status.get().nodes[0].flows, 10_000);
    app.traffic_total(2000);
    assert_eq!(app.filter_drops(), 0);
}

/// Churn and drains of a near-full table (what an operator does for
/// months): new flows go into full first-level groups of the EFD table,
/// which bump keys to the deeper levels and lower thresholds that removes
/// never raise. The control thread's reclaims bring the keys back up, so
/// the deeper levels keep about the share they had after the build, every
/// flow keeps its value, and no packet of a moving flow is dropped.
#[test]
fn churn_of_a_full_table_keeps_its_deeper_levels_small() {
    let (traffic, churn, capacity) = (6_000u32, 1_600u32, 8_000usize);
    let (rounds, per_round) = (20u32, 300u32);
    let mut app = Appliance::start_sized(traffic, 4, None, None, (0..traffic).collect(), capacity);
    let (mut s, status) = service(&mut app, &[1, 1, 1, 1], capacity, None);
    let flow = |k: u32| Ipv4Dst::seed(k).to_string();
    let bulk = |from: u32, n: u32| {
        let text: String = (from..from + n)
            .map(|k| format!("{},{}\n", flow(k), k % 4))
            .collect();
        Request::Bulk(BulkSource::Text(text))
    };
    // The churn flows (not in the traffic), then rounds of new ones
    // in, as many of the oldest out, and a drain and restore.
    s.handle(bulk(traffic, churn)).unwrap();
    let built = s.control().deep_flows();
    let (mut oldest, mut most) = (traffic, 0);
    for round in 0..rounds {
        let next = oldest + churn;
        s.handle(bulk(next, per_round))
            .unwrap_or_else(|e| panic!("round {round}: {}", e.error));
        for k in oldest..oldest + per_round {
            s.handle(Request::DeleteFlow { key: flow(k) }).unwrap();
        }
        oldest += per_round;
        if round % 5 == 4 {
            let node = (round / 5 % 4) as u16;
            s.handle(Request::Drain { node }).unwrap();
            s.handle(Request::Restore { node }).unwrap();
            app.traffic_total(4000);
        }
        let before = s.control().deep_flows();
        let done = s.reclaim_now();
        let after = s.control().deep_flows();
        // Keys move up to the first level or to a shallower deeper one.
        assert!(
            after <= before && before - after <= done.keys,
            "round {round}"
        );
        assert_eq!(status.get().efd_deep_flows, after as u64);
        most = most.max(after);
    }
    assert!(
        most <= built * 3 / 2,
        "{most} flows on the deeper levels after reclaims, {built} after the build"
    );
    let efd = s.control().efd();
    assert_eq!(efd.len(), (traffic + churn) as usize);
    for (k, v) in efd.iter() {
        assert_eq!(efd.lookup(&k), v);
    }
    assert_eq!(app.filter_drops(), 0);
    assert_eq!(
        status.get().op(Op::Reclaim).map(|o| o.ok),
        Some(u64::from(rounds))
    );
    drop(s);
    let (_, pool) = app.stop();
    assert_eq!(pool.live(), 0);
}

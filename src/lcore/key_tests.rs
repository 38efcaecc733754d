//! Every key kind through the distributor and worker loops on in-memory
//! queues ([`super::loopback`]), with the EFD table the appliance builds:
//! generated pcaps (IPv4, IPv6, mixed, VLAN and QinQ, options and extension
//! headers, fragments, malformed frames, and valid frames cut at every byte
//! of their headers), and per-node and per-reason counts predicted from the
//! generator's labels and the flow table, not from the parser.

use super::distributor::{Distributor, RxPort};
use super::flow_table::{FlowMatch, FlowTable};
use super::loopback::{LoopPool, LoopRing, LoopRx, LoopTx, Loopback};
use super::worker::{Node, Worker};
use super::StopFlags;
use crate::control::sync::{node_channel, DistributorSync};
use crate::flows::{seed_population, Flow};
use crate::ids::{NodeId, PortIndex};
use crate::key::KeyKind;
use crate::packet::DropReason;
use crate::pcap::{PcapReader, PcapWriter};
use crate::stats::Stats;
use crate::traffic::{generate_labeled, Label, TrafficKey, TrafficSpec};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

const NUM_FLOWS: u32 = 1500;
const NUM_NODES: u16 = 3;
/// 2-bit values for 3 nodes: value 3 is an unknown node.
const VALUE_BITS: u8 = 2;

/// The frames of one run and what each should give: the generator's
/// traffic, then its first valid frames cut at every byte up to the end of
/// what the kind reads.
fn traffic<K: TrafficKey>(
    kind: KeyKind,
    spec: &TrafficSpec,
) -> Vec<(Result<K, DropReason>, Vec<u8>)> {
    let labeled: Vec<(Label<K>, Vec<u8>)> = generate_labeled::<K>(spec).collect();
    let mut out: Vec<_> = labeled.iter().map(|(l, f)| (l.expect, f.clone())).collect();
    let mut shapes = std::collections::HashSet::new();
    for (l, f) in &labeled {
        let Some(lay) = l.layout else { continue };
        // One frame per header layout.
        if !shapes.insert((lay, l.fragment)) {
            continue;
        }
        let end = lay.key_end(kind);
        for cut in 0..end {
            let want = if cut < lay.ip {
                DropReason::TooShort
            } else {
                DropReason::Truncated
            };
            out.push((Err(want), f[..cut].to_vec()));
        }
    }
    out
}

/// Writes `frames` to a pcap and reads them back (the appliance's input).
/// Each call has a file of its own: tests of the same kind run at once in
/// one process.
fn through_pcap(frames: &[(impl Sized, Vec<u8>)], name: &str) -> Vec<Vec<u8>> {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "efd-lb-keyloop-{}-{call}-{name}.pcap",
        std::process::id()
    ));
    let mut w = PcapWriter::create(&path).unwrap();
    for (i, (_, f)) in frames.iter().enumerate() {
        w.write_packet(i as u32, 0, f).unwrap();
    }
    w.finish().unwrap();
    let back: Vec<Vec<u8>> = PcapReader::open(&path)
        .unwrap()
        .map(|r| r.unwrap().data)
        .collect();
    std::fs::remove_file(&path).unwrap();
    back
}

#[derive(Debug, Default, PartialEq)]
struct Counts {
    reasons: Vec<u64>,
    unknown_node: u64,
    node_rx: Vec<u64>,
    passed: Vec<u64>,
    filtered: Vec<u64>,
}

fn run_kind<K: TrafficKey<Bytes = [u8; N]>, const N: usize>(kind: KeyKind, spec: &TrafficSpec) {
    run_kind_matching::<K, N>(kind, spec, FlowMatch::Exact);
}

/// [`run_kind`] with the node tables holding what `flow_match` says.
fn run_kind_matching<K: TrafficKey<Bytes = [u8; N]>, const N: usize>(
    kind: KeyKind,
    spec: &TrafficSpec,
    flow_match: FlowMatch,
) {
    let flows: Vec<Flow<K>> = seed_population(NUM_FLOWS, NUM_NODES).collect();
    let owner: HashMap<K, NodeId> = flows.iter().map(|f| (f.key, f.node)).collect();
    let efd = crate::app::build_efd(&flows, VALUE_BITS).unwrap();
    let frames = traffic::<K>(kind, spec);
    let input = through_pcap(&frames, kind.name());
    assert_eq!(input.len(), frames.len());

    // The prediction: the labels, the table's answer, the flow table.
    let n = usize::from(NUM_NODES);
    let mut want = Counts {
        reasons: vec![0; DropReason::COUNT],
        node_rx: vec![0; n],
        passed: vec![0; n],
        filtered: vec![0; n],
        ..Counts::default()
    };
    let mut want_sent = Vec::new();
    // The keys each node's filter drops, one of which its sample names.
    let mut dropped: Vec<HashSet<K>> = vec![HashSet::new(); n];
    for (expect, f) in &frames {
        match expect {
            Err(r) => want.reasons[*r as usize] += 1,
            Ok(key) => {
                let node = usize::from(efd.lookup(&key.to_bytes()));
                if node >= n {
                    want.unknown_node += 1;
                } else if owner.get(key).map(|o| o.index()) == Some(node) {
                    want.node_rx[node] += 1;
                    want.passed[node] += 1;
                    want_sent.push(f.clone());
                } else {
                    want.node_rx[node] += 1;
                    want.filtered[node] += 1;
                    dropped[node].insert(*key);
                }
            }
        }
    }
    assert!(want.unknown_node > 0, "{kind}: some keys hit value 3");
    assert!(want.passed.iter().all(|&p| p > 0), "{kind}: {want:?}");
    assert!(want.filtered.iter().sum::<u64>() > 0, "{kind}");

    // The loops.
    let pool = LoopPool::new();
    let rx = LoopRx::new();
    let rings: Vec<LoopRing> = (0..n).map(|_| LoopRing::new(1 << 16)).collect();
    let stats = Arc::new(Stats::new(2, n, 1).with_key_text(crate::key::text_of_bytes::<K>));
    let stop = Arc::new(StopFlags::default());
    rx.feed(input.iter().map(|f| pool.packet(f, 0)).collect::<Vec<_>>());
    let mut d = Distributor::<Loopback, K, _>::new(
        vec![RxPort {
            index: PortIndex::new(0),
            queue: rx.clone(),
        }],
        rings.clone(),
        efd.reader(),
        stats.clone(),
        stop.clone(),
        Arc::new(DistributorSync::default()),
        32,
    )
    .start();
    while rx.pending() > 0 {
        d.poll();
    }
    d.finish();
    let port_index: Arc<[u8]> = (0..=255u8).collect::<Vec<_>>().into();
    let tx = [LoopTx::new(0), LoopTx::new(1)];
    let nodes = rings
        .iter()
        .enumerate()
        .map(|(i, ring)| Node::<Loopback, K> {
            id: NodeId::new(i as u16),
            ring: ring.clone(),
            flows: {
                let mut t = FlowTable::new(flow_match, 0);
                for f in flows.iter().filter(|f| f.node.index() == i) {
                    t.insert(f.key);
                }
                assert_eq!(t.kind(), flow_match);
                t
            },
            changes: node_channel().0,
            adopt: None,
            activity: None,
            tx_slot: i,
            port_index: port_index.clone(),
            stall: None,
        })
        .collect();
    let mut w = Worker {
        index: 0,
        nodes,
        tx: (0..n).map(|_| tx.to_vec()).collect(),
        stats: stats.clone(),
        stop,
        burst: 32,
    }
    .start();
    while w.poll() {}

    let s = &stats;
    let got = Counts {
        reasons: s.distributor.drop.iter().map(|c| c.get()).collect(),
        unknown_node: s.distributor.drop_unknown_node.get(),
        node_rx: s.nodes.iter().map(|c| c.rx.get()).collect(),
        passed: s.nodes.iter().map(|c| c.filter_passed.get()).collect(),
        filtered: s.nodes.iter().map(|c| c.filter_drop.get()).collect(),
    };
    assert_eq!(got, want, "{kind}");
    assert!(s.nodes.iter().all(|c| c.rx_drop.get() == 0));
    assert_eq!(s.ports[0].rx.get(), frames.len() as u64);
    // Port 0's traffic leaves on port 1: exactly the passed frames.
    let mut sent: Vec<Vec<u8>> = tx[1]
        .take_sent()
        .iter()
        .map(|p| super::io::Packet::data(p).to_vec())
        .collect();
    assert!(tx[0].take_sent().is_empty());
    sent.sort();
    want_sent.sort();
    assert!(sent == want_sent, "{kind}: the forwarded frames");
    assert_eq!(pool.live(), 0, "{kind}: every packet freed");
    // Each node's sampled dropped flow, in the kind's text form, is one
    // its filter dropped.
    for (i, node) in s.snapshot(&[]).nodes.iter().enumerate() {
        match &node.last_filter_drop {
            None => assert!(dropped[i].is_empty(), "{kind}: node {i} has no sample"),
            Some(text) => {
                let key = K::parse_text(text);
                assert!(
                    key.is_some_and(|k| dropped[i].contains(&k)),
                    "{kind}: node {i}'s sample {text:?} is not a flow it dropped"
                );
            }
        }
    }
}

/// Some of everything, over the seed population and beyond it.
fn mixed(key: KeyKind) -> TrafficSpec {
    TrafficSpec {
        key,
        packets: 4000,
        known_flows: NUM_FLOWS,
        table_flows: NUM_FLOWS,
        unknown_pct: 10.0,
        malformed_pct: 8.0,
        vlan_pct: 20.0,
        qinq_pct: 50.0,
        ext_pct: 20.0,
        fragment_pct: 10.0,
        seed: 11,
        ..TrafficSpec::default()
    }
}

macro_rules! kind_test {
    ($name:ident, $kind:expr) => {
        #[test]
        fn $name() {
            crate::with_key_kind!($kind, |K, N| run_kind::<K, N>($kind, &mixed($kind)));
        }
    };
}

kind_test!(ipv4_dst_through_the_loops, KeyKind::Ipv4Dst);
kind_test!(ipv4_src_dst_through_the_loops, KeyKind::Ipv4SrcDst);
kind_test!(ipv4_5tuple_through_the_loops, KeyKind::Ipv4FiveTuple);
kind_test!(ipv6_dst_through_the_loops, KeyKind::Ipv6Dst);
kind_test!(ipv6_5tuple_through_the_loops, KeyKind::Ipv6FiveTuple);
kind_test!(five_tuple_through_the_loops, KeyKind::FiveTuple);

/// The wide kinds with fingerprint node tables (`flow_match =
/// "fingerprint"`): the same counts, frame for frame, as the keys give.
#[test]
fn wide_kinds_with_fingerprint_tables() {
    for kind in KeyKind::ALL {
        if kind.key_len() < FlowMatch::FINGERPRINT_MIN_KEY {
            continue;
        }
        crate::with_key_kind!(kind, |K, N| run_kind_matching::<K, N>(
            kind,
            &mixed(kind),
            FlowMatch::Fingerprint
        ));
    }
}

/// Plain traffic (no tags, options, fragments or malformed frames) of the
/// wide kinds: the worker parses every frame again and passes exactly the
/// owned flows.
#[test]
fn plain_traffic_of_every_kind() {
    for kind in KeyKind::ALL {
        let spec = TrafficSpec {
            key: kind,
            packets: 2000,
            known_flows: NUM_FLOWS,
            table_flows: NUM_FLOWS,
            unknown_pct: 20.0,
            seed: 5,
            ..TrafficSpec::default()
        };
        crate::with_key_kind!(kind, |K, N| run_kind::<K, N>(kind, &spec));
    }
}

//! What a finite replay's final counters must be: predicted from its
//! frames with the project's parser and the EFD table the appliance builds
//! for the C sample's flow population, and checked against the final JSON.

use efd_lb::key::FlowKey;
use efd_lb::packet::DropReason;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

use super::u;

/// The expected per-reason and per-node counters of a replay, and the
/// frames the nodes pass (forwarded, in any order).
#[derive(Debug, Default, PartialEq)]
pub struct Expected {
    /// Distributor drops by reason name (every reason, 0 included).
    pub reasons: BTreeMap<&'static str, u64>,
    /// Keys whose EFD value is no node.
    pub unknown_node: u64,
    /// Per node: enqueued, passed, filtered.
    pub node_rx: Vec<u64>,
    pub passed: Vec<u64>,
    pub filtered: Vec<u64>,
    /// The frames the nodes pass.
    pub passed_frames: Vec<Vec<u8>>,
}

/// Predicts [`Expected`] for `frames` (parsed with the project's parser)
/// with `num_flows` flows of the C sample's population over `num_nodes`
/// nodes and `value_bits`-bit values.
pub fn predict<K: FlowKey<Bytes = [u8; N]>, const N: usize>(
    frames: &[Vec<u8>],
    num_flows: u32,
    num_nodes: u16,
    value_bits: u8,
) -> Expected {
    predict_labelled::<K, N>(
        frames.iter().map(|f| (K::parse_frame(f), f)),
        num_flows,
        num_nodes,
        value_bits,
    )
}

/// [`predict`] of frames each labelled with its key or drop reason (by
/// the traffic generator, say, rather than the parser under test).
pub fn predict_labelled<'a, K: FlowKey<Bytes = [u8; N]>, const N: usize>(
    frames: impl IntoIterator<Item = (Result<K, DropReason>, &'a Vec<u8>)>,
    num_flows: u32,
    num_nodes: u16,
    value_bits: u8,
) -> Expected {
    let flows: Vec<efd_lb::flows::Flow<K>> =
        efd_lb::flows::seed_population(num_flows, num_nodes).collect();
    let owner: HashMap<K, usize> = flows.iter().map(|f| (f.key, f.node.index())).collect();
    let efd = efd_lb::app::build_efd(&flows, value_bits).unwrap();
    let n = usize::from(num_nodes);
    let mut e = Expected {
        node_rx: vec![0; n],
        passed: vec![0; n],
        filtered: vec![0; n],
        ..Expected::default()
    };
    for r in DropReason::ALL {
        e.reasons.insert(r.name(), 0);
    }
    for (label, f) in frames {
        match label {
            Err(r) => *e.reasons.get_mut(r.name()).unwrap() += 1,
            Ok(key) => {
                let node = usize::from(efd.lookup(&key.to_bytes()));
                if node >= n {
                    e.unknown_node += 1;
                } else if owner.get(&key) == Some(&node) {
                    e.node_rx[node] += 1;
                    e.passed[node] += 1;
                    e.passed_frames.push(f.clone());
                } else {
                    e.node_rx[node] += 1;
                    e.filtered[node] += 1;
                }
            }
        }
    }
    e
}

/// Asserts the final stats `v` hold `exp`'s drops by reason, unknown-node
/// drops and every node's counters (no ring drop; everything passed is
/// sent). `what` names the case in messages.
pub fn assert_counts(v: &Value, exp: &Expected, what: &str) {
    for (name, want) in &exp.reasons {
        assert_eq!(
            u(&v["distributor"]["drop_by_reason"][name]),
            *want,
            "{what}: drop reason {name}"
        );
    }
    assert_eq!(
        u(&v["distributor"]["drop_unknown_node"]),
        exp.unknown_node,
        "{what}: unknown node"
    );
    for node in 0..exp.node_rx.len() {
        let c = &v["nodes"][node];
        assert_eq!(u(&c["rx"]), exp.node_rx[node], "{what}: node {node} rx");
        assert_eq!(u(&c["rx_drop"]), 0, "{what}: node {node} rx_drop");
        let passed = u(&c["filter_passed"]);
        assert_eq!(passed, exp.passed[node], "{what}: node {node} passed");
        let filtered = u(&c["filter_drop"]);
        assert_eq!(
            filtered, exp.filtered[node],
            "{what}: node {node} filter_drop"
        );
        assert_eq!(u(&c["tx"]), exp.passed[node], "{what}: node {node} tx");
    }
}

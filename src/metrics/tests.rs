//! The exposition is checked three ways: by `promtool check metrics` (parse
//! and lint), by a small parser here (structure, escaping) and against the
//! JSON of the same snapshot and status (every counter present, equal, and
//! nothing else).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::*;
use crate::control::status::{Op, OpStats};
use crate::stats::{self, HwPortStats, PortInfo, Stats, StatsFormat};

/// Sets every counter of `s` to a different power of two (2, 4, 8, ...),
/// so that the sums the snapshot takes (port tx over nodes, node tx over
/// ports) differ from each other and from every counter too.
fn fill_distinct(s: &Stats) {
    let mut k = 0u32;
    // Distinct 40-bit values: no counter, and no sum of counters, equals
    // another by chance.
    let mut next = |c: &stats::Counter| {
        k += 1;
        c.add(crate::rng::mix(u64::from(k)) >> 24);
    };
    for p in s.ports.iter() {
        next(&p.rx);
    }
    let d = &s.distributor;
    for c in [
        &d.distributed,
        &d.drop_unknown_node,
        &d.busy_cycles,
        &d.idle_polls,
        &d.packets,
    ] {
        next(c);
    }
    d.drop.iter().for_each(&mut next);
    for n in s.nodes.iter() {
        for c in [
            &n.rx,
            &n.rx_drop,
            &n.filter_passed,
            &n.filter_drop,
            &n.unknown_forwarded,
            &n.table_full,
        ] {
            next(c);
        }
        n.tx.iter().for_each(&mut next);
        n.tx_drop.iter().for_each(&mut next);
    }
    // The last worker stays idle (ratios with a zero denominator).
    for w in s.workers.iter().take(s.workers.len() - 1) {
        for c in [&w.busy_cycles, &w.packets, &w.bursts] {
            next(c);
        }
    }
}

fn hw(base: u64) -> HwPortStats {
    HwPortStats {
        ipackets: base + 1,
        opackets: base + 2,
        imissed: base + 3,
        ierrors: base + 4,
        oerrors: base + 5,
        rx_nombuf: base + 6,
    }
}

/// 3 ports (one without hardware counters, one whose name needs escaping),
/// 4 nodes, 3 workers (one idle), every counter different.
fn busy_snapshot() -> Snapshot {
    let s = Stats::new(3, 4, 3);
    fill_distinct(&s);
    let info = [
        PortInfo {
            id: 0,
            name: "net_pcap0".into(),
            mac: "02:00:00:00:00:01".into(),
            hw: Some(hw(900_000)),
        },
        PortInfo {
            id: 5,
            name: r#"tap "eth\1""#.into(),
            mac: "02:00:00:00:00:05".into(),
            hw: Some(hw(800_000)),
        },
        PortInfo {
            id: 7,
            name: "net_null0".into(),
            mac: String::new(),
            hw: None,
        },
    ];
    let mut snap = s.snapshot(&info);
    snap.unix_ms = 1_795_770_284_123;
    snap
}

/// 4 nodes in every state, every operation listed, some recorded (ok and
/// failed, latencies in several buckets and beyond the last).
fn busy_status() -> ControlStatus {
    let node = |id, state, weight, flows| NodeStatus {
        id,
        state,
        weight,
        flows,
    };
    let mut ops: Vec<(String, OpStats)> = Op::ALL
        .iter()
        .map(|o| (o.name().to_string(), OpStats::default()))
        .collect();
    let mut rec = |op: Op, seconds: f64, flows: u64, ok: bool| {
        let i = Op::ALL.iter().position(|&o| o == op).unwrap();
        ops[i].1.record(seconds, flows, ok);
    };
    rec(Op::Drain, 0.25, 500_000, true);
    rec(Op::Drain, 1.5, 499_999, true);
    rec(Op::Drain, 7.0, 0, false);
    rec(Op::Add, 0.00004, 1, true);
    rec(Op::Add, 0.0003, 0, false);
    rec(Op::Bulk, 0.04, 10_000, true);
    rec(Op::Adopt, 0.002, 17, true);
    rec(Op::Weight, 0.6, 123_456, true);
    ControlStatus {
        key_kind: "ipv4_dst".into(),
        nodes: vec![
            node(0, NodeState::Active, 3, 600_001),
            node(1, NodeState::Active, 1, 200_003),
            node(2, NodeState::Draining, 2, 5),
            node(3, NodeState::Out, 0, 0),
        ],
        flows: 800_009,
        capacity: 1_048_576,
        efd_bytes: 4_194_304,
        efd_deep_flows: 2_718,
        unknown_flows: "assign".into(),
        flow_match: "fingerprint".into(),
        adopted: 17,
        expired: 4,
        table_full: 2,
        ops,
    }
}

// ---------------------------------------------------------------- parsing

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    /// The value as written.
    value: String,
}

/// A parsed exposition.
#[derive(Debug, Default)]
struct Exposition {
    help: BTreeMap<String, String>,
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Exposition {
    /// The samples named `name` whose labels are exactly `labels`.
    fn find(&self, name: &str, labels: &BTreeMap<String, String>) -> Vec<usize> {
        (0..self.samples.len())
            .filter(|&i| self.samples[i].name == name && &self.samples[i].labels == labels)
            .collect()
    }
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut cs = s.chars();
    let first = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
    cs.next().is_some_and(first) && cs.all(|c| first(c) || c.is_ascii_digit())
}

/// Label pairs `k="v",...}` after the `{`; returns them and the rest of the
/// line after the `}`.
fn parse_labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = s.find('=').ok_or("label without =")?;
        let key = &s[..eq];
        if !is_name(key, false) {
            return Err(format!("bad label name {key:?}"));
        }
        let mut chars = s[eq + 1..].char_indices();
        if chars.next().map(|c| c.1) != Some('"') {
            return Err(format!("label {key}: value not quoted"));
        }
        let mut value = String::new();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling backslash")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    c => return Err(format!("bad escape \\{c}")),
                },
                (_, '\n') => return Err("raw line feed in a label value".into()),
                (_, c) => value.push(c),
            }
        };
        if labels.insert(key.to_string(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
        s = &s[eq + 1 + end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// Parses `text` and checks the format's rules: HELP and TYPE before a
/// family's samples, each family in one block, sample names matching their
/// family's type, no duplicate series, numeric values, a final line feed.
fn parse(text: &str) -> Exposition {
    assert!(text.ends_with('\n'), "no final line feed");
    let mut e = Exposition::default();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut series = BTreeSet::new();
    let mut enter = |family: &str, current: &mut Option<String>| {
        if current.as_deref() != Some(family) {
            if let Some(c) = current.take() {
                done.insert(c);
            }
            assert!(
                !done.contains(family),
                "family {family} split in two blocks"
            );
            *current = Some(family.to_string());
        }
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP without text");
            enter(name, &mut current);
            assert!(!help.is_empty(), "{name}: empty help");
            assert!(
                e.help.insert(name.into(), help.into()).is_none(),
                "{name}: HELP twice"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE without type");
            enter(name, &mut current);
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                e.types.insert(name.into(), kind.into()).is_none(),
                "{name}: TYPE twice"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "unexpected line {line:?}"
        );
        let name_end = line.find(['{', ' ']).expect("sample without value");
        let name = &line[..name_end];
        assert!(is_name(name, true), "bad metric name {name:?}");
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end + 1..]).unwrap_or_else(|err| panic!("{line:?}: {err}"))
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let value = rest.strip_prefix(' ').expect("no space before the value");
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "{line:?}: bad value"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|s| name.strip_suffix(s))
            .find(|f| e.types.get(*f).map(String::as_str) == Some("histogram"))
            .unwrap_or(name);
        assert_eq!(
            current.as_deref(),
            Some(family),
            "{line:?} outside its family"
        );
        assert!(e.help.contains_key(family), "{family}: no HELP");
        let kind = e
            .types
            .get(family)
            .unwrap_or_else(|| panic!("{family}: no TYPE"));
        assert_eq!(
            kind == "counter",
            family.ends_with("_total"),
            "{family}: {kind}"
        );
        assert_eq!(
            labels.contains_key("le"),
            name.ends_with("_bucket"),
            "{line}"
        );
        assert!(
            series.insert((name.to_string(), labels.clone())),
            "duplicate series {line}"
        );
        e.samples.push(Sample {
            name: name.into(),
            labels,
            value: value.into(),
        });
    }
    e
}

// ---------------------------------------------------------------- promtool

/// Pipes `text` to `promtool check metrics`. `false` (after saying why) if
/// promtool is not installed, unless `CI` is set: then it fails.
fn promtool_check(text: &str) -> bool {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is not installed and CI is set (apt-get install prometheus)"
            );
            println!("skipped: promtool is not installed (apt-get install prometheus)");
            return false;
        }
        Err(e) => panic!("promtool: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics ({}):\n{report}\non:\n{text}",
        out.status
    );
    true
}

#[test]
fn promtool_accepts_a_busy_exposition() {
    let text = render(&busy_snapshot(), &busy_status());
    promtool_check(&text);
    parse(&text);
}

#[test]
fn promtool_accepts_an_empty_exposition() {
    let s = Stats::new(0, 0, 0);
    let text = render(&s.snapshot(&[]), &ControlStatus::default());
    let e = parse(&text);
    assert!(!e.types.contains_key("efd_lb_port_info"));
    assert!(!e.types.contains_key("efd_lb_node_state"));
    assert!(!e.types.contains_key("efd_lb_control_operations_total"));
    promtool_check(&text);
}

// ---------------------------------------------------------------- text = JSON

/// What a JSON leaf is in the exposition.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The sample of this family with the leaf's labels plus these.
    Sample(&'static str, &'static [(&'static str, &'static str)]),
    /// A label of this (info) family's sample with the leaf's labels.
    Label(&'static str, &'static str),
    /// One-hot: this family has the leaf's labels plus `label` = every
    /// possible value, 1 for the leaf's value and 0 for the others.
    OneHot(&'static str, &'static str),
    /// The sum of this family's samples.
    Sum(&'static str),
    /// A ratio the exposition leaves to queries: numerator / denominator
    /// family (0 when the denominator is 0).
    Ratio(&'static str, &'static str),
    /// `null` hardware counters: no sample of a `port_hw` family for the
    /// leaf's port.
    NoHw,
    /// Not a metric (with why).
    Skip(&'static str),
}

use Expect::*;

/// Every leaf of `render(StatsFormat::Json, ...)`'s line. Paths: `[]` is an
/// array element, `*` a map key (which becomes a label).
#[rustfmt::skip]
const SNAPSHOT_JSON: &[(&str, Expect)] = &[
    ("final", Skip("output flag")),
    ("timestamp", Skip("time of the snapshot")),
    ("unix_ms", Skip("time of the snapshot")),
    ("mono_ns", Skip("time of the snapshot")),
    ("rates", Skip("null without a previous snapshot; rates are PromQL's")),
    ("ports[].id", Skip("the port label")),
    ("ports[].name", Label("efd_lb_port_info", "name")),
    ("ports[].mac", Label("efd_lb_port_info", "mac")),
    ("ports[].rx", Sample("efd_lb_port_receive_packets_total", &[])),
    ("ports[].tx", Sample("efd_lb_port_transmit_packets_total", &[])),
    ("ports[].tx_drop", Sample("efd_lb_port_transmit_dropped_packets_total", &[])),
    ("ports[].hw", NoHw),
    ("ports[].hw.ipackets", Sample("efd_lb_port_hw_receive_packets_total", &[])),
    ("ports[].hw.opackets", Sample("efd_lb_port_hw_transmit_packets_total", &[])),
    ("ports[].hw.imissed", Sample("efd_lb_port_hw_receive_missed_packets_total", &[])),
    ("ports[].hw.ierrors", Sample("efd_lb_port_hw_receive_errors_total", &[])),
    ("ports[].hw.oerrors", Sample("efd_lb_port_hw_transmit_errors_total", &[])),
    ("ports[].hw.rx_nombuf", Sample("efd_lb_port_hw_receive_mbuf_allocation_failures_total", &[])),
    ("distributor.distributed", Sample("efd_lb_distributor_distributed_packets_total", &[])),
    ("distributor.drop", Sum("efd_lb_distributor_dropped_packets_total")),
    ("distributor.drop_unknown_node", Sample("efd_lb_distributor_dropped_packets_total", &[("reason", "unknown_node")])),
    ("distributor.drop_by_reason.*", Sample("efd_lb_distributor_dropped_packets_total", &[])),
    ("distributor.busy_cycles", Sample("efd_lb_distributor_busy_cycles_total", &[])),
    ("distributor.idle_polls", Sample("efd_lb_distributor_idle_polls_total", &[])),
    ("distributor.packets", Sample("efd_lb_distributor_processed_packets_total", &[])),
    ("distributor.cycles_per_packet", Ratio("efd_lb_distributor_busy_cycles_total", "efd_lb_distributor_processed_packets_total")),
    ("nodes[].rx", Sample("efd_lb_node_receive_packets_total", &[])),
    ("nodes[].rx_drop", Sample("efd_lb_node_receive_dropped_packets_total", &[])),
    ("nodes[].tx", Sample("efd_lb_node_transmit_packets_total", &[])),
    ("nodes[].tx_drop", Sample("efd_lb_node_transmit_dropped_packets_total", &[])),
    ("nodes[].filter_passed", Sample("efd_lb_node_filter_passed_packets_total", &[])),
    ("nodes[].filter_drop", Sample("efd_lb_node_filter_dropped_packets_total", &[])),
    ("nodes[].unknown_forwarded", Sample("efd_lb_node_unknown_forwarded_packets_total", &[])),
    ("nodes[].table_full", Sample("efd_lb_node_table_full_dropped_packets_total", &[])),
    ("nodes[].last_filter_drop", Skip("a flow key's text: a label of unbounded values")),
    ("workers[].busy_cycles", Sample("efd_lb_worker_busy_cycles_total", &[])),
    ("workers[].packets", Sample("efd_lb_worker_processed_packets_total", &[])),
    ("workers[].bursts", Sample("efd_lb_worker_bursts_total", &[])),
    ("workers[].cycles_per_packet", Ratio("efd_lb_worker_busy_cycles_total", "efd_lb_worker_processed_packets_total")),
    ("workers[].packets_per_burst", Ratio("efd_lb_worker_processed_packets_total", "efd_lb_worker_bursts_total")),
];

/// Every leaf of the [`ControlStatus`] serialized with serde.
#[rustfmt::skip]
const STATUS_JSON: &[(&str, Expect)] = &[
    ("key_kind", Label("efd_lb_control_info", "key_kind")),
    ("unknown_flows", Label("efd_lb_control_info", "unknown_flows")),
    ("flow_match", Label("efd_lb_control_info", "flow_match")),
    ("nodes[].id", Skip("the node label")),
    ("nodes[].state", OneHot("efd_lb_node_state", "state")),
    ("nodes[].weight", Sample("efd_lb_node_weight", &[])),
    ("nodes[].flows", Sample("efd_lb_node_flows", &[])),
    ("flows", Sample("efd_lb_table_flows", &[])),
    ("capacity", Sample("efd_lb_table_capacity_flows", &[])),
    ("efd_bytes", Sample("efd_lb_table_efd_bytes", &[])),
    ("efd_deep_flows", Sample("efd_lb_table_efd_deep_flows", &[])),
    ("adopted", Sample("efd_lb_adopted_flows_total", &[])),
    ("expired", Sample("efd_lb_expired_flows_total", &[])),
    ("table_full", Sample("efd_lb_adoption_table_full_total", &[])),
    ("ops[].ok", Sample("efd_lb_control_operations_total", &[("result", "ok")])),
    ("ops[].failed", Sample("efd_lb_control_operations_total", &[("result", "failed")])),
    ("ops[].buckets[]", Sample("efd_lb_control_operation_duration_seconds_bucket", &[])),
    ("ops[].sum_s", Sample("efd_lb_control_operation_duration_seconds_sum", &[])),
    ("ops[].flows", Sample("efd_lb_control_changed_flows_total", &[])),
];

/// A JSON leaf: its path pattern, the labels its arrays and maps give it,
/// its value.
#[derive(Debug)]
struct Leaf {
    path: String,
    labels: BTreeMap<String, String>,
    value: Value,
}

/// The leaves of `v`. Array elements are labelled: `ports` by their `id`
/// (`port`), `nodes` by their `id` or index (`node`), `workers` by index
/// (`worker`), `ops` (`[name, stats]` pairs) by name (`op`), `buckets` by
/// bound (`le`); map keys under `drop_by_reason` become `reason`.
fn leaves(v: &Value, path: &str, labels: &BTreeMap<String, String>, out: &mut Vec<Leaf>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(m) if path.ends_with("drop_by_reason") => {
            for (k, x) in m {
                let mut l = labels.clone();
                l.insert("reason".into(), k.clone());
                leaves(x, &join("*"), &l, out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                leaves(x, &join(k), labels, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut l = labels.clone();
                let (key, value, x) = match path {
                    "ports" => ("port", x["id"].to_string(), x),
                    "nodes" if x.get("id").is_some() => ("node", x["id"].to_string(), x),
                    "nodes" => ("node", i.to_string(), x),
                    "workers" => ("worker", i.to_string(), x),
                    "ops" => ("op", x[0].as_str().unwrap().to_string(), &x[1]),
                    "ops[].buckets" => ("le", float(LATENCY_BUCKETS_S[i]), x),
                    _ => panic!("array {path} has no label"),
                };
                l.insert(key.into(), value);
                leaves(x, &format!("{path}[]"), &l, out);
            }
        }
        _ => out.push(Leaf {
            path: path.to_string(),
            labels: labels.clone(),
            value: v.clone(),
        }),
    }
}

fn labels_plus(l: &BTreeMap<String, String>, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut l = l.clone();
    l.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    l
}

/// The one sample `name{labels}`.
fn one(e: &Exposition, name: &str, labels: &BTreeMap<String, String>) -> usize {
    match e.find(name, labels)[..] {
        [i] => i,
        ref v => panic!("{} samples {name}{labels:?}", v.len()),
    }
}

/// Equal floats, but for serde_json's parser (without its `float_roundtrip`
/// feature it may be one unit in the last place off).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs())
}

/// Marks sample `i` as accounted for, once.
fn take(used: &mut BTreeSet<usize>, e: &Exposition, i: usize) {
    assert!(used.insert(i), "{:?} matched twice", e.samples[i]);
}

/// Checks every leaf of `json` against `e` following `map`: every leaf must
/// have a row and every row a leaf. Adds the samples accounted for to
/// `used` and the integer values compared to `compared`.
fn check_json(
    e: &Exposition,
    json: &Value,
    map: &[(&str, Expect)],
    used: &mut BTreeSet<usize>,
    compared: &mut Vec<u64>,
) {
    let mut ls = Vec::new();
    leaves(json, "", &BTreeMap::new(), &mut ls);
    let mut unseen: BTreeSet<&str> = map.iter().map(|m| m.0).collect();
    for leaf in &ls {
        let expect = map
            .iter()
            .find(|m| m.0 == leaf.path)
            .unwrap_or_else(|| panic!("JSON field {} has no metric", leaf.path))
            .1;
        unseen.remove(leaf.path.as_str());
        let value = |i: usize| e.samples[i].value.as_str();
        match expect {
            Sample(name, extra) => {
                let i = one(e, name, &labels_plus(&leaf.labels, extra));
                take(used, e, i);
                if let Some(n) = leaf.value.as_u64() {
                    assert_eq!(
                        value(i).parse::<u64>().ok(),
                        Some(n),
                        "{} vs {name}",
                        leaf.path
                    );
                    compared.push(n);
                } else {
                    let f = leaf.value.as_f64().unwrap();
                    let got: f64 = value(i).parse().unwrap();
                    assert!(close(got, f), "{}: {f} vs {name} {got}", leaf.path);
                }
            }
            Label(name, label) => {
                let hits: Vec<usize> = (0..e.samples.len())
                    .filter(|&i| {
                        let s = &e.samples[i];
                        s.name == name
                            && leaf.labels.iter().all(|(k, v)| s.labels.get(k) == Some(v))
                    })
                    .collect();
                assert_eq!(hits.len(), 1, "{} vs {name}", leaf.path);
                let s = &e.samples[hits[0]];
                assert_eq!(
                    s.labels.get(label).map(String::as_str),
                    leaf.value.as_str(),
                    "{}",
                    leaf.path
                );
                assert_eq!(s.value, "1");
                used.insert(hits[0]);
            }
            OneHot(name, label) => {
                let want = leaf.value.as_str().unwrap();
                let mut hot = 0;
                for s in NodeState::ALL {
                    let i = one(e, name, &labels_plus(&leaf.labels, &[(label, s.name())]));
                    take(used, e, i);
                    let expected = if s.name() == want { "1" } else { "0" };
                    assert_eq!(value(i), expected, "{} {}", leaf.path, s.name());
                    hot += usize::from(expected == "1");
                }
                assert_eq!(hot, 1, "{}: {want} is not a state", leaf.path);
            }
            Sum(name) => {
                let sum: u64 = e
                    .samples
                    .iter()
                    .filter(|s| s.name == name)
                    .map(|s| s.value.parse::<u64>().unwrap())
                    .sum();
                assert_eq!(Some(sum), leaf.value.as_u64(), "{}", leaf.path);
            }
            Ratio(num, den) => {
                let num: f64 = value(one(e, num, &leaf.labels)).parse().unwrap();
                let den: f64 = value(one(e, den, &leaf.labels)).parse().unwrap();
                let want = if den == 0.0 { 0.0 } else { num / den };
                let got = leaf.value.as_f64().unwrap();
                assert!(close(got, want), "{}: {got} vs {want}", leaf.path);
            }
            NoHw => {
                assert!(leaf.value.is_null(), "{}", leaf.path);
                let port = &leaf.labels["port"];
                assert!(
                    !e.samples
                        .iter()
                        .any(|s| s.name.starts_with("efd_lb_port_hw_")
                            && s.labels.get("port") == Some(port)),
                    "hw samples for port {port}"
                );
            }
            Skip(why) => assert!(!why.is_empty()),
        }
    }
    // `ports[].hw` is only a leaf when null; every other row must be met.
    unseen.remove("ports[].hw");
    assert!(unseen.is_empty(), "mapped but not in the JSON: {unseen:?}");
}

#[test]
fn every_counter_equals_the_json() {
    let snap = busy_snapshot();
    let status = busy_status();
    let e = parse(&render(&snap, &status));

    let mut line = Vec::new();
    stats::render(StatsFormat::Json, &snap, None, &mut line).unwrap();
    let json: Value = serde_json::from_slice(&line).unwrap();
    let status_json = serde_json::to_value(&status).unwrap();

    let mut used = BTreeSet::new();
    let mut compared = Vec::new();
    check_json(&e, &json, SNAPSHOT_JSON, &mut used, &mut compared);
    let data_path = compared.len();
    check_json(&e, &status_json, STATUS_JSON, &mut used, &mut compared);

    // Derived samples: the +Inf bucket and _count are ok + failed.
    for (op, s) in &status.ops {
        for name in [
            "efd_lb_control_operation_duration_seconds_bucket",
            "efd_lb_control_operation_duration_seconds_count",
        ] {
            let mut l = BTreeMap::from([("op".to_string(), op.clone())]);
            if name.ends_with("_bucket") {
                l.insert("le".into(), "+Inf".into());
            }
            let i = one(&e, name, &l);
            assert_eq!(e.samples[i].value, (s.ok + s.failed).to_string());
            assert!(used.insert(i));
        }
    }

    // Nothing in the exposition that the JSON does not have.
    let extra: Vec<_> = (0..e.samples.len())
        .filter(|i| !used.contains(i))
        .map(|i| &e.samples[i])
        .collect();
    assert!(extra.is_empty(), "samples without a JSON value: {extra:#?}");

    // The fixture gives every data-path counter its own value, so a metric
    // reading the wrong field cannot pass by chance.
    let distinct: BTreeSet<_> = compared[..data_path].iter().filter(|&&n| n != 0).collect();
    let nonzero = compared[..data_path].iter().filter(|&&n| n != 0).count();
    assert_eq!(distinct.len(), nonzero, "fixture counters collide");
    // 3 ports x 3 + 2 ports x 6 hw + 4 distributor + 9 drops (unknown node
    // and 8 reasons) + 4 nodes x 8 + 3 workers x 3.
    assert_eq!(data_path, 9 + 12 + 4 + 9 + 32 + 9);
}

// ---------------------------------------------------------------- escaping

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape_label_value(r#"a"b\c"#), r#"a\"b\\c"#);
    assert_eq!(escape_label_value("x\ny"), r"x\ny");
    assert_eq!(escape_label_value(r"\n"), r"\\n");
    assert_eq!(escape_label_value("plain é"), "plain é");
    assert_eq!(escape_help("a\\b\nc \"q\""), "a\\\\b\\nc \"q\"");

    let name = "weird \"port\" \\ name\nline2 \\\"";
    let s = Stats::new(1, 0, 0);
    let snap = s.snapshot(&[PortInfo {
        id: 9,
        name: name.into(),
        mac: "aa:bb".into(),
        hw: None,
    }]);
    let status = ControlStatus {
        key_kind: "k\"\\".into(),
        ..Default::default()
    };
    let text = render(&snap, &status);
    assert!(
        text.contains(
            r#"efd_lb_port_info{port="9",name="weird \"port\" \\ name\nline2 \\\"",mac="aa:bb"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"efd_lb_control_info{key_kind="k\"\\",unknown_flows="",flow_match=""} 1"#),
        "{text}"
    );
    // Every line is one sample or comment: the line feed stayed escaped.
    assert!(!text.lines().any(|l| l.starts_with("line2")));
    let e = parse(&text);
    let info = &e.samples[one(
        &e,
        "efd_lb_port_info",
        &BTreeMap::from([
            ("port".to_string(), "9".to_string()),
            ("name".to_string(), name.to_string()),
            ("mac".to_string(), "aa:bb".to_string()),
        ]),
    )];
    assert_eq!(info.labels["name"], name);
    promtool_check(&text);
}

// ---------------------------------------------------------------- details

#[test]
fn histogram_buckets_are_cumulative_and_end_at_the_count() {
    let e = parse(&render(&busy_snapshot(), &busy_status()));
    let drain = |le: &str| {
        let l = BTreeMap::from([
            ("op".to_string(), "drain".to_string()),
            ("le".to_string(), le.to_string()),
        ]);
        e.samples[one(&e, "efd_lb_control_operation_duration_seconds_bucket", &l)]
            .value
            .parse::<u64>()
            .unwrap()
    };
    // 0.25 s, 1.5 s and 7 s.
    assert_eq!(drain("0.1"), 0);
    assert_eq!(drain("0.5"), 1);
    assert_eq!(drain("1"), 1);
    assert_eq!(drain("5"), 2);
    assert_eq!(drain("+Inf"), 3);
    let les: Vec<String> = LATENCY_BUCKETS_S.iter().map(|&b| float(b)).collect();
    assert_eq!(les[0], "0.0001");
    let mut prev = 0;
    for le in les.iter().map(String::as_str).chain(["+Inf"]) {
        assert!(drain(le) >= prev);
        prev = drain(le);
    }
}

#[test]
fn floats_use_the_format_spelling() {
    assert_eq!(float(f64::INFINITY), "+Inf");
    assert_eq!(float(f64::NEG_INFINITY), "-Inf");
    assert_eq!(float(f64::NAN), "NaN");
    assert_eq!(float(0.1 + 0.2), "0.30000000000000004");
    assert_eq!(float(1e-7), "0.0000001");
    assert_eq!(float(5.0), "5");
}

#[test]
fn names_follow_the_conventions() {
    let e = parse(&render(&busy_snapshot(), &busy_status()));
    for (name, kind) in &e.types {
        assert!(name.starts_with(PREFIX), "{name}");
        assert!(is_name(name, false), "{name}");
        assert_eq!(kind == "counter", name.ends_with("_total"), "{name}");
    }
    let label_names: BTreeSet<&str> = e
        .samples
        .iter()
        .flat_map(|s| s.labels.keys().map(String::as_str))
        .collect();
    let allowed = [
        "port",
        "name",
        "mac",
        "node",
        "worker",
        "reason",
        "state",
        "op",
        "result",
        "le",
        "key_kind",
        "unknown_flows",
        "flow_match",
    ];
    for l in label_names {
        assert!(allowed.contains(&l), "label {l}");
    }
    assert_eq!(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
}

//! Snapshot tests: the format, every refusal, a million flows through a
//! restart, a writer killed mid-write and injected write errors.

use super::*;
use crate::app::build_efd;
use crate::key::Ipv4Dst;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh directory, removed with everything in it when dropped.
struct TestDir(PathBuf);

impl TestDir {
    fn new(tag: &str) -> TestDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "efd-lb-snapshot-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TestDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn key(addr: u32) -> Ipv4Dst {
    Ipv4Dst::from_u32(addr)
}

fn flow(addr: u32, node: u16) -> Flow<Ipv4Dst> {
    Flow {
        key: key(addr),
        node: NodeId::new(node),
    }
}

fn pairs(flows: &[Flow<Ipv4Dst>]) -> impl Iterator<Item = (Ipv4Dst, NodeId)> + '_ {
    flows.iter().map(|f| (f.key, f.node))
}

/// `n` distinct, scattered keys on nodes `i % nodes`.
fn many(n: u32, nodes: u16, salt: u32) -> Vec<Flow<Ipv4Dst>> {
    (0..n)
        .map(|i| {
            flow(
                i.wrapping_mul(0x9e37_79b1) ^ salt,
                (i % u32::from(nodes)) as u16,
            )
        })
        .collect()
}

const NODES: [(NodeState, u32); 4] = [
    (NodeState::Active, 1),
    (NodeState::Draining, 7),
    (NodeState::Out, 0),
    (NodeState::Active, u32::MAX),
];

/// Snapshot A of the kill and fault tests: a few thousand flows.
fn snapshot_a() -> Snapshot<Ipv4Dst> {
    Snapshot {
        nodes: NODES.to_vec(),
        flows: many(5000, 4, 0xa),
    }
}

fn write_snapshot(path: &Path, s: &Snapshot<Ipv4Dst>) -> SnapshotInfo {
    write(path, &s.nodes, pairs(&s.flows)).unwrap()
}

// ------------------------------------------------------------ round trip

#[test]
fn round_trip_keeps_states_weights_and_flows() {
    let dir = TestDir::new("round-trip");
    let path = dir.join("flows.snap");
    let s = Snapshot {
        nodes: NODES.to_vec(),
        flows: vec![
            flow(0x0a00_0001, 3),
            flow(0, 0),
            flow(u32::MAX, 1),
            flow(0xc0a8_0102, 2),
            flow(0x0a00_0002, 3),
        ],
    };
    let info = write_snapshot(&path, &s);
    assert_eq!(info.path, path);
    assert_eq!(info.flows, 5);
    assert_eq!(info.bytes, fs::metadata(&path).unwrap().len());
    assert_eq!(load::<Ipv4Dst>(&path, 4).unwrap(), s);
    assert_eq!(dir.names(), ["flows.snap"]);

    // Written again over itself, the same.
    let info2 = write_snapshot(&path, &s);
    assert_eq!(info2, info);
    assert_eq!(load::<Ipv4Dst>(&path, 4).unwrap(), s);
}

#[test]
fn the_format_is_as_documented() {
    assert_eq!(HEADER, format!("{MAGIC}{VERSION}"));
    let dir = TestDir::new("format");
    let path = dir.join("s");
    let nodes = [(NodeState::Active, 1), (NodeState::Out, 3)];
    write(
        &path,
        &nodes,
        [(key(0x0a00_0001), NodeId::new(1))].into_iter(),
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "# efd-lb snapshot v1\n\
         key_kind ipv4_dst\n\
         nodes 2\n\
         node 0 active 1\n\
         node 1 out 3\n\
         # flows: key,node\n\
         10.0.0.1,1\n\
         end 1\n"
    );
}

#[test]
fn no_flows_round_trip() {
    let dir = TestDir::new("empty");
    let path = dir.join("s");
    let info = write(&path, &NODES, std::iter::empty::<(Ipv4Dst, NodeId)>()).unwrap();
    assert_eq!(info.flows, 0);
    let s = load::<Ipv4Dst>(&path, 4).unwrap();
    assert_eq!(s.nodes, NODES);
    assert!(s.flows.is_empty());
}

#[test]
fn flow_lines_are_a_flow_file_and_comments_are_ignored() {
    let dir = TestDir::new("grep");
    let path = dir.join("s");
    let a = snapshot_a();
    write_snapshot(&path, &a);
    let text = fs::read_to_string(&path).unwrap();
    // `grep , FILE` is a flow file with the same flows.
    let grepped: String = text
        .lines()
        .filter(|l| l.contains(','))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        flows::parse_flows::<Ipv4Dst>(&grepped, Path::new("grep"), 4).unwrap(),
        a.flows
    );
    // Annotated by hand: blank lines and comments anywhere before the end.
    let annotated = text
        .replace("nodes 4\n", "\n# four nodes\nnodes 4 # yes, four\n\n")
        .replace("node 2 out 0\n", "node 2 out 0   # taken out\n")
        .replace("end ", "# the end\n\nend ");
    fs::write(&path, annotated).unwrap();
    assert_eq!(load::<Ipv4Dst>(&path, 4).unwrap(), a);
}

// ------------------------------------------------------------- refusals

/// A small valid snapshot of 2 nodes, 3 flows.
const GOOD: &str = "# efd-lb snapshot v1\n\
                    key_kind ipv4_dst\n\
                    nodes 2\n\
                    node 0 active 1\n\
                    node 1 draining 2\n\
                    10.0.0.1,0\n\
                    10.0.0.2,1\n\
                    10.0.0.3,1\n\
                    end 3\n";

/// Loads `bytes` as the snapshot `s` of a 2-node appliance; the error
/// with the file's path shown as `s`.
fn refusal(bytes: &[u8]) -> String {
    let dir = TestDir::new("refusal");
    let path = dir.join("s");
    fs::write(&path, bytes).unwrap();
    let e = load::<Ipv4Dst>(&path, 2).unwrap_err().to_string();
    assert!(!e.contains('\n'), "{e}");
    let shown = e
        .strip_prefix(&*path.to_string_lossy())
        .unwrap_or_else(|| panic!("{e:?} does not name {path:?}"));
    format!("s{shown}")
}

/// [`GOOD`] with `from` replaced by `to` (which must occur).
fn good_with(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from:?}");
    GOOD.replacen(from, to, 1)
}

#[test]
fn the_good_one_loads() {
    let dir = TestDir::new("good");
    let path = dir.join("s");
    fs::write(&path, GOOD).unwrap();
    let s = load::<Ipv4Dst>(&path, 2).unwrap();
    assert_eq!(s.nodes, [(NodeState::Active, 1), (NodeState::Draining, 2)]);
    assert_eq!(
        s.flows,
        [
            flow(0x0a00_0001, 0),
            flow(0x0a00_0002, 1),
            flow(0x0a00_0003, 1)
        ]
    );
}

#[test]
fn refuses_a_missing_file() {
    let dir = TestDir::new("missing");
    let path = dir.join("nope");
    assert_eq!(
        load::<Ipv4Dst>(&path, 2).unwrap_err().to_string(),
        format!("{}: reading: No such file or directory", path.display())
    );
}

#[test]
fn refuses_a_missing_or_unknown_header() {
    assert_eq!(
        refusal(b""),
        "s:1: not an efd-lb snapshot (expected \"# efd-lb snapshot v1\", got \"\")"
    );
    assert_eq!(
        refusal(b"10.0.0.1,0\nend 1\n"),
        "s:1: not an efd-lb snapshot (expected \"# efd-lb snapshot v1\", got \"10.0.0.1,0\")"
    );
    assert_eq!(
        refusal(good_with("# efd-lb snapshot v1\n", "key_kind ipv4_dst\n").as_bytes()),
        "s:1: not an efd-lb snapshot (expected \"# efd-lb snapshot v1\", got \"key_kind ipv4_dst\")"
    );
    assert_eq!(
        refusal(good_with("# efd-lb snapshot v1", "# efd-lb snapshot").as_bytes()),
        "s:1: not an efd-lb snapshot (expected \"# efd-lb snapshot v1\", got \"# efd-lb snapshot\")"
    );
}

#[test]
fn refuses_another_version() {
    assert_eq!(
        refusal(good_with("v1", "v2").as_bytes()),
        "s:1: snapshot version v2 not supported (this build reads v1)"
    );
    assert_eq!(
        refusal(good_with("v1", "v10").as_bytes()),
        "s:1: snapshot version v10 not supported (this build reads v1)"
    );
}

#[test]
fn refuses_another_key_kind() {
    assert_eq!(
        refusal(good_with("ipv4_dst", "ipv6_dst").as_bytes()),
        "s:2: snapshot of ipv6_dst keys, expected ipv4_dst"
    );
    assert_eq!(
        refusal(good_with("key_kind ipv4_dst\n", "").as_bytes()),
        "s:2: expected \"key_kind <kind>\", got \"nodes 2\""
    );
    assert_eq!(
        refusal(good_with("key_kind ipv4_dst", "key_kind").as_bytes()),
        "s:2: expected \"key_kind <kind>\", got \"key_kind\""
    );
}

#[test]
fn refuses_another_node_count() {
    assert_eq!(
        refusal(good_with("nodes 2", "nodes 3").as_bytes()),
        "s:3: snapshot of 3 nodes, expected 2"
    );
    assert_eq!(
        refusal(good_with("nodes 2", "nodes 99999999999").as_bytes()),
        "s:3: snapshot of 99999999999 nodes, expected 2"
    );
    assert_eq!(
        refusal(good_with("nodes 2", "nodes two").as_bytes()),
        "s:3: expected \"nodes <count>\", got \"nodes two\""
    );
    assert_eq!(
        refusal(good_with("nodes 2\n", "").as_bytes()),
        "s:3: expected \"nodes <count>\", got \"node 0 active 1\""
    );
}

#[test]
fn refuses_bad_node_lines() {
    assert_eq!(
        refusal(good_with("draining", "sleeping").as_bytes()),
        "s:5: bad node line \"node 1 sleeping 2\": unknown state \"sleeping\" (active, draining, out)"
    );
    assert_eq!(
        refusal(good_with("draining 2", "draining -2").as_bytes()),
        "s:5: bad node line \"node 1 draining -2\": bad weight \"-2\""
    );
    assert_eq!(
        refusal(good_with("draining 2", "draining 4294967296").as_bytes()),
        "s:5: bad node line \"node 1 draining 4294967296\": bad weight \"4294967296\""
    );
    assert_eq!(
        refusal(good_with("node 1", "node 0").as_bytes()),
        "s:5: bad node line \"node 0 draining 2\": expected node 1 here, got node \"0\""
    );
    assert_eq!(
        refusal(good_with("node 0 active 1", "node 0 active").as_bytes()),
        "s:4: bad node line \"node 0 active\": expected \"node <id> <state> <weight>\""
    );
    assert_eq!(
        refusal(good_with("node 0 active 1", "nod 0 active 1").as_bytes()),
        "s:4: bad node line \"nod 0 active 1\": expected \"node <id> <state> <weight>\""
    );
    // One node line missing: the first flow stands in its place.
    assert_eq!(
        refusal(good_with("node 1 draining 2\n", "").as_bytes()),
        "s:5: bad node line \"10.0.0.1,0\": expected \"node <id> <state> <weight>\""
    );
}

#[test]
fn refuses_bad_flow_lines() {
    assert_eq!(
        refusal(good_with("10.0.0.2,1", "10.0.0.2 1").as_bytes()),
        "s:7: expected \"key,node\" or \"end <flows>\", got \"10.0.0.2 1\""
    );
    assert_eq!(
        refusal(good_with("10.0.0.2,1", "10.0.0,1").as_bytes()),
        "s:7: bad IPv4 address \"10.0.0\""
    );
    assert_eq!(
        refusal(good_with("10.0.0.2,1", "10.0.0.2,x").as_bytes()),
        "s:7: bad node id \"x\""
    );
    assert_eq!(
        refusal(good_with("10.0.0.2,1", "10.0.0.2,").as_bytes()),
        "s:7: bad node id \"\""
    );
}

#[test]
fn refuses_a_node_out_of_range() {
    assert_eq!(
        refusal(good_with("10.0.0.3,1", "10.0.0.3,2").as_bytes()),
        "s:8: node 2 out of range (2 nodes)"
    );
}

#[test]
fn refuses_a_duplicate_key() {
    assert_eq!(
        refusal(good_with("10.0.0.3,1", "10.0.0.1,1").as_bytes()),
        "s:8: duplicate flow 10.0.0.1 (first at line 6)"
    );
}

#[test]
fn refuses_a_truncated_file() {
    assert_eq!(
        refusal(good_with("end 3\n", "").as_bytes()),
        "s: truncated: the last line is not the \"end <flows>\" line"
    );
    assert_eq!(
        refusal(good_with("end 3\n", "end 3").as_bytes()),
        "s: truncated: no newline at the end (cut inside a line)"
    );
    assert_eq!(
        refusal(good_with("end 3", "end 4").as_bytes()),
        "s:9: truncated: the end line counts 4 flows, 3 precede it"
    );
    // A flow line lost in the middle.
    assert_eq!(
        refusal(good_with("10.0.0.2,1\n", "").as_bytes()),
        "s:8: truncated: the end line counts 3 flows, 2 precede it"
    );
    assert_eq!(
        refusal(b"# efd-lb snapshot v1\n"),
        "s: truncated: the last line is not the \"end <flows>\" line"
    );
    // Cut after any byte: never accepted; past the header, always called
    // truncated.
    for len in 0..GOOD.len() {
        let e = refusal(&GOOD.as_bytes()[..len]);
        if len < HEADER.len() {
            assert!(e.starts_with("s:1: not an efd-lb snapshot"), "{len}: {e}");
        } else {
            assert!(e.starts_with("s: truncated: "), "{len}: {e}");
        }
    }
}

#[test]
fn refuses_lines_after_the_end() {
    assert_eq!(
        refusal(good_with("end 3\n", "end 3\n10.0.0.9,0\nend 4\n").as_bytes()),
        "s:10: expected nothing after the end line, got \"10.0.0.9,0\""
    );
    // An early end line with the right count so far.
    assert_eq!(
        refusal(good_with("10.0.0.3,1\n", "end 2\n10.0.0.3,1\n").as_bytes()),
        "s:9: expected nothing after the end line, got \"10.0.0.3,1\""
    );
}

#[test]
fn refuses_non_utf8() {
    let mut bytes = GOOD.as_bytes().to_vec();
    let at = GOOD.find("10.0.0.2").unwrap();
    bytes[at + 1] = 0xff;
    assert_eq!(refusal(&bytes), "s:7: not UTF-8 text");
    let mut bytes = GOOD.as_bytes().to_vec();
    bytes[GOOD.len() - 2] = 0xc3; // the end count's last digit
    assert_eq!(refusal(&bytes), "s:9: not UTF-8 text");
}

// ------------------------------------------------- what write refuses

#[test]
fn write_refuses_what_load_would_and_keeps_the_previous_snapshot() {
    let dir = TestDir::new("invalid");
    let path = dir.join("s");
    let a = snapshot_a();
    write_snapshot(&path, &a);
    let before = fs::read(&path).unwrap();

    // Node out of range, deep in the flows (after megabytes were written).
    let mut bad = many(200_000, 4, 0xb);
    bad[150_000].node = NodeId::new(4);
    let bad_key = bad[150_000].key;
    let e = write(&path, &NODES, pairs(&bad)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: snapshot not written: flow {bad_key} on node 4, out of range (4 nodes)",
            path.display()
        )
    );
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(dir.names(), ["s"]);

    // A key twice.
    let mut dup = many(200_000, 4, 0xb);
    dup[180_000].key = dup[3].key;
    let e = write(&path, &NODES, pairs(&dup)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: snapshot not written: flow {} given twice",
            path.display(),
            dup[3].key
        )
    );
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(dir.names(), ["s"]);

    assert!(matches!(
        write(Path::new("/"), &NODES, pairs(&a.flows)),
        Err(SnapshotError::Invalid { .. })
    ));
    assert_eq!(load::<Ipv4Dst>(&path, 4).unwrap(), a);
}

#[test]
fn write_into_a_missing_directory_fails_cleanly() {
    let dir = TestDir::new("nodir");
    let path = dir.join("no/such/dir/s");
    let e = write(&path, &NODES, pairs(&snapshot_a().flows)).unwrap_err();
    let e = e.to_string();
    assert!(
        e.starts_with(&format!("{}: creating ", path.display())),
        "{e}"
    );
    assert!(e.ends_with(": No such file or directory"), "{e}");
    assert!(dir.names().is_empty());
}

// ------------------------------------------------ write errors, injected

/// Runs `f` with `fault` injected on this thread.
fn with_fault<T>(fault: Fault, f: impl FnOnce() -> T) -> T {
    FAULT.with(|c| c.set(Some(fault)));
    let r = f();
    FAULT.with(|c| c.set(None));
    r
}

#[test]
fn an_injected_write_error_leaves_the_previous_snapshot_and_no_temp_file() {
    let dir = TestDir::new("fault");
    let path = dir.join("s");
    let a = snapshot_a();
    write_snapshot(&path, &a);
    let before = fs::read(&path).unwrap();
    let b = many(300_000, 4, 0xb);
    for (fault, action) in [
        (Fault::WriteAfter(0), "writing"),
        (Fault::WriteAfter(2 << 20), "writing"),
        (Fault::Sync, "syncing"),
        (Fault::Rename, "renaming"),
    ] {
        let e = with_fault(fault, || write(&path, &NODES, pairs(&b))).unwrap_err();
        let e = e.to_string();
        assert!(
            e.starts_with(&format!("{}: {action} .s.tmp-", path.display())),
            "{fault:?}: {e}"
        );
        assert!(e.ends_with(": No space left on device"), "{fault:?}: {e}");
        assert_eq!(fs::read(&path).unwrap(), before, "{fault:?}");
        assert_eq!(dir.names(), ["s"], "{fault:?}");
        assert!(active().iter().all(|p| !p.starts_with(&dir.0)));
    }
    assert_eq!(load::<Ipv4Dst>(&path, 4).unwrap(), a);

    // Without the fault, the same write goes through.
    write(&path, &NODES, pairs(&b)).unwrap();
    assert_eq!(load::<Ipv4Dst>(&path, 4).unwrap().flows, b);
}

#[test]
fn a_directory_sync_error_comes_after_the_rename() {
    let dir = TestDir::new("syncdir");
    let path = dir.join("s");
    write_snapshot(&path, &snapshot_a());
    let b = many(1000, 4, 0xb);
    let e = with_fault(Fault::SyncDir, || write(&path, &NODES, pairs(&b))).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: syncing its directory (the new snapshot is in place): No space left on device",
            path.display()
        )
    );
    assert_eq!(load::<Ipv4Dst>(&path, 4).unwrap().flows, b);
    assert_eq!(dir.names(), ["s"]);
}

#[test]
fn a_real_rename_error_leaves_no_temp_file() {
    let dir = TestDir::new("rename");
    // The snapshot's name is taken by a non-empty directory.
    let path = dir.join("s");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("x"), "x").unwrap();
    let e = write(&path, &NODES, pairs(&snapshot_a().flows)).unwrap_err();
    let e = e.to_string();
    assert!(
        e.starts_with(&format!("{}: renaming .s.tmp-", path.display())),
        "{e}"
    );
    assert_eq!(dir.names(), ["s"]);
    assert_eq!(fs::read_to_string(path.join("x")).unwrap(), "x");
}

#[test]
fn a_panicking_flow_source_leaves_no_temp_file() {
    let dir = TestDir::new("panic");
    let path = dir.join("s");
    let a = snapshot_a();
    write_snapshot(&path, &a);
    let r = std::panic::catch_unwind(|| {
        let flows = many(100_000, 4, 0xb).into_iter().enumerate().map(|(i, f)| {
            assert!(i < 90_000, "the flow source failed");
            (f.key, f.node)
        });
        write(&path, &NODES, flows)
    });
    assert!(r.is_err());
    assert_eq!(dir.names(), ["s"]);
    assert_eq!(load::<Ipv4Dst>(&path, 4).unwrap(), a);
}

// ------------------------------------------------------ stale temp files

#[test]
fn stale_temp_files_are_removed_and_only_they() {
    let dir = TestDir::new("stale");
    let path = dir.join("s");
    let me = std::process::id();
    let names = [
        ".s.tmp-4294967295-0".to_string(), // no such process: stale
        format!(".s.tmp-{me}-999999999"),  // ours, not being written: stale
        ".s.tmp-1-0".to_string(),          // pid 1 is alive: kept
        ".t.tmp-4294967295-0".to_string(), // another snapshot's: kept
        ".s.tmp-x".to_string(),            // not our naming: kept
        "s.tmp-4294967295-0".to_string(),  // not our naming: kept
    ];
    for n in &names {
        fs::write(dir.join(n), "partial").unwrap();
    }
    let mut removed = remove_stale_temp_files(&path).unwrap();
    removed.sort();
    let mut expected = vec![dir.join(&names[1]), dir.join(&names[0])];
    expected.sort();
    assert_eq!(removed, expected);
    let mut left: Vec<String> = names[2..].to_vec();
    left.sort();
    assert_eq!(dir.names(), left);

    // `write` cleans them too.
    fs::write(dir.join(&names[0]), "partial").unwrap();
    write_snapshot(&path, &snapshot_a());
    let mut left: Vec<String> = names[2..].iter().cloned().chain(["s".into()]).collect();
    left.sort();
    assert_eq!(dir.names(), left);
}

// --------------------------------------------------- a million flows

#[test]
fn restart_routes_a_million_flows_to_the_same_nodes() {
    const FLOWS: u32 = 1_000_000;
    let dir = TestDir::new("million");
    let path = dir.join("flows.snap");
    let nodes: Vec<(NodeState, u32)> = (0..8)
        .map(|n| match n {
            5 => (NodeState::Draining, 2),
            7 => (NodeState::Out, 0),
            _ => (NodeState::Active, n + 1),
        })
        .collect();
    // The running appliance's table: node 7 is out and owns nothing.
    let before = many(FLOWS, 7, 0x5eed);
    let value_bits = 3;
    let efd = build_efd(&before, value_bits).unwrap();
    assert_eq!(efd.len(), FLOWS as usize);

    // Snapshot it from the table itself, as the control plane does.
    let t = Instant::now();
    let info = write(
        &path,
        &nodes,
        efd.iter()
            .map(|(k, v)| (Ipv4Dst::from_bytes(&k), NodeId::new(u16::from(v)))),
    )
    .unwrap();
    let write_time = t.elapsed();
    assert_eq!(info.flows, u64::from(FLOWS));
    drop(efd);

    // Restart: load and build the table again.
    let t = Instant::now();
    let snap = load::<Ipv4Dst>(&path, 8).unwrap();
    let load_time = t.elapsed();
    assert_eq!(snap.nodes, nodes);
    assert_eq!(snap.flows.len(), FLOWS as usize);
    let restarted = build_efd(&snap.flows, value_bits).unwrap();
    let misrouted: Vec<&Flow<Ipv4Dst>> = before
        .iter()
        .filter(|f| restarted.lookup(&f.key.to_bytes()) != f.node.efd_value())
        .collect();
    assert!(
        misrouted.is_empty(),
        "{} of {FLOWS} flows misrouted after the restart, first {:?}",
        misrouted.len(),
        misrouted.first()
    );
    eprintln!(
        "1M flows: write {:.0} ms, load {:.0} ms, {} bytes",
        write_time.as_secs_f64() * 1e3,
        load_time.as_secs_f64() * 1e3,
        info.bytes
    );
}

// ------------------------------------------- a writer killed mid-write

/// Selects [`killed_writer_child`]'s work in the child process: the
/// snapshot path to write.
const CHILD_ENV: &str = "EFD_LB_SNAPSHOT_KILL_CHILD";

/// Flows the child writes before it stops to be killed (megabytes, so
/// its buffer has gone to the file several times).
const CHILD_FLOWS: usize = 300_000;

/// In the child process only (with [`CHILD_ENV`] set): starts writing a
/// large snapshot B and never finishes, so that the parent kills it while
/// its temporary file is half written. Without the variable, a no-op.
#[test]
fn killed_writer_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let b = many(CHILD_FLOWS as u32, 4, 0xb);
    let mut i = 0;
    let flows = std::iter::from_fn(move || {
        if i == CHILD_FLOWS {
            // Still inside `write`: wait for the SIGKILL.
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        i += 1;
        Some((b[i - 1].key, b[i - 1].node))
    });
    let _ = write(Path::new(&path), &NODES, flows);
    unreachable!("the parent kills this process while it writes");
}

#[test]
fn a_writer_killed_mid_write_leaves_the_previous_snapshot() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;

    let dir = TestDir::new("killed");
    let path = dir.join("s");
    let a = snapshot_a();
    write_snapshot(&path, &a);
    let before = fs::read(&path).unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "control::snapshot::tests::killed_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let temp_prefix = format!(".s.tmp-{}-", child.id());
    // Wait until the child's temporary file exists and has grown.
    let start = Instant::now();
    let temp = loop {
        let grown = dir.names().into_iter().find_map(|n| {
            let p = dir.join(&n);
            (n.starts_with(&temp_prefix) && fs::metadata(&p).is_ok_and(|m| m.len() >= 1 << 20))
                .then_some(p)
        });
        if let Some(p) = grown {
            break p;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the child exited ({status}) before being killed:\n{err}");
        }
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the child's temporary file did not grow: {:?}", dir.names());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");

    // The snapshot is exactly A.
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(load::<Ipv4Dst>(&path, 4).unwrap(), a);
    // The killed writer left its half-written temporary file, which is
    // not a snapshot anyone would load.
    assert_eq!(dir.names().len(), 2, "{:?}", dir.names());
    let e = load::<Ipv4Dst>(&temp, 4).unwrap_err();
    assert!(matches!(e, SnapshotError::Truncated { .. }), "{e}");
    // The next write removes it.
    let c = Snapshot {
        nodes: NODES.to_vec(),
        flows: many(10, 4, 0xc),
    };
    write_snapshot(&path, &c);
    assert_eq!(dir.names(), ["s"]);
    assert_eq!(load::<Ipv4Dst>(&path, 4).unwrap(), c);
}

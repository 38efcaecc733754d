//! End-to-end runs of the `efd-lb` binary on DPDK's virtual devices. Each
//! test is its own process (EAL initialises once per process), all with
//! `--no-huge`; a lock keeps them from competing for the two cores.

mod runner;
use runner::assert_conservation;
use runner::predict::{assert_counts, predict, predict_labelled};

use efd_lb::key::{FiveTuple, FlowKey, Ipv4Dst, KeyKind};
use efd_lb::packet::DropReason;
use efd_lb::pcap::{PcapReader, PcapWriter};
use efd_lb::traffic::{self, TrafficKey, TrafficSpec};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_efd-lb")
}

fn workdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A config file whose EAL arguments are `vdevs` (plus no-huge settings).
fn write_config(dir: &Path, body: &str, vdevs: &[String]) -> PathBuf {
    let mut args = vec![
        "--no-huge".to_string(),
        "-m".into(),
        "512".into(),
        "--no-shconf".into(),
        "--no-pci".into(),
        "--log-level=lib.eal:error".into(),
    ];
    for v in vdevs {
        args.push("--vdev".into());
        args.push(v.clone());
    }
    let quoted: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    let text = format!(
        "lcores = \"0@0,1@1,2@0\"\n{body}\n[eal]\nargs = [{}]\n[stats]\nformat = \"json\"\nperiod_ms = 500\n",
        quoted.join(", ")
    );
    let path = dir.join("lb.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run efd-lb")
}

/// The last JSON line of stdout, which must be the final stats.
fn final_stats(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no JSON stats in stdout; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        v["final"],
        Value::Bool(true),
        "last stats line is the final one"
    );
    v
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "efd-lb failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn null_pmd_run_counts_every_packet_and_returns_every_mbuf() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workdir("null_run");
    // net_null receives zero-filled 64-byte frames: ethertype 0, not IPv4.
    let cfg = write_config(
        &dir,
        "num_nodes = 2\nnum_flows = 4096\nduration_s = 2",
        &["net_null0".into(), "net_null1,no-rx=1".into()],
    );
    let out = run(&["--config", cfg.to_str().unwrap()]);
    assert_ok(&out);
    let v = final_stats(&out);
    let rx = u(&v["ports"][0]["rx"]);
    assert!(rx > 10_000, "the null device delivers packets: {rx}");
    assert_eq!(u(&v["distributor"]["drop_by_reason"]["not_ipv4"]), rx);
    assert_eq!(u(&v["ports"][1]["rx"]), 0);
    assert_conservation(&v);
    // Log lines on a stderr that is not a terminal carry no colour codes.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("running"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "ANSI codes in {stderr:?}");
}

/// `[ports] burst` above 32 is used all along the path: with one node under
/// a replay at full rate, the worker's mean burst (packets per ring
/// dequeue) exceeds 32, which a path clamped to 32 cannot produce; with
/// burst 32 it stays at or below 32.
#[test]
fn the_configured_burst_reaches_the_workers() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workdir("burst");
    let spec = TrafficSpec {
        packets: 4096,
        known_flows: 1024,
        table_flows: 1024,
        seed: 3,
        ..TrafficSpec::default()
    };
    let input = dir.join("in.pcap");
    traffic::write_pcap(&input, &spec).unwrap();
    for (burst, ring) in [(256u32, 4096u32), (32, 512)] {
        let cfg = write_config(
            &dir,
            &format!(
                "num_nodes = 1\nnum_flows = 1024\nduration_s = 2\n[ports]\nburst = {burst}\n[rings]\nsize = {ring}"
            ),
            &[
                format!("net_pcap0,rx_pcap={},infinite_rx=1", input.display()),
                "net_null0,no-rx=1".into(),
            ],
        );
        let out = run(&["--config", cfg.to_str().unwrap()]);
        assert_ok(&out);
        let v = final_stats(&out);
        assert_conservation(&v);
        let mean = v["workers"][0]["packets_per_burst"].as_f64().unwrap();
        assert!(u(&v["nodes"][0]["tx"]) > 0, "forwarded");
        if burst == 256 {
            assert!(mean > 48.0, "burst {burst}: mean burst {mean}");
        } else {
            assert!(mean <= 32.0, "burst {burst}: mean burst {mean}");
        }
    }
}

fn read_frames(path: &Path) -> Vec<Vec<u8>> {
    PcapReader::open(path)
        .unwrap()
        .map(|r| r.unwrap().data)
        .collect()
}

#[test]
fn pcap_replay_gives_exact_counters_and_forwards_exactly_the_passed_packets() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workdir("pcap_e2e");
    let (num_flows, num_nodes, value_bits) = (1000u32, 3u16, 2u8);
    let spec = TrafficSpec {
        packets: 6000,
        known_flows: num_flows,
        table_flows: num_flows,
        cycle: false,
        unknown_pct: 20.0,
        malformed_pct: 5.0,
        vlan_pct: 5.0,
        seed: 7,
        ..TrafficSpec::default()
    };
    let frames: Vec<Vec<u8>> = traffic::generate(&spec).collect();
    let input = dir.join("in.pcap");
    let mut w = PcapWriter::create(&input).unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write_packet(i as u32, 0, f).unwrap();
    }
    w.finish().unwrap();

    let exp = predict::<Ipv4Dst, 4>(&frames, num_flows, num_nodes, value_bits);
    assert!(
        exp.unknown_node > 0,
        "value 3 of 2-bit values is an unknown node"
    );
    // Every reason an ipv4_dst frame can have (the others are other kinds').
    assert!(exp.filtered.iter().sum::<u64>() > 0);
    for m in traffic::Malformed::of_kind(KeyKind::Ipv4Dst) {
        let r = m.reason(KeyKind::Ipv4Dst).name();
        assert!(exp.reasons[r] > 0, "no {r}");
    }

    let out0 = dir.join("out0.pcap");
    let out1 = dir.join("out1.pcap");
    let cfg = write_config(
        &dir,
        &format!(
            "num_nodes = {num_nodes}\nnum_flows = {num_flows}\nvalue_bits = {value_bits}\nduration_s = 3\n[rings]\nsize = 8192"
        ),
        &[
            format!("net_pcap0,rx_pcap={},tx_pcap={}", input.display(), out0.display()),
            format!("net_pcap1,tx_pcap={}", out1.display()),
        ],
    );
    let out = run(&["--config", cfg.to_str().unwrap()]);
    assert_ok(&out);
    let v = final_stats(&out);
    assert_conservation(&v);

    assert_eq!(u(&v["ports"][0]["rx"]), frames.len() as u64);
    assert_counts(&v, &exp, "replay");

    // Port 0's traffic goes out on its pair, port 1: exactly the passed frames.
    let mut sent = read_frames(&out1);
    let mut want = exp.passed_frames.clone();
    sent.sort();
    want.sort();
    assert_eq!(sent.len(), want.len());
    assert!(sent == want, "tx_pcap holds exactly the passed packets");
    assert!(read_frames(&out0).is_empty(), "nothing arrives on port 1");
}

#[test]
fn sigint_stops_within_a_second_with_final_stats_and_no_mbuf_lost() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workdir("sigint");
    let input = dir.join("in.pcap");
    traffic::write_pcap(
        &input,
        &TrafficSpec {
            packets: 20_000,
            known_flows: 4096,
            table_flows: 4096,
            unknown_pct: 10.0,
            ..TrafficSpec::default()
        },
    )
    .unwrap();
    let cfg = write_config(
        &dir,
        "num_nodes = 4\nnum_flows = 4096",
        &[
            format!("net_pcap0,rx_pcap={},infinite_rx=1", input.display()),
            "net_null0,no-rx=1".into(),
        ],
    );
    let child = Command::new(bin())
        .args(["--config", cfg.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let sent_at = Instant::now();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let took = sent_at.elapsed();
    assert_ok(&out);
    assert!(took < Duration::from_millis(1500), "stopped in {took:?}");
    let v = final_stats(&out);
    assert!(u(&v["ports"][0]["rx"]) > 20_000, "infinite replay ran");
    assert!(u(&v["ports"][1]["tx"]) > 0);
    // Ring drops are possible here (the input is unbounded), but every
    // packet is accounted for.
    assert_conservation(&v);
}

/// Runs with a bad input and returns the one-line error.
fn bad(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "{args:?} must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("efd-lb: ") || l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line for {args:?}: {stderr}"))
        .to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    line
}

#[test]
fn bad_flags_config_and_flow_files_exit_non_zero_with_one_clear_line() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workdir("bad_inputs");
    let cfg = write_config(
        &dir,
        "num_nodes = 2\nnum_flows = 64\nduration_s = 1",
        &["net_null0,no-rx=1".into(), "net_null1,no-rx=1".into()],
    );
    let c = cfg.to_str().unwrap();

    let l = bad(&["--config", c, "-n", "0"]);
    assert!(l.contains("0 nodes"), "{l}");
    let l = bad(&["--config", c, "-n", "5", "--value-bits", "2"]);
    assert!(l.contains("value_bits") || l.contains("value-bits"), "{l}");
    let l = bad(&["--config", c, "-n", "300"]);
    assert!(l.contains("300"), "{l}");
    let l = bad(&["--config", c, "-p", "0x5"]);
    assert!(l.contains("port 2"), "{l}");
    let l = bad(&["--config", c, "--lcores", "0"]);
    assert!(l.contains("lcores"), "{l}");

    let typo = dir.join("typo.toml");
    std::fs::write(&typo, "num_nodes = 2\nnodez = 3\n").unwrap();
    let l = bad(&["--config", typo.to_str().unwrap()]);
    assert!(l.contains("nodez") && l.contains("typo.toml"), "{l}");

    let flows = dir.join("flows.csv");
    std::fs::write(&flows, "10.0.0.1,0\n10.0.0.2,1\n10.0.0,1\n").unwrap();
    let l = bad(&["--config", c, "--flow-file", flows.to_str().unwrap()]);
    assert!(l.contains("flows.csv:3"), "{l}");
    std::fs::write(&flows, "10.0.0.1,0\n10.0.0.2,7\n").unwrap();
    let l = bad(&["--config", c, "--flow-file", flows.to_str().unwrap()]);
    assert!(
        l.contains("flows.csv:2") && l.contains("out of range"),
        "{l}"
    );

    let l = bad(&["--config", dir.join("missing.toml").to_str().unwrap()]);
    assert!(l.contains("missing.toml"), "{l}");
}

#[test]
fn a_flow_file_drives_distribution() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workdir("flow_file");
    let flows = dir.join("flows.csv");
    std::fs::write(&flows, "# ip,node\n0.0.0.1,1\n0.0.0.2,1\n0.0.0.3,0\n").unwrap();
    let frames: Vec<Vec<u8>> = (1..=3u32)
        .flat_map(|d| {
            std::iter::repeat_n(traffic::udp_frame(Ipv4Dst::from_u32(d), None, 0, 60), 10)
        })
        .collect();
    let input = dir.join("in.pcap");
    let mut w = PcapWriter::create(&input).unwrap();
    for f in &frames {
        w.write_packet(0, 0, f).unwrap();
    }
    w.finish().unwrap();
    let cfg = write_config(
        &dir,
        "num_nodes = 2\nduration_s = 2",
        &[
            format!("net_pcap0,rx_pcap={}", input.display()),
            "net_null0,no-rx=1".into(),
        ],
    );
    let out = run(&[
        "--config",
        cfg.to_str().unwrap(),
        "--flow-file",
        flows.to_str().unwrap(),
    ]);
    assert_ok(&out);
    let v = final_stats(&out);
    assert_eq!(u(&v["nodes"][0]["filter_passed"]), 10);
    assert_eq!(u(&v["nodes"][1]["filter_passed"]), 20);
    assert_eq!(u(&v["ports"][1]["tx"]), 30);
    assert_conservation(&v);
}

/// The frames of a keyed replay and what each should give: the generator's
/// traffic, then one valid frame per header layout cut at every byte up to
/// the end of what the kind reads.
fn keyed_frames<K: TrafficKey>(
    kind: KeyKind,
    spec: &TrafficSpec,
) -> Vec<(Result<K, DropReason>, Vec<u8>)> {
    let labeled: Vec<_> = traffic::generate_labeled::<K>(spec).collect();
    let mut out: Vec<_> = labeled.iter().map(|(l, f)| (l.expect, f.clone())).collect();
    let mut layouts = std::collections::HashSet::new();
    for (l, f) in &labeled {
        let Some(lay) = l.layout else { continue };
        if !layouts.insert((lay, l.fragment)) {
            continue;
        }
        for cut in 0..lay.key_end(kind) {
            let r = if cut < lay.ip {
                DropReason::TooShort
            } else {
                DropReason::Truncated
            };
            out.push((Err(r), f[..cut].to_vec()));
        }
    }
    out
}

/// One run of the appliance with key kind `kind` over a finite net_pcap
/// replay of every kind of frame: the per-reason and per-node counters and
/// the forwarded frames are those predicted from the generator's labels,
/// the flow table and the EFD table the appliance builds. `flow_match`:
/// what the node flow tables hold (`exact`, `fingerprint`), or `default`
/// to leave the key out (auto: fingerprint for keys wider than 8 bytes).
fn keyed_replay<K: TrafficKey<Bytes = [u8; N]>, const N: usize>(kind: KeyKind, flow_match: &str) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workdir(&format!("key_{kind}_{flow_match}"));
    let (num_flows, num_nodes, value_bits) = (1000u32, 3u16, 2u8);
    let spec = TrafficSpec {
        key: kind,
        packets: 4000,
        known_flows: num_flows,
        table_flows: num_flows,
        unknown_pct: 15.0,
        malformed_pct: 6.0,
        vlan_pct: 15.0,
        qinq_pct: 50.0,
        ext_pct: 15.0,
        fragment_pct: 8.0,
        seed: 21,
        ..TrafficSpec::default()
    };
    let frames = keyed_frames::<K>(kind, &spec);
    let input = dir.join("in.pcap");
    let mut w = PcapWriter::create(&input).unwrap();
    for (i, (_, f)) in frames.iter().enumerate() {
        w.write_packet(i as u32, 0, f).unwrap();
    }
    w.finish().unwrap();

    let exp = predict_labelled::<K, N>(
        frames.iter().map(|(label, f)| (*label, f)),
        num_flows,
        num_nodes,
        value_bits,
    );
    assert!(exp.unknown_node > 0 && exp.passed.iter().all(|&p| p > 0));

    let out0 = dir.join("out0.pcap");
    let out1 = dir.join("out1.pcap");
    let cfg = write_config(
        &dir,
        &format!(
            "key = \"{kind}\"\n{}num_nodes = {num_nodes}\nnum_flows = {num_flows}\nvalue_bits = {value_bits}\nduration_s = 3\n[rings]\nsize = 8192",
            if flow_match == "default" {
                String::new()
            } else {
                format!("flow_match = \"{flow_match}\"\n")
            }
        ),
        &[
            format!("net_pcap0,rx_pcap={},tx_pcap={}", input.display(), out0.display()),
            format!("net_pcap1,tx_pcap={}", out1.display()),
        ],
    );
    let out = run(&["--config", cfg.to_str().unwrap()]);
    assert_ok(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    let mode = match flow_match {
        "default" if kind.key_len() > 8 => "fingerprint",
        "default" => "exact",
        m => m,
    };
    assert!(
        log.contains(&format!("node flow tables flow_match=\"{mode}\"")),
        "{kind}: the tables hold what flow_match says: {log}"
    );
    let v = final_stats(&out);
    assert_conservation(&v);
    assert_eq!(u(&v["ports"][0]["rx"]), frames.len() as u64, "{kind}: rx");
    assert_counts(&v, &exp, &kind.to_string());
    let mut sent = read_frames(&out1);
    let mut want = exp.passed_frames;
    sent.sort();
    want.sort();
    assert!(
        sent == want,
        "{kind}: tx_pcap holds exactly the passed packets"
    );
    assert!(read_frames(&out0).is_empty());
}

macro_rules! keyed_replay_test {
    ($name:ident, $kind:expr) => {
        keyed_replay_test!($name, $kind, "exact");
    };
    ($name:ident, $kind:expr, $flow_match:expr) => {
        #[test]
        fn $name() {
            efd_lb::with_key_kind!($kind, |K, N| keyed_replay::<K, N>($kind, $flow_match));
        }
    };
}

keyed_replay_test!(replay_keyed_by_ipv4_dst, KeyKind::Ipv4Dst);
keyed_replay_test!(replay_keyed_by_ipv4_src_dst, KeyKind::Ipv4SrcDst);
keyed_replay_test!(replay_keyed_by_ipv4_5tuple, KeyKind::Ipv4FiveTuple);
keyed_replay_test!(replay_keyed_by_ipv6_dst, KeyKind::Ipv6Dst);
keyed_replay_test!(replay_keyed_by_ipv6_5tuple, KeyKind::Ipv6FiveTuple);
keyed_replay_test!(replay_keyed_by_5tuple, KeyKind::FiveTuple);
keyed_replay_test!(
    replay_keyed_by_ipv4_5tuple_fingerprints,
    KeyKind::Ipv4FiveTuple,
    "fingerprint"
);
keyed_replay_test!(
    replay_keyed_by_ipv6_5tuple_fingerprints,
    KeyKind::Ipv6FiveTuple,
    "fingerprint"
);
// The default (auto) picks per key kind: fingerprints for 37-byte keys,
// the keys themselves for 8-byte ones.
keyed_replay_test!(
    replay_keyed_by_5tuple_default_flow_match,
    KeyKind::FiveTuple,
    "default"
);
keyed_replay_test!(
    replay_keyed_by_ipv4_src_dst_default_flow_match,
    KeyKind::Ipv4SrcDst,
    "default"
);

/// A flow file of 5-tuples drives distribution; a bad line names its line
/// and what is wrong with it.
#[test]
fn a_five_tuple_flow_file_drives_distribution() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workdir("flow_file_5tuple");
    let keys = [
        "10.0.0.1:1000 -> 10.0.0.2:80 tcp",
        "10.0.0.1:1001 -> 10.0.0.2:80 tcp",
        "[2001:db8::1]:5000 -> [2001:db8::2]:443 udp",
    ];
    let flows = dir.join("flows.csv");
    std::fs::write(
        &flows,
        format!("# 5-tuples\n{},1\n{},0\n{},1\n", keys[0], keys[1], keys[2]),
    )
    .unwrap();
    let mut frames = Vec::new();
    for k in keys {
        let key = FiveTuple::parse_text(k).unwrap();
        for id in 0..10 {
            let (f, _) = traffic::frame::build(
                &key.headers(id),
                &traffic::frame::Shape {
                    id,
                    len: 60,
                    ..Default::default()
                },
            );
            frames.push(f);
        }
    }
    let input = dir.join("in.pcap");
    let mut w = PcapWriter::create(&input).unwrap();
    for f in &frames {
        w.write_packet(0, 0, f).unwrap();
    }
    w.finish().unwrap();
    let cfg = write_config(
        &dir,
        "key = \"5tuple\"\nnum_nodes = 2\nduration_s = 2",
        &[
            format!("net_pcap0,rx_pcap={}", input.display()),
            "net_null0,no-rx=1".into(),
        ],
    );
    let c = cfg.to_str().unwrap();
    let out = run(&["--config", c, "--flow-file", flows.to_str().unwrap()]);
    assert_ok(&out);
    let v = final_stats(&out);
    assert_eq!(u(&v["nodes"][0]["filter_passed"]), 10);
    assert_eq!(u(&v["nodes"][1]["filter_passed"]), 20);
    assert_eq!(u(&v["ports"][1]["tx"]), 30);
    assert_conservation(&v);

    std::fs::write(
        &flows,
        "10.0.0.1:1000 -> 10.0.0.2:80 tcp,1\n10.0.0.1:1000 -> 10.0.0.2:99999 tcp,0\n",
    )
    .unwrap();
    let l = bad(&["--config", c, "--flow-file", flows.to_str().unwrap()]);
    assert!(
        l.contains("flows.csv:2: bad 5-tuple") && l.contains("port \"99999\""),
        "{l}"
    );
    let l = bad(&["--config", c, "--key", "ipv6"]);
    assert!(l.contains("not a key kind"), "{l}");
}

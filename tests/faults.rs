//! Faults on the running appliance, injected with the test-only `[faults]`
//! knobs (README, "Fault injection") on DPDK's virtual devices
//! (`--no-huge`): a stalled node, a TX port that refuses packets, an
//! exhausted mbuf pool, a flood of malformed frames, and signals at full
//! load. Each run must end cleanly: exit status 0 (the appliance checks
//! that every mbuf came back and that its final counters account for every
//! packet exactly once), and the final counters are checked here again.
//!
//! Times: the JSON stats lines carry `mono_ns`, counted from the first
//! snapshot, taken just after the loops are launched (where the fault
//! windows start); every window below is read with margins of at least
//! 250 ms on both sides.

mod runner;

use efd_lb::key::{FlowKey, Ipv4Dst, KeyKind};
use efd_lb::packet::DropReason;
use efd_lb::pcap::PcapReader;
use efd_lb::traffic::{self, TrafficSpec};
use runner::{assert_conservation, bin, eal_args, serial, u, workdir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The pool test's file, read once: enough frames to outlast the hold
/// (each failed receive loses one) on a quiet host too, where the
/// distributor reads ~11M frames a second: 2M frames last ~180 ms there,
/// the window ends at 100 ms.
const POOL_TEST_FRAMES: u64 = 2_000_000;
/// The pool test's window.
const POOL_HOLD_AFTER_MS: u64 = 60;
const POOL_HOLD_MS: u64 = 40;

/// A config file `lb.toml` in `dir`: lcores 0@0,1@1,2@0 (one worker lcore
/// for every node), `body`, the EAL arguments for `vdevs`, JSON stats
/// every `period_ms`.
fn write_config(dir: &Path, body: &str, vdevs: &[String], period_ms: u32) -> PathBuf {
    let quoted: Vec<String> = eal_args(512, vdevs)
        .iter()
        .map(|a| format!("{a:?}"))
        .collect();
    let text = format!(
        "lcores = \"0@0,1@1,2@0\"\n{body}\n[eal]\nargs = [{}]\n[stats]\nformat = \"json\"\nperiod_ms = {period_ms}\n",
        quoted.join(", ")
    );
    let path = dir.join("lb.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A pcap of `packets` frames of the population's first `flows` flows
/// (ipv4_dst), all in the table.
fn known_traffic(dir: &Path, packets: u64, flows: u32) -> PathBuf {
    let path = dir.join("in.pcap");
    traffic::write_pcap(
        &path,
        &TrafficSpec {
            packets,
            known_flows: flows,
            table_flows: flows,
            seed: 5,
            ..TrafficSpec::default()
        },
    )
    .unwrap();
    path
}

/// A running `efd-lb`: its stdout lines and stderr are collected as they
/// come. Dropped while running, it is killed (no process is left behind).
struct Appliance {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// How a run ended.
struct Ended {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: String,
    /// When it was seen to have exited.
    at: Instant,
}

impl Appliance {
    fn start(cfg: &Path) -> Appliance {
        let mut child = Command::new(bin())
            .args(["--config", cfg.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start efd-lb");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let lines = stdout.clone();
        let text = stderr.clone();
        let readers = vec![
            std::thread::spawn(move || {
                for l in BufReader::new(out).lines() {
                    let Ok(l) = l else { break };
                    lines.lock().unwrap().push(l);
                }
            }),
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = BufReader::new(err).read_to_string(&mut s);
                text.lock().unwrap().push_str(&s);
            }),
        ];
        Appliance {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child process, not yet reaped.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The stdout lines so far.
    fn lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Waits at most `limit` for the exit; a run still going then is
    /// killed and the test fails.
    fn wait(mut self, limit: Duration) -> Ended {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "efd-lb did not exit within {limit:?}; stderr: {}",
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let at = Instant::now();
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        let stdout = self.stdout.lock().unwrap().clone();
        let stderr = self.stderr.lock().unwrap().clone();
        Ended {
            status,
            stdout,
            stderr,
            at,
        }
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Ended {
    /// Exit status 0: every mbuf back, the counters conserved (the
    /// appliance checks both), the final stats written.
    fn assert_clean(&self) {
        assert!(
            self.status.success(),
            "efd-lb failed ({:?}): {}",
            self.status,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
    }

    /// The periodic stats lines, in order.
    fn samples(&self) -> Vec<Value> {
        json_lines(&self.stdout)
            .into_iter()
            .filter(|v| v["final"] == Value::Bool(false))
            .collect()
    }

    /// The final stats: exactly one such line, the last one.
    fn final_stats(&self) -> Value {
        let lines = json_lines(&self.stdout);
        let finals = lines.iter().filter(|v| v["final"] == Value::Bool(true));
        assert_eq!(finals.count(), 1, "one final stats line");
        let last = lines.last().unwrap().clone();
        assert_eq!(last["final"], Value::Bool(true), "the final line is last");
        assert_conservation(&last);
        last
    }
}

fn json_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Milliseconds from the first snapshot (about the launch of the loops).
fn ms(v: &Value) -> f64 {
    u(&v["mono_ns"]) as f64 / 1e6
}

/// The first and the last sample in `from..=to` ms; they must be at least
/// `min_span` ms apart.
fn span(samples: &[Value], from: f64, to: f64, min_span: f64) -> (Value, Value) {
    let inside: Vec<&Value> = samples
        .iter()
        .filter(|v| (from..=to).contains(&ms(v)))
        .collect();
    assert!(
        inside.len() >= 2 && ms(inside[inside.len() - 1]) - ms(inside[0]) >= min_span,
        "stats lines between {from} and {to} ms span at least {min_span} ms: {:?}",
        samples.iter().map(ms).collect::<Vec<_>>()
    );
    (inside[0].clone(), inside[inside.len() - 1].clone())
}

fn node(v: &Value, i: usize, field: &str) -> u64 {
    u(&v["nodes"][i][field])
}

/// `field` of node `i` per second from `a` to `b`.
fn node_rate(a: &Value, b: &Value, i: usize, field: &str) -> f64 {
    (node(b, i, field) - node(a, i, field)) as f64 * 1000.0 / (ms(b) - ms(a))
}

/// Packets received on port 0 per second from `a` to `b`.
fn rx_rate(a: &Value, b: &Value) -> f64 {
    (u(&b["ports"][0]["rx"]) - u(&a["ports"][0]["rx"])) as f64 * 1000.0 / (ms(b) - ms(a))
}

/// (a) A stalled node: its worker stops dequeuing its ring for 2 s. Its ring
/// fills and the distributor counts its packets as `rx_drop` (nothing is
/// enqueued or sent for it meanwhile); the other nodes on the same worker
/// keep forwarding at their rate (their share of the received packets
/// stays what it was, and their tx per second stays within a wide bound of
/// before); when the stall ends the node forwards again.
#[test]
fn a_stalled_node_drops_on_its_own_ring_only_and_recovers() {
    let _g = serial();
    let dir = workdir("fault_stall");
    let input = known_traffic(&dir, 30_000, 3000);
    let (stalled, after, len) = (1usize, 1500.0, 2000.0);
    let cfg = write_config(
        &dir,
        &format!(
            "num_nodes = 3\nnum_flows = 3000\nduration_s = 6\n\
             [faults]\nstall_node = {stalled}\nstall_after_ms = {after}\nstall_ms = {len}\n"
        ),
        &[
            format!("net_pcap0,rx_pcap={},infinite_rx=1", input.display()),
            "net_null0,no-rx=1".into(),
        ],
        200,
    );
    let end = Appliance::start(&cfg).wait(Duration::from_secs(30));
    end.assert_clean();
    let fin = end.final_stats();
    let s = end.samples();
    let (b0, b1) = span(&s, 300.0, after - 250.0, 600.0);
    let (d0, d1) = span(&s, after + 300.0, after + len - 250.0, 1000.0);
    let (a0, a1) = span(&s, after + len + 300.0, 5750.0, 1000.0);

    // The stalled node: forwarding before; during the stall not one packet
    // enqueued (its ring is full) or sent, and its whole share of the input
    // counted as rx_drop; forwarding again after.
    let before_tx = node_rate(&b0, &b1, stalled, "tx");
    assert!(
        before_tx > 10_000.0,
        "node {stalled} forwards before: {before_tx}/s"
    );
    assert_eq!(
        node(&d1, stalled, "tx"),
        node(&d0, stalled, "tx"),
        "sent while stalled"
    );
    assert_eq!(
        node(&d1, stalled, "rx"),
        node(&d0, stalled, "rx"),
        "enqueued while stalled"
    );
    let share = |a: &Value, b: &Value, i: usize| {
        (node_rate(a, b, i, "rx") + node_rate(a, b, i, "rx_drop")) / rx_rate(a, b)
    };
    let share_before = share(&b0, &b1, stalled);
    let drop_share = node_rate(&d0, &d1, stalled, "rx_drop") / rx_rate(&d0, &d1);
    assert!(
        (drop_share - share_before).abs() < 0.05,
        "node {stalled}: rx_drop is {drop_share:.3} of the input during the stall, its share {share_before:.3}"
    );
    let after_tx = node_rate(&a0, &a1, stalled, "tx");
    assert!(
        after_tx > 0.2 * before_tx,
        "node {stalled} forwards again: {after_tx:.0}/s after, {before_tx:.0}/s before"
    );
    assert!(node(&fin, stalled, "rx_drop") > 0);

    // The other nodes, on the same worker lcore: the distributor gives them
    // their share as before; they keep forwarding at their rate (the bound
    // is wide: the host is shared, and a worker that stopped for every node
    // would send nothing), and lose no more of it on their rings than
    // before.
    for o in (0..3).filter(|&o| o != stalled) {
        let (sb, sd) = (share(&b0, &b1, o), share(&d0, &d1, o));
        assert!(
            (sd - sb).abs() < 0.05,
            "node {o}: {sd:.3} of the input during the stall, {sb:.3} before"
        );
        let (before, during) = (node_rate(&b0, &b1, o, "tx"), node_rate(&d0, &d1, o, "tx"));
        assert!(
            during > 0.2 * before,
            "node {o}: {during:.0} tx/s during node {stalled}'s stall, {before:.0} before"
        );
        let lost = |a: &Value, b: &Value| {
            node_rate(a, b, o, "rx_drop")
                / (node_rate(a, b, o, "rx") + node_rate(a, b, o, "rx_drop"))
        };
        let (lb, ld) = (lost(&b0, &b1), lost(&d0, &d1));
        assert!(
            ld <= lb + 0.4,
            "node {o}: {ld:.3} of its packets dropped on its ring during node {stalled}'s stall, {lb:.3} before"
        );
    }
}

/// (b) TX queues that refuse every packet for 1.5 s: the worker counts them
/// as `tx_drop` and frees them (exit status 0: every mbuf back); nothing
/// reaches the device meanwhile (its own counter agrees with the workers'
/// `tx` to the packet), and forwarding resumes after.
#[test]
fn a_refusing_tx_port_counts_tx_drop_and_frees_the_mbufs() {
    let _g = serial();
    let dir = workdir("fault_tx_refuse");
    let input = known_traffic(&dir, 20_000, 2000);
    let (after, len) = (1500.0, 1500.0);
    let cfg = write_config(
        &dir,
        &format!(
            "num_nodes = 2\nnum_flows = 2000\nduration_s = 5\n\
             [faults]\ntx_refuse_after_ms = {after}\ntx_refuse_ms = {len}\n"
        ),
        &[
            format!("net_pcap0,rx_pcap={},infinite_rx=1", input.display()),
            "net_null0,no-rx=1".into(),
        ],
        200,
    );
    let end = Appliance::start(&cfg).wait(Duration::from_secs(30));
    end.assert_clean();
    let fin = end.final_stats();
    let s = end.samples();
    let (b0, b1) = span(&s, 300.0, after - 250.0, 600.0);
    let (d0, d1) = span(&s, after + 300.0, after + len - 250.0, 600.0);
    let (a0, a1) = span(&s, after + len + 300.0, 4750.0, 800.0);
    let hw_tx = |v: &Value| u(&v["ports"][1]["hw"]["opackets"]);
    let sum = |v: &Value, f: &str| (0..2).map(|i| node(v, i, f)).sum::<u64>();
    assert!(sum(&b1, "tx") > sum(&b0, "tx"), "forwards before");
    assert_eq!(sum(&d1, "tx"), sum(&d0, "tx"), "nothing sent while refused");
    assert_eq!(hw_tx(&d1), hw_tx(&d0), "nothing reached the device");
    let refused = sum(&d1, "tx_drop") - sum(&d0, "tx_drop");
    let passed = sum(&d1, "filter_passed") - sum(&d0, "filter_passed");
    assert!(refused > 10_000, "{refused} tx_drop during the refusal");
    assert!(
        refused * 10 >= passed * 9,
        "{refused} tx_drop of {passed} passed during the refusal"
    );
    assert!(sum(&a1, "tx") > sum(&a0, "tx") + 10_000, "forwards after");
    assert_eq!(
        sum(&a1, "tx_drop"),
        sum(&a0, "tx_drop"),
        "no tx_drop after the window"
    );
    // Every packet counted as sent reached the device, and no other.
    assert_eq!(hw_tx(&fin), u(&fin["ports"][1]["tx"]));
    assert!(u(&fin["ports"][1]["tx_drop"]) >= refused);
}

/// (c) An exhausted mbuf pool: a thread takes every free mbuf for a window.
/// Receives find none and the port counts `rx_nombuf`; when the window
/// ends, forwarding resumes. `net_pcap` counts `rx_nombuf` only when it
/// reads its file (not with `infinite_rx=1`, whose failed allocation counts
/// nothing), and the frame it had read is then lost: so the file is
/// replayed once, long enough to outlast the window, and each of its frames
/// must be either received or counted as `rx_nombuf`.
#[test]
fn an_exhausted_mbuf_pool_counts_rx_nombuf_and_forwarding_resumes() {
    let _g = serial();
    let dir = workdir("fault_pool_hold");
    let frames = POOL_TEST_FRAMES;
    let input = known_traffic(&dir, frames, 2000);
    let (after, len) = (POOL_HOLD_AFTER_MS, POOL_HOLD_MS);
    let cfg = write_config(
        &dir,
        &format!(
            "num_nodes = 2\nnum_flows = 2000\nduration_s = 4\n\
             [faults]\npool_hold_after_ms = {after}\npool_hold_ms = {len}\n"
        ),
        &[
            format!("net_pcap0,rx_pcap={}", input.display()),
            "net_null0,no-rx=1".into(),
        ],
        20,
    );
    let end = Appliance::start(&cfg).wait(Duration::from_secs(30));
    let _ = std::fs::remove_file(&input);
    end.assert_clean();
    let fin = end.final_stats();
    let hw = |v: &Value, f: &str| u(&v["ports"][0]["hw"][f]);
    let tx = |v: &Value| u(&v["ports"][1]["tx"]);
    let nombuf = hw(&fin, "rx_nombuf");
    assert!(nombuf > 0, "rx_nombuf counted");
    // Every frame of the file was read: received, or lost for want of an
    // mbuf and counted.
    assert_eq!(
        hw(&fin, "ipackets") + nombuf,
        frames,
        "file read to its end"
    );
    assert_eq!(u(&fin["ports"][0]["rx"]), hw(&fin, "ipackets"));
    assert!(tx(&fin) > 0);
    let s = end.samples();
    // Forwarding before the hold (no allocation failed yet), failures only
    // from the hold's start to its end, forwarding after the last one.
    let first_fail = s
        .iter()
        .position(|v| hw(v, "rx_nombuf") > 0)
        .expect("a stats line during the hold");
    let last_fail = s
        .iter()
        .position(|v| hw(v, "rx_nombuf") == nombuf)
        .unwrap_or(s.len());
    assert!(
        first_fail > 0 && tx(&s[first_fail - 1]) > 0,
        "forwarded before the hold"
    );
    assert!(
        ms(&s[first_fail]) >= after as f64 - 50.0,
        "the first allocation failed at {} ms, the hold starts at {after} ms",
        ms(&s[first_fail])
    );
    if let Some(v) = s.get(last_fail) {
        assert!(
            ms(v) <= (after + len) as f64 + 250.0,
            "allocations failed until {} ms, the hold ends at {} ms",
            ms(v),
            after + len
        );
    }
    let resumed_from = s.get(last_fail).map_or(0, tx);
    assert!(
        tx(&fin) > resumed_from + 10_000,
        "forwarding resumed after the hold: {} sent in all, {resumed_from} when the last allocation failed",
        tx(&fin)
    );
}

/// The expected distributor counters for the first `received` frames of a
/// pcap replayed in a loop (`infinite_rx=1` replays its frames in order,
/// from the first, again and again): per reason from the generator's
/// labels, per node from the EFD table the appliance builds.
struct Predicted {
    reasons: BTreeMap<&'static str, u64>,
    unknown_node: u64,
    to_node: Vec<u64>,
    passed: Vec<u64>,
}

fn predict(
    frames: &[Result<Ipv4Dst, DropReason>],
    received: u64,
    num_flows: u32,
    num_nodes: u16,
) -> Predicted {
    let flows: Vec<efd_lb::flows::Flow<Ipv4Dst>> =
        efd_lb::flows::seed_population(num_flows, num_nodes).collect();
    let efd = efd_lb::app::build_efd(
        &flows,
        efd_lb::config::default_value_bits(u32::from(num_nodes)) as u8,
    )
    .unwrap();
    let n = usize::from(num_nodes);
    let mut p = Predicted {
        reasons: DropReason::ALL.iter().map(|r| (r.name(), 0)).collect(),
        unknown_node: 0,
        to_node: vec![0; n],
        passed: vec![0; n],
    };
    // One pass over the file, counted `loops` times, plus the head.
    let len = frames.len() as u64;
    let (loops, head) = (received / len, (received % len) as usize);
    for (i, f) in frames.iter().enumerate() {
        let times = loops + u64::from(i < head);
        match f {
            Err(r) => *p.reasons.get_mut(r.name()).unwrap() += times,
            Ok(key) => {
                let node = efd.lookup(&key.to_bytes()) as usize;
                if node >= n {
                    p.unknown_node += times;
                    continue;
                }
                p.to_node[node] += times;
                if key.to_u32() < num_flows && key.to_u32() as usize % n == node {
                    p.passed[node] += times;
                }
            }
        }
    }
    p
}

/// (d) A flood of malformed frames at full rate: a pcap from
/// `efd-lb-pcapgen` with 90 % malformed frames (every ipv4_dst kind of
/// them in rotation), replayed in a loop. No crash; every drop reason, the
/// unknown-node drops and each node's share are exactly what the pcap's
/// frames, counted as many times as they were received, predict; the
/// well-formed packets are forwarded.
#[test]
fn a_flood_of_malformed_frames_is_counted_by_reason_exactly() {
    let _g = serial();
    let dir = workdir("fault_malformed");
    let input = dir.join("flood.pcap");
    let (num_flows, num_nodes) = (3000u32, 3u16);
    let spec = TrafficSpec {
        packets: 10_007,
        known_flows: num_flows,
        table_flows: num_flows,
        unknown_pct: 3.0,
        malformed_pct: 90.0,
        vlan_pct: 10.0,
        seed: 90,
        ..TrafficSpec::default()
    };
    let gen = Command::new(env!("CARGO_BIN_EXE_efd-lb-pcapgen"))
        .args(["--out", input.to_str().unwrap()])
        .args(["--packets", &spec.packets.to_string()])
        .args(["--known-flows", &num_flows.to_string()])
        .args([
            "--unknown-pct",
            "3",
            "--malformed-pct",
            "90",
            "--vlan-pct",
            "10",
        ])
        .args(["--seed", "90"])
        .output()
        .unwrap();
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    // The file holds the generator's frames, whose labels say what each
    // must give.
    let labeled: Vec<_> = traffic::generate_labeled::<Ipv4Dst>(&spec).collect();
    let in_file: Vec<Vec<u8>> = PcapReader::open(&input)
        .unwrap()
        .map(|r| r.unwrap().data)
        .collect();
    assert!(
        in_file.len() == labeled.len() && in_file.iter().zip(&labeled).all(|(a, (_, b))| a == b),
        "efd-lb-pcapgen wrote the generator's frames"
    );
    let expect: Vec<_> = labeled.iter().map(|(l, _)| l.expect).collect();
    let malformed = expect.iter().filter(|e| e.is_err()).count();
    assert!(
        malformed * 100 >= expect.len() * 85,
        "{malformed} malformed"
    );
    for m in traffic::Malformed::of_kind(KeyKind::Ipv4Dst) {
        let r = m.reason(KeyKind::Ipv4Dst);
        assert!(expect.contains(&Err(r)), "no {}", r.name());
    }

    let cfg = write_config(
        &dir,
        &format!("num_nodes = {num_nodes}\nnum_flows = {num_flows}\nduration_s = 3"),
        &[
            format!("net_pcap0,rx_pcap={},infinite_rx=1", input.display()),
            "net_null0,no-rx=1".into(),
        ],
        500,
    );
    let end = Appliance::start(&cfg).wait(Duration::from_secs(30));
    end.assert_clean();
    let v = end.final_stats();
    let received = u(&v["ports"][0]["rx"]);
    assert!(
        received > 10 * spec.packets,
        "the file looped at full rate: {received} frames"
    );
    assert_eq!(u(&v["ports"][0]["hw"]["ipackets"]), received);
    let p = predict(&expect, received, num_flows, num_nodes);
    for (name, want) in &p.reasons {
        assert_eq!(
            u(&v["distributor"]["drop_by_reason"][name]),
            *want,
            "drop reason {name} after {received} frames"
        );
    }
    assert_eq!(u(&v["distributor"]["drop_unknown_node"]), p.unknown_node);
    for (i, (&to_node, &passed)) in p.to_node.iter().zip(&p.passed).enumerate() {
        assert_eq!(
            node(&v, i, "rx") + node(&v, i, "rx_drop"),
            to_node,
            "node {i}: packets distributed to it"
        );
        // Ring drops (if any) take packets before the filter.
        assert!(node(&v, i, "filter_passed") <= passed);
    }
    let sent: u64 = (0..usize::from(num_nodes)).map(|i| node(&v, i, "tx")).sum();
    let passed: u64 = p.passed.iter().sum();
    assert!(
        sent * 4 >= passed && passed > 0,
        "well-formed traffic forwarded: {sent} of {passed}"
    );
}

/// The config of the signal tests: 4 nodes, an infinite replay to
/// net_null, no duration (a signal ends the run), and `faults`.
fn signal_config(dir: &Path, faults: &str) -> PathBuf {
    let input = known_traffic(dir, 20_000, 4096);
    write_config(
        dir,
        &format!("num_nodes = 4\nnum_flows = 4096\n{faults}"),
        &[
            format!("net_pcap0,rx_pcap={},infinite_rx=1", input.display()),
            "net_null0,no-rx=1".into(),
        ],
        200,
    )
}

/// Waits until the appliance has printed `n` stats lines (it forwards).
fn wait_for_lines(a: &mut Appliance, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while json_lines(&a.lines()).len() < n {
        assert!(a.running(), "efd-lb exited early");
        assert!(Instant::now() < deadline, "no stats lines");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (e) Two signals in a row at full load (SIGINT twice, SIGTERM twice,
/// SIGTERM then SIGINT, 2 ms apart): the second changes nothing; the final
/// stats are printed once, the exit status is 0, within 3 s.
#[test]
fn two_signals_in_a_row_at_full_load_stop_once_and_cleanly() {
    let _g = serial();
    for (first, second) in [
        (libc::SIGINT, libc::SIGINT),
        (libc::SIGTERM, libc::SIGTERM),
        (libc::SIGTERM, libc::SIGINT),
    ] {
        let dir = workdir(&format!("fault_signals_{first}_{second}"));
        let cfg = signal_config(&dir, "");
        let mut a = Appliance::start(&cfg);
        wait_for_lines(&mut a, 5);
        let sent = Instant::now();
        a.signal(first);
        std::thread::sleep(Duration::from_millis(2));
        if a.running() {
            a.signal(second);
        }
        let end = a.wait(Duration::from_secs(20));
        let took = end.at - sent;
        end.assert_clean();
        assert!(
            took < Duration::from_secs(3),
            "signals {first}, {second}: stopped in {took:?}"
        );
        let v = end.final_stats();
        assert!(u(&v["ports"][1]["tx"]) > 0, "forwarded");
    }
}

/// (e) The second signal lands during the drain, for certain: node 0 is
/// stalled from 1 s to 5 s, so the drain that follows the first signal
/// (at about 2 s) waits for the stall's end to empty its ring. The second
/// signal (half a second later, the appliance still running and no final
/// stats printed yet) changes nothing: the drain completes, the final stats
/// are printed once, every packet and mbuf is accounted for, exit status
/// 0, within 3 s of the stall's end.
#[test]
fn a_second_signal_during_the_drain_changes_nothing() {
    let _g = serial();
    for (first, second) in [(libc::SIGTERM, libc::SIGINT), (libc::SIGINT, libc::SIGTERM)] {
        let dir = workdir(&format!("fault_signal_drain_{first}_{second}"));
        let cfg = signal_config(
            &dir,
            "[faults]\nstall_node = 0\nstall_after_ms = 1000\nstall_ms = 4000\n",
        );
        let started = Instant::now();
        let mut a = Appliance::start(&cfg);
        wait_for_lines(&mut a, 10);
        a.signal(first);
        let first_at = Instant::now();
        std::thread::sleep(Duration::from_millis(500));
        // Still draining: running, no final stats yet.
        assert!(a.running(), "efd-lb stopped before the stall ended");
        let finals = json_lines(&a.lines())
            .iter()
            .filter(|v| v["final"] == Value::Bool(true))
            .count();
        assert_eq!(finals, 0, "final stats before the drain ended");
        a.signal(second);
        let end = a.wait(Duration::from_secs(20));
        end.assert_clean();
        let took = end.at - first_at;
        // The stall ends at most 5 s after start (its clock starts after the
        // process did).
        assert!(
            end.at < started + Duration::from_secs(8),
            "stopped {:?} after start",
            end.at - started
        );
        // The drain waited for the stall's end (5 s after the launch).
        assert!(
            end.at >= started + Duration::from_secs(5),
            "stopped {:?} after start, before the stall ended",
            end.at - started
        );
        assert!(took >= Duration::from_millis(500));
        let v = end.final_stats();
        // The stalled node's ring was full when the drain began (its
        // packets were being dropped), and the drain emptied it
        // (conservation holds for it: every packet enqueued was filtered).
        assert!(node(&v, 0, "rx_drop") > 0);
    }
}

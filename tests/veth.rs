//! The real traffic path: efd-lb between veth pairs through DPDK's
//! `net_af_packet` PMD, fed by tcpreplay and watched by tcpdump, tools we
//! did not write.
//!
//! Each test builds its own three network namespaces (names carry the pid,
//! so parallel runs never meet, and the host's network daemons never see
//! the interfaces):
//!
//! ```text
//!  sender ns            lb ns (efd-lb)                         receiver ns
//!  tcpreplay -> A0 <-veth-> A1 = net_af_packet0 ... net_af_packet1 = B1 <-veth-> B0 -> tcpdump
//! ```
//!
//! IPv6 is disabled on every test interface before it comes up (no router
//! solicitations or MLD reports), no interface has an address (the kernel
//! neither answers nor forwards the frames), and tcpdump captures only what
//! arrives at B0. A [`Topology`] guard deletes the namespaces, and with them
//! the veth pairs, even when a test fails; namespaces left by a killed
//! earlier run (whose pid is gone) are deleted first.
//!
//! Where tcpreplay, tcpdump or `ip` are missing, or namespaces cannot be
//! made (not root, a container without `CAP_SYS_ADMIN`), each test prints
//! why and returns; with `CI` set, a missing tool is a failure.

mod runner;

use efd_lb::key::{FlowKey, KeyKind};
use efd_lb::pcap::PcapReader;
use runner::predict::{assert_counts, predict};
use runner::{assert_conservation, bin, serial, u, workdir, write_config};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// The prefix of every namespace these tests make: `efdlbt-<pid>-...`.
const NS_PREFIX: &str = "efdlbt-";

fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            std::fs::metadata(d.join(tool)).is_ok_and(|m| {
                m.is_file() && {
                    use std::os::unix::fs::PermissionsExt;
                    m.permissions().mode() & 0o111 != 0
                }
            })
        })
    })
}

/// Runs `ip ARGS`; its stderr on failure.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `sh -c SCRIPT` in namespace `ns`; its stderr on failure.
fn in_ns_sh(ns: &str, script: &str) -> Result<(), String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", script])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{script}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "in {ns}: {script}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Deletes the namespaces of earlier runs whose process is gone (a test
/// killed before its guard ran).
fn delete_leftovers() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(NS_PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// Why this machine cannot run the test (`None`: it can). Panics in CI
/// when a tool is missing.
fn unavailable() -> Option<String> {
    static LEFTOVERS: Once = Once::new();
    let missing: Vec<&str> = ["ip", "tcpreplay", "tcpdump"]
        .into_iter()
        .filter(|t| !on_path(t))
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "{} not found (apt-get install iproute2 tcpreplay tcpdump)",
            missing.join(", ")
        );
        assert!(!in_ci(), "CI is set and {why}");
        return Some(why);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: network namespaces and veth pairs need root".into());
    }
    LEFTOVERS.call_once(delete_leftovers);
    // Namespaces and veth pairs may still be forbidden (a container).
    match Topology::new('p') {
        Ok(t) => {
            drop(t);
            None
        }
        Err(e) => Some(format!("cannot make network namespaces here: {e}")),
    }
}

/// Prints why the test is skipped and returns true, or returns false.
fn skip() -> bool {
    match unavailable() {
        Some(why) => {
            eprintln!("skipped: {why}");
            true
        }
        None => false,
    }
}

/// Three namespaces and two veth pairs (see the module doc); dropping it
/// deletes them.
struct Topology {
    /// The namespaces made so far (deleted on drop).
    made: Vec<String>,
    sender: String,
    lb: String,
    receiver: String,
    /// Sender's end, efd-lb's RX end.
    a0: String,
    a1: String,
    /// efd-lb's TX end, receiver's end.
    b1: String,
    b0: String,
}

impl Topology {
    /// Makes the namespaces and pairs of test `tag` (one letter per test).
    fn new(tag: char) -> Result<Topology, String> {
        let pid = std::process::id();
        let ns = |role: &str| format!("{NS_PREFIX}{pid}-{tag}-{role}");
        // At most 1 + 7 + 1 + 2 = 11 characters (IFNAMSIZ is 16).
        let ifn = |end: &str| format!("e{pid}{tag}{end}");
        let mut t = Topology {
            made: Vec::new(),
            sender: ns("snd"),
            lb: ns("lb"),
            receiver: ns("rcv"),
            a0: ifn("a0"),
            a1: ifn("a1"),
            b1: ifn("b1"),
            b0: ifn("b0"),
        };
        for n in [t.sender.clone(), t.lb.clone(), t.receiver.clone()] {
            ip(&["netns", "add", &n])?;
            t.made.push(n.clone());
            // New interfaces of the namespace start without IPv6; a kernel
            // without IPv6 has nothing to disable.
            in_ns_sh(
                &n,
                "if [ -d /proc/sys/net/ipv6 ]; then \
                 echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 && \
                 echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; fi",
            )?;
        }
        let pairs = [
            (&t.sender, &t.a0, &t.lb, &t.a1),
            (&t.lb, &t.b1, &t.receiver, &t.b0),
        ];
        for (ns0, i0, ns1, i1) in pairs {
            ip(&[
                "link", "add", i0, "netns", ns0, "type", "veth", "peer", "name", i1, "netns", ns1,
            ])?;
        }
        for (n, i) in [
            (&t.sender, &t.a0),
            (&t.lb, &t.a1),
            (&t.lb, &t.b1),
            (&t.receiver, &t.b0),
        ] {
            in_ns_sh(
                n,
                &format!(
                    "if [ -d /proc/sys/net/ipv6 ]; then \
                     echo 1 > /proc/sys/net/ipv6/conf/{i}/disable_ipv6; fi"
                ),
            )?;
            ip(&["-n", n, "link", "set", i, "up"])?;
        }
        Ok(t)
    }

    /// `ip netns exec NS PROGRAM ARGS` (ip execs the program: its pid is
    /// the child's).
    fn command(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]).stdin(Stdio::null());
        c
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for n in self.made.drain(..).rev() {
            if let Err(e) = ip(&["netns", "del", &n]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// A child process killed on drop, its stdout and stderr read into lines
/// by two threads.
struct Proc {
    name: &'static str,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    status: Option<ExitStatus>,
}

fn collect(r: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            match line {
                Ok(s) => l.lock().unwrap().push(s),
                Err(_) => break,
            }
        }
    });
    lines
}

impl Proc {
    fn spawn(name: &'static str, mut c: Command) -> Proc {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Proc {
            name,
            child,
            stdout,
            stderr,
            status: None,
        }
    }

    fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    fn stderr_text(&self) -> String {
        self.stderr().join("\n")
    }

    /// Waits up to `limit` for a stderr line with `what`; panics with
    /// stderr if none comes (or the process ends first).
    fn wait_stderr(&mut self, what: &str, limit: Duration) {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if self.stderr().iter().any(|l| l.contains(what)) {
                return;
            }
            if let Some(s) = self.try_wait() {
                panic!(
                    "{} ended ({s}) before saying {what:?}: {}",
                    self.name,
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{} did not say {what:?} in {limit:?}: {}",
            self.name,
            self.stderr_text()
        );
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
        }
        self.status
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet
        // (status is read only through wait), so the pid is still ours.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits up to `limit` for the exit; `None` if it is still running.
    fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        loop {
            if let Some(s) = self.try_wait() {
                // Let the reader threads take the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return Some(s);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGINT, then the exit status (panics if it takes over `limit`).
    fn interrupt(&mut self, limit: Duration) -> ExitStatus {
        self.signal(libc::SIGINT);
        self.wait_for(limit).unwrap_or_else(|| {
            panic!(
                "{} still running {limit:?} after SIGINT: {}",
                self.name,
                self.stderr_text()
            )
        })
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The stats lines efd-lb printed so far (JSON).
fn stats_lines(lb: &Proc) -> Vec<Value> {
    lb.stdout()
        .iter()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits up to `limit` for a stats line that satisfies `ok`.
fn wait_stats(lb: &mut Proc, limit: Duration, what: &str, ok: impl Fn(&Value) -> bool) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if stats_lines(lb).iter().any(&ok) {
            return;
        }
        if let Some(s) = lb.try_wait() {
            panic!(
                "efd-lb ended ({s}) waiting for {what}: {}",
                lb.stderr_text()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let last = stats_lines(lb).pop();
    panic!("no stats line with {what} in {limit:?}; the last: {last:?}");
}

/// The final stats line (`"final": true`), which must be the last.
fn final_stats(lb: &Proc) -> Value {
    let v = stats_lines(lb)
        .pop()
        .unwrap_or_else(|| panic!("no stats from efd-lb: {}", lb.stderr_text()));
    assert_eq!(v["final"], Value::Bool(true), "the last stats are final");
    v
}

/// The lines efd-lb printed as `efd-lb: ...` (its errors).
fn error_lines(lb: &Proc) -> Vec<String> {
    lb.stderr()
        .iter()
        .filter_map(|l| l.strip_prefix("efd-lb: "))
        .map(String::from)
        .collect()
}

/// The frames of a pcap, read by the project's reader.
fn read_frames(path: &Path) -> Vec<Vec<u8>> {
    PcapReader::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|r| r.unwrap().data)
        .collect()
}

/// Makes `out` with efd-lb-pcapgen.
fn pcapgen(out: &Path, args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_efd-lb-pcapgen"))
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "efd-lb-pcapgen: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Whether a frame carries an 802.1Q tag.
fn tagged(f: &[u8]) -> bool {
    f.len() >= 14 && f[12..14] == [0x81, 0x00]
}

/// A number from a tool's output line `... <label> ... N` or `N <label>`.
fn count_in(lines: &[String], label: &str) -> Option<u64> {
    lines.iter().find(|l| l.contains(label)).and_then(|l| {
        l.split(|c: char| !c.is_ascii_digit())
            .find(|w| !w.is_empty())
            .and_then(|w| w.parse().ok())
    })
}

/// The EAL devices of a topology: efd-lb reads A1 (port 0) and sends on B1
/// (port 1). A ring of 4096 frames holds 0.2 s of the replay, so a
/// scheduling hiccup of the distributor costs no frame.
fn vdevs(t: &Topology) -> Vec<String> {
    vec![
        format!("net_af_packet0,iface={},framecnt=4096", t.a1),
        format!("net_af_packet1,iface={},framecnt=4096", t.b1),
    ]
}

/// Replays a pcap of `kind` traffic from efd-lb-pcapgen (`gen`: its
/// options) through the topology and checks that exactly the frames the
/// flow table passes come out of B0, and that efd-lb's final stats count
/// every frame where the prediction says.
fn real_traffic<K: FlowKey<Bytes = [u8; N]>, const N: usize>(
    kind: KeyKind,
    tag: char,
    gen: &[&str],
) {
    let _g = serial();
    if skip() {
        return;
    }
    let dir = workdir(&format!("veth_{kind}"));
    let (num_flows, num_nodes, value_bits) = (1000u32, 3u16, 2u8);
    let input = dir.join("in.pcap");
    let mut args = vec!["--key", kind.name(), "--known-flows", "1000"];
    args.extend_from_slice(gen);
    pcapgen(&input, &args);
    let frames = read_frames(&input);
    let exp = predict::<K, N>(&frames, num_flows, num_nodes, value_bits);
    // The input has what the test is about, so it cannot pass vacuously:
    // tagged frames forwarded, every malformed frame of the kind, frames
    // of unknown flows dropped both ways.
    assert!(exp.passed.iter().all(|&p| p > 0), "{exp:?}");
    assert!(
        exp.passed_frames.iter().any(|f| tagged(f)),
        "no tagged frame passes"
    );
    for m in efd_lb::traffic::Malformed::of_kind(kind) {
        let r = m.reason(kind).name();
        assert!(exp.reasons[r] > 0, "{kind}: no {r} frame");
    }
    assert!(exp.unknown_node > 0 && exp.filtered.iter().sum::<u64>() > 0);

    let t = Topology::new(tag).expect("topology");
    let cfg = write_config(
        &dir,
        &format!(
            "key = \"{kind}\"\nnum_nodes = {num_nodes}\nnum_flows = {num_flows}\nvalue_bits = {value_bits}\n[rings]\nsize = 8192"
        ),
        &vdevs(&t),
    );
    let out = dir.join("out.pcap");
    // tcpdump as root (-Z root): it writes into the test's directory. In
    // immediate mode libpcap's ring has one slot per snaplen: with the
    // default snaplen (256 KiB) its 2 MiB hold 8 frames and the kernel
    // drops the rest of a burst; 2 KiB slots (no frame here is longer) in
    // 16 MiB hold every frame of a run.
    let mut dump = t.command(&t.receiver, "tcpdump");
    dump.args([
        "-i",
        &t.b0,
        "-Q",
        "in",
        "-n",
        "-U",
        "--immediate-mode",
        "-s",
        "2048",
        "-B",
        "16384",
        "-Z",
        "root",
        "-w",
    ])
    .arg(&out);
    let mut dump = Proc::spawn("tcpdump", dump);
    dump.wait_stderr("listening on", Duration::from_secs(10));

    let mut lb = t.command(&t.lb, bin());
    lb.args(["--config", cfg.to_str().unwrap()]);
    let mut lb = Proc::spawn("efd-lb", lb);
    lb.wait_stderr("running", Duration::from_secs(30));

    let mut replay = t.command(&t.sender, "tcpreplay");
    replay.args(["-i", &t.a0, "--pps", "20000"]).arg(&input);
    let replay = replay.output().unwrap();
    let said: Vec<String> = String::from_utf8_lossy(&replay.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert!(
        replay.status.success(),
        "tcpreplay: {said:?} {}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert_eq!(
        count_in(&said, "Successful packets"),
        Some(frames.len() as u64),
        "{said:?}"
    );
    assert_eq!(count_in(&said, "Failed packets"), Some(0), "{said:?}");

    // Every frame reached efd-lb (else the kernel dropped some: the final
    // counters below would say so).
    let sent = frames.len() as u64;
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end
        && stats_lines(&lb)
            .last()
            .is_none_or(|v| u(&v["ports"][0]["rx"]) < sent)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = lb.interrupt(Duration::from_secs(10));
    assert!(status.success(), "efd-lb: {status}: {}", lb.stderr_text());
    let v = final_stats(&lb);
    // What efd-lb sent is on B0 by now (veth delivers as it is sent).
    std::thread::sleep(Duration::from_millis(300));
    let dumped = dump.interrupt(Duration::from_secs(10));
    assert!(
        dumped.success(),
        "tcpdump: {dumped}: {}",
        dump.stderr_text()
    );
    let dump_said = dump.stderr();
    assert_eq!(
        count_in(&dump_said, "dropped by kernel"),
        Some(0),
        "tcpdump: {dump_said:?}"
    );

    assert_conservation(&v);
    assert_eq!(u(&v["ports"][0]["rx"]), sent, "port 0 rx: {v}");
    assert_eq!(
        u(&v["ports"][1]["rx"]),
        0,
        "nothing comes back on port 1: {v}"
    );
    assert_counts(&v, &exp, &kind.to_string());
    let passed = exp.passed_frames.len() as u64;
    assert_eq!(u(&v["ports"][1]["tx"]), passed, "port 1 tx");
    assert_eq!(u(&v["ports"][0]["tx"]), 0, "port 0 tx");

    // What came out of B0 is exactly what the flow table passes.
    let mut got = read_frames(&out);
    assert_eq!(
        count_in(&dump_said, "packets captured"),
        Some(got.len() as u64)
    );
    let mut want = exp.passed_frames;
    got.sort();
    want.sort();
    if got != want {
        let extra = got.iter().filter(|f| !want.contains(f)).count();
        let missing = want.iter().filter(|f| !got.contains(f)).count();
        panic!(
            "{kind}: {} frames out, {} expected: {extra} unexpected, {missing} missing",
            got.len(),
            want.len()
        );
    }
    drop(t);
}

/// The seed key: 802.1Q-tagged, malformed (every ipv4_dst reason) and
/// unknown-flow frames among the known flows' packets.
#[test]
fn veth_ipv4_dst_forwards_exactly_the_passed_frames() {
    real_traffic::<efd_lb::key::Ipv4Dst, 4>(
        KeyKind::Ipv4Dst,
        'a',
        &[
            "--packets",
            "4000",
            "--unknown-pct",
            "15",
            "--malformed-pct",
            "6",
            "--vlan-pct",
            "15",
            "--seed",
            "11",
        ],
    );
}

/// IPv4 and IPv6 5-tuples in one appliance, with extension headers, IPv4
/// options, VLAN tags, malformed and unknown-flow frames. No fragments:
/// DPDK 22.11's net_af_packet joins its sockets to a fanout group with
/// `PACKET_FANOUT_FLAG_DEFRAG`, so the kernel reassembles IPv4 fragments
/// before efd-lb sees them and drops those that never complete (the
/// generator's); the pcap replays in tests/appliance.rs cover fragments.
#[test]
fn veth_5tuple_forwards_exactly_the_passed_frames() {
    real_traffic::<efd_lb::key::FiveTuple, 37>(
        KeyKind::FiveTuple,
        'b',
        &[
            "--packets",
            "4000",
            "--unknown-pct",
            "15",
            "--malformed-pct",
            "8",
            "--vlan-pct",
            "15",
            "--ext-pct",
            "15",
            "--seed",
            "12",
        ],
    );
}

/// The interface efd-lb receives on is deleted while traffic flows: one
/// error line naming the port and the interface, the final stats, every
/// mbuf back, exit status 1, within seconds.
#[test]
fn veth_rx_interface_deleted_mid_run_stops_with_status_1() {
    let _g = serial();
    if skip() {
        return;
    }
    let dir = workdir("veth_vanish");
    let input = dir.join("in.pcap");
    pcapgen(
        &input,
        &[
            "--packets",
            "20000",
            "--known-flows",
            "1000",
            "--unknown-pct",
            "10",
            "--seed",
            "5",
        ],
    );
    let t = Topology::new('c').expect("topology");
    let cfg = write_config(&dir, "num_nodes = 3\nnum_flows = 1000", &vdevs(&t));
    let mut lb = t.command(&t.lb, bin());
    lb.args(["--config", cfg.to_str().unwrap()]);
    let mut lb = Proc::spawn("efd-lb", lb);
    lb.wait_stderr("running", Duration::from_secs(30));
    // Replays in a loop until its interface goes with the pair.
    let mut replay = t.command(&t.sender, "tcpreplay");
    replay
        .args(["-i", &t.a0, "--pps", "20000", "--loop", "0"])
        .arg(&input);
    let _replay = Proc::spawn("tcpreplay", replay);
    wait_stats(&mut lb, Duration::from_secs(10), "traffic forwarded", |v| {
        u(&v["ports"][0]["rx"]) > 2000 && u(&v["ports"][1]["tx"]) > 0
    });

    ip(&["-n", &t.lb, "link", "del", &t.a1]).unwrap();
    let deleted = Instant::now();
    let status = lb.wait_for(Duration::from_secs(10));
    let took = deleted.elapsed();
    let status = status.unwrap_or_else(|| {
        panic!(
            "efd-lb still running 10 s after its interface was deleted: {}",
            lb.stderr_text()
        )
    });
    assert!(
        took < Duration::from_secs(5),
        "stopped {took:?} after the deletion"
    );
    let stderr = lb.stderr_text();
    assert_eq!(status.code(), Some(1), "exit status: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // One error line, naming the port and the interface (no mbuf lost:
    // that would be a line of its own).
    let errors = error_lines(&lb);
    assert_eq!(errors.len(), 1, "{stderr}");
    let port = "port 0 (net_af_packet0)";
    assert!(
        errors[0].starts_with(port) && errors[0].contains(&format!("interface {} is gone", t.a1)),
        "{errors:?}"
    );
    // Logged when found, before the shutdown.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("ERROR") && l.contains(port) && l.contains("stopping")),
        "{stderr}"
    );
    let v = final_stats(&lb);
    assert_conservation(&v);
    assert!(u(&v["ports"][0]["rx"]) > 2000, "{v}");
    drop(t);
}

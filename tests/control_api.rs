//! The control API on the running appliance: the real binary on virtual
//! devices (net_pcap replaying a generated pcap, net_null), driven over
//! HTTP while packets flow.

mod runner;

use efd_lb::ctl::encode_segment;
use runner::{bin, serial, workdir, write_config};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound and released: another process could take
/// it in between, which the test would report as a failed start).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request; the status and the body.
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status: u16 = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |b| b.1).to_string();
    (status, body)
}

fn json(port: u16, method: &str, path: &str, body: Option<&str>) -> Value {
    let (status, text) = http(port, method, path, body);
    assert_eq!(status, 200, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
}

struct Appliance {
    child: Child,
    port: u16,
    stopped: bool,
}

impl Drop for Appliance {
    /// A failed test must not leave the appliance running.
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Appliance {
    fn start(dir: &Path, config: &Path, extra: &[&str], port: u16) -> Appliance {
        let mut c = Command::new(bin());
        c.arg("--config")
            .arg(config)
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = c.spawn().expect("start efd-lb");
        let mut a = Appliance {
            child,
            port,
            stopped: false,
        };
        let t = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Some(status) = a.child.try_wait().unwrap() {
                a.stopped = true;
                let mut err = String::new();
                let _ = a.child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("efd-lb exited ({status}) before its API came up: {err}");
            }
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "the API did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        a
    }

    fn stats(&self) -> Value {
        json(self.port, "GET", "/stats", None)
    }

    /// Sum of a node counter over the nodes.
    fn node_sum(&self, field: &str) -> u64 {
        let s = self.stats();
        s["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n[field].as_u64().unwrap())
            .sum()
    }

    /// SIGINT, then the exit status and the final JSON stats line.
    fn stop(mut self) -> (i32, Value) {
        let r = self.stop_inner();
        self.stopped = true;
        r
    }

    fn stop_inner(&mut self) -> (i32, Value) {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = self.child.wait().unwrap();
        let last = out
            .lines()
            .rev()
            .find(|l| l.contains("\"final\":true"))
            .unwrap_or_else(|| panic!("no final stats; stderr: {err}"));
        (
            status.code().unwrap_or(-1),
            serde_json::from_str(last).unwrap(),
        )
    }
}

/// A config: 2 nodes, `flows` flows, a pcap of known flows only, replayed
/// forever (`infinite`) or once, the API on `port`.
fn config(dir: &Path, flows: u32, infinite: bool, port: u16, control: &str) -> std::path::PathBuf {
    let pcap = dir.join("traffic.pcap");
    let body = format!(
        "num_nodes = 2\nnum_flows = {flows}\n\
         [traffic]\npcap = {pcap:?}\npackets = 20000\nknown_flows = {flows}\nunknown_pct = 0.0\nmalformed_pct = 0.0\nvlan_pct = 0.0\n\
         [control]\nlisten = \"127.0.0.1:{port}\"\n{control}\n"
    );
    write_config(
        dir,
        &body,
        &[
            format!(
                "net_pcap0,rx_pcap={},infinite_rx={}",
                pcap.display(),
                u8::from(infinite)
            ),
            "net_null0,no-rx=1".to_string(),
        ],
    )
}

/// Drain and restore of a node over HTTP while the pcap replays: no packet
/// of a flow is dropped by a node filter, the drained node forwards nothing
/// while out; then a snapshot, and a restart from it routes every flow to
/// the node it had, with the nodes' states and weights.
#[test]
fn drain_restore_and_restart_from_a_snapshot_over_http() {
    let _guard = serial();
    let dir = workdir("control_api_drain");
    let port = free_port();
    let snap = dir.join("flows.snapshot");
    let cfg = config(&dir, 20_000, true, port, &format!("snapshot = {snap:?}"));
    let a = Appliance::start(&dir, &cfg, &[], port);
    let t = Instant::now();
    while a.node_sum("tx") < 100_000 {
        assert!(t.elapsed() < Duration::from_secs(30), "no traffic");
        std::thread::sleep(Duration::from_millis(50));
    }
    for round in 0..3 {
        let r = json(port, "POST", "/nodes/0/drain", None);
        assert_eq!(r["moved"], 10_000, "round {round}");
        let nodes = json(port, "GET", "/nodes", None);
        assert_eq!(nodes[0]["state"], "out");
        assert_eq!(nodes[0]["flows"], 0);
        assert_eq!(nodes[1]["flows"], 20_000);
        // Out: node 0 forwards nothing (the stats are sampled every 100 ms).
        std::thread::sleep(Duration::from_millis(250));
        let tx0 = a.stats()["nodes"][0]["tx"].as_u64().unwrap();
        let tx1 = a.stats()["nodes"][1]["tx"].as_u64().unwrap();
        std::thread::sleep(Duration::from_millis(400));
        let s = a.stats();
        assert_eq!(
            s["nodes"][0]["tx"].as_u64().unwrap(),
            tx0,
            "node 0 forwards while out"
        );
        assert!(
            s["nodes"][1]["tx"].as_u64().unwrap() > tx1,
            "node 1 stalled"
        );
        let r = json(port, "POST", "/nodes/0/restore", None);
        assert_eq!(r["moved"], 10_000);
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        a.node_sum("filter_drop"),
        0,
        "a packet of a moving flow was dropped"
    );

    // Changes that a restart must keep.
    let was = json(port, "GET", "/flows/0.0.0.7", None)["node"]
        .as_u64()
        .unwrap();
    let to = 1 - was;
    let r = json(
        port,
        "PUT",
        "/flows/0.0.0.7",
        Some(&format!("{{\"node\":{to}}}")),
    );
    assert_eq!(
        (r["previous"].as_u64(), r["node"].as_u64()),
        (Some(was), Some(to))
    );
    // Weights 1:3 of 20000 flows: node 0 keeps 5000 and gives the rest.
    let r = json(port, "PUT", "/nodes/1/weight", Some(r#"{"weight":3}"#));
    assert_eq!(r["moved"], if to == 0 { 5_001 } else { 4_999 });
    let nodes_before = json(port, "GET", "/nodes", None);
    assert_eq!(
        (
            nodes_before[0]["flows"].as_u64(),
            nodes_before[1]["weight"].as_u64()
        ),
        (Some(5_000), Some(3))
    );
    let page = json(port, "GET", "/nodes/0/flows?limit=100000", None);
    assert_eq!(page["total"], 5_000);
    let r = json(port, "POST", "/snapshot", None);
    assert_eq!(r["flows"], 20_000);
    assert!(snap.exists());

    let (code, last) = a.stop();
    assert_eq!(code, 0);
    for n in last["nodes"].as_array().unwrap() {
        assert_eq!(n["filter_drop"], 0);
    }

    // Restart: the snapshot, not the configured population.
    let b = Appliance::start(&dir, &cfg, &[], port);
    let nodes = json(port, "GET", "/nodes", None);
    for (x, y) in nodes
        .as_array()
        .unwrap()
        .iter()
        .zip(nodes_before.as_array().unwrap())
    {
        assert_eq!(
            (&x["state"], &x["weight"], &x["flows"]),
            (&y["state"], &y["weight"], &y["flows"])
        );
    }
    assert_eq!(json(port, "GET", "/flows/0.0.0.7", None)["node"], to);
    let again = json(port, "GET", "/nodes/0/flows?limit=100000", None);
    let mut f0: Vec<String> = serde_json::from_value(page["flows"].clone()).unwrap();
    let mut f1: Vec<String> = serde_json::from_value(again["flows"].clone()).unwrap();
    f0.sort();
    f1.sort();
    assert_eq!(f0, f1, "node 0's flows after the restart");
    let t = Instant::now();
    while b.node_sum("tx") < 50_000 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no traffic after the restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, last) = b.stop();
    assert_eq!(code, 0);
    for n in last["nodes"].as_array().unwrap() {
        assert_eq!(
            n["filter_drop"], 0,
            "a flow went to another node after the restart"
        );
    }
}

/// The value of one sample of the exposition, by name and labels.
fn sample(text: &str, name: &str, labels: &str) -> u64 {
    let want = if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{labels}}}")
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&want).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no sample {want}"))
        .parse::<f64>()
        .unwrap() as u64
}

/// `/metrics` passes `promtool check metrics`, and once the traffic has
/// ended its counters equal the final JSON stats; refused requests are
/// 4xx with a one-line JSON reason and change nothing.
#[test]
fn metrics_pass_promtool_and_equal_the_final_stats() {
    let _guard = serial();
    let dir = workdir("control_api_metrics");
    let port = free_port();
    let cfg = config(
        &dir,
        10_000,
        false,
        port,
        "capacity = 10001\nmax_body_mb = 1\ncpu = 1",
    );
    let a = Appliance::start(&dir, &cfg, &[], port);
    // control.cpu: the control thread is pinned there.
    let tasks = format!("/proc/{}/task", a.child.id());
    let pinned: Vec<String> = std::fs::read_dir(&tasks)
        .unwrap()
        .filter_map(|t| {
            let t = t.ok()?.path();
            let comm = std::fs::read_to_string(t.join("comm")).ok()?;
            (comm.trim() == "efd-lb-control").then_some(())?;
            let status = std::fs::read_to_string(t.join("status")).ok()?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .collect();
    assert_eq!(pinned, vec!["1".to_string()], "control thread affinity");

    // Refusals, each with the table unchanged.
    let nodes = json(port, "GET", "/nodes", None);
    for (method, path, body, status, text) in [
        ("PUT", "/flows/10.0.0.300", r#"{"node":0}"#, 400, "bad key"),
        (
            "PUT",
            "/flows/10.0.0.3",
            r#"{"node":2}"#,
            400,
            "node 2 out of range (2 nodes)",
        ),
        ("PUT", "/flows/10.0.0.3", r#"{"node":"x"}"#, 400, ""),
        ("GET", "/nodes/5", "", 404, "node 5 out of range"),
        (
            "DELETE",
            "/flows/10.0.0.3",
            "",
            404,
            "flow 10.0.0.3 not found",
        ),
        ("POST", "/nodes/1/restore", "", 409, "already active"),
        (
            "POST",
            "/flows",
            r#"{"file":"/nonexistent"}"#,
            400,
            "/nonexistent",
        ),
    ] {
        let (st, text_got) = http(port, method, path, (!body.is_empty()).then_some(body));
        assert_eq!(st, status, "{method} {path}: {text_got}");
        let v: Value = serde_json::from_str(&text_got).unwrap();
        let e = v["error"].as_str().unwrap();
        assert!(
            e.contains(text) && !e.contains('\n'),
            "{method} {path}: {e}"
        );
    }
    // control.capacity: one more flow fits, the second is refused.
    assert_eq!(
        http(port, "PUT", "/flows/10.0.0.1", Some(r#"{"node":0}"#)).0,
        200
    );
    let (st, text) = http(port, "PUT", "/flows/10.0.0.2", Some(r#"{"node":0}"#));
    assert_eq!(st, 409, "{text}");
    assert!(text.contains("capacity of 10001"), "{text}");
    // control.max_body_mb: a body over 1 MiB is 413.
    let big = format!("{{\"node\":0{}}}", " ".repeat(1 << 20));
    assert_eq!(http(port, "PUT", "/flows/10.0.0.2", Some(&big)).0, 413);
    let after = json(port, "GET", "/nodes", None);
    assert_eq!(
        after[0]["flows"].as_u64().unwrap(),
        nodes[0]["flows"].as_u64().unwrap() + 1
    );
    assert_eq!(after[1]["flows"], nodes[1]["flows"]);

    // The pcap is replayed once: wait until the counters stop moving.
    let mut prev = String::new();
    let t = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(400));
        let s = a.stats();
        let now = format!("{}", s["nodes"]);
        if now == prev && s["ports"][0]["rx"].as_u64().unwrap() > 0 {
            break;
        }
        prev = now;
        assert!(t.elapsed() < Duration::from_secs(60), "traffic did not end");
    }
    let (st, text) = http(port, "GET", "/metrics", None);
    assert_eq!(st, 200);
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(mut p) => {
            p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            let out = p.wait_with_output().unwrap();
            assert!(
                out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
                "promtool: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is missing in CI: {e}"
            );
            eprintln!("skipping promtool check: {e} (apt-get install prometheus)");
        }
    }
    let (code, last) = a.stop();
    assert_eq!(code, 0);
    let d = &last["distributor"];
    let u = |v: &Value| v.as_u64().unwrap();
    assert_eq!(
        sample(&text, "efd_lb_distributor_distributed_packets_total", ""),
        u(&d["distributed"])
    );
    assert_eq!(
        sample(&text, "efd_lb_distributor_processed_packets_total", ""),
        u(&d["packets"])
    );
    assert_eq!(
        sample(&text, "efd_lb_port_receive_packets_total", "port=\"0\""),
        u(&last["ports"][0]["rx"])
    );
    for (i, n) in last["nodes"].as_array().unwrap().iter().enumerate() {
        let l = format!("node=\"{i}\"");
        assert_eq!(
            sample(&text, "efd_lb_node_receive_packets_total", &l),
            u(&n["rx"])
        );
        assert_eq!(
            sample(&text, "efd_lb_node_transmit_packets_total", &l),
            u(&n["tx"])
        );
        assert_eq!(
            sample(&text, "efd_lb_node_filter_passed_packets_total", &l),
            u(&n["filter_passed"])
        );
        assert_eq!(
            sample(&text, "efd_lb_node_filter_dropped_packets_total", &l),
            u(&n["filter_drop"])
        );
    }
    assert_eq!(sample(&text, "efd_lb_table_flows", ""), 10_001);
    assert_eq!(sample(&text, "efd_lb_table_capacity_flows", ""), 10_001);
}

/// `unknown_flows = "assign"` on the running appliance: a pcap of only new
/// flows, replayed, is forwarded completely (no distributor or filter
/// drop), every flow is adopted, spread evenly over two nodes of equal
/// weight (within 5 %).
#[test]
fn assign_forwards_a_pcap_of_new_flows_completely() {
    let _guard = serial();
    let dir = workdir("control_api_assign");
    let port = free_port();
    let pcap = dir.join("new-flows.pcap");
    let body = format!(
        "num_nodes = 2\nnum_flows = 1\n\
         [traffic]\npcap = {pcap:?}\npackets = 20000\nknown_flows = 0\ntable_flows = 1\nunknown_pct = 100.0\nmalformed_pct = 0.0\nvlan_pct = 0.0\n\
         [control]\nlisten = \"127.0.0.1:{port}\"\nunknown_flows = \"assign\"\ncapacity = 100000\n"
    );
    let cfg = write_config(
        &dir,
        &body,
        &[
            format!("net_pcap0,rx_pcap={},infinite_rx=1", pcap.display()),
            "net_null0,no-rx=1".to_string(),
        ],
    );
    let a = Appliance::start(&dir, &cfg, &[], port);
    let t = Instant::now();
    loop {
        let (_, m) = http(port, "GET", "/metrics", None);
        if sample(&m, "efd_lb_adopted_flows_total", "") >= 20_000 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not every flow adopted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Every flow again, adopted.
    let before = a.node_sum("tx");
    while a.node_sum("tx") < before + 60_000 {
        assert!(t.elapsed() < Duration::from_secs(90), "traffic stalled");
        std::thread::sleep(Duration::from_millis(50));
    }
    let nodes = json(port, "GET", "/nodes", None);
    let (n0, n1) = (
        nodes[0]["flows"].as_u64().unwrap(),
        nodes[1]["flows"].as_u64().unwrap(),
    );
    assert_eq!(n0 + n1, 20_001);
    for n in [n0, n1] {
        assert!(n.abs_diff(10_000) < 500, "flows per node {n0} / {n1}");
    }
    let (code, last) = a.stop();
    assert_eq!(code, 0);
    assert_eq!(last["distributor"]["drop"], 0, "{}", last["distributor"]);
    // Every packet received is forwarded, or dropped on a full ring (the
    // replay runs at full rate on two cores), never filtered.
    let mut forwarded = 0;
    for n in last["nodes"].as_array().unwrap() {
        assert_eq!(n["filter_drop"], 0, "a packet of a new flow was dropped");
        assert_eq!(n["table_full"], 0);
        forwarded += n["tx"].as_u64().unwrap() + n["rx_drop"].as_u64().unwrap();
    }
    assert_eq!(forwarded, last["ports"][0]["rx"].as_u64().unwrap());
}

/// The API's address is taken: the lcores already run when the listener is
/// bound, and they are stopped again; start-up fails in one line naming
/// the address, with exit status 2, in bounded time.
#[test]
fn an_address_in_use_stops_what_started() {
    let _guard = serial();
    let dir = workdir("control_api_in_use");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cfg = config(&dir, 1000, true, port, "");
    let mut child = Command::new(bin())
        .arg("--config")
        .arg(&cfg)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start efd-lb");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("efd-lb still running 60 s after its API failed to bind");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("efd-lb: ") && last.contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    drop(taken);
}

/// `PUT /flows/{key}` of a key's text; the answer, which must be a 200.
fn put_flow(port: u16, key: &str, node: u16) -> Value {
    let body = format!("{{\"node\":{node}}}");
    json(
        port,
        "PUT",
        &format!("/flows/{}", encode_segment(key)),
        Some(&body),
    )
}

/// The API follows the key kind (`--key 5tuple`, IPv4 and IPv6 5-tuples):
/// listed keys read back as themselves, flows of either family are set,
/// moved (written in another accepted form), found and removed, and a bad
/// key's 400 says what is wrong with it, as a flow file's error does.
#[test]
fn five_tuple_flows_over_http_follow_the_key_kind() {
    let _guard = serial();
    let dir = workdir("control_api_5tuple");
    let port = free_port();
    let cfg = config(&dir, 1000, true, port, "");
    let a = Appliance::start(&dir, &cfg, &["--key", "5tuple"], port);
    let t = Instant::now();
    while a.node_sum("tx") < 10_000 {
        assert!(t.elapsed() < Duration::from_secs(30), "no traffic");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The generated flows, both families (flow i is IPv4 for even i, IPv6
    // for odd, on node i % 2), as the API lists them and reads them back.
    let mut keys = Vec::new();
    for node in 0..2u64 {
        let listed = json(port, "GET", &format!("/nodes/{node}/flows?limit=10"), None);
        assert_eq!(listed["total"], 500);
        for k in listed["flows"].as_array().unwrap() {
            let k = k.as_str().unwrap().to_string();
            let r = json(port, "GET", &format!("/flows/{}", encode_segment(&k)), None);
            assert_eq!(
                (r["key"].as_str(), r["node"].as_u64()),
                (Some(k.as_str()), Some(node))
            );
            keys.push(k);
        }
    }
    assert_eq!(keys.len(), 20);
    assert!(
        keys.iter().any(|k| k.starts_with('[')),
        "no IPv6 key: {keys:?}"
    );
    assert!(
        keys.iter().any(|k| !k.starts_with('[')),
        "no IPv4 key: {keys:?}"
    );

    // One IPv6 flow: set, moved under another spelling, removed.
    let v6 = "[2001:db8::1]:443 -> [2001:db8::2]:55000 udp";
    let r = put_flow(port, v6, 1);
    assert_eq!(
        (r["key"].as_str(), r["previous"].is_null()),
        (Some(v6), true)
    );
    let other = "[2001:DB8:0::1]:443->[2001:db8::2]:55000 17";
    let r = put_flow(port, other, 0);
    assert_eq!(
        (
            r["key"].as_str(),
            r["previous"].as_u64(),
            r["node"].as_u64()
        ),
        (Some(v6), Some(1), Some(0))
    );
    assert_eq!(
        json(port, "GET", &format!("/flows/{}", encode_segment(v6)), None)["node"],
        0
    );
    // As the README's curl sends it: brackets and colons raw.
    let raw = "/flows/[2001:db8::1]:443%20-%3E%20[2001:db8::2]:55000%20udp";
    assert_eq!(json(port, "GET", raw, None)["key"], v6);
    let r = json(
        port,
        "DELETE",
        &format!("/flows/{}", encode_segment(v6)),
        None,
    );
    assert_eq!(r["node"], 0);
    let (st, _) = http(port, "GET", &format!("/flows/{}", encode_segment(v6)), None);
    assert_eq!(st, 404);

    // One IPv4 flow, listed with its node's.
    let v4 = "10.9.0.1:1 -> 10.9.0.2:2 tcp";
    put_flow(port, v4, 1);
    let listed = json(port, "GET", "/nodes/1/flows?limit=1000", None);
    assert_eq!(listed["total"], 501);
    assert!(listed["flows"].as_array().unwrap().iter().any(|k| k == v4));

    // Bad keys: 400, the table unchanged, the reason named.
    for (key, why) in [
        (
            "10.9.0.1:1 -> 10.9.0.2:99999 tcp",
            "port \\\"99999\\\" is not a number 0..=65535",
        ),
        (
            "10.9.0.1:1 -> 10.9.0.2:2 foo",
            "unknown protocol \\\"foo\\\"",
        ),
        (
            "2001:db8::1:443 -> [2001:db8::2]:80 tcp",
            "an IPv6 address with a port goes in brackets",
        ),
        (
            "10.9.0.1:1 -> [2001:db8::2]:80 tcp",
            "write both in one family",
        ),
    ] {
        let (st, body) = http(
            port,
            "PUT",
            &format!("/flows/{}", encode_segment(key)),
            Some(r#"{"node":0}"#),
        );
        assert_eq!(st, 400, "{key}: {body}");
        assert!(
            body.contains("(5tuple)") && body.contains(why),
            "{key}: {body}"
        );
    }
    let nodes = json(port, "GET", "/nodes", None);
    assert_eq!(
        (nodes[0]["flows"].as_u64(), nodes[1]["flows"].as_u64()),
        (Some(500), Some(501))
    );
    let (code, _) = a.stop();
    assert_eq!(code, 0);
}

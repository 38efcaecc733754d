//! What the start-up and bad-input tests share: running the `efd-lb`
//! binary on virtual devices (`--no-huge`) and reading what it says.

#![allow(dead_code)]

pub mod predict;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// One EAL run at a time (two cores, shared).
pub static SERIAL: Mutex<()> = Mutex::new(());

/// Takes [`SERIAL`].
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_efd-lb")
}

/// A fresh directory for one test.
pub fn workdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// EAL arguments for a run on virtual devices without hugepages.
pub fn eal_args(mb: u32, vdevs: &[String]) -> Vec<String> {
    let mut args = vec![
        "--no-huge".to_string(),
        "-m".into(),
        mb.to_string(),
        "--no-shconf".into(),
        "--no-pci".into(),
        "--log-level=lib.eal:error".into(),
    ];
    for v in vdevs {
        args.push("--vdev".into());
        args.push(v.clone());
    }
    args
}

/// A config file `lb.toml` in `dir`: `body`, then EAL arguments for
/// `vdevs` with `-m mb`, JSON stats.
pub fn write_config_mb(dir: &Path, body: &str, mb: u32, vdevs: &[String]) -> PathBuf {
    let quoted: Vec<String> = eal_args(mb, vdevs)
        .iter()
        .map(|a| format!("{a:?}"))
        .collect();
    let text = format!(
        "lcores = \"0@0,1@1,2@0\"\n{body}\n[eal]\nargs = [{}]\n[stats]\nformat = \"json\"\nperiod_ms = 500\n",
        quoted.join(", ")
    );
    let path = dir.join("lb.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// [`write_config_mb`] with 512 MiB.
pub fn write_config(dir: &Path, body: &str, vdevs: &[String]) -> PathBuf {
    write_config_mb(dir, body, 512, vdevs)
}

pub fn run(args: &[&str]) -> Output {
    run_in(None, args)
}

/// Runs efd-lb (in `cwd` if given), stdin and stdout as pipes.
pub fn run_in(cwd: Option<&Path>, args: &[&str]) -> Output {
    let mut c = Command::new(bin());
    c.args(args).stdin(Stdio::null());
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    c.output().expect("run efd-lb")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The exit status (a signal counts as `None`).
pub fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// The lines efd-lb printed as `efd-lb: ...` on stderr.
pub fn error_lines(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter_map(|l| l.strip_prefix("efd-lb: "))
        .map(String::from)
        .collect()
}

/// Asserts the run exited with `want` and printed exactly one error line;
/// returns it.
pub fn one_error(out: &Output, want: i32) -> String {
    let lines = error_lines(out);
    assert_eq!(
        code(out),
        Some(want),
        "exit status; stderr: {}",
        stderr(out)
    );
    assert_eq!(lines.len(), 1, "one error line; stderr: {}", stderr(out));
    assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
    lines[0].clone()
}

pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "efd-lb failed ({:?}): {}",
        out.status,
        stderr(out)
    );
}

/// The last JSON line of stdout, which must be the final stats.
pub fn final_stats(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON stats in stdout; stderr: {}", stderr(out)));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["final"], serde_json::Value::Bool(true));
    v
}

pub fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Every packet accounted for exactly once in a stats JSON line (what the
/// appliance checks before it exits 0, checked again from what it
/// printed): port rx = distributed + drops by reason, node rx = passed +
/// filtered, passed = tx + tx_drop, distributed = the nodes' rx + rx_drop.
pub fn assert_conservation(v: &serde_json::Value) {
    let d = &v["distributor"];
    let port_rx: u64 = v["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| u(&p["rx"]))
        .sum();
    let reasons: u64 = d["drop_by_reason"]
        .as_object()
        .unwrap()
        .values()
        .map(u)
        .sum();
    assert_eq!(
        port_rx,
        u(&d["distributed"]) + u(&d["drop_unknown_node"]) + reasons,
        "port rx = distributed + drops by reason: {v}"
    );
    let mut enq = 0;
    for n in v["nodes"].as_array().unwrap() {
        enq += u(&n["rx"]) + u(&n["rx_drop"]);
        assert_eq!(
            u(&n["rx"]),
            u(&n["filter_passed"]) + u(&n["filter_drop"]),
            "node rx"
        );
        assert_eq!(
            u(&n["filter_passed"]),
            u(&n["tx"]) + u(&n["tx_drop"]),
            "node passed"
        );
    }
    assert_eq!(
        enq,
        u(&d["distributed"]),
        "distributed = nodes' rx + rx_drop"
    );
}

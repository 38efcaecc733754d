//! The first probe's findings (issue 22), each through the binary: memory
//! a configuration cannot have is refused before it is allocated, with an
//! advice that works; a device that does not come up stops start-up; the
//! traffic pcap is never replayed cut short; write failures fail the run;
//! `net_ring` is refused; counts may be hexadecimal; exit statuses follow
//! one convention (2: did not start, 1: failed at run time).

mod runner;

use runner::*;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn two_nulls() -> Vec<String> {
    vec!["net_null0".into(), "net_null1,no-rx=1".into()]
}

#[test]
fn flows_that_do_not_fit_in_memory_are_refused_before_allocating() {
    let avail = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap();
    if avail > 60 << 20 {
        println!(
            "skipped: {} GiB available, more than the test's flows need",
            avail >> 20
        );
        return;
    }
    let dir = workdir("heap");
    let cfg = write_config(&dir, "num_nodes = 2", &two_nulls());
    let _g = serial();
    let t = Instant::now();
    // The most flows the range allows (4294967295 is out of range now).
    let out = run(&["--config", cfg.to_str().unwrap(), "-f", "858993459"]);
    let line = one_error(&out, 2);
    assert!(
        line.starts_with("num_flows (-f) = 858993459: starting needs about ")
            && line.contains(" GiB of memory at its peak")
            && line.ends_with(" is available"),
        "{line}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "refused before building anything"
    );
}

/// The pool a plan needs is checked against the EAL's memory before it is
/// created, and the `-m` advised is enough: `-n 32` on two `net_null`
/// ports takes about 90,000 mbufs, 4 KiB each without hugepages.
#[test]
fn a_pool_too_large_for_the_eal_is_refused_with_an_m_that_works() {
    let dir = workdir("pool");
    let _g = serial();
    let cfg = write_config_mb(
        &dir,
        "num_nodes = 32\nnum_flows = 1024\nduration_s = 1",
        128,
        &two_nulls(),
    );
    let out = run(&["--config", cfg.to_str().unwrap()]);
    let line = one_error(&out, 2);
    assert!(
        line.contains(" mbufs (mostly ports.tx_desc = 1024 x 32 TX queue(s) x 2 port(s), the queues following num_nodes = 32) need about ")
            && line.contains("(4 KiB an mbuf, one per page with --no-huge)"),
        "{line}"
    );
    let mb: u32 = line
        .split("give the EAL -m ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no -m advice in {line}"));
    let cfg = write_config_mb(
        &dir,
        "num_nodes = 32\nnum_flows = 1024\nduration_s = 1",
        mb,
        &two_nulls(),
    );
    let out = run(&["--config", cfg.to_str().unwrap()]);
    assert_ok(&out);
}

#[test]
fn a_device_that_does_not_come_up_stops_start_up_naming_it() {
    let dir = workdir("probe");
    let _g = serial();
    for mask in ["0x1", "0x3"] {
        let cfg = write_config(
            &dir,
            "num_nodes = 2\nnum_flows = 64\nduration_s = 1",
            &[
                "net_pcap0,rx_pcap=/nonexistent-efd-lb.pcap".into(),
                "net_null0".into(),
            ],
        );
        // The rx_pcap is read first: its file is named.
        let out = run(&["--config", cfg.to_str().unwrap(), "-p", mask]);
        assert_eq!(
            one_error(&out, 2),
            "/nonexistent-efd-lb.pcap: No such file or directory"
        );
        // A device the EAL fails to probe for another reason (a missing
        // interface): the device is named, not the port that took its id.
        let cfg = write_config(
            &dir,
            "num_nodes = 2\nnum_flows = 64\nduration_s = 1",
            &["net_pcap0,iface=efd-lb-none0".into(), "net_null0".into()],
        );
        let out = run(&["--config", cfg.to_str().unwrap(), "-p", mask]);
        assert_eq!(
            one_error(&out, 2),
            "--vdev net_pcap0,iface=efd-lb-none0: the device did not come up (see the EAL's log above)",
            "-p {mask}"
        );
    }
}

#[test]
fn net_ring_is_refused_with_the_reason() {
    let dir = workdir("ring");
    let cfg = write_config(
        &dir,
        "num_nodes = 2\nnum_flows = 64\nduration_s = 1",
        &["net_null0".into(), "net_ring0".into()],
    );
    let _g = serial();
    let out = run(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(
        one_error(&out, 2),
        "port 1 (net_ring0): net_ring is not supported: what a port sends comes back on its own receive queue (packets loop between the ports) and what is left in its rings at shutdown is never freed; use net_null to discard or net_pcap to capture"
    );
}

/// A traffic configuration generating `packets` into `dir/t/gen.pcap`.
fn traffic_config(dir: &Path, packets: u64) -> std::path::PathBuf {
    let pcap = dir.join("t").join("gen.pcap");
    write_config(
        dir,
        &format!(
            "num_nodes = 2\nnum_flows = 1024\nduration_s = 1\n[traffic]\npcap = {:?}\npackets = {packets}\n",
            pcap.display().to_string()
        ),
        &[
            format!("net_pcap0,rx_pcap={},infinite_rx=1", pcap.display()),
            "net_null0,no-rx=1".into(),
        ],
    )
}

#[test]
fn an_interrupted_generation_leaves_no_pcap_to_replay() {
    let dir = workdir("gen_sigint");
    let cfg = traffic_config(&dir, 4_000_000);
    let pcap = dir.join("t").join("gen.pcap");
    let _g = serial();
    let mut command = Command::new(bin());
    command
        .args(["--config", cfg.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SIGINT as a terminal gives it: a test run started in the background
    // by a non-interactive shell has SIGINT ignored, and the child would
    // inherit that (the generation then finishes despite the signal).
    // SAFETY: `signal` is async-signal-safe, as `pre_exec` requires.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    // Wait until the generation has written something, then interrupt it.
    let t = Instant::now();
    let partial = loop {
        let found = std::fs::read_dir(dir.join("t")).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(".partial"))
        });
        if let Some(p) = found.filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 1 << 20)) {
            break p;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "no generation seen");
        std::thread::sleep(Duration::from_millis(5));
    };
    // SAFETY: a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        !pcap.exists(),
        "no pcap at the path after an interrupted generation"
    );
    assert!(partial.exists(), "the part stays under its temporary name");
    // The next start removes the part, generates the whole file, runs.
    let cfg = traffic_config(&dir, 1000);
    let out = run(&["--config", cfg.to_str().unwrap()]);
    assert_ok(&out);
    assert!(!partial.exists(), "stale part removed");
    let v = final_stats(&out);
    assert!(u(&v["ports"][0]["rx"]) > 1000, "replayed");
    assert_eq!(efd_lb::pcap::count_complete_records(&pcap).unwrap(), 1000);
}

#[test]
fn a_damaged_or_stale_traffic_pcap_is_generated_again() {
    let dir = workdir("gen_damaged");
    let cfg = traffic_config(&dir, 1000);
    let pcap = dir.join("t").join("gen.pcap");
    let _g = serial();
    assert_ok(&run(&["--config", cfg.to_str().unwrap()]));
    let whole = std::fs::read(&pcap).unwrap();
    // Cut short, as a crash of an older version left it.
    std::fs::write(&pcap, &whole[..whole.len() / 2]).unwrap();
    let out = run(&["--config", cfg.to_str().unwrap()]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("generating the traffic pcap again"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&pcap).unwrap(), whole);
    assert_eq!(
        std::fs::read(pcap.with_extension("pcap.old"))
            .unwrap()
            .len(),
        whole.len() / 2
    );
    // Another packet count: generated again too.
    let cfg = traffic_config(&dir, 500);
    assert_ok(&run(&["--config", cfg.to_str().unwrap()]));
    assert_eq!(efd_lb::pcap::count_complete_records(&pcap).unwrap(), 500);
}

#[test]
fn final_stats_that_cannot_be_written_fail_the_run() {
    let dir = workdir("stdout");
    let cfg = write_config(
        &dir,
        "num_nodes = 2\nnum_flows = 64\nduration_s = 1",
        &two_nulls(),
    );
    let _g = serial();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(bin())
        .args(["--config", cfg.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(
        one_error(&out, 1),
        "the final stats were not written to stdout: No space left on device"
    );
    // A closed stdout.
    let mut c = Command::new(bin());
    c.args(["--config", cfg.to_str().unwrap()])
        .stdin(Stdio::null());
    // SAFETY: only close(2) between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let out = c.output().unwrap();
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    let lines = error_lines(&out);
    assert_eq!(
        lines,
        [
            "warning: stdout is closed: the stats will not be seen",
            "the final stats were not written: stdout is closed"
        ]
    );
    // /dev/null is a choice, not a failure.
    let out = Command::new(bin())
        .args(["--config", cfg.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_ok(&out);
}

/// net_pcap counts a packet sent once libpcap took it, write errors or
/// not: a tx_pcap file that could not grow (here a file size limit) is
/// found short at shutdown.
#[test]
fn a_tx_pcap_short_of_what_was_sent_fails_the_run() {
    let dir = workdir("tx_short");
    let input = dir.join("in.pcap");
    efd_lb::traffic::write_pcap(
        &input,
        &efd_lb::traffic::TrafficSpec {
            packets: 2000,
            known_flows: 64,
            table_flows: 64,
            ..Default::default()
        },
    )
    .unwrap();
    let output = dir.join("out.pcap");
    let cfg = write_config(
        &dir,
        "num_nodes = 2\nnum_flows = 64\nduration_s = 2",
        &[
            format!("net_pcap0,rx_pcap={},infinite_rx=1", input.display()),
            format!("net_pcap1,tx_pcap={}", output.display()),
        ],
    );
    let _g = serial();
    let mut c = Command::new(bin());
    c.args(["--config", cfg.to_str().unwrap()])
        .stdin(Stdio::null());
    // SAFETY: setrlimit and signal between fork and exec; a write past the
    // limit then fails with EFBIG instead of killing the process.
    unsafe {
        c.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 64 << 10,
                rlim_max: 64 << 10,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = c.output().unwrap();
    let line = one_error(&out, 1);
    let held = efd_lb::pcap::count_complete_records(&output).unwrap();
    assert!(
        line.starts_with(&format!(
            "net_pcap1: tx_pcap={} holds {held} of the ",
            output.display()
        )) && line.ends_with(
            " packets sent to it (net_pcap does not report write errors: disk full, or a file size limit?)"
        ),
        "{line}"
    );
}

#[test]
fn hexadecimal_counts_run_as_the_help_example_says() {
    let dir = workdir("hex");
    let cfg = write_config(&dir, "duration_s = 1", &two_nulls());
    let _g = serial();
    let out = run(&[
        "--config",
        cfg.to_str().unwrap(),
        "-n",
        "0x4",
        "-f",
        "0x400",
    ]);
    assert_ok(&out);
    let v = final_stats(&out);
    assert_eq!(v["nodes"].as_array().unwrap().len(), 4);
}

//! Bad input, through the binary: every invalid flag, configuration key
//! and value, flow-file line and pcap input gets one line on stderr
//! (`efd-lb: ` and what is wrong where) and exit status 2, or, for frames
//! the appliance can take, a counted drop. Blank and comment lines of a
//! flow file are accepted.

mod runner;

use efd_lb::key::Ipv4Dst;
use efd_lb::pcap::PcapWriter;
use efd_lb::traffic::udp_frame;
use runner::*;
use std::path::Path;

/// A configuration on two `net_null` ports (no EAL run needed by the
/// cases that use it: they fail before).
fn null_config(dir: &Path) -> String {
    write_config(
        dir,
        "num_nodes = 2\nnum_flows = 64\nduration_s = 1",
        &["net_null0".into(), "net_null1,no-rx=1".into()],
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn every_bad_flag_gets_one_line_and_status_2() {
    let dir = workdir("bad_flags");
    let c = null_config(&dir);
    let nf = "flows: need 1..=858993459 (the most the EFD table holds with 25% headroom)";
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--bogus"], "unexpected argument '--bogus' found".into()),
        (vec!["-n"], "a value is required for '--num-nodes <N>' but none was supplied".into()),
        (vec!["-n", "x"], "invalid value 'x' for '--num-nodes <N>': not a count (decimal, or hexadecimal with 0x)".into()),
        (vec!["-n", "-3"], "invalid value '-3' for '--num-nodes <N>': not a count (decimal, or hexadecimal with 0x)".into()),
        (vec!["-n", "0"], "--num-nodes: 0 nodes: need at least 1".into()),
        (vec!["-n", "300"], "--num-nodes 300 exceeds what 8-bit EFD values can address (max 256)".into()),
        (vec!["-f", "4294967295"], format!("--num-flows: 4294967295 {nf}")),
        (vec!["-f", "0x"], "invalid value '0x' for '--num-flows <N>': not a count (decimal, or hexadecimal with 0x)".into()),
        (vec!["--value-bits", "9"], "--value-bits 9: value_bits must be 1..=8".into()),
        (vec!["--nodes-per-lcore", "70000"], "--nodes-per-lcore: 70000 nodes per lcore: out of range 1..=65535".into()),
        (vec!["--stats-period-ms", "0"], "--stats-period-ms: 0 ms: the period must be at least 1 ms".into()),
        (vec!["--stats-format", "xml"], "invalid value 'xml' for '--stats-format <FORMAT>' [possible values: auto, ansi, plain, json]".into()),
        (vec!["--duration-s", "1.5"], "invalid value '1.5' for '--duration-s <S>': not a count (decimal, or hexadecimal with 0x)".into()),
        (vec!["--lcores", "0-1"], "--lcores \"0-1\": need at least 3 lcores (stats, distributor, one worker)".into()),
        (vec!["-p", "0x0"], "--portmask 0x0 selects no port".into()),
        (vec!["-p", "0x4"], "portmask 0x4: port 2 is not available (DPDK found 2 ports)".into()),
        (vec!["--unknown-flows", "keep"], "--unknown-flows \"keep\": the policy is drop or assign".into()),
        (vec!["--flow-match", "fingerprint"], "--flow-match \"fingerprint\": needs a key wider than 8 bytes (key ipv4_dst is 4 bytes; use exact)".into()),
        (vec!["--key", "ipv6_5tuple", "--flow-match", "keys"], "--flow-match \"keys\": not a flow match (auto, exact or fingerprint)".into()),
        (vec!["--control-listen", "here"], "--control-listen \"here\": not an address and port (like 127.0.0.1:9900 or [::1]:9900)".into()),
        (vec!["--", "-l", "0-2"], "EAL argument \"-l\" conflicts with the lcores setting (use --lcores / `lcores` instead)".into()),
    ];
    let _g = serial();
    for (flags, want) in &cases {
        let mut a = vec!["--config", c.as_str()];
        a.extend(flags);
        let out = run(&a);
        assert_eq!(&one_error(&out, 2), want, "{flags:?}");
    }
    // --help is not an error, and documents the exit status.
    let out = run(&["--help"]);
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Exit status: 0"));
}

#[test]
fn every_bad_config_key_and_value_gets_one_line_and_status_2() {
    let dir = workdir("bad_keys");
    let file = dir.join("bad.toml");
    let f = file.display().to_string();
    let cases: Vec<(&str, String)> = vec![
        ("nodez = 3", format!("{f}: unknown key \"nodez\" at line 1")),
        ("[bogus]\nx = 1", format!("{f}: unknown key \"bogus\" at line 1")),
        ("[ports]\nburts = 3", format!("{f}: unknown key \"ports.burts\" at line 2")),
        ("num_nodes = ", format!("{f}: num_nodes: expected a value at line 1")),
        ("num_nodes = \"two\"", format!("{f}: num_nodes: invalid type: string \"two\", expected an integer at line 1")),
        ("num_flows = 4294967296", format!("{f}: num_flows: 4294967296 flows: need 1..=858993459 (the most the EFD table holds with 25% headroom)")),
        ("nodes_per_lcore = 70000", format!("{f}: nodes_per_lcore: 70000 nodes per lcore: out of range 1..=65535")),
        ("[rings]\nsize = 2147483648", format!("{f}: rings.size: ring size 2147483648 is above the maximum 268435456")),
        ("[rings]\nsize = 1000", format!("{f}: rings.size: ring size 1000 is not a power of two")),
        ("[rings]\nsize = 0", format!("{f}: rings.size: ring size 0 is below the minimum 2")),
        ("[ports]\nburst = 0", format!("{f}: ports.burst: 0 burst: need 1..=512")),
        ("[ports]\nrx_desc = 70000", format!("{f}: ports.rx_desc: 70000 descriptors: need 1..=65535")),
        ("[mempool]\ncache = 600", format!("{f}: mempool.cache: 600 cache: must be 0..=512")),
        ("[mempool]\nops = \"fifo\"", format!("{f}: mempool.ops: unknown variant `fifo`, expected one of `stack`, `lf_stack`, `ring`, `default` at line 2")),
        ("[stats]\nformat = \"xml\"", format!("{f}: stats.format: unknown variant `xml`, expected one of `auto`, `ansi`, `plain`, `json` at line 2")),
        ("[eal]\nargs = [\"--lcores=0-3\"]", "EAL argument \"--lcores=0-3\" conflicts with the lcores setting (use --lcores / `lcores` instead)".into()),
        ("[traffic]\npackets = 16777217", format!("{f}: traffic.packets: 16777217 packets: need 1..=16777216")),
        ("[traffic]\npackets = 10000000\nframe_len = 1518", format!("{f}: traffic.packets = 10000000 of traffic.frame_len = 1518: the pcap would take 14591 MiB, more than the 4096 MiB limit")),
        ("[traffic]\nunknown_pct = 101.0", format!("{f}: traffic.unknown_pct = 101: a percentage must be 0..=100")),
        ("[control]\ncapacity = 0", format!("{f}: control.capacity: 0 flows: need 1..=1073741824")),
    ];
    let _g = serial();
    for (text, want) in &cases {
        std::fs::write(&file, text).unwrap();
        let out = run(&["--config", &f]);
        assert_eq!(&one_error(&out, 2), want, "{text:?}");
    }
    // A missing file, a directory, a file that is not text.
    let missing = dir.join("missing.toml").display().to_string();
    let out = run(&["--config", &missing]);
    assert_eq!(
        one_error(&out, 2),
        format!("{missing}: No such file or directory")
    );
    let d = dir.display().to_string();
    let out = run(&["--config", &d]);
    assert_eq!(one_error(&out, 2), format!("{d}: Is a directory"));
    std::fs::write(&file, [0xffu8, 0xfe, 0, 1]).unwrap();
    let out = run(&["--config", &f]);
    assert_eq!(
        one_error(&out, 2),
        format!("{f}: stream did not contain valid UTF-8")
    );
}

#[test]
fn bad_flow_file_lines_get_one_line_with_file_and_line_and_status_2() {
    let dir = workdir("bad_flow_lines");
    let c = null_config(&dir);
    let flows = dir.join("flows.csv");
    let p = flows.display().to_string();
    let long = format!("10.0.0.1,0\n{}\n", "1".repeat(5000));
    let cases: Vec<(&str, String)> = vec![
        (
            "# ok\n10.0.0.1,0\n10.0.0,1\n",
            format!("{p}:3: bad IPv4 address \"10.0.0\""),
        ),
        (
            "10.0.0.1,0\n10.0.0.2,7\n",
            format!("{p}:2: node 7 out of range (2 nodes)"),
        ),
        (
            "10.0.0.1,0\n\n10.0.0.1,1\n",
            format!("{p}:3: flow 10.0.0.1 goes to node 1, but line 1 gives it node 0"),
        ),
        (
            "10.0.0.1,0\n10.0.0.1,0\n",
            format!("{p}:2: duplicate flow 10.0.0.1 (first at line 1)"),
        ),
        (
            "10.0.0.1 0\n",
            format!("{p}:1: expected \"key,node\", got \"10.0.0.1 0\""),
        ),
        ("10.0.0.1,one\n", format!("{p}:1: bad node id \"one\"")),
        ("# nothing\n\n", format!("{p}: no flows")),
        (
            &long,
            format!("{p}:2: line longer than 1024 bytes; expected \"key,node\" lines"),
        ),
    ];
    let _g = serial();
    for (text, want) in &cases {
        std::fs::write(&flows, text).unwrap();
        let out = run(&["--config", &c, "--flow-file", &p]);
        assert_eq!(&one_error(&out, 2), want, "{text:?}");
    }
    // A file that is not text: a pcap.
    let mut w = PcapWriter::create(&flows).unwrap();
    w.write_packet(0, 0, &udp_frame(Ipv4Dst::from_u32(1), None, 0, 60))
        .unwrap();
    w.finish().unwrap();
    let out = run(&["--config", &c, "--flow-file", &p]);
    assert_eq!(
        one_error(&out, 2),
        format!("{p}:1: not a line of text (binary data?); expected \"key,node\" lines")
    );
    let missing = dir.join("none.csv").display().to_string();
    let out = run(&["--config", &c, "--flow-file", &missing]);
    assert_eq!(
        one_error(&out, 2),
        format!("{missing}: No such file or directory")
    );

    // Blank lines, comments, CRLF and a byte-order mark are accepted.
    std::fs::write(
        &flows,
        "\u{feff}# ip,node\r\n\r\n   \n10.0.0.1,0  # first\r\n\t10.0.0.2 , 1\n#10.0.0.3,1\n",
    )
    .unwrap();
    let out = run(&["--config", &c, "--flow-file", &p]);
    assert_ok(&out);
}

/// A pcap of `frames` at `path`.
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut w = PcapWriter::create(path).unwrap();
    for f in frames {
        w.write_packet(0, 0, f).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn bad_pcap_inputs_get_one_line_and_status_2() {
    let dir = workdir("bad_pcaps");
    let _g = serial();
    let try_pcap = |name: &str, bytes: &[u8], infinite: bool| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut dev = format!("net_pcap0,rx_pcap={}", path.display());
        if infinite {
            dev.push_str(",infinite_rx=1");
        }
        let cfg = write_config(
            &dir,
            "num_nodes = 2\nnum_flows = 64\nduration_s = 1",
            &[dev, "net_null0,no-rx=1".into()],
        );
        (
            path.display().to_string(),
            run(&["--config", cfg.to_str().unwrap()]),
        )
    };
    // The global header cut short.
    let (p, out) = try_pcap("short.pcap", &0xa1b2_c3d4u32.to_le_bytes(), false);
    assert_eq!(
        one_error(&out, 2),
        format!("{p}: truncated: the file ends inside its 24-byte header")
    );
    // pcapng.
    let mut ng = 0x0a0d_0d0au32.to_le_bytes().to_vec();
    ng.extend_from_slice(&28u32.to_le_bytes());
    ng.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    ng.resize(28, 0);
    let (p, out) = try_pcap("capture.pcapng", &ng, false);
    assert_eq!(
        one_error(&out, 2),
        format!("{p}: is a pcapng file; convert with `editcap -F pcap {p} out.pcap`")
    );
    // Not a pcap at all.
    let (p, out) = try_pcap("notes.txt", b"hello, world\n", false);
    assert_eq!(one_error(&out, 2), format!("{p}: not a pcap file"));
    // A record cut short.
    let good = dir.join("good.pcap");
    write_pcap(
        &good,
        &vec![udp_frame(Ipv4Dst::from_u32(1), None, 0, 60); 3],
    );
    let bytes = std::fs::read(&good).unwrap();
    let (p, out) = try_pcap("cut.pcap", &bytes[..bytes.len() - 7], false);
    assert_eq!(
        one_error(&out, 2),
        format!("{p}: truncated record at offset 176")
    );
    // A 9,000-byte frame cannot be replayed with infinite_rx=1.
    let jumbo = dir.join("jumbo.pcap");
    write_pcap(
        &jumbo,
        &[
            udp_frame(Ipv4Dst::from_u32(1), None, 0, 60),
            udp_frame(Ipv4Dst::from_u32(1), None, 1, 9000),
        ],
    );
    let (p, out) = try_pcap("jumbo-inf.pcap", &std::fs::read(&jumbo).unwrap(), true);
    assert_eq!(
        one_error(&out, 2),
        format!("{p}: packet 2 is 9000 bytes: with infinite_rx=1 net_pcap replays frames of at most 2048 bytes (one mbuf)")
    );
    // An empty capture with infinite_rx=1.
    let empty = dir.join("empty.pcap");
    write_pcap(&empty, &[]);
    let (p, out) = try_pcap("empty-inf.pcap", &std::fs::read(&empty).unwrap(), true);
    assert_eq!(
        one_error(&out, 2),
        format!("{p}: no packets to replay with infinite_rx=1")
    );
}

/// Zero-length frames are counted as `too_short` drops; 9,000-byte frames
/// (chained mbufs) of a known flow are forwarded whole.
#[test]
fn zero_length_and_jumbo_frames_are_counted_or_forwarded() {
    let dir = workdir("odd_frames");
    let known = |i: u16, len| udp_frame(Ipv4Dst::from_u32(1), None, i, len);
    let mut frames = Vec::new();
    for i in 0..10u16 {
        frames.push(known(i, 60));
        frames.push(Vec::new());
        frames.push(known(i, 9000));
    }
    let input = dir.join("in.pcap");
    write_pcap(&input, &frames);
    let output = dir.join("out.pcap");
    // Flow 1 (IPv4 destination 0.0.0.1) is node 1's.
    let cfg = write_config(
        &dir,
        "num_nodes = 2\nnum_flows = 64\nduration_s = 2",
        &[
            format!("net_pcap0,rx_pcap={}", input.display()),
            format!("net_pcap1,tx_pcap={}", output.display()),
        ],
    );
    let _g = serial();
    let out = run(&["--config", cfg.to_str().unwrap()]);
    assert_ok(&out);
    let v = final_stats(&out);
    assert_eq!(u(&v["ports"][0]["rx"]), 30);
    assert_eq!(u(&v["distributor"]["drop_by_reason"]["too_short"]), 10);
    assert_eq!(u(&v["nodes"][1]["tx"]), 20);
    let sent: Vec<usize> = efd_lb::pcap::PcapReader::open(&output)
        .unwrap()
        .map(|r| r.unwrap().data.len())
        .collect();
    assert_eq!(sent.iter().filter(|&&l| l == 9000).count(), 10, "{sent:?}");
    assert_eq!(sent.iter().filter(|&&l| l == 60).count(), 10, "{sent:?}");
}

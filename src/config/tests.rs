use super::*;

fn args(a: &[&str]) -> Vec<String> {
    std::iter::once("efd-lb")
        .chain(a.iter().copied())
        .map(String::from)
        .collect()
}

fn cli(a: &[&str]) -> Cli {
    Cli::try_parse_from(args(a)).unwrap()
}

/// Resolves `a` against file text `toml` named "lb.toml".
fn with_file(a: &[&str], toml: &str) -> Result<Settings, String> {
    resolve(&cli(a), "lb.toml", toml).map_err(|e| e.to_string())
}

fn err(a: &[&str], toml: &str) -> String {
    let e = with_file(a, toml).unwrap_err();
    assert!(!e.contains('\n'), "multi-line error: {e}");
    e
}

#[test]
fn builtin_defaults_from_empty_file() {
    let s = with_file(&[], "").unwrap();
    assert_eq!(s.lcores, "0@0,1@1,2@0");
    assert_eq!(s.lcore_ids, vec![0, 1, 2]);
    assert_eq!(s.portmask, 3);
    assert_eq!(s.num_nodes, 2);
    assert_eq!(s.num_flows, 1 << 20);
    assert_eq!(s.value_bits, 1);
    assert_eq!(s.nodes_per_lcore, None);
    assert_eq!(s.effective_nodes_per_lcore(), 2);
    assert_eq!(s.duration, None);
    assert!(s.eal_args.is_empty());
    assert_eq!((s.mempool_mbufs, s.mempool_cache), (0, 256));
    assert_eq!(s.mempool_ops, MempoolOps::Stack);
    assert_eq!((s.rx_desc, s.tx_desc, s.burst), (1024, 1024, 32));
    assert_eq!(s.ring_size, 512);
    assert_eq!(s.stats_period, Duration::from_millis(1000));
    assert_eq!(s.stats_format, StatsFormat::Auto);
    assert!(s.traffic.is_none());
    assert_eq!(s.worker_lcore_count(), 1);
    assert_eq!(
        (s.stats_lcore(), s.distributor_lcore(), s.worker_lcores()),
        (0, 1, &[2][..])
    );
    assert_eq!(s.port_ids(), vec![0, 1]);
}

#[test]
fn embedded_default_parses() {
    let s = from_args(args(&[])).unwrap();
    assert_eq!(s.config_source, DEFAULT_CONFIG_NAME);
    assert_eq!(s.lcores, "0@0,1@1,2@0");
    assert_eq!(s.portmask, 3);
    assert_eq!(s.num_nodes, 2);
    assert_eq!(s.eal_args[..3], ["--no-huge", "-m", "1024"]);
    assert!(s
        .eal_args
        .iter()
        .any(|a| a.starts_with("net_pcap0,rx_pcap=target/efd-lb-default.pcap")));
    assert!(s.eal_args.iter().any(|a| a.starts_with("net_null0")));
    let t = s.traffic.unwrap();
    assert_eq!(t.pcap, Path::new("target/efd-lb-default.pcap"));
    assert_eq!(t.spec.packets, 65536);
    assert_eq!(t.spec.known_flows, 1 << 20);
    assert_eq!(t.spec.table_flows, 1 << 20);
    assert_eq!(t.spec.unknown_pct, 10.0);
    assert_eq!(t.spec.malformed_pct, 1.0);
    assert_eq!(t.spec.vlan_pct, 1.0);
    assert_eq!(t.spec.frame_len, 64);
}

#[test]
fn two_nic_example_parses() {
    let s = resolve(
        &cli(&[]),
        "two-nic.toml",
        include_str!("../../config/two-nic.toml"),
    )
    .unwrap();
    assert_eq!(s.lcore_ids, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(s.worker_lcore_count(), 4);
    assert_eq!(s.num_nodes, 4);
    assert_eq!(s.value_bits, 2);
    assert_eq!(s.nodes_per_lcore, Some(1));
    assert_eq!(
        s.eal_args,
        ["-a", "0000:01:00.0", "-a", "0000:01:00.1"].map(String::from)
    );
    assert!(!s.eal_args.iter().any(|a| a == "--no-huge"));
    assert!(s.traffic.is_none());
    assert_eq!(s.worker_nodes(3), 3..4);
}

#[test]
fn cli_overrides_file_overrides_default() {
    let toml = r#"
lcores = "0-4"
portmask = "0x1"
num_nodes = 4
num_flows = 1000
duration_s = 5
[eal]
args = ["--no-huge"]
[stats]
period_ms = 250
format = "json"
"#;
    let s = with_file(&[], toml).unwrap();
    assert_eq!(
        (s.lcores.as_str(), s.portmask, s.num_nodes, s.num_flows),
        ("0-4", 1, 4, 1000)
    );
    assert_eq!(s.duration, Some(Duration::from_secs(5)));
    assert_eq!(s.stats_format, StatsFormat::Json);
    assert_eq!(s.stats_period, Duration::from_millis(250));

    let s = with_file(
        &[
            "--lcores",
            "1-6",
            "-p",
            "f",
            "-n",
            "8",
            "-f",
            "64",
            "--duration-s",
            "0",
            "--stats-period-ms",
            "100",
            "--stats-format",
            "plain",
            "--value-bits",
            "4",
            "--nodes-per-lcore",
            "2",
            "--flow-file",
            "flows.csv",
            "--",
            "--log-level",
            "8",
        ],
        toml,
    )
    .unwrap();
    assert_eq!(s.lcores, "1-6");
    assert_eq!(s.portmask, 0xf);
    assert_eq!(s.num_nodes, 8);
    assert_eq!(s.num_flows, 64);
    assert_eq!(s.duration, None);
    assert_eq!(s.stats_period, Duration::from_millis(100));
    assert_eq!(s.stats_format, StatsFormat::Plain);
    assert_eq!(s.value_bits, 4);
    assert_eq!(s.nodes_per_lcore, Some(2));
    assert_eq!(s.flow_file.as_deref(), Some(Path::new("flows.csv")));
    // EAL args: file's first, then the command line's.
    assert_eq!(
        s.eal_args,
        ["--no-huge", "--log-level", "8"].map(String::from)
    );
    assert_eq!(
        s.eal_argv("efd-lb"),
        ["efd-lb", "--lcores", "1-6", "--no-huge", "--log-level", "8"].map(String::from)
    );
    assert_eq!(s.worker_nodes(0), 0..2);
    assert_eq!(s.worker_nodes(3), 6..8);
}

#[test]
fn from_args_reads_config_file() {
    let path = std::env::temp_dir().join(format!("efd-lb-cfg-{}.toml", std::process::id()));
    std::fs::write(&path, "num_nodes = 3\n").unwrap();
    let p = path.to_str().unwrap();
    let s = from_args(args(&["--config", p, "-f", "99"]));
    let s2 = from_args(args(&["--config", p, "-n", "5"]));
    std::fs::remove_file(&path).unwrap();
    let s = s.unwrap();
    assert_eq!((s.num_nodes, s.num_flows, s.value_bits), (3, 99, 2));
    assert_eq!(s.config_source, p);
    assert!(
        s.eal_args.is_empty(),
        "no embedded default when --config given"
    );
    assert_eq!(s2.unwrap().num_nodes, 5);
}

#[test]
fn devices_on_the_command_line_replace_the_embedded_defaults() {
    let s = from_args(args(&["--", "--vdev", "net_tap0", "--log-level=8"])).unwrap();
    assert_eq!(
        s.eal_args,
        [
            "--no-huge",
            "-m",
            "1024",
            "--no-shconf",
            "--log-level=lib.eal:error",
            "--vdev",
            "net_tap0",
            "--log-level=8"
        ]
        .map(String::from)
    );
    assert!(s.traffic.is_none(), "no default pcap to generate");
    // Every spelling of a device choice counts.
    for dev in [
        &["--vdev=net_tap0"][..],
        &["-a", "0000:00:04.0"],
        &["-a0000:00:04.0"],
        &["--allow=0000:00:04.0"],
        &["-b", "0000:00:05.0"],
    ] {
        let mut a = vec!["--"];
        a.extend_from_slice(dev);
        let s = from_args(args(&a)).unwrap();
        assert!(
            !s.eal_args
                .iter()
                .any(|a| a.contains("net_pcap0") || a == "--no-pci"),
            "{dev:?}"
        );
        assert_eq!(s.eal_args[s.eal_args.len() - dev.len()..], *dev);
    }
    // Other EAL arguments keep the defaults' devices.
    let s = from_args(args(&["--", "--log-level=8"])).unwrap();
    assert!(s.eal_args.iter().any(|a| a.starts_with("net_pcap0")));
    assert!(s.traffic.is_some());
    // A configuration file's devices are the operator's: never dropped.
    let s = with_file(
        &["--", "--vdev", "net_tap0"],
        "[eal]\nargs = [\"--vdev\", \"net_null0\"]\n",
    )
    .unwrap();
    assert_eq!(
        s.eal_args,
        ["--vdev", "net_null0", "--vdev", "net_tap0"].map(String::from)
    );
}

#[test]
fn missing_config_file() {
    let e = from_args(args(&["--config", "/nonexistent-efd-lb/lb.toml"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/nonexistent-efd-lb/lb.toml: No such file or directory"
    );
}

#[test]
fn unknown_keys_with_line() {
    assert_eq!(
        err(&[], "lcores = \"0-3\"\n\nnodez = 3\n"),
        "lb.toml: unknown key \"nodez\" at line 3"
    );
    assert_eq!(
        err(
            &[],
            "num_nodes = 2\n[stats]\nperiod_ms = 5\nformatt = \"json\"\n"
        ),
        "lb.toml: unknown key \"stats.formatt\" at line 4"
    );
    let e = err(&[], "[statz]\nperiod_ms = 5\n");
    assert!(
        e.starts_with("lb.toml: unknown key \"statz\" at line 1"),
        "{e}"
    );
}

#[test]
fn mempool_ops_names_and_drivers() {
    for (name, ops, driver) in [
        ("stack", MempoolOps::Stack, Some("stack")),
        ("lf_stack", MempoolOps::LfStack, Some("lf_stack")),
        ("ring", MempoolOps::Ring, Some("ring_mp_mc")),
        ("default", MempoolOps::Default, None),
    ] {
        let s = with_file(&[], &format!("[mempool]\nops = \"{name}\"\n")).unwrap();
        assert_eq!(s.mempool_ops, ops);
        assert_eq!(s.mempool_ops.driver(), driver);
    }
    let e = err(&[], "[mempool]\nops = \"fifo\"\n");
    assert!(
        e.starts_with("lb.toml: mempool.ops: unknown variant"),
        "{e}"
    );
    assert!(e.ends_with(" at line 2"), "{e}");
}

#[test]
fn toml_type_and_syntax_errors_are_one_line() {
    let e = err(&[], "num_nodes = \"two\"\n");
    assert!(e.starts_with("lb.toml: num_nodes: invalid type"), "{e}");
    assert!(e.contains("expected an integer"), "{e}");
    assert!(e.ends_with(" at line 1"), "{e}");
    let e = err(&[], "[stats]\nformat = \"fancy\"\n");
    assert!(
        e.starts_with("lb.toml: stats.format: unknown variant"),
        "{e}"
    );
    assert!(e.ends_with(" at line 2"), "{e}");
    let e = err(&[], "num_nodes = 2\nlcores = \n");
    assert!(e.starts_with("lb.toml: "), "{e}");
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn node_count_errors() {
    assert_eq!(
        err(&["--num-nodes", "0"], ""),
        "--num-nodes: 0 nodes: need at least 1"
    );
    assert_eq!(
        err(&[], "num_nodes = 0"),
        "lb.toml: num_nodes: 0 nodes: need at least 1"
    );
    assert_eq!(
        err(&[], "num_nodes = 300"),
        "lb.toml: num_nodes = 300 exceeds what 8-bit EFD values can address (max 256)"
    );
    assert_eq!(
        err(&["-n", "300"], ""),
        "--num-nodes 300 exceeds what 8-bit EFD values can address (max 256)"
    );
    assert_eq!(with_file(&["-n", "256"], "").unwrap().value_bits, 8);
    assert_eq!(with_file(&["-n", "1"], "").unwrap().value_bits, 1);
    assert_eq!(with_file(&["-n", "3"], "").unwrap().value_bits, 2);
    assert_eq!(with_file(&["-n", "5"], "").unwrap().value_bits, 3);
}

#[test]
fn value_bits_errors() {
    assert_eq!(
        err(&["-n", "3"], "value_bits = 1"),
        "lb.toml: value_bits = 1 cannot address 3 nodes (max 2)"
    );
    assert_eq!(
        err(&["--value-bits", "9"], ""),
        "--value-bits 9: value_bits must be 1..=8"
    );
    assert_eq!(
        err(&[], "value_bits = 0"),
        "lb.toml: value_bits = 0: value_bits must be 1..=8"
    );
    assert_eq!(with_file(&["--value-bits", "8"], "").unwrap().value_bits, 8);
}

#[test]
fn portmask_forms_and_errors() {
    assert_eq!(with_file(&["-p", "0x5"], "").unwrap().portmask, 5);
    assert_eq!(with_file(&["-p", "A"], "").unwrap().portmask, 10);
    assert_eq!(with_file(&[], "portmask = \"0XfF\"").unwrap().portmask, 255);
    assert_eq!(with_file(&[], "portmask = 6").unwrap().portmask, 6);
    assert_eq!(
        with_file(&[], "portmask = 6").unwrap().port_ids(),
        vec![1, 2]
    );
    assert_eq!(err(&["-p", "0x0"], ""), "--portmask 0x0 selects no port");
    assert_eq!(
        err(&[], "portmask = \"0\""),
        "lb.toml: portmask = 0 selects no port"
    );
    assert_eq!(
        err(&["-p", "zz"], ""),
        "--portmask \"zz\": not a hexadecimal port mask (of at most 64 bits)"
    );
    assert_eq!(
        err(&["-p", "0x"], ""),
        "--portmask \"0x\": not a hexadecimal port mask (of at most 64 bits)"
    );
    assert_eq!(
        err(&[], "portmask = -1"),
        "lb.toml: portmask = \"-1\": not a hexadecimal port mask (of at most 64 bits)"
    );
}

#[test]
fn lcore_errors() {
    assert_eq!(
        err(&["--lcores", "0"], ""),
        "--lcores \"0\": need at least 3 lcores (stats, distributor, one worker)"
    );
    assert_eq!(
        err(&[], "lcores = \"0,1\""),
        "lb.toml: lcores = \"0,1\": need at least 3 lcores (stats, distributor, one worker)"
    );
    assert_eq!(
        err(&["--lcores", "0-2,x"], ""),
        "--lcores \"0-2,x\": \"x\" is not an lcore number"
    );
    assert_eq!(
        with_file(&["--lcores", "(3,4)@1,0@0,1@1"], "")
            .unwrap()
            .lcore_ids,
        vec![0, 1, 3, 4]
    );
}

#[test]
fn ring_and_port_errors() {
    assert_eq!(
        err(&[], "[rings]\nsize = 1000"),
        "lb.toml: rings.size: ring size 1000 is not a power of two"
    );
    assert_eq!(
        err(&[], "[rings]\nsize = 16\n[ports]\nburst = 32"),
        "lb.toml: rings.size: ring size 16 must exceed the burst size 32"
    );
    assert_eq!(
        err(&[], "[ports]\nburst = 0"),
        "lb.toml: ports.burst: 0 burst: need 1..=512"
    );
    assert_eq!(
        err(&[], "[rings]\nsize = 1024\n[ports]\nburst = 513"),
        "lb.toml: ports.burst: 513 burst: need 1..=512"
    );
    let s = with_file(&[], "[rings]\nsize = 1024\n[ports]\nburst = 512").unwrap();
    assert_eq!(s.burst, 512);
    assert_eq!(
        err(&[], "[ports]\nrx_desc = 70000"),
        "lb.toml: ports.rx_desc: 70000 descriptors: need 1..=65535"
    );
    assert_eq!(
        err(&[], "[mempool]\ncache = 600"),
        "lb.toml: mempool.cache: 600 cache: must be 0..=512"
    );
    assert_eq!(
        err(&[], "[mempool]\nmbufs = 100\ncache = 256"),
        "lb.toml: mempool.cache: cache 256 too large for 100 mbufs (cache * 1.5 must not exceed mbufs)"
    );
}

#[test]
fn other_value_errors() {
    assert_eq!(
        err(&["-f", "0"], ""),
        "--num-flows: 0 flows: need 1..=858993459 (the most the EFD table holds with 25% headroom)"
    );
    // With a flow file, num_flows is ignored.
    assert!(with_file(&["-f", "0", "--flow-file", "x.csv"], "").is_ok());
    assert_eq!(
        err(&["--stats-period-ms", "0"], ""),
        "--stats-period-ms: 0 ms: the period must be at least 1 ms"
    );
    assert_eq!(
        err(&[], "duration_s = -1"),
        "lb.toml: duration_s: -1 seconds: must not be negative"
    );
    assert_eq!(
        err(&["-n", "4", "--nodes-per-lcore", "1"], ""),
        "--nodes-per-lcore: 1 worker lcore(s) x 1 node(s) each cannot serve 4 nodes"
    );
    assert_eq!(
        err(&["--nodes-per-lcore", "0"], ""),
        "--nodes-per-lcore: 0 nodes per lcore: out of range 1..=65535"
    );
    assert_eq!(
        err(&["--", "-l", "0-3"], ""),
        "EAL argument \"-l\" conflicts with the lcores setting (use --lcores / `lcores` instead)"
    );
    assert!(err(&[], "[eal]\nargs = [\"--lcores=0-3\"]").contains("conflicts"));
    assert!(err(&[], "[eal]\nargs = [\"-c0xf\"]").contains("conflicts"));
    assert!(with_file(&["--", "-m", "512", "--log-level", "8"], "").is_ok());
}

#[test]
fn traffic_section() {
    let s = with_file(&["-f", "2048"], "[traffic]\ncycle = true\nseed = 9\n").unwrap();
    let t = s.traffic.unwrap();
    assert_eq!(t.pcap, Path::new("target/efd-lb-default.pcap"));
    assert_eq!(t.spec.known_flows, 2048);
    assert_eq!(t.spec.table_flows, 2048);
    assert!(t.spec.cycle);
    assert_eq!(t.spec.seed, 9);
    assert_eq!(t.spec.packets, 65536);
    let s = with_file(&["-f", "2048"], "[traffic]\nknown_flows = 100\n").unwrap();
    let t = s.traffic.unwrap().spec;
    assert_eq!((t.known_flows, t.table_flows), (100, 2048));
    assert_eq!(
        err(&[], "[traffic]\nunknown_pct = 120.0"),
        "lb.toml: traffic.unknown_pct = 120: a percentage must be 0..=100"
    );
    assert_eq!(
        err(&[], "[traffic]\nunknown_pct = 60.0\nmalformed_pct = 50.0"),
        "lb.toml: traffic.unknown_pct + traffic.malformed_pct = 110 exceeds 100"
    );
    assert_eq!(
        err(&[], "[traffic]\npackets = -5"),
        "lb.toml: traffic.packets: -5 packets: need 1..=16777216"
    );
}

#[test]
fn key_kind_from_file_and_flag() {
    assert_eq!(with_file(&[], "").unwrap().key, KeyKind::Ipv4Dst);
    let s = with_file(&[], "key = \"ipv6_5tuple\"\n[traffic]\n").unwrap();
    assert_eq!(s.key, KeyKind::Ipv6FiveTuple);
    // The generated traffic follows the kind.
    assert_eq!(s.traffic.unwrap().spec.key, KeyKind::Ipv6FiveTuple);
    let s = with_file(&["--key", "5tuple"], "key = \"ipv6_dst\"").unwrap();
    assert_eq!(s.key, KeyKind::FiveTuple);
    for kind in KeyKind::ALL {
        assert_eq!(with_file(&["--key", kind.name()], "").unwrap().key, kind);
    }
    assert_eq!(
        err(&[], "key = \"ipv4\""),
        "lb.toml: key = \"ipv4\": not a key kind (ipv4_dst, ipv4_src_dst, ipv4_5tuple, ipv6_dst, ipv6_5tuple, 5tuple)"
    );
    assert_eq!(
        err(&["--key", "IPV4_DST"], ""),
        "--key \"IPV4_DST\": not a key kind (ipv4_dst, ipv4_src_dst, ipv4_5tuple, ipv6_dst, ipv6_5tuple, 5tuple)"
    );
    assert!(err(&[], "key = 4").contains("key"));
}

#[test]
fn flow_match_from_file_and_flag() {
    use crate::lcore::flow_table::FlowMatch;
    assert_eq!(with_file(&[], "").unwrap().flow_match, FlowMatch::Exact);
    // The default, auto: fingerprints for keys wider than 8 bytes, the keys
    // otherwise; written out or left out alike.
    for kind in KeyKind::ALL {
        let want = if kind.key_len() > 8 {
            FlowMatch::Fingerprint
        } else {
            FlowMatch::Exact
        };
        let by_default = with_file(&["--key", kind.name()], "").unwrap();
        assert_eq!(by_default.flow_match, want, "{kind}");
        let named = with_file(&["--key", kind.name()], "flow_match = \"auto\"").unwrap();
        assert_eq!(named.flow_match, want, "{kind}");
        let flag = with_file(&["--key", kind.name(), "--flow-match", "auto"], "").unwrap();
        assert_eq!(flag.flow_match, want, "{kind}");
        let exact = with_file(&["--key", kind.name(), "--flow-match", "exact"], "").unwrap();
        assert_eq!(exact.flow_match, FlowMatch::Exact, "{kind}");
    }
    let s = with_file(&[], "key = \"ipv6_5tuple\"\nflow_match = \"fingerprint\"").unwrap();
    assert_eq!(s.flow_match, FlowMatch::Fingerprint);
    let s = with_file(
        &["--flow-match", "exact"],
        "key = \"ipv6_5tuple\"\nflow_match = \"fingerprint\"",
    )
    .unwrap();
    assert_eq!(s.flow_match, FlowMatch::Exact);
    for kind in KeyKind::ALL {
        let r = with_file(&["--key", kind.name(), "--flow-match", "fingerprint"], "");
        if kind.key_len() > 8 {
            assert_eq!(r.unwrap().flow_match, FlowMatch::Fingerprint, "{kind}");
        } else {
            assert!(r.is_err(), "{kind}");
        }
    }
    assert_eq!(
        err(&["--flow-match", "fingerprint"], ""),
        "--flow-match \"fingerprint\": needs a key wider than 8 bytes (key ipv4_dst is 4 bytes; use exact)"
    );
    assert_eq!(
        err(&[], "key = \"ipv4_src_dst\"\nflow_match = \"fingerprint\""),
        "lb.toml: flow_match = \"fingerprint\": needs a key wider than 8 bytes (key ipv4_src_dst is 8 bytes; use exact)"
    );
    assert_eq!(
        err(&[], "flow_match = \"hash\""),
        "lb.toml: flow_match = \"hash\": not a flow match (auto, exact or fingerprint)"
    );
    assert!(err(&[], "flow_match = 1").contains("flow_match"));
}

#[test]
fn traffic_shape_percentages() {
    let s = with_file(
        &[],
        "[traffic]\nqinq_pct = 50.0\next_pct = 10\nfragment_pct = 2.5\n",
    )
    .unwrap();
    let t = s.traffic.unwrap().spec;
    assert_eq!((t.qinq_pct, t.ext_pct, t.fragment_pct), (50.0, 10.0, 2.5));
    assert_eq!(
        err(&[], "[traffic]\nfragment_pct = 101.0"),
        "lb.toml: traffic.fragment_pct = 101: a percentage must be 0..=100"
    );
}

#[test]
fn clap_errors_pass_through() {
    let e = from_args(args(&["--bogus"])).unwrap_err();
    assert!(matches!(e, ConfigError::Cli(_)));
    assert!(e.to_string().contains("--bogus"), "{e}");
    assert!(!e.to_string().contains('\n'));
    let e = from_args(args(&["-n", "x"])).unwrap_err();
    assert!(matches!(e, ConfigError::Cli(_)));
    let e = from_args(args(&["--stats-format", "fancy"])).unwrap_err();
    assert!(matches!(e, ConfigError::Cli(_)));
}

#[test]
fn help_documents_every_flag() {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let help = cmd.render_long_help().to_string();
    for flag in [
        "--config",
        "--lcores",
        "-p, --portmask",
        "-n, --num-nodes",
        "-f, --num-flows",
        "--key",
        "--flow-file",
        "--value-bits",
        "--stats-period-ms",
        "--stats-format",
        "--duration-s",
        "--nodes-per-lcore",
        "EAL ARGS",
        "--help",
    ] {
        assert!(help.contains(flag), "help lacks {flag}:\n{help}");
    }
    cmd.debug_assert();
}

/// Every flag and key with a bad value: the one line it gets (through
/// [`from_args`] for flags, [`resolve`] for file keys). The binary prints
/// the same line after `efd-lb: ` and exits 2 (tests/appliance.rs).
#[test]
fn bad_input_table() {
    let nf = "flows: need 1..=858993459 (the most the EFD table holds with 25% headroom)";
    let cases: Vec<(&[&str], &str, String)> = vec![
        // Flags.
        (&["--bogus"], "", "unexpected argument '--bogus' found".into()),
        (&["-n"], "", "a value is required for '--num-nodes <N>' but none was supplied".into()),
        (&["-n", "2", "-n", "3"], "", "the argument '--num-nodes <N>' cannot be used multiple times".into()),
        (&["-n", "-1"], "", "invalid value '-1' for '--num-nodes <N>': not a count (decimal, or hexadecimal with 0x)".into()),
        (&["-n", "0"], "", "--num-nodes: 0 nodes: need at least 1".into()),
        (&["-n", "257"], "", "--num-nodes 257 exceeds what 8-bit EFD values can address (max 256)".into()),
        (&["-f", "0xzz"], "", "invalid value '0xzz' for '--num-flows <N>': not a count (decimal, or hexadecimal with 0x)".into()),
        (&["-f", "99999999999999999999"], "", "invalid value '99999999999999999999' for '--num-flows <N>': too large (the most is 9223372036854775807)".into()),
        (&["-f", "4294967295"], "", format!("--num-flows: 4294967295 {nf}")),
        (&["-f", "0x33333334"], "", format!("--num-flows: 858993460 {nf}")),
        (&["--value-bits", "0"], "", "--value-bits 0: value_bits must be 1..=8".into()),
        (&["-n", "5", "--value-bits", "2"], "", "--value-bits 2 cannot address 5 nodes (max 4)".into()),
        (&["--nodes-per-lcore", "70000"], "", "--nodes-per-lcore: 70000 nodes per lcore: out of range 1..=65535".into()),
        (&["--nodes-per-lcore", "0"], "", "--nodes-per-lcore: 0 nodes per lcore: out of range 1..=65535".into()),
        (&["--stats-period-ms", "0x0"], "", "--stats-period-ms: 0 ms: the period must be at least 1 ms".into()),
        (&["--stats-format", "fancy"], "", "invalid value 'fancy' for '--stats-format <FORMAT>' [possible values: auto, ansi, plain, json]".into()),
        (&["--duration-s", "x"], "", "invalid value 'x' for '--duration-s <S>': not a count (decimal, or hexadecimal with 0x)".into()),
        (&["--lcores", ""], "", "--lcores \"\": empty lcore list".into()),
        (&["--lcores", "0-2,2"], "", "--lcores \"0-2,2\": lcore 2 is listed twice".into()),
        (&["--lcores", "0,1"], "", "--lcores \"0,1\": need at least 3 lcores (stats, distributor, one worker)".into()),
        (&["-p", "0"], "", "--portmask 0 selects no port".into()),
        (&["-p", "0x10000000000000000"], "", "--portmask \"0x10000000000000000\": not a hexadecimal port mask (of at most 64 bits)".into()),
        (&["--control-listen", "nope"], "", "--control-listen \"nope\": not an address and port (like 127.0.0.1:9900 or [::1]:9900)".into()),
        (&["--unknown-flows", "keep"], "", "--unknown-flows \"keep\": the policy is drop or assign".into()),
        (&["--", "-l", "0-3"], "", "EAL argument \"-l\" conflicts with the lcores setting (use --lcores / `lcores` instead)".into()),
        // Keys.
        (&[], "nodez = 3", "lb.toml: unknown key \"nodez\" at line 1".into()),
        (&[], "[bogus]\nx = 1", "lb.toml: unknown key \"bogus\" at line 1".into()),
        (&[], "[traffic]\nbogus = 1", "lb.toml: unknown key \"traffic.bogus\" at line 2".into()),
        (&[], "num_nodes = 2\nnum_nodes = 3", "lb.toml: num_nodes: duplicate key `num_nodes` in document root at line 2".into()),
        (&[], "num_nodes = ", "lb.toml: num_nodes: expected a value at line 1".into()),
        (&[], "lcores = 3", "lb.toml: lcores: invalid type: integer `3`, expected a string at line 1".into()),
        (&[], "num_flows = 1.5", "lb.toml: num_flows: invalid type: floating point `1.5`, expected an integer at line 1".into()),
        (&[], "num_flows = 4294967296", format!("lb.toml: num_flows: 4294967296 {nf}")),
        (&[], "flow_file = 3", "lb.toml: flow_file: invalid type: integer `3`, expected path string at line 1".into()),
        (&[], "nodes_per_lcore = 70000", "lb.toml: nodes_per_lcore: 70000 nodes per lcore: out of range 1..=65535".into()),
        (&[], "duration_s = -1", "lb.toml: duration_s: -1 seconds: must not be negative".into()),
        (&[], "[eal]\nargs = \"--no-huge\"", "lb.toml: eal.args: invalid type: string \"--no-huge\", expected a sequence at line 2".into()),
        (&[], "[eal]\nargs = [1]", "lb.toml: eal.args: invalid type: integer `1`, expected a string at line 2".into()),
        (&[], "[mempool]\nmbufs = -1", "lb.toml: mempool.mbufs: -1 mbufs: need 0 (auto) or a count".into()),
        (&[], "[mempool]\ncache = 513", "lb.toml: mempool.cache: 513 cache: must be 0..=512".into()),
        (&[], "[ports]\ntx_desc = 0", "lb.toml: ports.tx_desc: 0 descriptors: need 1..=65535".into()),
        (&[], "[ports]\nrx_desc = 65536", "lb.toml: ports.rx_desc: 65536 descriptors: need 1..=65535".into()),
        (&[], "[rings]\nsize = 2147483648", "lb.toml: rings.size: ring size 2147483648 is above the maximum 268435456".into()),
        (&[], "[rings]\nsize = 1", "lb.toml: rings.size: ring size 1 is below the minimum 2".into()),
        (&[], "[rings]\nsize = 1000", "lb.toml: rings.size: ring size 1000 is not a power of two".into()),
        (&[], "[stats]\nperiod_ms = 0", "lb.toml: stats.period_ms: 0 ms: the period must be at least 1 ms".into()),
        (&[], "[traffic]\npackets = 0", "lb.toml: traffic.packets: 0 packets: need 1..=16777216".into()),
        (&[], "[traffic]\npackets = 9223372036854775807", "lb.toml: traffic.packets: 9223372036854775807 packets: need 1..=16777216".into()),
        (&[], "[traffic]\npackets = 10000000\nframe_len = 1518", "lb.toml: traffic.packets = 10000000 of traffic.frame_len = 1518: the pcap would take 14591 MiB, more than the 4096 MiB limit".into()),
        (&[], "[traffic]\nframe_len = 70000", "lb.toml: traffic.frame_len: 70000 out of range 0..=65535".into()),
        (&[], "[traffic]\nvlan_pct = -1.0", "lb.toml: traffic.vlan_pct = -1: a percentage must be 0..=100".into()),
        (&[], "[traffic]\nknown_flows = -1", "lb.toml: traffic.known_flows: -1 out of range 0..=4294967295".into()),
        (&[], "[traffic]\nseed = \"x\"", "lb.toml: traffic.seed: invalid type: string \"x\", expected an integer at line 2".into()),
    ];
    for (a, toml, want) in &cases {
        let got = match Cli::try_parse_from(args(a)) {
            Err(e) => ConfigError::Cli(e).to_string(),
            Ok(c) => match resolve(&c, "lb.toml", toml) {
                Ok(_) => "accepted".into(),
                Err(e) => e.to_string(),
            },
        };
        assert_eq!(&got, want, "{a:?} {toml:?}");
    }
}

/// The `--help` example runs as written (hexadecimal counts).
#[test]
fn help_example_parses() {
    let example = AFTER_HELP
        .lines()
        .find_map(|l| l.strip_prefix("Example: efd-lb "))
        .expect("an example");
    let mut a: Vec<&str> = example.split_whitespace().collect();
    // The example names a file of the repository.
    a[1] = "config/two-nic.toml";
    let cli = Cli::try_parse_from(args(&a)).unwrap();
    assert_eq!((cli.num_nodes, cli.num_flows), (Some(4), Some(0x100000)));
    assert_eq!(parse_count("0X10"), Ok(16));
    assert_eq!(parse_count("010"), Ok(10));
    assert!(parse_count("0x").is_err() && parse_count("1_000").is_err());
}

#[test]
fn control_section_values_and_errors() {
    // Off by default, the C sample's policy.
    let s = with_file(&[], "").unwrap();
    assert_eq!(
        s.control,
        ControlSettings {
            max_body: 64 << 20,
            ..ControlSettings::default()
        }
    );
    let dir = std::env::temp_dir().join(format!("efd-lb-config-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "  s3cret  \nignored\n").unwrap();
    let empty = dir.join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let s = with_file(
        &[],
        &format!(
            "[control]\nlisten = \"0.0.0.0:9900\"\ntoken_file = {token:?}\ncpu = 1\nmax_body_mb = 2\n\
             capacity = 5000\nunknown_flows = \"assign\"\nidle_timeout_s = 30\nsnapshot = \"/tmp/x.snap\"\nsnapshot_period_s = 60\n"
        ),
    )
    .unwrap();
    let c = &s.control;
    assert_eq!(c.listen, Some("0.0.0.0:9900".parse().unwrap()));
    assert_eq!(c.token.as_deref(), Some("s3cret"));
    assert_eq!(
        (c.cpu, c.max_body, c.capacity),
        (Some(1), 2 << 20, Some(5000))
    );
    assert_eq!(c.unknown_flows, UnknownFlows::Assign);
    assert_eq!(c.idle_timeout, Some(Duration::from_secs(30)));
    assert_eq!(c.snapshot.as_deref(), Some(Path::new("/tmp/x.snap")));
    assert_eq!(c.snapshot_period, Some(Duration::from_secs(60)));
    // assign widens the default value width to 8 bits (256 value slots).
    assert_eq!(s.value_bits, 8);
    // Flags override the file.
    let s = with_file(
        &[
            "--control-listen",
            "[::1]:7000",
            "--unknown-flows",
            "drop",
            "--snapshot",
            "/a",
        ],
        "[control]\nlisten = \"127.0.0.1:1\"\nunknown_flows = \"assign\"\nsnapshot = \"/b\"\n",
    )
    .unwrap();
    assert_eq!(s.control.listen, Some("[::1]:7000".parse().unwrap()));
    assert_eq!(s.control.unknown_flows, UnknownFlows::Drop);
    assert_eq!(s.control.snapshot.as_deref(), Some(Path::new("/a")));
    assert_eq!(s.value_bits, 1);

    for (toml, flags, want) in [
        ("[control]\nlisten = \"localhost\"\n", &[][..], "lb.toml: control.listen = \"localhost\": not an address and port"),
        ("", &["--control-listen", "1.2.3.4"][..], "--control-listen \"1.2.3.4\": not an address and port"),
        ("[control]\nlisten = \"0.0.0.0:9900\"\n", &[][..], "lb.toml: control.listen = 0.0.0.0:9900: a control API on a non-loopback address needs control.token_file"),
        ("[control]\ntoken_file = \"/nonexistent/token\"\n", &[][..], "lb.toml: control.token_file = /nonexistent/token: No such file"),
        ("[control]\ncpu = -1\n", &[][..], "lb.toml: control.cpu: -1 is not a CPU number"),
        ("[control]\nmax_body_mb = 0\n", &[][..], "lb.toml: control.max_body_mb: 0 MiB: need 1..=4096"),
        ("[control]\nmax_body_mb = 4097\n", &[][..], "need 1..=4096"),
        ("[control]\ncapacity = 0\n", &[][..], "lb.toml: control.capacity: 0 flows: need 1..=1073741824"),
        ("[control]\ncapacity = 1073741825\n", &[][..], "need 1..=1073741824"),
        ("[control]\nunknown_flows = \"keep\"\n", &[][..], "lb.toml: control.unknown_flows = \"keep\": the policy is drop or assign"),
        ("", &["--unknown-flows", "x"][..], "--unknown-flows \"x\": the policy is drop or assign"),
        ("[control]\nidle_timeout_s = 10\n", &[][..], "control.idle_timeout_s expires adopted flows: it needs control.unknown_flows = \"assign\""),
        ("[control]\nunknown_flows = \"assign\"\nidle_timeout_s = -1\n", &[][..], "control.idle_timeout_s: -1 s"),
        ("[control]\nsnapshot_period_s = 10\n", &[][..], "control.snapshot_period_s needs a snapshot file"),
        ("[control]\nrebalance_flows_per_s = -1\n", &[][..], "lb.toml: control.rebalance_flows_per_s: -1 flows/s: need 0..=1073741824 (0 = no limit)"),
        ("[control]\nrebalance_flows_per_s = 1073741825\n", &[][..], "need 0..=1073741824"),
        ("[control]\nlisten = 5\n", &[][..], "lb.toml"),
        ("[control]\nport = 5\n", &[][..], "unknown key \"control.port\" at line 2"),
    ] {
        let e = err(flags, toml);
        assert!(e.contains(want), "{toml:?} {flags:?}: {e}");
    }
    let e = err(&[], &format!("[control]\ntoken_file = {empty:?}\n"));
    assert!(e.contains("the first line (the token) is empty"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn faults_section_values_and_errors() {
    use crate::faults::{FaultSettings, Timing};
    let ms = Duration::from_millis;
    // Off by default.
    assert_eq!(with_file(&[], "").unwrap().faults, FaultSettings::default());
    let s = with_file(
        &["-n", "3"],
        "[faults]\nstall_node = 2\nstall_after_ms = 1500\nstall_ms = 2000\n\
         tx_refuse_ms = 10\npool_hold_after_ms = 600000\npool_hold_ms = 600000\n",
    )
    .unwrap();
    assert_eq!(
        s.faults,
        FaultSettings {
            stall: Some((
                2,
                Timing {
                    after: ms(1500),
                    length: ms(2000)
                }
            )),
            // The start defaults to the launch.
            tx_refuse: Some(Timing {
                after: ms(0),
                length: ms(10)
            }),
            pool_hold: Some(Timing {
                after: ms(600_000),
                length: ms(600_000)
            }),
        }
    );
    for (toml, want) in [
        ("stall_node = 2\nstall_ms = 10\n", "lb.toml: faults.stall_node: 2 is not a node (0..=1)"),
        ("stall_node = -1\nstall_ms = 10\n", "lb.toml: faults.stall_node: -1 is not a node (0..=1)"),
        ("stall_node = 0\n", "lb.toml: faults.stall_node needs faults.stall_ms (the length of the stall)"),
        ("stall_ms = 10\n", "lb.toml: faults.stall_ms needs faults.stall_node (the node to stall)"),
        ("stall_after_ms = 10\n", "lb.toml: faults.stall_after_ms needs faults.stall_ms (the length of the window)"),
        ("stall_node = 0\nstall_ms = 0\n", "lb.toml: faults.stall_ms: 0 ms: need 1..=600000"),
        ("stall_node = 0\nstall_ms = 600001\n", "lb.toml: faults.stall_ms: 600001 ms: need 1..=600000"),
        ("stall_node = 0\nstall_ms = 5\nstall_after_ms = -1\n", "lb.toml: faults.stall_after_ms: -1 ms: need 0..=86400000"),
        ("tx_refuse_ms = -5\n", "lb.toml: faults.tx_refuse_ms: -5 ms: need 1..=600000"),
        ("tx_refuse_ms = 5\ntx_refuse_after_ms = 86400001\n", "lb.toml: faults.tx_refuse_after_ms: 86400001 ms: need 0..=86400000"),
        ("tx_refuse_after_ms = 5\n", "lb.toml: faults.tx_refuse_after_ms needs faults.tx_refuse_ms (the length of the window)"),
        ("pool_hold_ms = 0\n", "lb.toml: faults.pool_hold_ms: 0 ms: need 1..=600000"),
        ("pool_hold_after_ms = 5\n", "lb.toml: faults.pool_hold_after_ms needs faults.pool_hold_ms (the length of the window)"),
        ("pool_hold_ms = 5\npool_hold_after_ms = -2\n", "lb.toml: faults.pool_hold_after_ms: -2 ms: need 0..=86400000"),
        ("stall = 5\n", "lb.toml: unknown key \"faults.stall\" at line 2"),
        ("tx_refuse_ms = \"5\"\n", "lb.toml: faults.tx_refuse_ms: invalid type: string \"5\", expected an integer at line 2"),
    ] {
        let e = err(&[], &format!("[faults]\n{toml}"));
        assert_eq!(e, want, "{toml:?}");
    }
}

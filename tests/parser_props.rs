//! The parsers' properties ([`efd_lb::props`], the same the fuzz targets
//! check) on proptest's inputs: random bytes, generated frames of every key
//! kind with bytes changed and cut, flow files of real and broken lines,
//! configuration files of real keys with odd values.

use efd_lb::key::{FlowKey, KeyKind};
use efd_lb::props;
use efd_lb::traffic::{self, TrafficSpec};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = KeyKind> {
    (0..KeyKind::ALL.len()).prop_map(|i| KeyKind::ALL[i])
}

/// A generated frame of `kind` (any of its shapes, malformed ones too).
fn generated(kind: KeyKind, seed: u64, pick: usize) -> Vec<u8> {
    let spec = TrafficSpec {
        key: kind,
        packets: 64,
        known_flows: 100,
        table_flows: 100,
        unknown_pct: 10.0,
        malformed_pct: 15.0,
        vlan_pct: 30.0,
        qinq_pct: 50.0,
        ext_pct: 30.0,
        fragment_pct: 20.0,
        frame_len: 60 + (seed % 64) as usize,
        seed,
        ..TrafficSpec::default()
    };
    traffic::generate(&spec).nth(pick % 64).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn frames_of_random_bytes(k in kind(), data in proptest::collection::vec(any::<u8>(), 0..160)) {
        props::frame(k, &data);
    }

    /// Generated frames with a few bytes changed (often a header field), then
    /// cut anywhere.
    #[test]
    fn frames_generated_then_changed(
        from in kind(),
        k in kind(),
        seed in any::<u64>(),
        pick in any::<usize>(),
        changes in proptest::collection::vec((0usize..120, any::<u8>()), 0..4),
        cut in any::<usize>(),
    ) {
        let mut f = generated(from, seed, pick);
        for (at, b) in changes {
            if let Some(x) = f.get_mut(at) {
                *x = b;
            }
        }
        let cut = cut % (f.len() + 1);
        props::frame(k, &f[..cut]);
    }

    #[test]
    fn flow_files(
        k in kind(),
        nodes in 1u16..5,
        lines in proptest::collection::vec(
            prop_oneof![
                (kind(), 0u32..50, 0u16..6).prop_map(|(k, i, n)| {
                    efd_lb::with_key_kind!(k, |K, N| {
                        let _ = N;
                        format!("{},{n}", K::seed(i))
                    })
                }),
                Just("# comment".to_string()),
                Just(String::new()),
                Just("10.0.0.1:1 -> 10.0.0.2:2 tcp , 1 # c".to_string()),
                Just("[2001:db8::1]:1->[2001:db8::2]:2 17,0".to_string()),
                "[0-9a-f.:>\\[\\] ,#-]{0,30}",
                "\\PC{0,30}",
            ],
            0..10,
        ),
    ) {
        props::flow_file(k, nodes, &lines.join("\n"));
    }

    #[test]
    fn ipv4_text(
        s in prop_oneof![
            "[0-9.]{0,17}",
            (any::<[u8; 4]>(), 0usize..4, "[0-9.a ]{0,2}").prop_map(|(a, at, odd)| {
                // A real address with a few characters put in somewhere.
                let t = std::net::Ipv4Addr::from(a).to_string();
                let at = (at * 4).min(t.len());
                format!("{}{odd}{}", &t[..at], &t[at..])
            }),
            "\\PC{0,16}",
        ],
    ) {
        props::ipv4_text(&s);
    }

    #[test]
    fn config_files(
        lines in proptest::collection::vec(
            (
                prop_oneof![
                    Just("key"), Just("num_nodes"), Just("num_flows"), Just("value_bits"),
                    Just("lcores"), Just("portmask"), Just("nodes_per_lcore"),
                    Just("duration_s"), Just("flow_file"), Just("[traffic]"), Just("[ports]"),
                    Just("[rings]"), Just("[control]"), Just("[stats]"), Just("burst"),
                    Just("size"), Just("packets"), Just("fragment_pct"), Just("qinq_pct"),
                    Just("unknown_flows"), Just("capacity"), Just("period_ms"), Just("format"),
                ],
                prop_oneof![
                    Just("\"ipv6_5tuple\"".to_string()),
                    Just("\"5tuple\"".to_string()),
                    Just("\"0-3\"".to_string()),
                    Just("\"0x3\"".to_string()),
                    (-3i64..300).prop_map(|v| v.to_string()),
                    any::<i64>().prop_map(|v| v.to_string()),
                    (-10.0f64..200.0).prop_map(|v| format!("{v:?}")),
                    Just("true".to_string()),
                    "\"[a-z0-9_]{0,8}\"",
                    "\\PC{0,8}",
                ],
            ),
            0..8,
        ),
        key_flag in proptest::option::of(prop_oneof![
            Just("ipv4_dst"), Just("ipv6_dst"), Just("5tuple"), Just("bogus"),
        ]),
    ) {
        let text: String = lines
            .iter()
            .map(|(k, v)| if k.starts_with('[') { format!("{k}\n") } else { format!("{k} = {v}\n") })
            .collect();
        props::config(&text, key_flag);
    }
}

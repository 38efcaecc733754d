//! The generator: the seed's frames unchanged, every key kind's frames
//! parse to their labels (also cut at every byte of their headers), the
//! mix follows the percentages, checksums verify.

use super::*;
use crate::packet::ipv4_dst;
use crate::pcap::PcapReader;
use std::collections::HashSet;
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("efd-lb-{}-{name}", std::process::id()))
}

/// FNV-1a over each frame's length (u32 LE) and bytes.
fn digest(spec: &TrafficSpec) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in generate(spec) {
        for b in (f.len() as u32).to_le_bytes().iter().chain(f.iter()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The digests of the generator before the other key kinds existed (the
/// benchmarks' pcaps are made by it).
#[test]
fn the_seed_kind_makes_the_same_frames_as_before() {
    let a = TrafficSpec {
        packets: 5000,
        known_flows: 1000,
        table_flows: 1000,
        unknown_pct: 10.0,
        malformed_pct: 5.0,
        vlan_pct: 10.0,
        seed: 7,
        ..TrafficSpec::default()
    };
    let b = TrafficSpec {
        packets: 3000,
        known_flows: 2048,
        cycle: true,
        frame_len: 128,
        seed: 3,
        ..TrafficSpec::default()
    };
    let c = TrafficSpec {
        packets: 3000,
        unknown_pct: 25.0,
        ..TrafficSpec::default()
    };
    assert_eq!(digest(&a), 0x97a4_2622_74cd_0e80);
    assert_eq!(digest(&b), 0x3c52_4d69_7cdc_d7ed);
    assert_eq!(digest(&c), 0x1753_ce7f_17d8_b937);
}

#[test]
fn checksum_known_vector() {
    // Classic example header, checksum field zeroed: expect 0xb861.
    let h = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(ipv4_checksum(&h), 0xb861);
}

#[test]
fn udp_frame_is_valid() {
    let f = udp_frame(Ipv4Dst::from_u32(0x0102_0304), None, 7, 60);
    assert_eq!(f.len(), 60);
    assert_eq!(ipv4_dst(&f), Ok(0x0102_0304));
    assert_eq!(ipv4_checksum(&f[14..34]), 0, "checksum verifies");
    assert_eq!(u16::from_be_bytes([f[16], f[17]]), 46);
    let v = udp_frame(Ipv4Dst::from_u32(5), Some(10), 7, 60);
    assert_eq!(v.len(), 60);
    assert_eq!(&v[12..16], &[0x81, 0x00, 0x00, 0x0a]);
    assert_eq!(ipv4_dst(&v), Ok(5));
    assert_eq!(ipv4_checksum(&v[18..38]), 0);
    // Too small a length is raised to hold the headers.
    assert_eq!(udp_frame(Ipv4Dst::from_u32(5), Some(1), 0, 10).len(), 46);
}

#[test]
fn the_builder_makes_udp_frame_s_frames() {
    for (vlan, id, len) in [(None, 7u16, 60usize), (Some(9), 40000, 124), (None, 1, 10)] {
        let key = Ipv4Dst::from_u32(0x0a01_0203);
        let shape = Shape {
            tags: vlan.map(|v| vec![(0x8100, v)]).unwrap_or_default(),
            id,
            len,
            ..Shape::default()
        };
        let (f, l) = build(&key.headers(id), &shape);
        assert_eq!(f, udp_frame(key, vlan, id, len));
        assert_eq!((l.ip, l.ip_end, l.l4), (l.ip, l.ip + 20, l.ip + 20));
        assert!(l.ported);
    }
}

/// The transport checksum of an unfragmented frame verifies.
fn l4_checksum_ok(f: &[u8], l: &Layout, h: &Headers) -> bool {
    let v6 = matches!(h.dst, IpAddr::V6(_));
    let pseudo: u32 = {
        let mut sum = 0u32;
        let mut add = |b: &[u8]| {
            for c in b.chunks(2) {
                sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
            }
        };
        if h.protocol != wire::PROTO_ICMP {
            add(&v6_or_v4(h.src, v6));
            add(&v6_or_v4(h.dst, v6));
            sum += u32::from(h.protocol) + (f.len() - l.l4) as u32;
        }
        sum
    };
    let mut sum = pseudo;
    for c in f[l.l4..].chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

fn v6_or_v4(a: IpAddr, v6: bool) -> Vec<u8> {
    match (a, v6) {
        (IpAddr::V4(a), false) => a.octets().to_vec(),
        (a, _) => super::v6(a).to_vec(),
    }
}

#[test]
fn built_frames_have_correct_checksums() {
    let mk = |src: &str, dst: &str, protocol| Headers {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        protocol,
        sport: 4321,
        dport: 443,
    };
    for h in [
        mk("10.0.0.1", "10.0.0.2", wire::PROTO_TCP),
        mk("10.0.0.1", "10.0.0.2", wire::PROTO_ICMP),
        mk("2001:db8::1", "2001:db8::2", wire::PROTO_TCP),
        mk("2001:db8::1", "2001:db8::2", wire::PROTO_UDP),
        mk("2001:db8::1", "2001:db8::2", wire::PROTO_ICMPV6),
    ] {
        for ext in [false, true] {
            let shape = Shape {
                ipv4_options: if ext { 3 } else { 0 },
                ipv6_ext: if ext { ext_chain(2) } else { vec![] },
                id: 77,
                len: 161,
                ..Shape::default()
            };
            let (f, l) = build(&h, &shape);
            assert_eq!(f.len(), 161);
            assert!(l4_checksum_ok(&f, &l, &h), "{h:?} ext {ext}");
            if h.dst.is_ipv4() {
                assert_eq!(ipv4_checksum(&f[l.ip..l.ip_end]), 0);
            }
        }
    }
}

#[test]
fn cycle_uses_j_mod_known() {
    let spec = TrafficSpec {
        packets: 5000,
        known_flows: 2048,
        table_flows: 2048,
        cycle: true,
        ..TrafficSpec::default()
    };
    for (j, f) in generate(&spec).enumerate() {
        assert_eq!(f.len(), 60);
        assert_eq!(ipv4_dst(&f), Ok((j % 2048) as u32));
    }
}

#[test]
fn spread_has_no_repeats() {
    for known in [1u32, 2, 3, 1000, 4096, 5000] {
        let spec = TrafficSpec {
            packets: u64::from(known),
            known_flows: known,
            table_flows: known,
            seed: 42,
            ..TrafficSpec::default()
        };
        let dsts: HashSet<u32> = generate(&spec).map(|f| ipv4_dst(&f).unwrap()).collect();
        assert_eq!(dsts.len(), known as usize, "known {known}");
        assert!(dsts.iter().all(|&d| d < known));
    }
    // And it is not just the identity.
    let spec = TrafficSpec {
        packets: 100,
        known_flows: 1000,
        ..TrafficSpec::default()
    };
    let d: Vec<u32> = generate(&spec).map(|f| ipv4_dst(&f).unwrap()).collect();
    assert_ne!(d, (0..100).collect::<Vec<u32>>());
}

#[test]
fn deterministic_and_seed_dependent() {
    for key in KeyKind::ALL {
        let spec = TrafficSpec {
            key,
            packets: 500,
            known_flows: 100,
            unknown_pct: 20.0,
            malformed_pct: 10.0,
            vlan_pct: 10.0,
            qinq_pct: 50.0,
            ext_pct: 10.0,
            fragment_pct: 10.0,
            seed: 7,
            ..TrafficSpec::default()
        };
        let a: Vec<_> = generate(&spec).collect();
        let b: Vec<_> = generate(&spec).collect();
        assert_eq!(a, b);
        let c: Vec<_> = generate(&TrafficSpec { seed: 8, ..spec }).collect();
        assert_ne!(a, c);
    }
}

/// A spec with some of everything.
fn mixed(key: KeyKind, packets: u64) -> TrafficSpec {
    TrafficSpec {
        key,
        packets,
        known_flows: 1000,
        table_flows: 1000,
        unknown_pct: 10.0,
        malformed_pct: 8.0,
        vlan_pct: 20.0,
        qinq_pct: 50.0,
        ext_pct: 20.0,
        fragment_pct: 10.0,
        seed: 1,
        ..TrafficSpec::default()
    }
}

/// Every frame parses to its label; the mix follows the percentages; every
/// malformed frame of the kind and every reason it can give shows up.
fn labels_hold<K: TrafficKey>(key: KeyKind) {
    let n = 20_000u32;
    let spec = mixed(key, u64::from(n));
    let (mut known, mut unknown, mut malformed) = (0u32, 0u32, 0u32);
    let (mut tagged, mut qinq, mut ext, mut frag, mut v6) = (0u32, 0u32, 0u32, 0u32, 0u32);
    let mut reasons = HashSet::new();
    let mut kinds = HashSet::new();
    let table: HashSet<K> = (0..spec.table_flows).map(K::seed).collect();
    for (label, f) in generate_labeled::<K>(&spec) {
        assert_eq!(K::parse_frame(&f), label.expect, "{label:?}");
        match label.kind {
            PacketKind::Known => {
                known += 1;
                let flow = label.flow.unwrap();
                assert!(table.contains(&flow));
                if !label.fragment {
                    // Only fragments of flows with ports lose their key.
                    assert_eq!(label.expect, Ok(flow));
                }
            }
            PacketKind::Unknown => {
                unknown += 1;
                assert!(!table.contains(&label.flow.unwrap()));
            }
            PacketKind::Malformed(m) => {
                malformed += 1;
                kinds.insert(m);
                reasons.insert(label.expect.unwrap_err());
                assert!(label.layout.is_none());
            }
        }
        if label.flow.is_some() {
            tagged += u32::from(label.tags > 0);
            qinq += u32::from(label.tags == 2);
            ext += u32::from(label.ext);
            frag += u32::from(label.fragment);
            v6 += u32::from(f[label.layout.unwrap().ip - 2..][..2] == [0x86, 0xdd]);
        }
    }
    let near = |got: u32, pct: f64, of: u32| {
        let want = pct / 100.0 * f64::from(of);
        (f64::from(got) - want).abs() < want * 0.15 + 10.0
    };
    let valid = known + unknown;
    assert!(near(malformed, 8.0, n), "{key}: malformed {malformed}");
    assert!(near(unknown, 10.0, n), "{key}: unknown {unknown}");
    assert!(near(tagged, 20.0, valid), "{key}: tagged {tagged}");
    assert!(near(qinq, 50.0, tagged), "{key}: qinq {qinq}");
    assert!(near(ext, 20.0, valid), "{key}: ext {ext}");
    assert!(near(frag, 10.0, valid), "{key}: fragments {frag}");
    match key {
        KeyKind::FiveTuple => assert!(near(v6, 50.0, valid), "{key}: IPv6 {v6}"),
        KeyKind::Ipv6Dst | KeyKind::Ipv6FiveTuple => assert_eq!(v6, valid),
        _ => assert_eq!(v6, 0),
    }
    let rotation = Malformed::of_kind(key);
    assert_eq!(kinds.len(), rotation.len(), "{key}");
    let want: HashSet<DropReason> = rotation.iter().map(|m| m.reason(key)).collect();
    assert_eq!(reasons, want, "{key}");
}

#[test]
fn every_kind_s_frames_parse_to_their_labels() {
    for key in KeyKind::ALL {
        crate::with_key_kind!(key, |K, N| {
            let _ = N;
            labels_hold::<K>(key)
        });
    }
}

/// Every valid frame cut at every byte up to the end of what the kind reads:
/// `too_short` inside the Ethernet header and tags, `truncated` after.
fn cuts_hold<K: TrafficKey>(key: KeyKind) {
    let spec = TrafficSpec {
        unknown_pct: 0.0,
        malformed_pct: 0.0,
        ..mixed(key, 600)
    };
    let mut shapes = HashSet::new();
    for (label, f) in generate_labeled::<K>(&spec) {
        let l = label.layout.unwrap();
        let end = l.key_end(key);
        shapes.insert((l.ip, l.ip_end - l.ip, l.l4 - l.ip_end, end));
        assert!(end <= f.len());
        for cut in 0..=end {
            let want = if cut < l.ip {
                Err(DropReason::TooShort)
            } else if cut < end {
                Err(DropReason::Truncated)
            } else {
                label.expect
            };
            assert_eq!(
                K::parse_frame(&f[..cut]),
                want,
                "{key} cut {cut} of {label:?}"
            );
        }
    }
    assert!(shapes.len() >= 6, "{key}: {} header layouts", shapes.len());
}

#[test]
fn every_kind_s_frames_cut_at_every_header_byte() {
    for key in KeyKind::ALL {
        crate::with_key_kind!(key, |K, N| {
            let _ = N;
            cuts_hold::<K>(key)
        });
    }
}

#[test]
fn unknown_index_outside_table() {
    assert_eq!(unknown_index(1000, 5), 0xc000_0005);
    for t in [0xc000_0001u32, 0xffff_fff0, u32::MAX] {
        for j in 0..100 {
            assert!(unknown_index(t, j) >= t);
        }
    }
}

#[test]
fn atomic_write_leaves_no_part_and_checks_what_is_there() {
    let dir = tmp("atomic");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.pcap");
    let spec = TrafficSpec {
        packets: 300,
        known_flows: 64,
        ..TrafficSpec::default()
    };
    // A part left by a process that is gone is removed.
    let stale = dir.join(".t.pcap.2147483646.partial");
    std::fs::write(&stale, b"cut").unwrap();
    assert_eq!(write_pcap_atomic(&path, &spec).unwrap(), 300);
    assert!(!stale.exists(), "stale part removed");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("t.pcap")]);
    assert_eq!(check_pcap(&path, &spec), Ok(()));
    // Cut short, another spec, one frame changed: each is named.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let e = check_pcap(&path, &spec).unwrap_err();
    assert!(e.contains("truncated record"), "{e}");
    std::fs::write(&path, &bytes).unwrap();
    let more = TrafficSpec {
        packets: 301,
        ..spec.clone()
    };
    assert_eq!(
        check_pcap(&path, &more).unwrap_err(),
        format!(
            "{}: holds 300 of the 301 packets [traffic] generates",
            path.display()
        )
    );
    let other = TrafficSpec {
        seed: 5,
        ..spec.clone()
    };
    assert!(check_pcap(&path, &other)
        .unwrap_err()
        .contains("packet 1 differs"));
    // A write that fails leaves nothing behind.
    let bad = dir.join("no-such-dir").join("t.pcap");
    assert!(write_pcap_atomic(&bad, &spec).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_pcap_roundtrip() {
    let path = tmp("gen.pcap");
    let spec = TrafficSpec {
        packets: 1000,
        known_flows: 64,
        cycle: true,
        malformed_pct: 3.0,
        frame_len: 128,
        ..TrafficSpec::default()
    };
    assert_eq!(write_pcap(&path, &spec).unwrap(), 1000);
    let recs: Vec<_> = PcapReader::open(&path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    let frames: Vec<_> = generate(&spec).collect();
    assert_eq!(recs.len(), 1000);
    for (r, f) in recs.iter().zip(&frames) {
        assert_eq!(&r.data, f);
        assert_eq!(r.orig_len as usize, f.len());
    }
    assert!(frames.iter().any(|f| f.len() == 124));
    assert_eq!((recs[999].ts_sec, recs[999].ts_frac), (1_700_000_000, 999));
}

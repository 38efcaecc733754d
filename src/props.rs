//! Properties of the parsers that hold for any input, checked by the
//! proptest suite (`tests/parser_props.rs`, which CI runs) and by the
//! cargo-fuzz targets (`fuzz/`). Each function panics when a property
//! fails.

#![forbid(unsafe_code)]

use crate::config::{resolve, Cli};
use crate::flows::{parse_flows, read_flows, FlowLimit};
use crate::key::{
    FiveTuple, FlowKey, Ipv4Dst, Ipv4FiveTuple, Ipv4SrcDst, Ipv6Dst, Ipv6FiveTuple, KeyKind,
};
use crate::packet::{DropReason, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::wire;
use std::path::Path;

/// Prefixes of a frame checked (the parsers read at most a few hundred
/// bytes).
const PREFIXES: usize = 600;

/// The frame parser of `kind` on `data`: deterministic, and the in-place
/// parsers agree with it; a key prints and reads back as itself; the key of
/// a frame does not change when bytes are appended, so every prefix with a
/// key has the whole frame's; and the kinds agree with each other (see
/// [`kinds_agree`]).
pub fn frame(kind: KeyKind, data: &[u8]) {
    crate::with_key_kind!(kind, |K, N| frame_of::<K, N>(data));
    kinds_agree(data);
}

fn frame_of<K: FlowKey<Bytes = [u8; N]>, const N: usize>(data: &[u8]) {
    let r = K::parse_frame(data);
    assert_eq!(r, K::parse_frame(data), "deterministic");
    // The in-place parsers give the same key, into any previous contents,
    // or the same reason.
    let mut bytes = [0xa5; N];
    let mut key = K::seed(7);
    assert_eq!(
        K::parse_frame_bytes(data, &mut bytes).map(|()| bytes),
        r.map(|k| k.to_bytes()),
        "parse_frame_bytes"
    );
    assert_eq!(
        K::parse_frame_into(data, &mut key).map(|()| key),
        r,
        "parse_frame_into"
    );
    if let Ok(k) = r {
        assert_eq!(K::from_bytes(&k.to_bytes()), k);
        let text = k.to_string();
        assert_eq!(K::parse_text(&text), Some(k), "{text:?}");
        let mut longer = data.to_vec();
        longer.extend_from_slice(&[0xa5; 9]);
        assert_eq!(K::parse_frame(&longer), Ok(k), "appended bytes");
    }
    for len in 0..data.len().min(PREFIXES) {
        if let Ok(p) = K::parse_frame(&data[..len]) {
            assert_eq!(r, Ok(p), "prefix of {len} bytes");
        }
    }
}

/// What the kinds make of one frame agrees: the same Ethernet header
/// decides for all; `ipv4_dst` and `ipv4_src_dst` read the same header; an
/// IPv4 5-tuple has their addresses, an IPv6 5-tuple `ipv6_dst`'s; the
/// `5tuple` kind's key is whichever family's 5-tuple, mapped; the 5-tuple
/// kinds' keys are `wire`'s tuples ([`wire::ipv4_tuple`],
/// [`wire::ipv6_tuple`]).
pub fn kinds_agree(data: &[u8]) {
    let d4 = Ipv4Dst::parse_frame(data);
    let sd4 = Ipv4SrcDst::parse_frame(data);
    let t4 = Ipv4FiveTuple::parse_frame(data);
    let d6 = Ipv6Dst::parse_frame(data);
    let t6 = Ipv6FiveTuple::parse_frame(data);
    let t = FiveTuple::parse_frame(data);
    assert_eq!(d4.map(|k| k.addr()), sd4.map(|k| k.dst()), "{data:x?}");
    if let Ok(k) = t4 {
        let sd = sd4.expect("a 5-tuple has an address pair");
        assert_eq!((k.src(), k.dst()), (sd.src(), sd.dst()));
    }
    if let Ok(k) = t6 {
        assert_eq!(d6.map(|d| d.addr().octets()), Ok(k.tuple().dst));
    }
    match (t4, t6) {
        (Ok(k), _) => assert_eq!(t, Ok(FiveTuple::from(k))),
        (_, Ok(k)) => assert_eq!(t, Ok(FiveTuple::from(k))),
        (Err(_), Err(_)) => assert!(t.is_err()),
    }
    if d4 == Err(DropReason::TooShort) {
        for r in [sd4.err(), t4.err(), d6.err(), t6.err(), t.err()] {
            assert_eq!(r, Some(DropReason::TooShort));
        }
    }
    if let (Err(DropReason::NotIpv4), Err(DropReason::NotIpv6)) = (d4, d6) {
        assert_eq!(t, Err(DropReason::NotIp));
    }
    // The 5-tuple kinds write their keys straight from the headers; what
    // they hold, or why there is none, is what `wire`'s tuples say.
    if let Ok((ethertype, ip)) = wire::ethertype(data) {
        let ip = data.get(ip..).unwrap_or(&[]);
        if ethertype == ETHERTYPE_IPV4 {
            assert_eq!(t4.map(|k| k.tuple()), wire::ipv4_tuple(ip), "{data:x?}");
        }
        if ethertype == ETHERTYPE_IPV6 {
            assert_eq!(t6.map(|k| k.tuple()), wire::ipv6_tuple(ip), "{data:x?}");
        }
    }
}

/// The flow-file parser of `kind` on `text` with `num_nodes` nodes: flows
/// with nodes in range and distinct keys that print and read back as the
/// same file, or a one-line error naming the file (and a line).
pub fn flow_file(kind: KeyKind, num_nodes: u16, text: &str) {
    crate::with_key_kind!(kind, |K, N| {
        let _ = N;
        flow_file_of::<K>(num_nodes, text)
    });
}

fn flow_file_of<K: FlowKey>(num_nodes: u16, text: &str) {
    let path = Path::new("fuzz.csv");
    let parsed = parse_flows::<K>(text, path, num_nodes);
    // The reader's path (flow files) splits lines its own way: it must
    // give the same flows or the same error.
    let read = read_flows::<K, _>(text.as_bytes(), path, num_nodes, &FlowLimit::none());
    match (&parsed, &read) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "parse_flows and read_flows"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("parse_flows {parsed:?}, read_flows {read:?}"),
    }
    for line in text.lines() {
        for part in line.split([',', ' ', ':', '>', '[', ']']) {
            ipv4_text(part);
        }
    }
    match parsed {
        Ok(flows) => {
            assert!(!flows.is_empty());
            assert!(flows.iter().all(|f| f.node.get() < num_nodes));
            let keys: std::collections::HashSet<K> = flows.iter().map(|f| f.key).collect();
            assert_eq!(keys.len(), flows.len(), "distinct keys");
            let again: String = flows
                .iter()
                .map(|f| format!("{},{}\n", f.key, f.node.get()))
                .collect();
            let back = parse_flows::<K>(&again, path, num_nodes).expect("printed flows read back");
            assert_eq!(back, flows);
        }
        Err(e) => {
            let e = e.to_string();
            assert!(e.starts_with("fuzz.csv:") && !e.contains('\n'), "{e:?}");
        }
    }
}

/// The IPv4 text parser of the key kinds (`key::text::v4`) takes exactly
/// what `std`'s `Ipv4Addr` parser takes, with the same address.
pub fn ipv4_text(s: &str) {
    assert_eq!(
        crate::key::text::v4(s),
        s.parse::<std::net::Ipv4Addr>().ok(),
        "{s:?}"
    );
}

/// The configuration parser on file `text` (with `--key` when given):
/// settings that hold together, or a one-line error. Files that name a
/// token file are skipped (it is read).
pub fn config(text: &str, key_flag: Option<&str>) {
    if text.contains("token_file") {
        return;
    }
    let cli = Cli {
        key: key_flag.map(str::to_string),
        ..Cli::default()
    };
    match resolve(&cli, "fuzz.toml", text) {
        Ok(s) => {
            assert!(s.num_nodes >= 1);
            assert!((1..=8).contains(&s.value_bits));
            assert!(u32::from(s.num_nodes) <= 1 << s.value_bits);
            assert!(s.lcore_ids.len() >= 3);
            assert!(s.portmask != 0);
            assert!((1..=crate::lcore::MAX_BURST as u16).contains(&s.burst));
            assert!(s.ring_size.is_power_of_two() && s.ring_size > u32::from(s.burst));
            if let Some(k) = key_flag {
                assert_eq!(s.key.name(), k);
            }
            if let Some(t) = &s.traffic {
                assert_eq!(t.spec.key, s.key);
            }
        }
        Err(e) => {
            let e = e.to_string();
            assert!(!e.is_empty() && !e.contains('\n'), "{e:?}");
        }
    }
}

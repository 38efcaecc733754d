//! Properties every key kind shares: the kind table, the text round trip
//! (proptest, over arbitrary key bytes), and the tags.

use super::*;
use proptest::prelude::*;
use std::collections::HashSet;

fn kind_matches<K: FlowKey<Bytes = [u8; N]>, const N: usize>(kind: KeyKind) {
    assert_eq!(kind.name(), K::KIND);
    assert_eq!(kind.key_len(), N);
    assert_eq!(kind.to_string().parse::<KeyKind>(), Ok(kind));
}

#[test]
fn the_kind_table_matches_the_types() {
    for kind in KeyKind::ALL {
        with_key_kind!(kind, |K, N| kind_matches::<K, N>(kind));
    }
    assert_eq!(KeyKind::default(), KeyKind::Ipv4Dst);
    assert_eq!(
        "ipv4".parse::<KeyKind>().unwrap_err(),
        "\"ipv4\" is not a key kind (ipv4_dst, ipv4_src_dst, ipv4_5tuple, ipv6_dst, ipv6_5tuple, 5tuple)"
    );
}

/// `Display` then `parse_text` gives the key back, and `text_error` has
/// nothing to say about it.
fn round_trip<K: FlowKey<Bytes = [u8; N]>, const N: usize>(bytes: &[u8]) {
    let mut b = [0u8; N];
    b.copy_from_slice(&bytes[..N]);
    let k = K::from_bytes(&b);
    assert_eq!(k.to_bytes(), b);
    let text = k.to_string();
    assert_eq!(K::parse_text(&text), Some(k), "{} {text:?}", K::KIND);
    assert_eq!(K::text_error(&text), None, "{text:?}");
    // A flow-file line carries it: no comma, no comment sign, no newline.
    assert!(!text.contains([',', '#', '\n']), "{text:?}");
    // Parsing is whitespace-tolerant around the arrow.
    assert_eq!(K::parse_text(&text.replace(" -> ", "->")), Some(k));
}

/// `parse_text` and `text_error` agree, and a key read back prints as
/// itself read again.
fn parse_agrees<K: FlowKey>(text: &str) {
    match K::parse_text(text) {
        Some(k) => {
            assert_eq!(K::text_error(text), None);
            assert_eq!(K::parse_text(&k.to_string()), Some(k));
        }
        None => {
            if let Some(why) = K::text_error(text) {
                assert!(!why.is_empty() && !why.contains('\n'), "{why:?}");
            }
        }
    }
}

/// Text made of the pieces key texts are made of.
fn key_ish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("10.0.0.1".to_string()),
        Just(":".to_string()),
        Just("->".to_string()),
        Just(" ".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("::ffff:".to_string()),
        Just("2001:db8::".to_string()),
        Just("tcp".to_string()),
        Just("udp".to_string()),
        "[0-9]{1,6}",
        "[a-f0-9:.]{0,8}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn text_round_trips(bytes in proptest::collection::vec(any::<u8>(), 37)) {
        for kind in KeyKind::ALL {
            with_key_kind!(kind, |K, N| round_trip::<K, N>(&bytes));
        }
    }

    /// IPv4-mapped addresses in the 37-byte keys (the 5tuple kind prints
    /// them in IPv4 form).
    #[test]
    fn mapped_text_round_trips(
        v4 in any::<[u8; 4]>(), w4 in any::<[u8; 4]>(), tail in any::<[u8; 5]>(), which in 0u8..4,
    ) {
        let mut b = [0u8; 37];
        b[10] = 0xff;
        b[11] = 0xff;
        b[12..16].copy_from_slice(&v4);
        if which & 1 == 0 {
            b[26] = 0xff;
            b[27] = 0xff;
        }
        b[28..32].copy_from_slice(&w4);
        b[32..].copy_from_slice(&tail);
        if which & 2 == 0 {
            b.swap(10, 26);
        }
        round_trip::<FiveTuple, 37>(&b);
        round_trip::<Ipv6FiveTuple, 37>(&b);
    }

    #[test]
    fn parsers_agree_on_any_text(text in key_ish()) {
        for kind in KeyKind::ALL {
            with_key_kind!(kind, |K, N| { let _ = N; parse_agrees::<K>(&text) });
        }
    }

    #[test]
    fn parsers_never_panic(text in "\\PC{0,60}") {
        for kind in KeyKind::ALL {
            with_key_kind!(kind, |K, N| { let _ = N; parse_agrees::<K>(&text) });
        }
    }
}

fn tags_spread<K: FlowKey>() {
    let n = 1 << 16;
    let tags: HashSet<u32> = (0..n).map(|i| K::seed(i).tag()).collect();
    // Random 32-bit values: about n^2 / 2^33 = 0.5 collisions expected.
    assert!(tags.len() as u32 >= n - 4, "{}: {}", K::KIND, tags.len());
    let low: HashSet<u32> = (0..n).map(|i| K::seed(i).tag() & 0xfff).collect();
    assert_eq!(low.len(), 4096, "{}: low bits", K::KIND);
}

#[test]
fn tags_of_wide_keys_are_hashes() {
    tags_spread::<Ipv4SrcDst>();
    tags_spread::<Ipv4FiveTuple>();
    tags_spread::<Ipv6Dst>();
    tags_spread::<Ipv6FiveTuple>();
    tags_spread::<FiveTuple>();
    assert_ne!(tag_of(&[0u8; 13]), tag_of(&[0u8; 37]));
}

fn seeds_distinct<K: FlowKey>() {
    let n = 1 << 17;
    let keys: HashSet<K> = (0..n)
        .chain(u32::MAX - 1000..=u32::MAX)
        .map(K::seed)
        .collect();
    assert_eq!(keys.len(), n as usize + 1001, "{}", K::KIND);
}

#[test]
fn seeds_are_distinct() {
    for kind in KeyKind::ALL {
        with_key_kind!(kind, |K, N| {
            let _ = N;
            seeds_distinct::<K>()
        });
    }
}

fn tag_flag_agrees<K: FlowKey>() {
    for i in [0u32, 1, 77, 1 << 20, u32::MAX] {
        let k = K::seed(i);
        assert_eq!(
            K::from_tag(k.tag()) == Some(k),
            K::TAG_HOLDS_KEY,
            "{}",
            K::KIND
        );
        if !K::TAG_HOLDS_KEY {
            assert_eq!(K::from_tag(k.tag()), None);
        }
    }
}

#[test]
fn only_ipv4_dst_fits_the_tag() {
    for kind in KeyKind::ALL {
        with_key_kind!(kind, |K, N| {
            let _ = N;
            tag_flag_agrees::<K>();
            assert_eq!(K::TAG_HOLDS_KEY, N <= 4);
        });
    }
}

/// Keys are equal exactly when their bytes are: the word-wise `==` of the
/// 37-byte kinds (`bytes_eq`) finds a difference in any single byte, the
/// overlapping last word's included.
#[test]
fn equality_is_byte_equality() {
    fn check<K: FlowKey<Bytes = [u8; N]>, const N: usize>() {
        let base: [u8; N] = std::array::from_fn(|i| (i * 7 + 3) as u8);
        let a = K::from_bytes(&base);
        assert_eq!(a, K::from_bytes(&base));
        for i in 0..N {
            for bit in [0x01u8, 0x80] {
                let mut b = base;
                b[i] ^= bit;
                assert_ne!(a, K::from_bytes(&b), "{} byte {i}", K::KIND);
            }
        }
    }
    for kind in KeyKind::ALL {
        with_key_kind!(kind, |K, N| if N >= 8 {
            check::<K, N>()
        });
    }
}

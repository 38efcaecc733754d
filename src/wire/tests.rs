//! The validated views on hand-made headers: every field the keys read,
//! every reason, every prefix.

use super::*;
use crate::packet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use proptest::prelude::*;

/// Ethernet header with the given tag TPIDs, then `ethertype`.
fn eth(tags: &[u16], ethertype: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    for (i, t) in tags.iter().enumerate() {
        f.extend_from_slice(&t.to_be_bytes());
        f.extend_from_slice(&(100 + i as u16).to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An IPv4 header with `opt_words` words of options, `protocol`,
/// `frag` (flags and offset field), total length `total`.
fn ipv4(opt_words: usize, protocol: u8, frag: u16, total: u16) -> Vec<u8> {
    let mut h = vec![0u8; 20 + opt_words * 4];
    h[0] = 0x40 | (5 + opt_words) as u8;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = protocol;
    h[12..16].copy_from_slice(&[10, 0, 0, 1]);
    h[16..20].copy_from_slice(&[10, 0, 0, 2]);
    for i in 0..opt_words * 4 {
        h[20 + i] = 1; // NOP
    }
    h
}

/// An IPv6 header with `next` and payload length `plen`.
fn ipv6(next: u8, plen: u16) -> Vec<u8> {
    let mut h = vec![0u8; 40];
    h[0] = 0x60;
    h[4..6].copy_from_slice(&plen.to_be_bytes());
    h[6] = next;
    h[7] = 64;
    h[8..24].copy_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    h[24..40].copy_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    h
}

/// An extension header (hop-by-hop, routing or destination options) of
/// `units` 8-byte units after the first.
fn ext(next: u8, units: u8) -> Vec<u8> {
    let mut h = vec![0u8; (usize::from(units) + 1) * 8];
    h[0] = next;
    h[1] = units;
    h[2] = 1; // PadN
    h[3] = h.len() as u8 - 4;
    h
}

/// A fragment header: offset in 8-byte units, M flag.
fn frag(next: u8, offset: u16, more: bool) -> Vec<u8> {
    let mut h = vec![next, 0, 0, 0, 0, 0, 0x12, 0x34];
    h[2..4].copy_from_slice(&(offset << 3 | u16::from(more)).to_be_bytes());
    h
}

/// Source port 1234, destination port 80, then `more` bytes.
fn l4(more: usize) -> Vec<u8> {
    let mut h = vec![0x04, 0xd2, 0, 80];
    h.resize(4 + more, 0);
    h
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const SRC6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn t4(sport: u16, dport: u16, protocol: u8) -> Tuple<[u8; 4]> {
    Tuple {
        src: [10, 0, 0, 1],
        dst: [10, 0, 0, 2],
        sport,
        dport,
        protocol,
    }
}

fn t6(sport: u16, dport: u16, protocol: u8) -> Tuple<[u8; 16]> {
    Tuple {
        src: SRC6,
        dst: DST6,
        sport,
        dport,
        protocol,
    }
}

#[test]
fn ethertype_after_up_to_two_tags() {
    assert_eq!(ethertype(&eth(&[], 0x0800)), Ok((0x0800, 14)));
    for tags in [
        &[0x8100][..],
        &[0x88a8],
        &[0x9100],
        &[0x88a8, 0x8100],
        &[0x9100, 0x8100],
        &[0x8100, 0x8100],
    ] {
        let f = eth(tags, 0x86dd);
        assert_eq!(ethertype(&f), Ok((0x86dd, f.len())), "{tags:x?}");
        for len in 0..f.len() {
            assert_eq!(ethertype(&f[..len]), Err(DropReason::TooShort), "{len}");
        }
    }
    // A third tag is the ethertype: no key kind takes it.
    assert_eq!(
        ethertype(&eth(&[0x88a8, 0x8100, 0x8100], 0x0800)),
        Ok((0x8100, 22))
    );
}

#[test]
fn ipv4_header_checks() {
    let h = ipv4(0, PROTO_UDP, 0, 28);
    let v = Ipv4Header::new_checked(&h).unwrap();
    assert_eq!((v.src(), v.dst()), ([10, 0, 0, 1], [10, 0, 0, 2]));
    assert_eq!((v.protocol(), v.header_len(), v.total_len()), (17, 20, 28));
    assert!(!v.is_fragment());
    // Version and IHL.
    for first in [0x44u8, 0x35, 0x65, 0x40, 0x00] {
        let mut b = h.clone();
        b[0] = first;
        assert_eq!(
            Ipv4Header::new_checked(&b).err(),
            Some(DropReason::BadIpv4Header)
        );
    }
    // Options must be present whole.
    let o = ipv4(3, PROTO_TCP, 0, 32);
    assert_eq!(Ipv4Header::new_checked(&o).unwrap().header_len(), 32);
    for len in 0..o.len() {
        assert_eq!(
            Ipv4Header::new_checked(&o[..len]).err(),
            Some(DropReason::Truncated),
            "{len}"
        );
    }
    // The largest header: IHL 15.
    let o = ipv4(10, PROTO_TCP, 0, 60);
    assert_eq!(Ipv4Header::new_checked(&o).unwrap().header_len(), 60);
}

#[test]
fn ipv4_fragments() {
    for (field, fragment) in [
        (0x0000u16, false),
        (0x4000, false), // DF
        (0x2000, true),  // MF: the first fragment
        (0x0001, true),  // offset 8
        (0x1fff, true),
        (0x6000, true),
        (0x8000, false), // the reserved bit alone
    ] {
        let h = ipv4(0, PROTO_TCP, field, 40);
        let v = Ipv4Header::new_checked(&h).unwrap();
        assert_eq!(v.is_fragment(), fragment, "{field:#x}");
        let p = cat(&[&h, &l4(16)]);
        let want = if fragment { (0, 0) } else { (1234, 80) };
        let t = ipv4_tuple(&p).unwrap();
        assert_eq!((t.sport, t.dport), want, "{field:#x}");
        assert_eq!(t.protocol, PROTO_TCP);
    }
}

#[test]
fn ipv4_payload_ends_at_the_total_length() {
    // Ethernet padding after a 20-byte packet is not a transport header.
    let p = cat(&[&ipv4(0, PROTO_UDP, 0, 20), &l4(22)]);
    assert_eq!(ipv4_tuple(&p), Err(DropReason::Truncated));
    let p = cat(&[&ipv4(0, PROTO_UDP, 0, 23), &l4(22)]);
    assert_eq!(ipv4_tuple(&p), Err(DropReason::Truncated));
    let p = cat(&[&ipv4(0, PROTO_UDP, 0, 24), &l4(22)]);
    assert_eq!(ipv4_tuple(&p), Ok(t4(1234, 80, PROTO_UDP)));
    // A total length past the frame: the frame's end bounds it.
    let p = cat(&[&ipv4(0, PROTO_UDP, 0, 1500), &l4(0)]);
    assert_eq!(ipv4_tuple(&p), Ok(t4(1234, 80, PROTO_UDP)));
    // Below the header length: a bad header (for the kinds that read on).
    let h = ipv4(1, PROTO_UDP, 0, 23);
    assert_eq!(
        Ipv4Header::new_checked(&h).unwrap().payload(),
        Err(DropReason::BadIpv4Header)
    );
    assert_eq!(
        ipv4_tuple(&cat(&[&h, &l4(4)])),
        Err(DropReason::BadIpv4Header)
    );
    // Protocols without ports need no transport header.
    let p = ipv4(0, PROTO_ICMP, 0, 20);
    assert_eq!(ipv4_tuple(&p), Ok(t4(0, 0, PROTO_ICMP)));
}

#[test]
fn ports_of_each_protocol() {
    for p in [PROTO_TCP, PROTO_UDP, PROTO_SCTP] {
        assert!(has_ports(p));
        assert_eq!(ports(p, false, &l4(0)), Ok((1234, 80)));
        assert_eq!(ports(p, false, &l4(0)[..3]), Err(DropReason::Truncated));
        assert_eq!(ports(p, true, &[]), Ok((0, 0)));
    }
    for p in [
        PROTO_ICMP,
        PROTO_ICMPV6,
        PROTO_GRE,
        PROTO_ESP,
        PROTO_AH,
        PROTO_IPV6_NONXT,
        33, // DCCP: ports, but not read
        136,
        255,
    ] {
        assert!(!has_ports(p));
        assert_eq!(ports(p, false, &[]), Ok((0, 0)));
    }
}

/// Every protocol number: ports exactly for TCP, UDP and SCTP, and only
/// when not a fragment; a short header is truncated only when its ports
/// are wanted.
#[test]
fn ports_of_every_protocol_number() {
    for p in 0..=255u8 {
        let ported = matches!(p, PROTO_TCP | PROTO_UDP | PROTO_SCTP);
        assert_eq!(has_ports(p), ported, "{p}");
        let want = if ported { (1234, 80) } else { (0, 0) };
        assert_eq!(ports(p, false, &l4(0)), Ok(want), "{p}");
        assert_eq!(ports(p, true, &l4(0)), Ok((0, 0)), "{p}");
        for short in 0..4 {
            let got = ports(p, false, &l4(0)[..short]);
            if ported {
                assert_eq!(got, Err(DropReason::Truncated), "{p}");
            } else {
                assert_eq!(got, Ok((0, 0)), "{p}");
            }
            assert_eq!(ports(p, true, &l4(0)[..short]), Ok((0, 0)), "{p}");
        }
    }
}

#[test]
fn ipv6_header_checks() {
    let p = cat(&[&ipv6(PROTO_TCP, 24), &l4(20)]);
    let v = Ipv6Header::new_checked(&p).unwrap();
    assert_eq!((v.src(), v.dst(), v.next_header()), (SRC6, DST6, 6));
    assert_eq!(v.payload().len(), 24);
    assert_eq!(ipv6_tuple(&p), Ok(t6(1234, 80, PROTO_TCP)));
    for len in 0..40 {
        assert_eq!(
            Ipv6Header::new_checked(&p[..len]).err(),
            Some(DropReason::Truncated),
            "{len}"
        );
    }
    for first in [0x40u8, 0x00, 0x70, 0xf6] {
        let mut b = p.clone();
        b[0] = first;
        assert_eq!(
            Ipv6Header::new_checked(&b).err(),
            Some(DropReason::BadIpv6Header)
        );
    }
    // Traffic class and flow label do not matter.
    let mut b = p.clone();
    b[0] = 0x6f;
    b[1..4].copy_from_slice(&[0xff, 0xff, 0xff]);
    assert_eq!(ipv6_tuple(&b), Ok(t6(1234, 80, PROTO_TCP)));
}

#[test]
fn ipv6_payload_ends_at_the_payload_length() {
    let p = cat(&[&ipv6(PROTO_UDP, 3), &l4(20)]);
    assert_eq!(ipv6_tuple(&p), Err(DropReason::Truncated));
    let p = cat(&[&ipv6(PROTO_UDP, 4), &l4(20)]);
    assert_eq!(ipv6_tuple(&p), Ok(t6(1234, 80, PROTO_UDP)));
    // Payload length 0: a jumbogram, to the end of the frame.
    let p = cat(&[&ipv6(PROTO_UDP, 0), &l4(0)]);
    assert_eq!(ipv6_tuple(&p), Ok(t6(1234, 80, PROTO_UDP)));
    let p = ipv6(PROTO_UDP, 0);
    assert_eq!(ipv6_tuple(&p), Err(DropReason::Truncated));
    // Past the frame: the frame's end.
    let p = cat(&[&ipv6(PROTO_UDP, 9000), &l4(0)]);
    assert_eq!(ipv6_tuple(&p), Ok(t6(1234, 80, PROTO_UDP)));
    // An extension header that runs past the payload length is cut.
    let p = cat(&[&ipv6(PROTO_IPV6_OPTS, 8), &ext(PROTO_UDP, 1), &l4(4)]);
    assert_eq!(ipv6_tuple(&p), Err(DropReason::Truncated));
}

#[test]
fn ipv6_extension_headers_are_walked() {
    let chain = cat(&[
        &ext(PROTO_IPV6_OPTS, 0),
        &ext(PROTO_IPV6_ROUTE, 2),
        &ext(PROTO_IPV6_FRAG, 1),
        &frag(PROTO_IPV6_OPTS, 0, false), // atomic: not a fragment
        &ext(PROTO_TCP, 0),
        &l4(16),
    ]);
    let p = cat(&[&ipv6(PROTO_HOPOPT, chain.len() as u16), &chain]);
    let v = Ipv6Header::new_checked(&p).unwrap();
    let up = v.upper_layer().unwrap();
    assert_eq!((up.protocol, up.fragment, up.payload.len()), (6, false, 20));
    assert_eq!(ipv6_tuple(&p), Ok(t6(1234, 80, PROTO_TCP)));
    // Every prefix short of the ports is truncated.
    for len in 0..p.len() - 16 {
        assert_eq!(ipv6_tuple(&p[..len]), Err(DropReason::Truncated), "{len}");
    }
    assert_eq!(ipv6_tuple(&p[..p.len() - 16]), Ok(t6(1234, 80, PROTO_TCP)));
    // Without ports, every extension header must still be whole.
    let chain = cat(&[&ext(PROTO_IPV6_ROUTE, 0), &ext(PROTO_ICMPV6, 3)]);
    let p = cat(&[&ipv6(PROTO_HOPOPT, chain.len() as u16), &chain]);
    assert_eq!(ipv6_tuple(&p), Ok(t6(0, 0, PROTO_ICMPV6)));
    for len in 0..p.len() {
        assert_eq!(ipv6_tuple(&p[..len]), Err(DropReason::Truncated), "{len}");
    }
}

#[test]
fn ipv6_fragments_have_no_ports_and_the_same_key() {
    // First fragment: the transport header follows; later ones: data.
    let first = cat(&[
        &ipv6(PROTO_HOPOPT, 0),
        &ext(PROTO_IPV6_FRAG, 0),
        &frag(PROTO_UDP, 0, true),
        &l4(8),
    ]);
    let later = cat(&[
        &ipv6(PROTO_IPV6_FRAG, 0),
        &frag(PROTO_UDP, 100, false),
        &[0xff; 16],
    ]);
    let middle = cat(&[&ipv6(PROTO_IPV6_FRAG, 0), &frag(PROTO_UDP, 7, true)]);
    for p in [&first, &later, &middle] {
        assert_eq!(ipv6_tuple(p), Ok(t6(0, 0, PROTO_UDP)));
    }
    // The fragment header's next header is the protocol, whatever follows.
    let p = cat(&[
        &ipv6(PROTO_IPV6_FRAG, 0),
        &frag(PROTO_IPV6_OPTS, 0, true),
        &ext(PROTO_TCP, 0),
        &l4(0),
    ]);
    assert_eq!(ipv6_tuple(&p), Ok(t6(0, 0, PROTO_IPV6_OPTS)));
    // The fragment header must be whole, nothing after it.
    for len in 0..middle.len() {
        assert_eq!(ipv6_tuple(&middle[..len]), Err(DropReason::Truncated));
    }
}

/// A chain of `n` destination options headers, then UDP.
fn chain_of(n: usize) -> Vec<u8> {
    let mut chain = Vec::new();
    for i in 0..n {
        chain.extend(ext(
            if i + 1 == n {
                PROTO_UDP
            } else {
                PROTO_IPV6_OPTS
            },
            0,
        ));
    }
    chain.extend(l4(4));
    let first = if n == 0 { PROTO_UDP } else { PROTO_IPV6_OPTS };
    cat(&[&ipv6(first, chain.len() as u16), &chain])
}

#[test]
fn the_extension_chain_limit() {
    for n in 0..=MAX_IPV6_EXT_HEADERS {
        assert_eq!(ipv6_tuple(&chain_of(n)), Ok(t6(1234, 80, PROTO_UDP)), "{n}");
    }
    for n in MAX_IPV6_EXT_HEADERS + 1..MAX_IPV6_EXT_HEADERS + 4 {
        assert_eq!(
            ipv6_tuple(&chain_of(n)),
            Err(DropReason::Ipv6ExtChainTooLong),
            "{n}"
        );
    }
    // The check comes before the header must be whole.
    let p = chain_of(MAX_IPV6_EXT_HEADERS + 1);
    let cut = 40 + MAX_IPV6_EXT_HEADERS * 8 + 1;
    assert_eq!(ipv6_tuple(&p[..cut]), Err(DropReason::Ipv6ExtChainTooLong));
}

#[test]
fn ipv4_over_ethernet_every_prefix() {
    for tags in [&[][..], &[0x8100], &[0x88a8, 0x8100]] {
        let f = cat(&[
            &eth(tags, ETHERTYPE_IPV4),
            &ipv4(2, PROTO_TCP, 0, 48),
            &l4(16),
        ]);
        let ip = 14 + tags.len() * 4;
        for len in 0..=f.len() {
            let got = ethertype(&f[..len]).and_then(|(_, o)| ipv4_tuple(&f[o..len]));
            let want = if len < ip {
                Err(DropReason::TooShort)
            } else if len < ip + 28 + 4 {
                Err(DropReason::Truncated)
            } else {
                Ok(t4(1234, 80, PROTO_TCP))
            };
            assert_eq!(got, want, "tags {tags:x?} len {len}");
        }
    }
    let _ = ETHERTYPE_IPV6;
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = ethertype(&bytes);
        let _ = ipv4_tuple(&bytes);
        let _ = ipv6_tuple(&bytes);
        if let Ok(h) = Ipv4Header::new_checked(&bytes) {
            let _ = h.payload();
        }
    }

    /// IPv6 packets whose chain is made of extension headers with random
    /// lengths and next headers: the walk ends in a result or a reason, and
    /// a result lies inside the packet.
    #[test]
    fn random_chains(
        nexts in proptest::collection::vec(prop_oneof![
            Just(PROTO_HOPOPT), Just(PROTO_IPV6_ROUTE), Just(PROTO_IPV6_OPTS),
            Just(PROTO_IPV6_FRAG), Just(PROTO_TCP), Just(PROTO_UDP), any::<u8>()
        ], 1..14),
        lens in proptest::collection::vec(any::<u8>(), 14),
        plen in any::<u16>(),
        cut in 0usize..400,
    ) {
        let mut p = ipv6(nexts[0], plen);
        for (i, n) in nexts.iter().enumerate().skip(1) {
            p.push(*n);
            p.push(lens[i] % 4);
            p.resize(p.len() + 6 + usize::from(lens[i] % 4) * 8, i as u8);
        }
        p.resize(p.len() + 8, 0xee);
        let p = &p[..cut.min(p.len())];
        if let Ok(h) = Ipv6Header::new_checked(p) {
            match h.upper_layer() {
                Ok(up) => {
                    prop_assert!(up.payload.len() <= p.len() - 40);
                    let _ = ports(up.protocol, up.fragment, up.payload);
                }
                Err(r) => prop_assert!(matches!(
                    r,
                    DropReason::Truncated | DropReason::Ipv6ExtChainTooLong
                )),
            }
        }
    }
}

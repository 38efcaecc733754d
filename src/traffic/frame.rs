//! Frames around a flow's headers: Ethernet with up to two VLAN tags, IPv4
//! (with options) or IPv6 (with extension headers), fragments, and a TCP,
//! UDP, SCTP, ICMP or ICMPv6 header, with correct checksums (the IPv4
//! header's; TCP, UDP over IPv6, ICMP and ICMPv6 of unfragmented packets;
//! UDP over IPv4 carries checksum 0, "none", and SCTP's CRC32c is left 0).
//! [`build`] also says where each header is ([`Layout`]), which is what the
//! tests predict drop reasons of cut frames from.

use crate::key::KeyKind;
use crate::pcap::SNAPLEN;
use crate::wire::{self, IPV4_HDR_LEN, IPV6_HDR_LEN};
use std::net::IpAddr;

/// The destination MAC of generated frames.
pub const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// The source MAC of generated frames.
pub const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

/// The fields a flow key is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Headers {
    /// Source address (the family of both decides the frame's).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol.
    pub protocol: u8,
    /// Source port (used by TCP, UDP and SCTP).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
}

/// An IPv6 extension header before the transport header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ext {
    /// Hop-by-hop options of `(n + 1) * 8` bytes (PadN).
    HopByHop(u8),
    /// A segment routing header of `(n + 1) * 8` bytes, segments left 0.
    Routing(u8),
    /// Destination options of `(n + 1) * 8` bytes (PadN).
    DestOpts(u8),
    /// An atomic fragment header (offset 0, no more fragments).
    AtomicFragment,
}

impl Ext {
    fn protocol(self) -> u8 {
        match self {
            Ext::HopByHop(_) => wire::PROTO_HOPOPT,
            Ext::Routing(_) => wire::PROTO_IPV6_ROUTE,
            Ext::DestOpts(_) => wire::PROTO_IPV6_OPTS,
            Ext::AtomicFragment => wire::PROTO_IPV6_FRAG,
        }
    }

    fn len(self) -> usize {
        match self {
            Ext::HopByHop(n) | Ext::Routing(n) | Ext::DestOpts(n) => (usize::from(n) + 1) * 8,
            Ext::AtomicFragment => 8,
        }
    }
}

/// A fragment of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// Offset in 8-byte units (0: the first fragment, which carries the
    /// transport header).
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
}

/// How a frame is built around its [`Headers`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shape {
    /// VLAN tags, outer first: `(TPID, TCI)`.
    pub tags: Vec<(u16, u16)>,
    /// IPv4 option words (0..=10): a router alert, then NOPs.
    pub ipv4_options: u8,
    /// IPv6 extension headers, in order.
    pub ipv6_ext: Vec<Ext>,
    /// A fragment (IPv6: a fragment header after `ipv6_ext`).
    pub fragment: Option<Fragment>,
    /// IPv4 identification, TCP sequence, ICMP sequence.
    pub id: u16,
    /// Frame length without the FCS; raised to what the headers need, cut
    /// to the pcap snaplen.
    pub len: usize,
}

/// Where the headers of a built frame are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layout {
    /// The IP header's first byte (after the ethertype).
    pub ip: usize,
    /// The end of the IP header (IPv4: with options; IPv6: 40 bytes).
    pub ip_end: usize,
    /// The first byte after the extension headers and the fragment header:
    /// the transport header, or fragment data.
    pub l4: usize,
    /// Whether the ports are read (TCP, UDP or SCTP, not a fragment).
    pub ported: bool,
}

impl Layout {
    /// How much of the frame a key kind reads: a frame cut before this is
    /// `too_short` before [`Layout::ip`] and `truncated` after.
    pub fn key_end(&self, kind: KeyKind) -> usize {
        match kind {
            KeyKind::Ipv4Dst | KeyKind::Ipv4SrcDst | KeyKind::Ipv6Dst => self.ip_end,
            KeyKind::Ipv4FiveTuple | KeyKind::Ipv6FiveTuple | KeyKind::FiveTuple => {
                self.l4 + if self.ported { 4 } else { 0 }
            }
        }
    }
}

/// Internet checksum of `data` (one's complement of the one's-complement
/// sum), starting from `sum`.
fn checksum_from(mut sum: u32, data: &[u8]) -> u16 {
    for c in data.chunks(2) {
        let w = match *c {
            [a, b] => u16::from_be_bytes([a, b]),
            [a] => u16::from_be_bytes([a, 0]),
            _ => 0,
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Internet checksum of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    checksum_from(0, data)
}

/// Writes the Ethernet header with `tags`, then `ethertype`.
pub fn eth_header(f: &mut Vec<u8>, tags: &[(u16, u16)], ethertype: u16) {
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    for &(tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
}

/// Length of the transport header written for `protocol`.
fn l4_len(protocol: u8) -> usize {
    match protocol {
        wire::PROTO_TCP => 20,
        wire::PROTO_UDP | wire::PROTO_ICMP | wire::PROTO_ICMPV6 => 8,
        wire::PROTO_SCTP => 12,
        _ => 0,
    }
}

/// Writes the transport header of `h` at `f[at..]` (zeros there already).
fn write_l4(f: &mut [u8], at: usize, h: &Headers, id: u16) {
    let t = &mut f[at..];
    match h.protocol {
        wire::PROTO_TCP | wire::PROTO_UDP | wire::PROTO_SCTP => {
            t[0..2].copy_from_slice(&h.sport.to_be_bytes());
            t[2..4].copy_from_slice(&h.dport.to_be_bytes());
        }
        _ => {}
    }
    match h.protocol {
        wire::PROTO_TCP => {
            t[4..8].copy_from_slice(&u32::from(id).to_be_bytes());
            t[12] = 5 << 4;
            t[13] = 0x10; // ACK
            t[14..16].copy_from_slice(&0xffffu16.to_be_bytes());
        }
        wire::PROTO_UDP => {
            let len = t.len().min(0xffff) as u16;
            t[4..6].copy_from_slice(&len.to_be_bytes());
        }
        wire::PROTO_SCTP => {
            t[4..8].copy_from_slice(&0x5ca1_ab1eu32.to_be_bytes());
        }
        wire::PROTO_ICMP | wire::PROTO_ICMPV6 => {
            t[0] = if h.protocol == wire::PROTO_ICMP {
                8
            } else {
                128
            };
            t[4..6].copy_from_slice(&0xefd1u16.to_be_bytes());
            t[6..8].copy_from_slice(&id.to_be_bytes());
        }
        _ => {}
    }
}

/// The offset of the checksum in the transport header, if it is filled in.
fn l4_checksum_at(protocol: u8, v6: bool) -> Option<usize> {
    match protocol {
        wire::PROTO_TCP => Some(16),
        wire::PROTO_UDP if v6 => Some(6),
        wire::PROTO_ICMP | wire::PROTO_ICMPV6 => Some(2),
        _ => None,
    }
}

/// The pseudo-header sum of a transport checksum (none for ICMP).
fn pseudo_sum(h: &Headers, len: usize) -> u32 {
    if h.protocol == wire::PROTO_ICMP {
        return 0;
    }
    let mut sum = 0u32;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
    };
    match (h.src, h.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            add(&s.octets());
            add(&d.octets());
        }
        (s, d) => {
            add(&v6_octets(s));
            add(&v6_octets(d));
        }
    }
    sum + u32::from(h.protocol) + (len as u32 & 0xffff) + (len as u32 >> 16)
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// A frame of `h` shaped by `shape`, and where its headers are.
pub fn build(h: &Headers, shape: &Shape) -> (Vec<u8>, Layout) {
    let v4 = matches!((h.src, h.dst), (IpAddr::V4(_), IpAddr::V4(_)));
    let ip = 14 + 4 * shape.tags.len();
    let (ip_end, l4) = if v4 {
        let end = ip + IPV4_HDR_LEN + 4 * usize::from(shape.ipv4_options.min(10));
        (end, end)
    } else {
        let ext: usize = shape.ipv6_ext.iter().map(|e| e.len()).sum();
        let frag = if shape.fragment.is_some() { 8 } else { 0 };
        (ip + IPV6_HDR_LEN, ip + IPV6_HDR_LEN + ext + frag)
    };
    let first = shape.fragment.is_none_or(|fr| fr.offset == 0);
    let l4_hdr = if first { l4_len(h.protocol) } else { 0 };
    let len = shape.len.max(l4 + l4_hdr).min(SNAPLEN as usize);
    let mut f = Vec::with_capacity(len);
    eth_header(
        &mut f,
        &shape.tags,
        if v4 {
            crate::packet::ETHERTYPE_IPV4
        } else {
            crate::packet::ETHERTYPE_IPV6
        },
    );
    if v4 {
        let (IpAddr::V4(src), IpAddr::V4(dst)) = (h.src, h.dst) else {
            unreachable!()
        };
        let words = shape.ipv4_options.min(10);
        f.push(0x45 + words);
        f.push(0);
        f.extend_from_slice(&((len - ip) as u16).to_be_bytes());
        f.extend_from_slice(&shape.id.to_be_bytes());
        let frag = match shape.fragment {
            None => 0x4000, // DF
            Some(fr) => (fr.offset & 0x1fff) | if fr.more { 0x2000 } else { 0 },
        };
        f.extend_from_slice(&frag.to_be_bytes());
        f.extend_from_slice(&[64, h.protocol, 0, 0]);
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&dst.octets());
        for w in 0..words {
            f.extend_from_slice(if w == 0 {
                &[0x94, 0x04, 0, 0] // router alert
            } else {
                &[1, 1, 1, 1] // NOPs
            });
        }
        let csum = internet_checksum(&f[ip..ip_end]);
        f[ip + 10..ip + 12].copy_from_slice(&csum.to_be_bytes());
    } else {
        let mut chain: Vec<u8> = shape.ipv6_ext.iter().map(|e| e.protocol()).collect();
        if shape.fragment.is_some() {
            chain.push(wire::PROTO_IPV6_FRAG);
        }
        chain.push(h.protocol);
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&((len - ip_end) as u16).to_be_bytes());
        f.extend_from_slice(&[chain[0], 64]);
        f.extend_from_slice(&v6_octets(h.src));
        f.extend_from_slice(&v6_octets(h.dst));
        for (i, e) in shape.ipv6_ext.iter().enumerate() {
            let next = chain[i + 1];
            let start = f.len();
            f.resize(start + e.len(), 0);
            let x = &mut f[start..];
            x[0] = next;
            match *e {
                Ext::HopByHop(n) | Ext::DestOpts(n) => {
                    x[1] = n;
                    x[2] = 1; // PadN over the rest
                    x[3] = (x.len() - 4) as u8;
                }
                Ext::Routing(n) => {
                    x[1] = n;
                    x[2] = 4; // segment routing
                    x[4] = (n / 2).saturating_sub(1);
                    if n >= 2 {
                        x[8..24].copy_from_slice(&v6_octets(h.dst));
                    }
                }
                Ext::AtomicFragment => {
                    x[4..8].copy_from_slice(&u32::from(shape.id).to_be_bytes());
                }
            }
        }
        if let Some(fr) = shape.fragment {
            f.push(h.protocol);
            f.push(0);
            let field = (fr.offset & 0x1fff) << 3 | u16::from(fr.more);
            f.extend_from_slice(&field.to_be_bytes());
            f.extend_from_slice(&(0xf000_0000 | u32::from(shape.id)).to_be_bytes());
        }
    }
    debug_assert_eq!(f.len(), l4);
    f.resize(len, 0);
    if first {
        write_l4(&mut f, l4, h, shape.id);
        if shape.fragment.is_none() {
            if let Some(at) = l4_checksum_at(h.protocol, !v4) {
                let sum = pseudo_sum(h, len - l4);
                let c = checksum_from(sum, &f[l4..]);
                f[l4 + at..l4 + at + 2].copy_from_slice(&c.to_be_bytes());
            }
        }
    }
    let layout = Layout {
        ip,
        ip_end,
        l4,
        ported: wire::has_ports(h.protocol) && shape.fragment.is_none(),
    };
    (f, layout)
}

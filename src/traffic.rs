//! Deterministic test traffic: the frames a [`TrafficSpec`] describes.
//!
//! [`generate`] yields Ethernet frames of the spec's key kind: packets of
//! known flows ([`FlowKey::seed`]`(i)`, `i < known_flows`) and, on request,
//! of unknown flows, malformed frames (per kind: see [`Malformed`]), VLAN
//! and QinQ tags, IPv4 options and IPv6 extension headers, and fragments,
//! as a pure function of the spec, seeded by [`SplitMix64`].
//! [`generate_labeled`] adds what the key kind's parser must make of each
//! frame ([`Label`]). [`write_pcap`] writes them to a classic pcap file
//! through [`crate::pcap::PcapWriter`] (net_pcap replays it;
//! `efd-lb-pcapgen` is its command line). The frames are built by
//! [`frame::build`].
//!
//! With the `ipv4_dst` kind and no tags beyond 802.1Q, no options and no
//! fragments, the output is byte for byte what it was before the other
//! kinds existed (the benchmarks' pcaps; a test pins it).

#![forbid(unsafe_code)]

pub mod frame;

use crate::key::{
    FiveTuple, FlowKey, Ipv4Dst, Ipv4FiveTuple, Ipv4SrcDst, Ipv6Dst, Ipv6FiveTuple, KeyKind,
};
use crate::packet::DropReason;
use crate::wire::{self, Tuple};
use frame::{build, eth_header, Ext, Fragment, Headers, Layout, Shape, SRC_MAC};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::pcap::{PcapWriter, GLOBAL_HEADER_LEN, RECORD_HEADER_LEN, SNAPLEN};
use crate::rng::SplitMix64;

pub use frame::internet_checksum as ipv4_checksum;

/// What the generator should produce.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficSpec {
    /// The key kind of the flows (and of the malformed frames).
    pub key: KeyKind,
    /// Number of frames.
    pub packets: u64,
    /// Known flows used: flow `i` has key [`FlowKey::seed`]`(i)` (for
    /// `ipv4_dst` the destination `i`), `i < known_flows`. With 0, every
    /// valid packet is an unknown-flow packet.
    pub known_flows: u32,
    /// true: packet `j` uses flow `j % known_flows` (e.g. "2,048 flows
    /// cycled"); false: a seeded pseudo-random permutation of the known
    /// flows (no repeats within any `known_flows` consecutive packets).
    pub cycle: bool,
    /// Percentage (0..=100) of packets whose flow is not in the table
    /// (`seed(i)` with `i >= table_flows`, normally `0xC0000000 | j`).
    pub unknown_pct: f64,
    /// Number of flows in the EFD table (`seed(i)`, `i < table_flows`, are
    /// known).
    pub table_flows: u32,
    /// Percentage (0..=100) of malformed frames, the kind's [`Malformed`]
    /// frames in rotation ([`Malformed::of_kind`]).
    pub malformed_pct: f64,
    /// Percentage (0..=100) of valid packets carried in VLAN tags.
    pub vlan_pct: f64,
    /// Percentage (0..=100) of the tagged packets with two tags (QinQ,
    /// 0x88a8 then 0x8100) instead of one 802.1Q tag.
    pub qinq_pct: f64,
    /// Percentage (0..=100) of valid packets with IPv4 options (1 to 10
    /// words) or IPv6 extension headers (hop-by-hop, routing, destination
    /// options, atomic fragment, in four chains).
    pub ext_pct: f64,
    /// Percentage (0..=100) of valid packets that are fragments (first,
    /// middle and last ones); their key has no ports.
    pub fragment_pct: f64,
    /// Frame length on the wire including the 4-byte FCS, which is not
    /// stored: 64 means 60-byte frames are written. Raised to the minimum
    /// that holds the headers.
    pub frame_len: usize,
    /// PRNG seed; the output is a pure function of the spec.
    pub seed: u64,
}

impl Default for TrafficSpec {
    /// 0 packets of `ipv4_dst` flows over 1,048,576 known flows, no unknown
    /// / malformed / tagged / optioned / fragmented traffic, 64-byte
    /// frames, seed 0.
    fn default() -> Self {
        TrafficSpec {
            key: KeyKind::Ipv4Dst,
            packets: 0,
            known_flows: 1 << 20,
            cycle: false,
            unknown_pct: 0.0,
            table_flows: 1 << 20,
            malformed_pct: 0.0,
            vlan_pct: 0.0,
            qinq_pct: 0.0,
            ext_pct: 0.0,
            fragment_pct: 0.0,
            frame_len: 64,
            seed: 0,
        }
    }
}

/// A malformed frame: one the key kinds it is made for give a drop reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Malformed {
    /// An ARP request.
    Arp,
    /// An IPv6/UDP packet (for the IPv4 kinds).
    Ipv6,
    /// An IPv4/UDP packet (for the IPv6 kinds).
    Ipv4,
    /// 20 bytes ending inside the QinQ header.
    Runt,
    /// IPv4 with IHL 4.
    BadIhl,
    /// The IPv6 ethertype with IP version 4.
    BadIpv6Version,
    /// An IPv4 header cut after 16 bytes.
    TruncatedIpv4,
    /// An IPv6 header cut after 30 bytes.
    TruncatedIpv6,
    /// IPv4/TCP cut 2 bytes into the TCP header.
    TruncatedPorts4,
    /// IPv6/TCP, after a destination options header, cut 2 bytes into the
    /// TCP header.
    TruncatedPorts6,
    /// IPv6/UDP after one more extension header than
    /// [`wire::MAX_IPV6_EXT_HEADERS`].
    LongExtChain,
    /// IPv4/UDP whose total length (16) is below its header length.
    BadTotalLength,
    /// IPv4/UDP in three VLAN tags.
    ThreeTags,
}

impl Malformed {
    /// The malformed frames generated for a key kind, in rotation.
    pub const fn of_kind(kind: KeyKind) -> &'static [Malformed] {
        use Malformed::*;
        match kind {
            // The seed's rotation, unchanged.
            KeyKind::Ipv4Dst => &[Arp, Ipv6, Runt, BadIhl, TruncatedIpv4],
            KeyKind::Ipv4SrcDst => &[Arp, Ipv6, Runt, BadIhl, TruncatedIpv4, ThreeTags],
            KeyKind::Ipv4FiveTuple => &[
                Arp,
                Ipv6,
                Runt,
                BadIhl,
                TruncatedIpv4,
                TruncatedPorts4,
                BadTotalLength,
                ThreeTags,
            ],
            KeyKind::Ipv6Dst => &[Arp, Ipv4, Runt, BadIpv6Version, TruncatedIpv6, ThreeTags],
            KeyKind::Ipv6FiveTuple => &[
                Arp,
                Ipv4,
                Runt,
                BadIpv6Version,
                TruncatedIpv6,
                TruncatedPorts6,
                LongExtChain,
                ThreeTags,
            ],
            KeyKind::FiveTuple => &[
                Arp,
                Runt,
                BadIhl,
                BadIpv6Version,
                TruncatedIpv4,
                TruncatedIpv6,
                TruncatedPorts4,
                TruncatedPorts6,
                LongExtChain,
                BadTotalLength,
                ThreeTags,
            ],
        }
    }

    /// The reason `kind`'s parser gives this frame.
    pub fn reason(self, kind: KeyKind) -> DropReason {
        use Malformed::*;
        let v4 = matches!(
            kind,
            KeyKind::Ipv4Dst | KeyKind::Ipv4SrcDst | KeyKind::Ipv4FiveTuple
        );
        let v6 = matches!(kind, KeyKind::Ipv6Dst | KeyKind::Ipv6FiveTuple);
        let wrong_ethertype = if v4 {
            DropReason::NotIpv4
        } else if v6 {
            DropReason::NotIpv6
        } else {
            DropReason::NotIp
        };
        match self {
            Arp | Ipv6 | Ipv4 | ThreeTags => wrong_ethertype,
            Runt => DropReason::TooShort,
            BadIhl | BadTotalLength => DropReason::BadIpv4Header,
            BadIpv6Version => DropReason::BadIpv6Header,
            TruncatedIpv4 | TruncatedIpv6 | TruncatedPorts4 | TruncatedPorts6 => {
                DropReason::Truncated
            }
            LongExtChain => DropReason::Ipv6ExtChainTooLong,
        }
    }

    /// The frame, `len` bytes (without FCS) where the kind allows.
    pub fn frame(self, len: usize) -> Vec<u8> {
        use Malformed::*;
        let v4 = |protocol| Headers {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(0, 0, 0, 1)),
            protocol,
            sport: 1024,
            dport: 5000,
        };
        let v6 = |protocol| Headers {
            src: IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
            dst: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            protocol,
            sport: 1024,
            dport: 5000,
        };
        let shape = |len| Shape {
            len,
            ..Shape::default()
        };
        let mut f = Vec::with_capacity(len.max(60));
        match self {
            Arp => {
                eth_header(&mut f, &[], 0x0806);
                f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
                f.extend_from_slice(&SRC_MAC);
                f.extend_from_slice(&SRC_IP.to_be_bytes());
                f.extend_from_slice(&[0; 6]);
                f.extend_from_slice(&0x0a00_0002u32.to_be_bytes());
                f.resize(len.max(42), 0);
            }
            Ipv6 => {
                eth_header(&mut f, &[], 0x86dd);
                f.extend_from_slice(&[0x60, 0, 0, 0, 0, 8, 17, 64]);
                f.extend_from_slice(&[0xfd; 16]);
                f.extend_from_slice(&[0xfd; 16]);
                f.extend_from_slice(&[0x04, 0x00, 0x13, 0x88, 0, 8, 0, 0]);
                f.resize(len.max(62), 0);
            }
            Ipv4 => f = build(&v4(wire::PROTO_UDP), &shape(len)).0,
            Runt => {
                eth_header(&mut f, &[(0x88a8, 1), (0x8100, 2)], 0x0800);
                f.truncate(20);
            }
            BadIhl => {
                f = udp_frame(Ipv4Dst::from_u32(1), None, 0, len);
                f[14] = 0x44;
            }
            BadIpv6Version => {
                f = build(&v6(wire::PROTO_UDP), &shape(len)).0;
                f[14] = 0x40;
            }
            TruncatedIpv4 => {
                f = udp_frame(Ipv4Dst::from_u32(1), None, 0, len);
                f.truncate(14 + 16);
            }
            TruncatedIpv6 => {
                f = build(&v6(wire::PROTO_UDP), &shape(len)).0;
                f.truncate(14 + 30);
            }
            TruncatedPorts4 => {
                let (g, l) = build(&v4(wire::PROTO_TCP), &shape(len));
                f = g;
                f.truncate(l.l4 + 2);
            }
            TruncatedPorts6 => {
                let s = Shape {
                    ipv6_ext: vec![Ext::DestOpts(0)],
                    ..shape(len)
                };
                let (g, l) = build(&v6(wire::PROTO_TCP), &s);
                f = g;
                f.truncate(l.l4 + 2);
            }
            LongExtChain => {
                let s = Shape {
                    ipv6_ext: vec![Ext::DestOpts(0); wire::MAX_IPV6_EXT_HEADERS + 1],
                    ..shape(len)
                };
                f = build(&v6(wire::PROTO_UDP), &s).0;
            }
            BadTotalLength => {
                f = udp_frame(Ipv4Dst::from_u32(1), None, 0, len);
                f[16..18].copy_from_slice(&16u16.to_be_bytes());
                f[24..26].copy_from_slice(&[0, 0]);
                let csum = ipv4_checksum(&f[14..34]);
                f[24..26].copy_from_slice(&csum.to_be_bytes());
            }
            ThreeTags => {
                let s = Shape {
                    tags: vec![(0x88a8, 1), (0x8100, 2), (0x8100, 3)],
                    ..shape(len)
                };
                f = build(&v4(wire::PROTO_UDP), &s).0;
            }
        }
        f
    }
}

const SRC_IP: u32 = 0x0a00_0001;
/// The source of generated IPv6 packets whose key has no source.
const SRC_IP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);

/// A UDP/IPv4 frame of `len` bytes (without FCS) of flow `key` with a
/// correct IPv4 header checksum; `vlan` is an optional 802.1Q VLAN id.
pub fn udp_frame(key: Ipv4Dst, vlan: Option<u16>, id: u16, len: usize) -> Vec<u8> {
    let l2 = if vlan.is_some() { 18 } else { 14 };
    let len = len.max(l2 + 28).min(SNAPLEN as usize);
    let mut f = Vec::with_capacity(len);
    match vlan {
        Some(v) => eth_header(&mut f, &[(0x8100, v & 0x0fff)], 0x0800),
        None => eth_header(&mut f, &[], 0x0800),
    }
    let ip_len = (len - l2) as u16;
    let ip = f.len();
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&ip_len.to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&[0x40, 0, 64, 17, 0, 0]); // DF, TTL 64, UDP, csum
    f.extend_from_slice(&SRC_IP.to_be_bytes());
    f.extend_from_slice(&key.to_bytes());
    let csum = ipv4_checksum(&f[ip..ip + 20]);
    f[ip + 10..ip + 12].copy_from_slice(&csum.to_be_bytes());
    let udp_len = ip_len - 20;
    f.extend_from_slice(&(1024 + (id & 0x3fff)).to_be_bytes());
    f.extend_from_slice(&5000u16.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]); // UDP checksum 0 = none (valid over IPv4)
    f.resize(len, 0);
    f
}

/// How the generator makes frames of a key kind: the headers of a flow's
/// packets, and the key a frame with given headers has.
pub trait TrafficKey: FlowKey {
    /// The headers of packet `id` of flow `self` (what the key leaves open,
    /// the generator fills in: for `ipv4_dst` the source 10.0.0.1 and UDP
    /// ports `1024 + id % 16384` to 5000).
    fn headers(&self, id: u16) -> Headers;

    /// The key of a frame with headers `h`, as the parser reads it (the
    /// caller zeroes the ports of fragments and of protocols without
    /// ports).
    fn key_of(h: &Headers) -> Self;
}

fn v4(a: IpAddr) -> [u8; 4] {
    match a {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or([0; 4], |a| a.octets()),
    }
}

fn v6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

fn udp_headers(src: IpAddr, dst: IpAddr, id: u16) -> Headers {
    Headers {
        src,
        dst,
        protocol: wire::PROTO_UDP,
        sport: 1024 + (id & 0x3fff),
        dport: 5000,
    }
}

impl TrafficKey for Ipv4Dst {
    fn headers(&self, id: u16) -> Headers {
        udp_headers(
            IpAddr::V4(Ipv4Addr::from_bits(SRC_IP)),
            IpAddr::V4(self.addr()),
            id,
        )
    }
    fn key_of(h: &Headers) -> Self {
        Ipv4Dst::new(v4(h.dst).into())
    }
}

impl TrafficKey for Ipv4SrcDst {
    fn headers(&self, id: u16) -> Headers {
        udp_headers(IpAddr::V4(self.src()), IpAddr::V4(self.dst()), id)
    }
    fn key_of(h: &Headers) -> Self {
        Ipv4SrcDst::new(v4(h.src).into(), v4(h.dst).into())
    }
}

fn tuple_headers<A: Copy>(t: &Tuple<A>, addr: impl Fn(A) -> IpAddr) -> Headers {
    Headers {
        src: addr(t.src),
        dst: addr(t.dst),
        protocol: t.protocol,
        sport: t.sport,
        dport: t.dport,
    }
}

fn headers_tuple<A>(h: &Headers, addr: impl Fn(IpAddr) -> A) -> Tuple<A> {
    Tuple {
        src: addr(h.src),
        dst: addr(h.dst),
        sport: h.sport,
        dport: h.dport,
        protocol: h.protocol,
    }
}

impl TrafficKey for Ipv4FiveTuple {
    fn headers(&self, _: u16) -> Headers {
        tuple_headers(&self.tuple(), |a| IpAddr::V4(a.into()))
    }
    fn key_of(h: &Headers) -> Self {
        Ipv4FiveTuple::from_tuple(&headers_tuple(h, v4))
    }
}

impl TrafficKey for Ipv6Dst {
    fn headers(&self, id: u16) -> Headers {
        udp_headers(IpAddr::V6(SRC_IP6), IpAddr::V6(self.addr()), id)
    }
    fn key_of(h: &Headers) -> Self {
        Ipv6Dst::new(v6(h.dst).into())
    }
}

impl TrafficKey for Ipv6FiveTuple {
    fn headers(&self, _: u16) -> Headers {
        tuple_headers(&self.tuple(), |a| IpAddr::V6(a.into()))
    }
    fn key_of(h: &Headers) -> Self {
        Ipv6FiveTuple::from_tuple(&headers_tuple(h, v6))
    }
}

impl TrafficKey for FiveTuple {
    /// IPv4 when both addresses are IPv4-mapped, else IPv6.
    fn headers(&self, _: u16) -> Headers {
        match self.v4() {
            Some(t) => tuple_headers(&t, |a| IpAddr::V4(a.into())),
            None => tuple_headers(&self.tuple(), |a| IpAddr::V6(a.into())),
        }
    }
    fn key_of(h: &Headers) -> Self {
        match (h.src, h.dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => FiveTuple::from_v4(&headers_tuple(h, v4)),
            _ => FiveTuple::from_v6(&headers_tuple(h, v6)),
        }
    }
}

/// What a generated frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// A packet of a known flow (`seed(i)`, `i < known_flows`).
    Known,
    /// A packet of a flow outside the table.
    Unknown,
    /// A malformed frame.
    Malformed(Malformed),
}

/// What a generated frame is and what the key kind's parser must make of
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label<K> {
    /// Known, unknown or malformed.
    pub kind: PacketKind,
    /// The flow the packet belongs to (known and unknown packets).
    pub flow: Option<K>,
    /// The key the parser must find, or its drop reason. A fragment's key
    /// is its flow's without ports, which the table may not hold.
    pub expect: Result<K, DropReason>,
    /// VLAN tags (0, 1 or 2).
    pub tags: u8,
    /// IPv4 options or IPv6 extension headers.
    pub ext: bool,
    /// A fragment.
    pub fragment: bool,
    /// Where the headers are (known and unknown packets).
    pub layout: Option<Layout>,
}

/// The four IPv6 extension header chains of optioned packets.
fn ext_chain(j: u64) -> Vec<Ext> {
    match j % 4 {
        0 => vec![Ext::HopByHop(0)],
        1 => vec![Ext::HopByHop(0), Ext::DestOpts(1)],
        2 => vec![Ext::HopByHop(0), Ext::Routing(2), Ext::DestOpts(0)],
        _ => vec![Ext::DestOpts(0), Ext::AtomicFragment],
    }
}

/// A valid frame of flow `key` for packet `j` and its label.
fn valid_frame<K: TrafficKey>(
    kind: PacketKind,
    key: K,
    j: u64,
    tags: u8,
    ext: bool,
    fragment: bool,
    len: usize,
) -> (Label<K>, Vec<u8>) {
    let id = j as u16;
    let mut h = key.headers(id);
    let v4 = matches!(h.dst, IpAddr::V4(_));
    let vid = (j % 4094) as u16 + 1;
    let shape = Shape {
        tags: match tags {
            0 => vec![],
            1 => vec![(0x8100, vid)],
            _ => vec![(0x88a8, vid), (0x8100, 4095 - vid)],
        },
        ipv4_options: if ext && v4 { 1 + (j % 10) as u8 } else { 0 },
        ipv6_ext: if ext && !v4 { ext_chain(j) } else { vec![] },
        fragment: fragment.then(|| match j % 3 {
            0 => Fragment {
                offset: 0,
                more: true,
            },
            1 => Fragment {
                offset: 1 + (j % 1000) as u16,
                more: true,
            },
            _ => Fragment {
                offset: 1 + (j % 1000) as u16,
                more: false,
            },
        }),
        id,
        len,
    };
    let (f, layout) = build(&h, &shape);
    if fragment || !wire::has_ports(h.protocol) {
        h.sport = 0;
        h.dport = 0;
    }
    let label = Label {
        kind,
        flow: Some(key),
        expect: Ok(K::key_of(&h)),
        tags,
        ext,
        fragment,
        layout: Some(layout),
    };
    (label, f)
}

/// Generates the frames of `spec` with keys of kind `K` (`spec.key` is
/// not looked at), each with its [`Label`]. Deterministic for a given
/// spec.
pub fn generate_labeled<K: TrafficKey>(
    spec: &TrafficSpec,
) -> impl Iterator<Item = (Label<K>, Vec<u8>)> {
    let spec = spec.clone();
    let kind = KeyKind::from_name(K::KIND).unwrap_or_default();
    let rotation = Malformed::of_kind(kind);
    let mut rng = SplitMix64::new(spec.seed);
    // Tags beyond one, options and fragments draw from their own stream, so
    // that the seed's draws (and its frames) stay as they were.
    let mut shape_rng = SplitMix64::new(spec.seed ^ 0x5eed_0f5a_9e57_0001);
    let perm = Permutation::new(spec.known_flows, &mut rng);
    let len = spec.frame_len.saturating_sub(4);
    let malformed = spec.malformed_pct.clamp(0.0, 100.0);
    let unknown_edge = malformed + spec.unknown_pct.clamp(0.0, 100.0);
    let mut n_malformed = 0u64;
    (0..spec.packets).map(move |j| {
        let u = rng.next_f64() * 100.0;
        let v = rng.next_f64() * 100.0;
        if u < malformed {
            let m = rotation[(n_malformed % rotation.len() as u64) as usize];
            n_malformed += 1;
            let label = Label {
                kind: PacketKind::Malformed(m),
                flow: None,
                expect: Err(m.reason(kind)),
                tags: 0,
                ext: false,
                fragment: false,
                layout: None,
            };
            return (label, m.frame(len));
        }
        let mut tags = u8::from(v < spec.vlan_pct);
        if tags == 1 && spec.qinq_pct > 0.0 && shape_rng.next_f64() * 100.0 < spec.qinq_pct {
            tags = 2;
        }
        let ext = spec.ext_pct > 0.0 && shape_rng.next_f64() * 100.0 < spec.ext_pct;
        let fragment = spec.fragment_pct > 0.0 && shape_rng.next_f64() * 100.0 < spec.fragment_pct;
        if u < unknown_edge || spec.known_flows == 0 {
            let key = K::seed(unknown_index(spec.table_flows, j));
            valid_frame(PacketKind::Unknown, key, j, tags, ext, fragment, len)
        } else {
            let k = u64::from(spec.known_flows);
            let key = K::seed(if spec.cycle {
                (j % k) as u32
            } else {
                perm.apply(j % k) as u32
            });
            valid_frame(PacketKind::Known, key, j, tags, ext, fragment, len)
        }
    })
}

/// Pseudo-random bijection of `0..n` (n >= 1), keyed by the seed: two
/// multiply-add rounds and an xorshift on `0..2^k` with cycle walking.
struct Permutation {
    n: u64,
    mask: u64,
    shift: u32,
    a: u64,
    b: u64,
    c: u64,
    d: u64,
}

impl Permutation {
    fn new(n: u32, rng: &mut SplitMix64) -> Self {
        let n = u64::from(n.max(1));
        let bits = 64 - (n - 1).leading_zeros().min(63);
        let bits = bits.max(1);
        Permutation {
            n,
            mask: (1u64 << bits) - 1,
            shift: bits.div_ceil(2),
            a: rng.next_u64() | 1,
            b: rng.next_u64(),
            c: rng.next_u64() | 1,
            d: rng.next_u64(),
        }
    }

    #[inline]
    fn round(&self, x: u64) -> u64 {
        let x = (x.wrapping_mul(self.a).wrapping_add(self.b)) & self.mask;
        let x = x ^ (x >> self.shift);
        (x.wrapping_mul(self.c).wrapping_add(self.d)) & self.mask
    }

    #[inline]
    fn apply(&self, x: u64) -> u64 {
        let mut y = self.round(x);
        while y >= self.n {
            y = self.round(y);
        }
        y
    }
}

/// A flow index `>= table_flows` for packet `j`: `0xC0000000 | j` (low 30
/// bits) when the table is below 0xC0000000, else an index above the
/// table (for `ipv4_dst`, the destination).
fn unknown_index(table_flows: u32, j: u64) -> u32 {
    if table_flows <= 0xc000_0000 {
        0xc000_0000 | (j as u32 & 0x3fff_ffff)
    } else {
        let span = (1u64 << 32) - u64::from(table_flows);
        (u64::from(table_flows) + j % span) as u32
    }
}

/// Generates the frames of `spec` (see [`TrafficSpec`]), of its key kind;
/// deterministic for a given spec.
pub fn generate(spec: &TrafficSpec) -> Box<dyn Iterator<Item = Vec<u8>>> {
    crate::with_key_kind!(spec.key, |K, N| {
        let _ = N;
        Box::new(generate_labeled::<K>(spec).map(|(_, f)| f))
    })
}

/// The most bytes the pcap of `packets` frames of `frame_len` (with FCS,
/// as [`TrafficSpec::frame_len`]) takes: global header, and per record its
/// header and the frame (never shorter than the longest malformed one).
pub fn pcap_file_bytes(packets: u64, frame_len: usize) -> u64 {
    let frame = frame_len.saturating_sub(4).clamp(62, SNAPLEN as usize) as u64;
    GLOBAL_HEADER_LEN as u64 + packets.saturating_mul(RECORD_HEADER_LEN as u64 + frame)
}

/// Writes the frames of `spec` to a classic pcap file at `path` (1 µs apart)
/// and returns the number of packets written.
pub fn write_pcap(path: &Path, spec: &TrafficSpec) -> io::Result<u64> {
    let mut w = PcapWriter::create(path)?;
    const BASE_SEC: u32 = 1_700_000_000;
    for (j, frame) in generate(spec).enumerate() {
        let j = j as u64;
        w.write_packet(
            BASE_SEC + (j / 1_000_000) as u32,
            (j % 1_000_000) as u32,
            &frame,
        )?;
    }
    let n = w.packets();
    w.finish()?;
    Ok(n)
}

/// Writes the pcap of `spec` to `path` so that `path` never holds a part
/// of it: into a temporary file next to it (`.NAME.PID.partial`), renamed
/// over `path` once complete. A failed write removes the temporary file;
/// one left by a process that was killed is removed by the next call.
/// Returns the number of packets written.
pub fn write_pcap_atomic(path: &Path, spec: &TrafficSpec) -> io::Result<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("not a file name"))?
        .to_string_lossy()
        .into_owned();
    remove_stale_partials(dir, &name);
    let tmp = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let written = write_pcap(&tmp, spec).and_then(|n| {
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(n)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Removes `.NAME.PID.partial` files in `dir` whose process is gone.
fn remove_stale_partials(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for e in entries.flatten() {
        let f = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = f
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".partial"))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether the pcap at `path` is exactly what `spec` generates (every
/// record complete, the same frames, as many): `Err` says what differs.
pub fn check_pcap(path: &Path, spec: &TrafficSpec) -> Result<(), String> {
    let mut reader = crate::pcap::PcapReader::open(path).map_err(|e| e.to_string())?;
    let mut frames = generate(spec);
    let mut n = 0u64;
    loop {
        let rec = reader.next_record().map_err(|e| e.to_string())?;
        match (rec, frames.next()) {
            (None, None) => return Ok(()),
            (Some(r), Some(f)) if r.data == f => n += 1,
            (None, Some(_)) => {
                return Err(format!(
                    "{}: holds {n} of the {} packets [traffic] generates",
                    path.display(),
                    spec.packets
                ))
            }
            (Some(_), None) => {
                return Err(format!(
                    "{}: holds more than the {} packets [traffic] generates",
                    path.display(),
                    spec.packets
                ))
            }
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{}: packet {} differs from what [traffic] generates",
                    path.display(),
                    n + 1
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests;

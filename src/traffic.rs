//! Deterministic test traffic: the frames a [`TrafficSpec`] describes.
//!
//! [`generate`] yields UDP/IPv4 Ethernet frames (and, on request, unknown
//! destinations, malformed frames and 802.1Q tags) as a pure function of
//! the spec, seeded by [`SplitMix64`]; [`generate_labeled`] adds what the
//! load balancer should do with each. [`write_pcap`] writes them to a
//! classic pcap file through [`crate::pcap::PcapWriter`] (net_pcap replays
//! it; `efd-lb-pcapgen` is its command line).

#![forbid(unsafe_code)]

use crate::key::{FlowKey, Ipv4Dst};
use std::io;
use std::path::Path;

use crate::pcap::{PcapWriter, SNAPLEN};
use crate::rng::SplitMix64;

/// What the generator should produce.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficSpec {
    /// Number of frames.
    pub packets: u64,
    /// Known destinations used: flow `i` has `dst = i`, `i < known_flows`.
    /// With 0, every valid packet is an unknown-flow packet.
    pub known_flows: u32,
    /// true: packet `j` uses flow `j % known_flows` (e.g. "2,048 flows
    /// cycled"); false: a seeded pseudo-random permutation of the known
    /// flows (no repeats within any `known_flows` consecutive packets).
    pub cycle: bool,
    /// Percentage (0..=100) of packets whose destination is not in the
    /// table (`dst >= table_flows`, normally `0xC0000000 | j`).
    pub unknown_pct: f64,
    /// Number of flows in the EFD table (`dst < table_flows` are known).
    pub table_flows: u32,
    /// Percentage (0..=100) of malformed frames, spread over ARP, IPv6, a
    /// 20-byte runt (ends inside its QinQ header), bad IHL and a truncated
    /// IPv4 header, in rotation.
    pub malformed_pct: f64,
    /// Percentage (0..=100) of valid IPv4 packets carried in an 802.1Q tag.
    pub vlan_pct: f64,
    /// Frame length on the wire including the 4-byte FCS, which is not
    /// stored: 64 means 60-byte frames are written. Raised to the minimum
    /// that holds the headers.
    pub frame_len: usize,
    /// PRNG seed; the output is a pure function of the spec.
    pub seed: u64,
}

impl Default for TrafficSpec {
    /// 0 packets over 1,048,576 known flows, no unknown / malformed / VLAN
    /// traffic, 64-byte frames, seed 0.
    fn default() -> Self {
        TrafficSpec {
            packets: 0,
            known_flows: 1 << 20,
            cycle: false,
            unknown_pct: 0.0,
            table_flows: 1 << 20,
            malformed_pct: 0.0,
            vlan_pct: 0.0,
            frame_len: 64,
            seed: 0,
        }
    }
}

/// The kind of a generated frame and the outcome the load balancer should
/// give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// Valid IPv4 to a known flow (flow `i < known_flows`, key
    /// `Ipv4Dst::seed(i)`).
    Known {
        /// The flow key (its IPv4 destination).
        key: Ipv4Dst,
        /// Carried in a VLAN tag.
        vlan: bool,
    },
    /// Valid IPv4 to a destination outside the table.
    Unknown {
        /// The flow key (its IPv4 destination).
        key: Ipv4Dst,
        /// Carried in a VLAN tag.
        vlan: bool,
    },
    /// ARP request (drop reason `not_ipv4`).
    Arp,
    /// IPv6/UDP (drop reason `not_ipv4`).
    Ipv6,
    /// 20-byte runt ending inside its QinQ header (drop reason `too_short`).
    Runt,
    /// IPv4 with IHL 4 (drop reason `bad_ipv4_header`).
    BadIhl,
    /// IPv4 header cut after 16 bytes (drop reason `truncated`).
    TruncatedIpv4,
}

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const SRC_IP: u32 = 0x0a00_0001;

/// Internet checksum of `data` (one's complement of the one's-complement sum).
pub fn ipv4_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
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

fn eth_header(f: &mut Vec<u8>, tags: &[(u16, u16)], ethertype: u16) {
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    for &(tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
}

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

fn malformed_frame(kind: PacketKind, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len.max(60));
    match kind {
        PacketKind::Arp => {
            eth_header(&mut f, &[], 0x0806);
            f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
            f.extend_from_slice(&SRC_MAC);
            f.extend_from_slice(&SRC_IP.to_be_bytes());
            f.extend_from_slice(&[0; 6]);
            f.extend_from_slice(&0x0a00_0002u32.to_be_bytes());
            f.resize(len.max(42), 0);
        }
        PacketKind::Ipv6 => {
            eth_header(&mut f, &[], 0x86dd);
            f.extend_from_slice(&[0x60, 0, 0, 0, 0, 8, 17, 64]);
            f.extend_from_slice(&[0xfd; 16]);
            f.extend_from_slice(&[0xfd; 16]);
            f.extend_from_slice(&[0x04, 0x00, 0x13, 0x88, 0, 8, 0, 0]);
            f.resize(len.max(62), 0);
        }
        PacketKind::Runt => {
            eth_header(&mut f, &[(0x88a8, 1), (0x8100, 2)], 0x0800);
            f.truncate(20);
        }
        PacketKind::BadIhl => {
            f = udp_frame(Ipv4Dst::from_u32(1), None, 0, len);
            f[14] = 0x44;
        }
        PacketKind::TruncatedIpv4 => {
            f = udp_frame(Ipv4Dst::from_u32(1), None, 0, len);
            f.truncate(14 + 16);
        }
        PacketKind::Known { .. } | PacketKind::Unknown { .. } => {}
    }
    f
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

/// Generates the frames of `spec` together with their [`PacketKind`].
/// Deterministic for a given spec.
pub fn generate_labeled(spec: &TrafficSpec) -> impl Iterator<Item = (PacketKind, Vec<u8>)> {
    let spec = spec.clone();
    let mut rng = SplitMix64::new(spec.seed);
    let perm = Permutation::new(spec.known_flows, &mut rng);
    let len = spec.frame_len.saturating_sub(4);
    let malformed = spec.malformed_pct.clamp(0.0, 100.0);
    let unknown_edge = malformed + spec.unknown_pct.clamp(0.0, 100.0);
    let mut n_malformed = 0u64;
    (0..spec.packets).map(move |j| {
        let u = rng.next_f64() * 100.0;
        let v = rng.next_f64() * 100.0;
        if u < malformed {
            let kind = [
                PacketKind::Arp,
                PacketKind::Ipv6,
                PacketKind::Runt,
                PacketKind::BadIhl,
                PacketKind::TruncatedIpv4,
            ][(n_malformed % 5) as usize];
            n_malformed += 1;
            return (kind, malformed_frame(kind, len));
        }
        let vlan = v < spec.vlan_pct;
        let vid = vlan.then_some((j % 4094) as u16 + 1);
        let id = j as u16;
        if u < unknown_edge || spec.known_flows == 0 {
            let key = Ipv4Dst::from_u32(unknown_dst(spec.table_flows, j));
            (
                PacketKind::Unknown { key, vlan },
                udp_frame(key, vid, id, len),
            )
        } else {
            let k = u64::from(spec.known_flows);
            let key = Ipv4Dst::seed(if spec.cycle {
                (j % k) as u32
            } else {
                perm.apply(j % k) as u32
            });
            (
                PacketKind::Known { key, vlan },
                udp_frame(key, vid, id, len),
            )
        }
    })
}

/// A destination `>= table_flows` for packet `j`: `0xC0000000 | j` (low 30
/// bits) when the table is below 0xC0000000, else a value above the table.
fn unknown_dst(table_flows: u32, j: u64) -> u32 {
    if table_flows <= 0xc000_0000 {
        0xc000_0000 | (j as u32 & 0x3fff_ffff)
    } else {
        let span = (1u64 << 32) - u64::from(table_flows);
        (u64::from(table_flows) + j % span) as u32
    }
}

/// Generates the frames of `spec` (see [`TrafficSpec`]); deterministic for a
/// given spec.
pub fn generate(spec: &TrafficSpec) -> impl Iterator<Item = Vec<u8>> {
    generate_labeled(spec).map(|(_, f)| f)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{ipv4_dst, DropReason};
    use crate::pcap::PcapReader;
    use std::collections::HashSet;
    use std::path::PathBuf;

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("efd-lb-{}-{name}", std::process::id()))
    }

    #[test]
    fn checksum_known_vector() {
        // Classic example header, checksum field zeroed: expect 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
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
        let spec = TrafficSpec {
            packets: 500,
            known_flows: 100,
            unknown_pct: 20.0,
            malformed_pct: 10.0,
            vlan_pct: 10.0,
            seed: 7,
            ..TrafficSpec::default()
        };
        let a: Vec<_> = generate(&spec).collect();
        let b: Vec<_> = generate(&spec).collect();
        assert_eq!(a, b);
        let c: Vec<_> = generate(&TrafficSpec { seed: 8, ..spec }).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn mix_matches_percentages_and_drop_reasons() {
        let spec = TrafficSpec {
            packets: 20_000,
            known_flows: 1000,
            table_flows: 1000,
            unknown_pct: 10.0,
            malformed_pct: 5.0,
            vlan_pct: 20.0,
            seed: 1,
            ..TrafficSpec::default()
        };
        let (mut known, mut unknown, mut malformed, mut vlan) = (0, 0, 0, 0);
        let mut reasons = [0u32; DropReason::COUNT];
        for (kind, f) in generate_labeled(&spec) {
            let r = ipv4_dst(&f);
            match kind {
                PacketKind::Known { key, vlan: v } => {
                    known += 1;
                    vlan += v as u32;
                    assert!(key.to_u32() < 1000);
                    assert_eq!(r, Ok(key.to_u32()));
                }
                PacketKind::Unknown { key, vlan: v } => {
                    unknown += 1;
                    vlan += v as u32;
                    assert!(key.to_u32() >= 1000);
                    assert_eq!(r, Ok(key.to_u32()));
                }
                other => {
                    malformed += 1;
                    let want = match other {
                        PacketKind::Arp | PacketKind::Ipv6 => DropReason::NotIpv4,
                        PacketKind::Runt => DropReason::TooShort,
                        PacketKind::BadIhl => DropReason::BadIpv4Header,
                        _ => DropReason::Truncated,
                    };
                    assert_eq!(r, Err(want), "{other:?}");
                    reasons[want as usize] += 1;
                    if other == PacketKind::Runt {
                        assert_eq!(f.len(), 20);
                    }
                }
            }
        }
        let near = |n: u32, pct: f64, of: u32| {
            let want = pct / 100.0 * f64::from(of);
            (f64::from(n) - want).abs() < want * 0.15 + 10.0
        };
        assert!(near(malformed, 5.0, 20_000), "malformed {malformed}");
        assert!(near(unknown, 10.0, 20_000), "unknown {unknown}");
        assert!(near(vlan, 20.0, known + unknown), "vlan {vlan}");
        assert!(reasons[..4].iter().all(|&n| n > 0), "{reasons:?}");
    }

    #[test]
    fn unknown_dst_outside_table() {
        assert_eq!(unknown_dst(1000, 5), 0xc000_0005);
        for t in [0xc000_0001u32, 0xffff_fff0, u32::MAX] {
            for j in 0..100 {
                assert!(unknown_dst(t, j) >= t);
            }
        }
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
}

//! `ipv4_5tuple`: a flow is an IPv4 connection.
//!
//! Bytes (13): source address, destination address (wire order), source
//! port, destination port (big-endian), protocol. Text:
//! `10.0.0.1:1234 -> 10.0.0.2:80 tcp` (protocol by name or number, see
//! [`super::text::Protocol`]).
//!
//! The frame parser ([`crate::wire::ipv4_tuple`]) reads the IPv4 header and
//! the TCP, UDP or SCTP ports; fragments and protocols without ports have
//! ports 0. Its reasons: `too_short`, `not_ipv4`, `bad_ipv4_header` (also a
//! total length below the header length), `truncated` (also ports cut off).

use super::{tag_of, text, write_tuple, FlowKey};
use crate::packet::{DropReason, ETHERTYPE_IPV4};
use crate::wire::{self, Tuple};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;

/// A flow keyed by its IPv4 5-tuple.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ipv4FiveTuple([u8; 13]);

/// Destination ports of the seed population, in rotation.
pub(crate) const SEED_PORTS: [u16; 8] = [80, 443, 53, 8080, 22, 5060, 3478, 9000];

/// The seed population's protocol and ports for flow `i`: TCP, UDP and
/// SCTP in rotation, every 8th flow a protocol without ports (ports 0).
pub(crate) fn seed_l4(i: u32, no_ports: u8) -> (u8, u16, u16) {
    if i % 8 == 7 {
        return (no_ports, 0, 0);
    }
    let protocol = [wire::PROTO_TCP, wire::PROTO_UDP, wire::PROTO_SCTP][(i % 3) as usize];
    let sport = 1024 + (i.wrapping_mul(40_503) % 64_000) as u16;
    (protocol, sport, SEED_PORTS[(i / 8 % 8) as usize])
}

/// The 5-tuple of an IPv4 frame, written to `b` (`ipv4_5tuple`'s parser).
#[inline(always)]
fn write_frame(frame: &[u8], b: &mut [u8; 13]) -> Result<(), DropReason> {
    let (ethertype, ip) = wire::ethertype(frame)?;
    if ethertype != ETHERTYPE_IPV4 {
        return Err(DropReason::NotIpv4);
    }
    write_tuple(&wire::ipv4_tuple(frame.get(ip..).unwrap_or(&[]))?, b);
    Ok(())
}

impl Ipv4FiveTuple {
    /// The key of `src:sport -> dst:dport` over `protocol`.
    #[inline]
    pub fn new(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, protocol: u8) -> Self {
        Self::from_tuple(&Tuple {
            src: src.octets(),
            dst: dst.octets(),
            sport,
            dport,
            protocol,
        })
    }

    /// The key of a parsed 5-tuple.
    #[inline(always)]
    pub fn from_tuple(t: &Tuple<[u8; 4]>) -> Self {
        let mut b = [0u8; 13];
        write_tuple(t, &mut b);
        Ipv4FiveTuple(b)
    }

    /// The 5-tuple.
    #[inline]
    pub fn tuple(&self) -> Tuple<[u8; 4]> {
        let b = &self.0;
        Tuple {
            src: [b[0], b[1], b[2], b[3]],
            dst: [b[4], b[5], b[6], b[7]],
            sport: u16::from_be_bytes([b[8], b[9]]),
            dport: u16::from_be_bytes([b[10], b[11]]),
            protocol: b[12],
        }
    }

    /// The source address.
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.tuple().src)
    }

    /// The destination address.
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.tuple().dst)
    }

    const EXAMPLE: &'static str = "10.0.0.1:1234 -> 10.0.0.2:80 tcp";

    fn parse(text: &str) -> Result<Self, String> {
        let (s, d, p) = text::split_tuple(text, Self::EXAMPLE)?;
        let (src, sport) = text::parse_v4_endpoint(s)?;
        let (dst, dport) = text::parse_v4_endpoint(d)?;
        Ok(Self::new(src, sport, dst, dport, text::parse_protocol(p)?))
    }
}

impl Hash for Ipv4FiveTuple {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let b = &self.0;
        let lo = u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        let hi = u64::from_ne_bytes([b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12]]);
        state.write_u64(lo);
        state.write_u64(hi);
    }
}

impl FlowKey for Ipv4FiveTuple {
    type Bytes = [u8; 13];
    const KIND: &'static str = "ipv4_5tuple";
    const TEXT_FORM: &'static str = "IPv4 5-tuple";

    parsers_from_write_frame!(13);

    fn parse_text(text: &str) -> Option<Self> {
        Self::parse(text).ok()
    }

    fn text_error(text: &str) -> Option<String> {
        Self::parse(text).err()
    }

    #[inline]
    fn to_bytes(&self) -> [u8; 13] {
        self.0
    }

    #[inline]
    fn from_bytes(bytes: &[u8; 13]) -> Self {
        Ipv4FiveTuple(*bytes)
    }

    #[inline]
    fn tag(&self) -> u32 {
        tag_of(&self.0)
    }

    #[inline]
    fn from_tag(_: u32) -> Option<Self> {
        None
    }

    const TAG_HOLDS_KEY: bool = false;

    /// Destination `i` (as `ipv4_dst`), source `10.x.y.z` (the low 24 bits
    /// of `i * 2654435761`); TCP, UDP and SCTP in rotation with a source
    /// port from `i` and a well-known destination port, every 8th flow ICMP
    /// (ports 0).
    fn seed(i: u32) -> Self {
        let src = 0x0a00_0000 | (i.wrapping_mul(2_654_435_761) & 0x00ff_ffff);
        let (protocol, sport, dport) = seed_l4(i, wire::PROTO_ICMP);
        Self::new(
            Ipv4Addr::from_bits(src),
            sport,
            Ipv4Addr::from_bits(i),
            dport,
            protocol,
        )
    }
}

impl fmt::Display for Ipv4FiveTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.tuple();
        text::fmt_v4_tuple(f, t.src.into(), t.sport, t.dst.into(), t.dport, t.protocol)
    }
}

impl fmt::Debug for Ipv4FiveTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv4FiveTuple({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn forms_agree() {
        let k = Ipv4FiveTuple::parse_text("10.0.0.1:1234 -> 10.0.0.2:80 tcp").unwrap();
        assert_eq!(
            k.to_bytes(),
            [10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xd2, 0, 80, 6]
        );
        assert_eq!(k.to_string(), "10.0.0.1:1234 -> 10.0.0.2:80 tcp");
        assert_eq!(
            Ipv4FiveTuple::parse_text("10.0.0.1:1234->10.0.0.2:80  6"),
            Some(k)
        );
        assert_eq!(Ipv4FiveTuple::from_bytes(&k.to_bytes()), k);
        assert_eq!(Ipv4FiveTuple::from_tag(k.tag()), None);
        let icmp = Ipv4FiveTuple::parse_text("10.0.0.1:0 -> 10.0.0.2:0 icmp").unwrap();
        assert_eq!(icmp.to_string(), "10.0.0.1:0 -> 10.0.0.2:0 icmp");
        assert_eq!(
            Ipv4FiveTuple::parse_text("10.0.0.1:0 -> 10.0.0.2:0 99")
                .unwrap()
                .to_string(),
            "10.0.0.1:0 -> 10.0.0.2:0 99"
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = |t: &str| Ipv4FiveTuple::text_error(t).unwrap();
        assert_eq!(
            e("10.0.0.1:1234 -> 10.0.0.2:80"),
            "expected \"10.0.0.1:1234 -> 10.0.0.2:80 tcp\""
        );
        assert_eq!(
            e("10.0.0.1:1234 -> 10.0.0.2:99999 tcp"),
            "port \"99999\" is not a number 0..=65535"
        );
        assert_eq!(
            e("10.0.0.1 -> 10.0.0.2:80 tcp"),
            "\"10.0.0.1\" has no port (expected ADDRESS:PORT)"
        );
        assert_eq!(
            e("10.0.0.300:1 -> 10.0.0.2:80 tcp"),
            "\"10.0.0.300\" is not an IPv4 address"
        );
        assert!(e("10.0.0.1:1 -> 10.0.0.2:80 tpc").starts_with("unknown protocol \"tpc\""));
        assert!(Ipv4FiveTuple::text_error("10.0.0.1:1 -> 10.0.0.2:80 tcp").is_none());
    }

    #[test]
    fn seeds_are_distinct_and_port_less_without_ports() {
        let keys: HashSet<_> = (0..100_000).map(Ipv4FiveTuple::seed).collect();
        assert_eq!(keys.len(), 100_000);
        for i in 0..64 {
            let t = Ipv4FiveTuple::seed(i).tuple();
            assert_eq!(t.dst, i.to_be_bytes());
            assert_eq!(
                wire::has_ports(t.protocol),
                t.sport != 0 && t.dport != 0,
                "{i}"
            );
        }
    }
}

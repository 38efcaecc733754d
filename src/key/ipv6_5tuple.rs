//! `ipv6_5tuple`: a flow is an IPv6 connection.
//!
//! Bytes (37): source address, destination address (wire order), source
//! port, destination port (big-endian), protocol. Text:
//! `[2001:db8::1]:1234 -> [2001:db8::2]:443 tcp` (addresses in RFC 5952
//! form, protocol by name or number).
//!
//! The frame parser ([`crate::wire::ipv6_tuple`]) walks the extension
//! headers to the transport header and reads the TCP, UDP or SCTP ports;
//! fragments and protocols without ports have ports 0. Its reasons:
//! `too_short`, `not_ipv6`, `bad_ipv6_header`, `truncated`,
//! `ipv6_ext_chain_too_long`.

use super::ipv4_5tuple::seed_l4;
use super::ipv6_dst::SEED_PREFIX;
use super::{tag_of, text, write_tuple, FlowKey};
use crate::packet::{DropReason, ETHERTYPE_IPV6};
use crate::wire::{self, Tuple};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::Ipv6Addr;

/// Length of the 37-byte 5-tuple keys.
pub(crate) const LEN: usize = 37;

/// A 5-tuple of IPv6 addresses as key bytes.
#[inline(always)]
pub(crate) fn tuple_bytes(t: &Tuple<[u8; 16]>) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    write_tuple(t, &mut b);
    b
}

/// The 5-tuple of an IPv6 frame, written to `b` (`ipv6_5tuple`'s parser).
#[inline(always)]
fn write_frame(frame: &[u8], b: &mut [u8; LEN]) -> Result<(), DropReason> {
    let (ethertype, ip) = wire::ethertype(frame)?;
    if ethertype != ETHERTYPE_IPV6 {
        return Err(DropReason::NotIpv6);
    }
    write_packet(frame.get(ip..).unwrap_or(&[]), b)
}

/// The 5-tuple of the IPv6 packet at the start of `ip` (what
/// [`wire::ipv6_tuple`] gives), written to `b`: the addresses copied from
/// the header at once, then ports and protocol. Through a [`Tuple`] the
/// key took a detour over the distributor's stack (`src/lcore/DESIGN.md`;
/// `ipv4_5tuple`'s 13-byte tuple did not, and is still built by
/// [`wire::ipv4_tuple`]).
#[inline(always)]
pub(crate) fn write_packet(ip: &[u8], b: &mut [u8; LEN]) -> Result<(), DropReason> {
    let h = wire::Ipv6Header::new_checked(ip)?;
    let up = h.upper_layer()?;
    let (sport, dport) = wire::ports(up.protocol, up.fragment, up.payload)?;
    b[..32].copy_from_slice(h.addresses());
    b[32..34].copy_from_slice(&sport.to_be_bytes());
    b[34..36].copy_from_slice(&dport.to_be_bytes());
    b[36] = up.protocol;
    Ok(())
}

/// The 5-tuple of key bytes.
#[inline]
pub(crate) fn bytes_tuple(b: &[u8; LEN]) -> Tuple<[u8; 16]> {
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&b[..16]);
    dst.copy_from_slice(&b[16..32]);
    Tuple {
        src,
        dst,
        sport: u16::from_be_bytes([b[32], b[33]]),
        dport: u16::from_be_bytes([b[34], b[35]]),
        protocol: b[36],
    }
}

/// The seed population's IPv6 5-tuple `i`: destination `2001:db8::i`,
/// source `2001:db8:1::` plus the low 24 bits of `i * 2654435761`, ports and
/// protocol as `ipv4_5tuple`'s seeds (ICMPv6 for the port-less ones).
pub(crate) fn seed_tuple(i: u32) -> Tuple<[u8; 16]> {
    let src = SEED_PREFIX | 1 << 80 | u128::from(i.wrapping_mul(2_654_435_761) & 0x00ff_ffff);
    let (protocol, sport, dport) = seed_l4(i, wire::PROTO_ICMPV6);
    Tuple {
        src: src.to_be_bytes(),
        dst: (SEED_PREFIX | u128::from(i)).to_be_bytes(),
        sport,
        dport,
        protocol,
    }
}

/// `[SRC]:SPORT -> [DST]:DPORT PROTO`.
pub(crate) fn parse_v6_tuple(text: &str, example: &str) -> Result<Tuple<[u8; 16]>, String> {
    let (s, d, p) = text::split_tuple(text, example)?;
    let (src, sport) = text::parse_v6_endpoint(s)?;
    let (dst, dport) = text::parse_v6_endpoint(d)?;
    Ok(Tuple {
        src: src.octets(),
        dst: dst.octets(),
        sport,
        dport,
        protocol: text::parse_protocol(p)?,
    })
}

/// A flow keyed by its IPv6 5-tuple.
#[derive(Clone, Copy, Eq, PartialOrd, Ord)]
pub struct Ipv6FiveTuple([u8; LEN]);

impl Ipv6FiveTuple {
    /// The key of `[src]:sport -> [dst]:dport` over `protocol`.
    pub fn new(src: Ipv6Addr, sport: u16, dst: Ipv6Addr, dport: u16, protocol: u8) -> Self {
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
    pub fn from_tuple(t: &Tuple<[u8; 16]>) -> Self {
        Ipv6FiveTuple(tuple_bytes(t))
    }

    /// The 5-tuple.
    #[inline]
    pub fn tuple(&self) -> Tuple<[u8; 16]> {
        bytes_tuple(&self.0)
    }

    const EXAMPLE: &'static str = "[2001:db8::1]:1234 -> [2001:db8::2]:443 tcp";

    fn parse(text: &str) -> Result<Self, String> {
        parse_v6_tuple(text, Self::EXAMPLE).map(|t| Self::from_tuple(&t))
    }
}

/// Equal bytes ([`super::bytes_eq`]: inline, no `memcmp` call).
impl PartialEq for Ipv6FiveTuple {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        super::bytes_eq(&self.0, &other.0)
    }
}

impl Hash for Ipv6FiveTuple {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

impl FlowKey for Ipv6FiveTuple {
    type Bytes = [u8; LEN];
    const KIND: &'static str = "ipv6_5tuple";
    const TEXT_FORM: &'static str = "IPv6 5-tuple";

    parsers_from_write_frame!(LEN);

    fn parse_text(text: &str) -> Option<Self> {
        Self::parse(text).ok()
    }

    fn text_error(text: &str) -> Option<String> {
        Self::parse(text).err()
    }

    #[inline]
    fn to_bytes(&self) -> [u8; LEN] {
        self.0
    }

    #[inline]
    fn from_bytes(bytes: &[u8; LEN]) -> Self {
        Ipv6FiveTuple(*bytes)
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

    /// Destination `2001:db8::i`, source in `2001:db8:1::/104`, ports and
    /// protocol as `ipv4_5tuple`'s seeds (ICMPv6 for every 8th flow).
    fn seed(i: u32) -> Self {
        Self::from_tuple(&seed_tuple(i))
    }
}

impl fmt::Display for Ipv6FiveTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.tuple();
        text::fmt_v6_tuple(f, t.src.into(), t.sport, t.dst.into(), t.dport, t.protocol)
    }
}

impl fmt::Debug for Ipv6FiveTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv6FiveTuple({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn forms_agree() {
        let k = Ipv6FiveTuple::parse_text("[2001:db8::1]:1234 -> [2001:db8::2]:443 tcp").unwrap();
        assert_eq!(k.to_string(), "[2001:db8::1]:1234 -> [2001:db8::2]:443 tcp");
        let b = k.to_bytes();
        assert_eq!(&b[..4], &[0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(b[15], 1);
        assert_eq!(b[31], 2);
        assert_eq!(&b[32..], &[0x04, 0xd2, 0x01, 0xbb, 6]);
        assert_eq!(Ipv6FiveTuple::from_bytes(&b), k);
        assert_eq!(
            Ipv6FiveTuple::parse_text("[2001:0DB8:0::1]:1234->[2001:db8::2]:443 6"),
            Some(k)
        );
        assert_eq!(
            Ipv6FiveTuple::text_error("2001:db8::1:1234 -> [2001:db8::2]:443 tcp").unwrap(),
            "\"2001:db8::1:1234\" is not [ADDRESS]:PORT (an IPv6 address with a port goes in brackets)"
        );
        assert_eq!(
            Ipv6FiveTuple::text_error("[2001:db8::x]:1 -> [2001:db8::2]:443 tcp").unwrap(),
            "\"2001:db8::x\" is not an IPv6 address"
        );
        assert!(Ipv6FiveTuple::parse_text("10.0.0.1:1 -> 10.0.0.2:2 tcp").is_none());
    }

    #[test]
    fn seeds_are_distinct() {
        let keys: HashSet<_> = (0..100_000).map(Ipv6FiveTuple::seed).collect();
        assert_eq!(keys.len(), 100_000);
        assert_eq!(
            Ipv6FiveTuple::seed(7).to_string(),
            format!(
                "[2001:db8:1::{:x}:{:x}]:0 -> [2001:db8::7]:0 icmpv6",
                (7u32.wrapping_mul(2_654_435_761) & 0xff_ffff) >> 16,
                7u32.wrapping_mul(2_654_435_761) & 0xffff
            )
        );
    }
}

//! `5tuple`: IPv4 and IPv6 connections in one appliance.
//!
//! One 37-byte key type for both families, laid out as `ipv6_5tuple`'s
//! (source, destination, source port, destination port, protocol), with
//! IPv4 addresses in their IPv4-mapped IPv6 form (`::ffff:10.0.0.1`, RFC
//! 4291 §2.5.5.2). The family is thereby part of the key: an IPv4 flow and
//! an IPv6 flow never share a key, except that an IPv6 packet carrying
//! IPv4-mapped addresses (which RFC 4291 keeps off the wire) has the key of
//! the IPv4 packet with the same addresses, as a dual-stack socket would
//! see them.
//!
//! Text: a key whose two addresses are IPv4-mapped prints in the
//! `ipv4_5tuple` form (`10.0.0.1:1234 -> 10.0.0.2:80 tcp`), any other in the
//! `ipv6_5tuple` form; both forms are read (an IPv4 endpoint and an IPv6
//! endpoint cannot be mixed). Frame parsing: IPv4 as `ipv4_5tuple`, IPv6 as
//! `ipv6_5tuple`; any other ethertype is `not_ip`.

use super::ipv6_5tuple::{bytes_tuple, parse_v6_tuple, seed_tuple, tuple_bytes, LEN};
use super::{tag_of, text, write_tuple, FlowKey, Ipv4FiveTuple, Ipv6FiveTuple};
use crate::packet::{DropReason, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::wire::{self, Tuple};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::Ipv6Addr;

/// A flow keyed by its 5-tuple, IPv4 or IPv6.
#[derive(Clone, Copy, Eq, PartialOrd, Ord)]
pub struct FiveTuple([u8; LEN]);

/// `a.b.c.d` as `::ffff:a.b.c.d`.
#[inline(always)]
fn mapped(a: [u8; 4]) -> [u8; 16] {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3],
    ]
}

/// The IPv4 address of an IPv4-mapped one.
#[inline]
fn unmapped(a: &[u8; 16]) -> Option<[u8; 4]> {
    match a {
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, x, y, z, w] => Some([*x, *y, *z, *w]),
        _ => None,
    }
}

impl FiveTuple {
    /// The key of an IPv4 5-tuple.
    #[inline(always)]
    pub fn from_v4(t: &Tuple<[u8; 4]>) -> Self {
        FiveTuple(tuple_bytes(&mapped_tuple(t)))
    }

    /// The key of an IPv6 5-tuple.
    #[inline(always)]
    pub fn from_v6(t: &Tuple<[u8; 16]>) -> Self {
        FiveTuple(tuple_bytes(t))
    }

    /// The 5-tuple with IPv6 (or IPv4-mapped) addresses.
    #[inline]
    pub fn tuple(&self) -> Tuple<[u8; 16]> {
        bytes_tuple(&self.0)
    }

    /// The IPv4 5-tuple, when both addresses are IPv4-mapped.
    pub fn v4(&self) -> Option<Tuple<[u8; 4]>> {
        let t = self.tuple();
        Some(Tuple {
            src: unmapped(&t.src)?,
            dst: unmapped(&t.dst)?,
            sport: t.sport,
            dport: t.dport,
            protocol: t.protocol,
        })
    }

    const EXAMPLE: &'static str =
        "10.0.0.1:1234 -> 10.0.0.2:80 tcp or [2001:db8::1]:1234 -> [2001:db8::2]:443 tcp";

    fn parse(text: &str) -> Result<Self, String> {
        let (s, d, p) = text::split_tuple(text, Self::EXAMPLE)?;
        for e in [s, d] {
            text::check_brackets(e)?;
        }
        match (s.starts_with('['), d.starts_with('[')) {
            (true, true) => parse_v6_tuple(text, Self::EXAMPLE).map(|t| Self::from_v6(&t)),
            (false, false) => {
                let (src, sport) = text::parse_v4_endpoint(s)?;
                let (dst, dport) = text::parse_v4_endpoint(d)?;
                Ok(Self::from_v4(&Tuple {
                    src: src.octets(),
                    dst: dst.octets(),
                    sport,
                    dport,
                    protocol: text::parse_protocol(p)?,
                }))
            }
            _ => Err("an IPv4 and an IPv6 endpoint: write both in one family".into()),
        }
    }
}

impl From<Ipv4FiveTuple> for FiveTuple {
    fn from(k: Ipv4FiveTuple) -> Self {
        FiveTuple::from_v4(&k.tuple())
    }
}

impl From<Ipv6FiveTuple> for FiveTuple {
    fn from(k: Ipv6FiveTuple) -> Self {
        FiveTuple::from_v6(&k.tuple())
    }
}

/// Equal bytes ([`super::bytes_eq`]: inline, no `memcmp` call).
impl PartialEq for FiveTuple {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        super::bytes_eq(&self.0, &other.0)
    }
}

impl Hash for FiveTuple {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

/// An IPv4 5-tuple with IPv4-mapped addresses.
#[inline(always)]
fn mapped_tuple(t: &Tuple<[u8; 4]>) -> Tuple<[u8; 16]> {
    Tuple {
        src: mapped(t.src),
        dst: mapped(t.dst),
        sport: t.sport,
        dport: t.dport,
        protocol: t.protocol,
    }
}

/// The 5-tuple of an IPv4 or IPv6 frame, written to `b` (the `5tuple`
/// kind's parser; IPv4 addresses IPv4-mapped).
#[inline(always)]
fn write_frame(frame: &[u8], b: &mut [u8; LEN]) -> Result<(), DropReason> {
    let (ethertype, ip) = wire::ethertype(frame)?;
    let ip = frame.get(ip..).unwrap_or(&[]);
    match ethertype {
        ETHERTYPE_IPV4 => write_tuple(&mapped_tuple(&wire::ipv4_tuple(ip)?), b),
        ETHERTYPE_IPV6 => super::ipv6_5tuple::write_packet(ip, b)?,
        _ => return Err(DropReason::NotIp),
    }
    Ok(())
}

impl FlowKey for FiveTuple {
    type Bytes = [u8; LEN];
    const KIND: &'static str = "5tuple";
    const TEXT_FORM: &'static str = "5-tuple";

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
        FiveTuple(*bytes)
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

    /// Even `i`: `ipv4_5tuple`'s seed `i`; odd `i`: `ipv6_5tuple`'s seed
    /// `i` (half the population each).
    fn seed(i: u32) -> Self {
        if i.is_multiple_of(2) {
            Ipv4FiveTuple::seed(i).into()
        } else {
            Self::from_v6(&seed_tuple(i))
        }
    }
}

impl fmt::Display for FiveTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.v4() {
            Some(t) => {
                text::fmt_v4_tuple(f, t.src.into(), t.sport, t.dst.into(), t.dport, t.protocol)
            }
            None => {
                let t = self.tuple();
                text::fmt_v6_tuple(
                    f,
                    Ipv6Addr::from(t.src),
                    t.sport,
                    Ipv6Addr::from(t.dst),
                    t.dport,
                    t.protocol,
                )
            }
        }
    }
}

impl fmt::Debug for FiveTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FiveTuple({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn forms_agree() {
        let v4 = FiveTuple::parse_text("10.0.0.1:1234 -> 10.0.0.2:80 tcp").unwrap();
        assert_eq!(v4.to_string(), "10.0.0.1:1234 -> 10.0.0.2:80 tcp");
        assert_eq!(
            v4,
            FiveTuple::from(Ipv4FiveTuple::parse_text("10.0.0.1:1234 -> 10.0.0.2:80 tcp").unwrap())
        );
        assert_eq!(&v4.to_bytes()[..16], &mapped([10, 0, 0, 1]));
        // The same addresses written IPv4-mapped are the same key.
        let m = FiveTuple::parse_text("[::ffff:10.0.0.1]:1234 -> [::ffff:10.0.0.2]:80 tcp");
        assert_eq!(m, Some(v4));
        let v6 = FiveTuple::parse_text("[2001:db8::1]:1234 -> [2001:db8::2]:443 udp").unwrap();
        assert_eq!(
            v6.to_string(),
            "[2001:db8::1]:1234 -> [2001:db8::2]:443 udp"
        );
        assert_eq!(v6.v4(), None);
        // One side mapped: printed in the IPv6 form.
        let half = FiveTuple::parse_text("[::ffff:10.0.0.1]:1 -> [2001:db8::2]:2 tcp").unwrap();
        assert_eq!(
            half.to_string(),
            "[::ffff:10.0.0.1]:1 -> [2001:db8::2]:2 tcp"
        );
        assert_eq!(
            FiveTuple::text_error("10.0.0.1:1 -> [2001:db8::2]:2 tcp").unwrap(),
            "an IPv4 and an IPv6 endpoint: write both in one family"
        );
        // An IPv6 endpoint without brackets is named as such, on either side
        // and whatever the other side's family.
        for text in [
            "2001:db8::1:443 -> [2001:db8::2]:80 tcp",
            "2001:db8::1:443 -> 10.0.0.2:80 tcp",
            "[2001:db8::2]:80 -> 2001:db8::1:443 tcp",
        ] {
            assert_eq!(
                FiveTuple::text_error(text).unwrap(),
                "\"2001:db8::1:443\" is not [ADDRESS]:PORT (an IPv6 address with a port goes in brackets)",
                "{text}"
            );
        }
        assert_eq!(FiveTuple::from_bytes(&v6.to_bytes()), v6);
    }

    #[test]
    fn seeds_alternate_families_and_are_distinct() {
        let keys: HashSet<_> = (0..100_000).map(FiveTuple::seed).collect();
        assert_eq!(keys.len(), 100_000);
        assert!(FiveTuple::seed(4).v4().is_some());
        assert!(FiveTuple::seed(5).v4().is_none());
        assert_eq!(FiveTuple::seed(5), FiveTuple::from(Ipv6FiveTuple::seed(5)));
    }
}

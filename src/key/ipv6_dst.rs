//! `ipv6_dst`: a flow is an IPv6 destination address.
//!
//! Bytes (16): the address, wire order. Text: the address in RFC 5952 form
//! (`2001:db8::1`). The frame parser reads only the fixed IPv6 header (the
//! destination there: with a routing header, the current segment); its
//! reasons: `too_short`, `not_ipv6`, `bad_ipv6_header`, `truncated`.

use super::{tag_of, text, FlowKey};
use crate::packet::{DropReason, ETHERTYPE_IPV6};
use crate::wire::{self, Ipv6Header};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::Ipv6Addr;

/// A flow keyed by its IPv6 destination address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ipv6Dst([u8; 16]);

/// `2001:db8::/32`, the documentation prefix the seed population lives in.
pub(crate) const SEED_PREFIX: u128 = 0x2001_0db8 << 96;

impl Ipv6Dst {
    /// The key of `addr`.
    #[inline]
    pub const fn new(addr: Ipv6Addr) -> Ipv6Dst {
        Ipv6Dst(addr.octets())
    }

    /// The address.
    #[inline]
    pub const fn addr(&self) -> Ipv6Addr {
        Ipv6Addr::from_bits(u128::from_be_bytes(self.0))
    }
}

impl Hash for Ipv6Dst {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from_ne_bytes(self.0));
    }
}

impl FlowKey for Ipv6Dst {
    type Bytes = [u8; 16];
    const KIND: &'static str = "ipv6_dst";
    const TEXT_FORM: &'static str = "IPv6 address";

    #[inline]
    fn parse_frame(frame: &[u8]) -> Result<Self, DropReason> {
        let (ethertype, ip) = wire::ethertype(frame)?;
        if ethertype != ETHERTYPE_IPV6 {
            return Err(DropReason::NotIpv6);
        }
        let h = Ipv6Header::new_checked(frame.get(ip..).unwrap_or(&[]))?;
        Ok(Ipv6Dst(h.dst()))
    }

    fn parse_text(text: &str) -> Option<Self> {
        text::parse_v6(text).ok().map(Ipv6Dst::new)
    }

    #[inline]
    fn to_bytes(&self) -> [u8; 16] {
        self.0
    }

    #[inline]
    fn from_bytes(bytes: &[u8; 16]) -> Self {
        Ipv6Dst(*bytes)
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

    /// `2001:db8::` plus `i` (the low 32 bits).
    fn seed(i: u32) -> Self {
        Ipv6Dst::new(Ipv6Addr::from_bits(SEED_PREFIX | u128::from(i)))
    }
}

impl fmt::Display for Ipv6Dst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.addr(), f)
    }
}

impl fmt::Debug for Ipv6Dst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv6Dst({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_agree() {
        let k = Ipv6Dst::parse_text("2001:DB8:0:0:0:0:0:1").unwrap();
        assert_eq!(k.to_string(), "2001:db8::1");
        assert_eq!(Ipv6Dst::from_bytes(&k.to_bytes()), k);
        assert_eq!(Ipv6Dst::seed(258).to_string(), "2001:db8::102");
        assert_eq!(Ipv6Dst::seed(0x0a00_0001).to_string(), "2001:db8::a00:1");
        // RFC 5952: one zero group is not compressed; the longest run is.
        let k = Ipv6Dst::parse_text("2001:db8:0:1:0:0:0:1").unwrap();
        assert_eq!(k.to_string(), "2001:db8:0:1::1");
        let k = Ipv6Dst::parse_text("::ffff:192.0.2.1").unwrap();
        assert_eq!(k.to_string(), "::ffff:192.0.2.1");
        assert_eq!(Ipv6Dst::parse_text("[2001:db8::1]"), None);
        assert_eq!(Ipv6Dst::parse_text("fe80::1%eth0"), None);
        assert_eq!(Ipv6Dst::text_error("2001:db8::g"), None);
    }
}

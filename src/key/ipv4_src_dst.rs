//! `ipv4_src_dst`: a flow is an IPv4 source and destination pair.
//!
//! Bytes (8): source then destination address, wire order. Text:
//! `10.0.0.1 -> 10.0.0.2`. The frame parser reads only the IPv4 header, as
//! `ipv4_dst` does; its reasons: `too_short`, `not_ipv4`,
//! `bad_ipv4_header`, `truncated`.

use super::{tag_of, text, FlowKey};
use crate::packet::{DropReason, ETHERTYPE_IPV4};
use crate::wire::{self, Ipv4Header};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;

/// A flow keyed by its IPv4 source and destination addresses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ipv4SrcDst([u8; 8]);

impl Ipv4SrcDst {
    /// The key of `src -> dst`.
    #[inline]
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr) -> Ipv4SrcDst {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&src.octets());
        b[4..].copy_from_slice(&dst.octets());
        Ipv4SrcDst(b)
    }

    /// The source address.
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.0[0], self.0[1], self.0[2], self.0[3])
    }

    /// The destination address.
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.0[4], self.0[5], self.0[6], self.0[7])
    }

    const EXAMPLE: &'static str = "10.0.0.1 -> 10.0.0.2";

    fn parse(text: &str) -> Result<Self, String> {
        let (s, d) = text::split_pair(text, Self::EXAMPLE)?;
        Ok(Ipv4SrcDst::new(text::parse_v4(s)?, text::parse_v4(d)?))
    }
}

impl Hash for Ipv4SrcDst {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from_ne_bytes(self.0));
    }
}

impl FlowKey for Ipv4SrcDst {
    type Bytes = [u8; 8];
    const KIND: &'static str = "ipv4_src_dst";
    const TEXT_FORM: &'static str = "IPv4 source and destination";

    #[inline]
    fn parse_frame(frame: &[u8]) -> Result<Self, DropReason> {
        let (ethertype, ip) = wire::ethertype(frame)?;
        if ethertype != ETHERTYPE_IPV4 {
            return Err(DropReason::NotIpv4);
        }
        let h = Ipv4Header::new_checked(frame.get(ip..).unwrap_or(&[]))?;
        let (s, d) = (h.src(), h.dst());
        Ok(Ipv4SrcDst([s[0], s[1], s[2], s[3], d[0], d[1], d[2], d[3]]))
    }

    fn parse_text(text: &str) -> Option<Self> {
        Self::parse(text).ok()
    }

    fn text_error(text: &str) -> Option<String> {
        Self::parse(text).err()
    }

    #[inline]
    fn to_bytes(&self) -> [u8; 8] {
        self.0
    }

    #[inline]
    fn from_bytes(bytes: &[u8; 8]) -> Self {
        Ipv4SrcDst(*bytes)
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

    /// Destination `i` (as `ipv4_dst`), source `10.x.y.z` with `x.y.z` the
    /// low 24 bits of `i * 2654435761`.
    fn seed(i: u32) -> Self {
        let s = 0x0a00_0000 | (i.wrapping_mul(2_654_435_761) & 0x00ff_ffff);
        Ipv4SrcDst::new(Ipv4Addr::from_bits(s), Ipv4Addr::from_bits(i))
    }
}

impl fmt::Display for Ipv4SrcDst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.src(), self.dst())
    }
}

impl fmt::Debug for Ipv4SrcDst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv4SrcDst({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_agree() {
        let k = Ipv4SrcDst::parse_text("10.0.0.1 -> 10.0.0.2").unwrap();
        assert_eq!(k.to_bytes(), [10, 0, 0, 1, 10, 0, 0, 2]);
        assert_eq!(k.to_string(), "10.0.0.1 -> 10.0.0.2");
        assert_eq!(Ipv4SrcDst::parse_text("10.0.0.1->10.0.0.2"), Some(k));
        assert_eq!(Ipv4SrcDst::from_bytes(&k.to_bytes()), k);
        assert_eq!(Ipv4SrcDst::from_tag(k.tag()), None);
        assert_eq!(Ipv4SrcDst::seed(7).dst(), Ipv4Addr::new(0, 0, 0, 7));
        assert_eq!(Ipv4SrcDst::parse_text("10.0.0.1"), None);
        assert_eq!(
            Ipv4SrcDst::text_error("10.0.0.1 -> 10.0.0").unwrap(),
            "\"10.0.0\" is not an IPv4 address"
        );
        assert_eq!(
            Ipv4SrcDst::text_error("10.0.0.1").unwrap(),
            "expected \"10.0.0.1 -> 10.0.0.2\""
        );
    }
}

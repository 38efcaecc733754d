//! The C sample's flow key: the IPv4 destination address.

use super::FlowKey;
use crate::packet::{ipv4_dst, DropReason};
use std::fmt;
use std::net::Ipv4Addr;

/// A flow keyed by its IPv4 destination address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Dst(u32);

impl Ipv4Dst {
    /// The key of `addr`.
    #[inline]
    pub const fn new(addr: Ipv4Addr) -> Ipv4Dst {
        Ipv4Dst(u32::from_be_bytes(addr.octets()))
    }

    /// The key of the address whose host-order value is `addr`
    /// (`u32::from(Ipv4Addr)`).
    #[inline]
    pub const fn from_u32(addr: u32) -> Ipv4Dst {
        Ipv4Dst(addr)
    }

    /// The address, host order.
    #[inline]
    pub const fn to_u32(self) -> u32 {
        self.0
    }

    /// The address.
    #[inline]
    pub const fn addr(self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.0)
    }
}

impl FlowKey for Ipv4Dst {
    type Bytes = [u8; 4];
    const KIND: &'static str = "ipv4_dst";
    const TEXT_FORM: &'static str = "IPv4 address";

    #[inline]
    fn parse_frame(frame: &[u8]) -> Result<Self, DropReason> {
        ipv4_dst(frame).map(Ipv4Dst)
    }

    fn parse_text(text: &str) -> Option<Self> {
        super::text::v4(text).map(Ipv4Dst::new)
    }

    #[inline]
    fn to_bytes(&self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    #[inline]
    fn from_bytes(bytes: &[u8; 4]) -> Self {
        Ipv4Dst(u32::from_be_bytes(*bytes))
    }

    #[inline]
    fn tag(&self) -> u32 {
        self.0
    }

    #[inline]
    fn from_tag(tag: u32) -> Option<Self> {
        Some(Ipv4Dst(tag))
    }

    #[inline]
    fn seed(i: u32) -> Self {
        Ipv4Dst(i)
    }
}

impl fmt::Display for Ipv4Dst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.addr(), f)
    }
}

impl fmt::Debug for Ipv4Dst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv4Dst({})", self.addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_agree() {
        let k = Ipv4Dst::parse_text("10.0.1.2").unwrap();
        assert_eq!(k.to_u32(), 0x0a00_0102);
        assert_eq!(k.to_bytes(), [10, 0, 1, 2]);
        assert_eq!(Ipv4Dst::from_bytes(&k.to_bytes()), k);
        assert_eq!(k.to_string(), "10.0.1.2");
        assert_eq!(Ipv4Dst::from_tag(k.tag()), Some(k));
        assert_eq!(Ipv4Dst::seed(4).to_bytes(), [0, 0, 0, 4]);
        assert_eq!(Ipv4Dst::parse_text("10.0.0"), None);
        assert_eq!(Ipv4Dst::parse_text("256.0.0.1"), None);
    }

    #[test]
    fn parses_frames_like_the_packet_module() {
        let mut f = vec![0u8; 34];
        f[12] = 0x08;
        f[14] = 0x45;
        f[30..34].copy_from_slice(&[192, 168, 1, 9]);
        assert_eq!(
            Ipv4Dst::parse_frame(&f),
            Ok(Ipv4Dst::new(Ipv4Addr::new(192, 168, 1, 9)))
        );
        assert_eq!(Ipv4Dst::parse_frame(&f[..20]), Err(DropReason::Truncated));
    }
}

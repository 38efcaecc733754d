//! Flow-key extraction: the drop reasons, and the IPv4 destination address
//! of an Ethernet frame (the `ipv4_dst` kind's parser; the other kinds read
//! frames through the validated views of [`crate::wire`]).
//!
//! This runs on the distributor's hot path for every packet, so it is
//! `#[inline]`, allocation-free and panic-free on any input: every read is a
//! bounds-checked `get`, and a frame that does not hold what we need is
//! classified with a [`DropReason`] instead.

#![forbid(unsafe_code)]

use std::fmt;

/// Ethertype of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// Ethertype of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Ethertype of an IEEE 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// Ethertype of an IEEE 802.1ad service tag (QinQ outer tag).
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Legacy ethertype some switches use for QinQ outer tags.
pub const ETHERTYPE_QINQ_LEGACY: u16 = 0x9100;
/// Length of an Ethernet II header without VLAN tags.
pub const ETHER_HDR_LEN: usize = 14;
/// Length of one VLAN tag (TPID + TCI).
pub const VLAN_TAG_LEN: usize = 4;
/// Maximum number of VLAN tags skipped before the ethertype.
pub const MAX_VLAN_TAGS: usize = 2;

/// Why a frame yields no flow key; the distributor counts drops per reason.
///
/// Each key kind reads only what it needs (see [`crate::wire`]): the
/// reasons a kind can give are listed with it in `src/key/`.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The frame ends inside the Ethernet or VLAN header.
    TooShort = 0,
    /// An IPv4 key kind: the ethertype (after up to two VLAN tags) is not
    /// IPv4 (ARP, IPv6, a third VLAN tag, ...).
    NotIpv4 = 1,
    /// The IPv4 version is not 4, or the IHL is below 5; for kinds that read
    /// the transport header, also a total length below the header length.
    BadIpv4Header = 2,
    /// The frame ends before what the key is read from ends: the IP header
    /// (with IPv4 options), the IPv6 extension headers up to the transport
    /// header, or the transport ports.
    Truncated = 3,
    /// An IPv6 key kind: the ethertype (after up to two VLAN tags) is not
    /// IPv6.
    NotIpv6 = 4,
    /// The version of a packet with the IPv6 ethertype is not 6.
    BadIpv6Header = 5,
    /// More than [`crate::wire::MAX_IPV6_EXT_HEADERS`] IPv6 extension
    /// headers before the transport header.
    Ipv6ExtChainTooLong = 6,
    /// The `5tuple` kind: the ethertype is neither IPv4 nor IPv6.
    NotIp = 7,
}

impl DropReason {
    /// Number of drop reasons (length of [`DropReason::ALL`]).
    pub const COUNT: usize = 8;
    /// All reasons, in discriminant order (`ALL[r as usize] == r`).
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::TooShort,
        DropReason::NotIpv4,
        DropReason::BadIpv4Header,
        DropReason::Truncated,
        DropReason::NotIpv6,
        DropReason::BadIpv6Header,
        DropReason::Ipv6ExtChainTooLong,
        DropReason::NotIp,
    ];

    /// The snake_case name used in stats output.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::TooShort => "too_short",
            DropReason::NotIpv4 => "not_ipv4",
            DropReason::BadIpv4Header => "bad_ipv4_header",
            DropReason::Truncated => "truncated",
            DropReason::NotIpv6 => "not_ipv6",
            DropReason::BadIpv6Header => "bad_ipv6_header",
            DropReason::Ipv6ExtChainTooLong => "ipv6_ext_chain_too_long",
            DropReason::NotIp => "not_ip",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Returns the IPv4 destination address of an Ethernet II frame as a
/// host-order `u32` (`u32::from_be_bytes(wire bytes)`; the EFD key is
/// `addr.to_be_bytes()`).
///
/// Up to [`MAX_VLAN_TAGS`] tags (0x8100, 0x88a8, 0x9100) are skipped; the
/// ethertype after them must be 0x0800. Only the IPv4 header is checked
/// ([`crate::wire::Ipv4Header`]). Never panics, never allocates.
#[inline]
pub fn ipv4_dst(frame: &[u8]) -> Result<u32, DropReason> {
    let (ethertype, ip) = crate::wire::ethertype(frame)?;
    if ethertype != ETHERTYPE_IPV4 {
        return Err(DropReason::NotIpv4);
    }
    let h = crate::wire::Ipv4Header::new_checked(frame.get(ip..).unwrap_or(&[]))?;
    Ok(u32::from_be_bytes(h.dst()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Ethernet header with the given tag TPIDs, then ethertype, then `l3`.
    fn frame(tags: &[u16], ethertype: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        for (i, t) in tags.iter().enumerate() {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&(100 + i as u16).to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(l3);
        f
    }

    fn ipv4(dst: u32) -> Vec<u8> {
        let mut h = vec![0u8; 20];
        h[0] = 0x45;
        h[9] = 17;
        h[12..16].copy_from_slice(&[10, 0, 0, 1]);
        h[16..20].copy_from_slice(&dst.to_be_bytes());
        h
    }

    #[test]
    fn plain_ipv4() {
        let f = frame(&[], 0x0800, &ipv4(0x0a00_0102));
        assert_eq!(ipv4_dst(&f), Ok(0x0a00_0102));
        assert_eq!(ipv4_dst(&f).unwrap().to_be_bytes(), [10, 0, 1, 2]);
    }

    #[test]
    fn vlan_and_qinq_accepted() {
        for tags in [
            &[0x8100][..],
            &[0x88a8],
            &[0x9100],
            &[0x88a8, 0x8100],
            &[0x9100, 0x8100],
            &[0x8100, 0x8100],
        ] {
            let f = frame(tags, 0x0800, &ipv4(7));
            assert_eq!(ipv4_dst(&f), Ok(7), "tags {tags:x?}");
        }
    }

    #[test]
    fn three_tags_rejected() {
        let f = frame(&[0x88a8, 0x8100, 0x8100], 0x0800, &ipv4(7));
        assert_eq!(ipv4_dst(&f), Err(DropReason::NotIpv4));
    }

    #[test]
    fn ip_options_accepted() {
        let mut h = ipv4(42);
        h[0] = 0x46;
        h.extend_from_slice(&[1, 1, 1, 0]);
        assert_eq!(ipv4_dst(&frame(&[], 0x0800, &h)), Ok(42));
        // ... but only if the options are present.
        h.truncate(22);
        assert_eq!(
            ipv4_dst(&frame(&[], 0x0800, &h)),
            Err(DropReason::Truncated)
        );
    }

    #[test]
    fn too_short() {
        assert_eq!(ipv4_dst(&[]), Err(DropReason::TooShort));
        assert_eq!(ipv4_dst(&[0u8; 13]), Err(DropReason::TooShort));
        // Ends inside the VLAN tag / inner ethertype.
        let f = frame(&[0x8100], 0x0800, &[]);
        assert_eq!(ipv4_dst(&f[..17]), Err(DropReason::TooShort));
        let f = frame(&[0x88a8, 0x8100], 0x0800, &[]);
        assert_eq!(ipv4_dst(&f[..20]), Err(DropReason::TooShort));
        assert_eq!(ipv4_dst(&f[..21]), Err(DropReason::TooShort));
    }

    #[test]
    fn not_ipv4() {
        assert_eq!(
            ipv4_dst(&frame(&[], 0x0806, &[0u8; 28])),
            Err(DropReason::NotIpv4)
        );
        assert_eq!(
            ipv4_dst(&frame(&[0x8100], 0x86dd, &[0x60; 40])),
            Err(DropReason::NotIpv4)
        );
    }

    #[test]
    fn bad_header() {
        let mut h = ipv4(1);
        h[0] = 0x44;
        assert_eq!(
            ipv4_dst(&frame(&[], 0x0800, &h)),
            Err(DropReason::BadIpv4Header)
        );
        h[0] = 0x65;
        assert_eq!(
            ipv4_dst(&frame(&[], 0x0800, &h)),
            Err(DropReason::BadIpv4Header)
        );
    }

    #[test]
    fn truncated() {
        let f = frame(&[], 0x0800, &ipv4(1));
        for len in 14..f.len() {
            assert_eq!(ipv4_dst(&f[..len]), Err(DropReason::Truncated), "{len}");
        }
        assert_eq!(ipv4_dst(&f), Ok(1));
    }

    #[test]
    fn reasons_table() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        let names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(
            names,
            [
                "too_short",
                "not_ipv4",
                "bad_ipv4_header",
                "truncated",
                "not_ipv6",
                "bad_ipv6_header",
                "ipv6_ext_chain_too_long",
                "not_ip"
            ]
        );
        assert_eq!(DropReason::Truncated.to_string(), "truncated");
    }

    #[test]
    fn all_short_prefixes_never_panic() {
        // Every prefix of a few interesting frames, with every value of the
        // first IPv4 byte.
        for tags in [&[][..], &[0x8100], &[0x88a8, 0x9100]] {
            let base = frame(tags, 0x0800, &ipv4(9));
            for b in 0..=255u8 {
                let mut f = base.clone();
                f[12 + tags.len() * 4 + 2] = b;
                for len in 0..=f.len() {
                    let _ = ipv4_dst(&f[..len]);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = ipv4_dst(&bytes);
        }

        #[test]
        fn random_ipv4_ish_never_panic(
            tags in proptest::collection::vec(prop_oneof![Just(0x8100u16), Just(0x88a8), Just(0x9100), any::<u16>()], 0..4),
            l3 in proptest::collection::vec(any::<u8>(), 0..80),
            cut in 0usize..160,
        ) {
            let f = frame(&tags, 0x0800, &l3);
            let g = &f[..cut.min(f.len())];
            if ipv4_dst(g).is_ok() {
                // A key is only ever produced from a full IPv4 header.
                prop_assert!(g.len() >= ETHER_HDR_LEN + 20);
            }
        }
    }
}

//! Validated views of the headers flow keys are read from, in the manner of
//! smoltcp's `wire` module: a view is made by a `new_checked` that checks
//! once that everything its accessors read lies inside the buffer, and the
//! accessors then read fixed offsets of fixed-size arrays (no further bounds
//! checks, no panics). Every read is inside the frame; a frame that does not
//! hold what a key needs is classified with a [`DropReason`].
//!
//! What is parsed (the README's "Flow keys" section says the same):
//!
//! * Ethernet II with up to [`MAX_VLAN_TAGS`] VLAN tags (TPID 0x8100,
//!   0x88a8 or 0x9100, so 802.1Q and QinQ), then the ethertype
//!   ([`ethertype`]).
//! * IPv4 ([`Ipv4Header`]): version 4, IHL at least 5, the whole header
//!   with its options in the frame; the options are skipped, not read. The
//!   payload ends at the total length (Ethernet padding is not payload) or
//!   at the end of the frame if that comes first.
//! * IPv6 ([`Ipv6Header`]): version 6, the 40-byte header; the payload ends
//!   at the payload length (0, a jumbogram: the end of the frame).
//!   [`Ipv6Header::upper_layer`] walks the extension headers hop-by-hop
//!   (0), routing (43), destination options (60) and fragment (44), each
//!   whole in the payload, up to [`MAX_IPV6_EXT_HEADERS`] of them (a longer
//!   chain is [`DropReason::Ipv6ExtChainTooLong`]). Any other next header
//!   is the upper-layer protocol: AH, ESP, "no next header", mobility and
//!   the rest are protocols without ports.
//! * Ports ([`ports`]): the first 4 bytes of the TCP, UDP or SCTP header.
//!   Fragments (IPv4: more-fragments set or a non-zero offset; IPv6: a
//!   fragment header with either, not an atomic fragment) and protocols
//!   without ports give ports 0: every fragment of a datagram, the first
//!   one included, has the same key (addresses and protocol), so a
//!   fragmented datagram is never split over nodes. The protocol of an IPv6
//!   fragment is its fragment header's next header.

#![forbid(unsafe_code)]

use crate::packet::{
    DropReason, ETHERTYPE_QINQ, ETHERTYPE_QINQ_LEGACY, ETHERTYPE_VLAN, MAX_VLAN_TAGS, VLAN_TAG_LEN,
};

/// IP protocol number: IPv6 hop-by-hop options.
pub const PROTO_HOPOPT: u8 = 0;
/// IP protocol number: ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number: TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number: UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number: IPv6 routing header.
pub const PROTO_IPV6_ROUTE: u8 = 43;
/// IP protocol number: IPv6 fragment header.
pub const PROTO_IPV6_FRAG: u8 = 44;
/// IP protocol number: GRE.
pub const PROTO_GRE: u8 = 47;
/// IP protocol number: ESP.
pub const PROTO_ESP: u8 = 50;
/// IP protocol number: AH.
pub const PROTO_AH: u8 = 51;
/// IP protocol number: ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
/// IP protocol number: IPv6 "no next header".
pub const PROTO_IPV6_NONXT: u8 = 59;
/// IP protocol number: IPv6 destination options.
pub const PROTO_IPV6_OPTS: u8 = 60;
/// IP protocol number: SCTP.
pub const PROTO_SCTP: u8 = 132;

/// Extension headers walked before the transport header, at most; one more
/// is [`DropReason::Ipv6ExtChainTooLong`]. RFC 8200's recommended order has
/// at most 5 before the transport header (hop-by-hop, destination options,
/// routing, fragment, destination options); DPDK's `rte_net` walks 5.
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

/// Length of the IPv4 header without options.
pub const IPV4_HDR_LEN: usize = 20;
/// Length of the IPv6 header.
pub const IPV6_HDR_LEN: usize = 40;

#[inline(always)]
fn be16(b: &[u8], off: usize) -> Option<u16> {
    match b.get(off..off.wrapping_add(2)) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

#[inline(always)]
fn is_vlan(ethertype: u16) -> bool {
    matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_LEGACY
    )
}

/// The ethertype of an Ethernet II frame after up to [`MAX_VLAN_TAGS`] VLAN
/// tags, and the offset of what follows it. A frame that ends inside the
/// MAC addresses, a tag or the ethertype is [`DropReason::TooShort`]; a
/// third tag is returned as the ethertype (a VLAN TPID).
#[inline(always)]
pub fn ethertype(frame: &[u8]) -> Result<(u16, usize), DropReason> {
    const _: () = assert!(MAX_VLAN_TAGS == 2);
    let mut off = 12;
    let mut ethertype = be16(frame, off).ok_or(DropReason::TooShort)?;
    if is_vlan(ethertype) {
        off += VLAN_TAG_LEN;
        ethertype = be16(frame, off).ok_or(DropReason::TooShort)?;
        if is_vlan(ethertype) {
            off += VLAN_TAG_LEN;
            ethertype = be16(frame, off).ok_or(DropReason::TooShort)?;
        }
    }
    Ok((ethertype, off + 2))
}

/// `buf[off..]`, empty when `off` is past the end.
#[inline(always)]
fn tail(buf: &[u8], off: usize) -> &[u8] {
    buf.get(off..).unwrap_or(&[])
}

/// A checked IPv4 header: version 4, IHL at least 5, the whole header (with
/// options) inside the buffer.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Header<'a> {
    /// The fixed part of the header.
    hdr: &'a [u8; IPV4_HDR_LEN],
    /// From the header's first byte to the end of the frame.
    buf: &'a [u8],
    /// IHL * 4.
    hdr_len: usize,
}

impl<'a> Ipv4Header<'a> {
    /// Checks the header at the start of `buf` (the frame from the IPv4
    /// header on): no first byte or a header that does not fit is
    /// [`DropReason::Truncated`], a version other than 4 or an IHL below 5
    /// [`DropReason::BadIpv4Header`].
    #[inline(always)]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        let ver_ihl = *buf.first().ok_or(DropReason::Truncated)?;
        let ihl = usize::from(ver_ihl & 0x0f);
        if (ver_ihl >> 4) != 4 || ihl < 5 {
            return Err(DropReason::BadIpv4Header);
        }
        let hdr_len = ihl * 4;
        match buf.first_chunk::<IPV4_HDR_LEN>() {
            Some(hdr) if buf.len() >= hdr_len => Ok(Ipv4Header { hdr, buf, hdr_len }),
            _ => Err(DropReason::Truncated),
        }
    }

    /// The source address, wire order.
    #[inline(always)]
    pub fn src(&self) -> [u8; 4] {
        [self.hdr[12], self.hdr[13], self.hdr[14], self.hdr[15]]
    }

    /// The destination address, wire order.
    #[inline(always)]
    pub fn dst(&self) -> [u8; 4] {
        [self.hdr[16], self.hdr[17], self.hdr[18], self.hdr[19]]
    }

    /// The protocol field.
    #[inline(always)]
    pub fn protocol(&self) -> u8 {
        self.hdr[9]
    }

    /// The header length (IHL * 4, options included).
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        self.hdr_len
    }

    /// The total length field.
    #[inline(always)]
    pub fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.hdr[2], self.hdr[3]])
    }

    /// Whether this is a fragment: more-fragments set or a non-zero
    /// fragment offset (the first fragment is one too).
    #[inline(always)]
    pub fn is_fragment(&self) -> bool {
        u16::from_be_bytes([self.hdr[6], self.hdr[7]]) & 0x3fff != 0
    }

    /// The payload: after the header, up to the total length or the end of
    /// the frame, whichever comes first. A total length below the header
    /// length is [`DropReason::BadIpv4Header`].
    #[inline(always)]
    pub fn payload(&self) -> Result<&'a [u8], DropReason> {
        let total = usize::from(self.total_len());
        if total < self.hdr_len {
            return Err(DropReason::BadIpv4Header);
        }
        let end = total.min(self.buf.len());
        Ok(self.buf.get(self.hdr_len..end).unwrap_or(&[]))
    }
}

/// A checked IPv6 header: version 6, all 40 bytes inside the buffer.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Header<'a> {
    hdr: &'a [u8; IPV6_HDR_LEN],
    /// From the header's first byte to the end of the frame.
    buf: &'a [u8],
}

/// Where the transport header of a packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer<'a> {
    /// The upper-layer protocol (for an IPv6 fragment: its fragment
    /// header's next header).
    pub protocol: u8,
    /// Whether the packet is a fragment (not an atomic one).
    pub fragment: bool,
    /// What follows the last header walked, to the end of the IP payload.
    pub payload: &'a [u8],
}

impl<'a> Ipv6Header<'a> {
    /// Checks the header at the start of `buf` (the frame from the IPv6
    /// header on): no first byte or fewer than 40 bytes is
    /// [`DropReason::Truncated`], a version other than 6
    /// [`DropReason::BadIpv6Header`].
    #[inline(always)]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DropReason> {
        let first = *buf.first().ok_or(DropReason::Truncated)?;
        if first >> 4 != 6 {
            return Err(DropReason::BadIpv6Header);
        }
        let hdr = buf
            .first_chunk::<IPV6_HDR_LEN>()
            .ok_or(DropReason::Truncated)?;
        Ok(Ipv6Header { hdr, buf })
    }

    /// The source address, wire order.
    #[inline(always)]
    pub fn src(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.hdr[8..24]);
        a
    }

    /// The destination address, wire order.
    #[inline(always)]
    pub fn dst(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.hdr[24..40]);
        a
    }

    /// The source and destination addresses, wire order, as they lie in
    /// the header (32 bytes: copied at once into a key).
    #[inline(always)]
    pub fn addresses(&self) -> &'a [u8; 32] {
        self.hdr[8..40].first_chunk::<32>().expect("40-byte header")
    }

    /// The next header field of the fixed header.
    #[inline(always)]
    pub fn next_header(&self) -> u8 {
        self.hdr[6]
    }

    /// The payload length field.
    #[inline(always)]
    pub fn payload_len(&self) -> u16 {
        u16::from_be_bytes([self.hdr[4], self.hdr[5]])
    }

    /// What follows the fixed header, up to the payload length or the end
    /// of the frame, whichever comes first (payload length 0, a jumbogram:
    /// the end of the frame).
    #[inline(always)]
    pub fn payload(&self) -> &'a [u8] {
        let rest = tail(self.buf, IPV6_HDR_LEN);
        match usize::from(self.payload_len()) {
            0 => rest,
            n => rest.get(..n).unwrap_or(rest),
        }
    }

    /// Walks the extension headers (hop-by-hop, routing, destination
    /// options, fragment; each must lie whole in the payload, else
    /// [`DropReason::Truncated`]) to the upper-layer protocol, at most
    /// [`MAX_IPV6_EXT_HEADERS`] of them. A fragment header of a fragment
    /// (not an atomic one) ends the walk: what follows it is the
    /// fragmentable part, which only the first fragment starts with.
    #[inline(always)]
    pub fn upper_layer(&self) -> Result<UpperLayer<'a>, DropReason> {
        let mut next = self.next_header();
        let mut rest = self.payload();
        let mut walked = 0;
        loop {
            if !matches!(
                next,
                PROTO_HOPOPT | PROTO_IPV6_ROUTE | PROTO_IPV6_OPTS | PROTO_IPV6_FRAG
            ) {
                return Ok(UpperLayer {
                    protocol: next,
                    fragment: false,
                    payload: rest,
                });
            }
            if walked == MAX_IPV6_EXT_HEADERS {
                return Err(DropReason::Ipv6ExtChainTooLong);
            }
            walked += 1;
            let len = if next == PROTO_IPV6_FRAG {
                let h = rest.first_chunk::<8>().ok_or(DropReason::Truncated)?;
                // Offset (13 bits) and the M flag: anything but an atomic
                // fragment is a fragment.
                if u16::from_be_bytes([h[2], h[3]]) & 0xfff9 != 0 {
                    return Ok(UpperLayer {
                        protocol: h[0],
                        fragment: true,
                        payload: tail(rest, 8),
                    });
                }
                next = h[0];
                8
            } else {
                let &[nh, len] = rest.first_chunk::<2>().ok_or(DropReason::Truncated)?;
                next = nh;
                (usize::from(len) + 1) * 8
            };
            rest = rest.get(len..).ok_or(DropReason::Truncated)?;
        }
    }
}

/// The protocols whose header starts with a source and a destination
/// port, as a 256-bit set (bit `p % 64` of word `p / 64`).
const PORTED: [u64; 4] = {
    let mut set = [0u64; 4];
    let mut i = 0;
    let ported = [PROTO_TCP, PROTO_UDP, PROTO_SCTP];
    while i < ported.len() {
        set[(ported[i] / 64) as usize] |= 1 << (ported[i] % 64);
        i += 1;
    }
    set
};

/// Whether the protocol's header starts with a source and a destination
/// port (TCP, UDP, SCTP). A bit of a set, not a chain of compares: a
/// stream of mixed protocols mispredicted the branches of the compares.
#[inline(always)]
pub const fn has_ports(protocol: u8) -> bool {
    PORTED[(protocol / 64) as usize] >> (protocol % 64) & 1 != 0
}

/// The source and destination ports of an upper-layer header at the start
/// of `payload`: `(0, 0)` for a fragment or a protocol without ports, the
/// first 4 bytes of the TCP, UDP or SCTP header otherwise (fewer is
/// [`DropReason::Truncated`]). Branches only on the payload's length (the
/// protocol selects by a mask: mixed traffic mispredicts no branch here).
#[inline(always)]
pub fn ports(protocol: u8, fragment: bool, payload: &[u8]) -> Result<(u16, u16), DropReason> {
    let wanted = !fragment & has_ports(protocol);
    let word = match payload.first_chunk::<4>() {
        Some(w) => u32::from_be_bytes(*w),
        None if wanted => return Err(DropReason::Truncated),
        None => 0,
    };
    let word = word & u32::from(wanted).wrapping_neg();
    Ok(((word >> 16) as u16, word as u16))
}

/// What an IPv4 packet's 5-tuple is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuple<A> {
    /// Source address, wire order.
    pub src: A,
    /// Destination address, wire order.
    pub dst: A,
    /// Source port (0: fragment or no ports).
    pub sport: u16,
    /// Destination port (0: fragment or no ports).
    pub dport: u16,
    /// The upper-layer protocol.
    pub protocol: u8,
}

/// The 5-tuple of the IPv4 packet at the start of `ip` (the frame from the
/// IPv4 header on).
#[inline(always)]
pub fn ipv4_tuple(ip: &[u8]) -> Result<Tuple<[u8; 4]>, DropReason> {
    let h = Ipv4Header::new_checked(ip)?;
    let payload = h.payload()?;
    let protocol = h.protocol();
    let (sport, dport) = ports(protocol, h.is_fragment(), payload)?;
    Ok(Tuple {
        src: h.src(),
        dst: h.dst(),
        sport,
        dport,
        protocol,
    })
}

/// The 5-tuple of the IPv6 packet at the start of `ip` (the frame from the
/// IPv6 header on).
#[inline(always)]
pub fn ipv6_tuple(ip: &[u8]) -> Result<Tuple<[u8; 16]>, DropReason> {
    let h = Ipv6Header::new_checked(ip)?;
    let up = h.upper_layer()?;
    let (sport, dport) = ports(up.protocol, up.fragment, up.payload)?;
    Ok(Tuple {
        src: h.src(),
        dst: h.dst(),
        sport,
        dport,
        protocol: up.protocol,
    })
}

#[cfg(test)]
mod tests;

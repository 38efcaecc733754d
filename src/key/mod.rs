//! Flow keys: what identifies a flow, how a frame yields it, and how the EFD
//! table, the workers' flow tables, the flow file and the screen see it.
//!
//! A key kind is one type implementing [`FlowKey`] and its frame parser.
//! Everything else is generic over the trait: the distributor parses frames
//! with [`FlowKey::parse_frame`] and looks the key's [`FlowKey::Bytes`] up
//! in the EFD table; it leaves [`FlowKey::tag`] in the mbuf header for the
//! worker, which gets the key back from it ([`FlowKey::from_tag`]) or, for
//! keys wider than a tag, by parsing the frame again; flow files and the
//! control plane read keys with [`FlowKey::parse_text`] and print them with
//! `Display`.
//!
//! The kinds ([`KeyKind`], `key = ...` in the configuration):
//!
//! | kind | type | bytes | text |
//! |---|---|---|---|
//! | `ipv4_dst` | [`Ipv4Dst`] | 4 | `10.0.0.2` |
//! | `ipv4_src_dst` | [`Ipv4SrcDst`] | 8 | `10.0.0.1 -> 10.0.0.2` |
//! | `ipv4_5tuple` | [`Ipv4FiveTuple`] | 13 | `10.0.0.1:1234 -> 10.0.0.2:80 tcp` |
//! | `ipv6_dst` | [`Ipv6Dst`] | 16 | `2001:db8::2` |
//! | `ipv6_5tuple` | [`Ipv6FiveTuple`] | 37 | `[2001:db8::1]:1234 -> [2001:db8::2]:443 tcp` |
//! | `5tuple` | [`FiveTuple`] | 37 | either 5-tuple form (IPv4 as IPv4-mapped IPv6) |
//!
//! Only `ipv4_dst` fits the 32-bit tag; the others' tag is a hash of the
//! key (the worker parses the frame again). Frames are read through
//! [`crate::wire`]; each kind's file lists its drop reasons.

#![forbid(unsafe_code)]

/// `parse_frame` and the in-place parsers (`parse_frame_bytes`,
/// `parse_frame_into`) of a key kind that is a newtype over `[u8; $len]`,
/// all three from its module's `write_frame(frame, &mut [u8; $len])`.
macro_rules! parsers_from_write_frame {
    ($len:expr) => {
        #[inline]
        fn parse_frame(frame: &[u8]) -> Result<Self, DropReason> {
            let mut b = [0u8; $len];
            write_frame(frame, &mut b)?;
            Ok(Self(b))
        }

        #[inline(always)]
        fn parse_frame_bytes(frame: &[u8], out: &mut [u8; $len]) -> Result<(), DropReason> {
            write_frame(frame, out)
        }

        #[inline(always)]
        fn parse_frame_into(frame: &[u8], out: &mut Self) -> Result<(), DropReason> {
            write_frame(frame, &mut out.0)
        }
    };
}

mod five_tuple;
mod ipv4_5tuple;
mod ipv4_dst;
mod ipv4_src_dst;
mod ipv6_5tuple;
mod ipv6_dst;
pub mod text;

pub use five_tuple::FiveTuple;
pub use ipv4_5tuple::Ipv4FiveTuple;
pub use ipv4_dst::Ipv4Dst;
pub use ipv4_src_dst::Ipv4SrcDst;
pub use ipv6_5tuple::Ipv6FiveTuple;
pub use ipv6_dst::Ipv6Dst;

use crate::packet::DropReason;
use crate::wire;
use std::fmt::{self, Debug, Display};
use std::hash::Hash;

/// The text form of a key of kind `K` from its bytes ([`FlowKey::to_bytes`]);
/// `None` if `bytes` is not as long as `K`'s keys. For the stats, which hold
/// sampled keys as bytes ([`crate::stats::KeySample`]).
pub fn text_of_bytes<K: FlowKey>(bytes: &[u8]) -> Option<String> {
    let b = K::Bytes::try_from(bytes).ok()?;
    Some(K::from_bytes(&b).to_string())
}

/// A kind of flow key.
pub trait FlowKey: Copy + Eq + Hash + Debug + Display + Send + Sync + 'static {
    /// The key as the EFD table hashes it: `[u8; N]` for an `N`-byte key,
    /// in wire order.
    type Bytes: Copy + Send + Sync + AsRef<[u8]> + for<'a> TryFrom<&'a [u8]> + 'static;

    /// The name of the kind in configuration and output (`ipv4_dst`).
    const KIND: &'static str;
    /// What its text form is, for error messages ("IPv4 address").
    const TEXT_FORM: &'static str;

    /// The key of an Ethernet II frame, or why it has none. Reads only
    /// inside `frame`, never panics, never allocates (hot path).
    fn parse_frame(frame: &[u8]) -> Result<Self, DropReason>;

    /// The key from its text form (flow files, the control plane); `None`
    /// when `text` (already trimmed) is not one.
    fn parse_text(text: &str) -> Option<Self>;

    /// Why `text` is not a key of this kind, one short phrase for error
    /// messages (`port "99999" is not a number 0..=65535`); `None` when
    /// [`FlowKey::TEXT_FORM`] says enough (or `text` is a key).
    fn text_error(text: &str) -> Option<String> {
        let _ = text;
        None
    }

    /// [`FlowKey::parse_frame`] as the EFD table takes it, written in place
    /// (on `Err`, `out` may hold part of a key). The distributor parses
    /// into the array it looks up: a key built on the stack and copied
    /// there was read back, piecewise written, by wider loads that no store
    /// forwards to (a stall per packet on 13- and 37-byte keys).
    #[inline(always)]
    fn parse_frame_bytes(frame: &[u8], out: &mut Self::Bytes) -> Result<(), DropReason> {
        *out = Self::parse_frame(frame)?.to_bytes();
        Ok(())
    }

    /// [`FlowKey::parse_frame`] written in place, as
    /// [`FlowKey::parse_frame_bytes`] (the worker's burst of keys).
    #[inline(always)]
    fn parse_frame_into(frame: &[u8], out: &mut Self) -> Result<(), DropReason> {
        *out = Self::parse_frame(frame)?;
        Ok(())
    }

    /// The key as the EFD table takes it.
    fn to_bytes(&self) -> Self::Bytes;

    /// The key back from [`FlowKey::to_bytes`] (the EFD writer keeps keys in
    /// that form).
    fn from_bytes(bytes: &Self::Bytes) -> Self;

    /// The 32 bits the distributor leaves in the mbuf header for the worker.
    fn tag(&self) -> u32;

    /// The key back from [`FlowKey::tag`], when the tag holds all of it;
    /// `None` makes the worker parse the frame again.
    fn from_tag(tag: u32) -> Option<Self>;

    /// Whether the tag can hold the key ([`FlowKey::from_tag`] may answer
    /// `Some`). When false, the distributor does not write the tag into the
    /// mbuf and the worker does not read it: it parses the frame again.
    const TAG_HOLDS_KEY: bool = true;

    /// Flow `i` of the C sample's population (`i < 2^32`).
    fn seed(i: u32) -> Self;
}

/// The key kinds, as configured (`key = "ipv4_5tuple"`, `--key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyKind {
    /// [`Ipv4Dst`] (the C sample's key).
    #[default]
    Ipv4Dst,
    /// [`Ipv4SrcDst`].
    Ipv4SrcDst,
    /// [`Ipv4FiveTuple`].
    Ipv4FiveTuple,
    /// [`Ipv6Dst`].
    Ipv6Dst,
    /// [`Ipv6FiveTuple`].
    Ipv6FiveTuple,
    /// [`FiveTuple`]: IPv4 and IPv6 together.
    FiveTuple,
}

impl KeyKind {
    /// Every kind.
    pub const ALL: [KeyKind; 6] = [
        KeyKind::Ipv4Dst,
        KeyKind::Ipv4SrcDst,
        KeyKind::Ipv4FiveTuple,
        KeyKind::Ipv6Dst,
        KeyKind::Ipv6FiveTuple,
        KeyKind::FiveTuple,
    ];

    /// The configuration name ([`FlowKey::KIND`] of its type).
    pub const fn name(self) -> &'static str {
        match self {
            KeyKind::Ipv4Dst => "ipv4_dst",
            KeyKind::Ipv4SrcDst => "ipv4_src_dst",
            KeyKind::Ipv4FiveTuple => "ipv4_5tuple",
            KeyKind::Ipv6Dst => "ipv6_dst",
            KeyKind::Ipv6FiveTuple => "ipv6_5tuple",
            KeyKind::FiveTuple => "5tuple",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<KeyKind> {
        KeyKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The names of all kinds, comma-separated (for messages).
    pub fn names() -> String {
        KeyKind::ALL.map(KeyKind::name).join(", ")
    }

    /// The length of the kind's key bytes ([`FlowKey::Bytes`]).
    pub const fn key_len(self) -> usize {
        match self {
            KeyKind::Ipv4Dst => 4,
            KeyKind::Ipv4SrcDst => 8,
            KeyKind::Ipv4FiveTuple => 13,
            KeyKind::Ipv6Dst => 16,
            KeyKind::Ipv6FiveTuple | KeyKind::FiveTuple => 37,
        }
    }
}

impl Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for KeyKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        KeyKind::from_name(s)
            .ok_or_else(|| format!("{s:?} is not a key kind ({})", KeyKind::names()))
    }
}

/// Runs `$body` with `$K` the key type of the [`KeyKind`] `$kind` and `$N`
/// its key length, for code generic over `K: FlowKey<Bytes = [u8; N]>`:
/// `with_key_kind!(kind, |K, N| run_keyed::<K, N>(settings))`.
#[macro_export]
macro_rules! with_key_kind {
    ($kind:expr, |$k:ident, $n:ident| $body:expr) => {
        match $kind {
            $crate::key::KeyKind::Ipv4Dst => {
                type $k = $crate::key::Ipv4Dst;
                const $n: usize = 4;
                $body
            }
            $crate::key::KeyKind::Ipv4SrcDst => {
                type $k = $crate::key::Ipv4SrcDst;
                const $n: usize = 8;
                $body
            }
            $crate::key::KeyKind::Ipv4FiveTuple => {
                type $k = $crate::key::Ipv4FiveTuple;
                const $n: usize = 13;
                $body
            }
            $crate::key::KeyKind::Ipv6Dst => {
                type $k = $crate::key::Ipv6Dst;
                const $n: usize = 16;
                $body
            }
            $crate::key::KeyKind::Ipv6FiveTuple => {
                type $k = $crate::key::Ipv6FiveTuple;
                const $n: usize = 37;
                $body
            }
            $crate::key::KeyKind::FiveTuple => {
                type $k = $crate::key::FiveTuple;
                const $n: usize = 37;
                $body
            }
        }
    };
}

/// The 8-byte little-endian words of a key of `N >= 8` bytes: one every 8
/// bytes, the last one ending with the key (it overlaps the one before when
/// `N` is not a multiple of 8).
#[inline(always)]
fn words<const N: usize>(k: &[u8; N]) -> impl Iterator<Item = u64> + '_ {
    const { assert!(N >= 8) };
    (0..N.div_ceil(8)).map(move |j| {
        let o = (8 * j).min(N - 8);
        let mut w = [0u8; 8];
        w.copy_from_slice(&k[o..o + 8]);
        u64::from_le_bytes(w)
    })
}

/// Whether two keys' bytes are equal (`N >= 8`), by 8-byte words
/// ([`words`]), inline. The derived `==` of a 37-byte array is a call to
/// `memcmp`, which the worker's flow table made for every packet (a
/// function call around the miss on the table's slot).
#[inline(always)]
pub(crate) fn bytes_eq<const N: usize>(a: &[u8; N], b: &[u8; N]) -> bool {
    words(a).zip(words(b)).fold(0u64, |d, (x, y)| d | (x ^ y)) == 0
}

/// A 5-tuple of `A`-byte addresses as key bytes (`L = 2A + 5`), written to
/// `b`: source, destination, ports big-endian, protocol.
#[inline(always)]
pub(crate) fn write_tuple<const A: usize, const L: usize>(
    t: &wire::Tuple<[u8; A]>,
    b: &mut [u8; L],
) {
    debug_assert_eq!(L, 2 * A + 5);
    b[..A].copy_from_slice(&t.src);
    b[A..2 * A].copy_from_slice(&t.dst);
    b[2 * A..2 * A + 2].copy_from_slice(&t.sport.to_be_bytes());
    b[2 * A + 2..2 * A + 4].copy_from_slice(&t.dport.to_be_bytes());
    b[2 * A + 4] = t.protocol;
}

/// The 32-bit tag of a key wider than 32 bits: a hash of its bytes (`N >=
/// 8`), for the workers' adoption asks ([`crate::control::sync::Adopter`]).
/// Cheap: the 8-byte words ([`words`]) folded by rotate-xor, then one
/// 64-bit finaliser.
#[inline(always)]
pub(crate) fn tag_of<const N: usize>(b: &[u8; N]) -> u32 {
    let acc = words(b).fold(0u64, |acc, w| acc.rotate_left(23) ^ w);
    let h = crate::rng::mix(acc ^ N as u64);
    (h ^ (h >> 32)) as u32
}

#[cfg(test)]
mod tests;

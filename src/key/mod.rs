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

#![forbid(unsafe_code)]

mod ipv4_dst;

pub use ipv4_dst::Ipv4Dst;

use crate::packet::DropReason;
use std::fmt::{Debug, Display};
use std::hash::Hash;

/// A kind of flow key.
pub trait FlowKey: Copy + Eq + Hash + Debug + Display + Send + Sync + 'static {
    /// The key as the EFD table hashes it: `[u8; N]` for an `N`-byte key,
    /// in wire order.
    type Bytes: Copy + Send + Sync + 'static;

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

    /// Flow `i` of the C sample's population (`i < 2^32`).
    fn seed(i: u32) -> Self;
}

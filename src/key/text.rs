//! Text forms shared by the key kinds: `SRC -> DST`, endpoints
//! (`10.0.0.1:80`, `[2001:db8::1]:443`) and protocols (`tcp` or a number).
//!
//! IPv6 addresses are printed by `std`'s `Ipv6Addr`, which follows RFC 5952
//! (lowercase, no leading zeros, the longest run of two or more zero groups
//! as `::`, IPv4-mapped addresses as `::ffff:192.0.2.1`); the parsers take
//! any form `std` reads, but no zone (`%eth0`).

use crate::wire;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Protocols printed by name; any other is printed as its number.
const PROTOCOL_NAMES: [(u8, &str); 8] = [
    (wire::PROTO_ICMP, "icmp"),
    (wire::PROTO_TCP, "tcp"),
    (wire::PROTO_UDP, "udp"),
    (wire::PROTO_GRE, "gre"),
    (wire::PROTO_ESP, "esp"),
    (wire::PROTO_AH, "ah"),
    (wire::PROTO_ICMPV6, "icmpv6"),
    (wire::PROTO_SCTP, "sctp"),
];

/// An IP protocol number as text: its name (`tcp`) or its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol(pub u8);

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match PROTOCOL_NAMES.iter().find(|(p, _)| *p == self.0) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A protocol from its name (lowercase, as printed) or its number.
pub fn parse_protocol(s: &str) -> Result<u8, String> {
    if let Some((p, _)) = PROTOCOL_NAMES.iter().find(|(_, n)| *n == s) {
        return Ok(*p);
    }
    if !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(p) = s.parse::<u8>() {
            return Ok(p);
        }
    }
    let names: Vec<&str> = PROTOCOL_NAMES.iter().map(|(_, n)| *n).collect();
    Err(format!(
        "unknown protocol {s:?} (a name: {}; or a number 0..=255)",
        names.join(", ")
    ))
}

/// A port: 1 to 5 decimal digits, at most 65535.
pub fn parse_port(s: &str) -> Result<u16, String> {
    if !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(p) = s.parse::<u16>() {
            return Ok(p);
        }
    }
    Err(format!("port {s:?} is not a number 0..=65535"))
}

/// An IPv4 address.
pub fn parse_v4(s: &str) -> Result<Ipv4Addr, String> {
    v4(s).ok_or_else(|| format!("{s:?} is not an IPv4 address"))
}

/// An IPv4 address in the form `std`'s `Ipv4Addr` parser takes, and only
/// that: four decimal parts of one to three digits, each at most 255 and
/// without a leading zero, joined by dots, nothing around them. Written
/// out because flow files of millions of lines go through it: `std`'s
/// general parser took half the time of a bulk load's text.
/// `props::ipv4_text` checks it against `std` on any input.
pub fn v4(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    if b.len() > 15 {
        return None;
    }
    let mut at = 0;
    let mut out = [0u8; 4];
    for (part, o) in out.iter_mut().enumerate() {
        if part > 0 {
            if b.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
        let start = at;
        let mut v = 0u32;
        while let Some(d) = b.get(at).filter(|d| d.is_ascii_digit() && at - start < 3) {
            v = v * 10 + u32::from(d - b'0');
            at += 1;
        }
        let digits = at - start;
        if digits == 0 || v > 255 || (digits > 1 && b[start] == b'0') {
            return None;
        }
        *o = v as u8;
    }
    (at == b.len()).then_some(Ipv4Addr::from(out))
}

/// An IPv6 address (no brackets, no zone).
pub fn parse_v6(s: &str) -> Result<Ipv6Addr, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an IPv6 address"))
}

/// `ADDRESS:PORT` with an IPv4 address.
pub fn parse_v4_endpoint(s: &str) -> Result<(Ipv4Addr, u16), String> {
    let (a, p) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} has no port (expected ADDRESS:PORT)"))?;
    Ok((parse_v4(a)?, parse_port(p)?))
}

/// An endpoint that is an IPv6 address with a port but no brackets
/// (`2001:db8::1:443`, more than one colon and no `[`) is refused with a
/// line that says so; any other text passes, for the endpoint parsers.
pub fn check_brackets(s: &str) -> Result<(), String> {
    if !s.starts_with('[') && s.matches(':').count() > 1 {
        return Err(format!(
            "{s:?} is not [ADDRESS]:PORT (an IPv6 address with a port goes in brackets)"
        ));
    }
    Ok(())
}

/// `[ADDRESS]:PORT` with an IPv6 address.
pub fn parse_v6_endpoint(s: &str) -> Result<(Ipv6Addr, u16), String> {
    check_brackets(s)?;
    let (a, p) = s
        .strip_prefix('[')
        .and_then(|r| r.split_once("]:"))
        .ok_or_else(|| format!("{s:?} is not [ADDRESS]:PORT"))?;
    Ok((parse_v6(a)?, parse_port(p)?))
}

/// Splits `SRC -> DST` (no protocol) into its trimmed halves; `example`
/// goes into the error.
pub fn split_pair<'a>(text: &'a str, example: &str) -> Result<(&'a str, &'a str), String> {
    match text.split_once("->") {
        Some((src, dst)) => {
            let (src, dst) = (src.trim(), dst.trim());
            if src.is_empty()
                || dst.is_empty()
                || src.contains(char::is_whitespace)
                || dst.contains(char::is_whitespace)
            {
                Err(format!("expected {example:?}"))
            } else {
                Ok((src, dst))
            }
        }
        None => Err(format!("expected {example:?}")),
    }
}

/// Splits `SRC -> DST PROTO` into its three trimmed parts; `example` goes
/// into the error.
pub fn split_tuple<'a>(
    text: &'a str,
    example: &str,
) -> Result<(&'a str, &'a str, &'a str), String> {
    let bad = || format!("expected {example:?}");
    let (src, rest) = text.split_once("->").ok_or_else(bad)?;
    let src = src.trim();
    let mut it = rest.split_whitespace();
    match (it.next(), it.next(), it.next()) {
        (Some(dst), Some(proto), None) if !src.is_empty() && !src.contains(char::is_whitespace) => {
            Ok((src, dst, proto))
        }
        _ => Err(bad()),
    }
}

/// Writes `SRC:SPORT -> DST:DPORT PROTO` for IPv4.
pub fn fmt_v4_tuple(
    f: &mut fmt::Formatter<'_>,
    src: Ipv4Addr,
    sport: u16,
    dst: Ipv4Addr,
    dport: u16,
    protocol: u8,
) -> fmt::Result {
    write!(f, "{src}:{sport} -> {dst}:{dport} {}", Protocol(protocol))
}

/// Writes `[SRC]:SPORT -> [DST]:DPORT PROTO` for IPv6.
pub fn fmt_v6_tuple(
    f: &mut fmt::Formatter<'_>,
    src: Ipv6Addr,
    sport: u16,
    dst: Ipv6Addr,
    dport: u16,
    protocol: u8,
) -> fmt::Result {
    write!(
        f,
        "[{src}]:{sport} -> [{dst}]:{dport} {}",
        Protocol(protocol)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols() {
        assert_eq!(parse_protocol("tcp"), Ok(6));
        assert_eq!(parse_protocol("6"), Ok(6));
        assert_eq!(parse_protocol("255"), Ok(255));
        assert_eq!(parse_protocol("0"), Ok(0));
        assert!(parse_protocol("256").is_err());
        assert!(parse_protocol("+6").is_err());
        assert!(parse_protocol("TCP").is_err());
        assert!(parse_protocol("").is_err());
        assert_eq!(Protocol(6).to_string(), "tcp");
        assert_eq!(Protocol(132).to_string(), "sctp");
        assert_eq!(Protocol(99).to_string(), "99");
        for p in 0..=255u8 {
            assert_eq!(parse_protocol(&Protocol(p).to_string()), Ok(p));
        }
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port("65535"), Ok(65535));
        assert_eq!(parse_port("00080"), Ok(80));
        for bad in ["", "65536", "+1", "-1", "1 ", "123456", "0x10"] {
            assert!(parse_port(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_v4_endpoint("10.0.0.1:80"),
            Ok((Ipv4Addr::new(10, 0, 0, 1), 80))
        );
        assert!(parse_v4_endpoint("10.0.0.1").is_err());
        assert!(parse_v4_endpoint("[10.0.0.1]:80").is_err());
        assert_eq!(
            parse_v6_endpoint("[2001:db8::1]:443"),
            Ok(("2001:db8::1".parse().unwrap(), 443))
        );
        assert_eq!(
            parse_v6_endpoint("2001:db8::1:443").unwrap_err(),
            "\"2001:db8::1:443\" is not [ADDRESS]:PORT (an IPv6 address with a port goes in brackets)"
        );
        assert_eq!(check_brackets("10.0.0.1:80"), Ok(()));
        assert_eq!(check_brackets("[2001:db8::1]:443"), Ok(()));
        assert!(parse_v6_endpoint("[fe80::1%2]:443").is_err());
        assert!(parse_v6_endpoint("[2001:db8::1]").is_err());
    }

    #[test]
    fn splits() {
        assert_eq!(
            split_tuple("a:1 -> b:2 tcp", "x"),
            Ok(("a:1", "b:2", "tcp"))
        );
        assert_eq!(split_tuple("a:1->b:2\ttcp", "x"), Ok(("a:1", "b:2", "tcp")));
        assert!(split_tuple("a:1 -> b:2", "x").is_err());
        assert!(split_tuple("a:1 -> b:2 tcp x", "x").is_err());
        assert!(split_tuple(" -> b:2 tcp", "x").is_err());
        assert!(split_tuple("a b -> c tcp", "x").is_err());
        assert_eq!(split_pair("a -> b", "x"), Ok(("a", "b")));
        assert!(split_pair("a -> b c", "x").is_err());
        assert!(split_pair("a ->", "x").is_err());
        assert!(split_pair("a b", "x").is_err());
    }
}

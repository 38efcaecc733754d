//! Rendering of stats snapshots: the C sample's ANSI dashboard, plain lines, or
//! JSON lines.

use std::io::{self, IsTerminal, Write};

use serde::{Deserialize, Serialize};

use super::counters::{Rates, Snapshot};

/// Output format of the stats lcore.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StatsFormat {
    /// ANSI on a terminal, plain otherwise.
    #[default]
    Auto,
    /// The C sample's screen: clear + home, then the counters (for a terminal).
    Ansi,
    /// The same content as plain lines with a timestamp, no escape codes.
    Plain,
    /// One JSON object per line.
    Json,
}

impl StatsFormat {
    /// Resolves `Auto` to `Ansi` if `is_terminal`, else `Plain`; other
    /// formats are returned as they are.
    pub fn resolve(self, is_terminal: bool) -> StatsFormat {
        match self {
            StatsFormat::Auto if is_terminal => StatsFormat::Ansi,
            StatsFormat::Auto => StatsFormat::Plain,
            f => f,
        }
    }

    /// The lowercase name (`auto`, `ansi`, `plain`, `json`).
    pub fn name(self) -> &'static str {
        match self {
            StatsFormat::Auto => "auto",
            StatsFormat::Ansi => "ansi",
            StatsFormat::Plain => "plain",
            StatsFormat::Json => "json",
        }
    }
}

const CLEAR: &str = "\x1b[2J";
const TOP_LEFT: &str = "\x1b[1;1H";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Formats milliseconds since the Unix epoch as RFC 3339 UTC
/// (`2026-11-27T09:04:44.123Z`).
pub fn format_timestamp(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        unix_ms % 1000
    )
}

fn mpps(pps: f64) -> String {
    format!("{:.3} Mpps", pps / 1e6)
}

fn text(
    snap: &Snapshot,
    rates: Option<&Rates>,
    ansi: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    let (b, r) = if ansi { (BOLD, RESET) } else { ("", "") };
    writeln!(out, "{b}PORTS{r}")?;
    for p in &snap.ports {
        write!(out, "Port {}: '{}'\t", p.id, p.name)?;
    }
    writeln!(out)?;
    for (i, p) in snap.ports.iter().enumerate() {
        write!(out, "Port {} - rx: {:9}\ttx: {:9}", p.id, p.rx, p.tx)?;
        if p.tx_drop > 0 {
            write!(out, "\ttx_drop: {:9}", p.tx_drop)?;
        }
        if let Some(rt) = rates {
            let rx = rt.port_rx_pps.get(i).copied().unwrap_or(0.0);
            let tx = rt.port_tx_pps.get(i).copied().unwrap_or(0.0);
            write!(out, "\t(rx {}, tx {})", mpps(rx), mpps(tx))?;
        }
        if !p.mac.is_empty() {
            write!(out, "\tmac {}", p.mac)?;
        }
        writeln!(out)?;
        if let Some(h) = &p.hw {
            writeln!(
                out,
                "Port {} hw - ipackets: {}, opackets: {}, imissed: {}, ierrors: {}, oerrors: {}, rx_nombuf: {}",
                p.id, h.ipackets, h.opackets, h.imissed, h.ierrors, h.oerrors, h.rx_nombuf
            )?;
        }
    }
    let d = &snap.distributor;
    writeln!(out)?;
    writeln!(out, "{b}DISTRIBUTOR{r}")?;
    write!(out, "distributed: {:9}, drop: {:9}", d.distributed, d.drop)?;
    if let Some(rt) = rates {
        write!(
            out,
            "\t(distributed {}, drop {})",
            mpps(rt.distributed_pps),
            mpps(rt.drop_pps)
        )?;
    }
    writeln!(out)?;
    write!(out, "drop reasons - unknown_node: {}", d.drop_unknown_node)?;
    for (name, n) in d.drop_by_reason.iter() {
        write!(out, ", {name}: {n}")?;
    }
    writeln!(out)?;
    write!(out, "cycles/packet: {:.1}", d.cycles_per_packet)?;
    if let Some(rt) = rates {
        write!(
            out,
            " (last interval {:.1})",
            rt.distributor_cycles_per_packet
        )?;
    }
    writeln!(out, ", idle polls: {}", d.idle_polls)?;
    writeln!(out)?;
    writeln!(out, "{b}NODES{r}")?;
    for (i, n) in snap.nodes.iter().enumerate() {
        writeln!(out, "Node {i:2} - rx: {:9}, rx_drop: {:9}", n.rx, n.rx_drop)?;
        write!(out, "            tx: {:9}, tx_drop: {:9}", n.tx, n.tx_drop)?;
        if let Some(rt) = rates {
            let tx = rt.node_tx_pps.get(i).copied().unwrap_or(0.0);
            write!(out, "\t(tx {})", mpps(tx))?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "            filter_passed: {:9}, filter_drop: {:9}",
            n.filter_passed, n.filter_drop
        )?;
        if let Some(k) = &n.last_filter_drop {
            writeln!(out, "            last filter_drop: {k}")?;
        }
    }
    if !snap.workers.is_empty() {
        writeln!(out)?;
        writeln!(out, "{b}WORKERS{r}")?;
        for (i, w) in snap.workers.iter().enumerate() {
            write!(
                out,
                "Worker {i:2} - packets: {:9}, packets/burst: {:.1}, cycles/packet: {:.1}",
                w.packets, w.packets_per_burst, w.cycles_per_packet
            )?;
            if let Some(c) = rates.and_then(|rt| rt.worker_cycles_per_packet.get(i)) {
                write!(out, " (last interval {c:.1})")?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonLine<'a> {
    #[serde(rename = "final")]
    is_final: bool,
    timestamp: String,
    #[serde(flatten)]
    snap: &'a Snapshot,
    rates: Option<&'a Rates>,
}

fn render_impl(
    fmt: StatsFormat,
    snap: &Snapshot,
    rates: Option<&Rates>,
    is_final: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    match fmt.resolve(io::stdout().is_terminal()) {
        StatsFormat::Json => {
            let line = JsonLine {
                is_final,
                timestamp: format_timestamp(snap.unix_ms),
                snap,
                rates,
            };
            serde_json::to_writer(&mut *out, &line)?;
            writeln!(out)?;
        }
        StatsFormat::Ansi => {
            if is_final {
                writeln!(
                    out,
                    "\n{BOLD}Final stats{RESET} ({})",
                    format_timestamp(snap.unix_ms)
                )?;
            } else {
                write!(out, "{CLEAR}{TOP_LEFT}")?;
            }
            text(snap, rates, true, out)?;
        }
        _ => {
            let title = if is_final { "Final stats" } else { "stats" };
            writeln!(out, "=== {title} {} ===", format_timestamp(snap.unix_ms))?;
            text(snap, rates, false, out)?;
        }
    }
    out.flush()
}

/// Renders one periodic stats frame. `Auto` is resolved against stdout
/// being a terminal. `rates` (from the previous snapshot) adds Mpps figures.
pub fn render(
    fmt: StatsFormat,
    snap: &Snapshot,
    rates: Option<&Rates>,
    out: &mut impl Write,
) -> io::Result<()> {
    render_impl(fmt, snap, rates, false, out)
}

/// Renders the final stats after shutdown: a "Final stats" header (ANSI:
/// without clearing the screen; JSON: `"final": true`).
pub fn render_final(
    fmt: StatsFormat,
    snap: &Snapshot,
    rates: Option<&Rates>,
    out: &mut impl Write,
) -> io::Result<()> {
    render_impl(fmt, snap, rates, true, out)
}

#[cfg(test)]
mod tests {
    use super::super::counters::{rates, HwPortStats, PortInfo, Stats};
    use super::*;

    /// The flow node 2's filter dropped, sampled (13-byte keys).
    const DROPPED: &str = "10.0.0.9:1234 -> 10.0.0.2:80 tcp";

    fn sample() -> (Snapshot, Rates) {
        use crate::key::{text_of_bytes, FlowKey, Ipv4FiveTuple};
        let s = Stats::new(2, 3, 2).with_key_text(text_of_bytes::<Ipv4FiveTuple>);
        let key = Ipv4FiveTuple::parse_text(DROPPED).unwrap();
        s.nodes[2].filter_drop_sample.offer(&key.to_bytes());
        s.ports[0].rx.add(1000);
        s.distributor.distributed.add(990);
        s.distributor.drop_unknown_node.add(6);
        s.distributor.drop[1].add(4);
        s.nodes[2].rx.add(990);
        s.nodes[2].filter_passed.add(980);
        s.nodes[2].filter_drop.add(10);
        s.nodes[2].tx[1].add(980);
        let info = [
            PortInfo {
                id: 0,
                name: "net_pcap0".into(),
                mac: "02:00:00:00:00:01".into(),
                hw: Some(HwPortStats {
                    imissed: 7,
                    ..Default::default()
                }),
            },
            PortInfo {
                id: 1,
                name: "net_null0".into(),
                mac: String::new(),
                hw: None,
            },
        ];
        let mut a = Stats::new(2, 3, 2).snapshot(&info);
        let mut b = s.snapshot(&info);
        a.mono_ns = 0;
        b.mono_ns = 1_000_000;
        b.unix_ms = 1_795_770_284_123;
        let r = rates(&a, &b);
        (b, r)
    }

    fn to_string(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut v = Vec::new();
        f(&mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn ansi_has_seed_counters() {
        let (s, r) = sample();
        let out = to_string(|o| render(StatsFormat::Ansi, &s, Some(&r), o));
        assert!(out.starts_with("\x1b[2J\x1b[1;1H"));
        for needle in [
            "Port 0: 'net_pcap0'",
            "Port 1: 'net_null0'",
            "Port 0 - rx:      1000\ttx:         0",
            "Port 1 - rx:         0\ttx:       980",
            "distributed:       990, drop:        10",
            "Node  0 - rx:         0, rx_drop:         0",
            "Node  2 - rx:       990, rx_drop:         0",
            "            tx:       980, tx_drop:         0",
            "            filter_passed:       980, filter_drop:        10\n            last filter_drop: 10.0.0.9:1234 -> 10.0.0.2:80 tcp\n",
            "rx 1.000 Mpps",
            "unknown_node: 6",
            "not_ipv4: 4",
            "too_short: 0",
            "bad_ipv4_header: 0",
            "truncated: 0",
            "cycles/packet",
            "imissed: 7",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in\n{out}");
        }
    }

    #[test]
    fn plain_has_no_escapes() {
        let (s, r) = sample();
        let out = to_string(|o| render(StatsFormat::Plain, &s, Some(&r), o));
        assert!(!out.contains('\x1b'));
        assert!(out.starts_with("=== stats 2026-11-27T"), "{out}");
        assert!(out.contains("distributed:       990, drop:        10"));
        assert!(out.contains("filter_passed:       980"));
        assert!(out.contains(&format!("last filter_drop: {DROPPED}")));
        // Only node 2 has dropped a flow.
        assert_eq!(out.matches("last filter_drop").count(), 1, "{out}");
        let out = to_string(|o| render_final(StatsFormat::Plain, &s, None, o));
        assert!(out.starts_with("=== Final stats "));
        assert!(!out.contains("Mpps"));
    }

    #[test]
    fn final_ansi_keeps_screen() {
        let (s, _) = sample();
        let out = to_string(|o| render_final(StatsFormat::Ansi, &s, None, o));
        assert!(out.contains("Final stats"));
        assert!(!out.contains(CLEAR));
    }

    #[test]
    fn json_parses_back() {
        let (s, r) = sample();
        let out = to_string(|o| {
            render(StatsFormat::Json, &s, Some(&r), o)?;
            render_final(StatsFormat::Json, &s, None, o)
        });
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["final"], false);
        assert_eq!(v["ports"][0]["rx"], 1000);
        assert_eq!(v["ports"][0]["name"], "net_pcap0");
        assert_eq!(v["ports"][0]["hw"]["imissed"], 7);
        assert_eq!(v["ports"][1]["tx"], 980);
        assert_eq!(v["distributor"]["drop"], 10);
        assert_eq!(v["distributor"]["drop_by_reason"]["not_ipv4"], 4);
        assert_eq!(v["nodes"][2]["filter_drop"], 10);
        assert_eq!(v["nodes"][2]["last_filter_drop"], DROPPED);
        assert!(v["nodes"][0]["last_filter_drop"].is_null());
        assert_eq!(v["rates"]["port_rx_pps"][0], 1e6);
        assert_eq!(v["timestamp"], "2026-11-27T09:04:44.123Z");
        let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(v["final"], true);
        assert!(v["rates"].is_null());
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_timestamp(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            format_timestamp(1_709_251_199_999),
            "2024-02-29T23:59:59.999Z"
        );
    }

    #[test]
    fn resolve_auto() {
        assert_eq!(StatsFormat::Auto.resolve(true), StatsFormat::Ansi);
        assert_eq!(StatsFormat::Auto.resolve(false), StatsFormat::Plain);
        assert_eq!(StatsFormat::Json.resolve(true), StatsFormat::Json);
        assert_eq!(StatsFormat::Plain.name(), "plain");
    }
}

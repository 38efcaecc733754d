//! efd-lb-pcapgen: writes a classic pcap of test traffic for efd-lb.
//!
//! Known flows are the first `--known-flows` of the key kind's population
//! (for `ipv4_dst` flow `i` has destination `i`, as in the C sample),
//! unknown flows come from beyond `--table-flows`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use efd_lb::key::KeyKind;
use efd_lb::traffic::{write_pcap, TrafficSpec};

/// Parses a percentage in 0..=100.
fn pct(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not in 0..100"))
    }
}

/// Generate a pcap of test traffic for efd-lb.
#[derive(Parser, Debug)]
#[command(name = "efd-lb-pcapgen", version)]
struct Args {
    /// Output pcap file (overwritten).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Number of packets to write.
    #[arg(long, value_name = "N")]
    packets: u64,
    /// Flow key kind: ipv4_dst, ipv4_src_dst, ipv4_5tuple, ipv6_dst,
    /// ipv6_5tuple or 5tuple (half IPv4, half IPv6).
    #[arg(long, value_name = "KIND", default_value_t = KeyKind::Ipv4Dst)]
    key: KeyKind,
    /// Known flows: the population's flows 0..F (for ipv4_dst, flow i has
    /// destination i).
    #[arg(long, value_name = "F", default_value_t = 1 << 20)]
    known_flows: u32,
    /// Flows in the load balancer's table; unknown flows are >= T
    /// [default: = --known-flows].
    #[arg(long, value_name = "T")]
    table_flows: Option<u32>,
    /// Packet j uses flow j % F (instead of a seeded permutation).
    #[arg(long)]
    cycle: bool,
    /// Percentage of packets of flows outside the table.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = pct)]
    unknown_pct: f64,
    /// Percentage of malformed frames (per key kind: ARP, the other IP
    /// version, runts, bad headers, truncated headers and ports, too long
    /// IPv6 extension chains, three VLAN tags).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = pct)]
    malformed_pct: f64,
    /// Percentage of valid packets carried in VLAN tags.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = pct)]
    vlan_pct: f64,
    /// Percentage of the tagged packets with two tags (QinQ) instead of one.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = pct)]
    qinq_pct: f64,
    /// Percentage of valid packets with IPv4 options / IPv6 extension
    /// headers.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = pct)]
    ext_pct: f64,
    /// Percentage of valid packets that are fragments (keyed without ports).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = pct)]
    fragment_pct: f64,
    /// Frame length on the wire including the 4-byte FCS (not stored).
    #[arg(long, value_name = "BYTES", default_value_t = 64)]
    frame_len: usize,
    /// PRNG seed (output is deterministic for a seed).
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let spec = TrafficSpec {
        key: a.key,
        packets: a.packets,
        known_flows: a.known_flows,
        table_flows: a.table_flows.unwrap_or(a.known_flows),
        cycle: a.cycle,
        unknown_pct: a.unknown_pct,
        malformed_pct: a.malformed_pct,
        vlan_pct: a.vlan_pct,
        qinq_pct: a.qinq_pct,
        ext_pct: a.ext_pct,
        fragment_pct: a.fragment_pct,
        frame_len: a.frame_len,
        seed: a.seed,
    };
    let t0 = Instant::now();
    match write_pcap(&a.out, &spec) {
        Ok(n) => {
            println!(
                "{}: wrote {n} packets ({} keys, {} known flows{}, table {}, unknown {}%, malformed {}%, vlan {}% (qinq {}% of them), ext {}%, fragments {}%, {}-byte frames, seed {}) in {:.2}s",
                a.out.display(),
                spec.key,
                spec.known_flows,
                if spec.cycle { " cycled" } else { "" },
                spec.table_flows,
                spec.unknown_pct,
                spec.malformed_pct,
                spec.vlan_pct,
                spec.qinq_pct,
                spec.ext_pct,
                spec.fragment_pct,
                spec.frame_len,
                spec.seed,
                t0.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("efd-lb-pcapgen: {}: {e}", a.out.display());
            ExitCode::FAILURE
        }
    }
}

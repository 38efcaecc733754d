//! Settings from the command line and a TOML file.
//!
//! Precedence, lowest first: built-in defaults, the configuration file
//! (`--config FILE`, or the embedded `config/default.toml` when no
//! `--config` is given), then command-line flags. Extra EAL arguments after
//! `--` are appended after the file's `[eal] args`.
//!
//! [`parse`] / [`from_args`] return fully validated [`Settings`]; every
//! [`ConfigError`] displays as one line naming the flag, key or file at
//! fault.

#![forbid(unsafe_code)]

pub mod file;
pub mod lcores;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

use crate::faults::FaultSettings;
use crate::flows::io_error_text;
use crate::key::KeyKind;
use crate::lcore::flow_table::FlowMatch;
pub use crate::stats::StatsFormat;
use crate::traffic::TrafficSpec;
use file::{FileConfig, PortmaskValue};

/// The embedded default configuration (`config/default.toml`).
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");
/// Name used for the embedded default in messages.
pub const DEFAULT_CONFIG_NAME: &str = "config/default.toml (embedded)";

/// Built-in default lcore list.
pub const DEFAULT_LCORES: &str = "0@0,1@1,2@0";
/// Built-in default port mask.
pub const DEFAULT_PORTMASK: u64 = 0x3;
/// Built-in default number of nodes.
pub const DEFAULT_NUM_NODES: i64 = 2;
/// Built-in default number of flows.
pub const DEFAULT_NUM_FLOWS: i64 = 1 << 20;
/// Largest EFD value width (DPDK's `efd_value_t` is 8 bits).
pub const MAX_VALUE_BITS: u8 = 8;
/// The mempool driver that holds the pool's free mbufs (`[mempool] ops`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MempoolOps {
    /// LIFO (`stack`): the mbufs freed last are handed out first, so the
    /// mbufs in use stay a small, cache-warm set however large the pool.
    #[default]
    Stack,
    /// Lock-free LIFO (`lf_stack`).
    LfStack,
    /// FIFO (`ring_mp_mc`, DPDK's usual default): every mbuf of the pool
    /// takes its turn, so the whole pool cycles through the caches.
    Ring,
    /// Whatever the EAL picks (`--mbuf-pool-ops-name` or the platform's).
    Default,
}

impl MempoolOps {
    /// The DPDK driver name, `None` for the EAL's choice.
    pub fn driver(self) -> Option<&'static str> {
        match self {
            MempoolOps::Stack => Some("stack"),
            MempoolOps::LfStack => Some("lf_stack"),
            MempoolOps::Ring => Some("ring_mp_mc"),
            MempoolOps::Default => None,
        }
    }
}

/// Largest mempool per-lcore cache (`RTE_MEMPOOL_CACHE_MAX_SIZE`).
pub const MAX_MEMPOOL_CACHE: i64 = 512;
/// Largest ring size (`RTE_RING_SZ_MASK + 1`).
pub const MAX_RING_SIZE: i64 = 1 << 28;
/// Most flows of the C sample's population (`num_flows`): with the 25 %
/// headroom the table is built with, the EFD's largest capacity (2^30).
pub const MAX_NUM_FLOWS: u32 = 858_993_459;
/// Most packets of a generated traffic pcap (`[traffic] packets`).
pub const MAX_TRAFFIC_PACKETS: u64 = 1 << 24;
/// Largest generated traffic pcap, bytes (`[traffic] packets` x `frame_len`).
pub const MAX_TRAFFIC_BYTES: u64 = 4 << 30;
/// Largest burst size: the capacity of the loops' packet arrays
/// ([`crate::lcore::MAX_BURST`]).
pub const MAX_BURST: i64 = crate::lcore::MAX_BURST as i64;

const AFTER_HELP: &str = "\
Settings come from, lowest precedence first: built-in defaults, the TOML file
(--config FILE, or the embedded config/default.toml which replays a generated
pcap on net_pcap0 and transmits to net_null0 without hugepages), then these
flags. Arguments after `--` are extra EAL arguments, appended after the
file's [eal] args; the EAL --lcores comes from --lcores / `lcores`.
Counts (-n, -f, ...) are decimal or hexadecimal with 0x.

Exit status: 0 stopped cleanly; 1 failed while running or stopping (lost
mbufs, counters that do not conserve packets, an lcore failed, output not
written); 2 did not start (a flag, the
configuration, a flow file, a pcap, a device, or the memory it needs).

Example: efd-lb --config config/two-nic.toml -n 4 -f 0x100000 -- --log-level=eal,8";

/// Command line of `efd-lb`. Its field docs are the `--help` texts, whose
/// brackets are not rustdoc links.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Parser, Debug, Default, Clone, PartialEq)]
#[command(
    name = "efd-lb",
    version,
    about = "Flow-level load balancer on DPDK: an EFD table maps each flow (IPv4 destination, 5-tuple, IPv6, ...) to a node; worker lcores filter and transmit.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// TOML configuration file [default: the embedded config/default.toml]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// EAL --lcores list (e.g. 0-5, 0,2,4, 0@0,1@1,2@0, (3,4)@1); the first
    /// lcore shows stats, the second distributes, the rest are workers
    /// [file key: lcores; default 0@0,1@1,2@0]
    #[arg(long, value_name = "LIST")]
    pub lcores: Option<String>,
    /// Hexadecimal bitmask of ports to use, with or without 0x
    /// [file key: portmask; default 0x3]
    #[arg(short = 'p', long, value_name = "HEX")]
    pub portmask: Option<String>,
    /// Number of back-end nodes; flow i goes to node i % N
    /// [file key: num_nodes; default 2]
    #[arg(short = 'n', long, value_name = "N", value_parser = parse_count, allow_negative_numbers = true)]
    pub num_nodes: Option<u64>,
    /// Number of flows put in the EFD table (destinations 0..N), at most
    /// 858993459; ignored with a flow file [file key: num_flows; default
    /// 1048576]
    #[arg(short = 'f', long, value_name = "N", value_parser = parse_count, allow_negative_numbers = true)]
    pub num_flows: Option<u64>,
    /// Flow key: ipv4_dst, ipv4_src_dst, ipv4_5tuple, ipv6_dst, ipv6_5tuple
    /// or 5tuple (IPv4 and IPv6) [file key: key; default ipv4_dst]
    #[arg(long, value_name = "KIND")]
    pub key: Option<String>,
    /// What each node's flow table holds to check that the node owns a
    /// packet's flow: exact (the keys, the C sample's check), fingerprint
    /// (a 64-bit keyed fingerprint per flow, 8 bytes a slot; keys wider than
    /// 8 bytes only) or auto (fingerprint for keys wider than 8 bytes,
    /// exact otherwise) [file key: flow_match; default auto]
    #[arg(long, value_name = "MODE")]
    pub flow_match: Option<String>,
    /// File of "key,node" lines to load instead of the generated flows
    /// [file key: flow_file]
    #[arg(long, value_name = "FILE")]
    pub flow_file: Option<PathBuf>,
    /// EFD value width in bits, 1..=8 [file key: value_bits; default: fewest
    /// bits that hold num_nodes-1, 8 with --unknown-flows assign]
    #[arg(long, value_name = "B", value_parser = parse_count, allow_negative_numbers = true)]
    pub value_bits: Option<u64>,
    /// Stats refresh period in milliseconds [file key: stats.period_ms;
    /// default 1000]
    #[arg(long, value_name = "MS", value_parser = parse_count, allow_negative_numbers = true)]
    pub stats_period_ms: Option<u64>,
    /// Stats output: auto = ansi on a terminal, plain otherwise; json = JSON
    /// lines [file key: stats.format; default auto]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub stats_format: Option<StatsFormat>,
    /// Stop after S seconds; 0 = run until SIGINT/SIGTERM [file key:
    /// duration_s; default 0]
    #[arg(long, value_name = "S", value_parser = parse_count, allow_negative_numbers = true)]
    pub duration_s: Option<u64>,
    /// Nodes served by each worker lcore [file key: nodes_per_lcore;
    /// default: ceil(num_nodes / worker lcores)]
    #[arg(long, value_name = "K", value_parser = parse_count, allow_negative_numbers = true)]
    pub nodes_per_lcore: Option<u64>,
    /// Control API address, e.g. 127.0.0.1:9900 (a non-loopback address
    /// needs control.token_file) [file key: control.listen; default: off]
    #[arg(long, value_name = "ADDR")]
    pub control_listen: Option<String>,
    /// Flow-table snapshot: loaded at start if the file exists (instead of
    /// the flow file or the generated flows), written by `efd-lb ctl
    /// snapshot` [file key: control.snapshot]
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Packets of flows not in the table: drop (the C sample) or assign
    /// (forward, and adopt the flow on an active node by weight) [file key:
    /// control.unknown_flows; default drop]
    #[arg(long, value_name = "POLICY")]
    pub unknown_flows: Option<String>,
    /// Extra EAL arguments (after `--`), appended after the file's [eal] args
    /// (without --config, devices named here replace the default's)
    #[arg(last = true, value_name = "EAL ARGS")]
    pub eal_args: Vec<String>,
}

/// The traffic pcap to generate before start unless it holds what `spec` generates.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficConfig {
    /// Where the pcap goes (the same path net_pcap's `rx_pcap=` reads).
    pub pcap: PathBuf,
    /// What to generate.
    pub spec: TrafficSpec,
}

/// What happens to packets of flows that are not in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownFlows {
    /// Dropped and counted (the C sample).
    #[default]
    Drop,
    /// Forwarded; the flow is adopted by an active node, by weight.
    Assign,
}

impl UnknownFlows {
    /// `drop` or `assign`.
    pub const fn name(self) -> &'static str {
        match self {
            UnknownFlows::Drop => "drop",
            UnknownFlows::Assign => "assign",
        }
    }
}

/// Largest `control.max_body_mb`.
pub const MAX_BODY_MB: i64 = 4096;
/// Largest `control.capacity` (the EFD table's limit).
pub const MAX_CAPACITY: i64 = 1 << 30;

/// The control plane's settings (`[control]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ControlSettings {
    /// HTTP API address; `None`: no API.
    pub listen: Option<std::net::SocketAddr>,
    /// The bearer token (read from `control.token_file` at start).
    pub token: Option<String>,
    /// CPU for the control and API threads; `None`: the main lcore's CPU.
    pub cpu: Option<usize>,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Flows the table holds at most; `None`: the start-up flows + 25 %
    /// (at least 1024).
    pub capacity: Option<u32>,
    /// The unknown-flow policy.
    pub unknown_flows: UnknownFlows,
    /// Adopted flows idle this long expire; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// The snapshot file.
    pub snapshot: Option<PathBuf>,
    /// Period of automatic snapshots; `None`: only on request.
    pub snapshot_period: Option<Duration>,
    /// Most flows a second that drains, restores and weight changes move;
    /// `None`: as fast as the control thread can.
    pub rebalance_rate: Option<u32>,
}

/// Resolved, validated settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where the file settings came from (path or the embedded default).
    pub config_source: String,
    /// EAL `--lcores` value.
    pub lcores: String,
    /// Lcore ids of `lcores`, ascending: `[stats, distributor, workers...]`.
    pub lcore_ids: Vec<u32>,
    /// Port mask (bit i = DPDK port i).
    pub portmask: u64,
    /// Number of nodes, 1..=256.
    pub num_nodes: u16,
    /// Number of flows of the C sample's population (unused when `flow_file` is set).
    pub num_flows: u32,
    /// What a flow is keyed by.
    pub key: KeyKind,
    /// What the node flow tables hold (`auto` resolved for the key kind).
    pub flow_match: FlowMatch,
    /// Flow file to load instead of the C sample's population.
    pub flow_file: Option<PathBuf>,
    /// EFD value width in bits, 1..=8, with `2^value_bits >= num_nodes`.
    pub value_bits: u8,
    /// Nodes per worker lcore if configured (see
    /// [`Settings::effective_nodes_per_lcore`]).
    pub nodes_per_lcore: Option<u16>,
    /// Run time; `None` = until a signal.
    pub duration: Option<Duration>,
    /// Extra EAL arguments: the file's, then the command line's.
    pub eal_args: Vec<String>,
    /// Number of mbufs; 0 = the app computes it.
    pub mempool_mbufs: u32,
    /// Per-lcore mempool cache size.
    pub mempool_cache: u32,
    /// How the mbuf pool stores its free mbufs.
    pub mempool_ops: MempoolOps,
    /// RX descriptors per queue.
    pub rx_desc: u16,
    /// TX descriptors per queue.
    pub tx_desc: u16,
    /// Packets per rx burst, EFD lookup call, ring enqueue and dequeue, and
    /// transmit, `1..=MAX_BURST`.
    pub burst: u16,
    /// Per-node ring size (power of two).
    pub ring_size: u32,
    /// Stats refresh period.
    pub stats_period: Duration,
    /// Stats output format (may be `Auto`).
    pub stats_format: StatsFormat,
    /// Traffic to generate before start, if configured.
    pub traffic: Option<TrafficConfig>,
    /// The control plane.
    pub control: ControlSettings,
    /// Test-only fault injection (`[faults]`); none by default.
    pub faults: FaultSettings,
}

impl Settings {
    /// EAL argv: `[program, "--lcores", lcores, eal_args...]`.
    pub fn eal_argv(&self, program: &str) -> Vec<String> {
        let mut v = vec![program.to_string(), "--lcores".into(), self.lcores.clone()];
        v.extend(self.eal_args.iter().cloned());
        v
    }

    /// Number of worker lcores (all lcores but stats and distributor).
    pub fn worker_lcore_count(&self) -> usize {
        self.lcore_ids.len().saturating_sub(2)
    }

    /// The stats (main) lcore id.
    pub fn stats_lcore(&self) -> u32 {
        self.lcore_ids[0]
    }

    /// The distributor lcore id.
    pub fn distributor_lcore(&self) -> u32 {
        self.lcore_ids[1]
    }

    /// Worker lcore ids, in worker order.
    pub fn worker_lcores(&self) -> &[u32] {
        &self.lcore_ids[2..]
    }

    /// DPDK port ids selected by the port mask, ascending.
    pub fn port_ids(&self) -> Vec<u16> {
        (0..64u16)
            .filter(|i| self.portmask & (1u64 << i) != 0)
            .collect()
    }

    /// Nodes per worker lcore: the configured value or
    /// `ceil(num_nodes / workers)`.
    pub fn effective_nodes_per_lcore(&self) -> u16 {
        self.nodes_per_lcore.unwrap_or_else(|| {
            let w = self.worker_lcore_count().max(1);
            usize::from(self.num_nodes).div_ceil(w) as u16
        })
    }

    /// The node ids served by worker `w` (0-based, in worker order): a
    /// contiguous block of [`Settings::effective_nodes_per_lcore`] nodes,
    /// possibly empty for trailing workers.
    pub fn worker_nodes(&self, w: usize) -> Range<u16> {
        let k = usize::from(self.effective_nodes_per_lcore());
        let n = usize::from(self.num_nodes);
        let start = (w * k).min(n);
        let end = (start + k).min(n);
        start as u16..end as u16
    }
}

/// A configuration error; `Display` is one line.
#[derive(Debug)]
pub enum ConfigError {
    /// A command-line syntax error from clap (also `--help` / `--version`).
    Cli(clap::Error),
    /// The configuration file could not be read or parsed.
    File {
        /// The file as named on the command line.
        path: String,
        /// What is wrong (one line, with the line number when known).
        message: String,
    },
    /// A value is out of range or inconsistent; names the flag or key.
    Invalid(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Cli(e) => {
                let s = e.to_string();
                let mut lines = s.lines().map(str::trim).filter(|l| !l.is_empty());
                f.write_str(lines.next().unwrap_or("").trim_start_matches("error: "))?;
                // An enum flag's choices are on a line of their own.
                match lines.find(|l| l.starts_with("[possible values")) {
                    Some(p) => write!(f, " {p}"),
                    None => Ok(()),
                }
            }
            ConfigError::File { path, message } => write!(f, "{path}: {message}"),
            ConfigError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Parses `std::env::args()`. `--help` and `--version` print and exit 0
/// as clap does; a command-line error is returned like any other (one
/// line, not clap's usage text).
pub fn parse() -> Result<Settings, ConfigError> {
    use clap::error::ErrorKind;
    match from_args(std::env::args()) {
        Err(ConfigError::Cli(e))
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            e.exit()
        }
        r => r,
    }
}

/// Parses an argument list (program name first) and resolves it against the
/// configuration file it names (or the embedded default).
pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Settings, ConfigError> {
    let cli = Cli::try_parse_from(args).map_err(ConfigError::Cli)?;
    match &cli.config {
        Some(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: name.clone(),
                message: io_error_text(&e),
            })?;
            resolve(&cli, &name, &text)
        }
        None => resolve(&cli, DEFAULT_CONFIG_NAME, DEFAULT_CONFIG),
    }
}

/// Parses TOML `text` (named `name` in errors) into a [`FileConfig`].
pub fn parse_file(name: &str, text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| toml_error(name, text, &e))
}

/// The `[section]` in force at 1-based `line` (headers on `line` itself
/// excluded).
fn section_at(text: &str, line: usize) -> Option<String> {
    let mut sect = None;
    for l in text.lines().take(line.saturating_sub(1)) {
        let t = l.trim();
        if let Some(h) = t.strip_prefix('[') {
            let h = h.trim_start_matches('[');
            let end = h.find(']').unwrap_or(h.len());
            sect = Some(h[..end].trim().to_string());
        }
    }
    sect
}

fn toml_error(name: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let raw = e.message().trim();
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let line_text = line.and_then(|l| text.lines().nth(l - 1)).unwrap_or("");
    let is_header = line_text.trim_start().starts_with('[');
    let section = match line {
        Some(l) if !is_header => section_at(text, l),
        _ => None,
    };
    let qualify = |key: &str| match &section {
        Some(s) => format!("{s}.{key}"),
        None => key.to_string(),
    };
    let mut msg = if let Some(rest) = raw.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        format!("unknown key \"{}\"", qualify(key))
    } else {
        let flat = raw
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
            .replace("expected i64", "expected an integer");
        // toml gives no message for a key without a value (`key = `).
        let flat = if flat.is_empty() {
            "expected a value".to_string()
        } else {
            flat
        };
        // Prefix the key when the error is on a `key = value` line.
        match line_text.split_once('=') {
            Some((k, _))
                if !is_header
                    && !k.trim().is_empty()
                    && k.trim()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                format!("{}: {flat}", qualify(k.trim()))
            }
            _ => flat,
        }
    };
    if let Some(l) = line {
        msg.push_str(&format!(" at line {l}"));
    }
    ConfigError::File {
        path: name.to_string(),
        message: msg,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Src {
    Default,
    File,
    Cli,
}

/// Where a value came from, for messages.
#[derive(Clone, Copy)]
struct Loc<'a> {
    src: Src,
    key: &'static str,
    flag: &'static str,
    file: &'a str,
}

impl Loc<'_> {
    /// `--num-nodes` / `lb.toml: num_nodes` / `num_nodes (default)`.
    fn at(&self) -> String {
        match self.src {
            Src::Cli => self.flag.to_string(),
            Src::File => format!("{}: {}", self.file, self.key),
            Src::Default => format!("{} (default)", self.key),
        }
    }

    /// `--num-nodes 300` / `lb.toml: num_nodes = 300` / `num_nodes = 300`.
    fn is(&self, shown: impl fmt::Display) -> String {
        match self.src {
            Src::Cli => format!("{} {shown}", self.flag),
            Src::File => format!("{}: {} = {shown}", self.file, self.key),
            Src::Default => format!("{} = {shown}", self.key),
        }
    }
}

fn invalid(msg: String) -> ConfigError {
    ConfigError::Invalid(msg)
}

/// Picks the command-line value, else the file's, else the default.
fn pick<'a, T>(
    file: &'a str,
    key: &'static str,
    flag: &'static str,
    cli: Option<T>,
    from_file: Option<T>,
    default: T,
) -> (T, Loc<'a>) {
    let (v, src) = match (cli, from_file) {
        (Some(v), _) => (v, Src::Cli),
        (None, Some(v)) => (v, Src::File),
        (None, None) => (default, Src::Default),
    };
    (
        v,
        Loc {
            src,
            key,
            flag,
            file,
        },
    )
}

fn cli_int(v: Option<u64>) -> Option<i64> {
    // parse_count keeps command-line counts within i64.
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// Parses a count flag: decimal, or hexadecimal with `0x` (as the TOML
/// file's integers may be written), at most `i64::MAX`.
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (t, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err("not a count (decimal, or hexadecimal with 0x)".into());
    }
    match u64::from_str_radix(digits, radix) {
        Ok(v) if v <= i64::MAX as u64 => Ok(v),
        _ => Err(format!("too large (the most is {})", i64::MAX)),
    }
}

/// Checks `lo <= v <= hi`, else `{at}: {v} {what}`.
fn in_range(v: i64, loc: &Loc, lo: i64, hi: i64, what: &str) -> Result<i64, ConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(format!("{}: {v} {what}", loc.at())))
    }
}

/// Parses a hexadecimal port mask, with or without `0x`.
pub fn parse_hex(s: &str) -> Option<u64> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() {
        return None;
    }
    u64::from_str_radix(t, 16).ok()
}

/// Fewest bits that hold `num_nodes - 1` (at least 1).
pub fn default_value_bits(num_nodes: u32) -> u32 {
    let max = num_nodes.saturating_sub(1);
    (32 - max.leading_zeros()).max(1)
}

/// EAL's long options that choose devices (value separate or after `=`).
const DEVICE_OPTIONS: [&str; 5] = [
    "--vdev",
    "--allow",
    "--block",
    "--pci-whitelist",
    "--pci-blacklist",
];
/// EAL's short options that choose devices (value separate or attached).
const DEVICE_SHORT_OPTIONS: [&str; 2] = ["-a", "-b"];

/// Whether EAL argument `a` chooses devices, in any spelling EAL accepts.
fn is_device_arg(a: &str) -> bool {
    DEVICE_OPTIONS
        .iter()
        .any(|o| a == *o || a.strip_prefix(o).is_some_and(|r| r.starts_with('=')))
        || DEVICE_SHORT_OPTIONS
            .iter()
            .any(|o| a.starts_with(o) && !a.starts_with("--"))
}

/// `args` without their device choices and without `--no-pci`: what is left
/// of a configuration's EAL arguments when the command line names its own
/// devices.
fn without_devices(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--no-pci" {
            continue;
        }
        if is_device_arg(&a) {
            // The bare option forms take the next argument as their value.
            let bare =
                DEVICE_OPTIONS.contains(&a.as_str()) || DEVICE_SHORT_OPTIONS.contains(&a.as_str());
            if bare {
                it.next();
            }
            continue;
        }
        out.push(a);
    }
    out
}

fn eal_arg_conflict(a: &str) -> bool {
    let attached = |p: &str| {
        a.strip_prefix(p)
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    };
    matches!(a, "-l" | "-c" | "--lcores" | "--coremask" | "--lcore-list")
        || a.starts_with("--lcores=")
        || attached("-l")
        || attached("-c")
}

/// Resolves command-line values against file `text` (named `file` in
/// messages) and validates the result.
pub fn resolve(cli: &Cli, file: &str, text: &str) -> Result<Settings, ConfigError> {
    let mut fc = parse_file(file, text)?;

    // lcores
    let (lcores, loc) = pick(
        file,
        "lcores",
        "--lcores",
        cli.lcores.clone(),
        fc.lcores.clone(),
        DEFAULT_LCORES.to_string(),
    );
    let lcore_ids = lcores::parse_lcores(&lcores)
        .map_err(|e| invalid(format!("{}: {e}", loc.is(format!("{lcores:?}")))))?;
    if lcore_ids.len() < 3 {
        return Err(invalid(format!(
            "{}: need at least 3 lcores (stats, distributor, one worker)",
            loc.is(format!("{lcores:?}"))
        )));
    }
    let workers = lcore_ids.len() - 2;

    // portmask
    let file_mask = fc.portmask.as_ref().map(|p| match p {
        PortmaskValue::Hex(s) => s.clone(),
        PortmaskValue::Int(i) => i.to_string(),
    });
    let (mask_s, loc) = pick(
        file,
        "portmask",
        "--portmask",
        cli.portmask.clone(),
        file_mask,
        format!("{DEFAULT_PORTMASK:#x}"),
    );
    let portmask = match fc.portmask {
        Some(PortmaskValue::Int(i)) if loc.src == Src::File => u64::try_from(i).ok(),
        _ => parse_hex(&mask_s),
    }
    .ok_or_else(|| {
        invalid(format!(
            "{}: not a hexadecimal port mask (of at most 64 bits)",
            loc.is(format!("{mask_s:?}"))
        ))
    })?;
    if portmask == 0 {
        return Err(invalid(format!("{} selects no port", loc.is(&mask_s))));
    }

    // nodes and value bits
    let (n, nloc) = pick(
        file,
        "num_nodes",
        "--num-nodes",
        cli_int(cli.num_nodes),
        fc.num_nodes,
        DEFAULT_NUM_NODES,
    );
    if n < 1 {
        return Err(invalid(format!(
            "{}: {n} nodes: need at least 1",
            nloc.at()
        )));
    }
    let (bits, bloc) = pick(
        file,
        "value_bits",
        "--value-bits",
        cli_int(cli.value_bits),
        fc.value_bits,
        0,
    );
    let value_bits = if bloc.src == Src::Default {
        let max = 1i64 << MAX_VALUE_BITS;
        if n > max {
            return Err(invalid(format!(
                "{} exceeds what {MAX_VALUE_BITS}-bit EFD values can address (max {max})",
                nloc.is(n)
            )));
        }
        // `assign` spreads unknown flows by weight over the value space:
        // the widest values give the finest shares.
        let assign = cli
            .unknown_flows
            .as_deref()
            .or(fc.control.as_ref().and_then(|c| c.unknown_flows.as_deref()))
            == Some("assign");
        if assign {
            MAX_VALUE_BITS
        } else {
            default_value_bits(n as u32) as u8
        }
    } else {
        if !(1..=i64::from(MAX_VALUE_BITS)).contains(&bits) {
            return Err(invalid(format!(
                "{}: value_bits must be 1..={MAX_VALUE_BITS}",
                bloc.is(bits)
            )));
        }
        if n > 1i64 << bits {
            return Err(invalid(format!(
                "{} cannot address {n} nodes (max {})",
                bloc.is(bits),
                1i64 << bits
            )));
        }
        bits as u8
    };
    let num_nodes = n as u16;

    // flows
    let (key_s, kloc) = pick(
        file,
        "key",
        "--key",
        cli.key.clone(),
        fc.key.clone(),
        KeyKind::default().name().to_string(),
    );
    let key = KeyKind::from_name(&key_s).ok_or_else(|| {
        invalid(format!(
            "{}: not a key kind ({})",
            kloc.is(format!("{key_s:?}")),
            KeyKind::names()
        ))
    })?;
    let (fm_s, fmloc) = pick(
        file,
        "flow_match",
        "--flow-match",
        cli.flow_match.clone(),
        fc.flow_match.clone(),
        FlowMatch::AUTO.to_string(),
    );
    let flow_match = FlowMatch::from_name(&fm_s, key.key_len()).ok_or_else(|| {
        invalid(format!(
            "{}: not a flow match (auto, exact or fingerprint)",
            fmloc.is(format!("{fm_s:?}"))
        ))
    })?;
    if flow_match == FlowMatch::Fingerprint && key.key_len() < FlowMatch::FINGERPRINT_MIN_KEY {
        return Err(invalid(format!(
            "{}: needs a key wider than 8 bytes (key {} is {} bytes; use exact)",
            fmloc.is(format!("{fm_s:?}")),
            key.name(),
            key.key_len()
        )));
    }
    let (flow_file, _) = pick(
        file,
        "flow_file",
        "--flow-file",
        cli.flow_file.clone().map(Some),
        fc.flow_file.clone().map(Some),
        None,
    );
    let (nf, floc) = pick(
        file,
        "num_flows",
        "--num-flows",
        cli_int(cli.num_flows),
        fc.num_flows,
        DEFAULT_NUM_FLOWS,
    );
    let lo = if flow_file.is_some() { 0 } else { 1 };
    let num_flows = in_range(
        nf,
        &floc,
        lo,
        i64::from(MAX_NUM_FLOWS),
        &format!(
            "flows: need 1..={MAX_NUM_FLOWS} (the most the EFD table holds with 25% headroom)"
        ),
    )? as u32;

    // nodes per lcore
    let (k, kloc) = pick(
        file,
        "nodes_per_lcore",
        "--nodes-per-lcore",
        cli_int(cli.nodes_per_lcore).map(Some),
        fc.nodes_per_lcore.map(Some),
        None,
    );
    let nodes_per_lcore = match k {
        None => None,
        Some(k) => {
            let k = in_range(
                k,
                &kloc,
                1,
                i64::from(u16::MAX),
                "nodes per lcore: out of range 1..=65535",
            )?;
            if k * workers as i64 >= n {
                Some(k as u16)
            } else {
                return Err(invalid(format!(
                    "{}: {workers} worker lcore(s) x {k} node(s) each cannot serve {n} nodes",
                    kloc.at()
                )));
            }
        }
    };

    // duration
    let (d, dloc) = pick(
        file,
        "duration_s",
        "--duration-s",
        cli_int(cli.duration_s),
        fc.duration_s,
        0,
    );
    let d = in_range(d, &dloc, 0, i64::MAX, "seconds: must not be negative")?;
    let duration = (d > 0).then(|| Duration::from_secs(d as u64));

    // EAL args
    let mut eal_args = fc
        .eal
        .as_ref()
        .and_then(|e| e.args.clone())
        .unwrap_or_default();
    // Devices named on the command line replace the embedded default's pcap
    // and null ports (and the pcap it generates) instead of adding to them.
    let default_devices_replaced =
        file == DEFAULT_CONFIG_NAME && cli.eal_args.iter().any(|a| is_device_arg(a));
    if default_devices_replaced {
        eal_args = without_devices(eal_args);
    }
    eal_args.extend(cli.eal_args.iter().cloned());
    if let Some(a) = eal_args.iter().find(|a| eal_arg_conflict(a)) {
        return Err(invalid(format!(
            "EAL argument {a:?} conflicts with the lcores setting (use --lcores / `lcores` instead)"
        )));
    }

    // mempool
    let mp = fc.mempool.unwrap_or_default();
    let (mbufs, loc) = pick(file, "mempool.mbufs", "mempool.mbufs", None, mp.mbufs, 0);
    let mbufs = in_range(
        mbufs,
        &loc,
        0,
        i64::from(u32::MAX),
        "mbufs: need 0 (auto) or a count",
    )?;
    let (cache, cloc) = pick(file, "mempool.cache", "mempool.cache", None, mp.cache, 256);
    let cache = in_range(
        cache,
        &cloc,
        0,
        MAX_MEMPOOL_CACHE,
        &format!("cache: must be 0..={MAX_MEMPOOL_CACHE}"),
    )?;
    if mbufs != 0 && cache as f64 * 1.5 > mbufs as f64 {
        return Err(invalid(format!(
            "{}: cache {cache} too large for {mbufs} mbufs (cache * 1.5 must not exceed mbufs)",
            cloc.at()
        )));
    }

    // ports
    let ps = fc.ports.unwrap_or_default();
    let (rx, loc) = pick(
        file,
        "ports.rx_desc",
        "ports.rx_desc",
        None,
        ps.rx_desc,
        1024,
    );
    let rx_desc = in_range(
        rx,
        &loc,
        1,
        i64::from(u16::MAX),
        "descriptors: need 1..=65535",
    )?;
    let (tx, loc) = pick(
        file,
        "ports.tx_desc",
        "ports.tx_desc",
        None,
        ps.tx_desc,
        1024,
    );
    let tx_desc = in_range(
        tx,
        &loc,
        1,
        i64::from(u16::MAX),
        "descriptors: need 1..=65535",
    )?;
    let (b, loc) = pick(file, "ports.burst", "ports.burst", None, ps.burst, 32);
    let burst = in_range(
        b,
        &loc,
        1,
        MAX_BURST,
        &format!("burst: need 1..={MAX_BURST}"),
    )?;

    // rings
    let (rs, loc) = pick(
        file,
        "rings.size",
        "rings.size",
        None,
        fc.rings.and_then(|r| r.size),
        // 16 bursts: enough slack, and the packets in flight stay in cache.
        512,
    );
    if rs > MAX_RING_SIZE {
        return Err(invalid(format!(
            "{}: ring size {rs} is above the maximum {MAX_RING_SIZE}",
            loc.at()
        )));
    }
    if rs < 2 {
        return Err(invalid(format!(
            "{}: ring size {rs} is below the minimum 2",
            loc.at()
        )));
    }
    if (rs & (rs - 1)) != 0 {
        return Err(invalid(format!(
            "{}: ring size {rs} is not a power of two",
            loc.at()
        )));
    }
    if rs <= burst {
        return Err(invalid(format!(
            "{}: ring size {rs} must exceed the burst size {burst}",
            loc.at()
        )));
    }

    let control = resolve_control(cli, file, fc.control.take().unwrap_or_default())?;
    let faults = resolve_faults(file, fc.faults.take().unwrap_or_default(), num_nodes)?;

    // stats
    let st = fc.stats.unwrap_or_default();
    let (p, loc) = pick(
        file,
        "stats.period_ms",
        "--stats-period-ms",
        cli_int(cli.stats_period_ms),
        st.period_ms,
        1000,
    );
    let period = in_range(p, &loc, 1, i64::MAX, "ms: the period must be at least 1 ms")?;
    let (stats_format, _) = pick(
        file,
        "stats.format",
        "--stats-format",
        cli.stats_format,
        st.format,
        StatsFormat::Auto,
    );

    // traffic
    let traffic = match fc.traffic.filter(|_| !default_devices_replaced) {
        None => None,
        Some(t) => {
            let nonneg = |key: &'static str, v: Option<i64>, default: i64, max: i64| {
                let (v, loc) = pick(file, key, key, None, v, default);
                in_range(v, &loc, 0, max, &format!("out of range 0..={max}"))
            };
            let pct = |key: &'static str, v: Option<f64>| -> Result<f64, ConfigError> {
                let v = v.unwrap_or(0.0);
                if (0.0..=100.0).contains(&v) {
                    Ok(v)
                } else {
                    Err(invalid(format!(
                        "{file}: {key} = {v}: a percentage must be 0..=100"
                    )))
                }
            };
            let u32max = i64::from(u32::MAX);
            let known = nonneg(
                "traffic.known_flows",
                t.known_flows,
                i64::from(num_flows),
                u32max,
            )?;
            let (packets, ploc) = pick(
                file,
                "traffic.packets",
                "traffic.packets",
                None,
                t.packets,
                65536,
            );
            let packets = in_range(
                packets,
                &ploc,
                1,
                MAX_TRAFFIC_PACKETS as i64,
                &format!("packets: need 1..={MAX_TRAFFIC_PACKETS}"),
            )? as u64;
            let spec = TrafficSpec {
                key,
                packets,
                known_flows: known as u32,
                table_flows: nonneg(
                    "traffic.table_flows",
                    t.table_flows,
                    if flow_file.is_some() {
                        known
                    } else {
                        i64::from(num_flows).max(known)
                    },
                    u32max,
                )? as u32,
                cycle: t.cycle.unwrap_or(false),
                unknown_pct: pct("traffic.unknown_pct", t.unknown_pct)?,
                malformed_pct: pct("traffic.malformed_pct", t.malformed_pct)?,
                vlan_pct: pct("traffic.vlan_pct", t.vlan_pct)?,
                qinq_pct: pct("traffic.qinq_pct", t.qinq_pct)?,
                ext_pct: pct("traffic.ext_pct", t.ext_pct)?,
                fragment_pct: pct("traffic.fragment_pct", t.fragment_pct)?,
                frame_len: nonneg("traffic.frame_len", t.frame_len, 64, 65535)? as usize,
                seed: t.seed.unwrap_or(0) as u64,
            };
            let bytes = crate::traffic::pcap_file_bytes(spec.packets, spec.frame_len);
            if bytes > MAX_TRAFFIC_BYTES {
                return Err(invalid(format!(
                    "{file}: traffic.packets = {} of traffic.frame_len = {}: the pcap would take {} MiB, more than the {} MiB limit",
                    spec.packets,
                    spec.frame_len,
                    bytes >> 20,
                    MAX_TRAFFIC_BYTES >> 20
                )));
            }
            if spec.unknown_pct + spec.malformed_pct > 100.0 {
                return Err(invalid(format!(
                    "{file}: traffic.unknown_pct + traffic.malformed_pct = {} exceeds 100",
                    spec.unknown_pct + spec.malformed_pct
                )));
            }
            Some(TrafficConfig {
                pcap: t
                    .pcap
                    .unwrap_or_else(|| Path::new("target/efd-lb-default.pcap").to_path_buf()),
                spec,
            })
        }
    };

    Ok(Settings {
        config_source: file.to_string(),
        lcores,
        lcore_ids,
        portmask,
        num_nodes,
        num_flows,
        key,
        flow_match,
        flow_file,
        value_bits,
        nodes_per_lcore,
        duration,
        eal_args,
        mempool_mbufs: mbufs as u32,
        mempool_cache: cache as u32,
        mempool_ops: mp.ops.unwrap_or_default(),
        rx_desc: rx_desc as u16,
        tx_desc: tx_desc as u16,
        burst: burst as u16,
        ring_size: rs as u32,
        stats_period: Duration::from_millis(period as u64),
        stats_format,
        traffic,
        control,
        faults,
    })
}

/// `[faults]`: each fault is on when its window (`*_ms`) is set; its start
/// (`*_after_ms`, default 0) and the stalled node mean nothing without it.
fn resolve_faults(
    file: &str,
    f: file::FaultsSection,
    num_nodes: u16,
) -> Result<FaultSettings, ConfigError> {
    use crate::faults::{Timing, MAX_AFTER_MS, MAX_WINDOW_MS};
    let loc = |key: &'static str| Loc {
        src: Src::File,
        key,
        flag: key,
        file,
    };
    let timing = |after_key: &'static str,
                  after: Option<i64>,
                  len_key: &'static str,
                  len: Option<i64>|
     -> Result<Option<Timing>, ConfigError> {
        let Some(len) = len else {
            return match after {
                Some(_) => Err(invalid(format!(
                    "{file}: {after_key} needs {len_key} (the length of the window)"
                ))),
                None => Ok(None),
            };
        };
        let len = in_range(
            len,
            &loc(len_key),
            1,
            MAX_WINDOW_MS,
            &format!("ms: need 1..={MAX_WINDOW_MS}"),
        )?;
        let after = in_range(
            after.unwrap_or(0),
            &loc(after_key),
            0,
            MAX_AFTER_MS,
            &format!("ms: need 0..={MAX_AFTER_MS}"),
        )?;
        Ok(Some(Timing {
            after: Duration::from_millis(after as u64),
            length: Duration::from_millis(len as u64),
        }))
    };
    let stall = timing(
        "faults.stall_after_ms",
        f.stall_after_ms,
        "faults.stall_ms",
        f.stall_ms,
    )?;
    let stall = match (f.stall_node, stall) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid(format!(
                "{file}: faults.stall_node needs faults.stall_ms (the length of the stall)"
            )))
        }
        (None, Some(_)) => {
            return Err(invalid(format!(
                "{file}: faults.stall_ms needs faults.stall_node (the node to stall)"
            )))
        }
        (Some(node), Some(t)) => {
            let last = i64::from(num_nodes) - 1;
            let node = in_range(
                node,
                &loc("faults.stall_node"),
                0,
                last,
                &format!("is not a node (0..={last})"),
            )?;
            Some((node as u16, t))
        }
    };
    Ok(FaultSettings {
        stall,
        tx_refuse: timing(
            "faults.tx_refuse_after_ms",
            f.tx_refuse_after_ms,
            "faults.tx_refuse_ms",
            f.tx_refuse_ms,
        )?,
        pool_hold: timing(
            "faults.pool_hold_after_ms",
            f.pool_hold_after_ms,
            "faults.pool_hold_ms",
            f.pool_hold_ms,
        )?,
    })
}

/// `[control]` and its flags.
fn resolve_control(
    cli: &Cli,
    file: &str,
    c: file::ControlSection,
) -> Result<ControlSettings, ConfigError> {
    let (listen, loc) = pick(
        file,
        "control.listen",
        "--control-listen",
        cli.control_listen.clone().map(Some),
        c.listen.map(Some),
        None,
    );
    let listen = match listen {
        None => None,
        Some(a) => Some(a.parse::<std::net::SocketAddr>().map_err(|_| {
            invalid(format!(
                "{}: not an address and port (like 127.0.0.1:9900 or [::1]:9900)",
                loc.is(format!("{a:?}"))
            ))
        })?),
    };
    let token = match &c.token_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                invalid(format!(
                    "{file}: control.token_file = {}: {e}",
                    path.display()
                ))
            })?;
            let t = text.lines().next().unwrap_or("").trim().to_string();
            if t.is_empty() {
                return Err(invalid(format!(
                    "{file}: control.token_file = {}: the first line (the token) is empty",
                    path.display()
                )));
            }
            Some(t)
        }
    };
    if let Some(addr) = listen {
        if token.is_none() && !addr.ip().is_loopback() {
            return Err(invalid(format!(
                "{}: a control API on a non-loopback address needs control.token_file",
                loc.is(addr)
            )));
        }
    }
    let cpu = match c.cpu {
        None => None,
        Some(v) => {
            let loc = Loc {
                src: Src::File,
                key: "control.cpu",
                flag: "control.cpu",
                file,
            };
            Some(in_range(v, &loc, 0, 1023, "is not a CPU number (0..=1023)")? as usize)
        }
    };
    let (mb, loc) = pick(
        file,
        "control.max_body_mb",
        "control.max_body_mb",
        None,
        c.max_body_mb,
        64,
    );
    let max_body_mb = in_range(
        mb,
        &loc,
        1,
        MAX_BODY_MB,
        &format!("MiB: need 1..={MAX_BODY_MB}"),
    )?;
    let capacity = match c.capacity {
        None => None,
        Some(v) => {
            let loc = Loc {
                src: Src::File,
                key: "control.capacity",
                flag: "control.capacity",
                file,
            };
            Some(in_range(
                v,
                &loc,
                1,
                MAX_CAPACITY,
                &format!("flows: need 1..={MAX_CAPACITY}"),
            )? as u32)
        }
    };
    let (policy, loc) = pick(
        file,
        "control.unknown_flows",
        "--unknown-flows",
        cli.unknown_flows.clone(),
        c.unknown_flows,
        "drop".to_string(),
    );
    let unknown_flows = match policy.as_str() {
        "drop" => UnknownFlows::Drop,
        "assign" => UnknownFlows::Assign,
        _ => {
            return Err(invalid(format!(
                "{}: the policy is drop or assign",
                loc.is(format!("{policy:?}"))
            )))
        }
    };
    let seconds = |key: &'static str, v: Option<i64>| -> Result<Option<Duration>, ConfigError> {
        let (v, loc) = pick(file, key, key, None, v, 0);
        let v = in_range(v, &loc, 0, 365 * 86400, "s: need 0..=31536000 (0 = off)")?;
        Ok((v > 0).then(|| Duration::from_secs(v as u64)))
    };
    let idle_timeout = seconds("control.idle_timeout_s", c.idle_timeout_s)?;
    if idle_timeout.is_some() && unknown_flows != UnknownFlows::Assign {
        return Err(invalid(format!(
            "{file}: control.idle_timeout_s expires adopted flows: it needs control.unknown_flows = \"assign\""
        )));
    }
    let snapshot_period = seconds("control.snapshot_period_s", c.snapshot_period_s)?;
    let (snapshot, _) = pick(
        file,
        "control.snapshot",
        "--snapshot",
        cli.snapshot.clone().map(Some),
        c.snapshot.map(Some),
        None,
    );
    if snapshot_period.is_some() && snapshot.is_none() {
        return Err(invalid(format!(
            "{file}: control.snapshot_period_s needs a snapshot file (control.snapshot or --snapshot)"
        )));
    }
    let (rate, loc) = pick(
        file,
        "control.rebalance_flows_per_s",
        "control.rebalance_flows_per_s",
        None,
        c.rebalance_flows_per_s,
        0,
    );
    let rate = in_range(
        rate,
        &loc,
        0,
        MAX_CAPACITY,
        &format!("flows/s: need 0..={MAX_CAPACITY} (0 = no limit)"),
    )?;
    Ok(ControlSettings {
        listen,
        token,
        cpu,
        max_body: (max_body_mb as usize) << 20,
        capacity,
        unknown_flows,
        idle_timeout,
        snapshot,
        snapshot_period,
        rebalance_rate: (rate > 0).then_some(rate as u32),
    })
}

#[cfg(test)]
mod tests;

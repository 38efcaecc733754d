//! Runs the appliance on DPDK, in three steps:
//!
//! 1. [`plan`]: a pure function from the settings and what the devices
//!    report to ports, queues, lcore roles, node placement and pool size;
//! 2. [`launch`]: applies a plan to DPDK (pool, queues, rings, lcores);
//! 3. [`supervisor`]: owns what lives for the run (the EFD writer, the stats
//!    screen, the shutdown sequence).
//!
//! Test traffic (the embedded default's pcap) is made by one named step,
//! [`generate_test_traffic`], which `main` calls before [`run`].

pub mod devices;
pub mod launch;
pub mod memory;
pub mod plan;
pub mod portwatch;
pub mod supervisor;

use crate::config::{Settings, TrafficConfig, UnknownFlows};
use crate::control::balance::NodePolicy;
use crate::control::service::ServiceConfig;
use crate::control::snapshot;
use crate::control::status::NodeState;
use crate::efd::Efd;
use crate::flows::{self, Flow};
use crate::key::FlowKey;
use crate::lcore::flow_table::{FlowMatch, FlowTable};
use crate::stats::Snapshot;
use dpdk::eal::Eal;
use std::fmt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use supervisor::{Supervisor, SupervisorConfig};

/// Why the appliance could not start or stop cleanly: one line for the user.
#[derive(Debug)]
pub struct AppError(pub String);

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AppError {}

impl From<dpdk::Error> for AppError {
    fn from(e: dpdk::Error) -> Self {
        AppError(e.to_string())
    }
}

impl From<plan::PlanError> for AppError {
    fn from(e: plan::PlanError) -> Self {
        AppError(e.0)
    }
}

/// What a run ended with.
pub struct Outcome {
    /// The last counters.
    pub last: Snapshot,
    /// Mbufs still taken from the pool after shutdown (0 when none was lost).
    pub mbufs_in_use: u32,
    /// What else went wrong, one line each: a port died while running (its
    /// interface deleted), the final counters do not account for every
    /// packet exactly once ([`Snapshot::check_conservation`]), the final
    /// stats could not be written, a `tx_pcap` file holds fewer packets
    /// than were sent to it. Any makes the exit status 1.
    pub problems: Vec<String>,
}

impl Outcome {
    /// The outcome of a shutdown whose final counters are `last` (taken
    /// after the loops stopped, so they must conserve packets), written with
    /// `written`.
    pub fn new(last: Snapshot, mbufs_in_use: u32, written: std::io::Result<()>) -> Outcome {
        let mut problems = Vec::new();
        if let Err(e) = last.check_conservation() {
            problems.push(format!("conservation: {e}"));
        }
        if let Err(e) = written {
            problems.push(format!(
                "the final stats were not written to stdout: {}",
                crate::flows::io_error_text(&e)
            ));
        }
        Outcome {
            last,
            mbufs_in_use,
            problems,
        }
    }

    /// What `efd-lb` reports for this outcome: the lines for stderr
    /// (without the `efd-lb: ` prefix) and the exit status, 0 only when
    /// there is nothing to report. `stdout_closed`: stdout was closed when
    /// the process started, so nobody saw the stats.
    pub fn verdict(&self, stdout_closed: bool) -> (Vec<String>, u8) {
        let mut lines = Vec::new();
        if self.mbufs_in_use != 0 {
            lines.push(format!(
                "{} mbufs were not returned to the pool at shutdown",
                self.mbufs_in_use
            ));
        }
        if stdout_closed {
            lines.push("the final stats were not written: stdout is closed".to_string());
        }
        lines.extend(self.problems.iter().cloned());
        let status = if lines.is_empty() { 0 } else { EXIT_RUN };
        (lines, status)
    }
}

/// Why [`run`] failed; the exit status follows from it.
#[derive(Debug)]
pub enum RunError {
    /// Did not start forwarding: the configuration or an input it names
    /// (flow file, snapshot, pcap, device) was refused, or does not fit
    /// this machine (memory, DPDK). Exit status 2, as for a bad flag.
    Start(String),
    /// Failed while running or stopping. Exit status 1.
    Run(String),
}

impl RunError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Start(_) => EXIT_START,
            RunError::Run(_) => EXIT_RUN,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Start(m) | RunError::Run(m) => f.write_str(m),
        }
    }
}

/// Whether stdout was closed when the process started. Rust's runtime
/// puts `/dev/null` in the place of a closed standard descriptor (opened
/// read-write, where a shell's `>/dev/null` is write-only), and its stdout
/// swallows the errors a closed descriptor would give, so the stats would
/// vanish without a word.
pub fn stdout_was_closed() -> bool {
    let null = std::fs::read_link("/proc/self/fd/1").is_ok_and(|p| p == Path::new("/dev/null"));
    let read_write = std::fs::read_to_string("/proc/self/fdinfo/1").is_ok_and(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .is_some_and(|f| f & 3 == 2)
    });
    null && read_write
}

/// Exit status of a run that failed or ended unclean (lost mbufs, output
/// not written, an lcore failed).
pub const EXIT_RUN: u8 = 1;
/// Exit status when efd-lb did not start: a bad flag, configuration file
/// or key, flow file, snapshot, pcap or device, or not enough memory.
pub const EXIT_START: u8 = 2;

/// Runs the appliance until SIGINT/SIGTERM or the configured duration, with
/// the configured key kind.
pub fn run(settings: &Settings) -> Result<Outcome, RunError> {
    crate::with_key_kind!(settings.key, |K, N| run_keyed::<K, N>(settings))
}

/// [`run`] for one key kind.
fn run_keyed<K, const N: usize>(settings: &Settings) -> Result<Outcome, RunError>
where
    K: FlowKey<Bytes = [u8; N]>,
{
    let (supervisor, stop_signal, eal) =
        start::<K, N>(settings).map_err(|e| RunError::Start(e.0))?;
    let mut result = supervisor.run(&stop_signal).map_err(|e| RunError::Run(e.0));
    drop(eal);
    if let Ok(outcome) = &mut result {
        let short = launch::check_tx_pcaps(&settings.eal_args, &outcome.last);
        outcome.problems.extend(short);
    }
    result
}

/// Everything up to a running supervisor: any error here means the
/// appliance did not start ([`RunError::Start`]). The EAL comes back
/// last, to be dropped after the supervisor.
#[allow(clippy::type_complexity)]
fn start<K, const N: usize>(
    settings: &Settings,
) -> Result<(Supervisor<K, N>, Arc<AtomicBool>, Eal), AppError>
where
    K: FlowKey<Bytes = [u8; N]>,
{
    // Everything that can be checked without DPDK is checked before EAL init,
    // so a bad flow file costs nothing and starts nothing; so is the memory
    // the tables need, before they are allocated.
    let resident_mbufs = launch::check_pcap_inputs(&settings.eal_args)?;
    let avail = memory::available();
    let model = memory::HeapModel::new::<K, N>(settings.value_bits, settings.flow_match);
    let snapshot_path = settings.control.snapshot.as_ref().filter(|p| p.exists());
    let source = match (snapshot_path, &settings.flow_file) {
        (Some(p), _) => memory::FlowSource::Snapshot(p),
        (None, Some(p)) => memory::FlowSource::File(p),
        (None, None) => memory::FlowSource::Population,
    };
    if let memory::FlowSource::Population = source {
        let n = settings.num_flows as usize;
        let capacity = table_capacity(settings, n)?;
        memory::check_heap(
            settings,
            &model,
            n as u64,
            capacity as u64,
            None,
            source,
            avail,
        )
        .map_err(AppError)?;
    }
    let limit = memory::flow_file_limit(settings, &model, avail);
    let (flows, policy) = start_flows::<K>(settings, &limit)?;
    let capacity = table_capacity(settings, flows.len())?;
    let mut per_node = vec![0u64; usize::from(settings.num_nodes)];
    for f in &flows {
        per_node[f.node.index()] += 1;
    }
    let need = memory::check_heap(
        settings,
        &model,
        flows.len() as u64,
        capacity as u64,
        Some(&per_node),
        source,
        avail,
    )
    .map_err(AppError)?;
    if need.peak() >= 1 << 30 {
        tracing::info!(
            memory = %memory::human(need.peak()),
            available = %avail.map_or_else(|| "unknown".into(), memory::human),
            "building the flow tables"
        );
    }
    let efd = build_efd_with_capacity(&flows, settings.value_bits, capacity)?;
    let tables = node_tables(&flows, settings.num_nodes, capacity, settings.flow_match);
    tracing::info!(
        flow_match = settings.flow_match.name(),
        memory = %memory::human(tables.iter().map(|t| t.allocation_size() as u64).sum()),
        "node flow tables"
    );
    drop(flows);

    let stop_signal = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop_signal.clone())
            .map_err(|e| AppError(format!("install signal handler: {e}")))?;
    }

    let eal = Eal::init(&settings.eal_argv("efd-lb"))?;
    let started = (|| {
        let (ports, devices) = launch::probe(&eal, settings, resident_mbufs)?;
        let plan = plan::plan(settings, &devices)?;
        memory::check_plan(&eal, settings, &plan, &devices).map_err(AppError)?;
        let launched = launch::launch(
            &eal,
            &plan,
            ports,
            efd.reader(),
            tables,
            capacity,
            &crate::control::balance::value_slots(
                u32::from(settings.value_bits),
                &policy,
                settings.control.unknown_flows == UnknownFlows::Assign,
                None,
            ),
            settings,
        )?;
        tracing::info!(
            ports = plan.ports.len(),
            nodes = plan.num_nodes,
            workers = plan.workers.len(),
            mbufs = plan.pool.mbufs,
            burst = plan.burst,
            hugepages = eal.has_hugepages(),
            "running"
        );
        let config = SupervisorConfig {
            duration: settings.duration,
            stats_period: settings.stats_period,
            stats_format: settings.stats_format,
        };
        let service = ServiceConfig {
            capacity,
            value_bits: u32::from(settings.value_bits),
            assign: settings.control.unknown_flows == UnknownFlows::Assign,
            flow_match: settings.flow_match,
            snapshot: settings.control.snapshot.clone(),
            snapshot_period: settings.control.snapshot_period,
            idle_timeout: settings.control.idle_timeout,
            activity: launched.activity.clone(),
            rebalance_rate: settings.control.rebalance_rate,
        };
        Supervisor::new(efd, launched, config, policy, service, &settings.control)
    })();
    // On an error the EAL is dropped (cleaned up) here, after what used it.
    Ok((started?, stop_signal, eal))
}

/// The table's capacity in flows: `control.capacity`, or the start-up
/// flows + 25 % (at least 1024). Start-up flows beyond it are refused.
pub fn table_capacity(settings: &Settings, flows: usize) -> Result<usize, AppError> {
    match settings.control.capacity {
        None => Ok(default_capacity(flows)),
        Some(c) if flows <= c as usize => Ok(c as usize),
        Some(c) => Err(AppError(format!(
            "{}: control.capacity = {c} is below the {flows} flows to start with",
            settings.config_source
        ))),
    }
}

fn default_capacity(flows: usize) -> usize {
    (flows + flows / 4).max(1024)
}

/// The EFD table for the flows: key = the flow key's bytes, value = node
/// id, sized with headroom so online inserts keep succeeding. Public so
/// tests can predict what the appliance's table answers for unknown keys.
pub fn build_efd<K, const N: usize>(flows: &[Flow<K>], value_bits: u8) -> Result<Efd<N>, AppError>
where
    K: FlowKey<Bytes = [u8; N]>,
{
    build_efd_with_capacity(flows, value_bits, default_capacity(flows.len()))
}

/// [`build_efd`] for a table of `capacity` flows.
pub fn build_efd_with_capacity<K, const N: usize>(
    flows: &[Flow<K>],
    value_bits: u8,
    capacity: usize,
) -> Result<Efd<N>, AppError>
where
    K: FlowKey<Bytes = [u8; N]>,
{
    Efd::build(
        capacity,
        u32::from(value_bits),
        flows.iter().map(|f| (f.key.to_bytes(), f.node.efd_value())),
    )
    .map_err(|e| {
        AppError(format!(
            "building the EFD table of {} flows: {e}",
            flows.len()
        ))
    })
}

/// Each node's flow table, indexed by node id, with room for its share of
/// the table's capacity (so that adds rarely grow a table on a worker),
/// holding what `flow_match` says.
fn node_tables<K: FlowKey>(
    flows: &[Flow<K>],
    num_nodes: u16,
    capacity: usize,
    flow_match: FlowMatch,
) -> Vec<FlowTable<K>> {
    let mut per_node = vec![0usize; usize::from(num_nodes)];
    for f in flows {
        per_node[f.node.index()] += 1;
    }
    let share = capacity.div_ceil(usize::from(num_nodes));
    let mut tables: Vec<FlowTable<K>> = per_node
        .into_iter()
        .map(|n| FlowTable::new(flow_match, n.max(share)))
        .collect();
    for f in flows {
        tables[f.node.index()].insert(f.key);
    }
    tables
}

/// The flows to start with and each node's state and weight: the snapshot
/// when one is configured and exists, else the flow file or the C sample's
/// population with every node active at weight 1.
fn start_flows<K: FlowKey>(
    settings: &Settings,
    limit: &flows::FlowLimit,
) -> Result<(Vec<Flow<K>>, Vec<NodePolicy>), AppError> {
    if let Some(path) = settings.control.snapshot.as_ref().filter(|p| p.exists()) {
        let snap =
            snapshot::load::<K>(path, settings.num_nodes).map_err(|e| AppError(e.to_string()))?;
        tracing::info!(path = %path.display(), flows = snap.flows.len(), "starting from the snapshot");
        let policy = snap
            .nodes
            .iter()
            .map(|&(state, weight)| NodePolicy { state, weight })
            .collect();
        return Ok((snap.flows, policy));
    }
    let policy = vec![
        NodePolicy {
            state: NodeState::Active,
            weight: 1
        };
        usize::from(settings.num_nodes)
    ];
    Ok((load_flows::<K>(settings, limit)?, policy))
}

/// The flows to distribute: the flow file (up to `limit`), or the C
/// sample's population.
fn load_flows<K: FlowKey>(
    settings: &Settings,
    limit: &flows::FlowLimit,
) -> Result<Vec<Flow<K>>, AppError> {
    match &settings.flow_file {
        Some(path) => flows::load_flow_file_limited(path, settings.num_nodes, limit)
            .map_err(|e| AppError(e.to_string())),
        None => Ok(flows::seed_population(settings.num_flows, settings.num_nodes).collect()),
    }
}

/// Generates the configured test traffic pcap (`[traffic]`, the embedded
/// default's) unless the file holds exactly what `[traffic]` generates.
/// A file that does not (cut short by a crash, corrupt, or generated with
/// other settings) is kept as `FILE.old` and made again. The file is
/// written under a temporary name and renamed when complete, so an
/// interrupted generation never leaves a part at the path.
pub fn generate_test_traffic(t: &TrafficConfig) -> Result<(), AppError> {
    if t.pcap.exists() {
        match crate::traffic::check_pcap(&t.pcap, &t.spec) {
            Ok(()) => return Ok(()),
            Err(why) => {
                let old = t.pcap.with_extension("pcap.old");
                tracing::warn!(%why, kept_as = %old.display(), "generating the traffic pcap again");
                std::fs::rename(&t.pcap, &old).map_err(|e| {
                    AppError(format!(
                        "{}: {}",
                        t.pcap.display(),
                        flows::io_error_text(&e)
                    ))
                })?;
            }
        }
    }
    if let Some(dir) = t.pcap.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError(format!("{}: {}", dir.display(), flows::io_error_text(&e))))?;
    }
    let n = crate::traffic::write_pcap_atomic(&t.pcap, &t.spec).map_err(|e| {
        AppError(format!(
            "{}: {}",
            t.pcap.display(),
            flows::io_error_text(&e)
        ))
    })?;
    tracing::info!(path = %t.pcap.display(), packets = n, "generated traffic pcap");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Stats;

    /// Counters of a run that accounted for every packet: 10 received, 2
    /// without a key, 8 to node 0, 1 of them filtered, 6 sent, 1 refused.
    fn conserving() -> Stats {
        let s = Stats::new(2, 1, 1);
        s.ports[0].rx.add(10);
        s.distributor.drop[0].add(2);
        s.distributor.distributed.add(8);
        let n = &s.nodes[0];
        n.rx.add(8);
        n.filter_passed.add(7);
        n.filter_drop.add(1);
        n.tx[1].add(6);
        n.tx_drop[1].add(1);
        s
    }

    #[test]
    fn a_run_that_accounts_for_every_packet_exits_0() {
        let o = Outcome::new(conserving().snapshot(&[]), 0, Ok(()));
        assert_eq!(o.verdict(false), (vec![], 0));
    }

    #[test]
    fn a_conservation_violation_is_one_line_and_exit_status_1() {
        // One packet received that nobody counted further.
        let s = conserving();
        s.ports[1].rx.add(1);
        let o = Outcome::new(s.snapshot(&[]), 0, Ok(()));
        let (lines, status) = o.verdict(false);
        assert_eq!(status, EXIT_RUN);
        assert_eq!(
            lines,
            ["conservation: port rx 11 != distributed 8 + distributor drops 2"]
        );
        // A node's packet lost between its ring and its transmit.
        let s = conserving();
        s.nodes[0].filter_passed.add(1);
        s.nodes[0].rx.add(1);
        s.distributor.distributed.add(1);
        s.ports[0].rx.add(1);
        let (lines, status) = Outcome::new(s.snapshot(&[]), 0, Ok(())).verdict(false);
        assert_eq!(status, EXIT_RUN);
        assert_eq!(
            lines,
            ["conservation: node 0: filter_passed 8 != tx 6 + tx_drop 1"]
        );
    }

    #[test]
    fn every_problem_gets_its_line_and_exit_status_1() {
        let s = conserving();
        s.nodes[0].rx_drop.add(3);
        let broken = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let o = Outcome::new(s.snapshot(&[]), 5, Err(broken));
        let (lines, status) = o.verdict(true);
        assert_eq!(status, EXIT_RUN);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(
            lines[0],
            "5 mbufs were not returned to the pool at shutdown"
        );
        assert_eq!(
            lines[1],
            "the final stats were not written: stdout is closed"
        );
        assert_eq!(
            lines[2],
            "conservation: node rx + rx_drop 11 != distributed 8"
        );
        assert!(lines[3].starts_with("the final stats were not written to stdout: "));
    }
}

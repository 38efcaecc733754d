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

pub mod launch;
pub mod plan;
pub mod supervisor;

use crate::config::{Settings, TrafficConfig};
use crate::efd::Efd;
use crate::flows::{self, Flow};
use crate::key::{FlowKey, Ipv4Dst};
use crate::lcore::flow_table::FlowTable;
use crate::stats::Snapshot;
use dpdk::eal::Eal;
use std::fmt;
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
}

/// Runs the appliance until SIGINT/SIGTERM or the configured duration.
pub fn run(settings: &Settings) -> Result<Outcome, AppError> {
    run_keyed::<Ipv4Dst, 4>(settings)
}

/// [`run`] for one key kind.
fn run_keyed<K, const N: usize>(settings: &Settings) -> Result<Outcome, AppError>
where
    K: FlowKey<Bytes = [u8; N]>,
{
    // Everything that can be checked without DPDK is checked before EAL init,
    // so a bad flow file costs nothing and starts nothing.
    let flows = load_flows::<K>(settings)?;
    let efd = build_efd(&flows, settings.value_bits)?;
    let tables = node_tables(&flows, settings.num_nodes);
    drop(flows);

    let stop_signal = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop_signal.clone())
            .map_err(|e| AppError(format!("install signal handler: {e}")))?;
    }

    let eal = Eal::init(&settings.eal_argv("efd-lb"))?;
    let result = (|| {
        let (ports, devices) = launch::probe(&eal, settings)?;
        let plan = plan::plan(settings, &devices)?;
        let launched = launch::launch(&eal, &plan, ports, efd.reader(), tables, settings)?;
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
        Supervisor::new(efd, launched, config).run(&stop_signal)
    })();
    drop(eal);
    result
}

/// The EFD table for the flows: key = the flow key's bytes, value = node
/// id, sized with headroom so online inserts keep succeeding. Public so
/// tests can predict what the appliance's table answers for unknown keys.
pub fn build_efd<K, const N: usize>(flows: &[Flow<K>], value_bits: u8) -> Result<Efd<N>, AppError>
where
    K: FlowKey<Bytes = [u8; N]>,
{
    let capacity = (flows.len() + flows.len() / 4).max(1024);
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

/// Each node's flow table, indexed by node id.
fn node_tables<K: FlowKey>(flows: &[Flow<K>], num_nodes: u16) -> Vec<FlowTable<K>> {
    let mut per_node = vec![0usize; usize::from(num_nodes)];
    for f in flows {
        per_node[f.node.index()] += 1;
    }
    let mut tables: Vec<FlowTable<K>> =
        per_node.into_iter().map(FlowTable::with_capacity).collect();
    for f in flows {
        tables[f.node.index()].insert(f.key);
    }
    tables
}

/// The flows to distribute: the flow file, or the C sample's population.
fn load_flows<K: FlowKey>(settings: &Settings) -> Result<Vec<Flow<K>>, AppError> {
    match &settings.flow_file {
        Some(path) => {
            flows::load_flow_file(path, settings.num_nodes).map_err(|e| AppError(e.to_string()))
        }
        None => Ok(flows::seed_population(settings.num_flows, settings.num_nodes).collect()),
    }
}

/// Generates the configured test traffic pcap (`[traffic]`, the embedded
/// default's) when it is not there yet.
pub fn generate_test_traffic(t: &TrafficConfig) -> Result<(), AppError> {
    if t.pcap.exists() {
        return Ok(());
    }
    if let Some(dir) = t.pcap.parent() {
        std::fs::create_dir_all(dir).map_err(|e| AppError(format!("{}: {e}", dir.display())))?;
    }
    let n = crate::traffic::write_pcap(&t.pcap, &t.spec)
        .map_err(|e| AppError(format!("{}: {e}", t.pcap.display())))?;
    tracing::info!(path = %t.pcap.display(), packets = n, "generated traffic pcap");
    Ok(())
}

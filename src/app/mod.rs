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

use crate::config::{Settings, TrafficConfig, UnknownFlows};
use crate::control::balance::NodePolicy;
use crate::control::service::ServiceConfig;
use crate::control::snapshot;
use crate::control::status::NodeState;
use crate::efd::Efd;
use crate::flows::{self, Flow};
use crate::key::FlowKey;
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

/// Runs the appliance until SIGINT/SIGTERM or the configured duration, with
/// the configured key kind.
pub fn run(settings: &Settings) -> Result<Outcome, AppError> {
    crate::with_key_kind!(settings.key, |K, N| run_keyed::<K, N>(settings))
}

/// [`run`] for one key kind.
fn run_keyed<K, const N: usize>(settings: &Settings) -> Result<Outcome, AppError>
where
    K: FlowKey<Bytes = [u8; N]>,
{
    // Everything that can be checked without DPDK is checked before EAL init,
    // so a bad flow file costs nothing and starts nothing.
    let (flows, policy) = start_flows::<K>(settings)?;
    let capacity = table_capacity(settings, flows.len())?;
    let efd = build_efd_with_capacity(&flows, settings.value_bits, capacity)?;
    let tables = node_tables(&flows, settings.num_nodes, capacity);
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
        let service = ServiceConfig {
            capacity,
            value_bits: u32::from(settings.value_bits),
            assign: settings.control.unknown_flows == UnknownFlows::Assign,
            snapshot: settings.control.snapshot.clone(),
            snapshot_period: settings.control.snapshot_period,
        };
        Supervisor::new(efd, launched, config, policy, service, &settings.control)?
            .run(&stop_signal)
    })();
    drop(eal);
    result
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
/// the table's capacity (so that adds rarely grow a table on a worker).
fn node_tables<K: FlowKey>(
    flows: &[Flow<K>],
    num_nodes: u16,
    capacity: usize,
) -> Vec<FlowTable<K>> {
    let mut per_node = vec![0usize; usize::from(num_nodes)];
    for f in flows {
        per_node[f.node.index()] += 1;
    }
    let share = capacity.div_ceil(usize::from(num_nodes));
    let mut tables: Vec<FlowTable<K>> = per_node
        .into_iter()
        .map(|n| FlowTable::with_capacity(n.max(share)))
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
    Ok((load_flows::<K>(settings)?, policy))
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

//! Start-up, step 2: the **launch**. Finds out what the devices are
//! ([`probe`]), then applies a [`Plan`] to DPDK ([`launch`]): the mbuf pool,
//! the port queues, the node rings, and the loops on their lcores. It
//! decides nothing the plan has not decided.

use super::plan::{DeviceInfo, Devices, Plan};
use super::AppError;
use crate::config::Settings;
use crate::config::UnknownFlows;
use crate::control::sync::{node_channel, Activity, AdoptionDesk, DistributorSync, NodeLink};
use crate::faults::{FaultyTx, PoolHold};
use crate::ids::NodeId;
use crate::key::FlowKey;
use crate::lcore::distributor::{Distributor, FlowLookup, RxPort};
use crate::lcore::flow_table::FlowTable;
use crate::lcore::io::Dpdk;
use crate::lcore::worker::{Node, Worker};
use crate::lcore::StopFlags;
use crate::stats::Stats;
use dpdk::eal::{Eal, LcoreHandle};
use dpdk::mempool::Mempool;
use dpdk::port::{self, Port, PortConf};
use dpdk::ring;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The ports of the mask that exist, and what they report; the devices
/// keep `resident_mbufs` ([`check_pcap_inputs`]).
pub fn probe(
    eal: &Eal,
    settings: &Settings,
    resident_mbufs: u64,
) -> Result<(Vec<Port>, Devices), AppError> {
    // The EAL was given the configuration's lcore list; check it runs them.
    let eal_workers = eal.worker_lcores();
    if eal_workers.as_slice() != &settings.lcore_ids[1..] {
        return Err(AppError(format!(
            "--lcores {:?}: the EAL runs worker lcores {eal_workers:?}, expected {:?}",
            settings.lcores,
            &settings.lcore_ids[1..]
        )));
    }
    // Every device the configuration names must have come up: the EAL
    // only logs one that failed, and its port id would go to the next.
    let up: Vec<String> = port::all_ids()
        .into_iter()
        .filter_map(|id| Port::new(id).ok()?.device_name())
        .collect();
    super::devices::check_named(&super::devices::named_devices(&settings.eal_args), &up)
        .map_err(AppError)?;
    let available = port::count_avail();
    let mut ports = Vec::new();
    let mut infos = Vec::new();
    for id in settings.port_ids().into_iter().filter(|&id| id < available) {
        let p = Port::new(id)?;
        if let Some(why) = p
            .driver_name()
            .as_deref()
            .and_then(super::devices::unsupported_driver)
        {
            return Err(AppError(format!("port {id} ({}): {why}", p.name())));
        }
        let (max_rx_queues, max_tx_queues) = p.max_queues()?;
        infos.push(DeviceInfo {
            id,
            max_rx_queues,
            max_tx_queues,
        });
        ports.push(p);
    }
    let devices = Devices {
        available,
        ports: infos,
        resident_mbufs,
    };
    Ok((ports, devices))
}

/// What a launch started: it lives until the supervisor shuts it down.
pub struct Launched<K> {
    /// The enabled ports, in plan order (started).
    pub ports: Vec<Port>,
    /// The pool every port receives into.
    pub pool: Arc<Mempool>,
    /// The counters the loops update.
    pub stats: Arc<Stats>,
    /// The loops' shutdown flags.
    pub stop: Arc<StopFlags>,
    /// The distributor's lcore.
    pub distributor: LcoreHandle,
    /// The workers' lcores.
    pub workers: Vec<LcoreHandle>,
    /// The control thread's ends of the nodes' change queues, by node id.
    pub node_links: Vec<NodeLink<K>>,
    /// The distributor's flush handshake and value slots.
    pub distributor_sync: Arc<DistributorSync>,
    /// The control thread's side of adoption (`unknown_flows = "assign"`).
    pub adoption: Option<AdoptionDesk<K>>,
    /// The workers' marks of active flows (`control.idle_timeout_s`).
    pub activity: Option<Arc<Activity>>,
    /// Watches the ports' links, interfaces and receive errors: call
    /// `watch.poll(&ports)` from the supervisor's loop.
    pub watch: super::portwatch::PortWatch,
    /// The test-only `pool_hold` fault's thread; stop it (or drop it)
    /// before counting the pool's mbufs.
    pub pool_hold: Option<PoolHold>,
}

impl<K> Launched<K> {
    /// Stops a run that will not be supervised (the supervisor failed to
    /// start): the distributor, then the workers once they drained their
    /// rings, then the ports. Returns the lcores' failures, if any.
    pub fn abort(self) -> Vec<String> {
        let mut failures = Vec::new();
        // A test-only pool hold gives its mbufs back first.
        drop(self.pool_hold);
        self.stop.stop_rx();
        if let Err(e) = self.distributor.join() {
            failures.push(e);
        }
        self.stop.stop_workers();
        for h in self.workers {
            if let Err(e) = h.join() {
                failures.push(e);
            }
        }
        for p in &self.ports {
            let _ = p.stop();
        }
        for p in &self.ports {
            let _ = p.close();
        }
        failures
    }
}

/// Applies `plan`: the pool, the queues of `ports` (as [`probe`] returned
/// them, in plan order), one ring per node, then the workers (each with its
/// nodes' flow tables from `tables`, indexed by node id) and the distributor
/// reading `lookup`.
// Each argument is one of the plan's inputs that only the launch applies.
#[allow(clippy::too_many_arguments)]
pub fn launch<K, L>(
    eal: &Eal,
    plan: &Plan,
    ports: Vec<Port>,
    lookup: L,
    tables: Vec<FlowTable<K>>,
    capacity: usize,
    value_slots: &[u16],
    settings: &Settings,
) -> Result<Launched<K>, AppError>
where
    K: FlowKey,
    L: FlowLookup<K::Bytes>,
{
    let socket = eal.lcore_socket(plan.distributor_lcore) as i32;
    let pool = Arc::new(Mempool::new_pktmbuf(
        "efd_lb_pool",
        plan.pool.mbufs,
        plan.pool.cache,
        socket,
        settings.mempool_ops.driver(),
    )
    .map_err(|e| {
        let page = super::memory::pool_page_bytes(eal.has_hugepages());
        let object = u64::from(Mempool::pktmbuf_object_bytes());
        let bytes = super::memory::pool_bytes(u64::from(plan.pool.mbufs), object, page);
        AppError(format!(
            "{e} (the pool takes about {} on {} KiB pages: give the EAL more memory with -m or hugepages, or set [mempool] mbufs)",
            super::memory::human(bytes),
            page >> 10
        ))
    })?);

    // Queues: rx[port], tx_by_queue[queue id][port index].
    let mut rx_ports = Vec::new();
    let tx_queues = plan.ports.first().map_or(0, |p| p.tx_queues) as usize;
    let mut tx_by_queue: Vec<Vec<_>> = (0..tx_queues).map(|_| Vec::new()).collect();
    for (p, pp) in ports.iter().zip(&plan.ports) {
        let (rx, tx) = p.configure(
            PortConf {
                rx_queues: pp.rx_queues,
                tx_queues: pp.tx_queues,
                rx_desc: settings.rx_desc,
                tx_desc: settings.tx_desc,
            },
            &pool,
        )?;
        for queue in rx {
            rx_ports.push(RxPort::<Dpdk> {
                index: pp.index,
                queue,
            });
        }
        for (q, t) in tx.into_iter().enumerate() {
            tx_by_queue[q].push(t);
        }
    }
    for p in &ports {
        p.start()?;
    }

    let stats = Arc::new(
        Stats::new(ports.len(), usize::from(plan.num_nodes), plan.workers.len())
            .with_key_text(crate::key::text_of_bytes::<K>),
    );
    let stop = Arc::new(StopFlags::default());
    let mut port_index = vec![0u8; 1 << 16];
    for pp in &plan.ports {
        port_index[usize::from(pp.id)] = pp.index.index() as u8;
    }
    let port_index: Arc<[u8]> = port_index.into();

    let mut producers = Vec::new();
    let mut consumers = Vec::new();
    for id in 0..plan.num_nodes {
        let (p, c) = ring::mbuf_ring(&format!("node_{id}_rx"), plan.ring_size, socket)?;
        producers.push(p);
        consumers.push(Some(c));
    }
    let mut tables: Vec<Option<FlowTable<K>>> = tables.into_iter().map(Some).collect();
    let (changes, node_links): (Vec<_>, Vec<_>) =
        (0..plan.num_nodes).map(|_| node_channel()).unzip();
    let mut changes: Vec<_> = changes.into_iter().map(Some).collect();
    let distributor_sync = Arc::new(DistributorSync::default());
    // The value slots hold from the first packet (with `assign`, no value
    // is "no node").
    distributor_sync.set_slots(value_slots);
    let adoption = (settings.control.unknown_flows == UnknownFlows::Assign).then(AdoptionDesk::new);
    let activity = settings
        .control
        .idle_timeout
        .map(|_| Arc::new(Activity::new(capacity)));
    // The test-only faults' windows count from here.
    let faults = &settings.faults;
    if faults.any() {
        tracing::warn!(faults = %faults.describe(), "fault injection (test only)");
    }
    let origin = Instant::now();
    let tx_refuse = faults.tx_refuse.map(|t| t.window(origin));
    let stall = faults.stall.map(|(node, t)| (node, t.window(origin)));
    let mut tx_by_queue: Vec<Option<Vec<_>>> = tx_by_queue
        .into_iter()
        .map(|q| Some(q.into_iter().map(|t| FaultyTx::new(t, tx_refuse)).collect()))
        .collect();
    let pool_hold = faults
        .pool_hold
        .map(|t| PoolHold::start(pool.clone(), t.window(origin)))
        .transpose()
        .map_err(|e| AppError(format!("fault injection: pool hold thread: {e}")))?;

    // Workers first, so rings are drained from the first packet on.
    let mut handles = Vec::new();
    for wp in &plan.workers {
        let nodes = wp
            .nodes
            .clone()
            .map(|id| {
                let node = NodeId::new(id);
                Node::<Dpdk, K> {
                    id: node,
                    ring: consumers[node.index()].take().expect("one worker per node"),
                    flows: tables[node.index()].take().expect("one table per node"),
                    changes: changes[node.index()].take().expect("one queue per node"),
                    adopt: adoption.as_ref().map(AdoptionDesk::adopter),
                    activity: activity.clone(),
                    tx_slot: wp.tx_slot(node, plan.tx_mode),
                    port_index: port_index.clone(),
                    stall: stall.and_then(|(n, w)| (n == id).then_some(w)),
                }
            })
            .collect();
        let tx = wp
            .tx_queues
            .clone()
            .map(|q| {
                tx_by_queue[usize::from(q)]
                    .take()
                    .expect("queue set owned once")
            })
            .collect();
        let worker = Worker {
            index: wp.index,
            nodes,
            tx,
            stats: stats.clone(),
            stop: stop.clone(),
            burst: plan.burst,
        };
        match eal.launch(wp.lcore, move || worker.run()) {
            Ok(h) => handles.push(h),
            Err(e) => {
                abort_launch(&stop, handles);
                return Err(e.into());
            }
        }
    }
    let distributor = Distributor::<Dpdk, K, L>::new(
        rx_ports,
        producers,
        lookup,
        stats.clone(),
        stop.clone(),
        distributor_sync.clone(),
        plan.burst,
    );
    let dist_handle = match eal.launch(plan.distributor_lcore, move || distributor.run()) {
        Ok(h) => h,
        Err(e) => {
            abort_launch(&stop, handles);
            return Err(e.into());
        }
    };
    let watch = super::portwatch::PortWatch::new(&ports, &settings.eal_args);
    Ok(Launched {
        pool_hold,
        watch,
        ports,
        pool,
        stats,
        stop,
        distributor: dist_handle,
        workers: handles,
        node_links,
        distributor_sync,
        adoption,
        activity,
    })
}

/// Stops and joins the workers a failed launch had started (the
/// distributor is launched last, so it never runs then).
fn abort_launch(stop: &StopFlags, workers: Vec<LcoreHandle>) {
    stop.stop_rx();
    stop.stop_workers();
    for h in workers {
        let _ = h.join();
    }
}

/// An `rx_pcap=` file of a `--vdev net_pcap…` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxPcap {
    /// The file.
    pub path: PathBuf,
    /// Replayed in a loop from mbufs (`infinite_rx=1`).
    pub infinite: bool,
}

/// The `--vdev` arguments (`--vdev SPEC` and `--vdev=SPEC`), each split
/// into its comma-separated parts (the device name first).
pub fn vdev_specs(eal_args: &[String]) -> Vec<Vec<&str>> {
    let mut out = Vec::new();
    let mut it = eal_args.iter();
    while let Some(a) = it.next() {
        let spec = match (a.as_str(), a.strip_prefix("--vdev=")) {
            ("--vdev", _) => match it.next() {
                Some(s) => s.as_str(),
                None => break,
            },
            (_, Some(s)) => s,
            _ => continue,
        };
        out.push(spec.split(',').map(str::trim).collect());
    }
    out
}

/// The `rx_pcap=` files of the `--vdev` arguments.
pub fn rx_pcaps(eal_args: &[String]) -> Vec<RxPcap> {
    let mut out = Vec::new();
    for kv in vdev_specs(eal_args) {
        if !kv[0].starts_with("net_pcap") {
            continue;
        }
        let infinite = kv.contains(&"infinite_rx=1");
        for p in kv {
            if let Some(f) = p.strip_prefix("rx_pcap=") {
                out.push(RxPcap {
                    path: PathBuf::from(f),
                    infinite,
                });
            }
        }
    }
    out
}

/// The `tx_pcap=` files of the `--vdev net_pcap…` arguments that are
/// regular files (or not there yet), with their device's name.
pub fn tx_pcap_files(eal_args: &[String]) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for kv in vdev_specs(eal_args) {
        if !kv[0].starts_with("net_pcap") {
            continue;
        }
        for p in &kv {
            if let Some(f) = p.strip_prefix("tx_pcap=") {
                let path = PathBuf::from(f);
                let regular = std::fs::metadata(&path).map_or(true, |m| m.is_file());
                if regular {
                    out.push((kv[0].to_string(), path));
                }
            }
        }
    }
    out
}

/// After a run: each regular `tx_pcap=` file must hold every packet its
/// port counted as sent. `net_pcap` ignores write errors (it counts a
/// packet sent once libpcap buffered it), so a full disk or a file size
/// limit only shows here. One line per file short of packets.
pub fn check_tx_pcaps(eal_args: &[String], last: &crate::stats::Snapshot) -> Vec<String> {
    let mut problems = Vec::new();
    for (device, path) in tx_pcap_files(eal_args) {
        let Some(sent) = last
            .ports
            .iter()
            .find(|p| p.name == device)
            .and_then(|p| p.hw.as_ref())
            .map(|hw| hw.opackets)
        else {
            continue;
        };
        let held = match crate::pcap::count_complete_records(&path) {
            Ok(n) => n,
            Err(e) => {
                problems.push(format!("{device}: tx_pcap: {e}"));
                continue;
            }
        };
        if held < sent {
            problems.push(format!(
                "{device}: tx_pcap={} holds {held} of the {sent} packets sent to it (net_pcap does not report write errors: disk full, or a file size limit?)",
                path.display()
            ));
        }
    }
    problems
}

/// Largest frame `net_pcap` replays with `infinite_rx=1`: one mbuf's data
/// room (it refuses chained mbufs there).
pub const INFINITE_RX_MAX_FRAME: usize = 2048;

/// Reads every `rx_pcap=` input before the EAL starts, so that a file
/// that is missing, not classic pcap (pcapng), cut short or holds a frame
/// `infinite_rx` cannot replay is refused in one line naming it (the PMD
/// would only fail to probe, or stop replaying at the damage). Frames of
/// any other length pass: an empty or short one is counted as a drop
/// (`too_short`), a long one arrives in chained mbufs. Returns the mbufs
/// the `infinite_rx` files keep for the whole run (one per packet).
pub fn check_pcap_inputs(eal_args: &[String]) -> Result<u64, AppError> {
    let mut resident = 0;
    for RxPcap { path, infinite } in rx_pcaps(eal_args) {
        let reader = crate::pcap::PcapReader::open(&path).map_err(|e| AppError(e.to_string()))?;
        let mut n = 0u64;
        for r in reader {
            let r = r.map_err(|e| AppError(e.to_string()))?;
            n += 1;
            if infinite && r.data.len() > INFINITE_RX_MAX_FRAME {
                return Err(AppError(format!(
                    "{}: packet {n} is {} bytes: with infinite_rx=1 net_pcap replays frames of at most {INFINITE_RX_MAX_FRAME} bytes (one mbuf)",
                    path.display(),
                    r.data.len()
                )));
            }
        }
        if infinite && n == 0 {
            return Err(AppError(format!(
                "{}: no packets to replay with infinite_rx=1",
                path.display()
            )));
        }
        if infinite {
            resident += n;
        }
    }
    Ok(resident)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rx_pcaps() {
        let args: Vec<String> = [
            "--vdev",
            "net_pcap0,rx_pcap=/a.pcap,infinite_rx=1",
            "--vdev=net_pcap1,rx_pcap=/b.pcap",
            "--vdev",
            "net_null0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let want = |p: &str, infinite| RxPcap {
            path: PathBuf::from(p),
            infinite,
        };
        assert_eq!(
            rx_pcaps(&args),
            vec![want("/a.pcap", true), want("/b.pcap", false)]
        );
    }
}

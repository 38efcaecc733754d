//! Wires the appliance onto DPDK: EAL, ports, mempool, node rings, the EFD
//! table, lcore launch, the stats loop on the main lcore, and an orderly
//! shutdown that returns every mbuf to its pool.

use crate::config::Settings;
use crate::efd::{Efd, EfdReader};
use crate::flows::{self, Flow};
use crate::lcore::distributor::{Distributor, RxPort};
use crate::lcore::flow_table::FlowTable;
use crate::lcore::worker::{Node, Worker};
use crate::lcore::StopFlags;
use crate::stats::{render, render_final, PortInfo, Snapshot, Stats};
use dpdk::eal::Eal;
use dpdk::mempool::Mempool;
use dpdk::port::{self, Port, PortConf};
use dpdk::ring;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

fn err(msg: impl Into<String>) -> AppError {
    AppError(msg.into())
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
    if let Some(t) = &settings.traffic {
        ensure_traffic_pcap(t)?;
    }
    // Everything that can be checked without DPDK is checked before EAL init,
    // so a bad flow file costs nothing and starts nothing.
    let flows = load_flows(settings)?;
    let num_nodes = settings.num_nodes as usize;
    let efd = build_efd(&flows, settings.value_bits)?;
    let mut per_node = vec![0usize; num_nodes];
    for f in &flows {
        per_node[f.node as usize] += 1;
    }
    let mut node_flows: Vec<FlowTable> =
        per_node.into_iter().map(FlowTable::with_capacity).collect();
    for f in &flows {
        node_flows[f.node as usize].insert(f.dst);
    }

    let stop_signal = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop_signal.clone())
            .map_err(|e| err(format!("install signal handler: {e}")))?;
    }

    let eal = Eal::init(&settings.eal_argv("efd-lb"))?;
    let result = run_on_eal(&eal, settings, efd.reader(), node_flows, &stop_signal);
    drop(eal);
    result
}

fn run_on_eal(
    eal: &Eal,
    settings: &Settings,
    table: EfdReader<4>,
    node_flows: Vec<FlowTable>,
    stop_signal: &AtomicBool,
) -> Result<Outcome, AppError> {
    let num_nodes = settings.num_nodes as usize;

    // Ports from the mask: each must exist.
    let avail = port::count_avail();
    let mut ports = Vec::new();
    for bit in 0..64u16 {
        if settings.portmask & (1u64 << bit) == 0 {
            continue;
        }
        if bit >= avail {
            return Err(err(format!(
                "portmask {:#x}: port {bit} is not available (DPDK found {avail} port{})",
                settings.portmask,
                if avail == 1 { "" } else { "s" }
            )));
        }
        ports.push(Port::new(bit)?);
    }

    // Lcores: main = stats, first worker = distributor, the rest = workers.
    let lcores = eal.worker_lcores();
    if lcores.len() < 2 {
        return Err(err(format!(
            "--lcores {:?}: need at least 3 lcores (stats, distributor, one worker)",
            settings.lcores
        )));
    }
    let distributor_lcore = lcores[0];
    let worker_lcores = &lcores[1..];
    let per_lcore = settings
        .nodes_per_lcore
        .map(|n| n as usize)
        .unwrap_or_else(|| num_nodes.div_ceil(worker_lcores.len()))
        .max(1);
    let used_workers = num_nodes.div_ceil(per_lcore);
    if used_workers > worker_lcores.len() {
        return Err(err(format!(
            "{num_nodes} nodes at {per_lcore} per lcore need {used_workers} worker lcores, --lcores {:?} gives {}",
            settings.lcores,
            worker_lcores.len()
        )));
    }

    let socket = eal.lcore_socket(distributor_lcore) as i32;
    let mbufs = if settings.mempool_mbufs > 0 {
        settings.mempool_mbufs
    } else {
        auto_pool_size(settings, ports.len(), num_nodes)?
    };
    let pool = Mempool::new_pktmbuf(
        "efd_lb_pool",
        mbufs,
        settings.mempool_cache,
        socket,
        settings.mempool_ops.driver(),
    )
    .map_err(|e| {
        err(format!(
            "{e} (about {} MiB: give EAL more memory with -m or hugepages, or set [mempool] mbufs)",
            (mbufs as u64 * 2432) >> 20
        ))
    })?;

    // One TX queue per node on every port, as long as every device has that
    // many; otherwise one per worker lcore, shared by the nodes it runs.
    let mut min_tx = u16::MAX;
    for p in &ports {
        min_tx = min_tx.min(p.max_queues()?.1);
    }
    let (tx_per_port, queue_per_node) = if min_tx as usize >= num_nodes {
        (num_nodes, true)
    } else if min_tx as usize >= used_workers {
        (used_workers, false)
    } else {
        return Err(err(format!(
            "the ports support {min_tx} TX queue(s): too few for {used_workers} worker lcores"
        )));
    };
    let mut rx_ports = Vec::new();
    let mut tx_by_port = Vec::new();
    for (index, p) in ports.iter().enumerate() {
        let (rx, tx) = p.configure(
            PortConf {
                rx_queues: 1,
                tx_queues: tx_per_port as u16,
                rx_desc: settings.rx_desc,
                tx_desc: settings.tx_desc,
            },
            &pool,
        )?;
        for queue in rx {
            rx_ports.push(RxPort { index, queue });
        }
        tx_by_port.push(tx);
    }
    // tx_sets[q][port]: queue q of every port.
    let mut tx_iters: Vec<_> = tx_by_port.into_iter().map(|v| v.into_iter()).collect();
    let mut tx_sets: Vec<Vec<_>> = (0..tx_per_port)
        .map(|_| {
            tx_iters
                .iter_mut()
                .map(|it| it.next().expect("configured queue"))
                .collect()
        })
        .collect();
    for p in &ports {
        p.start()?;
    }

    let stats = Arc::new(Stats::new(ports.len(), num_nodes, used_workers));
    let stop = Arc::new(StopFlags::default());
    let mut port_index = vec![0u8; 1 << 16];
    for (i, p) in ports.iter().enumerate() {
        port_index[p.id() as usize] = i as u8;
    }
    let port_index: Arc<[u8]> = port_index.into();

    let mut producers = Vec::new();
    let mut nodes = Vec::new();
    for (id, flows) in node_flows.into_iter().enumerate() {
        let (p, c) = ring::mbuf_ring(&format!("node_{id}_rx"), settings.ring_size, socket)?;
        producers.push(p);
        nodes.push(Node {
            id,
            ring: c,
            flows,
            tx_slot: 0,
            port_index: port_index.clone(),
        });
    }

    // Launch: workers first, so rings are drained from the first packet on.
    let mut handles = Vec::new();
    let mut nodes = nodes.into_iter();
    let mut tx_sets = tx_sets.drain(..);
    for (index, &lcore) in worker_lcores.iter().take(used_workers).enumerate() {
        let mut mine: Vec<Node> = nodes.by_ref().take(per_lcore).collect();
        let tx: Vec<Vec<_>> = if queue_per_node {
            for (slot, n) in mine.iter_mut().enumerate() {
                n.tx_slot = slot;
            }
            tx_sets.by_ref().take(mine.len()).collect()
        } else {
            tx_sets.by_ref().take(1).collect()
        };
        let worker = Worker {
            index,
            nodes: mine,
            tx,
            stats: stats.clone(),
            stop: stop.clone(),
        };
        handles.push(eal.launch(lcore, move || worker.run())?);
    }
    let distributor = Distributor {
        rx: rx_ports,
        rings: producers,
        table,
        stats: stats.clone(),
        stop: stop.clone(),
        burst: settings.burst as usize,
    };
    let dist_handle = match eal.launch(distributor_lcore, move || distributor.run()) {
        Ok(h) => h,
        Err(e) => {
            stop.stop_rx();
            stop.stop_workers();
            for h in handles {
                let _ = h.join();
            }
            return Err(e.into());
        }
    };
    tracing::info!(
        ports = ports.len(),
        nodes = num_nodes,
        workers = used_workers,
        mbufs,
        hugepages = eal.has_hugepages(),
        "running"
    );

    // The main lcore draws the stats until a signal or the duration ends.
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    let fmt = settings
        .stats_format
        .resolve(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let mut prev: Option<Snapshot> = None;
    let mut next_draw = started + settings.stats_period;
    loop {
        if stop_signal.load(Ordering::Relaxed) {
            break;
        }
        if let Some(d) = settings.duration {
            if started.elapsed() >= d {
                break;
            }
        }
        let now = Instant::now();
        if now >= next_draw {
            let snap = stats.snapshot(&port_infos(&ports));
            let rates = prev.as_ref().map(|p| crate::stats::rates(p, &snap));
            let _ = render(fmt, &snap, rates.as_ref(), &mut out);
            let _ = out.flush();
            prev = Some(snap);
            next_draw += settings.stats_period;
            if next_draw < now {
                next_draw = now + settings.stats_period;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    // Shutdown: distributor first, then workers drain their rings.
    stop.stop_rx();
    let mut failures = Vec::new();
    if let Err(e) = dist_handle.join() {
        failures.push(e);
    }
    stop.stop_workers();
    for h in handles {
        if let Err(e) = h.join() {
            failures.push(e);
        }
    }
    let last = stats.snapshot(&port_infos(&ports));
    for p in &ports {
        let _ = p.stop();
    }
    for p in &ports {
        let _ = p.close();
    }
    let _ = render_final(fmt, &last, None, &mut out);
    let mbufs_in_use = pool.in_use_count();
    drop(pool);
    if !failures.is_empty() {
        return Err(err(failures.join("; ")));
    }
    Ok(Outcome { last, mbufs_in_use })
}

/// Port names, MACs and PMD counters for the stats screen.
fn port_infos(ports: &[Port]) -> Vec<PortInfo> {
    ports
        .iter()
        .map(|p| PortInfo {
            id: p.id(),
            name: p.name(),
            mac: p.mac(),
            hw: p.stats().ok().map(|s| crate::stats::HwPortStats {
                ipackets: s.ipackets,
                opackets: s.opackets,
                imissed: s.imissed,
                ierrors: s.ierrors,
                oerrors: s.oerrors,
                rx_nombuf: s.rx_nombuf,
            }),
        })
        .collect()
}

/// The EFD table for the flows: key = IPv4 destination (wire order), value =
/// node id, sized with headroom so online inserts keep succeeding. Public so
/// tests can predict what the appliance's table answers for unknown keys.
pub fn build_efd(flows: &[Flow], value_bits: u8) -> Result<Efd<4>, AppError> {
    let capacity = (flows.len() + flows.len() / 4).max(1024);
    Efd::build(
        capacity,
        value_bits as u32,
        flows.iter().map(|f| (f.key(), f.node as u8)),
    )
    .map_err(|e| {
        err(format!(
            "building the EFD table of {} flows: {e}",
            flows.len()
        ))
    })
}

/// The flows to distribute: the flow file, or the seed's population.
fn load_flows(settings: &Settings) -> Result<Vec<Flow>, AppError> {
    match &settings.flow_file {
        Some(path) => {
            flows::load_flow_file(path, settings.num_nodes).map_err(|e| err(e.to_string()))
        }
        None => Ok(flows::seed_population(settings.num_flows, settings.num_nodes).collect()),
    }
}

/// Generates the embedded default's pcap when it is not there yet.
fn ensure_traffic_pcap(t: &crate::config::TrafficConfig) -> Result<(), AppError> {
    if t.pcap.exists() {
        return Ok(());
    }
    if let Some(dir) = t.pcap.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
    }
    let n = crate::pcap::write_pcap(&t.pcap, &t.spec)
        .map_err(|e| err(format!("{}: {e}", t.pcap.display())))?;
    tracing::info!(path = %t.pcap.display(), packets = n, "generated traffic pcap");
    Ok(())
}

/// Pool size: every descriptor and ring slot, the per-lcore caches and
/// in-flight bursts, plus the packets `net_pcap` keeps resident for
/// `infinite_rx=1` (it holds the whole file in mbufs from our pool).
fn auto_pool_size(
    settings: &Settings,
    num_ports: usize,
    num_nodes: usize,
) -> Result<u32, AppError> {
    let descs =
        num_ports as u64 * (settings.rx_desc as u64 + settings.tx_desc as u64 * num_nodes as u64);
    let rings = num_nodes as u64 * settings.ring_size as u64;
    let caches = 16 * settings.mempool_cache as u64;
    let bursts = 64 * 32 * (num_nodes as u64 + 2);
    let mut resident = 0u64;
    for pcap in infinite_rx_pcaps(&settings.eal_args) {
        resident += count_pcap_packets(&pcap)?;
    }
    let total = descs + rings + caches + bursts + resident + 4096;
    u32::try_from(total).map_err(|_| err(format!("mempool of {total} mbufs is too large")))
}

/// The `rx_pcap=` files of `--vdev net_pcap…,infinite_rx=1` arguments.
fn infinite_rx_pcaps(eal_args: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut it = eal_args.iter();
    while let Some(a) = it.next() {
        let spec = if a == "--vdev" {
            match it.next() {
                Some(s) => s.as_str(),
                None => break,
            }
        } else if let Some(s) = a.strip_prefix("--vdev=") {
            s
        } else {
            continue;
        };
        let kv: Vec<&str> = spec.split(',').collect();
        if !kv.iter().any(|p| p.trim() == "infinite_rx=1") {
            continue;
        }
        for p in kv {
            if let Some(f) = p.trim().strip_prefix("rx_pcap=") {
                out.push(PathBuf::from(f));
            }
        }
    }
    out
}

fn count_pcap_packets(path: &Path) -> Result<u64, AppError> {
    let reader = crate::pcap::PcapReader::open(path).map_err(|e| err(e.to_string()))?;
    let mut n = 0u64;
    for r in reader {
        r.map_err(|e| err(e.to_string()))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_infinite_rx_pcaps_only() {
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
        assert_eq!(infinite_rx_pcaps(&args), vec![PathBuf::from("/a.pcap")]);
    }
}

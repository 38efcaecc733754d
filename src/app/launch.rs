//! Start-up, step 2: the **launch**. Finds out what the devices are
//! ([`probe`]), then applies a [`Plan`] to DPDK ([`launch`]): the mbuf pool,
//! the port queues, the node rings, and the loops on their lcores. It
//! decides nothing the plan has not decided.

use super::plan::{DeviceInfo, Devices, Plan};
use super::AppError;
use crate::config::Settings;
use crate::config::UnknownFlows;
use crate::control::sync::{node_channel, AdoptionDesk, DistributorSync, NodeLink};
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
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The ports of the mask that exist, and what they report.
pub fn probe(eal: &Eal, settings: &Settings) -> Result<(Vec<Port>, Devices), AppError> {
    // The EAL was given the configuration's lcore list; check it runs them.
    let eal_workers = eal.worker_lcores();
    if eal_workers.as_slice() != &settings.lcore_ids[1..] {
        return Err(AppError(format!(
            "--lcores {:?}: the EAL runs worker lcores {eal_workers:?}, expected {:?}",
            settings.lcores,
            &settings.lcore_ids[1..]
        )));
    }
    let available = port::count_avail();
    let mut ports = Vec::new();
    let mut infos = Vec::new();
    for id in settings.port_ids().into_iter().filter(|&id| id < available) {
        let p = Port::new(id)?;
        let (max_rx_queues, max_tx_queues) = p.max_queues()?;
        infos.push(DeviceInfo {
            id,
            max_rx_queues,
            max_tx_queues,
        });
        ports.push(p);
    }
    let mut resident_mbufs = 0;
    for pcap in infinite_rx_pcaps(&settings.eal_args) {
        resident_mbufs += count_pcap_packets(&pcap)?;
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
    pub pool: Mempool,
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
}

/// Applies `plan`: the pool, the queues of `ports` (as [`probe`] returned
/// them, in plan order), one ring per node, then the workers (each with its
/// nodes' flow tables from `tables`, indexed by node id) and the distributor
/// reading `lookup`.
pub fn launch<K, L>(
    eal: &Eal,
    plan: &Plan,
    ports: Vec<Port>,
    lookup: L,
    tables: Vec<FlowTable<K>>,
    settings: &Settings,
) -> Result<Launched<K>, AppError>
where
    K: FlowKey,
    L: FlowLookup<K::Bytes>,
{
    let socket = eal.lcore_socket(plan.distributor_lcore) as i32;
    let pool = Mempool::new_pktmbuf(
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
    })?;

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

    let stats = Arc::new(Stats::new(
        ports.len(),
        usize::from(plan.num_nodes),
        plan.workers.len(),
    ));
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
    let adoption = (settings.control.unknown_flows == UnknownFlows::Assign).then(AdoptionDesk::new);
    let mut tx_by_queue: Vec<Option<Vec<_>>> = tx_by_queue.into_iter().map(Some).collect();

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
                    tx_slot: wp.tx_slot(node, plan.tx_mode),
                    port_index: port_index.clone(),
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
    Ok(Launched {
        ports,
        pool,
        stats,
        stop,
        distributor: dist_handle,
        workers: handles,
        node_links,
        distributor_sync,
        adoption,
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
    let reader = crate::pcap::PcapReader::open(path).map_err(|e| AppError(e.to_string()))?;
    let mut n = 0u64;
    for r in reader {
        r.map_err(|e| AppError(e.to_string()))?;
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

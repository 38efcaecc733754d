//! Start-up, step 1: the **plan**. A pure function of the settings and what
//! the devices report: which ports, how many queues, which lcore does what,
//! which nodes each worker serves through which TX queues, and how many
//! mbufs the pool needs. Nothing here touches DPDK, so every decision is
//! unit-tested.

#![forbid(unsafe_code)]

use crate::config::Settings;
use crate::ids::{NodeId, PortIndex};
use std::fmt;
use std::ops::Range;

/// What a port in the port mask reports once the EAL has probed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceInfo {
    /// DPDK port id.
    pub id: u16,
    /// Most receive queues it supports.
    pub max_rx_queues: u16,
    /// Most transmit queues it supports.
    pub max_tx_queues: u16,
}

/// What start-up found before planning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Devices {
    /// How many ports DPDK found (ids `0..available`).
    pub available: u16,
    /// The ports of the mask that exist, ascending by id.
    pub ports: Vec<DeviceInfo>,
    /// Mbufs that devices hold for the whole run, outside the datapath
    /// (`net_pcap` with `infinite_rx=1` keeps its whole file in mbufs).
    pub resident_mbufs: u64,
}

/// One port as it will be configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortPlan {
    /// DPDK port id.
    pub id: u16,
    /// Its position among the enabled ports.
    pub index: PortIndex,
    /// Receive queues (one: the distributor polls it).
    pub rx_queues: u16,
    /// Transmit queues (see [`TxQueues`]).
    pub tx_queues: u16,
}

/// How the workers' transmit queues are shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxQueues {
    /// Every node has its own queue on every port (queue = node id).
    PerNode,
    /// The devices have fewer queues than nodes: every worker lcore has one
    /// queue on every port (queue = worker index), shared by its nodes.
    PerWorker,
}

/// One worker lcore's share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerPlan {
    /// Its index among the workers (and in `Stats::workers`).
    pub index: usize,
    /// The EAL lcore it runs on.
    pub lcore: u32,
    /// The nodes it serves, a contiguous block.
    pub nodes: Range<u16>,
    /// The TX queue ids it owns on every port; `tx_queues[slot]`.
    pub tx_queues: Range<u16>,
}

impl WorkerPlan {
    /// Which of [`WorkerPlan::tx_queues`] node `node` (one of its own) sends
    /// through.
    pub fn tx_slot(&self, node: NodeId, mode: TxQueues) -> usize {
        match mode {
            TxQueues::PerNode => usize::from(node.get() - self.nodes.start),
            TxQueues::PerWorker => 0,
        }
    }
}

/// The mbuf pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolPlan {
    /// Mbufs.
    pub mbufs: u32,
    /// Per-lcore cache size.
    pub cache: u32,
    /// Whether `mbufs` was computed ([`pool_size`]) rather than configured.
    pub computed: bool,
}

/// The whole start-up plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The enabled ports, in mask order.
    pub ports: Vec<PortPlan>,
    /// The lcore that runs the distributor.
    pub distributor_lcore: u32,
    /// The worker lcores that serve nodes (trailing lcores without nodes are
    /// left idle).
    pub workers: Vec<WorkerPlan>,
    /// How TX queues are shared out.
    pub tx_mode: TxQueues,
    /// Number of nodes (one ring each).
    pub num_nodes: u16,
    /// Packets per rx burst, EFD lookup call, ring operation and transmit.
    pub burst: usize,
    /// Slots per node ring.
    pub ring_size: u32,
    /// The mbuf pool.
    pub pool: PoolPlan,
}

/// Why no plan fits: one line for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub String);

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlanError {}

/// Mbufs the pool keeps beyond what [`pool_size`] counts, for what PMDs
/// hold outside the descriptors (staging buffers of virtual devices).
pub const POOL_HEADROOM: u64 = 4096;

/// Plans a run of `settings` on `devices`.
pub fn plan(settings: &Settings, devices: &Devices) -> Result<Plan, PlanError> {
    // Ports from the mask: each must exist.
    let mut ports = Vec::new();
    for id in settings.port_ids() {
        if id >= devices.available {
            let n = devices.available;
            return Err(PlanError(format!(
                "portmask {:#x}: port {id} is not available (DPDK found {n} port{})",
                settings.portmask,
                if n == 1 { "" } else { "s" }
            )));
        }
        let info = devices
            .ports
            .iter()
            .find(|d| d.id == id)
            .ok_or_else(|| PlanError(format!("port {id}: no device information")))?;
        ports.push(*info);
    }

    // Nodes over the worker lcores (the configuration guarantees they fit).
    let num_nodes = settings.num_nodes;
    let used: Vec<(usize, Range<u16>)> = (0..settings.worker_lcore_count())
        .map(|w| (w, settings.worker_nodes(w)))
        .filter(|(_, nodes)| !nodes.is_empty())
        .collect();
    let served: usize = used.iter().map(|(_, n)| n.len()).sum();
    if served != usize::from(num_nodes) {
        return Err(PlanError(format!(
            "{num_nodes} nodes at {} per lcore need more than the {} worker lcore(s) of --lcores {:?}",
            settings.effective_nodes_per_lcore(),
            settings.worker_lcore_count(),
            settings.lcores
        )));
    }

    // One TX queue per node on every port, as long as every device has that
    // many; otherwise one per worker lcore, shared by the nodes it runs.
    let min_tx = ports.iter().map(|p| p.max_tx_queues).min().unwrap_or(0);
    let (tx_mode, tx_per_port) = if min_tx >= num_nodes {
        (TxQueues::PerNode, num_nodes)
    } else if usize::from(min_tx) >= used.len() {
        (TxQueues::PerWorker, used.len() as u16)
    } else {
        return Err(PlanError(format!(
            "the ports support {min_tx} TX queue(s): too few for {} worker lcores",
            used.len()
        )));
    };
    if let Some(p) = ports.iter().find(|p| p.max_rx_queues < 1) {
        return Err(PlanError(format!("port {}: no receive queue", p.id)));
    }

    let workers = used
        .into_iter()
        .map(|(index, nodes)| {
            let tx_queues = match tx_mode {
                TxQueues::PerNode => nodes.clone(),
                TxQueues::PerWorker => index as u16..index as u16 + 1,
            };
            WorkerPlan {
                index,
                lcore: settings.worker_lcores()[index],
                nodes,
                tx_queues,
            }
        })
        .collect();
    let ports: Vec<PortPlan> = ports
        .iter()
        .enumerate()
        .map(|(i, d)| PortPlan {
            id: d.id,
            index: PortIndex::new(i as u8),
            rx_queues: 1,
            tx_queues: tx_per_port,
        })
        .collect();

    let pool = if settings.mempool_mbufs > 0 {
        PoolPlan {
            mbufs: settings.mempool_mbufs,
            cache: settings.mempool_cache,
            computed: false,
        }
    } else {
        let total = pool_size(settings, &ports, devices.resident_mbufs);
        let mbufs = u32::try_from(total).map_err(|_| {
            PlanError(format!(
                "a mempool of {total} mbufs is too large (see [mempool] mbufs, rings.size and the descriptor counts)"
            ))
        })?;
        PoolPlan {
            mbufs,
            cache: settings.mempool_cache,
            computed: true,
        }
    };

    Ok(Plan {
        ports,
        distributor_lcore: settings.distributor_lcore(),
        workers,
        tx_mode,
        num_nodes,
        burst: usize::from(settings.burst),
        ring_size: settings.ring_size,
        pool,
    })
}

/// Mbufs a run can hold at once: every descriptor and ring slot, the
/// per-lcore caches, the packets in the loops' buffers at the configured
/// burst, what devices keep resident, and [`POOL_HEADROOM`].
///
/// In the loops, per burst `b`: the distributor's rx burst and drop buffer
/// (2b) and each node's pending buffer (under 2b); each node's burst in
/// hand, the burst being dequeued, and one TX buffer per port (b each).
pub fn pool_size(settings: &Settings, ports: &[PortPlan], resident: u64) -> u64 {
    let b = u64::from(settings.burst);
    let nodes = u64::from(settings.num_nodes);
    let num_ports = ports.len() as u64;
    let descs: u64 = ports
        .iter()
        .map(|p| {
            u64::from(p.rx_queues) * u64::from(settings.rx_desc)
                + u64::from(p.tx_queues) * u64::from(settings.tx_desc)
        })
        .sum();
    let rings = nodes * u64::from(settings.ring_size);
    // A cache holds up to 1.5 times its size before it flushes, plus the
    // burst that overflows it.
    let caches = settings.lcore_ids.len() as u64 * (u64::from(settings.mempool_cache) * 3 / 2 + b);
    let in_loops = 2 * b + nodes * 2 * b + nodes * (2 + num_ports) * b;
    descs + rings + caches + in_loops + resident + POOL_HEADROOM
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::from_args;

    fn settings(args: &[&str]) -> Settings {
        let mut v = vec!["efd-lb".to_string()];
        v.extend(args.iter().map(|s| s.to_string()));
        from_args(v).unwrap()
    }

    fn devices(n: u16, max_tx: u16) -> Devices {
        Devices {
            available: n,
            ports: (0..n)
                .map(|id| DeviceInfo {
                    id,
                    max_rx_queues: 16,
                    max_tx_queues: max_tx,
                })
                .collect(),
            resident_mbufs: 0,
        }
    }

    #[test]
    fn default_plan_two_ports_two_nodes_one_worker() {
        let s = settings(&[]);
        let p = plan(&s, &devices(2, 64)).unwrap();
        assert_eq!(p.ports.len(), 2);
        assert_eq!((p.ports[1].id, p.ports[1].index.index()), (1, 1));
        assert_eq!((p.ports[0].rx_queues, p.ports[0].tx_queues), (1, 2));
        assert_eq!(p.distributor_lcore, 1);
        assert_eq!(p.tx_mode, TxQueues::PerNode);
        assert_eq!(
            p.workers,
            vec![WorkerPlan {
                index: 0,
                lcore: 2,
                nodes: 0..2,
                tx_queues: 0..2
            }]
        );
        assert_eq!(p.workers[0].tx_slot(NodeId::new(1), p.tx_mode), 1);
        assert_eq!((p.burst, p.ring_size), (32, 512));
        assert!(p.pool.computed);
    }

    #[test]
    fn nodes_are_placed_in_blocks_and_idle_lcores_get_none() {
        let s = settings(&["--lcores", "0-5", "-n", "5", "--nodes-per-lcore", "2"]);
        let p = plan(&s, &devices(2, 64)).unwrap();
        let placed: Vec<_> = p
            .workers
            .iter()
            .map(|w| (w.index, w.lcore, w.nodes.clone()))
            .collect();
        assert_eq!(placed, vec![(0, 2, 0..2), (1, 3, 2..4), (2, 4, 4..5)]);
        assert_eq!(p.workers[2].tx_queues, 4..5);
    }

    #[test]
    fn few_tx_queues_are_shared_per_worker() {
        let s = settings(&["--lcores", "0-4", "-n", "8"]);
        let p = plan(&s, &devices(2, 4)).unwrap();
        assert_eq!(p.tx_mode, TxQueues::PerWorker);
        assert_eq!(p.ports[0].tx_queues, 3);
        let queues: Vec<_> = p.workers.iter().map(|w| w.tx_queues.clone()).collect();
        assert_eq!(queues, vec![0..1, 1..2, 2..3]);
        assert_eq!(p.workers[2].tx_slot(NodeId::new(7), p.tx_mode), 0);
        let e = plan(&s, &devices(2, 2)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the ports support 2 TX queue(s): too few for 3 worker lcores"
        );
    }

    #[test]
    fn missing_port_is_named() {
        let s = settings(&["-p", "0x5"]);
        assert_eq!(
            plan(&s, &devices(2, 8)).unwrap_err().to_string(),
            "portmask 0x5: port 2 is not available (DPDK found 2 ports)"
        );
        assert_eq!(
            plan(&settings(&["-p", "2"]), &devices(1, 8))
                .unwrap_err()
                .to_string(),
            "portmask 0x2: port 1 is not available (DPDK found 1 port)"
        );
    }

    #[test]
    fn pool_grows_with_the_burst_and_resident_mbufs() {
        let s32 = settings(&[]);
        let p32 = plan(&s32, &devices(2, 8)).unwrap();
        let mut s256 = s32.clone();
        s256.burst = 256;
        let p256 = plan(&s256, &devices(2, 8)).unwrap();
        // 2 ports, 2 nodes, 3 lcores: (2 + 4 + 8) bursts in the loops and 3
        // in the caches.
        assert_eq!(
            u64::from(p256.pool.mbufs - p32.pool.mbufs),
            (2 + 4 + 8 + 3) * (256 - 32)
        );
        let mut d = devices(2, 8);
        d.resident_mbufs = 1000;
        assert_eq!(plan(&s32, &d).unwrap().pool.mbufs, p32.pool.mbufs + 1000);
    }

    #[test]
    fn configured_pool_is_taken_as_is() {
        let mut s = settings(&[]);
        s.mempool_mbufs = 9999;
        let p = plan(&s, &devices(2, 8)).unwrap();
        assert_eq!(
            p.pool,
            PoolPlan {
                mbufs: 9999,
                cache: 256,
                computed: false
            }
        );
    }

    #[test]
    fn pool_size_counts_every_holder() {
        let s = settings(&[]);
        let p = plan(&s, &devices(2, 8)).unwrap();
        // descriptors 2 x (1024 + 2 x 1024), rings 2 x 512, caches
        // 3 x (384 + 32), loops 32 x (2 + 4 + 2 x 4), headroom.
        let expect = 2 * 3072 + 1024 + 3 * 416 + 32 * 14 + POOL_HEADROOM;
        assert_eq!(u64::from(p.pool.mbufs), expect);
    }
}

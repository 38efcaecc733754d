//! The distributor lcore: receive bursts from every enabled port, take each
//! packet's flow key (IPv4 destination), look the keys up in the EFD table in
//! bulk, and enqueue packets on their node's ring. The key travels with the
//! packet in the mbuf header (`Mbuf::set_tag`), so workers need not touch the
//! packet data.

use super::{StopFlags, MAX_BURST};
use crate::packet::{ipv4_dst, DropReason};
use crate::stats::Stats;
use dpdk::eal::rdtsc;
use dpdk::mbuf::Burst;
use dpdk::port::RxQueue;
use dpdk::ring::Producer;
use std::sync::Arc;

/// Bulk lookup of 4-byte flow keys to node ids: what the distributor needs
/// from the EFD table (readers on other lcores, lock-free).
pub trait FlowLookup: Send + 'static {
    /// Writes the value of `keys[i]` to `out[i]` for every key.
    fn lookup_bulk(&self, keys: &[[u8; 4]], out: &mut [u8]);
}

impl FlowLookup for crate::efd::EfdReader<4> {
    #[inline]
    fn lookup_bulk(&self, keys: &[[u8; 4]], out: &mut [u8]) {
        crate::efd::EfdReader::lookup_bulk(self, keys, out)
    }
}

/// One receive queue and the index of its port among the enabled ports.
pub struct RxPort {
    /// Index into the enabled ports (and into `Stats::ports`).
    pub index: usize,
    /// The queue this lcore polls.
    pub queue: RxQueue,
}

/// Everything the distributor lcore owns.
pub struct Distributor<T: FlowLookup> {
    /// Ports to receive from.
    pub rx: Vec<RxPort>,
    /// One ring producer per node, indexed by node id.
    pub rings: Vec<Producer>,
    /// The EFD reader.
    pub table: T,
    /// Shared counters.
    pub stats: Arc<Stats>,
    /// Shutdown signal.
    pub stop: Arc<StopFlags>,
    /// Largest rx burst (1..=MAX_BURST).
    pub burst: usize,
}

/// Capacity of a node's pending buffer: a full burst can always be added to
/// one that is not yet due (fewer than `MAX_BURST` packets).
const NODE_BUF: usize = 2 * MAX_BURST;
/// A node buffer that has not reached a full burst is enqueued anyway once
/// its oldest packet has waited this many rx bursts, times the number of
/// nodes (at 1/n of the traffic a node fills a burst in about n rx bursts),
/// or at once when a round receives nothing: under load a packet waits at
/// most `2 * nodes` rx bursts (at least 4).
const COALESCE_BURSTS_PER_NODE: u32 = 2;
/// The wait limit for a single node.
const COALESCE_BURSTS_MIN: u32 = 4;
/// `born` of an empty node buffer.
const EMPTY: u32 = u32::MAX;

impl<T: FlowLookup> Distributor<T> {
    /// Runs until told to stop. Every mbuf it receives ends up on a ring or
    /// freed and counted.
    ///
    /// Packets are enqueued per node in bursts of exactly `MAX_BURST`: with
    /// several nodes one rx burst gives each only a few packets, and every
    /// ring operation costs a cache-line exchange with the worker's core, so
    /// a node's packets are collected until it has a full burst (or for a
    /// bounded number of rx bursts, see `COALESCE_BURSTS_PER_NODE`). A
    /// full burst leaves the rest of the buffer for the next one: the worker
    /// dequeues at most `MAX_BURST` at a time, and 38 enqueued packets
    /// reached it as bursts of 32 and 6.
    pub fn run(mut self) {
        let num_nodes = self.rings.len();
        let mut node_bufs: Vec<Burst<NODE_BUF>> = (0..num_nodes).map(|_| Burst::new()).collect();
        let mut burst: Burst<MAX_BURST> = Burst::new();
        let mut dropped: Burst<MAX_BURST> = Burst::new();
        let mut keys = [[0u8; 4]; MAX_BURST];
        let mut values = [0u8; MAX_BURST];
        let mut slot = [0u8; MAX_BURST]; // u8::MAX marks a packet with a bad header
        let mut reasons = [0u64; DropReason::COUNT];
        let stats = &*self.stats;
        let burst_max = self.burst.clamp(1, MAX_BURST);
        let max_wait = (COALESCE_BURSTS_PER_NODE * num_nodes as u32).max(COALESCE_BURSTS_MIN);
        // Per node: the rx burst count when its buffer's oldest packet came.
        let mut born = vec![EMPTY; num_nodes];
        let mut rx_bursts = 0u32;
        let mut pending = false;
        // This lcore's cache of each queue's pool: the mbufs the next rx
        // bursts will be given (freed by the workers' cores).
        let alloc_caches: Vec<_> = self.rx.iter().map(|rx| rx.queue.alloc_cache()).collect();

        while !self.stop.rx_stopped() {
            let mut round_got = false;
            for (rx, cache) in self.rx.iter_mut().zip(&alloc_caches) {
                let n = rx.queue.rx_burst_max(&mut burst, burst_max);
                if n == 0 {
                    stats.distributor.idle_polls.add(1);
                    continue;
                }
                // Busy cycles: from a non-empty rx burst to its last enqueue.
                let t0 = rdtsc();
                // The device's next refill writes the headers of as many
                // mbufs again: fetch them while this burst is processed.
                if let Some(c) = cache {
                    c.prefetch_next(n);
                }
                round_got = true;
                pending = true;
                rx_bursts = rx_bursts.wrapping_add(1);
                stats.ports[rx.index].rx.add(n as u64);

                // Pass 1: flow keys, with every malformed frame set aside.
                let mut k = 0;
                for (i, m) in burst.as_mut_slice().iter_mut().enumerate() {
                    match ipv4_dst(m.data()) {
                        Ok(dst) => {
                            // The worker reads the key from the mbuf header
                            // instead of the packet data (one cache miss less
                            // on its core).
                            m.set_tag(dst);
                            keys[k] = dst.to_be_bytes();
                            slot[i] = 0;
                            k += 1;
                        }
                        Err(reason) => {
                            slot[i] = u8::MAX;
                            reasons[reason as usize] += 1;
                        }
                    }
                }
                self.table.lookup_bulk(&keys[..k], &mut values[..k]);

                // Pass 2: hand each packet to its node's buffer.
                let mut j = 0;
                let mut unknown_node = 0u64;
                for (i, m) in burst.drain().enumerate() {
                    let target = if slot[i] == u8::MAX {
                        None
                    } else {
                        let node = values[j] as usize;
                        j += 1;
                        if node < num_nodes {
                            Some(node)
                        } else {
                            unknown_node += 1;
                            None
                        }
                    };
                    let rejected = match target {
                        Some(node) => node_bufs[node].push(m).err(),
                        None => Some(m),
                    };
                    if let Some(m) = rejected {
                        // Only malformed/unknown packets land here (a node
                        // buffer always has room for a whole burst); free
                        // them in bulk.
                        if let Err(m) = dropped.push(m) {
                            drop(m);
                        }
                    }
                }
                dropped.free_all();
                stats.distributor.distributed.add(k as u64 - unknown_node);
                if unknown_node > 0 {
                    stats.distributor.drop_unknown_node.add(unknown_node);
                }
                for (r, c) in reasons.iter_mut().enumerate() {
                    if *c > 0 {
                        stats.distributor.drop[r].add(*c);
                        *c = 0;
                    }
                }

                // Enqueue a full burst of the nodes that have one (what is
                // left came in this rx burst), and all of those that waited
                // too long.
                for (node, buf) in node_bufs.iter_mut().enumerate() {
                    if buf.len() >= MAX_BURST {
                        enqueue_or_drop(&mut self.rings[node], buf, MAX_BURST, stats, node);
                        born[node] = if buf.is_empty() { EMPTY } else { rx_bursts };
                    } else if !buf.is_empty() {
                        if born[node] == EMPTY {
                            born[node] = rx_bursts;
                        } else if rx_bursts.wrapping_sub(born[node]) >= max_wait {
                            let n = buf.len();
                            enqueue_or_drop(&mut self.rings[node], buf, n, stats, node);
                            born[node] = EMPTY;
                        }
                    }
                }
                stats.distributor.packets.add(n as u64);
                stats.distributor.busy_cycles.add(rdtsc() - t0);
            }
            if pending && !round_got {
                let t0 = rdtsc();
                flush_all(&mut self.rings, &mut node_bufs, stats);
                born.fill(EMPTY);
                pending = false;
                stats.distributor.busy_cycles.add(rdtsc() - t0);
            }
        }
        // What is still collected goes to the workers, which drain after us.
        flush_all(&mut self.rings, &mut node_bufs, stats);
    }
}

/// Enqueues every node's collected packets.
fn flush_all(rings: &mut [Producer], bufs: &mut [Burst<NODE_BUF>], stats: &Stats) {
    for (node, (ring, buf)) in rings.iter_mut().zip(bufs.iter_mut()).enumerate() {
        if !buf.is_empty() {
            let n = buf.len();
            enqueue_or_drop(ring, buf, n, stats, node);
        }
    }
}

/// Enqueues the first `n` packets of `buf` (`n <= buf.len()`) or none: a full ring
/// is a counted drop for that node (`rx_drop`), and those packets are freed.
/// The rest stay in `buf`.
#[inline]
fn enqueue_or_drop(
    ring: &mut Producer,
    buf: &mut Burst<NODE_BUF>,
    n: usize,
    stats: &Stats,
    node: usize,
) {
    debug_assert!(n <= buf.len());
    let counters = &stats.nodes[node];
    if ring.enqueue_front(buf, n) {
        counters.rx.add(n as u64);
    } else {
        buf.free_front(n);
        counters.rx_drop.add(n as u64);
    }
}

//! Worker lcores: each serves one or more nodes. A node dequeues bursts from
//! its ring, keeps the packets of flows it owns (its own hash table of
//! flows: EFD answers *some* node for unknown keys, so this is where unknown
//! flows are dropped), and transmits them on the port paired with the one
//! they arrived on, through its own TX queue. The flow key comes from the
//! mbuf header, where the distributor left it; the packet data is not read.

use super::flow_table::FlowTable;
use super::{paired_port, StopFlags, MAX_BURST};
use crate::stats::Stats;
use dpdk::eal::rdtsc;
use dpdk::mbuf::Burst;
use dpdk::port::TxQueue;
use dpdk::ring::Consumer;
use std::sync::Arc;

/// One node's state, owned by the lcore that runs it.
pub struct Node {
    /// Node id (index into `Stats::nodes`).
    pub id: usize,
    /// The ring the distributor fills.
    pub ring: Consumer,
    /// IPv4 destinations (host order) of the flows this node owns.
    pub flows: FlowTable,
    /// Which of its worker's TX queue sets it sends through (its own when the
    /// devices have a queue per node, else one shared by the lcore's nodes).
    pub tx_slot: usize,
    /// Maps a DPDK port id (the mbuf's input port) to its port index.
    pub port_index: Arc<[u8]>,
}

/// A worker lcore and the nodes it serves.
pub struct Worker {
    /// Index into `Stats::workers`.
    pub index: usize,
    /// The nodes, served round-robin.
    pub nodes: Vec<Node>,
    /// TX queue sets: `tx[slot][port index]`, used only by this lcore.
    pub tx: Vec<Vec<TxQueue>>,
    /// Shared counters.
    pub stats: Arc<Stats>,
    /// Shutdown signal.
    pub stop: Arc<StopFlags>,
}

impl Worker {
    /// Runs until told to stop, then drains its rings so every packet the
    /// distributor enqueued is filtered, sent or dropped, and counted.
    pub fn run(mut self) {
        let stats = &*self.stats;
        let mut tx_bufs: Vec<Vec<Burst<MAX_BURST>>> = self
            .nodes
            .iter()
            .map(|n| {
                (0..self.tx[n.tx_slot].len())
                    .map(|_| Burst::new())
                    .collect()
            })
            .collect();
        let mut rx: Burst<MAX_BURST> = Burst::new();
        let mut dropped: Burst<MAX_BURST> = Burst::new();
        let counters = &stats.workers[self.index];
        let mut keys = [0u32; MAX_BURST];
        let mut owned = [false; MAX_BURST];
        loop {
            // Read the flag before polling: once set, a round that finds every
            // ring empty is the last one (the distributor has already stopped).
            let stopping = self.stop.workers_stopped();
            let mut got_any = false;
            for (node, bufs) in self.nodes.iter_mut().zip(tx_bufs.iter_mut()) {
                let n = node.ring.dequeue_burst(&mut rx);
                if n == 0 {
                    continue;
                }
                // Busy cycles: from a non-empty dequeue to the end of its tx.
                let t0 = rdtsc();
                got_any = true;
                let nc = &stats.nodes[node.id];
                let txq = &mut self.tx[node.tx_slot];
                let num_ports = txq.len();
                let mut passed = 0u64;
                // Pass 1: the flow keys the distributor left in the mbuf
                // headers (prefetched all at once so the misses overlap), then
                // every lookup of the burst.
                // Both header lines: freeing an mbuf reads `next` in the
                // second one, which the distributor's core wrote last.
                for m in rx.as_slice() {
                    m.prefetch_header_lines();
                }
                for (i, m) in rx.as_slice().iter().enumerate() {
                    keys[i] = m.tag();
                }
                node.flows.contains_burst(&keys[..n], &mut owned);
                // Pass 2: buffer owned packets for their paired port, free the rest.
                for (i, m) in rx.drain().enumerate() {
                    if owned[i] {
                        passed += 1;
                        let in_port =
                            node.port_index.get(m.port() as usize).copied().unwrap_or(0) as usize;
                        let out = paired_port(in_port, num_ports);
                        let buf = &mut bufs[out];
                        if let Err(m) = buf.push(m) {
                            drop(m); // unreachable: flushed below before full
                        }
                        if buf.is_full() {
                            flush(&mut txq[out], buf, nc, out);
                        }
                    } else if let Err(m) = dropped.push(m) {
                        drop(m);
                    }
                }
                let filtered = dropped.free_all() as u64;
                nc.filter_passed.add(passed);
                nc.filter_drop.add(filtered);
                for (out, buf) in bufs.iter_mut().enumerate() {
                    flush(&mut txq[out], buf, nc, out);
                }
                counters.packets.add(n as u64);
                counters.busy_cycles.add(rdtsc() - t0);
            }
            if stopping && !got_any {
                break;
            }
        }
    }
}

/// Sends a node's buffered packets on one port; what the device does not take
/// is freed and counted as `tx_drop`.
#[inline]
fn flush(
    queue: &mut TxQueue,
    buf: &mut Burst<MAX_BURST>,
    nc: &crate::stats::NodeCounters,
    port: usize,
) {
    if buf.is_empty() {
        return;
    }
    let sent = queue.tx_burst(buf) as u64;
    nc.tx[port].add(sent);
    let unsent = buf.free_all() as u64;
    if unsent > 0 {
        nc.tx_drop[port].add(unsent);
    }
}

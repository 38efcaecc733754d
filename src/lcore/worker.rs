//! Worker lcores: each serves one or more nodes. A node dequeues bursts from
//! its ring, keeps the packets of flows it owns (its own hash table of
//! flows: EFD answers *some* node for unknown keys, so this is where unknown
//! flows are dropped), and transmits them on the port paired with the one
//! they arrived on, through its own TX queue. The flow key comes from the
//! mbuf header, where the distributor left it; the packet data is not read.

use super::flow_table::FlowTable;
use super::{paired_port, StopFlags, MAX_BURST};
use crate::stats::{NodeCounters, Stats};
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
    ///
    /// Each node keeps one burst in hand: a round dequeues the next burst and
    /// prefetches the first line of its mbuf headers (written last by the
    /// distributor's core), then processes the burst dequeued the round
    /// before, whose first lines have arrived meanwhile.
    pub fn run(mut self) {
        let stats = &*self.stats;
        let mut lanes: Vec<Lane> = self
            .nodes
            .iter()
            .map(|n| Lane {
                in_hand: Burst::new(),
                tx_bufs: (0..self.tx[n.tx_slot].len())
                    .map(|_| Burst::new())
                    .collect(),
            })
            .collect();
        let mut fresh: Burst<MAX_BURST> = Burst::new();
        let mut scratch = Scratch::default();
        let counters = &stats.workers[self.index];
        loop {
            // Read the flag before polling: once set, a round that finds every
            // ring empty and no burst in hand is the last one (the
            // distributor has already stopped).
            let stopping = self.stop.workers_stopped();
            let mut got_any = false;
            for (node, lane) in self.nodes.iter_mut().zip(lanes.iter_mut()) {
                let n = node.ring.dequeue_burst(&mut fresh);
                node.ring.prefetch_next(MAX_BURST as u32);
                if n == 0 && lane.in_hand.is_empty() {
                    continue;
                }
                // Busy cycles: from a non-empty poll to the end of its tx.
                let t0 = rdtsc();
                got_any = true;
                for m in fresh.as_slice() {
                    m.prefetch_header();
                }
                let done = lane.in_hand.len() as u64;
                if done > 0 {
                    counters.bursts.add(1);
                    filter_and_send(
                        node,
                        &mut lane.in_hand,
                        &mut lane.tx_bufs,
                        &mut self.tx[node.tx_slot],
                        &stats.nodes[node.id],
                        &mut scratch,
                    );
                }
                std::mem::swap(&mut lane.in_hand, &mut fresh);
                counters.packets.add(done);
                counters.busy_cycles.add(rdtsc() - t0);
            }
            if stopping && !got_any {
                break;
            }
        }
    }
}

/// A node's bursts on its worker: the one in hand and its TX buffers.
struct Lane {
    in_hand: Burst<MAX_BURST>,
    /// One buffer per port index.
    tx_bufs: Vec<Burst<MAX_BURST>>,
}

/// Per-burst working arrays, reused.
struct Scratch {
    keys: [u32; MAX_BURST],
    owned: [bool; MAX_BURST],
    dropped: Burst<MAX_BURST>,
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch {
            keys: [0; MAX_BURST],
            owned: [false; MAX_BURST],
            dropped: Burst::new(),
        }
    }
}

/// Filters one burst of a node: packets of flows it owns are buffered for
/// the port paired with their input port and sent, the rest freed; all
/// counted. Leaves `rx` empty.
fn filter_and_send(
    node: &Node,
    rx: &mut Burst<MAX_BURST>,
    bufs: &mut [Burst<MAX_BURST>],
    txq: &mut [TxQueue],
    nc: &NodeCounters,
    scratch: &mut Scratch,
) {
    let n = rx.len();
    let num_ports = txq.len();
    // Pass 1: the flow keys the distributor left in the mbuf headers, then
    // every lookup of the burst at once (the table prefetches them all).
    // The second header line (`next`, read when the mbuf is freed) is loaded
    // here too, where the loads overlap. Prefetched at dequeue instead, it
    // was often still missing when the PMD's free loop took the misses one
    // after the other: four nodes on one lcore spent 240 cycles/packet in
    // the host's slow phases, 140-186 with this load (BENCHMARKS.md).
    for (key, m) in scratch.keys.iter_mut().zip(rx.as_slice()) {
        *key = m.tag();
        m.touch_free_line();
    }
    node.flows
        .contains_burst(&scratch.keys[..n], &mut scratch.owned);
    // Pass 2: buffer owned packets for their paired port, free the rest.
    let mut passed = 0u64;
    for (m, &owned) in rx.drain().zip(scratch.owned.iter()) {
        if owned {
            passed += 1;
            let in_port = node.port_index.get(m.port() as usize).copied().unwrap_or(0) as usize;
            let out = paired_port(in_port, num_ports);
            let buf = &mut bufs[out];
            if let Err(m) = buf.push(m) {
                drop(m); // unreachable: flushed below before full
            }
            if buf.is_full() {
                flush(&mut txq[out], buf, nc, out);
            }
        } else if let Err(m) = scratch.dropped.push(m) {
            drop(m);
        }
    }
    let filtered = scratch.dropped.free_all() as u64;
    nc.filter_passed.add(passed);
    nc.filter_drop.add(filtered);
    for (out, buf) in bufs.iter_mut().enumerate() {
        flush(&mut txq[out], buf, nc, out);
    }
}

/// Sends a node's buffered packets on one port; what the device does not take
/// is freed and counted as `tx_drop`.
#[inline]
fn flush(queue: &mut TxQueue, buf: &mut Burst<MAX_BURST>, nc: &NodeCounters, port: usize) {
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

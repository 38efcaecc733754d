//! Worker lcores: each serves one or more nodes. A node dequeues bursts from
//! its ring, keeps the packets of flows it owns (its own hash table of
//! flows: EFD answers *some* node for unknown keys, so this is where unknown
//! flows are dropped), and transmits them on the port paired with the one
//! they arrived on, through its own TX queue. The flow key comes from the
//! mbuf header, where the distributor left it ([`FlowKey::from_tag`]); the
//! packet data is read only for keys wider than the tag.
//!
//! The loop is [`WorkerLoop::poll`], one round over the worker's nodes;
//! [`Worker::run`] polls until told to stop, then drains the rings.

use super::flow_table::FlowTable;
use super::io::{Io, Packet, PacketBurst, RingConsumer, TxQueue};
use super::{StopFlags, MAX_BURST};
use crate::control::sync::{Activity, Adopter, NodeChanges};
use crate::faults::FaultWindow;
use crate::ids::{NodeId, PortIndex};
use crate::key::FlowKey;
use crate::stats::{KeySample, NodeCounters, Stats};
use dpdk::eal::rdtsc;
use std::sync::Arc;

/// One node's state, owned by the lcore that runs it.
pub struct Node<I: Io, K: FlowKey> {
    /// Which node (index into `Stats::nodes`).
    pub id: NodeId,
    /// The ring the distributor fills.
    pub ring: I::RingConsumer,
    /// The flows this node owns.
    pub flows: FlowTable<K>,
    /// Changes to `flows` from the control thread, applied between bursts.
    pub changes: NodeChanges<K>,
    /// With the unknown-flow policy `assign`: packets of flows not in
    /// `flows` are forwarded and the flow's adoption asked for (`None`:
    /// they are dropped, the C sample's behaviour).
    pub adopt: Option<Adopter<K>>,
    /// With `control.idle_timeout_s`: every forwarded packet marks its flow
    /// as active.
    pub activity: Option<Arc<Activity>>,
    /// Which of its worker's TX queue sets it sends through (its own when the
    /// devices have a queue per node, else one shared by the lcore's nodes).
    pub tx_slot: usize,
    /// Maps a DPDK port id (the packet's input port) to its port index.
    pub port_index: Arc<[u8]>,
    /// Test-only fault (`[faults] stall_node`): during this window the
    /// worker leaves the node's ring (and the burst in hand) alone; a drain
    /// waits for the window's end.
    pub stall: Option<FaultWindow>,
}

/// A worker lcore and the nodes it serves.
pub struct Worker<I: Io, K: FlowKey> {
    /// Index into `Stats::workers`.
    pub index: usize,
    /// The nodes, served round-robin.
    pub nodes: Vec<Node<I, K>>,
    /// TX queue sets: `tx[slot][port index]`, used only by this lcore.
    pub tx: Vec<Vec<I::Tx>>,
    /// Shared counters.
    pub stats: Arc<Stats>,
    /// Shutdown signal.
    pub stop: Arc<StopFlags>,
    /// Packets per ring dequeue and per transmit, `1..=MAX_BURST`.
    pub burst: usize,
}

impl<I: Io, K: FlowKey> Worker<I, K> {
    /// Runs until told to stop, then drains its rings so every packet the
    /// distributor enqueued is filtered, sent or dropped, and counted.
    pub fn run(self) {
        let stop = self.stop.clone();
        let mut lp = self.start();
        loop {
            // Read the flag before polling: once set, a round that finds every
            // ring empty and no burst in hand is the last one (the
            // distributor has already stopped).
            let stopping = stop.workers_stopped();
            if !lp.poll() && stopping {
                break;
            }
        }
    }

    /// The loop's state.
    ///
    /// # Panics
    /// If the burst is outside `1..=MAX_BURST`.
    pub fn start(self) -> WorkerLoop<I, K> {
        assert!(
            (1..=MAX_BURST).contains(&self.burst),
            "burst {} outside 1..={MAX_BURST}",
            self.burst
        );
        let lanes = self
            .nodes
            .iter()
            .map(|n| Lane {
                in_hand: Box::new(PacketBurst::empty()),
                tx_bufs: (0..self.tx[n.tx_slot].len())
                    .map(|_| PacketBurst::empty())
                    .collect(),
            })
            .collect();
        WorkerLoop {
            lanes,
            fresh: Box::new(PacketBurst::empty()),
            scratch: Scratch {
                keys: [K::seed(0); MAX_BURST],
                owned: [false; MAX_BURST],
                keyless: [false; MAX_BURST],
                dropped: PacketBurst::empty(),
            },
            w: self,
        }
    }
}

/// A running worker.
///
/// Each node keeps one burst in hand: a round dequeues the next burst and
/// prefetches the first line of its mbuf headers (written last by the
/// distributor's core), then processes the burst dequeued the round before,
/// whose first lines have arrived meanwhile.
pub struct WorkerLoop<I: Io, K: FlowKey> {
    w: Worker<I, K>,
    lanes: Vec<Lane<I>>,
    /// Boxed, as `Lane::in_hand`: swapping them swaps two pointers, not two
    /// arrays of `MAX_BURST` packets.
    fresh: Box<I::Burst<MAX_BURST>>,
    scratch: Scratch<I, K>,
}

impl<I: Io, K: FlowKey> WorkerLoop<I, K> {
    /// One round over the nodes; returns whether any node had packets
    /// (dequeued or in hand) or is stalled (a test-only fault: its packets
    /// are still to come).
    #[inline]
    pub fn poll(&mut self) -> bool {
        let stats = &*self.w.stats;
        let counters = &stats.workers[self.w.index];
        let burst = self.w.burst;
        let mut got_any = false;
        for (node, lane) in self.w.nodes.iter_mut().zip(self.lanes.iter_mut()) {
            node.changes.apply(&mut node.flows);
            if let Some(w) = &node.stall {
                if w.active() {
                    got_any = true;
                    continue;
                }
            }
            let n = node.ring.dequeue_burst(&mut self.fresh, burst);
            node.ring.prefetch_next(burst as u32);
            if n == 0 && lane.in_hand.is_empty() {
                continue;
            }
            // Busy cycles: from a non-empty poll to the end of its tx.
            let t0 = rdtsc();
            got_any = true;
            for m in self.fresh.as_slice() {
                m.prefetch_header();
            }
            let done = lane.in_hand.len() as u64;
            if done > 0 {
                counters.bursts.add(1);
                filter_and_send::<I, K>(
                    node,
                    &mut lane.in_hand,
                    &mut lane.tx_bufs,
                    &mut self.w.tx[node.tx_slot],
                    &stats.nodes[node.id.index()],
                    &mut self.scratch,
                    burst,
                );
            }
            std::mem::swap(&mut lane.in_hand, &mut self.fresh);
            if !K::TAG_HOLDS_KEY {
                // The next pass parses these frames again (their keys do not
                // fit the tag): their headers have arrived during this pass,
                // so their first data lines can start loading now.
                for m in lane.in_hand.as_slice() {
                    m.prefetch_data();
                }
            }
            counters.packets.add(done);
            counters.busy_cycles.add(rdtsc() - t0);
        }
        got_any
    }
}

/// A node's bursts on its worker: the one in hand and its TX buffers.
struct Lane<I: Io> {
    in_hand: Box<I::Burst<MAX_BURST>>,
    /// One buffer per port index.
    tx_bufs: Vec<I::Burst<MAX_BURST>>,
}

/// Per-burst working arrays, reused.
struct Scratch<I: Io, K: FlowKey> {
    keys: [K; MAX_BURST],
    owned: [bool; MAX_BURST],
    /// Packets whose frame no longer yields a key (only for keys wider than
    /// the tag); all false between bursts.
    keyless: [bool; MAX_BURST],
    dropped: I::Burst<MAX_BURST>,
}

/// Filters one burst of a node: packets of flows it owns are buffered for
/// the port paired with their input port and sent (a buffer that reaches
/// `burst` packets at once), the rest freed; all counted. Leaves `rx` empty.
fn filter_and_send<I: Io, K: FlowKey>(
    node: &mut Node<I, K>,
    rx: &mut I::Burst<MAX_BURST>,
    bufs: &mut [I::Burst<MAX_BURST>],
    txq: &mut [I::Tx],
    nc: &NodeCounters,
    scratch: &mut Scratch<I, K>,
    burst: usize,
) {
    let n = rx.len();
    let num_ports = txq.len();
    // Pass 1: the flow keys from the tags the distributor left in the mbuf
    // headers, then every lookup of the burst at once (the table prefetches
    // them all). The second header line (`next`, read when the mbuf is
    // freed) is loaded here too, where the loads overlap. Prefetched at
    // dequeue instead, it was often still missing when the PMD's free loop
    // took the misses one after the other (see DESIGN.md beside this file).
    let mut unparsed = false;
    for (i, (key, m)) in scratch.keys.iter_mut().zip(rx.as_slice()).enumerate() {
        let tagged = if K::TAG_HOLDS_KEY {
            K::from_tag(m.tag())
        } else {
            None
        };
        // In place: a key copied in was read back by wider loads than the
        // parse's stores (see `FlowKey::parse_frame_bytes`).
        let parsed = match tagged {
            Some(k) => {
                *key = k;
                Ok(())
            }
            None => K::parse_frame_into(m.data(), key),
        };
        if parsed.is_err() {
            // Only for keys wider than the tag, and only if the frame
            // changed since the distributor parsed it.
            scratch.keyless[i] = true;
            unparsed = true;
        }
        m.touch_free_line();
    }
    node.flows
        .contains_burst(&scratch.keys[..n], &mut scratch.owned[..n]);
    if let Some(adopt) = node.adopt.as_mut() {
        adopt_unknown(
            adopt,
            node.id,
            &scratch.keys[..n],
            &mut scratch.owned[..n],
            &scratch.keyless[..n],
            nc,
        );
    }
    if let Some(activity) = &node.activity {
        mark_active(
            activity,
            &scratch.keys[..n],
            &scratch.owned[..n],
            &scratch.keyless[..n],
        );
    }
    if unparsed {
        // Never forward what has no key.
        for (o, &k) in scratch.owned[..n].iter_mut().zip(&scratch.keyless[..n]) {
            *o &= !k;
        }
    }
    // Pass 2: buffer owned packets for their paired port, free the rest.
    let mut passed = 0u64;
    for (m, &owned) in rx.drain().zip(scratch.owned.iter()) {
        if owned {
            passed += 1;
            let in_port = node.port_index.get(m.port() as usize).copied().unwrap_or(0);
            let out = PortIndex::new(in_port).paired(num_ports).index();
            let buf = &mut bufs[out];
            if let Err(m) = buf.push(m) {
                drop(m); // unreachable: flushed below before full
            }
            if buf.len() >= burst {
                flush::<I>(&mut txq[out], buf, nc, out);
            }
        } else if let Err(m) = scratch.dropped.push(m) {
            drop(m);
        }
    }
    let filtered = scratch.dropped.free_all() as u64;
    nc.filter_passed.add(passed);
    nc.filter_drop.add(filtered);
    if filtered > 0 && nc.filter_drop_sample.wanted() {
        sample_dropped(
            &nc.filter_drop_sample,
            &scratch.keys[..n],
            &scratch.owned[..n],
            &scratch.keyless[..n],
        );
    }
    if unparsed {
        scratch.keyless[..n].fill(false);
    }
    for (out, buf) in bufs.iter_mut().enumerate() {
        flush::<I>(&mut txq[out], buf, nc, out);
    }
}

/// The policy `assign`: a packet of a flow the node does not own (with a
/// key) is forwarded and the flow's adoption asked for, or, when the table
/// is full, left to be dropped and counted as `table_full`.
#[cold]
fn adopt_unknown<K: FlowKey>(
    adopt: &mut Adopter<K>,
    node: NodeId,
    keys: &[K],
    owned: &mut [bool],
    keyless: &[bool],
    nc: &NodeCounters,
) {
    let full = adopt.table_full();
    let (mut forwarded, mut refused) = (0u64, 0u64);
    for ((key, o), &k) in keys.iter().zip(owned.iter_mut()).zip(keyless) {
        if *o || k {
            continue;
        }
        if full {
            refused += 1;
        } else {
            *o = true;
            forwarded += 1;
            adopt.ask(*key, node);
        }
    }
    nc.unknown_forwarded.add(forwarded);
    nc.table_full.add(refused);
}

/// Hands the stats the key of the burst's first packet the filter drops
/// (one with a key), if there is one.
#[cold]
fn sample_dropped<K: FlowKey>(sample: &KeySample, keys: &[K], owned: &[bool], keyless: &[bool]) {
    if let Some(((k, _), _)) = keys
        .iter()
        .zip(owned)
        .zip(keyless)
        .find(|((_, &o), &kl)| !o && !kl)
    {
        sample.offer(k.to_bytes().as_ref());
    }
}

/// Marks the flows of the packets about to be forwarded as active.
#[cold]
fn mark_active<K: FlowKey>(activity: &Activity, keys: &[K], owned: &[bool], keyless: &[bool]) {
    for ((k, &o), &kl) in keys.iter().zip(owned).zip(keyless) {
        if o && !kl {
            activity.mark(k.tag());
        }
    }
}

/// Sends a node's buffered packets on one port; what the device does not take
/// is freed and counted as `tx_drop`.
#[inline]
fn flush<I: Io>(queue: &mut I::Tx, buf: &mut I::Burst<MAX_BURST>, nc: &NodeCounters, port: usize) {
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

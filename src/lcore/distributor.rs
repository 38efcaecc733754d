//! The distributor lcore: receive bursts from every enabled port, take each
//! packet's flow key, look the keys up in the EFD table in bulk, and enqueue
//! packets on their node's ring. What the worker needs of the key travels
//! with the packet in the mbuf header ([`FlowKey::tag`]), so workers need
//! not touch the packet data.
//!
//! The loop is [`DistributorLoop::poll`], one round over the rx queues;
//! [`Distributor::run`] polls until told to stop. Tests drive `poll` on the
//! in-memory queues of [`super::loopback`].

use super::io::{Io, Packet, PacketBurst, RefillHint, RingProducer, RxQueue};
use super::{StopFlags, MAX_BURST};
use crate::control::sync::DistributorSync;
use crate::ids::PortIndex;
use crate::key::FlowKey;
use crate::packet::DropReason;
use crate::stats::Stats;
use dpdk::eal::rdtsc;
use std::marker::PhantomData;
use std::sync::Arc;

/// Bulk lookup of flow keys (their [`FlowKey::Bytes`]) to node ids: what the
/// distributor needs from the EFD table (readers on other lcores,
/// lock-free).
pub trait FlowLookup<B>: Send + 'static {
    /// Writes the value of `keys[i]` to `out[i]` for every key.
    fn lookup_bulk(&self, keys: &[B], out: &mut [u8]);
}

impl<const N: usize> FlowLookup<[u8; N]> for crate::efd::EfdReader<N> {
    #[inline]
    fn lookup_bulk(&self, keys: &[[u8; N]], out: &mut [u8]) {
        crate::efd::EfdReader::lookup_bulk(self, keys, out)
    }
}

/// One receive queue and its port's position among the enabled ports.
pub struct RxPort<I: Io> {
    /// The port's position (and its index in `Stats::ports`).
    pub index: PortIndex,
    /// The queue this lcore polls.
    pub queue: I::Rx,
}

/// Everything the distributor lcore owns.
pub struct Distributor<I: Io, K: FlowKey, L: FlowLookup<K::Bytes>> {
    rx: Vec<RxPort<I>>,
    rings: Vec<I::RingProducer>,
    table: L,
    stats: Arc<Stats>,
    stop: Arc<StopFlags>,
    sync: Arc<DistributorSync>,
    burst: usize,
    key: PhantomData<K>,
}

/// Capacity of a node's pending buffer: a full burst can always be added to
/// one that is not yet due (fewer than `burst` packets).
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

impl<I: Io, K: FlowKey, L: FlowLookup<K::Bytes>> Distributor<I, K, L> {
    /// A distributor receiving from `rx` and enqueueing on `rings` (one per
    /// node, indexed by node id) in bursts of `burst` packets, which must be
    /// `1..=MAX_BURST` (the configuration refuses other values), answering
    /// the control thread's flush requests on `sync`.
    ///
    /// # Panics
    /// If `burst` is out of range.
    pub fn new(
        rx: Vec<RxPort<I>>,
        rings: Vec<I::RingProducer>,
        table: L,
        stats: Arc<Stats>,
        stop: Arc<StopFlags>,
        sync: Arc<DistributorSync>,
        burst: usize,
    ) -> Self {
        assert!(
            (1..=MAX_BURST).contains(&burst),
            "burst {burst} outside 1..={MAX_BURST}"
        );
        Distributor {
            rx,
            rings,
            table,
            stats,
            stop,
            sync,
            burst,
            key: PhantomData,
        }
    }

    /// Runs until told to stop. Every packet it receives ends up on a ring
    /// or freed and counted.
    pub fn run(self) {
        let stop = self.stop.clone();
        let mut lp = self.start();
        while !stop.rx_stopped() {
            lp.poll();
        }
        lp.finish();
    }

    /// The loop's state, on the calling lcore (it takes that lcore's view of
    /// the rx pools).
    pub fn start(self) -> DistributorLoop<I, K, L> {
        let num_nodes = self.rings.len();
        let refills = self.rx.iter().map(|rx| rx.queue.refill()).collect();
        DistributorLoop {
            node_bufs: (0..num_nodes).map(|_| PacketBurst::empty()).collect(),
            burst: PacketBurst::empty(),
            dropped: PacketBurst::empty(),
            keys: vec![K::seed(0).to_bytes(); MAX_BURST],
            values: [0; MAX_BURST],
            bad: [false; MAX_BURST],
            reasons: [0; DropReason::COUNT],
            max_wait: (COALESCE_BURSTS_PER_NODE * num_nodes as u32).max(COALESCE_BURSTS_MIN),
            born: vec![EMPTY; num_nodes],
            rx_bursts: 0,
            pending: false,
            flush_seen: 0,
            refills,
            d: self,
        }
    }
}

/// A running distributor: its buffers and coalescing state.
///
/// Packets are enqueued per node in bursts of exactly the configured burst
/// size: with several nodes one rx burst gives each only a few packets, and
/// every ring operation costs a cache-line exchange with the worker's core,
/// so a node's packets are collected until it has a full burst (or for a
/// bounded number of rx bursts, see `COALESCE_BURSTS_PER_NODE`). A full
/// burst leaves the rest of the buffer for the next one: the worker
/// dequeues at most a burst at a time, and with bursts of 32, 38 enqueued
/// packets reached it as bursts of 32 and 6.
pub struct DistributorLoop<I: Io, K: FlowKey, L: FlowLookup<K::Bytes>> {
    d: Distributor<I, K, L>,
    node_bufs: Vec<I::Burst<NODE_BUF>>,
    burst: I::Burst<MAX_BURST>,
    dropped: I::Burst<MAX_BURST>,
    /// The burst's keys (`MAX_BURST` slots; the first `k` of a burst hold
    /// its good frames' keys, parsed in place).
    keys: Vec<K::Bytes>,
    values: [u8; MAX_BURST],
    /// Marks a packet without a key.
    bad: [bool; MAX_BURST],
    reasons: [u64; DropReason::COUNT],
    max_wait: u32,
    /// Per node: the rx burst count when its buffer's oldest packet came.
    born: Vec<u32>,
    rx_bursts: u32,
    pending: bool,
    /// The control thread's last flush request answered.
    flush_seen: u64,
    /// This lcore's view of each queue's pool: the buffers the next rx
    /// bursts will be given (freed by the workers' cores).
    refills: Vec<Option<<I::Rx as RxQueue<I>>::Refill>>,
}

impl<I: Io, K: FlowKey, L: FlowLookup<K::Bytes>> DistributorLoop<I, K, L> {
    /// One round: a receive on every rx queue, each burst distributed; when
    /// the round received nothing, every collected packet is enqueued.
    /// Returns whether anything arrived.
    #[inline]
    pub fn poll(&mut self) -> bool {
        let mut round_got = false;
        for q in 0..self.d.rx.len() {
            let got = self.receive(q);
            round_got |= got;
        }
        if self.pending && !round_got {
            let t0 = rdtsc();
            self.flush_all();
            self.born.fill(EMPTY);
            self.pending = false;
            self.d.stats.distributor.busy_cycles.add(rdtsc() - t0);
        }
        let requested = self.d.sync.requested();
        if requested != self.flush_seen {
            self.answer_flush(requested);
        }
        round_got
    }

    /// Enqueues every collected packet, then tells the control thread that
    /// every packet looked up before request `n` is on its ring.
    #[cold]
    fn answer_flush(&mut self, n: u64) {
        self.flush_all();
        self.born.fill(EMPTY);
        self.pending = false;
        self.flush_seen = n;
        self.d.sync.answer(n);
    }

    /// Enqueues what is still collected (the workers drain after this).
    pub fn finish(mut self) {
        self.flush_all();
    }

    /// Receives one burst from rx queue `q` and distributes it.
    #[inline(always)]
    fn receive(&mut self, q: usize) -> bool {
        let stats = &*self.d.stats;
        let rx = &mut self.d.rx[q];
        let n = rx.queue.rx_burst(&mut self.burst, self.d.burst);
        if n == 0 {
            stats.distributor.idle_polls.add(1);
            return false;
        }
        // Busy cycles: from a non-empty rx burst to its last enqueue.
        let t0 = rdtsc();
        // The device's next refill writes the headers of as many buffers
        // again: fetch them while this burst is processed.
        if let Some(c) = &self.refills[q] {
            c.prefetch_next(n);
        }
        self.pending = true;
        self.rx_bursts = self.rx_bursts.wrapping_add(1);
        stats.ports[rx.index.index()].rx.add(n as u64);

        // Pass 1: flow keys, with every malformed frame set aside.
        let mut k = 0;
        for (i, m) in self.burst.as_mut_slice().iter_mut().enumerate() {
            let parsed = if K::TAG_HOLDS_KEY {
                // The worker reads the tag from the mbuf header instead of
                // the packet data (one cache miss less on its core).
                K::parse_frame(m.data()).map(|key| {
                    m.set_tag(key.tag());
                    self.keys[k] = key.to_bytes();
                })
            } else {
                // A key wider than the tag is parsed again on the worker.
                K::parse_frame_bytes(m.data(), &mut self.keys[k])
            };
            match parsed {
                Ok(()) => {
                    k += 1;
                    self.bad[i] = false;
                }
                Err(reason) => {
                    self.bad[i] = true;
                    self.reasons[reason as usize] += 1;
                }
            }
        }
        self.d
            .table
            .lookup_bulk(&self.keys[..k], &mut self.values[..k]);

        // Pass 2: hand each packet to its node's buffer.
        let num_nodes = self.node_bufs.len();
        let mut j = 0;
        let mut unknown_node = 0u64;
        for (i, m) in self.burst.drain().enumerate() {
            let target = if self.bad[i] {
                None
            } else {
                let node = self.d.sync.slot(self.values[j]) as usize;
                j += 1;
                if node < num_nodes {
                    Some(node)
                } else {
                    unknown_node += 1;
                    None
                }
            };
            let rejected = match target {
                Some(node) => self.node_bufs[node].push(m).err(),
                None => Some(m),
            };
            if let Some(m) = rejected {
                // Only malformed/unknown packets land here (a node buffer
                // always has room for a whole burst); free them in bulk.
                if let Err(m) = self.dropped.push(m) {
                    drop(m);
                }
            }
        }
        self.dropped.free_all();
        stats.distributor.distributed.add(k as u64 - unknown_node);
        if unknown_node > 0 {
            stats.distributor.drop_unknown_node.add(unknown_node);
        }
        for (r, c) in self.reasons.iter_mut().enumerate() {
            if *c > 0 {
                stats.distributor.drop[r].add(*c);
                *c = 0;
            }
        }

        // Enqueue a full burst of the nodes that have one (what is left came
        // in this rx burst), and all of those that waited too long.
        let burst = self.d.burst;
        for (node, buf) in self.node_bufs.iter_mut().enumerate() {
            if buf.len() >= burst {
                enqueue_or_drop::<I>(&mut self.d.rings[node], buf, burst, stats, node);
                self.born[node] = if buf.is_empty() {
                    EMPTY
                } else {
                    self.rx_bursts
                };
            } else if !buf.is_empty() {
                if self.born[node] == EMPTY {
                    self.born[node] = self.rx_bursts;
                } else if self.rx_bursts.wrapping_sub(self.born[node]) >= self.max_wait {
                    let n = buf.len();
                    enqueue_or_drop::<I>(&mut self.d.rings[node], buf, n, stats, node);
                    self.born[node] = EMPTY;
                }
            }
        }
        stats.distributor.packets.add(n as u64);
        stats.distributor.busy_cycles.add(rdtsc() - t0);
        true
    }

    /// Enqueues every node's collected packets.
    fn flush_all(&mut self) {
        let stats = &*self.d.stats;
        for (node, (ring, buf)) in self
            .d
            .rings
            .iter_mut()
            .zip(self.node_bufs.iter_mut())
            .enumerate()
        {
            if !buf.is_empty() {
                let n = buf.len();
                enqueue_or_drop::<I>(ring, buf, n, stats, node);
            }
        }
    }
}

/// Enqueues the first `n` packets of `buf` (`n <= buf.len()`) or none: a
/// full ring is a counted drop for that node (`rx_drop`), and those packets
/// are freed. The rest stay in `buf`.
#[inline]
fn enqueue_or_drop<I: Io>(
    ring: &mut I::RingProducer,
    buf: &mut I::Burst<NODE_BUF>,
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

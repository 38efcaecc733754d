//! What the control thread and the lcores share to change flow tables while
//! packets flow: each node's queue of table changes and its count of
//! applied ones, and the distributor's flush handshake.
//!
//! Nothing here blocks an lcore: workers take changes with `try_recv`
//! between bursts, and the distributor answers a flush request with one
//! relaxed load per round when there is none.

use crate::key::FlowKey;
use crate::lcore::flow_table::FlowTable;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// A change to one node's flow table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableChange<K> {
    /// The node owns this flow from now on.
    Add(K),
    /// The node no longer owns this flow.
    Remove(K),
}

/// Changes a worker applies in one go at most, so a large change cannot
/// hold its nodes' rings for long.
pub const CHANGES_PER_POLL: usize = 1024;

/// Changes queued per node before the control thread waits for the worker.
pub const CHANGE_QUEUE: usize = 1 << 16;

/// One node's count of applied changes (written by its worker only).
#[derive(Debug, Default)]
pub struct NodeSync {
    applied: AtomicU64,
}

impl NodeSync {
    /// Changes the worker has applied so far.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }
}

/// A node's end of its change queue, held by the worker that runs it.
#[derive(Debug)]
pub struct NodeChanges<K> {
    changes: Receiver<Box<[TableChange<K>]>>,
    /// The chunk being applied and how far.
    current: Option<(Box<[TableChange<K>]>, usize)>,
    sync: Arc<NodeSync>,
}

impl<K: FlowKey> NodeChanges<K> {
    /// Applies what is queued, at most [`CHANGES_PER_POLL`] changes, to
    /// `table`; then publishes the new applied count. Called between bursts;
    /// when nothing is queued it costs two loads.
    #[inline]
    pub fn apply(&mut self, table: &mut FlowTable<K>) {
        if self.current.is_none() && self.changes.is_empty() {
            return;
        }
        self.apply_queued(table);
    }

    #[cold]
    fn apply_queued(&mut self, table: &mut FlowTable<K>) {
        let mut n = 0usize;
        while n < CHANGES_PER_POLL {
            let (chunk, at) = match self.current.take() {
                Some(c) => c,
                None => match self.changes.try_recv() {
                    Ok(chunk) => (chunk, 0),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                },
            };
            let end = chunk.len().min(at + CHANGES_PER_POLL - n);
            for c in &chunk[at..end] {
                match *c {
                    TableChange::Add(k) => {
                        table.insert(k);
                    }
                    TableChange::Remove(k) => {
                        table.remove(k);
                    }
                }
            }
            n += end - at;
            if end < chunk.len() {
                self.current = Some((chunk, end));
            }
        }
        let a = &self.sync.applied;
        a.store(a.load(Ordering::Relaxed) + n as u64, Ordering::Release);
    }
}

/// Changes sent to a worker in one message.
pub const CHUNK: usize = 1024;

/// The control thread's end of one node's change queue. Changes are sent in
/// chunks of [`CHUNK`]; [`NodeLink::flush`] sends a partial one.
#[derive(Debug)]
pub struct NodeLink<K> {
    changes: Sender<Box<[TableChange<K>]>>,
    pending: Vec<TableChange<K>>,
    sync: Arc<NodeSync>,
    sent: u64,
}

impl<K> NodeLink<K> {
    /// Queues a change (waits while the queue is full). False if the worker
    /// is gone.
    pub fn send(&mut self, change: TableChange<K>) -> bool {
        self.pending.push(change);
        if self.pending.len() >= CHUNK {
            return self.flush();
        }
        true
    }

    /// Sends the changes not sent yet. False if the worker is gone.
    pub fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let n = self.pending.len() as u64;
        let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        if self.changes.send(chunk.into_boxed_slice()).is_err() {
            return false;
        }
        self.sent += n;
        true
    }

    /// Whether the worker has applied every change sent so far (flushed
    /// ones: call [`NodeLink::flush`] first).
    pub fn caught_up(&self) -> bool {
        self.sync.applied() >= self.sent
    }
}

/// A change queue for one node: the worker's end and the control thread's.
pub fn node_channel<K>() -> (NodeChanges<K>, NodeLink<K>) {
    let (tx, rx) = crossbeam_channel::bounded(CHANGE_QUEUE / CHUNK);
    let sync = Arc::new(NodeSync::default());
    (
        NodeChanges {
            changes: rx,
            current: None,
            sync: sync.clone(),
        },
        NodeLink {
            changes: tx,
            pending: Vec::with_capacity(CHUNK),
            sync,
            sent: 0,
        },
    )
}

/// The distributor's flush handshake (the control thread asks, the
/// distributor enqueues every packet it holds and answers), and the table
/// of value slots: which node each EFD value sends to.
#[derive(Debug)]
pub struct DistributorSync {
    requested: AtomicU64,
    done: AtomicU64,
    slots: Box<[AtomicU16; 256]>,
}

impl Default for DistributorSync {
    /// Every value `v` sends to node `v` (a value that is no node is
    /// dropped by the distributor): the C sample's mapping.
    fn default() -> Self {
        DistributorSync {
            requested: AtomicU64::new(0),
            done: AtomicU64::new(0),
            slots: Box::new(std::array::from_fn(|v| AtomicU16::new(v as u16))),
        }
    }
}

impl DistributorSync {
    /// The node EFD value `v` sends to (distributor side; `>= num_nodes`:
    /// none). A relaxed load: a slot changes only for values no stored
    /// flow has (see `control::balance::value_slots`).
    #[inline(always)]
    pub fn slot(&self, v: u8) -> u16 {
        self.slots[v as usize].load(Ordering::Relaxed)
    }

    /// Sets the slots (control thread); values beyond `slots` keep theirs.
    pub fn set_slots(&self, slots: &[u16]) {
        for (a, &n) in self.slots.iter().zip(slots) {
            a.store(n, Ordering::Relaxed);
        }
    }

    /// The slots (for status and tests).
    pub fn slots(&self) -> Vec<u16> {
        self.slots
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect()
    }

    /// Asks for a flush; returns the request's number.
    pub fn request_flush(&self) -> u64 {
        self.requested.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Whether flush `n` (or a later one) is done: every packet the
    /// distributor looked up before it saw the request is on a ring (or
    /// dropped and counted), and its counters say so.
    pub fn flushed(&self, n: u64) -> bool {
        self.done.load(Ordering::Acquire) >= n
    }

    /// The newest request (distributor side). Acquire: lookups after it see
    /// every table change made before the request (a plain load on x86).
    #[inline]
    pub fn requested(&self) -> u64 {
        self.requested.load(Ordering::Acquire)
    }

    /// Answers request `n` after flushing (distributor side).
    pub fn answer(&self, n: u64) {
        self.done.store(n, Ordering::Release);
    }
}

/// Slots of the recently-asked filter of [`Adopter`] (a power of two).
pub const RECENT_ASKS: usize = 1024;

/// A node's side of the unknown-flow policy `assign`: a worker that finds
/// a packet of a flow its node does not own forwards it and asks the control
/// thread to adopt the flow, at most once per flow and round of the
/// control thread (an ask older than a round is made again, so a lost one
/// is not lost for good).
#[derive(Debug)]
pub struct Adopter<K> {
    asks: Sender<(K, crate::ids::NodeId)>,
    full: Arc<AtomicBool>,
    round: Arc<AtomicU32>,
    /// `round << 32 | tag` of recent asks; 0 = none.
    recent: Box<[u64; RECENT_ASKS]>,
}

impl<K: FlowKey> Adopter<K> {
    /// Whether the table is full: unknown flows are dropped (`table_full`).
    #[inline]
    pub fn table_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// Asks for `key` to be adopted on `node`, unless it was asked for in
    /// this round or the one before. Never blocks: a full queue loses the
    /// ask (a later packet asks again).
    #[inline]
    pub fn ask(&mut self, key: K, node: crate::ids::NodeId) {
        let tag = key.tag();
        let round = u64::from(self.round.load(Ordering::Relaxed) | 1);
        let slot = &mut self.recent[(crate::rng::mix(u64::from(tag)) as usize) & (RECENT_ASKS - 1)];
        if *slot & 0xffff_ffff == u64::from(tag) && (*slot >> 32) + 2 >= round {
            return;
        }
        if self.asks.try_send((key, node)).is_ok() {
            *slot = round << 32 | u64::from(tag);
        }
    }
}

/// The control thread's side of adoption: the asks, and the switch that
/// tells workers the table is full.
#[derive(Debug)]
pub struct AdoptionDesk<K> {
    /// Asks from every node: the flow and the node that saw it.
    pub asks: Receiver<(K, crate::ids::NodeId)>,
    full: Arc<AtomicBool>,
    round: Arc<AtomicU32>,
    sender: Sender<(K, crate::ids::NodeId)>,
}

/// Asks queued before workers lose them.
pub const ADOPTION_QUEUE: usize = 1 << 16;

impl<K: FlowKey> AdoptionDesk<K> {
    /// A desk with an empty queue; the table is not full.
    pub fn new() -> Self {
        let (sender, asks) = crossbeam_channel::bounded(ADOPTION_QUEUE);
        AdoptionDesk {
            asks,
            full: Arc::new(AtomicBool::new(false)),
            round: Arc::new(AtomicU32::new(0)),
            sender,
        }
    }

    /// A node's end.
    pub fn adopter(&self) -> Adopter<K> {
        Adopter {
            asks: self.sender.clone(),
            full: self.full.clone(),
            round: self.round.clone(),
            recent: Box::new([0; RECENT_ASKS]),
        }
    }

    /// Ends a round of adoptions: asks older than the previous round are
    /// made again.
    pub fn next_round(&self) {
        self.round.fetch_add(2, Ordering::Relaxed);
    }

    /// Tells the workers whether the table is full.
    pub fn set_full(&self, full: bool) {
        self.full.store(full, Ordering::Relaxed);
    }

    /// Whether the workers are told the table is full.
    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }
}

impl<K: FlowKey> Default for AdoptionDesk<K> {
    fn default() -> Self {
        Self::new()
    }
}

/// Which flows saw a packet lately, for the expiry of idle adopted flows
/// (`control.idle_timeout_s`): one bit per hash of the flow's tag, set by
/// the workers for every packet they forward, read and cleared by the
/// control thread once per sweep. Two flows sharing a bit keep each other
/// alive (a collision only delays an expiry).
#[derive(Debug)]
pub struct Activity {
    bits: Box<[AtomicU64]>,
    mask: usize,
}

impl Activity {
    /// A map with about 8 bits per flow of a table of `capacity` flows.
    pub fn new(capacity: usize) -> Activity {
        let nbits = (capacity.max(512) * 8).next_power_of_two();
        Activity {
            bits: (0..nbits / 64).map(|_| AtomicU64::new(0)).collect(),
            mask: nbits - 1,
        }
    }

    #[inline(always)]
    fn locate(&self, tag: u32) -> (usize, u64) {
        let i = crate::rng::mix(u64::from(tag)) as usize & self.mask;
        (i >> 6, 1u64 << (i & 63))
    }

    /// Marks the flow with `tag` as seen (worker side): a load, and a
    /// write only when the bit is not set yet.
    #[inline(always)]
    pub fn mark(&self, tag: u32) {
        let (w, bit) = self.locate(tag);
        let word = &self.bits[w];
        if word.load(Ordering::Relaxed) & bit == 0 {
            word.fetch_or(bit, Ordering::Relaxed);
        }
    }

    /// Whether the flow with `tag` was marked since the last [`Activity::clear`].
    pub fn seen(&self, tag: u32) -> bool {
        let (w, bit) = self.locate(tag);
        self.bits[w].load(Ordering::Relaxed) & bit != 0
    }

    /// Forgets every mark (control side).
    pub fn clear(&self) {
        for w in self.bits.iter() {
            w.store(0, Ordering::Relaxed);
        }
    }
}

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
use std::sync::atomic::{AtomicU64, Ordering};
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
    changes: Receiver<TableChange<K>>,
    sync: Arc<NodeSync>,
}

impl<K: FlowKey> NodeChanges<K> {
    /// Applies what is queued, at most [`CHANGES_PER_POLL`] changes, to
    /// `table`; then publishes the new applied count. Called between bursts;
    /// when nothing is queued it costs two loads.
    #[inline]
    pub fn apply(&self, table: &mut FlowTable<K>) {
        if self.changes.is_empty() {
            return;
        }
        self.apply_queued(table);
    }

    #[cold]
    fn apply_queued(&self, table: &mut FlowTable<K>) {
        let mut n = 0u64;
        while n < CHANGES_PER_POLL as u64 {
            match self.changes.try_recv() {
                Ok(TableChange::Add(k)) => {
                    table.insert(k);
                }
                Ok(TableChange::Remove(k)) => {
                    table.remove(k);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
            n += 1;
        }
        let a = &self.sync.applied;
        a.store(a.load(Ordering::Relaxed) + n, Ordering::Release);
    }
}

/// The control thread's end of one node's change queue.
#[derive(Debug)]
pub struct NodeLink<K> {
    changes: Sender<TableChange<K>>,
    sync: Arc<NodeSync>,
    sent: u64,
}

impl<K> NodeLink<K> {
    /// Queues a change (waits while the queue is full). False if the worker
    /// is gone.
    pub fn send(&mut self, change: TableChange<K>) -> bool {
        if self.changes.send(change).is_err() {
            return false;
        }
        self.sent += 1;
        true
    }

    /// Whether the worker has applied every change sent so far.
    pub fn caught_up(&self) -> bool {
        self.sync.applied() >= self.sent
    }
}

/// A change queue for one node: the worker's end and the control thread's.
pub fn node_channel<K>() -> (NodeChanges<K>, NodeLink<K>) {
    let (tx, rx) = crossbeam_channel::bounded(CHANGE_QUEUE);
    let sync = Arc::new(NodeSync::default());
    (
        NodeChanges {
            changes: rx,
            sync: sync.clone(),
        },
        NodeLink {
            changes: tx,
            sync,
            sent: 0,
        },
    )
}

/// The distributor's flush handshake: the control thread asks, the
/// distributor enqueues every packet it holds and answers.
#[derive(Debug, Default)]
pub struct DistributorSync {
    requested: AtomicU64,
    done: AtomicU64,
}

impl DistributorSync {
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

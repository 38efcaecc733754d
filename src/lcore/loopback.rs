//! In-memory packets and queues implementing [`Io`]: the loops run on them
//! without an EAL, hugepages or devices, in unit tests (as smoltcp tests its
//! stack on a loopback device).
//!
//! Every [`LoopPacket`] is counted in its [`LoopPool`] from creation until
//! it is dropped, so a test can check that the loops lost or leaked none.

#![forbid(unsafe_code)]

use super::io::{Io, Packet, PacketBurst, RingConsumer, RingProducer, RxQueue, TxQueue};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The in-memory [`Io`] family.
#[derive(Debug, Clone, Copy)]
pub struct Loopback;

impl Io for Loopback {
    type Packet = LoopPacket;
    type Burst<const N: usize> = VecBurst<N>;
    type Rx = LoopRx;
    type RingProducer = LoopRing;
    type RingConsumer = LoopRing;
    type Tx = LoopTx;
}

/// Counts the packets alive (made and not yet dropped).
#[derive(Debug, Clone, Default)]
pub struct LoopPool {
    live: Arc<AtomicUsize>,
}

impl LoopPool {
    /// A new, empty pool.
    pub fn new() -> LoopPool {
        LoopPool::default()
    }

    /// A packet holding `frame`, as if received on DPDK port `port`.
    pub fn packet(&self, frame: &[u8], port: u16) -> LoopPacket {
        self.live.fetch_add(1, Ordering::Relaxed);
        LoopPacket {
            data: frame.to_vec(),
            port,
            tag: 0,
            live: self.live.clone(),
        }
    }

    /// Packets made and not yet dropped.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }
}

/// A packet in memory.
#[derive(Debug)]
pub struct LoopPacket {
    data: Vec<u8>,
    port: u16,
    tag: u32,
    live: Arc<AtomicUsize>,
}

impl Drop for LoopPacket {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Packet for LoopPacket {
    fn data(&self) -> &[u8] {
        &self.data
    }
    fn port(&self) -> u16 {
        self.port
    }
    fn tag(&self) -> u32 {
        self.tag
    }
    fn set_tag(&mut self, tag: u32) {
        self.tag = tag;
    }
}

/// A burst of up to `N` in-memory packets.
#[derive(Debug)]
pub struct VecBurst<const N: usize>(Vec<LoopPacket>);

impl<const N: usize> VecBurst<N> {
    fn spare(&self) -> usize {
        N - self.0.len()
    }
}

impl<const N: usize> PacketBurst for VecBurst<N> {
    type Packet = LoopPacket;
    fn empty() -> Self {
        VecBurst(Vec::with_capacity(N))
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn push(&mut self, p: LoopPacket) -> Result<(), LoopPacket> {
        if self.0.len() == N {
            return Err(p);
        }
        self.0.push(p);
        Ok(())
    }
    fn as_slice(&self) -> &[LoopPacket] {
        &self.0
    }
    fn as_mut_slice(&mut self) -> &mut [LoopPacket] {
        &mut self.0
    }
    fn drain(&mut self) -> impl Iterator<Item = LoopPacket> + '_ {
        self.0.drain(..)
    }
    fn free_front(&mut self, n: usize) -> usize {
        let n = n.min(self.0.len());
        self.0.drain(..n);
        n
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A receive queue fed by the test.
#[derive(Debug, Clone)]
pub struct LoopRx {
    queue: Arc<Mutex<VecDeque<LoopPacket>>>,
    calls: Arc<Mutex<Vec<usize>>>,
}

impl LoopRx {
    /// An empty queue.
    pub fn new() -> LoopRx {
        LoopRx {
            queue: Arc::default(),
            calls: Arc::default(),
        }
    }

    /// Queues packets for the next receives.
    pub fn feed(&self, packets: impl IntoIterator<Item = LoopPacket>) {
        lock(&self.queue).extend(packets);
    }

    /// Packets still waiting.
    pub fn pending(&self) -> usize {
        lock(&self.queue).len()
    }

    /// The `max` of every receive call so far.
    pub fn call_maxima(&self) -> Vec<usize> {
        lock(&self.calls).clone()
    }
}

impl Default for LoopRx {
    fn default() -> Self {
        LoopRx::new()
    }
}

impl RxQueue<Loopback> for LoopRx {
    type Refill = ();
    fn refill(&self) -> Option<()> {
        None
    }
    fn rx_burst<const N: usize>(&mut self, burst: &mut VecBurst<N>, max: usize) -> usize {
        lock(&self.calls).push(max);
        let mut q = lock(&self.queue);
        let n = burst.spare().min(max).min(q.len());
        burst.0.extend(q.drain(..n));
        n
    }
}

/// A bounded ring; clones share it (one producer, one consumer).
#[derive(Debug, Clone)]
pub struct LoopRing {
    slots: Arc<Mutex<VecDeque<LoopPacket>>>,
    capacity: usize,
}

impl LoopRing {
    /// An empty ring holding at most `capacity` packets.
    pub fn new(capacity: usize) -> LoopRing {
        LoopRing {
            slots: Arc::new(Mutex::new(VecDeque::with_capacity(capacity))),
            capacity,
        }
    }

    /// Packets queued.
    pub fn len(&self) -> usize {
        lock(&self.slots).len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RingProducer<Loopback> for LoopRing {
    fn enqueue_front<const N: usize>(&mut self, burst: &mut VecBurst<N>, n: usize) -> bool {
        let n = n.min(burst.0.len());
        let mut q = lock(&self.slots);
        if q.len() + n > self.capacity {
            return false;
        }
        q.extend(burst.0.drain(..n));
        true
    }
}

impl RingConsumer<Loopback> for LoopRing {
    fn dequeue_burst<const N: usize>(&mut self, burst: &mut VecBurst<N>, max: usize) -> usize {
        let mut q = lock(&self.slots);
        let n = burst.spare().min(max).min(q.len());
        burst.0.extend(q.drain(..n));
        n
    }
}

/// A transmit queue that keeps what it is given, up to a budget.
#[derive(Debug, Clone)]
pub struct LoopTx {
    sent: Arc<Mutex<Vec<LoopPacket>>>,
    budget: Arc<AtomicUsize>,
    port: u16,
}

impl LoopTx {
    /// A queue of DPDK port `port` that takes every packet.
    pub fn new(port: u16) -> LoopTx {
        LoopTx {
            sent: Arc::default(),
            budget: Arc::new(AtomicUsize::new(usize::MAX)),
            port,
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// From now on, takes at most `n` more packets (a device that refuses).
    pub fn set_budget(&self, n: usize) {
        self.budget.store(n, Ordering::Relaxed);
    }

    /// Takes the packets sent so far.
    pub fn take_sent(&self) -> Vec<LoopPacket> {
        std::mem::take(&mut *lock(&self.sent))
    }
}

impl TxQueue<Loopback> for LoopTx {
    fn tx_burst<const N: usize>(&mut self, burst: &mut VecBurst<N>) -> usize {
        let budget = self.budget.load(Ordering::Relaxed);
        let n = burst.0.len().min(budget);
        self.budget.store(budget - n, Ordering::Relaxed);
        lock(&self.sent).extend(burst.0.drain(..n));
        n
    }
}

//! What the lcore loops need from packets and queues, as traits: DPDK's
//! mbufs, ports and rings implement them ([`Dpdk`]), and so do the in-memory
//! packets and queues of [`super::loopback`], on which the loops are tested
//! without an EAL.
//!
//! The loops are generic over an [`Io`] family and monomorphised for it, so
//! the DPDK instantiation compiles to the same calls as before the traits.

use dpdk::mbuf::{Burst, Mbuf};
use dpdk::mempool::LcoreCache;

/// A packet the loops move: an mbuf, or a buffer in tests.
pub trait Packet: Sized + Send {
    /// The frame (first segment).
    fn data(&self) -> &[u8];
    /// The DPDK id of the port it arrived on.
    fn port(&self) -> u16;
    /// The 32 bits the distributor left for the worker.
    fn tag(&self) -> u32;
    /// Leaves 32 bits for the worker.
    fn set_tag(&mut self, tag: u32);
    /// Starts loading the header the worker reads (a hint).
    #[inline]
    fn prefetch_header(&self) {}
    /// Loads what freeing the packet reads, so the loads of a burst overlap
    /// (a hint).
    #[inline]
    fn touch_free_line(&self) {}
    /// Starts loading the frame's first bytes (a hint; reads the header).
    #[inline]
    fn prefetch_data(&self) {}
}

/// A fixed-capacity burst of packets, in order; what is left in it when it
/// is dropped is freed.
pub trait PacketBurst: Send {
    /// The packets it holds.
    type Packet: Packet;
    /// An empty burst.
    fn empty() -> Self;
    /// How many it holds.
    fn len(&self) -> usize;
    /// Whether it holds none.
    #[inline]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Adds one packet; gives it back when full.
    fn push(&mut self, p: Self::Packet) -> Result<(), Self::Packet>;
    /// The packets held.
    fn as_slice(&self) -> &[Self::Packet];
    /// The packets held, writable.
    fn as_mut_slice(&mut self) -> &mut [Self::Packet];
    /// Takes every packet out, in order.
    fn drain(&mut self) -> impl Iterator<Item = Self::Packet> + '_;
    /// Frees the first `n` packets (at most all) at once; the rest move to
    /// the front. Returns how many were freed.
    fn free_front(&mut self, n: usize) -> usize;
    /// Frees every packet at once; returns how many.
    #[inline]
    fn free_all(&mut self) -> usize {
        self.free_front(self.len())
    }
}

/// A family of packets and queues the loops run on.
pub trait Io: 'static {
    /// Its packets.
    type Packet: Packet;
    /// Its bursts of up to `N` packets.
    type Burst<const N: usize>: PacketBurst<Packet = Self::Packet>;
    /// A receive queue (one lcore polls it).
    type Rx: RxQueue<Self>;
    /// The enqueue side of a node's ring (the distributor).
    type RingProducer: RingProducer<Self>;
    /// The dequeue side of a node's ring (the node's worker).
    type RingConsumer: RingConsumer<Self>;
    /// A transmit queue (one lcore uses it).
    type Tx: TxQueue<Self>;
}

/// A receive queue.
pub trait RxQueue<I: Io + ?Sized>: Send {
    /// What tells which buffers the next receives will fill.
    type Refill: RefillHint;
    /// The calling lcore's view of the buffers its next receives take from
    /// the pool; call it on the polling lcore.
    fn refill(&self) -> Option<Self::Refill>;
    /// Receives at most `max` packets into the burst (no more than its spare
    /// room); returns how many arrived.
    fn rx_burst<const N: usize>(&mut self, burst: &mut I::Burst<N>, max: usize) -> usize;
}

/// Which buffers the next receives will fill (a prefetch hint).
pub trait RefillHint {
    /// Starts loading the next `n` of them for writing.
    fn prefetch_next(&self, n: usize);
}

impl RefillHint for () {
    #[inline]
    fn prefetch_next(&self, _n: usize) {}
}

/// The enqueue side of a ring of packets.
pub trait RingProducer<I: Io + ?Sized>: Send {
    /// Enqueues the first `n` packets of the burst (at most its length), or
    /// none when there is no room for all of them; returns which. Enqueued
    /// packets leave the burst, the rest move to its front.
    fn enqueue_front<const N: usize>(&mut self, burst: &mut I::Burst<N>, n: usize) -> bool;
}

/// The dequeue side of a ring of packets.
pub trait RingConsumer<I: Io + ?Sized>: Send {
    /// Dequeues at most `max` packets (no more than the burst's spare room);
    /// returns how many.
    fn dequeue_burst<const N: usize>(&mut self, burst: &mut I::Burst<N>, max: usize) -> usize;
    /// Starts loading what the next dequeue of `n` reads (a hint).
    #[inline]
    fn prefetch_next(&self, _n: u32) {}
}

/// A transmit queue.
pub trait TxQueue<I: Io + ?Sized>: Send {
    /// Sends as many of the burst's packets as the device takes; those leave
    /// the burst, the rest stay at its front. Returns how many were sent.
    fn tx_burst<const N: usize>(&mut self, burst: &mut I::Burst<N>) -> usize;
}

/// DPDK: mbufs, ethdev queues and the node rings.
#[derive(Debug, Clone, Copy)]
pub struct Dpdk;

impl Io for Dpdk {
    type Packet = Mbuf;
    type Burst<const N: usize> = Burst<N>;
    type Rx = dpdk::port::RxQueue;
    type RingProducer = dpdk::ring::Producer;
    type RingConsumer = dpdk::ring::Consumer;
    /// A device queue that refuses packets during `[faults]
    /// tx_refuse_ms` (without that fault, one branch per transmit).
    type Tx = crate::faults::FaultyTx<dpdk::port::TxQueue>;
}

impl Packet for Mbuf {
    #[inline(always)]
    fn data(&self) -> &[u8] {
        Mbuf::data(self)
    }
    #[inline(always)]
    fn port(&self) -> u16 {
        Mbuf::port(self)
    }
    #[inline(always)]
    fn tag(&self) -> u32 {
        Mbuf::tag(self)
    }
    #[inline(always)]
    fn set_tag(&mut self, tag: u32) {
        Mbuf::set_tag(self, tag)
    }
    #[inline(always)]
    fn prefetch_header(&self) {
        Mbuf::prefetch_header(self)
    }
    #[inline(always)]
    fn touch_free_line(&self) {
        Mbuf::touch_free_line(self)
    }
    #[inline(always)]
    fn prefetch_data(&self) {
        Mbuf::prefetch_data(self)
    }
}

impl<const N: usize> PacketBurst for Burst<N> {
    type Packet = Mbuf;
    #[inline(always)]
    fn empty() -> Self {
        Burst::new()
    }
    #[inline(always)]
    fn len(&self) -> usize {
        Burst::len(self)
    }
    #[inline(always)]
    fn push(&mut self, p: Mbuf) -> Result<(), Mbuf> {
        Burst::push(self, p)
    }
    #[inline(always)]
    fn as_slice(&self) -> &[Mbuf] {
        Burst::as_slice(self)
    }
    #[inline(always)]
    fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        Burst::as_mut_slice(self)
    }
    #[inline(always)]
    fn drain(&mut self) -> impl Iterator<Item = Mbuf> + '_ {
        Burst::drain(self)
    }
    #[inline(always)]
    fn free_front(&mut self, n: usize) -> usize {
        Burst::free_front(self, n)
    }
}

impl RxQueue<Dpdk> for dpdk::port::RxQueue {
    type Refill = LcoreCache;
    #[inline]
    fn refill(&self) -> Option<LcoreCache> {
        self.alloc_cache()
    }
    #[inline(always)]
    fn rx_burst<const N: usize>(&mut self, burst: &mut Burst<N>, max: usize) -> usize {
        self.rx_burst_max(burst, max)
    }
}

impl RefillHint for LcoreCache {
    #[inline(always)]
    fn prefetch_next(&self, n: usize) {
        LcoreCache::prefetch_next(self, n)
    }
}

impl RingProducer<Dpdk> for dpdk::ring::Producer {
    #[inline(always)]
    fn enqueue_front<const N: usize>(&mut self, burst: &mut Burst<N>, n: usize) -> bool {
        dpdk::ring::Producer::enqueue_front(self, burst, n)
    }
}

impl RingConsumer<Dpdk> for dpdk::ring::Consumer {
    #[inline(always)]
    fn dequeue_burst<const N: usize>(&mut self, burst: &mut Burst<N>, max: usize) -> usize {
        self.dequeue_burst_max(burst, max)
    }
    #[inline(always)]
    fn prefetch_next(&self, n: u32) {
        dpdk::ring::Consumer::prefetch_next(self, n)
    }
}

impl TxQueue<Dpdk> for dpdk::port::TxQueue {
    #[inline(always)]
    fn tx_burst<const N: usize>(&mut self, burst: &mut Burst<N>) -> usize {
        dpdk::port::TxQueue::tx_burst(self, burst)
    }
}

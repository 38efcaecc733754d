//! Owned mbufs and fixed-capacity bursts of them.

use crate::sys;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

/// One packet buffer, owned: freed back to its pool on drop.
#[repr(transparent)]
pub struct Mbuf(NonNull<sys::rte_mbuf>);

// SAFETY: an mbuf is exclusively owned; moving it to another lcore is how
// DPDK pipelines work (the pool is thread-safe).
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `raw` must be a valid mbuf that nothing else owns or frees.
    #[inline]
    pub unsafe fn from_raw(raw: NonNull<sys::rte_mbuf>) -> Mbuf {
        Mbuf(raw)
    }

    /// Gives up ownership; the caller must free or hand it on.
    #[inline]
    pub fn into_raw(self) -> *mut sys::rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// The raw pointer, still owned by this handle.
    #[inline]
    pub fn as_ptr(&self) -> *mut sys::rte_mbuf {
        self.0.as_ptr()
    }

    /// The first segment's data.
    #[inline]
    pub fn data(&self) -> &[u8] {
        // SAFETY: we own a valid mbuf; buf_addr + data_off .. + data_len lies
        // inside its buffer by DPDK's invariants.
        unsafe {
            let m = self.0.as_ref();
            let p = (m.buf_addr as *const u8).add(m.data_off as usize);
            std::slice::from_raw_parts(p, m.data_len as usize)
        }
    }

    /// The first segment's data, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as `data`, and we hold the only reference.
        unsafe {
            let m = self.0.as_mut();
            let p = (m.buf_addr as *mut u8).add(m.data_off as usize);
            std::slice::from_raw_parts_mut(p, m.data_len as usize)
        }
    }

    /// Appends `len` bytes to the (single-segment) packet; None if no room.
    pub fn append(&mut self, len: u16) -> Option<&mut [u8]> {
        // SAFETY: we own the mbuf; checks mirror rte_pktmbuf_append for one segment.
        unsafe {
            let m = self.0.as_mut();
            let tail = m.data_off as usize + m.data_len as usize;
            if tail + len as usize > m.buf_len as usize {
                return None;
            }
            m.data_len += len;
            m.pkt_len += len as u32;
            let p = (m.buf_addr as *mut u8).add(tail);
            Some(std::slice::from_raw_parts_mut(p, len as usize))
        }
    }

    /// The input port recorded by the PMD.
    #[inline]
    pub fn port(&self) -> u16 {
        // SAFETY: valid mbuf.
        unsafe { self.0.as_ref().port }
    }

    /// Total packet length over all segments.
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        // SAFETY: valid mbuf.
        unsafe { self.0.as_ref().pkt_len }
    }

    /// Stores a 32-bit value in the mbuf's first cache line (`hash.rss`), for
    /// the next pipeline stage; it replaces the NIC's RSS hash.
    #[inline]
    pub fn set_tag(&mut self, tag: u32) {
        // SAFETY: we own the mbuf; writing a plain u32 of a union in its header.
        unsafe { self.0.as_mut().__bindgen_anon_2.hash.rss = tag }
    }

    /// The value stored by [`Mbuf::set_tag`] (or the NIC's RSS hash).
    #[inline]
    pub fn tag(&self) -> u32 {
        // SAFETY: reading a plain u32 of a union in a valid mbuf's header.
        unsafe { self.0.as_ref().__bindgen_anon_2.hash.rss }
    }

    /// Prefetches the first cache line of the mbuf header (lengths, port,
    /// flags, the RSS hash / tag).
    #[inline]
    pub fn prefetch_header(&self) {
        crate::prefetch(self.0.as_ptr() as *const u8);
    }

    /// Loads the header's second cache line (`next`, which freeing the mbuf
    /// reads) with a demand load. Meant for a loop over a burst: the loads
    /// of such a loop overlap, while the misses of a PMD's free loop come one
    /// after the other.
    #[inline]
    pub fn touch_free_line(&self) {
        // SAFETY: a volatile read of a pointer field of a valid mbuf header
        // (volatile so the load is not elided; the value is not used).
        unsafe {
            std::ptr::read_volatile(&raw const (*self.0.as_ptr()).next);
        }
    }

    /// Prefetches the packet data into cache.
    #[inline]
    pub fn prefetch_data(&self) {
        // SAFETY: reading the header fields of a valid mbuf.
        let p = unsafe {
            let m = self.0.as_ref();
            (m.buf_addr as *const u8).wrapping_add(m.data_off as usize)
        };
        crate::prefetch(p);
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf; freeing returns it (and its chain) to its pool.
        unsafe { sys::rte_pktmbuf_free(self.0.as_ptr()) }
    }
}

/// A fixed-capacity array of owned mbufs, laid out as DPDK's burst APIs want
/// (`struct rte_mbuf *[N]`). Whatever is still in it on drop is freed.
pub struct Burst<const N: usize> {
    bufs: [MaybeUninit<Mbuf>; N],
    len: usize,
}

impl<const N: usize> Default for Burst<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Burst<N> {
    /// An empty burst.
    pub fn new() -> Self {
        Burst {
            bufs: [const { MaybeUninit::uninit() }; N],
            len: 0,
        }
    }

    /// Number of mbufs held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether it is at capacity.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == N
    }

    /// Adds one mbuf; gives it back if full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == N {
            return Err(m);
        }
        self.bufs[self.len].write(m);
        self.len += 1;
        Ok(())
    }

    /// The held mbufs.
    #[inline]
    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: the first `len` slots are initialised.
        unsafe { std::slice::from_raw_parts(self.bufs.as_ptr() as *const Mbuf, self.len) }
    }

    /// The held mbufs, writable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: the first `len` slots are initialised and exclusively ours.
        unsafe { std::slice::from_raw_parts_mut(self.bufs.as_mut_ptr() as *mut Mbuf, self.len) }
    }

    /// Takes all mbufs out, in order.
    #[inline]
    pub fn drain(&mut self) -> impl Iterator<Item = Mbuf> + '_ {
        let n = self.len;
        self.len = 0;
        // SAFETY: slots 0..n were initialised and, with len reset to 0, are read
        // exactly once each here.
        (0..n).map(move |i| unsafe { self.bufs[i].assume_init_read() })
    }

    /// Frees every held mbuf in one call; returns how many.
    #[inline]
    pub fn free_all(&mut self) -> usize {
        self.free_front(self.len)
    }

    /// Frees the first `n` held mbufs (at most all) in one call; the rest
    /// move to the front. Returns how many were freed.
    #[inline]
    pub fn free_front(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        if n > 0 {
            // SAFETY: slots 0..n hold owned mbufs; they are freed here and
            // `consumed` drops them from the burst, so they are not touched
            // again.
            unsafe {
                sys::rte_pktmbuf_free_bulk(self.raw_ptr(), n as u32);
                self.consumed(n);
            }
        }
        n
    }

    /// Raw pointer to the slot array, for DPDK burst calls.
    #[inline]
    pub(crate) fn raw_ptr(&mut self) -> *mut *mut sys::rte_mbuf {
        self.bufs.as_mut_ptr() as *mut *mut sys::rte_mbuf
    }

    /// Room left.
    #[inline]
    pub(crate) fn spare(&self) -> usize {
        N - self.len
    }

    /// Marks `n` more slots (after the current ones) as filled by DPDK.
    ///
    /// # Safety
    /// DPDK must have written `n` owned mbuf pointers after the current length.
    #[inline]
    pub(crate) unsafe fn grow(&mut self, n: usize) {
        self.len += n;
    }

    /// Forgets the first `n` mbufs (DPDK took them) and shifts the rest down.
    ///
    /// # Safety
    /// DPDK must have taken ownership of the first `n` mbufs.
    #[inline]
    pub(crate) unsafe fn consumed(&mut self, n: usize) {
        let rest = self.len - n;
        if rest > 0 && n > 0 {
            let p = self.bufs.as_mut_ptr();
            // SAFETY: both ranges lie within the array; copy handles overlap.
            unsafe { std::ptr::copy(p.add(n), p, rest) };
        }
        self.len = rest;
    }
}

impl<const N: usize> Drop for Burst<N> {
    fn drop(&mut self) {
        self.free_all();
    }
}

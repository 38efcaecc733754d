//! Single-producer / single-consumer rings of mbufs (`rte_ring`).

use crate::error::{Error, Result};
use crate::mbuf::Burst;
use crate::prefetch;
use crate::sys;
use std::ffi::CString;
use std::os::raw::c_void;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

struct Inner {
    raw: NonNull<sys::rte_ring>,
}

// SAFETY: rte_ring is built for one producer and one consumer on different
// lcores; the split handles below enforce that.
unsafe impl Send for Inner {}
// SAFETY: as above; count/free_count are safe to read concurrently.
unsafe impl Sync for Inner {}

impl Drop for Inner {
    fn drop(&mut self) {
        // Both ends are gone: free whatever mbufs are left, then the ring.
        let mut burst: Burst<64> = Burst::new();
        loop {
            // SAFETY: no other handle exists any more; dequeued pointers are owned mbufs.
            let n = unsafe {
                sys::rte_ring_sc_dequeue_burst(
                    self.raw.as_ptr(),
                    burst.raw_ptr() as *mut *mut c_void,
                    64,
                    std::ptr::null_mut(),
                )
            };
            if n == 0 {
                break;
            }
            // SAFETY: DPDK wrote n owned mbuf pointers.
            unsafe { burst.grow(n as usize) };
            burst.free_all();
        }
        // SAFETY: we own the ring and it is empty.
        unsafe { sys::rte_ring_free(self.raw.as_ptr()) }
    }
}

/// Creates a ring of `size` slots (a power of two; holds `size - 1` mbufs)
/// for exactly one producer and one consumer.
pub fn mbuf_ring(name: &str, size: u32, socket: i32) -> Result<(Producer, Consumer)> {
    let what = || format!("create ring {name:?} of {size}");
    let cname = CString::new(name).map_err(|_| Error::msg(what(), "name has a NUL byte"))?;
    let flags = sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ;
    // SAFETY: valid C string; DPDK copies the name.
    let raw = unsafe { sys::rte_ring_create(cname.as_ptr(), size, socket, flags) };
    let raw = NonNull::new(raw).ok_or_else(|| Error::last(what()))?;
    let inner = Arc::new(Inner { raw });
    Ok((
        Producer {
            inner: inner.clone(),
            seen_tail: 0,
        },
        Consumer {
            inner,
            seen_tail: 0,
        },
    ))
}

/// The enqueue side of a ring (one lcore).
///
/// Enqueues follow `rte_ring_sp_enqueue_bulk` (copy into the free slots,
/// then publish the producer head and tail with release order), except that
/// the consumer's tail is re-read only when the room known to be free runs
/// short (the consumer's core writes that line on every dequeue).
pub struct Producer {
    inner: Arc<Inner>,
    /// The consumer tail as last read: slots before it plus the capacity
    /// are free.
    seen_tail: u32,
}

impl Producer {
    /// Enqueues all of the burst or nothing. On success the burst is empty;
    /// on failure (not enough room) it is unchanged. Returns success.
    #[inline]
    pub fn enqueue_bulk<const N: usize>(&mut self, burst: &mut Burst<N>) -> bool {
        let n = burst.len();
        self.enqueue_front(burst, n)
    }

    /// Enqueues the first `n` mbufs of the burst (at most its length) or
    /// nothing. On success they leave the burst and the rest move to its
    /// front; on failure it is unchanged. Returns success.
    #[inline]
    pub fn enqueue_front<const N: usize>(&mut self, burst: &mut Burst<N>, n: usize) -> bool {
        let n = n.min(burst.len()) as u32;
        if n == 0 {
            return true;
        }
        let r = self.inner.raw.as_ptr();
        // SAFETY: `r` is a live ring with this handle as its only producer,
        // so the producer head is ours. Slots from the head up to the
        // consumer tail (read with acquire order) plus the capacity are no
        // longer read by the consumer; the new entries become visible only
        // with the release store of the producer tail, after the copy. DPDK
        // keeps the `mask + 1` slots right after the ring header (`&r[1]`);
        // indexes are masked. On success the ring owns the n mbufs and the
        // burst forgets them.
        unsafe {
            let prod = &raw mut (*r).__bindgen_anon_1.prod;
            let head = (*prod).head;
            let cap = (*r).capacity;
            let mut free = cap.wrapping_add(self.seen_tail).wrapping_sub(head);
            if free < n {
                let tail = &raw const (*r).__bindgen_anon_2.cons.tail;
                self.seen_tail = (*(tail as *const AtomicU32)).load(Ordering::Acquire);
                free = cap.wrapping_add(self.seen_tail).wrapping_sub(head);
                if free < n {
                    return false;
                }
            }
            let mask = (*r).mask;
            let slots = r.add(1) as *mut *mut sys::rte_mbuf;
            let src = burst.raw_ptr();
            for i in 0..n {
                *slots.add((head.wrapping_add(i) & mask) as usize) = *src.add(i as usize);
            }
            let new = head.wrapping_add(n);
            (*(&raw mut (*prod).head as *const AtomicU32)).store(new, Ordering::Relaxed);
            (*(&raw mut (*prod).tail as *const AtomicU32)).store(new, Ordering::Release);
            burst.consumed(n as usize);
            true
        }
    }

    /// Mbufs currently queued.
    pub fn count(&self) -> u32 {
        // SAFETY: reading the ring's indexes is safe concurrently.
        unsafe { sys::rte_ring_count(self.inner.raw.as_ptr()) }
    }
}

/// The dequeue side of a ring (one lcore).
///
/// Dequeues follow `rte_ring_sc_dequeue_burst` (copy the slots, then publish
/// the consumer head and tail with release order), except that the
/// producer's tail is re-read only when the entries known to be filled run
/// short: that line is written by the producer's core on every enqueue, so
/// reading it on every dequeue was a cross-core miss per burst.
pub struct Consumer {
    inner: Arc<Inner>,
    /// The producer tail as last read: slots before it are filled.
    seen_tail: u32,
}

impl Consumer {
    /// Dequeues up to the burst's spare room; returns how many.
    #[inline]
    pub fn dequeue_burst<const N: usize>(&mut self, burst: &mut Burst<N>) -> usize {
        self.dequeue_burst_max(burst, N)
    }

    /// Dequeues at most `max` mbufs, and no more than the burst's spare
    /// room; returns how many.
    #[inline]
    pub fn dequeue_burst_max<const N: usize>(&mut self, burst: &mut Burst<N>, max: usize) -> usize {
        let room = burst.spare().min(max) as u32;
        let r = self.inner.raw.as_ptr();
        // SAFETY: `r` is a live ring with this handle as its only consumer,
        // so the consumer head is ours. Slots before the producer tail (read
        // with acquire order) are filled, and the producer does not reuse a
        // slot before the consumer tail passes it, which we store (release)
        // only after copying. DPDK keeps the `mask + 1` slots right after the
        // ring header (`&r[1]`); indexes are masked. The burst has `room`
        // free slots after its `len` filled ones.
        unsafe {
            let cons = &raw mut (*r).__bindgen_anon_2.cons;
            let head = (*cons).head;
            let mut avail = self.seen_tail.wrapping_sub(head);
            if avail < room {
                let tail = &raw const (*r).__bindgen_anon_1.prod.tail;
                self.seen_tail = (*(tail as *const AtomicU32)).load(Ordering::Acquire);
                avail = self.seen_tail.wrapping_sub(head);
            }
            let n = avail.min(room);
            if n == 0 {
                return 0;
            }
            let mask = (*r).mask;
            let slots = r.add(1) as *const *mut sys::rte_mbuf;
            let dst = burst.raw_ptr().add(burst.len());
            for i in 0..n {
                *dst.add(i as usize) = *slots.add((head.wrapping_add(i) & mask) as usize);
            }
            let new = head.wrapping_add(n);
            (*(&raw mut (*cons).head as *const AtomicU32)).store(new, Ordering::Relaxed);
            (*(&raw mut (*cons).tail as *const AtomicU32)).store(new, Ordering::Release);
            burst.grow(n as usize);
            n as usize
        }
    }

    /// Mbufs currently queued.
    pub fn count(&self) -> u32 {
        // SAFETY: reading the ring's indexes is safe concurrently.
        unsafe { sys::rte_ring_count(self.inner.raw.as_ptr()) }
    }

    /// Starts loading the slots of the next `n` mbuf pointers the next
    /// dequeue will read (they were written on the producer's core). A hint
    /// only: slots the producer has not filled yet are fetched again later.
    #[inline]
    pub fn prefetch_next(&self, n: u32) {
        let r = self.inner.raw.as_ptr();
        // SAFETY: `r` is a live ring; the consumer head is written only by
        // this (single) consumer. DPDK stores the slots right after the ring
        // header (`&r[1]`), `mask + 1` pointers; the index is masked.
        unsafe {
            let head = (*r).__bindgen_anon_2.cons.head;
            let mask = (*r).mask;
            let slots = r.add(1) as *const *mut c_void;
            let mut i = 0;
            while i < n {
                prefetch(slots.add((head.wrapping_add(i) & mask) as usize) as *const u8);
                i += 8;
            }
            prefetch(slots.add((head.wrapping_add(n - 1) & mask) as usize) as *const u8);
        }
    }
}

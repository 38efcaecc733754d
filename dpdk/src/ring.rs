//! Single-producer / single-consumer rings of mbufs (`rte_ring`).

use crate::error::{Error, Result};
use crate::mbuf::Burst;
use crate::sys;
use std::ffi::CString;
use std::os::raw::c_void;
use std::ptr::NonNull;
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
        },
        Consumer { inner },
    ))
}

/// The enqueue side of a ring (one lcore).
pub struct Producer {
    inner: Arc<Inner>,
}

impl Producer {
    /// Enqueues all of the burst or nothing. On success the burst is empty;
    /// on failure (not enough room) it is unchanged. Returns success.
    #[inline]
    pub fn enqueue_bulk<const N: usize>(&mut self, burst: &mut Burst<N>) -> bool {
        let n = burst.len() as u32;
        if n == 0 {
            return true;
        }
        // SAFETY: single producer (`&mut self` on the only Producer); on success
        // the ring owns the n mbufs and we forget them.
        unsafe {
            let done = sys::rte_ring_sp_enqueue_bulk(
                self.inner.raw.as_ptr(),
                burst.raw_ptr() as *const *mut c_void,
                n,
                std::ptr::null_mut(),
            );
            if done == n {
                burst.consumed(n as usize);
                true
            } else {
                false
            }
        }
    }

    /// Mbufs currently queued.
    pub fn count(&self) -> u32 {
        // SAFETY: reading the ring's indexes is safe concurrently.
        unsafe { sys::rte_ring_count(self.inner.raw.as_ptr()) }
    }
}

/// The dequeue side of a ring (one lcore).
pub struct Consumer {
    inner: Arc<Inner>,
}

impl Consumer {
    /// Dequeues up to the burst's spare room; returns how many.
    #[inline]
    pub fn dequeue_burst<const N: usize>(&mut self, burst: &mut Burst<N>) -> usize {
        let room = burst.spare() as u32;
        let len = burst.len();
        // SAFETY: single consumer; DPDK writes up to `room` owned mbuf pointers.
        unsafe {
            let n = sys::rte_ring_sc_dequeue_burst(
                self.inner.raw.as_ptr(),
                burst.raw_ptr().add(len) as *mut *mut c_void,
                room,
                std::ptr::null_mut(),
            );
            burst.grow(n as usize);
            n as usize
        }
    }

    /// Mbufs currently queued.
    pub fn count(&self) -> u32 {
        // SAFETY: reading the ring's indexes is safe concurrently.
        unsafe { sys::rte_ring_count(self.inner.raw.as_ptr()) }
    }
}

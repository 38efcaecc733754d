//! Packet-buffer mempools.

use crate::error::{Error, Result};
use crate::sys;
use std::ffi::CString;
use std::ptr::NonNull;

/// An mbuf pool (`rte_pktmbuf_pool_create`), freed on drop.
pub struct Mempool {
    raw: NonNull<sys::rte_mempool>,
    size: u32,
}

// SAFETY: rte_mempool is designed for concurrent use from many lcores
// (per-lcore caches plus a lock-free ring); the handle is just a pointer.
unsafe impl Send for Mempool {}
// SAFETY: as above; all operations used through &Mempool are thread-safe.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `n` mbufs with a per-lcore cache of `cache` and the
    /// default data room (2 KiB + headroom) on `socket`, held by the mempool
    /// driver `ops` (`"stack"`, `"ring_mp_mc"`, ...; `None`: the EAL's
    /// default, `--mbuf-pool-ops-name`).
    pub fn new_pktmbuf(
        name: &str,
        n: u32,
        cache: u32,
        socket: i32,
        ops: Option<&str>,
    ) -> Result<Mempool> {
        let what = || match ops {
            Some(o) => format!("create mempool {name:?} of {n} mbufs ({o})"),
            None => format!("create mempool {name:?} of {n} mbufs"),
        };
        let cname = CString::new(name).map_err(|_| Error::msg(what(), "name has a NUL byte"))?;
        let cops = ops
            .map(CString::new)
            .transpose()
            .map_err(|_| Error::msg(what(), "ops name has a NUL byte"))?;
        // SAFETY: valid C strings; DPDK copies the names. A null ops name
        // means the EAL's default.
        let raw = unsafe {
            sys::rte_pktmbuf_pool_create_by_ops(
                cname.as_ptr(),
                n,
                cache,
                0,
                sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16,
                socket,
                cops.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            )
        };
        match NonNull::new(raw) {
            Some(raw) => Ok(Mempool { raw, size: n }),
            None => Err(Error::last(what())),
        }
    }

    /// The raw pointer, for DPDK calls that take a pool.
    pub fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.raw.as_ptr()
    }

    /// How many mbufs the pool was created with.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Mbufs available (in the pool and the lcore caches).
    pub fn avail_count(&self) -> u32 {
        // SAFETY: valid pool pointer.
        unsafe { sys::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// Mbufs currently taken from the pool.
    pub fn in_use_count(&self) -> u32 {
        // SAFETY: valid pool pointer.
        unsafe { sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }

    /// Allocates one mbuf (None when the pool is empty).
    pub fn alloc(&self) -> Option<crate::mbuf::Mbuf> {
        // SAFETY: valid pool pointer; a returned mbuf is owned by the caller.
        let m = unsafe { sys::rte_pktmbuf_alloc(self.raw.as_ptr()) };
        // SAFETY: a non-null mbuf just allocated is exclusively ours.
        NonNull::new(m).map(|m| unsafe { crate::mbuf::Mbuf::from_raw(m) })
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: we own the pool; callers return mbufs before dropping it.
        unsafe { sys::rte_mempool_free(self.raw.as_ptr()) }
    }
}

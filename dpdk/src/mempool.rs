//! Packet-buffer mempools.

use crate::error::{Error, Result};
use crate::{sys, WritePrefetch};
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

    /// Bytes one mbuf of [`Mempool::new_pktmbuf`] takes in the pool's
    /// memory: object header, `rte_mbuf` and the default data room, as the
    /// mempool lays them out (before page rounding).
    pub fn pktmbuf_object_bytes() -> u32 {
        let elt = std::mem::size_of::<sys::rte_mbuf>() as u32 + sys::RTE_MBUF_DEFAULT_BUF_SIZE;
        let mut sz = sys::rte_mempool_objsz::default();
        // SAFETY: sz is a valid out-parameter; the call only computes.
        unsafe { sys::rte_mempool_calc_obj_size(elt, 0, &mut sz) }
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

/// The mempool cache of one lcore, seen from that lcore: which mbufs its
/// next allocations will return. Not `Send`: it must stay on the lcore it
/// was taken on (the one that allocates from it).
pub struct LcoreCache {
    cache: NonNull<sys::rte_mempool_cache>,
    prefetch: WritePrefetch,
}

impl LcoreCache {
    /// The calling lcore's cache of `pool` (None when the pool has no
    /// caches or the caller is not an EAL lcore).
    ///
    /// # Safety
    /// `pool` is a live mempool that outlives the returned handle.
    pub unsafe fn of_calling_lcore(pool: *mut sys::rte_mempool) -> Option<LcoreCache> {
        // SAFETY: `pool` is live (caller); the lookup only reads its header.
        let cache = unsafe { sys::rte_mempool_default_cache(pool, crate::eal::lcore_id()) };
        NonNull::new(cache).map(|cache| LcoreCache {
            cache,
            prefetch: WritePrefetch::detect(),
        })
    }

    /// The mbufs this lcore's next allocations from the pool will return,
    /// in that order: the top `n` of its cache (fewer if it holds fewer;
    /// beyond them the pool refills the cache from its shared store).
    #[inline]
    pub fn upcoming(&self, n: usize) -> impl Iterator<Item = *mut sys::rte_mbuf> + '_ {
        let c = self.cache.as_ptr();
        // SAFETY: the cache belongs to the calling lcore (taken on it, and
        // the handle cannot leave it), the only one that changes it, so
        // reading `len` and the object pointers below it races with nothing;
        // `len` never exceeds the `objs` array. The cache hands out objects
        // from its top down (`rte_mempool_do_generic_get`).
        let (objs, len) = unsafe {
            let len = ((*c).len as usize).min((*c).objs.len());
            (&raw const (*c).objs as *const *mut sys::rte_mbuf, len)
        };
        // SAFETY: `len - i` is in 0..len for i in 1..=min(n, len).
        (1..=n.min(len)).map(move |i| unsafe { *objs.add(len - i) })
    }

    /// Starts fetching, for writing, both header lines of the next `n`
    /// mbufs this lcore will take from its cache ([`LcoreCache::upcoming`]).
    /// A PMD that allocates mbufs (to receive into, or to refill its
    /// descriptors) writes both lines of every one of them; when another
    /// lcore freed them, each is a cache miss to that core, and the PMD's
    /// loop takes them one after the other. Prefetched a burst ahead, they
    /// overlap each other and the caller's work.
    #[inline]
    pub fn prefetch_next(&self, n: usize) {
        for m in self.upcoming(n) {
            // An object of a pktmbuf pool starts with its `rte_mbuf`, two
            // cache lines.
            let p = m as *const u8;
            self.prefetch.line(p);
            self.prefetch.line(p.wrapping_add(64));
        }
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: we own the pool; callers return mbufs before dropping it.
        unsafe { sys::rte_mempool_free(self.raw.as_ptr()) }
    }
}

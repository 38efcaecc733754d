//! A worker node's flow table: the set of flow keys the node owns, a
//! hashbrown table built for burst lookups.
//!
//! A node owns up to millions of flows, so a lookup usually misses the cache
//! twice (hashbrown's control group and its slot). [`FlowTable::contains_burst`]
//! hashes a whole burst first and prefetches every key's control group and
//! home slot, so the misses of a burst overlap instead of queueing one after
//! the other. The table's memory comes from [`TableAlloc`], which backs large
//! tables with transparent huge pages and remembers where hashbrown put its
//! control bytes (hashbrown does not expose them): prefetching uses
//! hashbrown's documented layout (slots below the control bytes, probing
//! starts at `hash & (buckets - 1)`), checked when the table is allocated; if
//! it ever differs, prefetching is switched off and lookups stay correct.

use crate::mem::prefetch;
use allocator_api2::alloc::{AllocError, Allocator};
use hashbrown::hash_table::{Entry, HashTable};
use hashbrown::DefaultHashBuilder;
use std::alloc::Layout;
use std::cell::Cell;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// hashbrown's control group width with SSE2 (bytes after the last bucket).
const GROUP_WIDTH: usize = 16;
/// Keys hashed and prefetched ahead of their lookups in
/// [`FlowTable::contains_burst`].
const LOOKAHEAD: usize = 32;

/// The set of flow keys one node owns.
pub struct FlowTable<K> {
    set: HashTable<K, TableAlloc<K>>,
    hasher: DefaultHashBuilder,
}

impl<K: Copy + Eq + Hash> FlowTable<K> {
    /// An empty table with room for `capacity` flows before it grows.
    pub fn with_capacity(capacity: usize) -> FlowTable<K> {
        FlowTable {
            set: HashTable::with_capacity_in(capacity, TableAlloc::default()),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// Adds a flow; false if it was already there.
    pub fn insert(&mut self, key: K) -> bool {
        let hasher = &self.hasher;
        match self
            .set
            .entry(hasher.hash_one(key), |&k| k == key, |&k| hasher.hash_one(k))
        {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(key);
                true
            }
        }
    }

    /// Removes a flow; false if it was not there.
    pub fn remove(&mut self, key: K) -> bool {
        match self
            .set
            .find_entry(self.hasher.hash_one(key), |&k| k == key)
        {
            Ok(e) => {
                e.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Whether the node owns the flow.
    #[inline]
    pub fn contains(&self, key: K) -> bool {
        self.set
            .find(self.hasher.hash_one(key), |&k| k == key)
            .is_some()
    }

    /// Number of flows.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether the table holds no flow.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// `owned[i] = contains(keys[i])` for a burst (`owned` at least as long
    /// as `keys`): hashes the keys and prefetches their control groups and
    /// home slots, 32 at a time, then looks those up.
    #[inline]
    pub fn contains_burst(&self, keys: &[K], owned: &mut [bool]) {
        let probe = self.set.allocator().probe();
        for (keys, owned) in keys.chunks(LOOKAHEAD).zip(owned.chunks_mut(LOOKAHEAD)) {
            let mut hashes = [0u64; LOOKAHEAD];
            for (h, &k) in hashes.iter_mut().zip(keys) {
                *h = self.hasher.hash_one(k);
                if let Some(p) = probe {
                    p.prefetch(*h, size_of::<K>() > 16);
                }
            }
            for ((o, &h), &k) in owned.iter_mut().zip(&hashes).zip(keys) {
                *o = self.set.find(h, |&x| x == k).is_some();
            }
        }
    }
}

impl<K: Copy + Eq + Hash> FromIterator<K> for FlowTable<K> {
    fn from_iter<I: IntoIterator<Item = K>>(iter: I) -> FlowTable<K> {
        let iter = iter.into_iter();
        let mut t = FlowTable::with_capacity(iter.size_hint().0);
        for k in iter {
            t.insert(k);
        }
        t
    }
}

impl<K> std::fmt::Debug for FlowTable<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowTable")
            .field("len", &self.set.len())
            .finish()
    }
}

/// Where the current table's control bytes are and how many buckets it has.
#[derive(Clone, Copy, Debug)]
struct Probe {
    ctrl: *const u8,
    mask: usize,
    slot: usize,
}

impl Probe {
    /// The layout of a table of `size` bytes at `base` with `slot`-byte
    /// entries aligned to `align`, if it is the one hashbrown uses
    /// (`buckets` slots, control bytes right after them aligned to the group
    /// width or the entry's alignment, plus one trailing group).
    fn from_allocation(base: *const u8, size: usize, slot: usize, align: usize) -> Option<Probe> {
        let buckets = size.checked_sub(GROUP_WIDTH)? / (slot + 1);
        let ctrl_offset = (buckets * slot).next_multiple_of(GROUP_WIDTH.max(align));
        (buckets >= 4 && buckets.is_power_of_two() && ctrl_offset + buckets + GROUP_WIDTH == size)
            .then(|| Probe {
                ctrl: base.wrapping_add(ctrl_offset),
                mask: buckets - 1,
                slot,
            })
    }

    #[inline(always)]
    fn home(&self, hash: u64) -> usize {
        hash as usize & self.mask
    }

    #[inline(always)]
    fn slot(&self, index: usize) -> *const u8 {
        self.ctrl.wrapping_sub((index + 1) * self.slot)
    }

    /// Prefetches the control group and the home slot of `hash`; if `wide`
    /// (entries wider than 16 bytes: the 5-tuple keys; known at compile
    /// time) also the home slot's last byte (such a slot often straddles
    /// two lines) and the next slot of the probe (below it), where a key
    /// displaced by one often sits.
    #[inline(always)]
    fn prefetch(&self, hash: u64, wide: bool) {
        let i = self.home(hash);
        prefetch(self.ctrl.wrapping_add(i));
        let home = self.slot(i);
        prefetch(home);
        if wide {
            prefetch(home.wrapping_add(self.slot - 1));
            prefetch(self.slot(i + 1));
        }
    }
}

/// The flow table's allocator: huge-page advised memory for large tables
/// (see `crate::mem`), and a record of the live table allocation for
/// prefetching of a table of `K`. Owned by its one table; `Send` (it moves
/// to the worker lcore with the table) but not `Sync`.
pub struct TableAlloc<K> {
    live: Cell<Option<(NonNull<u8>, usize)>>,
    entry: PhantomData<fn() -> K>,
}

impl<K> Default for TableAlloc<K> {
    fn default() -> Self {
        TableAlloc {
            live: Cell::new(None),
            entry: PhantomData,
        }
    }
}

// SAFETY: the recorded pointer is only an address (never dereferenced by the
// allocator); the allocator and its table move between threads together.
unsafe impl<K> Send for TableAlloc<K> {}

impl<K> TableAlloc<K> {
    fn probe(&self) -> Option<Probe> {
        let (p, size) = self.live.get()?;
        Probe::from_allocation(
            p.as_ptr(),
            size,
            std::mem::size_of::<K>(),
            std::mem::align_of::<K>(),
        )
    }
}

/// Tables of 1 MiB and more are padded to whole huge pages, so all of a
/// table is huge-page backed (a table of 262,144 flows is 2.6 MB; with its
/// tail on 4 KiB pages, several such tables on one lcore miss the TLB).
fn padded(layout: Layout) -> Layout {
    const HALF: usize = crate::mem::HUGE_PAGE / 2;
    if layout.size() >= HALF {
        let size = layout.size().next_multiple_of(crate::mem::HUGE_PAGE);
        Layout::from_size_align(size, layout.align()).unwrap_or(layout)
    } else {
        layout
    }
}

// SAFETY: memory comes from `mem::alloc_large` and goes back through
// `mem::dealloc_large` with the same layout; blocks are valid until freed.
unsafe impl<K> Allocator for TableAlloc<K> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            // hashbrown never asks for zero bytes; answer like a ZST allocation.
            let p = NonNull::new(layout.align() as *mut u8).ok_or(AllocError)?;
            return Ok(NonNull::slice_from_raw_parts(p, 0));
        }
        // SAFETY: nonzero size.
        let p = NonNull::new(unsafe { crate::mem::alloc_large(padded(layout), false) })
            .ok_or(AllocError)?;
        // hashbrown allocates exactly one table block at a time (a new one
        // before freeing the old when it grows): the latest is the live one.
        self.live.set(Some((p, layout.size())));
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    /// Returns a block to `mem::dealloc_large`.
    ///
    /// # Safety
    /// As [`Allocator::deallocate`]: `ptr` was allocated by this allocator with
    /// `layout`.
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() == 0 {
            return;
        }
        if self.live.get().is_some_and(|(p, _)| p == ptr) {
            self.live.set(None);
        }
        // SAFETY: allocated by `allocate` with this layout (caller), i.e. by
        // `alloc_large` with its padded layout.
        unsafe { crate::mem::dealloc_large(ptr.as_ptr(), padded(layout)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_semantics() {
        let mut t = FlowTable::<u32>::with_capacity(0);
        assert!(t.is_empty());
        for k in 0..10_000u32 {
            assert!(t.insert(k * 7));
        }
        assert!(!t.insert(7));
        assert_eq!(t.len(), 10_000);
        assert!(t.contains(0) && t.contains(7 * 9_999));
        assert!(!t.contains(1) && !t.contains(7 * 10_000));
        assert!(t.remove(7) && !t.remove(7) && !t.remove(8));
        assert!(!t.contains(7) && t.contains(14));
        assert_eq!(t.len(), 9_999);
    }

    #[test]
    fn burst_lookup_matches_single_lookups() {
        let t: FlowTable<u32> = (0..50_000u32)
            .map(|k| k.wrapping_mul(2_654_435_761))
            .collect();
        let keys: Vec<u32> = (0..1000u32)
            .map(|i| (i * 97).wrapping_mul(2_654_435_761) ^ (i & 1))
            .collect();
        for chunk in keys.chunks(32) {
            let mut owned = [false; 32];
            t.contains_burst(chunk, &mut owned);
            for (k, o) in chunk.iter().zip(owned) {
                assert_eq!(o, t.contains(*k), "key {k}");
            }
        }
        let mut owned = [true; 32];
        t.contains_burst(&[], &mut owned);
        // Longer than one lookahead, with a key type of another size.
        let t: FlowTable<u64> = (0..10_000u64).map(|k| k << 20).collect();
        let keys: Vec<u64> = (0..300u64).map(|i| (i * 50) << 20).collect();
        let mut owned = vec![false; 300];
        t.contains_burst(&keys, &mut owned);
        for (k, o) in keys.iter().zip(&owned) {
            assert_eq!(*o, t.contains(*k), "key {k}");
        }
        assert!(owned.iter().any(|&o| o) && owned.iter().any(|&o| !o));
    }

    /// Prefetching relies on hashbrown's table layout: most keys of a table
    /// sit within two control groups of their home slot, counted around the
    /// table (typically > 95 %; the bound leaves room for unlucky seeds of
    /// the random hasher). If a hashbrown update changed the layout, the
    /// derived slot indexes would be noise (< 1 % near) and this fails; in
    /// the appliance prefetching would only be useless, never wrong. This is
    /// why Cargo.toml pins hashbrown to one exact version.
    #[test]
    fn prefetch_targets_the_home_slots() {
        for n in [5_000usize, 20_000, 1 << 20] {
            let t: FlowTable<u32> = (0..n as u32).collect();
            let p = t.set.allocator().probe().expect("table layout recognised");
            let mut near = 0;
            for k in 0..n as u32 {
                let hash = t.hasher.hash_one(k);
                let slot = t.set.find(hash, |&x| x == k).unwrap() as *const u32 as usize;
                // Slots grow downwards from the control bytes.
                let index = (p.ctrl as usize - slot) / p.slot - 1;
                if index.wrapping_sub(p.home(hash)) & p.mask < 2 * GROUP_WIDTH {
                    near += 1;
                }
            }
            assert!(
                near * 2 >= n,
                "n {n}: only {near} keys near their home slot"
            );
        }
    }

    /// The layout is recognised for the wide key kinds' sizes (13 and 37
    /// bytes, alignment 1) too, so their tables are prefetched.
    #[test]
    fn wide_keys_tables_are_recognised() {
        fn check<K: crate::key::FlowKey>() {
            for n in [100usize, 5_000, 100_000] {
                let t: FlowTable<K> = (0..n as u32).map(K::seed).collect();
                assert!(
                    t.set.allocator().probe().is_some(),
                    "{} n {n}: size {}",
                    K::KIND,
                    std::mem::size_of::<K>()
                );
                assert!((0..n as u32).all(|i| t.contains(K::seed(i))));
            }
        }
        check::<crate::key::Ipv4SrcDst>();
        check::<crate::key::Ipv4FiveTuple>();
        check::<crate::key::Ipv6Dst>();
        check::<crate::key::Ipv6FiveTuple>();
        check::<crate::key::FiveTuple>();
    }

    #[test]
    fn table_survives_growth_and_moves_between_threads() {
        let mut t = FlowTable::<u32>::with_capacity(4);
        for k in 0..100_000u32 {
            t.insert(k);
        }
        assert!(t.set.allocator().probe().is_some());
        let t = std::thread::spawn(move || {
            assert!((0..100_000u32).all(|k| t.contains(k)));
            t
        })
        .join()
        .unwrap();
        assert!(!t.contains(100_000));
    }
}

//! A worker node's flow table: the set of flows the node owns, a hashbrown
//! table built for burst lookups.
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
//!
//! What the table holds is its [`FlowMatch`]: the keys themselves (`exact`,
//! the C sample's check), or a 64-bit keyed fingerprint of each key
//! (`fingerprint`: 8 bytes a slot whatever the key's width, so a table of a
//! million 37-byte keys fits a CPU's L3 cache where the keys do not).

use crate::mem::prefetch;
use allocator_api2::alloc::{AllocError, Allocator};
use hashbrown::hash_table::{Entry, HashTable};
use hashbrown::{DefaultHashBuilder, HashMap};
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

/// How a node's flow table decides that the node owns a packet's flow
/// (configuration: `flow_match`, whose default, `auto`, is
/// [`FlowMatch::auto`] of the key's width; a table's own default is
/// `Exact`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlowMatch {
    /// The table holds each flow's key; a flow is owned only if its key is
    /// in the table (the C sample's check). Slots are as wide as the key.
    #[default]
    Exact,
    /// The table holds a 64-bit fingerprint of each flow's key, keyed by a
    /// random per-table seed. A flow not in the table (one the EFD table
    /// sent here arbitrarily) is taken for an owned one only if its
    /// fingerprint equals one of the table's `n`: about `n / 2^64` per such
    /// packet (one in 1.8 * 10^13 at a million flows). Slots are 8 bytes, so
    /// it is offered for keys wider than 8 bytes only.
    Fingerprint,
}

impl FlowMatch {
    /// Narrowest key (bytes) a fingerprint table is offered for: at 8 bytes
    /// or fewer the key is no wider than its fingerprint.
    pub const FINGERPRINT_MIN_KEY: usize = 9;

    /// The configuration name.
    pub const fn name(self) -> &'static str {
        match self {
            FlowMatch::Exact => "exact",
            FlowMatch::Fingerprint => "fingerprint",
        }
    }

    /// Bytes of one slot of a node table of keys `K` holding what `self`
    /// says: the key, or its fingerprint.
    pub const fn slot_bytes<K>(self) -> usize {
        match self {
            FlowMatch::Exact => size_of::<K>(),
            FlowMatch::Fingerprint => size_of::<u64>(),
        }
    }

    /// The configuration's name of the default, [`FlowMatch::auto`].
    pub const AUTO: &'static str = "auto";

    /// The mode the default (`flow_match = "auto"`) picks for keys of
    /// `key_len` bytes: fingerprints for keys wider than 8 bytes (8-byte
    /// slots instead of 13 to 37: a third to three quarters less memory, a
    /// million `ipv6_5tuple` flows in 19 MiB instead of 77), the keys
    /// themselves otherwise (no wider than a fingerprint).
    pub const fn auto(key_len: usize) -> FlowMatch {
        if key_len >= FlowMatch::FINGERPRINT_MIN_KEY {
            FlowMatch::Fingerprint
        } else {
            FlowMatch::Exact
        }
    }

    /// The mode named `name` for keys of `key_len` bytes (`auto`: the one
    /// [`FlowMatch::auto`] picks).
    pub fn from_name(name: &str, key_len: usize) -> Option<FlowMatch> {
        if name == FlowMatch::AUTO {
            return Some(FlowMatch::auto(key_len));
        }
        [FlowMatch::Exact, FlowMatch::Fingerprint]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// The set of flows one node owns.
pub struct FlowTable<K> {
    members: Members<K>,
}

/// What a [`FlowTable`] holds, by its [`FlowMatch`].
enum Members<K> {
    Exact {
        set: HashTable<K, TableAlloc<K>>,
        hasher: DefaultHashBuilder,
    },
    Fingerprint(Fingerprints),
}

/// A fingerprint table's state ([`FlowMatch::Fingerprint`]).
struct Fingerprints {
    /// Fingerprints, each its own hash (a uniform 64-bit value).
    set: HashTable<u64, TableAlloc<u64>>,
    hasher: foldhash::quality::RandomState,
    /// Bits of the fingerprint kept: all but in tests of collisions.
    mask: u64,
    /// Fingerprints held by more than one flow: how many more. Nearly
    /// always empty (two of a million keys share a 64-bit fingerprint with
    /// odds of about 3 in 10^8); looked at only by adds and removes, so a
    /// removed flow never takes another flow's fingerprint with it.
    shared: HashMap<u64, u32>,
    /// Flows, counting each one sharing a fingerprint.
    len: usize,
}

impl Fingerprints {
    /// The fingerprint of `key`.
    #[inline(always)]
    fn of<K: Hash>(&self, key: K) -> u64 {
        self.hasher.hash_one(key) & self.mask
    }

    /// Counts one more flow of fingerprint `f`.
    fn insert(&mut self, f: u64) {
        match self.set.entry(f, |&x| x == f, |&x| x) {
            Entry::Occupied(_) => *self.shared.entry(f).or_insert(0) += 1,
            Entry::Vacant(v) => {
                v.insert(f);
            }
        }
        self.len += 1;
    }

    /// Counts one flow of fingerprint `f` less; false if there was none.
    fn remove(&mut self, f: u64) -> bool {
        if let Some(more) = self.shared.get_mut(&f) {
            *more -= 1;
            if *more == 0 {
                self.shared.remove(&f);
            }
        } else {
            match self.set.find_entry(f, |&x| x == f) {
                Ok(e) => {
                    e.remove();
                }
                Err(_) => return false,
            }
        }
        self.len -= 1;
        true
    }
}

impl<K> FlowTable<K> {
    /// What the table holds.
    pub fn kind(&self) -> FlowMatch {
        match self.members {
            Members::Exact { .. } => FlowMatch::Exact,
            Members::Fingerprint(_) => FlowMatch::Fingerprint,
        }
    }

    /// Number of flows.
    pub fn len(&self) -> usize {
        match &self.members {
            Members::Exact { set, .. } => set.len(),
            Members::Fingerprint(fp) => fp.len,
        }
    }

    /// Whether the table holds no flow.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the table's allocation (`app::memory::table_bytes` of its
    /// capacity and [`FlowMatch::slot_bytes`]).
    pub fn allocation_size(&self) -> usize {
        match &self.members {
            Members::Exact { set, .. } => set.allocation_size(),
            Members::Fingerprint(fp) => fp.set.allocation_size() + fp.shared.allocation_size(),
        }
    }
}

impl<K: Copy + Eq + Hash> FlowTable<K> {
    /// An empty table holding keys, with room for `capacity` flows before
    /// it grows.
    pub fn with_capacity(capacity: usize) -> FlowTable<K> {
        FlowTable::new(FlowMatch::Exact, capacity)
    }

    /// An empty table of the given kind with room for `capacity` flows
    /// before it grows.
    pub fn new(kind: FlowMatch, capacity: usize) -> FlowTable<K> {
        FlowTable::with_mask(kind, capacity, u64::MAX)
    }

    /// A fingerprint table keeping only `bits` of each fingerprint, so that
    /// tests can make keys share one.
    #[cfg(test)]
    fn with_fingerprint_bits(capacity: usize, bits: u32) -> FlowTable<K> {
        FlowTable::with_mask(FlowMatch::Fingerprint, capacity, (1u64 << bits) - 1)
    }

    fn with_mask(kind: FlowMatch, capacity: usize, mask: u64) -> FlowTable<K> {
        let members = match kind {
            FlowMatch::Exact => Members::Exact {
                set: HashTable::with_capacity_in(capacity, TableAlloc::default()),
                hasher: DefaultHashBuilder::default(),
            },
            FlowMatch::Fingerprint => Members::Fingerprint(Fingerprints {
                set: HashTable::with_capacity_in(capacity, TableAlloc::default()),
                hasher: foldhash::quality::RandomState::default(),
                mask,
                shared: HashMap::new(),
                len: 0,
            }),
        };
        FlowTable { members }
    }

    /// Adds a flow; false if it was already there. A fingerprint table
    /// cannot tell a key already in from another key of the same
    /// fingerprint: it counts the flow again and answers true, and the
    /// fingerprint stays until as many removes. The control plane adds a
    /// key to a node once and removes it once.
    pub fn insert(&mut self, key: K) -> bool {
        match &mut self.members {
            Members::Exact { set, hasher } => {
                match set.entry(hasher.hash_one(key), |&k| k == key, |&k| hasher.hash_one(k)) {
                    Entry::Occupied(_) => false,
                    Entry::Vacant(v) => {
                        v.insert(key);
                        true
                    }
                }
            }
            Members::Fingerprint(fp) => {
                fp.insert(fp.of(key));
                true
            }
        }
    }

    /// Removes a flow; false if it was not there. From a fingerprint table,
    /// a key that is not in but shares a fingerprint with one that is
    /// removes that one (the control plane removes only keys it added).
    pub fn remove(&mut self, key: K) -> bool {
        match &mut self.members {
            Members::Exact { set, hasher } => {
                match set.find_entry(hasher.hash_one(key), |&k| k == key) {
                    Ok(e) => {
                        e.remove();
                        true
                    }
                    Err(_) => false,
                }
            }
            Members::Fingerprint(fp) => fp.remove(fp.of(key)),
        }
    }

    /// Whether the node owns the flow.
    #[inline]
    pub fn contains(&self, key: K) -> bool {
        match &self.members {
            Members::Exact { set, hasher } => {
                set.find(hasher.hash_one(key), |&k| k == key).is_some()
            }
            Members::Fingerprint(fp) => {
                let f = fp.of(key);
                fp.set.find(f, |&x| x == f).is_some()
            }
        }
    }

    /// `owned[i] = contains(keys[i])` for a burst (`owned` at least as long
    /// as `keys`): hashes the keys and prefetches their control groups and
    /// home slots, 32 at a time, then looks those up.
    #[inline]
    pub fn contains_burst(&self, keys: &[K], owned: &mut [bool]) {
        match &self.members {
            Members::Exact { set, hasher } => {
                contains_burst_in(set, keys, owned, |k| hasher.hash_one(k), |&x, _, k| x == k)
            }
            Members::Fingerprint(fp) => {
                contains_burst_in(&fp.set, keys, owned, |k| fp.of(k), |&x, f, _| x == f)
            }
        }
    }
}

/// [`FlowTable::contains_burst`] on one kind of set: `hash` gives a key's
/// hash, `is(slot, hash, key)` whether a slot holds the key.
#[inline(always)]
fn contains_burst_in<T: Copy, K: Copy>(
    set: &HashTable<T, TableAlloc<T>>,
    keys: &[K],
    owned: &mut [bool],
    hash: impl Fn(K) -> u64,
    is: impl Fn(&T, u64, K) -> bool,
) {
    let probe = set.allocator().probe();
    for (keys, owned) in keys.chunks(LOOKAHEAD).zip(owned.chunks_mut(LOOKAHEAD)) {
        let mut hashes = [0u64; LOOKAHEAD];
        for (h, &k) in hashes.iter_mut().zip(keys) {
            *h = hash(k);
            if let Some(p) = probe {
                p.prefetch(*h, size_of::<T>() > 16);
            }
        }
        for ((o, &h), &k) in owned.iter_mut().zip(&hashes).zip(keys) {
            *o = set.find(h, |x| is(x, h, k)).is_some();
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
            .field("kind", &self.kind())
            .field("len", &self.len())
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

    impl<K> FlowTable<K> {
        /// The prefetch layout recognised for the live table, if any.
        fn probe(&self) -> Option<Probe> {
            match &self.members {
                Members::Exact { set, .. } => set.allocator().probe(),
                Members::Fingerprint(fp) => fp.set.allocator().probe(),
            }
        }
    }

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
            let p = t.probe().expect("table layout recognised");
            let Members::Exact { set, hasher } = &t.members else {
                unreachable!()
            };
            let mut near = 0;
            for k in 0..n as u32 {
                let hash = hasher.hash_one(k);
                let slot = set.find(hash, |&x| x == k).unwrap() as *const u32 as usize;
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
                    t.probe().is_some(),
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

    /// A 13-byte key from a number (distinct numbers, distinct keys).
    fn key13(i: u32) -> [u8; 13] {
        let mut k = [7u8; 13];
        k[..4].copy_from_slice(&i.to_le_bytes());
        k[9..].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
        k
    }

    #[test]
    fn fingerprint_set_semantics() {
        let mut t = FlowTable::<[u8; 13]>::new(FlowMatch::Fingerprint, 0);
        assert_eq!(t.kind(), FlowMatch::Fingerprint);
        assert!(t.is_empty());
        for i in 0..10_000 {
            assert!(t.insert(key13(i)));
        }
        assert_eq!(t.len(), 10_000);
        assert!((0..10_000).all(|i| t.contains(key13(i))));
        assert!((10_000..20_000).all(|i| !t.contains(key13(i))));
        assert!(t.remove(key13(7)) && !t.remove(key13(7)) && !t.remove(key13(10_000)));
        assert!(!t.contains(key13(7)) && t.contains(key13(8)));
        assert_eq!(t.len(), 9_999);
        assert!(t.probe().is_some(), "8-byte slots prefetched");
    }

    /// Keys that share a fingerprint (6 bits kept: 64 fingerprints for 1000
    /// keys): each is owned until it is removed, whichever of them goes
    /// first, and the table is empty after the last.
    #[test]
    fn shared_fingerprints_are_counted() {
        let mut t = FlowTable::<[u8; 13]>::with_fingerprint_bits(0, 6);
        let n = 1000;
        for i in 0..n {
            assert!(t.insert(key13(i)));
        }
        assert_eq!(t.len(), n as usize);
        let Members::Fingerprint(Fingerprints { set, shared, .. }) = &t.members else {
            unreachable!()
        };
        assert!(set.len() <= 64 && !shared.is_empty());
        // Remove in an order unrelated to the insertion's.
        let order: Vec<u32> = (0..n).map(|i| (i * 389) % n).collect();
        for (done, &i) in order.iter().enumerate() {
            assert!(t.remove(key13(i)), "key {i}");
            assert_eq!(t.len(), (n as usize) - done - 1);
            for &j in &order[done + 1..] {
                assert!(t.contains(key13(j)), "key {j} lost when {i} went");
            }
        }
        assert!(t.is_empty() && !t.remove(key13(0)));
        assert!((0..n).all(|i| !t.contains(key13(i))));
        let Members::Fingerprint(Fingerprints { set, shared, .. }) = &t.members else {
            unreachable!()
        };
        assert!(set.is_empty() && shared.is_empty());
    }

    /// A million 37-byte keys: none of a million others is taken for one
    /// of them (this fails with odds of about 2^-24 per run).
    #[test]
    fn fingerprints_tell_a_million_keys_apart() {
        use crate::key::{FlowKey, Ipv6FiveTuple};
        let n = 1u32 << 20;
        let mut t = FlowTable::<Ipv6FiveTuple>::new(FlowMatch::Fingerprint, n as usize);
        for i in 0..n {
            t.insert(Ipv6FiveTuple::seed(i));
        }
        let keys: Vec<Ipv6FiveTuple> = (0..2 * n).map(Ipv6FiveTuple::seed).collect();
        let mut owned = vec![false; keys.len()];
        t.contains_burst(&keys, &mut owned);
        assert!(owned[..n as usize].iter().all(|&o| o));
        assert_eq!(owned[n as usize..].iter().filter(|&&o| o).count(), 0);
        // Keys one bit apart from owned ones.
        for i in (0..n).step_by(97) {
            let mut b = Ipv6FiveTuple::seed(i).to_bytes();
            b[(i % 37) as usize] ^= 1 << (i % 8);
            assert!(!t.contains(Ipv6FiveTuple::from_bytes(&b)));
        }
    }

    #[test]
    fn fingerprint_burst_lookup_matches_single_lookups() {
        let mut t = FlowTable::<[u8; 13]>::new(FlowMatch::Fingerprint, 0);
        for i in 0..50_000 {
            t.insert(key13(i * 3));
        }
        let keys: Vec<[u8; 13]> = (0..1000).map(|i| key13(i * 7)).collect();
        let mut owned = vec![false; keys.len()];
        t.contains_burst(&keys, &mut owned);
        for (k, o) in keys.iter().zip(&owned) {
            assert_eq!(*o, t.contains(*k));
        }
        assert!(owned.iter().any(|&o| o) && owned.iter().any(|&o| !o));
    }

    #[test]
    fn table_survives_growth_and_moves_between_threads() {
        let mut t = FlowTable::<u32>::with_capacity(4);
        for k in 0..100_000u32 {
            t.insert(k);
        }
        assert!(t.probe().is_some());
        let t = std::thread::spawn(move || {
            assert!((0..100_000u32).all(|k| t.contains(k)));
            t
        })
        .join()
        .unwrap();
        assert!(!t.contains(100_000));
    }
}

//! Native Elastic Flow Distributor (EFD): a key → small value (node id) map
//! whose lookup table does not store the keys. Plain Rust + `std` (AVX2 and
//! AVX-512 with run-time detection); no DPDK dependency.
//!
//! Design notes (the measurements behind the lookup): `DESIGN.md` beside this file.
//!
//! # Design: XOR-parity groups with threshold bumping
//!
//! Every key is hashed once into a 64-bit *row mask* `r` (nonzero) and a
//! 32-bit *base*. Each level `l` derives from the base, with its own seed, a
//! group index `g` (multiply-shift range reduction) and an 8-bit fingerprint
//! `fp`. A group stores `v` words `W_0..W_{v-1}` (`v` = value width in bits)
//! and a key's value is `bit b = parity(popcount(r & W_b))`; for 8-bit values
//! a group is exactly one 64-byte cache line.
//!
//! Each group has an 8-bit *threshold* `t`: a key with `fp > t` is *bumped*
//! to the next level (4 levels, each much smaller than the previous; the last
//! has slack and its threshold is never lowered). Level 1 is sized so that
//! its groups are mostly full (~59 keys of 64 possible rows at 95% load);
//! ~4% of keys are answered from level 2.
//!
//! The writer keeps, per group, the keys and values it holds (64 fixed slots)
//! and a cache of up to 16 vectors of the null space of the group's rows.
//! Inserting a key that does not already read its value takes a cached
//! null-space vector `n` with `r·n = 1` and flips `W_b ^= n` for every wrong
//! bit: the other keys' values are unchanged, so most inserts cost O(64) bit
//! operations. Otherwise the group is re-solved by Gauss-Jordan elimination
//! over GF(2) (rows `r_k`, augmented with the `v` value bits). If the system
//! is unsolvable or the slots are full, the threshold is lowered until the
//! keys with `fp <= t` solve, the bumped keys are inserted into the next
//! level *first*, and only then is the group published. A failure anywhere
//! (last level full) rolls every touched group back, writer side and online
//! words/thresholds alike, so a failed insert leaves the table exactly as it
//! was. A remove only drops the key from the writer side: the online
//! solution still satisfies all other keys, and the slot is free again.
//!
//! # Concurrency
//!
//! One [`Efd`] (the writer, `&mut self`) and any number of [`EfdReader`]s
//! (`Clone + Send + Sync`, sharing the online table through an `Arc`).
//! Each group has an 8-bit threshold in a separate array, and each stripe of
//! 64 consecutive groups a seqlock version (`u32`, odd while the writer
//! rewrites one of its groups): both stay cache-hot, 1.06 bytes per group.
//! All shared memory is atomics. Readers never block the writer and never
//! return a value from a half-written group: a reader that sees a busy or
//! changed version retries that group. A key moves only to deeper levels,
//! and the deeper level is always published before the group that bumps it,
//! so a reader finds every key in every intermediate state. A moving key
//! reads its old or its new value; all other keys always read their value.
//!
//! A table-wide epoch (odd during every publish) lets the SIMD bulk lookups
//! (AVX2, AVX-512) skip the stripes' versions: a batch read between two
//! equal, even epoch loads saw no write at all. If the epoch moved, that
//! batch is read again under the stripes' versions, and so are the rest of
//! that call's batches: a batch that overlaps a write costs up to about
//! twice as much.
//!
//! # Deviations from the suggested design
//!
//! * The fingerprint test is `fp > t` (bumped), with `t = 255` meaning "none
//!   bumped", so the threshold needs no extra bit.
//! * Values of 5 to 7 bits use 8 words per group (the AVX2 path loads two
//!   full 256-bit halves); 1, 2, 3, 4 and 8 bits use exactly `v` words, so
//!   groups of 1/2/4-bit tables pack 8/4/2 per cache line.
//! * 4-byte keys are hashed with 32-bit multiply-xorshift mixers only, so the
//!   AVX2 path hashes 8 keys per instruction sequence (`vpmulld`); the row
//!   mask is two independent 32-bit bijections of the key, which also makes
//!   it injective (two different 4-byte keys never share a row).
//! * Thresholds are not raised by removes (that would need the deeper
//!   levels searched for keys of the group); removed keys' slots are reused
//!   by new keys of the same group. [`Efd::reclaim`] raises them in one
//!   pass over the deeper levels, moving keys back up: the control plane
//!   runs it after changes, since inserts into full groups keep lowering
//!   thresholds, and a table with churn would otherwise fill its small
//!   deeper levels (a 95 %-full table refused inserts after about a third
//!   of its flows had been replaced).
//!
//! # Example
//!
//! ```
//! use efd_lb::efd::{Efd, InsertOutcome};
//! let mut efd = Efd::<4>::new(1000, 8).unwrap();
//! assert_eq!(efd.insert(&[10, 0, 0, 1], 3), Ok(InsertOutcome::Inserted));
//! let reader = efd.reader(); // Send + Sync + Clone, for other threads
//! let mut out = [0u8; 2];
//! efd.insert(&[10, 0, 0, 2], 7).unwrap();
//! reader.lookup_bulk(&[[10, 0, 0, 1], [10, 0, 0, 2]], &mut out);
//! assert_eq!(out, [3, 7]);
//! ```

mod hash;
mod online;
mod solve;

pub use online::LookupPath;

use crate::mem::prefetch;
use hash::{key_hash, locate, KeyHash, Seeds, MAX_LEVELS};
use online::Online;
use solve::{eval_words, Elim};
use std::fmt;
use std::sync::Arc;

/// Key slots per group on the writer side (= columns of a row mask).
const SLOTS: usize = 64;
/// Cached null-space vectors per group.
const NB: usize = 16;
/// Default hash seed.
const DEFAULT_SEED: u64 = 0x0efd_5eed_2026_0001;

/// Why an operation failed. A failed operation leaves the table unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EfdError {
    /// The capacity must be between 1 and 2^30 keys.
    InvalidCapacity(usize),
    /// The value width must be between 1 and 8 bits.
    InvalidValueBits(u32),
    /// The value does not fit into the table's value width.
    ValueTooWide {
        /// The value given.
        value: u8,
        /// The table's value width, in bits.
        bits: u32,
    },
    /// No room for the key: its group at the last level cannot take it.
    TableFull,
}

impl fmt::Display for EfdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EfdError::InvalidCapacity(c) => {
                write!(f, "invalid EFD capacity {c} (must be 1..=2^30)")
            }
            EfdError::InvalidValueBits(b) => {
                write!(f, "invalid EFD value width {b} bits (must be 1..=8)")
            }
            EfdError::ValueTooWide { value, bits } => {
                write!(f, "value {value} does not fit into {bits} bits")
            }
            EfdError::TableFull => write!(f, "EFD table full: no room for the key"),
        }
    }
}

impl std::error::Error for EfdError {}

/// What [`Efd::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The key was new.
    Inserted,
    /// The key existed with another value.
    Updated,
    /// The key existed with this value already; nothing changed.
    Unchanged,
}

/// What [`Efd::reclaim`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Groups whose threshold was raised.
    pub groups: usize,
    /// Keys moved back up to a shallower level.
    pub keys: usize,
}

/// Number of groups per level for a capacity. Level 1 has a mean of 62 keys
/// per group at full capacity (58.9 at 95%); groups saturate at ~61 (a
/// group that bumps keeps [`BUMP_HEADROOM`] rows free), so 4% of the keys
/// are bumped at 95% load. Every bumped key costs the lookup a second line
/// and a scalar probe: 66 keys per group bumped 7.2%, and its 1M-key
/// lookups measured 9% slower for 0.24 bits/key less. Level 2 is sized for
/// 7% of the capacity at 56 keys per group, levels 3 and 4 for what
/// overflows from there, with slack (the first failed insert comes at
/// ~103% of the capacity).
fn geometry(capacity: usize) -> [u32; MAX_LEVELS] {
    let c = capacity as f64;
    let g = |keys: f64, per_group: f64, min: f64| (keys / per_group).ceil().max(min) as u32;
    [
        g(c, 62.0, 1.0),
        g(c * 0.07, 56.0, 1.0),
        g(c * 0.0015, 32.0, 2.0),
        g(c * 0.0003, 16.0, 2.0),
    ]
}

/// Writer-side state of one level.
struct WLevel<const N: usize> {
    keys: Vec<[u8; N]>,
    vals: Vec<u8>,
    count: Vec<u8>,
    basis: Vec<[u64; NB]>,
    nbasis: Vec<u8>,
}

impl<const N: usize> WLevel<N> {
    fn new(n: usize) -> Self {
        WLevel {
            keys: vec![[0u8; N]; n * SLOTS],
            vals: vec![0; n * SLOTS],
            count: vec![0; n],
            basis: vec![[0; NB]; n],
            nbasis: vec![0; n],
        }
    }

    /// Keys stored in the level.
    fn len(&self) -> usize {
        self.count.iter().map(|&c| c as usize).sum()
    }

    fn bytes(&self) -> usize {
        self.keys.capacity() * N
            + self.vals.capacity()
            + self.count.capacity()
            + self.basis.capacity() * 8 * NB
            + self.nbasis.capacity()
    }
}

/// Snapshot of a group taken before an operation modifies it.
struct UndoRec {
    level: u8,
    g: u32,
    count: u8,
    nbasis: u8,
    thresh: u8,
    off: usize,
    basis: [u64; NB],
    words: [u64; 8],
}

struct Undo<const N: usize> {
    recs: Vec<UndoRec>,
    keys: Vec<[u8; N]>,
    vals: Vec<u8>,
}

/// A key of a group being re-solved.
#[derive(Clone, Copy)]
struct Item {
    r: u64,
    base: u32,
    fp: u8,
    val: u8,
    /// Slot index, [`NEW`] for the key being inserted, or an entry index
    /// (bulk build).
    idx: u32,
}

const NEW: u32 = u32::MAX;
/// Marks an [`Item::idx`] as an index into [`Efd::reclaim`]'s list of
/// deeper keys.
const CANDIDATE: u32 = 1 << 31;

/// Outcome of solving a group's keys, possibly with bumping.
struct Solved {
    /// `items[..kept]` stay in the group, `items[kept..]` are bumped.
    kept: usize,
    /// New threshold (`None`: unchanged).
    thresh: Option<u8>,
    /// The group's new solution words.
    words: [u64; 8],
    /// Null-space vectors for the writer's cache.
    basis: [u64; NB],
    nbasis: u8,
}

/// From this many keys on, a group that may bump is solved in fingerprint
/// order at once instead of first trying all keys unsorted.
const SORT_FIRST: usize = 48;

/// Free rows a group keeps after it bumps keys. A group that bumps is full,
/// and with no headroom every further key of it (fingerprint below the new
/// threshold) needs a re-solve and bumps again. 4 rows cut the re-solves of
/// full groups by ~64 % (of groups with 56+ keys by a third) in a 1M-key
/// build, for ~1 % more keys on level 2 (which is sized for it).
const BUMP_HEADROOM: usize = 4;

/// Solve `items` as one group. Without bumping (`thresh: None`) if they fit
/// and solve; else, if `may_bump`, sort by fingerprint and keep the longest
/// prefix of whole fingerprint classes that solves. `None`: impossible.
fn solve_group(items: &mut [Item], may_bump: bool, vbits: u32) -> Option<Solved> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt")
    {
        if solve::fast_supported() {
            // SAFETY: the features were just detected.
            return unsafe { solve_group_fast(items, may_bump, vbits) };
        }
        // SAFETY: the features were just detected.
        return unsafe { solve_group_avx2(items, may_bump, vbits) };
    }
    // SAFETY: the portable path.
    unsafe { solve_group_impl::<false>(items, may_bump, vbits) }
}

/// [`solve_group_impl`] compiled with AVX2 and POPCNT.
///
/// # Safety
/// The CPU has AVX2 and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn solve_group_avx2(items: &mut [Item], may_bump: bool, vbits: u32) -> Option<Solved> {
    // SAFETY: the portable path.
    unsafe { solve_group_impl::<false>(items, may_bump, vbits) }
}

/// [`solve_group_impl`] compiled with AVX2, POPCNT and BMI2, with the
/// `FAST` null basis and transposes of [`Elim`] (`pext`, `vpmovmskb`): a
/// third of a re-solve's time went to them (a bulk load of 1M new keys
/// re-solves ~65k groups).
///
/// # Safety
/// The CPU has AVX2, POPCNT and BMI2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi2")]
unsafe fn solve_group_fast(items: &mut [Item], may_bump: bool, vbits: u32) -> Option<Solved> {
    // SAFETY: the caller's.
    unsafe { solve_group_impl::<true>(items, may_bump, vbits) }
}

/// Solves a group (see [`solve_group`]).
///
/// # Safety
/// With `FAST`, the CPU has AVX2 and BMI2 ([`solve::fast_supported`]).
#[inline(always)]
unsafe fn solve_group_impl<const FAST: bool>(
    items: &mut [Item],
    may_bump: bool,
    vbits: u32,
) -> Option<Solved> {
    /// The solved group: `e`'s solution with the free variables
    /// randomised, and its null basis.
    ///
    /// # Safety
    /// With `FAST`, the CPU has AVX2 and BMI2.
    #[inline(always)]
    unsafe fn finish<const FAST: bool>(
        e: &Elim,
        kept: usize,
        thresh: Option<u8>,
        items: &[Item],
        vbits: u32,
    ) -> Solved {
        let mut basis = [0u64; NB];
        // SAFETY: the caller's.
        let (nbasis, mut words) = unsafe {
            (
                e.null_basis_on::<FAST>(&mut basis) as u8,
                e.solution_on::<FAST>(vbits),
            )
        };
        randomize_free(&mut words, &basis[..nbasis as usize], items, vbits);
        Solved {
            kept,
            thresh,
            words,
            basis,
            nbasis,
        }
    }
    let finish = |e: &Elim, kept: usize, thresh: Option<u8>, items: &[Item]| {
        // SAFETY: the caller's.
        unsafe { finish::<FAST>(e, kept, thresh, items, vbits) }
    };
    // Near-full groups are often unsolvable: go straight to the sorted pass,
    // which keeps every key (no threshold change) whenever they all solve.
    if items.len() <= SLOTS && (!may_bump || items.len() <= SORT_FIRST) {
        let mut e = Elim::new();
        if items.iter().all(|it| e.add(it.r, it.val)) {
            return Some(finish(&e, items.len(), None, items));
        }
    }
    if !may_bump {
        return None;
    }
    items.sort_unstable_by_key(|it| it.fp);
    let mut e = Elim::new();
    let mut cut = items.len();
    for (i, it) in items.iter().enumerate() {
        if i >= SLOTS || !e.add(it.r, it.val) {
            cut = i;
            break;
        }
    }
    if cut == items.len() {
        return Some(finish(&e, cut, None, items));
    }
    let fcut = items[cut].fp;
    let mut start = cut;
    while start > 0 && items[start - 1].fp == fcut {
        start -= 1;
    }
    if fcut == 0 {
        return None;
    }
    // Bump whole classes down to at most `SLOTS - BUMP_HEADROOM` keys: the
    // group then takes its next keys through cached null-space vectors
    // instead of a re-solve (and another bump) for each.
    let mut fcut = fcut;
    while start > SLOTS - BUMP_HEADROOM && fcut > 1 {
        fcut -= 1;
        while start > 0 && items[start - 1].fp == fcut {
            start -= 1;
        }
    }
    if start < cut {
        // Keys of the failing fingerprint class were already added: redo.
        e = Elim::new();
        for it in &items[..start] {
            let ok = e.add(it.r, it.val);
            debug_assert!(ok);
        }
    }
    Some(finish(&e, start, Some(fcut - 1), &items[..start]))
}

/// Adds to each value bit's word a pseudo-random combination of the null
/// space `basis`: the stored keys keep their values, and a key that is not
/// stored evaluates to a value spread evenly over all `2^vbits` values
/// (with the free variables left zero, the high bits of small values are 0
/// for every unknown key). The unknown-flow policy `assign` relies on it:
/// the value an unknown flow gets decides the node its first packets go
/// to. Deterministic: the same keys give the same words.
#[inline(always)]
fn randomize_free(words: &mut [u64; 8], basis: &[u64], items: &[Item], vbits: u32) {
    if basis.is_empty() {
        return;
    }
    // The keys' rows summed, each times an odd constant, then mixed once:
    // the same for the same keys in any order, and no chain of a mix per
    // key (a sixth of a re-solve's time).
    let sum = items.iter().fold(items.len() as u64, |h, it| {
        h.wrapping_add(it.r.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    });
    let h = crate::rng::mix(sum);
    for (b, w) in words.iter_mut().enumerate().take(vbits as usize) {
        let pick = crate::rng::mix(h.wrapping_add(b as u64));
        for (j, &v) in basis.iter().enumerate() {
            *w ^= v & ((pick >> j) & 1).wrapping_neg();
        }
    }
}

/// The writer of an EFD table with `N`-byte keys (`Efd<4>` for IPv4
/// addresses, `Efd<13>` / `Efd<16>` / `Efd<37>` for 5-tuples and IPv6).
///
/// Owns the writer-side state (keys and values per group); all mutation goes
/// through `&mut self`. Hand [`Efd::reader`] handles to lookup threads.
pub struct Efd<const N: usize> {
    online: Arc<Online>,
    lv: Vec<WLevel<N>>,
    len: usize,
    capacity: usize,
    undo: Undo<N>,
}

/// A lock-free, wait-free-in-the-absence-of-writes lookup handle.
/// `Clone + Send + Sync`; lookups never allocate and never block the writer.
#[derive(Clone)]
pub struct EfdReader<const N: usize> {
    online: Arc<Online>,
    path: LookupPath,
}

impl<const N: usize> Efd<N> {
    /// An empty table for up to `capacity` keys (inserts succeed at least up
    /// to 95% of it) with `value_bits`-bit values (1..=8).
    pub fn new(capacity: usize, value_bits: u32) -> Result<Self, EfdError> {
        Self::with_seed(capacity, value_bits, DEFAULT_SEED)
    }

    /// Like [`Efd::new`] with an explicit hash seed.
    pub fn with_seed(capacity: usize, value_bits: u32, seed: u64) -> Result<Self, EfdError> {
        if capacity == 0 || capacity > 1 << 30 {
            return Err(EfdError::InvalidCapacity(capacity));
        }
        if !(1..=8).contains(&value_bits) {
            return Err(EfdError::InvalidValueBits(value_bits));
        }
        assert!(N > 0, "keys must be at least one byte");
        let groups = geometry(capacity);
        let online = Arc::new(Online::new(&groups, value_bits, Seeds::new(seed)));
        // Empty groups start with pseudo-random words (any words solve an
        // empty group), so unknown keys spread over every value from the
        // start (see `randomize_free`).
        for (l, &n) in groups.iter().enumerate() {
            for g in 0..n as usize {
                let mut w = [0u64; 8];
                for (b, wb) in w.iter_mut().enumerate().take(value_bits as usize) {
                    *wb = crate::rng::mix(seed ^ ((l as u64) << 56) ^ ((g as u64) << 8) ^ b as u64);
                }
                online.publish(l, g, &w, online.threshold(l, g));
            }
        }
        Ok(Efd {
            online,
            lv: groups.iter().map(|&n| WLevel::new(n as usize)).collect(),
            len: 0,
            capacity,
            undo: Undo {
                recs: Vec::new(),
                keys: Vec::new(),
                vals: Vec::new(),
            },
        })
    }

    /// Build a table from `(key, value)` pairs in one pass (each group is
    /// solved once). A key given twice takes its last value.
    pub fn build<I: IntoIterator<Item = ([u8; N], u8)>>(
        capacity: usize,
        value_bits: u32,
        entries: I,
    ) -> Result<Self, EfdError> {
        Self::build_with_seed(capacity, value_bits, DEFAULT_SEED, entries)
    }

    /// [`Efd::build`] with an explicit hash seed.
    pub fn build_with_seed<I: IntoIterator<Item = ([u8; N], u8)>>(
        capacity: usize,
        value_bits: u32,
        seed: u64,
        entries: I,
    ) -> Result<Self, EfdError> {
        let mut efd = Self::with_seed(capacity, value_bits, seed)?;
        let entries: Vec<([u8; N], u8)> = entries.into_iter().collect();
        for &(_, v) in &entries {
            efd.check_value(v)?;
        }
        let seeds = efd.online.seeds;
        let mut pending: Vec<Item> = entries
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                let kh = key_hash(k, &seeds);
                Item {
                    r: kh.r,
                    base: kh.base,
                    fp: 0,
                    val: *v,
                    idx: i as u32,
                }
            })
            .collect();
        let nlev = efd.lv.len();
        let mut sorted: Vec<Item> = Vec::new();
        let mut gidx: Vec<u32> = Vec::new();
        let mut group: Vec<Item> = Vec::new();
        for l in 0..nlev {
            if pending.is_empty() {
                break;
            }
            let (n, seed) = (efd.online.levels[l].n as usize, efd.online.levels[l].seed);
            // Counting sort by group (stable: entry order kept within a group).
            let mut start = vec![0u32; n + 1];
            gidx.clear();
            for it in pending.iter_mut() {
                let (g, fp) = locate(it.base, seed, n as u32);
                it.fp = fp;
                gidx.push(g as u32);
                start[g + 1] += 1;
            }
            for g in 0..n {
                start[g + 1] += start[g];
            }
            sorted.clear();
            sorted.resize(pending.len(), pending[0]);
            let mut pos = start.clone();
            for (it, &g) in pending.iter().zip(&gidx) {
                sorted[pos[g as usize] as usize] = *it;
                pos[g as usize] += 1;
            }
            let mut next: Vec<Item> = Vec::new();
            for g in 0..n {
                let items = &sorted[start[g] as usize..start[g + 1] as usize];
                if items.is_empty() {
                    continue;
                }
                group.clear();
                if l == 0 {
                    // Deduplicate (later entries win).
                    for it in items {
                        let k = &entries[it.idx as usize].0;
                        match group
                            .iter_mut()
                            .find(|o| o.r == it.r && entries[o.idx as usize].0 == *k)
                        {
                            Some(o) => *o = *it,
                            None => group.push(*it),
                        }
                    }
                } else {
                    group.extend_from_slice(items);
                }
                let s = solve_group(&mut group, l + 1 < nlev, efd.online.vbits)
                    .ok_or(EfdError::TableFull)?;
                next.extend_from_slice(&group[s.kept..]);
                efd.online
                    .init_group(l, g, &s.words, s.thresh.unwrap_or(255));
                let wl = &mut efd.lv[l];
                for (j, it) in group[..s.kept].iter().enumerate() {
                    wl.keys[g * SLOTS + j] = entries[it.idx as usize].0;
                    wl.vals[g * SLOTS + j] = it.val;
                }
                wl.count[g] = s.kept as u8;
                wl.basis[g] = s.basis;
                wl.nbasis[g] = s.nbasis;
                efd.len += s.kept;
            }
            pending = next;
        }
        if !pending.is_empty() {
            return Err(EfdError::TableFull);
        }
        Ok(efd)
    }

    /// A lookup handle for other threads (uses [`LookupPath::best`]).
    pub fn reader(&self) -> EfdReader<N> {
        EfdReader {
            online: Arc::clone(&self.online),
            path: LookupPath::best(),
        }
    }

    /// Number of keys stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The capacity the table was created for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Value width in bits.
    pub fn value_bits(&self) -> u32 {
        self.online.vbits
    }

    /// Bytes of the online table (what readers touch).
    pub fn online_bytes(&self) -> usize {
        self.online.bytes()
    }

    /// Bytes of the whole structure: online table and writer side.
    pub fn total_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.online.bytes()
            + self.lv.iter().map(WLevel::bytes).sum::<usize>()
            + self.undo.recs.capacity() * std::mem::size_of::<UndoRec>()
            + self.undo.keys.capacity() * N
            + self.undo.vals.capacity()
    }

    /// Number of groups per level (diagnostics).
    pub fn level_groups(&self) -> Vec<u32> {
        self.online.levels.iter().map(|l| l.n).collect()
    }

    /// Keys stored beyond the first level (answered with a second cache
    /// line per lookup).
    pub fn deep_len(&self) -> usize {
        self.lv[1..].iter().map(WLevel::len).sum()
    }

    /// Keys stored per level.
    pub fn level_keys(&self) -> Vec<usize> {
        self.lv.iter().map(WLevel::len).collect()
    }

    /// The value the online table returns for `key` (any key).
    pub fn lookup(&self, key: &[u8; N]) -> u8 {
        self.online.lookup_one(key)
    }

    /// The stored value of `key`, from the writer side (exact: `None` if the
    /// key is not in the table).
    pub fn get(&self, key: &[u8; N]) -> Option<u8> {
        let kh = key_hash(key, &self.online.seeds);
        let (l, g, _) = self.home(0, kh.base)?;
        self.find(l, g, key).map(|s| self.lv[l].vals[g * SLOTS + s])
    }

    /// [`Efd::get`] of many keys, with the groups of the next keys
    /// prefetched while the current one is searched (their misses overlap).
    pub fn get_batch(&self, keys: &[[u8; N]]) -> Vec<Option<u8>> {
        const AHEAD: usize = 8;
        // Only the slots: a search reads neither the group's online words
        // nor its null-space cache (prefetching those too took fill buffers
        // the next keys' slots wait for).
        let mut hashes = [KeyHash { base: 0, r: 0 }; AHEAD];
        for (i, key) in keys.iter().enumerate().take(AHEAD) {
            hashes[i] = self.hash_and_prefetch::<false>(key);
        }
        let mut out = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let kh = hashes[i % AHEAD];
            if let Some(next) = keys.get(i + AHEAD) {
                hashes[i % AHEAD] = self.hash_and_prefetch::<false>(next);
            }
            out.push(self.home(0, kh.base).and_then(|(l, g, _)| {
                self.find(l, g, key).map(|s| self.lv[l].vals[g * SLOTS + s])
            }));
        }
        out
    }

    /// Whether `key` is stored (writer side).
    pub fn contains(&self, key: &[u8; N]) -> bool {
        self.get(key).is_some()
    }

    /// Iterate over the stored `(key, value)` pairs (writer side).
    pub fn iter(&self) -> impl Iterator<Item = ([u8; N], u8)> + '_ {
        self.lv.iter().flat_map(|w| {
            w.count.iter().enumerate().flat_map(move |(g, &c)| {
                (g * SLOTS..g * SLOTS + c as usize).map(move |i| (w.keys[i], w.vals[i]))
            })
        })
    }

    fn check_value(&self, value: u8) -> Result<(), EfdError> {
        if value as u32 > self.online.vmask as u32 {
            Err(EfdError::ValueTooWide {
                value,
                bits: self.online.vbits,
            })
        } else {
            Ok(())
        }
    }

    /// Insert `key → value` or update its value. On error nothing changed.
    pub fn insert(&mut self, key: &[u8; N], value: u8) -> Result<InsertOutcome, EfdError> {
        let kh = self.hash_and_prefetch::<true>(key);
        self.insert_hashed(key, kh, value)
    }

    /// Insert or update many keys, each exactly as [`Efd::insert`] would (one
    /// at a time, readers see every intermediate state), but with the groups
    /// of the next keys prefetched while the current one is placed: the
    /// path for loading a large batch of flows into a live table. Returns
    /// one outcome per entry, in order; a failed entry changed nothing.
    pub fn insert_batch(
        &mut self,
        entries: &[([u8; N], u8)],
    ) -> Vec<Result<InsertOutcome, EfdError>> {
        /// How many keys ahead the groups are prefetched.
        const AHEAD: usize = 4;
        let mut hashes = [KeyHash { base: 0, r: 0 }; AHEAD];
        let mut out = Vec::with_capacity(entries.len());
        for (i, (key, _)) in entries.iter().enumerate().take(AHEAD) {
            hashes[i] = self.hash_and_prefetch::<true>(key);
        }
        for (i, (key, value)) in entries.iter().enumerate() {
            let kh = hashes[i % AHEAD];
            if let Some((next, _)) = entries.get(i + AHEAD) {
                hashes[i % AHEAD] = self.hash_and_prefetch::<true>(next);
            }
            out.push(self.insert_hashed(key, kh, *value));
        }
        out
    }

    /// Changes the values of stored keys, group by group: a group with
    /// several changed keys is solved once for all of them (a change of
    /// one key at a time re-solves its group each time once the group's
    /// cached null-space vectors run out). Keys not stored are skipped.
    /// Readers see each group switch all its changed keys at once; a key
    /// that a re-solve of this batch bumped to a deeper level before its
    /// own group came is changed afterwards, one at a time. On error
    /// (a group that no longer solves and cannot bump) that group is as it
    /// was, the groups before it are changed; returns how many keys
    /// changed value.
    pub fn update_batch(&mut self, entries: &[([u8; N], u8)]) -> Result<usize, EfdError> {
        for &(_, v) in entries {
            self.check_value(v)?;
        }
        let mut located: Vec<(u32, u32, u32, u8, KeyHash)> = Vec::with_capacity(entries.len());
        for (i, (key, _)) in entries.iter().enumerate() {
            let kh = key_hash(key, &self.online.seeds);
            if let Some((l, g, fp)) = self.home(0, kh.base) {
                located.push((l as u32, g as u32, i as u32, fp, kh));
            }
        }
        located.sort_unstable_by_key(|&(l, g, i, _, _)| (l, g, i));
        let mut changed = 0;
        let mut start = 0;
        let mut elsewhere = Vec::new();
        while start < located.len() {
            let (l, g) = (located[start].0 as usize, located[start].1 as usize);
            let mut end = start;
            while end < located.len()
                && located[end].0 as usize == l
                && located[end].1 as usize == g
            {
                end += 1;
            }
            self.undo.recs.clear();
            self.undo.keys.clear();
            self.undo.vals.clear();
            self.touch(l, g);
            let mut last = None;
            for &(_, _, i, fp, kh) in &located[start..end] {
                let (key, val) = &entries[i as usize];
                if let Some(s) = self.find(l, g, key) {
                    if self.lv[l].vals[g * SLOTS + s] != *val {
                        self.lv[l].vals[g * SLOTS + s] = *val;
                        changed += 1;
                        last = Some((s, *key, *val, fp, kh));
                    }
                } else {
                    // Not stored, or bumped deeper by an earlier group of
                    // this batch: looked for again below.
                    elsewhere.push(i);
                }
            }
            if let Some((s, key, val, fp, kh)) = last {
                // Take one changed key out and put it back with a forced
                // re-solve: the group is solved with every new value.
                self.remove_slot(l, g, s);
                let item = Item {
                    r: kh.r,
                    base: kh.base,
                    fp,
                    val,
                    idx: NEW,
                };
                if let Err(e) = self.place(l, g, &key, item, false, true) {
                    self.rollback();
                    return Err(e);
                }
            }
            start = end;
        }
        // Keys whose group re-solved and bumped them to a deeper level
        // after they were located (a deeper group that took keys from a
        // group of this batch): updated one at a time where they are now.
        elsewhere.sort_unstable();
        for i in elsewhere {
            let (key, val) = &entries[i as usize];
            let kh = key_hash(key, &self.online.seeds);
            let Some((l, g, _)) = self.home(0, kh.base) else {
                continue;
            };
            if self.find(l, g, key).is_some()
                && self.insert_hashed(key, kh, *val)? == InsertOutcome::Updated
            {
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Raises the thresholds that re-solves lowered, where the group has
    /// room again, moving the keys it had bumped back up from the deeper
    /// levels. Thresholds only fall on inserts and updates (a group that no
    /// longer solves bumps keys), so a table that keeps changing (churn,
    /// drains that move most flows) would otherwise push ever more keys
    /// onto the small deeper levels until they are full, far below the
    /// capacity. The control thread calls this between changes.
    ///
    /// Readers see each raised group switch at once: before, a moved key is
    /// found deeper; after, in its raised group (published first). `grace`
    /// is called after every raised group is published and before the
    /// moved keys leave their deeper groups (whose later re-solves would no
    /// longer keep their values): it must return only once every lookup
    /// that started before the call has finished, so that no reader that
    /// saw an old threshold reads a deeper group rewritten without the key.
    /// Nothing can fail: a group that does not solve with more keys keeps
    /// its threshold.
    pub fn reclaim(&mut self, grace: impl FnOnce()) -> Reclaimed {
        let nlev = self.lv.len();
        let seeds = self.online.seeds;
        let vb = self.online.vbits;
        let mut done = Reclaimed::default();
        // Every key beyond the first level, hashed once: where it is, the
        // key, its hash and value.
        let mut deep: Vec<(usize, usize, [u8; N], KeyHash, u8)> = Vec::new();
        for (l2, w) in self.lv.iter().enumerate().skip(1) {
            for (g2, &c) in w.count.iter().enumerate() {
                for s in g2 * SLOTS..g2 * SLOTS + c as usize {
                    let key = w.keys[s];
                    deep.push((l2, g2, key, key_hash(&key, &seeds), w.vals[s]));
                }
            }
        }
        // Keys moved up, still in their deeper group until `grace` returns.
        let mut moved: Vec<(usize, usize, [u8; N])> = Vec::new();
        let mut moved_keys: hashbrown::HashSet<[u8; N]> = hashbrown::HashSet::new();
        // A deeper key that may go back up: where it is, and its item for
        // the level being raised (`idx`: its index in this list).
        let mut cands: Vec<(u32, usize, usize, [u8; N], Item)> = Vec::new();
        for l in 0..nlev.saturating_sub(1) {
            let (seed, n) = (self.online.levels[l].seed, self.online.levels[l].n);
            cands.clear();
            for &(l2, g2, key, kh, val) in &deep {
                if l2 <= l || moved_keys.contains(&key) {
                    continue;
                }
                let (g, fp) = locate(kh.base, seed, n);
                if self.lv[l].count[g] as usize >= SLOTS - BUMP_HEADROOM {
                    continue;
                }
                let item = Item {
                    r: kh.r,
                    base: kh.base,
                    fp,
                    val,
                    idx: 0,
                };
                cands.push((g as u32, l2, g2, key, item));
            }
            cands.sort_unstable_by_key(|c| c.0);
            for (j, c) in cands.iter_mut().enumerate() {
                c.4.idx = CANDIDATE | j as u32;
            }
            let mut start = 0;
            while start < cands.len() {
                let g = cands[start].0 as usize;
                let mut end = start;
                while end < cands.len() && cands[end].0 as usize == g {
                    end += 1;
                }
                let t = self.online.threshold(l, g);
                let c = self.lv[l].count[g] as usize;
                let mut items = [cands[start].4; 2 * SLOTS];
                if c + (end - start) > items.len() {
                    start = end;
                    continue;
                }
                for (s, it) in items.iter_mut().enumerate().take(c) {
                    let kh = key_hash(&self.lv[l].keys[g * SLOTS + s], &seeds);
                    *it = Item {
                        r: kh.r,
                        base: kh.base,
                        fp: locate(kh.base, seed, n).1,
                        val: self.lv[l].vals[g * SLOTS + s],
                        idx: s as u32,
                    };
                }
                for (it, cand) in items[c..].iter_mut().zip(&cands[start..end]) {
                    *it = cand.4;
                }
                let items = &mut items[..c + end - start];
                let Some(sol) = solve_group(items, true, vb) else {
                    start = end;
                    continue;
                };
                let nt = sol.thresh.unwrap_or(255);
                if nt <= t {
                    start = end;
                    continue;
                }
                // Every key of the group has `fp <= t < nt`: all kept.
                debug_assert!(
                    items[..sol.kept]
                        .iter()
                        .filter(|it| it.idx & CANDIDATE == 0)
                        .count()
                        == c
                );
                let mut nkeys = [[0u8; N]; SLOTS];
                let mut nvals = [0u8; SLOTS];
                for (j, it) in items[..sol.kept].iter().enumerate() {
                    nkeys[j] = if it.idx & CANDIDATE == 0 {
                        self.lv[l].keys[g * SLOTS + it.idx as usize]
                    } else {
                        let (_, l2, g2, key, _) = cands[(it.idx & !CANDIDATE) as usize];
                        moved.push((l2, g2, key));
                        moved_keys.insert(key);
                        done.keys += 1;
                        key
                    };
                    nvals[j] = it.val;
                }
                self.commit_group(l, g, &sol, nt, &nkeys, &nvals);
                done.groups += 1;
                start = end;
            }
        }
        if moved.is_empty() {
            return done;
        }
        grace();
        for (l2, g2, key) in moved {
            if let Some(s) = self.find(l2, g2, &key) {
                self.remove_slot(l2, g2, s);
            }
        }
        done
    }

    /// [`Efd::insert`] with the key's hash already computed.
    fn insert_hashed(
        &mut self,
        key: &[u8; N],
        kh: KeyHash,
        value: u8,
    ) -> Result<InsertOutcome, EfdError> {
        self.check_value(value)?;
        // Located again, not taken from `hash_and_prefetch`: in a batch, the
        // inserts in between may have lowered a threshold on the way.
        let (l, g, fp) = self.home(0, kh.base).ok_or(EfdError::TableFull)?;
        self.undo.recs.clear();
        self.undo.keys.clear();
        self.undo.vals.clear();
        let outcome = match self.find(l, g, key) {
            Some(s) => {
                if self.lv[l].vals[g * SLOTS + s] == value {
                    return Ok(InsertOutcome::Unchanged);
                }
                self.touch(l, g);
                self.remove_slot(l, g, s);
                InsertOutcome::Updated
            }
            None => InsertOutcome::Inserted,
        };
        let item = Item {
            r: kh.r,
            base: kh.base,
            fp,
            val: value,
            idx: NEW,
        };
        match self.place(l, g, key, item, false, false) {
            Ok(()) => {
                if outcome == InsertOutcome::Inserted {
                    self.len += 1;
                }
                Ok(outcome)
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// Remove `key`; returns its value if it was stored. Only the writer side
    /// changes (the online solution still serves every other key); the slot
    /// is free for new keys.
    pub fn remove(&mut self, key: &[u8; N]) -> Option<u8> {
        let kh = key_hash(key, &self.online.seeds);
        let (l, g, _) = self.home(0, kh.base)?;
        let s = self.find(l, g, key)?;
        let v = self.lv[l].vals[g * SLOTS + s];
        self.remove_slot(l, g, s);
        self.len -= 1;
        Some(v)
    }

    /// The level, group and fingerprint where a key with this base lives (or
    /// would be inserted), searching from level `from`.
    #[inline]
    fn home(&self, from: usize, base: u32) -> Option<(usize, usize, u8)> {
        for (l, lvl) in self.online.levels.iter().enumerate().skip(from) {
            let (g, fp) = locate(base, lvl.seed, lvl.n);
            if fp <= self.online.threshold(l, g) {
                return Some((l, g, fp));
            }
        }
        None
    }

    /// Hash `key` and start loading the group it would be inserted into:
    /// with `INSERT` every line an insert reads, else only the slots a
    /// search reads.
    #[inline]
    fn hash_and_prefetch<const INSERT: bool>(&self, key: &[u8; N]) -> KeyHash {
        let kh = key_hash(key, &self.online.seeds);
        if let Some((l, g, _)) = self.home(0, kh.base) {
            if INSERT {
                self.prefetch_group(l, g);
            } else {
                self.prefetch_slots(l, g);
            }
        }
        kh
    }

    /// Start loading every cache line an insert into group `(l, g)` reads,
    /// so that their misses overlap instead of following one another.
    #[inline]
    fn prefetch_group(&self, l: usize, g: usize) {
        self.prefetch_slots(l, g);
        let w = &self.lv[l];
        for i in (0..NB).step_by(8).chain([NB - 1]) {
            prefetch(&w.basis[g][i]);
        }
        self.online.prefetch_words(l, g);
    }

    /// Start loading the lines of group `(l, g)`'s keys in use, the slot a
    /// new key goes to, and their values: what a search for a key reads.
    #[inline]
    fn prefetch_slots(&self, l: usize, g: usize) {
        let w = &self.lv[l];
        let used = (w.count[g] as usize + 1).min(SLOTS);
        let keys = w.keys[g * SLOTS..(g + 1) * SLOTS].as_ptr() as *const u8;
        for off in (0..used * N).step_by(64) {
            prefetch(keys.wrapping_add(off));
        }
        prefetch(keys.wrapping_add(used * N - 1));
        prefetch(w.vals[g * SLOTS..].as_ptr());
    }

    #[inline]
    fn find(&self, l: usize, g: usize, key: &[u8; N]) -> Option<usize> {
        let w = &self.lv[l];
        let c = w.count[g] as usize;
        let keys = &w.keys[g * SLOTS..g * SLOTS + c];
        if N <= 8 {
            // Sixteen slots at a time compared without an early exit, so
            // that the test vectorises; the slot is then found in the one
            // chunk that has it. A scan of a group's ~45 keys, one key at a
            // time, is done for each insert and each search of a bulk load.
            for (c, chunk) in keys.chunks(16).enumerate() {
                if chunk.iter().fold(false, |hit, k| hit | (k == key)) {
                    return chunk.iter().position(|k| k == key).map(|s| c * 16 + s);
                }
            }
            None
        } else {
            keys.iter().position(|k| k == key)
        }
    }

    #[inline]
    fn push_slot(&mut self, l: usize, g: usize, key: &[u8; N], val: u8) {
        let w = &mut self.lv[l];
        let i = g * SLOTS + w.count[g] as usize;
        w.keys[i] = *key;
        w.vals[i] = val;
        w.count[g] += 1;
    }

    #[inline]
    fn remove_slot(&mut self, l: usize, g: usize, s: usize) {
        let w = &mut self.lv[l];
        let last = g * SLOTS + w.count[g] as usize - 1;
        w.keys[g * SLOTS + s] = w.keys[last];
        w.vals[g * SLOTS + s] = w.vals[last];
        w.count[g] -= 1;
    }

    /// Snapshot a group into the undo log (once per operation).
    fn touch(&mut self, l: usize, g: usize) {
        if self
            .undo
            .recs
            .iter()
            .any(|r| r.level as usize == l && r.g as usize == g)
        {
            return;
        }
        let w = &self.lv[l];
        let c = w.count[g] as usize;
        let off = self.undo.keys.len();
        self.undo
            .keys
            .extend_from_slice(&w.keys[g * SLOTS..g * SLOTS + c]);
        self.undo
            .vals
            .extend_from_slice(&w.vals[g * SLOTS..g * SLOTS + c]);
        self.undo.recs.push(UndoRec {
            level: l as u8,
            g: g as u32,
            count: c as u8,
            nbasis: w.nbasis[g],
            thresh: self.online.threshold(l, g),
            off,
            basis: w.basis[g],
            words: self.online.read_words(l, g),
        });
    }

    /// Restore every touched group, shallowest level first (a reader must
    /// never see a lowered threshold whose bumped keys were already removed
    /// from the deeper level).
    fn rollback(&mut self) {
        let mut recs = std::mem::take(&mut self.undo.recs);
        recs.sort_by_key(|r| r.level);
        for r in &recs {
            let (l, g, c) = (r.level as usize, r.g as usize, r.count as usize);
            let w = &mut self.lv[l];
            w.keys[g * SLOTS..g * SLOTS + c].copy_from_slice(&self.undo.keys[r.off..r.off + c]);
            w.vals[g * SLOTS..g * SLOTS + c].copy_from_slice(&self.undo.vals[r.off..r.off + c]);
            w.count[g] = r.count;
            w.basis[g] = r.basis;
            w.nbasis[g] = r.nbasis;
            self.online.publish(l, g, &r.words, r.thresh);
        }
        recs.clear();
        self.undo.recs = recs;
        self.undo.keys.clear();
        self.undo.vals.clear();
    }

    /// Take a cached null-space vector `n` with `r·n = 1` (if any) and keep
    /// the rest of the cache orthogonal to `r`.
    #[inline]
    fn absorb(&mut self, l: usize, g: usize, r: u64) -> Option<u64> {
        let w = &mut self.lv[l];
        solve::absorb(&mut w.basis[g], &mut w.nbasis[g], r)
    }

    /// Put `item` (whose key is `key` when `item.idx == NEW`) into group
    /// `(l, g)`, bumping keys to deeper levels if needed. `log`: snapshot
    /// every group before modifying it (inside a bump, which can still fail).
    fn place(
        &mut self,
        l: usize,
        g: usize,
        key: &[u8; N],
        item: Item,
        log: bool,
        resolve: bool,
    ) -> Result<(), EfdError> {
        if log {
            self.touch(l, g);
        }
        let vb = self.online.vbits;
        let n = self.lv[l].count[g] as usize;
        if n < SLOTS && !resolve {
            // Fast path: the current solution already gives the value, or a
            // cached null-space vector fixes it without disturbing the others.
            let mut w = self.online.read_words(l, g);
            let cur = eval_words(&w, item.r, vb);
            let delta = self.absorb(l, g, item.r);
            if cur == item.val {
                self.push_slot(l, g, key, item.val);
                return Ok(());
            }
            if let Some(d) = delta {
                let diff = cur ^ item.val;
                for (b, wb) in w.iter_mut().enumerate().take(vb as usize) {
                    if (diff >> b) & 1 == 1 {
                        *wb ^= d;
                    }
                }
                self.online.publish(l, g, &w, self.online.threshold(l, g));
                self.push_slot(l, g, key, item.val);
                return Ok(());
            }
        }
        // Slow path: re-solve the whole group.
        let seeds = self.online.seeds;
        let (lseed, ln) = (self.online.levels[l].seed, self.online.levels[l].n);
        let mut items = [item; SLOTS + 1];
        for (s, it) in items.iter_mut().enumerate().take(n) {
            let k = &self.lv[l].keys[g * SLOTS + s];
            let kh = key_hash(k, &seeds);
            *it = Item {
                r: kh.r,
                base: kh.base,
                fp: locate(kh.base, lseed, ln).1,
                val: self.lv[l].vals[g * SLOTS + s],
                idx: s as u32,
            };
        }
        let items = &mut items[..n + 1];
        let last = l + 1 == self.lv.len();
        let s = solve_group(items, !last, vb).ok_or(EfdError::TableFull)?;
        let t = match s.thresh {
            None => self.online.threshold(l, g),
            Some(t) => {
                self.touch(l, g);
                // Bumped keys go to the deeper levels first.
                for it in &items[s.kept..] {
                    let k = if it.idx == NEW {
                        *key
                    } else {
                        self.lv[l].keys[g * SLOTS + it.idx as usize]
                    };
                    let (l2, g2, fp2) = self.home(l + 1, it.base).ok_or(EfdError::TableFull)?;
                    let moved = Item {
                        fp: fp2,
                        idx: NEW,
                        ..*it
                    };
                    self.place(l2, g2, &k, moved, true, false)?;
                }
                t
            }
        };
        // Rewrite the group's slots with the kept keys, then publish.
        let mut nkeys = [[0u8; N]; SLOTS];
        let mut nvals = [0u8; SLOTS];
        for (j, it) in items[..s.kept].iter().enumerate() {
            nkeys[j] = if it.idx == NEW {
                *key
            } else {
                self.lv[l].keys[g * SLOTS + it.idx as usize]
            };
            nvals[j] = it.val;
        }
        self.commit_group(l, g, &s, t, &nkeys, &nvals);
        Ok(())
    }

    /// Publishes group `(l, g)`'s new solution `s` with threshold `t`, then
    /// makes its writer side the `s.kept` keys and values of `keys` and
    /// `vals` with the solution's null-space cache.
    fn commit_group(
        &mut self,
        l: usize,
        g: usize,
        s: &Solved,
        t: u8,
        keys: &[[u8; N]; SLOTS],
        vals: &[u8; SLOTS],
    ) {
        self.online.publish(l, g, &s.words, t);
        let wl = &mut self.lv[l];
        wl.keys[g * SLOTS..g * SLOTS + s.kept].copy_from_slice(&keys[..s.kept]);
        wl.vals[g * SLOTS..g * SLOTS + s.kept].copy_from_slice(&vals[..s.kept]);
        wl.count[g] = s.kept as u8;
        wl.basis[g] = s.basis;
        wl.nbasis[g] = s.nbasis;
    }
}

impl<const N: usize> EfdReader<N> {
    /// The value of `key` (some value for a key never inserted).
    #[inline]
    pub fn lookup(&self, key: &[u8; N]) -> u8 {
        self.online.lookup_one(key)
    }

    /// Look up `keys[i]` into `out[i]` with the best path for this CPU.
    /// Allocation-free. Panics if `out` is shorter than `keys`.
    #[inline]
    pub fn lookup_bulk(&self, keys: &[[u8; N]], out: &mut [u8]) {
        self.online.lookup_bulk(self.path, keys, out)
    }

    /// [`EfdReader::lookup_bulk`] with a forced code path. Panics if the CPU
    /// does not support `path` (see [`LookupPath::is_supported`]).
    pub fn lookup_bulk_with(&self, path: LookupPath, keys: &[[u8; N]], out: &mut [u8]) {
        self.online.lookup_bulk(path, keys, out)
    }

    /// The path [`EfdReader::lookup_bulk`] uses.
    pub fn path(&self) -> LookupPath {
        self.path
    }

    /// Value width in bits.
    pub fn value_bits(&self) -> u32 {
        self.online.vbits
    }
}

impl EfdReader<4> {
    /// Bulk lookup of 4-byte keys held as `u32`: `keys[i]` is the key
    /// `keys[i].to_ne_bytes()` (its bytes as they are in memory, e.g. an IPv4
    /// address loaded from a packet with `u32::from_ne_bytes`).
    #[inline]
    pub fn lookup_bulk_u32(&self, keys: &[u32], out: &mut [u8]) {
        // SAFETY: `[u8; 4]` has the size of `u32` and a weaker alignment.
        let k = unsafe { std::slice::from_raw_parts(keys.as_ptr() as *const [u8; 4], keys.len()) };
        self.online.lookup_bulk(self.path, k, out)
    }
}

impl<const N: usize> fmt::Debug for Efd<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Efd")
            .field("key_len", &N)
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("value_bits", &self.online.vbits)
            .field("level_groups", &self.level_groups())
            .finish()
    }
}

impl<const N: usize> fmt::Debug for EfdReader<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EfdReader")
            .field("key_len", &N)
            .field("path", &self.path)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> [u8; 4] {
        i.to_be_bytes()
    }

    #[test]
    fn insert_lookup_small() {
        let mut e = Efd::<4>::new(10_000, 8).unwrap();
        for i in 0..9_000u32 {
            assert_eq!(
                e.insert(&key(i), (i * 7) as u8),
                Ok(InsertOutcome::Inserted),
                "{i}"
            );
        }
        for i in 0..9_000u32 {
            assert_eq!(e.lookup(&key(i)), (i * 7) as u8, "{i}");
            assert_eq!(e.get(&key(i)), Some((i * 7) as u8));
        }
        assert_eq!(e.len(), 9000);
        assert_eq!(e.insert(&key(5), 35), Ok(InsertOutcome::Unchanged));
        assert_eq!(e.insert(&key(5), 36), Ok(InsertOutcome::Updated));
        assert_eq!(e.lookup(&key(5)), 36);
        assert_eq!(e.remove(&key(5)), Some(36));
        assert_eq!(e.remove(&key(5)), None);
        assert_eq!(e.len(), 8999);
        for i in 0..9_000u32 {
            if i != 5 {
                assert_eq!(e.lookup(&key(i)), (i * 7) as u8);
            }
        }
    }

    /// The bulk lookup reads a batch under the table's epoch when no write
    /// is in flight, and under the stripes' versions when one is: both give
    /// every key its value, in one-batch calls and in long ones, on every
    /// path and value width, bumped keys included.
    #[test]
    fn bulk_lookup_with_and_without_a_write_in_flight() {
        for bits in 1..=8 {
            bulk_lookup_with_and_without_a_write_in_flight_at::<4>(bits);
        }
        // Wide keys (hashed from their digests) for the narrowest, the
        // 32-byte-group and the widest layouts.
        for bits in [1, 4, 8] {
            bulk_lookup_with_and_without_a_write_in_flight_at::<13>(bits);
            bulk_lookup_with_and_without_a_write_in_flight_at::<37>(bits);
        }
    }

    /// No lookup path reads a byte past a call's keys (the SIMD paths'
    /// masked loads, the prefetches aside): the keys end where an
    /// inaccessible page begins, for calls of 1 to 70 keys (tails of every
    /// length, and a next batch that does not exist), and a read past them
    /// would fault. Key lengths of the key kinds and the 4-byte keys.
    #[test]
    #[cfg(target_os = "linux")]
    fn lookups_read_nothing_past_the_keys() {
        fn check<const N: usize>() {
            let page = 4096;
            let most = 70;
            assert!(most * N <= page);
            // SAFETY: a fresh private anonymous mapping of two pages (checked
            // below), the second then made inaccessible.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    2 * page,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(base, libc::MAP_FAILED);
            let base = base as *mut u8;
            // SAFETY: the second page of the mapping above.
            let protected =
                unsafe { libc::mprotect(base.add(page) as *mut _, page, libc::PROT_NONE) };
            assert_eq!(protected, 0);
            let mut e = Efd::<N>::new(1_000, 8).unwrap();
            let keys: Vec<[u8; N]> = (0..most as u32).map(wide_key).collect();
            for (i, k) in keys.iter().enumerate() {
                e.insert(k, i as u8).unwrap();
            }
            let r = e.reader();
            for n in 1..=most {
                // SAFETY: `n * N <= page` bytes at the end of the first page,
                // readable and writable, `[u8; N]` has alignment 1; the
                // slice is dropped before the mapping.
                let at = unsafe {
                    let p = base.add(page - n * N) as *mut [u8; N];
                    std::ptr::copy_nonoverlapping(keys.as_ptr(), p, n);
                    std::slice::from_raw_parts(p as *const [u8; N], n)
                };
                for path in LookupPath::supported() {
                    let mut out = vec![0xffu8; n];
                    r.lookup_bulk_with(path, at, &mut out);
                    let want: Vec<u8> = (0..n as u8).collect();
                    assert_eq!(out, want, "{N}-byte keys, {path:?}, {n} keys");
                }
            }
            // SAFETY: the mapping above, no reference into it left.
            assert_eq!(unsafe { libc::munmap(base as *mut _, 2 * page) }, 0);
        }
        check::<4>();
        check::<8>();
        check::<13>();
        check::<16>();
        check::<17>();
        check::<37>();
    }

    /// Key `i` of `N` bytes: its big-endian bytes, then a pattern.
    fn wide_key<const N: usize>(i: u32) -> [u8; N] {
        let b = i.to_be_bytes();
        std::array::from_fn(|j| if j < 4 { b[j] } else { (j * 37) as u8 })
    }

    fn bulk_lookup_with_and_without_a_write_in_flight_at<const N: usize>(bits: u32) {
        let n = 60_000u32;
        let mask = ((1u32 << bits) - 1) as u8;
        let mut e = Efd::<N>::new(64_000, bits).unwrap();
        for i in 0..n {
            e.insert(&wide_key(i), (i * 13) as u8 & mask).unwrap();
        }
        assert!(e.level_keys()[1] > 1000, "too few bumped keys to test");
        let r = e.reader();
        let keys: Vec<[u8; N]> = (0..n).map(wide_key).collect();
        let want: Vec<u8> = (0..n).map(|i| (i * 13) as u8 & mask).collect();
        for path in LookupPath::supported() {
            for (held, early) in [(false, false), (false, true), (true, false), (true, true)] {
                e.online.hold_epoch(held);
                e.online.set_bump_early(early);
                // One batch, and calls of several with short last blocks.
                for call in [32, 33, 49, 250, keys.len()] {
                    let mut out = vec![0u8; keys.len()];
                    for (kc, oc) in keys.chunks(call).zip(out.chunks_mut(call)) {
                        r.lookup_bulk_with(path, kc, oc);
                    }
                    assert!(
                        out == want,
                        "{N}-byte keys, {bits}-bit values, {path:?}, write in flight {held}, \
                         bump early {early}, calls of {call}"
                    );
                }
            }
            e.online.hold_epoch(false);
        }
    }

    /// Calls of several batches (the AVX-512 path's pipelined order, forced
    /// on this small table, and the others' pipelined hashing) while a
    /// writer flips values: untouched keys always read their value, flipped
    /// keys their old or new one, also when a write lands in the middle of
    /// a call.
    #[test]
    fn long_bulk_calls_under_live_writes() {
        for bits in [4, 8] {
            long_bulk_calls_under_live_writes_at(bits);
        }
    }

    fn long_bulk_calls_under_live_writes_at(bits: u32) {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::time::{Duration, Instant};
        let mask = ((1u32 << bits) - 1) as u8;
        let (n, moving) = (20_000u32, 500u32);
        let stable = move |i: u32| (i * 13) as u8 & mask;
        let flip = move |i: u32| {
            let a = (i * 7) as u8 & mask;
            (a, (a ^ 0x55) & mask)
        };
        let mut e = Efd::<4>::new(23_000, bits).unwrap();
        for i in 0..n {
            e.insert(&key(i), stable(i)).unwrap();
        }
        for i in 0..moving {
            e.insert(&key(n + i), flip(i).0).unwrap();
        }
        e.online.set_bump_early(true);
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (r, stop) = (e.reader(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let keys: Vec<[u8; 4]> = (0..n + moving).map(key).collect();
                let mut out = vec![0u8; keys.len()];
                let mut calls = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    for path in LookupPath::supported() {
                        let call = 33 + calls % 300;
                        for (kc, oc) in keys.chunks(call).zip(out.chunks_mut(call)) {
                            r.lookup_bulk_with(path, kc, oc);
                            calls += 1;
                        }
                        for (i, &o) in out.iter().enumerate() {
                            let i = i as u32;
                            if i < n {
                                assert_eq!(o, stable(i), "key {i}, {path:?}, calls of {call}");
                            } else {
                                let (a, b) = flip(i - n);
                                assert!(o == a || o == b, "moving key {i}: {o}, {path:?}");
                            }
                        }
                    }
                }
                calls
            })
        };
        let mut phase = vec![false; moving as usize];
        let (t0, mut flips) = (Instant::now(), 0u32);
        while t0.elapsed() < Duration::from_millis(1500) {
            let i = flips % moving;
            phase[i as usize] = !phase[i as usize];
            let (a, b) = flip(i);
            e.insert(&key(n + i), if phase[i as usize] { b } else { a })
                .unwrap();
            flips += 1;
        }
        stop.store(true, Ordering::Relaxed);
        let calls = reader.join().expect("reader failed");
        assert!(flips > 1000 && calls > 1000, "{flips} flips, {calls} calls");
    }

    #[test]
    fn get_batch_agrees_with_get() {
        let efd = Efd::<4>::build(
            50_000,
            8,
            (0..40_000u32).map(|i| (i.to_be_bytes(), (i % 7) as u8)),
        )
        .unwrap();
        let keys: Vec<[u8; 4]> = (0..45_000u32).rev().map(|i| i.to_be_bytes()).collect();
        let got = efd.get_batch(&keys);
        for (k, g) in keys.iter().zip(&got) {
            assert_eq!(*g, efd.get(k));
        }
        assert_eq!(got.iter().filter(|g| g.is_some()).count(), 40_000);
    }

    /// `update_batch` changes many stored values group by group: every key
    /// then looks up to its new value (and the others keep theirs), also
    /// while readers look up, and keys not stored are skipped.
    #[test]
    fn update_batch_changes_stored_values() {
        for bits in [2u32, 8] {
            let vmax = ((1u32 << bits) - 1) as u8;
            let n = 200_000u32;
            let mut efd = Efd::<4>::build(
                n as usize * 5 / 4,
                bits,
                (0..n).map(|i| (i.to_be_bytes(), (i % 3) as u8)),
            )
            .unwrap();
            let reader = efd.reader();
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let st = stop.clone();
            // Keys never changed keep their value throughout.
            let watcher = std::thread::spawn(move || {
                while !st.load(std::sync::atomic::Ordering::Relaxed) {
                    for i in (1..n).step_by(2).take(5000) {
                        assert_eq!(reader.lookup(&i.to_be_bytes()), (i % 3) as u8, "key {i}");
                    }
                }
            });
            let mut changes: Vec<([u8; 4], u8)> = (0..n)
                .step_by(2)
                .map(|i| (i.to_be_bytes(), ((i / 2) as u8 % vmax) + 1))
                .collect();
            changes.push((u32::MAX.to_be_bytes(), 1)); // not stored
            let expect_changed = changes[..changes.len() - 1]
                .iter()
                .filter(|(k, v)| u32::from_be_bytes(*k) % 3 != u32::from(*v))
                .count();
            assert_eq!(efd.update_batch(&changes).unwrap(), expect_changed);
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            watcher.join().unwrap();
            for i in 0..n {
                let want = if i % 2 == 0 {
                    ((i / 2) as u8 % vmax) + 1
                } else {
                    (i % 3) as u8
                };
                assert_eq!(efd.lookup(&i.to_be_bytes()), want, "bits {bits}, key {i}");
                assert_eq!(efd.get(&i.to_be_bytes()), Some(want));
            }
            assert_eq!(efd.len(), n as usize);
            assert_eq!(efd.get(&u32::MAX.to_be_bytes()), None);
        }
    }

    /// A batch giving about a third of the 2-bit `stored` keys another
    /// value.
    fn change_a_third(
        stored: &std::collections::BTreeMap<u32, u8>,
        rng: &mut crate::rng::SplitMix64,
    ) -> Vec<([u8; 4], u8)> {
        stored
            .iter()
            .filter_map(|(&k, &v)| {
                let r = rng.next_u64();
                r.is_multiple_of(3)
                    .then(|| (k.to_be_bytes(), (v + 1 + (r >> 8) as u8 % 3) % 4))
            })
            .collect()
    }

    /// `update_batch` under churn: a table near capacity whose deeper
    /// levels fill up (inserts and removes; thresholds never rise), changed
    /// in large batches. A batch's re-solve of one group can bump keys into
    /// a deeper group that then re-solves and bumps keys of the same batch
    /// further down: each of those must still get its new value. Every key
    /// is checked after every batch, on the writer side and online, until
    /// the table is full (no `reclaim` here: that is what fills it).
    #[test]
    fn update_batch_follows_keys_bumped_by_the_same_batch() {
        let mut rng = crate::rng::SplitMix64::new(22);
        let cap = 40_000usize;
        let mut efd = Efd::<4>::new(cap, 2).unwrap();
        // Ordered, so that the keys dropped and changed (and so the run) are
        // the same every time.
        let mut stored = std::collections::BTreeMap::<u32, u8>::new();
        let mut next = 0u32;
        for round in 0..100 {
            // Churn: fill to about 97 % of capacity, then drop a few.
            while stored.len() < cap * 97 / 100 {
                let k = next.wrapping_mul(0x9e37_79b1);
                next += 1;
                let v = (rng.next_u64() % 4) as u8;
                if efd.insert(&k.to_be_bytes(), v).is_ok() {
                    stored.insert(k, v);
                }
            }
            let gone: Vec<u32> = stored.keys().copied().take(cap / 50).collect();
            for k in gone {
                assert_eq!(efd.remove(&k.to_be_bytes()), stored.remove(&k));
            }
            // A batch changing a third of the keys.
            let changes = change_a_third(&stored, &mut rng);
            let changed = match efd.update_batch(&changes) {
                Ok(c) => c,
                // Without `reclaim` the deeper levels fill up: the test has
                // run as long as the table lasts.
                Err(EfdError::TableFull) => {
                    assert!(round >= 20, "full after {round} rounds");
                    return;
                }
                Err(e) => panic!("round {round}: {e}"),
            };
            for &(k, v) in &changes {
                stored.insert(u32::from_be_bytes(k), v);
            }
            assert_eq!(changed, changes.len(), "round {round}: keys changed");
            for (&k, &v) in &stored {
                assert_eq!(
                    efd.get(&k.to_be_bytes()),
                    Some(v),
                    "round {round}, key {k:#x}"
                );
                assert_eq!(efd.lookup(&k.to_be_bytes()), v, "round {round}, key {k:#x}");
            }
        }
    }

    /// `reclaim` under churn and batch updates (what repeated drains do to
    /// a full table): the table keeps working for 10x the rounds that fill
    /// it without reclaiming, the deeper levels keep about the share they
    /// had after the first fill, and a reader sees every stable key's value
    /// throughout (the grace period waits for the reader's lookups in
    /// flight, as the control plane's distributor flush does).
    #[test]
    fn reclaim_keeps_a_churning_table_from_filling_up() {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let mut rng = crate::rng::SplitMix64::new(22);
        let cap = 40_000usize;
        let mut efd = Efd::<4>::new(cap, 2).unwrap();
        // Stable keys: never changed, watched by the reader.
        let stable: Vec<u32> = (0..2000u32)
            .map(|i| i.wrapping_mul(0x85eb_ca6b) | 1)
            .collect();
        for &k in &stable {
            efd.insert(&k.to_be_bytes(), (k % 4) as u8).unwrap();
        }
        let reader = efd.reader();
        let (asked, answered, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let watcher = {
            let (asked, answered, stop, stable) = (
                asked.clone(),
                answered.clone(),
                stop.clone(),
                stable.clone(),
            );
            std::thread::spawn(move || {
                let mut keys = [[0u8; 4]; 32];
                let mut out = [0u8; 32];
                while !stop.load(Ordering::Relaxed) {
                    let round = asked.load(Ordering::Acquire);
                    for chunk in stable.chunks(32) {
                        for (k, &s) in keys.iter_mut().zip(chunk) {
                            *k = s.to_be_bytes();
                        }
                        reader.lookup_bulk(&keys[..chunk.len()], &mut out);
                        for (&k, &v) in chunk.iter().zip(&out) {
                            assert_eq!(v, (k % 4) as u8, "stable key {k:#x}");
                        }
                    }
                    answered.store(round, Ordering::Release);
                }
            })
        };
        let grace = || {
            let n = asked.fetch_add(1, Ordering::AcqRel) + 1;
            while answered.load(Ordering::Acquire) < n && !watcher.is_finished() {
                std::hint::spin_loop();
            }
        };
        let mut stored = std::collections::BTreeMap::<u32, u8>::new();
        let mut next = 0u32;
        let mut deep_after_fill = None;
        let mut reclaimed = Reclaimed::default();
        for round in 0..200 {
            while stored.len() + stable.len() < cap * 95 / 100 {
                let k = next.wrapping_mul(0x9e37_79b1) & !1;
                next += 1;
                let v = (rng.next_u64() % 4) as u8;
                efd.insert(&k.to_be_bytes(), v).unwrap_or_else(|e| {
                    panic!("round {round}: {e}, levels {:?}", efd.level_keys())
                });
                stored.insert(k, v);
            }
            let deep: usize = efd.level_keys()[1..].iter().sum();
            let first = *deep_after_fill.get_or_insert(deep);
            assert!(
                deep <= first * 3 / 2,
                "round {round}: {deep} keys deeper than level 1, {first} after the first fill"
            );
            let gone: Vec<u32> = stored.keys().copied().take(cap / 50).collect();
            for k in gone {
                assert_eq!(efd.remove(&k.to_be_bytes()), stored.remove(&k));
            }
            let changes = change_a_third(&stored, &mut rng);
            efd.update_batch(&changes)
                .unwrap_or_else(|e| panic!("round {round}: {e}, levels {:?}", efd.level_keys()));
            for &(k, v) in &changes {
                stored.insert(u32::from_be_bytes(k), v);
            }
            let r = efd.reclaim(grace);
            reclaimed.groups += r.groups;
            reclaimed.keys += r.keys;
        }
        stop.store(true, Ordering::Relaxed);
        watcher.join().unwrap();
        assert!(reclaimed.keys > 1000, "{reclaimed:?}");
        assert_eq!(efd.len(), stored.len() + stable.len());
        let stable_values = stable.iter().map(|&k| (k, (k % 4) as u8));
        for (k, v) in stored.iter().map(|(&k, &v)| (k, v)).chain(stable_values) {
            assert_eq!(efd.get(&k.to_be_bytes()), Some(v), "key {k:#x}");
            assert_eq!(efd.lookup(&k.to_be_bytes()), v, "key {k:#x}");
        }
        assert_eq!(efd.iter().count(), efd.len());
    }

    /// `insert_batch` gives what inserting the entries one at a time
    /// gives (outcomes, values, length): new keys, updates, keys given
    /// twice, values too wide, a table filling up (groups bump); stable keys
    /// keep their value for a reader throughout.
    #[test]
    fn insert_batch_matches_one_at_a_time() {
        let mut rng = crate::rng::SplitMix64::new(7);
        let cap = 30_000usize;
        let build: Vec<([u8; 4], u8)> = (0..10_000u32)
            .map(|i| (i.wrapping_mul(0x9e37_79b1).to_be_bytes(), (i % 8) as u8))
            .collect();
        let mut batched = Efd::<4>::build(cap, 3, build.iter().copied()).unwrap();
        let mut single = Efd::<4>::build(cap, 3, build.iter().copied()).unwrap();
        let reader = batched.reader();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let (stop, stable) = (stop.clone(), build[..2000].to_vec());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    for (k, v) in &stable {
                        assert_eq!(reader.lookup(k), *v);
                    }
                }
            })
        };
        let mut next = 10_000u32;
        // Up to 87 % of the capacity: below it both orders place every key.
        for round in 0..4 {
            let mut entries: Vec<([u8; 4], u8)> = (0..4000)
                .map(|_| {
                    next += 1;
                    (
                        next.wrapping_mul(0x9e37_79b1).to_be_bytes(),
                        (next % 8) as u8,
                    )
                })
                .collect();
            // Updates of stored keys (not the watched ones), repeats, a
            // value too wide.
            for j in 0..300 {
                let k = build[2000 + (rng.next_u64() % 8000) as usize].0;
                entries.push((k, (j % 8) as u8));
                let again = entries[(rng.next_u64() % 4000) as usize].0;
                entries.push((again, ((j + 3) % 8) as u8));
            }
            entries.push((u32::MAX.to_be_bytes(), 9));
            let a = batched.insert_batch(&entries);
            let b: Vec<_> = entries.iter().map(|(k, v)| single.insert(k, *v)).collect();
            assert_eq!(batched.len(), single.len(), "round {round}");
            // A key given twice is inserted by its first entry and updated
            // by its second in both; only the outcomes' split may differ
            // when the second entry comes first in one order. Compare
            // errors and the final values.
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert_eq!(
                    x.is_err(),
                    y.is_err(),
                    "round {round}, entry {i}: {x:?} / {y:?}"
                );
            }
            for (k, _) in &entries {
                assert_eq!(batched.get(k), single.get(k), "round {round}");
                if let Some(v) = batched.get(k) {
                    assert_eq!(batched.lookup(k), v, "round {round}");
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        watcher.join().unwrap();
        assert!(batched.len() > cap * 85 / 100, "{}", batched.len());
        for (k, v) in batched.iter() {
            assert_eq!(batched.lookup(&k), v);
        }
    }

    /// Values of keys not in the table, 8 bits: spread over all 256 values
    /// whether the table is empty, built, or changed online (each value
    /// outside the stored ones within 30 % of the mean over 256k keys,
    /// about 10 standard deviations, and within 3 % of uniform in total at
    /// 80 % load (1.2 % is sampling noise; groups of full rank add the rest);
    /// with the free variables left zero almost every unknown key gets a
    /// value below 4 here).
    #[test]
    fn unknown_keys_spread_over_every_value() {
        fn check(efd: &Efd<4>, what: &str, max_tv: f64) {
            let mut hist = [0u32; 256];
            for i in 0..1u32 << 18 {
                hist[efd.lookup(&(0x8000_0000u32 | i).to_be_bytes()) as usize] += 1;
            }
            let mean = (1u32 << 18) / 256;
            // Total variation distance from the uniform spread. Groups of
            // full rank have no free variable: their unknown keys get
            // values of the stored keys' range (here 0..4): about 1 % of
            // all at 80 % load, 6 % at 90 %.
            let tv: u32 = hist.iter().map(|&c| c.abs_diff(mean)).sum::<u32>() / 2;
            let tv = f64::from(tv) / f64::from(1u32 << 18);
            eprintln!(
                "{what}: total variation from uniform {tv:.4}, values 0..4 {:?}",
                &hist[..4]
            );
            assert!(tv < max_tv, "{what}: {tv:.4} from uniform: {hist:?}");
            for (v, &c) in hist.iter().enumerate().skip(4) {
                assert!(
                    c > mean * 7 / 10 && c < mean * 13 / 10,
                    "{what}: value {v} taken by {c} unknown keys, mean {mean}"
                );
            }
        }
        let empty = Efd::<4>::new(100_000, 8).unwrap();
        check(&empty, "empty", 0.03);
        let mut built = Efd::<4>::build(
            100_000,
            8,
            (0..80_000u32).map(|i| (i.to_be_bytes(), (i % 4) as u8)),
        )
        .unwrap();
        check(&built, "built", 0.03);
        for i in 80_000..90_000u32 {
            built.insert(&i.to_be_bytes(), (i % 4) as u8).unwrap();
        }
        for i in 0..90_000u32 {
            assert_eq!(built.lookup(&i.to_be_bytes()), (i % 4) as u8);
        }
        // 90 % full: more groups of full rank (about 6 % of unknown keys).
        check(&built, "after online inserts", 0.08);
    }

    #[test]
    fn value_width_and_errors() {
        assert_eq!(
            Efd::<4>::new(0, 8).unwrap_err(),
            EfdError::InvalidCapacity(0)
        );
        assert_eq!(
            Efd::<4>::new(10, 0).unwrap_err(),
            EfdError::InvalidValueBits(0)
        );
        assert_eq!(
            Efd::<4>::new(10, 9).unwrap_err(),
            EfdError::InvalidValueBits(9)
        );
        let mut e = Efd::<4>::new(10, 3).unwrap();
        assert_eq!(
            e.insert(&key(1), 8),
            Err(EfdError::ValueTooWide { value: 8, bits: 3 })
        );
        assert!(e.is_empty());
        assert!(!format!("{}", EfdError::TableFull).is_empty());
    }
}

#[cfg(test)]
mod perf {
    use super::*;

    fn keys(n: usize) -> Vec<([u8; 4], u8)> {
        let mut rng = crate::rng::SplitMix64::new(5);
        (0..n as u32)
            .map(|i| {
                (
                    i.wrapping_mul(0x9e37_79b1).to_be_bytes(),
                    rng.next_u64() as u8,
                )
            })
            .collect()
    }

    /// For instruction counting under `valgrind --tool=cachegrind`
    /// (`EFD_PATH=scalar` or `avx2`; valgrind cannot run AVX-512). Timings
    /// are in `cargo bench --bench efd`.
    #[test]
    #[ignore]
    fn lookup_instr() {
        let n = 1 << 16;
        let kv = keys(n);
        let e = Efd::<4>::build(n * 100 / 95, 8, kv.iter().copied()).unwrap();
        let r = e.reader();
        let q: Vec<[u8; 4]> = kv.iter().map(|x| x.0).collect();
        let mut out = vec![0u8; q.len()];
        let path: LookupPath = match std::env::var("EFD_PATH").as_deref() {
            Ok("scalar") => LookupPath::Scalar,
            Ok("avx2") => LookupPath::Avx2,
            _ => LookupPath::best(),
        };
        for (qc, oc) in q.chunks(32).zip(out.chunks_mut(32)) {
            r.lookup_bulk_with(path, qc, oc);
        }
        assert!(out.iter().zip(&kv).all(|(o, x)| *o == x.1));
    }
}

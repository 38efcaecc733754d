//! The online table (what readers touch), its seqlock, and the lookup:
//! one batch loop for every path (`AVX` picks the kernels), the scalar
//! evaluation, and the choice of path. The AVX2 kernels are in
//! [`avx2`], the AVX-512 bulk lookup in [`avx512`].

use super::hash::{key_hash, locate, row32, slot, wide_base, wide_digests, KeyHash, Seeds};
use crate::mem::{prefetch, LargeBuf};
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Groups per seqlock version: a version guards a stripe of 64 consecutive
/// groups (`g >> STRIPE_SHIFT`). The versions of a 16M-key table take 18 KB
/// and its 1-byte thresholds 290 KB, where a 4-byte header per group took
/// 1.1 MB (16M-key lookups measured 10 % faster, and the table 0.4 bits/key
/// smaller). A write makes the readers of the stripe's other groups retry,
/// which costs nothing at flow-table update rates.
const STRIPE_SHIFT: u32 = 6;

/// Version bit that is set while the writer is rewriting a group of the
/// stripe (versions are even when the stripe is stable).
const BUSY: u32 = 1;

/// The table-wide write epoch: odd while the writer is publishing any group,
/// advanced by 2 per publish. A bulk lookup that reads the same even epoch
/// before and after a batch saw no write at all, and skips the per-stripe
/// version checks of that batch (it falls back to them when the epoch
/// moved or was odd). On its own cache line: the writer stores to it, the
/// readers load it once per batch.
#[repr(C, align(64))]
struct Epoch(AtomicU64);

/// One cache line of solution words.
#[repr(C, align(64))]
pub(crate) struct Line([AtomicU64; 8]);

/// Zeroed, 64-byte aligned cache lines in a [`LargeBuf`] (huge pages for
/// large arrays: a 16M-key table is 20 MB, and with 4 KiB pages nearly every
/// lookup would miss the TLB).
struct LineBuf {
    buf: LargeBuf,
}

// SAFETY: the buffer is owned and only holds atomics.
unsafe impl Send for LineBuf {}
// SAFETY: shared access only goes through atomics.
unsafe impl Sync for LineBuf {}

impl LineBuf {
    fn new(len: usize) -> LineBuf {
        LineBuf {
            buf: LargeBuf::zeroed(len.checked_mul(64).expect("table too large")),
        }
    }

    /// Bytes allocated.
    fn bytes(&self) -> usize {
        self.buf.len()
    }
}

impl std::ops::Deref for LineBuf {
    type Target = [Line];
    fn deref(&self) -> &[Line] {
        // SAFETY: the buffer's whole lines (`len / 64`) are zeroed (valid)
        // atomics, 64-byte aligned, owned by `buf` for as long as `self` lives.
        unsafe {
            std::slice::from_raw_parts(self.buf.as_mut_ptr() as *const Line, self.buf.len() / 64)
        }
    }
}

/// One level: `n` groups, each with an 8-bit threshold (the largest
/// fingerprint it holds; keys above it were bumped to the next level) and
/// `stride` solution words (64-byte aligned); one seqlock version per stripe
/// of groups.
pub(crate) struct Level {
    pub n: u32,
    pub seed: u32,
    /// Thresholds, plus 3 spare bytes so that a 4-byte load at any group's
    /// threshold stays inside (the AVX2 path gathers them as dwords).
    thresh: Box<[AtomicU8]>,
    /// Seqlock versions, one per stripe ([`STRIPE_SHIFT`]).
    versions: Box<[AtomicU32]>,
    lines: LineBuf,
}

impl Level {
    fn new(n: u32, seed: u32, stride: usize) -> Level {
        // One spare line so that SIMD loads of 4 or 8 words from any group
        // stay inside the allocation.
        let nlines = (n as usize * stride).div_ceil(8) + 1;
        Level {
            n,
            seed,
            thresh: (0..n as usize + 3).map(|_| AtomicU8::new(255)).collect(),
            versions: (0..(n as usize).div_ceil(1 << STRIPE_SHIFT))
                .map(|_| AtomicU32::new(0))
                .collect(),
            lines: LineBuf::new(nlines),
        }
    }

    #[inline(always)]
    pub(crate) fn words_ptr(&self) -> *const AtomicU64 {
        self.lines.as_ptr() as *const AtomicU64
    }

    /// The seqlock version guarding group `g`.
    #[inline(always)]
    fn version(&self, g: usize) -> &AtomicU32 {
        &self.versions[g >> STRIPE_SHIFT]
    }

    pub(crate) fn bytes(&self) -> usize {
        self.thresh.len() + self.versions.len() * 4 + self.lines.bytes()
    }
}

/// Physical layout of stride-8 groups (values of 5 to 8 bits): the group's
/// 16 dwords hold the low halves of logical words 0..8, then their high
/// halves. Physical word `q < 4` is `lo(2q) | lo(2q+1) << 32`, word `4 + q`
/// the same with the high halves. A key's eight parities are then those of
/// the dwords of `(lo & r_lo) ^ (hi & r_hi)`: one 256-bit AND per half and
/// one XOR, already in value-bit order.
fn to_phys8(w: &[u64; 8]) -> [u64; 8] {
    const LO: u64 = 0xffff_ffff;
    let mut p = [0u64; 8];
    for q in 0..4 {
        p[q] = (w[2 * q] & LO) | (w[2 * q + 1] << 32);
        p[4 + q] = (w[2 * q] >> 32) | (w[2 * q + 1] & !LO);
    }
    p
}

/// Inverse of [`to_phys8`].
fn from_phys8(p: &[u64; 8]) -> [u64; 8] {
    const LO: u64 = 0xffff_ffff;
    let mut w = [0u64; 8];
    for q in 0..4 {
        w[2 * q] = (p[q] & LO) | (p[4 + q] << 32);
        w[2 * q + 1] = (p[q] >> 32) | (p[4 + q] & !LO);
    }
    w
}

/// The shared, lock-free part of an EFD table.
pub(crate) struct Online {
    pub levels: Box<[Level]>,
    pub vbits: u32,
    pub vmask: u8,
    pub stride: usize,
    pub seeds: Seeds,
    pub avx2: bool,
    /// Whether the bulk lookup fetches the bumped keys' level-2 groups
    /// before the level-1 values pass (level 2 larger than
    /// [`BUMP_EARLY_BYTES`]) or after it; the AVX-512 path prefetches the
    /// level-1 groups of 3 to 8 words only in the early order. Set at
    /// construction (an atomic so that tests can run both orders on one
    /// table).
    bump_early: AtomicBool,
    epoch: Epoch,
}

/// Level-2 size above which the bulk lookup bumps keys before the values
/// pass. A level 2 that large is rarely cached, and the fetch of a bumped
/// key's group must start early; a smaller one mostly is, and then the bump
/// loop's branches, which wait for the threshold gather, cost more than the
/// early fetch saves. Measured on Zen 4, AVX-512 path, early / late time
/// (same table, interleaved rounds): 8-bit values at 16M keys (level 2
/// 1.4 MB) 0.94-0.96; at 1M keys (88 KB) 1.15; 4-bit at 16M (0.7 MB) 1.14;
/// 1 and 2-bit at 16M 1.00. (The AVX2 path at 4 bits and 16M keys, 0.94,
/// would prefer early; it goes late.) Those figures had the AVX-512 path
/// prefetch level 1 in both orders; it now does only when early. Late
/// without prefetches took about 1.5x the time of early for the 8-bit
/// table at 16M keys.
const BUMP_EARLY_BYTES: usize = 1 << 20;

impl Online {
    pub(crate) fn new(groups: &[u32], vbits: u32, seeds: Seeds) -> Online {
        let stride = if vbits <= 4 { vbits as usize } else { 8 };
        Online {
            levels: groups
                .iter()
                .enumerate()
                .map(|(l, &n)| Level::new(n, seeds.level[l], stride))
                .collect(),
            vbits,
            vmask: ((1u32 << vbits) - 1) as u8,
            stride,
            seeds,
            avx2: LookupPath::Avx2.is_supported(),
            bump_early: AtomicBool::new(
                groups
                    .get(1)
                    .is_some_and(|&n| n as usize * stride * 8 > BUMP_EARLY_BYTES),
            ),
            epoch: Epoch(AtomicU64::new(0)),
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of::<Online>() + self.levels.iter().map(Level::bytes).sum::<usize>()
    }

    // ----- writer side (single writer) -----

    #[inline]
    pub(crate) fn threshold(&self, l: usize, g: usize) -> u8 {
        self.levels[l].thresh[g].load(Ordering::Relaxed)
    }

    /// Start loading a group's solution words (writer side, ahead of use).
    #[inline]
    pub(crate) fn prefetch_words(&self, l: usize, g: usize) {
        prefetch(self.levels[l].words_ptr().wrapping_add(g * self.stride));
    }

    /// The group's current solution, as logical words.
    #[inline]
    pub(crate) fn read_words(&self, l: usize, g: usize) -> [u64; 8] {
        debug_assert!(g < self.levels[l].n as usize);
        // SAFETY: `g` is a group of level `l` (callers take it from `locate`
        // or the writer's own group indexes), and the level's lines hold
        // `n * stride` words, so the group's words are in the allocation.
        let p = unsafe { self.levels[l].words_ptr().add(g * self.stride) };
        let mut w = [0u64; 8];
        for (q, wq) in w.iter_mut().enumerate().take(self.stride) {
            // SAFETY: `q < stride`: one of the group's words, an
            // initialised `AtomicU64`.
            *wq = unsafe { (*p.add(q)).load(Ordering::Relaxed) };
        }
        if self.stride == 8 {
            from_phys8(&w)
        } else {
            w
        }
    }

    /// Publish a group's new solution and threshold atomically to readers
    /// (seqlock write side).
    #[inline]
    pub(crate) fn publish(&self, l: usize, g: usize, w: &[u64; 8], t: u8) {
        let lvl = &self.levels[l];
        let v = lvl.version(g);
        // Both even: the single writer always completes a publish.
        let ep = self.epoch.0.load(Ordering::Relaxed);
        let ver = v.load(Ordering::Relaxed);
        self.epoch.0.store(ep.wrapping_add(1), Ordering::Relaxed);
        v.store(ver.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        debug_assert!(g < lvl.n as usize);
        // SAFETY: as in `read_words`: group `g` of this level lies inside the
        // level's lines.
        let p = unsafe { lvl.words_ptr().add(g * self.stride) };
        let phys = if self.stride == 8 { to_phys8(w) } else { *w };
        for (q, &wq) in phys.iter().enumerate().take(self.stride) {
            // SAFETY: `q < stride`: one of the group's words; an atomic
            // store, so concurrent readers are not a data race.
            unsafe { (*p.add(q)).store(wq, Ordering::Relaxed) };
        }
        lvl.thresh[g].store(t, Ordering::Relaxed);
        v.store(ver.wrapping_add(2), Ordering::Release);
        self.epoch.0.store(ep.wrapping_add(2), Ordering::Release);
    }

    /// Holds the write epoch odd, as a publish in flight does, or releases
    /// it: tests force the bulk lookup onto its per-stripe path with it.
    #[cfg(test)]
    pub(crate) fn hold_epoch(&self, held: bool) {
        let e = self.epoch.0.load(Ordering::Relaxed);
        if (e & 1 == 1) != held {
            self.epoch.0.store(e.wrapping_add(1), Ordering::Release);
        }
    }

    /// Whether the bulk lookup bumps keys before the values pass.
    #[inline(always)]
    pub(crate) fn bump_early(&self) -> bool {
        self.bump_early.load(Ordering::Relaxed)
    }

    /// Sets the bulk lookup's bump order: tests run both on small tables.
    #[cfg(test)]
    pub(crate) fn set_bump_early(&self, early: bool) {
        self.bump_early.store(early, Ordering::Relaxed);
    }

    /// Write a group during a bulk build (no concurrent readers exist yet).
    pub(crate) fn init_group(&self, l: usize, g: usize, w: &[u64; 8], t: u8) {
        self.publish(l, g, w, t);
    }

    // ----- reader side -----

    /// Portable evaluation of a group's words for row `r`.
    ///
    /// # Safety
    /// `p` points to a group of this table's stride inside a level's lines.
    #[inline(always)]
    unsafe fn eval_scalar(&self, p: *const AtomicU64, r: u64) -> u8 {
        // SAFETY: the words `q` and `4 + q` (`q < 4`) of a stride-8 group, and
        // `b < stride` of the others, are initialised atomics of the group at
        // `p` (caller).
        unsafe {
            let mut acc = 0u32;
            if self.stride == 8 {
                // Both halves of each physical word meet the same half of `r`
                // (see `to_phys8`).
                let (lo, hi) = (r & 0xffff_ffff, r >> 32);
                let (rl, rh) = (lo | lo << 32, hi | hi << 32);
                for q in 0..4 {
                    let x = ((*p.add(q)).load(Ordering::Relaxed) & rl)
                        ^ ((*p.add(4 + q)).load(Ordering::Relaxed) & rh);
                    acc |= ((x as u32).count_ones() & 1) << (2 * q);
                    acc |= (((x >> 32) as u32).count_ones() & 1) << (2 * q + 1);
                }
            } else {
                for b in 0..self.stride {
                    let w = (*p.add(b)).load(Ordering::Relaxed);
                    acc |= ((r & w).count_ones() & 1) << b;
                }
            }
            acc as u8
        }
    }

    /// Evaluation of a group's words for row `r`: [`Online::eval_s`] with `S8`
    /// from the table's stride.
    ///
    /// # Safety
    /// As [`Online::eval_s`].
    #[inline(always)]
    unsafe fn eval<const AVX: bool>(&self, p: *const AtomicU64, r: u64) -> u8 {
        // SAFETY: the caller's contract is `eval_s`'s, and `S8` is set only for
        // stride 8.
        unsafe {
            if self.stride == 8 {
                self.eval_s::<AVX, true>(p, r)
            } else {
                self.eval_s::<AVX, false>(p, r)
            }
        }
    }

    /// `eval` with the stride-8 test known at compile time (`S8`).
    ///
    /// # Safety
    /// `p` points to a group of this table's stride inside a level's lines
    /// (which end with a spare line); `AVX` only if the CPU has AVX2; `S8` only
    /// if the stride is 8.
    #[inline(always)]
    unsafe fn eval_s<const AVX: bool, const S8: bool>(&self, p: *const AtomicU64, r: u64) -> u8 {
        // SAFETY: with `AVX` the CPU has AVX2 (caller); the group at `p`
        // (caller) is a stride-8 group for `eval8` if `S8`, else 32 bytes
        // inside the lines for `eval4`, and a group of the table's stride for
        // `eval_scalar`.
        unsafe {
            #[cfg(target_arch = "x86_64")]
            if AVX {
                return if S8 {
                    avx2::eval8(p as *const u64, r)
                } else {
                    avx2::eval4(p as *const u64, r) & self.vmask
                };
            }
            self.eval_scalar(p, r)
        }
    }

    /// Look a hashed key up starting at level `from` (one key, any path).
    #[inline]
    pub(crate) fn lookup_from<const AVX: bool>(&self, from: usize, kh: KeyHash) -> u8 {
        for lvl in &self.levels[from..] {
            let (g, fp) = locate(kh.base, lvl.seed, lvl.n);
            let h = lvl.version(g);
            loop {
                let h1 = h.load(Ordering::Acquire);
                if h1 & BUSY != 0 {
                    std::hint::spin_loop();
                    continue;
                }
                if fp > lvl.thresh[g].load(Ordering::Relaxed) {
                    break; // bumped: try the next level
                }
                // SAFETY: `g < lvl.n` (from `locate`), so the group's words
                // are inside the level's lines (plus a spare line for the
                // 256-bit loads); `AVX` is only set on AVX2 paths.
                let v = unsafe { self.eval::<AVX>(lvl.words_ptr().add(g * self.stride), kh.r) };
                fence(Ordering::Acquire);
                if h.load(Ordering::Relaxed) == h1 {
                    return v;
                }
            }
        }
        // Only reachable for keys bumped out of every level, which the writer
        // never does (the last level's threshold is never lowered).
        0
    }

    #[inline]
    pub(crate) fn lookup_one<const N: usize>(&self, key: &[u8; N]) -> u8 {
        let kh = key_hash(key, &self.seeds);
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` was set from run-time detection.
            return unsafe { avx2::lookup_one(self, kh) };
        }
        self.lookup_from::<false>(0, kh)
    }

    pub(crate) fn lookup_bulk<const N: usize>(
        &self,
        path: LookupPath,
        keys: &[[u8; N]],
        out: &mut [u8],
    ) {
        assert!(
            out.len() >= keys.len(),
            "output slice shorter than the key slice"
        );
        assert!(
            path.is_supported(),
            "lookup path {path:?} is not supported by this CPU"
        );
        // SAFETY: `out` is at least as long as `keys` and the path is
        // supported by this CPU (both asserted above).
        match path {
            // SAFETY: as above (`out` long enough; no CPU features needed).
            LookupPath::Scalar => unsafe { bulk_core::<N, false>(self, keys, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above (`out` long enough; AVX2 and POPCNT supported).
            LookupPath::Avx2 => unsafe { avx2::bulk(self, keys, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above (`out` long enough; the AVX-512 path's features
            // supported).
            LookupPath::Avx512 => unsafe { avx512::bulk(self, keys, out) },
            #[cfg(not(target_arch = "x86_64"))]
            LookupPath::Avx2 | LookupPath::Avx512 => unreachable!(),
        }
    }
}

/// Keys per batch of the bulk lookup.
const BATCH: usize = 32;

/// What the bulk lookup's first pass computes for each key of a batch: its
/// hash (`base`, row mask `rs`), and its group `gs`, the address of that
/// group's words `ws` and its fingerprint `hs` in the level being looked at.
struct Scratch {
    base: [u32; BATCH],
    rs: [u64; BATCH],
    hs: [u32; BATCH],
    gs: [u32; BATCH],
    ws: [u64; BATCH],
}

/// Raw pointers to a [`Scratch`]'s arrays (left uninitialised until the
/// first pass writes them, so each element is written before it is read).
#[derive(Clone, Copy)]
struct ScratchPtrs {
    base: *mut u32,
    rs: *mut u64,
    hs: *mut u32,
    gs: *mut u32,
    ws: *mut u64,
}

impl ScratchPtrs {
    fn new(s: &mut std::mem::MaybeUninit<Scratch>) -> ScratchPtrs {
        let p = s.as_mut_ptr();
        // SAFETY: field projections of a live (if uninitialised) `Scratch`;
        // no reference to uninitialised data is created.
        unsafe {
            ScratchPtrs {
                base: std::ptr::addr_of_mut!((*p).base) as *mut u32,
                rs: std::ptr::addr_of_mut!((*p).rs) as *mut u64,
                hs: std::ptr::addr_of_mut!((*p).hs) as *mut u32,
                gs: std::ptr::addr_of_mut!((*p).gs) as *mut u32,
                ws: std::ptr::addr_of_mut!((*p).ws) as *mut u64,
            }
        }
    }
}

/// Bulk lookup, in batches of [`BATCH`] keys: [`hash_batch`] hashes a
/// batch and prefetches its level-1 groups, [`eval_batch`] evaluates it. In
/// calls of several batches, each batch is hashed before the one ahead of
/// it is evaluated, so that its groups arrive during that work.
///
/// # Safety
/// `AVX` requires AVX2 (the caller is compiled with it enabled), and
/// `out.len() >= keys.len()`.
#[inline(always)]
unsafe fn bulk_core<const N: usize, const AVX: bool>(t: &Online, keys: &[[u8; N]], out: &mut [u8]) {
    // SAFETY: the caller's contract is `bulk_stride`'s, and `S8` is set only
    // for stride 8.
    unsafe {
        if t.stride == 8 {
            bulk_stride::<N, AVX, true>(t, keys, out)
        } else {
            bulk_stride::<N, AVX, false>(t, keys, out)
        }
    }
}

/// [`bulk_core`] for a stride known to be 8 (`S8`) or not.
///
/// # Safety
/// As [`bulk_core`].
#[inline(always)]
unsafe fn bulk_stride<const N: usize, const AVX: bool, const S8: bool>(
    t: &Online,
    keys: &[[u8; N]],
    out: &mut [u8],
) {
    // SAFETY: `out.len() >= keys.len()` (caller), so batch `c`'s output at
    // `out + c * BATCH` is valid for its `kc.len() <= BATCH` keys; `s` and `next`
    // point to this frame's two scratches, each hashed by `hash_batch` before
    // `eval_batch` reads it; with `AVX` the CPU has AVX2 (caller).
    unsafe {
        let mut scratch = [
            std::mem::MaybeUninit::<Scratch>::uninit(),
            std::mem::MaybeUninit::<Scratch>::uninit(),
        ];
        let [sa, sb] = &mut scratch;
        let (mut s, mut next) = (ScratchPtrs::new(sa), ScratchPtrs::new(sb));
        let mut quiet = true;
        let mut batches = keys.chunks(BATCH).enumerate().peekable();
        if let Some((_, k0)) = batches.peek() {
            hash_batch::<N, AVX, S8>(t, k0, s);
        }
        while let Some((c, kc)) = batches.next() {
            // The next batch hashed, and its level-1 groups prefetched, before
            // this one is evaluated: its memory latency overlaps this batch's
            // work. (Hashing reads nothing the writer stores to.)
            if let Some((_, kn)) = batches.peek() {
                hash_batch::<N, AVX, S8>(t, kn, next);
            }
            quiet = eval_batch::<N, AVX, S8>(t, kc, s, out.as_mut_ptr().add(c * BATCH), quiet);
            std::mem::swap(&mut s, &mut next);
        }
    }
}

/// First pass over a batch (at most [`BATCH`] keys): hash every key into
/// `s`, locate it in level 1 and prefetch its group's words
/// ([`hash_inputs`] of the keys' hash inputs: 4-byte keys are their own,
/// longer keys' digests are computed here, [`wide_inputs`]).
///
/// # Safety
/// As [`bulk_core`]; `kc.len() <= BATCH`; `s` points to a live scratch.
#[inline(always)]
unsafe fn hash_batch<const N: usize, const AVX: bool, const S8: bool>(
    t: &Online,
    kc: &[[u8; N]],
    s: ScratchPtrs,
) {
    // SAFETY: `kc.len() <= BATCH` (caller): a 4-byte key slice is `kc.len()`
    // dwords; the digest array and the scratch's row masks have room for
    // `BATCH`, each key's written by `wide_inputs` before `hash_inputs` reads
    // it with the caller's scratch.
    unsafe {
        let n = kc.len();
        if N == 4 {
            hash_inputs::<AVX, S8, false>(t, kc.as_ptr() as *const u32, n, s);
        } else {
            let mut digest = std::mem::MaybeUninit::<[u32; BATCH]>::uninit();
            let d = digest.as_mut_ptr() as *mut u32;
            wide_inputs::<N>(kc, &t.seeds, d, s.rs);
            hash_inputs::<AVX, S8, true>(t, d, n, s);
        }
    }
}

/// The hash inputs of keys longer than 4 bytes, from each key's digest
/// ([`wide_digest`], AES-NI key by key): its level-1 hash, written
/// little-endian to `level1` (so that it reads as a 4-byte key reads), and
/// its row mask, to `rows`. The scalar and AVX2 paths take it for every
/// batch; the AVX-512 path computes its digests in registers, sixteen keys
/// at a time (`avx512::digests16`), and takes it for keys of 5 to 7 bytes
/// only.
///
/// # Safety
/// `level1` valid for writing `keys.len()` dwords, `rows` as many qwords.
#[inline]
unsafe fn wide_inputs<const N: usize>(
    keys: &[[u8; N]],
    seeds: &Seeds,
    level1: *mut u32,
    rows: *mut u64,
) {
    wide_digests(keys, seeds, |i, d, r| {
        // SAFETY: `i < keys.len()`, which both are valid for (caller).
        unsafe {
            level1.add(i).write(d.to_le());
            rows.add(i).write(r);
        }
    });
}

/// [`hash_batch`] from the keys' hash inputs, `n` little-endian dwords at
/// `x`: 4-byte keys themselves (each its `base` and the input of its row
/// mask), or with `WIDE` wide keys' level-1 hashes ([`wide_inputs`], which
/// wrote their row masks to `s` already; their bases follow,
/// [`wide_base`]). Eight keys at a time on the AVX2 path.
///
/// # Safety
/// As [`bulk_core`]; `n <= BATCH`; `x` valid for reading `n` dwords (any
/// alignment); `s` points to a live scratch, with `WIDE` its first `n` row
/// masks written.
#[inline(always)]
unsafe fn hash_inputs<const AVX: bool, const S8: bool, const WIDE: bool>(
    t: &Online,
    x: *const u32,
    n: usize,
    s: ScratchPtrs,
) {
    // SAFETY: `n <= BATCH` and `s` is a live scratch (caller), so the writes
    // at `i < n` stay inside its arrays and the reads at `i < n` inside `x`;
    // with `AVX` the CPU has AVX2 (caller), and `hash8` reads the inputs
    // `i..i + 8 <= n` and writes their 8 entries; `g < l0.n` (from `locate`)
    // keeps the group address inside the level's lines.
    unsafe {
        let l0 = &t.levels[0];
        let stride = if S8 { 8 } else { t.stride };
        let wp = l0.words_ptr();
        let mut i = 0;
        #[cfg(target_arch = "x86_64")]
        if AVX {
            while i + 8 <= n {
                avx2::hash8::<WIDE>(
                    x.add(i),
                    &t.seeds,
                    l0.n,
                    (wp as u64, stride as u32 * 8),
                    s.base.add(i),
                    s.hs.add(i),
                    s.gs.add(i),
                    s.ws.add(i),
                    s.rs.add(i),
                );
                i += 8;
            }
        }
        while i < n {
            let x = u32::from_le(x.add(i).read_unaligned());
            let (b, (g, fp)) = if WIDE {
                (wide_base(x, &t.seeds), slot(x, l0.n))
            } else {
                *s.rs.add(i) = row32(x, &t.seeds);
                (x, locate(x, l0.seed, l0.n))
            };
            *s.base.add(i) = b;
            *s.hs.add(i) = fp as u32;
            *s.gs.add(i) = g as u32;
            *s.ws.add(i) = wp.add(g * stride) as u64;
            i += 1;
        }
        // Only the words: also prefetching the group's seqlock and threshold
        // (then a 4-byte header per group) measured no faster at 1M or 16M keys.
        for i in 0..n {
            prefetch(*s.ws.add(i) as *const AtomicU64);
        }
    }
}

/// Second pass over a batch hashed by [`hash_batch`]: [`eval_levels`].
///
/// On the AVX2 path (every value width) it first reads the batch without
/// the stripes' versions, and keeps that result if the table's epoch was
/// even before and unchanged after (no write at all in between). Otherwise
/// it hashes the batch again (the first try moved bumped keys to deeper
/// levels) and reads it under the stripes' versions. Only tries if `quiet`
/// (no earlier batch of the call failed); returns whether this one may try
/// next time.
///
/// # Safety
/// As [`bulk_core`]; `kc.len() <= BATCH` keys of `s` written by
/// [`hash_batch`]; `oc` valid for `kc.len()` bytes.
#[inline(always)]
unsafe fn eval_batch<const N: usize, const AVX: bool, const S8: bool>(
    t: &Online,
    kc: &[[u8; N]],
    s: ScratchPtrs,
    oc: *mut u8,
    quiet: bool,
) -> bool {
    // SAFETY: `eval_levels` and `hash_batch` get the caller's contract:
    // `kc.len() <= BATCH` keys of `s`, hashed, and `oc` valid for their bytes.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        if AVX && quiet && kc.len() >= 8 {
            let e1 = t.epoch.0.load(Ordering::Acquire);
            if e1 & 1 == 0 {
                eval_levels::<AVX, S8, true>(t, kc.len(), s, oc);
                fence(Ordering::Acquire);
                if t.epoch.0.load(Ordering::Relaxed) == e1 {
                    return true;
                }
                hash_batch::<N, AVX, S8>(t, kc, s);
            }
            eval_levels::<AVX, S8, false>(t, kc.len(), s, oc);
            return false;
        }
        eval_levels::<AVX, S8, false>(t, kc.len(), s, oc);
        quiet
    }
}

/// Evaluate a batch of `n` hashed keys level by level. Level 1 on the AVX2
/// path, eight keys at a time: with `QUIET` (no stripe versions, the caller
/// validates the batch with the epoch; every value width) the thresholds of
/// the whole batch first, then the words, with the bumped keys located in
/// level 2 before or after the words ([`bump_keys`]); without it (a
/// write was in flight) under the stripes' versions, for 5- to 8-bit values
/// (other widths key by key). Then the bumped keys level by level. Keys
/// whose group the writer is rewriting at that moment are looked up one by
/// one after each level (rare, and a call inside the loop would make the
/// compiler spill and reload the loop's vector constants on every key).
///
/// # Safety
/// As [`bulk_core`]; `n <= BATCH` keys of `s` written by [`hash_batch`];
/// `oc` valid for `n` bytes.
#[inline(always)]
unsafe fn eval_levels<const AVX: bool, const S8: bool, const QUIET: bool>(
    t: &Online,
    n: usize,
    s: ScratchPtrs,
    oc: *mut u8,
) {
    // SAFETY: `n <= BATCH` keys of `s` hashed by `hash_batch` and `oc` valid
    // for `n` bytes (caller): each block `8b..8b + 8 <= n` gives the AVX2
    // kernels (AVX2 if `AVX`, the caller's) 8 elements of each scratch array
    // and of `oc`, with level-1 groups, their word addresses, and the level's
    // versions and thresholds; every index passed to `bump`, `bump_keys`,
    // `probe`, `retry_keys` and `eval_deeper` is a key `< n` of `s`.
    unsafe {
        let mut pend = [0u8; BATCH];
        let mut retry = [0u8; BATCH];
        let l0 = &t.levels[0];
        let mut np = 0usize;
        let mut nr = 0usize;
        let mut start = 0;
        #[cfg(target_arch = "x86_64")]
        if AVX && (S8 || QUIET) {
            let blocks = n / 8;
            if QUIET {
                let thr = l0.thresh.as_ptr() as *const u8;
                let mut all = 0u32;
                for b in 0..blocks {
                    all |= avx2::bumped8(thr, s.gs.add(8 * b), s.hs.add(8 * b)) << (8 * b);
                }
                if t.bump_early() {
                    bump_keys::<S8>(t, all, s, &mut pend, &mut np);
                }
                for b in 0..blocks {
                    let (ws, rs, o) = (
                        s.ws.add(8 * b) as *const u64,
                        s.rs.add(8 * b),
                        oc.add(8 * b),
                    );
                    if S8 {
                        avx2::values8(ws, rs, o);
                    } else {
                        match t.stride {
                            1 => avx2::values_narrow::<1>(t.vmask, ws, rs, o),
                            2 => avx2::values_narrow::<2>(t.vmask, ws, rs, o),
                            _ => avx2::values_narrow::<4>(t.vmask, ws, rs, o),
                        }
                    }
                }
                if !t.bump_early() {
                    bump_keys::<S8>(t, all, s, &mut pend, &mut np);
                }
            } else {
                for b in 0..blocks {
                    let k = 8 * b;
                    let (good, bumped) = avx2::block8(
                        l0.versions.as_ptr() as *const u32,
                        l0.thresh.as_ptr() as *const u8,
                        s.gs.add(k),
                        s.ws.add(k) as *const u64,
                        s.hs.add(k),
                        s.rs.add(k),
                        oc.add(k),
                    );
                    let mut m = bumped;
                    while m != 0 {
                        let i = k + m.trailing_zeros() as usize;
                        m &= m - 1;
                        bump::<S8>(t, i, s, &mut pend, &mut np);
                    }
                    let mut m = !(good | bumped) & 0xff;
                    while m != 0 {
                        retry[nr] = (k + m.trailing_zeros() as usize) as u8;
                        nr += 1;
                        m &= m - 1;
                    }
                }
            }
            start = blocks * 8;
        }
        for i in start..n {
            match probe::<AVX, S8>(t, l0, i, s) {
                Probe::Value(v) => *oc.add(i) = v,
                Probe::Bumped => bump::<S8>(t, i, s, &mut pend, &mut np),
                // The writer is rewriting this group right now: retried below.
                Probe::Busy => {
                    retry[nr] = i as u8;
                    nr += 1;
                }
            }
        }
        retry_keys::<AVX>(t, 0, &retry[..nr], s, oc);
        eval_deeper::<AVX, S8, QUIET>(t, s, &mut pend, np, oc);
    }
}

/// The keys `pend[..np]` of a batch, bumped from level 1 (each located in
/// level 2 by [`bump`]), level by level: under the stripes' versions, or
/// with `QUIET` without them (the caller validates the batch with the
/// epoch).
///
/// # Safety
/// As [`eval_levels`]; each pending index is one of `s`'s hashed keys.
#[inline(always)]
unsafe fn eval_deeper<const AVX: bool, const S8: bool, const QUIET: bool>(
    t: &Online,
    s: ScratchPtrs,
    pend: &mut [u8; BATCH],
    mut np: usize,
    oc: *mut u8,
) {
    // SAFETY: each pending index is one of `s`'s hashed keys and `oc` is valid
    // for it (caller); `bump` located them in level 2 and `locate_and_prefetch`
    // locates them in each deeper level before they are probed there, so
    // `gs[i]` is a group of `lvl` for `probe` and `probe_quiet`.
    unsafe {
        let mut retry = [0u8; BATCH];
        let mut l = 1;
        while np > 0 && l < t.levels.len() {
            let lvl = &t.levels[l];
            if l > 1 {
                for &i in &pend[..np] {
                    locate_and_prefetch::<S8>(t, lvl, i as usize, s);
                }
            }
            let mut np2 = 0;
            let mut nr = 0;
            for j in 0..np {
                let i = pend[j] as usize;
                let p = if QUIET {
                    probe_quiet::<AVX, S8>(t, lvl, i, s)
                } else {
                    probe::<AVX, S8>(t, lvl, i, s)
                };
                match p {
                    Probe::Value(v) => *oc.add(i) = v,
                    Probe::Bumped => {
                        pend[np2] = i as u8;
                        np2 += 1;
                    }
                    Probe::Busy => {
                        retry[nr] = i as u8;
                        nr += 1;
                    }
                }
            }
            retry_keys::<AVX>(t, l, &retry[..nr], s, oc);
            np = np2;
            l += 1;
        }
        for &i in &pend[..np] {
            *oc.add(i as usize) = 0;
        }
    }
}

/// Key `i` of a batch was bumped from level 1: locate it in level 2 (if
/// any), start fetching that group, and add it to the pending keys.
///
/// # Safety
/// `i` is one of `s`'s hashed keys.
#[inline(always)]
unsafe fn bump<const S8: bool>(
    t: &Online,
    i: usize,
    s: ScratchPtrs,
    pend: &mut [u8; BATCH],
    np: &mut usize,
) {
    // SAFETY: `i` is one of `s`'s hashed keys (caller), as
    // `locate_and_prefetch` needs.
    unsafe {
        if let Some(l1) = t.levels.get(1) {
            locate_and_prefetch::<S8>(t, l1, i, s);
        }
        pend[*np] = i as u8;
        *np += 1;
    }
}

/// [`bump`] every key of a batch whose bit is set in `bumped`. Either
/// before the level-1 values pass, so that the level-2 groups are fetched
/// during it, or after it, so that the pass waits neither for the
/// thresholds nor for this loop's branches ([`Online::bump_early`]); the
/// bumped keys' level-1 values are garbage either way, overwritten later.
///
/// # Safety
/// Each set bit is one of `s`'s hashed keys.
#[inline(always)]
unsafe fn bump_keys<const S8: bool>(
    t: &Online,
    bumped: u32,
    s: ScratchPtrs,
    pend: &mut [u8; BATCH],
    np: &mut usize,
) {
    // SAFETY: each set bit is one of `s`'s hashed keys (caller), as `bump`
    // needs.
    unsafe {
        let mut m = bumped;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            bump::<S8>(t, i, s, pend, np);
        }
    }
}

/// What one key's group in one level says (see [`probe`]).
enum Probe {
    /// The key's value, read under the seqlock.
    Value(u8),
    /// The group's threshold sends the key to the next level.
    Bumped,
    /// The writer is rewriting the group's stripe: look the key up again.
    Busy,
}

/// Key `i` of a batch in its group `gs[i]` of level `lvl` (fingerprint in
/// the low byte of `hs[i]`): the seqlock read of one group.
///
/// # Safety
/// As [`eval_batch`]; `gs[i]` is a group of `lvl`.
#[inline(always)]
unsafe fn probe<const AVX: bool, const S8: bool>(
    t: &Online,
    lvl: &Level,
    i: usize,
    s: ScratchPtrs,
) -> Probe {
    // SAFETY: `i` is one of `s`'s hashed keys and `gs[i]` a group of `lvl`
    // (caller): `g` indexes the thresholds in bounds, and `ws[i]`, written with
    // `gs[i]`, is that group's address, as `eval_s` needs (with AVX2 if `AVX`,
    // the caller's).
    unsafe {
        let g = *s.gs.add(i) as usize;
        let h = lvl.version(g);
        let h1 = h.load(Ordering::Acquire);
        let th = lvl.thresh.get_unchecked(g).load(Ordering::Relaxed) as u32;
        // Not busy and fp <= threshold, in one compare: (t - fp) wraps to a huge
        // value if fp > t, and BUSY pushes it to >= 0x100.
        if (th.wrapping_sub(*s.hs.add(i) & 0xff) | (h1 & BUSY) << 8) < 0x100 {
            let v = t.eval_s::<AVX, S8>(*s.ws.add(i) as *const AtomicU64, *s.rs.add(i));
            fence(Ordering::Acquire);
            if h.load(Ordering::Relaxed) == h1 {
                return Probe::Value(v);
            }
            Probe::Busy
        } else if h1 & BUSY == 0 {
            Probe::Bumped
        } else {
            Probe::Busy
        }
    }
}

/// [`probe`] without the seqlock, for a batch that the caller validates
/// with the table's epoch: the threshold, then the value (never `Busy`).
///
/// # Safety
/// As [`probe`].
#[inline(always)]
unsafe fn probe_quiet<const AVX: bool, const S8: bool>(
    t: &Online,
    lvl: &Level,
    i: usize,
    s: ScratchPtrs,
) -> Probe {
    // SAFETY: as in `probe`: `g` is a group of `lvl` and `ws[i]` its address
    // (caller).
    unsafe {
        let g = *s.gs.add(i) as usize;
        let th = lvl.thresh.get_unchecked(g).load(Ordering::Relaxed) as u32;
        if *s.hs.add(i) & 0xff <= th {
            Probe::Value(t.eval_s::<AVX, S8>(*s.ws.add(i) as *const AtomicU64, *s.rs.add(i)))
        } else {
            Probe::Bumped
        }
    }
}

/// Look the keys `idx` of a batch up one by one from level `from`: those
/// whose group the writer was rewriting when the batch passed by.
///
/// # Safety
/// Each index is one of `s`'s hashed keys and `oc` is valid for it.
#[inline(always)]
unsafe fn retry_keys<const AVX: bool>(
    t: &Online,
    from: usize,
    idx: &[u8],
    s: ScratchPtrs,
    oc: *mut u8,
) {
    // SAFETY: each index is one of `s`'s hashed keys, whose base and row mask
    // were written, and `oc` is valid for it (caller).
    unsafe {
        for &i in idx {
            let i = i as usize;
            let kh = KeyHash {
                base: *s.base.add(i),
                r: *s.rs.add(i),
            };
            *oc.add(i) = t.lookup_from::<AVX>(from, kh);
        }
    }
}

/// Locate key `i` of a bulk batch in level `lvl` (group into `gs[i]`,
/// fingerprint into `hs[i]`) and prefetch that group now, so that the fetch
/// overlaps the rest of the pass: for keys bumped from the level before.
///
/// # Safety
/// `i` is one of `s`'s hashed keys.
#[inline(always)]
unsafe fn locate_and_prefetch<const S8: bool>(t: &Online, lvl: &Level, i: usize, s: ScratchPtrs) {
    // SAFETY: `i` is one of `s`'s hashed keys (caller), so `base[i]` was
    // written and the writes at `i` stay inside the scratch; `g < lvl.n` (from
    // `locate`) keeps the word and threshold addresses inside the level's
    // allocations.
    unsafe {
        let stride = if S8 { 8 } else { t.stride };
        let (g, fp) = locate(*s.base.add(i), lvl.seed, lvl.n);
        let w = lvl.words_ptr().add(g * stride);
        *s.gs.add(i) = g as u32;
        *s.hs.add(i) = fp as u32;
        *s.ws.add(i) = w as u64;
        prefetch(lvl.thresh.as_ptr().add(g));
        prefetch(w);
    }
}

/// A lookup code path. Every path returns the same values; [`LookupPath::best`]
/// is chosen at run time by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LookupPath {
    /// Portable Rust (no SIMD intrinsics).
    Scalar,
    /// x86-64 AVX2 (and POPCNT): eight 4-byte keys hashed at once, their
    /// thresholds gathered, and their values evaluated eight at a time
    /// (8 bits: the parities of four keys folded together; 2 bits: two
    /// groups per 256-bit load; 1 bit: `popcnt`; 3 and 4 bits: a 256-bit
    /// load per key).
    Avx2,
    /// x86-64 AVX-512 (F, VL, BW, DQ, VPOPCNTDQ) and BMI2: sixteen keys
    /// hashed at once (longer keys from their digests, computed first) and
    /// their thresholds gathered; 1 and
    /// 2-bit values from gathered words, wider groups two per 512-bit
    /// register; parities by `vpopcnt`.
    Avx512,
}

impl LookupPath {
    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            LookupPath::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            LookupPath::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("popcnt")
            }
            #[cfg(target_arch = "x86_64")]
            LookupPath::Avx512 => avx512::is_supported(),
            #[cfg(not(target_arch = "x86_64"))]
            LookupPath::Avx2 | LookupPath::Avx512 => false,
        }
    }

    /// All paths this CPU supports (always contains `Scalar`).
    pub fn supported() -> Vec<LookupPath> {
        [LookupPath::Scalar, LookupPath::Avx2, LookupPath::Avx512]
            .into_iter()
            .filter(|p| p.is_supported())
            .collect()
    }

    /// The fastest supported path.
    pub fn best() -> LookupPath {
        if LookupPath::Avx512.is_supported() {
            LookupPath::Avx512
        } else if LookupPath::Avx2.is_supported() {
            LookupPath::Avx2
        } else {
            LookupPath::Scalar
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(test)]
mod tests {
    use super::*;

    /// Value of row `r` over logical words `w`: bit b is parity(r & w[b]).
    fn model(w: &[u64; 8], r: u64) -> u8 {
        (0..8).fold(0u8, |acc, b| {
            acc | (((r & w[b]).count_ones() & 1) as u8) << b
        })
    }

    /// The AVX2 hash of eight wide keys (their digests, then `hash8`) and
    /// of eight 4-byte keys is the scalar `key_hash` + `locate`, and the
    /// AVX-512 digests of sixteen keys (every prefix of lanes) are the
    /// scalar ones, for every key length of the key kinds (and odd ones).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn keys_hash_the_same_on_avx2_and_avx512() {
        use std::arch::x86_64::{__m512i, _mm512_storeu_si512};
        fn check<const N: usize>() {
            if !LookupPath::Avx2.is_supported() {
                return;
            }
            let t = Online::new(&[1000], 8, Seeds::new(7));
            let l0 = &t.levels[0];
            let mut rng = crate::rng::SplitMix64::new(N as u64);
            for round in 0..200 {
                let keys: Vec<[u8; N]> = (0..16)
                    .map(|_| {
                        std::array::from_fn(|b| {
                            // Half the rounds: keys that differ in one byte.
                            if round % 2 == 0 || b == (round / 2) % N {
                                rng.next_u64() as u8
                            } else {
                                0x5a
                            }
                        })
                    })
                    .collect();
                let (mut base, mut hs, mut gs) = ([0u32; 8], [0u32; 8], [0u32; 8]);
                let (mut ws, mut rs) = ([0u64; 8], [0u64; 8]);
                let wp = l0.words_ptr() as u64;
                // The hash inputs: the keys themselves (4 bytes), or their
                // level-1 hashes, with their row masks in `rs` already.
                let mut x = [0u32; 16];
                let mut ir = [0u64; 16];
                // SAFETY: AVX2 (and for `avx512::digests16` that path's
                // features) is supported; `keys` holds 16 keys of `N >= 8`
                // bytes for the SIMD digests; the arrays hold 16 entries and
                // `hash8` reads and writes 8.
                unsafe {
                    if N == 4 {
                        for (xi, k) in x.iter_mut().zip(&keys) {
                            *xi = u32::from_le_bytes(k[..4].try_into().unwrap());
                        }
                    } else {
                        wide_inputs::<N>(&keys, &t.seeds, x.as_mut_ptr(), ir.as_mut_ptr());
                        rs.copy_from_slice(&ir[..8]);
                    }
                    if N >= 8 && LookupPath::Avx512.is_supported() {
                        // Every prefix of the sixteen lanes: the lanes'
                        // hashes are the scalar ones (the permutes up to 16
                        // bytes, the per-key loads above).
                        let kp = keys.as_ptr() as *const u8;
                        for lanes in 1..=16 {
                            let m = ((1u32 << lanes) - 1) as u16;
                            let (vb, vh, r0, r1) = avx512::digests16::<N>(kp, m, &t.seeds);
                            let (mut b, mut h, mut r) = ([0u32; 16], [0u32; 16], [0u64; 16]);
                            _mm512_storeu_si512(b.as_mut_ptr() as *mut __m512i, vb);
                            _mm512_storeu_si512(h.as_mut_ptr() as *mut __m512i, vh);
                            _mm512_storeu_si512(r.as_mut_ptr() as *mut __m512i, r0);
                            _mm512_storeu_si512(r.as_mut_ptr().add(8) as *mut __m512i, r1);
                            for k in 0..lanes {
                                let kh = key_hash(&keys[k], &t.seeds);
                                let at = format!("AVX-512, N={N}, {lanes} lanes, key {k}");
                                assert_eq!((b[k], r[k]), (kh.base, kh.r), "{at}");
                                assert_eq!(
                                    h[k],
                                    crate::efd::hash::mix_g(kh.base ^ t.seeds.level[0]),
                                    "{at}"
                                );
                            }
                        }
                    }
                    let hash8 = if N == 4 {
                        avx2::hash8::<false>
                    } else {
                        avx2::hash8::<true>
                    };
                    hash8(
                        x.as_ptr(),
                        &t.seeds,
                        l0.n,
                        (wp, t.stride as u32 * 8),
                        base.as_mut_ptr(),
                        hs.as_mut_ptr(),
                        gs.as_mut_ptr(),
                        ws.as_mut_ptr(),
                        rs.as_mut_ptr(),
                    );
                }
                for (i, k) in keys.iter().take(8).enumerate() {
                    let kh = key_hash(k, &t.seeds);
                    let (g, fp) = locate(kh.base, l0.seed, l0.n);
                    let at = format!("AVX2, N={N} key {i}");
                    assert_eq!((base[i], rs[i]), (kh.base, kh.r), "{at}");
                    assert_eq!((gs[i] as usize, hs[i] as u8), (g, fp), "{at}");
                    assert_eq!(ws[i], wp + (g * t.stride * 8) as u64, "{at}");
                }
            }
        }
        check::<3>();
        check::<4>();
        check::<5>();
        check::<8>();
        check::<13>();
        check::<16>();
        check::<32>();
        check::<37>();
        check::<40>();
    }

    /// The stride-8 physical layout round-trips, and every evaluator of it
    /// (scalar, AVX2 one key, AVX2 four keys) agrees with the model.
    #[test]
    fn stride8_layout_and_evaluators_agree() {
        let t = Online::new(&[8], 8, Seeds::new(1));
        let mut rng = crate::rng::SplitMix64::new(0x0123_4567_89ab_cdef);
        for _ in 0..2000 {
            let ws: Vec<[u64; 8]> = (0..4)
                .map(|_| std::array::from_fn(|_| rng.next_u64()))
                .collect();
            let rs: [u64; 4] = std::array::from_fn(|_| rng.next_u64());
            for (g, w) in ws.iter().enumerate() {
                assert_eq!(from_phys8(&to_phys8(w)), *w);
                t.publish(0, g, w, 255);
                assert_eq!(t.read_words(0, g), *w);
            }
            let p: [*const AtomicU64; 4] =
                std::array::from_fn(|g| t.levels[0].words_ptr().wrapping_add(g * 8));
            for k in 0..4 {
                let want = model(&ws[k], rs[k]);
                // SAFETY: `p[k]` is group k of the level (8 groups).
                assert_eq!(unsafe { t.eval_scalar(p[k], rs[k]) }, want);
                #[cfg(target_arch = "x86_64")]
                if LookupPath::Avx2.is_supported() {
                    // SAFETY: AVX2 is supported; the group's 64 bytes lie
                    // inside the level's lines.
                    assert_eq!(unsafe { avx2::eval8(p[k] as *const u64, rs[k]) }, want);
                }
            }
            #[cfg(target_arch = "x86_64")]
            if LookupPath::Avx2.is_supported() {
                let want = u32::from_le_bytes(std::array::from_fn(|k| model(&ws[k], rs[k])));
                // SAFETY: as above, and `rs` holds four row masks.
                let got = unsafe { avx2::eval8x4(p.map(|q| q as *const u64), rs.as_ptr()) };
                assert_eq!(got, want);
            }
        }
    }
}

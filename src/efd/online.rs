//! The online table (what readers touch), its per-group seqlock, and the
//! scalar and AVX2 lookup paths.

use super::hash::{key_hash, locate, KeyHash, Seeds};
use crate::mem::prefetch;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// Header bit that is set while the writer is rewriting a group (the low bit
/// of the 24-bit version above the 8-bit threshold).
pub(crate) const BUSY: u32 = 0x100;

/// One cache line of solution words.
#[repr(C, align(64))]
pub(crate) struct Line([AtomicU64; 8]);

/// Zeroed, 64-byte aligned cache lines; large arrays are huge-page aligned
/// and advised (see [`crate::mem`]): a 16M-key table is 20 MB, and with
/// 4 KiB pages nearly every lookup would miss the TLB.
struct LineBuf {
    ptr: std::ptr::NonNull<Line>,
    len: usize,
    layout: std::alloc::Layout,
}

// SAFETY: the buffer is owned and only holds atomics.
unsafe impl Send for LineBuf {}
// SAFETY: shared access only goes through atomics.
unsafe impl Sync for LineBuf {}

impl LineBuf {
    fn new(len: usize) -> LineBuf {
        let layout =
            std::alloc::Layout::from_size_align((len * 64).max(64), 64).expect("table too large");
        // SAFETY: nonzero size; all-zero bytes are valid `AtomicU64`s.
        let p = unsafe { crate::mem::alloc_large(layout, true) };
        let Some(ptr) = std::ptr::NonNull::new(p as *mut Line) else {
            std::alloc::handle_alloc_error(layout);
        };
        LineBuf { ptr, len, layout }
    }
}

impl std::ops::Deref for LineBuf {
    type Target = [Line];
    fn deref(&self) -> &[Line] {
        // SAFETY: `len` initialised lines.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for LineBuf {
    fn drop(&mut self) {
        // SAFETY: allocated by `alloc_large` with this layout.
        unsafe { crate::mem::dealloc_large(self.ptr.as_ptr() as *mut u8, self.layout) }
    }
}

/// One level: `n` groups, a header per group (`version << 8 | threshold`) and
/// the groups' solution words, `stride` words per group, 64-byte aligned.
pub(crate) struct Level {
    pub n: u32,
    pub seed: u32,
    pub headers: Box<[AtomicU32]>,
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
            headers: (0..n).map(|_| AtomicU32::new(255)).collect(),
            lines: LineBuf::new(nlines),
        }
    }

    #[inline(always)]
    pub(crate) fn words_ptr(&self) -> *const AtomicU64 {
        self.lines.as_ptr() as *const AtomicU64
    }

    pub(crate) fn bytes(&self) -> usize {
        self.headers.len() * 4 + self.lines.layout.size()
    }
}

/// Bit position of physical word `q` for stride-8 groups (values of 5 to 8
/// bits): physical words 0..3 hold the even logical bits, 4..7 the odd ones,
/// which is the order the AVX2 path's `movmskps` produces them in.
const BITPOS8: [u32; 8] = [0, 2, 4, 6, 1, 3, 5, 7];

#[inline(always)]
fn phys(b: usize, stride: usize) -> usize {
    if stride == 8 {
        if b.is_multiple_of(2) {
            b / 2
        } else {
            4 + b / 2
        }
    } else {
        b
    }
}

/// The shared, lock-free part of an EFD table.
pub(crate) struct Online {
    pub levels: Box<[Level]>,
    pub vbits: u32,
    pub vmask: u8,
    pub stride: usize,
    pub seeds: Seeds,
    pub avx2: bool,
}

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
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of::<Online>() + self.levels.iter().map(Level::bytes).sum::<usize>()
    }

    // ----- writer side (single writer) -----

    #[inline]
    pub(crate) fn threshold(&self, l: usize, g: usize) -> u8 {
        self.levels[l].headers[g].load(Ordering::Relaxed) as u8
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
        for (b, wb) in w.iter_mut().enumerate().take(self.vbits as usize) {
            // SAFETY: `phys(b, stride) < stride` for `b < vbits`: one of the
            // group's words, an initialised `AtomicU64`.
            *wb = unsafe { (*p.add(phys(b, self.stride))).load(Ordering::Relaxed) };
        }
        w
    }

    /// Publish a group's new solution and threshold atomically to readers
    /// (seqlock write side).
    #[inline]
    pub(crate) fn publish(&self, l: usize, g: usize, w: &[u64; 8], t: u8) {
        let lvl = &self.levels[l];
        let h = &lvl.headers[g];
        let cur = h.load(Ordering::Relaxed);
        let ver = cur >> 8;
        h.store(
            ((ver.wrapping_add(1) & 0xff_ffff) << 8) | (cur & 0xff),
            Ordering::Relaxed,
        );
        fence(Ordering::Release);
        debug_assert!(g < lvl.n as usize);
        // SAFETY: as in `read_words`: group `g` of this level lies inside the
        // level's lines.
        let p = unsafe { lvl.words_ptr().add(g * self.stride) };
        for (b, &wb) in w.iter().enumerate().take(self.vbits as usize) {
            // SAFETY: one of the group's words (`phys(b, stride) < stride`);
            // an atomic store, so concurrent readers are not a data race.
            unsafe { (*p.add(phys(b, self.stride))).store(wb, Ordering::Relaxed) };
        }
        h.store(
            ((ver.wrapping_add(2) & 0xff_ffff) << 8) | t as u32,
            Ordering::Release,
        );
    }

    /// Write a group during a bulk build (no concurrent readers exist yet).
    pub(crate) fn init_group(&self, l: usize, g: usize, w: &[u64; 8], t: u8) {
        self.publish(l, g, w, t);
    }

    // ----- reader side -----

    /// Portable evaluation of a group's words for row `r`.
    #[inline(always)]
    unsafe fn eval_scalar(&self, p: *const AtomicU64, r: u64) -> u8 {
        let mut acc = 0u32;
        if self.stride == 8 {
            for (q, &pos) in BITPOS8.iter().enumerate() {
                let w = (*p.add(q)).load(Ordering::Relaxed);
                acc |= ((r & w).count_ones() & 1) << pos;
            }
        } else {
            for b in 0..self.stride {
                let w = (*p.add(b)).load(Ordering::Relaxed);
                acc |= ((r & w).count_ones() & 1) << b;
            }
        }
        acc as u8
    }

    #[inline(always)]
    unsafe fn eval<const AVX: bool>(&self, p: *const AtomicU64, r: u64) -> u8 {
        if self.stride == 8 {
            self.eval_s::<AVX, true>(p, r)
        } else {
            self.eval_s::<AVX, false>(p, r)
        }
    }

    /// `eval` with the stride-8 test known at compile time (`S8`).
    #[inline(always)]
    unsafe fn eval_s<const AVX: bool, const S8: bool>(&self, p: *const AtomicU64, r: u64) -> u8 {
        #[cfg(target_arch = "x86_64")]
        if AVX {
            return if S8 {
                avx::eval8(p as *const u64, r)
            } else {
                avx::eval4(p as *const u64, r) & self.vmask
            };
        }
        self.eval_scalar(p, r)
    }

    /// Look a hashed key up starting at level `from` (one key, any path).
    #[inline]
    pub(crate) fn lookup_from<const AVX: bool>(&self, from: usize, kh: KeyHash) -> u8 {
        for lvl in &self.levels[from..] {
            let (g, fp) = locate(kh.base, lvl.seed, lvl.n);
            let h = &lvl.headers[g];
            loop {
                let h1 = h.load(Ordering::Acquire);
                if h1 & BUSY != 0 {
                    std::hint::spin_loop();
                    continue;
                }
                if fp as u32 > (h1 & 0xff) {
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
            return unsafe { avx::lookup_one(self, kh) };
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
            LookupPath::Scalar => unsafe { bulk_core::<N, false>(self, keys, out) },
            #[cfg(target_arch = "x86_64")]
            LookupPath::Avx2 => unsafe { avx::bulk(self, keys, out) },
            #[cfg(not(target_arch = "x86_64"))]
            LookupPath::Avx2 => unreachable!(),
        }
    }
}

/// Batch size of the bulk lookup's two passes (hash + prefetch, evaluate).
const BATCH: usize = 32;

/// Bulk lookup, in batches: pass 1 hashes every key and prefetches its group
/// header and words; pass 2 evaluates the groups whose threshold admits the
/// key and collects the bumped keys, prefetching their level-2 groups at
/// once; then the bumped keys are evaluated level by level. Keys whose group
/// the writer is rewriting at that moment are looked up one by one after
/// each pass (rare, and a call inside the pass would cost every key).
///
/// # Safety
/// `AVX` requires AVX2 (the caller is compiled with it enabled), and
/// `out.len() >= keys.len()`.
#[inline(always)]
unsafe fn bulk_core<const N: usize, const AVX: bool>(t: &Online, keys: &[[u8; N]], out: &mut [u8]) {
    if t.stride == 8 {
        bulk_stride::<N, AVX, true>(t, keys, out)
    } else {
        bulk_stride::<N, AVX, false>(t, keys, out)
    }
}

/// [`bulk_core`] for a stride known to be 8 (`S8`) or not.
#[inline(always)]
unsafe fn bulk_stride<const N: usize, const AVX: bool, const S8: bool>(
    t: &Online,
    keys: &[[u8; N]],
    out: &mut [u8],
) {
    let mut base = [0u32; BATCH];
    let mut rs = [0u64; BATCH];
    let mut hs = [0u32; BATCH];
    let mut gs = [0u32; BATCH];
    let mut pend = [0u8; BATCH];
    let mut retry = [0u8; BATCH];
    let stride = if S8 { 8 } else { t.stride };
    for (kc, oc) in keys.chunks(BATCH).zip(out.chunks_mut(BATCH)) {
        let n = kc.len();
        let l0 = &t.levels[0];
        let hdr = l0.headers.as_ptr();
        let wp = l0.words_ptr();
        let mut i = 0;
        #[cfg(target_arch = "x86_64")]
        if AVX && N == 4 {
            while i + 8 <= n {
                avx::hash8(
                    kc.as_ptr().add(i) as *const u8,
                    &t.seeds,
                    l0.n,
                    base.as_mut_ptr().add(i),
                    hs.as_mut_ptr().add(i),
                    gs.as_mut_ptr().add(i),
                    rs.as_mut_ptr().add(i),
                );
                i += 8;
            }
        }
        while i < n {
            let kh = key_hash(kc.get_unchecked(i), &t.seeds);
            let (g, fp) = locate(kh.base, l0.seed, l0.n);
            *base.get_unchecked_mut(i) = kh.base;
            *rs.get_unchecked_mut(i) = kh.r;
            *hs.get_unchecked_mut(i) = fp as u32;
            *gs.get_unchecked_mut(i) = g as u32;
            i += 1;
        }
        for &g in &gs[..n] {
            prefetch(hdr.add(g as usize));
            prefetch(wp.add(g as usize * stride));
        }
        let mut np = 0usize;
        let mut nr = 0usize;
        for i in 0..n {
            let g = *gs.get_unchecked(i) as usize;
            let h = &*hdr.add(g);
            let h1 = h.load(Ordering::Acquire);
            // Not busy and fp <= threshold, in one compare: (t - fp) wraps
            // to a huge value if fp > t, and BUSY pushes it to >= 0x100.
            if ((h1 & 0xff).wrapping_sub(*hs.get_unchecked(i) & 0xff) | (h1 & BUSY)) < 0x100 {
                let v = t.eval_s::<AVX, S8>(wp.add(g * stride), *rs.get_unchecked(i));
                fence(Ordering::Acquire);
                if h.load(Ordering::Relaxed) == h1 {
                    *oc.get_unchecked_mut(i) = v;
                    continue;
                }
            } else if h1 & BUSY == 0 {
                // Bumped: locate it in level 2 and prefetch that group now,
                // so the fetch overlaps the rest of this pass.
                if let Some(l1) = t.levels.get(1) {
                    let (g, fp) = locate(*base.get_unchecked(i), l1.seed, l1.n);
                    *gs.get_unchecked_mut(i) = g as u32;
                    *hs.get_unchecked_mut(i) = fp as u32;
                    prefetch(l1.headers.as_ptr().add(g));
                    prefetch(l1.words_ptr().add(g * stride));
                }
                *pend.get_unchecked_mut(np) = i as u8;
                np += 1;
                continue;
            }
            // The writer is rewriting this group right now: retried below,
            // out of this loop (a call here would make the compiler spill
            // and reload the loop's vector constants on every key).
            *retry.get_unchecked_mut(nr) = i as u8;
            nr += 1;
        }
        for &i in &retry[..nr] {
            let i = i as usize;
            let kh = KeyHash {
                base: *base.get_unchecked(i),
                r: *rs.get_unchecked(i),
            };
            *oc.get_unchecked_mut(i) = t.lookup_from::<AVX>(0, kh);
        }
        let mut l = 1;
        while np > 0 && l < t.levels.len() {
            let lvl = &t.levels[l];
            let hdr = lvl.headers.as_ptr();
            let wp = lvl.words_ptr();
            if l > 1 {
                for &i in &pend[..np] {
                    let i = i as usize;
                    let (g, fp) = locate(*base.get_unchecked(i), lvl.seed, lvl.n);
                    *gs.get_unchecked_mut(i) = g as u32;
                    *hs.get_unchecked_mut(i) = fp as u32;
                    prefetch(hdr.add(g));
                    prefetch(wp.add(g * stride));
                }
            }
            let mut np2 = 0;
            nr = 0;
            for j in 0..np {
                let i = *pend.get_unchecked(j) as usize;
                let g = *gs.get_unchecked(i) as usize;
                let h = &*hdr.add(g);
                let h1 = h.load(Ordering::Acquire);
                if ((h1 & 0xff).wrapping_sub(*hs.get_unchecked(i)) | (h1 & BUSY)) < 0x100 {
                    let v = t.eval_s::<AVX, S8>(wp.add(g * stride), *rs.get_unchecked(i));
                    fence(Ordering::Acquire);
                    if h.load(Ordering::Relaxed) == h1 {
                        *oc.get_unchecked_mut(i) = v;
                        continue;
                    }
                } else if h1 & BUSY == 0 {
                    *pend.get_unchecked_mut(np2) = i as u8;
                    np2 += 1;
                    continue;
                }
                *retry.get_unchecked_mut(nr) = i as u8;
                nr += 1;
            }
            for &i in &retry[..nr] {
                let i = i as usize;
                let kh = KeyHash {
                    base: *base.get_unchecked(i),
                    r: *rs.get_unchecked(i),
                };
                *oc.get_unchecked_mut(i) = t.lookup_from::<AVX>(l, kh);
            }
            np = np2;
            l += 1;
        }
        for &i in &pend[..np] {
            *oc.get_unchecked_mut(i as usize) = 0;
        }
    }
}

/// A lookup code path. Every path returns the same values; [`LookupPath::best`]
/// is chosen at run time by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LookupPath {
    /// Portable Rust (no SIMD intrinsics).
    Scalar,
    /// x86-64 AVX2: eight 4-byte keys hashed at once, one or two 256-bit
    /// loads + nibble-table parity per key.
    Avx2,
}

impl LookupPath {
    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            LookupPath::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            LookupPath::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            LookupPath::Avx2 => false,
        }
    }

    /// All paths this CPU supports (always contains `Scalar`).
    pub fn supported() -> Vec<LookupPath> {
        [LookupPath::Scalar, LookupPath::Avx2]
            .into_iter()
            .filter(|p| p.is_supported())
            .collect()
    }

    /// The fastest supported path.
    pub fn best() -> LookupPath {
        if LookupPath::Avx2.is_supported() {
            LookupPath::Avx2
        } else {
            LookupPath::Scalar
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::super::hash::{KeyHash, Seeds, A_M1, A_M2, B_M1, B_M2, G_M1, G_M2};
    use super::{bulk_core, Online};
    use std::arch::asm;
    use std::arch::x86_64::*;

    /// 32-byte load of words that the writer may be storing to concurrently.
    /// Done in asm so that it is not a Rust-level data race: it behaves like
    /// four relaxed `AtomicU64` loads (each aligned 8-byte lane is read
    /// atomically on x86-64); tearing across lanes is caught by the seqlock.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load256(p: *const u64) -> __m256i {
        let v: __m256i;
        asm!("vmovdqu {v}, ymmword ptr [{p}]", v = out(ymm_reg) v, p = in(reg) p,
             options(nostack, preserves_flags, readonly));
        v
    }

    /// Per 64-bit lane: a sum whose low bit is the lane's parity.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn lane_parity(x: __m256i) -> __m256i {
        let tbl = _mm256_setr_epi8(
            0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, //
            0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0,
        );
        let y = _mm256_xor_si256(x, _mm256_srli_epi64::<4>(x));
        let nib = _mm256_and_si256(y, _mm256_set1_epi8(0x0f));
        _mm256_sad_epu8(_mm256_shuffle_epi8(tbl, nib), _mm256_setzero_si256())
    }

    /// Value of row `r` in a stride-8 group (5..8-bit values).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn eval8(p: *const u64, r: u64) -> u8 {
        let rv = _mm256_set1_epi64x(r as i64);
        let d0 = lane_parity(_mm256_and_si256(load256(p), rv));
        let d1 = lane_parity(_mm256_and_si256(load256(p.add(4)), rv));
        let e = _mm256_or_si256(d0, _mm256_slli_epi64::<32>(d1));
        _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32::<31>(e))) as u8
    }

    /// Value of row `r` in a group of stride <= 4 (caller masks to the width).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn eval4(p: *const u64, r: u64) -> u8 {
        let rv = _mm256_set1_epi64x(r as i64);
        let d0 = lane_parity(_mm256_and_si256(load256(p), rv));
        _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_slli_epi64::<63>(d0))) as u8
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn mixv<const S1: i32, const S2: i32, const S3: i32>(
        x: __m256i,
        m1: u32,
        m2: u32,
    ) -> __m256i {
        let mut x = _mm256_xor_si256(x, _mm256_srli_epi32::<S1>(x));
        x = _mm256_mullo_epi32(x, _mm256_set1_epi32(m1 as i32));
        x = _mm256_xor_si256(x, _mm256_srli_epi32::<S2>(x));
        x = _mm256_mullo_epi32(x, _mm256_set1_epi32(m2 as i32));
        _mm256_xor_si256(x, _mm256_srli_epi32::<S3>(x))
    }

    /// Hash eight 4-byte keys: base (the key), level-1 hash, level-1 group,
    /// row mask. Bit-identical to the scalar `key_hash` + `locate`.
    #[target_feature(enable = "avx2")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn hash8(
        keys: *const u8,
        s: &Seeds,
        n0: u32,
        base: *mut u32,
        hs: *mut u32,
        gs: *mut u32,
        rs: *mut u64,
    ) {
        let x = _mm256_loadu_si256(keys as *const __m256i);
        _mm256_storeu_si256(base as *mut __m256i, x);
        let h = mixv::<16, 15, 16>(
            _mm256_xor_si256(x, _mm256_set1_epi32(s.level[0] as i32)),
            G_M1,
            G_M2,
        );
        _mm256_storeu_si256(hs as *mut __m256i, h);
        let nv = _mm256_set1_epi32(n0 as i32);
        let even = _mm256_srli_epi64::<32>(_mm256_mul_epu32(h, nv));
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(h), nv);
        let g = _mm256_blend_epi32::<0xAA>(even, odd);
        _mm256_storeu_si256(gs as *mut __m256i, g);
        let ra = mixv::<16, 13, 16>(
            _mm256_xor_si256(x, _mm256_set1_epi32(s.ra as i32)),
            A_M1,
            A_M2,
        );
        let rb = mixv::<16, 15, 15>(
            _mm256_xor_si256(x, _mm256_set1_epi32(s.rb as i32)),
            B_M1,
            B_M2,
        );
        let lo = _mm256_unpacklo_epi32(ra, rb); // keys 0,1 | 4,5
        let hi = _mm256_unpackhi_epi32(ra, rb); // keys 2,3 | 6,7
        _mm256_storeu_si256(
            rs as *mut __m256i,
            _mm256_permute2x128_si256::<0x20>(lo, hi),
        );
        _mm256_storeu_si256(
            rs.add(4) as *mut __m256i,
            _mm256_permute2x128_si256::<0x31>(lo, hi),
        );
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn bulk<const N: usize>(t: &Online, keys: &[[u8; N]], out: &mut [u8]) {
        bulk_core::<N, true>(t, keys, out)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn lookup_one(t: &Online, kh: KeyHash) -> u8 {
        t.lookup_from::<true>(0, kh)
    }
}

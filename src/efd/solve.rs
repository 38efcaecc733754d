//! GF(2) linear algebra for one group: incremental Gauss-Jordan elimination
//! of 64-column rows with an up-to-8-bit augmented right-hand side.

/// Reduced row echelon form of a set of equations `r · W = y` over GF(2).
///
/// `rows[..rank]` are dense; row `i` has its pivot at column `pcol[i]` (its
/// lowest set bit) and no other pivot column set (fully reduced). With all
/// free variables zero the solution is therefore `W_b` bit `pcol[i]` = bit
/// `b` of `rhs[i]`.
#[derive(Clone)]
pub(crate) struct Elim {
    rows: [u64; 64],
    rhs: [u64; 64],
    /// Pivot column of each row, as a shift count (u64 lanes, so that the
    /// reduction below vectorises with per-lane shifts).
    pcol: [u64; 64],
    mask: u64,
    rank: usize,
}

impl Elim {
    #[inline(always)]
    pub(crate) fn new() -> Elim {
        Elim {
            rows: [0; 64],
            rhs: [0; 64],
            pcol: [0; 64],
            mask: 0,
            rank: 0,
        }
    }

    /// Add an equation. Returns `false` if it contradicts the previous ones
    /// (the state is then unchanged); a dependent but consistent row is fine.
    #[inline(always)]
    pub(crate) fn add(&mut self, mut r: u64, y: u8) -> bool {
        // Fully reduced rows: row `i` is the only one with a bit at column
        // `pcol[i]`, so `r` loses all its pivot bits by XORing exactly the
        // rows whose pivot column it has. Branch-free over all rows, with no
        // scalar reloads of the rows the previous call just stored.
        let (mut ar, mut ay) = (0u64, 0u64);
        for ((&row, &rhs), &pc) in self.rows[..self.rank]
            .iter()
            .zip(&self.rhs[..self.rank])
            .zip(&self.pcol[..self.rank])
        {
            let sel = ((r >> pc) & 1).wrapping_neg();
            ar ^= row & sel;
            ay ^= rhs & sel;
        }
        r ^= ar;
        let y = y as u64 ^ ay;
        if r == 0 {
            return y == 0;
        }
        let p = r.trailing_zeros();
        let k = self.rank;
        // Eliminate the new pivot column from the other rows (branch-free, so
        // that it vectorises).
        for (row, rhs) in self.rows[..k].iter_mut().zip(self.rhs[..k].iter_mut()) {
            let sel = ((*row >> p) & 1).wrapping_neg();
            *row ^= r & sel;
            *rhs ^= y & sel;
        }
        self.rows[k & 63] = r;
        self.rhs[k & 63] = y;
        self.pcol[k & 63] = p as u64;
        self.mask |= 1u64 << p;
        self.rank = k + 1;
        true
    }

    /// The solution with all free variables zero, as bit-sliced words.
    #[cfg(test)]
    pub(crate) fn solution(&self, vbits: u32) -> [u64; 8] {
        // SAFETY: the portable path.
        unsafe { self.solution_on::<false>(vbits) }
    }

    /// [`Elim::solution`], with AVX2 when `FAST`.
    ///
    /// # Safety
    /// With `FAST`, the CPU has AVX2 and BMI2 ([`fast_supported`]).
    #[inline(always)]
    pub(crate) unsafe fn solution_on<const FAST: bool>(&self, vbits: u32) -> [u64; 8] {
        // Scatter each pivot row's right-hand side to its column, then
        // transpose the 64 bytes into 8 words.
        let mut col = [0u8; 64];
        for (&y, &p) in self.rhs[..self.rank].iter().zip(&self.pcol[..self.rank]) {
            col[p as usize & 63] = y as u8;
        }
        // SAFETY: the caller's.
        unsafe { transpose_bytes::<FAST>(&col, vbits) }
    }

    /// Up to `out.len()` (at most 16) independent vectors of the null space
    /// (vectors `n` with `r · n = 0` for every added row). Returns how many
    /// were written.
    #[cfg(test)]
    pub(crate) fn null_basis(&self, out: &mut [u64]) -> usize {
        // SAFETY: the portable path.
        unsafe { self.null_basis_on::<false>(out) }
    }

    /// [`Elim::null_basis`], with AVX2 and BMI2 when `FAST`.
    ///
    /// # Safety
    /// With `FAST`, the CPU has AVX2 and BMI2 ([`fast_supported`]).
    #[inline(always)]
    pub(crate) unsafe fn null_basis_on<const FAST: bool>(&self, out: &mut [u64]) -> usize {
        // Free columns f_0..f_{k-1}: n_j = e_{f_j} + sum over pivot rows with
        // bit f_j of e_{pcol}. Compact each row's bits at the free columns
        // into two bytes at its pivot column, then transpose each byte plane.
        let mut fcols = [0u32; 16];
        let mut free = !self.mask;
        let mut fmask = 0u64;
        let mut k = 0;
        while free != 0 && k < out.len().min(16) {
            fcols[k] = free.trailing_zeros();
            fmask |= free & free.wrapping_neg();
            k += 1;
            free &= free - 1;
        }
        let (mut lo, mut hi) = ([0u8; 64], [0u8; 64]);
        for (&row, &p) in self.rows[..self.rank].iter().zip(&self.pcol[..self.rank]) {
            // SAFETY: the caller's.
            let b = unsafe { gather_bits::<FAST>(row, fmask, &fcols[..k]) };
            lo[p as usize & 63] = b as u8;
            hi[p as usize & 63] = (b >> 8) as u8;
        }
        // SAFETY: the caller's.
        let (tl, th) = unsafe {
            (
                transpose_bytes::<FAST>(&lo, k.min(8) as u32),
                transpose_bytes::<FAST>(&hi, k.saturating_sub(8) as u32),
            )
        };
        for j in 0..k {
            let t = if j < 8 { tl[j] } else { th[j - 8] };
            out[j] = t | (1u64 << fcols[j]);
        }
        k
    }
}

/// Whether this CPU takes the `FAST` paths of [`Elim`]: AVX2 and BMI2.
#[inline]
pub(crate) fn fast_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("bmi2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Bit `j` = bit `fcols[j]` of `row`; `fmask` has exactly the bits
/// `fcols` (ascending). One `pext` when `FAST`.
///
/// # Safety
/// With `FAST`, the CPU has BMI2.
#[inline(always)]
unsafe fn gather_bits<const FAST: bool>(row: u64, fmask: u64, fcols: &[u32]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if FAST {
        // SAFETY: the caller's.
        return unsafe { pext(row, fmask) } as u32;
    }
    let _ = fmask;
    let mut b = 0u32;
    for (j, &f) in fcols.iter().enumerate() {
        b |= (((row >> f) & 1) as u32) << j;
    }
    b
}

/// `_pext_u64`.
///
/// # Safety
/// The CPU has BMI2.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "bmi2")]
unsafe fn pext(x: u64, mask: u64) -> u64 {
    std::arch::x86_64::_pext_u64(x, mask)
}

/// `w[b]` bit `p` = bit `b` of `col[p]`, for `b < nbits`.
///
/// # Safety
/// With `FAST`, the CPU has AVX2.
#[inline(always)]
unsafe fn transpose_bytes<const FAST: bool>(col: &[u8; 64], nbits: u32) -> [u64; 8] {
    #[cfg(target_arch = "x86_64")]
    if FAST {
        // SAFETY: the caller's.
        return unsafe { transpose_bytes_avx2(col, nbits) };
    }
    const LSB: u64 = 0x0101_0101_0101_0101;
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let mut w = [0u64; 8];
    for (j, chunk) in col.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(chunk.try_into().unwrap());
        for (b, wb) in w.iter_mut().enumerate().take(nbits as usize) {
            let bits = (((x >> b) & LSB).wrapping_mul(GATHER)) >> 56;
            *wb |= bits << (8 * j);
        }
    }
    w
}

/// [`transpose_bytes`] by byte masks: bit `b` of every byte shifted to the
/// byte's top, then one `vpmovmskb` per 32 bytes.
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn transpose_bytes_avx2(col: &[u8; 64], nbits: u32) -> [u64; 8] {
    use std::arch::x86_64::*;
    // SAFETY: 64 readable bytes; unaligned loads.
    let (lo, hi) = unsafe {
        (
            _mm256_loadu_si256(col.as_ptr() as *const __m256i),
            _mm256_loadu_si256(col.as_ptr().add(32) as *const __m256i),
        )
    };
    let mut w = [0u64; 8];
    for (b, wb) in w.iter_mut().enumerate().take(nbits as usize) {
        // A 16-bit lane shifted left by `7 - b` puts bit `b` of each of its
        // two bytes at that byte's top bit.
        let by = _mm_cvtsi32_si128(7 - b as i32);
        let l = _mm256_movemask_epi8(_mm256_sll_epi16(lo, by)) as u32;
        let h = _mm256_movemask_epi8(_mm256_sll_epi16(hi, by)) as u32;
        *wb = u64::from(l) | u64::from(h) << 32;
    }
    w
}

/// Parity of `r & w` for each of the `vbits` logical words.
#[inline]
pub(crate) fn eval_words(w: &[u64; 8], r: u64, vbits: u32) -> u8 {
    (parities(w, r) & ((1u32 << vbits) - 1)) as u8
}

/// Bit `i` = parity of `r & v[i]` (for up to 32 vectors), branch-free.
#[inline]
pub(crate) fn parities<const K: usize>(v: &[u64; K], r: u64) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the feature was just detected.
        return unsafe { parities_popcnt(v, r) };
    }
    parities_impl(v, r)
}

/// [`parities_impl`] compiled with POPCNT.
///
/// # Safety
/// The CPU has POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn parities_popcnt<const K: usize>(v: &[u64; K], r: u64) -> u32 {
    parities_impl(v, r)
}

#[inline(always)]
fn parities_impl<const K: usize>(v: &[u64; K], r: u64) -> u32 {
    let mut m = 0u32;
    for (i, &x) in v.iter().enumerate().take(32) {
        m |= ((r & x).count_ones() & 1) << i;
    }
    m
}

/// Takes from the null-space cache `b[..nb]` a vector `d` with `r · d = 1`,
/// if there is one, and keeps the rest orthogonal to `r` (adds `d` to every
/// other vector with `r · v = 1`). Branch-free apart from the one test.
#[inline]
pub(crate) fn absorb<const K: usize>(b: &mut [u64; K], nb: &mut u8, r: u64) -> Option<u64> {
    let n = *nb as usize;
    let odd = parities(b, r) & ((1u64 << n) - 1) as u32;
    if odd == 0 {
        return None;
    }
    let i = odd.trailing_zeros() as usize;
    let d = b[i];
    for (j, bj) in b.iter_mut().enumerate().take(32) {
        *bj ^= d & (((odd >> j) & 1) as u64).wrapping_neg();
    }
    // `b[i]` is now 0; the last vector takes its place.
    b[i] = b[n - 1];
    *nb -= 1;
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn solves_random_systems() {
        let mut s = SplitMix64::new(7);
        for n in [1usize, 10, 40, 58, 62, 64] {
            for _ in 0..50 {
                let rows: Vec<(u64, u8)> =
                    (0..n).map(|_| (s.next_u64(), s.next_u64() as u8)).collect();
                let mut e = Elim::new();
                let ok = rows.iter().all(|&(r, y)| e.add(r, y));
                if !ok {
                    continue;
                }
                let w = e.solution(8);
                for &(r, y) in &rows {
                    assert_eq!(eval_words(&w, r, 8), y);
                }
                let mut nb = [0u64; 16];
                let k = e.null_basis(&mut nb);
                assert_eq!(k, (64 - e.rank).min(16));
                for &n in &nb[..k] {
                    assert_ne!(n, 0);
                    for &(r, _) in &rows {
                        assert_eq!((r & n).count_ones() & 1, 0);
                    }
                }
            }
        }
    }

    /// The `FAST` null basis and solution (`pext`, AVX2 transposes) are
    /// the portable ones, bit for bit, for every rank and value width.
    #[test]
    fn fast_paths_equal_portable_ones() {
        if !fast_supported() {
            eprintln!("no AVX2 and BMI2: nothing to compare");
            return;
        }
        let mut s = SplitMix64::new(23);
        for n in 0..=64usize {
            for _ in 0..20 {
                let mut e = Elim::new();
                for _ in 0..n {
                    e.add(s.next_u64(), s.next_u64() as u8);
                }
                for len in [0usize, 1, 7, 8, 9, 16] {
                    let (mut a, mut b) = ([0u64; 16], [0u64; 16]);
                    let ka = e.null_basis(&mut a[..len]);
                    // SAFETY: AVX2 and BMI2 were detected above.
                    let kb = unsafe { e.null_basis_on::<true>(&mut b[..len]) };
                    assert_eq!((ka, a), (kb, b), "rank {}, {len} vectors", e.rank);
                }
                for vbits in 1..=8 {
                    // SAFETY: as above.
                    let fast = unsafe { e.solution_on::<true>(vbits) };
                    assert_eq!(e.solution(vbits), fast, "rank {}, {vbits} bits", e.rank);
                }
            }
        }
    }

    #[test]
    fn absorb_keeps_cache_orthogonal() {
        let mut s = SplitMix64::new(11);
        let (mut some, mut none) = (0, 0);
        for _ in 0..2000 {
            let mut e = Elim::new();
            for _ in 0..48 + s.next_u64() % 17 {
                e.add(s.next_u64(), 0);
            }
            let mut b = [0u64; 16];
            let mut nb = e.null_basis(&mut b) as u8;
            let before = (b, nb);
            let r = s.next_u64() | 1;
            let odd = (0..nb as usize).any(|i| (r & b[i]).count_ones() & 1 == 1);
            assert_eq!(parities(&b, r), parities_impl(&b, r));
            match absorb(&mut b, &mut nb, r) {
                Some(d) => {
                    some += 1;
                    assert!(odd);
                    assert_eq!((r & d).count_ones() & 1, 1);
                    assert_eq!(nb, before.1 - 1);
                    for &v in &b[..nb as usize] {
                        assert_eq!((r & v).count_ones() & 1, 0);
                        assert_ne!(v, 0, "cache vectors stay independent");
                    }
                }
                None => {
                    none += 1;
                    assert!(!odd);
                    assert_eq!((b, nb), before);
                }
            }
        }
        assert!(some > 100 && none > 100, "{some} / {none}");
    }

    #[test]
    fn detects_inconsistency() {
        let mut e = Elim::new();
        assert!(e.add(0b11, 1));
        assert!(e.add(0b01, 1));
        assert!(e.add(0b10, 0)); // dependent, consistent
        assert!(!e.add(0b10, 1)); // dependent, inconsistent
        let w = e.solution(1);
        assert_eq!(eval_words(&w, 0b11, 1), 1);
        assert_eq!(eval_words(&w, 0b01, 1), 1);
        assert_eq!(eval_words(&w, 0b10, 1), 0);
    }
}

#[cfg(test)]
mod perf {
    use super::*;
    #[test]
    #[ignore]
    fn elim_speed() {
        let mut rng = crate::rng::SplitMix64::new(1);
        let sets: Vec<Vec<(u64, u8)>> = (0..2000)
            .map(|_| {
                (0..60)
                    .map(|_| (rng.next_u64(), rng.next_u64() as u8))
                    .collect()
            })
            .collect();
        let cpu = || {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid, writable timespec.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
            ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
        };
        // The same code generation as the writer's `solve_group_avx2`.
        /// Eliminates every set, to `phase`, and folds the results into `acc`.
        ///
        /// # Safety
        /// The CPU has AVX2 and POPCNT.
        #[target_feature(enable = "avx2,popcnt")]
        unsafe fn run(sets: &[Vec<(u64, u8)>], phase: u32, acc: &mut u64) {
            for set in sets {
                let mut e = Elim::new();
                for &(r, y) in set {
                    e.add(r, y);
                }
                if phase >= 1 {
                    *acc ^= e.solution(8)[3];
                }
                if phase >= 2 {
                    let mut nb = [0u64; 16];
                    e.null_basis(&mut nb);
                    *acc ^= nb[0];
                }
                *acc ^= std::hint::black_box(e.mask);
            }
        }
        assert!(std::arch::is_x86_feature_detected!("avx2"));
        let mut acc = 0u64;
        for phase in 0..3 {
            let mut best = f64::MAX;
            for _ in 0..15 {
                let t0 = cpu();
                // SAFETY: AVX2 was detected above.
                unsafe { run(&sets, phase, &mut acc) };
                best = best.min(cpu() - t0);
            }
            eprintln!(
                "elim 60 rows phase {phase}: {:.2} us cpu min ({acc})",
                best * 1e6 / sets.len() as f64
            );
        }
    }
}

//! GF(2) linear algebra for one group: incremental Gauss-Jordan elimination
//! of 64-column rows with an up-to-8-bit augmented right-hand side.

/// Reduced row echelon form of a set of equations `r · W = y` over GF(2).
///
/// `prow[p]` is the row whose pivot is column `p` (its lowest set bit); it has
/// no other pivot column set (fully reduced), and `prow[p] == 0` for non-pivot
/// columns. With all free variables set to zero the solution is therefore
/// `W_b` bit `p` = bit `b` of `prhs[p]`.
#[derive(Clone)]
pub(crate) struct Elim {
    prow: [u64; 64],
    prhs: [u8; 64],
    mask: u64,
}

impl Elim {
    #[inline]
    pub(crate) fn new() -> Elim {
        Elim {
            prow: [0; 64],
            prhs: [0; 64],
            mask: 0,
        }
    }

    /// Add an equation. Returns `false` if it contradicts the previous ones
    /// (the state is then unchanged); a dependent but consistent row is fine.
    #[inline]
    pub(crate) fn add(&mut self, mut r: u64, mut y: u8) -> bool {
        let mut c = r & self.mask;
        while c != 0 {
            let p = c.trailing_zeros() as usize;
            r ^= self.prow[p];
            y ^= self.prhs[p];
            c &= c - 1;
        }
        if r == 0 {
            return y == 0;
        }
        let p = r.trailing_zeros();
        // Eliminate the new pivot column from every other row (branch-free so
        // that it vectorises; non-pivot entries are zero and stay zero).
        for q in 0..64 {
            let sel = ((self.prow[q] >> p) & 1).wrapping_neg();
            self.prow[q] ^= r & sel;
            self.prhs[q] ^= y & (sel as u8);
        }
        self.prow[p as usize] = r;
        self.prhs[p as usize] = y;
        self.mask |= 1u64 << p;
        true
    }

    /// The solution with all free variables zero, as bit-sliced words.
    #[inline]
    pub(crate) fn solution(&self, vbits: u32) -> [u64; 8] {
        let mut w = [0u64; 8];
        let mut m = self.mask;
        while m != 0 {
            let p = m.trailing_zeros();
            let y = self.prhs[p as usize];
            for (b, wb) in w.iter_mut().enumerate().take(vbits as usize) {
                *wb |= (((y >> b) & 1) as u64) << p;
            }
            m &= m - 1;
        }
        w
    }

    /// Up to `out.len()` independent vectors of the null space (vectors `n`
    /// with `r · n = 0` for every added row). Returns how many were written.
    #[inline]
    pub(crate) fn null_basis(&self, out: &mut [u64]) -> usize {
        let mut free = !self.mask;
        let mut k = 0;
        while free != 0 && k < out.len() {
            let f = free.trailing_zeros();
            let mut n = 1u64 << f;
            let mut m = self.mask;
            while m != 0 {
                let p = m.trailing_zeros();
                n |= ((self.prow[p as usize] >> f) & 1) << p;
                m &= m - 1;
            }
            out[k] = n;
            k += 1;
            free &= free - 1;
        }
        k
    }
}

/// Parity of `r & w` for each of the `vbits` logical words.
#[inline(always)]
pub(crate) fn eval_words(w: &[u64; 8], r: u64, vbits: u32) -> u8 {
    let mut v = 0u32;
    for (b, wb) in w.iter().enumerate().take(vbits as usize) {
        v |= ((r & wb).count_ones() & 1) << b;
    }
    v as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(s: &mut u64) -> u64 {
        *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        crate::efd::hash::splitmix(*s)
    }

    #[test]
    fn solves_random_systems() {
        let mut s = 7;
        for n in [1usize, 10, 40, 58, 62, 64] {
            for _ in 0..50 {
                let rows: Vec<(u64, u8)> =
                    (0..n).map(|_| (rng(&mut s), rng(&mut s) as u8)).collect();
                let mut e = Elim::new();
                let ok = rows.iter().all(|&(r, y)| e.add(r, y));
                if !ok {
                    continue;
                }
                let w = e.solution(8);
                for &(r, y) in &rows {
                    assert_eq!(eval_words(&w, r, 8), y);
                }
                let mut nb = [0u64; 8];
                let k = e.null_basis(&mut nb);
                for &n in &nb[..k] {
                    assert_ne!(n, 0);
                    for &(r, _) in &rows {
                        assert_eq!((r & n).count_ones() & 1, 0);
                    }
                }
            }
        }
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

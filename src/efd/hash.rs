//! Key hashing: one pass per key gives a 64-bit row mask `r` (shared by all
//! levels) and a 32-bit `base` from which every level derives its group index
//! and 8-bit fingerprint with one cheap 32-bit mixer.
//!
//! From `base` and the row-mask input on, every key length uses only 32-bit
//! multiplies, so that eight or sixteen keys are hashed at once with AVX2
//! or AVX-512 (`vpmulld`); the scalar and SIMD code compute bit-identical
//! results. 4-byte keys are their own `base` and row-mask input; longer
//! keys are first reduced to two 32-bit digests ([`wide_digest`], two NH
//! sums over their 64-bit words, eight keys at a time with `vpmuludq`):
//! one is the `base`, the other the row-mask input.

use crate::rng::SplitMix64;

/// Number of levels (level 1 plus the overflow levels).
pub(crate) const MAX_LEVELS: usize = 4;

/// Per-table seeds, derived from one `u64`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seeds {
    /// Seed of each level's group/fingerprint hash.
    pub level: [u32; MAX_LEVELS],
    /// Seeds of the two halves of the row mask (4-byte keys); `ra != rb`,
    /// which guarantees a nonzero row mask (each half is a bijection of
    /// `x ^ seed` that maps only `0` to `0`).
    pub ra: u32,
    pub rb: u32,
    /// Seeds of the two digests of keys longer than 4 bytes
    /// ([`wide_digest`]).
    pub wide: [u64; 2],
}

impl Seeds {
    pub(crate) fn new(seed: u64) -> Seeds {
        let mut rng = SplitMix64::new(seed);
        let mut level = [0u32; MAX_LEVELS];
        for l in level.iter_mut() {
            *l = rng.next_u64() as u32;
        }
        let ra = rng.next_u64() as u32;
        let mut rb = rng.next_u64() as u32;
        if rb == ra {
            rb ^= 1;
        }
        Seeds {
            level,
            ra,
            rb,
            wide: [rng.next_u64(), rng.next_u64()],
        }
    }
}

// Three different 32-bit xorshift-multiply bijections (hash-prospector
// "lowbias32", murmur3 fmix32, and a second prospector constant set).
pub(crate) const G_M1: u32 = 0x7feb_352d;
pub(crate) const G_M2: u32 = 0x846c_a68b;
pub(crate) const A_M1: u32 = 0x85eb_ca6b;
pub(crate) const A_M2: u32 = 0xc2b2_ae35;
pub(crate) const B_M1: u32 = 0x21f0_aaad;
pub(crate) const B_M2: u32 = 0x735a_2d97;

/// Level hash (group index + fingerprint source): shifts 16, 15, 16.
#[inline(always)]
pub(crate) fn mix_g(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(G_M1);
    x ^= x >> 15;
    x = x.wrapping_mul(G_M2);
    x ^ (x >> 16)
}

/// Low half of the row mask: shifts 16, 13, 16.
#[inline(always)]
pub(crate) fn mix_a(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(A_M1);
    x ^= x >> 13;
    x = x.wrapping_mul(A_M2);
    x ^ (x >> 16)
}

/// High half of the row mask: shifts 16, 15, 15.
#[inline(always)]
pub(crate) fn mix_b(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(B_M1);
    x ^= x >> 15;
    x = x.wrapping_mul(B_M2);
    x ^ (x >> 15)
}

/// Row mask of a 4-byte key (never zero, see [`Seeds::ra`]).
#[inline(always)]
pub(crate) fn row32(x: u32, s: &Seeds) -> u64 {
    (mix_a(x ^ s.ra) as u64) | ((mix_b(x ^ s.rb) as u64) << 32)
}

/// What a key hashes to, independent of the level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyHash {
    /// Input of the per-level hash.
    pub base: u32,
    /// Row mask of the key's equation (nonzero).
    pub r: u64,
}

/// Where the `j`-th 64-bit word of an `N`-byte key (`N >= 8`) starts:
/// every 8 bytes, the last word ending with the key (it overlaps the one
/// before when `N` is not a multiple of 8), so that no read leaves the key.
#[inline(always)]
pub(crate) const fn word_offset(n: usize, j: usize) -> usize {
    if 8 * j + 8 <= n {
        8 * j
    } else {
        n - 8
    }
}

/// How many 64-bit words an `N`-byte key is read as.
#[inline(always)]
pub(crate) const fn words_of(n: usize) -> usize {
    n.div_ceil(8)
}

/// Seed of word `j` of digest `d` (0 or 1) of a wide key: `wide[d]` plus
/// `j` steps of the golden ratio.
#[inline(always)]
pub(crate) const fn word_seed(s: &Seeds, d: usize, j: usize) -> u64 {
    s.wide[d].wrapping_add((j as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// One NH step (UMAC's hash): the 64-bit product of the two 32-bit halves
/// of word `w`, each plus its half of the seed `k` (mod 2^32).
#[inline(always)]
const fn nh(w: u64, k: u64) -> u64 {
    let a = (w as u32).wrapping_add(k as u32);
    let b = ((w >> 32) as u32).wrapping_add((k >> 32) as u32);
    a as u64 * b as u64
}

/// A 64-bit NH sum folded to 32 bits (both halves xor-ed).
#[inline(always)]
const fn fold(h: u64) -> u32 {
    (h ^ (h >> 32)) as u32
}

/// Word `j` of an `N`-byte key, little-endian ([`word_offset`]); keys
/// shorter than 8 bytes (tests only) are one zero-padded word.
#[inline(always)]
fn word<const N: usize>(k: &[u8; N], j: usize) -> u64 {
    let mut b = [0u8; 8];
    if N < 8 {
        b[..N].copy_from_slice(k);
    } else {
        let o = word_offset(N, j);
        b.copy_from_slice(&k[o..o + 8]);
    }
    u64::from_le_bytes(b)
}

/// The two 32-bit digests of a key longer than 4 bytes: two NH sums over
/// the key's 64-bit words (each word's two halves, plus their seed,
/// multiplied into 64 bits and added up), with independent seeds, each
/// folded to 32 bits. NH is almost-universal: two different keys collide
/// in one sum with a chance of about 2^-32 over the seeds, in both with
/// about 2^-64; and a colliding pair could only make inserts fail, never
/// give a stored key a wrong value. One 32x32-bit multiply per 4 bytes
/// and digest, with no chain from word to word: eight keys at a time in
/// the SIMD paths (`vpmuludq` on their gathered words), and the scalar
/// code computes the same.
///
/// `(base, row-mask input)`.
#[inline(always)]
pub(crate) fn wide_digest<const N: usize>(k: &[u8; N], s: &Seeds) -> (u32, u32) {
    let (mut h1, mut h2) = (0u64, 0u64);
    for j in 0..words_of(N) {
        let w = word(k, j);
        h1 = h1.wrapping_add(nh(w, word_seed(s, 0, j)));
        h2 = h2.wrapping_add(nh(w, word_seed(s, 1, j)));
    }
    (fold(h1), fold(h2))
}

/// Hash a key. 4-byte keys: `base` is the key itself (little-endian `u32`),
/// the row mask two 32-bit mixes of it. Longer keys: `base` is the first
/// [`wide_digest`], the row mask the same two mixes of the second.
#[inline(always)]
pub(crate) fn key_hash<const N: usize>(k: &[u8; N], s: &Seeds) -> KeyHash {
    if N == 4 {
        let x = u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
        KeyHash {
            base: x,
            r: row32(x, s),
        }
    } else {
        let (d1, d2) = wide_digest(k, s);
        KeyHash {
            base: d1,
            r: row32(d2, s),
        }
    }
}

/// Level hash of a key: `(group, fingerprint)` with multiply-shift range
/// reduction of the high bits and the fingerprint from the low 8 bits.
#[inline(always)]
pub(crate) fn locate(base: u32, seed: u32, ngroups: u32) -> (usize, u8) {
    let h = mix_g(base ^ seed);
    (((h as u64 * ngroups as u64) >> 32) as usize, h as u8)
}

//! Key hashing: one pass per key gives a 64-bit row mask `r` (shared by all
//! levels) and a 32-bit `base` from which every level derives its group index
//! and 8-bit fingerprint with one cheap 32-bit mixer.
//!
//! Every key length uses only 32-bit multiplies so that eight keys can be
//! hashed at once with AVX2 (`vpmulld`); the scalar and SIMD code compute
//! bit-identical results. 4-byte keys are their own `base`; longer keys are
//! read as 32-bit words whose mixes add up to two 32-bit digests
//! ([`wide_digest`]): one is the `base`, the other the input of the row
//! mask.

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
    /// Seeds of the two digests of keys longer than 4 bytes.
    pub wide: [u32; 2],
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
        let w = rng.next_u64();
        Seeds {
            level,
            ra,
            rb,
            wide: [w as u32, (w >> 32) as u32],
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

/// Where the `j`-th 32-bit word of an `N`-byte key (`N >= 4`) starts:
/// every 4 bytes, the last word ending with the key (it overlaps the one
/// before when `N` is not a multiple of 4), so that no read leaves the key.
#[inline(always)]
pub(crate) const fn word_offset(n: usize, j: usize) -> usize {
    if 4 * j + 4 <= n {
        4 * j
    } else {
        n - 4
    }
}

/// How many 32-bit words an `N`-byte key is read as.
#[inline(always)]
pub(crate) const fn words_of(n: usize) -> usize {
    n.div_ceil(4)
}

/// Seed of word `j` of a digest whose seed is `seed`.
#[inline(always)]
pub(crate) const fn word_seed(seed: u32, j: usize) -> u32 {
    seed.wrapping_add((j as u32).wrapping_mul(0x9e37_79b9))
}

/// The two 32-bit digests of a key longer than 4 bytes: each the sum of a
/// full 32-bit mix of every word with that word's own seed (position
/// matters), one digest with [`mix_b`], the other with [`mix_a`] and other
/// seeds. The words are mixed independently, so their mixes overlap in
/// the core (no chain from word to word); each mix is a bijection, so
/// keys that differ in one word never collide, and two keys collide in
/// both digests with a chance of about 2^-64.
#[inline(always)]
pub(crate) fn wide_digest<const N: usize>(k: &[u8; N], s: &Seeds) -> (u32, u32) {
    let (mut h1, mut h2) = (0u32, 0u32);
    for j in 0..words_of(N) {
        let w = if N < 4 {
            // Shorter keys (tests only): one word, zero-padded.
            let mut b = [0u8; 4];
            b[..N].copy_from_slice(k);
            u32::from_le_bytes(b)
        } else {
            let o = word_offset(N, j);
            u32::from_le_bytes([k[o], k[o + 1], k[o + 2], k[o + 3]])
        };
        h1 = h1.wrapping_add(mix_b(w ^ word_seed(s.wide[0], j)));
        h2 = h2.wrapping_add(mix_a(w ^ word_seed(s.wide[1], j)));
    }
    (h1, h2)
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

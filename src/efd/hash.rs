//! Key hashing: one pass per key gives a 64-bit row mask `r` (shared by all
//! levels) and a 32-bit `base` from which every level derives its group index
//! and 8-bit fingerprint with one cheap 32-bit mixer.
//!
//! 4-byte keys (the fast path) use only 32-bit multiplies so that eight keys
//! can be hashed at once with AVX2 (`vpmulld`); the scalar and SIMD code
//! compute bit-identical results.

use crate::rng::{mix, SplitMix64};

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
    /// Seed of the byte-string hash (keys longer than 4 bytes).
    pub long: u64,
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
        let long = rng.next_u64();
        Seeds {
            level,
            ra,
            rb,
            long,
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

#[inline(always)]
fn mum(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

/// 64-bit hash of a byte string (wyhash-style multiply-fold).
#[inline]
pub(crate) fn hash_bytes(b: &[u8], seed: u64) -> u64 {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    const P2: u64 = 0x8ebc_6af0_9c88_c6e3;
    const P3: u64 = 0x5899_65cc_7537_4cc3;
    let mut h = seed ^ P0 ^ (b.len() as u64).wrapping_mul(P1);
    let mut chunks = b.chunks_exact(16);
    for c in &mut chunks {
        let w0 = u64::from_le_bytes(c[..8].try_into().unwrap());
        let w1 = u64::from_le_bytes(c[8..].try_into().unwrap());
        h = mum(w0 ^ P2 ^ h, w1 ^ P3);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut t = [0u8; 16];
        t[..rem.len()].copy_from_slice(rem);
        let w0 = u64::from_le_bytes(t[..8].try_into().unwrap());
        let w1 = u64::from_le_bytes(t[8..].try_into().unwrap());
        h = mum(w0 ^ P1 ^ h, w1 ^ P2);
    }
    mum(h ^ P3, P0 ^ seed)
}

/// Hash a key. 4-byte keys: `base` is the key itself (little-endian `u32`),
/// the row mask two 32-bit mixes. Other lengths: one 64-bit string hash.
#[inline(always)]
pub(crate) fn key_hash<const N: usize>(k: &[u8; N], s: &Seeds) -> KeyHash {
    if N == 4 {
        let x = u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
        KeyHash {
            base: x,
            r: row32(x, s),
        }
    } else {
        let d = hash_bytes(k, s.long);
        let r = mix(d ^ 0x5851_f42d_4c95_7f2d);
        KeyHash {
            base: (d ^ (d >> 32)) as u32,
            r: r | (r == 0) as u64,
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

//! Key hashing: one pass per key gives a 64-bit row mask `r` (shared by all
//! levels) and a 32-bit `base` from which every level derives its group index
//! and 8-bit fingerprint with one cheap 32-bit mixer.
//!
//! From `base` (and a 4-byte key's row-mask input) on, every key uses only 32-bit
//! multiplies, so that eight or sixteen keys are hashed at once with AVX2
//! or AVX-512 (`vpmulld`); the scalar and SIMD code compute bit-identical
//! results. 4-byte keys are their own `base` and row-mask input; longer
//! keys are first reduced to a 128-bit digest ([`wide_digest`]: keyed AES
//! rounds over their 16-byte blocks, four keys per VAES instruction on the
//! AVX-512 path): its first dword is their level-1 hash (from which their
//! `base` follows, [`wide_base`]), its high qword their row mask
//! ([`wide_row`]).

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
    /// Seed of the round keys of the digest of keys longer than 4 bytes
    /// ([`wide_digest`], [`round_key`]).
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

/// The inverse of [`mix_g`]: `mix_g(mix_g_inv(x)) == x` (each step undone
/// in reverse order; `x ^ x >> 15` by `y ^ y >> 15 ^ y >> 30`).
#[inline(always)]
pub(crate) fn mix_g_inv(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(G_M2_INV);
    x ^= (x >> 15) ^ (x >> 30);
    x = x.wrapping_mul(G_M1_INV);
    x ^ (x >> 16)
}

/// The multiplicative inverses of [`mix_g`]'s odd multipliers mod 2^32.
pub(crate) const G_M1_INV: u32 = inverse_mod_2_32(G_M1);
pub(crate) const G_M2_INV: u32 = inverse_mod_2_32(G_M2);

/// `a^-1 mod 2^32` of an odd `a` (Newton's iteration, each step doubling
/// the correct low bits: 5 steps from the 3 that `a * a == 1 mod 8` gives).
const fn inverse_mod_2_32(a: u32) -> u32 {
    let mut x = a;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u32.wrapping_sub(a.wrapping_mul(x)));
        i += 1;
    }
    assert!(a.wrapping_mul(x) == 1, "the multiplier must be odd");
    x
}

/// The `base` of a key longer than 4 bytes whose level-1 hash (the first
/// dword of its [`wide_digest`]) is `d`,
/// chosen so that level 1's hash of the key ([`locate`]: `mix_g(base ^
/// level[0])`) is `d` itself. The digest is already as mixed as `mix_g`'s
/// output, so the SIMD paths take it as level 1's hash at once and skip
/// the mixer's two dependent multiplies before the threshold loads (which
/// wait on them), computing the base beside them; every other use of
/// `base` (deeper levels, the writer) is unchanged.
#[inline(always)]
pub(crate) fn wide_base(d: u32, s: &Seeds) -> u32 {
    mix_g_inv(d) ^ s.level[0]
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

/// How many 16-byte blocks an `N`-byte key is read as ([`block_offset`]).
#[inline(always)]
pub(crate) const fn blocks_of(n: usize) -> usize {
    n.div_ceil(16)
}

/// Where block `j` of an `N`-byte key starts: every 16 bytes, the last
/// block ending with the key (it overlaps the one before when `N` is not a
/// multiple of 16), so that no read leaves the key. A key shorter than 16
/// bytes is one block, zero-padded ([`block_len`]).
#[inline(always)]
pub(crate) const fn block_offset(n: usize, j: usize) -> usize {
    if 16 * j + 16 <= n {
        16 * j
    } else {
        n.saturating_sub(16)
    }
}

/// How many of block `j`'s 16 bytes are the key's (16 but for keys shorter
/// than 16 bytes, whose block is padded with zeros).
#[inline(always)]
pub(crate) const fn block_len(n: usize, j: usize) -> usize {
    let o = block_offset(n, j);
    if n - o < 16 {
        n - o
    } else {
        16
    }
}

/// AES rounds of a wide key's digest after its last block ([`wide_digest`]).
pub(crate) const FINAL_ROUNDS: usize = 2;

/// Round key `i` of the digest ([`wide_digest`]): the two halves of
/// `wide` plus `i` steps of the golden ratio, as `(low, high)` qwords.
#[inline(always)]
pub(crate) const fn round_key(s: &Seeds, i: usize) -> (u64, u64) {
    let step = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (s.wide[0].wrapping_add(step), s.wide[1].wrapping_add(step))
}

/// Block `j` of an `N`-byte key as `(low, high)` little-endian qwords,
/// padded with zeros past the key ([`block_offset`], [`block_len`]).
#[inline(always)]
pub(crate) fn block<const N: usize>(k: &[u8; N], j: usize) -> (u64, u64) {
    let (o, l) = (block_offset(N, j), block_len(N, j));
    let q = |from: usize| {
        let mut b = [0u8; 8];
        let end = (from + 8).min(o + l);
        if end > from {
            b[..end - from].copy_from_slice(&k[from..end]);
        }
        u64::from_le_bytes(b)
    };
    if l == 16 || N < 8 {
        (q(o), q(o + 8))
    } else {
        // 8 <= N < 16: two overlapping whole-word reads, no partial copy.
        let lo = u64::from_le_bytes(k[..8].try_into().expect("8 bytes"));
        let hi = u64::from_le_bytes(k[N - 8..].try_into().expect("8 bytes"));
        (lo, hi.checked_shr(8 * (16 - N) as u32).unwrap_or(0))
    }
}

/// The digest of a key longer than 4 bytes: a 128-bit state, first round
/// key 0, takes each 16-byte block of the key ([`block`]) by an xor and
/// one AES round (`AESENC`, round key `j + 1`), then [`FINAL_ROUNDS`] more
/// rounds. Its first dword is the key's level-1 hash as it is (its `base`
/// is [`wide_base`] of it), its high qword the key's row mask as it is
/// but for bit 0 ([`wide_row`]). Round keys come from the table's seed
/// ([`round_key`]).
///
/// A key of at most 16 bytes is one block, and the rounds are a
/// permutation of the state: two such keys never reach the same state, and
/// with the round keys unknown they share a level-1 hash and a row mask
/// about as often as two random values (2^-95). After two rounds each
/// output dword is still a xor of four functions of 4 key bytes each,
/// which level 1 showed (keys that differ only in their ports spread far
/// more evenly than random keys); the third round removes it
/// (`src/efd/DESIGN.md`). Longer keys add a block and a round each; this
/// is not a proven universal hash. A pair of keys sharing both could only
/// make an insert fail (reported), never give a stored key a wrong value.
/// AES-NI per key here, VAES on sixteen keys in the AVX-512 path; without
/// AES-NI, the same round in software ([`aes_round_soft`]).
///
/// `(level-1 hash, row mask)`.
#[inline(always)]
pub(crate) fn wide_digest<const N: usize>(k: &[u8; N], s: &Seeds) -> (u32, u64) {
    let mut d = (0, 0);
    wide_digests(std::slice::from_ref(k), s, |_, b, r| d = (b, r));
    d
}

/// [`wide_digest`] of every key of `keys`, handed to `f(i, level-1 hash,
/// row mask)` for key `i`, with AES-NI checked once for the whole slice.
#[inline]
pub(crate) fn wide_digests<const N: usize>(
    keys: &[[u8; N]],
    s: &Seeds,
    mut f: impl FnMut(usize, u32, u64),
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("aes") {
        // SAFETY: AES-NI checked just above.
        return unsafe { wide_digests_ni(keys, s, f) };
    }
    for (i, k) in keys.iter().enumerate() {
        let (b, r) = wide_digest_soft(k, s);
        f(i, b, r);
    }
}

/// [`wide_digests`] with AES-NI.
///
/// # Safety
/// The CPU has AES-NI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "aes")]
unsafe fn wide_digests_ni<const N: usize>(
    keys: &[[u8; N]],
    s: &Seeds,
    mut f: impl FnMut(usize, u32, u64),
) {
    for (i, k) in keys.iter().enumerate() {
        // SAFETY: AES-NI (caller).
        let (b, r) = unsafe { wide_digest_ni(k, s) };
        f(i, b, r);
    }
}

/// [`wide_digest`] with [`aes_round_soft`].
fn wide_digest_soft<const N: usize>(k: &[u8; N], s: &Seeds) -> (u32, u64) {
    let mut st = round_key(s, 0);
    for j in 0..blocks_of(N) {
        let (lo, hi) = block(k, j);
        st = aes_round_soft((st.0 ^ lo, st.1 ^ hi), round_key(s, j + 1));
    }
    for i in 1..=FINAL_ROUNDS {
        st = aes_round_soft(st, round_key(s, blocks_of(N) + i));
    }
    (st.0 as u32, wide_row(st.1))
}

/// [`wide_digest`] with AES-NI.
///
/// # Safety
/// The CPU has AES-NI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "aes")]
#[inline]
unsafe fn wide_digest_ni<const N: usize>(k: &[u8; N], s: &Seeds) -> (u32, u64) {
    use std::arch::x86_64::*;
    let v = |(lo, hi): (u64, u64)| _mm_set_epi64x(hi as i64, lo as i64);
    let mut st = v(round_key(s, 0));
    for j in 0..blocks_of(N) {
        st = _mm_aesenc_si128(_mm_xor_si128(st, v(block(k, j))), v(round_key(s, j + 1)));
    }
    for i in 1..=FINAL_ROUNDS {
        st = _mm_aesenc_si128(st, v(round_key(s, blocks_of(N) + i)));
    }
    (
        _mm_cvtsi128_si32(st) as u32,
        wide_row(_mm_cvtsi128_si64(_mm_unpackhi_epi64(st, st)) as u64),
    )
}

/// A wide key's row mask from the high qword `q` of its digest's state
/// ([`wide_digest`]): `q` with bit 0 set, never zero (a zero row would
/// give the key value 0 whatever the group's words).
#[inline(always)]
pub(crate) const fn wide_row(q: u64) -> u64 {
    q | 1
}

/// The AES S-box, computed: the multiplicative inverse in GF(2^8) (`x^254`)
/// followed by the affine map.
const SBOX: [u8; 256] = {
    const fn mul(mut a: u8, mut b: u8) -> u8 {
        let mut p = 0u8;
        while b != 0 {
            if b & 1 != 0 {
                p ^= a;
            }
            a = (a << 1) ^ if a & 0x80 != 0 { 0x1b } else { 0 };
            b >>= 1;
        }
        p
    }
    let mut t = [0u8; 256];
    let mut x = 0;
    while x < 256 {
        // x^254 = x^-1 (0 for 0): square-and-multiply over 254 = 0b11111110.
        let (mut r, mut b, mut e) = (1u8, x as u8, 254u32);
        while e != 0 {
            if e & 1 != 0 {
                r = mul(r, b);
            }
            b = mul(b, b);
            e >>= 1;
        }
        let i = if x == 0 { 0 } else { r };
        t[x] = i ^ i.rotate_left(1) ^ i.rotate_left(2) ^ i.rotate_left(3) ^ i.rotate_left(4) ^ 0x63;
        x += 1;
    }
    t
};

/// One AES encryption round (`AESENC`: ShiftRows, SubBytes, MixColumns,
/// then the round key xored in) on a state of `(low, high)` little-endian
/// qwords, in software: bit-identical to the instruction.
pub(crate) fn aes_round_soft(st: (u64, u64), rk: (u64, u64)) -> (u64, u64) {
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&st.0.to_le_bytes());
    a[8..].copy_from_slice(&st.1.to_le_bytes());
    // Byte `r + 4c` is row `r` of column `c`; row `r` rotates left by `r`.
    let sb: [u8; 16] = std::array::from_fn(|i| {
        let (r, c) = (i % 4, i / 4);
        SBOX[a[r + 4 * ((c + r) % 4)] as usize]
    });
    let x2 = |x: u8| (x << 1) ^ if x & 0x80 != 0 { 0x1b } else { 0 };
    let mut o = [0u8; 16];
    for c in 0..4 {
        let [a0, a1, a2, a3] = [sb[4 * c], sb[4 * c + 1], sb[4 * c + 2], sb[4 * c + 3]];
        o[4 * c] = x2(a0) ^ x2(a1) ^ a1 ^ a2 ^ a3;
        o[4 * c + 1] = a0 ^ x2(a1) ^ x2(a2) ^ a2 ^ a3;
        o[4 * c + 2] = a0 ^ a1 ^ x2(a2) ^ x2(a3) ^ a3;
        o[4 * c + 3] = x2(a0) ^ a0 ^ a1 ^ a2 ^ x2(a3);
    }
    let lo = u64::from_le_bytes(o[..8].try_into().expect("8 bytes"));
    let hi = u64::from_le_bytes(o[8..].try_into().expect("8 bytes"));
    (lo ^ rk.0, hi ^ rk.1)
}

/// Hash a key. 4-byte keys: `base` is the key itself (little-endian `u32`),
/// the row mask two 32-bit mixes of it. Longer keys: `base` comes from the
/// level-1 hash of their [`wide_digest`] ([`wide_base`]), which also gives
/// their row mask.
#[inline(always)]
pub(crate) fn key_hash<const N: usize>(k: &[u8; N], s: &Seeds) -> KeyHash {
    if N == 4 {
        let x = u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
        KeyHash {
            base: x,
            r: row32(x, s),
        }
    } else {
        let (d, r) = wide_digest(k, s);
        KeyHash {
            base: wide_base(d, s),
            r,
        }
    }
}

/// Level hash of a key: `(group, fingerprint)` with multiply-shift range
/// reduction of the high bits and the fingerprint from the low 8 bits.
#[inline(always)]
pub(crate) fn locate(base: u32, seed: u32, ngroups: u32) -> (usize, u8) {
    slot(mix_g(base ^ seed), ngroups)
}

/// `(group, fingerprint)` of a level hash `h` ([`locate`]).
#[inline(always)]
pub(crate) fn slot(h: u32, ngroups: u32) -> (usize, u8) {
    (((h as u64 * ngroups as u64) >> 32) as usize, h as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// The software round is `AESENC`, on random states and round keys.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn software_aes_round_is_the_instruction() {
        use std::arch::x86_64::*;
        if !std::arch::is_x86_feature_detected!("aes") {
            return;
        }
        let mut rng = SplitMix64::new(5);
        for _ in 0..10_000 {
            let st = (rng.next_u64(), rng.next_u64());
            let rk = (rng.next_u64(), rng.next_u64());
            // SAFETY: AES-NI checked above; SSE2 is baseline.
            let hw = unsafe {
                let v = |(lo, hi): (u64, u64)| _mm_set_epi64x(hi as i64, lo as i64);
                let r = _mm_aesenc_si128(v(st), v(rk));
                (
                    _mm_cvtsi128_si64(r) as u64,
                    _mm_cvtsi128_si64(_mm_unpackhi_epi64(r, r)) as u64,
                )
            };
            assert_eq!(aes_round_soft(st, rk), hw);
        }
    }

    /// `mix_g_inv` undoes `mix_g`, and a wide key's level-1 hash is its
    /// first digest.
    #[test]
    fn level_one_hash_of_a_wide_key_is_its_digest() {
        let mut rng = SplitMix64::new(11);
        for x in [0, 1, u32::MAX, 0x8000_0000]
            .into_iter()
            .chain((0..100_000).map(|_| rng.next_u64() as u32))
        {
            assert_eq!(mix_g(mix_g_inv(x)), x);
            assert_eq!(mix_g_inv(mix_g(x)), x);
        }
        let s = Seeds::new(3);
        for _ in 0..1000 {
            let d = rng.next_u64() as u32;
            let (g, fp) = locate(wide_base(d, &s), s.level[0], 1 << 20);
            assert_eq!((g, fp), (((d as u64) << 20 >> 32) as usize, d as u8));
        }
    }

    /// FIPS-197's known values: SubBytes of 0x00, 0x53, 0xff.
    #[test]
    fn sbox_is_aes() {
        assert_eq!((SBOX[0x00], SBOX[0x53], SBOX[0xff]), (0x63, 0xed, 0x16));
    }

    /// Both digests, with and without AES-NI, one key at a time and over a
    /// slice, for the key kinds' lengths and odd ones; keys that differ in
    /// one byte get different digests.
    #[test]
    fn digests_agree_and_differ() {
        fn check<const N: usize>() {
            let s = Seeds::new(N as u64);
            let mut rng = SplitMix64::new(N as u64 + 1);
            let mut seen = std::collections::HashSet::new();
            for i in 0..2_000 {
                let mut k: [u8; N] = std::array::from_fn(|_| rng.next_u64() as u8);
                if i % 2 == 1 {
                    k = [0x5a; N];
                    k[(i / 2) % N] ^= (i / (2 * N) + 1) as u8;
                }
                let d = wide_digest(&k, &s);
                assert_eq!(d, wide_digest_soft(&k, &s), "N={N}");
                seen.insert((k, d));
            }
            let all: Vec<([u8; N], (u32, u64))> = seen.iter().copied().collect();
            let slice: Vec<[u8; N]> = all.iter().map(|(k, _)| *k).collect();
            wide_digests(&slice, &s, |i, b, r| {
                assert_eq!((b, r), all[i].1, "N={N} key {i}")
            });
            let keys: std::collections::HashSet<_> = seen.iter().map(|(k, _)| *k).collect();
            let digests: std::collections::HashSet<_> = seen.iter().map(|(_, d)| *d).collect();
            assert_eq!(keys.len(), digests.len(), "N={N}: digests collide");
        }
        check::<5>();
        check::<8>();
        check::<12>();
        check::<13>();
        check::<16>();
        check::<17>();
        check::<32>();
        check::<37>();
        check::<40>();
    }
}

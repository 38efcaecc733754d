//! The AVX-512 bulk lookup (x86-64 with AVX-512 F, VL, BW, DQ, VPOPCNTDQ
//! and VBMI, VAES, and BMI2): sixteen keys per instruction sequence, from the
//! key load to the value store ([`bulk`], any key length). 4-byte keys are
//! loaded as they are; longer keys' digests are computed in registers,
//! sixteen keys at a time (keyed AES rounds, four keys per `vaesenc`,
//! [`digests16`]), and go straight on into the same sequence
//! ([`hash_inputs16`]; computing a call's digests into arrays first, to be
//! loaded again, was 1.12-1.15x slower: the stores and the wider loads
//! behind them). A digest's first dword is level 1's hash as it is
//! (`hash::wide_base`): the threshold gather does not wait for the mixer;
//! its high qword is the row mask (`hash::wide_row`), without mixers either.
//!
//! Each 16-key block hashes its keys (`vpmulld`) and gathers their level-1
//! thresholds. Values of 1 or 2 bits: each group word is gathered as
//! qwords, eight keys at a time, and the parity of `word & row` comes from
//! `vpopcntq`, in the same pass. Values of 3 or 4 bits (32-byte groups) and
//! of 5 to 8 bits (64-byte groups): a second pass puts two keys' groups in
//! one 512-bit register and takes all their parities at once. The first
//! pass prefetches those groups only when the bumped keys are located
//! between the two passes ([`Online::bump_early`]); otherwise the second
//! pass follows the first at once, the core overlaps its loads by itself,
//! and prefetches cost more than they save. The tail of a call (fewer than 16
//! keys) runs with masked loads and stores, so every length takes this
//! path.
//!
//! In calls of several batches on tables that prefetch (large ones, see
//! [`Online::bump_early`]), batch `c + 1`'s first pass runs block by block
//! between batch `c`'s value blocks ([`bulk_pipelined`]): a 32-key call
//! waits for its groups once, a long call overlaps each batch's wait with
//! the work on the batch before it.
//!
//! A batch is read without the stripes' versions and kept only if the
//! table's epoch was even before and unchanged after (as the AVX2 path's
//! quiet read); otherwise that batch and the rest of the call take the AVX2
//! path under the stripes' versions. Keys bumped from level 1 continue in
//! the shared scalar level loop ([`super::eval_deeper`], without the
//! stripes' versions: the epoch covers them too).

use super::super::hash::{
    block_len, block_offset, blocks_of, round_key, Seeds, A_M1, A_M2, B_M1, B_M2, FINAL_ROUNDS,
    G_M1, G_M1_INV, G_M2, G_M2_INV,
};
use super::{
    bump_keys, eval_deeper, eval_levels, hash_batch, wide_inputs, Online, Scratch, ScratchPtrs,
    BATCH,
};
use std::arch::asm;
use std::arch::x86_64::*;
use std::sync::atomic::{fence, Ordering};

/// Whether the CPU has what this path needs (with AVX2, POPCNT and BMI2),
/// detected once (the bulk lookup asks on every call).
pub(super) fn is_supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(detect)
}

fn detect() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("bmi2")
        && std::arch::is_x86_feature_detected!("avx512vbmi")
        && std::arch::is_x86_feature_detected!("vaes")
        && std::arch::is_x86_feature_detected!("aes")
}

/// `hash::wide_base` on 16 lanes: `mix_g_inv(d) ^ level[0]`.
///
/// # Safety
/// AVX-512 F (no memory is read).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn wide_base16(d: __m512i, s: &Seeds) -> __m512i {
    let mut x = _mm512_xor_si512(d, _mm512_srli_epi32::<16>(d));
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32(G_M2_INV as i32));
    // x ^ x >> 15 ^ x >> 30: 0x96 is a ^ b ^ c.
    x = _mm512_ternarylogic_epi32::<0x96>(
        x,
        _mm512_srli_epi32::<15>(x),
        _mm512_srli_epi32::<30>(x),
    );
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32(G_M1_INV as i32));
    x = _mm512_xor_si512(x, _mm512_srli_epi32::<16>(x));
    _mm512_xor_si512(x, _mm512_set1_epi32(s.level[0] as i32))
}

/// One of the 32-bit multiply-xorshift mixers of `hash.rs`, on 16 lanes.
///
/// # Safety
/// AVX-512 F (no memory is read).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn mix<const S1: u32, const S2: u32, const S3: u32>(
    x: __m512i,
    m1: u32,
    m2: u32,
) -> __m512i {
    let mut x = _mm512_xor_si512(x, _mm512_srli_epi32::<S1>(x));
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32(m1 as i32));
    x = _mm512_xor_si512(x, _mm512_srli_epi32::<S2>(x));
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32(m2 as i32));
    _mm512_xor_si512(x, _mm512_srli_epi32::<S3>(x))
}

/// Sixteen dwords `*(base + idx[k])` (byte offsets), which the writer may
/// be storing to concurrently: a gather in asm, each element a 4-byte load,
/// ordered with other loads as any x86-64 load.
///
/// # Safety
/// AVX-512 F; every `base + idx[k]` is valid for 4 bytes.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn gather_bytes32(base: *const u8, idx: __m512i) -> __m512i {
    // SAFETY: every gathered address is valid for 4 bytes (caller); the asm
    // reads nothing else and writes only its output registers.
    unsafe {
        let v: __m512i;
        asm!("kxnorw {k}, {k}, {k}",
         "vpgatherdd {v}{{{k}}}, dword ptr [{b} + {i}]",
         v = out(zmm_reg) v, k = out(kreg) _, i = in(zmm_reg) idx, b = in(reg) base,
         options(nostack, preserves_flags, readonly));
        v
    }
}

/// Eight qwords `*(base + idx[k] * 8)` (`idx` eight dwords), which the
/// writer may be storing to concurrently: a gather in asm, like
/// [`gather_bytes32`], each element an aligned 8-byte (atomic) load.
///
/// # Safety
/// AVX-512 F; every `base + idx[k] * 8` is valid for 8 bytes.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn gather_words(base: *const u64, idx: __m256i) -> __m512i {
    // SAFETY: every gathered address is valid for 8 bytes (caller); the asm
    // reads nothing else and writes only its output registers.
    unsafe {
        let v: __m512i;
        asm!("kxnorb {k}, {k}, {k}",
         "vpgatherdq {v}{{{k}}}, qword ptr [{b} + {i} * 8]",
         v = out(zmm_reg) v, k = out(kreg) _, i = in(ymm_reg) idx, b = in(reg) base,
         options(nostack, preserves_flags, readonly));
        v
    }
}

/// Parity of `w & r` per qword, as a mask.
///
/// # Safety
/// AVX-512 F and VPOPCNTDQ (no memory is read).
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
unsafe fn parity(w: __m512i, r: __m512i) -> __mmask8 {
    let c = _mm512_popcnt_epi64(_mm512_and_si512(w, r));
    _mm512_test_epi64_mask(c, _mm512_set1_epi64(1))
}

/// Values of sixteen keys in groups of 1 or 2 words (`S`; 1 or 2-bit
/// values), groups `g` of the words at `wp`, row masks `r0` (keys 0..8) and
/// `r1` (keys 8..16): each word gathered as qwords, eight keys at a time.
///
/// # Safety
/// AVX-512 F, VL, BW, VPOPCNTDQ; every `g[k]` a group of the level.
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512vpopcntdq")]
#[inline]
unsafe fn values_gathered<const S: usize>(
    wp: *const u64,
    g: __m512i,
    r0: __m512i,
    r1: __m512i,
) -> __m128i {
    // SAFETY: each `g[k]` is a group of the level whose words start at `wp`
    // (caller), so word `b < S` of it, at `wp + (g[k] * S + b) * 8`, is inside
    // the level's lines for `gather_words`; the features are the caller's.
    unsafe {
        let idx = if S == 1 { g } else { _mm512_slli_epi32::<1>(g) };
        let (i0, i1) = (
            _mm512_castsi512_si256(idx),
            _mm512_extracti64x4_epi64::<1>(idx),
        );
        let mut v = _mm_setzero_si128();
        for b in 0..S {
            let p0 = parity(gather_words(wp.add(b), i0), r0);
            let p1 = parity(gather_words(wp.add(b), i1), r1);
            let m = (p0 as u16) | (p1 as u16) << 8;
            v = _mm_mask_add_epi8(v, m, v, _mm_set1_epi8(1 << b));
        }
        v
    }
}

/// The 32 bytes at `a` and at `b`, side by side, which the writer may be
/// storing to concurrently: in asm, like the gathers, as one block (`a`
/// broadcast to both halves, then `b` into the upper one), which saves the
/// register move that two blocks cost.
///
/// # Safety
/// AVX-512 F; `a` and `b` valid for 32 bytes.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn load2x256(a: *const u64, b: *const u64) -> __m512i {
    // SAFETY: `a` and `b` are valid for the 32 bytes read at each (caller); the
    // asm reads nothing else and writes only `v`.
    unsafe {
        let v: __m512i;
        asm!("vbroadcasti64x4 {v}, ymmword ptr [{a}]",
         "vinserti64x4 {v}, {v}, ymmword ptr [{b}], 1",
         v = out(zmm_reg) v, a = in(reg) a, b = in(reg) b,
         options(nostack, preserves_flags, readonly));
        v
    }
}

/// Values of eight keys (their groups' addresses `ws`, row masks `r` as
/// qwords, key k in lane k) in groups of 3 or 4 words (`S`), two keys per 512-bit
/// load: the eight parities of `[group a | group b] & [r_a x4 | r_b x4]`
/// are key a's value in the low nibble and key b's in the high one. Returns
/// the eight value bytes (key 0 lowest), masked to `vmask`.
///
/// # Safety
/// AVX-512 F, VPOPCNTDQ and BMI2; every `ws[k]` a group of the level (whose
/// lines have a spare line after the last group).
#[target_feature(enable = "avx512f,avx512vpopcntdq,bmi2")]
#[inline]
unsafe fn values_lines4<const S: usize>(ws: *const u64, r: __m512i, vmask: u8) -> u64 {
    // SAFETY: `ws[0..8]` are the addresses of eight groups of the level
    // (caller; `2j + 1 < 8`), each valid for 32 bytes thanks to the spare line,
    // as `load2x256` needs; the features are the caller's.
    unsafe {
        let mut m = 0u64;
        for j in 0..4 {
            let (a, b) = (
                *ws.add(2 * j) as *const u64,
                *ws.add(2 * j + 1) as *const u64,
            );
            let w = load2x256(a, b);
            let rr = _mm512_permutexvar_epi64(
                _mm512_add_epi64(
                    _mm512_setr_epi64(0, 0, 0, 0, 1, 1, 1, 1),
                    _mm512_set1_epi64(2 * j as i64),
                ),
                r,
            );
            m |= (parity(w, rr) as u64) << (8 * j);
        }
        _pdep_u64(m, 0x0f0f_0f0f_0f0f_0f0f) & (vmask as u64 * 0x0101_0101_0101_0101)
    }
}

/// Values of eight keys (their groups' addresses `ws`, row masks `r`, key k
/// in qword k) in stride-8 groups (5 to 8-bit values, physical layout of
/// `to_phys8`), two keys per pair of 512-bit loads: the dword parities of
/// `([lo a | lo b] & [ra_a x8 | ra_b x8]) ^ ([hi a | hi b] & [rb_a x8 | rb_b
/// x8])` are key a's value in the low byte and key b's in the high one.
/// Returns the eight value bytes (key 0 lowest).
///
/// # Safety
/// AVX-512 F, VPOPCNTDQ; every `ws[k]` a group of the level.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
unsafe fn values_lines8(ws: *const u64, r: __m512i) -> u64 {
    // SAFETY: `ws[0..8]` are the addresses of eight stride-8 groups of the
    // level (caller; `2j + 1 < 8`), so the 32 bytes at `a`, `b`, `a + 4` and
    // `b + 4` words are inside them, as `load2x256` needs; the features are the
    // caller's.
    unsafe {
        let mut m = 0u64;
        for j in 0..4 {
            let (a, b) = (
                *ws.add(2 * j) as *const u64,
                *ws.add(2 * j + 1) as *const u64,
            );
            let lo = load2x256(a, b);
            let hi = load2x256(a.add(4), b.add(4));
            // Dwords 2k and 2k + 1 of `r` are key k's low and high row halves.
            let il = _mm512_add_epi32(
                _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2),
                _mm512_set1_epi32(4 * j as i32),
            );
            let rl = _mm512_permutexvar_epi32(il, r);
            let rh = _mm512_permutexvar_epi32(_mm512_add_epi32(il, _mm512_set1_epi32(1)), r);
            // (lo & rl) ^ (hi & rh): 0x78 is a ^ (b & c).
            let x = _mm512_ternarylogic_epi32::<0x78>(_mm512_and_si512(lo, rl), hi, rh);
            let p = _mm512_test_epi32_mask(_mm512_popcnt_epi32(x), _mm512_set1_epi32(1));
            m |= (p as u64) << (16 * j);
        }
        m
    }
}

/// Level 1 of a block of up to sixteen keys (`lanes` set for the keys that
/// exist), first pass: hashes them and writes each one's base, row mask and
/// level-1 group to `s` at `off`, and gathers their thresholds. Groups of 1
/// or 2 words: also evaluates the keys and stores their values to `oc`
/// (the bumped keys' are garbage, overwritten later). Larger groups: writes
/// their addresses to `s` for [`values_block`], and prefetches them if
/// `PREFETCH`. Returns the keys the thresholds bump to the next level.
///
/// The keys' hash inputs come from [`hash_inputs16`], in registers.
///
/// # Safety
/// This module's features; `keys` valid for the lanes' keys and `oc` for
/// their bytes; `s` a live scratch with room for `off + 16` keys.
#[target_feature(
    enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,avx512vbmi,vaes,aes"
)]
#[inline]
unsafe fn locate_block<const N: usize, const S: usize, const PREFETCH: bool>(
    t: &Online,
    keys: *const [u8; N],
    lanes: __mmask16,
    s: ScratchPtrs,
    off: usize,
    oc: *mut u8,
) -> u32 {
    // SAFETY: `hash_inputs16` reads only the lanes' keys and the masked store
    // writes only their bytes, which the caller guarantees; `s` has room for
    // `off + 16` keys (caller) for the stores at `off`, and the prefetches read
    // back addresses just stored there; every `g[k]` is the high half of
    // `h * n`, below `n`, a group of level 1: the threshold gather stays inside the
    // thresholds (3 spare bytes), and `values_gathered` gets groups of the
    // level.
    unsafe {
        let sd: &Seeds = &t.seeds;
        let l0 = &t.levels[0];
        let (x, h, rows) = hash_inputs16::<N>(keys, lanes, sd);
        _mm512_storeu_si512(s.base.add(off) as *mut _, x);
        // Multiply-shift range reduction: the high half of h * n.
        let nv = _mm512_set1_epi32(l0.n as i32);
        let even = _mm512_srli_epi64::<32>(_mm512_mul_epu32(h, nv));
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(h), nv);
        let g = _mm512_mask_blend_epi32(0xAAAA, even, odd);
        _mm512_storeu_si512(s.gs.add(off) as *mut _, g);
        if S >= 3 {
            // The groups' addresses, for the prefetches now and the loads of
            // the values pass.
            let idx = _mm512_mullo_epi32(g, _mm512_set1_epi32(S as i32));
            let wv = _mm512_set1_epi64(l0.words_ptr() as i64);
            let addr = |i8: __m256i| {
                _mm512_add_epi64(wv, _mm512_slli_epi64::<3>(_mm512_cvtepu32_epi64(i8)))
            };
            _mm512_storeu_si512(s.ws.add(off) as *mut _, addr(_mm512_castsi512_si256(idx)));
            _mm512_storeu_si512(
                s.ws.add(off + 8) as *mut _,
                addr(_mm512_extracti64x4_epi64::<1>(idx)),
            );
            if PREFETCH {
                for k in 0..16 {
                    // A load from the scratch (one instruction), not an extract
                    // from the vectors above (two or three).
                    super::prefetch(std::ptr::read_volatile(s.ws.add(off + k)) as *const u8);
                }
            }
        }
        let byte = _mm512_set1_epi32(0xff);
        let th = _mm512_and_si512(gather_bytes32(l0.thresh.as_ptr() as *const u8, g), byte);
        let bumped = _mm512_mask_cmpgt_epu32_mask(lanes, _mm512_and_si512(h, byte), th);
        let (r0, r1) = rows.unwrap_or_else(|| rows16(x, sd));
        _mm512_storeu_si512(s.rs.add(off) as *mut _, r0);
        _mm512_storeu_si512(s.rs.add(off + 8) as *mut _, r1);
        if S <= 2 {
            // Gathered words: at once, while `g` and the row masks are in
            // registers (measured faster than a second pass).
            let v = values_gathered::<S>(l0.words_ptr() as *const u64, g, r0, r1);
            _mm_mask_storeu_epi8(oc as *mut i8, lanes, v);
        }
        bumped as u32
    }
}

/// Level 1 of a block located by [`locate_block`] (groups of 3 to 8
/// words), second pass: the values of its keys, stored to `oc` for the keys
/// in `store` (the lanes that exist; the bumped keys' are garbage,
/// overwritten later).
///
/// # Safety
/// As [`locate_block`], for the same `s` and `off`; `oc` valid for the
/// bytes of `store`.
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2")]
#[inline]
unsafe fn values_block<const S: usize>(
    t: &Online,
    s: ScratchPtrs,
    off: usize,
    store: __mmask16,
    oc: *mut u8,
) {
    // SAFETY: `s` at `off` holds the 16 group addresses and row masks that
    // `locate_block` wrote (caller), groups of the level as `values_lines4` and
    // `values_lines8` need; the masked store writes only the bytes of `store`,
    // which `oc` is valid for (caller).
    unsafe {
        let ws = s.ws.add(off) as *const u64;
        let r0 = _mm512_loadu_si512(s.rs.add(off) as *const _);
        let r1 = _mm512_loadu_si512(s.rs.add(off + 8) as *const _);
        let v = match S {
            3 | 4 => _mm_set_epi64x(
                values_lines4::<S>(ws.add(8), r1, t.vmask) as i64,
                values_lines4::<S>(ws, r0, t.vmask) as i64,
            ),
            _ => _mm_set_epi64x(
                values_lines8(ws.add(8), r1) as i64,
                values_lines8(ws, r0) as i64,
            ),
        };
        _mm_mask_storeu_epi8(oc as *mut i8, store, v);
    }
}

/// Level 1, first pass, of a batch of at most [`BATCH`] keys read without
/// the stripes' versions: [`locate_block`] sixteen keys at a time. Returns
/// the keys the thresholds bump.
///
/// # Safety
/// As [`quiet_batch`].
#[target_feature(
    enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2,avx512vbmi,vaes,aes"
)]
#[inline]
unsafe fn locate_batch<const N: usize, const S: usize, const PREFETCH: bool>(
    t: &Online,
    keys: *const [u8; N],
    n: usize,
    s: ScratchPtrs,
    oc: *mut u8,
) -> u32 {
    // SAFETY: `keys` and `oc` are valid for `n <= BATCH` keys and `s` is a
    // live scratch (caller): each block at `off < n` gets its lanes' keys and
    // bytes, and `off + 16 <= BATCH` keys of room in `s`.
    unsafe {
        prefetch_wide_keys::<N>(keys, n);
        let mut bumped = 0u32;
        for off in (0..n).step_by(16) {
            bumped |= locate_block::<N, S, PREFETCH>(
                t,
                keys.add(off),
                lanes(n, off),
                s,
                off,
                oc.add(off),
            ) << off;
        }
        bumped
    }
}

/// Prefetches every line of a batch's `n` keys when they are loaded key
/// by key (keys wider than 16 bytes, [`digests16`]): 37-byte keys streamed
/// from memory took 1.14-1.15x the time without it (Zen 4 host, 1M random
/// keys, calls of 32, with the loads of the NH digest before; 0.96-0.98x
/// on the Xeon host). Keys of up to 16 bytes are read as whole lines, which
/// the hardware prefetcher follows. A hint: it reads nothing.
#[inline(always)]
fn prefetch_wide_keys<const N: usize>(keys: *const [u8; N], n: usize) {
    if N > 16 {
        prefetch_keys::<N>(keys, n);
    }
}

/// Prefetches every line of `n` keys of more than 4 bytes (for 4-byte
/// keys, a call's 128 bytes, it does nothing). A hint: it reads nothing.
#[inline(always)]
fn prefetch_keys<const N: usize>(keys: *const [u8; N], n: usize) {
    if N > 4 && n > 0 {
        let (p, len) = (keys as *const u8, n * N);
        for at in (0..len).step_by(64) {
            super::prefetch(p.wrapping_add(at));
        }
        super::prefetch(p.wrapping_add(len - 1));
    }
}

/// The lanes of the block at `off` of a batch of `n` keys.
#[inline(always)]
fn lanes(n: usize, off: usize) -> __mmask16 {
    if n - off >= 16 {
        0xffff
    } else {
        (1u16 << (n - off)) - 1
    }
}

/// A batch of at most [`BATCH`] keys read without the stripes' versions
/// (the caller validates it with the epoch): level 1 sixteen keys at a
/// time, then the bumped keys in the deeper levels, located before the
/// level-1 values pass if `EARLY` ([`Online::bump_early`]), else after it.
///
/// # Safety
/// This module's features; `keys` valid for `n <= BATCH` keys and `oc`
/// for `n` bytes; `s` a live scratch.
#[target_feature(
    enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2,avx512vbmi,vaes,aes"
)]
#[inline]
unsafe fn quiet_batch<const N: usize, const S: usize, const S8: bool, const EARLY: bool>(
    t: &Online,
    keys: *const [u8; N],
    n: usize,
    s: ScratchPtrs,
    oc: *mut u8,
) {
    // SAFETY: as for `locate_batch` (the caller's buffers and features); after
    // it `s` holds the batch's hashed keys, so every bumped index (`< n`) is
    // one of them, as `bump_keys` and `eval_deeper` need, and `oc` is valid for
    // it; the value blocks get `locate_block`'s scratch.
    unsafe {
        let bumped = locate_batch::<N, S, EARLY>(t, keys, n, s, oc);
        let mut pend = [0u8; BATCH];
        let mut np = 0;
        if EARLY {
            bump_keys::<S8>(t, bumped, s, &mut pend, &mut np);
        }
        if S >= 3 {
            for off in (0..n).step_by(16) {
                values_block::<S>(t, s, off, lanes(n, off), oc.add(off));
            }
        }
        if !EARLY {
            bump_keys::<S8>(t, bumped, s, &mut pend, &mut np);
        }
        if np > 0 {
            eval_deeper::<true, S8, true>(t, s, &mut pend, np, oc);
        }
    }
}

/// A batch of [`bulk_pipelined`] between its first pass and its values:
/// its scratch, the epoch loaded before the first pass, and its bumped
/// keys (their level-2 groups already being fetched).
struct Located {
    s: ScratchPtrs,
    epoch: u64,
    pend: [u8; BATCH],
    np: usize,
}

/// [`bulk_stride`] for calls of more than one batch, on tables whose
/// groups take a second pass (`S >= 3`) and are fetched from memory (the
/// `EARLY` bump order, [`Online::bump_early`]): batch `c + 1` is located,
/// its level-1 groups and its bumped keys' level-2 groups prefetched,
/// block by block between batch `c`'s value blocks, so that its memory
/// latency overlaps batch `c`'s work instead of following it. Each batch is
/// validated by the epoch as in [`bulk_stride`] (loaded before its first
/// pass, compared after its deeper levels); the first that overlaps a
/// write, and the rest of the call, take the path under the stripes'
/// versions.
///
/// # Safety
/// As [`bulk`], with `keys` valid for `len` keys and `op` for `len` bytes.
#[target_feature(
    enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2,avx512vbmi,vaes,aes"
)]
#[inline(never)]
unsafe fn bulk_pipelined<const N: usize, const S: usize, const S8: bool>(
    t: &Online,
    keys: *const [u8; N],
    len: usize,
    op: *mut u8,
) {
    // SAFETY: the features are the caller's, and `keys` and `op` are valid
    // for `len` keys (caller), so batch `c`'s keys and output at `c * BATCH`
    // are valid for its keys; the two scratches are live
    // `MaybeUninit<Scratch>`s of this frame, each written by `locate_batch`,
    // `locate_block` or `versioned_batch` before it is read.
    unsafe {
        let mut scratch = [
            std::mem::MaybeUninit::<Scratch>::uninit(),
            std::mem::MaybeUninit::<Scratch>::uninit(),
        ];
        let [sa, sb] = &mut scratch;
        // Batch c: its keys, their number and its output.
        let batch = |c: usize| {
            let o = c * BATCH;
            (keys.add(o), len.min(o + BATCH) - o, op.add(o))
        };
        let located = |s: ScratchPtrs, epoch: u64, bumped: u32| {
            let mut l = Located {
                s,
                epoch,
                pend: [0; BATCH],
                np: 0,
            };
            bump_keys::<S8>(t, bumped, s, &mut l.pend, &mut l.np);
            l
        };
        let batches = len.div_ceil(BATCH);
        let (k0, n0, o0) = batch(0);
        let e0 = t.epoch.0.load(Ordering::Acquire);
        let s0 = ScratchPtrs::new(sa);
        let b0 = locate_batch::<N, S, true>(t, k0, n0, s0, o0);
        let mut cur = located(s0, e0, b0);
        let mut spare = ScratchPtrs::new(sb);
        let mut c = 0;
        while c < batches {
            let (_, n, oc) = batch(c);
            let next = if c + 1 < batches {
                let (kn, nn, on) = batch(c + 1);
                prefetch_wide_keys::<N>(kn, nn);
                let en = t.epoch.0.load(Ordering::Acquire);
                let mut bn = 0u32;
                for off in (0..BATCH).step_by(16) {
                    if off < nn {
                        bn |= locate_block::<N, S, true>(
                            t,
                            kn.add(off),
                            lanes(nn, off),
                            spare,
                            off,
                            on.add(off),
                        ) << off;
                    }
                    if off < n {
                        values_block::<S>(t, cur.s, off, lanes(n, off), oc.add(off));
                    }
                }
                Some(located(spare, en, bn))
            } else {
                for off in (0..n).step_by(16) {
                    values_block::<S>(t, cur.s, off, lanes(n, off), oc.add(off));
                }
                None
            };
            if cur.np > 0 {
                eval_deeper::<true, S8, true>(t, cur.s, &mut cur.pend, cur.np, oc);
            }
            fence(Ordering::Acquire);
            if cur.epoch & 1 != 0 || t.epoch.0.load(Ordering::Relaxed) != cur.epoch {
                break;
            }
            c += 1;
            if let Some(nx) = next {
                spare = cur.s;
                cur = nx;
            }
        }
        // A write was in flight: batch `c` and the rest of the call under the
        // stripes' versions.
        for c in c..batches {
            let (kc, n, oc) = batch(c);
            versioned_batch::<N, S8>(t, kc, n, spare, oc);
        }
    }
}

/// A batch of `n <= BATCH` keys under the stripes' versions (the AVX2
/// path's hash and levels), for batches that overlap a write.
///
/// # Safety
/// This module's features; `keys` valid for `n` keys and `oc` for `n`
/// bytes; `s` a live scratch.
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2")]
#[inline(never)]
unsafe fn versioned_batch<const N: usize, const S8: bool>(
    t: &Online,
    keys: *const [u8; N],
    n: usize,
    s: ScratchPtrs,
    oc: *mut u8,
) {
    // SAFETY: `keys` is valid for `n <= BATCH` keys (caller), which
    // `hash_batch` hashes into `s` before `eval_levels` reads them; AVX2 is
    // among the features (caller); `oc` is valid for `n` bytes (caller).
    unsafe {
        hash_batch::<N, true, S8>(t, std::slice::from_raw_parts(keys, n), s);
        eval_levels::<true, S8, false>(t, n, s, oc);
    }
}

/// [`bulk`] for a stride `S` (words per group; `S8`: `S` is 8) and bump
/// order known at compile time.
///
/// # Safety
/// As [`bulk_pipelined`].
#[target_feature(
    enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2,avx512vbmi,vaes,aes"
)]
#[inline]
unsafe fn bulk_stride<const N: usize, const S: usize, const S8: bool, const EARLY: bool>(
    t: &Online,
    keys: *const [u8; N],
    len: usize,
    op: *mut u8,
) {
    // SAFETY: the features are the caller's, and `keys` and `op` are valid
    // for `len` keys (caller), so batch `c`'s keys and output at `c * BATCH`
    // are valid for its keys; `s` points to this frame's scratch, written by
    // `quiet_batch` or `versioned_batch` before it is read.
    unsafe {
        let mut scratch = std::mem::MaybeUninit::<Scratch>::uninit();
        let s = ScratchPtrs::new(&mut scratch);
        let mut quiet = true;
        for o in (0..len).step_by(BATCH) {
            let (kc, n, oc) = (keys.add(o), (len - o).min(BATCH), op.add(o));
            // The next batch's keys, a batch ahead of their digests: calls of
            // 256 took 0.74x (37 bytes) and 0.80x (13 bytes) the time without
            // it (1M random keys, Zen 4 host).
            let next = o + BATCH;
            prefetch_keys::<N>(keys.wrapping_add(next), len.saturating_sub(next).min(BATCH));
            if quiet {
                let e1 = t.epoch.0.load(Ordering::Acquire);
                if e1 & 1 == 0 {
                    quiet_batch::<N, S, S8, EARLY>(t, kc, n, s, oc);
                    fence(Ordering::Acquire);
                    if t.epoch.0.load(Ordering::Relaxed) == e1 {
                        continue;
                    }
                }
                quiet = false;
            }
            // A write was in flight: this batch and the rest of the call under
            // the stripes' versions.
            versioned_batch::<N, S8>(t, kc, n, s, oc);
        }
    }
}

/// The bulk lookup on the AVX-512 path, any key length: sixteen keys at a
/// time from their hash inputs ([`hash_inputs16`]) to their values.
///
/// # Safety
/// The CPU has this module's features ([`is_supported`]);
/// `out.len() >= keys.len()`.
#[target_feature(
    enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2,avx512vbmi,vaes,aes"
)]
pub(super) unsafe fn bulk<const N: usize>(t: &Online, keys: &[[u8; N]], out: &mut [u8]) {
    // SAFETY: `keys` holds `len` keys and `out` at least as many bytes
    // (caller), as `bulk_pipelined` and `bulk_stride` require; the features
    // are the caller's.
    unsafe {
        let (k, len, op) = (keys.as_ptr(), keys.len(), out.as_mut_ptr());
        let early = t.bump_early();
        if len > BATCH && early {
            match t.stride {
                1 | 2 => {}
                3 => return bulk_pipelined::<N, 3, false>(t, k, len, op),
                4 => return bulk_pipelined::<N, 4, false>(t, k, len, op),
                _ => return bulk_pipelined::<N, 8, true>(t, k, len, op),
            }
        }
        match (t.stride, early) {
            (1, false) => bulk_stride::<N, 1, false, false>(t, k, len, op),
            (1, true) => bulk_stride::<N, 1, false, true>(t, k, len, op),
            (2, false) => bulk_stride::<N, 2, false, false>(t, k, len, op),
            (2, true) => bulk_stride::<N, 2, false, true>(t, k, len, op),
            (3, false) => bulk_stride::<N, 3, false, false>(t, k, len, op),
            (3, true) => bulk_stride::<N, 3, false, true>(t, k, len, op),
            (4, false) => bulk_stride::<N, 4, false, false>(t, k, len, op),
            (4, true) => bulk_stride::<N, 4, false, true>(t, k, len, op),
            (_, false) => bulk_stride::<N, 8, true, false>(t, k, len, op),
            (_, true) => bulk_stride::<N, 8, true, true>(t, k, len, op),
        }
    }
}

/// The row masks of sixteen 4-byte keys `x` (`hash::row32`): keys 0-7,
/// then keys 8-15.
///
/// # Safety
/// AVX-512 F (no memory is read).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn rows16(x: __m512i, s: &Seeds) -> (__m512i, __m512i) {
    // SAFETY: `mix` needs AVX-512 F, this function's feature.
    let (ra, rb) = unsafe {
        (
            mix::<16, 13, 16>(
                _mm512_xor_si512(x, _mm512_set1_epi32(s.ra as i32)),
                A_M1,
                A_M2,
            ),
            mix::<16, 15, 15>(
                _mm512_xor_si512(x, _mm512_set1_epi32(s.rb as i32)),
                B_M1,
                B_M2,
            ),
        )
    };
    // Row mask of key k: ra[k] | rb[k] << 32.
    let r0 = _mm512_permutex2var_epi32(
        ra,
        _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23),
        rb,
    );
    let r1 = _mm512_permutex2var_epi32(
        ra,
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31),
        rb,
    );
    (r0, r1)
}

/// What the `lanes` keys at `keys` (a prefix of sixteen lanes) hash to:
/// their bases (as `super::hash_inputs` gives them), level-1 hashes
/// (`mix_g(base ^ level[0])`, as `hash::locate`), and row masks (keys 0-7,
/// then 8-15). Longer keys give all three from their digests
/// ([`digests16`]), whose first dword is their level-1 hash without the
/// mixer (`hash::wide_base`). 4-byte keys are their own base and row-mask
/// input, and give no row masks (`None`): the caller takes them from the
/// base ([`rows16`]) after the threshold gather (computed here instead,
/// 1M random 4-byte keys took 1.02x the time, 8 interleaved runs). The
/// other lanes hold no key's hash.
///
/// # Safety
/// AVX-512 F, VL, BW and VBMI, VAES, AVX2; `keys` valid for the lanes' keys.
#[target_feature(enable = "avx512f,avx512vl,avx2,avx512bw,avx512vbmi,vaes,aes")]
#[inline]
unsafe fn hash_inputs16<const N: usize>(
    keys: *const [u8; N],
    lanes: __mmask16,
    s: &Seeds,
) -> (__m512i, __m512i, Option<(__m512i, __m512i)>) {
    // SAFETY: the masked load reads only the lanes' dwords, `digests16` only
    // the lanes' keys, and the scalar digests the `lanes.count_ones()` keys
    // of the prefix, all valid (caller); the arrays hold 16 entries.
    unsafe {
        if N == 4 {
            let x = _mm512_maskz_loadu_epi32(lanes, keys as *const i32);
            let h = mix::<16, 15, 16>(
                _mm512_xor_si512(x, _mm512_set1_epi32(s.level[0] as i32)),
                G_M1,
                G_M2,
            );
            (x, h, None)
        } else if N >= 8 {
            let (b, h, r0, r1) = digests16::<N>(keys as *const u8, lanes, s);
            (b, h, Some((r0, r1)))
        } else {
            // Keys of 1 to 7 bytes other than 4 (no key kind has them): one
            // padded block each, one key at a time.
            let n = lanes.count_ones() as usize;
            let (mut d, mut r) = ([0u32; 16], [0u64; 16]);
            wide_inputs::<N>(
                std::slice::from_raw_parts(keys, n),
                s,
                d.as_mut_ptr(),
                r.as_mut_ptr(),
            );
            let h = _mm512_loadu_si512(d.as_ptr() as *const _);
            let rows = (
                _mm512_loadu_si512(r.as_ptr() as *const _),
                _mm512_loadu_si512(r.as_ptr().add(8) as *const _),
            );
            (wide_base16(h, s), h, Some(rows))
        }
    }
}

/// The digests (`wide_digest`) of the `lanes` keys of sixteen `N`-byte
/// keys at `keys` (`N >= 8`, one after the other, `lanes` a prefix): four
/// 128-bit states per register, each block of the keys xored in and one
/// AES round (`vaesenc`) on four keys at once, `FINAL_ROUNDS` more rounds,
/// then the first dword of each state gathered into one register and the
/// high qwords into two by two-source permutes. Returns the keys' bases
/// (`hash::wide_base` of the first dwords), level-1 hashes (the first
/// dwords), and row masks (`hash::wide_row` of the high qwords; keys 0-7,
/// then 8-15).
///
/// A block of four keys is put in place by whole-register loads and byte
/// permutes for keys of up to 16 bytes (four keys span at most 64 bytes:
/// one masked load and one `vpermb`; the permute also zeroes the padding),
/// key by key for longer ones (one 128-bit load per key and block,
/// inserted; two loads and a two-source permute over four 37-byte keys'
/// 127 bytes instead took 1.06x the time on fresh 37-byte keys). Masked:
/// only the lanes' keys are read. Against the NH sums before
/// (`src/efd/DESIGN.md`, Zen 4 host, 1M keys, calls of 32): 0.82x the time
/// on fresh 37-byte keys, 0.91x on fresh 13-byte keys.
///
/// # Safety
/// AVX-512 F, VL, BW and VBMI, VAES; `N >= 8`; `keys` valid for the lanes'
/// keys.
#[target_feature(enable = "avx512f,avx512vl,avx2,avx512bw,avx512vbmi,vaes,aes")]
#[inline]
pub(super) unsafe fn digests16<const N: usize>(
    keys: *const u8,
    lanes: __mmask16,
    s: &Seeds,
) -> (__m512i, __m512i, __m512i, __m512i) {
    // SAFETY: every load is masked to bytes of the lanes' keys, valid
    // (caller): `valid` is where the prefix of set lanes ends, a load of
    // keys `4g..4g + 4` reads at most up to it (and nothing for a lane not
    // set); addresses are formed without `add`, as they may lie past the
    // keys where nothing is read.
    unsafe {
        let rk = |i: usize| {
            let (lo, hi) = round_key(s, i);
            _mm512_broadcast_i32x4(_mm_set_epi64x(hi as i64, lo as i64))
        };
        let valid = lanes.count_ones() as usize * N;
        // Bytes `0..n` of byte mask, counted from `from` (at most 64).
        let upto = |from: usize, n: usize| -> u64 {
            let a = n.saturating_sub(from);
            if a >= 64 {
                u64::MAX
            } else {
                (1u64 << a) - 1
            }
        };
        let mut st = [rk(0); 4];
        for j in 0..blocks_of(N) {
            let (o, l) = (block_offset(N, j), block_len(N, j));
            let k = rk(j + 1);
            if N <= 16 {
                // Byte `i` of lane `q`: byte `q * N + i` of the four keys
                // (`o == 0`), zero past the key.
                let ix: [u8; 64] =
                    std::array::from_fn(|b| ((b / 16) * N + (b % 16).min(l - 1)) as u8);
                let ix = _mm512_loadu_si512(ix.as_ptr() as *const _);
                let pad = upto(0, l) * 0x0001_0001_0001_0001;
                for (g, st) in st.iter_mut().enumerate() {
                    let at = 4 * g * N;
                    let m = upto(at, valid) & upto(0, 4 * N);
                    let z = _mm512_maskz_loadu_epi8(m, keys.wrapping_add(at) as *const i8);
                    let z = _mm512_maskz_permutexvar_epi8(pad, ix, z);
                    *st = _mm512_aesenc_epi128(_mm512_xor_si512(*st, z), k);
                }
            } else {
                for (g, st) in st.iter_mut().enumerate() {
                    let ld = |q: usize| {
                        let key = 4 * g + q;
                        let m: __mmask8 = if lanes >> key & 1 != 0 { 0xff } else { 0 };
                        let p = keys.wrapping_add(key * N + o) as *const i16;
                        _mm_maskz_loadu_epi16(m, p)
                    };
                    let z = _mm512_castsi128_si512(ld(0));
                    let z = _mm512_inserti32x4::<1>(z, ld(1));
                    let z = _mm512_inserti32x4::<2>(z, ld(2));
                    let z = _mm512_inserti32x4::<3>(z, ld(3));
                    *st = _mm512_aesenc_epi128(_mm512_xor_si512(*st, z), k);
                }
            }
        }
        for i in 1..=FINAL_ROUNDS {
            let k = rk(blocks_of(N) + i);
            for st in st.iter_mut() {
                *st = _mm512_aesenc_epi128(*st, k);
            }
        }
        // Dword 0 of keys 0-7 (keys 8-15 alike), then the halves joined.
        let idx = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
        let ab = _mm512_permutex2var_epi32(st[0], idx, st[1]);
        let cd = _mm512_permutex2var_epi32(st[2], idx, st[3]);
        let d = _mm512_shuffle_i64x2::<0x44>(ab, cd);
        // Qword 1 of keys 0-7 and of keys 8-15, bit 0 set (`wide_row`).
        let q1 = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
        let one = _mm512_set1_epi64(1);
        let r0 = _mm512_or_si512(_mm512_permutex2var_epi64(st[0], q1, st[1]), one);
        let r1 = _mm512_or_si512(_mm512_permutex2var_epi64(st[2], q1, st[3]), one);
        (wide_base16(d, s), d, r0, r1)
    }
}

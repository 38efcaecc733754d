//! The AVX-512 bulk lookup (x86-64 with AVX-512 F, VL, BW, DQ and
//! VPOPCNTDQ, and BMI2): sixteen keys per instruction sequence, from the
//! key load to the value store. 4-byte keys are loaded as they are; longer
//! keys are first reduced to their digests, a chunk of keys at a time
//! ([`bulk_wide`]), and the same sequence runs on those.
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
    word_offset, word_seed, words_of, Seeds, A_M1, A_M2, B_M1, B_M2, G_M1, G_M2,
};
use super::{
    bump_keys, eval_deeper, eval_levels, hash_inputs, wide_inputs, Online, Scratch, ScratchPtrs,
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
/// The keys come as their hash inputs (`super::hash_inputs`): `base` and
/// `row` hold each key's base and row-mask input (both the key itself for
/// 4-byte keys).
///
/// # Safety
/// This module's features; `base` and `row` valid for the lanes' dwords
/// and `oc` for their bytes; `s` a live scratch with room for `off + 16`
/// keys.
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt")]
#[inline]
unsafe fn locate_block<const S: usize, const PREFETCH: bool>(
    t: &Online,
    base: *const u32,
    row: *const u32,
    lanes: __mmask16,
    s: ScratchPtrs,
    off: usize,
    oc: *mut u8,
) -> u32 {
    // SAFETY: the masked loads read only the lanes' inputs and the masked store
    // writes only their bytes, which the caller guarantees; `s` has room for
    // `off + 16` keys (caller) for the stores at `off`, and the prefetches read
    // back addresses just stored there; every `g[k]` is the high half of
    // `h * n`, below `n`, a group of level 1: the threshold gather stays inside the
    // thresholds (3 spare bytes), and `values_gathered` gets groups of the
    // level.
    unsafe {
        let sd: &Seeds = &t.seeds;
        let l0 = &t.levels[0];
        let x = _mm512_maskz_loadu_epi32(lanes, base as *const i32);
        let xr = _mm512_maskz_loadu_epi32(lanes, row as *const i32);
        _mm512_storeu_si512(s.base.add(off) as *mut _, x);
        let h = mix::<16, 15, 16>(
            _mm512_xor_si512(x, _mm512_set1_epi32(sd.level[0] as i32)),
            G_M1,
            G_M2,
        );
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
        let ra = mix::<16, 13, 16>(
            _mm512_xor_si512(xr, _mm512_set1_epi32(sd.ra as i32)),
            A_M1,
            A_M2,
        );
        let rb = mix::<16, 15, 15>(
            _mm512_xor_si512(xr, _mm512_set1_epi32(sd.rb as i32)),
            B_M1,
            B_M2,
        );
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
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2")]
#[inline]
unsafe fn locate_batch<const S: usize, const PREFETCH: bool>(
    t: &Online,
    base: *const u32,
    row: *const u32,
    n: usize,
    s: ScratchPtrs,
    oc: *mut u8,
) -> u32 {
    // SAFETY: `base`, `row` and `oc` are valid for `n <= BATCH` keys and `s`
    // is a live scratch (caller): each block at `off < n` gets its lanes' keys
    // and bytes, and `off + 16 <= BATCH` keys of room in `s`.
    unsafe {
        let mut bumped = 0u32;
        for off in (0..n).step_by(16) {
            bumped |= locate_block::<S, PREFETCH>(
                t,
                base.add(off),
                row.add(off),
                lanes(n, off),
                s,
                off,
                oc.add(off),
            ) << off;
        }
        bumped
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
/// This module's features; `base` and `row` valid for the hash inputs of
/// `n <= BATCH` keys ([`locate_block`]) and `oc` for `n` bytes; `s` a live
/// scratch.
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2")]
#[inline]
unsafe fn quiet_batch<const S: usize, const S8: bool, const EARLY: bool>(
    t: &Online,
    base: *const u32,
    row: *const u32,
    n: usize,
    s: ScratchPtrs,
    oc: *mut u8,
) {
    // SAFETY: as for `locate_batch` (the caller's buffers and features); after
    // it `s` holds the batch's hashed keys, so every bumped index (`< n`) is
    // one of them, as `bump_keys` and `eval_deeper` need, and `oc` is valid for
    // it; the value blocks get `locate_block`'s scratch.
    unsafe {
        let bumped = locate_batch::<S, EARLY>(t, base, row, n, s, oc);
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
/// As [`bulk_inputs`].
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2")]
#[inline(never)]
unsafe fn bulk_pipelined<const S: usize, const S8: bool>(
    t: &Online,
    base: *const u32,
    row: *const u32,
    len: usize,
    op: *mut u8,
) {
    // SAFETY: the features are the caller's, and `base`, `row` and `op` are
    // valid for `len` keys (caller), so batch `c`'s inputs and output at
    // `c * BATCH` are valid for its keys; the two scratches are live
    // `MaybeUninit<Scratch>`s of this frame, each written by `locate_batch`,
    // `locate_block` or `hash_inputs` before it is read.
    unsafe {
        let mut scratch = [
            std::mem::MaybeUninit::<Scratch>::uninit(),
            std::mem::MaybeUninit::<Scratch>::uninit(),
        ];
        let [sa, sb] = &mut scratch;
        // Batch c: its inputs, their number and its output.
        let batch = |c: usize| {
            let o = c * BATCH;
            (base.add(o), row.add(o), len.min(o + BATCH) - o, op.add(o))
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
        let (b0, r0, n0, o0) = batch(0);
        let e0 = t.epoch.0.load(Ordering::Acquire);
        let s0 = ScratchPtrs::new(sa);
        let b0 = locate_batch::<S, true>(t, b0, r0, n0, s0, o0);
        let mut cur = located(s0, e0, b0);
        let mut spare = ScratchPtrs::new(sb);
        let mut c = 0;
        while c < batches {
            let (_, _, n, oc) = batch(c);
            let next = if c + 1 < batches {
                let (bp, rp, nn, on) = batch(c + 1);
                let en = t.epoch.0.load(Ordering::Acquire);
                let mut bn = 0u32;
                for off in (0..BATCH).step_by(16) {
                    if off < nn {
                        bn |= locate_block::<S, true>(
                            t,
                            bp.add(off),
                            rp.add(off),
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
            let (bc, rc, n, oc) = batch(c);
            hash_inputs::<true, S8>(t, bc, rc, n, spare);
            eval_levels::<true, S8, false>(t, n, spare, oc);
        }
    }
}

/// [`bulk_inputs`] for a stride `S` (words per group; `S8`: `S` is 8) and
/// bump order known at compile time.
///
/// # Safety
/// As [`bulk_inputs`].
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2")]
#[inline]
unsafe fn bulk_stride<const S: usize, const S8: bool, const EARLY: bool>(
    t: &Online,
    base: *const u32,
    row: *const u32,
    len: usize,
    op: *mut u8,
) {
    // SAFETY: the features are the caller's, and `base`, `row` and `op` are
    // valid for `len` keys (caller), so batch `c`'s inputs and output at
    // `c * BATCH` are valid for its keys; `s` points to this frame's
    // scratch, written by `quiet_batch` or `hash_inputs` before it is read.
    unsafe {
        let mut scratch = std::mem::MaybeUninit::<Scratch>::uninit();
        let s = ScratchPtrs::new(&mut scratch);
        let mut quiet = true;
        for o in (0..len).step_by(BATCH) {
            let (bc, rc, n, oc) = (base.add(o), row.add(o), (len - o).min(BATCH), op.add(o));
            if quiet {
                let e1 = t.epoch.0.load(Ordering::Acquire);
                if e1 & 1 == 0 {
                    quiet_batch::<S, S8, EARLY>(t, bc, rc, n, s, oc);
                    fence(Ordering::Acquire);
                    if t.epoch.0.load(Ordering::Relaxed) == e1 {
                        continue;
                    }
                }
                quiet = false;
            }
            // A write was in flight: this batch and the rest of the call under
            // the stripes' versions.
            hash_inputs::<true, S8>(t, bc, rc, n, s);
            eval_levels::<true, S8, false>(t, n, s, oc);
        }
    }
}

/// The bulk lookup of `len` keys given as their hash inputs
/// ([`locate_block`]), values to `op`.
///
/// # Safety
/// The CPU has this module's features ([`is_supported`]); `base` and `row`
/// valid for reading `len` dwords (any alignment), `op` for writing `len`
/// bytes.
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2")]
unsafe fn bulk_inputs(t: &Online, base: *const u32, row: *const u32, len: usize, op: *mut u8) {
    // SAFETY: the caller's contract (features, buffers) is what
    // `bulk_pipelined` and `bulk_stride` require.
    unsafe {
        let early = t.bump_early();
        if len > BATCH && early {
            match t.stride {
                1 | 2 => {}
                3 => return bulk_pipelined::<3, false>(t, base, row, len, op),
                4 => return bulk_pipelined::<4, false>(t, base, row, len, op),
                _ => return bulk_pipelined::<8, true>(t, base, row, len, op),
            }
        }
        let a = (t, base, row, len, op);
        match (t.stride, early) {
            (1, false) => bulk_stride::<1, false, false>(a.0, a.1, a.2, a.3, a.4),
            (1, true) => bulk_stride::<1, false, true>(a.0, a.1, a.2, a.3, a.4),
            (2, false) => bulk_stride::<2, false, false>(a.0, a.1, a.2, a.3, a.4),
            (2, true) => bulk_stride::<2, false, true>(a.0, a.1, a.2, a.3, a.4),
            (3, false) => bulk_stride::<3, false, false>(a.0, a.1, a.2, a.3, a.4),
            (3, true) => bulk_stride::<3, false, true>(a.0, a.1, a.2, a.3, a.4),
            (4, false) => bulk_stride::<4, false, false>(a.0, a.1, a.2, a.3, a.4),
            (4, true) => bulk_stride::<4, false, true>(a.0, a.1, a.2, a.3, a.4),
            (_, false) => bulk_stride::<8, true, false>(a.0, a.1, a.2, a.3, a.4),
            (_, true) => bulk_stride::<8, true, true>(a.0, a.1, a.2, a.3, a.4),
        }
    }
}

/// Bulk lookup of 4-byte keys on the AVX-512 path: the keys are their own
/// hash inputs.
///
/// # Safety
/// The CPU has this module's features ([`is_supported`]);
/// `out.len() >= keys.len()`.
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2")]
pub(super) unsafe fn bulk4(t: &Online, keys: &[[u8; 4]], out: &mut [u8]) {
    // SAFETY: `keys` is `keys.len()` dwords and `out` at least as long
    // (caller); the features are the caller's.
    unsafe {
        let p = keys.as_ptr() as *const u32;
        bulk_inputs(t, p, p, keys.len(), out.as_mut_ptr())
    }
}

/// The digests of eight `N`-byte keys (`N >= 8`, laid out one after the
/// other) to `d1` and `d2`, as `wide_digest` computes them: each 64-bit
/// word of the eight keys gathered at once, its halves plus the word's
/// seed multiplied (`vpmuludq`) and added up, two sums, each folded.
///
/// # Safety
/// This module's features; `N >= 8`; `keys` valid for `8 * N` bytes; `d1`
/// and `d2` valid for writing 8 dwords.
#[target_feature(enable = "avx512f,avx512vl,avx2")]
#[inline]
pub(super) unsafe fn digests8<const N: usize>(
    keys: *const u8,
    s: &Seeds,
    d1: *mut u32,
    d2: *mut u32,
) {
    // SAFETY: every gathered qword lies inside its key (`word_offset` keeps
    // `o + 8 <= N`, and key `i` spans `i * N .. (i + 1) * N` of the `8 * N`
    // bytes the caller guarantees); the stores write the 8 dwords of `d1`
    // and `d2` the caller guarantees.
    unsafe {
        let n = N as i32;
        let at = _mm256_setr_epi32(0, n, 2 * n, 3 * n, 4 * n, 5 * n, 6 * n, 7 * n);
        let (mut h1, mut h2) = (_mm512_setzero_si512(), _mm512_setzero_si512());
        for j in 0..words_of(N) {
            let w = _mm512_i32gather_epi64::<1>(at, keys.add(word_offset(N, j)) as *const i64);
            let t1 = _mm512_add_epi32(w, _mm512_set1_epi64(word_seed(s, 0, j) as i64));
            let t2 = _mm512_add_epi32(w, _mm512_set1_epi64(word_seed(s, 1, j) as i64));
            h1 = _mm512_add_epi64(h1, _mm512_mul_epu32(t1, _mm512_srli_epi64::<32>(t1)));
            h2 = _mm512_add_epi64(h2, _mm512_mul_epu32(t2, _mm512_srli_epi64::<32>(t2)));
        }
        let f1 = _mm512_xor_si512(h1, _mm512_srli_epi64::<32>(h1));
        let f2 = _mm512_xor_si512(h2, _mm512_srli_epi64::<32>(h2));
        _mm256_storeu_si256(d1 as *mut __m256i, _mm512_cvtepi64_epi32(f1));
        _mm256_storeu_si256(d2 as *mut __m256i, _mm512_cvtepi64_epi32(f2));
    }
}

/// Keys per chunk of [`bulk_wide`]: the digests of one chunk are computed
/// before its lookup (2 KB of stack for both arrays).
const CHUNK: usize = 8 * BATCH;

/// Bulk lookup of keys longer than 4 bytes on the AVX-512 path: chunk by
/// chunk, the keys' digests (`super::wide_inputs` with [`digests8`],
/// eight keys at a time), then the same sixteen-lane lookup as 4-byte keys
/// from them.
///
/// # Safety
/// The CPU has this module's features ([`is_supported`]);
/// `out.len() >= keys.len()`.
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt,bmi2")]
pub(super) unsafe fn bulk_wide<const N: usize>(t: &Online, keys: &[[u8; N]], out: &mut [u8]) {
    // SAFETY: each chunk's digests are written to `chunk.len() <= CHUNK`
    // dwords of the two arrays before `bulk_inputs` reads them, and `out`
    // is valid for the chunk's bytes at its offset (`out.len() >=
    // keys.len()`, caller); the features are the caller's.
    unsafe {
        let mut base = std::mem::MaybeUninit::<[u32; CHUNK]>::uninit();
        let mut row = std::mem::MaybeUninit::<[u32; CHUNK]>::uninit();
        let (b, r) = (base.as_mut_ptr() as *mut u32, row.as_mut_ptr() as *mut u32);
        for (c, chunk) in keys.chunks(CHUNK).enumerate() {
            wide_inputs::<N, true, true>(chunk, &t.seeds, b, r);
            bulk_inputs(t, b, r, chunk.len(), out.as_mut_ptr().add(c * CHUNK));
        }
    }
}

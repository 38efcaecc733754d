//! The AVX2 kernels of the lookup (x86-64 with AVX2 and POPCNT), which
//! the batch loop of the parent module runs with `AVX = true`.
//!
//! [`bulk`] and [`lookup_one`] are the entry points compiled with the
//! features enabled (the shared `bulk_core` and `Online::lookup_from`
//! inline into them). The rest is what that loop calls on this path:
//! [`hash8`] hashes eight keys and locates them in level 1;
//! [`bumped8`] gathers their groups' thresholds; [`values8`] (5- to 8-bit
//! values, the parities of four keys folded together by [`eval8x4`]) and
//! [`values_narrow`] (1 bit: `popcnt`; 2 bits: two groups per 256-bit load,
//! [`values2x4`]; 3 and 4 bits: [`eval4`] per key) evaluate eight keys;
//! [`block8`] reads eight keys under their stripes' seqlock versions;
//! [`eval8`] and [`eval4`] evaluate one key's group.
//!
//! Solution words, versions and thresholds that the writer may be storing
//! to concurrently are loaded in inline asm ([`load256`], [`and_xor8`],
//! [`load2x128`], [`gather32`]), so that the loads are not Rust-level data
//! races; tearing across lanes is caught by the seqlock.

use super::super::hash::{KeyHash, Seeds, A_M1, A_M2, B_M1, B_M2, G_M1, G_M1_INV, G_M2, G_M2_INV};
use super::{bulk_core, Online};
use std::arch::asm;
use std::arch::x86_64::*;
use std::sync::atomic::{fence, Ordering};

/// 32-byte load of words that the writer may be storing to concurrently.
/// Done in asm so that it is not a Rust-level data race: it behaves like
/// four relaxed `AtomicU64` loads (each aligned 8-byte lane is read
/// atomically on x86-64); tearing across lanes is caught by the seqlock.
///
/// # Safety
/// AVX2; `p` valid for 32 bytes.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn load256(p: *const u64) -> __m256i {
    // SAFETY: `p` is valid for the 32 bytes read (caller); the asm reads
    // nothing else and writes only `v`.
    unsafe {
        let v: __m256i;
        asm!("vmovdqu {v}, ymmword ptr [{p}]", v = out(ymm_reg) v, p = in(reg) p,
         options(nostack, preserves_flags, readonly));
        v
    }
}

/// Parity of each nibble value, in both 128-bit lanes (for `pshufb`).
///
/// # Safety
/// AVX2 (no memory is read).
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn parity_table() -> __m256i {
    _mm256_setr_epi8(
        0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, //
        0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0,
    )
}

/// Per 64-bit lane: a sum whose low bit is the lane's parity.
///
/// # Safety
/// AVX2 (no memory is read).
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn lane_parity(x: __m256i) -> __m256i {
    // SAFETY: `parity_table` only needs AVX2, which the caller guarantees.
    unsafe {
        let tbl = parity_table();
        let y = _mm256_xor_si256(x, _mm256_srli_epi64::<4>(x));
        let nib = _mm256_and_si256(y, _mm256_set1_epi8(0x0f));
        _mm256_sad_epu8(_mm256_shuffle_epi8(tbl, nib), _mm256_setzero_si256())
    }
}

/// `(lo & rl) ^ (hi & rh)` of a stride-8 group at `p` (see `to_phys8`),
/// whose words the writer may be storing to concurrently: in asm, like
/// [`load256`], so that the loads are not a Rust-level data race.
///
/// # Safety
/// AVX2; `p` valid for 64 bytes (a stride-8 group).
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn and_xor8(p: *const u64, rl: __m256i, rh: __m256i) -> __m256i {
    // SAFETY: `p` is valid for the 64 bytes read (caller); the asm reads
    // nothing else and writes only its output registers.
    unsafe {
        let v: __m256i;
        asm!("vpand {v}, {rl}, ymmword ptr [{p}]",
         "vpand {t}, {rh}, ymmword ptr [{p} + 32]",
         "vpxor {v}, {v}, {t}",
         v = out(ymm_reg) v, t = out(ymm_reg) _, rl = in(ymm_reg) rl,
         rh = in(ymm_reg) rh, p = in(reg) p,
         options(nostack, preserves_flags, readonly));
        v
    }
}

/// Value of row `r` in a stride-8 group (5..8-bit values).
///
/// # Safety
/// AVX2; `p` a stride-8 group inside its level's lines.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn eval8(p: *const u64, r: u64) -> u8 {
    // SAFETY: AVX2 and the group at `p` are the caller's, which is what
    // `and_xor8` and `parity_table` need.
    unsafe {
        let rl = _mm256_set1_epi32(r as i32);
        let rh = _mm256_set1_epi32((r >> 32) as i32);
        // Dword j's parity is value bit j: fold it into the low nibble and
        // look that up.
        let mut x = and_xor8(p, rl, rh);
        x = _mm256_xor_si256(x, _mm256_srli_epi32::<16>(x));
        x = _mm256_xor_si256(x, _mm256_srli_epi32::<8>(x));
        x = _mm256_xor_si256(x, _mm256_srli_epi32::<4>(x));
        let nib = _mm256_and_si256(x, _mm256_set1_epi32(0x0f));
        let par = _mm256_shuffle_epi8(parity_table(), nib);
        _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32::<31>(par))) as u8
    }
}

/// Value of row `r` in a group of stride <= 4 (caller masks to the width).
///
/// # Safety
/// AVX2; `p` a group of stride <= 4 inside its level's lines (the lines end
/// with a spare line, so the 32 bytes at `p` are inside).
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn eval4(p: *const u64, r: u64) -> u8 {
    // SAFETY: the 32 bytes at `p` are inside the level's lines (caller), as
    // `load256` needs; AVX2 is the caller's.
    unsafe {
        let rv = _mm256_set1_epi64x(r as i64);
        let d0 = lane_parity(_mm256_and_si256(load256(p), rv));
        _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_slli_epi64::<63>(d0))) as u8
    }
}

/// Values of four keys in stride-8 groups `p[k]` with row masks `r[k]`,
/// as four bytes (key 0 in the low byte). The four keys' parities are
/// folded together: 32 -> 16 bits pairs the keys, 16 -> 8 pairs the
/// pairs, and one nibble lookup then finishes all 32 of them.
///
/// # Safety
/// AVX2; each `p[k]` a stride-8 group inside its level's lines; `r`
/// valid for four row masks.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn eval8x4(p: [*const u64; 4], r: *const u64) -> u32 {
    // SAFETY: AVX2 and the groups `p[k]` are the caller's, as `and_xor8` needs;
    // `r` is valid for four row masks (caller), so for `k < 4` the two dwords
    // read at `r + k` are inside them (4-byte aligned, as `u64`s are).
    unsafe {
        let x = |k: usize| {
            let rk = r.add(k) as *const i32;
            and_xor8(p[k], _mm256_set1_epi32(*rk), _mm256_set1_epi32(*rk.add(1)))
        };
        let (x0, x1, x2, x3) = (x(0), x(1), x(2), x(3));
        // Keys 0 / 1 (2 / 3) into the low / high half of each dword.
        let a = _mm256_blend_epi16::<0xAA>(
            _mm256_xor_si256(x0, _mm256_srli_epi32::<16>(x0)),
            _mm256_xor_si256(x1, _mm256_slli_epi32::<16>(x1)),
        );
        let b = _mm256_blend_epi16::<0xAA>(
            _mm256_xor_si256(x2, _mm256_srli_epi32::<16>(x2)),
            _mm256_xor_si256(x3, _mm256_slli_epi32::<16>(x3)),
        );
        // Then a into the even bytes, b into the odd ones: byte 4j + s of
        // each lane is value bit j (+4 in the high lane) of key 0, 2, 1, 3
        // for s = 0, 1, 2, 3.
        let c = _mm256_blendv_epi8(
            _mm256_xor_si256(a, _mm256_srli_epi16::<8>(a)),
            _mm256_xor_si256(b, _mm256_slli_epi16::<8>(b)),
            _mm256_set1_epi16(0xff00u16 as i16),
        );
        let nib = _mm256_and_si256(
            _mm256_xor_si256(c, _mm256_srli_epi16::<4>(c)),
            _mm256_set1_epi8(0x0f),
        );
        // Parity as the byte's top bit, for `movemask`.
        let par = _mm256_shuffle_epi8(_mm256_slli_epi16::<7>(parity_table()), nib);
        // Each lane to key-major order (byte 4k + j), then key k's two
        // dwords side by side: bits 8k..8k+8 of the mask are key k's value.
        let t = _mm256_shuffle_epi8(
            par,
            _mm256_setr_epi8(
                0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15, //
                0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15,
            ),
        );
        let u = _mm256_permutevar8x32_epi32(t, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_movemask_epi8(u) as u32
    }
}

/// Eight dwords `*(base + idx[k] * SCALE)` (`SCALE` 1 or 4), which the
/// writer may be storing to concurrently: a gather in asm, each element
/// a 4-byte load, ordered with other loads as any x86-64 load.
///
/// # Safety
/// AVX2; every `base + idx[k] * SCALE` is valid for 4 bytes.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn gather32<const SCALE: u8>(base: *const u8, idx: __m256i) -> __m256i {
    // SAFETY: every gathered address is valid for 4 bytes (caller); the asm
    // reads nothing else and writes only its output registers.
    unsafe {
        let v: __m256i;
        asm!("vpcmpeqd {m}, {m}, {m}",
         "vpgatherdd {v}, dword ptr [{b} + {i} * {s}], {m}",
         v = out(ymm_reg) v, m = out(ymm_reg) _, i = in(ymm_reg) idx,
         b = in(reg) base, s = const SCALE,
         options(nostack, preserves_flags, readonly));
        v
    }
}

/// Which of eight hashed keys (groups `gs`, fingerprints in the low
/// bytes of `hs`) their group's threshold `thr[gs[k]]` sends to the next
/// level: bit k of the result.
///
/// # Safety
/// AVX2; `gs`, `hs` valid for 8 elements; each `gs[k]` a group of the
/// level whose thresholds are `thr`.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn bumped8(thr: *const u8, gs: *const u32, hs: *const u32) -> u32 {
    // SAFETY: `hs` and `gs` are valid for the 8 dwords loaded (caller); each
    // `gs[k]` is a group of the level, and the thresholds have 3 spare bytes
    // after the last group's, so every 4-byte gather at `thr + gs[k]` is inside
    // them.
    unsafe {
        let byte = _mm256_set1_epi32(0xff);
        let fp = _mm256_and_si256(_mm256_loadu_si256(hs as *const __m256i), byte);
        let idx = _mm256_loadu_si256(gs as *const __m256i);
        let th = _mm256_and_si256(gather32::<1>(thr, idx), byte);
        _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(fp, th))) as u32
    }
}

/// Values of eight keys (row masks `rs`) in the stride-8 groups whose
/// words are at `ws[k]`, written to `out[0..8]`.
///
/// # Safety
/// AVX2; `ws`, `rs`, `out` valid for 8 elements; each `ws[k]` a
/// stride-8 group inside its level's lines.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn values8(ws: *const u64, rs: *const u64, out: *mut u8) {
    // SAFETY: `ws`, `rs` and `out` are valid for 8 elements (caller): the reads
    // of `ws[0..8]`, the row masks `rs[0..4]` and `rs[4..8]`, and the two
    // 4-byte writes to `out` stay inside them; each `ws[k]` is a stride-8
    // group, as `eval8x4` needs.
    unsafe {
        let g = |k: usize| *ws.add(k) as *const u64;
        let v0 = eval8x4([g(0), g(1), g(2), g(3)], rs);
        let v1 = eval8x4([g(4), g(5), g(6), g(7)], rs.add(4));
        (out as *mut u32).write_unaligned(v0);
        (out.add(4) as *mut u32).write_unaligned(v1);
    }
}

/// Two stride-2 groups `[p0 | p1]` (32 bytes), which the writer may be
/// storing to concurrently: in asm, like [`load256`].
///
/// # Safety
/// AVX2; `p0` and `p1` valid for 16 bytes each.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn load2x128(p0: *const u64, p1: *const u64) -> __m256i {
    // SAFETY: `p0` and `p1` are valid for the 16 bytes read at each (caller);
    // the asm reads nothing else and writes only `v`.
    unsafe {
        let v: __m256i;
        asm!("vmovdqu {v:x}, xmmword ptr [{p0}]",
         "vinserti128 {v}, {v}, xmmword ptr [{p1}], 1",
         v = out(ymm_reg) v, p0 = in(reg) p0, p1 = in(reg) p1,
         options(nostack, preserves_flags, readonly));
        v
    }
}

/// The parity mask of [`values2x4`] (bit j = dword j's parity, a
/// permutation of four keys' two value bits) → the four value bytes,
/// key 0 in the low byte.
static UNPACK2X4: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut m = 0;
    while m < 256 {
        // Dword j of the parity vector: key (j >> 2 & 1) + 2 (j & 1) of
        // the four, value bit (j >> 1 & 1).
        let mut j = 0;
        while j < 8 {
            if m >> j & 1 == 1 {
                let key = (j >> 2 & 1) + 2 * (j & 1);
                t[m] |= 1 << (8 * key + (j >> 1 & 1));
            }
            j += 1;
        }
        m += 1;
    }
    t
};

/// Values of four keys (row masks `rs`) in stride-2 groups (2-bit
/// values) whose words are at `ws[k]`, as four bytes (key 0 in the low
/// byte). Keys 0, 1 and 2, 3 share a 256-bit load; each 64-bit lane's
/// parity is folded to a nibble and looked up.
///
/// # Safety
/// AVX2; `ws`, `rs` valid for 4 elements; each `ws[k]` a stride-2 group
/// inside its level's lines.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn values2x4(ws: *const u64, rs: *const u64) -> u32 {
    // SAFETY: `ws` and `rs` are valid for 4 elements (caller): the reads of
    // `ws[k]` and the 32-byte load of `rs`; each `ws[k]` is a stride-2 group
    // (16 bytes) inside its level's lines, as `load2x128` needs; `m` has 8
    // bits, so it indexes `UNPACK2X4` in bounds.
    unsafe {
        let g = |k: usize| *ws.add(k) as *const u64;
        let r = _mm256_loadu_si256(rs as *const __m256i);
        // Keys 0 | 1 and 2 | 3, each key's row mask in both its words' lanes.
        let xa = _mm256_and_si256(load2x128(g(0), g(1)), _mm256_permute4x64_epi64::<0x50>(r));
        let xb = _mm256_and_si256(load2x128(g(2), g(3)), _mm256_permute4x64_epi64::<0xfa>(r));
        // Fold each lane to 32 bits: a's in the even dwords, b's in the odd.
        let mut c = _mm256_blend_epi32::<0xAA>(
            _mm256_xor_si256(xa, _mm256_srli_epi64::<32>(xa)),
            _mm256_xor_si256(xb, _mm256_slli_epi64::<32>(xb)),
        );
        c = _mm256_xor_si256(c, _mm256_srli_epi32::<16>(c));
        c = _mm256_xor_si256(c, _mm256_srli_epi32::<8>(c));
        c = _mm256_xor_si256(c, _mm256_srli_epi32::<4>(c));
        let nib = _mm256_and_si256(c, _mm256_set1_epi32(0x0f));
        let par = _mm256_shuffle_epi8(parity_table(), nib);
        let m = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32::<31>(par)));
        *UNPACK2X4.get_unchecked(m as usize)
    }
}

/// Values of eight keys (row masks `rs`) in groups of 1 to 4 words (1 to
/// 4-bit values, `vmask` the width's mask) whose words are at `ws[k]`,
/// written to `out[0..8]`. `S` = 1: a `popcnt` parity; 2: [`values2x4`];
/// 4 (strides 3 and 4): the 256-bit [`eval4`] per key.
///
/// # Safety
/// AVX2 and POPCNT; `ws`, `rs`, `out` valid for 8 elements; each `ws[k]`
/// a group inside its level's lines, of stride `S` (3 or 4 if `S` = 4).
#[target_feature(enable = "avx2,popcnt")]
#[inline]
pub(super) unsafe fn values_narrow<const S: usize>(
    vmask: u8,
    ws: *const u64,
    rs: *const u64,
    out: *mut u8,
) {
    // SAFETY: `ws`, `rs` and `out` are valid for 8 elements (caller) and
    // `k < 8`; each `ws[k]` is a group of stride `S` inside its level's lines: of
    // stride 1, an aligned, initialised `AtomicU64`; of stride 2, what
    // `values2x4` needs; of stride 3 or 4, what `eval4` needs. AVX2 and POPCNT
    // are the caller's.
    unsafe {
        use std::sync::atomic::AtomicU64;
        match S {
            1 => {
                for k in 0..8 {
                    let w = (*(*ws.add(k) as *const AtomicU64)).load(Ordering::Relaxed);
                    *out.add(k) = ((w & *rs.add(k)).count_ones() & 1) as u8;
                }
            }
            2 => {
                (out as *mut u32).write_unaligned(values2x4(ws, rs));
                (out.add(4) as *mut u32).write_unaligned(values2x4(ws.add(4), rs.add(4)));
            }
            _ => {
                for k in 0..8 {
                    *out.add(k) = eval4(*ws.add(k) as *const u64, *rs.add(k)) & vmask;
                }
            }
        }
    }
}

/// Level-1 lookup of eight hashed keys in a stride-8 table under their
/// stripes' seqlock versions: groups `gs`, the groups' word addresses
/// `ws`, fingerprints `hs` (low byte) and row masks `rs`. Writes all
/// eight values to `out` and returns `(good, bumped)`: the keys whose
/// value is final (group admitted the key and its stripe was not
/// rewritten meanwhile), and those the group's threshold sends to the
/// next level. The rest (stripe busy or rewritten during the read) must
/// be retried.
///
/// # Safety
/// AVX2; `gs`, `ws`, `hs`, `rs`, `out` valid for 8 elements; each `gs[k]`
/// a group of the level whose versions and thresholds are `ver` and
/// `thr`, `ws[k]` the address of its words.
#[target_feature(enable = "avx2")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn block8(
    ver: *const u32,
    thr: *const u8,
    gs: *const u32,
    ws: *const u64,
    hs: *const u32,
    rs: *const u64,
    out: *mut u8,
) -> (u32, u32) {
    // SAFETY: `gs`, `ws`, `hs`, `rs` and `out` are valid for 8 elements and
    // each `gs[k]` is a group of the level whose versions and thresholds are
    // `ver` and `thr` (caller): `gs[k] >> STRIPE_SHIFT` is its stripe, so each
    // version gather reads one of `ver`'s dwords, and `bumped8` and `values8`
    // get what they need.
    unsafe {
        let idx = _mm256_loadu_si256(gs as *const __m256i);
        let vidx = _mm256_srli_epi32::<{ super::STRIPE_SHIFT as i32 }>(idx);
        // Versions first (the seqlock's acquire side), then thresholds.
        let h1 = gather32::<4>(ver as *const u8, vidx);
        let busy = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32::<31>(h1))) as u32;
        let bumped = bumped8(thr, gs, hs);
        values8(ws, rs, out);
        fence(Ordering::Acquire);
        let h2 = gather32::<4>(ver as *const u8, vidx);
        let same = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(h1, h2))) as u32;
        (same & !bumped & !busy, bumped & !busy)
    }
}

/// One of the 32-bit multiply-xorshift mixers of `hash.rs`, on 8 lanes.
///
/// # Safety
/// AVX2 (no memory is read).
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

/// `hash::wide_base` on 8 lanes: `mix_g_inv(d) ^ level[0]`.
///
/// # Safety
/// AVX2 (no memory is read).
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn wide_base8(d: __m256i, s: &Seeds) -> __m256i {
    let mut x = _mm256_xor_si256(d, _mm256_srli_epi32::<16>(d));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32(G_M2_INV as i32));
    x = _mm256_xor_si256(
        x,
        _mm256_xor_si256(_mm256_srli_epi32::<15>(x), _mm256_srli_epi32::<30>(x)),
    );
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32(G_M1_INV as i32));
    x = _mm256_xor_si256(x, _mm256_srli_epi32::<16>(x));
    _mm256_xor_si256(x, _mm256_set1_epi32(s.level[0] as i32))
}

/// Hash eight keys from their hash inputs (`super::hash_inputs`), 8
/// dwords at `x`: 4-byte keys, or with `WIDE` wide keys' level-1 hashes
/// (`hash::wide_base` gives their bases). Writes the base, level-1 hash,
/// level-1 group, the address of that group's words (`words` = the level's
/// first word and the bytes per group) and, for 4-byte keys, the row mask
/// (a wide key's is its digest's, written before). Bit-identical to the
/// scalar `key_hash` + `locate`.
///
/// # Safety
/// AVX2; `x` valid for reading 8 dwords (any alignment); `out_base`, `hs`
/// and `gs` valid for writing 8 dwords, `ws` and `rs` 8 qwords.
#[target_feature(enable = "avx2")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn hash8<const WIDE: bool>(
    x: *const u32,
    s: &Seeds,
    n0: u32,
    words: (u64, u32),
    out_base: *mut u32,
    hs: *mut u32,
    gs: *mut u32,
    ws: *mut u64,
    rs: *mut u64,
) {
    // SAFETY: the unaligned load reads the 8 dwords the caller guarantees;
    // the stores to `out_base`, `hs`, `gs`, `ws` and `rs` stay inside the
    // buffers the caller guarantees (the group addresses are only computed,
    // not read); AVX2 is the caller's.
    unsafe {
        let x = _mm256_loadu_si256(x as *const __m256i);
        let h = if WIDE {
            x
        } else {
            mixv::<16, 15, 16>(
                _mm256_xor_si256(x, _mm256_set1_epi32(s.level[0] as i32)),
                G_M1,
                G_M2,
            )
        };
        let b = if WIDE { wide_base8(x, s) } else { x };
        _mm256_storeu_si256(out_base as *mut __m256i, b);
        _mm256_storeu_si256(hs as *mut __m256i, h);
        let nv = _mm256_set1_epi32(n0 as i32);
        let even = _mm256_srli_epi64::<32>(_mm256_mul_epu32(h, nv));
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(h), nv);
        let g = _mm256_blend_epi32::<0xAA>(even, odd);
        _mm256_storeu_si256(gs as *mut __m256i, g);
        let (w0, wb) = (
            _mm256_set1_epi64x(words.0 as i64),
            _mm256_set1_epi64x(words.1 as i64),
        );
        let addr =
            |g4: __m128i| _mm256_add_epi64(w0, _mm256_mul_epu32(_mm256_cvtepu32_epi64(g4), wb));
        _mm256_storeu_si256(ws as *mut __m256i, addr(_mm256_castsi256_si128(g)));
        _mm256_storeu_si256(
            ws.add(4) as *mut __m256i,
            addr(_mm256_extracti128_si256::<1>(g)),
        );
        if !WIDE {
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
    }
}

/// The bulk lookup on the AVX2 path: [`bulk_core`] compiled with AVX2 and
/// POPCNT.
///
/// # Safety
/// The CPU has AVX2 and POPCNT; `out.len() >= keys.len()`.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn bulk<const N: usize>(t: &Online, keys: &[[u8; N]], out: &mut [u8]) {
    // SAFETY: the CPU has AVX2 (caller), and `out` is long enough (caller):
    // `bulk_core`'s contract with `AVX`.
    unsafe { bulk_core::<N, true>(t, keys, out) }
}

/// Looks one hashed key up on the AVX2 path: [`Online::lookup_from`] compiled
/// with AVX2 and POPCNT.
///
/// # Safety
/// The CPU has AVX2 and POPCNT (`lookup_from::<true>` runs the AVX2 kernels).
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn lookup_one(t: &Online, kh: KeyHash) -> u8 {
    t.lookup_from::<true>(0, kh)
}

//! Large heap arrays that the kernel may back with transparent huge pages.
//!
//! Lookup tables of millions of entries (the EFD's solution words, a worker's
//! flow table) are read at random: with 4 KiB pages nearly every access would
//! also miss the TLB. Arrays of [`HUGE_MIN`] bytes and more are therefore
//! 2 MiB aligned and advised with `MADV_HUGEPAGE` (Linux x86-64, a hint only;
//! it takes effect when the system's THP mode is `madvise` or `always`).

use std::alloc::Layout;

/// Size of a transparent huge page on x86-64.
pub(crate) const HUGE_PAGE: usize = 2 << 20;
/// Arrays from this size on are huge-page aligned and advised.
pub(crate) const HUGE_MIN: usize = HUGE_PAGE;

/// Hint the CPU to start loading the cache line at `p` (any address: a
/// prefetch never faults). A no-op off x86-64.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The layout actually allocated for `layout`: 2 MiB aligned when large.
/// Deterministic, so a deallocation can recompute it from the original.
fn large_layout(layout: Layout) -> Layout {
    if layout.size() >= HUGE_MIN && layout.align() < HUGE_PAGE {
        Layout::from_size_align(layout.size(), HUGE_PAGE).expect("valid huge layout")
    } else {
        layout
    }
}

/// Allocates memory for `layout` (nonzero size), huge-page advised when
/// large, and zeroed if asked. Returns null when out of memory. Free with
/// [`dealloc_large`].
///
/// The advice must come before the first touch: pages already faulted in
/// with 4 KiB stay that way. Hence no `alloc_zeroed` (for large alignments
/// it zeroes, i.e. touches, the memory itself).
///
/// # Safety
/// `layout.size()` must be nonzero.
pub(crate) unsafe fn alloc_large(layout: Layout, zeroed: bool) -> *mut u8 {
    let actual = large_layout(layout);
    // SAFETY: nonzero size (caller).
    let p = unsafe { std::alloc::alloc(actual) };
    if p.is_null() {
        return p;
    }
    if actual.align() == HUGE_PAGE {
        // SAFETY: `p` heads an allocation of `actual.size()` bytes.
        unsafe { advise_huge(p, actual.size()) };
    }
    if zeroed {
        // SAFETY: `p` is valid for `actual.size()` bytes.
        unsafe { std::ptr::write_bytes(p, 0, actual.size()) };
    }
    p
}

/// Frees memory from [`alloc_large`].
///
/// # Safety
/// `p` came from `alloc_large(layout, _)` with this same `layout`.
pub(crate) unsafe fn dealloc_large(p: *mut u8, layout: Layout) {
    // SAFETY: allocated with `large_layout(layout)` (caller).
    unsafe { std::alloc::dealloc(p, large_layout(layout)) }
}

/// `madvise(p, len, MADV_HUGEPAGE)`; errors are ignored (it is a hint).
///
/// # Safety
/// `p..p + len` must be memory this process owns.
#[allow(unused_variables)]
unsafe fn advise_huge(p: *mut u8, len: usize) {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    // SAFETY: the madvise syscall only changes paging hints of owned memory
    // and clobbers rcx/r11 (declared).
    unsafe {
        const SYS_MADVISE: usize = 28;
        const MADV_HUGEPAGE: usize = 14;
        let _ret: isize;
        std::arch::asm!("syscall", inlateout("rax") SYS_MADVISE as isize => _ret,
            in("rdi") p, in("rsi") len, in("rdx") MADV_HUGEPAGE,
            lateout("rcx") _, lateout("r11") _, options(nostack));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_arrays_are_huge_aligned_and_zeroed() {
        for (size, align) in [
            (64usize, 64usize),
            (HUGE_MIN - 1, 16),
            (HUGE_MIN, 64),
            (HUGE_MIN * 3 + 5, 16),
        ] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: nonzero size; freed with the same layout below.
            unsafe {
                let p = alloc_large(layout, true);
                assert!(!p.is_null());
                let want = if size >= HUGE_MIN { HUGE_PAGE } else { align };
                assert_eq!(p as usize % want, 0, "size {size}");
                assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                dealloc_large(p, layout);
            }
        }
    }

    /// AnonHugePages (kB) of the mapping that contains `addr`.
    fn anon_huge_kb(addr: usize) -> Option<u64> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((a, b)) = first.split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    inside = (a..b).contains(&addr);
                    continue;
                }
            }
            if inside {
                if let Some(v) = line.strip_prefix("AnonHugePages:") {
                    return v.trim().trim_end_matches("kB").trim().parse().ok();
                }
            }
        }
        None
    }

    /// Free 2 MiB blocks in the buddy allocator (orders 9 and 10), all zones.
    fn free_huge_blocks() -> u64 {
        let info = std::fs::read_to_string("/proc/buddyinfo").unwrap_or_default();
        info.lines()
            .map(|l| {
                let counts: Vec<u64> = l
                    .split_whitespace()
                    .skip(4) // "Node 0, zone Normal"
                    .filter_map(|c| c.parse().ok())
                    .collect();
                counts.get(9).copied().unwrap_or(0) + 2 * counts.get(10).copied().unwrap_or(0)
            })
            .sum()
    }

    /// Where the kernel honours `madvise` for THP (and has free 2 MiB blocks),
    /// a large array really is backed by huge pages (the advice must precede
    /// the first touch).
    #[test]
    fn large_arrays_get_huge_pages_where_thp_is_on() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if !(mode.contains("[madvise]") || mode.contains("[always]")) {
            eprintln!("THP off here ({}): nothing to check", mode.trim());
            return;
        }
        if free_huge_blocks() < 64 {
            eprintln!("memory too fragmented for a fair THP check: nothing to check");
            return;
        }
        let layout = Layout::from_size_align(16 * HUGE_PAGE, 64).unwrap();
        // SAFETY: nonzero size; freed with the same layout below.
        unsafe {
            let p = alloc_large(layout, true);
            assert!(!p.is_null());
            let kb = anon_huge_kb(p as usize).expect("mapping in smaps");
            dealloc_large(p, layout);
            assert!(
                kb >= 2048,
                "16 huge pages advised and zeroed, AnonHugePages {kb} kB"
            );
        }
    }
}

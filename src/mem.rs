//! Large arrays that the kernel may back with transparent huge pages.
//!
//! Lookup tables of millions of entries (the EFD's solution words, a worker's
//! flow table) are read at random: with 4 KiB pages nearly every access would
//! also miss the TLB. Arrays of 2 MiB (`HUGE_MIN`) and more are therefore
//! mapped on their own (Linux: an anonymous `mmap`, 2 MiB aligned) and
//! advised with `MADV_HUGEPAGE` before their first touch (a hint; it takes
//! effect when the system's THP mode is `madvise` or `always`). Their own
//! mapping matters: memory the heap allocator hands out again was often
//! touched before, with 4 KiB pages, and keeps them whatever the advice.
//! [`LargeBuf`] owns one such array.

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

/// A zeroed, 64-byte aligned array, on its own huge-page mapping from
/// 2 MiB on (see the module doc; plain heap memory below): the EFD's
/// solution words live in one, and the benchmarks' memory floors read one
/// so that they see memory as the EFD does.
pub struct LargeBuf {
    ptr: std::ptr::NonNull<u8>,
    layout: Layout,
}

impl LargeBuf {
    /// `len` (nonzero) zeroed bytes, 64-byte aligned. Aborts when out of
    /// memory, as `Vec` does.
    pub fn zeroed(len: usize) -> LargeBuf {
        let layout = Layout::from_size_align(len.max(1), 64).expect("buffer too large");
        // SAFETY: nonzero size.
        let p = unsafe { alloc_large(layout, true) };
        let Some(ptr) = std::ptr::NonNull::new(p) else {
            std::alloc::handle_alloc_error(layout);
        };
        LargeBuf { ptr, layout }
    }

    /// The first byte (valid for [`LargeBuf::len`] bytes while `self` lives).
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// Whether the buffer is empty (never: the length is at least 1).
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl Drop for LargeBuf {
    fn drop(&mut self) {
        // SAFETY: allocated by `alloc_large` with this layout.
        unsafe { dealloc_large(self.ptr.as_ptr(), self.layout) }
    }
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
/// Large arrays get a fresh mapping ([`map_huge`]): always zeroed, and
/// advised before anything touches them. Others come from the global
/// allocator.
///
/// # Safety
/// `layout.size()` must be nonzero.
pub(crate) unsafe fn alloc_large(layout: Layout, zeroed: bool) -> *mut u8 {
    let actual = large_layout(layout);
    if actual.align() == HUGE_PAGE {
        #[cfg(target_os = "linux")]
        return map_huge(actual.size());
    }
    // SAFETY: nonzero size (caller).
    let p = unsafe { std::alloc::alloc(actual) };
    if zeroed && !p.is_null() {
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
    let actual = large_layout(layout);
    #[cfg(target_os = "linux")]
    if actual.align() == HUGE_PAGE {
        // SAFETY: mapped by `map_huge` for this size (caller).
        unsafe {
            libc::munmap(
                p as *mut libc::c_void,
                actual.size().next_multiple_of(HUGE_PAGE),
            )
        };
        return;
    }
    // SAFETY: allocated with `large_layout(layout)` (caller).
    unsafe { std::alloc::dealloc(p, actual) }
}

/// A new anonymous mapping of `size` bytes rounded up to whole huge pages,
/// 2 MiB aligned, advised with `MADV_HUGEPAGE` before its first touch
/// (zero-filled, as every anonymous mapping). Null when out of memory.
#[cfg(target_os = "linux")]
fn map_huge(size: usize) -> *mut u8 {
    let len = size.next_multiple_of(HUGE_PAGE);
    // Map one huge page more, then unmap the unaligned head and the tail.
    let span = len + HUGE_PAGE;
    // SAFETY: a new private anonymous mapping; no existing memory is touched.
    let m = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            span,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if m == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    let base = m as usize;
    let start = base.next_multiple_of(HUGE_PAGE);
    let (head, tail) = (start - base, base + span - (start + len));
    // SAFETY: both ranges lie inside the mapping just made and outside the
    // part returned; `munmap` of page-aligned ranges (mmap's base is page
    // aligned, so are `start` and `len`).
    unsafe {
        if head > 0 {
            libc::munmap(m, head);
        }
        if tail > 0 {
            libc::munmap((start + len) as *mut libc::c_void, tail);
        }
        // A hint: errors (THP compiled out) are ignored.
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
    start as *mut u8
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

    /// Whether THP can be checked here: the kernel honours `madvise` and has
    /// free 2 MiB blocks.
    fn thp_checkable() -> bool {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if !(mode.contains("[madvise]") || mode.contains("[always]")) {
            eprintln!("THP off here ({}): nothing to check", mode.trim());
            return false;
        }
        if free_huge_blocks() < 64 {
            eprintln!("memory too fragmented for a fair THP check: nothing to check");
            return false;
        }
        true
    }

    /// Where the kernel honours `madvise` for THP (and has free 2 MiB blocks),
    /// a large array really is backed by huge pages once written (the advice
    /// must precede the first touch), even where the heap holds memory that
    /// was written before and freed (which keeps its 4 KiB pages).
    #[test]
    fn large_arrays_get_huge_pages_where_thp_is_on() {
        if !thp_checkable() {
            return;
        }
        // Written heap memory, freed, that the heap allocator hands out
        // again. (glibc: freeing a 30 MB block, which it maps on its own,
        // raises its threshold for that to 30 MB; the 20 MB block then comes
        // from the heap, and stays there when freed.)
        drop(std::hint::black_box(vec![0u8; 30 << 20]));
        let mut v = vec![0u8; 20 << 20];
        for i in (0..v.len()).step_by(4096) {
            v[i] = 1;
        }
        drop(std::hint::black_box(v));
        let layout = Layout::from_size_align(8 * HUGE_PAGE, 64).unwrap();
        // SAFETY: nonzero size; freed with the same layout below.
        unsafe {
            let p = alloc_large(layout, true);
            assert!(!p.is_null());
            for i in (0..layout.size()).step_by(4096) {
                p.add(i).write(1);
            }
            let kb = anon_huge_kb(p as usize).expect("mapping in smaps");
            dealloc_large(p, layout);
            assert!(
                kb >= 2048,
                "8 huge pages advised and written, AnonHugePages {kb} kB"
            );
        }
    }
}

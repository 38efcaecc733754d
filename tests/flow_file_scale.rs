//! A flow file of 10 million lines loads in bounded time and memory: the
//! reader keeps the flows and their lines, never the text. The
//! allocator of this test binary counts the bytes held at the peak.

use efd_lb::flows::{load_flow_file, Flow};
use efd_lb::key::Ipv4Dst;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, as GlobalAlloc requires.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = HELD.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: allocated above with this layout.
        unsafe { System.dealloc(p, l) };
        HELD.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

const LINES: u32 = 10_000_000;

#[test]
fn ten_million_lines_load_in_bounded_time_and_memory() {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ten-million.csv");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        writeln!(w, "# ten million flows, a comment every 1000 lines").unwrap();
        for i in 0..LINES {
            let [a, b, c, d] = (0x0a00_0000 + i).to_be_bytes();
            writeln!(w, "{a}.{b}.{c}.{d},{}", i % 16).unwrap();
            if i % 1000 == 0 {
                writeln!(w, "\n# {i}").unwrap();
            }
        }
    }
    let file_bytes = std::fs::metadata(&path).unwrap().len() as usize;
    let base = HELD.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let flows: Vec<Flow<Ipv4Dst>> = load_flow_file(&path, 16).unwrap();
    let took = t.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    std::fs::remove_file(&path).unwrap();
    assert_eq!(flows.len(), LINES as usize);
    assert_eq!(
        flows[LINES as usize - 1].node.get(),
        ((LINES - 1) % 16) as u16
    );
    let per_flow = peak as f64 / f64::from(LINES);
    println!(
        "{LINES} lines ({} MiB): {took:?}, peak {} MiB ({per_flow:.1} bytes a flow)",
        file_bytes >> 20,
        peak >> 20
    );
    // The flows (8 bytes each) and their lines (4), growing (which briefly
    // holds the old and the new array), then the repeat check's sort (8).
    assert!(per_flow < 48.0, "{per_flow:.1} bytes a flow");
    assert!(
        peak < file_bytes * 3,
        "the peak grows with the flows, not the text"
    );
    let bound = if cfg!(debug_assertions) { 300 } else { 30 };
    assert!(took < Duration::from_secs(bound), "took {took:?}");
}

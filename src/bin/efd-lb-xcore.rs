//! efd-lb-xcore: measures how long a cache line takes to go from one core to
//! another and back (two threads pinned to two cores bounce a counter).
//!
//! On a VM the answer depends on where the host runs the two virtual CPUs at
//! that moment, and every ring operation and every packet the distributor
//! hands to a worker pays it. `bench/pipeline.sh` runs this before each
//! repetition and records it next to the rates, so a slow run can be told
//! from a slow host.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clap::Parser;

/// Measure the cross-core cache-line round trip between two cores.
#[derive(Parser, Debug)]
#[command(name = "efd-lb-xcore", version)]
struct Args {
    /// The core that starts each round trip.
    #[arg(long, default_value_t = 0)]
    from: usize,
    /// The core that answers.
    #[arg(long, default_value_t = 1)]
    to: usize,
    /// Round trips per sample.
    #[arg(long, default_value_t = 20_000)]
    trips: u64,
    /// Samples; the median is reported.
    #[arg(long, default_value_t = 9)]
    samples: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// The bounced counter, alone in its cache lines (128 bytes: adjacent-line
/// prefetchers fetch pairs).
#[repr(align(128))]
struct Line(AtomicU64);

/// Pins the calling thread to `core`; false if the core does not exist or
/// the pinning failed.
fn pin(core: usize) -> bool {
    core_affinity::get_core_ids()
        .and_then(|ids| ids.into_iter().find(|c| c.id == core))
        .is_some_and(core_affinity::set_for_current)
}

/// Written by the main thread instead of a round-trip value when it cannot
/// pin itself: the echo thread stops.
const ABORT: u64 = u64::MAX;

/// Nanoseconds per round trip, one value per sample of `trips`.
fn measure(args: &Args) -> Result<Vec<f64>, String> {
    let line = Line(AtomicU64::new(0));
    // 0: the echo thread is starting, 1: pinned and waiting, 2: cannot pin.
    let echo_state = Line(AtomicU64::new(0));
    let total = args.trips * args.samples as u64;
    std::thread::scope(|s| {
        s.spawn(|| {
            if !pin(args.to) {
                echo_state.0.store(2, Ordering::Release);
                return;
            }
            echo_state.0.store(1, Ordering::Release);
            // Answer every odd value with the next even one.
            for i in 0..total {
                let want = 2 * i + 1;
                loop {
                    match line.0.load(Ordering::Acquire) {
                        v if v == want => break,
                        ABORT => return,
                        _ => {}
                    }
                }
                line.0.store(want + 1, Ordering::Release);
            }
        });
        let pinned = pin(args.from);
        let echo = loop {
            match echo_state.0.load(Ordering::Acquire) {
                0 => std::hint::spin_loop(),
                v => break v,
            }
        };
        if echo != 1 {
            return Err(format!("cannot pin a thread to core {}", args.to));
        }
        if !pinned {
            line.0.store(ABORT, Ordering::Release);
            return Err(format!("cannot pin a thread to core {}", args.from));
        }
        let mut out = Vec::with_capacity(args.samples);
        let mut i = 0u64;
        for _ in 0..args.samples {
            let t0 = Instant::now();
            for _ in 0..args.trips {
                line.0.store(2 * i + 1, Ordering::Release);
                while line.0.load(Ordering::Acquire) != 2 * i + 2 {}
                i += 1;
            }
            out.push(t0.elapsed().as_nanos() as f64 / args.trips as f64);
        }
        Ok(out)
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.from == args.to || args.trips == 0 || args.samples == 0 {
        eprintln!("efd-lb-xcore: --from and --to must differ, --trips and --samples be > 0");
        return ExitCode::from(2);
    }
    match measure(&args) {
        Ok(mut ns) => {
            ns.sort_by(f64::total_cmp);
            let median = ns[ns.len() / 2];
            if args.json {
                println!(
                    "{{\"from\":{},\"to\":{},\"round_trip_ns\":{median:.1},\"min_ns\":{:.1},\"max_ns\":{:.1}}}",
                    args.from,
                    args.to,
                    ns[0],
                    ns[ns.len() - 1]
                );
            } else {
                println!(
                    "core {} -> {} -> {}: {median:.1} ns per round trip (median of {}; {:.1}-{:.1})",
                    args.from,
                    args.to,
                    args.from,
                    ns.len(),
                    ns[0],
                    ns[ns.len() - 1]
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("efd-lb-xcore: {e}");
            ExitCode::FAILURE
        }
    }
}

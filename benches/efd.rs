//! EFD table benchmark (plain `std::time`, prints a table).
//!
//! `cargo bench --bench efd` (set `EFD_BENCH_QUICK=1` to skip the 16M-key
//! part, `EFD_BENCH_WIDE=1` to run only the 1M random and wide-key
//! sections). Every timing is the median of `RUNS` runs with min–max. Keys are
//! 4-byte (IPv4 destinations) but for the rows of the 13-byte
//! (`ipv4_5tuple`) and 37-byte (`ipv6_5tuple`, `5tuple`) key kinds.
//!
//! Lookups go through the [`LookupUnderTest`] trait so that another table
//! (e.g. DPDK's `rte_efd`) can be measured in a second column by the same
//! functions.

use dpdk::efd::RteEfd;
use efd_lb::efd::{Efd, EfdReader, LookupPath};
use efd_lb::key::{FlowKey, Ipv4FiveTuple, Ipv6FiveTuple};
use efd_lb::mem::LargeBuf;
use std::hint::black_box;
use std::time::Instant;

const RUNS: usize = 7;
/// Interleaved rounds of the lookup measurements (cheap: a 1M-key pass
/// takes tens of milliseconds).
const LOOKUP_ROUNDS: usize = 15;
/// How long a table is looked up, untimed, after its first pass of a round
/// and before its timed pass. After the other tables' passes a table's
/// lookups run slow for some 20-30 ms, not for one pass: on the Xeon host
/// 13-byte fresh keys took 4.3-4.7, 4.0-4.2, 3.9-4.2, then 3.7-4.1 ns/key
/// in the passes after `rte_efd`'s (about 7 ms each), and 3.7-4.1 in every
/// pass after the table's own (eight passes a turn, 15 rounds). Not the core's
/// clock: a `vpmulld` chain timed right after scalar work runs at its
/// steady speed. A distributor looks its table up all the time, so the
/// timed pass comes after this much of it.
const WARM_UP: std::time::Duration = std::time::Duration::from_millis(50);
const BATCH: usize = 32;
/// Keys per call of the long-call rows: a distributor with rx bursts of
/// that many packets (`ports.burst`); `rte_efd` takes at most 32.
const LONG_CALL: usize = 256;

/// A table whose bulk lookup of `N`-byte keys is measured.
trait LookupUnderTest<const N: usize> {
    fn name(&self) -> String;
    /// Look up `keys` (at most [`LookupUnderTest::call`]) into `out`.
    fn lookup_bulk(&self, keys: &[[u8; N]], out: &mut [u8]);
    /// Keys per call.
    fn call(&self) -> usize {
        BATCH
    }
}

struct Native<const N: usize> {
    reader: EfdReader<N>,
    path: LookupPath,
    /// Keys per call.
    call: usize,
}

impl<const N: usize> LookupUnderTest<N> for Native<N> {
    fn name(&self) -> String {
        if self.call == BATCH {
            format!("native {:?}", self.path)
        } else {
            format!("native {:?}, calls of {}", self.path, self.call)
        }
    }
    fn lookup_bulk(&self, keys: &[[u8; N]], out: &mut [u8]) {
        self.reader.lookup_bulk_with(self.path, keys, out)
    }
    fn call(&self) -> usize {
        self.call
    }
}

/// DPDK's `rte_efd` (scalar lookup: DPDK 22.11's AVX2 path is broken, so
/// EAL runs with `--force-max-simd-bitwidth=128`).
struct Rte(RteEfd);

impl<const N: usize> LookupUnderTest<N> for Rte {
    fn name(&self) -> String {
        "DPDK rte_efd".into()
    }
    fn lookup_bulk(&self, keys: &[[u8; N]], out: &mut [u8]) {
        self.0.lookup_bulk(keys, out)
    }
}

/// Build an `rte_efd` table; returns it with its per-insert latencies (ns).
fn build_rte<const N: usize>(
    name: &str,
    cap: usize,
    keys: &[[u8; N]],
    vals: &[u8],
) -> (Rte, Vec<u64>) {
    let mut t = RteEfd::new(name, cap as u32, N as u32).expect("rte_efd_create");
    let mut lat = Vec::with_capacity(keys.len());
    for (k, &v) in keys.iter().zip(vals) {
        let t0 = Instant::now();
        t.update(k, v).expect("rte_efd_update");
        lat.push(t0.elapsed().as_nanos() as u64);
    }
    (Rte(t), lat)
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[path = "../tests/common/mod.rs"]
mod common;
use common::Rng;

/// Keys `i` as big-endian `u32` (IPv4 destinations), `i < n`.
fn seq_keys(n: usize) -> Vec<[u8; 4]> {
    (0..n as u32).map(|i| i.to_be_bytes()).collect()
}

/// The first `n` keys of a key kind's seed population, as EFD keys.
fn seed_keys<K: FlowKey<Bytes = [u8; N]>, const N: usize>(n: usize) -> Vec<[u8; N]> {
    (0..n as u32).map(|i| K::seed(i).to_bytes()).collect()
}

/// `n` distinct random 4-byte keys.
fn rand_keys(n: usize, seed: u64) -> Vec<[u8; 4]> {
    let mut rng = Rng::new(seed);
    let mut set = std::collections::HashSet::with_capacity(n);
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        let k = (rng.next() as u32).to_be_bytes();
        if set.insert(k) {
            v.push(k);
        }
    }
    v
}

#[derive(Clone, Copy)]
struct Stat {
    med: f64,
    min: f64,
    max: f64,
}

impl std::fmt::Display for Stat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} ({:.2}–{:.2})", self.med, self.min, self.max)
    }
}

fn stat(mut v: Vec<f64>) -> Stat {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Stat {
        med: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    }
}

/// Checks one full pass of `t`'s bulk lookups of `queries` against `expect`.
fn check_lookup<const N: usize>(t: &dyn LookupUnderTest<N>, queries: &[[u8; N]], expect: &[u8]) {
    let mut out = vec![0u8; queries.len()];
    let call = t.call();
    for (q, o) in queries.chunks(call).zip(out.chunks_mut(call)) {
        t.lookup_bulk(q, o);
    }
    assert!(out == expect, "{}: wrong values", t.name());
}

/// ns/key of one pass of bulk lookups of `queries` in calls of `t.call()`
/// keys.
fn time_lookup<const N: usize>(
    t: &dyn LookupUnderTest<N>,
    queries: &[[u8; N]],
    out: &mut [u8],
) -> f64 {
    let t0 = Instant::now();
    let call = t.call();
    for (q, o) in queries.chunks(call).zip(out.chunks_mut(call)) {
        t.lookup_bulk(black_box(q), o);
    }
    black_box(&out);
    t0.elapsed().as_nanos() as f64 / queries.len() as f64
}

/// TSC ticks per nanosecond and the cost of a timed empty interval
/// ([`fenced_tsc`] twice), measured once.
fn tsc() -> (f64, u64) {
    static TSC: std::sync::OnceLock<(f64, u64)> = std::sync::OnceLock::new();
    *TSC.get_or_init(|| {
        let (t0, c0) = (Instant::now(), fenced_tsc());
        while t0.elapsed().as_millis() < 200 {}
        let per_ns = (fenced_tsc() - c0) as f64 / t0.elapsed().as_nanos() as f64;
        let empty = (0..1000)
            .map(|_| {
                let a = fenced_tsc();
                fenced_tsc() - a
            })
            .min()
            .unwrap_or(0);
        (per_ns, empty)
    })
}

/// The time stamp counter ([`dpdk::eal::rdtsc`]), after every earlier
/// instruction has completed (`lfence` first).
#[inline(always)]
fn fenced_tsc() -> u64 {
    // SAFETY: `lfence` exists on every x86-64 CPU and touches no memory.
    unsafe { std::arch::x86_64::_mm_lfence() };
    dpdk::eal::rdtsc()
}

/// ns/key of `t` on `queries` as the distributor calls it: each call's keys
/// are first written to a small buffer (its parse of the burst), untimed,
/// so that they come from the L1 cache while the table is read at random;
/// only the calls are timed (TSC, the cost of an empty interval taken
/// off).
fn time_fresh_keys<const N: usize>(
    t: &dyn LookupUnderTest<N>,
    queries: &[[u8; N]],
    out: &mut [u8],
) -> f64 {
    let (per_ns, empty) = tsc();
    let mut buf = [[0u8; N]; BATCH];
    let mut ticks = 0u64;
    for (q, o) in queries.chunks(BATCH).zip(out.chunks_mut(BATCH)) {
        let b = &mut buf[..q.len()];
        b.copy_from_slice(q);
        let t0 = fenced_tsc();
        t.lookup_bulk(black_box(b), o);
        ticks += (fenced_tsc() - t0).saturating_sub(empty);
    }
    black_box(&out);
    ticks as f64 / per_ns / queries.len() as f64
}

/// Times every table in `tables` [`LOOKUP_ROUNDS`] times, interleaved (each
/// table's turn per round, the order rotating every round, so that a slow
/// phase of this noisy machine hits all of them alike; a first pass,
/// [`WARM_UP`] and the timed pass in a row, see [`Rounds`]).
fn bench_lookups<const N: usize>(
    tables: &[&dyn LookupUnderTest<N>],
    queries: &[[u8; N]],
    expect: &[u8],
) -> Rounds {
    for t in tables {
        check_lookup(*t, queries, expect);
    }
    time_rounds(tables, queries)
}

/// The timing of [`bench_lookups`] alone, for tables checked by the caller:
/// each table's ns/key in steady state, and in the pass before (see
/// [`Rounds`]).
fn time_rounds<const N: usize>(tables: &[&dyn LookupUnderTest<N>], queries: &[[u8; N]]) -> Rounds {
    let mut out = vec![0u8; queries.len()];
    let mut r = Rounds::new(tables.len());
    for round in 0..LOOKUP_ROUNDS {
        for j in 0..tables.len() {
            let k = (j + round) % tables.len();
            r.push(k, turn(|| time_lookup(tables[k], queries, &mut out)));
        }
    }
    r
}

/// One table's turn in a round: a first pass, [`WARM_UP`] of untimed
/// passes (counted from the first's start), then the timed pass. `pass`
/// runs one pass and returns its ns/key; returns the first and the last.
fn turn(mut pass: impl FnMut() -> f64) -> (f64, f64) {
    let t0 = Instant::now();
    let first = pass();
    while t0.elapsed() < WARM_UP {
        pass();
    }
    (first, pass())
}

/// Lookup timings (ns/key per round, one vector per table) of
/// [`time_rounds`]. Each round looks each table up for [`WARM_UP`] and one
/// pass more, in a row.
struct Rounds {
    /// The last pass, after [`WARM_UP`]: steady state, as a distributor
    /// looks its one table up all the time. The figure the targets are read
    /// from.
    steady: Vec<Vec<f64>>,
    /// The first pass, right after the other tables' passes: it starts with
    /// this table pushed out of the caches (an 8-bit table of 1M keys is
    /// 1.2 MB, more than the 1 MiB L2 of the machine it was written on) and
    /// pays for fetching it again.
    first: Vec<Vec<f64>>,
}

impl Rounds {
    /// No rounds yet, for `tables` tables.
    fn new(tables: usize) -> Rounds {
        Rounds {
            steady: vec![Vec::new(); tables],
            first: vec![Vec::new(); tables],
        }
    }

    /// Table `k`'s (first, steady) pass of one more round ([`turn`]).
    fn push(&mut self, k: usize, (first, steady): (f64, f64)) {
        self.first[k].push(first);
        self.steady[k].push(steady);
    }
}

/// One line of the first passes' ns/key ([`Rounds::first`]) per table
/// (`names` in the order of the tables).
fn print_first_passes(names: &[String], rounds: &Rounds) {
    let each: Vec<String> = names
        .iter()
        .zip(&rounds.first)
        .map(|(name, r)| format!("{name} {}", stat(r.clone())))
        .collect();
    println!(
        "|   (first pass of each round, after the other tables' passes, ns/key: {}) | | |",
        each.join("; ")
    );
}

/// The order in which the benches look `n` keys up (a fixed shuffle).
fn query_order(n: usize) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..n).collect();
    Rng::new(99).shuffle(&mut perm);
    perm
}

/// An array of `bytes` rounded up to whole 64-byte lines, allocated as the
/// EFD's tables are ([`LargeBuf`]), and 1M random line indexes into it: what
/// the memory floors read.
struct FloorLines {
    buf: LargeBuf,
    idx: Vec<u32>,
}

impl FloorLines {
    fn new(bytes: usize, seed: u64) -> FloorLines {
        let lines = bytes.div_ceil(64);
        let buf = LargeBuf::zeroed(lines * 64);
        let p = buf.as_mut_ptr() as *mut u64;
        for i in 0..lines * 8 {
            // SAFETY: in bounds.
            unsafe { p.add(i).write(i as u64) };
        }
        let mut rng = Rng::new(seed);
        let idx = (0..1 << 20)
            .map(|_| (rng.next() % lines as u64) as u32)
            .collect();
        FloorLines { buf, idx }
    }

    /// The array's words.
    fn words(&self) -> *const u64 {
        self.buf.as_mut_ptr() as *const u64
    }

    /// Starts fetching line `i` (an index from `idx`).
    fn prefetch(&self, i: u32) {
        // SAFETY: a prefetch never faults.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(self.words().wrapping_add(i as usize * 8) as *const i8)
        };
    }

    /// The first word of line `i` (an index from `idx`).
    fn read(&self, i: u32) -> u64 {
        // SAFETY: the indexes in `idx` are below the line count.
        unsafe { self.words().add(i as usize * 8).read() }
    }

    /// ns per read of `RUNS` timed passes of `pass` (which returns a value
    /// made of the reads, so that they are not optimised away).
    fn time(&self, pass: impl Fn(&FloorLines) -> u64) -> Stat {
        let res = (0..RUNS)
            .map(|_| {
                let t0 = Instant::now();
                black_box(pass(self));
                t0.elapsed().as_nanos() as f64 / self.idx.len() as f64
            })
            .collect();
        stat(res)
    }
}

/// This machine's memory floor for a bulk lookup: ns per read of a random
/// 64-byte line of an array of `bytes` ([`FloorLines`]), in batches of
/// [`BATCH`] reads whose lines are all prefetched first: the access pattern
/// of a lookup that touches one line per key, with no computation.
fn line_read_floor(bytes: usize) -> Stat {
    FloorLines::new(bytes, 5).time(|a| {
        let mut acc = 0u64;
        for c in a.idx.chunks(BATCH) {
            for &i in c {
                a.prefetch(i);
            }
            for &i in c {
                acc = acc.wrapping_add(a.read(i));
            }
        }
        acc
    })
}

/// The ratio `a / b` of two tables' timings ([`Rounds`]), round by round.
fn round_ratios(a: &[f64], b: &[f64]) -> Stat {
    stat(a.iter().zip(b).map(|(a, b)| a / b).collect())
}

fn values(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.next() as u8).collect()
}

/// 8-bit tables of `n` keys, every native path (and `rte_efd` if `rte`);
/// returns the `rte_efd` table for [`widths_section`].
fn lookup_section<const N: usize>(
    n: usize,
    label: &str,
    keys: &[[u8; N]],
    rte: bool,
) -> Option<Rte> {
    let cap = (n as f64 / 0.95).ceil() as usize;
    let vals = values(n, 7);
    let t0 = Instant::now();
    let efd =
        Efd::<N>::build(cap, 8, keys.iter().copied().zip(vals.iter().copied())).expect("build");
    let build = t0.elapsed();
    let perm = query_order(n);
    let queries: Vec<[u8; N]> = perm.iter().map(|&i| keys[i]).collect();
    let expect: Vec<u8> = perm.iter().map(|&i| vals[i]).collect();
    drop(perm);
    let natives: Vec<Native<N>> = LookupPath::supported()
        .into_iter()
        .map(|path| Native {
            reader: efd.reader(),
            path,
            call: BATCH,
        })
        .collect();
    // The fastest path again, in long calls (after rte_efd in `tables`).
    let long = Native {
        reader: efd.reader(),
        path: LookupPath::best(),
        call: LONG_CALL,
    };
    let mut tables: Vec<&dyn LookupUnderTest<N>> = natives
        .iter()
        .map(|t| t as &dyn LookupUnderTest<N>)
        .collect();
    let rte_table = rte.then(|| {
        let t0 = Instant::now();
        let (t, mut lat) = build_rte(&format!("efd_{label}_{n}"), cap, keys, &vals);
        lat.sort_unstable();
        (t, t0.elapsed(), lat)
    });
    if let Some((t, _, _)) = &rte_table {
        tables.push(t);
    }
    tables.push(&long);
    let rounds = bench_lookups(&tables, &queries, &expect);
    let res = &rounds.steady;
    for (t, r) in tables.iter().zip(res) {
        println!(
            "| bulk lookup, {label} keys, n={n} (95% of cap.), batch {} | {} | {} ns/key |",
            t.call(),
            t.name(),
            stat(r.clone())
        );
    }
    let best = natives.len() - 1;
    println!(
        "| bulk lookup, {label} keys, n={n}: {} / batch {BATCH}, per interleaved round | ratio | {}× |",
        long.name(),
        round_ratios(&res[tables.len() - 1], &res[best])
    );
    let names: Vec<String> = tables.iter().map(|t| t.name()).collect();
    print_first_passes(&names, &rounds);
    if let Some((_, build, lat)) = &rte_table {
        // The fastest native path against rte_efd, round by round.
        println!(
            "| bulk lookup, {label} keys, n={n}: rte_efd / {} per interleaved round | ratio | {}× |",
            tables[best].name(),
            round_ratios(&res[natives.len()], &res[best])
        );
        println!(
            "|   (rte_efd build by {n} rte_efd_update: {:.0} ms; insert median {} ns, p99 {} ns) | | |",
            build.as_secs_f64() * 1e3,
            pct(lat, 0.5),
            pct(lat, 0.99)
        );
    }
    // The same path on a hot set of keys (the first 4,096 queries, looked
    // up again and again): what a lookup costs without the keys' own
    // memory traffic (a distributor's keys are hot, it has just parsed
    // them; here 1M keys of N bytes stream by on every pass).
    let hot = &queries[..queries.len().min(4096)];
    let mut hot_out = vec![0u8; hot.len()];
    let hot_times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let reps = 64;
            let t0 = Instant::now();
            for _ in 0..reps {
                for (q, o) in hot.chunks(BATCH).zip(hot_out.chunks_mut(BATCH)) {
                    tables[best].lookup_bulk(black_box(q), o);
                }
            }
            black_box(&hot_out);
            t0.elapsed().as_nanos() as f64 / (reps * hot.len()) as f64
        })
        .collect();
    println!(
        "|   ({} on hot keys, the first {} queries again and again: {} ns/key) | | |",
        tables[best].name(),
        hot.len(),
        stat(hot_times)
    );
    // Fresh keys: the same random queries, each call's keys just written
    // to a buffer (a distributor's parsed burst), the fastest native path
    // and rte_efd interleaved, as the rounds of `time_rounds`: a first pass,
    // `WARM_UP` untimed, then the pass kept.
    let fresh: Vec<&dyn LookupUnderTest<N>> = std::iter::once(tables[best])
        .chain(
            rte_table
                .as_ref()
                .map(|(t, _, _)| t as &dyn LookupUnderTest<N>),
        )
        .collect();
    let mut fresh_rounds = Rounds::new(fresh.len());
    let mut fresh_out = vec![0u8; queries.len()];
    for round in 0..LOOKUP_ROUNDS {
        for j in 0..fresh.len() {
            let k = (j + round) % fresh.len();
            fresh_rounds.push(
                k,
                turn(|| time_fresh_keys(fresh[k], &queries, &mut fresh_out)),
            );
        }
    }
    let fresh_times = &fresh_rounds.steady;
    assert!(
        fresh_out == expect,
        "fresh-key lookups returned wrong values"
    );
    for (t, times) in fresh.iter().zip(fresh_times) {
        println!(
            "| bulk lookup, {label} keys, n={n}, batch {BATCH}, fresh keys (each call's keys just written, as the distributor's parse) | {} | {} ns/key |",
            t.name(),
            stat(times.clone())
        );
    }
    if fresh.len() == 2 {
        println!(
            "| bulk lookup, {label} keys, n={n}, fresh keys: rte_efd / {} per interleaved round | ratio | {}× |",
            fresh[0].name(),
            round_ratios(&fresh_times[1], &fresh_times[0])
        );
    }
    let names: Vec<String> = fresh.iter().map(|t| t.name()).collect();
    print_first_passes(&names, &fresh_rounds);
    let bytes = efd.online_bytes();
    println!(
        "|   (memory floor: random 64-byte line reads over {:.1} MB, the online table's size, batch {BATCH}: {} ns/line) | | |",
        bytes as f64 / (1 << 20) as f64,
        line_read_floor(bytes)
    );
    println!(
        "|   (bulk build {:.0} ms; levels {:?} keys {:?}; online {:.2} bits/key, total {:.2} B/key) | | |",
        build.as_secs_f64() * 1e3,
        efd.level_groups(),
        efd.level_keys(),
        efd.online_bytes() as f64 * 8.0 / n as f64,
        efd.total_bytes() as f64 / n as f64
    );
    rte_table.map(|(t, _, _)| t)
}

/// This machine's memory floor for a lookup that streams through many keys:
/// ns per read of a random 64-byte line of an array of `bytes`
/// ([`FloorLines`]), each line prefetched 64 reads ahead, with no
/// computation.
fn streaming_floor(bytes: usize) -> Stat {
    const AHEAD: usize = 64;
    FloorLines::new(bytes, 6).time(|a| {
        let mut acc = 0u64;
        for (j, &i) in a.idx.iter().enumerate() {
            if let Some(&ahead) = a.idx.get(j + AHEAD) {
                a.prefetch(ahead);
            }
            acc = acc.wrapping_add(a.read(i));
        }
        acc
    })
}

/// Bulk lookup of the same `n` random keys in tables of 1, 2, 4 and 8-bit
/// values (the appliance uses the fewest bits that hold its node ids: 2 for
/// 3 or 4 nodes), best native path, interleaved with `rte` (8-bit values,
/// its only width) if given.
fn widths_section(n: usize, keys: &[[u8; 4]], rte: Option<&Rte>) {
    const WIDTHS: [u32; 4] = [1, 2, 4, 8];
    let cap = (n as f64 / 0.95).ceil() as usize;
    let vals = values(n, 7);
    let perm = query_order(n);
    let queries: Vec<[u8; 4]> = perm.iter().map(|&i| keys[i]).collect();
    let path = LookupPath::best();
    let tables: Vec<(Efd<4>, Native<4>)> = WIDTHS
        .iter()
        .map(|&bits| {
            let mask = ((1u16 << bits) - 1) as u8;
            let e = Efd::<4>::build(
                cap,
                bits,
                keys.iter().copied().zip(vals.iter().map(|v| v & mask)),
            )
            .expect("build");
            let r = Native {
                reader: e.reader(),
                path,
                call: BATCH,
            };
            (e, r)
        })
        .collect();
    for (&bits, (_, t)) in WIDTHS.iter().zip(&tables) {
        let mask = ((1u16 << bits) - 1) as u8;
        let expect: Vec<u8> = perm.iter().map(|&i| vals[i] & mask).collect();
        check_lookup(t, &queries, &expect);
    }
    if let Some(t) = rte {
        let expect: Vec<u8> = perm.iter().map(|&i| vals[i]).collect();
        check_lookup(t, &queries, &expect);
    }
    drop(perm);
    let mut under: Vec<&dyn LookupUnderTest<4>> = tables
        .iter()
        .map(|(_, t)| t as &dyn LookupUnderTest<4>)
        .collect();
    if let Some(t) = rte {
        under.push(t);
    }
    let rounds = time_rounds(&under, &queries);
    let res = &rounds.steady;
    for ((&bits, (e, t)), r) in WIDTHS.iter().zip(&tables).zip(res) {
        println!(
            "| bulk lookup by value width, random keys, n={n}, batch {BATCH} | {}, {bits}-bit values ({:.1} MB online) | {} ns/key |",
            t.name(),
            e.online_bytes() as f64 / (1 << 20) as f64,
            stat(r.clone())
        );
    }
    if rte.is_some() {
        let rr = &res[WIDTHS.len()];
        println!(
            "| bulk lookup by value width, random keys, n={n}, batch {BATCH} | DPDK rte_efd, 8-bit values (its only width) | {} ns/key |",
            stat(rr.clone())
        );
        for (w, &bits) in WIDTHS.iter().enumerate() {
            println!(
                "| bulk lookup, n={n}: rte_efd / native {bits}-bit per interleaved round | ratio | {}× |",
                round_ratios(rr, &res[w])
            );
        }
    }
    let mut names: Vec<String> = WIDTHS.iter().map(|b| format!("{b}-bit")).collect();
    if rte.is_some() {
        names.push("rte_efd".into());
    }
    print_first_passes(&names, &rounds);
    for (&bits, (e, _)) in WIDTHS.iter().zip(&tables) {
        println!(
            "|   ({bits}-bit table, {:.1} MB: memory floor {} ns/line in batches of {BATCH}, {} ns/line streaming) | | |",
            e.online_bytes() as f64 / (1 << 20) as f64,
            line_read_floor(e.online_bytes()),
            streaming_floor(e.online_bytes())
        );
    }
}

fn insert_section(n: usize) {
    let cap = (n as f64 / 0.95).ceil() as usize;
    let keys = rand_keys(n, 11);
    let vals = values(n, 12);
    // Per-insert latency (timer overhead measured and reported separately).
    let mut lat = Vec::with_capacity(n);
    let mut efd = Efd::<4>::new(cap, 8).unwrap();
    for (k, &v) in keys.iter().zip(&vals) {
        let t0 = Instant::now();
        efd.insert(k, v).expect("insert");
        lat.push(t0.elapsed().as_nanos() as u64);
    }
    let mut ov = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let t0 = Instant::now();
        ov.push(black_box(t0.elapsed().as_nanos() as u64));
    }
    ov.sort_unstable();
    lat.sort_unstable();
    let pct = |p: f64| pct(&lat, p);
    println!(
        "| insert latency, random keys, 0→{n} (cap {cap}) | median / p90 / p99 / p99.9 / max | {} / {} / {} / {} / {} ns (timer overhead {} ns incl.) |",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(0.999),
        lat[lat.len() - 1],
        ov[ov.len() / 2]
    );
    // Whole-table build times.
    let entries: Vec<([u8; 4], u8)> = keys.iter().copied().zip(vals.iter().copied()).collect();
    let mut online = Vec::new();
    let mut batched = Vec::new();
    let mut bulk = Vec::new();
    for _ in 0..RUNS {
        let t0 = Instant::now();
        let mut e = Efd::<4>::new(cap, 8).unwrap();
        for (k, &v) in keys.iter().zip(&vals) {
            e.insert(k, v).unwrap();
        }
        online.push(t0.elapsed().as_secs_f64() * 1e3);
        black_box(&e);
        drop(e);
        let t0 = Instant::now();
        let mut e = Efd::<4>::new(cap, 8).unwrap();
        for chunk in entries.chunks(4096) {
            for r in e.insert_batch(chunk) {
                r.unwrap();
            }
        }
        batched.push(t0.elapsed().as_secs_f64() * 1e3);
        black_box(&e);
        drop(e);
        let t0 = Instant::now();
        let e = Efd::<4>::build(cap, 8, keys.iter().copied().zip(vals.iter().copied())).unwrap();
        bulk.push(t0.elapsed().as_secs_f64() * 1e3);
        black_box(&e);
    }
    println!(
        "| build {n} keys by online inserts | | {} ms |",
        stat(online)
    );
    println!(
        "| build {n} keys by online insert_batch (4096 per call) | | {} ms |",
        stat(batched)
    );
    println!("| build {n} keys by Efd::build | | {} ms |", stat(bulk));
    // Updates (value flips of present keys).
    let mut up = Vec::with_capacity(100_000);
    for (k, &v) in keys.iter().zip(&vals).take(100_000) {
        let t0 = Instant::now();
        efd.insert(k, v ^ 1).unwrap();
        up.push(t0.elapsed().as_nanos() as u64);
    }
    up.sort_unstable();
    println!(
        "| update latency (100k value changes) | median / p99 | {} / {} ns |",
        up[up.len() / 2],
        up[up.len() * 99 / 100]
    );
}

fn memory_section(cap: usize) {
    let n = cap * 95 / 100;
    let keys = rand_keys(n, 21);
    for bits in [1u32, 2, 4, 8] {
        let vals: Vec<u8> = values(n, 22)
            .iter()
            .map(|v| v & ((1u16 << bits) - 1) as u8)
            .collect();
        let mut e = Efd::<4>::new(cap, bits).unwrap();
        for (k, &v) in keys.iter().zip(&vals) {
            e.insert(k, v).unwrap();
        }
        println!(
            "| memory, {bits}-bit values, {n} keys = 95% of cap {cap} (online inserts) | online / total | {:.2} bits/key / {:.2} bytes/key |",
            e.online_bytes() as f64 * 8.0 / n as f64,
            e.total_bytes() as f64 / n as f64
        );
    }
}

fn failure_section(cap: usize) {
    for bits in [8u32, 1] {
        for seed in 0..3u64 {
            let mut e = Efd::<4>::with_seed(cap, bits, 1000 + seed).unwrap();
            let mut rng = Rng::new(5000 + seed);
            let mut n = 0usize;
            let fail = loop {
                let k = (rng.next() as u32).to_be_bytes();
                let v = (rng.next() as u8) & ((1u16 << bits) - 1) as u8;
                match e.insert(&k, v) {
                    Ok(_) => n = e.len(),
                    Err(_) => break n,
                }
                if n > cap * 2 {
                    break n;
                }
            };
            println!(
                "| first insert failure, {bits}-bit values, random keys, cap {cap}, seed {seed} | load | {:.2}% ({fail} keys) |",
                fail as f64 * 100.0 / cap as f64
            );
        }
    }
}

fn main() {
    let flag = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
    let quick = flag("EFD_BENCH_QUICK");
    // Only what issue 21's wide-key table needs: 4-byte random keys (the
    // reference row) and the 13- and 37-byte keys, at 1M.
    let wide_only = flag("EFD_BENCH_WIDE");
    // rte_efd needs the EAL; without it the bench runs the native side only.
    // rte_efd at 16M keys takes minutes to fill: opt in. One 16M table takes
    // ~0.6 GB of EAL memory, and the heap fragments between the two.
    let rte16 = flag("EFD_BENCH_RTE16M");
    let eal = if flag("EFD_BENCH_NO_RTE") {
        None
    } else {
        match dpdk::eal::Eal::init(&[
            "efd-bench",
            "--no-huge",
            "-m",
            if rte16 { "6144" } else { "2048" },
            "--no-shconf",
            "--force-max-simd-bitwidth=128",
            "--no-pci",
            "--log-level=lib.eal:error",
        ]) {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("EAL init failed ({e}); skipping rte_efd");
                None
            }
        }
    };
    let rte = eal.is_some();
    let rte16 = rte && rte16;
    println!("| measurement | variant | result |");
    println!("|---|---|---|");
    if !wide_only {
        lookup_section(1 << 20, "sequential", &seq_keys(1 << 20), rte);
    }
    let keys = rand_keys(1 << 20, 3);
    let rte_1m = lookup_section(1 << 20, "random", &keys, rte);
    if !wide_only {
        widths_section(1 << 20, &keys, rte_1m.as_ref());
    }
    drop(rte_1m);
    // The wide key kinds' keys: 13-byte IPv4 and 37-byte IPv6 5-tuples of
    // the seed populations (what the appliance's table holds), against
    // rte_efd on the same keys.
    drop(lookup_section(
        1 << 20,
        "ipv4_5tuple",
        &seed_keys::<Ipv4FiveTuple, 13>(1 << 20),
        rte,
    ));
    drop(lookup_section(
        1 << 20,
        "ipv6_5tuple",
        &seed_keys::<Ipv6FiveTuple, 37>(1 << 20),
        rte,
    ));
    if wide_only {
        return;
    }
    if !quick {
        lookup_section(16 << 20, "sequential", &seq_keys(16 << 20), rte16);
        let keys = rand_keys(16 << 20, 4);
        let rte_16m = lookup_section(16 << 20, "random", &keys, rte16);
        widths_section(16 << 20, &keys, rte_16m.as_ref());
    }
    insert_section(1 << 20);
    memory_section(1 << 20);
    failure_section(1 << 20);
}

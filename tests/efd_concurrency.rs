//! One writer, many readers: readers never see a value that was never
//! assigned to a key, while the writer flips values, bumps keys between
//! levels, fails inserts (rollback) and removes keys.

use efd_lb::efd::{Efd, LookupPath};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::Rng;

/// Longest bulk call of the readers: calls of 1 to 100 keys, one batch of
/// the lookup or several.
const CALL: usize = 100;

fn stable_key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}
fn moving_key(i: u32) -> [u8; 4] {
    (0x4000_0000 | i).to_be_bytes()
}
fn churn_key(i: u32) -> [u8; 4] {
    (0x8000_0000 | i).to_be_bytes()
}
fn stable_val(i: u32, mask: u8) -> u8 {
    (i.wrapping_mul(0x9e37_79b1) >> 24) as u8 & mask
}
/// A moving key's two values (they differ in the width's low bit or two).
fn moving_vals(i: u32, mask: u8) -> (u8, u8) {
    let a = (i.wrapping_mul(0x85eb_ca6b) >> 24) as u8 & mask;
    (a, (a ^ 0x5b) & mask)
}

/// 8-bit values: the stride-8 lookup (one 64-byte line per group).
#[test]
fn readers_never_see_torn_or_foreign_values_8_bits() {
    stress(8);
}

/// 2-bit values (the appliance with 3 or 4 nodes): the narrow lookup, four
/// groups per line.
#[test]
fn readers_never_see_torn_or_foreign_values_2_bits() {
    stress(2);
}

fn stress(bits: u32) {
    let mask = ((1u32 << bits) - 1) as u8;
    let stable_val = move |i: u32| stable_val(i, mask);
    let moving_vals = move |i: u32| moving_vals(i, mask);
    let cap = 40_000usize;
    let n_stable = 30_000u32;
    let n_moving = 2_000u32;
    let mut efd = Efd::<4>::new(cap, bits).unwrap();
    for i in 0..n_stable {
        efd.insert(&stable_key(i), stable_val(i)).unwrap();
    }
    for i in 0..n_moving {
        efd.insert(&moving_key(i), moving_vals(i).0).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicU64::new(0));
    let duration = Duration::from_secs(3);

    let mut readers = Vec::new();
    for t in 0..2u64 {
        let r = efd.reader();
        let stop = Arc::clone(&stop);
        let checks = Arc::clone(&checks);
        readers.push(std::thread::spawn(move || {
            let paths = LookupPath::supported();
            let mut rng = Rng::new(t + 1);
            let mut keys = [[0u8; 4]; CALL];
            let mut ids = [0u32; CALL];
            let mut out = [0u8; CALL];
            let mut n = 0u64;
            let mut iter = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let path = paths[iter % paths.len()];
                iter += 1;
                // A batch mixing stable and moving keys.
                for j in 0..CALL {
                    let x = rng.next();
                    if x & 1 == 0 {
                        ids[j] = (x >> 8) as u32 % n_stable;
                        keys[j] = stable_key(ids[j]);
                    } else {
                        ids[j] = u32::MAX - ((x >> 8) as u32 % n_moving);
                        keys[j] = moving_key(u32::MAX - ids[j]);
                    }
                }
                let len = 1 + (iter % CALL);
                r.lookup_bulk_with(path, &keys[..len], &mut out[..len]);
                for j in 0..len {
                    if ids[j] < n_stable {
                        assert_eq!(
                            out[j],
                            stable_val(ids[j]),
                            "stable key {} via {path:?}",
                            ids[j]
                        );
                    } else {
                        let i = u32::MAX - ids[j];
                        let (a, b) = moving_vals(i);
                        assert!(
                            out[j] == a || out[j] == b,
                            "moving key {i}: {} not in {{{a}, {b}}}",
                            out[j]
                        );
                    }
                }
                let i = (rng.next() as u32) % n_stable;
                assert_eq!(r.lookup(&stable_key(i)), stable_val(i));
                n += len as u64 + 1;
            }
            checks.fetch_add(n, Ordering::Relaxed);
        }));
    }

    // Writer: flip moving keys, churn extra keys up to and past the capacity
    // (bumps, failed inserts with rollback), remove them again.
    let t0 = Instant::now();
    let mut rng = Rng::new(99);
    let mut flips = 0u64;
    let mut failures = 0u64;
    let mut churn: Vec<u32> = Vec::new();
    let mut next_churn = 0u32;
    let mut phase = vec![false; n_moving as usize];
    while t0.elapsed() < duration {
        for _ in 0..200 {
            let i = (rng.next() as u32) % n_moving;
            phase[i as usize] = !phase[i as usize];
            let (a, b) = moving_vals(i);
            // An update can fail on an over-full table (its new value may
            // need a bump that does not fit); the old value then stays.
            match efd.insert(&moving_key(i), if phase[i as usize] { b } else { a }) {
                Ok(_) => flips += 1,
                Err(_) => phase[i as usize] = !phase[i as usize],
            }
        }
        for _ in 0..200 {
            match efd.insert(&churn_key(next_churn), rng.next() as u8 & mask) {
                Ok(_) => churn.push(next_churn),
                Err(_) => failures += 1,
            }
            next_churn += 1;
        }
        if efd.len() > cap || failures > 0 && rng.next().is_multiple_of(4) {
            for _ in 0..churn.len() / 2 {
                let j = (rng.next() as usize) % churn.len();
                let c = churn.swap_remove(j);
                assert!(efd.remove(&churn_key(c)).is_some());
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("reader thread failed");
    }
    for i in 0..n_stable {
        assert_eq!(efd.lookup(&stable_key(i)), stable_val(i));
    }
    for i in 0..n_moving {
        let (a, b) = moving_vals(i);
        assert_eq!(
            efd.lookup(&moving_key(i)),
            if phase[i as usize] { b } else { a }
        );
    }
    let checks = checks.load(Ordering::Relaxed);
    eprintln!(
        "{bits}-bit values: {flips} flips, {next_churn} churn inserts ({failures} failed), {checks} reader checks, levels {:?}",
        efd.level_keys()
    );
    assert!(flips > 1000 && checks > 10_000);
    assert!(failures > 0, "the stress never reached a full table");
}

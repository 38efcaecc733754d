//! Deterministic tests of the native EFD: load targets, failure and rollback,
//! remove frees room, key lengths, bulk build, API traits.

use efd_lb::efd::{Efd, EfdError, EfdReader, InsertOutcome};

mod common;
use common::Rng;

#[test]
fn reader_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<EfdReader<4>>();
    check::<EfdReader<37>>();
    fn send<T: Send>() {}
    send::<Efd<4>>();
    let e: Box<dyn std::error::Error + Send + Sync> = Box::new(EfdError::TableFull);
    assert!(!e.to_string().is_empty());
}

/// No failure up to 95% of the capacity, sequential and random keys.
#[test]
fn fills_to_95_percent() {
    for &cap in &[100usize, 1000, 10_000, 200_000] {
        for bits in [1u32, 8] {
            let n = cap * 95 / 100;
            let mask = ((1u16 << bits) - 1) as u8;
            let mut e = Efd::<4>::new(cap, bits).unwrap();
            for i in 0..n as u32 {
                e.insert(&i.to_be_bytes(), (i as u8) & mask)
                    .unwrap_or_else(|err| {
                        panic!("cap {cap} bits {bits}: insert {i} failed: {err}")
                    });
            }
            for i in 0..n as u32 {
                assert_eq!(e.lookup(&i.to_be_bytes()), (i as u8) & mask);
            }
            let mut e = Efd::<4>::new(cap, bits).unwrap();
            let mut rng = Rng::new(cap as u64);
            let mut keys = Vec::new();
            while e.len() < n {
                let k = (rng.next() as u32).to_ne_bytes();
                let v = rng.next() as u8 & mask;
                if e.insert(&k, v).unwrap() == InsertOutcome::Inserted {
                    keys.push((k, v));
                } else {
                    keys.retain(|x| x.0 != k);
                    keys.push((k, v));
                }
            }
            for (k, v) in keys {
                assert_eq!(e.lookup(&k), v);
            }
        }
    }
}

/// Fill until the first failure; every failed insert leaves the table as it
/// was; removing keys makes room again.
#[test]
fn failure_rolls_back_and_remove_frees_room() {
    let cap = 2000;
    let mut e = Efd::<4>::new(cap, 8).unwrap();
    let probes: Vec<[u8; 4]> = (0..500u32)
        .map(|i| (0xdead_0000 + i).to_be_bytes())
        .collect();
    let mut rng = Rng::new(42);
    let mut keys: Vec<([u8; 4], u8)> = Vec::new();
    let mut failures = 0;
    while failures < 50 {
        let k = ((rng.next() as u32) & 0x7fff_ffff).to_be_bytes();
        let v = rng.next() as u8;
        let before: Vec<u8> = probes.iter().map(|p| e.lookup(p)).collect();
        let len = e.len();
        match e.insert(&k, v) {
            Ok(InsertOutcome::Inserted) => keys.push((k, v)),
            Ok(_) => {
                let i = keys.iter().position(|x| x.0 == k).unwrap();
                keys[i].1 = v;
            }
            Err(err) => {
                assert_eq!(err, EfdError::TableFull);
                failures += 1;
                assert_eq!(e.len(), len);
                assert!(!e.contains(&k));
                let after: Vec<u8> = probes.iter().map(|p| e.lookup(p)).collect();
                assert_eq!(before, after, "online table changed by a failed insert");
            }
        }
    }
    let full = e.len();
    assert!(full >= cap * 95 / 100, "first failures at {full} of {cap}");
    for &(k, v) in &keys {
        assert_eq!(e.lookup(&k), v);
    }
    // Remove a third of the keys, then insert as many new ones.
    let removed: Vec<([u8; 4], u8)> = keys.drain(..full / 3).collect();
    for (k, v) in &removed {
        assert_eq!(e.remove(k), Some(*v));
    }
    let mut added = 0;
    let mut fails = 0;
    while added < removed.len() * 9 / 10 {
        let k = ((rng.next() as u32) | 0x8000_0000).to_be_bytes();
        let v = rng.next() as u8;
        match e.insert(&k, v) {
            Ok(InsertOutcome::Inserted) => {
                keys.push((k, v));
                added += 1
            }
            Ok(_) => unreachable!(),
            Err(_) => fails += 1,
        }
        assert!(fails < 1000, "removes did not free room ({added} added)");
    }
    for &(k, v) in &keys {
        assert_eq!(e.lookup(&k), v);
    }
}

/// `insert_batch` is exactly a sequence of `insert`s: the same outcome per
/// entry (inserted, updated, unchanged, value too wide, table full) and the
/// same table afterwards, down to the values of keys never inserted.
#[test]
fn insert_batch_matches_single_inserts() {
    let cap = 3000;
    let seed = 77;
    let mut single = Efd::<4>::with_seed(cap, 4, seed).unwrap();
    let mut batched = Efd::<4>::with_seed(cap, 4, seed).unwrap();
    let mut rng = Rng::new(9);
    let mut entries: Vec<([u8; 4], u8)> = Vec::new();
    // Past the capacity, with repeated keys and some values wider than 4 bits.
    for _ in 0..cap * 16 / 10 {
        let k = if entries.len() > 10 && rng.next().is_multiple_of(8) {
            entries[(rng.next() as usize) % entries.len()].0
        } else {
            ((rng.next() as u32) & 0x7fff_ffff).to_be_bytes()
        };
        let v = if rng.next().is_multiple_of(50) {
            16 + (rng.next() as u8 & 7)
        } else {
            rng.next() as u8 & 15
        };
        entries.push((k, v));
    }
    let want: Vec<_> = entries.iter().map(|(k, v)| single.insert(k, *v)).collect();
    let mut got = Vec::new();
    for chunk in entries.chunks(1000) {
        got.extend(batched.insert_batch(chunk));
    }
    assert_eq!(got, want);
    for outcome in [
        Ok(InsertOutcome::Inserted),
        Ok(InsertOutcome::Updated),
        Ok(InsertOutcome::Unchanged),
        Err(EfdError::TableFull),
    ] {
        assert!(want.contains(&outcome), "{outcome:?} not exercised");
    }
    assert!(want
        .iter()
        .any(|r| matches!(r, Err(EfdError::ValueTooWide { .. }))));
    assert_eq!(batched.len(), single.len());
    for i in 0..20_000u32 {
        let k = (i.wrapping_mul(0x9e37_79b9)).to_be_bytes();
        assert_eq!(batched.lookup(&k), single.lookup(&k));
    }
    for (k, _) in &entries {
        assert_eq!(batched.get(k), single.get(k));
    }
}

fn long_keys<const N: usize>() {
    let cap = 5000;
    let mut e = Efd::<N>::new(cap, 8).unwrap();
    let mut rng = Rng::new(N as u64);
    let mut keys = Vec::new();
    for i in 0..cap * 95 / 100 {
        let mut k = [0u8; N];
        for b in k.iter_mut() {
            *b = rng.next() as u8;
        }
        let v = (i * 13) as u8;
        assert_eq!(e.insert(&k, v), Ok(InsertOutcome::Inserted));
        keys.push((k, v));
    }
    for (k, v) in &keys {
        assert_eq!(e.lookup(k), *v);
    }
    let b = Efd::<N>::build(cap, 8, keys.iter().copied()).unwrap();
    for (k, v) in &keys {
        assert_eq!(b.lookup(k), *v);
    }
}

#[test]
fn key_lengths() {
    long_keys::<4>();
    long_keys::<13>();
    long_keys::<16>();
    long_keys::<37>();
}

#[test]
fn build_then_online_updates() {
    let n = 50_000u32;
    let cap = (n as usize) * 100 / 95;
    let mut e = Efd::<4>::build(cap, 8, (0..n).map(|i| (i.to_be_bytes(), i as u8))).unwrap();
    assert_eq!(e.len(), n as usize);
    for i in (0..n).step_by(3) {
        assert_eq!(
            e.insert(&i.to_be_bytes(), !(i as u8)),
            Ok(InsertOutcome::Updated)
        );
    }
    for i in 0..n {
        let want = if i % 3 == 0 { !(i as u8) } else { i as u8 };
        assert_eq!(e.lookup(&i.to_be_bytes()), want);
    }
    let r = e.reader();
    let keys: Vec<u32> = (0..n)
        .map(|i| u32::from_ne_bytes(i.to_be_bytes()))
        .collect();
    let mut out = vec![0u8; keys.len()];
    r.lookup_bulk_u32(&keys, &mut out);
    for i in 0..n {
        let want = if i % 3 == 0 { !(i as u8) } else { i as u8 };
        assert_eq!(out[i as usize], want);
    }
}

#[test]
fn memory_accounting() {
    let e = Efd::<4>::new(1 << 16, 8).unwrap();
    assert!(e.online_bytes() > 0 && e.total_bytes() > e.online_bytes());
    let e1 = Efd::<4>::new(1 << 16, 1).unwrap();
    assert!(e1.online_bytes() < e.online_bytes() / 4);
}

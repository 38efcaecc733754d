//! Every lookup path the CPU supports (scalar, AVX2, ...) returns the same
//! values, for inserted and never-inserted keys, every value width and key
//! length, and any batch length.

use efd_lb::efd::{Efd, LookupPath};

mod common;
use common::Rng;

fn random_key<const N: usize>(rng: &mut Rng) -> [u8; N] {
    let mut k = [0u8; N];
    for b in k.iter_mut() {
        *b = rng.next() as u8;
    }
    k
}

fn check<const N: usize>(bits: u32) {
    let paths = LookupPath::supported();
    eprintln!("key {N} bytes, {bits}-bit values, paths {paths:?}");
    let cap = 20_000;
    let mask = ((1u16 << bits) - 1) as u8;
    let mut rng = Rng::new(bits as u64 * 1000 + N as u64);
    let mut e = Efd::<N>::new(cap, bits).unwrap();
    let mut inserted = Vec::new();
    while e.len() < cap * 96 / 100 {
        let k = random_key::<N>(&mut rng);
        let v = rng.next() as u8 & mask;
        if e.insert(&k, v).is_ok() {
            inserted.push((k, v));
        }
    }
    // Later updates win.
    let mut model = std::collections::HashMap::new();
    for (k, v) in &inserted {
        model.insert(*k, *v);
    }
    let keys: Vec<[u8; N]> = model.keys().copied().collect();
    let others: Vec<[u8; N]> = (0..20_000).map(|_| random_key::<N>(&mut rng)).collect();
    let r = e.reader();
    for set in [&keys, &others] {
        let reference: Vec<u8> = set.iter().map(|k| e.lookup(k)).collect();
        for &path in &paths {
            // Whole slice, then assorted batch lengths.
            let mut out = vec![0u8; set.len()];
            r.lookup_bulk_with(path, set, &mut out);
            assert_eq!(out, reference, "{path:?} whole slice");
            let mut pos = 0;
            let mut len = 0;
            while pos < set.len() {
                let end = (pos + len).min(set.len());
                let mut o = vec![0xeeu8; end - pos];
                r.lookup_bulk_with(path, &set[pos..end], &mut o);
                assert_eq!(o[..], reference[pos..end], "{path:?} batch {pos}..{end}");
                pos = end;
                len = (len + 1) % 71;
            }
        }
        assert!(reference.iter().all(|&v| v <= mask));
    }
    for k in &keys {
        assert_eq!(r.lookup(k), model[k]);
    }
    for (i, k) in keys.iter().enumerate() {
        let mut o = [0u8; 1];
        r.lookup_bulk(std::slice::from_ref(k), &mut o);
        assert_eq!(o[0], model[k], "key #{i}");
    }
}

#[test]
fn all_paths_agree_4byte_all_widths() {
    for bits in 1..=8 {
        check::<4>(bits);
    }
}

#[test]
fn all_paths_agree_long_keys() {
    for bits in [1, 3, 5, 8] {
        // 6 bytes: no key kind's length, one padded word each.
        check::<6>(bits);
        check::<8>(bits);
        check::<13>(bits);
        check::<16>(bits);
        check::<37>(bits);
    }
}

#[test]
fn u32_batches_match_byte_keys() {
    let mut e = Efd::<4>::new(10_000, 8).unwrap();
    for i in 0..9_000u32 {
        e.insert(&i.to_ne_bytes(), (i % 251) as u8).unwrap();
    }
    let r = e.reader();
    let keys: Vec<u32> = (0..9_000).collect();
    let mut out = vec![0u8; keys.len()];
    r.lookup_bulk_u32(&keys, &mut out);
    for (i, o) in out.iter().enumerate() {
        assert_eq!(*o, (i % 251) as u8);
    }
}

#[test]
#[should_panic(expected = "shorter")]
fn short_output_panics() {
    let e = Efd::<4>::new(100, 8).unwrap();
    let mut out = [0u8; 1];
    e.reader().lookup_bulk(&[[0u8; 4]; 2], &mut out);
}

//! Property tests of the native EFD against a `HashMap` model.

use efd_lb::efd::{Efd, EfdError, InsertOutcome, LookupPath};
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone)]
enum Op {
    Insert(u16, u8),
    Remove(u16),
}

fn ops(max_key: u16, len: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0..max_key, any::<u8>()).prop_map(|(k, v)| Op::Insert(k, v)),
            1 => (0..max_key).prop_map(Op::Remove),
        ],
        1..len,
    )
}

/// Expand a small id into an `N`-byte key (distinct ids give distinct keys).
fn key<const N: usize>(id: u16, salt: u8) -> [u8; N] {
    let mut k = [salt; N];
    let b = id.to_le_bytes();
    k[0] = b[0];
    k[N - 1] ^= b[1];
    if N > 2 {
        k[N / 2] = b[1].wrapping_mul(31) ^ salt;
    }
    k
}

fn probe_values<const N: usize>(e: &Efd<N>, probes: &[[u8; N]]) -> Vec<u8> {
    probes.iter().map(|k| e.lookup(k)).collect()
}

fn run<const N: usize>(
    capacity: usize,
    bits: u32,
    ops: &[Op],
    salt: u8,
) -> Result<(), TestCaseError> {
    let mut e = Efd::<N>::new(capacity, bits).unwrap();
    let reader = e.reader();
    let mask = ((1u16 << bits) - 1) as u8;
    let mut model: HashMap<[u8; N], u8> = HashMap::new();
    let probes: Vec<[u8; N]> = (0..64).map(|i| key::<N>(60_000 + i, salt)).collect();
    for op in ops {
        match *op {
            Op::Insert(id, v) => {
                let k = key::<N>(id, salt);
                let v = v & mask;
                let before = probe_values(&e, &probes);
                let len_before = e.len();
                match e.insert(&k, v) {
                    Ok(outcome) => {
                        let expect = match model.insert(k, v) {
                            None => InsertOutcome::Inserted,
                            Some(old) if old == v => InsertOutcome::Unchanged,
                            Some(_) => InsertOutcome::Updated,
                        };
                        prop_assert_eq!(outcome, expect);
                    }
                    Err(err) => {
                        prop_assert_eq!(err, EfdError::TableFull);
                        // A failed insert leaves the table exactly as before.
                        prop_assert_eq!(e.len(), len_before);
                        prop_assert_eq!(probe_values(&e, &probes), before);
                        prop_assert_eq!(e.get(&k), model.get(&k).copied());
                    }
                }
            }
            Op::Remove(id) => {
                let k = key::<N>(id, salt);
                prop_assert_eq!(e.remove(&k), model.remove(&k));
            }
        }
        prop_assert_eq!(e.len(), model.len());
    }
    let keys: Vec<[u8; N]> = model.keys().copied().collect();
    for path in LookupPath::supported() {
        let mut out = vec![0u8; keys.len()];
        reader.lookup_bulk_with(path, &keys, &mut out);
        for (k, o) in keys.iter().zip(&out) {
            prop_assert_eq!(*o, model[k], "path {:?}", path);
        }
    }
    for (k, v) in &model {
        prop_assert_eq!(e.lookup(k), *v);
        prop_assert_eq!(reader.lookup(k), *v);
        prop_assert_eq!(e.get(k), Some(*v));
    }
    let mut stored: Vec<([u8; N], u8)> = e.iter().collect();
    stored.sort();
    let mut expect: Vec<([u8; N], u8)> = model.into_iter().collect();
    expect.sort();
    prop_assert_eq!(stored, expect);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Tiny tables: groups saturate, keys get bumped, inserts fail.
    #[test]
    fn tiny_4byte(ops in ops(400, 600), bits in 1u32..=8, cap in 16usize..300, salt: u8) {
        run::<4>(cap, bits, &ops, salt)?;
    }

    #[test]
    fn small_4byte(ops in ops(3000, 2500), bits in prop::sample::select(vec![1u32, 2, 4, 8]), salt: u8) {
        run::<4>(2000, bits, &ops, salt)?;
    }

    #[test]
    fn tiny_13byte(ops in ops(400, 500), bits in 1u32..=8, cap in 16usize..300, salt: u8) {
        run::<13>(cap, bits, &ops, salt)?;
    }

    #[test]
    fn tiny_16byte(ops in ops(400, 500), bits in 1u32..=8, cap in 16usize..300, salt: u8) {
        run::<16>(cap, bits, &ops, salt)?;
    }

    #[test]
    fn tiny_37byte(ops in ops(400, 500), bits in 1u32..=8, cap in 16usize..300, salt: u8) {
        run::<37>(cap, bits, &ops, salt)?;
    }

    /// Bulk build agrees with the model (duplicates: last wins).
    #[test]
    fn build_matches_model(entries in prop::collection::vec((0u16..3000, any::<u8>()), 0..3000), salt: u8) {
        let kv: Vec<([u8; 4], u8)> = entries.iter().map(|&(id, v)| (key::<4>(id, salt), v)).collect();
        let e = Efd::<4>::build(3200, 8, kv.iter().copied()).unwrap();
        let model: HashMap<[u8; 4], u8> = kv.iter().copied().collect();
        prop_assert_eq!(e.len(), model.len());
        for (k, v) in &model {
            prop_assert_eq!(e.lookup(k), *v);
            prop_assert_eq!(e.get(k), Some(*v));
        }
    }
}

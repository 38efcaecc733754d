//! Differential test: for inserted keys, the native EFD returns the same
//! values as DPDK's `rte_efd` (scalar path: DPDK 22.11's AVX2 lookup is
//! broken, hence `--force-max-simd-bitwidth=128`).

use dpdk::eal::Eal;
use dpdk::efd::RteEfd;
use efd_lb::efd::{Efd, LookupPath};

mod common;
use common::Rng;

#[test]
fn native_matches_rte_efd_for_inserted_keys() {
    let _eal = Eal::init(&[
        "efd_vs_rte_efd",
        "--no-huge",
        "-m",
        "2048",
        "--no-shconf",
        "--force-max-simd-bitwidth=128",
        "--no-pci",
        "--log-level=lib.eal:error",
    ])
    .expect("EAL init");
    let n = 50_000usize;
    let cap = n * 100 / 95;
    let mut rte = RteEfd::new("efd_diff", cap as u32, 4).expect("rte_efd_create");
    let mut native = Efd::<4>::new(cap, 8).unwrap();
    let mut rng = Rng::new(7);
    let mut keys: Vec<([u8; 4], u8)> = Vec::new();
    // IPv4 destinations (sequential) and random keys, then some updates and
    // removes.
    for i in 0..n as u32 {
        let k = if i % 2 == 0 {
            i.to_be_bytes()
        } else {
            (rng.next() as u32 | 1 << 31).to_be_bytes()
        };
        let v = rng.next() as u8;
        rte.update(&k, v).expect("rte_efd_update");
        native.insert(&k, v).expect("native insert");
        keys.push((k, v));
    }
    for (k, v) in keys.iter_mut().step_by(7) {
        *v = v.wrapping_add(1);
        rte.update(k, *v).unwrap();
        native.insert(k, *v).unwrap();
    }
    let removed: Vec<_> = keys.drain(..n / 10).collect();
    for (k, _) in &removed {
        rte.delete(k).unwrap();
        native.remove(k).unwrap();
    }
    // Later duplicates win in both.
    let model: std::collections::HashMap<[u8; 4], u8> = keys.iter().copied().collect();
    let reader = native.reader();
    let all: Vec<([u8; 4], u8)> = model.into_iter().collect();
    let mut mismatches = 0;
    for chunk in all.chunks(32) {
        let ks: Vec<[u8; 4]> = chunk.iter().map(|x| x.0).collect();
        let mut a = [0u8; 32];
        rte.lookup_bulk(&ks, &mut a);
        for path in LookupPath::supported() {
            let mut b = [0u8; 32];
            reader.lookup_bulk_with(path, &ks, &mut b[..ks.len()]);
            for (j, (_, v)) in chunk.iter().enumerate() {
                assert_eq!(b[j], *v, "native {path:?}");
                if a[j] != b[j] {
                    mismatches += 1;
                }
            }
        }
        for (k, v) in chunk {
            assert_eq!(rte.lookup(k), *v, "rte_efd single lookup");
        }
    }
    assert_eq!(mismatches, 0, "native and rte_efd disagree");
}

//! Exercises the safe layer on DPDK's virtual devices: EAL once, mempool,
//! null ports, rings, lcore launch with a caught panic, and every mbuf back
//! in its pool at the end. One EAL per test binary, so one test function.

use dpdk::eal::Eal;
use dpdk::mbuf::Burst;
use dpdk::mempool::Mempool;
use dpdk::port::{self, Port, PortConf};
use dpdk::ring;

#[test]
fn safe_layer_on_virtual_devices() {
    let eal = Eal::init(&[
        "eal_layer",
        "--no-huge",
        "-m",
        "256",
        "--no-shconf",
        "--no-pci",
        "--lcores",
        "0@0,1@0",
        "--vdev",
        "net_null0,copy=0",
        "--log-level",
        "lib.eal:error",
    ])
    .expect("EAL init");
    // A second init is an error, not a crash.
    let again = Eal::init(&["x"]).err().expect("second init must fail");
    assert!(again.to_string().contains("once per process"), "{again}");

    assert_eq!(port::count_avail(), 1);
    let pool = Mempool::new_pktmbuf("test_pool", 4095, 32, 0, None).expect("mempool");
    let base_avail = pool.avail_count();
    assert_eq!(base_avail, 4095);
    // Named mempool drivers (plugins); an unknown one is a clear error.
    for ops in ["stack", "ring_mp_mc"] {
        let p = Mempool::new_pktmbuf(&format!("pool_{ops}"), 511, 16, 0, Some(ops))
            .unwrap_or_else(|e| panic!("{ops}: {e}"));
        let m = p.alloc().expect("alloc");
        assert_eq!(p.in_use_count(), 1);
        drop(m);
        assert_eq!(p.avail_count(), 511);
    }
    let e = Mempool::new_pktmbuf("pool_bad", 511, 16, 0, Some("no_such_ops"))
        .err()
        .expect("unknown mempool ops must fail");
    assert!(e.to_string().contains("no_such_ops"), "{e}");

    let p = Port::new(0).expect("port 0");
    assert!(p.name().starts_with("net_null"), "{}", p.name());
    assert!(Port::new(7).is_err());
    let (mut rxq, mut txq) = p
        .configure(
            PortConf {
                rx_queues: 1,
                tx_queues: 2,
                rx_desc: 256,
                tx_desc: 256,
            },
            &pool,
        )
        .expect("configure");
    p.start().expect("start");

    // The null PMD generates packets on rx and swallows them on tx.
    let mut burst: Burst<32> = Burst::new();
    let n = rxq[0].rx_burst(&mut burst);
    assert_eq!(n, 32);
    assert_eq!(burst.as_slice()[0].pkt_len(), 64);
    let sent = txq[1].tx_burst(&mut burst);
    assert_eq!(sent, 32);
    assert!(burst.is_empty());

    // The lcore cache's upcoming mbufs are the ones the device's next
    // allocations return (the tx above put 32 back in this lcore's cache).
    let cache = rxq[0].alloc_cache().expect("the main lcore has a cache");
    let next: Vec<_> = cache.upcoming(8).collect();
    assert_eq!(next.len(), 8);
    cache.prefetch_next(32);
    let mut eight: Burst<8> = Burst::new();
    assert_eq!(rxq[0].rx_burst(&mut eight), 8);
    let got: Vec<_> = eight.as_slice().iter().map(|m| m.as_ptr()).collect();
    assert_eq!(
        got, next,
        "the PMD allocates the cache's top mbufs, top first"
    );
    drop(eight);

    // Rings: all-or-nothing bulk enqueue, burst dequeue, leftovers freed on drop.
    let (mut prod, mut cons) = ring::mbuf_ring("test_ring", 64, 0).expect("ring");
    let mut full: Burst<32> = Burst::new();
    rxq[0].rx_burst(&mut full);
    assert!(prod.enqueue_bulk(&mut full));
    assert!(full.is_empty());
    rxq[0].rx_burst(&mut full);
    assert!(
        !prod.enqueue_bulk(&mut full),
        "63 usable slots cannot take 64"
    );
    assert_eq!(
        full.len(),
        32,
        "a failed bulk enqueue leaves the burst as it was"
    );
    assert_eq!(prod.count(), 32);
    let mut out: Burst<32> = Burst::new();
    assert_eq!(cons.dequeue_burst(&mut out), 32);
    drop(out);
    assert!(prod.enqueue_bulk(&mut full));
    assert_eq!(cons.count(), 32);
    drop(full);
    drop(prod);
    drop(cons); // frees the 32 still queued

    // A producer lcore and this thread as consumer, many laps around a small
    // ring with uneven bursts: every mbuf arrives once, in order.
    const TOTAL: u32 = 3000;
    let (mut prod, mut cons) = ring::mbuf_ring("lap_ring", 64, 0).expect("ring");
    let mut mbufs = Vec::new();
    for seq in 0..TOTAL {
        let mut m = pool.alloc().expect("alloc");
        m.set_tag(seq);
        mbufs.push(m);
    }
    // Both sides give up at the deadline, so a broken ring fails the test
    // instead of hanging it (the handle's drop waits for the producer).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let h = eal
        .launch(1, move || {
            let mut it = mbufs.into_iter().peekable();
            let mut b: Burst<32> = Burst::new();
            let mut size = 1;
            while it.peek().is_some() {
                while b.len() < size {
                    match it.next() {
                        Some(m) => assert!(b.push(m).is_ok()),
                        None => break,
                    }
                }
                while !prod.enqueue_bulk(&mut b) {
                    if std::time::Instant::now() >= deadline {
                        return;
                    }
                    std::hint::spin_loop();
                }
                size = size % 32 + 1;
            }
        })
        .expect("launch");
    // Uneven dequeue sizes too: bursts of 32, 7 and 1.
    fn take<const N: usize>(cons: &mut ring::Consumer, next: &mut u32) {
        let mut part: Burst<N> = Burst::new();
        cons.dequeue_burst(&mut part);
        for m in part.drain() {
            assert_eq!(m.tag(), *next, "ring order");
            *next += 1;
        }
    }
    let mut next = 0;
    let mut round = 0u32;
    while next < TOTAL {
        assert!(
            std::time::Instant::now() < deadline,
            "ring delivered {next} of {TOTAL} mbufs"
        );
        match round % 3 {
            0 => take::<32>(&mut cons, &mut next),
            1 => take::<7>(&mut cons, &mut next),
            _ => take::<1>(&mut cons, &mut next),
        }
        round += 1;
    }
    h.join().expect("producer ok");
    assert_eq!(cons.count(), 0);
    drop(cons);

    // Launching on a worker lcore; a panic is reported, not propagated into C.
    let workers = eal.worker_lcores();
    assert_eq!(workers, vec![1]);
    let h = eal
        .launch(1, || {
            assert_ne!(dpdk::eal::lcore_id(), u32::MAX);
        })
        .expect("launch");
    h.join().expect("worker ok");
    // The expected panic is reported through join(); keep it off stderr.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let h = eal.launch(1, || panic!("boom")).expect("launch");
    let err = h.join().unwrap_err();
    std::panic::set_hook(default_hook);
    assert!(err.contains("boom"), "{err}");

    p.stop().expect("stop");
    p.close().expect("close");
    assert_eq!(
        pool.avail_count(),
        base_avail,
        "every mbuf back in the pool"
    );
}

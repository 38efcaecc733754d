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
    let pool = Mempool::new_pktmbuf("test_pool", 4095, 32, 0).expect("mempool");
    let base_avail = pool.avail_count();
    assert_eq!(base_avail, 4095);

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

//! Test-only fault injection (`[faults]`): a node whose ring its worker
//! stops dequeuing, TX queues that refuse every packet, and a thread that
//! takes every free mbuf of the pool, each for a window of time counted from
//! the moment the loops are launched. All are off by default; off, they
//! cost one branch on an `Option` per ring dequeue round or transmit.
//!
//! What each one is for, and the test that uses it, is in the README
//! ("Fault injection") and `tests/faults.rs`.

use crate::lcore::io::{Io, TxQueue};
use dpdk::mbuf::Mbuf;
use dpdk::mempool::Mempool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Largest `*_after_ms` (one day).
pub const MAX_AFTER_MS: i64 = 86_400_000;
/// Largest window, `*_ms` (ten minutes).
pub const MAX_WINDOW_MS: i64 = 600_000;

/// When a fault is on: from `after` past the launch, for `length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// From the launch of the loops to the start of the window.
    pub after: Duration,
    /// How long the window lasts (never zero).
    pub length: Duration,
}

impl Timing {
    /// The window in time, for loops launched at `origin`.
    pub fn window(&self, origin: Instant) -> FaultWindow {
        let start = origin + self.after;
        FaultWindow {
            start,
            end: start + self.length,
        }
    }
}

/// The configured faults (`[faults]`); the default has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultSettings {
    /// `stall_node`, `stall_after_ms`, `stall_ms`: the node whose ring its
    /// worker leaves alone for the window.
    pub stall: Option<(u16, Timing)>,
    /// `tx_refuse_after_ms`, `tx_refuse_ms`: every TX queue takes nothing
    /// for the window.
    pub tx_refuse: Option<Timing>,
    /// `pool_hold_after_ms`, `pool_hold_ms`: a thread takes every free mbuf
    /// of the pool for the window.
    pub pool_hold: Option<Timing>,
}

impl FaultSettings {
    /// Whether any fault is configured.
    pub fn any(&self) -> bool {
        self.stall.is_some() || self.tx_refuse.is_some() || self.pool_hold.is_some()
    }

    /// One line naming every configured fault, for the log.
    pub fn describe(&self) -> String {
        let ms = |d: Duration| d.as_millis();
        let mut parts = Vec::new();
        if let Some((node, t)) = self.stall {
            parts.push(format!(
                "node {node} stalled from {} ms for {} ms",
                ms(t.after),
                ms(t.length)
            ));
        }
        if let Some(t) = self.tx_refuse {
            parts.push(format!(
                "TX refused from {} ms for {} ms",
                ms(t.after),
                ms(t.length)
            ));
        }
        if let Some(t) = self.pool_hold {
            parts.push(format!(
                "mbuf pool held from {} ms for {} ms",
                ms(t.after),
                ms(t.length)
            ));
        }
        parts.join(", ")
    }
}

/// A window of time during which a fault is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultWindow {
    /// The first instant it is on.
    pub start: Instant,
    /// The first instant it is off again.
    pub end: Instant,
}

impl FaultWindow {
    /// Whether the fault is on now.
    #[inline]
    pub fn active(&self) -> bool {
        self.active_at(Instant::now())
    }

    /// Whether the fault is on at `t`.
    #[inline]
    pub fn active_at(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }
}

/// A TX queue that, while its window is on, takes nothing: the worker's
/// `tx_drop` path frees and counts what it was given, as for a device that
/// refuses packets. Without a window it is the queue itself.
pub struct FaultyTx<T> {
    inner: T,
    refuse: Option<FaultWindow>,
}

impl<T> FaultyTx<T> {
    /// `inner`, refusing every packet during `refuse`.
    pub fn new(inner: T, refuse: Option<FaultWindow>) -> Self {
        FaultyTx { inner, refuse }
    }
}

impl<I: Io, T: TxQueue<I>> TxQueue<I> for FaultyTx<T> {
    #[inline(always)]
    fn tx_burst<const N: usize>(&mut self, burst: &mut I::Burst<N>) -> usize {
        if let Some(w) = &self.refuse {
            if w.active() {
                return 0;
            }
        }
        self.inner.tx_burst(burst)
    }
}

/// The thread of `pool_hold`: during its window it takes every mbuf the
/// pool has free, again and again (mbufs the workers free come back to the
/// pool's shared store), so that receives find none; at the end of the
/// window, or when stopped, it gives them all back.
pub struct PoolHold {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<usize>>,
}

/// How often the holding thread takes what was freed meanwhile.
const HOLD_POLL: Duration = Duration::from_micros(200);

impl PoolHold {
    /// Starts the thread holding `pool`'s free mbufs during `window`.
    pub fn start(pool: Arc<Mempool>, window: FaultWindow) -> std::io::Result<PoolHold> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("efd-lb-pool-hold".into())
            .spawn(move || hold(&pool, window, &s))?;
        Ok(PoolHold {
            stop,
            thread: Some(thread),
        })
    }

    /// Ends the hold now (if it is on) and waits for every mbuf to be back;
    /// returns the most mbufs it held at once.
    pub fn stop(mut self) -> usize {
        self.finish()
    }

    fn finish(&mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map_or(0, |t| t.join().unwrap_or_default())
    }
}

impl Drop for PoolHold {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Sleeps until `until` or a stop, in short steps; returns whether stopped.
fn sleep_until(until: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let now = Instant::now();
        if now >= until {
            return false;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(10)));
    }
}

fn hold(pool: &Mempool, window: FaultWindow, stop: &AtomicBool) -> usize {
    if sleep_until(window.start, stop) {
        return 0;
    }
    // Not an EAL thread: no mempool cache, every allocation comes from the
    // pool's shared store, and every free goes back to it.
    let mut held: Vec<Mbuf> = Vec::with_capacity(pool.size() as usize);
    while Instant::now() < window.end && !stop.load(Ordering::Relaxed) {
        while let Some(m) = pool.alloc() {
            held.push(m);
        }
        std::thread::sleep(HOLD_POLL);
    }
    let most = held.len();
    tracing::info!(mbufs = most, "fault injection: mbuf pool hold ends");
    drop(held);
    most
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lcore::io::PacketBurst;
    use crate::lcore::loopback::{LoopPool, LoopTx, Loopback};

    #[test]
    fn a_window_is_on_from_its_start_to_before_its_end() {
        let origin = Instant::now();
        let w = Timing {
            after: Duration::from_millis(100),
            length: Duration::from_millis(50),
        }
        .window(origin);
        let at = |ms| origin + Duration::from_millis(ms);
        assert!(!w.active_at(at(99)));
        assert!(w.active_at(at(100)));
        assert!(w.active_at(at(149)));
        assert!(!w.active_at(at(150)));
    }

    #[test]
    fn a_refusing_tx_takes_nothing_during_its_window_and_everything_outside() {
        let pool = LoopPool::new();
        let inner = LoopTx::new(1);
        let burst = |n: usize| {
            let mut b: <Loopback as Io>::Burst<32> = PacketBurst::empty();
            for _ in 0..n {
                let _ = b.push(pool.packet(&[0u8; 60], 0));
            }
            b
        };
        let now = Instant::now();
        let on = FaultWindow {
            start: now,
            end: now + Duration::from_secs(3600),
        };
        let mut tx = FaultyTx::new(inner.clone(), Some(on));
        let mut b = burst(10);
        assert_eq!(TxQueue::<Loopback>::tx_burst(&mut tx, &mut b), 0);
        assert_eq!(b.len(), 10, "the refused packets stay with the caller");
        let past = FaultWindow {
            start: now - Duration::from_secs(2),
            end: now - Duration::from_secs(1),
        };
        let mut tx = FaultyTx::new(inner.clone(), Some(past));
        assert_eq!(TxQueue::<Loopback>::tx_burst(&mut tx, &mut b), 10);
        let mut tx = FaultyTx::new(inner.clone(), None);
        let mut b = burst(5);
        assert_eq!(TxQueue::<Loopback>::tx_burst(&mut tx, &mut b), 5);
        assert_eq!(inner.take_sent().len(), 15);
    }

    #[test]
    fn the_description_names_every_fault() {
        let t = |a, l| Timing {
            after: Duration::from_millis(a),
            length: Duration::from_millis(l),
        };
        assert!(!FaultSettings::default().any());
        let f = FaultSettings {
            stall: Some((2, t(1000, 500))),
            tx_refuse: Some(t(0, 10)),
            pool_hold: Some(t(20, 30)),
        };
        assert!(f.any());
        assert_eq!(
            f.describe(),
            "node 2 stalled from 1000 ms for 500 ms, TX refused from 0 ms for 10 ms, mbuf pool held from 20 ms for 30 ms"
        );
    }
}

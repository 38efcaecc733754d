//! The loops that run on EAL lcores: the [`distributor`] (rx, flow key, EFD
//! lookup, per-node rings) and the [`worker`]s (per-node flow filter, tx on
//! the paired port). Both stop through a shared [`StopFlags`].
//!
//! The loops are generic over [`io::Io`]: DPDK's mbufs and queues in the
//! appliance, the in-memory ones of [`loopback`] in tests. Design notes:
//! `DESIGN.md` beside this file.

pub mod distributor;
pub mod flow_table;
pub mod io;
pub mod loopback;
pub mod worker;

use std::sync::atomic::{AtomicBool, Ordering};

/// Largest burst the loops handle (`[ports] burst`): the capacity of their
/// packet arrays. The configured burst is used all along the path: the rx
/// burst, the EFD lookup call, ring enqueue and dequeue, and transmit.
pub const MAX_BURST: usize = 512;

/// Two-phase shutdown: the distributor stops receiving first; the workers
/// then drain their rings and stop, so every enqueued packet is accounted for.
#[derive(Debug, Default)]
pub struct StopFlags {
    rx: AtomicBool,
    workers: AtomicBool,
}

impl StopFlags {
    /// Tells the distributor to stop receiving.
    pub fn stop_rx(&self) {
        self.rx.store(true, Ordering::Release);
    }

    /// Tells the workers to drain their rings and return.
    pub fn stop_workers(&self) {
        self.workers.store(true, Ordering::Release);
    }

    /// Whether the distributor should stop.
    #[inline]
    pub fn rx_stopped(&self) -> bool {
        self.rx.load(Ordering::Relaxed)
    }

    /// Whether the workers should drain and stop.
    #[inline]
    pub fn workers_stopped(&self) -> bool {
        self.workers.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_is_two_phase() {
        let s = StopFlags::default();
        assert!(!s.rx_stopped() && !s.workers_stopped());
        s.stop_rx();
        assert!(s.rx_stopped() && !s.workers_stopped());
        s.stop_workers();
        assert!(s.workers_stopped());
    }
}

#[cfg(test)]
mod key_tests;
#[cfg(test)]
mod loop_tests;

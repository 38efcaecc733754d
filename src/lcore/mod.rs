//! The loops that run on EAL lcores: the [`distributor`] (rx, flow key, EFD
//! lookup, per-node rings) and the [`worker`]s (per-node flow filter, tx on
//! the paired port). Both stop through a shared [`StopFlags`].

pub mod distributor;
pub mod flow_table;
pub mod worker;

use std::sync::atomic::{AtomicBool, Ordering};

/// Largest burst the loops handle at once (rx burst, ring dequeue, tx buffer).
pub const MAX_BURST: usize = 32;

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

/// The port a node transmits on for a packet that arrived on `port_index`
/// (an index into the enabled ports): ports are paired 0↔1, 2↔3, …; an odd
/// last port sends on itself.
#[inline]
pub fn paired_port(port_index: usize, num_ports: usize) -> usize {
    let pair = port_index ^ 1;
    if pair < num_ports {
        pair
    } else {
        port_index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_pair_up_and_an_odd_last_port_sends_on_itself() {
        assert_eq!(paired_port(0, 2), 1);
        assert_eq!(paired_port(1, 2), 0);
        assert_eq!(paired_port(2, 4), 3);
        assert_eq!(paired_port(3, 4), 2);
        assert_eq!(paired_port(2, 3), 2);
        assert_eq!(paired_port(0, 1), 0);
    }

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

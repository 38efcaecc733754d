//! Start-up, step 3, and everything after: the **supervisor** owns what
//! lives for the whole run. It keeps the flow control ([`FlowControl`]: the
//! EFD table's writer and the workers' change queues; the loops only hold
//! readers), samples and draws the stats on the main lcore, and runs
//! the shutdown sequence: the distributor stops, the workers drain their
//! rings, the final stats are printed, the ports are stopped and closed,
//! and the pool is checked for lost mbufs.

use super::launch::Launched;
use super::{AppError, Outcome};
use crate::control::FlowControl;
use crate::efd::Efd;
use crate::key::FlowKey;
use crate::stats::{render, render_final, PortInfo, Snapshot, StatsFormat};
use dpdk::port::Port;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How the supervisor reports and when it stops.
#[derive(Debug, Clone, Copy)]
pub struct SupervisorConfig {
    /// Stop after this long; `None` runs until a signal.
    pub duration: Option<Duration>,
    /// Stats refresh period.
    pub stats_period: Duration,
    /// Stats output format (`Auto` picks by the terminal).
    pub stats_format: StatsFormat,
}

/// A running appliance and the writer of its flow tables.
pub struct Supervisor<K: FlowKey<Bytes = [u8; N]>, const N: usize> {
    control: FlowControl<K, N>,
    run: Launched<K>,
    config: SupervisorConfig,
}

impl<K: FlowKey<Bytes = [u8; N]>, const N: usize> Supervisor<K, N> {
    /// Takes over a launched run whose distributor reads `efd`.
    pub fn new(efd: Efd<N>, mut run: Launched<K>, config: SupervisorConfig) -> Self {
        let control = FlowControl::new(
            efd,
            std::mem::take(&mut run.node_links),
            run.distributor_sync.clone(),
            run.stats.clone(),
        );
        Supervisor {
            control,
            run,
            config,
        }
    }

    /// The flow control, for changes while the appliance runs.
    pub fn control(&mut self) -> &mut FlowControl<K, N> {
        &mut self.control
    }

    /// Draws the stats until `stop_signal` is set or the duration ends, then
    /// shuts down. The outcome holds the final counters and the mbufs not
    /// returned to the pool.
    pub fn run(self, stop_signal: &AtomicBool) -> Result<Outcome, AppError> {
        let Supervisor {
            control,
            run,
            config,
        } = self;
        let started = Instant::now();
        let mut out = std::io::stdout().lock();
        let fmt = config
            .stats_format
            .resolve(std::io::IsTerminal::is_terminal(&std::io::stdout()));
        let mut prev: Option<Snapshot> = None;
        let mut next_draw = started + config.stats_period;
        loop {
            if stop_signal.load(Ordering::Relaxed) {
                break;
            }
            if config.duration.is_some_and(|d| started.elapsed() >= d) {
                break;
            }
            let now = Instant::now();
            if now >= next_draw {
                let snap = run.stats.snapshot(&port_infos(&run.ports));
                let rates = prev.as_ref().map(|p| crate::stats::rates(p, &snap));
                let _ = render(fmt, &snap, rates.as_ref(), &mut out);
                let _ = out.flush();
                prev = Some(snap);
                next_draw += config.stats_period;
                if next_draw < now {
                    next_draw = now + config.stats_period;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }

        // Shutdown: distributor first, then workers drain their rings.
        let Launched {
            ports,
            pool,
            stats,
            stop,
            distributor,
            workers,
            ..
        } = run;
        stop.stop_rx();
        let mut failures = Vec::new();
        if let Err(e) = distributor.join() {
            failures.push(e);
        }
        stop.stop_workers();
        for h in workers {
            if let Err(e) = h.join() {
                failures.push(e);
            }
        }
        // No lcore reads the tables any more.
        drop(control);
        let last = stats.snapshot(&port_infos(&ports));
        for p in &ports {
            let _ = p.stop();
        }
        for p in &ports {
            let _ = p.close();
        }
        let _ = render_final(fmt, &last, None, &mut out);
        let mbufs_in_use = pool.in_use_count();
        drop(pool);
        if !failures.is_empty() {
            return Err(AppError(failures.join("; ")));
        }
        Ok(Outcome { last, mbufs_in_use })
    }
}

/// Port names, MACs and PMD counters for the stats screen.
fn port_infos(ports: &[Port]) -> Vec<PortInfo> {
    ports
        .iter()
        .map(|p| PortInfo {
            id: p.id(),
            name: p.name(),
            mac: p.mac(),
            hw: p.stats().ok().map(|s| crate::stats::HwPortStats {
                ipackets: s.ipackets,
                opackets: s.opackets,
                imissed: s.imissed,
                ierrors: s.ierrors,
                oerrors: s.oerrors,
                rx_nombuf: s.rx_nombuf,
            }),
        })
        .collect()
}

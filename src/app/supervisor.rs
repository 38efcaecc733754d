//! Start-up, step 3, and everything after: the **supervisor** owns what
//! lives for the whole run. It keeps the flow control ([`FlowControl`]: the
//! EFD table's writer and the workers' change queues; the loops only hold
//! readers), samples and draws the stats on the main lcore, and runs
//! the shutdown sequence: the distributor stops, the workers drain their
//! rings, the final stats are printed, the ports are stopped and closed,
//! and the pool is checked for lost mbufs. Besides a signal and the
//! duration, a port the watcher finds dead (its interface deleted) starts
//! the shutdown; the run then ends with that problem (exit status 1).

use super::launch::Launched;
use super::{AppError, Outcome};
use crate::config::ControlSettings;
use crate::control::api::ControlHandle;
use crate::control::balance::NodePolicy;
use crate::control::http::{self, HttpConfig, HttpServer, Views};
use crate::control::service::{ControlService, ServiceConfig};
use crate::control::status::{ControlStatus, ControlStatusCell};
use crate::control::FlowControl;
use crate::efd::Efd;
use crate::key::FlowKey;
use crate::metrics;
use crate::stats::{render, render_final, PortInfo, Snapshot, StatsFormat};
use dpdk::port::Port;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the counters are sampled for `/stats` and `/metrics`.
const SAMPLE_PERIOD: Duration = Duration::from_millis(100);

/// The JSON of `--stats-format json` for one snapshot (what `GET /stats`
/// returns), without the trailing newline.
fn stats_json(snap: &Snapshot) -> String {
    let mut buf = Vec::new();
    let _ = render(StatsFormat::Json, snap, None, &mut buf);
    String::from_utf8_lossy(&buf).trim_end().to_string()
}

/// The control plane's view of the nodes, under the stats screen.
fn render_nodes(status: &ControlStatus, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Control - flows: {} of {}, unknown flows: {}, adopted: {}, table_full: {}",
        status.flows, status.capacity, status.unknown_flows, status.adopted, status.table_full
    )?;
    for n in &status.nodes {
        writeln!(
            out,
            "Node {:3} - state: {:8}, weight: {:5}, flows: {:9}",
            n.id,
            n.state.name(),
            n.weight,
            n.flows
        )?;
    }
    Ok(())
}

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
    run: Launched<K>,
    config: SupervisorConfig,
    /// The control thread; it hands the flow control back when it stops.
    control: std::thread::JoinHandle<FlowControl<K, N>>,
    control_stop: Arc<AtomicBool>,
    handle: ControlHandle,
    http: Option<HttpServer>,
    status: ControlStatusCell,
    latest: Arc<Mutex<Option<Snapshot>>>,
}

/// What [`Supervisor::start_control`] started.
struct ControlParts<K: FlowKey<Bytes = [u8; N]>, const N: usize> {
    control: std::thread::JoinHandle<FlowControl<K, N>>,
    control_stop: Arc<AtomicBool>,
    handle: ControlHandle,
    http: Option<HttpServer>,
    status: ControlStatusCell,
    latest: Arc<Mutex<Option<Snapshot>>>,
}

impl<K: FlowKey<Bytes = [u8; N]>, const N: usize> Supervisor<K, N> {
    /// Takes over a launched run whose distributor reads `efd`: starts the
    /// control thread (the only writer of the tables from now on, pinned to
    /// `control.cpu` or the main lcore's CPU) and, with `control.listen`,
    /// the HTTP API.
    ///
    /// If that fails, the run is stopped (lcores joined, ports closed)
    /// before the error returns: nothing is left running.
    pub fn new(
        efd: Efd<N>,
        mut run: Launched<K>,
        config: SupervisorConfig,
        policy: Vec<NodePolicy>,
        service: ServiceConfig,
        settings: &ControlSettings,
    ) -> Result<Self, AppError> {
        match Self::start_control(efd, &mut run, policy, service, settings) {
            Ok(parts) => Ok(Supervisor {
                run,
                config,
                control: parts.control,
                control_stop: parts.control_stop,
                handle: parts.handle,
                http: parts.http,
                status: parts.status,
                latest: parts.latest,
            }),
            Err(e) => {
                let failures = run.abort();
                Err(if failures.is_empty() {
                    e
                } else {
                    AppError(format!("{e}; stopping: {}", failures.join("; ")))
                })
            }
        }
    }

    /// The control thread and the HTTP API for `run`; on an error, what was
    /// started of them is stopped again.
    fn start_control(
        efd: Efd<N>,
        run: &mut Launched<K>,
        policy: Vec<NodePolicy>,
        service: ServiceConfig,
        settings: &ControlSettings,
    ) -> Result<ControlParts<K, N>, AppError> {
        let control = FlowControl::new(
            efd,
            std::mem::take(&mut run.node_links),
            run.distributor_sync.clone(),
            run.stats.clone(),
        );
        let status = ControlStatusCell::default();
        let service = ControlService::new(
            control,
            policy,
            service,
            run.adoption.take(),
            run.stats.clone(),
            status.clone(),
        )
        .map_err(|e| AppError(format!("control plane: {e}")))?;
        // SAFETY: sched_getcpu has no preconditions.
        let here = unsafe { libc::sched_getcpu() };
        let cpu = settings.cpu.or((here >= 0).then_some(here as usize));
        let (handle, requests) = ControlHandle::channel();
        let control_stop = Arc::new(AtomicBool::new(false));
        let stop = control_stop.clone();
        let control = std::thread::Builder::new()
            .name("efd-lb-control".into())
            .spawn(move || {
                if let Some(c) = cpu {
                    core_affinity::set_for_current(core_affinity::CoreId { id: c });
                }
                service.run(requests, &stop)
            })
            .map_err(|e| AppError(format!("control thread: {e}")))?;
        let latest: Arc<Mutex<Option<Snapshot>>> = Arc::new(Mutex::new(None));
        *latest.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(run.stats.snapshot(&port_infos(&run.ports)));
        let http = match settings.listen {
            None => None,
            Some(listen) => {
                let (l1, l2, st) = (latest.clone(), latest.clone(), status.clone());
                let views = Views::new(
                    move || {
                        let snap = l1.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        snap.map_or_else(String::new, |s| stats_json(&s))
                    },
                    move || {
                        let snap = l2.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        snap.map_or_else(String::new, |s| metrics::render(&s, &st.get()))
                    },
                );
                let http_config = HttpConfig {
                    listen,
                    token: settings.token.clone(),
                    max_body: settings.max_body,
                    cpu,
                };
                match http::start(http_config, handle.clone(), views) {
                    Ok(server) => {
                        tracing::info!(address = %server.local_addr(), "control API listening");
                        Some(server)
                    }
                    Err(e) => {
                        drop(handle);
                        control_stop.store(true, Ordering::Relaxed);
                        let _ = control.join();
                        return Err(AppError(e));
                    }
                }
            }
        };
        Ok(ControlParts {
            control,
            control_stop,
            handle,
            http,
            status,
            latest,
        })
    }

    /// A handle on the control thread (the API's way in; tests call it
    /// directly).
    pub fn handle(&self) -> ControlHandle {
        self.handle.clone()
    }

    /// Draws the stats until `stop_signal` is set, the duration ends or the
    /// port watcher finds a dead port, then shuts down. The outcome holds
    /// the final counters, the mbufs not returned to the pool, and the dead
    /// port among its problems.
    pub fn run(self, stop_signal: &AtomicBool) -> Result<Outcome, AppError> {
        let Supervisor {
            run,
            config,
            control,
            control_stop,
            handle,
            http,
            status,
            latest,
        } = self;
        let started = Instant::now();
        let mut out = std::io::stdout().lock();
        let fmt = config
            .stats_format
            .resolve(std::io::IsTerminal::is_terminal(&std::io::stdout()));
        let mut prev: Option<Snapshot> = None;
        let mut next_draw = started + config.stats_period;
        let mut next_sample = started;
        let mut dead_port = None;
        loop {
            if stop_signal.load(Ordering::Relaxed) {
                break;
            }
            if config.duration.is_some_and(|d| started.elapsed() >= d) {
                break;
            }
            if let Some(line) = run.watch.poll(&run.ports).fatal {
                dead_port = Some(line);
                break;
            }
            let now = Instant::now();
            if now >= next_sample {
                // What /stats and /metrics serve: at most 100 ms old.
                let snap = run.stats.snapshot(&port_infos(&run.ports));
                *latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(snap);
                next_sample = now + SAMPLE_PERIOD;
            }
            if now >= next_draw {
                let snap = run.stats.snapshot(&port_infos(&run.ports));
                let rates = prev.as_ref().map(|p| crate::stats::rates(p, &snap));
                let _ = render(fmt, &snap, rates.as_ref(), &mut out);
                if fmt != StatsFormat::Json {
                    let _ = render_nodes(&status.get(), &mut out);
                }
                let _ = out.flush();
                prev = Some(snap);
                next_draw += config.stats_period;
                if next_draw < now {
                    next_draw = now + config.stats_period;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }

        // The API and the control thread stop first: no change starts
        // during shutdown.
        if let Some(h) = http {
            h.stop();
        }
        drop(handle);
        control_stop.store(true, Ordering::Relaxed);
        let control = control.join();
        // Shutdown: distributor first, then workers drain their rings.
        let Launched {
            ports,
            pool,
            stats,
            stop,
            distributor,
            workers,
            pool_hold,
            ..
        } = run;
        // A test-only pool hold gives its mbufs back first.
        drop(pool_hold);
        stop.stop_rx();
        let mut failures = Vec::new();
        if control.is_err() {
            failures.push("the control thread panicked".to_string());
        }
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
        let written = render_final(fmt, &last, None, &mut out).and_then(|()| out.flush());
        let mbufs_in_use = pool.in_use_count();
        drop(pool);
        if !failures.is_empty() {
            failures.splice(0..0, dead_port);
            return Err(AppError(failures.join("; ")));
        }
        let mut outcome = Outcome::new(last, mbufs_in_use, written);
        outcome.problems.extend(dead_port);
        Ok(outcome)
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

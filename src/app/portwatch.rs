//! Watches the ports while the appliance runs and logs what would
//! otherwise go unseen: a link that goes down (or comes back), a kernel
//! interface behind a port (`net_af_packet`'s or `net_pcap`'s `iface=`)
//! that is deleted, and receive errors that rise (`ierrors`, `imissed`,
//! `rx_nombuf`).
//!
//! A deleted interface is **fatal**: the PMD's socket stays bound to the
//! interface it opened (its index), so the port neither receives nor sends
//! again, even if an interface of the same name comes back; the PMD itself
//! reports no error. [`PortWatch::poll`] returns it as
//! [`Poll::fatal`], and the supervisor stops the appliance on it (the final
//! stats, exit status 1). An interface counts as deleted when no interface
//! of its name has the index it had at start (deleted, or replaced by a new
//! one of the same name between two looks).
//!
//! [`PortWatch::poll`] is cheap to call often: it looks at most once per
//! [`PortWatch::period`]. It is meant for the supervisor's loop.

use dpdk::port::Port;
use std::cell::RefCell;
use std::ffi::CString;
use std::time::{Duration, Instant};

/// Receive error counters of a port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxErrors {
    /// Erroneous received packets.
    pub ierrors: u64,
    /// Packets the device dropped for lack of descriptors.
    pub imissed: u64,
    /// Receives that failed for lack of an mbuf.
    pub rx_nombuf: u64,
}

/// What one look at a port found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Link up, down, or unknown (the driver cannot tell, or failed).
    pub link: Option<bool>,
    /// Whether the kernel interface behind the port exists (`None`: the
    /// port has none).
    pub interface: Option<bool>,
    /// Its receive error counters, if read.
    pub errors: Option<RxErrors>,
}

/// A change worth a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The link went down.
    LinkDown,
    /// The link came back.
    LinkUp,
    /// The link state can no longer be read.
    LinkUnknown,
    /// The kernel interface is gone.
    InterfaceGone(String),
    /// The kernel interface is there again.
    InterfaceBack(String),
    /// Receive errors rose by these amounts since the last look.
    RxErrors(RxErrors),
}

impl Event {
    /// Whether it is a warning (else information).
    pub fn is_warning(&self) -> bool {
        !matches!(self, Event::LinkUp | Event::InterfaceBack(_))
    }

    /// Whether the appliance must stop: the port can no longer receive or
    /// send (its interface is gone).
    pub fn is_fatal(&self) -> bool {
        matches!(self, Event::InterfaceGone(_))
    }

    /// The log line for the port named `port` (`port 0 (net_pcap0)`).
    pub fn line(&self, port: &str) -> String {
        match self {
            Event::LinkDown => format!("{port}: link down: nothing is received or sent"),
            Event::LinkUp => format!("{port}: link up"),
            Event::LinkUnknown => format!("{port}: the link state can no longer be read"),
            Event::InterfaceGone(i) => format!(
                "{port}: interface {i} is gone: the port can no longer receive or send"
            ),
            Event::InterfaceBack(i) => format!(
                "{port}: interface {i} is back (the port does not reattach to it)"
            ),
            Event::RxErrors(d) => format!(
                "{port}: receive errors rising: +{} errors, +{} missed (no descriptor), +{} without an mbuf",
                d.ierrors, d.imissed, d.rx_nombuf
            ),
        }
    }
}

/// What was last seen of one port.
#[derive(Debug, Clone, Default)]
struct Seen {
    label: String,
    interface: Option<String>,
    /// The interface's index when the watch started (the one the port's
    /// socket is bound to).
    ifindex: Option<u32>,
    last: Option<Sample>,
}

impl Seen {
    /// The events between the last sample and `now`.
    fn step(&mut self, now: Sample) -> Vec<Event> {
        let mut out = Vec::new();
        if let Some(prev) = self.last {
            match (prev.link, now.link) {
                (Some(true), Some(false)) => out.push(Event::LinkDown),
                (Some(false), Some(true)) => out.push(Event::LinkUp),
                (Some(_), None) => out.push(Event::LinkUnknown),
                _ => {}
            }
            let name = || self.interface.clone().unwrap_or_default();
            match (prev.interface, now.interface) {
                (Some(true), Some(false)) => out.push(Event::InterfaceGone(name())),
                (Some(false), Some(true)) => out.push(Event::InterfaceBack(name())),
                _ => {}
            }
            if let (Some(a), Some(b)) = (prev.errors, now.errors) {
                let d = RxErrors {
                    ierrors: b.ierrors.saturating_sub(a.ierrors),
                    imissed: b.imissed.saturating_sub(a.imissed),
                    rx_nombuf: b.rx_nombuf.saturating_sub(a.rx_nombuf),
                };
                if d != RxErrors::default() {
                    out.push(Event::RxErrors(d));
                }
            }
        } else if now.link == Some(false) {
            out.push(Event::LinkDown);
        }
        // Keep the last readings when a read fails, so that the next
        // successful one compares with something.
        let mut keep = now;
        if let Some(prev) = self.last {
            keep.errors = now.errors.or(prev.errors);
        }
        self.last = Some(keep);
        out
    }
}

/// The ports' watcher (see the module doc).
pub struct PortWatch {
    seen: RefCell<Vec<Seen>>,
    next: std::cell::Cell<Instant>,
    period: Duration,
}

impl PortWatch {
    /// Watches `ports` (in plan order); the kernel interfaces behind them
    /// are found in the `--vdev` arguments of `eal_args`.
    pub fn new(ports: &[Port], eal_args: &[String]) -> PortWatch {
        let ifaces = vdev_interfaces(eal_args);
        let seen = ports
            .iter()
            .map(|p| {
                let name = p.name();
                let interface = ifaces
                    .iter()
                    .find(|(dev, _)| *dev == name)
                    .map(|(_, i)| i.clone());
                Seen {
                    label: format!("port {} ({name})", p.id()),
                    ifindex: interface.as_deref().and_then(interface_index),
                    interface,
                    last: None,
                }
            })
            .collect();
        PortWatch {
            seen: RefCell::new(seen),
            next: std::cell::Cell::new(Instant::now()),
            period: Duration::from_secs(1),
        }
    }

    /// How often [`PortWatch::poll`] looks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Looks at `ports` (the same as given to [`PortWatch::new`]) if a
    /// period has passed, and logs each change: a warning for a link down,
    /// an interface gone, receive errors rising; information when a link
    /// or interface comes back. A fatal change (an interface gone) is
    /// logged as an error and returned in [`Poll::fatal`].
    pub fn poll(&self, ports: &[Port]) -> Poll {
        let mut out = Poll::default();
        let now = Instant::now();
        if now < self.next.get() {
            return out;
        }
        self.next.set(now + self.period);
        let mut seen = self.seen.borrow_mut();
        for (p, s) in ports.iter().zip(seen.iter_mut()) {
            let sample = Sample {
                link: p.link_up(),
                interface: s.interface.as_deref().map(|i| still_there(i, s.ifindex)),
                errors: p.stats().ok().map(|st| RxErrors {
                    ierrors: st.ierrors,
                    imissed: st.imissed,
                    rx_nombuf: st.rx_nombuf,
                }),
            };
            for e in s.step(sample) {
                let line = e.line(&s.label);
                if e.is_fatal() {
                    tracing::error!("{line}: stopping");
                    out.fatal.get_or_insert_with(|| line.clone());
                } else if e.is_warning() {
                    tracing::warn!("{line}");
                } else {
                    tracing::info!("{line}");
                }
                out.lines.push(line);
            }
        }
        out
    }
}

/// What one [`PortWatch::poll`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Poll {
    /// The lines logged.
    pub lines: Vec<String>,
    /// The first fatal one: the appliance must stop.
    pub fatal: Option<String>,
}

/// Whether interface `name` is still the one of index `first` (any
/// interface of that name when `first` is unknown).
fn still_there(name: &str, first: Option<u32>) -> bool {
    match (interface_index(name), first) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(now), Some(first)) => now == first,
    }
}

/// The index of network interface `name` in this process's network
/// namespace (`None`: there is none).
fn interface_index(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // if_nametoindex only reads it.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// `(device, interface)` of the `--vdev` arguments that name a kernel
/// interface (`iface=`, `rx_iface=`, `rx_iface_in=`).
pub fn vdev_interfaces(eal_args: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for kv in super::launch::vdev_specs(eal_args) {
        let iface = kv[1..].iter().find_map(|p| {
            ["iface=", "rx_iface=", "rx_iface_in="]
                .iter()
                .find_map(|k| p.strip_prefix(k))
        });
        if let Some(i) = iface {
            out.push((kv[0].to_string(), i.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(iface: Option<&str>) -> Seen {
        Seen {
            label: "port 0 (net_af_packet0)".into(),
            interface: iface.map(String::from),
            ifindex: None,
            last: None,
        }
    }

    fn up(errors: u64) -> Sample {
        Sample {
            link: Some(true),
            interface: Some(true),
            errors: Some(RxErrors {
                ierrors: errors,
                ..RxErrors::default()
            }),
        }
    }

    #[test]
    fn a_deleted_interface_and_a_link_going_down_are_told_once() {
        let mut s = seen(Some("veth1"));
        assert!(s.step(up(0)).is_empty());
        assert!(s.step(up(0)).is_empty());
        let gone = Sample {
            link: Some(false),
            interface: Some(false),
            ..up(0)
        };
        let ev = s.step(gone);
        assert_eq!(
            ev,
            vec![Event::LinkDown, Event::InterfaceGone("veth1".into())]
        );
        assert_eq!(
            ev[1].line(&s.label),
            "port 0 (net_af_packet0): interface veth1 is gone: the port can no longer receive or send"
        );
        // Only the interface gone stops the appliance.
        assert!(ev[1].is_fatal() && !ev[0].is_fatal());
        assert!(s.step(gone).is_empty(), "told once");
        assert_eq!(
            s.step(up(0)),
            vec![Event::LinkUp, Event::InterfaceBack("veth1".into())]
        );
        assert!(!Event::LinkUp.is_warning() && Event::LinkDown.is_warning());
    }

    #[test]
    fn rising_receive_errors_are_told_with_the_increase() {
        let mut s = seen(None);
        s.step(up(5));
        assert_eq!(
            s.step(up(12)),
            vec![Event::RxErrors(RxErrors {
                ierrors: 7,
                ..RxErrors::default()
            })]
        );
        assert!(s.step(up(12)).is_empty());
        // A failed read keeps the last counters to compare with.
        assert!(s
            .step(Sample {
                errors: None,
                ..up(0)
            })
            .is_empty());
        assert_eq!(s.step(up(13)).len(), 1);
        // A link that cannot be read any more (the interface deleted, on
        // PMDs whose link update then fails).
        assert_eq!(
            s.step(Sample {
                link: None,
                ..up(13)
            }),
            vec![Event::LinkUnknown]
        );
    }

    #[test]
    fn a_port_down_from_the_start_is_told() {
        let mut s = seen(None);
        assert_eq!(
            s.step(Sample {
                link: Some(false),
                ..Sample::default()
            }),
            vec![Event::LinkDown]
        );
    }

    #[test]
    fn interfaces_from_vdev_arguments() {
        let a: Vec<String> = [
            "--vdev",
            "net_af_packet0,iface=veth1,qpairs=1",
            "--vdev=net_pcap1,rx_iface=eth2,tx_iface=eth3",
            "--vdev",
            "net_null0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            vdev_interfaces(&a),
            vec![
                ("net_af_packet0".to_string(), "veth1".to_string()),
                ("net_pcap1".to_string(), "eth2".to_string())
            ]
        );
        let lo = interface_index("lo").expect("lo has an index");
        assert!(interface_index("efd-lb-none0").is_none());
        assert!(interface_index("bad\0name").is_none());
        assert!(still_there("lo", Some(lo)) && still_there("lo", None));
        // Deleted, or replaced by another interface of the same name.
        assert!(!still_there("efd-lb-none0", Some(lo)));
        assert!(!still_there("lo", Some(lo + 1)));
    }
}

//! Ethernet devices: configure, start/stop, statistics, and per-queue
//! receive/transmit handles.

use crate::error::{check, Error, Result};
use crate::mbuf::Burst;
use crate::mempool::{LcoreCache, Mempool};
use crate::sys;
use std::os::raw::c_char;

/// The ids of every port DPDK has, ascending.
pub fn all_ids() -> Vec<u16> {
    (0..sys::RTE_MAX_ETHPORTS as u16)
        // SAFETY: no preconditions.
        .filter(|&id| unsafe { sys::rte_eth_dev_is_valid_port(id) } != 0)
        .collect()
}

/// Number of ethdev ports DPDK found (real or virtual).
pub fn count_avail() -> u16 {
    // SAFETY: no preconditions after EAL init.
    unsafe { sys::rte_eth_dev_count_avail() }
}

/// Hardware (PMD) counters of a port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EthStats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Packets dropped by the NIC because no descriptor was free.
    pub imissed: u64,
    /// Receive errors.
    pub ierrors: u64,
    /// Transmit errors.
    pub oerrors: u64,
    /// Receives that failed for lack of an mbuf.
    pub rx_nombuf: u64,
}

/// One ethdev port (by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    id: u16,
}

/// How to set a port up.
#[derive(Debug, Clone, Copy)]
pub struct PortConf {
    /// Receive queues.
    pub rx_queues: u16,
    /// Transmit queues.
    pub tx_queues: u16,
    /// Descriptors per receive queue (adjusted to the device's limits).
    pub rx_desc: u16,
    /// Descriptors per transmit queue (adjusted to the device's limits).
    pub tx_desc: u16,
}

impl Port {
    /// The port with this id, if DPDK has it.
    pub fn new(id: u16) -> Result<Port> {
        // SAFETY: no preconditions.
        if unsafe { sys::rte_eth_dev_is_valid_port(id) } == 0 {
            return Err(Error::msg(format!("port {id}"), "no such port"));
        }
        Ok(Port { id })
    }

    /// Its id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The device name (e.g. `net_pcap0` or a PCI address).
    pub fn name(&self) -> String {
        let mut buf = [0 as c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
        // SAFETY: buf has RTE_ETH_NAME_MAX_LEN bytes as the API requires.
        let ret = unsafe { sys::rte_eth_dev_get_name_by_port(self.id, buf.as_mut_ptr()) };
        if ret < 0 {
            return format!("port{}", self.id);
        }
        // SAFETY: DPDK wrote a NUL-terminated string into buf.
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// The MAC address as `aa:bb:cc:dd:ee:ff`.
    pub fn mac(&self) -> String {
        let mut addr = sys::rte_ether_addr::default();
        // SAFETY: addr is a valid out-parameter.
        let ret = unsafe { sys::rte_eth_macaddr_get(self.id, &mut addr) };
        if ret < 0 {
            return "??:??:??:??:??:??".into();
        }
        addr.addr_bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The NUMA socket of the device (0 when unknown).
    pub fn socket(&self) -> i32 {
        // SAFETY: valid port id.
        let s = unsafe { sys::rte_eth_dev_socket_id(self.id) };
        s.max(0)
    }

    /// The name of the device behind the port as the EAL's bus knows it
    /// (`net_pcap0` for `--vdev net_pcap0,...`, `0000:01:00.0` for a PCI
    /// function), or `None` when DPDK does not say.
    pub fn device_name(&self) -> Option<String> {
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: info is a valid out-parameter.
        let ret = unsafe { sys::rte_eth_dev_info_get(self.id, &mut info) };
        if ret != 0 || info.device.is_null() {
            return None;
        }
        // SAFETY: a device of a valid port; DPDK returns its NUL-terminated name.
        let name = unsafe { sys::rte_dev_name(info.device) };
        if name.is_null() {
            return None;
        }
        // SAFETY: non-null names are NUL-terminated and live with the device.
        let name = unsafe { std::ffi::CStr::from_ptr(name) };
        Some(name.to_string_lossy().into_owned())
    }

    /// The name of the port's driver (`net_pcap`, `net_ring`, `net_ixgbe`).
    pub fn driver_name(&self) -> Option<String> {
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: info is a valid out-parameter.
        let ret = unsafe { sys::rte_eth_dev_info_get(self.id, &mut info) };
        if ret != 0 || info.driver_name.is_null() {
            return None;
        }
        // SAFETY: DPDK's driver names are static NUL-terminated strings.
        Some(
            unsafe { std::ffi::CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// Whether the link is up, without waiting (`None`: the driver cannot
    /// tell).
    pub fn link_up(&self) -> Option<bool> {
        let mut link = sys::rte_eth_link::default();
        // SAFETY: link is a valid out-parameter.
        let ret = unsafe { sys::rte_eth_link_get_nowait(self.id, &mut link) };
        (ret == 0).then(|| link.link_status() != 0)
    }

    /// Maximum receive and transmit queues the device supports.
    pub fn max_queues(&self) -> Result<(u16, u16)> {
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: info is a valid out-parameter.
        let ret = unsafe { sys::rte_eth_dev_info_get(self.id, &mut info) };
        check(|| format!("device info of port {}", self.id), ret)?;
        Ok((info.max_rx_queues, info.max_tx_queues))
    }

    /// Configures the port and sets up its queues, receiving into `pool`,
    /// which must outlive the queues' use. Returns one handle per queue;
    /// each may be used by one lcore only.
    pub fn configure(
        &self,
        conf: PortConf,
        pool: &Mempool,
    ) -> Result<(Vec<RxQueue>, Vec<TxQueue>)> {
        let id = self.id;
        let (max_rx, max_tx) = self.max_queues()?;
        if conf.rx_queues > max_rx || conf.tx_queues > max_tx {
            return Err(Error::msg(
                format!("configure port {id} ({})", self.name()),
                format!(
                    "needs {} rx / {} tx queues, device supports {max_rx} / {max_tx}",
                    conf.rx_queues, conf.tx_queues
                ),
            ));
        }
        let eth_conf = sys::rte_eth_conf::default();
        // SAFETY: eth_conf is a valid, zeroed configuration.
        let ret =
            unsafe { sys::rte_eth_dev_configure(id, conf.rx_queues, conf.tx_queues, &eth_conf) };
        check(|| format!("configure port {id}"), ret)?;
        let (mut nb_rx, mut nb_tx) = (conf.rx_desc, conf.tx_desc);
        // SAFETY: valid out-parameters.
        let ret = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nb_rx, &mut nb_tx) };
        check(|| format!("adjust descriptors of port {id}"), ret)?;
        let socket = self.socket() as u32;
        for q in 0..conf.rx_queues {
            // SAFETY: port configured; NULL rxconf means defaults; pool outlives the port's use.
            let ret = unsafe {
                sys::rte_eth_rx_queue_setup(id, q, nb_rx, socket, std::ptr::null(), pool.as_ptr())
            };
            check(|| format!("set up rx queue {q} of port {id}"), ret)?;
        }
        for q in 0..conf.tx_queues {
            // SAFETY: port configured; NULL txconf means defaults.
            let ret =
                unsafe { sys::rte_eth_tx_queue_setup(id, q, nb_tx, socket, std::ptr::null()) };
            check(|| format!("set up tx queue {q} of port {id}"), ret)?;
        }
        let rx = (0..conf.rx_queues)
            .map(|queue| RxQueue {
                port: id,
                queue,
                pool: pool.as_ptr(),
            })
            .collect();
        let tx = (0..conf.tx_queues)
            .map(|queue| TxQueue { port: id, queue })
            .collect();
        Ok((rx, tx))
    }

    /// Starts the port and enables promiscuous mode where supported.
    pub fn start(&self) -> Result<()> {
        // SAFETY: valid port id.
        let ret = unsafe { sys::rte_eth_dev_start(self.id) };
        check(|| format!("start port {}", self.id), ret)?;
        // Virtual devices may not support promiscuous mode; that is fine.
        // SAFETY: valid port id.
        unsafe { sys::rte_eth_promiscuous_enable(self.id) };
        Ok(())
    }

    /// Stops the port (its queues must no longer be polled).
    pub fn stop(&self) -> Result<()> {
        // SAFETY: valid port id.
        let ret = unsafe { sys::rte_eth_dev_stop(self.id) };
        check(|| format!("stop port {}", self.id), ret).map(|_| ())
    }

    /// Closes the port, releasing the mbufs held in its queues.
    pub fn close(&self) -> Result<()> {
        // SAFETY: valid port id; callers stopped it.
        let ret = unsafe { sys::rte_eth_dev_close(self.id) };
        check(|| format!("close port {}", self.id), ret).map(|_| ())
    }

    /// The PMD's counters.
    pub fn stats(&self) -> Result<EthStats> {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: valid out-parameter.
        let ret = unsafe { sys::rte_eth_stats_get(self.id, &mut s) };
        check(|| format!("stats of port {}", self.id), ret)?;
        Ok(EthStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }
}

/// A receive queue; only one lcore may poll it (it is `Send`, not `Clone`).
#[derive(Debug)]
pub struct RxQueue {
    port: u16,
    queue: u16,
    /// The pool the device receives into.
    pool: *mut sys::rte_mempool,
}

// SAFETY: the pool pointer is only handed to DPDK (mempools are thread-safe);
// the queue itself is used by one lcore at a time (`&mut self`).
unsafe impl Send for RxQueue {}

impl RxQueue {
    /// Its port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The calling lcore's cache of the pool this queue receives into: see
    /// [`LcoreCache::prefetch_next`]. Call it on the lcore that polls the
    /// queue. The pool outlives the queue's use (as for receiving).
    pub fn alloc_cache(&self) -> Option<LcoreCache> {
        // SAFETY: the pool the queue was set up with lives while the queue
        // is used (`Port::configure`'s contract).
        unsafe { LcoreCache::of_calling_lcore(self.pool) }
    }

    /// Receives up to the burst's spare room; returns how many arrived.
    #[inline]
    pub fn rx_burst<const N: usize>(&mut self, burst: &mut Burst<N>) -> usize {
        self.rx_burst_max(burst, N)
    }

    /// Receives at most `max` packets (and no more than the burst's spare
    /// room); returns how many arrived.
    #[inline]
    pub fn rx_burst_max<const N: usize>(&mut self, burst: &mut Burst<N>, max: usize) -> usize {
        let room = burst.spare().min(max) as u16;
        let len = burst.len();
        // SAFETY: exclusive use of this queue (`&mut self`); DPDK writes at most
        // `room` owned mbuf pointers after the current ones.
        unsafe {
            let n = sys::rte_eth_rx_burst(self.port, self.queue, burst.raw_ptr().add(len), room);
            burst.grow(n as usize);
            n as usize
        }
    }
}

/// A transmit queue; only one lcore may use it.
#[derive(Debug)]
pub struct TxQueue {
    port: u16,
    queue: u16,
}

impl TxQueue {
    /// Its port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sends as many of the burst's mbufs as the device takes; those leave the
    /// burst, the rest stay (front-aligned). Returns how many were sent.
    #[inline]
    pub fn tx_burst<const N: usize>(&mut self, burst: &mut Burst<N>) -> usize {
        let len = burst.len() as u16;
        if len == 0 {
            return 0;
        }
        // SAFETY: exclusive use of this queue; DPDK takes ownership of the
        // first `n` mbufs it reports sent.
        unsafe {
            let n = sys::rte_eth_tx_burst(self.port, self.queue, burst.raw_ptr(), len);
            burst.consumed(n as usize);
            n as usize
        }
    }
}

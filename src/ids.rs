//! Small identifiers that travel between the layers: which node, which port.

#![forbid(unsafe_code)]

use std::fmt;

/// A back-end node: an index into the nodes (`< num_nodes`, at most 256 so
/// that it fits an EFD value of up to 8 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u16);

impl NodeId {
    /// The node with index `id`.
    #[inline]
    pub const fn new(id: u16) -> NodeId {
        NodeId(id)
    }

    /// Its index, for per-node arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// Its number.
    #[inline]
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The EFD value that stands for it (node ids are below 256).
    #[inline]
    pub const fn efd_value(self) -> u8 {
        self.0 as u8
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// An enabled port, by its position among the enabled ports (not its DPDK
/// port id): the index of its counters and of its TX queue in a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortIndex(u8);

impl PortIndex {
    /// Most enabled ports (the port mask has 64 bits).
    pub const MAX: usize = 64;

    /// The port at position `i` (`i < PortIndex::MAX`).
    #[inline]
    pub const fn new(i: u8) -> PortIndex {
        PortIndex(i)
    }

    /// Its position, for per-port arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The port a node transmits on for a packet that arrived here: ports
    /// are paired 0↔1, 2↔3, …; an odd last port sends on itself.
    #[inline]
    pub fn paired(self, num_ports: usize) -> PortIndex {
        let pair = self.0 ^ 1;
        if (pair as usize) < num_ports {
            PortIndex(pair)
        } else {
            self
        }
    }
}

impl fmt::Display for PortIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_pair_up_and_an_odd_last_port_sends_on_itself() {
        let p = |i, n| PortIndex::new(i).paired(n).index();
        assert_eq!(p(0, 2), 1);
        assert_eq!(p(1, 2), 0);
        assert_eq!(p(2, 4), 3);
        assert_eq!(p(3, 4), 2);
        assert_eq!(p(2, 3), 2);
        assert_eq!(p(0, 1), 0);
    }

    #[test]
    fn node_ids() {
        let n = NodeId::new(255);
        assert_eq!((n.index(), n.get(), n.efd_value()), (255, 255, 255));
        assert_eq!(n.to_string(), "255");
    }
}

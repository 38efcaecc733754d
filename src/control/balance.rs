//! Where flows should be, by node state and weight: pure arithmetic, no
//! table. The control thread turns its answers into moves.
//!
//! - [`targets`]: each node's fair number of flows (active nodes share the
//!   flows by weight; draining and out nodes get none);
//! - [`plan_moves`]: the fewest moves from nodes above their target to
//!   nodes below it;
//! - [`value_slots`]: which node each EFD value sends to, so that unknown
//!   flows (whose values are spread evenly over the value space) reach the
//!   active nodes by weight.

#![forbid(unsafe_code)]

use super::status::NodeState;
use crate::ids::NodeId;

/// "No node": a value slot whose packets the distributor drops.
pub const NO_NODE: u16 = u16::MAX;

/// A node's state and weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePolicy {
    /// Its state.
    pub state: NodeState,
    /// Its weight.
    pub weight: u32,
}

impl NodePolicy {
    /// The weight it takes flows with (0 unless active).
    pub fn share(&self) -> u64 {
        if self.state == NodeState::Active {
            u64::from(self.weight)
        } else {
            0
        }
    }
}

/// Splits `total` into parts proportional to `shares` (largest remainder;
/// ties to the lower index). All zero if every share is zero.
pub fn apportion(total: u64, shares: &[u64]) -> Vec<u64> {
    let sum: u128 = shares.iter().map(|&s| u128::from(s)).sum();
    if sum == 0 {
        return vec![0; shares.len()];
    }
    let mut out = Vec::with_capacity(shares.len());
    let mut rem = Vec::with_capacity(shares.len());
    let mut given = 0u64;
    for (i, &s) in shares.iter().enumerate() {
        let exact = u128::from(total) * u128::from(s);
        let q = (exact / sum) as u64;
        out.push(q);
        given += q;
        rem.push((exact % sum, i));
    }
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(r, i) in rem.iter().take((total - given) as usize) {
        if r > 0 || shares[i] > 0 {
            out[i] += 1;
        }
    }
    out
}

/// Each node's fair number of flows out of `total`.
pub fn targets(total: u64, nodes: &[NodePolicy]) -> Vec<u64> {
    let shares: Vec<u64> = nodes.iter().map(NodePolicy::share).collect();
    apportion(total, &shares)
}

/// One batch of moves: `count` flows from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// The node that gives.
    pub from: NodeId,
    /// The node that takes.
    pub to: NodeId,
    /// How many flows.
    pub count: u64,
}

/// The moves that bring the nodes allowed to give (`givers[i]`) down to
/// their target, spreading what they give over the nodes below their
/// target in proportion to how far below they are. Only surplus moves: a
/// node at or below its target keeps every flow, so the number of moves is
/// the least that reaches the targets from these givers.
pub fn plan_moves(counts: &[u64], targets: &[u64], givers: &[bool]) -> Vec<Transfer> {
    let deficits: Vec<u64> = counts
        .iter()
        .zip(targets)
        .map(|(&c, &t)| t.saturating_sub(c))
        .collect();
    let mut out = Vec::new();
    // Each giver's surplus is spread over the remaining deficits.
    let mut left = deficits.clone();
    for (i, (&c, &t)) in counts.iter().zip(targets).enumerate() {
        if !givers[i] || c <= t {
            continue;
        }
        let surplus = c - t;
        let room: u64 = left.iter().sum();
        let give = surplus.min(room);
        let parts = apportion(give, &left);
        for (j, &n) in parts.iter().enumerate() {
            if n > 0 {
                out.push(Transfer {
                    from: NodeId::new(i as u16),
                    to: NodeId::new(j as u16),
                    count: n,
                });
                left[j] -= n;
            }
        }
    }
    out
}

/// The node each of the `2^value_bits` EFD values stands for. Values below
/// the number of nodes are the nodes' own (a flow added on node `n` is
/// stored with value `n`); the other values are dealt to the active nodes
/// so that each active node's share of all values is as close to its
/// weight's share as the identity values allow. `previous` (the table in
/// use) keeps as many slots as possible where they are. With `assign` off
/// the other values send to [`NO_NODE`] (the C sample's behaviour: a value
/// that is no node is dropped by the distributor).
pub fn value_slots(
    value_bits: u32,
    nodes: &[NodePolicy],
    assign: bool,
    previous: Option<&[u16]>,
) -> Vec<u16> {
    let size = 1usize << value_bits;
    let n = nodes.len().min(size);
    let mut slots = vec![NO_NODE; size];
    for (v, s) in slots.iter_mut().enumerate().take(n) {
        *s = v as u16;
    }
    if !assign || size == n {
        return slots;
    }
    let shares: Vec<u64> = nodes.iter().map(NodePolicy::share).collect();
    let total = apportion(size as u64, &shares);
    // Extra slots each node needs on top of its identity slot.
    let mut want: Vec<u64> = total
        .iter()
        .enumerate()
        .map(|(i, &t)| t.saturating_sub(u64::from(i < n)))
        .collect();
    let free = (size - n) as u64;
    let wanted: u64 = want.iter().sum();
    if wanted > free {
        // The identity slots took more than the weights give some nodes;
        // scale the others down to the slots there are.
        want = apportion(free, &want);
    }
    // Keep previous owners while they still want slots.
    let mut unassigned = Vec::new();
    for (v, slot) in slots.iter_mut().enumerate().skip(n) {
        let prev = previous.and_then(|p| p.get(v)).copied().unwrap_or(NO_NODE);
        if (prev as usize) < nodes.len() && want[prev as usize] > 0 {
            want[prev as usize] -= 1;
            *slot = prev;
        } else {
            unassigned.push(v);
        }
    }
    let mut next = 0usize;
    for v in unassigned {
        while next < want.len() && want[next] == 0 {
            next += 1;
        }
        if next == want.len() {
            break;
        }
        slots[v] = next as u16;
        want[next] -= 1;
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(w: u32) -> NodePolicy {
        NodePolicy {
            state: NodeState::Active,
            weight: w,
        }
    }

    #[test]
    fn apportion_sums_and_follows_shares() {
        assert_eq!(apportion(10, &[1, 1, 2]), vec![3, 2, 5]);
        assert_eq!(apportion(7, &[0, 0]), vec![0, 0]);
        assert_eq!(apportion(5, &[0, 3]), vec![0, 5]);
        for total in [0u64, 1, 99, 1_000_003] {
            let a = apportion(total, &[3, 0, 7, 1, 1]);
            assert_eq!(a.iter().sum::<u64>(), total);
            assert_eq!(a[1], 0);
        }
    }

    #[test]
    fn targets_skip_nodes_that_are_not_active() {
        let nodes = [
            active(1),
            NodePolicy {
                state: NodeState::Draining,
                weight: 5,
            },
            active(3),
            NodePolicy {
                state: NodeState::Out,
                weight: 1,
            },
        ];
        assert_eq!(targets(1000, &nodes), vec![250, 0, 750, 0]);
    }

    #[test]
    fn drain_moves_only_the_drained_flows_by_deficit() {
        // Node 1 drains: 300 flows to nodes 0 and 2 (weights 1 and 2).
        let counts = [300, 300, 300];
        let t = targets(
            900,
            &[
                active(1),
                NodePolicy {
                    state: NodeState::Draining,
                    weight: 1,
                },
                active(2),
            ],
        );
        assert_eq!(t, vec![300, 0, 600]);
        let moves = plan_moves(&counts, &t, &[false, true, false]);
        assert_eq!(
            moves,
            vec![Transfer {
                from: NodeId::new(1),
                to: NodeId::new(2),
                count: 300
            }]
        );
    }

    #[test]
    fn restore_takes_a_fair_share_from_every_node_above_target() {
        let counts = [500, 0, 500];
        let t = targets(1000, &[active(1), active(1), active(2)]);
        assert_eq!(t, vec![250, 250, 500]);
        let moves = plan_moves(&counts, &t, &[true, true, true]);
        assert_eq!(
            moves,
            vec![Transfer {
                from: NodeId::new(0),
                to: NodeId::new(1),
                count: 250
            }]
        );
        let moved: u64 = moves.iter().map(|m| m.count).sum();
        let least: u64 = counts
            .iter()
            .zip(&t)
            .map(|(&c, &t)| c.saturating_sub(t))
            .sum();
        assert_eq!(moved, least);
    }

    #[test]
    fn value_slots_follow_weights() {
        let nodes = [active(1), active(1), active(2), active(4)];
        let s = value_slots(8, &nodes, true, None);
        let mut count = [0usize; 4];
        for &n in &s {
            count[n as usize] += 1;
        }
        assert_eq!(count, [32, 32, 64, 128]);
        assert_eq!(&s[..4], &[0, 1, 2, 3]);
        // Without assign, values beyond the nodes are no node.
        let d = value_slots(8, &nodes, false, None);
        assert_eq!(&d[..4], &[0, 1, 2, 3]);
        assert!(d[4..].iter().all(|&n| n == NO_NODE));
    }

    #[test]
    fn value_slots_move_few_slots_when_a_weight_changes() {
        let mut nodes = [active(1), active(1), active(1), active(1)];
        let a = value_slots(8, &nodes, true, None);
        nodes[3].state = NodeState::Out;
        let b = value_slots(8, &nodes, true, Some(&a));
        let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        // Node 3 had 64 slots; 63 extra ones move (its identity slot stays).
        assert_eq!(changed, 63);
        assert!(b.iter().enumerate().all(|(v, &n)| n != 3 || v == 3));
    }
}

//! Native Elastic Flow Distributor.

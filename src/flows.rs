//! Flow population.

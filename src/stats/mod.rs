//! Counters and rendering.

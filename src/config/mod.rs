//! Settings from the command line and TOML.

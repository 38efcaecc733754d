//! The configuration parser: the first byte picks a `--key` flag (or
//! none), the rest is the TOML file (UTF-8 only). efd_lb::props::config.
#![no_main]

use libfuzzer_sys::fuzz_target;

const FLAGS: [Option<&str>; 4] = [None, Some("ipv4_dst"), Some("5tuple"), Some("ipv6")];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    efd_lb::props::config(text, FLAGS[usize::from(first) % FLAGS.len()]);
});

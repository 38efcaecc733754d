//! The flow-file parser of every key kind: the first byte picks the kind
//! and the number of nodes, the rest is the file (UTF-8 only, as
//! `std::fs::read_to_string` gives it). efd_lb::props::flow_file.
#![no_main]

use efd_lb::key::KeyKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let kind = KeyKind::ALL[usize::from(first) % KeyKind::ALL.len()];
    let nodes = 1 + u16::from(first / 8 % 8);
    efd_lb::props::flow_file(kind, nodes, text);
});

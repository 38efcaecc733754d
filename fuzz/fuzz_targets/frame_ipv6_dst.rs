//! The `ipv6_dst` frame parser on any bytes: efd_lb::props::frame.
#![no_main]

use efd_lb::key::KeyKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    efd_lb::props::frame(KeyKind::Ipv6Dst, data);
});

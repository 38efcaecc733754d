//! Generates bindings to the installed DPDK (pkg-config `libdpdk`) and
//! compiles C wrappers for the `static inline` fast-path functions.

use std::env;
use std::path::PathBuf;

fn main() {
    let lib = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .unwrap_or_else(|e| {
            panic!("DPDK >= 22.11 not found by pkg-config (apt-get install libdpdk-dev): {e}")
        });
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let csrc = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("csrc");
    let wrappers = out.join("static_wrappers");

    // DPDK's public cflags (-include rte_config.h, -march=...) matter for the
    // layout of its structs: pass them to both clang (bindgen) and cc.
    let cflags = pkg_config_cflags();
    let mut clang_args: Vec<String> = cflags.clone();
    clang_args.push(format!("-I{}", csrc.display()));

    let bindings = bindgen::Builder::default()
        .header(csrc.join("wrapper.h").to_string_lossy())
        .clang_args(&clang_args)
        .allowlist_function("rte_(eal|eth|pktmbuf|mempool|ring|lcore|get|efd|strerror|exit|delay|rdtsc|socket|thread|malloc|free|zmalloc|mbuf|dev|log|cpu|service).*")
        .allowlist_function("efdlb_.*")
        .allowlist_var("RTE_.*")
        .allowlist_var("RING_F_.*")
        .allowlist_type("rte_(mbuf|eth|mempool|ring|efd).*")
        .opaque_type("rte_arp_hdr")
        .opaque_type("rte_l2tpv2_.*")
        .opaque_type("rte_gtp_psc_generic_hdr")
        .blocklist_item("max_align_t")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .wrap_static_fns(true)
        .wrap_static_fns_path(&wrappers)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen failed on the DPDK headers");
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings.rs");

    let mut build = cc::Build::new();
    build
        .file(wrappers.with_extension("c"))
        .file(csrc.join("shim.c"))
        .include(&csrc)
        .opt_level(3)
        .warnings(false);
    for inc in &lib.include_paths {
        build.include(inc);
    }
    for f in &cflags {
        if !f.starts_with("-I") {
            build.flag(f);
        }
    }
    build.compile("dpdk_static_wrappers");

    // Link DPDK shared, so the virtual PMDs load as plugins from RTE_EAL_PMD_PATH.
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    for l in &lib.libs {
        println!("cargo:rustc-link-lib=dylib={l}");
    }
    println!("cargo:rerun-if-changed=csrc/wrapper.h");
    println!("cargo:rerun-if-changed=csrc/shim.c");
}

/// The `--cflags` of libdpdk as individual arguments.
fn pkg_config_cflags() -> Vec<String> {
    let out = std::process::Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("run pkg-config");
    assert!(out.status.success(), "pkg-config --cflags libdpdk failed");
    let text = String::from_utf8(out.stdout).expect("utf-8 cflags");
    let mut args = Vec::new();
    let mut it = text.split_whitespace();
    while let Some(a) = it.next() {
        if a == "-include" {
            if let Some(f) = it.next() {
                args.push(a.to_string());
                args.push(f.to_string());
            }
        } else {
            args.push(a.to_string());
        }
    }
    args
}

//! The devices a configuration names (`--vdev`, `-a`/`--allow`), and
//! whether each came up. The EAL only logs a device that fails to probe
//! (`vdev_probe(): failed to initialize net_pcap0 device`) and goes on with
//! the others, so a port mask would silently select whichever device took
//! its port id; start-up instead fails naming the device.

#![forbid(unsafe_code)]

/// A device named by the EAL arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedDevice {
    /// The option and its value as written (`--vdev net_pcap0,rx_pcap=x`).
    pub arg: String,
    /// The device's name as the EAL's bus knows it (`net_pcap0`,
    /// `0000:01:00.0`), lowercase.
    pub name: String,
    /// Named by `--vdev` (else by `-a`/`--allow`).
    pub vdev: bool,
}

/// Long options that name a device to use, and whether it is a vdev.
const LONG: [(&str, bool); 3] = [
    ("--vdev", true),
    ("--allow", false),
    ("--pci-whitelist", false),
];

/// The devices `eal_args` name with `--vdev`, `-a`, `--allow` (either
/// spelling). Devices written in the key=value syntax (`bus=pci,addr=...`)
/// are left out: their name is not in the argument.
pub fn named_devices(eal_args: &[String]) -> Vec<NamedDevice> {
    let mut out = Vec::new();
    let mut it = eal_args.iter();
    while let Some(a) = it.next() {
        let mut found = None;
        for (opt, vdev) in LONG {
            if a == opt {
                found = it.next().map(|v| (opt.to_string(), v.clone(), vdev));
            } else if let Some(v) = a.strip_prefix(opt).and_then(|r| r.strip_prefix('=')) {
                found = Some((opt.to_string(), v.to_string(), vdev));
            }
        }
        if a == "-a" {
            found = it.next().map(|v| ("-a".to_string(), v.clone(), false));
        } else if let Some(v) = a
            .strip_prefix("-a")
            .filter(|v| !v.is_empty() && !a.starts_with("--"))
        {
            found = Some(("-a".to_string(), v.to_string(), false));
        }
        let Some((opt, value, vdev)) = found else {
            continue;
        };
        let Some(name) = device_name(&value) else {
            continue;
        };
        out.push(NamedDevice {
            arg: format!("{opt} {value}"),
            name,
            vdev,
        });
    }
    out
}

/// The device name in a devargs string: before the first comma, without
/// a `bus:` prefix, lowercase, PCI addresses with their domain.
fn device_name(devargs: &str) -> Option<String> {
    let name = devargs.split(',').next()?.trim();
    if name.is_empty() || name.contains('=') {
        return None;
    }
    let name = name.to_ascii_lowercase();
    let name = ["pci:", "vdev:", "auxiliary:"]
        .iter()
        .find_map(|b| name.strip_prefix(b))
        .unwrap_or(&name)
        .to_string();
    Some(if is_short_pci(&name) {
        format!("0000:{name}")
    } else {
        name
    })
}

/// `bb:dd.f` (a PCI address without its domain).
fn is_short_pci(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[2] == b':'
        && b[5] == b'.'
        && [0, 1, 3, 4, 6].iter().all(|&i| b[i].is_ascii_hexdigit())
}

/// The first named device no port came up on (`port_devices`: the device
/// name of every port DPDK has), as the error line.
pub fn check_named(named: &[NamedDevice], port_devices: &[String]) -> Result<(), String> {
    let up: Vec<String> = port_devices
        .iter()
        .map(|d| d.to_ascii_lowercase())
        .collect();
    match named.iter().find(|d| !up.contains(&d.name)) {
        None => Ok(()),
        Some(d) if d.vdev => Err(format!(
            "{}: the device did not come up (see the EAL's log above)",
            d.arg
        )),
        Some(d) => Err(format!(
            "{}: no port came up on this device (is it there, and bound to a DPDK driver? `dpdk-devbind.py --status`)",
            d.arg
        )),
    }
}

/// Drivers efd-lb refuses, and why.
pub fn unsupported_driver(driver: &str) -> Option<&'static str> {
    match driver {
        "net_ring" => Some(
            "net_ring is not supported: what a port sends comes back on its own receive queue (packets loop between the ports) and what is left in its rings at shutdown is never freed; use net_null to discard or net_pcap to capture",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_spelling_is_found() {
        let named = named_devices(&args(&[
            "--no-huge",
            "--vdev",
            "net_pcap0,rx_pcap=/missing",
            "--vdev=net_null0",
            "-a",
            "01:00.0",
            "-a0000:02:00.1,class=eth",
            "--allow=PCI:0000:03:00.0",
            "--allow",
            "bus=pci,addr=04:00.0",
            "-b",
            "0000:05:00.0",
            "--log-level=lib.eal:error",
        ]));
        let names: Vec<_> = named.iter().map(|d| (d.name.as_str(), d.vdev)).collect();
        assert_eq!(
            names,
            [
                ("net_pcap0", true),
                ("net_null0", true),
                ("0000:01:00.0", false),
                ("0000:02:00.1", false),
                ("0000:03:00.0", false),
            ]
        );
        assert_eq!(named[0].arg, "--vdev net_pcap0,rx_pcap=/missing");
        assert_eq!(named[3].arg, "-a 0000:02:00.1,class=eth");
    }

    #[test]
    fn a_device_that_did_not_come_up_is_named() {
        let named = named_devices(&args(&[
            "--vdev",
            "net_pcap0,rx_pcap=/missing",
            "--vdev",
            "net_null0",
        ]));
        assert_eq!(
            check_named(&named, &["net_null0".into()]).unwrap_err(),
            "--vdev net_pcap0,rx_pcap=/missing: the device did not come up (see the EAL's log above)"
        );
        assert!(check_named(&named, &["net_null0".into(), "net_pcap0".into()]).is_ok());
        let pci = named_devices(&args(&["-a", "0000:01:00.0"]));
        assert!(check_named(&pci, &[])
            .unwrap_err()
            .starts_with("-a 0000:01:00.0: no port came up on this device"));
        // Two ports of one PCI device (mlx4) both count for it.
        assert!(check_named(&pci, &["0000:01:00.0".into(), "0000:01:00.0".into()]).is_ok());
    }
}

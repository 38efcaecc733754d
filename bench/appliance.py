"""What the benchmarks that drive the running appliance over its API share:
the embedded default configuration with `[control]` keys added, and the
wait for the API to answer."""

import os
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def default_config_with_control(keys):
    """config/default.toml's text with `keys` (TOML lines) in `[control]`."""
    with open(os.path.join(ROOT, "config/default.toml")) as f:
        cfg = f.read()
    if "\n[control]\n" in cfg:
        return cfg.replace("\n[control]\n", "\n[control]\n" + keys)
    return cfg + "\n[control]\n" + keys


def wait_for_api(addr, proc, log_path, timeout=300):
    """Returns once GET /nodes answers; exits if efd-lb stopped or did not
    answer within `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{addr}/nodes", timeout=2) as r:
                r.read()
            return
        except Exception:
            if proc.poll() is not None or time.time() > deadline:
                sys.exit(f"efd-lb did not start; see {log_path}")
            time.sleep(0.5)


def request(addr, method, path, body=None, ctype="application/json", timeout=600):
    """One API request: (seconds it took, response body bytes)."""
    req = urllib.request.Request(f"http://{addr}{path}", data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", ctype)
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        data = r.read()
    return time.perf_counter() - t0, data


def efd_lb_command(binary, cfg, tmp, port, nodes, flows):
    """Writes `cfg` to `tmp`/lb.toml; returns (config path, API address,
    the efd-lb command line: `nodes` nodes, `flows` flows, JSON stats each
    minute)."""
    conf = os.path.join(tmp, "lb.toml")
    with open(conf, "w") as f:
        f.write(cfg)
    cmd = [binary, "--config", conf, "-n", str(nodes), "-f", str(flows),
           "--stats-format", "json", "--stats-period-ms", "60000"]
    return conf, f"127.0.0.1:{port}", cmd

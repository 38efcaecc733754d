#!/usr/bin/env python3
"""Pipeline benchmark: efd-lb vs DPDK's Server-Node EFD C sample (stdlib only).

Entry point: bench/pipeline.sh (see its header and --help).

Layout for every run (both programs): distributor on core 1, one worker (node)
on core 0, port 0 = net_pcap with infinite_rx=1, port 1 = net_null (TX sink),
--no-pci, hugepages when available.

C sample: `server -l 0,1 --main-lcore 1` (lcore 1 = the distributor loop on
core 1, lcore 0 = its stats thread, asleep but for 1 screen/s) and
`node -l 0 --proc-type=secondary -- -n 0` (core 0).
efd-lb: `--lcores 0@0,1@1,2@0` (stats on core 0, distributor on core 1, the
worker lcore on core 0).

Rows efd1-<key kind> (ipv4_src_dst, ipv4_5tuple, ipv6_dst, ipv6_5tuple,
5tuple): efd-lb -n 1 with `--key KIND` on the scenario's flows of that kind
(their own pcap, efd-lb-pcapgen --key), in the scenarios of --key-scenarios
(default b, 1M distinct flows); reported as a ratio to efd1 (ipv4_dst) of
the same run, with the default `flow_match` (auto: fingerprint for these
kinds but ipv4_src_dst). Rows efd1-<kind>-fp and efd1-<kind>-exact
(ipv4_5tuple, ipv6_dst, ipv6_5tuple, 5tuple): the same with `--flow-match
fingerprint` / `exact`. --frame-len N: every pcap's frames N bytes (78
fits every kind's headers). Rows pmd, pmd-<kind>:
dpdk-testpmd --forward-mode=rxonly on the same pcap (the input device
alone), reported as a ratio to pmd.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
BUILD = os.path.join(BENCH, "build")
OUT = os.path.join(BENCH, "out")
# The C sample's source, from the dpdk-doc package (BENCH_C_SAMPLE_SRC: read
# it from elsewhere).
C_SRC_PACKAGED = "/usr/share/dpdk/examples/server_node_efd"
C_SRC = os.environ.get("BENCH_C_SAMPLE_SRC") or C_SRC_PACKAGED
TARGET = os.path.join(REPO, "target", "release")
EFD_LB = os.path.join(TARGET, "efd-lb")
PCAPGEN = os.path.join(TARGET, "efd-lb-pcapgen")
XCORE = os.path.join(TARGET, "efd-lb-xcore")
TABLE_FLOWS = 1 << 20
POOL_HEADROOM = 16384          # mbufs on top of the pcap's packets
STOCK_POOL_1NODE_2PORTS = 4608  # the sample's own formula: (1 + 2) * 1536
NICE = 0                        # niceness of the benchmarked processes (--nice)
HUGEPAGES_WANTED = 3072         # 6 GiB of 2 MiB pages (1M-mbuf pools ~2.4 GB each)

SCENARIOS = {
    "a": dict(title="(a) 2,048 known flows cycled", file="a-2k-cycled.pcap", packets=2048,
              gen=["--packets", "2048", "--known-flows", "2048",
                   "--table-flows", str(TABLE_FLOWS), "--cycle"]),
    "b": dict(title="(b) 1,048,576 distinct known flows", file="b-1m-distinct.pcap",
              packets=1 << 20,
              gen=["--packets", str(1 << 20), "--known-flows", str(1 << 20)]),
    "c": dict(title="(c) 1,048,576 flows, 25% unknown destinations",
              file="c-1m-25unknown.pcap", packets=1 << 20,
              gen=["--packets", str(1 << 20), "--known-flows", str(1 << 20),
                   "--unknown-pct", "25"]),
}

ROWS = {
    "c": "C sample (--force-max-simd-bitwidth=128, correct EFD path)",
    "c-avx2": "C sample -n 2, default EFD lookup (AVX2 path): misroutes",
    "c-n2": "C sample -n 2, --force-max-simd-bitwidth=128 (control)",
    "efd1": "efd-lb -n 1",
    "efd4": "efd-lb -n 4 (same single worker lcore)",
    "efd1-ring": "efd-lb -n 1, `[mempool] ops = \"ring\"` (FIFO pool)",
    "efd4-ring": "efd-lb -n 4, `[mempool] ops = \"ring\"` (FIFO pool)",
    "efd1-b256": "efd-lb -n 1, `[ports] burst = 256`, `[rings] size = 4096`",
    "efd4-b256": "efd-lb -n 4, `[ports] burst = 256`, `[rings] size = 4096`",
    "efd1-base": "efd-lb -n 1, the --base-bin build",
    # One row per flow-key kind (`efd1` is ipv4_dst): its own pcap of the
    # scenario's flows of that kind (efd-lb-pcapgen --key), `--key KIND`.
    "efd1-ipv4_src_dst": "efd-lb -n 1, key ipv4_src_dst",
    "efd1-ipv4_5tuple": "efd-lb -n 1, key ipv4_5tuple",
    "efd1-ipv6_dst": "efd-lb -n 1, key ipv6_dst",
    "efd1-ipv6_5tuple": "efd-lb -n 1, key ipv6_5tuple",
    "efd1-5tuple": "efd-lb -n 1, key 5tuple (half IPv4, half IPv6)",
    "efd4-base": "efd-lb -n 4, the --base-bin build",
}
# The key kinds of the `efd1-<kind>` rows, and the targets of their
# forwarded rate as a ratio to `efd1` (ipv4_dst) in the same run.
KEY_KINDS = ["ipv4_src_dst", "ipv4_5tuple", "ipv6_dst", "ipv6_5tuple", "5tuple"]
KEY_TARGETS = {"ipv4_5tuple": 0.85, "ipv6_5tuple": 0.75}
# `efd1-<kind>-base`: a key kind's row with the --base-bin build.
ROWS.update({f"efd1-{k}-base": f"efd-lb -n 1, key {k}, the --base-bin build"
             for k in KEY_KINDS})
# `efd1-<kind>-fp`: a key kind's row with `--flow-match fingerprint` (keys
# wider than 8 bytes).
FP_KINDS = ["ipv4_5tuple", "ipv6_dst", "ipv6_5tuple", "5tuple"]
# `pmd`, `pmd-<kind>`: the input device alone, DPDK's dpdk-testpmd in
# rxonly mode on the same pcap (one forwarding lcore, on the distributor's
# core): how fast net_pcap delivers that traffic with nothing behind it.
ROWS["pmd"] = "dpdk-testpmd rxonly, ipv4_dst pcap (input device alone; rx Mpps)"
ROWS.update({f"pmd-{k}": f"dpdk-testpmd rxonly, {k} pcap (input device alone; rx Mpps)"
             for k in KEY_KINDS})
ROWS.update({f"efd1-{k}-fp": f"efd-lb -n 1, key {k}, `--flow-match fingerprint`"
             for k in FP_KINDS})
# `efd1-<kind>-exact`: with `--flow-match exact` (the default, auto, picks
# fingerprint for these kinds).
ROWS.update({f"efd1-{k}-exact": f"efd-lb -n 1, key {k}, `--flow-match exact`"
             for k in FP_KINDS})




def row_key(row):
    """The key kind of a row (None: ipv4_dst, the default)."""
    for k in KEY_KINDS:
        if row in (f"efd1-{k}", f"efd1-{k}-base", f"efd1-{k}-fp", f"efd1-{k}-exact", f"pmd-{k}"):
            return k
    return None


# Frame length on the wire (with FCS) of every generated pcap
# (efd-lb-pcapgen --frame-len; --frame-len of this script). 64 is the
# minimum frame, grown per frame where the headers need more (an IPv6/TCP
# frame is 78); one length for every kind (e.g. 78) makes every row's
# frames the same size, so that a key kind's ratio measures its keys and
# not the input device's cost of larger frames.
FRAME_LEN = 64


def pcap_name(s, key=None):
    """The pcap of scenario `s` with flows of key kind `key` (frames of
    FRAME_LEN)."""
    f = SCENARIOS[s]["file"]
    if key is not None:
        f = f.replace(".pcap", f"-{key}.pcap")
    return f if FRAME_LEN == 64 else f.replace(".pcap", f"-{FRAME_LEN}B.pcap")


def log(msg):
    print(f"[{datetime.datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------
# environment
# --------------------------------------------------------------------------

def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def setup_hugepages(wanted):
    """Reserve 2 MiB hugepages and mount hugetlbfs; return (ok, pages)."""
    try:
        nr = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
        with open(nr) as f:
            cur = int(f.read())
        if cur < wanted:
            with open(nr, "w") as f:
                f.write(str(wanted))
        os.makedirs("/dev/hugepages", exist_ok=True)
        if subprocess.run(["mountpoint", "-q", "/dev/hugepages"]).returncode != 0:
            subprocess.run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"], check=True)
    except Exception as e:  # noqa: BLE001
        log(f"hugepage setup failed: {e}")
    total = meminfo("HugePages_Total")
    mounted = subprocess.run(["mountpoint", "-q", "/dev/hugepages"]).returncode == 0
    return (total >= 1024 and mounted), total


def busy_processes():
    names = {"rustc", "cargo", "cc1", "cc1plus", "ld", "ld.lld", "collect2", "clang", "lld"}
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in names:
            found.append(comm)
    return found


def wait_quiet(minutes):
    """Wait until no compiler runs and the 1-min load is < 1 (up to `minutes`)."""
    deadline = time.time() + minutes * 60
    while True:
        busy = busy_processes()
        load = os.getloadavg()[0]
        if not busy and load < 1.0:
            log(f"machine quiet (load {load:.2f})")
            return True, load
        if time.time() >= deadline:
            log(f"machine NOT quiet after {minutes} min (load {load:.2f}, {sorted(set(busy))}); running anyway")
            return False, load
        log(f"waiting for a quiet machine: load {load:.2f}, compilers {sorted(set(busy))}")
        time.sleep(20)


def machine_info():
    info = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU(s)", "Thread(s) per core"):
                info[k.strip()] = v.strip()
        flags = [l for l in out.splitlines() if l.startswith("Flags")]
        info["avx2"] = bool(flags and " avx2" in flags[0])
        info["avx512f"] = bool(flags and " avx512f" in flags[0])
    except OSError:
        pass
    info["mem_gib"] = round(meminfo("MemTotal") / 1024 / 1024, 1)
    info["kernel"] = os.uname().release
    try:
        info["dpdk"] = subprocess.run(["pkg-config", "--modversion", "libdpdk"],
                                      capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return info


# --------------------------------------------------------------------------
# builds and inputs
# --------------------------------------------------------------------------

def c_build_paths(pool_extra):
    """The C sample's build directory for a pool size, and its two binaries."""
    d = os.path.join(BUILD, f"server_node_efd-pool{pool_extra}")
    return d, os.path.join(d, "server", "build", "server"), os.path.join(d, "node", "build", "node")


def ensure_c_source():
    """The C sample's source must be there to build it: when the packaged
    one is missing, install dpdk-doc (as root, with apt-get); otherwise, or
    if that fails, say what to install and exit 1."""
    if os.path.isdir(C_SRC):
        return
    if C_SRC == C_SRC_PACKAGED and os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"{C_SRC} is missing: installing dpdk-doc (apt-get install -y dpdk-doc)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "--no-install-recommends", "dpdk-doc"]
        if subprocess.run(install, env=env).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env)
            subprocess.run(install, env=env)
        if os.path.isdir(C_SRC):
            return
    sys.exit(f"error: the C sample's source ({C_SRC}) is missing: install the dpdk-doc package "
             f"(apt-get install dpdk-doc) or leave out the C rows (--rows efd1,efd4)")


def build_c(pool_extra):
    """Copy the dpdk-doc sample to bench/build/server_node_efd-pool<N>, patch
    only the mbuf pool size (+pool_extra mbufs), build with its Makefile."""
    d, server, node = c_build_paths(pool_extra)
    if os.path.exists(server) and os.path.exists(node):
        return server, node
    ensure_c_source()
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(BUILD, exist_ok=True)
    shutil.copytree(C_SRC, d)
    init_c = os.path.join(d, "server", "init.c")
    subprocess.run(["sed", "-i",
                    r"s/(info->num_ports \* MBUFS_PER_PORT);/(info->num_ports * MBUFS_PER_PORT) + BENCH_EXTRA_MBUFS;/",
                    init_c], check=True)
    with open(init_c) as f:
        if "BENCH_EXTRA_MBUFS" not in f.read():
            sys.exit("patching the C sample's pool size failed (init.c changed?)")
    env = dict(os.environ, CFLAGS=f"-DBENCH_EXTRA_MBUFS={pool_extra}")
    log(f"building the C sample in {d} (pool +{pool_extra} mbufs)")
    subprocess.run(["make", "-C", d, "-j2"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return server, node


def build_efd_lb():
    log("cargo build --release (efd-lb, efd-lb-pcapgen, efd-lb-xcore)")
    env = dict(os.environ)
    env.pop("CARGO_TARGET_DIR", None)
    r = subprocess.run(["cargo", "build", "--release", "--bin", "efd-lb", "--bin", "efd-lb-pcapgen",
                        "--bin", "efd-lb-xcore"], cwd=REPO, env=env)
    if r.returncode != 0:
        if os.path.exists(EFD_LB):
            log("cargo build --release FAILED (someone mid-edit?): using the existing target/release/efd-lb")
            return False
        sys.exit("cargo build --release failed and there is no target/release/efd-lb")
    return True


def xcore_round_trip():
    """The host's cross-core cache-line round trip between cores 0 and 1 (ns),
    or None. On a VM it moves with where the host runs the two vCPUs, and it
    is the price of every packet handed from the distributor to a worker."""
    if not os.path.exists(XCORE):
        return None
    try:
        out = subprocess.run([XCORE, "--json"], capture_output=True, text=True, timeout=20).stdout
        return round(json.loads(out)["round_trip_ns"], 1)
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError):
        return None


def gen_inputs(scenarios, regen, keys_for=None):
    """The scenarios' pcaps, and for each scenario in `keys_for` (a dict of
    scenario -> key kinds) the pcap of each key kind."""
    os.makedirs(OUT, exist_ok=True)
    todo = [(s, None) for s in scenarios]
    for s, keys in (keys_for or {}).items():
        todo += [(s, k) for k in keys]
    for s, key in todo:
        sc = SCENARIOS[s]
        path = os.path.join(OUT, pcap_name(s, key))
        if os.path.exists(path) and not regen:
            continue
        if not os.path.exists(PCAPGEN):
            sys.exit(f"{PCAPGEN} missing: cargo build --release --bin efd-lb-pcapgen")
        log(f"generating {path}")
        subprocess.run([PCAPGEN, "--out", path, "--frame-len", str(FRAME_LEN)] + sc["gen"]
                       + (["--key", key] if key else []), check=True)


# --------------------------------------------------------------------------
# process handling
# --------------------------------------------------------------------------

def _child_setup():
    """In the child before exec: SIGINT back to default (a background parent
    may ignore it, and ignored signals survive exec) and, with --nice, the
    niceness of the process *and* of its autogroup (each child is a new
    session, hence a new autogroup, and with sched_autogroup_enabled a plain
    nice value only counts inside the group)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if NICE:
        os.setpriority(os.PRIO_PROCESS, 0, NICE)
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(NICE))
        except OSError:
            pass


class Proc:
    """A child in its own session; stdout+stderr lines timestamped (monotonic)."""

    def __init__(self, argv, logpath, on_line=None):
        self.argv = argv
        self.lines = []
        self.on_line = on_line
        self.logf = open(logpath, "w")
        self.logf.write("# " + " ".join(argv) + "\n")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True,
                                  preexec_fn=_child_setup)
        self.th = threading.Thread(target=self._read, daemon=True)
        self.th.start()

    def _read(self):
        for raw in self.p.stdout:
            t = time.monotonic()
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append((t, line))
            self.logf.write(f"{t - self.t0:9.3f} {line}\n")
            if self.on_line:
                self.on_line(t, line)
        self.logf.flush()

    def alive(self):
        return self.p.poll() is None

    def stop(self, grace=5.0):
        """SIGINT, then SIGKILL after `grace` s; returns the exit code."""
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait()
        self.th.join(5)
        try:
            self.logf.close()
        except Exception:  # noqa: BLE001
            pass
        return self.p.returncode

    def text(self):
        return "\n".join(l for _, l in self.lines)


def cleanup_prefix(prefix):
    for f in os.listdir("/dev/hugepages") if os.path.isdir("/dev/hugepages") else []:
        if f.startswith(prefix):
            try:
                os.unlink(os.path.join("/dev/hugepages", f))
            except OSError:
                pass
    shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)


def wait_for(pred, timeout, procs=(), poll=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        if any(not p.alive() for p in procs):
            return pred()
        time.sleep(poll)
    return None


def eal_ports(pcap, queues=1):
    # The C server sets up num_nodes TX queues on every port; net_pcap offers
    # as many TX queues as it has rx_pcap files, so for -n 2 the same file is
    # named twice (only RX queue 0 is set up and replayed).
    rx = ",".join([f"rx_pcap={pcap}"] * queues)
    return ["--no-pci", "--vdev", f"net_pcap0,{rx},infinite_rx=1",
            "--vdev", "net_null0,no-rx=1"]


# --------------------------------------------------------------------------
# the C sample
# --------------------------------------------------------------------------

RE_PORT = re.compile(r"Port (\d+) - rx:\s*(\d+)\s+tx:\s*(\d+)")
RE_DIST = re.compile(r"distributed:\s*(\d+), drop:\s*(\d+)")
RE_NODE = re.compile(r"Node\s+(\d+) - rx:\s*(\d+), rx_drop:\s*(\d+)")
RE_NTX = re.compile(r"^\s+tx:\s*(\d+), tx_drop:\s*(\d+)")
RE_FILT = re.compile(r"filter_passed:\s*(\d+), filter_drop:\s*(\d+)")


class CScreens:
    """Parses the server's stats screens (ESC[2J ... one per second)."""

    def __init__(self, num_nodes=1):
        self.num_nodes = num_nodes
        self.screens = []   # (t, dict)
        self.cur = None
        self.node = None
        self.init_done = None

    def on_line(self, t, line):
        if "Finished Process Init" in line and self.init_done is None:
            self.init_done = t
        if "\x1b[2J" in line:
            self.cur = {"t": t, "ports": {}, "nodes": {}}
        if self.cur is None:
            return
        m = RE_PORT.search(line)
        if m:
            self.cur["ports"][int(m[1])] = (int(m[2]), int(m[3]))
            return
        m = RE_DIST.search(line)
        if m:
            self.cur["distributed"], self.cur["drop"] = int(m[1]), int(m[2])
            return
        m = RE_NODE.search(line)
        if m:
            self.node = int(m[1])
            self.cur["nodes"][self.node] = {"rx": int(m[2]), "rx_drop": int(m[3])}
            return
        m = RE_NTX.search(line)
        if m and self.node is not None:
            self.cur["nodes"][self.node].update(tx=int(m[1]), tx_drop=int(m[2]))
            return
        m = RE_FILT.search(line)
        if m and self.node is not None:
            self.cur["nodes"][self.node].update(filter_passed=int(m[1]), filter_drop=int(m[2]))
            if self.node == self.num_nodes - 1:
                self.screens.append(self.cur)
                self.cur = None
                self.node = None


def c_counters(s):
    nodes = s["nodes"].values()
    return dict(
        rx=s["ports"].get(0, (0, 0))[0],
        distributed=s["distributed"],
        drop_unknown_node=s["drop"],
        drop_by_reason={},
        ring_full=sum(n["rx_drop"] for n in nodes),
        filter_passed=sum(n["filter_passed"] for n in nodes),
        filter_drop=sum(n["filter_drop"] for n in nodes),
        tx=sum(n["tx"] for n in nodes),
        tx_drop=sum(n["tx_drop"] for n in nodes),
    )


def run_c(server, node, pcap, avx2, args, tag, logdir, num_nodes=1):
    prefix = f"benchc_{tag}_{os.getpid()}"
    cleanup_prefix(prefix)
    simd = [] if avx2 else ["--force-max-simd-bitwidth=128"]
    eal = ["--file-prefix", prefix] + simd + eal_ports(pcap, num_nodes)
    scr = CScreens(num_nodes)
    res = dict(program="c", avx2=avx2, nodes=num_nodes, prefix=prefix)
    t_start = time.monotonic()
    srv = Proc(["stdbuf", "-oL", server, "-l", "0,1", "--main-lcore", "1"] + eal +
               ["--", "-p", "0x3", "-n", str(num_nodes), "-f", str(TABLE_FLOWS)],
               os.path.join(logdir, f"{tag}-server.log"), scr.on_line)
    nds = []
    try:
        if not wait_for(lambda: scr.init_done, args.init_timeout, [srv]):
            res["error"] = "server did not finish init"
            return res
        res["server_init_s"] = round(scr.init_done - t_start, 2)
        t_node = time.monotonic()
        # Every node process on core 0; distinct lcore ids (0, 2, 3, ...)
        # because mempool caches are per lcore id across processes.
        for i in range(num_nodes):
            lc = 0 if i == 0 else i + 1
            nds.append(Proc(["stdbuf", "-oL", node, "--lcores", f"{lc}@0", "--proc-type=secondary"] + eal +
                            ["--", "-n", str(i)], os.path.join(logdir, f"{tag}-node{i}.log")))

        def ready():
            for s in scr.screens:
                if s["t"] > t_node:
                    c = c_counters(s)
                    if c["filter_passed"] + c["filter_drop"] > 0:
                        return s
            return None
        r = wait_for(ready, args.init_timeout, [srv] + nds)
        if not r:
            res["error"] = "node never processed packets" + "".join(
                f" (node {i} exited {n.p.returncode})" for i, n in enumerate(nds) if not n.alive())
            return res
        res["node_ready_s"] = round(r["t"] - t_node, 2)
        a = wait_for(lambda: next((s for s in scr.screens if s["t"] >= r["t"] + args.warmup), None),
                     args.warmup + 10, [srv] + nds)
        if not a:
            res["error"] = "no stats screen after warm-up"
            return res
        b = wait_for(lambda: next((s for s in scr.screens if s["t"] >= a["t"] + args.measure), None),
                     args.measure + 10, [srv] + nds)
        if not b:
            res["error"] = "no stats screen after measurement" + (
                "" if srv.alive() and all(n.alive() for n in nds) else " (a process died)")
            return res
        res.update(window(c_counters(a), c_counters(b), b["t"] - a["t"]))
    finally:
        res["node_rc"] = [n.stop() for n in nds]
        res["server_rc"] = srv.stop()
        cleanup_prefix(prefix)
    return res


# --------------------------------------------------------------------------
# dpdk-testpmd: the input device alone
# --------------------------------------------------------------------------

def run_pmd(pcap, packets, args, tag, logdir, use_huge):
    """dpdk-testpmd --forward-mode=rxonly on net_pcap (infinite_rx) of
    `pcap`: its main lcore on core 0, its one forwarding lcore on core 1
    (the distributor's); rx Mpps over the measure window after warm-up."""
    prefix = f"benchpmd_{tag}_{os.getpid()}"
    cleanup_prefix(prefix)
    samples = []
    port = [None]

    def on_line(t, line):
        m = re.search(r"statistics for port (\d+)", line)
        if m:
            port[0] = int(m.group(1))
            return
        m = re.match(r"\s*RX-packets:\s+(\d+)", line)
        if m and port[0] == 0:
            samples.append((t, int(m.group(1))))
    mem = ["--file-prefix", prefix] if use_huge else ["--no-huge", "-m", "4096"]
    argv = ["dpdk-testpmd", "-l", "0,1", "--main-lcore", "0", "--no-pci"] + mem + [
        "--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "--vdev", "net_null0,no-rx=1",
        "--", "--forward-mode=rxonly", f"--total-num-mbufs={packets + 200000}",
        "--stats-period", "1", "--nb-cores=1", "--portmask=0x1"]
    res = dict(program="dpdk-testpmd", prefix=prefix)
    p = Proc(argv, os.path.join(logdir, f"{tag}-testpmd.log"), on_line)
    try:
        first = wait_for(lambda: next((x for x in samples if x[1] > 0), None), args.init_timeout, [p])
        if not first:
            res["error"] = "testpmd received nothing"
            return res
        a = wait_for(lambda: next((x for x in samples if x[0] >= first[0] + args.warmup), None),
                     args.warmup + 10, [p])
        b = a and wait_for(lambda: next((x for x in samples if x[0] >= a[0] + args.measure), None),
                           args.measure + 10, [p])
        if not b:
            res["error"] = "no testpmd statistics after warm-up and measurement"
            return res
        rate = (b[1] - a[1]) / (b[0] - a[0]) / 1e6
        res.update(distributed_mpps=rate, forwarded_mpps=rate,
                   drops_mpps=dict(unknown_node=0.0, ring_full=0.0, filter_drop=0.0, tx_drop=0.0))
    finally:
        res["rc"] = p.stop()
        cleanup_prefix(prefix)
    return res


# --------------------------------------------------------------------------
# efd-lb
# --------------------------------------------------------------------------

def efd_counters(j):
    d = j["distributor"]
    nodes = j["nodes"]
    return dict(
        t=j["mono_ns"] / 1e9,
        rx=j["ports"][0]["rx"] if j.get("ports") else 0,
        distributed=d["distributed"],
        drop_unknown_node=d.get("drop_unknown_node", 0),
        drop_by_reason=dict(d.get("drop_by_reason") or {}),
        ring_full=sum(n["rx_drop"] for n in nodes),
        filter_passed=sum(n["filter_passed"] for n in nodes),
        filter_drop=sum(n["filter_drop"] for n in nodes),
        tx=sum(n["tx"] for n in nodes),
        tx_drop=sum(n["tx_drop"] for n in nodes),
        dist_cycles=d.get("busy_cycles", 0),
        dist_packets=d.get("packets", 0),
        workers=[(w.get("busy_cycles", 0), w.get("packets", 0)) for w in j.get("workers", [])],
    )


def run_efd(binary, pcap, nodes, packets, args, tag, logdir, use_huge, ops=None, burst=None,
            key=None, flow_match=None):
    prefix = f"benchefd_{tag}_{os.getpid()}"
    cleanup_prefix(prefix)
    snaps = []

    def on_line(t, line):
        if line.startswith("{"):
            try:
                j = json.loads(line)
            except ValueError:
                return
            if "distributor" in j:
                j["_t"] = t
                snaps.append(j)
    mem = ["--file-prefix", prefix] if use_huge else ["--no-huge", "-m", "4096"]
    # Own config file: the embedded default adds --no-huge and its own pcap
    # vdev to the EAL args. Pool = the C sample's patched pool size.
    # `ops`: the pool's driver if not the default (the `-ring` rows).
    cfg = os.path.join(OUT, f"efd-lb-pool{packets}{'-' + ops if ops else ''}{'-b' + str(burst) if burst else ''}.toml")
    with open(cfg, "w") as f:
        f.write("# written by bench/pipeline.py\n[eal]\nargs = []\n\n[mempool]\n"
                f"mbufs = {STOCK_POOL_1NODE_2PORTS + packets + POOL_HEADROOM}\n"
                + (f'ops = "{ops}"\n' if ops else "")
                + (f"\n[ports]\nburst = {burst}\n\n[rings]\nsize = 4096\n" if burst else ""))
    argv = [binary, "--config", cfg, "--lcores", "0@0,1@1,2@0", "-p", "0x3", "-n", str(nodes),
            "-f", str(TABLE_FLOWS), "--stats-format", "json", "--stats-period-ms", "1000"]
    if key:
        argv += ["--key", key]
    if flow_match:
        argv += ["--flow-match", flow_match]
    argv += args.efd_extra
    argv += ["--"] + eal_ports(pcap) + mem
    res = dict(program="efd-lb", nodes=nodes, prefix=prefix)
    t_start = time.monotonic()
    p = Proc(argv, os.path.join(logdir, f"{tag}-efd-lb.log"), on_line)
    try:
        def ready():
            for j in snaps:
                c = efd_counters(j)
                if c["filter_passed"] + c["filter_drop"] > 0:
                    return j
            return None
        r = wait_for(ready, args.init_timeout, [p])
        if not r:
            res["error"] = "efd-lb never forwarded" + ("" if p.alive() else f" (exited {p.p.returncode})")
            res["output_tail"] = p.text()[-1500:]
            return res
        res["ready_s"] = round(r["_t"] - t_start, 2)
        rt = efd_counters(r)["t"]
        a = wait_for(lambda: next((j for j in snaps if efd_counters(j)["t"] >= rt + args.warmup), None),
                     args.warmup + 10, [p])
        if not a:
            res["error"] = "no snapshot after warm-up"
            res["output_tail"] = p.text()[-1500:]
            return res
        at = efd_counters(a)["t"]
        b = wait_for(lambda: next((j for j in snaps if efd_counters(j)["t"] >= at + args.measure), None),
                     args.measure + 10, [p])
        if not b:
            res["error"] = "no snapshot after measurement" + ("" if p.alive() else f" (exited {p.p.returncode})")
            res["output_tail"] = p.text()[-1500:]
            return res
        ca, cb = efd_counters(a), efd_counters(b)
        res.update(window(ca, cb, cb["t"] - ca["t"]))
        dp = cb["dist_packets"] - ca["dist_packets"]
        res["dist_cycles_per_packet"] = round((cb["dist_cycles"] - ca["dist_cycles"]) / dp, 1) if dp else None
        res["worker_cycles_per_packet"] = [
            round((wb[0] - wa[0]) / (wb[1] - wa[1]), 1) if wb[1] > wa[1] else None
            for wa, wb in zip(ca["workers"], cb["workers"])]
        res["wall_vs_mono"] = round((b["_t"] - a["_t"]) / (cb["t"] - ca["t"]), 4)
    finally:
        res["rc"] = p.stop(grace=10)
        tail = [l for _, l in p.lines[-8:] if not l.startswith("{")]
        if tail:
            res["stderr_tail"] = tail
        finals = [j for j in snaps if j.get("final")]
        res["final_snapshot_seen"] = bool(finals)
        cleanup_prefix(prefix)
    return res


# --------------------------------------------------------------------------
# metrics and report
# --------------------------------------------------------------------------

def window(a, b, dt):
    def rate(k):
        return (b[k] - a[k]) / dt / 1e6
    out = dict(
        dt_s=round(dt, 3),
        rx_mpps=rate("rx"),
        distributed_mpps=rate("distributed"),
        forwarded_mpps=rate("tx"),
        filter_passed_mpps=rate("filter_passed"),
        drops_mpps=dict(
            unknown_node=rate("drop_unknown_node"),
            ring_full=rate("ring_full"),
            filter_drop=rate("filter_drop"),
            tx_drop=rate("tx_drop"),
        ),
    )
    for k, v in (b.get("drop_by_reason") or {}).items():
        d = v - (a.get("drop_by_reason") or {}).get(k, 0)
        if d:
            out["drops_mpps"][f"no_key:{k}"] = d / dt / 1e6
    return out


def med(xs):
    return statistics.median(xs) if xs else None


def fmt_mmm(xs, nd=2):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–"
    return f"{med(xs):.{nd}f} ({min(xs):.{nd}f}–{max(xs):.{nd}f})"


def frames_text(frame_len):
    """The report's words for the frames' length."""
    if frame_len == 64:
        return "64 bytes, or the minimum that holds a frame's headers"
    return f"{frame_len} bytes, every row (--frame-len)"


def report(doc):
    runs = doc["runs"]
    lines = []
    meta = doc["meta"]
    lines.append(f"Date {meta['date']}; machine {meta['machine'].get('Model name')} "
                 f"({meta['machine'].get('CPU(s)')} CPUs, AVX2 {meta['machine'].get('avx2')}), "
                 f"DPDK {meta['machine'].get('dpdk')}; hugepages: {meta['hugepages']}; "
                 f"quiet machine at start: {meta.get('quiet')} (1-min load {meta.get('load_at_start')}), "
                 f"niceness {meta.get('niceness', 0)}; warm-up {meta['warmup']} s, "
                 f"measure {meta['measure']} s; frames "
                 f"{frames_text(meta.get('frame_len', 64))}.")
    lines.append("")
    for s in meta["scenarios"]:
        lines.append(f"### {SCENARIOS[s]['title']}")
        lines.append("")
        lines.append("| row | runs ok | distributed Mpps | forwarded Mpps | drops Mpps (median): unknown node / ring full / node filter / tx | cycles/pkt distributor / worker |")
        lines.append("|---|---|---|---|---|---|")
        by = {}
        for row in meta["rows"]:
            rr = [r for r in runs if r["scenario"] == s and r["row"] == row]
            ok = [r for r in rr if "forwarded_mpps" in r]
            by[row] = ok
            if not rr:
                continue
            drops = []
            for k in ("unknown_node", "ring_full", "filter_drop", "tx_drop"):
                drops.append(f"{med([r['drops_mpps'][k] for r in ok]):.2f}" if ok else "–")
            extra = sorted({k for r in ok for k in r["drops_mpps"] if k.startswith("no_key:")})
            for k in extra:
                drops.append(f"{k[7:]} {med([r['drops_mpps'].get(k, 0) for r in ok]):.2f}")
            cyc = "–"
            if ok and ok[0].get("dist_cycles_per_packet") is not None:
                wk = [w for r in ok for w in [r.get("worker_cycles_per_packet") or [None]][0][:1]]
                cyc = (f"{fmt_mmm([r['dist_cycles_per_packet'] for r in ok], 1)} / "
                       f"{fmt_mmm(wk, 1)}")
            lines.append(f"| {ROWS[row]} | {len(ok)}/{len(rr)} | "
                         f"{fmt_mmm([r['distributed_mpps'] for r in ok])} | "
                         f"{fmt_mmm([r['forwarded_mpps'] for r in ok])} | "
                         f"{' / '.join(drops)} | {cyc} |")
        lines.append("")

        def ratio_line(num, den, label):
            if not by.get(num) or not by.get(den):
                return
            mn, md = med([r["forwarded_mpps"] for r in by[num]]), med([r["forwarded_mpps"] for r in by[den]])
            pairs = {}
            for r in by[den]:
                pairs.setdefault(r["rep"], {})["d"] = r["forwarded_mpps"]
            for r in by[num]:
                pairs.setdefault(r["rep"], {})["n"] = r["forwarded_mpps"]
            pr = [p["n"] / p["d"] for p in pairs.values() if "n" in p and "d" in p and p["d"] > 0]
            lines.append(f"- {label}: forwarded {mn / md:.2f}× (ratio of medians); "
                         f"per interleaved pair {fmt_mmm(pr)}×")
        ratio_line("efd1", "c", "efd-lb 1 node / C sample")
        ratio_line("efd4", "c", "efd-lb 4 nodes / C sample")
        ratio_line("efd4", "efd1", "efd-lb 4 nodes / efd-lb 1 node")
        ratio_line("efd1-ring", "efd1", "efd-lb 1 node, ring pool / default pool")
        ratio_line("efd4-ring", "efd4", "efd-lb 4 nodes, ring pool / default pool")
        ratio_line("efd1-ring", "c", "efd-lb 1 node, ring pool / C sample")
        ratio_line("efd1-b256", "efd1", "efd-lb 1 node, burst 256 / burst 32")
        ratio_line("efd4-b256", "efd4", "efd-lb 4 nodes, burst 256 / burst 32")
        ratio_line("efd1", "efd1-base", "efd-lb 1 node / the --base-bin build")
        ratio_line("efd4", "efd4-base", "efd-lb 4 nodes / the --base-bin build")
        for k in KEY_KINDS:
            ratio_line(f"efd1-{k}", "efd1", f"efd-lb 1 node, key {k} / ipv4_dst")
            ratio_line(f"efd1-{k}", f"efd1-{k}-base", f"efd-lb 1 node, key {k} / the --base-bin build")
        for k in KEY_KINDS:
            ratio_line(f"pmd-{k}", "pmd", f"input device alone (dpdk-testpmd rxonly), {k} pcap / ipv4_dst pcap")
        for k in FP_KINDS:
            ratio_line(f"efd1-{k}-fp", "efd1", f"efd-lb 1 node, key {k}, flow_match fingerprint / ipv4_dst")
            ratio_line(f"efd1-{k}-exact", "efd1", f"efd-lb 1 node, key {k}, flow_match exact / ipv4_dst")
            ratio_line(f"efd1-{k}-fp", f"efd1-{k}-exact", f"efd-lb 1 node, key {k}, fingerprint / exact")
        for row in ("c-avx2", "c-n2"):
            if by.get(row):
                fr = [r["drops_mpps"]["filter_drop"] / (r["drops_mpps"]["filter_drop"] + r["filter_passed_mpps"])
                      for r in by[row] if r["drops_mpps"]["filter_drop"] + r["filter_passed_mpps"] > 0]
                lines.append(f"- {row}: share of packets reaching a node that were sent to the wrong node "
                             f"(dropped by its filter): {fmt_mmm([100 * x for x in fr], 1)} %")
        st = []
        for row in meta["rows"]:
            for k, label in (("server_init_s", "server init"), ("node_ready_s", "node ready"),
                             ("ready_s", "start to first forwarded packet")):
                xs = [r[k] for r in runs if r["scenario"] == s and r["row"] == row and k in r]
                if xs:
                    st.append(f"{row} {label} {fmt_mmm(xs, 1)} s")
        if st:
            lines.append("- startup: " + "; ".join(st))
        xs = [x for r in runs if r["scenario"] == s for x in r.get("xcore_rt_ns", []) if x is not None]
        if xs:
            lines.append(f"- host cross-core round trip (efd-lb-xcore, before and after each run): "
                         f"{fmt_mmm(xs, 0)} ns")
        errs = [r for r in runs if r["scenario"] == s and "error" in r]
        for r in errs:
            lines.append(f"- failed run: {r['row']} rep {r['rep']}: {r['error']}")
        lines.append("")
    tg = ["### Targets (forwarded Mpps, ratio of medians)", "",
          "| scenario | efd-lb / C ≥ 1.5 | efd-lb 4 nodes / efd-lb 1 node ≥ 0.90 |", "|---|---|---|"]
    for s in meta["scenarios"]:
        def m(row):
            xs = [r["forwarded_mpps"] for r in runs if r["scenario"] == s and r["row"] == row and "forwarded_mpps" in r]
            return med(xs)
        c, e1, e4 = m("c"), m("efd1"), m("efd4")
        t1 = f"{e1 / c:.2f}× {'met' if e1 / c >= 1.5 else 'MISSED'}" if c and e1 else "–"
        t2 = f"{e4 / e1:.2f} {'met' if e4 / e1 >= 0.9 else 'MISSED'}" if e1 and e4 else "–"
        tg.append(f"| {s} | {t1} | {t2} |")
    lines += tg
    kt = []
    for s in meta["scenarios"]:
        def fm(row):
            return med([r["forwarded_mpps"] for r in runs
                        if r["scenario"] == s and r["row"] == row and "forwarded_mpps" in r])
        base = fm("efd1")
        cells = []
        for k in KEY_KINDS:
            v = fm(f"efd1-{k}")
            if v is None or not base:
                cells.append("–")
                continue
            t = KEY_TARGETS.get(k)
            cells.append(f"{v / base:.2f}×" + (f" {'met' if v / base >= t else 'MISSED'} (≥ {t})" if t else ""))
        if any(c != "–" for c in cells):
            kt.append(f"| {s} | " + " | ".join(cells) + " |")
    if kt:
        lines += ["", "### Key kinds (forwarded Mpps / ipv4_dst's, 1 node, ratio of medians)", "",
                  "| scenario | " + " | ".join(KEY_KINDS) + " |",
                  "|---|" + "---|" * len(KEY_KINDS)] + kt
    return "\n".join(lines)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=7, help="repetitions per row (default 7)")
    ap.add_argument("--avx2-reps", type=int, default=3,
                    help="repetitions of the c-avx2 / c-n2 rows (default 3; a finding, not a target)")
    ap.add_argument("--avx2-scenarios", default="b",
                    help="scenarios for the c-avx2 / c-n2 rows (default b)")
    ap.add_argument("--avx2-nodes", type=int, default=2,
                    help="nodes for the c-avx2 / c-n2 rows (default 2; with 1 node every EFD value is 0 "
                         "and a wrong lookup cannot show)")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--measure", type=float, default=15.0)
    ap.add_argument("--scenarios", default="a,b,c")
    ap.add_argument("--rows", default="c,efd1,efd4,c-avx2,c-n2," + ",".join(f"efd1-{k}" for k in KEY_KINDS))
    ap.add_argument("--key-scenarios", default="b",
                    help="scenarios for the efd1-<key kind> rows (default b: 1M distinct flows)")
    ap.add_argument("--frame-len", type=int, default=64,
                    help="frame length (with FCS) of every generated pcap, every row (default 64: the "
                         "minimum, longer where a frame's headers need it; 78 fits every key kind's "
                         "headers, so that all rows carry frames of one size)")
    ap.add_argument("--quick", action="store_true", help="1 repetition of everything (smoke test)")
    ap.add_argument("--no-build", action="store_true", help="skip cargo build (use the existing target/release/efd-lb)")
    ap.add_argument("--regen", action="store_true", help="regenerate the pcaps")
    ap.add_argument("--wait-quiet", type=float, default=30.0,
                    help="minutes to wait for no compiler and load < 1 (0: don't wait)")
    ap.add_argument("--nice", type=int, default=0,
                    help="run both programs at this niceness (e.g. -10) so concurrent compiles by "
                         "others disturb them less (default 0)")
    ap.add_argument("--init-timeout", type=float, default=240.0)
    ap.add_argument("--efd-extra", default="", help="extra efd-lb options (before --), space-separated")
    ap.add_argument("--base-bin", metavar="PATH",
                    help="another efd-lb build (e.g. of the previous commit) for the rows efd1-base / efd4-base")
    ap.add_argument("--report", metavar="RESULTS_JSON", help="only render the tables of a results file")
    args = ap.parse_args()
    # SIGTERM/SIGINT: unwind so the running programs are stopped and cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    signal.signal(signal.SIGINT, lambda *_: sys.exit("interrupted"))
    args.efd_extra = args.efd_extra.split()

    if args.report:
        with open(args.report) as f:
            print(report(json.load(f)))
        return
    if args.quick:
        args.reps, args.avx2_reps = 1, 1
    if not 64 <= args.frame_len <= 1518:
        sys.exit(f"--frame-len {args.frame_len}: not in 64..1518")
    global FRAME_LEN
    FRAME_LEN = args.frame_len
    scenarios = [s for s in args.scenarios.split(",") if s]
    rows = [r for r in args.rows.split(",") if r]
    for s in scenarios:
        if s not in SCENARIOS:
            sys.exit(f"unknown scenario {s}")
    for r in rows:
        if r not in ROWS:
            sys.exit(f"unknown row {r}")
    if os.geteuid() != 0:
        sys.exit("run as root (hugepages, DPDK)")
    # Before the long steps: the C rows need the C sample's source unless
    # every scenario's build is already there.
    if any(r.startswith("c") for r in rows) and not all(
            all(os.path.exists(b) for b in c_build_paths(SCENARIOS[s]["packets"] + POOL_HEADROOM)[1:])
            for s in scenarios):
        ensure_c_source()

    huge_ok, pages = setup_hugepages(HUGEPAGES_WANTED)
    log(f"hugepages: {'yes' if huge_ok else 'NO'} ({pages} x 2 MiB)")
    if not huge_ok and any(r.startswith("c") for r in rows):
        log("no hugepages: the C sample's secondary node process needs shared hugepage memory; skipping its rows")
        rows = [r for r in rows if not r.startswith("c")]

    built = None
    if not args.no_build:
        built = build_efd_lb()
    key_rows = [r for r in rows if row_key(r)]
    key_scenarios = [s for s in scenarios if s in args.key_scenarios.split(",")] if key_rows else []
    gen_inputs(scenarios, args.regen, {s: [row_key(r) for r in key_rows] for s in key_scenarios})
    c_bins = {}
    if any(r.startswith("c") for r in rows):
        for s in scenarios:
            extra = SCENARIOS[s]["packets"] + POOL_HEADROOM
            c_bins[s] = build_c(extra)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    logdir = os.path.join(OUT, f"logs-{stamp}")
    os.makedirs(logdir, exist_ok=True)
    results_path = os.path.join(OUT, f"results-{stamp}.json")

    # Run a private copy: other engineers rebuild target/release/efd-lb.
    efd_bin = None
    if any(r.startswith("efd") for r in rows):
        efd_bin = os.path.join(logdir, "efd-lb")
        shutil.copy2(EFD_LB, efd_bin)
    base_bin = None
    if any(r.endswith("-base") for r in rows):
        if not args.base_bin or not os.path.exists(args.base_bin):
            sys.exit("rows efd1-base / efd4-base need --base-bin PATH (an efd-lb binary)")
        base_bin = os.path.join(logdir, "efd-lb-base")
        shutil.copy2(args.base_bin, base_bin)
    git = lambda *a: subprocess.run(["git", "-C", REPO] + list(a), capture_output=True, text=True).stdout.strip()
    efd_info = dict(
        built_now=built, binary_mtime=datetime.datetime.fromtimestamp(os.path.getmtime(EFD_LB)).isoformat(
            timespec="seconds") if os.path.exists(EFD_LB) else None,
        git_head=git("rev-parse", "--short", "HEAD"),
        base_bin=args.base_bin,
        uncommitted_src_files=len([l for l in git("status", "--short", "src", "dpdk", "Cargo.toml").splitlines() if l]))
    quiet, load = (None, os.getloadavg()[0])
    if args.wait_quiet > 0:
        quiet, load = wait_quiet(args.wait_quiet)
    if args.nice:
        global NICE
        NICE = args.nice
        log(f"running the benchmarked processes at niceness {NICE}")
    doc = dict(meta=dict(
        date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        machine=machine_info(), hugepages=f"{pages} x 2 MiB" if huge_ok else "no (--no-huge)",
        quiet=quiet, load_at_start=round(load, 2), busy_at_start=sorted(set(busy_processes())),
        efd_lb=efd_info, frame_len=FRAME_LEN, niceness=NICE, warmup=args.warmup, measure=args.measure, reps=args.reps, avx2_reps=args.avx2_reps,
        scenarios=scenarios, rows=rows, command=" ".join(["bench/pipeline.sh"] + sys.argv[1:]),
        c_patch=("server/init.c: mbuf pool = stock (num_nodes + num_ports) * 1536 "
                 "+ BENCH_EXTRA_MBUFS (= pcap packets + 16384); nothing else"),
        pool_mbufs={s: STOCK_POOL_1NODE_2PORTS + SCENARIOS[s]["packets"] + POOL_HEADROOM for s in scenarios},
    ), runs=[])

    def save():
        with open(results_path + ".tmp", "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(results_path + ".tmp", results_path)

    reps = max(args.reps, args.avx2_reps)
    for rep in range(1, reps + 1):
        for s in scenarios:
            pcap = os.path.join(OUT, pcap_name(s))
            for row in rows:
                side = row in ("c-avx2", "c-n2")
                if rep > (args.avx2_reps if side else args.reps):
                    continue
                if side and s not in args.avx2_scenarios.split(","):
                    continue
                key = row_key(row)
                if key and s not in key_scenarios:
                    continue
                tag = f"{s}-{row}-r{rep}"
                doc["meta"].setdefault("load_before_runs", []).append(round(os.getloadavg()[0], 2))
                xcore_before = xcore_round_trip()
                t0 = time.time()
                if row.startswith("pmd"):
                    r = run_pmd(os.path.join(OUT, pcap_name(s, key)) if key else pcap,
                                SCENARIOS[s]["packets"], args, tag, logdir, huge_ok)
                elif row.startswith("c"):
                    server, node = c_bins[s]
                    r = run_c(server, node, pcap, row == "c-avx2", args, tag, logdir,
                              args.avx2_nodes if side else 1)
                else:
                    r = run_efd(base_bin if row.endswith("-base") else efd_bin,
                                os.path.join(OUT, pcap_name(s, key)) if key else pcap,
                                4 if row.startswith("efd4") else 1,
                                SCENARIOS[s]["packets"], args, tag, logdir, huge_ok,
                                "ring" if row.endswith("-ring") else None,
                                256 if row.endswith("-b256") else None,
                                key, "fingerprint" if row.endswith("-fp")
                                else "exact" if row.endswith("-exact") else None)
                r.update(scenario=s, row=row, rep=rep, wall_s=round(time.time() - t0, 1),
                         load1=round(os.getloadavg()[0], 2),
                         xcore_rt_ns=[xcore_before, xcore_round_trip()])
                doc["runs"].append(r)
                save()
                if "error" in r:
                    log(f"{tag}: ERROR {r['error']}")
                else:
                    log(f"{tag}: distributed {r['distributed_mpps']:.2f} forwarded {r['forwarded_mpps']:.2f} Mpps "
                        f"drops {{{', '.join(f'{k}: {v:.2f}' for k, v in r['drops_mpps'].items())}}} "
                        f"({r['wall_s']} s; cross-core round trip before / after "
                        f"{' / '.join('-' if x is None else f'{x:.0f}' for x in r['xcore_rt_ns'])} ns)")
                time.sleep(1)
    save()
    text = report(doc)
    with open(os.path.join(OUT, f"report-{stamp}.md"), "w") as f:
        f.write(text + "\n")
    print()
    print(text)
    log(f"raw results: {results_path}")


if __name__ == "__main__":
    main()

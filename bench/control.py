#!/usr/bin/env python3
"""Control-plane benchmark: efd-lb's HTTP API while the appliance forwards.

Runs the release binary on the embedded default's devices (net_pcap replaying
the generated pcap at full rate, net_null) with the control API on, and
measures, in the same run:

  1. forwarding during churn: forwarded packets/s while nodes are drained and
     restored back to back (flows of 1M moving) against the rate in an equal
     window without changes, interleaved (quiet, churn, quiet, churn, ...);
  2. flows moved per second by those drains and restores;
  3. a bulk load of 1M new flows through POST /flows (flow-file text);
  4. single-flow changes (PUT /flows/KEY, new flows): the client's round trip
     and the server's own time (the operation histogram on /metrics).

Prints a markdown table; raw figures go to bench/out/control-<stamp>.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from appliance import default_config_with_control, efd_lb_command, request, wait_for_api

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


http = request


def forwarded(addr):
    _, data = http(addr, "GET", "/stats")
    s = json.loads(data)
    return sum(n["tx"] for n in s["nodes"]), time.perf_counter()


def rate_over(addr, seconds, action=None):
    """Forwarded packets/s over `seconds` (the /stats sample is at most
    100 ms old, so windows are seconds long); `action` runs meanwhile and
    returns what it did."""
    tx0, t0 = forwarded(addr)
    done = None
    end = time.perf_counter() + seconds
    if action:
        done = action(end)
    else:
        time.sleep(seconds)
    tx1, t1 = forwarded(addr)
    return (tx1 - tx0) / (t1 - t0), done


def churn(addr, nodes):
    def run(end):
        moved, secs, ops = 0, 0.0, 0
        i = 0
        while time.perf_counter() < end:
            node = i % nodes
            for op in ("drain", "restore"):
                dt, data = http(addr, "POST", f"/nodes/{node}/{op}")
                moved += json.loads(data)["moved"]
                secs += dt
                ops += 1
            i += 1
        return moved, secs, ops

    return run


def metric(text, name, labels):
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


# The threads that serve a bulk load: the API (reads the body) and the
# control thread (parses it, changes the tables).
BULK_THREADS = ("efd-lb-http", "efd-lb-control")


def thread_cpu_s(pid, names):
    """CPU seconds (user + system) the named threads of `pid` used so far."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            if comm not in names:
                continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except FileNotFoundError:
            pass
    return total / tick


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/efd-lb"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--flows", type=int, default=2 << 20, help="flows at start (default 2M: 1M per node)")
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--bulk", type=int, default=1 << 20, help="new flows in the bulk load")
    ap.add_argument("--reps", type=int, default=5, help="quiet/churn window pairs")
    ap.add_argument("--window", type=float, default=4.0, help="seconds per window")
    ap.add_argument("--singles", type=int, default=200)
    ap.add_argument("--port", type=int, default=9977)
    ap.add_argument("--rebalance-rate", type=int, default=0,
                    help="control.rebalance_flows_per_s for the run (0: no limit)")
    ap.add_argument("--lcores", default=None,
                    help="EAL lcores instead of the embedded default's 0@0,1@1,2@0; "
                         "0@0,1@1,2@1 gives the control thread (on the main lcore's CPU) "
                         "a CPU of its own and the distributor and worker one to share")
    args = ap.parse_args()

    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    capacity = args.flows + args.bulk + args.singles + (1 << 20)
    cfg = default_config_with_control(f"listen = \"127.0.0.1:{args.port}\"\ncapacity = {capacity}\n"
                                      f"rebalance_flows_per_s = {args.rebalance_rate}\n")
    tmp = tempfile.mkdtemp(prefix="efd-lb-control-bench-")
    _, addr, cmd = efd_lb_command(args.bin, cfg, tmp, args.port, args.nodes, args.flows)
    if args.lcores:
        cmd += ["--lcores", args.lcores]
    log = open(os.path.join(tmp, "efd-lb.log"), "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_api(addr, proc, log.name)
        time.sleep(3)  # warm-up

        pairs = []
        for rep in range(args.reps):
            quiet, _ = rate_over(addr, args.window)
            busy, (moved, secs, ops) = rate_over(addr, args.window, churn(addr, args.nodes))
            pairs.append({"quiet_pps": quiet, "churn_pps": busy, "moved": moved,
                          "move_seconds": secs, "ops": ops})
            print(f"rep {rep + 1}: quiet {quiet / 1e6:.2f} Mpps, churn {busy / 1e6:.2f} Mpps "
                  f"({busy / quiet:.3f}), {moved} moved in {secs:.2f} s ({moved / secs / 1e6:.2f} M/s)",
                  flush=True)

        lines = "".join(f"{(0x40000000 + i) >> 24 & 255}.{(0x40000000 + i) >> 16 & 255}."
                        f"{(0x40000000 + i) >> 8 & 255}.{(0x40000000 + i) & 255},{i % args.nodes}\n"
                        for i in range(args.bulk)).encode()
        cpu0 = thread_cpu_s(proc.pid, BULK_THREADS)
        bulk_s, data = http(addr, "POST", "/flows", lines, "text/plain")
        bulk_cpu = thread_cpu_s(proc.pid, BULK_THREADS) - cpu0
        bulk = json.loads(data)
        assert bulk["added"] == args.bulk, bulk
        print(f"bulk: {args.bulk} flows in {bulk_s:.3f} s ({args.bulk / bulk_s / 1e6:.2f} M/s)", flush=True)

        rtts = []
        for i in range(args.singles):
            key = f"50.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
            dt, _ = http(addr, "PUT", f"/flows/{key}", json.dumps({"node": i % args.nodes}).encode())
            rtts.append(dt)
        _, m = http(addr, "GET", "/metrics")
        m = m.decode()
        add_n = metric(m, "efd_lb_control_operation_duration_seconds_count", {"op": "add"})
        add_s = metric(m, "efd_lb_control_operation_duration_seconds_sum", {"op": "add"})
        le_1ms = metric(m, "efd_lb_control_operation_duration_seconds_bucket", {"op": "add", "le": "0.001"})
        bulk_srv = metric(m, "efd_lb_control_operation_duration_seconds_sum", {"op": "bulk"})
    finally:
        proc.terminate()
        proc.wait(timeout=120)
        log.close()

    ratios = [p["churn_pps"] / p["quiet_pps"] for p in pairs]
    move_rates = [p["moved"] / p["move_seconds"] for p in pairs]
    res = {
        "stamp": time.strftime("%Y%m%d-%H%M%S"),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                 capture_output=True, text=True).stdout.strip(),
        "args": vars(args), "pairs": pairs,
        "bulk": {"flows": args.bulk, "client_s": bulk_s, "server_s": bulk_srv, "cpu_s": bulk_cpu},
        "singles": {"rtt_s": rtts, "server_mean_s": add_s / add_n if add_n else None,
                    "server_under_1ms": le_1ms, "server_count": add_n},
    }
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    out = os.path.join(HERE, "out", f"control-{res['stamp']}.json")
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    med = statistics.median
    print()
    lcores = args.lcores or "0@0,1@1,2@0"
    print(f"| measurement ({res['commit']}, lcores {lcores}, {args.reps} interleaved pairs of "
          f"{args.window:.0f} s) | median | range |")
    print("|---|---|---|")
    print(f"| forwarded, no change (Mpps) | {med(p['quiet_pps'] for p in pairs) / 1e6:.2f} | "
          f"{min(p['quiet_pps'] for p in pairs) / 1e6:.2f}–{max(p['quiet_pps'] for p in pairs) / 1e6:.2f} |")
    print(f"| forwarded during drains/restores (Mpps) | {med(p['churn_pps'] for p in pairs) / 1e6:.2f} | "
          f"{min(p['churn_pps'] for p in pairs) / 1e6:.2f}–{max(p['churn_pps'] for p in pairs) / 1e6:.2f} |")
    print(f"| ratio, per pair | {med(ratios):.3f} | {min(ratios):.3f}–{max(ratios):.3f} |")
    print(f"| flows moved per second (drain/restore of {args.flows // args.nodes} flows) | "
          f"{med(move_rates) / 1e6:.2f} M | {min(move_rates) / 1e6:.2f}–{max(move_rates) / 1e6:.2f} M |")
    print(f"| bulk load of {args.bulk} new flows, POST /flows (client / server) | "
          f"{bulk_s:.2f} s / {bulk_srv:.2f} s ({args.bulk / bulk_s / 1e6:.2f} M/s) | |")
    print(f"| bulk load: CPU time of the API and control threads | {bulk_cpu:.2f} s "
          f"({args.bulk / bulk_cpu / 1e6:.2f} M flows per CPU second) | |")
    q = statistics.quantiles(rtts, n=100)
    print(f"| single new flow, PUT round trip (client) | {med(rtts) * 1e3:.3f} ms | p99 {q[98] * 1e3:.3f} ms |")
    if add_n:
        print(f"| single new flow, server time (mean; share under 1 ms) | {add_s / add_n * 1e3:.3f} ms | "
              f"{le_1ms / add_n * 100:.1f} % |")
    print(f"\nraw: {out}")


if __name__ == "__main__":
    main()

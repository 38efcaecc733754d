#!/usr/bin/env python3
"""Soak: efd-lb forwarding at full rate for a long run with flow churn
through the control API, then the checks an operator would make.

Runs the release binary on the embedded default's devices (net_pcap
replaying a generated pcap of only known, well-formed flows at full rate,
net_null) with the API on, and, until the time is up, in cycles of about a
second:

  * adds a bulk of new flows (POST /flows, keys outside the traffic),
  * removes the oldest of them one by one once more than --live are in
    (DELETE /flows/KEY), so the table churns but does not grow,
  * moves some flows of the traffic to another node (PUT /flows/KEY),
  * every --drain-every seconds drains a node and restores it (its share
    of the traffic's flows move away and back).

Each minute it samples the resident memory of the process (VmRSS) and the
forwarded rate. At the end it stops efd-lb with SIGINT and checks:

  1. exit status 0: every mbuf back in the pool, counters conserve (efd-lb
     checks both at shutdown and says which failed);
  2. the final stats conserve, recomputed here from the JSON: port rx =
     distributed + distributor drops; distributed = node rx + rx_drop;
     node rx = filter_passed + filter_drop; filter_passed = tx + tx_drop;
  3. no packet of a flow of the traffic was misrouted: every flow is in
     the table all along (moves and drains only), so any `filter_drop`
     would be a packet that reached a node not owning its flow: must be 0;
     no frame is malformed or unknown, so the distributor drops nothing;
  4. resident memory did not grow after warm-up: the last sample against
     the one at --warmup-min minutes, within --rss-slack-mib.

Prints a markdown table; raw figures go to bench/out/soak-<stamp>.json.
Exit status 0 when every check passes, 1 otherwise.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from appliance import default_config_with_control, efd_lb_command, request, wait_for_api

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def http(addr, method, path, body=None, ctype="application/json", timeout=600):
    return json.loads(request(addr, method, path, body, ctype, timeout)[1] or b"null")


def metric(addr, name, labels=""):
    """One sample of /metrics (`name{labels}`), or None."""
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=60) as r:
        text = r.read().decode()
    want = name + (f"{{{labels}}}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return None


def ip(n):
    return f"{(n >> 24) & 255}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def conservation(s):
    errs = []
    d = s["distributor"]
    port_rx = sum(p["rx"] for p in s["ports"])
    if port_rx != d["distributed"] + d["drop"]:
        errs.append(f"port rx {port_rx} != distributed {d['distributed']} + drops {d['drop']}")
    node_in = sum(n["rx"] + n["rx_drop"] for n in s["nodes"])
    if node_in != d["distributed"]:
        errs.append(f"node rx + rx_drop {node_in} != distributed {d['distributed']}")
    for i, n in enumerate(s["nodes"]):
        if n["rx"] != n["filter_passed"] + n["filter_drop"]:
            errs.append(f"node {i}: rx != filter_passed + filter_drop")
        if n["filter_passed"] != n["tx"] + n["tx_drop"]:
            errs.append(f"node {i}: filter_passed != tx + tx_drop")
    return errs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/efd-lb"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--flows", type=int, default=1 << 20, help="flows of the traffic (all in the table)")
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--bulk", type=int, default=2000, help="new flows added per cycle")
    ap.add_argument("--live", type=int, default=20000, help="most churn flows in the table at once")
    ap.add_argument("--moves", type=int, default=100, help="traffic flows moved one by one per cycle")
    ap.add_argument("--drain-every", type=float, default=60.0, help="seconds between drain+restore")
    ap.add_argument("--warmup-min", type=float, default=2.0)
    ap.add_argument("--rss-slack-mib", type=float, default=4.0)
    ap.add_argument("--port", type=int, default=9978)
    args = ap.parse_args()

    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="efd-lb-soak-")
    pcap = os.path.join(tmp, "traffic.pcap")
    capacity = args.flows + 2 * args.live + 4 * args.bulk + 1024
    cfg = default_config_with_control(f"listen = \"127.0.0.1:{args.port}\"\ncapacity = {capacity}\n")
    # The traffic: known flows only, none malformed (the generator's other
    # mixes would make filter_drop and distributor drops expected).
    cfg = cfg.replace('pcap = "target/efd-lb-default.pcap"', f'pcap = "{pcap}"')
    cfg = cfg.replace("target/efd-lb-default.pcap", pcap)
    for k, v in (("unknown_pct", "0.0"), ("malformed_pct", "0.0")):
        lines = [f"{k} = {v}" if l.split("=")[0].strip() == k else l for l in cfg.splitlines()]
        cfg = "\n".join(lines) + "\n"
    conf, addr, cmd = efd_lb_command(args.bin, cfg, tmp, args.port, args.nodes, args.flows)
    out = open(os.path.join(tmp, "stdout.jsonl"), "w")
    err = open(os.path.join(tmp, "stderr.log"), "w")
    print(f"# {' '.join(cmd)}\n# config {conf}, logs in {tmp}", flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err)
    started = time.time()
    ok = True
    samples = []
    ops = {"added": 0, "removed": 0, "moved_single": 0, "moved_by_drains": 0, "drains": 0, "errors": 0}
    try:
        wait_for_api(addr, proc, err.name)
        t0 = time.time()
        end = t0 + args.minutes * 60
        next_sample = t0
        next_drain = t0 + args.drain_every
        churn_next = 10 << 24  # 10.0.0.0: outside the traffic's 0.0.0.0/12
        live = []  # churn keys in the table, oldest first
        move_next = 0
        drain_node = 0
        prev = None
        while True:
            now = time.time()
            if now >= next_sample:
                st = http(addr, "GET", "/stats")
                tx = sum(n["tx"] for n in st["nodes"])
                rate = None if prev is None else (tx - prev[0]) / (now - prev[1])
                prev = (tx, now)
                samples.append({"minute": round((now - t0) / 60, 2), "rss_kib": rss_kib(proc.pid),
                                "forwarded_mpps": None if rate is None else rate / 1e6,
                                "filter_drop": sum(n["filter_drop"] for n in st["nodes"]),
                                "efd_deep_flows": metric(addr, "efd_lb_table_efd_deep_flows"),
                                "reclaims": metric(addr, "efd_lb_control_operations_total",
                                                   'op="reclaim",result="ok"')})
                print(f"[{samples[-1]['minute']:5.2f} min] rss {samples[-1]['rss_kib'] / 1024:.1f} MiB, "
                      f"forwarded {'-' if rate is None else f'{rate / 1e6:.2f} Mpps'}, "
                      f"filter_drop {samples[-1]['filter_drop']}, "
                      f"EFD deep flows {samples[-1]['efd_deep_flows']:.0f} "
                      f"({samples[-1]['reclaims']:.0f} reclaims), ops {ops}", flush=True)
                next_sample += 60
            if now >= end:
                break
            cycle_end = now + 1.0
            # Bulk add of new flows.
            body = "".join(f"{ip(churn_next + i)},{(churn_next + i) % args.nodes}\n" for i in range(args.bulk))
            r = http(addr, "POST", "/flows", body.encode(), "text/plain")
            ops["added"] += r["added"]
            live.extend(range(churn_next, churn_next + args.bulk))
            churn_next += args.bulk
            # Remove the oldest beyond the live bound, one by one.
            while len(live) > args.live:
                k = live.pop(0)
                http(addr, "DELETE", f"/flows/{ip(k)}")
                ops["removed"] += 1
            # Move flows of the traffic one by one.
            for _ in range(args.moves):
                k = move_next % args.flows
                move_next += 7919
                cur = http(addr, "GET", f"/flows/{ip(k)}")["node"]
                try:
                    http(addr, "PUT", f"/flows/{ip(k)}",
                         json.dumps({"node": (cur + 1) % args.nodes}).encode())
                    ops["moved_single"] += 1
                except urllib.error.HTTPError as e:
                    # A node that is out refuses new flows: counted, not a failure.
                    ops["errors"] += 1
                    if e.code != 409:
                        raise
            if now >= next_drain:
                r1 = http(addr, "POST", f"/nodes/{drain_node}/drain")
                r2 = http(addr, "POST", f"/nodes/{drain_node}/restore")
                ops["moved_by_drains"] += r1["moved"] + r2["moved"]
                ops["drains"] += 1
                drain_node = (drain_node + 1) % args.nodes
                next_drain += args.drain_every
            time.sleep(max(0.0, cycle_end - time.time()))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
            print("efd-lb did not stop within 120 s of SIGINT")
            ok = False
        out.close()
        err.close()

    with open(out.name) as f:
        lines = [l for l in f if l.strip().startswith("{")]
    final = json.loads(lines[-1]) if lines else None
    with open(err.name) as f:
        errtext = f.read()
    checks = []

    def check(name, passed, detail):
        nonlocal ok
        ok = ok and passed
        checks.append({"check": name, "passed": passed, "detail": detail})

    check("exit status 0 (mbufs back, conservation)", code == 0,
          f"exit {code}" + ("" if code == 0 else "; " + " | ".join(l for l in errtext.splitlines() if "efd-lb:" in l)))
    if final is None or not final.get("final"):
        check("final stats printed", False, "no final JSON line")
    else:
        errs = conservation(final)
        check("counters conserve (recomputed)", not errs, "; ".join(errs) or "all four equations hold")
        fd = sum(n["filter_drop"] for n in final["nodes"])
        dd = final["distributor"]["drop"]
        check("no packet of a traffic flow misrouted (filter_drop = 0)", fd == 0, f"filter_drop {fd}")
        check("no distributor drop (traffic all known, well-formed)", dd == 0, f"drops {dd}")
    warm = [s for s in samples if s["minute"] >= args.warmup_min - 1e-9]
    if len(warm) >= 2:
        growth = (warm[-1]["rss_kib"] - warm[0]["rss_kib"]) / 1024
        check(f"resident memory flat after {args.warmup_min:g} min (≤ {args.rss_slack_mib:g} MiB)",
              growth <= args.rss_slack_mib,
              f"{warm[0]['rss_kib'] / 1024:.1f} → {warm[-1]['rss_kib'] / 1024:.1f} MiB ({growth:+.1f})")
    else:
        check("resident memory sampled after warm-up", False, "run shorter than the warm-up")
    deep = [s["efd_deep_flows"] for s in warm if s["efd_deep_flows"] is not None]
    if deep:
        # Churn pushes keys to the EFD's deeper levels; the control
        # thread's reclaims (each when they grew by a 256th of the
        # capacity) must keep them flat after warm-up, as resident memory.
        check(f"EFD deeper levels flat after {args.warmup_min:g} min (≤ 1.15× then)",
              max(deep) <= 1.15 * deep[0],
              f"{deep[0]:.0f} at minute {args.warmup_min:g}, at most {max(deep):.0f}, {deep[-1]:.0f} at the end")

    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(HERE, "out", f"soak-{stamp}.json")
    with open(path, "w") as f:
        json.dump({"args": vars(args), "samples": samples, "ops": ops, "checks": checks,
                   "final": final, "exit": code, "seconds": time.time() - started}, f, indent=1)
    rates = [s["forwarded_mpps"] for s in samples if s["forwarded_mpps"] is not None]
    print(f"\n| minute | resident MiB | forwarded Mpps | EFD deep flows |\n|---|---|---|---|")
    for s in samples:
        mpps = "–" if s["forwarded_mpps"] is None else "%.2f" % s["forwarded_mpps"]
        print(f"| {s['minute']:.0f} | {s['rss_kib'] / 1024:.1f} | {mpps} | {s['efd_deep_flows']:.0f} |")
    print(f"\nops: {ops}")
    if final:
        print(f"forwarded in all: {sum(n['tx'] for n in final['nodes'])} packets; "
              f"ring drops (rx_drop): {sum(n['rx_drop'] for n in final['nodes'])}")
    if rates:
        print(f"forwarded rate by minute: {min(rates):.2f}–{max(rates):.2f} Mpps")
    print("\n| check | result | detail |\n|---|---|---|")
    for c in checks:
        print(f"| {c['check']} | {'pass' if c['passed'] else 'FAIL'} | {c['detail']} |")
    print(f"\nraw: {path}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

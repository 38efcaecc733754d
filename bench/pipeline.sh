#!/usr/bin/env bash
# Pipeline benchmark: efd-lb against DPDK's own "Server-Node EFD" C sample.
#
#   bench/pipeline.sh [--reps 7] [--avx2-reps 3] [--warmup 3] [--measure 15]
#                     [--scenarios a,b,c] [--rows c,c-avx2,efd1,efd4,efd1-ring,efd4-ring]
#                     [--quick] [--no-build] [--regen] [--wait-quiet MIN]
#                     [--base-bin PATH]   # rows efd1-base,efd4-base: another build
#   rows efd1-b256,efd4-b256: [ports] burst = 256, [rings] size = 4096
#   rows efd1-ipv4_src_dst,efd1-ipv4_5tuple,efd1-ipv6_dst,efd1-ipv6_5tuple,efd1-5tuple:
#     efd-lb -n 1 --key KIND on that kind's pcap [--key-scenarios b]; ratio to efd1
#   rows efd1-<kind>-fp, efd1-<kind>-exact (ipv4_5tuple, ipv6_dst, ipv6_5tuple, 5tuple): also --flow-match fingerprint / exact
#     (efd1-<kind> runs the default, auto: fingerprint for keys wider than 8 bytes)
#   rows pmd,pmd-<kind>: dpdk-testpmd rxonly on that pcap (the input device alone; ratio to pmd)
#   --frame-len 78: every pcap's frames 78 bytes (default 64, longer where headers need it)
#   bench/pipeline.sh --report bench/out/results-XXXX.json   # re-render a table
#
# Run as root (hugepages, DPDK). Builds the C sample from the dpdk-doc package
# (apt-get installs it if missing; BENCH_C_SAMPLE_SRC=DIR reads it elsewhere)
# into bench/build/ (git-ignored; only its mbuf pool size is patched), builds
# efd-lb (cargo build --release), generates the pcaps into bench/out/ with
# efd-lb-pcapgen, then runs the rows interleaved (C, efd-lb, C, efd-lb, ...)
# and prints a markdown table per scenario. Raw per-run results:
# bench/out/results-<stamp>.json; logs: bench/out/logs-<stamp>/.
# See BENCHMARKS.md ("Pipeline") and `bench/pipeline.sh --help`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 -u "$here/pipeline.py" "$@"

#!/usr/bin/env bash
# Soak: efd-lb at full rate with flow churn through the control API, then
# the operator's checks (mbufs, conservation, misrouting, resident memory).
#
#   bench/soak.sh [--minutes 10] [--nodes 4] [--bulk 2000] [--live 20000]
#                 [--moves 100] [--drain-every 60] [--no-build]
#
# Run as root from anywhere; see bench/soak.py's --help and BENCHMARKS.md
# ("Soak"). Exit status 0 when every check passes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 -u "$here/soak.py" "$@"

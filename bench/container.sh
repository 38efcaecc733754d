#!/usr/bin/env bash
# Builds the container image from the project's Dockerfile with docker or
# podman (whichever is there) and checks that it runs:
#   help      `efd-lb --help` runs (the DPDK libraries are in the image)
#   default   the embedded default forwards packets and exits 0 on SIGINT
#   hugepages a run of /etc/efd-lb/hugepages.toml with the host's
#             /dev/hugepages mounted says hugepages=true, holds hugepages
#             while it runs, and leaves no rtemap_* file behind
#   pmd       each driver package of the Dockerfile (DPDK_PMDS, plus
#             EXTRA_PMDS) has its plugin in the image, and the EAL loads it
#             from its plugin directory (one line per package)
# Each check prints one PASS or FAIL line; the exit status is 1 if any failed.
# The build log goes to bench/out/container-build.log.
#
# Usage: bench/container.sh [--engine docker|podman] [--image NAME]
#                           [--no-build] [-- EXTRA BUILD ARGS...]
# Environment:
#   CONTAINER_ENGINE   docker or podman (default: docker if its daemon
#                      answers, else podman)
#   EFD_LB_IMAGE       image name (default efd-lb:check)
#   EFD_LB_BUILD_ARGS  extra build arguments, split at spaces, e.g.
#                      "--network=host"; arguments after `--` are added too
#   EXTRA_PMDS         more Debian DPDK driver packages to build in (passed
#                      as --build-arg EXTRA_PMDS=...) and to check
#   EFD_LB_STAND_IN    a script to run before the build, e.g. the one that
#                      builds local stand-ins for the base images
#   HUGEPAGES_NEEDED   free 2 MiB hugepages the hugepage check wants
#                      (default 256). As root the script reserves missing
#                      ones and mounts hugetlbfs on /dev/hugepages, and
#                      undoes both at the end.
set -uo pipefail
cd "$(dirname "$0")/.."

engine=${CONTAINER_ENGINE:-}
image=${EFD_LB_IMAGE:-efd-lb:check}
build=1
read -r -a build_args <<<"${EFD_LB_BUILD_ARGS:-}"
while [ $# -gt 0 ]; do
  case $1 in
    --engine) engine=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --) shift; build_args+=("$@"); break ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "container.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

passed=0 failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
finish() {
  echo "container checks: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}

if [ -z "$engine" ]; then
  if command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
    engine=docker
  elif command -v podman >/dev/null; then
    engine=podman
  else
    fail "engine: neither docker (with a running daemon) nor podman found"
    finish
  fi
fi
echo "INFO engine: $engine ($($engine --version 2>/dev/null | head -1))"

run_id=efd-lb-check-$$
containers=()
hp_sys=/sys/kernel/mm/hugepages/hugepages-2048kB
hp_added=0 hp_mounted=0 hp_mkdir=0
cleanup() {
  for c in "${containers[@]}"; do $engine rm -f "$c" >/dev/null 2>&1; done
  if [ "$hp_added" -gt 0 ]; then
    echo $(($(cat $hp_sys/nr_hugepages) - hp_added)) >$hp_sys/nr_hugepages 2>/dev/null
  fi
  if [ "$hp_mounted" = 1 ]; then umount /dev/hugepages 2>/dev/null; fi
  if [ "$hp_mkdir" = 1 ]; then rmdir /dev/hugepages 2>/dev/null; fi
}
trap cleanup EXIT

strip_ansi() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g'; }

# Waits until container $1 has stopped, at most $2 seconds.
wait_stopped() {
  local i
  for ((i = 0; i < $2; i++)); do
    [ "$($engine inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || return 0
    sleep 1
  done
  return 1
}

# Waits until the logs of container $1 match regex $2, at most $3 seconds.
wait_log() {
  local i
  for ((i = 0; i < $3; i++)); do
    $engine logs "$1" 2>&1 | strip_ansi | grep -qE "$2" && return 0
    [ "$($engine inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || return 1
    sleep 1
  done
  return 1
}

# --- build -----------------------------------------------------------------
extra_pmds=${EXTRA_PMDS:-}
if [ "$build" = 1 ]; then
  mkdir -p bench/out
  log=bench/out/container-build.log
  if [ -n "${EFD_LB_STAND_IN:-}" ]; then
    bash "$EFD_LB_STAND_IN" >"$log" 2>&1 || { fail "build: $EFD_LB_STAND_IN failed (see $log)"; finish; }
  fi
  [ -n "$extra_pmds" ] && build_args+=(--build-arg "EXTRA_PMDS=$extra_pmds")
  start=$(date +%s)
  if $engine build "${build_args[@]}" -t "$image" . >>"$log" 2>&1; then
    pass "build: $engine build ${build_args[*]} -t $image . ($(($(date +%s) - start)) s)"
  else
    fail "build: $engine build failed: $(grep -iE 'error' "$log" | tail -1) (see $log)"
    finish
  fi
fi
if ! $engine image inspect "$image" >/dev/null 2>&1; then
  fail "image: $image not found"
  finish
fi
size=$($engine image inspect --format '{{.Size}}' "$image")
echo "INFO image $image: $((size / 1000000)) MB"

# --- help ------------------------------------------------------------------
out=$($engine run --rm "$image" --help 2>&1)
rc=$?
if [ $rc = 0 ] && grep -q 'Usage: efd-lb' <<<"$out"; then
  pass "help: efd-lb --help exits 0"
else
  fail "help: exit $rc: $(head -1 <<<"$out")"
fi

# --- the embedded default, stopped with SIGINT ------------------------------
c=$run_id-default
containers+=("$c")
if ! $engine run -d --name "$c" "$image" >/dev/null 2>&1; then
  fail "default: $engine run failed"
elif ! wait_log "$c" '^=== stats' 90; then
  fail "default: no stats within 90 s: $($engine logs "$c" 2>&1 | strip_ansi | grep -v '^ *$' | tail -1)"
else
  sleep 2
  $engine kill --signal INT "$c" >/dev/null
  if ! wait_stopped "$c" 30; then
    fail "default: still running 30 s after SIGINT"
  else
    rc=$($engine wait "$c" 2>/dev/null | tail -1)
    logs=$($engine logs "$c" 2>&1 | strip_ansi)
    # Packets sent on all ports, from the final stats (plain format).
    tx=$(awk '/^=== Final stats/ {f = 1} f && /^Port [0-9]+ - rx:/ {
                sub(/.*tx: */, ""); t += $1 } END {print t + 0}' <<<"$logs")
    if [ "$rc" = 0 ] && [ "$tx" -gt 0 ]; then
      pass "default: forwarded $tx packets, final stats printed, exit 0 on SIGINT"
    else
      fail "default: exit $rc on SIGINT, $tx packets forwarded: $(grep -v '^ *$' <<<"$logs" | tail -1)"
    fi
  fi
fi

# --- hugepages ---------------------------------------------------------------
need=${HUGEPAGES_NEEDED:-256}
hp_why=
# Makes sure /dev/hugepages is a hugetlbfs mount with $need free 2 MiB pages;
# as root it mounts and reserves what is missing. Else sets hp_why.
hp_ready() {
  local free nr
  if ! awk '$2 == "/dev/hugepages" && $3 == "hugetlbfs" {f = 1} END {exit !f}' /proc/mounts; then
    if [ "$(id -u)" != 0 ]; then
      hp_why="no hugetlbfs on /dev/hugepages (as root: mount -t hugetlbfs nodev /dev/hugepages)"
      return 1
    fi
    if [ ! -d /dev/hugepages ]; then mkdir /dev/hugepages && hp_mkdir=1; fi
    if ! mount -t hugetlbfs nodev /dev/hugepages; then
      hp_why="mounting hugetlbfs on /dev/hugepages failed"
      return 1
    fi
    hp_mounted=1
  fi
  free=$(cat $hp_sys/free_hugepages 2>/dev/null || echo 0)
  if [ "$free" -lt "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
      hp_why="$free free 2 MiB hugepages, $need wanted (as root: echo $need > $hp_sys/nr_hugepages)"
      return 1
    fi
    nr=$(cat $hp_sys/nr_hugepages)
    echo $((nr + need - free)) >$hp_sys/nr_hugepages 2>/dev/null
    hp_added=$(($(cat $hp_sys/nr_hugepages) - nr))
    free=$(cat $hp_sys/free_hugepages)
    if [ "$free" -lt "$need" ]; then
      hp_why="$free free 2 MiB hugepages after raising nr_hugepages, $need wanted"
      return 1
    fi
  fi
}
rtemaps() { find /dev/hugepages -maxdepth 1 -name 'rtemap_*' 2>/dev/null | sort; }
if ! hp_ready; then
  fail "hugepages: $hp_why"
else
  before=$(rtemaps)
  free0=$(cat $hp_sys/free_hugepages)
  c=$run_id-huge
  containers+=("$c")
  if ! $engine run -d --name "$c" -v /dev/hugepages:/dev/hugepages "$image" \
      --config /etc/efd-lb/hugepages.toml --duration-s 3 >/dev/null 2>&1; then
    fail "hugepages: $engine run failed"
  else
    min_free=$free0
    if wait_log "$c" 'running .*hugepages=' 90; then
      f=$(cat $hp_sys/free_hugepages)
      [ "$f" -lt "$min_free" ] && min_free=$f
    fi
    wait_stopped "$c" 60
    rc=$($engine wait "$c" 2>/dev/null | tail -1)
    logs=$($engine logs "$c" 2>&1 | strip_ansi)
    left=$(comm -13 <(echo "$before") <(rtemaps) | grep -c .)
    used=$((free0 - min_free))
    if [ "$rc" = 0 ] && grep -q 'hugepages=true' <<<"$logs" && [ "$used" -gt 0 ] && [ "$left" = 0 ]; then
      pass "hugepages: hugepages=true, $used pages held while running, exit 0, no rtemap_* file left in /dev/hugepages"
    else
      why="exit $rc, $(grep -o 'hugepages=[a-z]*' <<<"$logs" || echo 'no hugepages= line'), $used pages held, $left rtemap_* files left"
      [ "$rc" = 0 ] || why+=": $(grep -v '^ *$' <<<"$logs" | tail -1)"
      fail "hugepages: $why"
    fi
  fi
fi

# --- PMD plugins --------------------------------------------------------------
pmds=$(awk '/^ARG DPDK_PMDS="/ {f = 1} f {print} f && /"$/ && !/^ARG DPDK_PMDS="$/ {exit}' Dockerfile \
  | tr -d '\\' | sed 's/^ARG DPDK_PMDS="//; s/"$//' | tr -s ' \n' '  ')
read -r -a pkgs <<<"$pmds $extra_pmds"
if [ ${#pkgs[@]} = 0 ]; then
  fail "pmd: no DPDK_PMDS list found in the Dockerfile"
else
  # Package -> plugin file, from the image's dpkg database.
  map=$($engine run --rm --entrypoint sh "$image" -c '
    for p in "$@"; do
      f=$(dpkg -L "$p" 2>/dev/null | grep -E "/dpdk/pmds-[0-9.]+/[^/]+\.so\.[0-9]+\.[0-9]+$" | head -1)
      echo "$p ${f:-none}"
    done' sh "${pkgs[@]}" 2>&1)
  # One short run of the embedded default with the EAL's debug log: it names
  # each plugin it opens from its plugin directory (no -d option given).
  eal=$($engine run --rm "$image" --duration-s 1 -- --log-level=lib.eal:debug 2>&1 | strip_ansi)
  rc=$?
  for p in "${pkgs[@]}"; do
    f=$(awk -v p="$p" '$1 == p {print $2}' <<<"$map")
    if [ -z "$f" ] || [ "$f" = none ]; then
      fail "pmd $p: not installed in the image, or no plugin in the EAL's plugin directory"
    elif grep -qF "open shared lib $f" <<<"$eal" && [ "$rc" = 0 ]; then
      pass "pmd $p: the EAL loaded $f"
    else
      fail "pmd $p: the EAL did not load $f (run exit $rc: $(grep -v '^ *$' <<<"$eal" | tail -1))"
    fi
  done
fi

finish

#!/usr/bin/env bash
# Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
#
# `make bench`: installs the load generators and baselines when missing (Debian packages),
# creates a network namespace for this run, runs bench/main.ts inside it, and always removes
# every namespace of the run (emb-<id>-*) and the processes in them on exit.
#
# Environment: BENCH_QUICK=1 (2 s runs), BENCH_REPS, BENCH_SECONDS, BENCH_SCENARIOS=1,2,…,
# BENCH_KEEP=1 (keep logs), DENO (deno binary).
set -euo pipefail
cd "$(dirname "$0")/.."

DENO="${DENO:-$(command -v deno 2>/dev/null || echo node_modules/.bin/deno)}"
DENO="$(realpath "$DENO")"
export DENO

if [[ "$(id -u)" != 0 ]]; then
  echo "bench: needs root (network namespaces, addresses); run as root" >&2
  exit 2
fi

# --- dependencies -----------------------------------------------------------------------
need=()
command -v iperf3 >/dev/null || need+=(iperf3)
command -v wrk >/dev/null || need+=(wrk)
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v haproxy >/dev/null || need+=(haproxy)
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
command -v nginx >/dev/null || need+=(nginx)
[[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] || need+=(libnginx-mod-stream)
if ((${#need[@]} > 0)); then
  echo "bench: installing ${need[*]}" >&2
  # Packages' services must not start on the host: policy-rc.d refuses them when present;
  # dnsmasq-base ships no service at all.
  export DEBIAN_FRONTEND=noninteractive
  for attempt in 1 2 3; do
    if apt-get -o DPkg::Lock::Timeout=300 update -qq &&
      apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}"; then
      break
    fi
    [[ $attempt == 3 ]] && { echo "bench: apt-get failed" >&2; exit 1; }
    sleep 10
  done
fi
if [[ ! -x "$DENO" ]]; then
  echo "bench: no deno found; run 'make deps' first" >&2
  exit 1
fi
# Fill the module cache outside the namespace (inside there is no route to any registry).
"$DENO" cache --config deno.json main.ts bench/main.ts bench/probe.ts >/dev/null

# --- namespace ------------------------------------------------------------------------
export BENCH_RUN_ID="${BENCH_RUN_ID:-$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
export BENCH_NETNS="emb-${BENCH_RUN_ID}-node"

cleanup() {
  local ns pid
  for ns in $(ip netns list | awk '{print $1}' | grep "^emb-${BENCH_RUN_ID}-" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$BENCH_NETNS"
mkdir -p bench/results
ip netns exec "$BENCH_NETNS" "$DENO" run -A --config deno.json bench/main.ts

#!/usr/bin/env bash
# Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
#
# Proxy micro-benchmark: short connections (wrk, "Connection: close", 50 connections) and
# optionally keep-alive, through HAProxy, a bare Deno relay, a bare relay on the epoll engine's
# sockets and the real lib/proxy Proxy, in
# one network namespace over loopback, rotating the order each repetition. Prints one line
# per run and the median ratio to HAProxy per system.
#
# Env: HOLD=<seconds> (set up, print the namespace and pids, wait), REPS (3), SECS (3),
#      SYSTEMS ("haproxy bare bare-epoll proxy"), KEEPALIVE=1 (also keep-alive),
#      PROXY_ARGS (extra deno flags for the proxy, e.g. "--v8-flags=--prof"),
#      BASE=<git rev> (adds system "base": the proxy from that revision's lib/, same run),
#      VARIANTS="name:libdir[:VAR=value] …" (more proxies: a lib/ copy, an optional env var).
# Columns per system: req/s, p50, p99, CPU µs of that process per request (all its threads,
# from /proc/<pid>/task/*/schedstat: far less sensitive to other load than req/s).
set -euo pipefail
cd "$(dirname "$0")/../.."
DENO="${DENO:-$(realpath node_modules/.bin/deno)}"
REPS="${REPS:-3}"
SECS="${SECS:-3}"
SYSTEMS="${SYSTEMS:-haproxy bare bare-epoll proxy}"
NS="emb-micro-$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
DIR="$(mktemp -d /tmp/em-micro.XXXXXX)"

cleanup() {
  for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  [[ -n "${KEEP:-}" ]] || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$DENO" cache --config deno.json bench/micro/proxy_server.ts >/dev/null
ip netns add "$NS"
X=(ip netns exec "$NS")
"${X[@]}" ip link set lo up
"${X[@]}" sysctl -q -w "net.ipv4.ip_local_port_range=1024 65000" net.ipv4.tcp_tw_reuse=1 \
  net.ipv4.tcp_max_tw_buckets=16384
for a in 10.201.0.2 10.201.0.3 10.201.0.7 10.201.0.8; do "${X[@]}" ip addr add "$a/32" dev lo; done

mkdir -p "$DIR/tmp"
cat >"$DIR/backend.conf" <<CONF
worker_processes 1;
daemon off;
pid $DIR/backend.pid;
error_log $DIR/backend.err warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $DIR/tmp; proxy_temp_path $DIR/tmp; fastcgi_temp_path $DIR/tmp;
  uwsgi_temp_path $DIR/tmp; scgi_temp_path $DIR/tmp;
  server { listen 10.201.0.2:8080; location / { return 200 "ok\n"; } }
}
CONF
cat >"$DIR/haproxy.cfg" <<CONF
global
  maxconn 4096
defaults
  mode tcp
  option splice-request
  option splice-response
  timeout connect 2s
  timeout client 60s
  timeout server 60s
frontend f
  bind 10.201.0.3:8080
  default_backend b
backend b
  server s1 10.201.0.2:8080
CONF
"${X[@]}" nginx -p "$DIR" -e "$DIR/backend.err" -c "$DIR/backend.conf" &
"${X[@]}" haproxy -q -f "$DIR/haproxy.cfg" &
declare -A PID=([haproxy]=$!)
# shellcheck disable=SC2086
"${X[@]}" "$DENO" run -A --config deno.json ${PROXY_ARGS:-} bench/micro/proxy_server.ts proxy \
  10.201.0.8:8080 10.201.0.2:8080 &
PID[proxy]=$!
"${X[@]}" "$DENO" run -A --config deno.json bench/micro/proxy_server.ts bare \
  10.201.0.7:8080 10.201.0.2:8080 &
PID[bare]=$!
"${X[@]}" ip addr add 10.201.0.10/32 dev lo
"${X[@]}" "$DENO" run -A --config deno.json bench/micro/proxy_server.ts bare-epoll \
  10.201.0.10:8080 10.201.0.2:8080 &
PID[bare-epoll]=$!
if [[ -n "${BASE:-}" ]]; then
  mkdir -p "$DIR/base"
  git archive "$BASE" lib | tar -x -C "$DIR/base"
  "${X[@]}" ip addr add 10.201.0.9/32 dev lo
  MICRO_LIB="$DIR/base/lib" "${X[@]}" "$DENO" run -A --config deno.json \
    bench/micro/proxy_server.ts proxy 10.201.0.9:8080 10.201.0.2:8080 &
  PID[base]=$!
  SYSTEMS="$SYSTEMS base"
fi
declare -A ADDR=([haproxy]=10.201.0.3 [bare]=10.201.0.7 [proxy]=10.201.0.8 [base]=10.201.0.9
  [bare-epoll]=10.201.0.10
  [direct]=10.201.0.2)
v=20
for spec in ${VARIANTS:-}; do
  IFS=: read -r vname vlib venv <<<"$spec"
  v=$((v + 1))
  "${X[@]}" ip addr add "10.201.0.$v/32" dev lo
  env MICRO_LIB="$vlib" ${venv:+"$venv"} "${X[@]}" "$DENO" run -A --config deno.json \
    bench/micro/proxy_server.ts proxy "10.201.0.$v:8080" 10.201.0.2:8080 &
  PID[$vname]=$!
  ADDR[$vname]=10.201.0.$v
  SYSTEMS="$SYSTEMS $vname"
done

for s in direct $SYSTEMS; do
  for _ in $(seq 100); do
    "${X[@]}" bash -c "exec 3<>/dev/tcp/${ADDR[$s]}/8080" 2>/dev/null && break
    sleep 0.1
  done
done

if [[ -n "${HOLD:-}" ]]; then # keep the setup for manual probing until killed
  echo "namespace $NS; pids: haproxy ${PID[haproxy]} bare ${PID[bare]}" \
    "bare-epoll ${PID[bare-epoll]} proxy ${PID[proxy]}"
  sleep "$HOLD" &
  wait $! # (a trap runs at once during `wait`, not after a foreground sleep)
  exit 0
fi

cpuns() { # pid → CPU ns of all its threads
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}

# system close(1/0) → "rps p50 p99 cpu-us/req" (CPU of the proxy process per request: less
# sensitive to the other load on the machine than req/s)
run() {
  local hdr=() out t0 t1
  [[ $2 == 1 ]] && hdr=(-H "Connection: close")
  t0=$(cpuns "${PID[$1]:-$$}")
  out=$("${X[@]}" wrk -t2 -c50 "-d${SECS}s" --latency "${hdr[@]}" "http://${ADDR[$1]}:8080/")
  t1=$(cpuns "${PID[$1]:-$$}")
  if grep -q "Socket errors\|Non-2xx" <<<"$out"; then echo "ERR"; return; fi
  awk -v dt=$((t1 - t0)) '/requests in/ {n=$1} /Requests\/sec/ {r=$2}
    / 50%/ {p50=$2} / 99%/ {p99=$2}
    END {printf "%d %s %s %.1fus\n", r, p50, p99, (n > 0 ? dt / 1000 / n : 0)}' <<<"$out"
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : "-")}'; }

modes=(1)
[[ -n "${KEEPALIVE:-}" ]] && modes+=(0)
read -r -a sys <<<"$SYSTEMS"
for close in "${modes[@]}"; do
  label=$([[ $close == 1 ]] && echo short || echo keepalive)
  declare -A RATIOS=() CPUS=()
  for rep in $(seq 0 $((REPS - 1))); do
    n=${#sys[@]}
    line="$label rep$rep:"
    declare -A R=()
    for i in $(seq 0 $((n - 1))); do
      s=${sys[$(((i + rep) % n))]}
      R[$s]=$(run "$s" "$close")
    done
    for s in "${sys[@]}"; do
      line+="  $s ${R[$s]}"
      CPUS[$s]+="$(awk '{print $4 + 0}' <<<"${R[$s]}") "
    done
    h=${R[haproxy]:-}
    if [[ -n "$h" ]]; then
      line+="  | ×haproxy:"
      for s in "${sys[@]}"; do
        [[ $s == haproxy ]] && continue
        r=$(awk -v a="${R[$s]%% *}" -v b="${h%% *}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
        line+=" $s $r"
        RATIOS[$s]+="$r "
      done
    fi
    echo "$line"
  done
  for s in "${sys[@]}"; do
    echo "$label median $s: cpu $(tr ' ' '\n' <<<"${CPUS[$s]}" | grep . | median) us/req," \
      "×haproxy $(tr ' ' '\n' <<<"${RATIOS[$s]:-}" | grep . | median)"
  done
done

#!/usr/bin/env bash
# Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
#
# `make demo`: two edge "nodes" (network namespaces on a bridge), one edgemesh agent on each,
# a sample service with a backend on each node, and traffic from node A reaching both nodes:
# the local backend directly, node B's through the authenticated HTTP/2 tunnel between agents.
# Everything it creates (namespaces, processes, the work dir) is removed on exit, including
# on Ctrl-C. Needs root (network namespaces) and Linux with iproute2.
#
# Environment: DENO (the deno binary; found or installed when unset), DEMO_NET (the second
# octet of the nodes' 10.<n>.0.0/24 LAN, which exists only inside the namespaces; default 250),
# DEMO_PAUSE=1 (wait for Enter before cleaning up, to look around with `ip netns exec`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
DENO_VERSION=2.9.6
NET=${DEMO_NET:-250}
SERVICE=hello
NAME=hello.default.svc.cluster.local
DNS_IP=9.251.0.1 # first address of the default VIP subnet 9.251.0.0/16: the agent's DNS
BACKEND_PORT=8080
REQUESTS=6

say() { printf '%s\n' "$*"; }
step() { printf '\n\033[1m%s\033[0m\n' "$*"; }
indent() { sed 's/^/   /'; }
die() {
	say "demo: $*" >&2
	exit 1
}

# ── Preconditions ────────────────────────────────────────────────────────────────────────────
[ "$(uname -s)" = Linux ] || die "needs Linux (network namespaces)"
[ "$(id -u)" = 0 ] || die "needs root to create network namespaces: run sudo make demo"
command -v ip >/dev/null || die "needs iproute2 (the ip command)"

if [ -z "${DENO:-}" ]; then
	DENO=$(command -v deno || echo node_modules/.bin/deno)
fi
if ! [ -x "$DENO" ] && ! command -v "$DENO" >/dev/null 2>&1; then
	say "Installing deno@$DENO_VERSION from npm (as make deps does)"
	npm install --no-save --no-audit --no-fund "deno@$DENO_VERSION" >/dev/null
	DENO=node_modules/.bin/deno
fi

# ── Cleanup: runs on every exit, also after Ctrl-C or kill ──────────────────────────────────
ID=$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
NS_A=em-demo-a-$ID
NS_B=em-demo-b-$ID
NS_SW=em-demo-sw-$ID
WORK=$(mktemp -d /tmp/em-demo.XXXXXX)
AGENT_PIDS=()
OTHER_PIDS=()
CLEANED=0

cleanup() {
	local code=$?
	[ "$CLEANED" = 1 ] && return
	CLEANED=1
	# Finish the cleanup whatever happens: more signals, or a reader of our output that is gone
	# (a write then raises SIGPIPE), must not stop it half-way.
	trap '' INT TERM HUP PIPE
	set +e
	step "Cleaning up" 2>/dev/null
	# Agents first, with SIGTERM: each removes its edge0 device and VIPs on the way out.
	local pid
	for pid in "${AGENT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${AGENT_PIDS[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for pid in "${OTHER_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	for pid in "${OTHER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	local ns
	for ns in "$NS_A" "$NS_B" "$NS_SW"; do
		if ip netns list 2>/dev/null | grep -qw "$ns"; then
			for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
			ip netns del "$ns" 2>/dev/null || true
		fi
	done
	rm -rf "$WORK"
	say "   stopped the agents and backends, deleted $NS_A $NS_B $NS_SW, removed $WORK" 2>/dev/null
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE # the reader of our output is gone (e.g. | head)

# Prints an agent's log and fails.
agent_failed() {
	say "demo: the agent on $1 did not start; its log:" >&2
	sed 's/^/   /' "$WORK/$1/agent.log" >&2 || true
	exit 1
}

# Waits until a log file has a line matching a pattern while the process lives.
wait_for_line() {
	local file=$1 pattern=$2 pid=$3
	for _ in $(seq 1 600); do
		grep -q "$pattern" "$file" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

say "edgemesh demo: two edge nodes, one service, traffic across nodes"
say "================================================================="

# ── 1. Nodes ───────────────────────────────────────────────────────────────────────────────
step "1. Creating two \"nodes\": network namespaces joined by a bridge"
ip netns add "$NS_SW"
ip -n "$NS_SW" link add br0 type bridge
ip -n "$NS_SW" link set br0 up
i=0
for ns in "$NS_A" "$NS_B"; do
	i=$((i + 1))
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add eth0 type veth peer name "veth$i-$ID" netns "$NS_SW"
	ip -n "$NS_SW" link set "veth$i-$ID" master br0 up
	ip -n "$ns" addr add "10.$NET.0.$i/24" dev eth0
	ip -n "$ns" link set eth0 up
done
IP_A=10.$NET.0.1
IP_B=10.$NET.0.2
say "   node-a  namespace $NS_A   address $IP_A/24"
say "   node-b  namespace $NS_B   address $IP_B/24"
say "   switch  namespace $NS_SW  (bridge br0; nothing is added to this machine's own network)"
say "   work dir $WORK"

# ── 2. Agents ──────────────────────────────────────────────────────────────────────────────
step "2. Starting an edgemesh agent on each node (built-in default config)"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/cluster.key" # 64 bytes of hex
chmod 600 "$WORK/cluster.key"
declare -A NS_OF=([node-a]=$NS_A [node-b]=$NS_B)
declare -A AGENT_PID=()
for node in node-a node-b; do
	dir=$WORK/$node
	mkdir -p "$dir/state" "$dir/run"
	# The only setting without a flag: the cluster key that authenticates the tunnel.
	printf 'tunnelKeyFile: %s\n' "$WORK/cluster.key" >"$dir/edgemesh.yaml"
	read -r -a flags <<<"$("$DENO" run --no-prompt scripts/permissions.ts \
		--state-dir "$dir/state" --runtime-dir "$dir/run")"
	printf '%s\n' "${flags[@]}" >"$dir/flags"
	cmd=("$DENO" run --no-prompt "${flags[@]}" main.ts run --config "$dir/edgemesh.yaml"
		--node-name "$node" --state-dir "$dir/state" --control-socket "$dir/run/edgemesh.sock")
	[ "$node" = node-a ] && say "   \$ ip netns exec $NS_A ${cmd[*]}" | sed "s|$ROOT/||g"
	NO_COLOR=1 ip netns exec "${NS_OF[$node]}" "${cmd[@]}" >"$dir/agent.log" 2>&1 &
	AGENT_PID[$node]=$!
	AGENT_PIDS+=("$!")
done
say "   (node-b's command is the same with node-b; the namespaces share this machine's files, so"
say "    each agent gets its own --state-dir and --control-socket; the config file holds one"
say "    line, tunnelKeyFile: the pre-shared cluster key both agents sign their tunnel streams with)"
for node in node-a node-b; do
	wait_for_line "$WORK/$node/agent.log" 'msg="agent ready"' "${AGENT_PID[$node]}" ||
		agent_failed "$node"
	say "   $node: agent ready (pid ${AGENT_PID[$node]}): VIP device edge0, DNS on $DNS_IP:53," \
		"tunnel on :40001, metrics on 127.0.0.1:9560"
done

# Runs `edgemesh ctl` against a node's agent, under the same permission flags.
ctl() {
	local node=$1
	shift
	local -a f
	mapfile -t f <"$WORK/$node/flags"
	"$DENO" run --no-prompt "${f[@]}" main.ts ctl --socket "$WORK/$node/run/edgemesh.sock" "$@"
}

# ── 3. Backends ────────────────────────────────────────────────────────────────────────────
step "3. Starting a small web server on each node (port $BACKEND_PORT): the service's backends"
for node in node-a node-b; do
	ip=$IP_A
	[ "$node" = node-b ] && ip=$IP_B
	ip netns exec "${NS_OF[$node]}" "$DENO" run --no-prompt --allow-net scripts/demo/backend.ts \
		"$node" "$ip" "$BACKEND_PORT" >"$WORK/$node/backend.log" 2>&1 &
	OTHER_PIDS+=("$!")
	wait_for_line "$WORK/$node/backend.log" listening "$!" || die "the backend on $node did not start"
	say "   $node: $(cat "$WORK/$node/backend.log")"
done

# ── 4. Service ─────────────────────────────────────────────────────────────────────────────
step "4. Applying the sample service to both agents with edgemesh ctl apply"
cat >"$WORK/hello.yaml" <<EOF
# The Node objects tell each agent where the other node's agent is (InternalIP, tunnel port 40001).
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {addresses: [{type: InternalIP, address: $IP_A}]}
---
apiVersion: v1
kind: Node
metadata: {name: node-b}
status: {addresses: [{type: InternalIP, address: $IP_B}]}
---
apiVersion: v1
kind: Service
metadata: {name: $SERVICE, namespace: default}
spec:
  ports: [{name: http, protocol: TCP, port: 80, targetPort: $BACKEND_PORT}]
---
# One backend per node; nodeName says where each one runs.
apiVersion: v1
kind: Endpoints
metadata: {name: $SERVICE, namespace: default}
subsets:
  - addresses:
      - {ip: $IP_A, nodeName: node-a}
      - {ip: $IP_B, nodeName: node-b}
    ports: [{name: http, port: $BACKEND_PORT, protocol: TCP}]
EOF
say "   (in a cluster, KubeEdge sends these objects to every node's agent over its control socket)"
for node in node-a node-b; do
	say "   \$ edgemesh ctl apply -f hello.yaml   # on $node"
	ctl "$node" apply -f "$WORK/hello.yaml" | indent | indent
done
say "   \$ edgemesh ctl get services   # on node-a"
ctl node-a get services | indent | indent

# ── 5. DNS ─────────────────────────────────────────────────────────────────────────────────
step "5. Resolving $NAME with node-a's agent DNS ($DNS_IP)"
VIP=$(ip netns exec "$NS_A" "$DENO" run --no-prompt --allow-net scripts/demo/client.ts \
	resolve "$NAME" "$DNS_IP" | head -1)
[ -n "$VIP" ] || die "the agent's DNS did not answer for $NAME"
say "   $NAME -> $VIP (the service's virtual IP, on node-a's edge0 device)"

# ── 6. Requests ────────────────────────────────────────────────────────────────────────────
step "6. $REQUESTS requests from node-a to http://$NAME/ (a new connection each)"
ip netns exec "$NS_A" "$DENO" run --no-prompt --allow-net scripts/demo/client.ts \
	get "$NAME" "$DNS_IP" 80 "$REQUESTS"

# ── 7. Status ──────────────────────────────────────────────────────────────────────────────
step "7. edgemesh ctl status on node-a"
ctl node-a status | indent

step "8. What node-b's agent counted (its /metrics, tunnel streams it accepted)"
ip netns exec "$NS_B" "$DENO" eval \
	'const t = await (await fetch("http://127.0.0.1:9560/metrics")).text();
	 for (const l of t.split("\n")) if (/^edgemesh_tunnel_(streams|bytes)_total/.test(l)) console.log(l);' |
	indent

if [ -n "${DEMO_PAUSE:-}" ]; then
	step "Paused (DEMO_PAUSE): everything is still running; press Enter to clean up"
	say "   e.g. ip netns exec $NS_A ip addr show edge0"
	# Short reads: a signal that lands just before a blocking read would wait for input.
	while :; do
		read -r -t 1 _ && break
		rc=$?
		[ "$rc" -gt 128 ] || break # end of input
	done
fi

step "What happened"
cat <<EOF | indent
- Each node runs one edgemesh agent. Given the service, each agent took a virtual IP for it
  ($VIP) on its own edge0 device and listens there on port 80.
- node-a's agent DNS server ($DNS_IP:53) answers $NAME with that VIP.
- Each connection to $VIP:80 on node-a goes to one endpoint, in turn (round robin):
  * node-a's endpoint is on the same node: the agent connects to it directly
    ("connection from $IP_A", node-a's own address);
  * node-b's endpoint is on another node: node-a's agent opens an HTTP/2 stream, signed with
    the cluster key, to node-b's agent (port 40001), which checks the signature and that the
    endpoint really runs on node-b, then connects to it ("connection from $IP_B": node-b's
    agent made the last hop). All streams to node-b share one HTTP/2 connection.
- The demo runs without tunnelTLS, so the agents warn that the cluster key authenticates who
  opens each stream, but the stream's bytes are neither encrypted nor protected from change on
  the path; in production set tunnelTLS (certFile, keyFile, caFile) as well.
EOF
# The EXIT trap cleans up and reports.

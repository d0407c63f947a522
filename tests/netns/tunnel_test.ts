// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Three "nodes" in network namespaces on one bridge: B and C each run a TunnelServer and an
 * echo backend, A dials through the tunnels with peers learnt from Node objects. Until the
 * agent is wired, each node is a small script (`tests/tunnel/_node.ts`).
 */
import assert from "node:assert/strict";
import { createLan, NETNS_AVAILABLE, spawnReady, type TempNetns } from "../_helpers/netns.ts";
import type { DialResult, DialSpec, ServeSpec } from "../tunnel/_node.ts";
import type { ServiceSpec } from "../tunnel/_fixtures.ts";

const NODE_SCRIPT = new URL("../tunnel/_node.ts", import.meta.url).pathname;
const ECHO_PORT = 8080;
const TUNNEL_PORT = 40001;

/** Starts `_node.ts serve` in `ns` and waits for its `ready` line. */
function startNode(ns: TempNetns, spec: ServeSpec): Promise<Deno.ChildProcess> {
  return spawnReady(
    ns,
    [Deno.execPath(), "run", "-A", "--unstable-net", NODE_SCRIPT, "serve", JSON.stringify(spec)],
    "Node",
  );
}

async function stopNode(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* already exited */ }
  await child.status;
}

/** Runs `_node.ts dial` in `ns` and parses its result lines. */
async function dialFrom(ns: TempNetns, spec: DialSpec): Promise<DialResult[]> {
  const out = await ns.run([
    Deno.execPath(),
    "run",
    "-A",
    "--unstable-net",
    NODE_SCRIPT,
    "dial",
    JSON.stringify(spec),
  ]);
  return out.trim().split("\n").map((l) => JSON.parse(l) as DialResult);
}

Deno.test({
  name: "tunnel carries traffic from node A to B and C, and C still works when B stops",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using lan = await createLan("tun", 3, 78);
    const [a, b, c] = lan.nodes;
    const service: ServiceSpec = {
      namespace: "default",
      name: "echo",
      port: 80,
      endpoints: [
        { ip: b!.ip, port: ECHO_PORT, nodeName: "b" },
        { ip: c!.ip, port: ECHO_PORT, nodeName: "c" },
      ],
    };
    const serveSpec = (node: typeof b, name: string): ServeSpec => ({
      nodeName: name,
      listen: `${node!.ip}:${TUNNEL_PORT}`,
      echoHost: node!.ip,
      echoPort: ECHO_PORT,
      greeting: `${name.toUpperCase()}:`,
      services: [service],
    });
    const nodeB = await startNode(b!, serveSpec(b, "b"));
    let nodeC: Deno.ChildProcess | null = null;
    try {
      nodeC = await startNode(c!, serveSpec(c, "c"));
      const spec: DialSpec = {
        nodeName: "a",
        port: TUNNEL_PORT,
        nodes: [
          {
            name: "b",
            addresses: [{ type: "Hostname", address: "b" }, { type: "InternalIP", address: b!.ip }],
          },
          { name: "c", addresses: [{ type: "InternalIP", address: c!.ip }] },
        ],
        targets: [
          { service: "echo", ip: b!.ip, port: ECHO_PORT, nodeName: "b" },
          { service: "echo", ip: c!.ip, port: ECHO_PORT, nodeName: "c" },
          // C's endpoint asked of B: B must refuse, it is not an open proxy.
          { service: "echo", ip: c!.ip, port: ECHO_PORT, nodeName: "b" },
          { service: "other", ip: b!.ip, port: ECHO_PORT, nodeName: "b" },
        ],
      };
      assert.deepEqual(await dialFrom(a!, spec), [
        { reply: "B:hello" },
        { reply: "C:hello" },
        { error: "endpoint-not-local" },
        { error: "unknown-service" },
      ]);
      await stopNode(nodeB);
      assert.deepEqual(
        await dialFrom(a!, { ...spec, targets: spec.targets.slice(0, 2) }),
        [{ error: "peer-unreachable" }, { reply: "C:hello" }],
      );
    } finally {
      await stopNode(nodeB);
      if (nodeC) await stopNode(nodeC);
    }
  },
});

Deno.test({
  name: "tunnel carries traffic between nodes over IPv6 (InternalIP fd00:…, listen [::])",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using lan = await createLan("v6", 2, 79, "tv6");
    const [a, b] = lan.nodes;
    const v6 = (i: number) => `fd00:79::${i}`;
    for (const [i, ns] of [a!, b!].entries()) {
      // nodad: usable at once, no duplicate-address detection to wait for.
      await ns.run(["ip", "-6", "addr", "add", `${v6(i + 1)}/64`, "dev", "eth0", "nodad"]);
    }
    const nodeB = await startNode(b!, {
      nodeName: "b",
      listen: `[::]:${TUNNEL_PORT}`,
      echoHost: v6(2),
      echoPort: ECHO_PORT,
      greeting: "B:",
      services: [{
        namespace: "default",
        name: "echo",
        port: 80,
        endpoints: [{ ip: v6(2), port: ECHO_PORT, nodeName: "b" }],
      }],
    });
    try {
      const results = await dialFrom(a!, {
        nodeName: "a",
        port: TUNNEL_PORT,
        nodes: [{
          name: "b",
          addresses: [{ type: "InternalIP", address: v6(2) }, {
            type: "InternalIP",
            address: b!.ip,
          }],
        }],
        targets: [{ service: "echo", ip: v6(2), port: ECHO_PORT, nodeName: "b" }],
      });
      assert.deepEqual(results, [{ reply: "B:hello" }]);
    } finally {
      await stopNode(nodeB);
    }
  },
});

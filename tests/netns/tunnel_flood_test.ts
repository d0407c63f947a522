// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Security QA finding 1 across real sockets: a node holding the cluster key floods node B with
 * correctly signed streams; another node's streams to B still work. Three "nodes" (`tnb-*`
 * namespaces) on one bridge: B runs a TunnelServer (`tests/tunnel/_node.ts serve`) with small
 * nonce budgets, so the flood is short: 100 nonces per remote address, 400 in all.
 */
import assert from "node:assert/strict";
import { createLan, NETNS_AVAILABLE, spawnReady, type TempNetns } from "../_helpers/netns.ts";
import type { DialResult, DialSpec, FloodSpec, ServeSpec } from "../tunnel/_node.ts";

const NODE_SCRIPT = new URL("../tunnel/_node.ts", import.meta.url).pathname;
const ECHO_PORT = 8080;
const TUNNEL_PORT = 40001;
const PER_SOURCE = 100;

async function runNode(ns: TempNetns, mode: string, spec: unknown): Promise<string> {
  return await ns.run([
    Deno.execPath(),
    "run",
    "-A",
    "--unstable-net",
    NODE_SCRIPT,
    mode,
    JSON.stringify(spec),
  ]);
}

Deno.test({
  name: "a flood of signed streams from one node does not stop another node's streams",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using lan = await createLan("flood", 3, 79, "tnb");
    const [a, flooder, b] = lan.nodes;
    const serve: ServeSpec = {
      nodeName: "b",
      listen: `${b!.ip}:${TUNNEL_PORT}`,
      echoHost: b!.ip,
      echoPort: ECHO_PORT,
      greeting: "B:",
      services: [{
        namespace: "default",
        name: "echo",
        port: 80,
        endpoints: [{ ip: b!.ip, port: ECHO_PORT, nodeName: "b" }],
      }],
      maxNonces: 4 * PER_SOURCE,
      maxNoncesPerSource: PER_SOURCE,
    };
    const nodeB = await spawnReady(
      b!,
      [Deno.execPath(), "run", "-A", "--unstable-net", NODE_SCRIPT, "serve", JSON.stringify(serve)],
      "Node",
    );
    try {
      // More than the whole cache (400): before, this locked every peer out of B.
      const floodSpec: FloodSpec = {
        nodeName: "a", // claims to be A: the budget is the address's, not the signed name's
        peer: `${b!.ip}:${TUNNEL_PORT}`,
        count: 6 * PER_SOURCE,
        concurrency: 50,
      };
      const reasons = JSON.parse(await runNode(flooder!, "flood", floodSpec));
      assert.deepEqual(reasons, {
        "unknown-service": PER_SOURCE, // its share: served (and refused for what it asked)
        "rate-limited": 5 * PER_SOURCE, // then refused as what it is, not as a bad key
      });
      const dial: DialSpec = {
        nodeName: "a",
        port: TUNNEL_PORT,
        nodes: [{ name: "b", addresses: [{ type: "InternalIP", address: b!.ip }] }],
        targets: [
          { service: "echo", ip: b!.ip, port: ECHO_PORT, nodeName: "b" },
          { service: "echo", ip: b!.ip, port: ECHO_PORT, nodeName: "b" },
        ],
      };
      const out = (await runNode(a!, "dial", dial)).trim().split("\n");
      assert.deepEqual(out.map((l) => JSON.parse(l) as DialResult), [
        { reply: "B:hello" },
        { reply: "B:hello" },
      ]);
      // The flooder is still refused: its nonces have not expired (60 s window).
      assert.deepEqual(
        JSON.parse(await runNode(flooder!, "flood", { ...floodSpec, count: 5, concurrency: 1 })),
        { "rate-limited": 5 },
      );
    } finally {
      try {
        nodeB.kill("SIGKILL");
      } catch { /* already exited */ }
      await nodeB.status;
    }
  },
});

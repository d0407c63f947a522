// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A peer whose agent hangs while its kernel still answers: node B's tunnel server is stopped
 * with `SIGSTOP` while A holds a stream to it. TCP keepalive sees nothing (B's kernel acknowledges
 * every probe), so only the dialer's heartbeat (`lib/tunnel/heartbeat.ts`) ends the stream;
 * without it the stream waited until B went on. Short heartbeat timings keep the test quick.
 */
import assert from "node:assert/strict";
import { createLan, NETNS_AVAILABLE, spawnReady, type TempNetns } from "../_helpers/netns.ts";
import type { HeartbeatPolicy } from "../../lib/tunnel/mod.ts";
import type { LingerResult, LingerSpec, ServeSpec } from "../tunnel/_node.ts";

const NODE_SCRIPT = new URL("../tunnel/_node.ts", import.meta.url).pathname;
const ECHO_PORT = 8080;
const TUNNEL_PORT = 40001;
const FAST: HeartbeatPolicy = { intervalMs: 300, timeoutMs: 700, tickMs: 50 };

/** `_node.ts <mode> <spec>` under this Deno. */
function node(mode: string, spec: unknown): string[] {
  return [Deno.execPath(), "run", "-A", "--unstable-net", NODE_SCRIPT, mode, JSON.stringify(spec)];
}

Deno.test({
  name: "a stream through the tunnel ends once its peer's agent is stopped (SIGSTOP): heartbeat",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using lan = await createLan("hb", 2, 87, "emhb");
    const [a, b] = lan.nodes as [TempNetns & { ip: string }, TempNetns & { ip: string }];
    const serve: ServeSpec = {
      nodeName: "b",
      listen: `${b.ip}:${TUNNEL_PORT}`,
      echoHost: b.ip,
      echoPort: ECHO_PORT,
      greeting: "b:",
      services: [{
        namespace: "default",
        name: "echo",
        port: 80,
        endpoints: [{ ip: b.ip, port: ECHO_PORT, nodeName: "b" }],
      }],
    };
    const server = await spawnReady(b, node("serve", serve), "Node b");
    const linger: LingerSpec = {
      peer: `${b.ip}:${TUNNEL_PORT}`,
      backend: { ip: b.ip, port: ECHO_PORT },
      heartbeat: FAST,
    };
    const client = a.spawn(node("linger", linger), {
      stdout: "piped",
      stderr: "inherit",
      stdin: "null",
    });
    const lines = client.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TransformStream<string, string>({
        transform(chunk, c) {
          for (const l of chunk.split("\n")) if (l !== "") c.enqueue(l);
        },
      }),
    ).getReader();
    try {
      assert.equal((await lines.read()).value, "ready b:hello");
      // The heartbeats of the idle stream are answered while B runs: it stays open, then B
      // stops (its kernel still acknowledges and keeps its sockets).
      server.kill("SIGSTOP");
      const line = (await lines.read()).value;
      assert.ok(line !== undefined, "the client printed how the stream ended");
      const result = JSON.parse(line) as LingerResult;
      assert.equal(result.ended, "error", line);
      assert.match(result.error ?? "", /did not answer a heartbeat within 0\.7 s/);
    } finally {
      for (const child of [server, client]) {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
        await child.status;
      }
      await lines.cancel().catch(() => {});
    }
  },
});

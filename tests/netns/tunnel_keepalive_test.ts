// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A peer that vanishes without a word: node B's link goes down (no FIN, no reset; what a power
 * cut or a pulled cable looks like from A) while A holds a stream to B through the tunnel. With
 * TCP keepalive on the tunnel connection (`lib/sys/keepalive.ts`) the kernel gives the connection
 * up and the stream ends with an error; without it the stream stayed open for good (measured in
 * the fault-injection pass: 75 s and counting). Short keepalive timings keep the test quick.
 */
import assert from "node:assert/strict";
import { createLan, NETNS_AVAILABLE, spawnReady, type TempNetns } from "../_helpers/netns.ts";
import type { TcpKeepAlive } from "../../lib/sys/keepalive.ts";
import type { LingerResult, LingerSpec, ServeSpec } from "../tunnel/_node.ts";

const NODE_SCRIPT = new URL("../tunnel/_node.ts", import.meta.url).pathname;
const ECHO_PORT = 8080;
const TUNNEL_PORT = 40001;
/** Given up 1 s after the last packet plus 2 probes 1 s apart: about 3 s. */
const FAST: TcpKeepAlive = { idleSec: 1, intervalSec: 1, probes: 2, userTimeoutMs: 3000 };

/** `_node.ts <mode> <spec>` under this Deno. */
function node(mode: string, spec: unknown): string[] {
  return [Deno.execPath(), "run", "-A", "--unstable-net", NODE_SCRIPT, mode, JSON.stringify(spec)];
}

/** The next line from `lines`, or null at their end. */
async function nextLine(lines: ReadableStreamDefaultReader<string>): Promise<string | null> {
  const r = await lines.read();
  return r.done ? null : r.value;
}

Deno.test({
  name: "a stream through the tunnel ends once its peer's link is cut (TCP keepalive)",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using lan = await createLan("tka", 2, 86);
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
      keepAlive: FAST,
    };
    const server = await spawnReady(b, node("serve", serve), "Node b");
    const linger: LingerSpec = {
      peer: `${b.ip}:${TUNNEL_PORT}`,
      backend: { ip: b.ip, port: ECHO_PORT },
      keepAlive: FAST,
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
      assert.equal(await nextLine(lines), "ready b:hello");
      await b.run(["ip", "link", "set", "eth0", "down"]);
      const line = await nextLine(lines);
      assert.ok(line !== null, "the client printed how the stream ended");
      const result = JSON.parse(line) as LingerResult;
      assert.equal(result.ended, "error", line);
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

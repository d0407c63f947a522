// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * One stream held through the tunnel between two namespaces, for the tests of how such a stream
 * ends when its peer goes away (`tunnel_keepalive_test.ts`: the link is cut;
 * `tunnel_heartbeat_test.ts`: the peer's process is stopped). Node B runs `_node.ts serve` (an
 * echo backend and a `TunnelServer`), node A `_node.ts linger` (one stream to B's backend, held
 * open, its end printed as a `LingerResult`).
 * @module
 */
import type { TempNetns } from "../../_helpers/netns.ts";
import { spawnReady } from "../../_helpers/netns.ts";
import { lineReader } from "../../_helpers/child.ts";
import type { LingerSpec, ServeSpec } from "../../tunnel/_node.ts";

const NODE_SCRIPT = new URL("../../tunnel/_node.ts", import.meta.url).pathname;
const ECHO_PORT = 8080;
const TUNNEL_PORT = 40001;

/** `_node.ts <mode> <spec>` under this Deno. */
function node(mode: string, spec: unknown): string[] {
  return [Deno.execPath(), "run", "-A", "--unstable-net", NODE_SCRIPT, mode, JSON.stringify(spec)];
}

/** The two processes of a held stream; disposing kills both. */
export interface HeldStream extends AsyncDisposable {
  /** Node B's `serve` process (a test may stop it). */
  readonly server: Deno.ChildProcess;
  /** The next line node A's `linger` printed, or null once it ended. */
  nextLine(): Promise<string | null>;
}

/**
 * Starts B's server and A's `linger` client; `serve` and `linger` add options (keepalive,
 * heartbeat timings) to the specs. The first line A prints is `ready b:hello` once the stream is
 * up.
 */
export async function holdStream(
  a: TempNetns,
  b: TempNetns & { ip: string },
  extra: {
    readonly serve?: Partial<ServeSpec>;
    readonly linger?: Partial<LingerSpec>;
  } = {},
): Promise<HeldStream> {
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
    ...extra.serve,
  };
  const server = await spawnReady(b, node("serve", serve), "Node b");
  const linger: LingerSpec = {
    peer: `${b.ip}:${TUNNEL_PORT}`,
    backend: { ip: b.ip, port: ECHO_PORT },
    ...extra.linger,
  };
  const client = a.spawn(node("linger", linger), {
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  });
  const lines = lineReader(client.stdout);
  return {
    server,
    async nextLine() {
      const r = await lines.read();
      return r.done ? null : r.value;
    },
    async [Symbol.asyncDispose]() {
      for (const child of [server, client]) {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
        await child.status;
      }
      await lines.cancel().catch(() => {});
    },
  };
}

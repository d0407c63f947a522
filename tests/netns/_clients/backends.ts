// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Test backends, run inside a network namespace by `tests/_helpers/agent_fixtures.ts`.
 *
 * Usage: `backends.ts [--host 127.0.0.1] KIND:NAME…` with KIND `name` (writes its own name and
 * closes) or `echo` (echoes every byte, half-closes at EOF). Prints one JSON line
 * `{"<name>": <port>, …}` once every listener is bound, then reads commands on stdin:
 * `stop NAME` closes that backend (listener and open connections) and prints `stopped NAME`.
 * At stdin EOF it closes everything and exits 0.
 * @module
 */
import { parseArgs } from "node:util";
import { serveTcp, type TcpServer, writeAll } from "../../_helpers/tcp_server.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { host: { type: "string", default: "127.0.0.1" } },
  allowPositionals: true,
});

async function handle(kind: string, name: string, conn: Deno.TcpConn): Promise<void> {
  if (kind === "name") {
    await writeAll(conn, new TextEncoder().encode(name));
    return;
  }
  const buf = new Uint8Array(256 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    await writeAll(conn, buf.subarray(0, n));
  }
  await conn.closeWrite();
  // Wait for the peer's close so nothing in flight is cut off by our close.
  while (await conn.read(buf) !== null) { /* drain */ }
}

function serve(kind: string, name: string): TcpServer {
  return serveTcp((conn) => handle(kind, name, conn), values.host);
}

const backends = new Map<string, TcpServer>();
for (const spec of positionals) {
  const [kind, name] = spec.split(":");
  if ((kind !== "name" && kind !== "echo") || !name) {
    throw new TypeError(`Cannot start backend "${spec}": expected name:NAME or echo:NAME`);
  }
  backends.set(name, serve(kind, name));
}
const ports = Object.fromEntries(
  [...backends].map(([name, b]) => [name, b.port]),
);
// deno-lint-ignore no-console
console.log(JSON.stringify(ports));

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let partial = "";
for await (const chunk of lines) {
  partial += chunk;
  const parts = partial.split("\n");
  partial = parts.pop() ?? "";
  for (const line of parts) {
    const [cmd, name] = line.trim().split(/\s+/);
    const b = name === undefined ? undefined : backends.get(name);
    if (cmd !== "stop" || !b) throw new TypeError(`Cannot run command "${line}"`);
    await b.close();
    backends.delete(name!);
    // deno-lint-ignore no-console
    console.log(`stopped ${name}`);
  }
}
await Promise.all([...backends.values()].map((b) => b.close()));

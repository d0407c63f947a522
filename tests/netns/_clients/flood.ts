// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Opens COUNT idle TCP connections to HOST:PORT (each connect given TIMEOUT_MS), prints
 * `{"connected":N,"failed":M}` once every attempt ended, holds the connections open until stdin
 * ends, then closes them and exits. Tests play an idle-connection flood with it.
 *
 * Usage: `flood.ts HOST PORT COUNT TIMEOUT_MS` (run inside the agent's namespace).
 * @module
 */
const [host, port, count, timeoutMs] = Deno.args;
const conns: Deno.Conn[] = [];
let failed = 0;
const attempts = Array.from({ length: Number(count) }, async () => {
  try {
    conns.push(
      await Deno.connect({
        hostname: host!,
        port: Number(port),
        signal: AbortSignal.timeout(Number(timeoutMs)),
      }),
    );
  } catch {
    failed++;
  }
});
await Promise.all(attempts);
// deno-lint-ignore no-console
console.log(JSON.stringify({ connected: conns.length, failed }));
for await (const _ of Deno.stdin.readable) { /* hold until stdin ends */ }
for (const c of conns) {
  try {
    c.close();
  } catch { /* the peer closed it */ }
}

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Connections reset as soon as they are connected (a port scanner, a health check that closes
 * with RST), from a process of their own so that the resets race the server's accepts: most
 * reach the server after the reset, and Deno's `accept()` then fails with `ENOTCONN`.
 *
 * As a script: `reset_flood.ts HOST PORT COUNT` opens COUNT such connections one after the
 * other and prints `done`.
 * @module
 */
// deno-lint-ignore-file no-console
import assert from "node:assert/strict";
import { TcpConnResets } from "../../lib/sys/tcp_reset.ts";
import { runDeno } from "./child.ts";

/**
 * Runs the flood of `count` reset connections to `hostname:port` and waits for its end.
 */
export async function resetFlood(
  hostname: string,
  port: number,
  count = 300,
): Promise<void> {
  const out = await runDeno([
    "run",
    "-A",
    new URL(import.meta.url).pathname,
    hostname,
    String(port),
    String(count),
  ]);
  assert.equal(out.stdout.trim(), "done", out.stderr);
}

if (import.meta.main) {
  const [hostname, port, count] = Deno.args;
  const resets = new TcpConnResets();
  for (let i = 0; i < Number(count); i++) {
    resets.reset(await Deno.connect({ hostname: hostname!, port: Number(port) }));
  }
  await Promise.resolve(); // the last reset's pass
  console.log("done");
}

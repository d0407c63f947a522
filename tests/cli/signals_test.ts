// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { stopSignal } from "../../lib/cli/mod.ts";
import { memoryLogger } from "../../lib/log/mod.ts";

/**
 * Sends `sig` to this process and resolves once it was delivered: a listener added after the
 * ones under test runs after them. Signal listeners do not keep the event loop alive, so a
 * failure bound (a timer) does.
 */
async function send(sig: Deno.Signal): Promise<void> {
  const delivered = Promise.withResolvers<void>();
  const listener = () => delivered.resolve();
  const bound = setTimeout(() => delivered.reject(new Error(`${sig} not delivered`)), 10_000);
  Deno.addSignalListener(sig, listener);
  try {
    Deno.kill(Deno.pid, sig);
    await delivered.promise;
  } finally {
    clearTimeout(bound);
    Deno.removeSignalListener(sig, listener);
  }
}

Deno.test("stopSignal() ignores SIGHUP with a warning, stops on SIGTERM, exits on a second", async () => {
  const log = memoryLogger();
  const exits: number[] = [];
  const { signal, dispose } = stopSignal(log, { exit: (code) => exits.push(code) });
  try {
    await send("SIGHUP");
    assert.equal(signal.aborted, false, "SIGHUP does not stop the agent");
    const hup = JSON.parse(log.lines.at(-1)!);
    assert.equal(hup.level, "warn");
    assert.match(hup.msg, /^SIGHUP ignored: .*restart it to apply changes/);

    await send("SIGTERM");
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as Error).message, "received SIGTERM");
    assert.deepEqual(exits, []);

    await send("SIGTERM");
    assert.deepEqual(exits, [143], "a second SIGTERM exits at once with 128 + 15");
  } finally {
    dispose();
  }
});

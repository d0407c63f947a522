// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { ConnGate, type ProxyLimits, proxyLimits } from "../../lib/proxy/gate.ts";
import { fdBudget } from "../../lib/sys/fd_limits.ts";

function limits(maxConnections: number): ProxyLimits {
  return { cells: new SharedArrayBuffer(4 * 65), maxConnections, maxListeners: 10, openFiles: 99 };
}

Deno.test("proxyLimits() takes the cap and a thread's listener share from the budget", () => {
  const l = proxyLimits(fdBudget(65_536), 4);
  assert.equal(l.maxConnections, 19012);
  assert.equal(l.maxListeners, 4423);
  assert.equal(l.openFiles, 65_536);
});

Deno.test("ConnGate counts connections of every thread against one cap", async () => {
  const shared = limits(3);
  const log = memoryLogger();
  const main = new ConnGate(shared, 0, log);
  const worker = new ConnGate(shared, 1, log);
  main.acquire();
  worker.acquire();
  assert.equal(main.full, false);
  worker.acquire();
  assert.equal(main.full, true);
  assert.equal(worker.full, true);
  assert.equal(main.open, 3);

  // A paused listener resumes when a connection of its own thread ends.
  const resumed = Promise.withResolvers<void>();
  main.pause(resumed.resolve);
  assert.match(log.lines.join("\n"), /Proxy connection cap reached.*"cap":3,"openFilesLimit":99/);
  main.acquire(); // over the cap (another thread's accept raced): still full after one release
  main.release();
  assert.equal(main.full, true);
  main.release();
  await resumed.promise;
  assert.equal(main.open, 2);

  // ... and when another thread's ends (seen by the periodic check).
  main.acquire();
  const again = Promise.withResolvers<void>();
  main.pause(again.resolve);
  worker.release();
  await again.promise;

  // A crashed worker's share is taken back.
  assert.equal(main.open, 2);
  main.forgetThread(1);
  assert.equal(main.open, 1);
  main.release();
  assert.equal(main.open, 0);
  main.close();
  worker.close();
});

Deno.test("ConnGate.close() lets waiting listeners go on", async () => {
  const gate = new ConnGate(limits(1), 0, memoryLogger());
  gate.acquire();
  const resumed = Promise.withResolvers<void>();
  gate.pause(resumed.resolve);
  gate.close();
  await resumed.promise;
  assert.equal(gate.full, true);
});

Deno.test("ConnGate without limits never fills", () => {
  const gate = new ConnGate(null, 0, memoryLogger());
  for (let i = 0; i < 1000; i++) gate.acquire();
  assert.equal(gate.full, false);
  gate.close();
});

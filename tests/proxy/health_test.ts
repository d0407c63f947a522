// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import { PassiveHealth, Proxy } from "../../lib/proxy/mod.ts";
import { steppableWallClock } from "../_helpers/clock.ts";

const A = "10.0.0.1:80";

Deno.test("PassiveHealth skips an ejected backend for the cool-down and tells the others its length", () => {
  const told: [string, number][] = [];
  const h = new PassiveHealth(10_000, (key, forMs) => told.push([key, forMs]));
  h.eject(A, 1_000);
  assert.deepEqual(told, [[A, 10_000]], "a duration, not this thread's deadline");
  assert.equal(h.isEjected(A, 10_999), true);
  assert.equal(h.isEjected(A, 11_000), false);
  assert.deepEqual(h.ejected(11_000), []);
});

Deno.test("PassiveHealth.ejectFor() applies another thread's ejection on this thread's clock", async (t) => {
  // Each row: an ejection already here (or none), one from another thread, and the result.
  const rows = [
    { name: "from now on this clock", before: null, forMs: 5_000, at: 50_000, until: 55_000 },
    { name: "a longer one extends", before: 52_000, forMs: 5_000, at: 50_000, until: 55_000 },
    { name: "a shorter one does not cut", before: 58_000, forMs: 5_000, at: 50_000, until: 58_000 },
    { name: "none (0 ms) is ignored", before: null, forMs: 0, at: 50_000, until: null },
  ];
  for (const row of rows) {
    await t.step(row.name, () => {
      const h = new PassiveHealth(10_000);
      if (row.before !== null) h.ejectFor(A, row.before - row.at, row.at);
      h.ejectFor(A, row.forMs, row.at);
      if (row.until === null) {
        assert.equal(h.isEjected(A, row.at), false);
        return;
      }
      assert.equal(h.isEjected(A, row.until - 1), true);
      assert.equal(h.isEjected(A, row.until), false);
    });
  }
});

Deno.test("PassiveHealth with a cool-down of 0 never ejects", () => {
  const told: string[] = [];
  const h = new PassiveHealth(0, (key) => told.push(key));
  h.eject(A, 1_000);
  assert.equal(h.isEjected(A, 1_000), false);
  assert.deepEqual(told, []);
});

Deno.test("Proxy's default clock: a wall clock set forward does not end an ejection", async () => {
  using wall = steppableWallClock();
  const proxy = new Proxy({ nodeName: "n", log: nullLogger, engine: "deno" });
  try {
    proxy.applyEjection(A, 10_000);
    wall.step(86_400_000); // NTP corrects a clock that ran a day behind
    assert.deepEqual(proxy.ejected(), [A], "still cooling down");
  } finally {
    await proxy.close();
  }
});

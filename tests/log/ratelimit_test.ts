// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { LogRateLimiter, memoryLogger } from "../../lib/log/mod.ts";

Deno.test("LogRateLimiter.take() allows one line per key and interval, counting the rest", async (t) => {
  // Each row: [clock, key, expected take()] applied in order to one limiter (interval 1000).
  const rows: [number, string, number | null][] = [
    [0, "a", 0], // first line of a key: written
    [1, "a", null], // within the interval: suppressed
    [999, "a", null],
    [500, "b", 0], // another key is independent
    [1000, "a", 2], // interval over: written, with the 2 left out
    [1001, "a", null],
    [1499, "b", null],
    [5000, "a", 1], // long after: the count is of lines left out since the last one written
    [5001, "b", 1],
    [6000, "a", 0], // nothing left out since 5000
    [10, "a", 0], // the clock went backwards: written rather than silent for the jump
  ];
  let now = 0;
  const limiter = new LogRateLimiter({ intervalMs: 1000, now: () => now });
  for (const [at, key, want] of rows) {
    await t.step(`t=${at} ${key} → ${want}`, () => {
      now = at;
      assert.equal(limiter.take(key), want);
    });
  }
});

Deno.test("LogRateLimiter forgets the key written longest ago past maxKeys", () => {
  let now = 0;
  const limiter = new LogRateLimiter({ intervalMs: 1000, now: () => now, maxKeys: 2 });
  assert.equal(limiter.take("a"), 0);
  now = 1;
  assert.equal(limiter.take("b"), 0);
  assert.equal(limiter.take("a"), null);
  now = 2;
  assert.equal(limiter.take("c"), 0, "a third key evicts the oldest (a)");
  assert.equal(limiter.size, 2);
  assert.equal(limiter.take("b"), null, "b is still remembered");
  assert.equal(limiter.take("a"), 0, "a was forgotten: written again (evicting b)");
  assert.equal(limiter.size, 2);
});

Deno.test("LogRateLimiter.warn() writes a warn line with the suppressed count", () => {
  let now = 0;
  const log = memoryLogger("info");
  const limiter = new LogRateLimiter({ now: () => now });
  const written = [];
  for (let i = 0; i < 5; i++) written.push(limiter.warn(log, "peer", "Peer is sad", { peer: "b" }));
  now = 60_000;
  written.push(limiter.warn(log, "peer", "Peer is sad", { peer: "b" }));
  assert.deepEqual(written, [true, false, false, false, false, true]);
  const lines = log.lines.map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map(({ level, msg, peer, suppressed }) => ({ level, msg, peer, suppressed })),
    [
      { level: "warn", msg: "Peer is sad", peer: "b", suppressed: undefined },
      { level: "warn", msg: "Peer is sad", peer: "b", suppressed: 4 },
    ],
  );
});

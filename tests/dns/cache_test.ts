// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { AnswerCache, cacheKey, PRUNE_INTERVAL_MS } from "../../lib/dns/cache.ts";

Deno.test("cacheKey() tells DO and CD apart and ignores the name's case", async (t) => {
  const base = cacheKey("a.example", 1, 1, false, false);
  // [what, key, same as base]
  const cases: [string, string, boolean][] = [
    ["same question", cacheKey("a.example", 1, 1, false, false), true],
    ["other case", cacheKey("A.Example", 1, 1, false, false), true],
    ["DO set (RFC 3225)", cacheKey("a.example", 1, 1, true, false), false],
    ["CD set (RFC 4035 §3.2.2)", cacheKey("a.example", 1, 1, false, true), false],
    ["DO and CD set", cacheKey("a.example", 1, 1, true, true), false],
    ["other type", cacheKey("a.example", 28, 1, false, false), false],
    ["other class", cacheKey("a.example", 1, 3, false, false), false],
    ["other name", cacheKey("b.example", 1, 1, false, false), false],
  ];
  for (const [what, key, same] of cases) {
    await t.step(what, () => assert.equal(key === base, same));
  }
  assert.notEqual(
    cacheKey("a.example", 1, 1, true, false),
    cacheKey("a.example", 1, 1, false, true),
  );
});

Deno.test("AnswerCache evicts the least recently used entry and expires by clock", () => {
  const c = new AnswerCache(2);
  const e = (expiresAt: number) => ({
    bytes: new Uint8Array(12),
    ttlOffsets: [],
    questionEnd: 12,
    storedAt: 0,
    expiresAt,
  });
  c.set("a", e(100));
  c.set("b", e(100));
  assert.ok(c.get("a", 0)); // a is now most recent
  c.set("c", e(100));
  assert.equal(c.get("b", 0), undefined);
  assert.ok(c.get("a", 0));
  assert.ok(c.get("c", 99));
  assert.equal(c.get("c", 100), undefined);
  assert.equal(c.size, 1);
});

Deno.test("AnswerCache.set() drops expired entries never asked again, at most every PRUNE_INTERVAL_MS", () => {
  // A name asked once (a unique subdomain) used to stay until the LRU bound pushed it out.
  const c = new AnswerCache(10_000);
  const e = (storedAt: number, ttlMs: number) => ({
    bytes: new Uint8Array(12),
    ttlOffsets: [],
    questionEnd: 12,
    storedAt,
    expiresAt: storedAt + ttlMs,
  });
  for (let i = 0; i < 100; i++) c.set(`u${i}`, e(i, 5_000));
  c.set("long", e(100, 3_600_000));
  assert.equal(c.size, 101);
  // Before the interval has passed since the first set's prune: nothing dropped yet.
  c.set("x", e(PRUNE_INTERVAL_MS - 1, 5_000));
  assert.equal(c.size, 102);
  // The next set after the interval drops the 100 expired ones, keeps the live ones.
  c.set("y", e(PRUNE_INTERVAL_MS, 5_000));
  assert.equal(c.size, 3);
  assert.ok(c.get("long", PRUNE_INTERVAL_MS));
  assert.ok(c.get("x", PRUNE_INTERVAL_MS));
  assert.ok(c.get("y", PRUNE_INTERVAL_MS));
  assert.equal(c.prune(PRUNE_INTERVAL_MS + 5_000), 2);
  assert.equal(c.size, 1);
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { LinkedSet } from "../../lib/proxy/linked_set.ts";

Deno.test("LinkedSet adds and removes through nodes, removal is idempotent", () => {
  const set = new LinkedSet<string>();
  const a = set.add("a");
  const b = set.add("b");
  const c = set.add("c");
  assert.equal(set.size, 3);
  assert.deepEqual([...set].sort(), ["a", "b", "c"]);
  for (const [node, left] of [[b, ["a", "c"]], [c, ["a"]], [b, ["a"]], [a, []]] as const) {
    set.remove(node);
    assert.deepEqual([...set].sort(), left);
    assert.equal(set.size, left.length);
  }
  assert.equal(a.value, null, "a removed node drops its value");
  assert.equal(a.next, null);
  set.add("d");
  assert.deepEqual([...set], ["d"]);
});

Deno.test("LinkedSet iterates over the entries at the start, whatever is removed meanwhile", () => {
  const set = new LinkedSet<number>();
  const nodes = [1, 2, 3, 4].map((n) => set.add(n));
  const seen: number[] = [];
  for (const n of set) {
    seen.push(n);
    for (const node of nodes) set.remove(node);
    set.add(99);
  }
  assert.deepEqual(seen, [4, 3, 2, 1]);
  assert.deepEqual([...set], [99, 99, 99, 99]);
});

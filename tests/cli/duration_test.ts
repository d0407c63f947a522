// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { MAX_TIMEOUT_MS, parseTimeoutMs } from "../../lib/cli/duration.ts";

Deno.test("parseTimeoutMs() reads milliseconds or a number with a unit", async (t) => {
  const rows: [string, number][] = [
    ["0", 0],
    ["250", 250],
    ["250ms", 250],
    ["30s", 30_000],
    ["1.5s", 1_500],
    ["1.1s", 1_100],
    ["2m", 120_000],
    [String(MAX_TIMEOUT_MS), MAX_TIMEOUT_MS],
  ];
  for (const [text, want] of rows) {
    await t.step(text, () => assert.equal(parseTimeoutMs(text), want));
  }
});

Deno.test("parseTimeoutMs() rejects anything else with a RangeError", async (t) => {
  for (const text of ["", "soon", "-1", "1.5", "1.5ms", "30 s", "5h", "1e3", String(2 ** 31)]) {
    await t.step(JSON.stringify(text), () => {
      assert.throws(() => parseTimeoutMs(text), (err: Error) => {
        assert.equal(err.name, "RangeError");
        assert.ok(err.message.startsWith(JSON.stringify(text) + " is "), err.message);
        return true;
      });
    });
  }
});

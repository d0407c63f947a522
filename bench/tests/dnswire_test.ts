// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { decodeAAnswer, encodeAQuery } from "../lib/dnswire.ts";

Deno.test("encodeAQuery() builds a recursive A/IN question (RFC 1035 §4.1)", () => {
  const q = encodeAQuery(0x1234, "svc.ns.");
  assert.deepEqual(
    [...q],
    [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 115, 118, 99, 2, 110, 115, 0, 0, 1, 0, 1],
  );
  assert.throws(() => encodeAQuery(1, `${"a".repeat(64)}.x`), RangeError);
});

Deno.test("decodeAAnswer() reads the A records of a response with compressed names", async (t) => {
  const q = encodeAQuery(7, "svc.ns");
  const answer = (rcode: number, records: number[][]) => {
    const head = new Uint8Array(q);
    head[2] = 0x81;
    head[3] = 0x80 | rcode;
    head[7] = records.length;
    const body = records.flatMap((
      r,
    ) => [0xc0, 12, 0, r.length === 4 ? 1 : 28, 0, 1, 0, 0, 0, 5, 0, r.length, ...r]);
    return new Uint8Array([...head, ...body]);
  };
  await t.step("two A records", () => {
    assert.deepEqual(decodeAAnswer(answer(0, [[9, 251, 0, 2], [9, 251, 0, 3]])), {
      id: 7,
      rcode: 0,
      addresses: ["9.251.0.2", "9.251.0.3"],
    });
  });
  await t.step("non-A records skipped", () => {
    assert.deepEqual(
      decodeAAnswer(answer(0, [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]])).addresses,
      [],
    );
  });
  await t.step("NXDOMAIN", () => assert.equal(decodeAAnswer(answer(3, [])).rcode, 3));
  await t.step("truncated", () => {
    assert.throws(() => decodeAAnswer(answer(0, [[9, 251, 0, 2]]).subarray(0, 30)), SyntaxError);
    assert.throws(() => decodeAAnswer(new Uint8Array(5)), SyntaxError);
  });
});

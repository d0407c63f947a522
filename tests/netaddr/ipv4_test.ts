// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  formatIpv4,
  ipv4FromBytes,
  ipv4ToBytes,
  isIpv4,
  parseIpv4,
} from "../../lib/netaddr/mod.ts";

Deno.test("parseIpv4() reads dotted quads and rejects everything else", async (t) => {
  const rows: [string, number | null, number | null][] = [
    // text, lenient, strict
    ["0.0.0.0", 0, 0],
    ["9.251.0.1", 0x09fb0001, 0x09fb0001],
    ["255.255.255.255", 0xffffffff, 0xffffffff],
    ["010.0.0.1", 0x0a000001, null],
    ["00.0.0.0", 0, null],
    ["256.0.0.1", null, null],
    ["1.2.3", null, null],
    ["1.2.3.4.5", null, null],
    ["1.2.3.", null, null],
    ["1.2.3.-4", null, null],
    ["1.2.3.1000", null, null],
    [" 1.2.3.4", null, null],
    ["1.2.3.4 ", null, null],
    ["0x1.2.3.4", null, null],
    ["::1", null, null],
    ["", null, null],
  ];
  for (const [text, lenient, strict] of rows) {
    await t.step(JSON.stringify(text), () => {
      assert.equal(parseIpv4(text), lenient);
      assert.equal(parseIpv4(text, { strict: true }), strict);
      assert.equal(isIpv4(text), lenient !== null);
    });
  }
});

Deno.test("formatIpv4() and ipv4ToBytes() invert parseIpv4()", async (t) => {
  for (const text of ["0.0.0.0", "9.251.0.1", "127.0.0.1", "255.255.255.255", "10.96.8.0"]) {
    await t.step(text, () => {
      const n = parseIpv4(text)!;
      assert.equal(formatIpv4(n), text);
      assert.deepEqual([...ipv4ToBytes(n)], text.split(".").map(Number));
      assert.equal(ipv4FromBytes(ipv4ToBytes(n)), n);
    });
  }
  assert.equal(formatIpv4(2 ** 32), "0.0.0.0", "wraps like a 32-bit register");
});

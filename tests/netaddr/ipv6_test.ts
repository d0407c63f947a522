// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  formatIp,
  formatIpv6,
  ipv6ToBytes,
  isIpv6,
  parseIp,
  parseIpv6,
} from "../../lib/netaddr/mod.ts";

Deno.test("parseIpv6() reads the RFC 4291 text forms", async (t) => {
  const ok: [string, number[]][] = [
    ["::", [0, 0, 0, 0, 0, 0, 0, 0]],
    ["::1", [0, 0, 0, 0, 0, 0, 0, 1]],
    ["fd00::", [0xfd00, 0, 0, 0, 0, 0, 0, 0]],
    ["FE80::1:2", [0xfe80, 0, 0, 0, 0, 0, 1, 2]],
    ["1:2:3:4:5:6:7:8", [1, 2, 3, 4, 5, 6, 7, 8]],
    ["1:2:3:4:5:6:7::", [1, 2, 3, 4, 5, 6, 7, 0]],
    ["::ffff:192.0.2.1", [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]],
    ["1:2:3:4:5:6:1.2.3.4", [1, 2, 3, 4, 5, 6, 0x0102, 0x0304]],
  ];
  for (const [text, groups] of ok) {
    await t.step(text, () => assert.deepEqual(parseIpv6(text), groups));
  }
  const bad = [
    "",
    ":",
    ":::",
    "1::2::3",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "1::2:3:4:5:6:7:8",
    "12345::",
    "g::1",
    "::1%eth0",
    "[::1]",
    "1.2.3.4",
    "1.2.3.4::",
    "::ffff:192.0.2.01",
    "::1.2.3.4:5",
  ];
  for (const text of bad) {
    await t.step(`rejects ${JSON.stringify(text)}`, () => assert.equal(isIpv6(text), false));
  }
  await t.step("embeddedIpv4: false refuses a dotted tail", () => {
    assert.equal(parseIpv6("::ffff:192.0.2.1", { embeddedIpv4: false }), null);
    assert.deepEqual(parseIpv6("::ffff:c000:201", { embeddedIpv4: false }), [
      0,
      0,
      0,
      0,
      0,
      0xffff,
      0xc000,
      0x201,
    ]);
  });
});

Deno.test("formatIpv6() writes the RFC 5952 canonical form", async (t) => {
  const rows: [string, string][] = [
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["FD00:0:0:0:0:0:0:0", "fd00::"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group stays
    ["2001:0db8:0:0:0:0:2:1", "2001:db8::2:1"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // the longest run wins
    ["::ffff:192.0.2.1", "::ffff:c000:201"],
  ];
  for (const [text, want] of rows) {
    await t.step(text, () => {
      assert.equal(formatIpv6(parseIpv6(text)!), want);
      assert.equal(formatIp(parseIp(text)!), want);
    });
  }
  assert.deepEqual(
    [...ipv6ToBytes(parseIpv6("fd00::102")!)],
    [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2],
  );
});

Deno.test("parseIp() types either family", () => {
  assert.deepEqual(parseIp("9.251.0.1"), { family: 4, address: 0x09fb0001 });
  assert.deepEqual(parseIp("::1"), { family: 6, groups: [0, 0, 0, 0, 0, 0, 0, 1] });
  assert.equal(parseIp("010.0.0.1", { strict: true }), null);
  assert.equal(parseIp("node-1"), null);
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** `lib/netaddr/ip.ts`: an IPv4-mapped IPv6 address read as its IPv4 address. */
import assert from "node:assert/strict";
import { formatIp, parseIp, unmapIpv4 } from "../../lib/netaddr/mod.ts";

Deno.test("unmapIpv4() reads ::ffff:a.b.c.d as a.b.c.d and leaves every other address alone", async (t) => {
  const cases: [text: string, unmapped: string][] = [
    ["::ffff:10.1.2.3", "10.1.2.3"],
    ["::FFFF:a01:203", "10.1.2.3"], // the same in hex groups
    ["::ffff:255.255.255.255", "255.255.255.255"],
    ["10.1.2.3", "10.1.2.3"],
    ["::10.1.2.3", "::a01:203"], // IPv4-compatible (deprecated): not mapped
    ["64:ff9b::10.1.2.3", "64:ff9b::a01:203"], // NAT64: not mapped
    ["::1", "::1"],
    ["fd00::ffff:a01:203", "fd00::ffff:a01:203"],
  ];
  for (const [text, unmapped] of cases) {
    await t.step(`${text} → ${unmapped}`, () => {
      assert.equal(formatIp(unmapIpv4(parseIp(text)!)), unmapped);
    });
  }
});

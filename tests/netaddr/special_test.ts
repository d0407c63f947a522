// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { specialIpKind, specialIpProblem } from "../../lib/netaddr/mod.ts";

Deno.test("specialIpKind() finds the addresses Kubernetes refuses as endpoints, v4 and v6", async (t) => {
  /** Each row: the address, then its kind (null: an ordinary address, may be an endpoint). */
  const rows: [string, string | null][] = [
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["::ffff:0.0.0.0", "unspecified"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"], // IPv4-mapped: Go's To4() reads it as IPv4
    ["169.254.0.1", "link-local"],
    ["169.254.169.254", "link-local"], // cloud metadata services
    ["fe80::1", "link-local"],
    ["febf:ffff::1", "link-local"],
    ["::ffff:169.254.1.1", "link-local"],
    ["224.0.0.1", "link-local multicast"],
    ["224.0.0.255", "link-local multicast"],
    ["ff02::1", "link-local multicast"],
    ["ff12::1:2", "link-local multicast"], // same scope, transient flag
    // Ordinary addresses, and special ones Kubernetes accepts.
    ["10.0.0.1", null],
    ["9.251.0.2", null],
    ["1.0.0.0", null],
    ["0.0.0.1", null],
    ["126.255.255.255", null],
    ["128.0.0.1", null],
    ["169.253.255.255", null],
    ["169.255.0.1", null],
    ["224.0.1.1", null], // multicast, but not link-local: Kubernetes accepts it
    ["239.1.2.3", null],
    ["255.255.255.255", null],
    ["2001:db8::1", null],
    ["fd00::1", null],
    ["fec0::1", null],
    ["::2", null],
    ["::127.0.0.1", null], // IPv4-compatible, not mapped: Go does not read it as IPv4
    ["ff05::2", null],
    ["not an address", null],
  ];
  for (const [ip, want] of rows) {
    await t.step(ip, () => assert.equal(specialIpKind(ip), want));
  }
});

Deno.test("specialIpProblem() says why in Kubernetes' words", async (t) => {
  const rows: [string, string | null][] = [
    ["0.0.0.0", '"0.0.0.0" may not be unspecified (0.0.0.0, ::)'],
    ["::1", '"::1" may not be in the loopback range (127.0.0.0/8, ::1/128)'],
    ["fe80::1", '"fe80::1" may not be in the link-local range (169.254.0.0/16, fe80::/10)'],
    [
      "224.0.0.5",
      '"224.0.0.5" may not be in the link-local multicast range (224.0.0.0/24, ffx2::/16)',
    ],
    ["10.1.2.3", null],
  ];
  for (const [ip, want] of rows) {
    await t.step(ip, () => assert.equal(specialIpProblem(ip), want));
  }
});

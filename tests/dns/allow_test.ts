// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { AllowList, DEFAULT_DNS_ALLOW_FROM, parseCidr } from "../../lib/dns/mod.ts";

Deno.test("AllowList with the default dnsAllowFrom", async (t) => {
  const allow = new AllowList(DEFAULT_DNS_ALLOW_FROM, { nodeAddresses: () => ["203.0.113.7"] });
  const cases: [string, boolean][] = [
    ["127.0.0.1", true],
    ["127.9.9.9", true],
    ["::1", true],
    ["::ffff:127.0.0.1", true],
    ["10.1.2.3", true],
    ["172.16.0.1", true],
    ["172.31.255.255", true],
    ["172.32.0.1", false],
    ["192.168.7.7", true],
    ["100.64.0.1", true],
    ["100.128.0.1", false],
    ["203.0.113.7", true],
    ["203.0.113.8", false],
    ["8.8.8.8", false],
    ["fd12::1", true],
    ["2001:db8::1", false],
    ["not-an-ip", false],
  ];
  for (const [ip, want] of cases) {
    await t.step(`${ip} → ${want}`, () => assert.equal(allow.allows(ip), want));
  }
});

Deno.test("AllowList.refresh() re-reads the node's addresses", () => {
  let addrs = ["198.51.100.1"];
  const allow = new AllowList(["node"], { nodeAddresses: () => addrs });
  assert.equal(allow.allows("198.51.100.1"), true);
  addrs = ["198.51.100.2"];
  allow.refresh();
  assert.equal(allow.allows("198.51.100.1"), false);
  assert.equal(allow.allows("198.51.100.2"), true);
});

Deno.test("AllowList.refresh() says whether the node's addresses changed", () => {
  let addrs = ["198.51.100.1", "9.251.0.1"];
  const allow = new AllowList(["10.0.0.0/8", "node"], { nodeAddresses: () => addrs });
  assert.equal(allow.followsNode, true);
  const steps: [string, readonly string[], boolean, string, boolean][] = [
    ["the same addresses", ["198.51.100.1", "9.251.0.1"], false, "198.51.100.1", true],
    [
      "the same, listed in another order",
      ["9.251.0.1", "198.51.100.1"],
      false,
      "198.51.100.1",
      true,
    ],
    ["a new lease", ["9.251.0.1", "198.51.100.2"], true, "198.51.100.2", true],
    ["the old address is gone", ["9.251.0.1", "198.51.100.2"], false, "198.51.100.1", false],
  ];
  for (const [what, next, changed, client, allowed] of steps) {
    addrs = [...next];
    assert.equal(allow.refresh(), changed, what);
    assert.equal(allow.allows(client), allowed, `${what}: ${client}`);
  }
  const fixed = new AllowList(["10.0.0.0/8"], { nodeAddresses: () => addrs });
  assert.equal(fixed.followsNode, false);
  assert.equal(fixed.refresh(), false);
});

Deno.test("parseCidr() rejects bad entries with a clear message", () => {
  assert.throws(
    () => parseCidr("10.0.0.0/33"),
    /Cannot parse dnsAllowFrom entry "10\.0\.0\.0\/33"/,
  );
  assert.throws(() => parseCidr("example.com"), TypeError);
  assert.throws(() => new AllowList(["10.0.0.0/8", "nope"]), TypeError);
  assert.deepEqual(parseCidr("0.0.0.0/0"), { v: 4, addr: 0, bits: 0 });
});

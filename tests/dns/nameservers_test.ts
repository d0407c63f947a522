// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  nameserverProblem,
  parseHostPort,
  parseResolvConf,
  type Upstream,
  upstreamsFromResolvConf,
} from "../../lib/dns/mod.ts";

Deno.test("parseResolvConf() returns nameserver lines in order", () => {
  const text = [
    "# comment",
    "search example.org",
    "nameserver 10.0.0.2 # trailing comment",
    "; other comment",
    "nameserver   fd00::53",
    "options ndots:5",
    "nameserver 127.0.0.53",
    "nameserverx 1.1.1.1",
  ].join("\n");
  assert.deepEqual(parseResolvConf(text), ["10.0.0.2", "fd00::53", "127.0.0.53"]);
});

Deno.test("upstreamsFromResolvConf() excludes our own listen addresses", () => {
  const text = "nameserver 9.251.0.1\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n";
  assert.deepEqual(upstreamsFromResolvConf(text, [{ hostname: "9.251.0.1", port: 53 }]), [
    { hostname: "127.0.0.53", port: 53 },
    { hostname: "10.0.0.2", port: 53 },
  ]);
  // Listening on the wildcard address on port 53 makes every loopback nameserver ourselves.
  assert.deepEqual(upstreamsFromResolvConf(text, [{ hostname: "0.0.0.0", port: 53 }]), [
    { hostname: "9.251.0.1", port: 53 },
    { hostname: "10.0.0.2", port: 53 },
  ]);
  // A different port is not us.
  assert.equal(upstreamsFromResolvConf(text, [{ hostname: "9.251.0.1", port: 5353 }]).length, 3);
});

Deno.test("parseHostPort() accepts host, host:port and [v6]:port", async (t) => {
  const ok: [string, Upstream][] = [
    ["10.0.0.1", { hostname: "10.0.0.1", port: 53 }],
    ["10.0.0.1:5353", { hostname: "10.0.0.1", port: 5353 }],
    ["[fd00::1]:53", { hostname: "fd00::1", port: 53 }],
    ["fd00::1", { hostname: "fd00::1", port: 53 }],
    ["127.0.0.1:0", { hostname: "127.0.0.1", port: 0 }],
  ];
  for (const [text, want] of ok) {
    await t.step(text, () => assert.deepEqual(parseHostPort(text), want));
  }
  for (const bad of ["", "10.0.0.1:x", "10.0.0.1:70000", "a b:53"]) {
    await t.step(`rejects "${bad}"`, () => assert.throws(() => parseHostPort(bad), TypeError));
  }
});

Deno.test("nameserverProblem() says which nameserver values cannot be used, as glibc reads them", async (t) => {
  const ifs = ["lo", "eth0"];
  const rows: [string, { reason: RegExp; unusable: boolean } | null][] = [
    ["10.0.0.2", null],
    ["2001:db8::53", null],
    ["fe80::1%eth0", null], // as routers announce resolvers (RA, DHCPv6)
    ["fe80::1%2", null], // an interface index
    ["::1%1", null],
    ["fe80::1", null],
    ["dns.example", { reason: /not an IP address .*glibc skips it too/, unusable: true }],
    ["10.0.0.2%eth0", { reason: /zone index is for IPv6/, unusable: true }],
    ["::1%lo", { reason: /names an interface, which only a link-local address/, unusable: true }],
    ["2001:db8::53%eth0", { reason: /only a link-local address \(fe80::\/10\)/, unusable: true }],
    ["fe80::1%wlan0", { reason: /no interface "wlan0" \(yet\)/, unusable: false }],
  ];
  for (const [ns, want] of rows) {
    await t.step(ns, () => {
      const got = nameserverProblem(ns, ifs);
      if (want === null) return assert.equal(got, null);
      assert.ok(got !== null);
      assert.equal(got.nameserver, ns);
      assert.match(got.reason, want.reason);
      assert.equal(got.unusable, want.unusable);
    });
  }
  await t.step("interfaces unknown: no interface check", () => {
    assert.equal(nameserverProblem("fe80::1%wlan0", null), null);
  });
});

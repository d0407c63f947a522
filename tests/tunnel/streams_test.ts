// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { authorizeStream, type StreamTarget } from "../../lib/tunnel/mod.ts";
import { snapshotOf } from "./_fixtures.ts";

Deno.test("authorizeStream() allows only ready or serving-terminating endpoints of the service on this node", async (t) => {
  const snap = snapshotOf([{
    namespace: "default",
    name: "echo",
    port: 80,
    endpoints: [
      { ip: "10.0.0.1", port: 8080, nodeName: "b" },
      { ip: "10.0.0.2", port: 8080, nodeName: "c" },
      { ip: "10.0.0.3", port: 8080, nodeName: "b", ready: false },
      { ip: "10.0.0.4", port: 8080, nodeName: null },
      { ip: "10.0.0.5", port: 8080, nodeName: "b", ready: false, terminating: { serving: true } },
      { ip: "10.0.0.6", port: 8080, nodeName: "b", ready: false, terminating: { serving: false } },
    ],
  }]);
  const base: StreamTarget = {
    source: "a",
    namespace: "default",
    service: "echo",
    port: 80,
    endpointIp: "10.0.0.1",
    endpointPort: 8080,
  };
  const rows: { name: string; t: Partial<StreamTarget>; want: string }[] = [
    { name: "local ready endpoint", t: {}, want: "ok" },
    { name: "unknown service", t: { service: "nope" }, want: "unknown-service" },
    { name: "unknown namespace", t: { namespace: "other" }, want: "unknown-service" },
    { name: "unknown service port", t: { port: 81 }, want: "unknown-service" },
    { name: "endpoint on another node", t: { endpointIp: "10.0.0.2" }, want: "endpoint-not-local" },
    { name: "not-ready endpoint", t: { endpointIp: "10.0.0.3" }, want: "endpoint-not-local" },
    // A peer's proxy falls back to it when the service has no ready endpoint (KEP-1669).
    { name: "serving-terminating endpoint", t: { endpointIp: "10.0.0.5" }, want: "ok" },
    {
      name: "terminating endpoint no longer serving",
      t: { endpointIp: "10.0.0.6" },
      want: "endpoint-not-local",
    },
    { name: "endpoint of unknown node", t: { endpointIp: "10.0.0.4" }, want: "endpoint-not-local" },
    { name: "wrong endpoint port", t: { endpointPort: 22 }, want: "endpoint-not-local" },
    { name: "arbitrary address", t: { endpointIp: "127.0.0.1" }, want: "endpoint-not-local" },
  ];
  for (const r of rows) {
    await t.step(r.name, () => {
      const a = authorizeStream(snap, "b", { ...base, ...r.t });
      assert.equal(a.ok ? "ok" : a.reason, r.want);
      if (a.ok) {
        const ip = r.t.endpointIp ?? "10.0.0.1";
        assert.deepEqual(a.backend, { ip, port: 8080, nodeName: "b" });
      }
    });
  }
});

Deno.test("authorizeStream() never serves loopback, unspecified or link-local endpoints, whatever the snapshot says", async (t) => {
  // State loaded from disk is cleaned at load, and incoming changes are refused; this is the
  // last line should such an endpoint reach a snapshot anyway (defence in depth).
  const special = ["127.0.0.1", "0.0.0.0", "169.254.169.254", "224.0.0.1", "::1", "fe80::1"];
  const snap = snapshotOf([{
    namespace: "default",
    name: "echo",
    port: 80,
    endpoints: [...special, "10.0.0.1"].map((ip) => ({ ip, port: 8080, nodeName: "b" })),
  }]);
  const target = (endpointIp: string): StreamTarget => ({
    source: "a",
    namespace: "default",
    service: "echo",
    port: 80,
    endpointIp,
    endpointPort: 8080,
  });
  const rows: { ip: string; detail: string | null; forTests?: boolean }[] = [
    {
      ip: "127.0.0.1",
      detail: 'endpoint "127.0.0.1" may not be in the loopback range (127.0.0.0/8, ::1/128): ' +
        "never served to peers",
    },
    {
      ip: "0.0.0.0",
      detail: 'endpoint "0.0.0.0" may not be unspecified (0.0.0.0, ::): never served to peers',
    },
    {
      ip: "169.254.169.254",
      detail: 'endpoint "169.254.169.254" may not be in the link-local range (169.254.0.0/16, ' +
        "fe80::/10): never served to peers",
    },
    {
      ip: "224.0.0.1",
      detail: 'endpoint "224.0.0.1" may not be in the link-local multicast range ' +
        "(224.0.0.0/24, ffx2::/16): never served to peers",
    },
    {
      ip: "::1",
      detail: 'endpoint "::1" may not be in the loopback range (127.0.0.0/8, ::1/128): never ' +
        "served to peers",
    },
    {
      ip: "fe80::1",
      detail: 'endpoint "fe80::1" may not be in the link-local range (169.254.0.0/16, ' +
        "fe80::/10): never served to peers",
    },
    { ip: "10.0.0.1", detail: null },
    // The test seam of single-host tests: loopback only, never the other kinds.
    { ip: "127.0.0.1", detail: null, forTests: true },
    {
      ip: "0.0.0.0",
      detail: 'endpoint "0.0.0.0" may not be unspecified (0.0.0.0, ::): never served to peers',
      forTests: true,
    },
  ];
  for (const r of rows) {
    await t.step(`${r.ip}${r.forTests ? " (loopbackEndpointsForTests)" : ""}`, () => {
      const a = authorizeStream(snap, "b", target(r.ip), {
        loopbackEndpointsForTests: r.forTests,
      });
      if (r.detail === null) return assert.equal(a.ok, true);
      assert.deepEqual(a, { ok: false, reason: "endpoint-not-local", detail: r.detail });
    });
  }
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { authorizeStream, type StreamTarget } from "../../lib/tunnel/mod.ts";
import { snapshotOf } from "./_fixtures.ts";

Deno.test("authorizeStream() allows only ready endpoints of the service on this node", async (t) => {
  const snap = snapshotOf([{
    namespace: "default",
    name: "echo",
    port: 80,
    endpoints: [
      { ip: "10.0.0.1", port: 8080, nodeName: "b" },
      { ip: "10.0.0.2", port: 8080, nodeName: "c" },
      { ip: "10.0.0.3", port: 8080, nodeName: "b", ready: false },
      { ip: "10.0.0.4", port: 8080, nodeName: null },
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
    { name: "endpoint of unknown node", t: { endpointIp: "10.0.0.4" }, want: "endpoint-not-local" },
    { name: "wrong endpoint port", t: { endpointPort: 22 }, want: "endpoint-not-local" },
    { name: "arbitrary address", t: { endpointIp: "127.0.0.1" }, want: "endpoint-not-local" },
  ];
  for (const r of rows) {
    await t.step(r.name, () => {
      const a = authorizeStream(snap, "b", { ...base, ...r.t });
      assert.equal(a.ok ? "ok" : a.reason, r.want);
      if (a.ok) assert.deepEqual(a.backend, { ip: "10.0.0.1", port: 8080, nodeName: "b" });
    });
  }
});

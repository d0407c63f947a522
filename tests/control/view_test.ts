// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { serviceView } from "../../lib/control/mod.ts";
import type { Service, ServiceEntry } from "../../lib/registry/mod.ts";

function entry(over: Partial<Service>, vip: string | null): ServiceEntry {
  return {
    service: {
      namespace: "default",
      name: "web",
      kind: { type: "ClusterIP" },
      ports: [{ name: "", protocol: "TCP", port: 80, targetPort: { kind: "number", port: 8080 } }],
      sessionAffinity: { type: "None" },
      ...over,
    },
    vip,
    endpoints: [],
    endpointSource: "none",
  };
}

Deno.test("serviceView() adds proxyName only for a service another proxy handles", async (t) => {
  const ports = [{ name: "", protocol: "TCP", port: 80, targetPort: 8080 }];
  const rows: [string, ServiceEntry, string][] = [
    [
      "edgemesh's: the documented fields only",
      entry({}, "9.251.0.2"),
      JSON.stringify({
        namespace: "default",
        name: "web",
        vip: "9.251.0.2",
        ports,
        endpoints: [],
      }),
    ],
    [
      "another proxy's: proxyName after vip",
      entry({ proxyName: "istio" }, null),
      JSON.stringify({
        namespace: "default",
        name: "web",
        vip: null,
        proxyName: "istio",
        ports,
        endpoints: [],
      }),
    ],
  ];
  rows.push([
    "no address in a full pool: vipError after vip",
    { ...entry({}, null), vipError: "Cannot allocate VIP: full" },
    JSON.stringify({
      namespace: "default",
      name: "web",
      vip: null,
      vipError: "Cannot allocate VIP: full",
      ports,
      endpoints: [],
    }),
  ]);
  for (const [name, e, json] of rows) {
    await t.step(name, () => assert.equal(JSON.stringify(serviceView(e)), json));
  }
});

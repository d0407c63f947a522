// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { serviceView } from "../../lib/control/mod.ts";
import type { Endpoint, ServiceEntry } from "../../lib/registry/mod.ts";

Deno.test("serviceView() shows endpoints as {ip, port, nodeName, ready}, terminating ones included", async (t) => {
  // `ctl get -o json` is a contract: the endpoint conditions recorded for the proxy's fallback
  // (terminating, serving) stay out of it; a serving-terminating endpoint is `ready: false`,
  // as its EndpointSlice says.
  const base = { nodeName: "edge-1", hostname: null, podName: null, ports: [] };
  const rows: [string, Endpoint, string][] = [
    [
      "ready",
      { ip: "10.0.0.1", ready: true, ...base },
      '{"ip":"10.0.0.1","port":8080,"nodeName":"edge-1","ready":true}',
    ],
    [
      "serving and terminating",
      { ip: "10.0.0.2", ready: false, terminating: true, serving: true, ...base },
      '{"ip":"10.0.0.2","port":8080,"nodeName":"edge-1","ready":false}',
    ],
  ];
  for (const [name, ep, want] of rows) {
    await t.step(name, () => {
      const entry: ServiceEntry = {
        service: {
          namespace: "default",
          name: "web",
          kind: { type: "ClusterIP" },
          ports: [{
            name: "",
            protocol: "TCP",
            port: 80,
            targetPort: { kind: "number", port: 8080 },
          }],
          sessionAffinity: { type: "None" },
          internalTrafficPolicy: "Local",
        },
        vip: "9.251.0.2",
        endpoints: [ep],
        endpointSource: "endpointslice",
      };
      const view = serviceView(entry);
      assert.deepEqual(view.endpoints.map((e) => JSON.stringify(e)), [want]);
      assert.deepEqual(Object.keys(view), ["namespace", "name", "vip", "ports", "endpoints"]);
    });
  }
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { sameZoneInputs } from "../../lib/agent/components.ts";
import type { Endpoint, Service, ServiceEntry, Snapshot } from "../../lib/registry/mod.ts";

function service(name: string, type: "ClusterIP" | "Headless" = "ClusterIP"): Service {
  return {
    namespace: "default",
    name,
    kind: { type },
    ports: [{
      name: "http",
      protocol: "TCP",
      port: 80,
      targetPort: { kind: "number", port: 8080 },
    }],
    sessionAffinity: { type: "None" },
  };
}

const ep = (ip: string): Endpoint => ({
  ip,
  ready: true,
  nodeName: null,
  hostname: null,
  podName: null,
  ports: [{ name: "http", port: 8080, protocol: "TCP" }],
});

function snap(version: number, entries: ServiceEntry[]): Snapshot {
  return {
    version,
    services: new Map(entries.map((e) => [`${e.service.namespace}/${e.service.name}`, e])),
    nodes: new Map(),
    vips: new Map(),
  };
}

Deno.test("sameZoneInputs() skips only changes the DNS zone does not read", async (t) => {
  const web = service("web");
  const db = service("db", "Headless");
  const base: ServiceEntry = {
    service: web,
    vip: "9.251.0.2",
    endpoints: [ep("10.0.0.1")],
    endpointSource: "endpoints",
  };
  const headless: ServiceEntry = {
    service: db,
    vip: null,
    endpoints: [ep("10.0.0.5")],
    endpointSource: "endpoints",
  };
  const prev = snap(1, [base, headless]);
  const cases: [string, Snapshot, boolean][] = [
    ["same entries", snap(2, [base, headless]), true],
    ["ClusterIP endpoints changed", snap(2, [{ ...base, endpoints: [] }, headless]), true],
    ["headless endpoints changed", snap(2, [base, { ...headless, endpoints: [] }]), false],
    ["VIP changed", snap(2, [{ ...base, vip: "9.251.0.3" }, headless]), false],
    ["service object replaced", snap(2, [{ ...base, service: service("web") }, headless]), false],
    ["service added", snap(2, [base, headless, { ...base, service: service("x") }]), false],
    ["service removed", snap(2, [base]), false],
  ];
  for (const [name, next, same] of cases) {
    await t.step(name, () => assert.equal(sameZoneInputs(prev, next), same));
  }
});

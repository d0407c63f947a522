// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  netdevComponent,
  sameZoneInputs,
  threadsDetail,
  unboundDetail,
} from "../../lib/agent/components.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { NetDev } from "../../lib/netdev/mod.ts";
import { fakeIp } from "../_helpers/fake_ip.ts";
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
    vips: new Map(
      entries.flatMap((e) => e.vip === null ? [] : [[e.vip, `default/${e.service.name}`]]),
    ),
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

Deno.test("netdevComponent() skips unchanged VIP sets, but a resync pass repairs the device", async () => {
  const ip = fakeIp();
  const netdev = new NetDev({
    device: "edge0",
    deviceType: "auto",
    subnet: "127.77.0.0/24",
    keepDeviceOnExit: false,
    exec: ip,
    log: nullLogger,
  });
  await netdev.ensure();
  const c = netdevComponent(netdev, new Set(["127.77.0.1"]));
  const entry = {
    service: service("web"),
    vip: "127.77.0.2",
    endpoints: [],
    endpointSource: "none",
  } as const;
  await c.update(snap(1, [entry]), { resync: false });
  const addrs = () => [...ip.links.get("edge0")!.addresses].sort();
  assert.deepEqual(addrs(), ["127.77.0.1", "127.77.0.2"]);

  ip.links.get("edge0")!.addresses.delete("127.77.0.2"); // removed behind our back
  const calls = ip.calls.length;
  await c.update(snap(2, [entry]), { resync: false });
  assert.equal(ip.calls.length, calls, "same VIP set: no ip command");
  assert.deepEqual(addrs(), ["127.77.0.1"]);

  await c.update(snap(2, [entry]), { resync: true });
  assert.deepEqual(addrs(), ["127.77.0.1", "127.77.0.2"]);
  await c.close();
  assert.equal(ip.links.has("edge0"), false);
});

Deno.test("threadsDetail() says how many proxy threads run", () => {
  const rows: [number, boolean | undefined, string][] = [
    [1, undefined, "1 thread"],
    [2, true, "2 threads"],
    [4, false, "1 of 4 threads (the others start when busy)"],
    [2, undefined, "2 threads"],
  ];
  for (const [threads, started, want] of rows) assert.equal(threadsDetail(threads, started), want);
});

Deno.test("unboundDetail() says which listeners failed to bind, for ctl status", async (t) => {
  const ok = { vip: "9.251.0.2", port: 80, bound: true, error: null };
  const busy = { vip: "9.251.0.14", port: 80, bound: false, error: "Address in use (os error 98)" };
  const rows: [string, (typeof ok | typeof busy)[], string][] = [
    ["all bound", [ok, ok], ""],
    ["none", [], ""],
    [
      "one failed",
      [ok, busy],
      "; 1 of 2 listeners not bound: 9.251.0.14:80 (Address in use (os error 98))",
    ],
    [
      "two failed",
      [busy, { ...busy, port: 81 }, ok],
      "; 2 of 3 listeners not bound: 9.251.0.14:80 (Address in use (os error 98)), +1 more",
    ],
  ];
  for (const [name, listeners, want] of rows) {
    await t.step(name, () => assert.equal(unboundDetail(listeners), want));
  }
});

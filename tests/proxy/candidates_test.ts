// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { candidatesFor } from "../../lib/proxy/mod.ts";
import type { ToWorker } from "../../lib/proxy/thread_messages.ts";
import type { InternalTrafficPolicy } from "../../lib/registry/model.ts";
import { snapshotOf, type TestService } from "../_helpers/proxy_fixtures.ts";

/** This node, as the proxy is given it (`nodeName`). */
const NODE = "node-a";

type Ep = TestService["endpoints"][number];
/** Endpoint `10.0.0.<n>` serving port "" at 80. */
const ready = (n: number, nodeName: string | null = NODE): Ep => ({
  ip: `10.0.0.${n}`,
  nodeName,
  ports: { "": 80 },
});
const notReady = (n: number, nodeName: string | null = NODE): Ep => ({
  ...ready(n, nodeName),
  ready: false,
});
/** Terminating and still passing its readiness probe (`serving: true`, `ready: false`). */
const servingTerminating = (n: number, nodeName: string | null = NODE): Ep => ({
  ...ready(n, nodeName),
  terminating: { serving: true },
});
/** Terminating and no longer serving: never used. */
const stoppedTerminating = (n: number, nodeName: string | null = NODE): Ep => ({
  ...ready(n, nodeName),
  terminating: { serving: false },
});

function entryOf(endpoints: Ep[], policy?: InternalTrafficPolicy) {
  const snap = snapshotOf({
    name: "web",
    vip: "9.251.0.2",
    ports: [{ name: "", port: 80 }],
    endpoints,
    ...(policy ? { internalTrafficPolicy: policy } : {}),
  });
  const entry = snap.services.get("default/web")!;
  return { snap, entry, port: entry.service.ports[0]! };
}

Deno.test("candidatesFor() picks ready endpoints, else serving-terminating ones, within the traffic policy", async (t) => {
  /** Each row: endpoints, policy (undefined: Cluster), expected kind and IPs (or reason). */
  const rows: {
    name: string;
    endpoints: Ep[];
    policy?: InternalTrafficPolicy;
    want: string;
  }[] = [
    { name: "ready endpoints", endpoints: [ready(1), ready(2, "node-b")], want: "ready 1,2" },
    {
      name: "ready ones win over serving-terminating ones",
      endpoints: [servingTerminating(1), ready(2, "node-b"), notReady(3)],
      want: "ready 2",
    },
    {
      name: "no ready endpoint: serving-terminating ones (1-replica rolling update)",
      endpoints: [servingTerminating(1), notReady(2), servingTerminating(3, "node-b")],
      want: "terminating 1,3",
    },
    {
      name: "terminating endpoints no longer serving are never used",
      endpoints: [stoppedTerminating(1), notReady(2)],
      want: "none no-endpoints",
    },
    { name: "no endpoints", endpoints: [], want: "none no-endpoints" },
    {
      name: "explicit Cluster is the default",
      endpoints: [ready(1, "node-b"), ready(2, null)],
      policy: "Cluster",
      want: "ready 1,2",
    },
    {
      name: "Local: only this node's ready endpoints",
      endpoints: [ready(1, "node-b"), ready(2), ready(3, null), ready(4)],
      policy: "Local",
      want: "ready 2,4",
    },
    {
      name: "Local: an endpoint of unknown node is not local",
      endpoints: [ready(1, null)],
      policy: "Local",
      want: "none no-local-endpoints",
    },
    {
      name: "Local with endpoints only elsewhere: rejected",
      endpoints: [ready(1, "node-b"), servingTerminating(2, "node-c")],
      policy: "Local",
      want: "none no-local-endpoints",
    },
    {
      name: "Local: the fallback is decided within the local set (a remote ready one is not used)",
      endpoints: [ready(1, "node-b"), servingTerminating(2), notReady(3)],
      policy: "Local",
      want: "terminating 2",
    },
    {
      name: "Local: local ready ones win over local serving-terminating ones",
      endpoints: [servingTerminating(1), ready(2)],
      policy: "Local",
      want: "ready 2",
    },
    {
      name: "Local with nothing usable anywhere: no endpoints",
      endpoints: [notReady(1), stoppedTerminating(2, "node-b")],
      policy: "Local",
      want: "none no-endpoints",
    },
  ];
  for (const r of rows) {
    await t.step(r.name, () => {
      const { entry, port } = entryOf(r.endpoints, r.policy);
      const c = candidatesFor(entry, port, NODE);
      const got = c.kind === "none"
        ? `none ${c.reason}`
        : `${c.kind} ${c.backends.map((b) => b.ip.split(".")[3]).join(",")}`;
      assert.equal(got, r.want);
      if (c.kind === "none") assert.equal(c.backends.length, 0);
      for (const b of c.backends) assert.equal(b.port, 80);
    });
  }
});

Deno.test("candidatesFor() skips endpoints that serve none of the port", () => {
  const snap = snapshotOf({
    name: "web",
    vip: "9.251.0.2",
    ports: [{ name: "http", port: 80 }],
    endpoints: [
      { ip: "10.0.0.1", ports: { http: 8080 } },
      // Ready but without the port: the fallback still applies to the port's endpoints.
      { ip: "10.0.0.2", ports: { metrics: 9100 } },
    ],
  });
  const entry = snap.services.get("default/web")!;
  assert.deepEqual(candidatesFor(entry, entry.service.ports[0]!, NODE), {
    kind: "ready",
    backends: [{ ip: "10.0.0.1", port: 8080, nodeName: null }],
  });
  const terminating = snapshotOf({
    name: "web",
    vip: "9.251.0.2",
    ports: [{ name: "http", port: 80 }],
    endpoints: [
      { ip: "10.0.0.1", ports: { http: 8080 }, terminating: { serving: true } },
      { ip: "10.0.0.2", ports: { metrics: 9100 } },
    ],
  }).services.get("default/web")!;
  assert.deepEqual(candidatesFor(terminating, terminating.service.ports[0]!, NODE), {
    kind: "terminating",
    backends: [{ ip: "10.0.0.1", port: 8080, nodeName: null }],
  });
});

Deno.test("a snapshot sent to a proxy worker keeps the endpoint conditions and the traffic policy", () => {
  // Workers get snapshots by postMessage (structured clone, ./thread_messages.ts): the
  // optional fields must survive it, or workers would not fall back or filter.
  const { snap } = entryOf([servingTerminating(1), ready(2, "node-b")], "Local");
  const msg: ToWorker = { type: "update", seq: 1, gen: 1, snapshot: snap, slots: [] };
  const cloned = structuredClone(msg);
  assert.equal(cloned.type, "update");
  if (cloned.type !== "update") return;
  const entry = cloned.snapshot.services.get("default/web")!;
  assert.equal(entry.service.internalTrafficPolicy, "Local");
  assert.deepEqual(
    entry.endpoints.map((e) => [e.ip, e.ready, e.terminating, e.serving]),
    [["10.0.0.1", false, true, true], ["10.0.0.2", true, undefined, undefined]],
  );
  const c = candidatesFor(entry, entry.service.ports[0]!, NODE);
  assert.deepEqual([c.kind, c.backends.map((b) => b.ip)], ["terminating", ["10.0.0.1"]]);
});

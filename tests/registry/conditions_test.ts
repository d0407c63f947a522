// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Conversion of what decides which endpoints carry traffic: EndpointSlice `conditions`
 * (ready, serving, terminating: KEP-1672/KEP-1669), pods being deleted, and the Service fields
 * `internalTrafficPolicy` and `publishNotReadyAddresses`.
 */
import assert from "node:assert/strict";
import {
  convertChange,
  type Endpoint,
  isServingTerminating,
  isUsable,
  podEndpoints,
  type PodRecord,
  type ResourceChange,
  type Service,
} from "../../lib/registry/mod.ts";

function change(type: ResourceChange["type"], name: string, content: unknown): ResourceChange {
  return { operation: "insert", namespace: "default", type, name, content };
}

/** The endpoints of a one-endpoint IPv4 slice of service `web` with `conditions`. */
function sliceEndpoints(conditions: unknown): readonly Endpoint[] {
  const c = convertChange(change("endpointslice", "web-1", {
    metadata: { name: "web-1", labels: { "kubernetes.io/service-name": "web" } },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080 }],
    endpoints: [{
      addresses: ["10.0.0.1"],
      ...(conditions === undefined ? {} : { conditions }),
      nodeName: "edge-1",
    }],
  }));
  assert.equal(c.type, "endpointslice");
  if (c.type !== "endpointslice" || !c.slice) throw new assert.AssertionError({ message: "slice" });
  return c.slice.endpoints;
}

Deno.test("convertChange() records EndpointSlice conditions with the API's defaults for nil", async (t) => {
  /** Each row: `conditions` as sent, the model's fields, whether the fallback may use it. */
  const rows: {
    name: string;
    conditions: unknown;
    want: Pick<Endpoint, "ready" | "terminating" | "serving">;
    fallback: boolean;
  }[] = [
    { name: "no conditions: ready", conditions: undefined, want: { ready: true }, fallback: false },
    { name: "empty conditions: ready", conditions: {}, want: { ready: true }, fallback: false },
    {
      name: "ready, serving, not terminating (the controller's ready pod)",
      conditions: { ready: true, serving: true, terminating: false },
      want: { ready: true },
      fallback: false,
    },
    {
      name: "not ready, not serving, not terminating (starting pod)",
      conditions: { ready: false, serving: false, terminating: false },
      want: { ready: false },
      fallback: false,
    },
    {
      name: "serving and terminating (pod being deleted, still passing its probe)",
      conditions: { ready: false, serving: true, terminating: true },
      want: { ready: false, terminating: true, serving: true },
      fallback: true,
    },
    {
      name: "terminating, serving nil: nil serving is true",
      conditions: { ready: false, terminating: true },
      want: { ready: false, terminating: true, serving: true },
      fallback: true,
    },
    {
      name: "terminating and no longer serving",
      conditions: { ready: false, serving: false, terminating: true },
      want: { ready: false, terminating: true, serving: false },
      fallback: false,
    },
    {
      name: "ready and terminating (publishNotReadyAddresses): ready, not a fallback",
      conditions: { ready: true, serving: true, terminating: true },
      want: { ready: true, terminating: true, serving: true },
      fallback: false,
    },
    {
      name: "null values are nil",
      conditions: { ready: null, serving: null, terminating: null },
      want: { ready: true },
      fallback: false,
    },
  ];
  for (const r of rows) {
    await t.step(r.name, () => {
      const [ep, ...more] = sliceEndpoints(r.conditions);
      assert.equal(more.length, 0);
      assert.deepEqual(ep, {
        ip: "10.0.0.1",
        ...r.want,
        nodeName: "edge-1",
        hostname: null,
        podName: null,
        ports: [{ name: "http", port: 8080, protocol: "TCP" }],
      });
      assert.equal(isServingTerminating(ep!), r.fallback);
      assert.equal(isUsable(ep!), r.want.ready || r.fallback);
    });
  }
});

Deno.test("convertChange() refuses EndpointSlice conditions that are not booleans", async (t) => {
  for (const field of ["ready", "serving", "terminating"]) {
    await t.step(field, () => {
      assert.throws(
        () => sliceEndpoints({ [field]: "yes" }),
        (e: Error) =>
          e instanceof TypeError &&
          e.message ===
            `Cannot apply "default/endpointslice/web-1": endpoints[0].conditions.${field} "yes" is not a boolean`,
      );
    });
  }
});

/** Service `web` with `spec` added to one port. */
function serviceOf(spec: Record<string, unknown>): Service {
  const c = convertChange(change("service", "web", {
    metadata: { name: "web" },
    spec: { ports: [{ port: 80 }], ...spec },
  }));
  if (c.type !== "service" || !c.record) throw new assert.AssertionError({ message: "service" });
  return c.record.service;
}

Deno.test("convertChange() reads internalTrafficPolicy and publishNotReadyAddresses of a Service", async (t) => {
  /** Each row: spec fields, the model's fields (absent ones are the defaults), or the error. */
  const rows: {
    name: string;
    spec: Record<string, unknown>;
    want: Partial<Service> | { error: RegExp; class: typeof TypeError | typeof RangeError };
  }[] = [
    { name: "absent: Cluster, not publishing", spec: {}, want: {} },
    {
      name: "Cluster is the default (not recorded)",
      spec: { internalTrafficPolicy: "Cluster" },
      want: {},
    },
    { name: "null is the default", spec: { internalTrafficPolicy: null }, want: {} },
    { name: "empty is the default", spec: { internalTrafficPolicy: "" }, want: {} },
    {
      name: "Local",
      spec: { internalTrafficPolicy: "Local" },
      want: { internalTrafficPolicy: "Local" },
    },
    {
      name: "an unknown policy is refused (the API server refuses it)",
      spec: { internalTrafficPolicy: "local" },
      want: {
        error: /spec\.internalTrafficPolicy "local" is not one of Cluster, Local$/,
        class: RangeError,
      },
    },
    {
      name: "publishNotReadyAddresses true",
      spec: { publishNotReadyAddresses: true },
      want: { publishNotReadyAddresses: true },
    },
    { name: "publishNotReadyAddresses false", spec: { publishNotReadyAddresses: false }, want: {} },
    {
      name: "publishNotReadyAddresses not a boolean",
      spec: { publishNotReadyAddresses: "true" },
      want: { error: /spec\.publishNotReadyAddresses "true" is not a boolean$/, class: TypeError },
    },
  ];
  for (const r of rows) {
    await t.step(r.name, () => {
      const want = r.want;
      if ("error" in want) {
        assert.throws(() => serviceOf(r.spec), (e: Error) => {
          assert.ok(e instanceof want.class, `${e.name}: ${e.message}`);
          assert.match(e.message, want.error);
          return true;
        });
        return;
      }
      const s = serviceOf(r.spec);
      assert.equal(s.internalTrafficPolicy, want.internalTrafficPolicy);
      assert.equal(s.publishNotReadyAddresses, want.publishNotReadyAddresses);
      // Defaults are not written, so records (and state files) of such services do not change.
      assert.equal("internalTrafficPolicy" in s, want.internalTrafficPolicy !== undefined);
      assert.equal("publishNotReadyAddresses" in s, want.publishNotReadyAddresses !== undefined);
    });
  }
});

/** Pod `web-1` on `edge-1`, Running at 10.0.0.9, with the Ready condition and metadata given. */
function podOf(ready: boolean, metadata: Record<string, unknown> = {}): PodRecord {
  const c = convertChange(change("pod", "web-1", {
    metadata: { name: "web-1", labels: { app: "web" }, ...metadata },
    spec: { nodeName: "edge-1", containers: [{ ports: [{ name: "http", containerPort: 8080 }] }] },
    status: {
      phase: "Running",
      podIP: "10.0.0.9",
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
    },
  }));
  if (c.type !== "pod" || !c.pod) throw new assert.AssertionError({ message: "pod" });
  return c.pod;
}

Deno.test("podEndpoints() gives pods the EndpointSlice controller's conditions", async (t) => {
  const DELETING = { deletionTimestamp: "2026-01-01T00:00:00Z", deletionGracePeriodSeconds: 30 };
  /** Each row: pod readiness, deletion, publishNotReadyAddresses, the endpoint's conditions. */
  const rows: {
    name: string;
    ready: boolean;
    deleting: boolean;
    publish?: boolean;
    want: Pick<Endpoint, "ready" | "terminating" | "serving">;
  }[] = [
    { name: "ready pod", ready: true, deleting: false, want: { ready: true } },
    { name: "not-ready pod", ready: false, deleting: false, want: { ready: false } },
    {
      name: "ready pod being deleted: serving and terminating, not ready",
      ready: true,
      deleting: true,
      want: { ready: false, terminating: true, serving: true },
    },
    {
      name: "not-ready pod being deleted: not serving",
      ready: false,
      deleting: true,
      want: { ready: false, terminating: true, serving: false },
    },
    {
      name: "publishNotReadyAddresses: a not-ready pod is ready",
      ready: false,
      deleting: false,
      publish: true,
      want: { ready: true },
    },
    {
      name: "publishNotReadyAddresses: a pod being deleted stays ready",
      ready: false,
      deleting: true,
      publish: true,
      want: { ready: true, terminating: true, serving: false },
    },
  ];
  for (const r of rows) {
    await t.step(r.name, () => {
      const pod = podOf(r.ready, r.deleting ? DELETING : {});
      assert.equal(pod.terminating, r.deleting ? true : undefined);
      assert.equal("terminating" in pod, r.deleting, "recorded only when set");
      const service = serviceOf({
        selector: { app: "web" },
        ports: [{ name: "http", port: 80, targetPort: "http" }],
        ...(r.publish ? { publishNotReadyAddresses: true } : {}),
      });
      assert.deepEqual(podEndpoints(service, [pod]), [{
        ip: "10.0.0.9",
        ...r.want,
        nodeName: "edge-1",
        hostname: null,
        podName: "web-1",
        ports: [{ name: "http", port: 8080, protocol: "TCP" }],
      }]);
    });
  }
  await t.step("a deletionTimestamp that is not a string is refused", () => {
    assert.throws(
      () => podOf(true, { deletionTimestamp: 5 }),
      /metadata\.deletionTimestamp is not a string \(got 5\)/,
    );
  });
});

Deno.test("convertChange() keeps Endpoints notReadyAddresses not ready and not terminating", () => {
  // An Endpoints object says nothing of terminating: its notReadyAddresses are never a
  // fallback (the Endpoints controller leaves terminating pods out altogether).
  const c = convertChange(change("endpoints", "web", {
    metadata: { name: "web" },
    subsets: [{
      addresses: [{ ip: "10.0.0.1" }],
      notReadyAddresses: [{ ip: "10.0.0.2" }],
      ports: [{ port: 8080 }],
    }],
  }));
  if (c.type !== "endpoints" || !c.endpoints) throw new assert.AssertionError({ message: "eps" });
  assert.deepEqual(c.endpoints.map((e) => [e.ip, e.ready, "terminating" in e, isUsable(e)]), [
    ["10.0.0.1", true, false, true],
    ["10.0.0.2", false, false, false],
  ]);
});

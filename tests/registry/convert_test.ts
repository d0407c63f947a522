// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  backendsFor,
  convertChange,
  type ConvertedChange,
  type Endpoint,
  podEndpoints,
  type ResourceChange,
  type Service,
  type ServiceEntry,
} from "../../lib/registry/mod.ts";

/** The explanations that follow each rule's name in error messages (`lib/registry/names.ts`). */
const LABEL_1123 =
  "(lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)";
const IANA =
  "(lowercase letters, digits and '-', at least one letter, no '--', starting and ending with a letter or digit, at most 15 characters)";

function change(
  resource: string,
  content: unknown,
  operation: ResourceChange["operation"] = "insert",
): ResourceChange {
  const [namespace, type, name] = resource.split("/") as [string, ResourceChange["type"], string];
  return { operation, namespace, type, name, content };
}

function svcContent(
  name: string,
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = {},
) {
  return { metadata: { name, namespace: "default", ...metadata }, spec };
}

function serviceOf(c: ConvertedChange): Service {
  assert.equal(c.type, "service");
  if (c.type !== "service" || !c.record) {
    throw new assert.AssertionError({ message: "no service record" });
  }
  return c.record.service;
}

function entry(service: Service, endpoints: readonly Endpoint[]): ServiceEntry {
  return { service, vip: "9.251.0.2", endpoints, endpointSource: "endpoints" };
}

const fixture =
  (await Deno.readTextFile(new URL("../fixtures/kubeedge-messages.ndjson", import.meta.url)))
    .trim().split("\n").map((l) => JSON.parse(l));
function fixtureChange(resource: string): ResourceChange {
  const m = fixture.find((x) => x.route.resource === resource);
  assert.ok(m, resource);
  return change(resource, m.content, m.route.operation);
}

Deno.test("convertChange() converts services", async (t) => {
  await t.step("named targetPort and numeric targetPort", () => {
    const s = serviceOf(convertChange(fixtureChange("default/service/nginx")));
    assert.deepEqual(s, {
      namespace: "default",
      name: "nginx",
      kind: { type: "ClusterIP" },
      ports: [
        { name: "web", protocol: "TCP", port: 80, targetPort: { kind: "number", port: 8080 } },
        {
          name: "metrics",
          protocol: "TCP",
          port: 9100,
          targetPort: { kind: "name", name: "metrics" },
        },
      ],
      sessionAffinity: { type: "None" },
    });
  });
  await t.step("headless kafka-headless", () => {
    const s = serviceOf(convertChange(fixtureChange("stream/service/kafka-headless")));
    assert.deepEqual(s.kind, { type: "Headless" });
    assert.equal(s.ports[0]?.port, 9092);
  });
  await t.step("UDP-only syslog keeps its UDP port", () => {
    const s = serviceOf(convertChange(fixtureChange("infra/service/syslog")));
    assert.deepEqual(s.ports, [
      { name: "syslog", protocol: "UDP", port: 514, targetPort: { kind: "number", port: 514 } },
    ]);
  });
  await t.step("sessionAffinity ClientIP with explicit timeout (redis)", () => {
    const s = serviceOf(convertChange(fixtureChange("cache/service/redis")));
    assert.deepEqual(s.sessionAffinity, { type: "ClientIP", timeoutSeconds: 10800 });
  });

  const rows: {
    name: string;
    spec: Record<string, unknown>;
    metadata?: Record<string, unknown>;
    check: (s: Service) => void;
  }[] = [
    {
      name: "ClientIP timeout defaults to 10800",
      spec: { ports: [{ port: 80 }], sessionAffinity: "ClientIP" },
      check: (s) =>
        assert.deepEqual(s.sessionAffinity, { type: "ClientIP", timeoutSeconds: 10800 }),
    },
    {
      name: "ClientIP timeout 60",
      spec: {
        ports: [{ port: 80 }],
        sessionAffinity: "ClientIP",
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      },
      check: (s) => assert.deepEqual(s.sessionAffinity, { type: "ClientIP", timeoutSeconds: 60 }),
    },
    {
      name: "protocol defaults to TCP, targetPort to port, single port name to empty",
      spec: { ports: [{ port: 8443 }] },
      check: (s) =>
        assert.deepEqual(s.ports, [{
          name: "",
          protocol: "TCP",
          port: 8443,
          targetPort: { kind: "number", port: 8443 },
        }]),
    },
    {
      name: "ExternalName",
      spec: { type: "ExternalName", externalName: "db.example.org" },
      check: (s) => {
        assert.deepEqual(s.kind, { type: "ExternalName", externalName: "db.example.org" });
        assert.deepEqual(s.ports, []);
      },
    },
    {
      name: "ExternalName wins over clusterIP None",
      spec: { type: "ExternalName", externalName: "db.example.org", clusterIP: "None" },
      check: (s) => assert.equal(s.kind.type, "ExternalName"),
    },
    {
      name: "lb strategy annotation Random",
      spec: { ports: [{ port: 80 }] },
      metadata: { annotations: { "edgemesh.kubeedge.io/lb-strategy": "Random" } },
      check: (s) => assert.equal(s.lbStrategy, "Random"),
    },
    {
      name: "no annotation leaves lbStrategy undefined",
      spec: { ports: [{ port: 80 }] },
      check: (s) => assert.equal(s.lbStrategy, undefined),
    },
    {
      name: "missing namespace in content defaults to the resource's",
      spec: { ports: [{ port: 80 }] },
      metadata: { namespace: undefined },
      check: (s) => assert.equal(s.namespace, "default"),
    },
    {
      name: "NodePort is served like ClusterIP",
      spec: { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] },
      check: (s) => assert.deepEqual(s.kind, { type: "ClusterIP" }),
    },
  ];
  for (const row of rows) {
    await t.step(row.name, () => {
      row.check(
        serviceOf(
          convertChange(change("default/service/x", svcContent("x", row.spec, row.metadata))),
        ),
      );
    });
  }

  // Another proxy handles it: kept (DNS answers it), its label value recorded; any value counts.
  const proxyRows: { spec: Record<string, unknown>; value: string }[] = [
    { spec: { ports: [{ port: 80 }] }, value: "other" },
    { spec: { ports: [{ port: 80 }] }, value: "" },
    { spec: { clusterIP: "None", ports: [{ port: 80 }] }, value: "istio" },
    { spec: { type: "ExternalName", externalName: "example.org" }, value: "istio" },
  ];
  for (const row of proxyRows) {
    await t.step(
      `service-proxy-name ${JSON.stringify(row.value)}, ${JSON.stringify(row.spec)}: kept`,
      () => {
        const c = convertChange(change(
          "default/service/x",
          svcContent("x", row.spec, {
            labels: { "service.kubernetes.io/service-proxy-name": row.value },
          }),
        ));
        assert.equal(serviceOf(c).proxyName, row.value);
        assert.equal(serviceOf(c).name, "x");
        assert.deepEqual(c.warnings, []);
      },
    );
  }
  await t.step("no service-proxy-name label: no proxyName", () => {
    const s = serviceOf(
      convertChange(change(
        "default/service/x",
        svcContent("x", { ports: [{ port: 80 }] }, {
          labels: { "service.kubernetes.io/other": "x" },
        }),
      )),
    );
    assert.equal("proxyName" in s, false);
  });
  await t.step("selector is kept for pod matching", () => {
    const c = convertChange(fixtureChange("default/service/nginx"));
    assert.equal(c.type, "service");
    if (c.type === "service") assert.deepEqual(c.record?.selector, { app: "nginx" });
  });
  await t.step("delete needs no content", () => {
    assert.deepEqual(convertChange(change("default/service/x", undefined, "delete")), {
      type: "service",
      namespace: "default",
      name: "x",
      record: null,
      warnings: [],
    });
  });
});

const LB = "edgemesh.kubeedge.io/lb-strategy";
/** The warning of a service whose lb-strategy annotation is `value` (not a strategy). */
const lbWarning = (service: string, value: string) => ({
  msg: `Ignoring annotation ${LB} of ${JSON.stringify(service)}: ${
    JSON.stringify(value)
  } is not one of RoundRobin, Random; the configured lbStrategy applies`,
  fields: { service },
});

Deno.test("convertChange() accepts an unknown lb-strategy annotation, ignoring it with a warning", async (t) => {
  // The API server accepts any annotation value and kube-proxy ignores what it does not know:
  // refusing the Service would leave it without a VIP.
  const rows: { value: string | undefined; lbStrategy: string | undefined; warns: boolean }[] = [
    { value: "LeastConn", lbStrategy: undefined, warns: true },
    { value: "random", lbStrategy: undefined, warns: true }, // case is significant, as before
    { value: "ROUNDROBIN", lbStrategy: undefined, warns: true },
    { value: "", lbStrategy: undefined, warns: true },
    { value: "Random", lbStrategy: "Random", warns: false },
    { value: "RoundRobin", lbStrategy: "RoundRobin", warns: false },
    { value: undefined, lbStrategy: undefined, warns: false },
  ];
  for (const row of rows) {
    await t.step(`${JSON.stringify(row.value) ?? "no annotation"}`, () => {
      const annotations = row.value === undefined ? {} : { [LB]: row.value };
      const c = convertChange(
        change("default/service/x", svcContent("x", { ports: [{ port: 80 }] }, { annotations })),
      );
      const s = serviceOf(c);
      assert.equal(s.lbStrategy, row.lbStrategy);
      assert.deepEqual(s.ports.map((p) => p.port), [80]);
      assert.deepEqual(c.warnings, row.warns ? [lbWarning("default/x", row.value!)] : []);
    });
  }
  await t.step("servicelist: one warning per service, naming it", () => {
    const item = (
      ns: string,
      name: string,
      value: string,
      labels: Record<string, string> = {},
    ) => ({
      metadata: { name, namespace: ns, annotations: { [LB]: value }, labels },
      spec: { ports: [{ port: 80 }] },
    });
    const c = convertChange(change("default/servicelist/service", [
      item("default", "a", "LeastConn"),
      item("default", "b", "Random"),
      item("cache", "c", "Weighted"),
      // another proxy balances it: its annotation is nothing we ignore, so no warning
      item("default", "d", "Weighted", { "service.kubernetes.io/service-proxy-name": "other" }),
    ]));
    assert.equal(c.type, "servicelist");
    if (c.type === "servicelist") {
      assert.deepEqual(c.records.map((r) => [r.service.name, r.service.lbStrategy]), [
        ["a", undefined],
        ["b", "Random"],
        ["c", undefined],
        ["d", undefined],
      ]);
    }
    assert.deepEqual(c.warnings, [
      lbWarning("default/a", "LeastConn"),
      lbWarning("cache/c", "Weighted"),
    ]);
  });
  await t.step("a service another proxy handles gets no lb-strategy warning", () => {
    const c = convertChange(change(
      "default/service/x",
      svcContent("x", { ports: [{ port: 80 }] }, {
        annotations: { [LB]: "LeastConn" },
        labels: { "service.kubernetes.io/service-proxy-name": "other" },
      }),
    ));
    assert.equal(serviceOf(c).proxyName, "other");
    assert.deepEqual(c.warnings, []);
  });
});

Deno.test("convertChange() rejects invalid objects with every problem and its path", async (t) => {
  const P = 'Cannot apply "default/service/x": ';
  const rows: {
    name: string;
    resource?: string;
    content: unknown;
    error: ErrorConstructor;
    message: string;
  }[] = [
    {
      name: "port out of range",
      content: svcContent("x", { ports: [{ protocol: "TCP", port: 70000, targetPort: 80 }] }),
      error: RangeError,
      message: `${P}spec.ports[0].port 70000 is out of range`,
    },
    {
      name: "port missing",
      content: svcContent("x", { ports: [{ targetPort: 80 }] }),
      error: TypeError,
      message: `${P}spec.ports[0].port is required`,
    },
    {
      name: "port not an integer",
      content: svcContent("x", { ports: [{ port: "80" }] }),
      error: TypeError,
      message: `${P}spec.ports[0].port "80" is not an integer`,
    },
    {
      name: "namespace and name mismatch",
      resource: "default/service/mismatch",
      content: {
        metadata: { name: "other", namespace: "kube-system" },
        spec: { ports: [{ protocol: "TCP", port: 80 }] },
      },
      error: TypeError,
      message:
        'Cannot apply "default/service/mismatch": metadata.name "other" does not match the resource name ' +
        '"mismatch"; metadata.namespace "kube-system" does not match the resource namespace "default"',
    },
    {
      name: "name missing",
      content: { metadata: {}, spec: { ports: [{ port: 80 }] } },
      error: TypeError,
      message: `${P}metadata.name is required`,
    },
    {
      name: "targetPort numeric string is not an IANA_SVC_NAME",
      content: svcContent("x", { ports: [{ port: 80, targetPort: "8080" }] }),
      error: RangeError,
      message: `${P}spec.ports[0].targetPort "8080" is not a valid IANA_SVC_NAME ${IANA}`,
    },
    {
      name: "targetPort name too long",
      content: svcContent("x", { ports: [{ port: 80, targetPort: "a-very-long-port-name" }] }),
      error: RangeError,
      message:
        `${P}spec.ports[0].targetPort "a-very-long-port-name" is not a valid IANA_SVC_NAME ${IANA}`,
    },
    {
      name: "targetPort 0",
      content: svcContent("x", { ports: [{ port: 80, targetPort: 0 }] }),
      error: RangeError,
      message: `${P}spec.ports[0].targetPort 0 is out of range`,
    },
    {
      name: "targetPort 65536",
      content: svcContent("x", { ports: [{ port: 80, targetPort: 65536 }] }),
      error: RangeError,
      message: `${P}spec.ports[0].targetPort 65536 is out of range`,
    },
    {
      name: "duplicate port names",
      content: svcContent("x", { ports: [{ name: "web", port: 80 }, { name: "web", port: 81 }] }),
      error: RangeError,
      message: `${P}spec.ports[1].name "web" is duplicated (also spec.ports[0])`,
    },
    {
      name: "unnamed port among several",
      content: svcContent("x", { ports: [{ name: "web", port: 80 }, { port: 81 }] }),
      error: TypeError,
      message: `${P}spec.ports[1].name is required when a service has several ports`,
    },
    {
      name: "duplicate port and protocol",
      content: svcContent("x", { ports: [{ name: "a", port: 80 }, { name: "b", port: 80 }] }),
      error: RangeError,
      message: `${P}spec.ports[1] duplicates port 80/TCP (also spec.ports[0])`,
    },
    {
      name: "bad protocol",
      content: svcContent("x", { ports: [{ port: 80, protocol: "HTTP" }] }),
      error: RangeError,
      message: `${P}spec.ports[0].protocol "HTTP" is not one of TCP, UDP, SCTP`,
    },
    {
      name: "several problems are all reported; the first decides the class",
      content: svcContent("x", {
        ports: [{ port: 70000, protocol: "HTTP" }, { name: "B", port: 0 }],
      }),
      error: TypeError,
      message: `${P}spec.ports[0].name is required when a service has several ports; ` +
        `spec.ports[0].port 70000 is out of range; spec.ports[0].protocol "HTTP" is not one of TCP, UDP, SCTP; ` +
        `spec.ports[1].name "B" is not a valid DNS-1123 label ${LABEL_1123}; ` +
        "spec.ports[1].port 0 is out of range",
    },
    {
      name: "ports not an array",
      content: svcContent("x", { ports: { port: 80 } }),
      error: TypeError,
      message: `${P}spec.ports is not an array (got an object)`,
    },
    {
      name: "content not an object",
      content: [1, 2, 3],
      error: TypeError,
      message: `${P}content is not an object (got an array)`,
    },
    {
      name: "ExternalName without externalName",
      content: svcContent("x", { type: "ExternalName" }),
      error: TypeError,
      message: `${P}spec.externalName is required for type ExternalName`,
    },
    {
      name: "unknown type",
      content: svcContent("x", { type: "Mesh", ports: [{ port: 80 }] }),
      error: RangeError,
      message: `${P}spec.type "Mesh" is not one of ClusterIP, NodePort, LoadBalancer, ExternalName`,
    },
    {
      name: "affinity timeout out of range",
      content: svcContent("x", {
        ports: [{ port: 80 }],
        sessionAffinity: "ClientIP",
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 86401 } },
      }),
      error: RangeError,
      message: `${P}spec.sessionAffinityConfig.clientIP.timeoutSeconds 86401 is out of range`,
    },
    {
      name: "unknown affinity",
      content: svcContent("x", { ports: [{ port: 80 }], sessionAffinity: "Cookie" }),
      error: RangeError,
      message: `${P}spec.sessionAffinity "Cookie" is not one of None, ClientIP`,
    },
    {
      name: "an unknown lb strategy is no problem, and no part of another problem's error",
      content: svcContent("x", { ports: [{ port: 0 }] }, {
        annotations: { "edgemesh.kubeedge.io/lb-strategy": "LeastConn" },
      }),
      error: RangeError,
      message: `${P}spec.ports[0].port 0 is out of range`,
    },
    {
      name: "servicelist item paths are prefixed with the index",
      resource: "namespace/servicelist/service",
      content: [svcContent("a", { ports: [{ port: 80 }] }), {
        metadata: { name: "b" },
        spec: { ports: [{ port: 0 }] },
      }],
      error: TypeError,
      message:
        'Cannot apply "namespace/servicelist/service": [1].metadata.namespace is required; ' +
        "[1].spec.ports[0].port 0 is out of range",
    },
    {
      name: "servicelist duplicates",
      resource: "namespace/servicelist/service",
      content: [
        svcContent("a", { ports: [{ port: 80 }] }),
        svcContent("a", { ports: [{ port: 81 }] }),
      ],
      error: TypeError,
      message:
        'Cannot apply "namespace/servicelist/service": [1] duplicates service "default/a" (also [0])',
    },
    {
      name: "servicelist content not an array",
      resource: "namespace/servicelist/service",
      content: {},
      error: TypeError,
      message:
        'Cannot apply "namespace/servicelist/service": content is not an array (got an object)',
    },
    {
      name: "endpoints with a bad address",
      resource: "default/endpoints/x",
      content: {
        metadata: { name: "x" },
        subsets: [{ addresses: [{ ip: "10.0.0.300" }], ports: [{ port: 80 }] }],
      },
      error: RangeError,
      message:
        'Cannot apply "default/endpoints/x": subsets[0].addresses[0].ip "10.0.0.300" is not an IP address',
    },
    {
      name: "podlist pod in another namespace",
      resource: "default/podlist/x",
      content: [{ metadata: { name: "p", namespace: "other" } }],
      error: TypeError,
      message:
        'Cannot apply "default/podlist/x": [0].metadata.namespace "other" does not match the resource namespace "default"',
    },
    {
      name: "node name mismatch",
      resource: "default/node/edge-1",
      content: { metadata: { name: "edge-2" } },
      error: TypeError,
      message:
        'Cannot apply "default/node/edge-1": metadata.name "edge-2" does not match the resource name "edge-1"',
    },
  ];
  for (const row of rows) {
    await t.step(row.name, () => {
      assert.throws(
        () => convertChange(change(row.resource ?? "default/service/x", row.content)),
        (e: unknown) => {
          assert.ok(e instanceof row.error, `expected ${row.error.name}, got ${e}`);
          assert.equal((e as Error).message, row.message);
          return true;
        },
      );
    });
  }
  await t.step("delete of a servicelist is refused", () => {
    assert.throws(
      () => convertChange(change("namespace/servicelist/service", undefined, "delete")),
      TypeError,
    );
  });
});

Deno.test("convertChange() converts Endpoints, EndpointSlices, pods and nodes", async (t) => {
  await t.step(
    "Endpoints: notReadyAddresses are not ready; named ports; targetRef → podName",
    () => {
      const c = convertChange(fixtureChange("default/endpoints/nginx"));
      assert.equal(c.type, "endpoints");
      if (c.type !== "endpoints") return;
      const eps = c.endpoints ?? [];
      assert.deepEqual(eps.map((e) => [e.ip, e.ready, e.nodeName, e.podName]), [
        ["10.244.1.5", true, "edge-node-1", "nginx-7d9f8b6c5-abcde"],
        ["10.244.2.9", true, "edge-node-2", "nginx-7d9f8b6c5-fghij"],
        ["10.244.1.6", false, "edge-node-1", "nginx-7d9f8b6c5-klmno"],
      ]);
      assert.deepEqual(eps[0]?.ports, [
        { name: "web", port: 8080, protocol: "TCP" },
        { name: "metrics", port: 9113, protocol: "TCP" },
      ]);
    },
  );
  await t.step(
    "named targetPort resolves through endpoint port names (nginx metrics → 9113)",
    () => {
      const svc = serviceOf(convertChange(fixtureChange("default/service/nginx")));
      const c = convertChange(fixtureChange("default/endpoints/nginx"));
      if (c.type !== "endpoints" || !c.endpoints) throw new Error("no endpoints");
      const e = entry(svc, c.endpoints);
      assert.deepEqual(backendsFor(e, svc.ports[1]!).map((b) => `${b.ip}:${b.port}`), [
        "10.244.1.5:9113",
        "10.244.2.9:9113",
      ]);
      assert.deepEqual(backendsFor(e, svc.ports[0]!).map((b) => `${b.ip}:${b.port}`), [
        "10.244.1.5:8080",
        "10.244.2.9:8080",
      ]);
    },
  );
  await t.step("EndpointSlice: conditions.ready false (redis-1) is not ready", () => {
    const c = convertChange(fixtureChange("cache/endpointslice/redis-x7k2p"));
    assert.equal(c.type, "endpointslice");
    if (c.type !== "endpointslice" || !c.slice) throw new Error("no slice");
    assert.equal(c.slice.service, "redis");
    assert.deepEqual(c.slice.endpoints.map((e) => [e.ip, e.ready, e.podName]), [
      ["10.244.1.20", true, "redis-0"],
      ["10.244.2.21", false, "redis-1"],
    ]);
  });
  await t.step(
    "EndpointSlice: absent conditions.ready means ready; each address is an endpoint",
    () => {
      const c = convertChange(change("default/endpointslice/x-1", {
        metadata: { name: "x-1", labels: { "kubernetes.io/service-name": "x" } },
        addressType: "IPv4",
        endpoints: [{ addresses: ["10.0.0.1", "10.0.0.2"], hostname: "h", conditions: {} }],
        ports: [{ name: "", port: 80 }, { name: "all" }],
      }));
      if (c.type !== "endpointslice" || !c.slice) throw new Error("no slice");
      assert.deepEqual(c.slice.endpoints, [
        {
          ip: "10.0.0.1",
          ready: true,
          nodeName: null,
          hostname: "h",
          podName: null,
          ports: [{ name: "", port: 80, protocol: "TCP" }],
        },
        {
          ip: "10.0.0.2",
          ready: true,
          nodeName: null,
          hostname: "h",
          podName: null,
          ports: [{ name: "", port: 80, protocol: "TCP" }],
        },
      ]);
    },
  );
  await t.step("EndpointSlice: IPv6 and FQDN slices are ignored (slice null)", () => {
    for (const addressType of ["IPv6", "FQDN"]) {
      const c = convertChange(change("default/endpointslice/x-6", {
        metadata: { name: "x-6", labels: { "kubernetes.io/service-name": "x" } },
        addressType,
        endpoints: [{ addresses: ["fd00::1"] }],
      }));
      assert.deepEqual(c, {
        type: "endpointslice",
        namespace: "default",
        name: "x-6",
        slice: null,
        warnings: [],
      });
    }
  });
  await t.step(
    "podlist: named targetPort looked up in container ports; non-running pods skipped",
    () => {
      const svc = serviceOf(convertChange(change(
        "default/service/web",
        svcContent("web", {
          ports: [{ name: "http", port: 80, targetPort: "http" }, {
            name: "admin",
            port: 9000,
            targetPort: 9001,
          }],
        }),
      )));
      const pod = (name: string, ip: string, phase: string, ready: boolean, ports: unknown[]) => ({
        metadata: { name },
        spec: { nodeName: "n1", containers: [{ name: "c", ports }] },
        status: {
          phase,
          podIP: ip,
          conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
        },
      });
      const c = convertChange(change("default/podlist/web", [
        pod("a", "10.1.0.1", "Running", true, [{ name: "http", containerPort: 8080 }]),
        pod("b", "10.1.0.2", "Running", true, [{ containerPort: 8080 }]), // lacks the named port
        pod("c", "10.1.0.3", "Pending", false, [{ name: "http", containerPort: 8080 }]),
        pod("d", "10.1.0.4", "Running", false, [{ name: "http", containerPort: 8081 }]),
      ]));
      if (c.type !== "podlist" || !c.pods) throw new Error("no pods");
      const eps = podEndpoints(svc, c.pods);
      assert.deepEqual(
        eps.map((e) => [e.ip, e.ready, e.podName, e.ports.map((p) => `${p.name}:${p.port}`)]),
        [
          ["10.1.0.1", true, "a", ["http:8080", "admin:9001"]],
          ["10.1.0.2", true, "b", ["admin:9001"]],
          ["10.1.0.4", false, "d", ["http:8081", "admin:9001"]],
        ],
      );
      const e = entry(svc, eps);
      assert.deepEqual(backendsFor(e, svc.ports[0]!).map((b) => `${b.ip}:${b.port}`), [
        "10.1.0.1:8080",
      ]);
    },
  );
  await t.step("node: addresses in order; any namespace token", () => {
    const c = convertChange(fixtureChange("default/node/edge-node-2"));
    assert.deepEqual(c, {
      type: "node",
      name: "edge-node-2",
      node: {
        name: "edge-node-2",
        addresses: [{ type: "InternalIP", address: "192.0.2.12" }, {
          type: "Hostname",
          address: "edge-node-2",
        }],
      },
      warnings: [],
    });
  });
});

const LABEL_1035 =
  "(lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters)";
const SUBDOMAIN =
  "(lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit, at most 253 characters)";

/** A row of the validation tables: `content` sent as `resource` is refused with `message`. */
interface BadRow {
  name: string;
  resource: string;
  content: unknown;
  error: ErrorConstructor;
  message: string;
}

async function refuses(t: Deno.TestContext, rows: BadRow[]): Promise<void> {
  for (const row of rows) {
    await t.step(row.name, () => {
      assert.throws(() => convertChange(change(row.resource, row.content)), (e: unknown) => {
        assert.ok(e instanceof row.error, `expected ${row.error.name}, got ${e}`);
        assert.equal((e as Error).message, `Cannot apply "${row.resource}": ${row.message}`);
        return true;
      });
    });
  }
}

function svcIn(namespace: string | undefined, name: string, extra: Record<string, unknown> = {}) {
  return { ...extra, metadata: { name, namespace }, spec: { ports: [{ port: 80 }] } };
}

const slice = (name: string, service: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, labels: { "kubernetes.io/service-name": service } },
  addressType: "IPv4",
  endpoints: [{ addresses: ["10.0.0.1"] }],
  ...extra,
});

Deno.test("convertChange() accepts an EndpointSlice without kubernetes.io/service-name and ignores it", async (t) => {
  // Kubernetes allows such slices (custom slices of other controllers); kube-proxy and CoreDNS
  // find a Service's slices by the label, so a slice without it belongs to no Service.
  const note = (key: string) => ({
    level: "debug",
    msg: `Ignoring EndpointSlice ${
      JSON.stringify(key)
    }: it has no label kubernetes.io/service-name, so it belongs to no Service`,
    fields: { endpointslice: key },
  });
  const slice = (metadata: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    metadata: { name: "custom-1", ...metadata },
    addressType: "IPv4",
    endpoints: [{ addresses: ["10.0.0.1"] }],
    ports: [{ name: "http", port: 80 }],
    ...extra,
  });
  const rows: {
    name: string;
    content: unknown;
    operation?: ResourceChange["operation"];
    service: string | null;
    warnings: unknown[];
  }[] = [
    { name: "no labels", content: slice({}), service: null, warnings: [note("default/custom-1")] },
    {
      name: "other labels only",
      content: slice({ labels: { "endpointslice.kubernetes.io/managed-by": "my-controller" } }),
      service: null,
      warnings: [note("default/custom-1")],
    },
    {
      name: 'empty label value ("" names no Service, as kube-proxy reads it)',
      content: slice({ labels: { "kubernetes.io/service-name": "" } }),
      service: null,
      warnings: [note("default/custom-1")],
    },
    {
      name: "IPv6 without the label",
      content: slice({}, { addressType: "IPv6", endpoints: [{ addresses: ["fd00::1"] }] }),
      service: null,
      warnings: [note("default/custom-1")],
    },
    {
      name: "with the label: attached to its Service",
      content: slice({ labels: { "kubernetes.io/service-name": "web" } }),
      service: "web",
      warnings: [],
    },
    { name: "delete", content: undefined, operation: "delete", service: null, warnings: [] },
  ];
  for (const row of rows) {
    await t.step(row.name, () => {
      const c = convertChange(
        change("default/endpointslice/custom-1", row.content, row.operation),
      );
      assert.equal(c.type, "endpointslice");
      if (c.type !== "endpointslice") return;
      assert.equal(c.slice?.service ?? null, row.service);
      assert.deepEqual(c.warnings, row.warnings);
    });
  }
  await t.step("the rest of an unlabelled slice is still validated", () => {
    assert.throws(
      () =>
        convertChange(change(
          "default/endpointslice/custom-1",
          slice({}, { endpoints: [{ addresses: ["10.0.0.300"] }] }),
        )),
      {
        name: "RangeError",
        message:
          'Cannot apply "default/endpointslice/custom-1": endpoints[0].addresses[0] "10.0.0.300" is not an IPv4 address',
      },
    );
  });
});

Deno.test("convertChange() refuses names Kubernetes would refuse (they would collide in DNS)", async (t) => {
  await refuses(t, [
    {
      name: "uppercase service (NGINX and nginx would both answer nginx.default)",
      resource: "default/service/NGINX",
      content: svcIn("default", "NGINX"),
      error: RangeError,
      message: `metadata.name "NGINX" is not a valid DNS-1035 label ${LABEL_1035}`,
    },
    {
      name: "dotted service (y.z/x and z/x.y would both answer x.y.z.svc.cluster.local)",
      resource: "z/service/x.y",
      content: svcIn("z", "x.y"),
      error: RangeError,
      message: `metadata.name "x.y" is not a valid DNS-1035 label ${LABEL_1035}`,
    },
    {
      name: "dotted namespace",
      resource: "y.z/service/x",
      content: svcIn("y.z", "x"),
      error: RangeError,
      message: `metadata.namespace "y.z" is not a valid DNS-1123 label ${LABEL_1123}`,
    },
    {
      name: "underscore",
      resource: "default/service/a_b",
      content: svcIn("default", "a_b"),
      error: RangeError,
      message: `metadata.name "a_b" is not a valid DNS-1035 label ${LABEL_1035}`,
    },
    {
      name: "non-ASCII",
      resource: "default/service/ngïnx",
      content: svcIn("default", "ngïnx"),
      error: RangeError,
      message: `metadata.name "ngïnx" is not a valid DNS-1035 label ${LABEL_1035}`,
    },
    {
      name: "70 characters",
      resource: `default/service/${"x".repeat(70)}`,
      content: svcIn("default", "x".repeat(70)),
      error: RangeError,
      message: `metadata.name "${"x".repeat(70)}" is not a valid DNS-1035 label ${LABEL_1035}`,
    },
    {
      name: "service starting with a digit",
      resource: "default/service/1abc",
      content: svcIn("default", "1abc"),
      error: RangeError,
      message: `metadata.name "1abc" is not a valid DNS-1035 label ${LABEL_1035}`,
    },
    {
      name: "namespace Bad_NS from the route (no metadata.namespace)",
      resource: "Bad_NS/service/x",
      content: svcIn(undefined, "x"),
      error: RangeError,
      message: `resource namespace "Bad_NS" is not a valid DNS-1123 label ${LABEL_1123}`,
    },
    {
      name: "namespace 'bad ns!' and a bad name: both reported",
      resource: "bad ns!/service/A",
      content: svcIn("bad ns!", "A"),
      error: RangeError,
      message: `metadata.name "A" is not a valid DNS-1035 label ${LABEL_1035}; ` +
        `metadata.namespace "bad ns!" is not a valid DNS-1123 label ${LABEL_1123}`,
    },
    {
      name: "servicelist item",
      resource: "namespace/servicelist/service",
      content: [svcIn("default", "ok"), svcIn("Default", "web_1")],
      error: RangeError,
      message: `[1].metadata.name "web_1" is not a valid DNS-1035 label ${LABEL_1035}; ` +
        `[1].metadata.namespace "Default" is not a valid DNS-1123 label ${LABEL_1123}`,
    },
    {
      name: "Endpoints follow their Service's rule (a dotted name could never be joined)",
      resource: "default/endpoints/x.y",
      content: { metadata: { name: "x.y" } },
      error: RangeError,
      message: `metadata.name "x.y" is not a valid DNS-1035 label ${LABEL_1035}`,
    },
    {
      name: "EndpointSlice name",
      resource: "default/endpointslice/Web-abc",
      content: slice("Web-abc", "web"),
      error: RangeError,
      message: `metadata.name "Web-abc" is not a valid DNS-1123 subdomain ${SUBDOMAIN}`,
    },
    {
      name: "EndpointSlice service-name label",
      resource: "default/endpointslice/web-abc",
      content: slice("web-abc", "Web"),
      error: RangeError,
      message:
        `metadata.labels["kubernetes.io/service-name"] "Web" is not a valid DNS-1035 label ` +
        LABEL_1035,
    },
    {
      name: "EndpointSlice hostname",
      resource: "default/endpointslice/web-abc",
      content: slice("web-abc", "web", { endpoints: [{ addresses: ["10.0.0.1"], hostname: "H" }] }),
      error: RangeError,
      message: `endpoints[0].hostname "H" is not a valid DNS-1123 label ${LABEL_1123}`,
    },
    {
      name: "Endpoints hostname and port name",
      resource: "default/endpoints/web",
      content: {
        metadata: { name: "web" },
        subsets: [{
          addresses: [{ ip: "10.0.0.1", hostname: "web_0" }],
          ports: [{ name: "HTTP", port: 80 }],
        }],
      },
      error: RangeError,
      message: `subsets[0].ports[0].name "HTTP" is not a valid DNS-1123 label ${LABEL_1123}; ` +
        `subsets[0].addresses[0].hostname "web_0" is not a valid DNS-1123 label ${LABEL_1123}`,
    },
    {
      name: "Pod name, hostname and container port name",
      resource: "default/pod/Web-0",
      content: {
        metadata: { name: "Web-0" },
        spec: {
          hostname: "a.b",
          containers: [{ ports: [{ name: "web_http", containerPort: 80 }] }],
        },
      },
      error: RangeError,
      message: `metadata.name "Web-0" is not a valid DNS-1123 subdomain ${SUBDOMAIN}; ` +
        `spec.containers[0].ports[0].name "web_http" is not a valid IANA_SVC_NAME ${IANA}; ` +
        `spec.hostname "a.b" is not a valid DNS-1123 label ${LABEL_1123}`,
    },
    {
      name: "podlist: its name is a service name, checked even when the list is empty",
      resource: "Bad_NS/podlist/Web",
      content: [],
      error: RangeError,
      message: `resource namespace "Bad_NS" is not a valid DNS-1123 label ${LABEL_1123}; ` +
        `resource name "Web" is not a valid DNS-1035 label ${LABEL_1035}`,
    },
    {
      name: "podlist item names",
      resource: "default/podlist/web",
      content: [{ metadata: { name: "web-0" } }, { metadata: { name: "Web-1" } }],
      error: RangeError,
      message: `[1].metadata.name "Web-1" is not a valid DNS-1123 subdomain ${SUBDOMAIN}`,
    },
    {
      name: "Node name",
      resource: "default/node/Edge_1",
      content: { metadata: { name: "Edge_1" } },
      error: RangeError,
      message: `metadata.name "Edge_1" is not a valid DNS-1123 subdomain ${SUBDOMAIN}`,
    },
  ]);

  await t.step("names each rule allows are accepted", () => {
    const ok: [string, unknown][] = [
      ["kube-system/service/a--b", svcIn("kube-system", "a--b")],
      ["1ns/service/x", svcIn("1ns", "x")],
      [`default/service/${"a".repeat(63)}`, svcIn("default", "a".repeat(63))],
      ["default/endpoints/web", { metadata: { name: "web" } }],
      ["default/endpointslice/web.abc-1", slice("web.abc-1", "web")],
      ["default/pod/web-0.v2", { metadata: { name: "web-0.v2" }, spec: { hostname: "0web" } }],
      ["any/node/edge-1.example.com", { metadata: { name: "edge-1.example.com" } }],
    ];
    for (const [resource, content] of ok) {
      assert.doesNotThrow(() => convertChange(change(resource, content)), resource);
    }
  });
  await t.step(
    "the namespace token of a node route is not checked (nodes are cluster-scoped)",
    () => {
      const c = convertChange(
        change("Not_A_Namespace/node/edge-1", { metadata: { name: "edge-1" } }),
      );
      assert.equal(c.type === "node" && c.node?.name, "edge-1");
    },
  );
  await t.step(
    "delete does not check names: objects stored before the rules can be removed",
    () => {
      for (
        const resource of ["default/service/NGINX", "Bad_NS/endpoints/x.y", "default/node/N_1"]
      ) {
        const c = convertChange(change(resource, undefined, "delete"));
        assert.equal(c.type, resource.split("/")[1]);
      }
    },
  );
});

Deno.test("convertChange() refuses a kind or apiVersion that contradicts the route", async (t) => {
  await refuses(t, [
    {
      name: "Pod content on a service route",
      resource: "default/service/x",
      content: { kind: "Pod", ...svcIn("default", "x") },
      error: TypeError,
      message: 'kind "Pod" does not match the resource type service (expected Service)',
    },
    {
      name: "apps/v1 Service",
      resource: "default/service/x",
      content: { apiVersion: "apps/v1", kind: "Service", ...svcIn("default", "x") },
      error: RangeError,
      message: 'apiVersion "apps/v1" is not v1 (the apiVersion of Service)',
    },
    {
      name: "servicelist item of another kind",
      resource: "namespace/servicelist/service",
      content: [svcIn("default", "a"), { kind: "Endpoints", ...svcIn("default", "b") }],
      error: TypeError,
      message:
        '[1].kind "Endpoints" does not match the resource type servicelist (expected Service)',
    },
    {
      name: "Service content on an endpoints route",
      resource: "default/endpoints/x",
      content: { apiVersion: "v1", kind: "Service", metadata: { name: "x" } },
      error: TypeError,
      message: 'kind "Service" does not match the resource type endpoints (expected Endpoints)',
    },
    {
      name: "EndpointSlice v1beta1 (its node is in topology, not nodeName)",
      resource: "default/endpointslice/x-1",
      content: {
        apiVersion: "discovery.k8s.io/v1beta1",
        kind: "EndpointSlice",
        ...slice("x-1", "x"),
      },
      error: RangeError,
      message:
        'apiVersion "discovery.k8s.io/v1beta1" is not discovery.k8s.io/v1 (the apiVersion of EndpointSlice)',
    },
    {
      name: "podlist item of another kind",
      resource: "default/podlist/web",
      content: [{ kind: "Node", metadata: { name: "p" } }],
      error: TypeError,
      message: '[0].kind "Node" does not match the resource type podlist (expected Pod)',
    },
    {
      name: "Node with a core/v1 apiVersion",
      resource: "default/node/n1",
      content: { apiVersion: "core/v1", kind: "Node", metadata: { name: "n1" } },
      error: RangeError,
      message: 'apiVersion "core/v1" is not v1 (the apiVersion of Node)',
    },
  ]);
  await t.step("absent kind/apiVersion are accepted, and every fixture line converts", () => {
    assert.doesNotThrow(() => convertChange(change("default/service/x", svcIn("default", "x"))));
    for (const m of fixture) {
      const [namespace, type, name] = m.route.resource.split("/");
      assert.doesNotThrow(
        () =>
          convertChange({
            operation: m.route.operation,
            namespace,
            type,
            name,
            content: m.content,
          }),
        m.route.resource,
      );
    }
  });
});

Deno.test("convertChange() checks node addresses by type and pod phases", async (t) => {
  const node = (addresses: unknown[]) => ({ metadata: { name: "n1" }, status: { addresses } });
  await refuses(t, [
    {
      name: "InternalIP that is not an IP (it would become a tunnel peer)",
      resource: "default/node/n1",
      content: node([{ type: "InternalIP", address: "bogus" }]),
      error: RangeError,
      message: 'status.addresses[0].address "bogus" is not an IP address (type InternalIP)',
    },
    {
      name: "ExternalIP with a port",
      resource: "default/node/n1",
      content: node([{ type: "Hostname", address: "n1" }, {
        type: "ExternalIP",
        address: "192.0.2.1:80",
      }]),
      error: RangeError,
      message: 'status.addresses[1].address "192.0.2.1:80" is not an IP address (type ExternalIP)',
    },
    {
      name: "Hostname and InternalDNS that are not DNS names",
      resource: "default/node/n1",
      content: node([
        { type: "Hostname", address: "bad host" },
        { type: "InternalDNS", address: "a..b" },
        { type: "ExternalDNS", address: "-x.example" },
      ]),
      error: RangeError,
      message: 'status.addresses[0].address "bad host" is not a DNS name (type Hostname); ' +
        'status.addresses[1].address "a..b" is not a DNS name (type InternalDNS); ' +
        'status.addresses[2].address "-x.example" is not a DNS name (type ExternalDNS)',
    },
    {
      name: "pod phase Exploding",
      resource: "default/pod/p",
      content: { metadata: { name: "p" }, status: { phase: "Exploding" } },
      error: RangeError,
      message:
        'status.phase "Exploding" is not one of Pending, Running, Succeeded, Failed, Unknown',
    },
    {
      name: "pod phase in lowercase (in a podlist)",
      resource: "default/podlist/web",
      content: [{ metadata: { name: "p" }, status: { phase: "running" } }],
      error: RangeError,
      message:
        '[0].status.phase "running" is not one of Pending, Running, Succeeded, Failed, Unknown',
    },
  ]);
  await t.step("IP, DNS and other address types that are right are kept in order", () => {
    const addresses = [
      { type: "InternalIP", address: "10.0.0.1" },
      { type: "ExternalIP", address: "2001:db8::1" },
      { type: "Hostname", address: "Edge-1" },
      { type: "InternalDNS", address: "edge-1.example.internal." },
      { type: "SomethingNew", address: "anything" },
    ];
    const c = convertChange(change("default/node/n1", node(addresses)));
    assert.deepEqual(c.type === "node" && c.node?.addresses, addresses);
  });
  await t.step("every Kubernetes phase and an absent one are accepted", () => {
    for (const phase of ["Pending", "Running", "Succeeded", "Failed", "Unknown", undefined, ""]) {
      const c = convertChange(
        change("default/pod/p", { metadata: { name: "p" }, status: { phase } }),
      );
      assert.equal(c.type === "pod" && c.pod?.running, phase === "Running", String(phase));
    }
  });
});

Deno.test("convertChange() refuses endpoint addresses Kubernetes refuses: unspecified, loopback, link-local", async (t) => {
  const LOOPBACK = "may not be in the loopback range (127.0.0.0/8, ::1/128); Kubernetes rejects " +
    "it too";
  const LINK_LOCAL = "may not be in the link-local range (169.254.0.0/16, fe80::/10); Kubernetes " +
    "rejects it too";
  const UNSPECIFIED = "may not be unspecified (0.0.0.0, ::); Kubernetes rejects it too";
  const MULTICAST = "may not be in the link-local multicast range (224.0.0.0/24, ffx2::/16); " +
    "Kubernetes rejects it too";
  const eps = (field: string, ip: string) => ({
    metadata: { name: "x" },
    subsets: [{ [field]: [{ ip: "10.0.0.1" }, { ip, nodeName: "node-b" }], ports: [{ port: 80 }] }],
  });
  const sl = (ip: string) => slice("x-1", "x", { endpoints: [{ addresses: ["10.0.0.1", ip] }] });
  await refuses(t, [
    {
      name: "Endpoints: IPv4 loopback",
      resource: "default/endpoints/x",
      content: eps("addresses", "127.0.0.1"),
      error: RangeError,
      message: `subsets[0].addresses[1].ip "127.0.0.1" ${LOOPBACK}`,
    },
    {
      name: "Endpoints: IPv6 loopback, not ready",
      resource: "default/endpoints/x",
      content: eps("notReadyAddresses", "::1"),
      error: RangeError,
      message: `subsets[0].notReadyAddresses[1].ip "::1" ${LOOPBACK}`,
    },
    {
      name: "Endpoints: IPv4-mapped loopback",
      resource: "default/endpoints/x",
      content: eps("addresses", "::ffff:127.0.0.1"),
      error: RangeError,
      message: `subsets[0].addresses[1].ip "::ffff:127.0.0.1" ${LOOPBACK}`,
    },
    {
      name: "Endpoints: IPv4 unspecified",
      resource: "default/endpoints/x",
      content: eps("addresses", "0.0.0.0"),
      error: RangeError,
      message: `subsets[0].addresses[1].ip "0.0.0.0" ${UNSPECIFIED}`,
    },
    {
      name: "Endpoints: IPv6 unspecified",
      resource: "default/endpoints/x",
      content: eps("addresses", "::"),
      error: RangeError,
      message: `subsets[0].addresses[1].ip "::" ${UNSPECIFIED}`,
    },
    {
      name: "Endpoints: IPv4 link-local (metadata service)",
      resource: "default/endpoints/x",
      content: eps("addresses", "169.254.169.254"),
      error: RangeError,
      message: `subsets[0].addresses[1].ip "169.254.169.254" ${LINK_LOCAL}`,
    },
    {
      name: "Endpoints: IPv6 link-local",
      resource: "default/endpoints/x",
      content: eps("addresses", "fe80::1"),
      error: RangeError,
      message: `subsets[0].addresses[1].ip "fe80::1" ${LINK_LOCAL}`,
    },
    {
      name: "Endpoints: IPv4 link-local multicast",
      resource: "default/endpoints/x",
      content: eps("addresses", "224.0.0.1"),
      error: RangeError,
      message: `subsets[0].addresses[1].ip "224.0.0.1" ${MULTICAST}`,
    },
    {
      name: "Endpoints: IPv6 link-local multicast",
      resource: "default/endpoints/x",
      content: eps("addresses", "ff02::1"),
      error: RangeError,
      message: `subsets[0].addresses[1].ip "ff02::1" ${MULTICAST}`,
    },
    {
      name: "EndpointSlice: loopback",
      resource: "default/endpointslice/x-1",
      content: sl("127.0.0.1"),
      error: RangeError,
      message: `endpoints[0].addresses[1] "127.0.0.1" ${LOOPBACK}`,
    },
    {
      name: "EndpointSlice: unspecified",
      resource: "default/endpointslice/x-1",
      content: sl("0.0.0.0"),
      error: RangeError,
      message: `endpoints[0].addresses[1] "0.0.0.0" ${UNSPECIFIED}`,
    },
    {
      name: "EndpointSlice: link-local",
      resource: "default/endpointslice/x-1",
      content: sl("169.254.1.1"),
      error: RangeError,
      message: `endpoints[0].addresses[1] "169.254.1.1" ${LINK_LOCAL}`,
    },
    {
      name: "EndpointSlice: link-local multicast",
      resource: "default/endpointslice/x-1",
      content: sl("224.0.0.251"),
      error: RangeError,
      message: `endpoints[0].addresses[1] "224.0.0.251" ${MULTICAST}`,
    },
  ]);
  await t.step("ordinary addresses (and multicast beyond link-local) are accepted", () => {
    for (const ip of ["10.0.0.2", "192.168.1.1", "9.251.0.9", "224.0.1.1", "2001:db8::2"]) {
      const c = convertChange(change("default/endpoints/x", eps("addresses", ip)));
      assert.ok(c.type === "endpoints" && c.endpoints?.some((e) => e.ip === ip), ip);
    }
    const s = convertChange(change("default/endpointslice/x-1", sl("172.16.0.1")));
    assert.ok(s.type === "endpointslice" && s.slice?.endpoints.length === 2);
  });
});

Deno.test("convertChange() keeps a pod whose IP cannot be an endpoint, warns, and podEndpoints() skips it", async (t) => {
  const pod = (name: string, podIP: string) => ({
    metadata: { name, namespace: "default", labels: { app: "web" } },
    spec: { nodeName: "node-b", containers: [{ ports: [{ containerPort: 8080 }] }] },
    status: { phase: "Running", podIP, conditions: [{ type: "Ready", status: "True" }] },
  });
  const svc = serviceOf(
    convertChange(change("default/service/web", svcContent("web", { ports: [{ port: 80 }] }))),
  );
  const rows: { ip: string; warning: string | null }[] = [
    {
      ip: "127.0.0.1",
      warning: 'Not using pod "default/p" as an endpoint: status.podIP "127.0.0.1" may not be in ' +
        "the loopback range (127.0.0.0/8, ::1/128) (Kubernetes would not publish it as an " +
        "endpoint either)",
    },
    {
      ip: "fe80::2",
      warning: 'Not using pod "default/p" as an endpoint: status.podIP "fe80::2" may not be in ' +
        "the link-local range (169.254.0.0/16, fe80::/10) (Kubernetes would not publish it as " +
        "an endpoint either)",
    },
    { ip: "10.0.0.7", warning: null },
  ];
  for (const r of rows) {
    await t.step(r.ip, () => {
      const c = convertChange(change("default/pod/p", pod("p", r.ip)));
      assert.ok(c.type === "pod" && c.pod !== null);
      assert.equal(c.pod.ip, r.ip, "the pod is kept as sent");
      assert.deepEqual(
        c.warnings,
        r.warning === null ? [] : [{ msg: r.warning, fields: { pod: "default/p" } }],
      );
      const eps = podEndpoints(svc, [c.pod]);
      assert.deepEqual(eps.map((e) => e.ip), r.warning === null ? [r.ip] : []);
    });
  }
  await t.step("in a podlist: the list is accepted, the pod is named with its index", () => {
    const c = convertChange(
      change("default/podlist/web", [pod("ok", "10.0.0.8"), pod("lo", "127.0.0.2")]),
    );
    assert.ok(c.type === "podlist" && c.pods?.length === 2);
    assert.deepEqual(c.warnings.map((w) => w.msg), [
      'Not using pod "default/lo" as an endpoint: [1].status.podIP "127.0.0.2" may not be in the ' +
      "loopback range (127.0.0.0/8, ::1/128) (Kubernetes would not publish it as an endpoint " +
      "either)",
    ]);
    assert.deepEqual(podEndpoints(svc, c.pods).map((e) => e.ip), ["10.0.0.8"]);
  });
});

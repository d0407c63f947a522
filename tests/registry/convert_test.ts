// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { backendsFor, convertChange, podEndpoints } from "../../lib/registry/mod.ts";
import {
  change,
  entry,
  fixtureChange,
  IANA,
  LABEL_1123,
  refuses,
  serviceOf,
  svcContent,
} from "./_convert_fixtures.ts";

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

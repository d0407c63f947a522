// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * What every converter checks of an object (`meta` in `lib/registry/convert_fields.ts`): its
 * names against Kubernetes' rules and its `kind`/`apiVersion` against the route.
 */
import assert from "node:assert/strict";
import { convertChange } from "../../lib/registry/mod.ts";
import {
  change,
  fixture,
  IANA,
  LABEL_1035,
  LABEL_1123,
  refuses,
  slice,
  SUBDOMAIN,
  svcIn,
} from "./_convert_fixtures.ts";

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

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Conversion of Endpoints and EndpointSlices (`lib/registry/convert_endpoints.ts`).
 */
import assert from "node:assert/strict";
import { convertChange, type ResourceChange } from "../../lib/registry/mod.ts";
import { change, refuses, slice } from "./_convert_fixtures.ts";

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

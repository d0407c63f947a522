// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Conversion of Services (`lib/registry/convert_service.ts`).
 */
import assert from "node:assert/strict";
import { convertChange, type Service } from "../../lib/registry/mod.ts";
import { change, fixtureChange, serviceOf, svcContent } from "./_convert_fixtures.ts";

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

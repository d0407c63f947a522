// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Warnings about accepted changes (`lib/registry/warnings.ts`), logged by the registry once a
 * change is durable.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { type ResourceChange, writeFileAtomic } from "../../lib/registry/mod.ts";
import { open, withDir } from "./_fixtures.ts";

const LB = "edgemesh.kubeedge.io/lb-strategy";
const lbMsg = (service: string, value: string) =>
  `Ignoring annotation ${LB} of ${JSON.stringify(service)}: ${
    JSON.stringify(value)
  } is not one of RoundRobin, Random; the configured lbStrategy applies`;
const MISMATCH =
  'Endpoints of "default/web" match none of its ports: service ports [http], endpoint ports [web]';

/** A change in namespace `default`. */
function ch(
  type: ResourceChange["type"],
  name: string,
  content: unknown,
  operation: ResourceChange["operation"] = "insert",
): ResourceChange {
  return { operation, namespace: "default", type, name, content };
}

/** Endpoints `default/web`: one subset with `ports`, ready and not-ready addresses. */
function webEndpoints(
  ports: { name?: string; port: number; protocol?: string }[],
  ready: string[] = ["10.0.0.1"],
  notReady: string[] = [],
): ResourceChange {
  const addrs = (ips: string[]) => ips.map((ip) => ({ ip }));
  return ch("endpoints", "web", {
    metadata: { name: "web" },
    subsets: [{ addresses: addrs(ready), notReadyAddresses: addrs(notReady), ports }],
  });
}

/** Service `default/web` selecting `app: web` with `ports`, and optional annotations. */
function webService(
  ports: Record<string, unknown>[],
  annotations: Record<string, string> = {},
): ResourceChange {
  return ch("service", "web", {
    metadata: { name: "web", annotations },
    spec: { selector: { app: "web" }, ports },
  });
}

const HTTP_TO_WEB = [{ name: "http", port: 80, targetPort: "web" }];
const HTTP_TO_81 = [{ name: "http", port: 81, targetPort: "web" }];
const WEB_PORT = [{ name: "web", port: 8080 }];
const webPod = {
  metadata: { name: "web-1", labels: { app: "web" } },
  spec: { containers: [{ ports: [{ name: "web", containerPort: 8080 }] }] },
  status: { phase: "Running", podIP: "10.0.0.9", conditions: [{ type: "Ready", status: "True" }] },
};

Deno.test("Registry logs one warn line per change for ignored lb-strategy values and endpoint ports matching no service port", async (t) => {
  const rows: {
    name: string;
    /** `unchanged`: the change stores nothing new (nothing published, no warning). */
    steps: { change: ResourceChange; warns: string[]; unchanged?: true }[];
  }[] = [
    {
      name: "Endpoints port named after the targetPort: once per change that produces it",
      steps: [
        { change: webService(HTTP_TO_WEB), warns: [] },
        { change: webEndpoints(WEB_PORT), warns: [MISMATCH] },
        { change: webEndpoints(WEB_PORT, ["10.0.0.1", "10.0.0.2"]), warns: [MISMATCH] },
        // a pod the service selects does not decide its endpoints while Endpoints exist
        { change: ch("pod", "web-1", webPod), warns: [] },
        { change: webEndpoints([{ name: "http", port: 8080 }]), warns: [] },
      ],
    },
    {
      name: "Endpoints before their Service: the Service change warns",
      steps: [
        { change: webEndpoints(WEB_PORT), warns: [] },
        { change: webService(HTTP_TO_WEB), warns: [MISMATCH] },
        // a Service update renaming its port to the Endpoints' name fixes it
        { change: webService([{ name: "web", port: 80 }]), warns: [] },
      ],
    },
    {
      name: "a Service update to a port name its Endpoints lack",
      steps: [
        { change: webEndpoints([{ name: "http", port: 8080 }]), warns: [] },
        { change: webService([{ name: "http", port: 80 }]), warns: [] },
        {
          change: webService([{ name: "https", port: 443 }]),
          warns: [
            'Endpoints of "default/web" match none of its ports: service ports [https], endpoint ports [http]',
          ],
        },
      ],
    },
    {
      name: "matching port names: no warning",
      steps: [
        { change: webService(HTTP_TO_WEB), warns: [] },
        { change: webEndpoints([{ name: "http", port: 8080 }]), warns: [] },
      ],
    },
    {
      name: "only not-ready addresses: no warning until one is ready",
      steps: [
        { change: webService(HTTP_TO_WEB), warns: [] },
        { change: webEndpoints(WEB_PORT, [], ["10.0.0.1"]), warns: [] },
        { change: webEndpoints(WEB_PORT, [], []), warns: [] },
        { change: webEndpoints(WEB_PORT, ["10.0.0.1"], ["10.0.0.2"]), warns: [MISMATCH] },
      ],
    },
    {
      name: "EndpointSlices",
      steps: [
        { change: webService(HTTP_TO_WEB), warns: [] },
        {
          change: ch("endpointslice", "web-abc", {
            metadata: { name: "web-abc", labels: { "kubernetes.io/service-name": "web" } },
            endpoints: [{ addresses: ["10.0.0.1"] }],
            ports: WEB_PORT,
          }),
          warns: [
            'EndpointSlices of "default/web" match none of its ports: service ports [http], endpoint ports [web]',
          ],
        },
      ],
    },
    {
      name: "a single unnamed service port takes the single endpoint port, whatever its name",
      steps: [
        { change: webService([{ port: 80, targetPort: "web" }]), warns: [] },
        { change: webEndpoints(WEB_PORT), warns: [] },
      ],
    },
    {
      name: "same name, other protocol: the protocol is shown",
      steps: [
        { change: webService([{ name: "http", port: 80 }]), warns: [] },
        {
          change: webEndpoints([{ name: "http", port: 8080, protocol: "UDP" }]),
          warns: [
            'Endpoints of "default/web" match none of its ports: service ports [http], endpoint ports [http/UDP]',
          ],
        },
      ],
    },
    {
      name: "several ports: one match is enough; none lists every name once",
      steps: [
        {
          change: webService([{ name: "http", port: 80 }, { name: "admin", port: 9000 }]),
          warns: [],
        },
        {
          change: webEndpoints([{ name: "admin", port: 9000 }, { name: "web", port: 8080 }]),
          warns: [],
        },
        {
          change: ch("endpoints", "web", {
            metadata: { name: "web" },
            subsets: [
              { addresses: [{ ip: "10.0.0.1" }], ports: [{ name: "web", port: 8080 }] },
              {
                addresses: [{ ip: "10.0.0.2" }],
                ports: [{ name: "web", port: 8080 }, { name: "metrics", port: 9100 }],
              },
            ],
          }),
          warns: [
            'Endpoints of "default/web" match none of its ports: service ports [http, admin], endpoint ports [web, metrics]',
          ],
        },
      ],
    },
    {
      name: "unknown lb-strategy: once per change of the service, not for other objects",
      steps: [
        {
          change: webService(HTTP_TO_WEB, { [LB]: "LeastConn" }),
          warns: [lbMsg("default/web", "LeastConn")],
        },
        {
          // a real change of the service (its port): the line again
          change: webService(HTTP_TO_81, { [LB]: "LeastConn" }),
          warns: [lbMsg("default/web", "LeastConn")],
        },
        {
          // the same object again stores nothing new: no line (it was logged when stored)
          change: webService(HTTP_TO_81, { [LB]: "LeastConn" }),
          warns: [],
          unchanged: true,
        },
        { change: webEndpoints([{ name: "http", port: 8080 }]), warns: [] },
        {
          change: webService(HTTP_TO_WEB, { [LB]: "random" }),
          warns: [lbMsg("default/web", "random")],
        },
        {
          // another ignored value alone changes nothing stored (the value is dropped)
          change: webService(HTTP_TO_WEB, { [LB]: "LeastConn" }),
          warns: [],
          unchanged: true,
        },
        { change: webService(HTTP_TO_WEB, { [LB]: "Random" }), warns: [] },
      ],
    },
    {
      name: "both warnings of one change, conversion's first",
      steps: [
        { change: webEndpoints(WEB_PORT), warns: [] },
        {
          change: webService(HTTP_TO_WEB, { [LB]: "LeastConn" }),
          warns: [lbMsg("default/web", "LeastConn"), MISMATCH],
        },
      ],
    },
    {
      name: "servicelist: per service it lists",
      steps: [
        { change: webEndpoints(WEB_PORT), warns: [] },
        {
          change: ch("servicelist", "service", [
            {
              metadata: { name: "web", namespace: "default" },
              spec: { ports: HTTP_TO_WEB },
            },
            {
              metadata: { name: "db", namespace: "default", annotations: { [LB]: "Sticky" } },
              spec: { ports: [{ port: 5432 }] },
            },
          ]),
          warns: [lbMsg("default/db", "Sticky"), MISMATCH],
        },
      ],
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      await withDir("em-registry-", async (dir) => {
        const log = memoryLogger("warn");
        const reg = await open(dir, { log });
        // Two consumers of every snapshot: the lines come from the registry, not from them.
        let published = 0;
        reg.subscribe(() => published++);
        reg.subscribe(() => published++);
        let changes = 0;
        for (const [i, step] of row.steps.entries()) {
          const before = log.lines.length;
          const result = await reg.apply(step.change);
          assert.equal(result.unchanged, step.unchanged, `step ${i}`);
          if (!step.unchanged) changes++;
          const lines = log.lines.slice(before).map((l) => JSON.parse(l));
          assert.deepEqual(lines.map((l) => l.msg), step.warns, `step ${i}`);
          for (const l of lines) {
            assert.equal(l.level, "warn");
            assert.match(l.msg, new RegExp(`"${l.service}"`), "the service field names it");
          }
          assert.equal(published, 2 * changes);
        }
        await reg.close();
      });
    });
  }
});

Deno.test("Registry accepts a Service with an unknown lb-strategy: it gets a VIP and the configured strategy", async () => {
  await withDir("em-registry-", async (dir) => {
    const log = memoryLogger();
    const reg = await open(dir, { log });
    await reg.apply(webService([{ name: "http", port: 80 }], { [LB]: "LeastConn" }));
    const e = reg.snapshot().services.get("default/web");
    assert.equal(e?.vip, "9.251.0.2");
    assert.equal(e?.service.lbStrategy, undefined, "undefined: the config's lbStrategy applies");
    const warn = log.lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
    assert.deepEqual(warn.map(({ msg, service }) => ({ msg, service })), [
      { msg: lbMsg("default/web", "LeastConn"), service: "default/web" },
    ]);
    await reg.close();
    // what is persisted is the accepted service, without the ignored value
    const again = await open(dir);
    assert.equal(again.snapshot().services.get("default/web")?.vip, "9.251.0.2");
    await again.close();
  });
});

Deno.test("Registry logs no warning for changes it rejects or rolls back", async () => {
  await withDir("em-registry-", async (dir) => {
    let fail = false;
    const fs = {
      writeAtomic: (p: string, d: string) =>
        fail ? Promise.reject(new Error("disk full")) : writeFileAtomic(p, d),
    };
    const log = memoryLogger("warn");
    const reg = await open(dir, { fs, log });
    const warns = () =>
      log.lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn").map((l) => l.msg);
    await reg.apply(webService(HTTP_TO_WEB));
    // invalid: refused, so nothing of it is ignored or applied
    await assert.rejects(
      reg.apply(webService([{ name: "http", port: 0 }], { [LB]: "LeastConn" })),
      RangeError,
    );
    fail = true;
    await assert.rejects(reg.apply(webEndpoints(WEB_PORT)), /disk full/);
    // a real change of the Service (its port), so it needs the failing write
    await assert.rejects(reg.apply(webService(HTTP_TO_81, { [LB]: "LeastConn" })), /disk full/);
    assert.deepEqual(warns(), []);
    assert.equal(reg.snapshot().services.get("default/web")?.endpoints.length, 0);
    fail = false;
    // the second and third change are group-committed in one write: still a line per change
    const writes = reg.writeCount;
    await Promise.all(
      ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map((ip) => reg.apply(webEndpoints(WEB_PORT, [ip]))),
    );
    assert.equal(reg.writeCount, writes + 2);
    assert.deepEqual(warns(), [MISMATCH, MISMATCH, MISMATCH]);
    await reg.close();
  });
});

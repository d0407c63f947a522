// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * How changes mutate the working state (`lib/registry/tables.ts`): VIP allocation rules,
 * services of another proxy, EndpointSlices that name no Service.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { JOURNAL_FILE, type ResourceChange, STATE_FILE } from "../../lib/registry/mod.ts";
import { open, summary, svc, withDir } from "./_fixtures.ts";

Deno.test("Registry gives 1000 services distinct VIPs, kept across a reopen", async () => {
  await withDir("em-registry-", async (dir) => {
    const reg = await open(dir);
    await Promise.all(Array.from({ length: 1000 }, (_, i) => reg.apply(svc("many", `s${i}`))));
    const vips = [...reg.snapshot().services.values()].map((e) => e.vip);
    assert.equal(new Set(vips).size, 1000);
    assert.ok(vips.every((v) => v !== null && v.startsWith("9.251.") && v !== "9.251.0.1"));
    assert.equal(reg.snapshot().vips.size, 1000);
    const before = reg.snapshot().vips;
    await reg.close();
    const again = await open(dir);
    assert.deepEqual(again.snapshot().vips, before);
    await again.close();
  });
});

Deno.test("Registry VIP rules: headless, ExternalName and UDP-only services have no VIP; updates keep or release", async () => {
  await withDir("em-registry-", async (dir) => {
    const reg = await open(dir);
    await reg.apply(svc("d", "headless", { clusterIP: "None", ports: [{ port: 80 }] }));
    await reg.apply(svc("d", "ext", { type: "ExternalName", externalName: "example.org" }));
    await reg.apply(svc("d", "udp", { ports: [{ port: 53, protocol: "UDP" }] }));
    await reg.apply(
      svc("d", "mixed", {
        ports: [{ name: "dns", port: 53, protocol: "UDP" }, { name: "tcp", port: 53 }],
      }),
    );
    assert.deepEqual(summary(reg.snapshot()), {
      "d/ext": "null none",
      "d/headless": "null none",
      "d/mixed": "9.251.0.2 none",
      "d/udp": "null none",
    });
    await reg.apply(svc("d", "mixed", { ports: [{ name: "tcp", port: 5353 }] }));
    assert.equal(
      reg.snapshot().services.get("d/mixed")?.vip,
      "9.251.0.2",
      "an update keeps the VIP",
    );
    await reg.apply(svc("d", "mixed", { clusterIP: "None", ports: [{ port: 80 }] }));
    assert.equal(reg.snapshot().services.get("d/mixed")?.vip, null, "turning headless releases it");
    assert.equal(reg.status().pool.used, 0);
    await reg.apply({
      operation: "delete",
      namespace: "d",
      type: "service",
      name: "never-existed",
      content: null,
    });
    await reg.close();
  });
});

const PROXY_LABEL = { "service.kubernetes.io/service-proxy-name": "istio" };
const leaving = (key: string, dns: string) =>
  `Leaving ${
    JSON.stringify(key)
  } to proxy "istio" (label service.kubernetes.io/service-proxy-name): no VIP, not proxied by edgemesh; ${dns}`;
const NO_ADDRESS = "DNS answers its name without an address";

Deno.test("Registry keeps services labelled service-proxy-name, without a VIP, with one info line per change", async (t) => {
  const rows: {
    name: string;
    steps: {
      change: ResourceChange;
      /** The entry of `d/x` after the step: `<vip> <proxyName>`, or undefined when absent. */
      x: string | undefined;
      infos: string[];
      poolUsed: number;
    }[];
  }[] = [
    {
      name: "ClusterIP: in the registry, no VIP",
      steps: [{
        change: svc("d", "x", { ports: [{ port: 80 }] }, PROXY_LABEL),
        x: "null istio",
        infos: [leaving("d/x", NO_ADDRESS)],
        poolUsed: 0,
      }],
    },
    {
      name: "labelled later: the VIP is released, the entry stays; unlabelled again: a VIP",
      steps: [
        { change: svc("d", "x"), x: "9.251.0.2 -", infos: ["allocated VIP"], poolUsed: 1 },
        {
          change: svc("d", "x", { ports: [{ port: 80 }] }, PROXY_LABEL),
          x: "null istio",
          infos: ["released VIP", leaving("d/x", NO_ADDRESS)],
          poolUsed: 0,
        },
        {
          // a real change of the labelled service (its port): its line again
          change: svc("d", "x", { ports: [{ port: 81 }] }, PROXY_LABEL),
          x: "null istio",
          infos: [leaving("d/x", NO_ADDRESS)],
          poolUsed: 0,
        },
        {
          // the same object again changes nothing: no line
          change: svc("d", "x", { ports: [{ port: 81 }] }, PROXY_LABEL),
          x: "null istio",
          infos: [],
          poolUsed: 0,
        },
        { change: svc("d", "x"), x: "9.251.0.3 -", infos: ["allocated VIP"], poolUsed: 1 },
      ],
    },
    {
      name: "headless: kept as before, DNS answers it as usual",
      steps: [{
        change: svc("d", "x", { clusterIP: "None", ports: [{ port: 80 }] }, PROXY_LABEL),
        x: "null istio",
        infos: [leaving("d/x", "DNS answers it as usual")],
        poolUsed: 0,
      }],
    },
    {
      name: "servicelist: a line per labelled service it lists",
      steps: [{
        change: {
          operation: "insert",
          namespace: "d",
          type: "servicelist",
          name: "service",
          content: [
            { metadata: { name: "x", namespace: "d", labels: PROXY_LABEL }, spec: {} },
            { metadata: { name: "y", namespace: "d" }, spec: { ports: [{ port: 80 }] } },
          ],
        },
        x: "null istio",
        infos: ["allocated VIP", leaving("d/x", NO_ADDRESS)],
        poolUsed: 1,
      }],
    },
    {
      name: "deleted like any service",
      steps: [
        {
          change: svc("d", "x", { ports: [{ port: 80 }] }, PROXY_LABEL),
          x: "null istio",
          infos: [leaving("d/x", NO_ADDRESS)],
          poolUsed: 0,
        },
        {
          change: {
            operation: "delete",
            namespace: "d",
            type: "service",
            name: "x",
            content: null,
          },
          x: undefined,
          infos: [],
          poolUsed: 0,
        },
      ],
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      await withDir("em-registry-", async (dir) => {
        const log = memoryLogger("info");
        const reg = await open(dir, { log });
        const x = () => {
          const e = reg.snapshot().services.get("d/x");
          return e && `${e.vip} ${e.service.proxyName ?? "-"}`;
        };
        for (const [i, step] of row.steps.entries()) {
          const before = log.lines.length;
          await reg.apply(step.change);
          const lines = log.lines.slice(before).map((l) => JSON.parse(l));
          assert.deepEqual(
            lines.filter((l) => l.level === "info").map((l) => l.msg),
            step.infos,
            `step ${i}`,
          );
          assert.equal(x(), step.x, `step ${i}`);
          assert.equal(reg.status().pool.used, step.poolUsed, `step ${i}`);
          const vips = [...reg.snapshot().vips.values()];
          assert.equal(vips.includes("d/x"), step.x !== undefined && !step.x.startsWith("null"));
        }
        // persisted: back the same after a restart (state.json and the journal), no VIP
        const last = x();
        await reg.close();
        const again = await open(dir);
        const e = again.snapshot().services.get("d/x");
        assert.equal(e && `${e.vip} ${e.service.proxyName ?? "-"}`, last);
        assert.equal(again.status().pool.used, row.steps.at(-1)!.poolUsed);
        await again.close();
      });
    });
  }
});

Deno.test("Registry ignores an EndpointSlice without kubernetes.io/service-name until it names a Service", async (t) => {
  /** EndpointSlice `shop/custom` with one address and, when given, the service-name label. */
  const custom = (
    ip: string,
    service?: string,
    operation: ResourceChange["operation"] = "update",
  ): ResourceChange => ({
    operation,
    namespace: "shop",
    type: "endpointslice",
    name: "custom",
    content: {
      metadata: {
        name: "custom",
        labels: service === undefined ? { owner: "my-controller" } : {
          "kubernetes.io/service-name": service,
        },
      },
      endpoints: [{ addresses: [ip] }],
      ports: [{ name: "", port: 8080 }],
    },
  });
  const del: ResourceChange = {
    operation: "delete",
    namespace: "shop",
    type: "endpointslice",
    name: "custom",
    content: null,
  };
  const IGNORED =
    'Ignoring EndpointSlice "shop/custom": it has no label kubernetes.io/service-name, so it belongs to no Service';
  const rows: {
    name: string;
    /** `unchanged`: the change stores nothing new (no version, no write). */
    steps: { change: ResourceChange; web: string; debug: string[]; unchanged?: true }[];
  }[] = [
    {
      name: "unlabelled: no effect; labelled later: attached; label removed: detached; deleted",
      steps: [
        // Nothing of an unlabelled slice is stored: accepted, unchanged (still noted at debug).
        {
          change: custom("10.0.9.1", undefined, "insert"),
          web: "none",
          debug: [IGNORED],
          unchanged: true,
        },
        { change: custom("10.0.9.2"), web: "none", debug: [IGNORED], unchanged: true },
        { change: custom("10.0.9.3", "web"), web: "endpointslice 10.0.9.3", debug: [] },
        { change: custom("10.0.9.4"), web: "none", debug: [IGNORED] },
        { change: custom("10.0.9.5", "web"), web: "endpointslice 10.0.9.5", debug: [] },
        { change: del, web: "none", debug: [] },
      ],
    },
    {
      name: "deleting a slice that never named a Service",
      steps: [
        {
          change: custom("10.0.9.1", undefined, "insert"),
          web: "none",
          debug: [IGNORED],
          unchanged: true,
        },
        { change: del, web: "none", debug: [], unchanged: true },
        { change: del, web: "none", debug: [], unchanged: true },
      ],
    },
    {
      name: "an empty label value names no Service",
      steps: [{ change: custom("10.0.9.1", ""), web: "none", debug: [IGNORED], unchanged: true }],
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      await withDir("em-registry-", async (dir) => {
        const log = memoryLogger("debug");
        const reg = await open(dir, { log });
        await reg.apply(svc("shop", "web"));
        const web = () => {
          const e = reg.snapshot().services.get("shop/web")!;
          return `${e.endpointSource} ${e.endpoints.map((ep) => ep.ip).join(",")}`.trim();
        };
        for (const [i, step] of row.steps.entries()) {
          const before = log.lines.length;
          const version = reg.snapshot().version;
          const result = await reg.apply(step.change);
          assert.equal(result.unchanged, step.unchanged, `step ${i}: accepted, unchanged or not`);
          assert.equal(reg.snapshot().version, version + (step.unchanged ? 0 : 1), `step ${i}`);
          assert.equal(web(), step.web, `step ${i}`);
          assert.equal(reg.snapshot().services.size, 1, `step ${i}: no other service appears`);
          const ignored = log.lines.slice(before).map((l) => JSON.parse(l))
            .filter((l) => l.endpointslice !== undefined);
          assert.deepEqual(
            ignored.map((l) => [l.level, l.msg]),
            step.debug.map((m) => ["debug", m]),
          );
        }
        // persisted state: the same after a restart (nothing of an ignored slice is stored)
        const last = web();
        await reg.close();
        const again = await open(dir);
        const e = again.snapshot().services.get("shop/web")!;
        assert.equal(
          `${e.endpointSource} ${e.endpoints.map((ep) => ep.ip).join(",")}`.trim(),
          last,
        );
        await again.close();
        const state = JSON.parse(await Deno.readTextFile(`${dir}/state/${STATE_FILE}`));
        const journal = await Deno.readTextFile(`${dir}/state/${JOURNAL_FILE}`).catch(() => "");
        assert.equal(
          state.slices.some((sl: { service: string }) => sl.service === "") ||
            journal.includes('"service":""'),
          false,
          "no slice without a Service is stored",
        );
      });
    });
  }
});

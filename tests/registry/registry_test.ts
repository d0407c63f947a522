// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import {
  backendsFor,
  JOURNAL_FILE,
  listServices,
  PoolExhaustedError,
  Registry,
  type ResourceChange,
  type Snapshot,
  STATE_FILE,
  writeFileAtomic,
} from "../../lib/registry/mod.ts";
import { encodeJournalEntry, encodeState } from "../../lib/registry/store.ts";
import { open, withDir } from "./_fixtures.ts";

const FIXTURE = new URL("../fixtures/kubeedge-messages.ndjson", import.meta.url);

/** Splits a fixture line into a change (the envelope parser belongs to lib/control). */
function lineToChange(line: string): ResourceChange {
  const m = JSON.parse(line);
  const [namespace, type, name] = m.route.resource.split("/");
  return { operation: m.route.operation, namespace, type, name, content: m.content };
}

async function fixtureChanges(): Promise<ResourceChange[]> {
  return (await Deno.readTextFile(FIXTURE)).trim().split("\n").map(lineToChange);
}

function svc(
  ns: string,
  name: string,
  spec: Record<string, unknown> = { ports: [{ port: 80 }] },
  labels?: Record<string, string>,
): ResourceChange {
  return {
    operation: "insert",
    namespace: ns,
    type: "service",
    name,
    content: { metadata: { name, namespace: ns, ...(labels ? { labels } : {}) }, spec },
  };
}

function summary(s: Snapshot): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of listServices(s)) {
    out[`${e.service.namespace}/${e.service.name}`] = `${e.vip} ${e.endpointSource} ${
      e.endpoints.map((ep) => `${ep.ip}${ep.ready ? "" : "(not ready)"}`).join(",")
    }`.trim();
  }
  return out;
}

Deno.test("Registry.apply() of every fixture line gives the expected state at each step", async () => {
  await withDir("em-registry-", async (dir) => {
    const reg = await open(dir);
    const changes = await fixtureChanges();
    const expected: Record<number, Record<string, string>> = {
      5: {
        "cache/redis": "9.251.0.3 endpointslice 10.244.1.20,10.244.2.21(not ready)",
        "default/nginx": "9.251.0.2 endpoints 10.244.1.5,10.244.2.9,10.244.1.6(not ready)",
        "stream/kafka-headless": "null none",
      },
      8: {
        "cache/redis": "9.251.0.3 endpointslice 10.244.1.20,10.244.2.21(not ready)",
        "default/legacy": "9.251.0.4 podlist 10.244.1.30,10.244.2.31",
        "default/nginx": "9.251.0.2 endpoints 10.244.1.5,10.244.2.9,10.244.1.6(not ready)",
        "infra/syslog": "null none",
        "stream/kafka-headless": "null none",
      },
      // The servicelist replaces the whole set: kafka-headless, syslog and legacy are gone.
      10: {
        "cache/redis": "9.251.0.3 endpointslice 10.244.1.20,10.244.2.21(not ready)",
        "default/nginx": "9.251.0.2 endpoints 10.244.1.5,10.244.2.9,10.244.1.6(not ready)",
      },
    };
    // The last line deletes legacy, which the servicelist already removed: it changes nothing,
    // so it is acknowledged as unchanged and the version stays.
    const versions = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10];
    assert.equal(changes.length, versions.length);
    for (const [i, c] of changes.entries()) {
      const result = await reg.apply(c);
      assert.equal(reg.snapshot().version, versions[i], `after line ${i + 1}`);
      assert.equal(result.unchanged, i === 10 ? true : undefined, `after line ${i + 1}`);
      const want = expected[i + 1];
      if (want) assert.deepEqual(summary(reg.snapshot()), want, `after line ${i + 1}`);
      if (i + 1 === 8) {
        const legacy = reg.snapshot().services.get("default/legacy")!;
        assert.deepEqual(
          backendsFor(legacy, legacy.service.ports[0]!).map((b) => `${b.ip}:${b.port}`),
          [
            "10.244.1.30:7000",
            "10.244.2.31:7000",
          ],
        );
        const syslog = reg.snapshot().services.get("infra/syslog")!;
        assert.deepEqual(syslog.service.ports.map((p) => `${p.protocol}/${p.port}`), ["UDP/514"]);
      }
    }
    const snap = reg.snapshot();
    assert.deepEqual(Object.keys(summary(snap)), ["cache/redis", "default/nginx"]);
    assert.deepEqual([...snap.vips].sort(), [["9.251.0.2", "default/nginx"], [
      "9.251.0.3",
      "cache/redis",
    ]]);
    assert.equal(snap.vips.has("9.251.0.4"), false, "legacy's VIP is released");
    assert.deepEqual(reg.status().pool, { size: 65533, used: 2, subnet: "9.251.0.0/16" });
    assert.deepEqual([...snap.nodes.keys()], ["edge-node-2"]);
    const nginx = snap.services.get("default/nginx")!;
    assert.deepEqual(backendsFor(nginx, nginx.service.ports[1]!).map((b) => `${b.ip}:${b.port}`), [
      "10.244.1.5:9113",
      "10.244.2.9:9113",
    ]);
    await reg.close();
  });
});

Deno.test("Registry persists services, endpoints and VIPs across close and reopen", async () => {
  await withDir("em-registry-", async (dir) => {
    const reg = await open(dir);
    for (const c of await fixtureChanges()) await reg.apply(c);
    await reg.apply(svc("default", "extra"));
    const before = reg.snapshot();
    await reg.close();
    const again = await open(dir);
    const after = again.snapshot();
    assert.equal(after.version, before.version);
    assert.deepEqual(after.services, before.services);
    assert.deepEqual(after.vips, before.vips);
    assert.deepEqual(after.nodes, before.nodes);
    assert.equal(again.loadWarning, null);
    // next-fit cursor survives: .4 (legacy, released) is not handed out again right away
    await again.apply(svc("default", "newer"));
    assert.equal(again.snapshot().services.get("default/newer")?.vip, "9.251.0.6");
    // the podlist of deleted legacy is kept: legacy comes back with its pods
    await again.apply(
      svc("default", "legacy", {
        selector: { app: "legacy" },
        ports: [{ name: "tcp", port: 7000 }],
      }),
    );
    assert.equal(
      summary(again.snapshot())["default/legacy"],
      "9.251.0.7 podlist 10.244.1.30,10.244.2.31",
    );
    await again.close();
  });
});

Deno.test("Registry.open() moves an unreadable state file aside and starts empty", async (t) => {
  const rows: [string, string, RegExp][] = [
    ["not JSON", "{not json", /SyntaxError|JSON|Expected/],
    ["truncated", '{"format":1,"version":3,"subn', /JSON|Unterminated|Expected/],
    ["wrong format", '{"format":2}', /format 2 is not the supported format 1/],
    [
      "bad field",
      '{"format":1,"version":1,"subnet":"9.251.0.0/16","cursor":2,"vips":{},"services":[{}]',
      /JSON|Expected/,
    ],
    [
      "bad record",
      JSON.stringify({
        format: 1,
        version: 1,
        subnet: "9.251.0.0/16",
        cursor: 2,
        vips: {},
        services: [{ service: 5 }],
        endpoints: [],
        slices: [],
        podlists: [],
        pods: [],
        nodes: [],
      }),
      /services\[0\]\.service is not an object/,
    ],
  ];
  for (const [name, content, reason] of rows) {
    await t.step(name, async () => {
      await withDir("em-registry-", async (dir) => {
        await Deno.mkdir(`${dir}/state`);
        const path = `${dir}/state/state.json`;
        await Deno.writeTextFile(path, content);
        const log = memoryLogger();
        const reg = await open(dir, { log, now: () => Date.UTC(2026, 0, 2, 3, 4, 5) });
        assert.equal(reg.snapshot().services.size, 0);
        assert.equal(reg.snapshot().version, 0);
        const aside = `${path}.corrupt-20260102T030405Z`;
        assert.equal(await Deno.readTextFile(aside), content, "original kept byte for byte");
        const err = log.lines.map((l) => JSON.parse(l)).find((l) => l.level === "error");
        assert.ok(err, "an error line is logged");
        assert.equal(err.path, path);
        assert.equal(err.movedTo, aside);
        assert.match(err.reason, reason);
        assert.ok(
          reg.loadWarning?.includes(path) && reg.loadWarning.includes(aside),
          reg.loadWarning ?? "",
        );
        assert.equal(reg.status().loadWarning, reg.loadWarning);
        // the registry works, and the next write does not touch the moved-aside file
        await reg.apply(svc("default", "a"));
        assert.equal(await Deno.readTextFile(aside), content);
        await reg.close();
      });
    });
  }
});

Deno.test("Registry group-commits a burst: 200 applies, fewer writes, all durable", async () => {
  await withDir("em-registry-", async (dir) => {
    let writes = 0;
    const fs = { writeAtomic: (p: string, d: string) => (writes++, writeFileAtomic(p, d)) };
    const reg = await open(dir, { fs });
    const all = [];
    for (let i = 0; i < 200; i++) all.push(reg.apply(svc("burst", `s${i}`)));
    await Promise.all(all);
    assert.ok(writes < 200, `${writes} writes`);
    assert.ok(writes >= 1);
    assert.equal(reg.writeCount, writes);
    assert.equal(reg.snapshot().version, 200);
    const file = JSON.parse(await Deno.readTextFile(`${dir}/state/state.json`));
    assert.equal(file.format, 1);
    assert.equal(file.services.length, 200);
    assert.equal(Object.keys(file.vips).length, 200);
    await reg.close();
  });
});

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

Deno.test("Registry.apply() that fails changes neither the snapshot nor the file", async (t) => {
  await withDir("em-registry-", async (dir) => {
    const reg = await Registry.open({
      stateDir: `${dir}/state`,
      subnet: "9.251.0.0/30",
      log: nullLogger,
    });
    await reg.apply(svc("default", "first"));
    const path = `${dir}/state/state.json`;
    const file = await Deno.readTextFile(path);
    const snap = reg.snapshot();
    const attempts: [string, ResourceChange, abstract new (...a: never[]) => Error, string][] = [
      [
        "invalid port",
        svc("default", "bad", { ports: [{ port: 70000 }] }),
        RangeError,
        'Cannot apply "default/service/bad": spec.ports[0].port 70000 is out of range',
      ],
      [
        "pool full",
        svc("default", "nginx"),
        PoolExhaustedError,
        'Cannot allocate VIP for "default/nginx": subnet 9.251.0.0/30 is full',
      ],
      [
        "servicelist whose second new service does not fit",
        {
          operation: "update",
          namespace: "namespace",
          type: "servicelist",
          name: "service",
          content: [
            { metadata: { name: "first", namespace: "default" }, spec: { ports: [{ port: 80 }] } },
            { metadata: { name: "nginx", namespace: "default" }, spec: { ports: [{ port: 80 }] } },
          ],
        },
        PoolExhaustedError,
        'Cannot allocate VIP for "default/nginx": subnet 9.251.0.0/30 is full',
      ],
      [
        "servicelist that would swap services in a full pool is fine only when the old one goes",
        {
          operation: "update",
          namespace: "namespace",
          type: "servicelist",
          name: "service",
          content: [
            { metadata: { name: "a", namespace: "default" }, spec: { ports: [{ port: 80 }] } },
            { metadata: { name: "b", namespace: "default" }, spec: { ports: [{ port: 80 }] } },
          ],
        },
        PoolExhaustedError,
        'Cannot allocate VIP for "default/b": subnet 9.251.0.0/30 is full',
      ],
    ];
    for (const [name, change, cls, message] of attempts) {
      await t.step(name, async () => {
        await assert.rejects(reg.apply(change), (e: unknown) => {
          assert.ok(e instanceof cls);
          assert.equal((e as Error).message, message);
          return true;
        });
        assert.equal(reg.snapshot(), snap, "same snapshot object");
        assert.equal(reg.snapshot().version, 1);
        assert.equal(await Deno.readTextFile(path), file, "file unchanged");
        assert.equal(reg.status().pool.used, 1);
      });
    }
    await t.step("a servicelist swapping the one service in a full pool succeeds", async () => {
      await reg.apply({
        operation: "update",
        namespace: "namespace",
        type: "servicelist",
        name: "service",
        content: [{
          metadata: { name: "other", namespace: "default" },
          spec: { ports: [{ port: 80 }] },
        }],
      });
      assert.deepEqual(summary(reg.snapshot()), { "default/other": "9.251.0.2 none" });
    });
    await reg.close();
  });
});

Deno.test("Registry rolls back changes whose write fails", async () => {
  await withDir("em-registry-", async (dir) => {
    let fail = false;
    const fs = {
      writeAtomic: (p: string, d: string) =>
        fail ? Promise.reject(new Error("disk full")) : writeFileAtomic(p, d),
    };
    const log = memoryLogger();
    const reg = await open(dir, { fs, log });
    await reg.apply(svc("default", "a"));
    const snap = reg.snapshot();
    fail = true;
    const results = await Promise.allSettled([
      reg.apply(svc("default", "b")),
      reg.apply(svc("default", "c")),
    ]);
    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    assert.match(
      String((results[0] as PromiseRejectedResult).reason),
      /Cannot apply "default\/service\/b": writing ".*state.json" failed: disk full/,
    );
    assert.equal(reg.snapshot(), snap);
    assert.equal(reg.status().pool.used, 1);
    assert.ok(log.lines.some((l) => l.includes("cannot write state file")));
    fail = false;
    await reg.apply(svc("default", "d"));
    assert.deepEqual(summary(reg.snapshot()), {
      "default/a": "9.251.0.2 none",
      "default/d": "9.251.0.3 none",
    });
    assert.equal(reg.snapshot().version, 2);
    await reg.close();
  });
});

Deno.test("Registry picks endpoint sources by precedence and joins early endpoints", async () => {
  await withDir("em-registry-", async (dir) => {
    const reg = await open(dir);
    const ns = "shop";
    const pod = (name: string, ip: string) => ({
      metadata: { name, labels: { app: "web" } },
      spec: { containers: [{ ports: [{ name: "http", containerPort: 8080 }] }] },
      status: { phase: "Running", podIP: ip, conditions: [{ type: "Ready", status: "True" }] },
    });
    const ch = (
      type: ResourceChange["type"],
      name: string,
      content: unknown,
      operation: ResourceChange["operation"] = "insert",
    ): ResourceChange => ({ operation, namespace: ns, type, name, content });
    const slice = (name: string, ip: string) =>
      ch("endpointslice", name, {
        metadata: { name, labels: { "kubernetes.io/service-name": "web" } },
        addressType: "IPv4",
        endpoints: [{ addresses: [ip] }],
        ports: [{ name: "", port: 8080 }],
      });
    const state = () => summary(reg.snapshot())["shop/web"];
    // endpoints before their service are kept and joined later
    await reg.apply(ch("podlist", "web", [pod("p1", "10.0.0.1")]));
    assert.equal(reg.snapshot().services.size, 0);
    await reg.apply(
      svc(ns, "web", { selector: { app: "web" }, ports: [{ port: 80, targetPort: "http" }] }),
    );
    assert.equal(state(), "9.251.0.2 podlist 10.0.0.1");
    await reg.apply(
      ch("endpoints", "web", {
        metadata: { name: "web" },
        subsets: [{ addresses: [{ ip: "10.0.1.1" }], ports: [{ port: 8080 }] }],
      }),
    );
    assert.equal(state(), "9.251.0.2 endpoints 10.0.1.1");
    await reg.apply(slice("web-a", "10.0.2.1"));
    await reg.apply(slice("web-b", "10.0.2.2"));
    assert.equal(state(), "9.251.0.2 endpointslice 10.0.2.1,10.0.2.2");
    await reg.apply(ch("endpointslice", "web-a", undefined, "delete"));
    assert.equal(state(), "9.251.0.2 endpointslice 10.0.2.2");
    await reg.apply(ch("endpointslice", "web-b", undefined, "delete"));
    assert.equal(state(), "9.251.0.2 endpoints 10.0.1.1");
    await reg.apply(ch("endpoints", "web", undefined, "delete"));
    assert.equal(state(), "9.251.0.2 podlist 10.0.0.1");
    await reg.apply(ch("podlist", "web", undefined, "delete"));
    assert.equal(state(), "9.251.0.2 none");
    // single pods matching the selector (ctl apply of Pods) are used when nothing else exists
    await reg.apply(ch("pod", "p9", pod("p9", "10.0.9.9")));
    assert.equal(state(), "9.251.0.2 podlist 10.0.9.9");
    const web = reg.snapshot().services.get("shop/web")!;
    assert.deepEqual(backendsFor(web, web.service.ports[0]!).map((b) => b.port), [8080]);
    await reg.apply(ch("pod", "p9", undefined, "delete"));
    assert.equal(state(), "9.251.0.2 none");
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

Deno.test("Registry.subscribe() is called after each durable change until unsubscribed", async () => {
  await withDir("em-registry-", async (dir) => {
    const reg = await open(dir);
    const seen: number[] = [];
    const stop = reg.subscribe((s) => {
      seen.push(s.version);
      assert.ok(Object.isFrozen(s));
    });
    await reg.apply(svc("default", "a"));
    await reg.apply({
      operation: "insert",
      namespace: "default",
      type: "node",
      name: "n1",
      content: { metadata: { name: "n1" } },
    });
    await assert.rejects(reg.apply(svc("default", "bad", { ports: [{ port: 0 }] })), RangeError);
    stop();
    await reg.apply(svc("default", "b"));
    assert.deepEqual(seen, [1, 2]);
    await reg.close();
    await assert.rejects(reg.apply(svc("default", "c")), /registry is closed/);
  });
});

Deno.test("Registry.open() reallocates VIPs outside a changed subnet and creates the state dir 0700", async () => {
  await withDir("em-registry-", async (dir) => {
    const reg = await open(dir);
    assert.equal((await Deno.stat(`${dir}/state`)).mode! & 0o777, 0o700);
    await reg.apply(svc("default", "a"));
    await reg.apply(svc("default", "b"));
    await reg.close();
    const log = memoryLogger();
    const moved = await open(dir, { subnet: "10.77.0.0/24", log });
    assert.deepEqual(summary(moved.snapshot()), {
      "default/a": "10.77.0.2 none",
      "default/b": "10.77.0.3 none",
    });
    assert.ok(
      log.lines.some((l) => l.includes("dropping persisted VIP") && l.includes("9.251.0.2")),
    );
    await moved.close();
    const file = JSON.parse(await Deno.readTextFile(`${dir}/state/state.json`));
    assert.deepEqual(
      file.vips,
      { "default/a": "10.77.0.2", "default/b": "10.77.0.3" },
      "rewritten at open",
    );
  });
});

Deno.test("Registry exports size, pool and change metrics", async () => {
  await withDir("em-registry-", async (dir) => {
    const metrics = new MetricsRegistry();
    const reg = await open(dir, { metrics });
    for (const c of await fixtureChanges()) await reg.apply(c);
    await assert.rejects(reg.apply(svc("default", "bad", { ports: [{ port: 0 }] })));
    const text = metrics.render();
    for (
      const line of [
        "edgemesh_registry_services 2",
        "edgemesh_registry_endpoints 5",
        "edgemesh_registry_nodes 1",
        "edgemesh_vip_pool_size 65533",
        "edgemesh_vip_pool_used 2",
        'edgemesh_registry_changes_total{operation="insert",result="ok",type="service"} 5',
        'edgemesh_registry_changes_total{operation="insert",result="invalid",type="service"} 1',
      ]
    ) assert.ok(text.includes(line), `missing ${line}\n${text}`);
    await reg.close();
  });
});

Deno.test("Registry loses nothing acknowledged when the process is killed with SIGKILL", async () => {
  await withDir("em-registry-", async (dir) => {
    const mod = new URL("../../lib/registry/mod.ts", import.meta.url).href;
    const log = new URL("../../lib/log/mod.ts", import.meta.url).href;
    const script = `
      import { Registry } from ${JSON.stringify(mod)};
      import { nullLogger } from ${JSON.stringify(log)};
      const reg = await Registry.open({ stateDir: ${
      JSON.stringify(`${dir}/state`)
    }, subnet: "9.251.0.0/16", log: nullLogger });
      await Promise.all(Array.from({ length: 50 }, (_, i) => reg.apply({
        operation: "insert", namespace: "k", type: "service", name: "s" + i,
        content: { metadata: { name: "s" + i }, spec: { ports: [{ port: 80 }] } },
      })));
      await Deno.stdout.write(new TextEncoder().encode("acked\\n"));
      setInterval(() => {}, 1e6); // stay alive until killed (a bare pending promise would exit)
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("acked")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    child.kill("SIGKILL");
    reader.releaseLock();
    await child.stdout.cancel();
    const status = await child.status;
    assert.equal(out.trim(), "acked");
    assert.equal(status.signal, "SIGKILL");
    const reg = await open(dir);
    assert.equal(reg.snapshot().services.size, 50);
    assert.equal(new Set(reg.snapshot().vips.keys()).size, 50);
    await reg.close();
  });
});

Deno.test("Registry.open() loads objects accepted before the name and address rules; only new changes are checked", async () => {
  await withDir("em-registry-legacy-", async (dir) => {
    const service = (namespace: string, name: string) => ({
      service: {
        namespace,
        name,
        kind: { type: "ClusterIP" as const },
        ports: [{
          name: "",
          protocol: "TCP" as const,
          port: 80,
          targetPort: { kind: "number" as const, port: 8080 },
        }],
        sessionAffinity: { type: "None" as const },
      },
      selector: null,
    });
    const endpoint = {
      ip: "10.0.0.1",
      ready: true,
      nodeName: "N_1",
      hostname: "Web_0",
      podName: null,
      ports: [{ name: "HTTP", port: 8080, protocol: "TCP" as const }],
    };
    await Deno.mkdir(`${dir}/state`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/state/${STATE_FILE}`,
      encodeState({
        version: 1,
        subnet: "9.251.0.0/16",
        cursor: 3,
        vips: new Map([["default/NGINX", "9.251.0.2"], ["Bad_NS/x.y", "9.251.0.3"]]),
        services: [service("default", "NGINX"), service("Bad_NS", "x.y")],
        endpoints: [{ namespace: "default", name: "NGINX", endpoints: [endpoint] }],
        slices: [],
        podlists: [],
        pods: [],
        nodes: [{ name: "N_1", addresses: [{ type: "InternalIP", address: "bogus" }] }],
      }),
    );
    await Deno.writeTextFile(
      `${dir}/state/${JOURNAL_FILE}`,
      encodeJournalEntry({
        version: 2,
        cursor: 4,
        ops: [["services", "default/a_b", service("default", "a_b")], [
          "vips",
          "default/a_b",
          "9.251.0.4",
        ]],
      }),
    );
    const reg = await open(dir);
    assert.equal(reg.loadWarning, null);
    assert.deepEqual(summary(reg.snapshot()), {
      "Bad_NS/x.y": "9.251.0.3 none",
      "default/NGINX": "9.251.0.2 endpoints 10.0.0.1",
      "default/a_b": "9.251.0.4 none",
    });
    assert.deepEqual(reg.snapshot().nodes.get("N_1")?.addresses, [
      { type: "InternalIP", address: "bogus" },
    ]);
    // An update of such an object is a new change and is checked; a delete is not, so it can go.
    await assert.rejects(() => reg.apply(svc("default", "NGINX")), RangeError);
    assert.equal(reg.snapshot().version, 2);
    await reg.apply({
      operation: "delete",
      namespace: "default",
      type: "service",
      name: "NGINX",
      content: null,
    });
    assert.deepEqual(Object.keys(summary(reg.snapshot())), ["Bad_NS/x.y", "default/a_b"]);
    await reg.close();
    const again = await open(dir);
    assert.deepEqual(Object.keys(summary(again.snapshot())), ["Bad_NS/x.y", "default/a_b"]);
    assert.equal(again.loadWarning, null);
    await again.close();
  });
});

// ---------------------------------------------------------------------------------------------
// Warnings about accepted changes (lib/registry/warnings.ts)

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

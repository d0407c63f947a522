// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Restoring at open (`lib/registry/restore.ts`): what was acknowledged comes back on its VIPs,
 * unreadable state is moved aside, VIPs outside a changed subnet are reallocated, and objects
 * accepted before a rule keep loading.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { JOURNAL_FILE, STATE_FILE } from "../../lib/registry/mod.ts";
import { encodeJournalEntry, encodeState } from "../../lib/registry/state_format.ts";
import { fixtureChanges, open, summary, svc, withDir } from "./_fixtures.ts";

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

Deno.test("Registry.open() with reserved addresses keeps restored VIPs and skips them for new ones", async (t) => {
  await withDir("em-registry-", async (dir) => {
    const reg = await open(dir);
    await reg.apply(svc("default", "a")); // 9.251.0.2, in state.json (first batch)
    await reg.apply(svc("default", "b")); // 9.251.0.3, in the journal
    assert.equal(reg.snapshot().services.get("default/b")?.vip, "9.251.0.3");
    await reg.close();
    // The node now holds .3 (b's) and .4 (the next one) on another interface.
    const metrics = new MetricsRegistry();
    const again = await open(dir, { reserved: ["9.251.0.3", "9.251.0.4"], metrics });
    try {
      await t.step("the journal's VIPs come back as they were", () => {
        assert.equal(again.snapshot().services.get("default/a")?.vip, "9.251.0.2");
        assert.equal(again.snapshot().services.get("default/b")?.vip, "9.251.0.3");
      });
      await t.step("a new service skips the reserved address", async () => {
        await again.apply(svc("default", "c"));
        assert.equal(again.snapshot().services.get("default/c")?.vip, "9.251.0.5");
      });
      await t.step("stats and metrics: a held VIP is used, a node-only address reserved", () => {
        assert.deepEqual(again.status().pool, {
          size: 65533,
          used: 3,
          reserved: 1,
          subnet: "9.251.0.0/16",
        });
        const text = metrics.render();
        for (const line of ["edgemesh_vip_pool_used 3", "edgemesh_vip_pool_reserved 1"]) {
          assert.ok(text.includes(line), `missing ${line}\n${text}`);
        }
      });
      await t.step("setReserved() later: the next service skips the new address", async () => {
        assert.equal(again.setReserved(["9.251.0.6"]), true);
        await again.apply(svc("default", "d"));
        assert.equal(again.snapshot().services.get("default/d")?.vip, "9.251.0.7");
        assert.equal(again.status().pool.reserved, 1);
      });
    } finally {
      await again.close();
    }
  });
});

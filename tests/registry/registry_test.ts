// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import {
  backendsFor,
  PoolExhaustedError,
  Registry,
  type ResourceChange,
} from "../../lib/registry/mod.ts";
import { fixtureChanges, open, summary, svc, withDir } from "./_fixtures.ts";

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
    assert.deepEqual(reg.status().pool, {
      size: 65533,
      used: 2,
      reserved: 0,
      subnet: "9.251.0.0/16",
    });
    assert.deepEqual([...snap.nodes.keys()], ["edge-node-2"]);
    const nginx = snap.services.get("default/nginx")!;
    assert.deepEqual(backendsFor(nginx, nginx.service.ports[1]!).map((b) => `${b.ip}:${b.port}`), [
      "10.244.1.5:9113",
      "10.244.2.9:9113",
    ]);
    await reg.close();
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
        "edgemesh_vip_pool_reserved 0",
        'edgemesh_registry_changes_total{operation="insert",result="ok",type="service"} 5',
        'edgemesh_registry_changes_total{operation="insert",result="invalid",type="service"} 1',
      ]
    ) assert.ok(text.includes(line), `missing ${line}\n${text}`);
    await reg.close();
  });
});

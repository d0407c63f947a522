// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The write loop (`lib/registry/writer.ts`): group commit, rollback of a failed write, and
 * nothing acknowledged lost to `kill -9`.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { writeFileAtomic } from "../../lib/registry/mod.ts";
import { open, summary, svc, withDir } from "./_fixtures.ts";

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

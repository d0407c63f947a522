// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The state directory misbehaving under a running registry, as an operator meets it months
 * in: a failed checkpoint leaves no temp file taking space, failing writes are reported by
 * `status()` until one succeeds, and a state directory removed while the agent runs is
 * created again with everything the registry holds.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { StateDirBusyError, StateDirLock } from "../../lib/registry/lock.ts";
import { Registry, type ResourceChange, writeFileAtomic } from "../../lib/registry/mod.ts";
import { appendFileDurable, truncateFileDurable } from "../../lib/registry/store.ts";
import { open, withDir } from "./_fixtures.ts";

function svc(name: string): ResourceChange {
  return {
    operation: "insert",
    namespace: "default",
    type: "service",
    name,
    content: { metadata: { name, namespace: "default" }, spec: { ports: [{ port: 80 }] } },
  };
}

Deno.test("writeFileAtomic() removes its temp file when the write cannot complete", async () => {
  await withDir("em-statedir-", async (dir) => {
    // A non-empty directory where the file should be: the rename over it fails.
    await Deno.mkdir(`${dir}/state.json/x`, { recursive: true });
    await assert.rejects(() => writeFileAtomic(`${dir}/state.json`, "{}"));
    await assert.rejects(() => Deno.stat(`${dir}/state.json.tmp`), Deno.errors.NotFound);
  });
});

Deno.test("Registry.status() reports failing state writes until one succeeds", async () => {
  await withDir("em-statedir-", async (dir) => {
    let fail = false;
    const log = memoryLogger();
    const fs = {
      writeAtomic: (p: string, d: string) =>
        fail
          ? Promise.reject(new Error("No space left on device (os error 28)"))
          : writeFileAtomic(p, d),
    };
    const reg = await open(dir, { fs, log, now: () => Date.UTC(2026, 0, 2, 3, 4, 5) });
    await reg.apply(svc("a"));
    assert.equal(reg.status().writeError, null);
    fail = true;
    await assert.rejects(() => reg.apply(svc("b")), /No space left/);
    await assert.rejects(() => reg.apply(svc("c")), /No space left/);
    assert.deepEqual(reg.status().writeError, {
      since: "2026-01-02T03:04:05.000Z",
      reason: "No space left on device (os error 28)",
      refused: 2,
    });
    fail = false;
    await reg.apply(svc("d"));
    assert.equal(reg.writeError, null);
    assert.ok(log.lines.some((l) => l.includes("state file written again; changes are accepted")));
    await reg.close();
  });
});

Deno.test("Registry creates a state directory removed while it runs again, with the whole state and its lock", async () => {
  await withDir("em-statedir-", async (dir) => {
    const log = memoryLogger();
    const reg = await open(dir, { log });
    await reg.apply(svc("a"));
    await reg.apply(svc("b"));
    const vips = [...reg.snapshot().vips.keys()];
    await Deno.remove(`${dir}/state`, { recursive: true });
    await reg.apply(svc("c"));
    assert.equal((await Deno.stat(`${dir}/state`)).mode! & 0o777, 0o700);
    assert.ok(log.lines.some((l) => /"level":"warn".*removed while the agent ran/.test(l)));
    // The new directory is locked by this registry, as the old one was.
    await assert.rejects(() => StateDirLock.acquire(`${dir}/state`), StateDirBusyError);
    await reg.close();
    const again = await open(dir);
    assert.deepEqual([...again.snapshot().services.keys()].sort(), [
      "default/a",
      "default/b",
      "default/c",
    ]);
    for (const ip of vips) assert.ok(again.snapshot().vips.has(ip), `${ip} kept`);
    await again.close();
  });
});

Deno.test("Registry gives a VIP freed by a change to a service the smaller subnet left without one", async () => {
  await withDir("em-statedir-", async (dir) => {
    const wide = await open(dir);
    for (const name of ["a", "b", "c", "d", "e", "f"]) await wide.apply(svc(name));
    await wide.close();
    // A /29 hands out 5 addresses: "f" (last in name order after the first five) waits.
    const narrow = await open(dir, { subnet: "10.99.0.0/29" });
    const waiting = [...narrow.snapshot().services.values()].filter((e) => e.vip === null);
    assert.deepEqual(waiting.map((e) => [e.service.name, typeof e.vipError]), [["f", "string"]]);
    const freed = narrow.snapshot().services.get("default/a")!.vip;
    await narrow.apply({ ...svc("a"), operation: "delete", content: null });
    const f = narrow.snapshot().services.get("default/f")!;
    assert.equal(f.vip, freed);
    assert.equal(f.vipError, undefined);
    await narrow.close();
    const again = await open(dir, { subnet: "10.99.0.0/29" });
    assert.equal(again.snapshot().services.get("default/f")!.vip, freed, "journalled");
    await again.close();
  });
});

/** A `StateFs` on the real files whose writes fail with ENOSPC while `full`, counting appends. */
function fullDisk() {
  const enospc = () => Promise.reject(new Error("No space left on device (os error 28)"));
  const fs = {
    full: true,
    appends: 0,
    writeAtomic: (p: string, d: string) => fs.full ? enospc() : writeFileAtomic(p, d),
    append: (p: string, d: string) => {
      fs.appends++;
      return fs.full ? enospc() : appendFileDurable(p, d);
    },
    truncate: (p: string) => fs.full ? enospc() : truncateFileDurable(p),
  };
  return fs;
}

for (
  const [how, recover, want] of [
    ["retryWrite()", (reg: Registry) => reg.retryWrite(), ["a", "b"]],
    ["the next change", (reg: Registry) => reg.apply(svc("d")).then(() => {}), ["a", "b", "d"]],
  ] as const
) {
  Deno.test(`Registry opens on a full disk with the state it loaded, and writes it again after ${how}`, async () => {
    await withDir("em-statedir-", async (dir) => {
      const first = await open(dir);
      await first.apply(svc("a"));
      await first.apply(svc("b"));
      const vips = first.snapshot().vips;
      await first.close();
      // A crash during an append on the full disk left part of a line: loading drops it and
      // asks for a checkpoint, which cannot be written. Before, open() threw: no agent at all.
      await Deno.writeTextFile(`${dir}/state/state.journal`, '{"version":9,"ops":[["serv', {
        append: true,
      });
      const log = memoryLogger();
      const fs = fullDisk();
      const now = () => Date.UTC(2026, 0, 2, 3, 4, 5);
      const reg = await open(dir, { fs, log, now });
      assert.deepEqual(reg.snapshot().vips, vips, "serving the state loaded");
      assert.deepEqual(reg.status().writeError, {
        since: "2026-01-02T03:04:05.000Z",
        reason: "No space left on device (os error 28)",
        refused: 0,
      });
      assert.ok(log.lines.some((l) => /"level":"error".*serving the state loaded/.test(l)));
      await assert.rejects(() => reg.apply(svc("c")), /state\.json" failed: No space left/);
      await reg.retryWrite();
      assert.equal(reg.status().writeError?.refused, 1, "a failed retry refuses nothing more");
      fs.full = false;
      await recover(reg);
      assert.equal(reg.writeError, null);
      assert.ok(
        log.lines.some((l) => l.includes("state file written again; changes are accepted")),
      );
      assert.equal(fs.appends, 0, "nothing appended to the journal that needed repair");
      await reg.close();
      const again = await open(dir, { log: memoryLogger() });
      assert.deepEqual([...again.snapshot().services.keys()], want.map((n) => `default/${n}`));
      for (const [ip, key] of vips) assert.equal(again.snapshot().vips.get(ip), key);
      await again.close();
    });
  });
}

Deno.test("Registry.retryWrite() writes nothing while writes work, and names the journal when its append fails", async () => {
  await withDir("em-statedir-", async (dir) => {
    const fs = fullDisk();
    fs.full = false;
    const reg = await open(dir, { fs });
    await reg.apply(svc("a"));
    const writes = reg.writeCount;
    await reg.retryWrite();
    assert.equal(reg.writeCount, writes);
    fs.full = true;
    // The first failure on a full disk is usually the journal's append, not state.json.
    await assert.rejects(() => reg.apply(svc("b")), /state\.journal" failed: No space left/);
    fs.full = false;
    await reg.retryWrite();
    assert.equal(reg.writeError, null);
    assert.equal(reg.writeCount, writes + 1, "one checkpoint");
    await reg.close();
  });
});

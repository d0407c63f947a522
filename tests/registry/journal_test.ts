// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The journal (`state.journal`): a batch appends one line instead of rewriting `state.json`,
 * reopening replays it, torn and damaged journals are handled, and it is folded into a new
 * checkpoint once it outgrows it.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import {
  decodeJournalEntry,
  encodeJournalEntry,
  replayJournal,
} from "../../lib/registry/state_format.ts";
import {
  appendFileDurable,
  denoStateFs,
  truncateFileDurable,
  writeFileAtomic,
} from "../../lib/registry/store.ts";
import { listServices, type ResourceChange, type Snapshot } from "../../lib/registry/mod.ts";
import { open, withDir } from "./_fixtures.ts";

function svc(ns: string, name: string, port = 80): ResourceChange {
  return {
    operation: "insert",
    namespace: ns,
    type: "service",
    name,
    content: { metadata: { name, namespace: ns }, spec: { ports: [{ port }] } },
  };
}

function eps(ns: string, name: string, ips: string[]): ResourceChange {
  return {
    operation: "update",
    namespace: ns,
    type: "endpoints",
    name,
    content: {
      metadata: { name, namespace: ns },
      subsets: [{ addresses: ips.map((ip) => ({ ip })), ports: [{ port: 8080 }] }],
    },
  };
}

const del = (ns: string, type: ResourceChange["type"], name: string): ResourceChange => ({
  operation: "delete",
  namespace: ns,
  type,
  name,
  content: null,
});

function summary(s: Snapshot): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of listServices(s)) {
    out[`${e.service.namespace}/${e.service.name}`] = `${e.vip} ${e.endpointSource} ${
      e.endpoints.map((ep) => ep.ip).join(",")
    }`.trim();
  }
  return out;
}

const lines = async (path: string) =>
  (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");

Deno.test("encodeJournalEntry() lines decode back to the same entry", () => {
  const entry = {
    version: 7,
    cursor: 3,
    ops: [
      ["vips", "default/a", "9.251.0.2"],
      ["vips", "default/b", null],
      ["nodes", "edge-1", {
        name: "edge-1",
        addresses: [{ type: "InternalIP", address: "1.2.3.4" }],
      }],
    ] as const,
  };
  const line = encodeJournalEntry(entry, new WeakMap());
  assert.ok(line.endsWith("\n"));
  assert.deepEqual(decodeJournalEntry(line), entry);
});

Deno.test("replayJournal() applies newer entries, skips superseded ones, tells torn from damaged", async (t) => {
  const base = {
    version: 5,
    subnet: "9.251.0.0/16",
    cursor: 2,
    vips: new Map([["default/a", "9.251.0.2"]]),
    services: [],
    endpoints: [],
    slices: [],
    podlists: [],
    pods: [],
    nodes: [],
  };
  const node = (n: string) => ({ name: n, addresses: [] });
  const e = (version: number, ops: unknown[]) =>
    encodeJournalEntry({ version, cursor: version, ops: ops as never });
  await t.step("superseded entries (at or below the checkpoint) are skipped", () => {
    const r = replayJournal(
      base,
      "x",
      e(4, [["nodes", "old", node("old")]]) + e(6, [["nodes", "n", node("n")]]),
    );
    assert.deepEqual(r.state.nodes, [node("n")]);
    assert.equal(r.state.version, 6);
    assert.equal(r.state.cursor, 6);
    assert.equal(r.applied, 1);
  });
  await t.step("removals", () => {
    const r = replayJournal(base, "x", e(6, [["vips", "default/a", null]]));
    assert.equal(r.state.vips.size, 0);
  });
  await t.step("a torn last line is dropped", () => {
    const good = e(6, [["nodes", "n", node("n")]]);
    const r = replayJournal(base, "x", good + '{"version":7,"cur');
    assert.ok(r.tornTail?.startsWith("line 2:"), String(r.tornTail));
    assert.equal(r.corrupt, null);
    assert.equal(r.validBytes, good.length);
    assert.equal(r.state.version, 6);
  });
  await t.step("a complete but invalid last line, and zero-filled tails, are torn too", () => {
    assert.ok(replayJournal(base, "x", e(6, []) + "{}\n").tornTail);
    assert.ok(replayJournal(base, "x", e(6, []) + "\0\0\0\0").tornTail);
  });
  await t.step("a bad line before good ones is damage", () => {
    const r = replayJournal(base, "x", e(6, []) + "garbage\n" + e(7, []));
    assert.ok(r.corrupt?.startsWith("line 2:"), String(r.corrupt));
    assert.equal(r.state.version, 6);
  });
});

Deno.test("Registry journals a change as one appended line and replays it on open", async () => {
  await withDir("em-journal-", async (dir) => {
    const reg = await open(dir);
    await reg.apply(svc("default", "a"));
    const state = await Deno.readTextFile(`${dir}/state/state.json`);
    await reg.apply(svc("default", "b"));
    await reg.apply(eps("default", "a", ["10.0.0.1", "10.0.0.2"]));
    await reg.apply(eps("default", "b", ["10.0.0.3"]));
    await reg.apply(del("default", "service", "b"));
    await reg.apply(svc("default", "c"));
    const snap = reg.snapshot();
    await reg.close();
    assert.equal(await Deno.readTextFile(`${dir}/state/state.json`), state, "checkpoint untouched");
    assert.equal((await lines(`${dir}/state/state.journal`)).length, 5);
    assert.equal((await Deno.stat(`${dir}/state/state.journal`)).mode! & 0o777, 0o600);

    const again = await open(dir);
    assert.deepEqual(summary(again.snapshot()), {
      "default/a": "9.251.0.2 endpoints 10.0.0.1,10.0.0.2",
      "default/c": "9.251.0.4 none",
    });
    assert.deepEqual(summary(again.snapshot()), summary(snap));
    assert.equal(again.snapshot().version, 6);
    // the cursor came back: next-fit continues after .4, the released .3 is reused last
    await again.apply(svc("default", "d"));
    assert.equal(again.snapshot().services.get("default/d")?.vip, "9.251.0.5");
    assert.equal(again.snapshot().services.get("default/b"), undefined);
    assert.deepEqual(again.snapshot().vips.get("9.251.0.3"), undefined);
    await again.close();
  });
});

Deno.test("Registry.open() drops a torn journal line and rewrites the checkpoint", async () => {
  await withDir("em-journal-", async (dir) => {
    const reg = await open(dir);
    await reg.apply(svc("default", "a"));
    await reg.apply(svc("default", "b"));
    await reg.close();
    const journal = `${dir}/state/state.journal`;
    await Deno.writeTextFile(journal, '{"version":3,"cursor":4,"ops":[["ser', { append: true });
    const log = memoryLogger();
    const again = await open(dir, { log });
    assert.deepEqual(Object.keys(summary(again.snapshot())), ["default/a", "default/b"]);
    assert.equal(again.snapshot().version, 2);
    assert.equal(again.loadWarning, null);
    assert.ok(log.lines.some((l) => l.includes("torn write")), log.lines.join("\n"));
    assert.equal(await Deno.readTextFile(journal), "", "folded into state.json");
    await again.apply(svc("default", "c"));
    await again.close();
    const third = await open(dir);
    assert.equal(third.snapshot().services.size, 3);
    await third.close();
  });
});

Deno.test("Registry.open() keeps the entries before a damaged journal line and moves it aside", async () => {
  await withDir("em-journal-", async (dir) => {
    const reg = await open(dir);
    await reg.apply(svc("default", "a"));
    await reg.apply(svc("default", "b"));
    await reg.apply(svc("default", "c"));
    await reg.close();
    const journal = `${dir}/state/state.journal`;
    const [first, second] = await lines(journal);
    const damaged = `${first}\nnot json\n${second}\n`;
    await Deno.writeTextFile(journal, damaged);
    const log = memoryLogger();
    const again = await open(dir, { log, now: () => Date.UTC(2026, 0, 2, 3, 4, 5) });
    assert.deepEqual(Object.keys(summary(again.snapshot())), ["default/a", "default/b"]);
    const aside = `${journal}.corrupt-20260102T030405Z`;
    assert.equal(await Deno.readTextFile(aside), damaged, "kept byte for byte");
    assert.ok(again.loadWarning?.includes(aside), String(again.loadWarning));
    assert.ok(log.lines.some((l) => JSON.parse(l).level === "error" && l.includes(aside)));
    await again.close();
    const third = await open(dir);
    assert.deepEqual(Object.keys(summary(third.snapshot())), ["default/a", "default/b"]);
    await third.close();
  });
});

Deno.test("Registry folds the journal into state.json once it outgrows the checkpoint", async () => {
  await withDir("em-journal-", async (dir) => {
    let full = 0;
    let appends = 0;
    const fs = {
      ...denoStateFs,
      writeAtomic: (p: string, d: string) => (full++, writeFileAtomic(p, d)),
      append: (p: string, d: string) => (appends++, appendFileDurable(p, d)),
    };
    const reg = await open(dir, { fs });
    await reg.apply(svc("default", "big"));
    // ~7 KiB per line: 100 lines make ~700 KiB of journal, more than twice the 256 KiB floor.
    const ips = (i: number) => Array.from({ length: 100 }, (_, j) => `10.${i}.${j}.1`);
    for (let i = 0; i < 100; i++) await reg.apply(eps("default", "big", ips(i)));
    await reg.close();
    assert.ok(full >= 3 && full < 10, `${full} full writes`);
    assert.equal(full + appends, 101);
    const journal = (await Deno.stat(`${dir}/state/state.journal`)).size;
    assert.ok(journal <= 256 * 1024, `journal ${journal}`);
    const again = await open(dir);
    assert.deepEqual(
      again.snapshot().services.get("default/big")?.endpoints.map((e) => e.ip),
      ips(99),
    );
    assert.equal(again.snapshot().version, 101);
    await again.close();
  });
});

Deno.test("Registry rolls back a change whose append fails, then rewrites both files", async () => {
  await withDir("em-journal-", async (dir) => {
    let failAppend = false;
    let full = 0;
    const fs = {
      writeAtomic: (p: string, d: string) => (full++, writeFileAtomic(p, d)),
      // A failing append that still leaves half a line behind, as a full disk can.
      append: async (p: string, d: string) => {
        if (!failAppend) return appendFileDurable(p, d);
        await Deno.writeTextFile(p, d.slice(0, 10), { append: true });
        throw new Error("disk full");
      },
      truncate: truncateFileDurable,
    };
    const reg = await open(dir, { fs });
    await reg.apply(svc("default", "a"));
    await reg.apply(svc("default", "b"));
    failAppend = true;
    await assert.rejects(
      () => reg.apply(svc("default", "c")),
      /Cannot apply "default\/service\/c": writing ".*" failed: disk full/,
    );
    failAppend = false;
    const before = full;
    await reg.apply(svc("default", "d"));
    assert.equal(full, before + 1, "the write after a failure is a full one");
    assert.equal(await Deno.readTextFile(`${dir}/state/state.journal`), "");
    await reg.apply(svc("default", "e"));
    await reg.close();
    const again = await open(dir);
    assert.deepEqual(summary(again.snapshot()), {
      "default/a": "9.251.0.2 none",
      "default/b": "9.251.0.3 none",
      "default/d": "9.251.0.4 none",
      "default/e": "9.251.0.5 none",
    });
    assert.equal(again.loadWarning, null);
    await again.close();
  });
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A change that leaves the stored state as it was (the same objects re-sent, in any key order
 * and with fields the agent ignores; a servicelist or podlist equal to what is held; a delete of
 * something absent) is acknowledged with `unchanged: true` and writes nothing: no journal line,
 * no fsync, no version, no snapshot, no warning. One compared with changes not yet durable is
 * acknowledged only once they are, and only if it still changes nothing when they fail.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import {
  JOURNAL_FILE,
  type Registry,
  type ResourceChange,
  type ResourceType,
  STATE_FILE,
  type StateFs,
  writeFileAtomic,
} from "../../lib/registry/mod.ts";
import { appendFileDurable, truncateFileDurable } from "../../lib/registry/store.ts";
import { sameStored } from "../../lib/registry/same.ts";
import { open, withDir } from "./_fixtures.ts";

function change(
  type: ResourceType,
  name: string,
  content: unknown,
  operation: ResourceChange["operation"] = "insert",
): ResourceChange {
  return { operation, namespace: "default", type, name, content };
}

const pod = (i: number) => ({
  metadata: { name: `p${i}`, namespace: "default", labels: { app: `a${i}`, tier: "web" } },
  spec: { containers: [{ name: "app", ports: [{ name: "http", containerPort: 8080 }] }] },
  status: {
    phase: "Running",
    podIP: `10.2.${i}.1`,
    conditions: [{ type: "Ready", status: "True" }],
  },
});

/** Object `i` of each of the six kinds (10 of each make the operator's 60). */
function objects(i: number): ResourceChange[] {
  return [
    change("service", `s${i}`, {
      metadata: { name: `s${i}`, namespace: "default", labels: { app: `a${i}`, tier: "web" } },
      spec: { selector: { app: `a${i}`, tier: "web" }, ports: [{ name: "http", port: 80 }] },
    }),
    change("endpoints", `s${i}`, {
      metadata: { name: `s${i}`, namespace: "default" },
      subsets: [{ addresses: [{ ip: `10.0.${i}.1` }], ports: [{ name: "http", port: 8080 }] }],
    }),
    change("endpointslice", `s${i}-x`, {
      metadata: {
        name: `s${i}-x`,
        namespace: "default",
        labels: { "kubernetes.io/service-name": `s${i}`, owner: "ctl" },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: [`10.1.${i}.1`], conditions: { ready: true } }],
      ports: [{ name: "http", port: 8080 }],
    }),
    change("pod", `p${i}`, pod(i)),
    change("podlist", `s${i}`, [pod(i), pod(i + 100)]),
    change("node", `n${i}`, {
      metadata: { name: `n${i}` },
      status: { addresses: [{ type: "InternalIP", address: `192.0.2.${i + 1}` }] },
    }),
  ];
}

/** `v` with the keys of every object in reverse order (arrays keep theirs). */
function reordered(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reordered);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reordered(x)]));
}

/**
 * `c` as KubeEdge re-sends it: an update, keys in another order, with a newer
 * `metadata.resourceVersion` (which the agent does not store).
 */
function resent(c: ResourceChange): ResourceChange {
  const bump = (o: unknown) => {
    const obj = o as { metadata: Record<string, unknown> };
    return { ...obj, metadata: { ...obj.metadata, resourceVersion: "999", uid: "u-1" } };
  };
  const content = Array.isArray(c.content) ? c.content.map(bump) : bump(c.content);
  return { ...c, operation: "update", content: reordered(content) };
}

/** The bytes of both state files. */
async function files(dir: string): Promise<string> {
  const read = (f: string) => Deno.readTextFile(`${dir}/state/${f}`).catch(() => "(none)");
  return `${await read(STATE_FILE)}\n--\n${await read(JOURNAL_FILE)}`;
}

/** Whether `p` has settled once the microtasks queued now have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("sameStored() compares as stored: key order and undefined keys do not matter, array order does", () => {
  assert.equal(sameStored({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }), true);
  assert.equal(sameStored({ a: 1, b: undefined }, { a: 1 }), true);
  assert.equal(sameStored({ a: 1 }, { a: 1, b: undefined }), true);
  assert.equal(sameStored({ a: [1, 2] }, { a: [2, 1] }), false);
  assert.equal(sameStored({ a: 1 }, { a: 1, b: null }), false);
  assert.equal(sameStored({ a: 1 }, { a: "1" }), false);
  assert.equal(sameStored([], {}), false);
  assert.equal(sameStored(null, {}), false);
  assert.equal(sameStored({ a: {} }, { a: [] }), false);
});

Deno.test("Registry: 60 objects re-sent unchanged write nothing; a real change after them does", async () => {
  await withDir("nqa-unchanged-", async (dir) => {
    const log = memoryLogger("info");
    const reg = await open(dir, { log });
    const all = Array.from({ length: 10 }, (_, i) => objects(i)).flat();
    assert.equal(all.length, 60);
    for (const c of all) await reg.apply(c);
    await reg.apply(change("service", "extra", { metadata: { name: "extra" }, spec: {} }));
    const bytes = await files(dir);
    const snap = reg.snapshot();
    const writes = reg.writeCount;
    const lines = log.lines.length;
    let published = 0;
    reg.subscribe(() => published++);

    for (const c of all) {
      const operation = "update";
      assert.deepEqual(await reg.apply(resent(c)), { operation, unchanged: true }, c.name);
    }
    // The same object sent as it was, as an insert, too.
    assert.deepEqual(await reg.apply(all[0]!), { operation: "insert", unchanged: true });
    assert.equal(await files(dir), bytes, "no journal line, no checkpoint");
    assert.equal(reg.writeCount, writes, "no write (no fsync)");
    assert.equal(reg.snapshot(), snap, "the same snapshot: no version, nothing published");
    assert.equal(published, 0);
    assert.deepEqual(log.lines.slice(lines), [], "no line at info or above");

    // A real change after them: one version, one journal line, published.
    const moved = change("endpoints", "s3", {
      metadata: { name: "s3" },
      subsets: [{ addresses: [{ ip: "10.0.3.9" }], ports: [{ name: "http", port: 8080 }] }],
    });
    assert.deepEqual(await reg.apply(moved), { operation: "insert" });
    assert.equal(reg.snapshot().version, snap.version + 1);
    assert.equal(reg.writeCount, writes + 1);
    assert.equal(published, 1);
    const journal = await Deno.readTextFile(`${dir}/state/${JOURNAL_FILE}`);
    assert.ok(journal.endsWith("\n") && journal.length > bytes.split("\n--\n")[1]!.length);
    assert.equal(JSON.parse(journal.trim().split("\n").at(-1)!).version, snap.version + 1);
    await reg.close();
  });
});

Deno.test("Registry: a delete of an absent object writes nothing, for every kind", async () => {
  await withDir("nqa-unchanged-", async (dir) => {
    const reg = await open(dir);
    for (const c of objects(1)) await reg.apply(c);
    const bytes = await files(dir);
    const version = reg.snapshot().version;
    for (const c of objects(2)) {
      const result = await reg.apply({ ...c, operation: "delete", content: null });
      assert.deepEqual(result, { operation: "delete", found: false, unchanged: true }, c.type);
    }
    assert.equal(await files(dir), bytes);
    assert.equal(reg.snapshot().version, version);
    // A delete that finds its object is a change.
    const gone = await reg.apply({ ...objects(1)[3]!, operation: "delete", content: null });
    assert.deepEqual(gone, { operation: "delete", found: true });
    assert.equal(reg.snapshot().version, version + 1);
    await reg.close();
  });
});

Deno.test("Registry: a servicelist or podlist equal to what is held is unchanged; one that differs journals what changed", async () => {
  await withDir("nqa-unchanged-", async (dir) => {
    const reg = await open(dir);
    const services = [0, 1, 2].map((i) => objects(i)[0]!.content);
    const list = (items: unknown[]) => change("servicelist", "service", items, "update");
    await reg.apply(list(services));
    await reg.apply(objects(1)[4]!);
    const bytes = await files(dir);
    const version = reg.snapshot().version;
    const vips = [...reg.snapshot().vips];

    assert.deepEqual(await reg.apply(list(services)), { operation: "update", unchanged: true });
    assert.deepEqual(
      await reg.apply(list([...services].reverse().map(reordered))),
      { operation: "update", unchanged: true },
      "the same services in another order",
    );
    assert.deepEqual(await reg.apply(resent(objects(1)[4]!)), {
      operation: "update",
      unchanged: true,
    });
    assert.equal(await files(dir), bytes);
    assert.equal(reg.snapshot().version, version);

    // One service of three changes: one version, and the journal line holds that service only.
    const changed = structuredClone(services) as { spec: { ports: { port: number }[] } }[];
    changed[2]!.spec.ports[0]!.port = 81;
    assert.deepEqual(await reg.apply(list(changed)), { operation: "update" });
    assert.equal(reg.snapshot().version, version + 1);
    assert.deepEqual([...reg.snapshot().vips], vips, "every service keeps its VIP");
    const last = (await Deno.readTextFile(`${dir}/state/${JOURNAL_FILE}`)).trim().split("\n").at(
      -1,
    )!;
    assert.deepEqual(
      JSON.parse(last).ops.map((op: unknown[]) => `${op[0]} ${op[1]}`),
      ["services default/s2", "vips default/s2"],
    );
    // A list that drops a service is a change too.
    assert.deepEqual(await reg.apply(list(changed.slice(0, 2))), { operation: "update" });
    assert.equal(reg.snapshot().services.has("default/s2"), false);
    await reg.close();
  });
});

/** A file system whose next writes can be held, then let through or failed. */
function holdableFs(): {
  fs: StateFs;
  hold(): { entered: Promise<void>; release(): void; fail(e: Error): void };
} {
  let held: { entered: PromiseWithResolvers<void>; gate: PromiseWithResolvers<void> } | null = null;
  const wait = async () => {
    const h = held;
    if (!h) return;
    h.entered.resolve();
    await h.gate.promise;
  };
  return {
    fs: {
      writeAtomic: async (p, d) => (await wait(), writeFileAtomic(p, d)),
      append: async (p, d) => (await wait(), appendFileDurable(p, d)),
      truncate: truncateFileDurable,
    },
    hold() {
      const h = { entered: Promise.withResolvers<void>(), gate: Promise.withResolvers<void>() };
      held = h;
      return {
        entered: h.entered.promise,
        release: () => (held = null, h.gate.resolve()),
        fail: (e) => (held = null, h.gate.reject(e)),
      };
    },
  };
}

const svcX = (port: number) =>
  change("service", "x", { metadata: { name: "x" }, spec: { ports: [{ port }] } });

Deno.test("Registry: an unchanged change behind a pending write is acknowledged only once that write is durable", async () => {
  await withDir("nqa-unchanged-", async (dir) => {
    const { fs, hold } = holdableFs();
    const reg = await open(dir, { fs });
    const y = objects(0)[0]!;
    await reg.apply(y);
    const version = reg.snapshot().version;

    const h = hold();
    const first = reg.apply(svcX(80));
    await h.entered;
    // Unchanged only because of the change being written.
    const again = reg.apply(svcX(80));
    const other = reg.apply(resent(y));
    assert.equal(await settled(again), false, "not acknowledged before the write it relies on");
    assert.equal(reg.snapshot().version, version, "nothing durable yet");
    h.release();
    assert.deepEqual(await first, { operation: "insert" });
    assert.deepEqual(await again, { operation: "insert", unchanged: true });
    assert.deepEqual(await other, { operation: "update", unchanged: true });
    assert.equal(reg.snapshot().version, version + 1);
    assert.equal(reg.snapshot().services.get("default/x")?.service.ports[0]?.port, 80);
    await reg.close();
  });
});

Deno.test("Registry: when the write before it fails, an unchanged change that relied on it is refused, one that did not stays ok", async () => {
  await withDir("nqa-unchanged-", async (dir) => {
    const { fs, hold } = holdableFs();
    const reg = await open(dir, { fs });
    const y = objects(0)[0]!;
    await reg.apply(y);
    await reg.apply(svcX(80));
    const version = reg.snapshot().version;

    const h = hold();
    const first = reg.apply(svcX(81));
    await h.entered;
    const again = reg.apply(svcX(81)); // unchanged against 81, which is not durable
    const back = reg.apply(svcX(80)); // a change against 81: queued as a change
    const other = reg.apply(resent(y)); // unchanged whatever happens to x
    h.fail(new Error("disk full"));
    await assert.rejects(first, /disk full/);
    // The write that failed was the journal's append (named since the QA pass; was state.json).
    await assert.rejects(
      again,
      new Error(
        'Cannot apply "default/service/x": writing "' + `${dir}/state/${JOURNAL_FILE}` +
          '" failed: disk full',
      ),
    );
    await assert.rejects(back, /disk full/);
    assert.deepEqual(await other, { operation: "update", unchanged: true });
    assert.equal(reg.snapshot().version, version);
    assert.equal(reg.snapshot().services.get("default/x")?.service.ports[0]?.port, 80);
    assert.equal(reg.status().writeError?.refused, 3, "the three refused, not the one kept");
    // The state is usable again: the same change now goes through.
    assert.deepEqual(await reg.apply(svcX(81)), { operation: "insert" });
    assert.equal(reg.snapshot().version, version + 1);
    assert.equal(reg.status().writeError, null);
    await reg.close();
  });
});

Deno.test("Registry: on a full disk a change that changes nothing is still acknowledged", async () => {
  await withDir("nqa-unchanged-", async (dir) => {
    let full = false;
    const refuse = () => Promise.reject(new Error("No space left on device (os error 28)"));
    const fs: StateFs = {
      writeAtomic: (p, d) => full ? refuse() : writeFileAtomic(p, d),
      append: (p, d) => full ? refuse() : appendFileDurable(p, d),
      truncate: truncateFileDurable,
    };
    const log = memoryLogger("warn");
    const reg: Registry = await open(dir, { fs, log });
    const y = objects(0)[0]!;
    await reg.apply(y);
    full = true;
    assert.deepEqual(await reg.apply(resent(y)), { operation: "update", unchanged: true });
    assert.equal(reg.status().writeError, null, "nothing failed: nothing was written");
    await assert.rejects(reg.apply(svcX(80)), /No space left on device/);
    assert.deepEqual(await reg.apply(resent(y)), { operation: "update", unchanged: true });
    assert.equal(reg.status().writeError?.refused, 1, "only the real change was refused");
    await reg.close();
  });
});

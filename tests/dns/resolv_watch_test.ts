// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { ResolvConfWatch, type Upstream, type UpstreamsTarget } from "../../lib/dns/mod.ts";
import { memoryLogger } from "../../lib/log/mod.ts";
import type { FileStamp } from "../../lib/sys/mod.ts";

/** resolv.conf in memory: `write` bumps its stamp as a rename would; null = missing. */
function fakeFile(text: string | null) {
  let content = text;
  let ino = 1;
  return {
    write(next: string | null) {
      content = next;
      ino++;
    },
    /** Same bytes written again (a touch): a new stamp, the same content. */
    touch() {
      ino++;
    },
    stat: (path: string): Promise<FileStamp> =>
      content === null
        ? Promise.reject(new Deno.errors.NotFound(`No such file: ${path}`))
        : Promise.resolve({ mtimeMs: ino, size: content.length, ino }),
    read: (path: string): Promise<string> =>
      content === null
        ? Promise.reject(new Deno.errors.NotFound(`No such file: ${path}`))
        : Promise.resolve(content),
  };
}

/** Records what the watch hands to the DNS server. */
function fakeTarget(initial: readonly Upstream[]): UpstreamsTarget & { sets: string[][] } {
  let current = initial;
  const sets: string[][] = [];
  return {
    sets,
    get upstreams() {
      return current;
    },
    setUpstreams(next) {
      const key = (l: readonly Upstream[]) => l.map((u) => `${u.hostname}:${u.port}`).join();
      if (key(next) === key(current)) return false;
      current = next;
      sets.push(next.map((u) => `${u.hostname}:${u.port}`));
      return true;
    },
  };
}

const AT_START = [{ hostname: "192.0.2.53", port: 53 }];

function setup(
  text: string | null,
  over: { manager?: { reassert(t: string): Promise<boolean> } } = {},
) {
  const file = fakeFile(text);
  const target = fakeTarget(AT_START);
  const log = memoryLogger();
  const watch = new ResolvConfWatch({
    path: "/etc/resolv.conf",
    target,
    listen: ["9.251.0.1:53"],
    manager: over.manager ?? null,
    log,
    interfaceNames: () => ["lo", "eth0"],
    stat: file.stat,
    read: file.read,
  });
  const lines = () => log.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { file, target, watch, lines };
}

Deno.test("ResolvConfWatch follows the nameservers of resolv.conf", async (t) => {
  await t.step("the file as at start: nothing changes, nothing is said", async () => {
    const { watch, target, lines } = setup("nameserver 192.0.2.53\n");
    assert.equal(await watch.poll(), true, "the first poll reads the file");
    assert.deepEqual(target.sets, []);
    assert.deepEqual(lines(), []);
    assert.equal(await watch.poll(), false, "same stamp: not read again");
  });

  await t.step("a new lease: new upstreams, ours left out, logged with the old", async () => {
    const { file, watch, target, lines } = setup("nameserver 192.0.2.53\n");
    await watch.poll();
    file.write("# lease\nnameserver 9.251.0.1\nnameserver 198.51.100.1\nnameserver fe80::1%eth0\n");
    assert.equal(await watch.poll(), true);
    assert.deepEqual(target.sets, [["198.51.100.1:53", "fe80::1%eth0:53"]]);
    const [line] = lines();
    assert.equal(line?.level, "info");
    assert.equal(line?.msg, "DNS upstreams changed");
    assert.equal(line?.upstreams, "198.51.100.1:53,[fe80::1%eth0]:53");
    assert.equal(line?.before, "192.0.2.53:53");
  });

  await t.step("other lines changed, same nameservers: no new upstreams, no line", async () => {
    const { file, watch, target, lines } = setup("nameserver 192.0.2.53\n");
    await watch.poll();
    file.write("search lan\noptions ndots:2\nnameserver 192.0.2.53\n");
    assert.equal(await watch.poll(), true);
    file.touch();
    assert.equal(await watch.poll(), false, "touched with the same bytes");
    assert.deepEqual(target.sets, []);
    assert.deepEqual(lines(), []);
  });

  await t.step("no usable nameserver left: forwarding off, a warning", async () => {
    const { file, watch, target, lines } = setup("nameserver 192.0.2.53\n");
    await watch.poll();
    file.write("nameserver dns.example\n");
    await watch.poll();
    assert.deepEqual(target.sets, [[]]);
    assert.deepEqual(lines().map((l) => [l.level, l.msg]), [
      ["warn", "Ignoring a DNS upstream that cannot be used"],
      ["warn", "resolv.conf names no usable nameserver now: DNS forwarding is off"],
    ]);
  });

  await t.step("missing at start, then written: forwarding starts", async () => {
    const { file, watch, target, lines } = setup(null);
    assert.equal(await watch.poll(), false);
    assert.equal(await watch.poll(), false);
    file.write("nameserver 198.51.100.1\n");
    assert.equal(await watch.poll(), true);
    assert.deepEqual(target.sets, [["198.51.100.1:53"]]);
    assert.deepEqual(lines().map((l) => l.msg), [
      "Cannot follow a change of resolv.conf",
      "DNS upstreams changed",
    ], "one warning for the two failed polls");
  });

  await t.step("removed while running: the upstreams in use stay", async () => {
    const { file, watch, target, lines } = setup("nameserver 192.0.2.53\n");
    await watch.poll();
    file.write(null);
    assert.equal(await watch.poll(), false);
    assert.deepEqual(target.sets, []);
    assert.deepEqual(target.upstreams, AT_START);
    assert.match(String(lines()[0]?.problem), /^cannot stat: No such file/);
  });
});

Deno.test("ResolvConfWatch hands every new version to the manager and retries a failed write", async () => {
  const seen: string[] = [];
  let fail = false;
  const manager = {
    reassert(text: string) {
      seen.push(text);
      return fail ? Promise.reject(new Error("Cannot update: read-only")) : Promise.resolve(true);
    },
  };
  const { file, watch, target, lines } = setup("nameserver 192.0.2.53\n", { manager });
  await watch.poll();
  fail = true;
  file.write("nameserver 198.51.100.1\n");
  assert.equal(await watch.poll(), false, "not taken up while the write fails");
  assert.deepEqual(target.sets, [["198.51.100.1:53"]], "the upstreams followed all the same");
  fail = false;
  assert.equal(await watch.poll(), true, "the same stamp is tried again");
  assert.deepEqual(seen, [
    "nameserver 192.0.2.53\n",
    "nameserver 198.51.100.1\n",
    "nameserver 198.51.100.1\n",
  ]);
  assert.deepEqual(target.sets, [["198.51.100.1:53"]], "set once");
  assert.deepEqual(lines().map((l) => [l.msg, l.problem]), [
    ["DNS upstreams changed", undefined],
    ["Cannot follow a change of resolv.conf", "cannot use them: Cannot update: read-only"],
  ]);
});

Deno.test("ResolvConfWatch without a target (config upstreams) only keeps ours first", async () => {
  const seen: string[] = [];
  const file = fakeFile("nameserver 192.0.2.53\n");
  const watch = new ResolvConfWatch({
    path: "/etc/resolv.conf",
    target: null,
    listen: ["9.251.0.1:53"],
    manager: { reassert: (text) => Promise.resolve(seen.push(text) > 0) },
    log: memoryLogger(),
    stat: file.stat,
    read: file.read,
  });
  await watch.poll();
  file.write("nameserver 198.51.100.1\n");
  await watch.poll();
  assert.deepEqual(seen, ["nameserver 192.0.2.53\n", "nameserver 198.51.100.1\n"]);
});

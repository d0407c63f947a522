// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { resolveUpstreams } from "../../lib/dns/mod.ts";
import { memoryLogger } from "../../lib/log/mod.ts";

Deno.test("resolveUpstreams() prefers config upstreams, else resolv.conf without ours", async () => {
  const read = (path: string) => {
    assert.equal(path, "/x/resolv.conf");
    return Promise.resolve("nameserver 9.251.0.1\nnameserver 10.0.0.2\n");
  };
  assert.deepEqual(
    await resolveUpstreams({ upstreams: ["1.1.1.1:5353"], listen: [], readTextFile: read }),
    [{ hostname: "1.1.1.1", port: 5353 }],
  );
  assert.deepEqual(
    await resolveUpstreams({
      upstreams: [],
      resolvConf: "/x/resolv.conf",
      listen: ["9.251.0.1:53"],
      readTextFile: read,
    }),
    [{ hostname: "10.0.0.2", port: 53 }],
  );
  assert.deepEqual(
    await resolveUpstreams({
      upstreams: [],
      listen: [],
      readTextFile: () => Promise.reject(new Deno.errors.NotFound("gone")),
    }),
    [],
  );
});

Deno.test("resolveUpstreams() warns when resolv.conf gives no upstream", async (t) => {
  const rows: [string, string | Error, RegExp | null][] = [
    ["missing", new Deno.errors.NotFound("gone"), /Cannot read resolv.conf: DNS forwarding is off/],
    ["empty (booted before its network)", "", /names no usable nameserver: DNS forwarding is off/],
    ["only ours", "nameserver 9.251.0.1\n", /names no usable nameserver/],
    ["only unusable", "nameserver dns.example\n", /names no usable nameserver/],
    ["a nameserver", "nameserver 10.0.0.2\n", null],
  ];
  for (const [name, file, want] of rows) {
    await t.step(name, async () => {
      const log = memoryLogger();
      await resolveUpstreams({
        upstreams: [],
        listen: ["9.251.0.1:53"],
        readTextFile: () => file instanceof Error ? Promise.reject(file) : Promise.resolve(file),
        log,
      });
      const offLines = log.lines.filter((l) => /DNS forwarding is off/.test(l));
      if (want === null) return assert.deepEqual(offLines, []);
      assert.equal(offLines.length, 1, log.lines.join("\n"));
      assert.match(offLines[0]!, want);
      // It comes back by itself: the line says when.
      assert.match(
        offLines[0]!,
        /"until":"resolv.conf names a usable nameserver \(checked every 10 s\)"/,
      );
    });
  }
});

Deno.test("resolveUpstreams() leaves out and warns about nameservers no query can use", async (t) => {
  const conf = [
    "nameserver dns.example", // glibc skips it; getaddrinfo would look it up per query
    "nameserver fe80::1%eth0",
    "nameserver ::1%lo",
    "nameserver fe80::2%wlan0",
    "nameserver 2001:db8::53",
  ].join("\n");
  await t.step("resolv.conf", async () => {
    const log = memoryLogger("info");
    const got = await resolveUpstreams({
      upstreams: [],
      resolvConf: "/x/resolv.conf",
      listen: [],
      readTextFile: () => Promise.resolve(conf),
      interfaceNames: () => ["lo", "eth0"],
      log,
    });
    assert.deepEqual(got.map((u) => u.hostname), ["fe80::1%eth0", "fe80::2%wlan0", "2001:db8::53"]);
    const lines = log.lines.map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.level, l.msg, l.source, l.nameserver]), [
      ["warn", "Ignoring a DNS upstream that cannot be used", "/x/resolv.conf", "dns.example"],
      ["warn", "Ignoring a DNS upstream that cannot be used", "/x/resolv.conf", "::1%lo"],
      ["warn", "DNS upstream cannot be reached yet", "/x/resolv.conf", "fe80::2%wlan0"],
    ]);
    assert.match(lines[0].reason, /not an IP address/);
  });
  await t.step("usable entries: no warning, interfaces not read", async () => {
    const log = memoryLogger("info");
    const got = await resolveUpstreams({
      upstreams: [],
      listen: [],
      readTextFile: () => Promise.resolve("nameserver 10.0.0.2\nnameserver fd00::53\n"),
      interfaceNames: () => assert.fail("no zone: interfaces are not read"),
      log,
    });
    assert.equal(got.length, 2);
    assert.deepEqual(log.lines, []);
  });
});

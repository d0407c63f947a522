// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The proxy's connection cap and listener budget (./lib/proxy/gate.ts) with real sockets on
 * loopback, on both engines: at the cap the listeners stop accepting and resume once
 * connections close; listeners beyond the budget are reported unbound, not opened.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { Proxy, type ProxyEngine, type ProxyLimits } from "../../lib/proxy/mod.ts";
import { echoServer, loopbackVip, snapshotOf, writeAll } from "../_helpers/proxy_fixtures.ts";

const ENGINES: readonly ProxyEngine[] = ["epoll", "deno"];

function limits(maxConnections: number, maxListeners: number): ProxyLimits {
  return { cells: new SharedArrayBuffer(4 * 65), maxConnections, maxListeners, openFiles: 256 };
}

/** Sends `text` and resolves with what comes back (the echo), or null within `ms`. */
async function echoed(conn: Deno.Conn, text: string, ms: number): Promise<string | null> {
  await writeAll(conn, new TextEncoder().encode(text));
  const buf = new Uint8Array(64);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
  const read = conn.read(buf).then((n) => new TextDecoder().decode(buf.subarray(0, n ?? 0)));
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}

for (const engine of ENGINES) {
  Deno.test(`proxy stops accepting at its connection cap and resumes below it [${engine}]`, async () => {
    await using backend = echoServer();
    const vip = loopbackVip();
    const log = memoryLogger();
    const proxy = new Proxy({ nodeName: "n", log, engine, limits: limits(2, 100) });
    const clients: Deno.TcpConn[] = [];
    try {
      await proxy.update(snapshotOf({
        name: "echo",
        vip,
        ports: [{ name: "e", port: 18090 }],
        endpoints: [{ ports: { e: backend.port } }],
      }));
      for (const text of ["a", "b"]) {
        const c = await Deno.connect({ hostname: vip, port: 18090 });
        clients.push(c);
        assert.equal(await echoed(c, text, 5000), text);
      }
      // The third is in the kernel's backlog: connected, but not served.
      const third = await Deno.connect({ hostname: vip, port: 18090 });
      clients.push(third);
      const pending = echoed(third, "c", 10_000);
      const early = await Promise.race([
        pending,
        new Promise<"waiting">((r) => setTimeout(() => r("waiting"), 300)),
      ]);
      assert.equal(early, "waiting");
      assert.equal(backend.accepted, 2);
      assert.match(log.lines.join("\n"), /Proxy connection cap reached.*"cap":2/);
      clients[0]!.close();
      assert.equal(await pending, "c");
      assert.equal(backend.accepted, 3);
    } finally {
      for (const c of clients) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await proxy.close();
    }
  });

  Deno.test(`proxy opens no listener beyond its budget and reports the rest unbound [${engine}]`, async () => {
    const log = memoryLogger();
    const proxy = new Proxy({ nodeName: "n", log, engine, limits: limits(100, 3) });
    const big = loopbackVip();
    const small = loopbackVip();
    try {
      await proxy.update(snapshotOf(
        {
          name: "big",
          vip: big,
          ports: [18091, 18092, 18093, 18094].map((port) => ({ name: `p${port}`, port })),
          endpoints: [],
        },
        { name: "small", vip: small, ports: [{ name: "p", port: 18095 }], endpoints: [] },
      ));
      const ls = proxy.listeners();
      assert.equal(ls.length, 5);
      assert.deepEqual(
        ls.map((l) => [l.service, l.port, l.bound]),
        [
          ["default/big", 18091, true],
          ["default/big", 18092, true],
          ["default/big", 18093, false],
          ["default/big", 18094, false],
          ["default/small", 18095, true],
        ],
      );
      assert.match(
        ls[2]!.error!,
        /listener budget \(3 per thread, from the open-files limit 256\)/,
      );
      // Not a bind failure: retrying every few seconds would not open it.
      assert.deepEqual(ls.map((l) => l.failure), [null, null, "budget", "budget", null]);
      const warned = log.lines.filter((l) =>
        l.includes("listener budget is used up") && l.includes('"level":"warn"')
      );
      assert.equal(warned.length, 1);
      assert.match(warned[0]!, /"services":1,"listeners":2,"first":"default\/big"/);
      assert.match(
        log.lines.join("\n"),
        /"level":"debug".*"service":"default\/big","ports":4,"unbound":2/,
      );
      // The same snapshot again: no new warning.
      await proxy.update(snapshotOf(
        {
          name: "big",
          vip: big,
          ports: [18091, 18092, 18093, 18094].map((port) => ({ name: `p${port}`, port })),
          endpoints: [],
        },
        { name: "small", vip: small, ports: [{ name: "p", port: 18095 }], endpoints: [] },
      ));
      assert.equal(log.lines.filter((l) => l.includes("listener budget is used up")).length, 2);
    } finally {
      await proxy.close();
    }
  });
}

Deno.test("proxy over its listener budget logs one warning per change, not one per service", async () => {
  const log = memoryLogger();
  const proxy = new Proxy({ nodeName: "n", log, engine: "deno", limits: limits(100, 2) });
  const vips = Array.from({ length: 8 }, () => loopbackVip());
  const services = (n: number) =>
    snapshotOf(
      ...vips.slice(0, n).map((vip, i) => ({
        name: `s${i}`,
        vip,
        ports: [{ name: "p", port: 18096 }],
        endpoints: [],
      })),
    );
  const warnings = () =>
    log.lines.filter((l) => l.includes('"level":"warn"') && l.includes("listener budget"));
  try {
    await proxy.update(services(8));
    assert.equal(proxy.listeners().filter((l) => !l.bound).length, 6);
    assert.equal(warnings().length, 1);
    const line = JSON.parse(warnings()[0]!);
    assert.equal(line.services, 6);
    assert.equal(line.listeners, 6);
    assert.equal(
      line.first,
      "default/s2, default/s3, default/s4, default/s5, default/s6, … (1 more)",
    );
    assert.equal(line.see, "edgemesh ctl status -o json (unboundListeners)");
    assert.equal(line.maxListeners, 2);
    // Each service's detail is still there, at debug.
    assert.equal(
      log.lines.filter((l) => l.includes('"level":"debug"') && l.includes('"unbound":1')).length,
      6,
    );
    await proxy.update(services(8)); // the same: nothing more
    assert.equal(warnings().length, 1);
    await proxy.update(services(5)); // fewer left out: one more line
    assert.equal(warnings().length, 2);
    assert.equal(JSON.parse(warnings()[1]!).services, 3);
    await proxy.update(services(2)); // all fit again
    assert.equal(warnings().length, 2);
    assert.match(log.lines.at(-1)!, /Every service port fits the proxy's listener budget again/);
  } finally {
    await proxy.close();
  }
});

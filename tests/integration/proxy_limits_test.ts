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
      const warned = log.lines.filter((l) => l.includes("listener budget is used up"));
      assert.equal(warned.length, 1);
      assert.match(warned[0]!, /"service":"default\/big","ports":4,"unbound":2/);
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
      assert.equal(log.lines.filter((l) => l.includes("listener budget is used up")).length, 1);
    } finally {
      await proxy.close();
    }
  });
}

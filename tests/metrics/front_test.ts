// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry, serveMetrics } from "../../lib/metrics/mod.ts";

/** Resolves once the peer has closed `c` (EOF or reset). */
async function closedBy(c: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(1024);
  try {
    while ((await c.read(buf)) !== null) { /* ignored */ }
  } catch { /* reset */ }
}

Deno.test("metrics behind the front: a connection cap, and idle or partial requests closed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fdx-metrics-" });
  const ac = new AbortController();
  const log = memoryLogger();
  const srv = serveMetrics({
    listen: "127.0.0.1:0",
    registry: new MetricsRegistry(),
    ready: () => ({ ready: true, checks: {} }),
    signal: ac.signal,
    log,
    front: {
      socketPath: `${dir}/metrics.sock`,
      maxConnections: 2,
      firstByteTimeoutMs: 300,
      idleTimeoutMs: 600,
      checkEveryMs: 50,
    },
  });
  const conns: Deno.Conn[] = [];
  try {
    const { port } = srv.addr;
    const url = `http://127.0.0.1:${port}/readyz`;
    const started = Date.now();
    const bare = await Deno.connect({ hostname: "127.0.0.1", port });
    const partial = await Deno.connect({ hostname: "127.0.0.1", port });
    conns.push(bare, partial);
    await partial.write(new TextEncoder().encode("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
    // Both slots are held: a request waits (in the backlog) until the front closes them.
    const res = await fetch(url);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.ok(Date.now() - started >= 250, "served before the idle connections were closed");
    await Promise.all([closedBy(bare), closedBy(partial)]);
    assert.match(log.lines.join("\n"), /Connection cap reached.*"server":"metrics","cap":2/);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    ac.abort();
    await srv.finished;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("metrics behind the front: the inner Unix socket is 0600, as the control socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqa-metrics-" });
  const ac = new AbortController();
  const socketPath = `${dir}/edgemesh.sock.metrics`;
  const srv = serveMetrics({
    listen: "127.0.0.1:0",
    registry: new MetricsRegistry(),
    ready: () => ({ ready: true, checks: {} }),
    signal: ac.signal,
    log: memoryLogger(),
    front: { socketPath, maxConnections: 2 },
  });
  try {
    const info = await Deno.lstat(socketPath);
    assert.ok(info.isSocket);
    assert.equal((info.mode ?? 0) & 0o777, 0o600);
    // Still served through the front after the mode change.
    const res = await fetch(`http://127.0.0.1:${srv.addr.port}/healthz`);
    assert.equal(await res.text(), "ok\n");
  } finally {
    ac.abort();
    await srv.finished;
    await Deno.remove(dir, { recursive: true });
  }
});

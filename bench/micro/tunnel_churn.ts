// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Churns the tunnel's HTTP/2 sessions in one process, to make Deno 2.9.6's `node:http2` crash
 * (SIGSEGV inside nghttp2) show up within minutes instead of once in three soak runs: a
 * `TunnelServer` and `TunnelDialer`s on loopback, streams that end every way a stream can
 * (FIN both ways, reset by the client, refused, dial timeout, abort), heartbeats every 50 ms,
 * sessions of 4 streams that close when idle, and the dialer replaced every `CHURN_DIALER_MS`
 * with streams still open. Prints a line per second; exits 0 after `CHURN_SECONDS`.
 *
 *     deno run -A bench/micro/tunnel_churn.ts
 * @module
 */
// deno-lint-ignore-file no-console
import { memoryLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import type { DialTarget, UpstreamConn } from "../../lib/proxy/dialer.ts";
import { TunnelDialer } from "../../lib/tunnel/mod.ts";
import { readExactly, startEchoPeer, TEST_KEY, writeAll } from "../../tests/tunnel/_fixtures.ts";

const env = (k: string, d: number) => Number(Deno.env.get(k) ?? d);
const SECONDS = env("CHURN_SECONDS", 120);
const DIALER_MS = env("CHURN_DIALER_MS", 2000);
const PARALLEL = env("CHURN_PARALLEL", 24);
const MODES = (Deno.env.get("CHURN_MODES") ?? "fin,reset,refused,timeout,abort,hold").split(",");

const b = startEchoPeer();
const { server, target } = b;
const unknown: DialTarget = { ...target, service: "nosuch" };

function newDialer(): TunnelDialer {
  return new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${server.addr.port}` },
    log: memoryLogger(),
    metrics: new MetricsRegistry(),
    ...(env("CHURN_HEARTBEAT", 1)
      ? { heartbeat: { intervalMs: 50, timeoutMs: 2000, tickMs: 10 } }
      : { heartbeat: null }),
    ...(env("CHURN_POOL", 1)
      ? { sessions: { maxSessions: 4, maxStreamsPerSession: 5, idleCloseMs: 20 } }
      : {}),
  });
}
let dialer = newDialer();
const counts: Record<string, number> = {};
const count = (k: string) => counts[k] = (counts[k] ?? 0) + 1;
const enc = new TextEncoder();

async function one(): Promise<void> {
  const mode = MODES[Math.floor(Math.random() * MODES.length)]!;
  const d = dialer;
  let conn: UpstreamConn | undefined;
  try {
    if (mode === "refused") {
      await d.dial(unknown, { timeoutMs: 2000 }).then((c) => c.close());
      return;
    }
    if (mode === "timeout") {
      (await d.dial(target, { timeoutMs: 1 })).close();
      return;
    }
    if (mode === "abort") {
      const ac = new AbortController();
      const p = d.dial(target, { timeoutMs: 2000, signal: ac.signal });
      setTimeout(() => ac.abort(), Math.random() * 3);
      (await p).close();
      return;
    }
    conn = await d.dial(target, { timeoutMs: 2000 });
    await writeAll(conn, enc.encode("ping"));
    await readExactly(conn, 7);
    if (mode === "fin") {
      await conn.closeWrite();
      const buf = new Uint8Array(16);
      while (await conn.read(buf) !== null) { /* drain */ }
    } else if (mode === "hold") {
      await new Promise((r) => setTimeout(r, Math.random() * 500));
      await writeAll(conn, enc.encode("x"));
    }
    conn.close();
    count(`${mode}_ok`);
  } catch (err) {
    conn?.close();
    const e = err as Error & { reason?: string };
    const k = `${mode}_${e.reason ?? e.name}`;
    if (counts[k] === undefined && Deno.env.get("CHURN_VERBOSE")) console.error(k, e.message);
    count(k);
    // A busy or failing peer fails fast: do not spin.
    await new Promise((r) => setTimeout(r, 5));
  }
}

const end = performance.now() + SECONDS * 1000;
const workers = Array.from({ length: PARALLEL }, async () => {
  while (performance.now() < end) await one();
});
const swap = setInterval(() => {
  const old = dialer;
  dialer = newDialer();
  old.close();
  count("dialer_swaps");
}, DIALER_MS);
const report = setInterval(() => console.error(JSON.stringify(counts)), 5000);
await Promise.all(workers);
clearInterval(swap);
clearInterval(report);
dialer.close();
await b[Symbol.asyncDispose]();
console.error("done", JSON.stringify(counts));

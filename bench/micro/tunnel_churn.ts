// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Churns the tunnel's HTTP/2 sessions in one process, to make Deno 2.9.6's `node:http2` crash
 * (SIGSEGV inside nghttp2) show up within minutes instead of once in three soak runs: a
 * `TunnelServer` and `TunnelDialer`s on loopback, streams that end every way a stream can
 * (FIN both ways, reset by the client, refused, dial timeout, abort), heartbeats every 50 ms,
 * sessions of 4 streams that close when idle, and the dialer replaced every `CHURN_DIALER_MS`
 * with streams still open. Prints a line per second; exits 0 after `CHURN_SECONDS`.
 *
 * `CHURN_FREEZE=1` puts a TCP front between the dialers and the server that stops copying both
 * ways for `CHURN_FREEZE_MS` (default 300) every second, sockets left open: a hung peer agent
 * whose kernel still acknowledges. The heartbeat (timeout 100 ms then) finds it hung and
 * destroys the session with its streams open (`PeerPool`'s hung path).
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
const FREEZE = env("CHURN_FREEZE", 0) === 1;
const FREEZE_MS = env("CHURN_FREEZE_MS", 300);
const front = FREEZE ? startFreezingFront(server.addr.port) : null;
const peerPort = front?.port ?? server.addr.port;

/** A TCP relay to `port` that stops copying while `frozen` (sockets stay open). */
function startFreezingFront(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let thaw = Promise.withResolvers<void>();
  let frozen = false;
  const conns = new Set<Deno.Conn>();
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        while (frozen) await thaw.promise;
        await writeAll(to, buf.subarray(0, n));
      }
    } catch { /* either side gone */ }
    for (const c of [from, to]) {
      if (conns.delete(c)) c.close();
    }
  };
  (async () => {
    for await (const c of listener) {
      try {
        const up = await Deno.connect({ hostname: "127.0.0.1", port });
        conns.add(c).add(up);
        void pump(c, up);
        void pump(up, c);
      } catch {
        c.close();
      }
    }
  })().catch(() => {});
  const timer = setInterval(() => {
    frozen = true;
    count("freezes");
    setTimeout(() => {
      frozen = false;
      thaw.resolve();
      thaw = Promise.withResolvers<void>();
    }, FREEZE_MS);
  }, 1000);
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      clearInterval(timer);
      frozen = false;
      thaw.resolve();
      listener.close();
      for (const c of conns) c.close();
    },
  };
}
const unknown: DialTarget = { ...target, service: "nosuch" };

function newDialer(): TunnelDialer {
  return new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${peerPort}` },
    log: memoryLogger(),
    metrics: new MetricsRegistry(),
    ...(env("CHURN_HEARTBEAT", 1)
      ? { heartbeat: { intervalMs: 50, timeoutMs: FREEZE ? 100 : 2000, tickMs: 10 } }
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
front?.close();
await b[Symbol.asyncDispose]();
console.error("done", JSON.stringify(counts));

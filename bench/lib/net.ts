// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Network probes run from inside the benchmark namespace: readiness of HTTP and TCP
 * endpoints, and bulk DNS lookups of service names.
 * @module
 */
import { decodeAAnswer, encodeAQuery } from "./dnswire.ts";
import { sleep } from "./proc.ts";

/** Whether a TCP connection to `host:port` is accepted right now. */
export async function tcpAccepts(host: string, port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: host, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Waits until `host:port` accepts; returns the milliseconds waited. */
export async function waitTcp(host: string, port: number, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!(await tcpAccepts(host, port))) {
    if (performance.now() - start > timeoutMs) {
      throw new Error(`${host}:${port} did not accept connections within ${timeoutMs} ms`);
    }
    await sleep(10);
  }
  return performance.now() - start;
}

/**
 * Polls `url` until it answers 200; resolves with `performance.now()` at that moment.
 * `alive()` returning false aborts the wait (the process under test died).
 */
export async function waitHttpOk(
  url: string,
  timeoutMs: number,
  alive: () => boolean = () => true,
  intervalMs = 5,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.status === 200) return performance.now();
    } catch { /* not listening yet */ }
    if (!alive()) throw new Error(`Cannot reach ${url}: the process exited`);
    if (performance.now() - start > timeoutMs) {
      throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Resolves many names (A) against one server over UDP in one burst. Returns the names that got
 * an address; stops early once every query was answered (NXDOMAIN included), else after
 * `waitMs`.
 */
export async function resolveMany(
  server: { hostname: string; port: number },
  names: readonly string[],
  waitMs = 200,
): Promise<Map<string, string>> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  const out = new Map<string, string>();
  const answered = new Set<number>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const receiving = (async () => {
      while (answered.size < names.length) {
        const [msg] = await sock.receive();
        try {
          const a = decodeAAnswer(msg);
          const name = names[a.id];
          if (name === undefined || answered.has(a.id)) continue;
          answered.add(a.id);
          const addr = a.addresses[0];
          if (addr !== undefined) out.set(name, addr);
        } catch { /* ignore garbage */ }
      }
    })().catch(() => {});
    for (let i = 0; i < names.length; i++) {
      await sock.send(encodeAQuery(i, names[i] as string), { transport: "udp", ...server });
    }
    await Promise.race([receiving, new Promise((r) => timer = setTimeout(r, waitMs))]);
  } finally {
    clearTimeout(timer);
    sock.close();
  }
  return out;
}

/**
 * Waits until every name resolves (A, via `server`) to an address accepting TCP on `port`.
 * Returns `performance.now()` when the last one accepted.
 * @throws {Error} after `timeoutMs`, naming how many are still missing
 */
export async function waitNamesAccepting(
  server: { hostname: string; port: number },
  names: readonly string[],
  port: number,
  timeoutMs: number,
): Promise<{ at: number; vips: Map<string, string> }> {
  const start = performance.now();
  const vips = new Map<string, string>();
  const pending = new Set(names);
  while (pending.size > 0) {
    const unresolved = [...pending].filter((n) => !vips.has(n));
    if (unresolved.length > 0) {
      for (const [n, a] of await resolveMany(server, unresolved, 20)) vips.set(n, a);
    }
    const candidates = [...pending].filter((n) => vips.has(n));
    for (let i = 0; i < candidates.length; i += 200) {
      const chunk = candidates.slice(i, i + 200);
      const ok = await Promise.all(chunk.map((n) => tcpAccepts(vips.get(n) as string, port)));
      chunk.forEach((n, j) => ok[j] && pending.delete(n));
    }
    if (pending.size === 0) break;
    if (performance.now() - start > timeoutMs) {
      throw new Error(
        `${pending.size} of ${names.length} services not accepting on port ${port} after ${timeoutMs} ms`,
      );
    }
    await sleep(2);
  }
  return { at: performance.now(), vips };
}

/**
 * Waits until every `host:port` accepts a TCP connection (probing the pending ones in parallel
 * chunks); returns `performance.now()` when the last one did.
 * @throws {Error} after `timeoutMs`, naming how many are still refused
 */
export async function waitAllAccepting(
  targets: readonly { host: string; port: number }[],
  timeoutMs: number,
): Promise<number> {
  const start = performance.now();
  let pending = [...targets];
  while (pending.length > 0) {
    const still: typeof pending = [];
    for (let i = 0; i < pending.length; i += 200) {
      const chunk = pending.slice(i, i + 200);
      const ok = await Promise.all(chunk.map((t) => tcpAccepts(t.host, t.port)));
      chunk.forEach((t, j) => ok[j] || still.push(t));
    }
    pending = still;
    if (pending.length === 0) break;
    if (performance.now() - start > timeoutMs) {
      const first = pending[0] as { host: string; port: number };
      throw new Error(
        `${pending.length} of ${targets.length} VIPs not accepting after ${timeoutMs} ms (e.g. ${first.host}:${first.port})`,
      );
    }
    await sleep(2);
  }
  return performance.now();
}

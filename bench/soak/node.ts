// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The soak's helper inside one node's namespace: the node's echo backend, the upstream
 * resolver the agent forwards to, and the client load against the agent (short and long-lived
 * TCP connections to VIPs, DNS queries). Run by `bench/soak.ts` as
 * `deno run -A bench/soak/node.ts '<NodeSpec JSON>'`; prints `ready` once serving, then one
 * `stats <json>` line every 10 s; on the stdin line `stop` it ends the load, prints
 * `stopped <json>` and keeps serving the backend and the upstream until killed.
 * @module
 */
import { decodeAAnswer, encodeAQuery } from "../lib/dnswire.ts";

/** What one node's helper serves and loads. */
export interface NodeSpec {
  /** `host:port` of this node's echo backend (an address on the node's `lo`). */
  readonly backend: string;
  /** Address of the upstream resolver (UDP port 53). */
  readonly upstream: string;
  /** The agent's DNS address (`host:port`). */
  readonly dns: string;
  /** FQDN suffix of the services, e.g. `soak.svc.cluster.local`. */
  readonly suffix: string;
  /** Services with their endpoint on this node, on the other node, and with none ready. */
  readonly local: string;
  readonly remote: string;
  readonly none: string;
  /** Names of the churned pool (existing or not at any time). */
  readonly pool: readonly string[];
  readonly shortPerS: number;
  readonly dnsPerS: number;
  /** Long-lived connections to `local` and as many to `remote`. */
  readonly longLived: number;
}

/** Counters the helper reports; keys are `<kind>_<outcome>`. */
type Counters = Record<string, number>;

const spec = JSON.parse(Deno.args[0] ?? "{}") as NodeSpec;
const counters: Counters = {};
const count = (key: string) => counters[key] = (counters[key] ?? 0) + 1;
const stop = new AbortController();
const enc = new TextEncoder();
const PAYLOAD = enc.encode("soak-ping-0123456");

/** Writes one line to stdout (the protocol with bench/soak/helper.ts) or stderr. */
function say(line: string, to: typeof Deno.stdout | typeof Deno.stderr = Deno.stdout): void {
  const bytes = enc.encode(line + "\n");
  for (let off = 0; off < bytes.length;) off += to.writeSync(bytes.subarray(off));
}

function hostPort(addr: string): { hostname: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { hostname: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

function withTimeout<T>(p: Promise<T>, ms: number, onLate: (v: T) => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      p.then(onLate, () => {});
      reject(new Error("timeout"));
    }, ms);
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

// --- backend and upstream ---------------------------------------------------------------

async function serveBackend(): Promise<void> {
  const listener = Deno.listen({ ...hostPort(spec.backend), transport: "tcp" });
  for await (const conn of listener) {
    conn.readable.pipeTo(conn.writable).catch(() => {});
  }
}

/** Answers every query with one A record (192.0.2.x, TTL 5), as a forwarded name's resolver. */
async function serveUpstream(): Promise<void> {
  const sock = Deno.listenDatagram({ hostname: spec.upstream, port: 53, transport: "udp" });
  for await (const [query, peer] of sock) {
    if (query.length < 17) continue;
    let end = 12;
    while (end < query.length && query[end] !== 0) end += query[end]! + 1;
    end += 5; // the root label, QTYPE, QCLASS
    if (end > query.length) continue;
    const reply = new Uint8Array(end + 16);
    reply.set(query.subarray(0, end));
    const v = new DataView(reply.buffer);
    v.setUint16(2, 0x8180); // QR, RD, RA, NOERROR
    v.setUint16(6, 1); // ANCOUNT
    v.setUint16(8, 0);
    v.setUint16(10, 0);
    v.setUint16(end, 0xc00c); // the question's name
    v.setUint16(end + 2, 1); // A
    v.setUint16(end + 4, 1); // IN
    v.setUint32(end + 6, 5); // TTL
    v.setUint16(end + 10, 4);
    reply.set([192, 0, 2, query[13]! & 0xff], end + 12);
    await sock.send(reply, peer).catch(() => count("upstream_senderror"));
  }
}

// --- DNS client -------------------------------------------------------------------------

const dnsSock = Deno.listenDatagram({ hostname: "0.0.0.0", port: 0, transport: "udp" });
const pending = new Map<number, (a: { rcode: number; addresses: readonly string[] }) => void>();
let nextId = 1;

async function receiveDns(): Promise<void> {
  for await (const [buf] of dnsSock) {
    try {
      const a = decodeAAnswer(buf);
      pending.get(a.id)?.(a);
      pending.delete(a.id);
    } catch {
      count("dns_malformed");
    }
  }
}

/** One A query to the agent; resolves with the rcode and addresses, or null after 2 s. */
function query(name: string): Promise<{ rcode: number; addresses: readonly string[] } | null> {
  const id = nextId = (nextId % 65535) + 1;
  const { promise, resolve } = Promise.withResolvers<
    { rcode: number; addresses: readonly string[] } | null
  >();
  const timer = setTimeout(() => {
    pending.delete(id);
    resolve(null);
  }, 2000);
  pending.set(id, (a) => {
    clearTimeout(timer);
    resolve(a);
  });
  dnsSock.send(encodeAQuery(id, name), { transport: "udp", ...hostPort(spec.dns) })
    .catch(() => {});
  return promise;
}

async function lookup(kind: string, name: string): Promise<string | null> {
  const a = await query(name);
  if (a === null) {
    count(`${kind}_timeout`);
    return null;
  }
  count(
    `${kind}_${a.rcode === 0 ? (a.addresses.length ? "answer" : "nodata") : `rcode${a.rcode}`}`,
  );
  return a.addresses[0] ?? null;
}

const fqdn = (svc: string) => `${svc}.${spec.suffix}`;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
let unique = 0;

function oneQuery(): Promise<unknown> {
  const r = Math.random();
  if (r < 0.4) return lookup("dns_pool", fqdn(pick(spec.pool)));
  if (r < 0.5) return lookup("dns_fixed", fqdn(pick([spec.local, spec.remote, spec.none])));
  if (r < 0.6) return lookup("dns_nosuch", fqdn(`nosuch-${Math.floor(Math.random() * 50)}`));
  if (r < 0.9) return lookup("dns_fwd", `h${Math.floor(Math.random() * 500)}.soak.test`);
  return lookup("dns_fwdunique", `u${unique++}.soak.test`);
}

// --- TCP clients ------------------------------------------------------------------------

/** Connects to `addr`:80, sends the payload, reads its echo; the outcome is counted. */
async function shortConn(kind: string, vip: string): Promise<void> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await withTimeout(
      Deno.connect({ hostname: vip, port: 80 }),
      3000,
      (c) => c.close(),
    );
    const c = conn;
    await withTimeout(
      (async () => {
        await c.write(PAYLOAD);
        const buf = new Uint8Array(PAYLOAD.length);
        let got = 0;
        while (got < buf.length) {
          const n = await c.read(buf.subarray(got));
          if (n === null) throw new Error("eof");
          got += n;
        }
      })(),
      3000,
      () => {},
    );
    count(`${kind}_ok`);
  } catch (err) {
    const msg = (err as Error).message;
    count(`${kind}_${/timeout/.test(msg) ? "timeout" : msg === "eof" ? "eof" : "error"}`);
  } finally {
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

const vips = new Map<string, string>();
let inFlight = 0;

async function oneShort(): Promise<void> {
  if (inFlight >= 64) {
    count("short_skipped");
    return;
  }
  inFlight++;
  try {
    const r = Math.random();
    const [kind, svc] = r < 0.35
      ? ["tcp_local", spec.local]
      : r < 0.65
      ? ["tcp_remote", spec.remote]
      : r < 0.75
      ? ["tcp_none", spec.none]
      : ["tcp_pool", pick(spec.pool)];
    let vip: string | null | undefined = kind === "tcp_pool" ? undefined : vips.get(svc);
    if (!vip) {
      vip = await lookup("dns_forconn", fqdn(svc));
      if (vip === null) {
        count(`${kind}_noname`);
        return;
      }
      if (kind !== "tcp_pool") vips.set(svc, vip);
    }
    await shortConn(kind, vip);
  } finally {
    inFlight--;
  }
}

/** Holds one connection open, one round trip every 5 s; reconnects after an error. */
async function longLived(kind: string, svc: string): Promise<void> {
  while (!stop.signal.aborted) {
    const vip = vips.get(svc) ?? await lookup("dns_forconn", fqdn(svc));
    let conn: Deno.TcpConn | undefined;
    try {
      if (vip === null) throw new Error("no name");
      conn = await withTimeout(Deno.connect({ hostname: vip, port: 80 }), 3000, (c) => c.close());
      count(`${kind}_connect`);
      const buf = new Uint8Array(PAYLOAD.length);
      while (!stop.signal.aborted) {
        await conn.write(PAYLOAD);
        let got = 0;
        while (got < buf.length) {
          const n = await withTimeout(conn.read(buf.subarray(got)), 10_000, () => {});
          if (n === null) throw new Error("eof");
          got += n;
        }
        count(`${kind}_roundtrip`);
        await delay(5000);
      }
    } catch {
      if (!stop.signal.aborted) count(`${kind}_broken`);
      await delay(1000);
    } finally {
      try {
        conn?.close();
      } catch { /* closed */ }
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      stop.signal.removeEventListener("abort", done);
      resolve();
    }
    stop.signal.addEventListener("abort", done, { once: true });
  });
}

// --- main -------------------------------------------------------------------------------

serveBackend().catch((e) => say(`soak node: backend failed: ${e}`, Deno.stderr));
serveUpstream().catch((e) => say(`soak node: upstream failed: ${e}`, Deno.stderr));
receiveDns().catch(() => {});
say("ready");

const tasks: Promise<void>[] = [];
for (let i = 0; i < spec.longLived; i++) {
  tasks.push(longLived("long_local", spec.local), longLived("long_remote", spec.remote));
}
let shortDebt = 0;
let dnsDebt = 0;
const tick = setInterval(() => {
  shortDebt += spec.shortPerS / 10;
  dnsDebt += spec.dnsPerS / 10;
  for (; shortDebt >= 1; shortDebt--) oneShort().catch(() => count("short_bug"));
  for (; dnsDebt >= 1; dnsDebt--) oneQuery().catch(() => count("dns_bug"));
}, 100);
const report = setInterval(() => say(`stats ${JSON.stringify(counters)}`), 10_000);

for await (const line of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  if (line.includes("stop")) break;
}
clearInterval(tick);
clearInterval(report);
stop.abort();
await Promise.all(tasks);
say(`stopped ${JSON.stringify(counters)}`);

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The client of the agent tunnel test, run inside node A's namespace (the test process lives
 * in the host's): `client.ts '<json ClientSpec[]>'` runs the actions in order and prints one JSON
 * line, the array of their results (one process per batch keeps the test quick).
 *
 * - `names`: `count` connections one after the other; each reads the backend's greeting.
 * - `echo`: sends `bytes` pseudo-random bytes, reads the echo back; SHA-256 of both ways.
 * - `stall`: one connection writes and never reads; meanwhile new connections round-trip. It
 *   ends after three round trips in a row during which the stalled writer made no progress
 *   (the stalled stream really was stuck while others flowed), bounded by the bytes written.
 * - `dial`: a {@linkcode TunnelDialer} (signed with a key file) asks peers for endpoints
 *   directly, so the test can show what a peer refuses.
 * - `get`: GETs URLs (the agents' `/metrics`, reachable on the LAN) and returns the bodies.
 * @module
 */
// deno-lint-ignore-file no-console
import { createHash } from "node:crypto";
import { nullLogger } from "../../../lib/log/mod.ts";
import { TunnelDialer, TunnelDialError } from "../../../lib/tunnel/mod.ts";

/** What the client does. */
export type ClientSpec =
  | { readonly mode: "names"; readonly addr: string; readonly count: number }
  | { readonly mode: "echo"; readonly addr: string; readonly bytes: number }
  | { readonly mode: "stall"; readonly addr: string }
  | {
    readonly mode: "dial";
    readonly keyFile: string;
    /** `nodeName → host:port` of the peers asked. */
    readonly peers: Readonly<Record<string, string>>;
    readonly targets: readonly DialTargetSpec[];
  }
  | { readonly mode: "get"; readonly urls: readonly string[] };

/** One stream `dial` asks for: this endpoint of this service port, through node `node`. */
export interface DialTargetSpec {
  readonly node: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: number;
  readonly endpoint: { readonly ip: string; readonly port: number };
}

/** One entry of `names`: the backend's name, or why the connection failed. */
export type NameResult = { readonly name: string } | { readonly error: string };

/** Results by mode. */
export interface ClientResults {
  names: { readonly names: readonly NameResult[] };
  echo: {
    readonly name: string;
    readonly sent: number;
    readonly received: number;
    readonly sentSha256: string;
    readonly receivedSha256: string;
  };
  stall: { readonly stalledBytes: number; readonly roundTrips: number };
  dial: readonly ({ readonly reply: string } | { readonly error: string })[];
  get: readonly string[];
}

/** Bounds a whole run, so a blocked tunnel fails the test instead of hanging it. */
const RUN_BOUND_MS = 30_000;
const STALL_LIMIT = 512 * 1024 * 1024;
const HTTP2_WINDOW = 1024 * 1024;

function parseAddr(addr: string): { hostname: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { hostname: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

async function writeAll(
  w: { write(p: Uint8Array): Promise<number> },
  p: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < p.length) off += await w.write(p.subarray(off));
}

/** Reads the greeting line; leftover bytes after it are returned too. */
async function readGreeting(
  r: { read(p: Uint8Array): Promise<number | null> },
): Promise<{ name: string; rest: Uint8Array }> {
  const buf = new Uint8Array(64 * 1024);
  let seen = new Uint8Array(0);
  while (true) {
    const n = await r.read(buf);
    if (n === null) throw new Error("closed before the greeting");
    const next = new Uint8Array(seen.length + n);
    next.set(seen);
    next.set(buf.subarray(0, n), seen.length);
    seen = next;
    const nl = seen.indexOf(10);
    if (nl >= 0) {
      return { name: new TextDecoder().decode(seen.subarray(0, nl)), rest: seen.slice(nl + 1) };
    }
  }
}

async function readRest(r: { read(p: Uint8Array): Promise<number | null> }): Promise<string> {
  const buf = new Uint8Array(64 * 1024);
  let text = "";
  const dec = new TextDecoder();
  while (true) {
    const n = await r.read(buf);
    if (n === null) return text + dec.decode();
    text += dec.decode(buf.subarray(0, n), { stream: true });
  }
}

async function names(addr: string, count: number): Promise<ClientResults["names"]> {
  const out: NameResult[] = [];
  for (let i = 0; i < count; i++) {
    let conn: Deno.TcpConn | null = null;
    try {
      conn = await Deno.connect(parseAddr(addr));
      out.push({ name: (await readGreeting(conn)).name });
    } catch (err) {
      out.push({ error: (err as Error).message });
    } finally {
      conn?.close();
    }
  }
  return { names: out };
}

/** One connection: greeting, `ping`, half-close, the echo; returns the backend's name. */
async function roundTrip(addr: string, payload: string): Promise<string> {
  const conn = await Deno.connect(parseAddr(addr));
  try {
    const { name, rest } = await readGreeting(conn);
    await writeAll(conn, new TextEncoder().encode(payload));
    await conn.closeWrite();
    const echoed = new TextDecoder().decode(rest) + await readRest(conn);
    if (echoed !== payload) {
      throw new Error(`Round trip echoed ${JSON.stringify(echoed)}, not ${payload}`);
    }
    return name;
  } finally {
    conn.close();
  }
}

async function echo(addr: string, bytes: number): Promise<ClientResults["echo"]> {
  const conn = await Deno.connect(parseAddr(addr));
  try {
    const { name, rest } = await readGreeting(conn);
    const sentHash = createHash("sha256");
    const gotHash = createHash("sha256");
    gotHash.update(rest);
    let received = rest.length;
    const reading = (async () => {
      const buf = new Uint8Array(256 * 1024);
      while (true) {
        const n = await conn.read(buf);
        if (n === null) return;
        gotHash.update(buf.subarray(0, n));
        received += n;
      }
    })();
    const block = new Uint8Array(1024 * 1024);
    crypto.getRandomValues(block.subarray(0, 65536));
    for (let off = 65536; off < block.length; off *= 2) block.copyWithin(off, 0, off);
    let sent = 0;
    for (let i = 0; sent < bytes; i++) {
      // A counter in every block: reordered or repeated blocks change the hash.
      new DataView(block.buffer).setUint32(0, i);
      const chunk = block.subarray(0, Math.min(block.length, bytes - sent));
      sentHash.update(chunk);
      await writeAll(conn, chunk);
      sent += chunk.length;
    }
    await conn.closeWrite();
    await reading;
    return {
      name,
      sent,
      received,
      sentSha256: sentHash.digest("hex"),
      receivedSha256: gotHash.digest("hex"),
    };
  } finally {
    conn.close();
  }
}

async function stall(addr: string): Promise<ClientResults["stall"]> {
  const stalled = await Deno.connect(parseAddr(addr));
  let written = 0;
  const chunk = new Uint8Array(64 * 1024).fill(42);
  const writer = (async () => {
    while (written < STALL_LIMIT) {
      await writeAll(stalled, chunk);
      written += chunk.length;
    }
  })();
  writer.catch(() => {});
  try {
    let quiet = 0;
    let roundTrips = 0;
    while (quiet < 3) {
      if (written >= STALL_LIMIT) {
        throw new Error(`The stalled connection never stalled (${written} bytes written)`);
      }
      const before = written;
      await roundTrip(addr, `ping ${roundTrips}`);
      roundTrips++;
      quiet = written === before && written > 2 * HTTP2_WINDOW ? quiet + 1 : 0;
    }
    return { stalledBytes: written, roundTrips };
  } finally {
    stalled.close();
    await writer.catch(() => {});
  }
}

async function dial(spec: Extract<ClientSpec, { mode: "dial" }>): Promise<ClientResults["dial"]> {
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: await Deno.readFile(spec.keyFile),
    peers: spec.peers,
    log: nullLogger,
  });
  const out: ClientResults["dial"][number][] = [];
  try {
    for (const t of spec.targets) {
      try {
        const conn = await dialer.dial({
          namespace: t.namespace,
          service: t.service,
          port: {
            name: "",
            protocol: "TCP",
            port: t.port,
            targetPort: { kind: "number", port: t.endpoint.port },
          },
          backend: { ip: t.endpoint.ip, port: t.endpoint.port, nodeName: t.node },
        }, { timeoutMs: 5000 });
        try {
          out.push({ reply: (await readGreeting(conn)).name });
        } finally {
          conn.close();
        }
      } catch (err) {
        out.push({ error: err instanceof TunnelDialError ? err.reason : String(err) });
      }
    }
  } finally {
    dialer.close();
  }
  return out;
}

async function get(urls: readonly string[]): Promise<ClientResults["get"]> {
  return await Promise.all(urls.map(async (url) => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
    return await res.text();
  }));
}

function run(spec: ClientSpec): Promise<unknown> {
  switch (spec.mode) {
    case "names":
      return names(spec.addr, spec.count);
    case "echo":
      return echo(spec.addr, spec.bytes);
    case "stall":
      return stall(spec.addr);
    case "dial":
      return dial(spec);
    case "get":
      return get(spec.urls);
  }
}

if (import.meta.main) {
  const specs = JSON.parse(Deno.args[0] ?? "[]") as ClientSpec[];
  const results: unknown[] = [];
  const bound = setTimeout(() => {
    console.error(`client: no result within ${RUN_BOUND_MS} ms (${JSON.stringify(specs)})`);
    Deno.exit(3);
  }, RUN_BOUND_MS);
  for (const spec of specs) results.push(await run(spec));
  clearTimeout(bound);
  console.log(JSON.stringify(results));
}

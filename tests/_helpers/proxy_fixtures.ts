// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Fixtures for proxy tests: hand-built snapshots and small TCP backends on loopback
 * (a "name" server replying with its own name, and an echo server).
 * @module
 */
import type {
  Endpoint,
  InternalTrafficPolicy,
  LbStrategy,
  ServiceEntry,
  ServicePort,
  SessionAffinity,
  Snapshot,
} from "../../lib/registry/model.ts";
import { serviceKey } from "../../lib/registry/model.ts";
import { echoUntilEof, serveTcp, writeAll } from "./tcp_server.ts";

/** A random loopback address to use as a VIP (127.0.0.0/8 is all local, no device needed). */
export function loopbackVip(): string {
  const b = crypto.getRandomValues(new Uint8Array(3));
  return `127.${100 + (b[0]! % 150)}.${b[1]}.${1 + (b[2]! % 250)}`;
}

/** Description of one test service. */
export interface TestService {
  readonly namespace?: string;
  readonly name: string;
  readonly vip: string | null;
  /** Service ports; each endpoint serves every port name at `ports[name]`. */
  readonly ports: readonly { readonly name: string; readonly port: number }[];
  /** Endpoints: address and the backend port per service port name. */
  readonly endpoints: readonly {
    readonly ip?: string;
    readonly ports: Readonly<Record<string, number>>;
    readonly nodeName?: string | null;
    readonly ready?: boolean;
    /** A terminating endpoint (EndpointSlice conditions; `ready` defaults to false then). */
    readonly terminating?: { readonly serving: boolean };
  }[];
  readonly sessionAffinity?: SessionAffinity;
  readonly lbStrategy?: LbStrategy;
  readonly internalTrafficPolicy?: InternalTrafficPolicy;
}

let version = 0;

/** Builds a registry {@linkcode Snapshot} from test service descriptions. */
export function snapshotOf(...services: TestService[]): Snapshot {
  const map = new Map<string, ServiceEntry>();
  const vips = new Map<string, string>();
  for (const s of services) {
    const namespace = s.namespace ?? "default";
    const ports: ServicePort[] = s.ports.map((p) => ({
      name: p.name,
      protocol: "TCP",
      port: p.port,
      targetPort: { kind: "name", name: p.name || "unnamed" },
    }));
    const endpoints: Endpoint[] = s.endpoints.map((e) => ({
      ip: e.ip ?? "127.0.0.1",
      ready: e.ready ?? e.terminating === undefined,
      ...(e.terminating ? { terminating: true, serving: e.terminating.serving } : {}),
      nodeName: e.nodeName ?? null,
      hostname: null,
      podName: null,
      ports: Object.entries(e.ports).map(([name, port]) => ({ name, port, protocol: "TCP" })),
    }));
    const key = serviceKey(namespace, s.name);
    map.set(key, {
      service: {
        namespace,
        name: s.name,
        kind: { type: "ClusterIP" },
        ports,
        sessionAffinity: s.sessionAffinity ?? { type: "None" },
        ...(s.lbStrategy ? { lbStrategy: s.lbStrategy } : {}),
        ...(s.internalTrafficPolicy ? { internalTrafficPolicy: s.internalTrafficPolicy } : {}),
      },
      vip: s.vip,
      endpoints,
      endpointSource: "endpoints",
    });
    if (s.vip) vips.set(s.vip, key);
  }
  return { version: ++version, services: map, nodes: new Map(), vips };
}

/** A running loopback TCP server; `stop()` closes it and every open connection. */
export interface TestServer extends AsyncDisposable {
  readonly name: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  stop(): Promise<void>;
}

function serve(name: string, handle: (conn: Deno.TcpConn) => Promise<void>): TestServer {
  const server = serveTcp(handle);
  return {
    name,
    port: server.port,
    get accepted() {
      return server.accepted;
    },
    stop: server.close,
    [Symbol.asyncDispose]: server.close,
  };
}

/** A backend that writes its own name and closes each connection. */
export function nameServer(name: string): TestServer {
  const bytes = new TextEncoder().encode(name);
  return serve(name, async (conn) => {
    await conn.write(bytes);
  });
}

/** A backend echoing every byte back; at EOF it half-closes too. */
export function echoServer(name = "echo"): TestServer {
  return serve(name, (conn) => echoUntilEof(conn));
}

/** Reads `conn` to EOF and returns the text (a reset counts as EOF). */
export async function readAll(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.ConnectionReset)) throw err;
  }
  const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(all);
}

/** Connects to `vip:port`, reads the whole reply and closes: one request to a name server. */
export async function ask(vip: string, port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: vip, port });
  try {
    return await readAll(conn);
  } finally {
    conn.close();
  }
}

/** How a connection ended: the error class of a failed connect or read, or what it read. */
export type Ending = "eof" | "ConnectionReset" | `data:${string}`;

/**
 * Reads one chunk from `conn` (nothing sent) and says how the peer ended the connection:
 * `eof` (FIN, a clean empty reply), `ConnectionReset` (RST) or `data:<text>`.
 */
export async function ending(
  conn: { read(p: Uint8Array): Promise<number | null>; close(): void },
): Promise<Ending> {
  try {
    const buf = new Uint8Array(256);
    const n = await conn.read(buf);
    return n === null ? "eof" : `data:${new TextDecoder().decode(buf.subarray(0, n))}`;
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionReset) return "ConnectionReset";
    throw err;
  } finally {
    conn.close();
  }
}

/**
 * Connects to `vip:port` and reports {@linkcode ending}. A reset that arrives before the
 * connect has returned fails the connect itself: that counts as `ConnectionReset` too.
 */
export async function connectEnding(vip: string, port: number): Promise<Ending> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: vip, port });
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionReset) return "ConnectionReset";
    throw err;
  }
  return await ending(conn);
}

export { writeAll };

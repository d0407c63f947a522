// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A stand-in "node" for namespace tests, run inside a namespace (the agent is not wired yet):
 *
 * - `_node.ts serve '<json ServeSpec>'`: an echo backend plus a TunnelServer authorizing
 *   against the given services; prints `ready <echo port> <loopback port of its Deno.serve>`
 *   (then, with `log`, its log lines) and runs until killed.
 * - `_node.ts hold '<json HoldSpec>'`: opens up to `count` idle connections to a port, prints
 *   `held N` and holds them until killed (a local process flooding the tunnel's loopback port).
 * - `_node.ts dial '<json DialSpec>'`: a TunnelDialer that learns peers from Node objects,
 *   dials each target, sends `hello`, half-closes, and prints one JSON result per target.
 * - `_node.ts flood '<json FloodSpec>'`: correctly signed streams for an unknown service, as
 *   fast as it can; prints the count of each refusal reason.
 * - `_node.ts linger '<json LingerSpec>'`: dials one stream to peer "b", sends `hello`, prints
 *   `ready <echo>` and keeps the stream open, waiting for it to end; prints how (JSON
 *   `LingerResult`).
 * @module
 */
// deno-lint-ignore-file no-console
import { createLogger, nullLogger } from "../../lib/log/mod.ts";
import { tcpSockets } from "../../lib/sys/nodelay.ts";
import type { TcpKeepAlive } from "../../lib/sys/keepalive.ts";
import type { NodeInfo } from "../../lib/registry/model.ts";
import {
  DEFAULT_SOURCE_WATCH,
  type HeartbeatPolicy,
  TunnelDialer,
  TunnelDialError,
  TunnelServer,
} from "../../lib/tunnel/mod.ts";
import {
  readExactly,
  roundTrip,
  servicePort,
  type ServiceSpec,
  snapshotOf,
  startEchoServer,
  TEST_KEY,
  writeAll,
} from "./_fixtures.ts";

/** Arguments of `linger`: one stream to the echo service on peer "b" (`host:port`). */
export interface LingerSpec {
  readonly peer: string;
  readonly backend: { readonly ip: string; readonly port: number };
  /** `TunnelDialerOptions.keepAlive`. */
  readonly keepAlive?: TcpKeepAlive;
  /** `TunnelDialerOptions.heartbeat`. */
  readonly heartbeat?: HeartbeatPolicy;
  /**
   * Once the stream ended, dial again with the same dialer and print `redial <reply>` (a round
   * trip of `again`) or `redial error <message>`.
   */
  readonly redial?: boolean;
  /** `TunnelDialerOptions.sourceWatch.intervalMs` (the rest as by default). */
  readonly sourceWatchMs?: number;
}

/** How the stream of `linger` ended, after how long. */
export interface LingerResult {
  readonly ended: "eof" | "error";
  readonly afterMs: number;
  readonly error?: string;
}

/** Arguments of `serve`. */
export interface ServeSpec {
  readonly nodeName: string;
  readonly listen: string;
  /** The echo backend's address (its port is fixed so the snapshot can name it). */
  readonly echoHost: string;
  readonly echoPort: number;
  readonly greeting: string;
  readonly services: readonly ServiceSpec[];
  /** `TunnelServerOptions.maxNonces` / `maxNoncesPerSource` (defaults when absent). */
  readonly maxNonces?: number;
  readonly maxNoncesPerSource?: number;
  /** Print the server's log lines (JSON, info and up) on stdout after `ready`. */
  readonly log?: boolean;
  /** `TunnelServerOptions.loopbackEndpointsForTests`. */
  readonly loopbackEndpoints?: boolean;
  /** `TunnelServerOptions.keepAlive`. */
  readonly keepAlive?: TcpKeepAlive;
}

/** Arguments of `hold`. */
export interface HoldSpec {
  readonly host: string;
  readonly port: number;
  readonly count: number;
}

/** Arguments of `flood`: `count` correctly signed streams, `concurrency` at a time. */
export interface FloodSpec {
  readonly nodeName: string;
  /** `host:port` of the peer's tunnel. */
  readonly peer: string;
  readonly count: number;
  readonly concurrency: number;
}

/** Arguments of `dial`. */
export interface DialSpec {
  readonly nodeName: string;
  readonly nodes: readonly NodeInfo[];
  readonly port: number;
  readonly targets: readonly {
    readonly service: string;
    readonly ip: string;
    readonly port: number;
    readonly nodeName: string;
  }[];
}

/** One line of `dial` output. */
export type DialResult = { readonly reply: string } | { readonly error: string };

async function serve(spec: ServeSpec): Promise<void> {
  const echo = startEchoServer(spec.greeting, spec.echoHost, spec.echoPort);
  const server = new TunnelServer({
    listen: spec.listen,
    nodeName: spec.nodeName,
    key: TEST_KEY,
    log: spec.log
      ? createLogger({ level: "info", format: "json", write: (l) => console.log(l) })
      : nullLogger,
    ...(spec.loopbackEndpoints ? { loopbackEndpointsForTests: true } : {}),
    ...(spec.maxNonces ? { maxNonces: spec.maxNonces } : {}),
    ...(spec.maxNoncesPerSource ? { maxNoncesPerSource: spec.maxNoncesPerSource } : {}),
    ...(spec.keepAlive ? { keepAlive: spec.keepAlive } : {}),
  });
  server.update(snapshotOf(spec.services));
  const inner = [...tcpSockets()].find((s) =>
    s.listening && s.hostname === "127.0.0.1" && s.port !== server.addr.port &&
    s.port !== echo.port
  );
  console.log(`ready ${echo.port} ${inner?.port ?? 0}`);
  await server.finished;
}

async function dial(spec: DialSpec): Promise<void> {
  const dialer = new TunnelDialer({
    nodeName: spec.nodeName,
    key: TEST_KEY,
    port: spec.port,
    log: nullLogger,
  });
  dialer.update(snapshotOf([], spec.nodes));
  try {
    for (const t of spec.targets) {
      let result: DialResult;
      try {
        const conn = await dialer.dial({
          namespace: "default",
          service: t.service,
          port: servicePort(80),
          backend: { ip: t.ip, port: t.port, nodeName: t.nodeName },
        }, { timeoutMs: 3000 });
        try {
          result = { reply: await roundTrip(conn, "hello") };
        } finally {
          conn.close();
        }
      } catch (err) {
        result = { error: err instanceof TunnelDialError ? err.reason : String(err) };
      }
      console.log(JSON.stringify(result));
    }
  } finally {
    dialer.close();
  }
}

/**
 * A key holder flooding peer "b" with correctly signed streams for a service it does not have;
 * prints one JSON line: how many dials ended with each reason.
 */
async function flood(spec: FloodSpec): Promise<void> {
  const dialer = new TunnelDialer({
    nodeName: spec.nodeName,
    key: TEST_KEY,
    peers: { b: spec.peer },
    log: nullLogger,
  });
  const reasons: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < spec.count) {
      next++;
      try {
        const conn = await dialer.dial({
          namespace: "default",
          service: "nosuch",
          port: servicePort(80),
          backend: { ip: "10.9.9.9", port: 9, nodeName: "b" },
        }, { timeoutMs: 5000 });
        conn.close();
        reasons.ok = (reasons.ok ?? 0) + 1;
      } catch (err) {
        const r = err instanceof TunnelDialError ? err.reason : String(err);
        reasons[r] = (reasons[r] ?? 0) + 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
  } finally {
    dialer.close();
  }
  console.log(JSON.stringify(reasons));
}

/** Opens up to `count` connections (sequentially, 2 s each at most) and holds them. */
async function hold(spec: HoldSpec): Promise<Deno.Conn[]> {
  const held: Deno.Conn[] = [];
  for (let i = 0; i < spec.count; i++) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      held.push(
        await Promise.race([
          Deno.connect({ hostname: spec.host, port: spec.port }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("connect timed out")), 2000);
          }),
        ]),
      );
    } catch {
      break; // refused (the listener is gone) or the backlog is full
    } finally {
      clearTimeout(timer);
    }
  }
  console.log(`held ${held.length}`);
  setInterval(() => {}, 1 << 30); // until killed
  return held;
}

async function linger(spec: LingerSpec): Promise<void> {
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: spec.peer },
    log: nullLogger,
    ...(spec.keepAlive ? { keepAlive: spec.keepAlive } : {}),
    ...(spec.heartbeat ? { heartbeat: spec.heartbeat } : {}),
    ...(spec.sourceWatchMs
      ? { sourceWatch: { ...DEFAULT_SOURCE_WATCH, intervalMs: spec.sourceWatchMs } }
      : {}),
  });
  const target = {
    namespace: "default",
    service: "echo",
    port: servicePort(80),
    backend: { ...spec.backend, nodeName: "b" },
  };
  try {
    const conn = await dialer.dial(target, { timeoutMs: 3000 });
    await writeAll(conn, new TextEncoder().encode("hello"));
    console.log(`ready ${new TextDecoder().decode(await readExactly(conn, 7))}`);
    const since = performance.now();
    let result: LingerResult;
    try {
      while ((await conn.read(new Uint8Array(1024))) !== null) { /* the echo sends nothing more */ }
      result = { ended: "eof", afterMs: performance.now() - since };
    } catch (err) {
      result = { ended: "error", afterMs: performance.now() - since, error: String(err) };
    }
    console.log(JSON.stringify(result));
    conn.close();
    if (spec.redial) {
      try {
        const again = await dialer.dial(target, { timeoutMs: 3000 });
        console.log(`redial ${await roundTrip(again, "again")}`);
        again.close();
      } catch (err) {
        console.log(`redial error ${err instanceof Error ? err.message : err}`);
      }
    }
  } finally {
    dialer.close();
  }
}

if (import.meta.main) {
  const [mode, json] = Deno.args;
  if (mode === "serve") await serve(JSON.parse(json!));
  else if (mode === "dial") await dial(JSON.parse(json!));
  else if (mode === "flood") await flood(JSON.parse(json!));
  else if (mode === "hold") await hold(JSON.parse(json!));
  else if (mode === "linger") await linger(JSON.parse(json!));
  else throw new TypeError(`Cannot run _node.ts: unknown mode "${mode}"`);
}

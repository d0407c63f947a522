// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A stand-in "node" for namespace tests, run inside a namespace (the agent is not wired yet):
 *
 * - `_node.ts serve '<json ServeSpec>'`: an echo backend plus a TunnelServer authorizing
 *   against the given services; prints `ready` and runs until killed.
 * - `_node.ts dial '<json DialSpec>'`: a TunnelDialer that learns peers from Node objects,
 *   dials each target, sends `hello`, half-closes, and prints one JSON result per target.
 * - `_node.ts flood '<json FloodSpec>'`: correctly signed streams for an unknown service, as
 *   fast as it can; prints the count of each refusal reason.
 * @module
 */
// deno-lint-ignore-file no-console
import { nullLogger } from "../../lib/log/mod.ts";
import type { NodeInfo } from "../../lib/registry/model.ts";
import { TunnelDialer, TunnelDialError, TunnelServer } from "../../lib/tunnel/mod.ts";
import {
  roundTrip,
  servicePort,
  type ServiceSpec,
  snapshotOf,
  startEchoServer,
  TEST_KEY,
} from "./_fixtures.ts";

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
    log: nullLogger,
    ...(spec.maxNonces ? { maxNonces: spec.maxNonces } : {}),
    ...(spec.maxNoncesPerSource ? { maxNoncesPerSource: spec.maxNoncesPerSource } : {}),
  });
  server.update(snapshotOf(spec.services));
  console.log(`ready ${echo.port}`);
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

if (import.meta.main) {
  const [mode, json] = Deno.args;
  if (mode === "serve") await serve(JSON.parse(json!));
  else if (mode === "dial") await dial(JSON.parse(json!));
  else if (mode === "flood") await flood(JSON.parse(json!));
  else throw new TypeError(`Cannot run _node.ts: unknown mode "${mode}"`);
}

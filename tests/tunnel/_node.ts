// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A stand-in "node" for namespace tests, run inside a namespace (the agent is not wired yet):
 *
 * - `_node.ts serve '<json ServeSpec>'`: an echo backend plus a TunnelServer authorizing
 *   against the given services; prints `ready` and runs until killed.
 * - `_node.ts dial '<json DialSpec>'`: a TunnelDialer that learns peers from Node objects,
 *   dials each target, sends `hello`, half-closes, and prints one JSON result per target.
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

if (import.meta.main) {
  const [mode, json] = Deno.args;
  if (mode === "serve") await serve(JSON.parse(json!));
  else if (mode === "dial") await dial(JSON.parse(json!));
  else throw new TypeError(`Cannot run _node.ts: unknown mode "${mode}"`);
}

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Test fixtures of the tunnel tests: echo backends, hand-built snapshots, test certificates.
 * @module
 */
import { type Logger, nullLogger } from "../../lib/log/mod.ts";
import type { DialTarget, UpstreamConn } from "../../lib/proxy/dialer.ts";
import type { NodeInfo, ServiceEntry, ServicePort, Snapshot } from "../../lib/registry/model.ts";
import { serviceKey } from "../../lib/registry/model.ts";
import { TunnelServer, type TunnelServerOptions } from "../../lib/tunnel/mod.ts";
import { makeCa, makeServerCert } from "../_helpers/pki.ts";
import { echoUntilEof, serveTcp, type TcpServer, writeAll } from "../_helpers/tcp_server.ts";

/** A key every test node shares. */
export const TEST_KEY: Uint8Array = new TextEncoder().encode(
  "0123456789abcdef0123456789abcdef-test-key",
);

/** A TCP echo server on 127.0.0.1 (or `hostname`), port 0 (or `port`); optional greeting first. */
export type EchoServer = TcpServer;

/** Starts an echo server that writes `greeting` (if any) and then echoes until EOF. */
export function startEchoServer(greeting?: string, hostname = "127.0.0.1", port = 0): EchoServer {
  const hello = greeting === undefined ? undefined : new TextEncoder().encode(greeting);
  return serveTcp(
    async (conn) => {
      if (hello !== undefined) await writeAll(conn, hello);
      await echoUntilEof(conn);
    },
    hostname,
    port,
  );
}

export { writeAll };

/**
 * Node "b"'s `TunnelServer` on 127.0.0.1 (port 0) with {@linkcode TEST_KEY}, loopback endpoints
 * allowed (the tests' endpoints are on loopback), no log; `over` adds or replaces options.
 */
export function tunnelServerB(over: Partial<TunnelServerOptions> = {}): TunnelServer {
  return new TunnelServer({
    listen: "127.0.0.1:0",
    nodeName: "b",
    key: TEST_KEY,
    loopbackEndpointsForTests: true,
    log: nullLogger,
    ...over,
  });
}

/** A snapshot with the service `default/echo` port 80, its endpoint on node "b" at 127.0.0.1:`port`. */
export function echoSnapshot(port: number): Snapshot {
  return snapshotOf([{
    namespace: "default",
    name: "echo",
    port: 80,
    endpoints: [{ ip: "127.0.0.1", port, nodeName: "b" }],
  }]);
}

/** Node "b" on loopback: an echo endpoint and the `TunnelServer` in front of it. */
export interface EchoPeer extends AsyncDisposable {
  readonly echo: EchoServer;
  readonly server: TunnelServer;
  /** A dial to the echo endpoint through `server` (service `default/echo`, port 80). */
  readonly target: DialTarget;
}

/**
 * Starts node "b": an echo endpoint greeting `b1:` and its `TunnelServer` on 127.0.0.1 (port 0,
 * loopback endpoints allowed), serving `default/echo` port 80. Dialers use `TEST_KEY`.
 */
export function startEchoPeer(log: Logger = nullLogger): EchoPeer {
  const echo = startEchoServer("b1:");
  const server = tunnelServerB({ log });
  const backend = { ip: "127.0.0.1", port: echo.port, nodeName: "b" };
  server.update(echoSnapshot(echo.port));
  return {
    echo,
    server,
    target: { namespace: "default", service: "echo", port: servicePort(80), backend },
    async [Symbol.asyncDispose]() {
      await server.close();
      await echo.close();
    },
  };
}

/** Reads until EOF. */
export async function readAll(
  r: { read(p: Uint8Array): Promise<number | null> },
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(7000); // odd size: exercises leftover handling
  while (true) {
    const n = await r.read(buf);
    if (n === null) break;
    parts.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Reads exactly `n` bytes (or throws at EOF). */
export async function readExactly(
  r: { read(p: Uint8Array): Promise<number | null> },
  n: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await r.read(out.subarray(off));
    if (got === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += got;
  }
  return out;
}

/** Sends `text`, half-closes, and returns everything read back. */
export async function roundTrip(conn: UpstreamConn, text: string): Promise<string> {
  await writeAll(conn, new TextEncoder().encode(text));
  await conn.closeWrite();
  return new TextDecoder().decode(await readAll(conn));
}

/** A hand-written service of one TCP port whose endpoints each name their own port. */
export interface ServiceSpec {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  readonly endpoints: readonly {
    readonly ip: string;
    readonly port: number;
    readonly nodeName: string | null;
    readonly ready?: boolean;
    /** EndpointSlice conditions of a terminating endpoint (`ready` false). */
    readonly terminating?: { readonly serving: boolean };
  }[];
}

/** The service port of a {@linkcode ServiceSpec}. */
export function servicePort(port: number): ServicePort {
  return { name: "", protocol: "TCP", port, targetPort: { kind: "number", port } };
}

/** Builds a snapshot from specs and nodes. */
export function snapshotOf(
  specs: readonly ServiceSpec[],
  nodes: readonly NodeInfo[] = [],
): Snapshot {
  const services = new Map<string, ServiceEntry>();
  for (const s of specs) {
    services.set(serviceKey(s.namespace, s.name), {
      service: {
        namespace: s.namespace,
        name: s.name,
        kind: { type: "ClusterIP" },
        ports: [servicePort(s.port)],
        sessionAffinity: { type: "None" },
      },
      vip: null,
      endpoints: s.endpoints.map((e) => ({
        ip: e.ip,
        ready: e.ready ?? true,
        ...(e.terminating ? { terminating: true, serving: e.terminating.serving } : {}),
        nodeName: e.nodeName,
        hostname: null,
        podName: null,
        ports: [{ name: "", port: e.port, protocol: "TCP" as const }],
      })),
      endpointSource: "endpoints",
    });
  }
  return {
    version: 1,
    services,
    nodes: new Map(nodes.map((n) => [n.name, n])),
    vips: new Map(),
  };
}

/** PEM test PKI: a CA and a server certificate for `ip` signed by it. */
export interface TestPki {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Generates a CA and a server certificate with `subjectAltName = IP:<ip>…` in a temp dir. */
export async function makeTestPki(ips: readonly string[] = ["127.0.0.1"]): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "em-tunnel-pki-" });
  await makeCa(dir, "em-test-ca");
  const { certFile, keyFile } = await makeServerCert(dir, {
    name: "srv",
    commonName: "em-test-node",
    ips,
    serial: 2,
  });
  const caFile = `${dir}/ca.crt`;
  return {
    dir,
    ca: await Deno.readTextFile(caFile),
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
    caFile,
    certFile,
    keyFile,
  };
}

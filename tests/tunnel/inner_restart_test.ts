// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The server behind the tunnel's front stops (as `Deno.serve` does for good when its accept
 * fails with `EMFILE`, lib/tunnel/README.md "The loopback port"): the tunnel starts a new one
 * on a new loopback port and serves new connections on the same `tunnelListen` address. The
 * stop is made by an injected serve function that closes a real `Deno.serve` and rejects its
 * `finished` the way Deno 2.9.6 does; no descriptors are exhausted here.
 */
import assert from "node:assert/strict";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { type InnerServe, nextRestartDelay, TunnelDialer } from "../../lib/tunnel/mod.ts";
import { tunnelComponent, tunnelDownDetail } from "../../lib/agent/components.ts";
import { tcpNoDelay, tcpSockets } from "../../lib/sys/nodelay.ts";
import { pollUntil } from "../_helpers/poll.ts";
import {
  echoSnapshot,
  makeTestPki,
  roundTrip,
  servicePort,
  startEchoServer,
  TEST_KEY,
  tunnelServerB,
} from "./_fixtures.ts";
import type { Tunnel, TunnelServerDown, TunnelTls } from "../../lib/tunnel/mod.ts";

const EMFILE = "Too many open files (os error 24)";

/** A real `Deno.serve` per call, each of which the test can stop as if its accept failed. */
function stoppableServe(): {
  serve: InnerServe;
  ports: number[];
  stop(i: number): void;
  failNext: Error | null;
} {
  const stops: (() => void)[] = [];
  const out = {
    ports: [] as number[],
    failNext: null as Error | null,
    stop: (i: number) => stops[i]!(),
    serve: ((options, handler) => {
      if (out.failNext !== null) throw out.failNext;
      const own = new AbortController();
      const real = Deno.serve(
        { ...options, signal: AbortSignal.any([options.signal, own.signal]) },
        handler,
      );
      let failed = false;
      stops.push(() => {
        failed = true;
        own.abort();
      });
      out.ports.push(real.addr.port);
      return {
        addr: real.addr,
        finished: real.finished.then(() => {
          if (failed) throw new Error(EMFILE);
        }),
      };
    }) as InnerServe,
  };
  return out;
}

function metric(registry: MetricsRegistry, name: string): string | undefined {
  return registry.render().split("\n").find((l) => l.startsWith(`${name} `))?.split(" ")[1];
}

function startNode(serve: InnerServe, tls: TunnelTls | null = null) {
  const echo = startEchoServer("b:");
  const log = memoryLogger();
  const metrics = new MetricsRegistry();
  const server = tunnelServerB({
    log,
    metrics,
    serve,
    tls,
  });
  server.update(echoSnapshot(echo.port));
  const dialers: TunnelDialer[] = [];
  /** A stream through a new connection (a new dialer) to `tunnelListen`. */
  const stream = async (text: string) => {
    const d = new TunnelDialer({
      nodeName: "a",
      key: TEST_KEY,
      tls,
      peers: { b: `127.0.0.1:${server.addr.port}` },
      log: nullLogger,
    });
    dialers.push(d);
    const conn = await d.dial({
      namespace: "default",
      service: "echo",
      port: servicePort(80),
      backend: { ip: "127.0.0.1", port: echo.port, nodeName: "b" },
    }, { timeoutMs: 5000 });
    return await roundTrip(conn, text);
  };
  return {
    server,
    log,
    metrics,
    stream,
    async [Symbol.asyncDispose]() {
      for (const d of dialers) d.close();
      await server.close();
      await echo.close();
    },
  };
}

Deno.test("tunnel: when the server behind the front stops, a new one serves new streams on the same tunnelListen", async () => {
  const inner = stoppableServe();
  await using node = startNode(inner.serve);
  const listen = node.server.addr.port;
  assert.equal(await node.stream("before"), "b:before");
  assert.equal(metric(node.metrics, "edgemesh_tunnel_server_up"), "1");

  inner.stop(0);
  await pollUntil(
    () => node.log.lines.some((l) => l.includes("tunnel server restarted")),
    () => `a restart; log:\n${node.log.lines.join("\n")}`,
  );
  const stopped = node.log.lines.map((l) => JSON.parse(l)).find((l) => l.level === "warn");
  assert.match(stopped.msg, /Tunnel server stopped accepting connections/);
  assert.match(String(stopped.error), /Too many open files/);
  assert.equal(inner.ports.length, 2);
  assert.notEqual(inner.ports[1], inner.ports[0], "a new loopback port");

  assert.equal(await node.stream("after"), "b:after");
  assert.equal(node.server.addr.port, listen, "same tunnelListen");
  assert.equal(node.server.down, null);
  assert.equal(metric(node.metrics, "edgemesh_tunnel_server_stops_total"), "1");
  assert.equal(metric(node.metrics, "edgemesh_tunnel_server_up"), "1");
});

Deno.test("tunnel: while the server behind cannot be restarted, the tunnel is down and says why and when it retries", async () => {
  const inner = stoppableServe();
  await using node = startNode(inner.serve);
  assert.equal(await node.stream("before"), "b:before");

  inner.failNext = new Deno.errors.NotCapable(EMFILE); // any error Deno.serve throws
  inner.stop(0);
  const failed = await pollUntil(
    () =>
      node.log.lines.map((l) => JSON.parse(l)).find((l) =>
        l.msg === "Cannot restart the tunnel server, retrying"
      ),
    () => `a failed restart; log:\n${node.log.lines.join("\n")}`,
  );
  assert.equal(failed.retryInMs, 1000, "tried at once, then after 1 s");
  const down = node.server.down;
  assert.ok(down !== null, "down while no server is behind the front");
  assert.match(down.error, /Too many open files/);
  assert.ok(down.retryAt > down.since);
  assert.equal(metric(node.metrics, "edgemesh_tunnel_server_up"), "0");
  assert.equal(metric(node.metrics, "edgemesh_tunnel_server_stops_total"), "1");
  assert.match(tunnelDownDetail(down, down.since), /^no new connections since .*Z \(Too many/);
  // The old port is free for anyone to bind now: new connections are not sent there.
  await assert.rejects(node.stream("during"), /peer .* is unreachable/);
});

/** TCP_NODELAY of this process's listener on 127.0.0.1:`port`. */
function listenerNoDelay(port: number): boolean | null {
  for (const s of tcpSockets()) {
    if (s.listening && s.hostname === "127.0.0.1" && s.port === port) return tcpNoDelay(s.fd);
  }
  return null;
}

Deno.test("tunnel with TLS: the restarted server's listener has TCP_NODELAY too", async () => {
  const pki = await makeTestPki();
  try {
    const inner = stoppableServe();
    await using node = startNode(inner.serve, { cert: pki.cert, key: pki.key, ca: pki.ca });
    assert.equal(listenerNoDelay(inner.ports[0]!), true);
    inner.stop(0);
    await pollUntil(() => inner.ports.length === 2, () => "a restart");
    assert.equal(listenerNoDelay(inner.ports[1]!), true);
    assert.equal(await node.stream("tls"), "b:tls");
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("nextRestartDelay: at once, then 1 s doubling to 30 s", () => {
  const seen: number[] = [];
  let d = 0;
  for (let i = 0; i < 8; i++) {
    seen.push(d);
    d = nextRestartDelay(d);
  }
  assert.deepEqual(seen, [0, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

Deno.test("tunnelComponent: ctl status shows the tunnel down while its server is being restarted", () => {
  const since = Date.parse("2026-11-27T03:00:00Z");
  const status = (down: TunnelServerDown | null) => ({
    listen: "0.0.0.0:40001",
    tls: true,
    inboundStreams: 2,
    down,
    peers: [],
  });
  let down: TunnelServerDown | null = { since, error: EMFILE, retryAt: since + 4000 };
  const component = tunnelComponent({ status: () => status(down) } as unknown as Tunnel);
  const s = component.status!();
  assert.equal(s.tunnel?.state, "down");
  assert.match(
    s.tunnel?.detail ?? "",
    /^TLS, 2 inbound streams; no new connections since 2026-11-27T03:00:00.000Z \(Too many open files \(os error 24\)\), restart in \d+ s$/,
  );
  down = null;
  const up = component.status!();
  assert.deepEqual(up.tunnel, { state: "up", detail: "TLS, 2 inbound streams" });
  assert.equal(
    tunnelDownDetail({ since, error: "x", retryAt: since + 4000 }, since + 1500),
    "no new connections since 2026-11-27T03:00:00.000Z (x), restart in 3 s",
  );
});

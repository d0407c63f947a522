// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import type { Dialer, DialTarget, UpstreamConn } from "../../lib/proxy/dialer.ts";
import {
  createRoutingDialer,
  planTunnel,
  startTunnel,
  type TunnelConfig,
  TunnelDialer,
  TunnelSetupError,
} from "../../lib/tunnel/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { servicePort, TEST_KEY } from "./_fixtures.ts";

Deno.test("planTunnel() turns the tunnel off without a key or when disabled", async (t) => {
  const tls = { certFile: "c", keyFile: "k", caFile: "ca" };
  const rows: [string, Parameters<typeof planTunnel>[0], unknown][] = [
    ["disabled", { tunnel: false, tunnelKeyFile: "/k", tunnelTLS: null }, {
      mode: "off",
      reason: "disabled",
    }],
    ["no key", { tunnel: true, tunnelKeyFile: null, tunnelTLS: tls }, {
      mode: "off",
      reason: "no-key",
    }],
    ["key, no TLS", { tunnel: true, tunnelKeyFile: "/k", tunnelTLS: null }, {
      mode: "on",
      keyFile: "/k",
      tls: null,
    }],
    ["key and TLS", { tunnel: true, tunnelKeyFile: "/k", tunnelTLS: tls }, {
      mode: "on",
      keyFile: "/k",
      tls,
    }],
  ];
  for (const [name, config, want] of rows) {
    await t.step(name, () => assert.deepEqual(planTunnel(config), want));
  }
});

Deno.test("startTunnel() says why it is off, refuses bad keys and warns without TLS", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "em-tunnel-setup-" });
  const base: TunnelConfig = {
    nodeName: "a",
    tunnel: true,
    tunnelKeyFile: null,
    tunnelTLS: null,
    tunnelListen: "127.0.0.1:0",
    peers: {},
  };
  try {
    await t.step("no key file: off, with an info line", async () => {
      const log = memoryLogger();
      assert.equal(await startTunnel(base, { log }), null);
      assert.match(log.lines.join("\n"), /"level":"info".*no tunnelKeyFile configured/);
    });
    await t.step("short key file: refuses to start", async () => {
      await Deno.writeFile(`${dir}/short`, new Uint8Array(10));
      await assert.rejects(
        startTunnel({ ...base, tunnelKeyFile: `${dir}/short` }, { log: nullLogger }),
        TunnelSetupError,
      );
    });
    await t.step("missing TLS file: refuses to start", async () => {
      await Deno.writeFile(`${dir}/key`, TEST_KEY);
      await assert.rejects(
        startTunnel({
          ...base,
          tunnelKeyFile: `${dir}/key`,
          tunnelTLS: { certFile: `${dir}/c`, keyFile: `${dir}/k`, caFile: `${dir}/ca` },
        }, { log: nullLogger }),
        (err: Error) => {
          assert.ok(err instanceof TunnelSetupError);
          assert.equal(
            err.message,
            `Cannot load tunnel TLS certificate "${dir}/c" (tunnelTLS.certFile): file does not exist`,
          );
          return true;
        },
      );
    });
    await t.step("key without TLS: runs, with a loud warning", async () => {
      const log = memoryLogger();
      const tunnel = await startTunnel({ ...base, tunnelKeyFile: `${dir}/key` }, { log });
      assert.ok(tunnel);
      try {
        assert.match(log.lines.join("\n"), /"level":"warn".*NOT ENCRYPTED/);
        // Exact about what the key protects: the opening of a stream, not its bytes.
        assert.match(log.lines.join("\n"), /not protected from modification/);
        const s = tunnel.status();
        assert.equal(s.tls, false);
        assert.equal(s.peers.length, 0);
        assert.match(s.listen, /^127\.0\.0\.1:\d+$/);
      } finally {
        await tunnel.close();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createRoutingDialer() sends local and unknown peers direct, remote ones through the tunnel", async () => {
  const directCalls: string[] = [];
  const fakeConn: UpstreamConn = {
    read: () => Promise.resolve(null),
    write: (p) => Promise.resolve(p.length),
    closeWrite: () => Promise.resolve(),
    close: () => {},
  };
  const direct: Dialer = {
    dial: (t) => {
      directCalls.push(t.backend.nodeName ?? "null");
      return Promise.resolve(fakeConn);
    },
  };
  // A tunnel whose only peer is unreachable fails fast: proves the tunnel route was taken.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const tunnel = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${port}` },
    log: nullLogger,
  });
  try {
    const dialer = createRoutingDialer({ nodeName: "a", direct, tunnel });
    const target = (nodeName: string | null): DialTarget => ({
      namespace: "default",
      service: "echo",
      port: servicePort(80),
      backend: { ip: "127.0.0.1", port: 9, nodeName },
    });
    assert.equal(await dialer.dial(target("a"), { timeoutMs: 1000 }), fakeConn);
    assert.equal(await dialer.dial(target(null), { timeoutMs: 1000 }), fakeConn);
    assert.equal(await dialer.dial(target("c"), { timeoutMs: 1000 }), fakeConn);
    await assert.rejects(dialer.dial(target("b"), { timeoutMs: 1000 }), {
      name: "TunnelDialError",
    });
    assert.deepEqual(directCalls, ["a", "null", "c"]);
    const off = createRoutingDialer({ nodeName: "a", direct, tunnel: null });
    assert.equal(await off.dial(target("b"), { timeoutMs: 1000 }), fakeConn);
  } finally {
    tunnel.close();
  }
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { TunnelDialer, TunnelDialError, TunnelServer } from "../../lib/tunnel/mod.ts";
import { servicePort, TEST_KEY } from "./_fixtures.ts";

Deno.test("TunnelServer warns once per peer address and minute when a peer fails authentication", async (t) => {
  let offset = 0;
  const now = () => Date.now() + offset;
  const log = memoryLogger("info");
  const server = new TunnelServer({
    listen: "127.0.0.1:0",
    nodeName: "b",
    key: TEST_KEY,
    log,
    now,
  });
  const dialer = (key: Uint8Array, skewMs: number) =>
    new TunnelDialer({
      nodeName: "a",
      key,
      peers: { b: `127.0.0.1:${server.addr.port}` },
      log: memoryLogger("info"),
      now: () => now() + skewMs,
    });
  const wrongKey = dialer(new Uint8Array(32).fill(7), 0);
  const skewed = dialer(TEST_KEY, 120_000); // the right key, a clock two minutes ahead
  const badSignature =
    "Tunnel peer failed authentication (bad signature): check that both nodes use the same tunnelKeyFile";
  const stale =
    "Tunnel peer failed authentication (timestamp outside the replay window): check that the clocks of both nodes agree (NTP)";
  /** Each row: clock offset, the dialer, the warning expected (null: none in this interval). */
  const rows: [number, TunnelDialer, { msg: string; why: string; suppressed?: number } | null][] = [
    [0, wrongKey, { msg: badSignature, why: "bad-signature" }],
    [1000, wrongKey, null],
    [2000, skewed, null], // the same peer address: one line per interval, whatever went wrong
    [60_000, skewed, { msg: stale, why: "stale", suppressed: 2 }],
    [60_500, wrongKey, null],
  ];
  const target = {
    namespace: "default",
    service: "echo",
    port: servicePort(80),
    backend: { ip: "127.0.0.1", port: 9, nodeName: "b" },
  };
  try {
    const lines = () =>
      log.lines.map((l) => JSON.parse(l)).filter((l) => l.msg !== "tunnel listening");
    for (const [at, d, want] of rows) {
      await t.step(`t=${at} ${d === wrongKey ? "wrong key" : "skewed clock"}`, async () => {
        offset = at;
        const before = lines().length;
        await assert.rejects(d.dial(target, { timeoutMs: 5000 }), (err: Error) => {
          assert.equal((err as TunnelDialError).reason, "unauthenticated");
          return true;
        });
        const got = lines().slice(before);
        if (want === null) return assert.deepEqual(got, [], "per-stream detail is debug only");
        assert.equal(got.length, 1);
        const { level, msg, why, source, from, suppressed } = got[0];
        assert.deepEqual({ level, msg, why, source, suppressed }, {
          level: "warn",
          msg: want.msg,
          why: want.why,
          source: "a",
          suppressed: want.suppressed,
        });
        assert.match(from, /^127\.0\.0\.1:\d+$/);
      });
    }
  } finally {
    wrongKey.close();
    skewed.close();
    await server.close();
  }
});

Deno.test("TunnelServer names the address it cannot bind, keeping the error's class", async () => {
  const first = new TunnelServer({
    listen: "127.0.0.1:0",
    nodeName: "b",
    key: TEST_KEY,
    log: memoryLogger(),
  });
  const listen = `127.0.0.1:${first.addr.port}`;
  try {
    assert.throws(
      () => new TunnelServer({ listen, nodeName: "b", key: TEST_KEY, log: memoryLogger() }),
      (e: unknown) => {
        assert.ok(e instanceof Deno.errors.AddrInUse);
        assert.match(
          e.message,
          new RegExp(`^Cannot listen for the tunnel \\(tunnelListen\\) on "${listen}": .*in use`),
        );
        return true;
      },
    );
  } finally {
    await first.close();
  }
});

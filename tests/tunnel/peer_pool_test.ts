// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The health of a tunnel dialer's peers (`lib/tunnel/peer_pool.ts`) against the wall clock:
 * backoff runs on the monotonic clock, status speaks epoch milliseconds.
 */
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import type { DialTarget } from "../../lib/proxy/dialer.ts";
import { TunnelDialer, TunnelDialError } from "../../lib/tunnel/mod.ts";
import { steppableWallClock } from "../_helpers/clock.ts";
import { servicePort, TEST_KEY } from "./_fixtures.ts";

Deno.test("TunnelDialer's default clocks: a wall clock set back does not stretch a down peer's backoff", async () => {
  using wall = steppableWallClock();
  // A port nobody listens on: the dial is refused at once and the peer goes down for 60 s.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${port}` },
    log: nullLogger,
    backoff: { initialMs: 60_000, maxMs: 60_000 },
  });
  const target: DialTarget = {
    namespace: "default",
    service: "echo",
    port: servicePort(80),
    backend: { ip: "192.0.2.10", port: 8080, nodeName: "b" },
  };
  const retryIn = () => (dialer.status()[0]?.retryAt ?? NaN) - Date.now();
  try {
    await assert.rejects(dialer.dial(target, { timeoutMs: 2_000 }), TunnelDialError);
    assert.equal(dialer.status()[0]?.state, "down");
    assert.ok(retryIn() > 59_000 && retryIn() <= 60_000, `${retryIn()} ms`);

    wall.step(-3_600_000); // NTP corrects a clock that ran an hour ahead
    assert.ok(
      retryIn() > 59_000 && retryIn() <= 60_000,
      `status: ${retryIn()} ms, not an hour more`,
    );
    await assert.rejects(dialer.dial(target, { timeoutMs: 2_000 }), (e: Error) => {
      const ms = Number(/retry in (\d+) ms/.exec(e.message)?.[1]);
      assert.ok(ms > 59_000 && ms <= 60_000, e.message);
      return true;
    });
  } finally {
    await dialer.close();
  }
});

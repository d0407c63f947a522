// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * TunnelDialer against a peer that went down and has not come back: a listener that accepts
 * TCP and never speaks, as a hung agent's kernel does, so every dial to it times out. Once the
 * backoff is over one dial tries the peer again; the others still fail fast.
 */
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import type { DialTarget } from "../../lib/proxy/dialer.ts";
import { TunnelDialer, TunnelDialError, type TunnelDialFailure } from "../../lib/tunnel/mod.ts";
import { settledYet } from "../_helpers/poll.ts";
import { servicePort, TEST_KEY } from "./_fixtures.ts";

function reasonOf(err: unknown): TunnelDialFailure | string {
  return err instanceof TunnelDialError ? err.reason : String(err);
}

Deno.test("TunnelDialer tries a down peer with one dial at a time; failures of a given-up connection do not count", async (t) => {
  // Accepts TCP and never speaks HTTP/2: every dial to it times out.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of silent) accepted.push(c);
  })().catch(() => {});
  let now = 1_000_000;
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${silent.addr.port}` },
    log: nullLogger,
    now: () => now,
  });
  const target: DialTarget = {
    namespace: "default",
    service: "echo",
    port: servicePort(80),
    backend: { ip: "127.0.0.1", port: 9, nodeName: "b" },
  };
  /** The peer's state and how long from now until its next trial. */
  const backoff = () => {
    const p = dialer.status()[0]!;
    return { state: p.state, retryInMs: (p.retryAt ?? now) - now };
  };
  try {
    await t.step("two dials in flight time out: only the first counts (1 s backoff)", async () => {
      const first = dialer.dial(target, { timeoutMs: 100 });
      const second = dialer.dial(target, { timeoutMs: 400 });
      await assert.rejects(first, (e) => reasonOf(e) === "timeout");
      // The clock passes the end of the backoff before the second one fails: it started
      // before the peer went down, on the connection the first failure gave up.
      now += 1000;
      await assert.rejects(second, (e) => reasonOf(e) === "timeout");
      assert.deepEqual(backoff(), { state: "down", retryInMs: 0 });
    });

    await t.step("backoff over: one trial goes out, the dials beside it fail fast", async () => {
      const trial = dialer.dial(target, { timeoutMs: 300 });
      const beside = dialer.dial(target, { timeoutMs: 300 });
      await assert.rejects(beside, (e: Error) => {
        assert.equal(reasonOf(e), "peer-down");
        assert.match(e.message, /a trial dial is in flight/);
        return true;
      });
      assert.equal(await settledYet(trial), false, "the trial is still waiting for the peer");
      await assert.rejects(trial, (e) => reasonOf(e) === "timeout");
      assert.deepEqual(backoff(), { state: "down", retryInMs: 2000 });
    });

    await t.step("a trial that ended frees the next one", async () => {
      now += 2000;
      await assert.rejects(
        dialer.dial(target, { timeoutMs: 50 }),
        (e) => reasonOf(e) === "timeout",
      );
      assert.deepEqual(backoff(), { state: "down", retryInMs: 4000 });
    });
  } finally {
    dialer.close();
    silent.close();
    await accepting;
    for (const c of accepted) c.close();
  }
});

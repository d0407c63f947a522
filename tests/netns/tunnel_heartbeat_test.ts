// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A peer whose agent hangs while its kernel still answers: node B's tunnel server is stopped
 * with `SIGSTOP` while A holds a stream to it. TCP keepalive sees nothing (B's kernel acknowledges
 * every probe), so only the dialer's heartbeat (`lib/tunnel/heartbeat.ts`) ends the stream;
 * without it the stream waited until B went on. Short heartbeat timings keep the test quick.
 */
import assert from "node:assert/strict";
import { createLan, NETNS_AVAILABLE, type TempNetns } from "../_helpers/netns.ts";
import type { HeartbeatPolicy } from "../../lib/tunnel/mod.ts";
import type { LingerResult } from "../tunnel/_node.ts";
import { holdStream } from "./_tunnel/linger.ts";

const FAST: HeartbeatPolicy = { intervalMs: 300, timeoutMs: 700, tickMs: 50 };

Deno.test({
  name: "a stream through the tunnel ends once its peer's agent is stopped (SIGSTOP): heartbeat",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using lan = await createLan("hb", 2, 87, "emhb");
    const [a, b] = lan.nodes as [TempNetns & { ip: string }, TempNetns & { ip: string }];
    await using held = await holdStream(a, b, { linger: { heartbeat: FAST } });
    assert.equal(await held.nextLine(), "ready b:hello");
    // The heartbeats of the idle stream are answered while B runs: it stays open, then B
    // stops (its kernel still acknowledges and keeps its sockets).
    held.server.kill("SIGSTOP");
    const line = await held.nextLine();
    assert.ok(line !== null, "the client printed how the stream ended");
    const result = JSON.parse(line) as LingerResult;
    assert.equal(result.ended, "error", line);
    assert.match(result.error ?? "", /did not answer a heartbeat within 0\.7 s/);
  },
});

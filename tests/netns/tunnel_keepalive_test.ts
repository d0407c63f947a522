// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A peer that vanishes without a word: node B's link goes down (no FIN, no reset; what a power
 * cut or a pulled cable looks like from A) while A holds a stream to B through the tunnel. With
 * TCP keepalive on the tunnel connection (`lib/sys/keepalive.ts`) the kernel gives the connection
 * up and the stream ends with an error; without it the stream stayed open for good (measured in
 * the fault-injection pass: 75 s and counting). Short keepalive timings keep the test quick.
 */
import assert from "node:assert/strict";
import { createLan, NETNS_AVAILABLE, type TempNetns } from "../_helpers/netns.ts";
import type { TcpKeepAlive } from "../../lib/sys/keepalive.ts";
import type { LingerResult } from "../tunnel/_node.ts";
import { holdStream } from "./_tunnel/linger.ts";

/** Given up 1 s after the last packet plus 2 probes 1 s apart: about 3 s. */
const FAST: TcpKeepAlive = { idleSec: 1, intervalSec: 1, probes: 2, userTimeoutMs: 3000 };

Deno.test({
  name: "a stream through the tunnel ends once its peer's link is cut (TCP keepalive)",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using lan = await createLan("tka", 2, 86);
    const [a, b] = lan.nodes as [TempNetns & { ip: string }, TempNetns & { ip: string }];
    await using held = await holdStream(a, b, {
      serve: { keepAlive: FAST },
      linger: { keepAlive: FAST },
    });
    assert.equal(await held.nextLine(), "ready b:hello");
    await b.run(["ip", "link", "set", "eth0", "down"]);
    const line = await held.nextLine();
    assert.ok(line !== null, "the client printed how the stream ended");
    const result = JSON.parse(line) as LingerResult;
    assert.equal(result.ended, "error", line);
  },
});

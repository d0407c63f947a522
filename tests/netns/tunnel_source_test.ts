// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Node A's address changes (a DHCP lease moved, a modem swapped) while it holds a stream to B
 * through the tunnel: the connection keeps the old source address, which no packet can reach
 * any more. The dialer sees the address leave the node (`lib/tunnel/source_watch.ts`) and
 * closes that connection: the stream ends with an error within the watch's period (1 s; 200 ms
 * here) instead of stalling until the heartbeat (25 s, the peer then marked down) or keepalive
 * (a minute), and the next dial goes out at once from the new address.
 */
import assert from "node:assert/strict";
import { createLan, NETNS_AVAILABLE, type TempNetns } from "../_helpers/netns.ts";
import type { LingerResult } from "../tunnel/_node.ts";
import { holdStream } from "./_tunnel/linger.ts";

Deno.test({
  name:
    "a stream through the tunnel ends once the node loses its source address, and the next dial works",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using lan = await createLan("src", 2, 88, "emsrc");
    const [a, b] = lan.nodes as [TempNetns & { ip: string }, TempNetns & { ip: string }];
    await using held = await holdStream(a, b, { linger: { redial: true, sourceWatchMs: 200 } });
    assert.equal(await held.nextLine(), "ready b:hello");
    // A new lease: the old address goes, another one of the same subnet comes.
    await a.run(["ip", "addr", "del", `${a.ip}/24`, "dev", "eth0"]);
    await a.run(["ip", "addr", "add", "10.88.0.21/24", "dev", "eth0"]);
    const line = await held.nextLine();
    assert.ok(line !== null, "the client printed how the stream ended");
    const result = JSON.parse(line) as LingerResult;
    assert.equal(result.ended, "error", line);
    assert.match(
      result.error ?? "",
      new RegExp(`lost its source address ${a.ip.replaceAll(".", "\\.")}`),
    );
    assert.equal(await held.nextLine(), "redial b:again");
  },
});

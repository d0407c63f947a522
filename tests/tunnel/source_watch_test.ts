// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A tunnel connection whose source address left the node (`lib/tunnel/source_watch.ts`): the
 * comparison, table-driven, and the dialer closing such a connection on loopback, with the
 * node's addresses injected. `tests/netns/tunnel_source_test.ts` deletes a real address.
 */
import assert from "node:assert/strict";
import { type Logger, memoryLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import type { UpstreamConn } from "../../lib/proxy/dialer.ts";
import { sourceGone, TunnelDialer } from "../../lib/tunnel/mod.ts";
import {
  type EchoPeer,
  readExactly,
  roundTrip,
  startEchoPeer,
  TEST_KEY,
  writeAll,
} from "./_fixtures.ts";

Deno.test("sourceGone() compares a connection's source with the node's addresses as addresses", async (t) => {
  const node = ["127.0.0.1", "::1", "10.0.0.1", "fd00::1", "fe80::1%eth0"];
  const cases: [source: string, addresses: readonly string[], gone: boolean][] = [
    ["10.0.0.1", node, false],
    ["10.0.0.2", node, true],
    ["::ffff:10.0.0.1", node, false], // a dual-stack socket's IPv4 source
    ["::ffff:10.0.0.2", node, true],
    ["fd00:0:0:0::1", node, false], // another spelling
    ["FD00::1", node, false],
    ["fd00::2", node, true],
    ["fe80::1", node, false], // no zone on the socket's side
    ["fe80::1%eth1", node, false], // zones are not compared
    ["10.0.0.2", [], false], // addresses unreadable (no permission): cannot tell
    ["not-an-address", node, false],
    ["10.0.0.1", ["bogus", "10.0.0.1"], false],
  ];
  for (const [source, addresses, gone] of cases) {
    await t.step(`${source} among ${addresses.length} addresses → ${gone}`, () => {
      assert.equal(sourceGone(source, addresses), gone);
    });
  }
});

/**
 * Node a's dialer to `b`, no heartbeat, checking its sources against `addresses` (the node's)
 * every `intervalMs` and before each dial.
 */
function dialerTo(
  b: EchoPeer,
  log: Logger,
  intervalMs: number,
  addresses: () => readonly string[],
  metrics?: MetricsRegistry,
): TunnelDialer {
  return new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${b.server.addr.port}` },
    log,
    metrics,
    heartbeat: null,
    sourceWatch: { intervalMs, dialLookMs: 0, isLocal: (a) => addresses().includes(a) },
  });
}

/** A stream to b's echo, one round trip done; `ended` says how its next read ended. */
async function holdStream(
  dialer: TunnelDialer,
  b: EchoPeer,
): Promise<{ held: UpstreamConn; ended: Promise<string> }> {
  const held = await dialer.dial(b.target, { timeoutMs: 5000 });
  await writeAll(held, new TextEncoder().encode("one"));
  assert.equal(new TextDecoder().decode(await readExactly(held, 6)), "b1:one");
  return { held, ended: held.read(new Uint8Array(16)).then((n) => `eof ${n}`, String) };
}

Deno.test("TunnelDialer closes a connection whose source address left the node, and the next dial goes out at once", async () => {
  await using b = startEchoPeer();
  const log = memoryLogger("info");
  let addresses: readonly string[] = ["127.0.0.1", "10.0.0.1"];
  const metrics = new MetricsRegistry();
  const dialer = dialerTo(b, log, 20, () => addresses, metrics);
  try {
    // Looked at every 20 ms while 127.0.0.1 is the node's: the stream is left alone. Then
    // the address goes.
    const { held, ended } = await holdStream(dialer, b);
    addresses = ["10.0.0.1"];
    assert.match(
      await ended,
      /lost its source address 127\.0\.0\.1: the address is no longer on this node/,
    );
    held.close();
    assert.equal(log.lines.length, 1, log.lines.join("\n"));
    const line = JSON.parse(log.lines[0]!);
    assert.equal(line.msg, "tunnel connection lost its source address");
    assert.equal(line.level, "warn");
    assert.equal(line.source, "127.0.0.1");
    assert.equal(line.peer, "b");
    assert.equal(line.streams, 1);
    assert.equal(metrics.counter("edgemesh_tunnel_source_lost_total", "").get({ peer: "b" }), 1);
    // The address is back (in the test: the next connection's source is one the node has).
    addresses = ["127.0.0.1"];
    const next = await dialer.dial(b.target, { timeoutMs: 5000 });
    assert.equal(await roundTrip(next, "two"), "b1:two");
    next.close();
    const [peer] = dialer.status();
    assert.equal(peer?.state, "up", "the peer did nothing wrong");
    assert.equal(log.lines.length, 1, "no peer-down warning");
  } finally {
    dialer.close();
  }
});

Deno.test("TunnelDialer looks at its sources before a dial: the dial does not go to a connection whose source left", async () => {
  await using b = startEchoPeer();
  let addresses: readonly string[] = ["127.0.0.1"];
  // No periodic look within the test: only the dial's.
  const dialer = dialerTo(b, memoryLogger("info"), 3_600_000, () => addresses);
  try {
    const { held, ended } = await holdStream(dialer, b);
    addresses = ["10.0.0.1"];
    // The look finds the held stream's connection orphaned and retires it before choosing:
    // this dial opens a new connection (on loopback its source is 127.0.0.1 again, which the
    // look sees only once connected).
    const next = await dialer.dial(b.target, { timeoutMs: 5000 });
    assert.match(await ended, /lost its source address 127\.0\.0\.1/);
    assert.equal(await roundTrip(next, "two"), "b1:two");
    next.close();
    held.close();
    assert.equal(dialer.status()[0]?.state, "up");
  } finally {
    dialer.close();
  }
});

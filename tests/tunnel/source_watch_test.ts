// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A tunnel connection whose source address left the node (`lib/tunnel/source_watch.ts`): the
 * comparison, table-driven, and the dialer closing such a connection on loopback, with the
 * node's addresses injected. `tests/netns/tunnel_source_test.ts` deletes a real address.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { sourceGone, TunnelDialer } from "../../lib/tunnel/mod.ts";
import { readExactly, roundTrip, startEchoPeer, TEST_KEY, writeAll } from "./_fixtures.ts";

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

Deno.test("TunnelDialer closes a connection whose source address left the node, and the next dial goes out at once", async () => {
  await using b = startEchoPeer();
  const log = memoryLogger("info");
  let addresses: readonly string[] = ["127.0.0.1", "10.0.0.1"];
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${b.server.addr.port}` },
    log,
    heartbeat: null,
    sourceWatch: { intervalMs: 20, dialLookMs: 0, addresses: () => addresses },
  });
  try {
    const held = await dialer.dial(b.target, { timeoutMs: 5000 });
    await writeAll(held, new TextEncoder().encode("one"));
    assert.equal(new TextDecoder().decode(await readExactly(held, 6)), "b1:one");
    // Looked at every 20 ms while 127.0.0.1 is the node's: the stream is left alone. Then
    // the address goes.
    const ended = (async () => {
      try {
        return `eof ${await held.read(new Uint8Array(16))}`;
      } catch (err) {
        return String(err);
      }
    })();
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
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${b.server.addr.port}` },
    log: memoryLogger("info"),
    heartbeat: null,
    // No periodic look within the test: only the dial's.
    sourceWatch: { intervalMs: 3_600_000, dialLookMs: 0, addresses: () => addresses },
  });
  try {
    const held = await dialer.dial(b.target, { timeoutMs: 5000 });
    await writeAll(held, new TextEncoder().encode("one"));
    assert.equal(new TextDecoder().decode(await readExactly(held, 6)), "b1:one");
    const ended = held.read(new Uint8Array(16)).then((n) => `eof ${n}`, String);
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

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  afterFailure,
  buildPeerTable,
  dialPlan,
  mayDial,
  PEER_UNKNOWN,
  PEER_UP,
  type PeerHealth,
  routeFor,
} from "../../lib/tunnel/mod.ts";

Deno.test("buildPeerTable() prefers InternalIP, then ExternalIP, Hostname last; config wins", async (t) => {
  const nodes = [
    {
      name: "a",
      addresses: [
        { type: "Hostname", address: "node-a" },
        { type: "ExternalIP", address: "203.0.113.1" },
        { type: "InternalIP", address: "10.0.0.1" },
      ],
    },
    {
      name: "b",
      addresses: [
        { type: "Hostname", address: "node-b" },
        { type: "ExternalIP", address: "203.0.113.2" },
      ],
    },
    { name: "c", addresses: [{ type: "Hostname", address: "node-c" }] },
    { name: "d", addresses: [{ type: "InternalDNS", address: "d.local" }] },
    { name: "e", addresses: [{ type: "InternalIP", address: "10.0.0.5" }] },
  ];
  const table = buildPeerTable(
    nodes,
    { e: "192.0.2.5:4000", f: "[fd00::6]:4001", g: "g.example" },
    40001,
  );
  const rows: [string, string | undefined][] = [
    ["a", "10.0.0.1:40001 node"],
    ["b", "203.0.113.2:40001 node"],
    ["c", "node-c:40001 node"],
    ["d", undefined],
    ["e", "192.0.2.5:4000 config"],
    ["f", "fd00::6:4001 config"],
    ["g", "g.example:40001 config"],
  ];
  for (const [name, want] of rows) {
    await t.step(`node ${name}`, () => {
      const p = table.get(name);
      assert.equal(p && `${p.host}:${p.port} ${p.source}`, want);
    });
  }
  await t.step("a bad config address throws", () => {
    assert.throws(() => buildPeerTable([], { x: "1.2.3.4:99999" }), RangeError);
    assert.throws(() => buildPeerTable([], { x: "fd00::1:80" }), SyntaxError);
  });
});

Deno.test("routeFor() sends local, tunnel and direct backends their way", async (t) => {
  const hasPeer = (n: string) => n === "b";
  const rows: {
    name: string;
    nodeName: string | null;
    tunnelEnabled: boolean;
    want: string;
  }[] = [
    { name: "same node", nodeName: "a", tunnelEnabled: true, want: "local" },
    { name: "unknown node is local", nodeName: null, tunnelEnabled: true, want: "local" },
    { name: "remote with a peer", nodeName: "b", tunnelEnabled: true, want: "tunnel" },
    { name: "remote without a peer", nodeName: "c", tunnelEnabled: true, want: "direct" },
    { name: "tunnel off", nodeName: "b", tunnelEnabled: false, want: "direct" },
    { name: "tunnel off, local", nodeName: "a", tunnelEnabled: false, want: "local" },
  ];
  for (const r of rows) {
    await t.step(r.name, () => {
      assert.equal(
        routeFor(
          { ip: "10.0.0.9", port: 80, nodeName: r.nodeName },
          { nodeName: "a", tunnelEnabled: r.tunnelEnabled, hasPeer },
        ),
        r.want,
      );
    });
  }
});

Deno.test("afterFailure() backs off exponentially up to the cap and mayDial() follows", () => {
  const policy = { initialMs: 1000, maxMs: 4000 };
  let h: PeerHealth = PEER_UP;
  assert.equal(mayDial(h, 0), true);
  h = afterFailure(h, 0, "refused", policy);
  assert.deepEqual(h, {
    state: "down",
    since: 0,
    retryAt: 1000,
    delayMs: 1000,
    lastError: "refused",
  });
  assert.equal(mayDial(h, 999), false);
  assert.equal(mayDial(h, 1000), true);
  // A failure reported for a dial started before the peer went down changes nothing.
  assert.equal(afterFailure(h, 500, "late", policy), h);
  h = afterFailure(h, 1000, "refused", policy);
  assert.equal(h.state === "down" && h.delayMs, 2000);
  h = afterFailure(h, 3000, "refused", policy);
  h = afterFailure(h, 7000, "refused", policy);
  assert.equal(h.state === "down" && h.delayMs, 4000);
  assert.equal(h.state === "down" && h.since, 0);
});

Deno.test("a peer not reached yet is unknown: dialable, and its first failure backs off from the start", async (t) => {
  const policy = { initialMs: 1000, maxMs: 4000 };
  const rows: { name: string; from: PeerHealth; now: number; dial: boolean; after: PeerHealth }[] =
    [
      {
        name: "unknown",
        from: PEER_UNKNOWN,
        now: 5,
        dial: true,
        after: { state: "down", since: 5, retryAt: 1005, delayMs: 1000, lastError: "refused" },
      },
      {
        name: "up",
        from: PEER_UP,
        now: 5,
        dial: true,
        after: { state: "down", since: 5, retryAt: 1005, delayMs: 1000, lastError: "refused" },
      },
      {
        name: "down, backoff over",
        from: { state: "down", since: 0, retryAt: 4, delayMs: 1000, lastError: "x" },
        now: 5,
        dial: true,
        after: { state: "down", since: 0, retryAt: 2005, delayMs: 2000, lastError: "refused" },
      },
    ];
  for (const r of rows) {
    await t.step(r.name, () => {
      assert.equal(mayDial(r.from, r.now), r.dial);
      assert.deepEqual(afterFailure(r.from, r.now, "refused", policy), r.after);
    });
  }
  assert.notEqual(PEER_UNKNOWN.state, PEER_UP.state);
});

Deno.test("dialPlan() lets one trial at a time out to a down peer whose backoff is over", async (t) => {
  const down: PeerHealth = {
    state: "down",
    since: 0,
    retryAt: 1000,
    delayMs: 1000,
    lastError: "x",
  };
  const rows: [name: string, h: PeerHealth, now: number, trialInFlight: boolean, want: string][] = [
    ["unknown", PEER_UNKNOWN, 5, false, "dial"],
    ["up", PEER_UP, 5, false, "dial"],
    ["down, backed off", down, 999, false, "wait"],
    ["down, backoff over", down, 1000, false, "trial"],
    ["down, backoff over, a trial in flight", down, 1000, true, "wait"],
    ["down, backed off, a trial in flight", down, 999, true, "wait"],
  ];
  for (const [name, h, now, trialInFlight, want] of rows) {
    await t.step(name, () => assert.equal(dialPlan(h, now, trialInFlight), want));
  }
});

Deno.test("buildPeerTable() leaves out our own node, from Node objects and config", () => {
  const nodes = [
    { name: "me", addresses: [{ type: "InternalIP", address: "10.0.0.1" }] },
    { name: "other", addresses: [{ type: "InternalIP", address: "10.0.0.2" }] },
  ];
  const table = buildPeerTable(nodes, { me: "10.0.0.9:40001" }, 40001, "me");
  assert.deepEqual([...table.keys()], ["other"]);
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  boundAddress,
  LISTEN_WATCH_MS,
  missingListenAddress,
  startListenAddressWatch,
} from "../../lib/agent/listen_watch.ts";
import { tunnelComponent } from "../../lib/agent/components.ts";
import type { Tunnel } from "../../lib/tunnel/mod.ts";
import { memoryLogger } from "../../lib/log/mod.ts";
import { FakeIntervals } from "../_helpers/timers.ts";

const NODE = ["127.0.0.1", "10.9.0.2", "::1", "fe80::1%eth0", "2001:db8::2"];

Deno.test("missingListenAddress() names the one address tunnelListen binds when the node lacks it", () => {
  const rows: [listen: string, want: string | null][] = [
    ["0.0.0.0:40001", null], // every address: nothing to lose
    ["[::]:40001", null],
    ["10.9.0.2:40001", null],
    ["10.9.0.3:40001", "10.9.0.3"],
    ["[2001:db8::2]:40001", null],
    ["[2001:db8:0::0:2]:40001", null], // the same address, spelled otherwise
    ["[2001:db8::3]:40001", "2001:db8::3"],
    ["[fe80::1]:40001", null], // the zone of the interface's spelling is not part of the address
    ["node-b.example:40001", null], // not an address: not watched
  ];
  for (const [listen, want] of rows) {
    assert.equal(missingListenAddress(listen, NODE), want, listen);
    assert.equal(
      boundAddress(listen) === null,
      ["0.0.0.0:40001", "[::]:40001", "node-b.example:40001"].includes(listen),
      listen,
    );
  }
});

Deno.test("startListenAddressWatch() warns once when the address goes, says when it is back", () => {
  const timers = new FakeIntervals();
  const log = memoryLogger();
  let node = ["127.0.0.1", "10.9.0.2"];
  const watch = startListenAddressWatch({
    listen: "10.9.0.2:40001",
    addresses: () => node,
    log,
    timers,
  });
  assert.equal(timers.ms, LISTEN_WATCH_MS);
  assert.equal(watch.missing(), null);
  node = ["127.0.0.1", "10.9.0.12"]; // a DHCP lease moved the node
  timers.tick();
  timers.tick();
  assert.equal(watch.missing(), "10.9.0.2");
  node = ["127.0.0.1", "10.9.0.2"];
  timers.tick();
  assert.equal(watch.missing(), null);
  const lines = log.lines.map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.level, l.msg]), [
    ["warn", "The address tunnelListen binds is not on this node: peers cannot reach this agent"],
    ["info", "The address tunnelListen binds is back: peers can reach this agent"],
  ]);
  assert.equal(lines[0].address, "10.9.0.2");
  assert.match(lines[0].fix, /tunnelListen to 0\.0\.0\.0/);
  watch.close();
  assert.equal(timers.cleared, true);
});

Deno.test("tunnelComponent reports the tunnel down while its listen address is not on the node", () => {
  const tunnel = {
    status: () => ({ tls: true, inboundStreams: 0, listen: "10.9.0.2:40001", peers: [] }),
  } as unknown as Tunnel;
  let missing: string | null = null;
  const component = tunnelComponent(tunnel, { missing: () => missing });
  assert.equal(component.status!().tunnel!.state, "up");
  missing = "10.9.0.2";
  const t = component.status!().tunnel!;
  assert.equal(t.state, "down");
  assert.match(t.detail!, /tunnelListen address 10\.9\.0\.2 is not on this node$/);
});

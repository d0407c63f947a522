// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { nodeAddressesIn, nodeVipGuard, vipConflicts } from "../../lib/agent/node_vips.ts";
import { memoryLogger } from "../../lib/log/mod.ts";
import { parseCidr } from "../../lib/netaddr/mod.ts";
import type { InterfaceAddress } from "../../lib/sys/mod.ts";

const SUBNET = parseCidr("9.251.0.0/16", { family: 4 });

const v4 = (name: string, address: string): InterfaceAddress => ({
  name,
  family: "IPv4",
  address,
});

Deno.test("nodeAddressesIn() lists the node's IPv4 addresses in the subnet, not the device's", async (t) => {
  const rows: [string, InterfaceAddress[], [string, string][]][] = [
    ["none", [v4("lo", "127.0.0.1"), v4("eth0", "192.0.2.10")], []],
    ["one on eth1", [v4("eth0", "192.0.2.10"), v4("eth1", "9.251.0.7")], [["9.251.0.7", "eth1"]]],
    ["the VIP device's own are left out", [v4("edge0", "9.251.0.2"), v4("edge0", "9.251.0.1")], []],
    [
      "the first interface listed wins",
      [v4("eth1", "9.251.0.7"), v4("eth2", "9.251.0.7")],
      [["9.251.0.7", "eth1"]],
    ],
    [
      "IPv6 and other subnets are ignored",
      [{ name: "eth1", family: "IPv6", address: "fe80::1%eth1" }, v4("eth1", "9.252.0.7")],
      [],
    ],
  ];
  for (const [name, list, want] of rows) {
    await t.step(name, () => assert.deepEqual([...nodeAddressesIn(list, "edge0", SUBNET)], want));
  }
});

Deno.test("vipConflicts() pairs the services' VIPs with the interfaces also holding them", () => {
  const held = new Map([["9.251.0.10", "eth2"], ["9.251.0.7", "eth1"], ["9.251.0.8", "eth1"]]);
  const vips = new Map([["9.251.0.7", "default/web"], ["9.251.0.10", "cache/redis"]]);
  assert.deepEqual(vipConflicts(held, vips), [
    { service: "default/web", vip: "9.251.0.7", interface: "eth1" },
    { service: "cache/redis", vip: "9.251.0.10", interface: "eth2" },
  ]);
});

Deno.test("nodeVipGuard() reserves the node's addresses and warns once per conflict", async (t) => {
  const log = memoryLogger("info");
  const reservedCalls: string[][] = [];
  let vips = new Map([["9.251.0.7", "default/web"]]);
  const guard = nodeVipGuard({
    device: "edge0",
    subnet: "9.251.0.0/16",
    registry: {
      setReserved: (a) => (reservedCalls.push([...a]), true),
      snapshot: () => ({ vips }),
    },
    log,
  });
  const msgs = () => log.lines.map((l) => JSON.parse(l)).map((l) => `${l.level} ${l.msg}`);
  const base = [v4("eth0", "192.0.2.10"), v4("edge0", "9.251.0.7")];
  await t.step("no conflict: the addresses in the subnet are reserved, nothing said", () => {
    guard.look([...base, v4("eth1", "9.251.0.9")]);
    assert.deepEqual(reservedCalls.at(-1), ["9.251.0.9"]);
    assert.deepEqual(guard.conflicts(), []);
    assert.deepEqual(msgs(), []);
  });
  await t.step("a service's VIP appears on eth1: one warning with the fix", () => {
    guard.look([...base, v4("eth1", "9.251.0.7")]);
    guard.look([...base, v4("eth1", "9.251.0.7")]);
    assert.deepEqual(guard.conflicts(), [
      { service: "default/web", vip: "9.251.0.7", interface: "eth1" },
    ]);
    assert.equal(log.lines.length, 1);
    const line = JSON.parse(log.lines[0]!);
    assert.equal(line.level, "warn");
    assert.equal(line.service, "default/web");
    assert.equal(line.vip, "9.251.0.7");
    assert.equal(line.interface, "eth1");
    assert.match(line.fix, /remove 9\.251\.0\.7 from eth1, or set subnet/);
  });
  await t.step("the service deleted: the conflict is over, said once", () => {
    vips = new Map();
    guard.look([...base, v4("eth1", "9.251.0.7")]);
    assert.deepEqual(guard.conflicts(), []);
    assert.deepEqual(msgs().slice(1), ["info A VIP is no longer also on another interface"]);
  });
});

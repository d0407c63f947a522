// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { parseCidr } from "../../lib/netaddr/mod.ts";
import { checkSubnet, fakeExec, formatOverlap, subnetOverlaps } from "../../lib/netdev/mod.ts";

const SUBNET = parseCidr("9.251.0.0/16", { family: 4 });

/** `ip -json -4 addr show` of links with their `address/prefix`es. */
function addrs(links: Record<string, string[]>): string {
  return JSON.stringify(
    Object.entries(links).map(([ifname, list], i) => ({
      ifindex: i + 1,
      ifname,
      addr_info: list.map((c) => {
        const [local, len] = c.split("/");
        return { family: "inet", local, prefixlen: Number(len) };
      }),
    })),
  );
}

const LAN = { lo: ["127.0.0.1/8"], eth0: ["192.0.2.10/24"] };
const ROUTES = [
  { dst: "default", gateway: "192.0.2.1", dev: "eth0" },
  { dst: "192.0.2.0/24", dev: "eth0", protocol: "kernel", prefsrc: "192.0.2.10" },
];

Deno.test("subnetOverlaps() finds the node's addresses and routes inside or around the VIP subnet", async (t) => {
  const rows: {
    name: string;
    links?: Record<string, string[]>;
    routes?: Record<string, unknown>[];
    want: string[];
  }[] = [
    { name: "a node on another network", want: [] },
    {
      name: "the agent's own device is not an overlap",
      links: { ...LAN, edge0: ["9.251.0.1/32", "9.251.0.2/32"] },
      routes: [...ROUTES, { dst: "9.251.0.9", dev: "edge0" }],
      want: [],
    },
    {
      name: "an address inside the subnet (the DNS address on eth0)",
      links: { ...LAN, eth0: ["192.0.2.10/24", "9.251.0.1/32"] },
      want: ["eth0 9.251.0.1/32"],
    },
    {
      name: "a LAN inside the subnet, and its kernel route said once",
      links: { ...LAN, eth1: ["9.251.3.4/24"] },
      routes: [...ROUTES, { dst: "9.251.3.0/24", dev: "eth1", protocol: "kernel" }],
      want: ["eth1 9.251.3.4/24"],
    },
    {
      name: "a network around the subnet",
      links: { ...LAN, eth1: ["9.0.0.1/8"] },
      want: ["eth1 9.0.0.1/8"],
    },
    {
      name: "a static route into the subnet, and a host route",
      routes: [
        ...ROUTES,
        { dst: "9.251.0.0/16", gateway: "192.0.2.1", dev: "eth0" },
        { dst: "9.251.7.7", dev: "tun0" },
      ],
      want: ["9.251.0.0/16 via 192.0.2.1 dev eth0", "9.251.7.7/32 dev tun0"],
    },
    {
      name: "next to the subnet but outside it",
      links: { ...LAN, eth1: ["9.252.0.1/16", "9.250.255.254/16"] },
      routes: [...ROUTES, { dst: "9.250.0.0/16", gateway: "192.0.2.1", dev: "eth0" }],
      want: [],
    },
  ];
  for (const row of rows) {
    await t.step(row.name, () => {
      const got = subnetOverlaps(
        SUBNET,
        addrs(row.links ?? LAN),
        JSON.stringify(row.routes ?? ROUTES),
        "edge0",
      );
      assert.deepEqual(got.map(formatOverlap), row.want);
    });
  }
  await t.step("output that is not ip -json's gives nothing", () => {
    assert.deepEqual(subnetOverlaps(SUBNET, "Usage: ip …", "{}", "edge0"), []);
  });
});

Deno.test("checkSubnet() asks ip and warns once with every overlap and the fix", async () => {
  const exec = fakeExec((argv) =>
    argv.join(" ") === "ip -json -4 addr show"
      ? { stdout: addrs({ ...LAN, eth0: ["192.0.2.10/24", "9.251.0.5/32"] }) }
      : {
        stdout: JSON.stringify([...ROUTES, {
          dst: "9.251.0.0/16",
          gateway: "192.0.2.1",
          dev: "eth0",
        }]),
      }
  );
  const log = memoryLogger();
  const found = await checkSubnet({ exec, subnet: SUBNET, device: "edge0", log });
  assert.equal(found.length, 2);
  assert.deepEqual(exec.calls.map((c) => c.argv.join(" ")).sort(), [
    "ip -json -4 addr show",
    "ip -json -4 route show",
  ]);
  const lines = log.lines.map((l) => JSON.parse(l));
  assert.equal(lines.length, 1);
  assert.equal(lines[0].level, "warn");
  assert.match(lines[0].msg, /^The VIP subnet overlaps this node's network/);
  assert.equal(lines[0].subnet, "9.251.0.0/16");
  assert.equal(lines[0].overlaps, "eth0 9.251.0.5/32, 9.251.0.0/16 via 192.0.2.1 dev eth0");
  assert.match(lines[0].fix, /set subnet/);
});

Deno.test("checkSubnet() says nothing when ip cannot tell", async () => {
  const log = memoryLogger();
  const exec = fakeExec(() => ({ code: 1, stderr: "fake ip: unsupported command" }));
  assert.deepEqual(await checkSubnet({ exec, subnet: SUBNET, device: "edge0", log }), []);
  assert.deepEqual(log.lines, []);
});

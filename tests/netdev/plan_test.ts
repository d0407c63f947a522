// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  batchLines,
  type DeviceAddress,
  inCidr,
  parseAddrJson,
  parseCidr,
  planAddresses,
} from "../../lib/netdev/mod.ts";

const SUBNET = parseCidr("9.251.0.0/16");
const a32 = (ip: string): DeviceAddress => ({ ip, prefixLen: 32 });

Deno.test("planAddresses() adds missing, removes stale ours, never touches foreign", async (t) => {
  const cases: {
    name: string;
    desired: string[];
    actual: DeviceAddress[];
    owned?: string[];
    add: string[];
    remove: string[];
  }[] = [
    { name: "empty device", desired: ["9.251.0.2"], actual: [], add: ["9.251.0.2"], remove: [] },
    {
      name: "idempotent when already present",
      desired: ["9.251.0.2", "9.251.0.3"],
      actual: [a32("9.251.0.3"), a32("9.251.0.2")],
      add: [],
      remove: [],
    },
    {
      name: "stale /32 inside the subnet is removed",
      desired: ["9.251.0.2"],
      actual: [a32("9.251.0.2"), a32("9.251.7.9")],
      add: [],
      remove: ["9.251.7.9"],
    },
    {
      name: "foreign addresses are untouched",
      desired: [],
      actual: [
        a32("10.0.0.5"),
        { ip: "9.251.0.9", prefixLen: 24 },
        { ip: "192.168.1.1", prefixLen: 16 },
      ],
      add: [],
      remove: [],
    },
    {
      name: "a non-/32 copy does not count as present",
      desired: ["9.251.0.9"],
      actual: [{ ip: "9.251.0.9", prefixLen: 24 }],
      add: ["9.251.0.9"],
      remove: [],
    },
    {
      name: "owned address outside the subnet is removed when unwanted",
      desired: [],
      actual: [a32("169.254.20.10"), a32("169.254.20.11")],
      owned: ["169.254.20.10"],
      add: [],
      remove: ["169.254.20.10"],
    },
    {
      name: "results are sorted numerically",
      desired: ["9.251.0.10", "9.251.0.9", "9.251.1.0"],
      actual: [a32("9.251.0.200"), a32("9.251.0.30")],
      add: ["9.251.0.9", "9.251.0.10", "9.251.1.0"],
      remove: ["9.251.0.30", "9.251.0.200"],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const plan = planAddresses(new Set(c.desired), c.actual, SUBNET, new Set(c.owned ?? []));
      assert.deepEqual(plan, { add: c.add, remove: c.remove });
    });
  }
});

Deno.test("planAddresses() with sweep removes every unwanted /32 an earlier run left", async (t) => {
  // What `ip -json addr show` lists on a taken-back bridge after a kill -9 (IPv6 link-local
  // fe80:: is not read: parseAddrShow keeps family "inet" only).
  const leftover = [
    a32("9.251.0.1"),
    a32("9.251.0.7"), // a VIP of a service deleted while the agent was down
    a32("169.254.20.10"), // a dnsListen address no longer configured
    { ip: "10.99.0.1", prefixLen: 24 }, // not a /32: never the agent's
  ];
  const rows: {
    name: string;
    sweep: boolean | undefined;
    desired: string[];
    owned?: string[];
    add: string[];
    remove: string[];
  }[] = [
    {
      name: "sweep: the stale DNS address outside the subnet goes with the stale VIP",
      sweep: true,
      desired: ["9.251.0.1"],
      add: [],
      remove: ["9.251.0.7", "169.254.20.10"],
    },
    {
      name: "sweep: an address still wanted stays, a missing one is added",
      sweep: true,
      desired: ["9.251.0.1", "169.254.20.10", "9.251.0.2"],
      add: ["9.251.0.2"],
      remove: ["9.251.0.7"],
    },
    {
      name: "no sweep: only the subnet is ours",
      sweep: false,
      desired: ["9.251.0.1"],
      add: [],
      remove: ["9.251.0.7"],
    },
    {
      name: "no sweep: an address this run put outside the subnet is ours too",
      sweep: false,
      desired: ["9.251.0.1"],
      owned: ["169.254.20.10"],
      add: [],
      remove: ["9.251.0.7", "169.254.20.10"],
    },
    {
      name: "no option: no sweep",
      sweep: undefined,
      desired: ["9.251.0.1", "9.251.0.7"],
      add: [],
      remove: [],
    },
  ];
  for (const r of rows) {
    await t.step(r.name, () => {
      const plan = planAddresses(
        new Set(r.desired),
        leftover,
        SUBNET,
        new Set(r.owned ?? []),
        r.sweep === undefined ? undefined : { sweep: r.sweep },
      );
      assert.deepEqual(plan, { add: r.add, remove: r.remove });
    });
  }
});

Deno.test("parseCidr() and inCidr() handle prefixes and reject garbage", async (t) => {
  await t.step("host bits are masked", () => {
    assert.deepEqual(parseCidr("9.251.3.4/16"), parseCidr("9.251.0.0/16"));
  });
  for (
    const [ip, cidr, want] of [
      ["9.251.255.255", "9.251.0.0/16", true],
      ["9.252.0.0", "9.251.0.0/16", false],
      ["1.2.3.4", "0.0.0.0/0", true],
      ["9.251.0.1", "9.251.0.1/32", true],
      ["fe80::1", "9.251.0.0/16", false],
    ] as const
  ) {
    await t.step(`${ip} in ${cidr} is ${want}`, () => {
      assert.equal(inCidr(ip, parseCidr(cidr)), want);
    });
  }
  for (const bad of ["9.251.0.0", "9.251.0.0/33", "9.251.0/16", "x/8", "9.251.0.256/16"]) {
    await t.step(`"${bad}" throws TypeError`, () => {
      assert.throws(() => parseCidr(bad), TypeError);
    });
  }
});

Deno.test("parseAddrJson() keeps IPv4 addresses with their prefix length", () => {
  const out = JSON.stringify([{
    ifname: "edge0",
    addr_info: [
      { family: "inet", local: "9.251.0.2", prefixlen: 32 },
      { family: "inet", local: "9.251.0.3", prefixlen: 24 },
      { family: "inet6", local: "fe80::1", prefixlen: 64 },
    ],
  }]);
  assert.deepEqual(parseAddrJson(out), [
    { ip: "9.251.0.2", prefixLen: 32 },
    { ip: "9.251.0.3", prefixLen: 24 },
  ]);
  assert.deepEqual(parseAddrJson(""), []);
  assert.throws(() => parseAddrJson("{}"), SyntaxError);
});

Deno.test("batchLines() deletes first, then replaces, in chunks", async (t) => {
  await t.step("exact lines", () => {
    assert.deepEqual(batchLines({ add: ["9.251.0.2"], remove: ["9.251.0.9"] }, "edge0"), [[
      "addr del 9.251.0.9/32 dev edge0",
      "addr replace 9.251.0.2/32 dev edge0",
    ]]);
  });
  await t.step("empty plan needs no process", () => {
    assert.deepEqual(batchLines({ add: [], remove: [] }, "edge0"), []);
  });
  await t.step("chunked by maxLines", () => {
    const add = Array.from({ length: 5 }, (_, i) => `9.251.0.${i + 1}`);
    const chunks = batchLines({ add, remove: [] }, "edge0", 2);
    assert.deepEqual(chunks.map((c) => c.length), [2, 2, 1]);
  });
});

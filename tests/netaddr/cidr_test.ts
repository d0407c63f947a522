// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  cidrContains,
  type CidrOptions,
  formatCidr,
  type IpAddress,
  ipv4CidrSize,
  isCidr,
  parseCidr,
  parseIp,
  readCidr,
} from "../../lib/netaddr/mod.ts";

/** The outcome of readCidr as text: the canonical prefix, or the problem kind. */
function outcome(text: string, options: CidrOptions): string {
  const got = readCidr(text, options);
  if (isCidr(got)) return formatCidr(got);
  return got.kind === "hostBits" ? `hostBits ${formatCidr(got.network)}` : got.kind;
}

Deno.test("readCidr() applies the host-bits, family, bare and strict policies", async (t) => {
  const rows: [string, CidrOptions, string][] = [
    ["9.251.0.0/16", {}, "9.251.0.0/16"],
    ["0.0.0.0/0", {}, "0.0.0.0/0"],
    ["9.251.0.1/32", {}, "9.251.0.1/32"],
    ["fd00::/64", {}, "fd00::/64"],
    ["FD00:0::/7", {}, "hostBits fc00::/7"],
    ["fd00::1/64", {}, "hostBits fd00::/64"],
    ["9.251.3.4/16", {}, "hostBits 9.251.0.0/16"],
    ["9.251.3.4/16", { hostBits: "mask" }, "9.251.0.0/16"],
    ["9.251.3.4/16", { hostBits: "keep" }, "9.251.3.4/16"],
    ["fd00::1:2/100", { hostBits: "mask" }, "fd00::/100"],
    ["fd00::1:2/112", { hostBits: "mask" }, "fd00::1:0/112"],
    ["9.251.0.0/33", {}, "prefix"],
    ["::/129", {}, "prefix"],
    ["9.251.0.0/", {}, "prefix"],
    ["9.251.0.0/1x", {}, "prefix"],
    ["9.251.0.0/16/1", {}, "prefix"],
    ["9.251.0.0/016", {}, "9.251.0.0/16"],
    ["9.251.0.0/016", { strict: true }, "prefix"],
    ["010.0.0.0/8", {}, "10.0.0.0/8"],
    ["010.0.0.0/8", { strict: true }, "syntax"],
    ["9.251.0.0", {}, "syntax"],
    ["9.251.0.1", { bare: true }, "9.251.0.1/32"],
    ["::1", { bare: true }, "::1/128"],
    ["nine/8", {}, "syntax"],
    ["9.251.0/16", {}, "syntax"],
    ["", { bare: true }, "syntax"],
    ["fd00::/64", { family: 4 }, "family"],
    ["9.0.0.0/8", { family: 6 }, "family"],
    ["9.0.0.0/8", { family: 4 }, "9.0.0.0/8"],
  ];
  for (const [text, options, want] of rows) {
    await t.step(`${text} ${JSON.stringify(options)}`, () => {
      assert.equal(outcome(text, options), want);
    });
  }
  await t.step("parseAddress reads the address part", () => {
    const seen: string[] = [];
    const parseAddress = (s: string): IpAddress | null => (seen.push(s), parseIp(s.slice(1, -1)));
    assert.equal(outcome("[::1]/128", { parseAddress }), "::1/128");
    assert.deepEqual(seen, ["[::1]"]);
  });
});

Deno.test("parseCidr() throws SyntaxError or RangeError with the value named", async (t) => {
  await t.step("returns the typed prefix", () => {
    assert.deepEqual(parseCidr("9.251.0.0/16", { family: 4 }), {
      family: 4,
      address: 0x09fb0000,
      prefix: 16,
    });
  });
  const rows: [string, CidrOptions & { what?: string }, ErrorConstructor, string][] = [
    [
      "9.251.0.0",
      { family: 4, what: "subnet" },
      SyntaxError,
      'subnet "9.251.0.0": not an IPv4 CIDR',
    ],
    ["fd00::/8", { family: 4, what: "subnet" }, SyntaxError, 'subnet "fd00::/8": not an IPv4 CIDR'],
    ["9.0.0.0/8", { family: 6 }, SyntaxError, 'CIDR "9.0.0.0/8": not an IPv6 CIDR'],
    ["x", {}, SyntaxError, 'CIDR "x": not a CIDR'],
    [
      "9.251.1.0/16",
      { what: "subnet" },
      RangeError,
      'subnet "9.251.1.0/16": host bits are set (network is 9.251.0.0/16)',
    ],
  ];
  for (const [text, options, cls, message] of rows) {
    await t.step(text, () => {
      assert.throws(() => parseCidr(text, options), (err: unknown) => {
        assert.ok(err instanceof cls);
        assert.equal((err as Error).message, `Cannot parse ${message}`);
        return true;
      });
    });
  }
});

Deno.test("cidrContains() compares the prefix bits of one family", async (t) => {
  const rows: [string, string, boolean][] = [
    ["9.251.0.0/16", "9.251.255.255", true],
    ["9.251.0.0/16", "9.252.0.0", false],
    ["9.251.0.0/16", "9.250.255.255", false],
    ["0.0.0.0/0", "1.2.3.4", true],
    ["9.251.0.1/32", "9.251.0.1", true],
    ["9.251.0.1/32", "9.251.0.2", false],
    ["10.1.2.3/8", "10.200.0.1", true], // host bits kept, ignored
    ["9.251.0.0/16", "::ffff:9.251.0.1", false],
    ["fc00::/7", "fd12::1", true],
    ["fc00::/7", "fe80::1", false],
    ["::1/128", "::1", true],
    ["::1/128", "::2", false],
    ["fd00::/100", "fd00::fff:ffff", true],
    ["fd00::/100", "fd00::1000:0", false],
    ["::/0", "2001:db8::1", true],
    ["::/0", "1.2.3.4", false],
  ];
  for (const [cidr, ip, want] of rows) {
    await t.step(`${ip} in ${cidr} is ${want}`, () => {
      const c = readCidr(cidr, { hostBits: "keep" });
      assert.ok(isCidr(c));
      assert.equal(cidrContains(c, parseIp(ip)!), want);
    });
  }
  assert.equal(ipv4CidrSize(parseCidr("9.251.0.0/16", { family: 4 })), 65536);
  assert.equal(ipv4CidrSize(parseCidr("0.0.0.0/0", { family: 4 })), 2 ** 32);
});

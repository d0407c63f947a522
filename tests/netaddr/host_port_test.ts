// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  formatHostPort,
  type HostPortOptions,
  isDnsName,
  isHostPort,
  parseHostPort,
  readHostPort,
} from "../../lib/netaddr/mod.ts";

/** The outcome of readHostPort as text: `host port`, or the problem kind. */
function outcome(text: string, options: HostPortOptions): string {
  const got = readHostPort(text, options);
  return isHostPort(got) ? `${got.host} ${got.port}` : got.kind;
}

Deno.test("readHostPort() splits host and port under each policy", async (t) => {
  const dns: HostPortOptions = { defaultPort: 53, minPort: 0, bareIpv6: true, zone: true };
  const rows: [string, HostPortOptions, string][] = [
    ["127.0.0.1:9560", {}, "127.0.0.1 9560"],
    ["[::1]:9560", {}, "::1 9560"],
    ["localhost:80", {}, "localhost 80"],
    ["node_b.example:40001", {}, "node_b.example 40001"],
    ["node-b", { defaultPort: 40001 }, "node-b 40001"],
    ["[fd00::1]", { defaultPort: 40001 }, "fd00::1 40001"],
    ["node-b", {}, "missingPort"],
    ["[fd00::1]", {}, "missingPort"],
    ["fd00::1", { defaultPort: 53 }, "bracket"],
    ["::1:9560", {}, "bracket"],
    ["fd00::1", dns, "fd00::1 53"],
    ["fe80::1%eth0", dns, "fe80::1%eth0 53"],
    ["[fe80::1%eth0]:5353", dns, "fe80::1%eth0 5353"],
    ["[fe80::1%eth0]:53", {}, "host"],
    ["fe80::1%", dns, "bracket"],
    ["a:b:c", dns, "bracket"],
    ["[node-1]:53", {}, "host"],
    ["[1.2.3.4]:53", {}, "host"],
    ["[]:53", {}, "host"],
    [":80", {}, "host"],
    ["", { defaultPort: 53 }, "host"],
    ["a b:53", {}, "host"],
    ["user@host:53", {}, "host"],
    ["host/x:53", {}, "host"],
    ["host:", {}, "portSyntax"],
    ["host:x", {}, "portSyntax"],
    ["host:-1", {}, "portSyntax"],
    ["host:123456", {}, "portSyntax"],
    ["[::1]:x", {}, "portSyntax"],
    ["host:70000", {}, "portRange"],
    ["0.0.0.0:0", {}, "portRange"],
    ["0.0.0.0:0", { minPort: 0 }, "0.0.0.0 0"],
    ["0.0.0.0:65535", {}, "0.0.0.0 65535"],
    // host kinds
    ["9.251.0.1:53", { host: "ip" }, "9.251.0.1 53"],
    ["010.0.0.1:53", { host: "ip" }, "host"],
    ["010.0.0.1:53", {}, "010.0.0.1 53"],
    ["localhost:53", { host: "ip" }, "host"],
    ["[fd00::1]:53", { host: "ip" }, "fd00::1 53"],
    ["node-1.example:40001", { host: "name" }, "node-1.example 40001"],
    ["node_1:40001", { host: "name" }, "host"],
    ["-node:40001", { host: "name" }, "host"],
    ["10.0.0.1:40001", { host: "name" }, "10.0.0.1 40001"],
  ];
  for (const [text, options, want] of rows) {
    await t.step(`${JSON.stringify(text)} ${JSON.stringify(options)}`, () => {
      assert.equal(outcome(text, options), want);
    });
  }
  await t.step("portRange carries the host and the number", () => {
    assert.deepEqual(readHostPort("1.2.3.4:99999", { host: "ip" }), {
      kind: "portRange",
      host: "1.2.3.4",
      value: 99999,
    });
  });
});

Deno.test("parseHostPort() throws SyntaxError or RangeError naming the address", async (t) => {
  assert.deepEqual(parseHostPort("[::1]:53"), { host: "::1", port: 53 });
  const rows: [string, HostPortOptions, ErrorConstructor, string][] = [
    ["fd00::1", { defaultPort: 1 }, SyntaxError, "bracket IPv6 addresses"],
    [":80", {}, SyntaxError, "host is empty or invalid"],
    ["host", {}, SyntaxError, "port is missing"],
    ["host:x", {}, SyntaxError, 'port "x" is not a number'],
    ["host:0", {}, RangeError, "port 0 is out of range"],
    ["host:70000", { minPort: 0 }, RangeError, "port 70000 is out of range"],
  ];
  for (const [text, options, cls, reason] of rows) {
    await t.step(text, () => {
      assert.throws(() => parseHostPort(text, options), (err: unknown) => {
        assert.ok(err instanceof cls);
        assert.equal((err as Error).message, `Cannot parse address "${text}": ${reason}`);
        return true;
      });
    });
  }
});

Deno.test("formatHostPort() brackets IPv6 hosts and round-trips", async (t) => {
  const rows: [string, number, string][] = [
    ["127.0.0.1", 53, "127.0.0.1:53"],
    ["node-b", 40001, "node-b:40001"],
    ["fd00::1", 8080, "[fd00::1]:8080"],
    ["::", 0, "[::]:0"],
  ];
  for (const [host, port, want] of rows) {
    await t.step(want, () => {
      assert.equal(formatHostPort(host, port), want);
      assert.deepEqual(parseHostPort(want, { minPort: 0 }), { host, port });
    });
  }
});

Deno.test("isDnsName() follows RFC 1123 labels", async (t) => {
  const rows: [string, boolean][] = [
    ["node-1", true],
    ["node-1.example.", true],
    ["1.2.3.4", true],
    ["a".repeat(63), true],
    ["a".repeat(64), false],
    [`${"a".repeat(63)}.`.repeat(4), false],
    ["", false],
    [".", false],
    ["-a", false],
    ["a-", false],
    ["a..b", false],
    ["a_b", false],
  ];
  for (const [name, want] of rows) {
    await t.step(JSON.stringify(name), () => assert.equal(isDnsName(name), want));
  }
});

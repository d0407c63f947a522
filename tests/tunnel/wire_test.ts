// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { parseHostPort, parseStreamTarget, type StreamHeaders } from "../../lib/tunnel/mod.ts";

Deno.test("parseHostPort() reads host:port, [v6]:port and bare hosts", async (t) => {
  const rows: [string, number | undefined, string][] = [
    ["127.0.0.1:40001", undefined, "127.0.0.1 40001"],
    ["[::1]:40001", undefined, "::1 40001"],
    ["node-b", 40001, "node-b 40001"],
    ["[fd00::1]", 40001, "fd00::1 40001"],
    ["0.0.0.0:0", undefined, "RangeError"],
    ["host:70000", undefined, "RangeError"],
    ["host:x", undefined, "SyntaxError"],
    ["fd00::1", 40001, "SyntaxError"],
    [":80", undefined, "SyntaxError"],
    ["host", undefined, "SyntaxError"],
  ];
  for (const [text, def, want] of rows) {
    await t.step(text, () => {
      let got: string;
      try {
        const hp = parseHostPort(text, def);
        got = `${hp.host} ${hp.port}`;
      } catch (err) {
        got = (err as Error).name;
      }
      assert.equal(got, want);
    });
  }
  assert.deepEqual(parseHostPort("0.0.0.0:0", undefined, true), { host: "0.0.0.0", port: 0 });
});

Deno.test("parseStreamTarget() types the target headers", async (t) => {
  const base: StreamHeaders = {
    source: "a",
    service: "default/echo",
    port: "80",
    endpoint: "[fd00::2]:8080",
    timestamp: "1",
    nonce: "00",
    signature: "00",
  };
  await t.step("good", () => {
    assert.deepEqual(parseStreamTarget(base), {
      ok: true,
      target: {
        source: "a",
        namespace: "default",
        service: "echo",
        port: 80,
        endpointIp: "fd00::2",
        endpointPort: 8080,
      },
    });
  });
  const bad: [string, Partial<StreamHeaders>][] = [
    ["service without namespace", { service: "echo" }],
    ["service with two slashes", { service: "a/b/c" }],
    ["port 0", { port: "0" }],
    ["port text", { port: "http" }],
    ["endpoint without port", { endpoint: "10.0.0.1" }],
  ];
  for (const [name, patch] of bad) {
    await t.step(name, () => assert.equal(parseStreamTarget({ ...base, ...patch }).ok, false));
  }
});

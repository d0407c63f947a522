// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  buildMessage,
  changeReply,
  type ControlMessage,
  encodeReply,
  MAX_LINE_BYTES,
  parseMessage,
  parseReply,
} from "../../lib/control/mod.ts";

const fixtures = new URL("../fixtures/", import.meta.url);
const goodLines = (await Deno.readTextFile(new URL("kubeedge-messages.ndjson", fixtures)))
  .split("\n").filter((l) => l.trim() !== "");
const badLines = (await Deno.readTextFile(new URL("kubeedge-messages-bad.ndjson", fixtures)))
  .split("\n").filter((l) => l.trim() !== "");

function summary(m: ControlMessage): string {
  if (m.kind === "query") return `query ${m.query.type} ${m.query.namespace}/${m.query.name}`;
  const c = m.change;
  return `${c.operation} ${c.type} ${c.namespace}/${c.name}`;
}

Deno.test("parseMessage() parses every line of kubeedge-messages.ndjson", async (t) => {
  const expected = [
    "insert service default/nginx",
    "insert endpoints default/nginx",
    "insert service cache/redis",
    "insert endpointslice cache/redis-x7k2p",
    "insert service stream/kafka-headless",
    "insert service infra/syslog",
    "insert service default/legacy",
    "update podlist default/legacy",
    "insert node default/edge-node-2",
    "update servicelist namespace/service",
    "delete service default/legacy",
  ];
  assert.equal(goodLines.length, expected.length);
  for (const [i, line] of goodLines.entries()) {
    await t.step(`line ${i + 1}: ${expected[i]}`, () => {
      const m = parseMessage(line);
      assert.equal(summary(m), expected[i]);
      assert.equal(
        m.header.msgId,
        `3b0c6f1e-0000-4000-8000-0000000000${String(i + 1).padStart(2, "0")}`,
      );
      assert.equal(m.kind, "change");
      if (m.kind === "change") assert.deepEqual(m.change.content, JSON.parse(line).content);
    });
  }
});

Deno.test("parseMessage() rejects the bad fixture lines with exact messages", async (t) => {
  const expected: (readonly [string, string] | null)[] = [
    ["SyntaxError", "Cannot parse message: not valid JSON"],
    [
      "TypeError",
      'Cannot parse message: route.operation "explode" is not one of insert, update, delete, query',
    ],
    [
      "TypeError",
      'Cannot parse message: route.resource "only-two/tokens" is not <namespace>/<type>/<name> ' +
      "or node/<nodeID>/<namespace>/<type>/<name>",
    ],
    null, // port 70000: well-formed envelope, rejected by the registry
    [
      "TypeError",
      'Cannot parse message: route.resource "default/service/mismatch" does not match the object ' +
      '"kube-system/other"',
    ],
    ["TypeError", "Cannot parse message: expected a JSON object, got an array"],
    ["SyntaxError", "Cannot parse message: not valid JSON"],
  ];
  assert.equal(badLines.length, expected.length);
  for (const [i, line] of badLines.entries()) {
    const want = expected[i] ?? null;
    await t.step(`line ${i + 1}`, () => {
      if (want === null || want === undefined) {
        assert.equal(summary(parseMessage(line)), "insert service default/bad");
        return;
      }
      assert.throws(() => parseMessage(line), (err: Error) => {
        assert.equal(err.name, want[0]);
        assert.equal(err.message, want[1]);
        return true;
      });
    });
  }
});

Deno.test("parseMessage() handles resource forms, queries and envelope errors", async (t) => {
  const env = (route: Record<string, unknown>, content: unknown = { metadata: {} }, header = {}) =>
    JSON.stringify({ header, route, content });
  const ok: [string, string, string][] = [
    [
      "5-token cloud form",
      env({ operation: "update", resource: "node/edge-1/default/service/nginx" }),
      "update service default/nginx",
    ],
    [
      "delete without content",
      JSON.stringify({ route: { operation: "delete", resource: "default/service/x" } }),
      "delete service default/x",
    ],
    [
      "query all services",
      env({ operation: "query", resource: "*/services/*" }),
      "query services null/null",
    ],
    [
      "query one namespace",
      env({ operation: "query", resource: "cache/endpoints/*" }),
      "query endpoints cache/null",
    ],
    ["query status", env({ operation: "query", resource: "*/status/*" }), "query status null/null"],
    [
      "node without namespace",
      env({ operation: "insert", resource: "/node/n1" }),
      "insert node /n1",
    ],
  ];
  for (const [name, line, want] of ok) {
    await t.step(name, () => assert.equal(summary(parseMessage(line)), want));
  }
  const bad: [string, string, string][] = [
    ["missing route", JSON.stringify({ header: {} }), "Cannot parse message: route is missing"],
    [
      "route not an object",
      JSON.stringify({ route: "x" }),
      "Cannot parse message: route must be an object, got a string",
    ],
    [
      "missing operation",
      env({ resource: "a/service/b" }),
      "Cannot parse message: route.operation is missing",
    ],
    [
      "unknown type",
      env({ operation: "insert", resource: "default/widget/x" }),
      'Cannot parse message: route.resource "default/widget/x": type "widget" is not one of ' +
      "service, servicelist, endpoints, endpointslice, pod, podlist, node",
    ],
    [
      "unknown query type",
      env({ operation: "query", resource: "*/pods/*" }),
      'Cannot parse message: route.resource "*/pods/*": query type "pods" is not one of ' +
      "service, services, endpoints, status",
    ],
    [
      "empty name",
      env({ operation: "insert", resource: "default/service/" }),
      'Cannot parse message: route.resource "default/service/": name is empty',
    ],
    [
      "empty namespace",
      env({ operation: "insert", resource: "/service/x" }),
      'Cannot parse message: route.resource "/service/x": namespace is empty',
    ],
    [
      "insert without content",
      JSON.stringify({ route: { operation: "insert", resource: "default/service/x" } }),
      'Cannot parse message: content is missing for "insert" of "default/service/x"',
    ],
    [
      "servicelist not a list",
      env({ operation: "update", resource: "namespace/servicelist/service" }, {}),
      'Cannot parse message: content of "namespace/servicelist/service" must be a list, got an object',
    ],
    [
      "msg_id not a string",
      env({ operation: "insert", resource: "a/service/b" }, {}, { msg_id: 7 }),
      "Cannot parse message: header.msg_id must be a string, got a number",
    ],
    [
      "bad 5-token prefix",
      env({ operation: "insert", resource: "edge/n1/default/service/x" }),
      'Cannot parse message: route.resource "edge/n1/default/service/x" is not ' +
      "<namespace>/<type>/<name> or node/<nodeID>/<namespace>/<type>/<name>",
    ],
    ["JSON null", "null", "Cannot parse message: expected a JSON object, got null"],
  ];
  for (const [name, line, want] of bad) {
    await t.step(name, () => assert.throws(() => parseMessage(line), { message: want }));
  }
});

Deno.test("parseMessage() rejects lines over 1 MiB", () => {
  const padding = "x".repeat(MAX_LINE_BYTES);
  const line = JSON.stringify({ route: { operation: "delete", resource: "a/service/b" }, padding });
  assert.throws(() => parseMessage(line), {
    name: "SyntaxError",
    message: "Cannot parse message: line exceeds 1048576 bytes",
  });
  // Multi-byte characters count as their UTF-8 length.
  const wide = "é".repeat(MAX_LINE_BYTES / 2 + 1);
  assert.throws(() => parseMessage(wide), {
    message: "Cannot parse message: line exceeds 1048576 bytes",
  });
});

Deno.test("buildMessage() builds envelopes parseMessage() accepts", () => {
  const m = buildMessage({
    operation: "update",
    resource: "default/service/web",
    content: { metadata: { name: "web", namespace: "default" } },
    msgId: "id-1",
    now: () => 42,
  });
  assert.deepEqual(m.header, {
    msg_id: "id-1",
    parent_msg_id: "",
    timestamp: 42,
    resourceversion: "",
  });
  const parsed = parseMessage(JSON.stringify(m));
  assert.equal(summary(parsed), "update service default/web");
  assert.equal(parsed.header.timestamp, 42);
});

Deno.test("parseReply() accepts replies and rejects garbage", () => {
  assert.deepEqual(parseReply('{"msg_id":"a","ok":true}'), { msg_id: "a", ok: true });
  assert.deepEqual(parseReply('{"msg_id":null,"ok":false,"error":"x"}'), {
    msg_id: null,
    ok: false,
    error: "x",
  });
  assert.throws(() => parseReply("nope"), SyntaxError);
  assert.throws(() => parseReply('{"ok":false}'), SyntaxError);
});

Deno.test("changeReply() adds found to a delete's reply only, unchanged to a no-op's; parseReply() checks them", async (t) => {
  const rows: [string, Parameters<typeof changeReply>[1], string][] = [
    ["delete of a present object", { operation: "delete", found: true }, ',"found":true'],
    ["delete of an absent one", { operation: "delete", found: false }, ',"found":false'],
    ["insert", { operation: "insert" }, ""],
    ["update", { operation: "update" }, ""],
    ["a target that cannot tell", undefined, ""],
    [
      "an update that changed nothing",
      { operation: "update", unchanged: true },
      ',"unchanged":true',
    ],
    [
      "a delete of an absent object, which changes nothing",
      { operation: "delete", found: false, unchanged: true },
      ',"found":false,"unchanged":true',
    ],
  ];
  for (const [name, result, found] of rows) {
    await t.step(name, () => {
      const text = encodeReply(changeReply("m", result));
      assert.equal(text, `{"msg_id":"m","ok":true${found}}\n`);
      assert.deepEqual(parseReply(text), JSON.parse(text));
    });
  }
  await t.step("found of another type is a protocol error", () => {
    assert.throws(
      () => parseReply('{"msg_id":"m","ok":true,"found":"no"}'),
      new SyntaxError("Cannot parse reply: found must be a boolean, got a string"),
    );
  });
  await t.step("unchanged of another type is a protocol error", () => {
    assert.throws(
      () => parseReply('{"msg_id":"m","ok":true,"unchanged":1}'),
      new SyntaxError("Cannot parse reply: unchanged must be a boolean, got a number"),
    );
  });
});

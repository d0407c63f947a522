// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * ControlClient against fake agents: every request settles however the peer misbehaves
 * (garbage, another msg_id, silence), replies are matched by msg_id, the idle timeout.
 */
import assert from "node:assert/strict";
import { buildMessage, ControlClient, type Reply } from "../../lib/control/mod.ts";
import { okReplyTo, type Respond, startFakeAgent } from "../_helpers/fake_control.ts";

const query = (msgId: string) =>
  buildMessage({ operation: "query", resource: "*/status/*", msgId });

/** Runs `fn` with a client connected to a fake agent answering with `respond`. */
async function withFake(
  respond: Respond,
  fn: (client: ControlClient, received: string[]) => Promise<void>,
  idleTimeoutMs = 0,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "em-client-" });
  const fake = startFakeAgent(`${dir}/fake.sock`, respond);
  try {
    const client = await ControlClient.connect(fake.path, { idleTimeoutMs });
    try {
      await fn(client, fake.received);
    } finally {
      await client.close();
    }
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ControlClient rejects every pending request when a reply is unusable", async (t) => {
  const rows: { name: string; respond: Respond; error: { name: string; message: RegExp } }[] = [
    {
      name: "not JSON",
      respond: () => "garbage",
      error: {
        name: "SyntaxError",
        message: /^Cannot read the agent's reply: not valid JSON: garbage$/,
      },
    },
    {
      name: "not a reply object",
      respond: () => '{"hello":1}',
      error: { name: "SyntaxError", message: /^Cannot read the agent's reply: expected/ },
    },
    {
      name: "another request's msg_id",
      respond: () => '{"msg_id":"zzz","ok":true,"content":{}}',
      error: {
        name: "TypeError",
        message:
          /^Cannot read the agent's reply: its msg_id "zzz" does not match the request's "a" \(protocol error\)$/,
      },
    },
    {
      name: "an ok reply without msg_id",
      respond: () => '{"msg_id":null,"ok":true}',
      error: { name: "TypeError", message: /msg_id null does not match the request's "a"/ },
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      await withFake(row.respond, async (client) => {
        // Three requests in flight: the first gets the bad reply, all three must settle.
        const results = await Promise.allSettled(
          ["a", "b", "c"].map((id) => client.send(query(id))),
        );
        for (const r of results) {
          assert.equal(r.status, "rejected");
          assert.equal((r as PromiseRejectedResult).reason.name, row.error.name);
          assert.match((r as PromiseRejectedResult).reason.message, row.error.message);
        }
        // The connection is done: later sends fail at once with the same error.
        await assert.rejects(client.send(query("d")), { message: row.error.message });
      });
    });
  }
});

Deno.test("ControlClient matches replies by msg_id, accepting null-id error replies", async () => {
  let n = 0;
  const respond: Respond = (line) =>
    n++ === 1
      ? '{"msg_id":null,"ok":false,"error":"Cannot parse message: not valid JSON"}'
      : okReplyTo(line, { n });
  await withFake(respond, async (client, received) => {
    const replies: Reply[] = await Promise.all([
      client.send(query("first")),
      client.send("not json at all"),
      client.send(query("third")),
    ]);
    assert.deepEqual(replies, [
      { msg_id: "first", ok: true, content: { n: 1 } },
      { msg_id: null, ok: false, error: "Cannot parse message: not valid JSON" },
      { msg_id: "third", ok: true, content: { n: 3 } },
    ]);
    assert.equal(received.length, 3);
  });
});

Deno.test("ControlClient times out when the agent goes silent, and not before", async (t) => {
  await t.step("a peer that never answers", async () => {
    await withFake(() => null, async (client, received) => {
      const started = performance.now();
      const pending = [client.send(query("a")), client.send(query("b"))];
      for (const p of pending) {
        await assert.rejects(p, (err: Error) => {
          assert.ok(err instanceof Deno.errors.TimedOut, String(err));
          assert.match(
            err.message,
            /^No reply from the agent on control socket ".*fake\.sock" within 50 ms$/,
          );
          return true;
        });
      }
      assert.ok(performance.now() - started >= 45, "not before the timeout");
      assert.equal(received.length, 2, "the requests were sent");
    }, 50);
  });

  await t.step("replies that keep coming restart it (idle, not total)", async () => {
    // Five pipelined requests answered 100 ms apart: 500 ms in all, more than the 300 ms
    // timeout, but never 300 ms without a reply.
    const delayed: Respond = (line) =>
      new Promise((resolve) => setTimeout(() => resolve(okReplyTo(line)), 100));
    await withFake(delayed, async (client) => {
      const ids = ["a", "b", "c", "d", "e"];
      const started = performance.now();
      const replies = await Promise.all(ids.map((id) => client.send(query(id))));
      assert.deepEqual(replies.map((r) => r.msg_id), ids);
      assert.ok(performance.now() - started > 300, "took longer than one timeout in total");
    }, 300);
  });
});

Deno.test("ControlClient.close() rejects requests still pending", async () => {
  await withFake(() => null, async (client) => {
    const pending = client.send(query("a"));
    await client.close();
    await assert.rejects(pending, { message: /^Control socket ".*" closed$/ });
  });
});

Deno.test("ControlClient.connect() says why it cannot connect", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "em-client-" });
  try {
    await Deno.writeTextFile(`${dir}/file`, "not a socket");
    const rows: [string, string][] = [
      [`${dir}/missing.sock`, "no such socket (is the agent running?)"],
      [`${dir}/file`, "the path is not a socket"],
      [dir, "the path is not a socket"],
    ];
    for (const [path, reason] of rows) {
      await t.step(reason + " " + path.slice(dir.length), async () => {
        await assert.rejects(ControlClient.connect(path), {
          message: `Cannot connect to control socket "${path}": ${reason}`,
        });
      });
    }
    await t.step("a bad idleTimeoutMs", async () => {
      await assert.rejects(ControlClient.connect(`${dir}/x`, { idleTimeoutMs: -1 }), RangeError);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

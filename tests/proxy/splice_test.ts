// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { BufferPool, splice, type UpstreamConn } from "../../lib/proxy/mod.ts";

type Step = string | null | Error;

/**
 * An in-memory conn: reads follow `script` (text chunk, null = EOF, Error = failure), then
 * hang until closed; writes are recorded (at most `maxWrite` bytes per call).
 */
function scripted(script: Step[], maxWrite = Infinity) {
  let pending: ((err: Error) => void) | null = null;
  const state = { written: "", eofSent: false, closed: 0 };
  const conn: UpstreamConn = {
    read(p) {
      if (state.closed) return Promise.reject(new Deno.errors.BadResource("closed"));
      const next = script.shift();
      if (next === undefined) return new Promise((_, reject) => (pending = reject));
      if (next instanceof Error) return Promise.reject(next);
      if (next === null) return Promise.resolve(null);
      const bytes = new TextEncoder().encode(next);
      p.set(bytes);
      return Promise.resolve(bytes.length);
    },
    write(p) {
      if (state.closed || state.eofSent) return Promise.reject(new Deno.errors.BrokenPipe());
      const n = Math.min(p.length, maxWrite);
      state.written += new TextDecoder().decode(p.subarray(0, n));
      return Promise.resolve(n);
    },
    closeWrite() {
      state.eofSent = true;
      return Promise.resolve();
    },
    close() {
      state.closed++;
      pending?.(new Deno.errors.BadResource("closed"));
      pending = null;
    },
  };
  return { conn, state };
}

Deno.test("splice() passes half-close on and still delivers the reply", async () => {
  const client = scripted(["hello ", "world", null]);
  const upstream = scripted(["reply", null]);
  const r = await splice(client.conn, upstream.conn, new BufferPool(16, 4));
  assert.deepEqual(r, { bytesIn: 11, bytesOut: 5 });
  assert.equal(upstream.state.written, "hello world");
  assert.equal(upstream.state.eofSent, true, "client EOF forwarded with closeWrite()");
  assert.equal(client.state.written, "reply");
  assert.equal(client.state.eofSent, true);
  assert.ok(client.state.closed >= 1 && upstream.state.closed >= 1, "both closed at the end");
});

Deno.test("splice() closes both sides when one resets", async (t) => {
  await t.step("upstream reset while the client is idle", async () => {
    const client = scripted([]);
    const upstream = scripted(["partial", new Deno.errors.ConnectionReset("reset")]);
    const r = await splice(client.conn, upstream.conn, new BufferPool(16, 4));
    assert.equal(r.bytesOut, 7);
    assert.ok(client.state.closed >= 1 && upstream.state.closed >= 1);
  });
  await t.step("client reset while upstream is idle", async () => {
    const client = scripted([new Deno.errors.ConnectionReset("reset")]);
    const upstream = scripted([]);
    await splice(client.conn, upstream.conn, new BufferPool(16, 4));
    assert.ok(client.state.closed >= 1 && upstream.state.closed >= 1);
  });
});

Deno.test("splice() completes short writes", async () => {
  const client = scripted(["0123456789abcdef", null]);
  const upstream = scripted([null], 3);
  const r = await splice(client.conn, upstream.conn, new BufferPool(16, 4));
  assert.equal(upstream.state.written, "0123456789abcdef");
  assert.equal(r.bytesIn, 16);
});

Deno.test("BufferPool reuses buffers up to its limit", () => {
  const pool = new BufferPool(8, 1);
  const a = pool.get();
  const b = pool.get();
  assert.notEqual(a, b);
  pool.put(a);
  pool.put(b);
  assert.equal(pool.free, 1, "keeps at most maxFree");
  assert.equal(pool.get(), a);
  pool.put(new Uint8Array(4));
  assert.equal(pool.free, 0, "foreign sizes are dropped");
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { BufferPool, splice, spliceBuffers, type UpstreamConn } from "../../lib/proxy/mod.ts";

type Step = string | null | Error;

/**
 * An in-memory conn: reads follow `script` (text chunk, null = EOF, Error = failure), then
 * hang until closed; writes are recorded (at most `maxWrite` bytes per call).
 */
function scripted(script: Step[], maxWrite = Infinity) {
  let pending: ((err: Error) => void) | null = null;
  const state = { written: "", eofSent: false, closed: 0, resets: 0, readSizes: [] as number[] };
  const conn: UpstreamConn = {
    read(p) {
      state.readSizes.push(p.length);
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
    reset() {
      state.resets++;
      conn.close();
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
  assert.deepEqual([client.state.resets, upstream.state.resets], [0, 0], "FIN, not RST");
});

Deno.test("splice() resets both sides when one fails", async (t) => {
  const cases: readonly { name: string; client: Step[]; upstream: Step[]; bytesOut: number }[] = [
    {
      name: "upstream reset mid-transfer while the client is idle",
      client: [],
      upstream: ["partial", new Deno.errors.ConnectionReset("reset")],
      bytesOut: 7,
    },
    {
      name: "upstream times out (keepalive, TCP_USER_TIMEOUT) after the client's EOF",
      client: [null],
      upstream: ["partial", new Deno.errors.TimedOut("timed out")],
      bytesOut: 7,
    },
    {
      name: "client reset while upstream is idle",
      client: [new Deno.errors.ConnectionReset("reset")],
      upstream: [],
      bytesOut: 0,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const client = scripted(c.client);
      const upstream = scripted(c.upstream);
      const r = await splice(client.conn, upstream.conn, new BufferPool(16, 4));
      assert.equal(r.bytesOut, c.bytesOut);
      assert.deepEqual([client.state.resets, upstream.state.resets], [1, 1]);
    });
  }
  await t.step("a side without reset() (a Deno.TcpConn) is closed", async () => {
    const client = scripted([]);
    const upstream = scripted([new Deno.errors.ConnectionReset("reset")]);
    const { reset: _, ...plain } = client.conn;
    await splice(plain, upstream.conn, new BufferPool(16, 4));
    assert.ok(client.state.closed >= 1);
    assert.equal(upstream.state.resets, 1);
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

Deno.test("splice() moves a direction to a bulk buffer once a read fills the small one", async () => {
  // Small 4-byte buffers: "abcd" fills one, so the next reads get the 32-byte bulk buffer.
  const small = new BufferPool(4, 4);
  const bulk = new BufferPool(32, 1);
  const client = scripted(["ab", "abcd", "efgh", null]);
  const upstream = scripted(["ok", null]);
  const r = await splice(client.conn, upstream.conn, { small, bulk });
  assert.equal(upstream.state.written, "ababcdefgh");
  assert.deepEqual(r, { bytesIn: 10, bytesOut: 2 });
  assert.deepEqual(client.state.readSizes, [4, 4, 32, 32], "client direction moved up");
  assert.deepEqual(upstream.state.readSizes, [4, 4], "reply direction stayed small");
  assert.equal(bulk.free, 1, "bulk buffer given back");
  assert.equal(small.free, 2, "both small buffers given back (one when moving up)");
});

Deno.test("spliceBuffers() starts small and moves to bulk buffers", () => {
  const b = spliceBuffers();
  assert.equal(b.small.size, 16 * 1024);
  assert.equal(b.bulk?.size, 1024 * 1024);
  assert.ok(b.bulk!.maxFree <= 2, "few idle bulk buffers are kept");
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The idle timeout never cuts a connection the server itself is busy with: messages queued
 * behind `maxInFlight`, changes still being applied, replies not yet written. Time passing is
 * shown by a witness connection that sends nothing and is closed by the same timeout, opened
 * after the busy connection's timer would have started.
 * @module
 */
import assert from "node:assert/strict";
import { ControlServer } from "../../lib/control/mod.ts";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";

const IDLE_MS = 100;

/** A delete line padded to about `size` bytes (the msg_id carries the padding). */
function deleteLine(i: number, size: number): string {
  const base = { route: { operation: "delete", resource: `default/service/s${i}` } };
  const head = JSON.stringify({ header: { msg_id: "" }, ...base });
  const id = `m${i}-`.padEnd(Math.max(4, size - head.length - 1), "x");
  return JSON.stringify({ header: { msg_id: id }, ...base }) + "\n";
}

/** Resolves when the server has closed `c` (EOF or reset). */
async function closedBy(c: Deno.UnixConn): Promise<void> {
  const buf = new Uint8Array(4096);
  try {
    while ((await c.read(buf)) !== null) { /* nothing is sent to it */ }
  } catch { /* reset */ }
}

/** Reads reply lines from `c` until `count` arrived; throws when the connection ends first. */
async function readReplies(c: Deno.UnixConn, count: number): Promise<{ ok: boolean }[]> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(64 * 1024);
  let text = "";
  while (text.split("\n").length - 1 < count) {
    const n = await c.read(buf);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n), { stream: true });
  }
  const lines = text.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, count, "the connection ended before every reply came");
  return lines.map((l) => JSON.parse(l));
}

const CASES = [
  {
    name: "a burst paused by maxInFlight, its last read ending mid-line",
    // 100 lines of ~1 KiB in one write: the server's 64 KiB read ends inside a line, and reading
    // pauses after two messages while the rest waits, unread, in the socket.
    maxInFlight: 2,
    lines: 100,
    lineBytes: 1000,
    tail: "",
    pausedAt: 2,
  },
  {
    name: "changes being applied while part of the next line is in",
    maxInFlight: 4096,
    lines: 3,
    lineBytes: 200,
    tail: '{"header":{"msg_id":"late"},"route":',
    pausedAt: 3,
  },
] as const;

Deno.test("ControlServer does not close a connection for idleness while its messages are queued or applied", async (t) => {
  for (const c of CASES) {
    await t.step(c.name, async () => {
      const dir = await Deno.makeTempDir({ prefix: "emcr-ctl-busy-" });
      const gate = Promise.withResolvers<void>();
      const reached = Promise.withResolvers<void>();
      let applied = 0;
      const server = await ControlServer.listen({
        path: `${dir}/edgemesh.sock`,
        target: {
          apply: () => {
            if (++applied === c.pausedAt) reached.resolve();
            return gate.promise.then(() => ({ operation: "delete", found: true }));
          },
          snapshot: () => ({ version: 0, services: new Map(), nodes: new Map(), vips: new Map() }),
        },
        status: () => ({ node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } }),
        log: nullLogger,
        maxInFlight: c.maxInFlight,
        idleTimeoutMs: IDLE_MS,
      });
      const conns: Deno.UnixConn[] = [];
      try {
        const busy = await Deno.connect({ transport: "unix", path: server.path });
        conns.push(busy);
        let burst = "";
        for (let i = 0; i < c.lines; i++) burst += deleteLine(i, c.lineBytes);
        const bytes = new TextEncoder().encode(burst + c.tail);
        const written = (async () => {
          let off = 0;
          while (off < bytes.length) off += await busy.write(bytes.subarray(off));
        })();
        await reached.promise;
        // The busy connection's timer, had it started, started before this one's.
        const witness = await Deno.connect({ transport: "unix", path: server.path });
        conns.push(witness);
        await closedBy(witness);
        gate.resolve();
        await written;
        const replies = await readReplies(busy, c.lines);
        assert.deepEqual(replies.map((r) => r.ok), Array(c.lines).fill(true));
      } finally {
        for (const conn of conns) {
          try {
            conn.close();
          } catch { /* closed */ }
        }
        gate.resolve();
        await server.close();
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("ControlServer closes a connection holding part of a line once its replies are written, logging it at info", async () => {
  const dir = await Deno.makeTempDir({ prefix: "emcr-ctl-busy-" });
  const log = memoryLogger("info");
  const server = await ControlServer.listen({
    path: `${dir}/edgemesh.sock`,
    target: {
      apply: () => Promise.resolve({ operation: "delete", found: false, unchanged: true }),
      snapshot: () => ({ version: 0, services: new Map(), nodes: new Map(), vips: new Map() }),
    },
    status: () => ({ node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } }),
    log,
    idleTimeoutMs: IDLE_MS,
  });
  const conn = await Deno.connect({ transport: "unix", path: server.path });
  try {
    await conn.write(new TextEncoder().encode(deleteLine(0, 200) + '{"header":'));
    assert.deepEqual((await readReplies(conn, 1)).map((r) => r.ok), [true]);
    await closedBy(conn);
    // Closed: a write now fails or a read ends; either way no further reply comes.
    assert.equal(await conn.read(new Uint8Array(16)).catch(() => null), null);
    assert.ok(
      log.lines.some((l) => l.includes("control connection closed: no complete message in time")),
      log.lines.join("\n"),
    );
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

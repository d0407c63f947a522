// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { ControlServer } from "../../lib/control/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";

const QUERY = new TextEncoder().encode('{"route":{"operation":"query","resource":"*/status/*"}}\n');

/** Resolves when the server has closed `c` (EOF or reset), with how long that took. */
async function closedBy(c: Deno.UnixConn): Promise<void> {
  const buf = new Uint8Array(4096);
  try {
    while ((await c.read(buf)) !== null) { /* replies */ }
  } catch { /* reset */ }
}

async function reply(c: Deno.UnixConn): Promise<{ ok: boolean }> {
  await c.write(QUERY);
  const buf = new Uint8Array(4096);
  const n = await c.read(buf);
  return JSON.parse(new TextDecoder().decode(buf.subarray(0, n!)));
}

Deno.test("ControlServer closes connections that complete no message within idleTimeoutMs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fdx-ctl-idle-" });
  const ac = new AbortController();
  const conns: Deno.UnixConn[] = [];
  const server = await ControlServer.listen({
    path: `${dir}/edgemesh.sock`,
    target: {
      apply: () => Promise.resolve(),
      snapshot: () => ({ version: 0, services: new Map(), nodes: new Map(), vips: new Map() }),
    },
    status: () => ({ node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } }),
    log: nullLogger,
    signal: ac.signal,
    maxConnections: 3,
    idleTimeoutMs: 300,
  });
  const connect = async () => {
    const c = await Deno.connect({ transport: "unix", path: server.path });
    conns.push(c);
    return c;
  };
  try {
    const started = Date.now();
    const served = await connect(); // a client between messages may idle (edgecore)
    assert.equal((await reply(served)).ok, true);
    const bare = await connect(); // sends nothing
    const partial = await connect(); // half a line
    await partial.write(QUERY.subarray(0, 20));
    // All three slots are taken: a fourth is refused.
    const refused = await connect();
    assert.equal((await reply(refused)).ok, false);
    await Promise.all([closedBy(bare), closedBy(partial)]);
    assert.ok(Date.now() - started >= 250, "closed before the timeout");
    // The slots are free again, and the client that completed its message is still served.
    assert.equal((await reply(await connect())).ok, true);
    assert.equal((await reply(served)).ok, true);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    ac.abort();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

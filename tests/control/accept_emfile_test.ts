// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The control socket out of descriptors: its accept fails (`EMFILE`) while a client waits.
 * The server backs off and accepts the client once descriptors are free again; before, its
 * accept loop ended at the first failure and the agent took no more updates until a restart.
 */
import assert from "node:assert/strict";
import { lineReader } from "../_helpers/child.ts";

const CHILD = new URL("./testdata/accept_emfile.ts", import.meta.url).pathname;
const QUERY = new TextEncoder().encode('{"route":{"operation":"query","resource":"*/status/*"}}\n');

Deno.test("ControlServer backs off when accept fails for want of descriptors, then serves the waiting client", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-ctl-emfile-" });
  const path = `${dir}/edgemesh.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, path],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = lineReader(child.stdout);
  const err = lineReader(child.stderr);
  const stdin = child.stdin.getWriter();
  let conn: Deno.UnixConn | undefined;
  try {
    assert.equal((await out.read()).value, "full");
    // Queued in the backlog: the server's accept fails until descriptors are free.
    conn = await Deno.connect({ transport: "unix", path });
    await conn.write(QUERY);
    let said: string | undefined;
    while (said === undefined) {
      const line = await err.read();
      assert.ok(!line.done, "the server said something of the failed accept");
      if (/accept/i.test(line.value)) said = line.value;
    }
    assert.match(said, /"level":"warn".*Cannot accept control connection, backing off/);
    await stdin.write(new TextEncoder().encode("free\n"));
    assert.equal((await out.read()).value, "freed");
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    assert.ok(n !== null, "answered");
    assert.equal(JSON.parse(new TextDecoder().decode(buf.subarray(0, n))).ok, true);
  } finally {
    conn?.close();
    await stdin.close().catch(() => {});
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await out.cancel().catch(() => {});
    await err.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

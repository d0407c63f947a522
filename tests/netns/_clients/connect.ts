// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Opens COUNT connections to HOST:PORT one after another, reads each reply to EOF and prints
 * a JSON array: the reply text, or `"error:<name>"` when the connection failed.
 *
 * Usage: `connect.ts HOST PORT COUNT` (run inside the agent's namespace).
 * @module
 */
const [host, port, count] = Deno.args;

async function ask(): Promise<string> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: host!, port: Number(port) });
  } catch (err) {
    return `error:${(err as Error).name}`;
  }
  try {
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const decoder = new TextDecoder();
    return chunks.map((c) => decoder.decode(c, { stream: true })).join("") + decoder.decode();
  } catch (err) {
    return `error:${(err as Error).name}`;
  } finally {
    conn.close();
  }
}

const replies: string[] = [];
for (let i = 0; i < Number(count); i++) replies.push(await ask());
// deno-lint-ignore no-console
console.log(JSON.stringify(replies));

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A backend for the agent tunnel test, run inside a node's namespace:
 * `backend.ts NAME HOST:PORT...` listens on every address, greets each connection with
 * `NAME\n`, then echoes every byte until EOF and half-closes. Prints `ready` once listening;
 * runs until killed.
 * @module
 */
// deno-lint-ignore-file no-console

async function writeAll(conn: Deno.Conn, p: Uint8Array): Promise<void> {
  let off = 0;
  while (off < p.length) off += await conn.write(p.subarray(off));
}

async function serveConn(conn: Deno.Conn, greeting: Uint8Array): Promise<void> {
  try {
    await writeAll(conn, greeting);
    const buf = new Uint8Array(256 * 1024);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      await writeAll(conn, buf.subarray(0, n));
    }
    await conn.closeWrite();
  } catch {
    // Reset by the peer: nothing to report, the client sees it.
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

async function serve(listener: Deno.Listener, greeting: Uint8Array): Promise<void> {
  for await (const conn of listener) serveConn(conn, greeting);
}

if (import.meta.main) {
  const [name, ...addrs] = Deno.args;
  if (!name || addrs.length === 0) {
    throw new TypeError("Cannot start backend: usage is backend.ts NAME HOST:PORT...");
  }
  const greeting = new TextEncoder().encode(`${name}\n`);
  const listeners = addrs.map((a) => {
    const i = a.lastIndexOf(":");
    return Deno.listen({ hostname: a.slice(0, i), port: Number(a.slice(i + 1)) });
  });
  console.log("ready");
  await Promise.all(listeners.map((l) => serve(l, greeting)));
}

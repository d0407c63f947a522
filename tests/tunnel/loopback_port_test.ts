// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Why the tunnel's `Deno.serve` listens on a loopback TCP port rather than a Unix socket in a
 * 0700 directory (lib/tunnel/README.md, "The loopback port"): on a Unix socket, Deno 2.9.6
 * ignores `cert`/`key` (it answers plain HTTP) and reports the listener's own path as every
 * connection's `remoteAddr`, so neither TLS nor the front's per-connection address would
 * survive. Should a Deno upgrade change either, these tests say so and the choice can be
 * revisited.
 */
import assert from "node:assert/strict";
import { makeTestPki } from "./_fixtures.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Sends one plain HTTP/1.1 request on `conn` and returns everything until EOF. */
async function plainRequest(conn: Deno.Conn): Promise<string> {
  await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const buf = new Uint8Array(4096);
  let text = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return text;
    text += dec.decode(buf.subarray(0, n));
  }
}

Deno.test("Deno.serve on a Unix socket ignores cert/key and reports its own path as every peer's address", async () => {
  const pki = await makeTestPki();
  const path = `${pki.dir}/inner.sock`;
  const seen: Deno.UnixAddr[] = [];
  // The options the tunnel would pass; cert/key are not in the Unix overload's types.
  const options = { path, cert: pki.cert, key: pki.key, onListen: () => {} };
  const server = Deno.serve(options as Deno.ServeUnixOptions, (_req, info) => {
    seen.push(info.remoteAddr);
    return new Response("plain");
  });
  try {
    for (let i = 0; i < 2; i++) {
      const conn = await Deno.connect({ transport: "unix", path });
      try {
        // A TLS server would answer a plain request with an alert or close; this one serves it.
        const reply = await plainRequest(conn);
        assert.match(reply, /^HTTP\/1\.1 200 /, reply);
        assert.match(reply, /\r\n\r\nplain$/, reply);
      } finally {
        conn.close();
      }
    }
    // Two connections, one address: the listener's, not the client's.
    assert.deepEqual(seen, [
      { transport: "unix", path },
      { transport: "unix", path },
    ]);
  } finally {
    await server.shutdown();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

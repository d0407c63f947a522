// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Sends BYTES of random data to HOST:PORT, half-closes (shutdown of the write side), reads
 * everything back to EOF, and prints JSON `{sent, received, sentSha256, receivedSha256}` so
 * the test can check that an echo backend behind the proxy returned every byte in order.
 *
 * Usage: `stream.ts HOST PORT BYTES` (run inside the agent's namespace).
 * @module
 */
import { createHash } from "node:crypto";

const [host, port, bytes] = Deno.args;
const total = Number(bytes);
const conn = await Deno.connect({ hostname: host!, port: Number(port) });
const sentHash = createHash("sha256");
const receivedHash = createHash("sha256");

const writer = (async () => {
  const chunk = new Uint8Array(256 * 1024);
  let sent = 0;
  while (sent < total) {
    const n = Math.min(chunk.length, total - sent);
    // getRandomValues fills at most 65536 bytes per call.
    for (let off = 0; off < n; off += 65536) {
      crypto.getRandomValues(chunk.subarray(off, Math.min(n, off + 65536)));
    }
    const part = chunk.subarray(0, n);
    sentHash.update(part);
    let w = 0;
    while (w < n) w += await conn.write(part.subarray(w));
    sent += n;
  }
  await conn.closeWrite();
  return sent;
})();

const reader = (async () => {
  const buf = new Uint8Array(256 * 1024);
  let received = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    receivedHash.update(buf.subarray(0, n));
    received += n;
  }
  return received;
})();

const [sent, received] = await Promise.all([writer, reader]);
conn.close();
// deno-lint-ignore no-console
console.log(JSON.stringify({
  sent,
  received,
  sentSha256: sentHash.digest("hex"),
  receivedSha256: receivedHash.digest("hex"),
}));

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Holds one connection to HOST:PORT open: each stdin line is written to it, everything it
 * receives is printed as `data:<text>` lines, and its end as `closed:eof` or
 * `closed:<error name>`; at stdin EOF the script closes the connection and exits. Tests drive
 * long-lived connections with it (drain of a deleted service).
 *
 * Usage: `hold.ts HOST PORT` (run inside the agent's namespace).
 * @module
 */
const [host, port] = Deno.args;
const conn = await Deno.connect({ hostname: host!, port: Number(port) });
const encoder = new TextEncoder();
// deno-lint-ignore no-console
const say = (line: string) => console.log(line);
say("connected");

const reading = (async () => {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return say("closed:eof");
      for (const line of decoder.decode(buf.subarray(0, n)).split("\n")) {
        if (line !== "") say(`data:${line}`);
      }
    }
  } catch (err) {
    say(`closed:${(err as Error).name}`);
  }
})();

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let pending = "";
for await (const chunk of lines) {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, nl + 1);
    pending = pending.slice(nl + 1);
    await conn.write(encoder.encode(line)).catch(() => {});
  }
}
try {
  conn.close();
} catch {
  // already closed by the peer
}
await reading;

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Opens PER idle TCP connections to HOST:PORT from each of the SOURCES addresses (which must
 * be on a device of the namespace), prints `{"connected":N,"failed":M}` once every attempt
 * ended, holds the connections until stdin ends, then closes them and exits. `flood.ts` opens
 * them from one address; servers that bound connections per client address (DNS over TCP,
 * 16 each) need many to be flooded. `Deno.connect` cannot choose the source address, so this
 * uses `node:net`'s `localAddress`.
 *
 * Usage: `flood_from.ts HOST PORT SOURCES PER TIMEOUT_MS` with SOURCES comma-separated (run
 * inside the agent's namespace).
 * @module
 */
import { connect, type Socket } from "node:net";

const [host, port, sources, per, timeoutMs] = Deno.args;
const sockets: Socket[] = [];
let failed = 0;
const attempts = sources!.split(",").flatMap((localAddress) =>
  Array.from({ length: Number(per) }, () =>
    new Promise<void>((resolve) => {
      const s = connect({ host: host!, port: Number(port), localAddress });
      const timer = setTimeout(() => s.destroy(new Error("timed out")), Number(timeoutMs));
      let connected = false;
      s.once("connect", () => {
        clearTimeout(timer);
        connected = true;
        sockets.push(s);
        resolve();
      });
      // The server may close a held connection later (a bound reached): not a failure.
      s.on("error", () => {
        if (connected) return;
        clearTimeout(timer);
        failed++;
        resolve();
      });
    }))
);
await Promise.all(attempts);
// deno-lint-ignore no-console
console.log(JSON.stringify({ connected: sockets.length, failed }));
for await (const _ of Deno.stdin.readable) { /* hold until stdin ends */ }
for (const s of sockets) s.destroy();

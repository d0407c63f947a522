// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Whether a peer agent's restart can crash this one: a `TunnelDialer` runs `GOAWAY_STREAMS`
 * streams to a `TunnelServer` on loopback, its session then sits idle for `GOAWAY_IDLE_S`
 * seconds, and the server stops (`Deno.serve`'s graceful shutdown sends GOAWAY). Deno 2.9.6's
 * `node:http2` is reported to crash inside nghttp2 on a GOAWAY after minutes of idleness
 * (denoland/deno#36788). Exits 0 when the process survived; a crash exits 139 or 134.
 *
 *     deno run -A bench/micro/tunnel_goaway.ts
 * @module
 */
// deno-lint-ignore-file no-console
import { nullLogger } from "../../lib/log/mod.ts";
import { TunnelDialer } from "../../lib/tunnel/mod.ts";
import { roundTrip, startEchoPeer, TEST_KEY } from "../../tests/tunnel/_fixtures.ts";

const env = (k: string, d: number) => Number(Deno.env.get(k) ?? d);
const STREAMS = env("GOAWAY_STREAMS", 13);
const IDLE_S = env("GOAWAY_IDLE_S", 250);

const b = startEchoPeer();
const { server, target } = b;
const dialer = new TunnelDialer({
  nodeName: "a",
  key: TEST_KEY,
  peers: { b: `127.0.0.1:${server.addr.port}` },
  log: nullLogger,
});
for (let i = 0; i < STREAMS; i++) {
  await roundTrip(await dialer.dial(target, { timeoutMs: 2000 }), `s${i}`);
}
console.error(`${STREAMS} streams done; idle ${IDLE_S} s`);
await new Promise((r) => setTimeout(r, IDLE_S * 1000));
console.error("server stopping (GOAWAY)");
await server.close();
await new Promise((r) => setTimeout(r, 2000));
console.error("status", JSON.stringify(dialer.status()));
dialer.close();
await b.echo.close();
console.error("survived");

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A helper the harness runs inside another namespace (`ip netns exec <ns> deno run -A
 * bench/probe.ts …`), where the harness's own sockets cannot reach:
 *
 * - `wait HOST:PORT…` exits 0 once every address accepts TCP connections (1 after 30 s).
 * - `get URL` prints the body of an HTTP GET (e.g. an agent's `/metrics`).
 * @module
 */
import { waitAllAccepting } from "./lib/net.ts";

if (import.meta.main) {
  const [cmd, ...addrs] = Deno.args;
  if (cmd === "get" && addrs[0] !== undefined) {
    const res = await fetch(addrs[0]);
    // deno-lint-ignore no-console
    console.log(await res.text());
    Deno.exit(res.ok ? 0 : 1);
  }
  const targets = addrs.map((a) => {
    const i = a.lastIndexOf(":");
    return { host: a.slice(0, i), port: Number(a.slice(i + 1)) };
  });
  if (cmd !== "wait" || targets.length === 0 || targets.some((t) => !(t.port > 0))) {
    // deno-lint-ignore no-console
    console.error("usage: probe.ts wait HOST:PORT… | get URL");
    Deno.exit(2);
  }
  try {
    await waitAllAccepting(targets, 30_000);
  } catch (err) {
    // deno-lint-ignore no-console
    console.error((err as Error).message);
    Deno.exit(1);
  }
}

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A helper the harness runs inside another namespace (`ip netns exec <ns> deno run -A
 * bench/probe.ts …`), where the harness's own sockets cannot reach:
 *
 * - `resolve SERVER PORT NAME…` prints `{"name": "vip", …}` once every name resolves and
 *   accepts TCP on PORT (exit 1 after 30 s).
 * @module
 */
import { waitNamesAccepting } from "./lib/net.ts";

if (import.meta.main) {
  const [cmd, server, port, ...names] = Deno.args;
  if (cmd !== "resolve" || server === undefined || port === undefined || names.length === 0) {
    // deno-lint-ignore no-console
    console.error("usage: probe.ts resolve SERVER PORT NAME…");
    Deno.exit(2);
  }
  const { vips } = await waitNamesAccepting(
    { hostname: server, port: 53 },
    names,
    Number(port),
    30_000,
  );
  // deno-lint-ignore no-console
  console.log(JSON.stringify(Object.fromEntries(vips)));
}

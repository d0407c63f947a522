// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A backend for the agent tunnel test, run inside a node's namespace:
 * `backend.ts NAME HOST:PORT...` listens on every address, greets each connection with
 * `NAME\n`, then echoes every byte until EOF and half-closes. Prints `ready` once listening;
 * runs until killed.
 * @module
 */
// deno-lint-ignore-file no-console

import { echoUntilEof, serveTcp, writeAll } from "../../_helpers/tcp_server.ts";

if (import.meta.main) {
  const [name, ...addrs] = Deno.args;
  if (!name || addrs.length === 0) {
    throw new TypeError("Cannot start backend: usage is backend.ts NAME HOST:PORT...");
  }
  const greeting = new TextEncoder().encode(`${name}\n`);
  for (const a of addrs) {
    const i = a.lastIndexOf(":");
    serveTcp(
      async (conn) => {
        await writeAll(conn, greeting);
        await echoUntilEof(conn, 256 * 1024);
      },
      a.slice(0, i),
      Number(a.slice(i + 1)),
    );
  }
  // The listeners keep the process alive until it is killed.
  console.log("ready");
}

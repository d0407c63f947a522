// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The demo's web backend (`make demo`): `backend.ts NODE HOST PORT` answers every request
 * with `hello from NODE (HOST:PORT), connection from <client address>`, so the demo can show
 * which node answered and who made the last hop (the node's own agent, for tunnelled traffic).
 * @module
 */
// deno-lint-ignore-file no-console

if (import.meta.main) {
  const [node, hostname, port] = Deno.args;
  if (!node || !hostname || !port) {
    throw new TypeError("Cannot start the demo backend: usage is backend.ts NODE HOST PORT");
  }
  Deno.serve({
    hostname,
    port: Number(port),
    onListen: () => console.log(`backend of ${node} listening on ${hostname}:${port}`),
  }, (_req, info) =>
    new Response(
      `hello from ${node} (${hostname}:${port}), connection from ${info.remoteAddr.hostname}\n`,
    ));
}

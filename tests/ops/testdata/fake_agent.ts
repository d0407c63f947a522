// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A stand-in for `main.ts run --config FILE` used to test tests/_helpers/agent.ts: it reads the
 * config, binds the control socket (inside the permitted runtime dir), logs like the agent and
 * exits 0 on SIGTERM. config `fakeMode: "crash"` exits 3 before ready.
 */
const [cmd, flag, file] = Deno.args;
if (cmd !== "run" || flag !== "--config" || !file) Deno.exit(2);
const config = JSON.parse(await Deno.readTextFile(file));
const log = (msg: string, extra = "") =>
  Deno.stderr.writeSync(new TextEncoder().encode(`level=info msg="${msg}"${extra}\n`));
if (config.fakeMode === "crash") {
  log("cannot start", ` error="boom"`);
  Deno.exit(3);
}
await Deno.mkdir(config.stateDir, { recursive: true });
await Deno.writeTextFile(`${config.stateDir}/probe`, "x");
const runDir = config.controlSocket.slice(0, config.controlSocket.lastIndexOf("/"));
await Deno.mkdir(runDir, { recursive: true, mode: 0o700 });
const listener = Deno.listen({ transport: "unix", path: config.controlSocket });
Deno.addSignalListener("SIGTERM", () => {
  listener.close();
  log("agent stopped");
  Deno.exit(0);
});
log("metrics listening", ` addr=127.0.0.1:9999`);
log("agent ready");
for await (const conn of listener) conn.close();

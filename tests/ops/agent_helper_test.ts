// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Tests of tests/_helpers/agent.ts against a stand-in agent (the real one: agent_run_test.ts). */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { AgentStartError, startAgent } from "../_helpers/agent.ts";

const FAKE = fileURLToPath(new URL("./testdata/fake_agent.ts", import.meta.url));

Deno.test("startAgent() waits for the ready line and stops with SIGTERM", async () => {
  await using agent = await startAgent({ main: FAKE });
  assert.ok(agent.socketPath.startsWith(agent.dir));
  assert.equal(agent.metricsAddr, "127.0.0.1:9999");
  assert.ok(
    agent.flags.includes(
      `--allow-write=${agent.stateDir},${agent.dir}/run,/etc/resolv.conf,/etc/.resolv.conf.edgemesh-tmp`,
    ),
  );
  const conn = await Deno.connect({ transport: "unix", path: agent.socketPath });
  conn.close();
  assert.equal(await Deno.readTextFile(`${agent.stateDir}/probe`), "x");
  assert.equal(await agent.stop(), 0);
  assert.match(agent.logs(), /msg="agent stopped"/);
});

Deno.test("startAgent() derives the write permissions from the config's paths", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-helper-" });
  try {
    await using agent = await startAgent({
      main: FAKE,
      config: { controlSocket: `${dir}/sock/edgemesh.sock` },
    });
    assert.ok(agent.flags.some((f) => f.startsWith("--allow-write=") && f.includes(`${dir}/sock`)));
    assert.equal(await agent.stop(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startAgent() rejects with the output when the agent exits before ready", async () => {
  const err = await startAgent({ main: FAKE, config: { fakeMode: "crash" } }).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(err instanceof AgentStartError);
  assert.match(err.message, /exited with code 3/);
  assert.match(err.message, /error="boom"/);
});

Deno.test("startAgent() kill() ends the agent like a crash", async () => {
  await using agent = await startAgent({ main: FAKE });
  await agent.kill();
  const status = await agent.exited;
  assert.equal(status.signal, "SIGKILL");
});

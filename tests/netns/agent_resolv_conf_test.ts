// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `manageResolvConf` with the real agent under the production permission flags: the flags
 * grant resolv.conf and its fixed temp sibling only, and that must be enough to put our
 * nameserver first atomically and restore the file on exit.
 */
import assert from "node:assert/strict";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";
import { startAgent } from "../_helpers/agent.ts";

const ORIGINAL = "search lan\nnameserver 192.0.2.53\n";

Deno.test({
  name: "agent with manageResolvConf puts its nameserver first and restores resolv.conf on exit",
  ignore: !NETNS_AVAILABLE,
}, async () => {
  await using ns = await createNetns("rconf");
  const dir = await Deno.makeTempDir({ prefix: "em-rconf-" });
  try {
    const resolvConf = `${dir}/resolv.conf`;
    await Deno.writeTextFile(resolvConf, ORIGINAL);
    const agent = await startAgent({
      netns: ns,
      config: { nodeName: "rc", manageResolvConf: true, resolvConf },
    });
    try {
      const during = await Deno.readTextFile(resolvConf);
      assert.match(during, /^(#[^\n]*\n)*nameserver 9\.251\.0\.1\n/);
      assert.ok(during.endsWith(ORIGINAL), during);
      // Replaced atomically: no in-place fallback was needed, no temp file left behind.
      assert.ok(!agent.logs().includes("rewriting it in place"), agent.logs());
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["resolv.conf"]);
      assert.equal(await agent.stop(), 0);
    } finally {
      await agent[Symbol.asyncDispose]();
    }
    assert.equal(await Deno.readTextFile(resolvConf), ORIGINAL);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

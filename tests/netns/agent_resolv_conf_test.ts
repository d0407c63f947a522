// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `manageResolvConf` with the real agent under the production permission flags: the flags
 * grant resolv.conf and its fixed temp sibling only, and that must be enough to put our
 * nameserver first atomically and restore the file on exit; and resolv.conf rewritten while
 * the agent runs (a new DHCP lease) is followed.
 */
import assert from "node:assert/strict";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";
import { startAgent } from "../_helpers/agent.ts";
import { dnsQueries, startUpstreamDns } from "../_helpers/agent_fixtures.ts";
import { RESOLV_CONF_POLL_MS } from "../../lib/dns/mod.ts";

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

Deno.test({
  name:
    "agent follows resolv.conf rewritten while it runs: new upstreams, its nameserver first again",
  ignore: !NETNS_AVAILABLE,
}, async () => {
  await using ns = await createNetns("rcwatch");
  // resolv.conf names port 53 only: two upstreams on two loopback addresses of the namespace.
  // 192.0.2.x (RFC 5737) are only data in the answers.
  await using before = await startUpstreamDns(ns, { "example.test": "192.0.2.1" }, {
    listen: "127.0.0.2:53",
  });
  await using after = await startUpstreamDns(ns, { "example.test": "192.0.2.2" }, {
    listen: "127.0.0.3:53",
  });
  const dir = await Deno.makeTempDir({ prefix: "em-rcwatch-" });
  try {
    const resolvConf = `${dir}/resolv.conf`;
    await Deno.writeTextFile(resolvConf, "search lan\nnameserver 127.0.0.2\n");
    await using agent = await startAgent({
      netns: ns,
      config: { nodeName: "rc", manageResolvConf: true, resolvConf },
    });
    const ask = async () => {
      const [r] = await dnsQueries(ns, [{ via: "udp", name: "example.test", type: "A" }]);
      return (r as { answers: { data: unknown }[] }).answers.map((a) => a.data);
    };
    assert.deepEqual(await ask(), ["192.0.2.1"]);

    // What a DHCP client does on a new lease: the whole file replaced, our line gone.
    const mark = agent.lineCount();
    const lease = "search lan\nnameserver 127.0.0.3\n";
    await Deno.writeTextFile(`${resolvConf}.dhcp`, lease);
    await Deno.rename(`${resolvConf}.dhcp`, resolvConf);
    const changed = await agent.waitForLog(
      /msg="DNS upstreams changed"/,
      RESOLV_CONF_POLL_MS + 5_000,
      mark,
    );
    assert.match(changed, /upstreams=127\.0\.0\.3:53 before=127\.0\.0\.2:53/);
    await agent.waitForLog(
      /msg="resolv.conf was rewritten without the cluster DNS first/,
      5_000,
      mark,
    );
    const during = await Deno.readTextFile(resolvConf);
    assert.match(during, /^(#[^\n]*\n)*nameserver 9\.251\.0\.1\n/);
    assert.ok(during.endsWith(lease), during);
    // The cached answer of the old upstream went with it.
    assert.deepEqual(await ask(), ["192.0.2.2"]);

    assert.equal(await agent.stop(), 0);
    assert.equal(await Deno.readTextFile(resolvConf), lease, "the lease's version, without ours");
    assert.deepEqual(await before.finish(), ["example.test A"]);
    assert.deepEqual(await after.finish(), ["example.test A"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The real agent and its device in a namespace: a second agent pointed at the same device
 * refuses to start and changes nothing, and a device deleted behind the agent's back comes
 * back with its addresses.
 * @module
 */
import assert from "node:assert/strict";
import { AgentStartError, startAgent } from "../_helpers/agent.ts";
import {
  applyObjects,
  deviceAddresses,
  serviceObject,
  settled,
  vipOf,
} from "../_helpers/agent_fixtures.ts";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";

Deno.test({
  name: "a second agent on the same device refuses to start and leaves the first one's VIPs",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agdev");
    await using first = await startAgent({
      netns: ns,
      config: { nodeName: "n1", logLevel: "debug" },
    });
    await applyObjects(first, [
      serviceObject("web", [{ name: "http", port: 80, targetPort: 8080 }]),
    ]);
    await settled(first);
    const vip = await vipOf(first, "web");
    const before = await deviceAddresses(ns);
    assert.ok(before?.includes(vip!), `${before}`);

    // Its own state dir, socket and ports, but the default device and subnet.
    const err = await startAgent({ netns: ns, config: { nodeName: "n2", dnsListen: [] } }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof AgentStartError, String(err));
    assert.match(
      err.message,
      /Cannot use device "edge0": another edgemesh agent in this network namespace uses it/,
    );
    assert.deepEqual(await deviceAddresses(ns), before, "the first agent's addresses are intact");
    assert.equal(await first.stop(), 0);
  },
});

Deno.test({
  name: "agent recreates a deleted device with its addresses at the next change",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agdev");
    await using agent = await startAgent({
      netns: ns,
      config: { nodeName: "n1", logLevel: "debug" },
    });
    await applyObjects(agent, [
      serviceObject("web", [{ name: "http", port: 80, targetPort: 8080 }]),
    ]);
    await settled(agent);
    const before = await deviceAddresses(ns);
    await ns.run(["ip", "link", "del", "edge0"]);
    await applyObjects(agent, [
      serviceObject("api", [{ name: "http", port: 80, targetPort: 8080 }]),
    ]);
    await settled(agent);
    await agent.waitForLog(/msg="The device was deleted; creating it again"/);
    const after = await deviceAddresses(ns);
    for (const ip of before!) assert.ok(after?.includes(ip), `${ip} back on the device: ${after}`);
    assert.equal(after?.length, before!.length + 1, "and the new service's VIP");
    assert.equal(await agent.stop(), 0);
  },
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The real agent in a namespace where another interface holds addresses of the VIP subnet: a new
 * service skips the address the next one would have been, and a service whose VIP another
 * interface holds by the next start keeps it, with one warning and a `ctl status` row.
 * @module
 */
import assert from "node:assert/strict";
import type { StatusInfo } from "../../lib/control/mod.ts";
import { startAgent } from "../_helpers/agent.ts";
import {
  applyObjects,
  ctl,
  deviceAddresses,
  serviceObject,
  vipOf,
} from "../_helpers/agent_fixtures.ts";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";

Deno.test({
  name: "agent skips the node's own addresses for new VIPs and keeps a VIP that collides later",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("vipres", "emvp");
    // `eth1` holds 9.251.0.2, the address the first service would get.
    await ns.run(["ip", "link", "add", "eth1", "type", "bridge"]); // no dummy driver everywhere
    await ns.run(["ip", "addr", "add", "9.251.0.2/32", "dev", "eth1"]);
    await ns.run(["ip", "link", "set", "eth1", "up"]);
    const dir = await Deno.makeTempDir({ prefix: "em-emvp-" });
    try {
      const config = { nodeName: "n1", logLevel: "debug", dnsListen: [] };
      {
        await using agent = await startAgent({ netns: ns, dir, config });
        await applyObjects(agent, [
          serviceObject("web", [{ name: "http", port: 80, targetPort: 8080 }]),
        ]);
        assert.equal(await vipOf(agent, "web"), "9.251.0.3", "the one after eth1's");
        assert.deepEqual(await deviceAddresses(ns), ["9.251.0.3"]);
        assert.equal(await agent.stop(), 0);
      }
      // By the next start eth1 holds web's VIP too: web keeps it (a VIP never moves under
      // its clients), the agent says so once, and ctl status shows it.
      await ns.run(["ip", "addr", "add", "9.251.0.3/32", "dev", "eth1"]);
      await using again = await startAgent({ netns: ns, dir, config });
      assert.equal(await vipOf(again, "web"), "9.251.0.3");
      const warning = await again.waitForLog(/msg="A service's VIP is also an address of/);
      assert.match(warning, /service=default\/web vip=9\.251\.0\.3 interface=eth1 /);
      const r = await ctl(again, ["status", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as StatusInfo).vipConflicts, [
        { service: "default/web", vip: "9.251.0.3", interface: "eth1" },
      ]);
      // A new service skips both of eth1's addresses.
      await applyObjects(again, [
        serviceObject("api", [{ name: "http", port: 80, targetPort: 8080 }]),
      ]);
      assert.equal(await vipOf(again, "api"), "9.251.0.4");
      assert.equal(again.logs().match(/A service's VIP is also an address of/g)?.length, 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

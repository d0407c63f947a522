// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The real agent and its device in a namespace: a second agent pointed at the same device
 * refuses to start and changes nothing, a device deleted behind the agent's back comes back
 * with its addresses, and an `ip` that is BusyBox's is named in the start error.
 * @module
 */
import assert from "node:assert/strict";
import { AgentStartError, startAgent } from "../_helpers/agent.ts";
import {
  applyObjects,
  deviceAddresses,
  linkExists,
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
  name:
    "agent notices a deleted device or address within seconds, without any change, and repairs it",
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
    await agent.waitForLog(/msg="Addresses are missing from the device; repairing it now"/);
    await agent.waitForLog(/msg="The device was deleted; creating it again"/);
    await agent.waitForLog(/msg="Reconciled device addresses" .*\badded=2\b/);
    assert.deepEqual(await deviceAddresses(ns), before);
    // /readyz from inside the namespace, where the metrics listener is.
    const status = await ns.run([
      Deno.execPath(),
      "eval",
      `const r = await fetch("http://${agent.metricsAddr}/readyz"); await r.body?.cancel(); ` +
      "console.log(r.status)",
    ]);
    assert.equal(status.trim(), "200", "ready again once the device is back");

    // One VIP removed by hand (`ip addr del`): put back within seconds as well.
    const vip = before!.find((a) => a !== "9.251.0.1")!;
    const mark = agent.lineCount();
    await ns.run(["ip", "addr", "del", `${vip}/32`, "dev", "edge0"]);
    await agent.waitForLog(/msg="Reconciled device addresses" .*\badded=1\b/, undefined, mark);
    assert.deepEqual(await deviceAddresses(ns), before);
    assert.equal(await agent.stop(), 0);
  },
});

/** BusyBox's binary (Debian's busybox-static, which .ci/run installs), or null. */
const BUSYBOX = ["/usr/bin/busybox", "/bin/busybox"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}) ?? null;

Deno.test({
  name: "an agent whose ip is BusyBox's exits naming it and iproute2, and creates no device",
  ignore: !NETNS_AVAILABLE || BUSYBOX === null,
  async fn() {
    await using ns = await createNetns("agdev");
    const bin = await Deno.makeTempDir({ prefix: "em-busybox-" });
    try {
      await Deno.symlink(BUSYBOX!, `${bin}/ip`);
      const err = await startAgent({
        netns: ns,
        config: { nodeName: "n1" },
        // Inside the namespace (`ip netns exec` itself needs iproute2's ip).
        prefix: ["env", `PATH=${bin}:${Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin"}`],
      }).then(() => null, (e) => e);
      assert.ok(err instanceof AgentStartError, String(err));
      assert.match(
        err.message,
        /Cannot run "ip -json -details link show dev edge0": exit code 1: this ip is the BusyBox applet \(BusyBox v[^)]+\), which has no -json or -batch options: edgemesh needs the ip of iproute2 4\.14 or later/,
      );
      assert.doesNotMatch(err.message, /Usage:/, "not BusyBox's usage text");
      assert.equal(await linkExists(ns), false, "no edge0 in the namespace");
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  },
});

Deno.test({
  name: "an agent whose VIP subnet overlaps the node's network says so at start",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agdev");
    // A LAN inside the default subnet 9.251.0.0/16, and a static route into it.
    await ns.run(["ip", "link", "add", "lan0", "type", "bridge"]);
    await ns.run(["ip", "addr", "add", "9.251.3.4/24", "dev", "lan0"]);
    await ns.run(["ip", "link", "set", "lan0", "up"]);
    await ns.run(["ip", "route", "add", "9.251.200.0/24", "via", "9.251.3.1"]);
    await using agent = await startAgent({ netns: ns, config: { nodeName: "n1" } });
    const line = agent.logs().split("\n").find((l) => /VIP subnet overlaps/.test(l)) ?? "";
    assert.match(line, /level=warn /);
    assert.match(line, /subnet=9\.251\.0\.0\/16 /);
    assert.match(
      line,
      /overlaps="lan0 9\.251\.3\.4\/24, 9\.251\.200\.0\/24 via 9\.251\.3\.1 dev lan0"/,
    );
    assert.ok(await linkExists(ns, "lan0"), "theirs untouched");
    assert.equal(await agent.stop(), 0);
  },
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The real agent repairs its device in a namespace: one set down (`ip link set edge0 down`) is
 * up again within the device watch's interval, not only at the 30 s resync, and `/readyz`
 * fails while it is down; after a `kill -9`, the run that takes the device back removes a
 * `dnsListen` address outside the subnet that it no longer has, and serves its VIPs.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEVICE_WATCH_MS } from "../../lib/agent/device_watch.ts";
import { type AgentProcess, startAgent } from "../_helpers/agent.ts";
import {
  addBackendAddress,
  applyObjects,
  BACKEND_IP,
  connectMany,
  deviceAddresses,
  endpointsObject,
  serviceObject,
  settled,
  startBackends,
  vipOf,
} from "../_helpers/agent_fixtures.ts";
import { createNetns, NETNS_AVAILABLE, type TempNetns } from "../_helpers/netns.ts";

/** Failure bound on top of the watch interval: one reconcile pass and `ip` start-up. */
const SLACK_MS = 3_000;

/** The flags of `edge0` in `ns` (`ip -json link show`). */
async function linkFlags(ns: TempNetns): Promise<string[]> {
  const [link] = JSON.parse(await ns.run(["ip", "-json", "link", "show", "edge0"]));
  return link.flags;
}

/**
 * Polls `ip -json link show` until `edge0` is up; resolves with the ms it took, rejects after
 * `deadlineMs`. Each look spawns `ip`, so the looks are 50 ms apart.
 */
async function waitUntilUp(ns: TempNetns, deadlineMs: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    if ((await linkFlags(ns)).includes("UP")) return performance.now() - start;
    if (performance.now() - start > deadlineMs) {
      throw new Error(`edge0 is still down ${deadlineMs} ms after it was set down`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `GET /readyz` from inside the namespace, where the metrics listener is. */
async function readyz(
  ns: TempNetns,
  agent: AgentProcess,
): Promise<{ status: number; body: string }> {
  const out = await ns.run([
    Deno.execPath(),
    "eval",
    `const r = await fetch("http://${agent.metricsAddr}/readyz"); ` +
    "console.log(JSON.stringify({ status: r.status, body: await r.text() }))",
  ]);
  return JSON.parse(out);
}

/**
 * A stand-in `ip` first on the agent's PATH that runs the real one, except while the FIFO
 * `gate` exists: then each call waits until the test opens it ({@linkcode openGate}). So the
 * agent cannot repair anything until the test has looked at the damage.
 */
async function gatedIp(dir: string): Promise<{ path: string; gate: string }> {
  const bin = join(dir, "bin");
  const gate = join(dir, "gate");
  await Deno.mkdir(bin);
  const path = Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin";
  // The real one by its path: PATH must stay as it is for what `ip netns exec` starts.
  const real = (await new Deno.Command("sh", { args: ["-c", "command -v ip"] }).output()).stdout;
  await Deno.writeTextFile(
    join(bin, "ip"),
    `#!/bin/sh\nif [ -p '${gate}' ]; then cat '${gate}' >/dev/null; fi\n` +
      `exec '${new TextDecoder().decode(real).trim()}' "$@"\n`,
    { mode: 0o755 },
  );
  return { path: `${bin}:${path}`, gate };
}

/** Lets the `ip` calls waiting on `gate` through, and every later one. */
async function openGate(gate: string): Promise<void> {
  // Opening for writing waits for the reader (a waiting `ip`) and lets it read EOF on close.
  const fifo = await Deno.open(gate, { write: true });
  await Deno.remove(gate);
  fifo.close();
}

Deno.test({
  name: "agent sets a downed device up within the watch interval; /readyz fails while it is down",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("up", "dwl");
    const dir = await Deno.makeTempDir({ prefix: "dwl-up-" });
    try {
      const ip = await gatedIp(dir);
      await using agent = await startAgent({
        netns: ns,
        dir,
        config: { nodeName: "n1", logLevel: "debug" },
        env: { PATH: ip.path },
      });
      await applyObjects(agent, [
        serviceObject("web", [{ name: "http", port: 80, targetPort: 8080 }]),
      ]);
      await settled(agent);
      const before = await deviceAddresses(ns);
      assert.equal((await readyz(ns, agent)).status, 200);

      // 1. Set down while the agent's `ip` is held: the watch must notice it (nothing else can
      // set the device up meanwhile), and /readyz fails until the repair is let through.
      assert.ok((await new Deno.Command("mkfifo", { args: [ip.gate] }).output()).success);
      let mark = agent.lineCount();
      await ns.run(["ip", "link", "set", "edge0", "down"]);
      const warned = await agent.waitForLog(
        /msg="The device is down; repairing it now"/,
        DEVICE_WATCH_MS + SLACK_MS,
        mark,
      );
      assert.match(warned, /\bdevice=edge0\b.*\bproblem="the device is down"/);
      const down = await readyz(ns, agent);
      assert.equal(down.status, 503, down.body);
      assert.match(down.body, /\[-\]device failed/);
      assert.equal((await linkFlags(ns)).includes("UP"), false, "still down: nothing repaired it");
      await openGate(ip.gate);
      await waitUntilUp(ns, SLACK_MS);
      const up = await readyz(ns, agent);
      assert.equal(up.status, 200, up.body);
      assert.deepEqual(await deviceAddresses(ns), before);

      // 2. Set down again, nothing held: up again within the watch interval, while the resync
      // is up to 30 s away.
      mark = agent.lineCount();
      await ns.run(["ip", "link", "set", "edge0", "down"]);
      const tookMs = await waitUntilUp(ns, DEVICE_WATCH_MS + SLACK_MS);
      assert.ok(tookMs <= DEVICE_WATCH_MS + SLACK_MS, `${tookMs} ms`);
      await agent.waitForLog(/msg="The device was set down; setting it up"/, undefined, mark);
      assert.deepEqual(await deviceAddresses(ns), before);
      assert.equal(await agent.stop(), 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The IPv6 addresses on `edge0` in `ns` (the kernel's link-local one on a bridge). */
async function ipv6Addresses(ns: TempNetns): Promise<string[]> {
  const links = JSON.parse(await ns.run(["ip", "-json", "-6", "addr", "show", "dev", "edge0"]));
  return links.flatMap((l: { addr_info?: { local: string }[] }) =>
    (l.addr_info ?? []).map((a) => a.local)
  ).sort();
}

Deno.test({
  name:
    "after kill -9, a dnsListen address outside the subnet that is gone from the config is removed",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("dns", "dwl");
    const dir = await Deno.makeTempDir({ prefix: "dwl-dns-" });
    try {
      await using backends = await startBackends(ns, ["name:one"], await addBackendAddress(ns));
      const objects = [
        serviceObject("web", [{ name: "http", port: 80, targetPort: 8080 }]),
        endpointsObject("web", [{
          addresses: [BACKEND_IP],
          ports: [{ name: "http", port: backends.ports.one! }],
        }]),
      ];
      const first = await startAgent({
        netns: ns,
        dir,
        config: {
          nodeName: "n1",
          logLevel: "debug",
          dnsListen: ["9.251.0.1:53", "169.254.20.10:53"],
        },
      });
      let vip: string | null;
      try {
        await applyObjects(first, objects);
        vip = await vipOf(first, "web");
        assert.deepEqual(await deviceAddresses(ns), ["9.251.0.1", vip, "169.254.20.10"]);
      } finally {
        await first.kill();
      }
      // Someone's /24 on the device while no agent runs; the kernel's IPv6 link-local stays.
      await ns.run(["ip", "addr", "add", "10.99.0.1/24", "dev", "edge0"]);
      const ipv6 = await ipv6Addresses(ns);

      await using second = await startAgent({
        netns: ns,
        dir,
        config: { nodeName: "n1", logLevel: "debug" },
      });
      await second.waitForLog(/msg="Using the device an earlier run created"/);
      const removed = await second.waitForLog(/msg="Removed addresses outside the subnet/);
      assert.match(removed, /\baddresses=169\.254\.20\.10\b/);
      // The first pass ran before "agent ready": the address is gone, nothing else is.
      assert.deepEqual(await deviceAddresses(ns), ["9.251.0.1", vip, "10.99.0.1"]);
      assert.deepEqual(await ipv6Addresses(ns), ipv6);
      assert.deepEqual(await connectMany(ns, vip!, 80, 2), ["one", "one"]);
      assert.equal(await second.stop(), 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import {
  claimDevice,
  denoExec,
  type DeviceClaim,
  type Exec,
  NetDev,
  ownedAlias,
  parseAddrJson,
} from "../../lib/netdev/mod.ts";
import { createNetns, NETNS_AVAILABLE, type TempNetns } from "../_helpers/netns.ts";

/** Runs every `ip …` command inside namespace `ns` (`ip -n <ns> …`). */
function execIn(ns: string): Exec {
  return {
    run: (argv, options) =>
      denoExec.run(argv[0] === "ip" ? ["ip", "-n", ns, ...argv.slice(1)] : argv, options),
  };
}

async function addrs(run: (argv: string[]) => Promise<string>, dev: string): Promise<string[]> {
  return parseAddrJson(await run(["ip", "-json", "addr", "show", "dev", dev]))
    .map((a) => `${a.ip}/${a.prefixLen}`).sort();
}

/**
 * The agent's NetDev for `edge0` (auto type, default subnet), running `ip` inside `ns`. This
 * process stays in its own namespace, so the device's claim is a name of its own here (the
 * agent, which runs inside the device's namespace, claims `edge0` there).
 */
function netDevIn(ns: TempNetns, claims: DeviceClaim[] = []): NetDev {
  return new NetDev({
    device: "edge0",
    deviceType: "auto",
    subnet: "9.251.0.0/16",
    keepDeviceOnExit: false,
    exec: execIn(ns.name),
    log: nullLogger,
    claim: (device) => {
      const c = claimDevice(`${ns.name}/${device}`);
      claims.push(c);
      return c;
    },
  });
}

Deno.test({
  name: "NetDev manages a real bridge device and its addresses inside a namespace",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("netdev");
    const dev = netDevIn(ns);
    await dev.ensure();
    assert.equal(dev.created, true);
    assert.equal(dev.type, "bridge");
    const link = JSON.parse(await ns.run(["ip", "-json", "-details", "link", "show", "edge0"]));
    assert.equal(link[0].linkinfo.info_kind, "bridge", "no dummy driver here: bridge fallback");
    assert.ok(link[0].flags.includes("UP"));

    // A foreign address inside and outside the subnet must survive every reconcile.
    await ns.run(["ip", "addr", "add", "9.251.9.9/24", "dev", "edge0"]);
    await ns.run(["ip", "addr", "add", "10.200.0.1/32", "dev", "edge0"]);
    const foreign = ["10.200.0.1/32", "9.251.9.9/24"];

    await dev.reconcile(new Set(["9.251.0.2", "9.251.0.3", "9.251.0.4"]));
    assert.deepEqual(
      await addrs(ns.run, "edge0"),
      [...foreign, "9.251.0.2/32", "9.251.0.3/32", "9.251.0.4/32"].sort(),
    );
    await dev.reconcile(new Set(["9.251.0.3", "9.251.0.5"]));
    await dev.reconcile(new Set(["9.251.0.3", "9.251.0.5"]));
    assert.deepEqual(
      await addrs(ns.run, "edge0"),
      [...foreign, "9.251.0.3/32", "9.251.0.5/32"].sort(),
    );

    // The VIP is local: a listener can bind it and a client reach it.
    const probe = await ns.run([
      Deno.execPath(),
      "eval",
      "const l = Deno.listen({hostname: '9.251.0.5', port: 0});" +
      "const c = await Deno.connect(l.addr); const s = await l.accept();" +
      "c.close(); s.close(); l.close(); console.log('ok')",
    ]);
    assert.equal(probe.trim(), "ok");

    await dev.teardown();
    const r = await denoExec.run(["ip", "-n", ns.name, "link", "show", "edge0"]);
    assert.notEqual(r.code, 0, "device deleted");
    assert.match(r.stderr, /does not exist/);
  },
});

Deno.test({
  name: "NetDev keeps a pre-existing device on teardown and removes only its addresses",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("netdev");
    await ns.run(["ip", "link", "add", "edge0", "type", "bridge"]);
    await ns.run(["ip", "addr", "add", "9.251.0.7/32", "dev", "edge0"]);
    const dev = netDevIn(ns);
    await dev.ensure();
    assert.equal(dev.created, false);
    assert.equal(dev.type, "bridge");
    const plan = await dev.reconcile(new Set(["9.251.0.2"]));
    assert.deepEqual(plan, { add: ["9.251.0.2"], remove: ["9.251.0.7"] }, "stale VIP removed");
    await dev.teardown();
    assert.deepEqual(await addrs(ns.run, "edge0"), []);
    const link = JSON.parse(await ns.run(["ip", "-json", "link", "show", "edge0"]));
    assert.equal(link[0].ifname, "edge0", "device kept");
  },
});

Deno.test({
  name: "NetDev repairs a real device deleted or set down, and a new run takes back its own",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("netdev");
    const claims: DeviceClaim[] = [];
    const dev = netDevIn(ns, claims);
    await dev.ensure();
    const details = async () =>
      JSON.parse(await ns.run(["ip", "-json", "-details", "link", "show", "edge0"]))[0];
    assert.equal((await details()).ifalias, ownedAlias(Deno.pid));
    await dev.reconcile(new Set(["9.251.0.2"]));

    await ns.run(["ip", "link", "del", "edge0"]);
    await dev.reconcile(new Set(["9.251.0.2"]));
    assert.deepEqual(await addrs(ns.run, "edge0"), ["9.251.0.2/32"], "created again");
    assert.ok((await details()).flags.includes("UP"));

    await ns.run(["ip", "link", "set", "edge0", "down"]);
    await dev.reconcile(new Set(["9.251.0.2"]));
    assert.ok((await details()).flags.includes("UP"), "set up again");

    // A crash leaves the device behind (and drops the claim with the process); the next run
    // finds its alias and owns it again.
    claims.forEach((c) => c.release());
    const next = netDevIn(ns);
    await next.ensure();
    assert.equal(next.created, true);
    await next.teardown();
    const r = await denoExec.run(["ip", "-n", ns.name, "link", "show", "edge0"]);
    assert.match(r.stderr, /does not exist/, "deleted by the next run");
  },
});

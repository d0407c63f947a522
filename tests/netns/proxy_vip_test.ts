// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";

const url = (p: string) => new URL(p, import.meta.url).href;

/**
 * Runs inside the namespace (sockets and `ip` both act there): NetDev puts the VIP on a real
 * bridge device, the Proxy listens on it, three backends answer with their names.
 */
const SCRIPT = `
import { NetDev, denoExec } from "${url("../../lib/netdev/mod.ts")}";
import { Proxy } from "${url("../../lib/proxy/mod.ts")}";
import { nullLogger } from "${url("../../lib/log/mod.ts")}";
import { ask, nameServer, snapshotOf } from "${url("../_helpers/proxy_fixtures.ts")}";
const vip = "9.251.0.2";
const dev = new NetDev({ device: "edge0", deviceType: "auto", subnet: "9.251.0.0/16",
  keepDeviceOnExit: false, exec: denoExec, log: nullLogger });
const proxy = new Proxy({ nodeName: "n1", log: nullLogger });
const backends = ["one", "two", "three"].map(nameServer);
const out = {};
try {
  await dev.ensure();
  const snap = snapshotOf({ name: "web", vip, ports: [{ name: "", port: 80 }],
    endpoints: backends.map((b) => ({ ports: { "": b.port } })) });
  await dev.reconcile(new Set(snap.vips.keys()));
  await proxy.update(snap);
  out.names = [];
  for (let i = 0; i < 3; i++) out.names.push(await ask(vip, 80));
  await backends[0].stop();
  out.failover = [];
  for (let i = 0; i < 4; i++) out.failover.push(await ask(vip, 80));
  const empty = snapshotOf();
  await proxy.update(empty);
  await dev.reconcile(new Set(empty.vips.keys()));
  out.after = await Deno.connect({ hostname: vip, port: 80 }).then((c) => { c.close(); return "open"; },
    (e) => e.name);
} finally {
  await proxy.close();
  await Promise.all(backends.map((b) => b.stop()));
  await dev.teardown();
}
console.log(JSON.stringify(out));
`;

Deno.test({
  name: "Proxy serves a VIP that NetDev put on a real device inside a namespace",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("pxvip");
    const out = JSON.parse(await ns.run([Deno.execPath(), "eval", "--quiet", SCRIPT]));
    assert.deepEqual([...out.names].sort(), ["one", "three", "two"]);
    assert.equal(out.failover.length, 4);
    assert.ok(
      out.failover.every((n: string) => n === "two" || n === "three"),
      `failover answers: ${out.failover}`,
    );
    assert.notEqual(out.after, "open", "VIP gone: nothing accepts there");
    const r = await ns.run(["ip", "link", "show"]);
    assert.doesNotMatch(r, /edge0/, "device removed on teardown");
  },
});

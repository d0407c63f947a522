// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Two agents (one per namespace) whose control sockets share a directory each keep their own
 * metrics server: the metrics socket is named after the control socket
 * (`<controlSocket>.metrics`), so the second agent neither takes over the first one's nor
 * removes it when it stops. (Regression QA: both used `metrics.sock` in that directory; the
 * first agent's /metrics then served the second's data, and went silent when it stopped.)
 * @module
 */
import assert from "node:assert/strict";
import { startAgent } from "../_helpers/agent.ts";
import { ctl, serviceObject } from "../_helpers/agent_fixtures.ts";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";

Deno.test({
  name: "agents whose control sockets share a directory keep their own metrics servers",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns1 = await createNetns("rdir1", "srd");
    await using ns2 = await createNetns("rdir2", "srd");
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "srd-" });
    const shared = `${dir}/run`;
    await Deno.mkdir(shared, { mode: 0o700 });
    try {
      const start = (ns: typeof ns1, name: string) =>
        startAgent({
          netns: ns,
          dir: `${dir}/${name}`,
          config: {
            nodeName: name,
            logLevel: "info",
            controlSocket: `${shared}/${name}.sock`,
            stateDir: `${dir}/${name}/state`,
          },
        });
      await Deno.mkdir(`${dir}/a`);
      await Deno.mkdir(`${dir}/b`);
      const a = await start(ns1, "a");
      try {
        const b = await start(ns2, "b");
        try {
          // Only a holds a service, so only a's metrics count a VIP in use.
          const svc = JSON.stringify(
            serviceObject("web", [{ name: "http", port: 80, targetPort: 8080 }]),
          );
          const applied = await ctl(a, ["apply", "-f", "-", "--wait"], svc);
          assert.equal(applied.code, 0, applied.stderr);
          assert.equal(await vipsInUse(ns1, a.metricsAddr!), 1);
          assert.equal(await vipsInUse(ns2, b.metricsAddr!), 0);
          assert.equal(await b.stop(), 0);
        } finally {
          await b[Symbol.asyncDispose]();
        }
        // b is gone: a's metrics server still answers, with a's data.
        assert.equal(await vipsInUse(ns1, a.metricsAddr!), 1);
        assert.ok((await Deno.stat(`${shared}/a.sock.metrics`)).isSocket);
        assert.equal(await a.stop(), 0);
      } finally {
        await a[Symbol.asyncDispose]();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** `edgemesh_vip_pool_used` on the metrics server at `addr` inside `ns`. */
async function vipsInUse(ns: { run(argv: string[]): Promise<string> }, addr: string) {
  const text = await ns.run(["curl", "-sf", "-m", "10", `http://${addr}/metrics`]);
  const m = text.match(/^edgemesh_vip_pool_used(?:\{[^}]*\})? (\d+)$/m);
  assert.ok(m, text);
  return Number(m[1]);
}

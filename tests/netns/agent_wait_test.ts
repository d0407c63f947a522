// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `ctl apply --wait` and `ctl delete --wait` against the real agent in a namespace: when they
 * return, the change is live (the VIP answers, the listener is gone), and the agent's status
 * says every acknowledged version is applied. The agent logs at `info`, so nothing here can
 * lean on the debug `reconciled` line the other namespace tests wait for.
 * @module
 */
import assert from "node:assert/strict";
import { startAgent } from "../_helpers/agent.ts";
import {
  addBackendAddress,
  BACKEND_IP,
  connectMany,
  ctl,
  endpointsObject,
  serviceObject,
  startBackends,
  tcpListeners,
} from "../_helpers/agent_fixtures.ts";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";

Deno.test({
  name: "ctl apply --wait and delete --wait return once the change is live",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("wait", "cwt");
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cwt-" });
    try {
      await using backends = await startBackends(ns, ["name:one"], await addBackendAddress(ns));
      const agent = await startAgent({
        netns: ns,
        dir,
        config: { nodeName: "n1", logLevel: "info", drainGraceMs: 0 },
      });
      try {
        const objects = [
          serviceObject("web", [{ name: "http", port: 80, targetPort: 8080 }]),
          endpointsObject("web", [{
            addresses: [BACKEND_IP],
            ports: [{ name: "http", port: backends.ports.one! }],
          }]),
        ];
        const text = objects.map((o) => `---\n${JSON.stringify(o)}\n`).join("");
        const applied = await ctl(agent, ["apply", "-f", "-", "--wait"], text);
        assert.equal(applied.code, 0, applied.stderr);
        assert.equal(
          applied.stdout,
          "service/default/web configured\nendpoints/default/web configured\n",
        );
        const status = await ctl(agent, ["status", "-o", "json"]);
        const s = JSON.parse(status.stdout);
        assert.ok(s.reconciledVersion >= s.registryVersion, status.stdout);
        const view = JSON.parse(
          (await ctl(agent, ["get", "services", "web", "-o", "json"])).stdout,
        );
        const vip = view[0].vip as string;
        assert.match(vip, /^9\.251\./);
        assert.deepEqual(await connectMany(ns, vip, 80, 1), ["one"]);

        const deleted = await ctl(agent, ["delete", "service", "default/web", "--wait"]);
        assert.equal(deleted.code, 0, deleted.stderr);
        assert.equal(deleted.stdout, "service/default/web deleted\n");
        const listeners = await tcpListeners(ns);
        assert.ok(!listeners.includes(`${vip}:80`), `${listeners}`);
        assert.equal(await agent.stop(), 0);
      } finally {
        await agent[Symbol.asyncDispose]();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The real agent with the tunnel on, under a small open-files limit (`prlimit --nofile=512`),
 * flooded with idle connections on its tunnel port — more than it has descriptors — stays up:
 * it stops accepting at its tunnel cap (warning), still answers on its control socket, and
 * once the flood lets go the tunnel port serves again. (Security QA: idle connections to the
 * tunnel port, 3 sources × 7000, crashed the agent through `Deno.serve`'s EMFILE.)
 * @module
 */
import assert from "node:assert/strict";
import { startAgent } from "../_helpers/agent.ts";
import { addBackendAddress, ctl, spawnClient } from "../_helpers/agent_fixtures.ts";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";
import { settledYet } from "../_helpers/poll.ts";

const LIMIT = 512;
const FLOOD = 700;
const TUNNEL_PORT = 40001;

const HAS_PRLIMIT = await new Deno.Command("prlimit", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

Deno.test({
  name: "agent under a 512 open-files limit survives an idle-connection flood of its tunnel port",
  ignore: !NETNS_AVAILABLE || !HAS_PRLIMIT,
  async fn() {
    await using ns = await createNetns("tflood", "tfr");
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "tfr-" });
    try {
      const ip = await addBackendAddress(ns);
      const keyFile = `${dir}/tunnel.key`;
      await Deno.writeTextFile(keyFile, "tfr-flood-test-key-0123456789abcdef-0123456789\n");
      const agent = await startAgent({
        netns: ns,
        dir,
        config: {
          nodeName: "n1",
          logLevel: "info",
          tunnelKeyFile: keyFile,
          tunnelListen: `${ip}:${TUNNEL_PORT}`,
        },
        prefix: ["prlimit", `--nofile=${LIMIT}:${LIMIT}`, "--"],
      });
      try {
        const floods = [0, 1, 2].map(() =>
          spawnClient(ns, "flood.ts", [ip, String(TUNNEL_PORT), String(FLOOD), "3000"])
        );
        try {
          const counts = await Promise.all(floods.map(async (f) => JSON.parse(await f.readLine())));
          for (const c of counts) assert.equal(c.connected + c.failed, FLOOD, JSON.stringify(c));
          assert.equal(await settledYet(agent.exited), false, `the agent died: ${agent.logs()}`);
          const connected = counts.reduce((n, c) => n + c.connected, 0);
          // More connections than the agent has descriptors (most wait in the kernel backlog).
          assert.ok(connected > LIMIT, JSON.stringify(counts));
          await agent.waitForLog(/Connection cap reached.*tunnel/, 10_000);
          const status = await ctl(agent, ["status", "-o", "json"]);
          assert.equal(status.code, 0, status.stderr);
          assert.equal(JSON.parse(status.stdout).counts.services, 0);
        } finally {
          for (const f of floods) await f.finish();
        }
        // The flood is gone: the tunnel port answers an unsigned stream with its refusal.
        const code = await ns.run([
          "curl",
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "-m",
          "10",
          "--http2-prior-knowledge",
          "-X",
          "POST",
          `http://${ip}:${TUNNEL_PORT}/v1/stream`,
        ]);
        assert.equal(code.trim(), "401");
        assert.doesNotMatch(agent.logs(), /tunnel server stopped/);
        assert.equal(await agent.stop(), 0);
      } finally {
        await agent[Symbol.asyncDispose]();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "agent whose tunnelListen address leaves the node says so, in the log and ctl status",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("tlisten", "tla");
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "tla-" });
    try {
      const ip = await addBackendAddress(ns);
      const keyFile = `${dir}/tunnel.key`;
      await Deno.writeTextFile(keyFile, "tla-listen-test-key-0123456789abcdef-0123456789\n");
      await using agent = await startAgent({
        netns: ns,
        dir,
        config: { nodeName: "n1", tunnelKeyFile: keyFile, tunnelListen: `${ip}:${TUNNEL_PORT}` },
      });
      const tunnelState = async () => {
        const r = await ctl(agent, ["status", "-o", "json"]);
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout).tunnel as { state: string; detail: string };
      };
      assert.equal((await tunnelState()).state, "up");
      let mark = agent.lineCount();
      await ns.run(["ip", "addr", "del", `${ip}/32`, "dev", "lo"]); // the lease moved
      await agent.waitForLog(
        /msg="The address tunnelListen binds is not on this node/,
        9_000,
        mark,
      );
      const gone = await tunnelState();
      assert.equal(gone.state, "down");
      assert.match(
        gone.detail,
        new RegExp(`tunnelListen address ${ip.replaceAll(".", "\\.")} is not`),
      );
      mark = agent.lineCount();
      await addBackendAddress(ns, ip);
      await agent.waitForLog(/msg="The address tunnelListen binds is back/, 9_000, mark);
      assert.equal((await tunnelState()).state, "up");
      assert.equal(await agent.stop(), 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

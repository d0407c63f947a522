// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The real agent with its `stateDir` on a full disk (a small tmpfs mounted for the test and
 * always unmounted): restarted after a crash that tore the journal's last line, it starts and
 * serves what it loaded (it used to exit with `edgemesh: No space left on device`, leaving the
 * node without VIPs or DNS), refuses changes while the disk is full, and notices by itself,
 * without a change, once space is freed (state_retry.ts). Nothing acknowledged is lost.
 * @module
 */
import assert from "node:assert/strict";
import { startAgent } from "../_helpers/agent.ts";
import {
  addBackendAddress,
  applyObjects,
  connectMany,
  ctl,
  endpointsObject,
  getServices,
  serviceObject,
  startBackends,
} from "../_helpers/agent_fixtures.ts";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";
import { denoExec, mustRun } from "../../lib/netdev/exec.ts";

/** Writes zeros to `path` until the file system is full. */
async function fill(path: string): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(4096);
  try {
    for (;;) await f.write(chunk);
  } catch (e) {
    if (!(e instanceof Error) || !/No space left/.test(e.message)) throw e;
  } finally {
    f.close();
  }
}

async function status(agent: { socketPath: string }): Promise<Record<string, unknown>> {
  const r = await ctl(agent, ["status", "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test({
  name: "agent starts on a full state disk with what it loaded and recovers once space is freed",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("disk", "sdk");
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "sdk-" });
    const stateDir = `${dir}/state`;
    await Deno.mkdir(stateDir);
    await mustRun(denoExec, [
      "mount",
      "-t",
      "tmpfs",
      "-o",
      "size=256k,mode=0700",
      "tmpfs",
      stateDir,
    ]);
    try {
      await using backends = await startBackends(ns, ["name:one"], await addBackendAddress(ns));
      const port = backends.ports.one!;
      const svc = (name: string) => [
        serviceObject(name, [{ name: "http", port: 80, targetPort: port }]),
        endpointsObject(name, [{ addresses: ["10.254.0.1"], ports: [{ name: "http", port }] }]),
      ];
      const yaml = (objs: readonly object[]) =>
        objs.map((o) => `---\n${JSON.stringify(o)}\n`).join("");
      const config = { nodeName: "n1", logLevel: "debug", stateDir };
      await using first = await startAgent({ netns: ns, dir, config });
      await applyObjects(first, svc("web"));
      const [web] = await getServices(first);
      await first.kill();
      // The crash came during an append (its change was never acknowledged), on a full disk.
      await Deno.writeTextFile(`${stateDir}/state.journal`, '{"version":9,"ops":[["se', {
        append: true,
      });
      await fill(`${stateDir}/filler`);

      await using agent = await startAgent({ netns: ns, dir, config });
      assert.deepEqual(await getServices(agent), [web]);
      assert.deepEqual(await connectMany(ns, web!.vip!, 80, 1), ["one"]);
      const failing = (await status(agent)).stateWriteError as { refused: number; reason: string };
      assert.equal(failing.refused, 0);
      assert.match(failing.reason, /No space left on device/);
      const refused = await ctl(agent, ["apply", "-f", "-"], yaml(svc("api")));
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /writing ".*state\.json" failed: No space left on device/);

      // Freed: the agent writes its state again by itself, no change needed.
      const mark = agent.lineCount();
      await Deno.remove(`${stateDir}/filler`);
      await agent.waitForLog(/state file written again; changes are accepted/, 15_000, mark);
      assert.equal((await status(agent)).stateWriteError, undefined);
      await applyObjects(agent, svc("api"));
      await agent.kill();

      await using again = await startAgent({ netns: ns, dir, config });
      const views = await getServices(again);
      assert.deepEqual(views.map((v) => v.name), ["api", "web"]);
      assert.deepEqual(views.find((v) => v.name === "web"), web);
      assert.doesNotMatch(again.logs(), /torn|damaged|level=error/);
      assert.equal(await again.stop(), 0);
    } finally {
      await denoExec.run(["umount", stateDir]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Durability end to end (issue 2) with the real agent in a namespace: every KubeEdge message
 * of the fixture is acknowledged only once it is on disk, so a `kill -9` right after the last
 * reply loses nothing and the restarted agent puts the VIPs back; bad messages get clear
 * errors and change nothing.
 * @module
 */
import assert from "node:assert/strict";
import type { ServiceView } from "../../lib/control/mod.ts";
import { startAgent } from "../_helpers/agent.ts";
import { ctl, deviceAddresses, sendLines } from "../_helpers/agent_fixtures.ts";
import { createNetns, NETNS_AVAILABLE, type TempNetns } from "../_helpers/netns.ts";

const fixture = (name: string) =>
  Deno.readTextFile(new URL(`../fixtures/${name}`, import.meta.url)).then((t) =>
    t.split("\n").filter((l) => l.trim() !== "")
  );

/** Each line of `kubeedge-messages-bad.ndjson` and the reply it must get. */
const BAD_REPLIES = [
  { msg_id: null, ok: false, error: "Cannot parse message: not valid JSON" },
  {
    msg_id: "x",
    ok: false,
    error:
      'Cannot parse message: route.operation "explode" is not one of insert, update, delete, query',
  },
  {
    msg_id: "y",
    ok: false,
    error: 'Cannot parse message: route.resource "only-two/tokens" is not ' +
      "<namespace>/<type>/<name> or node/<nodeID>/<namespace>/<type>/<name>",
  },
  {
    msg_id: "z",
    ok: false,
    error: 'Cannot apply "default/service/bad": spec.ports[0].port 70000 is out of range',
  },
  {
    msg_id: "w",
    ok: false,
    error: 'Cannot parse message: route.resource "default/service/mismatch" does not match ' +
      'the object "kube-system/other"',
  },
  { msg_id: null, ok: false, error: "Cannot parse message: expected a JSON object, got an array" },
  { msg_id: null, ok: false, error: "Cannot parse message: not valid JSON" },
];

async function linkIndex(ns: TempNetns): Promise<number> {
  const [link] = JSON.parse(await ns.run(["ip", "-json", "link", "show", "edge0"]));
  return link.ifindex;
}

async function getJson(agent: { socketPath: string }): Promise<string> {
  const r = await ctl(agent, ["get", "services", "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test({
  name: "agent keeps every acknowledged KubeEdge message across kill -9 and rejects bad ones",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agstat");
    const dir = await Deno.makeTempDir({ prefix: "em-agstat-" });
    try {
      const config = { nodeName: "edge-node-1" };
      const lines = await fixture("kubeedge-messages.ndjson");
      assert.equal(lines.length, 11);
      const agent = await startAgent({ netns: ns, dir, config });
      let views: ServiceView[];
      try {
        // Pipelined on one connection, as KubeEdge sends; the query after the last line sees
        // every change before it and changes nothing. SIGKILL as soon as the replies are in.
        const replies = await sendLines(agent.socketPath, [
          ...lines,
          JSON.stringify({ route: { operation: "query", resource: "*/services/*" } }),
        ]);
        await agent.kill();
        // The last line deletes legacy, which the servicelist already removed: ok, not found,
        // unchanged (nothing written for it).
        assert.deepEqual(
          replies.slice(0, -1),
          lines.map((l) => ({
            msg_id: JSON.parse(l).header.msg_id,
            ok: true,
            ...(JSON.parse(l).route.operation === "delete"
              ? { found: false, unchanged: true }
              : {}),
          })),
        );
        const last = replies.at(-1)!;
        assert.equal(last.ok, true);
        views = last.content as ServiceView[];
      } finally {
        await agent[Symbol.asyncDispose]();
      }
      // The servicelist replaced the set (legacy deleted after): nginx and redis remain.
      assert.deepEqual(views.map((v) => [`${v.namespace}/${v.name}`, v.vip]), [
        ["cache/redis", "9.251.0.3"],
        ["default/nginx", "9.251.0.2"],
      ]);
      // kill -9 ran no cleanup, and replies wait for the disk, not for the device. Leave the
      // device as a reboot plus an operator might: recreated without our VIPs, holding a stray
      // address in our subnet. The restart keeps the device and repairs its addresses.
      await ns.run(["ip", "link", "del", "edge0"]);
      await ns.run(["ip", "link", "add", "edge0", "type", "bridge"]);
      await ns.run(["ip", "addr", "add", "9.251.7.7/32", "dev", "edge0"]);
      await ns.run(["ip", "link", "set", "edge0", "up"]);
      const ifindex = await linkIndex(ns);

      const again = await startAgent({ netns: ns, dir, config });
      try {
        const text = await getJson(again);
        assert.deepEqual(JSON.parse(text), views);
        assert.deepEqual(await deviceAddresses(ns), ["9.251.0.1", "9.251.0.2", "9.251.0.3"]);
        assert.equal(await linkIndex(ns), ifindex, "the existing device is kept");

        const bad = await fixture("kubeedge-messages-bad.ndjson");
        assert.deepEqual(await sendLines(again.socketPath, bad), BAD_REPLIES);
        assert.equal(await getJson(again), text, "bad messages change nothing");
        assert.deepEqual(await deviceAddresses(ns), ["9.251.0.1", "9.251.0.2", "9.251.0.3"]);
        assert.equal(await again.stop(), 0);
      } finally {
        await again[Symbol.asyncDispose]();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

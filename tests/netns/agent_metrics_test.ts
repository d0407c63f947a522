// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The real agent in a network namespace: services that come and go (jobs, previews) must not
 * leave their metric series behind. A soak test once found three series per deleted service
 * for the life of the process; here N services are created, used and deleted, one of them with
 * a connection draining across the delete, and `/metrics` must end with no series of theirs.
 * Namespaces are `mtr-*`; the agent's state and socket live in a `/tmp/mtr-*` directory.
 * @module
 */
import assert from "node:assert/strict";
import { startAgent } from "../_helpers/agent.ts";
import {
  applyObjects,
  ctl,
  endpointsObject,
  getServices,
  serviceObject,
  settled,
  spawnClient,
  startBackends,
} from "../_helpers/agent_fixtures.ts";
import { scaled } from "../_helpers/emulation.ts";
import { createNetns, NETNS_AVAILABLE, type TempNetns } from "../_helpers/netns.ts";
import { pollUntil } from "../_helpers/poll.ts";

/** Where the backends listen inside the namespace. */
const BACKEND_IP = "10.99.0.1";

/** `/metrics` of the agent, fetched from inside its namespace (where it listens). */
async function scrape(ns: TempNetns, addr: string): Promise<string> {
  return await ns.run([
    Deno.execPath(),
    "eval",
    `const r = await fetch("http://${addr}/metrics"); ` +
    "if (!r.ok) throw new Error(`HTTP ${r.status}`); await Deno.stdout.write(await r.bytes());",
  ]);
}

/** One connection to each `vip:port` inside `ns`, read to EOF: the replies, in order. */
async function connectEach(ns: TempNetns, targets: readonly string[]): Promise<string[]> {
  const out = await ns.run([
    Deno.execPath(),
    "eval",
    `const replies = [];
     for (const t of ${JSON.stringify(targets)}) {
       const [hostname, port] = t.split(":");
       const conn = await Deno.connect({ hostname, port: Number(port) });
       replies.push(await new Response(conn.readable).text());
     }
     console.log(JSON.stringify(replies));`,
  ]);
  return JSON.parse(out) as string[];
}

/** The series lines of `/metrics` whose `service` label starts with `prefix`. */
function seriesOf(text: string, prefix: string): string[] {
  return text.split("\n").filter((l) => !l.startsWith("#") && l.includes(`service="${prefix}`));
}

Deno.test({
  name: "agent removes a deleted service's metric series once its connections have drained",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("series", "mtr");
    const dir = await Deno.makeTempDir({ prefix: "mtr-" });
    try {
      // Endpoints may not be loopback addresses (as in Kubernetes): the backends listen on an
      // address of the namespace's own.
      await ns.run(["ip", "addr", "add", `${BACKEND_IP}/32`, "dev", "lo"]);
      await using backends = await startBackends(ns, ["name:one", "echo:echo"], BACKEND_IP);
      // Two proxy threads from the start: the worker's series must go too. A short grace, so
      // the draining connection is closed by it soon.
      await using agent = await startAgent({
        netns: ns,
        dir,
        config: { nodeName: "n1", logLevel: "debug", proxyThreads: 2, drainGraceMs: 1500 },
      });
      const addr = agent.metricsAddr;
      assert.ok(addr, agent.logs());
      const n = scaled(20, 4);
      const jobs = Array.from({ length: n }, (_, i) => `job-${i}`);
      const port = (name: string, backend: string) => [
        serviceObject(name, [{ name: "tcp", port: 80, targetPort: 9000 }]),
        endpointsObject(name, [{
          addresses: [BACKEND_IP],
          ports: [{ name: "tcp", port: backends.ports[backend]! }],
        }]),
      ];
      await applyObjects(agent, [
        ...port("stay", "one"),
        ...port("job-long", "echo"),
        ...jobs.flatMap((j) => port(j, "one")),
      ]);
      const vips = new Map((await getServices(agent)).map((s) => [s.name, s.vip!]));

      // Each job once (connections spread over both threads), and one long connection.
      assert.deepEqual(
        await connectEach(ns, ["stay", ...jobs].map((j) => `${vips.get(j)}:80`)),
        Array(n + 1).fill("one"),
      );
      await using held = spawnClient(ns, "hold.ts", [vips.get("job-long")!, "80"]);
      assert.equal(await held.readLine(), "connected");
      await held.writeLine("before");
      assert.equal(await held.readLine(), "data:before");
      const before = await scrape(ns, addr);
      for (const j of jobs) {
        assert.match(
          before,
          new RegExp(`^edgemesh_proxy_connections_total\\{service="default/${j}"\\} 1$`, "m"),
        );
        assert.match(
          before,
          new RegExp(
            `^edgemesh_proxy_bytes_total\\{direction="out",service="default/${j}"\\} 3$`,
            "m",
          ),
        );
      }
      assert.ok(seriesOf(before, "default/job-").length >= 5 * n, before);

      const del = await ctl(agent, [
        "delete",
        "service",
        "default/job-long",
        ...jobs.map((j) => `default/${j}`),
      ]);
      assert.equal(del.code, 0, del.stderr);
      await settled(agent);
      // The long connection still flows in the grace, then the proxy closes it.
      await held.writeLine("during");
      assert.equal(await held.readLine(), "data:during");
      assert.match(await held.readLine(), /^closed:/);

      const after = await pollUntil(
        async () => {
          const text = await scrape(ns, addr);
          return seriesOf(text, "default/job-").length === 0 ? text : null;
        },
        () => `no series of the deleted services in /metrics`,
        30_000,
      );
      assert.deepEqual(seriesOf(after, "default/").map((l) => l.replace(/ \d+$/, "")).sort(), [
        'edgemesh_proxy_bytes_total{direction="in",service="default/stay"}',
        'edgemesh_proxy_bytes_total{direction="out",service="default/stay"}',
        'edgemesh_proxy_connections_active{service="default/stay"}',
        'edgemesh_proxy_connections_total{service="default/stay"}',
        'edgemesh_proxy_listeners{service="default/stay"}',
      ], "only the live service's series");
      assert.ok(after.length < before.length, `${after.length} < ${before.length} bytes`);

      // A job created again under the same name starts from 0.
      await applyObjects(agent, port("job-0", "one"));
      const vip = (await getServices(agent)).find((s) => s.name === "job-0")!.vip!;
      assert.deepEqual(await connectEach(ns, [`${vip}:80`]), ["one"]);
      assert.match(
        await scrape(ns, addr),
        /^edgemesh_proxy_connections_total\{service="default\/job-0"\} 1$/m,
      );
      assert.equal(await agent.stop(), 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

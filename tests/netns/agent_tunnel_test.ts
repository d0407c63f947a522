// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Issue 5 with real agents: three "nodes" in network namespaces on one bridge, the real agent
 * (`main.ts run`, production permission flags) on each, services applied with the real
 * `edgemesh ctl`. A client on node A connects to A's VIP; the endpoints live on B and C.
 *
 * The backends on B and C listen only on addresses no other node can reach (10.254.0.2 on B's
 * loopback device, 10.254.0.3 on C's; the LAN has no route to them), and the Endpoints name
 * exactly those addresses: a connection can reach them only through the agent on that node, so
 * every answer proves a tunnel stream. (They used to be 127.0.0.2 and 127.0.0.3, which the agent
 * now refuses as endpoints, as Kubernetes does.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createLan,
  NETNS_AVAILABLE,
  spawnReady,
  type TempLan,
  type TempNetns,
} from "../_helpers/netns.ts";
import { type AgentProcess, DENO_JSON, MAIN_TS, startAgent } from "../_helpers/agent.ts";
import type { ClientResults, ClientSpec, NameResult } from "./_tunnel/client.ts";
import { makeNodeTls, type NodeTls } from "./_tunnel/pki.ts";
import { makeServerCert } from "../_helpers/pki.ts";
import { pollUntil } from "../_helpers/poll.ts";

const CLIENT = new URL("./_tunnel/client.ts", import.meta.url).pathname;
const BACKEND = new URL("./_tunnel/backend.ts", import.meta.url).pathname;
const TUNNEL_PORT = 40001;
const METRICS_PORT = 9560;
const BACKEND_PORT = 8080;
/** Where each node's backend listens: an address of that node only (on its `lo`, see `privately`). */
const LOOPBACK: Readonly<Record<string, string>> = { b: "10.254.0.2", c: "10.254.0.3" };

/** Puts the node's private backend address on its loopback device (no other node routes to it). */
async function privately(node: Node, name: "b" | "c"): Promise<Node> {
  await node.run(["ip", "addr", "add", `${LOOPBACK[name]}/32`, "dev", "lo"]);
  return node;
}
const MiB = 1024 * 1024;

type Node = TempNetns & { readonly ip: string };

/** Service + Endpoints (`endpoints`: node name → endpoint IP) and the Node objects. */
function manifests(
  lan: TempLan,
  services: Readonly<Record<string, readonly string[]>>,
): unknown {
  const names = ["a", "b", "c"];
  const items: unknown[] = lan.nodes.map((n, i) => ({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: names[i] },
    status: { addresses: [{ type: "InternalIP", address: n.ip }] },
  }));
  for (const [name, nodes] of Object.entries(services)) {
    items.push({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: "default" },
      spec: { ports: [{ name: "tcp", protocol: "TCP", port: 80, targetPort: BACKEND_PORT }] },
    }, {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name, namespace: "default" },
      subsets: nodes.map((node) => ({
        addresses: [{ ip: LOOPBACK[node], nodeName: node }],
        ports: [{ name: "tcp", port: BACKEND_PORT, protocol: "TCP" }],
      })),
    });
  }
  return { apiVersion: "v1", kind: "List", items };
}

/** Runs the real `edgemesh ctl` (from the host: the control socket is a file) under the agent's flags. */
async function ctl(agent: AgentProcess, args: readonly string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--config",
      DENO_JSON,
      ...agent.flags,
      MAIN_TS,
      "ctl",
      "--socket",
      agent.socketPath,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `edgemesh ctl ${args.join(" ")} exited ${out.code}: ${text}${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return text;
}

/** Runs the client script in `ns` with a batch of actions; returns their results. */
async function client(ns: TempNetns, specs: readonly ClientSpec[]): Promise<unknown[]> {
  const out = await ns.run([
    Deno.execPath(),
    "run",
    "-A",
    "--config",
    DENO_JSON,
    CLIENT,
    JSON.stringify(specs),
  ]);
  return JSON.parse(out) as unknown[];
}

/** GETs every node's `/metrics` from a client on `from` (metrics listen on the node IPs). */
async function metricsOf(from: TempNetns, nodes: readonly Node[]): Promise<string[]> {
  const [bodies] = await client(from, [{
    mode: "get",
    urls: nodes.map((n) => `http://${n.ip}:${METRICS_PORT}/metrics`),
  }]);
  return bodies as ClientResults["get"] as string[];
}

/** Sum of the samples of `name` whose labels include `labels` (Prometheus text format). */
function metric(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

/** Starts `backend.ts` in `ns` and waits for its `ready` line. */
async function startBackend(ns: TempNetns, name: string, addr: string): Promise<AsyncDisposable> {
  const child = await spawnReady(
    ns,
    [Deno.execPath(), "run", "-A", "--config", DENO_JSON, BACKEND, name, addr],
    `Backend ${name}`,
  );
  return {
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      await child.status;
    },
  };
}

/** One node's agent config: tunnel on the node IP, metrics on the node IP (for the test). */
function agentConfig(
  node: Node,
  name: string,
  dir: string,
  keyFile: string,
  tls?: NodeTls,
): Record<string, unknown> {
  return {
    nodeName: name,
    // Two proxy threads from the start: the worker dials peers through its own tunnel
    // connections, and its metrics and logs reach the main thread.
    proxyThreads: 2,
    tunnelKeyFile: keyFile,
    tunnelListen: `${node.ip}:${TUNNEL_PORT}`,
    metricsListen: `${node.ip}:${METRICS_PORT}`,
    resolvConf: join(dir, "resolv.conf"),
    ...(tls ? { tunnelTLS: tls } : {}),
  };
}

/** Makes `<top>/<name>` with a resolv.conf and the shared key; returns the dir. */
async function nodeDir(top: string, name: string, key: Uint8Array): Promise<string> {
  const dir = join(top, name);
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "resolv.conf"), "nameserver 127.0.0.53\n");
  await Deno.writeFile(join(dir, "cluster.key"), key, { mode: 0o600 });
  return dir;
}

function randomKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(48));
}

/** The VIP A's agent gave `name`, read with `ctl get services -o json`. */
async function vipOf(agent: AgentProcess, name: string): Promise<string> {
  const services = JSON.parse(await ctl(agent, ["get", "services", "-o", "json"])) as {
    name: string;
    vip: string | null;
  }[];
  const vip = services.find((s) => s.name === name)?.vip;
  assert.ok(vip, `"${name}" has a VIP on A: ${JSON.stringify(services)}`);
  return vip;
}

/**
 * The serial (hex) of the certificate served at `host:port`, as `openssl s_client` in `ns` sees
 * it, verified against `caFile` and for the IP address `host` (as the tunnel dialer does).
 */
async function servedSerial(
  ns: TempNetns,
  host: string,
  port: number,
  caFile: string,
): Promise<string> {
  const verify = `-CAfile ${caFile} -verify_ip ${host} -verify_return_error`;
  const out = await ns.run([
    "sh",
    "-c",
    `openssl s_client -connect ${host}:${port} ${verify} </dev/null 2>/dev/null |
      openssl x509 -noout -serial`,
  ]);
  return out.trim().replace(/^serial=/, "");
}

function namesOf(results: readonly NameResult[]): string[] {
  return results.map((r) => "name" in r ? r.name : `error: ${r.error}`);
}

Deno.test({
  name: "agents on three nodes carry a service through authenticated HTTP/2 tunnels",
  ignore: !NETNS_AVAILABLE,
  async fn(t) {
    await using lan = await createLan("agtun", 3, 81);
    const [a, b, c] = lan.nodes as [Node, Node, Node];
    const top = await Deno.makeTempDir({ prefix: "em-agtun-" });
    const agents: AgentProcess[] = [];
    const backends: AsyncDisposable[] = [];
    try {
      const key = randomKey();
      const dirs = {
        a: await nodeDir(top, "a", key),
        b: await nodeDir(top, "b", key),
        c: await nodeDir(top, "c", key),
      };
      backends.push(
        await startBackend(await privately(b, "b"), "b", `${LOOPBACK.b}:${BACKEND_PORT}`),
        await startBackend(await privately(c, "c"), "c", `${LOOPBACK.c}:${BACKEND_PORT}`),
      );
      const start = (
        node: Node,
        name: "a" | "b" | "c",
        keyFile = join(dirs[name], "cluster.key"),
      ) =>
        startAgent({
          netns: node,
          dir: dirs[name],
          config: agentConfig(node, name, dirs[name], keyFile),
        });
      const started = await Promise.allSettled([start(a, "a"), start(b, "b"), start(c, "c")]);
      for (const s of started) if (s.status === "fulfilled") agents.push(s.value);
      for (const s of started) if (s.status === "rejected") throw s.reason;
      let [agentA, agentB, agentC] = agents as [AgentProcess, AgentProcess, AgentProcess];
      assert.match(agentA.logs(), /TUNNEL TRAFFIC IS NOT ENCRYPTED/);

      // The same objects go to every agent, as KubeEdge sends them to every node.
      const manifest = join(top, "manifests.json");
      await Deno.writeTextFile(
        manifest,
        JSON.stringify(manifests(lan, { echo: ["b", "c"], solo: ["b"] })),
      );
      await Promise.all(agents.map((ag) => ctl(ag, ["apply", "-f", manifest])));
      const echoAddr = `${await vipOf(agentA, "echo")}:80`;
      const soloAddr = `${await vipOf(agentA, "solo")}:80`;

      await t.step("connections from A reach B and C in turn, through the tunnels", async () => {
        const [res] = await client(a, [{ mode: "names", addr: echoAddr, count: 6 }]);
        const names = namesOf((res as ClientResults["names"]).names);
        assert.deepEqual([...names].sort(), ["b", "b", "b", "c", "c", "c"], names.join(","));
        for (let i = 1; i < names.length; i++) {
          assert.notEqual(names[i], names[i - 1], `round robin alternates: ${names.join(",")}`);
        }
        // Both peers served the streams, and A sees them as tunnel peers learnt from Nodes.
        const [mB, mC] = await metricsOf(a, [b, c]);
        const inOk = { direction: "in", result: "ok" };
        assert.equal(metric(mB!, "edgemesh_tunnel_streams_total", inOk), 3);
        assert.equal(metric(mC!, "edgemesh_tunnel_streams_total", inOk), 3);
        const status = JSON.parse(await ctl(agentA, ["status", "-o", "json"]));
        const peers = JSON.stringify(status);
        assert.match(peers, new RegExp(`"${b.ip.replaceAll(".", "\\.")}:${TUNNEL_PORT}"`));
        assert.match(peers, new RegExp(`"${c.ip.replaceAll(".", "\\.")}:${TUNNEL_PORT}"`));
      });

      await t.step("100 MiB are echoed through the tunnel byte-exact", async () => {
        const [res] = await client(a, [{ mode: "echo", addr: soloAddr, bytes: 100 * MiB }]);
        const r = res as ClientResults["echo"];
        assert.equal(r.name, "b");
        assert.equal(r.sent, 100 * MiB);
        assert.equal(r.received, 100 * MiB);
        assert.equal(r.receivedSha256, r.sentSha256);
      });

      await t.step(
        "a stalled stream does not block another on the same peer connection",
        async () => {
          const [res] = await client(a, [{ mode: "stall", addr: soloAddr }]);
          const r = res as ClientResults["stall"];
          // Round trips completed while the stalled stream (past the 1 MiB HTTP/2 window) was stuck.
          assert.ok(r.stalledBytes > 2 * MiB, JSON.stringify(r));
          assert.ok(r.roundTrips >= 3, JSON.stringify(r));
        },
      );

      await t.step("a peer refuses an endpoint that is not on its node", async () => {
        const target = (node: string, ip: string) => ({
          node,
          namespace: "default",
          service: "echo",
          port: 80,
          endpoint: { ip, port: BACKEND_PORT },
        });
        const [res] = await client(a, [{
          mode: "dial",
          keyFile: join(dirs.a, "cluster.key"),
          peers: { b: `${b.ip}:${TUNNEL_PORT}`, c: `${c.ip}:${TUNNEL_PORT}` },
          // C's endpoint asked of B (correctly signed), then of C; then B's own loopback
          // (its backend port, and its metrics on 127.0.0.1): never served to peers.
          targets: [
            target("b", LOOPBACK.c!),
            target("c", LOOPBACK.c!),
            target("b", "127.0.0.1"),
            { ...target("b", "127.0.0.1"), endpoint: { ip: "127.0.0.1", port: METRICS_PORT } },
          ],
        }]);
        assert.deepEqual(res, [
          { error: "endpoint-not-local" },
          { reply: "c" },
          { error: "endpoint-not-local" },
          { error: "endpoint-not-local" },
        ]);
        const [mB] = await metricsOf(a, [b]);
        assert.equal(
          metric(mB!, "edgemesh_tunnel_refusals_total", { reason: "endpoint-not-local" }),
          3,
        );
      });

      await t.step("with B's agent stopped, new connections from A go to C", async () => {
        assert.equal(await agentB.stop("SIGTERM"), 0, agentB.logs());
        const [res] = await client(a, [{ mode: "names", addr: echoAddr, count: 4 }]);
        assert.deepEqual(namesOf((res as ClientResults["names"]).names), ["c", "c", "c", "c"]);
      });

      await t.step("an agent with the wrong key is refused", async () => {
        const [before] = await metricsOf(a, [c]);
        assert.equal(metric(before!, "edgemesh_tunnel_auth_failures_total"), 0);
        assert.equal(await agentA.stop("SIGTERM"), 0, agentA.logs());
        const wrongKey = join(dirs.a, "wrong.key");
        await Deno.writeFile(wrongKey, randomKey(), { mode: 0o600 });
        // Same state dir: the services keep their VIPs and the Node objects their peers.
        agentA = await startAgent({
          netns: a,
          dir: dirs.a,
          config: { ...agentConfig(a, "a", dirs.a, wrongKey), logLevel: "debug" },
        });
        agents.push(agentA);
        const [res] = await client(a, [{ mode: "names", addr: echoAddr, count: 2 }]);
        for (const r of (res as ClientResults["names"]).names) {
          assert.ok("error" in r, `refused, not answered: ${JSON.stringify(res)}`);
        }
        const [after, mA] = await metricsOf(a, [c, a]);
        assert.ok(metric(after!, "edgemesh_tunnel_auth_failures_total") >= 2, after);
        assert.ok(
          metric(mA!, "edgemesh_tunnel_streams_total", { direction: "out", result: "refused" }) >=
            2,
          mA,
        );
        assert.match(agentA.logs(), /unauthenticated/);
      });
      void agentC;
    } finally {
      for (const ag of agents) await ag[Symbol.asyncDispose]();
      for (const be of backends) await be[Symbol.asyncDispose]();
      await Deno.remove(top, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "agents carry traffic through the tunnel over TLS with per-node certificates; a renewed certificate is served without a restart",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using lan = await createLan("agtls", 2, 82);
    const [a, b] = lan.nodes as [Node, Node];
    const top = await Deno.makeTempDir({ prefix: "em-agtls-" });
    const agents: AgentProcess[] = [];
    let backend: AsyncDisposable | null = null;
    try {
      const key = randomKey();
      const dirs = { a: await nodeDir(top, "a", key), b: await nodeDir(top, "b", key) };
      const pki = join(top, "pki");
      await Deno.mkdir(pki);
      const tls = await makeNodeTls(pki, [{ name: "a", ip: a.ip }, { name: "b", ip: b.ip }]);
      backend = await startBackend(await privately(b, "b"), "b", `${LOOPBACK.b}:${BACKEND_PORT}`);
      const started = await Promise.allSettled(
        ([[a, "a"], [b, "b"]] as const).map(([node, name]) =>
          startAgent({
            netns: node,
            dir: dirs[name],
            config: agentConfig(node, name, dirs[name], join(dirs[name], "cluster.key"), tls[name]),
          })
        ),
      );
      for (const s of started) if (s.status === "fulfilled") agents.push(s.value);
      for (const s of started) if (s.status === "rejected") throw s.reason;
      const [agentA, agentB] = agents as [AgentProcess, AgentProcess];
      assert.doesNotMatch(agentA.logs(), /NOT ENCRYPTED/);

      const manifest = join(top, "manifests.json");
      await Deno.writeTextFile(manifest, JSON.stringify(manifests(lan, { solo: ["b"] })));
      await Promise.all(agents.map((ag) => ctl(ag, ["apply", "-f", manifest])));
      const addr = `${await vipOf(agentA, "solo")}:80`;
      // Several echoes: each stream's end (FIN both ways, then both bodies end) must not lose
      // the tail of the data the proxy has not read yet.
      const [names, ...echoes] = await client(a, [
        { mode: "names", addr, count: 3 },
        ...Array.from({ length: 10 }, () => ({ mode: "echo" as const, addr, bytes: MiB })),
      ]);
      assert.deepEqual(namesOf((names as ClientResults["names"]).names), ["b", "b", "b"]);
      for (const echoed of echoes) {
        const e = echoed as ClientResults["echo"];
        assert.equal(e.received, MiB);
        assert.equal(e.receivedSha256, e.sentSha256);
      }
      const status = JSON.parse(await ctl(agentA, ["status", "-o", "json"]));
      assert.match(status.tunnel.detail, /^TLS/);
      const [mB] = await metricsOf(a, [b]);
      assert.equal(
        metric(mB!, "edgemesh_tunnel_streams_total", { direction: "in", result: "ok" }),
        13,
      );

      // B's certificate is renewed in place (new key, serial 9, a day longer), as cert-manager
      // or a renewal script does: each file replaced by a rename. B serves it to new
      // connections without a restart; A's open connection to B goes on.
      const expiresOf = async () =>
        JSON.parse(await ctl(agentB, ["status", "-o", "json"])).tunnel.certificateExpiresAt;
      const before = await expiresOf();
      const renewed = await makeServerCert(pki, {
        name: "b-renewed",
        commonName: "b",
        ips: [b.ip],
        serial: 9,
        days: 2,
      });
      await Deno.rename(renewed.keyFile, tls.b!.keyFile);
      await Deno.rename(renewed.certFile, tls.b!.certFile);
      const after = await pollUntil(
        async () => {
          const now = await expiresOf();
          return now !== before ? now : null;
        },
        () => `B to load the renewed certificate (expiry still ${before})`,
        25_000,
        250,
      );
      assert.ok(Date.parse(after) > Date.parse(before), `${after} after ${before}`);
      assert.equal(await servedSerial(a, b.ip, TUNNEL_PORT, tls.b!.caFile), "09");
      const [again] = await client(a, [{ mode: "names", addr, count: 3 }]);
      assert.deepEqual(namesOf((again as ClientResults["names"]).names), ["b", "b", "b"]);
      assert.match(agentB.logs(), /tunnel TLS files reloaded/);
    } finally {
      for (const ag of agents) await ag[Symbol.asyncDispose]();
      await backend?.[Symbol.asyncDispose]();
      await Deno.remove(top, { recursive: true });
    }
  },
});

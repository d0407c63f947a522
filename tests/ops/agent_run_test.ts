// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The real agent (`main.ts run`) under exactly the production permission flags
 * (scripts/permissions.ts) and exactly the systemd unit's capabilities (setpriv), inside a
 * throwaway network namespace: a missing permission or capability fails here, not on a device.
 */
import assert from "node:assert/strict";
import { createNetns, NETNS_AVAILABLE, type TempNetns } from "../_helpers/netns.ts";
import { denoRunArgs, startAgent, UNIT_CAPABILITIES } from "../_helpers/agent.ts";
import { permissionFlags } from "../../scripts/permissions.ts";
import { NOT_CAPABLE_HINT } from "../../lib/cli/permission_error.ts";

const HAS_SETPRIV = (() => {
  try {
    return new Deno.Command("setpriv", { args: ["--version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

const MANIFESTS = [
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "default" },
    spec: {
      selector: { app: "web" },
      ports: [{ name: "http", protocol: "TCP", port: 80, targetPort: 8080 }],
    },
  },
  {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: "web", namespace: "default" },
    subsets: [{
      addresses: [{ ip: "10.254.0.1", nodeName: "node-a" }],
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    }],
  },
];

/** Runs `main.ts ctl …` under the production flags, inside `ns`, as the binary would. */
async function ctl(
  ns: TempNetns,
  socket: string,
  flags: readonly string[],
  args: string[],
): Promise<string> {
  return await ns.run([
    ...UNIT_CAPABILITIES,
    Deno.execPath(),
    ...denoRunArgs(flags, ["ctl", "--socket", socket, ...args]),
  ]);
}

/** GETs a path on the agent's metrics server from inside `ns`; returns status and body. */
async function probe(ns: TempNetns, addr: string, path: string) {
  const out = await ns.run([
    Deno.execPath(),
    "eval",
    `const r = await fetch("http://${addr}${path}"); ` +
    `console.log(JSON.stringify({ status: r.status, type: r.headers.get("content-type"), ` +
    `body: await r.text() }));`,
  ]);
  return JSON.parse(out) as { status: number; type: string | null; body: string };
}

Deno.test({
  name: "main.ts run serves ctl and keeps VIPs across a restart under production permissions",
  ignore: !NETNS_AVAILABLE || !HAS_SETPRIV,
  async fn() {
    await using ns = await createNetns("agent");
    const dir = await Deno.makeTempDir({ prefix: "em-run-" });
    try {
      const config = { nodeName: "node-a", resolvConf: `${dir}/resolv.conf` };
      await Deno.writeTextFile(config.resolvConf, "nameserver 127.0.0.53\n");
      const manifest = `${dir}/web.json`;
      await Deno.writeTextFile(manifest, JSON.stringify({ kind: "List", items: MANIFESTS }));

      let vip: string;
      {
        await using agent = await startAgent({
          config,
          dir,
          netns: ns,
          prefix: UNIT_CAPABILITIES,
        });
        const flags = permissionFlags({
          stateDir: agent.stateDir,
          runtimeDir: `${dir}/run`,
          resolvConf: config.resolvConf,
        });
        assert.deepEqual(agent.flags, flags);

        const applied = await ctl(ns, agent.socketPath, flags, ["apply", "-f", manifest]);
        assert.match(applied, /web/);
        const services = JSON.parse(
          await ctl(ns, agent.socketPath, flags, ["get", "services", "-o", "json"]),
        ) as { name: string; vip: string | null; endpoints: { ip: string }[] }[];
        const web = services.find((s) => s.name === "web");
        assert.ok(web?.vip, `web has a VIP: ${JSON.stringify(services)}`);
        vip = web.vip;
        assert.deepEqual(web.endpoints.map((e) => e.ip), ["10.254.0.1"]);

        assert.equal(await agent.stop("SIGTERM"), 0, agent.logs());
        assert.match(agent.logs(), /msg="agent stopped"/);
        assert.doesNotMatch(agent.logs(), /NotCapable|PermissionDenied|Operation not permitted/);
      }

      // Restarted on the same state, the service keeps its VIP before anything is re-sent.
      await using again = await startAgent({ config, dir, netns: ns, prefix: UNIT_CAPABILITIES });
      const flags = permissionFlags({
        stateDir: again.stateDir,
        runtimeDir: `${dir}/run`,
        resolvConf: config.resolvConf,
      });
      const after = JSON.parse(
        await ctl(ns, again.socketPath, flags, ["get", "services", "-o", "json"]),
      ) as { name: string; vip: string | null }[];
      assert.equal(after.find((s) => s.name === "web")?.vip, vip);
      assert.equal(await again.stop("SIGTERM"), 0, again.logs());
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "main.ts run serves /healthz, /readyz and /metrics under production permissions",
  ignore: !NETNS_AVAILABLE || !HAS_SETPRIV,
  async fn() {
    await using ns = await createNetns("agmet");
    const dir = await Deno.makeTempDir({ prefix: "em-run-" });
    try {
      const config = {
        nodeName: "node-a",
        metricsListen: "127.0.0.1:9560",
        resolvConf: `${dir}/resolv.conf`,
      };
      await Deno.writeTextFile(config.resolvConf, "nameserver 127.0.0.53\n");
      const manifest = `${dir}/web.json`;
      await Deno.writeTextFile(manifest, JSON.stringify({ kind: "List", items: MANIFESTS }));
      await using agent = await startAgent({ config, dir, netns: ns, prefix: UNIT_CAPABILITIES });
      const flags = permissionFlags({
        stateDir: agent.stateDir,
        runtimeDir: `${dir}/run`,
        resolvConf: config.resolvConf,
      });
      await ctl(ns, agent.socketPath, flags, ["apply", "-f", manifest]);

      const health = await probe(ns, config.metricsListen, "/healthz");
      assert.equal(health.status, 200, agent.logs());
      const metrics = await probe(ns, config.metricsListen, "/metrics");
      assert.equal(metrics.status, 200);
      assert.equal(metrics.type, "text/plain; version=0.0.4; charset=utf-8");
      assert.match(metrics.body, /^edgemesh_process_resident_memory_bytes \d+$/m);
      assert.match(metrics.body, /^edgemesh_build_info\{.*version="[^"]+".*\} 1$/m);
      // From a git checkout, as here, the commit is known (empty otherwise).
      assert.match(metrics.body, /^edgemesh_build_info\{.*commit="[0-9a-f]{40}".*\} 1$/m);
      assert.match(metrics.body, /^edgemesh_registry_services\b.* 1$/m);
      const ready = await probe(ns, config.metricsListen, "/readyz");
      assert.equal(ready.status, 200, ready.body);
      // The four checks the README documents, in its order.
      assert.equal(
        ready.body.trimEnd(),
        "[+]device ok\n[+]listeners ok\n[+]control ok\n[+]sync ok\nreadyz check passed",
      );
      assert.equal(await agent.stop("SIGTERM"), 0, agent.logs());
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "main.ts run under production permissions says a refused write in its own words",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("noperm");
    const dir = await Deno.makeTempDir({ prefix: "em-run-" });
    try {
      // Flags for <dir>/state, but the agent is told to keep its state elsewhere: the write
      // fails, as it does for a compiled binary whose built-in paths the config moved away from.
      const flags = permissionFlags({ stateDir: `${dir}/state`, runtimeDir: `${dir}/run` });
      const out = await new Deno.Command("ip", {
        args: [
          ...["netns", "exec", ns.name, Deno.execPath()],
          ...denoRunArgs(flags, [
            "run",
            ...["--state-dir", `${dir}/other`, "--control-socket", `${dir}/run/em.sock`],
            ...["--node-name", "n1", "--metrics-listen", ""],
          ]),
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      const said = stderr.split("\n").filter((l) => l.startsWith("edgemesh: "));
      assert.deepEqual(said, [
        `edgemesh: not permitted to write "${dir}/other" (not a path this edgemesh's ` +
        "permission flags allow)",
        NOT_CAPABLE_HINT.trimEnd(),
      ]);
      // Deno's own advice (add --allow-write) is impossible for a compiled binary.
      assert.doesNotMatch(stderr, /run again with|Requires write access/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

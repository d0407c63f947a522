// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { type AgentComponent, Reconciler, runAgent } from "../../lib/agent/mod.ts";
import { buildInfo } from "../../lib/cli/mod.ts";
import type { Config } from "../../lib/config/mod.ts";
import { buildMessage, ControlClient, type StatusInfo } from "../../lib/control/mod.ts";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import { fakeIp, inProcessAgentConfig } from "../_helpers/fake_ip.ts";
import { EMPTY_SNAPSHOT, type Snapshot, StateDirBusyError } from "../../lib/registry/mod.ts";

/** Starts the agent; resolves once it is ready (or rejects if start-up fails). */
function start(config: Config, log = nullLogger, now?: () => number) {
  const ac = new AbortController();
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const ip = fakeIp();
  const done = runAgent({
    config,
    log,
    signal: ac.signal,
    onReady: ready,
    ...(now ? { now } : {}),
    exec: ip,
    deviceAddresses: (d) => ip.links.get(d)?.addresses ?? new Set(),
    deviceUp: (d) => ip.links.get(d)?.up ?? null,
  });
  const readyOrFailed = Promise.race([
    readyP,
    done.then(() => Promise.reject(new Error("stopped early"))),
  ]);
  readyOrFailed.catch(() => {}); // observed through `done` when the test does not await it
  return {
    ready: readyOrFailed,
    done,
    stop: () => ac.abort(),
  };
}

const svc = {
  metadata: { name: "web", namespace: "default" },
  spec: { ports: [{ name: "http", port: 80, targetPort: 8080 }] },
};

Deno.test("runAgent() serves the control socket, keeps state across restarts, stops on abort", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-agent-" });
  try {
    const config = inProcessAgentConfig(dir);
    const log = memoryLogger("info");
    // The agent's clock, a minute ahead for the re-sent object below.
    let skew = 0;
    const a = start(config, log, () => Date.now() + skew);
    await a.ready;
    const client = await ControlClient.connect(config.controlSocket);
    const insert = () =>
      client.send(
        buildMessage({ operation: "insert", resource: "default/service/web", content: svc }),
      );
    const applied = await insert();
    assert.deepEqual(applied.ok, true);
    const query = async () =>
      (await client.send(buildMessage({ operation: "query", resource: "*/status/*" })))
        .content as StatusInfo;
    const s = await query();
    // The same object again, a minute later: `lastMessage` moves, `lastSync` (a change) stays.
    skew = 60_000;
    const resent = await insert();
    assert.deepEqual([resent.ok, resent.unchanged], [true, true]);
    const again = await query();
    await client.close();
    assert.equal(typeof s.lastMessage, "string");
    assert.equal(again.lastSync, s.lastSync);
    assert.ok(
      Date.parse(again.lastMessage!) - Date.parse(s.lastMessage!) >= 60_000,
      JSON.stringify([s.lastMessage, again.lastMessage]),
    );
    assert.equal(s.node, "edge-test");
    // The commit it runs, as `edgemesh version` finds it (this checkout's HEAD; none without .git).
    const build = buildInfo();
    assert.deepEqual(
      s.build,
      build.commit === null ? undefined : { commit: build.commit, source: build.source },
    );
    assert.deepEqual(s.counts, { services: 1, endpoints: 0, vips: 1, nodes: 0 });
    assert.equal(typeof s.lastSync, "string");
    assert.deepEqual(s.tunnel, { state: "off", detail: "no tunnelKeyFile" });
    assert.equal(s.proxy?.state, "up");
    assert.match(
      s.proxy?.detail ?? "",
      /^(1 thread|1 of \d+ threads \(the others start when busy\)), (epoll|deno) sockets$/,
    );
    // Applied means durable; reconciled (live) catches up without passing the registry.
    assert.equal(typeof s.reconciledVersion, "number");
    assert.ok(s.reconciledVersion! <= s.registryVersion!, JSON.stringify(s));
    a.stop();
    await a.done;
    await assert.rejects(() => Deno.lstat(config.controlSocket), Deno.errors.NotFound);
    const msgs = log.lines.map((l) => JSON.parse(l).msg);
    for (const m of ["agent starting", "agent ready", "agent stopping", "agent stopped"]) {
      assert.ok(msgs.includes(m), `missing log line ${m}: ${msgs.join(", ")}`);
    }

    // Restart on the same state: the service is back on its VIP before anyone sends anything.
    const b = start(config);
    await b.ready;
    const c2 = await ControlClient.connect(config.controlSocket);
    const get = await c2.send(buildMessage({ operation: "query", resource: "*/services/*" }));
    await c2.close();
    b.stop();
    await b.done;
    assert.deepEqual((get.content as { name: string; vip: string }[]).map((v) => [v.name, v.vip]), [
      ["web", "127.77.0.2"],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runAgent() refuses to start while another agent serves the socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-agent-" });
  try {
    const first = start(inProcessAgentConfig(dir));
    await first.ready;
    const second = start({ ...inProcessAgentConfig(dir), stateDir: `${dir}/state2` });
    await assert.rejects(() => second.done, { name: "SocketInUseError" });
    // The first agent is unaffected.
    const client = await ControlClient.connect(inProcessAgentConfig(dir).controlSocket);
    const r = await client.send(buildMessage({ operation: "query", resource: "*/status/*" }));
    await client.close();
    assert.equal(r.ok, true);
    first.stop();
    await first.done;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runAgent() refuses to start on a stateDir another agent uses", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-agent-" });
  try {
    const first = start(inProcessAgentConfig(dir));
    await first.ready;
    const second = start({ ...inProcessAgentConfig(dir), controlSocket: `${dir}/run/second.sock` });
    await assert.rejects(() => second.done, (e: unknown) => {
      assert.ok(e instanceof StateDirBusyError);
      assert.match(e.message, new RegExp(`another edgemesh agent \\(pid ${Deno.pid}\\)`));
      return true;
    });
    first.stop();
    await first.done;
    // Released on exit: the next agent starts on it.
    const third = start(inProcessAgentConfig(dir));
    await third.ready;
    third.stop();
    await third.done;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runAgent() shows in ctl status that the state was damaged at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-agent-" });
  try {
    await Deno.mkdir(`${dir}/state`, { recursive: true });
    await Deno.writeTextFile(`${dir}/state/state.json`, "{ not json");
    const agent = start(inProcessAgentConfig(dir));
    await agent.ready;
    const client = await ControlClient.connect(inProcessAgentConfig(dir).controlSocket);
    const r = await client.send(buildMessage({ operation: "query", resource: "*/status/*" }));
    await client.close();
    const warning = (r.content as StatusInfo).stateWarning ?? "";
    assert.match(warning, /state\.json" is unreadable .*started with an empty registry/);
    agent.stop();
    await agent.done;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runAgent() refuses an unusable tunnel key before it touches the device", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-agent-" });
  try {
    const ip = fakeIp();
    const config = inProcessAgentConfig(dir, {
      tunnelKeyFile: `${dir}/missing.key`,
      tunnelListen: "127.0.0.1:0",
    });
    const run = runAgent({
      config,
      log: nullLogger,
      signal: new AbortController().signal,
      exec: ip,
    });
    await assert.rejects(
      run,
      /^TunnelSetupError: Cannot load tunnel key ".*missing\.key" \(tunnelKeyFile\): file does not exist/,
    );
    assert.deepEqual(ip.calls, [], "no ip command ran");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function snap(version: number): Snapshot {
  return { ...EMPTY_SNAPSHOT, version };
}

Deno.test("Reconciler updates components in order with the newest snapshot", async () => {
  const seen: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let firstCall = true;
  let sawThree!: () => void;
  const third = new Promise<void>((r) => (sawThree = r));
  const components: AgentComponent[] = [
    {
      name: "netdev",
      async update(s) {
        seen.push(`netdev ${s.version}`);
        if (firstCall) {
          firstCall = false;
          await gate; // hold the first reconcile while more snapshots arrive
        }
      },
      close() {},
    },
    {
      name: "broken",
      update() {
        throw new Error("boom");
      },
      close() {},
    },
    {
      name: "proxy",
      update: (s) => {
        seen.push(`proxy ${s.version}`);
        if (s.version === 3) sawThree();
      },
      close() {},
    },
  ];
  const log = memoryLogger("error");
  const r = new Reconciler(components, log);
  r.push(snap(1));
  await Promise.resolve();
  r.push(snap(2));
  r.push(snap(3)); // 2 is superseded before it starts
  release();
  await third;
  await r.settled(3);
  // "broken" fails every pass: passes finish, but none counts as applied.
  assert.equal(r.appliedVersion, -1);
  assert.deepEqual(r.failures, [{ component: "broken", version: 3, error: "boom" }]);
  await r.stop();
  assert.deepEqual(seen, ["netdev 1", "proxy 1", "netdev 3", "proxy 3"]);
  assert.equal(log.lines.length, 2);
  assert.equal(JSON.parse(log.lines[0]!).failed, "broken");
});

Deno.test("Reconciler retries a failed pass until it succeeds, with a growing delay", async () => {
  let calls = 0;
  let succeeded!: () => void;
  const ok = new Promise<void>((r) => (succeeded = r));
  const passes: boolean[] = [];
  const components: AgentComponent[] = [{
    name: "netdev",
    update: (_s, pass) => {
      passes.push(pass.resync);
      if (++calls <= 2) throw new RangeError(`device gone (${calls})\nsecond line\n`);
      succeeded();
    },
    close() {},
  }];
  const log = memoryLogger("debug");
  const r = new Reconciler(components, log, { retryMs: 1 });
  r.push(snap(7));
  await r.settled(7);
  assert.equal(r.appliedVersion, -1);
  assert.deepEqual(r.failures, [
    { component: "netdev", version: 7, error: "device gone (1); second line" },
  ]);
  await ok; // two retries later, without any new snapshot
  await r.settled(7);
  await r.stop();
  assert.equal(r.appliedVersion, 7);
  assert.deepEqual(r.failures, []);
  assert.deepEqual(passes, [false, true, true], "retries are full passes");
  const delays = log.lines.map((l) => JSON.parse(l))
    .filter((l) => l.msg === "reconcile retry scheduled").map((l) => l.inSeconds);
  assert.deepEqual(delays, [0.001, 0.002]);
});

Deno.test("Reconciler.resync() re-runs the newest snapshot as a full pass", async () => {
  const passes: string[] = [];
  let done!: () => void;
  const twice = new Promise<void>((r) => (done = r));
  const components: AgentComponent[] = [{
    name: "probe",
    update: (s, pass) => {
      passes.push(`${s.version}${pass.resync ? " resync" : ""}`);
      if (passes.length === 2) done();
    },
    close() {},
  }];
  // A resync period is set, so stop() must also clear its timer (the sanitizer checks).
  const r = new Reconciler(components, nullLogger, { resyncMs: 3_600_000 });
  r.resync(); // nothing pushed yet: no-op
  r.push(snap(4));
  await r.settled(4);
  r.resync();
  await twice;
  await r.stop();
  assert.deepEqual(passes, ["4", "4 resync"]);
});

Deno.test("runAgent() stopped while it sets up the device skips the rest of the start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-agent-" });
  try {
    const config = inProcessAgentConfig(dir);
    const log = memoryLogger("info");
    const ac = new AbortController();
    const ip = fakeIp();
    // SIGTERM arrives while the persisted VIPs go on the device (it lists its addresses).
    const exec = {
      run: (argv: readonly string[], o?: { stdin?: string; signal?: AbortSignal }) => {
        if (argv.join(" ").startsWith("ip -json addr show")) ac.abort();
        return ip.run(argv, o);
      },
    };
    let ready = false;
    await runAgent({
      config,
      log,
      signal: ac.signal,
      onReady: () => (ready = true),
      exec,
      deviceAddresses: (d) => ip.links.get(d)?.addresses ?? new Set(),
      deviceUp: (d) => ip.links.get(d)?.up ?? null,
    });
    assert.equal(ready, false);
    const msgs = log.lines.map((l) => JSON.parse(l).msg);
    assert.ok(!msgs.includes("agent ready"), msgs.join(", "));
    assert.ok(!msgs.includes("DNS server listening"), msgs.join(", "));
    assert.deepEqual(msgs.slice(-1), ["agent stopped"]);
    assert.ok(msgs.includes("agent stopping"), msgs.join(", "));
    await assert.rejects(() => Deno.lstat(config.controlSocket), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runAgent() stopped while it reads the device puts no address on it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqa-agent-" });
  try {
    // A dnsListen address the device must carry (not loopback): one `ip -batch -` at start.
    const config = { ...inProcessAgentConfig(dir), dnsListen: ["192.0.2.53:0"] };
    const log = memoryLogger("info");
    const ac = new AbortController();
    const ip = fakeIp();
    const exec = {
      run: (argv: readonly string[], o?: { stdin?: string; signal?: AbortSignal }) => {
        if (argv.join(" ").startsWith("ip -json addr show")) ac.abort(); // SIGTERM now
        return ip.run(argv, o);
      },
    };
    await runAgent({
      config,
      log,
      signal: ac.signal,
      exec,
      deviceAddresses: (d) => ip.links.get(d)?.addresses ?? new Set(),
      deviceUp: (d) => ip.links.get(d)?.up ?? null,
    });
    const after = ip.calls.slice(
      ip.calls.findIndex((c) => c.join(" ").startsWith("ip -json addr")),
    );
    assert.deepEqual(after.map((c) => c.join(" ")), [
      "ip -json addr show dev edge0",
      "ip link del dev edge0", // the exit path; no `ip -batch -` in between
    ]);
    const lines = log.lines.map((l) => JSON.parse(l));
    assert.ok(!lines.some((l) => l.level === "error"), JSON.stringify(lines));
    assert.ok(lines.some((l) => l.msg === "agent stopping" && l.ready === false));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Reconciler stops a pass between components once its signal aborts, without a failure", async () => {
  const ac = new AbortController();
  const seen: string[] = [];
  const components: AgentComponent[] = [
    {
      name: "netdev",
      update(s) {
        seen.push(`netdev ${s.version}`);
        if (s.version === 2) {
          ac.abort(); // SIGTERM while its `ip` batches run: it stops between them
          throw new Error("stopped between batches");
        }
      },
      close() {},
    },
    { name: "proxy", update: (s) => void seen.push(`proxy ${s.version}`), close() {} },
  ];
  const log = memoryLogger("info");
  const r = new Reconciler(components, log, { signal: ac.signal, retryMs: 1 });
  r.push(snap(1));
  await r.settled(1);
  r.push(snap(2));
  await r.settled(2); // resolves: the reconciler stopped
  r.push(snap(3)); // no pass after the stop
  await r.stop();
  assert.deepEqual(seen, ["netdev 1", "proxy 1", "netdev 2"]);
  assert.equal(r.appliedVersion, 1);
  assert.deepEqual(r.failures, []);
  const lines = log.lines.map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.at]), [
    ["info", "reconcile pass stopped: the agent is stopping", "netdev"],
  ]);
});

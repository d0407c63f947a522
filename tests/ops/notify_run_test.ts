// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The real agent (`main.ts run`) under the production permission flags and the unit's
 * capabilities, inside a throwaway network namespace, with `NOTIFY_SOCKET` pointing at a socket
 * file this test binds, as systemd does for a `Type=notify` unit (`sd_notify(3)`).
 */
import assert from "node:assert/strict";
import { createNetns, NETNS_AVAILABLE, type TempNetns } from "../_helpers/netns.ts";
import { type AgentProcess, startAgent, UNIT_CAPABILITIES } from "../_helpers/agent.ts";
import { listenNotify, type NotifyListener } from "../_helpers/notify_receiver.ts";
import { EMULATED } from "../_helpers/emulation.ts";

const HAS_SETPRIV = (() => {
  try {
    return new Deno.Command("setpriv", { args: ["--version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

/** Failure bound of each wait (emulated ARM64 is about ten times slower). */
const BOUND_MS = EMULATED ? 120_000 : 30_000;

/** When the agent logged `msg` (its `ts=` field), ms since the epoch. */
function loggedAt(agent: AgentProcess, msg: string): number {
  const line = agent.logs().split("\n").find((l) => l.includes(`msg="${msg}"`));
  assert.ok(line, `the agent logged "${msg}":\n${agent.logs()}`);
  return Date.parse(/\bts=(\S+)/.exec(line)![1]!);
}

/** GETs `/readyz` from inside `ns`; returns the status code. */
async function readyz(ns: TempNetns, addr: string): Promise<number> {
  const out = await ns.run([
    Deno.execPath(),
    "eval",
    `const r = await fetch("http://${addr}/readyz"); await r.body?.cancel(); console.log(r.status);`,
  ]);
  return Number(out.trim());
}

/** Starts the agent in `ns` with `NOTIFY_SOCKET` (and `env`) set; everything under `dir`. */
function start(ns: TempNetns, dir: string, notify: NotifyListener, env: Record<string, string>) {
  return startAgent({
    config: { nodeName: "node-a", resolvConf: `${dir}/resolv.conf` },
    dir,
    netns: ns,
    prefix: UNIT_CAPABILITIES,
    env: { NOTIFY_SOCKET: notify.path, ...env },
    readyTimeoutMs: BOUND_MS,
  });
}

/** A temp dir `/tmp/sdn-*` with a resolv.conf, removed after `fn`. */
async function inDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sdn-" });
  try {
    await Deno.writeTextFile(`${dir}/resolv.conf`, "nameserver 127.0.0.53\n");
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const isReady = (m: string) => m.split("\n").includes("READY=1");
const isStopping = (m: string) => m.split("\n").includes("STOPPING=1");
const isWatchdog = (m: string) => m === "WATCHDOG=1";

Deno.test({
  name: "main.ts run sends READY=1 once it is ready and STOPPING=1 on SIGTERM to NOTIFY_SOCKET",
  ignore: !NETNS_AVAILABLE || !HAS_SETPRIV,
  async fn() {
    await using ns = await createNetns("notify", "sdn");
    await inDir(async (dir) => {
      await using notify = listenNotify(`${dir}/notify.sock`);
      await using agent = await start(ns, dir, notify, {});
      const ready = await notify.waitFor(isReady, BOUND_MS);
      const text = notify.messages[ready]!.text;
      assert.match(text, /^READY=1\nSTATUS=Running: device edge0, DNS 9\.251\.0\.1:53, /);
      // Sent after the agent logged that it is ready (same clock: the log's ms timestamp) ...
      assert.ok(
        notify.messages[ready]!.at >= loggedAt(agent, "agent ready"),
        `READY=1 arrived before the agent logged "agent ready":\n${agent.logs()}`,
      );
      // ... and by then every readiness check passes.
      assert.ok(agent.metricsAddr, agent.logs());
      assert.equal(await readyz(ns, agent.metricsAddr), 200, agent.logs());
      // Before it, only the start-up status (and start-timeout extensions, when the start took
      // over 10 s, as it may under emulation).
      const before = notify.messages.slice(0, ready).map((m) => m.text);
      assert.deepEqual(before.filter((t) => !t.startsWith("EXTEND_TIMEOUT_USEC=")), [
        "STATUS=Starting",
      ]);
      for (const t of before.slice(1)) {
        assert.match(t, /^EXTEND_TIMEOUT_USEC=30000000\nSTATUS=Starting: /);
      }

      assert.equal(await agent.stop("SIGTERM"), 0, agent.logs());
      const stopping = await notify.waitFor(isStopping, BOUND_MS, ready + 1);
      assert.equal(notify.messages[stopping]!.text, "STOPPING=1\nSTATUS=Stopping");
      await notify.flush(BOUND_MS);
      assert.equal(notify.messages.length, stopping + 1, "nothing after STOPPING=1");
      assert.ok(!notify.messages.some((m) => isWatchdog(m.text)), "no watchdog asked for");
      assert.doesNotMatch(agent.logs(), /level=warn[^\n]*systemd|NotCapable/);
    });
  },
});

Deno.test({
  name: "main.ts run pings WATCHDOG=1 every half WATCHDOG_USEC from READY=1 until SIGTERM",
  ignore: !NETNS_AVAILABLE || !HAS_SETPRIV,
  async fn() {
    await using ns = await createNetns("wdog", "sdn");
    await inDir(async (dir) => {
      await using notify = listenNotify(`${dir}/notify.sock`);
      // A ping every 100 ms (every 500 ms under emulation, so the emulated test reads them
      // before its queue of 10 fills). No WATCHDOG_PID: systemd sets it only for a forked child.
      const usec = EMULATED ? "1000000" : "200000";
      await using agent = await start(ns, dir, notify, { WATCHDOG_USEC: usec });
      const ready = await notify.waitFor(isReady, BOUND_MS);
      let last = ready;
      for (let i = 0; i < 3; i++) last = await notify.waitFor(isWatchdog, BOUND_MS, last + 1);
      assert.ok(
        !notify.messages.slice(0, ready).some((m) => isWatchdog(m.text)),
        "no pings before READY=1",
      );
      assert.equal(await agent.stop("SIGTERM"), 0, agent.logs());
      const stopping = await notify.waitFor(isStopping, BOUND_MS, last + 1);
      await notify.flush(BOUND_MS);
      assert.equal(notify.messages.length, stopping + 1, "no pings after STOPPING=1");
      assert.doesNotMatch(agent.logs(), /level=warn[^\n]*systemd|NotCapable/);
    });
  },
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Tests of the agent's sd_notify(3) wiring: systemdNotifier(), startNotify(), readyStatus(), and
 * runAgent() in-process (fake `ip`, loopback subnet) with a recording notifier.
 */
import assert from "node:assert/strict";
import { FakeIntervals } from "../_helpers/timers.ts";
import {
  EXTEND_EVERY_MS,
  NO_NOTIFIER,
  readyStatus,
  type RetryTimers,
  runAgent,
  type ServiceNotifier,
  startNotify,
  systemdNotifier,
} from "../../lib/agent/mod.ts";
import { createLogger, memoryLogger } from "../../lib/log/mod.ts";
import { libc, notifyMessage, NotifySocket, type NotifyState } from "../../lib/sys/mod.ts";
import { fakeIp, inProcessAgentConfig } from "../_helpers/fake_ip.ts";
import { abstractReceiver } from "../_helpers/notify_receiver.ts";

const c = libc();
const PID = 4242;

/** The lines of a memoryLogger, parsed. */
const entries = (log: ReturnType<typeof memoryLogger>) =>
  log.lines.map((l) => JSON.parse(l) as { level: string; msg: string; [k: string]: unknown });

Deno.test("systemdNotifier() does nothing at all without NOTIFY_SOCKET", async (t) => {
  const rows: [string, Map<string, string>][] = [
    ["nothing set", new Map()],
    ["empty", new Map([["NOTIFY_SOCKET", ""]])],
    ["a watchdog alone", new Map([["WATCHDOG_USEC", "1000000"]])],
  ];
  for (const [name, env] of rows) {
    await t.step(name, () => {
      const log = memoryLogger("debug");
      using n = systemdNotifier({ log, env, pid: PID, libc: c });
      n.notify({ ready: true });
      assert.equal(n.watchdogMs, null);
      assert.deepEqual(log.lines, []);
    });
  }
  await t.step("a variable Deno may not read counts as unset", () => {
    const log = memoryLogger("debug");
    const env = {
      get(): string {
        throw new Deno.errors.NotCapable('Requires env access to "NOTIFY_SOCKET"');
      },
      delete() {},
    };
    using n = systemdNotifier({ log, env, pid: PID, libc: c });
    assert.equal(n.watchdogMs, null);
    assert.deepEqual(log.lines, []);
  });
});

Deno.test({
  name: "systemdNotifier() sends to NOTIFY_SOCKET and takes the variables out of the environment",
  ignore: c === null,
  fn() {
    using rx = abstractReceiver(c!);
    const env = new Map([
      ["NOTIFY_SOCKET", rx.env],
      ["WATCHDOG_USEC", "4000000"],
      ["WATCHDOG_PID", String(PID)],
      ["HOME", "/root"],
    ]);
    const log = memoryLogger("info");
    {
      using n = systemdNotifier({ log, env, pid: PID, libc: c });
      assert.equal(n.watchdogMs, 2000);
      n.notify({ ready: true, status: "Running" });
      n.notify({ watchdog: true });
      assert.deepEqual(rx.drain(), ["READY=1\nSTATUS=Running", "WATCHDOG=1"]);
    }
    // Children (`ip`) do not inherit them; other variables stay.
    assert.deepEqual([...env.keys()], ["HOME"]);
    assert.deepEqual(log.lines, []);
  },
});

Deno.test("systemdNotifier() warns once when readiness cannot be reported, and the agent goes on", async (t) => {
  const rows: [string, Record<string, string>, boolean, RegExp][] = [
    [
      "no FFI on the C library",
      { NOTIFY_SOCKET: "/run/systemd/notify" },
      false,
      /^Readiness cannot be reported to systemd: NOTIFY_SOCKET is set, but sending to it needs FFI on the C library \(--allow-ffi/,
    ],
    [
      "no FFI, and a bad watchdog: still one warning",
      { NOTIFY_SOCKET: "/run/systemd/notify", WATCHDOG_USEC: "soon" },
      false,
      /needs FFI on the C library/,
    ],
    [
      "a relative NOTIFY_SOCKET",
      { NOTIFY_SOCKET: "notify" },
      true,
      /^Readiness cannot be reported to systemd: NOTIFY_SOCKET "notify" is neither an absolute path nor "@name"$/,
    ],
    [
      "vsock",
      { NOTIFY_SOCKET: "vsock:2:9" },
      true,
      /NOTIFY_SOCKET "vsock:2:9" is an AF_VSOCK address/,
    ],
  ];
  for (const [name, vars, ffi, message] of rows) {
    await t.step(name, () => {
      const log = memoryLogger("debug");
      using n = systemdNotifier({
        log,
        env: new Map(Object.entries(vars)),
        pid: PID,
        libc: ffi ? c : null,
      });
      n.notify({ ready: true });
      n.notify({ stopping: true });
      assert.equal(n.watchdogMs, null);
      const lines = entries(log);
      assert.equal(lines.length, 1, log.lines.join("\n"));
      assert.equal(lines[0]!.level, "warn");
      assert.match(lines[0]!.msg, message);
    });
  }
});

Deno.test({
  name: "systemdNotifier() warns about an unusable watchdog setting and still notifies",
  ignore: c === null,
  fn() {
    using rx = abstractReceiver(c!);
    const log = memoryLogger("info");
    const env = new Map([["NOTIFY_SOCKET", rx.env], ["WATCHDOG_USEC", "30s"]]);
    using n = systemdNotifier({ log, env, pid: PID, libc: c });
    assert.equal(n.watchdogMs, null);
    n.notify({ ready: true });
    assert.deepEqual(rx.drain(), ["READY=1"]);
    assert.deepEqual(entries(log).map((l) => [l.level, l.msg]), [
      [
        "warn",
        'systemd watchdog off: WATCHDOG_USEC "30s" is not a positive whole number of microseconds',
      ],
    ]);
  },
});

Deno.test({
  name: "systemdNotifier() warns once when sends fail, then logs them at debug; never throws",
  ignore: c === null,
  fn() {
    const log = memoryLogger("debug");
    const env = new Map([["NOTIFY_SOCKET", `@sdn-nobody-${crypto.randomUUID()}`]]);
    using n = systemdNotifier({ log, env, pid: PID, libc: c });
    n.notify({ ready: true, status: "Running" });
    n.notify({ watchdog: true });
    n.notify({ stopping: true });
    const lines = entries(log).filter((l) => l.msg !== "notifying systemd");
    assert.deepEqual(lines.map((l) => [l.level, l.msg]), [
      ["warn", "Cannot notify systemd (further failures are logged at debug)"],
      ["debug", "cannot notify systemd"],
      ["debug", "cannot notify systemd"],
    ]);
    assert.match(String(lines[0]!.error), /Connection refused/);
    assert.equal(lines[0]!.message, "READY=1\nSTATUS=Running");
  },
});

/** Timeouts the test fires by hand, in order. */
class FakeTimeouts implements RetryTimers {
  queue: { id: number; fn: () => void; ms: number }[] = [];
  #next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.queue.push({ id, fn, ms });
    return id;
  }
  clearTimeout(id: unknown): void {
    this.queue = this.queue.filter((t) => t.id !== id);
  }
  /** Fires the next timeout; returns its delay. */
  fire(): number {
    const t = this.queue.shift();
    assert.ok(t, "a retry is scheduled");
    t.fn();
    return t.ms;
  }
}

Deno.test({
  name: "systemdNotifier() sends READY=1 and STOPPING=1 again while systemd's queue is full",
  ignore: c === null,
  fn() {
    using rx = abstractReceiver(c!);
    const filler = NotifySocket.open(c!, rx.address);
    let queued = 0;
    while (filler.send("X=1")) assert.ok(++queued < 100_000, "the queue never filled");
    filler.close();
    const log = memoryLogger("info");
    const timers = new FakeTimeouts();
    using n = systemdNotifier({
      log,
      env: new Map([["NOTIFY_SOCKET", rx.env]]),
      pid: PID,
      libc: c,
      timers,
    });
    n.notify({ ready: true, status: "Running" });
    n.notify({ watchdog: true }); // dropped: the next ping follows
    n.notify({ stopping: true, status: "Stopping" }); // waits behind READY=1, in order
    assert.equal(timers.queue.length, 1, "one retry timer");
    assert.equal(timers.fire(), 20, "first retry soon");
    assert.equal(timers.fire(), 40, "still full: twice the wait");
    assert.equal(rx.drain().length, queued, "nothing got through while full");
    timers.fire();
    assert.deepEqual(rx.drain(), ["READY=1\nSTATUS=Running", "STOPPING=1\nSTATUS=Stopping"]);
    assert.equal(timers.queue.length, 0, "nothing left to retry");
    n.notify({ watchdog: true });
    assert.deepEqual(rx.drain(), ["WATCHDOG=1"]);
    assert.deepEqual(log.lines, [], "a busy systemd for a moment is no warning");
  },
});

Deno.test({
  name:
    "systemdNotifier() warns once when systemd leaves its queue full for 10 s, and drops the rest at dispose",
  ignore: c === null,
  fn() {
    using rx = abstractReceiver(c!);
    const filler = NotifySocket.open(c!, rx.address);
    for (let i = 0; filler.send("X=1"); i++) assert.ok(i < 100_000);
    filler.close();
    const log = memoryLogger("info");
    const timers = new FakeTimeouts();
    {
      using n = systemdNotifier({
        log,
        env: new Map([["NOTIFY_SOCKET", rx.env]]),
        pid: PID,
        libc: c,
        timers,
      });
      n.notify({ ready: true });
      const waits: number[] = [];
      while (log.lines.length === 0) waits.push(timers.fire());
      assert.deepEqual(waits.slice(0, 7), [20, 40, 80, 160, 320, 640, 1000]);
      assert.ok(waits.reduce((a, b) => a + b) >= 10_000, waits.join(","));
      for (let i = 0; i < 5; i++) assert.equal(timers.fire(), 1000);
      assert.equal(log.lines.length, 1, "warned once");
      assert.match(log.lines[0]!, /systemd has not read notifications for 10 s/);
    }
    assert.equal(timers.queue.length, 0, "dispose cancels the retry");
  },
});

/** A notifier that records what the agent sends. */
function recorder(watchdogMs: number | null = null) {
  const sent: NotifyState[] = [];
  const notifier: ServiceNotifier = { notify: (s) => void sent.push(s), watchdogMs };
  return { sent, notifier };
}

Deno.test("startNotify() says Starting, READY=1 when ready, STOPPING=1 on abort", () => {
  const { sent, notifier } = recorder();
  const ac = new AbortController();
  const timers = new FakeIntervals();
  const n = startNotify({ notifier, signal: ac.signal, timers });
  assert.equal(n.name, "systemd notify");
  assert.deepEqual(sent, [{ status: "Starting" }]);
  n.ready("Running: device edge0");
  assert.deepEqual(sent.at(-1), { ready: true, status: "Running: device edge0" });
  assert.equal(timers.fn, null, "no watchdog asked for: no timer");
  ac.abort();
  ac.abort();
  assert.deepEqual(sent.slice(2), [{ stopping: true, status: "Stopping" }]);
  n.ready("late");
  n.close();
  assert.equal(sent.length, 3, "nothing after STOPPING=1");
});

Deno.test("startNotify() pings the watchdog on the event loop's timer from READY=1 until the stop", () => {
  const { sent, notifier } = recorder(1500);
  const ac = new AbortController();
  const timers = new FakeIntervals();
  const n = startNotify({ notifier, signal: ac.signal, timers });
  assert.equal(timers.ms, 10_000, "before ready, the timer is the start-up extensions'");
  timers.fn!();
  assert.deepEqual(sent, [{ status: "Starting" }], "no pings before start-up is finished");
  n.ready("Running");
  assert.equal(timers.ms, 1500);
  timers.fn!();
  timers.fn!();
  assert.deepEqual(sent.slice(2), [{ watchdog: true }, { watchdog: true }]);
  ac.abort();
  assert.equal(timers.fn, null, "the stop ends the pings");
  assert.deepEqual(sent.at(-1), { stopping: true, status: "Stopping" });
  n.close();
});

Deno.test("startNotify() extends the start timeout every 10 s while start-up makes progress", () => {
  const { sent, notifier } = recorder(1500);
  const ac = new AbortController();
  const timers = new FakeIntervals();
  const n = startNotify({ notifier, signal: ac.signal, timers });
  assert.equal(timers.ms, EXTEND_EVERY_MS);
  assert.equal(EXTEND_EVERY_MS, 10_000);
  timers.fn!(); // no progress yet: nothing, so a start that hangs still meets TimeoutStartSec
  n.progress("device edge0 and its addresses");
  n.progress(); // an `ip` batch finished
  timers.fn!();
  timers.fn!(); // no progress since the last extension
  n.progress();
  timers.fn!();
  const extend = {
    extendTimeoutUsec: 30_000_000,
    status: "Starting: device edge0 and its addresses",
  };
  assert.deepEqual(sent, [{ status: "Starting" }, extend, extend]);
  n.ready("Running");
  assert.equal(timers.ms, 1500, "ready: the extensions end, the watchdog pings begin");
  n.progress();
  timers.fn!();
  assert.deepEqual(sent.slice(3), [{ ready: true, status: "Running" }, { watchdog: true }]);
  ac.abort();
  assert.equal(timers.fn, null);
  n.close();

  // Stopping ends them too.
  const stopped = recorder();
  const ac2 = new AbortController();
  const n2 = startNotify({ notifier: stopped.notifier, signal: ac2.signal, timers });
  n2.progress("proxy");
  ac2.abort();
  assert.equal(timers.fn, null, "no extension after STOPPING=1");
  n2.progress();
  n2.close();
  assert.deepEqual(stopped.sent.map((m) => Object.keys(m)), [["status"], ["stopping", "status"]]);
});

Deno.test({
  name: "startNotify() sends EXTEND_TIMEOUT_USEC=30000000 to NOTIFY_SOCKET while starting",
  ignore: c === null,
  fn() {
    using rx = abstractReceiver(c!);
    using notifier = systemdNotifier({
      log: memoryLogger("info"),
      env: new Map([["NOTIFY_SOCKET", rx.env]]),
      pid: PID,
      libc: c,
    });
    const ac = new AbortController();
    const timers = new FakeIntervals();
    const n = startNotify({ notifier, signal: ac.signal, timers });
    n.progress("first reconcile");
    timers.fn!();
    n.ready("Running");
    assert.deepEqual(rx.drain(), [
      "STATUS=Starting",
      "EXTEND_TIMEOUT_USEC=30000000\nSTATUS=Starting: first reconcile",
      "READY=1\nSTATUS=Running",
    ]);
    n.close();
  },
});

Deno.test("startNotify() sends nothing once closed, and nothing but Starting before ready", () => {
  const { sent, notifier } = recorder(10);
  const ac = new AbortController();
  const timers = new FakeIntervals();
  const n = startNotify({ notifier, signal: ac.signal, timers });
  n.close();
  ac.abort();
  assert.deepEqual(sent, [{ status: "Starting" }]);

  const aborted = recorder();
  startNotify({ notifier: aborted.notifier, signal: AbortSignal.abort(), timers }).close();
  assert.deepEqual(aborted.sent, [], "already stopping: no Starting");
  NO_NOTIFIER.notify({ ready: true });
  assert.equal(NO_NOTIFIER.watchdogMs, null);
});

Deno.test("readyStatus() says where the agent serves and where its readiness is", async (t) => {
  const rows: [string, Parameters<typeof readyStatus>[0], string][] = [
    [
      "defaults",
      { device: "edge0", dnsListen: ["9.251.0.1:53"], metricsListen: "127.0.0.1:9560" },
      "Running: device edge0, DNS 9.251.0.1:53, readiness http://127.0.0.1:9560/readyz",
    ],
    [
      "no DNS, no metrics",
      { device: "mesh1", dnsListen: [], metricsListen: "" },
      "Running: device mesh1",
    ],
    [
      "two DNS addresses",
      { device: "edge0", dnsListen: ["9.251.0.1:53", "169.254.20.10:53"], metricsListen: "" },
      "Running: device edge0, DNS 9.251.0.1:53 169.254.20.10:53",
    ],
  ];
  for (const [name, config, text] of rows) {
    await t.step(name, () => assert.equal(readyStatus(config), text));
  }
});

Deno.test("runAgent() sends READY=1 right after it logs agent ready, pings, and STOPPING=1 at the stop", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sdn-" });
  try {
    // One timeline of log lines and notifications, in the order they happen.
    const events: string[] = [];
    const log = createLogger({
      level: "info",
      format: "json",
      write: (line) => void events.push(`log ${JSON.parse(line).msg}`),
    });
    const pinged = Promise.withResolvers<void>();
    const notifier: ServiceNotifier = {
      watchdogMs: 1,
      notify(state) {
        events.push(`notify ${notifyMessage(state)}`);
        if (state.watchdog) pinged.resolve();
      },
    };
    const ac = new AbortController();
    const ip = fakeIp();
    const done = runAgent({
      config: inProcessAgentConfig(dir),
      log,
      signal: ac.signal,
      notifier,
      exec: ip,
      deviceAddresses: (d) => ip.links.get(d)?.addresses ?? new Set(),
    });
    await Promise.race([pinged.promise, done.then(() => Promise.reject(new Error("stopped")))]);
    ac.abort();
    await done;

    const at = (event: string) => events.indexOf(event);
    const ready = events.findIndex((e) => e.startsWith("notify READY=1"));
    assert.equal(events[ready], "notify READY=1\nSTATUS=Running: device edge0, DNS 127.0.0.1:0");
    assert.equal(events.filter((e) => e.startsWith("notify READY")).length, 1);
    assert.equal(at("log agent ready"), ready - 1, "READY=1 follows the ready line at once");
    assert.deepEqual(events.slice(0, ready).filter((e) => e.startsWith("notify")), [
      "notify STATUS=Starting",
    ]);
    const stopping = at("notify STOPPING=1\nSTATUS=Stopping");
    assert.ok(stopping > ready, events.join(" | "));
    assert.ok(stopping < at("log agent stopping"), "sent as soon as the signal aborts");
    const pings = events.flatMap((e, i) => (e === "notify WATCHDOG=1" ? [i] : []));
    assert.ok(
      pings.length >= 1 && pings.every((i) => i > ready && i < stopping),
      events.join(" | "),
    );
    assert.equal(events.at(-1), "log agent stopped", "nothing is sent after the stop");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runAgent() extends systemd's start timeout while it puts addresses on the device", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqa-sdn-" });
  try {
    const { sent, notifier } = recorder();
    const timers = new FakeIntervals();
    const ac = new AbortController();
    const ip = fakeIp();
    let readReached = false;
    const exec = {
      run: (argv: readonly string[], o?: { stdin?: string; signal?: AbortSignal }) => {
        if (!readReached && argv.join(" ").startsWith("ip -json addr show")) {
          readReached = true;
          // Ten seconds into a long address step: the device's `ip` commands so far count.
          assert.equal(timers.ms, 10_000);
          timers.fn!();
        }
        return ip.run(argv, o);
      },
    };
    const ready = Promise.withResolvers<void>();
    const done = runAgent({
      config: inProcessAgentConfig(dir),
      log: memoryLogger("error"),
      signal: ac.signal,
      notifier,
      notifyTimers: timers,
      onReady: ready.resolve,
      exec,
      deviceAddresses: (d) => ip.links.get(d)?.addresses ?? new Set(),
    });
    await Promise.race([ready.promise, done]);
    assert.equal(timers.fn, null, "ready: no more extensions (no watchdog asked for)");
    ac.abort();
    await done;
    assert.deepEqual(sent.slice(0, 2), [
      { status: "Starting" },
      { extendTimeoutUsec: 30_000_000, status: "Starting: device edge0 and its addresses" },
    ]);
    assert.ok(sent[2]!.ready, JSON.stringify(sent));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import { steppableWallClock } from "../_helpers/clock.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import {
  CommandError,
  DeviceInUseError,
  type Exec,
  type ExecResult,
  fakeExec,
  NetDev,
  type NetDevOptions,
  OWNED_ALIAS,
  ownedAlias,
  type TimeoutTimers,
} from "../../lib/netdev/mod.ts";

type Respond = (argv: readonly string[], stdin: string | undefined) => Partial<ExecResult>;

/** A fake `ip` holding one device's addresses in memory, so reconcile sees its own effects. */
function fakeIp(
  options: { dummy?: boolean; exists?: boolean; addrs?: string[]; alias?: string } = {},
) {
  let exists = options.exists ?? false;
  /** State of the link; `ifindex` changes each time one is created, as the kernel's does. */
  const link = { up: exists, alias: options.alias, ifindex: 7 };
  const addrs = new Map<string, number>((options.addrs ?? []).map((a) => {
    const [ip, len] = a.split("/");
    return [ip!, Number(len ?? 32)];
  }));
  const respond: Respond = (argv, stdin) => {
    const cmd = argv.slice(1).join(" ");
    if (cmd === "-json -details link show dev edge0") {
      const alias = link.alias === undefined ? {} : { ifalias: link.alias };
      return exists
        ? {
          stdout: JSON.stringify([{
            ifindex: link.ifindex,
            ifname: "edge0",
            linkinfo: { info_kind: "bridge" },
            ...alias,
          }]),
        }
        : { code: 1, stderr: 'Device "edge0" does not exist.\n' };
    }
    if (cmd === "link add edge0 type dummy" && options.dummy === false) {
      return { code: 2, stderr: "Error: Unknown device type.\n" };
    }
    if (cmd === "link add edge0 type dummy" || cmd === "link add edge0 type bridge") {
      exists = true;
      link.ifindex++;
      return {};
    }
    const setUp = /^link set dev edge0 (?:alias (.+) )?up$/.exec(cmd);
    if (setUp) {
      if (!exists) return { code: 1, stderr: 'Cannot find device "edge0"\n' };
      link.up = true;
      if (setUp[1] !== undefined) link.alias = setUp[1];
      return {};
    }
    if (cmd === "link del dev edge0") {
      if (!exists) return { code: 1, stderr: 'Cannot find device "edge0"\n' };
      exists = false;
      link.up = false;
      link.alias = undefined;
      addrs.clear();
      return {};
    }
    if (cmd === "-json addr show dev edge0") {
      if (!exists) return { code: 1, stderr: 'Device "edge0" does not exist.\n' };
      const info = [...addrs].map(([local, prefixlen]) => ({ family: "inet", local, prefixlen }));
      const flags = link.up ? ["BROADCAST", "UP"] : ["BROADCAST"];
      return {
        stdout: JSON.stringify([{
          ifindex: link.ifindex,
          ifname: "edge0",
          flags,
          addr_info: info,
        }]),
      };
    }
    if (cmd === "-batch -") {
      for (const line of (stdin ?? "").split("\n").filter(Boolean)) {
        const m = /^addr (replace|del) ([\d.]+)\/32 dev edge0$/.exec(line);
        if (!m) return { code: 1, stderr: `bad line ${line}` };
        if (m[1] === "replace") addrs.set(m[2]!, 32);
        else addrs.delete(m[2]!);
      }
      return {};
    }
    return { code: 1, stderr: `unexpected: ${cmd}` };
  };
  return {
    exec: fakeExec(respond),
    respond,
    addrs,
    link,
    remove: () => respond(["ip", "link", "del", "dev", "edge0"], undefined),
  };
}

/** The pid our fake agent writes into the alias of a device it creates. */
const PID = 4242;

/** `edge0`, auto type, default subnet, device removed on exit; `over` replaces any option. */
function netdev(exec: Exec, over: Partial<NetDevOptions> = {}): NetDev {
  return new NetDev({
    device: "edge0",
    deviceType: "auto",
    subnet: "9.251.0.0/16",
    keepDeviceOnExit: false,
    exec,
    log: nullLogger,
    pid: PID,
    claim: () => ({ release() {} }),
    ...over,
  });
}

const argvs = (exec: ReturnType<typeof fakeExec>) => exec.calls.map((c) => c.argv.join(" "));

Deno.test("NetDev.ensure() creates a dummy device and sets it up", async () => {
  const { exec } = fakeIp();
  const dev = netdev(exec);
  await dev.ensure();
  assert.equal(dev.created, true);
  assert.equal(dev.type, "dummy");
  assert.deepEqual(argvs(exec), [
    "ip -json -details link show dev edge0",
    "ip link add edge0 type dummy",
    `ip link set dev edge0 alias ${ownedAlias(PID)} up`,
  ]);
});

Deno.test("NetDev.ensure() falls back to a bridge with one warning", async () => {
  const { exec } = fakeIp({ dummy: false });
  const log = memoryLogger();
  const dev = netdev(exec, { log });
  await dev.ensure();
  await dev.teardown();
  await dev.ensure();
  assert.deepEqual(argvs(exec).filter((a) => a.startsWith("ip link add")), [
    "ip link add edge0 type dummy",
    "ip link add edge0 type bridge",
    "ip link add edge0 type dummy",
    "ip link add edge0 type bridge",
  ]);
  const warnings = log.lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].msg, /bridge/);
});

Deno.test("NetDev.ensure() with a forced type fails with the command and stderr", async () => {
  const { exec } = fakeIp({ dummy: false });
  const dev = netdev(exec, { deviceType: "dummy" });
  const err = await dev.ensure().then(() => null, (e) => e);
  assert.ok(err instanceof CommandError);
  assert.deepEqual(err.argv, ["ip", "link", "add", "edge0", "type", "dummy"]);
  assert.match(err.message, /Cannot run "ip link add edge0 type dummy": exit code 2: .*Unknown/);
  assert.match(
    err.message,
    /no dummy link type: set deviceType to auto to fall back, or to bridge\)$/,
  );
});

Deno.test("NetDev.ensure() reports a missing ip binary as CommandError", async () => {
  const exec = fakeExec(() => ({ code: -1, stderr: "No such file or directory (os error 2)" }));
  const dev = netdev(exec);
  await assert.rejects(dev.ensure(), (e: unknown) => {
    assert.ok(e instanceof CommandError);
    assert.match(
      e.message,
      /^Cannot run "ip -json -details link show dev edge0": command not found/,
    );
    assert.match(e.message, /os error 2/);
    return true;
  });
});

Deno.test("NetDev.ensure() names an ip without -json (BusyBox, old iproute2) and the fix", async (t) => {
  // What each prints for `ip -json -details link show dev edge0` (BusyBox 1.35 measured here:
  // its usage text on stderr, exit code 1; iproute2 before 4.14: one line, exit code 255).
  const busyboxUsage = "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\n\n" +
    "Usage: ip [OPTIONS] address|route|link|tunnel|neigh|rule [ARGS]\n";
  const rows = [
    {
      name: "BusyBox",
      result: { code: 1, stderr: busyboxUsage },
      message:
        /^Cannot run "ip -json -details link show dev edge0": exit code 1: this ip is the BusyBox applet \(BusyBox v1\.35\.0\), which has no -json or -batch options: edgemesh needs the ip of iproute2 4\.14 or later \(package iproute2; on OpenWrt ip-full\) ahead of BusyBox's in PATH$/,
    },
    {
      name: "iproute2 4.11",
      result: { code: 255, stderr: 'Option "-json" is unknown, try "ip -help".\n' },
      message: /exit code 255: this ip \(iproute2\) is older than 4\.14 and has no -json option/,
    },
    {
      name: "another failure keeps ip's own words",
      result: { code: 2, stderr: "RTNETLINK answers: Operation not permitted\n" },
      message: /exit code 2: RTNETLINK answers: Operation not permitted$/,
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      const exec = fakeExec(() => row.result);
      const err = await netdev(exec).ensure().then(() => null, (e) => e);
      assert.ok(err instanceof CommandError);
      assert.match(err.message, row.message);
      assert.doesNotMatch(err.message, /Usage:/);
      assert.deepEqual(argvs(exec), ["ip -json -details link show dev edge0"]);
    });
  }
});

Deno.test("NetDev.ensure() keeps an existing device and teardown leaves it", async () => {
  const { exec, addrs } = fakeIp({ exists: true, addrs: ["10.1.2.3/24"] });
  const dev = netdev(exec);
  await dev.ensure();
  assert.equal(dev.created, false);
  assert.equal(dev.type, "bridge", "type read from ip -details");
  assert.ok(!argvs(exec).some((a) => a.startsWith("ip link add")));
  await dev.reconcile(new Set(["9.251.0.2", "9.251.0.3"]));
  exec.calls.length = 0;
  await dev.teardown();
  assert.ok(!argvs(exec).some((a) => a.startsWith("ip link del")));
  assert.deepEqual([...addrs.keys()], ["10.1.2.3"]);
});

Deno.test("NetDev.reconcile() applies one ip -batch process with exact lines", async () => {
  const { exec, addrs } = fakeIp({ exists: true, addrs: ["9.251.0.9/32", "10.0.0.1/32"] });
  const dev = netdev(exec);
  await dev.ensure();
  exec.calls.length = 0;
  const plan = await dev.reconcile(new Set(["9.251.0.2", "9.251.0.3"]));
  assert.deepEqual(plan, { add: ["9.251.0.2", "9.251.0.3"], remove: ["9.251.0.9"] });
  assert.deepEqual(exec.calls, [
    { argv: ["ip", "-json", "addr", "show", "dev", "edge0"], stdin: undefined },
    {
      argv: ["ip", "-batch", "-"],
      stdin: "addr del 9.251.0.9/32 dev edge0\n" +
        "addr replace 9.251.0.2/32 dev edge0\n" +
        "addr replace 9.251.0.3/32 dev edge0\n",
    },
  ]);
  assert.deepEqual([...addrs.keys()].sort(), ["10.0.0.1", "9.251.0.2", "9.251.0.3"]);

  exec.calls.length = 0;
  const again = await dev.reconcile(new Set(["9.251.0.2", "9.251.0.3"]));
  assert.deepEqual(again, { add: [], remove: [] });
  assert.deepEqual(argvs(exec), ["ip -json addr show dev edge0"], "idempotent: no batch needed");
});

Deno.test("NetDev.reconcile() puts 1000 VIPs on with one ip process", async () => {
  const { exec, addrs } = fakeIp({ exists: true });
  const metrics = new MetricsRegistry();
  const dev = netdev(exec, { metrics });
  await dev.ensure();
  exec.calls.length = 0;
  const vips = new Set(Array.from({ length: 1000 }, (_, i) => `9.251.${i >> 8}.${i & 255}`));
  await dev.reconcile(vips);
  const batches = exec.calls.filter((c) => c.argv.includes("-batch"));
  assert.equal(exec.calls.length, 2);
  assert.equal(batches.length, 1);
  assert.equal(batches[0]!.stdin!.split("\n").filter(Boolean).length, 1000);
  assert.equal(addrs.size, 1000);
  assert.match(metrics.render(), /^edgemesh_netdev_addresses 1000$/m);
});

Deno.test("NetDev.reconcile() adds extra addresses and rejects non-IPv4 ones", async () => {
  const { exec, addrs } = fakeIp({ exists: true });
  const dev = netdev(exec);
  await dev.ensure();
  await dev.reconcile(new Set(["9.251.0.2"]), new Set(["169.254.20.10"]));
  assert.deepEqual([...addrs.keys()].sort(), ["169.254.20.10", "9.251.0.2"]);
  await dev.reconcile(new Set(["9.251.0.2"]));
  assert.deepEqual([...addrs.keys()], ["9.251.0.2"], "our own extra address goes when unwanted");
  await assert.rejects(dev.reconcile(new Set(["nope"])), TypeError);
});

Deno.test("NetDev.reconcile() turns a failing batch into CommandError with stderr", async () => {
  const exec = fakeExec((argv) =>
    argv.includes("-batch")
      ? { code: 1, stderr: "Error: ipv4: Address not found.\nCommand failed -:1\n" }
      : { stdout: "[]" }
  );
  const dev = netdev(exec as ReturnType<typeof fakeIp>["exec"]);
  await assert.rejects(dev.reconcile(new Set(["9.251.0.2"])), (e: unknown) => {
    assert.ok(e instanceof CommandError);
    assert.deepEqual(e.argv, ["ip", "-batch", "-"]);
    assert.match(e.message, /Address not found/);
    return true;
  });
});

Deno.test("NetDev.teardown() deletes a device it created", async (t) => {
  await t.step("created → deleted", async () => {
    const { exec } = fakeIp({ dummy: false });
    const dev = netdev(exec);
    await dev.ensure();
    await dev.reconcile(new Set(["9.251.0.2"]));
    exec.calls.length = 0;
    await dev.teardown();
    assert.deepEqual(argvs(exec), ["ip link del dev edge0"]);
  });
  await t.step("created + keepDeviceOnExit → only our addresses removed", async () => {
    const { exec, addrs } = fakeIp();
    const dev = netdev(exec, { keepDeviceOnExit: true });
    await dev.ensure();
    await dev.reconcile(new Set(["9.251.0.2", "9.251.0.3"]));
    addrs.set("10.9.9.9", 32);
    exec.calls.length = 0;
    await dev.teardown();
    assert.deepEqual(exec.calls.map((c) => c.stdin).filter(Boolean), [
      "addr del 9.251.0.2/32 dev edge0\naddr del 9.251.0.3/32 dev edge0\n",
    ]);
    assert.deepEqual([...addrs.keys()], ["10.9.9.9"]);
  });
  await t.step("never ensured → nothing to do", async () => {
    const { exec } = fakeIp();
    await netdev(exec).teardown();
    assert.deepEqual(exec.calls, []);
  });
});

Deno.test("NetDev.ensure() takes back the device an earlier run created (after a crash)", async () => {
  const { exec, link } = fakeIp({ exists: true, alias: ownedAlias(999) });
  const log = memoryLogger();
  const dev = netdev(exec, { log });
  await dev.ensure();
  assert.equal(dev.created, true);
  assert.match(JSON.parse(log.lines[0]!).msg, /earlier run created/);
  assert.equal(link.alias, ownedAlias(PID), "the alias names the agent that has it now");
  exec.calls.length = 0;
  await dev.teardown();
  assert.deepEqual(argvs(exec), ["ip link del dev edge0"], "ours again: deleted on exit");
});

Deno.test("NetDev.reconcile() removes what a dead run left on the device it takes back, once", async (t) => {
  // After a kill -9: a stale VIP, a dnsListen address no longer configured, and a /24 that
  // was never the agent's. The run after it wants the DNS address of the subnet only.
  const leftover = ["9.251.0.1", "9.251.0.7", "169.254.20.10", "10.99.0.1/24"];
  const rows: {
    name: string;
    exists: boolean;
    alias: string | undefined;
    created: boolean;
    left: string[];
    logged: string | null;
  }[] = [
    {
      name: "taken back (an edgemesh agent created it): every unwanted /32 goes",
      exists: true,
      alias: ownedAlias(999),
      created: true,
      left: ["10.99.0.1", "9.251.0.1"],
      logged: "169.254.20.10",
    },
    {
      name: "an older agent's alias without a pid: the same",
      exists: true,
      alias: OWNED_ALIAS,
      created: true,
      left: ["10.99.0.1", "9.251.0.1"],
      logged: "169.254.20.10",
    },
    {
      name: "adopted (someone else's device): only the subnet's stale /32 goes",
      exists: true,
      alias: undefined,
      created: false,
      left: ["10.99.0.1", "169.254.20.10", "9.251.0.1"],
      logged: null,
    },
    {
      name: "created by this run: nothing left to remove",
      exists: false,
      alias: undefined,
      created: true,
      left: ["9.251.0.1"],
      logged: null,
    },
  ];
  for (const r of rows) {
    await t.step(r.name, async () => {
      const ip = fakeIp({ exists: r.exists, alias: r.alias, addrs: r.exists ? leftover : [] });
      const log = memoryLogger();
      const dev = netdev(ip.exec, { log });
      await dev.ensure();
      assert.equal(dev.created, r.created);
      await dev.reconcile(new Set(), new Set(["9.251.0.1"]));
      assert.deepEqual([...ip.addrs.keys()].sort(), r.left);
      if (r.exists) assert.equal(ip.addrs.get("10.99.0.1"), 24, "not a /32: never touched");
      const line = log.lines.map((l) => JSON.parse(l))
        .find((l) => /outside the subnet that an earlier run left/.test(l.msg));
      assert.equal(line?.addresses ?? null, r.logged);
      // Later, someone puts a /32 outside the subnet on it: only the first pass sweeps.
      ip.addrs.set("10.200.0.1", 32);
      await dev.reconcile(new Set(), new Set(["9.251.0.1"]));
      assert.equal(ip.addrs.has("10.200.0.1"), true, "someone else's, left alone");
      await dev.teardown();
    });
  }
});

Deno.test("NetDev.reconcile() creates a deleted device again and sets a downed one up", async () => {
  const ip = fakeIp({ dummy: false });
  const log = memoryLogger();
  const dev = netdev(ip.exec, { log });
  await dev.ensure();
  await dev.reconcile(new Set(["9.251.0.2"]));
  ip.remove(); // `ip link del edge0` behind the agent's back
  await dev.reconcile(new Set(["9.251.0.2", "9.251.0.3"]));
  assert.deepEqual([...ip.addrs.keys()].sort(), ["9.251.0.2", "9.251.0.3"]);
  assert.equal(ip.link.alias, ownedAlias(PID));
  assert.equal(dev.created, true);
  ip.link.up = false; // `ip link set edge0 down`
  ip.exec.calls.length = 0;
  await dev.reconcile(new Set(["9.251.0.2", "9.251.0.3"]));
  assert.equal(ip.link.up, true);
  assert.deepEqual(argvs(ip.exec), ["ip -json addr show dev edge0", "ip link set dev edge0 up"]);
  const warned = log.lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn")
    .map((l) => l.msg);
  assert.deepEqual(warned.filter((m) => !/bridge/.test(m)), [
    "The device was deleted; creating it again",
    "The device was set down; setting it up",
  ]);
  await dev.teardown();
  assert.equal(ip.link.alias, undefined, "deleted on exit");
});

Deno.test("NetDev.teardown() of a device deleted behind our back succeeds", async () => {
  const ip = fakeIp();
  const dev = netdev(ip.exec);
  await dev.ensure();
  ip.remove();
  await dev.teardown();
  assert.equal(dev.created, false);
});

/** Timeouts that fire only when the test says so. */
class FakeTimeouts implements TimeoutTimers {
  readonly pending = new Map<number, { fn: () => void; ms: number }>();
  #next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { fn, ms });
    return id;
  }
  clearTimeout(id: unknown): void {
    this.pending.delete(id as number);
  }
  /** Runs every pending timeout; returns the delays they were set for. */
  fire(): number[] {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const t of due) t.fn();
    return due.map((t) => t.ms);
  }
}

Deno.test("NetDev.reconcile() keeps a removed address for retainRemovedMs, then removes it", async () => {
  const ip = fakeIp({ exists: true });
  const timers = new FakeTimeouts();
  let now = 1_000;
  const dev = netdev(ip.exec, { retainRemovedMs: 12_000, timers, now: () => now });
  await dev.ensure();
  await dev.reconcile(new Set(["9.251.0.2", "9.251.0.3", "9.251.0.4"]));
  assert.equal(timers.pending.size, 0, "nothing held, no timer");

  now = 2_000; // 9.251.0.3 and .4 are deleted: both stay while their connections drain
  await dev.reconcile(new Set(["9.251.0.2"]));
  assert.deepEqual([...ip.addrs.keys()].sort(), ["9.251.0.2", "9.251.0.3", "9.251.0.4"]);
  now = 5_000; // .4 is wanted again (a new service got it): no longer held
  await dev.reconcile(new Set(["9.251.0.2", "9.251.0.4"]));
  assert.deepEqual([...timers.pending.values()].map((t) => t.ms), [9_000]);

  now = 14_000; // the hold of .3 is up: the timer reruns the last reconcile
  ip.exec.calls.length = 0;
  const removed = new Promise<void>((resolve) => {
    const poll = () => (ip.addrs.has("9.251.0.3") ? queueMicrotask(poll) : resolve());
    timers.fire();
    poll();
  });
  await removed;
  await dev.reconcile(new Set(["9.251.0.2", "9.251.0.4"]));
  assert.deepEqual([...ip.addrs.keys()].sort(), ["9.251.0.2", "9.251.0.4"]);
  assert.equal(timers.pending.size, 0);

  now = 15_000; // a hold pending at teardown: its timer is cleared
  await dev.reconcile(new Set(["9.251.0.2"]));
  assert.equal(timers.pending.size, 1);
  await dev.teardown();
  assert.equal(timers.pending.size, 0);
});

Deno.test("NetDev's default clock: a wall clock set forward does not end a hold early", async () => {
  using wall = steppableWallClock();
  const ip = fakeIp({ exists: true });
  const timers = new FakeTimeouts();
  const dev = netdev(ip.exec, { retainRemovedMs: 60_000, timers });
  await dev.ensure();
  await dev.reconcile(new Set(["9.251.0.2", "9.251.0.3"]));
  await dev.reconcile(new Set(["9.251.0.2"])); // .3 deleted: held for 60 s of drain
  wall.step(86_400_000); // NTP corrects a clock that ran a day behind
  await dev.reconcile(new Set(["9.251.0.2"]));
  assert.deepEqual([...ip.addrs.keys()].sort(), ["9.251.0.2", "9.251.0.3"], "still held");
  await dev.teardown();
});

Deno.test("NetDev.ensure() claims the device before any ip command and teardown gives it up", async () => {
  const claims: string[] = [];
  const claim = (device: string) => {
    if (claims.includes(device)) {
      throw new DeviceInUseError(`Cannot use device "${device}": another edgemesh agent …`);
    }
    claims.push(device);
    return { release: () => claims.splice(claims.indexOf(device), 1) };
  };
  const { exec } = fakeIp({ exists: true, alias: ownedAlias(999), addrs: ["9.251.0.9/32"] });
  const first = netdev(exec, { claim });
  await first.ensure();
  assert.equal(first.created, true, "an agent's device, and no agent holds it: ours again");
  await first.ensure(); // a repair re-runs ensure: the claim is kept, not taken twice
  exec.calls.length = 0;
  const second = netdev(exec, { claim });
  await assert.rejects(second.ensure(), DeviceInUseError);
  assert.deepEqual(exec.calls, [], "refused before any ip command");
  await first.teardown();
  assert.deepEqual(claims, []);
  await second.ensure();
  await second.teardown();
});

Deno.test("NetDev.teardown() gives up the claim even when ip fails", async () => {
  let held = 0;
  const claim = () => (held++, { release: () => void held-- });
  const ip = fakeIp();
  // The device we created cannot be deleted (say, a seccomp filter): teardown fails, but the
  // claim is released, since this instance is done with the device.
  const exec: Exec = {
    run: (argv, options) =>
      argv.join(" ") === "ip link del dev edge0"
        ? Promise.resolve({
          code: 2,
          stdout: "",
          stderr: "RTNETLINK answers: Operation not permitted\n",
        })
        : ip.exec.run(argv, options),
  };
  const dev = netdev(exec, { claim });
  await dev.ensure();
  assert.equal(held, 1);
  await assert.rejects(dev.teardown(), CommandError);
  assert.equal(held, 0);
});

Deno.test("NetDev.reconcile() adopts a foreign device that replaced ours, and leaves it on exit", async () => {
  const ip = fakeIp();
  const log = memoryLogger();
  const dev = netdev(ip.exec, { log });
  await dev.ensure();
  await dev.reconcile(new Set(["9.251.0.2"]));
  // `ip link del edge0; ip link add edge0 type bridge; ip link set edge0 alias operator-owned`
  ip.remove();
  ip.link.ifindex += 10;
  ip.link.alias = "operator-owned";
  await ip.exec.run(["ip", "link", "add", "edge0", "type", "bridge"]);
  await dev.reconcile(new Set(["9.251.0.2"]));
  assert.equal(dev.created, false, "someone else's device");
  assert.deepEqual([...ip.addrs.keys()], ["9.251.0.2"]);
  assert.ok(log.lines.some((l) => JSON.parse(l).msg.startsWith("The device was replaced")));
  ip.exec.calls.length = 0;
  await dev.teardown();
  assert.ok(!argvs(ip.exec).includes("ip link del dev edge0"), "not deleted");
  assert.deepEqual([...ip.addrs.keys()], [], "only our addresses removed");
  assert.equal(ip.link.alias, "operator-owned");
});

Deno.test("NetDev.ensure() takes back a device whose alias an older agent wrote (no pid)", async () => {
  const { exec, link } = fakeIp({ exists: true, alias: OWNED_ALIAS });
  const dev = netdev(exec);
  await dev.ensure();
  assert.equal(dev.created, true);
  assert.equal(link.alias, ownedAlias(PID));
});

Deno.test("NetDev.reconcile() stops between batches once the signal aborts, owning what it added", async (t) => {
  const vips = new Set(["9.251.0.2", "9.251.0.3", "9.251.0.4", "9.251.0.5", "9.251.0.6"]);
  /** Aborts `ac` while the first `ip -batch -` runs, as a SIGTERM arriving then would. */
  const abortingOnFirstBatch = (options: Parameters<typeof fakeIp>[0], ac: AbortController) => {
    const ip = fakeIp(options);
    const exec = fakeExec((argv, stdin) => {
      if (argv.join(" ") === "ip -batch -") ac.abort();
      return ip.respond(argv, stdin);
    });
    return { ip, exec };
  };
  const batches = (exec: ReturnType<typeof fakeExec>) =>
    exec.calls.filter((c) => c.argv.join(" ") === "ip -batch -").length;

  await t.step("on an adopted device: teardown removes exactly the batches applied", async () => {
    const ac = new AbortController();
    const { ip, exec } = abortingOnFirstBatch({ exists: true }, ac);
    const dev = netdev(exec, { batchLines: 2, signal: ac.signal });
    await dev.ensure();
    await assert.rejects(dev.reconcile(vips), {
      name: "ReconcileStoppedError",
      message:
        'Stopped reconciling the addresses of device "edge0": the agent is stopping (1 of 3 address batches applied)',
    });
    assert.equal(batches(exec), 1, "no batch after the abort");
    assert.deepEqual([...ip.addrs.keys()].sort(), ["9.251.0.2", "9.251.0.3"]);
    assert.deepEqual([...dev.addresses()].sort(), ["9.251.0.2", "9.251.0.3"]);
    await dev.teardown(); // not stopped by the signal
    assert.deepEqual([...ip.addrs.keys()], [], "the addresses it added are removed");
    assert.ok(!argvs(exec).includes("ip link del dev edge0"), "an adopted device stays");
  });

  await t.step("on a device it created: teardown deletes it", async () => {
    const ac = new AbortController();
    const { exec } = abortingOnFirstBatch({}, ac);
    const dev = netdev(exec, { batchLines: 2, signal: ac.signal });
    await dev.ensure();
    await assert.rejects(dev.reconcile(vips), { name: "ReconcileStoppedError" });
    assert.equal(batches(exec), 1);
    await dev.teardown();
    assert.equal(argvs(exec).at(-1), "ip link del dev edge0");
  });

  await t.step("aborted before it starts: no ip command at all", async () => {
    const ac = new AbortController();
    const { exec } = abortingOnFirstBatch({}, ac);
    const dev = netdev(exec, { signal: ac.signal });
    await dev.ensure();
    const before = exec.calls.length;
    ac.abort();
    await assert.rejects(
      dev.reconcile(vips),
      /the agent is stopping \(before reading the device\)/,
    );
    assert.equal(exec.calls.length, before);
  });
});

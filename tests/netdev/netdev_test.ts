// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import {
  CommandError,
  type Exec,
  type ExecResult,
  fakeExec,
  NetDev,
  type NetDevOptions,
} from "../../lib/netdev/mod.ts";

type Respond = (argv: readonly string[], stdin: string | undefined) => Partial<ExecResult>;

/** A fake `ip` holding one device's addresses in memory, so reconcile sees its own effects. */
function fakeIp(options: { dummy?: boolean; exists?: boolean; addrs?: string[] } = {}) {
  let exists = options.exists ?? false;
  const addrs = new Map<string, number>((options.addrs ?? []).map((a) => {
    const [ip, len] = a.split("/");
    return [ip!, Number(len ?? 32)];
  }));
  const respond: Respond = (argv, stdin) => {
    const cmd = argv.slice(1).join(" ");
    if (cmd === "-json -details link show dev edge0") {
      return exists
        ? { stdout: '[{"ifname":"edge0","linkinfo":{"info_kind":"bridge"}}]' }
        : { code: 1, stderr: 'Device "edge0" does not exist.\n' };
    }
    if (cmd === "link add edge0 type dummy") {
      if (options.dummy === false) return { code: 2, stderr: "Error: Unknown device type.\n" };
      exists = true;
      return {};
    }
    if (cmd === "link add edge0 type bridge") {
      exists = true;
      return {};
    }
    if (cmd === "link set dev edge0 up") return {};
    if (cmd === "link del dev edge0") {
      exists = false;
      addrs.clear();
      return {};
    }
    if (cmd === "-json addr show dev edge0") {
      const info = [...addrs].map(([local, prefixlen]) => ({ family: "inet", local, prefixlen }));
      return { stdout: JSON.stringify([{ ifname: "edge0", addr_info: info }]) };
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
  return { exec: fakeExec(respond), addrs };
}

/** `edge0`, auto type, default subnet, device removed on exit; `over` replaces any option. */
function netdev(exec: Exec, over: Partial<NetDevOptions> = {}): NetDev {
  return new NetDev({
    device: "edge0",
    deviceType: "auto",
    subnet: "9.251.0.0/16",
    keepDeviceOnExit: false,
    exec,
    log: nullLogger,
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
    "ip link set dev edge0 up",
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

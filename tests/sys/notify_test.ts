// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Tests of the pure sd_notify(3) module: the plan from the environment, sockaddr_un, texts. */
import assert from "node:assert/strict";
import {
  AF_UNIX,
  type NotifyAddress,
  notifyMessage,
  type NotifyPlan,
  notifyPlan,
  sockaddrUn,
} from "../../lib/sys/mod.ts";

const PID = 4242;
const envOf = (vars: Record<string, string>) => (name: string) => vars[name];
const off: NotifyPlan = { address: null, watchdogMs: null, problems: [] };
const LONG = "/run/" + "x".repeat(103); // 108 bytes: one too many for sun_path with its NUL

Deno.test("notifyPlan() sends nothing and reports nothing without NOTIFY_SOCKET", async (t) => {
  const rows: [string, Record<string, string>][] = [
    ["nothing set", {}],
    ["empty NOTIFY_SOCKET", { NOTIFY_SOCKET: "" }],
    ["a watchdog without a socket", { WATCHDOG_USEC: "1000000", WATCHDOG_PID: String(PID) }],
    ["a bad watchdog without a socket", { WATCHDOG_USEC: "soon" }],
  ];
  for (const [name, vars] of rows) {
    await t.step(name, () => assert.deepEqual(notifyPlan(envOf(vars), PID), off));
  }
});

Deno.test("notifyPlan() reads a path or an abstract NOTIFY_SOCKET", async (t) => {
  const rows: [string, string, NotifyAddress][] = [
    ["systemd's socket", "/run/systemd/notify", { kind: "path", path: "/run/systemd/notify" }],
    ["an abstract name", "@/org/freedesktop/systemd1/notify", {
      kind: "abstract",
      name: "/org/freedesktop/systemd1/notify",
    }],
    ["a 107-byte path", LONG.slice(0, -1), { kind: "path", path: LONG.slice(0, -1) }],
    ["a 107-byte abstract name", "@" + "n".repeat(107), {
      kind: "abstract",
      name: "n".repeat(107),
    }],
  ];
  for (const [name, value, address] of rows) {
    await t.step(name, () => {
      assert.deepEqual(notifyPlan(envOf({ NOTIFY_SOCKET: value }), PID), {
        address,
        watchdogMs: null,
        problems: [],
      });
    });
  }
});

Deno.test("notifyPlan() refuses an unusable NOTIFY_SOCKET and names it", async (t) => {
  const rows: [string, string, RegExp][] = [
    ["a relative path", "run/notify", /^NOTIFY_SOCKET "run\/notify" is neither an absolute path/],
    ["vsock", "vsock:2:1234", /^NOTIFY_SOCKET "vsock:2:1234" is an AF_VSOCK address/],
    ["a bare @", "@", /^NOTIFY_SOCKET "@" names no socket$/],
    ["a path too long", LONG, /is 108 bytes long; a Unix socket name has at most 107$/],
    ["an abstract name too long", "@" + "n".repeat(108), /is 108 bytes long/],
  ];
  for (const [name, value, problem] of rows) {
    await t.step(name, () => {
      // The watchdog needs a socket to ping: none here, and its setting is not looked at.
      const plan = notifyPlan(envOf({ NOTIFY_SOCKET: value, WATCHDOG_USEC: "x" }), PID);
      assert.equal(plan.address, null);
      assert.equal(plan.watchdogMs, null);
      assert.equal(plan.problems.length, 1, plan.problems.join("; "));
      assert.match(plan.problems[0]!, problem);
    });
  }
});

Deno.test("notifyPlan() pings the watchdog every half WATCHDOG_USEC, for this pid only", async (t) => {
  const rows: [string, Record<string, string>, number | null, RegExp | null][] = [
    ["30 s, no WATCHDOG_PID", { WATCHDOG_USEC: "30000000" }, 15_000, null],
    ["our pid", { WATCHDOG_USEC: "3000000", WATCHDOG_PID: String(PID) }, 1_500, null],
    ["another pid: silently off", { WATCHDOG_USEC: "3000000", WATCHDOG_PID: "1" }, null, null],
    ["empty WATCHDOG_PID counts as unset", { WATCHDOG_USEC: "1000", WATCHDOG_PID: "" }, 1, null],
    ["below 2 ms: every 1 ms", { WATCHDOG_USEC: "1" }, 1, null],
    ["beyond JavaScript timers: the longest", { WATCHDOG_USEC: "9".repeat(15) }, 2 ** 31 - 1, null],
    ["zero", { WATCHDOG_USEC: "0" }, null, /^WATCHDOG_USEC "0" is not a positive whole number/],
    ["not a number", { WATCHDOG_USEC: "30s" }, null, /^WATCHDOG_USEC "30s"/],
    ["negative", { WATCHDOG_USEC: "-5" }, null, /^WATCHDOG_USEC "-5"/],
    ["a bad pid", { WATCHDOG_USEC: "1000", WATCHDOG_PID: "me" }, null, /^WATCHDOG_PID "me" is not/],
  ];
  for (const [name, vars, watchdogMs, problem] of rows) {
    await t.step(name, () => {
      const plan = notifyPlan(envOf({ NOTIFY_SOCKET: "@notify", ...vars }), PID);
      assert.deepEqual(plan.address, { kind: "abstract", name: "notify" }, "the socket stays");
      assert.equal(plan.watchdogMs, watchdogMs);
      if (problem === null) assert.deepEqual(plan.problems, []);
      else assert.match(plan.problems.join("; "), problem);
    });
  }
});

Deno.test("sockaddrUn() encodes sun_family, then the path and its NUL or a NUL and the name", async (t) => {
  const rows: [string, NotifyAddress, number[]][] = [
    ["a path", { kind: "path", path: "/a/b" }, [1, 0, 0x2f, 0x61, 0x2f, 0x62, 0]],
    ["an abstract name", { kind: "abstract", name: "ab" }, [1, 0, 0, 0x61, 0x62]],
    ["UTF-8 bytes", { kind: "abstract", name: "é" }, [1, 0, 0, 0xc3, 0xa9]],
  ];
  for (const [name, address, bytes] of rows) {
    await t.step(name, () => assert.deepEqual([...sockaddrUn(address)], bytes));
  }
  await t.step("AF_UNIX is 1, little-endian on x86_64 and aarch64", () => {
    assert.equal(AF_UNIX, 1);
    const a = sockaddrUn({ kind: "path", path: "/run/systemd/notify" });
    assert.equal(new DataView(a.buffer).getUint16(0, true), AF_UNIX);
    assert.equal(a.length, 2 + "/run/systemd/notify".length + 1);
  });
  await t.step("the byte after an abstract name is not NUL (qemu-user would add it)", () => {
    const a = sockaddrUn({ kind: "abstract", name: "ab" });
    assert.equal(new Uint8Array(a.buffer, a.byteOffset, a.length + 1)[a.length], 0xff);
  });
  await t.step("the longest names fill sun_path exactly (110 bytes)", () => {
    assert.equal(sockaddrUn({ kind: "path", path: LONG.slice(0, -1) }).length, 110);
    assert.equal(sockaddrUn({ kind: "abstract", name: "n".repeat(107) }).length, 110);
  });
  await t.step("a name too long is a RangeError", () => {
    assert.throws(() => sockaddrUn({ kind: "path", path: LONG }), {
      name: "RangeError",
      message: `Cannot address Unix socket "${LONG}": 108 bytes, at most 107 fit`,
    });
  });
});

Deno.test("notifyMessage() writes one KEY=value line per assignment", async (t) => {
  const rows: [string, Parameters<typeof notifyMessage>[0], string][] = [
    ["ready with a status", { ready: true, status: "Running" }, "READY=1\nSTATUS=Running"],
    ["stopping", { stopping: true, status: "Stopping" }, "STOPPING=1\nSTATUS=Stopping"],
    ["the watchdog", { watchdog: true }, "WATCHDOG=1"],
    ["a status alone", { status: "Starting" }, "STATUS=Starting"],
    [
      "a longer start timeout, with a status",
      { extendTimeoutUsec: 30_000_000, status: "Starting: device edge0" },
      "EXTEND_TIMEOUT_USEC=30000000\nSTATUS=Starting: device edge0",
    ],
    ["false flags are left out", { ready: false, watchdog: true }, "WATCHDOG=1"],
    ["a newline cannot start another assignment", {
      status: "a\nREADY=1\r\nb",
    }, "STATUS=a READY=1 b"],
    [
      "a long status is cut to 200 characters",
      { status: "x".repeat(300) },
      `STATUS=${"x".repeat(199)}…`,
    ],
  ];
  for (const [name, state, text] of rows) {
    await t.step(name, () => assert.equal(notifyMessage(state), text));
  }
  await t.step("an extension that is not a positive whole number is a RangeError", () => {
    for (const extendTimeoutUsec of [0, -1, 1.5, NaN, Infinity]) {
      assert.throws(() => notifyMessage({ extendTimeoutUsec }), {
        name: "RangeError",
        message: `Cannot build an sd_notify message: EXTEND_TIMEOUT_USEC ${extendTimeoutUsec} ` +
          "is not a positive whole number of microseconds",
      });
    }
  });
  await t.step("nothing to send is a TypeError", () => {
    assert.throws(() => notifyMessage({}), {
      name: "TypeError",
      message: "Cannot build an sd_notify message: the state sets nothing",
    });
  });
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { FakeIntervals } from "../_helpers/timers.ts";
import {
  type HeartbeatAction,
  heartbeatAction,
  HeartbeatMonitor,
  type HeartbeatState,
} from "../../lib/tunnel/mod.ts";

const POLICY = { intervalMs: 15_000, timeoutMs: 10_000, tickMs: 1000 };

Deno.test("heartbeatAction() decides from open streams, the last answer and the heartbeat in flight", async (t) => {
  const rows: { name: string; s: HeartbeatState; now: number; want: HeartbeatAction }[] = [
    {
      name: "no open stream",
      s: { openStreams: 0, lastReceivedAt: 0, sentAt: null },
      now: 60_000,
      want: { kind: "idle" },
    },
    {
      name: "no open stream forgets a heartbeat in flight",
      s: { openStreams: 0, lastReceivedAt: 0, sentAt: 1000 },
      now: 60_000,
      want: { kind: "idle" },
    },
    {
      name: "heard from within the interval",
      s: { openStreams: 2, lastReceivedAt: 1000, sentAt: null },
      now: 15_999,
      want: { kind: "wait" },
    },
    {
      name: "quiet for the interval",
      s: { openStreams: 1, lastReceivedAt: 1000, sentAt: null },
      now: 16_000,
      want: { kind: "send" },
    },
    {
      name: "heartbeat in flight, within the timeout",
      s: { openStreams: 1, lastReceivedAt: 1000, sentAt: 16_000 },
      now: 25_999,
      want: { kind: "wait" },
    },
    {
      name: "heartbeat unanswered for the timeout",
      s: { openStreams: 1, lastReceivedAt: 1000, sentAt: 16_000 },
      now: 26_000,
      want: { kind: "hung", waitedMs: 10_000 },
    },
    {
      name: "something received after the heartbeat went out",
      s: { openStreams: 1, lastReceivedAt: 16_001, sentAt: 16_000 },
      now: 40_000,
      want: { kind: "answered" },
    },
    {
      name: "received at the moment it went out is no answer",
      s: { openStreams: 1, lastReceivedAt: 16_000, sentAt: 16_000 },
      now: 26_000,
      want: { kind: "hung", waitedMs: 10_000 },
    },
  ];
  for (const r of rows) {
    await t.step(r.name, () => assert.deepEqual(heartbeatAction(r.s, r.now, POLICY), r.want));
  }
  await t.step("a duration that is not positive is refused", () => {
    assert.throws(
      () => heartbeatAction(rows[0]!.s, 0, { intervalMs: 0, timeoutMs: 1 }),
      /^RangeError: Cannot time tunnel heartbeats every 0 ms with 1 ms to answer: both must be positive$/,
    );
  });
});

/** A monitor on a fake clock and timer, recording what it sends and declares hung. */
function fakeMonitor() {
  const timers = new FakeIntervals();
  let now = 100_000;
  const sent: { target: Session; answered: () => void }[] = [];
  const hung: { target: Session; waitedMs: number }[] = [];
  const monitor = new HeartbeatMonitor<Session>({
    policy: POLICY,
    clock: () => now,
    timers,
    send: (target, answered) => sent.push({ target, answered }),
    hung: (target, waitedMs) => hung.push({ target, waitedMs }),
  });
  return {
    timers,
    monitor,
    sent,
    hung,
    /** Moves the clock and lets the timer fire once. */
    after(ms: number) {
      now += ms;
      timers.tick();
    },
  };
}

interface Session {
  active: number;
  received: number;
}

Deno.test("HeartbeatMonitor sends on a quiet session with streams and declares its peer hung", () => {
  const f = fakeMonitor();
  const s: Session = { active: 0, received: 0 };
  f.monitor.track(s);
  assert.equal(f.timers.fn, null, "no timer while no stream is open");
  s.active = 1;
  f.monitor.wake();
  assert.equal(f.timers.ms, 1000);
  f.after(1000); // streams seen: the quiet time starts
  f.after(14_000);
  assert.equal(f.sent.length, 0);
  f.after(1000);
  assert.equal(f.sent.length, 1, "quiet for 15 s");
  assert.equal(f.sent[0]!.target, s);
  f.after(9000);
  assert.deepEqual(f.hung, []);
  f.after(1000);
  assert.deepEqual(f.hung, [{ target: s, waitedMs: 10_000 }]);
  assert.equal(f.monitor.size, 0, "a hung session is no longer tracked");
  assert.equal(f.timers.cleared, true, "no tracked session with streams: the timer stops");
});

Deno.test("HeartbeatMonitor takes any answer as proof of life", async (t) => {
  await t.step("the heartbeat's own answer", () => {
    const f = fakeMonitor();
    const s: Session = { active: 1, received: 0 };
    f.monitor.track(s);
    f.monitor.wake();
    f.after(0);
    f.after(15_000);
    assert.equal(f.sent.length, 1);
    f.sent[0]!.answered();
    f.after(10_000);
    assert.deepEqual(f.hung, []);
    assert.equal(f.sent.length, 1, "the answer restarts the quiet time");
    f.after(5000);
    assert.equal(f.sent.length, 2);
    f.sent[0]!.answered(); // a late answer of an earlier heartbeat does not count for this one
    f.after(10_000);
    assert.equal(f.hung.length, 1);
  });
  await t.step("data on another stream after the heartbeat went out", () => {
    const f = fakeMonitor();
    const s: Session = { active: 3, received: 7 };
    f.monitor.track(s);
    f.monitor.wake();
    f.after(0);
    f.after(15_000);
    assert.equal(f.sent.length, 1);
    s.received++;
    f.after(1000);
    f.after(10_000);
    assert.deepEqual(f.hung, []);
    assert.equal(f.sent.length, 1, "heard from 11 s ago: no heartbeat yet");
  });
  await t.step("data keeps a busy session from heartbeats", () => {
    const f = fakeMonitor();
    const s: Session = { active: 1, received: 0 };
    f.monitor.track(s);
    f.monitor.wake();
    for (let i = 0; i < 60; i++) {
      s.received++;
      f.after(1000);
    }
    assert.equal(f.sent.length, 0);
  });
});

Deno.test("HeartbeatMonitor leaves sessions without streams alone and forgets closed ones", () => {
  const f = fakeMonitor();
  const idle: Session = { active: 0, received: 0 };
  const busy: Session = { active: 1, received: 0 };
  f.monitor.track(idle);
  f.monitor.track(busy);
  f.monitor.wake();
  f.after(0);
  f.after(15_000);
  assert.deepEqual(f.sent.map((x) => x.target), [busy]);
  // Its streams end while the heartbeat is in flight: nothing left to protect.
  busy.active = 0;
  f.after(10_000);
  assert.deepEqual(f.hung, []);
  assert.equal(f.timers.cleared, true);
  // A stream starts an hour later: the quiet time counts from then.
  busy.active = 1;
  f.monitor.wake();
  f.after(3_600_000);
  assert.equal(f.sent.length, 1);
  f.monitor.untrack(busy);
  f.after(30_000);
  assert.equal(f.sent.length, 1);
  assert.equal(f.monitor.size, 1);
  f.monitor.close();
  assert.equal(f.timers.cleared, true);
  f.monitor.wake();
  assert.equal(f.timers.fn, null, "a closed monitor starts no timer");
});

Deno.test("HeartbeatMonitor refuses a policy whose durations are not positive", () => {
  assert.throws(
    () =>
      new HeartbeatMonitor({
        policy: { intervalMs: 1000, timeoutMs: 1000, tickMs: 0 },
        clock: () => 0,
        send() {},
        hung() {},
      }),
    /^RangeError: Cannot run tunnel heartbeats with interval 1000 ms, timeout 1000 ms and tick 0 ms: each must be positive$/,
  );
});

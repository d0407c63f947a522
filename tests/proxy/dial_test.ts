// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  AllDialsFailedError,
  Balancer,
  DialError,
  dialWithFailover,
  NoEndpointsError,
  PassiveHealth,
  tcpDialer,
  type UpstreamConn,
} from "../../lib/proxy/mod.ts";
import { Deadlines } from "../../lib/proxy/dial.ts";
import type { Backend } from "../../lib/registry/model.ts";

const be = (ip: string): Backend => ({ ip, port: 80, nodeName: null });
const NONE = { type: "None" } as const;
const fakeConn: UpstreamConn = {
  read: () => Promise.resolve(null),
  write: (p) => Promise.resolve(p.length),
  closeWrite: () => Promise.resolve(),
  close: () => {},
};

/** Dials succeed only for `up` addresses; every attempt is recorded. */
function fakeDial(up: Set<string>) {
  const attempts: string[] = [];
  return {
    attempts,
    dial: (b: Backend) => {
      attempts.push(b.ip);
      return up.has(b.ip)
        ? Promise.resolve(fakeConn)
        : Promise.reject(new DialError(b, "connection refused"));
    },
  };
}

function setup(ips: string[], cooldownMs = 10_000) {
  const balancer = new Balancer({ strategy: "RoundRobin", affinity: NONE });
  balancer.setBackends(ips.map(be));
  let clock = 0;
  const health = new PassiveHealth(cooldownMs);
  return {
    balancer,
    health,
    now: () => clock,
    advance: (ms: number) => (clock += ms),
  };
}

Deno.test("dialWithFailover() tries a different endpoint on each attempt", async () => {
  const s = setup(["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
  const d = fakeDial(new Set(["10.0.0.3"]));
  const failures: string[] = [];
  const r = await dialWithFailover(s.balancer, "default/web", 80, "", {
    attempts: 3,
    dial: d.dial,
    health: s.health,
    now: s.now,
    onFailure: (b) => failures.push(b.ip),
  });
  assert.equal(r.backend.ip, "10.0.0.3");
  assert.deepEqual(d.attempts, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
  assert.deepEqual(failures, ["10.0.0.1", "10.0.0.2"]);
});

Deno.test("dialWithFailover() gives up after the attempt limit", async () => {
  const s = setup(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
  const d = fakeDial(new Set());
  const err = await dialWithFailover(s.balancer, "default/web", 80, "", {
    attempts: 3,
    dial: d.dial,
    health: s.health,
    now: s.now,
  }).catch((e) => e);
  assert.ok(err instanceof AllDialsFailedError);
  assert.equal(err.errors.length, 3);
  assert.equal(new Set(d.attempts).size, 3, "never the same endpoint twice");
  assert.match(err.message, /^Cannot proxy to "default\/web": 3 dial attempts failed$/);
});

Deno.test("dialWithFailover() retries the only endpoint when no other exists", async () => {
  const s = setup(["10.0.0.1"]);
  const d = fakeDial(new Set());
  await assert.rejects(
    dialWithFailover(s.balancer, "default/web", 80, "", {
      attempts: 3,
      dial: d.dial,
      health: s.health,
      now: s.now,
    }),
    AllDialsFailedError,
  );
  assert.deepEqual(d.attempts, ["10.0.0.1", "10.0.0.1", "10.0.0.1"]);
});

Deno.test("dialWithFailover() throws NoEndpointsError without backends", async () => {
  const s = setup([]);
  await assert.rejects(
    dialWithFailover(s.balancer, "default/web", 80, "", {
      attempts: 3,
      dial: fakeDial(new Set()).dial,
      health: s.health,
      now: s.now,
    }),
    (e: unknown) => e instanceof NoEndpointsError && /no ready endpoints/.test(e.message),
  );
});

Deno.test("dialWithFailover() ejects failed endpoints for the cool-down", async () => {
  const s = setup(["10.0.0.1", "10.0.0.2", "10.0.0.3"], 5_000);
  const up = new Set(["10.0.0.2", "10.0.0.3"]);
  const d = fakeDial(up);
  const opts = { attempts: 3, dial: d.dial, health: s.health, now: s.now };
  const dial = () => dialWithFailover(s.balancer, "default/web", 80, "", opts);

  await dial(); // 10.0.0.1 fails and is ejected, 10.0.0.2 answers
  assert.deepEqual(d.attempts, ["10.0.0.1", "10.0.0.2"]);
  assert.ok(s.health.isEjected("10.0.0.1:80", s.now()));
  d.attempts.length = 0;
  for (let i = 0; i < 4; i++) await dial();
  assert.ok(!d.attempts.includes("10.0.0.1"), "ejected endpoint skipped during cool-down");

  s.advance(5_000);
  up.add("10.0.0.1");
  d.attempts.length = 0;
  for (let i = 0; i < 3; i++) await dial();
  assert.ok(d.attempts.includes("10.0.0.1"), "eligible again after the cool-down");
  assert.ok(!s.health.isEjected("10.0.0.1:80", s.now()));
});

Deno.test("dialWithFailover() still tries endpoints when all are ejected", async () => {
  const s = setup(["10.0.0.1", "10.0.0.2"]);
  s.health.eject("10.0.0.1:80", 0);
  s.health.eject("10.0.0.2:80", 0);
  const d = fakeDial(new Set(["10.0.0.2"]));
  const r = await dialWithFailover(s.balancer, "default/web", 80, "", {
    attempts: 3,
    dial: d.dial,
    health: s.health,
    now: s.now,
  });
  assert.equal(r.backend.ip, "10.0.0.2");
  assert.deepEqual(d.attempts, ["10.0.0.1", "10.0.0.2"]);
});

Deno.test("dialWithFailover() re-pins ClientIP affinity after a failover", async () => {
  const balancer = new Balancer({
    strategy: "RoundRobin",
    affinity: { type: "ClientIP", timeoutSeconds: 60 },
  });
  balancer.setBackends([be("10.0.0.1"), be("10.0.0.2")]);
  balancer.commit("192.0.2.7", be("10.0.0.1"), 0);
  const d = fakeDial(new Set(["10.0.0.2"]));
  const health = new PassiveHealth(1000);
  const opts = { attempts: 3, dial: d.dial, health, now: () => 0 };
  await dialWithFailover(balancer, "default/web", 80, "192.0.2.7", opts);
  assert.deepEqual(d.attempts, ["10.0.0.1", "10.0.0.2"]);
  assert.equal(balancer.pick("192.0.2.7", 0)?.ip, "10.0.0.2");
});

Deno.test("tcpDialer.dial() names the endpoint when the connection is refused", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const backend = { ip: "127.0.0.1", port, nodeName: null };
  const port0 = { name: "", protocol: "TCP", port: 80, targetPort: { kind: "number", port } };
  const err = await tcpDialer.dial(
    { namespace: "default", service: "web", port: port0 as never, backend },
    { timeoutMs: 2000 },
  ).catch((e) => e);
  assert.ok(err instanceof DialError);
  assert.match(err.message, new RegExp(`^Cannot connect to "127.0.0.1:${port}": `));
});

Deno.test("tcpDialer.dial() connects and honours an aborted signal", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const backend = { ip: "127.0.0.1", port: l.addr.port, nodeName: null };
  const target = {
    namespace: "default",
    service: "web",
    port: { name: "", protocol: "TCP", port: 80, targetPort: { kind: "number", port: 80 } },
    backend,
  } as const;
  const conn = await tcpDialer.dial(target, { timeoutMs: 2000 });
  const accepted = await l.accept();
  assert.equal(conn.remoteAddr.port, l.addr.port);
  conn.close();
  accepted.close();
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(tcpDialer.dial(target, { timeoutMs: 2000, signal: ac.signal }), /aborted/);
  l.close();
});

Deno.test("Deadlines aborts pending dials in order with one timer, and only those", async () => {
  const d = new Deadlines(5);
  const [a, b, c] = [new AbortController(), new AbortController(), new AbortController()];
  const pa = d.add(a);
  const pb = d.add(b);
  const pc = d.add(c);
  assert.equal(d.armed, true);
  d.remove(pb); // finished in time: never aborted
  const aborted = (ac: AbortController) =>
    new Promise<void>((resolve) => ac.signal.addEventListener("abort", () => resolve()));
  await Promise.all([aborted(a), aborted(c)]);
  assert.deepEqual([pa.timedOut, pb.timedOut, pc.timedOut], [true, false, true]);
  assert.equal(b.signal.aborted, false);
  assert.equal(d.armed, false, "no timer left once nothing is pending");
  d.remove(pa); // the dial's finally after a timeout: a no-op
  assert.equal(d.armed, false);
});

Deno.test("Deadlines clears its timer when the last pending dial finishes", () => {
  const d = new Deadlines(60_000);
  const p1 = d.add(new AbortController());
  const p2 = d.add(new AbortController());
  d.remove(p1);
  assert.equal(d.armed, true);
  d.remove(p2);
  assert.equal(d.armed, false);
  const p3 = d.add(new AbortController());
  assert.equal(d.armed, true);
  d.remove(p3);
  assert.equal(d.armed, false);
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { type Dialer, Proxy, type UpstreamConn } from "../../lib/proxy/mod.ts";
import {
  ask,
  connectEnding,
  loopbackVip,
  snapshotOf,
  type TestService,
} from "../_helpers/proxy_fixtures.ts";

/** A dialer whose upstream answers `<tag>:<ip>` and EOF, recording each dial. */
function taggedDialer(tag: string, log: string[]): Dialer {
  return {
    dial(target) {
      log.push(`${tag}:${target.backend.ip}`);
      let sent = false;
      const conn: UpstreamConn = {
        read(p) {
          if (sent) return Promise.resolve(null);
          sent = true;
          const bytes = new TextEncoder().encode(`${tag}:${target.backend.ip}`);
          p.set(bytes);
          return Promise.resolve(bytes.length);
        },
        write: (p) => Promise.resolve(p.length),
        closeWrite: () => Promise.resolve(),
        close: () => {},
      };
      return Promise.resolve(conn);
    },
  };
}

const PORT = 18090;

Deno.test("Proxy routes local endpoints to localDialer and remote ones to remoteDialer", async (t) => {
  const cases = [
    { name: "no nodeName → local", nodeName: null, remote: true, want: "local:10.1.0.1" },
    { name: "our node → local", nodeName: "node-a", remote: true, want: "local:10.1.0.1" },
    { name: "other node → remote", nodeName: "node-b", remote: true, want: "remote:10.1.0.1" },
    {
      name: "other node without a tunnel → local",
      nodeName: "node-b",
      remote: false,
      want: "local:10.1.0.1",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const dials: string[] = [];
      const proxy = new Proxy({
        nodeName: "node-a",
        log: nullLogger,
        localDialer: taggedDialer("local", dials),
        ...(c.remote ? { remoteDialer: taggedDialer("remote", dials) } : {}),
      });
      try {
        const vip = loopbackVip();
        await proxy.update(snapshotOf({
          name: "web",
          vip,
          ports: [{ name: "", port: PORT }],
          endpoints: [{ ip: "10.1.0.1", nodeName: c.nodeName, ports: { "": 80 } }],
        }));
        assert.equal(await ask(vip, PORT), c.want);
        assert.deepEqual(dials, [c.want]);
      } finally {
        await proxy.close();
      }
    });
  }
});

Deno.test("Proxy builds a remoteDialer given as a function from its local dialer", async () => {
  const dials: string[] = [];
  const local = taggedDialer("local", dials);
  let given: Dialer | null = null;
  const proxy = new Proxy({
    nodeName: "node-a",
    log: nullLogger,
    localDialer: local,
    // A routing dialer (the tunnel's) sends some remote endpoints "direct", through `local`.
    remoteDialer: (l) => {
      given = l;
      return { dial: (target, opts) => l.dial(target, opts) };
    },
  });
  try {
    assert.equal(given, local);
    const vip = loopbackVip();
    await proxy.update(snapshotOf({
      name: "web",
      vip,
      ports: [{ name: "", port: PORT }],
      endpoints: [{ ip: "10.1.0.2", nodeName: "node-b", ports: { "": 80 } }],
    }));
    assert.equal(await ask(vip, PORT), "local:10.1.0.2");
    assert.deepEqual(dials, ["local:10.1.0.2"]);
  } finally {
    await proxy.close();
  }
});

Deno.test("Proxy applies the per-service lb-strategy over the global one", async () => {
  const dials: string[] = [];
  const proxy = new Proxy({
    nodeName: "node-a",
    log: nullLogger,
    lbStrategy: "RoundRobin",
    random: () => 0.99,
    localDialer: taggedDialer("local", dials),
  });
  try {
    const endpoints = ["10.1.0.1", "10.1.0.2", "10.1.0.3"].map((ip) => ({ ip, ports: { "": 80 } }));
    const rr = loopbackVip();
    const rnd = loopbackVip();
    await proxy.update(snapshotOf(
      { name: "rr", vip: rr, ports: [{ name: "", port: PORT }], endpoints },
      {
        name: "rnd",
        vip: rnd,
        ports: [{ name: "", port: PORT }],
        endpoints,
        lbStrategy: "Random",
      },
    ));
    const got = [];
    for (let i = 0; i < 3; i++) got.push(await ask(rr, PORT));
    assert.deepEqual(got, ["local:10.1.0.1", "local:10.1.0.2", "local:10.1.0.3"]);
    const random = [];
    for (let i = 0; i < 3; i++) random.push(await ask(rnd, PORT));
    assert.deepEqual(random, ["local:10.1.0.3", "local:10.1.0.3", "local:10.1.0.3"]);

    // Switching the annotation back keeps the listener and changes only the picking.
    await proxy.update(snapshotOf(
      { name: "rnd", vip: rnd, ports: [{ name: "", port: PORT }], endpoints },
    ));
    const after = [];
    for (let i = 0; i < 3; i++) after.push(await ask(rnd, PORT));
    assert.deepEqual(after, ["local:10.1.0.1", "local:10.1.0.2", "local:10.1.0.3"]);
  } finally {
    await proxy.close();
  }
});

Deno.test("Proxy.listeners() reports each VIP:port with its endpoints", async () => {
  const proxy = new Proxy({
    nodeName: "node-a",
    log: nullLogger,
    localDialer: taggedDialer("l", []),
  });
  try {
    const vip = loopbackVip();
    await proxy.update(snapshotOf({
      name: "web",
      vip,
      ports: [{ name: "http", port: PORT }, { name: "admin", port: PORT + 1 }],
      endpoints: [{ ip: "10.1.0.1", ports: { http: 80 } }],
    }, { name: "headless", vip: null, ports: [{ name: "", port: PORT }], endpoints: [] }));
    assert.deepEqual(proxy.listeners(), [
      {
        vip,
        port: PORT,
        service: "default/web",
        portName: "http",
        bound: true,
        error: null,
        failure: null,
        connections: 0,
        endpoints: 1,
      },
      {
        vip,
        port: PORT + 1,
        service: "default/web",
        portName: "admin",
        bound: true,
        error: null,
        failure: null,
        connections: 0,
        endpoints: 0,
      },
    ]);
  } finally {
    await proxy.close();
  }
});

Deno.test("Proxy warns once per service and minute when no endpoint of a service can be reached", async (t) => {
  let now = 0;
  const log = memoryLogger("info");
  const refusing: Dialer = {
    dial: (target) => Promise.reject(new Error(`refused by ${target.backend.ip} (test)`)),
  };
  const proxy = new Proxy({
    nodeName: "node-a",
    log,
    localDialer: refusing,
    dialAttempts: 2,
    now: () => now,
  });
  const vips = { web: loopbackVip(), api: loopbackVip(), empty: loopbackVip() };
  const port = (ip: string) => ({ ip, ports: { "": 80 } });
  await proxy.update(snapshotOf(
    {
      name: "web",
      vip: vips.web,
      ports: [{ name: "", port: PORT }],
      endpoints: [port("10.1.0.1"), port("10.1.0.2")],
    },
    {
      name: "api",
      vip: vips.api,
      ports: [{ name: "", port: PORT }],
      endpoints: [port("10.1.0.3")],
    },
    { name: "empty", vip: vips.empty, ports: [{ name: "", port: PORT }], endpoints: [] },
  ));
  /** Each row: clock, service connected to, the warn line expected then (null: none). */
  const rows: [number, keyof typeof vips, Record<string, unknown> | null][] = [
    [0, "web", { service: "default/web", endpoints: 2, attempts: 2 }],
    [1000, "web", null],
    [2000, "api", { service: "default/api", endpoints: 1, attempts: 2 }],
    [3000, "empty", null], // no endpoints: not an error of the endpoints, stays at debug
    [59_999, "web", null],
    [60_000, "web", { service: "default/web", endpoints: 2, attempts: 2, suppressed: 2 }],
    [60_001, "empty", null],
  ];
  try {
    for (const [at, name, want] of rows) {
      await t.step(`t=${at} ${name}`, async () => {
        now = at;
        const before = log.lines.length;
        // The proxy has ended the connection (and logged) once the client sees the end.
        const end = await connectEnding(vips[name], PORT);
        assert.equal(end, proxy.engine === "epoll" ? "ConnectionReset" : "eof");
        const warns = log.lines.slice(before).map((l) => JSON.parse(l)).filter((l) =>
          l.level === "warn"
        );
        if (want === null) return assert.deepEqual(warns, []);
        assert.equal(warns.length, 1);
        const { msg, service, endpoints, attempts, suppressed, error, port } = warns[0];
        assert.equal(msg, "Cannot reach any endpoint of a service, resetting client connections");
        assert.deepEqual(
          { service, endpoints, attempts, ...(suppressed ? { suppressed } : {}) },
          want,
        );
        assert.equal(port, PORT);
        assert.match(error, /refused by 10\.1\.0\.\d \(test\)/);
      });
    }
  } finally {
    await proxy.close();
  }
});

Deno.test("Proxy falls back to serving-terminating endpoints and keeps internalTrafficPolicy Local on this node", async (t) => {
  const dials: string[] = [];
  const log = memoryLogger("debug");
  const metrics = new MetricsRegistry();
  const proxy = new Proxy({
    nodeName: "node-a",
    log,
    metrics,
    localDialer: taggedDialer("local", dials),
    remoteDialer: taggedDialer("remote", dials),
  });
  const vip = loopbackVip();
  type Ep = TestService["endpoints"][number];
  const ep = (ip: string, nodeName: string | null, more: Partial<Ep> = {}): Ep => ({
    ip,
    nodeName,
    ports: { "": 80 },
    ...more,
  });
  const terminating = { terminating: { serving: true } };
  const reset = proxy.engine === "epoll" ? "ConnectionReset" : "eof";
  /** Each row: the service's endpoints and policy, what two connections get, the debug line. */
  const rows: {
    name: string;
    endpoints: Ep[];
    policy?: "Local";
    want: string;
    debug?: string;
  }[] = [
    {
      name: "ready endpoints (Cluster)",
      endpoints: [
        ep("10.1.0.1", "node-a"),
        ep("10.1.0.2", "node-b"),
        ep("10.1.0.3", null, terminating),
      ],
      want: "local:10.1.0.1 remote:10.1.0.2",
    },
    {
      name: "none ready: the serving-terminating one",
      endpoints: [ep("10.1.0.3", null, terminating), ep("10.1.0.4", "node-a", { ready: false })],
      want: "local:10.1.0.3 local:10.1.0.3",
    },
    {
      name: "Local: only this node's endpoints",
      endpoints: [ep("10.1.0.1", "node-a"), ep("10.1.0.2", "node-b")],
      policy: "Local",
      want: "local:10.1.0.1 local:10.1.0.1",
    },
    {
      name: "Local: serving-terminating on this node before ready ones elsewhere",
      endpoints: [ep("10.1.0.2", "node-b"), ep("10.1.0.5", "node-a", terminating)],
      policy: "Local",
      want: "local:10.1.0.5 local:10.1.0.5",
    },
    {
      name: "Local with none on this node: rejected",
      endpoints: [ep("10.1.0.2", "node-b"), ep("10.1.0.6", null)],
      policy: "Local",
      want: `${reset} ${reset}`,
      debug: "No local endpoints (internalTrafficPolicy Local), resetting client",
    },
    {
      name: "nothing usable: rejected",
      endpoints: [ep("10.1.0.7", "node-a", { terminating: { serving: false } })],
      want: `${reset} ${reset}`,
      debug: "No ready endpoints, resetting client",
    },
  ];
  try {
    for (const r of rows) {
      await t.step(r.name, async () => {
        await proxy.update(snapshotOf({
          name: "web",
          vip,
          ports: [{ name: "", port: PORT }],
          endpoints: r.endpoints,
          ...(r.policy ? { internalTrafficPolicy: r.policy } : {}),
        }));
        dials.length = 0;
        const before = log.lines.length;
        const got = [];
        for (let i = 0; i < 2; i++) {
          got.push(r.debug ? await connectEnding(vip, PORT) : await ask(vip, PORT));
        }
        assert.equal(got.join(" "), r.want);
        // A rejected connection dials nothing; a served one dials exactly what it got.
        assert.deepEqual(dials, r.debug ? [] : got);
        const msgs = log.lines.slice(before).map((l) => JSON.parse(l).msg);
        if (r.debug) assert.deepEqual(msgs, [r.debug, r.debug]);
        assert.equal(proxy.listeners()[0]?.endpoints, r.debug ? 0 : new Set(got).size);
      });
    }
    // The four rejected connections are counted as rejected for want of an endpoint.
    assert.match(
      metrics.render(),
      /^edgemesh_proxy_no_endpoints_total\{service="default\/web"\} 4$/m,
    );
  } finally {
    await proxy.close();
  }
});

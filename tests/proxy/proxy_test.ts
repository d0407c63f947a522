// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import { type Dialer, Proxy, type UpstreamConn } from "../../lib/proxy/mod.ts";
import { ask, loopbackVip, snapshotOf } from "../_helpers/proxy_fixtures.ts";

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
        connections: 0,
        endpoints: 0,
      },
    ]);
  } finally {
    await proxy.close();
  }
});

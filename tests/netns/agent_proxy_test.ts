// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The real agent (`main.ts run`, production permissions) inside a network namespace with real
 * `ip` (bridge fallback for `edge0`) and real sockets: services applied over the control
 * socket are served on their VIPs, balanced round-robin, failed over, removed, kept across a
 * restart, and cleaned up on SIGTERM (issue 3, "Integration in network namespaces").
 * @module
 */
import assert from "node:assert/strict";
import { startAgent } from "../_helpers/agent.ts";
import {
  addBackendAddress,
  applyObjects,
  BACKEND_IP,
  connectMany,
  ctl,
  deviceAddresses,
  endpointsObject,
  getServices,
  linkExists,
  runClient,
  serviceObject,
  settled,
  spawnClient,
  startBackends,
  tcpListeners,
  vipOf,
} from "../_helpers/agent_fixtures.ts";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";

/** The DNS server's address: the subnet's first address, always on the device. */
const DNS_ADDRESS = "9.251.0.1";
/** Next-fit allocation hands out VIPs from `9.251.0.2` upward, in apply order. */
const WEB_VIP = "9.251.0.2";
const API_VIP = "9.251.0.3";

Deno.test({
  name: "agent in a namespace balances, fails over, deletes, restarts and cleans up VIPs",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agpx");
    const dir = await Deno.makeTempDir({ prefix: "em-agpx-" });
    try {
      await using backends = await startBackends(
        ns,
        ["name:one", "name:two", "name:three"],
        await addBackendAddress(ns),
      );
      const names = ["one", "two", "three"] as const;
      // Two proxy threads from the start: balancing and failover must hold across them. No
      // drain grace: a deleted service's VIP stays only the 2 s margin after it.
      const config = { nodeName: "n1", logLevel: "debug", proxyThreads: 2, drainGraceMs: 0 };
      const agent = await startAgent({ netns: ns, dir, config });
      try {
        // One subset per backend: same address, distinct ports, named like the service port.
        await applyObjects(agent, [
          serviceObject("web", [{ name: "http", port: 80, targetPort: 8080 }]),
          endpointsObject(
            "web",
            names.map((n) => ({
              addresses: [BACKEND_IP],
              ports: [{ name: "http", port: backends.ports[n]! }],
            })),
          ),
          serviceObject("api", [{ name: "http", port: 81, targetPort: 8080 }]),
          endpointsObject("api", [{
            addresses: [BACKEND_IP],
            ports: [{ name: "http", port: backends.ports.one! }],
          }]),
        ]);
        assert.equal(await vipOf(agent, "web"), WEB_VIP);
        assert.equal(await vipOf(agent, "api"), API_VIP);
        const [web, api] = [WEB_VIP, API_VIP];
        assert.deepEqual(await deviceAddresses(ns), [DNS_ADDRESS, web, api]);

        // Round-robin in endpoint order, cycle after cycle.
        assert.deepEqual(await connectMany(ns, web, 80, 9), [
          ...["one", "two", "three"],
          ...["one", "two", "three"],
          ...["one", "two", "three"],
        ]);

        // A stopped backend: its dial fails, the next endpoint answers, it is ejected.
        await backends.stop("two");
        assert.deepEqual(await connectMany(ns, web, 80, 8), [
          ...["one", "three"],
          ...["one", "three"],
          ...["one", "three"],
          ...["one", "three"],
        ]);

        // Deleting the service removes its listener at once: its VIP refuses connections while
        // it stays for the drain, then goes too; the other service stays.
        const del = await ctl(agent, ["delete", "service", "default/web"]);
        assert.equal(del.code, 0, del.stderr);
        await settled(agent);
        assert.equal(del.stdout, "service/default/web deleted\n");
        const listeners = await tcpListeners(ns);
        assert.equal(listeners.filter((l) => l.startsWith(`${web}:`)).length, 0, `${listeners}`);
        assert.ok(listeners.includes(`${api}:81`), `${listeners}`);
        assert.deepEqual(await deviceAddresses(ns), [DNS_ADDRESS, web, api], "held for the drain");
        assert.deepEqual(await connectMany(ns, web, 80, 1), ["error:ConnectionRefused"]);
        await agent.waitForLog(/msg="Reconciled device addresses" .*\badded=0 removed=1\b/);
        assert.deepEqual(await deviceAddresses(ns), [DNS_ADDRESS, api]);
        // The /32 was the only route to the VIP: no address, no route.
        assert.deepEqual(await connectMany(ns, web, 80, 1), ["error:NetworkUnreachable"]);
        assert.deepEqual(await connectMany(ns, api, 81, 2), ["one", "one"]);

        // SIGTERM: exit 0, our addresses and the device we created are gone.
        assert.equal(await agent.stop(), 0);
      } finally {
        await agent[Symbol.asyncDispose]();
      }
      assert.equal(await linkExists(ns), false, "edge0 removed on SIGTERM");

      // Restart on the same state: api keeps its VIP (not the freed 9.251.0.2) and serves.
      const again = await startAgent({ netns: ns, dir, config });
      try {
        assert.equal(await vipOf(again, "api"), API_VIP);
        assert.deepEqual(await deviceAddresses(ns), [DNS_ADDRESS, API_VIP]);
        assert.deepEqual(await connectMany(ns, API_VIP, 81, 2), ["one", "one"]);
        assert.equal(await again.stop(), 0);
      } finally {
        await again[Symbol.asyncDispose]();
      }
      assert.equal(await linkExists(ns), false, "edge0 removed on the second SIGTERM");
      assert.deepEqual(await tcpListeners(ns).then((l) => l.filter((a) => a.startsWith("9."))), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "agent proxy carries 100 MiB with half-close to an echo backend, byte for byte",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agbulk");
    await using backends = await startBackends(ns, ["echo:echo"], await addBackendAddress(ns));
    await using agent = await startAgent({
      netns: ns,
      config: { nodeName: "n1", logLevel: "debug" },
    });
    await applyObjects(agent, [
      serviceObject("echo", [{ name: "tcp", port: 7000, targetPort: 9000 }]),
      endpointsObject("echo", [{
        addresses: [BACKEND_IP],
        ports: [{ name: "tcp", port: backends.ports.echo! }],
      }]),
    ]);
    assert.equal(await vipOf(agent, "echo"), WEB_VIP);
    const size = 100 * 1024 * 1024;
    // The client half-closes after the last byte; the echo backend half-closes at EOF.
    const r = await runClient<
      { sent: number; received: number; sentSha256: string; receivedSha256: string }
    >(ns, "stream.ts", [WEB_VIP, 7000, size]);
    assert.equal(r.sent, size);
    assert.equal(r.received, size);
    assert.match(r.sentSha256, /^[0-9a-f]{64}$/);
    assert.equal(r.receivedSha256, r.sentSha256);
    assert.equal(await agent.stop(), 0);
  },
});

Deno.test({
  name: "agent proxy resolves named targetPorts through Endpoints port names",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agname");
    await using backends = await startBackends(
      ns,
      ["name:alpha", "name:beta"],
      await addBackendAddress(ns),
    );
    await using agent = await startAgent({
      netns: ns,
      config: { nodeName: "n1", logLevel: "debug" },
    });
    // Kubernetes names Endpoints ports after the service ports; targetPort names the
    // container port, which only the endpoint's port number reflects.
    await applyObjects(agent, [
      serviceObject("named", [
        { name: "http", port: 80, targetPort: "web" },
        { name: "admin", port: 8081, targetPort: "admin-port" },
      ]),
      endpointsObject("named", [{
        addresses: [BACKEND_IP],
        ports: [
          { name: "http", port: backends.ports.alpha! },
          { name: "admin", port: backends.ports.beta! },
        ],
      }]),
    ]);
    const [view] = await getServices(agent);
    assert.deepEqual(view, {
      namespace: "default",
      name: "named",
      vip: WEB_VIP,
      ports: [
        { name: "http", protocol: "TCP", port: 80, targetPort: "web" },
        { name: "admin", protocol: "TCP", port: 8081, targetPort: "admin-port" },
      ],
      endpoints: [
        { ip: BACKEND_IP, port: backends.ports.alpha, nodeName: null, ready: true },
        { ip: BACKEND_IP, port: backends.ports.beta, nodeName: null, ready: true },
      ],
    });
    assert.deepEqual(await connectMany(ns, WEB_VIP, 80, 2), ["alpha", "alpha"]);
    assert.deepEqual(await connectMany(ns, WEB_VIP, 8081, 2), ["beta", "beta"]);
    assert.equal(await agent.stop(), 0);
  },
});

Deno.test({
  name: "agent keeps a deleted service's VIP while its connections drain, then closes them",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agdrain");
    await using backends = await startBackends(ns, ["echo:echo"], await addBackendAddress(ns));
    await using agent = await startAgent({
      netns: ns,
      config: { nodeName: "n1", logLevel: "debug", drainGraceMs: 1500 },
    });
    await applyObjects(agent, [
      serviceObject("drain", [{ name: "tcp", port: 7000, targetPort: 9000 }]),
      endpointsObject("drain", [{
        addresses: [BACKEND_IP],
        ports: [{ name: "tcp", port: backends.ports.echo! }],
      }]),
    ]);
    await settled(agent);
    await using conn = spawnClient(ns, "hold.ts", [WEB_VIP, "7000"]);
    assert.equal(await conn.readLine(), "connected");
    await conn.writeLine("before");
    assert.equal(await conn.readLine(), "data:before");

    const del = await ctl(agent, ["delete", "service", "default/drain"]);
    assert.equal(del.code, 0, del.stderr);
    await settled(agent);
    // Still flowing during the grace: the VIP is still on the device.
    await conn.writeLine("during");
    assert.equal(await conn.readLine(), "data:during");
    // At the end of the grace the proxy closes it, and the client sees the close.
    assert.match(await conn.readLine(), /^closed:/);
    await agent.waitForLog(/msg="Reconciled device addresses" .*\badded=0 removed=1\b/);
    assert.deepEqual(await deviceAddresses(ns), [DNS_ADDRESS]);
    assert.equal(await agent.stop(), 0);
  },
});

Deno.test({
  name: "a service port another program held is opened within seconds of being freed",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agsquat");
    // Another program on every address's port (a gateway's web UI on 0.0.0.0:80, say).
    const squatter = await startBackends(ns, ["name:squatter"], "0.0.0.0");
    const port = squatter.ports["squatter"]!;
    await using agent = await startAgent({ netns: ns, config: { nodeName: "n1" } });
    const web = serviceObject("web", [{ name: "http", port, targetPort: 8080 }]);
    // Not applyObjects: with a listener unbound the pass does not count as reconciled.
    const applied = await ctl(agent, ["apply", "-f", "-"], JSON.stringify(web));
    assert.equal(applied.code, 0, applied.stderr);
    await agent.waitForLog(/msg="Cannot listen on service address/, 10_000);
    const mark = agent.lineCount();
    await squatter.stop("squatter");
    await squatter[Symbol.asyncDispose]();
    // Before: at the next 30 s resync. Now within the 5 s retry and one pass.
    const line = await agent.waitForLog(/msg="Listening on service address now"/, 9_000, mark);
    assert.match(line, new RegExp(`addr=9\\.251\\.0\\.2:${port}\\b`));
    assert.equal(await agent.stop(), 0);
  },
});

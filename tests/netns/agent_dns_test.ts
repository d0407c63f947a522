// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The real agent's DNS server inside a network namespace, on its default address
 * `9.251.0.1:53` on `edge0`: service names follow applies and deletes, headless services
 * answer with ready endpoints, other names are forwarded (issue 4, "In a namespace with the
 * agent running").
 * @module
 */
import assert from "node:assert/strict";
import { startAgent } from "../_helpers/agent.ts";
import {
  applyObjects,
  ctl,
  dnsQueries,
  endpointsObject,
  type RawResult,
  serviceObject,
  settled,
  startUpstreamDns,
  vipOf,
} from "../_helpers/agent_fixtures.ts";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";
import { NODE_ADDRESS_POLL_MS } from "../../lib/dns/mod.ts";

const WEB_VIP = "9.251.0.2";
const FQDN = "web.default.svc.cluster.local";

Deno.test({
  name: "agent DNS follows service applies and deletes, over UDP and TCP",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agdns");
    // Names outside the cluster domain go here (and get NXDOMAIN), never off the node.
    await using upstream = await startUpstreamDns(ns, {});
    await using agent = await startAgent({
      netns: ns,
      config: { nodeName: "n1", logLevel: "debug", upstreams: [`127.0.0.1:${upstream.port}`] },
    });
    await applyObjects(agent, [
      serviceObject("web", [{ name: "http", port: 80, targetPort: 8080 }]),
      serviceObject("db", [{ name: "pg", port: 5432, targetPort: 5432 }], { headless: true }),
      endpointsObject("db", [{
        // Data only: nothing connects to these.
        addresses: ["10.254.0.22", "10.254.0.21"],
        notReady: ["10.254.0.23"],
        ports: [{ name: "pg", port: 5432 }],
      }]),
    ]);
    assert.equal(await vipOf(agent, "web"), WEB_VIP);
    assert.equal(await vipOf(agent, "db"), null);
    // The production permission flags are enough for batched UDP (FFI scoped to libc).
    assert.match(agent.logs(), /msg="DNS server listening" .*udp=batched/);

    const forms = [FQDN, "web.default.svc", "web.default", "web", "WEB.Default.Svc.Cluster.Local."];
    const before = await dnsQueries(ns, [
      ...forms.map((name) => ({ via: "resolve", name, type: "A" }) as const),
      { via: "udp", name: FQDN, type: "A" },
      { via: "tcp", name: FQDN, type: "A" },
      { via: "resolve", name: "db.default.svc.cluster.local", type: "A" },
    ]);
    for (const [i, name] of forms.entries()) {
      assert.deepEqual(before[i], { answers: [WEB_VIP] }, name);
    }
    const answer = {
      rcode: "NOERROR",
      aa: true,
      answers: [{ name: FQDN, type: "A", data: WEB_VIP }],
      authorities: [],
    };
    assert.deepEqual(before[forms.length], answer, "UDP");
    assert.deepEqual(before[forms.length + 1], answer, "TCP");
    const headless = before[forms.length + 2] as { answers: string[] };
    assert.deepEqual([...headless.answers].sort(), ["10.254.0.21", "10.254.0.22"]);

    const del = await ctl(agent, ["delete", "service", "default/web"]);
    assert.equal(del.code, 0, del.stderr);
    await settled(agent);
    const after = await dnsQueries(ns, [
      ...forms.map((name) => ({ via: "resolve", name, type: "A" }) as const),
      { via: "udp", name: FQDN, type: "A" },
      { via: "tcp", name: FQDN, type: "A" },
    ]);
    for (const [i, name] of forms.entries()) {
      assert.deepEqual(after[i], { error: "NotFound" }, name);
    }
    const nxdomain = {
      rcode: "NXDOMAIN",
      aa: true,
      answers: [],
      authorities: [{ name: "cluster.local", type: "SOA" }],
    };
    assert.deepEqual(after[forms.length], nxdomain, "UDP");
    assert.deepEqual(after[forms.length + 1], nxdomain, "TCP");
    assert.equal(await agent.stop(), 0);
    // Names in the cluster domain are never forwarded; short forms of a deleted service are
    // no longer ours and go upstream (a resolver retry may repeat one).
    assert.deepEqual([...new Set(await upstream.finish())], [
      "web.default.svc A",
      "web.default A",
      "web A",
    ]);
  },
});

Deno.test({
  name: "agent DNS forwards other names to the configured upstream and caches the answer",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agfwd");
    // 192.0.2.1 (RFC 5737 TEST-NET-1) is only data in the answer; nothing connects to it.
    await using upstream = await startUpstreamDns(ns, { "example.test": "192.0.2.1" });
    await using agent = await startAgent({
      netns: ns,
      config: { nodeName: "n1", logLevel: "debug", upstreams: [`127.0.0.1:${upstream.port}`] },
    });
    const results = await dnsQueries(ns, [
      { via: "resolve", name: "example.test", type: "A" },
      { via: "udp", name: "example.test", type: "A" },
      { via: "tcp", name: "example.test", type: "A" },
      { via: "udp", name: "missing.test", type: "A" },
    ]);
    assert.deepEqual(results[0], { answers: ["192.0.2.1"] });
    const forwarded = (name: string) => ({
      rcode: "NOERROR",
      aa: false,
      answers: [{ name, type: "A", data: "192.0.2.1" }],
      authorities: [],
    });
    assert.deepEqual(results[1], forwarded("example.test"));
    assert.deepEqual(results[2], forwarded("example.test"));
    assert.deepEqual(results[3], {
      rcode: "NXDOMAIN",
      aa: false,
      answers: [],
      authorities: [],
    });
    assert.equal(await agent.stop(), 0);
    // The second and third queries were answered from the cache (TTL 60 s).
    assert.deepEqual([...new Set(await upstream.finish())], ["example.test A", "missing.test A"]);
  },
});

Deno.test({
  name: "agent DNS lets a client on the node's new address forward after the address changed",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("agnode");
    // 198.51.100.0/24 (RFC 5737 TEST-NET-2) is in no private range: only `node` allows it.
    await ns.run(["ip", "addr", "add", "198.51.100.10/32", "dev", "lo"]);
    await using upstream = await startUpstreamDns(ns, { "example.test": "192.0.2.1" });
    await using agent = await startAgent({
      netns: ns,
      config: {
        nodeName: "n1",
        logLevel: "debug",
        dnsAllowFrom: ["node"],
        upstreams: [`127.0.0.1:${upstream.port}`],
      },
    });
    const rcodeFrom = async (source: string) => {
      const [r] = await dnsQueries(ns, [{ via: "udp", name: "example.test", type: "A", source }]);
      return (r as RawResult).rcode;
    };
    assert.equal(await rcodeFrom("198.51.100.10"), "NOERROR");
    // A DHCP lease with a new address: no registry object changes with it.
    const mark = agent.lineCount();
    await ns.run(["ip", "addr", "add", "198.51.100.20/32", "dev", "lo"]);
    await ns.run(["ip", "addr", "del", "198.51.100.10/32", "dev", "lo"]);
    await agent.waitForLog(
      /msg="node addresses changed; dnsAllowFrom node follows them"/,
      NODE_ADDRESS_POLL_MS + 5_000,
      mark,
    );
    // Before, REFUSED until a Service changed (the zone update re-read the addresses).
    assert.equal(await rcodeFrom("198.51.100.20"), "NOERROR");
    assert.equal(await agent.stop(), 0);
    assert.deepEqual(await upstream.finish(), ["example.test A"]);
  },
});

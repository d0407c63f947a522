// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { DnsServer, type DnsServerOptions, Rcode, RRType } from "../../lib/dns/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { ep, port, snapshot, svc, testSnapshot } from "../dns/_fixtures.ts";
import {
  decode,
  FakeUpstream,
  query,
  SilentUpstream,
  tcpQueries,
  udpQuery,
} from "./dns_helpers.ts";
import { scaled } from "../_helpers/emulation.ts";

function start(options: Partial<DnsServerOptions> = {}): Promise<DnsServer> {
  return DnsServer.start({
    listen: ["127.0.0.1:0"],
    snapshot: testSnapshot(),
    nodeAddresses: () => [],
    ...options,
  });
}

function nameServer(server: DnsServer) {
  const a = server.addresses[0]!;
  return { nameServer: { ipAddr: a.hostname, port: a.port } };
}

Deno.test("DnsServer answers Deno.resolveDns over UDP", async (t) => {
  await using server = await start();
  const ns = nameServer(server);
  await t.step("service FQDN", async () => {
    assert.deepEqual(
      await Deno.resolveDns("nginx.default.svc.cluster.local", "A", ns),
      ["9.251.0.2"],
    );
  });
  await t.step("short name", async () => {
    assert.deepEqual(await Deno.resolveDns("api.prod", "A", ns), ["9.251.0.3"]);
  });
  await t.step("headless", async () => {
    const ips = await Deno.resolveDns("db.default.svc.cluster.local", "A", ns);
    assert.deepEqual(ips.sort(), ["10.1.0.5", "10.1.0.6", "10.1.0.7"]);
  });
  await t.step("SRV", async () => {
    const srv = await Deno.resolveDns("_http._tcp.nginx.default.svc.cluster.local", "SRV", ns);
    assert.deepEqual(srv.map((r) => ({ ...r })), [
      { priority: 0, weight: 100, port: 80, target: "nginx.default.svc.cluster.local." },
    ]);
  });
  await t.step("TXT dns-version", async () => {
    assert.deepEqual(await Deno.resolveDns("dns-version.cluster.local", "TXT", ns), [["1.0.1"]]);
  });
  await t.step("PTR", async () => {
    assert.deepEqual(await Deno.resolveDns("2.0.251.9.in-addr.arpa", "PTR", ns), [
      "nginx.default.svc.cluster.local.",
    ]);
  });
  await t.step("NXDOMAIN", async () => {
    await assert.rejects(
      Deno.resolveDns("nope.default.svc.cluster.local", "A", ns),
      Deno.errors.NotFound,
    );
  });
});

Deno.test("DnsServer answers raw queries over UDP and TCP per RFC 1035 and 6891", async (t) => {
  await using server = await start();
  const addr = server.addresses[0]!;
  await t.step("UDP fast path: ID, RD, AA, question echoed with its case", async () => {
    const a = decode(await udpQuery(addr, query("NGINX.default.svc.cluster.local", RRType.A)));
    assert.equal(a.id, 0x1234);
    assert.equal(a.response, true);
    assert.equal(a.recursionDesired, true);
    assert.equal(a.authoritative, true);
    assert.equal(a.recursionAvailable, false); // no upstreams
    assert.deepEqual(a.questions, [{ name: "NGINX.default.svc.cluster.local", type: 1, class: 1 }]);
    assert.deepEqual(a.answers.map((r) => r.type === "A" && [r.name, r.address, r.ttl]), [
      ["NGINX.default.svc.cluster.local", "9.251.0.2", 5],
    ]);
    assert.equal(a.edns, null);
  });
  await t.step("EDNS OPT echoed with DO", async () => {
    const a = decode(
      await udpQuery(
        addr,
        query("nginx", RRType.A, { edns: { udpPayloadSize: 4096, version: 0, dnssecOk: true } }),
      ),
    );
    assert.equal(a.edns?.dnssecOk, true);
    assert.equal(a.edns?.version, 0);
    assert.equal(a.answers.length, 1);
  });
  await t.step("EDNS version 1 → BADVERS", async () => {
    const a = decode(
      await udpQuery(
        addr,
        query("nginx", RRType.A, { edns: { udpPayloadSize: 4096, version: 1, dnssecOk: false } }),
      ),
    );
    assert.equal(a.rcode, Rcode.BADVERS);
  });
  await t.step("AAAA NODATA with SOA", async () => {
    const a = decode(await udpQuery(addr, query("nginx.default.svc.cluster.local", RRType.AAAA)));
    assert.equal(a.rcode, Rcode.NOERROR);
    assert.equal(a.answers.length, 0);
    assert.equal(a.authorities[0]?.type, "SOA");
  });
  await t.step("TCP: several queries on one connection", async () => {
    const answers = await tcpQueries(addr, [
      query("nginx.default.svc.cluster.local", RRType.A, { id: 1 }),
      query("_grpc._tcp.api.prod.svc.cluster.local", RRType.SRV, { id: 2 }),
      query("missing.default.svc.cluster.local", RRType.A, { id: 3 }),
    ]);
    const [a, b, c] = answers.map(decode);
    assert.equal(a!.id, 1);
    assert.deepEqual(a!.answers.map((r) => r.type === "A" && r.address), ["9.251.0.2"]);
    assert.equal(b!.id, 2);
    assert.equal(b!.answers[0]?.type, "SRV");
    assert.equal(b!.additionals[0]?.type, "A");
    assert.equal(c!.id, 3);
    assert.equal(c!.rcode, Rcode.NXDOMAIN);
  });
  await t.step("not ours and no upstream → REFUSED", async () => {
    const a = decode(await udpQuery(addr, query("example.com", RRType.A)));
    assert.equal(a.rcode, Rcode.REFUSED);
  });
});

Deno.test("DnsServer truncates big UDP answers and serves them whole over TCP", async () => {
  const endpoints = Array.from({ length: 60 }, (_, i) => ep(`10.2.${i >> 8}.${i & 0xff}`));
  await using server = await start({
    snapshot: snapshot([
      svc("default", "big", { kind: { type: "Headless" }, ports: [port("", 80)], endpoints }),
    ]),
  });
  const addr = server.addresses[0]!;
  const q = query("big.default.svc.cluster.local", RRType.A);
  const udp = decode(await udpQuery(addr, q));
  assert.equal(udp.truncated, true);
  assert.equal(udp.answers.length, 0);
  assert.equal(udp.questions[0]?.name, "big.default.svc.cluster.local");
  const [tcp] = (await tcpQueries(addr, [q])).map(decode);
  assert.equal(tcp!.truncated, false);
  assert.equal(tcp!.answers.length, 60);
  // With a large EDNS payload size it fits over UDP.
  const big = decode(
    await udpQuery(
      addr,
      query("big.default.svc.cluster.local", RRType.A, {
        edns: { udpPayloadSize: 4096, version: 0, dnssecOk: false },
      }),
    ),
  );
  assert.equal(big.truncated, false);
  assert.equal(big.answers.length, 60);
  // Deno's resolver retries over TCP by itself.
  const ips = await Deno.resolveDns("big.default.svc.cluster.local", "A", nameServer(server));
  assert.equal(ips.length, 60);
});

Deno.test("DnsServer.update() swaps the zone atomically", async () => {
  await using server = await start({ snapshot: snapshot([]) });
  const addr = server.addresses[0]!;
  const q = query("web.default.svc.cluster.local", RRType.A);
  assert.equal(decode(await udpQuery(addr, q)).rcode, Rcode.NXDOMAIN);
  server.update(snapshot([svc("default", "web", { vip: "9.251.0.77" })], 2));
  const a = decode(await udpQuery(addr, q));
  assert.deepEqual(a.answers.map((r) => r.type === "A" && r.address), ["9.251.0.77"]);
  assert.equal(server.status().zoneVersion, 2);
  server.update(snapshot([], 3));
  assert.equal(decode(await udpQuery(addr, q)).rcode, Rcode.NXDOMAIN);
});

const A_EXAMPLE = (ttl = 60) => ({
  answers: [{ type: "A" as const, name: "example.com", class: 1, ttl, address: "192.0.2.1" }],
});

Deno.test("DnsServer forwards other names to upstreams", async (t) => {
  await t.step("answer relayed with the client's ID, RA set", async () => {
    await using up = new FakeUpstream(() => A_EXAMPLE());
    await using server = await start({ upstreams: [up.address] });
    const a = decode(
      await udpQuery(server.addresses[0]!, query("Example.COM", RRType.A, { id: 77 })),
    );
    assert.equal(a.id, 77);
    assert.equal(a.recursionAvailable, true);
    assert.equal(a.questions[0]?.name, "Example.COM");
    assert.deepEqual(a.answers.map((r) => r.type === "A" && r.address), ["192.0.2.1"]);
    assert.deepEqual(up.seen, ["udp Example.COM 1"]);
  });
  await t.step("first upstream times out → next upstream", async () => {
    await using silent = new SilentUpstream();
    await using up = new FakeUpstream(() => A_EXAMPLE());
    await using server = await start({
      upstreams: [silent.address, up.address],
      forwardTimeoutMs: 200,
    });
    const a = decode(await udpQuery(server.addresses[0]!, query("example.com", RRType.A)));
    assert.equal(a.rcode, Rcode.NOERROR);
    assert.equal(a.answers.length, 1);
    assert.equal(silent.received, 1);
    assert.equal(up.seen.length, 1);
  });
  await t.step("SERVFAIL → next upstream", async () => {
    await using bad = new FakeUpstream(() => ({ rcode: Rcode.SERVFAIL }));
    await using up = new FakeUpstream(() => A_EXAMPLE());
    await using server = await start({ upstreams: [bad.address, up.address] });
    const a = decode(await udpQuery(server.addresses[0]!, query("example.com", RRType.A)));
    assert.equal(a.answers.length, 1);
    assert.equal(bad.seen.length, 1);
  });
  await t.step("every upstream fails → SERVFAIL", async () => {
    await using bad = new FakeUpstream(() => ({ rcode: Rcode.SERVFAIL }));
    await using server = await start({ upstreams: [bad.address] });
    const a = decode(await udpQuery(server.addresses[0]!, query("example.com", RRType.A)));
    assert.equal(a.rcode, Rcode.SERVFAIL);
  });
  await t.step("truncated upstream answer → retried over TCP", async () => {
    await using up = new FakeUpstream((_q, transport) =>
      transport === "udp" ? { truncated: true } : A_EXAMPLE()
    );
    await using server = await start({ upstreams: [up.address] });
    const a = decode(await udpQuery(server.addresses[0]!, query("example.com", RRType.A)));
    assert.equal(a.truncated, false);
    assert.equal(a.answers.length, 1);
    assert.deepEqual(up.seen, ["udp example.com 1", "tcp example.com 1"]);
  });
  await t.step("ExternalName target chased upstream", async () => {
    await using up = new FakeUpstream((q) => ({
      answers: [{ type: "A", name: q.questions[0]!.name, class: 1, ttl: 30, address: "192.0.2.9" }],
    }));
    await using server = await start({ upstreams: [up.address] });
    const a = decode(
      await udpQuery(server.addresses[0]!, query("ext.default.svc.cluster.local", RRType.A)),
    );
    assert.deepEqual(
      a.answers.map((r) =>
        `${r.name} ${r.type === "CNAME" ? r.target : r.type === "A" ? r.address : ""}`
      ),
      ["ext.default.svc.cluster.local www.example.com", "www.example.com 192.0.2.9"],
    );
  });
});

Deno.test("DnsServer caches forwarded answers by TTL with an injected clock", async () => {
  let now = 1_000_000;
  await using up = new FakeUpstream((q) =>
    q.questions[0]!.name === "gone.example"
      ? {
        rcode: Rcode.NXDOMAIN,
        authorities: [{
          type: "SOA",
          name: "example",
          class: 1,
          ttl: 300,
          mname: "ns.example",
          rname: "h.example",
          serial: 1,
          refresh: 1,
          retry: 1,
          expire: 1,
          minimum: 30,
        }],
      }
      : A_EXAMPLE(60)
  );
  const metrics = new MetricsRegistry();
  await using server = await start({ upstreams: [up.address], now: () => now, metrics });
  const addr = server.addresses[0]!;
  const first = decode(await udpQuery(addr, query("example.com", RRType.A, { id: 1 })));
  const second = decode(await udpQuery(addr, query("EXAMPLE.com", RRType.A, { id: 2 })));
  assert.equal(up.seen.length, 1, "one upstream query for two client queries");
  assert.equal(second.id, 2);
  assert.equal(second.questions[0]?.name, "EXAMPLE.com");
  assert.equal(first.answers[0]?.ttl, 60);
  now += 10_500;
  const third = decode(await udpQuery(addr, query("example.com", RRType.A)));
  assert.equal(third.answers[0]?.ttl, 50, "TTL decremented by the time spent in the cache");
  assert.equal(up.seen.length, 1);
  now += 50_000;
  await udpQuery(addr, query("example.com", RRType.A));
  assert.equal(up.seen.length, 2, "expired after the TTL");
  // The DO bit is part of the key.
  await udpQuery(
    addr,
    query("example.com", RRType.A, {
      edns: { udpPayloadSize: 1232, version: 0, dnssecOk: true },
    }),
  );
  assert.equal(up.seen.length, 3);
  // Negative answers are cached for min(SOA TTL, SOA MINIMUM) = 30 s.
  const nx = decode(await udpQuery(addr, query("gone.example", RRType.A)));
  assert.equal(nx.rcode, Rcode.NXDOMAIN);
  await udpQuery(addr, query("gone.example", RRType.A));
  assert.equal(up.seen.length, 4);
  now += 31_000;
  await udpQuery(addr, query("gone.example", RRType.A));
  assert.equal(up.seen.length, 5);
  server.flushMetrics();
  const text = metrics.render();
  assert.match(text, /edgemesh_dns_cache_hits_total 3/);
  assert.match(text, /edgemesh_dns_cache_misses_total 5/);
  assert.match(text, /edgemesh_dns_forward_duration_seconds_count 5/);
  assert.match(text, /edgemesh_dns_queries_total\{rcode="NXDOMAIN",type="A"\} 3/);
});

Deno.test("DnsServer gives forwarded and cached answers the querying client's RD and CD", async (t) => {
  // The acceptance scenario (`dig +norec`, `dig`, `dig +cd`) against an upstream whose header
  // bits are the opposite of what it was asked, so every bit seen is one we set.
  // [name, RD, CD, transport, upstream exchanges so far]
  const steps: [string, boolean, boolean, "udp" | "tcp", number][] = [
    ["new1.test", true, false, "udp", 1], // fresh, fills the CD=0 entry
    ["new1.test", false, false, "udp", 1], // cached: RD from this client, not the filler
    ["NEW1.test", true, false, "udp", 1], // cached
    ["new1.test", false, false, "tcp", 1], // cached, over TCP
    ["new3.test", true, true, "udp", 2], // `dig +cd`, fresh
    ["new3.test", false, true, "udp", 2], // cached (CD=1 entry)
    ["new3.test", true, false, "udp", 3], // CD=0 never gets the CD=1 entry
    ["norec.test", false, false, "udp", 4], // `dig +norec`, fresh: not cached
    ["norec.test", true, false, "udp", 5], // so a recursive query goes upstream
    ["norec.test", false, false, "udp", 5], // and fills the cache for both
  ];
  for (const udpBatching of [true, false]) {
    await t.step(udpBatching ? "batched UDP" : "Deno.listenDatagram", async () => {
      await using up = new FakeUpstream((q) => ({
        recursionDesired: !q.recursionDesired,
        checkingDisabled: !q.checkingDisabled,
        recursionAvailable: false,
        answers: [{
          type: "A",
          name: q.questions[0]!.name,
          class: 1,
          ttl: 60,
          address: "192.0.2.7",
        }],
      }));
      await using server = await start({ upstreams: [up.address], udpBatching });
      const addr = server.addresses[0]!;
      for (const [i, [name, rd, cd, via, exchanges]] of steps.entries()) {
        const q = query(name, RRType.A, {
          id: 100 + i,
          recursionDesired: rd,
          checkingDisabled: cd,
        });
        const bytes = via === "udp" ? await udpQuery(addr, q) : (await tcpQueries(addr, [q]))[0]!;
        const what = `step ${i}: ${name} rd=${rd} cd=${cd} ${via}`;
        // The header bits straight from the packet (RFC 1035 §4.1.1).
        assert.equal((bytes[2]! & 0x01) !== 0, rd, `${what}: RD`);
        assert.equal((bytes[3]! & 0x10) !== 0, cd, `${what}: CD`);
        assert.equal((bytes[3]! & 0x80) !== 0, true, `${what}: RA`);
        const a = decode(bytes);
        assert.equal(a.id, 100 + i, what);
        assert.equal(a.questions[0]?.name, name, what);
        assert.deepEqual(a.answers.map((r) => r.type === "A" && r.address), ["192.0.2.7"], what);
        assert.equal(up.seen.length, exchanges, `${what}: upstream exchanges`);
      }
    });
  }
});

Deno.test("DnsServer refuses forwarding to clients outside dnsAllowFrom", async () => {
  await using up = new FakeUpstream(() => A_EXAMPLE());
  const metrics = new MetricsRegistry();
  await using server = await start({
    upstreams: [up.address],
    allowFrom: ["10.0.0.0/8"],
    metrics,
  });
  const addr = server.addresses[0]!;
  const refused = decode(await udpQuery(addr, query("example.com", RRType.A)));
  assert.equal(refused.rcode, Rcode.REFUSED);
  assert.equal(refused.recursionAvailable, false);
  assert.equal(up.seen.length, 0);
  // Cluster names are answered for everyone.
  const local = decode(await udpQuery(addr, query("nginx.default.svc.cluster.local", RRType.A)));
  assert.equal(local.rcode, Rcode.NOERROR);
  assert.equal(local.answers.length, 1);
  server.flushMetrics();
  assert.match(metrics.render(), /edgemesh_dns_refused_total 1/);
  assert.match(metrics.render(), /edgemesh_dns_queries_total\{rcode="NOERROR",type="A"\} 1/);
});

Deno.test('DnsServer allows the node\'s own addresses with the "node" keyword', async () => {
  await using up = new FakeUpstream(() => A_EXAMPLE());
  await using server = await start({
    upstreams: [up.address],
    allowFrom: ["node"],
    nodeAddresses: () => ["127.0.0.1"],
  });
  const a = decode(await udpQuery(server.addresses[0]!, query("example.com", RRType.A)));
  assert.equal(a.rcode, Rcode.NOERROR);
});

Deno.test("DnsServer re-reads the node's addresses by itself: a new address may forward", async () => {
  // A DHCP lease moved the node from 192.0.2.10 to 127.0.0.1 (the client's address here);
  // no registry object changed, so no update() comes to re-read them.
  let addresses = ["192.0.2.10"];
  const reread = Promise.withResolvers<void>();
  await using up = new FakeUpstream(() => A_EXAMPLE());
  await using server = await start({
    upstreams: [up.address],
    allowFrom: ["node"],
    nodeAddresses: () => {
      if (addresses[0] === "127.0.0.1") reread.resolve();
      return addresses;
    },
    nodeAddressPollMs: 20,
  });
  const addr = server.addresses[0]!;
  assert.equal(decode(await udpQuery(addr, query("example.com", RRType.A))).rcode, Rcode.REFUSED);
  addresses = ["127.0.0.1"];
  // Failure guard only: the wait ends at the first re-read.
  const guard = setTimeout(() => reread.reject(new Error("addresses never re-read")), 10_000);
  await reread.promise.finally(() => clearTimeout(guard));
  const a = decode(await udpQuery(addr, query("example.com", RRType.A)));
  assert.equal(a.rcode, Rcode.NOERROR);
  assert.equal(up.seen.length, 1);
});

Deno.test("DnsServer.start() reports a clear error when the address is taken", async (t) => {
  for (const udpBatching of [true, false]) {
    await t.step(udpBatching ? "batched UDP socket" : "Deno's UDP socket", async () => {
      await using first = await start();
      const a = first.addresses[0]!;
      await assert.rejects(
        start({ listen: [`127.0.0.1:${a.port}`], udpBatching }),
        (err: Error) => {
          // The address once, then the cause.
          assert.match(
            err.message,
            /^Cannot listen for DNS on "127\.0\.0\.1:\d+": (bind\(\): )?Address (already )?in use/,
          );
          assert.doesNotMatch(err.message, /Cannot bind/);
          return true;
        },
      );
    });
  }
});

Deno.test("DnsServer closes on the abort signal", async () => {
  const ac = new AbortController();
  const server = await start({ signal: ac.signal });
  ac.abort();
  await server.close();
  assert.equal(server.status().listening.length, 1);
});

Deno.test("DnsServer serves UDP alike with and without recvmmsg batching", async (t) => {
  for (const udpBatching of [true, false]) {
    await t.step(udpBatching ? "batched (recvmmsg/sendmmsg)" : "Deno.listenDatagram", async () => {
      await using up = new FakeUpstream(() => A_EXAMPLE());
      await using server = await start({ upstreams: [up.address], udpBatching });
      const addr = server.addresses[0]!;
      // Fast path (answered in the batch), forwarded (answered later), truncated.
      const [svcA, fwd] = await Promise.all([
        udpQuery(addr, query("nginx.default.svc.cluster.local", RRType.A, { id: 1 })),
        udpQuery(addr, query("example.com", RRType.A, { id: 2 })),
      ]);
      assert.deepEqual(decode(svcA).answers.map((r) => r.type === "A" && r.address), [
        "9.251.0.2",
      ]);
      assert.equal(decode(svcA).id, 1);
      assert.deepEqual(decode(fwd).answers.map((r) => r.type === "A" && r.address), [
        "192.0.2.1",
      ]);
      assert.equal(decode(fwd).id, 2);
      // A burst from many sockets at once (each its own peer); kept under the server socket's
      // receive buffer, since UDP may drop what overflows it (clients would retry).
      const burst = scaled(100, 5);
      const many = await Promise.all(
        Array.from(
          { length: burst },
          (_, i) =>
            udpQuery(addr, query(`nginx.default.svc.cluster.local`, RRType.A, { id: 100 + i })),
        ),
      );
      assert.deepEqual(
        many.map((m) => decode(m).id),
        Array.from({ length: burst }, (_, i) => 100 + i),
      );
    });
  }
});

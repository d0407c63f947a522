// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  buildZone,
  decodeMessage,
  DnsHandler,
  encodeMessage,
  Rcode,
  RRClass,
  RRType,
} from "../../lib/dns/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { Registry } from "../../lib/registry/mod.ts";
import { withDir } from "../registry/_fixtures.ts";
import { ep, port, show, snapshot, svc } from "./_fixtures.ts";

const SOA = "SOA cluster.local";

/** Sends one query through `h` over UDP and decodes the reply, checking its header counts. */
async function ask(h: DnsHandler, name: string, type: number) {
  const query = encodeMessage({
    id: 99,
    recursionDesired: true,
    questions: [{ name, type, class: RRClass.IN }],
  });
  const reply = await h.handle(query, "127.0.0.1", false);
  assert.ok(reply instanceof Uint8Array);
  const m = decodeMessage(reply).value;
  assert.equal((reply[6]! << 8) | reply[7]!, m.answers.length, "ANCOUNT");
  return {
    rcode: reply[3]! & 0xf,
    answers: m.answers.map(show),
    authorities: m.authorities.map((r) => `${r.type} ${r.name}`),
  };
}

interface Row {
  name: string;
  q: string;
  type?: number;
  rcode: number;
  answers: string[];
  /** The SOA in authority (negative answers for names inside the zone). */
  soa: boolean;
}

Deno.test("buildZone(): a Service another proxy handles (service-proxy-name) keeps its names", async (t) => {
  const h = new DnsHandler({
    zone: buildZone(snapshot([
      svc("default", "web", { vip: "9.251.0.2" }),
      svc("default", "other", { proxyName: "istio", ports: [port("http", 80), port("", 8080)] }),
      svc("default", "otherhl", {
        proxyName: "istio",
        kind: { type: "Headless" },
        ports: [port("pg", 5432)],
        endpoints: [ep("10.1.0.5", { hostname: "h0" })],
      }),
      svc("default", "otherext", {
        proxyName: "",
        kind: { type: "ExternalName", externalName: "www.example.com" },
      }),
    ])),
  });
  const fq = (n: string) => `${n}.default.svc.cluster.local`;
  const rows: Row[] = [
    {
      name: "ClusterIP: A is NODATA",
      q: fq("other"),
      rcode: Rcode.NOERROR,
      answers: [],
      soa: true,
    },
    {
      name: "ClusterIP: AAAA is NODATA",
      q: fq("other"),
      type: RRType.AAAA,
      rcode: Rcode.NOERROR,
      answers: [],
      soa: true,
    },
    {
      name: "ClusterIP: no SRV without an address (RFC 2782)",
      q: `_http._tcp.${fq("other")}`,
      type: RRType.SRV,
      rcode: Rcode.NXDOMAIN,
      answers: [],
      soa: true,
    },
    {
      name: "ClusterIP: short name <svc>.<ns> is ours, NODATA",
      q: "other.default",
      rcode: Rcode.NOERROR,
      answers: [],
      soa: false,
    },
    {
      name: "ClusterIP: bare name is ours, NODATA",
      q: "other",
      rcode: Rcode.NOERROR,
      answers: [],
      soa: false,
    },
    {
      name: "headless: its ready endpoints",
      q: fq("otherhl"),
      rcode: Rcode.NOERROR,
      answers: [`${fq("otherhl")} A 10.1.0.5`],
      soa: false,
    },
    {
      name: "headless: the endpoint's hostname record",
      q: `h0.${fq("otherhl")}`,
      rcode: Rcode.NOERROR,
      answers: [`h0.${fq("otherhl")} A 10.1.0.5`],
      soa: false,
    },
    {
      name: "headless: SRV per endpoint",
      q: `_pg._tcp.${fq("otherhl")}`,
      type: RRType.SRV,
      rcode: Rcode.NOERROR,
      answers: [`_pg._tcp.${fq("otherhl")} SRV 0 100 5432 h0.${fq("otherhl")}`],
      soa: false,
    },
    {
      name: "headless: PTR of the endpoint",
      q: "5.0.1.10.in-addr.arpa",
      type: RRType.PTR,
      rcode: Rcode.NOERROR,
      answers: [`5.0.1.10.in-addr.arpa PTR h0.${fq("otherhl")}`],
      soa: false,
    },
    {
      name: "ExternalName: its CNAME",
      q: fq("otherext"),
      type: RRType.CNAME,
      rcode: Rcode.NOERROR,
      answers: [`${fq("otherext")} CNAME www.example.com`],
      soa: false,
    },
    {
      name: "a Service edgemesh proxies: its VIP (fast path)",
      q: fq("web"),
      rcode: Rcode.NOERROR,
      answers: [`${fq("web")} A 9.251.0.2`],
      soa: false,
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      const r = await ask(h, row.q, row.type ?? RRType.A);
      assert.equal(r.rcode, row.rcode, "RCODE");
      assert.deepEqual(r.answers, row.answers);
      assert.deepEqual(r.authorities, row.soa ? [SOA] : []);
    });
  }
});

Deno.test("a Service labelled service-proxy-name, applied to the registry, is answered (NODATA, not NXDOMAIN)", async (t) => {
  await withDir("em-dns-zone-", async (dir) => {
    const reg = await Registry.open({
      stateDir: `${dir}/state`,
      subnet: "9.251.0.0/16",
      log: nullLogger,
    });
    const labels = { "service.kubernetes.io/service-proxy-name": "istio" };
    await reg.apply({
      operation: "insert",
      namespace: "default",
      type: "service",
      name: "other",
      content: { metadata: { name: "other", labels }, spec: { ports: [{ port: 80 }] } },
    });
    const h = new DnsHandler({ zone: buildZone(reg.snapshot()) });
    await reg.close();
    const rows: [string, number, number, string[]][] = [
      ["other.default.svc.cluster.local", RRType.A, Rcode.NOERROR, [SOA]],
      ["other.default", RRType.A, Rcode.NOERROR, []],
      ["nothing.default.svc.cluster.local", RRType.A, Rcode.NXDOMAIN, [SOA]],
    ];
    for (const [name, type, rcode, authorities] of rows) {
      await t.step(name, async () => {
        const r = await ask(h, name, type);
        assert.equal(r.rcode, rcode, "RCODE");
        assert.deepEqual(r.answers, []);
        assert.deepEqual(r.authorities, authorities);
      });
    }
  });
});

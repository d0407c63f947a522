// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { buildZone, DnsHandler, resolve } from "../../lib/dns/mod.ts";
import { decodeMessage, encodeMessage, Rcode, RRClass, RRType } from "../../lib/dns/message.ts";
import type { LocalAnswer } from "../../lib/dns/resolve.ts";
import { port, show, snapshot, svc, testSnapshot } from "./_fixtures.ts";

const zone = buildZone(testSnapshot(), { ttl: 5 });

interface Case {
  name: string;
  q: string;
  type?: number;
  cls?: number;
  /** "forward", or the rcode name. */
  want: "forward" | keyof typeof Rcode;
  answers?: string[];
  additionals?: string[];
  /** Whether the SOA must be in authority. */
  soa?: boolean;
  chase?: string;
}

const SOA = "cluster.local SOA ns.dns.cluster.local hostmaster.cluster.local 5";

const cases: Case[] = [
  // --- ClusterIP A, every name form (spec §2.3.1, edgemesh short forms) ---
  {
    name: "FQDN A → VIP",
    q: "nginx.default.svc.cluster.local",
    want: "NOERROR",
    answers: ["nginx.default.svc.cluster.local A 9.251.0.2"],
  },
  {
    name: "FQDN with trailing dot",
    q: "nginx.default.svc.cluster.local.",
    want: "NOERROR",
    answers: ["nginx.default.svc.cluster.local A 9.251.0.2"],
  },
  {
    name: "mixed case is matched and echoed",
    q: "NGINX.Default.SVC.Cluster.Local",
    want: "NOERROR",
    answers: ["NGINX.Default.SVC.Cluster.Local A 9.251.0.2"],
  },
  {
    name: "<svc>.<ns>.svc",
    q: "nginx.default.svc",
    want: "NOERROR",
    answers: ["nginx.default.svc A 9.251.0.2"],
  },
  { name: "<svc>.<ns>", q: "api.prod", want: "NOERROR", answers: ["api.prod A 9.251.0.3"] },
  {
    name: "bare <svc> in the default namespace",
    q: "nginx",
    want: "NOERROR",
    answers: ["nginx A 9.251.0.2"],
  },
  { name: "bare name of a service in another namespace is forwarded", q: "api", want: "forward" },
  { name: "<a>.<b> without that service is forwarded", q: "example.com", want: "forward" },
  { name: "<svc>.<unknown ns> is forwarded", q: "nginx.nope", want: "forward" },
  { name: "external FQDN is forwarded", q: "www.example.com.", want: "forward" },
  // --- negative answers inside the zone ---
  {
    name: "unknown namespace → NXDOMAIN with SOA",
    q: "nginx.nope.svc.cluster.local",
    want: "NXDOMAIN",
    soa: true,
  },
  {
    name: "unknown service → NXDOMAIN with SOA",
    q: "missing.default.svc.cluster.local",
    want: "NXDOMAIN",
    soa: true,
  },
  { name: "unknown name at the apex", q: "foo.cluster.local", want: "NXDOMAIN", soa: true },
  {
    name: "AAAA of a known name → NODATA with SOA",
    q: "nginx.default.svc.cluster.local",
    type: RRType.AAAA,
    want: "NOERROR",
    answers: [],
    soa: true,
  },
  // A short name is answered at itself: `cluster.local` is not its parent, so no SOA
  // (RFC 2308 §2.2 NODATA type 3, §3).
  {
    name: "MX of a known short name → NODATA without the out-of-zone SOA",
    q: "nginx",
    type: RRType.MX,
    want: "NOERROR",
    answers: [],
    soa: false,
  },
  {
    name: "AAAA of <svc>.<ns> → NODATA without SOA",
    q: "api.prod",
    type: RRType.AAAA,
    want: "NOERROR",
    answers: [],
    soa: false,
  },
  {
    name: "TXT of <svc>.<ns>.svc → NODATA without SOA",
    q: "Nginx.Default.SVC.",
    type: RRType.TXT,
    want: "NOERROR",
    answers: [],
    soa: false,
  },
  {
    name: "AAAA of a VIP's PTR name → NODATA without SOA (in-addr.arpa is not our zone)",
    q: "2.0.251.9.in-addr.arpa",
    type: RRType.AAAA,
    want: "NOERROR",
    answers: [],
    soa: false,
  },
  {
    name: "short ExternalName to a cluster name → NODATA with the SOA of the chain's last name",
    q: "alias",
    type: RRType.AAAA,
    want: "NOERROR",
    answers: ["alias CNAME nginx.default.svc.cluster.local"],
    soa: true,
  },
  {
    name: "namespace is an empty non-terminal → NODATA",
    q: "default.svc.cluster.local",
    want: "NOERROR",
    answers: [],
    soa: true,
  },
  {
    name: "SOA at the apex",
    q: "cluster.local",
    type: RRType.SOA,
    want: "NOERROR",
    answers: [SOA],
  },
  // --- SRV (spec §2.3.2) ---
  {
    name: "SRV for a named TCP port",
    q: "_http._tcp.nginx.default.svc.cluster.local",
    type: RRType.SRV,
    want: "NOERROR",
    answers: [
      "_http._tcp.nginx.default.svc.cluster.local SRV 0 100 80 nginx.default.svc.cluster.local",
    ],
    additionals: ["nginx.default.svc.cluster.local A 9.251.0.2"],
  },
  {
    name: "no SRV for a service without a VIP (UDP only: not proxied, no address)",
    q: "_syslog._udp.udponly.prod.svc.cluster.local",
    type: RRType.SRV,
    want: "NXDOMAIN",
    answers: [],
  },
  {
    name: "the name of a service without a VIP exists, with no address (NODATA)",
    q: "udponly.prod.svc.cluster.local",
    type: RRType.A,
    want: "NOERROR",
    answers: [],
  },
  {
    name: "SRV for a named UDP port",
    q: "_metrics._udp.api.prod.svc.cluster.local",
    type: RRType.SRV,
    want: "NOERROR",
    answers: ["_metrics._udp.api.prod.svc.cluster.local SRV 0 100 9100 api.prod.svc.cluster.local"],
  },
  {
    name: "SRV with the wrong protocol → NXDOMAIN",
    q: "_metrics._tcp.api.prod.svc.cluster.local",
    type: RRType.SRV,
    want: "NXDOMAIN",
    soa: true,
  },
  {
    name: "no SRV for an unnamed port",
    q: "_._tcp.nginx.default.svc.cluster.local",
    type: RRType.SRV,
    want: "NXDOMAIN",
    soa: true,
  },
  {
    name: "_tcp under a service is an empty non-terminal",
    q: "_tcp.nginx.default.svc.cluster.local",
    type: RRType.SRV,
    want: "NOERROR",
    answers: [],
    soa: true,
  },
  // --- PTR (spec §2.3.3, §2.4.3) ---
  {
    name: "PTR for a VIP",
    q: "2.0.251.9.in-addr.arpa",
    type: RRType.PTR,
    want: "NOERROR",
    answers: ["2.0.251.9.in-addr.arpa PTR nginx.default.svc.cluster.local"],
  },
  {
    name: "PTR for a headless endpoint with hostname",
    q: "5.0.1.10.in-addr.arpa.",
    type: RRType.PTR,
    want: "NOERROR",
    answers: ["5.0.1.10.in-addr.arpa PTR db-0.db.default.svc.cluster.local"],
  },
  {
    name: "PTR for a headless endpoint with generated hostname",
    q: "7.0.1.10.in-addr.arpa",
    type: RRType.PTR,
    want: "NOERROR",
    answers: ["7.0.1.10.in-addr.arpa PTR 10-1-0-7.db.default.svc.cluster.local"],
  },
  {
    name: "no PTR for a not-ready endpoint (forwarded)",
    q: "8.0.1.10.in-addr.arpa",
    type: RRType.PTR,
    want: "forward",
  },
  {
    name: "PTR of an unknown address is forwarded",
    q: "1.1.168.192.in-addr.arpa",
    type: RRType.PTR,
    want: "forward",
  },
  {
    name: "PTR for an IPv6 headless endpoint (ip6.arpa)",
    q: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
    type: RRType.PTR,
    want: "NOERROR",
    answers: [
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa PTR six.v6.default.svc.cluster.local",
    ],
  },
  // --- headless (spec §2.4) ---
  {
    name: "headless A → ready endpoint addresses only",
    q: "db.default.svc.cluster.local",
    want: "NOERROR",
    answers: [
      "db.default.svc.cluster.local A 10.1.0.5",
      "db.default.svc.cluster.local A 10.1.0.6",
      "db.default.svc.cluster.local A 10.1.0.7",
    ],
  },
  {
    name: "headless short form",
    q: "db",
    want: "NOERROR",
    answers: ["db A 10.1.0.5", "db A 10.1.0.6", "db A 10.1.0.7"],
  },
  {
    name: "headless with no ready endpoint → NXDOMAIN",
    q: "empty.default.svc.cluster.local",
    want: "NXDOMAIN",
    soa: true,
  },
  {
    name: "short form of a headless service with no ready endpoint → NXDOMAIN without SOA",
    q: "empty.default",
    want: "NXDOMAIN",
    soa: false,
  },
  {
    name: "headless hostname record",
    q: "db-1.db.default.svc.cluster.local",
    want: "NOERROR",
    answers: ["db-1.db.default.svc.cluster.local A 10.1.0.6"],
  },
  {
    name: "headless generated hostname record (IP with dashes)",
    q: "10-1-0-7.db.default.svc.cluster.local",
    want: "NOERROR",
    answers: ["10-1-0-7.db.default.svc.cluster.local A 10.1.0.7"],
  },
  {
    name: "no hostname record for a not-ready endpoint",
    q: "db-3.db.default.svc.cluster.local",
    want: "NXDOMAIN",
    soa: true,
  },
  {
    name: "headless N×M SRV (3 ready × 2 named ports, per port name)",
    q: "_pg._tcp.db.default.svc.cluster.local",
    type: RRType.SRV,
    want: "NOERROR",
    answers: [
      "_pg._tcp.db.default.svc.cluster.local SRV 0 100 5432 db-0.db.default.svc.cluster.local",
      "_pg._tcp.db.default.svc.cluster.local SRV 0 100 5432 db-1.db.default.svc.cluster.local",
      "_pg._tcp.db.default.svc.cluster.local SRV 0 100 5432 10-1-0-7.db.default.svc.cluster.local",
    ],
    additionals: [
      "db-0.db.default.svc.cluster.local A 10.1.0.5",
      "db-1.db.default.svc.cluster.local A 10.1.0.6",
      "10-1-0-7.db.default.svc.cluster.local A 10.1.0.7",
    ],
  },
  {
    name: "headless SRV for the second named port",
    q: "_repl._tcp.db.default.svc.cluster.local",
    type: RRType.SRV,
    want: "NOERROR",
    answers: [
      "_repl._tcp.db.default.svc.cluster.local SRV 0 100 5433 db-0.db.default.svc.cluster.local",
      "_repl._tcp.db.default.svc.cluster.local SRV 0 100 5433 db-1.db.default.svc.cluster.local",
      "_repl._tcp.db.default.svc.cluster.local SRV 0 100 5433 10-1-0-7.db.default.svc.cluster.local",
    ],
  },
  {
    name: "headless IPv6 endpoint → AAAA",
    q: "v6.default.svc.cluster.local",
    type: RRType.AAAA,
    want: "NOERROR",
    answers: ["v6.default.svc.cluster.local AAAA fd00::1"],
  },
  // --- TXT dns-version (spec §2.2) ---
  {
    name: "dns-version TXT",
    q: "dns-version.cluster.local",
    type: RRType.TXT,
    want: "NOERROR",
    answers: ["dns-version.cluster.local TXT 1.0.1"],
  },
  // --- ExternalName (spec §2.5) ---
  {
    name: "ExternalName → CNAME, chased upstream",
    q: "ext.default.svc.cluster.local",
    want: "NOERROR",
    answers: ["ext.default.svc.cluster.local CNAME www.example.com"],
    chase: "www.example.com",
  },
  {
    name: "ExternalName CNAME query is not chased",
    q: "ext.default.svc.cluster.local",
    type: RRType.CNAME,
    want: "NOERROR",
    answers: ["ext.default.svc.cluster.local CNAME www.example.com"],
  },
  {
    name: "ExternalName short form",
    q: "ext",
    want: "NOERROR",
    answers: ["ext CNAME www.example.com"],
    chase: "www.example.com",
    soa: false,
  },
  {
    name: "ExternalName to a cluster name, other type → CNAME, NODATA with SOA (RFC 2308 §2.2)",
    q: "alias.default.svc.cluster.local",
    type: RRType.AAAA,
    want: "NOERROR",
    answers: ["alias.default.svc.cluster.local CNAME nginx.default.svc.cluster.local"],
    soa: true,
  },
  {
    name: "ExternalName to a cluster name is followed locally",
    q: "alias.default.svc.cluster.local",
    want: "NOERROR",
    answers: [
      "alias.default.svc.cluster.local CNAME nginx.default.svc.cluster.local",
      "nginx.default.svc.cluster.local A 9.251.0.2",
    ],
  },
  // --- deprecated pod records (spec §2.6) ---
  {
    name: "pod A record",
    q: "10-9-8-7.any-ns.pod.cluster.local",
    want: "NOERROR",
    answers: ["10-9-8-7.any-ns.pod.cluster.local A 10.9.8.7"],
  },
  {
    name: "pod record with an octet over 255 → NXDOMAIN",
    q: "10-9-8-256.default.pod.cluster.local",
    want: "NXDOMAIN",
    soa: true,
  },
  {
    name: "pod record AAAA → NODATA",
    q: "10-9-8-7.default.pod.cluster.local",
    type: RRType.AAAA,
    want: "NOERROR",
    answers: [],
    soa: true,
  },
  // --- classes and transfers ---
  {
    name: "AXFR of the zone → REFUSED",
    q: "cluster.local",
    type: RRType.AXFR,
    want: "REFUSED",
  },
  {
    name: "CH class inside the zone → REFUSED",
    q: "nginx.default.svc.cluster.local",
    cls: RRClass.CH,
    want: "REFUSED",
  },
  {
    name: "ANY returns every record at the name",
    q: "dns-version.cluster.local",
    type: RRType.ANY,
    want: "NOERROR",
    answers: ["dns-version.cluster.local TXT 1.0.1"],
  },
];

Deno.test("resolve() answers the Kubernetes DNS specification records", async (t) => {
  assert.ok(cases.length >= 30);
  for (const c of cases) {
    await t.step(c.name, () => {
      const r = resolve({ name: c.q, type: c.type ?? RRType.A, class: c.cls ?? RRClass.IN }, zone);
      if (c.want === "forward") {
        assert.equal(r.kind, "forward");
        return;
      }
      assert.equal(r.kind, "answer");
      const a = r as LocalAnswer;
      assert.equal(a.rcode, Rcode[c.want]);
      if (c.answers) assert.deepEqual(a.answers.map(show), c.answers);
      if (c.additionals) assert.deepEqual(a.additionals.map(show), c.additionals);
      if (c.soa !== undefined) {
        assert.deepEqual(a.authorities.map(show), c.soa ? [SOA] : []);
      }
      assert.equal(a.chase, c.chase ?? null);
      if (a.rcode !== Rcode.REFUSED) assert.equal(a.authoritative, true);
    });
  }
});

Deno.test("resolve() uses the configured TTL, domain and default namespace", () => {
  const z = buildZone(testSnapshot(), {
    ttl: 42,
    clusterDomain: "Edge.Example.",
    defaultNamespace: "prod",
  });
  const r = resolve({ name: "api", type: RRType.A, class: RRClass.IN }, z) as LocalAnswer;
  assert.deepEqual(r.answers.map(show), ["api A 9.251.0.3"]);
  assert.equal(r.answers[0]!.ttl, 42);
  const fq = resolve(
    { name: "api.prod.svc.edge.example", type: RRType.A, class: RRClass.IN },
    z,
  ) as LocalAnswer;
  assert.deepEqual(fq.answers.map(show), ["api.prod.svc.edge.example A 9.251.0.3"]);
  assert.equal(resolve({ name: "nginx", type: RRType.A, class: RRClass.IN }, z).kind, "forward");
  const nx = resolve(
    { name: "x.edge.example", type: RRType.A, class: RRClass.IN },
    z,
  ) as LocalAnswer;
  const soa = nx.authorities[0]!;
  assert.equal(soa.type === "SOA" && soa.minimum, 42);
  assert.equal(soa.ttl, 42);
  assert.equal(
    resolve({ name: "x.cluster.local", type: RRType.A, class: RRClass.IN }, z).kind,
    "forward",
  );
});

Deno.test("buildZone() follows snapshot changes", () => {
  const before = buildZone(
    snapshot([svc("default", "web", { vip: "9.251.0.9", ports: [port("", 80)] })]),
  );
  const after = buildZone(snapshot([], 2));
  const q = { name: "web.default.svc.cluster.local", type: RRType.A, class: RRClass.IN };
  assert.equal((resolve(q, before) as LocalAnswer).rcode, Rcode.NOERROR);
  assert.equal((resolve(q, after) as LocalAnswer).rcode, Rcode.NXDOMAIN);
  assert.equal(after.soa.serial, 2);
});

// ---------------------------------------------------------------------------------------------
// CNAME loops between ExternalName services, on the wire

/** An ExternalName service `default/<name>` whose target is `<target>.default.svc.cluster.local`. */
function externalTo(name: string, target: string) {
  return svc("default", name, {
    kind: { type: "ExternalName", externalName: `${target}.default.svc.cluster.local` },
  });
}

Deno.test("DnsHandler answers a CNAME loop with each CNAME once and SERVFAIL (RFC 1034 §3.6.2)", async (t) => {
  const ring = Array.from({ length: 8 }, (_, i) => externalTo(`r${i}`, `r${(i + 1) % 8}`));
  const h = new DnsHandler({
    zone: buildZone(snapshot([
      svc("default", "web", { vip: "9.251.0.9" }),
      externalTo("self", "self"),
      externalTo("ping", "pong"),
      externalTo("pong", "ping"),
      externalTo("entry", "ping"),
      externalTo("tail", "web"),
      ...ring,
    ])),
  });
  const fq = (name: string) => `${name}.default.svc.cluster.local`;
  const cname = (from: string, to: string) => `${from} CNAME ${fq(to)}`;
  const rows: { name: string; q: string; type?: number; rcode: number; answers: string[] }[] = [
    { name: "x → x", q: fq("self"), rcode: Rcode.SERVFAIL, answers: [cname(fq("self"), "self")] },
    {
      name: "a → b → a",
      q: fq("ping"),
      rcode: Rcode.SERVFAIL,
      answers: [cname(fq("ping"), "pong"), cname(fq("pong"), "ping")],
    },
    {
      name: "a → b → a, AAAA",
      q: fq("pong"),
      type: RRType.AAAA,
      rcode: Rcode.SERVFAIL,
      answers: [cname(fq("pong"), "ping"), cname(fq("ping"), "pong")],
    },
    {
      name: "a chain into a loop: every CNAME once",
      q: fq("entry"),
      rcode: Rcode.SERVFAIL,
      answers: [cname(fq("entry"), "ping"), cname(fq("ping"), "pong"), cname(fq("pong"), "ping")],
    },
    {
      name: "a loop of 8 (the longest chain followed) is still found",
      q: fq("r0"),
      rcode: Rcode.SERVFAIL,
      answers: ring.map((_, i) => cname(fq(`r${i}`), `r${(i + 1) % 8}`)),
    },
    {
      name: "short name of x → x: the short owner, then the loop",
      q: "self",
      rcode: Rcode.SERVFAIL,
      answers: [cname("self", "self")],
    },
    {
      name: "CNAME question: the one CNAME, NOERROR (nothing is followed)",
      q: fq("self"),
      type: RRType.CNAME,
      rcode: Rcode.NOERROR,
      answers: [cname(fq("self"), "self")],
    },
    {
      name: "a chain without a loop ends at its address, NOERROR",
      q: fq("tail"),
      rcode: Rcode.NOERROR,
      answers: [cname(fq("tail"), "web"), `${fq("web")} A 9.251.0.9`],
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      const query = encodeMessage({
        id: 4242,
        recursionDesired: true,
        questions: [{ name: row.q, type: row.type ?? RRType.A, class: RRClass.IN }],
      });
      // Over TCP: eight uncompressed CNAMEs do not fit a 512-byte UDP answer.
      const reply = await h.handle(query, "127.0.0.1", true);
      assert.ok(reply instanceof Uint8Array);
      assert.equal((reply[0]! << 8) | reply[1]!, 4242, "ID");
      assert.equal(reply[3]! & 0xf, row.rcode, "RCODE");
      assert.equal((reply[6]! << 8) | reply[7]!, row.answers.length, "ANCOUNT");
      const m = decodeMessage(reply).value;
      const shown = m.answers.map(show);
      assert.deepEqual(shown, row.answers);
      assert.equal(new Set(shown).size, shown.length, "no record twice");
      assert.deepEqual(m.authorities, [], "an error or a positive answer carries no SOA");
    });
  }
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  AllowList,
  buildZone,
  decodeMessage,
  DnsHandler,
  type DnsMessageInit,
  type DnsRecord,
  encodeMessage,
  Forwarder,
  Rcode,
  RRType,
  type UpstreamTransport,
} from "../../lib/dns/mod.ts";
import { snapshot, svc, testSnapshot } from "./_fixtures.ts";

/** An upstream answering every question with `records(name, type)`, counting exchanges. */
function upstream(
  records: (name: string, type: number) => DnsRecord[],
): UpstreamTransport & { calls: number } {
  const t = {
    calls: 0,
    udp(_u: unknown, query: Uint8Array, accept: (a: Uint8Array) => boolean) {
      t.calls++;
      const q = decodeMessage(query).value;
      const q0 = q.questions[0]!;
      const answers = records(q0.name, q0.type);
      const a = encodeMessage({
        id: q.id,
        response: true,
        recursionDesired: q.recursionDesired,
        recursionAvailable: true,
        questions: q.questions,
        answers,
        // NODATA is cached by the SOA (RFC 2308 §5).
        authorities: answers.length > 0 ? [] : [{
          type: "SOA",
          name: "example.com",
          class: 1,
          ttl: 30,
          mname: "ns.example.com",
          rname: "h.example.com",
          serial: 1,
          refresh: 1,
          retry: 1,
          expire: 1,
          minimum: 30,
        }],
        edns: q.edns,
      });
      // The upstream echoes the question as we sent it; give it a different spelling to prove
      // the client's own bytes are echoed.
      for (let i = 12; i < a.length && a[i] !== 0; i++) {
        if (a[i]! >= 65 && a[i]! <= 90) a[i]! |= 0x20;
      }
      return accept(a) ? Promise.resolve(a) : Promise.reject(new Error("rejected"));
    },
    tcp() {
      return Promise.reject(new Error("no TCP here"));
    },
  };
  return t;
}

function aRecords(n: number) {
  return (name: string, type: number): DnsRecord[] =>
    type === RRType.A
      ? Array.from({ length: n }, (_, i) => ({
        type: "A" as const,
        name,
        class: 1,
        ttl: 60,
        address: `192.0.2.${i + 1}`,
      }))
      : [];
}

function handler(
  fastPath: boolean,
  transport: UpstreamTransport,
  now: () => number,
): DnsHandler {
  return new DnsHandler({
    zone: buildZone(testSnapshot()),
    forwarder: new Forwarder({
      upstreams: [{ hostname: "127.0.0.1", port: 1 }],
      transport,
      now,
    }),
    allow: new AllowList(["127.0.0.0/8"], { nodeAddresses: () => [] }),
    fastPath,
  });
}

function q(name: string, type: number, init: Partial<DnsMessageInit> = {}): Uint8Array {
  return encodeMessage({
    id: 7,
    recursionDesired: true,
    questions: [{ name, type, class: 1 }],
    ...init,
  });
}

Deno.test("DnsHandler answers cached forwarded names synchronously, like the slow path", async (t) => {
  let now = 1_000_000;
  const clock = () => now;
  const fastUp = upstream(aRecords(2));
  const fast = handler(true, fastUp, clock);
  const slow = handler(false, upstream(aRecords(2)), clock);
  const out = new Uint8Array(4096);
  const ednsVariants = [
    null,
    { udpPayloadSize: 1232, version: 0, dnssecOk: false },
    { udpPayloadSize: 4096, version: 0, dnssecOk: true },
  ];
  let n = 0;
  for (const type of [RRType.A, RRType.AAAA, RRType.MX]) {
    for (const edns of ednsVariants) {
      for (const tcp of [false, true]) {
        const name = `host${n++}.example.com`;
        await t.step(
          `${name} type ${type} edns=${edns?.udpPayloadSize ?? "none"} tcp=${tcp}`,
          async () => {
            const first = q(name, type, { id: 1, edns });
            const calls = fastUp.calls;
            const a1 = fast.handle(first, "127.0.0.1", tcp, out);
            assert.ok(a1 instanceof Promise, "the first query goes upstream");
            await a1;
            await slow.handle(first, "127.0.0.1", tcp);
            assert.equal(fastUp.calls, calls + 1);
            now += 2_500; // TTLs go down by 2 s
            // 0x20-style mixed case: the answer must carry these exact question bytes.
            const again = q(name.toUpperCase().replace("EXAMPLE", "eXaMpLe"), type, {
              id: 0xbeef,
              recursionDesired: false,
              edns,
            });
            const a2 = fast.handle(again, "127.0.0.1", tcp, out);
            assert.ok(a2 instanceof Uint8Array, "a cached answer is synchronous");
            const b2 = await slow.handle(again, "127.0.0.1", tcp);
            assert.ok(b2);
            assert.deepEqual([...a2], [...b2], "byte for byte what the slow path answers");
            const m = decodeMessage(a2).value;
            assert.equal(m.id, 0xbeef);
            assert.equal(m.questions[0]!.name, name.toUpperCase().replace("EXAMPLE", "eXaMpLe"));
            assert.deepEqual([...a2.subarray(12, 12 + name.length + 6)], [
              ...again.subarray(12, 12 + name.length + 6),
            ]);
            if (type === RRType.A) assert.deepEqual(m.answers.map((r) => r.ttl), [58, 58]);
            else assert.deepEqual(m.authorities.map((r) => r.ttl), [28]);
            assert.equal(m.edns?.dnssecOk ?? null, edns?.dnssecOk ?? null);
            assert.equal(fastUp.calls, calls + 1, "no second upstream exchange");
          },
        );
      }
    }
  }
});

Deno.test("DnsHandler truncates a cached forwarded answer that does not fit, like the slow path", () => {
  const clock = () => 0;
  const fast = handler(true, upstream(aRecords(40)), clock);
  const slow = handler(false, upstream(aRecords(40)), clock);
  return (async () => {
    const first = q("big.example", RRType.A, { id: 1 });
    await fast.handle(first, "127.0.0.1", true);
    await slow.handle(first, "127.0.0.1", true);
    const again = q("BIG.example", RRType.A, { id: 2 });
    const a = fast.handle(again, "127.0.0.1", false, new Uint8Array(4096));
    assert.ok(a instanceof Uint8Array);
    const b = await slow.handle(again, "127.0.0.1", false);
    assert.ok(b);
    assert.deepEqual([...a], [...b]);
    const m = decodeMessage(a).value;
    assert.equal(m.truncated, true);
    assert.equal(m.answers.length, 0);
    assert.equal(m.questions[0]!.name, "BIG.example");
  })();
});

Deno.test("DnsHandler re-decides remembered forwarded names on zone and client changes", async (t) => {
  const up = upstream(aRecords(1));
  const h = handler(true, up, () => 0);
  const name = "web.default";
  await h.handle(q(name, RRType.A), "127.0.0.1", false);
  assert.ok(h.handle(q(name, RRType.A), "127.0.0.1", false) instanceof Uint8Array);
  await t.step("a client outside dnsAllowFrom gets REFUSED, not the cached answer", () => {
    const r = h.handle(q(name, RRType.A), "192.0.2.77", false);
    assert.ok(r instanceof Uint8Array);
    assert.equal(decodeMessage(r).value.rcode, Rcode.REFUSED);
  });
  await t.step("a new service that owns the name answers it locally", () => {
    h.setZone(buildZone(snapshot([svc("default", "web", { vip: "9.251.0.9" })], 2)));
    const r = h.handle(q(name, RRType.A), "127.0.0.1", false, new Uint8Array(4096));
    assert.ok(r instanceof Uint8Array);
    const m = decodeMessage(r).value;
    assert.equal(m.authoritative, true);
    assert.deepEqual(m.answers.map((a) => a.type === "A" && a.address), ["9.251.0.9"]);
    const aaaa = h.handle(q(name, RRType.AAAA), "127.0.0.1", false);
    assert.ok(aaaa instanceof Uint8Array, "NODATA from the zone, not forwarded");
    assert.equal(decodeMessage(aaaa).value.answers.length, 0);
  });
  assert.equal(up.calls, 1);
});

/** The header bits of a reply, read from its bytes (RFC 1035 §4.1.1). */
function bits(reply: Uint8Array) {
  return {
    id: (reply[0]! << 8) | reply[1]!,
    qr: (reply[2]! & 0x80) !== 0,
    rd: (reply[2]! & 0x01) !== 0,
    tc: (reply[2]! & 0x02) !== 0,
    ra: (reply[3]! & 0x80) !== 0,
    cd: (reply[3]! & 0x10) !== 0,
  };
}

/**
 * An upstream whose header bits are nothing like the query's: RD and CD inverted, RA clear.
 * `fail.*` names fail (SERVFAIL), `big.*` names have 40 A records, the rest one.
 */
function contraryUpstream(): UpstreamTransport & { calls: number } {
  const t = {
    calls: 0,
    udp(_u: unknown, query: Uint8Array, accept: (a: Uint8Array) => boolean) {
      t.calls++;
      const q = decodeMessage(query).value;
      const name = q.questions[0]!.name;
      const a = encodeMessage({
        id: q.id,
        response: true,
        recursionDesired: !q.recursionDesired,
        checkingDisabled: !q.checkingDisabled,
        recursionAvailable: false,
        rcode: name.startsWith("fail.") ? Rcode.SERVFAIL : Rcode.NOERROR,
        questions: q.questions,
        answers: name.startsWith("fail.") ? [] : aRecords(name.startsWith("big.") ? 40 : 1)(
          name,
          RRType.A,
        ),
        edns: q.edns,
      });
      return accept(a) ? Promise.resolve(a) : Promise.reject(new Error("rejected"));
    },
    tcp() {
      return Promise.reject(new Error("no TCP here"));
    },
  };
  return t;
}

interface FlagCase {
  readonly name: string;
  /** The query with the client's RD and CD bits. */
  readonly query: (rd: boolean, cd: boolean) => Uint8Array;
  readonly rcode: number;
  /** Whether RA must be set. */
  readonly ra: boolean;
  readonly tc?: boolean;
  readonly client?: string;
  readonly tcp?: boolean;
  /** Fills the cache first, with the other RD bit, then expects no upstream exchange. */
  readonly cached?: boolean;
}

/** A raw header: ID 0x0102, the given flags, QDCOUNT 1, then `rest`. */
function raw(flags: number, rest: number[]): Uint8Array {
  return new Uint8Array([1, 2, flags >> 8, flags & 0xff, 0, 1, 0, 0, 0, 0, 0, 0, ...rest]);
}

/** Every combination of the client's RD and CD bits. */
const RD_CD: readonly (readonly [boolean, boolean])[] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

const flagBits = (rd: boolean, cd: boolean) => (rd ? 0x0100 : 0) | (cd ? 0x0010 : 0);

const flagCases: FlagCase[] = [
  {
    name: "local A (fast path)",
    query: (rd, cd) =>
      q("nginx.default.svc.cluster.local", RRType.A, {
        id: 9,
        recursionDesired: rd,
        checkingDisabled: cd,
      }),
    rcode: Rcode.NOERROR,
    ra: true,
  },
  {
    name: "local NODATA (codec)",
    query: (rd, cd) => q("nginx", RRType.MX, { id: 9, recursionDesired: rd, checkingDisabled: cd }),
    rcode: Rcode.NOERROR,
    ra: true,
  },
  {
    name: "local NXDOMAIN with EDNS",
    query: (rd, cd) =>
      q("nope.default.svc.cluster.local", RRType.A, {
        id: 9,
        recursionDesired: rd,
        checkingDisabled: cd,
        edns: { udpPayloadSize: 1232, version: 0, dnssecOk: true },
      }),
    rcode: Rcode.NXDOMAIN,
    ra: true,
  },
  {
    name: "local answer to a client outside dnsAllowFrom",
    query: (rd, cd) =>
      q("nginx.default.svc.cluster.local", RRType.A, {
        id: 9,
        recursionDesired: rd,
        checkingDisabled: cd,
      }),
    client: "192.0.2.77",
    rcode: Rcode.NOERROR,
    ra: false,
  },
  {
    name: "ExternalName chased upstream",
    query: (rd, cd) =>
      q("ext.default.svc.cluster.local", RRType.A, {
        id: 9,
        recursionDesired: rd,
        checkingDisabled: cd,
      }),
    rcode: Rcode.NOERROR,
    ra: true,
  },
  {
    name: "forwarded, fresh",
    query: (rd, cd) =>
      q("new3.test", RRType.A, { id: 9, recursionDesired: rd, checkingDisabled: cd }),
    rcode: Rcode.NOERROR,
    ra: true,
  },
  {
    name: "forwarded, from the cache",
    query: (rd, cd) =>
      q("new1.test", RRType.A, { id: 9, recursionDesired: rd, checkingDisabled: cd }),
    rcode: Rcode.NOERROR,
    ra: true,
    cached: true,
  },
  {
    name: "forwarded, from the cache, with EDNS",
    query: (rd, cd) =>
      q("new2.test", RRType.A, {
        id: 9,
        recursionDesired: rd,
        checkingDisabled: cd,
        edns: { udpPayloadSize: 1232, version: 0, dnssecOk: false },
      }),
    rcode: Rcode.NOERROR,
    ra: true,
    cached: true,
  },
  {
    name: "forwarded, fresh, truncated over UDP",
    query: (rd, cd) =>
      q("big.test", RRType.A, { id: 9, recursionDesired: rd, checkingDisabled: cd }),
    rcode: Rcode.NOERROR,
    ra: true,
    tc: true,
  },
  {
    name: "forwarded, from the cache, truncated over UDP",
    query: (rd, cd) =>
      q("big.test", RRType.A, { id: 9, recursionDesired: rd, checkingDisabled: cd }),
    rcode: Rcode.NOERROR,
    ra: true,
    tc: true,
    cached: true,
  },
  {
    name: "SERVFAIL: every upstream failed",
    query: (rd, cd) =>
      q("fail.test", RRType.A, { id: 9, recursionDesired: rd, checkingDisabled: cd }),
    rcode: Rcode.SERVFAIL,
    ra: true,
  },
  {
    name: "REFUSED: client outside dnsAllowFrom",
    query: (rd, cd) =>
      q("new1.test", RRType.A, { id: 9, recursionDesired: rd, checkingDisabled: cd }),
    client: "192.0.2.77",
    rcode: Rcode.REFUSED,
    ra: false,
  },
  {
    name: "REFUSED: zone transfer",
    query: (rd, cd) =>
      q("cluster.local", RRType.AXFR, { id: 9, recursionDesired: rd, checkingDisabled: cd }),
    tcp: true,
    rcode: Rcode.REFUSED,
    ra: true,
  },
  {
    name: "BADVERS (RFC 6891 §6.1.3)",
    query: (rd, cd) =>
      q("nginx.default.svc.cluster.local", RRType.A, {
        id: 9,
        recursionDesired: rd,
        checkingDisabled: cd,
        edns: { udpPayloadSize: 1232, version: 1, dnssecOk: false },
      }),
    rcode: Rcode.BADVERS,
    ra: true,
  },
  {
    name: "BADVERS to a client outside dnsAllowFrom",
    query: (rd, cd) =>
      q("new1.test", RRType.A, {
        id: 9,
        recursionDesired: rd,
        checkingDisabled: cd,
        edns: { udpPayloadSize: 1232, version: 1, dnssecOk: false },
      }),
    client: "192.0.2.77",
    rcode: Rcode.BADVERS,
    ra: false,
  },
  {
    name: "NOTIMP (opcode NOTIFY)",
    query: (rd, cd) =>
      q("nginx", RRType.A, { id: 9, opcode: 4, recursionDesired: rd, checkingDisabled: cd }),
    rcode: Rcode.NOTIMP,
    ra: true,
  },
  {
    name: "FORMERR: two questions",
    query: (rd, cd) =>
      encodeMessage({
        id: 9,
        recursionDesired: rd,
        checkingDisabled: cd,
        questions: [{ name: "a", type: 1, class: 1 }, { name: "b", type: 1, class: 1 }],
      }),
    rcode: Rcode.FORMERR,
    ra: true,
  },
  {
    name: "FORMERR: the question does not parse",
    query: (rd, cd) => raw(flagBits(rd, cd), [3, 97]),
    rcode: Rcode.FORMERR,
    ra: true,
  },
];

Deno.test("DnsHandler copies RD and CD into every reply and sets RA alike on each", async (t) => {
  for (const fastPath of [true, false]) {
    for (const c of flagCases) {
      for (const [rd, cd] of RD_CD) {
        await t.step(`${c.name} fastPath=${fastPath} rd=${rd} cd=${cd}`, async () => {
          const up = contraryUpstream();
          const h = handler(fastPath, up, () => 0);
          const tcp = c.tcp ?? false;
          if (c.cached) {
            // Filled by a recursive query with the same CD (the key) over TCP (no truncation).
            const fill = c.query(true, cd);
            fill[0] = 0x55;
            await h.handle(fill, "127.0.0.1", true);
          }
          const calls = up.calls;
          const query = c.query(rd, cd);
          const reply = await h.handle(query, c.client ?? "127.0.0.1", tcp, new Uint8Array(4096));
          assert.ok(reply, "answered");
          const b = bits(reply);
          assert.equal(b.id, (query[0]! << 8) | query[1]!);
          assert.equal(b.qr, true);
          assert.equal(b.rd, rd, "RD copied from the query");
          assert.equal(b.cd, cd, "CD copied from the query");
          assert.equal(b.ra, c.ra, "RA as on every reply to this client");
          assert.equal(b.tc, c.tc ?? false);
          assert.equal(decodeMessage(reply).value.rcode, c.rcode);
          if (c.cached) assert.equal(up.calls, calls, "served from the cache");
        });
      }
    }
  }
});

Deno.test("DnsHandler caches answers to CD=1 queries apart from CD=0 ones (RFC 4035 §3.2.2)", async (t) => {
  // A validating upstream: bogus data for CD=1, SERVFAIL for CD=0 (RFC 4035 §5.5).
  const validating = (): UpstreamTransport & { seen: boolean[] } => {
    const seen: boolean[] = [];
    return {
      seen,
      udp(_u, query, accept) {
        const m = decodeMessage(query).value;
        seen.push(m.checkingDisabled);
        const a = encodeMessage({
          id: m.id,
          response: true,
          recursionDesired: true,
          recursionAvailable: true,
          checkingDisabled: m.checkingDisabled,
          rcode: m.checkingDisabled ? Rcode.NOERROR : Rcode.SERVFAIL,
          questions: m.questions,
          answers: m.checkingDisabled ? aRecords(1)(m.questions[0]!.name, RRType.A) : [],
        });
        return accept(a) ? Promise.resolve(a) : Promise.reject(new Error("rejected"));
      },
      tcp: () => Promise.reject(new Error("no TCP here")),
    };
  };
  // [query CD bits in order, rcode of each, CD bits the upstream saw]
  const cases: [string, boolean[], number[], boolean[]][] = [
    [
      "CD=1 data never reaches a CD=0 client",
      [true, false, true],
      [Rcode.NOERROR, Rcode.SERVFAIL, Rcode.NOERROR],
      [true, false],
    ],
    [
      "a CD=0 failure does not hide the CD=1 data",
      [false, true, true],
      [Rcode.SERVFAIL, Rcode.NOERROR, Rcode.NOERROR],
      [false, true],
    ],
  ];
  for (const [name, cds, rcodes, seen] of cases) {
    for (const fastPath of [true, false]) {
      await t.step(`${name} fastPath=${fastPath}`, async () => {
        const up = validating();
        const h = handler(fastPath, up, () => 0);
        for (let i = 0; i < cds.length; i++) {
          const reply = await h.handle(
            q("signed.test", RRType.A, { id: i, checkingDisabled: cds[i] }),
            "127.0.0.1",
            false,
          );
          assert.ok(reply);
          assert.equal(decodeMessage(reply).value.rcode, rcodes[i], `query ${i}`);
          assert.equal(bits(reply).cd, cds[i]);
        }
        assert.deepEqual(up.seen, seen, "the client's CD goes upstream; one exchange per CD");
      });
    }
  }
});

Deno.test("DnsHandler puts the SOA only on negative answers for names in the zone (RFC 2308 §3)", async (t) => {
  // [question, type, rcode, SOA owners in the authority section]
  const cases: [string, number, number, string[]][] = [
    ["nginx.default.svc.cluster.local", RRType.MX, Rcode.NOERROR, ["cluster.local"]],
    ["missing.default.svc.cluster.local", RRType.A, Rcode.NXDOMAIN, ["cluster.local"]],
    ["nginx", RRType.MX, Rcode.NOERROR, []],
    ["nginx.default", RRType.AAAA, Rcode.NOERROR, []],
    ["empty.default", RRType.A, Rcode.NXDOMAIN, []],
    ["2.0.251.9.in-addr.arpa", RRType.AAAA, Rcode.NOERROR, []],
    ["alias", RRType.AAAA, Rcode.NOERROR, ["cluster.local"]],
  ];
  const h = handler(true, upstream(aRecords(1)), () => 0);
  for (const [name, type, rcode, soa] of cases) {
    await t.step(`${name} type ${type}`, async () => {
      const reply = await h.handle(q(name, type), "127.0.0.1", false);
      assert.ok(reply);
      assert.equal(reply[3]! & 0xf, rcode);
      assert.equal((reply[8]! << 8) | reply[9]!, soa.length, "NSCOUNT");
      const m = decodeMessage(reply).value;
      assert.deepEqual(m.authorities.map((r) => `${r.type} ${r.name}`), soa.map((o) => `SOA ${o}`));
    });
  }
});

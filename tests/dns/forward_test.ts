// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  decodeMessage,
  type DnsMessageInit,
  encodeMessage,
  Forwarder,
  type ForwardRequest,
  Rcode,
  RRType,
  type Upstream,
  type UpstreamTransport,
} from "../../lib/dns/mod.ts";
import { memoryLogger } from "../../lib/log/mod.ts";
import { steppableWallClock } from "../_helpers/clock.ts";
import { ptr, rawAnswer, rr, wireName } from "./_fixtures.ts";

/** A transport answering from a function, counting exchanges. */
function fakeTransport(
  answer: (q: Uint8Array, via: "udp" | "tcp", upstream: Upstream) => Uint8Array | "timeout",
): UpstreamTransport & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    udp(upstream, query, accept, signal) {
      calls.push(`udp ${upstream.port}`);
      const a = answer(query, "udp", upstream);
      if (a === "timeout") {
        return new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason), { once: true })
        );
      }
      return accept(a) ? Promise.resolve(a) : Promise.reject(new Error("rejected by accept"));
    },
    tcp(upstream, query) {
      calls.push(`tcp ${upstream.port}`);
      const a = answer(query, "tcp", upstream);
      return a === "timeout" ? Promise.reject(new Error("timeout")) : Promise.resolve(a);
    },
  };
}

function reply(query: Uint8Array, init: Partial<DnsMessageInit>) {
  const q = decodeMessage(query).value;
  return encodeMessage({ id: q.id, response: true, questions: q.questions, ...init });
}

function request(name: string, id = 5, edns = false): ForwardRequest {
  const query = encodeMessage({
    id,
    recursionDesired: true,
    questions: [{ name, type: RRType.A, class: 1 }],
    edns: edns ? { udpPayloadSize: 1232, version: 0, dnssecOk: false } : null,
  });
  return {
    query,
    questionEnd: 12 + name.length + 2 + 4,
    name: name.toLowerCase(),
    type: RRType.A,
    class: 1,
    edns,
    dnssecOk: false,
    limit: 512,
  };
}

Deno.test("Forwarder rejects spoofed answers and tries the next upstream", async () => {
  const t = fakeTransport((q, _via, up) =>
    up.port === 1
      ? encodeMessage({ id: 1, response: true, questions: [{ name: "evil", type: 1, class: 1 }] })
      : reply(q, {
        answers: [{ type: "A", name: "a.example", class: 1, ttl: 9, address: "192.0.2.5" }],
      })
  );
  const f = new Forwarder({
    upstreams: [{ hostname: "127.0.0.1", port: 1 }, { hostname: "127.0.0.1", port: 2 }],
    transport: t,
  });
  const a = decodeMessage(await f.forward(request("a.example"), "k")).value;
  assert.deepEqual(a.answers.map((r) => r.type === "A" && r.address), ["192.0.2.5"]);
  assert.deepEqual(t.calls, ["udp 1", "udp 2"]);
});

Deno.test("Forwarder does not cache TTL 0 answers and caches NODATA by the SOA", async () => {
  let now = 0;
  const t = fakeTransport((q) => {
    const name = decodeMessage(q).value.questions[0]!.name;
    if (name === "zero.example") {
      return reply(q, { answers: [{ type: "A", name, class: 1, ttl: 0, address: "192.0.2.1" }] });
    }
    return reply(q, {
      authorities: [{
        type: "SOA",
        name: "example",
        class: 1,
        ttl: 20,
        mname: "a",
        rname: "b",
        serial: 1,
        refresh: 1,
        retry: 1,
        expire: 1,
        minimum: 600,
      }],
    });
  });
  const f = new Forwarder({
    upstreams: [{ hostname: "127.0.0.1", port: 1 }],
    transport: t,
    now: () => now,
  });
  await f.forward(request("zero.example"), "z");
  await f.forward(request("zero.example"), "z");
  assert.equal(t.calls.length, 2);
  await f.forward(request("nodata.example"), "n");
  now = 19_000;
  const cached = decodeMessage(await f.forward(request("nodata.example", 6), "n")).value;
  assert.equal(cached.id, 6);
  assert.equal(cached.authorities[0]?.ttl, 1, "SOA TTL decremented");
  assert.equal(t.calls.length, 3);
  now = 20_000;
  await f.forward(request("nodata.example"), "n");
  assert.equal(t.calls.length, 4, "negative TTL = min(SOA TTL 20, MINIMUM 600)");
});

Deno.test("Forwarder answers TC when the cached answer exceeds the client's limit", async () => {
  const many = Array.from({ length: 40 }, (_, i) => ({
    type: "A" as const,
    name: "big.example",
    class: 1,
    ttl: 60,
    address: `192.0.2.${i}`,
  }));
  const t = fakeTransport((q) => reply(q, { answers: many }));
  const f = new Forwarder({ upstreams: [{ hostname: "127.0.0.1", port: 1 }], transport: t });
  const small = decodeMessage(await f.forward(request("big.example"), "b")).value;
  assert.equal(small.truncated, true);
  assert.equal(small.answers.length, 0);
  const whole =
    decodeMessage(await f.forward({ ...request("big.example", 7, true), limit: 65535 }, "b"))
      .value;
  assert.equal(whole.truncated, false);
  assert.equal(whole.answers.length, 40);
  assert.equal(whole.edns?.udpPayloadSize, 1232, "our OPT appended for an EDNS client");
  assert.equal(t.calls.length, 1);
  assert.equal(Rcode.NOERROR, whole.rcode);
});

/** A request like {@linkcode request} with the client's RD and CD bits. */
function flagRequest(name: string, rd: boolean, cd: boolean, id = 5): ForwardRequest {
  const query = encodeMessage({
    id,
    recursionDesired: rd,
    checkingDisabled: cd,
    questions: [{ name, type: RRType.A, class: 1 }],
  });
  return { ...request(name, id), query };
}

/** RD, CD and RA of a reply, from its header bytes (RFC 1035 §4.1.1). */
function rdCdRa(reply: Uint8Array): [boolean, boolean, boolean] {
  return [(reply[2]! & 0x01) !== 0, (reply[3]! & 0x10) !== 0, (reply[3]! & 0x80) !== 0];
}

Deno.test("Forwarder gives every client its own RD and CD, whatever the stored answer carries", async (t) => {
  // What the upstream puts in its header, whatever it was asked.
  const upstreams: [string, Partial<DnsMessageInit>][] = [
    ["an upstream setting RD, CD and RA", {
      recursionDesired: true,
      checkingDisabled: true,
      recursionAvailable: true,
    }],
    ["an upstream clearing RD, CD and RA", {
      recursionDesired: false,
      checkingDisabled: false,
      recursionAvailable: false,
    }],
  ];
  const combos: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];
  for (const [what, header] of upstreams) {
    for (const [rd, cd] of combos) {
      await t.step(`${what}; client rd=${rd} cd=${cd}`, async () => {
        const tr = fakeTransport((q) =>
          reply(q, {
            ...header,
            answers: [{ type: "A", name: "a.example", class: 1, ttl: 60, address: "192.0.2.1" }],
          })
        );
        const f = new Forwarder({ upstreams: [{ hostname: "127.0.0.1", port: 1 }], transport: tr });
        const fresh = await f.forward(flagRequest("a.example", rd, cd), "fresh");
        assert.deepEqual(rdCdRa(fresh), [rd, cd, true], "fresh answer");
        // The key is the caller's (the handler puts CD in it): one filled by another client.
        const fill = await f.forward(flagRequest("a.example", true, !cd, 6), "k");
        assert.deepEqual(rdCdRa(fill), [true, !cd, true], "the filling client's own bits");
        const cached = await f.forward(flagRequest("a.example", rd, cd, 7), "k");
        assert.deepEqual(rdCdRa(cached), [rd, cd, true], "cached answer");
        assert.equal(decodeMessage(cached).value.id, 7);
        assert.deepEqual(tr.calls, ["udp 1", "udp 1"], "the last one from the cache");
      });
    }
  }
  await t.step("SERVFAIL when every upstream failed", async () => {
    const tr = fakeTransport((q) => reply(q, { rcode: Rcode.SERVFAIL }));
    const f = new Forwarder({ upstreams: [{ hostname: "127.0.0.1", port: 1 }], transport: tr });
    for (const [rd, cd] of combos) {
      const r = await f.forward(flagRequest("a.example", rd, cd), "k");
      assert.equal(decodeMessage(r).value.rcode, Rcode.SERVFAIL);
      assert.deepEqual(rdCdRa(r), [rd, cd, true]);
    }
  });
});

Deno.test("Forwarder neither caches nor shares what a query without RD brought back", async (t) => {
  // Each case: the clients' RD bits, whether they ask concurrently, the RD bits upstream saw.
  const cases: [string, boolean[], boolean, boolean[]][] = [
    ["rd=0, then rd=1: the second goes upstream", [false, true], false, [false, true]],
    ["rd=0 twice: both go upstream", [false, false], false, [false, false]],
    ["rd=1, then rd=0: served from the cache", [true, false], false, [true]],
    ["rd=0 and rd=1 at once: two exchanges", [false, true], true, [false, true]],
    ["rd=1 and rd=1 at once: one exchange", [true, true], true, [true]],
    ["rd=0 and rd=0 at once: one exchange", [false, false], true, [false]],
  ];
  for (const [name, rds, concurrent, seen] of cases) {
    await t.step(name, async () => {
      const upstreamRd: boolean[] = [];
      const tr = fakeTransport((q) => {
        const m = decodeMessage(q).value;
        upstreamRd.push(m.recursionDesired);
        return reply(q, {
          recursionDesired: m.recursionDesired,
          answers: [{ type: "A", name: "a.example", class: 1, ttl: 60, address: "192.0.2.1" }],
        });
      });
      const f = new Forwarder({ upstreams: [{ hostname: "127.0.0.1", port: 1 }], transport: tr });
      const ask = (rd: boolean, i: number) =>
        f.forward(flagRequest("a.example", rd, false, i), "k");
      const replies = concurrent
        ? await Promise.all(rds.map(ask))
        : await rds.reduce<Promise<Uint8Array[]>>(
          async (acc, rd, i) => [...await acc, await ask(rd, i)],
          Promise.resolve([]),
        );
      assert.deepEqual(upstreamRd, seen, "the client's RD goes upstream");
      assert.deepEqual(replies.map((r) => rdCdRa(r)[0]), rds, "each client gets its own RD");
      assert.deepEqual(replies.map((r) => decodeMessage(r).value.answers.length), rds.map(() => 1));
    });
  }
});

Deno.test("Forwarder warns once a minute when every upstream fails, with the count left out", async () => {
  let now = 0;
  const log = memoryLogger();
  const t = fakeTransport((q, _via, up) =>
    up.port === 1 ? reply(q, { rcode: Rcode.SERVFAIL }) : (() => {
      throw new Error("Connection refused (os error 111)");
    })()
  );
  const f = new Forwarder({
    upstreams: [{ hostname: "127.0.0.1", port: 1 }, { hostname: "127.0.0.1", port: 2 }],
    transport: t,
    log,
    now: () => now,
  });
  const warnings = () => log.lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
  for (
    const [at, name] of [[0, "a.example"], [1_000, "b.example"], [61_000, "c.example"]] as const
  ) {
    now = at;
    const a = decodeMessage(await f.forward(request(name), `k-${name}`)).value;
    assert.equal(a.rcode, Rcode.SERVFAIL, name);
  }
  assert.deepEqual(warnings().map((w) => [w.msg, w.upstreams, w.suppressed]), [
    ["Every DNS upstream failed; answering SERVFAIL", "127.0.0.1:1,127.0.0.1:2", undefined],
    ["Every DNS upstream failed; answering SERVFAIL", "127.0.0.1:1,127.0.0.1:2", 1],
  ]);
  assert.match(warnings()[0].lastError, /^127\.0\.0\.1:2: Connection refused/);
});

Deno.test("Forwarder names IPv6 upstreams in brackets in its warning and debug lines", async () => {
  const log = memoryLogger();
  const t = fakeTransport(() => {
    throw new Error("Network is unreachable (os error 101)");
  });
  const f = new Forwarder({
    upstreams: [{ hostname: "fe80::1%eth0", port: 53 }, { hostname: "2001:db8::53", port: 53 }],
    transport: t,
    log,
  });
  const a = decodeMessage(await f.forward(request("v6.example"), "k")).value;
  assert.equal(a.rcode, Rcode.SERVFAIL);
  const lines = log.lines.map((l) => JSON.parse(l));
  // Was "fe80::1%eth0:53,2001:db8::53:53": the port could not be told from the address.
  assert.deepEqual(lines.filter((l) => l.level === "debug").map((l) => l.upstream), [
    "[fe80::1%eth0]:53",
    "[2001:db8::53]:53",
  ]);
  const warn = lines.find((l) => l.level === "warn");
  assert.equal(warn.upstreams, "[fe80::1%eth0]:53,[2001:db8::53]:53");
  assert.match(warn.lastError, /^\[2001:db8::53\]:53: Network is unreachable/);
});

const A_DATA = [192, 0, 2, 66];
const Q = 12; // the question name's offset: every pointer to it is fine
const SOA_DATA = [...ptr(Q), ...ptr(Q), ...new Array(20).fill(0).map((_, i) => i === 19 ? 60 : 0)];

/** Upstream answers a client decoder would fail on: [what, counts, records]. */
const MALFORMED: [string, [number, number, number], (at: number) => number[]][] = [
  ["owner is a pointer to itself", [1, 0, 0], (at) => rr(ptr(at), 1, 60, A_DATA)],
  ["owner points forwards", [1, 0, 0], (at) => rr(ptr(at + 2), 1, 60, A_DATA)],
  ["owner points past the end", [1, 0, 0], () => rr(ptr(0x3fff), 1, 60, A_DATA)],
  ["owner points into the header", [1, 0, 0], () => rr(ptr(2), 1, 60, A_DATA)],
  ["owner's labels loop through two pointers", [2, 0, 0], (at) => [
    ...rr(ptr(Q), 5, 60, [1, 0x78, ...ptr(at + 20)]), // CNAME x.<q> → pointer forwards
    ...rr([1, 0x79, ...ptr(at + 12)], 1, 60, A_DATA), // y.<the CNAME target>
  ]],
  ["CNAME target is a pointer to itself", [1, 0, 0], (at) => rr(ptr(Q), 5, 60, ptr(at + 12))],
  ["CNAME target points forwards", [2, 0, 0], (at) => [
    ...rr(ptr(Q), 5, 60, ptr(at + 14)),
    ...rr(wireName("b.example"), 1, 60, A_DATA),
  ]],
  [
    "label type 0x40 (reserved)",
    [1, 0, 0],
    () => rr([0x41, ...new Array(65).fill(0x61), 0], 1, 60, A_DATA),
  ],
  ["label type 0x80 (reserved)", [1, 0, 0], () => rr([0x81, 0x61, 0], 1, 60, A_DATA)],
  ["owner longer than 255 octets", [1, 0, 0], () =>
    rr(
      wireName(Array.from({ length: 5 }, () => "x".repeat(63)).join(".")),
      1,
      60,
      A_DATA,
    )],
  ["name longer than 255 octets through a pointer", [2, 0, 0], (at) => {
    const long = wireName(Array.from({ length: 3 }, () => "y".repeat(63)).join("."));
    return [
      ...rr(ptr(Q), 5, 60, long), // CNAME to a 193-octet name (fine)
      ...rr([63, ...new Array(63).fill(0x7a), ...ptr(at + 12)], 1, 60, A_DATA), // 64 + 193
    ];
  }],
  ["name runs past the end of the message", [1, 0, 0], () => [5, 0x61, 0x62]],
  ["RDLENGTH past the end", [1, 0, 0], () => rr(ptr(Q), 1, 60, A_DATA, 40)],
  ["A data of 5 octets", [1, 0, 0], () => rr(ptr(Q), 1, 60, [...A_DATA, 0])],
  ["AAAA data of 4 octets", [1, 0, 0], () => rr(ptr(Q), 28, 60, A_DATA)],
  [
    "CNAME target shorter than its RDLENGTH",
    [1, 0, 0],
    () => rr(ptr(Q), 5, 60, [...wireName("c.example"), 0]),
  ],
  [
    "CNAME target longer than its RDLENGTH",
    [1, 0, 0],
    () => [...rr(ptr(Q), 5, 60, wireName("c.example"), 4), 0, 0],
  ],
  ["MX exchange points forwards", [1, 0, 0], (at) => rr(ptr(Q), 15, 60, [0, 10, ...ptr(at + 14)])],
  [
    "SRV target points to itself",
    [1, 0, 0],
    (at) => rr(ptr(Q), 33, 60, [0, 0, 0, 0, 0, 0, ...ptr(at + 18)]),
  ],
  ["TXT string runs past the data", [1, 0, 0], () => rr(ptr(Q), 16, 60, [5, 0x61, 0x62])],
  ["SOA without its five numbers", [0, 1, 0], () => rr(ptr(Q), 6, 60, SOA_DATA.slice(0, 20))],
  [
    "SOA RNAME loops",
    [0, 1, 0],
    (at) => rr(ptr(Q), 6, 60, [...ptr(Q), ...ptr(at + 14), ...SOA_DATA.slice(4)]),
  ],
  ["ANCOUNT larger than the records", [2, 0, 0], () => rr(ptr(Q), 1, 60, A_DATA)],
  ["NSCOUNT larger than the records", [1, 1, 0], () => rr(ptr(Q), 1, 60, A_DATA)],
  ["ARCOUNT larger than the records", [1, 0, 1], () => rr(ptr(Q), 1, 60, A_DATA)],
  ["OPT in the answer section", [1, 0, 0], () => rr([0], 41, 0, [])],
  [
    "OPT owned by a name",
    [1, 0, 1],
    () => [...rr(ptr(Q), 1, 60, A_DATA), ...rr(ptr(Q), 41, 0, [])],
  ],
  ["two OPT records", [1, 0, 2], () => [
    ...rr(ptr(Q), 1, 60, A_DATA),
    ...rr([0], 41, 0, []),
    ...rr([0], 41, 0, []),
  ]],
];

Deno.test("Forwarder never forwards nor caches a malformed upstream answer", async (t) => {
  const good = (q: Uint8Array) =>
    reply(q, {
      answers: [{ type: "A", name: "a.example", class: 1, ttl: 60, address: "192.0.2.5" }],
    });
  await t.step("the well-formed control answer passes and is cached", async () => {
    const tr = fakeTransport((q) => rawAnswer(q, [1, 0, 0], () => rr(ptr(Q), 1, 60, A_DATA)));
    const f = new Forwarder({ upstreams: [{ hostname: "127.0.0.1", port: 1 }], transport: tr });
    for (const id of [1, 2]) {
      const a = decodeMessage(await f.forward(request("a.example", id), "k")).value;
      assert.deepEqual(a.answers.map((r) => r.type === "A" && r.address), ["192.0.2.66"]);
    }
    assert.deepEqual(tr.calls, ["udp 1"]);
  });
  for (const [what, counts, body] of MALFORMED) {
    await t.step(`${what}: next upstream, nothing cached`, async () => {
      const tr = fakeTransport((q, _via, up) =>
        up.port === 1 ? rawAnswer(q, counts, body) : good(q)
      );
      const f = new Forwarder({
        upstreams: [{ hostname: "127.0.0.1", port: 1 }, { hostname: "127.0.0.1", port: 2 }],
        transport: tr,
      });
      const a = decodeMessage(await f.forward(request("a.example"), "k")).value;
      assert.deepEqual(a.answers.map((r) => r.type === "A" && r.address), ["192.0.2.5"]);
      assert.deepEqual(tr.calls, ["udp 1", "udp 2"]);
    });
    await t.step(`${what}: SERVFAIL when it is the only upstream, never cached`, async () => {
      const log = memoryLogger();
      const tr = fakeTransport((q) => rawAnswer(q, counts, body));
      const f = new Forwarder({
        upstreams: [{ hostname: "127.0.0.1", port: 1 }],
        transport: tr,
        log,
      });
      for (const id of [1, 2]) {
        const bytes = await f.forward(request("a.example", id), "k");
        const a = decodeMessage(bytes).value;
        assert.equal(a.rcode, Rcode.SERVFAIL);
        assert.deepEqual([a.id, a.answers.length, a.authorities.length], [id, 0, 0]);
      }
      assert.deepEqual(tr.calls, ["udp 1", "udp 1"], "the second query went upstream too");
      assert.equal(f.cacheSize, 0);
      const warn = log.lines.map((l) => JSON.parse(l)).find((l) => l.level === "warn");
      assert.equal(warn?.lastError, "127.0.0.1:1: malformed answer");
    });
  }
});

/** TTLs of every record of a reply, section by section, straight from the decoder. */
function ttls(bytes: Uint8Array): number[] {
  const m = decodeMessage(bytes).value;
  return [...m.answers, ...m.authorities, ...m.additionals].map((r) => r.ttl);
}

Deno.test("Forwarder reads a TTL with the top bit set as 0 and clamps TTLs to maxTtl", async (t) => {
  const soa = (ttl: number, minimum: number) =>
    rr(ptr(Q), 6, ttl, [
      ...ptr(Q),
      ...ptr(Q),
      ...[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      (minimum >>> 24) & 0xff,
      (minimum >>> 16) & 0xff,
      (minimum >>> 8) & 0xff,
      minimum & 0xff,
    ]);
  const a = (ttl: number) => rr(ptr(Q), 1, ttl, A_DATA);
  // [what, counts, records, TTLs the first client gets, cached (then 10 s later: TTLs − 10)]
  const cases: [string, [number, number, number], number[], number[], boolean][] = [
    ["0x80000000 is 0", [1, 0, 0], a(0x80000000), [0], false],
    ["0xFFFFFFFF is 0 (was 4294967295, then 2147483646 from the cache)", [1, 0, 0], a(0xffffffff), [
      0,
    ], false],
    ["2^31 − 1 is clamped to maxTtl", [1, 0, 0], a(0x7fffffff), [3600], true],
    ["3601 is clamped to maxTtl", [1, 0, 0], a(3601), [3600], true],
    ["3600 stays", [1, 0, 0], a(3600), [3600], true],
    ["60 stays", [1, 0, 0], a(60), [60], true],
    ["0 stays, not cached", [1, 0, 0], a(0), [0], false],
    [
      "60 beside 0xFFFFFFFF: the smallest is 0",
      [2, 0, 0],
      [...a(60), ...a(0xffffffff)],
      [60, 0],
      false,
    ],
    [
      "an additional 0xFFFFFFFF is 0, the answer's 60 is cached",
      [1, 0, 1],
      [
        ...a(60),
        ...a(0xffffffff),
      ],
      [60, 0],
      true,
    ],
    ["negative: SOA TTL 0xFFFFFFFF is 0", [0, 1, 0], soa(0xffffffff, 60), [0], false],
    ["negative: SOA MINIMUM 0xFFFFFFFF is 0", [0, 1, 0], soa(60, 0xffffffff), [60], false],
    ["negative: SOA TTL 86400 is clamped to maxTtl", [0, 1, 0], soa(86400, 86400), [3600], true],
  ];
  for (const [what, counts, records, want, cached] of cases) {
    await t.step(what, async () => {
      let now = 1_000_000;
      const tr = fakeTransport((q) => rawAnswer(q, counts, () => records));
      const f = new Forwarder({
        upstreams: [{ hostname: "127.0.0.1", port: 1 }],
        transport: tr,
        now: () => now,
      });
      assert.deepEqual(ttls(await f.forward(request("a.example", 1), "k")), want);
      now += 10_500;
      const again = ttls(await f.forward(request("a.example", 2), "k"));
      if (cached) {
        assert.deepEqual(again, want.map((ttl) => Math.max(0, ttl - 10)), "from the cache");
        assert.deepEqual(tr.calls, ["udp 1"]);
      } else {
        assert.deepEqual(again, want, "fresh from the upstream");
        assert.deepEqual(tr.calls, ["udp 1", "udp 1"], "not cached: the upstream sees it again");
      }
    });
  }
});

Deno.test("Forwarder's decremented TTLs never wrap: they end at 0 when the entry expires", async (t) => {
  let now = 0;
  const tr = fakeTransport((q) => rawAnswer(q, [1, 0, 0], () => rr(ptr(Q), 1, 86400, A_DATA)));
  const f = new Forwarder({
    upstreams: [{ hostname: "127.0.0.1", port: 1 }],
    transport: tr,
    maxTtl: 300,
    now: () => now,
  });
  // [clock ms, TTL the client gets, upstream exchanges so far]
  const steps: [number, number, number][] = [
    [0, 300, 1],
    [-5_000, 300, 1], // a clock that went back adds nothing
    [299_999, 1, 1],
    [300_000, 300, 2], // expired: fetched again
    [300_000 + 299_999, 1, 2],
  ];
  for (const [at, ttl, exchanges] of steps) {
    await t.step(`at ${at} ms: TTL ${ttl}`, async () => {
      now = at;
      assert.deepEqual(ttls(await f.forward(request("a.example"), "k")), [ttl]);
      assert.equal(tr.calls.length, exchanges);
    });
  }
  await t.step("maxTtl must be 0 to 2^31 − 1", () => {
    for (const maxTtl of [-1, 0x80000000, 1.5, NaN]) {
      assert.throws(
        () => new Forwarder({ upstreams: [], maxTtl }),
        RangeError,
        `maxTtl ${maxTtl}`,
      );
    }
  });
});

Deno.test("Forwarder.setUpstreams() forwards to the new list, empties the cache and keeps no old answer", async (t) => {
  // Upstream port 1 answers 192.0.2.1, port 2 answers 192.0.2.2; port 1 answers "late" only
  // when released, so an exchange with it can be in flight across the change.
  let release: () => void = () => {};
  const late = new Promise<void>((r) => release = r);
  const answerFrom = (q: Uint8Array, up: Upstream) =>
    reply(q, {
      answers: [{
        type: "A",
        name: decodeMessage(q).value.questions[0]!.name,
        class: 1,
        ttl: 60,
        address: `192.0.2.${up.port}`,
      }],
    });
  const calls: string[] = [];
  const transport: UpstreamTransport = {
    async udp(up, query, accept) {
      calls.push(`${decodeMessage(query).value.questions[0]!.name} ${up.port}`);
      if (up.port === 1 && decodeMessage(query).value.questions[0]!.name === "late.example") {
        await late;
      }
      const a = answerFrom(query, up);
      if (!accept(a)) throw new Error("rejected by accept");
      return a;
    },
    tcp: () => Promise.reject(new Error("no TCP here")),
  };
  const one = [{ hostname: "127.0.0.1", port: 1 }];
  const two = [{ hostname: "127.0.0.1", port: 2 }];
  const f = new Forwarder({ upstreams: one, transport });
  const address = async (name: string) =>
    decodeMessage(await f.forward(request(name), name)).value.answers.map((r) =>
      r.type === "A" && r.address
    );

  await t.step("the same list changes nothing", async () => {
    assert.deepEqual(await address("a.example"), ["192.0.2.1"]);
    assert.equal(f.setUpstreams([{ hostname: "127.0.0.1", port: 1 }]), false);
    assert.equal(f.cacheSize, 1);
    assert.deepEqual(await address("a.example"), ["192.0.2.1"], "from the cache");
    assert.deepEqual(calls, ["a.example 1"]);
  });

  await t.step("another list: the cache is emptied, the next query goes to it", async () => {
    const inFlight = address("late.example");
    assert.equal(f.setUpstreams(two), true);
    assert.deepEqual(f.upstreams, two);
    assert.equal(f.cacheSize, 0);
    // Not joined to the old exchange still waiting on port 1.
    assert.deepEqual(await address("late.example"), ["192.0.2.2"]);
    release();
    assert.deepEqual(await inFlight, ["192.0.2.1"], "its clients still get the old answer");
    assert.deepEqual(await address("a.example"), ["192.0.2.2"]);
    assert.deepEqual(await address("late.example"), ["192.0.2.2"], "the old answer was not cached");
    assert.deepEqual(calls.slice(1), [
      "late.example 1",
      "late.example 2",
      "a.example 2",
    ]);
  });

  await t.step("an empty list turns forwarding off", () => {
    assert.equal(f.setUpstreams([]), true);
    assert.equal(f.available, false);
    assert.equal(f.cacheSize, 0);
  });
});

Deno.test("Forwarder's default clock: a wall clock set forward does not expire cached answers", async () => {
  const t = fakeTransport((q) =>
    reply(q, {
      answers: [{ type: "A", name: "a.example", class: 1, ttl: 60, address: "192.0.2.5" }],
    })
  );
  using wall = steppableWallClock();
  const f = new Forwarder({ upstreams: [{ hostname: "127.0.0.1", port: 1 }], transport: t });
  await f.forward(request("a.example"), "k");
  // NTP stepping a clock that ran a day behind: the answer is still 60 s young.
  wall.step(86_400_000);
  assert.ok(f.cached("k") !== null, "still cached");
  assert.deepEqual(t.calls, ["udp 1"]);
});

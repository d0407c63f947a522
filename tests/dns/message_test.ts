// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  AllowList,
  buildZone,
  decodeMessage,
  DnsFormatError,
  DnsHandler,
  type DnsMessageInit,
  encodeMessage,
  encodingLength,
  frameTcp,
  Rcode,
  RRType,
} from "../../lib/dns/mod.ts";
import { scanMessage } from "../../lib/dns/scan.ts";
import { FastQuery, parseFastQuery, skipName } from "../../lib/dns/wire.ts";
import { testSnapshot } from "./_fixtures.ts";

/** Round trip: encode → decode → re-encode; lengths agree; offset decoding. */
function roundTrip(m: DnsMessageInit): void {
  const bytes = encodeMessage(m);
  assert.equal(bytes.length, encodingLength(m));
  const { value, bytesRead } = decodeMessage(bytes);
  assert.equal(bytesRead, bytes.length);
  const again = encodeMessage(value);
  assert.deepEqual(again, bytes);
  const padded = new Uint8Array(bytes.length + 10);
  padded.set(bytes, 10);
  const atOffset = decodeMessage(padded, 10);
  assert.deepEqual(atOffset.value, value);
}

const base = { name: "x.example", class: 1, ttl: 30 };

Deno.test("encodeMessage()/decodeMessage() round-trip every record type we use", async (t) => {
  const cases: [string, DnsMessageInit][] = [
    ["query", { id: 1, recursionDesired: true, questions: [{ name: "a.b", type: 1, class: 1 }] }],
    ["root question", { id: 2, questions: [{ name: "", type: RRType.NS, class: 1 }] }],
    [
      "A and AAAA",
      {
        id: 3,
        response: true,
        authoritative: true,
        answers: [
          { ...base, type: "A", address: "10.0.0.1" },
          { ...base, type: "AAAA", address: "fd00::1" },
        ],
      },
    ],
    [
      "CNAME PTR NS",
      {
        id: 4,
        response: true,
        answers: [
          { ...base, type: "CNAME", target: "y.example" },
          { ...base, type: "PTR", target: "z.example" },
          { ...base, type: "NS", target: "ns.example" },
        ],
      },
    ],
    [
      "SRV and TXT",
      {
        id: 5,
        response: true,
        answers: [
          { ...base, type: "SRV", priority: 1, weight: 2, port: 3, target: "t.example" },
          { ...base, type: "TXT", texts: ["1.0.1", "two"] },
        ],
      },
    ],
    [
      "SOA in authority, NXDOMAIN",
      {
        id: 6,
        response: true,
        rcode: Rcode.NXDOMAIN,
        authorities: [{
          ...base,
          type: "SOA",
          mname: "ns.dns.cluster.local",
          rname: "hostmaster.cluster.local",
          serial: 7,
          refresh: 1,
          retry: 2,
          expire: 3,
          minimum: 5,
        }],
      },
    ],
    [
      "unknown type kept raw",
      {
        id: 7,
        response: true,
        answers: [{ ...base, type: "RAW", code: 65280, data: new Uint8Array([1, 2, 3]) }],
      },
    ],
    [
      "EDNS with DO and an option",
      {
        id: 8,
        questions: [{ name: "a", type: 1, class: 1 }],
        edns: {
          udpPayloadSize: 1232,
          version: 0,
          dnssecOk: true,
          options: [{ code: 65001, data: new Uint8Array([9]) }],
        },
      },
    ],
    [
      "BADVERS (extended rcode)",
      {
        id: 9,
        response: true,
        rcode: Rcode.BADVERS,
        edns: { udpPayloadSize: 1232, version: 0, dnssecOk: false },
      },
    ],
    [
      "every flag",
      {
        id: 0xffff,
        response: true,
        opcode: 0,
        authoritative: true,
        truncated: true,
        recursionDesired: true,
        recursionAvailable: true,
        authenticData: true,
        checkingDisabled: true,
        rcode: Rcode.REFUSED,
      },
    ],
  ];
  for (const [name, m] of cases) await t.step(name, () => roundTrip(m));
});

Deno.test("encodeMessage() rejects an extended rcode without EDNS", () => {
  assert.throws(() => encodeMessage({ id: 1, rcode: 16 }), RangeError);
});

Deno.test("frameTcp() prefixes the length", () => {
  assert.deepEqual(frameTcp(new Uint8Array([7, 8, 9])), new Uint8Array([0, 3, 7, 8, 9]));
});

function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): number[] {
  return [id >> 8, id & 0xff, flags >> 8, flags & 0xff, 0, qd, 0, an, 0, ns, 0, ar];
}

/**
 * A response whose second record's owner is a pointer to the end of a chain of `n` pointers
 * (each to the one before, the first to the question's `a`), kept in the first record's data:
 * that name follows n + 1 pointers.
 */
function pointerChain(id: number, n: number): number[] {
  const chain = Array.from({ length: n }, (_, i) => i === 0 ? 12 : 30 + 2 * (i - 1));
  const last = 30 + 2 * (n - 1);
  return [
    ...header(id, 0x8000, 1, 2),
    ...[1, 0x61, 0, 0, 1, 0, 1], // a. A IN, offsets 12-18
    ...[0, 0, 99, 0, 1, 0, 0, 0, 0, (2 * n) >> 8, (2 * n) & 0xff], // type 99, data at 30
    ...chain.flatMap((t) => [0xc0 | (t >> 8), t & 0xff]),
    ...[0xc0 | (last >> 8), last & 0xff, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4],
  ];
}

Deno.test("a name may follow 127 compression pointers, not 128 (codec and scanMessage alike)", () => {
  const ok = new Uint8Array(pointerChain(1, 126));
  const m = decodeMessage(ok).value;
  assert.deepEqual(m.answers.map((r) => r.name), ["", "a"]);
  assert.ok(scanMessage(ok));
  const bad = new Uint8Array(pointerChain(1, 127));
  assert.throws(() => decodeMessage(bad), /has more than 127 compression pointers/);
  assert.equal(scanMessage(bad), null);
  // As a client's query (over TCP it may be 64 KiB): FORMERR.
  bad[2] = 0;
  const r = handler().handle(bad, "192.0.2.1", true);
  assert.ok(r instanceof Uint8Array);
  assert.equal(r[3]! & 0xf, Rcode.FORMERR);
});

Deno.test("decodeMessage() throws DnsFormatError with the ID when the header is readable", async (t) => {
  const bad: [string, number[], number | null][] = [
    ["shorter than a header", [1, 2, 3], null],
    ["question missing", header(0x0102, 0, 1), 0x0102],
    ["name runs past the end", [...header(5, 0, 1), 10, 97, 98], 5],
    ["reserved label type 0x40", [...header(6, 0, 1), 0x41, 0, 0, 1, 0, 1], 6],
    ["compression loop (pointer to itself)", [...header(7, 0, 1), 0xc0, 12, 0, 1, 0, 1], 7],
    ["forward pointer", [...header(8, 0, 1), 0xc0, 20, 0, 1, 0, 1, 0, 0, 0, 0], 8],
    ["a name through 128 compression pointers", pointerChain(11, 127), 11],
    [
      "two pointers forming a loop",
      [...header(9, 0, 2), 0xc0, 18, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1],
      9,
    ],
    ["name longer than 255", [
      ...header(10, 0, 1),
      ...Array(5).fill([63, ...Array(63).fill(97)]).flat(),
      0,
      0,
      1,
      0,
      1,
    ], 10],
    ["answer count larger than the records", header(11, 0x8000, 0, 3), 11],
  ];
  for (const [name, bytes, id] of bad) {
    await t.step(name, () => {
      assert.throws(() => decodeMessage(new Uint8Array(bytes)), (err: unknown) => {
        assert.ok(err instanceof DnsFormatError);
        assert.ok(err instanceof SyntaxError);
        assert.equal(err.name, "DnsFormatError");
        assert.equal(err.id, id);
        assert.match(err.message, /^Cannot decode DNS message: /);
        return true;
      });
    });
  }
});

Deno.test("skipName() survives compression loops and scanMessage() rejects them", () => {
  const loop = new Uint8Array([
    ...header(7, 0x8000, 1, 1),
    0xc0,
    12,
    0,
    1,
    0,
    1,
    0xc0,
    12,
    0,
    1,
    0,
    1,
    0,
    0,
    0,
    5,
    0,
    4,
    1,
    2,
    3,
    4,
  ]);
  assert.equal(skipName(loop, 12, loop.length), 14);
  // The question's name is a pointer to itself: a client decoder would loop or give up.
  assert.equal(scanMessage(loop), null);
  // The same answer with the name spelled out (`a`), the answer's owner pointing to it.
  const fine = new Uint8Array([...loop.slice(0, 12), 1, 0x61, 0, ...loop.slice(14)]);
  const scan = scanMessage(fine);
  assert.ok(scan);
  assert.equal(scan.minAnswerTtl, 5);
  assert.equal(scan.end, fine.length);
  assert.equal(scanMessage(new Uint8Array([...header(1, 0x8000, 1), 0x80])), null);
});

function handler(fastPath = true): DnsHandler {
  return new DnsHandler({
    zone: buildZone(testSnapshot()),
    allow: new AllowList(["127.0.0.0/8"], { nodeAddresses: () => [] }),
    fastPath,
  });
}

function sync(r: ReturnType<DnsHandler["handle"]>): Uint8Array | null {
  assert.ok(!(r instanceof Promise), "expected a synchronous answer");
  return r;
}

Deno.test("DnsHandler fast path answers exactly like the slow path", async (t) => {
  const fast = handler(true);
  const slow = handler(false);
  const names = [
    "nginx.default.svc.cluster.local",
    "NGINX.DEFAULT.SVC.CLUSTER.LOCAL.",
    "nginx",
    "nginx.default",
    "nginx.default.svc",
    "db.default.svc.cluster.local",
    "db-0.db.default.svc.cluster.local",
    "10-1-0-7.db.default.svc.cluster.local",
    "api.prod",
    "missing.default.svc.cluster.local",
    "10-0-0-1.default.pod.cluster.local",
  ];
  const ednsVariants = [
    null,
    { udpPayloadSize: 512, version: 0, dnssecOk: false },
    { udpPayloadSize: 4096, version: 0, dnssecOk: true },
  ];
  const out = new Uint8Array(65536);
  const fq = new FastQuery();
  for (const name of names) {
    for (const edns of ednsVariants) {
      for (const rd of [true, false]) {
        await t.step(`${name} edns=${edns?.udpPayloadSize ?? "none"} rd=${rd}`, () => {
          const q = encodeMessage({
            id: 4242,
            recursionDesired: rd,
            questions: [{ name, type: RRType.A, class: 1 }],
            edns,
          });
          assert.ok(parseFastQuery(q, q.length, fq), "the common shape parses on the fast path");
          const a = sync(fast.handle(q, "127.0.0.1", false, out));
          const b = sync(slow.handle(q, "127.0.0.1", false));
          assert.ok(a && b);
          assert.deepEqual(decodeMessage(a).value, decodeMessage(b).value);
        });
      }
    }
  }
});

Deno.test("DnsHandler answers malformed and unusual packets per RFC 1035", async (t) => {
  const h = handler();
  const cases: [string, number[] | Uint8Array, number | null][] = [
    ["too short: dropped", [1, 2, 3, 4, 5], null],
    ["a response (QR=1): dropped", [...header(1, 0x8000, 0)], null],
    ["zero questions: FORMERR", header(2, 0x0100, 0), Rcode.FORMERR],
    [
      "two questions: FORMERR",
      encodeMessage({
        id: 3,
        questions: [{ name: "a", type: 1, class: 1 }, { name: "b", type: 1, class: 1 }],
      }),
      Rcode.FORMERR,
    ],
    ["truncated question: FORMERR", [...header(4, 0, 1), 3, 97], Rcode.FORMERR],
    ["compression loop: FORMERR", [...header(5, 0, 1), 0xc0, 12, 0, 1, 0, 1], Rcode.FORMERR],
    [
      "opcode NOTIFY: NOTIMP",
      encodeMessage({ id: 6, opcode: 4, questions: [{ name: "nginx", type: 1, class: 1 }] }),
      Rcode.NOTIMP,
    ],
    [
      "two OPT records: FORMERR",
      [
        ...header(7, 0, 1, 0, 0, 2),
        ...[1, 97, 0, 0, 1, 0, 1],
        ...[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0],
        ...[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0],
      ],
      Rcode.FORMERR,
    ],
    ["oversize garbage: FORMERR", new Uint8Array(70000).fill(0x41), Rcode.FORMERR],
  ];
  for (const [name, bytes, want] of cases) {
    await t.step(name, () => {
      const q = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
      const r = sync(h.handle(q, "127.0.0.1", false));
      if (want === null) {
        assert.equal(r, null);
        return;
      }
      assert.ok(r);
      const a = decodeMessage(r).value;
      assert.equal(a.rcode, want);
      assert.equal(a.id, (q[0]! << 8) | q[1]!);
      assert.equal(a.response, true);
    });
  }
});

Deno.test("DnsHandler echoes the question on NOTIMP and copies RD", () => {
  const q = encodeMessage({
    id: 9,
    opcode: 5,
    recursionDesired: true,
    questions: [{ name: "Nginx", type: 1, class: 1 }],
  });
  const a = decodeMessage(
    sync(new DnsHandler({ zone: buildZone(testSnapshot()) }).handle(q, "127.0.0.1", false))!,
  ).value;
  assert.equal(a.rcode, Rcode.NOTIMP);
  assert.equal(a.recursionDesired, true);
  assert.equal(a.opcode, 5);
  assert.deepEqual(a.questions, [{ name: "Nginx", type: 1, class: 1 }]);
});

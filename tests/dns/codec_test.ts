// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The DNS codec against hand-computed wire messages (RFC 1035 §4.1, RFC 2782, RFC 3596,
 * RFC 6891, RFC 2308), the text form of names, malformed input and values that do not fit.
 */
import assert from "node:assert/strict";
import {
  decodeMessage,
  DnsFormatError,
  type DnsMessage,
  type DnsMessageInit,
  encodeMessage,
  encodingLength,
  Rcode,
  RRType,
  typeToString,
} from "../../lib/dns/mod.ts";
import { scaled } from "../_helpers/emulation.ts";
import { prng } from "../_helpers/prng.ts";

/** Bytes from hex with spaces and `|` as separators, so vectors read field by field. */
function hex(s: string): Uint8Array {
  const digits = s.replace(/[\s|]/g, "");
  return new Uint8Array(digits.match(/../g)!.map((h) => parseInt(h, 16)));
}

/** The wire form of a name from its labels (strings are ASCII, arrays raw octets). */
function wireName(...labels: (string | number[])[]): number[] {
  const out: number[] = [];
  for (const l of labels) {
    const octets = typeof l === "string" ? [...l].map((c) => c.charCodeAt(0)) : l;
    out.push(octets.length, ...octets);
  }
  return [...out, 0];
}

function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): number[] {
  return [id >> 8, id & 0xff, flags >> 8, flags & 0xff, 0, qd, 0, an, 0, ns, 0, ar];
}

/** A message that is one question for `name` (wire octets), type A, class IN. */
function questionFor(name: number[]): Uint8Array {
  return new Uint8Array([...header(1, 0, 1), ...name, 0, 1, 0, 1]);
}

Deno.test("encodeMessage() writes hand-computed wire messages byte for byte", async (t) => {
  const ttl = { class: 1, ttl: 5 };
  const cases: [string, DnsMessageInit, string][] = [
    [
      "query: header, RD, one question (RFC 1035 §4.1.1-4.1.2)",
      {
        id: 0x1234,
        recursionDesired: true,
        questions: [{ name: "example.com", type: RRType.A, class: 1 }],
      },
      "1234 0100 0001 0000 0000 0000 | 07 6578616d706c65 03 636f6d 00 | 0001 0001",
    ],
    [
      "answer: QR AA RD RA, an A record (RFC 1035 §3.4.1, §4.1.3)",
      {
        id: 0xabcd,
        response: true,
        authoritative: true,
        recursionDesired: true,
        recursionAvailable: true,
        questions: [{ name: "a.b", type: RRType.A, class: 1 }],
        answers: [{ type: "A", name: "a.b", class: 1, ttl: 300, address: "10.0.0.1" }],
      },
      "abcd 8580 0001 0001 0000 0000 | 01 61 01 62 00 0001 0001 |" +
      " 01 61 01 62 00 0001 0001 0000012c 0004 0a000001",
    ],
    [
      "SRV (RFC 2782) with AAAA glue (RFC 3596)",
      {
        id: 7,
        response: true,
        authoritative: true,
        answers: [{
          type: "SRV",
          name: "_x._tcp.s",
          ...ttl,
          priority: 10,
          weight: 5,
          port: 8080,
          target: "s",
        }],
        additionals: [{ type: "AAAA", name: "s", ...ttl, address: "2001:db8::1" }],
      },
      "0007 8400 0000 0001 0000 0001 |" +
      " 02 5f78 04 5f746370 01 73 00 0021 0001 00000005 0009 000a 0005 1f90 01 73 00 |" +
      " 01 73 00 001c 0001 00000005 0010 20010db8000000000000000000000001",
    ],
    [
      "NXDOMAIN with the zone SOA in authority (RFC 2308 §3, RFC 1035 §3.3.13)",
      {
        id: 9,
        response: true,
        authoritative: true,
        rcode: Rcode.NXDOMAIN,
        questions: [{ name: "x.c", type: RRType.A, class: 1 }],
        authorities: [{
          type: "SOA",
          name: "c",
          ...ttl,
          mname: "ns.c",
          rname: "h.c",
          serial: 1,
          refresh: 3600,
          retry: 600,
          expire: 604800,
          minimum: 5,
        }],
      },
      "0009 8403 0001 0000 0001 0000 | 01 78 01 63 00 0001 0001 |" +
      " 01 63 00 0006 0001 00000005 001f 02 6e73 01 63 00 01 68 01 63 00" +
      " 00000001 00000e10 00000258 00093a80 00000005",
    ],
    [
      "EDNS0 OPT with DO and an option (RFC 6891 §6.1.2, RFC 3225)",
      {
        id: 0x0102,
        recursionDesired: true,
        questions: [{ name: "a", type: RRType.A, class: 1 }],
        edns: {
          udpPayloadSize: 1232,
          version: 0,
          dnssecOk: true,
          options: [{ code: 10, data: hex("0102030405060708") }],
        },
      },
      "0102 0100 0001 0000 0000 0001 | 01 61 00 0001 0001 |" +
      " 00 0029 04d0 00 00 8000 000c 000a 0008 0102030405060708",
    ],
    [
      "BADVERS: the upper RCODE bits go into OPT (RFC 6891 §6.1.3)",
      {
        id: 5,
        response: true,
        rcode: Rcode.BADVERS,
        edns: { udpPayloadSize: 1232, version: 0, dnssecOk: false },
      },
      "0005 8000 0000 0000 0000 0001 | 00 0029 04d0 01 00 0000 0000",
    ],
    [
      "TXT (RFC 1035 §3.3.14), CNAME, PTR and a raw unknown type (RFC 3597)",
      {
        id: 3,
        response: true,
        answers: [
          { type: "TXT", name: "t", class: 1, ttl: 60, texts: ["v=1", ""] },
          { type: "CNAME", name: "c", class: 1, ttl: 60, target: "t" },
          { type: "PTR", name: "p", class: 1, ttl: 60, target: "c" },
          { type: "RAW", name: "r", class: 1, ttl: 60, code: 65280, data: hex("beef") },
        ],
      },
      "0003 8000 0000 0004 0000 0000 |" +
      " 01 74 00 0010 0001 0000003c 0005 03 763d31 00 |" +
      " 01 63 00 0005 0001 0000003c 0003 01 74 00 |" +
      " 01 70 00 000c 0001 0000003c 0003 01 63 00 |" +
      " 01 72 00 ff00 0001 0000003c 0002 beef",
    ],
    [
      "the root name, an absolute name and escapes (RFC 1035 §5.1)",
      {
        id: 1,
        questions: [
          { name: "", type: RRType.NS, class: 1 },
          { name: "a.b.", type: RRType.A, class: 1 },
          { name: "a\\.b\\\\\\032", type: RRType.A, class: 1 },
        ],
      },
      "0001 0000 0003 0000 0000 0000 | 00 0002 0001 | 01 61 01 62 00 0001 0001 |" +
      " 05 612e625c20 00 0001 0001",
    ],
  ];
  for (const [name, init, want] of cases) {
    await t.step(name, () => {
      const bytes = encodeMessage(init);
      assert.deepEqual(bytes, hex(want));
      assert.equal(encodingLength(init), bytes.length);
    });
  }
});

Deno.test("decodeMessage() reads a compressed answer (RFC 1035 §4.1.4)", () => {
  const www = wireName("www", "example", "com"); // at offset 12; "example" at 16
  const bytes = new Uint8Array([
    ...header(0x0a0b, 0x8180, 1, 2),
    ...www,
    ...[0, 1, 0, 1],
    // CNAME at 33: owner → 12; target "web" + pointer to "example.com" (its RDATA starts at 45)
    ...[0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 6, 3, 0x77, 0x65, 0x62, 0xc0, 16],
    // A at 51: owner → 45 ("web.example.com")
    ...[0xc0, 45, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1],
    ...[0xde, 0xad], // trailing octets: not part of the message
  ]);
  const { value, bytesRead } = decodeMessage(bytes);
  assert.equal(bytesRead, 67);
  const want: DnsMessage = {
    id: 0x0a0b,
    response: true,
    opcode: 0,
    authoritative: false,
    truncated: false,
    recursionDesired: true,
    recursionAvailable: true,
    authenticData: false,
    checkingDisabled: false,
    rcode: 0,
    questions: [{ name: "www.example.com", type: 1, class: 1 }],
    answers: [
      { type: "CNAME", name: "www.example.com", class: 1, ttl: 3600, target: "web.example.com" },
      { type: "A", name: "web.example.com", class: 1, ttl: 3600, address: "192.0.2.1" },
    ],
    authorities: [],
    additionals: [],
    edns: null,
  };
  assert.deepEqual(value, want);
  // We write names uncompressed; the result decodes to the same message.
  const again = encodeMessage(value);
  assert.equal(again.length, 12 + 21 + 2 * (17 + 10) + 17 + 4);
  assert.deepEqual(decodeMessage(again).value, want);
});

Deno.test("decodeMessage() reads EDNS0 and the extended RCODE (RFC 6891)", () => {
  const bytes = hex(
    "0005 8000 0000 0000 0000 0001 | 00 0029 1000 01 00 8000 0008 000a 0004 01020304",
  );
  const { value } = decodeMessage(bytes);
  assert.equal(value.rcode, Rcode.BADVERS);
  assert.deepEqual(value.edns, {
    udpPayloadSize: 4096,
    extendedRcode: 1,
    version: 0,
    dnssecOk: true,
    options: [{ code: 10, data: hex("01020304") }],
  });
  assert.deepEqual(value.additionals, []);
});

Deno.test("names keep every octet through decode and encode (RFC 1035 §5.1 escapes)", async (t) => {
  const utf8 = [...new TextEncoder().encode("bücher")];
  const cases: [string, number[], string][] = [
    ["ordinary host name, case kept", wireName("Web-1", "_tcp", "x"), "Web-1._tcp.x"],
    ["a dot inside a label", wireName("a.b", "c"), "a\\.b.c"],
    ["a backslash inside a label", wireName("a\\b"), "a\\\\b"],
    ["controls, space and DEL", wireName([0, 0x20, 0x78, 0x7f]), "\\000\\032x\\127"],
    ["valid UTF-8 stays readable", wireName(utf8, "de"), "bücher.de"],
    ["UTF-8 with a dot", wireName([0xc3, 0xbc, 0x2e, 0x78]), "ü\\.x"],
    ["not UTF-8: octets escaped", wireName([0xff, 0xfe, 0x41]), "\\255\\254A"],
    ["the root", [0], ""],
  ];
  for (const [name, wire, text] of cases) {
    await t.step(name, () => {
      const bytes = questionFor(wire);
      const q = decodeMessage(bytes).value.questions[0]!;
      assert.equal(q.name, text);
      assert.deepEqual(encodeMessage({ id: 1, questions: [q] }), bytes);
    });
  }
  await t.step("other spellings encode to the same octets", () => {
    const spellings: [string, number[]][] = [
      ["a.b.", wireName("a", "b")],
      [".", [0]],
      ["\\a\\.b", wireName("a.b")],
      ["\\097", wireName("a")],
      ["😀", wireName([0xf0, 0x9f, 0x98, 0x80])],
    ];
    for (const [text, wire] of spellings) {
      assert.deepEqual(
        encodeMessage({ id: 1, questions: [{ name: text, type: 1, class: 1 }] }),
        questionFor(wire),
        text,
      );
    }
  });
});

Deno.test("decodeMessage() rejects malformed messages with DnsFormatError", async (t) => {
  const q = [1, 0x61, 0, 0, 1, 0, 1]; // question "a" A IN
  const rr = (type: number, data: number[], rdlength = data.length) => [
    0,
    type >> 8,
    type & 0xff,
    0,
    1,
    0,
    0,
    0,
    5,
    rdlength >> 8,
    rdlength & 0xff,
    ...data,
  ];
  const cases: [string, number[] | Uint8Array, number | null, RegExp][] = [
    ["shorter than a header", [1, 2, 3], null, /shorter than a header/],
    ["too large", new Uint8Array(65536), 0, /65536 bytes is too large/],
    ["question missing", header(0x0102, 0, 1), 0x0102, /name at offset 12 runs past the end/],
    ["label runs past the end", [...header(5, 0, 1), 10, 97, 98], 5, /runs past the end/],
    ["question without type and class", [...header(5, 0, 1), 0, 0, 1], 5, /type and class/],
    ["reserved label type 0x40", [...header(6, 0, 1), 0x41, 0, 0, 1, 0, 1], 6, /label type 0x40/],
    ["reserved label type 0x80", [...header(6, 0, 1), 0x81, 0, 0, 1, 0, 1], 6, /label type 0x80/],
    ["pointer cut short", [...header(6, 0, 1), 0xc0], 6, /runs past the end/],
    ["pointer to itself", [...header(7, 0, 1), 0xc0, 12, 0, 1, 0, 1], 7, /not point backwards/],
    [
      "forward pointer",
      [...header(8, 0, 1), 0xc0, 18, 0, 1, 0, 1, 1, 97, 0],
      8,
      /not point backwards/,
    ],
    [
      "two pointers forming a loop",
      [...header(9, 0, 2), 0xc0, 18, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1],
      9,
      /not point backwards/,
    ],
    [
      "pointer back into the middle of the same name",
      [...header(9, 0, 1), 1, 97, 0xc0, 12, 0, 1, 0, 1],
      9,
      /not point backwards/,
    ],
    [
      "name longer than 255 octets",
      [...header(10, 0, 1), ...Array(5).fill([63, ...Array(63).fill(97)]).flat(), 0, 0, 1, 0, 1],
      10,
      /longer than 255 octets/,
    ],
    ["answer count larger than the records", header(11, 0x8000, 0, 3), 11, /runs past the end/],
    ["record header cut short", [...header(12, 0x8000, 0, 1), 0, 0, 1, 0], 12, /record header/],
    [
      "RDLENGTH past the end",
      [...header(13, 0x8000, 0, 1), ...rr(1, [1, 2, 3, 4], 9)],
      13,
      /A record data at offset \d+ runs past the end/,
    ],
    ["A of 3 octets", [...header(14, 0x8000, 0, 1), ...rr(1, [1, 2, 3])], 14, /expected 4/],
    ["AAAA of 4 octets", [...header(15, 0x8000, 0, 1), ...rr(28, [1, 2, 3, 4])], 15, /expected 16/],
    [
      "CNAME with octets after the name",
      [...header(16, 0x8000, 0, 1), ...rr(5, [1, 97, 0, 9])],
      16,
      /CNAME record data at offset \d+ has 1 octets left over/,
    ],
    [
      "PTR name running past RDLENGTH",
      [...header(17, 0x8000, 0, 1), ...rr(12, [1, 97, 0], 2), 0],
      17,
      /name at offset \d+ runs past the end/,
    ],
    ["SRV of 5 octets", [...header(18, 0x8000, 0, 1), ...rr(33, [0, 1, 0, 2, 0])], 18, /SRV/],
    [
      "SOA without its numbers",
      [...header(19, 0x8000, 0, 1), ...rr(6, [0, 0, 0, 0, 0, 1])],
      19,
      /SOA record data/,
    ],
    [
      "TXT string past RDLENGTH",
      [...header(20, 0x8000, 0, 1), ...rr(16, [5, 97, 98])],
      20,
      /TXT character-string/,
    ],
    [
      "OPT option past RDLENGTH",
      [...header(21, 0, 1, 0, 0, 1), ...q, 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 6, 0, 10, 0, 8, 1, 2],
      21,
      /OPT option data/,
    ],
    [
      "two OPT records",
      [
        ...header(22, 0, 1, 0, 0, 2),
        ...q,
        ...[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0],
        ...[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0],
      ],
      22,
      /more than one OPT record/,
    ],
    [
      "OPT owner is not the root",
      [...header(23, 0, 1, 0, 0, 1), ...q, 1, 97, 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0],
      23,
      /OPT owner is not the root/,
    ],
  ];
  for (const [name, bytes, id, message] of cases) {
    await t.step(name, () => {
      const input = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
      assert.throws(() => decodeMessage(input), (err: unknown) => {
        assert.ok(err instanceof DnsFormatError, String(err));
        assert.ok(err instanceof SyntaxError);
        assert.equal(err.name, "DnsFormatError");
        assert.equal(err.id, id);
        assert.match(err.message, /^Cannot decode DNS message: /);
        assert.match(err.message, message);
        return true;
      });
    });
  }
});

Deno.test("encodeMessage() rejects values that do not fit with RangeError", async (t) => {
  const a = { type: "A" as const, name: "a", class: 1, ttl: 5, address: "10.0.0.1" };
  const cases: [string, DnsMessageInit, RegExp][] = [
    ["id above 16 bits", { id: 65536 }, /id is 65536, out of range 0-65535/],
    ["negative id", { id: -1 }, /id is -1/],
    ["opcode above 4 bits", { id: 1, opcode: 16 }, /opcode is 16/],
    ["extended rcode without EDNS", { id: 1, rcode: 16 }, /rcode 16 needs an OPT record/],
    [
      "rcode above 12 bits",
      { id: 1, rcode: 4096, edns: { udpPayloadSize: 512, version: 0, dnssecOk: false } },
      /rcode is 4096/,
    ],
    ["ttl above 32 bits", { id: 1, answers: [{ ...a, ttl: 2 ** 32 }] }, /ttl of "a" is 4294967296/],
    ["fractional ttl", { id: 1, answers: [{ ...a, ttl: 1.5 }] }, /ttl of "a" is 1.5/],
    ["class above 16 bits", { id: 1, answers: [{ ...a, class: 65536 }] }, /class of "a"/],
    ["not an IPv4 address", { id: 1, answers: [{ ...a, address: "10.0.0" }] }, /not an IPv4/],
    [
      "not an IPv6 address",
      { id: 1, answers: [{ ...a, type: "AAAA", address: "fd00::1::2" }] },
      /not an IPv6/,
    ],
    [
      "label over 63 octets",
      { id: 1, questions: [{ name: "a".repeat(64), type: 1, class: 1 }] },
      /label longer than 63 octets/,
    ],
    [
      "name over 255 octets",
      { id: 1, questions: [{ name: Array(5).fill("a".repeat(60)).join("."), type: 1, class: 1 }] },
      /longer than 255 octets/,
    ],
    ["empty label", { id: 1, questions: [{ name: "a..b", type: 1, class: 1 }] }, /empty label/],
    ["leading dot", { id: 1, questions: [{ name: ".a", type: 1, class: 1 }] }, /empty label/],
    ["lone backslash", { id: 1, questions: [{ name: "a\\", type: 1, class: 1 }] }, /backslash/],
    ["escape above 255", { id: 1, questions: [{ name: "\\256", type: 1, class: 1 }] }, /\\256/],
    ["question type above 16 bits", {
      id: 1,
      questions: [{ name: "a", type: 65536, class: 1 }],
    }, /question type/],
    [
      "SRV port above 16 bits",
      {
        id: 1,
        answers: [{ ...a, type: "SRV", priority: 0, weight: 0, port: 65536, target: "t" }],
      },
      /SRV port of "a"/,
    ],
    [
      "TXT string over 255 octets",
      { id: 1, answers: [{ ...a, type: "TXT", texts: ["x".repeat(256)] }] },
      /character-string of 256 octets/,
    ],
    [
      "SOA serial above 32 bits",
      {
        id: 1,
        answers: [{
          ...a,
          type: "SOA",
          mname: "m",
          rname: "r",
          serial: 2 ** 32,
          refresh: 0,
          retry: 0,
          expire: 0,
          minimum: 0,
        }],
      },
      /SOA serial of "a"/,
    ],
    [
      "raw RDATA over 65535 octets",
      { id: 1, answers: [{ ...a, type: "RAW", code: 65280, data: new Uint8Array(65536) }] },
      /record data of "a" is 65536 octets/,
    ],
    [
      "EDNS payload size above 16 bits",
      { id: 1, edns: { udpPayloadSize: 65536, version: 0, dnssecOk: false } },
      /EDNS UDP payload size/,
    ],
    [
      "EDNS version above 8 bits",
      { id: 1, edns: { udpPayloadSize: 512, version: 256, dnssecOk: false } },
      /EDNS version/,
    ],
    [
      "message over 65535 bytes",
      {
        id: 1,
        answers: Array.from(
          { length: 300 },
          () => ({ ...a, type: "TXT", texts: ["x".repeat(255)] }),
        ),
      },
      /bytes is too large/,
    ],
  ];
  for (const [name, init, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => encodeMessage(init), (err: unknown) => {
        assert.ok(err instanceof RangeError, String(err));
        assert.match(err.message, /^Cannot encode DNS message: /);
        assert.match(err.message, message);
        return true;
      });
    });
  }
});

Deno.test("decode → encode → decode is stable for mutated messages", () => {
  const seeds = [
    encodeMessage({
      id: 1,
      recursionDesired: true,
      questions: [{ name: "nginx.default.svc.cluster.local", type: RRType.A, class: 1 }],
      edns: { udpPayloadSize: 1232, version: 0, dnssecOk: true },
    }),
    encodeMessage({
      id: 2,
      response: true,
      answers: [
        { type: "A", name: "a.b", class: 1, ttl: 5, address: "1.2.3.4" },
        { type: "AAAA", name: "a.b", class: 1, ttl: 5, address: "fd00::1" },
        {
          type: "SRV",
          name: "_p._tcp.b",
          class: 1,
          ttl: 5,
          priority: 1,
          weight: 2,
          port: 3,
          target: "a.b",
        },
        { type: "TXT", name: "t.b", class: 1, ttl: 5, texts: ["x=1", "yz"] },
        { type: "PTR", name: "4.3.2.1.in-addr.arpa", class: 1, ttl: 5, target: "a.b" },
        {
          type: "RAW",
          name: "r.b",
          class: 1,
          ttl: 5,
          code: 15,
          data: new Uint8Array([0, 10, 1, 97, 0]),
        },
      ],
      authorities: [{
        type: "SOA",
        name: "b",
        class: 1,
        ttl: 5,
        mname: "ns.b",
        rname: "h.b",
        serial: 1,
        refresh: 2,
        retry: 3,
        expire: 4,
        minimum: 5,
      }],
    }),
  ];
  const rnd = prng(0xc0dec);
  const int = (n: number) => Math.floor(rnd() * n);
  let decoded = 0;
  for (let i = 0; i < scaled(20_000); i++) {
    const p = seeds[int(seeds.length)]!.slice();
    const flips = 1 + int(4);
    for (let f = 0; f < flips; f++) p[int(p.length)] = int(256);
    let value: DnsMessage;
    try {
      value = decodeMessage(p).value;
    } catch (err) {
      assert.ok(err instanceof DnsFormatError, String(err));
      continue;
    }
    decoded++;
    let again: Uint8Array;
    try {
      again = encodeMessage(value);
    } catch (err) {
      // Invalid UTF-8 in a TXT string becomes U+FFFD (3 octets) and may no longer fit.
      assert.ok(err instanceof RangeError && /character-string/.test(err.message), String(err));
      continue;
    }
    assert.deepEqual(decodeMessage(again).value, value);
  }
  assert.ok(decoded > scaled(5_000), `decoded ${decoded}`);
});

Deno.test("typeToString() names IANA types and spells the rest UNKNOWN_<code>", () => {
  assert.equal(typeToString(RRType.A), "A");
  assert.equal(typeToString(RRType.SRV), "SRV");
  assert.equal(typeToString(65), "HTTPS");
  assert.equal(typeToString(65280), "UNKNOWN_65280");
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import { scaled } from "../_helpers/emulation.ts";
import assert from "node:assert/strict";
import {
  AllowList,
  buildZone,
  decodeMessage,
  DnsHandler,
  DnsServer,
  encodeMessage,
  Rcode,
  RRType,
} from "../../lib/dns/mod.ts";
import { memoryLogger } from "../../lib/log/mod.ts";
import { ptr, rr, testSnapshot, wireName } from "./_fixtures.ts";
import { scanMessage } from "../../lib/dns/scan.ts";
import { prng } from "../_helpers/prng.ts";

const SEEDS = [
  encodeMessage({
    id: 1,
    recursionDesired: true,
    questions: [{ name: "nginx.default.svc.cluster.local", type: RRType.A, class: 1 }],
  }),
  encodeMessage({
    id: 2,
    questions: [{ name: "_pg._tcp.db.default.svc.cluster.local", type: RRType.SRV, class: 1 }],
    edns: { udpPayloadSize: 1232, version: 0, dnssecOk: true },
  }),
  encodeMessage({
    id: 3,
    questions: [{ name: "2.0.251.9.in-addr.arpa", type: RRType.PTR, class: 1 }],
  }),
  encodeMessage({
    id: 4,
    response: true,
    questions: [{ name: "x.cluster.local", type: RRType.A, class: 1 }],
    answers: [{ type: "A", name: "x.cluster.local", class: 1, ttl: 5, address: "1.2.3.4" }],
    authorities: [{
      type: "SOA",
      name: "cluster.local",
      class: 1,
      ttl: 5,
      mname: "a",
      rname: "b",
      serial: 1,
      refresh: 2,
      retry: 3,
      expire: 4,
      minimum: 5,
    }],
  }),
];

/** Random bytes, or a seed with a few bytes flipped, truncated, extended or spliced. */
function* packets(count: number, seed: number): Generator<Uint8Array> {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  for (let i = 0; i < count; i++) {
    const kind = int(5);
    if (kind === 0) {
      const p = new Uint8Array(int(600));
      for (let j = 0; j < p.length; j++) p[j] = int(256);
      yield p;
      continue;
    }
    const src = SEEDS[int(SEEDS.length)]!;
    let p = src.slice();
    const flips = 1 + int(6);
    for (let f = 0; f < flips; f++) p[int(p.length)] = int(256);
    if (kind === 2) p = p.slice(0, int(p.length + 1));
    if (kind === 3) {
      const extra = new Uint8Array(p.length + int(40));
      extra.set(p);
      for (let j = p.length; j < extra.length; j++) extra[j] = int(256);
      p = extra;
    }
    if (kind === 4 && p.length > 14) {
      // plant a compression pointer somewhere in the names
      const at = 12 + int(p.length - 13);
      p[at] = 0xc0 | int(0x40);
      p[at + 1] = int(256);
    }
    // Keep most packets queries so they reach deep code.
    if (p.length > 2 && rnd() < 0.8) p[2]! &= 0x7f;
    yield p;
  }
}

function check(h: DnsHandler): void {
  const q = encodeMessage({
    id: 99,
    questions: [{ name: "nginx.default.svc.cluster.local", type: RRType.A, class: 1 }],
  });
  const r = h.handle(q, "127.0.0.1", false);
  assert.ok(r instanceof Uint8Array);
  const a = decodeMessage(r).value;
  assert.equal(a.rcode, Rcode.NOERROR);
  assert.deepEqual(a.answers.map((x) => x.type === "A" && x.address), ["9.251.0.2"]);
}

Deno.test("DnsHandler.handle() never throws on random and mutated packets", () => {
  const log = memoryLogger();
  const h = new DnsHandler({
    zone: buildZone(testSnapshot()),
    allow: new AllowList(["127.0.0.0/8"], { nodeAddresses: () => [] }),
    log,
  });
  const out = new Uint8Array(65536);
  let answered = 0;
  let formerr = 0;
  for (const p of packets(scaled(20_000), 0xed9e)) {
    const r = h.handle(p, "127.0.0.1", (p[0] ?? 0) % 2 === 0, out);
    assert.ok(!(r instanceof Promise), "no forwarder: always synchronous");
    if (r === null) continue;
    answered++;
    const a = decodeMessage(r).value; // every answer we produce is well-formed
    assert.equal(a.response, true);
    if (a.rcode === Rcode.FORMERR) formerr++;
  }
  assert.ok(answered > scaled(10_000), `answered ${answered}`);
  assert.ok(formerr > scaled(1_000), `formerr ${formerr}`);
  // No packet hit an unexpected exception (those are logged as "query failed").
  assert.deepEqual(log.lines.filter((l) => l.includes("query failed")), []);
  check(h);
});

Deno.test("DnsServer keeps answering after thousands of hostile UDP packets", async () => {
  await using server = await DnsServer.start({
    listen: ["127.0.0.1:0"],
    snapshot: testSnapshot(),
    nodeAddresses: () => [],
  });
  const addr = server.addresses[0]!;
  const target = { transport: "udp" as const, hostname: addr.hostname, port: addr.port };
  const client = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    let sent = 0;
    for (const p of packets(scaled(3_000), 0xbad)) {
      await client.send(p, target);
      sent++;
    }
    assert.equal(sent, scaled(3_000));
  } finally {
    client.close();
  }
  // TCP garbage too: a bogus length and random bytes, then the connection is dropped.
  const conn = await Deno.connect({ hostname: addr.hostname, port: addr.port });
  await conn.write(new Uint8Array([0x00, 0x05, 1, 2, 3, 4, 5, 0xff, 0xff, 9]));
  conn.close();
  // A fresh client still gets the right answer. Like any resolver it retransmits (every
  // second): the server may still be draining a full receive buffer of garbage, and a datagram
  // that arrives while the buffer is full is dropped by the kernel.
  const fresh = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let resend: ReturnType<typeof setInterval> | undefined;
  try {
    const q = encodeMessage({
      id: 7,
      questions: [{ name: "nginx.default.svc.cluster.local", type: RRType.A, class: 1 }],
    });
    await fresh.send(q, target);
    resend = setInterval(() => fresh.send(q, target).catch(() => {}), 1_000);
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no answer after the fuzzing")), 10_000);
    });
    for (;;) {
      const [data] = await Promise.race([fresh.receive(), bound]);
      const a = decodeMessage(data).value;
      if (a.id !== 7) continue;
      assert.deepEqual(a.answers.map((x) => x.type === "A" && x.address), ["9.251.0.2"]);
      break;
    }
  } finally {
    clearTimeout(timer);
    clearInterval(resend);
    fresh.close();
  }
});

/**
 * Upstream-like answers with compression: `www.example.com` CNAME `cdn.example.com` (its
 * target compressed against the question), A, MX, SRV, TXT, an SOA in authority and an OPT.
 */
function compressedAnswer(): Uint8Array {
  const header = [0, 9, 0x81, 0x80, 0, 1, 0, 5, 0, 1, 0, 1];
  const question = [...wireName("www.example.com"), 0, 1, 0, 1];
  const base = header.length + question.length;
  const cname = rr(ptr(12), 5, 300, [3, 0x63, 0x64, 0x6e, ...ptr(16)]); // cdn.<example.com>
  const cdn = base + 12; // the CNAME target's offset
  const records = [
    ...cname,
    ...rr(ptr(cdn), 1, 60, [192, 0, 2, 1]),
    ...rr(ptr(16), 15, 60, [0, 10, ...ptr(cdn)]),
    ...rr(ptr(cdn), 33, 60, [0, 1, 0, 2, 0, 80, ...ptr(cdn)]),
    ...rr(ptr(cdn), 16, 60, [2, 0x68, 0x69, 0]),
    ...rr(ptr(16), 6, 60, [...ptr(16), 2, 0x6e, 0x73, ...ptr(16), ...new Array(19).fill(0), 30]),
    ...rr([0], 41, 0, []),
  ];
  return new Uint8Array([...header, ...question, ...records]);
}

Deno.test("scanMessage() never throws, and every upstream answer it passes decodes", () => {
  const seeds = [compressedAnswer(), SEEDS[3]!];
  for (const s of seeds) assert.ok(scanMessage(s), "the seeds themselves pass");
  const rnd = prng(0x5ca7);
  const int = (n: number) => Math.floor(rnd() * n);
  let passed = 0;
  let rejected = 0;
  for (let i = 0; i < scaled(30_000); i++) {
    const p = seeds[int(seeds.length)]!.slice();
    for (let f = 1 + int(3); f > 0; f--) {
      const at = 12 + int(p.length - 12);
      if (rnd() < 0.5) p[at] = int(256);
      else { // a pointer anywhere, often a near one (forwards, backwards, itself)
        p[at] = 0xc0 | (rnd() < 0.9 ? 0 : int(0x40));
        p[at + 1] = rnd() < 0.7 ? Math.max(0, at + int(9) - 4) & 0xff : int(256);
      }
    }
    const cut = rnd() < 0.1 ? p.subarray(0, int(p.length + 1)) : p;
    const scan = scanMessage(cut);
    if (scan === null) {
      rejected++;
      continue;
    }
    passed++;
    // What a client gets is what the codec (a strict decoder) reads back whole.
    const bytes = cut.subarray(0, scan.end);
    const m = decodeMessage(bytes);
    assert.equal(m.bytesRead, scan.end);
    const v = m.value;
    assert.equal(
      v.answers.length + v.authorities.length + v.additionals.length + (v.edns ? 1 : 0),
      ((bytes[6]! << 8) | bytes[7]!) + ((bytes[8]! << 8) | bytes[9]!) +
        ((bytes[10]! << 8) | bytes[11]!),
    );
    assert.ok(scan.minAnswerTtl >= 0 && scan.minAnswerTtl <= 0x7fffffff);
  }
  assert.ok(passed > scaled(3_000), `passed ${passed}`);
  assert.ok(rejected > scaled(3_000), `rejected ${rejected}`);
});

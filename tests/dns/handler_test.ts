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

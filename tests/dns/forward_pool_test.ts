// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The pool of shared upstream UDP sockets (`lib/dns/udp_pool.ts`) against a loopback upstream
 * on port 0: IDs unique per socket, spoofed answers ignored, the socket bound under a burst,
 * sockets closed when idle, retirement after the bound; and the forwarder with a transport
 * that replaces the ID, as the pool does.
 */
import assert from "node:assert/strict";
import { encodeMessage, Forwarder, type ForwardRequest, RRType } from "../../lib/dns/mod.ts";
import { createDenoTransport, type UpstreamTransport } from "../../lib/dns/transport.ts";
import { sameHost, UdpPoolFullError, UdpQueryPool } from "../../lib/dns/udp_pool.ts";

function query(name: string): Uint8Array {
  return encodeMessage({
    id: 0,
    recursionDesired: true,
    questions: [{ name, type: RRType.A, class: 1 }],
  });
}

/** The answer to `q` as an upstream would send it: same ID and question, QR set. */
function answerTo(q: Uint8Array, id = (q[0]! << 8) | q[1]!): Uint8Array {
  const a = q.slice();
  a[0] = id >> 8;
  a[1] = id & 0xff;
  a[2]! |= 0x80;
  return a;
}

/** Accepts an answer whose question bytes are those of `q` (the pool matches address and ID). */
function sameQuestion(q: Uint8Array): (a: Uint8Array) => boolean {
  return (a) => a.length === q.length && a.subarray(12).every((b, i) => b === q[12 + i]);
}

const idOf = (b: Uint8Array) => (b[0]! << 8) | b[1]!;

/** A loopback UDP upstream on a kernel-chosen port. */
class FakeUpstream {
  readonly conn: Deno.DatagramConn;
  readonly peer: { readonly hostname: string; readonly port: number };

  constructor(hostname = "127.0.0.1") {
    this.conn = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    this.peer = { hostname, port: (this.conn.addr as Deno.NetAddr).port };
  }

  /** The next `n` queries, with the address each came from. */
  async receive(n: number): Promise<{ data: Uint8Array; from: Deno.NetAddr }[]> {
    const out = [];
    for (let i = 0; i < n; i++) {
      const [data, from] = await this.conn.receive();
      out.push({ data, from: from as Deno.NetAddr });
    }
    return out;
  }

  async send(data: Uint8Array, to: Deno.NetAddr): Promise<void> {
    await this.conn.send(data, to);
  }

  close(): void {
    this.conn.close();
  }
}

Deno.test("UdpQueryPool keeps IDs unique among a socket's outstanding queries (RFC 5452 §9.2)", async () => {
  const up = new FakeUpstream();
  // An ID source that repeats itself: 7 is taken, so the second and third query draw again.
  const ids = [7, 7, 7, 9, 7, 9, 11];
  const pool = new UdpQueryPool({ maxSockets: 1, randomId: () => ids.shift()! });
  const signal = new AbortController().signal;
  const qs = ["a.example", "b.example", "c.example"].map(query);
  const answers = qs.map((q) => pool.query(up.peer, q, sameQuestion(q), signal));
  const got = await up.receive(3);
  // Sent concurrently: they may arrive in any order.
  assert.deepEqual(got.map((g) => idOf(g.data)).sort((x, y) => x - y), [7, 9, 11]);
  assert.deepEqual(qs.map(idOf), [7, 9, 11], "the ID is written into the caller's query");
  assert.equal(new Set(got.map((g) => g.from.port)).size, 1, "one shared socket");
  assert.equal(pool.openSockets, 1);
  assert.equal(pool.outstanding, 3);
  for (const g of got.reverse()) await up.send(answerTo(g.data), g.from);
  const res = await Promise.all(answers);
  assert.deepEqual(res.map(idOf), [7, 9, 11]);
  assert.equal(pool.openSockets, 0, "closed once no query is outstanding");
  up.close();
});

Deno.test("UdpQueryPool ignores answers from another address, with another ID or question", async () => {
  const up = new FakeUpstream();
  const other = new FakeUpstream(); // same host, another port: not the upstream
  const pool = new UdpQueryPool();
  const q = query("real.example");
  let settled = false;
  const answer = pool.query(up.peer, q, sameQuestion(q), new AbortController().signal)
    .finally(() => settled = true);
  const { data, from } = (await up.receive(1))[0]!;
  const id = idOf(data);
  const spoofed = answerTo(data);
  spoofed[spoofed.length - 5] = 0x71; // "real.examplq"
  // Each is queued on the pool's socket before the real one (loopback delivers in send()).
  await other.send(answerTo(data), from); // right ID and question, wrong source port
  // Right ID, question and port, from another address.
  const otherHost = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.2",
    port: up.peer.port,
  });
  await otherHost.send(answerTo(data), from);
  otherHost.close();
  await up.send(answerTo(data, id ^ 1), from); // wrong ID
  await up.send(spoofed, from); // wrong question
  assert.equal(settled, false);
  assert.equal(pool.outstanding, 1);
  const real = answerTo(data);
  await up.send(real, from);
  assert.deepEqual(await answer, real);
  assert.equal(pool.openSockets, 0);
  up.close();
  other.close();
});

Deno.test("sameHost() compares addresses, not spellings; a zone counts only on both sides", async (t) => {
  const rows: [string, string, boolean][] = [
    ["127.0.0.1", "127.0.0.1", true],
    ["::ffff:10.0.0.1", "10.0.0.1", true], // a dual-stack socket reports IPv4 peers so
    ["::ffff:a00:1", "10.0.0.1", true],
    ["[2001:db8::53]", "2001:db8::53", true],
    ["2001:DB8:0:0:0:0:0:53", "2001:db8::53", true], // resolv.conf spelling, Deno's report
    ["0:0:0:0:0:0:0:1", "::1", true],
    ["fe80::1%eth0", "fe80::1", true], // Deno reports a datagram's source without its zone
    ["fe80::1%eth0", "FE80::1%eth0", true],
    ["fe80::1%eth0", "fe80::1%eth1", false],
    ["fe80::1%eth0", "fe80::2", false],
    ["2001:db8::53", "2001:db8::54", false],
    ["::ffff:10.0.0.1", "10.0.0.2", false],
    ["::1", "127.0.0.1", false],
    ["10.0.0.1", "10.0.0.10", false],
  ];
  for (const [a, b, same] of rows) {
    await t.step(`${a} ${same ? "==" : "!="} ${b}`, () => {
      assert.equal(sameHost(a, b), same);
      assert.equal(sameHost(b, a), same);
    });
  }
});

Deno.test("UdpQueryPool takes the answer of an IPv6 upstream however it was spelled (zone, zeros)", async (t) => {
  // Deno reports the answer's source as "::1": a zone index (resolv.conf `nameserver
  // fe80::1%eth0`; on loopback the index form `%1`, which getaddrinfo accepts) or an
  // uncompressed spelling made every answer look foreign, and the query timed out.
  for (const hostname of ["::1", "0:0:0:0:0:0:0:1", "::1%1"]) {
    await t.step(hostname, async () => {
      const up = new FakeUpstream("::1");
      const pool = new UdpQueryPool();
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(new Error("no answer taken within 2 s")), 2000);
      try {
        const q = query("v6.example");
        const answer = pool.query({ hostname, port: up.peer.port }, q, sameQuestion(q), ac.signal);
        const { data, from } = (await up.receive(1))[0]!;
        const real = answerTo(data);
        await up.send(real, from);
        assert.deepEqual(await answer, real);
        assert.equal(pool.openSockets, 0);
      } finally {
        clearTimeout(timer);
        up.close();
      }
    });
  }
});

Deno.test("UdpQueryPool bounds its sockets under a burst: the rest wait, within a bound, or fail", async () => {
  const up = new FakeUpstream();
  const pool = new UdpQueryPool({ maxSockets: 2, maxOutstanding: 3, maxWaiting: 2 });
  const signal = new AbortController().signal;
  const qs = Array.from({ length: 10 }, (_, i) => query(`n${i}.example`));
  const results = qs.map((q) =>
    pool.query(up.peer, q, sameQuestion(q), signal).then(
      (a) => ({ ok: a }),
      (err) => ({ err }),
    )
  );
  const first = await up.receive(6);
  assert.equal(pool.openSockets, 2);
  assert.equal(new Set(first.map((g) => g.from.port)).size, 2);
  assert.equal(pool.outstanding, 6);
  assert.equal(pool.waiting, 2);
  for (const r of (await Promise.all(results.slice(8)))) {
    assert.ok("err" in r && r.err instanceof UdpPoolFullError, "beyond the bound: fails at once");
    assert.match((r.err as Error).message, /all 2 upstream sockets are busy/);
  }
  for (const g of first) await up.send(answerTo(g.data), g.from);
  const rest = await up.receive(2); // the two that waited
  assert.ok(pool.openSockets <= 2);
  for (const g of rest) await up.send(answerTo(g.data), g.from);
  const done = await Promise.all(results.slice(0, 8));
  assert.ok(done.every((r) => "ok" in r));
  assert.equal(pool.openSockets, 0);
  assert.equal(pool.waiting, 0);
  up.close();
});

Deno.test("UdpQueryPool fills a socket to fillTo queries before it opens another", async () => {
  const up = new FakeUpstream();
  const pool = new UdpQueryPool({ maxSockets: 3, fillTo: 2 });
  const signal = new AbortController().signal;
  const qs = Array.from({ length: 7 }, (_, i) => query(`f${i}.example`));
  const answers = qs.map((q) => pool.query(up.peer, q, sameQuestion(q), signal));
  const got = await up.receive(7);
  const perPort = new Map<number, number>();
  for (const g of got) perPort.set(g.from.port, (perPort.get(g.from.port) ?? 0) + 1);
  // 2 + 2 + 2 fill three sockets; the seventh shares one of them (the bound is 3 sockets).
  assert.deepEqual([...perPort.values()].sort(), [2, 2, 3]);
  assert.equal(pool.openSockets, 3);
  for (const g of got) await up.send(answerTo(g.data), g.from);
  await Promise.all(answers);
  assert.equal(pool.openSockets, 0);
  up.close();
});

Deno.test("UdpQueryPool closes a socket when its last query is aborted, and drops a waiting one", async () => {
  const up = new FakeUpstream();
  const pool = new UdpQueryPool({ maxSockets: 1, maxOutstanding: 1 });
  const a = new AbortController();
  const b = new AbortController();
  const q1 = query("a.example");
  const q2 = query("b.example");
  const p1 = pool.query(up.peer, q1, sameQuestion(q1), a.signal);
  const p2 = pool.query(up.peer, q2, sameQuestion(q2), b.signal);
  await up.receive(1);
  assert.equal(pool.waiting, 1);
  b.abort(new Error("gave up waiting"));
  await assert.rejects(p2, /gave up waiting/);
  assert.equal(pool.waiting, 0);
  a.abort(new DOMException("Timed out", "TimeoutError"));
  await assert.rejects(p1, /Timed out/);
  assert.equal(pool.openSockets, 0);
  assert.equal(pool.socketsOpened, 1, "the aborted waiter never took a socket");
  up.close();
});

Deno.test("UdpQueryPool retires a socket after queriesPerSocket queries: the next goes to a new one", async () => {
  const up = new FakeUpstream();
  const pool = new UdpQueryPool({ maxSockets: 1, queriesPerSocket: 3 });
  const signal = new AbortController().signal;
  const qs = Array.from({ length: 4 }, (_, i) => query(`r${i}.example`));
  const answers = qs.map((q) => pool.query(up.peer, q, sameQuestion(q), signal));
  const first = await up.receive(3);
  assert.equal(new Set(first.map((g) => g.from.port)).size, 1);
  // The socket has room (64 outstanding) but took its 3: the fourth waits for the bound.
  assert.equal(pool.waiting, 1);
  assert.equal(pool.socketsOpened, 1);
  for (const g of first) await up.send(answerTo(g.data), g.from);
  const [last] = await up.receive(1);
  assert.equal(pool.socketsOpened, 2, "a new socket, a new kernel-chosen port");
  await up.send(answerTo(last!.data), last!.from);
  assert.equal((await Promise.all(answers)).length, 4);
  assert.equal(pool.openSockets, 0);
  up.close();
});

Deno.test("UdpQueryPool rejects bounds that are not positive integers", () => {
  for (
    const bad of [{ maxSockets: 0 }, { maxOutstanding: 65537 }, { queriesPerSocket: 1.5 }, {
      fillTo: 0,
    }]
  ) {
    assert.throws(() => new UdpQueryPool(bad), RangeError);
  }
});

function request(name: string): ForwardRequest {
  const q = query(name);
  return {
    query: q,
    questionEnd: q.length,
    name,
    type: RRType.A,
    class: 1,
    edns: false,
    dnssecOk: false,
    limit: 512,
  };
}

Deno.test("Forwarder matches answers by the ID the transport chose, over UDP and the TCP retry", async () => {
  const sent: string[] = [];
  const transport: UpstreamTransport = {
    udp(_u, q, accept) {
      q[0] = 0xab; // as the pool does: an ID of the socket's own
      q[1] = 0xcd;
      sent.push(`udp ${idOf(q)}`);
      assert.equal(accept(answerTo(q, 0x1234)), false, "another ID");
      const tc = answerTo(q);
      tc[2]! |= 0x02;
      return Promise.resolve(tc);
    },
    tcp(_u, q) {
      sent.push(`tcp ${idOf(q)}`);
      const a = encodeMessage({
        id: idOf(q),
        response: true,
        questions: [{ name: "big.example", type: RRType.A, class: 1 }],
        answers: [{ type: "A", name: "big.example", class: 1, ttl: 30, address: "192.0.2.7" }],
      });
      return Promise.resolve(a);
    },
  };
  const f = new Forwarder({ upstreams: [{ hostname: "127.0.0.1", port: 1 }], transport });
  const out = await f.forward(request("big.example"), "k");
  assert.deepEqual(sent, ["udp 43981", "tcp 43981"]);
  assert.equal(out[3]! & 0xf, 0);
  assert.equal((out[6]! << 8) | out[7]!, 1, "the TCP answer");
  assert.equal(idOf(out), 0, "the client's ID");
});

Deno.test("Forwarder over the pooled Deno transport: a spoofed question is ignored, the real answer taken", async () => {
  const up = new FakeUpstream();
  const f = new Forwarder({ upstreams: [up.peer], transport: createDenoTransport() });
  const pending = f.forward(request("pool.example"), "k");
  const { data, from } = (await up.receive(1))[0]!;
  const wrong = answerTo(data);
  wrong[13] = 0x71; // "qool.example"
  await up.send(wrong, from);
  const real = encodeMessage({
    id: idOf(data),
    response: true,
    questions: [{ name: "pool.example", type: RRType.A, class: 1 }],
    answers: [{ type: "A", name: "pool.example", class: 1, ttl: 30, address: "192.0.2.9" }],
  });
  await up.send(real, from);
  const out = await pending;
  assert.equal((out[6]! << 8) | out[7]!, 1);
  assert.deepEqual([...out.subarray(out.length - 4)], [192, 0, 2, 9]);
  up.close();
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { MmsgSocket } from "../../lib/dns/mmsg.ts";
import type { Reactor } from "../../lib/sys/reactor.ts";
import { type Libc, libc } from "../../lib/sys/libc.ts";
import { runDeno } from "../_helpers/child.ts";
import { openReactor } from "../_helpers/reactor.ts";

/** Both ways of waiting for queries: a blocking thread, or the thread's epoll loop. */
const MODES = [
  { name: "blocking thread", open: (): Reactor | null => null },
  { name: "reactor", open: (): Reactor | null => openReactor() },
];

/** Runs `fn` once per mode, as its own test. */
function modeTest(name: string, fn: (reactor: Reactor | null) => Promise<void>): void {
  for (const mode of MODES) {
    Deno.test(`${name} (${mode.name})`, async () => {
      const reactor = mode.open();
      try {
        await fn(reactor);
      } finally {
        await reactor?.close();
      }
    });
  }
}

type Seen = { data: string; peer: string };

/** Serves `sock` with `reply(data)`, recording what the handler saw. */
function serve(
  sock: MmsgSocket,
  reply: (text: string) => string | null | Promise<string | null>,
  reactor: Reactor | null = null,
) {
  const seen: Seen[] = [];
  const errors: Error[] = [];
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const serving = sock.serve(
    (data, peer, out) => {
      const text = dec.decode(data);
      seen.push({ data: text, peer });
      const r = reply(text);
      if (r === null) return null;
      if (typeof r === "string") {
        // Synchronous answers are written into `out`, as the DNS fast path does.
        const n = enc.encodeInto(r, out).written;
        return out.subarray(0, n);
      }
      return r.then((s) => (s === null ? null : enc.encode(s)));
    },
    (err) => errors.push(err),
    reactor,
  );
  return { seen, errors, serving };
}

async function ask(
  to: { hostname: string; port: number },
  payloads: (string | Uint8Array)[],
  expect: number,
  hostname = "127.0.0.1",
): Promise<string[]> {
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  try {
    for (const p of payloads) {
      await conn.send(typeof p === "string" ? new TextEncoder().encode(p) : p, {
        transport: "udp",
        ...to,
      });
    }
    const got: string[] = [];
    while (got.length < expect) got.push(new TextDecoder().decode((await conn.receive())[0]));
    return got;
  } finally {
    conn.close();
  }
}

modeTest("MmsgSocket answers each datagram to its own sender, in batches", async (reactor) => {
  const sock = MmsgSocket.open("127.0.0.1", 0);
  const s = serve(sock, (t) => `re:${t}`, reactor);
  try {
    assert.ok(sock.addr.port > 0);
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => ask(sock.addr, [`q${i}`, `q${i}b`], 2)),
    );
    answers.forEach((a, i) => assert.deepEqual(a, [`re:q${i}`, `re:q${i}b`]));
    assert.equal(s.seen.length, 200);
    assert.ok(s.seen.every((x) => x.peer === "127.0.0.1"));
    assert.deepEqual(s.errors, []);
  } finally {
    sock.close();
    await s.serving;
  }
});

modeTest("MmsgSocket sends promised answers later and none for null", async (reactor) => {
  const sock = MmsgSocket.open("127.0.0.1", 0);
  const s = serve(sock, (t) => {
    if (t === "drop") return null;
    if (t === "later") return Promise.resolve("done later");
    if (t === "later-null") return Promise.resolve(null);
    return `now:${t}`;
  }, reactor);
  try {
    // Only the answers to "later" and "x" arrive, whatever the order of the batch.
    const got = await ask(sock.addr, ["drop", "later-null", "later", "x"], 2);
    assert.deepEqual(got.sort(), ["done later", "now:x"]);
    assert.equal(s.seen.length, 4);
  } finally {
    sock.close();
    await s.serving;
  }
});

modeTest("MmsgSocket drops datagrams longer than its 4096-byte slots", async (reactor) => {
  const sock = MmsgSocket.open("127.0.0.1", 0);
  const s = serve(sock, (t) => `len:${t.length}`, reactor);
  try {
    const got = await ask(sock.addr, [new Uint8Array(5000).fill(65), "ok"], 1);
    assert.deepEqual(got, ["len:2"]);
    assert.deepEqual(s.seen.map((x) => x.data), ["ok"]);
  } finally {
    sock.close();
    await s.serving;
  }
});

modeTest("MmsgSocket serves IPv6 and reports the peer in RFC 5952 form", async (reactor) => {
  const sock = MmsgSocket.open("::1", 0);
  const s = serve(sock, (t) => t.toUpperCase(), reactor);
  try {
    assert.deepEqual(await ask({ hostname: "::1", port: sock.addr.port }, ["v6"], 1, "::1"), [
      "V6",
    ]);
    assert.equal(s.seen[0]?.peer, "::1");
  } finally {
    sock.close();
    await s.serving;
  }
});

modeTest(
  "MmsgSocket.close() wakes a blocked serve() at once and is idempotent",
  async (reactor) => {
    const sock = MmsgSocket.open("127.0.0.1", 0);
    const s = serve(sock, () => "x", reactor);
    sock.close();
    sock.close();
    await s.serving; // would hang (until the 1 s receive timeout at best) if not woken
    assert.deepEqual(s.errors, []);
    // Closed before serving: the socket is released at once.
    const idle = MmsgSocket.open("127.0.0.1", 0);
    idle.close();
    const again = MmsgSocket.open("127.0.0.1", idle.addr.port);
    again.close();
  },
);

Deno.test(
  "MmsgSocket on a reactor steps out for 100 ms while recvmmsg keeps failing, then serves again",
  async () => {
    await using reactor = openReactor();
    const real = libc()!;
    const ENOBUFS = 105;
    // The real C library, except that recvmmsg fails with ENOBUFS while `failing` is set.
    let failing = true;
    let failNext = false;
    const failedAt: number[] = [];
    const sixFailures = Promise.withResolvers<void>();
    const fake: Libc = {
      ...real,
      recvmmsgNow: (...args: Parameters<Libc["recvmmsgNow"]>) => {
        if (!failing) return real.recvmmsgNow(...args);
        failedAt.push(performance.now());
        if (failedAt.length === 6) sixFailures.resolve();
        failNext = true;
        return -1;
      },
      // errno() reads errno with a 4-byte peek: report ENOBUFS for the failed call.
      peek: (...args: Parameters<Libc["peek"]>) => {
        if (!failNext) return real.peek(...args);
        failNext = false;
        (args[0] as Int32Array)[0] = ENOBUFS;
        return 0n;
      },
    };
    const sock = MmsgSocket.open("127.0.0.1", 0, fake);
    const s = serve(sock, (t) => `re:${t}`, reactor);
    try {
      const answer = ask(sock.addr, ["q"], 1); // makes the socket readable
      await sixFailures.promise;
      // Four failures in a row on the event loop, then one per re-registration 100 ms apart.
      const gaps = failedAt.slice(1).map((t, i) => t - failedAt[i]!);
      assert.ok(gaps.slice(0, 3).every((g) => g < 90), `first streak: ${gaps}`);
      assert.ok(gaps[3]! >= 90 && gaps[4]! >= 90, `stepped out for 100 ms each time: ${gaps}`);
      assert.equal(s.errors.length, 1, "one report per streak of failures");
      assert.match(s.errors[0]!.message, /recvmmsg/);
      failing = false;
      assert.deepEqual(await answer, ["re:q"]); // served again once the calls succeed
    } finally {
      sock.close();
      await s.serving;
    }
  },
);

Deno.test("MmsgSocket.open() fails like Deno's sockets on a taken port or a bad address", () => {
  const taken = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    assert.throws(
      () => MmsgSocket.open("127.0.0.1", (taken.addr as Deno.NetAddr).port),
      Deno.errors.AddrInUse,
    );
  } finally {
    taken.close();
  }
  assert.throws(() => MmsgSocket.open("not-an-ip", 53), TypeError);
  assert.throws(() => MmsgSocket.open("192.0.2.1", 0), Deno.errors.AddrNotAvailable);
});

Deno.test("MmsgSocket is unavailable without FFI permission (the server falls back)", async () => {
  const mod = new URL("../../lib/dns/mmsg.ts", import.meta.url).href;
  const code = `import { MmsgSocket } from "${mod}";
console.log(MmsgSocket.available());
try { MmsgSocket.open("127.0.0.1", 0); } catch (e) { console.log(e.name); }`;
  // `deno eval` would grant everything: run the snippet from stdin with narrow flags.
  const out = await runDeno(["run", "--no-prompt", "--allow-read", "--allow-net", "-"], code);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(out.stdout.trim().split("\n"), ["false", "NotSupported"]);
});

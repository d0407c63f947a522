// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { EPOLLET, EPOLLIN, Reactor } from "../../lib/sys/reactor.ts";
import { type Libc, libc } from "../../lib/sys/libc.ts";
import { SOCKADDR_MAX, writeSockaddr } from "../../lib/sys/sockaddr.ts";
import { openReactor } from "../_helpers/reactor.ts";

Deno.test("Reactor.after() runs deadlines in order, skips cancelled ones, needs no timer", async () => {
  await using r = openReactor();
  // A registration starts the loop; an eventfd-like source that never fires keeps it waiting.
  const c = r.libc;
  const sock = c.socket(1, /* AF_UNIX */ 1, /* SOCK_STREAM */ 0);
  assert.ok(sock >= 0);
  r.add(sock, EPOLLIN | EPOLLET, { onIo: () => assert.fail("no event expected") });
  const fired: string[] = [];
  const all = Promise.withResolvers<void>();
  r.after(30, () => fired.push("30 ms"));
  const cancelled = r.after(10, () => fired.push("cancelled"));
  r.after(10, () => fired.push("10 ms"));
  r.after(40, () => {
    fired.push("40 ms");
    all.resolve();
  });
  r.cancel(cancelled);
  r.cancel(cancelled); // idempotent
  await all.promise;
  assert.deepEqual(fired, ["10 ms", "30 ms", "40 ms"]);
  // With every list empty, a new deadline of an existing delay still runs.
  const again = Promise.withResolvers<void>();
  r.after(10, () => again.resolve());
  await again.promise;
  c.close(sock);
});

/**
 * A non-blocking UDP socket bound on 127.0.0.1 through libc: its fd and port. (A socketpair
 * would need another symbol; a bound UDP socket is readable once a datagram arrives.)
 */
function udpFd(c: NonNullable<ReturnType<typeof openReactor>["libc"]>): [number, number] {
  const fd = c.socket(2, /* AF_INET */ 2 /* SOCK_DGRAM */ | 0o4000, 0);
  const name = new Uint8Array(16);
  new DataView(name.buffer).setUint16(0, 2, true);
  name.set([127, 0, 0, 1], 4);
  assert.equal(c.bind(fd, name, 16), 0);
  const bound = new Uint8Array(16);
  assert.equal(c.getsockname(fd, bound, new Uint32Array([16])), 0);
  return [fd, new DataView(bound.buffer).getUint16(2, false)];
}

Deno.test("Reactor delivers readiness to the token's source until forgotten", async () => {
  await using r = openReactor();
  const c = r.libc;
  const udp = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const got = Promise.withResolvers<number>();
    const [fd, port] = udpFd(c);
    const token = r.add(fd, EPOLLIN | EPOLLET, { onIo: (events) => got.resolve(events) });
    assert.equal(r.size, 1);
    await udp.send(new Uint8Array([1]), { transport: "udp", hostname: "127.0.0.1", port });
    assert.equal((await got.promise) & EPOLLIN, EPOLLIN);
    r.forget(token);
    assert.equal(r.size, 0);
    c.close(fd);
  } finally {
    udp.close();
  }
});

Deno.test("Reactor.remove() pauses a level-triggered socket that stays open; add() resumes it", async () => {
  await using r = openReactor();
  const c = r.libc;
  const udp = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const [fd, port] = udpFd(c);
  try {
    // Level-triggered and never read: readable on every turn until unregistered.
    let calls = 0;
    const first = Promise.withResolvers<void>();
    const token = r.add(fd, EPOLLIN, {
      onIo: () => {
        calls++;
        first.resolve();
      },
    });
    await udp.send(new Uint8Array([1]), { transport: "udp", hostname: "127.0.0.1", port });
    await first.promise;
    r.remove(fd, token);
    assert.equal(r.size, 0);
    const before = calls;
    // Several turns of the loop (a deadline each) report nothing more for the paused socket.
    for (let i = 0; i < 3; i++) {
      const turn = Promise.withResolvers<void>();
      r.after(0, () => turn.resolve());
      await turn.promise;
    }
    assert.equal(calls, before);
    // Registering the same fd again works (the kernel's registration is gone) and reports it.
    const again = Promise.withResolvers<number>();
    const token2 = r.add(fd, EPOLLIN, { onIo: (events) => again.resolve(events) });
    assert.equal((await again.promise) & EPOLLIN, EPOLLIN);
    r.remove(fd, token2);
  } finally {
    udp.close();
    c.close(fd);
  }
});

Deno.test("Reactor drops an event of a forgotten socket whose token was reused in the same batch", async () => {
  await using r = openReactor();
  const c = r.libc;
  const udp = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const [a, portA] = udpFd(c);
  const [b, portB] = udpFd(c);
  const [fresh] = udpFd(c);
  try {
    // Both readable before they are registered: the loop's first wait returns both, A first.
    for (const port of [portA, portB]) {
      await udp.send(new Uint8Array([1]), { transport: "udp", hostname: "127.0.0.1", port });
    }
    const seen: string[] = [];
    const after = Promise.withResolvers<void>();
    let tokenB = -1;
    let tokenFresh = -1;
    r.add(a, EPOLLIN | EPOLLET, {
      onIo: () => {
        seen.push("a");
        // B goes away while its event is still in this batch; a new socket takes its slot.
        r.forget(tokenB);
        tokenFresh = r.add(fresh, EPOLLIN | EPOLLET, { onIo: () => seen.push("fresh") });
        r.after(0, () => after.resolve());
      },
    });
    tokenB = r.add(b, EPOLLIN | EPOLLET, { onIo: () => seen.push("b") });
    await after.promise;
    assert.equal(tokenFresh, tokenB, "the slot is reused (else this test proves nothing)");
    assert.deepEqual(seen, ["a"]);
    assert.equal(r.size, 2);
  } finally {
    udp.close();
    for (const fd of [a, b, fresh]) c.close(fd);
  }
});

Deno.test("Reactor keeps timers and Deno's own I/O running while its sockets stay busy", async () => {
  await using r = openReactor();
  const c = r.libc;
  const udp = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const [fd, port] = udpFd(c);
  try {
    let received = 0;
    const buf = new Uint8Array(64);
    r.add(fd, EPOLLIN | EPOLLET, {
      onIo: () => {
        while (Number(c.recv(fd, buf, 64n, 0)) > 0) received++;
      },
    });
    let fired = false;
    const timer = setTimeout(() => fired = true, 20);
    // Every send is an op of Deno's event loop, and the timer needs it too: a reactor that
    // kept the thread while busy would stall both.
    let sent = 0;
    while (!fired) {
      await udp.send(new Uint8Array([sent++]), { transport: "udp", hostname: "127.0.0.1", port });
    }
    clearTimeout(timer);
    assert.ok(sent > 1 && received > 0, `sent ${sent}, received ${received}`);
  } finally {
    udp.close();
    c.close(fd);
  }
});

Deno.test("Reactor runs the continuations of a dispatch before it waits on the thread again", async () => {
  const real = libc()!;
  const [fd, port] = udpFd(real);
  const [sender] = udpFd(real);
  const to = new Uint8Array(SOCKADDR_MAX);
  const toLen = writeSockaddr(to, "127.0.0.1", port, "send to");
  const one = new Uint8Array([1]);
  const log: string[] = [];
  // The real C library, except that the first idle wait (on a blocking thread) and the first 3
  // waits on the JavaScript thread (a timeout above 0) find a datagram sent just before: an
  // event arriving during that wait, for sure.
  let arrivals = 3;
  let idleArrival = true;
  const fake: Libc = {
    ...real,
    epollWaitBlocking: (...args: Parameters<Libc["epollWaitBlocking"]>) => {
      if (idleArrival) real.sendto(sender, one, 1n, 0, to, toLen);
      idleArrival = false;
      return real.epollWaitBlocking(...args);
    },
    "epoll_wait": (...args: Parameters<Libc["epoll_wait"]>) => {
      const timeout = args[3];
      if (timeout > 0) {
        log.push("wait");
        if (arrivals-- > 0) real.sendto(sender, one, 1n, 0, to, toLen);
      }
      return real.epoll_wait(...args);
    },
  };
  const r = Reactor.open(fake);
  const buf = new Uint8Array(8);
  let events = 0;
  const all = Promise.withResolvers<void>();
  try {
    r.add(fd, EPOLLIN | EPOLLET, {
      onIo: () => {
        while (real.recv(fd, buf, 8n, 0) > 0) {
          const k = ++events;
          log.push(`event ${k}`);
          // A dial resolving, say: its continuation must not wait behind the next wait.
          Promise.resolve().then(() => {
            log.push(`continued ${k}`);
            if (k === 4) all.resolve();
          });
        }
      },
    });
    await all.promise;
    for (let k = 1; k <= 4; k++) {
      const at = log.indexOf(`event ${k}`);
      const continued = log.indexOf(`continued ${k}`);
      const nextWait = log.indexOf("wait", at);
      assert.ok(continued > at && (nextWait < 0 || continued < nextWait), log.join(", "));
    }
    assert.ok(log.filter((e) => e === "wait").length >= 3, "waits on the thread were exercised");
  } finally {
    await r.close();
    real.close(fd);
    real.close(sender);
  }
});

Deno.test("Reactor.close() ends the loop, is idempotent and refuses new registrations", async () => {
  const r = openReactor();
  const c = r.libc;
  const fd = c.socket(1, 1, 0);
  r.add(fd, EPOLLIN | EPOLLET, { onIo: () => {} });
  const dropped = r.after(60_000, () => assert.fail("a deadline ran after close()"));
  await r.close();
  await r.close();
  r.cancel(dropped); // dropped by close(): a no-op
  assert.equal(r.closed, true);
  assert.throws(() => r.add(fd, EPOLLIN, { onIo: () => {} }), Deno.errors.BadResource);
  c.close(fd);
  // Never started: close() releases the descriptors at once.
  const idle = openReactor();
  await idle.close();
  assert.equal(idle.closed, true);
});

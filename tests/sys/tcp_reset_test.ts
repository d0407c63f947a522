// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** `lib/sys/tcp_reset.ts`: finding `Deno.TcpConn`s' descriptors by their ends, and aborting one. */
import assert from "node:assert/strict";
import { libc } from "../../lib/sys/libc.ts";
import { openDescriptors } from "../../lib/sys/nodelay.ts";
import { disconnectTcp, findTcpConnections } from "../../lib/sys/tcp_reset.ts";

Deno.test("findTcpConnections() finds each connection by both ends, not its accepted twin, null when absent", async () => {
  const c = libc()!;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const opened: Deno.Conn[] = [];
  try {
    const a = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const aIn = await listener.accept();
    const b = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const bIn = await listener.accept();
    opened.push(a, aIn, b, bIn);
    const ends = (x: Deno.TcpConn) => ({ local: x.localAddr, remote: x.remoteAddr });
    const absent = {
      local: a.localAddr,
      remote: { ...a.remoteAddr, hostname: "127.0.0.2" }, // same ports, another peer
    };
    const fds = findTcpConnections([ends(b), absent, ends(a), ends(bIn as Deno.TcpConn)], c);
    assert.equal(fds[1], null);
    assert.ok(fds.every((fd, i) => i === 1 || typeof fd === "number"), String(fds));
    assert.equal(new Set(fds).size, 4, "four different answers");
    const open = [...openDescriptors(c)];
    assert.ok(open.every((fd, i) => i === 0 || fd > open[i - 1]!), "lowest first");
    assert.ok(fds.every((fd) => fd === null || open.includes(fd)), "found below the table size");
    // The descriptor found for `a` is a: aborting it resets aIn, and only it.
    assert.equal(disconnectTcp(fds[2]!, c), true);
    await assert.rejects(aIn.read(new Uint8Array(8)), Deno.errors.ConnectionReset);
    await b.write(new Uint8Array([7]));
    const buf = new Uint8Array(8);
    assert.equal(await bIn.read(buf), 1, "b still carries bytes");
  } finally {
    for (const x of opened) x.close();
    listener.close();
  }
});

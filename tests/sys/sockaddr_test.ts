// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** `sockaddr` encoding: the cache must write exactly what a fresh encoding writes. */
import assert from "node:assert/strict";
import { SOCKADDR_MAX, SockaddrCache, writeSockaddr } from "../../lib/sys/sockaddr.ts";

Deno.test("SockaddrCache.write() writes the same bytes as writeSockaddr()", () => {
  const cache = new SockaddrCache(2);
  const cases: [string, number][] = [
    ["10.0.0.1", 80],
    ["10.0.0.1", 8080], // cached address, another port
    ["fd00::1", 443],
    ["192.168.1.254", 65535], // a third address: the cache of 2 starts over
    ["10.0.0.1", 1],
    ["::ffff:10.0.0.1", 53],
  ];
  for (const [ip, port] of cases) {
    const want = new Uint8Array(SOCKADDR_MAX).fill(0xee);
    const got = new Uint8Array(SOCKADDR_MAX).fill(0xee);
    const len = writeSockaddr(want, ip, port, "connect to");
    assert.equal(cache.write(got, ip, port, "connect to"), len, `${ip} ${port}`);
    assert.deepEqual(got.subarray(0, len), want.subarray(0, len), `${ip} ${port}`);
  }
});

Deno.test("SockaddrCache.write() rejects what is not an IP address, every time", () => {
  const cache = new SockaddrCache();
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => cache.write(new Uint8Array(SOCKADDR_MAX), "example.com", 80, "connect to"),
      (err: Error) =>
        err instanceof TypeError &&
        err.message === 'Cannot connect to "example.com": not an IP address',
    );
  }
});

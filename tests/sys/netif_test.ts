// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { type Libc, libc } from "../../lib/sys/mod.ts";
import {
  IFF_UP,
  IFREQ_SIZE,
  interfaceFlags,
  interfaceUp,
  isLocalAddress,
  SIOCGIFFLAGS,
} from "../../lib/sys/netif.ts";

Deno.test("interfaceUp() reads IFF_UP of a real interface through ioctl(SIOCGIFFLAGS)", async (t) => {
  assert.ok(libc() !== null, "the tests run on Linux with --allow-all");
  const rows: [string, string, boolean | null][] = [
    ["loopback is up", "lo", true],
    ["no such interface (ENODEV)", "edgemesh-none0", null],
    ["a name longer than IFNAMSIZ - 1", "x".repeat(16), null],
    ["an empty name", "", null],
  ];
  for (const [name, dev, want] of rows) {
    await t.step(name, () => assert.equal(interfaceUp(dev), want));
  }
  await t.step("loopback's flags hold IFF_LOOPBACK (0x8) too", () => {
    assert.equal((interfaceFlags("lo") ?? 0) & 0x8, 0x8);
  });
});

/** A C library whose `socket`, `ioctl` and `close` are the test's. */
function fakeLibc(ioctl: (fd: number, request: bigint, ifr: Uint8Array) => number, fd = 7) {
  const calls: string[] = [];
  const c = {
    socket: (domain: number, type: number, proto: number) => {
      calls.push(`socket ${domain} ${type} ${proto}`);
      return fd;
    },
    ioctl: (fd: number, request: bigint, ifr: Uint8Array) => {
      calls.push(`ioctl ${fd} 0x${request.toString(16)}`);
      return ioctl(fd, request, ifr);
    },
    close: (fd: number) => (calls.push(`close ${fd}`), 0),
  } as unknown as Libc;
  return { c, calls };
}

Deno.test("interfaceFlags() sends a 40-byte struct ifreq and reads ifr_flags at offset 16", async (t) => {
  await t.step("the request and the layout the kernel reads and writes", () => {
    const { c, calls } = fakeLibc((_fd, request, ifr) => {
      assert.equal(request, BigInt(SIOCGIFFLAGS));
      assert.equal(ifr.byteLength, IFREQ_SIZE);
      assert.equal(new TextDecoder().decode(ifr.subarray(0, 5)), "edge0");
      assert.deepEqual([...ifr.subarray(5)], new Array(IFREQ_SIZE - 5).fill(0), "NUL after it");
      // The kernel writes a native-endian short at offset 16 (IFF_UP | IFF_BROADCAST | 0x1000).
      new Uint16Array(ifr.buffer, 16, 1)[0] = 0x1003;
      ifr[18] = 0xff; // bytes after ifr_flags are not part of it
      return 0;
    });
    assert.equal(interfaceFlags("edge0", c), 0x1003);
    assert.equal(interfaceUp("edge0", c), true);
    // AF_INET, SOCK_DGRAM | SOCK_CLOEXEC; the socket is closed after each look.
    assert.deepEqual(calls.slice(0, 3), ["socket 2 524290 0", "ioctl 7 0x8913", "close 7"]);
  });
  await t.step("IFF_UP clear: down", () => {
    const { c } = fakeLibc((_fd, _r, ifr) => {
      new Uint16Array(ifr.buffer, 16, 1)[0] = 0x1002;
      return 0;
    });
    assert.equal(interfaceUp("edge0", c), false);
    assert.equal(IFF_UP, 1);
  });
  await t.step("ioctl fails: null, the socket still closed", () => {
    const { c, calls } = fakeLibc(() => -1);
    assert.equal(interfaceUp("edge0", c), null);
    assert.deepEqual(calls, ["socket 2 524290 0", "ioctl 7 0x8913", "close 7"]);
  });
  await t.step("no socket: null, no ioctl", () => {
    const { c, calls } = fakeLibc(() => 0, -1);
    assert.equal(interfaceFlags("edge0", c), null);
    assert.deepEqual(calls, ["socket 2 524290 0"]);
  });
  await t.step("no C library: null", () => assert.equal(interfaceUp("edge0", null), null));
});

Deno.test("isLocalAddress() asks the kernel whether an address is this node's", async (t) => {
  const cases: [address: string, local: boolean | null][] = [
    ["127.0.0.1", true],
    ["::ffff:127.0.0.1", true], // asked as its IPv4 address
    ["192.0.2.77", false], // TEST-NET-1: on no interface here
    ["fe80::1", null], // link-local without its zone: EINVAL, cannot tell
    ["not-an-address", null],
  ];
  for (const [address, local] of cases) {
    await t.step(`${address} → ${local}`, () => {
      assert.equal(isLocalAddress(address), local);
    });
  }
  await t.step("without the C library: null", () => {
    assert.equal(isLocalAddress("127.0.0.1", null), null);
  });
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Tests of NotifySocket: sd_notify(3) datagrams through FFI to socket files and abstract names. */
import assert from "node:assert/strict";
import { libc, type NotifyAddress, NotifySocket, sockaddrUn } from "../../lib/sys/mod.ts";
import { abstractReceiver } from "../_helpers/notify_receiver.ts";

const c = libc();

Deno.test({
  name: "NotifySocket sends a datagram to a socket file",
  ignore: c === null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sdn-" });
    const path = `${dir}/notify.sock`;
    const rx = Deno.listenDatagram({ transport: "unixpacket", path });
    const tx = NotifySocket.open(c!, { kind: "path", path });
    try {
      tx.send("READY=1\nSTATUS=Running");
      const [data] = await rx.receive();
      assert.equal(new TextDecoder().decode(data), "READY=1\nSTATUS=Running");
    } finally {
      tx.close();
      rx.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "NotifySocket sends to an abstract name (NUL first, no NUL after)",
  ignore: c === null,
  fn() {
    using rx = abstractReceiver(c!);
    // The kernel's own view of the name: /proc/net/unix shows NUL bytes as "@", so a stray
    // NUL after the name would read "@name@".
    const table = Deno.readTextFileSync("/proc/net/unix").split("\n");
    assert.ok(table.some((l) => l.endsWith(` @${rx.address.name}`)), "bound as @name exactly");
    const tx = NotifySocket.open(c!, rx.address);
    try {
      tx.send("WATCHDOG=1");
      tx.send("STOPPING=1");
      // A Unix datagram is in the receiver's queue when sendto() returns.
      assert.deepEqual(rx.drain(), ["WATCHDOG=1", "STOPPING=1"]);
    } finally {
      tx.close();
    }
  },
});

Deno.test({
  name: "NotifySocket.send() returns false, sending nothing, while the receiver's queue is full",
  ignore: c === null,
  fn() {
    using rx = abstractReceiver(c!);
    const tx = NotifySocket.open(c!, rx.address);
    try {
      let sent = 0;
      while (tx.send(`X=${sent}`)) assert.ok(++sent < 100_000, "the queue never filled");
      assert.ok(sent >= 1, "net.unix.max_dgram_qlen datagrams fit first");
      assert.equal(tx.send("READY=1"), false, "still full");
      const got = rx.drain();
      assert.equal(got.length, sent, "nothing was sent by the refused calls");
      assert.equal(got.at(-1), `X=${sent - 1}`);
      assert.equal(tx.send("READY=1"), true, "room again");
      assert.deepEqual(rx.drain(), ["READY=1"]);
    } finally {
      tx.close();
    }
  },
});

Deno.test({
  name: "NotifySocket.send() throws the sendto() error as Deno's socket errors do",
  ignore: c === null,
  async fn(t) {
    const rows: [string, NotifyAddress, string, RegExp][] = [
      [
        "no such socket file",
        { kind: "path", path: `/tmp/sdn-missing-${crypto.randomUUID()}/notify` },
        "NotFound",
        /^sendto\(\): No such file or directory \(os error 2\)$/,
      ],
      [
        "nobody bound the abstract name",
        { kind: "abstract", name: `sdn-nobody-${crypto.randomUUID()}` },
        "ConnectionRefused",
        /^sendto\(\): Connection refused \(os error 111\)$/,
      ],
    ];
    for (const [name, address, error, message] of rows) {
      await t.step(name, () => {
        const tx = NotifySocket.open(c!, address);
        try {
          assert.throws(() => tx.send("READY=1"), { name: error, message });
        } finally {
          tx.close();
        }
      });
    }
    await t.step("after close(): a TypeError; close() again is a no-op", () => {
      const tx = NotifySocket.open(c!, { kind: "abstract", name: "sdn-closed" });
      tx.close();
      tx.close();
      assert.throws(() => tx.send("READY=1"), {
        name: "TypeError",
        message: "Cannot send a notification: the socket is closed",
      });
    });
    await t.step("a name too long for sun_path is refused before any socket exists", () => {
      assert.throws(
        () => NotifySocket.open(c!, { kind: "abstract", name: "n".repeat(108) }),
        { name: "RangeError" },
      );
      assert.equal(sockaddrUn({ kind: "abstract", name: "n".repeat(107) }).length, 110);
    });
  },
});

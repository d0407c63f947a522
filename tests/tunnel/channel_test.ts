// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  encodeCredit,
  encodeData,
  encodeFin,
  FramedChannel,
  FrameDecoder,
  FrameError,
} from "../../lib/tunnel/mod.ts";
import { readAll, writeAll } from "./_fixtures.ts";

Deno.test("FrameDecoder.push() decodes frames split at any byte", () => {
  const wire = new Uint8Array([
    ...encodeData(new Uint8Array([1, 2, 3])),
    ...encodeCredit(70_000),
    ...encodeData(new Uint8Array(0)),
    ...encodeFin(),
  ]);
  const d = new FrameDecoder();
  const data: number[] = [];
  const other: string[] = [];
  for (const b of wire) {
    for (const f of d.push(new Uint8Array([b]))) {
      if (f.type === "data") data.push(...f.payload);
      else other.push(f.type === "credit" ? `credit ${f.bytes}` : f.type);
    }
  }
  assert.deepEqual(data, [1, 2, 3]);
  assert.deepEqual(other, ["credit 70000", "fin"]);
  assert.equal(d.idle, true);
  assert.throws(() => new FrameDecoder().push(new Uint8Array([9, 0, 0, 0, 0])), FrameError);
});

/** Two channels joined back to back, as a dialer and a server would be. */
function pair(window: number): [FramedChannel, FramedChannel] {
  const a = new FramedChannel(window);
  const b = new FramedChannel(window);
  a.attach(b.outgoing);
  b.attach(a.outgoing);
  return [a, b];
}

Deno.test("FramedChannel carries bytes both ways with independent half-close", async () => {
  const [a, b] = pair(1024);
  const payload = crypto.getRandomValues(new Uint8Array(10_000));
  const sending = writeAll(a, payload).then(() => a.closeWrite());
  const got = await readAll(b);
  await sending;
  assert.deepEqual(got, payload);
  // b can still answer after a's FIN.
  await writeAll(b, new TextEncoder().encode("reply"));
  await b.closeWrite();
  assert.equal(new TextDecoder().decode(await readAll(a)), "reply");
  a.close();
  b.close();
});

Deno.test("FramedChannel.write() waits for credit while the peer does not read", async () => {
  const [a, b] = pair(1024);
  let done = false;
  const writing = writeAll(a, new Uint8Array(3000)).then(() => done = true);
  // Let the pumps run: the first window's worth arrives, the rest waits for credit.
  const first = new Uint8Array(1024);
  let n = 0;
  while (n < 1024) n += (await b.read(first.subarray(n)))!;
  assert.equal(done, false);
  const rest = new Uint8Array(3000 - 1024);
  n = 0;
  while (n < rest.length) n += (await b.read(rest.subarray(n)))!;
  await writing;
  assert.equal(done, true);
  a.close();
  b.close();
});

Deno.test("FramedChannel fails a peer that sends past its window", async () => {
  const b = new FramedChannel(16);
  b.attach(
    new ReadableStream({
      start(c) {
        c.enqueue(encodeData(new Uint8Array(17)));
      },
    }),
  );
  await assert.rejects(b.read(new Uint8Array(32)), FrameError);
  b.close();
});

Deno.test("FramedChannel.close() resets the peer's side", async () => {
  const [a, b] = pair(1024);
  a.close();
  await assert.rejects(b.read(new Uint8Array(8)));
  await assert.rejects(a.write(new Uint8Array(1)), Deno.errors.BadResource);
  b.close();
});

Deno.test("FramedChannel with a sink: frames go to the sink, pushed bytes are read", async () => {
  const sent: Uint8Array[] = [];
  let ended = false;
  const ch = new FramedChannel(1024, {}, {
    sink: { write: (c) => void sent.push(c), end: () => void (ended = true) },
  });
  assert.throws(() => ch.outgoing, TypeError);
  await writeAll(ch, new TextEncoder().encode("ping"));
  await ch.closeWrite();
  // The peer's reply arrives split across pushes, then its FIN and the end of its body.
  const reply = new Uint8Array([...encodeData(new TextEncoder().encode("pong")), ...encodeFin()]);
  ch.receive(reply.subarray(0, 3));
  ch.receive(reply.subarray(3));
  ch.receiveEnd();
  // A transport "close" after a clean end must not discard unread bytes.
  ch.receiveError(new Error("closed"));
  assert.equal(new TextDecoder().decode(await readAll(ch)), "pong");
  assert.equal(ended, true);
  const d = new FrameDecoder();
  const frames = sent.flatMap((c) => d.push(c)).map((f) => f.type);
  assert.deepEqual(frames, ["data", "fin"]);
  ch.close();
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { type ByteReader, type LineEvent, readLines } from "../../lib/control/mod.ts";

/** A reader returning the given chunks one per read. */
function chunks(...parts: (string | Uint8Array)[]): ByteReader {
  const queue = parts.map((p) => typeof p === "string" ? new TextEncoder().encode(p) : p);
  let current: Uint8Array | undefined;
  return {
    read(buf) {
      current ??= queue.shift();
      if (!current) return Promise.resolve(null);
      const n = Math.min(buf.length, current.length);
      buf.set(current.subarray(0, n));
      current = n === current.length ? undefined : current.subarray(n);
      return Promise.resolve(n);
    },
  };
}

async function collect(r: ByteReader, max: number): Promise<string[]> {
  const out: string[] = [];
  for await (const ev of readLines(r, max)) out.push(show(ev));
  return out;
}

function show(ev: LineEvent): string {
  return ev.kind === "line" ? ev.text : `<${ev.kind}>`;
}

Deno.test("readLines() frames lines across chunk boundaries", async (t) => {
  const cases: [string, (string | Uint8Array)[], string[]][] = [
    ["one chunk", ["a\nb\n"], ["a", "b"]],
    ["split line", ["ab", "c\nd", "e\n"], ["abc", "de"]],
    ["last line without newline", ["a\nb"], ["a", "b"]],
    ["CRLF and blank lines", ["a\r\n\n  \nb\n"], ["a", "b"]],
    ["split UTF-8 sequence", [new Uint8Array([0x22, 0xc3]), new Uint8Array([0xa9, 0x22, 0x0a])], [
      '"é"',
    ]],
    ["invalid UTF-8", [new Uint8Array([0xff, 0x0a]), "ok\n"], ["<badUtf8>", "ok"]],
  ];
  for (const [name, parts, want] of cases) {
    await t.step(name, async () => assert.deepEqual(await collect(chunks(...parts), 100), want));
  }
});

Deno.test("readLines() rejects an over-long line once and continues after it", async () => {
  const long = "x".repeat(40);
  assert.deepEqual(
    await collect(chunks("ok\n", long.slice(0, 15), long.slice(15), "\nnext\n"), 10),
    ["ok", "<tooLong>", "next"],
  );
  assert.deepEqual(await collect(chunks("0123456789\n01234567890\n"), 10), [
    "0123456789",
    "<tooLong>",
  ]);
  assert.deepEqual(await collect(chunks("x".repeat(30)), 10), ["<tooLong>"]);
});

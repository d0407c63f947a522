// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Newline-delimited framing with a hard per-line limit: an over-long line is skipped up to
 * its newline and reported once, without ever buffering more than the limit.
 * @module
 */

/** One frame read from a stream: a decoded line, or a line that had to be rejected. */
export type LineEvent =
  | { readonly kind: "line"; readonly text: string }
  | { readonly kind: "tooLong" }
  | { readonly kind: "badUtf8" };

/** Something bytes can be read from (`Deno.Conn`, a test double). */
export interface ByteReader {
  read(p: Uint8Array): Promise<number | null>;
}

const NEWLINE = 0x0a;
const CHUNK = 64 * 1024;

/**
 * Yields the lines of `reader` (without `\n` or a trailing `\r`; blank lines skipped) until
 * end of stream. A line longer than `maxBytes` yields `tooLong` and is discarded as it
 * streams. Read errors end the iteration by throwing, as `reader.read` does.
 */
export async function* readLines(
  reader: ByteReader,
  maxBytes: number,
): AsyncGenerator<LineEvent, void, void> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const parts: Uint8Array[] = [];
  let partLen = 0;
  let discarding = false;
  const chunk = new Uint8Array(CHUNK);

  const finish = (tail: Uint8Array): LineEvent | null => {
    if (discarding || partLen + tail.length > maxBytes) {
      discarding = false;
      parts.length = 0;
      partLen = 0;
      return { kind: "tooLong" };
    }
    let bytes: Uint8Array;
    if (parts.length === 0) bytes = tail;
    else {
      bytes = new Uint8Array(partLen + tail.length);
      let off = 0;
      for (const p of parts) {
        bytes.set(p, off);
        off += p.length;
      }
      bytes.set(tail, off);
    }
    parts.length = 0;
    partLen = 0;
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      return { kind: "badUtf8" };
    }
    if (text.endsWith("\r")) text = text.slice(0, -1);
    return text.trim() === "" ? null : { kind: "line", text };
  };

  while (true) {
    const n = await reader.read(chunk);
    if (n === null) {
      if (partLen > 0 || discarding) {
        const ev = finish(new Uint8Array(0));
        if (ev) yield ev;
      }
      return;
    }
    let start = 0;
    while (start < n) {
      const nl = chunk.subarray(start, n).indexOf(NEWLINE);
      if (nl === -1) {
        const rest = chunk.subarray(start, n);
        if (!discarding) {
          if (partLen + rest.length > maxBytes) {
            discarding = true;
            parts.length = 0;
            partLen = 0;
          } else {
            parts.push(rest.slice());
            partLen += rest.length;
          }
        }
        break;
      }
      const ev = finish(chunk.subarray(start, start + nl));
      if (ev) yield ev;
      start += nl + 1;
    }
  }
}

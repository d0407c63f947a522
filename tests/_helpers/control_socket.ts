// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Raw control-socket exchanges for tests that must write exact bytes (bad lines, several
 * messages in one write), where `ControlClient` would frame and check them itself.
 * @module
 */
import type { Reply } from "../../lib/control/mod.ts";

/** Writes `text` in one go, half-closes, and reads every reply line until the server closes. */
export async function exchange(path: string, text: string): Promise<Reply[]> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    const bytes = new TextEncoder().encode(text);
    const writing = (async () => {
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
      await conn.closeWrite();
    })();
    const out = await new Response(conn.readable).text();
    await writing;
    return out.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
  } catch (err) {
    try {
      conn.close();
    } catch { /* closed by the readable */ }
    throw err;
  }
}

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The state files' I/O (`lib/registry/store.ts`) on a real, tiny file system: a tmpfs mounted for
 * the test (root only) and always unmounted.
 */
import assert from "node:assert/strict";
import { appendFileDurable } from "../../lib/registry/store.ts";

const ROOT = Deno.uid() === 0;

/** Runs `fn` with a fresh tmpfs of `size` mounted on a temp directory. */
async function withTmpfs(size: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "em-store-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir],
    stderr: "piped",
  }).output();
  assert.ok(mount.success, new TextDecoder().decode(mount.stderr));
  try {
    await fn(dir);
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "appendFileDurable() that fails on a full disk leaves the journal as it was",
  ignore: !ROOT,
  async fn() {
    await withTmpfs("64k", async (dir) => {
      const journal = `${dir}/state.journal`;
      const first = `{"version":1}\n`;
      await appendFileDurable(journal, first);
      // Fill the rest of the file system but a little.
      const filler = await Deno.open(`${dir}/filler`, { write: true, create: true });
      try {
        const chunk = new Uint8Array(4096);
        for (;;) await filler.write(chunk);
      } catch (err) {
        assert.ok(err instanceof Error && /No space left/.test(err.message), String(err));
      } finally {
        filler.close();
      }
      await Deno.truncate(`${dir}/filler`, (await Deno.stat(`${dir}/filler`)).size - 2048);
      // A line longer than the room left: part of it would be written.
      const big = `{"version":2,"ops":"${"x".repeat(16_384)}"}\n`;
      await assert.rejects(appendFileDurable(journal, big), /No space left/);
      assert.equal(await Deno.readTextFile(journal), first, "no part of the refused line");
    });
  },
});

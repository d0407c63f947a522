// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { join } from "node:path";
import { LOCK_FILE, StateDirBusyError, StateDirError } from "../../lib/registry/mod.ts";
import { StateDirLock } from "../../lib/registry/lock.ts";

Deno.test("StateDirLock lets one holder in at a time and records its pid", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-lock-" });
  try {
    const stateDir = join(dir, "state"); // created by acquire
    const first = await StateDirLock.acquire(stateDir);
    assert.equal(await Deno.readTextFile(join(stateDir, LOCK_FILE)), `${Deno.pid}\n`);
    assert.equal((await Deno.stat(stateDir)).mode! & 0o777, 0o700);
    await assert.rejects(() => StateDirLock.acquire(stateDir), StateDirBusyError);
    first.release();
    first.release(); // idempotent
    const second = await StateDirLock.acquire(stateDir);
    second.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("StateDirLock is refused while another process holds it, and freed when it dies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-lock-" });
  try {
    // A child takes the lock as the registry does (flock), says so, and waits to be killed.
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const f = await Deno.open(${JSON.stringify(join(dir, LOCK_FILE))}, ` +
        `{ read: true, write: true, create: true });` +
        `await f.tryLock(true); await f.write(new TextEncoder().encode("4242\\n"));` +
        `console.log("locked"); await new Promise(() => setInterval(() => {}, 1e6));`,
      ],
      stdout: "piped",
    }).spawn();
    const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await reader.read()).value?.trim(), "locked");
    await assert.rejects(() => StateDirLock.acquire(dir), (e: unknown) => {
      assert.ok(e instanceof StateDirBusyError);
      assert.match(e.message, /another edgemesh agent \(pid 4242\) is using it/);
      assert.match(e.message, /give each agent its own stateDir/);
      return true;
    });
    holder.kill("SIGKILL"); // a crash: the kernel drops the lock with the process
    await holder.status;
    await reader.cancel();
    const lock = await StateDirLock.acquire(dir);
    lock.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("StateDirLock names the state directory when it cannot be created", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-lock-" });
  try {
    // A file where the directory should be, as a read-only or misconfigured stateDir fails.
    const stateDir = join(dir, "state");
    await Deno.writeTextFile(stateDir, "");
    await assert.rejects(() => StateDirLock.acquire(stateDir), (e: unknown) => {
      assert.ok(e instanceof StateDirError, String(e));
      assert.match(e.message, /^Cannot use state directory ".*\/state" \(stateDir\): File exists/);
      assert.ok(e.cause instanceof Deno.errors.AlreadyExists);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Which commit `edgemesh version` and `ctl status` report (lib/cli/build_info.ts). */
import assert from "node:assert/strict";
import {
  type BuildInfo,
  checkoutCommit,
  findBuildInfo,
  parseStamp,
  versionLine,
} from "../../lib/cli/build_info.ts";
import { VERSION } from "../../lib/cli/mod.ts";

const A = "4c8ed3b5e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7";
const B = "0123456789abcdef0123456789abcdef01234567";

/** Reads from a map of absolute path -> text (a directory is simply absent). */
const files = (m: Record<string, string>) => (path: string) => m[path] ?? null;

Deno.test("checkoutCommit() reads HEAD from the files of .git", async (t) => {
  await t.step("a branch as a loose ref", () => {
    const read = files({ "/r/.git/HEAD": "ref: refs/heads/main\n", "/r/.git/refs/heads/main": A });
    assert.equal(checkoutCommit("/r", read), A);
  });
  await t.step("a branch in packed-refs", () => {
    const read = files({
      "/r/.git/HEAD": "ref: refs/heads/main\n",
      "/r/.git/packed-refs": `# pack-refs with: peeled fully-peeled sorted\n${B} refs/heads/dev\n` +
        `${A} refs/heads/main\n^${B}\n`,
    });
    assert.equal(checkoutCommit("/r", read), A);
  });
  await t.step("detached", () => {
    assert.equal(checkoutCommit("/r", files({ "/r/.git/HEAD": `${B}\n` })), B);
  });
  await t.step("a linked worktree: .git is a file, refs are in the common dir", () => {
    const read = files({
      "/w/.git": "gitdir: /r/.git/worktrees/w\n",
      "/r/.git/worktrees/w/HEAD": "ref: refs/heads/topic\n",
      "/r/.git/worktrees/w/commondir": "../..\n",
      "/r/.git/refs/heads/topic": `${B}\n`,
    });
    assert.equal(checkoutCommit("/w", read), B);
  });
  await t.step("a relative gitdir (submodule)", () => {
    const read = files({
      "/r/sub/.git": "gitdir: ../.git/modules/sub\n",
      "/r/.git/modules/sub/HEAD": `${A}\n`,
    });
    assert.equal(checkoutCommit("/r/sub", read), A);
  });
  await t.step("unknown: no .git, an unborn branch, garbage", () => {
    assert.equal(checkoutCommit("/r", files({})), null);
    assert.equal(checkoutCommit("/r", files({ "/r/.git/HEAD": "ref: refs/heads/main\n" })), null);
    assert.equal(checkoutCommit("/r", files({ "/r/.git/HEAD": "nonsense" })), null);
    assert.equal(
      checkoutCommit("/r", files({ "/r/.git/HEAD": "ref: refs/../../etc/x\n" })),
      null,
    );
    const short = files({
      "/r/.git/HEAD": "ref: refs/heads/m\n",
      "/r/.git/refs/heads/m": "4c8ed3b",
    });
    assert.equal(checkoutCommit("/r", short), null);
  });
});

Deno.test("parseStamp() takes only a full commit hash", () => {
  assert.deepEqual(parseStamp(`{ "commit": "${A}", "dirty": true }`), { commit: A, dirty: true });
  assert.deepEqual(parseStamp(`{"commit":"${A}"}`), { commit: A, dirty: false });
  for (const bad of ["", "null", "[]", '{"commit":"4c8ed3b"}', `{"commit":"${A.toUpperCase()}"}`]) {
    assert.equal(parseStamp(bad), null, bad);
  }
});

Deno.test("findBuildInfo(): the checkout first, then the build's stamp, else unknown", async (t) => {
  const url = "file:///opt/edgemesh/lib/cli/build_info.ts";
  const checkout = {
    "/opt/edgemesh/.git/HEAD": "ref: refs/heads/main\n",
    "/opt/edgemesh/.git/refs/heads/main": `${A}\n`,
  };
  const stamp = { "/opt/edgemesh/lib/cli/build_stamp.json": `{ "commit": "${B}", "dirty": true }` };
  await t.step("deno run from a checkout", () => {
    assert.deepEqual(findBuildInfo(url, files(checkout)), {
      version: VERSION,
      commit: A,
      source: "checkout",
      dirty: null,
    });
  });
  await t.step("a checkout wins over a stamp an interrupted build left", () => {
    assert.equal(findBuildInfo(url, files({ ...checkout, ...stamp })).commit, A);
  });
  await t.step("a compiled binary: the embedded stamp", () => {
    assert.deepEqual(findBuildInfo(url, files(stamp)), {
      version: VERSION,
      commit: B,
      source: "build",
      dirty: true,
    });
  });
  await t.step("neither", () => {
    const unknown = { version: VERSION, commit: null, source: null, dirty: null };
    assert.deepEqual(findBuildInfo(url, files({})), unknown);
    assert.deepEqual(
      findBuildInfo("https://example.com/lib/cli/build_info.ts", files({})),
      unknown,
    );
  });
});

Deno.test("versionLine() adds the commit after what it printed before", () => {
  const info = (over: Partial<BuildInfo>): BuildInfo => ({
    version: "0.1.0",
    commit: null,
    source: null,
    dirty: null,
    ...over,
  });
  assert.equal(versionLine(info({}), "2.9.6"), "edgemesh 0.1.0 (deno 2.9.6)\n");
  assert.equal(
    versionLine(info({ commit: A, source: "build", dirty: false }), "2.9.6"),
    `edgemesh 0.1.0 (deno 2.9.6) commit ${A} (build)\n`,
  );
  assert.equal(
    versionLine(info({ commit: A, source: "build", dirty: true }), "2.9.6"),
    `edgemesh 0.1.0 (deno 2.9.6) commit ${A} (build, uncommitted changes)\n`,
  );
  assert.equal(
    versionLine(info({ commit: B, source: "checkout" }), "2.9.6"),
    `edgemesh 0.1.0 (deno 2.9.6) commit ${B} (git checkout)\n`,
  );
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * scripts/build.sh stamps the commit into the binary (lib/cli/build_stamp.json, embedded with
 * `deno compile --include`). `deno compile` cannot run here (it downloads Deno's runtime), so a
 * stand-in `deno` records what the script passes to `compile` and the stamp as it is at that
 * moment. The script runs on a copy in a scratch git repository, never on this checkout.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { parseStamp } from "../../lib/cli/build_info.ts";

const BUILD_SH = fromFileUrl(new URL("../../scripts/build.sh", import.meta.url));

/** A `deno` that answers `run scripts/permissions.ts` and records a `compile`, which fails. */
const FAKE_DENO = `#!/usr/bin/env bash
case "$1" in
  run) echo "--allow-read --allow-net" ;;
  compile)
    printf '%s\\n' "$@" >"$RECORD/args"
    cat lib/cli/build_stamp.json >"$RECORD/stamp" 2>/dev/null || echo none >"$RECORD/stamp"
    echo "error: Setting up base binary: cannot download denort" >&2
    exit 1 ;;
esac
`;

async function have(cmd: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

const TOOLS = (await have("git")) && (await have("bash"));

async function sh(cwd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(args[0]!, {
    args: args.slice(1),
    cwd,
    env: { GIT_CONFIG_NOSYSTEM: "1", HOME: cwd, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** A scratch tree with build.sh, a fake deno and (with `git`) one commit. */
async function scratch(git: boolean) {
  const dir = await Deno.makeTempDir({ prefix: "sqa-build-" });
  await Deno.mkdir(`${dir}/scripts`);
  await Deno.mkdir(`${dir}/lib/cli`, { recursive: true });
  await Deno.mkdir(`${dir}/record`);
  await Deno.copyFile(BUILD_SH, `${dir}/scripts/build.sh`);
  await Deno.writeTextFile(`${dir}/deno`, FAKE_DENO, { mode: 0o755 });
  await Deno.writeTextFile(`${dir}/main.ts`, "// main\n");
  if (git) {
    for (
      const args of [
        ["git", "init", "-q"],
        ["git", "add", "."],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one"],
      ]
    ) assert.equal((await sh(dir, args)).code, 0);
  }
  return {
    dir,
    build: (env: Record<string, string> = {}) =>
      sh(dir, ["bash", "scripts/build.sh", "x86_64-unknown-linux-gnu"], {
        DENO: `${dir}/deno`,
        RECORD: `${dir}/record`,
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        ...env,
      }),
    recorded: async () => ({
      args: (await Deno.readTextFile(`${dir}/record/args`)).trim().split("\n"),
      stamp: (await Deno.readTextFile(`${dir}/record/stamp`)).trim(),
    }),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

const stampGone = async (dir: string) =>
  await assert.rejects(Deno.lstat(`${dir}/lib/cli/build_stamp.json`), Deno.errors.NotFound);

Deno.test({
  name: "build.sh stamps HEAD into the binary, says when the tree has changes, and cleans up",
  ignore: !TOOLS,
  async fn() {
    await using t = await scratch(true);
    const head = (await sh(t.dir, ["git", "rev-parse", "HEAD"])).stdout.trim();
    let r = await t.build();
    assert.equal(r.code, 1, r.stderr); // the stand-in compile fails, as without denort
    assert.match(r.stderr, /could not download Deno's runtime/);
    assert.match(r.stderr, new RegExp(`build: commit ${head} -> lib/cli/build_stamp.json`));
    let rec = await t.recorded();
    assert.equal(rec.args[0], "compile");
    const at = rec.args.indexOf("lib/cli/build_stamp.json");
    assert.ok(at > 0 && rec.args[at - 1] === "--include", rec.args.join(" "));
    assert.ok(rec.args.includes("main.ts"));
    assert.deepEqual(parseStamp(rec.stamp), { commit: head, dirty: false });
    await stampGone(t.dir);

    // A change to a tracked file: the stamp says so.
    await Deno.writeTextFile(`${t.dir}/main.ts`, "// changed\n");
    r = await t.build();
    assert.match(r.stderr, new RegExp(`build: commit ${head} \\(uncommitted changes\\)`));
    rec = await t.recorded();
    assert.deepEqual(parseStamp(rec.stamp), { commit: head, dirty: true });
    await stampGone(t.dir);
  },
});

Deno.test({
  name: "build.sh outside a checkout: EDGEMESH_COMMIT names the commit, else no stamp",
  ignore: !TOOLS,
  async fn() {
    await using t = await scratch(false);
    // GIT_CEILING_DIRECTORIES: the scratch dir's parents are no checkout of ours either.
    const outside = { GIT_CEILING_DIRECTORIES: t.dir.slice(0, t.dir.lastIndexOf("/")) };
    const commit = "0123456789abcdef0123456789abcdef01234567";
    let r = await t.build({ ...outside, EDGEMESH_COMMIT: commit });
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(parseStamp((await t.recorded()).stamp), { commit, dirty: false });
    await stampGone(t.dir);

    r = await t.build(outside);
    assert.match(r.stderr, /no EDGEMESH_COMMIT: the binary will not know its commit/);
    const rec = await t.recorded();
    assert.equal(rec.stamp, "none");
    assert.ok(!rec.args.includes("lib/cli/build_stamp.json"), rec.args.join(" "));

    r = await t.build({ ...outside, EDGEMESH_COMMIT: "v1.2" });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /EDGEMESH_COMMIT "v1\.2" is not a full commit hash/);
  },
});

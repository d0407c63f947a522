// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Tests of the agent's permission flags (scripts/permissions.ts), the one source of truth. */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { LIBC_PATHS } from "../../lib/dns/mmsg.ts";
import { ALLOWED_ENV, permissionFlags } from "../../scripts/permissions.ts";
import { sampled } from "../_helpers/emulation.ts";

const SCRIPT = fromFileUrl(new URL("../../scripts/permissions.ts", import.meta.url));

Deno.test("permissionFlags() narrows writes to the state, runtime and resolver paths", () => {
  const flags = permissionFlags({ stateDir: "/s", runtimeDir: "/r", resolvConf: "/x/resolv" });
  assert.ok(flags.includes("--allow-write=/s,/r,/x/resolv,/x/.resolv.edgemesh-tmp"));
  assert.ok(flags.includes("--allow-run=ip"));
  assert.ok(flags.includes("--allow-net"));
  assert.ok(flags.includes("--unstable-net"));
  assert.ok(flags.includes("--allow-sys=hostname,networkInterfaces"));
  assert.ok(!flags.includes("--allow-all") && !flags.includes("-A"));
  assert.ok(!flags.includes("--allow-write"), "no unrestricted write");
  assert.ok(!flags.includes("--allow-run"), "no unrestricted run");
  assert.ok(!flags.includes("--allow-env"), "no unrestricted env");
  // FFI only for the C library (batched DNS over UDP), never unrestricted.
  assert.ok(!flags.includes("--allow-ffi"), "no unrestricted FFI");
  assert.ok(flags.includes(`--allow-ffi=${LIBC_PATHS.join(",")}`));
  assert.ok(LIBC_PATHS.every((p) => p.startsWith("/") && p.endsWith("/libc.so.6")));
});

Deno.test("permissionFlags() defaults to the production paths", () => {
  const flags = permissionFlags();
  assert.ok(
    flags.includes(
      "--allow-write=/var/lib/edgemesh,/run/edgemesh,/etc/resolv.conf,/etc/.resolv.conf.edgemesh-tmp",
    ),
  );
  assert.deepEqual(permissionFlags({ stateDir: undefined }), flags);
});

Deno.test("permissionFlags() allows the env variables npm yaml, ctl and sd_notify read", () => {
  const env = permissionFlags().find((f) => f.startsWith("--allow-env="));
  assert.equal(env, `--allow-env=${ALLOWED_ENV.join(",")}`);
  assert.equal(
    env,
    "--allow-env=LOG_TOKENS,LOG_STREAM,EDGEMESH_SOCKET,NOTIFY_SOCKET,WATCHDOG_USEC,WATCHDOG_PID",
    "npm yaml's switches, ctl's default socket, systemd's readiness socket and watchdog",
  );
});

Deno.test("README.md's Permissions block is exactly what scripts/permissions.ts prints", async () => {
  // Operators copy these flags (and `make build` compiles them in): the README must not drift
  // from the one source of truth, as it once did by leaving out --allow-ffi.
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const section = readme.split("\n## Permissions\n")[1]?.split("\n## ")[0];
  assert.ok(section, "README.md has a Permissions section");
  const block = /\n```\n([^`]*)\n```\n/.exec(section)?.[1];
  assert.ok(block, "the Permissions section has a code block");
  assert.deepEqual(block.split(/\s+/), permissionFlags());
});

Deno.test("permissionFlags() rejects paths Deno cannot list", async (t) => {
  for (const bad of ["", "/a,b"]) {
    await t.step(JSON.stringify(bad), () => {
      assert.throws(() => permissionFlags({ stateDir: bad }), { name: "TypeError" });
    });
  }
});

Deno.test("scripts/permissions.ts prints the flags for the Makefile", async (t) => {
  const cases: { name: string; args: string[]; want: string[] }[] = [
    { name: "defaults", args: [], want: permissionFlags() },
    {
      name: "custom paths",
      args: ["--state-dir", "/tmp/st", "--runtime-dir", "/tmp/rt", "--resolv-conf", "/tmp/rc"],
      want: permissionFlags({ stateDir: "/tmp/st", runtimeDir: "/tmp/rt", resolvConf: "/tmp/rc" }),
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", SCRIPT, ...c.args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.equal(new TextDecoder().decode(out.stdout), c.want.join(" ") + "\n");
    });
  }
});

Deno.test("scripts/permissions.ts --help lists its flags; usage errors are one line, exit 2", async (t) => {
  const run = async (args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", SCRIPT, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
  await t.step("--help", async () => {
    for (const flag of sampled(["--help", "-h"], 1)) {
      const r = await run([flag]);
      assert.equal(r.code, 0, r.stderr);
      for (const option of ["--state-dir DIR", "--runtime-dir DIR", "--resolv-conf FILE"]) {
        assert.ok(r.stdout.includes(option), r.stdout);
      }
      assert.equal(r.stderr, "");
    }
  });
  const rows: [string[], string][] = [
    [["--bogus"], "unknown flag --bogus"],
    [["--state-dir"], "flag --state-dir needs a value"],
    [["extra"], 'unexpected argument "extra"'],
    [
      ["--runtime-dir", "/a,b"],
      'Cannot build permission flags: path "/a,b" is empty or has a comma',
    ],
  ];
  for (const [args, message] of sampled(rows, 1)) {
    await t.step(args.join(" "), async () => {
      const r = await run(args);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `permissions.ts: ${message} (see --help)\n`);
      assert.equal(r.stdout, "");
    });
  }
});

Deno.test("npm yaml parses under exactly the agent's permissions", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-perm-" });
  try {
    const file = `${dir}/yaml_probe.ts`;
    await Deno.writeTextFile(
      file,
      `import { parseAllDocuments } from "yaml";\n` +
        `console.log(parseAllDocuments("a: 1\\n---\\nb: [x]\\n").length);\n`,
    );
    const config = fromFileUrl(new URL("../../deno.json", import.meta.url));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--config", config, ...permissionFlags(), file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout), "2\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** The real entry point in a child process: help, version, usage errors, runtime errors. */
import assert from "node:assert/strict";
import { sampled } from "../_helpers/emulation.ts";
import { startFakeAgent } from "../_helpers/fake_control.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

async function edgemesh(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-net", MAIN, ...args],
    stdin: "null",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("edgemesh --help and -h print help on every command", async (t) => {
  const rows: [string[], string][] = [
    [["--help"], "Usage:\n  edgemesh run"],
    [["-h"], "edgemesh version"],
    [["help"], "edgemesh ctl <command>"],
    [["run", "--help"], "--log-format FORMAT"],
    [["ctl", "--help"], "apply -f FILE|-"],
    [["ctl", "apply", "--help"], "a List (items)"],
    [["ctl", "delete", "-h"], "delete node NAME"],
    [["ctl", "get", "--help"], "NAMESPACE NAME VIP PORTS ENDPOINTS"],
    [["ctl", "status", "--help"], "last sync time"],
    [["version", "--help"], "Print the edgemesh version"],
  ];
  for (const [args, want] of sampled(rows, 1)) {
    await t.step(args.join(" "), async () => {
      const r = await edgemesh(args);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes(want), r.stdout);
      assert.equal(r.stderr, "");
    });
  }
});

Deno.test("edgemesh version and --version print the version", async () => {
  for (const args of sampled([["version"], ["--version"]], 1)) {
    const r = await edgemesh(args);
    assert.equal(r.code, 0);
    // The commit follows when known (from a git checkout, as here, or a stamped build).
    assert.match(
      r.stdout,
      /^edgemesh \d+\.\d+\.\d+ \(deno \d+\.\d+\.\d+\)( commit [0-9a-f]{40,64} \((git checkout|build(, uncommitted changes)?)\))?\n$/,
    );
  }
});

Deno.test("edgemesh usage errors print one line and exit 2", async (t) => {
  const rows: [string[], string][] = [
    [["run", "--foo"], "edgemesh: unknown flag --foo (see edgemesh run --help)"],
    [["run", "--config"], "edgemesh: flag --config needs a value (see edgemesh run --help)"],
    [["run", "extra"], 'edgemesh: unexpected argument "extra" (see edgemesh run --help)'],
    [["frobnicate"], 'edgemesh: unknown command "frobnicate" (see edgemesh --help)'],
    [["--bogus"], "edgemesh: unknown flag --bogus (see edgemesh --help)"],
    [[], "edgemesh: missing command (run, ctl, version) (see edgemesh --help)"],
    [["ctl"], "edgemesh: missing command (see edgemesh ctl --help)"],
    [["ctl", "explode"], 'edgemesh: unknown command "explode" (see edgemesh ctl --help)'],
    [["ctl", "apply"], "edgemesh: apply needs -f FILE or -f - (see edgemesh ctl apply --help)"],
    [
      ["ctl", "get", "pods"],
      'edgemesh: cannot get "pods" (services, endpoints) (see edgemesh ctl get --help)',
    ],
    [
      ["ctl", "get", "services", "-o", "yaml"],
      'edgemesh: unknown output format "yaml" (table, json) (see edgemesh ctl get --help)',
    ],
    [
      ["ctl", "delete", "widget", "a/b"],
      'edgemesh: unknown kind "widget" (service, endpoints, endpointslice, pod, node) (see edgemesh ctl delete --help)',
    ],
    [
      ["ctl", "delete", "service"],
      "edgemesh: delete service needs a name (see edgemesh ctl delete --help)",
    ],
    [
      ["ctl", "delete", "service", "a/b/c"],
      'edgemesh: bad name "a/b/c" (expected NS/NAME or NAME) (see edgemesh ctl delete --help)',
    ],
    [["ctl", "--nope", "status"], "edgemesh: unknown flag --nope (see edgemesh ctl --help)"],
  ];
  for (const [args, want] of sampled(rows, 1)) {
    await t.step(args.join(" "), async () => {
      const r = await edgemesh(args);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, want + "\n");
      assert.equal(r.stdout, "");
    });
  }
});

Deno.test("edgemesh runtime failures print the reason and exit 1", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "em-cli-" });
  try {
    const sock = `${dir}/missing.sock`;
    // One child process each (≈5 s under emulation): there the first two (ctl, run) are
    // enough to prove the paths; every row runs natively.
    const steps: [string, () => Promise<void>][] = [
      ["ctl with no agent on the socket", async () => {
        const r = await edgemesh(["ctl", "--socket", sock, "get", "services"]);
        assert.equal(r.code, 1);
        assert.equal(
          r.stderr,
          `edgemesh: Cannot connect to control socket "${sock}": no such socket (is the agent running?)\n`,
        );
      }],
      ["run with an invalid config lists every problem", async () => {
        const file = `${dir}/bad.yaml`;
        await Deno.writeTextFile(file, "subnet: 9.251.0.0/33\nsubent: x\n");
        const r = await edgemesh(["run", "--config", file, "--log-level", "loud"]);
        assert.equal(r.code, 1);
        assert.equal(
          r.stderr,
          `edgemesh: invalid config "${file}" and flags (3 problems):\n` +
            `  subent: unknown key "subent" (did you mean "subnet"?)\n` +
            `  subnet: "9.251.0.0/33" is not a CIDR\n` +
            `  --log-level (logLevel): "loud" is not one of debug, info, warn, error\n`,
        );
      }],
      ["ctl against a peer that answers garbage settles and exits 1", async () => {
        const fake = startFakeAgent(`${dir}/fake.sock`, () => "garbage");
        try {
          const r = await edgemesh(["ctl", "--socket", fake.path, "status"]);
          assert.equal(r.code, 1);
          assert.equal(
            r.stderr,
            "edgemesh: Cannot read the agent's reply: not valid JSON: garbage\n",
          );
          assert.equal(fake.received.length, 1);
        } finally {
          await fake.close();
        }
      }],
      ["EDGEMESH_SOCKET selects the socket", async () => {
        const r = await edgemesh(["ctl", "status"], { EDGEMESH_SOCKET: sock });
        assert.equal(r.code, 1);
        assert.ok(r.stderr.includes(`"${sock}"`), r.stderr);
      }],
      ["ctl apply of a missing file", async () => {
        const r = await edgemesh(["ctl", "--socket", sock, "apply", "-f", `${dir}/nope.yaml`]);
        assert.equal(r.code, 1);
        assert.equal(r.stderr, `edgemesh: Cannot read "${dir}/nope.yaml": no such file\n`);
      }],
      ["run: the header blames the file only for the file's problems", async () => {
        const bad = `${dir}/bad2.yaml`;
        await Deno.writeTextFile(bad, "dnsTtl: -1\n");
        const good = `${dir}/good.yaml`;
        await Deno.writeTextFile(good, "nodeName: n1\n");
        const rows: [string[], string][] = [
          [
            ["--config", bad],
            `edgemesh: invalid config "${bad}" (1 problem):\n` +
            "  dnsTtl: -1 is out of range 0-3600\n",
          ],
          // A good file and a bad flag value: the file is not to blame.
          [
            ["--config", good, "--log-level", "trace"],
            "edgemesh: invalid configuration (1 problem):\n" +
            '  --log-level (logLevel): "trace" is not one of debug, info, warn, error\n',
          ],
          [
            ["--log-level", "trace"],
            "edgemesh: invalid configuration (1 problem):\n" +
            '  --log-level (logLevel): "trace" is not one of debug, info, warn, error\n',
          ],
        ];
        for (const [args, stderr] of rows) {
          const r = await edgemesh(["run", ...args]);
          assert.equal(r.code, 1, "a configuration error exits 1, not 2");
          assert.equal(r.stderr, stderr);
        }
      }],
    ];
    for (const [name, fn] of sampled(steps, 2)) await t.step(name, fn);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ctl under narrow permissions says which sockets it may reach, not to add a flag", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-cli-perm-" });
  try {
    const sock = `${dir}/edgemesh.sock`;
    // As a compiled binary runs: write access only to its own runtime directory.
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        "--allow-write=/run/edgemesh-not-here",
        MAIN,
        "ctl",
        "--socket",
        sock,
        "status",
      ],
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.match(
      stderr,
      new RegExp(
        `^edgemesh: Cannot connect to control socket "${sock}": this edgemesh may only reach ` +
          "sockets under the directories its permission flags name",
      ),
    );
    assert.ok(!stderr.includes("run again with the --allow-write flag"), stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** `edgemesh run` as a real process: JSON logs, SIGTERM → clean stop and exit 0, start-up failure → 1. */
import assert from "node:assert/strict";
import { describeIssue, NOT_CAPABLE_HINT, run } from "../../lib/cli/run.ts";
import { failureText, TASK_LIMIT_HINT } from "../../lib/cli/permission_error.ts";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** The agent creates a device and binds ports: it runs in a namespace of its own. */
function spawnRun(netns: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      netns,
      Deno.execPath(),
      "run",
      "-A",
      "--unstable-net",
      MAIN,
      "run",
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Reads stderr lines until one matches `ready`; returns every line read so far and the rest. */
async function waitForLine(
  child: Deno.ChildProcess,
  ready: (line: string) => boolean,
): Promise<{ lines: string[]; rest: Promise<string[]> }> {
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const lines: string[] = [];
  let buf = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`agent exited before ready:\n${lines.join("\n")}${buf}`);
    buf += value;
    const parts = buf.split("\n");
    buf = parts.pop()!;
    lines.push(...parts);
    if (parts.some(ready)) break;
  }
  const rest = (async () => {
    const more: string[] = [];
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
    }
    more.push(...buf.split("\n").filter((l) => l !== ""));
    return more;
  })();
  return { lines, rest };
}

Deno.test({
  name: "edgemesh run logs JSON, stops cleanly on SIGTERM, and a second agent exits 1",
  ignore: !NETNS_AVAILABLE,
}, async () => {
  await using ns = await createNetns("run");
  const dir = await Deno.makeTempDir({ prefix: "em-run-" });
  const sock = `${dir}/run/edgemesh.sock`;
  const args = [
    "--state-dir",
    `${dir}/state`,
    "--control-socket",
    sock,
    "--node-name",
    "edge-run",
    "--log-format",
    "json",
  ];
  const agent = spawnRun(ns.name, args);
  try {
    const { lines, rest } = await waitForLine(agent, (l) => l.includes('"msg":"agent ready"'));
    const first = JSON.parse(lines[0]!);
    assert.equal(first.level, "info");
    assert.equal(first.msg, "agent starting");
    assert.equal(first.node, "edge-run");

    const second = await new Deno.Command("ip", {
      args: [
        ...["netns", "exec", ns.name, Deno.execPath(), "run", "-A", "--unstable-net", MAIN, "run"],
        ...args,
        ...["--state-dir", `${dir}/s2`],
      ],
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(second.code, 1);
    const err = new TextDecoder().decode(second.stderr).trimEnd().split("\n");
    assert.equal(
      err.at(-1),
      `edgemesh: Cannot listen on control socket "${sock}": another edgemesh agent is already listening there`,
    );

    agent.kill("SIGTERM");
    const status = await agent.status;
    assert.equal(status.code, 0);
    const tail = (await rest).map((l) => JSON.parse(l).msg);
    assert.deepEqual(tail.slice(-2), ["control socket closed", "agent stopped"]);
    await assert.rejects(() => Deno.lstat(sock), Deno.errors.NotFound);
  } finally {
    try {
      agent.kill("SIGKILL");
    } catch { /* already exited */ }
    await agent.status;
    await agent.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("describeIssue() names the flag a problem came from", async (t) => {
  const rows: [string, { path: string; message: string }, Record<string, unknown>, string][] = [
    ["from a flag", { path: "subnet", message: "x" }, { subnet: "1/40" }, "--subnet (subnet): x"],
    [
      "an element of a repeatable flag",
      { path: "dnsListen[1]", message: "y" },
      { dnsListen: ["a", "b"] },
      "--dns-listen (dnsListen[1]): y",
    ],
    ["from the file", { path: "subnet", message: "x" }, {}, "subnet: x"],
    ["a key without a flag", { path: "dnsTtl", message: "z" }, { dnsTtl: 1 }, "dnsTtl: z"],
    ["document level", { path: "", message: "w" }, { subnet: "s" }, "w"],
  ];
  for (const [name, issue, overrides, want] of rows) {
    await t.step(name, () => assert.equal(describeIssue(issue, overrides), want));
  }
});

Deno.test("run explains a permission failure: the flags name the writable paths", async () => {
  let stderr = "";
  const io = {
    stdout: () => {},
    stderr: (t: string) => void (stderr += t),
    readStdin: () => Promise.resolve(""),
    env: () => undefined,
  };
  const code = await run(["--node-name", "n"], io, {
    runAgent: () =>
      Promise.reject(
        new Deno.errors.NotCapable(
          'Requires write access to "/srv/em", run again with the --allow-write flag',
        ),
      ),
    stopSignal: () => ({ signal: new AbortController().signal, dispose() {} }),
    hostname: "h",
  });
  assert.equal(code, 1);
  // edgemesh's words, not Deno's advice to add a flag (impossible for a compiled binary).
  assert.equal(
    stderr,
    'edgemesh: not permitted to write "/srv/em" (not a path this edgemesh\'s permission flags ' +
      "allow)\n" + NOT_CAPABLE_HINT,
  );
  assert.match(
    NOT_CAPABLE_HINT,
    /scripts\/permissions\.ts --state-dir DIR --runtime-dir DIR --resolv-conf FILE/,
  );
  assert.doesNotMatch(stderr, /run again with|--allow-write/);
});

Deno.test("permission failures are said in edgemesh's words, wrapped or not", async (t) => {
  const rows: [string, unknown, string][] = [
    [
      "a write wrapped in the agent's own error",
      new Error(
        'Cannot update "/etc/r.conf": Requires write access to "/etc/r.conf", run again with ' +
          "the --allow-write flag",
        { cause: new Deno.errors.NotCapable("…") },
      ),
      'edgemesh: Cannot update "/etc/r.conf": not permitted to write "/etc/r.conf" (not a path ' +
      "this edgemesh's permission flags allow)\n" + NOT_CAPABLE_HINT,
    ],
    [
      "another kind: no write hint",
      new Deno.errors.NotCapable(
        'Requires run access to "iptables", run again with the --allow-run flag',
      ),
      'edgemesh: not permitted: run access to "iptables" is not in this edgemesh\'s permission ' +
      "flags\n",
    ],
    [
      "a kind without a resource",
      new Deno.errors.NotCapable("Requires net access, run again with the --allow-net flag"),
      "edgemesh: not permitted: net access is not in this edgemesh's permission flags\n",
    ],
    [
      "a spawn refused under a task limit (pids.max 8, proxyThreads 4): the limit and the fix",
      new Error("Failed to spawn '/usr/sbin/ip': Resource temporarily unavailable (os error 11)"),
      "edgemesh: Failed to spawn '/usr/sbin/ip': Resource temporarily unavailable (os error 11)\n" +
      TASK_LIMIT_HINT,
    ],
    [
      "a proxy worker thread refused under a task limit: the bare error, with the hint",
      new Error("Resource temporarily unavailable (os error 11)"),
      "edgemesh: Resource temporarily unavailable (os error 11)\n" + TASK_LIMIT_HINT,
    ],
    [
      "another os error: no task hint",
      new Error("Cannot bind: Address already in use (os error 98)"),
      "edgemesh: Cannot bind: Address already in use (os error 98)\n",
    ],
    [
      "not a permission failure: as it is",
      new Error('Requires write access to "/x", run again with the --allow-write flag'),
      'edgemesh: Requires write access to "/x", run again with the --allow-write flag\n',
    ],
  ];
  for (const [name, err, want] of rows) {
    await t.step(name, () => assert.equal(failureText(err), want));
  }
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `make demo` (scripts/demo.sh, issue 6): two namespace nodes, real agents, a service across
 * both. The demo must show the VIP and answers from both nodes, and leave nothing behind —
 * also when interrupted.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { NETNS_AVAILABLE } from "../_helpers/netns.ts";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const DEMO = join(ROOT, "scripts", "demo.sh");

/** What the demo created, read from its own output (step 1). */
function createdBy(output: string): { namespaces: string[]; workDir: string } {
  const namespaces = [...output.matchAll(/namespace (em-demo-\S+)/g)].map((m) => m[1]!);
  const workDir = /work dir (\S+)/.exec(output)?.[1];
  assert.equal(namespaces.length, 3, output);
  assert.ok(workDir, output);
  return { namespaces, workDir };
}

async function assertGone(output: string): Promise<void> {
  const { namespaces, workDir } = createdBy(output);
  const list = await new Deno.Command("ip", { args: ["netns", "list"], stderr: "null" }).output();
  const existing = new TextDecoder().decode(list.stdout);
  for (const ns of namespaces) assert.ok(!existing.includes(ns), `${ns} was deleted`);
  await assert.rejects(Deno.stat(workDir), Deno.errors.NotFound);
  for (const m of output.matchAll(/agent ready \(pid (\d+)\)/g)) {
    await assert.rejects(Deno.stat(`/proc/${m[1]}`), Deno.errors.NotFound, `agent ${m[1]} exited`);
  }
}

function demoCommand(env: Record<string, string> = {}, stdin: "null" | "piped" = "null") {
  return new Deno.Command("bash", {
    args: [DEMO],
    cwd: ROOT,
    env: { DENO: Deno.execPath(), NO_COLOR: "1", ...env },
    stdin,
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test({
  name: "scripts/demo.sh resolves the service to a VIP, reaches both nodes and cleans up",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    const out = await demoCommand().output();
    const stdout = new TextDecoder().decode(out.stdout);
    const text = stdout + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    const vip = /hello\.default\.svc\.cluster\.local -> (9\.251\.\d+\.\d+)/.exec(stdout)?.[1];
    assert.ok(vip, `the name resolved to a VIP:\n${text}`);
    assert.match(stdout, new RegExp(`default\\s+hello\\s+${vip.replaceAll(".", "\\.")}\\s`));
    // Answers from both nodes; node-b's came through the tunnel (its own agent dialled it).
    assert.match(
      stdout,
      /\d\. hello from node-a \(10\.250\.0\.1:8080\), connection from 10\.250\.0\.1/,
    );
    assert.match(
      stdout,
      /\d\. hello from node-b \(10\.250\.0\.2:8080\), connection from 10\.250\.0\.2/,
    );
    assert.doesNotMatch(stdout, /failed:/);
    assert.match(stdout, /Peers: .*node-b 10\.250\.0\.2:40001 up/);
    assert.match(stdout, /edgemesh_tunnel_streams_total\{direction="in",result="ok"\} [1-9]/);
    assert.match(stdout, /What happened/);
    await assertGone(stdout);
  },
});

Deno.test({
  name: "scripts/demo.sh cleans up everything when interrupted",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    // DEMO_PAUSE holds the demo with everything running until we interrupt it.
    const child = demoCommand({ DEMO_PAUSE: "1" }, "piped").spawn();
    const stderr = new Response(child.stderr).text();
    let stdout = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (!stdout.includes("press Enter")) {
      const r = await reader.read();
      if (r.done) break;
      stdout += r.value;
    }
    if (!stdout.includes("press Enter")) {
      assert.fail(`The demo did not pause:\n${stdout}${await stderr}`);
    }
    child.kill("SIGINT");
    for (let r = await reader.read(); !r.done; r = await reader.read()) stdout += r.value;
    await child.stdin.close();
    const status = await child.status;
    assert.equal(status.code, 130, stdout + await stderr);
    assert.match(stdout, /Cleaning up/);
    assert.doesNotMatch(stdout, /What happened/);
    await assertGone(stdout);
    await stderr;
  },
});

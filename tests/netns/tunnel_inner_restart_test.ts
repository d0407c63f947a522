// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A real `EMFILE`: a TunnelServer under `prlimit --nofile=256`, and a local process that opens
 * 400 idle connections straight to the loopback port of its `Deno.serve` (outside the front's
 * caps). `Deno.serve`'s accept fails and it stops for good (Deno 2.9.6); the tunnel starts a
 * new one, and once the flood lets go a new connection to the same `tunnelListen` is served.
 * (Before, the tunnel served no new connection until the process was restarted.) Its own
 * namespace only for a loopback no other test uses; native only (spawns three `deno`s).
 */
import assert from "node:assert/strict";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";
import { pollUntil } from "../_helpers/poll.ts";
import type { DialResult, DialSpec, HoldSpec, ServeSpec } from "../tunnel/_node.ts";

const NODE_SCRIPT = new URL("../tunnel/_node.ts", import.meta.url).pathname;
const TUNNEL_PORT = 40001;
const ECHO_PORT = 8080;
const LIMIT = 256;

const HAS_PRLIMIT = await new Deno.Command("prlimit", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

/** Collects a child's stdout lines as they come. */
function lines(child: Deno.ChildProcess): string[] {
  const out: string[] = [];
  (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      out.push(...parts);
    }
  })().catch(() => {});
  return out;
}

async function kill(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* exited */ }
  await child.status;
}

Deno.test({
  name: "tunnel out of descriptors: its Deno.serve stops, a new one serves new connections after",
  ignore: !NETNS_AVAILABLE || !HAS_PRLIMIT,
  async fn() {
    await using ns = await createNetns("inner", "tqb");
    const deno = [Deno.execPath(), "run", "-A", "--unstable-net", NODE_SCRIPT];
    const serve: ServeSpec = {
      nodeName: "b",
      listen: `127.0.0.1:${TUNNEL_PORT}`,
      echoHost: "127.0.0.1",
      echoPort: ECHO_PORT,
      greeting: "B:",
      services: [{
        namespace: "default",
        name: "echo",
        port: 80,
        endpoints: [{ ip: "127.0.0.1", port: ECHO_PORT, nodeName: "b" }],
      }],
      log: true,
      loopbackEndpoints: true,
    };
    const dial: DialSpec = {
      nodeName: "a",
      port: TUNNEL_PORT,
      nodes: [{ name: "b", addresses: [{ type: "InternalIP", address: "127.0.0.1" }] }],
      targets: [{ service: "echo", ip: "127.0.0.1", port: ECHO_PORT, nodeName: "b" }],
    };
    const dialOnce = async () =>
      JSON.parse((await ns.run([...deno, "dial", JSON.stringify(dial)])).trim()) as DialResult;

    const node = ns.spawn(
      ["prlimit", `--nofile=${LIMIT}:${LIMIT}`, "--", ...deno, "serve", JSON.stringify(serve)],
      { stdout: "piped", stderr: "inherit", stdin: "null" },
    );
    const out = lines(node);
    let holder: Deno.ChildProcess | null = null;
    try {
      const ready = await pollUntil(
        () => out.find((l) => l.startsWith("ready ")),
        () => `the node's ready line; output: ${out.join("\n")}`,
      );
      const innerPort = Number(ready.split(" ")[2]);
      assert.ok(innerPort > 0, ready);
      assert.deepEqual(await dialOnce(), { reply: "B:hello" });

      const hold: HoldSpec = { host: "127.0.0.1", port: innerPort, count: 400 };
      holder = ns.spawn([...deno, "hold", JSON.stringify(hold)], {
        stdout: "piped",
        stderr: "inherit",
        stdin: "null",
      });
      const held = lines(holder);
      await pollUntil(() => held.some((l) => l.startsWith("held ")), () => "the flood");
      const log = () => out.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
      const stopped = await pollUntil(
        () => log().find((l) => l.msg?.startsWith("Tunnel server stopped accepting")),
        () => `the stop; held ${held.join()}; log:\n${out.join("\n")}`,
      );
      assert.match(String(stopped.error), /Too many open files/);
      await kill(holder);
      holder = null;
      await pollUntil(
        () => log().some((l) => l.msg === "tunnel server restarted"),
        () => `the restart; log:\n${out.join("\n")}`,
        40_000,
      );
      assert.deepEqual(await dialOnce(), { reply: "B:hello" }, out.join("\n"));
    } finally {
      if (holder !== null) await kill(holder);
      await kill(node);
    }
  },
});

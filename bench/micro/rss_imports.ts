// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Idle resident memory (RSS) of the agent and of what it imports: which modules cost memory
 * just by being loaded (npm packages pull in Deno's node-compat machinery, `node:http2` and
 * `node:crypto` their polyfills), and what an idle agent with 0 services uses.
 *
 * Rows (each measured `--runs` times, the median printed):
 * - `bare`: `deno run` of an idle script (the runtime's own floor);
 * - `import <spec>`: an idle script that only imports `<spec>` (repeat `--import`);
 * - `agent idle (json)`: `main.ts run --config <file>.json`, tunnel off, 0 services, under the
 *   production permission flags (`permissionFlags()` of scripts/permissions.ts), in a network
 *   namespace of its own (`em-rss-<random>`, loopback up; the agent creates `edge0` and its
 *   DNS address 9.251.0.1 there); started with `startAgent()` of tests/_helpers/agent.ts;
 * - `agent idle (yaml)`: the same with the config written as YAML (the format of
 *   deploy/edgemesh.yaml), which is when `npm:yaml` gets loaded.
 *
 * Each process is given `--settle` ms after it is ready (the agent's `agent ready` log line,
 * a script's `ready` line), then `VmRSS` is read from `/proc/<pid>/status` and the process is
 * stopped; the namespace is removed afterwards. Only RSS is measured (no load, no CPU timing).
 *
 * Run (root, for the namespace): `deno run -A bench/micro/rss_imports.ts [--runs 3]
 * [--settle 2000] [--import yaml --import node:http2 …] [--set proxyThreads=1 …] [--no-agent]`.
 * `--import` takes bare names, `node:`/`npm:` specifiers or repository paths (`lib/dns/mod.ts`);
 * `--set key=<JSON>` adds agent config keys. Prints a table and, with `--json`, one JSON
 * object.
 * @module
 */
// deno-lint-ignore-file no-console
import { parseArgs } from "node:util";
import { join } from "node:path";
import { DENO_JSON, startAgent } from "../../tests/_helpers/agent.ts";
import { createNetns } from "../../tests/_helpers/netns.ts";
import { rssMiB } from "../lib/rss.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "3" },
    settle: { type: "string", default: "2000" },
    import: { type: "string", multiple: true, default: [] },
    "no-agent": { type: "boolean", default: false },
    set: { type: "string", multiple: true, default: [] },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
const runs = Number(values.runs);
/** Extra agent config keys from `--set key=<JSON value>` (e.g. `--set proxyThreads=1`). */
const extraConfig: Record<string, unknown> = Object.fromEntries(
  values.set.map((kv) => {
    const at = kv.indexOf("=");
    if (at < 1) throw new TypeError(`Cannot read --set "${kv}": expected key=<JSON value>`);
    return [kv.slice(0, at), JSON.parse(kv.slice(at + 1))];
  }),
);
const settleMs = Number(values.settle);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const ROOT = new URL("../../", import.meta.url);

/** Repository paths (`lib/dns/mod.ts`, `main.ts`) as file URLs; bare and `node:`/`npm:` as given. */
function resolveSpec(spec: string): string {
  return /\.ts$/.test(spec) && !/^[a-z]+:/.test(spec) ? new URL(spec, ROOT).href : spec;
}

/** RSS of an idle `deno run` of a script that imports `specs` and then waits. */
async function scriptRss(specs: readonly string[]): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "em-rss-" });
  try {
    const file = join(dir, "idle.ts");
    const imports = specs.map((s) => `import ${JSON.stringify(resolveSpec(s))};\n`).join("");
    await Deno.writeTextFile(
      file,
      `${imports}console.log("ready");\nsetInterval(() => {}, 1 << 30);\n`,
    );
    // The import map of deno.json resolves bare names (`yaml`).
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "-A", "--config", DENO_JSON, file],
      stdout: "piped",
      stderr: "inherit",
      stdin: "null",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("ready\n")) {
        const r = await reader.read();
        if (r.done) throw new Error(`Idle script for ${specs.join(", ") || "bare"} exited`);
        seen += r.value;
      }
      reader.releaseLock();
      await sleep(settleMs);
      const rss = rssMiB(child.pid);
      if (rss === null) throw new Error(`Cannot read RSS of ${child.pid}`);
      return rss;
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Same keys as JSON and as (flat) YAML. */
function yamlOf(config: Record<string, unknown>): string {
  return Object.entries(config).map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`).join("");
}

/** RSS of an idle agent with 0 services in a namespace of its own. */
async function agentRss(format: "json" | "yaml"): Promise<number> {
  await using ns = await createNetns("rss");
  const dir = await Deno.makeTempDir({ prefix: "em-rss-agent-" });
  try {
    const config = {
      nodeName: "rss-node",
      stateDir: join(dir, "state"),
      controlSocket: join(dir, "run", "edgemesh.sock"),
      metricsListen: "127.0.0.1:0",
      ...extraConfig,
    };
    const extraArgs: string[] = [];
    if (format === "yaml") {
      // A later --config wins over the JSON file startAgent writes.
      const file = join(dir, "edgemesh.yaml");
      await Deno.writeTextFile(file, yamlOf(config));
      extraArgs.push("--config", file);
    }
    await using agent = await startAgent({ config, netns: ns, dir, extraArgs });
    await sleep(settleMs);
    const rss = rssMiB(agent.pid);
    if (rss === null) throw new Error(`Cannot read RSS of the agent (pid ${agent.pid})`);
    return rss;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const rows: { row: string; rssMiB: number; samples: number[] }[] = [];
async function measure(row: string, f: () => Promise<number>): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(Math.round((await f()) * 10) / 10);
  rows.push({ row, rssMiB: median(samples), samples });
  if (!values.json) {
    console.log(
      `${row.padEnd(40)} ${median(samples).toFixed(1).padStart(6)} MiB  ${JSON.stringify(samples)}`,
    );
  }
}

await measure("bare", () => scriptRss([]));
for (const spec of values.import) await measure(`import ${spec}`, () => scriptRss([spec]));
if (!values["no-agent"]) {
  await measure("agent idle (json), 0 services", () => agentRss("json"));
  await measure("agent idle (yaml), 0 services", () => agentRss("yaml"));
}
if (values.json) console.log(JSON.stringify({ runs, settleMs, rows }));

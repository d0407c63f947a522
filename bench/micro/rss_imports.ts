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
 *   namespace of its own (`<prefix>-rss-<random>`, loopback up; the agent creates `edge0` and its
 *   DNS address 9.251.0.1 there); started with `startAgent()` of tests/_helpers/agent.ts;
 * - `agent idle (yaml)`: the same with the config written as YAML (the format of
 *   deploy/edgemesh.yaml), which is when `npm:yaml` gets loaded.
 *
 * Each process is given `--settle` ms after it is ready (the agent's `agent ready` log line,
 * a script's `ready` line), then `VmRSS` and its parts `RssAnon`, `RssFile` and `RssShmem` are
 * read from `/proc/<pid>/status` and the process is stopped; the namespace is removed afterwards.
 * Only RSS is measured (no load, no CPU timing).
 *
 * Other trees (`--tree /tmp/wt-<rev>`, repeatable: `git worktree add` each commit once and
 * symlink `node_modules`) run their own `main.ts`, `deno.json` and agent helper; the trees
 * alternate (ABBA…), and the first `--warmup` runs of each tree are dropped, since a path deno
 * has not run yet starts without its code cache (≈18 MiB more anonymous memory).
 *
 * The reading is a moment in V8's collection cycle: within seconds of the start the agent has
 * either had its fourth scavenge (V8's heap about 1.2 MiB larger) or not, depending on how much
 * it allocated; a tree that allocates a little more at start can read 1–1.5 MiB higher at
 * `--settle 2000` than after its first idle minutes. For a change of a few hundred KiB compare
 * with `--settle 45000` too (after the memory reducer's full collection).
 *
 * Run (root, for the namespace): `deno run -A bench/micro/rss_imports.ts [--runs 3]
 * [--settle 2000] [--import yaml --import node:http2 …] [--set proxyThreads=1 …] [--no-agent]
 * [--no-yaml] [--tree DIR …] [--warmup 1] [--netns-prefix em]`.
 * `--import` takes bare names, `node:`/`npm:` specifiers or repository paths (`lib/dns/mod.ts`);
 * `--set key=<JSON>` adds agent config keys. Prints a table and, with `--json`, one JSON
 * object.
 * @module
 */
// deno-lint-ignore-file no-console
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DENO_JSON, type startAgent } from "../../tests/_helpers/agent.ts";
import { createNetns } from "../../tests/_helpers/netns.ts";
import { parseStatusMiB, rssMiB, type StatusField } from "../lib/rss.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "3" },
    settle: { type: "string", default: "2000" },
    import: { type: "string", multiple: true, default: [] },
    "no-agent": { type: "boolean", default: false },
    "no-yaml": { type: "boolean", default: false },
    tree: { type: "string", multiple: true, default: [] },
    warmup: { type: "string", default: "1" },
    "netns-prefix": { type: "string", default: "em" },
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
const warmup = Number(values.warmup);

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

/** `VmRSS` and its parts, MiB. */
type Parts = Record<"VmRSS" | "RssAnon" | "RssFile" | "RssShmem", number>;
const PARTS = ["VmRSS", "RssAnon", "RssFile", "RssShmem"] as const satisfies readonly StatusField[];

function partsOf(pid: number): Parts {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Object.fromEntries(
    PARTS.map((f) => [f, parseStatusMiB(status, f) ?? NaN]),
  ) as Parts;
}

/** RSS of an idle agent of `tree` (its own helper, main.ts and deno.json), 0 services. */
async function agentRss(tree: string, format: "json" | "yaml"): Promise<Parts> {
  const helper = new URL("tests/_helpers/agent.ts", pathToFileURL(`${resolve(tree)}/`)).href;
  const start: typeof startAgent = (await import(helper)).startAgent;
  await using ns = await createNetns("rss", values["netns-prefix"]);
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
    await using agent = await start({ config, netns: ns, dir, extraArgs });
    await sleep(settleMs);
    return partsOf(agent.pid);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const rows: { row: string; rssMiB: number; samples: number[]; parts?: Parts }[] = [];
const round = (x: number) => Math.round(x * 10) / 10;

function print(row: string, samples: number[], parts?: Parts): void {
  if (values.json) return;
  const spread = `[${Math.min(...samples).toFixed(1)}–${Math.max(...samples).toFixed(1)}]`;
  const rest = parts === undefined
    ? JSON.stringify(samples)
    : `${spread}  anon ${parts.RssAnon.toFixed(1)}  file ${parts.RssFile.toFixed(1)}  shmem ${
      parts.RssShmem.toFixed(1)
    }`;
  console.log(`${row.padEnd(40)} ${median(samples).toFixed(1).padStart(6)} MiB  ${rest}`);
}

async function measure(row: string, f: () => Promise<number>): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(round(await f()));
  rows.push({ row, rssMiB: median(samples), samples });
  print(row, samples);
}

/** Agent rows: the trees alternate (ABBA…) after `warmup` dropped runs each; medians per part. */
async function measureAgents(format: "json" | "yaml"): Promise<void> {
  const trees = values.tree.length > 0 ? values.tree : [fileURLToPath(ROOT)];
  const samples = new Map<string, Parts[]>(trees.map((t) => [t, []]));
  for (const t of trees) for (let i = 0; i < warmup; i++) await agentRss(t, format);
  for (let i = 0; i < runs; i++) {
    for (const t of i % 2 === 0 ? trees : [...trees].reverse()) {
      samples.get(t)!.push(await agentRss(t, format));
    }
  }
  for (const t of trees) {
    const s = samples.get(t)!;
    const parts = Object.fromEntries(
      PARTS.map((f) => [f, round(median(s.map((p) => p[f])))]),
    ) as Parts;
    const row = `agent idle (${format}), 0 services${trees.length > 1 ? ` ${t}` : ""}`;
    const vm = s.map((p) => round(p.VmRSS));
    rows.push({ row, rssMiB: parts.VmRSS, samples: vm, parts });
    print(row, vm, parts);
  }
}

await measure("bare", () => scriptRss([]));
for (const spec of values.import) await measure(`import ${spec}`, () => scriptRss([spec]));
if (!values["no-agent"]) {
  await measureAgents("json");
  if (!values["no-yaml"]) await measureAgents("yaml");
}
if (values.json) console.log(JSON.stringify({ runs, settleMs, warmup, rows }));

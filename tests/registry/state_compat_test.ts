// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Persisted state across versions: `state.json` and `state.journal` written by the agent of
 * commit d64aa5f (before endpoint conditions and Service traffic fields were recorded) load
 * unchanged, and the new optional fields round-trip through both files.
 */
import assert from "node:assert/strict";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import { candidatesFor } from "../../lib/proxy/mod.ts";
import {
  JOURNAL_FILE,
  type ResourceChange,
  type ServiceEntry,
  type Snapshot,
  STATE_FILE,
} from "../../lib/registry/mod.ts";
import { decodeJournalEntry, decodeState, encodeState } from "../../lib/registry/state_format.ts";
import { loadState } from "../../lib/registry/store.ts";
import { open, withDir } from "./_fixtures.ts";

/**
 * Written by the registry of commit d64aa5f (`Registry.open` + `apply` + `close`): a service
 * `web` in the checkpoint, then in the journal an EndpointSlice of `web` with a ready endpoint
 * and a `{ready:false, serving:true, terminating:true}` one (that version kept only `ready`),
 * service `api` with a ready pod, and service `legacy` with an Endpoints object. Kept byte for
 * byte (hence not `.json`: `deno fmt` would reformat it).
 */
const FIXTURE = new URL("../fixtures/state-d64aa5f/", import.meta.url);

async function withPreviousState(fn: (dir: string) => Promise<void>): Promise<void> {
  await withDir("em-state-compat-", async (dir) => {
    await Deno.mkdir(`${dir}/state`, { recursive: true, mode: 0o700 });
    await Deno.copyFile(new URL("state.json.fixture", FIXTURE), `${dir}/state/${STATE_FILE}`);
    await Deno.copyFile(new URL("state.journal.fixture", FIXTURE), `${dir}/state/${JOURNAL_FILE}`);
    await fn(dir);
  });
}

function entryOf(s: Snapshot, key: string): ServiceEntry {
  const e = s.services.get(key);
  assert.ok(e, key);
  return e;
}

/** `ip ready terminating serving` per endpoint (`-` for an absent field). */
function conditions(e: ServiceEntry): string[] {
  return e.endpoints.map((ep) =>
    [ep.ip, ep.ready, ep.terminating ?? "-", ep.serving ?? "-"].join(" ")
  );
}

/** What the proxy of node `edge-1` sends connections of the service's first port to. */
function proxied(e: ServiceEntry): string {
  const c = candidatesFor(e, e.service.ports[0]!, "edge-1");
  return c.kind === "none" ? `none ${c.reason}` : `${c.kind} ${c.backends.map((b) => b.ip)}`;
}

const webSlice = (conditions: Record<string, boolean>[]): ResourceChange => ({
  operation: "update",
  namespace: "default",
  type: "endpointslice",
  name: "web-abc12",
  content: {
    metadata: { name: "web-abc12", labels: { "kubernetes.io/service-name": "web" } },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: conditions.map((c, i) => ({
      addresses: [`10.244.${i + 1}.${i + 5}`],
      conditions: c,
      nodeName: `edge-${i + 1}`,
    })),
  },
});

Deno.test("Registry.open() loads state written by the previous version: nothing terminating, every service Cluster", async () => {
  await withPreviousState(async (dir) => {
    const reg = await open(dir);
    try {
      assert.equal(reg.loadWarning, null);
      const s = reg.snapshot();
      assert.equal(s.version, 6);
      assert.deepEqual([...s.services.keys()].sort(), [
        "default/api",
        "default/legacy",
        "default/web",
      ]);
      const rows: [string, string, string[], string][] = [
        // The old version dropped the slice's serving/terminating: not a fallback until the
        // slice is sent again (KubeEdge resends on every change and resync).
        [
          "default/web",
          "9.251.0.2",
          ["10.244.1.5 true - -", "10.244.2.6 false - -"],
          "ready 10.244.1.5",
        ],
        ["default/api", "9.251.0.3", ["10.244.1.7 true - -"], "ready 10.244.1.7"],
        [
          "default/legacy",
          "9.251.0.4",
          ["10.244.1.8 true - -", "10.244.2.9 false - -"],
          "ready 10.244.1.8",
        ],
      ];
      for (const [key, vip, eps, to] of rows) {
        const e = entryOf(s, key);
        assert.equal(e.vip, vip, key);
        assert.deepEqual(conditions(e), eps, key);
        assert.equal(proxied(e), to, key);
        assert.equal("internalTrafficPolicy" in e.service, false, key);
        assert.equal("publishNotReadyAddresses" in e.service, false, key);
      }
    } finally {
      await reg.close();
    }
  });
});

Deno.test("Registry persists endpoint conditions and traffic policy on top of previous-version state", async () => {
  await withPreviousState(async (dir) => {
    const reg = await open(dir);
    try {
      // The slice again: its pod on edge-1 now terminating (but serving), recorded as such; then
      // the service turns Local.
      await reg.apply(webSlice([{ ready: false, serving: true, terminating: true }]));
      await reg.apply({
        operation: "update",
        namespace: "default",
        type: "service",
        name: "web",
        content: {
          metadata: { name: "web" },
          spec: {
            selector: { app: "web" },
            ports: [{ name: "http", port: 80, targetPort: 8080 }],
            internalTrafficPolicy: "Local",
            publishNotReadyAddresses: true,
          },
        },
      });
      const journal = await Deno.readTextFile(`${dir}/state/${JOURNAL_FILE}`);
      assert.match(journal, /"ready":false,"terminating":true,"serving":true/);
      assert.match(journal, /"internalTrafficPolicy":"Local","publishNotReadyAddresses":true/);
    } finally {
      await reg.close();
    }
    // Read back from the journal, then from a checkpoint written by this version.
    for (const round of ["journal", "checkpoint"]) {
      if (round === "checkpoint") {
        const loaded = await loadState(`${dir}/state`, nullLogger, Date.now);
        assert.ok(loaded.state);
        await Deno.writeTextFile(`${dir}/state/${STATE_FILE}`, encodeState(loaded.state));
        await Deno.writeTextFile(`${dir}/state/${JOURNAL_FILE}`, "");
      }
      const again = await open(dir);
      try {
        assert.equal(again.loadWarning, null, round);
        const web = entryOf(again.snapshot(), "default/web");
        assert.deepEqual(conditions(web), ["10.244.1.5 false true true"], round);
        assert.equal(web.service.internalTrafficPolicy, "Local", round);
        assert.equal(web.service.publishNotReadyAddresses, true, round);
        // Local on edge-1, where the terminating endpoint is: the fallback, within the node.
        assert.equal(proxied(web), "terminating 10.244.1.5", round);
      } finally {
        await again.close();
      }
    }
  });
});

Deno.test("decodeState() accepts the new fields as optional and refuses wrong types", async (t) => {
  const base = await Deno.readTextFile(new URL("state.json.fixture", FIXTURE));
  const doc = JSON.parse(base);
  const endpointRecord = {
    ip: "10.0.0.1",
    ready: false,
    nodeName: null,
    hostname: null,
    podName: null,
    ports: [],
  };
  const withEndpoint = (extra: Record<string, unknown>) =>
    JSON.stringify({
      ...doc,
      endpoints: [{
        namespace: "default",
        name: "web",
        endpoints: [{ ...endpointRecord, ...extra }],
      }],
    });
  const withService = (extra: Record<string, unknown>) =>
    JSON.stringify({
      ...doc,
      services: [{ ...doc.services[0], service: { ...doc.services[0].service, ...extra } }],
    });
  const rows: [string, string, string | null][] = [
    ["previous format, fields absent", base, null],
    ["terminating endpoint", withEndpoint({ terminating: true, serving: true }), null],
    ["Local service", withService({ internalTrafficPolicy: "Local" }), null],
    ["publishing service", withService({ publishNotReadyAddresses: true }), null],
    [
      "terminating not a boolean",
      withEndpoint({ terminating: "yes" }),
      "endpoints[0].endpoints[0].terminating is not a boolean",
    ],
    [
      "serving not a boolean",
      withEndpoint({ serving: 1 }),
      "endpoints[0].endpoints[0].serving is not a boolean",
    ],
    [
      "unknown policy",
      withService({ internalTrafficPolicy: "Node" }),
      "services[0].service.internalTrafficPolicy is not one of Cluster, Local",
    ],
  ];
  for (const [name, text, error] of rows) {
    await t.step(name, () => {
      if (error) {
        return void assert.throws(() => decodeState(text), { name: "TypeError", message: error });
      }
      const s = decodeState(text);
      assert.equal(s.version, 1);
      assert.equal(s.services.length, 1);
    });
  }
  await t.step(
    "a journal line of the previous version decodes with the fields absent",
    async () => {
      const line = (await Deno.readTextFile(new URL("state.journal.fixture", FIXTURE))).split(
        "\n",
      )[0]!;
      const entry = decodeJournalEntry(line);
      const [table, , value] = entry.ops[0]!;
      assert.equal(table, "slices");
      const eps = (value as { endpoints: Record<string, unknown>[] }).endpoints;
      assert.deepEqual(eps.map((e) => ["terminating" in e, "serving" in e]), [[false, false], [
        false,
        false,
      ]]);
    },
  );
});

Deno.test("state with endpoints on loopback, 0.0.0.0 or link-local still loads, without them, with a warning each", async () => {
  await withDir("em-state-special-", async (dir) => {
    await Deno.mkdir(`${dir}/state`, { recursive: true, mode: 0o700 });
    const ep = (ip: string, nodeName = "node-b") => ({
      ip,
      ready: true,
      nodeName,
      hostname: null,
      podName: null,
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    });
    const svc = (name: string, selector: Record<string, string> | null) => ({
      service: {
        namespace: "default",
        name,
        kind: { type: "ClusterIP" },
        ports: [{
          name: "http",
          protocol: "TCP",
          port: 80,
          targetPort: { kind: "number", port: 8080 },
        }],
        sessionAffinity: { type: "None" },
      },
      selector,
    });
    const pod = (name: string, ip: string) => ({
      namespace: "default",
      name,
      labels: { app: "api" },
      ip,
      nodeName: "node-b",
      hostname: null,
      running: true,
      ready: true,
      ports: [],
    });
    // Written by hand as an agent before the rule would have (it accepted these addresses).
    const state = {
      format: 1,
      version: 7,
      subnet: "9.251.0.0/16",
      cursor: 4,
      vips: {
        "default/web": "9.251.0.2",
        "default/sliced": "9.251.0.3",
        "default/api": "9.251.0.4",
      },
      services: [svc("web", null), svc("sliced", null), svc("api", { app: "api" })],
      endpoints: [{
        namespace: "default",
        name: "web",
        endpoints: [ep("10.0.0.1"), ep("127.0.0.1"), ep("0.0.0.0", "node-a")],
      }],
      slices: [{
        namespace: "default",
        name: "sliced-1",
        service: "sliced",
        endpoints: [ep("169.254.169.254"), ep("10.0.0.2")],
      }],
      podlists: [],
      pods: [pod("good", "10.0.0.3"), pod("lo", "127.0.0.3")],
      nodes: [],
    };
    await Deno.writeTextFile(`${dir}/state/${STATE_FILE}`, JSON.stringify(state));
    const log = memoryLogger("info");
    const reg = await open(dir, { log });
    try {
      const s = reg.snapshot();
      assert.equal(s.version, 7);
      assert.deepEqual(entryOf(s, "default/web").endpoints.map((e) => e.ip), ["10.0.0.1"]);
      assert.deepEqual(entryOf(s, "default/sliced").endpoints.map((e) => e.ip), ["10.0.0.2"]);
      assert.deepEqual(entryOf(s, "default/api").endpoints.map((e) => e.ip), ["10.0.0.3"]);
      assert.deepEqual(
        [...s.services.values()].map((e) => e.vip),
        ["9.251.0.2", "9.251.0.3", "9.251.0.4"],
        "everything else loads as it was",
      );
      const warned = log.lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
      assert.deepEqual(warned.map((l) => [l.msg, l.endpoint]), [
        [
          'Dropping a persisted endpoint of Endpoints "default/web": "127.0.0.1" may not be in ' +
          "the loopback range (127.0.0.0/8, ::1/128) (stored before such addresses were " +
          "refused; Kubernetes rejects them too)",
          "127.0.0.1",
        ],
        [
          'Dropping a persisted endpoint of Endpoints "default/web": "0.0.0.0" may not be ' +
          "unspecified (0.0.0.0, ::) (stored before such addresses were refused; Kubernetes " +
          "rejects them too)",
          "0.0.0.0",
        ],
        [
          'Dropping a persisted endpoint of EndpointSlice "default/sliced-1": "169.254.169.254" ' +
          "may not be in the link-local range (169.254.0.0/16, fe80::/10) (stored before such " +
          "addresses were refused; Kubernetes rejects them too)",
          "169.254.169.254",
        ],
      ]);
      // Rewritten at once without them; the pod is kept as it was (never used as an endpoint).
      const written = decodeState(await Deno.readTextFile(`${dir}/state/${STATE_FILE}`));
      assert.deepEqual(written.endpoints[0]!.endpoints.map((e) => e.ip), ["10.0.0.1"]);
      assert.deepEqual(written.slices[0]!.endpoints.map((e) => e.ip), ["10.0.0.2"]);
      assert.deepEqual(written.pods.map((p) => p.ip), ["10.0.0.3", "127.0.0.3"]);
    } finally {
      await reg.close();
    }
  });
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `edgemesh ctl delete` against a real agent socket and registry: a missing object is
 * kubectl's NotFound (stderr, exit 1) unless `--ignore-not-found`; present ones are deleted
 * either way. Against fake agents: an agent from before `found` (its deletes read as done),
 * and error replies, which `--ignore-not-found` does not hide.
 */
import assert from "node:assert/strict";
import { buildMessage } from "../../lib/control/mod.ts";
import { edgemesh } from "../_helpers/cli.ts";
import { msgIdOf, okReplyTo, type Respond, startFakeAgent } from "../_helpers/fake_control.ts";
import {
  inNamespace,
  insertOf,
  type KindObject,
  OBJECTS,
  withRealControl,
} from "../_helpers/real_control.ts";
import type { Registry } from "../../lib/registry/mod.ts";

/**
 * Whether the registry still held `o`, asked the one way that covers every kind: by deleting
 * it (so only as the last thing a row does, once per object).
 */
async function held(registry: Registry, o: KindObject): Promise<boolean> {
  const result = await registry.apply({ operation: "delete", ...o, content: null });
  assert.equal(result.operation, "delete");
  return result.operation === "delete" && result.found;
}

interface Row {
  readonly name: string;
  /** Objects in the registry before the command. */
  readonly present: readonly KindObject[];
  readonly args: readonly string[];
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Objects the command must have removed. */
  readonly gone?: readonly KindObject[];
}

const { service, endpoints, endpointslice, pod, node } = OBJECTS;
const shopService = inNamespace(service, "shop");

const ROWS: readonly Row[] = [
  {
    name: "a service that is there",
    present: [service],
    args: ["delete", "svc", "web"],
    code: 0,
    stdout: "service/default/web deleted\n",
    stderr: "",
    gone: [service],
  },
  {
    name: "a service that is not there: NotFound, exit 1",
    present: [],
    args: ["delete", "svc", "nosuch"],
    code: 1,
    stdout: "",
    stderr: 'edgemesh: service "default/nosuch" not found\n',
  },
  {
    name: "not there, --ignore-not-found: silent, exit 0",
    present: [],
    args: ["delete", "services", "nosuch", "--ignore-not-found"],
    code: 0,
    stdout: "",
    stderr: "",
  },
  {
    name: "mixed names: the present are deleted, each missing one reported, exit 1",
    present: [service, shopService],
    args: ["delete", "service", "gone", "web", "shop/web", "other/none"],
    code: 1,
    stdout: "service/default/web deleted\nservice/shop/web deleted\n",
    stderr: 'edgemesh: service "default/gone" not found\n' +
      'edgemesh: service "other/none" not found\n',
    gone: [service, shopService],
  },
  {
    name: "mixed names, --ignore-not-found: the present deleted, exit 0",
    present: [service],
    args: ["delete", "--ignore-not-found", "svc", "gone", "web"],
    code: 0,
    stdout: "service/default/web deleted\n",
    stderr: "",
    gone: [service],
  },
  {
    name: "the same name twice: deleted, then not found",
    present: [service],
    args: ["delete", "svc", "web", "web"],
    code: 1,
    stdout: "service/default/web deleted\n",
    stderr: 'edgemesh: service "default/web" not found\n',
    gone: [service],
  },
  {
    name: "endpoints there and not",
    present: [endpoints],
    args: ["delete", "ep", "web", "nope"],
    code: 1,
    stdout: "endpoints/default/web deleted\n",
    stderr: 'edgemesh: endpoints "default/nope" not found\n',
    gone: [endpoints],
  },
  {
    name: "endpoints of a service that has only a service record",
    present: [service],
    args: ["delete", "endpoints", "web"],
    code: 1,
    stdout: "",
    stderr: 'edgemesh: endpoints "default/web" not found\n',
  },
  {
    name: "an endpointslice there, and one named like its service",
    present: [service, endpointslice],
    args: ["delete", "endpointslices", "web-x7k2p", "web"],
    code: 1,
    stdout: "endpointslice/default/web-x7k2p deleted\n",
    stderr: 'edgemesh: endpointslice "default/web" not found\n',
    gone: [endpointslice],
  },
  {
    name: "a pod there, and one in another namespace (-n)",
    present: [pod],
    args: ["delete", "po", "default/web-1", "web-1", "-n", "other"],
    code: 1,
    stdout: "pod/default/web-1 deleted\n",
    stderr: 'edgemesh: pod "other/web-1" not found\n',
    gone: [pod],
  },
  {
    name: "a node there and one not",
    present: [node],
    args: ["delete", "no", "edge-1", "edge-9"],
    code: 1,
    stdout: "node/edge-1 deleted\n",
    stderr: 'edgemesh: node "edge-9" not found\n',
    gone: [node],
  },
  {
    name: "a node not there, --ignore-not-found",
    present: [],
    args: ["delete", "node", "edge-9", "--ignore-not-found"],
    code: 0,
    stdout: "",
    stderr: "",
  },
];

Deno.test("ctl delete against a real agent: deleted, NotFound, --ignore-not-found", async (t) => {
  for (const row of ROWS) {
    await t.step(row.name, async () => {
      await withRealControl(async ({ path, registry }) => {
        for (const o of row.present) await registry.apply(insertOf(o));
        const r = await edgemesh(["ctl", "--socket", path, ...row.args]);
        assert.deepEqual(r, { code: row.code, stdout: row.stdout, stderr: row.stderr });
        // What the command named is gone; the rest is untouched.
        const gone = row.gone ?? [];
        for (const o of row.present) {
          assert.equal(await held(registry, o), !gone.includes(o), `${o.type} ${o.name}`);
        }
      });
    });
  }
});

/** Runs `ctl delete ARGS…` against a fake agent answering with `respond`. */
async function againstFake(
  respond: Respond,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string; received: string[] }> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cdl-" });
  const fake = startFakeAgent(`${dir}/fake.sock`, respond);
  try {
    const r = await edgemesh(["ctl", "--socket", fake.path, "delete", ...args]);
    return { ...r, received: fake.received };
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ctl delete against agents of other versions and failing ones", async (t) => {
  const error = (l: string) =>
    JSON.stringify({ msg_id: msgIdOf(l), ok: false, error: "Cannot apply: disk full" });
  const rows: {
    name: string;
    respond: Respond;
    args: string[];
    code: number;
    stdout: string;
    stderr: string;
  }[] = [
    {
      name: "an agent before found: every ok delete reads as deleted, as it always did",
      respond: (l) => okReplyTo(l),
      args: ["svc", "nosuch", "web"],
      code: 0,
      stdout: "service/default/nosuch deleted\nservice/default/web deleted\n",
      stderr: "",
    },
    {
      name: "an agent before found, --ignore-not-found: the same",
      respond: (l) => okReplyTo(l),
      args: ["node", "edge-9", "--ignore-not-found"],
      code: 0,
      stdout: "node/edge-9 deleted\n",
      stderr: "",
    },
    {
      name: "an error reply is an error, --ignore-not-found or not",
      respond: error,
      args: ["pod", "p", "--ignore-not-found"],
      code: 1,
      stdout: "",
      stderr: "pod/default/p: Cannot apply: disk full\n",
    },
    {
      name: "found that is not a boolean: the reply is unusable",
      respond: (l) => JSON.stringify({ msg_id: msgIdOf(l), ok: true, found: "no" }),
      args: ["svc", "web"],
      code: 1,
      stdout: "",
      stderr: "edgemesh: Cannot read the agent's reply: found must be a boolean, got a string\n",
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      const r = await againstFake(row.respond, row.args);
      assert.deepEqual(
        { code: r.code, stdout: r.stdout, stderr: r.stderr },
        { code: row.code, stdout: row.stdout, stderr: row.stderr },
      );
      assert.ok(r.received.length > 0, "the deletes were sent");
      for (const l of r.received) assert.equal(JSON.parse(l).route.operation, "delete");
    });
  }
});

Deno.test("ctl delete sends the same delete messages with or without --ignore-not-found", async () => {
  const plain = await againstFake((l) => okReplyTo(l), ["svc", "a", "b"]);
  const ignoring = await againstFake((l) => okReplyTo(l), ["svc", "a", "b", "--ignore-not-found"]);
  const strip = (l: string) => {
    const m = JSON.parse(l);
    return { route: m.route, content: m.content };
  };
  assert.deepEqual(plain.received.map(strip), ignoring.received.map(strip));
  assert.deepEqual(plain.received.map(strip), [
    strip(JSON.stringify(buildMessage({
      operation: "delete",
      resource: "default/service/a",
      content: { metadata: { name: "a", namespace: "default" } },
    }))),
    strip(JSON.stringify(buildMessage({
      operation: "delete",
      resource: "default/service/b",
      content: { metadata: { name: "b", namespace: "default" } },
    }))),
  ]);
});

Deno.test("ctl delete usage: --ignore-not-found takes no value; -f is not a delete flag", async (t) => {
  const rows: [string[], string][] = [
    [
      ["ctl", "delete", "svc", "a", "--ignore-not-found=yes"],
      "edgemesh: flag --ignore-not-found does not take a value (see edgemesh ctl delete --help)",
    ],
    [
      ["ctl", "delete", "-f", "x.yaml"],
      "edgemesh: unknown flag -f (see edgemesh ctl delete --help)",
    ],
  ];
  for (const [args, want] of rows) {
    await t.step(args.join(" "), async () => {
      const r = await edgemesh(args);
      assert.deepEqual(r, { code: 2, stdout: "", stderr: want + "\n" });
    });
  }
  await t.step("--help names the flag", async () => {
    const r = await edgemesh(["ctl", "delete", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^ +--ignore-not-found +an object that is not there is no error/m);
  });
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Through the control protocol: messages whose content breaks Kubernetes' name rules, carries a
 * contradicting kind/apiVersion, a node address that is not one or an unknown pod phase get an
 * error reply and change nothing (snapshot version, state files, `services` query).
 */
import assert from "node:assert/strict";
import { ControlServer, type Reply } from "../../lib/control/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { Registry } from "../../lib/registry/mod.ts";
import { exchange } from "../_helpers/control_socket.ts";

const FIXTURE = new URL("../fixtures/kubeedge-messages.ndjson", import.meta.url);
const LABEL_1035 =
  "(lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters)";
const LABEL_1123 =
  "(lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)";

/** Sends `messages` as lines in one write, half-closes, and returns every reply line. */
function exchangeMessages(path: string, messages: unknown[]): Promise<Reply[]> {
  const text = messages.map((m) => typeof m === "string" ? m : JSON.stringify(m)).join("\n");
  return exchange(path, text + "\n");
}

function message(id: string, operation: string, resource: string, content: unknown) {
  return { header: { msg_id: id }, route: { operation, resource }, content };
}

/** Bytes of every file in the state directory. */
async function stateFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(dir)) {
    out[e.name] = await Deno.readTextFile(`${dir}/${e.name}`);
  }
  return out;
}

const svc = (namespace: string, name: string, extra: Record<string, unknown> = {}) => ({
  ...extra,
  metadata: { name, namespace },
  spec: { ports: [{ name: "web", port: 80, targetPort: 8080 }] },
});

/** Each bad message, and the error its reply must carry. */
const BAD: [unknown, string][] = [
  [
    message("upper", "insert", "default/service/NGINX", svc("default", "NGINX")),
    `Cannot apply "default/service/NGINX": metadata.name "NGINX" is not a valid DNS-1035 label ${LABEL_1035}`,
  ],
  [
    message("dotted-name", "insert", "z/service/x.y", svc("z", "x.y")),
    `Cannot apply "z/service/x.y": metadata.name "x.y" is not a valid DNS-1035 label ${LABEL_1035}`,
  ],
  [
    message("dotted-ns", "insert", "y.z/service/x", svc("y.z", "x")),
    `Cannot apply "y.z/service/x": metadata.namespace "y.z" is not a valid DNS-1123 label ${LABEL_1123}`,
  ],
  [
    message("pod-as-service", "update", "default/service/nginx", {
      kind: "Pod",
      ...svc("default", "nginx"),
    }),
    'Cannot apply "default/service/nginx": kind "Pod" does not match the resource type service ' +
    "(expected Service)",
  ],
  [
    message("apps-v1", "update", "default/service/nginx", {
      apiVersion: "apps/v1",
      kind: "Service",
      ...svc("default", "nginx"),
    }),
    'Cannot apply "default/service/nginx": apiVersion "apps/v1" is not v1 (the apiVersion of Service)',
  ],
  [
    message("bogus-node", "update", "default/node/edge-node-2", {
      metadata: { name: "edge-node-2" },
      status: { addresses: [{ type: "InternalIP", address: "bogus" }] },
    }),
    'Cannot apply "default/node/edge-node-2": status.addresses[0].address "bogus" is not an IP ' +
    "address (type InternalIP)",
  ],
  [
    message("exploding", "update", "default/podlist/legacy", [
      { metadata: { name: "legacy-1" }, status: { phase: "Exploding", podIP: "10.244.1.30" } },
    ]),
    'Cannot apply "default/podlist/legacy": [0].status.phase "Exploding" is not one of Pending, ' +
    "Running, Succeeded, Failed, Unknown",
  ],
  [
    // One bad item refuses the whole servicelist: it would otherwise have removed every other service.
    message("servicelist", "update", "namespace/servicelist/service", [svc("default", "Web")]),
    'Cannot apply "namespace/servicelist/service": [0].metadata.name "Web" is not a valid DNS-1035 ' +
    `label ${LABEL_1035}`,
  ],
];

Deno.test("ControlServer replies with an error to invalid names, kinds, node addresses and pod phases and changes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-ctl-valid-" });
  const stateDir = `${dir}/state`;
  const registry = await Registry.open({ stateDir, subnet: "9.251.0.0/16", log: nullLogger });
  const server = await ControlServer.listen({
    path: `${dir}/edgemesh.sock`,
    target: registry,
    status: () => ({ node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } }),
    log: nullLogger,
  });
  try {
    const good = (await Deno.readTextFile(FIXTURE)).split("\n").filter((l) => l.trim() !== "");
    const applied = await exchangeMessages(server.path, good);
    assert.equal(applied.length, good.length);
    assert.ok(applied.every((r) => r.ok), JSON.stringify(applied.filter((r) => !r.ok)));

    const query = {
      header: { msg_id: "q" },
      route: { operation: "query", resource: "*/services/*" },
    };
    const [before] = await exchangeMessages(server.path, [query]);
    const version = registry.snapshot().version;
    const files = await stateFiles(stateDir);

    const replies = await exchangeMessages(server.path, [...BAD.map(([m]) => m), query]);
    assert.deepEqual(
      replies.slice(0, BAD.length),
      BAD.map(([m, error]) => ({
        msg_id: (m as { header: { msg_id: string } }).header.msg_id,
        ok: false,
        error,
      })),
    );
    assert.deepEqual(replies[BAD.length], before, "the services are as they were");
    assert.equal(registry.snapshot().version, version, "no new snapshot");
    assert.deepEqual(await stateFiles(stateDir), files, "nothing written");
    assert.deepEqual(
      registry.snapshot().nodes.get("edge-node-2")?.addresses,
      [{ type: "InternalIP", address: "192.0.2.12" }, { type: "Hostname", address: "edge-node-2" }],
    );
  } finally {
    await server.close();
    await registry.close();
    await Deno.remove(dir, { recursive: true });
  }
});

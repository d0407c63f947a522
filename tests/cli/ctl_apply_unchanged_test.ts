// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `ctl apply` of objects the agent already holds as sent prints `unchanged`, as kubectl does,
 * and the agent writes nothing for them; a real change next to them is still `configured`.
 * In-process, against a real registry behind a real control server.
 */
import assert from "node:assert/strict";
import { JOURNAL_FILE } from "../../lib/registry/mod.ts";
import { edgemesh } from "../_helpers/cli.ts";
import { withRealControl } from "../_helpers/real_control.ts";

const YAML = (port: number) =>
  `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default, labels: {app: web, tier: front}}
spec:
  selector: {app: web}
  ports: [{name: http, port: ${port}, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: default}
subsets:
  - addresses: [{ip: 10.244.1.5}]
    ports: [{name: http, port: 8080}]
`;

/** The same two objects as JSON, keys in another order, with fields the agent does not keep. */
const JSON_LIST = JSON.stringify({
  kind: "List",
  items: [
    {
      spec: { ports: [{ targetPort: 8080, port: 80, name: "http" }], selector: { app: "web" } },
      metadata: {
        resourceVersion: "77",
        labels: { tier: "front", app: "web" },
        namespace: "default",
        name: "web",
      },
      kind: "Service",
      apiVersion: "v1",
      status: { loadBalancer: {} },
    },
    {
      subsets: [{ ports: [{ port: 8080, name: "http" }], addresses: [{ ip: "10.244.1.5" }] }],
      metadata: { namespace: "default", name: "web", resourceVersion: "78" },
      kind: "Endpoints",
      apiVersion: "v1",
    },
  ],
});

Deno.test("ctl apply prints unchanged for objects the agent holds as sent, and the agent writes nothing", async () => {
  await withRealControl(async ({ path, registry, dir }) => {
    const apply = async (name: string, text: string) => {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      return await edgemesh(["ctl", "--socket", path, "apply", "-f", `${dir}/${name}`]);
    };
    const journal = () => Deno.readTextFile(`${dir}/state/${JOURNAL_FILE}`).catch(() => "");
    const both = (svc: string, eps: string) => ({
      code: 0,
      stdout: `service/default/web ${svc}\nendpoints/default/web ${eps}\n`,
      stderr: "",
    });
    assert.deepEqual(await apply("a.yaml", YAML(80)), both("configured", "configured"));
    const version = registry.snapshot().version;
    const writes = registry.writeCount;
    const written = await journal();

    assert.deepEqual(await apply("a.yaml", YAML(80)), both("unchanged", "unchanged"));
    assert.deepEqual(await apply("b.json", JSON_LIST), both("unchanged", "unchanged"));
    assert.equal(registry.snapshot().version, version);
    assert.equal(registry.writeCount, writes);
    assert.equal(await journal(), written);

    // One real change next to an unchanged object.
    assert.deepEqual(await apply("a.yaml", YAML(81)), both("configured", "unchanged"));
    assert.equal(registry.snapshot().version, version + 1);
    assert.equal(registry.writeCount, writes + 1);
  });
});

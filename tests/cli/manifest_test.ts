// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { parseManifests } from "../../lib/cli/mod.ts";

async function summary(text: string, ns?: string): Promise<string[]> {
  return (await parseManifests(text, ns)).map((i) =>
    i.ok ? `${i.object.label} ${i.object.namespace}` : `${i.label}: ${i.error}`
  );
}

Deno.test("parseManifests() reads single objects, Lists and multi-document YAML", async (t) => {
  const rows: [string, string, string[], string?][] = [
    ["JSON object", '{"kind":"Service","metadata":{"name":"a","namespace":"x"}}', [
      "service/x/a x",
    ]],
    ["namespace defaulted", "kind: Endpoints\nmetadata:\n  name: a\n", [
      "endpoints/default/a default",
    ]],
    ["namespace from -n", "kind: Pod\nmetadata:\n  name: p\n", ["pod/dev/p dev"], "dev"],
    ["node is cluster-scoped", "kind: Node\nmetadata:\n  name: edge-1\n", ["node/edge-1 default"]],
    [
      "List",
      '{"kind":"List","items":[{"kind":"Service","metadata":{"name":"a"}},{"kind":"EndpointSlice","metadata":{"name":"a-1"}}]}',
      ["service/default/a default", "endpointslice/default/a-1 default"],
    ],
    [
      "multi-document with empty documents",
      "---\nkind: Service\nmetadata: {name: a}\n---\n---\nkind: Secret\nmetadata: {name: s}\n",
      [
        "service/default/a default",
        'document 3: kind "Secret" is not supported (Service, Endpoints, EndpointSlice, Pod, Node)',
      ],
    ],
    ["missing name", "kind: Service\nmetadata: {}\n", [
      "document (Service): metadata.name is missing",
    ]],
    ["missing kind", "metadata: {name: a}\n", ["document: kind is missing"]],
    ["apiVersion v1", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", [
      "pod/default/p default",
    ]],
    [
      "EndpointSlice discovery.k8s.io/v1",
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: a-1}\n",
      ["endpointslice/default/a-1 default"],
    ],
    [
      "apps/v1 Service (the agent's rule and text)",
      "apiVersion: apps/v1\nkind: Service\nmetadata: {name: a}\n",
      ['service/default/a: apiVersion "apps/v1" is not v1 (the apiVersion of Service)'],
    ],
    [
      "EndpointSlice v1beta1",
      "apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: a-1}\n",
      [
        'endpointslice/default/a-1: apiVersion "discovery.k8s.io/v1beta1" is not discovery.k8s.io/v1 (the apiVersion of EndpointSlice)',
      ],
    ],
    [
      "List items are checked one by one",
      '{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v2","kind":"Node","metadata":{"name":"n"}},{"kind":"Node","metadata":{"name":"m"}}]}',
      [
        'item 1: node/n: apiVersion "v2" is not v1 (the apiVersion of Node)',
        "node/m default",
      ],
    ],
    [
      "List with another apiVersion",
      '{"apiVersion":"apps/v1","kind":"List","items":[]}',
      ['document (List): apiVersion "apps/v1" is not v1 (the apiVersion of List)'],
    ],
    [
      "inherited property names are not kinds",
      "kind: constructor\nmetadata: {name: a}\n",
      ['document: kind "constructor" is not supported (Service, Endpoints, EndpointSlice, Pod, Node)'],
    ],
    ["not an object", "- a\n- b\n", ["document: not an object"]],
    ["empty", "", []],
  ];
  for (const [name, text, want, ns] of rows) {
    await t.step(name, async () => assert.deepEqual(await summary(text, ns), want));
  }
});

Deno.test("parseManifests() fills metadata.namespace and keeps the object", async () => {
  const [item] = await parseManifests(
    "kind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n",
  );
  assert.ok(item?.ok);
  assert.deepEqual(item.object.content, {
    kind: "Service",
    metadata: { name: "a", namespace: "default" },
    spec: { ports: [{ port: 80 }] },
  });
});

Deno.test("parseManifests() tells control-socket messages from manifests", async (t) => {
  const fixture = await Deno.readTextFile(
    new URL("../fixtures/kubeedge-messages.ndjson", import.meta.url),
  );
  const one = '{"header":{"msg_id":"1"},"route":{"operation":"insert",' +
    '"resource":"default/service/a"},"content":{"metadata":{"name":"a"}}}';
  const cases: [string, string][] = [
    ["the NDJSON fixture", fixture],
    ["one message", one],
    ["one message after blank lines", `\n\n${one}\n`],
  ];
  for (const [name, text] of cases) {
    await t.step(name, async () => {
      await assert.rejects(parseManifests(text), (err: Error) => {
        assert.equal(err.name, "SyntaxError");
        assert.match(err.message, /this is control-socket messages .* not Kubernetes objects/);
        return true;
      });
    });
  }
  await t.step("an object with a route field and a kind stays an object", async () => {
    const items = await parseManifests(
      '{"kind":"Service","apiVersion":"v1","route":{},"metadata":{"name":"a"}}',
    );
    assert.equal(items.length, 1);
    assert.equal(items[0]!.ok, true);
  });
});

Deno.test("parseManifests() throws SyntaxError with the position on bad YAML", async () => {
  await assert.rejects(parseManifests("kind: Service\nmetadata: {name: a\n"), (err: Error) => {
    assert.equal(err.name, "SyntaxError");
    assert.match(err.message, /^Cannot parse manifest: line \d+, column \d+: /);
    return true;
  });
});

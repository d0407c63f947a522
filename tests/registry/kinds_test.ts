// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  API_VERSIONS,
  apiVersionProblem,
  checkTypeMeta,
  isObjectKind,
  ITEM_KINDS,
  type ObjectKind,
} from "../../lib/registry/kinds.ts";
import { RESOURCE_TYPES, type ResourceType } from "../../lib/registry/model.ts";
import { Problems } from "../../lib/registry/problems.ts";

Deno.test("ITEM_KINDS names a kind for every resource type, API_VERSIONS an apiVersion for each", () => {
  assert.deepEqual(Object.keys(ITEM_KINDS).sort(), [...RESOURCE_TYPES].sort());
  for (const kind of Object.values(ITEM_KINDS)) assert.ok(isObjectKind(kind), kind);
  assert.deepEqual(API_VERSIONS, {
    Service: "v1",
    Endpoints: "v1",
    EndpointSlice: "discovery.k8s.io/v1",
    Pod: "v1",
    Node: "v1",
  });
});

Deno.test("isObjectKind() knows only the five kinds (own keys: not inherited names)", async (t) => {
  const rows: [string, boolean][] = [
    ["Service", true],
    ["EndpointSlice", true],
    ["service", false],
    ["List", false],
    ["Deployment", false],
    ["constructor", false],
    ["toString", false],
    ["__proto__", false],
  ];
  for (const [kind, want] of rows) {
    await t.step(kind, () => assert.equal(isObjectKind(kind), want));
  }
});

Deno.test("apiVersionProblem() accepts the kind's apiVersion only", async (t) => {
  const rows: [ObjectKind, string, string | null][] = [
    ["Service", "v1", null],
    ["Service", "apps/v1", '"apps/v1" is not v1 (the apiVersion of Service)'],
    ["Pod", "core/v1", '"core/v1" is not v1 (the apiVersion of Pod)'],
    ["EndpointSlice", "discovery.k8s.io/v1", null],
    [
      "EndpointSlice",
      "discovery.k8s.io/v1beta1",
      '"discovery.k8s.io/v1beta1" is not discovery.k8s.io/v1 (the apiVersion of EndpointSlice)',
    ],
    ["EndpointSlice", "v1", '"v1" is not discovery.k8s.io/v1 (the apiVersion of EndpointSlice)'],
    ["Node", "V1", '"V1" is not v1 (the apiVersion of Node)'],
  ];
  for (const [kind, apiVersion, want] of rows) {
    await t.step(
      `${kind} ${apiVersion}`,
      () => assert.equal(apiVersionProblem(kind, apiVersion), want),
    );
  }
});

Deno.test("checkTypeMeta() accepts absent kind/apiVersion and refuses ones that contradict the route", async (t) => {
  const rows: { name: string; type: ResourceType; obj: Record<string, unknown>; want: string[] }[] =
    [
      { name: "both absent", type: "service", obj: {}, want: [] },
      {
        name: "empty strings are absent (omitempty)",
        type: "pod",
        obj: { kind: "", apiVersion: "" },
        want: [],
      },
      { name: "Service v1", type: "service", obj: { kind: "Service", apiVersion: "v1" }, want: [] },
      { name: "servicelist item", type: "servicelist", obj: { kind: "Service" }, want: [] },
      { name: "podlist item", type: "podlist", obj: { kind: "Pod", apiVersion: "v1" }, want: [] },
      {
        name: "EndpointSlice v1",
        type: "endpointslice",
        obj: { kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1" },
        want: [],
      },
      {
        name: "Pod on a service route",
        type: "service",
        obj: { kind: "Pod" },
        want: ['kind "Pod" does not match the resource type service (expected Service)'],
      },
      {
        name: "apps/v1 Service",
        type: "service",
        obj: { kind: "Service", apiVersion: "apps/v1" },
        want: ['apiVersion "apps/v1" is not v1 (the apiVersion of Service)'],
      },
      {
        name: "both wrong",
        type: "node",
        obj: { kind: "Service", apiVersion: "apps/v1" },
        want: [
          'kind "Service" does not match the resource type node (expected Node)',
          'apiVersion "apps/v1" is not v1 (the apiVersion of Node)',
        ],
      },
      {
        name: "a List is not an item of a servicelist",
        type: "servicelist",
        obj: { kind: "List" },
        want: ['kind "List" does not match the resource type servicelist (expected Service)'],
      },
      {
        name: "not strings",
        type: "endpoints",
        obj: { kind: 5, apiVersion: {} },
        want: ["kind is not a string (got 5)", "apiVersion is not a string (got an object)"],
      },
    ];
  for (const row of rows) {
    await t.step(row.name, () => {
      const p = new Problems();
      checkTypeMeta(row.obj, "", row.type, p);
      assert.deepEqual(p.list.map((x) => x.text), row.want);
    });
  }
  await t.step("paths are prefixed with the item's", () => {
    const p = new Problems();
    checkTypeMeta({ kind: "Pod" }, "[2]", "servicelist", p);
    assert.deepEqual(p.list.map((x) => [x.cls, x.text]), [
      [TypeError, '[2].kind "Pod" does not match the resource type servicelist (expected Service)'],
    ]);
  });
});

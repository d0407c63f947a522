// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { type ListenerSpec, planListeners } from "../../lib/proxy/mod.ts";

function spec(vip: string, port: number, service = "default/web"): ListenerSpec {
  return {
    key: `${vip}:${port}`,
    vip,
    port,
    service,
    servicePort: { name: "", protocol: "TCP", port, targetPort: { kind: "number", port } },
  };
}

Deno.test("planListeners() starts and stops only the difference", async (t) => {
  const cases: {
    name: string;
    desired: ListenerSpec[];
    running: string[];
    start: string[];
    stop: string[];
  }[] = [
    { name: "nothing to do", desired: [], running: [], start: [], stop: [] },
    {
      name: "new service",
      desired: [spec("9.251.0.2", 80), spec("9.251.0.2", 443)],
      running: [],
      start: ["9.251.0.2:80", "9.251.0.2:443"],
      stop: [],
    },
    {
      name: "unchanged listeners are kept",
      desired: [spec("9.251.0.2", 80), spec("9.251.0.3", 80, "default/api")],
      running: ["9.251.0.2:80", "9.251.0.3:80"],
      start: [],
      stop: [],
    },
    {
      name: "port added and port removed",
      desired: [spec("9.251.0.2", 80), spec("9.251.0.2", 8080)],
      running: ["9.251.0.2:80", "9.251.0.2:443"],
      start: ["9.251.0.2:8080"],
      stop: ["9.251.0.2:443"],
    },
    {
      name: "service deleted, other service untouched",
      desired: [spec("9.251.0.3", 80, "default/api")],
      running: ["9.251.0.2:80", "9.251.0.3:80"],
      start: [],
      stop: ["9.251.0.2:80"],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const plan = planListeners(
        new Map(c.desired.map((s) => [s.key, s])),
        new Set(c.running),
      );
      assert.deepEqual(plan.start.map((s) => s.key), c.start);
      assert.deepEqual(plan.stop, c.stop);
    });
  }
});

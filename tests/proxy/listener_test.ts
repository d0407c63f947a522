// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { VipListener } from "../../lib/proxy/listener.ts";
import { type ListenerSpec, planListeners } from "../../lib/proxy/mod.ts";
import { EMULATED } from "../_helpers/emulation.ts";
import { resetFlood } from "../_helpers/reset_flood.ts";

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

// Natively only: the flood needs the resets to race the accepts, which emulation slows.
Deno.test({
  name: "VipListener takes a client that reset before its accept as gone: no back-off, no warning",
  ignore: EMULATED,
}, async () => {
  const log = memoryLogger();
  const listener = new VipListener("127.0.0.1", 0, log);
  const accepted: Deno.TcpConn[] = [];
  const ours = Promise.withResolvers<void>();
  let ourPort = -1;
  const serving = listener.serve((conn) => {
    accepted.push(conn);
    if (conn.remoteAddr.port === ourPort) ours.resolve();
  });
  let client: Deno.TcpConn | undefined;
  try {
    await resetFlood("127.0.0.1", listener.addr.port);
    client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    ourPort = client.localAddr.port;
    if (accepted.some((c) => c.remoteAddr.port === ourPort)) ours.resolve();
    await ours.promise;
    assert.deepEqual(log.lines.filter((l) => l.includes("Cannot accept")), []);
  } finally {
    client?.close();
    listener.close();
    await serving;
    for (const c of accepted) c.close();
  }
});

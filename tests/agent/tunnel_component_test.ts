// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** `tunnelComponent`: the peers `ctl status` shows, from a real tunnel on loopback. */
import assert from "node:assert/strict";
import { tunnelComponent } from "../../lib/agent/components.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { startTunnel, TunnelServer } from "../../lib/tunnel/mod.ts";
import { TEST_KEY } from "../tunnel/_fixtures.ts";

Deno.test("tunnelComponent shows a peer under its start probe as connecting, then up or down", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-tunnel-component-" });
  const peerB = new TunnelServer({
    listen: "127.0.0.1:0",
    nodeName: "b",
    key: TEST_KEY,
    log: nullLogger,
  });
  // A port with nothing listening: node c is unreachable.
  const gone = new TunnelServer({
    listen: "127.0.0.1:0",
    nodeName: "c",
    key: TEST_KEY,
    log: nullLogger,
  });
  await gone.close();
  try {
    await Deno.writeFile(`${dir}/key`, TEST_KEY);
    const tunnel = await startTunnel({
      nodeName: "a",
      tunnel: true,
      tunnelKeyFile: `${dir}/key`,
      tunnelTLS: null,
      tunnelListen: "127.0.0.1:0",
      peers: { b: `127.0.0.1:${peerB.addr.port}`, c: `127.0.0.1:${gone.addr.port}` },
    }, { log: nullLogger });
    assert.ok(tunnel);
    const component = tunnelComponent(tunnel);
    try {
      const states = () => component.status!().peers!.map((p) => `${p.name} ${p.state}`);
      assert.deepEqual(states(), ["b connecting", "c connecting"]);
      await tunnel.dialer.probed();
      assert.deepEqual(states(), ["b up", "c down"]);
    } finally {
      await component.close();
    }
  } finally {
    await peerB.close();
    await Deno.remove(dir, { recursive: true });
  }
});

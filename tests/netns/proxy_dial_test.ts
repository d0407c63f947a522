// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";

const DIAL = new URL("../../lib/proxy/dial.ts", import.meta.url).href;

Deno.test({
  name: "tcpDialer.dial() times out on an endpoint that never answers",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    await using ns = await createNetns("pxdial");
    // 10.99.0.2 is on a link with no one behind it: SYNs go nowhere (ARP never resolves),
    // so only our timeout ends the connect.
    await ns.run(["ip", "link", "add", "br0", "type", "bridge"]);
    await ns.run(["ip", "addr", "add", "10.99.0.1/24", "dev", "br0"]);
    await ns.run(["ip", "link", "set", "br0", "up"]);
    const script = `
      import { DialError, tcpDialer } from "${DIAL}";
      const backend = { ip: "10.99.0.2", port: 80, nodeName: null };
      const port = { name: "", protocol: "TCP", port: 80, targetPort: { kind: "number", port: 80 } };
      try {
        await tcpDialer.dial({ namespace: "default", service: "web", port, backend }, { timeoutMs: 150 });
        console.log("connected");
      } catch (err) {
        console.log(err instanceof DialError ? err.message : "other: " + err);
      }`;
    const out = await ns.run([Deno.execPath(), "eval", "--quiet", script]);
    assert.equal(out.trim(), 'Cannot connect to "10.99.0.2:80": timed out after 150 ms');
  },
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The systemd unit runs the agent as root with only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE.
 * These machines have no systemd as PID 1, so the capability decision is checked directly: a
 * root process reduced to exactly those two capabilities with `setpriv` (as the unit's
 * CapabilityBoundingSet/AmbientCapabilities do) inside a throwaway network namespace.
 */
import assert from "node:assert/strict";
import { createNetns, NETNS_AVAILABLE } from "../_helpers/netns.ts";
import { UNIT_CAPABILITIES as UNIT_CAPS } from "../_helpers/agent.ts";

const SETPRIV = (() => {
  try {
    return new Deno.Command("setpriv", { args: ["--version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "root with only the unit's capabilities can manage edge0, bind :53 and own its files",
  ignore: !NETNS_AVAILABLE || !SETPRIV,
  async fn() {
    await using ns = await createNetns("caps");
    const dir = await Deno.makeTempDir({ prefix: "em-caps-" });
    try {
      await Deno.writeTextFile(`${dir}/root-owned`, "x\n");
      await Deno.writeTextFile(`${dir}/other-owned`, "x\n");
      await Deno.chown(`${dir}/other-owned`, 4242, 4242);
      await Deno.chmod(`${dir}/other-owned`, 0o644);
      const script = [
        "set -e",
        "grep -E '^Cap(Eff|Bnd):' /proc/self/status",
        "ip link add e0 type bridge",
        "ip link set e0 up",
        "ip addr add 9.251.0.2/32 dev e0",
        "ip -br addr show dev e0",
        `echo y > ${dir}/root-owned`,
        // Root without CAP_DAC_OVERRIDE may not write another user's 0644 file.
        `if echo y > ${dir}/other-owned 2>/dev/null; then echo other-writable; else echo other-denied; fi`,
      ].join("\n");
      const out = await ns.run([...UNIT_CAPS, "sh", "-c", script]);
      // CAP_NET_BIND_SERVICE is bit 10, CAP_NET_ADMIN bit 12: 0x1400.
      assert.match(out, /^CapEff:\s+0000000000001400$/m);
      assert.match(out, /^CapBnd:\s+0000000000001400$/m);
      assert.match(out, /^e0\s+\S+\s+9\.251\.0\.2\/32/m);
      assert.equal(await Deno.readTextFile(`${dir}/root-owned`), "y\n");
      assert.match(out, /^other-denied$/m);

      // A privileged port on the VIP, as DNS on <subnet first address>:53 needs.
      const bind = await ns.run([
        ...UNIT_CAPS,
        Deno.execPath(),
        "eval",
        "const l = Deno.listen({ hostname: '9.251.0.2', port: 53 }); " +
        "console.log(l.addr.port); l.close();",
      ]);
      assert.equal(bind.trim(), "53");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

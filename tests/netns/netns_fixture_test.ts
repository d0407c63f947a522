// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { createLan, NETNS_AVAILABLE } from "../_helpers/netns.ts";
import { denoExec } from "../../lib/netdev/exec.ts";

Deno.test({
  name: "createLan() joins nodes on a bridge and removes every namespace on dispose",
  ignore: !NETNS_AVAILABLE,
  async fn() {
    let names: string[];
    {
      await using lan = await createLan("fix", 2, 78);
      names = lan.nodes.map((n) => n.name);
      const a = lan.nodes[0]!;
      const b = lan.nodes[1]!;
      const server = b.spawn([
        Deno.execPath(),
        "eval",
        `const l = Deno.listen({hostname: "${b.ip}", port: 7070}); console.log("up");
         const c = await l.accept(); await c.write(new TextEncoder().encode("hello")); c.close(); l.close();`,
      ], { stdout: "piped" });
      const reader = server.stdout.getReader();
      await reader.read(); // "up": the listener is bound
      await reader.cancel();
      const out = await a.run([
        Deno.execPath(),
        "eval",
        `const c = await Deno.connect({hostname: "${b.ip}", port: 7070}); const buf = new Uint8Array(16);
         const n = await c.read(buf); console.log(new TextDecoder().decode(buf.subarray(0, n ?? 0))); c.close();`,
      ]);
      assert.equal(out.trim(), "hello");
      assert.equal((await server.status).code, 0);
    }
    const list = (await denoExec.run(["ip", "netns", "list"])).stdout;
    for (const n of names) assert.ok(!list.includes(n), `${n} still exists`);
  },
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Which socket engine the proxy runs on (config `proxyEngine`). */
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import { openProxyIo, Proxy, resolveEngine } from "../../lib/proxy/mod.ts";
import { runDeno } from "../_helpers/child.ts";

Deno.test("resolveEngine() takes a named engine as is and picks epoll for auto with FFI", () => {
  assert.equal(resolveEngine("deno"), "deno");
  assert.equal(resolveEngine("epoll"), "epoll");
  // The tests run with --allow-all, so FFI on the C library is allowed here.
  assert.equal(resolveEngine("auto"), "epoll");
});

Deno.test("openProxyIo() opens and closes either engine", async () => {
  for (const engine of ["epoll", "deno"] as const) {
    const io = openProxyIo(engine, nullLogger);
    assert.equal(io.engine, engine);
    await io.close();
  }
});

Deno.test("Without FFI permission auto falls back to Deno's sockets and epoll is refused", async () => {
  const mod = new URL("../../lib/proxy/mod.ts", import.meta.url).href;
  const log = new URL("../../lib/log/mod.ts", import.meta.url).href;
  const script = `
    import { Proxy } from "${mod}";
    import { nullLogger } from "${log}";
    const p = new Proxy({ nodeName: "n", log: nullLogger });
    console.log("auto=" + p.engine);
    await p.close();
    try {
      new Proxy({ nodeName: "n", log: nullLogger, engine: "epoll" });
      console.log("epoll=accepted");
    } catch (err) {
      console.log("epoll=" + err.constructor.name + ": " + err.message);
    }
  `;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, script);
    const out = await runDeno(["run", "--no-prompt", "--allow-net", "--allow-read", file]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^auto=deno$/m);
    assert.match(
      out.stdout,
      /^epoll=NotSupported: proxyEngine "epoll" needs Linux and --allow-ffi/m,
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("Proxy reports the engine it runs on", async () => {
  const p = new Proxy({ nodeName: "n", log: nullLogger, engine: "deno" });
  assert.equal(p.engine, "deno");
  await p.close();
});

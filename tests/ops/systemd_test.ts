// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Tests of deploy/: the systemd unit and the example configuration. */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { CONFIG_KEYS, parseConfig, parseConfigText } from "../../lib/config/mod.ts";
import { notifyPlan } from "../../lib/sys/mod.ts";
import { DEFAULT_PERMISSION_PATHS, permissionFlags } from "../../scripts/permissions.ts";

const UNIT = fileURLToPath(new URL("../../deploy/edgemesh.service", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../../deploy/edgemesh.yaml", import.meta.url));

const SYSTEMD_ANALYZE = (() => {
  try {
    return new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** `[Section]` → directive → values, in file order (comments and blank lines dropped). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(current && eq > 0, `unexpected line in unit: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

async function verify(path: string): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command("systemd-analyze", {
    args: ["verify", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stderr: dec.decode(out.stderr) + dec.decode(out.stdout) };
}

Deno.test("deploy/edgemesh.service has the required hardening and lifecycle directives", async (t) => {
  const unit = parseUnit(await Deno.readTextFile(UNIT));
  const service = unit.get("Service");
  assert.ok(service, "[Service] section");
  const want: [string, string][] = [
    ["Type", "notify"],
    ["NotifyAccess", "main"],
    ["WatchdogSec", "30s"],
    ["ExecStart", "/usr/local/bin/edgemesh run --config /etc/edgemesh/edgemesh.yaml"],
    ["Restart", "on-failure"],
    ["CapabilityBoundingSet", "CAP_NET_ADMIN CAP_NET_BIND_SERVICE"],
    ["AmbientCapabilities", "CAP_NET_ADMIN CAP_NET_BIND_SERVICE"],
    ["NoNewPrivileges", "yes"],
    ["ProtectSystem", "strict"],
    ["ProtectHome", "yes"],
    ["PrivateTmp", "yes"],
    ["RuntimeDirectory", "edgemesh"],
    ["RuntimeDirectoryMode", "0700"],
    ["StateDirectory", "edgemesh"],
    ["ReadWritePaths", "/var/lib/edgemesh /run/edgemesh"],
    ["LimitNOFILE", "65536"],
  ];
  for (const [key, value] of want) {
    await t.step(`${key}=${value}`, () => assert.deepEqual(service.get(key), [value]));
  }
  await t.step("RestartSec is set", () => assert.ok(service.get("RestartSec")));
  await t.step("no MemoryDenyWriteExecute (V8 JIT)", () => {
    assert.equal(service.get("MemoryDenyWriteExecute"), undefined);
  });
  await t.step("installs into multi-user.target", () => {
    assert.deepEqual(unit.get("Install")?.get("WantedBy"), ["multi-user.target"]);
  });
});

Deno.test("deploy/edgemesh.service says what SIGTERM does: open connections close at once", async () => {
  // Proxy.close() (the agent's stop) closes connections without grace, tested in
  // tests/integration/proxy_test.ts; the unit's comment must not promise a drain.
  const comments = (await Deno.readTextFile(UNIT)).split("\n").filter((l) => l.startsWith("#"))
    .map((l) => l.slice(1).trim()).join(" ");
  assert.match(comments, /SIGTERM stops the agent cleanly but without draining/);
  assert.match(comments, /closes every open proxied connection and tunnel stream at once/);
  assert.doesNotMatch(comments, /drains open connections[^.]*on SIGTERM/);
});

Deno.test("deploy/edgemesh.service says what Type=notify and the watchdog mean", async () => {
  const text = await Deno.readTextFile(UNIT);
  const comments = text.split("\n").filter((l) => l.startsWith("#")).map((l) => l.slice(1).trim())
    .join(" ");
  assert.doesNotMatch(comments, /has no sd_notify|Type=simple/);
  assert.match(comments, /READY=1/);
  assert.match(comments, /STOPPING=1/);
  // The ping period the comment states is what the agent derives from WatchdogSec.
  const sec = Number(/^WatchdogSec=(\d+)s$/m.exec(text)?.[1]);
  const plan = notifyPlan(
    (n) => ({ NOTIFY_SOCKET: "/run/systemd/notify", WATCHDOG_USEC: String(sec * 1e6) })[n],
    1,
  );
  assert.equal(plan.watchdogMs, 15_000);
  assert.match(comments, new RegExp(`pings WATCHDOG=1 every ${plan.watchdogMs! / 1000} s`));
});

Deno.test("deploy/edgemesh.service writable paths match the compiled-in permission flags", async () => {
  const service = parseUnit(await Deno.readTextFile(UNIT)).get("Service")!;
  const rw = (service.get("ReadWritePaths") ?? []).join(" ").split(" ");
  assert.ok(rw.includes(DEFAULT_PERMISSION_PATHS.stateDir));
  assert.ok(rw.includes(DEFAULT_PERMISSION_PATHS.runtimeDir));
  assert.equal(`/var/lib/${service.get("StateDirectory")}`, DEFAULT_PERMISSION_PATHS.stateDir);
  assert.equal(`/run/${service.get("RuntimeDirectory")}`, DEFAULT_PERMISSION_PATHS.runtimeDir);
});

Deno.test({
  name: "systemd-analyze verify accepts deploy/edgemesh.service",
  ignore: !SYSTEMD_ANALYZE,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "em-unit-" });
    try {
      // verify insists that ExecStart exists; point a copy at a real executable so every other
      // complaint still fails the test.
      const bin = `${dir}/edgemesh`;
      await Deno.writeTextFile(bin, "#!/bin/sh\nexit 0\n");
      await Deno.chmod(bin, 0o755);
      const text = (await Deno.readTextFile(UNIT)).replace("/usr/local/bin/edgemesh", bin);
      const copy = `${dir}/edgemesh.service`;
      await Deno.writeTextFile(copy, text);
      const r = await verify(copy);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr.trim(), "", "no warnings");

      // The original fails only for the binary that is not installed on this machine.
      const orig = await verify(UNIT);
      const complaints = orig.stderr.split("\n").filter((l) => l.trim() !== "");
      for (const line of complaints) {
        assert.match(line, /\/usr\/local\/bin\/edgemesh is not executable|edgemesh\.service/);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Uncomments the first `#key: value` line of every key (and its `#  - item` continuation). */
function uncommentDefaults(text: string): string {
  const seen = new Set<string>();
  let inList = false;
  return text.split("\n").map((line) => {
    const key = /^#(\w+):/.exec(line)?.[1];
    if (key && (CONFIG_KEYS as readonly string[]).includes(key)) {
      inList = false;
      if (seen.has(key) || key === "nodeName") return line;
      seen.add(key);
      inList = /:\s*$/.test(line);
      return line.slice(1);
    }
    if (inList && /^#\s+- /.test(line)) return line.slice(1);
    inList = false;
    return line;
  }).join("\n");
}

Deno.test("deploy/edgemesh.yaml documents every config key with its true default", async () => {
  const text = await Deno.readTextFile(EXAMPLE);
  for (const key of CONFIG_KEYS) {
    assert.match(text, new RegExp(`^#${key}:`, "m"), `key "${key}" is documented`);
  }
  const hostname = "edge-test";
  const asIs = parseConfig(await parseConfigText(text), { hostname });
  const active = uncommentDefaults(text);
  for (const key of CONFIG_KEYS.filter((k) => k !== "nodeName")) {
    assert.match(active, new RegExp(`^${key}:`, "m"), `default of "${key}" is uncommented`);
  }
  assert.match(active, /^ {2}- fc00::\/7$/m, "list items are uncommented too");
  const uncommented = parseConfig(await parseConfigText(active), { hostname });
  const builtIn = parseConfig({}, { hostname });
  assert.deepEqual(asIs, builtIn, "the example as shipped is the built-in default");
  assert.deepEqual(uncommented, builtIn, "every commented value is the real default");
});

Deno.test("deploy/ comments name every path the binary may write, and the unit its FFI", async () => {
  const comments = async (path: string) =>
    (await Deno.readTextFile(path)).split("\n").filter((l) => l.startsWith("#"))
      .map((l) => l.slice(1).trim()).join(" ");
  const writes = permissionFlags().find((f) => f.startsWith("--allow-write="))!
    .slice("--allow-write=".length).split(",");
  assert.ok(writes.includes("/etc/.resolv.conf.edgemesh-tmp"), writes.join(","));
  for (const file of [UNIT, EXAMPLE]) {
    const text = await comments(file);
    for (const w of writes) assert.ok(text.includes(w), `${file} names ${w}`);
  }
  assert.match(await comments(UNIT), /--allow-ffi/);
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Rotating the cluster key without a restart (lib/tunnel/README.md "Rotating the cluster key"):
 * accepted keys (`tunnelAcceptKeyFiles`) verify but never sign, and the key files are reloaded.
 * Whether a stream was authenticated is read from the refusal: `unknown-service` (404) means
 * the key was accepted, `unauthenticated` (401) that it was not.
 */
import assert from "node:assert/strict";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import {
  importTunnelKey,
  RequestVerifier,
  signRequest,
  startTunnel,
  TunnelDialer,
  TunnelDialError,
  TunnelServer,
  TunnelSetupError,
} from "../../lib/tunnel/mod.ts";
import { type KeyFileIo, keyFilesOf, KeyFileWatcher } from "../../lib/tunnel/key_reload.ts";
import type { FileStamp } from "../../lib/sys/file_watch.ts";
import { servicePort } from "./_fixtures.ts";

const OLD = new TextEncoder().encode("old-cluster-key-".repeat(3));
const NEW = new TextEncoder().encode("new-cluster-key-".repeat(3));
const OTHER = new TextEncoder().encode("some-other-key--".repeat(3));

const TARGET = { source: "a", service: "default/x", port: "80", endpoint: "10.0.0.1:80" };

Deno.test("RequestVerifier: accepted keys verify, only the listed ones; setKeys keeps the nonce cache", async () => {
  const now = () => 1_000_000;
  const [oldKey, newKey, otherKey] = await Promise.all([OLD, NEW, OTHER].map(importTunnelKey));
  const v = new RequestVerifier({ key: newKey!, accept: [oldKey!], now });
  const byOld = await signRequest(oldKey!, TARGET, now());
  assert.deepEqual(await v.verify(await signRequest(newKey!, TARGET, now())), { ok: true });
  assert.deepEqual(await v.verify(byOld), { ok: true });
  assert.deepEqual(await v.verify(await signRequest(otherKey!, TARGET, now())), {
    ok: false,
    failure: "bad-signature",
  });
  v.setKeys(newKey!); // step 3 of the rotation: the old key is dropped
  assert.deepEqual(await v.verify(await signRequest(oldKey!, TARGET, now())), {
    ok: false,
    failure: "bad-signature",
  });
  v.setKeys(newKey!, [oldKey!]);
  assert.deepEqual(await v.verify(byOld), { ok: false, failure: "replayed" });
});

/** In-memory key files; `write` gives a new stamp. */
function memoryKeys(initial: Record<string, Uint8Array>) {
  const files = new Map(Object.entries(initial));
  const stamps = new Map<string, FileStamp>();
  let n = 1;
  for (const p of files.keys()) stamps.set(p, { mtimeMs: n, size: 1, ino: n++ });
  const io: KeyFileIo = {
    stat: (p) => Promise.resolve(stamps.get(p)!),
    readFile: (p) => Promise.resolve(files.get(p)!),
  };
  return {
    io,
    write(p: string, bytes: Uint8Array) {
      files.set(p, bytes);
      stamps.set(p, { mtimeMs: 100 + n, size: bytes.length, ino: n++ });
    },
  };
}

Deno.test("KeyFileWatcher: a short key is refused naming its config key, then a valid change is applied", async () => {
  const fs = memoryKeys({ "/k": OLD, "/a0": OTHER });
  const log = memoryLogger();
  const applied: [Uint8Array, readonly Uint8Array[]][] = [];
  const w = new KeyFileWatcher({
    files: keyFilesOf("/k", ["/a0"]),
    initial: [OLD, OTHER],
    log,
    io: fs.io,
    apply: (key, accept) => applied.push([key, accept]),
  });
  assert.equal(await w.poll(), false);
  fs.write("/a0", new Uint8Array(31));
  assert.equal(await w.poll(), false);
  assert.equal(await w.poll(), false);
  const warns = log.lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
  assert.equal(warns.length, 1);
  assert.equal(
    warns[0].problem,
    'tunnelAcceptKeyFiles[0] "/a0" has 31 bytes, at least 32 are required',
  );
  fs.write("/k", NEW);
  fs.write("/a0", OLD);
  assert.equal(await w.poll(), true);
  assert.deepEqual(applied, [[NEW, [OLD]]]);
  const info = log.lines.map((l) => JSON.parse(l)).find((l) => l.level === "info");
  assert.equal(info.msg, "tunnel key files reloaded");
  assert.equal(info.changed, "tunnelKeyFile,tunnelAcceptKeyFiles[0]");
  assert.ok(!log.lines.join("\n").includes("cluster-key"), "key bytes are never logged");
});

/** The refusal a dialer signing with `key` gets from the server at `port`. */
async function refusal(key: Uint8Array, port: number): Promise<string> {
  const d = new TunnelDialer({
    nodeName: "a",
    key,
    peers: { b: `127.0.0.1:${port}` },
    log: nullLogger,
  });
  try {
    await d.dial({
      namespace: "default",
      service: "none",
      port: servicePort(80),
      backend: { ip: "10.0.0.1", port: 80, nodeName: "b" },
    }, { timeoutMs: 5000 });
    return "served";
  } catch (err) {
    assert.ok(err instanceof TunnelDialError, String(err));
    return err.reason;
  } finally {
    d.close();
  }
}

Deno.test("startTunnel: rotation with tunnelAcceptKeyFiles and key file reloads, no restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rqa-keys-" });
  // A peer that accepts only the new key: whom the tunnel's own dialer signs for.
  const peer = new TunnelServer({
    listen: "127.0.0.1:0",
    nodeName: "c",
    key: NEW,
    log: nullLogger,
  });
  const put = async (name: string, bytes: Uint8Array) => {
    await Deno.writeFile(`${dir}/.${name}.tmp`, bytes);
    await Deno.rename(`${dir}/.${name}.tmp`, `${dir}/${name}`);
  };
  await put("key", OLD);
  await put("accept", OTHER);
  const log = memoryLogger();
  const tunnel = await startTunnel({
    nodeName: "b",
    tunnel: true,
    tunnelListen: "127.0.0.1:0",
    tunnelKeyFile: `${dir}/key`,
    tunnelAcceptKeyFiles: [`${dir}/accept`],
    tunnelTLS: null,
    peers: { c: `127.0.0.1:${peer.addr.port}` },
  }, { log });
  assert.ok(tunnel);
  const port = tunnel.server.addr.port;
  const ownDial = () =>
    tunnel.dialer.dial({
      namespace: "default",
      service: "none",
      port: servicePort(80),
      backend: { ip: "10.0.0.1", port: 80, nodeName: "c" },
    }, { timeoutMs: 5000 }).then(() => "served", (err: TunnelDialError) => err.reason);
  try {
    assert.equal(await refusal(OLD, port), "unknown-service", "tunnelKeyFile verifies");
    assert.equal(await refusal(OTHER, port), "unknown-service", "an accepted key verifies");
    assert.equal(await refusal(NEW, port), "unauthenticated");
    assert.equal(await ownDial(), "unauthenticated", "it signs with tunnelKeyFile, not OTHER");

    // Step 2 on this node: the new key signs, the old one is still accepted.
    await put("key", NEW);
    await put("accept", OLD);
    assert.equal(await tunnel.reloadKeys(), true);
    assert.equal(await ownDial(), "unknown-service", "new streams are signed with the new key");
    assert.equal(await refusal(OLD, port), "unknown-service", "a peer still on the old key");
    assert.equal(await refusal(NEW, port), "unknown-service");
    assert.equal(await refusal(OTHER, port), "unauthenticated", "dropped from the list");
    const failures = log.lines.map((l) => JSON.parse(l)).filter((l) =>
      l.level === "warn" && /failed authentication/.test(l.msg)
    );
    assert.ok(failures.some((l) => l.why === "bad-signature"), "the check that failed is named");
  } finally {
    await tunnel.close();
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startTunnel: an unusable tunnelAcceptKeyFiles entry refuses the start, naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rqa-keys-" });
  try {
    await Deno.writeFile(`${dir}/key`, NEW);
    await Deno.writeFile(`${dir}/old`, OLD);
    await Deno.writeFile(`${dir}/short`, new Uint8Array(8));
    const config = {
      nodeName: "b",
      tunnel: true,
      tunnelListen: "127.0.0.1:0",
      tunnelKeyFile: `${dir}/key`,
      tunnelTLS: null,
      peers: {},
    };
    await assert.rejects(
      startTunnel({ ...config, tunnelAcceptKeyFiles: [`${dir}/old`, `${dir}/short`] }, {
        log: nullLogger,
      }),
      (err: unknown) => {
        assert.ok(err instanceof TunnelSetupError);
        assert.equal(
          err.message,
          `Cannot load tunnel key "${dir}/short" (tunnelAcceptKeyFiles[1]): it has 8 bytes, at least 32 are required`,
        );
        return true;
      },
    );
    await assert.rejects(
      startTunnel({ ...config, tunnelAcceptKeyFiles: [`${dir}/none`] }, { log: nullLogger }),
      /\(tunnelAcceptKeyFiles\[0\]\): file does not exist/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Reloading `tunnelTLS` without a restart (lib/tunnel/README.md "Reloading credentials"): the
 * watcher on injected file access (no timers), and the server on real TLS over loopback — a
 * new connection gets the new certificate, an open one keeps working.
 */
import assert from "node:assert/strict";
import * as tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { startTunnel, TunnelDialer, TunnelServer } from "../../lib/tunnel/mod.ts";
import type { InnerServe } from "../../lib/tunnel/inner.ts";
import type { TunnelServerOptions } from "../../lib/tunnel/server.ts";
import { settledYet } from "../_helpers/poll.ts";
import {
  type FileStamp,
  type TlsFileIo,
  TlsFileWatcher,
  validateTunnelTls,
} from "../../lib/tunnel/tls_reload.ts";
import type { TunnelTls } from "../../lib/tunnel/dialer.ts";
import { tunnelComponent } from "../../lib/agent/components.ts";
import { makeCa, makeServerCert } from "../_helpers/pki.ts";
import {
  makeTestPki,
  readExactly,
  roundTrip,
  servicePort,
  snapshotOf,
  startEchoServer,
  TEST_KEY,
  type TestPki,
  writeAll,
} from "./_fixtures.ts";

/** The test PKI plus a second certificate (serial 3) from the same CA and its key. */
async function twoCerts(): Promise<TestPki & { cert2: string; key2: string }> {
  const pki = await makeTestPki();
  const second = await makeServerCert(pki.dir, {
    name: "srv2",
    commonName: "em-test-node",
    ips: ["127.0.0.1"],
    serial: 3,
  });
  return {
    ...pki,
    cert2: await Deno.readTextFile(second.certFile),
    key2: await Deno.readTextFile(second.keyFile),
  };
}

/** In-memory files: `write` changes contents and stamp (a new inode, as an atomic rename). */
function memoryFiles(initial: Record<string, string>) {
  const files = new Map(Object.entries(initial));
  const stamps = new Map<string, FileStamp>();
  let ino = 1;
  const reads: string[] = [];
  for (const p of files.keys()) stamps.set(p, { mtimeMs: 1000, size: 1, ino: ino++ });
  const io: TlsFileIo = {
    stat: (p) => Promise.resolve(stamps.get(p)!),
    readTextFile: (p) => {
      reads.push(p);
      return Promise.resolve(files.get(p)!);
    },
  };
  return {
    io,
    reads,
    write(p: string, text: string) {
      files.set(p, text);
      stamps.set(p, { mtimeMs: 2000 + ino, size: text.length, ino: ino++ });
    },
    touch(p: string) {
      const s = stamps.get(p)!;
      stamps.set(p, { ...s, mtimeMs: (s.mtimeMs ?? 0) + 1 });
    },
  };
}

const FILES = { certFile: "/c", keyFile: "/k", caFile: "/ca" };

Deno.test("validateTunnelTls: a matching pair gives serial and expiry; bad PEM and a foreign key are named", async () => {
  const pki = await twoCerts();
  try {
    const ok = validateTunnelTls({ cert: pki.cert, key: pki.key, ca: pki.ca });
    assert.ok(ok.ok);
    assert.equal(ok.serial, "2"); // Deno gives it without leading zeros
    assert.equal(ok.expiresAt, Date.parse(new X509Certificate(pki.cert).validTo));
    assert.ok(ok.expiresAt > Date.now());
    const rows: [string, TunnelTls, RegExp][] = [
      ["foreign key", { cert: pki.cert, key: pki.key2, ca: pki.ca }, /does not match/],
      ["half-written cert", { cert: pki.cert.slice(0, 200), key: pki.key, ca: pki.ca }, /certFile/],
      ["half-written key", { cert: pki.cert, key: pki.key.slice(0, 60), ca: pki.ca }, /keyFile/],
      ["bad CA", { cert: pki.cert, key: pki.key, ca: "-----BEGIN CERTIFICATE-----\n" }, /caFile/],
    ];
    for (const [name, set, want] of rows) {
      const r = validateTunnelTls(set);
      assert.ok(!r.ok, name);
      assert.match(r.problem, want, name);
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("TlsFileWatcher: reads only on a stamp change, applies a valid new pair, refuses a bad one (warned once) and retries", async () => {
  const pki = await twoCerts();
  try {
    const fs = memoryFiles({ "/c": pki.cert, "/k": pki.key, "/ca": pki.ca });
    const log = memoryLogger();
    const applied: [string, string[]][] = [];
    const w = new TlsFileWatcher({
      files: FILES,
      initial: { cert: pki.cert, key: pki.key, ca: pki.ca },
      log,
      io: fs.io,
      apply: (_next, info, changed) => applied.push([info.serial, [...changed]]),
    });
    // First poll compares contents (the files may have changed since they were read).
    assert.equal(await w.poll(), false);
    assert.equal(fs.reads.length, 3);
    assert.equal(await w.poll(), false);
    assert.equal(fs.reads.length, 3, "unchanged stamps: nothing read");
    fs.touch("/c");
    assert.equal(await w.poll(), false, "same bytes: nothing applied");

    // The renewal tool wrote the certificate first: for a moment it does not match the key.
    fs.write("/c", pki.cert2);
    assert.equal(await w.poll(), false);
    assert.equal(await w.poll(), false);
    const warns = log.lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
    assert.equal(warns.length, 1, "one warning per distinct problem");
    assert.match(warns[0].problem, /does not match/);
    assert.equal(w.current.cert, pki.cert, "the old pair stays in use");
    assert.deepEqual(applied, []);

    fs.write("/k", pki.key2);
    assert.equal(await w.poll(), true);
    assert.deepEqual(applied, [["3", ["certFile", "keyFile"]]]);
    assert.equal(w.current.cert, pki.cert2);
    const info = log.lines.map((l) => JSON.parse(l)).find((l) => l.level === "info");
    assert.equal(info.msg, "tunnel TLS files reloaded");
    assert.equal(info.changed, "certFile,keyFile");
    assert.equal(info.serial, "3");

    // A pair the server refuses (apply throws) is not taken either.
    const refusing = new TlsFileWatcher({
      files: FILES,
      initial: { cert: pki.cert2, key: pki.key2, ca: pki.ca },
      log,
      io: fs.io,
      apply: () => {
        throw new Error("serve failed");
      },
    });
    fs.write("/c", pki.cert);
    fs.write("/k", pki.key);
    assert.equal(await refusing.poll(), false);
    assert.equal(refusing.current.cert, pki.cert2);
    assert.ok(log.lines.some((l) => l.includes("cannot use them: serve failed")));
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

/** The serial of the certificate a new TLS connection to 127.0.0.1:`port` gets. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, ca: [ca], ALPNProtocols: ["h2"] }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      resolve(serial);
    });
    s.on("error", reject);
  });
}

/** `Deno.serve` that records each server it starts (the ones behind the tunnel's front). */
function recordingServe(): { serve: InnerServe; servers: Deno.HttpServer<Deno.NetAddr>[] } {
  const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  return {
    servers,
    serve: (options, handler) => {
      const s = Deno.serve({ ...options }, (req, info) => handler(req, info));
      servers.push(s);
      return s;
    },
  };
}

/** Node "b"'s TLS tunnel server with the test PKI's first pair, started through `inner`. */
function serverWith(
  pki: TestPki,
  inner: ReturnType<typeof recordingServe>,
  extra: Partial<TunnelServerOptions> = {},
): TunnelServer {
  return new TunnelServer({
    listen: "127.0.0.1:0",
    nodeName: "b",
    key: TEST_KEY,
    log: nullLogger,
    tls: { cert: pki.cert, key: pki.key, ca: pki.ca },
    serve: inner.serve,
    ...extra,
  });
}

/**
 * Whether a TCP connection to loopback `port` is refused (nothing listens there); one reset
 * while the listener closes counts as not yet.
 */
async function refused(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionRefused) return true;
    if (err instanceof Deno.errors.ConnectionReset) return false;
    throw err;
  }
}

Deno.test("TunnelServer.setTls: new connections get the new certificate, an open connection keeps working, the old server stops after its last connection", async () => {
  const pki = await twoCerts();
  const echo = startEchoServer("b:");
  const inner = recordingServe();
  const server = serverWith(pki, inner, { loopbackEndpointsForTests: true, retireCheckMs: 10 });
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    tls: { cert: pki.cert, key: pki.key, ca: pki.ca },
    peers: { b: `127.0.0.1:${server.addr.port}` },
    log: nullLogger,
  });
  try {
    server.update(snapshotOf([{
      namespace: "default",
      name: "echo",
      port: 80,
      endpoints: [{ ip: "127.0.0.1", port: echo.port, nodeName: "b" }],
    }]));
    const target = {
      namespace: "default",
      service: "echo",
      port: servicePort(80),
      backend: { ip: "127.0.0.1", port: echo.port, nodeName: "b" },
    };
    assert.equal(BigInt(`0x${await servedSerial(server.addr.port, pki.ca)}`), 2n);
    const open = await dialer.dial(target, { timeoutMs: 5000 });
    await writeAll(open, new TextEncoder().encode("1"));
    assert.equal(new TextDecoder().decode(await readExactly(open, 3)), "b:1");

    server.setTls({ cert: pki.cert2, key: pki.key2, ca: pki.ca });

    assert.equal(BigInt(`0x${await servedSerial(server.addr.port, pki.ca)}`), 3n);
    assert.equal(await roundTrip(open, "2"), "2", "the open stream goes on");
    const again = await dialer.dial(target, { timeoutMs: 5000 });
    assert.equal(await roundTrip(again, "x"), "b:x", "and its connection takes new streams");
    assert.equal(inner.servers.length, 2);
    const old = inner.servers[0]!;
    assert.equal(await settledYet(old.finished), false, "the old server serves that connection");
    open.close();
    again.close();
    dialer.close(); // its connection to the old server closes: nothing goes there any more
    await old.finished;
    assert.equal(await refused(old.addr.port), true, "the old server no longer listens");
    assert.equal(await settledYet(inner.servers[1]!.finished), false, "the new one serves on");
    assert.equal(BigInt(`0x${await servedSerial(server.addr.port, pki.ca)}`), 3n);
  } finally {
    dialer.close();
    await server.close();
    await echo.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("TunnelServer.setTls: an old server without connections stops at once, and stopping the tunnel after reloads stops cleanly", async () => {
  const pki = await twoCerts();
  const inner = recordingServe();
  const server = serverWith(pki, inner);
  try {
    server.setTls({ cert: pki.cert2, key: pki.key2, ca: pki.ca });
    await inner.servers[0]!.finished;
    server.setTls({ cert: pki.cert, key: pki.key, ca: pki.ca });
    await inner.servers[1]!.finished;
    assert.equal(BigInt(`0x${await servedSerial(server.addr.port, pki.ca)}`), 2n);
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
  assert.equal(await settledYet(inner.servers[2]!.finished), true);
});

Deno.test("startTunnel: reloads changed TLS files (atomic rename), keeps serving on a bad pair, shows the expiry", async () => {
  const pki = await twoCerts();
  const dir = await Deno.makeTempDir({ prefix: "rqa-tls-" });
  const put = async (name: string, text: string) => {
    await Deno.writeTextFile(`${dir}/.${name}.tmp`, text);
    await Deno.rename(`${dir}/.${name}.tmp`, `${dir}/${name}`);
  };
  await Deno.writeTextFile(`${dir}/key`, "k".repeat(32));
  await put("tls.crt", pki.cert);
  await put("tls.key", pki.key);
  await put("ca.crt", pki.ca);
  const log = memoryLogger();
  const metrics = new MetricsRegistry();
  const tunnel = await startTunnel({
    nodeName: "b",
    tunnel: true,
    tunnelListen: "127.0.0.1:0",
    tunnelKeyFile: `${dir}/key`,
    tunnelTLS: { certFile: `${dir}/tls.crt`, keyFile: `${dir}/tls.key`, caFile: `${dir}/ca.crt` },
    peers: {},
  }, { log, metrics });
  assert.ok(tunnel);
  const gauge = () =>
    metrics.render().split("\n").find((l) =>
      l.startsWith("edgemesh_tunnel_tls_certificate_expiry_timestamp_seconds ")
    )?.split(" ")[1];
  try {
    const first = Date.parse(new X509Certificate(pki.cert).validTo);
    assert.equal(tunnel.status().certificateExpiresAt, first);
    assert.equal(gauge(), String(first / 1000));
    const status = tunnelComponent(tunnel).status?.().tunnel;
    assert.equal(status?.certificateExpiresAt, new Date(first).toISOString());

    await put("tls.key", pki.key2); // the key alone: does not match the certificate
    assert.equal(await tunnel.reloadTls(), false);
    assert.match(log.lines.join("\n"), /"level":"warn".*does not match/);
    assert.equal(BigInt(`0x${await servedSerial(tunnel.server.addr.port, pki.ca)}`), 2n);

    await put("tls.crt", pki.cert2);
    assert.equal(await tunnel.reloadTls(), true);
    assert.equal(BigInt(`0x${await servedSerial(tunnel.server.addr.port, pki.ca)}`), 3n);
    const second = Date.parse(new X509Certificate(pki.cert2).validTo);
    assert.equal(tunnel.status().certificateExpiresAt, second);
    assert.equal(gauge(), String(second / 1000));
    assert.ok(log.lines.some((l) => l.includes("tunnel TLS files reloaded")));
  } finally {
    await tunnel.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("TunnelDialer.setTls: new connections trust the new CA", async () => {
  const pki = await makeTestPki();
  const other = await Deno.makeTempDir({ prefix: "rqa-ca-" });
  await makeCa(other, "em-other-ca");
  const otherCa = await Deno.readTextFile(`${other}/ca.crt`);
  const server = new TunnelServer({
    listen: "127.0.0.1:0",
    nodeName: "b",
    key: TEST_KEY,
    log: nullLogger,
    tls: { cert: pki.cert, key: pki.key, ca: pki.ca },
  });
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    tls: { cert: pki.cert, key: pki.key, ca: otherCa },
    peers: { b: `127.0.0.1:${server.addr.port}` },
    log: nullLogger,
    backoff: { initialMs: 0, maxMs: 0 },
  });
  const target = {
    namespace: "default",
    service: "none",
    port: servicePort(80),
    backend: { ip: "10.0.0.1", port: 80, nodeName: "b" },
  };
  try {
    await assert.rejects(dialer.dial(target, { timeoutMs: 5000 }), /unreachable/);
    dialer.setTls({ cert: pki.cert, key: pki.key, ca: pki.ca });
    // Reached and verified: the peer answers (it has no such service).
    await assert.rejects(dialer.dial(target, { timeoutMs: 5000 }), /unknown-service|404/);
  } finally {
    dialer.close();
    await server.close();
    await Deno.remove(other, { recursive: true });
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("startTunnel: a certificate that has expired at start is warned loudly and served", async () => {
  const pki = await makeTestPki();
  const log = memoryLogger();
  await Deno.writeTextFile(`${pki.dir}/key`, "k".repeat(32));
  const tunnel = await startTunnel({
    nodeName: "b",
    tunnel: true,
    tunnelListen: "127.0.0.1:0",
    tunnelKeyFile: `${pki.dir}/key`,
    tunnelTLS: { certFile: pki.certFile, keyFile: pki.keyFile, caFile: pki.caFile },
    peers: {},
  }, { log, now: () => Date.now() + 3 * 86_400_000 }); // the 1-day certificate has expired
  assert.ok(tunnel);
  try {
    const warn = log.lines.map((l) => JSON.parse(l)).find((l) => /EXPIRED/.test(l.msg));
    assert.ok(warn, log.lines.join("\n"));
    assert.equal(warn.level, "warn");
    assert.equal(BigInt(`0x${await servedSerial(tunnel.server.addr.port, pki.ca)}`), 2n);
  } finally {
    await tunnel.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("TlsFileWatcher on real files: the symlink swap of a Kubernetes secret volume is seen", async () => {
  const pki = await twoCerts();
  const dir = await Deno.makeTempDir({ prefix: "rqa-secret-" });
  // A secret volume: tls.crt → ..data/tls.crt, ..data → ..v1; an update writes ..v2 and
  // renames a new ..data link over the old one. The paths the agent stats never change.
  const version = async (name: string, cert: string, key: string) => {
    await Deno.mkdir(`${dir}/${name}`);
    await Deno.writeTextFile(`${dir}/${name}/tls.crt`, cert);
    await Deno.writeTextFile(`${dir}/${name}/tls.key`, key);
    await Deno.writeTextFile(`${dir}/${name}/ca.crt`, pki.ca);
    await Deno.symlink(name, `${dir}/..data_tmp`);
    await Deno.rename(`${dir}/..data_tmp`, `${dir}/..data`);
  };
  try {
    await version("..v1", pki.cert, pki.key);
    for (const f of ["tls.crt", "tls.key", "ca.crt"]) {
      await Deno.symlink(`..data/${f}`, `${dir}/${f}`);
    }
    const applied: string[] = [];
    const w = new TlsFileWatcher({
      files: { certFile: `${dir}/tls.crt`, keyFile: `${dir}/tls.key`, caFile: `${dir}/ca.crt` },
      initial: { cert: pki.cert, key: pki.key, ca: pki.ca },
      log: nullLogger,
      apply: (_next, info) => applied.push(info.serial),
    });
    assert.equal(await w.poll(), false);
    await version("..v2", pki.cert2, pki.key2);
    assert.equal(await w.poll(), true);
    assert.deepEqual(applied, ["3"]);
    assert.equal(w.current.cert, pki.cert2);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(pki.dir, { recursive: true });
  }
});

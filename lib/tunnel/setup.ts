// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Start-up policy and wiring of the tunnel for the agent: whether it runs at all, loading
 * its key and TLS files (failing loudly), and the {@linkcode Dialer} that sends each
 * backend the right way (local, tunnel or direct).
 * @module
 */
import type { TunnelTlsConfig } from "../config/schema.ts";
import type { Logger } from "../log/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { Dialer, DialTarget, UpstreamConn } from "../proxy/dialer.ts";
import type { Snapshot } from "../registry/model.ts";
import { loadTunnelKey, TunnelSetupError } from "./auth.ts";
import { logTunnelOff, planTunnel, type TunnelConfig } from "./plan.ts";
import { TunnelDialer, type TunnelTls } from "./dialer.ts";
import type { PeerStatus } from "./peer_pool.ts";
import { DEFAULT_TUNNEL_PORT, routeFor } from "./peers.ts";
import type { TunnelServerDown } from "./inner.ts";
import { TunnelServer } from "./server.ts";
import type { BackendDial } from "./tcp.ts";
import { formatHostPort, parseHostPort } from "./wire.ts";
import { tunnelMetrics } from "./metrics.ts";
import { type TlsFileIo, TlsFileWatcher, validateTunnelTls } from "./tls_reload.ts";
import { type KeyFileIo, keyFilesOf, KeyFileWatcher } from "./key_reload.ts";

/**
 * Reads the PEM files of `tunnelTLS`.
 * @throws {TunnelSetupError} naming the file that cannot be read or is not PEM
 */
export async function loadTunnelTls(files: TunnelTlsConfig): Promise<TunnelTls> {
  const read = async (what: string, key: string, path: string) => {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound
        ? "file does not exist"
        : (err as Error).message;
      throw new TunnelSetupError(`Cannot load tunnel TLS ${what} "${path}" (${key}): ${why}`, {
        cause: err,
      });
    }
    if (!text.includes("-----BEGIN ")) {
      throw new TunnelSetupError(
        `Cannot load tunnel TLS ${what} "${path}" (${key}): it is not PEM`,
      );
    }
    return text;
  };
  return {
    cert: await read("certificate", "tunnelTLS.certFile", files.certFile),
    key: await read("key", "tunnelTLS.keyFile", files.keyFile),
    ca: await read("CA bundle", "tunnelTLS.caFile", files.caFile),
  };
}

/** What `ctl status` shows about the tunnel. */
export interface TunnelStatus {
  readonly listen: string;
  readonly tls: boolean;
  /** Streams served for peers right now. */
  readonly inboundStreams: number;
  /**
   * Set while the tunnel port serves no new connections: its server stopped (out of
   * descriptors) and is being restarted (`TunnelServer.down`).
   */
  readonly down?: TunnelServerDown | null;
  readonly peers: readonly PeerStatus[];
  /** End of validity of the served certificate, ms since the epoch; null without TLS. */
  readonly certificateExpiresAt?: number | null;
}

/** A running tunnel: server and dialer fed the same snapshots. */
export interface Tunnel {
  readonly server: TunnelServer;
  readonly dialer: TunnelDialer;
  /** Feeds a new registry snapshot to both sides. */
  update(snapshot: Snapshot): void;
  status(): TunnelStatus;
  /**
   * Checks the TLS files now (they are checked every 10 s anyway) and serves a changed, valid
   * set; resolves to true when it did. False without TLS.
   */
  reloadTls(): Promise<boolean>;
  /**
   * Checks the key files now (`tunnelKeyFile`, `tunnelAcceptKeyFiles`; every 10 s anyway) and
   * uses changed, valid keys; resolves to true when it did.
   */
  reloadKeys(): Promise<boolean>;
  /** Stops the server (open streams are closed) and the peer connections. */
  close(): Promise<void>;
}

/** Options of {@linkcode startTunnel}. */
export interface StartTunnelOptions {
  readonly log: Logger;
  readonly metrics?: MetricsRegistry;
  /** Local endpoint dialer of the server. @default tcpBackendDial() */
  readonly dial?: BackendDial;
  readonly now?: () => number;
  readonly signal?: AbortSignal;
  /** Most connections to the tunnel port at once (`TunnelServerOptions.maxConnections`). */
  readonly maxConnections?: number;
  /** How the TLS files are checked for a reload (tests). @default denoTlsFileIo */
  readonly tlsIo?: TlsFileIo;
  /** How the key files are checked for a reload (tests). @default denoKeyFileIo */
  readonly keyIo?: KeyFileIo;
}

/**
 * Applies {@linkcode planTunnel}, logs the decision, loads key and TLS files and starts the
 * server and dialer. Resolves to null when the tunnel is off.
 * @throws {TunnelSetupError} when a configured key or TLS file is unusable (refuse to start)
 */
export async function startTunnel(
  config: TunnelConfig,
  options: StartTunnelOptions,
): Promise<Tunnel | null> {
  const log = options.log;
  const plan = planTunnel(config);
  if (plan.mode === "off") {
    logTunnelOff(plan, log);
    return null;
  }
  const key = await loadTunnelKey(plan.keyFile);
  const keyFiles = keyFilesOf(plan.keyFile, config.tunnelAcceptKeyFiles ?? []);
  const acceptKeys: Uint8Array[] = [];
  for (const f of keyFiles.slice(1)) acceptKeys.push(await loadTunnelKey(f.path, f.configKey));
  const tls = plan.tls ? await loadTunnelTls(plan.tls) : null;
  let expiresAt = tls && plan.tls ? checkStartTls(tls, plan.tls.certFile, log, options.now) : null;
  const metrics = tunnelMetrics(options.metrics);
  if (expiresAt !== null) metrics.certificateExpiry.set(undefined, Math.floor(expiresAt / 1000));
  if (!tls) {
    log.warn(
      "TUNNEL TRAFFIC IS NOT ENCRYPTED: tunnelTLS is not configured; the cluster key " +
        "authenticates who opens each inter-node stream and its target, but the stream's bytes " +
        "are sent in clear text and not protected from modification; configure tunnelTLS on " +
        "untrusted networks",
    );
  }
  const listen = parseHostPort(config.tunnelListen, DEFAULT_TUNNEL_PORT, true);
  const server = new TunnelServer({
    listen: formatHostPort(listen.host, listen.port),
    nodeName: config.nodeName,
    key,
    acceptKeys,
    tls,
    log,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.dial ? { dial: options.dial } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}),
  });
  let dialer: TunnelDialer;
  try {
    dialer = new TunnelDialer({
      nodeName: config.nodeName,
      key,
      tls,
      peers: config.peers,
      port: listen.port === 0 ? DEFAULT_TUNNEL_PORT : listen.port,
      log,
      // The main thread's peers are the ones `ctl status` and the peer_up metric show.
      probe: true,
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
  } catch (err) {
    await server.close();
    throw err;
  }
  const watcher = tls && plan.tls
    ? new TlsFileWatcher({
      files: plan.tls,
      initial: tls,
      log,
      ...(options.tlsIo ? { io: options.tlsIo } : {}),
      apply: (next, info) => {
        server.setTls(next);
        dialer.setTls(next);
        expiresAt = info.expiresAt;
        metrics.certificateExpiry.set(undefined, Math.floor(info.expiresAt / 1000));
        warnIfExpired(info.expiresAt, plan.tls!.certFile, log, options.now);
      },
    })
    : null;
  watcher?.start();
  const keyWatcher = new KeyFileWatcher({
    files: keyFiles,
    initial: [key, ...acceptKeys],
    log,
    ...(options.keyIo ? { io: options.keyIo } : {}),
    apply: async (signing, accept) => {
      await server.setKeys(signing, accept);
      await dialer.setKey(signing);
    },
  });
  keyWatcher.start();
  return {
    server,
    dialer,
    update(snapshot) {
      server.update(snapshot);
      dialer.update(snapshot);
    },
    status: () => ({
      listen: formatHostPort(server.addr.hostname, server.addr.port),
      tls: tls !== null,
      inboundStreams: server.activeStreams,
      down: server.down,
      peers: dialer.status(),
      certificateExpiresAt: expiresAt,
    }),
    reloadTls: () => watcher?.poll() ?? Promise.resolve(false),
    reloadKeys: () => keyWatcher.poll(),
    async close() {
      watcher?.close();
      keyWatcher.close();
      dialer.close();
      await server.close();
    },
  };
}

/** Options of {@linkcode createRoutingDialer}. */
export interface RoutingDialerOptions {
  readonly nodeName: string;
  /** Dials local endpoints, and remote ones when the route is `direct`. */
  readonly direct: Dialer;
  /** The tunnel dialer, or null when the tunnel is off. */
  readonly tunnel: TunnelDialer | null;
}

/**
 * The proxy's {@linkcode Dialer}: routes each backend with {@linkcode routeFor} — local and
 * direct ones through `direct`, remote ones through the tunnel.
 */
export function createRoutingDialer(options: RoutingDialerOptions): Dialer {
  const { nodeName, direct, tunnel } = options;
  return {
    dial(target: DialTarget, opts): Promise<UpstreamConn> {
      const route = routeFor(target.backend, {
        nodeName,
        tunnelEnabled: tunnel !== null,
        hasPeer: (n) => tunnel?.hasPeer(n) ?? false,
      });
      return route === "tunnel" && tunnel ? tunnel.dial(target, opts) : direct.dial(target, opts);
    },
  };
}

/**
 * The client side of the tunnel alone, for a proxy worker thread: its own HTTP/2 connections
 * to the peers (one set per thread, as Envoy's per-worker connection pools), built from the
 * same config as {@linkcode startTunnel}'s. Resolves to null when the tunnel is off. Feed it
 * every snapshot with `update()` (peers learnt from Node objects) and `close()` it at the end.
 */
export async function startTunnelDialer(
  config: TunnelConfig,
  options: Pick<StartTunnelOptions, "log" | "metrics" | "now">,
): Promise<TunnelDialer | null> {
  const plan = planTunnel(config);
  if (plan.mode === "off") return null;
  const key = await loadTunnelKey(plan.keyFile);
  const tls = plan.tls ? await loadTunnelTls(plan.tls) : null;
  const listen = parseHostPort(config.tunnelListen, DEFAULT_TUNNEL_PORT, true);
  // Each thread's dialer trusts the CA file as it is now: a reload reaches new connections.
  // Its warnings are the main thread's to give (the same files), so they go to debug here.
  let dialer: TunnelDialer | null = null;
  const watcher = tls && plan.tls
    ? new TlsFileWatcher({
      files: plan.tls,
      initial: tls,
      log: quietLogger(options.log),
      apply: (next) => dialer?.setTls(next),
    })
    : null;
  watcher?.start();
  // It signs only: the accepted keys are the server's (main thread).
  const keyWatcher = new KeyFileWatcher({
    files: keyFilesOf(plan.keyFile, []),
    initial: [key],
    log: quietLogger(options.log),
    apply: (signing) => dialer?.setKey(signing),
  });
  keyWatcher.start();
  return dialer = new TunnelDialer({
    nodeName: config.nodeName,
    key,
    tls,
    peers: config.peers,
    port: listen.port === 0 ? DEFAULT_TUNNEL_PORT : listen.port,
    log: options.log,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.now ? { now: options.now } : {}),
    onClose: () => {
      watcher?.close();
      keyWatcher.close();
    },
  });
}

/** A logger whose info and warn lines go to debug (a second watcher of the same files). */
function quietLogger(log: Logger): Logger {
  const debug = (msg: string, fields?: Record<string, unknown>) => log.debug(msg, fields);
  return {
    debug,
    info: debug,
    warn: debug,
    error: (msg, fields) => log.error(msg, fields),
    with: (component) => quietLogger(log.with(component)),
    enabled: (level) => log.enabled(level),
  };
}

/**
 * Validates the TLS files read at start and returns the certificate's end of validity (ms).
 * An expired certificate is warned loudly but served (the peers decide).
 * @throws {TunnelSetupError} when the PEM does not parse or the key does not match
 */
function checkStartTls(
  tls: TunnelTls,
  certFile: string,
  log: Logger,
  now: (() => number) | undefined,
): number {
  const checked = validateTunnelTls(tls);
  if (!checked.ok) {
    throw new TunnelSetupError(`Cannot use tunnelTLS: ${checked.problem}`);
  }
  warnIfExpired(checked.expiresAt, certFile, log, now);
  return checked.expiresAt;
}

function warnIfExpired(
  expiresAt: number,
  certFile: string,
  log: Logger,
  now: (() => number) | undefined,
): void {
  if (expiresAt > (now ?? Date.now)()) return;
  log.warn(
    "TUNNEL TLS CERTIFICATE HAS EXPIRED: peers will refuse to connect to this node until " +
      "tunnelTLS.certFile is renewed (it is reloaded without a restart)",
    { certFile, expired: new Date(expiresAt).toISOString() },
  );
}

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
import { type PeerStatus, TunnelDialer, type TunnelTls } from "./dialer.ts";
import { DEFAULT_TUNNEL_PORT, routeFor } from "./peers.ts";
import { TunnelServer, type TunnelServerDown } from "./server.ts";
import type { BackendDial } from "./tcp.ts";
import { formatHostPort, parseHostPort } from "./wire.ts";

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
}

/** A running tunnel: server and dialer fed the same snapshots. */
export interface Tunnel {
  readonly server: TunnelServer;
  readonly dialer: TunnelDialer;
  /** Feeds a new registry snapshot to both sides. */
  update(snapshot: Snapshot): void;
  status(): TunnelStatus;
  /** Stops the server (open streams are closed) and the peer connections. */
  close(): Promise<void>;
}

/** Options of {@linkcode startTunnel}. */
export interface StartTunnelOptions {
  readonly log: Logger;
  readonly metrics?: MetricsRegistry;
  /** Local endpoint dialer of the server. @default tcpDialBackend */
  readonly dial?: BackendDial;
  readonly now?: () => number;
  readonly signal?: AbortSignal;
  /** Most connections to the tunnel port at once (`TunnelServerOptions.maxConnections`). */
  readonly maxConnections?: number;
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
  const tls = plan.tls ? await loadTunnelTls(plan.tls) : null;
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
    }),
    async close() {
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
  return new TunnelDialer({
    nodeName: config.nodeName,
    key,
    tls,
    peers: config.peers,
    port: listen.port === 0 ? DEFAULT_TUNNEL_PORT : listen.port,
    log: options.log,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
}

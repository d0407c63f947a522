// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Pure decisions of the dialing side: where each peer node is reached, which route a backend
 * takes, and when a failed peer may be tried again.
 * @module
 */
import type { Backend, NodeInfo } from "../registry/model.ts";
import { parseHostPort } from "./wire.ts";

/** Default tunnel port (the seed edgemesh's inter-node port). */
export const DEFAULT_TUNNEL_PORT = 40001;

/** Where a peer agent's tunnel listens and where that address came from. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
  /** `config` (the `peers` map) wins over `node` (Node `status.addresses`). */
  readonly source: "config" | "node";
}

/**
 * Preference of Node `status.addresses[].type` (Kubernetes `NodeAddressType`): InternalIP
 * first (the in-cluster network), then ExternalIP, Hostname last. Other types are ignored.
 */
const ADDRESS_PREFERENCE: readonly string[] = ["InternalIP", "ExternalIP", "Hostname"];

/** The address a Node object offers for the tunnel, or null. */
export function nodeTunnelHost(node: NodeInfo): string | null {
  for (const type of ADDRESS_PREFERENCE) {
    const a = node.addresses.find((x) => x.type === type && x.address !== "");
    if (a) return a.address;
  }
  return null;
}

/**
 * Builds the peer table: every node with a usable `status.addresses` entry at `defaultPort`,
 * overridden by the config `peers` map (`nodeName → host[:port]`). Our own node (`self`) is
 * left out: its endpoints are dialled locally, and it must not show up as a peer.
 * @throws {SyntaxError|RangeError} when a config entry is not an address
 */
export function buildPeerTable(
  nodes: Iterable<NodeInfo>,
  configPeers: Readonly<Record<string, string>>,
  defaultPort: number = DEFAULT_TUNNEL_PORT,
  self?: string,
): ReadonlyMap<string, PeerAddress> {
  const table = new Map<string, PeerAddress>();
  for (const node of nodes) {
    if (node.name === self) continue; // our own Node object: local endpoints never tunnel
    const host = nodeTunnelHost(node);
    if (host !== null) table.set(node.name, { host, port: defaultPort, source: "node" });
  }
  for (const [name, text] of Object.entries(configPeers)) {
    if (name === self) continue;
    const hp = parseHostPort(text, defaultPort);
    table.set(name, { host: hp.host, port: hp.port, source: "config" });
  }
  return table;
}

/** How one connection to a backend is made. */
export type Route = "local" | "tunnel" | "direct";

/** Inputs of {@linkcode routeFor}. */
export interface RouteContext {
  /** This node's name (config `nodeName`). */
  readonly nodeName: string;
  /** Tunnel on (config `tunnel` and a `tunnelKeyFile`). */
  readonly tunnelEnabled: boolean;
  /** Whether a tunnel address is known for a node. */
  readonly hasPeer: (nodeName: string) => boolean;
}

/**
 * Decides the route of a backend: endpoints on this node, or of unknown node (`nodeName`
 * null, treated as local by the model), are dialled locally; remote ones go through the
 * tunnel when it is on and the peer's address is known, and are dialled directly otherwise
 * (flat networks, or a node with no address yet).
 */
export function routeFor(backend: Backend, ctx: RouteContext): Route {
  if (backend.nodeName === null || backend.nodeName === ctx.nodeName) return "local";
  if (!ctx.tunnelEnabled || !ctx.hasPeer(backend.nodeName)) return "direct";
  return "tunnel";
}

/** Backoff of a failed peer: first delay, cap, factor. */
export interface BackoffPolicy {
  /** @default 1000 */
  readonly initialMs: number;
  /** @default 30000 */
  readonly maxMs: number;
}

/** Default {@linkcode BackoffPolicy}. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000 };

/**
 * Health of one peer: unknown (nothing has reached it or failed yet), up, or down until
 * `retryAt` with the next backoff `delayMs`.
 */
export type PeerHealth =
  | { readonly state: "unknown" }
  | { readonly state: "up" }
  | {
    readonly state: "down";
    readonly since: number;
    readonly retryAt: number;
    readonly delayMs: number;
    readonly lastError: string;
  };

/**
 * A peer not reached yet: neither up nor down (reported as not up; dials may go to it). Why
 * not "up" until proven otherwise: an unreachable peer then showed as up from the start until
 * its first dial failed, in `edgemesh_tunnel_peer_up` and in `ctl status`.
 */
export const PEER_UNKNOWN: PeerHealth = { state: "unknown" };

/** A peer whose last dial or probe reached it. */
export const PEER_UP: PeerHealth = { state: "up" };

/**
 * Whether a dial may go to the peer now: unknown or up, or down with the backoff expired (a
 * trial).
 */
export function mayDial(h: PeerHealth, now: number): boolean {
  return h.state !== "down" || now >= h.retryAt;
}

/** How a dial to a peer goes out now ({@linkcode dialPlan}). */
export type DialPlan = "dial" | "trial" | "wait";

/**
 * Whether a dial may go to the peer now, and as what: `dial` (unknown or up), `trial` (down,
 * its backoff expired, and no other trial in flight: this dial alone tries the peer again) or
 * `wait` (down and backed off, or a trial is already in flight: fail fast with `peer-down`).
 * Why one trial at a time: every dial used to go out once the backoff had expired, so against
 * a peer still hung each new connection in the first `dialTimeoutMs` waited all of it before
 * failing over (measured: 4 connections delayed 2.0 s at every retry at 4 connections/s; the
 * count grows with the rate), where failing fast lets the proxy pick another endpoint at once.
 */
export function dialPlan(h: PeerHealth, now: number, trialInFlight: boolean): DialPlan {
  if (h.state !== "down") return "dial";
  return now < h.retryAt || trialInFlight ? "wait" : "trial";
}

/** Health after a failed dial at `now`: the delay doubles up to the cap. */
export function afterFailure(
  h: PeerHealth,
  now: number,
  error: string,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): PeerHealth {
  if (h.state === "down" && now < h.retryAt) return h; // a dial that started before the peer went down
  const delayMs = h.state !== "down" ? policy.initialMs : Math.min(h.delayMs * 2, policy.maxMs);
  const since = h.state === "down" ? h.since : now;
  return { state: "down", since, retryAt: now + delayMs, delayMs, lastError: error };
}

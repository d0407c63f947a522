// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The agent status served by the `status` query and shown by `edgemesh ctl status`.
 * The agent assembles it from its modules; parts a module does not provide (yet) are
 * omitted and shown as "-". Add fields only (scripts may read `ctl status -o json`).
 * @module
 */

/** State of a sub-system as one word, plus an optional human detail. */
export interface ComponentState {
  /** `up`, `down`, `off` (disabled by config) or `starting`. */
  readonly state: "up" | "down" | "off" | "starting";
  /** e.g. the listen addresses or the last error. */
  readonly detail?: string;
}

/** A tunnel peer and whether we are connected to it. */
export interface PeerStatus {
  readonly name: string;
  readonly address: string;
  readonly state: "up" | "down" | "connecting";
}

/** One service listener that is not open (see {@linkcode StatusInfo.unboundListeners}). */
export interface UnboundListener {
  /** `namespace/name` of its service. */
  readonly service: string;
  readonly vip: string;
  readonly port: number;
  /** Why: the bind error, or the budget that is used up. */
  readonly error: string;
}

/** Everything `ctl status` shows. */
export interface StatusInfo {
  /** This node's name (config `nodeName`). */
  readonly node: string;
  /** The agent version. */
  readonly version?: string;
  /**
   * The git commit the agent was built from, when known (new): `source` `build` (stamped by
   * `make build`; `dirty` when the tree had uncommitted changes) or `checkout` (`deno run` from
   * a git checkout: its `HEAD`, local changes not seen).
   */
  readonly build?: {
    readonly commit: string;
    readonly source: string;
    readonly dirty?: boolean;
  };
  /** When the agent started (ISO 8601). */
  readonly startedAt?: string;
  /** The virtual device holding the VIPs (`edge0`) and its state. */
  readonly device?: { readonly name: string; readonly type?: string; readonly state?: string };
  /** Addresses on the device (VIPs and the DNS address). */
  readonly addresses?: readonly string[];
  /** Registry sizes. */
  readonly counts: {
    readonly services: number;
    readonly endpoints: number;
    readonly vips: number;
    readonly nodes: number;
  };
  /** Listening sockets (`9.251.0.2:80/tcp`, `9.251.0.1:53/udp`, the control socket path). */
  readonly listeners?: readonly string[];
  /**
   * Service listeners the proxy wants but could not open (`VIP:port` taken, the listener
   * budget used up); absent when every listener is bound. They fail `/readyz`'s `listeners`
   * check, and `ctl apply --wait` reports those of the services it applied.
   */
  readonly unboundListeners?: readonly UnboundListener[];
  /** The L4 proxy: its threads (`proxyThreads`) and whether the workers run yet. */
  readonly proxy?: ComponentState;
  readonly dns?: ComponentState;
  /**
   * `certificateExpiresAt` (ISO 8601): end of validity of the certificate the tunnel serves
   * with `tunnelTLS` (follows reloads of its files); absent without TLS.
   */
  readonly tunnel?: ComponentState & { readonly certificateExpiresAt?: string };
  readonly peers?: readonly PeerStatus[];
  /** When the registry last changed through the control socket (ISO 8601); null if never. */
  readonly lastSync?: string | null;
  /**
   * When the control socket last received a change request since start (ISO 8601), whether it
   * changed the registry, changed nothing (`unchanged`) or was refused; null if never. Unlike
   * `lastSync` it moves with every resync KubeEdge sends, so it tells a silent sender.
   */
  readonly lastMessage?: string | null;
  /** Registry snapshot version. */
  readonly registryVersion?: number;
  /**
   * Newest registry version the device, proxy, DNS and tunnel have all been updated with
   * (-1 before the first reconcile). Equal to `registryVersion` once every acknowledged
   * change is live: a control-socket `ok` means durable, this means applied.
   */
  readonly reconciledVersion?: number;
  /**
   * Set when the persisted state was damaged at start (unreadable `state.json`, or a journal
   * damaged before its end): what was kept and where the damaged file was moved.
   */
  readonly stateWarning?: string;
  /**
   * Set while the state files cannot be written (disk full, state directory read-only): every
   * change is refused until a write succeeds. `since` is the first failure (ISO 8601),
   * `reason` the last error, `refused` the changes refused since then.
   */
  readonly stateWriteError?: {
    readonly since: string;
    readonly reason: string;
    readonly refused: number;
  };
  /**
   * VIPs of services that the node also holds on another interface (`9.251.0.7` on `eth1`):
   * the listener and that interface fight over the address. The service keeps its VIP (it never
   * moves under clients) and new VIPs skip such addresses; the fix is to remove the address
   * there or change `subnet`. Absent when there is none.
   */
  readonly vipConflicts?: readonly {
    readonly service: string;
    readonly vip: string;
    readonly interface: string;
  }[];
  /**
   * Modules whose update failed in the last reconcile pass (empty when it succeeded); the
   * pass is retried until it succeeds.
   */
  readonly reconcileFailures?: readonly {
    readonly component: string;
    readonly version: number;
    readonly error: string;
  }[];
}

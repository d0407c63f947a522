// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The open-files limit (`RLIMIT_NOFILE`) and the budget of descriptors the agent derives from
 * it, so that no peer can make it run out (`EMFILE`): at `EMFILE` Deno's HTTP server rejects a
 * promise nobody can catch and Deno itself may panic (its stack probe opens
 * `/proc/self/maps`), so the agent must never get there. Every component that holds
 * descriptors on a peer's behalf takes a share: proxied connections (two each), `VIP:port`
 * listeners (one per proxy thread), tunnel and metrics connections (three each: the accepted
 * one, and both ends of the hop to the HTTP server). A reserve stays for the runtime, the DNS
 * sockets, state files and the `ip` processes.
 * @module
 */
import { type Libc, libc } from "./libc.ts";

/** `RLIMIT_NOFILE` on Linux (x86_64 and aarch64 alike). */
export const RLIMIT_NOFILE = 7;
/**
 * The limit assumed when it cannot be read (no FFI on the C library): the kernel's default
 * soft limit, so the budget errs on the side of never reaching `EMFILE`.
 */
export const ASSUMED_OPEN_FILES = 1024;
/** `RLIM_INFINITY` counts as this many (Linux's default `fs.nr_open`). */
const UNLIMITED = 1 << 20;

/** The limit the agent runs with. */
export interface OpenFilesLimit {
  /** The soft limit after raising it (what `EMFILE` is about). */
  readonly soft: number;
  /** The hard limit (null when unknown). */
  readonly hard: number | null;
  /** The soft limit before {@linkcode raiseOpenFilesLimit} (null when unknown or unchanged). */
  readonly raisedFrom: number | null;
  /** False when the limit could not be read and {@linkcode ASSUMED_OPEN_FILES} is used. */
  readonly known: boolean;
}

const toCount = (v: bigint) => (v >= BigInt(UNLIMITED) ? UNLIMITED : Number(v));

/**
 * Raises the soft `RLIMIT_NOFILE` to the hard limit (as Go does since 1.19; Deno 2 already
 * does it at start, so this is usually a no-op) and returns the limit. Without the C library
 * the limit cannot be read: {@linkcode ASSUMED_OPEN_FILES}, `known: false`.
 */
export function raiseOpenFilesLimit(c: Libc | null = libc()): OpenFilesLimit {
  const unknown = { soft: ASSUMED_OPEN_FILES, hard: null, raisedFrom: null, known: false };
  if (c === null) return unknown;
  const lim = new BigUint64Array(2);
  if (c.getrlimit(RLIMIT_NOFILE, lim) !== 0) return unknown;
  const [soft, hard] = [lim[0]!, lim[1]!];
  if (soft >= hard) {
    return { soft: toCount(soft), hard: toCount(hard), raisedFrom: null, known: true };
  }
  const raised = new BigUint64Array([hard, hard]);
  if (c.setrlimit(RLIMIT_NOFILE, raised) !== 0) {
    return { soft: toCount(soft), hard: toCount(hard), raisedFrom: null, known: true };
  }
  return { soft: toCount(hard), hard: toCount(hard), raisedFrom: toCount(soft), known: true };
}

/** How the descriptors under a limit are shared out (see {@linkcode fdBudget}). */
export interface FdBudget {
  /** The open-files limit it is derived from. */
  readonly limit: number;
  /** Kept for the runtime, DNS sockets, state files, `ip` processes. */
  readonly reserve: number;
  /** Proxied connections open at once, over all proxy threads (two descriptors each). */
  readonly proxyConnections: number;
  /** Descriptors for `VIP:port` listeners, over all proxy threads (one per thread each). */
  readonly listenerFds: number;
  /** Connections to the tunnel port served at once. */
  readonly tunnelConnections: number;
  /** Connections to the metrics port served at once. */
  readonly metricsConnections: number;
  /**
   * DNS-over-TCP connections served at once (one descriptor each), taken from the reserve: a
   * fixed 256 was the whole reserve at 1024 open files and four times it at 256, where a
   * DNS TCP flood from 16 client addresses ran the agent out of descriptors and Deno panicked.
   */
  readonly dnsTcpConnections: number;
  /** Sockets of the DNS forwarder's upstream pool (one descriptor each), from the reserve. */
  readonly dnsUpstreamSockets: number;
}

const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, n));

/**
 * The budget for `limit` open files: a reserve of a tenth (at least 256, or a quarter of a
 * small limit), then of the rest 30 % for listeners, 2 % for metrics connections (4–64) and
 * 8 % for tunnel connections (8–1024), each of those three descriptors, and what is left for
 * proxied connections at two descriptors each (at least 16). Out of the reserve, DNS takes an
 * eighth for TCP connections (4–256) and a quarter for upstream sockets (4–64), so at least
 * half of it stays for the runtime (about 35 descriptors), state files and `ip`. Pure.
 */
export function fdBudget(limit: number): FdBudget {
  const n = Math.max(0, Math.floor(limit));
  const reserve = Math.max(Math.min(256, Math.floor(n / 4)), Math.ceil(n / 10));
  const usable = n - reserve;
  const metricsConnections = clamp(Math.floor(usable * 0.02 / 3), 4, 64);
  const tunnelConnections = clamp(Math.floor(usable * 0.08 / 3), 8, 1024);
  const listenerFds = Math.floor(usable * 0.3);
  const rest = usable - 3 * metricsConnections - 3 * tunnelConnections - listenerFds;
  return {
    limit: n,
    reserve,
    proxyConnections: Math.max(16, Math.floor(rest / 2)),
    listenerFds,
    tunnelConnections,
    metricsConnections,
    dnsTcpConnections: clamp(Math.floor(reserve / 8), 4, 256),
    dnsUpstreamSockets: clamp(Math.floor(reserve / 4), 4, 64),
  };
}

/** `VIP:port` listeners each proxy thread may open: every thread binds every one (≥ 1). */
export function listenersPerThread(budget: FdBudget, threads: number): number {
  return Math.max(1, Math.floor(budget.listenerFds / Math.max(1, threads)));
}

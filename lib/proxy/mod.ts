// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The L4 TCP proxy on service VIPs: {@linkcode Proxy} (listeners reconciled from snapshots),
 * the balancers, the TCP dialer and the {@linkcode Dialer} contract the tunnel implements.
 * See `README.md` in this folder for behaviour (strategies, failover, drain, half-close).
 *
 * @example
 * ```ts
 * const proxy = new Proxy({ nodeName: "edge-1", log, metrics, localDialer: tcpDialer });
 * registry.subscribe((s) => proxy.update(s));
 * // on shutdown:
 * await proxy.close();
 * ```
 * @module
 */
export { type ListenerStatus, Proxy, type ProxyOptions } from "./proxy.ts";
export { ConnGate, type ProxyLimits, proxyLimits } from "./gate.ts";
export { ProxyThreads, type ProxyThreadsOptions, type WorkerSettings } from "./threads.ts";
export { BUSY_FRACTION, mainThreadBusy } from "./busy.ts";
export { CURSOR_CELLS, type CursorSlot, CursorTable } from "./cursors.ts";
export { type Candidates, candidatesFor, type NoCandidatesReason } from "./candidates.ts";
export {
  type BackendKey,
  backendKey,
  Balancer,
  type BalancerOptions,
  type SharedCursor,
  type SkipFn,
} from "./balancer.ts";
export {
  AbortFanout,
  AllDialsFailedError,
  type Dialed,
  DialError,
  dialWithFailover,
  type FailoverOptions,
  NoEndpointsError,
  TcpDialer,
  tcpDialer,
} from "./dial.ts";
export { type Dialer, type DialTarget, resetQuietly, type UpstreamConn } from "./dialer.ts";
export {
  type ClientConn,
  denoIo,
  FdDialer,
  openProxyIo,
  type ProxyEngine,
  type ProxyEngineSetting,
  type ProxyIo,
  resolveEngine,
  type ServiceListener,
} from "./engine.ts";
export { relay, RELAY_BUFFER, RELAY_SHARED_READ, RelayBuffer } from "./relay.ts";
export { PassiveHealth } from "./health.ts";
export {
  type ListenerKey,
  listenerKey,
  type ListenerPlan,
  type ListenerSpec,
  planListeners,
  VipListener,
} from "./listener.ts";
export {
  BufferPool,
  BULK_BUFFER,
  closeQuietly,
  SMALL_BUFFER,
  splice,
  type SpliceBuffers,
  spliceBuffers,
  type SpliceResult,
} from "./splice.ts";

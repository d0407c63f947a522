// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Inter-node tunnel: endpoints on other nodes are reached through the edgemesh agent on that
 * node, one authenticated HTTP/2 stream per connection, all streams to a node sharing one
 * connection (the HBONE idea of Istio ambient, on Deno's own HTTP/2 stack).
 *
 * - {@linkcode TunnelServer}: `Deno.serve` side; authorizes each stream against its own
 *   registry snapshot and connects only to ready endpoints on its own node.
 * - {@linkcode TunnelDialer}: the proxy's {@linkcode Dialer} for remote endpoints.
 * - {@linkcode startTunnel} / {@linkcode planTunnel} / {@linkcode createRoutingDialer}: agent wiring.
 *
 * See `README.md` in this folder for the wire format, authentication and TLS.
 * @module
 */
export {
  canonicalBytes,
  constantTimeEqual,
  importTunnelKey,
  loadTunnelKey,
  MIN_KEY_BYTES,
  newNonce,
  RequestVerifier,
  type RequestVerifierOptions,
  type SignedFields,
  signRequest,
  type TunnelKey,
  TunnelSetupError,
  type VerifyFailure,
  type VerifyResult,
} from "./auth.ts";
export {
  type ChannelHooks,
  type ChannelOptions,
  FramedChannel,
  type FrameSink,
  STREAM_WINDOW,
} from "./channel.ts";
export {
  encodeCredit,
  encodeData,
  encodeFin,
  type Frame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  MAX_DATA_FRAME,
} from "./frames.ts";
export {
  TunnelDialer,
  type TunnelDialerOptions,
  TunnelDialError,
  type TunnelDialFailure,
  type TunnelTls,
} from "./dialer.ts";
export type { PeerStatus } from "./peer_pool.ts";
export {
  ASSUMED_STREAM_LIMIT,
  chooseSession,
  DEFAULT_SESSION_POOL,
  HEARTBEAT_RESERVE,
  MAX_SESSIONS_PER_PEER,
  SESSION_IDLE_CLOSE_MS,
  type SessionChoice,
  sessionLimit,
  type SessionLoad,
  type SessionPoolPolicy,
  sessionRoom,
} from "./session_choice.ts";
export {
  DEFAULT_SOURCE_WATCH,
  isLocalSource,
  sourceGone,
  type SourceWatchPolicy,
} from "./source_watch.ts";
export {
  DEFAULT_HEARTBEAT,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TICK_MS,
  HEARTBEAT_TIMEOUT_MS,
  type HeartbeatAction,
  heartbeatAction,
  HeartbeatMonitor,
  type HeartbeatMonitorOptions,
  type HeartbeatPolicy,
  type HeartbeatState,
  type HeartbeatTarget,
  type HeartbeatTimers,
} from "./heartbeat.ts";
export { type TunnelMetrics, tunnelMetrics } from "./metrics.ts";
export {
  afterFailure,
  type BackoffPolicy,
  buildPeerTable,
  DEFAULT_BACKOFF,
  DEFAULT_TUNNEL_PORT,
  type DialPlan,
  dialPlan,
  mayDial,
  nodeTunnelHost,
  PEER_UNKNOWN,
  PEER_UP,
  type PeerAddress,
  type PeerHealth,
  type Route,
  type RouteContext,
  routeFor,
} from "./peers.ts";
export { TunnelServer, type TunnelServerOptions } from "./server.ts";
export {
  INNER_RESTART_MAX_MS,
  INNER_RESTART_MIN_MS,
  type InnerServe,
  type InnerServeOptions,
  type InnerServer,
  nextRestartDelay,
  type TunnelServerDown,
} from "./inner.ts";
export { type Authorization, authorizeStream } from "./streams.ts";
export {
  createRoutingDialer,
  loadTunnelTls,
  type RoutingDialerOptions,
  startTunnel,
  startTunnelDialer,
  type StartTunnelOptions,
  type Tunnel,
  type TunnelStatus,
} from "./setup.ts";
export { logTunnelOff, planTunnel, type TunnelConfig, type TunnelPlan } from "./plan.ts";
export { type BackendDial, ResettableTcpConn, tcpBackendDial } from "./tcp.ts";
export {
  formatHostPort,
  HEADERS,
  type HostPort,
  parseHostPort,
  parseRefusal,
  parseStreamTarget,
  PING_PATH,
  readStreamHeaders,
  REFUSAL_HEADER,
  REFUSAL_REASONS,
  REFUSAL_STATUS,
  type RefusalReason,
  STREAM_PATH,
  type StreamHeaders,
  type StreamTarget,
} from "./wire.ts";

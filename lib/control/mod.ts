// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The control socket: KubeEdge message parsing ({@linkcode parseMessage}), the Unix socket
 * server the agent runs ({@linkcode ControlServer}) and the client `edgemesh ctl` uses
 * ({@linkcode ControlClient}). Protocol reference: `lib/control/README.md`.
 * @module
 */
export * from "./protocol.ts";
export { ControlServer, MAX_CONNECTIONS, prepareSocketPath, SocketInUseError } from "./server.ts";
export type { ControlServerOptions, ControlTarget } from "./server.ts";
export { ConnectionLostError, ControlClient } from "./client.ts";
export { serviceView, serviceViews } from "./view.ts";
export type { EndpointView, PortView, ServiceView, ViewFilter } from "./view.ts";
export type { ComponentState, PeerStatus, StatusInfo, UnboundListener } from "./status.ts";
export { readLines } from "./lines.ts";
export type { ByteReader, LineEvent } from "./lines.ts";

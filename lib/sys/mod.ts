// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * System calls Deno does not offer, through FFI on the C library (see `libc.ts`), and the
 * systemd readiness protocol (`sd_notify(3)`, `notify.ts`) sent on a Unix datagram socket, and
 * the polling file watch that reloads files while the agent runs (`file_watch.ts`).
 * @module
 */
export { monotonicNow } from "./clock.ts";
export { errno, type Libc, libc, LIBC_PATHS, threadCpuSeconds, trimMallocHeap } from "./libc.ts";
export {
  ASSUMED_OPEN_FILES,
  type FdBudget,
  fdBudget,
  listenersPerThread,
  type OpenFilesLimit,
  raiseOpenFilesLimit,
} from "./fd_limits.ts";
export {
  FileSetWatcher,
  type FileSetWatcherOptions,
  type FileStamp,
  message,
  type SetCheck,
  statStamp,
} from "./file_watch.ts";
export { HttpFront, type HttpFrontOptions } from "./http_front.ts";
export {
  type InterfaceAddress,
  interfaceAddresses,
  interfaceFlags,
  interfaceUp,
  nodeAddresses,
} from "./netif.ts";
export {
  AF_UNIX,
  NOTIFY_ENV,
  type NotifyAddress,
  notifyMessage,
  type NotifyPlan,
  notifyPlan,
  type NotifyState,
  sockaddrUn,
} from "./notify.ts";
export { NotifySocket } from "./notify_socket.ts";
export { type IoSource, Reactor } from "./reactor.ts";

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The pure part of systemd's readiness protocol (`sd_notify(3)`): what the environment asks
 * for (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`), the `sockaddr_un` a notification is
 * sent to, and the text of a notification. No I/O: the socket that sends is `notify_socket.ts`,
 * the agent's use of it `lib/agent/notify.ts`.
 *
 * Why: under `Type=notify` systemd counts the agent started only when it says `READY=1`, so
 * units ordered `After=edgemesh.service` start once VIPs and DNS serve, not once the process
 * exists; `WATCHDOG=1` pings let systemd restart an agent whose event loop hangs.
 * @module
 */

/** `AF_UNIX` (Linux). */
export const AF_UNIX = 1;
/** Size of `sun_path` in `struct sockaddr_un` (Linux): the longest name plus its NUL. */
export const SUN_PATH_MAX = 108;
/** Longest STATUS= text sent; systemd shows it in one line of `systemctl status`. */
export const STATUS_MAX = 200;
/** Longest timer period JavaScript timers keep (2³¹−1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Where notifications go: a socket file (`NOTIFY_SOCKET=/run/systemd/notify`) or an abstract
 * socket of the network namespace (`NOTIFY_SOCKET=@name`, sent as `sun_path` = NUL + name).
 */
export type NotifyAddress =
  | { readonly kind: "path"; readonly path: string }
  | { readonly kind: "abstract"; readonly name: string };

/** What the service manager asked for, read by {@linkcode notifyPlan}. */
export interface NotifyPlan {
  /** Where to send notifications; null: nobody listens (or the setting is unusable). */
  readonly address: NotifyAddress | null;
  /**
   * How often to send `WATCHDOG=1`, ms: half of `WATCHDOG_USEC`, as `sd_watchdog_enabled(3)`
   * recommends; null when no watchdog is on for this process.
   */
  readonly watchdogMs: number | null;
  /** Settings that are set but cannot be used, each naming the setting (for one warning). */
  readonly problems: readonly string[];
}

/** The environment variables {@linkcode notifyPlan} reads. */
export const NOTIFY_ENV: readonly string[] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

const encoder = new TextEncoder();

/**
 * Reads the `sd_notify(3)` settings from the environment, as libsystemd does:
 *
 * - `NOTIFY_SOCKET`: unset or empty means no notifications and nothing to report. An absolute
 *   path or `@name` is used; anything else (a relative path, `vsock:`, a name too long for
 *   `sun_path`) is a problem and no notifications are sent.
 * - `WATCHDOG_USEC`: a positive whole number of microseconds turns the watchdog on (only with a
 *   usable `NOTIFY_SOCKET`: there is nowhere to ping otherwise); anything else is a problem.
 * - `WATCHDOG_PID`: when set, the watchdog is meant for that process only; another pid turns it
 *   off silently (a parent's setting inherited by a child), a value that is not a pid is a
 *   problem.
 *
 * @param env reads one variable (undefined when unset)
 * @param pid this process's id (`Deno.pid`)
 */
export function notifyPlan(env: (name: string) => string | undefined, pid: number): NotifyPlan {
  const socket = env("NOTIFY_SOCKET") ?? "";
  if (socket === "") return { address: null, watchdogMs: null, problems: [] };
  const problems: string[] = [];
  const address = readNotifyAddress(socket, problems);
  if (address === null) return { address, watchdogMs: null, problems };
  return { address, watchdogMs: readWatchdog(env, pid, problems), problems };
}

function readNotifyAddress(value: string, problems: string[]): NotifyAddress | null {
  const shown = JSON.stringify(value);
  if (value.startsWith("/") || value.startsWith("@")) {
    const abstract = value.startsWith("@");
    const name = abstract ? value.slice(1) : value;
    // sun_path holds a path and its NUL, or a NUL and the abstract name.
    const bytes = encoder.encode(name).length;
    if (name === "" || name.includes("\0")) {
      problems.push(`NOTIFY_SOCKET ${shown} names no socket`);
      return null;
    }
    if (bytes > SUN_PATH_MAX - 1) {
      problems.push(
        `NOTIFY_SOCKET ${shown} is ${bytes} bytes long; a Unix socket name has at most ` +
          `${SUN_PATH_MAX - 1}`,
      );
      return null;
    }
    return abstract ? { kind: "abstract", name } : { kind: "path", path: name };
  }
  if (value.startsWith("vsock:")) {
    problems.push(
      `NOTIFY_SOCKET ${shown} is an AF_VSOCK address; edgemesh sends only to Unix sockets ` +
        `("/path" or "@name")`,
    );
    return null;
  }
  problems.push(`NOTIFY_SOCKET ${shown} is neither an absolute path nor "@name"`);
  return null;
}

function readWatchdog(
  env: (name: string) => string | undefined,
  pid: number,
  problems: string[],
): number | null {
  const usec = env("WATCHDOG_USEC") ?? "";
  if (usec === "") return null;
  const owner = env("WATCHDOG_PID") ?? "";
  if (owner !== "") {
    if (!/^[1-9]\d*$/.test(owner)) {
      problems.push(`WATCHDOG_PID ${JSON.stringify(owner)} is not a process id`);
      return null;
    }
    if (Number(owner) !== pid) return null; // someone else's watchdog
  }
  if (!/^\d+$/.test(usec) || Number(usec) === 0) {
    problems.push(
      `WATCHDOG_USEC ${JSON.stringify(usec)} is not a positive whole number of microseconds`,
    );
    return null;
  }
  return Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(Number(usec) / 2000)));
}

/**
 * The `struct sockaddr_un` for `address`, exactly as long as the `addrlen` to pass:
 * `sun_family` (`AF_UNIX`, little-endian like every target edgemesh runs on: x86_64 and
 * aarch64 Linux), then the path and its NUL, or a NUL and the abstract name (an abstract name
 * is the bytes up to `addrlen`, with no NUL after it, unix(7)).
 * @throws {RangeError} when the name does not fit `sun_path` (see {@linkcode notifyPlan})
 */
export function sockaddrUn(address: NotifyAddress): Uint8Array {
  const text = address.kind === "path" ? address.path : address.name;
  const name = encoder.encode(text);
  if (name.length > SUN_PATH_MAX - 1) {
    const shown = address.kind === "path" ? text : "@" + text;
    throw new RangeError(
      `Cannot address Unix socket "${shown}": ${name.length} bytes, at most ` +
        `${SUN_PATH_MAX - 1} fit`,
    );
  }
  // One byte more, not NUL, after the address: qemu-user (the ARM64 tests) adds one to the
  // length of an AF_UNIX address that does not end in NUL when the next byte is NUL, which would
  // put a NUL after an abstract name. The kernel reads no further than the length.
  const backing = new Uint8Array(2 + 1 + name.length + 1);
  backing[backing.length - 1] = 0xff;
  const out = backing.subarray(0, backing.length - 1);
  new DataView(out.buffer).setUint16(0, AF_UNIX, true);
  if (address.kind === "path") out.set(name, 2); // NUL last
  else out.set(name, 3); // NUL first
  return out;
}

/** One notification: the `sd_notify(3)` assignments to send together. */
export interface NotifyState {
  /** `READY=1`: start-up is finished. */
  readonly ready?: boolean;
  /** `STOPPING=1`: shutdown has begun. */
  readonly stopping?: boolean;
  /** `WATCHDOG=1`: the keep-alive ping. */
  readonly watchdog?: boolean;
  /**
   * `EXTEND_TIMEOUT_USEC=…`: the service manager waits this many more microseconds, from now,
   * for the next message before the current state's timeout (`TimeoutStartSec=` while
   * starting) applies; only when that state has already run longer than its timeout (systemd
   * 236 on; older ones ignore it).
   */
  readonly extendTimeoutUsec?: number;
  /** `STATUS=…`: one line of text for `systemctl status`. */
  readonly status?: string;
}

/**
 * The datagram's text for `state`: one `KEY=value` line per assignment, `READY`, `STOPPING`,
 * `WATCHDOG`, `EXTEND_TIMEOUT_USEC`, then `STATUS`. The status is made one line (a newline would
 * start another assignment) of at most {@linkcode STATUS_MAX} characters (code points).
 * @throws {TypeError} when `state` asks for nothing
 * @throws {RangeError} when `extendTimeoutUsec` is not a positive whole number
 */
export function notifyMessage(state: NotifyState): string {
  const lines: string[] = [];
  if (state.ready) lines.push("READY=1");
  if (state.stopping) lines.push("STOPPING=1");
  if (state.watchdog) lines.push("WATCHDOG=1");
  const extend = state.extendTimeoutUsec;
  if (extend !== undefined) {
    if (!Number.isSafeInteger(extend) || extend <= 0) {
      throw new RangeError(
        `Cannot build an sd_notify message: EXTEND_TIMEOUT_USEC ${extend} is not a positive ` +
          `whole number of microseconds`,
      );
    }
    lines.push(`EXTEND_TIMEOUT_USEC=${extend}`);
  }
  if (state.status !== undefined) {
    let text = state.status.replace(/[\r\n]+/g, " ").trim();
    const chars = [...text]; // code points: a cut never splits a surrogate pair
    if (chars.length > STATUS_MAX) text = chars.slice(0, STATUS_MAX - 1).join("") + "…";
    lines.push(`STATUS=${text}`);
  }
  if (lines.length === 0) {
    throw new TypeError("Cannot build an sd_notify message: the state sets nothing");
  }
  return lines.join("\n");
}

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The one source of truth for the Deno permissions the agent runs under.
 *
 * `make run`, `make build` (`deno compile`), the test helper that starts real agents
 * (`tests/_helpers/agent.ts`) and the benchmarks all take their flags from
 * {@linkcode permissionFlags}, so a permission the agent lacks fails a test here rather than
 * a device in the field.
 *
 * Run as a script it prints the flags space-separated, for the Makefile:
 * `deno run scripts/permissions.ts [--state-dir DIR] [--runtime-dir DIR] [--resolv-conf FILE]`.
 * @module
 */
import { parseFlags } from "../lib/cli/args.ts";
import { LIBC_PATHS } from "../lib/sys/libc.ts";
import { resolvConfTempPath } from "../lib/dns/resolv_conf.ts";

/** Paths the agent writes to; everything else on disk is read-only for it. */
export interface PermissionPaths {
  /** Persisted registry and VIP state (`stateDir`). @default "/var/lib/edgemesh" */
  readonly stateDir?: string;
  /** Directory of the control socket (`controlSocket`'s parent). @default "/run/edgemesh" */
  readonly runtimeDir?: string;
  /** The resolver file rewritten when `manageResolvConf` is on. @default "/etc/resolv.conf" */
  readonly resolvConf?: string;
}

/** Production defaults, matching `lib/config/schema.ts` and `deploy/edgemesh.service`. */
export const DEFAULT_PERMISSION_PATHS: Required<PermissionPaths> = {
  stateDir: "/var/lib/edgemesh",
  runtimeDir: "/run/edgemesh",
  resolvConf: "/etc/resolv.conf",
};

/**
 * Environment variables the agent may read.
 *
 * - `LOG_TOKENS`, `LOG_STREAM`: npm `yaml` reads these debug switches while parsing any YAML
 *   document (config files, `ctl apply -f`); without them `parse()` throws `NotCapable`.
 * - `EDGEMESH_SOCKET`: the default control socket of `edgemesh ctl` (the compiled binary runs
 *   `ctl` under the same permissions as `run`).
 * - `NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`: what systemd sets for a `Type=notify`
 *   unit with a watchdog (`sd_notify(3)`); the agent reads them once at start, tells systemd
 *   when it is ready and stopping and pings the watchdog (lib/agent/notify.ts), and deletes
 *   them so the `ip` processes it runs do not inherit them.
 * The agent reads no other variable: its configuration comes from the file and flags.
 * Deno's runtime reads its own variables (`DENO_*`, `NO_COLOR`, proxies, TLS CA store) without
 * permission checks, so they need no entry here.
 */
export const ALLOWED_ENV: readonly string[] = [
  "LOG_TOKENS",
  "LOG_STREAM",
  "EDGEMESH_SOCKET",
  "NOTIFY_SOCKET",
  "WATCHDOG_USEC",
  "WATCHDOG_PID",
];

/**
 * System information the agent reads: `Deno.hostname()` (default `nodeName`) and
 * `Deno.networkInterfaces()` (the node's own addresses for `dnsAllowFrom: ["node"]`).
 */
export const ALLOWED_SYS: readonly string[] = ["hostname", "networkInterfaces"];

/**
 * The `deno run` / `deno compile` permission flags for the agent, narrowest that work.
 *
 * - `--allow-net`: listeners on every VIP, DNS, tunnel and metrics addresses, dials to
 *   endpoints and peers; the set of addresses is data (services arrive at run time), so it
 *   cannot be listed up front.
 * - `--allow-run=ip`: iproute2 is the only program the agent runs (device and addresses).
 * - `--allow-read` (unrestricted): the config file, tunnel key, certificates and CA bundle
 *   live at operator-chosen paths given at run time, while a compiled binary's permissions
 *   are fixed at build time. Reading discloses but never changes anything; under systemd,
 *   `ProtectHome` and `ProtectSystem=strict` bound it further.
 * - `--allow-write` limited to the state dir, the runtime dir (control socket) and the
 *   resolver file: the only places the agent changes.
 * - `--allow-env` and `--allow-sys` limited to {@linkcode ALLOWED_ENV} and
 *   {@linkcode ALLOWED_SYS}.
 * - `--allow-ffi` limited to the C library ({@linkcode LIBC_PATHS}): the DNS server receives
 *   and sends UDP in batches with `recvmmsg`/`sendmmsg` (lib/dns/mmsg.ts), which Deno's own
 *   sockets cannot do (1.6–1.9× the queries per second of `Deno.listenDatagram`), and the
 *   proxy's `epoll` engine makes its socket calls synchronously on an epoll loop
 *   (lib/sys/reactor.ts; about half the CPU per short connection of `Deno.TcpConn`). This
 *   is a real widening: code that can call the C library is outside Deno's sandbox (its
 *   sockets are not checked against `--allow-net`). The agent already runs as root with
 *   `CAP_NET_ADMIN`, so the sandbox was defence in depth, and the scope keeps any other
 *   shared object out. `dnsUdpBatching: false` and `proxyEngine: deno` take the sockets off
 *   it; the main thread's CPU time (`getrusage`, lib/proxy/busy.ts), the C heap trim
 *   every 10 s (`malloc_trim`, lib/agent/heap_trim.ts), the device watch's look at the
 *   device's up flag (`ioctl(SIOCGIFFLAGS)`, lib/sys/netif.ts) and the `sd_notify(3)`
 *   datagrams to systemd (an `AF_UNIX` datagram socket, lib/sys/notify_socket.ts) still use
 *   it; the first three do without (a device set down then waits for the 30 s resync), the
 *   last warns once that readiness cannot be reported.
 * - `--unstable-net`: `Deno.listenDatagram` (DNS over UDP) is still unstable.
 *
 * @example
 * ```ts
 * permissionFlags({ stateDir: "/tmp/s", runtimeDir: "/tmp/r" });
 * // ["--allow-net", "--allow-run=ip", "--allow-read",
 * //  "--allow-write=/tmp/s,/tmp/r,/etc/resolv.conf,/etc/.resolv.conf.edgemesh-tmp", …,
 * //  "--unstable-net"]
 * ```
 * @throws {TypeError} when a path is empty or contains a comma (Deno's list separator)
 */
export function permissionFlags(paths: PermissionPaths = {}): string[] {
  const p = { ...DEFAULT_PERMISSION_PATHS, ...definedOnly(paths) };
  // resolv.conf and its fixed temp sibling (atomic replacement for `manageResolvConf`).
  const writes = [p.stateDir, p.runtimeDir, p.resolvConf, resolvConfTempPath(p.resolvConf)];
  for (const w of writes) {
    if (w === "" || w.includes(",")) {
      throw new TypeError(`Cannot build permission flags: path "${w}" is empty or has a comma`);
    }
  }
  return [
    "--allow-net",
    "--allow-run=ip",
    "--allow-read",
    `--allow-write=${writes.join(",")}`,
    `--allow-env=${ALLOWED_ENV.join(",")}`,
    `--allow-sys=${ALLOWED_SYS.join(",")}`,
    `--allow-ffi=${LIBC_PATHS.join(",")}`,
    "--unstable-net",
  ];
}

function definedOnly(paths: PermissionPaths): PermissionPaths {
  return Object.fromEntries(Object.entries(paths).filter(([, v]) => v !== undefined));
}

/** `--help` of the script. */
export const PERMISSIONS_HELP =
  `Print the Deno permission flags the agent runs under, space-separated
(for the Makefile, scripts/build.sh and scripts/demo.sh).

Usage:
  deno run scripts/permissions.ts [--state-dir DIR] [--runtime-dir DIR] [--resolv-conf FILE]

Flags:
  --state-dir DIR      writable state directory, config stateDir (default ${DEFAULT_PERMISSION_PATHS.stateDir})
  --runtime-dir DIR    writable directory of the control socket, the parent of config
                       controlSocket (default ${DEFAULT_PERMISSION_PATHS.runtimeDir})
  --resolv-conf FILE   resolver file the agent may rewrite, config resolvConf
                       (default ${DEFAULT_PERMISSION_PATHS.resolvConf}; its temp sibling is allowed too)
  -h, --help           show this help
`;

/**
 * The script's command line: returns the exit status (0, or 2 on a usage error) and writes
 * the flags, the help or one error line, so usage mistakes never end in a stack trace.
 */
export function permissionsMain(
  args: readonly string[],
  out: (text: string) => void,
  err: (text: string) => void,
): number {
  let values;
  try {
    ({ values } = parseFlags(
      args,
      {
        "state-dir": { type: "string" },
        "runtime-dir": { type: "string" },
        "resolv-conf": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      "permissions.ts",
      0,
    ));
  } catch (e) {
    err(`permissions.ts: ${(e as Error).message} (see --help)\n`);
    return 2;
  }
  if (values.help) {
    out(PERMISSIONS_HELP);
    return 0;
  }
  try {
    const flags = permissionFlags({
      stateDir: values["state-dir"] as string | undefined,
      runtimeDir: values["runtime-dir"] as string | undefined,
      resolvConf: values["resolv-conf"] as string | undefined,
    });
    out(flags.join(" ") + "\n");
    return 0;
  } catch (e) {
    err(`permissions.ts: ${(e as Error).message} (see --help)\n`);
    return 2;
  }
}

if (import.meta.main) {
  const write = (file: { writeSync(p: Uint8Array): number }) => (text: string) => {
    const bytes = new TextEncoder().encode(text);
    for (let off = 0; off < bytes.length;) off += file.writeSync(bytes.subarray(off));
  };
  Deno.exit(permissionsMain(Deno.args, write(Deno.stdout), write(Deno.stderr)));
}

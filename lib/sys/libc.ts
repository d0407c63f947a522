// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The few C library functions the agent calls through Deno's FFI, loaded once: batched UDP for
 * DNS (`lib/dns/mmsg.ts`), the epoll event loop and TCP sockets of the proxy's `epoll` engine
 * (`reactor.ts`, `tcp.ts`, `tcp_listener.ts`, `tcp_dial.ts`), the main thread's CPU time
 * (`lib/proxy/busy.ts`, which starts proxy workers when the main thread is busy; Deno denies
 * reading `/proc/self` without `--allow-all`) and `malloc_trim` (the agent returns freed C heap
 * memory every 10 s).
 *
 * `--allow-ffi` is granted only for {@linkcode LIBC_PATHS}; without it {@linkcode libc} is null
 * and the callers fall back (Deno's UDP and TCP sockets; workers started at once).
 * @module
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: {
    parameters: ["i32", "buffer", "u32", "i32", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  // The same call on the JS thread, with MSG_DONTWAIT: takes what is queued without a wait.
  recvmmsgNow: {
    name: "recvmmsg",
    parameters: ["i32", "buffer", "u32", "i32", "pointer"],
    result: "i32",
  },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  // TCP sockets of the epoll proxy engine (lib/sys/tcp*.ts); all synchronous on non-blocking
  // sockets, except the idle wait of the event loop.
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // ssize_t results read as i32: Linux moves at most INT_MAX & PAGE_MASK bytes per call
  // (MAX_RW_COUNT), so the count and -1 fit, and an "isize" result would allocate a BigInt
  // per call (about 1 % of the relay's CPU on keep-alive requests, plus its garbage).
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  // The same call on one of Deno's blocking threads: the event loop's wait when idle.
  epollWaitBlocking: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  close: { parameters: ["i32"], result: "i32" },
  // SIOCGIFFLAGS on a datagram socket: whether the VIP device is up (netif.ts). Variadic in C;
  // the third argument is a pointer, passed in a register on x86_64 and aarch64 alike.
  ioctl: { parameters: ["i32", "usize", "buffer"], result: "i32" },
  getrusage: { parameters: ["i32", "buffer"], result: "i32" },
  // The open-files limit (fd_limits.ts): `struct rlimit` is two u64 on 64-bit Linux.
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  // glibc only (null elsewhere): returns the free memory of every malloc arena to the kernel.
  malloc_trim: { parameters: ["usize"], result: "i32", optional: true },
  __errno_location: { parameters: [], result: "usize" },
  // Deno's pointer helpers (`UnsafePointer.of`, `UnsafePointerView`) need FFI access beyond
  // one library path, so addresses come from the C library itself: `memcpy(b, b, 0)` returns
  // the address of `b` (with its byteOffset), and a 4-byte `memcpy` reads `errno`.
  addressOf: { name: "memcpy", parameters: ["buffer", "buffer", "usize"], result: "usize" },
  peek: { name: "memcpy", parameters: ["buffer", "usize", "usize"], result: "usize" },
} as const;

/** The loaded functions. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * Where the C library is on the Linux distributions edge devices run (Debian/Ubuntu multiarch
 * for x86_64 and aarch64, then the lib64/lib layouts of Fedora, Alpine-glibc, Yocto, Arch).
 * The agent's `--allow-ffi` is scoped to exactly these paths (scripts/permissions.ts), so FFI
 * can open the C library and nothing else.
 */
export const LIBC_PATHS: readonly string[] = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6",
  "/usr/lib64/libc.so.6",
  "/lib/libc.so.6",
  "/usr/lib/libc.so.6",
];

let loaded: Libc | null | undefined;

/** The C library's functions, or null when FFI is not allowed or not on Linux (cached). */
export function libc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (Deno.build.os !== "linux") return loaded;
  for (const path of LIBC_PATHS) {
    try {
      if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
      loaded = Deno.dlopen(path, SYMBOLS).symbols;
      return loaded;
    } catch {
      // not there (another architecture's path, or another layout): try the next one
    }
  }
  return loaded;
}

const errnoBuf = new Int32Array(1);

/** `errno` of the last synchronous call on this thread (not valid after a `nonblocking` call). */
export function errno(c: Libc): number {
  c.peek(errnoBuf, c.__errno_location(), 4n);
  return errnoBuf[0]!;
}

/** `RUSAGE_THREAD`: resource usage of the calling thread (Linux, getrusage(2)). */
const RUSAGE_THREAD = 1;
/** `struct rusage` is 144 bytes on 64-bit Linux; `ru_utime` and `ru_stime` lead it. */
const rusage = new BigInt64Array(18);

/**
 * CPU time (user + system) the calling thread has used, seconds, or null without the C
 * library. From `getrusage(RUSAGE_THREAD)`: `ru_utime` and `ru_stime` are `struct timeval`s.
 */
export function threadCpuSeconds(): number | null {
  const c = libc();
  if (c === null || c.getrusage(RUSAGE_THREAD, rusage) !== 0) return null;
  const [us, uu, ss, su] = [rusage[0]!, rusage[1]!, rusage[2]!, rusage[3]!];
  return Number(us + ss) + Number(uu + su) / 1e6;
}

/**
 * Returns the free memory of the process's C heap (every glibc malloc arena) to the kernel:
 * `malloc_trim(0)`, which also releases whole free pages inside the arenas (glibc ≥ 2.8), not
 * only the top of the main heap as `free()` does on its own (`M_TRIM_THRESHOLD`).
 *
 * Why: Deno's runtime (its Rust side and V8's off-heap buffers) allocates with glibc malloc
 * from several threads. After a burst — 1000 services over the control socket, the `ip`
 * calls, the listeners — the freed chunks stay in the arenas, resident, until a later
 * allocation happens to reuse them. The agent calls this periodically (`lib/agent/heap_trim.ts`);
 * the effect is measured in `bench/README.md`.
 *
 * @returns true when memory was released, false when there was none to release, null
 *   without the C library or off glibc (nothing done).
 */
export function trimMallocHeap(): boolean | null {
  const trim = libc()?.malloc_trim;
  if (!trim) return null;
  return trim(0n) === 1;
}

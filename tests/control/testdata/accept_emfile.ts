// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A `ControlServer` in a process of its own that runs out of descriptors, for
 * `tests/control/accept_emfile_test.ts`: `accept_emfile.ts SOCKET` listens on SOCKET, lowers its
 * open-files limit to what it holds plus a few, opens `/dev/null` until `EMFILE`, prints `full`,
 * then, at a line on stdin, closes those files and prints `freed`. Its log goes to stderr (JSON).
 * @module
 */
// deno-lint-ignore-file no-console
import { ControlServer } from "../../../lib/control/mod.ts";
import { createLogger } from "../../../lib/log/mod.ts";
import { libc } from "../../../lib/sys/libc.ts";
import { RLIMIT_NOFILE } from "../../../lib/sys/fd_limits.ts";

const [path] = Deno.args;
if (!path) throw new TypeError("Cannot start: usage is accept_emfile.ts SOCKET");
const server = await ControlServer.listen({
  path,
  target: {
    apply: () => Promise.resolve(),
    snapshot: () => ({ version: 0, services: new Map(), nodes: new Map(), vips: new Map() }),
  },
  status: () => ({ node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } }),
  log: createLogger({ level: "info", format: "json", write: (l) => console.error(l) }),
});

const c = libc();
if (c === null) throw new Error("Cannot lower the open-files limit: no C library");
const lim = new BigUint64Array(2);
if (c.getrlimit(RLIMIT_NOFILE, lim) !== 0) throw new Error("getrlimit failed");
lim[0] = BigInt([...Deno.readDirSync("/proc/self/fd")].length + 8);
if (c.setrlimit(RLIMIT_NOFILE, lim) !== 0) throw new Error("setrlimit failed");
const files: Deno.FsFile[] = [];
try {
  for (;;) files.push(Deno.openSync("/dev/null"));
} catch {
  // EMFILE: every descriptor is taken
}
console.log("full");

const buf = new Uint8Array(16);
await Deno.stdin.read(buf);
for (const f of files) f.close();
console.log("freed");
await Deno.stdin.read(buf); // until the test closes stdin
await server.close();

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Which build of edgemesh runs: {@linkcode VERSION} and, when it can be known without more
 * permissions than the agent has, the git commit it was built from.
 *
 * - `deno run` from a git checkout (`make run`): the commit of `HEAD`, read from the files of
 *   `.git` (the agent may run `ip` and nothing else, so not `git`). Uncommitted changes in the
 *   checkout are not seen.
 * - A binary from `make build`: `scripts/build.sh` writes `build_stamp.json` beside this module
 *   (`{"commit": "<sha>", "dirty": false}`, `dirty` when the tree had uncommitted changes to
 *   tracked files), embeds it with `deno compile --include` and removes it again.
 * - Otherwise (a copy without `.git`, a build without a stamp) the commit is unknown.
 *
 * The checkout is looked at first, so a stamp left behind by an interrupted build cannot
 * misreport a checkout. Every failure to read means "unknown": this never throws.
 * @module
 */
import { VERSION } from "./version.ts";

/** The file `scripts/build.sh` writes beside this module and embeds in the binary. */
export const BUILD_STAMP_FILE = "build_stamp.json";

/** Where the commit came from: the build's stamp, or the git checkout `deno run` runs from. */
export type CommitSource = "build" | "checkout";

/** The running build, for `edgemesh version`, `ctl status` and the agent's start line. */
export interface BuildInfo {
  /** {@linkcode VERSION}, e.g. `0.1.0`. */
  readonly version: string;
  /** The full commit hash (40 hex digits, 64 in a SHA-256 repository), or null if unknown. */
  readonly commit: string | null;
  /** Where {@linkcode commit} came from; null when it is unknown. */
  readonly source: CommitSource | null;
  /** A stamped build from a tree with uncommitted changes; null when not known (checkout). */
  readonly dirty: boolean | null;
}

/** Reads a text file by absolute path; null when it is missing or cannot be read. */
export type ReadText = (path: string) => string | null;

const COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Whether `text` is a full commit hash (SHA-1 or SHA-256, lowercase hex). */
export function isCommit(text: string): boolean {
  return COMMIT.test(text);
}

/** The stamp `scripts/build.sh` writes, or null when `text` is not a valid one. */
export function parseStamp(text: string): { commit: string; dirty: boolean } | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const { commit, dirty } = v as { commit?: unknown; dirty?: unknown };
  if (typeof commit !== "string" || !isCommit(commit)) return null;
  return { commit, dirty: dirty === true };
}

/**
 * The commit `HEAD` names in the checkout at `root` (an absolute directory path), from the
 * files git keeps: `.git/HEAD` (a ref or, detached, a hash), then that ref as a loose file or
 * in `packed-refs`. A `.git` file (`gitdir: …`, a linked worktree or submodule) is followed,
 * and so is the worktree's `commondir`. Null when any of it is missing or malformed.
 */
export function checkoutCommit(root: string, read: ReadText): string | null {
  let gitDir = join(root, ".git");
  const pointer = read(gitDir); // a directory does not read as text
  if (pointer !== null) {
    const m = /^gitdir: (.+)$/m.exec(pointer);
    if (!m) return null;
    gitDir = absolute(root, m[1]!.trim());
  }
  const head = read(join(gitDir, "HEAD"))?.trim();
  if (head === undefined) return null;
  if (isCommit(head)) return head; // detached
  const ref = /^ref: (refs\/\S+)$/.exec(head)?.[1];
  if (ref === undefined || ref.split("/").includes("..")) return null;
  const common = read(join(gitDir, "commondir"))?.trim();
  const refsDir = common ? absolute(gitDir, common) : gitDir;
  const loose = read(join(refsDir, ref))?.trim();
  if (loose !== undefined) return isCommit(loose) ? loose : null;
  for (const line of (read(join(refsDir, "packed-refs")) ?? "").split("\n")) {
    const [hash, name] = line.trim().split(" ");
    if (name === ref && hash !== undefined && isCommit(hash)) return hash;
  }
  return null;
}

/**
 * The build info from the checkout holding `moduleUrl` (this module: `lib/cli/` is two levels
 * below the root), else from the stamp beside it. Pure but for `read`.
 */
export function findBuildInfo(moduleUrl: string, read: ReadText): BuildInfo {
  const unknown: BuildInfo = { version: VERSION, commit: null, source: null, dirty: null };
  const url = new URL(moduleUrl);
  if (url.protocol !== "file:") return unknown;
  const dir = decodeURIComponent(new URL(".", url).pathname).replace(/\/$/, "");
  const root = dir.replace(/\/lib\/cli$/, "");
  if (root !== dir) {
    const commit = checkoutCommit(root, read);
    if (commit !== null) return { version: VERSION, commit, source: "checkout", dirty: null };
  }
  const text = read(join(dir, BUILD_STAMP_FILE));
  const stamp = text === null ? null : parseStamp(text);
  if (stamp === null) return unknown;
  return { version: VERSION, commit: stamp.commit, source: "build", dirty: stamp.dirty };
}

/**
 * `Deno.readTextFileSync` of a path this process may already read (never a permission prompt),
 * with every failure (missing, a directory, not permitted) as null.
 */
export const readTextOrNull: ReadText = (path) => {
  try {
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return null;
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
};

let cached: BuildInfo | null = null;

/** This process's build info (read once: a few small files, at most). */
export function buildInfo(): BuildInfo {
  cached ??= findBuildInfo(import.meta.url, readTextOrNull);
  return cached;
}

/**
 * Where a commit came from, for people: `build`, `build, uncommitted changes`, or
 * `git checkout` (`source` as in {@linkcode BuildInfo}, or as `ctl status` received it).
 */
export function commitOrigin(source: string, dirty: boolean | null | undefined): string {
  if (source === "checkout") return "git checkout";
  return dirty ? `${source}, uncommitted changes` : source;
}

/**
 * `edgemesh version`'s line: `edgemesh 0.1.0 (deno 2.9.6)`, then, when the commit is known,
 * ` commit <sha> (<origin>)` on the same line (what came before is unchanged for scripts).
 */
export function versionLine(info: BuildInfo, deno: string): string {
  const commit = info.commit === null || info.source === null
    ? ""
    : ` commit ${info.commit} (${commitOrigin(info.source, info.dirty)})`;
  return `edgemesh ${info.version} (deno ${deno})${commit}\n`;
}

function join(dir: string, name: string): string {
  return `${dir.replace(/\/$/, "")}/${name}`;
}

/** `path` as git writes it in `.git` files: absolute, or relative to `base`. */
function absolute(base: string, path: string): string {
  if (path.startsWith("/")) return path;
  const parts = base.split("/");
  for (const p of path.split("/")) {
    if (p === "..") parts.pop();
    else if (p !== "." && p !== "") parts.push(p);
  }
  return parts.join("/") || "/";
}

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Optional host integration (config `manageResolvConf`): put our nameserver first in
 * resolv.conf so the node's own programs resolve cluster names, and restore the file on exit.
 *
 * Our lines carry a marker comment, so a file left behind by a crash is recognised and cleaned
 * on the next start. Writes are atomic (temporary file in the same directory, then rename);
 * a symlinked resolv.conf (systemd-resolved) is written through to its target so the link
 * survives; a bind-mounted file (containers), where rename fails, is rewritten in place. When
 * the link is pointed at another file while the agent runs, our lines are removed from the file
 * it pointed to before (the link may be pointed back at it after the agent is gone).
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { parseHostPort } from "./nameservers.ts";

/** Marks the lines we add. */
export const RESOLV_CONF_MARKER = "# added by edgemesh (manageResolvConf); removed on exit";

/**
 * `text` with `nameserver <ip>` (and our marker) first, before every other line; idempotent.
 * Other nameservers stay (glibc uses the first three, resolv.conf(5) MAXNS).
 */
export function withOurNameserver(text: string, ip: string): string {
  const rest = withoutOurNameserver(text, ip);
  return `${RESOLV_CONF_MARKER}\nnameserver ${ip}\n${rest}`;
}

/** `text` without the lines {@linkcode withOurNameserver} added (and no duplicate of ours). */
export function withoutOurNameserver(text: string, ip: string): string {
  const lines = text.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === RESOLV_CONF_MARKER) {
      const next = lines[i + 1]?.trim() ?? "";
      if (/^nameserver\s+\S+$/.test(next)) i++; // our nameserver line follows the marker
      continue;
    }
    if (new RegExp(`^\\s*nameserver\\s+${ip.replace(/[.:[\]]/g, "\\$&")}\\s*$`).test(line)) {
      continue;
    }
    out.push(line);
  }
  return out.join("\n");
}

/**
 * The address to write as `nameserver`: the first `dnsListen` entry on port 53 that is not a
 * wildcard (resolv.conf cannot name a port), or null when there is none.
 */
export function nameserverFor(listen: readonly string[]): string | null {
  for (const l of listen) {
    const a = parseHostPort(l);
    if (a.port === 53 && a.hostname !== "0.0.0.0" && a.hostname !== "::") return a.hostname;
  }
  return null;
}

/**
 * The temp file written next to resolv.conf and renamed over it (atomic replacement). A fixed
 * name, so the agent's `--allow-write` can list it instead of the whole directory.
 */
export function resolvConfTempPath(path: string): string {
  const slash = path.lastIndexOf("/");
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.edgemesh-tmp`;
}

/** Options of {@linkcode ResolvConfManager}. */
export interface ResolvConfManagerOptions {
  /** Config `resolvConf`. @default "/etc/resolv.conf" */
  readonly path?: string;
  /** Our DNS address (see {@linkcode nameserverFor}). */
  readonly nameserver: string;
  /** @default {nullLogger} */
  readonly log?: Logger;
}

/** Applies and later undoes our nameserver entry in one resolv.conf. */
export class ResolvConfManager {
  readonly #path: string;
  readonly #ip: string;
  readonly #log: Logger;
  /** What we wrote, to tell whether someone else changed the file since. */
  #written: string | null = null;
  /** The file the last write went to: what a symlinked `path` pointed to then. */
  #target: string | null = null;
  /**
   * The file last rewritten in place, and why: the same again (every DHCP renewal through a
   * symlink the permission flags do not cover) is said at debug, not warned each time.
   */
  #inPlace: string | null = null;
  #original: string | null = null;
  /** apply, reassert and restore run one at a time, in call order (never a write after restore). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: ResolvConfManagerOptions) {
    this.#path = options.path ?? "/etc/resolv.conf";
    this.#ip = options.nameserver;
    this.#log = options.log ?? nullLogger;
  }

  /** The file content before {@linkcode ResolvConfManager.apply} (our lines removed), or null. */
  get original(): string | null {
    return this.#original;
  }

  /**
   * Puts our nameserver first. Returns the original content, e.g. to read upstreams from.
   * @throws {Error} "Cannot update …" (with `cause`) when the file cannot be read or written
   */
  apply(): Promise<string> {
    return this.#serial(() => this.#apply());
  }

  /**
   * After the file changed to `current` (a DHCP client or NetworkManager rewrote it): puts our
   * nameserver first again when `current` lacks it there, as the original edgemesh did every
   * 10 s; restore() then removes it from that version. Resolves to whether it wrote. Does nothing
   * before {@linkcode ResolvConfManager.apply} or after {@linkcode ResolvConfManager.restore}.
   * @throws {Error} "Cannot update …" (with `cause`) when the file cannot be written
   */
  reassert(current: string): Promise<boolean> {
    return this.#serial(async () => {
      if (this.#written === null || current === this.#written) return false;
      // Their version is what restore() gives back from now on.
      this.#original = withoutOurNameserver(current, this.#ip);
      const next = withOurNameserver(current, this.#ip);
      if (next !== current) await this.#write(next);
      this.#written = next;
      if (next === current) return false;
      this.#log.warn("resolv.conf was rewritten without the cluster DNS first; put it back", {
        path: this.#path,
        nameserver: this.#ip,
      });
      return true;
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #apply(): Promise<string> {
    let current = "";
    try {
      current = await Deno.readTextFile(this.#path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new Error(`Cannot update "${this.#path}": ${(err as Error).message}`, { cause: err });
      }
    }
    this.#original = withoutOurNameserver(current, this.#ip);
    const next = withOurNameserver(current, this.#ip);
    await this.#write(next);
    this.#written = next;
    this.#log.info("resolv.conf now points at the cluster DNS", {
      path: this.#path,
      nameserver: this.#ip,
    });
    return this.#original;
  }

  /**
   * Restores the original content; when someone else rewrote the file meanwhile, only our lines
   * are removed from their version. Does nothing if {@linkcode ResolvConfManager.apply} was not
   * called.
   */
  restore(): Promise<void> {
    return this.#serial(() => this.#restore());
  }

  async #restore(): Promise<void> {
    if (this.#written === null || this.#original === null) return;
    let current: string | null = null;
    try {
      current = await Deno.readTextFile(this.#path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new Error(`Cannot restore "${this.#path}": ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    const next = current === null || current === this.#written
      ? this.#original
      : withoutOurNameserver(current, this.#ip);
    await this.#write(next);
    this.#written = null;
    this.#log.info("resolv.conf restored", { path: this.#path });
  }

  /**
   * Removes our lines from `file`, which `path` pointed to before (a symlink swapped, as
   * `resolvectl` or NetworkManager do): nothing would remove them from it otherwise, and a link
   * pointed back at it after the agent is gone would send every lookup to a dead nameserver
   * first. A file that cannot be written (the agent's permission flags name only `path`) is
   * warned about, with the fix.
   */
  async #clean(file: string): Promise<void> {
    try {
      const text = await Deno.readTextFile(file);
      const clean = withoutOurNameserver(text, this.#ip);
      if (clean === text) return;
      await Deno.writeTextFile(file, clean);
      this.#log.info(
        "resolv.conf points at another file now; removed the cluster DNS from the old one",
        {
          path: this.#path,
          file,
        },
      );
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      this.#log.warn(
        "resolv.conf points at another file now; cannot remove the cluster DNS from the old one",
        {
          path: this.#path,
          file,
          error: err instanceof Deno.errors.NotCapable
            ? `not permitted to write "${file}" (not a path this edgemesh's permission flags allow)`
            : err,
          fix:
            `delete the line "${RESOLV_CONF_MARKER}" and the nameserver line after it from that file`,
        },
      );
    }
  }

  async #write(text: string): Promise<void> {
    let target = this.#path;
    try {
      target = await Deno.realPath(this.#path); // write through a symlink, keep the link
    } catch { /* does not exist yet: create it */ }
    const before = this.#target;
    this.#target = target;
    if (before !== null && before !== target) await this.#clean(before);
    const tmp = resolvConfTempPath(target);
    try {
      let mode = 0o644;
      try {
        mode = (await Deno.stat(target)).mode ?? 0o644;
      } catch { /* new file */ }
      await Deno.writeTextFile(tmp, text, { mode: mode & 0o777 });
      await Deno.rename(tmp, target);
      return;
    } catch (err) {
      // A bind-mounted file (containers), a read-only /etc with only the file writable
      // (systemd ReadWritePaths), or permissions granting the file but not its temp sibling:
      // the file cannot be replaced, so it is rewritten in place.
      await Deno.remove(tmp).catch(() => {});
      // Deno's text advises `--allow-write`, which a compiled agent cannot be given.
      const error = err instanceof Deno.errors.NotCapable
        ? `not permitted to write "${tmp}" (not a path this edgemesh's permission flags allow)`
        : (err as Error).message;
      const again = this.#inPlace === `${target}\n${error}`;
      this.#inPlace = `${target}\n${error}`;
      (again ? this.#log.debug : this.#log.warn).call(
        this.#log,
        "Cannot replace resolv.conf atomically, rewriting it in place",
        { path: target, error },
      );
    }
    try {
      await Deno.writeTextFile(this.#path, text);
    } catch (err) {
      throw new Error(`Cannot update "${this.#path}": ${(err as Error).message}`, { cause: err });
    }
  }
}

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Following resolv.conf while the agent runs. Edge devices get their resolvers from DHCP, a
 * cellular modem or NetworkManager, which rewrite the file on a new lease or network; read only
 * at start, forwarded names would go on to a resolver of the old network (or to none, on a
 * device that booted before its network) until a restart. dnsmasq polls its resolv-file for the
 * same reason. Every {@linkcode RESOLV_CONF_POLL_MS} the file's stamp is checked (`stat`, on
 * what a symlink points to, as `/etc/resolv.conf` often is); when its content changed:
 * - without config `upstreams`, the upstreams are read from it again and the DNS server
 *   forwards to them from now on (`DNS upstreams changed`, with the old ones; the forwarding
 *   cache is emptied);
 * - with `manageResolvConf`, our nameserver is put first again when the new version lacks it.
 *
 * A file that cannot be read keeps the upstreams in use, and a write that fails is tried again
 * at the next poll: one warning (`Cannot follow a change of resolv.conf`) until it works.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { FileSetWatcher, type FileStamp, statStamp } from "../sys/file_watch.ts";
import { formatHostPort } from "../netaddr/mod.ts";
import type { Upstream } from "./nameservers.ts";
import type { ResolvConfManager } from "./resolv_conf.ts";
import { resolvConfUpstreams } from "./upstreams.ts";

/** How often the file's stamp is checked, ms (as often as the tunnel's credential files). */
export const RESOLV_CONF_POLL_MS = 10_000;

/** Where new upstreams go: the `DnsServer` (its `upstreams` and `setUpstreams`). */
export interface UpstreamsTarget {
  readonly upstreams: readonly Upstream[];
  /** Returns false when `upstreams` are those in use already. */
  setUpstreams(upstreams: readonly Upstream[]): boolean;
}

/** Options of {@linkcode ResolvConfWatch}. */
export interface ResolvConfWatchOptions {
  /** Config `resolvConf`. */
  readonly path: string;
  /**
   * Takes the upstreams the file names; null when config `upstreams` is set (the file is then
   * watched only for `manager`).
   */
  readonly target: UpstreamsTarget | null;
  /** Config `dnsListen`: our own addresses, never used as upstreams. */
  readonly listen: readonly string[];
  /** With `manageResolvConf`: keeps our nameserver first. */
  readonly manager: Pick<ResolvConfManager, "reassert"> | null;
  readonly log: Logger;
  /** Names of the node's interfaces (zones of link-local upstreams). @default the real ones */
  readonly interfaceNames?: () => readonly string[] | null;
  /** @default {statStamp} */
  readonly stat?: (path: string) => Promise<FileStamp>;
  /** @default {Deno.readTextFile} */
  readonly read?: (path: string) => Promise<string>;
}

/** See the module docs. {@linkcode ResolvConfWatch.poll} is one check; `start` repeats it. */
export class ResolvConfWatch {
  readonly #o: ResolvConfWatchOptions;
  readonly #watcher: FileSetWatcher<string, string>;

  constructor(options: ResolvConfWatchOptions) {
    this.#o = options;
    this.#watcher = new FileSetWatcher<string, string>({
      paths: [options.path],
      // The first poll reads the file whatever its stamp and compares with this: an empty
      // "start" makes it check once what the start read (and manageResolvConf wrote).
      initial: [""],
      stat: options.stat ?? statStamp,
      read: options.read ?? ((p) => Deno.readTextFile(p)),
      same: (a, b) => a === b,
      check: ([text]) => ({ ok: true, value: text ?? "" }),
      apply: (text) => this.#apply(text),
      warn: (problem) =>
        options.log.warn("Cannot follow a change of resolv.conf", {
          path: options.path,
          problem,
        }),
    });
  }

  /** One check; resolves to true when a changed file was taken up. Never rejects. */
  poll(): Promise<boolean> {
    return this.#watcher.poll();
  }

  /** Polls every `everyMs` on an unreferenced timer. */
  start(everyMs: number = RESOLV_CONF_POLL_MS): void {
    this.#watcher.start(everyMs);
  }

  /** Stops polling (before the manager restores the file, so it is not put back after). */
  close(): void {
    this.#watcher.close();
  }

  async #apply(text: string): Promise<void> {
    const { target, manager, log, path } = this.#o;
    if (target !== null) {
      const before = target.upstreams;
      const next = resolvConfUpstreams(text, {
        listen: this.#o.listen,
        source: path,
        log,
        ...(this.#o.interfaceNames ? { interfaceNames: this.#o.interfaceNames } : {}),
      });
      if (target.setUpstreams(next)) {
        const fields = { path, upstreams: list(next), before: list(before) };
        if (next.length === 0) {
          log.warn("resolv.conf names no usable nameserver now: DNS forwarding is off", fields);
        } else {
          log.info("DNS upstreams changed", fields);
        }
      }
    }
    // After the upstreams: a write that fails is retried at the next poll (the watcher keeps
    // the old stamp), and the upstreams are then the same, so nothing is said twice.
    await manager?.reassert(text);
  }
}

function list(upstreams: readonly Upstream[]): string {
  return upstreams.map((u) => formatHostPort(u.hostname, u.port)).join(",") || "none";
}

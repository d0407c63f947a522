// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The VIP device shell: creates or adopts `edge0`, keeps its /32 addresses equal to the
 * registry's VIPs through `ip -batch -`, and cleans up on exit. Decisions live in `plan.ts`.
 * @module
 */
import type { DeviceType } from "../config/schema.ts";
import type { Logger } from "../log/mod.ts";
import type { Gauge, MetricsRegistry } from "../metrics/mod.ts";
import { monotonicNow } from "../sys/clock.ts";
import { CommandError, type Exec, ipCommandProblem, mustRun } from "./exec.ts";
import {
  type ClaimDevice,
  claimDevice,
  type DeviceClaim,
  ownedAlias,
  readOwnedAlias,
} from "./owner.ts";
import {
  addressBatches,
  type AddressPlan,
  type AddrShow,
  DEFAULT_BATCH_LINES,
  type DeviceAddress,
  inCidr,
  type Ipv4Cidr,
  parseAddrShow,
  parseCidr,
  parseIpv4,
  planAddresses,
  retainRemoved,
} from "./plan.ts";

/** Options of {@linkcode NetDev}; the names match `Config` keys. */
export interface NetDevOptions {
  /** Device name (config `device`, default `edge0`). */
  readonly device: string;
  /** `auto` tries `dummy`, then `bridge` with one warning; the others force a type. */
  readonly deviceType: DeviceType;
  /**
   * VIP subnet (config `subnet`): /32 addresses inside it that nobody wants are removed; outside
   * it only our own (`reconcile()` says which).
   */
  readonly subnet: string;
  /** Leave the device in place on {@linkcode NetDev.teardown} (our addresses still go). */
  readonly keepDeviceOnExit: boolean;
  /** How `ip` runs; `denoExec` in production, `fakeExec` in tests. */
  readonly exec: Exec;
  readonly log: Logger;
  readonly metrics?: MetricsRegistry;
  /** Most lines per `ip -batch -` process. @default 4096 */
  readonly batchLines?: number;
  /**
   * How long an address that stops being wanted stays on the device, ms: the agent sets
   * `drainGraceMs` plus a margin, so the connections of a deleted service drain
   * (`retainRemoved()` in plan.ts). @default 0
   */
  readonly retainRemovedMs?: number;
  /** Clock for the retention deadlines, ms. @default monotonicNow (lib/sys/clock.ts) */
  readonly now?: () => number;
  /** The timer that removes held addresses once their time is up (tests drive a fake one). */
  readonly timers?: TimeoutTimers;
  /** This process's pid, written into the alias of a device it creates. @default Deno.pid */
  readonly pid?: number;
  /** Claims the device name for this agent (owner.ts). @default claimDevice */
  readonly claim?: ClaimDevice;
  /**
   * The agent's stop signal: once it aborts, a {@linkcode NetDev.reconcile} in progress runs no
   * further `ip` command (it stops between batches) and rejects with
   * {@linkcode ReconcileStoppedError}; {@linkcode NetDev.teardown} is not affected.
   */
  readonly signal?: AbortSignal;
}

/**
 * A reconcile stopped between two `ip` commands because the agent is stopping. What it had
 * applied is recorded as this instance's, so teardown removes it (or deletes the device).
 */
export class ReconcileStoppedError extends Error {
  override name = "ReconcileStoppedError";
}

/** The two timer functions {@linkcode NetDev} uses: `globalThis`, or a fake in tests. */
export interface TimeoutTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** Kernel answers meaning "this link type does not exist here" (no `dummy` module). */
const UNSUPPORTED_TYPE = /unknown device type|not supported|no such device/i;
/** `ip link show` answer for a missing device. */
const NO_DEVICE = /does not exist|cannot find device/i;

/**
 * The virtual device holding the service VIPs, driven through `ip` (iproute2).
 *
 * Like kube-proxy's ipvs mode with `kube-ipvs0`, VIPs are /32 addresses on a local device so
 * the kernel delivers connections to them locally and `Deno.listen({hostname: vip})` can bind.
 * Calls are serialised: a reconcile never interleaves with another one or with teardown.
 */
export class NetDev {
  readonly #opts: NetDevOptions;
  readonly #subnet: Ipv4Cidr;
  readonly #log: Logger;
  readonly #addresses: Gauge | undefined;
  /** Addresses this instance put on the device and has not removed since. */
  readonly #owned = new Set<string>();
  #created = false;
  /**
   * The next reconcile removes every /32 nobody wants: set when ensure() takes back a device
   * an earlier run left behind, cleared once a reconcile has applied.
   */
  #sweep = false;
  #ensured = false;
  #type: string | null = null;
  /** The kernel's index of the device we use, to notice one replaced behind our back. */
  #ifindex: number | null = null;
  /** Our claim on the device name, from the first ensure until teardown. */
  #claim: DeviceClaim | null = null;
  #warnedFallback = false;
  #queue: Promise<unknown> = Promise.resolve();
  /** Addresses no longer wanted, held until their epoch ms deadline. */
  #retained: ReadonlyMap<string, number> = new Map();
  #releaseTimer: unknown = undefined;
  /** The arguments of the last reconcile, which the release timer repeats. */
  #lastWanted: { vips: ReadonlySet<string>; extra: ReadonlySet<string> } | null = null;
  readonly #now: () => number;
  readonly #timers: TimeoutTimers;

  /** @throws {TypeError} when `subnet` is not an IPv4 CIDR */
  constructor(options: NetDevOptions) {
    this.#opts = options;
    this.#subnet = parseCidr(options.subnet);
    this.#log = options.log;
    this.#now = options.now ?? monotonicNow;
    this.#timers = options.timers ?? globalThis;
    this.#addresses = options.metrics?.gauge(
      "edgemesh_netdev_addresses",
      "VIP addresses the agent holds on its device",
    );
  }

  /** The device name. */
  get device(): string {
    return this.#opts.device;
  }

  /** Whether {@linkcode ensure} created the device (false when it already existed). */
  get created(): boolean {
    return this.#created;
  }

  /** Link type (`dummy`, `bridge`, …) once ensured; null before, or when `ip` did not say. */
  get type(): string | null {
    return this.#type;
  }

  /** Addresses this instance currently holds on the device, for status. */
  addresses(): ReadonlySet<string> {
    return new Set(this.#owned);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => {});
    return next;
  }

  /**
   * Claims the device name (owner.ts), then makes sure the device exists and is up. An existing
   * device is adopted as is (and then not deleted on teardown) unless its alias says an edgemesh
   * agent created it: with the claim ours, that agent is gone, and the device is ours again
   * (the first {@linkcode reconcile} then removes every /32 it left that nobody wants).
   * Otherwise it is created as `dummy`, falling back to `bridge` when the kernel lacks the dummy
   * driver (`deviceType: auto`, one warning), with our alias and pid.
   * @throws {DeviceInUseError} when another agent in this network namespace claims the device
   * @throws {CommandError} naming the failing `ip` command and its stderr
   */
  ensure(): Promise<void> {
    return this.#serial(() => this.#ensure());
  }

  /**
   * Claims the device name for this agent now, without touching the device (ensure() does it
   * too): the agent calls it before it binds its other ports, so that a second agent on the
   * device is refused with the reason that matters. Idempotent; teardown() releases it.
   * @throws {DeviceInUseError} when another agent in this network namespace claims the device
   */
  claim(): void {
    this.#claim ??= (this.#opts.claim ?? claimDevice)(this.#opts.device);
  }

  async #ensure(): Promise<void> {
    const dev = this.#opts.device;
    this.claim(); // before any `ip` command
    const show = ["ip", "-json", "-details", "link", "show", "dev", dev];
    const r = await this.#opts.exec.run(show);
    const up = ["ip", "link", "set", "dev", dev, "up"];
    const pid = this.#opts.pid ?? Deno.pid;
    if (r.code === 0) {
      const link = firstLink(r.stdout);
      const owner = readOwnedAlias(typeof link?.ifalias === "string" ? link.ifalias : null);
      this.#type = linkKind(r.stdout);
      this.#created = owner !== null;
      this.#sweep = owner !== null;
      // Taken back: the alias names this agent from now on.
      if (owner !== null && owner.pid !== pid) up.splice(5, 0, "alias", ownedAlias(pid));
      this.#ifindex = typeof link?.ifindex === "number" ? link.ifindex : null;
      this.#log.info(
        this.#created ? "Using the device an earlier run created" : "Using existing device",
        { device: dev, type: this.#type },
      );
    } else if (r.code > 0 && NO_DEVICE.test(r.stderr)) {
      await this.#create(dev);
      this.#created = true;
      this.#sweep = false; // new: nothing on it yet
      this.#ifindex = null; // learnt at the next read
      up.splice(5, 0, "alias", ownedAlias(pid));
    } else {
      throw new CommandError(show, r.code, ipCommandProblem(r.stderr + r.stdout) ?? r.stderr);
    }
    await mustRun(this.#opts.exec, up);
    this.#ensured = true;
  }

  async #create(dev: string): Promise<void> {
    const type = this.#opts.deviceType;
    const add = (t: "dummy" | "bridge") => ["ip", "link", "add", dev, "type", t];
    if (type !== "auto") {
      const r = await this.#opts.exec.run(add(type));
      if (r.code !== 0) {
        const hint = r.code > 0 && UNSUPPORTED_TYPE.test(r.stderr)
          ? ` (this kernel has no ${type} link type: set deviceType to auto to fall back, or to ` +
            `${type === "dummy" ? "bridge" : "dummy"})`
          : "";
        throw new CommandError(add(type), r.code, r.stderr.trim() + hint);
      }
      this.#type = type;
      this.#log.info("Created device", { device: dev, type });
      return;
    }
    const dummy = add("dummy");
    const r = await this.#opts.exec.run(dummy);
    if (r.code === 0) {
      this.#type = "dummy";
      this.#log.info("Created device", { device: dev, type: "dummy" });
      return;
    }
    if (r.code < 0 || !UNSUPPORTED_TYPE.test(r.stderr)) {
      throw new CommandError(dummy, r.code, r.stderr);
    }
    if (!this.#warnedFallback) {
      this.#warnedFallback = true;
      this.#log.warn("Kernel has no dummy link type, using a bridge for the VIP device", {
        device: dev,
        stderr: r.stderr.trim(),
      });
    }
    await mustRun(this.#opts.exec, add("bridge"));
    this.#type = "bridge";
    this.#log.info("Created device", { device: dev, type: "bridge" });
  }

  /**
   * Makes the device hold exactly the wanted /32 addresses: `vips` plus `extra` (e.g. the DNS
   * listen address). Reads the actual addresses back, plans the difference and applies it
   * with as few `ip -batch -` processes as possible (one per {@linkcode DEFAULT_BATCH_LINES}).
   * Only /32s inside the subnet or put there by this instance are removed, except at the
   * first reconcile on a device taken back from an earlier run: every unwanted /32 it left
   * goes then (a `dnsListen` address no longer configured). Other addresses are never touched.
   * Returns the applied plan.
   *
   * Repairs the device on the way: one deleted behind our back is created again, one set down
   * is set up (both with a warning). Addresses no longer wanted stay for `retainRemovedMs`.
   * @throws {TypeError} when a wanted address is not IPv4 (nothing is changed)
   * @throws {CommandError} when `ip` fails (its stderr is in the message)
   */
  reconcile(
    vips: ReadonlySet<string>,
    extra: ReadonlySet<string> = new Set(),
  ): Promise<AddressPlan> {
    const desired = new Set<string>();
    for (const set of [vips, extra]) {
      for (const ip of set) {
        if (parseIpv4(ip) === null) {
          return Promise.reject(
            new TypeError(`Cannot put address "${ip}" on the device: not an IPv4 address`),
          );
        }
        desired.add(ip);
      }
    }
    return this.#serial(async () => {
      this.#lastWanted = { vips, extra };
      this.#stopIfAborted("before reading the device");
      const actual = await this.#readRepairing();
      const now = this.#now();
      const held = retainRemoved(
        desired,
        this.#owned,
        this.#retained,
        now,
        this.#opts.retainRemovedMs ?? 0,
      );
      this.#retained = held.retained;
      this.#scheduleRelease(held.next === null ? null : held.next - now);
      // A device taken back from an earlier run: whatever /32 it left and nobody wants goes.
      const sweep = this.#sweep;
      const plan = planAddresses(held.desired, actual, this.#subnet, this.#owned, { sweep });
      const left = plan.remove.filter((ip) => !this.#owned.has(ip) && !inCidr(ip, this.#subnet));
      await this.#apply(plan, true);
      this.#sweep = false;
      if (sweep && left.length > 0) {
        this.#log.info("Removed addresses outside the subnet that an earlier run left", {
          device: this.#opts.device,
          addresses: left.join(","),
        });
      }
      for (const ip of plan.remove) this.#owned.delete(ip);
      for (const ip of held.desired) this.#owned.add(ip);
      this.#addresses?.set(undefined, this.#owned.size);
      if (plan.add.length + plan.remove.length > 0) {
        this.#log.info("Reconciled device addresses", {
          device: this.#opts.device,
          added: plan.add.length,
          removed: plan.remove.length,
          total: held.desired.size,
          ...(held.retained.size > 0 ? { heldForDrain: held.retained.size } : {}),
        });
      }
      return plan;
    });
  }

  /** Reruns the last reconcile once the earliest held address is due (`delayMs`). */
  #scheduleRelease(delayMs: number | null): void {
    if (this.#releaseTimer !== undefined) this.#timers.clearTimeout(this.#releaseTimer);
    this.#releaseTimer = undefined;
    if (delayMs === null) return;
    this.#releaseTimer = this.#timers.setTimeout(() => {
      this.#releaseTimer = undefined;
      const last = this.#lastWanted;
      if (last === null || !this.#ensured || this.#opts.signal?.aborted) return;
      this.reconcile(last.vips, last.extra).catch((err) =>
        this.#log.error("Cannot remove the addresses of removed services", { error: err })
      );
    }, Math.max(0, delayMs));
  }

  /** The device's addresses; creates the device again or sets it up when that was undone. */
  async #readRepairing(): Promise<DeviceAddress[]> {
    const dev = this.#opts.device;
    let shown = await this.#read();
    // Deleted, or deleted and replaced by someone else's device of the same name: ensure again
    // decides whose it is (a foreign one is adopted as is and never deleted by us).
    const redo = shown === null
      ? "The device was deleted; creating it again"
      : this.#ifindex !== null && shown.ifindex !== null && shown.ifindex !== this.#ifindex
      ? "The device was replaced by another one; checking whose it is"
      : null;
    if (redo !== null) {
      const replaced = shown === null ? {} : { ifindex: shown.ifindex, was: this.#ifindex };
      this.#log.warn(redo, { device: dev, ...replaced });
      await this.#ensure();
      shown = await this.#read();
      if (shown === null) {
        throw new CommandError(["ip", "-json", "addr", "show", "dev", dev], 1, "device missing");
      }
    } else if (!shown!.up) {
      this.#log.warn("The device was set down; setting it up", { device: dev });
      await mustRun(this.#opts.exec, ["ip", "link", "set", "dev", dev, "up"]);
    }
    this.#ifindex ??= shown!.ifindex;
    return shown!.addresses;
  }

  /** The device's addresses, whether it is up and its index; null when it does not exist. */
  async #read(): Promise<AddrShow | null> {
    const argv = ["ip", "-json", "addr", "show", "dev", this.#opts.device];
    const r = await this.#opts.exec.run(argv);
    if (r.code > 0 && NO_DEVICE.test(r.stderr)) return null;
    if (r.code !== 0) throw new CommandError(argv, r.code, r.stderr);
    try {
      return parseAddrShow(r.stdout);
    } catch (err) {
      throw new CommandError(argv, 0, `unexpected output: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /**
   * Runs `plan` as `ip -batch -` processes, recording each one's addresses as ours (or no
   * longer ours) as soon as it succeeded, so a pass that stops or fails half-way leaves no
   * address of ours unrecorded. `stoppable`: a reconcile stops between batches once the
   * agent's signal aborts; teardown runs to the end.
   */
  async #apply(plan: AddressPlan, stoppable: boolean): Promise<void> {
    const batches = addressBatches(
      plan,
      this.#opts.device,
      this.#opts.batchLines ?? DEFAULT_BATCH_LINES,
    );
    for (const [i, b] of batches.entries()) {
      if (stoppable) this.#stopIfAborted(`${i} of ${batches.length} address batches applied`);
      await mustRun(this.#opts.exec, ["ip", "-batch", "-"], {
        stdin: b.lines.join("\n") + "\n",
      });
      for (const ip of b.remove) this.#owned.delete(ip);
      for (const ip of b.add) this.#owned.add(ip);
      this.#addresses?.set(undefined, this.#owned.size);
    }
  }

  /** @throws {ReconcileStoppedError} once the agent's signal has aborted */
  #stopIfAborted(where: string): void {
    if (!this.#opts.signal?.aborted) return;
    throw new ReconcileStoppedError(
      `Stopped reconciling the addresses of device "${this.#opts.device}": the agent is ` +
        `stopping (${where})`,
    );
  }

  /**
   * Undoes what this instance did: deletes the device if we created it (its addresses go with
   * it) unless `keepDeviceOnExit`; otherwise removes only the addresses we added.
   * Safe to call when {@linkcode ensure} never ran or failed.
   * @throws {CommandError} when `ip` fails
   */
  teardown(): Promise<void> {
    this.#scheduleRelease(null);
    return this.#serial(async () => {
      try {
        await this.#undo();
      } finally {
        // The claim goes even when `ip` failed: this instance is done with the device.
        this.#claim?.release();
        this.#claim = null;
      }
    });
  }

  async #undo(): Promise<void> {
    const dev = this.#opts.device;
    this.#scheduleRelease(null);
    this.#retained = new Map();
    if (this.#created && !this.#opts.keepDeviceOnExit) {
      const del = ["ip", "link", "del", "dev", dev];
      const r = await this.#opts.exec.run(del);
      if (r.code !== 0 && !(r.code > 0 && NO_DEVICE.test(r.stderr))) {
        throw new CommandError(del, r.code, r.stderr);
      }
      this.#log.info(r.code === 0 ? "Deleted device" : "Device already gone", { device: dev });
    } else if (this.#ensured && this.#owned.size > 0) {
      const actual = (await this.#read())?.addresses ?? [];
      const remove = actual.filter((a) => a.prefixLen === 32 && this.#owned.has(a.ip))
        .map((a) => a.ip);
      await this.#apply({ add: [], remove }, false);
      this.#log.info("Removed device addresses", { device: dev, removed: remove.length });
    }
    this.#owned.clear();
    this.#created = false;
    this.#sweep = false;
    this.#ensured = false;
    this.#type = null;
    this.#ifindex = null;
    this.#addresses?.set(undefined, 0);
  }
}

/** `linkinfo.info_kind` from `ip -json -details link show` output, or null. */
function linkKind(stdout: string): string | null {
  const kind = firstLink(stdout)?.linkinfo?.info_kind;
  return typeof kind === "string" ? kind : null;
}

/** The fields of `ip -json` link output the shell reads. */
interface LinkJson {
  readonly ifindex?: unknown;
  readonly ifalias?: unknown;
  readonly linkinfo?: { readonly "info_kind"?: unknown };
}

function firstLink(stdout: string): LinkJson | null {
  try {
    return (JSON.parse(stdout) as LinkJson[])[0] ?? null;
  } catch {
    return null;
  }
}

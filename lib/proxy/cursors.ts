// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Round-robin positions in shared memory, one cell per service port, so the proxy threads
 * take turns on one cycle (see `Balancer`'s `cursor` option). The main thread assigns cells;
 * workers receive the assignment with each snapshot.
 * @module
 */
import type { ServiceKey, Snapshot } from "../registry/model.ts";
import type { SharedCursor } from "./balancer.ts";

/** A service port's cell: `[service, port, cell index]`. */
export type CursorSlot = readonly [ServiceKey, number, number];

/** Cells available; service ports beyond this keep a per-thread position. */
export const CURSOR_CELLS = 65_536;

/** The cell of each TCP service port with a VIP, in one `SharedArrayBuffer`. */
export class CursorTable {
  /** The shared cells (send `cells.buffer` to each worker once). */
  readonly cells: Int32Array;
  readonly #slots = new Map<ServiceKey, Map<number, number>>();
  readonly #free: number[] = [];
  #next = 0;

  /** @param capacity number of cells @default CURSOR_CELLS */
  constructor(capacity: number = CURSOR_CELLS) {
    this.cells = new Int32Array(new SharedArrayBuffer(capacity * 4));
  }

  /**
   * Gives every TCP port of every service with a VIP in `snapshot` a cell (kept across
   * snapshots), frees the cells of the others, and returns the assignment.
   */
  assign(snapshot: Snapshot): CursorSlot[] {
    const out: CursorSlot[] = [];
    const wanted = new Map<ServiceKey, Set<number>>();
    for (const [service, entry] of snapshot.services) {
      if (entry.vip === null) continue;
      for (const p of entry.service.ports) {
        if (p.protocol !== "TCP") continue;
        let ports = wanted.get(service);
        if (!ports) wanted.set(service, ports = new Set());
        ports.add(p.port);
      }
    }
    for (const [service, ports] of this.#slots) {
      for (const [port, cell] of ports) {
        if (wanted.get(service)?.has(port)) continue;
        ports.delete(port);
        this.#free.push(cell);
      }
      if (ports.size === 0) this.#slots.delete(service);
    }
    for (const [service, ports] of wanted) {
      for (const port of ports) {
        let have = this.#slots.get(service);
        let cell = have?.get(port);
        if (cell === undefined) {
          cell = this.#free.pop() ?? (this.#next < this.cells.length ? this.#next++ : -1);
          if (cell < 0) continue; // table full: this service port keeps per-thread positions
          Atomics.store(this.cells, cell, 0);
          if (!have) this.#slots.set(service, have = new Map());
          have.set(port, cell);
        }
        out.push([service, port, cell]);
      }
    }
    return out;
  }

  /** The shared position of a service port, if it has a cell. */
  cursorOf(service: ServiceKey, port: number): SharedCursor | undefined {
    const index = this.#slots.get(service)?.get(port);
    return index === undefined ? undefined : { cells: this.cells, index };
  }
}

/** A worker's view of the assignment it received. */
export function cursorLookup(
  cells: Int32Array,
  slots: readonly CursorSlot[],
): (service: ServiceKey, port: number) => SharedCursor | undefined {
  const map = new Map<ServiceKey, Map<number, number>>();
  for (const [service, port, index] of slots) {
    let ports = map.get(service);
    if (!ports) map.set(service, ports = new Map());
    ports.set(port, index);
  }
  return (service, port) => {
    const index = map.get(service)?.get(port);
    return index === undefined ? undefined : { cells, index };
  };
}

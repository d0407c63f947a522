// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A set with O(1) add and remove for entries that come and go at the connection rate.
 *
 * Why not a `Set`: V8's `Set` and `Map` tables are rebuilt as entries churn, and a rebuilt
 * table keeps a link to its successor and its old entries. Once a long-lived table sits in
 * the old generation, that chain keeps every entry added since alive through each young-
 * generation GC (scavenge): under short connections every connection's objects were promoted,
 * scavenges took 4–10 ms instead of 0.2 ms, and the proxy's p99 latency doubled
 * (`bench/README.md`, "What we tried"). A removed node here drops its links and its value, so
 * nothing dead keeps anything alive.
 * @module
 */

/** An entry of a {@linkcode LinkedSet}; pass it to {@linkcode LinkedSet.remove}. */
export interface LinkedNode<T> {
  /** The entry, or null once removed. */
  value: T | null;
  prev: LinkedNode<T> | null;
  next: LinkedNode<T> | null;
}

/** Unordered collection of values, each added once, removed through its node. */
export class LinkedSet<T> {
  #head: LinkedNode<T> | null = null;
  #size = 0;

  /** Entries now. */
  get size(): number {
    return this.#size;
  }

  /** Adds `value` and returns its node (for {@linkcode remove}). */
  add(value: T): LinkedNode<T> {
    const node: LinkedNode<T> = { value, prev: null, next: this.#head };
    if (this.#head !== null) this.#head.prev = node;
    this.#head = node;
    this.#size++;
    return node;
  }

  /** Removes the node's entry (idempotent). */
  remove(node: LinkedNode<T>): void {
    if (node.value === null) return;
    if (node.prev !== null) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next !== null) node.next.prev = node.prev;
    node.prev = node.next = null;
    node.value = null;
    this.#size--;
  }

  /**
   * The entries at the time of the call, newest first (a copy: entries may be added or
   * removed while iterating; this is for the rare paths such as draining and status).
   */
  [Symbol.iterator](): IterableIterator<T> {
    const out: T[] = [];
    for (let node = this.#head; node !== null; node = node.next) out.push(node.value as T);
    return out.values();
  }
}

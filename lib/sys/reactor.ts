// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * An epoll(7) event loop driven from JavaScript through FFI: the core of the proxy's `epoll`
 * engine (`tcp.ts` builds sockets on it).
 *
 * Why: every read, write, accept and connect of a `Deno.TcpConn` is an async op of Deno's
 * runtime. Measured on short HTTP connections through a relay, that runtime work cost about
 * 79 µs of CPU per connection against HAProxy's 44 µs; a relay making the same system calls
 * synchronously on non-blocking sockets, woken by epoll, needed 40 µs and matched HAProxy's
 * rate on one thread (`bench/README.md`, "What we tried").
 *
 * How: sockets are registered edge-triggered with a token (never the fd: a closed fd number is
 * reused at once, and a stale event must not reach the new socket). The token is a slot in an
 * array plus a generation, both in the event's 64-bit data: a slot is reused, a generation
 * only after 2^32 reuses, and events of an older generation are dropped. (A `Map` from ever-
 * growing tokens to sources did the same, but a `Map` that churns at the connection rate keeps
 * every entry alive through young-generation GCs once its table is old: see
 * `lib/proxy/linked_set.ts`.)
 *
 * Waiting: under load the loop polls with a zero timeout on the JavaScript thread,
 * {@linkcode SYNC_ROUNDS} rounds in a row, letting promise continuations run between rounds.
 * When a poll finds nothing (or after those rounds) while traffic flows, it lets Deno's event
 * loop turn once (timers, Deno's own I/O; at most once per millisecond, as each turn costs a
 * message and its promises) and then waits in `epoll_wait` on the JavaScript thread for at
 * most 1 ms; once that finds nothing, it waits on one of Deno's blocking threads
 * for as long as needed, so an idle proxy never holds up the thread. The short waits on the
 * thread exist because waking a blocking thread that then wakes the JavaScript thread cost
 * about 5 µs of CPU per connection on two proxy threads (`bench/README.md`); the price is that
 * other work on the thread (timers, DNS on the main thread) may start up to about 2 ms later
 * while the proxy is busy. Deadlines ({@linkcode Reactor.after}) become the wait's timeout, so a
 * dial timeout costs no JavaScript timer. {@linkcode Reactor.close} wakes a wait through an
 * eventfd(2).
 *
 * Linux only; struct layouts for x86_64 (packed `epoll_event`) and aarch64 and others.
 * @module
 */
import { errno, type Libc } from "./libc.ts";
import { Errno, sysError } from "./sockaddr.ts";

/** epoll event bits (Linux). */
export const EPOLLIN = 0x001;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLRDHUP = 0x2000;
/** Edge-triggered: one event per change of readiness. */
export const EPOLLET = 0x80000000;
/** Bits after which a read makes progress: data, the peer's EOF, or an error to report. */
export const READABLE = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
/** Bits after which a write makes progress (or fails). */
export const WRITABLE = EPOLLOUT | EPOLLHUP | EPOLLERR;

const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
/** `struct epoll_event` is packed (12 bytes) on x86_64 only; 16 bytes with padding elsewhere. */
const PACKED = Deno.build.arch === "x86_64";
const EVENT_SIZE = PACKED ? 12 : 16;
const DATA_OFFSET = PACKED ? 4 : 8;
/** Events taken per `epoll_wait` call at most. */
const MAX_EVENTS = 256;
/** Zero-timeout polls on the JavaScript thread in a row before a wait that yields. */
export const SYNC_ROUNDS = 8;
/** The longest wait made on the JavaScript thread (while traffic flows), ms. */
const SPIN_MS = 1;
/** The token of the wake-up eventfd. */
const WAKE_TOKEN = 0;

/** Something registered with the reactor: told the epoll event bits of each readiness change. */
export interface IoSource {
  onIo(events: number): void;
}

/** A pending deadline ({@linkcode Reactor.after}); pass it to {@linkcode Reactor.cancel}. */
export interface Deadline {
  readonly at: number;
  readonly fn: () => void;
  prev: Deadline | null;
  next: Deadline | null;
  list: DeadlineList | null;
}

/** Deadlines of one delay: added in increasing order, so a FIFO. */
interface DeadlineList {
  head: Deadline | null;
  tail: Deadline | null;
}

/** The epoll event loop of one thread. Create with {@linkcode Reactor.open}. */
export class Reactor {
  readonly #c: Libc;
  readonly #ep: number;
  readonly #wake: number;
  /** Registered sources by slot (slot 0 is the wake-up eventfd's); null when free. */
  readonly #slots: (IoSource | null)[] = [null];
  /** Generation of each slot, bumped when it is freed. */
  #gens = new Uint32Array(64);
  /** Free slots (reused last-freed first). */
  readonly #free: number[] = [];
  #size = 0;
  /** For {@linkcode Reactor.#yieldToEventLoop}; made on first use, closed on release. */
  #channel: MessageChannel | null = null;
  #resume: (() => void) | null = null;
  /** When the loop last let Deno's event loop turn while busy (`performance.now()`). */
  #lastYield = 0;
  readonly #ctl = new Uint8Array(EVENT_SIZE);
  readonly #ctlView = new DataView(this.#ctl.buffer);
  readonly #events = new Uint8Array(EVENT_SIZE * MAX_EVENTS);
  readonly #eventsView = new DataView(this.#events.buffer);
  readonly #wakeBuf = new BigUint64Array([1n]);
  /** Deadline lists by delay (few: one per distinct timeout), and the same as an array. */
  readonly #deadlines = new Map<number, DeadlineList>();
  readonly #lists: DeadlineList[] = [];
  /** Deadlines pending: with none, a turn of the loop looks at no list. */
  #pending = 0;
  #loop: Promise<void> | null = null;
  #closed = false;
  #released = false;
  /** When the blocking wait in flight returns by itself (NaN: none in flight). */
  #waitingUntil = Number.NaN;
  /** Reports a failed `epoll_wait` (the loop keeps going). */
  readonly #onError: (err: Error) => void;

  private constructor(c: Libc, ep: number, wake: number, onError: (err: Error) => void) {
    this.#c = c;
    this.#ep = ep;
    this.#wake = wake;
    this.#onError = onError;
    this.#control(EPOLL_CTL_ADD, wake, EPOLLIN, WAKE_TOKEN, 0);
  }

  /**
   * A new event loop on the C library `c` (it starts with the first registration).
   * @throws {Error} when epoll or eventfd cannot be created (out of file descriptors)
   */
  static open(c: Libc, onError: (err: Error) => void = () => {}): Reactor {
    const ep = c.epoll_create1(O_CLOEXEC);
    if (ep < 0) throw sysError(c, "epoll_create1()");
    const wake = c.eventfd(0, O_CLOEXEC | O_NONBLOCK);
    if (wake < 0) {
      const err = sysError(c, "eventfd()");
      c.close(ep);
      throw err;
    }
    return new Reactor(c, ep, wake, onError);
  }

  /** The C library the reactor calls (its sockets use the same). */
  get libc(): Libc {
    return this.#c;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Registered sources (sockets and listeners) now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Registers `fd` for `events` (add {@linkcode EPOLLET} for edge-triggered) and returns its
   * token. The kernel drops the registration when the fd is closed; call {@linkcode forget}
   * then so no late event of this batch reaches `source`.
   * @throws {Error} from `epoll_ctl` (e.g. out of memory)
   */
  add(fd: number, events: number, source: IoSource): number {
    if (this.#closed) throw new Deno.errors.BadResource("The event loop is closed");
    const slot = this.#free.pop() ?? this.#slots.length;
    if (slot >= this.#gens.length) {
      const gens = new Uint32Array(this.#gens.length * 2);
      gens.set(this.#gens);
      this.#gens = gens;
    }
    try {
      this.#control(EPOLL_CTL_ADD, fd, events, slot, this.#gens[slot]!);
    } catch (err) {
      if (slot < this.#slots.length) this.#free.push(slot);
      throw err;
    }
    this.#slots[slot] = source;
    this.#size++;
    this.#loop ??= this.#run();
    return slot;
  }

  /**
   * Stops delivering events to the source of `token` (its fd is being closed). Call it once:
   * the token may name another socket afterwards.
   */
  forget(token: number): void {
    if (this.#slots[token] == null) return;
    this.#slots[token] = null;
    this.#gens[token] = this.#gens[token]! + 1; // wraps: a Uint32Array
    this.#free.push(token);
    this.#size--;
  }

  /**
   * Unregisters `fd` (registered with `token`) while it stays open, e.g. to pause a socket:
   * {@linkcode forget} alone leaves the kernel's registration, which keeps reporting a
   * level-triggered socket and makes a later {@linkcode add} of it fail (`EEXIST`).
   */
  remove(fd: number, token: number): void {
    if (this.#slots[token] == null) return;
    this.#c.epoll_ctl(this.#ep, EPOLL_CTL_DEL, fd, this.#ctl);
    this.forget(token);
  }

  /**
   * Calls `fn` once `ms` milliseconds have passed (checked on each turn of the loop). Every
   * deadline of one delay shares a FIFO, so adding and cancelling are O(1) and no JavaScript
   * timer is created.
   */
  after(ms: number, fn: () => void): Deadline {
    let list = this.#deadlines.get(ms);
    if (!list) {
      this.#deadlines.set(ms, list = { head: null, tail: null });
      this.#lists.push(list);
    }
    const d: Deadline = { at: performance.now() + ms, fn, prev: list.tail, next: null, list };
    if (list.tail) list.tail.next = d;
    else list.head = d;
    list.tail = d;
    this.#pending++;
    // A wait in flight that would sleep past this deadline is woken to shorten its timeout.
    if (d.at < this.#waitingUntil) this.#signal();
    return d;
  }

  /** Cancels a deadline (idempotent). */
  cancel(d: Deadline): void {
    const list = d.list;
    if (list === null) return;
    if (d.prev) d.prev.next = d.next;
    else list.head = d.next;
    if (d.next) d.next.prev = d.prev;
    else list.tail = d.prev;
    d.prev = d.next = null;
    d.list = null;
    this.#pending--;
  }

  /**
   * Stops the loop and closes the epoll and eventfd descriptors; resolves once the loop has
   * ended. Registered sockets are not closed here (their owners close them). Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#signal();
      // Dropped unrun; a later cancel() of one of them is then a no-op.
      for (const list of this.#lists) {
        for (let d = list.head; d !== null; d = d.next) d.list = null;
      }
      this.#deadlines.clear();
      this.#lists.length = 0;
      this.#pending = 0;
    }
    if (this.#loop) await this.#loop;
    else this.#release();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#c.close(this.#wake);
    this.#c.close(this.#ep);
    this.#channel?.port1.close();
    this.#channel?.port2.close();
    this.#resume?.();
    this.#slots.length = 1;
    this.#free.length = 0;
    this.#size = 0;
  }

  #control(op: number, fd: number, events: number, slot: number, gen: number): void {
    const v = this.#ctlView;
    v.setUint32(0, events >>> 0, true);
    v.setUint32(DATA_OFFSET, slot, true);
    v.setUint32(DATA_OFFSET + 4, gen, true);
    if (this.#c.epoll_ctl(this.#ep, op, fd, this.#ctl) !== 0) {
      throw sysError(this.#c, "epoll_ctl()");
    }
  }

  #signal(): void {
    this.#c.write(this.#wake, this.#wakeBuf, 8n);
  }

  /** Milliseconds until the earliest deadline (rounded up), or -1 when there is none. */
  #timeout(now: number): number {
    if (this.#pending === 0) return -1;
    let first = Infinity;
    for (let i = 0; i < this.#lists.length; i++) {
      const head = this.#lists[i]!.head;
      if (head !== null && head.at < first) first = head.at;
    }
    return first === Infinity ? -1 : Math.max(0, Math.ceil(first - now));
  }

  /** Runs every deadline due by `now`, earliest first (across delays). */
  #expire(now: number): void {
    for (;;) {
      let due: Deadline | null = null;
      for (let i = 0; i < this.#lists.length; i++) {
        const head = this.#lists[i]!.head;
        if (head !== null && head.at <= now && (due === null || head.at < due.at)) due = head;
      }
      if (due === null) return;
      this.cancel(due);
      try {
        due.fn();
      } catch (err) {
        this.#onError(err as Error);
      }
    }
  }

  async #run(): Promise<void> {
    const c = this.#c;
    let rounds = 0;
    // Whether the last wait found events: while traffic flows, waits are made on this thread.
    let busy = false;
    // Never dispatch inside add(): its caller has not set up its waiters yet.
    await null;
    try {
      while (!this.#closed) {
        let n = rounds < SYNC_ROUNDS ? c.epoll_wait(this.#ep, this.#events, MAX_EVENTS, 0) : 0;
        if (n > 0) {
          rounds++;
        } else {
          if (n < 0 && errno(c) !== Errno.EINTR) this.#onError(sysError(c, "epoll_wait()"));
          rounds = 0;
          if (busy) {
            // Let Deno's event loop run once (timers, its own I/O, every pending promise
            // continuation), then wait here for at most SPIN_MS: waking this thread costs one
            // context switch, a wait on a blocking thread two thread hops.
            // At most once per SPIN_MS: each yield is a message with its event and promises
            // (most of what the loop allocated on keep-alive traffic).
            const now = performance.now();
            if (now - this.#lastYield >= SPIN_MS) {
              this.#lastYield = now;
              await this.#yieldToEventLoop();
              if (this.#closed) break;
            }
            const timeout = this.#timeout(performance.now());
            n = c.epoll_wait(
              this.#ep,
              this.#events,
              MAX_EVENTS,
              timeout < 0 || timeout > SPIN_MS ? SPIN_MS : timeout,
            );
          }
          if (n <= 0) {
            const now = performance.now();
            const timeout = this.#timeout(now);
            this.#waitingUntil = timeout < 0 ? Infinity : now + timeout;
            n = await c.epollWaitBlocking(this.#ep, this.#events, MAX_EVENTS, timeout);
            this.#waitingUntil = Number.NaN;
            if (this.#closed) break;
          }
          busy = n > 0;
        }
        if (n > 0) this.#dispatch(n);
        if (this.#pending > 0) this.#expire(performance.now());
        // Let the continuations of the promises settled above (a dial's, say) run before the
        // next poll: that poll may find nothing and wait on this thread, and a continuation
        // left queued would then wait with it (up to SPIN_MS) while its connection stalls.
        if (n > 0) await null;
      }
    } finally {
      this.#release();
    }
  }

  /**
   * Resolves on a later turn of Deno's event loop (a message to itself: a timer of 0 ms
   * waits for the timer wheel, about 2 ms). By then every promise continuation has run.
   */
  #yieldToEventLoop(): Promise<void> {
    let ch = this.#channel;
    if (ch === null) {
      ch = this.#channel = new MessageChannel();
      ch.port1.onmessage = () => {
        const resume = this.#resume;
        this.#resume = null;
        resume?.();
      };
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#resume = resolve;
    ch.port2.postMessage(null);
    return promise;
  }

  #dispatch(n: number): void {
    const v = this.#eventsView;
    for (let i = 0; i < n; i++) {
      const off = i * EVENT_SIZE;
      const events = v.getUint32(off, true);
      const slot = v.getUint32(off + DATA_OFFSET, true);
      if (slot === WAKE_TOKEN) {
        this.#c.read(this.#wake, this.#wakeBuf, 8n);
        this.#wakeBuf[0] = 1n;
        continue;
      }
      const source = this.#slots[slot];
      // Freed earlier in this batch, or since the wait returned (and maybe reused).
      if (source == null || this.#gens[slot] !== v.getUint32(off + DATA_OFFSET + 4, true)) {
        continue;
      }
      try {
        source.onIo(events);
      } catch (err) {
        this.#onError(err as Error);
      }
    }
  }
}

// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The socket `sd_notify(3)` notifications leave on: an `AF_UNIX` `SOCK_DGRAM` socket, through
 * FFI on the C library because Deno has no stable client for Unix datagram sockets (and none
 * at all for abstract names). The addresses and texts are built by the pure `notify.ts`.
 * @module
 */
import { errno, type Libc } from "./libc.ts";
import { AF_UNIX, type NotifyAddress, sockaddrUn } from "./notify.ts";
import { Errno, errnoError, SOCK_CLOEXEC, sysError } from "./sockaddr.ts";

const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
/** `sendto(2)` flags: no `SIGPIPE`, and never wait for room in the receiver's queue. */
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;

const encoder = new TextEncoder();

/**
 * An unconnected Unix datagram socket that sends each notification to one address, as
 * libsystemd does. Sends never block: the agent's event loop is what the watchdog vouches
 * for, so when the receiver's queue is full (`net.unix.max_dgram_qlen` datagrams that systemd
 * has not read yet) {@linkcode send} says so instead of stalling, and the caller retries.
 */
export class NotifySocket {
  readonly #c: Libc;
  readonly #fd: number;
  readonly #to: Uint8Array;
  #closed = false;

  private constructor(c: Libc, fd: number, to: Uint8Array) {
    this.#c = c;
    this.#fd = fd;
    this.#to = to;
  }

  /**
   * A socket that sends to `address`.
   * @throws {RangeError} when the address does not fit `sun_path`; the `socket(2)` error as
   *   an `Error` naming the call (`EMFILE`, `EAFNOSUPPORT` under `RestrictAddressFamilies=`)
   */
  static open(c: Libc, address: NotifyAddress): NotifySocket {
    const to = sockaddrUn(address);
    const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw sysError(c, "socket(AF_UNIX, SOCK_DGRAM)");
    return new NotifySocket(c, fd, to);
  }

  /**
   * Sends `message` as one datagram.
   * @returns true when it was sent, false when the receiver's queue is full (`EAGAIN`: nothing
   *   was sent; try again later)
   * @throws the `sendto(2)` error, as the `Deno.errors` class Deno's sockets use where there
   *   is one (`ConnectionRefused`: nobody bound the name; `NotFound`: no such socket file;
   *   `PermissionDenied`)
   * @throws {TypeError} after {@linkcode close}
   */
  send(message: string): boolean {
    if (this.#closed) throw new TypeError("Cannot send a notification: the socket is closed");
    const bytes = encoder.encode(message);
    const n = this.#c.sendto(
      this.#fd,
      bytes,
      BigInt(bytes.length),
      MSG_DONTWAIT | MSG_NOSIGNAL,
      this.#to,
      this.#to.length,
    );
    if (n >= 0n) return true;
    const code = errno(this.#c);
    if (code === Errno.EAGAIN) return false;
    throw errnoError(code, "sendto()");
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#c.close(this.#fd);
  }
}

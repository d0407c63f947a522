// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * How every `ctl` command reaches the agent: the `--socket` and `--timeout` flags, the
 * connection, and sending requests whose replies all settle.
 * @module
 */
import { DEFAULTS } from "../config/mod.ts";
import { buildMessage, ControlClient, type Reply } from "../control/mod.ts";
import type { FlagSpec, ParsedArgs } from "./args.ts";
import { parseTimeoutMs } from "./duration.ts";
import { type CliIo, UsageError } from "./io.ts";
import { waitApplied, waitProblem } from "./wait.ts";

/** Environment variable naming the control socket for `ctl`. */
export const SOCKET_ENV = "EDGEMESH_SOCKET";

/**
 * Default `ctl --timeout`: how long `ctl` waits while the agent sends nothing, 60 s.
 *
 * Why this long, and why idle rather than total: the agent replies to a change only once it
 * is durable (an fdatasync'd journal line per group-committed batch, and now and then a full
 * checkpoint of the state file with fsync and rename), and a query waits behind every change
 * sent before it. On a slow ARM device writing to an SD card or eMMC one fsync can stall for
 * seconds, tens under write-back pressure. The timer restarts on every byte received, so an
 * `apply` of thousands of objects (or a large `get`) is bounded per reply, never in total: it
 * keeps going as long as replies keep coming, while a peer that accepted the connection and
 * went silent ends within a minute. `--timeout 0` waits forever.
 */
export const DEFAULT_CTL_TIMEOUT_MS = 60_000;

/** Flags every `ctl` command accepts (before or after the subcommand). */
export const CONNECTION_FLAGS: Readonly<Record<string, FlagSpec>> = {
  socket: { type: "string", short: "s" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
};

/** The connection flags that take a value, as written before the subcommand. */
export const CONNECTION_VALUE_FLAGS: ReadonlySet<string> = new Set(["-s", "--socket", "--timeout"]);

/** Where `ctl` finds the agent and how long it waits for replies. */
export interface CtlTarget {
  readonly socket: string;
  /** Idle timeout in milliseconds; 0 waits forever. */
  readonly timeoutMs: number;
}

/**
 * The target from a subcommand's flags, else the flags before it (`ctl --socket X get`), else
 * `$EDGEMESH_SOCKET` and the defaults.
 * @throws {UsageError} when `--timeout` is not a duration
 */
export function resolveTarget(
  values: ParsedArgs["values"],
  top: ParsedArgs["values"],
  io: CliIo,
  command: string,
): CtlTarget {
  const pick = (key: string) =>
    (values[key] as string | undefined) ?? (top[key] as string | undefined);
  const socket = pick("socket") ?? io.env(SOCKET_ENV) ?? DEFAULTS.controlSocket;
  const timeout = pick("timeout");
  if (timeout === undefined) return { socket, timeoutMs: DEFAULT_CTL_TIMEOUT_MS };
  try {
    return { socket, timeoutMs: parseTimeoutMs(timeout) };
  } catch (err) {
    throw new UsageError(`flag --timeout: ${(err as Error).message}`, command);
  }
}

/** Connects, runs `fn`, and closes the connection however `fn` ends. */
export async function withClient<T>(
  target: CtlTarget,
  fn: (c: ControlClient) => Promise<T>,
): Promise<T> {
  const client = await ControlClient.connect(target.socket, { idleTimeoutMs: target.timeoutMs });
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof Deno.errors.TimedOut) {
      throw new Deno.errors.TimedOut(`${err.message} (see --timeout)`, { cause: err });
    }
    throw err;
  } finally {
    await client.close();
  }
}

/**
 * Sends `messages` pipelined; the caller awaits the replies in order. When one fails they all
 * fail together, and the caller stops at the first: the others are marked handled here so
 * they do not become unhandled rejections.
 */
export function sendAll(client: ControlClient, messages: readonly unknown[]): Promise<Reply>[] {
  return messages.map((m) => {
    const reply = client.send(m);
    reply.catch(() => {});
    return reply;
  });
}

/**
 * Sends one query and returns the content of its successful reply.
 * @throws {Error} the agent's error when the reply is not ok
 */
export async function query(target: CtlTarget, resource: string): Promise<unknown> {
  const reply = await withClient(
    target,
    (c) => c.send(buildMessage({ operation: "query", resource })),
  );
  if (!reply.ok) throw new Error(reply.error);
  return reply.content;
}

/**
 * `--wait`: waits on `client` until the changes it carried are live (lib/cli/wait.ts), for at
 * most the `--timeout` value in total, `services` (`namespace/name`) with every listener open;
 * prints why not and returns false when they are not.
 */
export async function waitLive(
  client: ControlClient,
  target: CtlTarget,
  io: CliIo,
  services: ReadonlySet<string> = new Set(),
): Promise<boolean> {
  const problem = waitProblem(
    await waitApplied(client, { timeoutMs: target.timeoutMs, services }),
    target.timeoutMs,
  );
  if (problem !== null) io.stderr(problem + "\n");
  return problem === null;
}

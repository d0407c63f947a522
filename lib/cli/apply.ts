// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `edgemesh ctl apply -f FILE [-f FILE…]`: every file is read and checked before anything is
 * sent, so a file that cannot be read or parsed, or an object outside the `-n` namespace,
 * changes nothing; then every object of every file is sent, in order, on one connection. A
 * document that parses but is no object the agent takes (no kind, …) is reported and skipped
 * (lib/cli/manifest.ts); the others are still sent. Every line about a document starts with its
 * file (`a.yaml: document 3: …`).
 * @module
 */
import { buildMessage, ConnectionLostError, formatResource, type Reply } from "../control/mod.ts";
import { type ParsedArgs, parseFlags } from "./args.ts";
import { CONNECTION_FLAGS, resolveTarget, sendAll, waitLive, withClient } from "./connection.ts";
import { HELP } from "./help.ts";
import { type CliIo, UsageError } from "./io.ts";
import {
  type ManifestItem,
  type ManifestObject,
  ManifestSyntaxError,
  parseManifests,
} from "./manifest.ts";

const COMMAND = "edgemesh ctl apply";

/** One `-f` argument, read and parsed. */
interface Source {
  /** The path as given, or `stdin`: the prefix of this file's lines on stderr. */
  readonly name: string;
  /** How error messages name it: `"path"`, or `stdin`. */
  readonly quoted: string;
  readonly items: readonly ManifestItem[];
}

/**
 * Runs `edgemesh ctl apply <args>`; `top` are the flags given before `apply`. Returns the exit
 * status: 1 when any object failed or was refused.
 */
export async function apply(
  args: readonly string[],
  io: CliIo,
  top: ParsedArgs["values"],
): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      ...CONNECTION_FLAGS,
      filename: { type: "string", short: "f", multiple: true },
      namespace: { type: "string", short: "n" },
      wait: { type: "boolean" },
    },
    COMMAND,
    0,
  );
  if (values.help) {
    io.stdout(HELP[COMMAND]!);
    return 0;
  }
  const files = (values.filename as string[] | undefined) ?? [];
  if (files.length === 0) throw new UsageError("apply needs -f FILE or -f -", COMMAND);
  if (files.filter((f) => f === "-").length > 1) {
    throw new UsageError("-f - (standard input) can be given only once", COMMAND);
  }
  const target = resolveTarget(values, top, io, COMMAND);
  const namespace = values.namespace as string | undefined;

  const sources: Source[] = [];
  for (const file of files) {
    try {
      sources.push(await readSource(file, io, namespace));
    } catch (err) {
      if (!(err instanceof UnparsedSource)) throw err;
      io.stderr(`${err.message}\n`);
      return 1;
    }
  }

  // kubectl's rule: -n never moves an object that names its own namespace elsewhere.
  const refused = namespace === undefined
    ? []
    : sources.flatMap((s) =>
      s.items.flatMap((item) =>
        item.ok && outsideNamespace(item.object, namespace)
          ? [
            `${objectPrefix(s, item)}the namespace from the provided object ` +
            `${JSON.stringify(item.object.namespace)} does not match the namespace ` +
            `${JSON.stringify(namespace)}`,
          ]
          : []
      )
    );
  if (refused.length > 0) {
    for (const line of refused) io.stderr(line + "\n");
    return 1;
  }

  if (sources.every((s) => s.items.length === 0)) {
    io.stderr(`edgemesh: no objects in ${sources.map((s) => s.quoted).join(", ")}\n`);
    return 1;
  }

  const objects = sources.flatMap((s) => s.items.flatMap((i) => i.ok ? [i.object] : []));
  let failed = 0;
  let answered = 0;
  /** A reply, or the connection's failure with how far the apply got. */
  const replyTo = async (reply: Promise<Reply>): Promise<Reply> => {
    try {
      const r = await reply;
      answered++;
      return r;
    } catch (err) {
      throw progressError(err, answered, objects.length);
    }
  };
  /** Prints one line per item of every file, in order, awaiting each object's reply. */
  const report = async (replies: readonly Promise<Reply>[]) => {
    let n = 0;
    for (const s of sources) {
      for (const item of s.items) {
        if (!item.ok) {
          failed++;
          io.stderr(`${s.name}: ${item.label}: ${item.error}\n`);
          continue;
        }
        const reply = await replyTo(replies[n++]!);
        // kubectl's words: an object the agent already held as sent is `unchanged`.
        if (reply.ok) io.stdout(`${item.object.label} ${appliedWord(reply)}\n`);
        else {
          failed++;
          io.stderr(`${objectPrefix(s, item)}${reply.error}\n`);
        }
      }
    }
  };
  if (objects.length === 0) await report([]);
  else {
    // Send everything first (pipelined), then read the replies in order.
    await withClient(target, async (client) => {
      await report(sendAll(
        client,
        objects.map((o) =>
          buildMessage({
            operation: "update",
            resource: formatResource(o.namespace, o.type, o.name),
            content: o.content,
          })
        ),
      ));
      if (values.wait !== true) return;
      // A Service's listeners, and those of the service an Endpoints object belongs to.
      const services = new Set(
        objects.filter((o) => o.type === "service" || o.type === "endpoints")
          .map((o) => `${o.namespace}/${o.name}`),
      );
      if (!(await waitLive(client, target, io, services))) failed++;
    });
  }
  return failed > 0 ? 1 : 0;
}

/**
 * How `ctl apply` reports an object the agent accepted, as kubectl does: `unchanged` when the
 * reply says the agent already held it as sent (nothing was written), else `configured`
 * (agents from before `unchanged` always get `configured`).
 */
function appliedWord(reply: Reply): "configured" | "unchanged" {
  return reply.unchanged === true ? "unchanged" : "configured";
}

/**
 * `err` (the connection failed: the agent stopped or crashed mid-apply) with how far the apply
 * got, so the operator knows the lines printed are all that is known and what to do. Other
 * failures (an unusable reply, a timeout) pass unchanged.
 */
function progressError(err: unknown, answered: number, total: number): unknown {
  if (!(err instanceof ConnectionLostError)) return err;
  return new Error(
    `${err.message}; ${answered} of ${total} objects were answered (the lines above), the ` +
      "others may or may not be applied: run the same apply again once the agent is back " +
      "(applying is idempotent)",
    { cause: err },
  );
}

/** A `-f` argument that cannot be parsed; the message is the whole line to print. */
class UnparsedSource extends Error {
  override name = "UnparsedSource";
}

/**
 * How a line about an object starts: its file, where in the file it is when the file holds
 * more than one document or a List (`a.yaml: document 3: `), and the object
 * (`service/default/web: `).
 */
function objectPrefix(s: Source, item: Extract<ManifestItem, { ok: true }>): string {
  const where = item.where === "document" ? "" : `${item.where}: `;
  return `${s.name}: ${where}${item.object.label}: `;
}

/**
 * Reads and parses one `-f` argument.
 * @throws {Error} `Cannot read "<path>": <reason>`; `"<path>": <reason>` when parsing fails
 *   for another reason than the text
 * @throws {UnparsedSource} `<path>: [document N: ]Cannot parse manifest: …`
 */
async function readSource(file: string, io: CliIo, namespace?: string): Promise<Source> {
  const name = file === "-" ? "stdin" : file;
  const quoted = file === "-" ? "stdin" : `"${file}"`;
  let text: string;
  try {
    text = file === "-" ? await io.readStdin() : await Deno.readTextFile(file);
  } catch (err) {
    throw new Error(`Cannot read "${file}": ${readError(err)}`, { cause: err });
  }
  try {
    return { name, quoted, items: await parseManifests(text, namespace ?? "default") };
  } catch (err) {
    if (!(err instanceof ManifestSyntaxError)) {
      throw new Error(`${quoted}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    // As every line about a document: its file first, then the document when there are several.
    const where = err.document === null ? "" : `document ${err.document}: `;
    throw new UnparsedSource(`${name}: ${where}${err.message}`, { cause: err });
  }
}

/** Whether `object` names a namespace other than `namespace` (nodes have none). */
function outsideNamespace(object: ManifestObject, namespace: string): boolean {
  return object.type !== "node" && object.namespace !== namespace;
}

/** The reason a manifest could not be read, without the OS error's decoration. */
function readError(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file";
  if (err instanceof Deno.errors.IsADirectory) return "is a directory";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  return err instanceof Error ? err.message : String(err);
}

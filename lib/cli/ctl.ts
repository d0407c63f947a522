// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `edgemesh ctl`: apply, delete, get and status over the control socket.
 * @module
 */
import { DEFAULTS } from "../config/mod.ts";
import {
  buildMessage,
  ControlClient,
  formatResource,
  type Reply,
  type ResourceType,
  type ServiceView,
  type StatusInfo,
} from "../control/mod.ts";
import { type FlagSpec, parseFlags } from "./args.ts";
import { formatServiceTable, formatStatus } from "./format.ts";
import { HELP } from "./help.ts";
import { type CliIo, UsageError } from "./io.ts";
import { objectLabel, parseManifests } from "./manifest.ts";

const SOCKET: Record<string, FlagSpec> = {
  socket: { type: "string", short: "s" },
  help: { type: "boolean", short: "h" },
};

/** Environment variable naming the control socket for `ctl`. */
export const SOCKET_ENV = "EDGEMESH_SOCKET";

/** Kinds `ctl delete` accepts (with kubectl-style aliases) and their message types. */
const DELETE_KINDS: Readonly<Record<string, ResourceType>> = {
  service: "service",
  services: "service",
  svc: "service",
  endpoints: "endpoints",
  ep: "endpoints",
  endpointslice: "endpointslice",
  endpointslices: "endpointslice",
  pod: "pod",
  pods: "pod",
  po: "pod",
  node: "node",
  nodes: "node",
  no: "node",
};

const GET_KINDS: Readonly<Record<string, "services" | "endpoints">> = {
  services: "services",
  service: "services",
  svc: "services",
  endpoints: "endpoints",
  ep: "endpoints",
};

/** Runs `edgemesh ctl <args>`; returns the exit status. */
export async function ctl(args: readonly string[], io: CliIo): Promise<number> {
  // Flags before the subcommand belong to ctl itself.
  let i = 0;
  const leading: string[] = [];
  while (i < args.length && args[i]!.startsWith("-")) {
    const a = args[i]!;
    leading.push(a);
    if ((a === "-s" || a === "--socket") && i + 1 < args.length) leading.push(args[++i]!);
    i++;
  }
  const top = parseFlags(leading, SOCKET, "edgemesh ctl", 0);
  const sub = args[i];
  if (top.values.help || sub === "help") return help(io, "edgemesh ctl");
  if (sub === undefined) throw new UsageError("missing command", "edgemesh ctl");
  const rest = args.slice(i + 1);
  const socketOf = (v: ParsedValues) =>
    (v.socket as string | undefined) ?? (top.values.socket as string | undefined) ??
      io.env(SOCKET_ENV) ?? DEFAULTS.controlSocket;
  switch (sub) {
    case "apply":
      return await apply(rest, io, socketOf);
    case "delete":
      return await del(rest, io, socketOf);
    case "get":
      return await get(rest, io, socketOf);
    case "status":
      return await status(rest, io, socketOf);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(sub)}`, "edgemesh ctl");
  }
}

type ParsedValues = ReturnType<typeof parseFlags>["values"];

function help(io: CliIo, command: string): number {
  io.stdout(HELP[command]!);
  return 0;
}

async function withClient<T>(path: string, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  const client = await ControlClient.connect(path);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

async function apply(
  args: readonly string[],
  io: CliIo,
  socketOf: (v: ParsedValues) => string,
): Promise<number> {
  const cmd = "edgemesh ctl apply";
  const { values } = parseFlags(
    args,
    {
      ...SOCKET,
      filename: { type: "string", short: "f" },
      namespace: { type: "string", short: "n" },
    },
    cmd,
    0,
  );
  if (values.help) return help(io, cmd);
  const file = values.filename as string | undefined;
  if (file === undefined) throw new UsageError("apply needs -f FILE or -f -", cmd);
  let text: string;
  try {
    text = file === "-" ? await io.readStdin() : await Deno.readTextFile(file);
  } catch (err) {
    throw new Error(`Cannot read "${file}": ${message(err)}`);
  }
  let items;
  try {
    items = await parseManifests(text, (values.namespace as string | undefined) ?? "default");
  } catch (err) {
    throw new Error(`${file === "-" ? "stdin" : `"${file}"`}: ${message(err)}`);
  }
  if (items.length === 0) {
    io.stderr(`edgemesh: no objects in ${file === "-" ? "stdin" : `"${file}"`}\n`);
    return 1;
  }
  let failed = 0;
  await withClient(socketOf(values), async (client) => {
    // Send everything first (pipelined), then read the replies in order.
    const replies = items.map((item) =>
      item.ok
        ? client.send(buildMessage({
          operation: "update",
          resource: formatResource(item.object.namespace, item.object.type, item.object.name),
          content: item.object.content,
        }))
        : null
    );
    for (const [n, item] of items.entries()) {
      if (!item.ok) {
        failed++;
        io.stderr(`${item.label}: ${item.error}\n`);
        continue;
      }
      const reply = await replies[n]!;
      if (reply.ok) io.stdout(`${item.object.label} configured\n`);
      else {
        failed++;
        io.stderr(`${item.object.label}: ${reply.error}\n`);
      }
    }
  });
  return failed > 0 ? 1 : 0;
}

async function del(
  args: readonly string[],
  io: CliIo,
  socketOf: (v: ParsedValues) => string,
): Promise<number> {
  const cmd = "edgemesh ctl delete";
  const { values, positionals } = parseFlags(args, {
    ...SOCKET,
    namespace: { type: "string", short: "n" },
  }, cmd);
  if (values.help) return help(io, cmd);
  const [kind, ...names] = positionals;
  if (kind === undefined) throw new UsageError("delete needs a kind and a name", cmd);
  const type = DELETE_KINDS[kind.toLowerCase()];
  if (!type) {
    throw new UsageError(
      `unknown kind ${JSON.stringify(kind)} (service, endpoints, endpointslice, pod, node)`,
      cmd,
    );
  }
  if (names.length === 0) throw new UsageError(`delete ${kind} needs a name`, cmd);
  const defaultNs = (values.namespace as string | undefined) ?? "default";
  const targets = names.map((arg) => {
    const parts = arg.split("/");
    if (type === "node") {
      if (parts.length !== 1 || arg === "") {
        throw new UsageError(`bad node name ${JSON.stringify(arg)}`, cmd);
      }
      return { namespace: "default", name: arg };
    }
    if (parts.length > 2 || parts.some((p) => p === "")) {
      throw new UsageError(`bad name ${JSON.stringify(arg)} (expected NS/NAME or NAME)`, cmd);
    }
    return parts.length === 2
      ? { namespace: parts[0]!, name: parts[1]! }
      : { namespace: defaultNs, name: parts[0]! };
  });
  let failed = 0;
  await withClient(socketOf(values), async (client) => {
    const replies = targets.map((t) =>
      client.send(buildMessage({
        operation: "delete",
        resource: formatResource(t.namespace, type, t.name),
        content: {
          metadata: type === "node" ? { name: t.name } : { name: t.name, namespace: t.namespace },
        },
      }))
    );
    for (const [n, t] of targets.entries()) {
      const reply = await replies[n]!;
      const label = objectLabel(type, t.namespace, t.name);
      if (reply.ok) io.stdout(`${label} deleted\n`);
      else {
        failed++;
        io.stderr(`${label}: ${reply.error}\n`);
      }
    }
  });
  return failed > 0 ? 1 : 0;
}

async function get(
  args: readonly string[],
  io: CliIo,
  socketOf: (v: ParsedValues) => string,
): Promise<number> {
  const cmd = "edgemesh ctl get";
  const { values, positionals } = parseFlags(
    args,
    {
      ...SOCKET,
      namespace: { type: "string", short: "n" },
      output: { type: "string", short: "o" },
    },
    cmd,
    2,
  );
  if (values.help) return help(io, cmd);
  const [what, name] = positionals;
  if (what === undefined) throw new UsageError("get needs services or endpoints", cmd);
  const kind = GET_KINDS[what.toLowerCase()];
  if (!kind) throw new UsageError(`cannot get ${JSON.stringify(what)} (services, endpoints)`, cmd);
  const output = outputFormat(values.output, ["table", "json"], cmd);
  const ns = (values.namespace as string | undefined) ?? "*";
  const views = await query<ServiceView[]>(socketOf(values), `${ns}/${kind}/${name ?? "*"}`);
  if (output === "json") io.stdout(JSON.stringify(views, null, 2) + "\n");
  else if (views.length === 0) io.stderr("No services found\n");
  else io.stdout(formatServiceTable(views));
  return 0;
}

async function status(
  args: readonly string[],
  io: CliIo,
  socketOf: (v: ParsedValues) => string,
): Promise<number> {
  const cmd = "edgemesh ctl status";
  const { values } = parseFlags(
    args,
    { ...SOCKET, output: { type: "string", short: "o" } },
    cmd,
    0,
  );
  if (values.help) return help(io, cmd);
  const output = outputFormat(values.output, ["text", "json"], cmd);
  const info = await query<StatusInfo>(socketOf(values), "*/status/*");
  io.stdout(
    output === "json" ? JSON.stringify(info, null, 2) + "\n" : formatStatus(info, Date.now()),
  );
  return 0;
}

function outputFormat(v: unknown, allowed: readonly string[], cmd: string): string {
  const out = (v as string | undefined) ?? allowed[0]!;
  if (!allowed.includes(out)) {
    throw new UsageError(
      `unknown output format ${JSON.stringify(out)} (${allowed.join(", ")})`,
      cmd,
    );
  }
  return out;
}

async function query<T>(socket: string, resource: string): Promise<T> {
  const reply: Reply = await withClient(
    socket,
    (c) => c.send(buildMessage({ operation: "query", resource })),
  );
  if (!reply.ok) throw new Error(reply.error);
  return reply.content as T;
}

function message(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file";
  return err instanceof Error ? err.message : String(err);
}

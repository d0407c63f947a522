// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `edgemesh ctl`: apply, delete, get and status over the control socket.
 * @module
 */
import { buildMessage, formatResource, type ResourceType } from "../control/mod.ts";
import { apply } from "./apply.ts";
import { type ParsedArgs, parseFlags } from "./args.ts";
import {
  CONNECTION_FLAGS,
  CONNECTION_VALUE_FLAGS,
  query,
  resolveTarget,
  sendAll,
  waitLive,
  withClient,
} from "./connection.ts";
import { formatServiceTable, formatStatus } from "./format.ts";
import { HELP } from "./help.ts";
import { type CliIo, UsageError } from "./io.ts";
import { objectLabel } from "./manifest.ts";
import { serviceViewsOf, statusInfoOf } from "./reply.ts";

export { SOCKET_ENV } from "./connection.ts";

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

type Values = ParsedArgs["values"];

/** Runs `edgemesh ctl <args>`; returns the exit status. */
export async function ctl(args: readonly string[], io: CliIo): Promise<number> {
  // Flags before the subcommand belong to ctl itself.
  let i = 0;
  const leading: string[] = [];
  while (i < args.length && args[i]!.startsWith("-")) {
    const a = args[i]!;
    leading.push(a);
    if (CONNECTION_VALUE_FLAGS.has(a) && i + 1 < args.length) leading.push(args[++i]!);
    i++;
  }
  const top = parseFlags(leading, CONNECTION_FLAGS, "edgemesh ctl", 0).values;
  const sub = args[i];
  if (top.help || sub === "help") return help(io, "edgemesh ctl");
  if (sub === undefined) throw new UsageError("missing command", "edgemesh ctl");
  const rest = args.slice(i + 1);
  switch (sub) {
    case "apply":
      return await apply(rest, io, top);
    case "delete":
      return await del(rest, io, top);
    case "get":
      return await get(rest, io, top);
    case "status":
      return await status(rest, io, top);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(sub)}`, "edgemesh ctl");
  }
}

function help(io: CliIo, command: string): number {
  io.stdout(HELP[command]!);
  return 0;
}

/**
 * `NS/NAME` or `NAME` (in `namespace`), as `delete` and `get` take them.
 * @throws {UsageError} `bad name "a/b/c" (expected NS/NAME or NAME)`
 */
function namespacedName(
  arg: string,
  namespace: string,
  command: string,
): { namespace: string; name: string } {
  const parts = arg.split("/");
  if (parts.length > 2 || parts.some((p) => p === "")) {
    throw new UsageError(`bad name ${JSON.stringify(arg)} (expected NS/NAME or NAME)`, command);
  }
  return parts.length === 2
    ? { namespace: parts[0]!, name: parts[1]! }
    : { namespace, name: parts[0]! };
}

async function del(args: readonly string[], io: CliIo, top: Values): Promise<number> {
  const cmd = "edgemesh ctl delete";
  const { values, positionals } = parseFlags(args, {
    ...CONNECTION_FLAGS,
    namespace: { type: "string", short: "n" },
    "ignore-not-found": { type: "boolean" },
    wait: { type: "boolean" },
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
  const target = resolveTarget(values, top, io, cmd);
  const defaultNs = (values.namespace as string | undefined) ?? "default";
  const targets = names.map((arg) => {
    if (type !== "node") return namespacedName(arg, defaultNs, cmd);
    if (arg.includes("/") || arg === "") {
      throw new UsageError(`bad node name ${JSON.stringify(arg)}`, cmd);
    }
    return { namespace: "default", name: arg };
  });
  const ignoreNotFound = values["ignore-not-found"] === true;
  let failed = 0;
  await withClient(target, async (client) => {
    const replies = sendAll(
      client,
      targets.map((t) =>
        buildMessage({
          operation: "delete",
          resource: formatResource(t.namespace, type, t.name),
          content: {
            metadata: type === "node" ? { name: t.name } : { name: t.name, namespace: t.namespace },
          },
        })
      ),
    );
    for (const [n, t] of targets.entries()) {
      const reply = await replies[n]!;
      const label = objectLabel(type, t.namespace, t.name);
      if (!reply.ok) {
        failed++;
        io.stderr(`${label}: ${reply.error}\n`);
      } else if (reply.found === false) {
        // The agent stays idempotent for KubeEdge; ctl reports kubectl's NotFound. An agent
        // from before `found` sends none: its deletes read as done, as they always did.
        if (ignoreNotFound) continue;
        failed++;
        io.stderr(`edgemesh: ${notFoundName(type, t.namespace, t.name)} not found\n`);
      } else io.stdout(`${label} deleted\n`);
    }
    if (values.wait === true && !(await waitLive(client, target, io))) failed++;
  });
  return failed > 0 ? 1 : 0;
}

/** `service "default/web"`, `node "edge-1"`: how a NotFound names an object (as `get` does). */
function notFoundName(type: ResourceType, namespace: string, name: string): string {
  return `${type} ${JSON.stringify(type === "node" ? name : `${namespace}/${name}`)}`;
}

async function get(args: readonly string[], io: CliIo, top: Values): Promise<number> {
  const cmd = "edgemesh ctl get";
  const { values, positionals } = parseFlags(
    args,
    {
      ...CONNECTION_FLAGS,
      namespace: { type: "string", short: "n" },
      output: { type: "string", short: "o" },
    },
    cmd,
    2,
  );
  if (values.help) return help(io, cmd);
  const [what, nameArg] = positionals;
  if (what === undefined) throw new UsageError("get needs services or endpoints", cmd);
  const kind = GET_KINDS[what.toLowerCase()];
  if (!kind) throw new UsageError(`cannot get ${JSON.stringify(what)} (services, endpoints)`, cmd);
  const output = outputFormat(values.output, ["table", "json"], cmd);
  const target = resolveTarget(values, top, io, cmd);
  // Without NS/, a NAME is looked for in -n, else in every namespace (as the list is).
  const flagNs = values.namespace as string | undefined;
  const ns = flagNs ?? "*";
  const one = nameArg === undefined ? null : namespacedName(nameArg, ns, cmd);
  if (one !== null && flagNs !== undefined && one.namespace !== flagNs) {
    throw new UsageError(
      `${JSON.stringify(nameArg)} names namespace ${JSON.stringify(one.namespace)}, ` +
        `but -n says ${JSON.stringify(flagNs)}`,
      cmd,
    );
  }
  const resource = one === null
    ? formatResource(ns, kind, "*")
    : formatResource(one.namespace, kind, one.name);
  const views = serviceViewsOf(await query(target, resource));
  if (output === "json") io.stdout(JSON.stringify(views, null, 2) + "\n");
  else if (views.length > 0) io.stdout(formatServiceTable(views));
  // A list may be empty; a named object that is not there is an error (as kubectl's NotFound).
  if (views.length > 0) return 0;
  if (one === null) {
    if (output !== "json") io.stderr("No services found\n");
    return 0;
  }
  // kubectl's NotFound, naming where it was looked for: NS/NAME, or every namespace when the
  // NAME came without NS/ and without -n (there is no default namespace to name).
  io.stderr(
    one.namespace === "*"
      ? `edgemesh: service ${JSON.stringify(one.name)} not found in any namespace\n`
      : `edgemesh: service ${JSON.stringify(`${one.namespace}/${one.name}`)} not found\n`,
  );
  return 1;
}

async function status(args: readonly string[], io: CliIo, top: Values): Promise<number> {
  const cmd = "edgemesh ctl status";
  const { values } = parseFlags(
    args,
    { ...CONNECTION_FLAGS, output: { type: "string", short: "o" } },
    cmd,
    0,
  );
  if (values.help) return help(io, cmd);
  const output = outputFormat(values.output, ["text", "json"], cmd);
  const info = statusInfoOf(await query(resolveTarget(values, top, io, cmd), "*/status/*"));
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

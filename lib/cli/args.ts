// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `node:util` parseArgs with errors turned into one-line {@linkcode UsageError}s
 * (`unknown flag --foo`) instead of Node's multi-sentence messages.
 * @module
 */
import { parseArgs as nodeParseArgs } from "node:util";
import { UsageError } from "./io.ts";

/** One flag definition (the `node:util` parseArgs option shape we use). */
export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
}

/** Parsed flags and positionals. */
export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

/**
 * Parses `args` strictly against `flags`.
 * @throws {UsageError} on unknown flags, missing values, or positionals when `maxPositionals`
 *   is exceeded
 */
export function parseFlags(
  args: readonly string[],
  flags: Readonly<Record<string, FlagSpec>>,
  command: string,
  maxPositionals = Infinity,
): ParsedArgs {
  let parsed;
  try {
    parsed = nodeParseArgs({
      args: [...args],
      options: flags as Record<string, FlagSpec>,
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError(usageMessage(err), command);
  }
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals[maxPositionals]!;
    throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`, command);
  }
  return {
    values: parsed.values as ParsedArgs["values"],
    positionals: parsed.positionals,
  };
}

function usageMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code;
  const quoted = /'([^']+)'/.exec(text)?.[1] ?? "";
  // Node quotes "-c, --config <value>" for flags with a short alias; name the long form.
  const flag = /--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(" ")[0]!;
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${flag}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return text.includes("does not take")
        ? `flag ${flag} does not take a value`
        : `flag ${flag} needs a value`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${JSON.stringify(quoted)}`;
    default:
      return text.split(". ")[0]!;
  }
}

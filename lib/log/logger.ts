// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A small leveled logger: logfmt lines by default, JSON lines for collectors.
 *
 * There is no global logger: `main.ts` builds one and passes it (or a child made with
 * {@linkcode Logger.with}) to every component, as Go's `ReverseProxy.ErrorLog` is injected.
 * @module
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** Output encoding: `logfmt` (`ts=… level=info component=dns msg="…" k=v`) or one JSON object per line. */
export type LogFormat = "logfmt" | "json";
/** Structured fields attached to one log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The logging surface every component receives. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A child logger whose lines carry `component=<parent>/<name>`. */
  with(component: string): Logger;
  /** Whether lines at `level` are written (to skip building expensive fields). */
  enabled(level: LogLevel): boolean;
}

/** The level names in order; their index is the severity. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. @default {"info"} */
  level?: LogLevel;
  /** @default {"logfmt"} */
  format?: LogFormat;
  /** Where finished lines go (without the newline). @default writes to stderr */
  write?: (line: string) => void;
  /** Clock, for tests. @default {Date.now} */
  now?: () => number;
  /** Component name of the root logger. */
  component?: string;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

function logfmtValue(value: unknown): string {
  let s: string;
  if (value instanceof Error) s = value.message;
  else if (typeof value === "string") s = value;
  else if (value === undefined) s = "";
  else if (typeof value === "object" && value !== null) s = JSON.stringify(value);
  else s = String(value);
  return /^[^\s"=\\]+$/.test(s) ? s : JSON.stringify(s);
}

function jsonValue(value: unknown): unknown {
  return value instanceof Error ? value.message : value;
}

/** Renders one line in the given format; exported for tests. */
export function formatLine(
  format: LogFormat,
  ts: number,
  level: LogLevel,
  component: string | undefined,
  msg: string,
  fields: LogFields | undefined,
): string {
  const time = new Date(ts).toISOString();
  if (format === "json") {
    const obj: Record<string, unknown> = { ts: time, level };
    if (component) obj.component = component;
    obj.msg = msg;
    if (fields) { for (const [k, v] of Object.entries(fields)) obj[k] = jsonValue(v); }
    return JSON.stringify(obj);
  }
  let line = `ts=${time} level=${level}`;
  if (component) line += ` component=${logfmtValue(component)}`;
  line += ` msg=${logfmtValue(msg)}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) line += ` ${k}=${logfmtValue(v)}`;
  }
  return line;
}

/** Builds a logger writing to stderr (or `options.write`). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = LOG_LEVELS.indexOf(options.level ?? "info");
  const format = options.format ?? "logfmt";
  const write = options.write ?? writeStderr;
  const now = options.now ?? Date.now;
  const make = (component: string | undefined): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
      if (LOG_LEVELS.indexOf(level) < min) return;
      write(formatLine(format, now(), level, component, msg, fields));
    };
    return {
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      with: (name) => make(component ? `${component}/${name}` : name),
      enabled: (level) => LOG_LEVELS.indexOf(level) >= min,
    };
  };
  return make(options.component);
}

/** A logger that drops everything, for tests. */
export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  with() {
    return nullLogger;
  },
  enabled() {
    return false;
  },
};

/** A logger that records lines in memory, for tests asserting on log output. */
export function memoryLogger(level: LogLevel = "debug"): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level, format: "json", write: (l) => lines.push(l) });
  return Object.assign(logger, { lines });
}

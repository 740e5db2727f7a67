/**
 * Shared pieces of the `pidrace` subcommands: usage errors (exit 2), duration and rate parsing,
 * atomic JSON writes.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/** A subcommand: `pidrace NAME ...`. Modules export `command`; src/cli.ts lists them. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
  /** It winds down on `interrupt` (Ctrl-C) with a partial report; others stop at once (exit 130). */
  interruptible?: boolean;
}

/**
 * Ctrl-C / SIGTERM for the running command. src/cli.ts holds the process's one signal handler for
 * the whole command, report writing included, and aborts this for an interruptible command (even
 * one still loading: it then starts aborted), so no signal ever finds the default action, which
 * kills the process wherever it is.
 */
export const interrupt = new AbortController();

/** Bad arguments: the CLI prints the message and the usage line and exits 2. */
export class UsageError extends Error {}

/** "10s", "500ms", "2m", "1h", or a bare number of seconds. */
export function parse_duration(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new UsageError(`${what}: "${s}" is not a duration (e.g. 500ms, 10s, 2m)`);
  const v = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? v : unit === 's' ? v * 1000 : unit === 'm' ? v * 60_000 : v * 3_600_000;
  return Math.round(ms);
}

export function parse_int(s: string, what: string, lo = 0, hi = 2 ** 31 - 1): number {
  if (!/^-?\d+$/.test(s.trim())) throw new UsageError(`${what}: "${s}" is not an integer`);
  const v = Number(s);
  if (v < lo || v > hi) throw new UsageError(`${what}: ${v} is out of range (${lo}..${hi})`);
  return v;
}

/** A probability: "5" (per mille), "0.5%" (per cent) -> per mille. */
export function parse_permille(s: string, what: string): number {
  const t = s.trim();
  const pct = t.endsWith('%');
  const v = Number(pct ? t.slice(0, -1) : t);
  if (!Number.isFinite(v) || v < 0) throw new UsageError(`${what}: "${s}" is not a rate (per mille, or N%)`);
  const pm = Math.round(pct ? v * 10 : v);
  if (pm > 1000) throw new UsageError(`${what}: ${s} is more than 100%`);
  return pm;
}

/** Write JSON atomically: a temporary file in the same directory, then rename over the target. */
export function write_json_atomic(path: string, data: unknown): void {
  write_file_atomic(path, JSON.stringify(data, null, 2) + '\n');
}

/** Write a file atomically (a temporary file in the same directory, then rename). */
export function write_file_atomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

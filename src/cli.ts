#!/usr/bin/env node
/**
 * The `pidrace` command line. Each subcommand is a module exporting `command` (src/cli/common.ts
 * Command); add one by adding a line to COMMANDS. Exit codes: 0 success, 1 failure (a FAILURE
 * verdict), 2 usage error; subcommands document any other.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Command } from './cli/common.js';
import { interrupt, UsageError } from './cli/common.js';

/** name -> loader (lazy: `pidrace merge` does not load the kernel). */
export const COMMANDS: Record<string, () => Promise<Command>> = {
  stress: async () => (await import('./cli/stress.js')).command,
  replay: async () => (await import('./cli/replay_command.js')).command,
  merge: async () => (await import('./cli/merge.js')).command,
  deadlock: async () => (await import('./cli/deadlock.js')).command,
  bench: async () => (await import('./cli/bench.js')).command,
  report: async () => (await import('./cli/report.js')).command,
};

/** One-line summaries for `pidrace --help` (kept here so the help does not load every module). */
const SUMMARIES: Record<string, string> = {
  stress: 'race fork/exit/wait/kill/unshare/setns/zap ... on N CPUs, check invariants, give a verdict',
  replay: 'replay a controlled run from its token (or a file) exactly; --shrink a failing one',
  merge: 'combine shard reports (pidrace stress --shard i/n --json ...) into one verdict',
  deadlock: 'the catalog of documented kernel deadlocks: list them, reproduce one (buggy vs fixed)',
  bench: 'fork rate across CPUs and namespace depths beside the real kernel (same as npm run bench)',
  report: 'the self-contained HTML report of a saved run (pidrace report RUN.json -o FILE.html)',
};

export function main_usage(): string {
  const names = Object.keys(COMMANDS);
  const w = Math.max(...names.map((n) => n.length));
  return [
    'usage: pidrace <command> [options]',
    '',
    'commands:',
    ...names.map((n) => `  ${n.padEnd(w)}  ${SUMMARIES[n] ?? ''}`),
    '',
    'pidrace <command> --help shows the options of a command.',
  ].join('\n');
}

/** The command running (set once it is loaded), a signal that came before, and its exit status once over. */
let running: Command | undefined;
let early: NodeJS.Signals | undefined;
let done: number | undefined;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(main_usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write('pidrace 0.1.0\n');
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`pidrace: unknown command "${name}"\n\n${main_usage()}\n`);
    return 2;
  }
  const cmd = await load();
  running = cmd;
  if (early) {
    if (!cmd.interruptible) process.exit(early === 'SIGINT' ? 130 : 143);
    interrupt.abort();
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof UsageError || (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS')) || e instanceof RangeError) {
      process.stderr.write(`pidrace ${name}: ${err.message}\n${cmd.usage.split('\n')[0]}\nrun "pidrace ${name} --help" for the options\n`);
      return 2;
    }
    throw e;
  }
}

function invoked_directly(): boolean {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}
const invoked = invoked_directly();
if (invoked) {
  // The process's one signal handler (see interrupt in src/cli/common.ts). Once the command is
  // over (its report written; the worker pools may still wind down), a signal leaves at once with
  // the command's status.
  const onSignal = (sig: NodeJS.Signals): void => {
    if (done !== undefined) process.exit(done);
    if (running === undefined) { early ??= sig; return; } // still loading: decided once loaded
    if (running.interruptible) interrupt.abort();
    else process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A reader that closed the pipe (`pidrace merge ... | head`): a long-running command winds down
  // as on Ctrl-C (its JSON report still written), any other leaves with its status so far; never
  // an unhandled 'error' event's stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    if (running?.interruptible && done === undefined) interrupt.abort();
    else process.exit(done ?? process.exitCode ?? 0);
  });
  main(process.argv.slice(2)).then((code) => {
    done = code;
    process.exitCode = code;
  }, (e: unknown) => {
    process.stderr.write(`pidrace: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}

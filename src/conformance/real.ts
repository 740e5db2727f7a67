// Runs a conformance script on the real kernel through native/pidns_driver.c.
//
//   const results = await runOnRealKernel(ops, { timeoutMs: 30_000 });
//
// The driver runs in its own process group with a hard timeout: on expiry
// the whole group is SIGKILLed (the task tree dies with it: task 0 has
// PR_SET_PDEATHSIG=SIGKILL and killing a namespace's init kills the rest)
// and the promise rejects with a RealKernelError carrying the partial results.
import { spawn } from 'node:child_process';
import { buildNative, type BuildResult } from '../native/build.js';
import { formatScript, parseDriverOutput, type DriverOutput, type Op, type OpResult } from './script.js';

export interface RealKernelOptions {
  /** Hard limit for the whole run in ms (default 60000). */
  timeoutMs?: number;
  /** Use this driver binary instead of building native/pidns_driver.c. */
  driverPath?: string;
}

export class RealKernelError extends Error {
  constructor(
    message: string,
    readonly partial: OpResult[],
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'RealKernelError';
  }
}

/** Whether the oracle can run here ({ok:false, reason} when not root / no cc / ...). */
export function realKernelAvailability(): BuildResult {
  return buildNative('pidns_driver');
}

interface RawRun {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

function runDriver(path: string, args: string[], stdin: string, timeoutMs: number): Promise<RawRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        try {
          child.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    // If our own process exits first, take the driver down with us.
    const onExit = (): void => killGroup();
    process.once('exit', onExit);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (stdout += d));
    child.stderr.on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => {
      /* driver exited before reading everything: reported through its output */
    });
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      resolve({ stdout, stderr, code, signal, timedOut });
    });
    child.stdin.end(stdin);
  });
}

function driverPath(opts: RealKernelOptions): string {
  if (opts.driverPath !== undefined) return opts.driverPath;
  const b = buildNative('pidns_driver');
  if (!b.ok) throw new Error(`real-kernel oracle unavailable: ${b.reason}`);
  return b.path;
}

/** Driver's own deadline (s): a little under the hard timeout so it can clean up and say why. */
function driverDeadlineSec(timeoutMs: number): number {
  return Math.max(1, Math.floor((timeoutMs - 1500) / 1000));
}

function check(run: RawRun, out: DriverOutput, timeoutMs: number): void {
  if (run.timedOut)
    throw new RealKernelError(`pidns_driver killed after ${timeoutMs} ms hard timeout`, out.results, run.stdout, run.stderr);
  const fatal = out.other.find((o) => typeof o['error'] === 'string');
  if (fatal !== undefined)
    throw new RealKernelError(
      `pidns_driver: ${String(fatal['error'])}${fatal['errno'] ? ` (${String(fatal['errno'])})` : ''}`,
      out.results,
      run.stdout,
      run.stderr,
    );
  if (!out.done)
    throw new RealKernelError(
      `pidns_driver ended without {"done":true} (exit ${String(run.code)}, signal ${String(run.signal)})`,
      out.results,
      run.stdout,
      run.stderr,
    );
}

/**
 * Execute ops on the real kernel; one OpResult per op, in order.  Per-op
 * problems (dead handle, parse error, ...) are results with an `error`
 * field; a run that cannot complete rejects with RealKernelError.
 */
export async function runOnRealKernel(ops: readonly Op[], opts: RealKernelOptions = {}): Promise<OpResult[]> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const script = formatScript(ops);
  const path = driverPath(opts);
  const run = await runDriver(path, ['--timeout', String(driverDeadlineSec(timeoutMs))], script, timeoutMs);
  const out = parseDriverOutput(run.stdout);
  check(run, out, timeoutMs);
  return out.results;
}

export interface SelftestResult {
  pass: boolean;
  checks: number;
  failed: { i: number; what: string }[];
  results: OpResult[];
}

/** Run the driver's built-in selftest (`pidns_driver --selftest`). */
export async function runDriverSelftest(opts: RealKernelOptions = {}): Promise<SelftestResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const run = await runDriver(driverPath(opts), ['--selftest', '--timeout', String(driverDeadlineSec(timeoutMs))], '', timeoutMs);
  const out = parseDriverOutput(run.stdout);
  check(run, out, timeoutMs);
  const summary = out.other.find((o) => 'selftest' in o);
  if (summary === undefined) throw new RealKernelError('selftest printed no summary', out.results, run.stdout, run.stderr);
  return {
    pass: summary['selftest'] === 'pass',
    checks: Number(summary['checks']),
    failed: (summary['failed'] as { i: number; what: string }[] | undefined) ?? [],
    results: out.results,
  };
}

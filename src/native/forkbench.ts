// Real-kernel fork-rate benchmark (native/forkbench_native.c).
//
//   await runKernelForkBench({ mode: 'fork', depth: 31, loopers: 1, millis: 1000 })
//   -> { mode, depth, loopers, cycles, seconds, rate, level, perLooper }
//
// DEPTH nested pid namespaces are created first (unshare(CLONE_NEWPID)+fork
// per level), then LOOPERS processes in the innermost one loop
// fork|vfork -> _exit(0) -> waitpid (or pthread_create+join) for MILLIS ms.
// The kernel refuses nesting beyond level 32 with ENOSPC, which rejects with
// a KernelForkBenchError whose errno is 'ENOSPC'.
import { spawn } from 'node:child_process';
import { buildNative } from './build.js';

export type KernelForkMode = 'fork' | 'vfork' | 'thread';

export interface KernelForkBenchOptions {
  mode: KernelForkMode;
  /** Nested pid namespaces, 0..32. */
  depth: number;
  /** Concurrent looper processes in the innermost namespace, 1..64. */
  loopers: number;
  /** Measured duration per run in ms. */
  millis: number;
  /** Hard limit (default millis + 30000); the process group is SIGKILLed on expiry. */
  timeoutMs?: number;
  /** Use this binary instead of building native/forkbench_native.c. */
  binaryPath?: string;
}

export interface KernelForkBenchResult {
  mode: KernelForkMode;
  depth: number;
  loopers: number;
  /** Total create+exit+reap (or create+join) cycles over all loopers. */
  cycles: number;
  seconds: number;
  /** cycles per second. */
  rate: number;
  /** Nesting level reached, verified through NSpid. */
  level: number;
  perLooper: number[];
}

export class KernelForkBenchError extends Error {
  constructor(
    message: string,
    readonly errno?: string,
    readonly level?: number,
  ) {
    super(message);
    this.name = 'KernelForkBenchError';
  }
}

export function runKernelForkBench(opts: KernelForkBenchOptions): Promise<KernelForkBenchResult> {
  const { mode, depth, loopers, millis } = opts;
  if (!['fork', 'vfork', 'thread'].includes(mode)) return Promise.reject(new KernelForkBenchError(`bad mode '${mode}'`));
  if (!Number.isInteger(depth) || depth < 0 || depth > 64) return Promise.reject(new KernelForkBenchError(`bad depth ${depth}`));
  if (!Number.isInteger(loopers) || loopers < 1 || loopers > 64) return Promise.reject(new KernelForkBenchError(`bad loopers ${loopers}`));
  if (!Number.isInteger(millis) || millis < 1 || millis > 600_000) return Promise.reject(new KernelForkBenchError(`bad millis ${millis}`));
  let path = opts.binaryPath;
  if (path === undefined) {
    const b = buildNative('forkbench_native');
    if (!b.ok) return Promise.reject(new KernelForkBenchError(`kernel fork benchmark unavailable: ${b.reason}`));
    path = b.path;
  }
  const timeoutMs = opts.timeoutMs ?? millis + 30_000;
  const bin = path;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [mode, String(depth), String(loopers), String(millis)], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    process.once('exit', killGroup);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (stdout += d));
    child.stderr.on('data', (d: string) => (stderr += d));
    const done = (): void => {
      clearTimeout(timer);
      process.removeListener('exit', killGroup);
    };
    child.on('error', (e) => {
      done();
      reject(e);
    });
    child.on('close', (code, signal) => {
      done();
      if (timedOut) {
        reject(new KernelForkBenchError(`forkbench_native killed after ${timeoutMs} ms`));
        return;
      }
      const line = stdout.split('\n').find((l) => l.trim().startsWith('{'));
      let rec: Record<string, unknown> | undefined;
      try {
        rec = line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>);
      } catch {
        rec = undefined;
      }
      if (rec === undefined) {
        reject(
          new KernelForkBenchError(
            `forkbench_native printed no result (exit ${String(code)}, signal ${String(signal)}): ${stderr.trim()}`,
          ),
        );
        return;
      }
      if (typeof rec['error'] === 'string') {
        const errno = typeof rec['errno'] === 'string' ? rec['errno'] : undefined;
        const level = typeof rec['level'] === 'number' ? rec['level'] : undefined;
        reject(new KernelForkBenchError(`forkbench_native: ${rec['error']}${errno ? ` (${errno})` : ''}`, errno, level));
        return;
      }
      resolve({
        mode: rec['mode'] as KernelForkMode,
        depth: Number(rec['depth']),
        loopers: Number(rec['loopers']),
        cycles: Number(rec['cycles']),
        seconds: Number(rec['seconds']),
        rate: Number(rec['rate']),
        level: Number(rec['level']),
        perLooper: Array.isArray(rec['per_looper']) ? (rec['per_looper'] as unknown[]).map(Number) : [],
      });
    });
  });
}

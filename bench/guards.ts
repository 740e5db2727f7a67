/**
 * Cost of the checked build (`--check-guards`, dist-checked/): the fork cycle (fork -> exit ->
 * wait4, one looper, 1 CPU) and stress operations (the full mix, free-running), each measured with
 * the normal build and the checked build alternately in the same run (so drift on a shared machine
 * falls on both), medians of the repetitions. The cost is the ratio of work per second of process
 * CPU time (every thread): on a shared host, wall-clock rates swing with the other load far more
 * than with the build (both are kept in the report). The checked build's KCSAN sampler runs in the
 * stress measurement (it needs two CPUs) with its defaults (src/machine.ts).
 */
import { measureOnce, type Workload } from './forkrate.js';
import { run_stress } from '../src/stress/run.js';
import { default_config } from '../src/stress/config.js';
import { summarize, type Logger, type Summary } from './util.js';

export interface GuardCost {
  /** off/on: cycles per second of process CPU time; wallOff/wallOn: cycles per wall-clock second. */
  fork: Array<{ depth: number; off: Summary; on: Summary; ratio: number; wallOff: Summary; wallOn: Summary }>;
  /** off/on: operations per second of process CPU time; wallOff/wallOn: ops per wall-clock second. */
  stress: { cpus: number; seconds: number; off: Summary; on: Summary; ratio: number; wallOff: Summary; wallOn: Summary; onViolations: number };
}

export async function benchGuards(o: { reps: number; depths: readonly number[]; warmupMs: number; measureMs: number; stressMs: number; log?: Logger }): Promise<GuardCost> {
  const log = o.log ?? (() => {});
  const workload: Workload = 'fork';
  const fork: GuardCost['fork'] = [];
  for (const depth of o.depths) {
    const off: number[] = [];
    const on: number[] = [];
    const wOff: number[] = [];
    const wOn: number[] = [];
    for (let r = 0; r < o.reps; r++) {
      for (const checkGuards of [false, true]) {
        const s = await measureOnce(1, depth, workload, { warmupMs: o.warmupMs, measureMs: o.measureMs, lockdep: false, checkGuards });
        (checkGuards ? on : off).push(s.cyclesPerCpuSec);
        (checkGuards ? wOn : wOff).push(s.cyclesPerSec);
        log(`  rep ${r + 1}/${o.reps}  depth ${String(depth).padStart(2)}  ${checkGuards ? 'checked' : 'normal '}  ${Math.round(s.cyclesPerCpuSec).toLocaleString('en-US').padStart(10)} cycles/CPU-s  ${Math.round(s.cyclesPerSec).toLocaleString('en-US').padStart(10)} cycles/s${s.violations ? `  (${s.violations} violations)` : ''}`);
      }
    }
    const a = summarize(off);
    const b = summarize(on);
    fork.push({ depth, off: a, on: b, ratio: a.median / b.median, wallOff: summarize(wOff), wallOn: summarize(wOn) });
  }
  const cpus = 4;
  const off: number[] = [];
  const on: number[] = [];
  const wOff: number[] = [];
  const wOn: number[] = [];
  let onViolations = 0;
  for (let r = 0; r < o.reps; r++) {
    for (const checkGuards of [false, true]) {
      const u0 = process.cpuUsage();
      const s = await run_stress(default_config({ cpus, durationMs: o.stressMs, checkGuards }));
      const u = process.cpuUsage(u0);
      const perCpuSec = s.stats.ops / ((u.user + u.system) / 1e6);
      (checkGuards ? on : off).push(perCpuSec);
      (checkGuards ? wOn : wOff).push(s.stats.ops_per_s);
      if (checkGuards) onViolations += s.result.violations.length;
      log(`  rep ${r + 1}/${o.reps}  stress ${cpus} CPUs  ${checkGuards ? 'checked' : 'normal '}  ${Math.round(perCpuSec).toLocaleString('en-US').padStart(8)} ops/CPU-s  ${Math.round(s.stats.ops_per_s).toLocaleString('en-US').padStart(8)} ops/s  ${s.verdict}`);
    }
  }
  const a = summarize(off);
  const b = summarize(on);
  return { fork, stress: { cpus, seconds: o.stressMs / 1000, off: a, on: b, ratio: a.median / b.median, wallOff: summarize(wOff), wallOn: summarize(wOn), onViolations } };
}

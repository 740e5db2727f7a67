/**
 * `npm run bench` / `pidrace bench`: the figures of issue 7, measured in one run.
 *
 *   node dist/bench/run.js [--quick] [--scale | --no-scale] [--only a,b,...] [--reps N] [--no-write] [--out DIR]
 *
 * --cpus 1,2,8 and --depths 0,31 measure only those points (forkrate, lockdep, kernel sections).
 * Sections: primitives (tinybench), forkrate (model fork+exit+wait cycles across CPUs x depths,
 * with the lock breakdown), lockdep (the same cycle with lockdep on), kernel (the real kernel's
 * fork/vfork/pthread at the same points), alternatives (piscina / postMessage per operation),
 * controlled (decisions per second, catalogued deadlocks), profile (V8 CPU profiles of the CPU
 * threads, 1 against 2 CPUs at depth 0: bench/profile_diff.ts), scale (fork bomb to pid_max: ~2 GiB of
 * shared memory and ~20 s; in the full run unless --no-scale, in --quick only with --scale).
 * Prints tables, writes bench/results/latest.json (every sample and the
 * machine's description, written atomically), latest.md (the figures to quote) and forkrate.svg.
 *
 * `runBench(opts)` is the entry the CLI imports; this module is main-side only (workers never
 * import bench code).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus as osCpus, freemem, loadavg, release, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../src/machine.js';
import { findCompiler, isRoot } from '../src/native/build.js';
import { benchPrimitives, type PrimitiveFigure } from './primitives.js';
import { benchForkRate, type ForkRatePoint, type Workload } from './forkrate.js';
import { fmtRoundTrip, type HostProbeSummary } from './host_probe.js';
import { benchGuards, type GuardCost } from './guards.js';
import { benchKernel, type KernelBenchResult } from './kernel.js';
import { benchAlternatives, type AltResult } from './alternatives.js';
import { benchControlled, type ControlledResult } from './controlled.js';
import { benchScale, type ScaleResult } from './scale.js';
import { profileForkCycle, type ProfileDiff } from './profile_diff.js';
import { renderForkChart, type ChartSeries } from './chart.js';
import { leastSquares, ns, summarize, table, type Logger } from './util.js';

export const SECTIONS = ['primitives', 'forkrate', 'lockdep', 'guards', 'kernel', 'alternatives', 'controlled', 'profile', 'scale'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  /** ~1 minute: fewer points, one repetition, short windows. */
  quick?: boolean;
  /** The fork bomb to pid_max (~20 s, ~2 GiB of shared memory): default on for the full run, off for --quick. */
  scale?: boolean;
  /** Run only these sections. */
  only?: readonly Section[];
  /** Repetitions per point (default 3, quick 1). */
  reps?: number;
  /** Write bench/results (default true). */
  write?: boolean;
  /** Output directory (default <project>/bench/results). */
  outDir?: string;
  /** Measure only these model CPU counts (and kernel looper counts): `--cpus 1,2,8`. */
  cpus?: readonly number[];
  /** Measure only these namespace depths: `--depths 0,31`. */
  depths?: readonly number[];
  /** Progress and tables go here (default console.log). */
  log?: Logger;
}

export interface TargetResult {
  id: string;
  target: string;
  value: number | null;
  goal: number;
  unit: string;
  met: boolean | null;
  /** value / goal (for "at most" targets: goal / value), > 1 is better than the goal. */
  margin: number | null;
  note: string;
}

export interface BenchReport {
  date: string;
  command: string;
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  durationSec: number;
  primitives?: PrimitiveFigure[];
  forkrate?: {
    workload: Workload; points: ForkRatePoint[]; errors: string[];
    /** The points with more CPUs than host cores again with --host-preemption (no run tokens), interleaved. */
    hostPreemptionPoints: ForkRatePoint[];
    /** Least squares of ns per cycle (1 CPU) against depth, over the medians and over the best repetitions. */
    modelSlope?: { interceptNs: number; perLevelNs: number; r2: number };
    modelSlopeBest?: { interceptNs: number; perLevelNs: number; r2: number };
    /** What the host gave two threads beside each repetition (bench/host_probe.ts), when 2 CPUs were measured. */
    host?: HostProbeSummary;
  };
  lockdep?: { points: ForkRatePoint[]; costRatio: Record<string, number> };
  /** The checked build (--check-guards) against the normal one: fork cycle and stress ops/s. */
  guards?: GuardCost;
  kernel?: KernelBenchResult;
  ratios?: Array<{ cpus: number; depth: number; model: number; kernel: Record<string, number | null>; modelOverKernelFork: number | null }>;
  alternatives?: AltResult & { modelForkCycleUs?: number };
  controlled?: ControlledResult;
  /** Where the fork cycle's time goes at 1 and 2 CPUs (bench/profile_diff.ts). */
  profile?: ProfileDiff;
  scale?: ScaleResult;
  targets: TargetResult[];
  /** Sections that failed (the rest of the run went on). */
  errors?: Array<{ section: string; message: string }>;
}

/** Run one section; a failure is logged and recorded, and the benchmark goes on. */
async function section(report: BenchReport, name: string, log: Logger, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    log(`  ${name}: FAILED: ${message}`);
    (report.errors ??= []).push({ section: name, message });
  }
}

function machineInfo(): Record<string, unknown> {
  const c = osCpus();
  let piscina = '?';
  try { piscina = JSON.parse(readFileSync(join(projectRoot(), 'node_modules', 'piscina', 'package.json'), 'utf8')).version; } catch { /* absent */ }
  const cc = findCompiler();
  return {
    node: process.version, v8: process.versions.v8, piscina, platform: process.platform, arch: process.arch,
    kernel: release(), cpuModel: c[0]?.model ?? '?', cpus: c.length, memGiB: +(totalmem() / 2 ** 30).toFixed(1),
    freeMemGiB: +(freemem() / 2 ** 30).toFixed(1), loadavg: loadavg().map((x) => +x.toFixed(2)), root: isRoot(), cc: cc ?? null,
  };
}

function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

const fmtRate = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');

export async function runBench(opts: BenchOptions = {}): Promise<BenchReport> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const quick = opts.quick ?? false;
  const reps = opts.reps ?? (quick ? 1 : 3);
  const scale = opts.scale ?? !quick;
  const want = (s: Section): boolean => (opts.only ? opts.only.includes(s) : s !== 'scale' || scale);
  const t0 = performance.now();
  const machine = machineInfo();
  const report: BenchReport = {
    date: new Date().toISOString(),
    command: `npm run bench${quick || opts.scale !== undefined || opts.only || opts.cpus || opts.depths ? ' --' : ''}${quick ? ' --quick' : ''}${opts.scale === true && quick ? ' --scale' : ''}${opts.scale === false && !quick ? ' --no-scale' : ''}${opts.only ? ` --only ${opts.only.join(',')}` : ''}${opts.cpus ? ` --cpus ${opts.cpus.join(',')}` : ''}${opts.depths ? ` --depths ${opts.depths.join(',')}` : ''}`,
    machine, options: { quick, reps, scale, only: opts.only ?? null, cpus: opts.cpus ?? null, depths: opts.depths ?? null }, durationSec: 0, targets: [],
  };
  log(`pidrace bench on ${machine.cpuModel} x${machine.cpus}, Node ${machine.node}, Linux ${machine.kernel}${quick ? '  (quick)' : ''}`);

  const cpusList = opts.cpus ? [...opts.cpus] : quick ? [1, 2, 8] : [1, 2, 4, 8];
  const depths = opts.depths ? [...opts.depths] : quick ? [0, 31] : [0, 1, 4, 16, 31];
  // Warm-up: a wall-clock minimum and, for the fork-rate points, a number of syscalls every CPU
  // (every worker's V8 isolate) completes before the window opens (see ForkRateOptions).
  const win = quick ? { warmupMs: 150, warmupSyscalls: 10_000, measureMs: 400 } : { warmupMs: 300, warmupSyscalls: 40_000, measureMs: 1000 };

  if (want('primitives')) await section(report, 'primitives', log, async () => {
    log('\n== Primitives (tinybench, one CPU in-process) ==');
    const timeMs = quick ? 150 : 500;
    const prims = [...await benchPrimitives({ lockdep: false, timeMs }), ...await benchPrimitives({ lockdep: true, timeMs })];
    report.primitives = prims;
    const names = [...new Set(prims.map((p) => p.name))];
    log(table(['primitive (median of samples)', 'lockdep off', 'lockdep on', 'on/off'], names.map((n) => {
      const off = prims.find((p) => p.name === n && !p.lockdep);
      const on = prims.find((p) => p.name === n && p.lockdep);
      return [n, off ? ns(off.medianNs) : '-', on ? ns(on.medianNs) : '-', off && on ? `${(on.medianNs / off.medianNs).toFixed(2)}x` : '-'];
    })));
  });

  let fr: BenchReport['forkrate'];
  if (want('forkrate')) {
    log(`\n== Fork rate of the model: fork -> exit -> wait4 loopers, one per CPU (${reps} rep(s), ${win.measureMs} ms windows) ==`);
    const r = await benchForkRate({ cpus: cpusList, depths, reps, ...win, log, hostPreemptionToo: true, hostProbe: cpusList.some((c) => c >= 2) });
    fr = { ...r };
    const one = r.points.filter((p) => p.cpus === 1).sort((a, b) => a.depth - b.depth);
    if (one.length >= 2) {
      const fit = leastSquares(one.map((p) => p.depth), one.map((p) => 1e9 / p.rate.median));
      fr.modelSlope = { interceptNs: fit.intercept, perLevelNs: fit.slope, r2: fit.r2 };
      const best = leastSquares(one.map((p) => p.depth), one.map((p) => 1e9 / p.rate.max));
      fr.modelSlopeBest = { interceptNs: best.intercept, perLevelNs: best.slope, r2: best.r2 };
    }
    report.forkrate = fr;
    log(`\nworkload: ${r.workload}${r.workload !== 'fork' ? ' (STAND-IN: fork is not registered yet)' : ''}`);
    log(table(['cpus', 'depth', 'cycles/s (median)', 'min', 'max', 'per CPU', 'speedup', 'efficiency', 'ns/cycle/CPU'], r.points.map((p) => [
      p.cpus, p.depth, fmtRate(p.rate.median), fmtRate(p.rate.min), fmtRate(p.rate.max), fmtRate(p.perCpu),
      p.speedup !== undefined ? `${p.speedup.toFixed(2)}x` : '-', p.efficiency !== undefined ? `${(100 * p.efficiency).toFixed(0)}%` : '-', ns(p.nsPerCycle),
    ])));
    if (fr.modelSlope) log(`model per-level cost (least squares, 1 CPU, depths ${one.map((p) => p.depth).join('/')}): ${ns(fr.modelSlope.perLevelNs)}/level over ${ns(fr.modelSlope.interceptNs)} (r² ${fr.modelSlope.r2.toFixed(3)}); over the best repetitions ${ns(fr.modelSlopeBest!.perLevelNs)}/level over ${ns(fr.modelSlopeBest!.interceptNs)} (r² ${fr.modelSlopeBest!.r2.toFixed(3)})`);
    if (r.host) log(`host beside the repetitions (bench/host_probe.ts, medians of ${r.host.samples.length}): two threads of independent work ${r.host.scale.median.toFixed(2)}x one thread (min ${r.host.scale.min.toFixed(2)}, max ${r.host.scale.max.toFixed(2)}; 2x on two free cores), spinning round trip between them ${fmtRoundTrip(r.host.roundTripUs.median)} (min ${fmtRoundTrip(r.host.roundTripUs.min)})`);
    if (r.hostPreemptionPoints.length) {
      // Since session 6 a run with more CPUs than cores has one host thread per core running
      // several CPUs each (src/sched/mux.ts): the threads are its run tokens.
      log(`\nHost threads as run tokens (${osCpus().length} host cores, several CPUs per thread) against --host-preemption, same run (median cycles/s; cycles per CPU-second; fairness = least CPU's share of its fair share):`);
      log(table(['cpus', 'depth', 'threads', 'per CPU-s', 'fairness', 'host preemption', 'per CPU-s', 'fairness', 'threads / host'], r.hostPreemptionPoints.map((h) => {
        const p = r.points.find((q) => q.cpus === h.cpus && q.depth === h.depth);
        const med = (x: ForkRatePoint | undefined, f: (s: ForkRatePoint['samples'][number]) => number): number => (x ? summarize(x.samples.map(f)).median : NaN);
        return [h.cpus, h.depth, fmtRate(p?.rate.median ?? NaN), fmtRate(med(p, (s) => s.cyclesPerCpuSec)), med(p, (s) => s.minCpuShare).toFixed(2),
          fmtRate(h.rate.median), fmtRate(med(h, (s) => s.cyclesPerCpuSec)), med(h, (s) => s.minCpuShare).toFixed(2), p ? `${(p.rate.median / h.rate.median).toFixed(2)}x` : '-'];
      })));
    }
    log('\nLock breakdown (median sample; per cycle: acquisitions, % contended, wait):');
    const classes = [...new Set(r.points.flatMap((p) => p.locks.filter((l) => l.acqPerCycle >= 0.05).map((l) => l.name)))];
    const shown = r.points.filter((p) => p.depth === depths[0] || p.depth === depths[depths.length - 1]);
    log(table(['lock class', ...shown.map((p) => `${p.cpus}cpu/d${p.depth}`)], classes.map((c) => [c, ...shown.map((p) => {
      const l = p.locks.find((x) => x.name === c);
      return l ? `${l.acqPerCycle.toFixed(1)} ${l.contendedPct.toFixed(1)}% ${ns(l.waitNsPerCycle)}` : '-';
    })])));
  }

  if (want('lockdep')) {
    log('\n== Lockdep cost on the fork cycle (1 CPU) ==');
    const ld = depths.filter((d) => d === 0 || d === 31);
    const on = await benchForkRate({ cpus: [1], depths: ld, reps, ...win, lockdep: true, log });
    const costRatio: Record<string, number> = {};
    for (const p of on.points) {
      const off = fr?.points.find((q) => q.cpus === 1 && q.depth === p.depth && q.workload === p.workload);
      if (off) costRatio[`depth${p.depth}`] = off.rate.median / p.rate.median;
      log(`  depth ${p.depth}: lockdep on ${fmtRate(p.rate.median)} cycles/s${off ? ` vs off ${fmtRate(off.rate.median)}: ${(off.rate.median / p.rate.median).toFixed(2)}x the cost` : ''}`);
    }
    report.lockdep = { points: on.points, costRatio };
  }

  if (want('guards')) {
    log('\n== Checked build (--check-guards) cost: fork cycle (1 CPU) and stress ops/s (4 CPUs, full mix) ==');
    const g = await benchGuards({ reps, depths: depths.filter((d) => d === 0 || d === 31), ...win, stressMs: quick ? 2_000 : 5_000, log });
    for (const f of g.fork) log(`  fork cycle depth ${f.depth}: normal ${fmtRate(f.off.median)} cycles/CPU-s, checked ${fmtRate(f.on.median)}: ${f.ratio.toFixed(2)}x the cost (wall clock: ${fmtRate(f.wallOff.median)} vs ${fmtRate(f.wallOn.median)} cycles/s)`);
    log(`  stress: normal ${fmtRate(g.stress.off.median)} ops/CPU-s, checked ${fmtRate(g.stress.on.median)}: ${g.stress.ratio.toFixed(2)}x the cost (wall clock: ${fmtRate(g.stress.wallOff.median)} vs ${fmtRate(g.stress.wallOn.median)} ops/s; ${g.stress.onViolations} violations)`);
    report.guards = g;
  }

  if (want('kernel')) {
    log('\n== The real kernel, same run (native/forkbench_native.c) ==');
    const k = await benchKernel({
      modes: ['fork', 'vfork', 'thread'],
      depths,
      loopers: cpusList,
      reps,
      millis: quick ? 250 : 500,
      log,
    });
    report.kernel = k;
    if (k.available) {
      log(table(['mode', 'loopers', ...depths.map((d) => `depth ${d}`)], ['fork', 'vfork', 'thread'].flatMap((mode) => cpusList.map((l) => [mode, l, ...depths.map((d) => {
        const p = k.points.find((q) => q.mode === mode && q.loopers === l && q.depth === d);
        return p && p.rate.n ? fmtRate(p.rate.median) : '-';
      })]))));
      for (const s of k.slopes.filter((x) => x.loopers === 1)) log(`kernel ${s.mode} per-level cost (1 looper): ${ns(s.perLevelNs)}/level over ${ns(s.interceptNs)} (r² ${s.r2.toFixed(3)})`);
      if (fr) {
        report.ratios = [];
        for (const p of fr.points) {
          const kr: Record<string, number | null> = {};
          for (const mode of ['fork', 'vfork', 'thread']) {
            const q = k.points.find((x) => x.mode === mode && x.loopers === p.cpus && x.depth === p.depth);
            kr[mode] = q && q.rate.n ? q.rate.median : null;
          }
          report.ratios.push({ cpus: p.cpus, depth: p.depth, model: p.rate.median, kernel: kr, modelOverKernelFork: kr.fork ? p.rate.median / kr.fork : null });
        }
        log('\nModel / kernel (cycles per second, model CPUs = kernel loopers):');
        log(table(['cpus', 'depth', 'model', 'kernel fork', 'model/fork', 'model/vfork', 'model/thread'], report.ratios.map((r) => [
          r.cpus, r.depth, fmtRate(r.model), r.kernel.fork ? fmtRate(r.kernel.fork) : '-',
          r.kernel.fork ? `${(r.model / r.kernel.fork).toFixed(1)}x` : '-', r.kernel.vfork ? `${(r.model / r.kernel.vfork).toFixed(1)}x` : '-',
          r.kernel.thread ? `${(r.model / r.kernel.thread).toFixed(1)}x` : '-',
        ])));
        const ks = k.slopes.find((x) => x.mode === 'fork' && x.loopers === 1);
        if (fr.modelSlope && ks) log(`per-level slope: model ${ns(fr.modelSlope.perLevelNs)}, kernel fork ${ns(ks.perLevelNs)} (${(ks.perLevelNs / fr.modelSlope.perLevelNs).toFixed(0)}x)`);
      }
    }
  }

  if (want('alternatives')) await section(report, 'alternatives', log, async () => {
    log('\n== Alternatives: one kernel operation per dispatch ==');
    const a = await benchAlternatives({ ms: quick ? 300 : 1000, log });
    const one = fr?.points.find((p) => p.cpus === 1 && p.depth === 0);
    report.alternatives = { ...a, modelForkCycleUs: one ? 1e6 / one.rate.median : undefined };
    if (one) log(`  ${'one model fork cycle (1 CPU, depth 0)'.padEnd(40)} ${(1e6 / one.rate.median).toFixed(2)} µs/cycle${fr?.workload !== 'fork' ? ' (stand-in workload)' : ''}`);
  });

  if (want('controlled')) {
    log('\n== Controlled mode ==');
    await section(report, 'controlled', log, async () => {
      report.controlled = await benchControlled({ cpus: 2, reps: quick ? 1 : 3, ms: quick ? 400 : 1000, scenarioReps: quick ? 1 : 3, log });
    });
  }

  // 1 against 2 CPUs: skipped when --cpus leaves either out.
  if (want('profile') && (!opts.cpus || (opts.cpus.includes(1) && opts.cpus.includes(2)))) {
    log('\n== Profile: where the fork cycle goes, 1 against 2 CPUs (depth 0, V8 CPU profiles of the CPU threads) ==');
    await section(report, 'profile', log, async () => {
      const d = profileForkCycle([1, 2], quick ? 1_500 : 4_000, 0, 24);
      report.profile = d;
      for (const i of [0, 1]) log(`  ${d.cpus[i]} CPU(s): ${fmtRate(d.cyclesPerSec[i]!)} cycles/s, ${ns(d.totalNs[i]!)} of CPU thread time a cycle, of which waits ${ns(d.waitNs[i]!)}, WebAssembly atomics ${ns(d.atomicsNs[i]!)}`);
      log(table(['function', '1 CPU ns/cycle', '2 CPUs ns/cycle', 'difference'], d.rows.slice(0, 12).map((r) => [r.fn, r.a, r.b, r.b - r.a])));
    });
  }

  if (want('scale')) {
    log('\n== Scale: fork bomb to pid_max = 4,194,304 in one namespace tree ==');
    await section(report, 'scale', log, async () => { report.scale = await benchScale({ log }); });
  }

  report.machine.loadavgEnd = loadavg().map((x) => +x.toFixed(2));
  report.targets = evaluateTargets(report);
  log('\n== Targets (issues 7 and 15) ==');
  log(table(['target', 'goal', 'measured', 'met', 'margin', 'note'], report.targets.map((t) => [
    t.target, `${t.goal.toLocaleString('en-US')} ${t.unit}`, t.value === null ? '-' : `${+t.value.toPrecision(4)} ${t.unit}`,
    t.met === null ? 'n/a' : t.met ? 'MET' : 'missed', t.margin === null ? '-' : `${t.margin.toFixed(2)}x`, t.note,
  ])));
  report.durationSec = +((performance.now() - t0) / 1000).toFixed(1);

  if (opts.write ?? true) {
    const dir = opts.outDir ?? join(projectRoot(), 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeAtomic(join(dir, 'latest.json'), JSON.stringify(report, null, 1));
    const files = ['latest.json'];
    const svg = chartOf(report);
    if (svg) { writeAtomic(join(dir, 'forkrate.svg'), svg); files.push('forkrate.svg'); }
    writeAtomic(join(dir, 'latest.md'), markdownOf(report));
    files.push('latest.md');
    const shown = relative(process.cwd(), dir) || '.';
    log(`\nwrote ${files.map((f) => join(shown.startsWith('..') ? dir : shown, f)).join(', ')}  (${report.durationSec} s)`);
  }
  return report;
}

function chartOf(r: BenchReport): string | undefined {
  if (!r.forkrate) return undefined;
  const series: ChartSeries[] = [];
  const depths = [...new Set(r.forkrate.points.map((p) => p.depth))];
  for (const d of depths) {
    series.push({
      label: `model, depth ${d}`, kind: 'model', depth: d,
      points: r.forkrate.points.filter((p) => p.depth === d).map((p) => ({ x: p.cpus, y: p.rate.median, min: p.rate.min, max: p.rate.max })),
    });
    const k = r.kernel?.points.filter((p) => p.mode === 'fork' && p.depth === d && p.rate.n > 0) ?? [];
    if (k.length) series.push({ label: `kernel fork, depth ${d}`, kind: 'kernel', depth: d, points: k.map((p) => ({ x: p.loopers, y: p.rate.median, min: p.rate.min, max: p.rate.max })) });
  }
  const m = r.machine;
  return renderForkChart(series, {
    title: `Fork rate: fork -> exit -> wait4 cycles per second${r.forkrate.workload !== 'fork' ? ' (stand-in workload)' : ''}`,
    subtitle: `${m.cpuModel} x${m.cpus}, Node ${m.node}, Linux ${m.kernel}, ${r.date.slice(0, 10)}: model = pidrace worker CPUs, kernel = looper processes`,
    xLabel: 'CPUs (model workers) / looper processes (kernel)',
    yLabel: 'cycles per second (log)',
  });
}

/** The targets of issue 7, measured against this run. */
export function evaluateTargets(r: BenchReport): TargetResult[] {
  const out: TargetResult[] = [];
  const stand = r.forkrate && r.forkrate.workload !== 'fork' ? ' (stand-in workload: fork not registered)' : '';
  const pt = (c: number, d: number) => r.forkrate?.points.find((p) => p.cpus === c && p.depth === d);
  const topLocks = (p: ForkRatePoint | undefined): string => (p ? p.locks.slice().sort((a, b) => b.waitNsPerCycle - a.waitNsPerCycle).slice(0, 3)
    .filter((l) => l.waitNsPerCycle > 0).map((l) => `${l.name} ${ns(l.waitNsPerCycle)}/cycle wait, ${l.contendedPct.toFixed(1)}% contended`).join('; ') : '');
  const atLeast = (id: string, target: string, value: number | undefined, goal: number, unit: string, note = ''): void => {
    const v = value ?? null;
    out.push({ id, target, value: v, goal, unit, met: v === null ? null : v >= goal, margin: v === null ? null : v / goal, note });
  };
  const atMost = (id: string, target: string, value: number | undefined, goal: number, unit: string, note = ''): void => {
    const v = value ?? null;
    out.push({ id, target, value: v, goal, unit, met: v === null ? null : v <= goal, margin: v === null ? null : v > 0 ? goal / v : Infinity, note });
  };
  const best = (p: ForkRatePoint | undefined): string => (p ? `best rep ${fmtRate(p.rate.max)}/s` : '');
  const p10 = pt(1, 0);
  const prof = r.profile;
  // What the profile section measured (bench/profile_diff.ts): the largest self times at one CPU,
  // and where two CPUs' extra thread time per cycle goes.
  const profTop = prof ? `; profile (1 CPU, ${ns(prof.totalNs[0])} of thread time a cycle): ${prof.topFirst.slice(0, 4).map((x) => `${x.fn.split(' ')[0]} ${(100 * x.a / prof.totalNs[0]).toFixed(1)}%`).join(', ')}, WebAssembly atomics ${(100 * prof.atomicsNs[0] / prof.totalNs[0]).toFixed(1)}% in all` : '';
  const profDiff = prof ? `; profile: ${ns(prof.totalNs[1] - prof.totalNs[0])} more thread time a cycle at 2 CPUs, of which waits ${ns(prof.waitNs[1] - prof.waitNs[0])}, WebAssembly atomics ${ns(prof.atomicsNs[1] - prof.atomicsNs[0])}` : '';
  atLeast('rate-1cpu-d0', '1 CPU depth 0 fork cycles/s', p10?.rate.median, 6e5, '/s', `${best(p10)}${profTop}${stand}`);
  const kf = r.kernel?.points.find((p) => p.mode === 'fork' && p.depth === 0 && p.loopers === 1 && p.rate.n > 0);
  atLeast('vs-kernel-d0', '1 CPU depth 0 vs kernel fork (same run)', p10 && kf ? p10.rate.median / kf.rate.median : undefined, 100, 'x',
    kf ? `kernel ${fmtRate(kf.rate.median)}/s; best reps ${p10 ? (p10.rate.max / kf.rate.max).toFixed(1) : '-'}x${stand}` : r.kernel?.skipped ? `kernel skipped: ${r.kernel.skipped}` : 'kernel not measured');
  const p131 = pt(1, 31);
  atLeast('rate-1cpu-d31', '1 CPU depth 31 fork cycles/s', p131?.rate.median, 4e5, '/s', `${best(p131)}${stand}`);
  const ks = r.kernel?.slopes.find((s) => s.mode === 'fork' && s.loopers === 1);
  atMost('per-level', 'per-level cost (least squares, 1 CPU)', r.forkrate?.modelSlope?.perLevelNs, 40, 'ns',
    `${r.forkrate?.modelSlopeBest ? `over best reps ${ns(r.forkrate.modelSlopeBest.perLevelNs)}; ` : ''}${ks ? `kernel fork ${ns(ks.perLevelNs)}/level` : ''}${stand}`);
  const p20 = pt(2, 0);
  const host = r.forkrate?.host;
  const hostNote = host ? `; host beside it: two threads of independent work ${host.scale.median.toFixed(2)}x one (2x on two free cores), spinning round trip ${fmtRoundTrip(host.roundTripUs.median)}` : '';
  const perCpuSec = (p: ForkRatePoint): number => summarize(p.samples.map((x) => x.cyclesPerCpuSec)).median;
  atLeast('scale-2cpu', '2 CPUs vs 1 CPU (depth 0)', p20 && p10 ? p20.rate.median / p10.rate.median : undefined, 1.3, 'x', p20 && p10 ? `best reps ${(p20.rate.max / p10.rate.max).toFixed(2)}x; per CPU-second of the process ${(perCpuSec(p20) / perCpuSec(p10)).toFixed(2)}x one CPU's${hostNote}; ${topLocks(p20)}${profDiff}${stand}` : '');
  const p80 = pt(8, 0);
  const hp = (c: number): ForkRatePoint | undefined => r.forkrate?.hostPreemptionPoints?.find((p) => p.cpus === c && p.depth === 0);
  const vsHost = (c: number): string => {
    const h = hp(c);
    const p = pt(c, 0);
    return h && p ? `; --host-preemption ${fmtRate(h.rate.median)}/s (tokens ${(p.rate.median / h.rate.median).toFixed(1)}x that)` : '';
  };
  atLeast('scale-8on2', '8 workers vs 2 workers (2 cores, depth 0)', p80 && p20 ? p80.rate.median / p20.rate.median : undefined, 0.8, 'x', p80 && p20 ? `best reps ${(p80.rate.max / p20.rate.max).toFixed(2)}x${vsHost(8)}; ${topLocks(p80)}${stand}` : '');
  const p40 = pt(4, 0);
  atLeast('scale-4on2', '4 workers vs 2 workers (2 cores, depth 0)', p40 && p20 ? p40.rate.median / p20.rate.median : undefined, 0.9, 'x', p40 && p20 ? `best reps ${(p40.rate.max / p20.rate.max).toFixed(2)}x${vsHost(4)}; ${topLocks(p40)}${stand}` : '');
  const fair = p80 ? Math.min(...p80.samples.map((s) => s.minCpuShare)) : undefined;
  atLeast('fair-8', 'least CPU share of its fair share (8 CPUs, depth 0, every window)', fair, 0.5, 'x', p80 ? `windows of ${(p80.samples[0]?.seconds ?? 0).toFixed(1)} s` : '');
  const lr = r.lockdep?.costRatio.depth0;
  atMost('lockdep', 'lockdep on / off cost (fork cycle, 1 CPU, depth 0)', lr, 3, 'x', stand);
  const gf = r.guards?.fork.find((f) => f.depth === 0);
  atMost('guards-fork', 'checked / normal build cost (fork cycles per CPU-s, 1 CPU, depth 0)', gf?.ratio, 3, 'x', stand);
  atMost('guards-stress', 'checked / normal build cost (stress ops per CPU-s, 4 CPUs, full mix)', r.guards?.stress.ratio, 3, 'x', stand);
  return out;
}

function markdownOf(r: BenchReport): string {
  const L: string[] = [];
  const m = r.machine;
  L.push(`# pidrace benchmark figures`);
  L.push('');
  L.push(`Produced by \`${r.command}\` on ${r.date} (${m.cpuModel} x${m.cpus}, ${m.memGiB} GiB, Node ${m.node}, Linux ${m.kernel}); ${r.durationSec} s. Every sample is in latest.json; the chart is forkrate.svg.`);
  L.push('', `Load average at the start ${(m.loadavg as number[]).join(' / ')}, at the end ${((m.loadavgEnd as number[] | undefined) ?? []).join(' / ')} (1/5/15 min; 2 cores): a load above 2 means other processes shared the cores, so the medians carry that and the max column (best repetition) is the least disturbed figure.`);
  L.push('');
  if (r.forkrate) {
    L.push(`## Fork rate (${r.forkrate.workload === 'fork' ? 'fork -> exit -> wait4' : 'STAND-IN kthread torture cycle: fork not registered yet'})`);
    L.push('');
    L.push('| CPUs | depth | cycles/s (median) | min | max | per CPU | efficiency | model/kernel fork |');
    L.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const p of r.forkrate.points) {
      const ratio = r.ratios?.find((x) => x.cpus === p.cpus && x.depth === p.depth)?.modelOverKernelFork;
      L.push(`| ${p.cpus} | ${p.depth} | ${fmtRate(p.rate.median)} | ${fmtRate(p.rate.min)} | ${fmtRate(p.rate.max)} | ${fmtRate(p.perCpu)} | ${p.efficiency !== undefined ? `${(100 * p.efficiency).toFixed(0)}%` : '-'} | ${ratio ? `${ratio.toFixed(0)}x` : '-'} |`);
    }
    if (r.forkrate.modelSlope) L.push('', `Per-level cost: model ${ns(r.forkrate.modelSlope.perLevelNs)}${r.kernel?.slopes.find((s) => s.mode === 'fork' && s.loopers === 1) ? `, kernel fork ${ns(r.kernel.slopes.find((s) => s.mode === 'fork' && s.loopers === 1)!.perLevelNs)}` : ''} (least squares over the depths).`);
    L.push('');
  }
  L.push('## Targets (issues 7 and 15)', '', '| target | goal | measured | met | margin | note |', '|---|---:|---:|:---:|---:|---|');
  for (const t of r.targets) L.push(`| ${t.target} | ${t.goal.toLocaleString('en-US')} ${t.unit} | ${t.value === null ? '-' : `${+t.value.toPrecision(4)} ${t.unit}`} | ${t.met === null ? 'n/a' : t.met ? 'met' : '**missed**'} | ${t.margin === null ? '-' : `${t.margin.toFixed(2)}x`} | ${t.note} |`);
  L.push('');
  if (r.alternatives) {
    L.push('## One kernel operation per dispatch', '', '| how | per operation |', '|---|---:|');
    for (const f of r.alternatives.figures) L.push(`| ${f.name} | ${f.usPerOp < 1 ? `${(f.usPerOp * 1000).toFixed(1)} ns` : `${f.usPerOp.toFixed(2)} µs`} |`);
    if (r.alternatives.modelForkCycleUs) L.push(`| one model fork cycle (1 CPU) | ${r.alternatives.modelForkCycleUs.toFixed(2)} µs |`);
    L.push('');
  }
  if (r.controlled) {
    L.push('## Controlled mode', '', `${fmtRate(r.controlled.decisionsPerSec.median)} scheduling decisions per second (${r.controlled.cpus} CPUs). ${r.controlled.scenariosNote}.`, '');
    if (r.controlled.scenarios.length) {
      L.push('| catalogued deadlock (default buggy variant) | time to first hit (median) | schedules | hit |', '|---|---:|---:|---:|');
      for (const t of r.controlled.scenarios) {
        L.push(`| ${t.name} | ${t.error ? `error: ${t.error}` : `${t.summary.median.toFixed(1)} ms`} | ${t.schedules.length ? summarize(t.schedules).median : '-'} | ${t.hit.filter(Boolean).length}/${t.hit.length} |`);
      }
      L.push('');
    }
  }
  if (r.scale) L.push('## Scale', '', r.scale.summary, '');
  return L.join('\n');
}

/** Bounds of --cpus (model CPUs, as `pidrace stress --cpus`) and --depths (MAX_PID_NS_LEVEL - 1). */
export const BENCH_MAX_CPUS = 64;
export const BENCH_MAX_DEPTH = 31;

/** Bad bench arguments: the caller prints the message and exits 2. */
export class BenchUsageError extends Error {}

export const BENCH_USAGE = `usage: npm run bench -- [--quick] [--scale | --no-scale] [--only ${SECTIONS.join(',')}] [--reps N] [--cpus 1,2,8] [--depths 0,31] [--no-write] [--out DIR]`;

export function parseArgs(argv: readonly string[]): BenchOptions {
  const o: BenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') o.quick = true;
    else if (a === '--scale') o.scale = true;
    else if (a === '--no-scale') o.scale = false;
    else if (a === '--no-write') o.write = false;
    else if (a === '--out') {
      o.outDir = argv[++i];
      if (!o.outDir) throw new BenchUsageError('--out needs a directory');
    }
    else if (a === '--reps' || a.startsWith('--reps=')) {
      const v = a === '--reps' ? argv[++i] : a.slice(7);
      if (!v || !/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 50) throw new BenchUsageError(`--reps: "${v ?? ''}" is not a whole number from 1 to 50`);
      o.reps = Number(v);
    }
    else if (a === '--cpus' || a.startsWith('--cpus=') || a === '--depths' || a.startsWith('--depths=')) {
      const name = a.startsWith('--cpus') ? '--cpus' : '--depths';
      const v = a === name ? argv[++i] : a.slice(name.length + 1);
      const [lo, hi] = name === '--cpus' ? [1, BENCH_MAX_CPUS] : [0, BENCH_MAX_DEPTH];
      const list = (v ?? '').split(',');
      if (!v || list.some((x) => !/^\d+$/.test(x) || Number(x) < lo || Number(x) > hi)) {
        throw new BenchUsageError(`${name}: "${v ?? ''}" is not a comma-separated list of whole numbers from ${lo} to ${hi}`);
      }
      const nums = [...new Set(list.map(Number))].sort((x, y) => x - y);
      if (name === '--cpus') o.cpus = nums;
      else o.depths = nums;
    }
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] ?? '' : a.slice(7);
      const list = v.split(',').filter(Boolean);
      if (!list.length) throw new BenchUsageError(`--only needs a list of sections (${SECTIONS.join(', ')})`);
      for (const s of list) if (!(SECTIONS as readonly string[]).includes(s)) throw new BenchUsageError(`--only: unknown section '${s}' (${SECTIONS.join(', ')})`);
      o.only = list as Section[];
    } else if (a === '--help' || a === '-h') {
      console.log(BENCH_USAGE);
      process.exit(0);
    } else throw new BenchUsageError(`unknown option ${a}`);
  }
  return o;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let opts: BenchOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof BenchUsageError)) throw e;
    console.error(`pidrace bench: ${e.message}\n${BENCH_USAGE}`);
    process.exit(2);
  }
  runBench(opts).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
}

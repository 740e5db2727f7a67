/**
 * Fork rate of the model (issue 7): one looper task per CPU doing fork -> the child exits -> the
 * parent reaps it with wait4, for CPU counts x pid-namespace depths, each point repeated.
 *
 * A setup program first builds the namespace chain (unshare(CLONE_NEWPID) + fork per level: the
 * child is pid 1 of the new namespace and goes one level deeper); the innermost task forks the
 * loopers and halts. The CPUs are worker threads (Machine.run, free-running); the rate is read
 * from G.total_forks between two samples taken by the main thread after a warm-up, and the lock
 * statistics (Float64 stats buffer, per CPU per class) are differenced over the same window.
 *
 * Until the process model registers SYS_FORK, the harness runs a stand-in workload (kthreads
 * looping over the torture lock calls) so that the machinery is exercised; the JSON says which.
 */
import { availableParallelism } from 'node:os';
import { Machine } from '../src/machine.js';
import { CPU, G, MAX_LOCK_CLASSES, SLAB, TASK } from '../src/mm/layout.js';
import {
  cpu_addr, kg, regions, SLAB_TASK, slab_addr, STAT_ACQ, STAT_CONTENDED, STAT_W_ACQ, STAT_W_CONTENDED, STAT_W_WAIT_NS, STAT_WAIT_NS, STAT_WORDS,
} from '../src/mm/memory.js';
import { kmem_cache_in_use } from '../src/mm/slab.js';
import { lock_class_name } from '../src/locking/lockdep.js';
import { OP_HALT, OP_JMP, OP_NONE, syscall_name } from '../src/kernel/entry.js';
import { TASK_INTERRUPTIBLE, TASK_RUNNING, try_to_wake_up } from '../src/sched/core.js';
import { SYS_EXIT, SYS_FORK, SYS_UNSHARE, SYS_WAIT4 } from '../src/kernel/unistd.js';
import { SYS_TORTURE_READ, SYS_TORTURE_SPIN, SYS_TORTURE_WRITE } from '../src/kernel/torture.js';
import { summarize, type Logger, type Summary } from './util.js';
import { fmtRoundTrip, probeHost, summarizeHost, type HostProbeSample, type HostProbeSummary } from './host_probe.js';
import { CLONE_NEWPID } from '../src/kernel/clone_flags.js';

/** include/uapi/linux/sched.h */

export type Workload = 'fork' | 'kthread-torture';

export interface ForkRateOptions {
  cpus: readonly number[];
  depths: readonly number[];
  reps: number;
  warmupMs: number;
  /**
   * The window also waits until every CPU has completed this many syscalls (bounded by
   * WARMUP_MAX_MS): each CPU is a worker with its own V8 isolate that starts in the interpreter,
   * and with more CPUs than cores each gets a share of the cores, so a wall-clock warm-up alone
   * measured 4 and 8 CPUs while their code was still being compiled.
   */
  warmupSyscalls?: number;
  measureMs: number;
  lockdep?: boolean;
  /**
   * Also measure every point with more CPUs than host cores with --host-preemption (no run tokens),
   * interleaved with the token runs: today's and the old behaviour side by side in one run.
   */
  hostPreemptionToo?: boolean;
  /** Force the stand-in workload even when fork exists (harness tests). */
  workload?: Workload;
  log?: Logger;
  /**
   * Before each repetition, probe what the host gives two threads (bench/host_probe.ts): the
   * 2-CPU points mean something only beside it.
   */
  hostProbe?: boolean;
}

export interface LockRow {
  cls: number;
  name: string;
  /** Which acquisitions: a rwlock's read or write side, or every acquisition of the class. */
  side: 'read' | 'write' | 'all';
  acquisitions: number;
  contended: number;
  waitNs: number;
  /** Per fork cycle (per workload cycle). */
  acqPerCycle: number;
  contendedPct: number;
  waitNsPerCycle: number;
}

export interface ForkRateSample {
  cyclesPerSec: number;
  cycles: number;
  seconds: number;
  /** Completed syscalls per CPU per second (the parent side of a cycle is two: fork and wait4). */
  perCpuSyscallsPerSec: number[];
  /**
   * Cycles per second of process CPU time (every thread; the main thread only samples): what the
   * CPUs got done with the time the host gave them. Less sensitive than cyclesPerSec to other load
   * on a shared machine; spinning and polling count against it.
   */
  cyclesPerCpuSec: number;
  /** Process CPU time over wall time in the window (how many cores the run had on average). */
  coresUsed: number;
  /**
   * Fairness: the least any CPU did in the window, as a share of its fair share (its syscalls over
   * the mean per CPU; 1 = even, 0.5 = half its share).
   */
  minCpuShare: number;
  /** Wall time from the start of the run to the window (the warm-up). */
  warmupMs: number;
  /** Every CPU completed warmupSyscalls before the window (false: WARMUP_MAX_MS ran out first). */
  warmedUp: boolean;
  /** Run tokens handed on at the end of a slice in the window (all CPUs; 0 when tokens are off). */
  tokenYields: number;
  /** Completed syscalls per cycle over all CPUs (2.0 when every fork succeeds). */
  syscallsPerCycle: number;
  /** Most task_struct objects in use at once (slab high water, since boot: the warm-up included). */
  taskHighWater: number;
  /**
   * Most task_struct objects allocated in one look of the main thread's ticks inside the measured
   * window (kmem_cache_in_use, every ~5 ms): the tasks waiting for a grace period while the window
   * ran, without the warm-up's.
   */
  windowTasksMax: number;
  state: string;
  violations: number;
  crash?: string;
  locks: LockRow[];
  /** The window's start and end on CLOCK_MONOTONIC, µs (bench/profile_diff.ts keeps the profile samples inside it). */
  windowMonoUs: [number, number];
}

export interface ForkRatePoint {
  workload: Workload;
  cpus: number;
  depth: number;
  lockdep: boolean;
  /** Measured with --host-preemption (no run tokens). */
  hostPreemption: boolean;
  samples: ForkRateSample[];
  rate: Summary;
  /** Median rate / CPUs. */
  perCpu: number;
  /** Median rate / (CPUs x median rate at 1 CPU, same depth); undefined without a 1-CPU point. */
  efficiency?: number;
  /** Median rate / median rate at 1 CPU, same depth. */
  speedup?: number;
  /** Lock breakdown of the median sample. */
  locks: LockRow[];
  /** Nanoseconds of one cycle at the median rate, per CPU (1e9 * cpus / rate). */
  nsPerCycle: number;
}

/**
 * Start a program as a user process and return its task: the init task (pid 1 of init_pid_ns, a
 * scripted task sleeping in pause() after boot) is given the program and woken, so the program runs
 * as init on whichever CPU picks it up first (its forks build the tree). Main thread, before the
 * CPUs run (setProcessLauncher overrides it).
 */
export type ProcessLauncher = (m: Machine, prog: number) => number;
let launcher: ProcessLauncher = (m, prog) => {
  m.attach();
  const mem = m.mem;
  const init = mem[kg + G.init_task]!;
  if (!init) throw new Error('no init task: the process model did not boot');
  if (mem[init + TASK.prog] !== 0 || mem[init + TASK.ucall] !== OP_NONE) throw new Error('init is already running a program');
  mem[init + TASK.prog] = prog;
  mem[init + TASK.pc] = 0;
  if (!try_to_wake_up(init, TASK_INTERRUPTIBLE) && Atomics.load(mem, init + TASK.state) !== TASK_RUNNING) {
    throw new Error('init can not be woken');
  }
  return init;
};
export function setProcessLauncher(f: ProcessLauncher): void { launcher = f; }

/** Has the process model registered fork (src/kernel/fork.ts, imported by the kernel image)? */
export async function forkAvailable(): Promise<boolean> {
  await import('../src/kernel/index.js');
  return !syscall_name(SYS_FORK).startsWith('sys#');
}

export function launchProcess(m: Machine, prog: number): number {
  return launcher(m, prog);
}

/** The programs of one measurement: returns the address of the setup program. */
export function forkPrograms(m: Machine, depth: number, loopers: number): number {
  const child = m.program([[SYS_EXIT, 0]]);
  const looper = m.program([[SYS_FORK, 0, child, 0], [SYS_WAIT4, -1, 0], [OP_JMP, 0]]);
  const spawnLoopers: number[][] = [];
  for (let i = 0; i < loopers; i++) spawnLoopers.push([SYS_FORK, 0, looper, 0]);
  spawnLoopers.push([OP_HALT]);
  let next = m.program(spawnLoopers);
  // Level k: unshare(CLONE_NEWPID), fork pid 1 of the new namespace running level k+1, halt.
  for (let k = depth - 1; k >= 0; k--) next = m.program([[SYS_UNSHARE, CLONE_NEWPID], [SYS_FORK, 0, next, 0], [OP_HALT]]);
  return next;
}

interface Snapshot {
  t: number;
  /** CLOCK_MONOTONIC in µs (process.hrtime), the clock of V8's CPU profile timestamps. */
  mono: number;
  /** Process CPU time (all threads), microseconds. */
  cpuUs: number;
  forks: number;
  syscalls: number[];
  tokenYields: number;
  stats: Float64Array;
}

function snapshot(_m: Machine, mem: Int32Array, stats: Float64Array, n: number): Snapshot {
  const syscalls: number[] = [];
  let tokenYields = 0;
  for (let i = 0; i < n; i++) {
    syscalls.push(mem[cpu_addr(i) + CPU.syscalls]!);
    tokenYields += mem[cpu_addr(i) + CPU.tok_yields]!;
  }
  const u = process.cpuUsage();
  return { t: performance.now(), mono: Number(process.hrtime.bigint() / 1000n), cpuUs: u.user + u.system, forks: mem[kg + G.total_forks]!, syscalls, tokenYields, stats: stats.slice() };
}

function lockRows(a: Snapshot, b: Snapshot, ncpus: number, cycles: number): LockRow[] {
  const rows: LockRow[] = [];
  const row = (cls: number, name: string, side: LockRow['side'], acq: number, cont: number, wait: number): void => {
    if (acq <= 0) return;
    rows.push({
      cls, name, side, acquisitions: acq, contended: cont, waitNs: wait,
      acqPerCycle: cycles > 0 ? acq / cycles : NaN,
      contendedPct: (100 * cont) / acq,
      waitNsPerCycle: cycles > 0 ? wait / cycles : NaN,
    });
  };
  for (let cls = 1; cls < MAX_LOCK_CLASSES; cls++) {
    let acq = 0, cont = 0, wait = 0, wacq = 0, wcont = 0, wwait = 0;
    for (let c = 0; c < ncpus; c++) {
      const i = (c * MAX_LOCK_CLASSES + cls) * STAT_WORDS;
      const d = (k: number): number => b.stats[i + k]! - a.stats[i + k]!;
      acq += d(STAT_ACQ); cont += d(STAT_CONTENDED); wait += d(STAT_WAIT_NS);
      wacq += d(STAT_W_ACQ); wcont += d(STAT_W_CONTENDED); wwait += d(STAT_W_WAIT_NS);
    }
    const name = lock_class_name(cls);
    if (wacq > 0 && acq - wacq > 0) {
      // A rwlock taken both ways: the read and the write side on rows of their own.
      row(cls, `${name} (read)`, 'read', acq - wacq, cont - wcont, wait - wwait);
      row(cls, `${name} (write)`, 'write', wacq, wcont, wwait);
    } else row(cls, name, wacq > 0 ? 'write' : 'all', acq, cont, wait);
  }
  return rows.sort((x, y) => y.acquisitions - x.acquisitions);
}

/** Bound on the warm-up when CPUs do not reach warmupSyscalls (the sample says warmedUp: false). */
export const WARMUP_MAX_MS = 15_000;

function leastSyscalls(mem: Int32Array, n: number): number {
  let least = Infinity;
  for (let i = 0; i < n; i++) least = Math.min(least, mem[cpu_addr(i) + CPU.syscalls]!);
  return least;
}

/** One measured run: a fresh machine, the setup program, warm-up, a timed window. */
export async function measureOnce(cpus: number, depth: number, workload: Workload, o: { warmupMs: number; warmupSyscalls?: number; measureMs: number; lockdep: boolean; hostPreemption?: boolean; checkGuards?: boolean }): Promise<ForkRateSample> {
  // Room for the objects that wait for a grace period: a fork that fails for want of a task or
  // pid would count as work without being a cycle.
  const m = new Machine({ ncpus: cpus, maxTasks: 8192, maxPidNs: Math.max(64, depth + 8), choiceWords: 1024, checkGuards: o.checkGuards }, { lockdep: o.lockdep, hungTimeoutMs: 30_000 });
  m.attach();
  let perCycleSyscalls = 2;
  if (workload === 'fork') {
    launchProcess(m, forkPrograms(m, depth, cpus));
  } else {
    const prog = m.program([[SYS_TORTURE_SPIN], [SYS_TORTURE_READ], [SYS_TORTURE_WRITE], [OP_JMP, 0]]);
    perCycleSyscalls = 3;
    for (let i = 0; i < cpus; i++) m.kthread(prog, i);
  }
  const mem = m.mem;
  const stats = new Float64Array(m.shared.stats);
  const ac = new AbortController();
  let first = -1;
  let s0: Snapshot | undefined;
  let s1: Snapshot | undefined;
  let warmedUp = false;
  let windowTasksMax = 0;
  const res = await m.run({
    signal: ac.signal,
    statsEveryMs: 5,
    stopWhenNoTasks: false,
    hostPreemption: o.hostPreemption ?? false,
    hungMs: 30_000,
    timeoutMs: 60_000 + Math.max(o.warmupMs, WARMUP_MAX_MS) + o.measureMs,
    onTick: () => {
      const now = performance.now();
      if (first < 0) first = now;
      if (!s0) {
        if (now - first < o.warmupMs) return;
        warmedUp = leastSyscalls(mem, cpus) >= (o.warmupSyscalls ?? 0);
        if (warmedUp || now - first >= WARMUP_MAX_MS) s0 = snapshot(m, mem, stats, cpus);
        return;
      }
      if (!s1) windowTasksMax = Math.max(windowTasksMax, kmem_cache_in_use(mem, regions, SLAB_TASK));
      if (!s1 && now - s0.t >= o.measureMs) { s1 = snapshot(m, mem, stats, cpus); ac.abort(); }
    },
  });
  if (!s0 || !s1) {
    const why = res.crash ? `crash on cpu ${res.crash.cpu}: ${res.crash.message}` : `run ended as ${res.state} before the window closed`;
    throw new Error(`fork-rate run (${cpus} CPUs, depth ${depth}) failed: ${why}`);
  }
  const seconds = (s1.t - s0.t) / 1000;
  const sys = s1.syscalls.map((x, i) => x - s0!.syscalls[i]!);
  const cycles = workload === 'fork' ? s1.forks - s0.forks : sys.reduce((p, q) => p + q, 0) / perCycleSyscalls;
  const out: ForkRateSample = {
    cyclesPerSec: cycles / seconds,
    cycles,
    seconds,
    perCpuSyscallsPerSec: sys.map((x) => x / seconds),
    cyclesPerCpuSec: cycles / ((s1.cpuUs - s0.cpuUs) / 1e6),
    coresUsed: (s1.cpuUs - s0.cpuUs) / 1e6 / seconds,
    minCpuShare: Math.min(...sys) / (sys.reduce((p, q) => p + q, 0) / cpus || 1),
    warmupMs: s0.t - first,
    warmedUp,
    tokenYields: s1.tokenYields - s0.tokenYields,
    syscallsPerCycle: cycles > 0 ? sys.reduce((p, q) => p + q, 0) / cycles : NaN,
    taskHighWater: mem[slab_addr(SLAB_TASK) + SLAB.high_water]!,
    windowTasksMax,
    state: res.state,
    violations: res.violations.length,
    locks: lockRows(s0, s1, cpus, cycles),
    windowMonoUs: [s0.mono, s1.mono],
  };
  if (res.crash) out.crash = res.crash.message;
  return out;
}

export async function benchForkRate(o: ForkRateOptions): Promise<{ workload: Workload; points: ForkRatePoint[]; hostPreemptionPoints: ForkRatePoint[]; errors: string[]; host?: HostProbeSummary }> {
  const log = o.log ?? (() => {});
  const workload: Workload = o.workload ?? ((await forkAvailable()) ? 'fork' : 'kthread-torture');
  const depths = workload === 'fork' ? o.depths : [0];
  if (workload !== 'fork') log('  (fork is not registered yet: measuring the stand-in kthread torture cycle, depth 0 only)');
  const lockdep = o.lockdep ?? false;
  const points: ForkRatePoint[] = [];
  // Repetitions are interleaved across points so that drift on a shared machine spreads evenly.
  const acc = new Map<string, ForkRateSample[]>();
  const errors: string[] = [];
  const key = (c: number, d: number, hp: boolean) => `${c}/${d}${hp ? '/hp' : ''}`;
  const cores = availableParallelism();
  const hostPreemptionPoints: ForkRatePoint[] = [];
  const hostSamples: HostProbeSample[] = [];
  for (let r = 0; r < o.reps; r++) {
    if (o.hostProbe) {
      try {
        const h = await probeHost();
        hostSamples.push(h);
        log(`  rep ${r + 1}/${o.reps}  host: two threads ${h.scale.toFixed(2)}x one (independent work), spinning round trip ${fmtRoundTrip(h.roundTripUs)}`);
      } catch (e) {
        errors.push(`host probe: ${(e as Error).message}`);
      }
    }
    for (const d of depths) {
      for (const c of o.cpus) {
        for (const hp of o.hostPreemptionToo && c > cores ? [false, true] : [false]) {
          const k = key(c, d, hp);
          if (!acc.has(k)) acc.set(k, []);
          let s: ForkRateSample;
          const what = `cpus ${String(c).padStart(2)}  depth ${String(d).padStart(2)}${hp ? '  --host-preemption' : ''}`;
          try {
            s = await measureOnce(c, d, workload, { warmupMs: o.warmupMs, warmupSyscalls: o.warmupSyscalls, measureMs: o.measureMs, lockdep, hostPreemption: hp });
          } catch (e) {
            // A broken run is reported with the point, not the end of the benchmark.
            errors.push(`${what}: ${(e as Error).message}`);
            log(`  rep ${r + 1}/${o.reps}  ${what}: FAILED: ${(e as Error).message}`);
            continue;
          }
          acc.get(k)!.push(s);
          log(`  rep ${r + 1}/${o.reps}  ${what}  ${Math.round(s.cyclesPerSec).toLocaleString('en-US').padStart(12)} cycles/s  (${Math.round(s.cyclesPerCpuSec).toLocaleString('en-US')} per CPU-second, fairness ${s.minCpuShare.toFixed(2)}, tasks in use up to ${s.windowTasksMax.toLocaleString('en-US')}, warm-up ${(s.warmupMs / 1000).toFixed(1)} s${s.warmedUp ? '' : ' NOT WARM'})${s.violations ? `  (${s.violations} violations)` : ''}`);
        }
      }
    }
  }
  for (const hp of [false, true]) {
    for (const d of depths) {
      for (const c of o.cpus) {
        const samples = acc.get(key(c, d, hp)) ?? [];
        if (samples.length === 0) continue;
        const rate = summarize(samples.map((s) => s.cyclesPerSec));
        const sorted = [...samples].sort((a, b) => a.cyclesPerSec - b.cyclesPerSec);
        const med = sorted[(sorted.length - 1) >> 1]!;
        (hp ? hostPreemptionPoints : points).push({ workload, cpus: c, depth: d, lockdep, hostPreemption: hp, samples, rate, perCpu: rate.median / c, locks: med.locks, nsPerCycle: (1e9 * c) / rate.median });
      }
    }
  }
  for (const p of points) {
    const one = points.find((q) => q.cpus === 1 && q.depth === p.depth);
    if (one && one.rate.median > 0) {
      p.speedup = p.rate.median / one.rate.median;
      p.efficiency = p.speedup / p.cpus;
    }
  }
  return { workload, points, hostPreemptionPoints, errors, ...(hostSamples.length ? { host: summarizeHost(hostSamples) } : {}) };
}

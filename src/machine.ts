/**
 * Main-side orchestration: create the shared kernel, boot it, load programs, run the CPUs (worker
 * threads through piscina, or in-process on this thread), watch them, and read the results.
 * Workers never import this module.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { CPU, G, GUARD, TASK, TORTURE } from './mm/layout.js';

/**
 * Checked build defaults: one plain access in this many gets a watchpoint, kept for this long
 * (µs); kernel/kcsan's defaults are CONFIG_KCSAN_SKIP_WATCH=4000 and CONFIG_KCSAN_UDELAY_TASK=80.
 */
export const KCSAN_SAMPLE_EVERY = 4000;
export const KCSAN_DELAY_US = 40;
import {
  attachMemory, computeRegions, cpu_addr, createMemory, defaultConfig, kg, mem, regions, set_this_cpu,
  type KernelConfig, type SharedKernel,
} from './mm/memory.js';
import { boot_kernel, type BootOptions } from './kernel/boot.js';
import { kernel_runner } from './kernel/index.js';
import { kthread_create } from './kernel/kthread.js';
import { INSN_WORDS } from './kernel/entry.js';
import { cpu_loop } from './sched/core.js';
import {
  hook_attach, KernelAbort, MODE_CONTROLLED, RUN_CRASHED, RUN_DEADLOCK, RUN_HUNG, RUN_LIMIT, RUN_RUNNING, RUN_STATE_NAMES,
  RUN_STOPPED, RUN_VIOLATION, run_end, CHOICE_CPU_MASK, CHOICE_PREEMPT, CTL_REPLAY, CTL_STOP_ON_VIOLATION,
  CTL_TAIL_NONPREEMPT, CTL_TAIL_STRATEGY, STRAT_PCT, STRAT_RANDOM,
} from './sched/hook.js';
import { host_threads, supervise } from './run/supervisor.js';
import { PF_KTHREAD } from './kernel/sched_task.js';
import type { StuckReport } from './detect/report.js';
import type { StateView } from './detect/waitfor.js';
import { read_violations, type Violation } from './locking/violations.js';
import { rcu_callbacks_pending } from './rcu/rcu.js';
import type { TraceCapture } from './trace/capture.js';
import type { CpuResult } from '../workers/cpu.js';
import { prng_below, prng_seed, PRNG_STREAM_PCT } from './lib/prng.js';

export { RUN_STATE_NAMES };

/** Controlled-mode setup for one run (the seed is the boot seed). */
export interface ControlOptions {
  strategy?: 'random' | 'pct';
  /** PCT depth d: d-1 priority change points (1..9). */
  pctDepth?: number;
  /** PCT: the change points are drawn uniformly below this many decisions (an estimate of the run's length). */
  pctSteps?: number;
  /**
   * PCT: from this many decisions on, run a uniformly random enabled CPU instead of the highest
   * priority one (0 or absent: never). Pure PCT can starve a CPU for good behind a higher-priority
   * one that polls (a synchronize_rcu_tasks waiting for a holdout queued on the starved CPU): a
   * livelock of the strategy, not of the kernel. A fair tail after the change points is what
   * Coyote's "fair-prioritization" strategy does for the same reason.
   */
  pctFairAfter?: number;
  /** Choices to replay (one per decision with more than one enabled CPU; CHOICE_STAY allowed). */
  replay?: ArrayLike<number>;
  /** After the replayed choices: go on with the strategy, or never preempt. */
  tail?: 'strategy' | 'nonpreempt';
  /** Bound on decisions (a livelock guard; at most the choice region's size). */
  maxDecisions?: number;
  /** End the run at the first decision after a violation (RUN_VIOLATION): shorter schedules to shrink. */
  stopOnViolation?: boolean;
}

export interface ControlStats {
  strategy: string;
  seed: number;
  decisions: number;
  switches: number;
  preemptions: number;
  replayed: number;
}

/** Free-running CPU hotplug: every `everyMs` one CPU (never CPU 0) goes offline or comes back. */
export interface HotplugOptions {
  everyMs: number;
  /** Most CPUs offline at once (default: half of them). */
  maxOffline?: number;
}

/** The project root (where package.json is), from src/ or dist/src/. */
export function projectRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(d, 'package.json'))) return d;
    d = resolve(d, '..');
  }
  throw new Error('pidrace: cannot find the project root (package.json)');
}

/** The CPU worker of the normal build, or of the checked build (dist-checked/, --check-guards). */
export function workerPath(checked = false): string {
  const p = join(projectRoot(), checked ? 'dist-checked' : 'dist', 'workers', 'cpu.js');
  if (!existsSync(p)) throw new Error(`pidrace: ${p} is missing: run "npm run build" first`);
  return p;
}

/**
 * Piscina options for n CPU workers. piscina loads a worker file with require() first and falls
 * back to import(); on Node >= 20.19 require() of an ES module can fail half-way and leave the
 * module graph in a state the import() then rejects ("Unexpected status of a module that is
 * imported again after being required"), which killed a CPU at start now and then. With
 * require(esm) off in the workers, require() fails at once and import() loads it cleanly.
 */
export function cpuPoolOptions(n: number, idleTimeout = 1000, checked = false): ConstructorParameters<typeof Piscina>[0] {
  cpu_worker_v8_flags();
  return {
    filename: workerPath(checked), minThreads: n, maxThreads: n, idleTimeout, concurrentTasksPerWorker: 1,
    execArgv: worker_exec_argv(),
  };
}

/**
 * V8 tiering for the CPU workers. Every model CPU is a worker thread with its own V8 isolate, and
 * each isolate compiles the kernel with TurboFan for itself (isolates share no code). The compile
 * jobs run on V8's platform threads, outside the run tokens (src/sched/run_token.ts), so with more
 * CPUs than cores they also take cores from token holders. With V8's defaults the stress mix costs
 * each isolate about as much CPU time in compile jobs as its own first 300,000 operations (README,
 * "Session 5: where npm start on 4 CPUs loses"). A 4x interrupt budget (V8's default 67,584)
 * leaves the mix's lukewarm functions in the baseline tier instead of optimizing them: about a
 * third fewer compile jobs, the same code for the hot paths. (A smaller inlining budget halved the
 * compile jobs but made the warm fork cycle slower; not taken.) Process-wide V8 flags (a worker
 * cannot take its own), set once before the first pool; a flag given on the command line wins.
 */
export const CPU_WORKER_V8_FLAGS: readonly string[] = ['--interrupt-budget=270336'];
/** The flags of CPU_WORKER_V8_FLAGS that a process started with `execArgv` does not set itself. */
export function cpu_worker_v8_flags_to_set(execArgv: readonly string[]): string[] {
  return CPU_WORKER_V8_FLAGS.filter((f) => {
    const name = f.slice(0, f.indexOf('=') + 1); // "--interrupt-budget="
    const alt = '--' + name.slice(2).replace(/-/g, '_'); // V8 reads --interrupt_budget= as well
    return !execArgv.some((a) => a.startsWith(name) || a.startsWith(alt) || a === name.slice(0, -1));
  });
}
let v8FlagsSet = false;
function cpu_worker_v8_flags(): void {
  if (v8FlagsSet) return;
  v8FlagsSet = true;
  for (const f of cpu_worker_v8_flags_to_set(process.execArgv)) setFlagsFromString(f);
}

let workerArgv: string[] | undefined;
/**
 * The CPU workers' Node options: the parent's, less those a worker rejects with
 * ERR_WORKER_INVALID_EXEC_ARGV (V8 options such as --maglev or --max-old-space-size, and
 * per-process ones: they are process-wide, so they already apply inside the workers), plus
 * --no-experimental-require-module. Each rejected option is found by creating a worker with it
 * (the check is synchronous, in the Worker constructor), once per process and only when the
 * parent's options as a whole are rejected.
 */
function worker_exec_argv(): string[] {
  if (workerArgv) return workerArgv;
  const parent = process.execArgv.filter((a) => !a.startsWith('--experimental-require-module'));
  const accepted = (argv: string[]): boolean => {
    try {
      void new Worker('0', { eval: true, execArgv: argv }).terminate();
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_WORKER_INVALID_EXEC_ARGV') return false;
      throw e;
    }
  };
  // An option with its value in the next word (--cpu-prof-dir DIR) is probed as one group.
  const groups: string[][] = [];
  for (const a of parent) {
    const last = groups[groups.length - 1];
    if (a.startsWith('-') || !last) groups.push([a]);
    else last.push(a);
  }
  const keep = parent.length === 0 || accepted(parent) ? parent : groups.filter(accepted).flat();
  return (workerArgv = [...keep, '--no-experimental-require-module']);
}

export interface RunOptions {
  /** Stop after this long (free-running); the run also ends when no task is left. */
  durationMs?: number;
  /** Hard bound on the whole run, whatever happens (a watchdog, never a hang). */
  timeoutMs?: number;
  /** Free-running hung-task watchdog: no progress for this long ends the run as hung. */
  hungMs?: number;
  /** Called every `statsEveryMs` while running. */
  onTick?: (m: Machine, elapsedMs: number) => void;
  statsEveryMs?: number;
  /** Keep running while tasks remain even if none is runnable (free mode; the watchdog decides). */
  stopWhenNoTasks?: boolean;
  /** Aborts the run from outside (Ctrl-C). */
  signal?: AbortSignal;
  /** Controlled mode: strategy, replay list ... (set before the CPUs start). */
  control?: ControlOptions;
  /** Free-running CPU hotplug. */
  hotplug?: HotplugOptions;
  /** Free-running: end the run (stopped) once this holds (checked every poll, e.g. "only init is left"). */
  until?: (m: Machine) => boolean;
  /**
   * Free-running: no run tokens (src/sched/run_token.ts); with more CPUs than host cores, the host
   * may deschedule a CPU anywhere, also while it holds a lock (vCPU-style preemption).
   */
  hostPreemption?: boolean;
  /** Free-running: how many CPUs run kernel code at once (default: the host's cores). */
  runTokens?: number;
  /**
   * Free-running: host worker threads that run the CPUs (src/sched/mux.ts); fewer than the CPUs:
   * several CPUs per thread, switched at run-token hand-offs. Default: the host's cores when there
   * are more CPUs than cores and run tokens are not set (host_threads in src/run/supervisor.ts).
   */
  threads?: number;
  /** Controlled: no scheduling hook passed for this long is a soft lockup (default: hungMs, at least 1 s). */
  lockupMs?: number;
}

export interface RunResult {
  state: string;
  elapsedMs: number;
  cpus: CpuResult[];
  crash?: { cpu: number; task: number; message: string; stack?: string };
  violations: Violation[];
  progress: number;
  interrupted?: boolean;
  /** Controlled mode: decisions, switches, preemptions. */
  control?: ControlStats;
  /** A stuck or broken run (deadlock, hang, decision limit, crash): the wait-for report from the frozen state. */
  stuck?: StuckReport;
  /** CPU hotplug transitions done (free-running). */
  hotplugs?: number;
  /** The trace rings, read at the freeze or the end (machines created with traceEvents > 0). */
  trace?: TraceCapture;
  /** Controlled: the CPU that held the turn and passed no scheduling hook for `ms` (soft lockup). */
  lockup?: { cpu: number; ms: number };
}

export class Machine {
  readonly shared: SharedKernel;
  readonly config: KernelConfig;
  readonly boot: BootOptions;
  private progTop = 0;
  /** Tasks alive right after boot (init_task): a run whose tasks are all gone is back to this. */
  bootTasks = 0;
  /** The kernel's words (the shared buffer may be longer: whole WebAssembly pages). */
  readonly words: number;
  private progNames = new Map<number, string>();
  /** Memory as the main thread saw it when a broken run was frozen (for reports). */
  snapshot?: Int32Array;
  /** performance.now() when the snapshot was taken (the end of its trace). */
  snapshotAt = 0;

  constructor(config: Partial<KernelConfig> = {}, boot: BootOptions = {}) {
    this.config = defaultConfig(config);
    this.shared = createMemory(this.config);
    this.words = computeRegions(this.config).totalWords;
    this.boot = boot;
    boot_kernel(this.shared, boot);
    if (this.config.checkGuards) {
      // The KCSAN-style sampler of the checked build (src/locking/guard_check.ts).
      const g = new Int32Array(this.shared.sab, 0, this.words);
      g[regions.guard + GUARD.sample_every] = this.config.kcsanSampleEvery ?? KCSAN_SAMPLE_EVERY;
      g[regions.guard + GUARD.delay_us] = this.config.kcsanDelayUs ?? KCSAN_DELAY_US;
    }
    this.bootTasks = Atomics.load(new Int32Array(this.shared.sab, 0, this.words), kg + G.nr_threads);
  }

  /** Make this thread's kernel view point at this machine again (several machines in one test). */
  attach(): void {
    attachMemory(this.shared);
    set_this_cpu(0);
    hook_attach(true);
  }

  get mem(): Int32Array {
    return new Int32Array(this.shared.sab, 0, this.words);
  }

  /** Write a program (instructions of [op, a, b, c]) into the program region; returns its address. */
  program(insns: ReadonlyArray<readonly number[]>, name?: string): number {
    this.attach();
    const r = regions.programs;
    const need = (insns.length + 1) * INSN_WORDS;
    if (this.progTop + need > r.words) throw new RangeError('program region full');
    const base = r.base + this.progTop;
    insns.forEach((ins, i) => {
      for (let k = 0; k < INSN_WORDS; k++) mem[base + i * INSN_WORDS + k] = ins[k] ?? 0;
    });
    this.progTop += need; // the zero instruction after the last one ends the program
    if (name) this.progNames.set(base, name);
    return base;
  }

  /** Zeroed words of the program region for data the kernel side reads (stress tables). */
  alloc(words: number): number {
    this.attach();
    const r = regions.programs;
    const need = Math.ceil(words / 4) * 4;
    if (this.progTop + need > r.words) throw new RangeError('program region full');
    const base = r.base + this.progTop;
    mem.fill(0, base, base + need);
    this.progTop += need;
    return base;
  }

  /** Name of a task for reports: its program's name, else kthread/task. */
  taskName(t: number, m: Int32Array = this.mem): string {
    const n = this.progNames.get(m[t + TASK.prog]!);
    if (n) return n;
    return (m[t + TASK.flags]! & PF_KTHREAD) !== 0 ? `kthread${m[t + TASK.id]}` : 'task';
  }

  /** A view of a state for the detectors (live memory, or a snapshot). */
  view(m: Int32Array = this.mem): StateView {
    this.attach();
    return { m, r: regions, kg, nameOf: (t) => this.taskName(t, m) };
  }

  /**
   * Controlled-mode setup for the next run: strategy, PCT priorities and change points, replay
   * list, tail policy and bounds, written into G.ctl_* and the choices region.
   */
  control(o: ControlOptions): void {
    this.attach();
    const seed = this.boot.seed ?? 1;
    const strat = o.strategy === 'pct' ? STRAT_PCT : STRAT_RANDOM;
    let flags = strat;
    const rec = regions.choices;
    if (o.replay) {
      const n = Math.min(o.replay.length, rec.words);
      for (let i = 0; i < n; i++) mem[rec.base + i] = o.replay[i]! & 0xff;
      mem[kg + G.ctl_replay_len] = n;
      flags |= CTL_REPLAY;
    } else mem[kg + G.ctl_replay_len] = 0;
    if (o.stopOnViolation) flags |= CTL_STOP_ON_VIOLATION;
    mem[kg + G.ctl_flags] = flags;
    mem[kg + G.ctl_tail] = o.tail === 'nonpreempt' ? CTL_TAIL_NONPREEMPT : CTL_TAIL_STRATEGY;
    mem[kg + G.ctl_max_decisions] = Math.min(o.maxDecisions ?? rec.words, rec.words);
    // PCT (Burckhardt et al. 2010): random distinct initial priorities >= d, and d-1 change points
    // uniform in [0, k). Drawn from the run seed, so the token's seed rebuilds them.
    const depth = Math.max(1, Math.min(9, o.pctDepth ?? 3));
    mem[kg + G.ctl_pct_depth] = depth;
    const pct_rng = Int32Array.of(prng_seed(seed, PRNG_STREAM_PCT));
    const rnd = (n: number): number => prng_below(pct_rng, 0, n);
    const n = this.config.ncpus;
    const perm = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) { const j = rnd(i + 1); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
    for (let i = 0; i < n; i++) mem[cpu_addr(i) + CPU.pct_prio] = depth + perm[i]!;
    const k = Math.max(2, o.pctSteps ?? 20_000);
    for (let i = 0; i < 8; i++) mem[kg + G.ctl_pct_points + i] = i < depth - 1 ? rnd(k) : -1;
    mem[kg + G.ctl_pct_fair_after] = Math.max(0, o.pctFairAfter ?? 0);
  }

  /** The choices the last controlled run recorded (cpu | CHOICE_PREEMPT per decision). */
  recordedChoices(): Uint8Array {
    const m = this.mem;
    this.attach();
    const n = Math.min(m[kg + G.ctl_decisions]!, regions.choices.words);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = m[regions.choices.base + i]! & (CHOICE_CPU_MASK | CHOICE_PREEMPT);
    return out;
  }

  controlStats(): ControlStats {
    const m = this.mem;
    const flags = m[kg + G.ctl_flags]!;
    return {
      strategy: (flags & 0xf) === STRAT_PCT ? 'pct' : 'random',
      seed: this.boot.seed ?? 1,
      decisions: m[kg + G.ctl_decisions]!,
      switches: m[kg + G.ctl_switches]!,
      preemptions: m[kg + G.ctl_preemptions]!,
      replayed: (flags & CTL_REPLAY) !== 0 ? m[kg + G.ctl_replay_len]! : 0,
    };
  }

  /**
   * A hash of the kernel state (FNV-1a over the shared words), leaving out what legitimately
   * differs between two runs of the same schedule: timestamps, timings, the replay setup and the
   * record itself.
   */
  stateHash(m: Int32Array = this.mem): string {
    this.attach();
    const skip = new Uint8Array(m.length);
    const mark = (a: number): void => { if (a >= 0 && a < skip.length) skip[a] = 1; };
    const tr = regions.objects[0]!;
    for (let i = 0; i < tr.count; i++) mark(tr.base + i * tr.stride + TASK.sleep_since);
    // The controller's own state (strategy, PCT priorities, replay setup) is not kernel state.
    for (let i = 0; i < this.config.ncpus; i++) { mark(cpu_addr(i) + CPU.wait_since); mark(cpu_addr(i) + CPU.park); mark(cpu_addr(i) + CPU.pct_prio); mark(cpu_addr(i) + CPU.hook_seq); }
    // hook_seq is the soft-lockup watchdog's count of hook passes (bookkeeping, like wait_since).
    // Tracing is an observer: its setup, clock and rings are not kernel state.
    for (let i = 0; i < this.config.ncpus; i++) { mark(cpu_addr(i) + CPU.trace_ring); mark(cpu_addr(i) + CPU.trace_head); }
    mark(kg + G.trace_events); mark(kg + G.trace_epoch);
    mark(regions.torture + TORTURE.rw_writer_max_wait_us);
    for (const f of ['ctl_flags', 'ctl_replay_len', 'ctl_tail', 'freeze', 'ctl_max_decisions', 'ctl_pct_depth', 'ctl_pct_next_change', 'ctl_pct_fair_after'] as const) mark(kg + G[f]!);
    mark(kg + G.ctl_rng);
    mark(kg + G.hotplug_rng); // seeded from the run seed: the hotplug driver's state, not the kernel's
    for (let i = 0; i < 8; i++) mark(kg + G.ctl_pct_points + i);
    const rc = regions.choices;
    let h = 0x811c9dc5;
    for (let i = 0; i < m.length; i++) {
      if (skip[i] || (i >= rc.base && i < rc.base + rc.words) || (i >= regions.trace.base && i < regions.trace.base + regions.trace.words)) continue;
      const w = m[i]!;
      if (w === 0) { h = Math.imul(h ^ 0x9e, 0x01000193); continue; }
      h = Math.imul(h ^ (w & 0xff), 0x01000193);
      h = Math.imul(h ^ ((w >>> 8) & 0xff), 0x01000193);
      h = Math.imul(h ^ ((w >>> 16) & 0xff), 0x01000193);
      h = Math.imul(h ^ (w >>> 24), 0x01000193);
    }
    return (h >>> 0).toString(16).padStart(8, '0');
  }

  /** A bare kernel thread running a program (torture tasks). */
  kthread(prog: number, cpu = 0): number {
    this.attach();
    const t = kthread_create(prog, cpu % this.config.ncpus);
    if (!t) throw new Error('task cache exhausted');
    return t;
  }

  /** Run CPU 0 on this thread until nothing is runnable (deterministic; for tests and the API). */
  runInProcess(): void {
    this.attach();
    // Only CPU 0 runs in-process: the others are offline (they hold no readers, run nothing).
    for (let i = 1; i < this.config.ncpus; i++) mem[cpu_addr(i) + CPU.online] = 0;
    const prev = Atomics.load(mem, kg + G.run_state);
    if (prev !== RUN_RUNNING) Atomics.store(mem, kg + G.run_state, RUN_RUNNING);
    try {
      cpu_loop(kernel_runner, { returnWhenIdle: true });
    } catch (e) {
      if (!(e instanceof KernelAbort)) throw e;
    }
  }

  liveTasks(): number {
    return Atomics.load(this.mem, kg + G.nr_threads);
  }

  runState(): string {
    return RUN_STATE_NAMES[Atomics.load(this.mem, kg + G.run_state)] ?? 'unknown';
  }

  violations(): Violation[] {
    const m = this.mem;
    return read_violations(m, regions.violations.base, regions.violations.words, Atomics.load(m, kg + G.violations));
  }

  /**
   * Every CPU online and with no leftover wait, abort or freeze: runInProcess takes the other CPUs
   * offline, and a previous run may have left them parked. A worker run starts from here.
   */
  bringUpCpus(): void {
    const m = this.mem;
    for (let i = 0; i < this.config.ncpus; i++) {
      const c = cpu_addr(i);
      m[c + CPU.online] = 1;
      m[c + CPU.abort] = 0;
      m[c + CPU.hotplug] = 0;
      m[c + CPU.idle] = 0;
      m[c + CPU.wait_addr] = 0;
    }
    m[kg + G.freeze] = 0;
  }

  /**
   * Run every CPU as a worker thread until the tasks are done, time is up, or the run breaks: the
   * run supervisor (src/run/supervisor.ts) on a pool of this run's own.
   */
  async run(opts: RunOptions = {}): Promise<RunResult> {
    // As many workers (V8 isolates) as host threads: several CPUs per thread need fewer.
    const threads = host_threads(this.config.ncpus, opts, this.mem[kg + G.mode] === MODE_CONTROLLED);
    const pool = new Piscina(cpuPoolOptions(threads, 1000, this.config.checkGuards === true));
    try {
      const { poolTainted: _, ...res } = await supervise(this, pool, opts);
      return res;
    } finally {
      await pool.destroy().catch(() => {});
    }
  }

  /** Nothing left for the CPUs: no runnable task and no RCU callback waiting. */
  quiescent(): boolean {
    const m = this.mem;
    for (let i = 0; i < this.config.ncpus; i++) if (Atomics.load(m, cpu_addr(i) + CPU.rq_nr) > 0) return false;
    this.attach();
    return rcu_callbacks_pending() === 0;
  }

  /** End the run from the main thread (the one run-end protocol); `freeze` parks the CPUs for a snapshot. */
  stop(state: number, freeze = false): void {
    this.attach();
    run_end(state, freeze);
  }

  /** Address of the torture record (locktorture / rcutorture state). */
  tortureBase(): number {
    return regions.torture;
  }

  /** Bytes of shared memory the machine uses. */
  bytes(): number {
    return this.shared.sab.byteLength + this.shared.stats.byteLength;
  }

  taskField(t: number, f: keyof typeof TASK): number {
    return this.mem[t + TASK[f]!]!;
  }
}

export { RUN_DEADLOCK, RUN_HUNG, RUN_STOPPED, RUN_CRASHED, RUN_LIMIT, RUN_VIOLATION };

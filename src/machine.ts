/**
 * Main-side orchestration: create the shared kernel, boot it, load programs, run the CPUs (worker
 * threads through piscina, or in-process on this thread), watch them, and read the results.
 * Workers never import this module.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { CPU, G, TASK } from './mm/layout.js';
import {
  attachMemory, cpu_addr, createMemory, defaultConfig, kg, mem, regions, set_this_cpu,
  type KernelConfig, type SharedKernel,
} from './mm/memory.js';
import { boot_kernel, type BootOptions } from './kernel/boot.js';
import { kernel_runner } from './kernel/index.js';
import { kthread_create } from './kernel/kthread.js';
import { INSN_WORDS } from './kernel/entry.js';
import { cpu_loop } from './sched/core.js';
import {
  hook_attach, KernelAbort, MODE_CONTROLLED, RUN_CRASHED, RUN_DEADLOCK, RUN_HUNG, RUN_LIMIT, RUN_RUNNING,
  RUN_STOPPED, RUN_STOPPING, ctl_end,
} from './sched/hook.js';
import { read_violations, type Violation } from './locking/violations.js';
import { rcu_callbacks_pending } from './rcu/rcu.js';
import type { CpuResult } from '../workers/cpu.js';

export const RUN_STATE_NAMES = ['setup', 'running', 'stopping', 'stopped', 'deadlock', 'crashed', 'hung', 'decision-limit'];

/** The project root (where package.json is), from src/ or dist/src/. */
export function projectRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(d, 'package.json'))) return d;
    d = resolve(d, '..');
  }
  throw new Error('pidrace: cannot find the project root (package.json)');
}

export function workerPath(): string {
  const p = join(projectRoot(), 'dist', 'workers', 'cpu.js');
  if (!existsSync(p)) throw new Error(`pidrace: ${p} is missing: run "npm run build" first`);
  return p;
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
}

export interface RunResult {
  state: string;
  elapsedMs: number;
  cpus: CpuResult[];
  crash?: { cpu: number; task: number; message: string; stack?: string };
  violations: Violation[];
  progress: number;
  interrupted?: boolean;
}

export class Machine {
  readonly shared: SharedKernel;
  readonly config: KernelConfig;
  readonly boot: BootOptions;
  private progTop = 0;

  constructor(config: Partial<KernelConfig> = {}, boot: BootOptions = {}) {
    this.config = defaultConfig(config);
    this.shared = createMemory(this.config);
    this.boot = boot;
    boot_kernel(this.shared, boot);
  }

  /** Make this thread's kernel view point at this machine again (several machines in one test). */
  attach(): void {
    attachMemory(this.shared);
    set_this_cpu(0);
    hook_attach(true);
  }

  get mem(): Int32Array {
    return new Int32Array(this.shared.sab);
  }

  /** Write a program (instructions of [op, a, b, c]) into the program region; returns its address. */
  program(insns: ReadonlyArray<readonly number[]>): number {
    this.attach();
    const r = regions.programs;
    const need = (insns.length + 1) * INSN_WORDS;
    if (this.progTop + need > r.words) throw new RangeError('program region full');
    const base = r.base + this.progTop;
    insns.forEach((ins, i) => {
      for (let k = 0; k < INSN_WORDS; k++) mem[base + i * INSN_WORDS + k] = ins[k] ?? 0;
    });
    this.progTop += need; // the zero instruction after the last one ends the program
    return base;
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

  /** Run every CPU as a worker thread until the tasks are done, time is up, or the run breaks. */
  async run(opts: RunOptions = {}): Promise<RunResult> {
    this.attach();
    const m = this.mem;
    const n = this.config.ncpus;
    const controlled = m[kg + G.mode] === MODE_CONTROLLED;
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const hungMs = opts.hungMs ?? m[kg + G.hung_timeout_ms]!;
    const pool = new Piscina({ filename: workerPath(), minThreads: n, maxThreads: n, idleTimeout: 1000, concurrentTasksPerWorker: 1 });
    const t0 = performance.now();
    let interrupted = false;
    const tasks = Array.from({ length: n }, (_, cpu) => pool.run({ shared: this.shared, cpu, startTimeoutMs: 60_000 }) as Promise<CpuResult>);
    const settled: Array<CpuResult | undefined> = new Array(n);
    const errors: Array<Error | undefined> = new Array(n);
    tasks.forEach((p, i) => p.then((r) => { settled[i] = r; }, (e: Error) => {
      errors[i] = e;
      Atomics.compareExchange(m, kg + G.run_state, RUN_RUNNING, RUN_CRASHED);
      ctl_end(RUN_CRASHED);
    }));
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      // Wait (bounded) for every CPU to attach, then start them together.
      while (Atomics.load(m, kg + G.cpus_ready) < n) {
        if (performance.now() - t0 > 60_000) throw new Error('CPU workers did not start within 60 s');
        if (errors.some(Boolean)) break;
        await sleep(2);
      }
      if (controlled) Atomics.store(m, kg + G.ctl_turn, 0);
      Atomics.store(m, kg + G.run_state, RUN_RUNNING);
      Atomics.notify(m, kg + G.run_state);
      let lastProgress = -1;
      let lastChange = performance.now();
      let lastTick = performance.now();
      const every = opts.statsEveryMs ?? 1000;
      const stopWhenNoTasks = opts.stopWhenNoTasks ?? true;
      for (;;) {
        const st = Atomics.load(m, kg + G.run_state);
        if (st !== RUN_RUNNING) break;
        const now = performance.now();
        const el = now - t0;
        if (opts.signal?.aborted) { interrupted = true; this.stop(RUN_STOPPING); break; }
        if (opts.durationMs !== undefined && el >= opts.durationMs) { this.stop(RUN_STOPPING); break; }
        if (el >= timeoutMs) { this.stop(controlled ? RUN_LIMIT : RUN_HUNG); break; }
        if (stopWhenNoTasks && !controlled && Atomics.load(m, kg + G.nr_threads) === 0 && this.quiescent()) { this.stop(RUN_STOPPED); break; }
        const prog = Atomics.load(m, kg + G.progress);
        if (prog !== lastProgress) { lastProgress = prog; lastChange = now; }
        else if (!controlled && now - lastChange > hungMs) { this.stop(RUN_HUNG); break; }
        if (opts.onTick && now - lastTick >= every) { lastTick = now; opts.onTick(this, el); }
        await sleep(controlled ? 5 : 2);
      }
      // Every CPU leaves its loop at its next check; bound the wait for them.
      const until = performance.now() + 10_000;
      while (Atomics.load(m, kg + G.cpus_exited) < n && performance.now() < until) {
        if (errors.filter(Boolean).length + Atomics.load(m, kg + G.cpus_exited) >= n) break;
        await sleep(2);
      }
      await Promise.race([Promise.allSettled(tasks), sleep(5_000)]);
    } finally {
      await pool.destroy().catch(() => {});
    }
    const elapsedMs = performance.now() - t0;
    const res: RunResult = {
      state: this.runState(),
      elapsedMs,
      cpus: settled.map((r, i) => r ?? { cpu: i, switches: m[cpu_addr(i) + CPU.switches]!, syscalls: m[cpu_addr(i) + CPU.syscalls]!, aborted: errors[i]?.message }),
      violations: this.violations(),
      progress: Atomics.load(m, kg + G.progress),
    };
    if (interrupted) res.interrupted = true;
    const crashed = settled.find((r) => r?.error) ?? undefined;
    if (crashed?.error) res.crash = { cpu: crashed.cpu, task: crashed.error.task, message: crashed.error.message, stack: crashed.error.stack };
    else {
      const i = errors.findIndex(Boolean);
      if (i >= 0) res.crash = { cpu: i, task: 0, message: errors[i]!.message, stack: errors[i]!.stack };
    }
    return res;
  }

  /** Nothing left for the CPUs: no runnable task and no RCU callback waiting. */
  private quiescent(): boolean {
    const m = this.mem;
    for (let i = 0; i < this.config.ncpus; i++) if (Atomics.load(m, cpu_addr(i) + CPU.rq_nr) > 0) return false;
    this.attach();
    return rcu_callbacks_pending() === 0;
  }

  stop(state: number): void {
    const m = this.mem;
    if (Atomics.compareExchange(m, kg + G.run_state, RUN_RUNNING, state) === RUN_RUNNING) {
      Atomics.notify(m, kg + G.run_state);
      Atomics.store(m, kg + G.ctl_turn, -1);
      Atomics.notify(m, kg + G.ctl_turn);
      for (let i = 0; i < this.config.ncpus; i++) {
        Atomics.add(m, cpu_addr(i) + CPU.park, 1);
        Atomics.notify(m, cpu_addr(i) + CPU.park);
      }
    }
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
    return this.mem[t + TASK[f]]!;
  }
}

export { RUN_DEADLOCK, RUN_HUNG, RUN_STOPPED, RUN_CRASHED, RUN_LIMIT };

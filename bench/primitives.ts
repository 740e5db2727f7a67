/**
 * Microbenchmarks of the model's primitives with tinybench: uncontended lock operations, RCU read
 * side, a schedule-and-wake between two tasks on one CPU, alloc_pid + free_pid at depths 0 and 31,
 * and one fork -> exit -> wait4 cycle. Runs on the main thread as CPU 0 of a one-CPU machine.
 */
import { Bench } from 'tinybench';
import { Machine } from '../src/machine.js';
import { G, TASK, TORTURE } from '../src/mm/layout.js';
import { TASK_INTERRUPTIBLE, try_to_wake_up } from '../src/sched/core.js';
import { kg } from '../src/mm/memory.js';
import { spin_lock, spin_unlock } from '../src/locking/spinlock.js';
import { read_lock, read_unlock, write_lock, write_unlock } from '../src/locking/qrwlock.js';
import { rcu_do_batch, rcu_note_context_switch, rcu_read_lock, rcu_read_unlock } from '../src/rcu/rcu.js';
import { OP_HALT, OP_LOOP } from '../src/kernel/entry.js';
import { SYS_PINGPONG } from '../src/kernel/torture.js';
import { SYS_EXIT, SYS_FORK, SYS_WAIT4 } from '../src/kernel/unistd.js';
import { forkAvailable, launchProcess } from './forkrate.js';

export interface PrimitiveFigure {
  name: string;
  opsPerSec: number;
  nsPerOp: number;
  samples: number;
  rme: number;
  /** Median and extremes of the samples (ns per operation). */
  medianNs: number;
  minNs: number;
  maxNs: number;
  /** Every sample: ns per operation (a sample is one batch). */
  samplesNs: number[];
  lockdep: boolean;
}

const ROUNDS = 2000;
const BATCH = 1000;
const PID_BATCH = 200;
const FORKS = 2000;

interface PidApi {
  alloc_pid: (ns: number, set_tid: ArrayLike<number> | null, n: number) => number;
  free_pid: (pid: number) => void;
  create_pid_namespace: (user_ns: number, parent: number) => number;
}

/** K1's pid allocator, when it is there (src/kernel/pid.ts, pid_namespace.ts). */
async function pidApi(): Promise<PidApi | undefined> {
  try {
    const pid = await import('../src/kernel/pid.js' as string) as Record<string, unknown>;
    const pns = await import('../src/kernel/pid_namespace.js' as string) as Record<string, unknown>;
    if (typeof pid.alloc_pid !== 'function' || typeof pid.free_pid !== 'function' || typeof pns.create_pid_namespace !== 'function') return undefined;
    return { alloc_pid: pid.alloc_pid as PidApi['alloc_pid'], free_pid: pid.free_pid as PidApi['free_pid'], create_pid_namespace: pns.create_pid_namespace as PidApi['create_pid_namespace'] };
  } catch {
    return undefined;
  }
}

export async function benchPrimitives(opts: { timeMs?: number; lockdep?: boolean } = {}): Promise<PrimitiveFigure[]> {
  const lockdep = opts.lockdep ?? false;
  const pids = await pidApi();
  const fork = await forkAvailable();
  const m = new Machine({ ncpus: 1, maxTasks: 4096, maxPidNs: 64 }, { lockdep });
  m.attach();
  const t = m.tortureBase();
  const spin = t + TORTURE.spin;
  const rw = t + TORTURE.rw;
  const bench = new Bench({ time: opts.timeMs ?? 500, warmupTime: 100, retainSamples: true });
  const ppA = m.program([[SYS_PINGPONG, 0], [OP_LOOP, 0, ROUNDS]]);
  const ppB = m.program([[SYS_PINGPONG, 1], [OP_LOOP, 0, ROUNDS]]);
  const per = new Map<string, number>();
  const add = (name: string, n: number, fn: () => void): void => { per.set(name, n); bench.add(name, fn); };
  // Batches of operations per sample, so the harness's own timing cost is amortised.
  add('spin_lock+spin_unlock (uncontended)', BATCH, () => { m.attach(); for (let i = 0; i < BATCH; i++) { spin_lock(spin); spin_unlock(spin); } });
  add('read_lock+read_unlock (uncontended)', BATCH, () => { m.attach(); for (let i = 0; i < BATCH; i++) { read_lock(rw); read_unlock(rw); } });
  add('write_lock+write_unlock (uncontended)', BATCH, () => { m.attach(); for (let i = 0; i < BATCH; i++) { write_lock(rw); write_unlock(rw); } });
  add('rcu_read_lock+rcu_read_unlock', BATCH, () => { m.attach(); for (let i = 0; i < BATCH; i++) { rcu_read_lock(); rcu_read_unlock(); } });
  add('schedule-and-wake, 2 tasks on 1 CPU (per switch)', ROUNDS * 2, () => {
    m.attach();
    m.mem[t + TORTURE.flags] = 0;
    m.kthread(ppA);
    m.kthread(ppB);
    m.runInProcess();
  });
  if (pids) {
    // A namespace chain to level 31 below init_pid_ns; each level keeps one pid (its "init"), so
    // the alloc/free pairs measured never empty a namespace (free_pid would close it).
    const mem = m.mem;
    let ns = mem[kg + G.init_pid_ns]!;
    const nsAt: number[] = [ns];
    for (let level = 1; level <= 31; level++) {
      ns = pids.create_pid_namespace(mem[kg + G.init_user_ns]!, ns);
      if (ns <= 0) throw new Error(`create_pid_namespace at level ${level}: ${ns}`);
      nsAt.push(ns);
    }
    const keep = pids.alloc_pid(nsAt[31]!, null, 0);
    if (keep <= 0) throw new Error(`alloc_pid: ${keep}`);
    for (const depth of [0, 31]) {
      const target = nsAt[depth]!;
      add(`alloc_pid+free_pid, depth ${depth}`, PID_BATCH, () => {
        m.attach();
        for (let i = 0; i < PID_BATCH; i++) {
          const p = pids.alloc_pid(target, null, 0);
          if (p <= 0) throw new Error(`alloc_pid: ${p}`);
          pids.free_pid(p);
        }
        // The pids go back after a grace period: a quiescent state, then the callbacks (part of
        // the cost, as the CPU loop pays it).
        rcu_note_context_switch();
        rcu_do_batch();
      });
    }
  }
  if (fork) {
    // One fork -> exit -> wait4 cycle, in-process on a one-CPU machine of its own: init loops
    // FORKS times and halts (runInProcess returns when nothing is runnable); each sample rewinds
    // init's program and wakes it again.
    const fm = new Machine({ ncpus: 1, maxTasks: 4096, choiceWords: 1024 }, { lockdep });
    fm.attach();
    const child = fm.program([[SYS_EXIT, 0]]);
    const loop = fm.program([[SYS_FORK, 0, child, 0], [SYS_WAIT4, -1, 0], [OP_LOOP, 0, FORKS], [OP_HALT]]);
    const init = launchProcess(fm, loop);
    fm.runInProcess();
    add('fork+exit+wait4 cycle, 1 CPU, depth 0', FORKS, () => {
      fm.attach();
      const fmem = fm.mem;
      fmem[init + TASK.pc] = 0;
      fmem[init + TASK.user_arg] = 0;
      try_to_wake_up(init, TASK_INTERRUPTIBLE);
      fm.runInProcess();
    });
  }
  m.attach();
  await bench.run();
  return bench.tasks.map((task) => {
    const r = task.result as unknown as { latency?: { mean: number; rme: number; p50?: number; min?: number; max?: number; samplesCount?: number; samples?: number[] }; mean?: number; rme?: number; samples?: number[] };
    const meanMs = r.latency?.mean ?? r.mean ?? NaN;
    const n = per.get(task.name) ?? 1;
    const nsPerOp = (meanMs * 1e6) / n;
    return {
      name: task.name,
      nsPerOp,
      opsPerSec: 1e9 / nsPerOp,
      samples: r.latency?.samplesCount ?? r.latency?.samples?.length ?? r.samples?.length ?? 0,
      rme: r.latency?.rme ?? r.rme ?? NaN,
      medianNs: ((r.latency?.p50 ?? NaN) * 1e6) / n,
      minNs: ((r.latency?.min ?? NaN) * 1e6) / n,
      maxNs: ((r.latency?.max ?? NaN) * 1e6) / n,
      samplesNs: (r.latency?.samples ?? r.samples ?? []).map((ms) => Math.round((ms * 1e7) / n) / 10),
      lockdep,
    };
  });
}

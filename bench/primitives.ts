/**
 * Microbenchmarks of the model's primitives with tinybench: uncontended lock operations, RCU read
 * side, and a schedule-and-wake between two tasks on one CPU. Runs on the main thread as CPU 0.
 */
import { Bench } from 'tinybench';
import { Machine } from '../src/machine.js';
import { G, TORTURE } from '../src/mm/layout.js';
import { kg } from '../src/mm/memory.js';
import { spin_lock, spin_unlock } from '../src/locking/spinlock.js';
import { read_lock, read_unlock, write_lock, write_unlock } from '../src/locking/qrwlock.js';
import { rcu_read_lock, rcu_read_unlock } from '../src/rcu/rcu.js';
import { OP_LOOP } from '../src/kernel/entry.js';
import { SYS_PINGPONG } from '../src/kernel/torture.js';

export interface PrimitiveFigure {
  name: string;
  opsPerSec: number;
  nsPerOp: number;
  samples: number;
  rme: number;
  lockdep: boolean;
}

const ROUNDS = 2000;
const BATCH = 1000;

export async function benchPrimitives(opts: { timeMs?: number; lockdep?: boolean } = {}): Promise<PrimitiveFigure[]> {
  const lockdep = opts.lockdep ?? false;
  const m = new Machine({ ncpus: 1, maxTasks: 64 }, { lockdep });
  m.attach();
  const t = m.tortureBase();
  const spin = t + TORTURE.spin;
  const rw = t + TORTURE.rw;
  const bench = new Bench({ time: opts.timeMs ?? 500, warmupTime: 100 });
  const ppA = m.program([[SYS_PINGPONG, 0], [OP_LOOP, 0, ROUNDS]]);
  const ppB = m.program([[SYS_PINGPONG, 1], [OP_LOOP, 0, ROUNDS]]);
  bench
    // Batches of BATCH operations per sample, so the harness's own timing cost is amortised.
    .add(`spin_lock+spin_unlock (uncontended) [x${BATCH}]`, () => { for (let i = 0; i < BATCH; i++) { spin_lock(spin); spin_unlock(spin); } })
    .add(`read_lock+read_unlock (uncontended) [x${BATCH}]`, () => { for (let i = 0; i < BATCH; i++) { read_lock(rw); read_unlock(rw); } })
    .add(`write_lock+write_unlock (uncontended) [x${BATCH}]`, () => { for (let i = 0; i < BATCH; i++) { write_lock(rw); write_unlock(rw); } })
    .add(`rcu_read_lock+rcu_read_unlock [x${BATCH}]`, () => { for (let i = 0; i < BATCH; i++) { rcu_read_lock(); rcu_read_unlock(); } })
    .add(`schedule-and-wake, 2 tasks on 1 CPU (x${ROUNDS} rounds)`, () => {
      m.attach();
      m.mem[t + TORTURE.flags] = 0;
      m.kthread(ppA);
      m.kthread(ppB);
      m.runInProcess();
    });
  m.attach();
  await bench.run();
  void G; void kg;
  return bench.tasks.map((task) => {
    const r = task.result as unknown as { throughput?: { mean: number }; latency?: { mean: number; rme: number; samplesCount?: number; samples?: number[] }; hz?: number; mean?: number; rme?: number; samples?: number[] };
    const meanMs = r.latency?.mean ?? r.mean ?? NaN;
    const per = task.name.includes('rounds') ? ROUNDS * 2 : BATCH; // two switches per round
    const nsPerOp = (meanMs * 1e6) / per;
    return {
      name: task.name.replace(/ \(x\d+ rounds\)/, ' (per switch)').replace(/ \[x\d+\]/, ''),
      nsPerOp,
      opsPerSec: 1e9 / nsPerOp,
      samples: r.latency?.samplesCount ?? r.latency?.samples?.length ?? r.samples?.length ?? 0,
      rme: r.latency?.rme ?? r.rme ?? NaN,
      lockdep,
    };
  });
}

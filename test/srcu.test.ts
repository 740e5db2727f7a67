/**
 * SRCU's index-flip window (srcu_read_lock loads idx, then counts on it) in controlled mode: the
 * schedule puts a whole grace period between the load and the count, and the next grace period
 * must still wait for that reader. A use-after-free of the SRCU-protected torture object is the
 * model's own check (rcu_dereference_check: the freed object's poison word).
 */
import { describe, expect, it } from 'vitest';
import { Machine, type RunResult } from '../src/machine.js';
import { G, SRCU_GP_SEQ, TORTURE } from '../src/mm/layout.js';
import { CHOICE_STAY } from '../src/sched/hook.js';
import { V_RCU_USE_AFTER_FREE } from '../src/locking/violations.js';
import { OP_LOOP } from '../src/kernel/entry.js';
import { SYS_SET_FLAG, SYS_TORTURE_SRCU_READER, SYS_TORTURE_SRCU_WRITE, SYS_WAIT_FLAG } from '../src/kernel/torture.js';
import { srcu_exit, srcu_readers } from '../src/rcu/srcu.js';
import { kg } from '../src/mm/memory.js';

function log(m: Machine): number[] {
  m.attach();
  const t = m.tortureBase();
  return Array.from({ length: m.mem[t + TORTURE.log_len]! }, (_, i) => m.mem[t + TORTURE.log + i]!);
}

/** Log tags: the writer's two grace periods, the reader inside (+ its index), the waker. */
const GP1 = 1;
const GP2 = 2;
const WOKE = 3;
const INSIDE = 100;

/**
 * CPU 0: reader R (srcu_read_lock, dereference, set flag 0, sleep until flag 1, check, unlock).
 * CPU 1: writer W (publish P1 + grace period 1; wait for flag 0; set flag 2; publish P2 + grace
 * period 2 + free P1) and waker X (wait for flag 2, set flag 1). The replayed choices keep CPU 0
 * running for `k` decisions and then switch to CPU 1; after that nothing is preempted.
 */
async function run_window(k: number): Promise<{ r: RunResult; log: number[] }> {
  const m = new Machine({ ncpus: 2, maxTasks: 16, choiceWords: 1 << 12 }, { mode: 'controlled', seed: 1 });
  m.kthread(m.program([[SYS_TORTURE_SRCU_READER, 0, 1, INSIDE]], 'srcu_reader'), 0);
  m.kthread(m.program([[SYS_TORTURE_SRCU_WRITE, GP1], [SYS_WAIT_FLAG, 0, 0], [SYS_SET_FLAG, 2, 0], [SYS_TORTURE_SRCU_WRITE, GP2]], 'srcu_writer'), 1);
  m.kthread(m.program([[SYS_WAIT_FLAG, 2, 0], [SYS_SET_FLAG, 1, WOKE]], 'waker'), 1);
  const replay = [...Array<number>(k).fill(CHOICE_STAY), 1];
  const r = await m.run({ timeoutMs: 10_000, control: { strategy: 'random', replay, tail: 'nonpreempt' } });
  return { r, log: log(m) };
}

describe('SRCU: a reader preempted between its load of idx and its count', () => {
  it('is waited for by the next grace period (srcu_readers_active_idx_check before and after the flip)', async () => {
    const seen: string[] = [];
    // k = 4 is where the window is today (CPU 0's decisions before the hook between the load and
    // the count); if hooks move, the search over the others finds it again.
    for (const k of [4, ...Array.from({ length: 60 }, (_, i) => i).filter((i) => i !== 4)]) {
      const { r, log: l } = await run_window(k);
      seen.push(`${k}:${r.state}:${l.join(',')}`);
      // The window: grace period 1 completed, and only then did R count itself on the index it
      // loaded before that grace period's flip (idx 0).
      if (l[0] !== GP1 || l[1] !== INSIDE + 0) continue;
      const uaf = r.violations.filter((v) => v.kind === V_RCU_USE_AFTER_FREE);
      expect(uaf, `schedule k=${k}: grace period 2 ended while R was inside; log ${l.join(',')}`).toEqual([]);
      expect(r.state).toBe('stopped');
      // Grace period 2 waited for R: the waker let R go (3), R left, then grace period 2 ended (2).
      expect(l).toEqual([GP1, INSIDE + 0, WOKE, GP2]);
      return;
    }
    throw new Error(`no schedule put grace period 1 inside the window: ${seen.join(' ')}`);
  });
});

describe.runIf(process.env.PIDRACE_SLOW_TESTS === '1')('SRCU window schedules, every single preemption (slow)', () => {
  it('no schedule of the first 16 decisions lets a reader see an object freed under it', async () => {
    for (let k = 0; k < 16; k++) {
      const { r, log: l } = await run_window(k);
      expect(r.violations.filter((v) => v.kind === V_RCU_USE_AFTER_FREE), `k=${k}: ${l.join(',')}`).toEqual([]);
      // A schedule that preempts the reader after its count ends in the SRCU deadlock the model
      // reports (grace period 1 waits for the reader, which waits for the writer): also no escape.
      expect(['stopped', 'deadlock'], `k=${k}`).toContain(r.state);
    }
  }, 600_000);
});

/** Seeds of the random campaign: a short one by default, PIDRACE_SLOW_TESTS=1 for a long one. */
const CAMPAIGN_SEEDS = process.env.PIDRACE_SLOW_TESTS === '1' ? 40 : 2;

describe('SRCU torture in controlled mode (random schedules)', () => {
  it('readers and writers on 3 CPUs: no reader sees an object freed under it, and every count drains', async () => {
    for (let seed = 1; seed <= CAMPAIGN_SEEDS; seed++) {
      const m = new Machine({ ncpus: 3, maxTasks: 16, choiceWords: 1 << 16 }, { mode: 'controlled', seed });
      // A reader sets flag 7 and waits for it: it does not sleep, but its read-side section spans
      // the hooks of set_flag's wake-up and prepare_to_wait.
      const reader = m.program([[SYS_TORTURE_SRCU_READER, 7, 7, 0], [OP_LOOP, 0, 15]], 'srcu_reader');
      const writer = m.program([[SYS_TORTURE_SRCU_WRITE, 0], [OP_LOOP, 0, 5]], 'srcu_writer');
      m.kthread(reader, 0);
      m.kthread(reader, 1);
      m.kthread(writer, 2);
      m.kthread(writer, 1);
      const r = await m.run({ timeoutMs: 30_000, control: { strategy: 'random' } });
      expect(r.state, `seed ${seed}`).toBe('stopped');
      expect(r.violations.filter((v) => v.kind === V_RCU_USE_AFTER_FREE), `seed ${seed}`).toEqual([]);
      m.attach();
      const ssp = srcu_exit();
      expect(srcu_readers(ssp, 0) + srcu_readers(ssp, 1)).toBe(0);
      expect(m.mem[kg + G.srcu_exit + SRCU_GP_SEQ]).toBe(10); // one grace period per write
      expect(m.mem[m.tortureBase() + TORTURE.rcu_reads]).toBe(30);
    }
  });
});

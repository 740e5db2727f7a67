/**
 * SRCU (kernel/rcu/srcutree.c in miniature) for tasks_rcu_exit_srcu: readers are tasks and may
 * sleep inside their read-side section.
 *
 * Two reader counters indexed by the current `idx`. srcu_read_lock increments readers[idx] and
 * returns idx; synchronize_srcu takes the grace-period ownership, flips idx and sleeps until
 * readers[old] drains. A reader whose srcu_read_lock returned before the flip counted on `old`
 * and is waited for; one that starts after it counts on the new index and is not.
 */
import { G, SRCU_GP_OWNER, SRCU_GP_SEQ, SRCU_GP_WAIT_IDX, SRCU_IDX, SRCU_READERS0, TASK } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { sched_hook } from '../sched/hook.js';
import { might_sleep } from '../locking/lockdep.js';
import { current, SLEEP, TASK_UNINTERRUPTIBLE, WCHAN_SRCU_GP } from '../sched/core.js';
import { finish_wait, prepare_to_wait, wake_up } from '../sched/wait.js';
import { tracing, trace_event, TR_GP_END, TR_GP_START, TRF_SRCU } from '../kernel/trace.js';

/** The one srcu_struct of the model: tasks_rcu_exit_srcu. */
export const srcu_exit = (): number => kg + G.srcu_exit;

export function srcu_read_lock(ssp: number, site = 0): number {
  sched_hook(site);
  const idx = Atomics.load(mem, ssp + SRCU_IDX) & 1;
  Atomics.add(mem, ssp + SRCU_READERS0 + idx, 1);
  mem[current + TASK.srcu_idx] = idx + 1;
  return idx;
}

export function srcu_read_unlock(ssp: number, idx: number): void {
  mem[current + TASK.srcu_idx] = 0;
  const left = Atomics.sub(mem, ssp + SRCU_READERS0 + idx, 1) - 1;
  if (left === 0 && Atomics.load(mem, ssp + SRCU_GP_OWNER) !== 0) wake_up(kg + G.srcu_wq);
  sched_hook(0);
}

/** synchronize_srcu from task context: 0 when done, SLEEP while waiting (call again on resume). */
export function synchronize_srcu(ssp: number): number {
  const t = current;
  might_sleep();
  const wq = kg + G.srcu_wq;
  for (;;) {
    const owner = Atomics.load(mem, ssp + SRCU_GP_OWNER);
    if (owner === 0) {
      if (Atomics.compareExchange(mem, ssp + SRCU_GP_OWNER, 0, t) !== 0) continue;
      // Flip: new readers count on the other index from here on.
      const old = Atomics.load(mem, ssp + SRCU_IDX) & 1;
      Atomics.store(mem, ssp + SRCU_GP_WAIT_IDX, old);
      Atomics.store(mem, ssp + SRCU_IDX, old ^ 1);
      if (tracing) trace_event(TR_GP_START, TRF_SRCU, Atomics.load(mem, ssp + SRCU_GP_SEQ) + 1, t);
      sched_hook(0);
    } else if (owner !== t) {
      // Another task runs a grace period: wait for it to finish, then run ours.
      prepare_to_wait(wq, TASK_UNINTERRUPTIBLE, WCHAN_SRCU_GP, ssp, -1);
      if (Atomics.load(mem, ssp + SRCU_GP_OWNER) === 0) { finish_wait(wq); continue; }
      return SLEEP;
    }
    const old = Atomics.load(mem, ssp + SRCU_GP_WAIT_IDX);
    prepare_to_wait(wq, TASK_UNINTERRUPTIBLE, WCHAN_SRCU_GP, ssp, old);
    if (Atomics.load(mem, ssp + SRCU_READERS0 + old) !== 0) return SLEEP;
    finish_wait(wq);
    Atomics.add(mem, ssp + SRCU_GP_SEQ, 1);
    if (tracing) trace_event(TR_GP_END, TRF_SRCU, Atomics.load(mem, ssp + SRCU_GP_SEQ), t);
    Atomics.store(mem, ssp + SRCU_GP_OWNER, 0);
    wake_up(wq);
    return 0;
  }
}

export function srcu_readers(ssp: number, idx: number): number {
  return Atomics.load(mem, ssp + SRCU_READERS0 + idx);
}

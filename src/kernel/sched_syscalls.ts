/**
 * Scheduler system calls (kernel/sched/syscalls.c): sched_yield.
 *
 * do_sched_yield: "yield the current processor to other threads" - the caller stays runnable and
 * goes behind the other runnable tasks of its runqueue (yield_task of its class), then schedule().
 * Here: the call returns SLEEP with the task still TASK_RUNNING, so the CPU loop requeues it at the
 * tail (task_blocked) and runs the next task; the re-entered call (its restart phase says it has
 * yielded) returns 0. An idle CPU may take the task from that runqueue meanwhile.
 */
import { CPU, TASK } from '../mm/layout.js';
import { mem, this_cpu } from '../mm/memory.js';
import { pct_yield } from '../sched/hook.js';
import { might_sleep } from '../locking/lockdep.js';
import { current, SLEEP } from '../sched/core.js';
import { register_syscall } from './entry.js';
import { SYS_SCHED_YIELD } from './unistd.js';

/** TASK.restart_phase of a sched_yield that gave up its CPU and runs again. */
const YIELD_PHASE_YIELDED = 1;

function sys_sched_yield(): number {
  const t = current;
  if (mem[t + TASK.restart_phase] === YIELD_PHASE_YIELDED) {
    mem[t + TASK.restart_phase] = 0;
    return 0;
  }
  might_sleep(); // schedule() from a system call: never in atomic context
  mem[t + TASK.restart_phase] = YIELD_PHASE_YIELDED;
  // Alone on its runqueue, the caller would run again at once: a controlled run's PCT lowers this
  // CPU's priority instead, so that the CPUs it may be waiting for run (src/sched/hook.ts).
  if (Atomics.load(mem, this_cpu + CPU.rq_nr) === 0) pct_yield();
  return SLEEP;
}

register_syscall(SYS_SCHED_YIELD, 'sched_yield', sys_sched_yield);

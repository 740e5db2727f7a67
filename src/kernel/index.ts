/**
 * The kernel image a CPU runs: importing this module registers every system call and RCU
 * callback, and gives the CPU loop its TaskRunner. Workers import this (never the main-side
 * orchestration).
 */
import { TASK } from '../mm/layout.js';
import { mem } from '../mm/memory.js';
import { type TaskRunner } from '../sched/core.js';
import { set_live_tasks } from '../sched/hook.js';
import { G } from '../mm/layout.js';
import { kg } from '../mm/memory.js';
import { set_entry_hooks, task_step } from './entry.js';
import { kthread_exit, kthread_free, PF_KTHREAD } from './kthread.js';
import './torture.js';

/** Installed by the process model (exit.ts) to finish a dead task; kthreads are freed directly. */
let process_task_dead: (t: number) => void = () => {};
export function set_process_task_dead(f: (t: number) => void): void {
  process_task_dead = f;
}

export const kernel_runner: TaskRunner = {
  step: task_step,
  task_dead(t: number): void {
    if ((mem[t + TASK.flags]! & PF_KTHREAD) !== 0) kthread_free(t);
    else process_task_dead(t);
  },
};

/** Default entry hooks: kernel threads die at the end of their program. */
set_entry_hooks({
  exit_to_user_mode: () => {},
  program_end: (t) => {
    if ((mem[t + TASK.flags]! & PF_KTHREAD) !== 0) kthread_exit(t);
    return false;
  },
});

set_live_tasks(() => Atomics.load(mem, kg + G.nr_threads));

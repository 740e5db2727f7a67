/**
 * Bare tasks for the foundation's torture runs (kernel/kthread.c in spirit): a task record with a
 * program and nothing else (no pid, no parent). The process model (fork.ts) builds real tasks.
 */
import { G, TASK, POISON_LIVE } from '../mm/layout.js';
import { kg, mem, SLAB_TASK } from '../mm/memory.js';
import { kmem_cache_alloc, kmem_cache_free } from '../mm/slab.js';
import { activate_task, TASK_DEAD, TASK_RUNNING } from '../sched/core.js';
import { PF_KTHREAD } from './sched_task.js';


/** Create a kernel thread running `prog` on `cpu` (or wherever): 0 when the task cache is full. */
export function kthread_create(prog: number, cpu = 0): number {
  const t = kmem_cache_alloc(SLAB_TASK);
  if (!t) return 0;
  mem[t + TASK.id] = Atomics.add(mem, kg + G.seq_tasks, 1) + 1;
  mem[t + TASK.flags] = PF_KTHREAD;
  mem[t + TASK.prog] = prog;
  mem[t + TASK.usage] = 1;
  mem[t + TASK.cpu] = cpu;
  Atomics.store(mem, t + TASK.poison, POISON_LIVE);
  Atomics.store(mem, t + TASK.state, TASK_RUNNING);
  Atomics.add(mem, kg + G.nr_threads, 1);
  activate_task(t);
  return t;
}

/** A kernel thread ran off the end of its program: it is gone. */
export function kthread_exit(t: number): void {
  Atomics.store(mem, t + TASK.state, TASK_DEAD);
}

/** finish_task_switch for a dead kernel thread: free the record. */
export function kthread_free(t: number): void {
  Atomics.sub(mem, kg + G.nr_threads, 1);
  kmem_cache_free(SLAB_TASK, t, TASK.poison);
}

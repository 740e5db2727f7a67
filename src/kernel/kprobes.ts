/**
 * The two kprobes paths of catalog entry 2 (the 2024 report by Chen Zhongjin, "kprobes: Use
 * synchronize_rcu_tasks_rude in kprobe_optimizer"; fixed in RCU Tasks by 1612160b9127):
 * - kprobe_optimizer (kernel/kprobes.c): takes kprobe_mutex and, with it held, waits in
 *   synchronize_rcu_tasks() for every potentially preempted task to schedule;
 * - perf_kprobe_init (kernel/trace/trace_event_perf.c -> create_local_trace_kprobe ->
 *   register_kprobe): takes kprobe_mutex, an uninterruptible sleep that a pending SIGKILL does
 *   not end.
 * The optimizer work item is modelled as a system call of whatever task runs it (the kernel runs
 * it from a kworker); the mutex is G.kprobe_mutex. text_mutex and cpus_read_lock, which the
 * optimizer also holds, play no part in the cycle and are left out.
 */
import { G, TASK } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { lock_class_register } from '../locking/lockdep.js';
import { mutex_init, mutex_lock, mutex_unlock } from '../locking/mutex.js';
import { synchronize_rcu_tasks } from '../rcu/tasks.js';
import { current, SLEEP } from '../sched/core.js';
import { register_boot_init } from './boot.js';
import { register_syscall } from './entry.js';
import { SYS_KPROBE_OPTIMIZER, SYS_PERF_KPROBE_INIT } from './unistd.js';

export const LC_KPROBE_MUTEX = lock_class_register('kprobe_mutex');

/** Scheduling-hook sites. */
export const SITE_KPROBE_OPTIMIZER = 245;
export const SITE_PERF_KPROBE_INIT = 246;

export const kprobe_mutex = (): number => kg + G.kprobe_mutex;

register_boot_init(() => mutex_init(kprobe_mutex(), LC_KPROBE_MUTEX));

/** kprobe_optimizer restart phases (TASK.restart_phase). */
const KOP_LOCK = 0;
const KOP_SYNC = 1;

/**
 * kprobe_optimizer: mutex_lock(&kprobe_mutex); ... synchronize_rcu_tasks(); ...
 * mutex_unlock(&kprobe_mutex). Restartable (both waits may return SLEEP).
 */
export function kprobe_optimizer(): number {
  const t = current;
  if (mem[t + TASK.restart_phase] === KOP_LOCK) {
    if (mutex_lock(kprobe_mutex(), SITE_KPROBE_OPTIMIZER) === SLEEP) return SLEEP;
    mem[t + TASK.restart_phase] = KOP_SYNC;
  }
  // Step 2: wait for the quiescence period so that all potentially preempted tasks have
  // scheduled normally (do_unoptimize_kprobes ran before, do_optimize_kprobes runs after).
  if (synchronize_rcu_tasks() === SLEEP) return SLEEP;
  mem[t + TASK.restart_phase] = KOP_LOCK;
  mutex_unlock(kprobe_mutex());
  return 0;
}

/** perf_kprobe_init -> register_kprobe: mutex_lock(&kprobe_mutex) ... mutex_unlock. */
export function perf_kprobe_init(): number {
  if (mutex_lock(kprobe_mutex(), SITE_PERF_KPROBE_INIT) === SLEEP) return SLEEP;
  mutex_unlock(kprobe_mutex());
  return 0;
}

register_syscall(SYS_KPROBE_OPTIMIZER, 'kprobe_optimizer', () => kprobe_optimizer());
register_syscall(SYS_PERF_KPROBE_INIT, 'perf_kprobe_init', () => perf_kprobe_init());

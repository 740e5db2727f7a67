/**
 * task_work_add with TWA_SIGNAL (kernel/task_work.c), as io_uring queues completions for a task:
 * set TIF_NOTIFY_SIGNAL on the target and wake it like a signal, so that signal_pending() is true
 * until the task runs its task work on the way back to user mode (signal.ts exit_to_user_mode,
 * tracehook_notify_signal). A task past exit_task_work (in the model: from exit_notify on) takes no
 * more work: -ESRCH. The model queues no work item, only the flag and the wake-up.
 *
 * And membarrier(MEMBARRIER_CMD_GLOBAL) (kernel/sched/membarrier.c): synchronize_rcu(), an
 * uninterruptible wait for a grace period that a user program can ask for.
 */
import { TASK } from '../mm/layout.js';
import { mem } from '../mm/memory.js';
import { rcu_read_lock, rcu_read_unlock, synchronize_rcu } from '../rcu/rcu.js';
import { try_to_wake_up, TASK_INTERRUPTIBLE } from '../sched/core.js';
import { register_syscall } from './entry.js';
import { EINVAL, ESRCH } from './errno.js';
import { SYS_MEMBARRIER, SYS_TASK_WORK_ADD } from './unistd.js';
import { find_vpid, pid_task, PIDTYPE_PID } from './pid.js';
import { EXP_NONE, EXP_SIGNALS } from './exit.js';

export const MEMBARRIER_CMD_GLOBAL = 1;

/** task_work_add(task, work, TWA_SIGNAL): 0, or -ESRCH once the task ran exit_task_work. */
export function task_work_add_signal(task: number): number {
  // task_work_add fails on a task whose work list is closed (work_exited), set by exit_task_work
  // before exit_notify: the model's exit phase past EXP_NONE stands for that (EXP_SIGNALS, asleep
  // in exit_signals, is before it). The kernel reads the list head with READ_ONCE
  // (`head = READ_ONCE(task->task_works)`, kernel/task_work.c) against task_work_run's cmpxchg
  // that installs work_exited: a marked load here, against do_exit's store of EXP_NOTIFY (a plain
  // read was a KCSAN report in 10-minute checked runs, session 13). As in the
  // kernel, where the notification follows a cmpxchg that won before the list closed, a task that
  // closes its list just after this look still gets the flag and the wake-up.
  const ph = Atomics.load(mem, task + TASK.exit_phase);
  if (ph !== EXP_NONE && ph !== EXP_SIGNALS) return -ESRCH;
  // set_notify_signal: the flag, then the wake-up (the woken task's signal_pending sees it).
  Atomics.store(mem, task + TASK.notify_signal, 1);
  try_to_wake_up(task, TASK_INTERRUPTIBLE);
  return 0;
}

/** The io_uring side of the scenario: queue task work on the task with pid `nr` (caller's namespace). */
function sys_task_work_add(nr: number): number {
  rcu_read_lock();
  const pid = find_vpid(nr);
  const task = pid ? pid_task(pid, PIDTYPE_PID) : 0;
  const r = task ? task_work_add_signal(task) : -ESRCH;
  rcu_read_unlock();
  return r;
}

/** membarrier(cmd, 0): MEMBARRIER_CMD_GLOBAL waits for a grace period. */
function sys_membarrier(cmd: number): number {
  if (cmd !== MEMBARRIER_CMD_GLOBAL) return -EINVAL;
  return synchronize_rcu();
}

register_syscall(SYS_TASK_WORK_ADD, 'task_work_add', (nr) => sys_task_work_add(nr));
register_syscall(SYS_MEMBARRIER, 'membarrier', (cmd) => sys_membarrier(cmd));

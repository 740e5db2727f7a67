/**
 * The kernel image a CPU runs: importing this module registers every system call and RCU
 * callback, and gives the CPU loop its TaskRunner. Workers import this (never the main-side
 * orchestration). It imports no tool code: the stress operations are a user of the kernel and are
 * registered by the worker (workers/cpu.ts imports the worker-side half of src/stress).
 */
import { TASK } from '../mm/layout.js';
import { mem } from '../mm/memory.js';
import { type TaskRunner } from '../sched/core.js';
import { set_blocked_tasks } from '../sched/hook.js';
import { set_entry_hooks, set_ucall, task_step } from './entry.js';
import { kthread_exit, kthread_free } from './kthread.js';
import { PF_KTHREAD } from './sched_task.js';
import './torture.js';
import './pid_namespace.js'; // pid, pid_namespace, user_namespace: boot init of init_user_ns/init_pid_ns, ns_last_pid
import './nsproxy.js'; // nsproxy, ns_common, nsfs, pidfd: setns, pidfd_open, /proc/PID/ns, init_nsproxy
import './fork.js'; // process lifecycle: fork/clone3/clone_with_pids/unshare, the init task at boot
import './ptrace.js';
import './exec.js'; // execve: de_thread, cred_guard_mutex, PTRACE_EVENT_EXEC
import './sched_syscalls.js'; // sched_yield
import '../rcu/tasks.js'; // exit_tasks_rcu_*, synchronize_rcu_tasks
import './fasync.js'; import './kprobes.js'; import './user_assertions.js'; import './proc_root.js'; import './task_work.js'; import './reboot.js'; import './cgroup_pids.js'; import './itimer.js'; // catalog scenarios: kill_fasync + interrupts, kprobe_mutex, user checks (160..199)
import { process_task_dead as exit_process_task_dead } from './exit.js';
import { nr_blocked_tasks } from './sched_task.js';
import { exit_to_user_mode as signal_exit_to_user_mode } from './signal.js';
import { SYS_EXIT } from './unistd.js';

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

/**
 * Entry hooks: kernel threads die at the end of their program and take no signals; a process
 * delivers pending signals on return to user mode (signal.ts: a fatal one becomes do_exit), and a
 * program that runs off its end calls exit(0).
 */
set_entry_hooks({
  exit_to_user_mode: (t) => {
    if ((mem[t + TASK.flags]! & PF_KTHREAD) === 0) signal_exit_to_user_mode(t);
  },
  program_end: (t) => {
    if ((mem[t + TASK.flags]! & PF_KTHREAD) !== 0) {
      kthread_exit(t);
      return false;
    }
    set_ucall(t, SYS_EXIT, 0, 0, 0);
    return true;
  },
});
set_process_task_dead(exit_process_task_dead);

set_blocked_tasks(() => nr_blocked_tasks(mem));

/**
 * ptrace, minimal (kernel/ptrace.c), for the exit-path interactions of catalog entry 6: attach
 * (the tracer becomes the tracee's parent and gets it on its ptraced list), the tracee's exit
 * notifying the tracer, wait4 by the tracer, detach, and exit_ptrace when the tracer exits.
 * Not modelled: stops (attach acts as PTRACE_SEIZE: no SIGSTOP), ptrace events and requests
 * other than TRACEME / ATTACH / SEIZE / DETACH, PT_EXITKILL.
 */
import { G, SIG, TASK } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { write_lock_irq, write_unlock_irq } from '../locking/qrwlock.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { current } from '../sched/core.js';
import { register_syscall } from './entry.js';
import { EINVAL, EIO, EPERM, ESRCH } from './errno.js';
import { SYS_PTRACE } from './unistd.js';
import { find_task_by_vpid } from './pid.js';
import { ptrace_may_access, PTRACE_MODE_ATTACH, PTRACE_MODE_REALCREDS } from './ns_common.js';
import {
  __wake_up_parent, EXIT_DEAD, EXIT_ZOMBIE, PF_KTHREAD, PT_PTRACED, same_thread_group, thread_group_empty,
  thread_group_leader,
  sigmask, SIGCHLD,
} from './sched_task.js';
import { do_notify_parent, release_task } from './exit.js';


export const PTRACE_TRACEME = 0;
export const PTRACE_ATTACH = 16;
export const PTRACE_DETACH = 17;
export const PTRACE_SEIZE = 0x4206;

/** __ptrace_link (kernel/ptrace.c): put child on new_parent's ptraced list; it becomes the parent. */
export function __ptrace_link(child: number, new_parent: number): void {
  mem[child + TASK.ptrace_next] = mem[new_parent + TASK.ptraced]!;
  mem[new_parent + TASK.ptraced] = child;
  mem[child + TASK.parent] = new_parent;
}

/**
 * __ptrace_unlink (kernel/ptrace.c): back to the real parent, off the tracer's list.
 * Caller holds tasklist_lock for write.
 */
export function __ptrace_unlink(child: number): void {
  const tracer = mem[child + TASK.parent]!;
  let prev = 0;
  let x = mem[tracer + TASK.ptraced]!;
  while (x && x !== child) { prev = x; x = mem[x + TASK.ptrace_next]!; }
  if (x) {
    if (prev) mem[prev + TASK.ptrace_next] = mem[child + TASK.ptrace_next]!;
    else mem[tracer + TASK.ptraced] = mem[child + TASK.ptrace_next]!;
  }
  mem[child + TASK.ptrace_next] = 0;
  mem[child + TASK.parent] = mem[child + TASK.real_parent]!;
  mem[child + TASK.ptrace] = 0;
}

/** ignoring_children (kernel/ptrace.c): the tracer's SIGCHLD is SIG_IGN. */
function ignoring_children(tracer: number): boolean {
  const sh = mem[tracer + TASK.sighand]!;
  return sh !== 0 && (mem[sh + SIG.action_ign]! & sigmask(SIGCHLD)) !== 0;
}

/**
 * __ptrace_detach (kernel/ptrace.c): untrace p; a zombie that nobody else will reap is marked
 * EXIT_DEAD (true: the caller must release_task it). Caller holds tasklist_lock for write.
 */
export function __ptrace_detach(tracer: number, p: number): boolean {
  __ptrace_unlink(p);
  if (mem[p + TASK.exit_state] !== EXIT_ZOMBIE) return false;
  let dead = !thread_group_leader(p);
  if (!dead && thread_group_empty(p)) {
    if (!same_thread_group(mem[p + TASK.real_parent]!, tracer)) dead = do_notify_parent(p, mem[p + TASK.exit_signal]!);
    else if (ignoring_children(tracer)) {
      __wake_up_parent(tracer);
      dead = true;
    }
  }
  // Mark it as in the process of being reaped.
  if (dead) mem[p + TASK.exit_state] = EXIT_DEAD;
  return dead;
}

/**
 * exit_ptrace (kernel/ptrace.c): the tracer is exiting; detach every tracee, putting the ones to
 * release on the tracer's dead list (TASK.exit_dead, linked by dead_next). Caller holds
 * tasklist_lock for write.
 */
export function exit_ptrace(tracer: number): void {
  let p = mem[tracer + TASK.ptraced]!;
  while (p) {
    const n = mem[p + TASK.ptrace_next]!;
    if (__ptrace_detach(tracer, p)) {
      mem[p + TASK.dead_next] = mem[tracer + TASK.exit_dead]!;
      mem[tracer + TASK.exit_dead] = p;
    }
    p = n;
  }
}

/**
 * ptrace_attach (kernel/ptrace.c) for PTRACE_ATTACH / PTRACE_SEIZE: EPERM for a kernel thread,
 * the caller's own thread group, a task that exited or is already traced, or without
 * ptrace_may_access.
 */
export function ptrace_attach(task: number): number {
  if ((mem[task + TASK.flags]! & PF_KTHREAD) !== 0) return -EPERM;
  if (same_thread_group(task, current)) return -EPERM;
  if (!ptrace_may_access(task, PTRACE_MODE_ATTACH | PTRACE_MODE_REALCREDS)) return -EPERM;
  const tl = kg + G.tasklist_lock;
  write_lock_irq(tl);
  let ret = 0;
  if (mem[task + TASK.exit_state] !== 0 || mem[task + TASK.ptrace] !== 0) ret = -EPERM;
  else {
    mem[task + TASK.ptrace] = PT_PTRACED;
    __ptrace_link(task, current);
  }
  write_unlock_irq(tl);
  return ret;
}

/** ptrace_traceme (kernel/ptrace.c): the real parent becomes the tracer. */
function ptrace_traceme(): number {
  const tl = kg + G.tasklist_lock;
  write_lock_irq(tl);
  let ret = -EPERM;
  const parent = mem[current + TASK.real_parent]!;
  if (mem[current + TASK.ptrace] === 0 && parent !== 0) {
    mem[current + TASK.ptrace] = PT_PTRACED;
    __ptrace_link(current, parent);
    ret = 0;
  }
  write_unlock_irq(tl);
  return ret;
}

/**
 * PTRACE_DETACH (ptrace_detach): the tracee must be traced by current (ESRCH otherwise, as
 * ptrace_check_attach); a zombie tracee nobody else reaps is released here.
 */
function ptrace_detach(child: number): number {
  const tl = kg + G.tasklist_lock;
  write_lock_irq(tl);
  if (mem[child + TASK.ptrace] === 0 || mem[child + TASK.parent] !== current) {
    write_unlock_irq(tl);
    return -ESRCH;
  }
  const dead = __ptrace_detach(current, child);
  write_unlock_irq(tl);
  if (dead) release_task(child);
  return 0;
}

/** ptrace(request, pid) (SYSCALL_DEFINE4(ptrace)). */
export function sys_ptrace(request: number, pid: number): number {
  if (request === PTRACE_TRACEME) return ptrace_traceme();
  rcu_read_lock();
  const child = pid > 0 ? find_task_by_vpid(pid) : 0;
  rcu_read_unlock();
  if (!child) return -ESRCH;
  if (request === PTRACE_ATTACH || request === PTRACE_SEIZE) return ptrace_attach(child);
  if (request === PTRACE_DETACH) return ptrace_detach(child);
  return request < 0 ? -EINVAL : -EIO;
}

register_syscall(SYS_PTRACE, 'ptrace', (req, pid) => sys_ptrace(req, pid));

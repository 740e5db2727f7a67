/**
 * ptrace, minimal (kernel/ptrace.c): attach (the tracer becomes the tracee's parent and gets it on
 * its ptraced list), the tracee's exit notifying the tracer, wait4 by the tracer, detach, and
 * exit_ptrace when the tracer exits; ptrace_attach serialises with execve on the tracee's
 * signal->cred_guard_mutex (mutex_lock_interruptible, as the kernel); PTRACE_SEIZE with
 * PTRACE_O_TRACEEXEC makes execve stop in TASK_TRACED (ptrace_event(PTRACE_EVENT_EXEC), ptrace_stop
 * in signal.ts), reported by wait4 and ended by PTRACE_CONT.
 * A group stop of a tracee is a ptrace trap (signal.ts do_jobctl_trap: CLD_STOPPED to the tracer,
 * ended by PTRACE_CONT, detach or SIGKILL; a detach puts it back in the group stop).
 * Not modelled: signal-delivery traps (PTRACE_ATTACH acts as PTRACE_SEIZE: no SIGSTOP), the legacy SIGTRAP after execve of a PTRACE_ATTACH tracee, events other than
 * PTRACE_EVENT_EXEC, options other than PTRACE_O_TRACEEXEC (-EIO here), requests other than
 * TRACEME / ATTACH / SEIZE / DETACH / CONT, PT_EXITKILL.
 */
import { data_race } from '../lib/compiler.js';
import { G, SIG, TASK, UCALL } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { mutex_lock_interruptible, mutex_unlock, MUTEX_INTERRUPTED } from '../locking/mutex.js';
import { write_lock_irq, write_unlock_irq } from '../locking/qrwlock.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { current, SLEEP, try_to_wake_up, __TASK_STOPPED, __TASK_TRACED } from '../sched/core.js';
import { register_syscall } from './entry.js';
import { EINVAL, EIO, EPERM, ERESTARTNOINTR, ESRCH } from './errno.js';
import { SYS_PTRACE } from './unistd.js';
import { find_task_by_vpid } from './pid.js';
import { ptrace_may_access, PTRACE_MODE_ATTACH, PTRACE_MODE_REALCREDS } from './ns_common.js';
import {
  __wake_up_parent, EXIT_DEAD, EXIT_ZOMBIE, JOBCTL_STOP_PENDING, JOBCTL_STOP_SIGMASK, JOBCTL_STOPPED, JOBCTL_TRACED, JOBCTL_TRAP_MASK,
  JOBCTL_TRAP_STOP, PF_EXITING, SIGNAL_STOP_STOPPED, SIGSTOP, PF_KTHREAD, PT_OPT_FLAG_SHIFT, PT_PTRACED, PT_SEIZED, PTRACE_O_TRACEEXEC,
  same_thread_group, thread_group_empty, thread_group_leader, sigmask, SIGCHLD, SIGTRAP, LD_PTRACE_UNLINK, sibling_list_corrupt,
} from './sched_task.js';
import { do_notify_parent, get_task_struct, put_task_struct, release_task } from './exit.js';
import {
  ptrace_signal_wake_up, ptrace_stop, signal_wake_up_state, task_clear_jobctl_pending, task_is_stopped, task_set_jobctl_pending,
} from './signal.js';

export const PTRACE_TRACEME = 0;
export const PTRACE_ATTACH = 16;
export const PTRACE_DETACH = 17;
export const PTRACE_SEIZE = 0x4206;
export const PTRACE_CONT = 7;
/** The PTRACE_O_* options of PTRACE_SEIZE the model implements (the kernel's PTRACE_O_MASK has more). */
const PTRACE_O_MODELLED = PTRACE_O_TRACEEXEC;

/** Scheduling-hook site: ptrace_attach about to take the tracee's cred_guard_mutex. */
export const SITE_PTRACE_ATTACH = 284;
/** sys_ptrace restart phase (TASK.restart_phase): asleep in ptrace_attach's mutex_lock_interruptible. */
const PTP_ATTACH_CRED_GUARD = 1;
/** TASK.restart slots of that sleep: the tracee (a get_task_struct reference) and the new flags. */
const PTR_TASK = 0;
const PTR_FLAGS = 1;

/** PT_EVENT_FLAG(event) (include/linux/ptrace.h): the option bit of a ptrace event in task->ptrace. */
function PT_EVENT_FLAG(event: number): number {
  return 1 << (PT_OPT_FLAG_SHIFT + event);
}

/**
 * ptrace_event (include/linux/ptrace.h) for the one event the model has, PTRACE_EVENT_EXEC: with
 * the option set, stop for the tracer (ptrace_stop, TASK_TRACED). Returns 0, or SLEEP while
 * stopped (call again with `resumed` true when woken). The legacy SIGTRAP to a PTRACE_ATTACH
 * tracee without the option is not modelled (signal-delivery stops are not).
 */
export function ptrace_event(event: number, resumed: boolean): number {
  if (!resumed && (mem[current + TASK.ptrace]! & PT_EVENT_FLAG(event)) === 0) return 0;
  const r = ptrace_stop((event << 8) | SIGTRAP, resumed);
  return r === SLEEP ? SLEEP : 0;
}

/** __ptrace_link (kernel/ptrace.c): put child on new_parent's ptraced list; it becomes the parent. */
export function __ptrace_link(child: number, new_parent: number): void {
  mem[child + TASK.ptrace_next] = mem[new_parent + TASK.ptraced]!;
  mem[new_parent + TASK.ptraced] = child;
  mem[child + TASK.parent] = new_parent;
}

/**
 * __ptrace_unlink (kernel/ptrace.c): back to the real parent, off the tracer's list. Under the
 * tracee's siglock: pending traps are cleared; if a group stop is in effect (or in progress) and
 * the tracee is not exiting, JOBCTL_STOP_PENDING is reinstated (the stop signal SIGSTOP if none
 * was recorded), so "after detach, the ptracee should be in a state which conforms to the group
 * stop"; a tracee in TASK_TRACED, or one that must go to TASK_STOPPED, is woken with resume.
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
  } else {
    // The model's CONFIG_DEBUG_LIST (list_del_init(&child->ptrace_entry)): a tracee is on its
    // tracer's ->ptraced list for as long as ->ptrace is set (__ptrace_link, under tasklist_lock).
    sibling_list_corrupt(LD_PTRACE_UNLINK, tracer, child, 0);
  }
  mem[child + TASK.ptrace_next] = 0;
  mem[child + TASK.parent] = mem[child + TASK.real_parent]!;
  const sh = mem[child + TASK.sighand]!;
  if (!sh) {
    mem[child + TASK.ptrace] = 0; // released: no siglock, no stop to end
    return;
  }
  spin_lock(sh + SIG.siglock);
  mem[child + TASK.ptrace] = 0;
  // Clear all pending traps (JOBCTL_TRAPPING is not modelled).
  task_clear_jobctl_pending(child, JOBCTL_TRAP_MASK);
  // Reinstate JOBCTL_STOP_PENDING if group stop is in effect and @child isn't dead.
  const sig = mem[child + TASK.signal]!;
  if ((mem[child + TASK.flags]! & PF_EXITING) === 0 &&
      ((mem[sig + SIG.flags]! & SIGNAL_STOP_STOPPED) !== 0 || mem[sig + SIG.group_stop_count] !== 0)) {
    mem[child + TASK.jobctl] = mem[child + TASK.jobctl]! | JOBCTL_STOP_PENDING;
    if ((mem[child + TASK.jobctl]! & JOBCTL_STOP_SIGMASK) === 0) mem[child + TASK.jobctl] = mem[child + TASK.jobctl]! | SIGSTOP;
  }
  // If transition to TASK_STOPPED is pending or in TASK_TRACED, kick @child in the butt.
  if ((mem[child + TASK.jobctl]! & (JOBCTL_STOP_PENDING | JOBCTL_TRACED)) !== 0) ptrace_signal_wake_up(child, true);
  spin_unlock(sh + SIG.siglock);
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
 * ptrace_attach (kernel/ptrace.c) for PTRACE_ATTACH / PTRACE_SEIZE: EPERM for a kernel thread or
 * the caller's own thread group; then, under the tracee's signal->cred_guard_mutex ("protect
 * exec's credential calculations against our interference"; mutex_lock_interruptible: a signal
 * makes it -ERESTARTNOINTR), ptrace_may_access and, under tasklist_lock, EPERM for a task that
 * exited or is already traced. PTRACE_SEIZE takes its options in `flags` (-EIO for options the
 * model does not implement). `task` comes with a reference (sys_ptrace's ptrace_get_task_struct),
 * dropped on every return but SLEEP: the sleep on the mutex keeps the tracee, and the reference,
 * in the restart block (ptrace_attach_task_ref tells the audit).
 */
export function ptrace_attach(task: number, request: number, flags: number): number {
  const me = current;
  let cgm: number;
  if (mem[me + TASK.restart_phase] === PTP_ATTACH_CRED_GUARD) {
    task = mem[me + TASK.restart + PTR_TASK]!;
    flags = mem[me + TASK.restart + PTR_FLAGS]!;
    cgm = mem[task + TASK.signal]! + SIG.cred_guard_mutex;
  } else {
    if (request === PTRACE_SEIZE) {
      if ((flags & ~PTRACE_O_MODELLED) !== 0) {
        put_task_struct(task);
        return -EIO;
      }
      flags = PT_PTRACED | PT_SEIZED | (flags << PT_OPT_FLAG_SHIFT);
    } else {
      flags = PT_PTRACED;
    }
    // (The model's same_thread_group may read ->group_leader, a word RCU readers may read.)
    // task->flags with no lock, as kernel/ptrace.c reads it (`if (unlikely(task->flags &
    // PF_KTHREAD))`, read with find_string): PF_KTHREAD never changes, but the task may be setting
    // PF_EXITING in exit_signals meanwhile - a race on purpose (data_race; a 10-minute checked
    // free run reported it, session 13).
    rcu_read_lock();
    const eperm = (data_race(mem[task + TASK.flags]!) & PF_KTHREAD) !== 0 || same_thread_group(task, me);
    rcu_read_unlock();
    if (eperm) {
      put_task_struct(task);
      return -EPERM;
    }
    cgm = mem[task + TASK.signal]! + SIG.cred_guard_mutex;
    mem[me + TASK.restart + PTR_TASK] = task;
    mem[me + TASK.restart + PTR_FLAGS] = flags;
    mem[me + TASK.restart_phase] = PTP_ATTACH_CRED_GUARD;
  }
  const r = mutex_lock_interruptible(cgm, SITE_PTRACE_ATTACH);
  if (r === SLEEP) return SLEEP;
  mem[me + TASK.restart_phase] = 0;
  mem[me + TASK.restart + PTR_TASK] = 0;
  let ret: number;
  if (r === MUTEX_INTERRUPTED) {
    ret = -ERESTARTNOINTR;
  } else {
    rcu_read_lock();
    const may = ptrace_may_access(task, PTRACE_MODE_ATTACH | PTRACE_MODE_REALCREDS);
    rcu_read_unlock();
    if (!may) ret = -EPERM;
    else {
      const tl = kg + G.tasklist_lock;
      write_lock_irq(tl);
      if (mem[task + TASK.exit_state] !== 0 || mem[task + TASK.ptrace] !== 0) ret = -EPERM;
      else {
        mem[task + TASK.ptrace] = flags;
        __ptrace_link(task, me);
        // If the task is already STOPPED, set JOBCTL_TRAP_STOP and kick it so that it transits
        // to TRACED (the kernel's JOBCTL_TRAPPING wait for the transition is not modelled: a
        // WNOHANG wait right after the attach may miss the transient RUNNING state).
        const sh = mem[task + TASK.sighand]!;
        spin_lock(sh + SIG.siglock);
        if (task_is_stopped(task) && task_set_jobctl_pending(task, JOBCTL_TRAP_STOP)) {
          mem[task + TASK.jobctl] = mem[task + TASK.jobctl]! & ~JOBCTL_STOPPED;
          signal_wake_up_state(task, __TASK_STOPPED);
        }
        spin_unlock(sh + SIG.siglock);
        ret = 0;
      }
      write_unlock_irq(tl);
    }
    mutex_unlock(cgm);
  }
  put_task_struct(task);
  return ret;
}

/** ptrace_traceme (kernel/ptrace.c): the real parent becomes the tracer. */
function ptrace_traceme(): number {
  const tl = kg + G.tasklist_lock;
  write_lock_irq(tl);
  let ret = -EPERM;
  const parent = mem[current + TASK.real_parent]!;
  if (mem[current + TASK.ptrace] === 0 && parent !== 0) {
    ret = 0; // security_ptrace_traceme: no LSM
    // Check PF_EXITING to ensure ->real_parent has not passed exit_ptrace(). Otherwise we don't
    // report the error but pretend ->real_parent untraces us right after return. (PF_EXITING is
    // set before exit_notify's exit_ptrace, which runs under this lock held for write.)
    if ((mem[parent + TASK.flags]! & PF_EXITING) === 0) {
      mem[current + TASK.ptrace] = PT_PTRACED;
      __ptrace_link(current, parent);
    }
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

/**
 * PTRACE_CONT (ptrace_resume): the tracee must be traced by current and stopped for it
 * (ptrace_check_attach: JOBCTL_TRACED; ESRCH otherwise); it leaves ptrace_stop with `data` as the
 * signal to deliver (the model delivers none: data must be 0, else EIO as for an invalid signal
 * the model does not have).
 */
function ptrace_cont(child: number, data: number): number {
  if (data !== 0) return -EIO;
  const tl = kg + G.tasklist_lock;
  write_lock_irq(tl);
  let ret = -ESRCH;
  const sh = mem[child + TASK.sighand]!;
  if (mem[child + TASK.ptrace] !== 0 && mem[child + TASK.parent] === current && sh) {
    spin_lock(sh + SIG.siglock);
    if ((mem[child + TASK.jobctl]! & JOBCTL_TRACED) !== 0) {
      // ptrace_resume: exit_code = data, JOBCTL_TRACED cleared, wake_up_state(__TASK_TRACED).
      mem[child + TASK.exit_code] = data;
      mem[child + TASK.jobctl] = mem[child + TASK.jobctl]! & ~JOBCTL_TRACED;
      try_to_wake_up(child, __TASK_TRACED);
      ret = 0;
    }
    spin_unlock(sh + SIG.siglock);
  }
  write_unlock_irq(tl);
  return ret;
}

/** The task whose reference t holds while it sleeps in ptrace_attach (0 if none): for the audit. */
export function ptrace_attach_task_ref(t: number): number {
  return mem[t + TASK.restart_phase] === PTP_ATTACH_CRED_GUARD && mem[t + TASK.ucall + UCALL.op] === SYS_PTRACE ? mem[t + TASK.restart + PTR_TASK]! : 0;
}

/** ptrace(request, pid, data) (SYSCALL_DEFINE4(ptrace)); `data` is PTRACE_SEIZE's options or PTRACE_CONT's signal. */
export function sys_ptrace(request: number, pid: number, data = 0): number {
  if (request === PTRACE_TRACEME) return ptrace_traceme();
  if (mem[current + TASK.restart_phase] === PTP_ATTACH_CRED_GUARD) return ptrace_attach(0, request, data);
  const attach = request === PTRACE_ATTACH || request === PTRACE_SEIZE;
  rcu_read_lock();
  let child = pid > 0 ? find_task_by_vpid(pid) : 0;
  // find_get_task_by_vpid: a reference for the attach, which may sleep (get_task_struct under
  // rcu_read_lock: usage outlives the rcu_users by a grace period).
  if (child && attach) get_task_struct(child);
  rcu_read_unlock();
  if (!child) return -ESRCH;
  if (attach) return ptrace_attach(child, request, data);
  if (request === PTRACE_DETACH) return ptrace_detach(child);
  if (request === PTRACE_CONT) return ptrace_cont(child, data);
  return request < 0 ? -EINVAL : -EIO;
}

register_syscall(SYS_PTRACE, 'ptrace', (req, pid, data) => sys_ptrace(req, pid, data));

/**
 * Signals (kernel/signal.c): kill(2), group_send_sig_info / send_sig_info under siglock, the
 * pid-namespace init protection (sig_task_ignored with SIGNAL_UNKILLABLE), complete_signal's group
 * exit for fatal signals, signal_wake_up, job control (prepare_signal's stop/continue handling,
 * do_signal_stop's group stop, do_notify_parent_cldstop), get_signal on return to user mode with
 * the syscall-restart rules, sigaction, sigprocmask and pause(2).
 *
 * What the model keeps of the signal machinery: a disposition per signal (SIG_DFL, SIG_IGN, or a
 * handler: "caught") with SA_RESTART, and SA_NOCLDSTOP / SA_NOCLDWAIT for SIGCHLD. No user code
 * runs: a caught signal's delivery is recorded in TASK.sig_caught, it interrupts interruptible
 * sleeps (wait4 returns -EINTR, or restarts under SA_RESTART) and the task lives on. A fatal
 * signal turns at once into a group exit in complete_signal: SIGNAL_GROUP_EXIT, group_exit_code =
 * sig, SIGKILL pending in every thread. Core-dumping signals take the same path (as with
 * RLIMIT_CORE 0: the wait status is the bare signal number). Pending and blocked masks hold
 * signals 1..31 (bit sig-1); real-time signals keep their default action (fatal) and never stay
 * pending. No siginfo is queued (legacy signals coalesce as in the kernel). ptrace: a group stop
 * of a traced task is a ptrace trap (do_signal_stop schedules JOBCTL_TRAP_STOP, do_jobctl_trap
 * stops in ptrace_stop with CLD_STOPPED, reported to the tracer; PTRACE_CONT, the tracer's detach
 * or exit, or SIGKILL end it, SIGCONT does not); signal-delivery stops (ptrace_signal) are not
 * modelled: a dequeued signal of a tracee acts as if its tracer resumed it with that signal.
 */
import { data_race } from '../lib/compiler.js';
import { G, PIDNS, SIG, TASK, UCALL } from '../mm/layout.js';
import { BUG_PLANT_KILL_NO_RCU } from '../config/bugs.js';
import { kg, mem } from '../mm/memory.js';
import { spin_lock_irq, spin_unlock_irq } from '../locking/spinlock.js';
import { read_lock, read_unlock } from '../locking/qrwlock.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import {
  __TASK_STOPPED, __TASK_TRACED, current, set_current_state, set_running, SLEEP, TASK_INTERRUPTIBLE, TASK_STOPPED, TASK_TRACED,
  TASK_WAKEKILL, try_to_wake_up, WCHAN_PAUSE, WCHAN_PTRACE_STOP, WCHAN_SIGNAL_STOP,
} from '../sched/core.js';
import { OP_NONE, register_syscall, RET_IN_PROGRESS, set_ucall } from './entry.js';
import { EBADF, EINTR, EINVAL, EPERM, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, ESRCH } from './errno.js';
import { SYS_KILL, SYS_PAUSE, SYS_PIDFD_SEND_SIGNAL, SYS_RT_SIGACTION, SYS_RT_SIGPROCMASK, SYS_SET_SIGCHLD_IGN, SYS_SIG_CAUGHT } from './unistd.js';
import { CAP_KILL, ns_capable } from './user_namespace.js';
import { find_vpid, ns_of_pid, pid_task } from './pid.js';
import { fget, fput } from './nsfs.js';
import { pidfd_pid } from './pidfd.js';
import { task_active_pid_ns } from './pid_namespace.js';
import {
  __wake_up_parent, CLD_CONTINUED, CLD_STOPPED, CLD_TRAPPED, init_task, JOBCTL_PENDING_MASK, JOBCTL_TRACED, JOBCTL_STOP_CONSUME, JOBCTL_STOP_DEQUEUED,
  JOBCTL_STOP_PENDING, JOBCTL_STOP_SIGMASK, JOBCTL_STOPPED, JOBCTL_TRAP_MASK, JOBCTL_TRAP_NOTIFY, JOBCTL_TRAP_STOP, PF_EXITING, PF_KTHREAD,
  pid_nr_ns_fast, PIDTYPE_MAX, PIDTYPE_PGID, PT_SEIZED, PTRACE_EVENT_STOP, ptrace_reparented, SIGTRAP,
  PIDTYPE_PID, PIDTYPE_TGID, SA_NOCLDSTOP, SA_NOCLDWAIT, SA_RESTART, same_thread_group, SIG_BLOCK, SIG_CAUGHT, SIG_DFL, SIG_IGN,
  SIG_KERNEL_STOP_MASK, SIG_SETMASK, SIG_UNBLOCK, SIGCHLD, SIGCONT, SIGKILL, sig_kernel_ignore, sig_kernel_only, sig_kernel_stop,
  sigmask, SIGNAL_CLD_CONTINUED, SIGNAL_CLD_MASK, SIGNAL_CLD_STOPPED, SIGNAL_GROUP_EXIT, SIGNAL_STOP_CONTINUED, SIGNAL_STOP_MASK,
  SIGNAL_STOP_STOPPED, SIGNAL_UNKILLABLE, SIGSTOP, thread_group_empty, valid_signal,
} from './sched_task.js';

/**
 * struct kernel_siginfo kinds the model distinguishes (include/linux/sched/signal.h):
 * SEND_SIG_NOINFO (0) a signal from current with no siginfo, SEND_SIG_PRIV (1) kernel-generated
 * (never permission-checked, never ignored by a namespace init for SIGKILL/SIGSTOP), and SI_USER
 * (2) what kill(2) builds (prepare_kill_siginfo).
 */
export const SEND_SIG_NOINFO = 0;
export const SEND_SIG_PRIV = 1;
export const SI_USER = 2;

export { ERESTARTNOHAND } from './errno.js';

/** Model system call: deliver pending signals on return to user mode (get_signal). Internal. */
export const SYS_GET_SIGNAL = 33;

// do_group_exit lives in exit.ts; installed there to keep the module graph acyclic at load time.
let do_group_exit_fn: (code: number) => number = () => 0;
export function set_do_group_exit(f: (code: number) => number): void {
  do_group_exit_fn = f;
}
// is_current_pgrp_orphaned lives in exit.ts (with will_become_orphaned_pgrp), installed likewise.
let is_current_pgrp_orphaned_fn: () => boolean = () => false;
export function set_is_current_pgrp_orphaned(f: () => boolean): void {
  is_current_pgrp_orphaned_fn = f;
}

/**
 * signal_pending (include/linux/sched/signal.h): TIF_SIGPENDING. An atomic load: a sleeper tests it
 * after storing its sleeping state (do_wait, pause), pairing with signal_wake_up's store of
 * sigpending before its try_to_wake_up, and a plain load is not ordered after that store.
 */
export function signal_pending(t: number): boolean {
  // TIF_SIGPENDING or TIF_NOTIFY_SIGNAL (task_work_add(TWA_SIGNAL), src/kernel/task_work.ts).
  return Atomics.load(mem, t + TASK.sigpending) !== 0 || Atomics.load(mem, t + TASK.notify_signal) !== 0;
}

/**
 * __fatal_signal_pending (include/linux/sched/signal.h): SIGKILL in the task's private pending set.
 * The kernel reads it without the siglock (`sigismember(&p->pending.signal, SIGKILL)`, a plain
 * read), of current and of other tasks (zap_pid_ns_processes' `!__fatal_signal_pending(task)`),
 * while complete_signal adds SIGKILL under the task's siglock: a race on purpose ("these checks
 * are racy without siglock", Oleg Nesterov's 2024 zap_pid_ns_processes patch on LKML, read in
 * the issues corpus; its merge not checked). A stale "no" only sends another SIGKILL, under the
 * siglock. Here a marked load (READ_ONCE), not data_race(): the checked build skips every check
 * inside data_race, and this read must keep its use-after-free check (test/guards.test.ts reads a
 * freed task through it).
 */
export function __fatal_signal_pending(t: number): boolean {
  return (Atomics.load(mem, t + TASK.pending) & sigmask(SIGKILL)) !== 0;
}

/** fatal_signal_pending = signal_pending && __fatal_signal_pending. */
export function fatal_signal_pending(t: number): boolean {
  return signal_pending(t) && __fatal_signal_pending(t);
}

/** task_is_stopped (include/linux/sched.h): JOBCTL_STOPPED. */
export function task_is_stopped(t: number): boolean {
  return (mem[t + TASK.jobctl]! & JOBCTL_STOPPED) !== 0;
}

/**
 * sig_handler: sighand->action[sig-1].sa.sa_handler as SIG_DFL, SIG_IGN or SIG_CAUGHT (a handler
 * address). Caller holds the siglock or reads a value that only the task's own group changes.
 */
export function sig_handler(t: number, sig: number): number {
  const sh = mem[t + TASK.sighand]!;
  const m = sigmask(sig);
  if (!sh || !m) return SIG_DFL;
  if ((mem[sh + SIG.action_ign]! & m) !== 0) return SIG_IGN;
  if ((mem[sh + SIG.action_caught]! & m) !== 0) return SIG_CAUGHT;
  return SIG_DFL;
}

/** sig_handler_ignored (kernel/signal.c). */
function sig_handler_ignored(handler: number, sig: number): boolean {
  return handler === SIG_IGN || (handler === SIG_DFL && sig_kernel_ignore(sig));
}

/**
 * sig_task_ignored (kernel/signal.c): SIGKILL and SIGSTOP may not be sent to the global init; a
 * task with SIGNAL_UNKILLABLE (a pid-namespace init) ignores every signal whose handler is SIG_DFL,
 * except SIGKILL/SIGSTOP when `force` (sent from an ancestor namespace, or by the kernel); then a
 * signal whose handler is SIG_IGN, or SIG_DFL with the default action "ignore", is ignored.
 */
export function sig_task_ignored(t: number, sig: number, force: boolean): boolean {
  const handler = sig_handler(t, sig);
  if (t === init_task() && sig_kernel_only(sig)) return true;
  if ((mem[mem[t + TASK.signal]! + SIG.flags]! & SIGNAL_UNKILLABLE) !== 0 && handler === SIG_DFL && !(force && sig_kernel_only(sig))) return true;
  return sig_handler_ignored(handler, sig);
}

/**
 * sig_ignored (kernel/signal.c): blocked signals are never ignored, since the handler may change
 * by the time it is unblocked; a tracer wants every signal but SIGKILL.
 */
function sig_ignored(t: number, sig: number, force: boolean): boolean {
  if ((mem[t + TASK.blocked]! & sigmask(sig)) !== 0) return false;
  if (mem[t + TASK.ptrace] !== 0 && sig !== SIGKILL) return false;
  return sig_task_ignored(t, sig, force);
}

/** flush_sigqueue_mask on the shared queue and every thread's private one. Caller holds siglock. */
function flush_sigqueue_mask_all(p: number, m: number): void {
  const s = mem[p + TASK.signal]!;
  mem[s + SIG.shared_pending] = mem[s + SIG.shared_pending]! & ~m;
  // for_each_thread: the thread list is stable under the siglock; it is walked inside an RCU read
  // section as the list's readers are (the schema's rule for thread_next).
  rcu_read_lock();
  const leader = mem[p + TASK.group_leader]!;
  let t = leader;
  do {
    mem[t + TASK.pending] = mem[t + TASK.pending]! & ~m;
    t = mem[t + TASK.thread_next]!;
  } while (t !== leader && t !== 0);
  rcu_read_unlock();
}

/**
 * task_clear_jobctl_pending (kernel/signal.c): clearing JOBCTL_STOP_PENDING also clears
 * STOP_CONSUME and STOP_DEQUEUED. Caller holds siglock.
 */
export function task_clear_jobctl_pending(t: number, mask: number): void {
  if ((mask & JOBCTL_STOP_PENDING) !== 0) mask |= JOBCTL_STOP_CONSUME | JOBCTL_STOP_DEQUEUED;
  mem[t + TASK.jobctl] = mem[t + TASK.jobctl]! & ~mask;
}

/**
 * task_set_jobctl_pending (kernel/signal.c): set `mask` (a new stop signo replaces the old one),
 * unless t is already being killed or exiting: then nothing, and false. Caller holds siglock.
 * (JOBCTL_TRAPPING, the attach's wait for the transition to TRACED, is not modelled.)
 */
export function task_set_jobctl_pending(t: number, mask: number): boolean {
  if (fatal_signal_pending(t) || (mem[t + TASK.flags]! & PF_EXITING) !== 0) return false;
  let jobctl = mem[t + TASK.jobctl]!;
  if ((mask & JOBCTL_STOP_SIGMASK) !== 0) jobctl &= ~JOBCTL_STOP_SIGMASK;
  mem[t + TASK.jobctl] = jobctl | mask;
  return true;
}

/**
 * ptrace_trap_notify (kernel/signal.c): a PTRACE_SEIZE tracee is told of a group-stop change by a
 * JOBCTL_TRAP_NOTIFY trap rather than a plain wake-up (ptrace_signal_wake_up without resume:
 * PTRACE_LISTEN, which would make it a resume, is not modelled). Caller holds t's siglock.
 */
function ptrace_trap_notify(t: number): void {
  task_set_jobctl_pending(t, JOBCTL_TRAP_NOTIFY);
  ptrace_signal_wake_up(t, false);
}

/** signal_set_stop_flags (include/linux/sched/signal.h): replace the stop/notify flags. */
function signal_set_stop_flags(sig: number, flags: number): void {
  mem[sig + SIG.flags] = (mem[sig + SIG.flags]! & ~SIGNAL_STOP_MASK) | flags;
}

/**
 * prepare_signal (kernel/signal.c): a group in the middle of exiting drops the signal. A stop
 * signal removes SIGCONT from every queue. SIGCONT removes every stop signal, ends the group stop
 * (each thread: JOBCTL_STOP_PENDING cleared, JOBCTL_STOPPED cleared and woken from
 * __TASK_STOPPED), and records the notification the parent is owed (SIGNAL_CLD_CONTINUED if the
 * group was stopped, SIGNAL_CLD_STOPPED if a stop was still in progress, with
 * SIGNAL_STOP_CONTINUED for WCONTINUED) - whether SIGCONT itself is then ignored or not.
 * Caller holds p's siglock.
 */
function prepare_signal(sig: number, p: number, force: boolean): boolean {
  const s = mem[p + TASK.signal]!;
  if ((mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) !== 0) return false;
  if (sig_kernel_stop(sig)) {
    // This is a stop signal. Remove SIGCONT from all queues.
    flush_sigqueue_mask_all(p, sigmask(SIGCONT));
  } else if (sig === SIGCONT) {
    // Remove all stop signals from all queues, wake all threads.
    flush_sigqueue_mask_all(p, SIG_KERNEL_STOP_MASK);
    rcu_read_lock();
    const leader = mem[p + TASK.group_leader]!;
    let t = leader;
    do {
      task_clear_jobctl_pending(t, JOBCTL_STOP_PENDING);
      if ((mem[t + TASK.ptrace]! & PT_SEIZED) === 0) {
        mem[t + TASK.jobctl] = mem[t + TASK.jobctl]! & ~JOBCTL_STOPPED;
        try_to_wake_up(t, __TASK_STOPPED); // wake_up_state(t, __TASK_STOPPED): not a ptrace stop (__TASK_TRACED)
      } else {
        ptrace_trap_notify(t);
      }
      t = mem[t + TASK.thread_next]!;
    } while (t !== leader && t !== 0);
    rcu_read_unlock();
    // Notify the parent with CLD_CONTINUED if we were stopped; with CLD_STOPPED if a stop was
    // still in progress (group_stop_count): the stop completed as far as the parent can tell.
    let why = 0;
    if ((mem[s + SIG.flags]! & SIGNAL_STOP_STOPPED) !== 0) why |= SIGNAL_CLD_CONTINUED;
    else if (mem[s + SIG.group_stop_count] !== 0) why |= SIGNAL_CLD_STOPPED;
    if (why) {
      signal_set_stop_flags(s, why | SIGNAL_STOP_CONTINUED);
      mem[s + SIG.group_stop_count] = 0;
      mem[s + SIG.group_exit_code] = 0;
    }
  }
  return !sig_ignored(p, sig, force);
}

/** sig_fatal (kernel/signal.c): the handler is SIG_DFL and the default action terminates. */
function sig_fatal(t: number, sig: number): boolean {
  return !sig_kernel_ignore(sig) && !sig_kernel_stop(sig) && sig_handler(t, sig) === SIG_DFL;
}

/**
 * signal_wake_up_state (kernel/signal.c): TIF_SIGPENDING, then wake the task if it sleeps
 * interruptibly or in one of `state`'s sleeps. A scripted task (or a halted program) sleeping idle
 * in pause() has no system call to return from: give it get_signal as its pending call, so the
 * woken task delivers the signal. Caller holds the task's siglock.
 */
export function signal_wake_up_state(t: number, state: number): void {
  // Sequentially consistent store: pairs with the idle path's load of sigpending after it set
  // TASK_INTERRUPTIBLE (entry.ts), so either it sees the signal or we see it sleeping.
  Atomics.store(mem, t + TASK.sigpending, 1);
  // The state first: set_current_state writes the model's wait-channel word (no kernel
  // counterpart) before its sequentially consistent store of the state, so a sleep seen here has
  // its channel visible to the peek after it (marked: t writes it without our lock).
  if (Atomics.load(mem, t + TASK.state) === TASK_INTERRUPTIBLE && data_race(mem[t + TASK.wait_chan]) === WCHAN_PAUSE &&
      mem[t + TASK.ucall + UCALL.op] === OP_NONE) {
    mem[t + TASK.ucall + UCALL.op] = SYS_GET_SIGNAL;
  }
  try_to_wake_up(t, state | TASK_INTERRUPTIBLE);
}

/**
 * signal_wake_up (include/linux/sched/signal.h): a fatal signal also wakes the task from a
 * job-control or ptrace stop (TASK_WAKEKILL | __TASK_TRACED, with JOBCTL_STOPPED and
 * JOBCTL_TRACED cleared). Caller holds the task's siglock.
 */
export function signal_wake_up(t: number, fatal: boolean): void {
  let state = 0;
  if (fatal) {
    mem[t + TASK.jobctl] = mem[t + TASK.jobctl]! & ~(JOBCTL_STOPPED | JOBCTL_TRACED);
    state = TASK_WAKEKILL | __TASK_TRACED;
  }
  signal_wake_up_state(t, state);
}

/**
 * ptrace_signal_wake_up (include/linux/sched/signal.h): with `resume`, end a ptrace stop
 * (JOBCTL_TRACED cleared, __TASK_TRACED woken). Caller holds the task's siglock.
 */
export function ptrace_signal_wake_up(t: number, resume: boolean): void {
  let state = 0;
  if (resume) {
    mem[t + TASK.jobctl] = mem[t + TASK.jobctl]! & ~JOBCTL_TRACED;
    state = __TASK_TRACED;
  }
  signal_wake_up_state(t, state);
}

/**
 * wants_signal (kernel/signal.c): not a thread that blocks it or is exiting; SIGKILL goes to
 * anyone else; a stopped thread takes nothing else; otherwise a thread that runs or has no
 * signal pending yet.
 */
function wants_signal(sig: number, p: number): boolean {
  if ((mem[p + TASK.blocked]! & sigmask(sig)) !== 0) return false;
  if ((mem[p + TASK.flags]! & PF_EXITING) !== 0) return false;
  if (sig === SIGKILL) return true;
  if (task_is_stopped(p)) return false;
  return !signal_pending(p) || mem[p + TASK.on_cpu] !== 0;
}

/**
 * complete_signal (kernel/signal.c): find a thread to take the signal; a fatal one takes the
 * whole group down at once (SIGNAL_GROUP_EXIT, any group stop abandoned, SIGKILL to every thread).
 * Core-dumping signals take the same path (as with RLIMIT_CORE 0: no dump is written).
 */
function complete_signal(sig: number, p: number, type: number): void {
  const s = mem[p + TASK.signal]!;
  let t = 0;
  if (wants_signal(sig, p)) t = p;
  else if (type === PIDTYPE_PID || thread_group_empty(p)) return;
  else {
    let x = mem[p + TASK.thread_next]!;
    while (x !== p && x !== 0) {
      if (wants_signal(sig, x)) { t = x; break; }
      x = mem[x + TASK.thread_next]!;
    }
    if (!t) return;
  }
  if (sig_fatal(p, sig) && (mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) === 0 && (sig === SIGKILL || mem[p + TASK.ptrace] === 0)) {
    // "Start a group exit and wake everybody up." (flags = SIGNAL_GROUP_EXIT drops UNKILLABLE.)
    mem[s + SIG.flags] = SIGNAL_GROUP_EXIT;
    mem[s + SIG.group_exit_code] = sig;
    mem[s + SIG.group_stop_count] = 0;
    const leader = mem[p + TASK.group_leader]!;
    let x = leader;
    do {
      task_clear_jobctl_pending(x, JOBCTL_PENDING_MASK);
      mem[x + TASK.pending] = mem[x + TASK.pending]! | sigmask(SIGKILL);
      signal_wake_up(x, true);
      x = mem[x + TASK.thread_next]!;
    } while (x !== leader && x !== 0);
    return;
  }
  signal_wake_up(t, sig === SIGKILL);
}

/**
 * __send_signal_locked (kernel/signal.c): queue `sig` on `t` (shared pending for group-wide
 * types) and complete it. Caller holds t's siglock.
 */
export function __send_signal_locked(sig: number, t: number, type: number, force: boolean): number {
  if (!prepare_signal(sig, t, force)) return 0;
  const m = sigmask(sig);
  if (type !== PIDTYPE_PID) {
    const s = mem[t + TASK.signal]!;
    if (m && (mem[s + SIG.shared_pending]! & m) !== 0) return 0; // legacy_queue
    mem[s + SIG.shared_pending] = mem[s + SIG.shared_pending]! | m;
  } else {
    if (m && (mem[t + TASK.pending]! & m) !== 0) return 0;
    mem[t + TASK.pending] = mem[t + TASK.pending]! | m;
  }
  complete_signal(sig, t, type);
  return 0;
}

/**
 * zap_other_threads (kernel/signal.c): SIGKILL to every other thread of p's group that has not
 * exited yet. Caller holds p's siglock.
 */
export function zap_other_threads(p: number): number {
  let count = 0;
  mem[mem[p + TASK.signal]! + SIG.group_stop_count] = 0;
  for (let t = mem[p + TASK.thread_next]!; t !== p && t !== 0; t = mem[t + TASK.thread_next]!) {
    task_clear_jobctl_pending(t, JOBCTL_PENDING_MASK);
    count++;
    // Don't bother with already dead threads.
    if (mem[t + TASK.exit_state] !== 0) continue;
    mem[t + TASK.pending] = mem[t + TASK.pending]! | sigmask(SIGKILL);
    signal_wake_up(t, true);
  }
  return count;
}

/**
 * send_signal_locked (kernel/signal.c): `force` for kernel signals (SEND_SIG_PRIV), and for a
 * sender in an ancestor pid namespace of the target (it has no pid in the target's namespace).
 */
export function send_signal_locked(sig: number, info: number, t: number, type: number): number {
  let force = false;
  if (info === SEND_SIG_PRIV) force = true;
  else if (current !== 0) {
    const ns = task_active_pid_ns(t);
    force = pid_nr_ns_fast(mem[current + TASK.pid]!, ns) === 0;
  } else force = true; // the main thread driving the machine is "the kernel"
  return __send_signal_locked(sig, t, type, force);
}

/**
 * lock_task_sighand (kernel/signal.c): lock p's siglock unless p was released (sighand NULL).
 * Returns the sighand locked, or 0. Caller is in an RCU read section or holds tasklist_lock.
 */
export function lock_task_sighand(p: number): number {
  for (;;) {
    // `sighand = rcu_dereference(tsk->sighand)` (__lock_task_sighand, kernel/signal.c): a marked
    // load, against __exit_signal's store of NULL under the siglock (a plain read here was a KCSAN
    // report in a 10-minute checked run, session 14). The look again below is under the siglock.
    const sh = Atomics.load(mem, p + TASK.sighand);
    if (!sh) return 0;
    spin_lock_irq(sh + SIG.siglock);
    if (mem[p + TASK.sighand] === sh) return sh;
    spin_unlock_irq(sh + SIG.siglock);
  }
}

export function unlock_task_sighand(sh: number): void {
  spin_unlock_irq(sh + SIG.siglock);
}

/** do_send_sig_info (kernel/signal.c). */
export function do_send_sig_info(sig: number, info: number, p: number, type: number): number {
  const sh = lock_task_sighand(p);
  if (!sh) return -ESRCH;
  const r = send_signal_locked(sig, info, p, type);
  unlock_task_sighand(sh);
  return r;
}

/**
 * kill_ok_by_cred (kernel/signal.c): same uid (the model has one uid per cred: euid = uid =
 * suid), or CAP_KILL in the target's user namespace.
 */
export function kill_ok_by_cred(t: number): boolean {
  if (current === 0) return true;
  if (mem[current + TASK.cred_uid] === mem[t + TASK.cred_uid]) return true;
  return ns_capable(current, mem[t + TASK.cred_user_ns]!, CAP_KILL);
}

/**
 * check_kill_permission (kernel/signal.c): EINVAL for a bad signal; kernel signals pass; a user
 * signal to another thread group needs kill_ok_by_cred (SIGCONT within a session is allowed: the
 * model has one session).
 */
export function check_kill_permission(sig: number, info: number, t: number): number {
  if (!valid_signal(sig)) return -EINVAL;
  if (info === SEND_SIG_PRIV) return 0;
  if (current !== 0 && !same_thread_group(current, t) && !kill_ok_by_cred(t)) {
    if (sig !== SIGCONT) return -EPERM;
  }
  return 0;
}

/**
 * group_send_sig_info (kernel/signal.c): permission check, then deliver (sig 0 only checks).
 * Caller holds rcu_read_lock or tasklist_lock. `type` defaults to PIDTYPE_TGID (a process).
 */
export function group_send_sig_info(sig: number, info: number, p: number, type: number = PIDTYPE_TGID): number {
  // The target's credentials are read under RCU (__task_cred), whichever lock the caller holds.
  rcu_read_lock();
  const ret = check_kill_permission(sig, info, p);
  rcu_read_unlock();
  if (ret !== 0 || sig === 0) return ret;
  return do_send_sig_info(sig, info, p, type);
}

/** send_sig_info (kernel/signal.c): to one thread. */
export function send_sig_info(sig: number, info: number, p: number): number {
  if (!valid_signal(sig)) return -EINVAL;
  return do_send_sig_info(sig, info, p, PIDTYPE_PID);
}

/** send_sig (kernel/signal.c). */
export function send_sig(sig: number, p: number, priv: boolean): number {
  return send_sig_info(sig, priv ? SEND_SIG_PRIV : SEND_SIG_NOINFO, p);
}

/** kill_pid_info (kernel/signal.c): the task of `pid`, as a process. */
export function kill_pid_info(sig: number, info: number, pid: number): number {
  rcu_read_lock();
  const p = pid ? pid_task(pid, PIDTYPE_PID) : 0;
  const err = p ? group_send_sig_info(sig, info, p, PIDTYPE_TGID) : -ESRCH;
  rcu_read_unlock();
  return err;
}

/** include/uapi/linux/pidfd.h: the scope flags of pidfd_send_signal. */
export const PIDFD_SIGNAL_THREAD = 1 << 0;
export const PIDFD_SIGNAL_THREAD_GROUP = 1 << 1;
export const PIDFD_SIGNAL_PROCESS_GROUP = 1 << 2;
const PIDFD_SEND_SIGNAL_FLAGS = PIDFD_SIGNAL_THREAD | PIDFD_SIGNAL_THREAD_GROUP | PIDFD_SIGNAL_PROCESS_GROUP;

/**
 * access_pidfd_pidns (kernel/signal.c): the pid must live in current's active pid namespace or
 * one below it.
 */
function access_pidfd_pidns(pid: number): boolean {
  const active = task_active_pid_ns(current);
  for (let p = ns_of_pid(pid); ; p = mem[p + PIDNS.parent]!) {
    if (!p) return false;
    if (p === active) return true;
  }
}

/**
 * pidfd_send_signal(2) (kernel/signal.c) without a siginfo: EINVAL for unknown flags or more than
 * one scope flag; EBADF for an fd that is not open or not a pidfd (pidfd_to_pid); EINVAL when the
 * pid is outside current's pid namespace and its descendants; then the signal as kill(2) sends it
 * (prepare_kill_siginfo: SI_USER), to the thread group by default, to one thread with
 * PIDFD_SIGNAL_THREAD, to the process group the pid names with PIDFD_SIGNAL_PROCESS_GROUP. ESRCH once the task is
 * gone. (The model's pidfds have no PIDFD_THREAD flag.)
 */
export function sys_pidfd_send_signal(pidfd: number, sig: number, flags: number): number {
  if ((flags & ~PIDFD_SEND_SIGNAL_FLAGS) !== 0) return -EINVAL;
  const scope = flags & PIDFD_SEND_SIGNAL_FLAGS;
  if ((scope & (scope - 1)) !== 0) return -EINVAL; // hweight32 > 1
  const f = fget(pidfd);
  if (!f) return -EBADF;
  const pid = pidfd_pid(f);
  let ret: number;
  if (pid < 0) ret = pid;
  else if (!access_pidfd_pidns(pid)) ret = -EINVAL;
  else if (scope === PIDFD_SIGNAL_PROCESS_GROUP) {
    // kill_pgrp_info(sig, info, pid): the pidfd's pid names the process group itself, so a
    // process that does not lead one gets ESRCH (checked on this machine).
    read_lock(kg + G.tasklist_lock);
    ret = __kill_pgrp_info(sig, SI_USER, pid);
    read_unlock(kg + G.tasklist_lock);
  } else {
    rcu_read_lock();
    const p = pid_task(pid, scope === PIDFD_SIGNAL_THREAD ? PIDTYPE_PID : PIDTYPE_TGID);
    ret = p ? group_send_sig_info(sig, SI_USER, p, scope === PIDFD_SIGNAL_THREAD ? PIDTYPE_PID : PIDTYPE_TGID) : -ESRCH;
    rcu_read_unlock();
  }
  fput(f);
  return ret;
}

/**
 * __kill_pgrp_info (kernel/signal.c): every process whose process group is `pgrp`. Caller holds
 * tasklist_lock for read. The model walks the process list (there is no per-pid task list).
 */
export function __kill_pgrp_info(sig: number, info: number, pgrp: number): number {
  if (!pgrp) return -ESRCH;
  let success = false;
  let retval = -ESRCH;
  const head = init_task();
  let p = head;
  do {
    if (mem[p + TASK.pgrp] === pgrp) {
      const err = group_send_sig_info(sig, info, p, PIDTYPE_PGID);
      if (err === 0) success = true;
      retval = err;
    }
    p = mem[p + TASK.tasks_next]!;
  } while (p !== head && p !== 0);
  return success ? 0 : retval;
}

/**
 * kill_something_info (kernel/signal.c): pid > 0 one process; 0 the caller's process group;
 * -1 every process the caller can see except its namespace's init (pid 1 there) and its own
 * group; < -1 the process group -pid.
 */
export function kill_something_info(sig: number, info: number, pid: number): number {
  if (pid > 0) {
    if ((mem[kg + G.bug_switches]! & BUG_PLANT_KILL_NO_RCU) !== 0) {
      // Planted bug: the lookups outside rcu_read_lock; the pid and its task may be freed under us.
      const t = pid_task(find_vpid(pid), PIDTYPE_PID);
      return t ? group_send_sig_info(sig, info, t, PIDTYPE_TGID) : -ESRCH;
    }
    rcu_read_lock();
    const p = find_vpid(pid);
    const r = kill_pid_info(sig, info, p);
    rcu_read_unlock();
    return r;
  }
  if (pid === -0x80000000) return -ESRCH;
  read_lock(kg + G.tasklist_lock);
  let ret: number;
  if (pid !== -1) {
    rcu_read_lock();
    const pgrp = pid ? find_vpid(-pid) : mem[current + TASK.pgrp]!;
    rcu_read_unlock();
    ret = __kill_pgrp_info(sig, info, pgrp);
  } else {
    let retval = 0;
    let count = 0;
    const ns = task_active_pid_ns(current);
    const head = init_task();
    let p = head;
    do {
      if (pid_nr_ns_fast(mem[p + TASK.pid]!, ns) > 1 && !same_thread_group(p, current)) {
        const err = group_send_sig_info(sig, info, p, PIDTYPE_MAX);
        count++;
        if (err !== -EPERM) retval = err;
      }
      p = mem[p + TASK.tasks_next]!;
    } while (p !== head && p !== 0);
    ret = count ? retval : -ESRCH;
  }
  read_unlock(kg + G.tasklist_lock);
  return ret;
}

/** kill(2) (SYSCALL_DEFINE2(kill)). */
export function sys_kill(pid: number, sig: number): number {
  return kill_something_info(sig, SI_USER, pid);
}

// ---- delivery: get_signal and job-control stops ----------------------------------------------------

/**
 * recalc_sigpending_tsk (kernel/signal.c): TIF_SIGPENDING while an unblocked signal is queued or
 * a group stop is pending for t. Only sets the flag (a sleeping task is not woken). Caller holds
 * t's siglock.
 */
export function recalc_sigpending_tsk(t: number): boolean {
  const blocked = mem[t + TASK.blocked]!;
  const s = mem[t + TASK.signal]!;
  if ((mem[t + TASK.jobctl]! & JOBCTL_PENDING_MASK) !== 0 || (mem[t + TASK.pending]! & ~blocked) !== 0 ||
      (mem[s + SIG.shared_pending]! & ~blocked) !== 0) {
    Atomics.store(mem, t + TASK.sigpending, 1);
    return true;
  }
  return false;
}

/** recalc_sigpending (kernel/signal.c) for current: set or clear TIF_SIGPENDING. */
function recalc_sigpending(): void {
  if (!recalc_sigpending_tsk(current)) Atomics.store(mem, current + TASK.sigpending, 0);
}

/**
 * dequeue_signal (kernel/signal.c) without siginfo: the lowest unblocked signal of the private
 * queue, else of the shared queue; a stop signal sets JOBCTL_STOP_DEQUEUED (do_signal_stop starts
 * a group stop only for a dequeued one: a SIGCONT in between clears it). Caller holds siglock.
 */
function dequeue_signal(t: number): number {
  const blocked = mem[t + TASK.blocked]!;
  const s = mem[t + TASK.signal]!;
  let set = mem[t + TASK.pending]! & ~blocked;
  let off: number = TASK.pending;
  let base = t;
  if (set === 0) {
    set = mem[s + SIG.shared_pending]! & ~blocked;
    off = SIG.shared_pending;
    base = s;
  }
  if (set === 0) return 0;
  const sig = 31 - Math.clz32(set & -set) + 1;
  mem[base + off] = mem[base + off]! & ~sigmask(sig);
  if (sig_kernel_stop(sig)) mem[t + TASK.jobctl] = mem[t + TASK.jobctl]! | JOBCTL_STOP_DEQUEUED;
  recalc_sigpending();
  return sig;
}

/**
 * task_participate_group_stop (kernel/signal.c): t stops for the group stop; true when it was the
 * last thread of a fresh group stop (SIGNAL_STOP_STOPPED is set now and the parent must be told).
 * Caller holds siglock.
 */
export function task_participate_group_stop(t: number): boolean {
  const s = mem[t + TASK.signal]!;
  const consume = (mem[t + TASK.jobctl]! & JOBCTL_STOP_CONSUME) !== 0;
  task_clear_jobctl_pending(t, JOBCTL_STOP_PENDING);
  if (!consume) return false;
  if (mem[s + SIG.group_stop_count] !== 0) mem[s + SIG.group_stop_count] = mem[s + SIG.group_stop_count]! - 1;
  // Tell the caller to notify completion iff we are entering into a fresh group stop.
  if (mem[s + SIG.group_stop_count] === 0 && (mem[s + SIG.flags]! & SIGNAL_STOP_STOPPED) === 0) {
    // A new stop for do_wait's lost-report check: the count moves before the flag is set, and
    // stop_report_pending reads it before and after the flag (a seqcount's write side).
    Atomics.add(mem, s + SIG.stop_seq, 1);
    signal_set_stop_flags(s, SIGNAL_STOP_STOPPED);
    return true;
  }
  return false;
}

/**
 * do_notify_parent_cldstop (kernel/signal.c): SIGCHLD (CLD_STOPPED / CLD_CONTINUED) to the real
 * parent of tsk's group leader unless that parent's SIGCHLD is SIG_IGN or has SA_NOCLDSTOP; its
 * wait4 sleepers are woken either way. Caller holds tasklist_lock for read (__wake_up_parent's
 * event count covers a reader-side caller too: the stop/continue flags are stored before the count
 * moves, and a waiter that read the old count rescans after queueing). `why` is CLD_STOPPED or
 * CLD_CONTINUED (the model's siginfo carries no more than the signal).
 */
export function do_notify_parent_cldstop(tsk: number, why: number, for_ptrace = false): void {
  // for_ptrace: a ptrace stop of tsk itself is reported to its tracer (tsk->parent); a group
  // stop to the real parent of the group leader.
  const parent = for_ptrace ? mem[tsk + TASK.parent]! : mem[mem[tsk + TASK.group_leader]! + TASK.real_parent]!;
  void why;
  if (!parent) return;
  const sh = mem[parent + TASK.sighand]!;
  if (!sh) return;
  spin_lock_irq(sh + SIG.siglock);
  if (sig_handler(parent, SIGCHLD) !== SIG_IGN && (mem[sh + SIG.chld_flags]! & SA_NOCLDSTOP) === 0) {
    __send_signal_locked(SIGCHLD, parent, PIDTYPE_TGID, false);
  }
  // Even if SIGCHLD is not generated, we must wake up wait4 calls.
  __wake_up_parent(parent);
  spin_unlock_irq(sh + SIG.siglock);
}

/**
 * The first half of ptrace_stop (kernel/signal.c), called with current's siglock held: stop in
 * TASK_TRACED with `exit_code` for the tracer. Returns exit_code with the siglock still held when
 * it does not stop (no tracer, or a fatal signal pending: "Handle previous ptrace_unlinks and fatal
 * signals here to prevent ptrace_stop sleeping in schedule"); else SLEEP with the siglock released,
 * after telling the tracer (CLD_TRAPPED, or CLD_STOPPED for a group-stop trap) and, when this
 * trap completed a group stop of a tracee whose tracer is not its real parent's group, the real
 * parent too. `si_code` is the siginfo's code (PTRACE_EVENT_STOP << 8 in it clears
 * JOBCTL_TRAP_NOTIFY), 0 for no siginfo.
 */
function __ptrace_stop(exit_code: number, why: number, si_code: number): number {
  const me = current;
  const s = mem[me + TASK.signal]!;
  if (mem[me + TASK.ptrace] === 0 || __fatal_signal_pending(me)) return exit_code;
  // set_special_state(TASK_TRACED) and JOBCTL_TRACED under the siglock: every waker clears
  // JOBCTL_TRACED and wakes __TASK_TRACED under the same lock, so it either runs before (and the
  // resumed half sees the flag cleared) or finds us stopped.
  set_current_state(TASK_TRACED, WCHAN_PTRACE_STOP, 0);
  mem[me + TASK.jobctl] = mem[me + TASK.jobctl]! | JOBCTL_TRACED;
  mem[me + TASK.exit_code] = exit_code;
  // If @why is CLD_STOPPED, we're trapping to participate in a group stop. If SIGCONT came since
  // the trap was scheduled, STOP_PENDING is clear now: act as if it came after TASK_TRACED.
  let gstop_done = false;
  if (why === CLD_STOPPED && (mem[me + TASK.jobctl]! & JOBCTL_STOP_PENDING) !== 0) gstop_done = task_participate_group_stop(me);
  // Any trap clears a pending STOP trap; the STOP trap clears NOTIFY.
  task_clear_jobctl_pending(me, JOBCTL_TRAP_STOP);
  if (si_code >> 8 === PTRACE_EVENT_STOP) task_clear_jobctl_pending(me, JOBCTL_TRAP_NOTIFY);
  spin_unlock_irq(s + SIG.siglock);
  // Notify parents of the stop: the tracer of every stop, the real parent of the group leader
  // only of a group stop's completion, separately unless they would be duplicates.
  read_lock(kg + G.tasklist_lock);
  if (mem[me + TASK.ptrace] !== 0) do_notify_parent_cldstop(me, why, true);
  if (gstop_done && (mem[me + TASK.ptrace] === 0 || ptrace_reparented(me))) do_notify_parent_cldstop(me, why, false);
  read_unlock(kg + G.tasklist_lock);
  return SLEEP;
}

/**
 * The second half of ptrace_stop, after schedule(), with current's siglock held: a spurious wake
 * (JOBCTL_TRACED still set) sleeps again (SLEEP, siglock released); else the exit code the tracer
 * left (ptrace_resume's data; the stop's own code when a detach or a fatal signal ended the stop)
 * is taken and cleared, with the siglock still held. "Queued signals ignored us while we were
 * stopped for tracing": TIF_SIGPENDING is recomputed (set, never cleared).
 */
function ptrace_stop_resumed(): number {
  const me = current;
  const s = mem[me + TASK.signal]!;
  if ((mem[me + TASK.jobctl]! & JOBCTL_TRACED) !== 0) {
    set_current_state(TASK_TRACED, WCHAN_PTRACE_STOP, 0);
    spin_unlock_irq(s + SIG.siglock);
    return SLEEP;
  }
  set_running();
  const code = mem[me + TASK.exit_code]!;
  mem[me + TASK.exit_code] = 0;
  recalc_sigpending_tsk(me);
  return code;
}

/**
 * ptrace_stop (kernel/signal.c) for a ptrace event (ptrace_event, src/kernel/ptrace.ts): current
 * stops in TASK_TRACED with `exit_code` (SIGTRAP | event << 8) for its tracer, who sees it through
 * wait4 (wait_task_stopped, the exit code consumed) and resumes it with PTRACE_CONT (ptrace_resume
 * clears JOBCTL_TRACED and wakes __TASK_TRACED, under the siglock); a fatal signal
 * (signal_wake_up) and the tracer's detach or exit (__ptrace_unlink) end the stop the same way.
 * Returns SLEEP while stopped (the caller calls again with `resumed` true when woken), else the
 * exit code the tracer left (ptrace_resume's data; 0 here). Not stopping at all: no tracer, or a
 * fatal signal pending (today's first test in ptrace_stop).
 */
export function ptrace_stop(exit_code: number, resumed: boolean): number {
  const s = mem[current + TASK.signal]!;
  spin_lock_irq(s + SIG.siglock);
  // ptrace_notify -> ptrace_do_notify(SIGTRAP, exit_code, CLD_TRAPPED): si_code = exit_code.
  const r = resumed ? ptrace_stop_resumed() : __ptrace_stop(exit_code, CLD_TRAPPED, exit_code);
  if (r === SLEEP) return SLEEP;
  spin_unlock_irq(s + SIG.siglock);
  return r;
}

/**
 * do_jobctl_trap (kernel/signal.c), siglock held: the STOP trap of a traced task. A PTRACE_SEIZE
 * tracee stops with PTRACE_EVENT_STOP (the stop signal in the low byte while a group stop is in
 * effect or in progress, else SIGTRAP: ptrace_do_notify); an attached one with the stop signal as
 * its exit code and no siginfo. Returns SLEEP (stopped, siglock released) or a value with the
 * siglock held (did not stop).
 */
function do_jobctl_trap(): number {
  const me = current;
  const s = mem[me + TASK.signal]!;
  let signr = mem[me + TASK.jobctl]! & JOBCTL_STOP_SIGMASK;
  if ((mem[me + TASK.ptrace]! & PT_SEIZED) !== 0) {
    if (mem[s + SIG.group_stop_count] === 0 && (mem[s + SIG.flags]! & SIGNAL_STOP_STOPPED) === 0) signr = SIGTRAP;
    const exit_code = signr | (PTRACE_EVENT_STOP << 8);
    return __ptrace_stop(exit_code, CLD_STOPPED, exit_code);
  }
  return __ptrace_stop(signr, CLD_STOPPED, 0);
}

/**
 * do_signal_stop (kernel/signal.c), siglock held. A first stop signal (JOBCTL_STOP_DEQUEUED, no
 * group exit, no exec in de_thread) starts a group stop: group_exit_code = signr unless already
 * stopped, JOBCTL_STOP_PENDING|CONSUME on every thread not yet stopped (task_set_jobctl_pending:
 * not a dying one), counted in group_stop_count, the others woken to take part (a PTRACE_SEIZE
 * tracee through a NOTIFY trap). An untraced current then stops: the last one sets
 * SIGNAL_STOP_STOPPED and tells the parent (CLD_STOPPED); JOBCTL_STOPPED, TASK_STOPPED, and it
 * does not run again until SIGCONT or SIGKILL. A traced current does not stop here: "While ptraced,
 * group stop is handled by STOP trap" - JOBCTL_TRAP_STOP is scheduled for get_signal's
 * do_jobctl_trap. Returns false (did not stop: the siglock is still held), SLEEP (stopped, siglock
 * released), or true (took part, siglock released, already woken: the caller relocks).
 */
function do_signal_stop(signr: number): number | boolean {
  const me = current;
  const s = mem[me + TASK.signal]!;
  if ((mem[me + TASK.jobctl]! & JOBCTL_STOP_PENDING) === 0) {
    const gstop = JOBCTL_STOP_PENDING | JOBCTL_STOP_CONSUME;
    if ((mem[me + TASK.jobctl]! & JOBCTL_STOP_DEQUEUED) === 0 || (mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) !== 0 ||
        mem[s + SIG.group_exec_task] !== 0) {
      return false;
    }
    // There is no group stop already in progress: initiate one now. (A tracee resumed while a
    // group stop is still in effect may start another: SIGNAL_STOP_STOPPED keeps the code.)
    if ((mem[s + SIG.flags]! & SIGNAL_STOP_STOPPED) === 0) mem[s + SIG.group_exit_code] = signr;
    mem[s + SIG.group_stop_count] = 0;
    if (task_set_jobctl_pending(me, signr | gstop)) mem[s + SIG.group_stop_count] = mem[s + SIG.group_stop_count]! + 1;
    rcu_read_lock(); // while_each_thread (see flush_sigqueue_mask_all)
    for (let t = mem[me + TASK.thread_next]!; t !== me && t !== 0; t = mem[t + TASK.thread_next]!) {
      // Setting state to TASK_STOPPED for a group stop is always done with the siglock held, so
      // this check has no races.
      if (!task_is_stopped(t) && task_set_jobctl_pending(t, signr | gstop)) {
        mem[s + SIG.group_stop_count] = mem[s + SIG.group_stop_count]! + 1;
        if ((mem[t + TASK.ptrace]! & PT_SEIZED) === 0) signal_wake_up(t, false);
        else ptrace_trap_notify(t);
      }
    }
    rcu_read_unlock();
  }
  if (mem[me + TASK.ptrace] !== 0) {
    // While ptraced, group stop is handled by STOP trap. Schedule it and let the caller deal with it.
    task_set_jobctl_pending(me, JOBCTL_TRAP_STOP);
    return false;
  }
  // If there are no other threads in the group, or if there is a group stop in progress and we
  // are the last to stop, report to the parent.
  const notify = task_participate_group_stop(me);
  mem[me + TASK.jobctl] = mem[me + TASK.jobctl]! | JOBCTL_STOPPED;
  // set_special_state(TASK_STOPPED) under siglock: SIGCONT and SIGKILL (prepare_signal /
  // signal_wake_up, also under siglock) either run before it, and the thread is not stopped any
  // more (JOBCTL_STOPPED cleared, see below), or find it TASK_STOPPED and wake it.
  set_current_state(TASK_STOPPED, WCHAN_SIGNAL_STOP, 0);
  spin_unlock_irq(s + SIG.siglock);
  if (notify) {
    read_lock(kg + G.tasklist_lock);
    do_notify_parent_cldstop(me, CLD_STOPPED);
    read_unlock(kg + G.tasklist_lock);
  }
  // Now we don't run again until woken by SIGCONT or SIGKILL (both clear JOBCTL_STOPPED first).
  // The model's look in place of schedule()'s (which finds TASK_RUNNING after an early wake-up):
  // without the siglock, while a sender clears JOBCTL_STOPPED under it - a race on purpose
  // (data_race). A stale "stopped" only returns SLEEP: the sender's wake_up_state, after its
  // clear, finds TASK_STOPPED and makes us runnable, and task_blocked requeues us.
  if ((data_race(mem[me + TASK.jobctl]!) & JOBCTL_STOPPED) === 0) {
    set_running();
    return true;
  }
  return SLEEP;
}

/**
 * The syscall restart rules of arch signal delivery (arch/x86/kernel/signal.c handle_signal and
 * arch_do_signal_or_restart), applied to the call that was interrupted (TASK.orig_ucall, its result
 * in TASK.last_ret): with a handler run, -ERESTARTNOHAND becomes -EINTR, -ERESTARTSYS becomes
 * -EINTR unless the handler has SA_RESTART, -ERESTARTNOINTR restarts; without one, all three
 * restart. A restart re-arms the call (regs->ip -= 2: the program counter steps back) and leaves
 * its result RET_IN_PROGRESS.
 */
function syscall_restart(t: number, handled: number): void {
  const ret = mem[t + TASK.last_ret]!;
  if (ret !== -ERESTARTSYS && ret !== -ERESTARTNOINTR && ret !== -ERESTARTNOHAND) return;
  let restart = true;
  if (handled) {
    if (ret === -ERESTARTNOHAND) restart = false;
    else if (ret === -ERESTARTSYS) restart = (mem[mem[t + TASK.sighand]! + SIG.action_restart]! & sigmask(handled)) !== 0;
  }
  if (!restart) {
    mem[t + TASK.last_ret] = -EINTR;
    return;
  }
  const o = t + TASK.orig_ucall;
  set_ucall(t, mem[o + UCALL.op]!, mem[o + UCALL.a]!, mem[o + UCALL.b]!, mem[o + UCALL.c]!);
  mem[t + TASK.last_ret] = RET_IN_PROGRESS;
  if (mem[t + TASK.prog] !== 0) mem[t + TASK.pc] = mem[t + TASK.pc]! - 1;
}

/**
 * get_signal (kernel/signal.c) with arch_do_signal_or_restart's restart decision. Runs as the
 * task's entry work on the way back to user mode (SYS_GET_SIGNAL):
 *  - a stopped thread that was woken reports SIGNAL_CLD_* to the parent first (the flags
 *    prepare_signal(SIGCONT) left);
 *  - a group exit in progress ends in do_group_exit;
 *  - JOBCTL_STOP_PENDING (another thread started a group stop): stop (a traced thread: the STOP
 *    trap, do_jobctl_trap);
 *  - dequeued signals: SIG_IGN skipped; a handler is "run": the model records the delivery in
 *    TASK.sig_caught and runs no user code (every pending caught signal is recorded in one pass,
 *    the first one decides the restart of an interrupted call, as the kernel's first
 *    handle_signal does); default "ignore" skipped; a namespace init skips what is not
 *    SIGKILL/SIGSTOP; a stop signal stops the group (SIGTSTP/SIGTTIN/SIGTTOU are dropped in an
 *    orphaned process group); anything else is fatal: do_group_exit.
 * Restartable: when it stops it returns SLEEP, and the woken task runs it again from the top (the
 * kernel's "goto relock" after schedule()).
 */
export function get_signal(): number {
  const t = current;
  const s = mem[t + TASK.signal]!;
  if (mem[t + TASK.exit_phase] !== 0) return do_group_exit_fn(0); // resumed inside do_exit
  if (mem[t + TASK.wait_chan] === WCHAN_PTRACE_STOP) {
    // Back from do_jobctl_trap's ptrace_stop (the wait channel is the stop's until set_running):
    // its second half, then "goto relock".
    spin_lock_irq(s + SIG.siglock);
    if (ptrace_stop_resumed() === SLEEP) return SLEEP;
    spin_unlock_irq(s + SIG.siglock);
  }
  let handled = 0;
  for (;;) {
    // relock:
    spin_lock_irq(s + SIG.siglock);
    // Every stopped thread goes here after wakeup. Check to see if we should notify the parent:
    // prepare_signal(SIGCONT) encodes the CLD_ si_code into SIGNAL_CLD_MASK bits.
    const cld = mem[s + SIG.flags]! & SIGNAL_CLD_MASK;
    if (cld !== 0) {
      const why = (cld & SIGNAL_CLD_CONTINUED) !== 0 ? CLD_CONTINUED : CLD_STOPPED;
      mem[s + SIG.flags] = mem[s + SIG.flags]! & ~SIGNAL_CLD_MASK;
      spin_unlock_irq(s + SIG.siglock);
      read_lock(kg + G.tasklist_lock);
      do_notify_parent_cldstop(t, why);
      read_unlock(kg + G.tasklist_lock);
      continue;
    }
    let fatal = 0;
    let relock = false;
    for (;;) {
      if ((mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) !== 0 || mem[s + SIG.group_exec_task] !== 0) {
        // A group exit is under way (its code may be 0: exit_group(0) of another thread), or
        // another thread's execve is in de_thread (signal_group_exit): this thread dies.
        mem[t + TASK.pending] = mem[t + TASK.pending]! & ~sigmask(SIGKILL);
        fatal = -1;
        break;
      }
      if ((mem[t + TASK.jobctl]! & JOBCTL_STOP_PENDING) !== 0) {
        const r = do_signal_stop(0);
        if (r === SLEEP) return SLEEP;
        if (r) { relock = true; break; } // took part and was woken: do_signal_stop released the siglock
      }
      if ((mem[t + TASK.jobctl]! & JOBCTL_TRAP_MASK) !== 0) {
        if (do_jobctl_trap() === SLEEP) return SLEEP;
        spin_unlock_irq(s + SIG.siglock);
        relock = true;
        break;
      }
      const signr = dequeue_signal(t);
      if (!signr) break;
      const handler = sig_handler(t, signr);
      if (handler === SIG_IGN) continue;
      if (handler === SIG_CAUGHT) {
        // Run the handler: the model records the delivery. The first decides the restart.
        mem[t + TASK.sig_caught] = mem[t + TASK.sig_caught]! | sigmask(signr);
        if (!handled) handled = signr;
        continue;
      }
      // Now we are doing the default action for this signal.
      if (sig_kernel_ignore(signr)) continue;
      // A container init gets no signals it doesn't want from its own namespace: a
      // sig_kernel_only signal here came from an ancestor namespace or the kernel.
      if ((mem[s + SIG.flags]! & SIGNAL_UNKILLABLE) !== 0 && !sig_kernel_only(signr)) continue;
      if (sig_kernel_stop(signr)) {
        // The job control signals do nothing in an orphaned process group; SIGSTOP always works.
        // (The kernel drops the siglock around the orphan check; the model's check reads
        // tasklist-protected links under the siglock's irq-off section as a reader would.)
        if (signr !== SIGSTOP && is_current_pgrp_orphaned_fn()) continue;
        const r = do_signal_stop(signr);
        if (r === SLEEP) return SLEEP;
        if (r) { relock = true; break; } // it released the siglock
        // We didn't actually stop, due to a race with SIGCONT or something like that, or a
        // ptrace trap is scheduled (the loop's next pass takes it).
        continue;
      }
      fatal = signr;
      break;
    }
    if (relock) continue;
    if (fatal) {
      Atomics.store(mem, t + TASK.sigpending, 0);
      spin_unlock_irq(s + SIG.siglock);
      // (do_group_exit picks the code of a group exit, or 0 for a thread de_thread killed.)
      return do_group_exit_fn(fatal < 0 ? mem[s + SIG.group_exit_code]! : fatal);
    }
    recalc_sigpending();
    spin_unlock_irq(s + SIG.siglock);
    syscall_restart(t, handled);
    return 0;
  }
}

/**
 * exit_to_user_mode (kernel/entry/common.c exit_to_user_mode_loop): with TIF_SIGPENDING, the next
 * thing the task does is get_signal; a call that returned -ERESTART* is kept as orig_ucall for
 * the restart decision (entry.ts stores it). Returning to user mode is also an RCU-tasks quiescent
 * state (rcu_tasks_classic_qs: the holdout flag is cleared). Kernel threads keep their behaviour.
 */
export function exit_to_user_mode(t: number): void {
  if (mem[t + TASK.rcu_tasks_holdout] !== 0) Atomics.store(mem, t + TASK.rcu_tasks_holdout, 0);
  // The thread flags are read marked, as read_thread_flags() (READ_ONCE) does in
  // exit_to_user_mode_loop (kernel/entry/common.c, read with find_string, session 10): senders set
  // them under the siglock (signal_wake_up_state), which current does not hold here; a plain read
  // was reported by the checked build's KCSAN sampler (session 10).
  // tracehook_notify_signal: clear TIF_NOTIFY_SIGNAL, then task_work_run (nothing queued in the model).
  const notify = Atomics.load(mem, t + TASK.notify_signal) !== 0;
  if (notify) Atomics.store(mem, t + TASK.notify_signal, 0);
  // arch_do_signal_or_restart runs for either flag: with no signal to deliver it still restarts an
  // interrupted call (get_signal returns 0, then the -ERESTART* rules of syscall_restart).
  if ((notify || Atomics.load(mem, t + TASK.sigpending) !== 0) && (mem[t + TASK.flags]! & PF_KTHREAD) === 0) {
    if (mem[t + TASK.ucall + UCALL.op] !== OP_NONE) return; // get_signal re-armed a restarted call: it runs first
    set_ucall(t, SYS_GET_SIGNAL, 0, 0, 0);
  }
}

/**
 * pause(2) (kernel/signal.c): sleep until a signal is pending. The state is set before the test,
 * pairing with signal_wake_up's TIF_SIGPENDING store before its try_to_wake_up.
 */
export function sys_pause(): number {
  set_current_state(TASK_INTERRUPTIBLE, WCHAN_PAUSE, 0);
  if (signal_pending(current)) {
    set_running();
    return -ERESTARTNOHAND; // a handler makes it -EINTR; without one pause() sleeps again
  }
  return SLEEP;
}

/**
 * do_sigaction (kernel/signal.c) for the model's dispositions: EINVAL for an invalid signal and
 * for any action on SIGKILL/SIGSTOP. `handler` is SIG_DFL, SIG_IGN or SIG_CAUGHT; `flags` may have
 * SA_RESTART, and for SIGCHLD SA_NOCLDSTOP / SA_NOCLDWAIT. POSIX 3.3.1.3: setting SIG_IGN, or
 * SIG_DFL for a signal whose default is "ignore", discards it from every queue, blocked or not.
 * Real-time signals (32..64) keep their default action: the model's masks hold 1..31 (EINVAL).
 * Returns the old handler (SIG_*), for the model's callers.
 */
export function do_sigaction(sig: number, handler: number, flags: number): number {
  if (!valid_signal(sig) || sig < 1 || sig_kernel_only(sig)) return -EINVAL;
  if (sig > 31 || handler < SIG_DFL || handler > SIG_CAUGHT) return -EINVAL;
  const p = current;
  const sh = mem[p + TASK.sighand]!;
  const m = sigmask(sig);
  spin_lock_irq(sh + SIG.siglock);
  const old = sig_handler(p, sig);
  mem[sh + SIG.action_ign] = handler === SIG_IGN ? mem[sh + SIG.action_ign]! | m : mem[sh + SIG.action_ign]! & ~m;
  mem[sh + SIG.action_caught] = handler === SIG_CAUGHT ? mem[sh + SIG.action_caught]! | m : mem[sh + SIG.action_caught]! & ~m;
  mem[sh + SIG.action_restart] = (flags & SA_RESTART) !== 0 ? mem[sh + SIG.action_restart]! | m : mem[sh + SIG.action_restart]! & ~m;
  if (sig === SIGCHLD) mem[sh + SIG.chld_flags] = flags & (SA_NOCLDSTOP | SA_NOCLDWAIT);
  if (sig_handler_ignored(handler, sig)) flush_sigqueue_mask_all(p, m);
  spin_unlock_irq(sh + SIG.siglock);
  return old;
}

/** rt_sigaction(2) as the model's system call: (sig, handler SIG_*, sa_flags) -> 0. */
export function sys_rt_sigaction(sig: number, handler: number, flags: number): number {
  const r = do_sigaction(sig, handler, flags);
  return r < 0 ? r : 0;
}

/**
 * sigaction(SIGCHLD, SIG_IGN / SIG_DFL): children of a group that ignores SIGCHLD are reaped at
 * exit (do_notify_parent).
 */
export function sys_set_sigchld_ign(on: number): number {
  return sys_rt_sigaction(SIGCHLD, on ? SIG_IGN : SIG_DFL, 0);
}

/**
 * retarget_shared_pending (kernel/signal.c): shared signals in `which` that current now blocks
 * (or leaves by exiting) are handed to another thread that wants them. Caller holds siglock.
 */
export function retarget_shared_pending(tsk: number, which: number): void {
  const s = mem[tsk + TASK.signal]!;
  let retarget = mem[s + SIG.shared_pending]! & which;
  if (retarget === 0) return;
  rcu_read_lock(); // while_each_thread (see flush_sigqueue_mask_all)
  for (let t = mem[tsk + TASK.thread_next]!; t !== tsk && t !== 0 && retarget !== 0; t = mem[t + TASK.thread_next]!) {
    if ((mem[t + TASK.flags]! & PF_EXITING) !== 0) continue;
    const wanted = retarget & ~mem[t + TASK.blocked]!;
    if (wanted === 0) continue;
    retarget &= ~wanted; // remove the signals this thread can handle
    if (!signal_pending(t)) signal_wake_up(t, false);
  }
  rcu_read_unlock();
}

/**
 * rt_sigprocmask(2) (kernel/signal.c sigprocmask + __set_current_blocked): SIG_BLOCK,
 * SIG_UNBLOCK or SIG_SETMASK with `set` (bit sig-1); SIGKILL and SIGSTOP can not be blocked.
 * Newly blocked shared signals go to another thread; TIF_SIGPENDING is recomputed, so a signal
 * that became unblocked is delivered on the way back to user mode. Returns the old mask.
 */
export function sys_rt_sigprocmask(how: number, set: number): number {
  const t = current;
  const old = mem[t + TASK.blocked]!;
  let next: number;
  if (how === SIG_BLOCK) next = old | set;
  else if (how === SIG_UNBLOCK) next = old & ~set;
  else if (how === SIG_SETMASK) next = set;
  else return -EINVAL;
  next &= ~(sigmask(SIGKILL) | sigmask(SIGSTOP));
  const s = mem[t + TASK.sighand]!;
  spin_lock_irq(s + SIG.siglock);
  if (signal_pending(t)) retarget_shared_pending(t, next & ~old);
  mem[t + TASK.blocked] = next;
  recalc_sigpending();
  spin_unlock_irq(s + SIG.siglock);
  return old & 0x7fffffff;
}

/**
 * The model's record of handler runs: the signals caught since the last call, cleared (what a
 * program's handlers would have noted in a variable of their own). Not a kernel interface.
 */
export function sys_sig_caught(): number {
  const t = current;
  const s = mem[t + TASK.sighand]!;
  spin_lock_irq(s + SIG.siglock);
  const v = mem[t + TASK.sig_caught]!;
  mem[t + TASK.sig_caught] = 0;
  spin_unlock_irq(s + SIG.siglock);
  return v & 0x7fffffff;
}

register_syscall(SYS_KILL, 'kill', (pid, sig) => sys_kill(pid, sig));
register_syscall(SYS_PAUSE, 'pause', () => sys_pause());
register_syscall(SYS_PIDFD_SEND_SIGNAL, 'pidfd_send_signal', (fd, sig, flags) => sys_pidfd_send_signal(fd, sig, flags));
register_syscall(SYS_SET_SIGCHLD_IGN, 'sigaction_sigchld', (on) => sys_set_sigchld_ign(on));
register_syscall(SYS_RT_SIGACTION, 'rt_sigaction', (sig, handler, flags) => sys_rt_sigaction(sig, handler, flags));
register_syscall(SYS_RT_SIGPROCMASK, 'rt_sigprocmask', (how, set) => sys_rt_sigprocmask(how, set));
register_syscall(SYS_SIG_CAUGHT, 'sig_caught', () => sys_sig_caught());
register_syscall(SYS_GET_SIGNAL, 'get_signal', () => get_signal(), { entry_work: true });

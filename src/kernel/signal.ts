/**
 * Signals (kernel/signal.c): kill(2), group_send_sig_info / send_sig_info under siglock, the
 * pid-namespace init protection (sig_task_ignored with SIGNAL_UNKILLABLE), complete_signal's group
 * exit for fatal signals, signal_wake_up, get_signal -> do_group_exit on return to user mode,
 * pause(2), and sigaction(SIGCHLD, SIG_IGN).
 *
 * What the model keeps of the signal machinery: no task has a handler, so every signal has its
 * default action. "Ignore" signals (SIGCHLD, SIGCONT, SIGURG, SIGWINCH) are dropped at send time
 * (sig_ignored), as are stop signals (job control is not modelled); every other signal is fatal,
 * and complete_signal turns it at once into a group exit: SIGNAL_GROUP_EXIT, group_exit_code = sig,
 * SIGKILL pending in every thread. Core-dumping signals take the same path (as with RLIMIT_CORE 0:
 * the wait status is the bare signal number). Pending masks hold signals 1..31 (bit sig-1);
 * real-time signals are fatal and never stay pending. Signals are never blocked.
 */
import { G, SIG, TASK } from '../mm/layout.js';
import { BUG_PLANT_KILL_NO_RCU } from './bugs.js';
import { kg, mem } from '../mm/memory.js';
import { spin_lock, spin_lock_irq, spin_unlock, spin_unlock_irq } from '../locking/spinlock.js';
import { read_lock, read_unlock } from '../locking/qrwlock.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { sched_hook } from '../sched/hook.js';
import { current, set_current_state, set_running, SLEEP, TASK_INTERRUPTIBLE, try_to_wake_up, WCHAN_PAUSE } from '../sched/core.js';
import { OP_NONE, register_syscall, set_ucall } from './entry.js';
import { EINVAL, EPERM, ESRCH } from './errno.js';
import { SYS_KILL, SYS_PAUSE, SYS_SET_SIGCHLD_IGN } from './syscalls.js';
import { CAP_KILL, ns_capable } from './user_namespace.js';
import { find_vpid, pid_task } from './pid.js';
import { task_active_pid_ns } from './pid_namespace.js';
import {
  init_task, PF_EXITING, PF_KTHREAD, pid_nr_ns_fast, PIDTYPE_MAX, PIDTYPE_PGID, PIDTYPE_PID, PIDTYPE_TGID,
  same_thread_group, SIGCHLD, SIGCONT, SIGKILL, sig_kernel_ignore, sig_kernel_only, sig_kernel_stop, sigmask, SIGNAL_GROUP_EXIT,
  SIGNAL_UNKILLABLE, thread_group_empty, valid_signal,
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
import { ERESTARTNOHAND } from './errno.js';

/** Model system call: deliver pending signals on return to user mode (get_signal). Internal. */
export const SYS_GET_SIGNAL = 33;
/** PR_SET_CHILD_SUBREAPER / PR_GET_CHILD_SUBREAPER (include/uapi/linux/prctl.h). */
export const PR_SET_CHILD_SUBREAPER = 36;
export const PR_GET_CHILD_SUBREAPER = 37;

// do_group_exit lives in exit.ts; installed there to keep the module graph acyclic at load time.
let do_group_exit_fn: (code: number) => number = () => 0;
export function set_do_group_exit(f: (code: number) => number): void {
  do_group_exit_fn = f;
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

/** __fatal_signal_pending: SIGKILL in the task's private pending set. */
export function __fatal_signal_pending(t: number): boolean {
  return (mem[t + TASK.pending]! & sigmask(SIGKILL)) !== 0;
}

/** fatal_signal_pending = signal_pending && __fatal_signal_pending. */
export function fatal_signal_pending(t: number): boolean {
  return signal_pending(t) && __fatal_signal_pending(t);
}

/**
 * sig_task_ignored (kernel/signal.c). A task with SIGNAL_UNKILLABLE (a pid-namespace init, the
 * global init) ignores every signal whose handler is SIG_DFL - all of them in the model - except
 * SIGKILL/SIGSTOP when `force` (sent from an ancestor namespace, or by the kernel). Otherwise a
 * signal whose default action is "ignore" is ignored.
 */
export function sig_task_ignored(t: number, sig: number, force: boolean): boolean {
  const sig_rec = mem[t + TASK.signal]!;
  if ((mem[sig_rec + SIG.flags]! & SIGNAL_UNKILLABLE) !== 0 && !(force && sig_kernel_only(sig))) return true;
  // SIGKILL and SIGSTOP may not be sent to the global init (is_global_init && sig_kernel_only).
  if (t === init_task() && sig_kernel_only(sig)) return true;
  if (sig === SIGCHLD && mem[sig_rec + SIG.sigchld_ign] !== 0) return true;
  return sig_kernel_ignore(sig);
}

/** sig_ignored: blocked signals are never ignored here (nothing is blocked in the model). */
function sig_ignored(t: number, sig: number, force: boolean): boolean {
  return sig_task_ignored(t, sig, force);
}

/**
 * prepare_signal (kernel/signal.c): a group in the middle of exiting drops the signal; stop
 * signals have no job control to drive and are dropped (the model's simplification).
 */
function prepare_signal(sig: number, p: number, force: boolean): boolean {
  const s = mem[p + TASK.signal]!;
  if ((mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) !== 0) return false;
  if (sig_kernel_stop(sig)) return false;
  return !sig_ignored(p, sig, force);
}

/** sig_fatal: the default action terminates (every signal that survived prepare_signal here). */
function sig_fatal(sig: number): boolean {
  return !sig_kernel_ignore(sig) && !sig_kernel_stop(sig);
}

/**
 * signal_wake_up (include/linux/sched/signal.h): TIF_SIGPENDING, then wake the task if it sleeps
 * interruptibly. A scripted task (or a halted program) sleeping idle in pause() has no system call
 * to return from: give it get_signal as its pending call, so the woken task delivers the signal.
 * Caller holds the task's siglock.
 */
export function signal_wake_up(t: number, _fatal: boolean): void {
  // Sequentially consistent store: pairs with the idle path's load of sigpending after it set
  // TASK_INTERRUPTIBLE (entry.ts), so either it sees the signal or we see it sleeping.
  Atomics.store(mem, t + TASK.sigpending, 1);
  if (mem[t + TASK.wait_chan] === WCHAN_PAUSE && mem[t + TASK.ucall] === OP_NONE &&
      Atomics.load(mem, t + TASK.state) === TASK_INTERRUPTIBLE) {
    mem[t + TASK.ucall] = SYS_GET_SIGNAL;
  }
  try_to_wake_up(t, TASK_INTERRUPTIBLE);
}

/** wants_signal (kernel/signal.c), with nothing blocked and no stopped/traced states. */
function wants_signal(sig: number, p: number): boolean {
  if ((mem[p + TASK.flags]! & PF_EXITING) !== 0) return false;
  if (sig === SIGKILL) return true;
  return !signal_pending(p) || mem[p + TASK.on_cpu] !== 0;
}

/**
 * complete_signal (kernel/signal.c): find a thread to take the signal; a fatal one takes the
 * whole group down at once (SIGNAL_GROUP_EXIT, SIGKILL to every thread).
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
  if (sig_fatal(sig) && (mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) === 0 && (sig === SIGKILL || mem[p + TASK.ptrace] === 0)) {
    // "Start a group exit and wake everybody up." (flags = SIGNAL_GROUP_EXIT drops UNKILLABLE.)
    mem[s + SIG.flags] = SIGNAL_GROUP_EXIT;
    mem[s + SIG.group_exit_code] = sig;
    const leader = mem[p + TASK.group_leader]!;
    let x = leader;
    do {
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
  for (let t = mem[p + TASK.thread_next]!; t !== p && t !== 0; t = mem[t + TASK.thread_next]!) {
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
    const sh = mem[p + TASK.sighand]!;
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
  const ret = check_kill_permission(sig, info, p);
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

/**
 * __kill_pgrp_info (kernel/signal.c): every process whose process group is `pgrp`. Caller holds
 * tasklist_lock for read. The model walks the process list (there is no per-pid task list).
 */
function __kill_pgrp_info(sig: number, info: number, pgrp: number): number {
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

/**
 * get_signal (kernel/signal.c), reduced to the fatal path: a group exit in progress, or a pending
 * fatal signal, ends in do_group_exit. Nothing else stays pending in the model.
 */
export function get_signal(): number {
  const t = current;
  const s = mem[t + TASK.signal]!;
  if (mem[t + TASK.exit_phase] !== 0) return do_group_exit_fn(0); // resumed inside do_exit
  spin_lock_irq(s + SIG.siglock);
  let fatal = false;
  let code = 0;
  if ((mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) !== 0) {
    // A group exit is under way (its code may be 0: exit_group(0) of another thread).
    mem[t + TASK.pending] = mem[t + TASK.pending]! & ~sigmask(SIGKILL);
    fatal = true;
    code = mem[s + SIG.group_exit_code]!;
  } else {
    const pend = mem[t + TASK.pending]! | mem[s + SIG.shared_pending]!;
    for (let sig = 1; sig <= 31; sig++) {
      if ((pend & sigmask(sig)) !== 0 && sig_fatal(sig)) { fatal = true; code = sig; break; }
    }
    mem[t + TASK.pending] = 0;
    mem[s + SIG.shared_pending] = 0;
  }
  mem[t + TASK.sigpending] = 0;
  spin_unlock_irq(s + SIG.siglock);
  if (!fatal) return 0;
  return do_group_exit_fn(code);
}

/**
 * exit_to_user_mode (kernel/entry/common.c exit_to_user_mode_loop): with TIF_SIGPENDING, the next
 * thing the task does is get_signal. Returning to user mode is also an RCU-tasks quiescent state
 * (rcu_tasks_classic_qs: the holdout flag is cleared). Kernel threads keep their behaviour.
 */
export function exit_to_user_mode(t: number): void {
  if (mem[t + TASK.rcu_tasks_holdout] !== 0) Atomics.store(mem, t + TASK.rcu_tasks_holdout, 0);
  // tracehook_notify_signal: clear TIF_NOTIFY_SIGNAL, then task_work_run (nothing queued in the model).
  if (mem[t + TASK.notify_signal] !== 0) Atomics.store(mem, t + TASK.notify_signal, 0);
  if (mem[t + TASK.sigpending] !== 0 && (mem[t + TASK.flags]! & PF_KTHREAD) === 0) {
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
    return -ERESTARTNOHAND; // never seen by user space: the (fatal) signal kills the task first
  }
  return SLEEP;
}

/**
 * sigaction(SIGCHLD, SIG_IGN / SIG_DFL) (kernel/signal.c do_sigaction): children of a group that
 * ignores SIGCHLD are reaped at exit (do_notify_parent). Setting SIG_IGN discards a pending SIGCHLD.
 */
export function sys_set_sigchld_ign(on: number): number {
  const s = mem[current + TASK.sighand]!;
  spin_lock_irq(s + SIG.siglock);
  mem[s + SIG.sigchld_ign] = on ? 1 : 0;
  if (on) mem[s + SIG.shared_pending] = mem[s + SIG.shared_pending]! & ~sigmask(SIGCHLD);
  spin_unlock_irq(s + SIG.siglock);
  return 0;
}

register_syscall(SYS_KILL, 'kill', (pid, sig) => sys_kill(pid, sig));
register_syscall(SYS_PAUSE, 'pause', () => sys_pause());
register_syscall(SYS_SET_SIGCHLD_IGN, 'sigaction_sigchld', (on) => sys_set_sigchld_ign(on));
register_syscall(SYS_GET_SIGNAL, 'get_signal', () => get_signal());

void sched_hook; void spin_lock; void spin_unlock; void PIDTYPE_PGID;

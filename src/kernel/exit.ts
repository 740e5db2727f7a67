/**
 * Process exit and wait (kernel/exit.c): do_exit, exit_notify with forget_original_parent ->
 * find_child_reaper (zap_pid_ns_processes) -> find_new_reaper -> reparenting, do_notify_parent,
 * release_task, the delayed task free, do_group_exit, and do_wait / kernel_wait4.
 *
 * do_exit is restartable: its phase is TASK.exit_phase (EXP_*), its one local (group_dead) is in
 * TASK.exit_flags, and exit_notify's local "dead" list (tasks to release_task once tasklist_lock is
 * dropped) is TASK.exit_dead, linked through dead_next. It sleeps in two places: exit_signals'
 * cgroup_threadgroup_change_begin (EXP_SIGNALS: the read side of cgroup_threadgroup_rwsem, while a
 * cgroup.procs write holds or takes it), and inside zap_pid_ns_processes (K1), entered from
 * find_child_reaper with tasklist_lock dropped: the restarted call goes straight back into zap
 * (EXP_ZAP) and then retakes the lock, exactly where the kernel's find_child_reaper continues
 * after zap returns.
 *
 * do_wait is naturally restartable: each call queues the caller on signal->wait_chldexit (if it
 * must sleep), scans the children and tracees under read_lock(tasklist_lock), and either reaps,
 * returns, or returns SLEEP; a wake-up re-runs the scan.
 */
import { record_violation, V_HUNG_TASK, V_INVARIANT, V_LOST_WAKEUP } from '../locking/violations.js';
import { cgroup_free, cgroup_release, cgroup_threadgroup_change_begin, cgroup_threadgroup_change_end } from './cgroup_pids.js';
import { FILE, G, PID, PIDNS, SIG, TASK } from '../mm/layout.js';
import { kg, mem, SLAB_SIGNAL, SLAB_TASK } from '../mm/memory.js';
import { kmem_cache_free } from '../mm/slab.js';
import { data_race } from '../lib/compiler.js';
import { spin_lock, spin_lock_irq, spin_unlock, spin_unlock_irq } from '../locking/spinlock.js';
import { read_lock, read_unlock, write_lock_irq, write_unlock_irq } from '../locking/qrwlock.js';
import { call_rcu, rcu_read_lock, rcu_read_unlock, register_rcu_callback } from '../rcu/rcu.js';
import { exit_tasks_rcu_finish, exit_tasks_rcu_start, exit_tasks_rcu_stop } from '../rcu/tasks.js';
import { sched_hook } from '../sched/hook.js';
import { user_page_fault } from '../mm/uaccess.js';
import { current, SLEEP, TASK_DEAD, TASK_INTERRUPTIBLE, wake_up_process, WCHAN_WAIT4 } from '../sched/core.js';
import { finish_wait, prepare_to_wait } from '../sched/wait.js';
import { EXITED, register_syscall } from './entry.js';
import { PROPOSAL_EXEC_REAP_UNLOCKED, BUG_CHILD_REAPER_NOT_MOVED, BUG_PIDFD_POLL_EXIT_STATE, BUG_WAIT_CONSIDER_RELOAD, BUG_WAIT_DEAD_TO_ZOMBIE, BUG_WAIT_ZOMBIE_LEADER_TRACED, BUG_PLANT_REPARENT_NO_LOCK, BUG_PLANT_REPARENT_READ_LOCK, BUG_PLANT_TASK_FREE_NO_GP, BUG_PTRACE_DEAD_LIST, BUG_ZAP_WAIT_CHILDREN } from '../config/bugs.js';
import { EAGAIN, EBADF, ECHILD, EINVAL, ERESTARTSYS, ESRCH } from './errno.js';
import { SYS_EXIT, SYS_EXIT_GROUP, SYS_REBOOT, SYS_WAIT4, SYS_WAITID } from './unistd.js';
import { free_pid, find_vpid, put_pid } from './pid.js';
import { set_pidns_process_ops, sys_reboot, task_active_pid_ns, zap_pid_ns_processes } from './pid_namespace.js';
import { put_user_ns } from './user_namespace.js';
import { exit_task_namespaces } from './nsproxy.js';
import { exit_files, fget, fput } from './nsfs.js';
import { do_notify_pidfd, pidfd_pid } from './pidfd.js';
import { __ptrace_unlink, exit_ptrace } from './ptrace.js';
import {
  __fatal_signal_pending, __kill_pgrp_info, __send_signal_locked, do_notify_parent_cldstop, group_send_sig_info,
  retarget_shared_pending, send_sig, SEND_SIG_PRIV, set_do_group_exit, set_is_current_pgrp_orphaned, signal_pending,
  task_participate_group_stop, zap_other_threads,
} from './signal.js';
import {
  __WALL, __wake_up_parent, __WCLONE, __WNOTHREAD, children_del, children_splice_tail, LD_RELEASE_WITH_CHILDREN, LD_REPARENT_OWNER, LD_REPARENT_PTRACE, SH_REPARENT, sibling_hist_add, sibling_list_corrupt, CLD_CONTINUED, CLD_DUMPED, CLD_EXITED,
  CLD_KILLED, CLD_STOPPED, CLD_TRAPPED, delay_group_leader, JOBCTL_TRACED,
  EXIT_DEAD, EXIT_TRACE, EXIT_ZOMBIE, find_alive_thread, init_task, JOBCTL_STOP_PENDING, PF_EXITING, pid_nr_ns_fast,
  PIDTYPE_MAX, PIDTYPE_PGID, PIDTYPE_PID, PIDTYPE_TGID, ptrace_reparented, SA_NOCLDWAIT, same_thread_group, SIGCHLD,
  SIGCONT, SIGHUP, sigmask, SIGNAL_GROUP_EXIT, SIGNAL_STOP_CONTINUED, SIGNAL_STOP_STOPPED, tasks_del, thread_group_empty,
  thread_group_leader, thread_ring_del, valid_signal, WCONTINUED, WEXITED, WNOHANG, WNOWAIT, WSTOPPED, WUNTRACED,
} from './sched_task.js';

/** do_exit restart phases (TASK.exit_phase). */
export const EXP_NONE = 0;
/** Past the first half of do_exit; exit_notify runs (again) from its start. */
export const EXP_NOTIFY = 1;
/** Inside find_child_reaper's zap_pid_ns_processes, tasklist_lock dropped. */
export const EXP_ZAP = 2;
/** exit_notify done; a dead task never runs again, the phase stays set. */
export const EXP_DEAD = 3;
/** synchronize_group_exit done (code in TASK.exit_code); exit_signals (re)takes cgroup_threadgroup_rwsem. */
export const EXP_SIGNALS = 4;
/** TASK.exit_flags bits. */
export const EXF_GROUP_DEAD = 1;

/** V_INVARIANT: put_task_struct or put_task_struct_rcu_user on a count already 0 (b = task, c = old count). */
export const INV_TASK_USAGE_UNDERFLOW = 0x54;

/** rcu_head callback id of delayed_put_task_struct (unique: torture 1, pid.ts 20/21). */
export const RCB_DELAYED_PUT_TASK = 30;

/** Scheduling-hook sites (race windows) of the exit and wait paths. */
export const SITE_EXIT_NOTIFY = 220;
export const SITE_EXIT_REPARENT = 221;
export const SITE_WAIT_SCAN = 222;
export const SITE_RELEASE = 223;
export const SITE_WAIT_REAP = 224;
export const SITE_EXIT_START = 225;
export const SITE_EXIT_NOTIFY_STATE = 226; // exit_notify: between do_notify_parent and the exit_state store (BUG_PIDFD_POLL_EXIT_STATE)
export const SITE_WAIT_CONSIDER = 227; // wait_consider_task: security_task_wait, a zombie in view (BUG_WAIT_CONSIDER_RELOAD)
export const SITE_EXIT_SIGNALS = 228; // exit_signals: cgroup_threadgroup_change_begin (percpu_down_read of cgroup_threadgroup_rwsem)

/** A kernel panic: the machine can not go on (the CPU worker that throws ends the run). */
export class KernelPanic extends Error {
  constructor(msg: string) {
    super(`Kernel panic - not syncing: ${msg}`);
  }
}

// ---- task references ------------------------------------------------------------------------------

/**
 * get_task_struct (include/linux/sched/task.h): refcount_inc(&t->usage). Legal under
 * rcu_read_lock on a task found by an RCU lookup even once its rcu_users are gone: usage keeps
 * the 1 the rcu_users hold until delayed_put_task_struct runs, a grace period after the last
 * put_task_struct_rcu_user.
 */
export function get_task_struct(t: number): number {
  Atomics.add(mem, t + TASK.usage, 1);
  return t;
}

/** put_task_struct (include/linux/sched/task.h): the last reference frees the task (__put_task_struct). */
export function put_task_struct(t: number): void {
  const old = Atomics.sub(mem, t + TASK.usage, 1);
  if (old === 1) free_task(t);
  else if (old <= 0) record_violation(V_INVARIANT, INV_TASK_USAGE_UNDERFLOW, t, old);
}

/**
 * put_task_struct_rcu_user (kernel/exit.c: `if (refcount_dec_and_test(&task->rcu_users))
 * call_rcu(&task->rcu, delayed_put_task_struct);`, read with find_string, session 10): rcu_users
 * is 2 at fork, one dropped by release_task, one by finish_task_switch after the last switch away
 * from the dead task. The last one drops, a grace period later, the usage reference the rcu_users
 * held (delayed_put_task_struct -> put_task_struct). Until session 10 the model kept one counter
 * for both, so a get_task_struct under RCU on a task whose rcu_users were gone (cgroup_procs_write
 * finding it with find_task_by_vpid) took it from 0 to 1, and its put queued the rcu_head a second
 * time (found by the debug-objects check of call_rcu in a 10-minute stress run, seed 2).
 */
export function put_task_struct_rcu_user(t: number): void {
  const old = Atomics.sub(mem, t + TASK.rcu_users, 1);
  if (old !== 1) {
    if (old <= 0) record_violation(V_INVARIANT, INV_TASK_USAGE_UNDERFLOW, t, old);
    return;
  }
  // Planted bug: no grace period; RCU readers that found the task (pid_task) read freed memory.
  if ((mem[kg + G.bug_switches]! & BUG_PLANT_TASK_FREE_NO_GP) !== 0) delayed_put_task_struct(t);
  else call_rcu(t + TASK.rcu, RCB_DELAYED_PUT_TASK, t);
}

/** put_signal_struct + __cleanup_sighand (one record in the model). */
export function put_signal_struct(s: number): void {
  if (Atomics.sub(mem, s + SIG.count, 1) === 1) kmem_cache_free(SLAB_SIGNAL, s, SIG.poison);
}

/**
 * free_task / __put_task_struct (kernel/fork.c): drop what the task record still references (its
 * process-group and session pids, its cred's user namespace, its signal_struct) and free it.
 */
export function free_task(t: number): void {
  cgroup_free(t);
  const pg = mem[t + TASK.pgrp]!;
  if (pg) {
    mem[t + TASK.pgrp] = 0;
    put_pid(pg);
  }
  const sid = mem[t + TASK.session]!;
  if (sid) {
    mem[t + TASK.session] = 0;
    put_pid(sid);
  }
  const uns = mem[t + TASK.cred_user_ns]!;
  if (uns) {
    mem[t + TASK.cred_user_ns] = 0;
    if (uns !== mem[kg + G.init_user_ns]) put_user_ns(uns);
  }
  const s = mem[t + TASK.signal]!;
  if (s) {
    mem[t + TASK.signal] = 0;
    put_signal_struct(s);
  }
  kmem_cache_free(SLAB_TASK, t, TASK.poison);
}

/** delayed_put_task_struct (kernel/exit.c): the call_rcu callback drops the rcu_users' usage reference. */
function delayed_put_task_struct(t: number): void {
  put_task_struct(t);
}
register_rcu_callback(RCB_DELAYED_PUT_TASK, delayed_put_task_struct);

/**
 * finish_task_switch for a task that finished do_exit (kernel/sched/core.c): the scheduler's
 * reference goes (installed as the CPU's process_task_dead hook in kernel/index.ts).
 */
export function process_task_dead(t: number): void {
  if (mem[t + TASK.rcu_tasks_holdout] !== 0) Atomics.store(mem, t + TASK.rcu_tasks_holdout, 0);
  put_task_struct_rcu_user(t);
}

// ---- do_notify_parent (kernel/signal.c) -----------------------------------------------------------

/**
 * do_notify_parent (kernel/signal.c): tell tsk's parent (the tracer while traced) that tsk died:
 * the exit signal (SIGCHLD's default action is "ignore", so only other exit signals are queued),
 * and a wake-up of its do_wait sleepers. Returns true when the parent does not care (SIGCHLD
 * SIG_IGN) and tsk must be reaped now (autoreap). Caller holds tasklist_lock for write.
 */
export function do_notify_parent(tsk: number, sig: number): boolean {
  do_notify_pidfd(tsk); // Wake up all pidfd waiters (first, as in kernel/signal.c)
  const parent = mem[tsk + TASK.parent]!;
  if (!parent) return true; // a sub-thread of the global init: swapper never waits
  const psig = mem[parent + TASK.sighand]!;
  if (!psig) return true;
  spin_lock(psig + SIG.siglock);
  let autoreap = false;
  const ign = (mem[psig + SIG.action_ign]! & sigmask(SIGCHLD)) !== 0;
  if (mem[tsk + TASK.ptrace] === 0 && sig === SIGCHLD && (ign || (mem[psig + SIG.chld_flags]! & SA_NOCLDWAIT) !== 0)) {
    // We are exiting and our parent doesn't care. POSIX.1 says a SIGCHLD handler (with
    // SA_NOCLDWAIT) still gets the signal; SIG_IGN gets none.
    autoreap = true;
    if (ign) sig = 0;
  }
  // Sent with __send_signal_locked: prepare_signal drops a SIGCHLD whose handler is SIG_DFL.
  if (sig > 0 && valid_signal(sig)) __send_signal_locked(sig, parent, PIDTYPE_TGID, false);
  __wake_up_parent(parent);
  spin_unlock(psig + SIG.siglock);
  return autoreap;
}

// ---- release_task ---------------------------------------------------------------------------------

/**
 * __exit_signal + __unhash_process (kernel/exit.c): under tasklist_lock (write) and the siglock,
 * take p off every list and detach its pids (PIDTYPE_PID; TGID, the task list and the sibling
 * list when the group dies with it: the leader is always released last). Returns the struct pid
 * that no task uses any more (free_pid runs after tasklist_lock is dropped), or 0.
 */
function __exit_signal(p: number): number {
  const s = mem[p + TASK.signal]!;
  const sh = mem[p + TASK.sighand]!;
  const group_dead = thread_group_leader(p);
  spin_lock(sh + SIG.siglock);
  mem[s + SIG.nr_threads] = mem[s + SIG.nr_threads]! - 1;
  Atomics.sub(mem, kg + G.nr_threads, 1);
  const pid = mem[p + TASK.pid]!;
  // detach_pid(p, PIDTYPE_PID): hlist_del_rcu's WRITE_ONCE, no release. Storing NULL publishes
  // nothing: an RCU reader's Atomics.load of task_pid (pid_task) finds p or 0, and p stays valid
  // for it until the grace period of release_task's call_rcu. A plain store under tasklist_lock.
  mem[pid + PID.task_pid] = 0;
  mem[p + TASK.pid] = 0;
  // The model's check: exit_notify handed every child to a reaper (forget_original_parent), and
  // nothing links a child to a task past it; a child left here would name a freed real_parent.
  if (mem[p + TASK.children] !== 0) sibling_list_corrupt(LD_RELEASE_WITH_CHILDREN, p, mem[p + TASK.children]!, 0);
  if (group_dead) {
    const tg = mem[p + TASK.tgid_pid]!;
    if (tg) mem[tg + PID.task_tgid] = 0; // detach_pid(p, PIDTYPE_TGID): as PIDTYPE_PID above
    tasks_del(p);
    const rp = mem[p + TASK.real_parent]!;
    if (rp) children_del(rp, p);
    if (rp && (mem[kg + G.bug_switches]! & BUG_ZAP_WAIT_CHILDREN) !== 0) {
      // 6347e9009104 (v3.5 __unhash_process): if we are the last child process in a pid namespace
      // to be reaped, notify the reaper sleeping in zap_pid_ns_processes (its children-list wait).
      const rns = task_active_pid_ns(rp);
      if (rns && mem[rns + PIDNS.child_reaper] === rp && mem[rp + TASK.children] === 0 &&
          (mem[rp + TASK.flags]! & PF_EXITING) !== 0) wake_up_process(rp);
    }
    mem[s + SIG.shared_pending] = 0; // flush_sigqueue(&p->signal->shared_pending)
  } else if (mem[s + SIG.notify_count]! > 0) {
    // If there is any task waiting for the group exit then notify it: de_thread counts the
    // threads it still waits to see released (a traced zombie thread: by its tracer's wait4).
    mem[s + SIG.notify_count] = mem[s + SIG.notify_count]! - 1;
    if (mem[s + SIG.notify_count] === 0) wake_up_process(mem[s + SIG.group_exec_task]!);
  }
  mem[p + TASK.tgid_pid] = 0;
  thread_ring_del(p);
  mem[p + TASK.sighand] = 0; // lock_task_sighand(p) fails from now on
  spin_unlock(sh + SIG.siglock);
  return mem[pid + PID.task_pid] === 0 && mem[pid + PID.task_tgid] === 0 ? pid : 0;
}

/**
 * release_task (kernel/exit.c): unhash p, notify the parent of a zombie leader whose last thread
 * this was (and release the leader too when the parent does not care), free the pid outside
 * tasklist_lock, drop the reaper's task reference.
 */
export function release_task(p: number): void {
  const tl = kg + G.tasklist_lock;
  for (;;) {
    cgroup_release(p);
    write_lock_irq(tl, SITE_RELEASE);
    if (mem[p + TASK.ptrace] !== 0) __ptrace_unlink(p); // ptrace_release_task
    const pid = __exit_signal(p);
    // If we are the last non-leader member of the thread group, and the leader is zombie, then
    // notify the group leader's parent process (if it wants notification).
    let zap_leader = false;
    const leader = mem[p + TASK.group_leader]!;
    if (leader !== p && thread_group_empty(leader) && mem[leader + TASK.exit_state] === EXIT_ZOMBIE) {
      zap_leader = do_notify_parent(leader, mem[leader + TASK.exit_signal]!);
      if (zap_leader) mem[leader + TASK.exit_state] = EXIT_DEAD;
    }
    // v3.5 (the BUG_ZAP_WAIT_CHILDREN design) freed the pid in __unhash_process's detach_pid,
    // under tasklist_lock, together with the ->children removal its zap wait relies on; today's
    // kernel frees it after dropping the lock.
    const pid_under_lock = (mem[kg + G.bug_switches]! & BUG_ZAP_WAIT_CHILDREN) !== 0;
    if (pid && pid_under_lock) free_pid(pid);
    write_unlock_irq(tl);
    if (pid && !pid_under_lock) free_pid(pid);
    // fb3bbcfe344e ("exit: change the release_task() paths to call flush_sigqueue() lockless"):
    // p is unhashed and lock_task_sighand(p) fails, so nobody else touches ->pending.
    mem[p + TASK.pending] = 0; // flush_sigqueue(&p->pending)
    put_task_struct_rcu_user(p);
    if (!zap_leader) return;
    p = leader;
  }
}

/** Release every task on tsk's dead list (exit_notify's `dead`, released without tasklist_lock). */
function release_dead_list(tsk: number): void {
  for (;;) {
    const p = mem[tsk + TASK.exit_dead]!;
    if (!p) return;
    mem[tsk + TASK.exit_dead] = mem[p + TASK.dead_next]!;
    mem[p + TASK.dead_next] = 0;
    release_task(p);
  }
}

function dead_list_add(tsk: number, p: number): void {
  mem[p + TASK.dead_next] = mem[tsk + TASK.exit_dead]!;
  mem[tsk + TASK.exit_dead] = p;
}

// ---- exit_notify ----------------------------------------------------------------------------------

/**
 * find_new_reaper (kernel/exit.c): a live thread of father's group; else the nearest
 * PR_SET_CHILD_SUBREAPER ancestor in the same pid namespace level (a live thread of it); else the
 * namespace's child reaper.
 */
function find_new_reaper(father: number, child_reaper: number): number {
  let thread = find_alive_thread(father);
  if (thread) return thread;
  if (mem[mem[father + TASK.signal]! + SIG.has_child_subreaper] !== 0) {
    const fpid = mem[father + TASK.pid]!;
    const ns_level = fpid ? mem[fpid + PID.level]! : 0;
    const top = init_task();
    for (let reaper = mem[father + TASK.real_parent]!; reaper !== 0; reaper = mem[reaper + TASK.real_parent]!) {
      const rpid = mem[reaper + TASK.pid]!;
      if (!rpid || mem[rpid + PID.level] !== ns_level) break;
      if (reaper === top) break; // the kernel stops at init_task (swapper), the model's top is init
      // prctl(PR_SET_CHILD_SUBREAPER) stores is_child_subreaper with no lock (kernel/sys.c
      // `me->signal->is_child_subreaper = !!arg2;`, read with find_string) and the kernel reads it
      // plainly here: a race on purpose (data_race; a 10-minute checked free run, session 13).
      if (data_race(mem[mem[reaper + TASK.signal]! + SIG.is_child_subreaper]) === 0) continue;
      thread = find_alive_thread(reaper);
      if (thread) return thread;
    }
  }
  return child_reaper;
}

/**
 * will_become_orphaned_pgrp (kernel/exit.c): a process group is orphaned when no member (but
 * `ignored`, dead ones, and children of the global init) has a parent in another process group of
 * the same session. The model walks the process list for the members (do_each_pid_task PGID).
 * Caller holds tasklist_lock.
 */
function will_become_orphaned_pgrp(pgrp: number, ignored: number): boolean {
  const head = init_task();
  let p = head;
  do {
    if (mem[p + TASK.pgrp] === pgrp && p !== ignored && !(mem[p + TASK.exit_state] !== 0 && thread_group_empty(p))) {
      const rp = mem[p + TASK.real_parent]!;
      if (rp && rp !== head && mem[rp + TASK.pgrp] !== pgrp && mem[rp + TASK.session] === mem[p + TASK.session]) return false;
    }
    p = mem[p + TASK.tasks_next]!;
  } while (p !== head && p !== 0);
  return true;
}

/** is_current_pgrp_orphaned (kernel/exit.c): get_signal's test before a SIGTSTP/SIGTTIN/SIGTTOU stop. */
export function is_current_pgrp_orphaned(): boolean {
  read_lock(kg + G.tasklist_lock);
  const r = will_become_orphaned_pgrp(mem[mem[current + TASK.group_leader]! + TASK.pgrp]!, 0);
  read_unlock(kg + G.tasklist_lock);
  return r;
}

/** has_stopped_jobs (kernel/exit.c): a member of the process group is stopped. */
function has_stopped_jobs(pgrp: number): boolean {
  const head = init_task();
  let p = head;
  do {
    if (mem[p + TASK.pgrp] === pgrp && (mem[mem[p + TASK.signal]! + SIG.flags]! & SIGNAL_STOP_STOPPED) !== 0) return true;
    p = mem[p + TASK.tasks_next]!;
  } while (p !== head && p !== 0);
  return false;
}

/**
 * kill_orphaned_pgrp (kernel/exit.c): POSIX 3.2.2.2: a process group that becomes orphaned while
 * a member is stopped gets SIGHUP and SIGCONT. `parent` 0: tsk's group exits (its real parent is
 * the link outside); otherwise tsk is a child being reparented away from `parent`.
 * Caller holds tasklist_lock for write.
 */
function kill_orphaned_pgrp(tsk: number, parent: number): void {
  const pgrp = mem[tsk + TASK.pgrp]!;
  let ignored = tsk;
  if (!parent) parent = mem[tsk + TASK.real_parent]!;
  else ignored = 0;
  if (!parent || !pgrp) return;
  if (mem[parent + TASK.pgrp] !== pgrp && mem[parent + TASK.session] === mem[tsk + TASK.session] &&
      will_become_orphaned_pgrp(pgrp, ignored) && has_stopped_jobs(pgrp)) {
    __kill_pgrp_info(SIGHUP, SEND_SIG_PRIV, pgrp);
    __kill_pgrp_info(SIGCONT, SEND_SIG_PRIV, pgrp);
  }
}

/**
 * reparent_leader (kernel/exit.c): a zombie child that is not traced is announced to its new
 * parent; if that one ignores SIGCHLD it goes on the dead list. A stopped process group that the
 * reparenting orphans is sent SIGHUP and SIGCONT.
 */
function reparent_leader(father: number, p: number): void {
  if (mem[p + TASK.exit_state] === EXIT_DEAD) return;
  // We don't want people slaying init.
  mem[p + TASK.exit_signal] = SIGCHLD;
  // If it has exited notify the new parent about this child's death.
  if (mem[p + TASK.ptrace] === 0 && mem[p + TASK.exit_state] === EXIT_ZOMBIE && thread_group_empty(p)) {
    if (do_notify_parent(p, SIGCHLD)) {
      mem[p + TASK.exit_state] = EXIT_DEAD;
      dead_list_add(father, p);
    }
  }
  kill_orphaned_pgrp(p, father);
}

/** The reparenting loop of forget_original_parent: every child (and its threads) to reaper. */
function reparent_children(father: number, reaper: number): void {
  const threaded = same_thread_group(reaper, father);
  for (let p = mem[father + TASK.children]!; p !== 0; p = mem[p + TASK.sibling_next]!) {
    let t = p;
    do {
      // The model's CONFIG_DEBUG_LIST (src/kernel/sched_task.ts): every thread of a child on
      // father's list names father (copy_process gives a CLONE_THREAD child current->real_parent,
      // and this loop moves them all together), and the kernel's own
      // BUG_ON((!t->ptrace) != (rcu_access_pointer(t->parent) == father)).
      if (mem[t + TASK.real_parent] !== father) sibling_list_corrupt(LD_REPARENT_OWNER, father, t, p);
      else if ((mem[t + TASK.ptrace] === 0) !== (mem[t + TASK.parent] === father)) sibling_list_corrupt(LD_REPARENT_PTRACE, father, t, p);
      mem[t + TASK.real_parent] = reaper;
      if (mem[t + TASK.ptrace] === 0) mem[t + TASK.parent] = reaper;
      sibling_hist_add(t, SH_REPARENT, reaper);
      t = mem[t + TASK.thread_next]!;
    } while (t !== p && t !== 0);
    // If this is a threaded reparent there is no need to notify anyone anything has happened.
    if (!threaded) reparent_leader(father, p);
  }
  if (reaper !== father) children_splice_tail(father, reaper);
}

/**
 * exit_notify (kernel/exit.c) with forget_original_parent and find_child_reaper inlined, so that
 * the zap sleep can be resumed: returns 0, or SLEEP from inside zap_pid_ns_processes (tasklist_lock
 * is not held then; TASK.exit_phase = EXP_ZAP). BUG_PTRACE_DEAD_LIST keeps the dead tracees on the
 * list across zap (released only at the end, as before the fix); BUG_PLANT_REPARENT_NO_LOCK
 * reparents without tasklist_lock.
 */
function exit_notify(tsk: number): number {
  const tl = kg + G.tasklist_lock;
  const bugs = mem[kg + G.bug_switches]!;
  let reaper: number;
  if (mem[tsk + TASK.exit_phase] === EXP_ZAP) {
    // Resumed inside find_child_reaper: the namespace init is zapping its namespace.
    if (zap_pid_ns_processes(task_active_pid_ns(tsk)) === SLEEP) return SLEEP;
    write_lock_irq(tl, SITE_EXIT_NOTIFY);
    mem[tsk + TASK.exit_phase] = EXP_NOTIFY;
    reaper = tsk;
  } else {
    mem[tsk + TASK.exit_dead] = 0;
    write_lock_irq(tl, SITE_EXIT_NOTIFY);
    // forget_original_parent
    if (mem[tsk + TASK.ptraced] !== 0) exit_ptrace(tsk);
    // find_child_reaper: "Can drop and reacquire tasklist_lock"
    const pid_ns = task_active_pid_ns(tsk);
    reaper = mem[pid_ns + PIDNS.child_reaper]!;
    if (reaper === tsk) {
      const alive = find_alive_thread(tsk);
      if (alive) {
        // 950bbabb5a80: a live thread takes over as the namespace's child_reaper
        // (BUG_CHILD_REAPER_NOT_MOVED leaves it on the exiting leader, as before that fix).
        if ((bugs & BUG_CHILD_REAPER_NOT_MOVED) === 0) mem[pid_ns + PIDNS.child_reaper] = alive;
        reaper = alive;
      } else {
        write_unlock_irq(tl);
        // Release the dead tracees first: their pids count in pid_allocated (8fb335e07837).
        if ((bugs & BUG_PTRACE_DEAD_LIST) === 0) release_dead_list(tsk);
        mem[tsk + TASK.exit_phase] = EXP_ZAP;
        if (zap_pid_ns_processes(pid_ns) === SLEEP) return SLEEP;
        write_lock_irq(tl, SITE_EXIT_NOTIFY);
        mem[tsk + TASK.exit_phase] = EXP_NOTIFY;
        reaper = tsk;
      }
    }
  }
  if (mem[tsk + TASK.children] !== 0) {
    reaper = find_new_reaper(tsk, reaper);
    if ((bugs & BUG_PLANT_REPARENT_NO_LOCK) !== 0) {
      // Planted bug: the children lists change with nobody excluded.
      write_unlock_irq(tl);
      sched_hook(SITE_EXIT_REPARENT);
      reparent_children(tsk, reaper);
      sched_hook(SITE_EXIT_REPARENT);
      write_lock_irq(tl, SITE_EXIT_NOTIFY);
    } else if ((bugs & BUG_PLANT_REPARENT_READ_LOCK) !== 0) {
      // Planted bug: the lock in the wrong mode; readers exclude writers, not each other.
      write_unlock_irq(tl);
      read_lock(tl, SITE_EXIT_NOTIFY);
      reparent_children(tsk, reaper);
      read_unlock(tl);
      write_lock_irq(tl, SITE_EXIT_NOTIFY);
    } else {
      reparent_children(tsk, reaper);
    }
  }
  if ((mem[tsk + TASK.exit_flags]! & EXF_GROUP_DEAD) !== 0) kill_orphaned_pgrp(mem[tsk + TASK.group_leader]!, 0);
  // b191d6491be6: exit_state before do_notify_parent, whose do_notify_pidfd wakes the pollers;
  // pidfd_poll reads it without tasklist_lock.
  const late_exit_state = (bugs & BUG_PIDFD_POLL_EXIT_STATE) !== 0;
  if (!late_exit_state) mem[tsk + TASK.exit_state] = EXIT_ZOMBIE;
  let autoreap: boolean;
  if (mem[tsk + TASK.ptrace] !== 0) {
    const sig = thread_group_leader(tsk) && thread_group_empty(tsk) && !ptrace_reparented(tsk) ? mem[tsk + TASK.exit_signal]! : SIGCHLD;
    autoreap = do_notify_parent(tsk, sig);
  } else if (thread_group_leader(tsk)) {
    autoreap = thread_group_empty(tsk) && do_notify_parent(tsk, mem[tsk + TASK.exit_signal]!);
  } else {
    autoreap = true; // untraced sub-thread
  }
  if (late_exit_state) {
    // Before b191d6491be6: tsk->exit_state = autoreap ? EXIT_DEAD : EXIT_ZOMBIE, after the wake.
    sched_hook(SITE_EXIT_NOTIFY_STATE);
    mem[tsk + TASK.exit_state] = autoreap ? EXIT_DEAD : EXIT_ZOMBIE;
    if (autoreap) dead_list_add(tsk, tsk);
  } else if (autoreap) {
    mem[tsk + TASK.exit_state] = EXIT_DEAD;
    dead_list_add(tsk, tsk);
  }
  // mt-exec, de_thread() is waiting for group leader (notify_count -1, set under tasklist_lock).
  // PROPOSAL_EXEC_REAP_UNLOCKED (the 2025 RFC): it waits for every other thread to get here, and
  // the last one (the count back at 0) wakes it. Atomics: the waiter tests the count without
  // tasklist_lock, after its set_current_state.
  const sig = mem[tsk + TASK.signal]!;
  if (Atomics.load(mem, sig + SIG.notify_count) < 0) {
    if ((bugs & PROPOSAL_EXEC_REAP_UNLOCKED) === 0 || Atomics.add(mem, sig + SIG.notify_count, 1) === -1) {
      wake_up_process(mem[sig + SIG.group_exec_task]!);
    }
  }
  write_unlock_irq(tl);
  release_dead_list(tsk);
  return 0;
}

// ---- do_exit --------------------------------------------------------------------------------------

/**
 * synchronize_group_exit (kernel/exit.c): the last thread to start exiting marks the group as
 * exiting with its code (later signals are dropped, prepare_signal).
 */
function synchronize_group_exit(tsk: number, code: number): void {
  const s = mem[tsk + TASK.signal]!;
  spin_lock_irq(s + SIG.siglock);
  const q = mem[s + SIG.quick_threads]! - 1;
  mem[s + SIG.quick_threads] = q;
  if (q === 0 && (mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) === 0) {
    mem[s + SIG.flags] = SIGNAL_GROUP_EXIT;
    mem[s + SIG.group_exit_code] = code;
  }
  spin_unlock_irq(s + SIG.siglock);
}

/**
 * exit_signals (kernel/signal.c): PF_EXITING, so group-wide signals and group stops stop choosing
 * this thread (under siglock unless the task is alone or the group is exiting anyway); its share
 * of the shared pending signals goes to another thread, and a group stop it owed completes without
 * it (the parent is told if it was the last).
 */
function exit_signals(tsk: number): number {
  // @tsk is about to have PF_EXITING set - lock out users which expect stable threadgroup.
  if (cgroup_threadgroup_change_begin(SITE_EXIT_SIGNALS) === SLEEP) return SLEEP;
  const s = mem[tsk + TASK.signal]!;
  if (thread_group_empty(tsk) || (mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) !== 0) {
    mem[tsk + TASK.flags] = mem[tsk + TASK.flags]! | PF_EXITING;
    cgroup_threadgroup_change_end();
    return 0;
  }
  spin_lock_irq(s + SIG.siglock);
  mem[tsk + TASK.flags] = mem[tsk + TASK.flags]! | PF_EXITING;
  cgroup_threadgroup_change_end();
  let group_stop = 0;
  if (signal_pending(tsk)) {
    retarget_shared_pending(tsk, ~mem[tsk + TASK.blocked]!);
    if ((mem[tsk + TASK.jobctl]! & JOBCTL_STOP_PENDING) !== 0 && task_participate_group_stop(tsk)) group_stop = CLD_STOPPED;
  }
  spin_unlock_irq(s + SIG.siglock);
  // If group stop has completed, deliver the notification (to the real parent of the leader).
  if (group_stop) {
    read_lock(kg + G.tasklist_lock);
    do_notify_parent_cldstop(tsk, group_stop);
    read_unlock(kg + G.tasklist_lock);
  }
  return 0;
}

/**
 * do_exit (kernel/exit.c). Returns EXITED when the task is dead (it never runs again; the CPU
 * calls process_task_dead), or SLEEP while exit_signals or zap_pid_ns_processes waits (call
 * again: any argument, the code was saved in TASK.exit_code).
 */
export function do_exit(code: number): number {
  const tsk = current;
  let phase = mem[tsk + TASK.exit_phase]!;
  if (phase === EXP_NONE) {
    sched_hook(SITE_EXIT_START);
    synchronize_group_exit(tsk, code);
    mem[tsk + TASK.exit_code] = code;
    phase = EXP_SIGNALS;
    mem[tsk + TASK.exit_phase] = phase;
  }
  if (phase === EXP_SIGNALS) {
    if (exit_signals(tsk) === SLEEP) return SLEEP; // sets PF_EXITING
    code = mem[tsk + TASK.exit_code]!;
    const s = mem[tsk + TASK.signal]!;
    const group_dead = Atomics.sub(mem, s + SIG.live, 1) === 1;
    if (group_dead && same_thread_group(tsk, init_task())) {
      const gc = mem[s + SIG.group_exit_code]! || code;
      throw new KernelPanic(`Attempted to kill init! exitcode=0x${(gc >>> 0).toString(16).padStart(8, '0')}`);
    }
    mem[tsk + TASK.exit_flags] = group_dead ? EXF_GROUP_DEAD : 0;
    mem[tsk + TASK.exit_code] = code;
    exit_files(tsk);
    exit_task_namespaces(tsk);
    exit_tasks_rcu_start();
    phase = EXP_NOTIFY;
    // exit_task_work: the work list closes (task_work_run's cmpxchg of task->task_works to
    // &work_exited). A plain store: task_work_add_signal's marked load from another task needs an
    // untorn value only (an aligned word store is one), and it reads nothing else that this store
    // would have to order; KCSAN's rules treat such a plain write against a marked read as no race.
    mem[tsk + TASK.exit_phase] = phase;
  }
  if (phase === EXP_NOTIFY || phase === EXP_ZAP) {
    if (exit_notify(tsk) === SLEEP) return SLEEP;
    mem[tsk + TASK.exit_phase] = EXP_DEAD;
  }
  exit_tasks_rcu_finish();
  // do_task_dead: the last state; try_to_wake_up never touches a TASK_DEAD task.
  Atomics.store(mem, tsk + TASK.state, TASK_DEAD);
  return EXITED;
}

/**
 * do_group_exit (kernel/exit.c): take the whole thread group down (SIGNAL_GROUP_EXIT, SIGKILL to
 * the other threads), then do_exit. A restarted call inside do_exit goes straight back there.
 */
export function do_group_exit(exit_code: number): number {
  const t = current;
  if (mem[t + TASK.exit_phase] !== EXP_NONE) return do_exit(0);
  const s = mem[t + TASK.signal]!;
  // The first looks, before the siglock, are plain in kernel/exit.c (`if (sig->flags &
  // SIGNAL_GROUP_EXIT) ... else if (sig->group_exec_task)`, read with find_string): races on
  // purpose with senders that set them under the siglock (data_race; a 10-minute checked free
  // run reported the flags read, session 13). A stale "no" is looked at again under the lock.
  if ((data_race(mem[s + SIG.flags]!) & SIGNAL_GROUP_EXIT) !== 0) {
    exit_code = mem[s + SIG.group_exit_code]!;
  } else if (data_race(mem[s + SIG.group_exec_task]) !== 0) {
    exit_code = 0; // another thread's execve (de_thread) takes the group over
  } else if (!thread_group_empty(t)) {
    spin_lock_irq(s + SIG.siglock);
    if ((mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) !== 0) {
      // Another thread got here before we took the lock.
      exit_code = mem[s + SIG.group_exit_code]!;
    } else if (mem[s + SIG.group_exec_task] !== 0) {
      exit_code = 0;
    } else {
      mem[s + SIG.group_exit_code] = exit_code;
      mem[s + SIG.flags] = SIGNAL_GROUP_EXIT;
      zap_other_threads(t);
    }
    spin_unlock_irq(s + SIG.siglock);
  }
  return do_exit(exit_code);
}

/** exit(2): only this thread. */
export function sys_exit(code: number): number {
  if (mem[current + TASK.exit_phase] !== EXP_NONE) return do_exit(0);
  return do_exit((code & 0xff) << 8);
}

/** exit_group(2). */
export function sys_exit_group(code: number): number {
  return do_group_exit((code & 0xff) << 8);
}

// ---- do_wait --------------------------------------------------------------------------------------

/** wait_task_zombie reaped a child with no pid in the waiter's namespace (above PID_MAX_LIMIT). */
const REAPED_NO_PID = 0x40000000;

// struct wait_opts of the call in progress: one do_wait runs at a time on a CPU (it never yields
// between its scan and its return), so module state is per CPU and needs no allocation. A wait that
// sleeps on a page fault in its copy-out (wait_copyout) keeps what it still has to do in its
// restart block instead, and its re-entered call sets these again from the same arguments.
let wo_type = PIDTYPE_MAX;
let wo_pid = 0;
let wo_flags = 0;
/** wo->wo_info != NULL: waitid fills current's TASK.wait_si_* record; wait4 (wo_info NULL) does not. */
let wo_info = false;
let notask_error = 0;
/** The last scan's wait_wakers_gone: -1, or the EXIT_DEAD children and tracees of a group with nothing else to wait for. */
let wo_no_waker = -1;
/** signal->chld_events as the last scan (__do_wait) read it under tasklist_lock. */
let wo_events = 0;
/** The last scan's stop_report_pending finding: a child whose stop report it passed over, or 0. */
let wo_lost_stop = 0;
/**
 * wo->wo_stat / wo->wo_info point to user memory: the report is copied out with put_user, which
 * may fault (wait_copyout). False for the kernel's own kernel_wait4 (zap_pid_ns_processes passes
 * NULL for both); the report then still goes to TASK.last_status, with no copy.
 */
let wo_user = false;

/** TASK.restart_phase of a wait asleep on a page fault in its copy-out (wait_copyout). */
const WAIT_PHASE_COPYOUT = 0x100;
/** TASK.restart slots of that sleep: the report, and the zombie still to finish (0: none). */
const WR_PIDNR = 0;
const WR_WORD = 1; // wait4's status word
const WR_WHY = 2; // waitid's si_code
const WR_STATUS = 3; // waitid's si_status
const WR_ZOMBIE = 4; // wait_task_zombie's p, claimed (EXIT_DEAD or EXIT_TRACE): nobody else reaps it
const WR_STATE = 5; // its exit_state as claimed
const WR_TRACED = 6; // 1: a traced zombie the tracer hands back to its real parent after the copy

/**
 * The kernel_siginfo_t of a waitid report (kernel/exit.c wait_task_zombie's out_info,
 * wait_task_stopped, wait_task_continued): si_code, si_status and si_pid into current's
 * TASK.wait_si_* record. si_signo is set by kernel_waitid, only for a positive return.
 */
function wait_fill_info(why: number, status: number, pidnr: number): void {
  const me = current;
  mem[me + TASK.wait_si_code] = why;
  mem[me + TASK.wait_si_status] = status;
  mem[me + TASK.wait_si_pid] = pidnr;
}

/** eligible_pid / eligible_child (kernel/exit.c). */
function eligible_child(ptrace: boolean, p: number): boolean {
  if (wo_type === PIDTYPE_PGID) {
    const leader = mem[p + TASK.group_leader]!;
    if (mem[leader + TASK.pgrp] !== wo_pid) return false;
  } else if (wo_type === PIDTYPE_PID || wo_type === PIDTYPE_TGID) {
    const pp = wo_type === PIDTYPE_PID ? mem[p + TASK.pid]! : mem[p + TASK.tgid_pid]!;
    if (pp !== wo_pid) return false;
  }
  if (ptrace || (wo_flags & __WALL) !== 0) return true;
  // Wait for all children (clone and not) if __WALL is set, otherwise wait for clone children
  // *only* if __WCLONE is set, otherwise wait for non-clone children *only*.
  if ((mem[p + TASK.exit_signal] !== SIGCHLD) !== ((wo_flags & __WCLONE) !== 0)) return false;
  return true;
}

/**
 * wait_task_zombie (kernel/exit.c): claim the zombie (cmpxchg ZOMBIE -> DEAD, or -> TRACE when a
 * tracer reaps a child that someone else will reap after it), drop tasklist_lock, record the
 * status, and release it (or hand it back to its real parent after the tracer saw it).
 * Returns the pid number (> 0, tasklist_lock dropped), or 0 when someone else got it. The kernel
 * returns task_pid_vnr(p), 0 for a child the waiter cannot see; the scan's "nonzero: the lock was
 * dropped, return" contract needs a nonzero value, so that case is REAPED_NO_PID, which
 * kernel_wait4 turns into the kernel's 0.
 */
function wait_task_zombie(p: number): number {
  if ((wo_flags & WEXITED) === 0) return 0;
  const me = current;
  const pidnr = pid_nr_ns_fast(mem[p + TASK.pid]!, task_active_pid_ns(me));
  if ((wo_flags & WNOWAIT) !== 0) {
    // waitid(WNOWAIT): report the zombie and leave it to be waited for again.
    const s = mem[p + TASK.signal]!;
    const status = (mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) !== 0 ? mem[s + SIG.group_exit_code]! : mem[p + TASK.exit_code]!;
    read_unlock(kg + G.tasklist_lock);
    // wait_noreap_copyout: the report is copied out (may fault; p is not looked at again).
    return wait_copyout(pidnr, status, zombie_why(status), zombie_status(status), 0, 0, false);
  }
  const traced = ptrace_reparented(p) && thread_group_leader(p);
  // abd50b39e783: a traced zombie the real parent will still reap goes to EXIT_TRACE, which
  // wait_consider_task tells apart from the final EXIT_DEAD. Before it (BUG_WAIT_DEAD_TO_ZOMBIE)
  // it went to EXIT_DEAD too, and came back to EXIT_ZOMBIE below: the real parent's do_wait
  // meanwhile skips it as dead ("dead body doesn't have much to contribute") and may see ECHILD.
  const dead_to_zombie = (mem[kg + G.bug_switches]! & BUG_WAIT_DEAD_TO_ZOMBIE) !== 0;
  let state = traced && !dead_to_zombie ? EXIT_TRACE : EXIT_DEAD;
  if (Atomics.compareExchange(mem, p + TASK.exit_state, EXIT_ZOMBIE, state) !== EXIT_ZOMBIE) return 0;
  // We own this thread, nobody else can reap it.
  read_unlock(kg + G.tasklist_lock);
  sched_hook(SITE_WAIT_REAP);
  const s = mem[p + TASK.signal]!;
  // The zombie is ours (the cmpxchg above): its exit code is read once, after tasklist_lock.
  const status = (mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) !== 0 ? mem[s + SIG.group_exit_code]! : Atomics.load(mem, p + TASK.exit_code);
  // The copy-out (getrusage and the put_user()s of wo_stat and the siginfo fields, kernel/exit.c
  // as of 3.16) runs here, inside the claim: a fault sleeps with p still EXIT_DEAD / EXIT_TRACE.
  return wait_copyout(pidnr, status, zombie_why(status), zombie_status(status), p, state, traced);
}

/**
 * The rest of wait_task_zombie after its copy-out: a traced zombie goes back to its real parent
 * (EXIT_TRACE, or EXIT_DEAD before abd50b39e783) or is released.
 */
function wait_task_zombie_finish(p: number, state: number, traced: boolean): void {
  if (traced) {
    const tl = kg + G.tasklist_lock;
    write_lock_irq(tl, SITE_WAIT_REAP);
    // We dropped tasklist, ptracer could die and untrace.
    if (mem[p + TASK.ptrace] !== 0) __ptrace_unlink(p);
    // If parent wants a zombie, don't release it now.
    state = EXIT_ZOMBIE;
    if (do_notify_parent(p, mem[p + TASK.exit_signal]!)) state = EXIT_DEAD;
    mem[p + TASK.exit_state] = state;
    write_unlock_irq(tl);
  }
  if (state === EXIT_DEAD) release_task(p);
}

/** wait_task_zombie's out_info: a wait status word's si_code ... */
function zombie_why(status: number): number {
  return (status & 0x7f) === 0 ? CLD_EXITED : (status & 0x80) !== 0 ? CLD_DUMPED : CLD_KILLED;
}

/** ... and si_status. */
function zombie_status(status: number): number {
  return (status & 0x7f) === 0 ? status >> 8 : status & 0x7f;
}

/**
 * The copy-out of a wait report to the waiter's user memory (kernel/exit.c as of 3.16:
 * wait_task_zombie's, wait_task_stopped's, wait_task_continued's and wait_noreap_copyout's
 * put_user()s of wo_stat and the siginfo fields, after tasklist_lock was dropped), then the rest
 * of wait_task_zombie for a zombie p it claimed. `word` is wait4's status word, `why`/`status`
 * waitid's si_code/si_status. The copies may fault (src/mm/uaccess.ts): then the task sleeps in
 * the middle of the report with everything kept in its restart block, and wait_copyout_resume
 * finishes it when the re-entered call runs. Returns the pid number (or REAPED_NO_PID), or SLEEP.
 * (Later kernels copy after do_wait returns, outside the claim - kernel_wait4's `if (ret > 0 &&
 * stat_addr && put_user(wo.wo_stat, stat_addr))`; the catalog's entry 14 is of the 3.x code, where
 * the copies run inside it.)
 */
function wait_copyout(pidnr: number, word: number, why: number, status: number, p: number, state: number, traced: boolean): number {
  if (wo_user && user_page_fault()) {
    const r = current + TASK.restart;
    mem[r + WR_PIDNR] = pidnr;
    mem[r + WR_WORD] = word;
    mem[r + WR_WHY] = why;
    mem[r + WR_STATUS] = status;
    mem[r + WR_ZOMBIE] = p;
    mem[r + WR_STATE] = state;
    mem[r + WR_TRACED] = traced ? 1 : 0;
    mem[current + TASK.restart_phase] = WAIT_PHASE_COPYOUT;
    return SLEEP;
  }
  return wait_copyout_finish(pidnr, word, why, status, p, state, traced);
}

/** __put_user of the report (the page is present), then the zombie's rest. */
function wait_copyout_finish(pidnr: number, word: number, why: number, status: number, p: number, state: number, traced: boolean): number {
  if (!wo_info) mem[current + TASK.last_status] = word;
  else wait_fill_info(why, status, pidnr);
  if (p) wait_task_zombie_finish(p, state, traced);
  return pidnr > 0 ? pidnr : REAPED_NO_PID;
}

/** A wait that slept on a page fault in wait_copyout runs again: finish the copy-out. */
function wait_copyout_resume(): number {
  const me = current;
  const r = me + TASK.restart;
  mem[me + TASK.restart_phase] = 0;
  const p = mem[r + WR_ZOMBIE]!;
  mem[r + WR_ZOMBIE] = 0;
  return wait_copyout_finish(mem[r + WR_PIDNR]!, mem[r + WR_WORD]!, mem[r + WR_WHY]!, mem[r + WR_STATUS]!, p, mem[r + WR_STATE]!, mem[r + WR_TRACED] !== 0);
}

/**
 * task_stopped_code (kernel/exit.c): where the stop's exit code lives, or 0. For the tracer
 * (ptrace), a tracee in a ptrace stop (JOBCTL_TRACED): its own ->exit_code; for the real parent, a
 * group in SIGNAL_STOP_STOPPED: signal->group_exit_code.
 */
function task_stopped_code(p: number, ptrace: boolean): number {
  if (ptrace) return (mem[p + TASK.jobctl]! & JOBCTL_TRACED) !== 0 ? p + TASK.exit_code : 0;
  const s = mem[p + TASK.signal]!;
  return (mem[s + SIG.flags]! & SIGNAL_STOP_STOPPED) !== 0 ? s + SIG.group_exit_code : 0;
}

/**
 * wait_task_stopped's first task_stopped_code, before the siglock: the kernel reads ->jobctl and
 * signal->flags there plainly while the stopping task and senders (complete_signal, do_signal_stop,
 * task_clear_jobctl_pending) write them under the siglock - a race on purpose (data_race): a stale
 * "stopped" costs the locked look that follows, which decides; a stale "not stopped" is a stop
 * that completes after this look, and its do_notify_parent_cldstop wakes the waiter (queued on
 * wait_chldexit before the scan) to look again. (`if (!task_stopped_code(p, ptrace)) return 0;`
 * before `spin_lock_irq(&p->sighand->siglock)`: kernel/exit.c, read with find_string, session 13.)
 */
function task_stopped_code_racy(p: number, ptrace: boolean): boolean {
  if (ptrace) return (data_race(mem[p + TASK.jobctl]!) & JOBCTL_TRACED) !== 0;
  return (data_race(mem[mem[p + TASK.signal]! + SIG.flags]!) & SIGNAL_STOP_STOPPED) !== 0;
}

/**
 * wait_task_stopped (kernel/exit.c): a stop not yet reported (WUNTRACED for the real parent; always
 * for the tracer) is reported once ((code << 8) | 0x7f; CLD_STOPPED, or CLD_TRAPPED for a ptrace
 * stop), the code consumed under the siglock unless WNOWAIT. Drops tasklist_lock and returns the
 * pid (or REAPED_NO_PID), or 0.
 */
function wait_task_stopped(ptrace: boolean, p: number): number {
  if (!ptrace && (wo_flags & WUNTRACED) === 0) return 0;
  if (!task_stopped_code_racy(p, ptrace)) return 0;
  const sh = mem[p + TASK.sighand]!;
  if (!sh) return 0;
  let exit_code = 0;
  spin_lock_irq(sh + SIG.siglock);
  // Re-read under the siglock: the stop may have ended since the unlocked look above.
  const p_code = task_stopped_code(p, ptrace);
  if (p_code) {
    exit_code = mem[p_code]!;
    if (exit_code && (wo_flags & WNOWAIT) === 0) mem[p_code] = 0;
  }
  spin_unlock_irq(sh + SIG.siglock);
  if (!exit_code) return 0;
  const pidnr = pid_nr_ns_fast(mem[p + TASK.pid]!, task_active_pid_ns(current));
  read_unlock(kg + G.tasklist_lock);
  return wait_copyout(pidnr, (exit_code << 8) | 0x7f, ptrace ? CLD_TRAPPED : CLD_STOPPED, exit_code, 0, 0, false);
}

/**
 * wait_task_continued (kernel/exit.c) (WCONTINUED): SIGNAL_STOP_CONTINUED is reported once
 * (status 0xffff) and cleared under the siglock unless WNOWAIT. Drops tasklist_lock and returns
 * the pid (or REAPED_NO_PID), or 0.
 */
function wait_task_continued(p: number): number {
  if ((wo_flags & WCONTINUED) === 0) return 0;
  const s = mem[p + TASK.signal]!;
  if ((mem[s + SIG.flags]! & SIGNAL_STOP_CONTINUED) === 0) return 0;
  const sh = mem[p + TASK.sighand]!;
  if (!sh) return 0;
  spin_lock_irq(sh + SIG.siglock);
  // Re-check with the lock held.
  if ((mem[s + SIG.flags]! & SIGNAL_STOP_CONTINUED) === 0) {
    spin_unlock_irq(sh + SIG.siglock);
    return 0;
  }
  if ((wo_flags & WNOWAIT) === 0) mem[s + SIG.flags] = mem[s + SIG.flags]! & ~SIGNAL_STOP_CONTINUED;
  spin_unlock_irq(sh + SIG.siglock);
  const pidnr = pid_nr_ns_fast(mem[p + TASK.pid]!, task_active_pid_ns(current));
  read_unlock(kg + G.tasklist_lock);
  return wait_copyout(pidnr, 0xffff, CLD_CONTINUED, SIGCONT, 0, 0, false);
}

/**
 * wait_consider_task (kernel/exit.c): zombies, then stopped, then continued children.
 *
 * We can race with wait_task_zombie() from another thread of the caller's group: both scan under
 * read_lock(tasklist_lock), and the other one's cmpxchg may turn the zombie into EXIT_DEAD (or
 * EXIT_TRACE) between our checks. 3245d6acab98 reads ->exit_state once, so the EXIT_ZOMBIE ->
 * EXIT_DEAD/EXIT_TRACE transition cannot confuse the checks below. Before it
 * (BUG_WAIT_CONSIDER_RELOAD) each check reloaded p->exit_state after security_task_wait(): a
 * zombie seen as not dead at the top and as EXIT_DEAD at "slay zombie?" falls through to the
 * live-child case, which clears ->notask_error - and do_wait() sleeps for a child that is gone,
 * for ever if it was the last eligible one (nobody wakes the group for a reap).
 */
function wait_consider_task(ptrace: boolean, p: number): number {
  const reload = (mem[kg + G.bug_switches]! & BUG_WAIT_CONSIDER_RELOAD) !== 0;
  let exit_state = Atomics.load(mem, p + TASK.exit_state);
  if (exit_state === EXIT_DEAD) return 0;
  if (!eligible_child(ptrace, p)) return 0;
  // security_task_wait(p) (an LSM hook; the model has no LSM): another CPU's wait_task_zombie may
  // claim the zombie meanwhile. The window is offered in both variants; only the reload differs.
  if (exit_state === EXIT_ZOMBIE) sched_hook(SITE_WAIT_CONSIDER);
  if (reload) exit_state = Atomics.load(mem, p + TASK.exit_state);
  if (exit_state === EXIT_TRACE) {
    // ptrace == 0 means we are the natural parent: the tracer will hand the zombie back.
    if (!ptrace) notask_error = 0;
    return 0;
  }
  if (!ptrace && mem[p + TASK.ptrace] !== 0) {
    // If it is traced by its real parent's group, just pretend the caller is ptrace_do_wait().
    if (!ptrace_reparented(p)) ptrace = true;
  }
  // slay zombie? (the buggy code read p->exit_state once more here)
  if (reload) exit_state = Atomics.load(mem, p + TASK.exit_state);
  if (exit_state === EXIT_ZOMBIE) {
    // Before 7c733eb3eac0 (BUG_WAIT_ZOMBIE_LEADER_TRACED) "a zombie ptracee is only visible to its
    // ptracer" came first, for any zombie: the real parent of a process whose zombie leader is
    // traced by another task never reached wait_task_stopped / wait_task_continued, although
    // the process can still stop and continue (its other threads).
    if ((mem[kg + G.bug_switches]! & BUG_WAIT_ZOMBIE_LEADER_TRACED) !== 0 && !ptrace && mem[p + TASK.ptrace] !== 0) {
      // it will become visible, clear notask_error
      notask_error = 0;
      return 0;
    }
    // We don't reap group leaders with subthreads.
    if (!delay_group_leader(p)) {
      // A zombie ptracee is only visible to its ptracer.
      if (ptrace || mem[p + TASK.ptrace] === 0) return wait_task_zombie(p);
    }
    if (!ptrace || (wo_flags & (WCONTINUED | WEXITED)) !== 0) notask_error = 0;
  } else {
    // @p is alive and it's gonna stop, continue or exit, so there always is something to wait for.
    notask_error = 0;
  }
  // Wait for stopped. Depending on @ptrace, different stopped state is used.
  const r = wait_task_stopped(ptrace, p);
  if (r) return r;
  // Wait for continued. There's only one continued state and the ptracer can consume it which can
  // confuse the real parent. Don't use it for now.
  return wait_task_continued(p);
}

/** do_wait_thread: tsk's children. */
function do_wait_thread(tsk: number): number {
  for (let p = mem[tsk + TASK.children]!; p !== 0; p = mem[p + TASK.sibling_next]!) {
    const r = wait_consider_child(p);
    if (r) return r;
  }
  return 0;
}

/**
 * wait_consider_task(false, p) for a child, with the model's lost-report check around it: a stop
 * of p's group there for the whole look (stop_report_pending, the same stop before and after)
 * that the look did not report is remembered for wait_sleep. Only the first one a scan finds.
 */
function wait_consider_child(p: number): number {
  const before = wo_lost_stop === 0 ? stop_report_pending(p) : 0;
  const r = wait_consider_task(false, p);
  if (r === 0 && before !== 0 && stop_report_pending(p) === before) wo_lost_stop = p;
  return r;
}

/**
 * The model's lost-report check (a hang at its start, as wait_wakers_gone's): a stop of child p's
 * group that the caller's wait asked for (WUNTRACED) and that wait_consider_task must report to
 * the real parent, as a nonzero identity of that stop (its stop_seq + 1), or 0. Read before and
 * after the scan's look at p: the same nonzero value both times means one stop, not yet reported
 * (group_exit_code not consumed), was there for the whole look, and wait_task_stopped(ptrace=0)
 * would have reported it. Not when wait_consider_task never gets that far on Linux: p not
 * eligible (pid, pgrp, __WCLONE/__WALL), EXIT_DEAD or EXIT_TRACE (its tracer hands it back), a
 * zombie it goes to reap instead (wait_task_zombie returns without looking at stops: no
 * delay_group_leader and not traced), or p traced by the caller's own group ("This also hides
 * group stop state from real parent": the tracer's view, JOBCTL_TRACED, is the one used).
 * Under the scan's read_lock(tasklist_lock): p's children-list place, ptrace link and threads do
 * not change; its exit_state, stop flags, code and count are read with Atomics. The count is read
 * before and after the flags, as a seqcount reader does (task_participate_group_stop moves it
 * before it sets SIGNAL_STOP_STOPPED): a flag set by a stop that began between the two reads
 * shows as a count that moved, and such a read names no stop.
 */
function stop_report_pending(p: number): number {
  if ((wo_flags & WUNTRACED) === 0 || !eligible_child(false, p)) return 0;
  const es = Atomics.load(mem, p + TASK.exit_state);
  const traced = mem[p + TASK.ptrace] !== 0;
  if (traced && !ptrace_reparented(p)) return 0;
  if (es !== 0 && (es !== EXIT_ZOMBIE || (!delay_group_leader(p) && !traced))) return 0;
  const s = mem[p + TASK.signal]!;
  if (!s) return 0;
  const seq = Atomics.load(mem, s + SIG.stop_seq);
  if ((Atomics.load(mem, s + SIG.flags) & SIGNAL_STOP_STOPPED) === 0 || Atomics.load(mem, s + SIG.group_exit_code) === 0) return 0;
  return Atomics.load(mem, s + SIG.stop_seq) === seq ? seq + 1 : 0;
}

/** ptrace_do_wait: tsk's tracees. */
function ptrace_do_wait(tsk: number): number {
  for (let p = mem[tsk + TASK.ptraced]!; p !== 0; p = mem[p + TASK.ptrace_next]!) {
    const r = wait_consider_task(true, p);
    if (r) return r;
  }
  return 0;
}

/** is_effectively_child (kernel/exit.c). */
function is_effectively_child(ptrace: boolean, target: number): boolean {
  const parent = ptrace ? mem[target + TASK.parent]! : mem[target + TASK.real_parent]!;
  return current === parent || ((wo_flags & __WNOTHREAD) === 0 && same_thread_group(current, parent));
}

/** do_wait_pid (kernel/exit.c): waitpid(pid > 0) looks at one task only. */
function do_wait_pid(): number {
  let target = Atomics.load(mem, wo_pid + PID.task_tgid);
  if (target && is_effectively_child(false, target)) {
    const r = wait_consider_child(target);
    if (r) return r;
  }
  target = Atomics.load(mem, wo_pid + PID.task_pid);
  if (target && mem[target + TASK.ptrace] !== 0 && is_effectively_child(true, target)) {
    const r = wait_consider_task(true, target);
    if (r) return r;
  }
  return 0;
}

/**
 * __do_wait (kernel/exit.c): one scan. Returns a reaped pid (tasklist_lock already dropped by
 * wait_task_zombie), 0 (WNOHANG, nothing yet), -ECHILD, or -ERESTARTSYS ("sleep and retry").
 */
function __do_wait(): number {
  notask_error = -ECHILD;
  wo_no_waker = -1;
  wo_lost_stop = 0;
  if (wo_type < PIDTYPE_MAX && (!wo_pid || (wo_type === PIDTYPE_PID && Atomics.load(mem, wo_pid + PID.task_pid) === 0 && Atomics.load(mem, wo_pid + PID.task_tgid) === 0))) {
    return notask_error;
  }
  const tl = kg + G.tasklist_lock;
  read_lock(tl, SITE_WAIT_SCAN);
  const me = current;
  // Child events seen by this scan: every change that can end a wait (a zombie to reap, a traced
  // zombie handed back, ...) happens under tasklist_lock (write) and counts itself in
  // __wake_up_parent, so an unchanged count means this scan's -ERESTARTSYS still holds.
  wo_events = Atomics.load(mem, mem[me + TASK.signal]! + SIG.chld_events);
  if (wo_type === PIDTYPE_PID) {
    const r = do_wait_pid();
    if (r) return r;
  } else {
    let tsk = me;
    do {
      let r = do_wait_thread(tsk);
      if (r) return r;
      if (mem[tsk + TASK.ptraced] !== 0) {
        r = ptrace_do_wait(tsk);
        if (r) return r;
      }
      if ((wo_flags & __WNOTHREAD) !== 0) break;
      tsk = mem[tsk + TASK.thread_next]!;
    } while (tsk !== me && tsk !== 0);
  }
  wo_no_waker = notask_error === 0 && (wo_flags & WNOHANG) === 0 ? wait_wakers_gone(me) : -1;
  read_unlock(tl);
  if (notask_error === 0 && (wo_flags & WNOHANG) === 0) return -ERESTARTSYS;
  return notask_error;
}

/**
 * What the scan's answer "sleep" (notask_error 0) can count on: -1 when the caller's group still
 * has a child or tracee that can end the wait, else the number of EXIT_DEAD ones it has.
 *
 * The model's hung-task check, made as do_wait commits to its sleep (the kernel's khungtaskd
 * names a task only after hung_task_timeout_secs, and never one in an interruptible sleep). It
 * runs under the scan's read_lock(tasklist_lock): no child or tracee can be added or released
 * meanwhile (both take the lock for write); only another waiter's cmpxchg can turn a zombie
 * into EXIT_DEAD or EXIT_TRACE. Every case in which wait_consider_task clears notask_error names a
 * task that is still there under the lock and can still wake the group's waiters: one alive (its
 * exit_notify wakes the parent), a zombie leader with threads (the last one's release notifies
 * the parent), a zombie traced by another process (EXIT_TRACE: its tracer hands it back with
 * do_notify_parent). None of them is EXIT_DEAD, a task its reaper is releasing, which wakes
 * nobody. So a group whose every child and tracee is EXIT_DEAD has nothing left that can end the
 * wait but a signal: the wait-for graph's "blocked, no waker" (src/detect/waitfor.ts), found at the
 * start of the sleep instead of when the whole machine has stopped. With __WNOTHREAD only the
 * caller's own children wake it (child_wait_callback). Before 3245d6acab98
 * (BUG_WAIT_CONSIDER_RELOAD) a zombie that another thread claimed between the checks cleared
 * notask_error: this is where that hang is named, in catalog entry 18 and in plain stress (its
 * wait-threads operation, src/stress/kernel_ops.ts).
 */
function wait_wakers_gone(me: number): number {
  let dead = 0;
  let tsk = me;
  do {
    for (let p = mem[tsk + TASK.children]!; p !== 0; p = mem[p + TASK.sibling_next]!) {
      if (Atomics.load(mem, p + TASK.exit_state) !== EXIT_DEAD) return -1;
      dead++;
    }
    for (let p = mem[tsk + TASK.ptraced]!; p !== 0; p = mem[p + TASK.ptrace_next]!) {
      if (Atomics.load(mem, p + TASK.exit_state) !== EXIT_DEAD) return -1;
      dead++;
    }
    if ((wo_flags & __WNOTHREAD) !== 0) break;
    tsk = mem[tsk + TASK.thread_next]!;
  } while (tsk !== me && tsk !== 0);
  return dead;
}

/**
 * do_wait is about to sleep: a sleep the last scan found nothing to wake is a hung task; one whose
 * scan passed over a stop it asked for is a lost wake-up (a scan that passes over a stop there for
 * its whole look does so each time the waiter is woken, and the stop's one notification is not
 * repeated: the waiter sleeps until the stop ends some other way, for good if nobody ends it -
 * before 7c733eb3eac0, BUG_WAIT_ZOMBIE_LEADER_TRACED, the real parent of a process whose zombie
 * leader another task traces: catalog entry 21).
 */
function wait_sleep(me: number): number {
  if (wo_no_waker >= 0) record_violation(V_HUNG_TASK, me, WCHAN_WAIT4, wo_no_waker);
  else if (wo_lost_stop !== 0) record_violation(V_LOST_WAKEUP, me, WCHAN_WAIT4, wo_lost_stop);
  return SLEEP;
}

/**
 * do_wait (kernel/exit.c). The kernel queues on signal->wait_chldexit, sets TASK_INTERRUPTIBLE and
 * then scans. Here a first scan runs without queueing (the common case finds its zombie or its
 * ECHILD at once; a resumed call is still queued from its sleep and dequeues when it returns);
 * only a scan that would sleep queues the caller in TASK_INTERRUPTIBLE afterwards, and whatever
 * happened to the children between that scan and the queueing is caught by signal->chld_events:
 * every waker (__wake_up_parent, under tasklist_lock for write) counts itself before it looks at
 * the queue, so either the count moved (scan again, as the kernel's scan after queueing would) or
 * the waker finds us queued. A child that disappears without a wake-up (another thread reaped it)
 * leaves the sleeper asleep, as in the kernel when that happens after its scan.
 */
function do_wait(): number {
  const me = current;
  const wq = mem[me + TASK.signal]! + SIG.wait_chldexit;
  let r = __do_wait();
  if (r !== -ERESTARTSYS || signal_pending(me)) {
    // A restarted call that was woken by something other than a child event (a signal, or
    // free_pid's wake_up_process of a namespace's reaper) is still queued: the kernel's do_wait
    // always ends in remove_wait_queue. Leaving the entry would keep this task linked on the
    // queue after it returns, exits and is freed.
    if (mem[me + TASK.wq_head] === wq) finish_wait(wq);
    return r;
  }
  const target = wo_type === PIDTYPE_PID && wo_pid ? Atomics.load(mem, wo_pid + PID.task_pid) : 0;
  prepare_to_wait(wq, TASK_INTERRUPTIBLE, WCHAN_WAIT4, target, wo_type === PIDTYPE_MAX ? -1 : 0);
  // Queued: a child event from now on wakes us. One since the scan (the count moved) may have
  // missed us: scan again; none (the common case) and the scan's answer stands.
  const events = Atomics.load(mem, mem[me + TASK.signal]! + SIG.chld_events);
  if (events === wo_events && !signal_pending(me)) return wait_sleep(me);
  r = __do_wait();
  if (r !== -ERESTARTSYS || signal_pending(me)) {
    finish_wait(wq);
    return r;
  }
  return wait_sleep(me);
}

/**
 * kernel_wait4 (kernel/exit.c) without the user status pointer: the status word of a reaped child
 * goes to current's TASK.last_status. `upid`: > 0 that process, 0 the caller's process group,
 * -1 any child, < -1 process group -upid. Returns the reaped pid, 0 (WNOHANG), -errno or SLEEP.
 * (Also callable as kernel_wait4(upid, stat_addr, options, ru): the stat/rusage words are ignored.)
 */
export function kernel_wait4(upid: number, options: number, options4?: number, _ru?: number): number {
  return do_kernel_wait4(upid, options4 !== undefined ? options4 : options, false);
}

/** kernel_wait4; `user`: the status word goes to user memory (wait4(2)'s stat_addr: may fault). */
function do_kernel_wait4(upid: number, options: number, user: boolean): number {
  if ((options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)) !== 0) return -EINVAL;
  if (mem[current + TASK.restart_phase] === WAIT_PHASE_COPYOUT) {
    // Back from a page fault in the copy-out: finish it (the same call, so the same options).
    wo_flags = options | WEXITED;
    wo_info = false;
    wo_user = user;
    const r = wait_copyout_resume();
    return r === REAPED_NO_PID ? 0 : r;
  }
  // -INT_MIN is not defined.
  if (upid === -0x80000000) return -ESRCH;
  if (upid === -1) {
    wo_type = PIDTYPE_MAX;
    wo_pid = 0;
  } else {
    rcu_read_lock();
    if (upid < 0) {
      wo_type = PIDTYPE_PGID;
      wo_pid = find_vpid(-upid);
    } else if (upid === 0) {
      wo_type = PIDTYPE_PGID;
      wo_pid = mem[mem[current + TASK.group_leader]! + TASK.pgrp]!;
    } else {
      wo_type = PIDTYPE_PID;
      wo_pid = find_vpid(upid);
    }
    rcu_read_unlock();
  }
  wo_flags = options | WEXITED;
  wo_info = false;
  wo_user = user;
  const r = do_wait();
  return r === REAPED_NO_PID ? 0 : r;
}

/** include/uapi/linux/wait.h idtypes of waitid. */
export const P_ALL = 0;
export const P_PID = 1;
export const P_PGID = 2;
export const P_PIDFD = 3;
/** O_NONBLOCK (= PIDFD_NONBLOCK) in a pidfd's f_flags. */
const O_NONBLOCK = 0o4000;

/**
 * kernel_waitid (kernel/exit.c) and SYSCALL_DEFINE5(waitid) without the rusage: the siginfo goes
 * to current's TASK.wait_si_* record, which is cleared first (the syscall copies its zeroed
 * kinfo out on every return, errors included; checked on Linux 6.18). Returns 0 (a child was
 * reported: si_signo = SIGCHLD; or WNOHANG with nothing yet: si_signo = 0), -errno or SLEEP.
 * P_PGID with id 0 is the caller's process group (since Linux 5.4). P_PIDFD resolves the pidfd
 * once per call under a file reference (pidfd_get_pid); a pidfd opened O_NONBLOCK makes the call
 * WNOHANG and turns "nothing yet" into -EAGAIN.
 */
export function kernel_waitid(which: number, upid: number, options: number): number {
  const me = current;
  mem[me + TASK.wait_si_signo] = 0;
  wait_fill_info(0, 0, 0);
  if ((options & ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)) !== 0) return -EINVAL;
  if ((options & (WEXITED | WSTOPPED | WCONTINUED)) === 0) return -EINVAL;
  let file = 0;
  let f_flags = 0;
  if (mem[me + TASK.restart_phase] === WAIT_PHASE_COPYOUT) {
    // Back from a page fault in the copy-out: finish it (no new pidfd lookup: the report is made).
    wo_flags = options;
    wo_info = true;
    wo_user = true;
    return waitid_result(wait_copyout_resume());
  }
  switch (which) {
    case P_ALL:
      wo_type = PIDTYPE_MAX;
      wo_pid = 0;
      break;
    case P_PID:
      if (upid <= 0) return -EINVAL;
      wo_type = PIDTYPE_PID;
      rcu_read_lock();
      wo_pid = find_vpid(upid);
      rcu_read_unlock();
      break;
    case P_PGID:
      if (upid < 0) return -EINVAL;
      wo_type = PIDTYPE_PGID;
      rcu_read_lock();
      wo_pid = upid ? find_vpid(upid) : mem[mem[me + TASK.group_leader]! + TASK.pgrp]!;
      rcu_read_unlock();
      break;
    case P_PIDFD: {
      if (upid < 0) return -EINVAL;
      // pidfd_get_pid (kernel/pid.c): the file's reference keeps the struct pid for this call.
      file = fget(upid);
      if (!file) return -EBADF;
      const pid = pidfd_pid(file);
      if (pid < 0) {
        fput(file);
        return pid;
      }
      f_flags = mem[file + FILE.flags]!;
      wo_type = PIDTYPE_PID;
      wo_pid = pid;
      break;
    }
    default:
      return -EINVAL;
  }
  wo_flags = options;
  if ((f_flags & O_NONBLOCK) !== 0) wo_flags |= WNOHANG;
  wo_info = true;
  wo_user = true;
  let r = do_wait();
  if (file) fput(file);
  if (r === 0 && (f_flags & O_NONBLOCK) !== 0) r = -EAGAIN;
  return waitid_result(r);
}

/** SYSCALL_DEFINE5(waitid)'s return of do_wait's result r. */
function waitid_result(r: number): number {
  if (r === SLEEP) return r;
  if (r > 0) {
    // SYSCALL_DEFINE5(waitid): err > 0 -> si_signo = SIGCHLD, return 0. REAPED_NO_PID is the
    // kernel's do_wait returning 0 (pid not visible here): si_signo stays 0, like WNOHANG.
    if (r !== REAPED_NO_PID) mem[current + TASK.wait_si_signo] = SIGCHLD;
    r = 0;
  }
  return r;
}

/** waitid(2) (kernel/exit.c SYSCALL_DEFINE5(waitid)): (idtype, id, options), siginfo in TASK.wait_si_*. */
export function sys_waitid(which: number, upid: number, options: number): number {
  return kernel_waitid(which, upid, options);
}

/** wait4(2) (kernel/exit.c SYSCALL_DEFINE4(wait4)). */
export function sys_wait4(upid: number, options: number): number {
  return do_kernel_wait4(upid, options, true);
}

// ---- wiring ---------------------------------------------------------------------------------------

set_do_group_exit(do_group_exit);
set_is_current_pgrp_orphaned(is_current_pgrp_orphaned);
set_pidns_process_ops({
  kernel_wait4: (pid, options) => kernel_wait4(pid, options),
  group_send_sig_info: (sig, task) => group_send_sig_info(sig, SEND_SIG_PRIV, task, PIDTYPE_MAX),
  __fatal_signal_pending: (task) => __fatal_signal_pending(task),
  send_sig: (sig, task, priv) => send_sig(sig, task, priv !== 0),
  do_exit_from_syscall: (code) => do_exit(code),
  exit_tasks_rcu_stop,
  exit_tasks_rcu_start,
});

register_syscall(SYS_EXIT, 'exit', (code) => sys_exit(code));
register_syscall(SYS_EXIT_GROUP, 'exit_group', (code) => sys_exit_group(code));
register_syscall(SYS_WAIT4, 'wait4', (pid, options) => sys_wait4(pid, options));
register_syscall(SYS_WAITID, 'waitid', (which, upid, options) => sys_waitid(which, upid, options));
register_syscall(SYS_REBOOT, 'reboot', (cmd) => sys_reboot(cmd));

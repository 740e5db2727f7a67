/**
 * Process creation (kernel/fork.c): copy_process / kernel_clone for fork, clone and clone3
 * (set_tid), the seed-002 clone_with_pids, unshare(2) (ksys_unshare), and the init task at boot.
 *
 * copy_process is restartable: copy_namespaces may return SLEEP (copy_pid_ns ->
 * create_pid_cachep waits for pid_caches_mutex). The child record built before it stays in
 * TASK.fork_child with TASK.fork_phase = FKP_NS, so the restarted call skips the work already done.
 * cgroup_can_fork may return SLEEP too (percpu_down_read of cgroup_threadgroup_rwsem while a
 * cgroup.procs write holds or takes it): the pid allocated before it, the CLONE_PIDFD fd and the
 * exit signal read before it wait in TASK.fork_pid / fork_pidfd / fork_exit_signal with
 * TASK.fork_phase = FKP_CGROUP. Nothing is visible to other tasks until the attach under
 * tasklist_lock, which never sleeps; the read side is held from cgroup_can_fork to cgroup_post_fork.
 *
 * The fork/exit/wait fast path allocates no JS objects: plain field writes on shared memory.
 */
import { data_race } from '../lib/compiler.js';
import { cgroup_can_fork, cgroup_cancel_fork, cgroup_post_fork } from './cgroup_pids.js';
import { CLONE_ARGS, G, MAX_PID_NS_LEVEL, NSPROXY, PID, PIDNS, SIG, TASK } from '../mm/layout.js';
import { config, kg, mem, PAGE_SIZE, regions, SLAB_SIGNAL, SLAB_TASK, this_cpu_id } from '../mm/memory.js';
import { kmem_cache_alloc, kmem_cache_free, mark_live } from '../mm/slab.js';
import { LC_SIGLOCK, LC_TASK_LOCK, LC_WAITQ, lock_class_register } from '../locking/lockdep.js';
import { mutex_init } from '../locking/mutex.js';
import { spin_lock, spin_lock_init, spin_lock_irq, spin_unlock, spin_unlock_irq } from '../locking/spinlock.js';
import { read_lock, read_unlock, write_lock_irq, write_unlock_irq } from '../locking/qrwlock.js';
import { sched_hook } from '../sched/hook.js';
import {
  activate_task, current, select_task_rq, set_current, SLEEP, TASK_INTERRUPTIBLE, TASK_RUNNING, try_to_wake_up, WCHAN_PAUSE,
  TASK_NEW, WF_FORK,
} from '../sched/core.js';
import { init_waitqueue_head } from '../sched/wait.js';
import { register_boot_init } from './boot.js';
import { register_syscall } from './entry.js';
import { BUG_SETNS_FORK_NO_RECHECK, BUG_CLONE_PARENT_EXIT_SIGNAL } from '../config/bugs.js';
import { E2BIG, EAGAIN, EFAULT, EINTR, EINVAL, ENOMEM, EPERM, ERESTARTNOINTR, is_err } from './errno.js';
import { SYS_CAPSET, SYS_CLONE3, SYS_CLONE_WITH_PIDS, SYS_FORK, SYS_GETPID, SYS_GETPPID, SYS_GETTID, SYS_PRCTL, SYS_SETSID, SYS_SETUID, SYS_UNSHARE } from './unistd.js';
import {
  alloc_pid, alloc_pid_targets, copy_target_pids, free_pid, get_pid, pid_nr_ns, PIDNS_ADDING, put_pid, read_target_pid_set,
  REQ_NONE, REQ_SET_TID, REQ_TARGETS, should_fail_alloc, task_active_pid_ns,
} from './pid.js';
import { init_pid_ns } from './pid_namespace.js';
import { CAP_FULL_SET, CAP_SETFCAP, CAP_SETUID, create_user_ns, get_user_ns, init_user_ns, ns_capable, put_user_ns, set_cred_user_ns } from './user_namespace.js';
import {
  copy_namespaces, exit_task_namespaces, init_nsproxy_create, switch_task_namespaces, unshare_nsproxy_namespaces,
} from './nsproxy.js';
import { fatal_signal_pending, signal_pending, SYS_GET_SIGNAL } from './signal.js';
import { put_signal_struct } from './exit.js';
import { close_fd, copy_files, exit_files } from './nsfs.js';
import { __pidfd_prepare, PIDFD_THREAD } from './pidfd.js';
import {
  children_add_tail, SH_CLONE_THREAD, sibling_hist_add, CLONE_DETACHED, CLONE_FILES, CLONE_FS, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS,
  CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS, CLONE_PARENT, CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_SIGHAND, CLONE_SYSVSEM,
  CLONE_THREAD, CLONE_VM, CSIGNAL, init_task, is_child_reaper, ns_of_pid, SIGCHLD, SIGNAL_UNKILLABLE, tasks_add_tail,
  thread_group_empty, thread_ring_add, valid_signal,
} from './sched_task.js';

/** copy_process / unshare restart phases (TASK.fork_phase). */
export const FKP_NONE = 0;
/** The child record is built (TASK.fork_child); copy_namespaces is (re)tried. */
export const FKP_NS = 1;
/** unshare: the new user namespace (TASK.fork_child, 0 if none) exists; the nsproxy is (re)tried. */
export const FKP_UNSHARE = 2;
/** The pid is allocated (TASK.fork_pid, fork_pidfd, fork_exit_signal); cgroup_can_fork is (re)tried. */
export const FKP_CGROUP = 3;

export { TASK_NEW };

export { E2BIG } from './errno.js';

/** Scheduling-hook sites of the fork path. */
export const SITE_FORK_START = 210;
export const SITE_FORK_ATTACH = 211;
export const SITE_FORK_WAKE = 212;
export const SITE_FORK_CGROUP = 213; // copy_process: cgroup_can_fork's percpu_down_read(&cgroup_threadgroup_rwsem)

// ---- struct clone_args (include/uapi/linux/sched.h) in the program region ---------------------
// One int32 word per __aligned_u64 field; sizes are the kernel's byte sizes (8 per field).
export const CA_FLAGS = CLONE_ARGS.flags;
export const CA_PIDFD = CLONE_ARGS.pidfd;
export const CA_CHILD_TID = CLONE_ARGS.child_tid;
export const CA_PARENT_TID = CLONE_ARGS.parent_tid;
export const CA_EXIT_SIGNAL = CLONE_ARGS.exit_signal;
export const CA_STACK = CLONE_ARGS.stack;
export const CA_STACK_SIZE = CLONE_ARGS.stack_size;
export const CA_TLS = CLONE_ARGS.tls;
export const CA_SET_TID = CLONE_ARGS.set_tid;
export const CA_SET_TID_SIZE = CLONE_ARGS.set_tid_size;
export const CA_CGROUP = CLONE_ARGS.cgroup;
export const CLONE_ARGS_SIZE_VER0 = 64;
export const CLONE_ARGS_SIZE_VER1 = 80;
export const CLONE_ARGS_SIZE_VER2 = 88;

// ---- the pid request of the copy_process in progress (no per-fork allocation) ------------------
let req_mode = REQ_NONE;
let req_addr = 0;
let req_size = 0;
/**
 * Where CLONE_PIDFD returns the pidfd (kernel_clone_args.pidfd): the legacy clone's parent_tid
 * word (current's TASK.clone_parent_tid; the legacy calls always give the same address for both)
 * or clone3's args->pidfd, an address in program memory, with args->parent_tid beside it.
 */
let req_pidfd_legacy = true;
let req_pidfd_addr = 0;
let req_parent_tid_addr = 0;
const target_pids = new Int32Array(MAX_PID_NS_LEVEL + 2);

// ---- copy_process ---------------------------------------------------------------------------------

/**
 * dup_task_struct + the copies of copy_process that cannot sleep: a zeroed task record (ENOMEM
 * when the cache is empty or an allocation failure is injected), the parent's credentials
 * (copy_creds: a new user namespace for CLONE_NEWUSER), the sighand/signal record (shared for
 * CLONE_THREAD, a fresh copy otherwise: the SIGCHLD disposition is inherited). Returns the task or
 * -errno. The child is TASK_NEW: invisible, and no waker matches it.
 */
function dup_task_struct(cur: number, flags: number, prog: number, arg: number): number {
  if (should_fail_alloc(cur)) return -ENOMEM;
  const p = kmem_cache_alloc(SLAB_TASK);
  if (!p) return -ENOMEM;
  mem[p + TASK.id] = Atomics.add(mem, kg + G.seq_tasks, 1) + 1;
  mem[p + TASK.usage] = 1; // refcount_set(&tsk->usage, 1): held for the rcu_users
  mem[p + TASK.rcu_users] = 2; // release_task + finish_task_switch
  mem[p + TASK.state] = TASK_NEW;
  mem[p + TASK.cpu] = this_cpu_id;
  mem[p + TASK.prog] = prog;
  mem[p + TASK.user_arg] = arg;
  mem[p + TASK.blocked] = mem[cur + TASK.blocked]!; // the struct copy keeps the blocked mask
  spin_lock_init(p + TASK.alloc_lock, LC_TASK_LOCK);
  mark_live(p, TASK.poison);
  // copy_creds
  const uns = mem[cur + TASK.cred_user_ns]!;
  mem[p + TASK.cred_uid] = mem[cur + TASK.cred_uid]!;
  mem[p + TASK.cred_gid] = mem[cur + TASK.cred_gid]!;
  mem[p + TASK.cred_caps] = mem[cur + TASK.cred_caps]!;
  if ((flags & CLONE_NEWUSER) !== 0) {
    const ns = create_user_ns(uns || init_user_ns(), mem[cur + TASK.cred_uid]!, mem[cur + TASK.cred_gid]!, (mem[cur + TASK.cred_caps]! & CAP_SETFCAP) !== 0);
    if (ns <= 0 || is_err(ns)) {
      kmem_cache_free(SLAB_TASK, p, TASK.poison);
      return ns < 0 ? ns : -ENOMEM;
    }
    mem[p + TASK.cred_user_ns] = ns; // create_user_ns's reference moves to the cred
    mem[p + TASK.cred_caps] = CAP_FULL_SET;
  } else {
    mem[p + TASK.cred_user_ns] = uns !== init_user_ns() ? get_user_ns(uns) : uns;
  }
  // copy_sighand / copy_signal
  if ((flags & CLONE_THREAD) !== 0) {
    mem[p + TASK.signal] = mem[cur + TASK.signal]!; // the reference is taken at attach
    mem[p + TASK.sighand] = mem[cur + TASK.sighand]!;
  } else {
    const s = should_fail_alloc(cur) ? 0 : kmem_cache_alloc(SLAB_SIGNAL);
    if (!s) {
      put_cred(p);
      kmem_cache_free(SLAB_TASK, p, TASK.poison);
      return -ENOMEM;
    }
    init_signal_struct(s);
    const cs = mem[cur + TASK.sighand]!;
    if (cs) {
      // copy_sighand: the child starts with the parent's actions, copied under the parent's
      // siglock (`spin_lock_irq(&current->sighand->siglock); memcpy(sig->action, ...)` in
      // today's kernel/fork.c, read with find_string; a blame listing dates those two lines to
      // 06e62a46bbba, Jann Horn, 2018-08-21): another thread of the group may be in
      // do_sigaction, which writes them under that lock. Oleg Nesterov posted the same lock in
      // 2006 ("[PATCH] fix copy_sighand() vs do_sigaction() race", LKML; whether it was merged
      // then was not checked). A copy without it was a KCSAN report of a 10-minute checked run
      // with --fork-balance (session 14).
      spin_lock_irq(cs + SIG.siglock);
      mem[s + SIG.action_ign] = mem[cs + SIG.action_ign]!;
      mem[s + SIG.action_caught] = mem[cs + SIG.action_caught]!;
      mem[s + SIG.action_restart] = mem[cs + SIG.action_restart]!;
      mem[s + SIG.chld_flags] = mem[cs + SIG.chld_flags]!;
      spin_unlock_irq(cs + SIG.siglock);
    }
    mem[p + TASK.signal] = s;
    mem[p + TASK.sighand] = s;
  }
  return p;
}

/** Lock class of signal->cred_guard_mutex (copy_signal's mutex_init; execve and ptrace_attach take it). */
export const LC_CRED_GUARD_MUTEX = lock_class_register('&sig->cred_guard_mutex');

/** A fresh signal_struct + sighand_struct with one reference and one thread. */
function init_signal_struct(s: number): void {
  mem[s + SIG.count] = 1;
  spin_lock_init(s + SIG.siglock, LC_SIGLOCK);
  mutex_init(s + SIG.cred_guard_mutex, LC_CRED_GUARD_MUTEX);
  mem[s + SIG.group_exec_task] = 0;
  mem[s + SIG.notify_count] = 0;
  init_waitqueue_head(s + SIG.wait_chldexit, LC_WAITQ);
  mem[s + SIG.nr_threads] = 1;
  mem[s + SIG.live] = 1;
  mem[s + SIG.quick_threads] = 1;
  mark_live(s, SIG.poison);
}

/** exit_creds for a child that never ran. */
function put_cred(p: number): void {
  const uns = mem[p + TASK.cred_user_ns]!;
  mem[p + TASK.cred_user_ns] = 0;
  if (uns && uns !== init_user_ns()) put_user_ns(uns);
}

/** The bad_fork_* unwinding of what dup_task_struct built (the child never became visible). */
function free_unborn_child(p: number, flags: number): void {
  exit_files(p); // bad_fork_cleanup_files
  if ((flags & CLONE_THREAD) === 0) put_signal_struct(mem[p + TASK.signal]!);
  mem[p + TASK.signal] = 0;
  mem[p + TASK.sighand] = 0;
  put_cred(p);
  // delayed_free_task: nobody could have seen the record, it goes at once.
  kmem_cache_free(SLAB_TASK, p, TASK.poison);
}

/**
 * The parameter checks at the top of copy_process (kernel/fork.c), in the kernel's order.
 */
function copy_process_checks(cur: number, flags: number): number {
  // Don't allow sharing the root directory with processes in a different namespace.
  if ((flags & (CLONE_NEWNS | CLONE_FS)) === (CLONE_NEWNS | CLONE_FS)) return -EINVAL;
  if ((flags & (CLONE_NEWUSER | CLONE_FS)) === (CLONE_NEWUSER | CLONE_FS)) return -EINVAL;
  // Thread groups must share signals as well, and detached threads can only be started up within
  // the thread group.
  if ((flags & CLONE_THREAD) !== 0 && (flags & CLONE_SIGHAND) === 0) return -EINVAL;
  // Shared signal handlers imply shared VM.
  if ((flags & CLONE_SIGHAND) !== 0 && (flags & CLONE_VM) === 0) return -EINVAL;
  // Siblings of global init remain as zombies on exit since they are not reaped by their parent
  // (swapper): prevent global and container inits from creating siblings.
  // current->signal->flags without the siglock, as the kernel reads it (`current->signal->flags &
  // SIGNAL_UNKILLABLE`, kernel/fork.c, read with find_string): SIGNAL_UNKILLABLE is set when the
  // namespace's init is made, while senders change other bits under the siglock (complete_signal's
  // SIGNAL_GROUP_EXIT) - a race on purpose (data_race; a 10-minute checked free run, session 13).
  if ((flags & CLONE_PARENT) !== 0 && (data_race(mem[mem[cur + TASK.signal]! + SIG.flags]!) & SIGNAL_UNKILLABLE) !== 0) return -EINVAL;
  // If the new process will be in a different pid or user namespace do not allow it to share a
  // thread group with the forking task.
  if ((flags & CLONE_THREAD) !== 0) {
    const np = mem[cur + TASK.nsproxy]!;
    if ((flags & (CLONE_NEWUSER | CLONE_NEWPID)) !== 0 || task_active_pid_ns(cur) !== mem[np + NSPROXY.pid_ns_for_children]) return -EINVAL;
  }
  if ((flags & CLONE_PIDFD) !== 0) {
    // CLONE_DETACHED is blocked so that it can be reused later. CLONE_THREAD | CLONE_PIDFD is
    // allowed since Linux 6.9 (a PIDFD_THREAD pidfd; checked on this machine's 6.18).
    if ((flags & CLONE_DETACHED) !== 0) return -EINVAL;
  }
  return 0;
}

/** The pid for the child, from the request of the current clone call. */
function copy_process_alloc_pid(ns: number): number {
  if (req_mode === REQ_SET_TID) return alloc_pid(ns, mem.subarray(req_addr, req_addr + req_size), req_size);
  if (req_mode === REQ_TARGETS) return alloc_pid_targets(ns, target_pids, req_size);
  return alloc_pid(ns, null, 0);
}

/**
 * copy_process (kernel/fork.c): build the child and attach it (it is not woken: kernel_clone
 * does that). Returns the child task, -errno, or SLEEP (call again: TASK.fork_phase).
 */
export function copy_process(flags: number, exit_signal: number, prog: number, arg: number): number {
  const cur = current;
  let p: number;
  let pid: number;
  let pidfd = -1;
  let early_exit_signal = -1;
  if (mem[cur + TASK.fork_phase] === FKP_CGROUP) {
    // Restarted after sleeping in cgroup_can_fork: everything before it is done.
    p = mem[cur + TASK.fork_child]!;
    flags = mem[cur + TASK.fork_flags]!;
    pid = mem[cur + TASK.fork_pid]!;
    pidfd = mem[cur + TASK.fork_pidfd]!;
    early_exit_signal = mem[cur + TASK.fork_exit_signal]!;
  } else {
    if (mem[cur + TASK.fork_phase] === FKP_NS) {
      p = mem[cur + TASK.fork_child]!;
      flags = mem[cur + TASK.fork_flags]!;
    } else {
      const err = copy_process_checks(cur, flags);
      if (err) return err;
      sched_hook(SITE_FORK_START);
      // Force any signals received before this point to be delivered before the fork happens.
      if (signal_pending(cur)) return -ERESTARTNOINTR;
      p = dup_task_struct(cur, flags, prog, arg);
      if (p < 0) return p;
      // Stop root fork bombs: nr_threads >= max_threads (the model's max_threads is the task cache
      // less one record, so a full table says EAGAIN as the kernel does, not ENOMEM).
      if (Atomics.load(mem, kg + G.nr_threads) >= config.maxTasks - 1) {
        free_unborn_child(p, flags);
        return -EAGAIN;
      }
      // copy_files: the child's fd table is a copy of ours (nothing to do when no file is open).
      const fe = copy_files(flags, p);
      if (fe) {
        free_unborn_child(p, flags);
        return fe;
      }
      mem[cur + TASK.fork_child] = p;
      mem[cur + TASK.fork_flags] = flags;
      mem[cur + TASK.fork_phase] = FKP_NS;
    }
    // copy_namespaces: may sleep on pid_caches_mutex (nothing of ours is held across it).
    const np = copy_namespaces(flags, p);
    if (np === SLEEP) return SLEEP;
    mem[cur + TASK.fork_phase] = FKP_NONE;
    if (is_err(np)) {
      free_unborn_child(p, flags);
      return np;
    }
    pid = copy_process_alloc_pid(mem[np + NSPROXY.pid_ns_for_children]!);
    if (is_err(pid) || pid <= 0) {
      exit_task_namespaces(p);
      free_unborn_child(p, flags);
      return pid < 0 ? pid : -ENOMEM;
    }
    // This has to happen after we've potentially unshared the file descriptor table (so that the
    // pidfd doesn't leak into the child if the fd table isn't shared).
    if ((flags & CLONE_PIDFD) !== 0) {
      // Note that no task has been attached to @pid yet (__pidfd_prepare).
      pidfd = __pidfd_prepare(pid, (flags & CLONE_THREAD) !== 0 ? PIDFD_THREAD : 0);
      let err = pidfd < 0 ? pidfd : 0;
      // put_user(pidfd, args->pidfd)
      if (!err && req_pidfd_legacy) mem[cur + TASK.clone_parent_tid] = pidfd;
      else if (!err && user_range_ok(req_pidfd_addr, 1)) mem[req_pidfd_addr] = pidfd;
      else if (!err) {
        close_fd(pidfd); // bad_fork_put_pidfd
        err = -EFAULT;
      }
      if (err) {
        free_pid(pid);
        exit_task_namespaces(p);
        free_unborn_child(p, flags);
        return err;
      }
    }
    const leader = (flags & CLONE_THREAD) !== 0 ? mem[cur + TASK.group_leader]! : p;
    mem[p + TASK.group_leader] = leader;
    if ((flags & CLONE_THREAD) === 0) {
      mem[p + TASK.thread_next] = p;
      mem[p + TASK.thread_prev] = p;
    }
    // Before b4e00444cab4 (BUG_CLONE_PARENT_EXIT_SIGNAL) the CLONE_PARENT child's exit_signal was
    // copied here, after alloc_pid and outside tasklist_lock: an exiting ->real_parent can still
    // reparent current (and reset its exit_signal to SIGCHLD) before the child is attached below.
    // Between that copy and tasklist_lock, cgroup_can_fork takes cgroup_threadgroup_rwsem for read,
    // which sleeps while a cgroup.procs write holds or waits for it.
    if ((mem[kg + G.bug_switches]! & BUG_CLONE_PARENT_EXIT_SIGNAL) !== 0) {
      early_exit_signal = mem[mem[cur + TASK.group_leader]! + TASK.exit_signal]!;
    }
  }
  const thread = (flags & CLONE_THREAD) !== 0;
  const leader = mem[p + TASK.group_leader]!;
  // Ensure that the cgroup subsystem policies allow the new process to be forked (the pids
  // controller's charge: src/kernel/cgroup_pids.ts). cgroup_css_set_fork takes
  // cgroup_threadgroup_rwsem for read (held until cgroup_post_fork / cgroup_cancel_fork) and may
  // sleep there: the restart comes back here (FKP_CGROUP) with what was built so far.
  const cg = cgroup_can_fork(p, SITE_FORK_CGROUP);
  if (cg === SLEEP) {
    mem[cur + TASK.fork_child] = p;
    mem[cur + TASK.fork_flags] = flags;
    mem[cur + TASK.fork_pid] = pid;
    mem[cur + TASK.fork_pidfd] = pidfd;
    mem[cur + TASK.fork_exit_signal] = early_exit_signal;
    mem[cur + TASK.fork_phase] = FKP_CGROUP;
    return SLEEP;
  }
  mem[cur + TASK.fork_phase] = FKP_NONE;
  if (cg) {
    if (pidfd >= 0) close_fd(pidfd); // bad_fork_put_pidfd
    free_pid(pid);
    exit_task_namespaces(p);
    free_unborn_child(p, flags);
    return cg;
  }

  // Make it visible to the rest of the system, but don't wake it up yet.
  const tl = kg + G.tasklist_lock;
  write_lock_irq(tl, SITE_FORK_ATTACH);
  // CLONE_PARENT re-uses the old parent.
  let rp: number;
  if ((flags & (CLONE_PARENT | CLONE_THREAD)) !== 0) {
    rp = mem[cur + TASK.real_parent]!;
    // b4e00444cab4: under tasklist_lock, so that real_parent and exit_signal are read together.
    mem[p + TASK.exit_signal] = thread ? -1 : early_exit_signal >= 0 ? early_exit_signal : mem[mem[cur + TASK.group_leader]! + TASK.exit_signal]!;
  } else {
    rp = cur;
    mem[p + TASK.exit_signal] = exit_signal;
  }
  mem[p + TASK.real_parent] = rp;
  mem[p + TASK.parent] = rp;
  const cs = mem[cur + TASK.sighand]!;
  spin_lock(cs + SIG.siglock);
  let retval = 0;
  // Don't start children in a dying pid namespace (3fd37226216620). ->pid_allocated is written
  // under pidmap_lock, not held here: a marked load, the READ_ONCE Oleg Nesterov asked for when
  // syzbot's KCSAN reports of this read came with "[PATCH v2] pid: annotate data-races around
  // pid_ns->pid_allocated" (LKML, 2025-04-25, read in the issues corpus; what was merged not
  // checked). The checked build's watchpoints reported the plain read here (session 13).
  if ((mem[kg + G.bug_switches]! & BUG_SETNS_FORK_NO_RECHECK) === 0 &&
      (Atomics.load(mem, ns_of_pid(pid) + PIDNS.pid_allocated) & PIDNS_ADDING) === 0) {
    retval = -ENOMEM;
  } else if (fatal_signal_pending(cur)) {
    // Let kill terminate clone/fork in the middle.
    retval = -EINTR;
  }
  if (retval) {
    // bad_fork_cancel_cgroup
    spin_unlock(cs + SIG.siglock);
    write_unlock_irq(tl);
    cgroup_cancel_fork(p);
    if (pidfd >= 0) close_fd(pidfd); // bad_fork_put_pidfd
    free_pid(pid);
    exit_task_namespaces(p);
    free_unborn_child(p, flags);
    return retval;
  }
  // No more failure paths after this point.
  mem[p + TASK.pid] = pid; // init_task_pid(p, PIDTYPE_PID, pid)
  if (!thread) {
    const s = mem[p + TASK.signal]!;
    mem[p + TASK.tgid_pid] = pid;
    mem[p + TASK.pgrp] = get_pid(mem[mem[cur + TASK.group_leader]! + TASK.pgrp]!);
    mem[p + TASK.session] = get_pid(mem[mem[cur + TASK.group_leader]! + TASK.session]!);
    if (is_child_reaper(pid)) {
      mem[ns_of_pid(pid) + PIDNS.child_reaper] = p;
      mem[s + SIG.flags] = mem[s + SIG.flags]! | SIGNAL_UNKILLABLE;
    }
    // Inherit has_child_subreaper flag under the same tasklist_lock with adding child to the
    // process tree for propagate_has_child_subreaper optimization.
    if (rp) {
      const rs = mem[rp + TASK.signal]!;
      mem[s + SIG.has_child_subreaper] = mem[rs + SIG.has_child_subreaper] !== 0 || mem[rs + SIG.is_child_subreaper] !== 0 ? 1 : 0;
      children_add_tail(rp, p);
    }
    tasks_add_tail(p);
    Atomics.store(mem, pid + PID.task_tgid, p); // attach_pid(p, PIDTYPE_TGID)
  } else {
    const s = mem[cur + TASK.signal]!;
    mem[p + TASK.tgid_pid] = mem[cur + TASK.tgid_pid]!;
    mem[s + SIG.nr_threads] = mem[s + SIG.nr_threads]! + 1;
    mem[s + SIG.quick_threads] = mem[s + SIG.quick_threads]! + 1;
    Atomics.add(mem, s + SIG.live, 1);
    Atomics.add(mem, s + SIG.count, 1);
    thread_ring_add(leader, p);
    sibling_hist_add(p, SH_CLONE_THREAD, rp);
  }
  Atomics.store(mem, pid + PID.task_pid, p); // attach_pid(p, PIDTYPE_PID)
  Atomics.add(mem, kg + G.nr_threads, 1);
  mem[kg + G.total_forks] = mem[kg + G.total_forks]! + 1;
  spin_unlock(cs + SIG.siglock);
  write_unlock_irq(tl);
  cgroup_post_fork(p);
  return p;
}

/**
 * wake_up_new_task (kernel/sched/core.c): a child with a program starts running it; a scripted
 * child (prog 0) goes straight to sleep in pause() (it has nothing to do until the API gives it a
 * call or a signal arrives: a signal that came while it was TASK_NEW is delivered now).
 */
export function wake_up_new_task(p: number): void {
  sched_hook(SITE_FORK_WAKE);
  if (mem[p + TASK.prog] !== 0) {
    Atomics.store(mem, p + TASK.state, TASK_RUNNING);
    // Fork balancing, here and not earlier (the kernel's comment: cpus_ptr can change in the fork
    // path, and any previously selected CPU might disappear through hotplug). TASK.cpu was the
    // parent's (copy_process copies it: sched_fork's __set_task_cpu(p, smp_processor_id())).
    mem[p + TASK.cpu] = select_task_rq(p, this_cpu_id, WF_FORK);
    activate_task(p);
    return;
  }
  mem[p + TASK.wait_chan] = WCHAN_PAUSE;
  mem[p + TASK.wait_obj] = 0;
  Atomics.store(mem, p + TASK.state, TASK_INTERRUPTIBLE);
  if (Atomics.load(mem, p + TASK.sigpending) !== 0) {
    mem[p + TASK.ucall] = SYS_GET_SIGNAL;
    try_to_wake_up(p, TASK_INTERRUPTIBLE);
  }
}

/**
 * kernel_clone (kernel/fork.c): copy_process, then wake the child. Returns the child's pid as
 * the caller sees it, -errno, or SLEEP. TASK.fork_child keeps the last child (the API reads it).
 */
export function kernel_clone(flags: number, exit_signal: number, prog: number, arg: number): number {
  const cur = current;
  // For legacy clone() calls, CLONE_PIDFD uses the parent_tid argument to return the pidfd, so
  // CLONE_PIDFD and CLONE_PARENT_SETTID are mutually exclusive; with clone3 they may not point at
  // the same memory either.
  if ((flags & CLONE_PIDFD) !== 0 && (flags & CLONE_PARENT_SETTID) !== 0 && (req_pidfd_legacy || req_pidfd_addr === req_parent_tid_addr)) return -EINVAL;
  const p = copy_process(flags, exit_signal, prog, arg);
  if (p === SLEEP || p < 0) return p;
  mem[cur + TASK.fork_child] = p;
  // Do this prior waking up the new thread - the thread pointer might get invalid after that
  // point, if the thread exits quickly.
  const nr = pid_nr_ns(mem[p + TASK.pid]!, task_active_pid_ns(cur));
  wake_up_new_task(p);
  return nr;
}

/**
 * fork/clone (SYS_FORK(flags, prog, arg)): the clone() flag word, whose CSIGNAL byte is the exit
 * signal; a zero byte means SIGCHLD (fork() semantics; clone3 can ask for exit_signal 0). The
 * child runs program `prog` from its start (0: a scripted child for the API) with TASK.user_arg =
 * `arg`.
 */
export function sys_fork(flags: number, prog: number, arg: number): number {
  req_mode = REQ_NONE;
  req_pidfd_legacy = true;
  let sig = flags & CSIGNAL;
  if (sig === 0 && (flags & CLONE_THREAD) === 0) sig = SIGCHLD;
  return kernel_clone(flags & ~CSIGNAL, (flags & CLONE_THREAD) !== 0 ? 0 : sig, prog, arg);
}

/** Is [addr, addr + words) inside the program region (the model's user memory)? */
export function user_range_ok(addr: number, words: number): boolean {
  const r = regions.programs;
  return addr >= r.base && words >= 0 && addr + words <= r.base + r.words;
}

/**
 * clone3(uargs, size) (kernel/fork.c sys_clone3 with copy_clone_args_from_user and
 * clone3_args_valid): `uargs` is the address of a struct clone_args in the program region (one
 * word per field), `size` its size in the kernel's bytes (64, 80, 88). The third argument is the
 * child's program. Flags beyond 32 bits (CLONE_CLEAR_SIGHAND, CLONE_INTO_CGROUP) do not exist in
 * the model; a stack is only checked for consistency.
 */
export function sys_clone3(uargs: number, size: number, prog: number): number {
  if (size > PAGE_SIZE) return -E2BIG;
  if (size < CLONE_ARGS_SIZE_VER0) return -EINVAL;
  const words = Math.ceil(size / 8);
  if (!user_range_ok(uargs, words)) return -EFAULT;
  // copy_struct_from_user: trailing bytes the kernel does not know must be zero.
  for (let i = CLONE_ARGS_SIZE_VER2 / 8; i < words; i++) if (mem[uargs + i] !== 0) return -E2BIG;
  const field = (i: number): number => (i < words ? mem[uargs + i]! : 0);
  const flags = field(CA_FLAGS);
  const exit_signal = field(CA_EXIT_SIGNAL);
  const set_tid = field(CA_SET_TID);
  const set_tid_size = field(CA_SET_TID_SIZE);
  const stack = field(CA_STACK);
  const stack_size = field(CA_STACK_SIZE);
  if (set_tid_size < 0 || set_tid_size > MAX_PID_NS_LEVEL) return -EINVAL;
  if (!set_tid && set_tid_size > 0) return -EINVAL;
  if (set_tid && set_tid_size === 0) return -EINVAL;
  // Verify that higher 32bits of exit_signal are unset and that it is a valid signal.
  if ((exit_signal & ~CSIGNAL) !== 0 || !valid_signal(exit_signal)) return -EINVAL;
  if (set_tid && !user_range_ok(set_tid, set_tid_size)) return -EFAULT;
  // clone3_args_valid
  if ((flags & (CLONE_DETACHED | (CSIGNAL & ~CLONE_NEWTIME))) !== 0) return -EINVAL;
  if ((flags & (CLONE_THREAD | CLONE_PARENT)) !== 0 && exit_signal !== 0) return -EINVAL;
  if (stack === 0 ? stack_size > 0 : stack_size === 0) return -EINVAL;
  req_mode = set_tid ? REQ_SET_TID : REQ_NONE;
  req_addr = set_tid;
  req_size = set_tid_size;
  req_pidfd_legacy = false;
  req_pidfd_addr = field(CA_PIDFD);
  req_parent_tid_addr = field(CA_PARENT_TID);
  const r = kernel_clone(flags, exit_signal, prog, 0);
  req_mode = REQ_NONE;
  req_pidfd_legacy = true;
  return r;
}

/**
 * clone_with_pids(flags, target_pid_set, prog) (seed 002, do_fork_with_pids): `set` is the
 * address of a struct target_pid_set in the program region (word 0 num_pids, then the pids, the
 * oldest requested namespace first), 0 for none. copy_target_pids runs first (EFAULT, EINVAL for
 * a bad count, EPERM without CAP_SYS_ADMIN), then a clone whose pid has those numbers at the
 * youngest levels (EBUSY when one is taken). Flags as SYS_FORK.
 */
export function sys_clone_with_pids(flags: number, set: number, prog: number): number {
  const ts = read_target_pid_set(set);
  if (typeof ts === 'number') return ts;
  const n = copy_target_pids(current, ts.pids, ts.num_pids, target_pids);
  if (n < 0) return n;
  req_mode = n > 0 ? REQ_TARGETS : REQ_NONE;
  req_size = n;
  req_pidfd_legacy = true;
  let sig = flags & CSIGNAL;
  if (sig === 0 && (flags & CLONE_THREAD) === 0) sig = SIGCHLD;
  const r = kernel_clone(flags & ~CSIGNAL, (flags & CLONE_THREAD) !== 0 ? 0 : sig, prog, 0);
  req_mode = REQ_NONE;
  return r;
}

// ---- unshare --------------------------------------------------------------------------------------

/** check_unshare_flags (kernel/fork.c). */
function check_unshare_flags(flags: number): number {
  const allowed = CLONE_THREAD | CLONE_FS | CLONE_NEWNS | CLONE_SIGHAND | CLONE_VM | CLONE_FILES | CLONE_SYSVSEM |
    CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWCGROUP | CLONE_NEWTIME;
  if ((flags & ~allowed) !== 0) return -EINVAL;
  // Not implemented, but pretend it works if there is nothing to unshare. Unsharing the address
  // space or the signal handlers also needs to unshare the signal queues (aka CLONE_THREAD).
  const cur = current;
  if ((flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)) !== 0 && !thread_group_empty(cur)) return -EINVAL;
  if ((flags & (CLONE_SIGHAND | CLONE_VM)) !== 0 && mem[mem[cur + TASK.sighand]! + SIG.count]! > 1) return -EINVAL;
  if ((flags & CLONE_VM) !== 0 && Atomics.load(mem, mem[cur + TASK.signal]! + SIG.live) > 1) return -EINVAL;
  return 0;
}

/**
 * unshare(2) (kernel/fork.c ksys_unshare): the user namespace first (unshare_userns), then the
 * nsproxy namespaces in it (K3's unshare_nsproxy_namespaces, which may SLEEP: the new user
 * namespace waits in TASK.fork_child), then the commit: switch_task_namespaces and commit_creds.
 * CLONE_NEWPID changes only pid_ns_for_children: the next child is pid 1 there.
 */
export function ksys_unshare(unshare_flags: number): number {
  const cur = current;
  // If unsharing a user namespace must also unshare the thread group and unshare the filesystem
  // root and working directories.
  if ((unshare_flags & CLONE_NEWUSER) !== 0) unshare_flags |= CLONE_THREAD | CLONE_FS;
  // If unsharing vm, must also unshare signal handlers.
  if ((unshare_flags & CLONE_VM) !== 0) unshare_flags |= CLONE_SIGHAND;
  // If unsharing a signal handlers, must also unshare the signal queues.
  if ((unshare_flags & CLONE_SIGHAND) !== 0) unshare_flags |= CLONE_THREAD;
  // If unsharing namespace, must also unshare filesystem information.
  if ((unshare_flags & CLONE_NEWNS) !== 0) unshare_flags |= CLONE_FS;
  let new_user_ns = 0;
  if (mem[cur + TASK.fork_phase] === FKP_UNSHARE) {
    new_user_ns = mem[cur + TASK.fork_child]!;
  } else {
    const err = check_unshare_flags(unshare_flags);
    if (err) return err;
    if ((unshare_flags & CLONE_NEWUSER) !== 0) {
      // unshare_userns -> create_user_ns (owned by current's euid, below current's user namespace)
      const ns = create_user_ns(mem[cur + TASK.cred_user_ns] || init_user_ns(), mem[cur + TASK.cred_uid]!, mem[cur + TASK.cred_gid]!,
        (mem[cur + TASK.cred_caps]! & CAP_SETFCAP) !== 0);
      if (ns <= 0) return ns < 0 ? ns : -ENOMEM;
      new_user_ns = ns;
    }
    mem[cur + TASK.fork_child] = new_user_ns;
    mem[cur + TASK.fork_phase] = FKP_UNSHARE;
  }
  const np = unshare_nsproxy_namespaces(unshare_flags, new_user_ns);
  if (np === SLEEP) return SLEEP;
  mem[cur + TASK.fork_phase] = FKP_NONE;
  mem[cur + TASK.fork_child] = 0;
  if (is_err(np)) {
    if (new_user_ns) put_user_ns(new_user_ns);
    return np;
  }
  if (np > 0) switch_task_namespaces(cur, np);
  if (new_user_ns) {
    // commit_creds: the new user namespace's reference moves to the cred.
    spin_lock(cur + TASK.alloc_lock);
    set_cred_user_ns(cur, new_user_ns);
    spin_unlock(cur + TASK.alloc_lock);
  }
  return 0;
}

// ---- getpid / getppid (kernel/sys.c) --------------------------------------------------------------

/** getpid(2): the thread-group id in current's active pid namespace. */
export function sys_getpid(): number {
  const cur = current;
  return pid_nr_ns(mem[cur + TASK.tgid_pid]!, task_active_pid_ns(cur));
}

/** gettid(2): task_pid_vnr(current), the thread's own pid in its active pid namespace. */
export function sys_gettid(): number {
  const cur = current;
  return pid_nr_ns(mem[cur + TASK.pid]!, task_active_pid_ns(cur));
}

/** getppid(2): the real parent's tgid in current's namespace (0 when the parent is outside it). */
export function sys_getppid(): number {
  const cur = current;
  const rp = mem[cur + TASK.real_parent]!;
  return rp ? pid_nr_ns(mem[rp + TASK.tgid_pid]!, task_active_pid_ns(cur)) : 0;
}

/**
 * setsid(2) (kernel/sys.c ksys_setsid): the caller's group becomes the leader of a new session
 * and of a new process group, both named by its pid. EPERM when it already leads a session, or
 * when a process group of that number exists (pid_task(sid, PIDTYPE_PGID): the model walks the
 * process list). Returns the session id as the caller sees it.
 */
export function sys_setsid(): number {
  const leader = mem[current + TASK.group_leader]!;
  const sid = mem[leader + TASK.pid]!;
  const session = pid_nr_ns(sid, task_active_pid_ns(current));
  const tl = kg + G.tasklist_lock;
  write_lock_irq(tl);
  const s = mem[leader + TASK.signal]!;
  let err = -EPERM;
  let taken = mem[s + SIG.leader] !== 0;
  if (!taken) {
    const head = init_task();
    let p = head;
    do {
      if (mem[p + TASK.pgrp] === sid) { taken = true; break; }
      p = mem[p + TASK.tasks_next]!;
    } while (p !== head && p !== 0);
  }
  let put_pg = 0;
  let put_sid = 0;
  if (!taken) {
    mem[s + SIG.leader] = 1;
    // set_special_pids(sid): change_pid of PIDTYPE_SID and PIDTYPE_PGID.
    put_pg = mem[leader + TASK.pgrp]!;
    put_sid = mem[leader + TASK.session]!;
    mem[leader + TASK.pgrp] = get_pid(sid);
    mem[leader + TASK.session] = get_pid(sid);
    err = session;
  }
  write_unlock_irq(tl);
  if (put_pg) put_pid(put_pg);
  if (put_sid) put_pid(put_sid);
  return err;
}

// ---- prctl / setuid / capset (kernel/sys.c, kernel/capability.c) ------------------------------

/** include/uapi/linux/prctl.h */
export const PR_SET_CHILD_SUBREAPER = 36;
export const PR_GET_CHILD_SUBREAPER = 37;

/**
 * walk_process_tree(me, propagate_has_child_subreaper) (kernel/fork.c, kernel/sys.c): mark every
 * descendant process as having a subreaper ancestor, skipping subtrees already marked or rooted
 * at another subreaper. Under read_lock(tasklist_lock); iterative (trees can be deep).
 */
function propagate_has_child_subreaper(top: number): void {
  const tl = kg + G.tasklist_lock;
  read_lock(tl);
  const stack: number[] = [top];
  while (stack.length) {
    const leader = stack.pop()!;
    let t = leader;
    do {
      for (let c = mem[t + TASK.children]!; c !== 0; c = mem[c + TASK.sibling_next]!) {
        const cs = mem[c + TASK.signal]!;
        if (mem[cs + SIG.has_child_subreaper] !== 0 || mem[cs + SIG.is_child_subreaper] !== 0) continue;
        mem[cs + SIG.has_child_subreaper] = 1;
        stack.push(c);
      }
      t = mem[t + TASK.thread_next]!;
    } while (t !== leader && t !== 0);
  }
  read_unlock(tl);
}

/** prctl(2) (kernel/sys.c), PR_SET_CHILD_SUBREAPER / PR_GET_CHILD_SUBREAPER only (EINVAL else). */
export function sys_prctl(option: number, arg: number): number {
  const me = current;
  const s = mem[me + TASK.signal]!;
  if (option === PR_SET_CHILD_SUBREAPER) {
    mem[s + SIG.is_child_subreaper] = arg ? 1 : 0;
    if (arg) propagate_has_child_subreaper(mem[me + TASK.group_leader]!);
    return 0;
  }
  if (option === PR_GET_CHILD_SUBREAPER) return mem[s + SIG.is_child_subreaper]!;
  return -EINVAL;
}

/**
 * setuid(2) (kernel/sys.c __sys_setuid + cap_emulate_setxuid): with CAP_SETUID in the cred's user
 * namespace any uid, and leaving uid 0 drops every capability; without it only the current uid.
 * The model's cred has one uid (uid = euid = suid).
 */
export function sys_setuid(uid: number): number {
  const me = current;
  if (uid < 0) return -EINVAL;
  if (!ns_capable(me, mem[me + TASK.cred_user_ns] || init_user_ns(), CAP_SETUID)) return uid === mem[me + TASK.cred_uid] ? 0 : -EPERM;
  spin_lock(me + TASK.alloc_lock);
  mem[me + TASK.cred_uid] = uid;
  if (uid !== 0) mem[me + TASK.cred_caps] = 0;
  spin_unlock(me + TASK.alloc_lock);
  return 0;
}

/** capset(2) (kernel/capability.c): the effective set may only shrink (EPERM to gain a capability). */
export function sys_capset(caps: number): number {
  const me = current;
  if ((caps & ~mem[me + TASK.cred_caps]!) !== 0) return -EPERM;
  spin_lock(me + TASK.alloc_lock);
  mem[me + TASK.cred_caps] = caps;
  spin_unlock(me + TASK.alloc_lock);
  return 0;
}

// ---- the init task --------------------------------------------------------------------------------

/**
 * The init task (the model's pid 1 of init_pid_ns; the kernel's init_task is the swapper, whose
 * first child kernel_init becomes pid 1): a scripted task sleeping in pause(), with full
 * capabilities in init_user_ns, SIGNAL_UNKILLABLE, init_nsproxy, and the head of the task list.
 * Runs at boot after pid.ts created init_user_ns and init_pid_ns.
 */
export function init_task_boot(): void {
  if (mem[kg + G.init_task]) return;
  const t = kmem_cache_alloc(SLAB_TASK);
  if (!t) throw new Error('boot: task cache empty');
  const saved = current;
  set_current(t);
  try {
    mem[t + TASK.id] = Atomics.add(mem, kg + G.seq_tasks, 1) + 1;
    mem[t + TASK.usage] = 1;
    mem[t + TASK.rcu_users] = 2;
    mem[t + TASK.cpu] = 0;
    spin_lock_init(t + TASK.alloc_lock, LC_TASK_LOCK);
    mark_live(t, TASK.poison);
    mem[t + TASK.cred_uid] = 0;
    mem[t + TASK.cred_user_ns] = init_user_ns();
    mem[t + TASK.cred_caps] = CAP_FULL_SET;
    const s = kmem_cache_alloc(SLAB_SIGNAL);
    if (!s) throw new Error('boot: signal cache empty');
    init_signal_struct(s);
    mem[s + SIG.flags] = SIGNAL_UNKILLABLE;
    mem[t + TASK.signal] = s;
    mem[t + TASK.sighand] = s;
    mem[t + TASK.nsproxy] = init_nsproxy_create();
    const ns = init_pid_ns();
    const pid = alloc_pid(ns, null, 0);
    if (pid <= 0) throw new Error(`boot: alloc_pid for init failed (${pid})`);
    mem[t + TASK.group_leader] = t;
    mem[t + TASK.thread_next] = t;
    mem[t + TASK.thread_prev] = t;
    mem[t + TASK.tasks_next] = t;
    mem[t + TASK.tasks_prev] = t;
    mem[t + TASK.exit_signal] = SIGCHLD;
    mem[t + TASK.pid] = pid;
    mem[t + TASK.tgid_pid] = pid;
    mem[t + TASK.pgrp] = get_pid(pid);
    mem[t + TASK.session] = get_pid(pid);
    Atomics.store(mem, pid + PID.task_pid, t);
    Atomics.store(mem, pid + PID.task_tgid, t);
    mem[ns + PIDNS.child_reaper] = t;
    mem[kg + G.init_task] = t;
    Atomics.add(mem, kg + G.nr_threads, 1);
    mem[t + TASK.wait_chan] = WCHAN_PAUSE;
    Atomics.store(mem, t + TASK.state, TASK_INTERRUPTIBLE);
  } finally {
    set_current(saved);
  }
}

register_boot_init(init_task_boot);

register_syscall(SYS_FORK, 'fork', (flags, prog, arg) => sys_fork(flags, prog, arg));
register_syscall(SYS_CLONE3, 'clone3', (uargs, size, prog) => sys_clone3(uargs, size, prog));
register_syscall(SYS_CLONE_WITH_PIDS, 'clone_with_pids', (flags, set, prog) => sys_clone_with_pids(flags, set, prog));
register_syscall(SYS_UNSHARE, 'unshare', (flags) => ksys_unshare(flags));
register_syscall(SYS_GETPID, 'getpid', () => sys_getpid());
register_syscall(SYS_GETTID, 'gettid', () => sys_gettid());
register_syscall(SYS_GETPPID, 'getppid', () => sys_getppid());
register_syscall(SYS_PRCTL, 'prctl', (option, arg) => sys_prctl(option, arg));
register_syscall(SYS_SETUID, 'setuid', (uid) => sys_setuid(uid));
register_syscall(SYS_CAPSET, 'capset', (caps) => sys_capset(caps));
register_syscall(SYS_SETSID, 'setsid', () => sys_setsid());

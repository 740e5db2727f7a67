/**
 * Pid namespaces (kernel/pid_namespace.c; the seed copy /work/shared/seeds/000_* is followed
 * function by function, with today's kernel where it differs: per-level pid caches, ucounts).
 *
 * Sleeping functions here are restartable (docs/CONTRIBUTING-model.md): create_pid_namespace may
 * return SLEEP from pid_caches_mutex, zap_pid_ns_processes from kernel_wait4 and from its
 * pid_allocated wait; the caller returns SLEEP up and calls again with the same arguments.
 */
import { G, MAX_PID_NS_LEVEL, NSPROXY, PIDNS, SIG, TASK } from '../mm/layout.js';
import { config, kg, mem, PAGE_SIZE, PID_MAX_LIMIT, regions, SLAB_PIDNS } from '../mm/memory.js';
import { kmem_cache_alloc, kmem_cache_free, mark_live } from '../mm/slab.js';
import { spin_lock, spin_lock_irq, spin_unlock, spin_unlock_irq } from '../locking/spinlock.js';
import { read_lock, read_unlock } from '../locking/qrwlock.js';
import { mutex_lock, mutex_unlock } from '../locking/mutex.js';
import { call_rcu, rcu_read_lock, rcu_read_unlock, register_rcu_callback } from '../rcu/rcu.js';
import { current, set_current_state, set_running, SLEEP, TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE, WCHAN_MUTEX, WCHAN_ZAP_PIDS } from '../sched/core.js';
import { register_syscall } from './entry.js';
import { __WALL, PF_EXITING, SIGCHLD, SIGHUP, SIGINT, SIGKILL, sigmask, thread_group_leader } from './sched_task.js';
import { ns_alloc_inum, PROC_PID_INIT_INO } from './ns_common.js';
import { BUG_FREE_WITHOUT_GP, BUG_RCU_TASKS_EXIT_SRCU, BUG_ZAP_HOLDS_SRCU, BUG_ZAP_INIT_PIDS_ONE, BUG_ZAP_KEEPS_NOTIFY_SIGNAL, BUG_ZAP_NO_PID_WAIT, BUG_ZAP_WAIT_CHILDREN } from '../config/bugs.js';
import { ECHILD, EFAULT, EINVAL, ENOMEM, ENOSPC, EPERM } from './errno.js';
import { SYS_NS_LAST_PID_READ, SYS_NS_LAST_PID_WRITE } from './unistd.js';
// pid.ts imports this module too: only function declarations cross the cycle (constants come from
// the leaf pid_types.ts), so either module may be loaded first.
import { disable_pid_allocation, idr_get_next_pid, idr_init, idr_nextid, pid_task, pidns_pid_max, should_fail_alloc, task_active_pid_ns } from './pid.js';
import { PIDNS_ADDING, PIDTYPE_MAX, PIDTYPE_PID, RCB_DELAYED_FREE_PIDNS } from './pid_types.js';
import {
  CAP_SYS_ADMIN, CAP_SYS_BOOT, checkpoint_restore_ns_capable, dec_pid_namespaces, get_user_ns, in_userns, inc_pid_namespaces,
  init_user_ns, ns_capable, put_user_ns,
} from './user_namespace.js';
import * as signal from './signal.js';
import { CLONE_NEWPID } from './clone_flags.js';

/**
 * The process-lifecycle functions zap_pid_ns_processes and reboot call (K2's signal.ts, exit.ts,
 * rcu/tasks.ts). exit.ts installs them at load (set_pidns_process_ops), which keeps this module
 * free of a load-time import cycle with exit.ts. The signal ones default to signal.ts directly.
 *  - kernel_wait4(pid, options): reaped pid, -errno, or SLEEP (restartable);
 *  - group_send_sig_info(sig, task): SEND_SIG_PRIV to the task's group (PIDTYPE_MAX);
 *  - __fatal_signal_pending(task); send_sig(sig, task, priv);
 *  - do_exit_from_syscall(code): do_exit (EXITED, or SLEEP while it waits; call again);
 *  - exit_tasks_rcu_stop()/exit_tasks_rcu_start() on current.
 */
export interface PidnsProcessOps {
  kernel_wait4(pid: number, options: number): number;
  group_send_sig_info(sig: number, task: number): unknown;
  __fatal_signal_pending(task: number): boolean;
  send_sig(sig: number, task: number, priv: number): unknown;
  do_exit_from_syscall(code: number): number;
  exit_tasks_rcu_stop(): void;
  exit_tasks_rcu_start(): void;
}
const missing = (name: string) => (): never => { throw new Error(`pid_namespace: ${name} is not installed (exit.ts)`); };
const ops: PidnsProcessOps = {
  kernel_wait4: missing('kernel_wait4'),
  group_send_sig_info: (sig, task) => signal.group_send_sig_info(sig, signal.SEND_SIG_PRIV, task, PIDTYPE_MAX),
  __fatal_signal_pending: (task) => signal.__fatal_signal_pending(task),
  send_sig: (sig, task, priv) => signal.send_sig(sig, task, priv !== 0),
  do_exit_from_syscall: missing('do_exit_from_syscall'),
  exit_tasks_rcu_stop: missing('exit_tasks_rcu_stop'),
  exit_tasks_rcu_start: missing('exit_tasks_rcu_start'),
};
/** Install the process-lifecycle functions (exit.ts does, at module load). */
export function set_pidns_process_ops(o: Partial<PidnsProcessOps>): void {
  Object.assign(ops, o);
}

/** include/uapi/linux/reboot.h commands (int32). */
export const LINUX_REBOOT_CMD_RESTART = 0x01234567;
export const LINUX_REBOOT_CMD_HALT = 0xcdef0123 | 0;
export const LINUX_REBOOT_CMD_CAD_ON = 0x89abcdef | 0;
export const LINUX_REBOOT_CMD_CAD_OFF = 0;
export const LINUX_REBOOT_CMD_POWER_OFF = 0x4321fedc;
export const LINUX_REBOOT_CMD_RESTART2 = 0xa1b2c3d4 | 0;

export { RCB_DELAYED_FREE_PIDNS };

/** zap_pid_ns_processes restart phases (TASK.zap_phase). */
export const ZAP_IDLE = 0;
export const ZAP_WAIT4 = 1; // in the kernel_wait4(-1, __WALL) loop
export const ZAP_PIDS = 2; // in the pid_allocated == init_pids loop
export const ZAP_PIDS_SRCU_STOPPED = 3; // same, asleep after exit_tasks_rcu_stop() (the first-fix variant)

/** &init_pid_ns (a function declaration: bound before any module body runs, cycle or not). */
export function init_pid_ns(): number {
  return mem[kg + G.init_pid_ns]!;
}

/** Re-exported for callers that look for it next to the namespace code (defined in pid.ts). */
export { task_active_pid_ns };

// ---- references ---------------------------------------------------------------------------------

/** get_pid_ns (include/linux/pid_namespace.h): init_pid_ns is not counted. */
export function get_pid_ns(ns: number): number {
  if (ns !== mem[kg + G.init_pid_ns]) Atomics.add(mem, ns + PIDNS.kref, 1);
  return ns;
}

/**
 * put_pid_ns: drop a reference; a namespace whose count reaches 0 is destroyed and the reference it
 * held on its parent is dropped in turn (the loop walks up, stopping at init_pid_ns).
 */
export function put_pid_ns(ns: number): void {
  const init = mem[kg + G.init_pid_ns]!;
  while (ns && ns !== init) {
    const parent = mem[ns + PIDNS.parent]!;
    if (Atomics.sub(mem, ns + PIDNS.kref, 1) !== 1) break;
    destroy_pid_namespace(ns);
    ns = parent;
  }
}

/** destroy_pid_namespace (free_pid_ns): the memory goes after a grace period (1adfcb03e31b). */
function destroy_pid_namespace(ns: number): void {
  // ns_free_inum, idr_destroy: nothing to release in the model (the bitmap slot belongs to the ns slot).
  if ((mem[kg + G.bug_switches]! & BUG_FREE_WITHOUT_GP) !== 0) delayed_free_pidns(ns);
  else call_rcu(ns + PIDNS.rcu, RCB_DELAYED_FREE_PIDNS, ns);
}

/** delayed_free_pidns: the call_rcu callback: uncharge the ucount, put the user namespace, free. */
function delayed_free_pidns(ns: number): void {
  const user_ns = mem[ns + PIDNS.user_ns]!;
  dec_pid_namespaces(user_ns);
  put_user_ns(user_ns);
  kmem_cache_free(SLAB_PIDNS, ns, PIDNS.poison);
}

register_rcu_callback(RCB_DELAYED_FREE_PIDNS, delayed_free_pidns);

// ---- creation -----------------------------------------------------------------------------------

/** The struct pid cache of a level exists (pid_cache[] of kernel/pid_namespace.c; level 0 at boot). */
function pid_cache_slot(level: number): number {
  return kg + G.pid_cache_created + level;
}

/**
 * create_pid_cachep (kernel/pid_namespace.c): make sure the struct pid cache for `level` exists.
 * Returns 1 (exists), 0 (kmem_cache_create failed: the machine's struct pid holds only
 * config.maxLevel + 1 numbers), or SLEEP while waiting for pid_caches_mutex (call again).
 * The lockless READ_ONCE fast path is skipped when current is resuming on the mutex: the hand-off
 * made it the owner, so it must go through mutex_lock to unlock it.
 */
function create_pid_cachep(level: number): number {
  const pkc = pid_cache_slot(level);
  const m = kg + G.pid_caches_mutex;
  const t = current;
  const resuming = t !== 0 && mem[t + TASK.wait_chan] === WCHAN_MUTEX && mem[t + TASK.wait_obj] === m;
  if (!resuming && Atomics.load(mem, pkc) !== 0) return 1;
  // No task (the main thread driving a stopped machine): nothing runs concurrently, and a mutex
  // needs an owner task, so the cache is created without it.
  if (t !== 0 && mutex_lock(m) === SLEEP) return SLEEP;
  // Name collision forces to do allocation under mutex.
  if (mem[pkc] === 0 && level <= config.maxLevel) Atomics.store(mem, pkc, 1);
  if (t !== 0) mutex_unlock(m);
  // current can fail, but someone else can succeed.
  return Atomics.load(mem, pkc) !== 0 ? 1 : 0;
}

/**
 * create_pid_namespace (kernel/pid_namespace.c): a new pid namespace below `parent`, owned by
 * `user_ns`: kref 1, a reference on the parent and on user_ns, pid_allocated = PIDNS_ADDING, an
 * empty idr. Errors: EINVAL (user_ns is not parent->user_ns or below it), ENOSPC (level >
 * MAX_PID_NS_LEVEL, or the UCOUNT_PID_NAMESPACES limit), ENOMEM (no pid_namespace, or no pid
 * cache for the level).
 *
 * Deliberate reordering: the kernel creates the pid cache after charging the ucount and allocating
 * the namespace. Here create_pid_cachep runs FIRST, right after the side-effect-free checks,
 * because pid_caches_mutex may sleep and the call is then restarted from the top: nothing may have
 * been charged or allocated by then. Its result is only acted on at the kernel's place (after the
 * ucount and slab checks), so the errno precedence is the kernel's.
 * Returns the namespace, -errno, or SLEEP.
 */
export function create_pid_namespace(user_ns: number, parent: number): number {
  const level = mem[parent + PIDNS.level]! + 1;
  if (!in_userns(mem[parent + PIDNS.user_ns]!, user_ns)) return -EINVAL;
  if (level > MAX_PID_NS_LEVEL) return -ENOSPC;
  const cachep = create_pid_cachep(level);
  if (cachep === SLEEP) return SLEEP;
  if (!inc_pid_namespaces(user_ns)) return -ENOSPC;
  const ns = should_fail_alloc(current) ? 0 : kmem_cache_alloc(SLAB_PIDNS);
  if (!ns) {
    dec_pid_namespaces(user_ns);
    return -ENOMEM;
  }
  idr_init(ns);
  if (!cachep) {
    kmem_cache_free(SLAB_PIDNS, ns);
    dec_pid_namespaces(user_ns);
    return -ENOMEM;
  }
  mem[ns + PIDNS.inum] = ns_alloc_inum(SLAB_PIDNS, ns);
  mem[ns + PIDNS.level] = level;
  mem[ns + PIDNS.parent] = get_pid_ns(parent);
  mem[ns + PIDNS.user_ns] = get_user_ns(user_ns);
  mem[ns + PIDNS.ucounts_uid] = current ? mem[current + TASK.cred_uid]! : 0;
  mem[ns + PIDNS.child_reaper] = 0;
  mem[ns + PIDNS.reboot] = 0;
  mem[ns + PIDNS.pid_allocated] = PIDNS_ADDING;
  // 6.14+: a new namespace has no limit of its own ("pid: Do not set pid_max in new pid
  // namespaces", Fixes: 7863dcc72d0f4): every ancestor's pid_max still bounds its level.
  mem[ns + PIDNS.pid_max] = PID_MAX_LIMIT;
  Atomics.store(mem, ns + PIDNS.kref, 1); // kref_init
  mark_live(ns, PIDNS.poison);
  return ns;
}

/**
 * copy_pid_ns (kernel/pid_namespace.c): without CLONE_NEWPID a new reference on old_ns; with it,
 * EINVAL unless old_ns is current's active namespace (a task that setns'd or unshared its
 * pid_ns_for_children can not nest again before forking), else create_pid_namespace (which may
 * return SLEEP: the caller must have made no side effects yet, or keep its own phase).
 */
export function copy_pid_ns(flags: number, user_ns: number, old_ns: number): number {
  if ((flags & CLONE_NEWPID) === 0) return get_pid_ns(old_ns);
  if (task_active_pid_ns(current) !== old_ns) return -EINVAL;
  return create_pid_namespace(user_ns, old_ns);
}

/**
 * Boot half of pid_idr_init: init_pid_ns (level 0, kref 2, PIDNS_ADDING, no child reaper yet: K2's
 * boot makes init_task pid 1 and its reaper) and its pid cache.
 */
export function init_pid_ns_boot(): number {
  const ns = kmem_cache_alloc(SLAB_PIDNS);
  if (!ns) throw new Error('boot: pid_namespace cache empty');
  idr_init(ns);
  mem[ns + PIDNS.kref] = 2;
  mem[ns + PIDNS.level] = 0;
  mem[ns + PIDNS.parent] = 0;
  mem[ns + PIDNS.user_ns] = get_user_ns(init_user_ns());
  mem[ns + PIDNS.child_reaper] = 0;
  mem[ns + PIDNS.pid_allocated] = PIDNS_ADDING;
  mem[ns + PIDNS.inum] = PROC_PID_INIT_INO;
  // init_pid_ns.pid_max: PID_MAX_DEFAULT raised by pid_idr_init; here the configured pid_max.
  mem[ns + PIDNS.pid_max] = config.pidMax;
  mark_live(ns, PIDNS.poison);
  mem[kg + G.init_pid_ns] = ns;
  mem[pid_cache_slot(0)] = 1;
  // init_pid_ns is charged to nobody (static in the kernel), so delayed_free_pidns never runs for it.
  return ns;
}

// ---- zap ----------------------------------------------------------------------------------------

/**
 * zap_pid_ns_processes (kernel/pid_namespace.c), called by the last thread of the namespace's init
 * group from do_exit (find_child_reaper, tasklist_lock dropped). Restartable: returns 0 when done,
 * SLEEP while waiting (in kernel_wait4, or for pid_allocated); the phase is TASK.zap_phase.
 *  1. disable_pid_allocation: no new process may enter;
 *  2. SIGCHLD -> SIG_IGN under siglock, so terminated children autoreap;
 *  3. under rcu_read_lock + read_lock(tasklist_lock), SIGKILL every task with a pid >= 2 that has
 *     no fatal signal pending yet (group_send_sig_info);
 *  4. kernel_wait4(-1, __WALL) until -ECHILD, clearing TIF_SIGPENDING before each call;
 *  5. sleep (TASK_INTERRUPTIBLE, WCHAN_ZAP_PIDS) until pid_allocated == init_pids (1 for the
 *     group leader, 2 for another thread: the zombie leader keeps pid 1); free_pid wakes us. A
 *     signal wake-up only re-checks and sleeps again. Only the "first fix" variant of the SRCU
 *     story (BUG_RCU_TASKS_EXIT_SRCU without BUG_ZAP_HOLDS_SRCU: 28319d6dc5e2 applied, not yet
 *     reverted by 9855c37edf00) drops tasks_rcu_exit_srcu around the sleep
 *     (exit_tasks_rcu_stop/start); BUG_ZAP_INIT_PIDS_ONE waits for 1 always; BUG_ZAP_NO_PID_WAIT
 *     skips the wait (before 6347e9009104); BUG_ZAP_WAIT_CHILDREN waits instead, uninterruptibly,
 *     until current->children is empty (6347e9009104's design: "sys_wait4() above can't reap the
 *     TASK_DEAD children", v3.5), woken by __unhash_process (exit.ts __exit_signal);
 *  6. a reboot_pid_ns'd namespace sets the group exit code.
 */
/**
 * clear_thread_flag(TIF_SIGPENDING) and, since 7fea700e04bd, clear_thread_flag(TIF_NOTIFY_SIGNAL):
 * kernel_wait4 returns -ERESTARTSYS at once while signal_pending() is true, so a flag left set turns
 * the wait loop into a busy loop (BUG_ZAP_KEEPS_NOTIFY_SIGNAL).
 */
function clear_zap_signal_flags(me: number, bugs: number): void {
  mem[me + TASK.sigpending] = 0;
  if ((bugs & BUG_ZAP_KEEPS_NOTIFY_SIGNAL) === 0) Atomics.store(mem, me + TASK.notify_signal, 0);
}

export function zap_pid_ns_processes(pid_ns: number): number {
  const me = current;
  const bugs = mem[kg + G.bug_switches]!;
  let phase = mem[me + TASK.zap_phase]!;
  if (phase === ZAP_IDLE) {
    // Don't allow any more processes into the pid namespace.
    disable_pid_allocation(pid_ns);
    // Ignore SIGCHLD causing any terminated children to autoreap.
    const sighand = mem[me + TASK.sighand]! || mem[me + TASK.signal]!;
    if (sighand) {
      spin_lock_irq(sighand + SIG.siglock);
      // me->sighand->action[SIGCHLD - 1].sa.sa_handler = SIG_IGN
      mem[sighand + SIG.action_ign] = mem[sighand + SIG.action_ign]! | sigmask(SIGCHLD);
      mem[sighand + SIG.action_caught] = mem[sighand + SIG.action_caught]! & ~sigmask(SIGCHLD);
      spin_unlock_irq(sighand + SIG.siglock);
    }
    // Signal every remaining pid of the namespace (threads too).
    rcu_read_lock();
    read_lock(kg + G.tasklist_lock);
    for (let pid = idr_get_next_pid(pid_ns, 2); pid; pid = idr_get_next_pid(pid_ns, idr_nextid + 1)) {
      const task = pid_task(pid, PIDTYPE_PID);
      if (task && !ops.__fatal_signal_pending(task)) ops.group_send_sig_info(SIGKILL, task);
    }
    read_unlock(kg + G.tasklist_lock);
    rcu_read_unlock();
    phase = ZAP_WAIT4;
    mem[me + TASK.zap_phase] = phase;
    clear_zap_signal_flags(me, bugs);
  }
  if (phase === ZAP_WAIT4) {
    // Reap the EXIT_ZOMBIE children we had before we ignored SIGCHLD.
    for (;;) {
      const rc = ops.kernel_wait4(-1, __WALL);
      if (rc === SLEEP) return SLEEP;
      if (rc === -ECHILD) break;
      clear_zap_signal_flags(me, bugs); // before the next call
    }
    phase = ZAP_PIDS;
    mem[me + TASK.zap_phase] = phase;
  }
  if ((bugs & BUG_ZAP_WAIT_CHILDREN) !== 0 && (bugs & BUG_ZAP_NO_PID_WAIT) === 0) {
    // v3.5: the EXIT_DEAD children stay on ->children until __unhash_process, which wakes us when
    // it takes the last one off (the sleep is published under tasklist_lock: it pairs with that
    // wake-up, made under write_lock_irq(tasklist_lock)).
    read_lock(kg + G.tasklist_lock);
    const need_wait = mem[me + TASK.children] !== 0;
    if (need_wait) set_current_state(TASK_UNINTERRUPTIBLE, WCHAN_ZAP_PIDS, pid_ns);
    read_unlock(kg + G.tasklist_lock);
    if (need_wait) return SLEEP;
  } else if ((bugs & BUG_ZAP_NO_PID_WAIT) === 0) {
    const init_pids = (bugs & BUG_ZAP_INIT_PIDS_ONE) !== 0 ? 1 : thread_group_leader(me) ? 1 : 2;
    const srcu_stop = (bugs & BUG_RCU_TASKS_EXIT_SRCU) !== 0 && (bugs & BUG_ZAP_HOLDS_SRCU) === 0;
    if (phase === ZAP_PIDS_SRCU_STOPPED) {
      ops.exit_tasks_rcu_start(); // after schedule()
      mem[me + TASK.zap_phase] = ZAP_PIDS;
    }
    set_current_state(TASK_INTERRUPTIBLE, WCHAN_ZAP_PIDS, pid_ns);
    mem[me + TASK.wq_arg] = init_pids; // what it waits for: the wait-for graph reads it
    if (Atomics.load(mem, pid_ns + PIDNS.pid_allocated) !== init_pids) {
      if (srcu_stop) {
        ops.exit_tasks_rcu_stop(); // release tasks_rcu_exit_srcu across schedule()
        mem[me + TASK.zap_phase] = ZAP_PIDS_SRCU_STOPPED;
      }
      return SLEEP;
    }
    set_running();
  }
  const reboot = mem[pid_ns + PIDNS.reboot]!;
  const sig = mem[me + TASK.signal]!;
  if (reboot && sig) mem[sig + SIG.group_exit_code] = reboot;
  mem[me + TASK.zap_phase] = ZAP_IDLE;
  return 0;
}

// ---- ns_last_pid (pid_ns_ctl_handler) -----------------------------------------------------------

/** The active pid namespace of a task for the sysctl: kernel threads without a pid see init_pid_ns. */
function active_ns_of(t: number): number {
  return task_active_pid_ns(t) || init_pid_ns();
}

/** read /proc/sys/kernel/ns_last_pid: idr cursor - 1 of current's active pid namespace. */
export function ns_last_pid_read(): number {
  return Atomics.load(mem, active_ns_of(current) + PIDNS.idr_next) - 1; // idr_get_cursor: READ_ONCE
}

/**
 * write /proc/sys/kernel/ns_last_pid: EPERM without checkpoint_restore_ns_capable in the
 * namespace's user namespace, EINVAL outside 0..pid_max of that namespace (proc_dointvec_minmax;
 * the bound is the namespace's own pid_max on 6.18: checked on this machine, pid_max 1000 accepts
 * 1000 and refuses 1001); sets the cursor to value + 1 (written without pidmap_lock, as the
 * kernel's idr_set_cursor).
 */
export function ns_last_pid_write(value: number): number {
  const pid_ns = active_ns_of(current);
  if (!checkpoint_restore_ns_capable(current, mem[pid_ns + PIDNS.user_ns]!)) return -EPERM;
  if (value < 0 || value > pidns_pid_max(pid_ns)) return -EINVAL;
  Atomics.store(mem, pid_ns + PIDNS.idr_next, value + 1);
  return 0;
}

register_syscall(SYS_NS_LAST_PID_READ, 'ns_last_pid_read', () => ns_last_pid_read());
register_syscall(SYS_NS_LAST_PID_WRITE, 'ns_last_pid_write', (v) => ns_last_pid_write(v));

// ---- PIDNS_REQ_SET_LAST_PID_VEC (seed 001) ------------------------------------------------------

/** isdigit / isspace of the kernel's vsscanf. */
const is_digit = (c: number): boolean => c >= 48 && c <= 57;
const is_space = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

/**
 * set_last_pid_vec (seed 001): `chars[0 .. size)` is the ':'-separated vector, the opened
 * namespace's last pid first, then its parent's ... Checks, in the seed's order:
 *  - EINVAL when pid_ns has no child reaper (under read_lock(tasklist_lock));
 *  - EINVAL when size >= PAGE_SIZE;
 *  then for each number, writing each level before looking at the next:
 *  - EPERM without CAP_SYS_ADMIN in that level's user namespace;
 *  - EINVAL when the number does not scan ("%d": optional spaces, optional '-', digits) or is
 *    outside 0..pid_max;
 *  - the level's ns_last_pid is written (cursor = pid + 1);
 *  - EINVAL when a ':' follows but the level has no parent (more numbers than levels).
 * So an error at a later level leaves the earlier levels written, exactly as the seed's loop.
 * A 0 char ends the string (the vmalloc'd copy is NUL-terminated at data_size).
 */
export function set_last_pid_vec(pid_ns: number, chars: ArrayLike<number>, size: number): number {
  let ret = 0;
  read_lock(kg + G.tasklist_lock);
  if (!mem[pid_ns + PIDNS.child_reaper]) ret = -EINVAL;
  read_unlock(kg + G.tasklist_lock);
  if (ret) return ret;
  if (size >= PAGE_SIZE) return -EINVAL;
  const pid_max = mem[kg + G.pid_max]!;
  let len = 0;
  while (len < size && chars[len] !== 0) len++;
  let p = 0;
  let ns = pid_ns;
  while (p >= 0 && p < len) {
    if (!ns_capable(current, mem[ns + PIDNS.user_ns]!, CAP_SYS_ADMIN)) return -EPERM;
    // sscanf(p, "%d", &pid): kernel vsscanf skips spaces, takes one '-', needs a digit.
    let q = p;
    while (q < len && is_space(chars[q]!)) q++;
    let neg = false;
    if (q < len && chars[q] === 45 /* '-' */) { neg = true; q++; }
    if (!(q < len && is_digit(chars[q]!))) return -EINVAL;
    let v = 0;
    while (q < len && is_digit(chars[q]!)) v = (Math.imul(v, 10) + (chars[q++]! - 48)) | 0; // wraps as the int store does
    const pid = neg ? -v | 0 : v;
    if (pid < 0 || pid > pid_max) return -EINVAL;
    // Write directly: see the comment in pid_ns_ctl_handler().
    Atomics.store(mem, ns + PIDNS.idr_next, pid + 1);
    // p = strchr(p, ':')
    let c = p;
    while (c < len && chars[c] !== 58 /* ':' */) c++;
    p = c < len ? c : -1;
    ns = mem[ns + PIDNS.parent]!;
    if (p >= 0) {
      if (!ns) return -EINVAL;
      p++;
    }
  }
  return 0;
}

/**
 * ioctl(PIDNS_REQ_SET_LAST_PID_VEC) on an opened pid namespace: with a JS string (tests, the
 * scripting API), or with the user-memory form (addr, len) that SYS_PIDNS_IOCTL_SET_LAST_PID_VEC
 * passes (see pidns_ioctl_set_last_pid_vec_user).
 */
export function pidns_ioctl_set_last_pid_vec(pid_ns: number, str: string): number;
export function pidns_ioctl_set_last_pid_vec(pid_ns: number, addr: number, len: number): number;
export function pidns_ioctl_set_last_pid_vec(pid_ns: number, s: string | number, len = 0): number {
  if (typeof s === 'number') return pidns_ioctl_set_last_pid_vec_user(pid_ns, s, len);
  const codes = new Int32Array(s.length);
  for (let i = 0; i < s.length; i++) codes[i] = s.charCodeAt(i);
  return set_last_pid_vec(pid_ns, codes, s.length);
}

/**
 * The ioctl's user-memory form for SYS_PIDNS_IOCTL_SET_LAST_PID_VEC(fd, addr, len): the string is
 * `len` int32 words (one char each) at `addr` in the program region. K3's nsfs resolves fd to the
 * namespace and calls this. The size check comes before the copy (EINVAL before EFAULT, as the
 * seed); EFAULT when the words are outside the program region.
 */
export function pidns_ioctl_set_last_pid_vec_user(pid_ns: number, addr: number, len: number): number {
  let ret = 0;
  read_lock(kg + G.tasklist_lock);
  if (!mem[pid_ns + PIDNS.child_reaper]) ret = -EINVAL;
  read_unlock(kg + G.tasklist_lock);
  if (ret) return ret;
  if (len < 0 || len >= PAGE_SIZE) return -EINVAL;
  const r = regions.programs;
  if (addr < r.base || addr + len > r.base + r.words) return -EFAULT;
  return set_last_pid_vec(pid_ns, mem.subarray(addr, addr + len), len);
}

// ---- nsfs operations (pidns_operations / pidns_for_children_operations) -------------------------

/** pidns_get: a reference on the task's active pid namespace, or 0 (a released task). */
export function pidns_get(task: number): number {
  rcu_read_lock();
  const ns = task_active_pid_ns(task);
  if (ns) get_pid_ns(ns);
  rcu_read_unlock();
  return ns;
}

/**
 * pidns_for_children_get: a reference on the task's pid_ns_for_children (under task_lock), or 0
 * when the task has no nsproxy or the namespace has no child reaper yet (checked under
 * read_lock(tasklist_lock)): /proc/PID/ns/pid_for_children of a fresh unshare can not be opened.
 */
export function pidns_for_children_get(task: number): number {
  let ns = 0;
  spin_lock(task + TASK.alloc_lock);
  const nsproxy = mem[task + TASK.nsproxy]!;
  if (nsproxy) {
    ns = mem[nsproxy + NSPROXY.pid_ns_for_children]!;
    get_pid_ns(ns);
  }
  spin_unlock(task + TASK.alloc_lock);
  if (ns) {
    read_lock(kg + G.tasklist_lock);
    if (!mem[ns + PIDNS.child_reaper]) {
      put_pid_ns(ns);
      ns = 0;
    }
    read_unlock(kg + G.tasklist_lock);
  }
  return ns;
}

/** pidns_put. */
export function pidns_put(ns: number): void {
  put_pid_ns(ns);
}

/** What pidns_install reads of struct nsset (K3's NsSet has these fields). */
export interface PidnsNsset {
  nsproxy: number;
  cred_user_ns: number;
}

/**
 * pidns_install (setns(fd, CLONE_NEWPID)) for task `t` (current) into `new_ns`, updating the
 * nsproxy being prepared (nsset->nsproxy). `cred_user_ns` is nsset->cred->user_ns (the task's
 * cred user namespace unless the same setns also enters a user namespace). Two call forms:
 * (nsset, new_ns) as proc_ns_operations.install, with t = current; or (t, new_ns, nsproxy[,
 * cred_user_ns]).
 * EPERM without CAP_SYS_ADMIN in new_ns's owner and in the cred's user namespace; EINVAL unless
 * new_ns is the active namespace or one of its descendants (processes and their children can not
 * escape their active pid namespace). On success pid_ns_for_children is replaced (the old
 * reference dropped, a new one taken) and 0 returned.
 */
export function pidns_install(nsset: PidnsNsset, new_ns: number): number;
export function pidns_install(t: number, new_ns: number, nsproxy: number, cred_user_ns?: number): number;
export function pidns_install(a: number | PidnsNsset, new_ns: number, np = 0, cu = 0): number {
  let t: number, nsproxy: number, cred_user_ns: number;
  if (typeof a === 'number') {
    t = a;
    nsproxy = np;
    cred_user_ns = cu || mem[t + TASK.cred_user_ns]! || init_user_ns();
  } else {
    t = current;
    nsproxy = a.nsproxy;
    cred_user_ns = a.cred_user_ns || mem[t + TASK.cred_user_ns]! || init_user_ns();
  }
  const active = task_active_pid_ns(t) || init_pid_ns();
  if (!ns_capable(t, mem[new_ns + PIDNS.user_ns]!, CAP_SYS_ADMIN) || !ns_capable(t, cred_user_ns, CAP_SYS_ADMIN)) return -EPERM;
  const al = mem[active + PIDNS.level]!;
  if (mem[new_ns + PIDNS.level]! < al) return -EINVAL;
  let ancestor = new_ns;
  while (mem[ancestor + PIDNS.level]! > al) ancestor = mem[ancestor + PIDNS.parent]!;
  if (ancestor !== active) return -EINVAL;
  put_pid_ns(mem[nsproxy + NSPROXY.pid_ns_for_children]!);
  mem[nsproxy + NSPROXY.pid_ns_for_children] = get_pid_ns(new_ns);
  return 0;
}

/**
 * pidns_get_parent (NS_GET_PARENT): a reference on ns's parent when current's active namespace is
 * that parent or one of its ancestors; -EPERM otherwise (including for init_pid_ns, which has none).
 */
export function pidns_get_parent(ns: number): number {
  const active = task_active_pid_ns(current) || init_pid_ns();
  const pid_ns = mem[ns + PIDNS.parent]!;
  for (let p = pid_ns; ; p = mem[p + PIDNS.parent]!) {
    if (!p) return -EPERM;
    if (p === active) break;
  }
  return get_pid_ns(pid_ns);
}

/** pidns_owner: the owning user namespace. */
export function pidns_owner(ns: number): number {
  return mem[ns + PIDNS.user_ns]!;
}

// ---- reboot -------------------------------------------------------------------------------------

/** reboot_pid_ns result: the namespace's init was killed, now do_exit(0) must follow. */
export const REBOOT_PID_NS_EXIT = 1;

/**
 * reboot_pid_ns (kernel/pid_namespace.c): in init_pid_ns 0 (the caller reboots the machine). In a
 * child namespace record the group exit signal (SIGHUP for RESTART/RESTART2, SIGINT for
 * POWER_OFF/HALT; EINVAL for other commands), SIGKILL the namespace's init under
 * read_lock(tasklist_lock), and return REBOOT_PID_NS_EXIT: the caller then does do_exit(0)
 * (sys_reboot below chains into do_exit_from_syscall).
 */
export function reboot_pid_ns(pid_ns: number, cmd: number): number {
  if (pid_ns === init_pid_ns()) return 0;
  switch (cmd) {
    case LINUX_REBOOT_CMD_RESTART2:
    case LINUX_REBOOT_CMD_RESTART:
      mem[pid_ns + PIDNS.reboot] = SIGHUP;
      break;
    case LINUX_REBOOT_CMD_POWER_OFF:
    case LINUX_REBOOT_CMD_HALT:
      mem[pid_ns + PIDNS.reboot] = SIGINT;
      break;
    default:
      return -EINVAL;
  }
  read_lock(kg + G.tasklist_lock);
  const reaper = mem[pid_ns + PIDNS.child_reaper]!;
  if (reaper) ops.send_sig(SIGKILL, reaper, 1);
  read_unlock(kg + G.tasklist_lock);
  return REBOOT_PID_NS_EXIT;
}


/**
 * sys_reboot(cmd) of the model (kernel/reboot.c): EPERM without CAP_SYS_BOOT in the active pid
 * namespace's user namespace; in a child namespace reboot_pid_ns then do_exit(0) (EXITED, or SLEEP
 * while do_exit sleeps: on restart, PF_EXITING says we are already inside do_exit). In init_pid_ns
 * the machine is not rebooted: valid commands return 0, others EINVAL.
 */
export function sys_reboot(cmd: number): number {
  const t = current;
  if ((mem[t + TASK.flags]! & PF_EXITING) !== 0) return ops.do_exit_from_syscall(0);
  const pid_ns = active_ns_of(t);
  if (!ns_capable(t, mem[pid_ns + PIDNS.user_ns]!, CAP_SYS_BOOT)) return -EPERM;
  const r = reboot_pid_ns(pid_ns, cmd);
  if (r === REBOOT_PID_NS_EXIT) return ops.do_exit_from_syscall(0);
  if (r) return r;
  switch (cmd) {
    case LINUX_REBOOT_CMD_RESTART: case LINUX_REBOOT_CMD_RESTART2: case LINUX_REBOOT_CMD_HALT:
    case LINUX_REBOOT_CMD_POWER_OFF: case LINUX_REBOOT_CMD_CAD_ON: case LINUX_REBOOT_CMD_CAD_OFF:
      return 0;
    default:
      return -EINVAL;
  }
}

/**
 * Invariants a CPU checks at a safe point, on every return to user mode, while a stress run is
 * configured (G.stress[STRESS_ACTIVE_NS] != 0). Cheap by construction: a few loads per syscall.
 *
 * - A task's active pid namespace (the namespace of its struct pid at its own level,
 *   task_active_pid_ns) never changes during its life.
 * - The namespace its children will be born in (nsproxy->pid_ns_for_children) is the active one
 *   or a descendant of it: setns/unshare only ever enter such a namespace (pidns_install's rule).
 *
 * The per-task side table lives in the program region (SLOT_WORDS per task slot, src/stress/ops.ts);
 * a reused slot is recognised by its new task id and starts afresh.
 */
import { G, NSPROXY, PID, PIDNS, STRESS_ACTIVE_NS, STRESS_DEPTH_SEEN, TASK, UCALL, UPID_NS, UPID_WORDS } from '../mm/layout.js';
import { OP_NONE } from '../kernel/entry.js';
import { kg, mem, obj_index, regions, SLAB_TASK } from '../mm/memory.js';
import { read_lock, read_unlock } from '../locking/qrwlock.js';
import { is_controlled } from '../sched/hook.js';
import { record_violation, V_INVARIANT } from '../locking/violations.js';
import { SLOT_ACTIVE_NS, SLOT_ID, SLOT_WORDS } from './ops.js';
import { ERESTARTNOHAND, ERESTARTSYS } from '../kernel/errno.js';
import { JOBCTL_STOPPED, LD_TREE_CHECK, list_debug_snapshot, SIGCHLD } from '../kernel/sched_task.js';
import { find_task_by_vpid } from '../kernel/pid.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { INV_WAIT_REAPED_TWICE, INV_WAIT_SPURIOUS_ECHILD } from '../kernel/user_assertions.js';

/** Invariant codes (violation record a) of the stress module; 0x100.. to stay clear of the kernel's. */
export const INV_ACTIVE_NS_CHANGED = 0x101;
export const INV_NS_NOT_DESCENDANT = 0x102;
export const INV_TORTURE_COUNTER = 0x103;
export const INV_RW_OVERLAP = 0x104;
export const INV_AUDIT = 0x105;
export const INV_LEAK = 0x106;
export const INV_TASKS_LEFT = 0x107;
export const INV_CALLBACKS_LEFT = 0x108;
export const INV_TASK_TREE = 0x109;
export const INV_STOPPED_RUNS = 0x10a;
export const INV_ERESTART_LEAKED = 0x10b;
export const INV_EXEC_NOT_ALONE = 0x10c;
export const INV_CLONE_PARENT_EXIT_SIGNAL = 0x10d;

export const INVARIANT_NAMES: Record<number, string> = {
  [INV_ACTIVE_NS_CHANGED]: 'active pid namespace of a task changed',
  [INV_NS_NOT_DESCENDANT]: 'pid_ns_for_children is not the active namespace or a descendant',
  [INV_TORTURE_COUNTER]: 'lock-guarded counter differs from the acquisitions (mutual exclusion)',
  [INV_RW_OVERLAP]: 'rwlock reader and writer inside together',
  [INV_AUDIT]: 'kernel audit failed',
  [INV_LEAK]: 'objects left allocated after every task was reaped',
  [INV_TASKS_LEFT]: 'tasks left after the final kill and reap',
  [INV_CALLBACKS_LEFT]: 'RCU callbacks never ran',
  [INV_TASK_TREE]: 'task tree inconsistent (real_parent and children lists disagree)',
  [INV_STOPPED_RUNS]: 'a task stopped by job control returned to user mode',
  [INV_ERESTART_LEAKED]: 'a signal-interrupted call returned -ERESTART* to user mode',
  [INV_WAIT_SPURIOUS_ECHILD]: 'wait4 returned ECHILD while the named pid was still the caller\'s child',
  [INV_WAIT_REAPED_TWICE]: 'wait4 reported a child that the caller had already reaped',
  [INV_EXEC_NOT_ALONE]: 'execve returned 0 but the task is not the only thread of its group, or its pid is not the group\'s',
  [INV_CLONE_PARENT_EXIT_SIGNAL]: 'a CLONE_PARENT child has an exit signal other than SIGCHLD that its creator, now its sibling, does not have',
};

/** task_active_pid_ns(t): the namespace of t's struct pid at the pid's own level; 0 without a pid. */
export function active_pid_ns(m: Int32Array, t: number): number {
  const pid = m[t + TASK.pid]!;
  if (!pid) return 0;
  const level = m[pid + PID.level]!;
  return m[pid + PID.SIZE + level * UPID_WORDS + UPID_NS]!;
}

/**
 * same_thread_group(a, b) as a peek (include/linux/sched/signal.h: one signal_struct), for the
 * choices a program makes from what it sees of other tasks: the kernel's version (ns_common.ts)
 * is kernel code, whose read of another task's group_leader needs RCU or tasklist_lock.
 */
export function same_process(m: Int32Array, a: number, b: number): boolean {
  const sa = m[a + TASK.signal]!;
  return a === b || (sa !== 0 && sa === m[b + TASK.signal]) || (m[a + TASK.group_leader] || a) === (m[b + TASK.group_leader] || b);
}

/** Is `ns` equal to `anc` or below it? (walks the parent chain, at most MAX_PID_NS_LEVEL steps). */
export function pidns_is_descendant(m: Int32Array, ns: number, anc: number): boolean {
  for (let i = 0; ns && i <= 40; i++) {
    if (ns === anc) return true;
    ns = m[ns + PIDNS.parent]!;
  }
  return false;
}

/** The side-table slot of task t (reset when the slot now holds another task); 0 without a table. */
export function task_slot(t: number): number {
  const table = mem[kg + G.stress + STRESS_ACTIVE_NS]!;
  if (table === 0) return 0;
  const e = table + obj_index(SLAB_TASK, t) * SLOT_WORDS;
  const id = mem[t + TASK.id]!;
  if (mem[e + SLOT_ID] !== id) {
    mem.fill(0, e, e + SLOT_WORDS);
    mem[e + SLOT_ID] = id;
  }
  return e;
}

/**
 * Is there a task whose slot satisfies pred (its side-table entry, read only)? Every task slot of
 * the run is looked at: the entries of freed tasks keep their last words, so pred must name what
 * it looks for precisely enough (an operation in progress and its target's task id).
 */
export function some_task_slot(pred: (slot: number) => boolean): boolean {
  const table = mem[kg + G.stress + STRESS_ACTIVE_NS]!;
  if (table === 0) return false;
  const o = regions.objects[SLAB_TASK]!;
  for (let i = 0; i < o.count; i++) if (pred(table + i * SLOT_WORDS)) return true;
  return false;
}

/** Another task's slot, read only: 0 when it has none yet (task_slot would reset it for t). */
export function task_slot_peek(t: number): number {
  const table = mem[kg + G.stress + STRESS_ACTIVE_NS]!;
  if (table === 0) return 0;
  const e = table + obj_index(SLAB_TASK, t) * SLOT_WORDS;
  return mem[e + SLOT_ID] === mem[t + TASK.id] ? e : 0;
}

/** Every TREE_CHECK_EVERY-th return to user mode on a CPU checks the task's family under the lock. */
const TREE_CHECK_EVERY = 1;
let tree_tick = 0;

/**
 * The task tree, both ways, around task t, under read_lock(tasklist_lock) (every writer of these
 * lists holds it for write, so what a reader sees must be consistent): t is on its real parent's
 * children list, and each of its children names t as real parent. The walks are bounded, so a
 * corrupted (cyclic) list is reported rather than followed forever.
 */
export function check_task_family(t: number): void {
  const tl = kg + G.tasklist_lock;
  const limit = regions.objects[SLAB_TASK]!.count + 1;
  read_lock(tl, 150);
  let bad = 0;
  let other = 0;
  const rp = mem[t + TASK.real_parent]!;
  // A living task's real parent is living too: exit_notify hands the children of an exiting task
  // to a reaper in the same tasklist_lock section that makes it a zombie.
  if (rp && mem[t + TASK.exit_state] === 0 && (mem[rp + TASK.exit_state] !== 0 || mem[rp + TASK.pid] === 0)) { bad = 4; other = rp; }
  // Only a thread group leader is on its real parent's children list (copy_process links a
  // CLONE_THREAD child into the leader's thread list instead).
  if (!bad && rp && mem[t + TASK.exit_state] === 0 && mem[t + TASK.group_leader] === t) {
    let n = 0;
    let c = mem[rp + TASK.children]!;
    for (; c && c !== t && n < limit; c = mem[c + TASK.sibling_next]!) n++;
    if (c !== t) { bad = 1; other = rp; }
  }
  if (!bad) {
    let n = 0;
    for (let c = mem[t + TASK.children]!; c; c = mem[c + TASK.sibling_next]!) {
      if (++n > limit) { bad = 2; break; }
      if (mem[c + TASK.real_parent] !== t) { bad = 3; other = c; break; }
    }
  }
  // The first one keeps t's last list changes for the report (src/kernel/sched_task.ts).
  if (bad) list_debug_snapshot(LD_TREE_CHECK, other, t, 0);
  read_unlock(tl);
  if (bad) record_violation(V_INVARIANT, INV_TASK_TREE, t, other || -bad);
}

/**
 * After a successful execve (de_thread): the task is the only thread of its group and carries the
 * group's pid (a non-leader took the old leader's pid, exchange_tids). Nothing else adds threads to
 * its group before it runs again (only the group's own threads clone threads).
 */
export function exec_checks(t: number): void {
  if (mem[t + TASK.thread_next] !== t || mem[t + TASK.group_leader] !== t || mem[t + TASK.pid] !== mem[t + TASK.tgid_pid]) {
    record_violation(V_INVARIANT, INV_EXEC_NOT_ALONE, t, mem[t + TASK.thread_next]!);
  }
}

/**
 * After clone(CLONE_PARENT) returned the child's number `nr` to a group leader t: the child shares
 * t's real parent and takes t's exit signal, both read together under tasklist_lock (copy_process;
 * a reparent between two unlocked reads would pair the new parent with the old parent's signal,
 * b4e00444cab4). From then on the two move together: a reparent of their common parent's children
 * resets both to SIGCHLD (reparent_leader), and an execve only ever makes a signal SIGCHLD. So
 * while the child is still t's sibling, an exit signal other than SIGCHLD on it that t does not
 * have was never t's with this parent. Under read_lock(tasklist_lock), which every writer of
 * real_parent and exit_signal holds for write; the child is the task t forked last (fork_child),
 * so a number handed out again is not taken for it.
 */
export function clone_parent_checks(t: number, nr: number): void {
  if (mem[t + TASK.group_leader] !== t) return; // a thread's clone takes its leader's signal: not checked
  const tl = kg + G.tasklist_lock;
  rcu_read_lock();
  read_lock(tl, 151);
  const d = find_task_by_vpid(nr);
  const sig = d && d === mem[t + TASK.fork_child] && mem[d + TASK.real_parent] === mem[t + TASK.real_parent] ? mem[d + TASK.exit_signal]! : SIGCHLD;
  const mine = mem[t + TASK.exit_signal]!;
  read_unlock(tl);
  rcu_read_unlock();
  if (sig !== SIGCHLD && sig !== mine) record_violation(V_INVARIANT, INV_CLONE_PARENT_EXIT_SIGNAL, nr, sig);
}

export function user_mode_checks(t: number): void {
  const e = task_slot(t);
  if (e === 0) return;
  // Job control: a stopped task runs no user code until SIGCONT (or dies of SIGKILL).
  if ((mem[t + TASK.jobctl]! & JOBCTL_STOPPED) !== 0) record_violation(V_INVARIANT, INV_STOPPED_RUNS, t, mem[t + TASK.jobctl]!);
  // A call interrupted by a signal comes back as -EINTR or is restarted: -ERESTART* never reaches
  // user mode (get_signal's restart rules; last_ret is what user space sees). Only when nothing is
  // left to run on the way out (no get_signal or restarted call pending in ucall).
  const r = mem[t + TASK.last_ret]!;
  if (mem[t + TASK.ucall + UCALL.op] === OP_NONE && r <= -ERESTARTSYS && r >= -ERESTARTNOHAND) {
    record_violation(V_INVARIANT, INV_ERESTART_LEAKED, t, r);
  }
  const ns = active_pid_ns(mem, t);
  if (ns === 0) return; // a bare kernel thread
  // Deepest level reached (stats).
  const lvl = mem[ns + PIDNS.level]!;
  const dw = kg + G.stress + STRESS_DEPTH_SEEN;
  if (lvl > mem[dw]!) Atomics.store(mem, dw, Math.max(lvl, Atomics.load(mem, dw)));
  if (mem[e + SLOT_ACTIVE_NS] === 0) mem[e + SLOT_ACTIVE_NS] = ns;
  else if (mem[e + SLOT_ACTIVE_NS] !== ns) {
    record_violation(V_INVARIANT, INV_ACTIVE_NS_CHANGED, t, ns);
    mem[e + SLOT_ACTIVE_NS] = ns;
  }
  // Controlled runs check every time (one CPU runs anyway); free-running ones every few returns.
  if (++tree_tick >= TREE_CHECK_EVERY || is_controlled()) {
    tree_tick = 0;
    check_task_family(t);
  }
  const nsp = mem[t + TASK.nsproxy]!;
  if (nsp) {
    const child = mem[nsp + NSPROXY.pid_ns_for_children]!;
    if (child && !pidns_is_descendant(mem, child, ns)) record_violation(V_INVARIANT, INV_NS_NOT_DESCENDANT, t, child);
  }
}

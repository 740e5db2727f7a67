/**
 * The pids controller (kernel/cgroup/pids.c) and the few cgroup-core calls it hangs off
 * (kernel/cgroup/cgroup.c: cgroup_can_fork, cgroup_cancel_fork, cgroup_release, cgroup_free).
 *
 * The model's cgroupfs is fixed at boot: the root pids cgroup and NR_PIDS_CGROUPS - 1 children of
 * it (G.pids_cgroup, by index). A task's pids cgroup is TASK.pids_cgrp (task_css(task,
 * pids_cgrp_id)); a child starts in its parent's (cgroup_can_fork uses current's css_set), and a
 * task moves itself by writing its tid to a cgroup's tasks file (cgroup v1; the model moves only
 * the writer, so no other task's fork can race with the move and cgroup_threadgroup_rwsem is not
 * needed). cgroup_threadgroup_rwsem itself (a percpu_rw_semaphore, src/locking/percpu_rwsem.ts) is
 * defined and initialised here, but no path of the mix takes it yet: the kernel's read side in
 * copy_process (cgroup_css_set_fork) and exit_signals, and a cgroup.procs write that moves a whole
 * thread group under its write side, are on branch cgrp-integration (not landed: with them plain
 * stress lost catalog entry 8 at the issue-14 budget, README issue-14 section). Every task is charged one pid in its cgroup and each ancestor below the root (the root
 * is never charged, as in the kernel): pids_try_charge at fork (which refuses with -EAGAIN past a
 * pids.max), pids_charge on a move.
 *
 * When the charge goes (catalog entry 20, 51bee5abeab2, "cgroup/pids: turn cgroup_subsys->free()
 * into cgroup_subsys->release() to fix the accounting", Oleg Nesterov, 2019): today release_task()
 * calls cgroup_release() -> pids_release(), before the task is unhashed. Before the fix the
 * uncharge was pids_free(), called from __put_task_struct() -> cgroup_free() - after
 * release_task()'s call_rcu(delayed_put_task_struct), i.e. one RCU grace period after the task and
 * its pid were gone (BUG_PIDS_FREE_AFTER_GP). "Even the trivial program which does for (;;) { int
 * pid = fork(); assert(pid >= 0); if (pid) wait(NULL); else exit(0); } can run out of limits."
 *
 * The refusal check (a check of the model, not kernel code): when pids_try_charge refuses a fork,
 * the tasks that hold charges in the cgroup over its limit are counted; if some are already
 * released (unhashed, TASK_DEAD, waiting for their grace period) and without them the fork would
 * have fitted, the refusal is recorded as a violation. Today's kernel uncharges before it unhashes,
 * so no released task ever holds a charge: the check can only fire on the deferred uncharge.
 */
import { G, NR_PIDS_CGROUPS, PIDS_CG, TASK } from '../mm/layout.js';
import { kg, mem, PID_MAX_LIMIT, regions, SLAB_TASK } from '../mm/memory.js';
import { POISON_LIVE } from '../mm/layout.js';
import { lock_class_register } from '../locking/lockdep.js';
import { percpu_init_rwsem } from '../locking/percpu_rwsem.js';
import { BUG_PIDS_FREE_AFTER_GP } from '../config/bugs.js';
import { record_violation, V_INVARIANT } from '../locking/violations.js';
import { current, TASK_DEAD } from '../sched/core.js';
import { register_boot_init } from './boot.js';
import { register_syscall } from './entry.js';
import { EAGAIN, EINVAL, EPERM } from './errno.js';
import { data_race } from './compiler.js';
import { SYS_CGROUP_ATTACH, SYS_PIDS_CURRENT_READ, SYS_PIDS_MAX_WRITE } from './unistd.js';

/** PIDS_MAX: "max", no limit (PID_MAX_LIMIT + 1). */
export const PIDS_MAX = PID_MAX_LIMIT + 1;
/** pids_cancel: the counter went below 0 (WARN_ON_ONCE, "a bug in the pids controller proper"). */
export const INV_PIDS_COUNTER_NEGATIVE = 0x6e10;
/** The refusal check: a fork refused by pids.max while released tasks still held charges that made the difference. */
export const INV_PIDS_CHARGE_AFTER_RELEASE = 0x6e11;
/** The tasks-file write arguments: pids.max "max". */
export const PIDS_MAX_ARG = -1;

/** GLOBAL_ROOT_UID: the cgroupfs files are root's (mode 0644 / 0200 in the model). */
const GLOBAL_ROOT_UID = 0;

const pids_at = (i: number): number => kg + G.pids_cgroup + i * PIDS_CG.SIZE;
/** parent_pids: the parent's index, or -1 for the root. */
const parent_pids = (i: number): number => mem[pids_at(i) + PIDS_CG.parent]!;

function pids_cgroup_boot(): void {
  for (let i = 0; i < NR_PIDS_CGROUPS; i++) {
    const p = pids_at(i);
    mem[p + PIDS_CG.counter] = 0;
    mem[p + PIDS_CG.limit] = PIDS_MAX; // pids_css_alloc: atomic64_set(&pids->limit, PIDS_MAX)
    mem[p + PIDS_CG.watermark] = 0;
    mem[p + PIDS_CG.parent] = i === 0 ? -1 : 0;
    mem[p + PIDS_CG.events_max] = 0;
    mem[p + PIDS_CG.events_forkfail] = 0;
  }
}
register_boot_init(pids_cgroup_boot);

const LC_CGROUP_THREADGROUP_RWSEM = lock_class_register('cgroup_threadgroup_rwsem');

/** cgroup_threadgroup_rwsem (kernel/cgroup/cgroup.c DEFINE_STATIC_PERCPU_RWSEM). */
export const cgroup_threadgroup_rwsem = (): number => kg + G.cgroup_threadgroup_rwsem;
register_boot_init(() => percpu_init_rwsem(cgroup_threadgroup_rwsem(), LC_CGROUP_THREADGROUP_RWSEM));

function pids_update_watermark(i: number, nr_pids: number): void {
  // This is racy, but we don't need perfectly accurate tallying of the watermark.
  const p = pids_at(i);
  if (nr_pids > mem[p + PIDS_CG.watermark]!) mem[p + PIDS_CG.watermark] = nr_pids;
}

/** pids_cancel: uncharge the local count; going negative is a bug in the controller. */
function pids_cancel(i: number, num: number): void {
  const now = Atomics.sub(mem, pids_at(i) + PIDS_CG.counter, num) - num;
  if (now < 0) record_violation(V_INVARIANT, INV_PIDS_COUNTER_NEGATIVE, i, now);
}

/** pids_uncharge: hierarchically uncharge (the root is never charged). */
function pids_uncharge(i: number, num: number): void {
  for (let p = i; parent_pids(p) >= 0; p = parent_pids(p)) pids_cancel(p, num);
}

/** pids_charge: hierarchically charge, ignoring the limit (moves only). */
function pids_charge(i: number, num: number): void {
  for (let p = i; parent_pids(p) >= 0; p = parent_pids(p)) {
    pids_update_watermark(p, Atomics.add(mem, pids_at(p) + PIDS_CG.counter, num) + num);
  }
}

/** pids_try_charge: hierarchically charge within the limits; the cgroup whose limit refused, or -1. */
function pids_try_charge(i: number, num: number): number {
  let p = i;
  for (; parent_pids(p) >= 0; p = parent_pids(p)) {
    const n = Atomics.add(mem, pids_at(p) + PIDS_CG.counter, num) + num;
    const limit = Atomics.load(mem, pids_at(p) + PIDS_CG.limit);
    if (n > limit) break;
    pids_update_watermark(p, n);
  }
  if (parent_pids(p) < 0) return -1;
  // revert: everything below p, then p itself.
  for (let q = i; q !== p; q = parent_pids(q)) pids_cancel(q, num);
  pids_cancel(p, num);
  return p;
}

/** pids_event: count the refusal (the kernel logs the first one per cgroup). */
function pids_event(forking: number, over_limit: number): void {
  Atomics.add(mem, pids_at(forking) + PIDS_CG.events_forkfail, 1);
  for (let p = over_limit; parent_pids(p) >= 0; p = parent_pids(p)) Atomics.add(mem, pids_at(p) + PIDS_CG.events_max, 1);
}

function in_subtree(i: number, top: number): boolean {
  for (let p = i; p >= 0; p = parent_pids(p)) if (p === top) return true;
  return false;
}

/**
 * The refusal check (see the file comment): charges held by released tasks in over_limit's
 * subtree, and whether the fork would have fitted without them. p is the child being refused.
 */
function pids_refusal_check(over_limit: number, p: number): void {
  const o = pids_at(over_limit);
  // The counter before the scan: every task the scan finds released still charged was charged
  // long before, so it is in this count even if its charge goes while we scan.
  const counter = Atomics.load(mem, o + PIDS_CG.counter);
  const r = regions.objects[SLAB_TASK]!;
  let released = 0;
  for (let k = 0; k < r.count; k++) {
    const t = r.base + k * r.stride;
    if (t === p || Atomics.load(mem, t + TASK.poison) !== POISON_LIVE) continue;
    // Released first, then the charge: release_task drops the charge (cgroup_release) before
    // __exit_signal clears ->pid, so a task seen released and then still charged held its charge
    // past the unhash. Read the other way round, a release between the two reads (charge seen,
    // then ->pid seen cleared) would count today's kernel as holding a released charge.
    // data_race: a diagnostic look at other tasks with no lock or RCU held (a fork being refused
    // is not in an RCU read side, and taking one would add scheduling points to the refusal path):
    // a stale ->pid only makes the count miss a task, never count a live one (TASK_DEAD is final).
    if (data_race(mem[t + TASK.pid]) !== 0 || Atomics.load(mem, t + TASK.state) !== TASK_DEAD) continue;
    if (Atomics.load(mem, t + TASK.pids_charged) !== 1 || !in_subtree(mem[t + TASK.pids_cgrp]!, over_limit)) continue;
    released++;
  }
  if (released === 0) return;
  if (counter - released + 1 <= Atomics.load(mem, o + PIDS_CG.limit)) {
    record_violation(V_INVARIANT, INV_PIDS_CHARGE_AFTER_RELEASE, over_limit, released);
  }
}

/**
 * cgroup_can_fork -> pids_can_fork (copy_process, before tasklist_lock): the child joins current's
 * cgroup and is charged there; -EAGAIN when a pids.max on the way up refuses.
 */
export function cgroup_can_fork(p: number): number {
  const i = mem[current + TASK.pids_cgrp]!;
  mem[p + TASK.pids_cgrp] = i;
  const over = pids_try_charge(i, 1);
  if (over >= 0) {
    pids_event(i, over);
    pids_refusal_check(over, p);
    return -EAGAIN;
  }
  Atomics.store(mem, p + TASK.pids_charged, 1);
  return 0;
}

/** Drop the task's charge (pids_release, pids_free, pids_cancel_fork): once. */
function pids_drop_charge(t: number): void {
  if (Atomics.exchange(mem, t + TASK.pids_charged, 0) !== 1) return;
  pids_uncharge(mem[t + TASK.pids_cgrp]!, 1);
}

/** cgroup_cancel_fork -> pids_cancel_fork: copy_process failed after cgroup_can_fork. */
export function cgroup_cancel_fork(p: number): void {
  pids_drop_charge(p);
}

/**
 * cgroup_release (release_task, before the task is unhashed) -> pids_release: today's uncharge.
 * Before 51bee5abeab2 (BUG_PIDS_FREE_AFTER_GP) release_task did not uncharge.
 */
export function cgroup_release(p: number): void {
  if ((mem[kg + G.bug_switches]! & BUG_PIDS_FREE_AFTER_GP) !== 0) return;
  pids_drop_charge(p);
}

/**
 * cgroup_free (__put_task_struct, after release_task's call_rcu(delayed_put_task_struct)) ->
 * pids_free: the uncharge before 51bee5abeab2 (BUG_PIDS_FREE_AFTER_GP), a grace period late.
 */
export function cgroup_free(t: number): void {
  if ((mem[kg + G.bug_switches]! & BUG_PIDS_FREE_AFTER_GP) === 0) return;
  pids_drop_charge(t);
}

const valid_cgroup = (i: number): boolean => Number.isInteger(i) && i >= 0 && i < NR_PIDS_CGROUPS;

/** pids_max_write: "max" (PIDS_MAX_ARG) or 0 .. PIDS_MAX - 1; not on the root (CFTYPE_NOT_ON_ROOT). */
export function pids_max_write(i: number, limit: number): number {
  if (mem[current + TASK.cred_uid] !== GLOBAL_ROOT_UID) return -EPERM;
  if (!valid_cgroup(i) || i === 0) return -EINVAL;
  if (limit === PIDS_MAX_ARG) limit = PIDS_MAX;
  else if (limit < 0 || limit >= PIDS_MAX) return -EINVAL;
  // Limit updates don't need to be mutex'd, since it isn't critical that any racing fork()s
  // follow the new limit.
  Atomics.store(mem, pids_at(i) + PIDS_CG.limit, limit);
  return 0;
}

/** pids_current_read: pids.current. */
export function pids_current_read(i: number): number {
  if (!valid_cgroup(i) || i === 0) return -EINVAL;
  return Atomics.load(mem, pids_at(i) + PIDS_CG.counter);
}

/**
 * A write of the writer's own tid to cgroup i's tasks file: pids_can_attach (charge the new
 * cgroup, ignoring its limit; uncharge the old), then the move.
 */
export function cgroup_attach_self(i: number): number {
  const t = current;
  if (mem[t + TASK.cred_uid] !== GLOBAL_ROOT_UID) return -EPERM;
  if (!valid_cgroup(i)) return -EINVAL;
  const old = mem[t + TASK.pids_cgrp]!;
  if (old === i) return 0;
  pids_charge(i, 1);
  if (Atomics.exchange(mem, t + TASK.pids_charged, 1) === 1) pids_uncharge(old, 1);
  mem[t + TASK.pids_cgrp] = i;
  return 0;
}

register_syscall(SYS_PIDS_MAX_WRITE, 'pids_max_write', (i, limit) => pids_max_write(i, limit));
register_syscall(SYS_PIDS_CURRENT_READ, 'pids_current_read', (i) => pids_current_read(i));
register_syscall(SYS_CGROUP_ATTACH, 'cgroup_attach', (i) => cgroup_attach_self(i));

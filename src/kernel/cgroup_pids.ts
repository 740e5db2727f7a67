/**
 * The pids controller (kernel/cgroup/pids.c) and the few cgroup-core calls it hangs off
 * (kernel/cgroup/cgroup.c: cgroup_can_fork, cgroup_cancel_fork, cgroup_release, cgroup_free).
 *
 * The model's cgroupfs is fixed at boot: the root pids cgroup and NR_PIDS_CGROUPS - 1 children of
 * it (G.pids_cgroup, by index). A task's pids cgroup is TASK.pids_cgrp (task_css(task,
 * pids_cgrp_id)); a child starts in its parent's (cgroup_can_fork uses current's css_set). A task
 * moves by a write of its tid to a cgroup's tasks file, a whole thread group by a write of its pid
 * to cgroup.procs (cgroup v1, __cgroup1_procs_write): under cgroup_mutex and
 * cgroup_threadgroup_rwsem held for write (cgroup_procs_write_start -> cgroup_attach_lock ->
 * percpu_down_write; the model has no cpus_read_lock). The read side is taken by every fork in
 * cgroup_can_fork (cgroup_css_set_fork -> cgroup_threadgroup_change_begin(current)) until
 * cgroup_post_fork or cgroup_cancel_fork, by exit_signals around setting PF_EXITING, and by
 * de_thread around the leader swap (fs/exec.c): a move sees no fork half done in the group, no
 * thread turning PF_EXITING and no exec changing the group's leader (those already exiting
 * are skipped, as cgroup_migrate_add_task skips them). The per-threadgroup rwsem that a 2025
 * series (Yi Tao, "cgroup: replace global percpu_rwsem with per threadgroup resem when writing to
 * cgroup.procs") takes in addition under favordynmods is not modelled (favordynmods is off by
 * default). Every task is charged one pid in its cgroup and each ancestor below the root (the root
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
import { task_peek_begin, task_peek_valid } from '../mm/slab.js';
import { lock_class_register } from '../locking/lockdep.js';
import { mutex_init, mutex_lock, mutex_unlock } from '../locking/mutex.js';
import { percpu_down_read, percpu_down_write, percpu_init_rwsem, percpu_rwsem_asleep_on, percpu_up_read, percpu_up_write } from '../locking/percpu_rwsem.js';
import { read_lock, read_unlock } from '../locking/qrwlock.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { SLEEP } from '../sched/core.js';
import { sched_hook } from '../sched/hook.js';
import { find_task_by_vpid } from './pid.js';
import { get_task_struct, put_task_struct } from './exit.js';
import { PF_EXITING, PF_KTHREAD } from './sched_task.js';
import { BUG_PIDS_FREE_AFTER_GP } from '../config/bugs.js';
import { record_violation, V_INVARIANT } from '../locking/violations.js';
import { current, TASK_DEAD } from '../sched/core.js';
import { register_boot_init } from './boot.js';
import { register_syscall } from './entry.js';
import { EAGAIN, EINVAL, EPERM, ESRCH } from './errno.js';
import { data_race } from '../lib/compiler.js';
import { SYS_CGROUP_ATTACH, SYS_CGROUP_PROCS_WRITE, SYS_PIDS_CURRENT_READ, SYS_PIDS_MAX_WRITE } from './unistd.js';

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
const LC_CGROUP_MUTEX = lock_class_register('cgroup_mutex');

/** cgroup_threadgroup_rwsem (kernel/cgroup/cgroup.c DEFINE_STATIC_PERCPU_RWSEM). */
export const cgroup_threadgroup_rwsem = (): number => kg + G.cgroup_threadgroup_rwsem;
const cgroup_mutex = (): number => kg + G.cgroup_mutex;
register_boot_init(() => {
  percpu_init_rwsem(cgroup_threadgroup_rwsem(), LC_CGROUP_THREADGROUP_RWSEM);
  mutex_init(cgroup_mutex(), LC_CGROUP_MUTEX);
});

/**
 * cgroup_threadgroup_change_begin (include/linux/cgroup-defs.h): percpu_down_read of
 * cgroup_threadgroup_rwsem. 0, or SLEEP while a writer holds or takes it (call again).
 */
export function cgroup_threadgroup_change_begin(site = 0): number {
  return percpu_down_read(cgroup_threadgroup_rwsem(), site);
}

/** cgroup_threadgroup_change_end. */
export function cgroup_threadgroup_change_end(): void {
  percpu_up_read(cgroup_threadgroup_rwsem());
}

/** t sleeps in cgroup_threadgroup_change_begin (a writer holds or takes the rwsem): call it again. */
export function cgroup_threadgroup_change_waiting(t: number): boolean {
  return percpu_rwsem_asleep_on(t, cgroup_threadgroup_rwsem());
}

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
    const id = t === p ? 0 : task_peek_begin(t);
    if (id === 0) continue;
    // data_race: a diagnostic look at other tasks with no lock, reference or RCU held (a fork being
    // refused is not in an RCU read side, and taking one would add scheduling points to the
    // refusal path); task_peek_valid below drops a task freed or replaced while we look (its
    // charge went before its free: cgroup_free).
    // Released first, then the charge: release_task drops the charge (cgroup_release) before
    // __exit_signal clears ->pid, so a task seen released and then still charged held its charge
    // past the unhash. Read the other way round, a release between the two reads (charge seen,
    // then ->pid seen cleared) would count today's kernel as holding a released charge. A stale
    // ->pid only makes the count miss a task, never count a live one (TASK_DEAD is final).
    if (data_race(mem[t + TASK.pid]) !== 0 || data_race(Atomics.load(mem, t + TASK.state)) !== TASK_DEAD) continue;
    if (data_race(Atomics.load(mem, t + TASK.pids_charged)) !== 1 || !in_subtree(data_race(mem[t + TASK.pids_cgrp]!), over_limit)) continue;
    if (!task_peek_valid(t, id)) continue;
    released++;
  }
  if (released === 0) return;
  if (counter - released + 1 <= Atomics.load(mem, o + PIDS_CG.limit)) {
    record_violation(V_INVARIANT, INV_PIDS_CHARGE_AFTER_RELEASE, over_limit, released);
  }
}

/**
 * cgroup_can_fork (copy_process, before tasklist_lock): cgroup_css_set_fork takes
 * cgroup_threadgroup_rwsem for read (SLEEP while a cgroup.procs write holds or takes it: call
 * again), then pids_can_fork: the child joins current's cgroup and is charged there; -EAGAIN
 * (read side dropped again: cgroup_css_set_put_fork) when a pids.max on the way up refuses.
 */
export function cgroup_can_fork(p: number, site = 0): number {
  if (cgroup_threadgroup_change_begin(site) === SLEEP) return SLEEP;
  const i = mem[current + TASK.pids_cgrp]!;
  mem[p + TASK.pids_cgrp] = i;
  const over = pids_try_charge(i, 1);
  if (over >= 0) {
    pids_event(i, over);
    pids_refusal_check(over, p);
    cgroup_threadgroup_change_end();
    return -EAGAIN;
  }
  Atomics.store(mem, p + TASK.pids_charged, 1);
  return 0;
}

/** cgroup_post_fork (after tasklist_lock is dropped): cgroup_css_set_put_fork's read unlock. */
export function cgroup_post_fork(_p: number): void {
  cgroup_threadgroup_change_end();
}

/** Drop the task's charge (pids_release, pids_free, pids_cancel_fork): once. */
function pids_drop_charge(t: number): void {
  if (Atomics.exchange(mem, t + TASK.pids_charged, 0) !== 1) return;
  pids_uncharge(mem[t + TASK.pids_cgrp]!, 1);
}

/** cgroup_cancel_fork -> pids_cancel_fork, then the read unlock: copy_process failed after cgroup_can_fork. */
export function cgroup_cancel_fork(p: number): void {
  pids_drop_charge(p);
  cgroup_threadgroup_change_end();
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
 * pids_can_attach + the move of one task (cgroup_migrate): charge the new cgroup (ignoring its
 * limit), uncharge the old one if the task held a charge, then the task's css. Under the write
 * side of cgroup_threadgroup_rwsem: the task cannot be forking (its child's charge would go to
 * the cgroup it read) nor turn PF_EXITING (its release would uncharge the cgroup it reads then).
 */
function cgroup_migrate_task(t: number, i: number): void {
  const old = mem[t + TASK.pids_cgrp]!;
  if (old === i) return;
  pids_charge(i, 1);
  if (Atomics.exchange(mem, t + TASK.pids_charged, 1) === 1) pids_uncharge(old, 1);
  mem[t + TASK.pids_cgrp] = i;
}

/** Scheduling-hook sites of a cgroup.procs write (the kernel is preemptible there: the rwsem is a sleeping lock). */
export const SITE_CGROUP_ATTACH_LOCK = 290; // cgroup_attach_lock: percpu_down_write(&cgroup_threadgroup_rwsem)
export const SITE_CGROUP_MIGRATE = 291; // cgroup_migrate: one task of the group (write side held)

/** cgroup_procs_write restart phases (TASK.restart_phase). */
const CPW_MUTEX = 0;
const CPW_RWSEM = 1;

/**
 * A write of `pid` to cgroup i's tasks file (threadgroup false: that thread) or cgroup.procs
 * (threadgroup true: its whole thread group): __cgroup1_procs_write -> cgroup_kn_lock_live
 * (cgroup_mutex), cgroup_procs_write_start (cgroup_attach_lock: percpu_down_write of
 * cgroup_threadgroup_rwsem; find_task_by_vpid under RCU; the group leader for cgroup.procs;
 * kthreads refused), cgroup_attach_task (each thread not PF_EXITING moves), then
 * cgroup_procs_write_finish and cgroup_kn_unlock. The files are root's (mode 0644), so only root
 * writes them; root passes __cgroup1_procs_write's euid check. 0, -errno, or SLEEP (call again:
 * TASK.restart_phase).
 */
export function cgroup_procs_write(i: number, pid: number, threadgroup: boolean, self = false): number {
  const t = current;
  let ph = mem[t + TASK.restart_phase]!;
  if (ph === CPW_MUTEX) {
    if (mem[t + TASK.cred_uid] !== GLOBAL_ROOT_UID) return -EPERM;
    if (!valid_cgroup(i) || !Number.isInteger(pid) || pid < 0) return -EINVAL;
    if (mutex_lock(cgroup_mutex()) === SLEEP) return SLEEP;
    ph = CPW_RWSEM;
    mem[t + TASK.restart_phase] = ph;
  }
  if (percpu_down_write(cgroup_threadgroup_rwsem(), SITE_CGROUP_ATTACH_LOCK) === SLEEP) return SLEEP;
  mem[t + TASK.restart_phase] = CPW_MUTEX;
  let ret = 0;
  rcu_read_lock();
  let tsk = self || pid === 0 ? t : find_task_by_vpid(pid);
  if (!tsk) ret = -ESRCH;
  else {
    if (threadgroup) tsk = mem[tsk + TASK.group_leader]!;
    if ((mem[tsk + TASK.flags]! & PF_KTHREAD) !== 0) ret = -EINVAL;
    else get_task_struct(tsk); // cgroup_procs_write_start; put by cgroup_procs_write_finish
  }
  rcu_read_unlock();
  if (!ret) {
    // cgroup_migrate: the threads of the group (only tsk for the tasks file). The thread ring is
    // read under tasklist_lock: a thread already exiting can still be released meanwhile. The walk
    // ends because tsk stays on the ring: a leader is released only once alone (delay_group_leader)
    // or by de_thread, which swaps and releases it under the read side we exclude (src/kernel/exec.ts).
    read_lock(kg + G.tasklist_lock);
    let u = tsk;
    do {
      // @task either already exited or can't exit until the end (exit_signals' read side).
      sched_hook(SITE_CGROUP_MIGRATE);
      if ((mem[u + TASK.flags]! & PF_EXITING) === 0) cgroup_migrate_task(u, i);
      if (!threadgroup) break;
      u = mem[u + TASK.thread_next]!;
    } while (u !== tsk && u !== 0);
    read_unlock(kg + G.tasklist_lock);
    put_task_struct(tsk);
  }
  percpu_up_write(cgroup_threadgroup_rwsem());
  mutex_unlock(cgroup_mutex());
  return ret;
}

/**
 * A write of the writer's own tid to cgroup i's tasks file (a non-zero pid: the kernel takes the
 * write side as for any other task; only a write of "0" would skip it).
 */
export function cgroup_attach_self(i: number): number {
  return cgroup_procs_write(i, 0, false, true);
}

register_syscall(SYS_PIDS_MAX_WRITE, 'pids_max_write', (i, limit) => pids_max_write(i, limit));
register_syscall(SYS_PIDS_CURRENT_READ, 'pids_current_read', (i) => pids_current_read(i));
register_syscall(SYS_CGROUP_ATTACH, 'cgroup_attach', (i) => cgroup_attach_self(i));
register_syscall(SYS_CGROUP_PROCS_WRITE, 'cgroup_procs_write', (i, pid) => cgroup_procs_write(i, pid, true));

/**
 * struct pid, the per-namespace pid allocator and pid lookup (kernel/pid.c, include/linux/pid.h).
 *
 * A struct pid is a slab object of PID.SIZE words followed inline by numbers[maxLevel + 1], one
 * struct upid (nr, ns, hash_next) per level, level 0 (init_pid_ns) first.
 *
 * The idr of a pid namespace is modelled in two parts, both written under pidmap_lock:
 *  - a bitmap of pid_max bits per namespace (regions.bitmaps, slot = the namespace's slab index):
 *    a set bit is an idr slot in use, reserved (idr_alloc with a NULL pointer) or published;
 *  - the global pid hash (regions.pidHash): a published upid is linked on the chain of
 *    hash(nr, ns) through UPID_HASH_NEXT. This is idr_replace(): find_pid_ns sees the pid only
 *    once it is linked. Linking stores the upid's next first and publishes the upid with
 *    Atomics.store (rcu_assign_pointer); unlinking stores the successor into the predecessor and
 *    leaves the removed upid's own next alone (hlist_del_rcu), so an RCU reader standing on it
 *    still reaches the rest of the chain. The pid itself is freed only after a grace period
 *    (call_rcu(delayed_put_pid)).
 * PIDNS.idr_next is the idr cursor (idr_get_cursor / idr_set_cursor; ns_last_pid + 1).
 *
 * Deviations from kernel/pid.c (deliberate):
 *  - alloc_pid reserves the numbers of ALL levels in one pidmap_lock section; the kernel drops and
 *    retakes the lock per level because idr_preload(GFP_KERNEL) may sleep between levels. Nothing
 *    sleeps between levels here, reserved numbers are invisible to lookups either way, and the
 *    per-level lock pair (~65 ns on the foundation's spinlock) would be most of the per-level cost
 *    (target: <= 50 ns per level). The publication (PIDNS_ADDING check + hashing) keeps its own
 *    section, so the window that disable_pid_allocation races with is the kernel's.
 *  - pidmap_lock is taken with spin_lock_irq (older kernels; today's takes plain spin_lock): the
 *    stricter irq discipline for lockdep.
 *  - pid_max is per namespace (PIDNS.pid_max, 6.14+), but every namespace's bitmap has G.pid_max
 *    bits (the configured pid_max, PID_MAX_LIMIT in the conformance runs): a level allocates below
 *    min(its pid_max, G.pid_max) (pidns_pid_max). With the default configuration a namespace whose
 *    pid_max is PID_MAX_LIMIT runs out of numbers at the configured size, a capacity of the model.
 */
import { CPU, G, HELD_WORDS, PID, PIDNS, POISON_FREED, POISON_LIVE, TARGET_PID_SET, TASK, UPID_HASH_NEXT, UPID_NR, UPID_NS, UPID_WORDS, USERNS } from '../mm/layout.js';
import { config, kg, mem, obj_addr, obj_index, PID_MAX_LIMIT, regions, RESERVED_PIDS, SLAB_PID, SLAB_PIDNS, this_cpu } from '../mm/memory.js';
import { kmem_cache_alloc, kmem_cache_free, mark_live } from '../mm/slab.js';
import { spin_lock_irq, spin_unlock_irq } from '../locking/spinlock.js';
import { record_violation, V_INVARIANT } from '../locking/violations.js';
import { call_rcu, rcu_dereference_check, register_rcu_callback } from '../rcu/rcu.js';
import { current, wake_up_process } from '../sched/core.js';
import { init_waitqueue_head } from '../sched/wait.js';
import { register_boot_init } from './boot.js';
import { EACCES, EAGAIN, EBUSY, EEXIST, EFAULT, EINVAL, ENOMEM, ENOSPC, EPERM } from './errno.js';
import { CAP_SYS_ADMIN, capable, checkpoint_restore_ns_capable, make_kuid, ns_capable, user_ns_boot_init } from './user_namespace.js';
import { register_syscall } from './entry.js';
import { SYS_PID_MAX_READ, SYS_PID_MAX_WRITE } from './unistd.js';
// pid_namespace.ts imports this module too: only function declarations cross the cycle (the shared
// constants are in the leaf pid_types.ts), so either module may be loaded first.
import { BUG_ALLOC_PID_NS_LEAK, BUG_ZAP_WAIT_CHILDREN } from '../config/bugs.js';
import { get_pid_ns, init_pid_ns_boot, put_pid_ns } from './pid_namespace.js';
import { PIDNS_ADDING, PIDTYPE_PID, PIDTYPE_TGID, RCB_DELAYED_PUT_PID } from './pid_types.js';
import { prng_below, prng_seed, PRNG_SEED_FAULT } from '../lib/prng.js';
import { data_race } from '../lib/compiler.js';

export { PIDNS_ADDING, PIDTYPE_MAX, PIDTYPE_PGID, PIDTYPE_PID, PIDTYPE_SID, PIDTYPE_TGID, RCB_DELAYED_PUT_PID } from './pid_types.js';

/** Scheduling-hook sites of the pid code (race windows for the controlled scheduler). */
export const SITE_PID_ALLOC_LEVEL = 200; // alloc_pid: taking pidmap_lock for one level's number
export const SITE_PID_ALLOC_PUBLISH = 201; // alloc_pid: taking pidmap_lock to check PIDNS_ADDING and publish
export const SITE_PID_ALLOC_UNWIND = 202; // alloc_pid: out_free
export const SITE_PID_FREE = 203; // free_pid
export const SITE_PID_DISABLE = 204; // disable_pid_allocation

/** V_INVARIANT codes raised by the pid code (record a = code, b, c = objects). */
export const INV_PIDNS_ADDING_WITH_REAPER = 0x51; // free_pid: WARN_ON(ns->child_reaper) in the PIDNS_ADDING case
export const INV_FREE_PID_TASKLIST_HELD = 0x52; // free_pid: lockdep_assert_not_held(&tasklist_lock)
export const INV_PID_COUNT_UNDERFLOW = 0x53; // put_pid on a pid whose count was already 0

// ---- small accessors (include/linux/pid.h) ------------------------------------------------------

/** &pid->numbers[level]. */
export function upid_addr(pid: number, level: number): number {
  return pid + PID.SIZE + level * UPID_WORDS;
}

/** ns_of_pid: the namespace the pid was allocated in (its innermost level), 0 for no pid. */
export function ns_of_pid(pid: number): number {
  return pid ? mem[pid + PID.SIZE + mem[pid + PID.level]! * UPID_WORDS + UPID_NS]! : 0;
}

/** pid_nr: the number in init_pid_ns. */
export function pid_nr(pid: number): number {
  return pid ? mem[pid + PID.SIZE + UPID_NR]! : 0;
}

/** is_child_reaper: the pid is number 1 of its own namespace. */
export function is_child_reaper(pid: number): boolean {
  return mem[pid + PID.SIZE + mem[pid + PID.level]! * UPID_WORDS + UPID_NR] === 1;
}

/** get_pid. */
export function get_pid(pid: number): number {
  if (pid) Atomics.add(mem, pid + PID.count, 1);
  return pid;
}

/**
 * put_pid (kernel/pid.c): the last reference frees the pid (poisoning it: RCU readers that still
 * hold it report a use-after-free) and drops the reference it held on its namespace.
 */
export function put_pid(pid: number): void {
  if (!pid) return;
  const ns = ns_of_pid(pid);
  const old = Atomics.sub(mem, pid + PID.count, 1);
  if (old === 1) {
    kmem_cache_free(SLAB_PID, pid, PID.poison);
    put_pid_ns(ns);
  } else if (old <= 0) {
    record_violation(V_INVARIANT, INV_PID_COUNT_UNDERFLOW, pid, old);
  }
}

/** delayed_put_pid: the call_rcu callback of free_pid. */
function delayed_put_pid(pid: number): void {
  put_pid(pid);
}

// ---- the idr: bitmap + hash ---------------------------------------------------------------------

/** Address of a namespace's bitmap (idr_init gives every namespace slot its own). */
export function pidns_bitmap_addr(ns: number): number {
  return regions.bitmaps.base + obj_index(SLAB_PIDNS, ns) * regions.bitmaps.stride;
}

/** idr_init: an empty idr with the cursor at 0. */
export function idr_init(ns: number): void {
  const b = pidns_bitmap_addr(ns);
  mem.fill(0, b, b + regions.bitmaps.stride);
  mem[ns + PIDNS.bitmap] = b;
  mem[ns + PIDNS.idr_next] = 0;
}

/** First zero bit in [from, to), or -1. */
function find_next_zero_bit(b: number, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const wi = i >>> 5;
    const w = ~mem[b + wi]! & (-1 << (i & 31));
    if (w !== 0) {
      const n = (wi << 5) + (31 - Math.clz32(w & -w));
      return n < to ? n : -1;
    }
    i = (wi + 1) << 5;
  }
  return -1;
}

/** First set bit in [from, to), or -1 (idr_get_next's scan). */
function find_next_bit(b: number, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const wi = i >>> 5;
    const w = mem[b + wi]! & (-1 << (i & 31));
    if (w !== 0) {
      const n = (wi << 5) + (31 - Math.clz32(w & -w));
      return n < to ? n : -1;
    }
    i = (wi + 1) << 5;
  }
  return -1;
}

/**
 * idr_alloc_cyclic(&ns->idr, NULL, start, end) under pidmap_lock (lib/idr.c): search
 * [max(cursor, start), end), then, if the cursor was above start, [start, end); the cursor moves
 * past the number found. -ENOSPC when the range is full.
 */
function idr_alloc_cyclic(ns: number, start: number, end: number): number {
  const b = mem[ns + PIDNS.bitmap]!;
  // `u32 id = idr->idr_next;`: a plain read, which the ns_last_pid sysctl's idr_set_cursor
  // (WRITE_ONCE, without pidmap_lock) races with by design ("volatile in a living namespace").
  let id = data_race(mem[ns + PIDNS.idr_next]!);
  if (id < start) id = start;
  let n = id < end ? find_next_zero_bit(b, id, end) : -1;
  if (n < 0 && id > start) n = find_next_zero_bit(b, start, end);
  if (n < 0) return -ENOSPC;
  mem[b + (n >>> 5)]! |= 1 << (n & 31);
  mem[ns + PIDNS.idr_next] = n + 1;
  return n;
}

/** idr_alloc(&ns->idr, NULL, nr, nr + 1): that number or -ENOSPC when in use; the cursor stays. */
function idr_alloc_one(ns: number, nr: number): number {
  const b = mem[ns + PIDNS.bitmap]! + (nr >>> 5);
  const bit = 1 << (nr & 31);
  if ((mem[b]! & bit) !== 0) return -ENOSPC;
  mem[b]! |= bit;
  return nr;
}

/** The bitmap half of idr_remove. */
function idr_clear(ns: number, nr: number): void {
  mem[mem[ns + PIDNS.bitmap]! + (nr >>> 5)]! &= ~(1 << (nr & 31));
}

/** Is nr's idr slot in use in ns (reserved or published)? */
export function idr_test(ns: number, nr: number): boolean {
  return (mem[mem[ns + PIDNS.bitmap]! + (nr >>> 5)]! & (1 << (nr & 31))) !== 0;
}

/** Hash bucket address of (nr, ns). */
function pid_hash_bucket(nr: number, ns: number): number {
  let h = Math.imul(nr, 0x9e3779b1) ^ Math.imul(ns, 0x85ebca6b);
  h ^= h >>> 15;
  const r = regions.pidHash;
  return r.base + (h & (r.count - 1));
}

/** idr_replace: link the initialised upid at the head of its chain (under pidmap_lock). */
function pid_hash_add(u: number, nr: number, ns: number): void {
  const b = pid_hash_bucket(nr, ns);
  mem[u + UPID_HASH_NEXT] = mem[b]!;
  Atomics.store(mem, b, u); // rcu_assign_pointer: nr, ns and next are visible before u is
}

/** The hash half of idr_remove (hlist_del_rcu): u keeps its next for readers standing on it. */
function pid_hash_del(u: number, nr: number, ns: number): void {
  const b = pid_hash_bucket(nr, ns);
  let p = mem[b]!;
  if (p === u) {
    mem[b] = mem[u + UPID_HASH_NEXT]!; // WRITE_ONCE: a reader sees the old or the new head
    return;
  }
  while (p && mem[p + UPID_HASH_NEXT] !== u) p = mem[p + UPID_HASH_NEXT]!;
  if (p) mem[p + UPID_HASH_NEXT] = mem[u + UPID_HASH_NEXT]!; // WRITE_ONCE
}

/**
 * find_pid_ns (kernel/pid.c: idr_find): the pid with number nr in ns, or 0. The caller holds
 * rcu_read_lock (or tasklist_lock); the result is checked against the free poison
 * (rcu_dereference_check): a freed pid reachable here is a use-after-free.
 */
export function find_pid_ns(nr: number, ns: number): number {
  const lvl = mem[ns + PIDNS.level]!;
  for (let u = Atomics.load(mem, pid_hash_bucket(nr, ns)); u !== 0; u = Atomics.load(mem, u + UPID_HASH_NEXT)) {
    if (mem[u + UPID_NR] === nr && mem[u + UPID_NS] === ns) {
      return rcu_dereference_check(u - PID.SIZE - lvl * UPID_WORDS, PID.poison);
    }
  }
  return 0;
}

/** find_vpid: find_pid_ns in current's active pid namespace. */
export function find_vpid(nr: number): number {
  return find_pid_ns(nr, task_active_pid_ns(current));
}

/** find_get_pid: find_vpid plus a reference (under the caller's RCU or its own). */
export function find_get_pid(nr: number): number {
  return get_pid(find_vpid(nr));
}

/** The number idr_get_next_pid found (its `nextid` out-parameter). */
export let idr_nextid = 0;

/**
 * idr_get_next(&ns->idr, &nextid) (lib/idr.c): the first published pid of ns with number >= from,
 * or 0; the number is left in `idr_nextid`. Reserved-but-unpublished numbers are skipped
 * (idr_get_next skips NULL entries). Caller holds RCU. Allocates nothing (zap_pid_ns_processes
 * walks a whole namespace with it).
 */
export function idr_get_next_pid(ns: number, from: number): number {
  const b = mem[ns + PIDNS.bitmap]!;
  const end = mem[kg + G.pid_max]!;
  for (let nr = from < 0 ? 0 : from; nr < end; nr++) {
    nr = find_next_bit(b, nr, end);
    if (nr < 0) return 0;
    const pid = find_pid_ns(nr, ns);
    if (pid) {
      idr_nextid = nr;
      return pid;
    }
  }
  return 0;
}

/** idr_get_next as an object (tests, reports): { nr, pid } or null. */
export function idr_get_next(ns: number, from: number): { nr: number; pid: number } | null {
  const pid = idr_get_next_pid(ns, from);
  return pid ? { nr: idr_nextid, pid } : null;
}

// ---- numbers ------------------------------------------------------------------------------------

/** pid_nr_ns (kernel/pid.c): the pid's number as seen from ns, 0 when ns can not see it. */
export function pid_nr_ns(pid: number, ns: number): number {
  if (pid && ns) {
    const l = mem[ns + PIDNS.level]!;
    if (l <= mem[pid + PID.level]!) {
      const u = pid + PID.SIZE + l * UPID_WORDS;
      if (mem[u + UPID_NS] === ns) return mem[u + UPID_NR]!;
    }
  }
  return 0;
}

/**
 * READ_ONCE(ns->pid_max) as alloc_pid uses it: the namespace's own pid_max, capped by the size of
 * the model's pid bitmaps (G.pid_max, the configured pid_max).
 *
 * READ_ONCE is one tear-free load that orders nothing (on x86 one mov). JavaScript has no relaxed
 * atomic load: Atomics.load is sequentially consistent and, routed to the WebAssembly atomics, a
 * call (~6 ns here, once per namespace level of every fork). An aligned Int32Array element read is
 * tear-free on a SharedArrayBuffer too, so it is what READ_ONCE gives: pid_max_write's
 * Atomics.store (its WRITE_ONCE) races with it and a fork uses either value, as in the kernel
 * ("a fork racing with the write uses either value"); nothing is ordered by it on either side.
 */
export function pidns_pid_max(ns: number): number {
  const own = mem[ns + PIDNS.pid_max]!;
  const cap = mem[kg + G.pid_max]!;
  return own < cap ? own : cap;
}

// ---- /proc/sys/kernel/pid_max (kernel/pid.c pid_table, pid_table_root; 6.14+) -----------------
/** include/linux/threads.h PIDS_PER_CPU_MIN (pid_idr_init raises pid_max_min to 8 per CPU). */
export const PIDS_PER_CPU_MIN = 8;

/** pid_max_min = max(RESERVED_PIDS + 1, PIDS_PER_CPU_MIN * num_possible_cpus()) (pid_idr_init). */
export function pid_max_min(): number {
  const m = PIDS_PER_CPU_MIN * config.ncpus;
  return m > RESERVED_PIDS + 1 ? m : RESERVED_PIDS + 1;
}

/**
 * The pid_max sysctl resolves to the caller's active pid namespace whatever procfs instance the
 * path goes through (pid_table_root_lookup: task_active_pid_ns(current)->set). Kernel threads
 * without a pid see init_pid_ns.
 */
function sysctl_pid_ns(): number {
  return (current ? task_active_pid_ns(current) : 0) || mem[kg + G.init_pid_ns]!;
}

/**
 * pid_table_root_permissions (kernel/pid.c): the owner bits of the 0644 table mode (read-write)
 * for CAP_SYS_ADMIN in the namespace's user namespace or an euid that is the namespace's root
 * (make_kuid(user_ns, 0)); otherwise the group bits for a member of its root group, else the other
 * bits: read-only either way. Returns whether the caller may write.
 */
function pid_table_root_writable(pidns: number): boolean {
  if (current === 0) return true;
  const user_ns = mem[pidns + PIDNS.user_ns]!;
  return ns_capable(current, user_ns, CAP_SYS_ADMIN) || mem[current + TASK.cred_uid] === make_kuid(user_ns, 0);
}

/** read /proc/sys/kernel/pid_max: the caller's active namespace's pid_max. */
export function pid_max_read(): number {
  return Atomics.load(mem, sysctl_pid_ns() + PIDNS.pid_max);
}

/**
 * write /proc/sys/kernel/pid_max: EACCES when the table's permissions leave the caller read-only
 * (the open for writing fails: sysctl_perm), EINVAL outside pid_max_min..PID_MAX_LIMIT
 * (proc_dointvec_minmax with extra1 = &pid_max_min, extra2 = &pid_max_max). The store is the
 * sysctl's plain int store (WRITE_ONCE here), read by alloc_pid with READ_ONCE: a fork racing with
 * the write uses either value.
 */
export function pid_max_write(value: number): number {
  const ns = sysctl_pid_ns();
  if (!pid_table_root_writable(ns)) return -EACCES;
  if (value < pid_max_min() || value > PID_MAX_LIMIT) return -EINVAL;
  Atomics.store(mem, ns + PIDNS.pid_max, value);
  return 0;
}

register_syscall(SYS_PID_MAX_READ, 'pid_max_read', () => pid_max_read());
register_syscall(SYS_PID_MAX_WRITE, 'pid_max_write', (v) => pid_max_write(v));

/** pid_vnr: pid_nr_ns in current's active namespace. */
export function pid_vnr(pid: number): number {
  return pid_nr_ns(pid, task_active_pid_ns(current));
}

/**
 * task_active_pid_ns (kernel/pid.c) = ns_of_pid(task_pid(t)): 0 when the task has no pid (a
 * released task, or a bare kernel thread of the foundation, which the model gives no struct pid).
 */
export function task_active_pid_ns(t: number): number {
  const pid = t ? mem[t + TASK.pid]! : 0;
  if (!pid) return 0;
  rcu_dereference_check(pid, PID.poison);
  return ns_of_pid(pid);
}

/** task_pid_nr_ns(t, ns): the task's PIDTYPE_PID number in ns (ns = 0: current's active ns). */
export function task_pid_nr_ns(t: number, ns: number): number {
  return pid_nr_ns(mem[t + TASK.pid]!, ns || task_active_pid_ns(current));
}

/** task_tgid_nr_ns(t, ns): the task's thread-group id in ns (ns = 0: current's active ns). */
export function task_tgid_nr_ns(t: number, ns: number): number {
  return pid_nr_ns(mem[t + TASK.tgid_pid]!, ns || task_active_pid_ns(current));
}

/** task_pid_vnr / task_tgid_vnr: as seen from current. */
export function task_pid_vnr(t: number): number {
  return task_pid_nr_ns(t, 0);
}
export function task_tgid_vnr(t: number): number {
  return task_tgid_nr_ns(t, 0);
}

/**
 * pid_task (kernel/pid.c): the task using pid as PIDTYPE_PID (PID.task_pid) or as PIDTYPE_TGID
 * (PID.task_tgid); K2's attach_pid/detach_pid write them under tasklist_lock, readers hold RCU or
 * tasklist_lock. Other types are not modelled (0).
 */
export function pid_task(pid: number, type: number): number {
  if (!pid) return 0;
  rcu_dereference_check(pid, PID.poison);
  if (type === PIDTYPE_PID) return Atomics.load(mem, pid + PID.task_pid);
  if (type === PIDTYPE_TGID) return Atomics.load(mem, pid + PID.task_tgid);
  return 0;
}

/** find_task_by_pid_ns (under rcu_read_lock). */
export function find_task_by_pid_ns(nr: number, ns: number): number {
  return pid_task(find_pid_ns(nr, ns), PIDTYPE_PID);
}

/** find_task_by_vpid (under rcu_read_lock). */
export function find_task_by_vpid(nr: number): number {
  return find_task_by_pid_ns(nr, task_active_pid_ns(current));
}

/** The pid's numbers from level 0 (init_pid_ns) to its own level (NSpid read from init_pid_ns). */
export function nspid_of(pid: number): number[] {
  const out: number[] = [];
  const l = mem[pid + PID.level]!;
  for (let i = 0; i <= l; i++) out.push(mem[pid + PID.SIZE + i * UPID_WORDS + UPID_NR]!);
  return out;
}

/** /proc/PID/status NSpid as seen from ns: numbers from ns's level down to the pid's level. */
export function nspid_from(pid: number, ns: number): number[] {
  const out: number[] = [];
  if (!pid_nr_ns(pid, ns)) return out;
  const l = mem[pid + PID.level]!;
  for (let i = mem[ns + PIDNS.level]!; i <= l; i++) out.push(mem[pid + PID.SIZE + i * UPID_WORDS + UPID_NR]!);
  return out;
}

// ---- fault injection ----------------------------------------------------------------------------

/**
 * Injected allocation failure (G.inject_enomem_permille): true means "kmem_cache_alloc returned
 * NULL here". The draw comes from the task's own random state (TASK.fault_rng, src/lib/prng.ts, a stream
 * per task id), so a controlled run that replays the same schedule replays the
 * same failures. No task (the main thread) and boot (no init_task yet) never fail.
 */
export function should_fail_alloc(t: number): boolean {
  const permille = mem[kg + G.inject_enomem_permille]!;
  if (permille <= 0 || t === 0 || mem[kg + G.init_task] === 0) return false;
  // A fresh task's state is 0: start its stream (a state that steps onto 0 restarts it, harmlessly).
  if (mem[t + TASK.fault_rng] === 0) mem[t + TASK.fault_rng] = prng_seed(PRNG_SEED_FAULT, mem[t + TASK.id]!);
  return prng_below(mem, t + TASK.fault_rng, 1000) < permille;
}

// ---- alloc_pid / free_pid -------------------------------------------------------------------------

/** How __alloc_pid picks numbers: the next free one, set_tid (clone3), or target pids (seed 002). */
export const REQ_NONE = 0;
export const REQ_SET_TID = 1;
export const REQ_TARGETS = 2;

/**
 * alloc_pid (kernel/pid.c, today's code) for a task about to be created in `ns`, with clone3's
 * set_tid[0 .. set_tid_size) (set_tid[0] is the number in ns itself, set_tid[1] in its parent ...).
 * Returns the new struct pid (count 1, holding a reference on ns) or -errno:
 *  - EINVAL: set_tid_size > ns->level + 1; a tid < 1 or >= pid_max; a tid != 1 in a namespace
 *    without a child reaper;
 *  - EPERM: current is not checkpoint_restore_ns_capable in that level's user namespace;
 *  - EEXIST: a requested tid is taken;
 *  - EAGAIN: a namespace has no free number (idr ENOSPC);
 *  - ENOMEM: no struct pid (slab, or injected), or ns is dying (PIDNS_ADDING cleared by
 *    disable_pid_allocation: the documented errno for a dead pid namespace).
 * Numbers are taken level by level from ns outwards, each under pidmap_lock, as reserved idr slots;
 * only after the PIDNS_ADDING check, under pidmap_lock, are they published (hashed) and counted in
 * pid_allocated. The failure path gives the numbers back and resets ns's cursor when the pid was to
 * be the first of ns.
 */
export function alloc_pid(ns: number, set_tid: ArrayLike<number> | null, set_tid_size: number): number {
  if (set_tid_size > mem[ns + PIDNS.level]! + 1) return -EINVAL;
  return __alloc_pid(ns, set_tid_size ? REQ_SET_TID : REQ_NONE, set_tid, set_tid_size);
}

function __alloc_pid(ns: number, mode: number, req: ArrayLike<number> | null, req_size: number): number {
  const t = current;
  const level = mem[ns + PIDNS.level]!;
  if (should_fail_alloc(t)) return -ENOMEM;
  const pid = kmem_cache_alloc(SLAB_PID);
  if (!pid) return -ENOMEM;
  const lock = kg + G.pidmap_lock;
  let retval = -ENOMEM;
  let tmp = ns;
  let set_tid_size = req_size;
  mem[pid + PID.level] = level;
  // pidfs: every struct pid gets an inode number that is never reused (the st_ino of its pidfds).
  mem[pid + PID.ino] = Atomics.add(mem, kg + G.pidfs_ino_seq, 1) + 1;
  let i = level;
  // One pidmap_lock section reserves the numbers of every level (see the header: the kernel
  // drops and retakes the lock per level around idr_preload).
  spin_lock_irq(lock, SITE_PID_ALLOC_LEVEL);
  for (; i >= 0; i--) {
    let tid = 0;
    // Every level allocates within its own pid_max (READ_ONCE(tmp->pid_max)).
    const pid_max = pidns_pid_max(tmp);
    if (mode === REQ_SET_TID) {
      if (set_tid_size) {
        tid = req![level - i]!;
        retval = -EINVAL;
        if (tid < 1 || tid >= pid_max) break;
        // Also fail if a PID != 1 is requested and no PID 1 exists.
        if (tid !== 1 && !mem[tmp + PIDNS.child_reaper]) break;
        retval = -EPERM;
        if (!checkpoint_restore_ns_capable(t, mem[tmp + PIDNS.user_ns]!)) break;
        set_tid_size--;
      }
    } else if (mode === REQ_TARGETS) {
      // seed 002 (set_pidmap): target_pids[] is indexed by level, 0 asks for any number.
      tid = i < req_size ? req![i]! : 0;
      if (tid !== 0 && (tid < 0 || tid >= pid_max)) { retval = -EINVAL; break; }
    }
    let nr: number;
    if (tid) {
      nr = idr_alloc_one(tmp, tid);
      // idr ENOSPC here means the number is in use: EEXIST (clone3), EBUSY (clone_with_pids).
      if (nr === -ENOSPC) nr = mode === REQ_TARGETS ? -EBUSY : -EEXIST;
    } else {
      // init really needs pid 1, but after reaching the maximum wrap back to RESERVED_PIDS.
      // idr_get_cursor: READ_ONCE (`return READ_ONCE(idr->idr_next);`, include/linux/idr.h, read
      // with find_string, session 13), a marked load: until session 13 a plain one here, which the
      // checked build's watchpoints caught racing set_last_pid_vec's store. pidmap_lock is held:
      // every other writer of the cursor (idr_alloc_cyclic, the out_free reset) stores under it, so
      // the lock's acquire orders their stores before this load; only the ns_last_pid sysctl's
      // idr_set_cursor (WRITE_ONCE, without the lock) races with it, as in the kernel.
      nr = idr_alloc_cyclic(tmp, Atomics.load(mem, tmp + PIDNS.idr_next) > RESERVED_PIDS ? RESERVED_PIDS : 1, pid_max);
    }
    if (nr < 0) {
      retval = nr === -ENOSPC ? -EAGAIN : nr;
      break;
    }
    const u = pid + PID.SIZE + i * UPID_WORDS;
    mem[u + UPID_NR] = nr;
    mem[u + UPID_NS] = tmp;
    tmp = mem[tmp + PIDNS.parent]!;
  }
  if (i < 0) {
    spin_unlock_irq(lock);
    // ENOMEM: the documented errno for a pid namespace that denies new processes.
    retval = -ENOMEM;
    get_pid_ns(ns);
    mem[pid + PID.count] = 1;
    init_waitqueue_head(pid + PID.wait_pidfd); // init_waitqueue_head(&pid->wait_pidfd)
    mark_live(pid, PID.poison);
    spin_lock_irq(lock, SITE_PID_ALLOC_PUBLISH);
    if ((mem[ns + PIDNS.pid_allocated]! & PIDNS_ADDING) !== 0) {
      for (let l = level; l >= 0; l--) {
        const u = pid + PID.SIZE + l * UPID_WORDS;
        const uns = mem[u + UPID_NS]!;
        pid_hash_add(u, mem[u + UPID_NR]!, uns); // make the pid visible to find_pid_ns
        mem[uns + PIDNS.pid_allocated] = (mem[uns + PIDNS.pid_allocated]! + 1) | 0;
      }
      spin_unlock_irq(lock);
      return pid;
    }
    spin_unlock_irq(lock);
    // out_unlock: drop the reference taken above (24c037ebf572; BUG_ALLOC_PID_NS_LEAK leaks it).
    if ((mem[kg + G.bug_switches]! & BUG_ALLOC_PID_NS_LEAK) === 0) put_pid_ns(ns);
    spin_lock_irq(lock, SITE_PID_ALLOC_UNWIND);
  }
  // out_free (pidmap_lock held): give back the numbers of the levels above the one that failed.
  while (++i <= level) {
    const u = pid + PID.SIZE + i * UPID_WORDS;
    idr_clear(mem[u + UPID_NS]!, mem[u + UPID_NR]!);
  }
  // On failure to allocate the first pid, reset the state.
  if (mem[ns + PIDNS.pid_allocated] === PIDNS_ADDING) mem[ns + PIDNS.idr_next] = 0;
  spin_unlock_irq(lock);
  kmem_cache_free(SLAB_PID, pid, PID.poison);
  return retval;
}

/** lockdep_assert_not_held for a CPU-held spin/rw lock (checked with lockdep on). */
function this_cpu_holds(lock: number): boolean {
  const c = this_cpu;
  const d = mem[c + CPU.held_depth]!;
  for (let i = 0; i < d; i++) if (mem[c + CPU.held + i * HELD_WORDS] === lock) return true;
  return false;
}

/**
 * free_pid (kernel/pid.c): unpublish every level under pidmap_lock. Each namespace's
 * pid_allocated drops by one; at 2 or 1 the namespace's child reaper is woken (it may sleep in
 * zap_pid_ns_processes waiting for exactly that); at PIDNS_ADDING (the first process of the
 * namespace failed to fork) the namespace is closed (0). The struct pid is put after a grace
 * period (call_rcu(delayed_put_pid)), as it has been since RCU pid lookups exist.
 * Must not be called with tasklist_lock held.
 */
export function free_pid(pid: number): void {
  // lockdep_assert_not_held(&tasklist_lock): today's rule; v3.5 freed pids under it (the
  // BUG_ZAP_WAIT_CHILDREN design of catalog entry 5).
  if (mem[kg + G.lockdep_on] !== 0 && (mem[kg + G.bug_switches]! & BUG_ZAP_WAIT_CHILDREN) === 0 && this_cpu_holds(kg + G.tasklist_lock)) {
    record_violation(V_INVARIANT, INV_FREE_PID_TASKLIST_HELD, pid, current);
  }
  const lock = kg + G.pidmap_lock;
  spin_lock_irq(lock, SITE_PID_FREE);
  const level = mem[pid + PID.level]!;
  for (let i = 0; i <= level; i++) {
    const u = pid + PID.SIZE + i * UPID_WORDS;
    const ns = mem[u + UPID_NS]!;
    const nr = mem[u + UPID_NR]!;
    const pa = (mem[ns + PIDNS.pid_allocated]! - 1) | 0;
    mem[ns + PIDNS.pid_allocated] = pa;
    if (pa === 2 || pa === 1) {
      // Atomics.store: orders the count before the wake-up's state CAS, pairing with
      // zap_pid_ns_processes' set_current_state-then-load of the count.
      Atomics.store(mem, ns + PIDNS.pid_allocated, pa);
      // When all that is left in the pid namespace is the reaper wake up the reaper. The reaper
      // may be sleeping in zap_pid_ns_processes().
      const r = mem[ns + PIDNS.child_reaper]!;
      if (r) wake_up_process(r);
    } else if (pa === PIDNS_ADDING) {
      // Handle a fork failure of the first process.
      if (mem[ns + PIDNS.child_reaper]) record_violation(V_INVARIANT, INV_PIDNS_ADDING_WITH_REAPER, ns, pid);
      Atomics.store(mem, ns + PIDNS.pid_allocated, 0);
    }
    pid_hash_del(u, nr, ns);
    idr_clear(ns, nr);
  }
  spin_unlock_irq(lock);
  call_rcu(pid + PID.rcu, RCB_DELAYED_PUT_PID, pid);
}

/** free_pids: free_pid of each non-zero entry (highest type first, as the kernel). */
export function free_pids(pids: ArrayLike<number>): void {
  for (let i = pids.length - 1; i >= 0; i--) if (pids[i]) free_pid(pids[i]!);
}

/**
 * disable_pid_allocation (kernel/pid.c): clear PIDNS_ADDING under pidmap_lock; alloc_pid in ns
 * fails with ENOMEM from now on (zap_pid_ns_processes, and the first process failing to fork).
 */
export function disable_pid_allocation(ns: number): void {
  const lock = kg + G.pidmap_lock;
  spin_lock_irq(lock, SITE_PID_DISABLE);
  mem[ns + PIDNS.pid_allocated] = mem[ns + PIDNS.pid_allocated]! & ~PIDNS_ADDING;
  spin_unlock_irq(lock);
}

// ---- clone_with_pids target pid sets (seed 002) -----------------------------------------------------

const target_scratch = new Int32Array(64);

/**
 * copy_target_pids (seed 002, kernel/fork.c of the clone_with_pids patch) plus its caller's
 * CAP_SYS_ADMIN check in do_fork_with_pids, for task `t` (normally current).
 * `targets[0 .. num_pids)` are the pids the user asks for, oldest requested namespace first; they
 * apply to the YOUNGEST levels of t's active pid namespace: with knum = task_pid(t)->level + 1,
 * target_pids[knum - num_pids + k] = targets[k], the other entries (older, "unknown" levels, and
 * the extra last entry target_pids[knum] for a CLONE_NEWPID child) are 0 = "allocate".
 * Writes the level-indexed array into `out` and returns its length (knum + 1), or:
 *  - 0 when there is nothing to apply (targets null, or num_pids == 0): a normal clone;
 *  - -EINVAL when num_pids < 0 or num_pids > knum;
 *  - -EPERM when t is not capable(CAP_SYS_ADMIN) (checked after the count, as in the seed).
 */
export function copy_target_pids(t: number, targets: ArrayLike<number> | null, num_pids: number, out: Int32Array): number {
  if (!targets) return 0;
  if (num_pids === 0) return 0;
  const tp = t ? mem[t + TASK.pid]! : 0;
  const knum = (tp ? mem[tp + PID.level]! : 0) + 1;
  if (num_pids < 0 || num_pids > knum) return -EINVAL;
  if (knum + 1 > out.length) return -EINVAL;
  if (!capable(t, CAP_SYS_ADMIN)) return -EPERM;
  out.fill(0, 0, knum + 1);
  const j = knum - num_pids;
  for (let k = 0; k < num_pids; k++) out[j + k] = targets[k]!;
  return knum + 1;
}

/**
 * alloc_pid with a level-indexed target array (seed 002's alloc_pid(ns, target_pids)): level i gets
 * target_pids[i] when non-zero (levels beyond `len` get 0), else the next free number.
 * Per level: EINVAL when the target is < 0 or >= pid_max, EBUSY when it is taken; the rest as
 * alloc_pid (EAGAIN, ENOMEM).
 */
export function alloc_pid_targets(ns: number, target_pids: ArrayLike<number>, len: number): number {
  return __alloc_pid(ns, REQ_TARGETS, target_pids, len);
}

/**
 * clone_with_pids' pid allocation in one call (seed 002): copy_target_pids for current (EINVAL for
 * a bad count, EPERM without CAP_SYS_ADMIN in init_user_ns), then alloc_pid_targets into `ns`
 * (the child's pid namespace: current's, or the new one with CLONE_NEWPID, whose level gets the
 * extra 0 entry). `targets` null or `num_pids` 0 is a plain alloc_pid(ns, null, 0).
 * K2's clone_with_pids path calls this where copy_process calls alloc_pid. (A caller that wants the
 * seed's exact errno order against other fork checks calls copy_target_pids first, at the start of
 * do_fork_with_pids, then alloc_pid_targets.)
 */
export function alloc_pid_target_set(ns: number, targets: ArrayLike<number> | null, num_pids: number): number {
  const n = copy_target_pids(current, targets, num_pids, target_scratch);
  if (n < 0) return n;
  if (n === 0) return alloc_pid(ns, null, 0);
  return __alloc_pid(ns, REQ_TARGETS, target_scratch, n);
}

/**
 * struct target_pid_set in the program region (the user memory of the model) for
 * SYS_CLONE_WITH_PIDS: word 0 = num_pids, words 1.. = the pids. addr 0 is NULL (a plain clone).
 * Returns the pids (copy_from_user) or -EFAULT when the record is outside the program region.
 */
export function read_target_pid_set(addr: number): { num_pids: number; pids: number[] } | number {
  if (addr === 0) return { num_pids: 0, pids: [] };
  const r = regions.programs;
  if (addr < r.base || addr >= r.base + r.words) return -EFAULT;
  const n = mem[addr + TARGET_PID_SET.num_pids]!;
  if (n <= 0) return { num_pids: n, pids: [] }; // 0: normal clone; < 0: EINVAL from copy_target_pids
  const target_pids = addr + TARGET_PID_SET.SIZE;
  if (n > 64 || target_pids + n > r.base + r.words) return n > 64 ? { num_pids: n, pids: [] } : -EFAULT;
  const pids: number[] = [];
  for (let k = 0; k < n; k++) pids.push(mem[target_pids + k]!);
  return { num_pids: n, pids };
}

// ---- boot -----------------------------------------------------------------------------------------

/**
 * pid_idr_init + the static init_user_ns / init_pid_ns (kernel/pid.c, kernel/user.c): boot creates
 * init_user_ns and init_pid_ns (level 0, PIDNS_ADDING, its pid cache) and stores them in
 * G.init_user_ns / G.init_pid_ns. Registered when this module loads, so it runs before the boot
 * init of any module that imports alloc_pid (K2's init_task).
 */
function pid_idr_init(): void {
  user_ns_boot_init();
  init_pid_ns_boot();
}

register_boot_init(pid_idr_init);
register_rcu_callback(RCB_DELAYED_PUT_PID, delayed_put_pid);

// ---- audit ----------------------------------------------------------------------------------------

/** Live (allocated) objects of a slab, by their poison word. */
function live_objects(kind: number, poisonOff: number): number[] {
  const r = regions.objects[kind]!;
  const out: number[] = [];
  for (let i = 0; i < r.count; i++) {
    const p = obj_addr(kind, i);
    if (Atomics.load(mem, p + poisonOff) === POISON_LIVE) out.push(p);
  }
  return out;
}

/** Live pid namespaces (allocated, not yet freed by delayed_free_pidns). */
export function live_pid_namespaces(): number[] {
  return live_objects(SLAB_PIDNS, PIDNS.poison);
}

/** Live struct pids (allocated and not yet put for the last time: includes pids waiting for RCU). */
export function live_pids(): number[] {
  return live_objects(SLAB_PID, PID.poison);
}

/**
 * References on a pid namespace that the pid code can account for: one per child namespace
 * (ns->parent) and one per live struct pid allocated directly in it (alloc_pid's get_pid_ns(ns),
 * dropped by the last put_pid). Tasks' nsproxies, open nsfs files etc. are counted by their owners
 * (audit_pids' extraRefs).
 */
export function pidns_known_refs(ns: number): number {
  let n = 0;
  for (const c of live_pid_namespaces()) if (mem[c + PIDNS.parent] === ns) n++;
  for (const p of live_pids()) if (ns_of_pid(p) === ns) n++;
  return n;
}

/**
 * Check the pid data structures (call at a quiescent point: no alloc_pid half-way):
 *  - every hashed upid belongs to a live pid, sits at numbers[ns->level], and its pid is hashed at
 *    every level, in exactly the namespaces of the parent chain of numbers[level].ns;
 *  - the bitmap of each namespace has exactly the hashed numbers set;
 *  - pid_allocated (without PIDNS_ADDING) equals the pids hashed in the namespace;
 *  - no poisoned pid is reachable from the hash;
 *  - each namespace's kref equals pidns_known_refs(ns) + extraRefs(ns) (init_pid_ns, whose count
 *    get_pid_ns never moves, is skipped); without extraRefs, kref must be at least the known ones.
 * Returns the problems found (empty when consistent).
 */
export function audit_pids(extraRefs?: (ns: number) => number): string[] {
  const bad: string[] = [];
  const pidMax = mem[kg + G.pid_max]!;
  const nss = live_pid_namespaces();
  const nsSet = new Set(nss);
  const hashed = new Map<number, Set<number>>(); // ns -> numbers hashed
  const pidLevels = new Map<number, number>(); // pid -> number of hashed levels
  const r = regions.pidHash;
  let guard = 0;
  for (let bkt = 0; bkt < r.count; bkt++) {
    for (let u = mem[r.base + bkt]!; u !== 0; u = mem[u + UPID_HASH_NEXT]!) {
      if (++guard > 50_000_000) { bad.push('pid hash: chain loop'); return bad; }
      const nr = mem[u + UPID_NR]!;
      const ns = mem[u + UPID_NS]!;
      if (!nsSet.has(ns)) { bad.push(`hashed upid ${u} (nr ${nr}) names a namespace ${ns} that is not live`); continue; }
      const lvl = mem[ns + PIDNS.level]!;
      const pid = u - PID.SIZE - lvl * UPID_WORDS;
      if (mem[pid + PID.poison] === POISON_FREED) { bad.push(`poisoned (freed) pid ${pid} (nr ${nr}) reachable from the pid hash`); continue; }
      if (mem[pid + PID.poison] !== POISON_LIVE) { bad.push(`hashed upid ${u} is not inside a live pid`); continue; }
      if (lvl > mem[pid + PID.level]!) bad.push(`pid ${pid}: hashed at level ${lvl} above its level ${mem[pid + PID.level]}`);
      if (pid_hash_bucket(nr, ns) !== r.base + bkt) bad.push(`pid ${pid}: upid (${nr}) on the wrong hash chain`);
      let s = hashed.get(ns);
      if (!s) hashed.set(ns, (s = new Set()));
      if (s.has(nr)) bad.push(`ns ${ns}: number ${nr} hashed twice`);
      s.add(nr);
      pidLevels.set(pid, (pidLevels.get(pid) ?? 0) + 1);
      if (nr <= 0 || nr >= pidMax) bad.push(`pid ${pid}: number ${nr} out of range`);
      else if (!idr_test(ns, nr)) bad.push(`ns ${ns}: hashed number ${nr} has no bitmap bit`);
    }
  }
  for (const [pid, n] of pidLevels) {
    const level = mem[pid + PID.level]!;
    if (n !== level + 1) bad.push(`pid ${pid}: hashed at ${n} levels, has ${level + 1}`);
    let ns = mem[upid_addr(pid, level) + UPID_NS]!;
    for (let i = level; i >= 0; i--) {
      const u = upid_addr(pid, i);
      if (mem[u + UPID_NS] !== ns) { bad.push(`pid ${pid}: numbers[${i}].ns is not the level-${i} ancestor of its namespace`); break; }
      if (ns && mem[ns + PIDNS.level] !== i) bad.push(`pid ${pid}: numbers[${i}].ns has level ${mem[ns + PIDNS.level]}`);
      ns = ns ? mem[ns + PIDNS.parent]! : 0;
    }
    if (ns !== 0) bad.push(`pid ${pid}: the namespace chain does not end at level 0`);
  }
  const init = mem[kg + G.init_pid_ns]!;
  for (const ns of nss) {
    const s = hashed.get(ns) ?? new Set<number>();
    const b = mem[ns + PIDNS.bitmap]!;
    let bits = 0;
    for (let nr = find_next_bit(b, 0, pidMax); nr >= 0; nr = find_next_bit(b, nr + 1, pidMax)) {
      bits++;
      if (!s.has(nr)) bad.push(`ns ${ns}: bitmap bit ${nr} set but no pid hashed`);
    }
    if (bits !== s.size) bad.push(`ns ${ns}: ${bits} bitmap bits, ${s.size} hashed pids`);
    const pa = mem[ns + PIDNS.pid_allocated]! & ~PIDNS_ADDING;
    if (pa !== s.size) bad.push(`ns ${ns}: pid_allocated ${pa} but ${s.size} pids hashed`);
    const uns = mem[ns + PIDNS.user_ns]!;
    if (!uns || mem[uns + USERNS.poison] !== POISON_LIVE) bad.push(`ns ${ns}: user namespace ${uns} is not live`);
    const p = mem[ns + PIDNS.parent]!;
    if (ns !== init && !nsSet.has(p)) bad.push(`ns ${ns}: parent ${p} is not live`);
    if (ns === init) continue;
    const kref = mem[ns + PIDNS.kref]!;
    const known = pidns_known_refs(ns);
    if (extraRefs) {
      const want = known + extraRefs(ns);
      if (kref !== want) bad.push(`ns ${ns}: kref ${kref}, references found ${want} (${known} children/pids + ${want - known} others)`);
    } else if (kref < known) {
      bad.push(`ns ${ns}: kref ${kref} below the ${known} references of child namespaces and pids`);
    }
  }
  return bad;
}

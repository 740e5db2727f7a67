/**
 * kernel/pid.c in the model: alloc_pid / free_pid, the idr (bitmap + pid hash), lookups, the
 * clone_with_pids target sets of seed 002 and the RCU lifetime of struct pid. In-process: the test
 * thread is CPU 0 and plays `current` through small fake task records where a task is needed.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { G, PID, PIDNS, POISON_FREED, POISON_LIVE, TASK, UPID_HASH_NEXT, UPID_NR, USERNS } from '../src/mm/layout.js';
import { kg, mem, regions, set_this_cpu, SLAB_PID, SLAB_PIDNS, SLAB_TASK, SLAB_USERNS, this_cpu_id } from '../src/mm/memory.js';
import { kmem_cache_alloc, mark_live, slab_usage } from '../src/mm/slab.js';
import { current, set_current, TASK_INTERRUPTIBLE, TASK_RUNNING, try_to_wake_up } from '../src/sched/core.js';
import { rcu_callbacks_pending, rcu_dereference_check, rcu_do_batch, rcu_note_context_switch, rcu_read_lock, rcu_read_unlock } from '../src/rcu/rcu.js';
import { V_RCU_USE_AFTER_FREE } from '../src/locking/violations.js';
import { SYS_LOG } from '../src/kernel/torture.js';
import { OP_HALT, set_ucall } from '../src/kernel/entry.js';
import { SYS_CLONE_WITH_PIDS, SYS_FORK } from '../src/kernel/unistd.js';
import { BUG_FREE_WITHOUT_GP } from '../src/config/bugs.js';
import { EAGAIN, EBUSY, EEXIST, EINVAL, ENOMEM, EPERM } from '../src/kernel/errno.js';
import {
  alloc_pid, alloc_pid_target_set, audit_pids, copy_target_pids, disable_pid_allocation, find_pid_ns, find_vpid,
  free_pid, get_pid, idr_get_next, idr_test, is_child_reaper, live_pid_namespaces, ns_of_pid, nspid_from, nspid_of, pid_nr, pid_nr_ns,
  pid_task, pid_vnr, PIDNS_ADDING, PIDTYPE_PID, PIDTYPE_TGID, put_pid, read_target_pid_set, task_active_pid_ns, upid_addr,
} from '../src/kernel/pid.js';
import { create_pid_namespace, put_pid_ns } from '../src/kernel/pid_namespace.js';
import { CLONE_NEWPID } from '../src/kernel/clone_flags.js';
import { CAP_CHECKPOINT_RESTORE, CAP_FULL_SET, CAP_SYS_ADMIN, create_user_ns } from '../src/kernel/user_namespace.js';
import { flushRcu, inUse } from './support.js';

// ---- helpers ------------------------------------------------------------------------------------

const initPidNs = (): number => mem[kg + G.init_pid_ns]!;
const initUserNs = (): number => mem[kg + G.init_user_ns]!;
const allocated = (ns: number): number => mem[ns + PIDNS.pid_allocated]! & ~PIDNS_ADDING;
const adding = (ns: number): boolean => (mem[ns + PIDNS.pid_allocated]! & PIDNS_ADDING) !== 0;

/** A bare task record standing for `current`: credentials and (optionally) a struct pid. */
function fakeTask(o: { uid?: number; user_ns?: number; caps?: number; pid?: number } = {}): number {
  const t = kmem_cache_alloc(SLAB_TASK);
  if (!t) throw new Error('task cache empty');
  mem[t + TASK.id] = Atomics.add(mem, kg + G.seq_tasks, 1) + 1;
  mem[t + TASK.usage] = 1;
  mem[t + TASK.cred_uid] = o.uid ?? 0;
  mem[t + TASK.cred_user_ns] = o.user_ns ?? initUserNs();
  mem[t + TASK.cred_caps] = o.caps ?? CAP_FULL_SET;
  mem[t + TASK.pid] = o.pid ?? 0;
  mem[t + TASK.tgid_pid] = o.pid ?? 0;
  mem[t + TASK.group_leader] = t;
  mark_live(t, TASK.poison);
  return t;
}

/**
 * A machine whose init_pid_ns has its init, as the kernel's always does (init_task, pid 1, the
 * child reaper): the process model's boot makes it; without one, a stand-in record is used.
 */
function boot(cfg: ConstructorParameters<typeof Machine>[0] = {}, opts: ConstructorParameters<typeof Machine>[1] = {}): Machine {
  const m = new Machine({ ncpus: 1, ...cfg }, opts);
  m.attach();
  const ns = initPidNs();
  if (allocated(ns) === 0) {
    const pid = alloc_pid(ns, [1], 1);
    if (pid < 0) throw new Error(`init pid: ${pid}`);
    const t = fakeTask({ pid });
    mem[pid + PID.task_pid] = t;
    mem[ns + PIDNS.child_reaper] = t;
  }
  return m;
}



/** Nested pid namespaces below init_pid_ns, all owned by init_user_ns: [init, ns1, ..., nsN]. */
function chain(depth: number, user = initUserNs()): number[] {
  const out = [initPidNs()];
  for (let l = 1; l <= depth; l++) {
    const ns = create_pid_namespace(user, out[l - 1]!);
    if (ns < 0) throw new Error(`create_pid_namespace level ${l}: ${ns}`);
    out.push(ns);
  }
  return out;
}

/** Give a namespace an init: pid 1 of it, and a child reaper record (a fake, never-sleeping task). */
function giveInit(ns: number): { pid: number; task: number } {
  const pid = alloc_pid(ns, null, 0);
  if (pid < 0) throw new Error(`init pid: ${pid}`);
  const task = fakeTask({ pid });
  mem[ns + PIDNS.child_reaper] = task;
  mem[pid + PID.task_pid] = task;
  return { pid, task };
}

/** Drop the test's creation references on the namespaces (innermost first). */
function dropChain(nss: number[]): void {
  for (const ns of nss.slice(1).reverse()) put_pid_ns(ns);
}

// ---- tests --------------------------------------------------------------------------------------

/** The reader's CPU 0 passes a quiescent state, CPU 1 passes one and runs the callbacks; back on CPU 0. */
function end_grace_period(): void {
  rcu_note_context_switch();
  set_this_cpu(1);
  rcu_note_context_switch();
  rcu_do_batch();
  set_this_cpu(0);
}

describe('boot', () => {
  it('creates init_user_ns and init_pid_ns (level 0, PIDNS_ADDING, kref 2, its pid cache)', () => {
    const m = new Machine({ ncpus: 1 });
    m.attach();
    const u = initUserNs();
    const ns = initPidNs();
    expect(u).toBeGreaterThan(0);
    expect(ns).toBeGreaterThan(0);
    expect(mem[u + USERNS.level]).toBe(0);
    expect(mem[u + USERNS.poison]).toBe(POISON_LIVE);
    expect(mem[ns + PIDNS.level]).toBe(0);
    expect(mem[ns + PIDNS.parent]).toBe(0);
    expect(mem[ns + PIDNS.user_ns]).toBe(u);
    expect(mem[ns + PIDNS.kref]).toBe(2);
    expect(adding(ns)).toBe(true);
    expect(mem[kg + G.pid_cache_created]).toBe(1);
    expect(audit_pids()).toEqual([]);
  });
});

describe('alloc_pid / free_pid', () => {
  it('numbers a pid in every level, publishes it, and leaves nothing behind after RCU (depth 0 and 31)', () => {
    const m = boot({ maxPids: 512 });
    const base = [inUse(m, SLAB_PID), inUse(m, SLAB_PIDNS), inUse(m, SLAB_USERNS)];
    const nss = chain(31);
    const inits = nss.slice(1).map((ns) => giveInit(ns));
    for (const depth of [0, 31]) {
      const ns = nss[depth]!;
      const before = nss.map(allocated);
      const pids: number[] = [];
      for (let i = 0; i < 50; i++) {
        const p = alloc_pid(ns, null, 0);
        expect(p).toBeGreaterThan(0);
        expect(mem[p + PID.level]).toBe(depth);
        expect(mem[p + PID.count]).toBe(1);
        expect(ns_of_pid(p)).toBe(ns);
        // visible at every level through find_pid_ns, with its number there
        for (let l = 0; l <= depth; l++) expect(find_pid_ns(pid_nr_ns(p, nss[l]!), nss[l]!)).toBe(p);
        pids.push(p);
      }
      expect(nss.slice(0, depth + 1).map(allocated)).toEqual(before.slice(0, depth + 1).map((n) => n + 50));
      expect(audit_pids()).toEqual([]);
      for (const p of pids) free_pid(p);
      expect(nss.map(allocated)).toEqual(before);
      for (const p of pids) for (let l = 0; l <= depth; l++) expect(idr_test(nss[l]!, mem[upid_addr(p, l) + UPID_NR]!)).toBe(false);
      // freed pids are unhashed at once but their memory waits for a grace period
      expect(mem[pids[0]! + PID.poison]).toBe(POISON_LIVE);
      flushRcu(m);
      for (const p of pids) expect(mem[p + PID.poison]).toBe(POISON_FREED);
      expect(audit_pids()).toEqual([]);
    }
    // tear down as the inits' exits would: no more pids (zap), the inits' pids, the namespaces
    for (const ns of nss.slice(1)) disable_pid_allocation(ns);
    for (const { pid } of inits.reverse()) free_pid(pid);
    dropChain(nss);
    flushRcu(m);
    expect([inUse(m, SLAB_PID), inUse(m, SLAB_PIDNS), inUse(m, SLAB_USERNS)]).toEqual(base);
    expect(audit_pids()).toEqual([]);
  });

  it('EAGAIN exactly when pid_max is reached; after the wrap numbers below RESERVED_PIDS are not reused', () => {
    const pidMax = 400;
    const m = boot({ pidMax, maxPids: 600 });
    const ns = initPidNs();
    const had = allocated(ns); // init_task's pid 1 when the process model booted one
    const got: number[] = [];
    for (;;) {
      const p = alloc_pid(ns, null, 0);
      if (p < 0) {
        expect(p).toBe(-EAGAIN);
        break;
      }
      got.push(p);
    }
    expect(got.length).toBe(pidMax - 1 - had); // numbers 1 .. pid_max - 1
    const nrs = got.map(pid_nr);
    expect(Math.max(...nrs)).toBe(pidMax - 1);
    expect(mem[ns + PIDNS.idr_next]).toBe(pidMax); // ns_last_pid = pid_max - 1
    // the failure did not touch the cursor of a namespace that already has pids
    const byNr = new Map(got.map((p) => [pid_nr(p), p]));
    free_pid(byNr.get(5)!); // below RESERVED_PIDS: not reused once the cursor passed 300
    expect(alloc_pid(ns, null, 0)).toBe(-EAGAIN);
    free_pid(byNr.get(350)!);
    const again = alloc_pid(ns, null, 0);
    expect(pid_nr(again)).toBe(350);
    expect(mem[ns + PIDNS.idr_next]).toBe(351);
    free_pid(byNr.get(302)!);
    free_pid(byNr.get(300)!);
    expect(pid_nr(alloc_pid(ns, null, 0))).toBe(300); // wrapped to RESERVED_PIDS, 300 itself is allowed
    expect(pid_nr(alloc_pid(ns, null, 0))).toBe(302);
    expect(audit_pids()).toEqual([]);
  });

  it('cyclic allocation: the cursor moves on, wraps at pid_max, and a pid below 300 is reused before the cursor passes 300', () => {
    const m = boot({ pidMax: 1000 });
    const [, ns] = chain(1);
    const a = alloc_pid(ns!, null, 0);
    const b = alloc_pid(ns!, null, 0);
    expect([pid_nr_ns(a, ns!), pid_nr_ns(b, ns!)]).toEqual([1, 2]);
    mem[ns! + PIDNS.child_reaper] = fakeTask({ pid: a });
    free_pid(b);
    // cursor at 3: the freed 2 is not taken again until the wrap
    expect(pid_nr_ns(alloc_pid(ns!, null, 0), ns!)).toBe(3);
    mem[ns! + PIDNS.idr_next] = 999; // ns_last_pid = 998
    expect(pid_nr_ns(alloc_pid(ns!, null, 0), ns!)).toBe(999);
    // cursor 1000 > RESERVED_PIDS: wraps to 300, not to 2
    expect(pid_nr_ns(alloc_pid(ns!, null, 0), ns!)).toBe(300);
    mem[ns! + PIDNS.idr_next] = 300; // ns_last_pid = 299: cursor not above 300, pid_min stays 1
    expect(pid_nr_ns(alloc_pid(ns!, null, 0), ns!)).toBe(301);
    mem[ns! + PIDNS.idr_next] = 0;
    expect(pid_nr_ns(alloc_pid(ns!, null, 0), ns!)).toBe(2);
    expect(audit_pids()).toEqual([]);
  });

  it('a failure while allocating the first pid of a namespace resets its cursor', () => {
    const pidMax = 320;
    const m = boot({ pidMax, maxPids: 600 });
    while (alloc_pid(initPidNs(), null, 0) > 0) { /* fill init_pid_ns */ }
    const [, ns] = chain(1);
    const r = alloc_pid(ns!, null, 0); // level 1 gets 1, level 0 has no number left
    expect(r).toBe(-EAGAIN);
    expect(mem[ns! + PIDNS.idr_next]).toBe(0);
    expect(idr_test(ns!, 1)).toBe(false);
    expect(mem[ns! + PIDNS.pid_allocated]).toBe(PIDNS_ADDING);
    expect(audit_pids()).toEqual([]);
  });

  it('set_tid: EINVAL, EPERM and EEXIST paths, and exact numbers without moving the cursor', () => {
    const m = boot({ pidMax: 5000 });
    const [, ns1, ns2] = chain(2);
    giveInit(ns1!);
    const root = fakeTask();
    set_current(root);
    expect(alloc_pid(ns2!, [1, 1, 1, 1], 4)).toBe(-EINVAL); // size > level + 1
    expect(alloc_pid(ns2!, [0], 1)).toBe(-EINVAL); // tid < 1
    expect(alloc_pid(ns2!, [5000], 1)).toBe(-EINVAL); // tid >= pid_max
    expect(alloc_pid(ns2!, [7], 1)).toBe(-EINVAL); // not 1 while ns2 has no pid 1 (no child reaper)
    const p1 = alloc_pid(ns2!, [1, 40, 4000], 3);
    expect(nspid_of(p1)).toEqual([4000, 40, 1]);
    expect(mem[ns2! + PIDNS.idr_next]).toBe(0); // idr_alloc of a given number leaves the cursor
    mem[ns2! + PIDNS.child_reaper] = fakeTask({ pid: p1 });
    expect(alloc_pid(ns2!, [1], 1)).toBe(-EEXIST);
    expect(alloc_pid(ns2!, [9, 40], 2)).toBe(-EEXIST); // taken in ns1: ns2's 9 is given back
    expect(idr_test(ns2!, 9)).toBe(false);
    expect(alloc_pid(ns2!, [9, 41, 4000], 3)).toBe(-EEXIST);
    expect(idr_test(ns1!, 41)).toBe(false);
    // set_tid shorter than the levels: the outer levels get free numbers
    const p2 = alloc_pid(ns2!, [9], 1);
    expect(pid_nr_ns(p2, ns2!)).toBe(9);
    expect(pid_nr_ns(p2, ns1!)).toBeGreaterThan(1);
    // EPERM: no CAP_SYS_ADMIN / CAP_CHECKPOINT_RESTORE in the level's user namespace
    set_current(fakeTask({ uid: 1000, caps: 0 }));
    expect(alloc_pid(ns2!, [10], 1)).toBe(-EPERM);
    set_current(fakeTask({ uid: 1000, caps: CAP_CHECKPOINT_RESTORE }));
    expect(pid_nr_ns(alloc_pid(ns2!, [10], 1), ns2!)).toBe(10);
    // privileged only in a child user namespace that owns ns3: EPERM when reaching ns2's level
    const u1 = create_user_ns(initUserNs(), 1000);
    const ns3 = create_pid_namespace(u1, ns2!);
    expect(ns3).toBeGreaterThan(0);
    set_current(fakeTask({ uid: 1000, user_ns: u1, caps: CAP_FULL_SET }));
    expect(alloc_pid(ns3, [1], 1)).toBeGreaterThan(0);
    expect(alloc_pid(ns3, [50, 50], 2)).toBe(-EINVAL); // ns3 has no reaper: checked before EPERM
    mem[ns3 + PIDNS.child_reaper] = root;
    expect(alloc_pid(ns3, [50, 50], 2)).toBe(-EPERM);
    expect(idr_test(ns3, 50)).toBe(false);
    set_current(0);
    expect(audit_pids()).toEqual([]);
  });

  it('ENOMEM: a dying namespace (PIDNS_ADDING cleared), an empty pid cache, and injected failures', () => {
    const m = boot({ maxPids: 200 });
    const [, ns] = chain(1);
    giveInit(ns!);
    const kref = mem[ns! + PIDNS.kref]!;
    const cursor = mem[ns! + PIDNS.idr_next]!;
    disable_pid_allocation(ns!);
    expect(adding(ns!)).toBe(false);
    expect(alloc_pid(ns!, null, 0)).toBe(-ENOMEM);
    expect(mem[ns! + PIDNS.kref]).toBe(kref); // the get_pid_ns was put back (24c037ebf572)
    expect(idr_test(ns!, cursor)).toBe(false); // the reserved numbers were given back
    expect(allocated(ns!)).toBe(1);
    expect(audit_pids()).toEqual([]);
    // slab exhaustion
    const held: number[] = [];
    for (let p = alloc_pid(initPidNs(), null, 0); p > 0; p = alloc_pid(initPidNs(), null, 0)) held.push(p);
    expect(alloc_pid(initPidNs(), null, 0)).toBe(-ENOMEM);
    expect(held.length).toBeGreaterThan(100);
  });

  it('injected ENOMEM is drawn from the task\'s own random state: the same task history replays the same failures', () => {
    const run = (): number[] => {
      const m = boot({}, { injectEnomemPermille: 300 });
      set_current(fakeTask());
      const out: number[] = [];
      for (let i = 0; i < 200; i++) {
        const p = alloc_pid(initPidNs(), null, 0);
        out.push(p === -ENOMEM ? 1 : 0);
        if (p > 0) free_pid(p);
      }
      set_current(0);
      return out;
    };
    const a = run();
    const b = run();
    expect(a).toEqual(b);
    const fails = a.reduce((x, y) => x + y, 0);
    expect(fails).toBeGreaterThan(20);
    expect(fails).toBeLessThan(120);
    // no task context (boot, the main thread): never injected
    const m = boot({}, { injectEnomemPermille: 1000 });
    expect(alloc_pid(initPidNs(), null, 0)).toBeGreaterThan(0);
    set_current(fakeTask());
    expect(alloc_pid(initPidNs(), null, 0)).toBe(-ENOMEM);
    set_current(0);
  });

  it('free_pid: the first process failing closes the namespace; 2 and 1 left wake the child reaper', () => {
    const m = boot();
    const [, ns] = chain(1);
    const first = alloc_pid(ns!, null, 0);
    expect(mem[ns! + PIDNS.pid_allocated]).toBe((PIDNS_ADDING | 1) | 0);
    free_pid(first); // fork of the would-be init failed: pid_allocated goes to 0, not PIDNS_ADDING
    expect(mem[ns! + PIDNS.pid_allocated]).toBe(0);
    expect(alloc_pid(ns!, null, 0)).toBe(-ENOMEM);
    expect(m.violations()).toEqual([]);

    const [, ns2] = chain(1);
    const { task: reaper } = giveInit(ns2!);
    const a = alloc_pid(ns2!, null, 0);
    const b = alloc_pid(ns2!, null, 0);
    const c = alloc_pid(ns2!, null, 0);
    const d = alloc_pid(ns2!, null, 0);
    // the reaper sleeps as in zap_pid_ns_processes
    Atomics.store(mem, reaper + TASK.state, TASK_INTERRUPTIBLE);
    free_pid(a); // 4 + PIDNS_ADDING: the counts compare with the flag, no wake-up
    free_pid(b);
    expect(Atomics.load(mem, reaper + TASK.state)).toBe(TASK_INTERRUPTIBLE);
    disable_pid_allocation(ns2!); // as zap_pid_ns_processes does first
    expect(mem[ns2! + PIDNS.pid_allocated]).toBe(3);
    free_pid(c); // 2 left: woken
    expect(Atomics.load(mem, reaper + TASK.state)).toBe(TASK_RUNNING);
    m.runInProcess(); // the woken fake reaper runs: nothing to do, it sleeps in pause()
    m.attach();
    expect(Atomics.load(mem, reaper + TASK.state)).toBe(TASK_INTERRUPTIBLE);
    free_pid(d); // 1 left: woken again
    expect(Atomics.load(mem, reaper + TASK.state)).toBe(TASK_RUNNING);
    m.runInProcess();
    m.attach();
    expect(m.violations()).toEqual([]);
  });

  it('get_pid / put_pid: the last reference frees the pid and drops its namespace reference', () => {
    const m = boot();
    const [, ns] = chain(1);
    giveInit(ns!);
    const kref = mem[ns! + PIDNS.kref]!;
    const p = alloc_pid(ns!, null, 0);
    expect(mem[ns! + PIDNS.kref]).toBe(kref + 1);
    get_pid(p); // e.g. a pidfd
    free_pid(p);
    flushRcu(m);
    expect(mem[p + PID.poison]).toBe(POISON_LIVE); // still referenced
    expect(find_pid_ns(pid_nr_ns(p, ns!), ns!)).toBe(0);
    put_pid(p);
    expect(mem[p + PID.poison]).toBe(POISON_FREED);
    expect(mem[ns! + PIDNS.kref]).toBe(kref);
  });
});

describe('lookups', () => {
  it('find_pid_ns, pid_nr_ns, pid_vnr, task_active_pid_ns, nspid, pid_task, idr_get_next', () => {
    const m = boot();
    const [, ns1, ns2] = chain(2);
    const { pid: i1 } = giveInit(ns1!);
    const { pid: i2 } = giveInit(ns2!);
    const p = alloc_pid(ns2!, null, 0);
    const t = fakeTask({ pid: p });
    mem[p + PID.task_pid] = t;
    mem[p + PID.task_tgid] = t;
    expect(task_active_pid_ns(t)).toBe(ns2);
    expect(pid_nr_ns(p, ns2!)).toBe(2);
    expect(pid_nr_ns(p, ns1!)).toBe(3);
    expect(pid_nr_ns(i1, ns2!)).toBe(0); // an outer pid is invisible from inside
    const other = chain(1)[1]!;
    expect(pid_nr_ns(p, other)).toBe(0); // a sibling namespace at the same level
    expect(nspid_of(p)).toEqual([pid_nr(p), pid_nr_ns(p, ns1!), 2]);
    expect(nspid_from(p, ns1!)).toEqual([pid_nr_ns(p, ns1!), 2]);
    expect(nspid_from(i1, ns2!)).toEqual([]);
    expect(is_child_reaper(i2)).toBe(true);
    expect(is_child_reaper(p)).toBe(false);
    set_current(t);
    expect(current).toBe(t);
    expect(find_vpid(2)).toBe(p);
    expect(find_vpid(1)).toBe(i2);
    expect(pid_vnr(p)).toBe(2);
    expect(pid_vnr(i1)).toBe(0);
    set_current(0);
    rcu_read_lock();
    expect(pid_task(p, PIDTYPE_PID)).toBe(t);
    expect(pid_task(p, PIDTYPE_TGID)).toBe(t);
    expect(pid_task(0, PIDTYPE_PID)).toBe(0);
    const seen: number[] = [];
    for (let e = idr_get_next(ns2!, 0); e; e = idr_get_next(ns2!, e.nr + 1)) seen.push(e.nr);
    rcu_read_unlock();
    expect(seen).toEqual([1, 2]);
    // a reserved-but-unpublished number (alloc_pid half-way) is skipped by idr_get_next
    mem[mem[ns2! + PIDNS.bitmap]!] |= 1 << 7;
    rcu_read_lock();
    expect(idr_get_next(ns2!, 3)).toBe(null);
    rcu_read_unlock();
    expect(audit_pids().some((s) => s.includes('bitmap bit 7'))).toBe(true);
    mem[mem[ns2! + PIDNS.bitmap]!] &= ~(1 << 7);
    expect(audit_pids()).toEqual([]);
  });

  it('removal from a hash chain keeps the removed upid\'s next, so a reader standing on it reaches the rest', () => {
    const m = boot({ pidHashBuckets: 1 }); // one chain: every upid collides
    m.attach();
    const ns = initPidNs();
    const pids = [0, 1, 2, 3].map(() => alloc_pid(ns, null, 0));
    const head = regions.pidHash.base;
    // chain order is newest first: p3 p2 p1 p0 (+ whatever boot allocated)
    const u2 = upid_addr(pids[2]!, 0);
    expect(mem[head]).toBe(upid_addr(pids[3]!, 0));
    expect(mem[mem[head]! + UPID_HASH_NEXT]).toBe(u2);
    rcu_read_lock(); // a reader stands on u2 ...
    const standing = u2;
    free_pid(pids[2]!); // ... while it is unlinked
    expect(mem[mem[head]! + UPID_HASH_NEXT]).toBe(upid_addr(pids[1]!, 0)); // new readers skip it
    const rest: number[] = [];
    for (let u = mem[standing + UPID_HASH_NEXT]!; u; u = mem[u + UPID_HASH_NEXT]!) rest.push(u);
    expect(rest.slice(0, 2)).toEqual([upid_addr(pids[1]!, 0), upid_addr(pids[0]!, 0)]);
    rcu_read_unlock();
    for (const p of [pids[0]!, pids[1]!, pids[3]!]) expect(find_pid_ns(pid_nr(p), ns)).toBe(p);
    expect(find_pid_ns(pid_nr(pids[2]!), ns)).toBe(0);
    expect(audit_pids()).toEqual([]);
  });
});

describe('RCU lifetime of struct pid', () => {
  /**
   * CPU 0 is an RCU reader holding a pid found by find_pid_ns; CPU 1 frees it (free_pid), passes a
   * quiescent state and runs its callbacks; CPU 0 then dereferences the pid (pid_task).
   */
  function interleave(bugs: number): { violations: number; freedBeforeReaderLeft: boolean } {
    const m = boot({ ncpus: 2 }, { bugs });
    m.attach();
    const ns = initPidNs();
    const p = alloc_pid(ns, null, 0);
    const nr = pid_nr(p);
    // reader (CPU 0)
    set_this_cpu(0);
    rcu_read_lock();
    const seen = find_pid_ns(nr, ns);
    expect(seen).toBe(p);
    // writer (CPU 1)
    set_this_cpu(1);
    free_pid(p);
    rcu_note_context_switch();
    rcu_do_batch();
    const freedBeforeReaderLeft = mem[p + PID.poison] === POISON_FREED;
    // reader (CPU 0) goes on with the pid it holds
    set_this_cpu(0);
    pid_task(seen, PIDTYPE_PID);
    rcu_read_unlock();
    end_grace_period(); // the writer's callbacks now run
    expect(this_cpu_id).toBe(0);
    expect(mem[p + PID.poison]).toBe(POISON_FREED);
    return { violations: m.violations().filter((v) => v.kind === V_RCU_USE_AFTER_FREE && v.a === p).length, freedBeforeReaderLeft };
  }

  it('call_rcu(delayed_put_pid): the pid outlives a reader that found it', () => {
    expect(interleave(0)).toEqual({ violations: 0, freedBeforeReaderLeft: false });
  });

  it('BUG_FREE_WITHOUT_GP leaves struct pid alone: it is freed through call_rcu in every variant', () => {
    // The switch is catalog entry 8's (1adfcb03e31b): only struct pid_namespace loses its grace period.
    expect(interleave(BUG_FREE_WITHOUT_GP)).toEqual({ violations: 0, freedBeforeReaderLeft: false });
  });
});

describe('RCU lifetime of struct pid_namespace', () => {
  /**
   * CPU 0 is an RCU reader holding a pid namespace it reached without a reference (as the RCU-mode
   * /proc walk of src/kernel/proc_root.ts reaches sb->s_fs_info); CPU 1 drops the namespace's last
   * reference (put_pid_ns), passes a quiescent state and runs its callbacks; CPU 0 then reads the
   * namespace through the model's check (rcu_dereference_check, as proc_pid_lookup_rcu does).
   */
  function interleave(bugs: number): { violations: number; freedBeforeReaderLeft: boolean } {
    const m = boot({ ncpus: 2 }, { bugs });
    m.attach();
    const [, ns] = chain(1);
    // reader (CPU 0)
    set_this_cpu(0);
    rcu_read_lock();
    const seen = rcu_dereference_check(ns!, PIDNS.poison);
    // writer (CPU 1): the last put
    set_this_cpu(1);
    put_pid_ns(ns!);
    rcu_note_context_switch();
    rcu_do_batch();
    const freedBeforeReaderLeft = mem[ns! + PIDNS.poison] === POISON_FREED;
    // reader (CPU 0) goes on with the namespace it holds
    set_this_cpu(0);
    rcu_dereference_check(seen, PIDNS.poison);
    void mem[seen + PIDNS.level]; // proc_pid_permission: ns->hide_pid
    rcu_read_unlock();
    end_grace_period(); // the writer's callbacks now run
    expect(mem[ns! + PIDNS.poison]).toBe(POISON_FREED);
    expect(rcu_callbacks_pending()).toBe(0);
    return { violations: m.violations().filter((v) => v.kind === V_RCU_USE_AFTER_FREE && v.a === ns).length, freedBeforeReaderLeft };
  }

  it('call_rcu(delayed_free_pidns): the namespace outlives a reader that reached it', () => {
    expect(interleave(0)).toEqual({ violations: 0, freedBeforeReaderLeft: false });
  });

  it('BUG_FREE_WITHOUT_GP: the reader dereferences the freed namespace (RCU use-after-free violation)', () => {
    expect(interleave(BUG_FREE_WITHOUT_GP)).toEqual({ violations: 1, freedBeforeReaderLeft: true });
  });
});

describe('clone_with_pids target pid sets (seed 002)', () => {
  function setup(): { nss: number[]; caller: number } {
    const nss = chain(2);
    giveInit(nss[1]!);
    giveInit(nss[2]!);
    // the caller lives in ns2 (level 2): three pid namespaces, three numbers
    const me = alloc_pid(nss[2]!, null, 0);
    const caller = fakeTask({ pid: me });
    set_current(caller);
    return { nss, caller };
  }

  it('{0, 77, 99} from a level-2 task: any pid in init_pid_ns, 77 in ns1, 99 in ns2', () => {
    const m = boot();
    const { nss } = setup();
    const p = alloc_pid_target_set(nss[2]!, [0, 77, 99], 3);
    expect(p).toBeGreaterThan(0);
    const nsp = nspid_of(p);
    expect(nsp.slice(1)).toEqual([77, 99]);
    expect(nsp[0]).toBeGreaterThan(0);
    // the same set with CLONE_NEWPID: the child's new namespace (level 3) gets the extra 0 entry
    const ns3 = create_pid_namespace(initUserNs(), nss[2]!);
    const c = alloc_pid_target_set(ns3, [0, 78, 98], 3);
    expect(nspid_of(c).slice(1)).toEqual([78, 98, 1]);
    // taken: EBUSY, and nothing stays reserved
    expect(alloc_pid_target_set(nss[2]!, [0, 77, 5], 3)).toBe(-EBUSY);
    expect(idr_test(nss[2]!, 5)).toBe(false);
    expect(alloc_pid_target_set(nss[2]!, [0, 5, 99], 3)).toBe(-EBUSY);
    expect(idr_test(nss[1]!, 5)).toBe(false);
    set_current(0);
    expect(audit_pids()).toEqual([]);
  });

  it('fewer pids than levels apply to the youngest namespaces', () => {
    const m = boot();
    const { nss } = setup();
    const p = alloc_pid_target_set(nss[2]!, [55], 1);
    expect(pid_nr_ns(p, nss[2]!)).toBe(55);
    const q = alloc_pid_target_set(nss[2]!, [66, 67], 2);
    expect(nspid_of(q).slice(1)).toEqual([66, 67]);
    const out = new Int32Array(8);
    expect(copy_target_pids(current, [66, 67], 2, out)).toBe(4);
    expect(Array.from(out.slice(0, 4))).toEqual([0, 66, 67, 0]);
    set_current(0);
  });

  it('EINVAL for a bad count or number, EPERM without CAP_SYS_ADMIN in init_user_ns, 0 pids is a plain clone', () => {
    const m = boot({ pidMax: 1000 });
    const { nss, caller } = setup();
    expect(alloc_pid_target_set(nss[2]!, [1, 2, 3, 4], 4)).toBe(-EINVAL); // more than level + 1
    expect(alloc_pid_target_set(nss[2]!, [1], -1)).toBe(-EINVAL);
    expect(alloc_pid_target_set(nss[2]!, [0, 0, 1000], 3)).toBe(-EINVAL); // >= pid_max
    expect(alloc_pid_target_set(nss[2]!, [0, 0, -5], 3)).toBe(-EINVAL);
    expect(alloc_pid_target_set(nss[2]!, [], 0)).toBeGreaterThan(0);
    expect(alloc_pid_target_set(nss[2]!, null, 3)).toBeGreaterThan(0);
    // CAP_SYS_ADMIN only in a child user namespace is not enough (capable() is init_user_ns)
    const u1 = create_user_ns(initUserNs(), 1000);
    mem[caller + TASK.cred_user_ns] = u1;
    mem[caller + TASK.cred_uid] = 1000;
    expect(alloc_pid_target_set(nss[2]!, [0, 0, 200], 3)).toBe(-EPERM);
    expect(alloc_pid_target_set(nss[2]!, [0, 0, 0, 200], 4)).toBe(-EINVAL); // count checked first
    mem[caller + TASK.cred_user_ns] = initUserNs();
    mem[caller + TASK.cred_caps] = CAP_SYS_ADMIN;
    expect(pid_nr_ns(alloc_pid_target_set(nss[2]!, [0, 0, 200], 3), nss[2]!)).toBe(200);
    set_current(0);
  });

  it('reads struct target_pid_set from the program region', () => {
    const m = new Machine({ ncpus: 1 });
    const a = m.program([[3, 0, 77, 99]]);
    m.attach();
    expect(read_target_pid_set(a)).toEqual({ num_pids: 3, pids: [0, 77, 99] });
    expect(read_target_pid_set(0)).toEqual({ num_pids: 0, pids: [] });
    expect(read_target_pid_set(5)).toBe(-14);
  });
});

describe('audit_pids', () => {
  it('reports broken counters, bitmaps and references', () => {
    const m = boot();
    const [, ns] = chain(1);
    giveInit(ns!);
    const p = alloc_pid(ns!, null, 0);
    expect(audit_pids((x) => (x === ns ? 1 : 0))).toEqual([]); // the test's own reference on ns
    expect(audit_pids((x) => (x === ns ? 2 : 0))[0]).toMatch(/kref/);
    mem[ns! + PIDNS.pid_allocated]++;
    expect(audit_pids().join()).toMatch(/pid_allocated/);
    mem[ns! + PIDNS.pid_allocated]--;
    mem[p + PID.poison] = POISON_FREED;
    expect(audit_pids().join()).toMatch(/poisoned/);
    mem[p + PID.poison] = POISON_LIVE;
    expect(audit_pids()).toEqual([]);
  });
});

describe('clone_with_pids through fork.ts (SYS_CLONE_WITH_PIDS)', () => {
  it('a task at level 2 creates children with the seed\'s target pid sets', () => {
    const m = new Machine({ ncpus: 1 });
    m.attach();
    const set1 = m.program([[3, 0, 77, 99]]);
    const set2 = m.program([[3, 0, 78, 98]]);
    const progC = m.program([[OP_HALT]]);
    const progB = m.program([
      [SYS_CLONE_WITH_PIDS, 0, set1, progC],
      [SYS_CLONE_WITH_PIDS, CLONE_NEWPID, set2, progC],
      [SYS_CLONE_WITH_PIDS, 0, set1, progC], // 77 and 99 are taken now
      [OP_HALT],
    ]);
    const progA = m.program([[SYS_FORK, CLONE_NEWPID, progB], [OP_HALT]]);
    m.attach();
    const it0 = mem[kg + G.init_task]!;
    set_ucall(it0, SYS_FORK, CLONE_NEWPID, progA, 0);
    try_to_wake_up(it0, TASK_INTERRUPTIBLE);
    m.runInProcess();
    m.attach();
    const byLevel = (l: number): number[] => live_pid_namespaces().filter((ns) => mem[ns + PIDNS.level] === l);
    const [ns2] = byLevel(2);
    const [ns3] = byLevel(3);
    const c = find_pid_ns(99, ns2!);
    expect(c).toBeGreaterThan(0);
    expect(nspid_of(c).slice(1)).toEqual([77, 99]);
    const b = find_pid_ns(1, ns2!);
    expect(mem[pid_task(b, PIDTYPE_PID) + TASK.last_ret]).toBe(-EBUSY);
    const d = find_pid_ns(1, ns3!);
    expect(nspid_of(d).slice(1)).toEqual([78, 98, 1]);
    expect(audit_pids()).toEqual([]);
    expect(m.violations()).toEqual([]);
  });
});

/**
 * kernel/pid_namespace.c in the model (seed 000): namespace creation and its errno paths, the
 * restartable pid_caches_mutex, references and their RCU-delayed freeing, ns_last_pid, the
 * PIDNS_REQ_SET_LAST_PID_VEC ioctl (seed 001), the nsfs operations, reboot_pid_ns and
 * zap_pid_ns_processes. In-process; fake task records stand for `current` where needed.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { G, MX_OWNER, NSPROXY, PID, PIDNS, POISON_FREED, POISON_LIVE, SIG, TASK, UPID_NS, UPID_WORDS, USERNS } from '../src/mm/layout.js';

/** pid_cache_created[] index of level 3 (the level these tests create). */
const LEVEL3 = 3;
import { kg, mem, regions, SLAB_NSPROXY, SLAB_PIDNS, SLAB_SIGNAL, SLAB_TASK, SLAB_USERNS } from '../src/mm/memory.js';
import { kmem_cache_alloc, mark_live, slab_usage } from '../src/mm/slab.js';
import { LC_SIGLOCK } from '../src/locking/lockdep.js';
import { spin_lock_init } from '../src/locking/spinlock.js';
import { mutex_lock, mutex_unlock } from '../src/locking/mutex.js';
import { init_waitqueue_head } from '../src/sched/wait.js';
import { current, set_current, SLEEP, TASK_INTERRUPTIBLE, TASK_RUNNING, try_to_wake_up, WCHAN_ZAP_PIDS } from '../src/sched/core.js';
import { rcu_callbacks_pending } from '../src/rcu/rcu.js';
import { srcu_exit, srcu_readers } from '../src/rcu/srcu.js';
import { OP_HALT, register_syscall, set_ucall } from '../src/kernel/entry.js';
import { SYS_LOG } from '../src/kernel/torture.js';
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_NS_LAST_PID_READ, SYS_NS_LAST_PID_WRITE, SYS_REBOOT, SYS_WAIT4 } from '../src/kernel/unistd.js';
import {
  BUG_FREE_WITHOUT_GP, BUG_RCU_TASKS_EXIT_SRCU, BUG_ZAP_HOLDS_SRCU, BUG_ZAP_INIT_PIDS_ONE, BUG_ZAP_NO_PID_WAIT,
} from '../src/config/bugs.js';
import { EFAULT, EINVAL, ENOMEM, ENOSPC, EPERM } from '../src/kernel/errno.js';
import { alloc_pid, audit_pids, find_pid_ns, free_pid, pid_nr_ns, pid_task, PIDNS_ADDING } from '../src/kernel/pid.js';
import {
  copy_pid_ns, create_pid_namespace, get_pid_ns, LINUX_REBOOT_CMD_CAD_ON, LINUX_REBOOT_CMD_HALT,
  LINUX_REBOOT_CMD_POWER_OFF, LINUX_REBOOT_CMD_RESTART, LINUX_REBOOT_CMD_RESTART2, ns_last_pid_read, ns_last_pid_write,
  pidns_for_children_get, pidns_get, pidns_get_parent, pidns_install, pidns_ioctl_set_last_pid_vec,
  pidns_owner, put_pid_ns, reboot_pid_ns, REBOOT_PID_NS_EXIT, sys_reboot, zap_pid_ns_processes,
  ZAP_IDLE, ZAP_PIDS, ZAP_PIDS_SRCU_STOPPED,
} from '../src/kernel/pid_namespace.js';
import { CLONE_NEWPID } from '../src/kernel/clone_flags.js';
import { PAGE_SIZE } from '../src/mm/memory.js';
import {
  CAP_CHECKPOINT_RESTORE, CAP_FULL_SET, CAP_SYS_ADMIN, CAP_SYS_BOOT, capable, checkpoint_restore_ns_capable, create_user_ns, ID_MAP_ALL,
  in_userns, ns_capable, put_user_ns, set_max_pid_namespaces,
} from '../src/kernel/user_namespace.js';
import '../src/kernel/exit.js'; // installs kernel_wait4 / do_exit / exit_tasks_rcu_* for zap and reboot
import { exit_tasks_rcu_start } from '../src/rcu/tasks.js';
import { EXIT_ZOMBIE, SIGHUP, SIGINT, SIGNAL_GROUP_EXIT } from '../src/kernel/sched_task.js';
import { flushRcu, inUse } from './support.js';

// ---- helpers ------------------------------------------------------------------------------------

const initPidNs = (): number => mem[kg + G.init_pid_ns]!;
const initUserNs = (): number => mem[kg + G.init_user_ns]!;
const SIGKILL_BIT = 1 << 8;

/** A bare task record: credentials, optionally a struct pid and its own signal/sighand record. */
function fakeTask(o: { uid?: number; user_ns?: number; caps?: number; pid?: number; signal?: boolean } = {}): number {
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
  mem[t + TASK.thread_next] = t;
  if (o.pid) {
    mem[o.pid + PID.task_pid] = t;
    mem[o.pid + PID.task_tgid] = t;
  }
  if (o.signal) {
    const s = kmem_cache_alloc(SLAB_SIGNAL);
    spin_lock_init(s + SIG.siglock, LC_SIGLOCK);
    init_waitqueue_head(s + SIG.wait_chldexit);
    mem[s + SIG.count] = 1;
    mem[s + SIG.live] = 1;
    mem[s + SIG.nr_threads] = 1;
    mark_live(s, SIG.poison);
    mem[t + TASK.signal] = s;
    mem[t + TASK.sighand] = s;
  }
  mark_live(t, TASK.poison);
  return t;
}

/** A machine whose init_pid_ns has an init (the process model's init_task, or a stand-in). */
function boot(cfg: ConstructorParameters<typeof Machine>[0] = {}, opts: ConstructorParameters<typeof Machine>[1] = {}): Machine {
  const m = new Machine({ ncpus: 1, ...cfg }, opts);
  m.attach();
  const ns = initPidNs();
  if ((mem[ns + PIDNS.pid_allocated]! & ~PIDNS_ADDING) === 0) {
    const pid = alloc_pid(ns, [1], 1);
    mem[ns + PIDNS.child_reaper] = fakeTask({ pid, signal: true });
  }
  return m;
}



function chain(depth: number, user = initUserNs(), from = initPidNs()): number[] {
  const out = [from];
  for (let l = 1; l <= depth; l++) {
    const ns = create_pid_namespace(user, out[l - 1]!);
    if (ns < 0) throw new Error(`create_pid_namespace: ${ns}`);
    out.push(ns);
  }
  return out;
}

/** pid 1 of ns and its child reaper (a fake task with a signal struct). */
function giveInit(ns: number, o: { uid?: number; user_ns?: number; caps?: number } = {}): { pid: number; task: number } {
  const pid = alloc_pid(ns, null, 0);
  if (pid < 0) throw new Error(`init pid: ${pid}`);
  const task = fakeTask({ ...o, pid, signal: true });
  mem[ns + PIDNS.child_reaper] = task;
  return { pid, task };
}

const kref = (ns: number): number => mem[ns + PIDNS.kref]!;
const ucount = (u: number): number => mem[u + USERNS.nr_pid_ns]!;

// ---- create / copy / put --------------------------------------------------------------------------

/**
 * A user namespace whose uid_map and gid_map were written "0 0 4294967295" by a privileged writer
 * (every id maps to itself): create_user_ns below it needs the creator's ids mapped there.
 */
function mapped(u: number): number {
  if (u > 0) {
    mem[u + USERNS.uid_map_count] = ID_MAP_ALL;
    mem[u + USERNS.gid_map_count] = ID_MAP_ALL;
  }
  return u;
}

describe('create_pid_namespace', () => {
  it('takes references on the parent and the user namespace and starts with PIDNS_ADDING and an empty idr', () => {
    const m = boot();
    const init = initPidNs();
    const u = create_user_ns(initUserNs(), 1000);
    const p = create_pid_namespace(u, init);
    expect(p).toBeGreaterThan(0);
    const ucBefore = mem[u + USERNS.count]!;
    const pk = kref(p);
    const c = create_pid_namespace(u, p);
    expect(mem[c + PIDNS.level]).toBe(2);
    expect(mem[c + PIDNS.parent]).toBe(p);
    expect(mem[c + PIDNS.user_ns]).toBe(u);
    expect(kref(c)).toBe(1);
    expect(kref(p)).toBe(pk + 1);
    expect(mem[u + USERNS.count]).toBe(ucBefore + 1);
    expect(mem[c + PIDNS.pid_allocated]).toBe(PIDNS_ADDING);
    expect(mem[c + PIDNS.child_reaper]).toBe(0);
    expect(mem[c + PIDNS.idr_next]).toBe(0);
    expect(ucount(u)).toBe(2);
    expect(ucount(initUserNs())).toBeGreaterThanOrEqual(2); // charged up the hierarchy
    // a reused slot starts clean: dirty the freed namespace's bitmap and cursor, then reuse it
    put_pid_ns(c);
    flushRcu(m);
    expect(mem[c + PIDNS.poison]).toBe(POISON_FREED);
    mem[mem[c + PIDNS.bitmap]!] = -1;
    mem[c + PIDNS.idr_next] = 77;
    const again = create_pid_namespace(u, p);
    expect(again).toBe(c);
    expect(mem[c + PIDNS.idr_next]).toBe(0);
    expect(mem[mem[c + PIDNS.bitmap]!]).toBe(0);
    expect(audit_pids((ns) => (ns === p || ns === again ? 1 : 0))).toEqual([]);
  });

  it('EINVAL when the user namespace is not the parent\'s owner or below it', () => {
    boot();
    const u1 = mapped(create_user_ns(initUserNs(), 1000));
    const u2 = create_user_ns(initUserNs(), 2000);
    const p = create_pid_namespace(u1, initPidNs());
    expect(create_pid_namespace(initUserNs(), p)).toBe(-EINVAL); // an ancestor of the owner
    expect(create_pid_namespace(u2, p)).toBe(-EINVAL); // a sibling
    const u11 = create_user_ns(u1, 1000);
    expect(create_pid_namespace(u11, p)).toBeGreaterThan(0); // below the owner
  });

  it('ENOSPC beyond MAX_PID_NS_LEVEL (32)', () => {
    const m = boot();
    const nss = chain(32);
    expect(mem[nss[32]! + PIDNS.level]).toBe(32);
    const ns = inUse(m, SLAB_PIDNS);
    const uc = ucount(initUserNs());
    expect(create_pid_namespace(initUserNs(), nss[32]!)).toBe(-ENOSPC);
    expect([inUse(m, SLAB_PIDNS), ucount(initUserNs())]).toEqual([ns, uc]);
  });

  it('ENOSPC at the UCOUNT_PID_NAMESPACES limit, charged up the user-namespace hierarchy', () => {
    const m = boot();
    const u = mapped(create_user_ns(initUserNs(), 1000));
    set_max_pid_namespaces(u, 2);
    const a = create_pid_namespace(u, initPidNs());
    const b = create_pid_namespace(u, initPidNs());
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(create_pid_namespace(u, initPidNs())).toBe(-ENOSPC);
    // a limit in an ancestor user namespace applies to a descendant's namespaces too
    const v = create_user_ns(u, 1000);
    expect(create_pid_namespace(v, initPidNs())).toBe(-ENOSPC);
    expect(ucount(v)).toBe(0); // the failed charge was undone
    // the count drops only when the namespace is freed (after the grace period)
    put_pid_ns(a);
    expect(create_pid_namespace(u, initPidNs())).toBe(-ENOSPC);
    flushRcu(m);
    const c = create_pid_namespace(v, initPidNs());
    expect(c).toBeGreaterThan(0);
    expect([ucount(u), ucount(v)]).toEqual([2, 1]);
  });

  it('ENOMEM when the namespace cache is empty, when the level has no pid cache, and on injected failures', () => {
    const m = boot({ maxPidNs: 4, maxLevel: 2 });
    const uc = ucount(initUserNs());
    const [, , ns2] = chain(2);
    expect(create_pid_namespace(initUserNs(), ns2!)).toBe(-ENOMEM); // struct pid holds 3 levels only
    expect(mem[kg + G.pid_cache_created + LEVEL3]).toBe(0);
    expect(ucount(initUserNs())).toBe(uc + 2);
    const x = create_pid_namespace(initUserNs(), initPidNs()); // the 4th and last slot
    expect(x).toBeGreaterThan(0);
    expect(create_pid_namespace(initUserNs(), initPidNs())).toBe(-ENOMEM);
    expect(ucount(initUserNs())).toBe(uc + 3);
    put_pid_ns(x);
    flushRcu(m);
    const m2 = boot({}, { injectEnomemPermille: 1000 });
    set_current(fakeTask());
    const before = [inUse(m2, SLAB_PIDNS), ucount(initUserNs())];
    expect(create_pid_namespace(initUserNs(), initPidNs())).toBe(-ENOMEM);
    expect([inUse(m2, SLAB_PIDNS), ucount(initUserNs())]).toEqual(before);
    set_current(0);
  });

  it('sleeps on a contended pid_caches_mutex with nothing charged, and completes when restarted', () => {
    const m = boot();
    const [, , ns2] = chain(2);
    expect(mem[kg + G.pid_cache_created + LEVEL3]).toBe(0);
    const holder = fakeTask();
    const creator = fakeTask();
    const mx = kg + G.pid_caches_mutex;
    set_current(holder);
    expect(mutex_lock(mx)).toBe(0);
    set_current(creator);
    const before = [inUse(m, SLAB_PIDNS), ucount(initUserNs()), kref(ns2!)];
    expect(create_pid_namespace(initUserNs(), ns2!)).toBe(SLEEP);
    expect([inUse(m, SLAB_PIDNS), ucount(initUserNs()), kref(ns2!)]).toEqual(before);
    // a spurious restart (not handed the mutex yet) sleeps again
    expect(create_pid_namespace(initUserNs(), ns2!)).toBe(SLEEP);
    set_current(holder);
    mutex_unlock(mx); // hand-off to the creator, which is woken
    set_current(creator);
    const ns3 = create_pid_namespace(initUserNs(), ns2!);
    expect(ns3).toBeGreaterThan(0);
    expect(mem[ns3 + PIDNS.level]).toBe(3);
    expect(mem[kg + G.pid_cache_created + LEVEL3]).toBe(1);
    expect(Atomics.load(mem, mx + MX_OWNER)).toBe(0);
    expect(mem[creator + TASK.held_depth]).toBe(0);
    set_current(0);
    m.runInProcess(); // the woken creator record leaves the runqueue
  });
});

describe('copy_pid_ns, get_pid_ns, put_pid_ns', () => {
  it('copy_pid_ns: a reference without CLONE_NEWPID; EINVAL when the old namespace is not the active one', () => {
    boot();
    const [init, ns1] = chain(1);
    const { pid } = giveInit(ns1!);
    const t = fakeTask({ pid });
    set_current(t);
    const k = kref(ns1!);
    expect(copy_pid_ns(0, initUserNs(), ns1!)).toBe(ns1);
    expect(kref(ns1!)).toBe(k + 1);
    const c = copy_pid_ns(CLONE_NEWPID, initUserNs(), ns1!);
    expect(mem[c + PIDNS.parent]).toBe(ns1);
    // after unshare(CLONE_NEWPID) pid_ns_for_children is c, not the active ns1: nesting again fails
    expect(copy_pid_ns(CLONE_NEWPID, initUserNs(), c)).toBe(-EINVAL);
    expect(copy_pid_ns(CLONE_NEWPID, initUserNs(), init!)).toBe(-EINVAL);
    set_current(0);
  });

  it('init_pid_ns is not counted and never freed', () => {
    boot();
    const init = initPidNs();
    const k = kref(init);
    get_pid_ns(init);
    put_pid_ns(init);
    put_pid_ns(init);
    expect(kref(init)).toBe(k);
    expect(mem[init + PIDNS.poison]).toBe(POISON_LIVE);
  });

  it('the last put frees a chain of namespaces, parents included, after a grace period', () => {
    const m = boot();
    const base = [inUse(m, SLAB_PIDNS), inUse(m, SLAB_USERNS), ucount(initUserNs())];
    const u = create_user_ns(initUserNs(), 1000);
    const [, a, b, c] = chain(3, u);
    put_pid_ns(a!);
    put_pid_ns(b!); // still held by their children
    expect([kref(a!), kref(b!), kref(c!)]).toEqual([1, 1, 1]);
    put_pid_ns(c!);
    for (const ns of [a!, b!, c!]) expect(mem[ns + PIDNS.poison]).toBe(POISON_LIVE); // waiting for RCU
    put_user_ns(u); // the namespaces still hold u
    expect(mem[u + USERNS.poison]).toBe(POISON_LIVE);
    flushRcu(m);
    for (const ns of [a!, b!, c!]) expect(mem[ns + PIDNS.poison]).toBe(POISON_FREED);
    expect(mem[u + USERNS.poison]).toBe(POISON_FREED);
    expect([inUse(m, SLAB_PIDNS), inUse(m, SLAB_USERNS), ucount(initUserNs())]).toEqual(base);
  });

  it('BUG_FREE_WITHOUT_GP frees the namespaces at the last put', () => {
    boot({}, { bugs: BUG_FREE_WITHOUT_GP });
    const [, a, b] = chain(2);
    put_pid_ns(a!);
    put_pid_ns(b!);
    expect(mem[a! + PIDNS.poison]).toBe(POISON_FREED);
    expect(mem[b! + PIDNS.poison]).toBe(POISON_FREED);
    expect(rcu_callbacks_pending()).toBe(0);
  });
});

// ---- ns_last_pid --------------------------------------------------------------------------------

describe('ns_last_pid (pid_ns_ctl_handler)', () => {
  it('reads cursor - 1 of the active namespace; writes need checkpoint_restore_ns_capable, 0..pid_max', () => {
    boot({ pidMax: 1000 });
    const [, ns] = chain(1);
    const { pid } = giveInit(ns!);
    const t = fakeTask({ pid, caps: CAP_CHECKPOINT_RESTORE });
    set_current(t);
    expect(ns_last_pid_read()).toBe(1);
    expect(ns_last_pid_write(-1)).toBe(-EINVAL);
    expect(ns_last_pid_write(1001)).toBe(-EINVAL);
    expect(ns_last_pid_write(1000)).toBe(0); // pid_max itself is allowed: the next pid wraps
    expect(pid_nr_ns(alloc_pid(ns!, null, 0), ns!)).toBe(300);
    expect(ns_last_pid_write(499)).toBe(0);
    expect(ns_last_pid_read()).toBe(499);
    expect(pid_nr_ns(alloc_pid(ns!, null, 0), ns!)).toBe(500);
    expect(ns_last_pid_read()).toBe(500);
    mem[t + TASK.cred_caps] = 0;
    expect(ns_last_pid_write(5)).toBe(-EPERM);
    expect(ns_last_pid_write(-5)).toBe(-EPERM); // the capability is checked first
    // owner of a child user namespace that owns the pid namespace: allowed there
    const u = create_user_ns(initUserNs(), 1000);
    const nsu = create_pid_namespace(u, initPidNs());
    const iu = giveInit(nsu);
    const tu = fakeTask({ pid: iu.pid, uid: 1000, caps: 0 });
    set_current(tu);
    expect(ns_last_pid_write(50)).toBe(0); // the owner of u (in its parent) has every capability in u
    set_current(0);
  });

  it('the system calls act for the calling task', () => {
    const m = boot();
    const [, ns] = chain(1);
    const { pid } = giveInit(ns!);
    const prog = m.program([[SYS_NS_LAST_PID_WRITE, 41], [SYS_NS_LAST_PID_READ], [OP_HALT]]);
    const t = m.kthread(prog);
    mem[t + TASK.pid] = pid; // the task lives in ns
    mem[t + TASK.cred_user_ns] = initUserNs();
    mem[t + TASK.cred_caps] = CAP_SYS_ADMIN;
    m.runInProcess();
    m.attach();
    expect(mem[t + TASK.last_ret]).toBe(41);
    expect(mem[ns! + PIDNS.idr_next]).toBe(42);
    const t2 = m.kthread(m.program([[SYS_NS_LAST_PID_WRITE, 7], [OP_HALT]]));
    mem[t2 + TASK.pid] = pid;
    mem[t2 + TASK.cred_user_ns] = initUserNs();
    m.runInProcess();
    m.attach();
    expect(mem[t2 + TASK.last_ret]).toBe(-EPERM);
  });
});

// ---- PIDNS_REQ_SET_LAST_PID_VEC -----------------------------------------------------------------

describe('PIDNS_REQ_SET_LAST_PID_VEC (seed 001)', () => {
  function three(): { nss: number[] } {
    const nss = chain(3);
    for (const ns of nss.slice(1)) giveInit(ns);
    return { nss };
  }
  const last = (ns: number): number => mem[ns + PIDNS.idr_next]! - 1;

  it('"p3:p2:p1" on the opened ns3 sets ns3, its parent and grandparent; a shorter vector fewer levels', () => {
    boot();
    const { nss } = three();
    const [init, ns1, ns2, ns3] = nss as [number, number, number, number];
    const initLast = last(init);
    expect(pidns_ioctl_set_last_pid_vec(ns3, '100:200:300')).toBe(0);
    expect([last(ns3), last(ns2), last(ns1), last(init)]).toEqual([100, 200, 300, initLast]);
    const p = alloc_pid(ns3, null, 0);
    expect([pid_nr_ns(p, ns3), pid_nr_ns(p, ns2), pid_nr_ns(p, ns1)]).toEqual([101, 201, 301]);
    expect(pidns_ioctl_set_last_pid_vec(ns3, '7')).toBe(0);
    expect([last(ns3), last(ns2)]).toEqual([7, 201]);
    expect(pidns_ioctl_set_last_pid_vec(ns3, '8:9')).toBe(0);
    expect([last(ns3), last(ns2), last(ns1)]).toEqual([8, 9, 301]);
    expect(pidns_ioctl_set_last_pid_vec(ns3, '')).toBe(0);
    // the whole hierarchy, init_pid_ns included
    expect(pidns_ioctl_set_last_pid_vec(ns3, '1:2:3:4000')).toBe(0);
    expect(last(init)).toBe(4000);
  });

  it('EINVAL: no child reaper, PAGE_SIZE data, a bad number, more numbers than levels (earlier levels stay written)', () => {
    boot({ pidMax: 1000 });
    const { nss } = three();
    const [init, ns1, ns2, ns3] = nss as [number, number, number, number];
    const fresh = create_pid_namespace(initUserNs(), ns3);
    expect(pidns_ioctl_set_last_pid_vec(fresh, '5')).toBe(-EINVAL);
    expect(pidns_ioctl_set_last_pid_vec(ns3, '1'.repeat(PAGE_SIZE))).toBe(-EINVAL);
    expect(pidns_ioctl_set_last_pid_vec(ns3, '5' + ' '.repeat(PAGE_SIZE - 2))).toBe(0);
    expect(pidns_ioctl_set_last_pid_vec(ns3, 'x')).toBe(-EINVAL);
    expect(pidns_ioctl_set_last_pid_vec(ns3, '-1')).toBe(-EINVAL);
    expect(pidns_ioctl_set_last_pid_vec(ns3, '1001')).toBe(-EINVAL); // > pid_max
    expect(pidns_ioctl_set_last_pid_vec(ns3, '1000')).toBe(0); // == pid_max is allowed
    const before2 = last(ns2);
    expect(pidns_ioctl_set_last_pid_vec(ns3, '11:+5')).toBe(-EINVAL); // vsscanf takes no '+'
    expect([last(ns3), last(ns2)]).toEqual([11, before2]); // the first level was written before the second failed
    expect(pidns_ioctl_set_last_pid_vec(ns3, '12::13')).toBe(-EINVAL);
    expect([last(ns3), last(ns2)]).toEqual([12, before2]);
    // sscanf("%d") stops at the first non-digit; strchr finds the next ':'
    expect(pidns_ioctl_set_last_pid_vec(ns3, ' 21abc: -0:23')).toBe(0);
    expect([last(ns3), last(ns2), last(ns1)]).toEqual([21, 0, 23]);
    // more numbers than levels: every level is written, then EINVAL
    expect(pidns_ioctl_set_last_pid_vec(ns1, '31:32:33')).toBe(-EINVAL);
    expect([last(ns1), last(init)]).toEqual([31, 32]);
    expect(pidns_ioctl_set_last_pid_vec(init, '40:')).toBe(-EINVAL); // a ':' with no parent after it
    expect(last(init)).toBe(40);
  });

  it('EPERM at the first level whose user namespace lacks CAP_SYS_ADMIN, after writing the levels below it', () => {
    boot();
    const u = create_user_ns(initUserNs(), 1000);
    const [, ns1] = chain(1);
    giveInit(ns1!);
    const [, ns2, ns3] = chain(2, u, ns1!);
    giveInit(ns2!);
    giveInit(ns3!);
    // root in u (caps in u, nothing in init_user_ns): ns3, ns2 are u's, ns1 is init_user_ns'
    set_current(fakeTask({ uid: 0, user_ns: u, caps: CAP_FULL_SET }));
    const before1 = last(ns1!);
    expect(pidns_ioctl_set_last_pid_vec(ns3!, '51:52:53')).toBe(-EPERM);
    expect([last(ns3!), last(ns2!), last(ns1!)]).toEqual([51, 52, before1]);
    // CAP_CHECKPOINT_RESTORE is not enough: the ioctl wants CAP_SYS_ADMIN
    set_current(fakeTask({ uid: 0, user_ns: u, caps: CAP_CHECKPOINT_RESTORE }));
    expect(pidns_ioctl_set_last_pid_vec(ns3!, '61')).toBe(-EPERM);
    // the size check comes first, for anyone
    set_current(fakeTask({ uid: 5, caps: 0 }));
    expect(pidns_ioctl_set_last_pid_vec(ns3!, '7'.repeat(PAGE_SIZE))).toBe(-EINVAL);
    expect(pidns_ioctl_set_last_pid_vec(ns3!, '7')).toBe(-EPERM);
    set_current(0);
  });

  it('the user-memory form reads one char per word from the program region (EFAULT outside it)', () => {
    const m = boot();
    const { nss } = three();
    const ns3 = nss[3]!;
    const text = '300:200';
    const addr = m.program([[...text].map((c) => c.charCodeAt(0)).slice(0, 4), [...text].map((c) => c.charCodeAt(0)).slice(4)]);
    m.attach();
    expect(pidns_ioctl_set_last_pid_vec(ns3, addr, text.length)).toBe(0);
    expect([last(ns3), last(nss[2]!)]).toEqual([300, 200]);
    expect(pidns_ioctl_set_last_pid_vec(ns3, 8, 3)).toBe(-EFAULT);
    expect(pidns_ioctl_set_last_pid_vec(ns3, addr, PAGE_SIZE)).toBe(-EINVAL);
  });
});

// ---- nsfs operations ----------------------------------------------------------------------------

describe('pidns_get, pidns_for_children_get, pidns_install, pidns_get_parent', () => {
  it('get: the active namespace with a reference; for_children: NULL until the namespace has a reaper', () => {
    boot();
    const [, ns1] = chain(1);
    const { pid } = giveInit(ns1!);
    const t = fakeTask({ pid });
    const k = kref(ns1!);
    expect(pidns_get(t)).toBe(ns1);
    expect(kref(ns1!)).toBe(k + 1);
    expect(pidns_get(fakeTask())).toBe(0); // no pid (released)
    const np = kmem_cache_alloc(SLAB_NSPROXY);
    mem[t + TASK.nsproxy] = np;
    const child = create_pid_namespace(initUserNs(), ns1!); // unshare(CLONE_NEWPID)
    mem[np + NSPROXY.pid_ns_for_children] = child;
    const ck = kref(child);
    expect(pidns_for_children_get(t)).toBe(0);
    expect(kref(child)).toBe(ck); // the reference taken was put back
    giveInit(child);
    expect(pidns_for_children_get(t)).toBe(child);
    expect(pidns_for_children_get(fakeTask())).toBe(0); // no nsproxy
    expect(pidns_owner(child)).toBe(initUserNs());
  });

  it('install: EPERM without CAP_SYS_ADMIN over the namespace and in the cred\'s user namespace; EINVAL outside the active namespace\'s subtree', () => {
    boot();
    const [, ns1, ns2] = chain(2);
    const { pid } = giveInit(ns1!);
    const sibling = chain(1)[1]!;
    const t = fakeTask({ pid });
    const np = kmem_cache_alloc(SLAB_NSPROXY);
    mem[np + NSPROXY.pid_ns_for_children] = get_pid_ns(ns1!);
    set_current(t);
    expect(pidns_install(t, initPidNs(), np)).toBe(-EINVAL); // an ancestor
    expect(pidns_install(t, sibling, np)).toBe(-EINVAL); // not below the active namespace
    const k2 = kref(ns2!);
    const k1 = kref(ns1!);
    expect(pidns_install(t, ns2!, np)).toBe(0); // a descendant
    expect(mem[np + NSPROXY.pid_ns_for_children]).toBe(ns2);
    expect([kref(ns2!), kref(ns1!)]).toEqual([k2 + 1, k1 - 1]);
    expect(pidns_install({ nsproxy: np, cred_user_ns: initUserNs() }, ns1!)).toBe(0); // nsset form, back to the active one
    expect(mem[np + NSPROXY.pid_ns_for_children]).toBe(ns1);
    mem[t + TASK.cred_caps] = CAP_CHECKPOINT_RESTORE;
    expect(pidns_install(t, ns2!, np)).toBe(-EPERM);
    // CAP_SYS_ADMIN in a child user namespace owning the target is not enough when the nsset cred
    // stays in init_user_ns without it
    const u = create_user_ns(initUserNs(), 1000);
    const nsu = create_pid_namespace(u, ns1!);
    const tu = fakeTask({ pid, uid: 1000, user_ns: u, caps: CAP_FULL_SET });
    set_current(tu);
    expect(pidns_install(tu, nsu, np)).toBe(0);
    expect(pidns_install(tu, nsu, np, initUserNs())).toBe(-EPERM);
    expect(pidns_install(tu, ns2!, np)).toBe(-EPERM); // ns2 is init_user_ns'
    set_current(0);
  });

  it('get_parent: the parent if it is the active namespace or below it, else EPERM', () => {
    boot();
    const [init, ns1, ns2] = chain(2);
    const { pid } = giveInit(ns1!);
    set_current(fakeTask({ pid }));
    const k = kref(ns1!);
    expect(pidns_get_parent(ns2!)).toBe(ns1);
    expect(kref(ns1!)).toBe(k + 1);
    expect(pidns_get_parent(ns1!)).toBe(-EPERM); // init_pid_ns is outside the view from ns1
    expect(pidns_get_parent(init!)).toBe(-EPERM); // no parent
    set_current(0);
    expect(pidns_get_parent(ns1!)).toBe(init); // kernel context sees from init_pid_ns
  });
});

// ---- reboot ---------------------------------------------------------------------------------------

describe('reboot_pid_ns', () => {
  it('records SIGHUP/SIGINT and SIGKILLs the namespace init; EINVAL for other commands; 0 in init_pid_ns', () => {
    boot();
    expect(reboot_pid_ns(initPidNs(), LINUX_REBOOT_CMD_RESTART)).toBe(0);
    const [, ns1, ns2] = chain(2);
    const { task: init1 } = giveInit(ns1!);
    const { task: init2 } = giveInit(ns2!);
    expect(reboot_pid_ns(ns1!, LINUX_REBOOT_CMD_CAD_ON)).toBe(-EINVAL);
    expect(mem[ns1! + PIDNS.reboot]).toBe(0);
    expect(mem[init1 + TASK.pending]! & SIGKILL_BIT).toBe(0);
    expect(reboot_pid_ns(ns1!, LINUX_REBOOT_CMD_RESTART2)).toBe(REBOOT_PID_NS_EXIT);
    expect(mem[ns1! + PIDNS.reboot]).toBe(SIGHUP);
    expect(mem[init1 + TASK.pending]! & SIGKILL_BIT).toBe(SIGKILL_BIT);
    expect(reboot_pid_ns(ns2!, LINUX_REBOOT_CMD_POWER_OFF)).toBe(REBOOT_PID_NS_EXIT);
    expect(mem[ns2! + PIDNS.reboot]).toBe(SIGINT);
    expect(mem[init2 + TASK.pending]! & SIGKILL_BIT).toBe(SIGKILL_BIT);
    expect(reboot_pid_ns(ns1!, LINUX_REBOOT_CMD_HALT)).toBe(REBOOT_PID_NS_EXIT);
    expect(mem[ns1! + PIDNS.reboot]).toBe(SIGINT);
  });

  it('sys_reboot: EPERM without CAP_SYS_BOOT over the namespace, EINVAL for a bad command, 0 in init_pid_ns', () => {
    boot();
    set_current(fakeTask({ caps: 0 }));
    expect(sys_reboot(LINUX_REBOOT_CMD_RESTART)).toBe(-EPERM);
    set_current(fakeTask({ caps: CAP_SYS_BOOT }));
    expect(sys_reboot(LINUX_REBOOT_CMD_RESTART)).toBe(0);
    expect(sys_reboot(12345)).toBe(-EINVAL);
    set_current(0);
  });
});

// ---- zap ------------------------------------------------------------------------------------------

/** Test system calls: run zap_pid_ns_processes(ns) as the calling task (restarted while it sleeps). */
const SYS_TEST_ZAP = 250;
const SYS_TEST_EXIT_ZAP = 251;
register_syscall(SYS_TEST_ZAP, 'test_zap', (ns) => zap_pid_ns_processes(ns));
register_syscall(SYS_TEST_EXIT_ZAP, 'test_exit_zap', (ns) => {
  if (mem[current + TASK.zap_phase] === ZAP_IDLE) exit_tasks_rcu_start(); // as do_exit before exit_notify
  return zap_pid_ns_processes(ns);
});

describe('zap_pid_ns_processes', () => {
  /**
   * A namespace whose exiting init Z runs zap_pid_ns_processes as a system call of a real task
   * (so the CPU loop sleeps and restarts it), and two victims (fake records) holding pids in it.
   * Z has no children: kernel_wait4 returns -ECHILD at once. With leader: false, Z is a non-leader
   * thread whose zombie group leader keeps pid 1.
   */
  function world(m: Machine, o: { leader?: boolean; call?: number } = {}) {
    const [, ns] = chain(1);
    const { pid: initPid, task: leader } = giveInit(ns!);
    const victims = [0, 1].map(() => {
      const pid = alloc_pid(ns!, null, 0);
      return { pid, task: fakeTask({ pid, signal: true }) };
    });
    const z = m.kthread(m.program([[o.call ?? SYS_TEST_ZAP, ns!], [OP_HALT]]));
    mem[z + TASK.cred_user_ns] = initUserNs();
    mem[z + TASK.cred_caps] = CAP_FULL_SET;
    const sig = mem[leader + TASK.signal]!;
    mem[sig + SIG.flags] = SIGNAL_GROUP_EXIT; // the init's group is exiting
    mem[z + TASK.signal] = sig;
    mem[z + TASK.sighand] = sig;
    if (o.leader === false) {
      const tid = alloc_pid(ns!, null, 0);
      mem[z + TASK.pid] = tid;
      mem[tid + PID.task_pid] = z;
      mem[z + TASK.group_leader] = leader;
      mem[z + TASK.thread_next] = leader;
      mem[leader + TASK.thread_next] = z;
    } else {
      // Z takes over pid 1 (the leader record stands aside)
      mem[z + TASK.pid] = initPid;
      mem[initPid + PID.task_pid] = z;
      mem[z + TASK.group_leader] = z;
      mem[z + TASK.thread_next] = z;
    }
    mem[ns! + PIDNS.child_reaper] = z;
    return { ns: ns!, z, victims };
  }

  it('kills every other pid, sleeps until only the init is left (signal wake-ups re-check), then sets the reboot exit code', () => {
    const m = boot();
    const { ns, z, victims } = world(m);
    mem[ns + PIDNS.reboot] = SIGHUP;
    m.runInProcess();
    m.attach();
    expect(mem[ns + PIDNS.pid_allocated]! & PIDNS_ADDING).toBe(0); // disable_pid_allocation
    expect(alloc_pid(ns, null, 0)).toBe(-ENOMEM);
    expect(mem[mem[z + TASK.sighand]! + SIG.action_ign]! & (1 << (17 - 1))).not.toBe(0); // SIGCHLD is SIG_IGN
    for (const v of victims) expect(mem[v.task + TASK.pending]! & SIGKILL_BIT).toBe(SIGKILL_BIT);
    expect(mem[z + TASK.zap_phase]).toBe(ZAP_PIDS);
    expect(mem[z + TASK.wait_chan]).toBe(WCHAN_ZAP_PIDS);
    expect(Atomics.load(mem, z + TASK.state)).toBe(TASK_INTERRUPTIBLE);
    // a signal wakes it: it re-checks and sleeps again
    expect(try_to_wake_up(z, TASK_INTERRUPTIBLE)).toBe(true);
    m.runInProcess();
    m.attach();
    expect(Atomics.load(mem, z + TASK.state)).toBe(TASK_INTERRUPTIBLE);
    expect(mem[z + TASK.wait_chan]).toBe(WCHAN_ZAP_PIDS);
    // the victims are reaped: free_pid wakes the reaper when 2 and when 1 are left
    free_pid(victims[0]!.pid);
    expect(Atomics.load(mem, z + TASK.state)).toBe(TASK_RUNNING);
    m.runInProcess();
    m.attach();
    expect(mem[z + TASK.wait_chan]).toBe(WCHAN_ZAP_PIDS); // 2 left: sleeps again
    free_pid(victims[1]!.pid);
    m.runInProcess();
    m.attach();
    expect(mem[z + TASK.zap_phase]).toBe(ZAP_IDLE);
    expect(mem[z + TASK.last_ret]).toBe(0);
    expect(mem[mem[z + TASK.signal]! + SIG.group_exit_code]).toBe(SIGHUP);
  });

  it('a non-leader zapper waits for 2 (its tid and the zombie leader\'s pid 1); BUG_ZAP_INIT_PIDS_ONE waits for 1 and hangs', () => {
    for (const bugs of [0, BUG_ZAP_INIT_PIDS_ONE]) {
      const m = boot({}, { bugs });
      const { ns, z, victims } = world(m, { leader: false });
      m.runInProcess();
      m.attach();
      for (const v of victims) free_pid(v.pid);
      m.runInProcess();
      m.attach();
      expect(mem[ns + PIDNS.pid_allocated]).toBe(2);
      expect(mem[z + TASK.wait_chan]).toBe(bugs ? WCHAN_ZAP_PIDS : 6 /* WCHAN_PAUSE: done, halted */);
      expect(mem[z + TASK.zap_phase]).toBe(bugs ? ZAP_PIDS : ZAP_IDLE);
    }
  });

  it('BUG_ZAP_NO_PID_WAIT returns while other pids of the namespace still exist', () => {
    const m = boot({}, { bugs: BUG_ZAP_NO_PID_WAIT });
    const { ns, z } = world(m);
    m.runInProcess();
    m.attach();
    expect(mem[z + TASK.zap_phase]).toBe(ZAP_IDLE);
    expect(mem[z + TASK.last_ret]).toBe(0);
    expect(mem[ns + PIDNS.pid_allocated]).toBe(3);
  });

  it('tasks_rcu_exit_srcu is dropped across the sleep only in the first-fix variant', () => {
    const readers = (): number => srcu_readers(srcu_exit(), 0) + srcu_readers(srcu_exit(), 1);
    const cases: Array<[number, number]> = [
      [BUG_RCU_TASKS_EXIT_SRCU, 0], // 28319d6dc5e2: exit_tasks_rcu_stop() before schedule()
      [BUG_RCU_TASKS_EXIT_SRCU | BUG_ZAP_HOLDS_SRCU, 1], // before it: sleeps holding the read side
    ];
    for (const [bugs, whileAsleep] of cases) {
      const m = boot({}, { bugs });
      const { z, victims } = world(m, { call: SYS_TEST_EXIT_ZAP });
      m.runInProcess();
      m.attach();
      expect(mem[z + TASK.wait_chan]).toBe(WCHAN_ZAP_PIDS);
      expect(readers()).toBe(whileAsleep);
      expect(mem[z + TASK.zap_phase]).toBe(whileAsleep ? ZAP_PIDS : ZAP_PIDS_SRCU_STOPPED);
      for (const v of victims) free_pid(v.pid);
      m.runInProcess();
      m.attach();
      expect(mem[z + TASK.zap_phase]).toBe(ZAP_IDLE);
      expect(readers()).toBe(1); // exit_tasks_rcu_start() again after schedule()
    }
  });
});

// ---- end to end, through the process model (fork.ts / exit.ts) ------------------------------------

describe('end to end with fork and exit', () => {
  /** Give the scripted init task a system call and run until everything sleeps; its result. */
  function initCall(m: Machine, op: number, a = 0, b = 0, c = 0): number {
    m.attach();
    const it = mem[kg + G.init_task]!;
    set_ucall(it, op, a, b, c);
    try_to_wake_up(it, TASK_INTERRUPTIBLE);
    m.runInProcess();
    m.attach();
    return mem[it + TASK.last_ret]!;
  }

  it('the namespace init exits: zap kills and reaps its children, it is reaped last, the namespace is freed', () => {
    const m = new Machine({ ncpus: 1 });
    m.attach();
    const base = inUse(m, SLAB_PIDNS);
    // the children make one system call before they halt, so a SIGKILL that arrives before they
    // first ran is delivered on their return to user mode
    const halt = m.program([[SYS_GETPID], [OP_HALT]]);
    const progA = m.program([[SYS_FORK, 0, halt], [SYS_FORK, 0, halt], [SYS_EXIT, 3]]);
    const nrA = initCall(m, SYS_FORK, CLONE_NEWPID, progA);
    expect(nrA).toBeGreaterThan(1);
    const pidA = find_pid_ns(nrA, initPidNs());
    const ns1 = mem[pidA + PID.SIZE + 1 * UPID_WORDS + UPID_NS]!; // numbers[1].ns
    expect(mem[ns1 + PIDNS.level]).toBe(1);
    expect(pid_nr_ns(pidA, ns1)).toBe(1);
    // A exited: its two children were killed and reaped inside zap; only A's zombie pid is left
    expect(mem[ns1 + PIDNS.pid_allocated]).toBe(1);
    const a = pid_task(pidA, 0);
    expect(mem[a + TASK.exit_state]).toBe(EXIT_ZOMBIE);
    expect(mem[a + TASK.zap_phase]).toBe(ZAP_IDLE);
    expect(audit_pids()).toEqual([]);
    // init reaps A; the namespace goes with its last reference, after a grace period
    expect(initCall(m, SYS_WAIT4, -1, 0)).toBe(nrA);
    expect(mem[mem[kg + G.init_task]! + TASK.last_status]).toBe(3 << 8);
    flushRcu(m);
    expect(mem[ns1 + PIDNS.poison]).toBe(POISON_FREED);
    expect(inUse(m, SLAB_PIDNS)).toBe(base);
    expect(audit_pids()).toEqual([]);
    expect(m.violations()).toEqual([]);
  });

  it('reboot(RESTART) inside a namespace kills its init, whose exit status becomes SIGHUP', () => {
    const m = new Machine({ ncpus: 1 });
    m.attach();
    const progB = m.program([[SYS_REBOOT, LINUX_REBOOT_CMD_RESTART]]);
    const progA = m.program([[SYS_FORK, 0, progB], [OP_HALT]]);
    const nrA = initCall(m, SYS_FORK, CLONE_NEWPID, progA);
    const pidA = find_pid_ns(nrA, initPidNs());
    const ns1 = mem[pidA + PID.SIZE + 1 * UPID_WORDS + UPID_NS]!;
    expect(mem[ns1 + PIDNS.reboot]).toBe(SIGHUP);
    expect(initCall(m, SYS_WAIT4, -1, 0)).toBe(nrA);
    expect(mem[mem[kg + G.init_task]! + TASK.last_status]).toBe(SIGHUP);
    expect(m.violations()).toEqual([]);
  });
});

// ---- user namespaces and capabilities ----------------------------------------------------------------

describe('user namespaces and cap_capable', () => {
  it('create_user_ns: ENOSPC when the parent is deeper than 32, ENOMEM when the cache is empty; puts free up the chain', () => {
    const m = boot({ maxUserNs: 40 });
    const base = inUse(m, SLAB_USERNS);
    const chainU = [initUserNs()];
    for (let l = 1; l <= 33; l++) {
      const u = mapped(create_user_ns(chainU[l - 1]!, 1000));
      expect(u).toBeGreaterThan(0);
      chainU.push(u);
    }
    expect(mem[chainU[33]! + USERNS.level]).toBe(33);
    expect(create_user_ns(chainU[33]!, 1000)).toBe(-ENOSPC); // parent level 33 > 32
    const more: number[] = [];
    for (let u = create_user_ns(initUserNs(), 0); u > 0; u = create_user_ns(initUserNs(), 0)) more.push(u);
    expect(create_user_ns(initUserNs(), 0)).toBe(-ENOMEM);
    for (const u of more) put_user_ns(u);
    for (const u of chainU.slice(1).reverse()) put_user_ns(u); // each still held by its child until the child goes
    expect(inUse(m, SLAB_USERNS)).toBe(base);
  });

  it('ns_capable: the cred\'s own namespace uses its capabilities; an owner in the parent has all; nothing upwards', () => {
    boot();
    const init = initUserNs();
    const a = mapped(create_user_ns(init, 1000)); // owned by uid 1000 from init
    const aa = create_user_ns(a, 2000); // owned by uid 2000 from a
    // an unmapped creator can not create one (create_user_ns: kuid_has_mapping(parent, owner))
    expect(create_user_ns(create_user_ns(init, 5000), 5000)).toBe(-EPERM);
    const b = create_user_ns(init, 3000);
    const owner = fakeTask({ uid: 1000, caps: 0 }); // uid 1000 in init_user_ns, no capabilities
    expect(ns_capable(owner, init, CAP_SYS_ADMIN)).toBe(false);
    expect(ns_capable(owner, a, CAP_SYS_ADMIN)).toBe(true); // owner of a
    expect(ns_capable(owner, aa, CAP_SYS_ADMIN)).toBe(true); // ... and so of its children
    expect(ns_capable(owner, b, CAP_SYS_ADMIN)).toBe(false);
    const inA = fakeTask({ uid: 0, user_ns: a, caps: CAP_CHECKPOINT_RESTORE });
    expect(ns_capable(inA, a, CAP_CHECKPOINT_RESTORE)).toBe(true);
    expect(ns_capable(inA, a, CAP_SYS_ADMIN)).toBe(false);
    expect(ns_capable(inA, aa, CAP_CHECKPOINT_RESTORE)).toBe(true); // a capability in a parent covers children
    expect(ns_capable(inA, init, CAP_CHECKPOINT_RESTORE)).toBe(false); // never upwards
    expect(ns_capable(inA, b, CAP_CHECKPOINT_RESTORE)).toBe(false); // nor sideways
    expect(checkpoint_restore_ns_capable(inA, aa)).toBe(true);
    expect(capable(inA, CAP_CHECKPOINT_RESTORE)).toBe(false);
    expect(capable(fakeTask({ caps: CAP_SYS_ADMIN }), CAP_SYS_ADMIN)).toBe(true);
    expect(in_userns(a, aa)).toBe(true);
    expect(in_userns(aa, a)).toBe(false);
    expect(in_userns(b, aa)).toBe(false);
    expect(in_userns(init, b)).toBe(true);
  });
});

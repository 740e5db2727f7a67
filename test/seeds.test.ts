/**
 * The seeds: 003 (the 2007 pid-namespace RFC's pidns_exec: nesting to MAX_PID_NS_LEVEL and the fork
 * bomb), 000 (kernel/pid_namespace.c zap_pid_ns_processes: what a dying namespace init waits for),
 * 002 (clone_with_pids), and the exit-path catalog entries the process model makes expressible
 * (docs/catalog-sources.md 1, 4, 5, 6).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kernel, WTERMSIG, type TaskHandle } from '../src/api.js';
import { CLONE_NEWPID, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, SIGCHLD, SIGKILL } from '../src/kernel/sched_task.js';
import { SYS_EXIT, SYS_FORK, SYS_KILL, SYS_PAUSE, SYS_WAIT4 } from '../src/kernel/unistd.js';
import { OP_LOOP } from '../src/kernel/entry.js';
import { PTRACE_ATTACH } from '../src/kernel/ptrace.js';
import { G } from '../src/mm/layout.js';
import { kg, mem } from '../src/mm/memory.js';
import { errCode, reapStatus } from './support.js';

const THREAD = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;

let k: Kernel;
let skipAudit = false;
afterEach(() => {
  if (!skipAudit) expect(k.audit()).toEqual([]);
  skipAudit = false;
});


const reap = (p: TaskHandle, c: TaskHandle): number => reapStatus(k, p, c);

describe('seed 003: pidns_exec', () => {
  it('-N 32: clone(CLONE_NEWPID) nested to depth 32, refused (ENOSPC) at 33', () => {
    k = Kernel.create();
    const chain: TaskHandle[] = [];
    let t = k.init;
    for (let depth = 1; depth <= 32; depth++) {
      t = k.fork(t, { flags: CLONE_NEWPID });
      chain.push(t);
      expect(k.getpid(t)).toBe(1);
      expect(k.level(t)).toBe(depth);
    }
    expect(errCode(() => k.fork(t, { flags: CLONE_NEWPID }))).toBe('ENOSPC');
    const nspid = k.nspid(t);
    expect(nspid).toHaveLength(33);
    // init is 1, the chain took 2..33 globally; in level j (whose init is chain[j-1]) the deepest
    // task is number 33 - j: NSpid reads 33 32 31 ... 2 1.
    expect(nspid).toEqual(Array.from({ length: 33 }, (_, j) => 33 - j));
    // the seed's exit: the deepest runs its command and exits, each level waits and exits
    for (let i = chain.length - 1; i >= 0; i--) {
      k.exit(chain[i]!, 0);
      reap(i === 0 ? k.init : chain[i - 1]!, chain[i]!);
    }
  });

  it('unshare(CLONE_NEWPID) + fork nested to depth 32, ENOSPC at 33', () => {
    k = Kernel.create();
    const chain: TaskHandle[] = [];
    let t = k.init;
    for (let depth = 1; depth <= 32; depth++) {
      const u = k.fork(t);
      k.unshare(u, CLONE_NEWPID);
      expect(k.level(u)).toBe(depth - 1);
      const c = k.fork(u);
      expect(k.getpid(c)).toBe(1);
      chain.push(u, c);
      t = c;
    }
    const u = k.fork(t);
    expect(errCode(() => k.unshare(u, CLONE_NEWPID))).toBe('ENOSPC');
    expect(k.nspid(t)).toHaveLength(33);
    expect(k.nspid(t)[32]).toBe(1);
    k.exit(u);
    reap(t, u);
    for (let i = chain.length - 1; i >= 0; i--) {
      k.exit(chain[i]!, 0);
      reap(i === 0 ? k.init : chain[i - 1]!, chain[i]!);
    }
  });

  it('-F 32768: a fork bomb; every child exits and is reaped, nothing leaks', () => {
    const N = 32768;
    k = Kernel.create({ maxTasks: N + 16, pidMax: 65536 });
    const child = k.program([[SYS_PAUSE]], 'bomb-child');
    const bomber = k.program([
      [SYS_FORK, SIGCHLD, child],
      [OP_LOOP, 0, N],
      [SYS_KILL, -1, 15], // SIGTERM to every process but init and the bomber
      [SYS_WAIT4, -1, 0],
      [OP_LOOP, 3, N],
      [SYS_EXIT, 0],
    ], 'bomber');
    const b = k.fork(k.init, { prog: bomber });
    expect(reap(k.init, b)).toBe(0);
    k.machine.attach();
    expect(mem[kg + G.total_forks]).toBe(N + 1);
    expect(k.nrThreads()).toBe(1);
  }, 120_000);
});

describe('seed 000: zap_pid_ns_processes', () => {
  it('kills children, nested namespaces and zombies, and waits for a setns()+fork() child of an outside parent', () => {
    k = Kernel.create();
    const A = k.fork(k.init); // outside the namespace
    const B = k.fork(A, { flags: CLONE_NEWPID }); // its init
    const C = k.fork(B);
    const D = k.fork(C, { flags: CLONE_NEWPID }); // a nested namespace
    const E = k.fork(D);
    const T = k.fork(C, { flags: THREAD });
    const Z = k.fork(B);
    k.exit(Z, 3); // a zombie of the init
    expect(k.isZombie(Z)).toBe(true);
    // setns() into B's namespace, then fork: F is in the namespace, its parent A is not.
    const fd = k.openNs(A, k.pidIn(A, B), 'pid');
    k.setns(A, fd, CLONE_NEWPID);
    const F = k.fork(A);
    expect(k.nspid(F)).toHaveLength(2);
    expect(k.getppid(F)).toBe(0);
    expect(k.nspid(E)).toHaveLength(3);
    // The init exits: zap kills everything else in the namespace and reaps what it can; F's
    // zombie belongs to A, so the init waits (pid_allocated) until A reaps it.
    expect(k.exit(B, 0)).toEqual({ blocked: true });
    for (const t of [C, D, E, T, Z]) expect(k.exists(t)).toBe(false);
    expect(k.isZombie(F)).toBe(true);
    expect(k.isZombie(B)).toBe(false);
    expect(WTERMSIG(reap(A, F))).toBe(SIGKILL);
    expect(k.isZombie(B)).toBe(true); // the init is the last to go
    expect(reap(A, B)).toBe(0);
    // The namespace is dead: a setns'd parent cannot fork into it any more.
    expect(errCode(() => k.fork(A))).toBe('ENOMEM');
    k.close(A, fd);
    k.exit(A);
    reap(k.init, A);
  });

  it('SIGKILL to a namespace init from its parent namespace tears the namespace down', () => {
    k = Kernel.create();
    const A = k.fork(k.init);
    const B = k.fork(A, { flags: CLONE_NEWPID });
    const kids = [k.fork(B), k.fork(B), k.fork(B)];
    const g = k.fork(kids[0]!);
    k.kill(A, k.pidIn(A, B), SIGKILL);
    for (const t of [...kids, g]) expect(k.exists(t)).toBe(false);
    expect(WTERMSIG(reap(A, B))).toBe(SIGKILL);
    k.exit(A);
    reap(k.init, A);
  });

  it('a multi-threaded init: a non-leader thread zaps with init_pids = 2 (catalog 4)', () => {
    for (const buggy of [false, true]) {
      k = Kernel.create({ bugs: buggy ? ['zap_init_pids_one'] : [] });
      const A = k.fork(k.init);
      const B = k.fork(A, { flags: CLONE_NEWPID });
      const T = k.fork(B, { flags: THREAD });
      k.fork(B);
      k.exit(B, 0); // the leader goes first: T becomes the child reaper
      const r = k.exit(T, 0);
      if (buggy) {
        // BUG_ZAP_INIT_PIDS_ONE: waits for pid_allocated == 1, but the zombie leader keeps pid 1.
        expect(r).toEqual({ blocked: true });
        expect(k.isBlocked(T)).toBe(true);
        skipAudit = true;
        continue;
      }
      expect(r).toEqual({ exited: true });
      expect(reap(A, B)).toBe(0);
      k.exit(A);
      reap(k.init, A);
      expect(k.audit()).toEqual([]);
    }
  });

  it('without the pid wait the init is reaped while its namespace still has a process (catalog 5)', () => {
    k = Kernel.create({ bugs: ['zap_no_pid_wait'] });
    const A = k.fork(k.init);
    const B = k.fork(A, { flags: CLONE_NEWPID });
    const fd = k.openNs(A, k.pidIn(A, B), 'pid');
    k.setns(A, fd, CLONE_NEWPID);
    const F = k.fork(A);
    expect(k.exit(B, 0)).toEqual({ exited: true });
    reap(A, B); // the init is gone ...
    expect(k.isZombie(F)).toBe(true); // ... while F (pid 2 there) still exists: the invariant is broken
    reap(A, F);
    k.close(A, fd);
    k.exit(A);
    reap(k.init, A);
  });
});

describe('seed 002: clone_with_pids', () => {
  it('chooses pids in the youngest namespaces; EBUSY, EINVAL, EPERM', () => {
    k = Kernel.create();
    const A = k.fork(k.init);
    const N1 = k.fork(A, { flags: CLONE_NEWPID });
    const N2 = k.fork(N1, { flags: CLONE_NEWPID });
    // N2 is at level 2: three numbers. pids[] = { 0, 77, 99 } as the patch's example, from N2's
    // view: the last two apply to levels 1 and 2, the 0 lets the kernel choose at level 0.
    const c = k.cloneWithPids(N2, [0, 77, 99]);
    expect(k.nspid(c).slice(1)).toEqual([77, 99]);
    expect(errCode(() => k.cloneWithPids(N2, [0, 0, 99]))).toBe('EBUSY');
    expect(errCode(() => k.cloneWithPids(N2, [1, 2, 3, 4]))).toBe('EINVAL'); // more pids than levels
    const d = k.cloneWithPids(N2, []); // no pids: a normal clone
    expect(k.nspid(d)).toHaveLength(3);
    const u = k.fork(N2);
    k.setuid(u, 1000);
    expect(errCode(() => k.cloneWithPids(u, [500]))).toBe('EPERM');
    for (const t of [c, d, u]) {
      k.exit(t);
      reap(N2, t);
    }
    k.exit(N2);
    reap(N1, N2);
    k.exit(N1);
    reap(A, N1);
    k.exit(A);
    reap(k.init, A);
  });
});

describe('catalog: the exit path and RCU tasks (entries 1 and 6)', () => {
  /** Entry 1's tasks: A unshares and forks B (the namespace init) and C; B exits. */
  function entry1(bugs: string[]): { A: TaskHandle; B: TaskHandle; C: TaskHandle } {
    k = Kernel.create({ bugs });
    const A = k.fork(k.init);
    k.unshare(A, CLONE_NEWPID);
    const B = k.fork(A);
    const C = k.fork(A);
    expect(k.exit(B, 0)).toEqual({ blocked: true }); // B kills C, waits for C's pid to go
    expect(k.isZombie(C)).toBe(true); // only A can reap C
    return { A, B, C };
  }

  it('today: synchronize_rcu_tasks does not wait for a task sleeping in do_exit', () => {
    const { A, B, C } = entry1([]);
    expect(k.synchronizeRcuTasks(A)).toEqual({ value: 0 });
    expect(WTERMSIG(reap(A, C))).toBe(SIGKILL);
    expect(reap(A, B)).toBe(0);
    k.exit(A);
    reap(k.init, A);
  });

  it('the SRCU design before 28319d6dc5e2 deadlocks A, B and C', () => {
    const { A } = entry1(['rcu_tasks_exit_srcu', 'zap_holds_srcu']);
    expect(k.synchronizeRcuTasks(A)).toEqual({ blocked: true });
    skipAudit = true;
  });

  it('28319d6dc5e2 (zap drops the SRCU read side while it sleeps) fixes entry 1', () => {
    const { A, B, C } = entry1(['rcu_tasks_exit_srcu']);
    expect(k.synchronizeRcuTasks(A)).toEqual({ value: 0 });
    reap(A, C);
    reap(A, B);
    k.exit(A);
    reap(k.init, A);
  });

  it('entry 6: dead tracees are released before zap (fixed), or kept across it (hang)', () => {
    for (const buggy of [false, true]) {
      k = Kernel.create({ bugs: buggy ? ['ptrace_dead_list'] : [] });
      const A = k.fork(k.init);
      const R = k.fork(A, { flags: CLONE_NEWPID });
      const Z = k.fork(R);
      k.sigchldIgnore(R, true);
      expect(k.ptrace(R, PTRACE_ATTACH, k.pidIn(R, Z))).toBe(0);
      k.exit(Z, 5);
      expect(k.isZombie(Z)).toBe(true); // a traced zombie is never autoreaped
      const r = k.exit(R, 0);
      if (buggy) {
        expect(r).toEqual({ blocked: true }); // R waits for Z's pid, which only R can free
        skipAudit = true;
        continue;
      }
      expect(r).toEqual({ exited: true });
      expect(k.exists(Z)).toBe(false);
      expect(reap(A, R)).toBe(0);
      k.exit(A);
      reap(k.init, A);
      expect(k.audit()).toEqual([]);
    }
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { Kernel, KernelError, WEXITSTATUS, WIFEXITED, WIFSIGNALED, WTERMSIG, type TaskHandle } from '../src/api.js';
import {
  CLONE_FS, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_DETACHED, CLONE_PARENT, CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM,
  SIGCHLD, SIGKILL,
} from '../src/kernel/sched_task.js';
import { MX_OWNER, G, TASK } from '../src/mm/layout.js';
import { kg, mem } from '../src/mm/memory.js';
import { mutex_unlock } from '../src/locking/mutex.js';
import { set_current } from '../src/sched/core.js';
import { PR_SET_CHILD_SUBREAPER } from '../src/kernel/fork.js';
import { SYS_FORK } from '../src/kernel/unistd.js';
import { errCode, reapStatus } from './support.js';

const THREAD = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;

let k: Kernel;
afterEach(() => {
  expect(k.audit()).toEqual([]);
});


const reap = (p: TaskHandle, c: TaskHandle): number => reapStatus(k, p, c);

describe('fork, exit, wait', () => {
  it('a child gets the next pid, its parent reaps its exit status', () => {
    k = Kernel.create();
    const c = k.fork(k.init);
    expect(k.getpid(c)).toBe(2);
    expect(k.getppid(c)).toBe(1);
    expect(k.nspid(c)).toEqual([2]);
    k.exit(c, 42);
    expect(k.isZombie(c)).toBe(true);
    const r = k.wait4(k.init, -1);
    expect(r).toEqual({ pid: 2, status: 42 << 8 });
    if ('status' in r) {
      expect(WIFEXITED(r.status)).toBe(true);
      expect(WEXITSTATUS(r.status)).toBe(42);
    }
    expect(k.exists(c)).toBe(false);
  });

  it('orphans are reparented to the namespace init; zombies reparented to it stay reapable', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const b = k.fork(a);
    const z = k.fork(a);
    k.exit(z, 1);
    k.exit(a, 0);
    expect(k.getppid(b)).toBe(1);
    const seen = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const r = k.wait4(k.init, -1, { nohang: true });
      if ('pid' in r && r.pid > 0) seen.add(r.pid);
    }
    expect(seen.has(k.pidIn(k.init, a) || a.gpid)).toBe(true);
    expect(seen.size).toBe(2); // a and z; b is alive
    k.exit(b);
    expect(reap(k.init, b)).toBe(0);
  });

  it('a child subreaper adopts orphaned grandchildren before init does', () => {
    k = Kernel.create();
    const s = k.fork(k.init);
    expect(k.prctl(s, PR_SET_CHILD_SUBREAPER, 1)).toBe(0);
    const m = k.fork(s);
    const g = k.fork(m);
    k.exit(m);
    expect(k.getppid(g)).toBe(k.getpid(s));
    reap(s, m);
    k.exit(g, 3);
    expect(reap(s, g)).toBe(3 << 8);
    k.exit(s);
    reap(k.init, s);
  });

  it('the global init cannot be killed by anyone', () => {
    k = Kernel.create();
    const c = k.fork(k.init);
    k.kill(c, 1, SIGKILL);
    expect(k.alive(k.init)).toBe(true);
    k.exit(c);
    reap(k.init, c);
  });
});

describe('clone flag rules (copy_process)', () => {
  it('rejects the combinations the kernel rejects with EINVAL', () => {
    k = Kernel.create();
    const c = k.fork(k.init);
    expect(errCode(() => k.fork(c, { flags: CLONE_THREAD }))).toBe('EINVAL');
    expect(errCode(() => k.fork(c, { flags: CLONE_THREAD | CLONE_SIGHAND }))).toBe('EINVAL');
    expect(errCode(() => k.fork(c, { flags: CLONE_SIGHAND }))).toBe('EINVAL');
    expect(errCode(() => k.fork(c, { flags: CLONE_NEWNS | CLONE_FS }))).toBe('EINVAL');
    expect(errCode(() => k.fork(c, { flags: CLONE_NEWUSER | CLONE_FS }))).toBe('EINVAL');
    expect(errCode(() => k.fork(c, { flags: THREAD | CLONE_NEWPID }))).toBe('EINVAL');
    expect(errCode(() => k.fork(c, { flags: THREAD | CLONE_NEWUSER }))).toBe('EINVAL');
    expect(errCode(() => k.fork(c, { flags: CLONE_PIDFD | CLONE_DETACHED }))).toBe('EINVAL');
    expect(errCode(() => k.fork(c, { flags: CLONE_PIDFD | CLONE_PARENT_SETTID }))).toBe('EINVAL'); // both in parent_tid
    // Global and namespace inits may not create siblings.
    expect(errCode(() => k.fork(k.init, { flags: CLONE_PARENT }))).toBe('EINVAL');
    const nsinit = k.fork(c, { flags: CLONE_NEWPID });
    expect(errCode(() => k.fork(nsinit, { flags: CLONE_PARENT }))).toBe('EINVAL');
    // A thread may not be created into another pid namespace (after unshare(CLONE_NEWPID)).
    k.unshare(c, CLONE_NEWPID);
    expect(errCode(() => k.fork(c, { flags: THREAD }))).toBe('EINVAL');
    k.exit(nsinit);
    reap(c, nsinit);
    k.exit(c);
    reap(k.init, c);
  });

  it('CLONE_PARENT makes a sibling: the grandparent reaps it', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const s = k.fork(a, { flags: CLONE_PARENT });
    expect(k.getppid(s)).toBe(1);
    k.exit(s, 9);
    expect(errCode(() => k.wait4(a, -1, { nohang: true }))).toBe('ECHILD'); // a has no child
    expect(reap(k.init, s)).toBe(9 << 8);
    k.exit(a);
    reap(k.init, a);
  });

  it('unprivileged CLONE_NEWPID is EPERM; a new user namespace makes it possible', () => {
    k = Kernel.create();
    const c = k.fork(k.init);
    k.setuid(c, 1000);
    expect(errCode(() => k.fork(c, { flags: CLONE_NEWPID }))).toBe('EPERM');
    const n = k.fork(c, { flags: CLONE_NEWUSER | CLONE_NEWPID });
    expect(k.getpid(n)).toBe(1);
    k.exit(n);
    reap(c, n);
    k.exit(c);
    reap(k.init, c);
  });
});

describe('threads (CLONE_THREAD)', () => {
  it('threads share the tgid; a thread that exits is reaped at once', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    const t = k.fork(p, { flags: THREAD });
    expect(k.getpid(t)).toBe(k.getpid(p));
    expect(k.nspid(t)[0]).not.toBe(k.nspid(p)[0]);
    k.exit(t, 0);
    expect(k.exists(t)).toBe(false);
    expect(k.wait4(k.init, -1, { nohang: true })).toEqual({ pid: 0, status: 0 });
    k.exit(p, 4);
    expect(reap(k.init, p)).toBe(4 << 8);
  });

  it('a leader that exits first is reaped only after its last thread (delay_group_leader)', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    const t1 = k.fork(p, { flags: THREAD });
    const t2 = k.fork(p, { flags: THREAD });
    k.exit(p, 1);
    expect(k.isZombie(p)).toBe(true);
    expect(k.wait4(k.init, -1, { nohang: true })).toEqual({ pid: 0, status: 0 });
    k.exit(t1, 0);
    expect(k.wait4(k.init, -1, { nohang: true })).toEqual({ pid: 0, status: 0 });
    const w = k.wait4(k.init, -1);
    expect(w).toEqual({ blocked: true });
    k.exit(t2, 5);
    // 6.x synchronize_group_exit: the last thread to exit sets the group's code (checked on 6.18).
    expect(k.result(k.init)).toMatchObject({ pid: 2, status: 5 << 8 });
  });

  it('exit_group takes every thread down with the group exit code', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    const t1 = k.fork(p, { flags: THREAD });
    const t2 = k.fork(p, { flags: THREAD });
    k.exitGroup(t1, 7);
    expect(k.exists(t2)).toBe(false);
    expect(reap(k.init, p)).toBe(7 << 8);
    // exit_group(0): a group exit whose code is 0 still kills the other threads
    const q = k.fork(k.init);
    const u = k.fork(q, { flags: THREAD });
    k.exitGroup(q, 0);
    expect(k.exists(u)).toBe(false);
    expect(reap(k.init, q)).toBe(0);
  });

  it('SIGKILL to a process kills all its threads; the status says SIGKILL', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    k.fork(p, { flags: THREAD });
    k.kill(k.init, k.getpid(p), SIGKILL);
    const s = reap(k.init, p);
    expect(WIFSIGNALED(s)).toBe(true);
    expect(WTERMSIG(s)).toBe(SIGKILL);
  });

  it('a non-leader thread of a namespace init takes over as child reaper', () => {
    k = Kernel.create();
    const n = k.fork(k.init, { flags: CLONE_NEWPID });
    const t = k.fork(n, { flags: THREAD });
    const c = k.fork(n);
    k.exit(n, 0); // the leader goes; its thread becomes the reaper
    const g = k.fork(c);
    k.exit(c, 0);
    expect(k.getppid(g)).toBe(1); // adopted by the live thread of the pid-1 group
    k.exitGroup(t, 0);
    reap(k.init, n);
  });
});

describe('unshare and pid namespaces', () => {
  it('unshare(CLONE_NEWPID) changes only pid_ns_for_children', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    k.unshare(a, CLONE_NEWPID);
    expect(k.getpid(a)).toBe(2);
    expect(errCode(() => k.unshare(a, CLONE_NEWPID))).toBe('EINVAL');
    const b = k.fork(a);
    expect(k.getpid(b)).toBe(1);
    expect(k.nspid(b)).toEqual([3, 1]);
    const c = k.fork(a);
    expect(k.nspid(c)).toEqual([4, 2]);
    expect(k.getppid(c)).toBe(0); // the parent is outside the namespace
    k.exit(c);
    reap(a, c);
    k.exit(b);
    reap(a, b);
    // The namespace's init is gone: no more processes in it.
    expect(errCode(() => k.fork(a))).toBe('ENOMEM');
    k.exit(a);
    reap(k.init, a);
  });

  it('unshare rejects unknown flags and thread-group flags in a multi-threaded task', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    expect(errCode(() => k.unshare(a, 0x8000 /* CLONE_PARENT */))).toBe('EINVAL');
    const t = k.fork(a, { flags: THREAD });
    expect(errCode(() => k.unshare(a, CLONE_NEWUSER))).toBe('EINVAL');
    k.exit(t);
    k.unshare(a, CLONE_NEWUSER | CLONE_NEWPID);
    const b = k.fork(a);
    expect(k.getpid(b)).toBe(1);
    k.exit(b);
    reap(a, b);
    k.exit(a);
    reap(k.init, a);
  });

  it('fork restarts after sleeping on pid_caches_mutex without doing anything twice', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const holder = k.fork(k.init);
    // holder owns pid_caches_mutex (as if it were inside create_pid_cachep).
    k.machine.attach();
    const m = kg + G.pid_caches_mutex;
    mem[m + MX_OWNER] = holder.addr;
    mem[holder.addr + TASK.held_depth] = 1;
    mem[holder.addr + TASK.held] = m;
    const before = k.nrThreads();
    const r = k.syscall(a, 'fork', SYS_FORK, CLONE_NEWPID);
    expect(r).toEqual({ blocked: true });
    expect(k.nrThreads()).toBe(before);
    set_current(holder.addr);
    mutex_unlock(m); // hands the mutex to the forker and wakes it
    set_current(0);
    const done = k.result(a);
    expect(done).toEqual({ value: 4 }); // the child's pid as a sees it (a is in init_pid_ns)
    const child = k.handle(mem[a.addr + TASK.fork_child]!);
    expect(k.getpid(child)).toBe(1);
    expect(k.nrThreads()).toBe(before + 1);
    k.exit(child);
    reap(a, child);
    for (const t of [a, holder]) {
      k.exit(t);
      reap(k.init, t);
    }
  });

  it('a full task table gives EAGAIN (max_threads), an exhausted pid space EAGAIN (alloc_pid)', () => {
    k = Kernel.create({ maxTasks: 16 });
    const kids: TaskHandle[] = [];
    let code = 'no error';
    for (let i = 0; i < 20 && code === 'no error'; i++) {
      try {
        kids.push(k.fork(k.init));
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        code = e.code;
      }
    }
    expect(code).toBe('EAGAIN');
    expect(kids.length).toBe(14); // 15 = max_threads, init included
    for (const c of kids) {
      k.exit(c);
      reap(k.init, c);
    }
    expect(k.audit()).toEqual([]);
    k = Kernel.create({ pidMax: 310, maxTasks: 400 });
    const more: TaskHandle[] = [];
    try {
      for (;;) more.push(k.fork(k.init));
    } catch (e) {
      expect(e instanceof KernelError && e.code).toBe('EAGAIN');
    }
    expect(more.length).toBe(308); // pids 2..309
    for (const c of more) {
      k.exit(c);
      reap(k.init, c);
    }
  });

  it('injected allocation failures make some forks fail with ENOMEM and leak nothing', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    k.machine.attach();
    mem[kg + G.inject_enomem_permille] = 300;
    let ok = 0;
    let enomem = 0;
    for (let i = 0; i < 200; i++) {
      try {
        const c = k.fork(a, { flags: i % 3 === 0 ? CLONE_NEWPID : 0 });
        ok++;
        k.exit(c, 0);
        reap(a, c);
      } catch (e) {
        if (e instanceof KernelError && e.code === 'ENOMEM') enomem++;
        else throw e;
      }
    }
    expect(ok).toBeGreaterThan(0);
    expect(enomem).toBeGreaterThan(0);
    mem[kg + G.inject_enomem_permille] = 0;
    k.exit(a);
    reap(k.init, a);
  });
});

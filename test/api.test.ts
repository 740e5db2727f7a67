import { afterEach, describe, expect, it } from 'vitest';
import { Kernel, KernelError, type TaskHandle } from '../src/api.js';
import { CLONE_NEWPID, CLONE_PARENT, CLONE_THREAD, SIGKILL } from '../src/kernel/sched_task.js';
import { KernelPanic } from '../src/kernel/exit.js';
import { reapStatus } from './support.js';

let k: Kernel;
let skipAudit = false;
afterEach(() => {
  if (!skipAudit) expect(k.audit()).toEqual([]);
  skipAudit = false;
});

function err(f: () => unknown): KernelError {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error('expected a KernelError');
}

const reap = (p: TaskHandle, c: TaskHandle): number => reapStatus(k, p, c);

describe('scripting API', () => {
  it('boots with a scripted init task (pid 1) and an empty audit', () => {
    k = Kernel.create();
    expect(k.getpid(k.init)).toBe(1);
    expect(k.getppid(k.init)).toBe(0);
    expect(k.nspid(k.init)).toEqual([1]);
    expect(k.level(k.init)).toBe(0);
    expect(k.nrThreads()).toBe(1);
    expect(k.audit()).toEqual([]);
  });

  it('errors are KernelErrors with the errno name, like Node system errors', () => {
    k = Kernel.create();
    const e = err(() => k.wait4(k.init, -1));
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('ECHILD');
    expect(e.errno).toBe(10);
    expect(e.syscall).toBe('wait4');
    expect(e.message).toBe('wait4: ECHILD');
  });

  it('handles tell a reaped task from a new one in the same record', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    k.exit(a);
    expect(k.isZombie(a)).toBe(true);
    expect(k.exists(a)).toBe(true);
    reap(k.init, a);
    expect(k.exists(a)).toBe(false);
    k.quiesce(); // the record is freed after a grace period ...
    const b = k.fork(k.init); // ... and may be reused
    expect(b.id).not.toBe(a.id);
    expect(() => k.getpid(a)).toThrow(/gone/);
    expect(k.getpid(b)).toBe(3);
    k.exit(b);
    reap(k.init, b);
  });

  it('a blocked call stays pending; result() reads it once another call completed it', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    const c = k.fork(p);
    expect(k.wait4(p, -1)).toEqual({ blocked: true });
    expect(k.isBlocked(p)).toBe(true);
    expect(k.result(p)).toEqual({ blocked: true });
    expect(() => k.kill(p, 1, 0)).toThrow(/blocked in wait4/);
    k.exit(c, 1);
    expect(k.isBlocked(p)).toBe(false);
    expect(k.result(p)).toEqual({ value: 3, pid: 3, status: 256 });
    expect(() => k.result(p)).toThrow(/no pending call/);
    k.exit(p);
    reap(k.init, p);
  });

  it('exit reports the task gone; a killed blocked task reports exited', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    expect(k.exit(p, 0)).toEqual({ exited: true });
    expect(() => k.getpid(p)).toThrow(/exited/);
    reap(k.init, p);
    const q = k.fork(k.init);
    expect(k.pause(q)).toEqual({ blocked: true });
    k.kill(k.init, k.pidIn(k.init, q), SIGKILL);
    expect(k.result(q)).toEqual({ exited: true });
    reap(k.init, q);
  });

  it('killing the global init panics the kernel', () => {
    k = Kernel.create();
    expect(() => k.exit(k.init, 0)).toThrow(KernelPanic);
    skipAudit = true;
  });

  it('nspid, pidIn and level describe a task across namespaces', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const n = k.fork(a, { flags: CLONE_NEWPID });
    const c = k.fork(n);
    expect(k.nspid(c)).toEqual([4, 2]);
    expect(k.pidIn(k.init, c)).toBe(4);
    expect(k.pidIn(n, c)).toBe(2);
    expect(k.pidIn(c, a)).toBe(0); // a is outside c's namespace
    expect(k.level(c)).toBe(1);
    expect(k.getpid(c)).toBe(2);
    expect(k.getppid(c)).toBe(1);
    expect(k.getppid(n)).toBe(0);
    k.exit(c);
    reap(n, c);
    k.exit(n);
    reap(a, n);
    k.exit(a);
    reap(k.init, a);
  });

  it('ns_last_pid and the last-pid vector (seeds 001/CRIU) steer the next pid', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    expect(k.nsLastPid(a)).toBe(2);
    k.setNsLastPid(a, 500);
    const b = k.fork(a);
    expect(k.getpid(b)).toBe(501);
    const n = k.fork(a, { flags: CLONE_NEWPID });
    const fd = k.openNs(a, k.pidIn(a, n), 'pid');
    k.setLastPidVec(a, fd, '100:700');
    const c = k.fork(n);
    expect(k.nspid(c)).toEqual([701, 101]);
    k.setuid(b, 1000);
    expect(err(() => k.setNsLastPid(b, 5)).code).toBe('EPERM');
    k.close(a, fd);
    k.exit(c);
    reap(n, c);
    for (const [p, t] of [[a, n], [a, b], [k.init, a]] as const) {
      k.exit(t);
      reap(p, t);
    }
  });

  it('pidfd_open and setns through K3\'s system calls', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const n = k.fork(k.init, { flags: CLONE_NEWPID });
    const pfd = k.pidfdOpen(a, k.pidIn(a, n));
    expect(pfd).toBeGreaterThanOrEqual(0);
    expect(err(() => k.pidfdOpen(a, 9999)).code).toBe('ESRCH');
    k.setns(a, pfd, CLONE_NEWPID);
    const c = k.fork(a);
    expect(k.nspid(c)[1]).toBe(2);
    k.close(a, pfd);
    k.exit(c);
    reap(a, c);
    k.exit(n);
    reap(k.init, n);
    k.exit(a);
    reap(k.init, a);
  });
});

describe('clone3 (copy_clone_args_from_user, clone3_args_valid, alloc_pid set_tid)', () => {
  it('rejects bad sizes and bad arguments', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    expect(err(() => k.clone3(a, { size: 56 })).code).toBe('EINVAL');
    expect(err(() => k.clone3(a, { size: 8192 })).code).toBe('E2BIG');
    expect(err(() => k.clone3(a, { setTid: [1], setTidSize: 33 })).code).toBe('EINVAL');
    expect(err(() => k.clone3(a, { setTid: [], setTidSize: 0 })).code).toBe('EINVAL'); // pointer, no size
    expect(err(() => k.clone3(a, { setTidSize: 1 })).code).toBe('EINVAL'); // size, no pointer
    expect(err(() => k.clone3(a, { exitSignal: 65 })).code).toBe('EINVAL');
    expect(err(() => k.clone3(a, { exitSignal: 0x100 })).code).toBe('EINVAL');
    expect(err(() => k.clone3(a, { flags: CLONE_PARENT, exitSignal: 17 })).code).toBe('EINVAL');
    expect(err(() => k.clone3(a, { flags: CLONE_THREAD, exitSignal: 17 })).code).toBe('EINVAL');
    expect(err(() => k.clone3(a, { flags: 0x11 /* CSIGNAL bits */ })).code).toBe('EINVAL');
    expect(err(() => k.clone3(a, { stack: 4096 })).code).toBe('EINVAL');
    expect(err(() => k.clone3(a, { stackSize: 4096 })).code).toBe('EINVAL');
    // 64-byte (VER0) arguments without set_tid are fine
    const c = k.clone3(a, { size: 64 });
    k.exit(c);
    reap(a, c);
    k.exit(a);
    reap(k.init, a);
  });

  it('set_tid picks pids; EEXIST, EPERM and the alloc_pid EINVAL rules', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const c = k.clone3(a, { setTid: [777] });
    expect(k.getpid(c)).toBe(777);
    expect(err(() => k.clone3(a, { setTid: [777] })).code).toBe('EEXIST');
    expect(err(() => k.clone3(a, { setTid: [5, 6] })).code).toBe('EINVAL'); // more than level + 1
    expect(err(() => k.clone3(a, { setTid: [0] })).code).toBe('EINVAL');
    // A new namespace: set_tid[0] is the pid inside it, set_tid[1] in the parent.
    const n = k.clone3(a, { flags: CLONE_NEWPID, setTid: [1, 900] });
    expect(k.nspid(n)).toEqual([900, 1]);
    // pid != 1 in a namespace that has no init yet
    expect(err(() => k.clone3(a, { flags: CLONE_NEWPID, setTid: [5] })).code).toBe('EINVAL');
    const u = k.fork(a);
    k.setuid(u, 1000);
    expect(err(() => k.clone3(u, { setTid: [1234] })).code).toBe('EPERM');
    for (const [p, t] of [[a, c], [a, n], [a, u], [k.init, a]] as const) {
      k.exit(t);
      reap(p, t);
    }
  });

  it('fork with setTid goes through clone3, with targetPids through clone_with_pids', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const c = k.fork(a, { setTid: [4242] });
    expect(k.getpid(c)).toBe(4242);
    const d = k.fork(a, { targetPids: [4343] });
    expect(k.getpid(d)).toBe(4343);
    for (const [p, t] of [[a, c], [a, d], [k.init, a]] as const) {
      k.exit(t);
      reap(p, t);
    }
  });
});

describe('pid_max per pid namespace (kernel/pid.c pid_table; 6.14+)', () => {
  it('reads and writes the caller\'s active namespace; a new namespace starts at PID_MAX_LIMIT; every level bounds its forks', () => {
    k = Kernel.create({ pidMax: 4096, maxTasks: 64 });
    expect(k.pidMax(k.init)).toBe(4096); // init_pid_ns: the configured pid_max
    const init2 = k.fork(k.init, { flags: CLONE_NEWPID });
    expect(k.pidMax(init2)).toBe(4 * 1024 * 1024); // not the parent's value
    expect(err(() => k.setPidMax(init2, 300)).code).toBe('EINVAL');
    expect(err(() => k.setPidMax(init2, 4 * 1024 * 1024 + 1)).code).toBe('EINVAL');
    k.setPidMax(init2, 301);
    expect(k.pidMax(init2)).toBe(301);
    expect(k.pidMax(k.init)).toBe(4096); // the parent's is untouched
    expect(err(() => k.setNsLastPid(init2, 302)).code).toBe('EINVAL'); // ns_last_pid <= own pid_max
    k.setNsLastPid(init2, 300); // cursor past RESERVED_PIDS: only 300 is left below 301
    const c = k.fork(init2);
    expect(k.nspid(c)[1]).toBe(300);
    expect(err(() => k.fork(init2)).code).toBe('EAGAIN'); // the level is full
    // A parent's limit bounds the forks below it: fill init_pid_ns's level.
    k.setPidMax(k.init, 301);
    k.setNsLastPid(k.init, 300);
    const held = k.fork(k.init); // takes 300 at level 0
    expect(k.getpid(held)).toBe(300);
    expect(err(() => k.fork(c)).code).toBe('EAGAIN'); // level 1 has room, level 0 has none
    expect(err(() => k.fork(c, { setTid: [301] })).code).toBe('EINVAL'); // set_tid >= its level's pid_max
  });

  it('the pid bitmaps are the configured size: a namespace whose own pid_max is higher runs out there', () => {
    k = Kernel.create({ pidMax: 310, maxTasks: 400 });
    const init2 = k.fork(k.init, { flags: CLONE_NEWPID });
    expect(k.pidMax(init2)).toBe(4 * 1024 * 1024);
    k.setNsLastPid(k.init, 305);
    k.setNsLastPid(init2, 305);
    const a = k.fork(init2);
    expect(k.nspid(a)).toEqual([306, 306]);
    for (let i = 0; i < 3; i++) k.fork(init2); // 307, 308, 309
    // The kernel would hand out 310 in init2's namespace; the model's bitmap ends there and wraps.
    expect(k.nspid(k.fork(init2))).toEqual([300, 300]);
  });
});

describe('reading ids: ns_last_pid, gettid, pid_max, and a reaped task\'s handle', () => {
  it('nsLastPid returns -1, a real value, for a namespace whose pids all came from set_tid', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    // init of a new namespace by set_tid (pid 1 inside, 901 outside): the namespace's cursor
    // never moved, so its ns_last_pid reads -1 (idr_get_cursor - 1), and the read succeeds.
    const n = k.clone3(a, { flags: CLONE_NEWPID, setTid: [1, 901] });
    expect(k.nsLastPid(n)).toBe(-1);
    // A child forked inside takes the cursor's next pid (2): now it reads 2.
    const c = k.fork(n);
    expect(k.nspid(c)).toEqual([k.nspid(c)[0], 2]);
    expect(k.nsLastPid(n)).toBe(2);
    for (const [p, t] of [[n, c], [a, n], [k.init, a]] as const) {
      k.exit(t);
      reap(p, t);
    }
  });

  it('gettid is the thread\'s own id in its namespace (a thread: tid != tgid); pidMax reads pid_max', () => {
    k = Kernel.create({ pidMax: 4096 });
    const a = k.fork(k.init);
    const t = k.fork(a, { flags: CLONE_THREAD | 0x00000100 | 0x00000800 }); // CLONE_VM | CLONE_SIGHAND with CLONE_THREAD
    expect(k.gettid(a)).toBe(k.getpid(a));
    expect(k.gettid(t)).not.toBe(k.getpid(t));
    expect(k.getpid(t)).toBe(k.getpid(a));
    expect(k.gettid(t)).toBe(k.nspid(t)[0]);
    expect(k.pidMax(k.init)).toBe(4096);
    k.exitGroup(a);
    reap(k.init, a);
  });

  it('a reaped task\'s NSpid stays readable on its handle', () => {
    k = Kernel.create();
    const a = k.fork(k.init, { flags: CLONE_NEWPID });
    const c = k.fork(a);
    expect(c.nspid).toEqual(k.nspid(c));
    expect(c.nspid).toHaveLength(2);
    const seen = [...c.nspid];
    k.exit(c);
    reap(a, c);
    expect(k.exists(c)).toBe(false);
    expect(k.nspid(c)).toEqual([]); // the struct pid is gone
    expect(c.nspid).toEqual(seen); // the handle keeps what it was
    k.exit(a);
    reap(k.init, a);
  });
});

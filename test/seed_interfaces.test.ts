// The seed-only interfaces, which never reached upstream and so have no real-kernel oracle, checked
// sentence by sentence against their seed texts (../shared/seeds/):
//  - 002: clone_with_pids(flags, ..., &target_pid_set) [RFC v17 17/60, Sukadev Bhattiprolu, 2009];
//  - 001: ioctl(nsfd, PIDNS_REQ_SET_LAST_PID_VEC, "p3:p2:p1") [Kirill Tkhai, 2017].
// Their upstream successor, clone3 set_tid, is checked against the real kernel in
// test/conformance.test.ts; here the model's clone_with_pids is also checked against the model's
// clone3 where the two interfaces mean the same thing (a pid for every level of the child).
// Everything goes through the scripting API only (the way a program would use the calls); each
// test ends with the model's self-audit.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Kernel, KernelError, type TaskHandle } from '../src/api.js';
import { mem } from '../src/mm/memory.js';
import { SYS_PIDNS_IOCTL_SET_LAST_PID_VEC } from '../src/kernel/unistd.js';
import { CLONE_NEWPID } from '../src/kernel/clone_flags.js';


function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
  return 'OK';
}

/** A chain of nested pid namespaces below init: tasks[i] is pid 1 of level i+1. */
function nest(k: Kernel, depth: number): TaskHandle[] {
  const out: TaskHandle[] = [];
  let cur = k.init;
  for (let i = 0; i < depth; i++) {
    cur = k.fork(cur, { flags: CLONE_NEWPID });
    out.push(cur);
  }
  return out;
}

/** Tear the model down and audit it (nothing leaked, every count right). */
function finish(k: Kernel, roots: TaskHandle[]): void {
  for (const r of roots) {
    if (!k.alive(r)) continue;
    const pid = k.pidIn(k.init, r);
    k.kill(k.init, pid, 9);
    k.wait4(k.init, pid, { all: true });
  }
  // reap whatever else init has (ECHILD ends it)
  while (errno(() => {
    const w = k.wait4(k.init, -1, { all: true, nohang: true });
    if ('blocked' in w || w.pid <= 0) throw new KernelError('wait4', 10);
  }) === 'OK');
  expect(k.audit()).toEqual([]);
}

describe('seed 002: clone_with_pids', () => {
  it('"pid_t pids[] = { 0, 77, 99 }": 0 lets the kernel choose in init_pid_ns, 77 and 99 are taken in the child namespaces 1 and 2', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const [n1, n2] = nest(k, 2);
    const c = k.cloneWithPids(n2!, [0, 77, 99]);
    const ns = k.nspid(c);
    expect(ns.slice(1)).toEqual([77, 99]);
    expect(ns[0]).toBeGreaterThan(0);
    expect(k.getpid(c)).toBe(99);
    finish(k, [n1!]);
  });

  it('"If either 77 or 99 are taken, the system call fails with -EBUSY"', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const [n1, n2] = nest(k, 2);
    k.cloneWithPids(n2!, [0, 77, 99]);
    expect(errno(() => k.cloneWithPids(n2!, [0, 78, 99]))).toBe('EBUSY'); // 99 taken at level 2
    expect(errno(() => k.cloneWithPids(n2!, [0, 77, 98]))).toBe('EBUSY'); // 77 taken at level 1
    expect(k.cloneWithPids(n2!, [0, 78, 98]) && true).toBe(true);
    finish(k, [n1!]);
  });

  it('"If pid_set.num_pids exceeds the current nesting level of pid namespaces, the system call fails with -EINVAL"; num_pids < 0 too', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const [n1] = nest(k, 1);
    // n1 is at level 1: knum_pids = level + 1 = 2
    expect(errno(() => k.cloneWithPids(n1!, [0, 0, 5]))).toBe('EINVAL');
    expect(errno(() => k.cloneWithPids(k.init, [0, 5]))).toBe('EINVAL'); // init: level 0, knum 1
    expect(errno(() => k.cloneWithPids(n1!, [0, 5]))).toBe('OK');
    finish(k, [n1!]);
  });

  it('"num_pids == 0": a normal clone', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const [n1] = nest(k, 1);
    const c = k.cloneWithPids(n1!, []);
    expect(k.nspid(c)).toHaveLength(2);
    expect(k.getpid(c)).toBe(2);
    finish(k, [n1!]);
  });

  it('"Specified target pids should apply only to youngest pid-namespaces": a short list is right-aligned, older levels are allocated', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const [n1, n2] = nest(k, 2);
    const c = k.cloneWithPids(n2!, [321]); // one pid: the caller's own (youngest) level
    const ns = k.nspid(c);
    expect(ns[2]).toBe(321);
    expect(ns[1]).not.toBe(321);
    const d = k.cloneWithPids(n2!, [654, 322]); // levels 1 and 2
    expect(k.nspid(d).slice(1)).toEqual([654, 322]);
    finish(k, [n1!]);
  });

  it('CLONE_NEWPID: "allocating an extra pid in the target_pids[] list and setting it 0": the child is pid 1 of its new namespace', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const [n1] = nest(k, 1);
    const c = k.cloneWithPids(n1!, [0, 40], CLONE_NEWPID);
    const ns = k.nspid(c);
    expect(ns).toHaveLength(3);
    expect(ns.slice(1)).toEqual([40, 1]);
    // the count is still limited by the CALLER's level (knum_pids = task_pid(current)->level + 1)
    expect(errno(() => k.cloneWithPids(n1!, [0, 41, 1], CLONE_NEWPID))).toBe('EINVAL');
    finish(k, [n1!]);
  });

  it('"requiring CAP_SYS_ADMIN to specify pids": EPERM without it, checked after the count (copy_target_pids first)', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const [n1] = nest(k, 1);
    const u = k.fork(n1!);
    k.capset(u, 0);
    expect(errno(() => k.cloneWithPids(u, [0, 500]))).toBe('EPERM');
    expect(errno(() => k.cloneWithPids(u, [0, 0, 500]))).toBe('EINVAL'); // bad count wins
    expect(errno(() => k.cloneWithPids(u, []))).toBe('OK'); // no pids: a plain clone needs nothing
    // capable(CAP_SYS_ADMIN) is the INITIAL user namespace: a child user namespace's root is not enough
    const v = k.fork(n1!);
    k.unshare(v, 0x10000000 /* CLONE_NEWUSER */);
    expect(errno(() => k.cloneWithPids(v, [0, 501]))).toBe('EPERM');
    finish(k, [n1!]);
  });

  it('means what clone3 set_tid means for a full list (oldest first vs youngest first), random pid sets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 100, max: 5000 }), { minLength: 5, maxLength: 5 }), (depth, pool) => {
        const pids = pool.slice(0, depth + 1);
        if (new Set(pids).size !== pids.length) return true;
        const a = Kernel.create({ maxTasks: 128 });
        const b = Kernel.create({ maxTasks: 128 });
        const ta = nest(a, depth);
        const tb = nest(b, depth);
        // numbers below 100 are used by the nesting itself
        const wanted = pids;
        const ca = a.cloneWithPids(ta[depth - 1]!, wanted);
        const cb = b.fork(tb[depth - 1]!, { setTid: [...wanted].reverse() });
        expect(a.nspid(ca)).toEqual(wanted);
        expect(b.nspid(cb)).toEqual(wanted);
        finish(a, [ta[0]!]);
        finish(b, [tb[0]!]);
        return true;
      }),
      { numRuns: 25, seed: 2 },
    );
  });
});

describe('seed 001: PIDNS_REQ_SET_LAST_PID_VEC', () => {
  /** ns1 -> ns2 -> ns3 as in the seed; returns the inits and a task `w` at level 3 that opened ns3. */
  function hierarchy(k: Kernel): { n: TaskHandle[]; w: TaskHandle; fd: number } {
    const n = nest(k, 3); // n[0] init of ns1 (level 1), n[1] of ns2, n[2] of ns3
    const w = k.fork(n[2]!);
    const fd = k.openNs(w, k.getpid(w), 'pid');
    return { n, w, fd };
  }

  it('"last_ns_pid3:last_ns_pid2:last_ns_pid1": the first number is the opened namespace, then its parent, ...', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const { n, w, fd } = hierarchy(k);
    k.setLastPidVec(w, fd, '300:400:500');
    // the next pid in each namespace is last + 1
    const c = k.fork(w);
    const ns = k.nspid(c);
    expect(ns.slice(1)).toEqual([501, 401, 301]);
    expect(k.nsLastPid(w)).toBe(301);
    expect(k.nsLastPid(n[1]!)).toBe(401);
    finish(k, [n[0]!]);
  });

  it('"This vector may be short": only the youngest levels are written', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const { n, w, fd } = hierarchy(k);
    const before = k.nsLastPid(n[0]!);
    k.setLastPidVec(w, fd, '700');
    const c = k.fork(w);
    expect(k.nspid(c)[3]).toBe(701);
    expect(k.nspid(c)[1]).toBe(before + 1); // ns1 untouched
    finish(k, [n[0]!]);
  });

  it('"if (!pid_ns) ret = -EINVAL": more numbers than levels, and the levels before are already written', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const { n, w, fd } = hierarchy(k);
    // ns3, ns2, ns1 and init_pid_ns: 4 levels; a fifth number has no namespace
    expect(errno(() => k.setLastPidVec(w, fd, '10:20:30:40:50'))).toBe('EINVAL');
    const c = k.fork(w);
    expect(k.nspid(c)).toEqual([41, 31, 21, 11]);
    finish(k, [n[0]!]);
  });

  // (EINVAL "without a child reaper" cannot be reached from user space since pid_for_children is
  // ENOENT until the first child exists: there is no fd for such a namespace.)
  it('EINVAL for a bad number, for pid < 0 or > pid_max, and for data of PAGE_SIZE bytes or more', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const { n, w, fd } = hierarchy(k);
    expect(errno(() => k.setLastPidVec(w, fd, 'x'))).toBe('EINVAL');
    expect(errno(() => k.setLastPidVec(w, fd, '-5'))).toBe('EINVAL');
    expect(errno(() => k.setLastPidVec(w, fd, String(k.machine.config.pidMax + 1)))).toBe('EINVAL');
    expect(errno(() => k.setLastPidVec(w, fd, String(k.machine.config.pidMax)))).toBe('OK');
    // data_size >= PAGE_SIZE: longer than the API's scratch area, so the ioctl is issued by hand
    // with the string in a buffer of the machine's own (user) memory
    const buf = k.machine.alloc(4200);
    const ioctl = (text: string): number => {
      for (let i = 0; i < text.length; i++) mem[buf + i] = text.charCodeAt(i);
      const r = k.syscall(w, 'ioctl', SYS_PIDNS_IOCTL_SET_LAST_PID_VEC, fd, buf, text.length);
      if (!('value' in r)) throw new Error('ioctl did not return');
      return r.value;
    };
    expect(ioctl('1'.padEnd(4096, ' '))).toBe(-22); // EINVAL
    expect(ioctl('1'.padEnd(4095, ' '))).toBe(0);
    finish(k, [n[0]!]);
  });

  it('"we check that the writer task has CAP_SYS_ADMIN permittions in this pid_ns\'s user_ns": EPERM per level', () => {
    const k = Kernel.create({ maxTasks: 256 });
    const [n1] = nest(k, 1);
    // a user namespace owning a pid namespace below n1's
    const u = k.fork(n1!);
    k.unshare(u, 0x10000000 | CLONE_NEWPID);
    const uinit = k.fork(u); // init of the pid ns owned by u's user ns
    const fd = k.openNs(uinit, k.getpid(uinit), 'pid');
    // uinit has CAP_SYS_ADMIN in its own user namespace: its level is written, its parent (owned by
    // the initial user namespace) is EPERM
    expect(errno(() => k.setLastPidVec(uinit, fd, '900'))).toBe('OK');
    expect(errno(() => k.setLastPidVec(uinit, fd, '901:902'))).toBe('EPERM');
    const c = k.fork(uinit);
    expect(k.getpid(c)).toBe(902); // "901" was written before the EPERM of the next level
    // a task without capabilities: EPERM at once
    const d = k.fork(n1!);
    const dfd = k.openNs(d, k.getpid(d), 'pid');
    k.capset(d, 0);
    expect(errno(() => k.setLastPidVec(d, dfd, '50'))).toBe('EPERM');
    finish(k, [n1!]);
  });
});

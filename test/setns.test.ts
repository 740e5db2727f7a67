/**
 * setns(2) by nsfs fd and by pidfd (kernel/nsproxy.c), copy_namespaces / unshare permission rules,
 * and the all-or-nothing property of pidfd setns (prepare_nsset -> validate_nsset -> commit_nsset).
 * Expected errnos are the ones Linux 6.18 returned for the same steps (see the report of the
 * nsproxy work: a C program ran each case as root on the real kernel).
 */
import { describe, expect, it } from 'vitest';
import { Kernel, KernelError, type TaskHandle } from '../src/api.js';
import { NSPROXY, TASK } from '../src/mm/layout.js';
import { mem } from '../src/mm/memory.js';
import {
  CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS,
  CLONE_SYSVSEM, ns_inum,
} from '../src/kernel/ns_common.js';
import { copy_files, task_fd_file, task_fds } from '../src/kernel/nsfs.js';
import { SYS_CLOSE, SYS_OPEN_NS, SYS_PIDFD_OPEN, SYS_SETNS, SYS_UNSHARE, SYS_UNSHARE_USER } from '../src/kernel/unistd.js';
import { OP_LOOP } from '../src/kernel/entry.js';
import { NSK_NET, NSK_UTS } from '../src/kernel/nsfs.js';
import { CAP_FULL_SET, CAP_SYS_PTRACE } from '../src/kernel/user_namespace.js';
import { set_current } from '../src/sched/core.js';
import { reapAll, finish } from './support.js';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM } from '../src/kernel/clone_flags.js';

const ALL_NSPROXY = CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWTIME;

/** The errno name a call fails with, 'OK' when it succeeds. */
function errno(f: () => unknown): string {
  try {
    f();
    return 'OK';
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
}

/** unshare(CLONE_NEWUSER) (SYS_UNSHARE_USER, which the API has no wrapper for). */
function unshareUser(k: Kernel, t: TaskHandle): void {
  const r = k.syscall(t, 'unshare_user', SYS_UNSHARE_USER);
  if (!('value' in r)) throw new Error('unshare_user did not complete');
  if (r.value < 0) throw new KernelError('unshare', -r.value);
}

/** Every namespace identity (inode numbers), the nsproxy pointer and the cred of a task. */
function ids(k: Kernel, t: TaskHandle) {
  k.machine.attach();
  const np = mem[t.addr + TASK.nsproxy]!;
  const slot = (type: number, off: number): number => ns_inum(type, mem[np + off]!);
  return {
    nsproxy: np,
    uts: slot(CLONE_NEWUTS, NSPROXY.uts_ns),
    ipc: slot(CLONE_NEWIPC, NSPROXY.ipc_ns),
    mnt: slot(CLONE_NEWNS, NSPROXY.mnt_ns),
    net: slot(CLONE_NEWNET, NSPROXY.net_ns),
    cgroup: slot(CLONE_NEWCGROUP, NSPROXY.cgroup_ns),
    time: slot(CLONE_NEWTIME, NSPROXY.time_ns),
    time_for_children: slot(CLONE_NEWTIME, NSPROXY.time_ns_for_children),
    pid_for_children: slot(CLONE_NEWPID, NSPROXY.pid_ns_for_children),
    user: ns_inum(CLONE_NEWUSER, mem[t.addr + TASK.cred_user_ns]!),
    uid: mem[t.addr + TASK.cred_uid]!,
    caps: mem[t.addr + TASK.cred_caps]!,
  };
}

/**
 * fork inherits the fd table (copy_files). Applied here when copy_process has not copied it
 * itself, so the tests hold either way.
 */
function inheritFds(k: Kernel, parent: TaskHandle, child: TaskHandle): void {
  k.machine.attach();
  const want = task_fds(parent.addr);
  if (want.length === 0 || want.every((fd) => task_fd_file(child.addr, fd) !== 0)) return;
  set_current(parent.addr);
  try {
    expect(copy_files(0, child.addr)).toBe(0);
  } finally {
    set_current(0);
  }
}

function forkInheriting(k: Kernel, parent: TaskHandle, flags = 0): TaskHandle {
  const c = k.fork(parent, { flags });
  inheritFds(k, parent, c);
  return c;
}



describe('setns by pidfd', () => {
  it('joins several namespaces at once (lockdep on: no lock-order report)', () => {
    const k = Kernel.create({ lockdep: true });
    const a = k.fork(k.init);
    k.unshare(a, ALL_NSPROXY);
    const b = k.fork(k.init);
    const before = ids(k, b);
    const ta = ids(k, a);
    expect(before.uts).not.toBe(ta.uts);
    const fd = k.pidfdOpen(b, k.pidIn(b, a));
    k.setns(b, fd, ALL_NSPROXY);
    const after = ids(k, b);
    expect(after.nsproxy).not.toBe(before.nsproxy);
    expect(after.nsproxy).not.toBe(ta.nsproxy); // a private copy, not the target's nsproxy
    for (const f of ['uts', 'ipc', 'mnt', 'net', 'cgroup'] as const) expect(after[f]).toBe(ta[f]);
    // timens_install sets time and time_for_children to the target's time_ns.
    expect(after.time).toBe(ta.time);
    expect(after.time_for_children).toBe(ta.time);
    expect(after.pid_for_children).toBe(before.pid_for_children);
    expect(after.user).toBe(before.user);
    // The pidfd's target may be the caller's own namespaces too (a no-op switch).
    k.setns(b, fd, CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWCGROUP);
    expect(ids(k, b).uts).toBe(ta.uts);
    k.close(b, fd);
    finish(k, [a, b]);
    expect(k.machine.violations()).toEqual([]);
  });

  it('validates flags: EINVAL for 0, for non-namespace bits, for CLONE_NEWUSER into the own user namespace', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const fd = k.pidfdOpen(a, k.pidIn(a, a));
    const self = ids(k, a);
    expect(errno(() => k.setns(a, fd, 0))).toBe('EINVAL');
    expect(errno(() => k.setns(a, fd, CLONE_VM))).toBe('EINVAL');
    expect(errno(() => k.setns(a, fd, CLONE_NEWUTS | CLONE_VM))).toBe('EINVAL');
    expect(errno(() => k.setns(a, fd, CLONE_THREAD))).toBe('EINVAL');
    expect(errno(() => k.setns(a, fd, CLONE_NEWUSER))).toBe('EINVAL'); // userns_install: same ns
    expect(errno(() => k.setns(a, fd, CLONE_NEWUSER | CLONE_NEWUTS))).toBe('EINVAL');
    expect(ids(k, a)).toEqual(self);
    // All eight namespace flags minus user are accepted together (target = self).
    expect(errno(() => k.setns(a, fd, ALL_NSPROXY | CLONE_NEWPID))).toBe('OK');
    k.close(a, fd);
    finish(k, [a]);
  });

  it('EBADF for a bad, closed or foreign fd; EINVAL for a file that is neither nsfs nor pidfd is not reachable', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const b = k.fork(k.init);
    expect(errno(() => k.setns(a, 999, CLONE_NEWUTS))).toBe('EBADF');
    expect(errno(() => k.setns(a, -1, CLONE_NEWUTS))).toBe('EBADF');
    expect(errno(() => k.setns(a, 0, 0))).toBe('EBADF');
    const fd = k.pidfdOpen(a, k.pidIn(a, b));
    expect(errno(() => k.setns(b, fd, CLONE_NEWUTS))).toBe('EBADF'); // a's fd, not in b's table
    k.close(a, fd);
    expect(errno(() => k.setns(a, fd, CLONE_NEWUTS))).toBe('EBADF');
    expect(errno(() => k.close(a, fd))).toBe('EBADF');
    finish(k, [a, b]);
  });

  it('ESRCH when the pidfd task is a zombie or reaped (and pidfd_open of a reaped pid)', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const z = k.fork(a);
    const zpid = k.getpid(z);
    const fd = k.pidfdOpen(a, k.pidIn(a, z));
    k.exit(z);
    expect(k.isZombie(z)).toBe(true);
    // A zombie still has its pid: pidfd_open works, setns finds no nsproxy.
    const fd2 = k.pidfdOpen(a, k.pidIn(a, z));
    expect(errno(() => k.setns(a, fd, CLONE_NEWUTS))).toBe('ESRCH');
    expect(errno(() => k.setns(a, fd2, CLONE_NEWPID))).toBe('ESRCH');
    expect(k.wait4(a, -1)).toMatchObject({ pid: zpid });
    expect(errno(() => k.setns(a, fd, CLONE_NEWUTS))).toBe('ESRCH');
    expect(errno(() => k.pidfdOpen(a, zpid))).toBe('ESRCH');
    k.close(a, fd);
    k.close(a, fd2);
    finish(k, [a]);
  });

  it('EPERM without ptrace access (other uid, no CAP_SYS_PTRACE) and without CAP_SYS_ADMIN', () => {
    const k = Kernel.create();
    const rootTask = k.fork(k.init);
    k.unshare(rootTask, CLONE_NEWUTS);
    const userTask = k.fork(k.init);
    k.unshare(userTask, CLONE_NEWUTS);
    k.setuid(userTask, 1000);
    // A root caller that kept CAP_SYS_ADMIN but dropped CAP_SYS_PTRACE: the uid-1000 task is out
    // of reach (other uid), and so is a uid-0 task with a full capability set (commoncap: the
    // target's capabilities must be a subset of the caller's); a uid-0 task that dropped its
    // capabilities is not.
    const admin = k.fork(k.init);
    k.capset(admin, CAP_FULL_SET & ~CAP_SYS_PTRACE);
    const afd = k.pidfdOpen(admin, k.pidIn(admin, userTask));
    const rfd = k.pidfdOpen(admin, k.pidIn(admin, rootTask));
    const before = ids(k, admin);
    expect(errno(() => k.setns(admin, afd, CLONE_NEWUTS))).toBe('EPERM');
    expect(errno(() => k.setns(admin, rfd, CLONE_NEWUTS))).toBe('EPERM');
    expect(ids(k, admin)).toEqual(before);
    k.capset(rootTask, 0);
    k.setns(admin, rfd, CLONE_NEWUTS);
    expect(ids(k, admin).uts).toBe(ids(k, rootTask).uts);
    // With CAP_SYS_PTRACE (and CAP_SYS_ADMIN) the other uid is fine.
    const admin2 = k.fork(k.init);
    const a2fd = k.pidfdOpen(admin2, k.pidIn(admin2, userTask));
    k.setns(admin2, a2fd, CLONE_NEWUTS);
    expect(ids(k, admin2).uts).toBe(ids(k, userTask).uts);
    // An unprivileged uid-1000 caller: EPERM from ptrace for root's task, EPERM from utsns_install
    // (no CAP_SYS_ADMIN) for its own uid's task; flag errors still come first.
    const unpriv = k.fork(k.init);
    k.setuid(unpriv, 1000);
    const ufd1 = k.pidfdOpen(unpriv, k.pidIn(unpriv, rootTask));
    const ufd2 = k.pidfdOpen(unpriv, k.pidIn(unpriv, userTask));
    expect(errno(() => k.setns(unpriv, ufd1, CLONE_NEWUTS))).toBe('EPERM');
    expect(errno(() => k.setns(unpriv, ufd2, CLONE_NEWUTS))).toBe('EPERM');
    expect(errno(() => k.setns(unpriv, ufd2, 0))).toBe('EINVAL');
    expect(errno(() => k.setns(unpriv, ufd2, CLONE_VM))).toBe('EINVAL');
    finish(k, [rootTask, userTask, admin, admin2, unpriv]);
  });

  it('fails half-way with EPERM (user and pid installed into the nsset, net denied): the caller is unchanged', () => {
    const k = Kernel.create();
    // t: uid 1000 in its own user namespace U (full caps there), with a uts namespace and a pid
    // namespace owned by U; t1 is pid 1 of that pid namespace. The net namespace stays init's.
    const t = k.fork(k.init);
    k.setuid(t, 1000);
    unshareUser(k, t);
    k.unshare(t, CLONE_NEWUTS | CLONE_NEWPID);
    const t1 = k.fork(t);
    // b: an unprivileged uid-1000 task in init_user_ns (the owner rule gives it caps in U only).
    const b = k.fork(k.init);
    k.setuid(b, 1000);
    const fd = k.pidfdOpen(b, k.pidIn(b, t1));
    const before = ids(k, b);
    expect(before.caps).toBe(0);
    expect(errno(() => k.setns(b, fd, CLONE_NEWUSER | CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWNET))).toBe('EPERM');
    expect(ids(k, b)).toEqual(before); // nsproxy pointer, every namespace, uid, caps, user ns
    // Without the net namespace everything joins at once.
    k.setns(b, fd, CLONE_NEWUSER | CLONE_NEWUTS | CLONE_NEWPID);
    const after = ids(k, b);
    const tt = ids(k, t1);
    expect(after.user).toBe(tt.user);
    expect(after.user).not.toBe(before.user);
    expect(after.uts).toBe(tt.uts);
    expect(after.pid_for_children).toBe(ids(k, t).pid_for_children);
    expect(after.caps).toBe(CAP_FULL_SET);
    expect(after.uid).toBe(1000);
    expect(after.net).toBe(before.net);
    // b's next child is in t's pid namespace (pid 2 there).
    const c = k.fork(b);
    expect(k.nspid(c).length).toBe(2);
    expect(k.nspid(c)[1]).toBe(2);
    // Now inside U, b can no longer join init-owned namespaces (EPERM), and re-entering U is EINVAL.
    const ifd = k.pidfdOpen(b, k.pidIn(b, k.init));
    expect(errno(() => k.setns(b, ifd, CLONE_NEWUTS))).toBe('EPERM');
    expect(errno(() => k.setns(b, fd, CLONE_NEWUSER))).toBe('EINVAL');
    k.close(b, fd);
    k.close(b, ifd);
    k.exit(c);
    k.wait4(b, -1);
    finish(k, [t1, t, b]);
  });

  it('fails half-way with EINVAL (uts installed, pid namespace an ancestor): the caller is unchanged', () => {
    const k = Kernel.create();
    const x = k.fork(k.init);
    k.unshare(x, CLONE_NEWUTS);
    const b = k.fork(k.init);
    const xfd = k.pidfdOpen(b, k.pidIn(b, x)); // inherited by b's children
    k.unshare(b, CLONE_NEWPID);
    const c = forkInheriting(k, b); // pid 1 of the new namespace, holds b's pidfd of x
    expect(k.getpid(c)).toBe(1);
    const before = ids(k, c);
    expect(errno(() => k.setns(c, xfd, CLONE_NEWUTS | CLONE_NEWPID))).toBe('EINVAL');
    expect(ids(k, c)).toEqual(before);
    k.setns(c, xfd, CLONE_NEWUTS);
    expect(ids(k, c).uts).toBe(ids(k, x).uts);
    finish(k, [c, b, x]);
  });

  it('fails half-way with EUSERS (time) and EINVAL (mnt, user) when multi-threaded', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    k.unshare(a, CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWTIME | CLONE_NEWNS);
    const a1 = k.fork(a); // lives in a's new time namespace
    const sub = k.fork(k.init);
    unshareUser(k, sub);
    const b = k.fork(k.init);
    const thr = k.fork(b, { flags: CLONE_THREAD | CLONE_SIGHAND | CLONE_VM });
    const fd = k.pidfdOpen(b, k.pidIn(b, a1));
    const sfd = k.pidfdOpen(b, k.pidIn(b, sub));
    const before = ids(k, b);
    expect(ids(k, a1).time).not.toBe(before.time);
    expect(errno(() => k.setns(b, fd, CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWTIME))).toBe('EUSERS');
    expect(errno(() => k.setns(b, fd, CLONE_NEWNS))).toBe('EINVAL');
    expect(errno(() => k.setns(b, sfd, CLONE_NEWUSER | CLONE_NEWUTS))).toBe('EINVAL');
    expect(ids(k, b)).toEqual(before);
    k.setns(b, fd, CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET); // threads may switch these
    expect(ids(k, b).uts).toBe(ids(k, a1).uts);
    k.exit(thr);
    finish(k, [a1, a, sub, b]);
  });
});

describe('setns by nsfs fd', () => {
  it('accepts 0 or the matching CLONE_NEW* only', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    k.unshare(a, CLONE_NEWUTS | CLONE_NEWIPC);
    const b = k.fork(k.init);
    const uts = k.openNs(b, k.pidIn(b, a), 'uts');
    const ipc = k.openNs(b, k.pidIn(b, a), 'ipc');
    expect(errno(() => k.setns(b, uts, CLONE_NEWIPC))).toBe('EINVAL');
    expect(errno(() => k.setns(b, uts, CLONE_NEWUTS | CLONE_NEWIPC))).toBe('EINVAL');
    expect(ids(k, b).uts).not.toBe(ids(k, a).uts);
    k.setns(b, uts, 0);
    expect(ids(k, b).uts).toBe(ids(k, a).uts);
    k.setns(b, ipc, CLONE_NEWIPC);
    expect(ids(k, b).ipc).toBe(ids(k, a).ipc);
    // Joining the own user namespace again: EINVAL.
    const user = k.openNs(b, 0, 'user');
    expect(errno(() => k.setns(b, user, 0))).toBe('EINVAL');
    for (const fd of [uts, ipc, user]) k.close(b, fd);
    finish(k, [a, b]);
  });

  it('pid namespace: the active one or a descendant only (EINVAL for an ancestor or a sibling)', () => {
    const k = Kernel.create();
    const b = k.fork(k.init);
    const rootPid = k.openNs(b, 0, 'pid'); // init_pid_ns, inherited by b's children
    k.unshare(b, CLONE_NEWPID);
    expect(errno(() => k.openNs(b, 0, 'pid_for_children'))).toBe('ENOENT'); // no reaper yet
    const c = forkInheriting(k, b); // pid 1 of P1
    expect(k.getpid(c)).toBe(1);
    const p1 = ids(k, c).pid_for_children;
    // c: its active namespace is P1; init_pid_ns is an ancestor.
    expect(errno(() => k.setns(c, rootPid, CLONE_NEWPID))).toBe('EINVAL');
    const own = k.openNs(c, 0, 'pid');
    k.setns(c, own, CLONE_NEWPID);
    expect(ids(k, c).pid_for_children).toBe(p1);
    // A sibling namespace P2 (under init_pid_ns), entered from P1: EINVAL.
    const s = k.fork(k.init);
    const p1fd = k.openNs(s, k.pidIn(s, c), 'pid'); // P1, seen from init_pid_ns
    k.unshare(s, CLONE_NEWPID);
    const d = forkInheriting(k, s); // pid 1 of P2, holds an fd of P1
    expect(errno(() => k.setns(d, p1fd, CLONE_NEWPID))).toBe('EINVAL');
    // From init_pid_ns, P1 is a descendant: b (active init_pid_ns) may join it for children.
    const bp1 = k.openNs(b, k.pidIn(b, c), 'pid');
    k.setns(b, rootPid, CLONE_NEWPID);
    expect(ids(k, b).pid_for_children).toBe(ids(k, k.init).pid_for_children);
    k.setns(b, bp1, CLONE_NEWPID);
    expect(ids(k, b).pid_for_children).toBe(p1);
    const e = k.fork(b);
    expect(k.nspid(e)).toEqual([k.nspid(e)[0], 2]); // pid 2 of P1
    // ... and by pidfd, from init's view.
    const g = k.fork(k.init);
    const cfd = k.pidfdOpen(g, k.pidIn(g, c));
    const gPid = k.openNs(g, 0, 'pid');
    k.setns(g, cfd, CLONE_NEWPID);
    expect(ids(k, g).pid_for_children).toBe(p1);
    k.setns(g, gPid, CLONE_NEWPID);
    expect(ids(k, g).pid_for_children).toBe(ids(k, k.init).pid_for_children);
    k.exit(e);
    k.wait4(b, -1);
    finish(k, [d, s, c, b, g]);
  });
});

describe('copy_namespaces and unshare rules', () => {
  it('EPERM for CLONE_NEW* without CAP_SYS_ADMIN; allowed in an own user namespace; EINVAL for NEWIPC|SYSVSEM', () => {
    const k = Kernel.create();
    const u = k.fork(k.init);
    k.setuid(u, 1000);
    expect(errno(() => k.unshare(u, CLONE_NEWUTS))).toBe('EPERM');
    expect(errno(() => k.fork(u, { flags: CLONE_NEWNET }))).toBe('EPERM');
    expect(errno(() => k.fork(k.init, { flags: CLONE_NEWIPC | CLONE_SYSVSEM }))).toBe('EINVAL');
    const before = ids(k, u);
    unshareUser(k, u);
    const inside = ids(k, u);
    expect(inside.user).not.toBe(before.user);
    expect(inside.caps).toBe(CAP_FULL_SET);
    expect(inside.nsproxy).toBe(before.nsproxy);
    k.unshare(u, CLONE_NEWUTS | CLONE_NEWNET);
    const c = k.fork(u, { flags: CLONE_NEWIPC });
    expect(ids(k, c).ipc).not.toBe(ids(k, u).ipc);
    expect(ids(k, c).uts).toBe(ids(k, u).uts);
    expect(ids(k, c).nsproxy).not.toBe(ids(k, u).nsproxy);
    // A plain fork shares the nsproxy.
    const d = k.fork(u);
    expect(ids(k, d).nsproxy).toBe(ids(k, u).nsproxy);
    // After unshare(CLONE_NEWTIME) children get the new time namespace, the caller keeps its own.
    k.unshare(u, CLONE_NEWTIME);
    const e = k.fork(u);
    expect(ids(k, e).time).toBe(ids(k, u).time_for_children);
    expect(ids(k, u).time).not.toBe(ids(k, u).time_for_children);
    expect(ids(k, e).nsproxy).not.toBe(ids(k, u).nsproxy);
    finish(k, [c, d, e, u]);
  });

  it('unshare(CLONE_NEWUSER): EINVAL when multi-threaded; namespaces die with their last user', () => {
    const k = Kernel.create();
    const b = k.fork(k.init);
    const thr = k.fork(b, { flags: CLONE_THREAD | CLONE_SIGHAND | CLONE_VM });
    expect(errno(() => unshareUser(k, b))).toBe('EINVAL');
    k.exit(thr);
    const a = k.fork(k.init);
    k.unshare(a, ALL_NSPROXY);
    k.unshare(a, CLONE_NEWPID);
    const a1 = k.fork(a);
    k.exit(a1);
    k.wait4(a, -1);
    finish(k, [a, b]); // audit: the namespaces a created are freed (baseline reached)
  });
});

describe('free-running CPUs', () => {
  it('4 worker CPUs race open/setns/close/unshare on shared namespaces: no violation, references balance', async () => {
    const k = Kernel.create({ ncpus: 4 });
    const a = k.fork(k.init);
    k.unshare(a, CLONE_NEWUTS | CLONE_NEWNET);
    const apid = k.getpid(a);
    const prog = k.program([
      [SYS_OPEN_NS, apid, NSK_UTS], // fd 3
      [SYS_SETNS, 3, 0],
      [SYS_CLOSE, 3],
      [SYS_UNSHARE, CLONE_NEWUTS],
      [SYS_PIDFD_OPEN, apid, 0], // fd 3
      [SYS_SETNS, 3, CLONE_NEWUTS | CLONE_NEWNET],
      [SYS_CLOSE, 3],
      [SYS_OPEN_NS, 0, NSK_NET],
      [SYS_CLOSE, 3],
      [OP_LOOP, 0, 200],
    ]);
    const kids: TaskHandle[] = [];
    for (let i = 0; i < 8; i++) kids.push(k.fork(k.init, { prog }));
    // The run ends when nothing is left to do: init and a stay, asleep ("hung" after hungMs).
    const r = await k.runWorkers({ timeoutMs: 60_000, hungMs: 1000 });
    expect(r.crash).toBeUndefined();
    expect(r.violations).toEqual([]);
    expect(kids.every((t) => k.isZombie(t))).toBe(true);
    finish(k, [a]);
  }, 60_000);
});

/**
 * File descriptors of another kind (memfd_create) and fstat's st_ino / st_dev on nsfs files and
 * pidfds (fs/nsfs.c, fs/pidfs.c, mm/memfd.c, fs/stat.c) through the scripting API. Each
 * expectation was first checked on this machine's Linux 6.18 with a small C program: setns on a
 * memfd is EINVAL (with or without a type), pidfd_send_signal and waitid(P_PIDFD) EBADF; the
 * initial pid namespace's inode is 4026531836 (PROC_PID_INIT_INO), the user namespace's
 * 4026531837, on nsfs (st_dev 0:4); two pidfds on one pid have the same pidfs inode (0:5), kept
 * after the task is reaped, and a new pid gets a new one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kernel } from '../src/api.js';
import { errnoOf as errno } from './support.js';
import { P_PIDFD } from '../src/kernel/exit.js';
import { NSFS_DEV, PIDFS_DEV, SHMEM_DEV } from '../src/kernel/nsfs.js';
import { CLONE_NEWPID, SIGTERM, WEXITED } from '../src/kernel/sched_task.js';
import { EBADF, EINVAL } from '../src/kernel/errno.js';

let k: Kernel;
afterEach(() => {
  expect(k.audit()).toEqual([]);
});


describe('memfd: a file that is neither a namespace nor a pidfd', () => {
  it('setns is EINVAL, pidfd calls EBADF; fork copies it and exit closes it', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const m = k.memfdCreate(a);
    expect(m).toBeGreaterThanOrEqual(3);
    expect(errno(() => k.setns(a, m, 0))).toBe(EINVAL);
    expect(errno(() => k.setns(a, m, CLONE_NEWPID))).toBe(EINVAL);
    expect(errno(() => k.pidfdSendSignal(a, m, SIGTERM))).toBe(EBADF);
    expect(errno(() => k.waitid(a, P_PIDFD, m, WEXITED))).toBe(EBADF);
    const st = k.fstat(a, m);
    expect(st.dev).toBe(SHMEM_DEV);
    const b = k.fork(a); // copy_files: the child has the same fd on the same file
    expect(k.fstat(b, m)).toEqual(st);
    expect(k.fstat(a, k.memfdCreate(a)).ino).not.toBe(st.ino);
    expect(errno(() => k.fstat(a, 99))).toBe(EBADF);
    k.exit(b, 0);
    k.wait4(a, -1);
    k.exit(a, 0);
    k.wait4(k.init, -1);
  });
});

describe('fstat on nsfs files and pidfds', () => {
  it('namespace inode numbers: equal for the same namespace, PROC_*_INIT_INO for the initial ones, nsfs st_dev', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const pa = k.getpid(a);
    const pidns = k.openNs(a, pa, 'pid');
    const pfc = k.openNs(a, pa, 'pid_for_children');
    const user = k.openNs(a, pa, 'user');
    expect(k.fstat(a, pidns)).toEqual({ ino: 4026531836, dev: NSFS_DEV });
    expect(k.fstat(a, pfc)).toEqual({ ino: 4026531836, dev: NSFS_DEV });
    expect(k.fstat(a, user)).toEqual({ ino: 4026531837, dev: NSFS_DEV });
    k.unshare(a, CLONE_NEWPID);
    const c = k.fork(a); // the new namespace's init: its pid namespace is a's pid_for_children
    const pfc2 = k.openNs(a, pa, 'pid_for_children'); // (ENOENT before the namespace has an init)
    const ino2 = k.fstat(a, pfc2).ino;
    expect(ino2).not.toBe(4026531836);
    const cpid = k.openNs(a, k.pidIn(a, c), 'pid');
    expect(k.fstat(a, cpid).ino).toBe(ino2);
    for (const fd of [pidns, pfc, user, pfc2, cpid]) k.close(a, fd);
    k.exit(c, 0);
    k.wait4(a, -1);
    k.exit(a, 0);
    k.wait4(k.init, -1);
  });

  it('pidfds: one pidfs inode per pid (kept after the reap), a new one for the next pid', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const b = k.fork(k.init);
    const pa = k.getpid(a);
    const fa1 = k.pidfdOpen(k.init, pa);
    const fa2 = k.pidfdOpen(k.init, pa);
    const fb = k.pidfdOpen(k.init, k.getpid(b));
    const sa = k.fstat(k.init, fa1);
    expect(sa.dev).toBe(PIDFS_DEV);
    expect(k.fstat(k.init, fa2)).toEqual(sa);
    expect(k.fstat(k.init, fb).ino).not.toBe(sa.ino);
    k.exit(a, 0);
    k.wait4(k.init, pa);
    expect(k.fstat(k.init, fa1)).toEqual(sa);
    for (const fd of [fa1, fa2, fb]) k.close(k.init, fd);
    k.exit(b, 0);
    k.wait4(k.init, -1);
  });
});

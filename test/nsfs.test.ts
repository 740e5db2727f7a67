/**
 * /proc/PID/ns/* files (fs/nsfs.c, fs/proc/namespaces.c), NS_GET_PARENT, the fd table (close,
 * exit_files, fork's copy_files), pidfd_open (kernel/pid.c) and the reference audit.
 * Expected errnos are what Linux 6.18 returned for the same steps on the real kernel.
 */
import { describe, expect, it } from 'vitest';
import { Kernel, KernelError, type TaskHandle } from '../src/api.js';
import { CPU, FILE, KMEM_CACHE_CPU, NSCOMMON, NSPROXY, PID, SLAB, TASK } from '../src/mm/layout.js';
import { cpu_addr, mem, regions, slab_addr, SLAB_FILE, SLAB_NSCOMMON } from '../src/mm/memory.js';
import { kmem_cache_in_use } from '../src/mm/slab.js';
import { CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUTS, ns_inum } from '../src/kernel/ns_common.js';
import { NSK_NAMES, NSK_PID, NSK_TIME_FOR_CHILDREN, task_fd_file, task_fds } from '../src/kernel/nsfs.js';
import { audit_nsproxy } from '../src/kernel/nsproxy.js';
import { PIDFD_NONBLOCK, PIDFD_THREAD } from '../src/kernel/pidfd.js';
import { SYS_PIDNS_GET_PARENT, SYS_UNSHARE_USER } from '../src/kernel/unistd.js';
import { reapAll, finish } from './support.js';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM } from '../src/kernel/clone_flags.js';

function errno(f: () => unknown): string {
  try {
    f();
    return 'OK';
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
}

/** A system call the API has no wrapper for: the value, or a KernelError. */
function raw(k: Kernel, t: TaskHandle, name: string, op: number, a = 0): number {
  const r = k.syscall(t, name, op, a);
  if (!('value' in r)) throw new Error(`${name} did not complete`);
  if (r.value < 0 && r.value > -4096) throw new KernelError(name, -r.value);
  return r.value;
}

const nsGetParent = (k: Kernel, t: TaskHandle, fd: number): number => raw(k, t, 'ioctl', SYS_PIDNS_GET_PARENT, fd);

/** Inode number of the namespace behind fd (fstat(fd).st_ino). */
function fdIno(k: Kernel, t: TaskHandle, fd: number): number {
  k.machine.attach();
  const f = task_fd_file(t.addr, fd);
  expect(f).not.toBe(0);
  return ns_inum(mem[f + FILE.ns_type]!, mem[f + FILE.obj]!);
}

function inUse(k: Kernel, kind: number): number {
  k.machine.attach();
  return kmem_cache_in_use(mem, regions, kind);
}



/** Linux 6.18's inode numbers of the initial namespaces (ls -l /proc/self/ns as root). */
const INIT_INO: Record<string, number> = {
  pid: 4026531836, pid_for_children: 4026531836, user: 4026531837, uts: 4026531838, ipc: 4026531839,
  mnt: 4026531832, net: 4026531833, cgroup: 4026531835, time: 4026531834, time_for_children: 4026531834,
};

describe('/proc/PID/ns', () => {
  it('opens every kind with the initial namespaces\' inode numbers; fds are the lowest free from 3', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const fds: number[] = [];
    for (let nsk = NSK_PID; nsk <= NSK_TIME_FOR_CHILDREN; nsk++) {
      const fd = k.openNs(a, nsk % 2 ? 0 : k.getpid(a), nsk); // /proc/thread-self and /proc/PID
      fds.push(fd);
      expect(fdIno(k, a, fd)).toBe(INIT_INO[NSK_NAMES[nsk]!]);
    }
    expect(fds).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    k.close(a, 5);
    k.close(a, 4);
    expect(k.openNs(a, 0, 'uts')).toBe(4);
    expect(k.openNs(a, 0, 'uts')).toBe(5);
    expect(k.openNs(a, 0, 'uts')).toBe(13);
    finish(k, [a]); // exit_files closes them
  });

  it('a freed namespace\'s inode number is not handed to the next namespace (conformance found-ba2bc79037)', () => {
    // Real 6.18 (proc_inum_ida on a running system): a pid namespace created right after another
    // died has another inode number; the driver and the model adapter identify namespaces by it.
    const k = Kernel.create();
    const a = k.fork(k.init, { flags: CLONE_NEWPID });
    const fa = k.openNs(a, 0, 'pid');
    const inoA = fdIno(k, a, fa);
    const b = k.fork(a, { flags: CLONE_NEWPID });
    const fb = k.openNs(b, 0, 'pid');
    const inoB = fdIno(k, b, fb);
    k.exit(b);
    reapAll(k, a);
    k.quiesce(); // b's namespace is freed (delayed_free_pidns)
    const c = k.fork(a, { flags: CLONE_NEWPID });
    const fc = k.openNs(c, 0, 'pid');
    const inoC = fdIno(k, c, fc);
    expect(new Set([inoA, inoB, inoC]).size).toBe(3);
    expect(inoC >>> 0).toBeGreaterThanOrEqual(0xf0000000);
    finish(k, [c, a]);
  });

  it('ENOENT for an unknown pid or kind, a reaped task, and a zombie\'s nsproxy namespaces', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    expect(errno(() => k.openNs(a, 4000000, 'pid'))).toBe('ENOENT');
    expect(errno(() => k.openNs(a, 0, 99))).toBe('ENOENT');
    expect(errno(() => k.openNs(a, 0, 0))).toBe('ENOENT');
    const z = k.fork(a);
    const zpid = k.pidIn(a, z);
    k.exit(z);
    expect(k.isZombie(z)).toBe(true);
    // A zombie keeps its struct pid (pidns_get works) but has no nsproxy.
    const zp = k.openNs(a, zpid, 'pid');
    expect(fdIno(k, a, zp)).toBe(INIT_INO.pid);
    expect(errno(() => k.openNs(a, zpid, 'uts'))).toBe('ENOENT');
    expect(errno(() => k.openNs(a, zpid, 'pid_for_children'))).toBe('ENOENT');
    expect(errno(() => k.openNs(a, zpid, 'time_for_children'))).toBe('ENOENT');
    expect(k.openNs(a, zpid, 'user')).toBeGreaterThan(0);
    k.wait4(a, zpid);
    expect(errno(() => k.openNs(a, zpid, 'pid'))).toBe('ENOENT');
    finish(k, [a]);
  });

  it('EACCES without ptrace access to the task', () => {
    const k = Kernel.create();
    const root = k.fork(k.init);
    const u1 = k.fork(k.init);
    k.setuid(u1, 1000);
    const u2 = k.fork(k.init);
    k.setuid(u2, 1000);
    expect(errno(() => k.openNs(u1, k.pidIn(u1, root), 'uts'))).toBe('EACCES');
    expect(k.openNs(u1, k.pidIn(u1, u2), 'uts')).toBe(3);
    expect(k.openNs(root, k.pidIn(root, u2), 'net')).toBe(3); // root has CAP_SYS_PTRACE
    finish(k, [root, u1, u2]);
  });

  it('pid_for_children: ENOENT until the new namespace has its reaper, then the child\'s namespace', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    k.unshare(a, CLONE_NEWPID);
    expect(errno(() => k.openNs(a, 0, 'pid_for_children'))).toBe('ENOENT');
    expect(fdIno(k, a, k.openNs(a, 0, 'pid'))).toBe(INIT_INO.pid); // its own namespace is unchanged
    const c = k.fork(a);
    expect(k.getpid(c)).toBe(1);
    const pfc = k.openNs(a, 0, 'pid_for_children');
    const cp = k.openNs(a, k.pidIn(a, c), 'pid');
    expect(fdIno(k, a, pfc)).toBe(fdIno(k, a, cp));
    expect(fdIno(k, a, pfc)).not.toBe(INIT_INO.pid);
    // Inside, the reaper sees its namespace as "pid" and "pid_for_children".
    expect(fdIno(k, c, k.openNs(c, 1, 'pid'))).toBe(fdIno(k, a, pfc));
    expect(fdIno(k, c, k.openNs(c, 0, 'pid_for_children'))).toBe(fdIno(k, a, pfc));
    // time_for_children differs from time after unshare(CLONE_NEWTIME).
    k.unshare(a, CLONE_NEWTIME);
    const t = k.openNs(a, 0, 'time');
    const tfc = k.openNs(a, 0, 'time_for_children');
    expect(fdIno(k, a, t)).toBe(INIT_INO.time);
    expect(fdIno(k, a, tfc)).not.toBe(INIT_INO.time);
    finish(k, [c, a]);
  });
});

describe('NS_GET_PARENT', () => {
  it('parent of a child pid namespace; EPERM at the top or outside the view; EINVAL, ENOTTY, EBADF', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const root = k.openNs(a, 0, 'pid');
    expect(errno(() => nsGetParent(k, a, root))).toBe('EPERM');
    k.unshare(a, CLONE_NEWPID);
    const c = k.fork(a);
    const child = k.openNs(a, k.pidIn(a, c), 'pid');
    const p = nsGetParent(k, a, child);
    expect(fdIno(k, a, p)).toBe(INIT_INO.pid);
    // From inside the child namespace its parent is out of view.
    const own = k.openNs(c, 0, 'pid');
    expect(errno(() => nsGetParent(k, c, own))).toBe('EPERM');
    // Namespaces without a hierarchy, non-nsfs files, bad fds.
    expect(errno(() => nsGetParent(k, a, k.openNs(a, 0, 'uts')))).toBe('EINVAL');
    expect(errno(() => nsGetParent(k, a, k.pidfdOpen(a, k.pidIn(a, c))))).toBe('ENOTTY');
    expect(errno(() => nsGetParent(k, a, 99))).toBe('EBADF');
    // User namespaces: init_user_ns has no parent; a child's parent is init_user_ns.
    expect(errno(() => nsGetParent(k, a, k.openNs(a, 0, 'user')))).toBe('EPERM');
    const u = k.fork(k.init);
    raw(k, u, 'unshare_user', SYS_UNSHARE_USER);
    const uf = k.openNs(a, k.pidIn(a, u), 'user');
    expect(fdIno(k, a, uf)).not.toBe(INIT_INO.user);
    expect(fdIno(k, a, nsGetParent(k, a, uf))).toBe(INIT_INO.user);
    finish(k, [c, a, u]);
  });
});

describe('files and references', () => {
  it('open files hold namespace references; close and exit drop them (audit)', () => {
    const k = Kernel.create();
    const files0 = inUse(k, SLAB_FILE);
    const nsc0 = inUse(k, SLAB_NSCOMMON);
    const a = k.fork(k.init);
    k.unshare(a, CLONE_NEWUTS | CLONE_NEWNET);
    expect(inUse(k, SLAB_NSCOMMON)).toBe(nsc0 + 2);
    const b = k.fork(k.init);
    const uts = k.openNs(b, k.pidIn(b, a), 'uts');
    k.openNs(b, k.pidIn(b, a), 'net');
    k.machine.attach();
    const utsNs = mem[task_fd_file(b.addr, uts) + FILE.obj]!;
    expect(mem[utsNs + NSCOMMON.count]).toBe(2); // a's nsproxy slot + the file
    expect(audit_nsproxy()).toEqual([]);
    // The namespaces outlive their last task while a file holds them.
    k.exit(a);
    reapAll(k, k.init);
    k.machine.attach();
    expect(mem[utsNs + NSCOMMON.count]).toBe(1);
    expect(inUse(k, SLAB_NSCOMMON)).toBe(nsc0 + 2);
    expect(k.audit()).toEqual([]);
    // setns into the orphaned namespace works (the file keeps it alive).
    k.setns(b, uts, CLONE_NEWUTS);
    k.close(b, uts);
    expect(inUse(k, SLAB_NSCOMMON)).toBe(nsc0 + 2); // now held by b's nsproxy
    // exit closes the other file: every namespace and file is gone after b.
    k.exit(b);
    reapAll(k, k.init);
    expect(inUse(k, SLAB_NSCOMMON)).toBe(nsc0);
    expect(inUse(k, SLAB_FILE)).toBe(files0);
    expect(k.audit()).toEqual([]);
  });

  it('exit closes a task\'s files while another CPU is half way through a flush of the file cache', () => {
    // cache_flusharray (src/mm/slab.ts) lowers the cache's in_use and then its own list length:
    // between the two stores, in_use minus every CPU's list length is short by the batch it moves
    // (4 objects for the file cache's limit of 8). exit_files and copy_files skipped the fd table
    // when that difference read 0, so a task with 4 files exiting then kept them (and their
    // references). The state of CPU 1 in between is set here directly: its list 4 longer than the
    // objects on it, as in_use 4 lower would read.
    const k = Kernel.create({ ncpus: 2 });
    k.machine.attach();
    const files0 = inUse(k, SLAB_FILE);
    const a = k.fork(k.init);
    for (const kind of ['uts', 'ipc', 'net'] as const) k.openNs(a, 0, kind);
    k.pidfdOpen(a, k.getpid(a));
    k.machine.attach();
    expect(task_fds(a.addr)).toHaveLength(4);
    expect(mem[slab_addr(SLAB_FILE) + SLAB.cpu_limit]).toBe(8);
    const ac = cpu_addr(1) + CPU.slab_cpu + SLAB_FILE * KMEM_CACHE_CPU.SIZE + KMEM_CACHE_CPU.avail;
    mem[ac] = mem[ac]! + 4;
    k.exit(a);
    reapAll(k, k.init);
    k.machine.attach();
    mem[ac] = mem[ac]! - 4;
    expect(inUse(k, SLAB_FILE)).toBe(files0);
    expect(k.audit()).toEqual([]);
  });

  it('fork copies the fd table (copy_files): same numbers, own references', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const f1 = k.openNs(a, 0, 'uts');
    const f2 = k.pidfdOpen(a, k.getpid(a));
    const c = k.fork(a);
    k.machine.attach();
    expect(task_fds(c.addr)).toEqual([f1, f2]);
    const pid = mem[task_fd_file(a.addr, f2) + FILE.obj]!;
    expect(mem[pid + PID.pidfds]).toBe(2);
    expect(fdIno(k, c, f1)).toBe(INIT_INO.uts);
    k.setns(c, f2, CLONE_NEWUTS | CLONE_NEWNET); // c joins a's namespaces through the inherited pidfd
    k.close(a, f2);
    expect(mem[pid + PID.pidfds]).toBe(1);
    expect(audit_nsproxy()).toEqual([]);
    finish(k, [c, a]);
  });

  it('the audit reports a reference leak', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const fd = k.openNs(a, 0, 'ipc');
    k.machine.attach();
    const ns = mem[task_fd_file(a.addr, fd) + FILE.obj]!;
    Atomics.add(mem, ns + NSCOMMON.count, 1);
    const m = /ipc namespace .* count (\d+), but (\d+) /.exec(audit_nsproxy().join('\n'));
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(Number(m![2]) + 1);
    Atomics.sub(mem, ns + NSCOMMON.count, 1);
    const np = mem[a.addr + TASK.nsproxy]!;
    Atomics.add(mem, np + NSPROXY.count, 1);
    expect(audit_nsproxy().join('\n')).toMatch(/nsproxy .* count \d+, but \d+ task/);
    Atomics.sub(mem, np + NSPROXY.count, 1);
    expect(audit_nsproxy()).toEqual([]);
    finish(k, [a]);
  });
});

describe('pidfd_open', () => {
  it('EINVAL for flags or pid <= 0, ESRCH for no task, ENOENT for a non-leader thread without PIDFD_THREAD', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const me = k.getpid(a);
    expect(errno(() => k.pidfdOpen(a, me, 1))).toBe('EINVAL');
    expect(errno(() => k.pidfdOpen(a, me, PIDFD_THREAD | 1))).toBe('EINVAL');
    expect(errno(() => k.pidfdOpen(a, 0))).toBe('EINVAL');
    expect(errno(() => k.pidfdOpen(a, -1))).toBe('EINVAL');
    expect(errno(() => k.pidfdOpen(a, 4000000))).toBe('ESRCH');
    expect(k.pidfdOpen(a, me, PIDFD_THREAD)).toBe(3);
    expect(k.pidfdOpen(a, me, PIDFD_NONBLOCK)).toBe(4);
    const thr = k.fork(a, { flags: CLONE_THREAD | CLONE_SIGHAND | CLONE_VM });
    k.machine.attach();
    const tid = mem[mem[thr.addr + TASK.pid]! + PID.SIZE]!; // the thread's own pid (level 0)
    expect(tid).not.toBe(me);
    expect(errno(() => k.pidfdOpen(a, tid))).toBe('ENOENT');
    expect(k.pidfdOpen(a, tid, PIDFD_THREAD)).toBe(5);
    // pidfds count on the struct pid (the thread's copies of fds 3 and 4, copy_files, too), dropped
    // by close and by exit_files.
    k.machine.attach();
    const pid = mem[a.addr + TASK.pid]!;
    expect(mem[pid + PID.pidfds]).toBe(4);
    k.exit(thr);
    expect(mem[pid + PID.pidfds]).toBe(2);
    k.close(a, 3);
    expect(mem[pid + PID.pidfds]).toBe(1);
    finish(k, [a]);
  });

  it('resolves the pid in the caller\'s pid namespace', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    k.unshare(a, CLONE_NEWPID | CLONE_NEWUTS);
    const c = k.fork(a); // pid 1 inside
    const d = k.fork(c); // pid 2 inside
    expect(k.getpid(d)).toBe(2);
    const fd = k.pidfdOpen(c, 2);
    k.machine.attach();
    expect(mem[task_fd_file(c.addr, fd) + FILE.obj]).toBe(mem[d.addr + TASK.pid]);
    // From inside, init_pid_ns's pid 1 is c itself, not the global init.
    const fd1 = k.pidfdOpen(c, 1);
    expect(mem[task_fd_file(c.addr, fd1) + FILE.obj]).toBe(mem[c.addr + TASK.pid]);
    expect(errno(() => k.pidfdOpen(c, 3))).toBe('ESRCH'); // only 1 and 2 exist in there
    finish(k, [d, c, a]);
  });
});

describe('PIDNS_REQ_SET_LAST_PID_VEC by fd', () => {
  it('resolves the nsfs fd: EBADF, ENOTTY for a non-pid file, then the next fork takes last+1', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const pidns = k.openNs(a, 0, 'pid');
    expect(errno(() => k.setLastPidVec(a, 77, '500'))).toBe('EBADF');
    expect(errno(() => k.setLastPidVec(a, k.openNs(a, 0, 'uts'), '500'))).toBe('ENOTTY');
    expect(errno(() => k.setLastPidVec(a, k.pidfdOpen(a, k.getpid(a)), '500'))).toBe('ENOTTY');
    k.setLastPidVec(a, pidns, '500');
    const c = k.fork(a);
    expect(k.getpid(c)).toBe(501);
    finish(k, [c, a]);
  });
});

/**
 * pidfds (kernel/pid.c pidfd_open, pidfd_create, pidfd_prepare; fs/pidfs.c pidfd_pid).
 *
 * A pidfd is a file (nsfs.ts file table) holding a reference on a struct pid; PID.pidfds counts
 * the pidfds open on a pid so the leak check can account for those references. Behaviour follows
 * Linux 6.18: EINVAL for unknown flags or pid <= 0, ESRCH when the pid has no task in the caller's
 * pid namespace, ENOENT when it names a thread that is not a thread-group leader and PIDFD_THREAD
 * was not given (pidfd_prepare, since 6.9 / pidfs).
 */
import { FILE, G, PID } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { read_lock, read_unlock } from '../locking/qrwlock.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { register_syscall } from './entry.js';
import { EBADF, EINVAL, ENOENT, ESRCH } from './errno.js';
import { SYS_PIDFD_OPEN } from './unistd.js';
import { alloc_fd_file, FILE_PIDFD } from './nsfs.js';
import { find_vpid, get_pid, pid_task, PIDTYPE_PID, PIDTYPE_TGID, put_pid } from './pid.js';

/** include/uapi/linux/pidfd.h: PIDFD_NONBLOCK = O_NONBLOCK, PIDFD_THREAD = O_EXCL. */
export const PIDFD_NONBLOCK = 0o4000;
export const PIDFD_THREAD = 0o200;

/**
 * pidfd_prepare + pidfd_create (kernel/pid.c, fs/pidfs.c): a pidfd on `pid` in current's fd table.
 * The task checks run under tasklist_lock (read): detach_pid, which ends pid_task(), runs under
 * the write side (the kernel holds pid->wait_pidfd.lock for the same purpose).
 */
export function pidfd_create(pid: number, flags: number): number {
  read_lock(kg + G.tasklist_lock);
  if (!pid_task(pid, PIDTYPE_PID)) {
    read_unlock(kg + G.tasklist_lock);
    return -ESRCH; // already reaped
  }
  if ((flags & PIDFD_THREAD) === 0 && !pid_task(pid, PIDTYPE_TGID)) {
    read_unlock(kg + G.tasklist_lock);
    return -ENOENT; // not a thread-group leader and no PIDFD_THREAD
  }
  Atomics.add(mem, pid + PID.pidfds, 1);
  read_unlock(kg + G.tasklist_lock);
  get_pid(pid);
  const fd = alloc_fd_file(FILE_PIDFD, 0, pid, flags);
  if (fd < 0) {
    Atomics.sub(mem, pid + PID.pidfds, 1);
    put_pid(pid);
  }
  return fd;
}

/**
 * pidfd_open(pid, flags) (kernel/pid.c SYSCALL_DEFINE2(pidfd_open)): `pid` is resolved in the
 * caller's active pid namespace (find_get_pid).
 */
export function pidfd_open(pid_nr: number, flags: number): number {
  if ((flags & ~(PIDFD_NONBLOCK | PIDFD_THREAD)) !== 0) return -EINVAL;
  if (pid_nr <= 0) return -EINVAL;
  rcu_read_lock();
  const p = find_vpid(pid_nr);
  if (p) get_pid(p);
  rcu_read_unlock();
  if (!p) return -ESRCH;
  const fd = pidfd_create(p, flags);
  put_pid(p);
  return fd;
}

/** pidfd_pid (fs/pidfs.c): the struct pid of a pidfd file, or -EBADF when it is not one. */
export function pidfd_pid(f: number): number {
  return mem[f + FILE.kind] === FILE_PIDFD ? mem[f + FILE.obj]! : -EBADF;
}

register_syscall(SYS_PIDFD_OPEN, 'pidfd_open', (pid, flags) => pidfd_open(pid, flags));

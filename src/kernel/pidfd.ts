/**
 * pidfds (kernel/pid.c pidfd_open, pidfd_create, pidfd_prepare; fs/pidfs.c pidfd_pid).
 *
 * A pidfd is a file (nsfs.ts file table) holding a reference on a struct pid; PID.pidfds counts
 * the pidfds open on a pid so the leak check can account for those references. Behaviour follows
 * Linux 6.18: EINVAL for unknown flags or pid <= 0, ESRCH when the pid has no task in the caller's
 * pid namespace, ENOENT when it names a thread that is not a thread-group leader and PIDFD_THREAD
 * was not given (pidfd_prepare, since 6.9 / pidfs).
 */
import { FILE, G, PID, TASK } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { read_lock, read_unlock } from '../locking/qrwlock.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { data_race } from '../lib/compiler.js';
import { current, SLEEP, TASK_INTERRUPTIBLE, WCHAN_PIDFD_POLL } from '../sched/core.js';
import { finish_wait, prepare_to_wait, wake_up } from '../sched/wait.js';
import { thread_group_empty } from './sched_task.js';
import { signal_pending } from './signal.js';
import { register_syscall } from './entry.js';
import { EBADF, EINVAL, ENOENT, ERESTARTNOHAND, ESRCH } from './errno.js';
import { SYS_PIDFD_OPEN, SYS_POLL_PIDFD } from './unistd.js';
import { alloc_fd_file, fget, fput, FILE_PIDFD } from './nsfs.js';
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
  return pidfd_file_install(pid, flags);
}

/** A pidfd file on `pid` (counted in PID.pidfds by the caller) in current's fd table, or -errno. */
function pidfd_file_install(pid: number, flags: number): number {
  get_pid(pid);
  const fd = alloc_fd_file(FILE_PIDFD, 0, pid, flags);
  if (fd < 0) {
    Atomics.sub(mem, pid + PID.pidfds, 1);
    put_pid(pid);
  }
  return fd;
}

/**
 * __pidfd_prepare (kernel/pid.c): a pidfd on a pid with no task checks, for copy_process's
 * CLONE_PIDFD ("Note that no task has been attached to @pid yet"). The kernel reserves the fd
 * and installs the file after the child is attached; the model installs it at once, so it is in
 * current's table a little earlier (only a CLONE_FILES sibling thread could tell).
 */
export function __pidfd_prepare(pid: number, flags: number): number {
  Atomics.add(mem, pid + PID.pidfds, 1);
  return pidfd_file_install(pid, flags);
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

/** poll(2) event bits (include/uapi/asm-generic/poll.h). */
export const POLLIN = 0x0001;
export const POLLRDNORM = 0x0040;

/**
 * do_notify_pidfd (kernel/signal.c): wake every pidfd poller of tsk's pid. do_notify_parent calls
 * it first thing, under write_lock_irq(&tasklist_lock). pidfd_poll reads exit_state without that
 * lock, so exit_notify must have set tsk->exit_state before this wake (b191d6491be6): a poller
 * woken here re-polls at once, and a zero exit_state sends it back to sleep with no wake to come.
 */
export function do_notify_pidfd(tsk: number): void {
  wake_up(mem[tsk + TASK.pid]! + PID.wait_pidfd); // wake_up_all(&task_pid(task)->wait_pidfd)
}

/**
 * pidfd_poll (kernel/fork.c, 5.3; fs/pidfs.c today): POLLIN once the task has exited and its
 * thread group is empty ("Inform pollers only when the whole thread group exits"), or once it was
 * reaped. Lockless against exit_notify: RCU keeps the task readable, and exit_state is read as
 * the kernel reads it (fs/pidfs.c `else if (task->exit_state && ...)`, read with find_string):
 * a plain load racing exit_notify's store under tasklist_lock, a race on purpose (data_race; the
 * checked build's watchpoints reported it in a 5-minute free run, session 13). A stale 0 is
 * followed by exit_notify's do_notify_pidfd wake, which comes after its store (b191d6491be6).
 */
export function pidfd_poll(pid: number): number {
  let mask = 0;
  rcu_read_lock();
  const task = pid_task(pid, PIDTYPE_PID);
  if (!task || (data_race(mem[task + TASK.exit_state]!) !== 0 && thread_group_empty(task))) mask = POLLIN | POLLRDNORM;
  rcu_read_unlock();
  return mask;
}

/**
 * poll(2) on one pidfd for POLLIN with no timeout (fs/select.c do_sys_poll/do_poll). poll_wait
 * queues the caller on pid->wait_pidfd before pidfd_poll looks (prepare_to_wait sets the sleeping
 * state under the queue lock, pairing with do_notify_pidfd's locked wake), so a wake after the
 * look is never lost; a wake before it is consumed by that look, as do_poll's pwq->triggered is.
 * A signal ends the sleep with -ERESTARTNOHAND (-EINTR to a handler). The model's poll knows
 * pidfds only: another file is -EINVAL.
 */
export function sys_poll_pidfd(fd: number): number {
  const f = fget(fd);
  if (!f) return -EBADF;
  const pid = pidfd_pid(f);
  if (pid < 0) {
    fput(f);
    return -EINVAL;
  }
  const wq = pid + PID.wait_pidfd;
  prepare_to_wait(wq, TASK_INTERRUPTIBLE, WCHAN_PIDFD_POLL, pid, 0); // poll_wait + poll_schedule_timeout's state
  const mask = pidfd_poll(pid);
  if (mask !== 0 || signal_pending(current)) {
    finish_wait(wq);
    fput(f);
    return mask !== 0 ? mask : -ERESTARTNOHAND;
  }
  fput(f);
  return SLEEP;
}

register_syscall(SYS_POLL_PIDFD, 'poll', (fd) => sys_poll_pidfd(fd));
register_syscall(SYS_PIDFD_OPEN, 'pidfd_open', (pid, flags) => pidfd_open(pid, flags));

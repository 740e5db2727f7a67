/**
 * CLONE_PIDFD on clone and clone3 (kernel/fork.c copy_process, kernel_clone; kernel/pid.c
 * __pidfd_prepare) through the scripting API. Each rule was first checked on this machine's
 * Linux 6.18 with a small C program: clone(CLONE_PIDFD) returns the pidfd through parent_tid;
 * with CLONE_PARENT_SETTID (same word) or CLONE_DETACHED it is EINVAL; CLONE_THREAD is allowed
 * (since 6.9); clone3 writes args->pidfd, EINVAL when args->parent_tid is the same address with
 * CLONE_PARENT_SETTID, EFAULT for a NULL args->pidfd.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kernel } from '../src/api.js';
import { errnoOf as errno } from './support.js';
import { P_PIDFD } from '../src/kernel/exit.js';
import { PIDFD_THREAD } from '../src/kernel/pidfd.js';
import { task_fd_file } from '../src/kernel/nsfs.js';
import { FILE } from '../src/mm/layout.js';
import { mem } from '../src/mm/memory.js';
import {
  CLD_KILLED, CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, SIGCHLD, SIGKILL, WEXITED,
} from '../src/kernel/sched_task.js';
import { EBADF, EFAULT, EINVAL } from '../src/kernel/errno.js';

let k: Kernel;
afterEach(() => {
  expect(k.audit()).toEqual([]);
});


describe('CLONE_PIDFD', () => {
  for (const clone3 of [false, true]) {
    it(`${clone3 ? 'clone3' : 'clone'}: the parent gets a pidfd on the child (not in the child's table); pidfd_send_signal and waitid(P_PIDFD) use it`, () => {
      k = Kernel.create();
      const p = k.fork(k.init);
      const { child, pidfd } = k.forkPidfd(p, { clone3 });
      expect(pidfd).toBeGreaterThanOrEqual(3);
      expect(task_fd_file(p.addr, pidfd)).not.toBe(0);
      expect(task_fd_file(child.addr, pidfd)).toBe(0);
      expect(errno(() => k.close(child, pidfd))).toBe(EBADF);
      const pid = k.getpid(child);
      k.pidfdSendSignal(p, pidfd, SIGKILL);
      const r = k.waitid(p, P_PIDFD, pidfd, WEXITED);
      expect(r).toEqual({ signo: SIGCHLD, code: CLD_KILLED, pid, status: SIGKILL });
      k.close(p, pidfd);
    });
  }

  it('CLONE_THREAD | CLONE_PIDFD gives a PIDFD_THREAD pidfd (Linux >= 6.9)', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    const { child, pidfd } = k.forkPidfd(p, { flags: CLONE_THREAD | CLONE_SIGHAND | CLONE_VM });
    expect(k.gettid(child)).not.toBe(k.getpid(child));
    expect(mem[task_fd_file(p.addr, pidfd) + FILE.flags]! & PIDFD_THREAD).toBe(PIDFD_THREAD);
    k.close(p, pidfd);
    k.exitGroup(p, 0);
    k.wait4(k.init, -1);
  });

  it('EINVAL with CLONE_PARENT_SETTID on the same word, EFAULT for a bad args->pidfd; no child, no fd left', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    expect(errno(() => k.forkPidfd(p, { flags: CLONE_PARENT_SETTID }))).toBe(EINVAL);
    expect(errno(() => k.clone3(p, { flags: CLONE_PIDFD | CLONE_PARENT_SETTID, pidfd: true, parentTidIsPidfd: true }))).toBe(EINVAL);
    expect(errno(() => k.clone3(p, { flags: CLONE_PIDFD }))).toBe(EFAULT); // args->pidfd NULL
    // clone3 with distinct parent_tid and pidfd words is fine.
    const { child, pidfd } = k.forkPidfd(p, { clone3: true });
    expect(pidfd).toBeGreaterThanOrEqual(3);
    k.close(p, pidfd);
    k.exit(child, 0);
    k.wait4(p, -1);
    expect(k.nrThreads()).toBe(2);
  });
});

/**
 * waitid(2) (kernel/exit.c kernel_waitid / SYSCALL_DEFINE5(waitid)) through the scripting API,
 * in-process. Every expectation below was first checked on the real kernel (Linux 6.18, root)
 * with a small C program doing the same calls.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kernel, type TaskHandle } from '../src/api.js';
import { errnoOf as errno } from './support.js';
import { P_ALL, P_PGID, P_PID, P_PIDFD } from '../src/kernel/exit.js';
import { PIDFD_NONBLOCK } from '../src/kernel/pidfd.js';
import {
  CLD_CONTINUED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, CLONE_NEWPID, SIGCHLD, SIGCONT, SIGSTOP, SIGTERM, WCONTINUED, WEXITED, WNOHANG,
  WNOWAIT, WSTOPPED,
} from '../src/kernel/sched_task.js';
import { EAGAIN, EBADF, ECHILD, EINVAL } from '../src/kernel/errno.js';

let k: Kernel;
afterEach(() => {
  expect(k.audit()).toEqual([]);
});


function info(t: TaskHandle, idtype: number, id: number, options: number): { signo: number; code: number; pid: number; status: number } {
  const r = k.waitid(t, idtype, id, options);
  if ('blocked' in r) throw new Error('waitid blocked');
  return r;
}

describe('waitid', () => {
  it('argument errors: EINVAL without WEXITED|WSTOPPED|WCONTINUED, for a bad idtype or id, unknown bits; ECHILD; EBADF for a fd that is not a pidfd', () => {
    k = Kernel.create();
    expect(errno(() => k.waitid(k.init, P_ALL, 0, 0))).toBe(EINVAL);
    expect(errno(() => k.waitid(k.init, 7, 0, WEXITED))).toBe(EINVAL);
    expect(errno(() => k.waitid(k.init, P_PID, 0, WEXITED))).toBe(EINVAL);
    expect(errno(() => k.waitid(k.init, P_PGID, -1, WEXITED))).toBe(EINVAL);
    expect(errno(() => k.waitid(k.init, P_PIDFD, -1, WEXITED))).toBe(EINVAL);
    expect(errno(() => k.waitid(k.init, P_ALL, 0, WEXITED | 0x4000000))).toBe(EINVAL);
    expect(errno(() => k.waitid(k.init, P_ALL, 0, WEXITED | WNOHANG))).toBe(ECHILD);
    expect(errno(() => k.waitid(k.init, P_PGID, 0, WEXITED | WNOHANG))).toBe(ECHILD); // 0: own process group
    expect(errno(() => k.waitid(k.init, P_PIDFD, 99, WEXITED))).toBe(EBADF);
    const nsfd = k.openNs(k.init, k.getpid(k.init), 'pid');
    expect(errno(() => k.waitid(k.init, P_PIDFD, nsfd, WEXITED))).toBe(EBADF);
    k.close(k.init, nsfd);
  });

  it('reports stop (WNOWAIT keeps it), continue and a kill as CLD_* with si_status, WNOHANG with nothing yet as si_signo 0', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const pid = k.getpid(a);
    expect(info(k.init, P_ALL, 0, WEXITED | WNOHANG)).toEqual({ signo: 0, code: 0, pid: 0, status: 0 });
    k.kill(k.init, pid, SIGSTOP);
    const stopped = { signo: SIGCHLD, code: CLD_STOPPED, pid, status: SIGSTOP };
    expect(info(k.init, P_PID, pid, WSTOPPED | WNOWAIT)).toEqual(stopped);
    expect(info(k.init, P_PID, pid, WSTOPPED)).toEqual(stopped);
    expect(info(k.init, P_PID, pid, WSTOPPED | WNOHANG).signo).toBe(0); // consumed
    k.kill(k.init, pid, SIGCONT);
    expect(info(k.init, P_PGID, 0, WCONTINUED)).toEqual({ signo: SIGCHLD, code: CLD_CONTINUED, pid, status: SIGCONT });
    k.kill(k.init, pid, SIGTERM);
    const killed = { signo: SIGCHLD, code: CLD_KILLED, pid, status: SIGTERM };
    expect(info(k.init, P_ALL, 0, WEXITED | WNOWAIT)).toEqual(killed);
    expect(k.isZombie(a)).toBe(true); // WNOWAIT left it
    expect(info(k.init, P_ALL, 0, WEXITED)).toEqual(killed);
    expect(k.exists(a)).toBe(false);
    expect(errno(() => k.waitid(k.init, P_ALL, 0, WEXITED))).toBe(ECHILD);
  });

  it('P_PIDFD: sleeps until the child exits, reports CLD_EXITED; an O_NONBLOCK pidfd gives EAGAIN; a reaped pid gives ECHILD', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const pid = k.getpid(a);
    const fd = k.pidfdOpen(k.init, pid);
    const nb = k.pidfdOpen(k.init, pid, PIDFD_NONBLOCK);
    expect(errno(() => k.waitid(k.init, P_PIDFD, nb, WEXITED))).toBe(EAGAIN);
    expect(k.waitid(k.init, P_PIDFD, fd, WEXITED)).toEqual({ blocked: true });
    k.exit(a, 3);
    expect(k.result(k.init)).toMatchObject({ value: 0, signo: SIGCHLD, code: CLD_EXITED, pid, status: 3 });
    expect(errno(() => k.waitid(k.init, P_PIDFD, fd, WEXITED))).toBe(ECHILD);
    k.close(k.init, fd);
    k.close(k.init, nb);
  });

  it("si_pid is the child's pid in the waiter's namespace", () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    k.unshare(a, CLONE_NEWPID);
    const b = k.fork(a);
    const c = k.fork(b);
    k.exit(c, 0);
    expect(info(b, P_ALL, 0, WEXITED)).toEqual({ signo: SIGCHLD, code: CLD_EXITED, pid: 2, status: 0 });
    expect(k.getpid(b)).toBe(1);
    const bInA = k.pidIn(a, b);
    expect(bInA).toBeGreaterThan(1);
    k.exit(b, 0);
    expect(info(a, P_PID, bInA, WEXITED)).toEqual({ signo: SIGCHLD, code: CLD_EXITED, pid: bInA, status: 0 });
    const aPid = k.getpid(a);
    k.exit(a, 0);
    expect(info(k.init, P_ALL, 0, WEXITED).pid).toBe(aPid);
  });
});

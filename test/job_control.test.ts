/**
 * Job control and caught signals (kernel/signal.c prepare_signal, do_signal_stop, get_signal,
 * do_notify_parent_cldstop; kernel/exit.c wait_task_stopped / wait_task_continued; arch syscall
 * restart rules) through the scripting API, in-process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kernel, type TaskHandle } from '../src/api.js';
import {
  CLONE_NEWPID, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, SA_NOCLDSTOP, SA_NOCLDWAIT, SA_RESTART, SIG_BLOCK, SIG_UNBLOCK, SIGCHLD,
  SIGCONT, SIGKILL, SIGSTOP, SIGTERM, SIGTSTP, SIGUSR1, WCONTINUED, WNOHANG, WUNTRACED,
} from '../src/kernel/sched_task.js';
import { reapStatus } from './support.js';

let k: Kernel;
afterEach(() => {
  expect(k.audit()).toEqual([]);
});

const bit = (sig: number): number => 1 << (sig - 1);
const WIFSTOPPED = (st: number): boolean => (st & 0xff) === 0x7f;
const WSTOPSIG = (st: number): number => (st >> 8) & 0xff;
const WTERMSIG = (st: number): number => st & 0x7f;

function waitOpt(p: TaskHandle, pid: number, options: number): { pid: number; status: number } {
  const r = k.wait4(p, pid, { options: options | WNOHANG });
  if ('blocked' in r) throw new Error('WNOHANG blocked');
  return r;
}

describe('job control (SIGSTOP / SIGCONT, WUNTRACED / WCONTINUED)', () => {
  it('a stopped task is reported once to WUNTRACED, keeps a SIGTERM pending until SIGCONT, and is reported to WCONTINUED', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const pid = k.getpid(a);
    k.kill(k.init, pid, SIGSTOP);
    expect(k.isStopped(a)).toBe(true);
    expect(waitOpt(k.init, pid, 0).pid).toBe(0); // without WUNTRACED nothing to report
    const w = waitOpt(k.init, pid, WUNTRACED);
    expect(w.pid).toBe(pid);
    expect(WIFSTOPPED(w.status) && WSTOPSIG(w.status)).toBe(SIGSTOP);
    expect(waitOpt(k.init, pid, WUNTRACED).pid).toBe(0); // consumed
    k.kill(k.init, pid, SIGTERM); // no thread wants it while stopped: it stays pending
    expect(k.alive(a)).toBe(true);
    k.kill(k.init, pid, SIGCONT); // wakes it: the pending SIGTERM is fatal now
    expect(k.alive(a)).toBe(false);
    expect(WTERMSIG(reapStatus(k, k.init, a))).toBe(SIGTERM);
  });

  it('SIGCONT is reported to WCONTINUED (0xffff) once; SIGKILL kills a stopped task', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const pid = k.getpid(a);
    k.kill(k.init, pid, SIGSTOP);
    k.kill(k.init, pid, SIGCONT);
    expect(k.isStopped(a)).toBe(false);
    expect(waitOpt(k.init, pid, WUNTRACED).pid).toBe(0); // the stop report was replaced
    const w = waitOpt(k.init, pid, WCONTINUED);
    expect([w.pid, w.status]).toEqual([pid, 0xffff]);
    expect(waitOpt(k.init, pid, WCONTINUED).pid).toBe(0);
    k.kill(k.init, pid, SIGSTOP);
    k.kill(k.init, pid, SIGKILL);
    expect(WTERMSIG(reapStatus(k, k.init, a))).toBe(SIGKILL);
  });

  it('a group stop stops every thread and notifies the parent once (SIGCHLD caught once, unless SA_NOCLDSTOP)', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    const t = k.fork(p, { flags: CLONE_THREAD | CLONE_SIGHAND | CLONE_VM });
    const pid = k.getpid(p);
    k.sigaction(k.init, SIGCHLD, 'catch');
    k.kill(k.init, pid, SIGSTOP);
    expect(k.isStopped(p) && k.isStopped(t)).toBe(true);
    expect(k.sigCaught(k.init)).toBe(bit(SIGCHLD));
    expect(WSTOPSIG(waitOpt(k.init, pid, WUNTRACED).status)).toBe(SIGSTOP);
    k.kill(k.init, pid, SIGCONT);
    expect(k.isStopped(p) || k.isStopped(t)).toBe(false);
    expect(k.sigCaught(k.init)).toBe(bit(SIGCHLD)); // CLD_CONTINUED
    k.sigaction(k.init, SIGCHLD, 'catch', SA_NOCLDSTOP);
    k.kill(k.init, pid, SIGSTOP);
    expect(k.sigCaught(k.init)).toBe(0);
    k.kill(k.init, pid, SIGKILL);
    reapStatus(k, k.init, p);
  });

  it('zap kills a stopped namespace: SIGKILL wakes the stopped tasks', () => {
    k = Kernel.create();
    const init2 = k.fork(k.init, { flags: CLONE_NEWPID });
    const c = k.fork(init2);
    const ipid = k.nspid(init2)[0]!;
    k.kill(k.init, k.nspid(c)[0]!, SIGSTOP);
    k.kill(k.init, ipid, SIGSTOP); // SIGSTOP from the parent namespace stops an init too
    expect(k.isStopped(c) && k.isStopped(init2)).toBe(true);
    k.kill(k.init, ipid, SIGKILL);
    expect(k.exists(c)).toBe(false);
    expect(WTERMSIG(reapStatus(k, k.init, init2))).toBe(SIGKILL);
  });

  it('SIGTSTP is dropped in an orphaned process group; SIGSTOP always stops', () => {
    k = Kernel.create();
    const a = k.fork(k.init); // parent is the global init: its process group counts as orphaned
    const pid = k.getpid(a);
    k.kill(k.init, pid, SIGTSTP);
    expect(k.isStopped(a)).toBe(false);
    k.kill(k.init, pid, SIGSTOP);
    expect(k.isStopped(a)).toBe(true);
    k.kill(k.init, pid, SIGKILL);
    reapStatus(k, k.init, a);
  });
});

describe('caught signals', () => {
  it('a caught signal is delivered (recorded) and the task lives on; a namespace init receives a caught SIGTERM from inside', () => {
    k = Kernel.create();
    const init2 = k.fork(k.init, { flags: CLONE_NEWPID });
    const c = k.fork(init2);
    k.kill(c, 1, SIGTERM); // SIG_DFL: a namespace init ignores it from inside
    expect(k.sigCaught(init2)).toBe(0);
    k.sigaction(init2, SIGTERM, 'catch');
    k.kill(c, 1, SIGTERM);
    expect(k.alive(init2)).toBe(true);
    expect(k.sigCaught(init2)).toBe(bit(SIGTERM));
    expect(k.sigCaught(init2)).toBe(0); // read and cleared
    k.kill(k.init, k.nspid(init2)[0]!, SIGKILL);
    reapStatus(k, k.init, init2);
  });

  it('a caught signal interrupts a blocking wait4: EINTR without SA_RESTART, a restart with it', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    const c = k.fork(p);
    const ppid = k.getpid(p);
    const cpid = k.getpid(c);
    k.sigaction(p, SIGUSR1, 'catch');
    expect('blocked' in k.wait4(p, -1)).toBe(true);
    k.kill(k.init, ppid, SIGUSR1);
    expect(() => k.result(p)).toThrow(expect.objectContaining({ code: 'EINTR' }));
    expect(k.sigCaught(p)).toBe(bit(SIGUSR1));
    k.sigaction(p, SIGUSR1, 'catch', SA_RESTART);
    expect('blocked' in k.wait4(p, -1)).toBe(true);
    k.kill(k.init, ppid, SIGUSR1);
    expect('blocked' in k.result(p)).toBe(true); // restarted: still waiting
    k.exit(c, 3);
    const r = k.result(p);
    expect(r.pid).toBe(cpid);
    expect((r.status! >> 8) & 0xff).toBe(3);
    expect(k.sigCaught(p)).toBe(bit(SIGUSR1)); // (SIGCHLD has SIG_DFL here)
    k.exit(p);
    reapStatus(k, k.init, p);
  });

  it('a caught SIGCHLD keeps the zombie for wait4; SA_NOCLDWAIT reaps it at exit (and still signals)', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    k.sigaction(p, SIGCHLD, 'catch');
    const c = k.fork(p);
    const cpid = k.getpid(c);
    k.exit(c, 0);
    expect(k.sigCaught(p)).toBe(bit(SIGCHLD));
    expect(k.wait4(p, -1, { nohang: true })).toMatchObject({ pid: cpid });
    k.sigaction(p, SIGCHLD, 'catch', SA_NOCLDWAIT);
    const d = k.fork(p);
    k.exit(d, 0);
    expect(k.sigCaught(p)).toBe(bit(SIGCHLD));
    expect(() => k.wait4(p, -1, { nohang: true })).toThrow(expect.objectContaining({ code: 'ECHILD' }));
    k.exit(p);
    reapStatus(k, k.init, p);
  });

  it('sigprocmask: a blocked signal stays pending and is delivered when unblocked; SIGKILL can not be blocked', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    k.sigprocmask(a, SIG_BLOCK, bit(SIGTERM) | bit(SIGKILL));
    k.kill(k.init, k.getpid(a), SIGTERM);
    expect(k.alive(a)).toBe(true);
    expect(k.sigprocmask(a, SIG_UNBLOCK, bit(SIGTERM))).toBe(bit(SIGTERM)); // SIGKILL was not blocked
    expect(k.alive(a)).toBe(false);
    expect(WTERMSIG(reapStatus(k, k.init, a))).toBe(SIGTERM);
  });
});

describe('pidfd_send_signal (kernel/signal.c)', () => {
  it('signals the pidfd\'s process (caught, stop, kill); EBADF for a namespace fd or a closed one, EINVAL for bad flags, ESRCH once reaped', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const pid = k.getpid(a);
    const fd = k.pidfdOpen(k.init, pid);
    k.sigaction(a, SIGUSR1, 'catch');
    k.pidfdSendSignal(k.init, fd, SIGUSR1);
    expect(k.sigCaught(a)).toBe(bit(SIGUSR1));
    k.pidfdSendSignal(k.init, fd, SIGSTOP);
    expect(k.isStopped(a)).toBe(true);
    k.pidfdSendSignal(k.init, fd, SIGCONT, 1 << 0 /* PIDFD_SIGNAL_THREAD */);
    expect(k.isStopped(a)).toBe(false);
    const err = (f: () => void): string => { try { f(); return 'OK'; } catch (e) { return (e as { code: string }).code; } };
    expect(err(() => k.pidfdSendSignal(k.init, fd, SIGUSR1, 3))).toBe('EINVAL'); // two scope flags
    expect(err(() => k.pidfdSendSignal(k.init, fd, SIGUSR1, 8))).toBe('EINVAL'); // unknown flag
    const nsfd = k.openNs(k.init, pid, 'pid');
    expect(err(() => k.pidfdSendSignal(k.init, nsfd, SIGUSR1))).toBe('EBADF'); // not a pidfd
    expect(err(() => k.pidfdSendSignal(k.init, 99, SIGUSR1))).toBe('EBADF');
    k.pidfdSendSignal(k.init, fd, SIGKILL);
    reapStatus(k, k.init, a);
    expect(err(() => k.pidfdSendSignal(k.init, fd, 0))).toBe('ESRCH');
    for (const f of [fd, nsfd]) k.close(k.init, f);
  });
});

/**
 * A group stop of a traced task is a ptrace trap (kernel/signal.c do_signal_stop: "While ptraced,
 * group stop is handled by STOP trap", JOBCTL_TRAP_STOP, do_jobctl_trap, ptrace_stop(CLD_STOPPED);
 * kernel/exit.c wait_task_stopped with ptrace: task_stopped_code looks at JOBCTL_TRACED), through
 * the scripting API, in-process. Before the model had the trap, a stopped child traced by its own
 * parent was invisible to that parent's wait (the first test blocked for ever). Every test ends
 * with a clean kernel audit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kernel } from '../src/api.js';
import { CLD_TRAPPED, PTRACE_EVENT_STOP, SIGCHLD, SIGCONT, SIGKILL, SIGSTOP, WEXITED, WNOHANG, WSTOPPED, WUNTRACED } from '../src/kernel/sched_task.js';
import { PTRACE_CONT, PTRACE_DETACH, PTRACE_SEIZE, PTRACE_TRACEME } from '../src/kernel/ptrace.js';
import { P_ALL } from '../src/kernel/exit.js';
import { SYS_PTRACE } from '../src/kernel/unistd.js';
import { reapStatus } from './support.js';

let k: Kernel;
afterEach(() => {
  k.quiesce();
  expect(k.audit()).toEqual([]);
});

const WTERMSIG = (st: number): number => st & 0x7f;

describe('group stop of a tracee: the STOP trap', () => {
  it('a child that PTRACE_TRACEMEs while its parent sleeps in waitid(WSTOPPED): its SIGSTOP wakes the parent with CLD_TRAPPED; PTRACE_CONT resumes it, SIGCONT would not', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    const c = k.fork(p);
    const pid = k.pidIn(p, c);
    expect(k.waitid(p, P_ALL, 0, WEXITED | WSTOPPED)).toEqual({ blocked: true });
    expect(k.ptrace(c, PTRACE_TRACEME, 0)).toBe(0);
    k.kill(k.init, k.pidIn(k.init, c), SIGSTOP);
    // Without the trap the child sat in TASK_STOPPED, which the tracer's wait_task_stopped does
    // not look at (ptrace: JOBCTL_TRACED), and the parent never woke.
    expect(k.result(p)).toMatchObject({ signo: SIGCHLD, code: CLD_TRAPPED, pid, status: SIGSTOP });
    expect(k.isStopped(c)).toBe(false); // TASK_TRACED, not a job-control stop
    k.kill(k.init, k.pidIn(k.init, c), SIGCONT); // wake_up_state(__TASK_STOPPED): not a ptrace stop
    expect(k.wait4(p, pid, { options: WUNTRACED | WNOHANG })).toEqual({ pid: 0, status: 0 });
    expect(k.syscall(p, 'ptrace', SYS_PTRACE, PTRACE_CONT, pid, 0)).toEqual({ value: 0 });
    expect(k.syscall(p, 'ptrace', SYS_PTRACE, PTRACE_CONT, pid, 0)).toEqual({ value: -3 }); // ESRCH: running
    k.kill(k.init, k.pidIn(k.init, c), SIGKILL);
    expect(WTERMSIG(reapStatus(k, p, c))).toBe(SIGKILL);
  });

  it('PTRACE_DETACH puts the tracee back in the group stop (TASK_STOPPED, reported to WUNTRACED), SIGCONT then resumes it', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    const c = k.fork(p);
    const pid = k.pidIn(p, c);
    expect(k.ptrace(c, PTRACE_TRACEME, 0)).toBe(0);
    k.kill(k.init, k.pidIn(k.init, c), SIGSTOP);
    expect(k.wait4(p, pid, { options: WNOHANG })).toEqual({ pid, status: (SIGSTOP << 8) | 0x7f });
    expect(k.ptrace(p, PTRACE_DETACH, pid)).toBe(0);
    k.run();
    expect(k.isStopped(c)).toBe(true);
    expect(k.wait4(p, pid, { options: WUNTRACED | WNOHANG })).toEqual({ pid, status: (SIGSTOP << 8) | 0x7f });
    k.kill(k.init, k.pidIn(k.init, c), SIGCONT);
    expect(k.isStopped(c)).toBe(false);
    k.kill(k.init, k.pidIn(k.init, c), SIGKILL);
    expect(WTERMSIG(reapStatus(k, p, c))).toBe(SIGKILL);
  });

  it('PTRACE_SEIZE of a stopped task: it moves to TRACED and its tracer sees the PTRACE_EVENT_STOP trap; the tracer\'s exit hands it back to the group stop', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    const c = k.fork(p);
    const d = k.fork(k.init);
    k.kill(k.init, k.pidIn(k.init, c), SIGSTOP);
    expect(k.isStopped(c)).toBe(true);
    const cd = k.pidIn(d, c);
    expect(k.syscall(d, 'ptrace', SYS_PTRACE, PTRACE_SEIZE, cd, 0)).toEqual({ value: 0 });
    k.run();
    expect(k.isStopped(c)).toBe(false);
    const trap = (((PTRACE_EVENT_STOP << 8) | SIGSTOP) << 8) | 0x7f;
    expect(k.wait4(d, cd, { options: WNOHANG, all: true })).toEqual({ pid: cd, status: trap });
    k.exit(d, 0); // exit_ptrace -> __ptrace_unlink: STOP_PENDING again, woken to stop
    reapStatus(k, k.init, d);
    k.run();
    expect(k.isStopped(c)).toBe(true);
    k.kill(k.init, k.pidIn(k.init, c), SIGKILL);
    expect(WTERMSIG(reapStatus(k, p, c))).toBe(SIGKILL);
  });
});

/**
 * A group stop the parent's wait cannot see: the stopped process's zombie leader is the parent's
 * own tracee (PTRACE_TRACEME). wait_consider_task treats the zombie as the caller's ptracee ("This
 * also hides group stop state from real parent", kernel/exit.c) and looks only at the leader's own
 * ptrace stop, so WUNTRACED reports nothing while the other thread sits in do_signal_stop. The
 * stress reaper, which blocks in wait4(WUNTRACED) and continues what it reports, slept for good on
 * that state in a narrowed free-running mix (README, issue 14, session 7); it now looks with
 * hidden_group_stop_of_tracee (src/stress/kernel_ops.ts) and continues such a process first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kernel } from '../src/api.js';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, SIGCONT, SIGKILL, SIGSTOP, WNOHANG, WUNTRACED } from '../src/kernel/sched_task.js';
import { PTRACE_TRACEME } from '../src/kernel/ptrace.js';
import { hidden_group_stop_of_tracee } from '../src/stress/kernel_ops.js';
import { reapStatus } from './support.js';

let k: Kernel;
afterEach(() => {
  k.quiesce();
  expect(k.audit()).toEqual([]);
});

describe('a group stop hidden from the real parent that traces the zombie leader', () => {
  it('WUNTRACED reports nothing; hidden_group_stop_of_tracee names the process; SIGCONT from the parent resumes it', () => {
    k = Kernel.create();
    const r = k.fork(k.init); // the stress reaper's part: parent and tracer
    const c = k.fork(r);
    const pid = k.pidIn(r, c);
    expect(k.ptrace(c, PTRACE_TRACEME, 0)).toBe(0);
    const th = k.fork(c, { flags: CLONE_THREAD | CLONE_SIGHAND | CLONE_VM });
    k.exit(c, 0); // the leader alone: a zombie while its thread lives (delay_group_leader)
    k.run();
    expect(k.isZombie(c)).toBe(true);
    expect(hidden_group_stop_of_tracee(r.addr)).toBe(0); // not stopped: nothing hidden yet
    k.kill(k.init, k.pidIn(k.init, c), SIGSTOP);
    k.run();
    expect(k.isStopped(th)).toBe(true);
    // The kernel's rule: the parent's wait does not report the group stop of this process.
    expect(k.wait4(r, -1, { options: WUNTRACED | WNOHANG })).toEqual({ pid: 0, status: 0 });
    expect(hidden_group_stop_of_tracee(r.addr)).toBe(pid);
    k.kill(r, pid, SIGCONT);
    k.run();
    expect(k.isStopped(th)).toBe(false);
    expect(hidden_group_stop_of_tracee(r.addr)).toBe(0);
    k.kill(k.init, k.pidIn(k.init, c), SIGKILL);
    k.run();
    reapStatus(k, r, c);
  });
});

/**
 * A hang with no wait-for cycle names the tasks its chains end at, with the state that keeps each
 * from ending the wait (src/detect/report.ts chain_end_lines): here a parent asleep in wait4 for a
 * child in a job-control stop that nobody continues - a user-space hang, told apart from a runnable
 * task that never runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kernel } from '../src/api.js';
import { SIGKILL, SIGSTOP } from '../src/kernel/sched_task.js';
import { PTRACE_ATTACH } from '../src/kernel/ptrace.js';
import { stuck_report } from '../src/detect/report.js';

let k: Kernel;
let stopped = 0;
afterEach(() => {
  if (stopped) k.kill(k.init, stopped, SIGKILL); // let the machine wind down
});

describe('hang report: where the chains end', () => {
  it('names a stopped child its parent waits for, and says it is in a job-control stop', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const b = k.fork(a);
    const pid = k.getpid(b);
    stopped = pid;
    k.kill(k.init, pid, SIGSTOP);
    expect(k.isStopped(b)).toBe(true);
    expect('blocked' in k.wait4(a, pid, { options: 0 })).toBe(true); // no WUNTRACED: sleeps
    const r = stuck_report(k.machine.view(), 'hung', 1000);
    expect(r.text).toContain('no wait-for cycle: the chains end at a wait nobody will end');
    const line = r.text.split('\n').find((l) => l.includes('chain ends at'));
    expect(line, r.text).toBeDefined();
    expect(line).toContain(`:${pid}`);
    expect(line).toContain('state T');
    expect(line).toContain('in a job-control stop (JOBCTL_STOPPED)');
    expect(line).toContain('its group stopped (SIGNAL_STOP_STOPPED)');
    expect(line).toContain('on no runqueue');
  });

  it('a chain that ends at a zombie also says what the task that must reap it is doing', () => {
    k = Kernel.create();
    const a = k.fork(k.init);
    const b = k.fork(a);
    const tracer = k.fork(k.init);
    const pid = k.getpid(b);
    expect(k.ptrace(tracer, PTRACE_ATTACH, pid)).toBe(0);
    const tpid = k.getpid(tracer);
    stopped = tpid;
    k.kill(k.init, tpid, SIGSTOP); // the tracer stops for good: it never reaps b
    k.kill(k.init, pid, SIGKILL);
    k.quiesce();
    // a waits for b, a zombie its tracer must hand back first.
    expect('blocked' in k.wait4(a, pid, { options: 0 })).toBe(true);
    const r = stuck_report(k.machine.view(), 'hung', 1000);
    const line = r.text.split('\n').find((l) => l.includes('chain ends at') && l.includes(`:${pid}`));
    expect(line, r.text).toBeDefined();
    expect(line).toContain('zombie');
    expect(line).toContain(`:${tpid}: state T`);
    expect(line).toContain('in a job-control stop');
  });
});

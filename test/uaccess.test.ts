/**
 * Copies to user memory that can fault (src/mm/uaccess.ts): might_fault's check, and a wait whose
 * copy-out sleeps on the fault in the middle of wait_task_zombie and finishes when it runs again.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { G, TASK } from '../src/mm/layout.js';
import { kg, mem } from '../src/mm/memory.js';
import { SYS_EXIT, SYS_FORK, SYS_SCHED_YIELD, SYS_WAIT4, SYS_WAITID } from '../src/kernel/unistd.js';
import { OP_HALT } from '../src/kernel/entry.js';
import { CLD_EXITED, SIGCHLD, WEXITED, WNOHANG } from '../src/kernel/sched_task.js';
import { P_ALL } from '../src/kernel/exit.js';
import { V_SLEEP_IN_ATOMIC } from '../src/locking/violations.js';
import { violations_report } from '../src/detect/report.js';
import { SYS_TEST_PUT_USER_ATOMIC } from '../src/stress/stress_syscalls.js';
import { launchProcess } from '../bench/forkrate.js';

describe('might_fault (mm/memory.c __might_fault)', () => {
  for (const [name, arg, a, b] of [['under a spinlock', 0, 1, 0], ['in an RCU read-side section', 1, 0, 1]] as const) {
    it(`a copy to user memory ${name} is "sleeping function called from invalid context", and does not fault`, () => {
      // Faults on every copy: still none may be taken in atomic context.
      const m = new Machine({ ncpus: 1, maxTasks: 16 }, { uaccessFaultPermille: 1000 });
      const t = m.kthread(m.program([[SYS_TEST_PUT_USER_ATOMIC, arg], [OP_HALT]], 'copier'));
      m.runInProcess();
      const v = m.violations().filter((x) => x.kind === V_SLEEP_IN_ATOMIC);
      expect(v).toHaveLength(1);
      expect(v[0]!.a).toBe(a); // preempt_count
      expect(v[0]!.b).toBe(b); // RCU nesting
      expect(violations_report(m.view(), m.violations()).text).toContain('BUG: sleeping function called from invalid context');
      m.attach();
      expect(mem[t + TASK.last_ret]).toBe(0); // the fault was not taken
    });
  }
});

describe('a wait that faults in its copy-out', () => {
  /** A process forks a child that exits with 7, yields so that it exits, then reaps it with `wait`. */
  function reap(permille: number, wait: readonly number[]): { ret: number; status: number; si: number[]; nvcsw: number; left: number } {
    const m = new Machine({ ncpus: 1, maxTasks: 16 }, { uaccessFaultPermille: permille });
    m.attach();
    const child = m.program([[SYS_EXIT, 7]]);
    const p = launchProcess(m, m.program([[SYS_FORK, 0, child, 0], [SYS_SCHED_YIELD], wait, [OP_HALT]]));
    const before = mem[kg + G.nr_threads]!;
    m.runInProcess();
    m.attach();
    return {
      ret: mem[p + TASK.last_ret]!,
      status: mem[p + TASK.last_status]!,
      si: [mem[p + TASK.wait_si_signo]!, mem[p + TASK.wait_si_code]!, mem[p + TASK.wait_si_status]!],
      nvcsw: mem[p + TASK.nvcsw]!,
      left: mem[kg + G.nr_threads]! - before,
    };
  }

  it('wait4: the reaper gives up its CPU at the copy (a second voluntary switch) and reports the same status', () => {
    const plain = reap(0, [SYS_WAIT4, -1, WNOHANG]);
    const fault = reap(1000, [SYS_WAIT4, -1, WNOHANG]);
    expect(plain.ret).toBeGreaterThan(0);
    expect(fault.ret).toBe(plain.ret);
    expect(fault.status).toBe(7 << 8);
    expect(plain.status).toBe(7 << 8);
    expect(plain.nvcsw).toBe(2); // the sched_yield, the halt (pause)
    expect(fault.nvcsw).toBe(3); // and the fault's sleep
    expect(fault.left).toBe(0); // the child was forked and released after the copy
    expect(plain.left).toBe(0);
  });

  it('waitid: the siginfo is filled after the fault', () => {
    const fault = reap(1000, [SYS_WAITID, P_ALL, 0, WEXITED | WNOHANG]);
    expect(fault.ret).toBe(0);
    expect(fault.si).toEqual([SIGCHLD, CLD_EXITED, 7]);
    expect(fault.nvcsw).toBe(3);
    expect(reap(0, [SYS_WAITID, P_ALL, 0, WEXITED | WNOHANG]).nvcsw).toBe(2);
    expect(fault.left).toBe(0);
  });
});

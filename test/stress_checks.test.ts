/**
 * The stress checker's clone(CLONE_PARENT) check (src/stress/checks.ts clone_parent_checks) on the
 * state catalog entry 12's race leaves (b4e00444cab4, CVE-2020-35508): C, created with exit signal
 * SIGUSR1, was reparented to the subreaper S (its signal reset to SIGCHLD) while its CLONE_PARENT
 * child D was attached to S with C's stale SIGUSR1. The state is planted (the stress mix does not
 * reach the race's window: README, issue 14), then the check runs as the stress does after the clone.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../src/api.js';
import { CLONE_PARENT, SIGCHLD, SIGUSR1 } from '../src/kernel/sched_task.js';
import { PR_SET_CHILD_SUBREAPER } from '../src/kernel/fork.js';
import { TASK } from '../src/mm/layout.js';
import { mem } from '../src/mm/memory.js';
import { set_current } from '../src/sched/core.js';
import { V_INVARIANT } from '../src/locking/violations.js';
import { clone_parent_checks, INV_CLONE_PARENT_EXIT_SIGNAL } from '../src/stress/checks.js';

function setup(): { k: Kernel; c: number; d: number; dnr: number } {
  const k = Kernel.create();
  const s = k.fork(k.init);
  k.prctl(s, PR_SET_CHILD_SUBREAPER, 1);
  const p = k.fork(s);
  const c = k.fork(p, { flags: SIGUSR1 });
  expect(mem[c.addr + TASK.exit_signal]).toBe(SIGUSR1);
  k.exit(p, 0); // C goes to S, its exit signal back to SIGCHLD (reparent_leader)
  expect(mem[c.addr + TASK.exit_signal]).toBe(SIGCHLD);
  const d = k.fork(c, { flags: CLONE_PARENT });
  expect(mem[d.addr + TASK.real_parent]).toBe(s.addr);
  return { k, c: c.addr, d: d.addr, dnr: k.getpid(d) };
}

function found(k: Kernel): boolean {
  return k.machine.violations().some((v) => v.kind === V_INVARIANT && v.a === INV_CLONE_PARENT_EXIT_SIGNAL);
}

describe('stress check: a CLONE_PARENT child has its creator\'s exit signal', () => {
  it('the fixed copy_process: D has C\'s SIGCHLD, no violation', () => {
    const { k, c, dnr } = setup();
    set_current(c);
    clone_parent_checks(c, dnr);
    expect(found(k)).toBe(false);
  });

  it('the state the race leaves (D attached to S with C\'s stale SIGUSR1): a violation', () => {
    const { k, c, d, dnr } = setup();
    mem[d + TASK.exit_signal] = SIGUSR1; // what copy_process before b4e00444cab4 could leave
    set_current(c);
    clone_parent_checks(c, dnr);
    expect(found(k)).toBe(true);
  });
});

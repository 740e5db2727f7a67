/**
 * The stuck report (src/detect/report.ts) names what a CPU or task that blocked tasks wait for is
 * doing when it is not blocked itself: session 7's 10-minute run reported tasks in D state on
 * cgroup_mutex "waiting for CPU#2 running stress:313" and a CPU spinning behind it, but not what
 * CPU#2 ran, where, or what it held. The holder's block gives its task (its state when it is not
 * on a CPU), its system call, the CPU's last scheduling-hook site and its held locks. A controlled
 * run (the same schedule every time): a task asleep on a mutex whose owner keeps running kernel
 * code (the torture spin section) with it held; the decision limit ends the run.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { OP_JMP } from '../src/kernel/entry.js';
import { SYS_SET_FLAG, SYS_WAIT_FLAG } from '../src/kernel/torture.js';
import { SYS_STRESS_SPIN, SYS_TEST_HOLD, TL_MUTEX_A } from '../src/stress/stress_syscalls.js';

describe('stuck report: the running CPU a blocked task waits for', () => {
  it('a task asleep on a mutex whose owner keeps running: the owner\'s CPU, task, call, site and mutex are named', async () => {
    const m = new Machine({ ncpus: 2, maxTasks: 16 }, { mode: 'controlled', seed: 1, hungTimeoutMs: 1000 });
    m.kthread(m.program([[SYS_TEST_HOLD, TL_MUTEX_A], [SYS_SET_FLAG, 0], [SYS_STRESS_SPIN], [OP_JMP, 2]], 'holder'), 0);
    m.kthread(m.program([[SYS_WAIT_FLAG, 0], [SYS_TEST_HOLD, TL_MUTEX_A]], 'waiter'), 1);
    const r = await m.run({ timeoutMs: 30_000, hungMs: 1000, control: { strategy: 'random', maxDecisions: 4_000 } });
    expect(r.stuck).toBeDefined();
    const text = r.stuck!.text;
    const g = r.stuck!.graph;
    const e = g.edges.find((x) => x.why === 'mutex test_mutex_a')!;
    const h = g.nodes.find((n) => n.key === e.to)!;
    expect(h.task!.name).toBe('holder');
    expect(h.blocked).toBe(false);
    // The holder's own block (a CPU running it, or the task queued): what it holds.
    const head = h.kind === 'cpu' ? `CPU#${h.cpu} running holder:t\\d+` : `task holder:t\\d+ \\(state R\\)`;
    expect(text).toMatch(new RegExp(`^${head}: waited for above, not blocked itself( \\(.*\\))?$`, 'm'));
    expect(text).toMatch(/^1 lock held by holder\/t\d+:\n #0: \S+ \(test_mutex_a\)\{mutex\}/m);
  }, 60_000);
});

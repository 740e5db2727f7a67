/**
 * Run tokens (src/sched/run_token.ts): with more model CPUs than tokens, at most `runTokens` CPUs
 * run kernel code at once and hand on only at preemption points. The mix still completes on every
 * CPU, a CPU waiting for a token is runnable and never part of a deadlock cycle, and
 * --host-preemption keeps the old behaviour (no tokens). Token counts are forced here, so the
 * tests mean the same on a host with any number of cores.
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { RWLOCK_SPIN_US } from '../src/locking/qrwlock.js';
import { Machine } from '../src/machine.js';
import { OP_HALT, OP_JMP } from '../src/kernel/entry.js';
import { SYS_TORTURE_SPIN } from '../src/kernel/torture.js';
import { SYS_TEST_HOLD, SYS_TEST_LOCK2, TL_SPIN_A, TL_SPIN_B } from '../src/stress/stress_syscalls.js';
import { default_config } from '../src/stress/config.js';
import { run_stress } from '../src/stress/run.js';
import { parse_stress_args } from '../src/cli/stress.js';
import { CPU } from '../src/mm/layout.js';
import { cpu_addr, set_this_cpu } from '../src/mm/memory.js';
import { pick_next_task } from '../src/sched/core.js';
import { run_token_attach, run_tokens_setup } from '../src/sched/run_token.js';

describe('run tokens', () => {
  it('a CPU waiting for a token keeps its last queued task: a dry token holder steals only a second one', () => {
    const m = new Machine({ ncpus: 3 });
    m.attach();
    m.bringUpCpus();
    const prog = m.program([[OP_HALT]]);
    run_tokens_setup(m.mem, 1, 3); // one token, three CPUs
    run_token_attach(true); // this thread runs as a worker CPU would: tokens on
    set_this_cpu(0);
    try {
      const c1 = cpu_addr(1);
      m.mem[c1 + CPU.tok_wait] = 1; // CPU 1 waits for a token
      const a = m.kthread(prog, 1);
      expect(Atomics.load(m.mem, c1 + CPU.rq_nr)).toBe(1);
      expect(pick_next_task(), 'the only task of a token waiter is not stolen').toBe(0);
      const b = m.kthread(prog, 1);
      expect(pick_next_task(), 'with two queued, one may go').toBe(a);
      m.mem[c1 + CPU.tok_wait] = 0; // CPU 1 no longer waits (it runs, or is idle without a token)
      expect(pick_next_task()).toBe(b);
    } finally {
      run_token_attach(false);
    }
  });

  it('8 CPUs on 2 tokens complete the multi-CPU mix: SUCCESS, tokens handed on, every CPU ran', async () => {
    const o = await run_stress(default_config({ cpus: 8, durationMs: 1_500, runTokens: 2 }));
    expect(o.failures).toEqual([]);
    expect(o.verdict).toBe('SUCCESS');
    expect(o.stats.run_tokens).toBe(2);
    expect(o.stats.cpus.reduce((a, c) => a + c.token_yields, 0)).toBeGreaterThan(0);
    for (const c of o.stats.cpus) expect(c.syscalls, `cpu ${c.cpu}`).toBeGreaterThan(0);
    expect(o.stats.tasks).toBe(1); // only init after the final kill and reap
  });

  it('hotplug with tokens: CPUs go offline and back, grace periods keep completing', async () => {
    const o = await run_stress(default_config({ cpus: 4, durationMs: 1_200, hotplugMs: 40, runTokens: 2 }));
    expect(o.failures).toEqual([]);
    expect(o.stats.cpus.reduce((a, c) => a + c.hotplugs, 0)).toBeGreaterThan(2);
    expect(o.stats.rcu_gps).toBeGreaterThan(10);
  });

  it('--host-preemption: no tokens, the same mix still passes', async () => {
    const o = await run_stress(default_config({ cpus: 4, durationMs: 1_000, hostPreemption: true, runTokens: 2 }));
    expect(o.failures).toEqual([]);
    expect(o.stats.run_tokens).toBe(0);
    expect(o.stats.cpus.every((c) => c.token_yields === 0)).toBe(true);
    // A thread per CPU, no tokens: a rwlock waiter spins past its first looks only when the four
    // threads have a core each (a holder could be off its core otherwise).
    expect(o.stats.rwlock_spin_us).toBe(4 <= availableParallelism() ? RWLOCK_SPIN_US : 0);
    expect(parse_stress_args(['--cpus', '8', '--host-preemption']).cfg.hostPreemption).toBe(true);
    expect(() => parse_stress_args(['--mode', 'controlled', '--ops', '10', '--host-preemption'])).toThrow(/free-running/);
  });

  it('a CPU waiting for a token is runnable and never in the deadlock cycle', async () => {
    // One token, three CPUs. Whichever CPU runs `self` spins for good on a spinlock it holds
    // (preempt_count > 0: it never hands its token on); the other two have work and wait for a
    // token. The hung-task watchdog ends the run; the graph must show one cycle (the spinner on
    // itself) and the two waiters as runnable, with no edge out of them.
    const m = new Machine({ ncpus: 3, maxTasks: 16 }, { hungTimeoutMs: 400 });
    m.kthread(m.program([[SYS_TEST_HOLD, TL_SPIN_A], [SYS_TEST_LOCK2, TL_SPIN_A, TL_SPIN_B]], 'self'), 0);
    const spin = m.program([[SYS_TORTURE_SPIN], [OP_JMP, 0]], 'spinner');
    m.kthread(spin, 1);
    m.kthread(spin, 2);
    const r = await m.run({ timeoutMs: 20_000, hungMs: 400, runTokens: 1 });
    expect(r.state).toBe('hung');
    const g = r.stuck!.graph;
    expect(g.cycles).toHaveLength(1);
    const stuck = g.cycles[0]!;
    expect(stuck).toHaveLength(1);
    const waiters = g.nodes.filter((n) => n.kind === 'cpu' && n.key !== stuck[0]);
    expect(waiters).toHaveLength(2);
    for (const n of waiters) {
      expect(n.waiting).toBe('waiting for a run token (runnable)');
      expect(n.blocked).toBe(false);
      expect(g.edges.filter((e) => e.from === n.key)).toEqual([]);
      expect(g.blocked).not.toContain(n.key);
    }
    expect(r.stuck!.text).not.toMatch(/cpu[12].*spinning on word/);
  });
});

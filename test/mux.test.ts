/**
 * Several model CPUs per host thread (src/sched/mux.ts): a run with more CPUs than threads has
 * one worker thread (V8 isolate) per thread, each switching between the CPUs it hosts at
 * preemption points. The thread count is forced here (`threads`), so the tests mean the same on a
 * host with any number of cores.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { OP_HALT, OP_JMP } from '../src/kernel/entry.js';
import { SYS_TORTURE_SPIN } from '../src/kernel/torture.js';
import { SYS_TEST_HOLD, SYS_TEST_LOCK2, TL_SPIN_A, TL_SPIN_B } from '../src/stress/stress_syscalls.js';
import { default_config } from '../src/stress/config.js';
import { run_stress } from '../src/stress/run.js';
import { parse_stress_args } from '../src/cli/stress.js';
import { CPU } from '../src/mm/layout.js';
import { cpu_addr } from '../src/mm/memory.js';
import { IRQV_NONE, raise_irq } from '../src/sched/irq.js';
import { host_threads, rwlock_spin_us } from '../src/run/supervisor.js';
import { RWLOCK_SPIN_US } from '../src/locking/qrwlock.js';
import { mux_setup } from '../src/sched/mux.js';
import { run_tokens_setup } from '../src/sched/run_token.js';

describe('several CPUs per host thread', () => {
  it('8 CPUs on 2 threads complete the multi-CPU mix: SUCCESS, every CPU ran syscalls and took turns', async () => {
    const o = await run_stress(default_config({ cpus: 8, durationMs: 1_500, threads: 2 }));
    expect(o.failures).toEqual([]);
    expect(o.verdict).toBe('SUCCESS');
    expect(o.stats.host_threads).toBe(2);
    expect(o.stats.run_tokens).toBe(0); // the threads are the tokens
    // Two threads run kernel code at once: no lock holder is off a core for want of one, so a
    // rwlock waiter spins through a long read section (src/locking/qrwlock.ts).
    expect(o.stats.rwlock_spin_us).toBe(RWLOCK_SPIN_US);
    for (const c of o.stats.cpus) {
      expect(c.syscalls, `cpu ${c.cpu}`).toBeGreaterThan(0);
      expect(c.token_yields, `cpu ${c.cpu} switched out at the end of a slice`).toBeGreaterThan(0);
    }
    expect(o.stats.tasks).toBe(1); // only init after the final kill and reap
    expect(o.text).toMatch(/2 host threads \(several CPUs each\)/);
  });

  it('hotplug with several CPUs per thread: CPUs go offline and back, grace periods keep completing', async () => {
    const o = await run_stress(default_config({ cpus: 4, durationMs: 1_200, hotplugMs: 40, threads: 2 }));
    expect(o.failures).toEqual([]);
    expect(o.stats.host_threads).toBe(2);
    expect(o.stats.cpus.reduce((a, c) => a + c.hotplugs, 0)).toBeGreaterThan(2);
    expect(o.stats.rcu_gps).toBeGreaterThan(10);
  });

  it('an interrupt raised on a CPU its thread is not running is taken on that CPU\'s next turn', async () => {
    // Nothing to run: every thread parks; the interrupt is raised from here with no kick (as a
    // device raises it). CPU 3 shares thread 1 with CPU 1; it must still get its turns.
    const m = new Machine({ ncpus: 4, maxTasks: 16 });
    const c3 = cpu_addr(3);
    let raised = -1;
    const r = await m.run({
      timeoutMs: 20_000, durationMs: 600, stopWhenNoTasks: false, threads: 2, statsEveryMs: 50,
      onTick: (mm, el) => {
        if (raised >= 0 || el < 100) return;
        mm.attach();
        raised = mm.mem[c3 + CPU.irq_delivered]!;
        raise_irq(3, IRQV_NONE, 0, 3, 1000);
      },
    });
    expect(r.state).toBe('stopping'); // ended by its duration
    expect(raised).toBe(0);
    expect(m.mem[c3 + CPU.mux_lead]).toBe(2); // hosted on CPU 1's thread
    expect(m.mem[c3 + CPU.irq_delivered], 'all three deliveries taken').toBe(3);
    expect(m.mem[c3 + CPU.irq_pending]).toBe(0);
  });

  it('a broken run is copied before any host thread marks its CPUs gone', async () => {
    // One task spins on a spinlock it holds; the other CPUs have nothing to do, so their thread
    // parks and, when the run ends, leaves. It marks its home CPUs gone (CPU.online = -1) on its
    // way out: that store must land after the main thread's copy of the frozen state, or the
    // stall detector and the wait-for graph skip those CPUs (a CPU another thread runs, frozen in
    // a task, among them). Before the fix the copy showed -1 for the parked thread's CPUs.
    const m = new Machine({ ncpus: 4, maxTasks: 16 }, { hungTimeoutMs: 400 });
    m.kthread(m.program([[SYS_TEST_HOLD, TL_SPIN_A], [SYS_TEST_HOLD, TL_SPIN_A], [OP_HALT]], 'self'), 0);
    const r = await m.run({ timeoutMs: 30_000, hungMs: 400, threads: 2 });
    expect(r.state).toBe('hung');
    for (let i = 0; i < 4; i++) expect(m.snapshot![cpu_addr(i) + CPU.online], `cpu ${i} in the copy`).toBe(1);
  });

  it('an ABBA spinlock deadlock between two threads: the cycle names those two CPUs, the CPUs waiting for their turn are runnable', async () => {
    // Four CPUs on two threads. Two tasks take the test spinlocks in opposite orders in a loop
    // until they deadlock; two spinners keep the other CPUs busy. Only CPUs that run at the same
    // time can hold locks at once, so the cycle must be two CPUs in turns of different threads,
    // and the other two (both threads stuck spinning) wait for a turn.
    const m = new Machine({ ncpus: 4, maxTasks: 16 }, { hungTimeoutMs: 400, injectDelayPermille: 100 });
    m.kthread(m.program([[SYS_TEST_LOCK2, TL_SPIN_A, TL_SPIN_B], [OP_JMP, 0]], 'ab'), 0);
    m.kthread(m.program([[SYS_TEST_LOCK2, TL_SPIN_B, TL_SPIN_A], [OP_JMP, 0]], 'ba'), 1);
    const spin = m.program([[SYS_TORTURE_SPIN], [OP_JMP, 0]], 'spinner');
    m.kthread(spin, 2);
    m.kthread(spin, 3);
    const r = await m.run({ timeoutMs: 30_000, hungMs: 400, threads: 2 });
    expect(r.state).toBe('hung');
    const g = r.stuck!.graph;
    expect(g.cycles).toHaveLength(1);
    const cycle = g.cycles[0]!;
    expect(cycle).toHaveLength(2);
    const snap = m.snapshot!;
    const cpus = cycle.map((k) => g.nodes.find((n) => n.key === k)!.cpu!);
    // Each CPU of the cycle is in a turn of its own thread (CPU.mux_turn: thread + 1).
    const turn = (i: number): number => snap[cpu_addr(i) + CPU.mux_turn]!;
    expect(turn(cpus[0]!)).toBeGreaterThan(0);
    expect(turn(cpus[1]!)).toBeGreaterThan(0);
    expect(turn(cpus[0]!), 'one CPU on each thread').not.toBe(turn(cpus[1]!));
    const others = g.nodes.filter((x) => x.kind === 'cpu' && !cycle.includes(x.key));
    expect(others).toHaveLength(2);
    for (const n of others) {
      expect(n.blocked, n.key).toBe(false);
      expect(g.edges.filter((e) => e.from === n.key)).toEqual([]);
      expect(n.task, `${n.key} runs no task`).toBeUndefined();
      expect(snap[cpu_addr(n.cpu!) + CPU.mux_turn], `${n.key} is in no thread's turn`).toBe(0);
    }
    // A spinner's CPU ended its last turn with work left: it waits for its turn, runnable.
    expect(others.filter((n) => n.waiting === 'waiting for its turn on a host thread (runnable)').length).toBeGreaterThan(0);
    expect(r.stuck!.text).toMatch(/test_spin/);
  });

  it('rwlock waiters spin through a long read section only while no holder can be off its core for want of one', () => {
    expect(rwlock_spin_us(0, 2, 2), '2 CPUs, a thread each, 2 cores').toBe(RWLOCK_SPIN_US);
    expect(rwlock_spin_us(0, 2, 2)).toBeGreaterThan(0);
    expect(rwlock_spin_us(0, 8, 2), '--host-preemption: 8 threads on 2 cores').toBe(0);
    expect(rwlock_spin_us(0, 3, 2), 'one thread more than cores').toBe(0);
    expect(rwlock_spin_us(2, 8, 2), '8 threads, 2 run tokens: 2 run kernel code at once').toBe(RWLOCK_SPIN_US);
    expect(rwlock_spin_us(4, 8, 2), 'more tokens than cores').toBe(0);
  });

  it('the default: several CPUs per thread only with more CPUs than cores and run tokens on', () => {
    expect(host_threads(8, { threads: 2 }, false)).toBe(2);
    expect(host_threads(8, { threads: 2 }, true), 'controlled: a thread per CPU').toBe(8);
    expect(host_threads(8, { threads: 2, hostPreemption: true }, false)).toBe(8);
    expect(host_threads(8, { runTokens: 2 }, false), 'explicit run tokens: a thread per CPU').toBe(8);
    expect(host_threads(4, { threads: 9 }, false)).toBe(4);
    expect(parse_stress_args(['--cpus', '8', '--threads', '2']).cfg.threads).toBe(2);
    expect(() => parse_stress_args(['--cpus', '8', '--threads', '0'])).toThrow(/--threads/);
    expect(() => parse_stress_args(['--mode', 'controlled', '--ops', '10', '--threads', '2'])).toThrow(/free-running/);
  });

  it('every CPU waits for its first turn in an extended quiescent state, set before any thread starts', () => {
    // Any thread may take any CPU's turn, so no thread may mark a CPU idle for its first turn
    // itself: a thread that started late once did so to a CPU another thread was running, with a
    // reader open (the 8-CPU RCU torture test's use-after-free).
    const m = new Machine({ ncpus: 6, maxTasks: 16 });
    m.attach();
    m.bringUpCpus();
    run_tokens_setup(m.mem, 0, 6);
    const groups = mux_setup(m.mem, 6, 2);
    expect(groups).toEqual([[0, 2, 4], [1, 3, 5]]);
    for (let i = 0; i < 6; i++) {
      expect(m.mem[cpu_addr(i) + CPU.idle], `cpu ${i} idle`).toBe(1);
      expect(m.mem[cpu_addr(i) + CPU.tok_wait], `cpu ${i} waits for its turn`).toBe(1);
    }
    // One thread per CPU: each CPU's own thread leaves the idle state itself (token_wait_first).
    m.bringUpCpus();
    run_tokens_setup(m.mem, 2, 6);
    mux_setup(m.mem, 6, 6);
    for (let i = 0; i < 6; i++) expect(m.mem[cpu_addr(i) + CPU.tok_wait]).toBe(0);
  });
});

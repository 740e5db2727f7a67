/**
 * Detection reads the model's own state: the lock validator's order graph and violation log, the
 * wait-for graph built from what CPUs and tasks publish in shared memory, and the hung-task
 * watchdog of free-running mode.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { Kernel } from '../src/api.js';
import { CPU, G, RCU_GP_SEQ, RCU_GP_STARTED, TASK } from '../src/mm/layout.js';
import { cpu_addr, kg } from '../src/mm/memory.js';
import { SYS_SET_FLAG, SYS_SYNCHRONIZE_SRCU, SYS_TORTURE_SRCU_READ_SLEEP, SYS_WAIT_FLAG } from '../src/kernel/torture.js';
import {
  SYS_TEST_HANG, SYS_TEST_HOLD, SYS_TEST_LOCK2, SYS_TEST_SLEEP_IN_ATOMIC, TL_MUTEX_A, TL_MUTEX_B, TL_RW_READ, TL_RW_READ_IRQ,
  TL_RW_WRITE, TL_SPIN_A, TL_SPIN_B,
} from '../src/stress/stress_syscalls.js';
import { V_LOCK_HELD_USER, V_LOCKDEP_CYCLE, V_SLEEP_IN_ATOMIC } from '../src/locking/violations.js';
import { TASK_UNINTERRUPTIBLE, WCHAN_RCU_GP, WCHAN_RCU_TASKS, WCHAN_WAIT4 } from '../src/sched/core.js';
import { build_waitfor } from '../src/detect/waitfor.js';
import { violations_report, stuck_report } from '../src/detect/report.js';
import { check_hung_tasks } from '../src/detect/hung_task.js';
import { CLONE_NEWPID, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, SIGKILL } from '../src/kernel/sched_task.js';
import { PTRACE_SEIZE } from '../src/kernel/ptrace.js';

/** Run each program to completion, one after the other, on one CPU (never concurrently). */
function sequential(m: Machine, progs: number[][][]): void {
  for (const p of progs) {
    m.kthread(m.program(p));
    m.runInProcess();
  }
}

/**
 * Publish a grace period (5) that CPU 1 holds up: CPU 0 has passed its quiescent state, CPU 1
 * (online, not idle) has not - what rcu_gp_init and a CPU in a read-side section leave in memory.
 */
function gp_held_by_cpu1(w: Int32Array): void {
  w[kg + G.rcu + RCU_GP_STARTED] = 5;
  w[kg + G.rcu + RCU_GP_SEQ] = 4;
  const c1 = cpu_addr(1);
  w[c1 + CPU.online] = 1;
  w[c1 + CPU.idle] = 0;
  w[c1 + CPU.rcu_qs_gp] = 4;
  w[cpu_addr(0) + CPU.rcu_qs_gp] = 5;
}

describe('lock-order validator (lockdep)', () => {
  it.each([
    ['mutexes', TL_MUTEX_A, TL_MUTEX_B, 'test_mutex_a', 'test_mutex_b'],
    ['spinlocks', TL_SPIN_A, TL_SPIN_B, 'test_spin_a', 'test_spin_b'],
    ['a mutex and a spinlock', TL_MUTEX_A, TL_SPIN_B, 'test_mutex_a', 'test_spin_b'],
  ])('an A->B / B->A inversion (%s) in separate runs that never deadlock is reported', (_n, a, b, na, nb) => {
    const m = new Machine({ ncpus: 1, maxTasks: 16 }, { lockdep: true });
    sequential(m, [[[SYS_TEST_LOCK2, a, b]], [[SYS_TEST_LOCK2, b, a]]]);
    expect(m.liveTasks()).toBe(1); // init only: both tasks ran to the end, nothing hung
    const v = m.violations().filter((x) => x.kind === V_LOCKDEP_CYCLE);
    expect(v).toHaveLength(1);
    const rep = violations_report(m.view(), m.violations());
    expect(rep.text).toContain('WARNING: possible circular locking dependency detected');
    expect(rep.text).toContain(`(${na})`);
    expect(rep.text).toContain(`(${nb})`);
    expect(rep.text).toContain('*** DEADLOCK ***');
    const j = rep.lockdep.find((f) => f.kind === 'circular')!.json as { held: string; acquiring: string; cycle: string[] };
    expect([j.held, j.acquiring]).toEqual([nb, na]);
    expect([...j.cycle].sort()).toEqual([na, nb].sort());
  });

  it('with the validator off, the same runs report nothing', () => {
    const m = new Machine({ ncpus: 1, maxTasks: 16 }, { lockdep: false });
    sequential(m, [[[SYS_TEST_LOCK2, TL_MUTEX_A, TL_MUTEX_B]], [[SYS_TEST_LOCK2, TL_MUTEX_B, TL_MUTEX_A]]]);
    expect(m.violations()).toEqual([]);
  });

  it('queued-rwlock reader rules: a plain read_lock is not recursive, a reader in interrupt context is', () => {
    // rw(read) -> spin_a, spin_a -> rw(read): with a writer waiting, the second reader queues
    // behind it: a real deadlock (read_lock is not recursive for queued rwlocks).
    const a = new Machine({ ncpus: 1, maxTasks: 16 }, { lockdep: true });
    sequential(a, [[[SYS_TEST_LOCK2, TL_RW_READ, TL_SPIN_A]], [[SYS_TEST_LOCK2, TL_SPIN_A, TL_RW_READ]]]);
    expect(a.violations().filter((x) => x.kind === V_LOCKDEP_CYCLE)).toHaveLength(1);
    // rw(read) -> spin_a, spin_a -> rw(read in irq): the irq reader ignores a waiting writer
    // (-(SR)-> after -(SN)->): no strong cycle, nothing reported.
    const b = new Machine({ ncpus: 1, maxTasks: 16 }, { lockdep: true });
    sequential(b, [[[SYS_TEST_LOCK2, TL_RW_READ, TL_SPIN_A]], [[SYS_TEST_LOCK2, TL_SPIN_A, TL_RW_READ_IRQ]]]);
    expect(b.violations().filter((x) => x.kind === V_LOCKDEP_CYCLE)).toHaveLength(0);
    // rw(write) -> spin_a, spin_a -> rw(read in irq): the irq reader still waits for a writer that holds it.
    const c = new Machine({ ncpus: 1, maxTasks: 16 }, { lockdep: true });
    sequential(c, [[[SYS_TEST_LOCK2, TL_RW_WRITE, TL_SPIN_A]], [[SYS_TEST_LOCK2, TL_SPIN_A, TL_RW_READ_IRQ]]]);
    expect(c.violations().filter((x) => x.kind === V_LOCKDEP_CYCLE)).toHaveLength(1);
    // ... and with the catalogued fair-irq qrwlock bug, the irq reader is no longer recursive either.
    const d = new Machine({ ncpus: 1, maxTasks: 16 }, { lockdep: true, bugs: 1 /* BUG_QRWLOCK_IRQ_FAIR */ });
    sequential(d, [[[SYS_TEST_LOCK2, TL_RW_READ, TL_SPIN_A]], [[SYS_TEST_LOCK2, TL_SPIN_A, TL_RW_READ_IRQ]]]);
    expect(d.violations().filter((x) => x.kind === V_LOCKDEP_CYCLE)).toHaveLength(1);
  });

  it('sleeping function called from invalid context: mutex_lock under a spinlock', () => {
    const m = new Machine({ ncpus: 1, maxTasks: 16 });
    m.kthread(m.program([[SYS_TEST_SLEEP_IN_ATOMIC]], 'atomic'));
    m.runInProcess();
    const v = m.violations().filter((x) => x.kind === V_SLEEP_IN_ATOMIC);
    expect(v.length).toBeGreaterThan(0);
    expect(v[0]!.a).toBe(1); // preempt_count: the spinlock
    const rep = violations_report(m.view(), m.violations());
    expect(rep.text).toContain('BUG: sleeping function called from invalid context');
    expect(rep.text).toContain('name: atomic');
  });
});

describe('wait-for graph from the model state', () => {
  it('synchronize_srcu waits for the task in an SRCU read-side section', () => {
    const m = new Machine({ ncpus: 1, maxTasks: 16 });
    const r = m.kthread(m.program([[SYS_TORTURE_SRCU_READ_SLEEP, 0, 0]], 'reader'));
    const s = m.kthread(m.program([[SYS_SYNCHRONIZE_SRCU, 0]], 'syncer'));
    m.runInProcess();
    const g = build_waitfor(m.view());
    const e = g.edges.find((x) => x.from === `task@${s}`)!;
    expect(e.to).toBe(`task@${r}`);
    expect(e.why).toMatch(/srcu read side/);
    const rn = g.nodes.find((n) => n.key === `task@${r}`)!;
    expect(rn.holds.map((h) => h.cls)).toContain('tasks_rcu_exit_srcu');
  });

  it('synchronize_rcu waits for the CPU that has not passed a quiescent state (state set by hand)', () => {
    const m = new Machine({ ncpus: 2, maxTasks: 16 });
    const t = m.kthread(m.program([[SYS_WAIT_FLAG, 0]], 'gp-waiter'));
    const w = m.mem;
    // Publish exactly what synchronize_rcu and a CPU in a read-side section leave in memory.
    w[t + TASK.state] = TASK_UNINTERRUPTIBLE;
    w[t + TASK.wait_chan] = WCHAN_RCU_GP;
    w[t + TASK.wq_arg] = 5;
    gp_held_by_cpu1(w);
    w[cpu_addr(1) + CPU.rcu_nesting] = 1;
    const g = build_waitfor(m.view());
    const e = g.edges.filter((x) => x.from === `task@${t}`);
    expect(e.map((x) => x.to)).toEqual(['cpu1']);
    expect(e[0]!.why).toContain('in an RCU read-side section');
    expect(g.nodes.find((n) => n.key === 'cpu1')!.holds.map((h) => h.cls)).toContain('rcu_read_lock');
  });

  it('wait4, zombies and the zap wait, with every task\'s pid at every level', () => {
    const k = Kernel.create({ maxTasks: 64 });
    const h = k.fork(k.init); // holds test_mutex_a for good
    k.syscall(h, 'test_hold', SYS_TEST_HOLD, TL_MUTEX_A);
    const a = k.fork(k.init);
    const n = k.fork(a, { flags: CLONE_NEWPID }); // init of a new namespace
    // o, outside n's namespace, enters it for its children (setns), and forks d there: d's
    // parent is o, so n's zap can not reap it; it must wait for d's pid to go.
    const o = k.fork(k.init);
    const fd = k.openNs(o, k.pidIn(o, n), 'pid');
    k.setns(o, fd, CLONE_NEWPID);
    const d = k.fork(o);
    expect(k.nspid(d)).toHaveLength(2);
    expect(k.syscall(d, 'test_hold', SYS_TEST_HOLD, TL_MUTEX_A)).toEqual({ blocked: true }); // D state
    const z = k.fork(a); // a zombie: it exits, a does not reap it yet
    expect(k.syscall(z, 'exit', 18 /* SYS_EXIT */, 0)).toEqual({ exited: true });
    // n exits: zap_pid_ns_processes kills d (asleep uninterruptibly, it does not die) and waits.
    expect(k.syscall(n, 'exit', 18 /* SYS_EXIT */, 0)).toEqual({ blocked: true });
    const g = build_waitfor(k.machine.view());
    const key = (t: { addr: number }): string => `task@${t.addr}`;
    const from = (t: { addr: number }): Array<{ to: string; why: string }> => g.edges.filter((e) => e.from === key(t)).map(({ to, why }) => ({ to, why }));
    expect(from(n)).toEqual([{ to: key(d), why: 'pid still in the namespace' }]);
    expect(from(d)).toEqual([{ to: key(h), why: 'mutex test_mutex_a' }]);
    expect(from(z)).toEqual([{ to: key(a), why: 'reap (wait4 by the parent)' }]);
    const dn = g.nodes.find((x) => x.key === key(d))!;
    expect(dn.task!.nspid).toEqual(k.nspid(d));
    expect(dn.task!.wchan).toBe('mutex_lock');
    expect(g.nodes.find((x) => x.key === key(n))!.task!.wchan).toBe('zap_pid_ns_processes');
    // a waits in wait4: for its live children (n is exiting but not yet a zombie).
    expect(k.syscall(a, 'wait4', 20 /* SYS_WAIT4 */, k.pidIn(a, n), 0)).toEqual({ blocked: true });
    const g2 = build_waitfor(k.machine.view());
    expect(g2.edges.filter((e) => e.from === key(a)).map((e) => [e.to, e.why])).toEqual([[key(n), 'child (wait4)']]);
    // The report names them with NSpid lines, the wait channels and the held mutex.
    const rep = stuck_report(k.machine.view(), 'hung', 1000);
    expect(rep.text).toContain(`NSpid:\t${k.nspid(d).join('\t')}`);
    expect(rep.text).toContain(' zap_pid_ns_processes');
    expect(rep.text).toContain(`waits for task task:${k.nspid(h)[0]} (mutex test_mutex_a)`);
    expect(rep.graph.cycles).toEqual([]);
  });
});

describe('wait-for graph: do_wait, zombie group leaders (delay_group_leader), the rcu-tasks holdout loop', () => {
  const THREAD = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
  const key = (t: { addr: number }): string => `task@${t.addr}`;

  it('a zombie leader whose thread is stuck waits for that thread, not its parent: no cycle through a waiting parent', () => {
    // a forks n (init of a new namespace) and, after setns into it, c there; c's thread t sleeps
    // in D on a mutex h holds for good; c exits (a zombie leader, kept by t); n exits: zap waits
    // for c's and t's pids; a waits in wait4. a -> n -> c, and c can not be reaped while t lives:
    // the only thing anyone waits for is h. (Drawing c -> a, "reap", closed a -> n -> c -> a.)
    const k = Kernel.create({ maxTasks: 64 });
    const h = k.fork(k.init);
    k.syscall(h, 'test_hold', SYS_TEST_HOLD, TL_MUTEX_A);
    const a = k.fork(k.init);
    const n = k.fork(a, { flags: CLONE_NEWPID });
    k.setns(a, k.openNs(a, k.pidIn(a, n), 'pid'), CLONE_NEWPID);
    const c = k.fork(a);
    const t = k.fork(c, { flags: THREAD });
    expect(k.syscall(t, 'test_hold', SYS_TEST_HOLD, TL_MUTEX_A)).toEqual({ blocked: true });
    expect(k.exit(c)).toEqual({ exited: true });
    expect(k.isZombie(c)).toBe(true);
    expect(k.exit(n)).toEqual({ blocked: true });
    expect(k.wait4(a, -1)).toEqual({ blocked: true });
    const g = build_waitfor(k.machine.view());
    const from = (x: { addr: number }): string[] => g.edges.filter((e) => e.from === key(x)).map((e) => e.to).sort();
    expect(g.cycles).toEqual([]);
    expect(from(c)).toEqual([key(t)]);
    expect(from(a)).toEqual([key(n), key(t)].sort());
    expect(from(t)).toEqual([key(h)]);
  });

  it('synchronize_rcu_tasks waits for its poll\'s grace period and for running holdouts, not for a holdout asleep (state set by hand)', () => {
    // a sleeps in wait4 for its child c; c sleeps in the holdout loop of synchronize_rcu_tasks,
    // polling after grace period 5, which CPU 1 has not let end; a was made a holdout by the scan
    // and went to sleep since: check_holdout_task lets it go at the next poll. c waits for CPU 1,
    // not for a: a -> c -> a would be a cycle the kernel does not have (a stall there is CPU 1's).
    const k = Kernel.create({ maxTasks: 64, ncpus: 2 });
    const a = k.fork(k.init);
    const c = k.fork(a);
    expect(k.wait4(a, -1)).toEqual({ blocked: true });
    const w = k.machine.mem;
    w[c.addr + TASK.state] = TASK_UNINTERRUPTIBLE;
    w[c.addr + TASK.wait_chan] = WCHAN_RCU_TASKS;
    w[c.addr + TASK.wait_obj] = a.addr;
    w[c.addr + TASK.wq_arg] = 5;
    w[a.addr + TASK.rcu_tasks_holdout] = 1;
    w[a.addr + TASK.rcu_tasks_nvcsw] = w[a.addr + TASK.nvcsw]!;
    gp_held_by_cpu1(w);
    const g = build_waitfor(k.machine.view());
    expect(g.cycles).toEqual([]);
    expect(g.edges.filter((e) => e.from === key(c)).map((e) => e.to)).toEqual(['cpu1']);
    // The same holdout still running (woken, not yet switched): it is waited for.
    w[a.addr + TASK.state] = 0;
    const g2 = build_waitfor(k.machine.view());
    expect(g2.edges.filter((e) => e.from === key(c)).map((e) => e.to).sort()).toEqual(['cpu1', key(a)].sort());
  });

  it('ptrace_dead_list: zap\'s kernel_wait4 waits for a zombie leader whose traced thread is EXIT_DEAD on the reaper\'s own dead list', () => {
    // n (init of a namespace) forks c, c a thread t; n seizes t and kills c's group: t is a traced
    // zombie, c a zombie leader kept by t. n exits: exit_ptrace puts t on n's dead list
    // (EXIT_DEAD); with the bug the list is released after zap, whose kernel_wait4 sleeps for c
    // (delay_group_leader) - for t's release, which only n does: a cycle n <-> t.
    const k = Kernel.create({ maxTasks: 64, bugs: ['ptrace_dead_list'] });
    const a = k.fork(k.init);
    const n = k.fork(a, { flags: CLONE_NEWPID });
    const c = k.fork(n);
    const t = k.fork(c, { flags: THREAD });
    expect(k.ptrace(n, PTRACE_SEIZE, k.nspid(t).at(-1)!)).toBe(0); // t's tid in n's namespace
    k.kill(n, k.pidIn(n, c), SIGKILL);
    k.run();
    expect(k.isZombie(c)).toBe(true);
    expect(k.exit(n)).toEqual({ blocked: true });
    const v = k.machine.view();
    expect(v.m[n.addr + TASK.wait_chan]).toBe(WCHAN_WAIT4);
    const g = build_waitfor(v);
    expect(g.edges.filter((e) => e.from === key(n)).map((e) => e.to)).toEqual([key(t)]);
    expect(g.edges.filter((e) => e.from === key(t)).map((e) => [e.to, e.why])).toEqual([[key(n), expect.stringContaining('dead list')]]);
    expect(g.cycles.map((c) => [...c].sort())).toEqual([[key(n), key(t)].sort()]);
  });
});

describe('hung-task watchdog (free-running)', () => {
  it('finds a real hang within its bound and reports the chain from the frozen state', async () => {
    const m = new Machine({ ncpus: 2, maxTasks: 16 }, { hungTimeoutMs: 400 });
    // holder: takes test_mutex_a, lets the waiter go, then sleeps for good (holding it).
    const holder = m.kthread(m.program([[SYS_TEST_HOLD, TL_MUTEX_A], [SYS_SET_FLAG, 0], [SYS_TEST_HANG]], 'holder'), 0);
    const waiter = m.kthread(m.program([[SYS_WAIT_FLAG, 0], [SYS_TEST_LOCK2, TL_MUTEX_A, TL_MUTEX_B]], 'waiter'), 1);
    const r = await m.run({ timeoutMs: 60_000, hungMs: 400 });
    expect(r.state).toBe('hung');
    // The watchdog ended the run, not the run's timeout (which also ends a free-running run as
    // hung): well under 60 s of the run's clock (from the CPUs' start; a loaded host slows the
    // tasks on their way to the hang, so the margin over the 0.4 s bound is generous).
    expect(r.elapsedMs).toBeLessThan(400 + 10_000);
    const g = r.stuck!.graph;
    const e = g.edges.find((x) => x.from === `task@${waiter}`)!;
    expect(e).toEqual({ from: `task@${waiter}`, to: `task@${holder}`, why: 'mutex test_mutex_a' });
    expect(g.nodes.find((n) => n.key === `task@${holder}`)!.holds.map((h) => h.cls)).toEqual(['test_mutex_a']);
    expect(r.stuck!.text).toMatch(/INFO: task waiter:t\d+ blocked for more than 0.4 seconds\./);
    expect(r.stuck!.text).toContain('1 lock held by holder/');
    // The same state through the watchdog's own check: both tasks are in D state past the bound.
    const hc = check_hung_tasks(m.view(m.snapshot!), 0);
    expect(hc.hung.sort()).toEqual([holder, waiter].sort());
    // And the rule the CPUs check on every return to user mode caught the mutex held by the holder.
    expect(r.violations.some((v) => v.kind === V_LOCK_HELD_USER && v.b === holder)).toBe(true);
  });
});

/**
 * Guard checking (--check-guards): the checked build (dist-checked/, made by `npm run build`)
 * checks every field access of the kernel against the schema's guard. Each check is shown to fail
 * on a planted mistake in a kernel path (src/config/bugs.ts BUG_PLANT_*), one per class of the
 * mistakes the plain run misses, and the same runs pass on today's kernel.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { default_config, type StressConfig } from '../src/stress/config.js';
import { run_stress, type StressOutcome } from '../src/stress/run.js';
import { replay_stress } from '../src/stress/replay_stress.js';
import { decode_token } from '../src/ctl/replay_token.js';
import { projectRoot } from '../src/machine.js';
import { GUARD_FIELDS } from '../src/locking/guard_check.js';
import { V_GUARD_LOCK, V_GUARD_RCU, V_GUARD_USE_AFTER_FREE, V_KCSAN_RACE } from '../src/locking/violations.js';
import { findScenario } from '../src/scenarios/catalog.js';
import { Machine } from '../src/machine.js';
import { CPU, GUARD, TORTURE } from '../src/mm/layout.js';
import { regions } from '../src/mm/memory.js';
import { OP_LOOP } from '../src/kernel/entry.js';
import { SYS_TORTURE_SPIN } from '../src/kernel/torture.js';
import { violations_report } from '../src/detect/report.js';
import type { Violation } from '../src/locking/violations.js';
import { closePools, searchSchedules } from '../src/scenarios/runner.js';

afterAll(async () => {
  await closePools();
});

/** Controlled, 2 CPUs, a short process mix: deterministic for a seed. */
function controlled(over: Partial<StressConfig>): StressConfig {
  return default_config({ mode: 'controlled', cpus: 2, ops: 300, tasks: 4, seed: 1, checkGuards: true, stopOnViolation: true, ...over });
}

type Viol = { kind: string; count: number; site?: { fn: string; field: string; write: boolean } | null };
const violations = (o: StressOutcome): Viol[] => (o.report.violations ?? []) as Viol[];

describe('guard table', () => {
  it('the tasklist, task_lock, siglock and RCU rules of the schema are structured guards the checker compiles', () => {
    const f = (ident: string, name: string) => GUARD_FIELDS.find((x) => x.ident === ident && x.name === name)!;
    expect(f('TASK', 'children').guard.write).toEqual([{ k: 'lock', cls: 'tasklist_lock', mode: 'write' }]);
    expect(f('TASK', 'real_parent').guard.read!.map((r) => r.k)).toEqual(['lock', 'rcu', 'current']);
    expect(f('TASK', 'nsproxy').guard.write).toEqual([{ k: 'lock', cls: '&p->alloc_lock', mode: 'write', at: { self: 'alloc_lock' } }]);
    expect(f('PID', 'task_pid').guard.kind).toBe('rcu');
    expect(f('TASK', 'poison').poison).toBe(-1);
    expect(f('TASK', 'children').poison).toBeGreaterThan(0);
  });
});

describe("today's kernel under the checks", () => {
  // The full mix, controlled, 4 CPUs: no guard violation. PIDRACE_SLOW_TESTS=1 runs the 16-seed
  // campaign of the README (2,000 operations each); the default suite runs one short seed.
  const slow = process.env.PIDRACE_SLOW_TESTS === '1';
  it(slow ? '16 controlled seeds of the full mix, 2,000 operations each: SUCCESS' : 'one controlled seed of the full mix: SUCCESS', async () => {
    for (const seed of slow ? Array.from({ length: 16 }, (_, i) => i + 1) : [7]) {
      const o = await run_stress(default_config({ mode: 'controlled', cpus: 4, ops: slow ? 2_000 : 400, seed, checkGuards: true }));
      expect(o.verdict, o.text).toBe('SUCCESS');
      expect(o.text).toContain('guards: every field access checked');
    }
  }, slow ? 900_000 : 60_000);

  it('forks the pids controller refuses: the refusal check reads other tasks with data_race, not unguarded', async () => {
    // The refusal path scans the task slab for released tasks still charged (entry 20's check).
    // Before it read ->pid with data_race(), this run reported "suspicious RCU usage" at
    // cgroup_pids.ts pids_refusal_check, about a thousand times.
    const o = await run_stress(default_config({ mode: 'controlled', cpus: 2, ops: 1_500, seed: 1, checkGuards: true, mix: ['fork', 'exit', 'wait', 'pids-cgroup'] }));
    const refused = (o.report.stats as { per_op: Record<string, { errors: Record<string, number> }> }).per_op.fork!.errors.EAGAIN ?? 0;
    expect(refused, 'the run must reach the refusal path').toBeGreaterThan(0);
    expect(o.verdict, o.text).toBe('SUCCESS');
  }, 60_000);
});

describe('the four classes of planted locking mistakes, caught in controlled mode', () => {
  it('reparenting under tasklist_lock held for read: the plain run passes, the checked one reports the write without the write lock', async () => {
    const cfg = { mix: ['fork', 'exit', 'wait'], bugs: ['plant_reparent_read_lock'] };
    const plain = await run_stress(controlled({ ...cfg, checkGuards: false }));
    expect(plain.verdict).toBe('SUCCESS');
    const o = await run_stress(controlled(cfg));
    expect(o.verdict).toBe('FAILURE');
    expect(o.signature).toBe('violation: field accessed without its lock');
    const v = violations(o).find((x) => x.site?.fn === 'reparent_children' && x.site.field === 'TASK.real_parent');
    expect(v?.site?.write).toBe(true);
    expect(o.text).toMatch(/WARNING: CPU: \d+ PID: \S+ at reparent_children \(src\/kernel\/exit\.ts:\d+\)/);
    expect(o.text).toContain('write of task->real_parent');
    expect(o.text).toContain('without tasklist_lock (write) (lockdep_assert_held)');
    expect(o.text).toMatch(/Call Trace:\n reparent_children\n( \w+\n)* exit_notify\n( \w+\n)* do_exit/);
  });

  it('reparenting with no lock at all (BUG_PLANT_REPARENT_NO_LOCK): reads of the children list are reported too', async () => {
    const o = await run_stress(controlled({ mix: ['fork', 'exit', 'wait'], bugs: ['plant_reparent_no_lock'], ops: 150 }));
    expect(o.verdict).toBe('FAILURE');
    const sites = violations(o).map((x) => `${x.site?.fn}:${x.site?.field}:${x.site?.write ? 'w' : 'r'}`);
    expect(sites).toContain('reparent_children:TASK.sibling_next:r');
    expect(sites).toContain('reparent_children:TASK.parent:w');
  });

  it('an RCU lookup outside rcu_read_lock (kill by pid): WARNING: suspicious RCU usage in find_pid_ns and pid_task', async () => {
    const o = await run_stress(controlled({ mix: ['fork', 'kill', 'exit', 'wait'], bugs: ['plant_kill_no_rcu'], ops: 600 }));
    expect(o.verdict).toBe('FAILURE');
    expect(o.signature).toBe('violation: suspicious RCU usage');
    const fns = violations(o).map((x) => x.site?.fn);
    expect(fns).toContain('find_pid_ns');
    expect(o.text).toContain('WARNING: suspicious RCU usage');
    expect(o.text).toMatch(/src\/kernel\/pid\.ts:\d+ suspicious rcu_dereference_check\(\) usage!/);
    expect(o.text).toContain('rcu_read_lock() not held');
    // The run's token replays it decision for decision, on the checked build again.
    const { match } = await replay_stress(decode_token(o.token!));
    expect(match).toEqual({ state: true, hash: true, failure: true, exact: true });
  });

  it('a task_lock-guarded field read without it (setns by pidfd reads the target\'s nsproxy)', async () => {
    const o = await run_stress(controlled({ mix: ['fork', 'setns-pidfd', 'exit', 'wait'], bugs: ['plant_nsproxy_no_task_lock'], ops: 600 }));
    expect(o.verdict).toBe('FAILURE');
    const v = violations(o).find((x) => x.site?.field === 'TASK.nsproxy');
    expect(v?.site?.fn).toBe('validate_nsset');
    expect(v?.site?.write).toBe(false);
    expect(o.text).toContain('read of task->nsproxy');
    expect(o.text).toContain('without &p->alloc_lock or current');
  });

  it('a task freed without a grace period: the late RCU reader that found it reads poisoned memory (one fixed interleaving, in-process)', async () => {
    // A build's modules: dist-checked/ (a second module graph, the checks compiled in) or dist/.
    const build = async (dir: string) => {
      const root = join(projectRoot(), dir, 'src');
      const load = async <T>(p: string): Promise<T> => (await import(pathToFileURL(join(root, p)).href)) as T;
      return {
        api: await load<typeof import('../src/api.js')>('api.js'),
        memory: await load<typeof import('../src/mm/memory.js')>('mm/memory.js'),
        rcu: await load<typeof import('../src/rcu/rcu.js')>('rcu/rcu.js'),
        pid: await load<typeof import('../src/kernel/pid.js')>('kernel/pid.js'),
        signal: await load<typeof import('../src/kernel/signal.js')>('kernel/signal.js'),
        exit: await load<typeof import('../src/kernel/exit.js')>('kernel/exit.js'),
      };
    };
    const checked = await build('dist-checked');
    const run = (bugs: string[], { api, memory, rcu, pid, signal, exit } = checked): { uaf: number; other: number } => {
      const k = api.Kernel.create({ ncpus: 2, bugs });
      const parent = k.fork(k.init);
      const child = k.fork(parent);
      const nr = k.getpid(child);
      k.exit(child); // a zombie now: only its parent's reap (release_task) holds it
      k.machine.attach();
      // CPU 1, online and busy (the in-process API keeps it offline): an RCU reader finds the task.
      const c1 = memory.cpu_addr(1);
      memory.mem[c1 + CPU.online] = 1;
      memory.mem[c1 + CPU.idle] = 0;
      memory.set_this_cpu(1);
      rcu.rcu_read_lock();
      const p = pid.pid_task(pid.find_pid_ns(nr, pid.task_active_pid_ns(k.init.addr)), pid.PIDTYPE_PID);
      expect(p).toBe(child.addr);
      // CPU 0 reaps it (release_task drops the last reference), passes a quiescent state and runs
      // what RCU lets it run: the reader on CPU 1 holds the grace period up.
      memory.set_this_cpu(0);
      exit.release_task(p);
      rcu.rcu_note_context_switch();
      rcu.rcu_try_complete_gp();
      rcu.rcu_do_batch();
      // The reader goes on with the task it found (fatal_signal_pending(p)-style reads).
      memory.set_this_cpu(1);
      signal.__fatal_signal_pending(p);
      rcu.rcu_read_unlock();
      memory.mem[c1 + CPU.online] = 0;
      memory.set_this_cpu(0);
      const vs = k.machine.violations();
      return { uaf: vs.filter((x) => x.kind === V_GUARD_USE_AFTER_FREE && x.a === p).length, other: vs.length - vs.filter((x) => x.kind === V_GUARD_USE_AFTER_FREE).length };
    };
    expect(run([])).toEqual({ uaf: 0, other: 0 });
    const planted = run(['plant_task_free_no_gp']);
    expect(planted.uaf).toBeGreaterThan(0);
    expect(planted.other).toBe(0);
    // The normal build has no poison check in this reader: the stale record reads as plausible.
    expect(run(['plant_task_free_no_gp'], await build('dist'))).toEqual({ uaf: 0, other: 0 });
  });
});

describe('KCSAN-style watchpoints (free-running)', () => {
  /** locktorture's spinlock section on 2 CPUs, 2 kthreads each, in the checked build. */
  async function torture(busted: boolean): Promise<{ races: Violation[]; text: string; samples: number }> {
    const m = new Machine({ ncpus: 2, maxTasks: 16, checkGuards: true, kcsanSampleEvery: 8, kcsanDelayUs: 100 });
    m.attach();
    m.mem[m.tortureBase() + TORTURE.busted] = busted ? 1 : 0;
    const prog = m.program([[SYS_TORTURE_SPIN, 0], [OP_LOOP, 0, 300]]);
    for (let i = 0; i < 4; i++) m.kthread(prog, i % 2);
    const r = await m.run({ timeoutMs: 30_000, hungMs: 10_000 });
    const races = r.violations.filter((x) => x.kind === V_KCSAN_RACE);
    return { races, text: violations_report(m.view(), r.violations).text, samples: m.mem[regions.guard + GUARD.samples]! };
  }

  it('a spinlock that excludes nobody (lock_busted): a data race on the torture counter, reported with the racing sites; none with the real lock', async () => {
    const bad = await torture(true);
    expect(bad.races.length, `samples ${bad.samples}`).toBeGreaterThan(0);
    expect(bad.text).toMatch(/BUG: KCSAN: data-race in torture_spin( \/ torture_spin)?/);
    expect(bad.text).toMatch(/(read|write) to torture->counter of 0x[0-9a-f]+ by task \S+ on cpu \d/);
    const good = await torture(false);
    expect(good.samples).toBeGreaterThan(0);
    expect(good.races).toEqual([]);
  });
});

describe('the catalog with --check-guards', () => {
  it('entry 8 (freed without a grace period) reports the guard use-after-free as well', async () => {
    const s = findScenario('8')!;
    const v = s.variants.find((x) => x.bugs !== 0)!;
    const r = await searchSchedules(s, v, { schedules: 100, seed: 1, checkGuards: true });
    expect(r.asExpected).toBe(true);
    expect(r.first?.report).toContain('BUG: RCU reader saw a freed object');
    // The guard check names the reader and the freed record's field (struct pid or pid_namespace).
    expect(r.first?.report).toMatch(/BUG: KASAN: slab-use-after-free in (\w+)\n(read|write).* of (pid|pid_namespace)->\w+ at object 0x[0-9a-f]+ by task R\/\d+ on CPU \d+: the object's poison word says POISON_FREED\n\nCall Trace:\n \w+\n/);
  });
});

// The kinds a test above expects to see, so that a renamed kind fails here and not silently.
expect([V_GUARD_LOCK, V_GUARD_RCU, V_KCSAN_RACE].every((k) => k > 0)).toBe(true);

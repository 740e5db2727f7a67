/**
 * The deadlock catalog (issue 6), on the model's CPU workers in controlled mode:
 * - every buggy variant shows its documented failure for 20 of 20 search seeds, and the report of
 *   the first hit names the documented cycle (or violation) from the model's state;
 * - every fixed variant passes 1,000 schedules with PIDRACE_SLOW_TESTS=1 (the default suite runs
 *   FIXED_SCHEDULES_FAST of them, the same seeds' first schedules);
 * - a replay token reproduces its run; free-running, a buggy variant is hit and a fixed one never
 *   fails or hangs (short budgets: the full measurement is src/scenarios/measure.ts).
 * Needs the build (dist/workers/cpu.js). Bounded: each search has a schedule bound and a time
 * budget.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CATALOG, findScenario } from '../src/scenarios/catalog.js';
import { closePools, freeRun, replayToken, searchSchedules } from '../src/scenarios/runner.js';
import type { Scenario, Variant } from '../src/scenarios/types.js';
import { command as deadlockCommand } from '../src/cli/deadlock.js';
import { UsageError } from '../src/cli/common.js';

afterAll(async () => {
  await closePools();
});

const SEEDS = 20;
const SLOW = process.env.PIDRACE_SLOW_TESTS === '1';
const FIXED_SCHEDULES = SLOW ? 1000 : 30;
/** Bound on one buggy search (hit rates are 5-90 % per schedule: misses would be ~1e-5). */
const BUGGY_BOUND = 400;

/** Text the report of each entry's hit must contain: the documented cycle's functions and holds. */
const REPORT_MUST: Record<string, RegExp[]> = {
  '1': [/A\[pid \d+\]/, /synchronize_srcu/, /B\[pid \d+ NSpid \d+ 1\]/, /zap_pid_ns_processes/, /tasks_rcu_exit_srcu \{read/, /zombie/, /reap/],
  '2': [/kprobe_mutex \(mutex\)/, /synchronize_srcu/, /do_wait/, /tasks_rcu_exit_srcu \{read/, /mutex_lock on kprobe_mutex/, /perf_kprobe_init/],
  '3': [/zap_pid_ns_processes/, /X\[pid \d+ NSpid \d+ \d+\]/, /blocked chain/],
  '4': [/zap_pid_ns_processes/, /zombie/, /delay_group_leader/],
  // User space's assertion after waitpid, or the kernel's task-list check one step earlier (P's wait
  // releases R with X still on its children list: check_5 names both, session 15).
  '5': [/pid namespace init reaped while pids of the namespace remain|release_task: the task still has children/],
  '6': [/zap_pid_ns_processes/, /EXIT_DEAD/, /dead list/],
  '7a': [/read_lock \(in irq\) on tasklist_lock/, /in interrupt/, /write_lock on tasklist_lock/, /tasklist_lock \{read\}/],
  '7b': [/spinning on &new->fa_lock/, /in interrupt/, /read_lock on tasklist_lock/, /&new->fa_lock \{spin\}/, /write_lock on tasklist_lock/, /in fork/],
  '8': [/RCU reader saw a freed object/, /struct pid_namespace/, /proc_pid_lookup/],
  '9': [/leak audit at the quiescent end/, /ns \d+: kref \d+, references found \d+/],
  '12': [/a process was killed by a child's exit signal meant for another parent/],
  '11': [/release_task: the task still has children|leak audit at the quiescent end/, /release_task: the task still has children|real_parent @\d+ is not live/],
  '15': [/wait4 reported a child that the caller had already reaped/],
  '14': [/wait4 returned ECHILD while the named pid was still the caller's child/],
  '13': [/polling a pidfd of pid/, /woken by do_notify_pidfd/, /blocked chain/],
  '18': [/task blocked with nothing left to wake it \(hung task\)/, /[PT]\/\d+ goes to sleep in do_wait/, /every child and tracee of its thread group \(\d+\) is EXIT_DEAD/],
  '19': [/leak audit at the quiescent end/, /struct pid @\d+ \(nr 1\): count \d+, references found \d+/],
  '20': [/fork refused by the pids controller while released tasks still held the charges that made the difference/, /task: P\/2/],
  '16': [/ptrace_stop/, /\(&sig->cred_guard_mutex\)\{mutex\}/, /mutex_lock/, /ptrace stop: resumed only by its tracer/, /state:t /],
  '17': [/de_thread/, /every other thread must be released/, /reap \(wait4 by the parent\)/, /mutex &sig->cred_guard_mutex held by task P:3/],
  '21': [/task went to sleep past the event it waits for \(lost wake-up\)/, /M\/\d+ goes to sleep in do_wait \(WUNTRACED\) after its scan passed over the stop of L\/\d+'s process/],
  '10': [/rcu: INFO: rcu_preempt detected stalls on CPUs\/tasks:/, /watchdog: BUG: soft lockup - CPU#\d+ stuck for \d+ hooks! \[R:\d+\]/],
};

const buggy: Array<[string, Scenario, Variant]> = [];
const fixed: Array<[string, Scenario, Variant]> = [];
for (const s of CATALOG) {
  for (const v of s.variants) (v.expect === 'clean' ? fixed : buggy).push([`${s.id} ${v.name}`, s, v]);
}

describe('deadlock catalog: buggy variants reproduced in controlled mode', () => {
  it.each(buggy)('%s: the documented failure for 20 of 20 seeds', async (_n, s, v) => {
    const firstAt: number[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      // Bounded by schedules only (no time budget): the search and its verdict are the same on any host.
      const r = await searchSchedules(s, v, { seed, schedules: BUGGY_BOUND, report: seed === 1 });
      expect(r.asExpected, `${s.id} ${v.name} seed ${seed}: ${JSON.stringify(r.outcomes)} in ${r.schedules} schedules`).toBe(true);
      expect(r.first!.outcome).toBe(v.expect);
      expect(r.first!.check.matched).toBe(true);
      firstAt.push(r.firstAt!);
      if (seed === 1) {
        const text = r.first!.report!;
        for (const re of REPORT_MUST[s.id] ?? []) expect(text, `report of ${s.id} lacks ${re}`).toMatch(re);
        expect(r.token).toMatch(/^pidrace1\./);
      }
    }
    expect(firstAt).toHaveLength(SEEDS);
  });
});

describe(`deadlock catalog: fixed variants pass ${FIXED_SCHEDULES} schedules`, () => {
  it.each(fixed)(`%s: ${FIXED_SCHEDULES} schedules clean`, async (_n, s, v) => {
    const r = await searchSchedules(s, v, { seed: 1, schedules: FIXED_SCHEDULES, report: true });
    expect(r.schedules).toBe(FIXED_SCHEDULES);
    expect(r.asExpected, r.first?.report).toBe(true);
    expect(r.outcomes).toEqual({ clean: FIXED_SCHEDULES });
  });
});

describe('deadlock catalog: replay and free-running', () => {
  it('a replay token reproduces the documented deadlock of entry 2 (first fix)', async () => {
    const s = findScenario('2')!;
    const v = s.variants.find((x) => x.name === 'first-fix')!;
    const r = await searchSchedules(s, v, { seed: 3, schedules: BUGGY_BOUND, report: false });
    expect(r.asExpected).toBe(true);
    const rep = await replayToken(r.token!, findScenario);
    expect(rep.same).toBe(true);
    expect(rep.record.outcome).toBe('deadlock');
    expect(rep.record.check.matched).toBe(true);
    expect(rep.record.decisions).toBe(r.first!.decisions);
  });

  it('free-running: entry 1 before the fix deadlocks, the final fix never fails or hangs', async () => {
    const s = findScenario('1')!;
    // Until the first hit (a few attempts on a quiet host), with room for a loaded one.
    const bug = await freeRun(s, s.variants[0]!, { timeMs: 60_000, stopAtFirstHit: true });
    expect(bug.hits, `${bug.attempts} attempts`).toBeGreaterThan(0);
    expect(bug.first!.report).toMatch(/zap_pid_ns_processes/);
    const ok = await freeRun(s, s.variants.find((x) => x.name === 'final-fix')!, { timeMs: 1_500 });
    expect(ok.attempts).toBeGreaterThan(0);
    expect(ok.otherFailures).toBe(0);
    expect(ok.hangs).toBe(0);
  });
});

describe('pidrace deadlock (CLI module)', () => {
  it('lists the catalog with unverified ids marked, reproduces, and rejects bad usage', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => { out.push(String(c)); return true; });
    try {
      expect(await deadlockCommand.run(['list'])).toBe(0);
      const list = out.join('');
      for (const s of CATALOG) expect(list).toContain(s.title);
      expect(list).toMatch(/6347e9009104\s+id UNVERIFIED/);
      expect(list).toMatch(/751c644b95bb\s+id UNVERIFIED/);
      expect(list).toMatch(/8fb335e07837\s+id UNVERIFIED/);
      expect(list).toMatch(/slug: ptrace-dead-tracees\s+year: 2019/);
      expect(list).toMatch(/7a  \[DESIGN STUDY, not an upstream bug\]/);
      expect(list).toMatch(/17  \[KNOWN OPEN: no fix merged, today's kernel has it\]/);
      expect(list).toMatch(/a2a8474c3fff\s+verified\s+fix/);
      expect(list).toContain('7a107c0f55a3');
      expect(list).not.toContain('b6da0076bab5');
      out.length = 0;
      expect(await deadlockCommand.run(['4', '--schedules', '50', '--quiet'])).toBe(0);
      expect(out.join('')).toMatch(/verdict: REPRODUCED/);
      expect(await deadlockCommand.run(['1', '--variant', 'final-fix', '--schedules', '30', '--quiet'])).toBe(0);
      await expect(deadlockCommand.run(['99'])).rejects.toThrow(UsageError);
      await expect(deadlockCommand.run(['1', '--variant', 'nope'])).rejects.toThrow(UsageError);
      out.length = 0;
      expect(await deadlockCommand.run(['6', '--variant', 'buggy', '--schedules', '50', '--quiet'])).toBe(0);
      expect(out.join('')).toMatch(/== 6 dead-list-after-zap[\s\S]*verdict: REPRODUCED/);
      out.length = 0;
      expect(await deadlockCommand.run(['7a', '--variant', 'fixed', '--schedules', '20', '--quiet'])).toBe(0);
      expect(out.join('')).toMatch(/== 7a qrwlock: expected clean/);
      out.length = 0;
      expect(await deadlockCommand.run(['list', '--json', '-'])).toBe(0);
      const j = JSON.parse(out.join('')) as { catalog: Array<{ id: string; kind: string; verifiedFixIds: string[]; commits: Array<{ role: string; idStatus: string; source: string | null }> }> };
      expect(j.catalog.find((e) => e.id === '7a')!.kind).toBe('design-study');
      // Entry 17 (de_thread vs ptrace_attach) has no merged fix: known-open, no verified fix id.
      expect(j.catalog.find((e) => e.id === '17')!.kind).toBe('known-open');
      expect(j.catalog.find((e) => e.id === '17')!.verifiedFixIds).toEqual([]);
      expect(j.catalog.find((e) => e.id === '16')!.verifiedFixIds).toEqual(['a2a8474c3fff']);
      for (const e of j.catalog) {
        for (const c of e.commits) {
          expect(['bug', 'fix', 'revert', 'related', 'report']).toContain(c.role);
          expect(['verified', 'unverified']).toContain(c.idStatus);
          expect(c.source).toBeTruthy();
        }
      }
      // Entries whose fix id no source confirms (4, 5, 6) say so; the rest name a verified fix.
      for (const e of j.catalog.filter((x) => x.kind === 'upstream-bug' && !['4', '5', '6'].includes(x.id))) {
        expect(e.verifiedFixIds.length, `entry ${e.id} has no verified fix id`).toBeGreaterThan(0);
      }
      await expect(deadlockCommand.run(['1', '--mode', 'sideways'])).rejects.toThrow(UsageError);
    } finally {
      spy.mockRestore();
    }
  });
});

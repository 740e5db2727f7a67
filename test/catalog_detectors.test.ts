/**
 * The catalog's verdicts come from the generic detectors that pidrace stress uses (issue 13):
 * - entry 9 (alloc_pid leaks the pid namespace, 24c037ebf572): `pidrace deadlock` finds it with the
 *   kernel audit at the quiescent end of a run; `pidrace stress` with the same bug switch reports
 *   the same kind of failure, from the same audit (kref above the references found), and none
 *   without the switch;
 * - the stall detector (src/detect/stall.ts) reads its verdict from the state: a CPU stuck on one
 *   task past the bound, a grace period the CPU holds up.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { findScenario } from '../src/scenarios/catalog.js';
import { closePools, searchSchedules } from '../src/scenarios/runner.js';
import { run_stress } from '../src/stress/run.js';
import { default_config } from '../src/stress/config.js';
import { buggyVariant, fixedVariant } from '../src/scenarios/types.js';

afterAll(async () => {
  await closePools();
});

const KREF = /^ns \d+: kref (\d+), references found (\d+)/;
const leaked = (line: string): boolean => {
  const m = KREF.exec(line);
  return !!m && Number(m[1]) > Number(m[2]);
};
const MIX = ['clone-newpid', 'setns-nsfd', 'fork', 'exit', 'wait', 'zap'];

describe('one detector for pidrace deadlock and pidrace stress', () => {
  it('entry 9: both report a leak of a pid namespace reference from the end-of-run audit', async () => {
    const s = findScenario('9')!;
    const r = await searchSchedules(s, buggyVariant(s), { seed: 1, schedules: 200, report: true });
    expect(r.asExpected).toBe(true);
    expect(r.first!.outcome).toBe('leak');
    expect(r.first!.report).toMatch(/leak audit at the quiescent end/);
    expect((r.first!.json!.audit as string[]).some(leaked)).toBe(true);

    const bug = await run_stress(default_config({ mode: 'controlled', cpus: 2, ops: 800, seed: 1, mix: MIX, bugs: ['alloc_pid_ns_leak'] }));
    expect(bug.verdict).toBe('FAILURE');
    expect(bug.failures.filter((f) => f.kind === 'audit').some((f) => leaked(f.detail)), JSON.stringify(bug.failures.slice(0, 3))).toBe(true);

    const ok = await run_stress(default_config({ mode: 'controlled', cpus: 2, ops: 800, seed: 1, mix: MIX }));
    expect(ok.failures).toEqual([]);
    const fixed = await searchSchedules(s, fixedVariant(s), { seed: 1, schedules: 50, report: true });
    expect(fixed.outcomes).toEqual({ clean: 50 });
  });

  it('entry 10: the stall detector names the spinning CPU and the grace period it holds up', async () => {
    const s = findScenario('10')!;
    const r = await searchSchedules(s, buggyVariant(s), { seed: 3, schedules: 400, report: true });
    expect(r.asExpected).toBe(true);
    expect(r.first!.outcome).toBe('stall');
    const lines = r.first!.json!.stalls as string[];
    expect(lines.some((l) => /^watchdog: BUG: soft lockup - CPU#\d+ stuck for \d+ hooks! \[R:\d+\]$/.test(l))).toBe(true);
    expect(lines).toContain('rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:');
  });
});

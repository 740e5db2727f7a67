/**
 * Catalog entry 16 (a2a8474c3fff) from both tools: `pidrace deadlock 16` finds the wait-for cycle
 * (the tracer in ptrace_attach's mutex_lock on cred_guard_mutex, its tracee stopped for
 * PTRACE_EVENT_EXEC holding it), and `pidrace stress` with the entry's switch reports a deadlock
 * with the same cycle from the same graph: the mix's execve operation traces a child's exec with
 * PTRACE_O_TRACEEXEC and attaches to it at the stop, as the entry's debugger does. Without the
 * switch the same stress run is clean. Entry 17 (known open) is today's kernel: the stress mix
 * leaves it out (a group with a traced thread does not exec), and its own scenario shows it.
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

const MIX = ['fork', 'exit', 'wait', 'execve'];
// The two-task cycle, printed from either task (the report starts the cycle where the graph walk met it).
const CYCLE = /in mutex_lock\n\s+-> waits for mutex &sig->cred_guard_mutex held by task [^\n]+\n\s+task [^\n]+: in ptrace_stop\n\s+-> waits for ptrace stop: resumed only by its tracer|in ptrace_stop\n\s+-> waits for ptrace stop: resumed only by its tracer [^\n]+\n\s+task [^\n]+: in mutex_lock\n\s+-> waits for mutex &sig->cred_guard_mutex held by/;

describe('entry 16: one detector for pidrace deadlock and pidrace stress', () => {
  it('both report the wait-for cycle mutex_lock(cred_guard_mutex) <-> ptrace_stop; neither without the switch', async () => {
    const s = findScenario('16')!;
    const r = await searchSchedules(s, buggyVariant(s), { seed: 1, schedules: 50, report: true });
    expect(r.asExpected).toBe(true);
    expect(r.first!.outcome).toBe('deadlock');
    expect(r.first!.report).toMatch(CYCLE);

    const bug = await run_stress(default_config({ mode: 'controlled', cpus: 2, ops: 800, seed: 1, mix: MIX, bugs: ['exec_traced_cred_guard'] }));
    expect(bug.verdict).toBe('FAILURE');
    const dl = bug.failures.find((f) => f.kind === 'run' && f.title === 'deadlock');
    expect(dl, JSON.stringify(bug.failures.slice(0, 2))).toBeDefined();
    expect(dl!.detail).toMatch(CYCLE);

    const ok = await run_stress(default_config({ mode: 'controlled', cpus: 2, ops: 800, seed: 1, mix: MIX }));
    expect(ok.failures).toEqual([]);
    expect(ok.stats.per_op.execve!.ok).toBeGreaterThan(50);
    const fixed = await searchSchedules(s, fixedVariant(s), { seed: 1, schedules: 30 });
    expect(fixed.outcomes).toEqual({ clean: 30 });
  });
});

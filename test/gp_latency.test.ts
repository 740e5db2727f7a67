/**
 * bench/gp_latency.ts (issue 15): the grace-period sampler of a free-running two-CPU fork loop and
 * the in-process backlog driver. What must hold whatever the host does:
 * - a CPU that switches context reports its quiescent state (rcu_note_context_switch at every
 *   switch): the sampler never charges a running grace period to a CPU that switched twice
 *   without a report;
 * - RCU really waits: with CPU 1 online and silent for B cycles, B cycles' tasks are still
 *   allocated (slab high water >= B), and with CPU 1 offline the one-CPU working set (a few).
 * Both first seen failing: rcu_note_context_switch made a no-op outside idle (the sampler charged
 * 50% of the window to "switched without reporting"), and rcu_try_complete_gp's scan made to skip
 * every other CPU (high water 4 with B = 300).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../src/machine.js';
import { forkAvailable } from '../bench/forkrate.js';
import { measureBacklogCost, measureGpStalls } from '../bench/gp_latency.js';

describe('gp_latency', () => {
  it('a CPU that switches context never holds up a grace period (free-running, 2 CPUs)', async () => {
    expect(await forkAvailable()).toBe(true);
    const w = await measureGpStalls(2, 400, 300);
    expect(w.forks).toBeGreaterThan(0);
    expect(w.ranNoReportShare).toBe(0);
    expect(w.gps).toBeGreaterThan(0);
  }, 60_000);

  it('grace periods wait for a silent online CPU: the backlog is in the slab', async () => {
    expect(await forkAvailable()).toBe(true);
    const [none, some] = measureBacklogCost([0, 300], 1, 900);
    expect(none!.taskHighWater).toBeLessThanOrEqual(8);
    expect(some!.taskHighWater).toBeGreaterThanOrEqual(300);
    expect(some!.nsPerCycle).toBeGreaterThan(0);
  }, 60_000);

  it('misuse exits 2', () => {
    const r = spawnSync(process.execPath, [join(projectRoot(), 'dist', 'bench', 'gp_latency.js'), '--cpus', '1'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage');
  });
});

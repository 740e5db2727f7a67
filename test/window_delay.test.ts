/**
 * Window delays (src/sched/hook.ts SITE_WINDOW_MIN, `pidrace stress --window-delay`): free-running,
 * a delay lands only at the hooks of the kernel's named race windows, never at a lock operation's.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { sched_hook, SITE_WINDOW_MIN } from '../src/sched/hook.js';
import { SITE_WAIT_CONSIDER } from '../src/kernel/exit.js';
import { SITE_PROC_WALK } from '../src/kernel/proc_root.js';
import { SITE_FORK_CGROUP } from '../src/kernel/fork.js';
import { default_config } from '../src/stress/config.js';
import { parse_stress_args } from '../src/cli/stress.js';

function time_hooks(site: number, n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sched_hook(site);
  return performance.now() - t0;
}

describe('window delays', () => {
  it('delay the named race windows\' hooks and no other', () => {
    expect(SITE_WAIT_CONSIDER).toBeGreaterThanOrEqual(SITE_WINDOW_MIN);
    expect(SITE_PROC_WALK).toBeGreaterThanOrEqual(SITE_WINDOW_MIN);
    expect(SITE_FORK_CGROUP).toBeGreaterThanOrEqual(SITE_WINDOW_MIN);
    const m = new Machine({ ncpus: 1, maxTasks: 16 }, { windowDelayPermille: 1000 });
    m.attach();
    // Every window hook waits up to 20 µs (10 µs on average): 2,000 of them take well over 5 ms.
    const window = time_hooks(SITE_WAIT_CONSIDER, 2000);
    // A lock operation's hook (a site below SITE_WINDOW_MIN) is a store or two.
    const lock = time_hooks(SITE_WINDOW_MIN - 1, 2000);
    expect(window).toBeGreaterThan(5);
    expect(lock).toBeLessThan(window / 4);
    // Off: the same window hooks cost nothing either.
    const off = new Machine({ ncpus: 1, maxTasks: 16 }, { windowDelayPermille: 0 });
    off.attach();
    expect(time_hooks(SITE_WAIT_CONSIDER, 2000)).toBeLessThan(window / 4);
  });

  it('are on by default in free-running stress, off in controlled mode, and --window-delay sets them', () => {
    expect(default_config({}).windowDelay).toBeGreaterThan(0);
    expect(parse_stress_args(['--window-delay', '0']).cfg.windowDelay).toBe(0);
    expect(parse_stress_args(['--window-delay', '5%']).cfg.windowDelay).toBe(50);
    expect(() => parse_stress_args(['--window-delay', '2000'])).toThrow(/--window-delay/);
    expect(() => parse_stress_args(['--mode', 'controlled', '--ops', '10', '--window-delay', '10'])).toThrow(/free-running/);
  });
});

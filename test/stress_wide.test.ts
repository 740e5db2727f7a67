/**
 * Issue 14: the one stress mix (the default) has the operations the catalog needs (threads,
 * ptrace, CLONE_PARENT, subreapers, fasync and device interrupts, alarm's timer interrupt, the
 * kprobe optimizer, io_uring-style task work), each with its weight; they run, are
 * checked by the invariants and reap everything. `--mix wide` is another name for it. And
 * `pidrace stress --list-bugs` prints the switch names of src/config/bugs.ts.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { run_stress } from '../src/stress/run.js';
import { default_config, default_mix } from '../src/stress/config.js';
import { parse_stress_args } from '../src/cli/stress.js';
import { BUG_NAMES } from '../src/config/bugs.js';
import { mix_weights, OPS } from '../src/stress/ops.js';
import { catalog_switch_sets } from '../src/stress/bug_sweep.js';
import { CATALOG } from '../src/scenarios/catalog.js';

describe('stress: the one mix', () => {
  it('the default mix has every operation, --mix wide names the same mix, the weights are the table\'s', () => {
    for (const n of ['clone-thread', 'exit-group', 'ptrace', 'clone-parent', 'subreaper', 'fasync', 'kprobe-opt', 'task-work']) expect(default_mix(), n).toContain(n);
    expect(parse_stress_args(['--mix', 'wide']).cfg.mix).toEqual(default_mix());
    expect(parse_stress_args([]).cfg.mix).toEqual(default_mix());
    // Cumulative weights: each operation's share is its weight; one left out adds nothing.
    const cum = mix_weights(['spin', 'fork']);
    const total = cum[cum.length - 1]!;
    expect(total).toBe(OPS.find((o) => o.name === 'spin')!.weight + OPS.find((o) => o.name === 'fork')!.weight);
    expect(OPS.every((o) => Number.isInteger(o.weight) && o.weight > 0)).toBe(true);
    expect(() => mix_weights(['no-such-op'])).toThrow(RangeError);
  });

  it('free-running, the issue-14 operations all ran, verdict SUCCESS (audit, leak check)', async () => {
    // An operation budget, not a duration: every operation gets its turns however loaded the host is.
    const o = await run_stress(default_config({ ops: 3_000, cpus: 2 }));
    const per = o.stats.per_op;
    for (const n of ['clone-thread', 'clone-parent', 'subreaper', 'fasync', 'kprobe-opt', 'task-work']) expect(per[n]!.ok, n).toBeGreaterThan(0);
    expect(o.verdict, o.text).toBe('SUCCESS');
  }, 60_000);

  it('--list-bugs prints the switch names', () => {
    const out = execFileSync(process.execPath, ['dist/src/cli.js', 'stress', '--list-bugs'], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual(Object.keys(BUG_NAMES));
  });

  it('--bug-sweep: the switch sets are the catalog\'s buggy variants, named by src/config/bugs.ts', () => {
    const sets = catalog_switch_sets();
    const want = new Set(CATALOG.flatMap((e) => e.variants.filter((v) => v.bugs !== 0 && v.expect !== 'clean').map((v) => v.bugs)));
    expect(new Set(sets.map((s) => s.bits))).toEqual(want);
    for (const s of sets) expect(s.names.reduce((m, n) => m | BUG_NAMES[n]!, 0), s.names.join('+')).toBe(s.bits);
  });

  it('--bug-sweep with --bug or --mode is a usage error (exit 2)', () => {
    for (const extra of [['--bug', 'zap_no_pid_wait'], ['--mode', 'controlled']]) {
      let code = 0;
      try { execFileSync(process.execPath, ['dist/src/cli.js', 'stress', '--bug-sweep', ...extra], { stdio: 'pipe' }); } catch (e) { code = (e as { status: number }).status; }
      expect(code).toBe(2);
    }
  });
});

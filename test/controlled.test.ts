/**
 * Controlled mode: one CPU at a time, every choice recorded; a replay takes the same choices and
 * ends in the same kernel state; no enabled CPU while tasks are blocked is a deadlock, reported at
 * once; replay tokens survive encoding; a failing schedule shrinks and still fails.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine } from '../src/machine.js';
import { OP_LOOP } from '../src/kernel/entry.js';
import { SYS_TORTURE_MUTEX, SYS_TORTURE_RCU_READ, SYS_TORTURE_RCU_WRITE, SYS_TORTURE_SPIN, SYS_SYNCHRONIZE_RCU } from '../src/kernel/torture.js';
import { SYS_TEST_LOCK2, TL_MUTEX_A, TL_MUTEX_B, TL_SPIN_A, TL_SPIN_B } from '../src/stress/stress_syscalls.js';
import { CHOICE_PREEMPT, CHOICE_STAY } from '../src/sched/hook.js';
import { decode_token, encode_token, read_token_arg, count_preemptions } from '../src/ctl/replay_token.js';
import { shrink_schedule } from '../src/ctl/shrink.js';
import { default_config } from '../src/stress/config.js';
import { run_stress } from '../src/stress/run.js';
import { replay_stress, shrink_stress } from '../src/stress/replay_stress.js';

/** A torture workload on kernel threads: spin, mutex (sleeps), RCU reader/writer, synchronize_rcu. */
function torture_machine(seed: number, ncpus = 3): Machine {
  const m = new Machine({ ncpus, maxTasks: 32, choiceWords: 1 << 18 }, { mode: 'controlled', seed });
  const a = m.program([[SYS_TORTURE_SPIN], [SYS_TORTURE_MUTEX], [SYS_TORTURE_RCU_READ], [OP_LOOP, 0, 60]], 'worker');
  const b = m.program([[SYS_TORTURE_RCU_WRITE], [SYS_SYNCHRONIZE_RCU], [SYS_TORTURE_MUTEX], [OP_LOOP, 0, 40]], 'writer');
  for (let i = 0; i < ncpus; i++) m.kthread(a, i);
  m.kthread(b, 1);
  return m;
}

describe('controlled mode: record and replay', () => {
  it('a replay of the recorded choices takes the same decisions and ends in the same state (random and PCT)', async () => {
    for (const strategy of ['random', 'pct'] as const) {
      const m1 = torture_machine(11);
      const r1 = await m1.run({ timeoutMs: 30_000, control: { strategy, pctDepth: 3, pctSteps: 2000 } });
      expect(r1.state).toBe('stopped');
      const rec = m1.recordedChoices();
      const h1 = m1.stateHash();
      expect(rec.length).toBe(r1.control!.decisions);
      expect(r1.control!.decisions).toBeGreaterThan(100);

      const m2 = torture_machine(11);
      const r2 = await m2.run({ timeoutMs: 30_000, control: { strategy, replay: rec } });
      expect(r2.state).toBe('stopped');
      expect(Buffer.compare(Buffer.from(m2.recordedChoices()), Buffer.from(rec))).toBe(0);
      expect(m2.stateHash()).toBe(h1);
      expect(r2.control!.switches).toBe(r1.control!.switches);
    }
  });

  it('another seed takes other decisions (the hash is not a constant)', async () => {
    const a = torture_machine(1);
    await a.run({ timeoutMs: 30_000, control: { strategy: 'random' } });
    const b = torture_machine(2);
    await b.run({ timeoutMs: 30_000, control: { strategy: 'random' } });
    expect(a.stateHash()).not.toBe(b.stateHash());
  });

  it('PCT runs the highest-priority enabled CPU: far fewer switches than uniform random', async () => {
    const p = torture_machine(5);
    const rp = await p.run({ timeoutMs: 30_000, control: { strategy: 'pct', pctDepth: 3, pctSteps: 500 } });
    const u = torture_machine(5);
    const ru = await u.run({ timeoutMs: 30_000, control: { strategy: 'random' } });
    expect(rp.state).toBe('stopped');
    expect(ru.state).toBe('stopped');
    // Under PCT a switch happens when the running CPU can not go on, a higher-priority one
    // becomes able to, or at one of the d - 1 change points; random switches at most decisions.
    expect(rp.control!.switches * 5).toBeLessThan(ru.control!.switches);
  });
});

describe('controlled mode: deadlock is exact and immediate', () => {
  async function ab_ba(first: number, second: number, maxSeeds = 30): Promise<{ m: Machine; r: Awaited<ReturnType<Machine['run']>>; seed: number }> {
    for (let seed = 1; seed <= maxSeeds; seed++) {
      const m = new Machine({ ncpus: 2, maxTasks: 16, choiceWords: 1 << 12 }, { mode: 'controlled', seed });
      m.kthread(m.program([[SYS_TEST_LOCK2, first, second]], 'lock_ab'), 0);
      m.kthread(m.program([[SYS_TEST_LOCK2, second, first]], 'lock_ba'), 1);
      const r = await m.run({ timeoutMs: 10_000, control: { strategy: 'random' } });
      expect(['stopped', 'deadlock']).toContain(r.state);
      if (r.state === 'deadlock') return { m, r, seed };
    }
    throw new Error(`no deadlock in ${maxSeeds} seeds`);
  }

  it('two tasks taking two mutexes in opposite order: deadlock, with the tasks and mutexes named', async () => {
    const { r } = await ab_ba(TL_MUTEX_A, TL_MUTEX_B);
    expect(r.elapsedMs).toBeLessThan(5_000);
    const g = r.stuck!.graph;
    expect(g.cycles).toHaveLength(1);
    const cyc = g.cycles[0]!.map((k) => g.nodes.find((n) => n.key === k)!);
    expect(cyc.map((n) => n.task!.name).sort()).toEqual(['lock_ab', 'lock_ba']);
    for (const n of cyc) {
      expect(n.kind).toBe('task');
      expect(n.task!.wchan).toBe('mutex_lock');
      expect(n.holds.map((h) => h.cls)).toHaveLength(1);
    }
    const ab = cyc.find((n) => n.task!.name === 'lock_ab')!;
    expect(ab.holds[0]!.cls).toBe('test_mutex_a');
    expect(g.edges.find((e) => e.from === ab.key)!.why).toBe('mutex test_mutex_b');
    expect(r.stuck!.text).toMatch(/INFO: task lock_ab:t\d+ blocked for more than/);
    expect(r.stuck!.text).toContain('1 lock held by lock_ab/');
    expect(r.stuck!.text).toContain('(test_mutex_a){mutex}');
    expect(r.stuck!.text).toContain('DEADLOCK: 1 wait-for cycle');
  });

  it('two CPUs spinning on each other\'s spinlocks: deadlock between the CPUs', async () => {
    const { r } = await ab_ba(TL_SPIN_A, TL_SPIN_B);
    const g = r.stuck!.graph;
    expect(g.cycles).toHaveLength(1);
    const cyc = g.cycles[0]!.map((k) => g.nodes.find((n) => n.key === k)!);
    expect(cyc.map((n) => n.kind)).toEqual(['cpu', 'cpu']);
    expect(cyc.map((n) => n.task!.name).sort()).toEqual(['lock_ab', 'lock_ba']);
    const held = cyc.map((n) => n.holds[0]!.cls).sort();
    expect(held).toEqual(['test_spin_a', 'test_spin_b']);
    expect(r.stuck!.text).toContain('watchdog: BUG: soft lockup - CPU#');
  });

  it('the deadlocking schedule replays to the same deadlock', async () => {
    const { m, r, seed } = await ab_ba(TL_MUTEX_A, TL_MUTEX_B);
    const rec = m.recordedChoices();
    const m2 = new Machine({ ncpus: 2, maxTasks: 16, choiceWords: 1 << 12 }, { mode: 'controlled', seed: seed + 1000 });
    m2.kthread(m2.program([[SYS_TEST_LOCK2, TL_MUTEX_A, TL_MUTEX_B]], 'lock_ab'), 0);
    m2.kthread(m2.program([[SYS_TEST_LOCK2, TL_MUTEX_B, TL_MUTEX_A]], 'lock_ba'), 1);
    const r2 = await m2.run({ timeoutMs: 10_000, control: { strategy: 'random', replay: rec } });
    expect(r2.state).toBe('deadlock');
    expect(r2.control!.decisions).toBe(r.control!.decisions);
    expect(m2.stateHash(m2.snapshot)).toBe(m.stateHash(m.snapshot));
  });
});

describe('replay tokens', () => {
  it('encode and decode round-trip; a file with the token or a JSON report is read too', () => {
    const choices = new Uint8Array([0, 1 | CHOICE_PREEMPT, 2, CHOICE_STAY, 1]);
    const tok = encode_token({ v: 1, kind: 'stress', config: { cpus: 3, seed: 9 }, seed: 9, strategy: 'pct', ncpus: 3, tail: 'nonpreempt', expect: { state: 'stopped', hash: 'abcd', failure: '' }, choices });
    expect(tok.startsWith('pidrace1.')).toBe(true);
    expect(tok).toMatch(/^[A-Za-z0-9._-]+$/);
    const t = decode_token(tok);
    expect(Array.from(t.choices)).toEqual(Array.from(choices));
    expect(t.config).toEqual({ cpus: 3, seed: 9 });
    expect(count_preemptions(t.choices)).toBe(1);
    const dir = mkdtempSync(join(tmpdir(), 'pidrace-'));
    writeFileSync(join(dir, 't.txt'), tok + '\n');
    writeFileSync(join(dir, 'r.json'), JSON.stringify({ tool: 'pidrace', replay: { token: tok } }));
    expect(read_token_arg(join(dir, 't.txt')).seed).toBe(9);
    expect(read_token_arg(join(dir, 'r.json')).strategy).toBe('pct');
    expect(() => decode_token('pidrace1.AAAA')).toThrow(/damaged/);
    expect(() => read_token_arg(join(dir, 'nope'))).toThrow(/neither a replay token nor a readable file/);
  });
});

describe('shrinking', () => {
  it('a synthetic failure shrinks to its essential preemption', async () => {
    // "Fails" when the schedule ever switches from CPU 0 to 2: the shrinker keeps one preemption.
    const runner = async (replay: Uint8Array): Promise<{ signature: string; choices: Uint8Array }> => {
      const out: number[] = [];
      let cur = 0;
      for (let i = 0; i < 200; i++) {
        const c = i < replay.length ? replay[i]! & 0x7f : 0x7f;
        const next = c === 0x7f ? cur : c;
        out.push(next | (next !== cur ? CHOICE_PREEMPT : 0));
        cur = next;
      }
      const fails = out.some((c, i) => i > 0 && (out[i - 1]! & 0x7f) === 0 && (c & 0x7f) === 2);
      return { signature: fails ? 'boom' : '', choices: Uint8Array.from(out) };
    };
    const noisy = Uint8Array.from({ length: 200 }, (_, i) => [0, 1, 0, 2, 1, 2][i % 6]! | CHOICE_PREEMPT);
    const r = await shrink_schedule(noisy, runner, { maxRuns: 200 });
    expect(r.signature).toBe('boom');
    expect(r.shrunk.preemptions).toBe(1);
    expect(r.shrunk.preemptions).toBeLessThan(count_preemptions(noisy));
  });

  it('a planted RCU bug (writer frees without a grace period): FAILURE, the token replays it exactly, the shrunk schedule is shorter and still fails', async () => {
    const cfg = default_config({ mode: 'controlled', cpus: 3, ops: 300, seed: 3, mix: ['rcu-read', 'rcu-write', 'spin', 'mutex'], plant: ['busted-rcu'] });
    const o = await run_stress(cfg);
    expect(o.verdict).toBe('FAILURE');
    expect(o.signature).toBe('violation: RCU reader saw a freed object');
    const tok = decode_token(o.token!);
    const { outcome, match } = await replay_stress(tok);
    expect(match).toEqual({ state: true, hash: true, failure: true, exact: true });
    expect(outcome.signature).toBe(o.signature);
    // Bounded by runs, not by time: each replay is deterministic, so the shrunk schedule is the same
    // on any host (a 20 s budget let a loaded host stop before the first improvement).
    const s = await shrink_stress(tok, { maxRuns: 10, timeMs: 600_000 });
    expect(s.outcome.signature).toBe(o.signature);
    expect(s.shrink.shrunk.preemptions).toBeLessThan(s.shrink.original.preemptions);
    expect(s.shrink.shrunk.decisions).toBeLessThan(s.shrink.original.decisions);
    const again = await replay_stress(decode_token(s.token));
    expect(again.match).toEqual({ state: true, hash: true, failure: true, exact: true });
  });
});

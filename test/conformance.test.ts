// Differential conformance: the fixed corpus (test/conformance/*.txt) and
// 60 random sequences (200 with PIDRACE_SLOW_TESTS=1) (src/conformance/generate.ts, fast-check) run on the
// REAL kernel (native/pidns_driver.c) and on the model; every result record
// must agree field by field (src/conformance/compare.ts says what is compared
// and why), and both sides must keep the namespace rules (no task enters a pid
// namespace that is not its active one or a descendant, no task sees a pid
// outside its view).  The corpus files also carry the real kernel's expected
// results (`#=> {...}`), checked on the real side.
//
// Skips, with the reason in the suite name, when the oracle cannot run (not
// root, no C compiler, not Linux).  Budget: about a minute (driver runs are
// ~10 ms; the slow parts are the deliberate 2 s hangs/timeouts in the corpus).
import { describe, expect, it } from 'vitest';
import { findProjectRoot } from '../src/native/build.js';
import { realKernelAvailability } from '../src/conformance/real.js';
import { modelRunner } from '../src/conformance/model.js';
import {
  corpusDir,
  corpusProblems,
  describeOutcome,
  loadCorpus,
  pool,
  realRunner,
  runRandom,
  runSequence,
  type SequenceOutcome,
} from '../src/conformance/run.js';
import { generateScript, interpret, sampleSteps, type Clone3Note } from '../src/conformance/generate.js';
import { formatScript } from '../src/conformance/script.js';

const avail = realKernelAvailability();
const skip = avail.ok ? '' : ` [SKIPPED: real-kernel oracle unavailable: ${avail.reason}]`;
const model = modelRunner();
const modelNote = model ? '' : ' [model API missing: real kernel only]';
const real = avail.ok ? realRunner(avail.path, 60_000) : undefined;
const cases = loadCorpus(corpusDir(findProjectRoot() ?? process.cwd()));

/**
 * Random sequences run by `npm test` (fixed seeds: reproducible; the default run is a prefix of the
 * long one). 200 take 90 s of a loaded 2-core host: the default suite runs 60, PIDRACE_SLOW_TESTS=1
 * the 200 (`npm run conformance` runs any number).
 */
const RANDOM_SEQUENCES = process.env.PIDRACE_SLOW_TESTS === '1' ? 200 : 60;
const RANDOM_SEED = 20_251_123;

describe('conformance generator', () => {
  it('is deterministic per seed and emits only well-formed scripts', () => {
    for (let seed = 0; seed < 50; seed++) {
      const a = formatScript(generateScript(seed));
      expect(formatScript(generateScript(seed))).toBe(a);
      expect(a.endsWith('state\n')).toBe(true);
    }
  });

  it('never emits a clone3 set_tid array that could reach the host level', () => {
    // The tree root is level 1 of the real machine: an array of exactly (child level + 2) entries
    // would name a pid of the host.  Arrays are 1..level+1 long when the shadow is sure of the
    // level, a single entry when it is not, or beyond the limits (level+3, or > 32: EINVAL).
    let long = 0;
    for (let seed = 0; seed < 500; seed++) {
      const notes: Clone3Note[] = [];
      const ops = interpret(sampleSteps(seed), {}, notes);
      for (const n of notes) {
        const o = ops[n.i];
        if (o?.op !== 'clone3') throw new Error('note does not point at a clone3');
        const len = o.setTid.length;
        if (len <= 1 || len > 32) continue;
        long++;
        expect(n.sure, `seed ${seed} op ${n.i}`).toBe(true);
        expect(len === n.childLevel + 2, `seed ${seed} op ${n.i}: ${len} entries at level ${n.childLevel}`).toBe(false);
      }
    }
    expect(long).toBeGreaterThan(50);
  });

  it('covers every op kind and several errno paths over 300 seeds', () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 300; seed++) for (const o of generateScript(seed)) seen.add(o.op);
    for (const k of ['fork', 'clone3', 'unshare', 'dropcaps', 'exit', 'wait', 'kill', 'openns', 'pidfd', 'setns', 'close', 'lastpid_read', 'lastpid_write', 'getpid', 'getppid', 'nspid', 'reboot', 'state', 'memfd', 'samefile'])
      expect(seen, k).toContain(k);
  });
});

describe(`conformance corpus: real kernel${modelNote} (${cases.length} cases)${skip}`, () => {
  it('has a corpus', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  it.skipIf(!avail.ok)('every case: the real kernel gives the documented results, and the model agrees (or differs as documented)', async () => {
    const outcomes = await pool(cases, 4, async (c) => ({ c, s: await runSequence(c.ops, { real: real!, ...(model ? { model } : {}), confirm: false }) }));
    const problems: string[] = [];
    for (const { c, s } of outcomes) {
      const p = corpusProblems(c, s);
      if (p.length) problems.push(`${c.name}:\n${p.join('\n')}`);
      // every errno a case documents was really produced
      for (const [i, want] of c.expect)
        if (typeof want['errno'] === 'string') expect(s.real?.results?.[i]?.errno, `${c.name} op ${i}`).toBe(want['errno']);
    }
    const differs = cases.filter((c) => c.modelDiffers !== undefined).map((c) => `${c.name}: ${c.modelDiffers}`);
    if (differs.length) console.log(`documented model differences (cases kept, model must still differ):\n  ${differs.join('\n  ')}`);
    expect(problems, problems.join('\n\n')).toEqual([]);
  }, 90_000);
});

describe(`conformance: ${RANDOM_SEQUENCES} random sequences, real kernel${modelNote}${skip}`, () => {
  it.skipIf(!avail.ok)(`seeds ${RANDOM_SEED}.. agree`, async () => {
    const rep = await runRandom({
      sequences: RANDOM_SEQUENCES,
      seed: RANDOM_SEED,
      real: real!,
      ...(model ? { model } : {}),
      width: 3,
      shrink: model !== undefined,
      shrinkBudgetMs: 20_000,
      maxFailures: 3,
    });
    const msg = rep.failed
      .map((f) => {
        const s: SequenceOutcome = f.shrunk?.outcome ?? f.outcome;
        return `seed ${f.seed}${f.shrunk ? ` (shrunk to ${s.ops.length} ops)` : ''}:\n${formatScript(s.ops)}${describeOutcome(s)}`;
      })
      .join('\n\n');
    expect(rep.failed, msg).toEqual([]);
    expect(rep.sequences).toBe(RANDOM_SEQUENCES);
    // The driver bounds its observations in time (a ping 500 ms, an exit 2 s): on a machine loaded
    // by the other test files a run can miss one.  Such a run is re-run; one that still cannot be
    // reproduced is reported, and only many of them fail the test (the oracle would be broken).
    const flakes = rep.flakes.map((f) => `seed ${f.seed}:\n${describeOutcome(f.outcome)}`).join('\n\n');
    if (rep.flaky + rep.retried > 0) console.log(`real-kernel timing flukes: ${rep.retried} re-run and agreed, ${rep.flaky} not reproducible\n${flakes}`);
    expect(rep.flaky, flakes).toBeLessThanOrEqual(2);
  }, 240_000);
});

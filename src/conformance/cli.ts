// npm run conformance -- [--sequences N] [--seed S] [--width W] [--steps MAX] [--corpus]
//                        [--real-only] [--no-shrink] [--max-failures K] [--out DIR]
//
// Runs N random sequences (seeds S .. S+N-1, see generate.ts) on the real
// kernel (native/pidns_driver.c, needs root and cc) and on the model, and
// prints the agreement figures.  Every disagreement is shrunk (fast-check,
// then a greedy pass over the concrete ops) and saved as
// test/conformance/found-<hash>.txt, which the test suite then runs as a
// fixed case.  --corpus also runs the fixed corpus first.  --real-only runs
// the real kernel alone (invariant checks only).  Exit status 1 when any
// sequence disagrees or breaks an invariant, 2 when the oracle cannot run.
import { join } from 'node:path';
import { findProjectRoot } from '../native/build.js';
import { corpusDir, corpusProblems, describeOutcome, loadCorpus, pool, realRunner, runRandom, runSequence, saveFound, type Runner } from './run.js';
import { realKernelAvailability } from './real.js';
import { modelRunner } from './model.js';
import { formatScript } from './script.js';

interface Args {
  sequences: number;
  seed: number;
  width: number;
  steps: number;
  corpus: boolean;
  realOnly: boolean;
  shrink: boolean;
  maxFailures: number;
  out: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { sequences: 1000, seed: 1, width: 3, steps: 40, corpus: false, realOnly: false, shrink: true, maxFailures: 5, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    const num = (): number => {
      const s = v();
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${k}: not a non-negative integer: ${s}`);
      return n;
    };
    switch (k) {
      case '--sequences':
      case '-n':
        a.sequences = num();
        break;
      case '--seed':
        a.seed = num();
        break;
      case '--width':
        a.width = Math.max(1, num());
        break;
      case '--steps':
        a.steps = Math.max(1, num());
        break;
      case '--corpus':
        a.corpus = true;
        break;
      case '--real-only':
        a.realOnly = true;
        break;
      case '--no-shrink':
        a.shrink = false;
        break;
      case '--max-failures':
        a.maxFailures = Math.max(1, num());
        break;
      case '--out':
        a.out = v();
        break;
      case '--help':
      case '-h':
        console.log(
          'usage: npm run conformance -- [--sequences N] [--seed S] [--width W] [--steps MAX] [--corpus] [--real-only] [--no-shrink] [--max-failures K] [--out DIR]',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${k}`);
    }
  }
  return a;
}

const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const avail = realKernelAvailability();
  if (!avail.ok) {
    console.log(`conformance: SKIPPED: the real-kernel oracle cannot run here: ${avail.reason}`);
    return 2;
  }
  const real: Runner = realRunner(avail.path);
  const model: Runner | undefined = args.realOnly ? undefined : modelRunner();
  const root = findProjectRoot() ?? process.cwd();
  const outDir = args.out ?? corpusDir(root);
  let bad = 0;

  if (args.corpus) {
    const cases = loadCorpus(corpusDir(root));
    const t0 = performance.now();
    const res = await pool(cases, args.width, async (c) => ({ c, s: await runSequence(c.ops, { real, ...(model ? { model } : {}) }) }));
    let ok = 0;
    let differs = 0;
    for (const { c, s } of res) {
      const p = corpusProblems(c, s);
      if (p.length === 0) {
        ok++;
        if (c.modelDiffers !== undefined) {
          differs++;
          console.log(`corpus ${c.name}: documented difference (${c.modelDiffers}):\n${describeOutcome(s).replace(/^/gm, '  ')}`);
        }
      } else {
        bad++;
        console.log(`corpus ${c.name}: FAIL\n${p.join('\n').replace(/^/gm, '  ')}`);
      }
    }
    console.log(`corpus: ${ok}/${cases.length} cases as documented, ${differs} of them documented model differences (${sec(performance.now() - t0)})`);
  }

  const gen = { maxSteps: args.steps };
  let last = 0;
  const rep = await runRandom({
    sequences: args.sequences,
    seed: args.seed,
    gen,
    real,
    ...(model ? { model } : {}),
    width: args.width,
    shrink: args.shrink && model !== undefined,
    maxFailures: args.maxFailures,
    onProgress: (done, failed) => {
      if (done - last >= 500 || done === args.sequences) {
        last = done;
        process.stderr.write(`  ${done}/${args.sequences} sequences, ${failed} failing\n`);
      }
    },
  });
  console.log(
    `random: ${rep.sequences} sequences (seeds ${args.seed}..${args.seed + rep.sequences - 1}), ${rep.ops} ops: ` +
      `${rep.agreed} agree${model ? '' : ' (real kernel only: invariants)'}${rep.retried ? ` (${rep.retried} after a real-kernel re-run)` : ''}, ${rep.failed.length} fail, ${rep.flaky} flaky (real kernel not reproducible), ` +
      `${rep.slow} with a 2 s wait/hang; wall ${sec(rep.wallMs)}, real kernel ${sec(rep.realMs)}, model ${sec(rep.modelMs)}`,
  );
  for (const f of rep.flakes) console.log(`\nseed ${f.seed} (flaky real kernel): ${describeOutcome(f.outcome)}`);
  for (const f of rep.failed) {
    bad++;
    console.log(`\nseed ${f.seed}: ${describeOutcome(f.outcome)}`);
    if (f.shrunk) {
      const path = saveFound(outDir, f.shrunk.ops, [
        `found by: npm run conformance -- --seed ${f.seed} --sequences 1 --steps ${args.steps}`,
        `shrunk from ${f.outcome.ops.length} to ${f.shrunk.ops.length} ops in ${f.shrunk.runs} runs`,
        describeOutcome(f.shrunk.outcome),
      ]);
      console.log(`shrunk to ${f.shrunk.ops.length} ops (${f.shrunk.runs} runs), saved as ${join(path)}:\n${formatScript(f.shrunk.ops)}${describeOutcome(f.shrunk.outcome)}`);
    } else {
      console.log(formatScript(f.outcome.ops));
    }
  }
  return bad > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(2);
  },
);

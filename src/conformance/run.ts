// Differential runs: one script on the real kernel (pidns_driver) and on the
// model, compared (compare.ts); the fixed corpus (test/conformance/*.txt);
// random sequences from generate.ts with fast-check shrinking.  Used by
// test/conformance.test.ts and by the CLI (src/conformance/cli.ts).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { checkInvariants, compareResults, formatDiffs, sameValue, type Comparison, type Violation } from './compare.js';
import { interpret, sampleSteps, stepsArb, type ArbOptions, type Step } from './generate.js';
import { runOnRealKernel, RealKernelError } from './real.js';
import { formatOp, formatScript, parseOpLine, type Op, type OpResult } from './script.js';

/** Something that runs a script: the real kernel or the model. */
export type Runner = (ops: readonly Op[]) => Promise<OpResult[]> | OpResult[];

export interface SideResult {
  results?: OpResult[];
  /** the run itself failed (driver killed, model threw) */
  failure?: string;
  ms: number;
}

export interface SequenceOutcome {
  ops: Op[];
  lines: string[];
  real?: SideResult;
  model?: SideResult;
  comparison?: Comparison;
  /** invariant violations, per side */
  violations: { side: 'real' | 'model'; v: Violation }[];
  /** the real kernel gave different results on a re-run (timing-dependent) */
  flaky?: boolean;
  /** the first real run disagreed, a re-run agreed with the model (a timing fluke of the first run) */
  retried?: boolean;
  /** for flaky/retried outcomes: how the real re-runs differed from the first run */
  rerunDiffs?: string;
  ok: boolean;
}

export function scriptLines(ops: readonly Op[]): string[] {
  return ops.map(formatOp);
}

async function runSide(run: Runner, ops: readonly Op[]): Promise<SideResult> {
  const t0 = performance.now();
  try {
    const results = await run(ops);
    return { results, ms: performance.now() - t0 };
  } catch (e) {
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const partial = e instanceof RealKernelError ? e.partial : undefined;
    return { failure: msg, ...(partial ? { results: partial } : {}), ms: performance.now() - t0 };
  }
}

export interface SequenceOptions {
  real?: Runner;
  model?: Runner;
  /**
   * On a disagreement, re-run the real side (up to twice) to tell the
   * driver's timing flukes (a ping or exit not seen within its bounds on a
   * loaded machine) from real disagreements.  Default true.
   */
  confirm?: boolean;
}

/** Run one script on the available sides; compare; check invariants. */
export async function runSequence(ops: readonly Op[], o: SequenceOptions): Promise<SequenceOutcome> {
  const lines = scriptLines(ops);
  const out: SequenceOutcome = { ops: [...ops], lines, violations: [], ok: true };
  const [real, model] = await Promise.all([
    o.real ? runSide(o.real, ops) : Promise.resolve(undefined),
    o.model ? runSide(o.model, ops) : Promise.resolve(undefined),
  ]);
  if (real) out.real = real;
  if (model) out.model = model;
  if (real?.failure !== undefined || model?.failure !== undefined) out.ok = false;
  for (const [side, r] of [
    ['real', real],
    ['model', model],
  ] as const) {
    if (r?.results) for (const v of checkInvariants(ops, lines, r.results)) out.violations.push({ side, v });
  }
  if (out.violations.length > 0) out.ok = false;
  if (real?.results && model?.results && real.failure === undefined && model.failure === undefined) {
    out.comparison = compareResults(ops, lines, real.results, model.results);
    if (!out.comparison.agree) {
      out.ok = false;
      if ((o.confirm ?? true) && o.real) {
        for (let k = 0; k < 2; k++) {
          const again = await runSide(o.real, ops);
          if (!again.results || again.failure !== undefined) continue;
          if (sameValue(again.results, real.results)) continue;
          const c = compareResults(ops, lines, again.results, model.results);
          out.rerunDiffs = formatDiffs(compareResults(ops, lines, real.results, again.results));
          if (c.agree) {
            // the first real run was the odd one out
            out.retried = true;
            out.ok = out.violations.length === 0;
            out.comparison = c;
            break;
          }
          out.flaky = true;
        }
      }
    }
  }
  return out;
}

export function describeOutcome(s: SequenceOutcome): string {
  const parts: string[] = [];
  if (s.real?.failure) parts.push(`real kernel run failed: ${s.real.failure}`);
  if (s.model?.failure) parts.push(`model run failed: ${s.model.failure}`);
  for (const { side, v } of s.violations) parts.push(`${side}: ${v.rule} at op ${v.i} \`${v.line}\`: ${v.detail}`);
  if (s.comparison && !s.comparison.agree) parts.push(`disagreement:\n${formatDiffs(s.comparison)}`);
  if (s.flaky) parts.push('(the real kernel itself gave different results on a re-run: timing-dependent)');
  if (s.rerunDiffs) parts.push(`real kernel first run vs re-run:\n${s.rerunDiffs}`);
  return parts.join('\n');
}

// ------------------------------------------------------------------ corpus

export interface CorpusCase {
  name: string;
  file: string;
  ops: Op[];
  lines: string[];
  /** op index -> fields the real kernel's result must have (`#=> {json}` after the op) */
  expect: Map<number, Record<string, unknown>>;
  /** header comment lines (what the case covers) */
  about: string[];
  /**
   * `# model-differs: REASON` in the header: a documented disagreement (the
   * model lacks what the kernel does).  The real kernel must still give the
   * file's results and the model must still DISAGREE: when it agrees, the
   * marker is stale and the test says so.
   */
  modelDiffers?: string;
}

/** Parse a corpus file: a script whose op lines may end in `#=> {json}`. */
export function parseCorpus(name: string, text: string, file = name): CorpusCase {
  const c: CorpusCase = { name, file, ops: [], lines: [], expect: new Map(), about: [] };
  text.split('\n').forEach((raw, idx) => {
    const line = raw.trim();
    if (line.startsWith('#')) {
      if (c.ops.length === 0) {
        const m = /^#\s*model-differs:\s*(.*)$/.exec(line);
        if (m) c.modelDiffers = m[1]!.trim();
        else c.about.push(line.replace(/^#\s?/, ''));
      }
      return;
    }
    let op: Op | undefined;
    try {
      op = parseOpLine(raw);
    } catch (e) {
      throw new Error(`${file}:${idx + 1}: ${(e as Error).message}`);
    }
    if (op === undefined) return;
    const k = raw.indexOf('#=>');
    if (k >= 0) {
      try {
        c.expect.set(c.ops.length, JSON.parse(raw.slice(k + 3).trim()) as Record<string, unknown>);
      } catch (e) {
        throw new Error(`${file}:${idx + 1}: bad expectation JSON: ${(e as Error).message}`);
      }
    }
    c.ops.push(op);
    c.lines.push(formatOp(op));
  });
  return c;
}

export function corpusDir(root: string): string {
  return join(root, 'test', 'conformance');
}

export function loadCorpus(dir: string): CorpusCase[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => parseCorpus(f.replace(/\.txt$/, ''), readFileSync(join(dir, f), 'utf8'), join(dir, f)));
}

/** Fields of `want` the result `got` does not match (exact per field; objects/arrays compared whole). */
export function unmetExpectations(got: OpResult | undefined, want: Record<string, unknown>): string[] {
  if (got === undefined) return ['(no result)'];
  const g = got as unknown as Record<string, unknown>;
  return Object.keys(want)
    .filter((k) => !sameValue(g[k], want[k]))
    .map((k) => `${k}: expected ${JSON.stringify(want[k])}, got ${JSON.stringify(g[k])}`);
}

/** Problems of one corpus case's outcome (empty: as documented). */
export function corpusProblems(c: CorpusCase, s: SequenceOutcome): string[] {
  const out: string[] = [];
  const unmet = [...c.expect].flatMap(([i, want]) => unmetExpectations(s.real?.results?.[i], want).map((u) => `op ${i} \`${c.lines[i]}\`: ${u}`));
  if (unmet.length) out.push(`the real kernel differs from the file:\n  ${unmet.join('\n  ')}`);
  if (s.real?.failure) out.push(`real kernel run failed: ${s.real.failure}`);
  if (s.model?.failure) out.push(`model run failed: ${s.model.failure}`);
  for (const { side, v } of s.violations) out.push(`${side}: ${v.rule} at op ${v.i} \`${v.line}\`: ${v.detail}`);
  if (s.comparison) {
    if (c.modelDiffers === undefined && !s.comparison.agree) out.push(`disagreement:\n${formatDiffs(s.comparison)}`);
    if (c.modelDiffers !== undefined && s.comparison.agree)
      out.push(`the model now agrees with the kernel: remove the "model-differs" line (${c.modelDiffers})`);
  }
  return out;
}

// ------------------------------------------------------------ concurrency

export async function pool<T, R>(items: readonly T[], width: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(width, items.length)) }, worker));
  return out;
}

// --------------------------------------------------------------- shrinking

export interface ShrinkResult {
  ops: Op[];
  outcome: SequenceOutcome;
  /** property evaluations spent */
  runs: number;
}

/**
 * Shrink a failing random sequence: fast-check first (on the abstract steps
 * of `seed`, the same value the sequence was generated from), then a greedy
 * pass that drops concrete ops one at a time while the failure persists.
 */
export async function shrinkSequence(seed: number, gen: ArbOptions, o: SequenceOptions, budgetMs = 120_000): Promise<ShrinkResult | undefined> {
  const deadline = Date.now() + budgetMs;
  // fast-check gets half the budget, the greedy pass over concrete ops the rest
  const fcDeadline = Date.now() + budgetMs / 2;
  let runs = 0;
  let last: SequenceOutcome | undefined;
  const fails = async (ops: readonly Op[]): Promise<SequenceOutcome | undefined> => {
    runs++;
    const s = await runSequence(ops, { ...o, confirm: false });
    return s.ok ? undefined : s;
  };
  const prop = fc.asyncProperty(stepsArb(gen), async (steps: Step[]) => {
    if (Date.now() > fcDeadline) return true; // out of budget: stop shrinking here
    const s = await fails(interpret(steps, gen));
    if (s) last = s;
    return s === undefined;
  });
  const r = await fc.check(prop, { seed, numRuns: 1 });
  if (!r.failed || last === undefined) return undefined;
  let best = last;
  // greedy: drop ops (keep the final `state` if present only when needed)
  let ops = [...best.ops];
  for (let changed = true; changed && Date.now() < deadline; ) {
    changed = false;
    for (let i = ops.length - 1; i >= 0 && Date.now() < deadline; i--) {
      const cand = ops.filter((_, j) => j !== i);
      if (cand.length === 0) continue;
      const s = await fails(cand);
      if (s) {
        ops = cand;
        best = s;
        changed = true;
      }
    }
  }
  return { ops, outcome: best, runs };
}

/** Save a shrunk failing script as test/conformance/found-<hash>.txt; returns the path. */
export function saveFound(dir: string, ops: readonly Op[], header: string[]): string {
  mkdirSync(dir, { recursive: true });
  const text = formatScript(ops);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 10);
  const path = join(dir, `found-${hash}.txt`);
  const head = header.flatMap((l) => l.split('\n')).map((l) => `# ${l}`.trimEnd());
  writeFileSync(path, `${head.join('\n')}\n${text}`);
  return path;
}

// ------------------------------------------------------------ random runs

export interface RandomRunOptions extends SequenceOptions {
  sequences: number;
  seed: number;
  gen?: ArbOptions;
  /** concurrent sequences (driver processes) */
  width?: number;
  /** shrink disagreements (default true when both sides run) */
  shrink?: boolean;
  shrinkBudgetMs?: number;
  onProgress?: (done: number, failed: number) => void;
  /** stop after this many failing sequences (default 5) */
  maxFailures?: number;
}

export interface RandomFailure {
  seed: number;
  outcome: SequenceOutcome;
  shrunk?: ShrinkResult;
}

export interface RandomRunReport {
  sequences: number;
  ops: number;
  agreed: number;
  failed: RandomFailure[];
  flaky: number;
  /** flaky ones, with how the real runs differed */
  flakes: { seed: number; outcome: SequenceOutcome }[];
  /** agreed after a real-kernel re-run (the first run was a timing fluke) */
  retried: number;
  /** sequences containing a real-kernel timeout (blocking wait) or hang */
  slow: number;
  realMs: number;
  modelMs: number;
  wallMs: number;
}

export async function runRandom(o: RandomRunOptions): Promise<RandomRunReport> {
  const t0 = performance.now();
  const gen = o.gen ?? {};
  const rep: RandomRunReport = { sequences: 0, ops: 0, agreed: 0, failed: [], flaky: 0, flakes: [], retried: 0, slow: 0, realMs: 0, modelMs: 0, wallMs: 0 };
  const seeds = Array.from({ length: o.sequences }, (_, i) => o.seed + i);
  const maxFailures = o.maxFailures ?? 5;
  let stop = false;
  await pool(seeds, o.width ?? 3, async (seed) => {
    if (stop) return;
    const ops = interpret(sampleSteps(seed, gen), gen);
    const s = await runSequence(ops, o);
    rep.sequences++;
    rep.ops += ops.length;
    rep.realMs += s.real?.ms ?? 0;
    rep.modelMs += s.model?.ms ?? 0;
    if ((s.real?.results ?? []).some((r) => r.timeout === true || (r.hung?.length ?? 0) > 0)) rep.slow++;
    if (s.retried) rep.retried++;
    if (s.ok) rep.agreed++;
    else if (s.flaky) {
      rep.flaky++;
      rep.flakes.push({ seed, outcome: s });
    }
    else {
      const f: RandomFailure = { seed, outcome: s };
      rep.failed.push(f);
      if (rep.failed.length >= maxFailures) stop = true;
    }
    o.onProgress?.(rep.sequences, rep.failed.length);
  });
  if (o.shrink ?? (o.real !== undefined && o.model !== undefined)) {
    for (const f of rep.failed) {
      const sh = await shrinkSequence(f.seed, gen, o, o.shrinkBudgetMs ?? 120_000);
      if (sh) f.shrunk = sh;
    }
  }
  rep.wallMs = performance.now() - t0;
  return rep;
}

/** The real-kernel runner (pidns_driver), with a per-script hard timeout. */
export function realRunner(driverPath?: string, timeoutMs = 60_000): Runner {
  return (ops) => runOnRealKernel(ops, { timeoutMs, ...(driverPath !== undefined ? { driverPath } : {}) });
}

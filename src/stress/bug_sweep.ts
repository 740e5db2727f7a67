/**
 * `pidrace stress --bug-sweep` (issue 14): the plain stress mix, once per catalogued buggy switch
 * set, within a budget: controlled PCT first (R seeds of N operations), then free-running for D.
 * The mix, its weights and the task programs are the same for every set (a bug switch changes
 * kernel code and nothing else), so a set counts as found only when the plain run finds it. The
 * run without switches gets the same budget and must stay clean.
 *
 * The switch sets come from the catalog's variants (src/scenarios/catalog.ts), named through
 * src/config/bugs.ts: nothing here is a hand-copied list.
 */
import { BUG_NAMES } from '../config/bugs.js';
import { CATALOG } from '../scenarios/catalog.js';
import { run_stress, type StressOutcome } from './run.js';
import type { StressConfig } from './config.js';

export interface SwitchSet {
  /** Switch names (src/config/bugs.ts), in bit order. */
  names: string[];
  bits: number;
  /** Catalog entries and variants that run with exactly these switches ("7b/buggy"). */
  entries: string[];
  /** What the catalog expects of them (deadlock, hang, violation, leak, stall). */
  expect: string[];
}

export interface SweepBudget {
  /** Controlled PCT seeds (seed .. seed + runs - 1) and operations per run; runs 0: skip. */
  runs: number;
  ops: number;
  /** Free-running duration when no controlled run found it; 0: skip. */
  durationMs: number;
}

export interface SweepResult {
  set: string;
  bugs: string[];
  entries: string[];
  expect: string[];
  /** Switch sets: found; the run without switches: clean (no FAILURE at all). */
  found: boolean;
  mode?: 'controlled-pct' | 'free';
  seed?: number;
  /** Wall-clock time of the sweep for this set until the first FAILURE ended (or the whole budget). */
  elapsed_ms: number;
  /** Operations run until the first FAILURE (all runs of the set together). */
  ops: number;
  first_line?: string;
  token?: string;
}

function names_of(bits: number): string[] {
  return Object.entries(BUG_NAMES).filter(([, b]) => (bits & b) !== 0).sort((x, y) => x[1] - y[1]).map(([n]) => n);
}

/** Every buggy switch set of the catalog (deduplicated by bits), in catalog order. */
export function catalog_switch_sets(): SwitchSet[] {
  const out = new Map<number, SwitchSet>();
  for (const s of CATALOG) {
    for (const v of s.variants) {
      if (v.bugs === 0 || v.expect === 'clean') continue;
      const e = out.get(v.bugs) ?? { names: names_of(v.bugs), bits: v.bugs, entries: [], expect: [] };
      e.entries.push(`${s.id}/${v.name}`);
      if (!e.expect.includes(v.expect)) e.expect.push(v.expect);
      out.set(v.bugs, e);
    }
  }
  return [...out.values()];
}

type Run = (cfg: StressConfig) => Promise<StressOutcome>;

/** One switch set (or none: bugs = []) through the budget; stops at the first FAILURE. */
export async function sweep_one(base: StressConfig, bugs: string[], budget: SweepBudget, run: Run, stopAtFirst: boolean): Promise<Omit<SweepResult, 'set' | 'entries' | 'expect'>> {
  const t0 = performance.now();
  let ops = 0;
  let first: Omit<SweepResult, 'set' | 'entries' | 'expect'> | undefined;
  const hit = (o: StressOutcome, mode: 'controlled-pct' | 'free', seed: number): void => {
    first ??= {
      bugs, found: true, mode, seed, elapsed_ms: Math.round(performance.now() - t0), ops,
      first_line: o.signature || o.failures[0]?.title || o.state, token: o.token,
    };
  };
  for (let i = 0; i < budget.runs && !(first && stopAtFirst); i++) {
    const seed = (base.seed + i) >>> 0;
    const o = await run({ ...base, bugs, seed, mode: 'controlled', strategy: 'pct', ops: budget.ops, durationMs: base.durationMs });
    ops += o.stats.ops;
    if (o.verdict === 'FAILURE') hit(o, 'controlled-pct', seed);
    if (o.interrupted) break;
  }
  if (budget.durationMs > 0 && !(first && stopAtFirst)) {
    const o = await run({ ...base, bugs, mode: 'free', strategy: 'random', ops: 0, durationMs: budget.durationMs });
    ops += o.stats.ops;
    if (o.verdict === 'FAILURE') hit(o, 'free', base.seed);
  }
  return first ?? { bugs, found: false, elapsed_ms: Math.round(performance.now() - t0), ops };
}

/**
 * The sweep: first the run without switches (it must stay clean through the whole budget), then
 * every catalogued switch set (each must end in FAILURE within the budget).
 */
export async function bug_sweep(base: StressConfig, budget: SweepBudget, o: { sets?: SwitchSet[]; log?: (r: SweepResult) => void; run?: Run } = {}): Promise<{ results: SweepResult[]; ok: boolean }> {
  const run: Run = o.run ?? ((cfg) => run_stress(cfg, {}, {}));
  const results: SweepResult[] = [];
  const clean = await sweep_one(base, [], budget, run, true);
  // For the run without switches "found" means a false positive.
  const c: SweepResult = { ...clean, set: '(none)', entries: [], expect: ['clean'] };
  results.push(c);
  o.log?.(c);
  for (const s of o.sets ?? catalog_switch_sets()) {
    const r = await sweep_one(base, s.names, budget, run, true);
    const res: SweepResult = { ...r, set: s.names.join('+'), entries: s.entries, expect: s.expect };
    results.push(res);
    o.log?.(res);
  }
  const ok = !c.found && results.slice(1).every((r) => r.found);
  return { results, ok };
}

export function sweep_line(r: SweepResult): string {
  const what = r.set === '(none)'
    ? (r.found ? `FALSE POSITIVE (${r.mode}, seed ${r.seed}, ${(r.elapsed_ms / 1000).toFixed(1)} s): ${r.first_line}` : `clean (${r.ops} ops, ${(r.elapsed_ms / 1000).toFixed(1)} s)`)
    : (r.found ? `found ${r.mode} seed ${r.seed} after ${(r.elapsed_ms / 1000).toFixed(1)} s, ${r.ops} ops: ${r.first_line}` : `NOT FOUND (${r.ops} ops, ${(r.elapsed_ms / 1000).toFixed(1)} s)`);
  return `${r.set.padEnd(42)} [${r.expect.join(',')}] ${what}`;
}

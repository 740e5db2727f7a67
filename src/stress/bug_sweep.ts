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
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StressConfig } from './config.js';
import { CLEAN_SET, sweep_ok, type SweepResult } from './sweep_verdict.js';

export { CLEAN_SET, sweep_line, sweep_ok, type SweepResult } from './sweep_verdict.js';

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

/** What the sweep needs of one stress run. */
export interface RunSummary {
  verdict: string;
  state: string;
  /** The failure's kind in the catalog's terms (the report's outcome). */
  outcome?: string;
  ops: number;
  first_line: string;
  token?: string;
  interrupted?: boolean;
}
type Run = (cfg: StressConfig) => Promise<RunSummary>;

/** The sweep's items in order: index 0 is the run without switches, then the catalog's sets. */
export function sweep_items(sets: SwitchSet[]): string[] {
  return [CLEAN_SET, ...sets.map((s) => s.names.join('+'))];
}

/**
 * One stress run in a fresh process (the CLI, its JSON report read back). Runs in one process
 * were seen to influence each other (a seed that passes alone ended in a decision-limit after
 * other switch sets had run in the same process), so every run of the sweep gets its own.
 */
export function run_in_process(cfg: StressConfig, timeoutMs: number, signal?: AbortSignal): Promise<RunSummary> {
  // The built CLI beside this module; run from the TypeScript sources (vitest: src/stress has no
  // cli.js), the build's (dist/src/cli.js), or every child would exit 1 with no report.
  const beside = fileURLToPath(new URL('../cli.js', import.meta.url));
  const cli = existsSync(beside) ? beside : fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'pidrace-sweep-'));
  const json = join(dir, 'run.json');
  const args = [cli, 'stress', '--quiet', '--cpus', String(cfg.cpus), '--seed', String(cfg.seed), '--mix', cfg.mix.join(','),
    '--max-depth', String(cfg.maxDepth), '--max-tasks', String(cfg.maxTasks), '--json', json];
  if (cfg.tasks) args.push('--tasks', String(cfg.tasks));
  if (cfg.mode === 'controlled') args.push('--mode', 'controlled', '--strategy', cfg.strategy, '--ops', String(cfg.ops));
  else args.push('--duration', `${cfg.durationMs}ms`);
  for (const b of cfg.bugs) args.push('--bug', b);
  if (cfg.forkBalance) args.push('--fork-balance');
  return new Promise((resolve) => {
    // An interrupted sweep (Ctrl-C, SIGTERM) ends its child with SIGTERM: the child's own handler
    // winds its run down and writes the partial report read below.
    const child = execFile(process.execPath, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err) => {
      signal?.removeEventListener('abort', stop);
      let r: RunSummary;
      try {
        const j = JSON.parse(readFileSync(json, 'utf8')) as { verdict: string; state: string; outcome?: string; signature?: string; failures?: Array<{ title: string }>; stats?: { ops: number }; replay?: { token?: string }; interrupted?: boolean };
        r = { verdict: j.verdict, state: j.state, outcome: j.outcome, ops: j.stats?.ops ?? 0, first_line: j.signature || j.failures?.[0]?.title || j.state, token: j.replay?.token, interrupted: !!signal?.aborted || j.interrupted };
      } catch {
        // No report: the run was killed by the bound (a hang the run's own watchdogs missed) or crashed.
        r = signal?.aborted
          ? { verdict: 'INTERRUPTED', state: 'interrupted', ops: 0, first_line: 'interrupted before its report', interrupted: true }
          : { verdict: 'FAILURE', state: 'no-report', outcome: 'hang', ops: 0, first_line: `no report (${err ? (err as { killed?: boolean }).killed ? 'killed at the sweep bound' : `exit ${(err as { code?: number }).code}` : 'missing'})` };
      }
      rmSync(dir, { recursive: true, force: true });
      resolve(r);
    });
    const stop = (): void => { child.kill('SIGTERM'); };
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
  });
}

/**
 * One switch set (or none: bugs = []) through the budget; stops at the first FAILURE of an
 * expected kind (`expect`: the catalog's kinds for the set; empty for the run without switches,
 * where any FAILURE counts). A FAILURE of another kind is kept in `other` and the search goes on.
 */
export async function sweep_one(base: StressConfig, bugs: string[], budget: SweepBudget, run: Run, stopAtFirst: boolean, expect: readonly string[] = []): Promise<Omit<SweepResult, 'set' | 'entries' | 'expect'>> {
  const t0 = performance.now();
  let ops = 0;
  let first: Omit<SweepResult, 'set' | 'entries' | 'expect'> | undefined;
  let other: SweepResult['other'];
  let interrupted = false;
  const hit = (o: RunSummary, mode: 'controlled-pct' | 'free', seed: number): void => {
    if (expect.length && !expect.includes(o.outcome ?? '')) {
      other ??= { mode, seed, outcome: o.outcome ?? '?', first_line: o.first_line };
      return;
    }
    first ??= { bugs, found: true, mode, seed, elapsed_ms: Math.round(performance.now() - t0), ops, first_line: o.first_line, outcome: o.outcome, token: o.token };
  };
  for (let i = 0; i < budget.runs && !(first && stopAtFirst); i++) {
    const seed = (base.seed + i) >>> 0;
    const o = await run({ ...base, bugs, seed, mode: 'controlled', strategy: 'pct', ops: budget.ops, durationMs: base.durationMs });
    ops += o.ops;
    if (o.verdict === 'FAILURE') hit(o, 'controlled-pct', seed);
    if (o.interrupted) { interrupted = true; break; }
  }
  if (budget.durationMs > 0 && !(first && stopAtFirst) && !interrupted) {
    const o = await run({ ...base, bugs, mode: 'free', strategy: 'random', ops: 0, durationMs: budget.durationMs });
    ops += o.ops;
    if (o.verdict === 'FAILURE') hit(o, 'free', base.seed);
    if (o.interrupted) interrupted = true;
  }
  let res: Omit<SweepResult, 'set' | 'entries' | 'expect'> = first ?? { bugs, found: false, elapsed_ms: Math.round(performance.now() - t0), ops };
  if (other) res = { ...res, other };
  // An interrupted set that was not found is not "not found": its budget did not run out.
  return interrupted && !first ? { ...res, interrupted: true } : res;
}

/**
 * The sweep: first the run without switches (it must stay clean through the whole budget), then
 * every catalogued switch set (each must end in FAILURE within the budget). With a shard, only the
 * items i of sweep_items() with i % count == index (a fleet runs the shards in parallel and
 * `pidrace merge` checks that every item was run). An aborted signal ends the sweep after the
 * current run's partial report; the items not run are left out of the results.
 */
export async function bug_sweep(base: StressConfig, budget: SweepBudget, o: { sets?: SwitchSet[]; log?: (r: SweepResult) => void; run?: Run; shard?: { index: number; count: number }; signal?: AbortSignal } = {}): Promise<{ results: SweepResult[]; items: string[]; ok: boolean; interrupted: boolean }> {
  const run: Run = o.run ?? ((cfg) => run_in_process(cfg, cfg.mode === 'controlled' ? 900_000 : cfg.durationMs + 180_000, o.signal));
  const sets = o.sets ?? catalog_switch_sets();
  const items = sweep_items(sets);
  const mine = (i: number): boolean => !o.shard || i % o.shard.count === o.shard.index;
  const results: SweepResult[] = [];
  let interrupted = false;
  for (let i = 0; i < items.length && !interrupted; i++) {
    if (!mine(i)) continue;
    if (o.signal?.aborted) { interrupted = true; break; }
    const s = i === 0 ? undefined : sets[i - 1]!;
    // For the run without switches "found" means a false positive.
    const r = await sweep_one(base, s?.names ?? [], budget, run, true, s?.expect ?? []);
    const res: SweepResult = { ...r, set: items[i]!, entries: s?.entries ?? [], expect: s?.expect ?? ['clean'] };
    results.push(res);
    o.log?.(res);
    if (r.interrupted) interrupted = true;
  }
  return { results, items, ok: !interrupted && sweep_ok(results), interrupted };
}

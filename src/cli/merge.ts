/**
 * `pidrace merge FILE...`: combine the JSON reports of the shards of a campaign (or single stress
 * reports) into one verdict. Loads no kernel code.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError, write_json_atomic, type Command } from './common.js';
import { CLEAN_SET, sweep_line, sweep_ok, type SweepResult } from '../stress/sweep_verdict.js';

export const USAGE = `usage: pidrace merge REPORT.json... [--json OUT]

Combines the reports of "pidrace stress --shard I/N --json FILE" runs (or plain stress reports)
into one campaign verdict: every seed run, every failure with its replay token, and which shards
or seeds are missing. The shards of "pidrace stress --bug-sweep --shard I/N --json FILE" join into
the sweep's verdict: every item run, the run without switches clean, every switch set found.

exit: 0 every run passed, 1 a run failed (or a shard is missing), 2 usage error.`;

interface RunEntry { seed: number; verdict: string; state?: string; signature?: string; ops?: number; elapsed_ms?: number; token?: string; shrunk?: string; file: string }

export interface MergedReport {
  tool: 'pidrace';
  command: 'merge';
  files: string[];
  shards: { count: number | null; present: number[]; missing: number[] };
  campaign?: { seed: number; runs: number };
  runs: number;
  passed: number;
  failed: number;
  missing_seeds: number[];
  failures: RunEntry[];
  signatures: Record<string, number>;
  ops: number;
  verdict: 'SUCCESS' | 'FAILURE';
  exit_code: number;
}

/** The shards seen so far: their count (all reports must agree) and the indexes present, each once. */
class ShardTally {
  count: number | null = null;
  present: number[] = [];
  add(file: string, sh: { index: number; count: number }): void {
    if (this.count !== null && this.count !== sh.count) throw new UsageError(`${file}: shard of ${sh.count}, others are of ${this.count}`);
    this.count = sh.count;
    if (this.present.includes(sh.index)) throw new UsageError(`${file}: shard ${sh.index}/${sh.count} given twice`);
    this.present.push(sh.index);
  }
  shards(): { count: number | null; present: number[]; missing: number[] } {
    const c = this.count;
    return { count: c, present: [...this.present].sort((a, b) => a - b), missing: c === null ? [] : Array.from({ length: c }, (_, i) => i).filter((i) => !this.present.includes(i)) };
  }
}

/** One switch set's (or the clean run's) result in a `pidrace stress --bug-sweep` report, and its file. */
type SweepEntry = SweepResult & { file: string };

export interface MergedSweep {
  tool: 'pidrace';
  command: 'merge-bug-sweep';
  files: string[];
  shards: { count: number | null; present: number[]; missing: number[] };
  items: string[];
  /** Items (the clean run, then the switch sets) that no report ran to the end of its budget or to a finding. */
  missing_items: string[];
  results: SweepEntry[];
  found: number;
  sets: number;
  false_positive: boolean;
  verdict: 'SUCCESS' | 'FAILURE';
  exit_code: number;
}

/**
 * The shards of one `pidrace stress --bug-sweep --shard I/N` fleet (or whole sweeps) joined into
 * the sweep's verdict: SUCCESS only when every item was run, the run without switches stayed clean
 * and every switch set was found. Reports from different sweeps (other item lists, budgets or
 * shard counts) are refused.
 */
export function merge_sweeps(files: Array<{ file: string; json: Record<string, unknown> }>): MergedSweep {
  const tally = new ShardTally();
  let items: string[] | undefined;
  let budget: string | undefined;
  const by = new Map<string, SweepEntry>();
  for (const { file, json } of files) {
    if (json.tool !== 'pidrace') throw new UsageError(`${file}: not a pidrace report`);
    if (json.command !== 'stress-bug-sweep') throw new UsageError(`${file}: a "${String(json.command)}" report cannot be merged with bug-sweep reports`);
    const its = json.items as string[] | undefined;
    if (!Array.isArray(its)) throw new UsageError(`${file}: a bug-sweep report without its item list (made before shards)`);
    if (items && items.join('|') !== its.join('|')) throw new UsageError(`${file}: from a sweep of other switch sets`);
    items = its;
    const b = JSON.stringify(json.budget);
    if (budget !== undefined && budget !== b) throw new UsageError(`${file}: from a sweep with another budget (${b})`);
    budget = b;
    const sh = json.shard as { index: number; count: number } | null;
    if (sh) tally.add(file, sh);
    else if (tally.count !== null || files.length > 1) throw new UsageError(`${file}: a whole sweep cannot be merged with other reports`);
    for (const r of json.results as SweepEntry[]) {
      if (by.has(r.set)) throw new UsageError(`${file}: set ${r.set} also in ${by.get(r.set)!.file}`);
      by.set(r.set, { ...r, file });
    }
  }
  const all = items ?? [];
  const shards = tally.shards();
  const results = all.map((s) => by.get(s)).filter((r): r is SweepEntry => !!r);
  const missing_items = all.filter((s) => { const r = by.get(s); return !r || (r.interrupted && !r.found); });
  const clean = by.get(CLEAN_SET);
  const false_positive = !!clean?.found;
  const sets = results.filter((r) => r.set !== CLEAN_SET);
  const found = sets.filter((r) => r.found).length;
  // Every item present (no shard, no item missing), then the sweep's own verdict on them.
  const ok = shards.missing.length === 0 && missing_items.length === 0 && sweep_ok(results);
  return {
    tool: 'pidrace', command: 'merge-bug-sweep', files: files.map((f) => f.file),
    shards, items: all, missing_items, results,
    found, sets: all.length - 1, false_positive, verdict: ok ? 'SUCCESS' : 'FAILURE', exit_code: ok ? 0 : 1,
  };
}

export function merge_reports(files: Array<{ file: string; json: Record<string, unknown> }>): MergedReport {
  const runs: RunEntry[] = [];
  const tally = new ShardTally();
  let campaign: { seed: number; runs: number } | undefined;
  for (const { file, json } of files) {
    if (json.tool !== 'pidrace') throw new UsageError(`${file}: not a pidrace report`);
    if (json.command === 'stress-shard') {
      const sh = json.shard as { index: number; count: number } | null;
      if (sh) tally.add(file, sh);
      const c = json.campaign as { seed: number; runs: number };
      if (campaign && (campaign.seed !== c.seed || campaign.runs !== c.runs)) throw new UsageError(`${file}: from another campaign (seed ${c.seed}, ${c.runs} runs)`);
      campaign = c;
      for (const r of json.runs as RunEntry[]) runs.push({ ...r, file });
    } else if (json.command === 'stress' || json.command === 'replay') {
      const cfg = json.config as { seed: number };
      const rep = json.replay as { token?: string } | undefined;
      runs.push({ seed: cfg.seed, verdict: String(json.verdict), state: json.state as string, signature: json.signature as string | undefined, ops: (json.stats as { ops: number })?.ops, elapsed_ms: json.elapsed_ms as number, token: rep?.token, file });
    } else throw new UsageError(`${file}: a "${String(json.command)}" report cannot be merged`);
  }
  const shards = tally.shards();
  const seen = new Set(runs.map((r) => r.seed));
  const missing_seeds = campaign ? Array.from({ length: campaign.runs }, (_, i) => (campaign!.seed + i) >>> 0).filter((s) => !seen.has(s)) : [];
  const failures = runs.filter((r) => r.verdict !== 'SUCCESS');
  const signatures: Record<string, number> = {};
  for (const f of failures) signatures[f.signature ?? f.verdict] = (signatures[f.signature ?? f.verdict] ?? 0) + 1;
  const bad = failures.length > 0 || shards.missing.length > 0 || missing_seeds.length > 0;
  return {
    tool: 'pidrace', command: 'merge', files: files.map((f) => f.file),
    shards, campaign,
    runs: runs.length, passed: runs.length - failures.length, failed: failures.length, missing_seeds,
    failures, signatures, ops: runs.reduce((a, r) => a + (r.ops ?? 0), 0),
    verdict: bad ? 'FAILURE' : 'SUCCESS', exit_code: bad ? 1 : 0,
  };
}

async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { json: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (v.help) { process.stdout.write(USAGE + '\n'); return 0; }
  if (!positionals.length) throw new UsageError('no reports given');
  const files = positionals.map((file) => {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (e) { throw new UsageError(`${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
    try { return { file, json: JSON.parse(text) as Record<string, unknown> }; } catch { throw new UsageError(`${file}: not JSON`); }
  });
  const say = (s: string): void => { process.stdout.write(s + '\n'); };
  if (files.some((f) => f.json.command === 'stress-bug-sweep')) {
    const m = merge_sweeps(files);
    say(`merged ${m.files.length} bug-sweep reports: ${m.found}/${m.sets} switch sets found; run without switches ${m.false_positive ? 'FAILED (false positive)' : by_clean(m)}`);
    if (m.shards.count !== null) say(`shards: ${m.shards.present.length}/${m.shards.count} present${m.shards.missing.length ? `, missing ${m.shards.missing.join(', ')}` : ''}`);
    if (m.missing_items.length) say(`not run to the end of their budget: ${m.missing_items.join(', ')}`);
    for (const r of m.results) say(`  ${sweep_line(r)} (${r.file})`);
    say(`verdict: ${m.verdict}`);
    if (v.json) write_json_atomic(v.json, m);
    return m.exit_code;
  }
  const r = merge_reports(files);
  say(`merged ${r.files.length} reports: ${r.runs} runs, ${r.passed} passed, ${r.failed} failed, ${r.ops} ops`);
  if (r.shards.count !== null) say(`shards: ${r.shards.present.length}/${r.shards.count} present${r.shards.missing.length ? `, missing ${r.shards.missing.join(', ')}` : ''}`);
  if (r.missing_seeds.length) say(`seeds never run: ${r.missing_seeds.slice(0, 20).join(', ')}${r.missing_seeds.length > 20 ? ' ...' : ''}`);
  for (const [sig, n] of Object.entries(r.signatures)) say(`  ${n} x ${sig}`);
  for (const f of r.failures.slice(0, 20)) say(`  seed ${f.seed} (${f.file}): ${f.signature ?? f.verdict}${f.token ? `\n    pidrace replay ${f.token.length > 120 ? f.token.slice(0, 120) + '...' : f.token}` : ''}`);
  say(`verdict: ${r.verdict}`);
  if (v.json) write_json_atomic(v.json, r);
  return r.exit_code;
}

function by_clean(m: MergedSweep): string {
  const c = m.results.find((r) => r.set === CLEAN_SET);
  return !c ? 'not run' : c.interrupted ? 'interrupted' : 'clean';
}

export const command: Command = { name: 'merge', summary: 'combine shard reports', usage: USAGE, run };

/**
 * Figures for the README table and the bench: per catalog variant, the schedules a controlled
 * search needs to the first documented hit (over several search seeds), and the free-running hit
 * rate within a time budget on the model's CPU workers with delay injection (a fixed variant:
 * that it never failed or hung).
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { CATALOG, findScenario } from './catalog.js';
import { freeRun, searchSchedules, type FreeResult } from './runner.js';
import { buggyVariant, DETECTOR_OF, verifiedFixIds, type Scenario, type Variant } from './types.js';

export interface VariantFigures {
  id: string;
  variant: string;
  expect: string;
  /** Controlled: schedules to the first documented hit, per search seed (buggy variants). */
  schedulesToHit: number[];
  /** Controlled: schedules run clean (fixed variants). */
  cleanSchedules?: number;
  controlledOk: boolean;
  controlledMs: number;
  free?: { attempts: number; hits: number; hitRate: number; firstHitMs?: number; otherFailures: number; hangs: number; ms: number; ok: boolean };
}

export interface MeasureOptions {
  /** Search seeds per buggy variant (default 10). */
  seeds?: number;
  /** Schedules per fixed variant (default 1000). */
  fixedSchedules?: number;
  /** Free-running budget per variant (default 10 s; 0 skips the free-running part). */
  freeMs?: number;
  log?: (line: string) => void;
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function measureVariant(s: Scenario, v: Variant, o: MeasureOptions = {}): Promise<VariantFigures> {
  const seeds = o.seeds ?? 10;
  const out: VariantFigures = { id: s.id, variant: v.name, expect: v.expect, schedulesToHit: [], controlledOk: true, controlledMs: 0 };
  const t0 = performance.now();
  if (v.expect === 'clean') {
    const r = await searchSchedules(s, v, { seed: 1, schedules: o.fixedSchedules ?? 1000, report: false });
    out.cleanSchedules = r.asExpected ? r.schedules : (r.firstAt ?? 0) - 1;
    out.controlledOk = r.asExpected;
  } else {
    for (let seed = 1; seed <= seeds; seed++) {
      const r = await searchSchedules(s, v, { seed, schedules: 2000, report: false });
      if (r.asExpected) out.schedulesToHit.push(r.firstAt!);
      else out.controlledOk = false;
    }
  }
  out.controlledMs = performance.now() - t0;
  if ((o.freeMs ?? 10_000) > 0) {
    const f: FreeResult = await freeRun(s, v, { timeMs: o.freeMs ?? 10_000, report: false });
    out.free = { attempts: f.attempts, hits: f.hits, hitRate: f.hitRate, firstHitMs: f.firstHitMs, otherFailures: f.otherFailures, hangs: f.hangs, ms: f.ms, ok: f.asExpected };
  }
  return out;
}

export async function measureCatalog(o: MeasureOptions = {}): Promise<VariantFigures[]> {
  const rows: VariantFigures[] = [];
  for (const s of CATALOG) {
    for (const v of s.variants) {
      const r = await measureVariant(s, v, o);
      o.log?.(figures_line(r));
      rows.push(r);
    }
  }
  return rows;
}

export function figures_line(r: VariantFigures): string {
  const ctl = r.expect === 'clean'
    ? `${r.cleanSchedules} schedules clean`
    : `schedules to first hit: median ${median(r.schedulesToHit)} (max ${Math.max(...r.schedulesToHit)}) over ${r.schedulesToHit.length} seeds`;
  const free = r.free
    ? r.expect === 'clean'
      ? `free: ${r.free.attempts} attempts, ${r.free.otherFailures} failures, ${r.free.hangs} hung`
      : `free: ${r.free.hits}/${r.free.attempts} hits (${(r.free.hitRate * 100).toFixed(1)}%), first after ${((r.free.firstHitMs ?? NaN) / 1000).toFixed(2)} s`
    : '';
  return `${r.id} ${r.variant} (${r.expect}): ${ctl}${r.controlledOk ? '' : ' [NOT AS EXPECTED]'}; ${free}${r.free && !r.free.ok ? ' [NOT AS EXPECTED]' : ''}`;
}

/** The README table (markdown) from measured figures. */
export function catalog_markdown(rows: VariantFigures[], o: { seeds: number; freeMs: number; cpus: string }): string {
  const L: string[] = [];
  L.push('| id | kind | documented bug | verified fix id | upstream commits | detector | variant | expected | controlled: schedules to first hit (median / max) | free-running (' + (o.freeMs / 1000) + ' s, ' + o.cpus + '): hit rate |');
  L.push('|---|---|---|---|---|---|---|---|---|---|');
  // Documented upstream bugs first, then the design studies (proposals that were not merged).
  const entries = [...CATALOG.filter((s) => s.kind === 'upstream-bug'), ...CATALOG.filter((s) => s.kind !== 'upstream-bug')];
  for (const s of entries) {
    const ids = s.commits.filter((c) => c.id).map((c) => {
      const idOk = (c.idStatus ?? (c.status === 'unverified' ? 'unverified' : 'verified')) === 'verified';
      return `\`${c.id}\`${idOk ? (c.status === 'verified' ? '' : '~') : '?'}`;
    }).join(' ');
    s.variants.forEach((v, i) => {
      const r = rows.find((x) => x.id === s.id && x.variant === v.name);
      const ctl = !r ? '-' : v.expect === 'clean'
        ? `${r.cleanSchedules} clean`
        : r.schedulesToHit.length ? `${median(r.schedulesToHit)} / ${Math.max(...r.schedulesToHit)}` : 'not hit';
      const free = !r?.free ? '-' : v.expect === 'clean'
        ? `${r.free.attempts} runs, ${r.free.otherFailures + r.free.hangs} failed/hung`
        : `${r.free.hits}/${r.free.attempts} (${(r.free.hitRate * 100).toFixed(1)}%), first hit ${((r.free.firstHitMs ?? NaN) / 1000).toFixed(2)} s`;
      const fixIds = verifiedFixIds(s).map((x) => `\`${x}\``).join(' ') || '-';
      const kind = s.kind === 'design-study' ? '**design study**' : s.kind === 'known-open' ? '**known open** (no fix merged)'
        : s.kind === 'found' ? '**found by pidrace** (no upstream report found)' : 'upstream bug';
      const det = s.detector ?? DETECTOR_OF[buggyVariant(s).expect];
      L.push(`| ${i === 0 ? s.id : ''} | ${i === 0 ? kind : ''} | ${i === 0 ? `${s.title} (${s.year})` : ''} | ${i === 0 ? fixIds : ''} | ${i === 0 ? ids : ''} | ${i === 0 ? det : ''} | ${v.name} | ${v.expect} | ${ctl} | ${free} |`);
    });
  }
  L.push('', `Controlled: ${o.seeds} search seeds per buggy variant (PCT and seeded random), 1,000 schedules per fixed variant. After an id: ? = id unverified, ~ = id verified, part of the record not (docs/catalog-sources.md). A design study models a proposal that was not merged; a known-open entry is an upstream bug with no merged fix (today's kernel is its failing variant); a found entry is a race pidrace found in today's kernel code with no upstream report found (its fixed variant is a proposal of ours); none of them is counted among the upstream bugs with a fix.`);
  return L.join('\n');
}

// ---- for the bench (bench/controlled.ts times these) -----------------------------------------

let benchRep = 0;

/** Controlled time to first hit of an entry's default (buggy) variant: a search from seed 1, 2, ... per call. */
export async function runScenarioFirstHit(s: Scenario): Promise<{ hit: boolean; schedules: number; ms: number }> {
  const v = s.variants.find((x) => x.name === s.defaultVariant) ?? s.variants[0]!;
  const r = await searchSchedules(s, v, { seed: 1 + benchRep++, schedules: 2000, report: false });
  return { hit: r.asExpected, schedules: r.firstAt ?? r.schedules, ms: r.ms };
}

/** Free-running time to first hit (ms) of an entry's variant, within `timeMs`. */
export async function freeRunFirstHit(id: string, variant?: string, timeMs = 60_000): Promise<{ hit: boolean; ms: number; attempts: number }> {
  const s = findScenario(id);
  if (!s) throw new Error(`no catalog entry ${id}`);
  const v = s.variants.find((x) => x.name === (variant ?? s.defaultVariant))!;
  const r = await freeRun(s, v, { timeMs, stopAtFirstHit: true, report: false });
  return { hit: r.hits > 0, ms: r.firstHitMs ?? r.ms, attempts: r.attempts };
}

/**
 * Controlled mode (issue 7): scheduling decisions per second in a controlled torture run
 * (G.ctl_decisions over the measured window), and the time to first hit of each catalogued
 * deadlock when src/scenarios/catalog exists and exports a list of scenarios with a runner.
 */
import { Machine } from '../src/machine.js';
import { G } from '../src/mm/layout.js';
import { kg } from '../src/mm/memory.js';
import { OP_LOOP } from '../src/kernel/entry.js';
import { SYS_TORTURE_READ, SYS_TORTURE_SPIN, SYS_TORTURE_WRITE } from '../src/kernel/torture.js';
import { summarize, type Logger, type Summary } from './util.js';

export interface ControlledSample {
  decisions: number;
  switches: number;
  seconds: number;
  decisionsPerSec: number;
  state: string;
}

export interface ScenarioTiming {
  name: string;
  /** Milliseconds to the first hit (the run that reproduced the deadlock), per repetition. */
  ms: number[];
  summary: Summary;
  hit: boolean[];
  /** Schedules the controlled search ran to the first hit, when the runner says. */
  schedules: number[];
  error?: string;
}

export interface ControlledResult {
  cpus: number;
  samples: ControlledSample[];
  decisionsPerSec: Summary;
  scenarios: ScenarioTiming[];
  scenariosNote: string;
}

async function decisionsOnce(cpus: number, ms: number, seed: number): Promise<ControlledSample> {
  const m = new Machine({ ncpus: cpus, maxTasks: 64, choiceWords: 1 << 16 }, { mode: 'controlled', seed });
  m.attach();
  // Enough work for the window: every CPU loops over the torture lock calls.
  const prog = m.program([[SYS_TORTURE_SPIN], [SYS_TORTURE_READ], [SYS_TORTURE_WRITE], [OP_LOOP, 0, 1 << 30]]);
  for (let i = 0; i < cpus; i++) m.kthread(prog, i);
  const mem = m.mem;
  const ac = new AbortController();
  let a: { t: number; d: number; s: number } | undefined;
  let b: typeof a;
  const warm = Math.min(200, ms / 4);
  let first = -1;
  const res = await m.run({
    signal: ac.signal,
    statsEveryMs: 5,
    timeoutMs: ms + 30_000,
    onTick: () => {
      const t = performance.now();
      if (first < 0) first = t;
      const cur = { t, d: mem[kg + G.ctl_decisions]!, s: mem[kg + G.ctl_switches]! };
      if (!a) { if (t - first >= warm) a = cur; return; }
      if (!b && t - a.t >= ms) { b = cur; ac.abort(); }
    },
  });
  if (!a || !b) throw new Error(`controlled run ended as ${res.state} before the window closed${res.crash ? `: ${res.crash.message}` : ''}`);
  const seconds = (b.t - a.t) / 1000;
  return { decisions: b.d - a.d, switches: b.s - a.s, seconds, decisionsPerSec: (b.d - a.d) / seconds, state: res.state };
}

type ScenarioRunner = (s: unknown) => Promise<unknown> | unknown;

/**
 * The hook for the deadlock catalogue: src/scenarios/catalog.(ts|js) exporting an array of
 * scenarios (objects with a name or id) and either a runner function exported beside it
 * (runScenario / run / runFirstHit) or a `run` method on each entry. Each is timed until it
 * returns; a result with `hit`, `reproduced`, `deadlock` or `state === 'deadlock'` counts as a hit.
 */
async function timeScenarios(reps: number, log: Logger): Promise<{ list: ScenarioTiming[]; note: string }> {
  let mod: Record<string, unknown>;
  try {
    mod = await import('../src/scenarios/catalog.js' as string) as Record<string, unknown>;
  } catch {
    return { list: [], note: 'src/scenarios/catalog is not there yet: no deadlock timings' };
  }
  const list = Object.values(mod).find((v): v is unknown[] => Array.isArray(v) && v.length > 0 && typeof v[0] === 'object');
  if (!list) return { list: [], note: 'src/scenarios/catalog exports no scenario list' };
  const shared = ['runScenarioFirstHit', 'runFirstHit', 'runScenario', 'run'].map((k) => mod[k]).find((f) => typeof f === 'function') as ScenarioRunner | undefined;
  const out: ScenarioTiming[] = [];
  for (const s of list) {
    const rec = s as Record<string, unknown>;
    const id = rec.id ?? rec.name ?? `#${out.length + 1}`;
    const label = rec.slug ?? rec.title;
    const name = label ? `${String(id)} ${String(label)}` : String(id);
    const own = typeof rec.run === 'function' ? (rec.run as () => unknown).bind(rec) : undefined;
    const runner: (() => unknown) | undefined = own ?? (shared ? () => shared(s) : undefined);
    const t: ScenarioTiming = { name, ms: [], summary: summarize([]), hit: [], schedules: [] };
    if (!runner) { t.error = 'no runner'; out.push(t); continue; }
    for (let r = 0; r < reps; r++) {
      try {
        const t0 = performance.now();
        const res = await runner() as Record<string, unknown> | undefined;
        t.ms.push(performance.now() - t0);
        const hit = !!res && (res.hit === true || res.reproduced === true || res.deadlock === true || res.state === 'deadlock' || res.found === true);
        t.hit.push(hit);
        if (res && typeof res.schedules === 'number') t.schedules.push(res.schedules);
      } catch (e) {
        t.error = (e as Error).message;
        break;
      }
    }
    t.summary = summarize(t.ms);
    const sched = t.schedules.length ? `, ${summarize(t.schedules).median} schedules` : '';
    log(`  ${name.padEnd(40)} ${t.error ? `error: ${t.error}` : `${t.summary.median.toFixed(1).padStart(8)} ms to first hit${sched} (${t.hit.filter(Boolean).length}/${t.hit.length} hit)`}`);
    out.push(t);
  }
  return { list: out, note: `${out.length} catalogued scenarios timed` };
}

export async function benchControlled(o: { cpus: number; reps: number; ms: number; scenarioReps: number; log?: Logger }): Promise<ControlledResult> {
  const log = o.log ?? (() => {});
  const samples: ControlledSample[] = [];
  for (let r = 0; r < o.reps; r++) {
    const s = await decisionsOnce(o.cpus, o.ms, 1 + r);
    samples.push(s);
    log(`  rep ${r + 1}/${o.reps}  ${o.cpus} CPUs  ${Math.round(s.decisionsPerSec).toLocaleString('en-US').padStart(10)} decisions/s  (${Math.round(s.switches / s.seconds).toLocaleString('en-US')} CPU switches/s)`);
  }
  const sc = await timeScenarios(o.scenarioReps, log);
  if (sc.list.length === 0) log(`  ${sc.note}`);
  return { cpus: o.cpus, samples, decisionsPerSec: summarize(samples.map((s) => s.decisionsPerSec)), scenarios: sc.list, scenariosNote: sc.note };
}

/**
 * Running catalogued scenarios on the model's CPUs.
 *
 * Each run is a fresh, small machine (booted with the variant's bug switches) on which the
 * scenario lays out its tasks; the CPUs are the model's CPU workers (workers/cpu.ts), kept alive
 * in one pool per CPU count across runs, so a controlled run costs milliseconds rather than a
 * thread start-up.
 * - Controlled mode: one CPU at a time, the strategy (PCT or seeded random) choosing at each
 *   hook, interrupts delivered where the strategy says (src/sched/irq.ts). The run ends by itself:
 *   stopped (every task done), deadlock (no CPU can run while tasks are blocked), violation (the
 *   model's checks fired), or the decision bound.
 * - Free-running mode: the CPUs race with delay injection; the main thread watches for the end:
 *   quiescence with nobody blocked (done), quiescence with tasks blocked (a sleeping deadlock),
 *   no progress for `hungMs` (a spinning deadlock), or a violation.
 * A stopped-for-a-reason run is frozen and copied before the CPUs unwind; the report and the
 * check read that copy (the wait-for graph of src/detect/waitfor.ts, the violation log).
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { Piscina } from 'piscina';
import { G, POISON_LIVE, TASK } from '../mm/layout.js';
import { kg, regions, SLAB_TASK, type KernelConfig } from '../mm/memory.js';
import { cpuPoolOptions, Machine } from '../machine.js';
import { supervise } from '../run/supervisor.js';
import { read_violations } from '../locking/violations.js';
import { encode_token, decode_token, type ReplayToken } from '../ctl/replay_token.js';
import type { CheckResult, Expectation, RunView, Scenario, Variant } from './types.js';
import { scenario_report } from './report.js';
import { build_waitfor } from '../detect/waitfor.js';
import { capture_trace, type TraceCapture } from '../trace/capture.js';
import { prng_seed } from '../lib/prng.js';
import { stall_report } from '../detect/stall.js';
import { is_leak_line, outcome_of } from '../detect/outcome.js';
import { audit_kernel } from '../kernel/audit.js';
import { quiesce } from '../stress/processes.js';

/** What a run ended as, in the catalog's terms. */
export type Outcome = Expectation | 'limit' | 'crash';

export interface RunRecord {
  scenario: string;
  variant: string;
  mode: 'controlled' | 'free';
  seed: number;
  strategy: 'pct' | 'random' | 'free';
  state: string;
  outcome: Outcome;
  check: CheckResult;
  /** The variant did what the catalog expects (for a buggy variant: the documented failure). */
  asExpected: boolean;
  /** A failure (any outcome but clean). */
  failed: boolean;
  decisions: number;
  preemptions: number;
  ms: number;
  /** Recorded choices (controlled). */
  choices?: Uint8Array;
  /** Kernel-style report of a failed run (from the frozen state). */
  report?: string;
  json?: Record<string, unknown>;
  crash?: string;
  /** The trace rings at the freeze or the end (runs with RunOptions.trace). */
  trace?: TraceCapture;
}

// ---- configuration --------------------------------------------------------------------------

/** A machine just big enough for a scenario: boots in well under a millisecond. */
export function scenarioConfig(sc: Scenario): Partial<KernelConfig> {
  return {
    ncpus: sc.ncpus,
    pidMax: 1024,
    maxLevel: 4,
    maxTasks: 64,
    maxPids: 96,
    maxPidNs: 16,
    maxUserNs: 8,
    maxNsproxy: 32,
    maxNsCommon: 64,
    maxFiles: 32,
    maxTortureObjs: 8,
    pidHashBuckets: 64,
    programWords: 4096,
    violationWords: 1200,
    choiceWords: 1 << 16,
    ...sc.config,
  };
}

// ---- the CPU pools --------------------------------------------------------------------------

/**
 * Pools of CPU workers, one per (CPU count, slot): a run takes a free slot, so several machines run
 * at once, each on its own workers (a controlled run spends most of its time handing the turn
 * between its threads; concurrent runs fill those gaps on the host's cores).
 */
const pools = new Map<string, Piscina>();
const busy = new Set<string>();
const slotWaiters: Array<() => void> = [];

async function acquire_pool(n: number, maxSlots: number, checked = false): Promise<{ pool: Piscina; release: () => void; discard: () => Promise<void> }> {
  for (;;) {
    for (let s = 0; s < maxSlots; s++) {
      const key = `${n}:${s}${checked ? ':checked' : ''}`;
      if (busy.has(key)) continue;
      busy.add(key);
      let p = pools.get(key);
      if (!p) {
        p = new Piscina(cpuPoolOptions(n, 60_000, checked));
        pools.set(key, p);
      }
      return {
        pool: p,
        release: () => {
          busy.delete(key);
          slotWaiters.shift()?.();
        },
        // A worker that never left (a soft lockup) goes with its pool; the slot gets a new one.
        discard: async () => {
          pools.delete(key);
          await p.destroy().catch(() => {});
          busy.delete(key);
          slotWaiters.shift()?.();
        },
      };
    }
    await new Promise<void>((r) => slotWaiters.push(r));
  }
}

/** Stop the pooled CPU workers (tests' afterAll, the CLI before it exits). */
export async function closePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  busy.clear();
  await Promise.all(all.map((p) => p.destroy().catch(() => {})));
}

/** Machines run at once by searches (each on its own CPU workers). */
export const DEFAULT_PARALLEL = 1;

// ---- one run --------------------------------------------------------------------------------

export interface RunOptions {
  mode?: 'controlled' | 'free';
  seed?: number;
  strategy?: 'pct' | 'random';
  replay?: Uint8Array;
  tail?: 'strategy' | 'nonpreempt';
  /** Whole-run bound (a watchdog; never a hang). */
  timeoutMs?: number;
  /** Free-running: no progress for this long while CPUs are busy is a (spinning) deadlock. */
  hungMs?: number;
  /** Free-running delay injection (per mille of hooks). */
  delayPermille?: number;
  /** Build the kernel-style report for failed runs (default true). */
  report?: boolean;
  /** Worker-pool slots this run may use (runs beyond it wait for a free slot). */
  slots?: number;
  /** Run the CPUs from the checked build (--check-guards). */
  checkGuards?: boolean;
  /** Trace ring records per CPU (a power of two); 0 or absent: no tracing. */
  trace?: number;
}

/** Run a scenario variant once on a fresh machine. */
export async function runOnce(sc: Scenario, v: Variant, o: RunOptions = {}): Promise<RunRecord> {
  const mode = o.mode ?? 'controlled';
  const seed = (o.seed ?? 1) >>> 0 || 1;
  const strategy = o.strategy ?? 'pct';
  const t0 = performance.now();
  const checkGuards = o.checkGuards === true || sc.checkGuards === true;
  const m = new Machine({ ...scenarioConfig(sc), checkGuards, traceEvents: o.trace ?? 0 }, {
    mode, seed, bugs: v.bugs, lockdep: false,
    injectDelayPermille: mode === 'free' ? (o.delayPermille ?? sc.freeDelayPermille ?? 40) : 0,
    hungTimeoutMs: o.hungMs ?? 250,
  });
  m.attach();
  sc.build(m, v, mode);
  if (mode === 'controlled') {
    m.control({
      strategy, pctDepth: sc.pctDepth ?? 3, pctSteps: sc.pctSteps ?? 2000, replay: o.replay, tail: o.tail ?? 'strategy',
      maxDecisions: sc.maxDecisions ?? 60_000, stopOnViolation: true,
    });
  }
  const slot = await acquire_pool(sc.ncpus, o.slots ?? DEFAULT_PARALLEL, checkGuards);
  let res;
  try {
    res = await supervise(m, slot.pool, {
      timeoutMs: o.timeoutMs ?? (mode === 'controlled' ? 60_000 : 5_000), hungMs: o.hungMs ?? 250,
      // The catalog's free-running runs race without run tokens (the host may preempt anywhere).
      hostPreemption: true,
    }, {
      stopOnViolation: true, quiet: 'blocked', startTimeoutMs: 30_000, report: false,
      // No progress: stuck for real only if the CPUs' published waits form a wait-for cycle (a
      // spinning deadlock). Otherwise the host starved the workers: keep watching.
      confirmHung: (mc) => build_waitfor(mc.view(mc.mem.slice())).cycles.length > 0,
    });
  } finally {
    if (res?.poolTainted !== false) await slot.discard();
    else slot.release();
  }
  // Not frozen: the CPUs have left, the memory is still.
  const snap = m.snapshot ?? m.mem;
  const ms = performance.now() - t0;

  m.attach();
  const state = res.state;
  const view = m.view(snap);
  const violations = read_violations(snap, regions.violations.base, regions.violations.words, Atomics.load(snap, kg + G.violations));
  const stuck = state === 'deadlock' || state === 'hung' || state === 'decision-limit' || state === 'crashed';
  const graph = stuck ? build_waitfor(view) : undefined;
  const roles = roles_of(m, snap);
  // A run that ended by itself with nothing recorded: the audit at the quiescent end (RCU drained),
  // as pidrace stress does after its final reap - references left over are a leak.
  let audit: string[] = [];
  if (state === 'stopped' && violations.length === 0) {
    quiesce(m);
    audit = audit_kernel();
  }
  const stalls = state === 'decision-limit' || state === 'hung' ? stall_report(view, mode === 'controlled' ? sc.stallHooks : undefined).lines : [];
  const rv: RunView = { state, view, graph, violations, roles, audit, stalls };
  const outcome = outcome_of(state, violations.length, graph?.cycles.length ?? 0, audit.length, stalls.length, audit.every(is_leak_line), violations[0]?.kind ?? 0);
  const failed = outcome !== 'clean';
  const check: CheckResult = failed ? sc.check(rv) : { matched: v.expect === 'clean', detail: 'every task finished, no violation' };
  const asExpected = v.expect === 'clean' ? outcome === 'clean' : outcome === v.expect && check.matched;
  const stats = mode === 'controlled' ? m.controlStats() : undefined;
  const rec: RunRecord = {
    scenario: sc.id, variant: v.name, mode, seed, strategy: mode === 'controlled' ? strategy : 'free', state, outcome,
    check, asExpected, failed, decisions: stats?.decisions ?? 0, preemptions: stats?.preemptions ?? 0, ms,
  };
  if (mode === 'controlled') rec.choices = m.recordedChoices();
  if (o.trace) rec.trace = capture_trace(view, m.snapshot ? m.snapshotAt : performance.now());
  if (res.crash) rec.crash = res.crash.message;
  if (failed && o.report !== false) {
    const rep = scenario_report(sc, v, rv, outcome, rec.crash);
    rec.report = rep.text;
    rec.json = rep.json;
  }
  return rec;
}

/** Map each role (program name) to its task in the state; the first task with the name wins. */
function roles_of(m: Machine, snap: Int32Array): Map<string, number> {
  const out = new Map<string, number>();
  const o = regions.objects[SLAB_TASK]!;
  for (let i = 0; i < o.count; i++) {
    const t = o.base + i * o.stride;
    if (snap[t + TASK.poison] !== POISON_LIVE) continue;
    const name = m.taskName(t, snap);
    if (!out.has(name)) out.set(name, t);
  }
  return out;
}

// ---- controlled search ----------------------------------------------------------------------

/** Strategy of the i-th schedule of a search: PCT for a share sc.pctShare of them, evenly spread. */
export function strategy_of(sc: Scenario, i: number): 'pct' | 'random' {
  const share = Math.min(1, Math.max(0, sc.pctShare ?? 0.5));
  return Math.floor((i + 1) * share) > Math.floor(i * share) ? 'pct' : 'random';
}

/** Seed of the i-th schedule of a search from `base` (stream i of the base seed). */
export function scheduleSeed(base: number, i: number): number {
  return prng_seed(base, i);
}

export interface SearchOptions {
  schedules?: number;
  seed?: number;
  /** Strategy of every schedule, or alternate PCT / random (default). */
  strategy?: 'pct' | 'random' | 'both';
  /** Stop at the first schedule whose outcome differs from the variant's expectation. */
  stopAtFirst?: boolean;
  /** Stop starting schedules after this long (the schedules run so far count). */
  timeMs?: number;
  /** Schedules run at once (default DEFAULT_PARALLEL). */
  parallel?: number;
  report?: boolean;
  onRun?: (r: RunRecord, i: number) => void;
  /** Run the checked build (--check-guards). */
  checkGuards?: boolean;
  /** Trace every schedule (ring records per CPU); the result keeps the traced run it reports. */
  trace?: number;
}

export interface SearchResult {
  scenario: string;
  variant: string;
  expect: Expectation;
  /** Schedules run. */
  schedules: number;
  /** The variant behaved as the catalog expects over the whole search. */
  asExpected: boolean;
  /** First run that shows the expected failure (buggy) or the first unexpected outcome. */
  first?: RunRecord;
  /** 1-based index of `first`. */
  firstAt?: number;
  outcomes: Record<string, number>;
  ms: number;
  token?: string;
  /** The last run (kept when tracing, so a clean search still has a trace to show). */
  last?: RunRecord;
}

/**
 * Controlled search. A buggy variant: run schedules until one shows the documented failure (its
 * report and replay token are kept). A fixed variant: run all the schedules; any failure is the
 * first counter-example. Up to `parallel` schedules run at once; results are taken in schedule
 * order, so the outcome (and the schedule counted as the first hit) is that of a sequential search.
 */
export async function searchSchedules(sc: Scenario, v: Variant, o: SearchOptions = {}): Promise<SearchResult> {
  const N = o.schedules ?? (v.expect === 'clean' ? 1000 : 500);
  const base = o.seed ?? 1;
  const strat = o.strategy ?? 'both';
  const par = Math.max(1, o.parallel ?? DEFAULT_PARALLEL);
  const t0 = performance.now();
  const outcomes: Record<string, number> = {};
  const res: SearchResult = { scenario: sc.id, variant: v.name, expect: v.expect, schedules: 0, asExpected: v.expect === 'clean', outcomes, ms: 0 };
  const inflight = new Map<number, Promise<RunRecord>>();
  let next = 0;
  let stop = false;
  const launch = (i: number): void => {
    const strategy = strat === 'both' ? strategy_of(sc, i) : strat;
    inflight.set(i, runOnce(sc, v, { mode: 'controlled', seed: scheduleSeed(base, i), strategy, report: o.report, slots: par, checkGuards: o.checkGuards, trace: o.trace }));
  };
  for (let i = 0; i < N; i++) {
    while (!stop && next < N && next < i + par && (o.timeMs === undefined || performance.now() - t0 <= o.timeMs)) launch(next++);
    const p = inflight.get(i);
    if (!p) break;
    const r = await p;
    inflight.delete(i);
    res.schedules = i + 1;
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    if (o.trace) res.last = r;
    o.onRun?.(r, i);
    const hit = v.expect === 'clean' ? r.failed : r.asExpected;
    if (hit) {
      res.first = r;
      res.firstAt = i + 1;
      res.asExpected = v.expect !== 'clean';
      res.token = token_of(sc, r);
      if (v.expect !== 'clean' || o.stopAtFirst !== false) { stop = true; break; }
    }
  }
  // Let the runs started past the deciding one finish (their results are not counted).
  await Promise.allSettled([...inflight.values()]);
  res.ms = performance.now() - t0;
  return res;
}

// ---- replay tokens --------------------------------------------------------------------------

export const TOKEN_KIND = 'scenario';

export function token_of(sc: Scenario, r: RunRecord): string | undefined {
  if (r.mode !== 'controlled' || !r.choices) return undefined;
  const t: ReplayToken = {
    v: 1, kind: TOKEN_KIND, config: { id: sc.id, variant: r.variant }, seed: r.seed, strategy: r.strategy,
    ncpus: sc.ncpus, tail: 'strategy',
    expect: { state: r.state, hash: '', failure: r.failed ? `${r.outcome}:${r.check.matched ? 'documented' : 'other'}` : '' },
    choices: r.choices,
  };
  return encode_token(t);
}

/** Replay a scenario token: the same machine, bugs, seed, strategy and choices. */
export async function replayToken(tokenText: string, find: (id: string) => Scenario | undefined, trace = 0): Promise<{ record: RunRecord; same: boolean; token: ReplayToken }> {
  const tok = decode_token(tokenText);
  if (tok.kind !== TOKEN_KIND) throw new Error(`token of kind "${tok.kind}" is not a catalog scenario token`);
  const id = String(tok.config.id);
  const sc = find(id);
  if (!sc) throw new Error(`token names scenario ${id}, which the catalog does not have`);
  const v = sc.variants.find((x) => x.name === tok.config.variant);
  if (!v) throw new Error(`token names variant ${String(tok.config.variant)} of scenario ${id}, which does not exist`);
  const record = await runOnce(sc, v, {
    mode: 'controlled', seed: tok.seed, strategy: tok.strategy === 'random' ? 'random' : 'pct', replay: tok.choices, tail: tok.tail, trace,
  });
  const failure = record.failed ? `${record.outcome}:${record.check.matched ? 'documented' : 'other'}` : '';
  return { record, same: record.state === tok.expect?.state && failure === tok.expect?.failure, token: tok };
}

// ---- free-running ---------------------------------------------------------------------------

export interface FreeOptions {
  /** Time budget for the attempts (default 10 s). */
  timeMs?: number;
  /** Bound on one attempt (a watchdog). */
  attemptTimeoutMs?: number;
  /** No progress for this long while CPUs are busy ends an attempt as a spinning deadlock. */
  hungMs?: number;
  delayPermille?: number;
  /** Stop at the first attempt showing the documented failure (time to first hit). */
  stopAtFirstHit?: boolean;
  maxAttempts?: number;
  report?: boolean;
  /** Trace every attempt (ring records per CPU). */
  trace?: number;
  onAttempt?: (r: RunRecord, i: number) => void;
  /** Run the checked build (--check-guards). */
  checkGuards?: boolean;
}

export interface FreeResult {
  scenario: string;
  variant: string;
  expect: Expectation;
  attempts: number;
  /** Attempts that showed the documented failure. */
  hits: number;
  /** Attempts that failed otherwise (a fixed variant's failures are all here). */
  otherFailures: number;
  /** Attempts cut by the watchdog with no progress (spinning or sleeping deadlock). */
  hangs: number;
  hitRate: number;
  /** Milliseconds from the start to the end of the first hit. */
  firstHitMs?: number;
  first?: RunRecord;
  /** A fixed variant: the first failure. */
  firstFailure?: RunRecord;
  ms: number;
  asExpected: boolean;
  /** The last attempt (kept when tracing). */
  last?: RunRecord;
}

/**
 * Free-running attempts for a bounded time: real threads race, delay injection widens the race
 * windows, the watchdog ends stuck attempts. A buggy variant counts its documented failures (the
 * hit rate); a fixed one must never fail or hang.
 */
export async function freeRun(sc: Scenario, v: Variant, o: FreeOptions = {}): Promise<FreeResult> {
  const timeMs = o.timeMs ?? 10_000;
  const t0 = performance.now();
  const res: FreeResult = {
    scenario: sc.id, variant: v.name, expect: v.expect, attempts: 0, hits: 0, otherFailures: 0, hangs: 0, hitRate: 0, ms: 0,
    asExpected: v.expect === 'clean',
  };
  for (let i = 0; ; i++) {
    if (performance.now() - t0 >= timeMs || (o.maxAttempts !== undefined && i >= o.maxAttempts)) break;
    const r = await runOnce(sc, v, {
      mode: 'free', seed: scheduleSeed(0x5eed, i), timeoutMs: o.attemptTimeoutMs ?? 5_000, hungMs: o.hungMs ?? 250,
      delayPermille: o.delayPermille, report: o.report, checkGuards: o.checkGuards, trace: o.trace,
    });
    res.attempts++;
    if (o.trace) res.last = r;
    if (r.state === 'hung' || r.state === 'deadlock') res.hangs++;
    o.onAttempt?.(r, i);
    if (v.expect !== 'clean' && r.asExpected) {
      res.hits++;
      if (!res.first) { res.first = r; res.firstHitMs = performance.now() - t0; }
      if (o.stopAtFirstHit) break;
    } else if (r.failed) {
      res.otherFailures++;
      res.firstFailure ??= r;
    }
  }
  res.ms = performance.now() - t0;
  res.hitRate = res.attempts ? res.hits / res.attempts : 0;
  res.asExpected = v.expect === 'clean' ? res.otherFailures === 0 && res.hangs === 0 : res.hits > 0;
  return res;
}

/**
 * One stress run, end to end: build the machine from the config, start the stress tasks, run the
 * CPUs (free-running or controlled), watch the stats, wind the tasks down, check the invariants
 * and give the verdict with a kernel-style text report and a JSON report. A controlled run also
 * gives its replay token.
 */
import { G, GUARD, TASK, STRESS_TASKS, STRESS_ACTIVE_NS, STRESS_BUSTED, STRESS_MAX_DEPTH, STRESS_MAX_TASKS, STRESS_MIX, STRESS_OPS_LEFT, STRESS_PROG, STRESS_EXEC_PROG, STRESS_DAEMON_PROG, STRESS_WAITER_PROG, STRESS_SEED, STRESS_STOP, STRESS_TABLE } from '../mm/layout.js';
import { kg, regions } from '../mm/memory.js';
import { slab_usage } from '../mm/slab.js';
import { OP_JMP } from '../kernel/entry.js';
import { BUG_NAMES } from '../config/bugs.js';
import { Machine, type RunResult } from '../machine.js';
import { violations_report, stuck_json, violation_title } from '../detect/report.js';
import { is_leak_line, outcome_of, type RunOutcome } from '../detect/outcome.js';
import { stall_report } from '../detect/stall.js';
import { encode_token, type ReplayToken } from '../ctl/replay_token.js';
import { fasync_init } from '../kernel/fasync.js';
import { PIDTYPE_PGID } from '../kernel/pid.js';
import { SIG_IGN, SIGTERM, SIGURG, SIGUSR1, __WALL, __WNOTHREAD } from '../kernel/sched_task.js';
import { mix_weights, STRESS_FASYNC_AT, STRESS_TABLE_REGION_WORDS, STRESS_WEIGHTS_AT, SLOT_WORDS, STRESS_BUST_CRASH, STRESS_BUST_RCU, STRESS_BUST_SPIN } from './ops.js';
import { SYS_STRESS_OP } from './stress_syscalls.js';
import { SYS_EXECVE, SYS_EXIT, SYS_FORK, SYS_PAUSE, SYS_RT_SIGACTION, SYS_SCHED_YIELD, SYS_WAIT4 } from '../kernel/unistd.js';
import { sample_stats, type StatsSample } from './stats.js';
import { check_leaks, check_lock_counters, signature_of, torture_cleanup, type Failure } from './invariants.js';
import { validate_config, uses_processes, type StressConfig } from './config.js';
import { process_baseline, process_done, process_setup, process_teardown } from './processes.js';

export const VERSION = '0.1.0';

export interface StressIO {
  onStats?: (s: StatsSample) => void;
  statsEveryMs?: number;
  /** Ctrl-C: wind down, then stop; the report is partial. */
  signal?: AbortSignal;
  log?: (msg: string) => void;
}

export interface StressRunOptions {
  /** Controlled mode: choices to replay, and what to do after them. */
  replay?: Uint8Array;
  tail?: 'strategy' | 'nonpreempt';
  /** Hard bound on the run (ms). */
  timeoutMs?: number;
  /** Trace ring records per CPU (--trace, --html); 0 or absent: no tracing. */
  traceEvents?: number;
}

export interface StressOutcome {
  verdict: 'SUCCESS' | 'FAILURE';
  exitCode: number;
  config: StressConfig;
  state: string;
  failures: Failure[];
  signature: string;
  /** The failure's kind in the catalog's terms (src/detect/outcome.ts); 'clean' for SUCCESS. */
  outcome: RunOutcome;
  result: RunResult;
  stats: StatsSample;
  report: Record<string, unknown>;
  text: string;
  interrupted: boolean;
  token?: string;
  choices?: Uint8Array;
  hash?: string;
  machine: Machine;
}

function bug_mask(names: string[]): number {
  return names.reduce((m, n) => m | BUG_NAMES[n]!, 0);
}

/** Build and set up the machine of a stress config (the same every time: replay relies on it). */
export function build_stress_machine(cfg: StressConfig, traceEvents = 0): { m: Machine; kthreadsOnly: boolean; baseTasks: number } {
  let baseTasks = 0;
  validate_config(cfg);
  const procs = uses_processes(cfg);
  // Slab capacity well above the soft bound: zombies and namespace inits come on top of it.
  const maxTasks = Math.max(64, 2 * cfg.maxTasks + (cfg.tasks || cfg.cpus * 2) + 64);
  const m = new Machine(
    { ncpus: cfg.cpus, maxTasks, choiceWords: cfg.mode === 'controlled' ? 1 << 21 : 1024, checkGuards: cfg.checkGuards, kcsanSampleEvery: cfg.kcsanSampleEvery, kcsanDelayUs: cfg.kcsanDelayUs, traceEvents },
    {
      mode: cfg.mode, lockdep: cfg.lockdep, bugs: bug_mask(cfg.bugs), seed: cfg.seed,
      injectEnomemPermille: cfg.injectEnomem, injectDelayPermille: cfg.injectDelay, windowDelayPermille: cfg.mode === 'free' ? cfg.windowDelay : 0, uaccessFaultPermille: cfg.faultUser, forkBalance: cfg.forkBalance, hungTimeoutMs: cfg.hungMs,
    },
  );
  m.attach();
  const w = m.mem;
  const s = kg + G.stress;
  const table = m.alloc(STRESS_TABLE_REGION_WORDS);
  const slots = m.alloc(maxTasks * SLOT_WORDS);
  const prog = m.program([[SYS_STRESS_OP], [OP_JMP, 0]], 'stress');
  w[s + STRESS_TABLE] = table;
  w[s + STRESS_ACTIVE_NS] = slots;
  w[s + STRESS_PROG] = prog;
  // The child of the execve operation: execve(stress program) first thing (then it runs the mix).
  w[s + STRESS_EXEC_PROG] = m.program([[SYS_EXECVE, prog]], 'stress-exec');
  // A service (the daemon operation): ignores SIGTERM and SIGUSR1 (the mix's kill sends them to
  // random pids), then sleeps in pause() until a signal kills it (SIGKILL).
  w[s + STRESS_DAEMON_PROG] = m.program([
    [SYS_RT_SIGACTION, SIGTERM, SIG_IGN, 0], [SYS_RT_SIGACTION, SIGUSR1, SIG_IGN, 0], [SYS_PAUSE], [OP_JMP, 2],
  ], 'stress-daemon');
  // The wait-threads operation's thread: it forks a child, which yields its CPU a few times and
  // exits (by then the thread and its creator both wait for it), waits for its own children only
  // (__WNOTHREAD: never for the children and tracees its process has or takes; a stop of the
  // child is its creator's to continue), and exits.
  const exitProg = m.program([[SYS_SCHED_YIELD], [SYS_SCHED_YIELD], [SYS_SCHED_YIELD], [SYS_SCHED_YIELD], [SYS_EXIT, 0]], 'stress-exit');
  w[s + STRESS_WAITER_PROG] = m.program([[SYS_FORK, 0, exitProg, 0], [SYS_WAIT4, -1, __WALL | __WNOTHREAD], [SYS_EXIT, 0]], 'stress-waiter');
  w.set(mix_weights(cfg.mix), table + STRESS_WEIGHTS_AT);
  w[s + STRESS_MIX] = table + STRESS_WEIGHTS_AT;
  w[s + STRESS_MAX_DEPTH] = cfg.maxDepth;
  w[s + STRESS_MAX_TASKS] = cfg.maxTasks;
  w[s + STRESS_SEED] = cfg.seed | 0;
  w[s + STRESS_OPS_LEFT] = cfg.ops > 0 ? cfg.ops : 0x7fffffff;
  w[s + STRESS_BUSTED] = (cfg.plant.includes('busted-spin') ? STRESS_BUST_SPIN : 0) | (cfg.plant.includes('busted-rcu') ? STRESS_BUST_RCU : 0) |
    (cfg.plant.includes('crash') ? STRESS_BUST_CRASH : 0);
  const ntasks = cfg.tasks || cfg.cpus * 2;
  w[s + STRESS_TASKS] = ntasks;
  baseTasks = Atomics.load(w, kg + G.nr_threads); // init and other boot tasks
  if (procs) {
    // The run's O_ASYNC file (the fasync op): F_SETOWN(-pgrp of init), F_SETSIG(SIGURG), so
    // send_sigio walks the group under read_lock(&tasklist_lock) and signals every stress task.
    const init = w[kg + G.init_task]!;
    fasync_init(table + STRESS_FASYNC_AT, 3, w[init + TASK.pgrp]!, PIDTYPE_PGID, SIGURG);
    process_setup(m, prog, ntasks);
  }
  else for (let i = 0; i < ntasks; i++) m.kthread(prog, i % cfg.cpus);
  return { m, kthreadsOnly: !procs, baseTasks };
}

export async function run_stress(cfg: StressConfig, io: StressIO = {}, o: StressRunOptions = {}): Promise<StressOutcome> {
  const { m, kthreadsOnly, baseTasks } = build_stress_machine(cfg, o.traceEvents);
  m.attach();
  const w = m.mem;
  // The baseline for the leak check: what exists before any stress task ran, minus the tasks.
  const baseline = slab_usage(w, regions);
  if (kthreadsOnly) baseline[0] = { ...baseline[0]!, in_use: baseTasks };
  else process_baseline(m)?.forEach((n, k) => { baseline[k] = { ...baseline[k]!, in_use: n }; });
  const controlled = cfg.mode === 'controlled';
  let stopAt = controlled || cfg.ops > 0 ? Infinity : cfg.durationMs;
  let interrupted = false;
  let lastStats: StatsSample | undefined;
  const hard = new AbortController();
  const onAbort = (): void => {
    if (interrupted) { hard.abort(); return; }
    interrupted = true;
    io.log?.('interrupted: winding down (Ctrl-C again to stop at once)');
    w[kg + G.stress + STRESS_STOP] = 1;
    setTimeout(() => hard.abort(), 3000).unref();
  };
  io.signal?.addEventListener('abort', onAbort);
  if (io.signal?.aborted) onAbort();
  let result: RunResult;
  try {
    result = await m.run({
      control: controlled ? {
        // PCT's change points fall in the first pctSteps decisions; a fair tail after twice that
        // keeps a polling CPU from starving the others for good (see ControlOptions.pctFairAfter).
        strategy: cfg.strategy, pctDepth: cfg.pctDepth, pctSteps: Math.max(1000, cfg.ops * 8), pctFairAfter: 2 * Math.max(1000, cfg.ops * 8),
        replay: o.replay, tail: o.tail ?? 'strategy', stopOnViolation: cfg.stopOnViolation,
      } : undefined,
      timeoutMs: o.timeoutMs ?? (controlled ? 600_000 : (cfg.ops > 0 ? 3_600_000 : cfg.durationMs + 120_000)),
      hungMs: cfg.hungMs,
      statsEveryMs: io.statsEveryMs ?? 1000,
      signal: hard.signal,
      hotplug: cfg.hotplugMs > 0 && !controlled ? { everyMs: cfg.hotplugMs } : undefined,
      hostPreemption: cfg.hostPreemption,
      runTokens: cfg.runTokens || undefined,
      threads: cfg.threads || undefined,
      stopWhenNoTasks: false,
      until: kthreadsOnly ? (mm) => Atomics.load(mm.mem, kg + G.nr_threads) <= baseTasks : (mm) => process_done(mm),
      onTick: (mm, el) => {
        if (el >= stopAt) { w[kg + G.stress + STRESS_STOP] = 1; stopAt = Infinity; }
        lastStats = sample_stats(mm, el, lastStats);
        io.onStats?.(lastStats);
      },
    });
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
  }
  const elapsed = result.elapsedMs; // the run's clock: from the CPUs' start (worker loading excluded)
  const failures: Failure[] = [];
  const state = result.state;
  const view = m.view(m.snapshot ?? w);
  const vr = violations_report(view, result.violations);
  // Violations first (in the order they were recorded: the first is usually the cause), then
  // how the run ended, then the end checks.
  const seen = new Set<string>();
  for (const v of result.violations) {
    const title = violation_title(v);
    if (seen.has(title)) continue;
    seen.add(title);
    failures.push({ kind: 'violation', title, detail: `CPU ${v.cpu}${v.task ? ` task ${m.taskName(v.task, m.snapshot ?? w)}@${v.task}` : ''} a=${v.a} b=${v.b} c=${v.c}` });
  }
  if (result.crash) {
    const c = result.crash;
    failures.push({ kind: 'run', title: 'worker crashed', detail: `CPU ${c.cpu}, task ${c.task ? m.taskName(c.task, m.snapshot ?? w) + ` (task @${c.task})` : '-'}: ${c.message}\n${c.stack ?? ''}` });
  } else if (state !== 'stopped' && state !== 'violation' && !(interrupted && state === 'stopping')) {
    failures.push({ kind: 'run', title: state, detail: result.stuck ? result.stuck.text.split('\n').slice(-6).join('\n') : '' });
  }
  const clean = state === 'stopped';
  if (clean) {
    torture_cleanup(m);
    failures.push(...check_lock_counters(m));
    if (!kthreadsOnly) failures.push(...(await process_teardown(m)));
    failures.push(...check_leaks(m, baseline, { kthreadsOnly }));
  }
  // The final figures; the fairness over windows is the periodic samples' (the last one carries it).
  const stats = sample_stats(m, elapsed, undefined);
  if (lastStats) stats.min_window_share = lastStats.min_window_share;
  const verdict: 'SUCCESS' | 'FAILURE' = failures.length ? 'FAILURE' : 'SUCCESS';
  // The failure's kind in the catalog's terms, as `pidrace deadlock` names it (src/detect/outcome.ts):
  // a stuck run with a stall report is a stall; the end checks' audit and leak lines count as audit.
  const stalls = state === 'decision-limit' || state === 'hung' ? stall_report(view).lines : [];
  const auditLines = failures.filter((f) => f.kind === 'audit' || f.kind === 'leak').map((f) => f.detail);
  const nviol = result.violations.length + failures.filter((f) => f.kind === 'invariant').length;
  // A violation recorded before the run got stuck is its first report: the kind is the
  // violation's, as in the catalog's runs, which stop at the first violation.
  const outcome: RunOutcome = result.crash ? 'crash' : outcome_of(result.violations.length ? 'violation' : state, nviol, result.stuck?.graph.cycles.length ?? 0, auditLines.length, stalls.length,
    failures.every((f) => f.kind !== 'audit' || is_leak_line(f.detail)), result.violations[0]?.kind ?? 0);
  const exitCode = failures.length ? 1 : interrupted ? 130 : 0;
  const signature = signature_of(failures);
  let token: string | undefined;
  let choices: Uint8Array | undefined;
  let hash: string | undefined;
  if (controlled) {
    choices = m.recordedChoices();
    hash = m.stateHash();
    const t: ReplayToken = {
      v: 1, kind: 'stress', config: cfg as unknown as Record<string, unknown>, seed: cfg.seed, strategy: cfg.strategy, ncpus: cfg.cpus,
      tail: o.tail ?? 'strategy', expect: { state, hash, failure: signature }, choices,
    };
    token = encode_token(t);
  }
  const report: Record<string, unknown> = {
    tool: 'pidrace', version: VERSION, command: 'stress', verdict, exit_code: exitCode,
    interrupted: interrupted || undefined, partial: interrupted || undefined,
    config: cfg, state, elapsed_ms: Math.round(elapsed),
    failures, signature: signature || undefined, outcome, stalls: stalls.length ? stalls : undefined,
    violations: vr.json,
    stuck: result.stuck ? stuck_json(result.stuck) : undefined,
    crash: result.crash,
    control: result.control,
    replay: token ? { token, decisions: choices!.length, preemptions: result.control?.preemptions, hash } : undefined,
    hotplugs: result.hotplugs,
    stats,
  };
  // The checked build's sampler statistics (src/locking/guard_check.ts).
  const guards = cfg.checkGuards ? { watchpoints: m.mem[regions.guard + GUARD.samples]!, races: m.mem[regions.guard + GUARD.races]! } : undefined;
  if (guards) report.guards = guards;
  const text = format_text(cfg, state, elapsed, stats, failures, vr.text, result, verdict, token, interrupted, guards);
  return { verdict, exitCode, config: cfg, state, failures, signature, outcome, result, stats, report, text, interrupted, token, choices, hash, machine: m };
}

function format_text(cfg: StressConfig, state: string, elapsed: number, s: StatsSample, failures: Failure[], vtext: string, r: RunResult,
  verdict: string, token: string | undefined, interrupted: boolean, guards?: { watchpoints: number; races: number }): string {
  const L: string[] = [];
  L.push(`pidrace stress: ${cfg.cpus} CPUs, ${cfg.mode === 'controlled' ? `controlled (${cfg.strategy}${cfg.strategy === 'pct' ? ` d=${cfg.pctDepth}` : ''})` : 'free-running'}, seed ${cfg.seed}, ` +
    `${cfg.ops ? `${cfg.ops} ops` : `${(cfg.durationMs / 1000).toFixed(1)} s`}, lockdep ${cfg.lockdep ? 'on' : 'off'}${cfg.checkGuards ? ', guards checked' : ''}` +
    `${cfg.injectEnomem ? `, ENOMEM ${cfg.injectEnomem}‰` : ''}${cfg.injectDelay ? `, delays ${cfg.injectDelay}‰` : ''}${cfg.mode === 'free' && cfg.windowDelay ? `, window delays ${cfg.windowDelay}‰` : ''}${cfg.bugs.length ? `, bugs ${cfg.bugs.join(',')}` : ''}${cfg.plant.length ? `, planted ${cfg.plant.join(',')}` : ''}`);
  L.push(`mix: ${cfg.mix.join(' ')}`);
  if (r.stuck) L.push('', r.stuck.text);
  if (vtext.trim()) L.push('', vtext.trimEnd());
  // The stuck report leads with the oops of a crash; without a frozen state, the JS error alone.
  if (r.crash && !r.stuck) L.push('', `Oops: worker for CPU ${r.crash.cpu} threw: ${r.crash.message}`, r.crash.stack ?? '');
  L.push('', `${state} after ${(elapsed / 1000).toFixed(2)} s: ${s.ops} ops (${Math.round(s.ops / Math.max(elapsed / 1000, 1e-3))}/s), ${s.forks} forks, ` +
    `${s.rcu_gps} grace periods, ${s.srcu_gps} SRCU grace periods, depth ${s.depth}, violations ${s.violations}`);
  for (const [name, o] of Object.entries(s.per_op)) {
    const errs = Object.entries(o.errors).map(([e, n]) => `${e} ${n}`).join(' ');
    L.push(`  ${name.padEnd(16)} ok ${String(o.ok).padStart(8)}${errs ? `  ${errs}` : ''}${o.skipped ? `  skipped ${o.skipped}` : ''}`);
  }
  const contended = s.locks.filter((l) => l.contended > 0).sort((a, b) => b.wait_ms - a.wait_ms).slice(0, 6);
  if (contended.length) L.push(`  locks: ${contended.map((l) => `${l.class} ${l.acquisitions} acq ${l.contended} cont ${l.wait_ms} ms`).join('; ')}`);
  if (guards) L.push(`  guards: every field access checked; KCSAN watchpoints ${guards.watchpoints}, data races ${guards.races}`);
  L.push(`  cpus: ${s.cpus.map((c) => `${c.cpu}:${c.syscalls}`).join(' ')}${s.cpu_balance_flag ? '  (uneven)' : ''}${r.hotplugs ? `  hotplug transitions ${r.hotplugs}` : ''}`);
  if (s.cpus.length > 1 && !r.control) {
    L.push(`  fairness: least CPU share of its fair share in any stats window ${s.min_window_share < 0 ? 'n/a (no full window)' : s.min_window_share.toFixed(2)}; ` +
      `${s.host_threads ? `${s.host_threads} host threads (several CPUs each), ${s.cpus.reduce((a, c) => a + c.token_yields, 0)} switches at slice end` : s.run_tokens ? `${s.run_tokens} run tokens, ${s.cpus.reduce((a, c) => a + c.token_yields, 0)} hand-offs at slice end` : 'no run tokens'}; ` +
      `rwlock waiters ${s.rwlock_spin_us ? `spin up to ${s.rwlock_spin_us} µs before they nap` : 'nap after their first looks'}`);
  }
  if (r.control) L.push(`  controlled: ${r.control.decisions} decisions, ${r.control.switches} switches, ${r.control.preemptions} preemptions`);
  if (failures.length) {
    L.push('', 'failures:');
    for (const f of failures) L.push(`  - ${f.kind}: ${f.title}${f.detail ? `\n      ${f.detail.split('\n').join('\n      ')}` : ''}`);
  }
  if (token && failures.length) L.push('', `replay: pidrace replay ${token}`);
  else if (token) L.push('', `replay token: ${token.length} characters (replay.token in the JSON report)`);
  L.push('', `verdict: ${verdict}${interrupted ? ' (interrupted: partial report)' : ''}`);
  return L.join('\n');
}

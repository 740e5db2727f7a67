/**
 * `pidrace stress`: the stress run with a verdict (and shards of a seed campaign).
 */
import { parseArgs } from 'node:util';
import { BUG_NAMES } from '../config/bugs.js';
import { NR_CPUS } from '../mm/layout.js';
import { KERNEL_MIX, OPS, TORTURE_MIX } from '../stress/ops.js';
import { default_config, default_mix, kernel_ops_available, PLANTS, validate_config, type StressConfig } from '../stress/config.js';
import { run_stress, VERSION, type StressOutcome } from '../stress/run.js';
import { progress_line, type StatsSample } from '../stress/stats.js';
import { decode_token } from '../ctl/replay_token.js';
import { shrink_stress } from '../stress/replay_stress.js';
import { interrupt, parse_duration, parse_int, parse_permille, UsageError, write_file_atomic, write_json_atomic, type Command } from './common.js';
import { json_with_model, TRACE_RING_EVENTS, write_html_file, write_trace_file } from '../trace/output.js';
import { model_from_stress } from '../trace/report_model.js';

export const USAGE = `usage: pidrace stress [options]

Races the operation mix on N CPUs (worker threads), checks invariants while it runs and at the
end (after killing and reaping every task: audit and leak check), and prints a verdict.

run:
  --cpus N              CPU workers (default 4)
  --duration D          free-running time, e.g. 500ms, 10s, 2m (default 10s)
  --ops N               operation budget (all tasks together); required in controlled mode
  --seed S              seed of the tasks' RNGs and of the controlled strategy (default 1)
  --mode M              free (real parallel threads) | controlled (one CPU at a time, replayable)
  --strategy S          controlled: random | pct (default random)
  --pct-depth D         controlled PCT depth (default 3)
  --tasks N             stress tasks at the start (default 2 per CPU)
  --max-tasks N         fork/clone are skipped above this many live tasks (default 256)
  --timeout D           hard bound on the whole run
mix:
  --mix LIST            comma-separated operations, or all | torture | kernel (default all available, each
                        with its weight from src/stress/ops.ts; wide is another name for all)
                        ops: ${OPS.map((o) => o.name).join(', ')}
  --max-depth N         deepest pid namespace level created (default 4)
injection and checking:
  --inject-enomem R     ENOMEM at allocation points, per mille or N% (e.g. 5, 0.5%)
  --inject-delay R      delays at scheduling hooks (free-running), per mille or N%
  --window-delay R      delays at the hooks of the kernel's named race windows only (free-running),
                        per mille or N% (default 25; 0: none)
  --fault-user R        copies to user memory (wait4/waitid reports) that page-fault and sleep,
                        per mille or N% (default 250; 0: none)
  --fork-balance        a new task starts on an idle or the least loaded CPU, as the kernel's fork
                        balancing does (select_task_rq with WF_FORK); default: on its parent's CPU
  --hotplug D           free-running: a CPU goes offline / comes back every D (e.g. 200ms)
  --host-preemption     free-running: no run tokens; with more CPUs than cores the host may deschedule
                        a CPU that holds a lock (vCPU-style preemption; the default runs at most as
                        many CPUs at once as the host has cores, handing on at preemption points)
  --threads N           free-running: host threads that run the CPUs; fewer than --cpus puts several
                        CPUs on a thread, switched at preemption points (default: the host's cores
                        when --cpus is more; --threads equal to --cpus gives one thread per CPU)
  --hung D              hung-task watchdog: no progress for D ends the run as hung (default 10s)
  --lockdep             lock-order validator on
  --check-guards        run the checked build: every field access checked against its guard
                        (locks, RCU, poison), KCSAN-style watchpoints when free-running
  --bug NAME            compile in a documented kernel bug (repeatable): ${Object.keys(BUG_NAMES).join(', ')}
  --plant NAME          plant a torture bug (repeatable): ${PLANTS.join(', ')}
  --stop-on-violation   controlled: end the run at the first violation
  --shrink              controlled: on FAILURE, shrink the schedule and print the shorter token
  --bug-sweep           the plain mix (default: all) once per catalogued buggy switch set: controlled
                        PCT for --runs seeds (default 16) of --ops operations (default 20000), else
                        free-running for --duration (default 60s); the run without switches gets the
                        same budget. Exit 0 only when every set ended in a FAILURE of the kind the catalog
                        expects (deadlock, hang, stall, violation, leak) and the clean run did not
                        (with --json FILE: the per-set results). With --shard I/N: only the items
                        (the clean run, then the sets) whose index % N == I; "pidrace merge" joins
                        the shards' JSON into the sweep's verdict
  --list-bugs           print the bug switch names (src/config/bugs.ts), one a line, and exit
output:
  --json FILE           write the JSON report (atomically: temporary file + rename); with --trace or
                        --html it carries the trace too, for "pidrace report FILE -o FILE.html"
  --trace FILE          trace the CPUs (per-CPU rings, the newest events kept) and write Chrome
                        trace-event JSON (open it in https://ui.perfetto.dev or chrome://tracing)
  --html FILE           write a self-contained HTML report (timeline, wait-for graph, locks)
  --ndjson              stats as NDJSON on stdout even on a terminal (the default when stdout is not one)
  --quiet               no periodic stats
  --every D             stats period (default 1s)
fleets:
  --shard I/N           run the seeds of this shard: seeds S..S+R-1 where index % N == I
  --shard env           I and N from the environment: JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or
                        PIDRACE_SHARD_INDEX (CI matrix), and PIDRACE_SHARD_COUNT (docs/fleets.md)
  --runs R              seeds in the campaign (default N with --shard, else 1)

exit: 0 SUCCESS, 1 FAILURE, 2 usage error, 130 interrupted without a failure (partial report).`;

const OPTIONS = {
  cpus: { type: 'string' }, duration: { type: 'string' }, ops: { type: 'string' }, seed: { type: 'string' },
  mode: { type: 'string' }, strategy: { type: 'string' }, 'pct-depth': { type: 'string' }, tasks: { type: 'string' },
  'max-tasks': { type: 'string' }, timeout: { type: 'string' }, mix: { type: 'string' }, 'max-depth': { type: 'string' },
  'inject-enomem': { type: 'string' }, 'inject-delay': { type: 'string' }, 'window-delay': { type: 'string' }, 'fault-user': { type: 'string' }, 'fork-balance': { type: 'boolean' }, hotplug: { type: 'string' }, hung: { type: 'string' },
  lockdep: { type: 'boolean' }, 'check-guards': { type: 'boolean' }, 'host-preemption': { type: 'boolean' }, threads: { type: 'string' }, bug: { type: 'string', multiple: true }, plant: { type: 'string', multiple: true },
  'stop-on-violation': { type: 'boolean' }, shrink: { type: 'boolean' }, json: { type: 'string' }, ndjson: { type: 'boolean' },
  quiet: { type: 'boolean' }, every: { type: 'string' }, trace: { type: 'string' }, html: { type: 'string' }, shard: { type: 'string' }, runs: { type: 'string' }, 'list-bugs': { type: 'boolean' }, 'bug-sweep': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

export interface ParsedStress {
  cfg: StressConfig;
  json?: string;
  trace?: string;
  html?: string;
  ndjson: boolean;
  quiet: boolean;
  everyMs: number;
  timeoutMs?: number;
  shard?: { index: number; count: number };
  runs: number;
  shrink: boolean;
  help: boolean;
  listBugs: boolean;
  /** --bug-sweep, with its budget (the defaults of issue 14 unless --runs/--ops/--duration were given). */
  sweep?: { runs: number; ops: number; durationMs: number };
}

function parse_mix(s: string): string[] {
  const parts = s.split(',').map((x) => x.trim()).filter(Boolean);
  const out: string[] = [];
  for (const p of parts) {
    // wide: the name of the widened mix before it became the default (issue 14); kept for old command lines.
    if (p === 'all' || p === 'wide') out.push(...default_mix());
    else if (p === 'torture') out.push(...TORTURE_MIX);
    else if (p === 'kernel') out.push(...KERNEL_MIX);
    else if (OPS.some((o) => o.name === p)) out.push(p);
    else throw new UsageError(`--mix: unknown operation "${p}" (known: ${OPS.map((o) => o.name).join(', ')}, or all, wide, torture, kernel)`);
  }
  return [...new Set(out)];
}

export function parse_stress_args(argv: string[]): ParsedStress {
  const { values: v, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const mode = (v.mode ?? 'free') as StressConfig['mode'];
  if (mode !== 'free' && mode !== 'controlled') throw new UsageError(`--mode must be free or controlled (got "${v.mode}")`);
  const strategy = (v.strategy ?? 'random') as StressConfig['strategy'];
  if (strategy !== 'random' && strategy !== 'pct') throw new UsageError(`--strategy must be random or pct (got "${v.strategy}")`);
  if (v.strategy && mode !== 'controlled') throw new UsageError('--strategy needs --mode controlled');
  const over: Partial<StressConfig> = { mode, strategy };
  if (v.cpus) over.cpus = parse_int(v.cpus, '--cpus', 1, NR_CPUS);
  if (v.duration) over.durationMs = parse_duration(v.duration, '--duration');
  if (v.ops && !v['bug-sweep']) over.ops = parse_int(v.ops, '--ops', 1);
  if (v.seed) over.seed = parse_int(v.seed, '--seed', 0, 0xffffffff);
  if (v['pct-depth']) over.pctDepth = parse_int(v['pct-depth'], '--pct-depth', 1, 9);
  if (v.tasks) over.tasks = parse_int(v.tasks, '--tasks', 1, 4096);
  if (v['max-tasks']) over.maxTasks = parse_int(v['max-tasks'], '--max-tasks', 1, 100_000);
  if (v.mix) over.mix = parse_mix(v.mix);
  if (v['max-depth']) over.maxDepth = parse_int(v['max-depth'], '--max-depth', 0, 32);
  if (v['inject-enomem']) over.injectEnomem = parse_permille(v['inject-enomem'], '--inject-enomem');
  if (v['inject-delay']) over.injectDelay = parse_permille(v['inject-delay'], '--inject-delay');
  if (v['window-delay'] !== undefined) over.windowDelay = parse_permille(v['window-delay'], '--window-delay');
  if (v['fault-user'] !== undefined) over.faultUser = parse_permille(v['fault-user'], '--fault-user');
  if (v['fork-balance']) over.forkBalance = true;
  if (v.hotplug) over.hotplugMs = parse_duration(v.hotplug, '--hotplug');
  if (v.hung) over.hungMs = parse_duration(v.hung, '--hung');
  if (v.lockdep) over.lockdep = true;
  if (v['check-guards']) over.checkGuards = true;
  if (v['host-preemption']) over.hostPreemption = true;
  if (v.threads) over.threads = parse_int(v.threads, '--threads', 1, NR_CPUS);
  if (v.bug) over.bugs = v.bug;
  if (v.plant) over.plant = v.plant;
  if (v['stop-on-violation']) over.stopOnViolation = true;
  const sweep = v['bug-sweep'] ? {
    runs: v.runs ? parse_int(v.runs, '--runs', 0, 1_000_000) : 16,
    ops: v.ops ? parse_int(v.ops, '--ops', 1) : 20_000,
    durationMs: v.duration ? parse_duration(v.duration, '--duration') : 60_000,
  } : undefined;
  if (sweep) {
    if (v.bug) throw new UsageError('--bug-sweep runs every catalogued switch set itself: no --bug');
    if (v.mode || v.strategy || v.shrink) throw new UsageError('--bug-sweep chooses the modes itself (controlled PCT, then free-running): no --mode/--strategy/--shrink');
    // The budget carries them (--duration 0: no free-running run); the base config keeps its defaults.
    delete over.ops;
    delete over.durationMs;
  }
  if (mode === 'controlled' && !v.ops) throw new UsageError('--mode controlled runs an operation budget: give --ops N');
  if (mode === 'controlled' && v.duration) throw new UsageError('--duration is for free-running mode; controlled mode takes --ops');
  if (v.ops && v.duration && !sweep) throw new UsageError('give --duration or --ops, not both');
  if (v.hotplug && mode === 'controlled') throw new UsageError('--hotplug is for free-running mode');
  if (v.threads && (mode === 'controlled' || v['host-preemption'])) throw new UsageError('--threads is for free-running mode with run tokens (controlled mode and --host-preemption run a thread per CPU)');
  if (v['host-preemption'] && mode === 'controlled') throw new UsageError('--host-preemption is for free-running mode (controlled mode runs one CPU at a time)');
  if (v['window-delay'] !== undefined && mode === 'controlled') throw new UsageError('--window-delay is for free-running mode (controlled mode chooses the interleaving itself)');
  if (v['inject-delay'] && mode === 'controlled') throw new UsageError('--inject-delay is for free-running mode (controlled mode chooses the interleaving itself)');
  if (v.shrink && mode !== 'controlled') throw new UsageError('--shrink needs --mode controlled');
  const cfg = default_config(over);
  try {
    validate_config(cfg);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let shard: ParsedStress['shard'];
  if (v.shard) {
    const spec = v.shard === 'env' ? shard_from_env(process.env) : v.shard;
    const m = /^(\d+)\/(\d+)$/.exec(spec);
    if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard "${v.shard}": expected I/N with 0 <= I < N (e.g. 0/4)`);
    shard = { index: Number(m[1]), count: Number(m[2]) };
  }
  // A sweep's --runs is its PCT seeds per set (in its budget), not a seed campaign.
  const runs = sweep ? 1 : v.runs ? parse_int(v.runs, '--runs', 1, 1_000_000) : shard ? shard.count : 1;
  return {
    cfg, json: v.json, trace: v.trace, html: v.html, ndjson: !!v.ndjson, quiet: !!v.quiet, everyMs: v.every ? parse_duration(v.every, '--every') : 1000,
    timeoutMs: v.timeout ? parse_duration(v.timeout, '--timeout') : undefined, shard, runs, shrink: !!v.shrink, help: !!v.help, listBugs: !!v['list-bugs'], sweep,
  };
}

/**
 * --shard env: the shard index and count of a fleet, from a Kubernetes Indexed Job
 * (JOB_COMPLETION_INDEX, set by the Job controller; the count from PIDRACE_SHARD_COUNT, which the
 * manifest sets to .spec.completions) or a CI matrix (PIDRACE_SHARD_INDEX and PIDRACE_SHARD_COUNT).
 * Returns "I/N" for the --shard parser, or throws a usage error naming what is missing.
 */
export function shard_from_env(env: Record<string, string | undefined>): string {
  const index = env.JOB_COMPLETION_INDEX ?? env.PIDRACE_SHARD_INDEX;
  const count = env.PIDRACE_SHARD_COUNT;
  if (index === undefined || count === undefined) {
    throw new UsageError('--shard env: needs JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or PIDRACE_SHARD_INDEX (CI matrix), and PIDRACE_SHARD_COUNT');
  }
  return `${index.trim()}/${count.trim()}`;
}

/** The seeds a shard runs: index i of the campaign seeds S..S+R-1 with i % N == I. */
export function shard_seeds(seed: number, runs: number, shard?: { index: number; count: number }): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) if (!shard || i % shard.count === shard.index) out.push((seed + i) >>> 0);
  return out;
}

async function run(argv: string[]): Promise<number> {
  const a = parse_stress_args(argv);
  if (a.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (a.sweep) {
    const { bug_sweep, sweep_line } = await import('../stress/bug_sweep.js');
    const b = a.sweep;
    process.stderr.write(`bug sweep${a.shard ? ` shard ${a.shard.index}/${a.shard.count}` : ''}: mix ${a.cfg.mix.length} ops, ${a.cfg.cpus} CPUs; per set: controlled PCT ${b.runs} x ${b.ops} ops, else free-running ${b.durationMs / 1000} s\n`);
    const { results, items, ok, interrupted } = await bug_sweep(a.cfg, b, { shard: a.shard, signal: interrupt.signal, log: (r) => process.stdout.write(sweep_line(r) + '\n') });
    const sets = results.filter((r) => r.set !== items[0]);
    const clean = results.find((r) => r.set === items[0]);
    process.stdout.write(`bug sweep: ${sets.filter((r) => r.found).length}/${sets.length} switch sets found${a.shard ? ` (shard ${a.shard.index}/${a.shard.count} of ${items.length} items)` : ''}; run without switches ${!clean ? 'in another shard' : clean.found ? 'FAILED (false positive)' : clean.interrupted ? 'interrupted' : 'clean'}${interrupted ? '; INTERRUPTED (partial report)' : ''}: ${ok ? 'SUCCESS' : 'FAILURE'}\n`);
    // Interrupted without a finding is 130, as a single run's partial report.
    const exit = ok ? 0 : interrupted && sets.every((r) => r.found || r.interrupted) && !clean?.found ? 130 : 1;
    if (a.json) write_json_atomic(a.json, { tool: 'pidrace', version: VERSION, command: 'stress-bug-sweep', config: a.cfg, budget: b, shard: a.shard ?? null, items, results, interrupted: interrupted || undefined, partial: interrupted || undefined, verdict: ok ? 'SUCCESS' : 'FAILURE', exit_code: exit });
    return exit;
  }
  if (a.listBugs) {
    process.stdout.write(Object.keys(BUG_NAMES).join('\n') + '\n');
    return 0;
  }
  const tty = !!process.stdout.isTTY && !a.ndjson;
  const ndjson = !tty;
  const out = (s: string): void => { process.stdout.write(s + '\n'); };
  const human = (s: string): void => { (ndjson ? process.stderr : process.stdout).write(s + '\n'); };
  // Ctrl-C / SIGTERM (src/cli.ts owns the process's signal handler): the run winds down with a
  // partial report. A signal that came while the command was still loading arrives aborted.
  const interrupted_by = interrupt.signal;
  if (!kernel_ops_available()) human('pidrace stress: the process model is not in this build; running the torture mix on kernel threads');
  const seeds = shard_seeds(a.cfg.seed, a.runs, a.shard);
  const results: Array<{ seed: number; o: StressOutcome; shrunk?: string }> = [];
  for (const seed of seeds) {
    if (interrupted_by.aborted && results.length) break;
    const cfg = { ...a.cfg, seed };
    let last = '';
    const onStats = a.quiet ? undefined : (s: StatsSample): void => {
      if (ndjson) out(JSON.stringify({ type: 'stats', seed, ...s }));
      else {
        last = progress_line(s);
        process.stderr.write(`\r${last}\x1b[K`);
      }
    };
    const o = await run_stress(cfg, { onStats, statsEveryMs: a.everyMs, signal: interrupted_by, log: (m) => process.stderr.write(`\n${m}\n`) }, { timeoutMs: a.timeoutMs, traceEvents: a.trace || a.html ? TRACE_RING_EVENTS : 0 });
    if (tty && last) process.stderr.write('\n');
    let shrunk: string | undefined;
    if (a.shrink && o.verdict === 'FAILURE' && o.token) {
      human('shrinking the failing schedule ...');
      const s = await shrink_stress(decode_token(o.token), { log: (m) => human(m) });
      shrunk = s.token;
      human(`shrunk: ${s.shrink.original.preemptions} -> ${s.shrink.shrunk.preemptions} preemptions, ${s.shrink.original.decisions} -> ${s.shrink.shrunk.decisions} decisions (${s.shrink.runs} runs); still fails: ${s.outcome.signature}`);
      human(`replay the shrunk schedule: pidrace replay ${shrunk}`);
      o.report.shrunk = { token: shrunk, preemptions: s.shrink.shrunk.preemptions, decisions: s.shrink.shrunk.decisions, from_preemptions: s.shrink.original.preemptions, from_decisions: s.shrink.original.decisions, runs: s.shrink.runs };
    }
    results.push({ seed, o, shrunk });
    human(o.text);
    if (ndjson) out(JSON.stringify({ type: 'report', ...o.report }));
    if (o.interrupted) break;
  }
  const failed = results.filter((r) => r.o.verdict === 'FAILURE');
  const interrupted = results.some((r) => r.o.interrupted) || results.length < seeds.length;
  const exit = failed.length ? 1 : interrupted ? 130 : 0;
  if (seeds.length > 1 || a.shard) {
    const report = shard_report(a, seeds, results, exit, interrupted);
    human(`\nshard ${a.shard ? `${a.shard.index}/${a.shard.count}` : '-'}: ${results.length} runs, ${failed.length} failed: ${failed.length ? 'FAILURE' : 'SUCCESS'}`);
    if (a.json) write_json_atomic(a.json, report);
  } else if (a.json && results[0]) {
    if (results[0].o.result.trace) write_file_atomic(a.json, json_with_model(results[0].o.report, model_from_stress(results[0].o)));
    else write_json_atomic(a.json, results[0].o.report);
  }
  // The trace and the report show the first failing run, else the last one.
  const shown = failed[0] ?? results[results.length - 1];
  if (shown && a.trace && shown.o.result.trace) {
    write_trace_file(a.trace, shown.o.result.trace, { command: 'stress', seed: shown.seed, verdict: shown.o.verdict, state: shown.o.state });
    human(`trace: ${a.trace} (${shown.o.result.trace.events.length} events; open it in https://ui.perfetto.dev or chrome://tracing)`);
  }
  if (shown && a.html) {
    await write_html_file(a.html, model_from_stress(shown.o));
    human(`report: ${a.html}`);
  }
  return exit;
}

export interface ShardReport {
  tool: 'pidrace';
  version: string;
  command: 'stress-shard';
  shard: { index: number; count: number } | null;
  campaign: { seed: number; runs: number };
  config: StressConfig;
  seeds: number[];
  runs: Array<{ seed: number; verdict: string; state: string; signature?: string; ops: number; elapsed_ms: number; token?: string; shrunk?: string; report?: Record<string, unknown> }>;
  verdict: 'SUCCESS' | 'FAILURE';
  exit_code: number;
  interrupted?: boolean;
}

function shard_report(a: ParsedStress, seeds: number[], results: Array<{ seed: number; o: StressOutcome; shrunk?: string }>, exit: number, interrupted: boolean): ShardReport {
  return {
    tool: 'pidrace', version: VERSION, command: 'stress-shard', shard: a.shard ?? null,
    campaign: { seed: a.cfg.seed, runs: a.runs }, config: a.cfg, seeds,
    runs: results.map(({ seed, o, shrunk }) => ({
      seed, verdict: o.verdict, state: o.state, signature: o.signature || undefined, ops: o.stats.ops, elapsed_ms: Math.round(o.result.elapsedMs),
      token: o.token, shrunk, report: o.verdict === 'FAILURE' ? o.report : undefined,
    })),
    verdict: results.some((r) => r.o.verdict === 'FAILURE') ? 'FAILURE' : 'SUCCESS',
    exit_code: exit,
    interrupted: interrupted || undefined,
  };
}

export const command: Command = { name: 'stress', summary: 'run the stress mix with a verdict', usage: USAGE, run, interruptible: true };

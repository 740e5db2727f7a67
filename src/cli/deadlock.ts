/**
 * `pidrace deadlock`: the catalog of documented deadlocks and races (src/scenarios/catalog.ts).
 *
 *   pidrace deadlock list [--json FILE]
 *   pidrace deadlock ID [--variant NAME] [--mode controlled|free] [--schedules N] [--seed S]
 *                       [--time D] [--json FILE] [--quiet]
 *   pidrace deadlock replay TOKEN|FILE [--shrink] [--json FILE]
 *
 * Exit: 0 when the outcome is what the catalog expects for the variant (a buggy variant
 * reproduced as documented, a fixed variant clean), 1 when not, 2 on usage errors.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { count_preemptions, read_token_arg, encode_token } from '../ctl/replay_token.js';
import { shrink_schedule } from '../ctl/shrink.js';
import { CATALOG, findScenario } from '../scenarios/catalog.js';
import {
  closePools, freeRun, replayToken, runOnce, searchSchedules, type FreeResult, type RunRecord, type SearchResult,
} from '../scenarios/runner.js';
import { bug_names } from '../scenarios/report.js';
import { catalog_markdown, measureCatalog } from '../scenarios/measure.js';
import { buggyVariant, DETECTOR_OF, findVariant, fixedVariant, idStatusOf, verifiedFixIds, type CommitRef, type Scenario, type Variant } from '../scenarios/types.js';
import { parse_duration, parse_int, UsageError, write_file_atomic, write_json_atomic, type Command } from './common.js';
import { json_with_model, TRACE_RING_EVENTS, write_html_file, write_trace_file } from '../trace/output.js';
import { model_from_scenario } from '../trace/report_model.js';

export const USAGE = `usage: pidrace deadlock list [--json FILE|-]
       pidrace deadlock ID [options]
       pidrace deadlock replay TOKEN|FILE [--shrink] [--json FILE]
       pidrace deadlock table [--seeds N] [--time D] [--json FILE]

Documented kernel deadlocks and races, each with its buggy and fixed code paths behind named bug
switches, reproduced from the state of the model (the wait-for graph, the violation log).

  list                  the catalog: id, kind (upstream-bug, design-study or known-open), title, upstream
                        commits (? = not verified) with their role, year, variants and what each
                        is expected to do; --json FILE (or -) gives it as JSON
  ID                    a catalog id (1 .. 8, 7a, 7b, ...) or its short name
  --variant NAME        the variant to run (default: the entry's buggy variant): one of the
                        entry's variant names, "buggy" (its default buggy variant), "fixed"
                        (today's kernel: no bug switch), or "all"
  --mode M              controlled (default): search schedules (PCT and seeded random) until the
                        documented failure shows or N schedules pass;
                        free: real threads race with delay injection for --time, hit rate reported
  --schedules N         controlled: schedules to try (default 500 buggy, 1000 fixed)
  --seed S              controlled: the search seed (default 1)
  --time D              free: time budget per variant (default 10s)
  --parallel N          controlled: machines run at once, each on its own CPU workers (default 1)
  --json FILE           write the JSON report (atomically)
  --trace FILE          write the run's trace as Chrome trace-event JSON (Perfetto, chrome://tracing):
                        the first run that shows the documented failure, else the last run
  --html FILE           write a self-contained HTML report of that run (timeline, wait-for graph)
  --quiet               verdict lines only
  --check-guards        run the checked build: lock, RCU and poison guard violations are reported too
  replay TOKEN|FILE     re-run a controlled run from its token exactly; --shrink looks for a
                        schedule with fewer preemptions that fails the same way
  table                 measure every variant (controlled: schedules to first hit over --seeds
                        search seeds, 1,000 schedules per fixed variant; free-running: hit rate in
                        --time per variant) and print the README table (markdown)

exit: 0 when every variant run did what the catalog expects, 1 when not, 2 usage error.`;

const EXPECT_TEXT: Record<string, string> = {
  deadlock: 'deadlocks (wait-for cycle)',
  hang: 'hangs (blocked, no cycle)',
  violation: 'violation (caught by a model check)',
  leak: 'leak (the kernel audit at the quiescent end)',
  stall: 'stall (RCU CPU stall / soft lockup, the stall detector)',
  clean: 'clean',
};

/** The id's mark: '?' the id was not found in any source, '~' the id was but not all of the record. */
export function commit_mark(c: CommitRef): string {
  const ids = c.idStatus ?? (c.status === 'unverified' ? 'unverified' : 'verified');
  if (ids !== 'verified') return '?';
  return c.status === 'verified' ? '' : '~';
}

function commit_text(s: Scenario): string {
  return s.commits.filter((c) => c.id).map((c) => `${c.id}${commit_mark(c)}`).join(' ');
}

function status_text(c: CommitRef): string {
  const ids = c.idStatus ?? (c.status === 'unverified' ? 'unverified' : 'verified');
  if (ids !== 'verified') return c.status === 'unverified' ? 'UNVERIFIED' : 'id UNVERIFIED';
  return c.status;
}

/** The catalog as text (pidrace deadlock list). */
export function list_text(): string {
  const L: string[] = [];
  L.push('pidrace deadlock catalog (docs/catalog-sources.md: after an id, ? = the id is unverified, ~ = the id is verified but part of the record is not)', '');
  for (const s of CATALOG) {
    const mark = s.kind === 'design-study' ? '[DESIGN STUDY, not an upstream bug] ' : s.kind === 'known-open' ? '[KNOWN OPEN: no fix merged, today\'s kernel has it] '
      : s.kind === 'found' ? '[FOUND BY PIDRACE: no upstream report found, today\'s kernel code has it] ' : '';
    L.push(`${s.id.padEnd(3)} ${mark}${s.title}`);
    L.push(`    kind: ${s.kind}   slug: ${s.slug}   year: ${s.year}   commits: ${commit_text(s) || '-'}   CPUs: ${s.ncpus}`);
    for (const c of s.commits) {
      L.push(`      ${(c.id || '(no id)').padEnd(13)} ${status_text(c).padEnd(14)} ${c.role.padEnd(7)} "${c.subject}"${c.author ? `, ${c.author}` : ''} (${c.year})${c.note ? `\n${' '.repeat(35)}${c.note}` : ''}`);
    }
    for (const v of s.variants) {
      L.push(`    variant ${v.name.padEnd(22)} ${`expected: ${EXPECT_TEXT[v.expect] ?? v.expect}`.padEnd(40)} ${v.summary}${v.bugs ? ` [${bug_names(v.bugs).join(' | ')}]` : ''}`);
    }
    L.push(`    documented: ${s.expected}`);
    L.push('');
  }
  return L.join('\n');
}

export function list_json(): Record<string, unknown>[] {
  return CATALOG.map((s) => ({
    id: s.id, slug: s.slug, kind: s.kind, title: s.title, year: s.year, ncpus: s.ncpus,
    verifiedFixIds: verifiedFixIds(s),
    detector: s.detector ?? DETECTOR_OF[buggyVariant(s).expect],
    commits: s.commits.map((c) => ({
      id: c.id || null, subject: c.subject, author: c.author, year: c.year, role: c.role, idStatus: idStatusOf(c),
      recordStatus: c.status, source: c.source ?? c.note ?? null, note: c.note,
    })),
    variants: s.variants.map((v) => ({
      name: v.name, expect: v.expect, bugs: bug_names(v.bugs), summary: v.summary,
      default: v.name === s.defaultVariant, buggy: v.name === buggyVariant(s).name, fixed: v.name === fixedVariant(s).name,
    })),
    interleaving: s.interleaving, documented: s.expected,
  }));
}

function pick_variants(s: Scenario, name: string | undefined): Variant[] {
  if (!name) return [buggyVariant(s)];
  if (name === 'all') return s.variants;
  const v = findVariant(s, name);
  if (!v) throw new UsageError(`entry ${s.id} has no variant "${name}" (variants: ${s.variants.map((x) => x.name).join(', ')}, buggy, fixed, all)`);
  return [v];
}

function search_lines(s: Scenario, r: SearchResult, quiet: boolean): string[] {
  const L: string[] = [];
  const v = s.variants.find((x) => x.name === r.variant)!;
  L.push(`== ${s.id} ${v.name}: expected ${EXPECT_TEXT[v.expect]}; controlled search, ${r.schedules} schedule${r.schedules === 1 ? '' : 's'} in ${(r.ms / 1000).toFixed(1)} s (${Object.entries(r.outcomes).map(([k, n]) => `${k} ${n}`).join(', ')})`);
  if (r.first?.report && !quiet) L.push('', r.first.report, '');
  if (r.first) {
    const f = r.first;
    L.push(`schedule ${r.firstAt}: seed ${f.seed}, ${f.strategy}, ${f.decisions} decisions, ${f.preemptions} preemptions -> ${f.outcome}${f.failed ? (f.check.matched ? ' (documented)' : ' (not the documented failure)') : ''}`);
  }
  if (r.token) L.push(`replay: pidrace deadlock replay ${r.token}`);
  if (v.expect === 'clean') {
    L.push(r.asExpected ? `verdict: AS EXPECTED - ${r.schedules} schedules, no failure` : `verdict: UNEXPECTED - the fixed variant failed (${r.first?.outcome}: ${r.first?.check.detail})`);
  } else {
    L.push(r.asExpected
      ? `verdict: REPRODUCED after ${r.firstAt} schedule${r.firstAt === 1 ? '' : 's'} - ${r.first!.check.detail}`
      : `verdict: NOT REPRODUCED in ${r.schedules} schedules`);
  }
  return L;
}

function free_lines(s: Scenario, r: FreeResult, quiet: boolean): string[] {
  const L: string[] = [];
  const v = s.variants.find((x) => x.name === r.variant)!;
  L.push(`== ${s.id} ${v.name}: expected ${EXPECT_TEXT[v.expect]}; free-running on ${s.ncpus} CPU workers for ${(r.ms / 1000).toFixed(1)} s: ${r.attempts} attempts, ${r.hits} documented hits (rate ${(r.hitRate * 100).toFixed(1)}%), ${r.otherFailures} other failures, ${r.hangs} stuck`);
  const show = r.first ?? r.firstFailure;
  if (show?.report && !quiet) L.push('', show.report, '');
  if (v.expect === 'clean') {
    L.push(r.asExpected ? `verdict: AS EXPECTED - ${r.attempts} attempts, no failure, nothing hung` : `verdict: UNEXPECTED - the fixed variant failed or hung (${r.firstFailure?.outcome}: ${r.firstFailure?.check.detail})`);
  } else {
    L.push(r.asExpected
      ? `verdict: REPRODUCED - first hit after ${((r.firstHitMs ?? 0) / 1000).toFixed(2)} s; hit rate ${r.hits}/${r.attempts}`
      : `verdict: NOT REPRODUCED in ${(r.ms / 1000).toFixed(1)} s (${r.attempts} attempts)`);
  }
  return L;
}

function record_json(r: RunRecord | undefined): Record<string, unknown> | undefined {
  if (!r) return undefined;
  return {
    seed: r.seed, strategy: r.strategy, state: r.state, outcome: r.outcome, documented: r.check.matched, detail: r.check.detail,
    decisions: r.decisions, preemptions: r.preemptions, ms: Math.round(r.ms * 10) / 10, report: r.json, text: r.report,
  };
}

async function run_entry(id: string, v: Record<string, string | boolean | undefined>): Promise<number> {
  const s = findScenario(id);
  if (!s) throw new UsageError(`no catalog entry "${id}" (ids: ${CATALOG.map((x) => x.id).join(', ')}; "pidrace deadlock list")`);
  const mode = (v.mode as string | undefined) ?? 'controlled';
  if (mode !== 'controlled' && mode !== 'free') throw new UsageError(`--mode: "${mode}" is not controlled or free`);
  const variants = pick_variants(s, v.variant as string | undefined);
  const quiet = !!v.quiet;
  const schedules = v.schedules !== undefined ? parse_int(v.schedules as string, '--schedules', 1, 10_000_000) : undefined;
  const seed = v.seed !== undefined ? parse_int(v.seed as string, '--seed', 0) : 1;
  const timeMs = v.time !== undefined ? parse_duration(v.time as string, '--time') : 10_000;
  const parallel = v.parallel !== undefined ? parse_int(v.parallel as string, '--parallel', 1, 16) : 1;
  if (mode === 'free' && (v.schedules !== undefined || v.seed !== undefined)) throw new UsageError('--schedules and --seed are for --mode controlled (free-running uses --time)');
  const say = (t: string): void => { process.stdout.write(t + '\n'); };
  let ok = true;
  const out: Record<string, unknown>[] = [];
  const trace = v.trace || v.html ? TRACE_RING_EVENTS : 0;
  /** The run the trace and the HTML report show: the first documented failure, else the last run. */
  let shown: { rec: RunRecord; variant: Variant; token?: string } | undefined;
  try {
    for (const variant of variants) {
      if (mode === 'controlled') {
        const r = await searchSchedules(s, variant, { schedules, seed, parallel, trace, checkGuards: !!v['check-guards'] });
        const rec = r.first ?? r.last;
        if (rec && (!shown || (!shown.rec.failed && rec.failed))) shown = { rec, variant, token: r.token };
        for (const line of search_lines(s, r, quiet)) say(line);
        ok &&= r.asExpected;
        out.push({ variant: variant.name, expect: variant.expect, mode, schedules: r.schedules, first_at: r.firstAt, outcomes: r.outcomes, as_expected: r.asExpected, ms: Math.round(r.ms), token: r.token, first: record_json(r.first) });
      } else {
        const r = await freeRun(s, variant, { timeMs, trace, checkGuards: !!v['check-guards'] });
        const rec = r.first ?? r.firstFailure ?? r.last;
        if (rec && (!shown || (!shown.rec.failed && rec.failed))) shown = { rec, variant };
        for (const line of free_lines(s, r, quiet)) say(line);
        ok &&= r.asExpected;
        out.push({ variant: variant.name, expect: variant.expect, mode, attempts: r.attempts, hits: r.hits, hit_rate: r.hitRate, other_failures: r.otherFailures, hangs: r.hangs, first_hit_ms: r.firstHitMs, as_expected: r.asExpected, ms: Math.round(r.ms), first: record_json(r.first ?? r.firstFailure) });
      }
      say('');
    }
  } finally {
    await closePools();
  }
  if (v.json) {
    const report = { command: 'deadlock', id: s.id, title: s.title, commits: s.commits, documented: s.expected, runs: out, verdict: ok ? 'AS EXPECTED' : 'UNEXPECTED' };
    if (shown?.rec.trace) write_file_atomic(v.json as string, json_with_model(report, model_from_scenario(s, shown.variant, shown.rec, shown.token)));
    else write_json_atomic(v.json as string, report);
  }
  if (v.trace) write_run_trace(v.trace as string, s, shown);
  if (v.html) await write_run_html(v.html as string, s, shown);
  return ok ? 0 : 1;
}

function write_run_trace(path: string, s: Scenario, shown: { rec: RunRecord; variant: Variant } | undefined): void {
  if (!shown?.rec.trace) throw new Error('no traced run to write');
  write_trace_file(path, shown.rec.trace, { command: 'deadlock', id: s.id, variant: shown.variant.name, outcome: shown.rec.outcome, seed: shown.rec.seed });
  process.stdout.write(`trace: ${path} (${shown.rec.trace.events.length} events; open it in https://ui.perfetto.dev or chrome://tracing)\n`);
}

async function write_run_html(path: string, s: Scenario, shown: { rec: RunRecord; variant: Variant; token?: string } | undefined): Promise<void> {
  if (!shown) throw new Error('no run to report');
  await write_html_file(path, model_from_scenario(s, shown.variant, shown.rec, shown.token));
  process.stdout.write(`report: ${path}\n`);
}

async function run_replay(arg: string, v: Record<string, string | boolean | undefined>): Promise<number> {
  let tokText: string;
  try {
    const tok = read_token_arg(arg);
    tokText = encode_token(tok);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const say = (t: string): void => { process.stdout.write(t + '\n'); };
  try {
    const { record, same, token } = await replayToken(tokText, findScenario, v.trace || v.html ? TRACE_RING_EVENTS : 0);
    const s = findScenario(String(token.config.id))!;
    say(`replaying catalog entry ${s.id} variant ${record.variant}: seed ${token.seed}, ${token.strategy}, ${token.choices.length} choices (${count_preemptions(token.choices)} preemptions)`);
    if (record.report && !v.quiet) say(record.report);
    say(same ? `reproduced: ${record.outcome}${record.failed ? (record.check.matched ? ' (documented)' : ' (other)') : ''}, as recorded` : `DIVERGED: ${record.outcome} (recorded ${token.expect?.failure || 'clean'})`);
    const v0 = s.variants.find((x) => x.name === record.variant)!;
    let code = record.asExpected ? 0 : 1;
    const report: Record<string, unknown> = { command: 'deadlock replay', id: s.id, variant: record.variant, same, run: record_json(record) };
    if (v.shrink && record.failed) {
      const runner = async (replay: Uint8Array, tail: 'nonpreempt' | 'strategy'): Promise<{ signature: string; choices: Uint8Array }> => {
        const r = await runOnce(s, v0, { mode: 'controlled', seed: token.seed, strategy: token.strategy === 'random' ? 'random' : 'pct', replay, tail, report: false });
        return { signature: r.failed ? `${r.outcome}:${r.check.matched ? 'documented' : 'other'}` : '', choices: r.choices ?? new Uint8Array() };
      };
      const sh = await shrink_schedule(token.choices, runner, { log: v.quiet ? undefined : (m) => say(m) });
      const t2 = encode_token({ ...token, tail: 'nonpreempt', choices: sh.shrunk.choices, shrunk: { from: sh.original.preemptions, to: sh.shrunk.preemptions, fromDecisions: sh.original.decisions, toDecisions: sh.shrunk.decisions } });
      say(`shrunk: ${sh.original.preemptions} -> ${sh.shrunk.preemptions} preemptions, ${sh.original.decisions} -> ${sh.shrunk.decisions} decisions in ${sh.runs} runs (${sh.signature})`);
      say(`replay: pidrace deadlock replay ${t2}`);
      report.shrunk = { token: t2, preemptions: sh.shrunk.preemptions, decisions: sh.shrunk.decisions, runs: sh.runs };
    }
    if (!same) code = 1;
    if (v.json) write_json_atomic(v.json as string, report);
    if (v.trace) write_run_trace(v.trace as string, s, { rec: record, variant: v0 });
    if (v.html) await write_run_html(v.html as string, s, { rec: record, variant: v0, token: tokText });
    return code;
  } finally {
    await closePools();
  }
}

async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      variant: { type: 'string' }, mode: { type: 'string' }, schedules: { type: 'string' }, seed: { type: 'string' },
      time: { type: 'string' }, parallel: { type: 'string' }, json: { type: 'string' }, quiet: { type: 'boolean', short: 'q' },
      shrink: { type: 'boolean' }, seeds: { type: 'string' }, 'check-guards': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      trace: { type: 'string' }, html: { type: 'string' },
    },
  });
  if (v.help) { process.stdout.write(USAGE + '\n'); return 0; }
  const [first, ...rest] = positionals;
  if (!first) throw new UsageError('missing "list", an entry id, or "replay TOKEN"');
  if ((v.trace || v.html) && (first === 'list' || first === 'table')) throw new UsageError(`--trace and --html are for a run ("pidrace deadlock ID" or "pidrace deadlock replay TOKEN"), not "${first}"`);
  if (first === 'list') {
    if (rest.length) throw new UsageError('list takes no arguments');
    if (v.json === '-') {
      process.stdout.write(JSON.stringify({ command: 'deadlock list', catalog: list_json() }, null, 2) + '\n');
      return 0;
    }
    process.stdout.write(list_text() + '\n');
    if (v.json) write_json_atomic(v.json, { command: 'deadlock list', catalog: list_json() });
    return 0;
  }
  if (first === 'table') {
    if (rest.length) throw new UsageError('table takes no arguments');
    const seeds = v.seeds !== undefined ? parse_int(v.seeds, '--seeds', 1, 1000) : 10;
    const freeMs = v.time !== undefined ? parse_duration(v.time, '--time') : 10_000;
    try {
      const rows = await measureCatalog({ seeds, freeMs, log: v.quiet ? undefined : (l) => process.stdout.write(l + '\n') });
      const md = catalog_markdown(rows, { seeds, freeMs, cpus: 'the entry\'s CPU workers on this host' });
      process.stdout.write('\n' + md + '\n');
      if (v.json) write_json_atomic(v.json, { command: 'deadlock table', seeds, free_ms: freeMs, rows, markdown: md });
      const ok = rows.every((r) => r.controlledOk && (!r.free || r.free.ok));
      return ok ? 0 : 1;
    } finally {
      await closePools();
    }
  }
  if (first === 'replay') {
    if (rest.length !== 1) throw new UsageError('replay takes one TOKEN or FILE');
    return run_replay(rest[0]!, v);
  }
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
  if (v.shrink) throw new UsageError('--shrink is for "pidrace deadlock replay"');
  return run_entry(first, v);
}

export const command: Command = { name: 'deadlock', summary: 'the catalog of documented deadlocks and races: list, reproduce, replay', usage: USAGE, run };

/** Until src/cli.ts lists the command: `node dist/src/cli/deadlock.js ...` runs it directly. */
function invoked_directly(): boolean {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}
if (invoked_directly()) {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); });
  run(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
    if (e instanceof UsageError || (typeof (e as { code?: string }).code === 'string' && (e as { code: string }).code.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`pidrace deadlock: ${(e as Error).message}\n${USAGE.split('\n')[0]}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`pidrace deadlock: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}

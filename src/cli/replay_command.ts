/**
 * `pidrace replay TOKEN|FILE`: re-run a controlled run decision for decision and say whether it
 * reproduced the recorded result; `--shrink` looks for a shorter failing schedule.
 */
import { parseArgs } from 'node:util';
import { count_preemptions, read_token_arg } from '../ctl/replay_token.js';
import { replay_stress, shrink_stress } from '../stress/replay_stress.js';
import { parse_duration, parse_int, UsageError, write_file_atomic, write_json_atomic, type Command } from './common.js';
import { json_with_model, TRACE_RING_EVENTS, write_html_file, write_trace_file } from '../trace/output.js';
import { model_from_stress } from '../trace/report_model.js';

export const USAGE = `usage: pidrace replay TOKEN|FILE [options]

Re-runs a controlled run from its replay token (printed by every controlled run, or the
replay.token field of a JSON report) with the same choices, and checks that it ends the same way:
same run state, same failure, same kernel-state hash.

  --shrink              on a failing run: remove preemptions / shorten the schedule while it
                        still fails the same way, and print the shorter token
  --max-runs N          shrink: at most N re-runs (default 200)
  --shrink-time D       shrink: time budget (default 60s)
  --json FILE           write the JSON report (atomically)
  --trace FILE          trace the replayed run: Chrome trace-event JSON (Perfetto, chrome://tracing)
  --html FILE           write a self-contained HTML report of the replayed run
  --quiet               only the verdict lines
  --check-guards        replay on the checked build (guard checks; the recorded hash may then differ)

exit: the replayed run's verdict (0 SUCCESS, 1 FAILURE), 2 usage error, 3 the replay did not
reproduce the recorded result.`;

async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { shrink: { type: 'boolean' }, 'max-runs': { type: 'string' }, 'shrink-time': { type: 'string' }, json: { type: 'string' }, trace: { type: 'string' }, html: { type: 'string' }, quiet: { type: 'boolean' }, 'check-guards': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (v.help) { process.stdout.write(USAGE + '\n'); return 0; }
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'give one token or file' : 'missing TOKEN or FILE');
  let tok;
  try {
    tok = read_token_arg(positionals[0]!);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (v['check-guards']) tok = { ...tok, config: { ...tok.config, checkGuards: true } };
  const say = (s: string): void => { process.stdout.write(s + '\n'); };
  say(`replaying a ${tok.kind} run: seed ${tok.seed}, ${tok.strategy}, ${tok.ncpus} CPUs, ${tok.choices.length} choices (${count_preemptions(tok.choices)} preemptions), tail ${tok.tail}${tok.shrunk ? ` [shrunk from ${tok.shrunk.from} preemptions]` : ''}`);
  const { outcome, match } = await replay_stress(tok, {}, v.trace || v.html ? TRACE_RING_EVENTS : 0);
  if (!v.quiet) say(outcome.text);
  let code = outcome.exitCode === 1 ? 1 : 0;
  const report: Record<string, unknown> = { ...outcome.report, command: 'replay', replayed: { expect: tok.expect, match } };
  if (match && tok.expect) {
    const same = match.state && match.failure && match.hash;
    say(same
      ? `reproduced: state ${outcome.state}, ${outcome.signature ? `failure "${outcome.signature}"` : 'no failure'}, state hash ${outcome.hash} (same as recorded)`
      : `DIVERGED from the recording: state ${outcome.state} (recorded ${tok.expect.state}), failure "${outcome.signature}" (recorded "${tok.expect.failure}"), hash ${outcome.hash} (recorded ${tok.expect.hash})`);
    if (!same) code = 3;
  }
  if (v.shrink) {
    if (outcome.verdict !== 'FAILURE') say('nothing to shrink: the run does not fail');
    else {
      const s = await shrink_stress(tok, {
        maxRuns: v['max-runs'] ? parse_int(v['max-runs'], '--max-runs', 1) : undefined,
        timeMs: v['shrink-time'] ? parse_duration(v['shrink-time'], '--shrink-time') : undefined,
        log: v.quiet ? undefined : (m) => say(m),
      });
      say(`shrunk: ${s.shrink.original.preemptions} -> ${s.shrink.shrunk.preemptions} preemptions, ${s.shrink.original.decisions} -> ${s.shrink.shrunk.decisions} decisions in ${s.shrink.runs} runs; still fails: ${s.outcome.signature}`);
      say(`replay: pidrace replay ${s.token}`);
      report.shrunk = { token: s.token, preemptions: s.shrink.shrunk.preemptions, decisions: s.shrink.shrunk.decisions, runs: s.shrink.runs, signature: s.outcome.signature };
    }
  }
  if (v.json) {
    if (outcome.result.trace) write_file_atomic(v.json, json_with_model(report, model_from_stress(outcome, 'replay')));
    else write_json_atomic(v.json, report);
  }
  if (v.trace && outcome.result.trace) {
    write_trace_file(v.trace, outcome.result.trace, { command: 'replay', verdict: outcome.verdict, state: outcome.state });
    say(`trace: ${v.trace} (${outcome.result.trace.events.length} events; open it in https://ui.perfetto.dev or chrome://tracing)`);
  }
  if (v.html) {
    await write_html_file(v.html, model_from_stress(outcome, 'replay'));
    say(`report: ${v.html}`);
  }
  return code;
}

export const command: Command = { name: 'replay', summary: 'replay a controlled run exactly', usage: USAGE, run };

/**
 * What a run ended as, in the catalog's terms (deadlock, hang, stall, violation, leak), from the
 * generic detectors' findings alone: the run state, the wait-for graph's cycles, the violation
 * log, the stall detector's lines and the end-of-run audit. One classification for `pidrace
 * deadlock` (src/scenarios/runner.ts) and `pidrace stress` (src/stress/run.ts), so the two name a
 * failure the same way.
 */

/** The catalog's kinds (src/scenarios/types.ts Expectation), 'limit' (a decision bound, nothing found) and 'crash'. */
export type RunOutcome = 'clean' | 'deadlock' | 'hang' | 'stall' | 'violation' | 'leak' | 'limit' | 'crash';

/** An audit line about a reference count or an object left allocated (a leak), not about structure. */
const LEAK_LINE = /\b(kref|count|references found|leaked|in use|allocated)\b/;
/** "count C, references found R" with C < R: a reference held without its count (a put with no get), not a leak. */
const COUNT_VS_FOUND = /\b(?:count|kref) (\d+), references found (\d+)/;

export function is_leak_line(x: string): boolean {
  const c = COUNT_VS_FOUND.exec(x);
  if (c && Number(c[1]) < Number(c[2])) return false;
  return LEAK_LINE.test(x);
}

/**
 * state: the run's end state (RUN_STATE_NAMES); nviol: violations recorded; cycles: wait-for
 * cycles of the stuck state; audit: end-of-run audit lines; stalls: stall-detector lines;
 * auditLeak: every audit line is about a count or an object left allocated.
 */
export function outcome_of(state: string, nviol: number, cycles: number, audit: number, stalls: number, auditLeak: boolean): RunOutcome {
  if (state === 'crashed') return 'crash';
  if (state === 'decision-limit') return stalls > 0 ? 'stall' : 'limit';
  if (state === 'deadlock' || state === 'hung') return cycles > 0 ? 'deadlock' : stalls > 0 ? 'stall' : 'hang';
  if (nviol > 0 || state === 'violation') return 'violation';
  if (audit > 0) return auditLeak ? 'leak' : 'violation';
  return 'clean';
}

/**
 * What a run ended as, in the catalog's terms (deadlock, hang, stall, violation, leak), from the
 * generic detectors' findings alone: the run state, the wait-for graph's cycles, the violation
 * log, the stall detector's lines and the end-of-run audit. One classification for `pidrace
 * deadlock` (src/scenarios/runner.ts) and `pidrace stress` (src/stress/run.ts), so the two name a
 * failure the same way.
 */
import { is_hang_report } from '../locking/violations.js';

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
 * A stuck run with a wait-for cycle is a deadlock even when the stall detector reports too, as the
 * kernel's reports would split it: the hung-task watchdog names tasks asleep for good, the
 * soft-lockup watchdog and the RCU stall warning name a CPU that never schedules. The graph has
 * no edge out of a CPU that is not waiting on something (a CPU busy in kernel code, livelocked
 * like zap's kernel_wait4 loop with TIF_NOTIFY_SIGNAL set), so a cycle never runs through one:
 * it is among sleeping tasks or among CPUs spinning on each other's locks (7a, 7b: a deadlock the
 * soft-lockup watchdog reports as well), and the stall, if any, is another failure. Tasks that
 * wait for a stalled grace period end their chains at the busy CPU: no cycle, so a stall. (Cycles
 * seen with entry 10's stall under plain stress came from edges the kernel has no wait for: a
 * zombie leader's reap while its threads lived, an rcu-tasks holdout asleep; src/detect/waitfor.ts.)
 *
 * state: the run's end state (RUN_STATE_NAMES); nviol: violations recorded; cycles: wait-for
 * cycles of the stuck state; audit: end-of-run audit lines; stalls: stall-detector lines;
 * auditLeak: every audit line is about a count or an object left allocated; firstViolation: the
 * kind of the first violation recorded (0: none). A hung-task report (V_HUNG_TASK: a task went
 * to sleep with nothing left to wake it; V_LOST_WAKEUP: it went to sleep past the event it waits
 * for) is the wait-for graph's hang found at its start: the run's outcome is a hang when it is the
 * first report, as a run that stopped there would be.
 */
export function outcome_of(state: string, nviol: number, cycles: number, audit: number, stalls: number, auditLeak: boolean, firstViolation = 0): RunOutcome {
  if (state === 'crashed') return 'crash';
  if (state === 'decision-limit') return stalls > 0 ? 'stall' : 'limit';
  if (state === 'deadlock' || state === 'hung') return cycles > 0 ? 'deadlock' : stalls > 0 ? 'stall' : 'hang';
  if (nviol > 0 || state === 'violation') return is_hang_report(firstViolation) ? 'hang' : 'violation';
  if (audit > 0) return auditLeak ? 'leak' : 'violation';
  return 'clean';
}

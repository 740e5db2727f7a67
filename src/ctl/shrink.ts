/**
 * Schedule shrinking: from a failing controlled schedule, find a shorter one (fewer preemptions,
 * fewer decisions) that still fails the same way.
 *
 * Every candidate is checked by running it. A candidate is a prefix of choices replayed with the
 * non-preemptive tail (after the prefix, the running CPU keeps going while it can), in which some
 * preemptions are replaced by CHOICE_STAY ("keep the running CPU"). When a candidate fails with
 * the same signature, its own recorded choices (which are exact: they replay to the same run)
 * become the new current schedule.
 *  1. Truncation: binary search on the prefix length.
 *  2. Preemption removal, delta-debugging style: try to remove chunks of preemptions, halving the
 *     chunk size down to single preemptions.
 * Bounded by a number of runs and a time budget; the best schedule found so far is kept.
 */
import { CHOICE_PREEMPT, CHOICE_STAY } from '../sched/hook.js';
import { count_preemptions } from './replay_token.js';

export interface Outcome {
  /** Failure signature: '' when the run passed. */
  signature: string;
  /** The choices the run recorded (exact). */
  choices: Uint8Array;
}

export type ScheduleRunner = (replay: Uint8Array, tail: 'nonpreempt' | 'strategy') => Promise<Outcome>;

export interface ShrinkOptions {
  maxRuns?: number;
  timeMs?: number;
  log?: (msg: string) => void;
}

export interface ShrinkResult {
  signature: string;
  original: { choices: Uint8Array; preemptions: number; decisions: number };
  shrunk: { choices: Uint8Array; preemptions: number; decisions: number };
  runs: number;
  /** The shrunk schedule replays with the non-preemptive tail. */
  tail: 'nonpreempt';
}

/** Is `a` a better (shorter) schedule than `b`? Fewer preemptions first, then fewer decisions. */
function better(a: Uint8Array, b: Uint8Array): boolean {
  const pa = count_preemptions(a);
  const pb = count_preemptions(b);
  return pa < pb || (pa === pb && a.length < b.length);
}

export async function shrink_schedule(failing: Uint8Array, run: ScheduleRunner, o: ShrinkOptions = {}): Promise<ShrinkResult> {
  const maxRuns = o.maxRuns ?? 200;
  const deadline = Date.now() + (o.timeMs ?? 60_000);
  let runs = 0;
  const log = o.log ?? (() => {});
  const first = await run(failing, 'nonpreempt');
  runs++;
  const signature = first.signature;
  if (!signature) throw new Error('shrink: the schedule does not fail when replayed');
  let cur = first.choices;
  const budget = (): boolean => runs < maxRuns && Date.now() < deadline;
  const attempt = async (cand: Uint8Array): Promise<boolean> => {
    if (!budget()) return false;
    const out = await run(cand, 'nonpreempt');
    runs++;
    if (out.signature === signature && better(out.choices, cur)) {
      cur = out.choices;
      log(`shrink: ${count_preemptions(cur)} preemptions, ${cur.length} decisions (run ${runs})`);
      return true;
    }
    return false;
  };

  // 1. Truncation: the shortest prefix (non-preemptive after it) that still fails.
  let lo = 0;
  let hi = cur.length;
  while (lo < hi && budget()) {
    const mid = (lo + hi) >> 1;
    if (await attempt(cur.slice(0, mid))) hi = Math.min(mid, cur.length);
    else lo = mid + 1;
  }

  // 2. Remove preemptions, chunks first.
  let chunk = Math.max(1, count_preemptions(cur) >> 1);
  while (chunk >= 1 && budget()) {
    const idx: number[] = [];
    cur.forEach((c, i) => { if (c & CHOICE_PREEMPT) idx.push(i); });
    let progressed = false;
    for (let s = 0; s < idx.length && budget(); s += chunk) {
      const cand = cur.slice();
      for (const i of idx.slice(s, s + chunk)) cand[i] = CHOICE_STAY;
      if (await attempt(cand)) { progressed = true; break; }
    }
    if (!progressed) chunk = chunk === 1 ? 0 : chunk >> 1;
  }
  log(`shrink: done after ${runs} runs`);
  return {
    signature,
    original: { choices: failing, preemptions: count_preemptions(failing), decisions: failing.length },
    shrunk: { choices: cur, preemptions: count_preemptions(cur), decisions: cur.length },
    runs,
    tail: 'nonpreempt',
  };
}

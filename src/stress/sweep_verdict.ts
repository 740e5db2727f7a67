/**
 * What a `pidrace stress --bug-sweep` result is, and its verdict: shared by the sweep
 * (src/stress/bug_sweep.ts) and `pidrace merge` of its shards (src/cli/merge.ts), which loads no
 * kernel code - so this module imports nothing.
 */

/** The name of the sweep's item 0, the run without switches. */
export const CLEAN_SET = '(none)';

export interface SweepResult {
  set: string;
  bugs: string[];
  entries: string[];
  expect: string[];
  /** Switch sets: found; the run without switches: clean (no FAILURE at all). */
  found: boolean;
  mode?: 'controlled-pct' | 'free';
  seed?: number;
  /** Wall-clock time of the sweep for this set until the first FAILURE ended (or the whole budget). */
  elapsed_ms: number;
  /** Operations run until the first FAILURE (all runs of the set together). */
  ops: number;
  first_line?: string;
  /** The kind of the failure found (src/detect/outcome.ts), one the catalog expects of the set. */
  outcome?: string;
  /** A FAILURE of another kind than the catalog expects, seen before (or instead of) the expected one. */
  other?: { mode: 'controlled-pct' | 'free'; seed: number; outcome: string; first_line: string };
  token?: string;
  /** The sweep was interrupted (Ctrl-C, SIGTERM) before this set's budget ran out, and it was not found. */
  interrupted?: boolean;
}

/** The verdict on a sweep's results: the run without switches clean, every switch set found. */
export function sweep_ok(results: SweepResult[]): boolean {
  return results.every((r) => (r.set === CLEAN_SET ? !r.found && !r.interrupted : r.found));
}

export function sweep_line(r: SweepResult): string {
  const what = r.interrupted ? `interrupted (${r.ops} ops, ${(r.elapsed_ms / 1000).toFixed(1)} s)` : r.set === CLEAN_SET
    ? (r.found ? `FALSE POSITIVE (${r.mode}, seed ${r.seed}, ${(r.elapsed_ms / 1000).toFixed(1)} s): ${r.first_line}` : `clean (${r.ops} ops, ${(r.elapsed_ms / 1000).toFixed(1)} s)`)
    : (r.found ? `found (${r.outcome}) ${r.mode} seed ${r.seed} after ${(r.elapsed_ms / 1000).toFixed(1)} s, ${r.ops} ops: ${r.first_line}`
      : `NOT FOUND (${r.ops} ops, ${(r.elapsed_ms / 1000).toFixed(1)} s)${r.other ? `; another kind: ${r.other.outcome} (${r.other.mode}, seed ${r.other.seed}): ${r.other.first_line}` : ''}`);
  return `${r.set.padEnd(42)} [${r.expect.join(',')}] ${what}`;
}

/**
 * Replaying and shrinking stress runs from their tokens.
 */
import { encode_token, type ReplayToken } from '../ctl/replay_token.js';
import { shrink_schedule, type ShrinkResult } from '../ctl/shrink.js';
import { default_config, type StressConfig } from './config.js';
import { run_stress, type StressIO, type StressOutcome } from './run.js';

export interface ReplayMatch {
  state: boolean;
  hash: boolean;
  failure: boolean;
  /** Every recorded choice was taken as recorded (none was impossible). */
  exact: boolean;
}

export function token_config(t: ReplayToken): StressConfig {
  if (t.kind !== 'stress') throw new Error(`this token replays a "${t.kind}" run, not a stress run`);
  return default_config(t.config as Partial<StressConfig>);
}

export async function replay_stress(t: ReplayToken, io: StressIO = {}, traceEvents = 0): Promise<{ outcome: StressOutcome; match?: ReplayMatch }> {
  const cfg = token_config(t);
  const outcome = await run_stress(cfg, io, { replay: t.choices, tail: t.tail, traceEvents });
  if (!t.expect) return { outcome };
  const rec = outcome.choices ?? new Uint8Array(0);
  let exact = rec.length >= t.choices.length;
  for (let i = 0; exact && i < t.choices.length; i++) {
    const c = t.choices[i]! & 0x7f;
    if (c !== 0x7f && c !== (rec[i]! & 0x7f)) exact = false;
  }
  return {
    outcome,
    match: { state: outcome.state === t.expect.state, hash: outcome.hash === t.expect.hash, failure: outcome.signature === t.expect.failure, exact },
  };
}

export interface ShrinkOutcome {
  shrink: ShrinkResult;
  token: string;
  outcome: StressOutcome;
}

/** Shrink a failing token's schedule; the result is a token of the shorter schedule, re-run once to fill in its expectations. */
export async function shrink_stress(t: ReplayToken, o: { maxRuns?: number; timeMs?: number; log?: (m: string) => void } = {}): Promise<ShrinkOutcome> {
  const cfg = { ...token_config(t), stopOnViolation: true };
  const shrink = await shrink_schedule(t.choices, async (replay, tail) => {
    const out = await run_stress(cfg, {}, { replay, tail });
    return { signature: out.signature, choices: out.choices ?? new Uint8Array(0) };
  }, o);
  const outcome = await run_stress(cfg, {}, { replay: shrink.shrunk.choices, tail: 'nonpreempt' });
  const token = encode_token({
    ...t,
    config: cfg as unknown as Record<string, unknown>,
    tail: 'nonpreempt',
    choices: shrink.shrunk.choices,
    expect: { state: outcome.state, hash: outcome.hash ?? '', failure: outcome.signature },
    shrunk: { from: shrink.original.preemptions, to: shrink.shrunk.preemptions, fromDecisions: shrink.original.decisions, toDecisions: shrink.shrunk.decisions },
  });
  return { shrink, token, outcome };
}

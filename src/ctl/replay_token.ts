/**
 * Replay tokens: everything needed to re-run a controlled run decision for decision.
 *
 * A token carries what the run was (its kind and configuration: for `pidrace stress` the whole
 * stress config, which includes the seed, strategy and CPU count), the choices it made (one byte
 * per scheduling decision with more than one enabled CPU: cpu | CHOICE_PREEMPT, or CHOICE_STAY
 * in a shrunk schedule), the tail policy for decisions past the list, and what it ended in (run
 * state, state hash, failure), so a replay can say whether it reproduced the run exactly.
 *
 * Encoding: "PR1" + u32 header length + header JSON + choice bytes, deflated (raw) and written as
 * base64url behind the prefix "pidrace1.". A file may hold the token itself or a JSON report
 * with a `replay.token` field.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

export const TOKEN_PREFIX = 'pidrace1.';

export interface ReplayExpect {
  state: string;
  hash: string;
  /** Failure signature ('' for a passing run). */
  failure: string;
}

export interface ReplayToken {
  v: 1;
  /** What `config` describes: 'stress' (others may add kinds: 'scenario' ...). */
  kind: string;
  config: Record<string, unknown>;
  seed: number;
  strategy: string;
  ncpus: number;
  tail: 'strategy' | 'nonpreempt';
  expect?: ReplayExpect;
  /** Shrunk from a longer schedule (preemptions before, after). */
  shrunk?: { from: number; to: number; fromDecisions: number; toDecisions: number };
  choices: Uint8Array;
}

export function encode_token(t: ReplayToken): string {
  const { choices, ...head } = t;
  const json = Buffer.from(JSON.stringify(head), 'utf8');
  const buf = Buffer.alloc(3 + 4 + json.length + choices.length);
  buf.write('PR1', 0, 'latin1');
  buf.writeUInt32LE(json.length, 3);
  json.copy(buf, 7);
  Buffer.from(choices.buffer, choices.byteOffset, choices.length).copy(buf, 7 + json.length);
  return TOKEN_PREFIX + deflateRawSync(buf, { level: 9 }).toString('base64url');
}

export function decode_token(s: string): ReplayToken {
  const str = s.trim();
  if (!str.startsWith(TOKEN_PREFIX)) throw new Error(`not a pidrace replay token (expected it to start with "${TOKEN_PREFIX}")`);
  let buf: Buffer;
  try {
    buf = inflateRawSync(Buffer.from(str.slice(TOKEN_PREFIX.length), 'base64url'));
  } catch (e) {
    throw new Error(`replay token is damaged: ${(e as Error).message}`);
  }
  if (buf.length < 7 || buf.toString('latin1', 0, 3) !== 'PR1') throw new Error('replay token is damaged (bad header)');
  const n = buf.readUInt32LE(3);
  const head = JSON.parse(buf.toString('utf8', 7, 7 + n)) as Omit<ReplayToken, 'choices'>;
  if (head.v !== 1) throw new Error(`replay token version ${String(head.v)} is not supported`);
  const choices = new Uint8Array(buf.subarray(7 + n));
  return { ...head, choices };
}

/** A token given on the command line: the token itself, or a file holding it (or a JSON report). */
export function read_token_arg(arg: string): ReplayToken {
  if (arg.trim().startsWith(TOKEN_PREFIX)) return decode_token(arg);
  let text: string;
  try {
    text = readFileSync(arg, 'utf8');
  } catch (e) {
    throw new Error(`"${arg}" is neither a replay token nor a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const t = text.trim();
  if (t.startsWith(TOKEN_PREFIX)) return decode_token(t.split(/\s+/)[0]!);
  if (t.startsWith('{')) {
    const j = JSON.parse(t) as { replay?: { token?: string }; token?: string };
    const tok = j.replay?.token ?? j.token;
    if (tok) return decode_token(tok);
    throw new Error(`${arg}: JSON without a replay token (a controlled run's report has replay.token)`);
  }
  throw new Error(`${arg}: no replay token in the file`);
}

/** Preemptions in a choice list (the CHOICE_PREEMPT flags). */
export function count_preemptions(choices: Uint8Array): number {
  let n = 0;
  for (const c of choices) if (c & 0x80) n++;
  return n;
}

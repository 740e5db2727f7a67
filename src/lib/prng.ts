/**
 * The one seeded pseudo-random generator of pidrace: mulberry32 (Tommy Ettinger's 32-bit
 * generator: a Weyl sequence with step 0x6d2b79f5 and an output mix) on ONE int32 word of state.
 *
 * The state is a word of an Int32Array, normally a field of the shared memory (TASK.stress_rng,
 * TASK.fault_rng, G.ctl_rng, G.hotplug_rng), so a run that is replayed from the same seed and the
 * same schedule draws the same numbers, whichever worker thread makes the draw. Draws that are not
 * reproducible anyway (free-running delay injection and interrupt timing) keep their word in a
 * thread-local array (`local_prng_state`).
 *
 * `prng_seed` is the splitmix32 finaliser: it turns (seed, stream) into a well-mixed start state,
 * so neighbouring seeds and task ids start far apart.
 *
 * This module is below every layer: it imports nothing.
 */

/** Weyl-sequence step of mulberry32. */
const MULBERRY_STEP = 0x6d2b79f5;

/** Advance the generator whose state is `m[at]` and return the next value in [0, 2^32). */
export function prng_next(m: Int32Array, at: number): number {
  const s = (m[at]! + MULBERRY_STEP) | 0;
  m[at] = s;
  let z = Math.imul(s ^ (s >>> 15), s | 1);
  z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
  return (z ^ (z >>> 14)) >>> 0;
}

/** A value in [0, n) (n < 2^32; the modulo bias is below 2^-20 for the n the model uses). */
export function prng_below(m: Int32Array, at: number, n: number): number {
  return prng_next(m, at) % n;
}

/** Start state for stream `stream` of a run seeded with `seed` (splitmix32 finaliser, never 0). */
export function prng_seed(seed: number, stream = 0): number {
  let z = (Math.imul(seed | 0, 0x9e3779b9) + Math.imul((stream | 0) + 1, 0x85ebca6b)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return ((z ^ (z >>> 15)) >>> 0) || 1;
}

/** A one-word state outside shared memory, seeded from the clock (draws that need no replay). */
export function local_prng_state(stream: number): Int32Array {
  return Int32Array.of(prng_seed(Date.now() | 0, stream));
}

/** Streams of one seed (the second argument of prng_seed for the machine-wide generators). */
export const PRNG_STREAM_CTL = 0; // G.ctl_rng: the controlled-mode strategy
export const PRNG_STREAM_HOTPLUG = 1; // G.hotplug_rng: which CPU a hotplug step picks
export const PRNG_STREAM_PCT = 2; // PCT priorities and change points, drawn at run start
export const PRNG_STREAM_DELAY = 3; // free-running delay injection (thread-local)
export const PRNG_STREAM_IRQ = 4; // free-running interrupt delivery (thread-local)
export const PRNG_STREAM_UACCESS = 5; // free-running user-copy page faults (thread-local; src/mm/uaccess.ts)
/** Seed of the per-task fault-injection streams (stream = task id). */
export const PRNG_SEED_FAULT = 0x6661756c;

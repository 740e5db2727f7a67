/**
 * Is pure-rand fit for the model's hot path? The model draws from generators whose state lives in
 * shared memory (the controlled-mode strategy at every scheduling hook, each stress task's op
 * choice, fault injection at every allocation point), because a replay must draw the same numbers
 * whichever worker thread makes the draw. pure-rand's generators are objects; to keep the state in
 * shared memory a draw must rebuild the object from the words (fromState), draw, and write the
 * state back (getState). This measures that against src/lib/prng.ts (mulberry32 on one shared
 * word), plus pure-rand with a long-lived object (not replay-safe: the state is thread-local).
 *
 * Run: npx tsc -p . && node dist/bench/prng.js [timeMs]
 */
import { Bench } from 'tinybench';
import { congruential32 } from 'pure-rand/generator/congruential32';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { prng_next, prng_seed } from '../src/lib/prng.js';

export interface PrngFigure { name: string; nsPerDraw: number; medianNs: number; samples: number }

/** Draws per benchmark iteration (one iteration is too short to time on its own). */
const DRAWS = 1000;

export async function runPrngBench(timeMs = 500): Promise<PrngFigure[]> {
  const mem = new Int32Array(new SharedArrayBuffer(64));
  const AT = 8; // the generator's word(s) in "shared memory"
  mem[AT] = prng_seed(1, 0);
  let sink = 0;
  const bench = new Bench({ time: timeMs, warmupTime: 100, retainSamples: true });
  bench.add('src/lib/prng.ts: mulberry32, state in shared memory', () => {
    for (let i = 0; i < DRAWS; i++) sink ^= prng_next(mem, AT);
  });
  // pure-rand with its state in shared memory: rebuild, draw, store back (what replay needs).
  const XS = AT + 4; // pure-rand xoroshiro128plus: four words
  const xs = xoroshiro128plus(1).getState();
  for (let k = 0; k < xs.length; k++) mem[XS + k] = xs[k]!;
  const st = [0, 0, 0, 0];
  bench.add('pure-rand xoroshiro128plus, state in shared memory (fromState/next/getState)', () => {
    for (let i = 0; i < DRAWS; i++) {
      for (let k = 0; k < 4; k++) st[k] = mem[XS + k]!;
      const g = xoroshiro128plusFromState(st);
      sink ^= g.next();
      const s = g.getState();
      for (let k = 0; k < 4; k++) mem[XS + k] = s[k]!;
    }
  });
  const held = xoroshiro128plus(1);
  bench.add('pure-rand xoroshiro128plus, one long-lived object (thread-local, not replayable)', () => {
    for (let i = 0; i < DRAWS; i++) sink ^= held.next();
  });
  const lcg = congruential32(1);
  bench.add('pure-rand congruential32, one long-lived object (thread-local, not replayable)', () => {
    for (let i = 0; i < DRAWS; i++) sink ^= lcg.next();
  });
  await bench.run();
  if (sink === 0x7fffffff) console.log(''); // keep the draws observable
  return bench.tasks.map((task) => {
    const r = task.result as unknown as { latency?: { mean: number; p50?: number; samplesCount?: number }; mean?: number; samples?: number[] };
    const mean = r.latency?.mean ?? r.mean ?? NaN; // ms per iteration
    const p50 = r.latency?.p50 ?? mean;
    return { name: task.name, nsPerDraw: (mean * 1e6) / DRAWS, medianNs: (p50 * 1e6) / DRAWS, samples: r.latency?.samplesCount ?? r.samples?.length ?? 0 };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const reps = 3;
  const all: PrngFigure[][] = [];
  for (let i = 0; i < reps; i++) all.push(await runPrngBench(Number(process.argv[2] ?? 500)));
  const names = all[0]!.map((f) => f.name);
  for (const n of names) {
    const v = all.map((r) => r.find((f) => f.name === n)!.medianNs).sort((a, b) => a - b);
    console.log(`${v[Math.floor(v.length / 2)]!.toFixed(2).padStart(8)} ns/draw (median of ${reps} runs' medians)  ${n}`);
  }
}

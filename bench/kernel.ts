/**
 * The real kernel in the same run (issue 7): native/forkbench_native.c through
 * src/native/forkbench.ts, at the model's depths and looper counts, for fork, vfork and
 * pthread create+join. Needs a C compiler and root (nested pid namespaces need CAP_SYS_ADMIN);
 * without them the section is skipped with the reason.
 */
import { buildNative } from '../src/native/build.js';
import { runKernelForkBench, type KernelForkMode } from '../src/native/forkbench.js';
import { leastSquares, summarize, type Logger, type Summary } from './util.js';

export interface KernelBenchOptions {
  modes: readonly KernelForkMode[];
  depths: readonly number[];
  loopers: readonly number[];
  reps: number;
  millis: number;
  log?: Logger;
}

export interface KernelPoint {
  mode: KernelForkMode;
  depth: number;
  loopers: number;
  samples: number[];
  rate: Summary;
  errors: string[];
}

export interface KernelSlope {
  mode: KernelForkMode;
  loopers: number;
  /** Least-squares fit of ns per cycle against depth: intercept and per-level slope. */
  interceptNs: number;
  perLevelNs: number;
  r2: number;
}

export interface KernelBenchResult {
  available: boolean;
  skipped?: string;
  binary?: string;
  points: KernelPoint[];
  slopes: KernelSlope[];
}

export async function benchKernel(o: KernelBenchOptions): Promise<KernelBenchResult> {
  const log = o.log ?? (() => {});
  const b = buildNative('forkbench_native');
  if (!b.ok) {
    log(`  real-kernel benchmark skipped: ${b.reason}`);
    return { available: false, skipped: b.reason, points: [], slopes: [] };
  }
  const acc = new Map<string, KernelPoint>();
  const key = (m: string, d: number, l: number) => `${m}/${d}/${l}`;
  for (let r = 0; r < o.reps; r++) {
    for (const mode of o.modes) {
      for (const depth of o.depths) {
        for (const loopers of o.loopers) {
          const k = key(mode, depth, loopers);
          if (!acc.has(k)) acc.set(k, { mode, depth, loopers, samples: [], rate: summarize([]), errors: [] });
          const p = acc.get(k)!;
          try {
            const res = await runKernelForkBench({ mode, depth, loopers, millis: o.millis, binaryPath: b.path });
            p.samples.push(res.rate);
            log(`  rep ${r + 1}/${o.reps}  ${mode.padEnd(6)} loopers ${String(loopers).padStart(2)}  depth ${String(depth).padStart(2)}  ${Math.round(res.rate).toLocaleString('en-US').padStart(9)} /s`);
          } catch (e) {
            p.errors.push((e as Error).message);
            log(`  ${mode} loopers ${loopers} depth ${depth}: ${(e as Error).message}`);
          }
        }
      }
    }
  }
  const points = [...acc.values()];
  for (const p of points) p.rate = summarize(p.samples);
  const slopes: KernelSlope[] = [];
  for (const mode of o.modes) {
    for (const loopers of o.loopers) {
      const pts = points.filter((p) => p.mode === mode && p.loopers === loopers && p.rate.n > 0);
      if (pts.length < 2) continue;
      // Cost of one cycle for one looper (ns): loopers / rate.
      const fit = leastSquares(pts.map((p) => p.depth), pts.map((p) => (1e9 * loopers) / p.rate.median));
      slopes.push({ mode, loopers, interceptNs: fit.intercept, perLevelNs: fit.slope, r2: fit.r2 });
    }
  }
  return { available: true, binary: b.path, points, slopes };
}

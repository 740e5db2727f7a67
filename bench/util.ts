/**
 * Small statistics and formatting helpers shared by the benchmark sections (main-side only).
 */

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(xs: readonly number[]): Summary {
  const a = xs.filter((x) => Number.isFinite(x)).sort((p, q) => p - q);
  if (a.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = a.length >> 1;
  const median = a.length % 2 ? a[mid]! : (a[mid - 1]! + a[mid]!) / 2;
  return { median, min: a[0]!, max: a[a.length - 1]!, n: a.length };
}

/**
 * Process CPU time per cycle, in ns, of `run` doing `cycles` cycles. CPU time, not wall time: on a
 * shared host the wall clock also counts the time other processes had the core (in-process, the
 * calling thread is the only one running the kernel).
 */
export function cpuNsPerCycle(run: () => void, cycles: number): number {
  const c0 = process.cpuUsage();
  run();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1e3) / cycles;
}

/** Least-squares line y = a + b x. */
export function leastSquares(xs: readonly number[], ys: readonly number[]): { intercept: number; slope: number; r2: number } {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return { intercept: NaN, slope: NaN, r2: NaN };
  let sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!, y = ys[i]!;
    sx += x; sy += y; sxx += x * x; sxy += x * y; syy += y * y;
  }
  const d = n * sxx - sx * sx;
  if (d === 0) return { intercept: NaN, slope: NaN, r2: NaN };
  const slope = (n * sxy - sx * sy) / d;
  const intercept = (sy - slope * sx) / n;
  const ssTot = syy - (sy * sy) / n;
  let ssRes = 0;
  for (let i = 0; i < n; i++) { const e = ys[i]! - (intercept + slope * xs[i]!); ssRes += e * e; }
  return { intercept, slope, r2: ssTot > 0 ? 1 - ssRes / ssTot : 1 };
}

/** 1234567 -> "1.23 M", 12345 -> "12.3 k". */
export function si(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toPrecision(digits)} G`;
  if (a >= 1e6) return `${(x / 1e6).toPrecision(digits)} M`;
  if (a >= 1e3) return `${(x / 1e3).toPrecision(digits)} k`;
  return x.toPrecision(digits);
}

/** Nanoseconds as "812 ns", "3.20 µs", "1.50 ms". */
export function ns(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)} ms`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(2)} µs`;
  return `${x.toFixed(a < 10 ? 1 : 0)} ns`;
}

export function pad(s: string | number, n: number, left = false): string {
  const t = String(s);
  return left ? t.padEnd(n) : t.padStart(n);
}

/** A plain-text table: header row, then rows; numbers are right-aligned. */
export function table(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (r: ReadonlyArray<string | number>) => r.map((c, i) => (i === 0 ? String(c ?? '').padEnd(w[i]!) : String(c ?? '').padStart(w[i]!))).join('  ');
  return [line(header), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Log that goes to stderr when the caller wants stdout clean (JSON mode). */
export type Logger = (line: string) => void;

/**
 * Where the fork cycle's time goes at one CPU count against another (issue 15: two CPUs against
 * one), from V8 CPU profiles of the CPUs' worker threads: each function's self time in ns of CPU
 * thread time per fork cycle at each count, and the difference, largest first.
 *
 *   node dist/bench/profile_diff.js [--cpus 1,2] [--ms 6000] [--depth 0] [--top 30]
 *
 * Each count runs in a child process started with --cpu-prof (Node writes one profile per thread
 * when it exits); the child runs the fork-rate workload (one fork -> exit -> wait4 looper per CPU,
 * bench/forkrate.ts measureOnce) for a 500 ms warm-up and the window, and prints the window's
 * cycles and its bounds on CLOCK_MONOTONIC. A worker thread's profile spans its life (boot,
 * warm-up, window, teardown), one sample per ~1 ms of wall time whether the thread runs, spins or
 * sleeps in Atomics.wait (the sampler's "(idle)" and "(program)" rows); only the samples inside
 * the window count. The per-cycle figure of a function is its sampled time in the window summed
 * over the CPU threads, over the window's cycles; the sum over functions is CPUs x wall time per
 * cycle.
 *
 * bench/run.ts runs it as its `profile` section (1 and 2 CPUs, depth 0) and cites it in the notes
 * of the 1-CPU and 2-CPU targets. The main thread's profile (the supervisor) is left out. WebAssembly atomics show as
 * wasm-function[i] (src/mm/wasm_atomics.ts order: load, store, add, sub, and, or, exchange,
 * compareExchange).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { measureOnce } from './forkrate.js';
import { pad } from './util.js';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const WASM_OPS = ['load', 'store', 'add', 'sub', 'and', 'or', 'exchange', 'compareExchange'];

function frame_name(n: ProfileNode): string {
  const f = n.callFrame;
  const w = /^wasm-function\[(\d+)\]$/.exec(f.functionName);
  if (w) return `atomic.${WASM_OPS[Number(w[1])] ?? w[1]} (wasm)`;
  const file = f.url.split('/').slice(-2).join('/');
  return file ? `${f.functionName || '(anonymous)'} ${file}` : f.functionName;
}

/**
 * Self time in µs per function name, of the samples taken inside [from, to] (µs, CLOCK_MONOTONIC:
 * a sample's time is the profile's startTime plus the deltas up to it, V8's clock, which is
 * process.hrtime's on Linux). A sample stands for the interval since the one before it.
 */
function self_times(p: Profile, from: number, to: number): Map<string, number> {
  const t = new Map<number, number>();
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const d = p.timeDeltas[i] ?? 0;
    at += d;
    if (at < from || at > to) continue;
    t.set(p.samples[i]!, (t.get(p.samples[i]!) ?? 0) + d);
  }
  const by = new Map<string, number>();
  for (const n of p.nodes) {
    const us = t.get(n.id) ?? 0;
    if (us) by.set(frame_name(n), (by.get(frame_name(n)) ?? 0) + us);
  }
  return by;
}

/** A worker thread's profile holds the CPU loop; the main thread's holds the supervisor. */
function is_cpu_thread(p: Profile): boolean {
  return p.nodes.some((n) => n.callFrame.functionName === 'cpu_loop');
}

interface Point { cpus: number; rate: number; threads: number; ns: Map<string, number> }

/**
 * The functions in which the CPUs wait for a lock or a condition (spin and rwlock slow paths, the
 * rwlock's wait loop and wait-lock, spin_wait; `now` is performance.now, read by the waits): their
 * time is waiting, not work.
 */
const WAIT_FNS = /^(qrw_wait|spin_lock_slowpath|wait_lock_acquire|queued_read_lock_slowpath|queued_write_lock_slowpath|spin_wait|now)( |$)/;

/** One function's self time per cycle at the two counts (ns of CPU thread time). */
export interface ProfileRow { fn: string; a: number; b: number }

/** What bench/run.ts keeps of a profile_diff run (BenchReport.profile). */
export interface ProfileDiff {
  depth: number;
  windowMs: number;
  cpus: [number, number];
  cyclesPerSec: [number, number];
  /** ns of CPU thread time a cycle, all functions: CPUs x wall time per cycle. */
  totalNs: [number, number];
  /** Of that, in the wait functions (WAIT_FNS) and in the WebAssembly atomics. */
  waitNs: [number, number];
  atomicsNs: [number, number];
  /** The largest differences, by absolute value. */
  rows: ProfileRow[];
  /** The largest self times at the first count. */
  topFirst: ProfileRow[];
}

function sum_where(p: Point, f: (name: string) => boolean): number {
  let t = 0;
  for (const [k, v] of p.ns) if (f(k)) t += v;
  return t;
}

/** Profile the fork cycle at two CPU counts (a child process each) and compare them. */
export function profileForkCycle(cpus: [number, number], ms: number, depth: number, top = 30): ProfileDiff {
  const [a, b] = cpus.map((c) => run_point(c, ms, depth)) as [Point, Point];
  const both = (f: (p: Point) => number): [number, number] => [Math.round(f(a)), Math.round(f(b))];
  const names = new Set([...a.ns.keys(), ...b.ns.keys()]);
  const all = [...names].map((fn) => ({ fn, a: Math.round(a.ns.get(fn) ?? 0), b: Math.round(b.ns.get(fn) ?? 0) }));
  return {
    depth, windowMs: ms, cpus, cyclesPerSec: both((p) => p.rate),
    totalNs: both((p) => sum_where(p, () => true)),
    waitNs: both((p) => sum_where(p, (k) => WAIT_FNS.test(k))),
    atomicsNs: both((p) => sum_where(p, (k) => k.startsWith('atomic.'))),
    rows: all.slice().sort((x, y) => Math.abs(y.b - y.a) - Math.abs(x.b - x.a)).slice(0, top),
    topFirst: all.slice().sort((x, y) => y.a - x.a).slice(0, top),
  };
}

function run_point(cpus: number, ms: number, depth: number): Point {
  const dir = mkdtempSync(join(tmpdir(), 'pidrace-prof-'));
  try {
    const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, fileURLToPath(import.meta.url), '--child', String(cpus), String(ms), String(depth)], { encoding: 'utf8', timeout: ms + 60_000 });
    if (r.status !== 0) throw new Error(`profile child (${cpus} CPUs) failed: ${r.error?.message ?? r.stderr}`);
    const m = /^window (\S+) (\S+) (\S+) (\S+)$/m.exec(r.stdout);
    const [rate, cycles, from, to] = m ? [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])] : [NaN, NaN, NaN, NaN];
    if (!(rate > 0) || !(cycles > 0) || !(to > from)) throw new Error(`profile child (${cpus} CPUs): no window in ${JSON.stringify(r.stdout)}`);
    const profiles = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile).filter(is_cpu_thread);
    if (profiles.length === 0) throw new Error(`profile child (${cpus} CPUs): no CPU thread profile`);
    const ns = new Map<string, number>();
    for (const p of profiles) {
      if (!(p.startTime < from && p.endTime > to)) throw new Error(`profile child (${cpus} CPUs): a thread's profile (${p.startTime}-${p.endTime} µs) does not span the window (${from}-${to}): not the clock of process.hrtime?`);
      for (const [k, us] of self_times(p, from, to)) ns.set(k, (ns.get(k) ?? 0) + us * 1000 / cycles);
    }
    return { cpus, rate, threads: profiles.length, ns };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function child(cpus: number, ms: number, depth: number): Promise<void> {
  const s = await measureOnce(cpus, depth, 'fork', { warmupMs: 500, measureMs: ms, lockdep: false });
  console.log(`window ${s.cyclesPerSec} ${s.cycles} ${s.windowMonoUs[0]} ${s.windowMonoUs[1]}`);
}

function main(): void {
  const { values: v } = parseArgs({ options: { cpus: { type: 'string' }, ms: { type: 'string' }, depth: { type: 'string' }, top: { type: 'string' } } });
  const cpus = (v.cpus ?? '1,2').split(',').map(Number);
  const ms = Number(v.ms ?? 6000);
  const depth = Number(v.depth ?? 0);
  const top = Number(v.top ?? 30);
  if (cpus.length !== 2 || cpus.some((c) => !Number.isInteger(c) || c < 1 || c > 64) || !(ms >= 500) || !Number.isInteger(depth) || depth < 0 || depth > 31 || !(top > 0)) {
    console.error('usage: profile_diff [--cpus A,B] [--ms N >= 500] [--depth 0..31] [--top N]');
    process.exit(2);
  }
  const d = profileForkCycle([cpus[0]!, cpus[1]!], ms, depth, top);
  console.log(`fork cycle, depth ${depth}, ${ms} ms window: self time per cycle summed over the CPU threads (ns), V8 CPU profiles`);
  for (const i of [0, 1]) {
    console.log(`  ${d.cpus[i]} CPU(s): ${d.cyclesPerSec[i]!.toLocaleString('en-US')} cycles/s, ${d.totalNs[i]} ns a cycle in all, of which waits ${d.waitNs[i]}, WebAssembly atomics ${d.atomicsNs[i]}`);
  }
  console.log(`${pad(`${d.cpus[0]} CPU`, 9)} ${pad(`${d.cpus[1]} CPU`, 9)} ${pad('diff', 9)}  function`);
  for (const r of d.rows) console.log(`${pad(r.a, 9)} ${pad(r.b, 9)} ${pad(r.b - r.a, 9)}  ${r.fn}`);
}

// Run as a program (not when bench/run.ts imports profileForkCycle): the child, or the comparison.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--child') await child(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
  else main();
}

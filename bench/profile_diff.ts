/**
 * Where the fork cycle's time goes at one CPU count against another (issue 15: two CPUs against
 * one), from V8 CPU profiles of the CPUs' worker threads: each function's self time in ns of CPU
 * thread time per fork cycle at each count, and the difference, largest first.
 *
 *   node dist/bench/profile_diff.js [--cpus 1,2] [--ms 6000] [--depth 0] [--top 30]
 *
 * Each count runs in a child process started with --cpu-prof (Node writes one profile per thread
 * when it exits); the child runs the fork-rate workload (one fork -> exit -> wait4 looper per CPU,
 * bench/forkrate.ts measureOnce) for a 500 ms warm-up and the window, and prints its cycles/s. A
 * worker thread's profile spans its life (boot, warm-up, window), at one sample per ~1 ms of
 * wall time whether the thread runs, spins or sleeps in Atomics.wait (the sampler's "(idle)" and
 * "(program)" rows); the per-cycle figure of a function is its sampled time summed over the CPU
 * threads, over the cycles of the same span at the window's rate (the warm-up's rate taken as the
 * window's: a few per cent). The sum over functions is then CPUs x wall time per cycle.
 *
 * The main thread's profile (the supervisor) is left out. WebAssembly atomics show as
 * wasm-function[i] (src/mm/wasm_atomics.ts order: load, store, add, sub, and, or, exchange,
 * compareExchange).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** Self time in µs per function name, and the profile's span in µs. */
function self_times(p: Profile): { by: Map<string, number>; span: number } {
  const t = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) t.set(p.samples[i]!, (t.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const by = new Map<string, number>();
  for (const n of p.nodes) {
    const us = t.get(n.id) ?? 0;
    if (us) by.set(frame_name(n), (by.get(frame_name(n)) ?? 0) + us);
  }
  return { by, span: p.endTime - p.startTime };
}

/** A worker thread's profile holds the CPU loop; the main thread's holds the supervisor. */
function is_cpu_thread(p: Profile): boolean {
  return p.nodes.some((n) => n.callFrame.functionName === 'cpu_loop');
}

interface Point { cpus: number; rate: number; threads: number; ns: Map<string, number> }

function run_point(cpus: number, ms: number, depth: number): Point {
  const dir = mkdtempSync(join(tmpdir(), 'pidrace-prof-'));
  try {
    const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, fileURLToPath(import.meta.url), '--child', String(cpus), String(ms), String(depth)], { encoding: 'utf8', timeout: ms + 60_000 });
    if (r.status !== 0) throw new Error(`profile child (${cpus} CPUs) failed: ${r.error?.message ?? r.stderr}`);
    const rate = Number(/^rate (\S+)$/m.exec(r.stdout)?.[1]);
    if (!(rate > 0)) throw new Error(`profile child (${cpus} CPUs): no rate in ${JSON.stringify(r.stdout)}`);
    const profiles = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile).filter(is_cpu_thread);
    if (profiles.length === 0) throw new Error(`profile child (${cpus} CPUs): no CPU thread profile`);
    const ns = new Map<string, number>();
    for (const p of profiles) {
      const { by, span } = self_times(p);
      const cycles = rate * span / 1e6;
      for (const [k, us] of by) ns.set(k, (ns.get(k) ?? 0) + us * 1000 / cycles);
    }
    return { cpus, rate, threads: profiles.length, ns };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function child(cpus: number, ms: number, depth: number): Promise<void> {
  const s = await measureOnce(cpus, depth, 'fork', { warmupMs: 500, measureMs: ms, lockdep: false });
  console.log(`rate ${s.cyclesPerSec}`);
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
  const [a, b] = cpus.map((c) => run_point(c, ms, depth)) as [Point, Point];
  const total = (p: Point): number => [...p.ns.values()].reduce((x, y) => x + y, 0);
  console.log(`fork cycle, depth ${depth}, ${ms} ms window: self time per cycle summed over the CPU threads (ns), V8 CPU profiles`);
  console.log(`  ${a.cpus} CPU(s): ${Math.round(a.rate).toLocaleString('en-US')} cycles/s, ${a.threads} thread profile(s), ${Math.round(total(a))} ns a cycle in all`);
  console.log(`  ${b.cpus} CPU(s): ${Math.round(b.rate).toLocaleString('en-US')} cycles/s, ${b.threads} thread profile(s), ${Math.round(total(b))} ns a cycle in all`);
  const names = new Set([...a.ns.keys(), ...b.ns.keys()]);
  const rows = [...names].map((k) => ({ k, x: a.ns.get(k) ?? 0, y: b.ns.get(k) ?? 0 })).sort((p, q) => Math.abs(q.y - q.x) - Math.abs(p.y - p.x));
  console.log(`${pad(`${a.cpus} CPU`, 9)} ${pad(`${b.cpus} CPU`, 9)} ${pad('diff', 9)}  function`);
  for (const r of rows.slice(0, top)) console.log(`${pad(r.x.toFixed(0), 9)} ${pad(r.y.toFixed(0), 9)} ${pad((r.y - r.x).toFixed(0), 9)}  ${r.k}`);
}

if (process.argv[2] === '--child') await child(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
else main();

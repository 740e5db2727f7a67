/**
 * How much of the fork cycle runs under each lock (issue 15: the share under tasklist_lock bounds
 * what a second CPU can gain), measured from outside by sampling, so that the measured CPUs run the
 * kernel unchanged: no clock read, counter or hook is added to their path.
 *
 *   node dist/bench/lock_share.js [--cpus N] [--depth N] [--ms N] [--reps N] [--interval-us X]
 *
 * The fork-rate workload (one fork -> exit -> wait4 looper per CPU, bench/forkrate.ts) runs on
 * worker CPUs. After the warm-up a sampler thread (one more worker, on the host's other core) looks
 * every ~interval µs (uniformly jittered, so it cannot lock onto the cycle's period) at:
 * - tasklist_lock's word (RW_CNTS): the writer byte set, readers counted;
 * - every CPU's held-lock stack (CPU.held_depth, CPU.held: what lock_acquired pushes for every
 *   spin and rw lock, with lockdep off too): which lock classes each CPU holds, and at which
 *   acquire site it took tasklist_lock;
 * - every CPU's last scheduling-hook site (CPU.site, written by sched_hook at each lock entry and
 *   cleared to 0 by each unlock): a CPU whose site is a tasklist_lock acquire site but whose stack
 *   does not hold tasklist_lock from that site is entering or waiting for it there.
 * The share of samples is the share of wall time; with the host's preemption uncorrelated with the
 * lock state it is also the share of the CPUs' running time. The per-cycle figure is that share of
 * the window over the cycles counted in it (G.total_forks), per CPU.
 *
 * The looks cost the measured CPUs a cache miss on each line they write after a look (the lock
 * word, their held-lock stack): at one look every few µs and a 5 µs cycle, a few per cent. Each
 * repetition therefore also runs a control window (the sampler spins the same way and reads
 * nothing of the kernel), interleaved, and prints both rates.
 */
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Machine } from '../src/machine.js';
import { CPU, G, HELD_LOCK, HELD_WORDS, MAX_LOCK_CLASSES, MAX_LOCK_DEPTH, QR_SHIFT, QW_LOCKED, RW_CNTS } from '../src/mm/layout.js';
import { cpu_addr, kg } from '../src/mm/memory.js';
import { LC_TASKLIST, lock_class_name } from '../src/locking/lockdep.js';
import { SITE_EXIT_NOTIFY, SITE_RELEASE, SITE_WAIT_REAP, SITE_WAIT_SCAN } from '../src/kernel/exit.js';
import { SITE_FORK_ATTACH } from '../src/kernel/fork.js';
import { forkAvailable, forkPrograms, launchProcess } from './forkrate.js';
import { summarize } from './util.js';

/** The acquire sites of tasklist_lock on the fork cycle, by name (the site ids of fork.ts, exit.ts). */
const TASKLIST_SITES: ReadonlyArray<[number, string]> = [
  [SITE_FORK_ATTACH, 'copy_process (write)'],
  [SITE_EXIT_NOTIFY, 'exit_notify (write)'],
  [SITE_RELEASE, 'release_task (write)'],
  [SITE_WAIT_SCAN, 'do_wait scan (read)'],
  [SITE_WAIT_REAP, 'wait_task_zombie reap (write)'],
];

interface SamplerLayout {
  tlw: number; forks: number; cpus: number[]; heldDepth: number; held: number; heldWords: number; modeClass: number; heldSite: number;
  site: number; maxDepth: number; classes: number; tasklist: number; qwLocked: number; qrShift: number; sites: number[];
}

/** What one window of sampling counted (the sampler's reply). */
interface SamplerCounts {
  control: boolean;
  samples: number;
  ms: number;
  forks: number;
  tlWrite: number;
  tlRead: number;
  /** Samples in which some CPU held the class (index: class). */
  cls: number[];
  /** Samples in which CPU c held the class: [c * classes + cls]. */
  cpuCls: number[];
  /** Per tasklist site (index into layout.sites): held there (any CPU), entering/waiting there (per CPU summed). */
  siteHeld: number[];
  siteWait: number[];
}

// The sampler thread (plain JS, run with eval: it imports nothing of the kernel, it only reads words).
const SAMPLER = `
const { parentPort, workerData } = require('node:worker_threads');
const L = workerData.layout;
const m = new Int32Array(workerData.sab);
const own = new Int32Array(4096);
parentPort.on('message', (msg) => {
  const { ms, intervalUs, control } = msg;
  const cls = new Array(L.classes).fill(0);
  const cpuCls = new Array(L.classes * L.cpus.length).fill(0);
  const siteHeld = new Array(L.sites.length).fill(0);
  const siteWait = new Array(L.sites.length).fill(0);
  const seen = new Uint8Array(L.classes);
  const heldAt = new Uint8Array(L.sites.length);
  let tlWrite = 0, tlRead = 0, samples = 0, sink = 0;
  let x = 0x9e3779b9 | 0;
  const t0 = performance.now();
  const f0 = Atomics.load(m, L.forks);
  const end = t0 + ms;
  let next = t0;
  for (;;) {
    // xorshift32 jitter: the next look comes 0.5-1.5 intervals after this one.
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    next += intervalUs * 1e-3 * (0.5 + (x >>> 0) / 4294967296);
    let now;
    while ((now = performance.now()) < next) { /* spin */ }
    if (now >= end) break;
    samples++;
    if (control) { sink += own[samples & 4095]; continue; }
    const cnts = Atomics.load(m, L.tlw);
    if ((cnts & L.qwLocked) !== 0) tlWrite++;
    if ((cnts >>> L.qrShift) !== 0) tlRead++;
    seen.fill(0);
    heldAt.fill(0);
    for (let c = 0; c < L.cpus.length; c++) {
      const base = L.cpus[c];
      let d = Atomics.load(m, base + L.heldDepth);
      if (d > L.maxDepth) d = L.maxDepth;
      const site = Atomics.load(m, base + L.site);
      let mine = -1;
      for (let i = 0; i < d; i++) {
        const e = base + L.held + i * L.heldWords;
        const k = (Atomics.load(m, e + L.modeClass) >>> 8) & 0xff;
        if (k >= L.classes) continue;
        if (seen[k] === 0) { seen[k] = 1; cls[k]++; }
        cpuCls[c * L.classes + k]++;
        if (k === L.tasklist) {
          const j = L.sites.indexOf(Atomics.load(m, e + L.heldSite));
          if (j >= 0) { heldAt[j] = 1; if (j === L.sites.indexOf(site)) mine = j; }
        }
      }
      const w = L.sites.indexOf(site);
      if (w >= 0 && mine !== w) siteWait[w]++;
    }
    for (let j = 0; j < heldAt.length; j++) siteHeld[j] += heldAt[j];
  }
  const forks = Atomics.load(m, L.forks) - f0;
  parentPort.postMessage({ control, samples, ms: performance.now() - t0, forks, tlWrite, tlRead, cls, cpuCls, siteHeld, siteWait, sink });
});
`;

interface LockShareWindow {
  control: boolean;
  samples: number;
  cyclesPerSec: number;
  /** Wall ns per cycle per CPU (1 CPU: the cycle's length). */
  nsPerCycle: number;
  /** Share of the window with tasklist_lock held for write / for read (by any CPU), from its word. */
  tasklistWrite: number;
  tasklistRead: number;
  /** Per lock class: share of the window some CPU held it, and per CPU (the mean over CPUs). */
  classes: Array<{ cls: number; name: string; anyCpu: number; perCpu: number; nsPerCycle: number }>;
  /** Per tasklist_lock site: share held there (any CPU), share per CPU spent entering/waiting there. */
  sites: Array<{ site: number; name: string; held: number; heldNsPerCycle: number; waiting: number; waitNsPerCycle: number }>;
}

function windowOf(c: SamplerCounts, ncpus: number, layout: SamplerLayout): LockShareWindow {
  const n = Math.max(1, c.samples);
  const cyclesPerSec = c.forks / (c.ms / 1000);
  // A share of the window spent per cycle: share * window / cycles, per CPU.
  const perCycle = (share: number): number => (share * c.ms * 1e6 * ncpus) / Math.max(1, c.forks);
  const classes: LockShareWindow['classes'] = [];
  for (let k = 1; k < c.cls.length; k++) {
    if (c.cls[k]! === 0) continue;
    let sum = 0;
    for (let i = 0; i < ncpus; i++) sum += c.cpuCls[i * layout.classes + k]!;
    const perCpu = sum / n / ncpus;
    classes.push({ cls: k, name: lock_class_name(k), anyCpu: c.cls[k]! / n, perCpu, nsPerCycle: perCycle(perCpu) });
  }
  classes.sort((a, b) => b.perCpu - a.perCpu);
  const sites = TASKLIST_SITES.map(([site, name], j) => ({
    site, name,
    held: c.siteHeld[j]! / n,
    heldNsPerCycle: perCycle(c.siteHeld[j]! / n / ncpus),
    waiting: c.siteWait[j]! / n / ncpus,
    waitNsPerCycle: perCycle(c.siteWait[j]! / n / ncpus),
  }));
  return {
    control: c.control, samples: c.samples, cyclesPerSec, nsPerCycle: (1e9 * ncpus) / Math.max(1e-9, cyclesPerSec),
    tasklistWrite: c.tlWrite / n, tasklistRead: c.tlRead / n, classes, sites,
  };
}

/** One run: a fresh machine, warm-up, then `windows` sampler windows (alternately sampling and control). */
async function measureLockShare(o: { cpus: number; depth: number; ms: number; windows: number; intervalUs: number; warmupSyscalls: number }): Promise<LockShareWindow[]> {
  const m = new Machine({ ncpus: o.cpus, maxTasks: 8192, maxPidNs: Math.max(64, o.depth + 8), choiceWords: 1024 }, { hungTimeoutMs: 30_000 });
  m.attach();
  launchProcess(m, forkPrograms(m, o.depth, o.cpus));
  const layout: SamplerLayout = {
    tlw: kg + G.tasklist_lock + RW_CNTS, forks: kg + G.total_forks,
    cpus: Array.from({ length: o.cpus }, (_, i) => cpu_addr(i)),
    heldDepth: CPU.held_depth, held: CPU.held, heldWords: HELD_WORDS, modeClass: HELD_LOCK.mode_class, heldSite: HELD_LOCK.site,
    site: CPU.site, maxDepth: MAX_LOCK_DEPTH, classes: MAX_LOCK_CLASSES, tasklist: LC_TASKLIST, qwLocked: QW_LOCKED, qrShift: QR_SHIFT,
    sites: TASKLIST_SITES.map(([s]) => s),
  };
  const sampler = new Worker(SAMPLER, { eval: true, workerData: { sab: m.shared.sab, layout } });
  const out: LockShareWindow[] = [];
  const ac = new AbortController();
  let started = false;
  let failed: Error | undefined;
  const next = (): void => {
    if (out.length >= o.windows) { ac.abort(); return; }
    sampler.postMessage({ ms: o.ms, intervalUs: o.intervalUs, control: out.length % 2 === 1 });
  };
  sampler.on('message', (c: SamplerCounts) => { out.push(windowOf(c, o.cpus, layout)); next(); });
  sampler.on('error', (e) => { failed = e; ac.abort(); });
  const t0 = performance.now();
  try {
    const res = await m.run({
      signal: ac.signal, statsEveryMs: 5, stopWhenNoTasks: false, hungMs: 30_000,
      timeoutMs: 60_000 + o.windows * (o.ms + 500),
      onTick: () => {
        if (started) return;
        let least = Infinity;
        for (let i = 0; i < o.cpus; i++) least = Math.min(least, m.mem[cpu_addr(i) + CPU.syscalls]!);
        if (least >= o.warmupSyscalls || performance.now() - t0 > 15_000) { started = true; next(); }
      },
    });
    if (failed) throw failed;
    if (out.length < o.windows) throw new Error(`run ended as ${res.state}${res.crash ? ` (crash: ${res.crash.message})` : ''} after ${out.length} windows`);
  } finally {
    await sampler.terminate();
  }
  return out;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: { cpus: { type: 'string' }, depth: { type: 'string' }, ms: { type: 'string' }, reps: { type: 'string' }, 'interval-us': { type: 'string' }, warmup: { type: 'string' } } });
  const cpus = Number(v.cpus ?? 1), depth = Number(v.depth ?? 0), ms = Number(v.ms ?? 1000), reps = Number(v.reps ?? 3);
  const intervalUs = Number(v['interval-us'] ?? 5), warmupSyscalls = Number(v.warmup ?? 40_000);
  if (!(cpus >= 1 && cpus <= 64) || !Number.isInteger(depth) || depth < 0 || depth > 31 || !(ms >= 50) || !(reps >= 1) || !(intervalUs >= 0.5)) {
    console.error('usage: lock_share [--cpus 1..64] [--depth 0..31] [--ms >=50] [--reps N] [--interval-us X >= 0.5] [--warmup SYSCALLS]');
    process.exit(2);
  }
  if (!(await forkAvailable())) { console.error('lock_share: fork is not registered'); process.exit(1); }
  const ws = await measureLockShare({ cpus, depth, ms, windows: 2 * reps, intervalUs, warmupSyscalls });
  const sampled = ws.filter((w) => !w.control);
  const control = ws.filter((w) => w.control);
  const med = (f: (w: LockShareWindow) => number, a = sampled): number => summarize(a.map(f)).median;
  console.log(`lock share: ${cpus} CPU(s), depth ${depth}, ${reps} sampled + ${reps} control windows of ${ms} ms, a look every ~${intervalUs} µs (medians)`);
  console.log(`  cycles/s sampled ${med((w) => w.cyclesPerSec).toFixed(0)} (${sampled.map((w) => w.cyclesPerSec.toFixed(0)).join(' / ')}), control ${med((w) => w.cyclesPerSec, control).toFixed(0)} (${control.map((w) => w.cyclesPerSec.toFixed(0)).join(' / ')})`);
  const ns = med((w) => w.nsPerCycle);
  console.log(`  cycle ${ns.toFixed(0)} ns per CPU; ${med((w) => w.samples).toFixed(0)} looks per window`);
  console.log(`  tasklist_lock word: write-locked ${pct(med((w) => w.tasklistWrite))}, read-locked ${pct(med((w) => w.tasklistRead))} of the time (any CPU)`);
  console.log('  held (held-lock stacks), per CPU: share of its time, ns per cycle; any CPU: share of the time some CPU held it');
  const names = [...new Set(sampled.flatMap((w) => w.classes.map((c) => c.name)))];
  for (const name of names) {
    const get = (w: LockShareWindow) => w.classes.find((c) => c.name === name);
    console.log(`    ${name.padEnd(22)} ${pct(med((w) => get(w)?.perCpu ?? 0)).padStart(6)}  ${med((w) => get(w)?.nsPerCycle ?? 0).toFixed(0).padStart(6)} ns/cycle   any CPU ${pct(med((w) => get(w)?.anyCpu ?? 0))}`);
  }
  console.log('  tasklist_lock by acquire site: held (any CPU) ns/cycle | entering or waiting (per CPU) ns/cycle');
  for (const [site, name] of TASKLIST_SITES) {
    const get = (w: LockShareWindow) => w.sites.find((s) => s.site === site)!;
    console.log(`    ${name.padEnd(30)} held ${pct(med((w) => get(w).held)).padStart(6)} ${med((w) => get(w).heldNsPerCycle).toFixed(0).padStart(6)} ns | waiting ${pct(med((w) => get(w).waiting)).padStart(6)} ${med((w) => get(w).waitNsPerCycle).toFixed(0).padStart(6)} ns`);
  }
}

await main();
process.exit(0);

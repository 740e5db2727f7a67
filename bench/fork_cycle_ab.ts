/**
 * The fork cycle (issue 15) of two or more builds, A/B: fork -> the child exits -> wait4, one CPU
 * in-process (deterministic, no worker threads), alternating repetitions in one process, per-cycle
 * process CPU time (not wall time: the host is shared). The first build is the reference.
 *
 *   node dist/bench/fork_cycle_ab.js [--reps N] [--forks N] [--depth N[,M]] DIR [DIR ...]
 *
 * --depth N runs the looper as pid 1 of the N-th nested pid namespace (unshare(CLONE_NEWPID) +
 * fork per level, as the forkrate bench builds it): the difference to depth 0, over N, is the
 * per-level cost in CPU time. --depth 0,31 measures both depths of every build in the same
 * process, alternating sample by sample, and prints each build's per-level cost (the median over
 * samples of (depth M - depth N) / (M - N)) and its paired ratio against the first build's.
 *
 * Each DIR is a checkout with a built dist/ (e.g. a copy of dist/ from before a change, or a copy
 * patched to leave one mechanism out, to bound what removing it could buy).
 */
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuNsPerCycle, summarize } from './util.js';

type Mod = Record<string, unknown>;

async function setup(root: string, forks: number, depth: number): Promise<() => number> {
  const im = (p: string): Promise<Mod> => import(pathToFileURL(join(root, 'dist', p)).href) as Promise<Mod>;
  const [machine, fr, sc, entry, layout, core, memory, cf] = await Promise.all([
    im('src/machine.js'), im('bench/forkrate.js'), im('src/kernel/unistd.js'), im('src/kernel/entry.js'), im('src/mm/layout.js'), im('src/sched/core.js'),
    im('src/mm/memory.js'), im('src/kernel/clone_flags.js'),
  ]);
  const Machine = machine.Machine as new (c: Mod, b: Mod) => { attach(): void; program(p: number[][]): number; runInProcess(): void; mem: Int32Array };
  const TASK = layout.TASK as Record<string, number>;
  const wake = core.try_to_wake_up as (t: number, s: number) => boolean;
  const m = new Machine({ ncpus: 1, maxTasks: 4096, choiceWords: 1024 }, {});
  m.attach();
  const child = m.program([[sc.SYS_EXIT as number, 0]]);
  const loop = m.program([[sc.SYS_FORK as number, 0, child, 0], [sc.SYS_WAIT4 as number, -1, 0], [entry.OP_LOOP as number, 0, forks], [entry.OP_HALT as number]]);
  // Level k: unshare(CLONE_NEWPID), fork pid 1 of the new namespace running level k+1, halt.
  let start = loop;
  for (let k = depth - 1; k >= 0; k--) start = m.program([[sc.SYS_UNSHARE as number, cf.CLONE_NEWPID as number], [sc.SYS_FORK as number, 0, start, 0], [entry.OP_HALT as number]]);
  let init = (fr.launchProcess as (m: unknown, p: number) => number)(m, start);
  m.runInProcess();
  if (depth > 0) {
    // The looper is the live task that runs `loop` (pid 1 of the innermost namespace).
    m.attach();
    const tr = (memory.regions as { objects: Array<{ base: number; stride: number; count: number }> }).objects[memory.SLAB_TASK as number]!;
    init = 0;
    for (let i = 0; i < tr.count && !init; i++) {
      const t = tr.base + i * tr.stride;
      if (m.mem[t + TASK.poison!] === layout.POISON_LIVE && m.mem[t + TASK.prog!] === loop) init = t;
    }
    if (!init) throw new Error(`${root}: no looper at depth ${depth}`);
  }
  return () => {
    m.attach();
    m.mem[init + TASK.pc!] = 0;
    m.mem[init + TASK.user_arg!] = 0;
    wake(init, core.TASK_INTERRUPTIBLE as number);
    return cpuNsPerCycle(() => m.runInProcess(), forks);
  };
}

const median = (a: readonly number[]): number => summarize(a).median;

async function main(): Promise<void> {
  const { values: v, positionals } = parseArgs({ options: { reps: { type: 'string' }, forks: { type: 'string' }, depth: { type: 'string' } }, allowPositionals: true });
  const reps = Number(v.reps ?? 15);
  const forks = Number(v.forks ?? 2000);
  const depths = (v.depth ?? '0').split(',').map(Number);
  if (positionals.length < 1 || !(reps > 0) || !(forks > 0) || depths.length > 2 || depths.some((d) => !Number.isInteger(d) || d < 0 || d > 31) || (depths.length === 2 && !(depths[1]! > depths[0]!))) {
    console.error('usage: fork_cycle_ab [--reps N] [--forks N] [--depth 0..31[,M > N]] DIR [DIR ...]');
    process.exit(2);
  }
  type Run = { dir: string; depth: number; batch: () => number; ns: number[] };
  const runs: Run[] = [];
  for (const d of positionals) for (const depth of depths) runs.push({ dir: d, depth, batch: await setup(resolve(d), forks, depth), ns: [] });
  for (const r of runs) for (let i = 0; i < 3; i++) r.batch(); // warm-up (JIT)
  for (let i = 0; i < reps; i++) for (const r of runs) r.ns.push(r.batch());
  console.log(`fork+exit+wait4, 1 CPU in-process, depth ${depths.join(' and ')}, ${forks} cycles per sample, ${reps} samples each (alternating), process CPU ns/cycle:`);
  for (const depth of depths) {
    const ref = runs.find((r) => r.depth === depth)!;
    for (const r of runs.filter((x) => x.depth === depth)) {
      const ratio = median(r.ns.map((x, i) => x / ref.ns[i]!));
      console.log(`  ${r.dir.padEnd(28)} depth ${String(depth).padStart(2)}  median ${median(r.ns).toFixed(0)} (min ${Math.min(...r.ns).toFixed(0)}, max ${Math.max(...r.ns).toFixed(0)})  paired ratio median ${ratio.toFixed(3)}`);
    }
  }
  if (depths.length === 2) {
    // Per-level cost per sample: the two depths of one build ran next to each other.
    const [d0, d1] = depths as [number, number];
    const level = (dir: string): number[] => {
      const a = runs.find((r) => r.dir === dir && r.depth === d0)!.ns;
      const b = runs.find((r) => r.dir === dir && r.depth === d1)!.ns;
      return a.map((x, i) => (b[i]! - x) / (d1 - d0));
    };
    const refLevel = level(positionals[0]!);
    console.log(`per-level cost, ns of process CPU per namespace level ((depth ${d1} - depth ${d0}) / ${d1 - d0}, median over samples):`);
    for (const dir of positionals) {
      const l = level(dir);
      const ratio = median(l.map((x, i) => x / refLevel[i]!));
      console.log(`  ${dir.padEnd(28)} ${median(l).toFixed(1)} ns  paired ratio median ${ratio.toFixed(3)}`);
    }
  }
}

await main();

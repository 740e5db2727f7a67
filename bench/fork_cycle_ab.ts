/**
 * The fork cycle (issue 15) of two or more builds, A/B: fork -> the child exits -> wait4, one CPU
 * in-process (deterministic, no worker threads), alternating repetitions in one process, per-cycle
 * process CPU time (not wall time: the host is shared). The first build is the reference.
 *
 *   node dist/bench/fork_cycle_ab.js [--reps N] [--forks N] DIR [DIR ...]
 *
 * Each DIR is a checkout with a built dist/ (e.g. a copy of dist/ from before a change, or a copy
 * patched to leave one mechanism out, to bound what removing it could buy).
 */
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuNsPerCycle, summarize } from './util.js';

type Mod = Record<string, unknown>;

async function setup(root: string, forks: number): Promise<() => number> {
  const im = (p: string): Promise<Mod> => import(pathToFileURL(join(root, 'dist', p)).href) as Promise<Mod>;
  const [machine, fr, sc, entry, layout, core] = await Promise.all([
    im('src/machine.js'), im('bench/forkrate.js'), im('src/kernel/unistd.js'), im('src/kernel/entry.js'), im('src/mm/layout.js'), im('src/sched/core.js'),
  ]);
  const Machine = machine.Machine as new (c: Mod, b: Mod) => { attach(): void; program(p: number[][]): number; runInProcess(): void; mem: Int32Array };
  const TASK = layout.TASK as Record<string, number>;
  const wake = core.try_to_wake_up as (t: number, s: number) => boolean;
  const m = new Machine({ ncpus: 1, maxTasks: 4096, choiceWords: 1024 }, {});
  m.attach();
  const child = m.program([[sc.SYS_EXIT as number, 0]]);
  const loop = m.program([[sc.SYS_FORK as number, 0, child, 0], [sc.SYS_WAIT4 as number, -1, 0], [entry.OP_LOOP as number, 0, forks], [entry.OP_HALT as number]]);
  const init = (fr.launchProcess as (m: unknown, p: number) => number)(m, loop);
  m.runInProcess();
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
  const { values: v, positionals } = parseArgs({ options: { reps: { type: 'string' }, forks: { type: 'string' } }, allowPositionals: true });
  const reps = Number(v.reps ?? 15);
  const forks = Number(v.forks ?? 2000);
  if (positionals.length < 1 || !(reps > 0) || !(forks > 0)) {
    console.error('usage: fork_cycle_ab [--reps N] [--forks N] DIR [DIR ...]');
    process.exit(2);
  }
  const runs: Array<{ dir: string; batch: () => number; ns: number[] }> = [];
  for (const d of positionals) runs.push({ dir: d, batch: await setup(resolve(d), forks), ns: [] });
  for (const r of runs) for (let i = 0; i < 3; i++) r.batch(); // warm-up (JIT)
  for (let i = 0; i < reps; i++) for (const r of runs) r.ns.push(r.batch());
  const ref = runs[0]!;
  console.log(`fork+exit+wait4, 1 CPU in-process, ${forks} cycles per sample, ${reps} samples each (alternating), process CPU ns/cycle:`);
  for (const r of runs) {
    const ratio = median(r.ns.map((x, i) => x / ref.ns[i]!));
    console.log(`  ${r.dir.padEnd(28)} median ${median(r.ns).toFixed(0)} (min ${Math.min(...r.ns).toFixed(0)}, max ${Math.max(...r.ns).toFixed(0)})  paired ratio median ${ratio.toFixed(3)}`);
  }
}

await main();

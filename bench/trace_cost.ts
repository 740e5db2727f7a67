/**
 * What tracing costs on the fork cycle (issue 16): fork -> the child exits -> wait4, one CPU
 * in-process (deterministic, no worker threads), with the trace rings off and on, alternating
 * repetitions in one process; medians and min/max of the per-cycle process CPU time.
 *
 *   node dist/bench/trace_cost.js [--reps N] [--forks N] [--base DIR]
 *
 * --base DIR measures a second build (DIR/dist, e.g. a checkout from before the emission points
 * existed) in the same alternation, for "off" against "no tracing code at all".
 */
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuNsPerCycle, summarize } from './util.js';

interface Api {
  Machine: new (c: Record<string, unknown>, b: Record<string, unknown>) => { attach(): void; program(p: number[][]): number; runInProcess(): void; mem: Int32Array };
  launchProcess: (m: unknown, prog: number) => number;
  SYS_EXIT: number; SYS_FORK: number; SYS_WAIT4: number; OP_LOOP: number; OP_HALT: number;
  TASK: Record<string, number>;
  try_to_wake_up: (t: number, s: number) => boolean;
  TASK_INTERRUPTIBLE: number;
}

async function load(root: string): Promise<Api> {
  const im = (p: string): Promise<Record<string, unknown>> => import(pathToFileURL(join(root, 'dist', p)).href) as Promise<Record<string, unknown>>;
  const [machine, fr, sc, entry, layout, core] = await Promise.all([
    im('src/machine.js'), im('bench/forkrate.js'), im('src/kernel/unistd.js'), im('src/kernel/entry.js'), im('src/mm/layout.js'), im('src/sched/core.js'),
  ]);
  return {
    Machine: machine.Machine as Api['Machine'], launchProcess: fr.launchProcess as Api['launchProcess'],
    SYS_EXIT: sc.SYS_EXIT as number, SYS_FORK: sc.SYS_FORK as number, SYS_WAIT4: sc.SYS_WAIT4 as number,
    OP_LOOP: entry.OP_LOOP as number, OP_HALT: entry.OP_HALT as number, TASK: layout.TASK as Record<string, number>,
    try_to_wake_up: core.try_to_wake_up as Api['try_to_wake_up'], TASK_INTERRUPTIBLE: core.TASK_INTERRUPTIBLE as number,
  };
}

/** A machine whose init loops `forks` fork cycles each time it is woken; returns one timed batch runner. */
function setup(api: Api, forks: number, traceEvents: number): () => number {
  const m = new api.Machine({ ncpus: 1, maxTasks: 4096, choiceWords: 1024, ...(traceEvents ? { traceEvents } : {}) }, {});
  m.attach();
  const child = m.program([[api.SYS_EXIT, 0]]);
  const loop = m.program([[api.SYS_FORK, 0, child, 0], [api.SYS_WAIT4, -1, 0], [api.OP_LOOP, 0, forks], [api.OP_HALT]]);
  const init = api.launchProcess(m, loop);
  m.runInProcess();
  return () => {
    m.attach();
    const mem = m.mem;
    mem[init + api.TASK.pc!] = 0;
    mem[init + api.TASK.user_arg!] = 0;
    api.try_to_wake_up(init, api.TASK_INTERRUPTIBLE);
    return cpuNsPerCycle(() => m.runInProcess(), forks);
  };
}

const median = (a: readonly number[]): number => summarize(a).median;

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: { reps: { type: 'string' }, forks: { type: 'string' }, base: { type: 'string' } } });
  const reps = Number(v.reps ?? 15);
  const forks = Number(v.forks ?? 2000);
  const here = resolve(new URL('../..', import.meta.url).pathname);
  const api = await load(here);
  const runs: Array<{ name: string; batch: () => number; ns: number[] }> = [
    { name: 'trace off', batch: setup(api, forks, 0), ns: [] },
    { name: 'trace on (32768 records per CPU)', batch: setup(api, forks, 1 << 15), ns: [] },
  ];
  if (v.base) runs.unshift({ name: `no tracing code (${v.base})`, batch: setup(await load(resolve(v.base)), forks, 0), ns: [] });
  for (const r of runs) for (let i = 0; i < 3; i++) r.batch(); // warm-up (JIT)
  for (let i = 0; i < reps; i++) for (const r of runs) r.ns.push(r.batch());
  const off = median(runs.find((r) => r.name === 'trace off')!.ns);
  console.log(`fork+exit+wait4 cycle, 1 CPU in-process, ${forks} cycles per sample, ${reps} samples each (alternating):`);
  for (const r of runs) {
    console.log(`  ${r.name.padEnd(44)} median ${median(r.ns).toFixed(0)} ns/cycle (min ${Math.min(...r.ns).toFixed(0)}, max ${Math.max(...r.ns).toFixed(0)})  ${(median(r.ns) / off).toFixed(3)}x of trace off`);
  }
}

void main();

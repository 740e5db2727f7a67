/**
 * Grace periods of the fork cycle at several CPUs (issue 15: with two CPUs the task slab holds
 * thousands of tasks that wait for a grace period, against 4 with one CPU). Two measurements:
 *
 * - Where a grace period's time goes (free-running, worker CPUs, the fork-rate workload of
 *   bench/forkrate.ts): the main thread samples rcu_state (gp_started, gp_seq) and every CPU's
 *   rcu_qs_gp, idle word, context switches and the callbacks it has queued, about every
 *   millisecond. Each interval between two samples in which the same grace period was running is
 *   charged to the CPUs that held it up (online, not idle, no quiescent state reported for it in
 *   either sample), by what each of them did meanwhile:
 *   - "no step": its context-switch count did not move - the worker thread was off its host core
 *     (descheduled by the host) or parked inside the kernel (a lock's futex wait), where no
 *     quiescent state can be reported (preemption is off);
 *   - "ran, no report": it switched context at least twice and still reported nothing. Every
 *     context switch passes rcu_note_context_switch, so this would be a defect of the model's RCU
 *     (a quiescent state missed), not a cost; the tool counts it so that the claim is measured.
 *   A no-step CPU with preempt_count > 0 in both samples was inside a lock (holding or waiting for
 *   one) the whole interval, which the tool reports as a share of the no-step time.
 *   Nothing is added to the measured CPUs' path: the sampler only reads.
 *
 * - What the backlog costs (in-process, one thread, process CPU time, paired A/B): the fork cycle
 *   on CPU 0 of a two-CPU machine whose CPU 1 is online and reports a quiescent state only every B
 *   cycles (the driver stores its rcu_qs_gp between chunks of B cycles and calls the real
 *   rcu_try_complete_gp), so that B cycles' tasks, pids and signal structs wait for a grace period
 *   as they do when the other worker is descheduled; B = 0 is CPU 1 offline (every grace period
 *   completes at CPU 0's next quiescent state, the one-CPU working set). Alternating the backlogs
 *   sample by sample, the ratio against B = 0 is the cost of the working set alone: the same
 *   kernel code, locks and atomics, no other CPU touching a cache line.
 *
 *   node dist/bench/gp_latency.js [--cpus 2] [--ms 2000] [--reps 3] [--backlog 0,300,3000] [--backlog-reps 9]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Machine } from '../src/machine.js';
import { CPU, G, RCU_CBLIST, RCU_GP_SEQ, RCU_GP_STARTED, SLAB, TASK } from '../src/mm/layout.js';
import { cpu_addr, kg, SLAB_TASK, slab_addr } from '../src/mm/memory.js';
import { SYS_EXIT, SYS_FORK, SYS_WAIT4 } from '../src/kernel/unistd.js';
import { OP_HALT, OP_LOOP } from '../src/kernel/entry.js';
import { kernel_runner } from '../src/kernel/index.js';
import { cpu_loop, TASK_INTERRUPTIBLE, try_to_wake_up } from '../src/sched/core.js';
import { rcu_try_complete_gp } from '../src/rcu/rcu.js';
import { RUN_RUNNING } from '../src/sched/hook.js';
import { forkAvailable, forkPrograms, launchProcess } from './forkrate.js';
import { summarize } from './util.js';

export interface GpStallWindow {
  cpus: number;
  seconds: number;
  forks: number;
  /** Grace periods completed in the window (rcu_state.gp_seq moved). */
  gps: number;
  /** Share of the window with a grace period running (gp_started > gp_seq in both samples). */
  runningShare: number;
  /** Of the time a grace period ran: held up by a CPU that made no step (off its host core, or parked). */
  noStepShare: number;
  /** Of the no-step time: the CPU had preemption off (inside a lock, or waiting for one) in both samples. */
  noStepAtomicShare: number;
  /** Of the time a grace period ran: held up by a CPU that switched context >= 2 times without a report (a model defect: expect 0). */
  ranNoReportShare: number;
  /** Longest stretch one grace period ran, ms (at the sampler's resolution). */
  longestGpMs: number;
  /** Most callbacks queued on all CPUs in one sample, and most tasks in use (slab high water). */
  maxCallbacks: number;
  taskHighWater: number;
  /** Sampler intervals, median, ms. */
  sampleMs: number;
}

interface Look {
  t: number;
  started: number;
  seq: number;
  forks: number;
  qs: number[];
  idle: number[];
  online: number[];
  switches: number[];
  preempt: number[];
  cbs: number;
}

/** One free-running window of the fork-rate workload on `cpus` CPUs, sampled from the main thread. */
export async function measureGpStalls(cpus: number, ms: number, warmupMs = 500): Promise<GpStallWindow> {
  const m = new Machine({ ncpus: cpus, maxTasks: 8192, maxPidNs: 64, choiceWords: 1024 }, { lockdep: false, hungTimeoutMs: 30_000 });
  m.attach();
  launchProcess(m, forkPrograms(m, 0, cpus));
  const mem = m.mem;
  const looks: Look[] = [];
  const look = (): Look => {
    const l: Look = {
      t: performance.now(), started: Atomics.load(mem, kg + G.rcu + RCU_GP_STARTED), seq: Atomics.load(mem, kg + G.rcu + RCU_GP_SEQ),
      forks: mem[kg + G.total_forks]!, qs: [], idle: [], online: [], switches: [], preempt: [], cbs: 0,
    };
    for (let i = 0; i < cpus; i++) {
      const c = cpu_addr(i);
      // The switch count before rcu_qs_gp: two switches counted between two samples mean the
      // first one's rcu_note_context_switch (after its slice) came before this load of rcu_qs_gp.
      l.switches.push(Atomics.load(mem, c + CPU.switches));
      l.qs.push(Atomics.load(mem, c + CPU.rcu_qs_gp));
      l.idle.push(Atomics.load(mem, c + CPU.idle));
      l.online.push(mem[c + CPU.online]!);
      l.preempt.push(mem[c + CPU.preempt_count]!);
      l.cbs += mem[c + CPU.rcu_cb + RCU_CBLIST.len]!;
    }
    return l;
  };
  const ac = new AbortController();
  let first = -1;
  const res = await m.run({
    signal: ac.signal, statsEveryMs: 1, stopWhenNoTasks: false, hungMs: 30_000, timeoutMs: 60_000 + warmupMs + ms,
    onTick: () => {
      const now = performance.now();
      if (first < 0) first = now;
      if (now - first < warmupMs) return;
      looks.push(look());
      if (now - first >= warmupMs + ms) ac.abort();
    },
  });
  if (looks.length < 3) throw new Error(`gp_latency: run ended as ${res.state} with ${looks.length} samples`);
  let running = 0, noStep = 0, noStepAtomic = 0, ranNoReport = 0, longest = 0, runStart = -1, runGp = -1;
  const gaps: number[] = [];
  for (let k = 1; k < looks.length; k++) {
    const a = looks[k - 1]!, b = looks[k]!;
    const dt = b.t - a.t;
    gaps.push(dt);
    if (b.started > b.seq) {
      if (runGp !== b.started) { runGp = b.started; runStart = b.t; }
      longest = Math.max(longest, b.t - runStart);
    } else runGp = -1;
    // The same grace period ran at both ends of the interval: who held it up?
    if (a.started !== b.started || a.seq !== b.seq || b.started <= b.seq) continue;
    running += dt;
    let stalledNoStep = false, stalledRan = false, atomic = false;
    for (let i = 0; i < cpus; i++) {
      const holds = (l: Look): boolean => l.online[i] === 1 && l.idle[i] !== 1 && l.qs[i]! < l.started;
      if (!holds(a) || !holds(b)) continue;
      if (b.switches[i]! - a.switches[i]! >= 2) stalledRan = true;
      else {
        stalledNoStep = true;
        if (a.preempt[i]! > 0 && b.preempt[i]! > 0) atomic = true;
      }
    }
    if (stalledRan) ranNoReport += dt;
    else if (stalledNoStep) {
      noStep += dt;
      if (atomic) noStepAtomic += dt;
    }
  }
  const a = looks[0]!, z = looks[looks.length - 1]!;
  const span = z.t - a.t;
  return {
    cpus, seconds: span / 1000, forks: z.forks - a.forks, gps: z.seq - a.seq,
    runningShare: running / span, noStepShare: running > 0 ? noStep / running : 0, noStepAtomicShare: noStep > 0 ? noStepAtomic / noStep : 0, ranNoReportShare: running > 0 ? ranNoReport / running : 0,
    longestGpMs: longest, maxCallbacks: Math.max(...looks.map((l) => l.cbs)),
    taskHighWater: mem[slab_addr(SLAB_TASK) + SLAB.high_water]!, sampleMs: summarize(gaps).median,
  };
}

/** Cycles per backlog sample (rounded up to whole chunks of the backlog). */
const BACKLOG_CYCLES = 6000;

/**
 * The in-process fork cycle with a grace-period backlog of about `backlog` cycles (0: none):
 * returns a function that runs `total` cycles (rounded up to whole chunks of `backlog`) and answers process CPU ns per cycle and the
 * task slab's high water.
 */
export function backlogCycle(backlog: number, total = BACKLOG_CYCLES): () => { nsPerCycle: number; taskHighWater: number } {
  const chunk = backlog > 0 ? backlog : total;
  const m = new Machine({ ncpus: 2, maxTasks: 8192, choiceWords: 1024 }, {});
  m.attach();
  const child = m.program([[SYS_EXIT, 0]]);
  const loop = m.program([[SYS_FORK, 0, child, 0], [SYS_WAIT4, -1, 0], [OP_LOOP, 0, chunk], [OP_HALT]]);
  const looper = launchProcess(m, loop);
  m.runInProcess(); // the looper's first chunk, and CPU 1 offline
  const c1 = cpu_addr(1);
  return () => {
    m.attach();
    const mem = m.mem;
    Atomics.store(mem, kg + G.run_state, RUN_RUNNING);
    // CPU 1 online, not idle, no quiescent state: it holds up every grace period until the driver
    // reports one for it below (as a worker descheduled by the host does until it runs again).
    mem[c1 + CPU.online] = backlog > 0 ? 1 : 0;
    Atomics.store(mem, c1 + CPU.idle, 0);
    const u0 = process.cpuUsage();
    let cycles = 0;
    while (cycles < total) {
      mem[looper + TASK.pc] = 0;
      mem[looper + TASK.user_arg] = 0;
      try_to_wake_up(looper, TASK_INTERRUPTIBLE);
      cpu_loop(kernel_runner, { returnWhenIdle: true });
      cycles += chunk;
      if (backlog > 0) {
        // CPU 1's quiescent state for the running grace period: the report's store, then the real
        // scan (rcu_try_complete_gp) completes it; the callbacks run at CPU 0's next rcu_do_batch.
        Atomics.store(mem, c1 + CPU.rcu_qs_gp, Atomics.load(mem, kg + G.rcu + RCU_GP_STARTED));
        rcu_try_complete_gp();
      }
    }
    const u = process.cpuUsage(u0);
    return { nsPerCycle: ((u.user + u.system) * 1e3) / cycles, taskHighWater: mem[slab_addr(SLAB_TASK) + SLAB.high_water]! };
  };
}

export interface BacklogRow { backlog: number; nsPerCycle: number; ratio: number; taskHighWater: number }

/** Every backlog alternated sample by sample; ratio = median of the paired ratios against the first backlog. */
export function measureBacklogCost(backlogs: readonly number[], reps: number, total = BACKLOG_CYCLES): BacklogRow[] {
  const runs = backlogs.map((b) => backlogCycle(b, total));
  const ns = backlogs.map(() => [] as number[]);
  const hw = backlogs.map(() => 0);
  for (let r = 0; r < reps; r++) {
    for (let k = 0; k < runs.length; k++) {
      const x = runs[k]!();
      ns[k]!.push(x.nsPerCycle);
      hw[k] = x.taskHighWater;
    }
  }
  return backlogs.map((b, k) => ({
    backlog: b, nsPerCycle: summarize(ns[k]!).median, taskHighWater: hw[k]!,
    ratio: summarize(ns[k]!.map((x, i) => x / ns[0]![i]!)).median,
  }));
}

function parseList(s: string): number[] | undefined {
  const xs = s.split(',').map(Number);
  return xs.every((x) => Number.isInteger(x) && x >= 0 && x <= 4000) ? xs : undefined;
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: { cpus: { type: 'string' }, ms: { type: 'string' }, reps: { type: 'string' }, backlog: { type: 'string' }, 'backlog-reps': { type: 'string' } } });
  const cpus = Number(v.cpus ?? 2), ms = Number(v.ms ?? 2000), reps = Number(v.reps ?? 3), breps = Number(v['backlog-reps'] ?? 9);
  const backlogs = parseList(v.backlog ?? '0,300,3000');
  if (!(Number.isInteger(cpus) && cpus >= 2 && cpus <= 64) || !(ms >= 100) || !(Number.isInteger(reps) && reps >= 0) || !(Number.isInteger(breps) && breps >= 0) || !backlogs) {
    console.error('usage: gp_latency [--cpus 2..64] [--ms >=100] [--reps N] [--backlog B,B,... (0..4000)] [--backlog-reps N]');
    process.exit(2);
  }
  if (!(await forkAvailable())) { console.error('gp_latency: fork is not registered'); process.exit(1); }
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  for (let r = 0; r < reps; r++) {
    const w = await measureGpStalls(cpus, ms);
    console.log(`${cpus} CPUs, ${w.seconds.toFixed(2)} s: ${Math.round(w.forks / w.seconds).toLocaleString('en-US')} forks/s, ${Math.round(w.gps / w.seconds).toLocaleString('en-US')} grace periods/s (${(w.gps / Math.max(1, w.forks)).toFixed(3)} a fork), one running ${pct(w.runningShare)} of the time; of that, held up by a CPU that made no step ${pct(w.noStepShare)} (preemption off in both samples for ${pct(w.noStepAtomicShare)} of that), by one that switched without reporting ${pct(w.ranNoReportShare)}; longest ${w.longestGpMs.toFixed(1)} ms; callbacks queued up to ${w.maxCallbacks.toLocaleString('en-US')}, task high water ${w.taskHighWater.toLocaleString('en-US')} (samples every ${w.sampleMs.toFixed(2)} ms)`);
  }
  if (breps > 0) {
    console.log(`backlog cost: in-process fork cycle, CPU 1 reports a quiescent state every B cycles, ${breps} alternating samples of ${BACKLOG_CYCLES} cycles, process CPU time (medians)`);
    for (const row of measureBacklogCost(backlogs, breps)) {
      console.log(`  B = ${String(row.backlog).padStart(4)}: ${row.nsPerCycle.toFixed(0)} ns/cycle, ${row.ratio.toFixed(3)}x of B = ${backlogs[0]} (paired), task high water ${row.taskHighWater}`);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(() => process.exit(0), (e: unknown) => { console.error(e); process.exit(1); });
}

/**
 * Scale (issue 7): a fork bomb to pid_max = PID_MAX_LIMIT = 4,194,304 in one namespace tree.
 *
 * pid_max is exclusive (kernel/pid.c: idr_alloc_cyclic(..., pid_min, pid_max)), so the pids of
 * init_pid_ns are 1 .. 4,194,303; RESERVED_PIDS (300) only matters when the cursor wraps, and a
 * bomb from a fresh boot never wraps before the space is full. init (pid 1) forks children that halt
 * (keep their pid, sleeping in pause) until every number is taken; the next fork must fail with
 * EAGAIN (alloc_pid turns the idr's ENOSPC into EAGAIN). The run is in-process on this thread
 * (deterministic, no workers) and needs a little over 2 GiB of shared memory (~20 s): the full
 * `npm run bench` runs it, --quick only with --scale, --no-scale skips it.
 */
import { Machine } from '../src/machine.js';
import { G, PIDNS, TASK } from '../src/mm/layout.js';
import { computeRegions, defaultConfig, kg, PID_MAX_LIMIT, type KernelConfig } from '../src/mm/memory.js';
import { OP_HALT, OP_LOOP } from '../src/kernel/entry.js';
import { SYS_FORK } from '../src/kernel/unistd.js';
import { forkAvailable, launchProcess } from './forkrate.js';
import type { Logger } from './util.js';
import { EAGAIN } from '../src/kernel/errno.js';


export interface ScaleResult {
  ran: boolean;
  skipped?: string;
  pidMax: number;
  /** Forks that succeeded, and what the next one returned. */
  forks?: number;
  lastRet?: number;
  eagainAtLimit?: boolean;
  /** Live tasks, the highest pid number in init_pid_ns and how many numbers are in use (1 .. pid_max-1: all). */
  tasks?: number;
  highestPid?: number;
  pidsInUse?: number;
  seconds?: number;
  forksPerSec?: number;
  sharedBytes: number;
  bytesPerTask: number;
  rssBytes?: number;
  summary: string;
}

export function scaleConfig(pidMax = PID_MAX_LIMIT): KernelConfig {
  const maxTasks = pidMax + 64;
  return defaultConfig({
    // Everything per task at its smallest (one pid level, one signal_struct per task) and every
    // other region small: ~500 bytes of shared memory per task.
    ncpus: 1, pidMax, maxLevel: 0, maxTasks, maxPids: maxTasks, maxPidNs: 4, maxUserNs: 8, maxNsproxy: 16, maxNsCommon: 64,
    maxFiles: 64, maxTortureObjs: 16, programWords: 1024, violationWords: 4096, choiceWords: 1024,
    pidHashBuckets: 1 << Math.ceil(Math.log2(pidMax)),
  });
}

export async function benchScale(o: { pidMax?: number; log?: Logger } = {}): Promise<ScaleResult> {
  const log = o.log ?? (() => {});
  const pidMax = o.pidMax ?? PID_MAX_LIMIT;
  const cfg = scaleConfig(pidMax);
  const sharedBytes = computeRegions(cfg).totalWords * 4;
  const base: ScaleResult = { ran: false, pidMax, sharedBytes, bytesPerTask: sharedBytes / (pidMax - 1), summary: '' };
  if (!(await forkAvailable())) {
    base.skipped = 'fork is not registered yet';
    base.summary = `skipped: ${base.skipped} (would need ${(sharedBytes / 2 ** 30).toFixed(2)} GiB of shared memory, ${Math.round(base.bytesPerTask)} bytes per task)`;
    log(`  ${base.summary}`);
    return base;
  }
  let m: Machine;
  try {
    m = new Machine(cfg);
  } catch (e) {
    base.skipped = (e as Error).message;
    base.summary = `skipped: ${base.skipped}`;
    log(`  ${base.summary}`);
    return base;
  }
  m.attach();
  const mem = m.mem;
  const tasksBefore = mem[kg + G.nr_threads]!;
  // Every number 1 .. pid_max-1 is taken by a live task at the end: the forks that can succeed are
  // pid_max - 1 minus the pids alive now (init, which runs the bomb, has pid 1).
  const expect = pidMax - 1 - tasksBefore;
  const child = m.program([[OP_HALT]]);
  // OP_LOOP repeats the fork until it ran `expect` times, then one more fork (must fail), then halt.
  const bomber = m.program([[SYS_FORK, 0, child, 0], [OP_LOOP, 0, expect], [SYS_FORK, 0, child, 0], [OP_HALT]]);
  log(`  ${(sharedBytes / 2 ** 30).toFixed(2)} GiB shared memory (${Math.round(base.bytesPerTask)} bytes per task); ${expect.toLocaleString('en-US')} forks expected to succeed`);
  const t0 = performance.now();
  const bomberTask = launchProcess(m, bomber);
  m.runInProcess();
  const seconds = (performance.now() - t0) / 1000;
  const lastRet = bomberTask ? mem[bomberTask + TASK.last_ret]! : NaN;
  const tasks = mem[kg + G.nr_threads]!;
  const initNs = mem[kg + G.init_pid_ns]!;
  // The idr bitmap of init_pid_ns: the highest number in use, and how many are (pid 0 never is).
  let highest = -1;
  let used = 0;
  const bm = mem[initNs + PIDNS.bitmap]!;
  for (let w = Math.ceil(pidMax / 32) - 1; w >= 0; w--) {
    let v = mem[bm + w]!;
    if (v !== 0 && highest < 0) highest = w * 32 + (31 - Math.clz32(v));
    while (v !== 0) { v &= v - 1; used++; }
  }
  const forks = tasks - tasksBefore;
  const res: ScaleResult = {
    ...base, ran: true, forks, lastRet, eagainAtLimit: lastRet === -EAGAIN && highest === pidMax - 1 && used === pidMax - 1, tasks, highestPid: highest, pidsInUse: used,
    seconds, forksPerSec: forks / seconds, rssBytes: process.memoryUsage().rss, summary: '',
  };
  res.summary = `${forks.toLocaleString('en-US')} forks in ${seconds.toFixed(1)} s (${Math.round(res.forksPerSec!).toLocaleString('en-US')}/s), ${tasks.toLocaleString('en-US')} tasks, highest pid ${highest.toLocaleString('en-US')}, ${used.toLocaleString('en-US')} pids in use; next fork returned ${lastRet} (${res.eagainAtLimit ? 'EAGAIN exactly at the limit' : 'NOT EAGAIN at the limit'}); ${(sharedBytes / 2 ** 30).toFixed(2)} GiB shared, ${Math.round(sharedBytes / tasks)} bytes per task, RSS ${(res.rssBytes! / 2 ** 30).toFixed(2)} GiB`;
  log(`  ${res.summary}`);
  return res;
}

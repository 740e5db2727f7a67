/**
 * The run supervisor: the one way to run a machine on its CPU workers and to end the run. Stress,
 * the deadlock catalog, bench and the scripting API all run through `supervise`; Machine.run is
 * it with a pool of its own, the catalog passes a pool it keeps between runs.
 *
 * A run: the CPUs attach (G.cpus_ready) while the state is RUN_SETUP and start together; the main
 * thread then watches until the run ends, by itself (the CPUs: a controlled-mode verdict, a
 * crash) or by a watchdog here. Every end goes through the one run-end protocol, run_end() in
 * src/sched/hook.ts. A broken run is frozen (G.freeze) and copied before the CPUs unwind; reports
 * read the copy.
 *
 * The watchdogs (each bounded, so every run ends):
 * - free-running, hung-task: no progress (G.progress) for hungMs ends the run as hung;
 * - controlled, soft lockup: the CPU that holds the turn passes no scheduling hook (CPU.hook_seq)
 *   for lockupMs while the process runs (soft_lockup_expired: a worker the host starved is not
 *   stuck): it loops in the kernel (a list corrupted into a cycle does that) and will never
 *   hand the turn on. As the kernel's watchdog (kernel/watchdog.c) it reports "BUG: soft lockup";
 *   the other CPUs freeze at their next check, and the looping worker is terminated with the pool;
 * - the whole-run bound (timeoutMs): free-running hung, controlled the decision limit.
 * Workers never import this module.
 */
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import { CPU, G } from '../mm/layout.js';
import { cpu_addr, kg } from '../mm/memory.js';
import {
  ABORT_HOTPLUG, MODE_CONTROLLED, RUN_CRASHED, RUN_DEADLOCK, RUN_HUNG, RUN_LIMIT, RUN_RUNNING, RUN_SETUP, RUN_STOPPED,
  RUN_STOPPING, RUN_VIOLATION, run_end,
} from '../sched/hook.js';
import { HP_OFFLINE, HP_ONLINE } from '../sched/hotplug.js';
import { run_tokens_setup } from '../sched/run_token.js';
import { RWLOCK_SPIN_US } from '../locking/qrwlock.js';
import { mux_setup } from '../sched/mux.js';
import { kick_cpu } from '../sched/core.js';
import { capture_trace } from '../trace/capture.js';
import { prng_below } from '../lib/prng.js';
import { nr_blocked_tasks } from '../kernel/sched_task.js';
import { stuck_report } from '../detect/report.js';
import type { Machine, RunOptions, RunResult, HotplugOptions } from '../machine.js';
import type { CpuResult } from '../../workers/cpu.js';

/** What the catalog's free-running runs add to a run's rules (stress and bench use the defaults). */
export interface SupervisePolicy {
  /** Free-running: the first recorded violation ends the run (RUN_VIOLATION, frozen). */
  stopOnViolation?: boolean;
  /**
   * Free-running: how a quiet run ends. 'tasks' (default): every task gone (nr_threads back to
   * the boot tasks) and nothing queued. 'blocked': every CPU idle and nothing changing; no task
   * blocked in the kernel is done, tasks blocked for 30 ms is a sleeping deadlock.
   */
  quiet?: 'tasks' | 'blocked';
  /**
   * Free-running: the hung watchdog ends the run only if this holds (e.g. the CPUs' published
   * waits form a wait-for cycle); otherwise the host starved the workers and the watch goes on.
   */
  confirmHung?: (m: Machine) => boolean;
  /** Bound on the CPUs attaching (default 60 s). */
  startTimeoutMs?: number;
  /** Build the wait-for report of a broken run (default true; the catalog builds its own). */
  report?: boolean;
}

export interface Supervised extends RunResult {
  /** A CPU never left (soft lockup, or it did not unwind in time): its pool must be destroyed. */
  poolTainted: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A bound that is usually not reached must not keep the process alive after the run. */
const bound = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** Wait (bounded) for mem[addr] to leave `value`, or for `ms`. */
async function wait_word(m: Int32Array, addr: number, value: number, ms: number): Promise<void> {
  const w = Atomics.waitAsync(m, addr, value, ms);
  if (w.async) await w.value;
}

/** Scheduling-hook passes of every CPU (controlled mode: bumped at each ctl_schedule). */
function hook_passes(m: Int32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + Atomics.load(m, cpu_addr(i) + CPU.hook_seq)) | 0;
  return s;
}

/** Bound on a controlled run's soft-lockup watchdog when none is given: the hung bound, at least 1 s. */
export function lockup_bound(hungMs: number): number {
  return Math.max(1000, hungMs);
}

/** CPU time this process has run, all threads (ms): what the soft-lockup watchdog counts. */
function process_cpu_ms(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Controlled soft lockup: no scheduling hook for `lockupMs` of wall time, while the process ran
 * for at least half of that. In controlled mode only the CPU holding the turn runs, so a looping
 * CPU burns process CPU time; a CPU the host simply did not run (a loaded host starving the
 * worker thread) burns none and is not a lockup. kernel/watchdog.c has the same exception for a
 * guest the host stopped: watchdog_timer_fn checks kvm_check_and_clear_guest_paused() before it
 * reports (read in a stored copy of kernel/watchdog.c; find_string id 19000986).
 */
export function soft_lockup_expired(wallMs: number, cpuMs: number, lockupMs: number): boolean {
  return wallMs > lockupMs && cpuMs >= lockupMs / 2;
}

/** Run the machine's CPUs on `pool` (at least ncpus threads) until the run ends; see the file comment. */
export async function supervise(mc: Machine, pool: Piscina, opts: RunOptions = {}, policy: SupervisePolicy = {}): Promise<Supervised> {
  mc.attach();
  const m = mc.mem;
  const n = mc.config.ncpus;
  const controlled = m[kg + G.mode] === MODE_CONTROLLED;
  if (controlled && opts.control) mc.control(opts.control);
  mc.bringUpCpus();
  // Several CPUs per host thread (src/sched/mux.ts): the threads are the run tokens then.
  // Tokens first: run_tokens_setup clears CPU.tok_wait, which mux_setup sets for a CPU's first turn.
  const threads = host_threads(n, opts, controlled);
  const tokens = controlled || opts.hostPreemption || threads < n ? 0 : opts.runTokens ?? availableParallelism();
  run_tokens_setup(m, tokens, n);
  m[kg + G.rwlock_spin_us] = rwlock_spin_us(tokens, threads, availableParallelism());
  const groups = mux_setup(m, n, threads);
  // runInProcess (setup through the API) leaves the state RUNNING: the CPUs must wait for the
  // start below, or one could run (and even crash) before the others are there.
  Atomics.store(m, kg + G.run_state, RUN_SETUP);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const hungMs = opts.hungMs ?? m[kg + G.hung_timeout_ms]!;
  const lockupMs = opts.lockupMs ?? lockup_bound(hungMs);
  const t0 = performance.now();
  let interrupted = false;
  let hotplugs = 0;
  let lockup: { cpu: number; ms: number } | undefined;
  /** The main thread ended the run (the CPUs may be anywhere in a kernel path: let them park). */
  let byMain = false;
  const end = (state: number, freeze = false): void => {
    mc.attach();
    if (run_end(state, freeze)) byMain = true;
  };
  mc.snapshot = undefined;
  const startMs = policy.startTimeoutMs ?? 60_000;
  // One pool task per host thread: a CPU, or the CPUs it hosts (results per CPU either way).
  const tasks = groups.map((g, thread) => pool.run({ shared: mc.shared, cpu: g[0]!, cpus: g.length > 1 ? g : undefined, thread, startTimeoutMs: startMs }) as Promise<CpuResult | CpuResult[]>);
  const settled: Array<CpuResult | undefined> = new Array(n);
  const errors: Array<Error | undefined> = new Array(n);
  // A thread that crashed on a CPU of another home reports it too: the report with the error wins.
  tasks.forEach((p, i) => p.then((r) => { for (const x of Array.isArray(r) ? r : [r]) if (!settled[x.cpu]?.error) settled[x.cpu] = x; }, (e: Error) => {
    for (const cpu of groups[i]!) errors[cpu] = e;
    // A worker that died (not a kernel exception: those the CPU reports itself) ends the run.
    end(RUN_CRASHED, true);
  }));

  // Wait (bounded) for every CPU to attach, then start them together.
  while (Atomics.load(m, kg + G.cpus_ready) < n) {
    if (performance.now() - t0 > startMs) throw new Error(`CPU workers did not start within ${startMs / 1000} s`);
    if (errors.some(Boolean)) break;
    await wait_word(m, kg + G.cpus_ready, Atomics.load(m, kg + G.cpus_ready), 5);
  }
  if (controlled) Atomics.store(m, kg + G.ctl_turn, 0);
  // A worker that failed to start ends the run before it begins.
  Atomics.compareExchange(m, kg + G.run_state, RUN_SETUP, errors.some(Boolean) ? RUN_CRASHED : RUN_RUNNING);
  Atomics.notify(m, kg + G.run_state);
  // The run's clock (duration, timeout, stats ticks, elapsedMs) starts here, not before the
  // workers load: starting a pool of CPU workers takes seconds on a loaded host (startMs bounds it).
  const runStart = performance.now();

  let lastProgress = -1;
  let lastChange = runStart;
  let lastHooks = -1;
  let lastHookChange = lastChange;
  let cpuAtHookChange = process_cpu_ms();
  let quietSince = -1;
  let lastTick = lastChange;
  let lastHotplug = lastChange;
  const every = opts.statsEveryMs ?? 1000;
  const stopWhenNoTasks = opts.stopWhenNoTasks ?? true;
  const quiet = policy.quiet ?? 'tasks';
  // The CPUs end a controlled run themselves and notify G.run_state: sleep on it between checks.
  const pollMs = controlled ? 20 : 2;
  for (;;) {
    if (Atomics.load(m, kg + G.run_state) !== RUN_RUNNING) break;
    const now = performance.now();
    const el = now - runStart;
    if (opts.signal?.aborted) { interrupted = true; end(RUN_STOPPING); break; }
    if (opts.durationMs !== undefined && el >= opts.durationMs) { end(RUN_STOPPING); break; }
    if (el >= timeoutMs) { end(controlled ? RUN_LIMIT : RUN_HUNG, true); break; }
    if (controlled) {
      const h = hook_passes(m, n);
      if (h !== lastHooks) { lastHooks = h; lastHookChange = now; cpuAtHookChange = process_cpu_ms(); }
      else if (soft_lockup_expired(now - lastHookChange, process_cpu_ms() - cpuAtHookChange, lockupMs)) {
        const cpu = Atomics.load(m, kg + G.ctl_turn);
        if (cpu >= 0) {
          lockup = { cpu, ms: now - lastHookChange };
          end(RUN_HUNG, true);
          break;
        }
      }
    } else {
      if (policy.stopOnViolation && Atomics.load(m, kg + G.violations) !== 0) { end(RUN_VIOLATION, true); break; }
      const prog = Atomics.load(m, kg + G.progress);
      if (prog !== lastProgress) { lastProgress = prog; lastChange = now; }
      if (quiet === 'tasks') {
        if (stopWhenNoTasks && Atomics.load(m, kg + G.nr_threads) <= mc.bootTasks && mc.quiescent()) { end(RUN_STOPPED); break; }
      } else if (all_idle(m, n) && now - lastChange >= 3) {
        if (quietSince < 0) quietSince = now;
        mc.attach();
        if (nr_blocked_tasks(m) === 0) { end(RUN_STOPPED); break; }
        // Tasks asleep, nothing to run, nothing changing: a sleeping deadlock (confirm a while).
        if (now - quietSince >= 30) { end(RUN_DEADLOCK, true); break; }
      } else quietSince = -1;
      if (opts.until && opts.until(mc) && mc.quiescent()) { end(RUN_STOPPED); break; }
      if (now - lastChange > hungMs) {
        if (!policy.confirmHung || policy.confirmHung(mc)) { end(RUN_HUNG, true); break; }
        lastChange = now;
      }
      if (opts.hotplug && now - lastHotplug >= opts.hotplug.everyMs) {
        lastHotplug = now;
        hotplugs += hotplug_step(mc, opts.hotplug);
      }
    }
    if (opts.onTick && now - lastTick >= every) { lastTick = now; opts.onTick(mc, el); }
    await wait_word(m, kg + G.run_state, RUN_RUNNING, pollMs);
  }

  // A broken run is frozen (G.freeze): copy the state before the CPUs unwind, then let them go.
  const endState = Atomics.load(m, kg + G.run_state);
  if (endState === RUN_DEADLOCK || endState === RUN_HUNG || endState === RUN_LIMIT || endState === RUN_CRASHED || endState === RUN_VIOLATION) {
    if (Atomics.load(m, kg + G.freeze) !== 0) {
      // Ended by a CPU in controlled mode: the others wait for the turn and park at once. Ended
      // from here: CPUs park at their next check (spin waits re-check every 20 ms).
      if (byMain || !controlled) await sleep(controlled ? 10 : 40);
      else {
        // The CPU that ended it finishes run_end (its last store: ctl_turn = -1) and parks; the
        // others park at their next check. Copy the state once that store is seen (bounded).
        const until = performance.now() + 100;
        while (Atomics.load(m, kg + G.ctl_turn) !== -1 && performance.now() < until) await wait_word(m, kg + G.ctl_turn, Atomics.load(m, kg + G.ctl_turn), 1);
      }
      mc.snapshot = m.slice();
      mc.snapshotAt = performance.now();
      Atomics.store(m, kg + G.freeze, 0);
      Atomics.notify(m, kg + G.freeze);
    } else { mc.snapshot = m.slice(); mc.snapshotAt = performance.now(); }
  }
  // Every CPU leaves its loop at its next check; bound the wait for them. A locked-up CPU never
  // reaches one: it is not waited for, and its worker goes with the pool.
  const expect = n - (lockup ? 1 : 0);
  const until = performance.now() + 10_000;
  while (performance.now() < until) {
    const exited = Atomics.load(m, kg + G.cpus_exited);
    if (exited >= expect || errors.filter(Boolean).length + exited >= n) break;
    await wait_word(m, kg + G.cpus_exited, exited, 5);
  }
  await Promise.race([Promise.allSettled(tasks.filter((_, i) => !groups[i]!.includes(lockup?.cpu ?? -1))), bound(5_000)]);
  const poolTainted = lockup !== undefined || settled.filter(Boolean).length + errors.filter(Boolean).length < n;

  const res: Supervised = {
    state: mc.runState(),
    elapsedMs: performance.now() - runStart,
    cpus: Array.from(settled, (r, i) => r ?? { cpu: i, switches: m[cpu_addr(i) + CPU.switches]!, syscalls: m[cpu_addr(i) + CPU.syscalls]!, aborted: errors[i]?.message ?? (lockup?.cpu === i ? 'soft lockup' : undefined) }),
    violations: mc.violations(),
    progress: Atomics.load(m, kg + G.progress),
    poolTainted,
  };
  if (interrupted) res.interrupted = true;
  if (controlled) res.control = mc.controlStats();
  res.trace = capture_trace(mc.view(mc.snapshot ?? m), mc.snapshot ? mc.snapshotAt : performance.now());
  if (hotplugs) res.hotplugs = hotplugs;
  if (lockup) res.lockup = lockup;
  const crashed = settled.find((r) => r?.error);
  if (crashed?.error) res.crash = { cpu: crashed.cpu, task: crashed.error.task, message: crashed.error.message, stack: crashed.error.stack };
  else {
    const i = errors.findIndex(Boolean);
    if (i >= 0 && endState === RUN_CRASHED) res.crash = { cpu: i, task: 0, message: errors[i]!.message, stack: errors[i]!.stack };
  }
  if (policy.report !== false && mc.snapshot && res.state !== 'stopped') {
    res.stuck = stuck_report(mc.view(mc.snapshot), res.state, res.state === 'hung' ? (lockup ? lockup.ms : hungMs) : 0, undefined, { lockup, crash: res.crash });
  }
  return res;
}

/**
 * How long a free-running rwlock waiter spins before it naps (G.rwlock_spin_us, src/locking/qrwlock.ts):
 * through a long read section only while no lock holder can be off its core for lack of one, i.e.
 * at most as many threads run kernel code at once as the host has cores (`tokens` 0: tokens off).
 */
export function rwlock_spin_us(tokens: number, threads: number, cores: number): number {
  return (tokens > 0 ? Math.min(tokens, threads) : threads) <= cores ? RWLOCK_SPIN_US : 0;
}

/**
 * How many host threads run the CPUs of a run. Several CPUs per thread (src/sched/mux.ts) by
 * default when the run has more CPUs than the host has cores and would use run tokens (free-running,
 * no --host-preemption, no explicit token count); `opts.threads` chooses the count (>= ncpus: one
 * thread per CPU, with run tokens as before). Controlled mode and --host-preemption: one per CPU.
 */
export function host_threads(ncpus: number, opts: RunOptions, controlled: boolean): number {
  if (controlled || opts.hostPreemption) return ncpus;
  if (opts.threads !== undefined && opts.threads > 0) return Math.min(ncpus, opts.threads);
  if (opts.runTokens !== undefined) return ncpus;
  const cores = availableParallelism();
  return cores < ncpus ? cores : ncpus;
}

function all_idle(m: Int32Array, n: number): boolean {
  for (let i = 0; i < n; i++) {
    const c = cpu_addr(i);
    if (Atomics.load(m, c + CPU.idle) !== 1 || Atomics.load(m, c + CPU.rq_nr) !== 0) return false;
  }
  return true;
}

/** One hotplug transition: a random CPU other than 0 goes offline, or an offline one comes back. */
function hotplug_step(mc: Machine, o: HotplugOptions): number {
  const m = mc.mem;
  const n = mc.config.ncpus;
  if (n < 2) return 0;
  const id = 1 + prng_below(m, kg + G.hotplug_rng, n - 1); // seeded at boot: a seed replays its hotplug steps
  const c = cpu_addr(id);
  const off = Array.from({ length: n }, (_, i) => m[cpu_addr(i) + CPU.online] === 0).filter(Boolean).length;
  mc.attach();
  const kick = (): void => kick_cpu(id); // also reaches the thread that hosts it (src/sched/mux.ts)
  if (m[c + CPU.online] === 1 && m[c + CPU.hotplug] === 0) {
    if (off >= (o.maxOffline ?? Math.floor(n / 2))) return 0;
    Atomics.store(m, c + CPU.hotplug, HP_OFFLINE);
    Atomics.store(m, c + CPU.abort, ABORT_HOTPLUG);
    kick();
    return 1;
  }
  if (m[c + CPU.online] === 0) {
    Atomics.store(m, c + CPU.hotplug, HP_ONLINE);
    kick();
    return 1;
  }
  return 0;
}

/**
 * The configuration of one stress run: what the user asked for, validated, with defaults. The
 * whole object goes into the replay token, so a replay rebuilds the same machine.
 */
import { BUG_NAMES } from '../config/bugs.js';
import { NR_CPUS } from '../mm/layout.js';
import { syscall_fn } from '../kernel/entry.js';
import { OPS, OP_IDS, check_mix } from './ops.js';
import { SYS_FORK } from '../kernel/unistd.js';
import { UACCESS_FAULT_PERMILLE } from '../mm/uaccess.js';
import '../kernel/index.js';

/**
 * Free-running stress widens the kernel's named race windows by default (src/sched/hook.ts
 * SITE_WINDOW_MIN): a delay at one window hook in this many per mille. Chosen by measurement
 * (README, issue 14): it finds races plain free runs did not, at a small cost in operations per
 * second; `--window-delay 0` turns it off.
 */
export const WINDOW_DELAY_PERMILLE = 25;

export interface StressConfig {
  cpus: number;
  mode: 'free' | 'controlled';
  strategy: 'random' | 'pct';
  pctDepth: number;
  seed: number;
  /** Operations to run (all tasks together); 0 = until the duration is over. */
  ops: number;
  /** Free-running duration in ms (ignored in controlled mode, which runs an operation budget). */
  durationMs: number;
  mix: string[];
  /** Deepest pid-namespace level the mix creates. */
  maxDepth: number;
  /** Stress tasks started at the beginning. */
  tasks: number;
  /** Soft bound on live tasks: fork and clone are skipped above it. */
  maxTasks: number;
  /** Injected ENOMEM per allocation point, per mille. */
  injectEnomem: number;
  /** Injected delays at scheduling hooks, per mille (free-running). */
  injectDelay: number;
  /** Delays at the hooks of the kernel's named race windows only, per mille (free-running; src/sched/hook.ts SITE_WINDOW_MIN); the same with and without bug switches. */
  windowDelay: number;
  /** Copies to user memory that fault and sleep, per mille (src/mm/uaccess.ts); the same with and without bug switches. */
  faultUser: number;
  /** Fork balancing (select_task_rq with WF_FORK, src/sched/core.ts): a new task starts on an idle or the least loaded CPU (default off: on its parent's CPU); the same with and without bug switches. */
  forkBalance: boolean;
  lockdep: boolean;
  /** Bug switches (src/config/bugs.ts names) and planted bugs (busted-spin, busted-rcu: torture; crash: a kernel exception). */
  bugs: string[];
  plant: string[];
  /** Free-running: CPU hotplug every this many ms (0: off). */
  hotplugMs: number;
  /** Free-running: no run tokens, the host may deschedule a CPU that holds a lock (src/sched/run_token.ts). */
  hostPreemption: boolean;
  /** Free-running: run tokens (CPUs running kernel code at once); 0: as many as the host has cores. */
  runTokens: number;
  /** Free-running: host threads running the CPUs (src/sched/mux.ts); 0: the default (RunOptions.threads). */
  threads: number;
  /** Free-running hung-task watchdog bound (ms without progress). */
  hungMs: number;
  /** Controlled: stop at the first violation (shorter failing schedules). */
  stopOnViolation: boolean;
  /** Run the checked build (dist-checked/): every field access checked against its guard, KCSAN sampler free-running. */
  checkGuards?: boolean;
  /** Checked build: one plain access in this many gets a KCSAN watchpoint (default KCSAN_SAMPLE_EVERY of src/machine.ts). */
  kcsanSampleEvery?: number;
  /** Checked build: how long a watchpoint stays out, microseconds (default KCSAN_DELAY_US). */
  kcsanDelayUs?: number;
}

export const PLANTS = ['busted-spin', 'busted-rcu', 'crash'];

/** Is the process model (fork, exit, wait ...) in this kernel build? */
export function kernel_ops_available(): boolean {
  return syscall_fn(SYS_FORK) !== undefined;
}

/** The one mix: every operation (src/stress/ops.ts, with its weight) this build can run. */
export function default_mix(): string[] {
  return OPS.filter((o) => !o.kernel || kernel_ops_available()).map((o) => o.name);
}

export function default_config(over: Partial<StressConfig> = {}): StressConfig {
  const mode = over.mode ?? 'free';
  return {
    cpus: 4,
    mode,
    strategy: 'random',
    pctDepth: 3,
    seed: 1,
    ops: mode === 'controlled' ? 2000 : 0,
    durationMs: 10_000,
    mix: default_mix(),
    maxDepth: 4,
    tasks: 0,
    maxTasks: 256,
    injectEnomem: 0,
    injectDelay: 0,
    windowDelay: WINDOW_DELAY_PERMILLE,
    faultUser: UACCESS_FAULT_PERMILLE,
    forkBalance: false,
    lockdep: false,
    bugs: [],
    plant: [],
    hotplugMs: 0,
    hostPreemption: false,
    runTokens: 0,
    threads: 0,
    hungMs: 10_000,
    stopOnViolation: false,
    ...over,
  };
}

/** Check a config; throws a RangeError whose message is fit for a usage error. */
export function validate_config(c: StressConfig): void {
  const int = (v: number, lo: number, hi: number, what: string): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${what} must be an integer in ${lo}..${hi} (got ${v})`);
  };
  int(c.cpus, 1, NR_CPUS, '--cpus');
  int(c.ops, 0, 2 ** 31 - 1, '--ops');
  int(c.durationMs, 1, 7 * 24 * 3600 * 1000, '--duration');
  int(c.maxDepth, 0, 32, '--max-depth');
  int(c.tasks, 0, 4096, '--tasks');
  int(c.maxTasks, 1, 100_000, '--max-tasks');
  int(c.injectEnomem, 0, 1000, '--inject-enomem (per mille)');
  int(c.injectDelay, 0, 1000, '--inject-delay (per mille)');
  int(c.windowDelay, 0, 1000, '--window-delay (per mille)');
  int(c.faultUser, 0, 1000, '--fault-user (per mille)');
  int(c.pctDepth, 1, 9, '--pct-depth');
  int(c.hotplugMs, 0, 3_600_000, '--hotplug');
  int(c.runTokens, 0, 64, 'runTokens');
  int(c.threads, 0, NR_CPUS, '--threads');
  int(c.hungMs, 10, 3_600_000, '--hung');
  if (!Number.isInteger(c.seed) || c.seed < 0 || c.seed > 0xffffffff) throw new RangeError(`--seed must be an integer in 0..4294967295 (got ${c.seed})`);
  if (c.mode !== 'free' && c.mode !== 'controlled') throw new RangeError(`--mode must be free or controlled (got ${c.mode})`);
  if (c.strategy !== 'random' && c.strategy !== 'pct') throw new RangeError(`--strategy must be random or pct (got ${c.strategy})`);
  if (!c.mix.length) throw new RangeError('--mix is empty');
  check_mix(c.mix);
  const kernelOps = c.mix.filter((n) => OPS[OP_IDS[n]!]!.kernel);
  if (kernelOps.length && !kernel_ops_available()) {
    throw new RangeError(`--mix: ${kernelOps.join(', ')} need the process model (fork/exit/wait), which this build does not have yet`);
  }
  for (const b of c.bugs) if (!(b in BUG_NAMES)) throw new RangeError(`--bug ${b}: unknown (known: ${Object.keys(BUG_NAMES).join(', ')})`);
  for (const p of c.plant) if (!PLANTS.includes(p)) throw new RangeError(`--plant ${p}: unknown (known: ${PLANTS.join(', ')})`);
  if (c.mode === 'controlled' && c.ops === 0) throw new RangeError('controlled mode runs an operation budget: give --ops N');
}

/** Does the mix need processes (fork ...), or is it the torture mix on kernel threads? */
export function uses_processes(c: StressConfig): boolean {
  return c.mix.some((n) => OPS[OP_IDS[n]!]!.kernel);
}

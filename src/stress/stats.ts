/**
 * Periodic statistics of a stress run, like rcutorture's and locktorture's: operations and errnos
 * per call, live tasks and namespaces, the depth reached, grace periods and callbacks, per lock
 * class acquisitions / contention / wait time (the Float64 stats buffer), per-CPU balance. Read
 * from shared memory by the main thread; printed as a progress line on a terminal, NDJSON
 * otherwise.
 */
import {
  CPU, G, MAX_LOCK_CLASSES, SRCU_GP_SEQ, STRESS_DEPTH_SEEN, STRESS_NS_SEEN,
  STRESS_OPS_DONE, STRESS_TABLE,
} from '../mm/layout.js';
import { cpu_addr, kg, regions, STAT_ACQ, STAT_CONTENDED, STAT_WAIT_NS, STAT_WORDS } from '../mm/memory.js';
import { slab_usage } from '../mm/slab.js';
import { rcu_callbacks_queued, rcu_gps_completed } from '../rcu/rcu.js';
import { errno_name } from '../kernel/errno.js';
import { lock_class_name } from '../locking/lockdep.js';
import { OPS, RES_BUCKETS, RES_SKIPPED } from './ops.js';
import type { Machine } from '../machine.js';

export interface OpStats { ok: number; errors: Record<string, number>; skipped: number }
export interface LockClassStats { class: string; acquisitions: number; contended: number; wait_ms: number }
export interface CpuStats { cpu: number; syscalls: number; switches: number; online: number; hotplugs: number; token_yields: number }

export interface StatsSample {
  t_ms: number;
  ops: number;
  ops_per_s: number;
  per_op: Record<string, OpStats>;
  tasks: number;
  forks: number;
  namespaces: number;
  depth: number;
  namespaces_created: number;
  rcu_gps: number;
  rcu_callbacks_pending: number;
  srcu_gps: number;
  violations: number;
  locks: LockClassStats[];
  cpus: CpuStats[];
  /** max/min syscalls over online CPUs (1 = perfectly even). */
  cpu_imbalance: number;
  cpu_balance_flag: boolean;
  /**
   * Fairness since the previous sample (a window of statsEveryMs): the least syscalls any CPU that
   * was online through the window completed, as a share of the mean per such CPU (1 = even;
   * the target is at least 0.5). -1 before there is a window with work in it.
   */
  window_min_share: number;
  /** The least window_min_share of the run so far. */
  min_window_share: number;
  /** Run tokens in use this run (0: off; src/sched/run_token.ts). */
  run_tokens: number;
  /** Host threads running several CPUs each (src/sched/mux.ts); 0: a thread per CPU. */
  host_threads: number;
  /** How long a rwlock waiter spins before it naps, µs (src/locking/qrwlock.ts); 0: it naps after its first looks. */
  rwlock_spin_us: number;
  decisions?: number;
  slabs: Record<string, { in_use: number; high_water: number }>;
}

export function sample_stats(m: Machine, tMs: number, prev?: StatsSample): StatsSample {
  m.attach();
  const w = m.mem;
  const stats = new Float64Array(m.shared.stats);
  const table = w[kg + G.stress + STRESS_TABLE]!;
  const per_op: Record<string, OpStats> = {};
  if (table) {
    OPS.forEach((o, i) => {
      const row = table + i * RES_BUCKETS;
      const ok = w[row]!;
      const skipped = w[row + RES_SKIPPED]!;
      const errors: Record<string, number> = {};
      let any = ok + skipped;
      for (let e = 1; e < RES_SKIPPED; e++) {
        const n = w[row + e]!;
        if (n) { errors[errno_name(e)] = n; any += n; }
      }
      if (any) per_op[o.name] = { ok, errors, skipped };
    });
  }
  const n = m.config.ncpus;
  const locks: LockClassStats[] = [];
  for (let c = 1; c < MAX_LOCK_CLASSES; c++) {
    let acq = 0, cont = 0, wait = 0;
    for (let i = 0; i < n; i++) {
      const b = (i * MAX_LOCK_CLASSES + c) * STAT_WORDS;
      acq += stats[b + STAT_ACQ]!;
      cont += stats[b + STAT_CONTENDED]!;
      wait += stats[b + STAT_WAIT_NS]!;
    }
    if (acq) locks.push({ class: lock_class_name(c), acquisitions: acq, contended: cont, wait_ms: Math.round(wait / 1e4) / 100 });
  }
  const cpus: CpuStats[] = [];
  for (let i = 0; i < n; i++) {
    const c = cpu_addr(i);
    cpus.push({ cpu: i, syscalls: w[c + CPU.syscalls]!, switches: w[c + CPU.switches]!, online: w[c + CPU.online]!, hotplugs: w[c + CPU.hotplugs]!, token_yields: w[c + CPU.tok_yields]! });
  }
  // Fairness over the window since the previous sample: CPUs online at both ends, not hotplugged.
  let window_min_share = -1;
  if (prev && prev.cpus.length === n) {
    const d: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = prev.cpus[i]!, b = cpus[i]!;
      if (a.online === 1 && b.online === 1 && a.hotplugs === b.hotplugs) d.push(b.syscalls - a.syscalls);
    }
    const sum = d.reduce((x, y) => x + y, 0);
    // Judge only windows with real work (>= 100 syscalls per CPU): the start and the wind-down are not.
    if (d.length > 1 && sum >= 100 * d.length) window_min_share = Math.round((100 * Math.min(...d) * d.length) / sum) / 100;
  }
  const prevMin = prev?.min_window_share ?? -1;
  const min_window_share = window_min_share < 0 ? prevMin : prevMin < 0 ? window_min_share : Math.min(prevMin, window_min_share);
  const sys = cpus.map((c) => c.syscalls);
  const total = sys.reduce((a, b) => a + b, 0);
  const min = Math.min(...sys);
  const max = Math.max(...sys);
  const imbalance = total === 0 ? 1 : min === 0 ? Infinity : max / min;
  const ops = w[kg + G.stress + STRESS_OPS_DONE]!;
  const slabs: Record<string, { in_use: number; high_water: number }> = {};
  for (const s of slab_usage(w, m.view().r)) slabs[s.name] = { in_use: s.in_use, high_water: s.high_water };
  const dt = prev ? (tMs - prev.t_ms) / 1000 : tMs / 1000;
  return {
    t_ms: Math.round(tMs),
    ops,
    ops_per_s: dt > 0 ? Math.round((ops - (prev?.ops ?? 0)) / dt) : 0,
    per_op,
    tasks: Atomics.load(w, kg + G.nr_threads),
    forks: w[kg + G.total_forks]!,
    namespaces: slabs['pid_namespace']?.in_use ?? 0,
    depth: w[kg + G.stress + STRESS_DEPTH_SEEN]!,
    namespaces_created: w[kg + G.stress + STRESS_NS_SEEN]!,
    rcu_gps: rcu_gps_completed(w, kg),
    rcu_callbacks_pending: rcu_callbacks_queued(w, regions.cpus),
    srcu_gps: w[kg + G.srcu_exit + SRCU_GP_SEQ]!,
    violations: Atomics.load(w, kg + G.violations),
    locks,
    cpus,
    cpu_imbalance: Number.isFinite(imbalance) ? Math.round(imbalance * 100) / 100 : -1,
    // Flag an uneven spread once there is enough work to judge (rcutorture prints per-CPU counts).
    cpu_balance_flag: total > 1000 * n && (imbalance > 4 || !Number.isFinite(imbalance)),
    window_min_share,
    min_window_share,
    run_tokens: w[kg + G.run_tokens]!,
    host_threads: host_threads_of(w, n),
    rwlock_spin_us: w[kg + G.rwlock_spin_us]!,
    decisions: w[kg + G.mode] === 1 ? w[kg + G.ctl_decisions]! : undefined,
    slabs,
  };
}

/** The one-line progress display for a terminal. */
export function progress_line(s: StatsSample): string {
  const errs = Object.values(s.per_op).reduce((a, o) => a + Object.values(o.errors).reduce((x, y) => x + y, 0), 0);
  return `[${(s.t_ms / 1000).toFixed(1).padStart(6)}s] ops ${s.ops} (${s.ops_per_s}/s) errs ${errs} tasks ${s.tasks} ns ${s.namespaces} depth ${s.depth} ` +
    `gp ${s.rcu_gps} cbs ${s.rcu_callbacks_pending} viol ${s.violations}${s.cpu_balance_flag ? ' CPU-IMBALANCE' : ''}` +
    (s.decisions !== undefined ? ` dec ${s.decisions}` : '');
}

/** Threads hosting several CPUs (src/sched/mux.ts): CPUs that are their thread's lead, plus CPUs alone on one. */
function host_threads_of(w: Int32Array, n: number): number {
  let leads = 0;
  let hosted = 0;
  for (let i = 0; i < n; i++) {
    const l = w[cpu_addr(i) + CPU.mux_lead]!;
    if (l !== 0) hosted++;
    if (l === i + 1) leads++;
  }
  return hosted === 0 ? 0 : leads + (n - hosted);
}

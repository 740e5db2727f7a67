/**
 * The stall detectors, read from the model's state (a live view or a frozen snapshot):
 * - the RCU CPU stall warning (kernel/rcu/tree_stall.h): a grace period has been running for at
 *   least the bound and an online, non-idle CPU has not reported a quiescent state for it
 *   ("rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:");
 * - the soft-lockup watchdog (kernel/watchdog.c): a CPU has run the same task without a context
 *   switch for at least the bound ("watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [comm:pid]").
 * The clock is stall_clock (src/sched/hook.ts): scheduling hooks passed in controlled mode (a
 * livelocked CPU keeps passing them), milliseconds free-running. A run that ends cut by the
 * decision bound (controlled) or by the no-progress watchdog (free) is a stall when this finds one.
 */
import { CPU, G, RCU_GP_SEQ, RCU_GP_STAMP, RCU_GP_STARTED } from '../mm/layout.js';
import { MODE_CONTROLLED } from '../sched/hook.js';
import { task_info, type StateView } from './waitfor.js';

/** Default bound in controlled mode: scheduling hooks (G.ctl_hooks) without the awaited progress. */
export const STALL_HOOKS = 20_000;
/** Default bound free-running, in milliseconds. */
export const STALL_MS = 1_000;

export interface StallReport {
  /** CPUs holding up the running grace period past the bound. */
  rcuStalled: number[];
  /** CPUs stuck on one task past the bound. */
  softLockup: number[];
  /** Kernel-style lines (empty when nothing stalls). */
  lines: string[];
}

/** The stall report of a state; `bound` in the run's stall clock (decisions or ms). */
export function stall_report(v: StateView, bound?: number, nowArg?: number): StallReport {
  const m = v.m;
  const controlled = m[v.kg + G.mode] === MODE_CONTROLLED;
  const b = bound ?? (controlled ? STALL_HOOKS : STALL_MS);
  const now = nowArg ?? (controlled ? m[v.kg + G.ctl_hooks]! : Date.now() & 0x7fffffff);
  const unit = controlled ? 'hooks' : 'ms';
  const age = (t: number): number => (controlled ? now - t : (now - t + 0x80000000) % 0x80000000);
  const n = m[v.kg + G.ncpus]!;
  const cpu = (i: number): number => v.r.cpus.base + i * v.r.cpus.stride;
  const started = m[v.kg + G.rcu + RCU_GP_STARTED]!;
  const done = m[v.kg + G.rcu + RCU_GP_SEQ]!;
  const gpAge = started > done ? age(m[v.kg + G.rcu + RCU_GP_STAMP]!) : 0;
  const rcuStalled: number[] = [];
  const softLockup: number[] = [];
  const who = (i: number): string => {
    const t = m[cpu(i) + CPU.curr]!;
    if (!t) return 'idle';
    const ti = task_info(v, t);
    return `${ti.name}:${ti.pid > 0 ? ti.pid : `t${ti.id}`}`;
  };
  for (let i = 0; i < n; i++) {
    const c = cpu(i);
    if (m[c + CPU.online] !== 1 || m[c + CPU.idle] === 1) continue;
    if (started > done && gpAge >= b && m[c + CPU.rcu_qs_gp]! < started) rcuStalled.push(i);
    if (m[c + CPU.curr] !== 0 && age(m[c + CPU.switch_stamp]!) >= b) softLockup.push(i);
  }
  const lines: string[] = [];
  for (const i of softLockup) {
    lines.push(`watchdog: BUG: soft lockup - CPU#${i} stuck for ${age(m[cpu(i) + CPU.switch_stamp]!)} ${unit}! [${who(i)}]`);
  }
  if (rcuStalled.length) {
    lines.push('rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:');
    for (const i of rcuStalled) {
      const c = cpu(i);
      lines.push(`rcu: \t${i}-....: (${started - m[c + CPU.rcu_qs_gp]!} GPs behind) last quiescent state ${age(m[c + CPU.qs_stamp]!)} ${unit} ago, running ${who(i)}${m[c + CPU.rcu_nesting]! > 0 ? ', in an RCU read-side section' : ''}`);
    }
    lines.push(`rcu: \t(t=${gpAge} ${unit}, g=${started}, completed ${done})`);
  }
  return { rcuStalled, softLockup, lines };
}

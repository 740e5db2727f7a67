/**
 * Kernel-style text for what the lock validator and the atomic-sleep check recorded in the
 * violation log (kernel/locking/lockdep.c print_circular_bug, print_deadlock_bug;
 * kernel/sched/core.c __might_resched). Reads only the log, the order matrix and the task records.
 */
import { MX_CLASS } from '../mm/layout.js';
import { decode_path, lock_class_name, lockdep_edge_info } from '../locking/lockdep.js';
import {
  V_LOCKDEP_CYCLE, V_LOCKDEP_IRQ_INVERSION, V_RECURSIVE_LOCK, V_SLEEP_IN_ATOMIC, type Violation,
} from '../locking/violations.js';
import { HELD_MODE_NAMES, hex, task_info, type StateView } from './waitfor.js';

const RULE_54 = '======================================================';
const DASH_54 = '------------------------------------------------------';

/** lockdep's usage string, approximately: {+.+.} for exclusive, {++++} for readers. */
function usage(mode: number): string {
  return mode === 2 || mode === 4 ? '{++++}' : '{+.+.}';
}
/** lockdep's wait-type pair: {2:2} spinning, {3:3} rwlock, {4:4} sleeping. */
function wait_type(mode: number): string {
  return mode === 5 ? '{4:4}' : mode === 1 ? '{2:2}' : '{3:3}';
}

export function who(v: StateView, t: number): string {
  if (!t) return 'swapper';
  const i = task_info(v, t);
  return `${i.name}/${i.pid > 0 ? i.pid : `t${i.id}`}`;
}

export interface LockdepFinding {
  kind: 'circular' | 'recursive' | 'sleep-in-atomic' | 'irq-inversion';
  text: string;
  json: Record<string, unknown>;
}

/** One finding per violation record the validator wrote (duplicates of the same pair folded). */
export function lockdep_findings(v: StateView, violations: Violation[]): LockdepFinding[] {
  const out: LockdepFinding[] = [];
  const seen = new Set<string>();
  for (const x of violations) {
    if (x.kind === V_LOCKDEP_CYCLE) {
      const key = `c${x.a & 0xff}-${x.b & 0xff}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(circular(v, x));
    } else if (x.kind === V_RECURSIVE_LOCK) {
      const key = `r${x.a}-${x.c}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(recursive(v, x));
    } else if (x.kind === V_SLEEP_IN_ATOMIC) {
      const key = `s${x.a}-${x.b}-${x.c}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(sleep_in_atomic(v, x));
    } else if (x.kind === V_LOCKDEP_IRQ_INVERSION) {
      const key = `i${x.a}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const cls = lock_class_name(x.a);
      out.push({
        kind: 'irq-inversion',
        text: [RULE_54, 'WARNING: inconsistent lock state', DASH_54,
          `inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage.`,
          `${who(v, x.task)} on CPU ${x.cpu} takes (${cls}) in interrupt context; it is also taken with interrupts enabled.`,
          '', ' Possible unsafe locking scenario:', '', '       CPU0', '       ----', `  lock(${cls});`, '  <Interrupt>', `    lock(${cls});`, '', ' *** DEADLOCK ***', ''].join('\n'),
        json: { kind: 'irq-inversion', class: cls, cpu: x.cpu, task: x.task ? task_info(v, x.task) : null },
      });
    }
  }
  return out;
}

function circular(v: StateView, x: Violation): LockdepFinding {
  const heldCls = x.a & 0xff;
  const heldMode = (x.a >>> 8) & 0xff;
  const newCls = x.b & 0xff;
  const newMode = (x.b >>> 8) & 0xff;
  const site = (x.b >>> 16) & 0xffff;
  const cycle = decode_path(x.c); // [held, new, ...]: held -> new -> ... -> held
  const names = cycle.map(lock_class_name);
  const H = lock_class_name(heldCls);
  const N = lock_class_name(newCls);
  const base = v.r.lockdep.base;
  const lines = [
    '', RULE_54, 'WARNING: possible circular locking dependency detected', 'pidrace (model) Not tainted', DASH_54,
    `${who(v, x.task)} is trying to acquire lock:`,
    `(${N})${usage(newMode)}-${wait_type(newMode)}, at: site ${site} (${HELD_MODE_NAMES[newMode] ?? '?'})`,
    '', 'but task is already holding lock:',
    `(${H})${usage(heldMode)}-${wait_type(heldMode)} (${HELD_MODE_NAMES[heldMode] ?? '?'})`,
    '', 'which lock already depends on the new lock.', '', '',
    'the existing dependency chain (in reverse order) is:',
  ];
  // The existing path new -> ... -> held, printed from held back to new as lockdep does.
  const path = cycle.slice(1).concat([heldCls]);
  const chain: Array<Record<string, unknown>> = [];
  for (let i = path.length - 1; i >= 1; i--) {
    const from = path[i - 1]!;
    const to = path[i]!;
    const info = lockdep_edge_info(v.m, base, from, to);
    lines.push('', `-> #${i} (${lock_class_name(to)}):`,
      `       taken while holding ${lock_class_name(from)}${info ? ` on CPU ${info.cpu} at site ${info.site} (-(${info.types.join('/')})->)` : ''}`);
    chain.push({ from: lock_class_name(from), to: lock_class_name(to), types: info?.types ?? [], site: info?.site ?? 0, cpu: info?.cpu ?? -1 });
  }
  lines.push('', `-> #0 (${N}):`, `       taken now while holding ${H} on CPU ${x.cpu} at site ${site}`);
  lines.push('', 'other info that might help us debug this:', '');
  if (cycle.length > 2) lines.push('Chain exists of:', `  ${[...names.slice(1), names[0]!].join(' --> ')} --> ${N}`, '');
  const a = cycle.length > 2 ? lock_class_name(cycle[cycle.length - 1]!) : N;
  lines.push(' Possible unsafe locking scenario:', '',
    '       CPU0                    CPU1', '       ----                    ----',
    `  lock(${H});`,
    `                               lock(${a});`,
    `                               lock(${H});`,
    `  lock(${N});`, '', ' *** DEADLOCK ***', '');
  return {
    kind: 'circular',
    text: lines.join('\n'),
    json: {
      kind: 'circular', held: H, acquiring: N, heldMode: HELD_MODE_NAMES[heldMode], acquiringMode: HELD_MODE_NAMES[newMode],
      site, cpu: x.cpu, task: x.task ? task_info(v, x.task) : null, cycle: names, chain,
    },
  };
}

function recursive(v: StateView, x: Violation): LockdepFinding {
  let cls: string;
  let detail: Record<string, unknown>;
  if (x.c === 0) {
    // mutex.ts: a = the mutex, b = the task that already owns it.
    cls = lock_class_name(v.m[x.a + MX_CLASS]!);
    detail = { lock: hex(x.a) };
  } else {
    cls = lock_class_name(x.a & 0xff);
    detail = { heldMode: HELD_MODE_NAMES[(x.a >>> 8) & 0xff], acquiringMode: HELD_MODE_NAMES[(x.b >>> 8) & 0xff], site: (x.b >>> 16) & 0xffff };
  }
  const t = x.task || (x.c === 0 ? x.b : 0);
  return {
    kind: 'recursive',
    text: ['', '============================================', 'WARNING: possible recursive locking detected', '--------------------------------------------',
      `${who(v, t)} is trying to acquire lock:`, ` (${cls}), on CPU ${x.cpu}`, '', 'but task is already holding lock:', ` (${cls})`, '',
      ' Possible unsafe locking scenario:', '', '       CPU0', '       ----', `  lock(${cls});`, `  lock(${cls});`, '', ' *** DEADLOCK ***', '',
      ' May be due to missing lock nesting notation', ''].join('\n'),
    json: { kind: 'recursive', class: cls, cpu: x.cpu, task: t ? task_info(v, t) : null, ...detail },
  };
}

function sleep_in_atomic(v: StateView, x: Violation): LockdepFinding {
  const t = x.c || x.task;
  const i = t ? task_info(v, t) : undefined;
  return {
    kind: 'sleep-in-atomic',
    text: ['', `BUG: sleeping function called from invalid context${i?.syscall ? ` in ${i.syscall}` : ''}`,
      `in_atomic(): ${x.a > 0 ? 1 : 0}, irqs_disabled(): 0, non_block: 0, pid: ${i?.pid ?? 0}, name: ${i?.name ?? 'swapper'}`,
      `preempt_count: ${x.a}, expected: 0`, `RCU nest depth: ${x.b}, expected: 0`, `CPU: ${x.cpu}`, ''].join('\n'),
    json: { kind: 'sleep-in-atomic', preempt_count: x.a, rcu_nesting: x.b, cpu: x.cpu, task: i ?? null },
  };
}

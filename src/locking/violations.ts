/**
 * The violation log: invariant failures and validator reports recorded by any CPU, in shared
 * memory, so the main thread's report reads the model's own findings (one VIOLATION record each,
 * src/mm/layout.ts).
 */
import { CPU, G, VIOLATION } from '../mm/layout.js';
import { kg, mem, regions, this_cpu, this_cpu_id } from '../mm/memory.js';
import { tracing, trace_event, TR_VIOLATION } from '../tracing/trace.js';

/** Words per record: kind, a, b, c, cpu, task (the task the CPU was running, 0 if none). */
export const V_WORDS = VIOLATION.SIZE;
/** lockdep: possible circular locking dependency (a = held class, b = new class, c = packed path). */
export const V_LOCKDEP_CYCLE = 1;
/** lockdep: held-lock stack overflow. */
export const V_LOCKDEP_DEPTH = 2;
/** lockdep: a lock taken in interrupt context that is also taken with interrupts enabled. */
export const V_LOCKDEP_IRQ_INVERSION = 3;
/** BUG: sleeping function called from invalid context (a = preempt_count, b = rcu nesting). */
export const V_SLEEP_IN_ATOMIC = 4;
/** An RCU reader dereferenced an object already freed (a = object, b = retire gp, c = reader gp). */
export const V_RCU_USE_AFTER_FREE = 5;
/** Mutual exclusion broken (a = lock, b = expected, c = seen). */
export const V_MUTUAL_EXCLUSION = 6;
/** A lock still held on return to user mode (a = lock, b = task). */
export const V_LOCK_HELD_USER = 7;
/** Unlock of a lock not held by this CPU/task. */
export const V_BAD_UNLOCK = 8;
/** Kernel invariant broken (a = INV_* code, b, c = objects). */
export const V_INVARIANT = 9;
/** recursive locking: a task took a mutex it already holds, or (lockdep) a lock of a class it holds. */
export const V_RECURSIVE_LOCK = 10;
/** Guard check (--check-guards): a field accessed without the lock its guard names (a = object, b = site, c = report + 1). */
export const V_GUARD_LOCK = 11;
/** Guard check: an RCU-protected field read outside rcu_read_lock and without its update lock ("suspicious RCU usage"). */
export const V_GUARD_RCU = 12;
/** Guard check: a field of a freed (poisoned) object read or written (a = object, b = site, c = report + 1). */
export const V_GUARD_USE_AFTER_FREE = 13;
/** KCSAN-style sampler: two CPUs accessed one word at once, one of them a plain write (c = report + 1). */
export const V_KCSAN_RACE = 14;
/**
 * A task went to sleep with nothing left that can wake it but a signal: a hung task from the
 * start (a = the task, b = its wait channel, c = what it checked: for do_wait, the children and
 * tracees of its group it found). The wait-for graph's "blocked, no waker", found at the moment
 * the task commits to the sleep instead of when the whole machine stops; a report, not a
 * violation of an invariant: the run's outcome is a hang (src/detect/outcome.ts).
 */
export const V_HUNG_TASK = 15;
/**
 * A task went to sleep past the event it waits for: its scan looked at the event and did not
 * report it, and nothing will tell it again (a lost wake-up; a = the task, b = its wait channel,
 * c = the task whose event it passed over). A hang from the start, as V_HUNG_TASK.
 */
export const V_LOST_WAKEUP = 16;

/** Reports whose first occurrence makes a run's outcome a hang (src/detect/outcome.ts). */
export function is_hang_report(kind: number): boolean {
  return kind === V_HUNG_TASK || kind === V_LOST_WAKEUP;
}

export const VIOLATION_NAMES: Record<number, string> = {
  [V_LOCKDEP_CYCLE]: 'possible circular locking dependency',
  [V_LOCKDEP_DEPTH]: 'held lock stack overflow',
  [V_LOCKDEP_IRQ_INVERSION]: 'inconsistent lock state (irq)',
  [V_SLEEP_IN_ATOMIC]: 'sleeping function called from invalid context',
  [V_RCU_USE_AFTER_FREE]: 'RCU reader saw a freed object',
  [V_MUTUAL_EXCLUSION]: 'mutual exclusion violated',
  [V_LOCK_HELD_USER]: 'lock held when returning to user space',
  [V_BAD_UNLOCK]: 'bad unlock balance',
  [V_INVARIANT]: 'kernel invariant violated',
  [V_RECURSIVE_LOCK]: 'possible recursive locking',
  [V_GUARD_LOCK]: 'field accessed without its lock',
  [V_GUARD_RCU]: 'suspicious RCU usage',
  [V_GUARD_USE_AFTER_FREE]: 'use-after-free of a poisoned object',
  [V_KCSAN_RACE]: 'data race',
  [V_HUNG_TASK]: 'task blocked with nothing left to wake it (hung task)',
  [V_LOST_WAKEUP]: 'task went to sleep past the event it waits for (lost wake-up)',
};

/** Record a violation; never throws, drops records past the log's capacity (the count goes on). */
export function record_violation(kind: number, a: number, b: number, c: number): void {
  if (tracing) trace_event(TR_VIOLATION, kind, a, b);
  const n = Atomics.add(mem, kg + G.violations, 1);
  const r = regions.violations;
  const at = n * V_WORDS;
  if (at + V_WORDS > r.words) return;
  const p = r.base + at;
  mem[p + VIOLATION.a] = a;
  mem[p + VIOLATION.b] = b;
  mem[p + VIOLATION.c] = c;
  mem[p + VIOLATION.cpu] = this_cpu_id;
  mem[p + VIOLATION.task] = this_cpu ? mem[this_cpu + CPU.curr]! : 0;
  Atomics.store(mem, p + VIOLATION.kind, kind); // publish last: readers skip records whose kind is still 0
}

export interface Violation { kind: number; name: string; a: number; b: number; c: number; cpu: number; task: number }

export function read_violations(m: Int32Array, base: number, words: number, count: number): Violation[] {
  const out: Violation[] = [];
  for (let i = 0; i < count && (i + 1) * V_WORDS <= words; i++) {
    const p = base + i * V_WORDS;
    const kind = Atomics.load(m, p + VIOLATION.kind);
    if (!kind) continue;
    out.push({
      kind, name: VIOLATION_NAMES[kind] ?? `violation ${kind}`, a: m[p + VIOLATION.a]!, b: m[p + VIOLATION.b]!,
      c: m[p + VIOLATION.c]!, cpu: m[p + VIOLATION.cpu]!, task: m[p + VIOLATION.task]!,
    });
  }
  return out;
}

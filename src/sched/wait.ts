/**
 * wait_queue_head_t (kernel/sched/wait.c): a spinlock and a FIFO list of sleeping tasks linked
 * through TASK.wq_next. A task is on at most one wait queue at a time (TASK.wq_head says which).
 *
 * prepare_to_wait is idempotent so a restarted sleeping call can run it again; the waker takes the
 * task off the queue before waking it (autoremove_wake_function), and finish_wait removes a task
 * that was woken by something else (a signal).
 */
import { TASK, WQ_FIRST, WQ_LAST, WQ_LOCK } from '../mm/layout.js';
import { mem } from '../mm/memory.js';
import { LC_WAITQ } from '../locking/lockdep.js';
import { spin_lock, spin_lock_init, spin_unlock } from '../locking/spinlock.js';
import { current, set_current_state, set_running, try_to_wake_up, TASK_NORMAL } from './core.js';

export function init_waitqueue_head(wq: number, cls = LC_WAITQ): void {
  spin_lock_init(wq + WQ_LOCK, cls);
  mem[wq + WQ_FIRST] = 0;
  mem[wq + WQ_LAST] = 0;
}

function wq_append(wq: number, t: number): void {
  const m = mem;
  m[t + TASK.wq_next] = 0;
  const last = m[wq + WQ_LAST]!;
  if (last) m[last + TASK.wq_next] = t;
  // The first waiter is published with a sequentially consistent store: waitqueue_active's
  // lockless look pairs with it.
  else Atomics.store(m, wq + WQ_FIRST, t);
  m[wq + WQ_LAST] = t;
  m[t + TASK.wq_head] = wq;
}

/**
 * __add_wait_queue_entry_tail: queue t at the tail; the caller holds wq's lock (a waiter that
 * must test a condition under the same lock as its waker, as percpu_rwsem_wait does).
 */
export function __add_wait_queue_entry_tail(wq: number, t: number): void {
  wq_append(wq, t);
}

/**
 * waitqueue_active (include/linux/wait.h) without the lock: is anyone queued? Only for a waker
 * whose wait condition was set with a sequentially consistent atomic before the call (so either
 * the waker sees the waiter's Atomics.store of WQ_FIRST, or the waiter, which tests the condition
 * after queueing, sees the condition). A stale "yes" only costs the locked wake_up.
 */
export function waitqueue_active(wq: number): boolean {
  return Atomics.load(mem, wq + WQ_FIRST) !== 0;
}

/** Unlink t from wq; caller holds the wq lock. */
function wq_unlink(wq: number, t: number): void {
  let prev = 0;
  let x = mem[wq + WQ_FIRST]!;
  while (x && x !== t) { prev = x; x = mem[x + TASK.wq_next]!; }
  if (!x) return;
  const n = mem[t + TASK.wq_next]!;
  if (prev) mem[prev + TASK.wq_next] = n;
  else mem[wq + WQ_FIRST] = n;
  if (mem[wq + WQ_LAST] === t) mem[wq + WQ_LAST] = prev;
  mem[t + TASK.wq_next] = 0;
  // list_del_init_careful(): the release store the sleeper's lockless finish_wait() check pairs with.
  Atomics.store(mem, t + TASK.wq_head, 0);
}

/**
 * prepare_to_wait: queue current (once) and set its sleeping state; the caller then tests its
 * condition and either calls finish_wait or returns SLEEP.
 */
export function prepare_to_wait(wq: number, state: number, wchan: number, obj: number, arg: number): void {
  const t = current;
  spin_lock(wq + WQ_LOCK);
  if (mem[t + TASK.wq_head] !== wq) wq_append(wq, t);
  mem[t + TASK.wq_arg] = arg;
  set_current_state(state, wchan, obj);
  spin_unlock(wq + WQ_LOCK);
}

/** finish_wait: back to TASK_RUNNING and off the queue if a waker did not take us off. */
export function finish_wait(wq: number): void {
  const t = current;
  set_running();
  // The kernel's lockless list_empty_careful() of its own entry (an acquire load of ->next): only
  // our own append writes wq here, and a waker that unlinks us stores 0 under the lock (wq_unlink:
  // list_del_init_careful's release store, which this load pairs with); a stale wq is re-checked
  // under the lock, and 0 means we were really unlinked.
  if (Atomics.load(mem, t + TASK.wq_head) === wq) {
    spin_lock(wq + WQ_LOCK);
    if (mem[t + TASK.wq_head] === wq) wq_unlink(wq, t);
    spin_unlock(wq + WQ_LOCK);
  }
}

/** Remove any task (not only current) from the queue it is on: used when a sleeper is killed. */
export function remove_from_waitqueue(t: number): void {
  const wq = mem[t + TASK.wq_head]!;
  if (!wq) return;
  spin_lock(wq + WQ_LOCK);
  if (mem[t + TASK.wq_head] === wq) wq_unlink(wq, t);
  spin_unlock(wq + WQ_LOCK);
}

/**
 * Tasks taken off a queue wait here between the unlock and their try_to_wake_up (a stack shared by
 * nested calls, so a wake-up allocates nothing).
 */
let wake_stack = new Int32Array(64);
let wake_sp = 0;

/** Filters of __wake_up_common without a closure: every waiter, or those whose wq_arg <= arg. */
const WAKE_ALL = 0;
const WAKE_ARG_LE = 1;
const WAKE_PRED = 2;

function __wake_up_common(wq: number, nr: number, how: number, arg: number, pred: ((t: number, arg: number) => boolean) | undefined): number {
  // No lockless waitqueue_active() shortcut: taking the lock orders the caller's condition
  // store before our look at the list, pairing with prepare_to_wait's locked append.
  const base = wake_sp;
  let n = 0;
  spin_lock(wq + WQ_LOCK);
  const m = mem;
  let x = m[wq + WQ_FIRST]!;
  while (x) {
    const next = m[x + TASK.wq_next]!;
    const a = m[x + TASK.wq_arg]!;
    if (how === WAKE_ALL || (how === WAKE_ARG_LE ? a <= arg : pred!(x, a))) {
      wq_unlink(wq, x);
      if (base + n >= wake_stack.length) {
        const bigger = new Int32Array(wake_stack.length * 2);
        bigger.set(wake_stack);
        wake_stack = bigger;
      }
      wake_stack[base + n] = x;
      n++;
      if (nr && n >= nr) break;
    }
    x = next;
  }
  wake_sp = base + n;
  spin_unlock(wq + WQ_LOCK);
  try {
    for (let i = 0; i < n; i++) try_to_wake_up(wake_stack[base + i]!, TASK_NORMAL);
  } finally {
    wake_sp = base;
  }
  return n;
}

/**
 * __wake_up: wake the waiters for which `pred(task, wq_arg)` holds (all when pred is absent),
 * taking them off the queue first; at most `nr` of them (0 = all). Returns how many woke.
 */
export function wake_up(wq: number, nr = 0, pred?: (t: number, arg: number) => boolean): number {
  return __wake_up_common(wq, nr, pred ? WAKE_PRED : WAKE_ALL, 0, pred);
}

/** wake_up for waiters whose wq_arg is <= `arg` (grace-period waiters: no closure per call). */
export function wake_up_arg_le(wq: number, arg: number): number {
  return __wake_up_common(wq, 0, WAKE_ARG_LE, arg, undefined);
}

/** Tasks on a wait queue (for reports; reads without the lock). */
export function waitqueue_tasks(m: Int32Array, wq: number): number[] {
  const out: number[] = [];
  for (let x = m[wq + WQ_FIRST]!, n = 0; x && n < 100000; x = m[x + TASK.wq_next]!, n++) out.push(x);
  return out;
}

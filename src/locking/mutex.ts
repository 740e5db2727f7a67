/**
 * struct mutex (kernel/locking/mutex.c): a sleeping lock owned by a task.
 *
 * Fast path: compareExchange owner 0 -> current. Slow path: under wait_lock the task queues
 * itself FIFO, sets TASK_UNINTERRUPTIBLE and returns SLEEP, so its CPU runs something else.
 * mutex_unlock hands the mutex straight to the first waiter (the kernel's MUTEX_FLAG_HANDOFF
 * behaviour, always on here) and wakes it; the waiter's restarted mutex_lock finds itself owner.
 */
import { MX_CLASS, MX_NWAIT, MX_OWNER, MX_WAIT_LOCK, MX_WQ_FIRST, TASK, MAX_TASK_HELD } from '../mm/layout.js';
import { mem, STAT_ACQ, STAT_CONTENDED, stats } from '../mm/memory.js';
import { sched_hook } from '../sched/hook.js';
import { current, set_current_state, set_running, SLEEP, TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE, wake_up_process, WCHAN_MUTEX } from '../sched/core.js';
import { tracing, trace_event, trace_event_noclock, TR_LOCK_ACQUIRED, TR_LOCK_CONTENDED, TR_LOCK_RELEASED } from '../tracing/trace.js';
import { HELD_MUTEX, LC_MUTEX_WAIT, lock_acquired_mutex, might_sleep } from './lockdep.js';
import { spin_lock, spin_lock_init, spin_unlock, stat_index } from './spinlock.js';
import { record_violation, V_BAD_UNLOCK, V_RECURSIVE_LOCK } from './violations.js';

export function mutex_init(m: number, cls: number): void {
  mem[m + MX_OWNER] = 0;
  mem[m + MX_CLASS] = cls;
  mem[m + MX_NWAIT] = 0;
  spin_lock_init(m + MX_WAIT_LOCK, LC_MUTEX_WAIT);
  mem[m + MX_WQ_FIRST] = 0;
}

function held_push(t: number, m: number): void {
  if (tracing) trace_event_noclock(TR_LOCK_ACQUIRED, HELD_MUTEX | (mem[m + MX_CLASS]! << 8), m, t);
  const d = mem[t + TASK.held_depth]!;
  if (d < MAX_TASK_HELD) mem[t + TASK.held + d] = m;
  mem[t + TASK.held_depth] = d + 1;
}

function held_pop(t: number, m: number): void {
  if (tracing) trace_event_noclock(TR_LOCK_RELEASED, 0, m, t);
  const d = mem[t + TASK.held_depth]!;
  for (let i = Math.min(d, MAX_TASK_HELD) - 1; i >= 0; i--) {
    if (mem[t + TASK.held + i] === m) {
      const held = t + TASK.held;
      mem.copyWithin(held + i, held + i + 1, held + Math.min(d, MAX_TASK_HELD)); // close the gap
      break;
    }
  }
  mem[t + TASK.held_depth] = d - 1;
}

/** mutex_lock: 0 when current owns it, SLEEP when it queued itself (call again on resume). */
export function mutex_lock(m: number, site = 0): number {
  return __mutex_lock(m, site, TASK_UNINTERRUPTIBLE);
}

/** __mutex_lock_common for a sleep state: TASK_UNINTERRUPTIBLE (mutex_lock) or TASK_INTERRUPTIBLE. */
function __mutex_lock(m: number, site: number, state: number): number {
  const t = current;
  const cls = mem[m + MX_CLASS]!;
  if (mem[t + TASK.wait_chan] === WCHAN_MUTEX && mem[t + TASK.wait_obj] === m) {
    // Resumed after sleeping on m: the unlocker handed it over, or this was a spurious wake.
    // ACQUIRE of the hand-off: pairs with the Atomics.store of MX_OWNER = w in mutex_unlock, so
    // the previous owner's critical-section stores are visible once we read ourselves as owner.
    if (Atomics.load(mem, m + MX_OWNER) === t) {
      set_running();
      held_push(t, m);
      return 0;
    }
    // Spurious wake: state first, then the owner test (set_current_state's store pairs with
    // mutex_unlock's owner store + wake_up_process: either we see the hand-off here, or the
    // waker's try_to_wake_up sees us sleeping and wakes us).
    set_current_state(state, WCHAN_MUTEX, m);
    if (Atomics.load(mem, m + MX_OWNER) === t) { set_running(); held_push(t, m); return 0; }
    return SLEEP;
  }
  might_sleep();
  lock_acquired_mutex(m, cls, site); // lockdep: order check before the lock is taken (or waited for)
  sched_hook(site);
  stats[stat_index(cls) + STAT_ACQ]!++;
  // __mutex_trylock_fast's cmpxchg_acquire: ACQUIRE, pairs with mutex_unlock's Atomics.store of
  // MX_OWNER (0 when nobody waits): the last owner's stores are visible to us.
  if (Atomics.compareExchange(mem, m + MX_OWNER, 0, t) === 0) {
    held_push(t, m);
    return 0;
  }
  // Diagnostic only: only we can have stored t, so this load needs no pairing.
  if (Atomics.load(mem, m + MX_OWNER) === t) record_violation(V_RECURSIVE_LOCK, m, t, 0);
  stats[stat_index(cls) + STAT_CONTENDED]!++;
  spin_lock(m + MX_WAIT_LOCK);
  // Re-try under wait_lock: mutex_unlock decides "no waiter, owner = 0" under the same wait_lock,
  // so either this cmpxchg sees that 0 (and takes it, ACQUIRE as above), or the unlocker will find
  // us on MX_WQ_FIRST (the queue below is plain, guarded by wait_lock) and hand the mutex over.
  if (Atomics.compareExchange(mem, m + MX_OWNER, 0, t) === 0) {
    spin_unlock(m + MX_WAIT_LOCK);
    held_push(t, m);
    return 0;
  }
  // Queue FIFO through the task's wq_next link (a task waits on one thing at a time).
  mem[t + TASK.wq_next] = 0;
  let x = mem[m + MX_WQ_FIRST]!;
  if (!x) mem[m + MX_WQ_FIRST] = t;
  else {
    while (mem[x + TASK.wq_next]) x = mem[x + TASK.wq_next]!;
    mem[x + TASK.wq_next] = t;
  }
  mem[t + TASK.wq_head] = m;
  mem[m + MX_NWAIT]!++;
  if (tracing) trace_event(TR_LOCK_CONTENDED, HELD_MUTEX | (cls << 8), m, t);
  // Sleeping state before wait_lock is released: the unlocker's wake_up_process runs after it
  // took wait_lock (pairs with spin_unlock's release), so it finds us TASK_UNINTERRUPTIBLE.
  set_current_state(state, WCHAN_MUTEX, m);
  spin_unlock(m + MX_WAIT_LOCK);
  return SLEEP;
}

/** mutex_lock_interruptible's result when a signal ended the wait (the kernel's -EINTR). */
export const MUTEX_INTERRUPTED = 1;

/**
 * mutex_lock_interruptible: as mutex_lock, but the sleep is TASK_INTERRUPTIBLE and a pending signal
 * ends it: 0 when current owns the mutex, SLEEP when it queued itself (call again on resume),
 * MUTEX_INTERRUPTED when a signal is pending and the mutex was not handed over. The signal test
 * is signal_pending_state(TASK_INTERRUPTIBLE): TIF_SIGPENDING or TIF_NOTIFY_SIGNAL, read from the
 * task words (the locking layer does not import the kernel's signal code).
 */
export function mutex_lock_interruptible(m: number, site = 0): number {
  const t = current;
  const resumed = mem[t + TASK.wait_chan] === WCHAN_MUTEX && mem[t + TASK.wait_obj] === m;
  if (!resumed && signal_pending_words(t)) return MUTEX_INTERRUPTED;
  const r = __mutex_lock(m, site, TASK_INTERRUPTIBLE);
  if (r !== SLEEP) return r;
  // Queued (or still queued) with TASK_INTERRUPTIBLE set: the signal test comes after the state
  // store, pairing with signal_wake_up's sigpending store before its try_to_wake_up (either we
  // see the signal here, or the sender sees us sleeping and wakes us).
  if (!signal_pending_words(t)) return SLEEP;
  // __mutex_lock_common's signal exit: off the wait list under wait_lock. mutex_unlock hands
  // over under the same wait_lock, so either it already made us owner (take it) or it will not
  // find us any more.
  spin_lock(m + MX_WAIT_LOCK);
  if (Atomics.load(mem, m + MX_OWNER) === t) {
    spin_unlock(m + MX_WAIT_LOCK);
    set_running();
    held_push(t, m);
    return 0;
  }
  let prev = 0;
  let x = mem[m + MX_WQ_FIRST]!;
  while (x && x !== t) { prev = x; x = mem[x + TASK.wq_next]!; }
  if (x) {
    if (prev) mem[prev + TASK.wq_next] = mem[t + TASK.wq_next]!;
    else mem[m + MX_WQ_FIRST] = mem[t + TASK.wq_next]!;
    mem[m + MX_NWAIT]!--;
  }
  mem[t + TASK.wq_next] = 0;
  mem[t + TASK.wq_head] = 0;
  spin_unlock(m + MX_WAIT_LOCK);
  set_running();
  return MUTEX_INTERRUPTED;
}

/** signal_pending(t): TIF_SIGPENDING or TIF_NOTIFY_SIGNAL (src/kernel/signal.ts has the kernel's). */
function signal_pending_words(t: number): boolean {
  return Atomics.load(mem, t + TASK.sigpending) !== 0 || Atomics.load(mem, t + TASK.notify_signal) !== 0;
}

export function mutex_unlock(m: number): void {
  const t = current;
  // Diagnostic only (we are the owner, or the caller is buggy): orders nothing.
  if (Atomics.load(mem, m + MX_OWNER) !== t) record_violation(V_BAD_UNLOCK, m, mem[m + MX_OWNER]!, t);
  held_pop(t, m);
  spin_lock(m + MX_WAIT_LOCK);
  const w = mem[m + MX_WQ_FIRST]!;
  if (w) {
    mem[m + MX_WQ_FIRST] = mem[w + TASK.wq_next]!;
    mem[w + TASK.wq_next] = 0;
    mem[w + TASK.wq_head] = 0;
    mem[m + MX_NWAIT]!--;
  }
  // Hand-off: the first waiter becomes owner before it runs, so no newcomer can barge in.
  // RELEASE of the critical section: pairs with the fast-path compareExchange (w === 0) or the
  // resumed waiter's Atomics.load of MX_OWNER (w !== 0). Made under wait_lock, against the
  // waiter's queueing under it (see the re-try in mutex_lock).
  Atomics.store(mem, m + MX_OWNER, w);
  spin_unlock(m + MX_WAIT_LOCK);
  if (w) wake_up_process(w);
  sched_hook(0);
}

/** Snapshot of the owner (reports, assertions): orders nothing. */
export function mutex_owner(m: number): number {
  return Atomics.load(mem, m + MX_OWNER);
}

export function mutex_is_locked(m: number): boolean {
  return mutex_owner(m) !== 0;
}

/**
 * SRCU (kernel/rcu/srcutree.c in miniature) for tasks_rcu_exit_srcu: readers are tasks and may
 * sleep inside their read-side section.
 *
 * Readers: __srcu_read_lock loads ->srcu_idx and counts itself in srcu_lock_count[idx];
 * __srcu_read_unlock counts in srcu_unlock_count[idx]. Both counts only grow; the readers on an
 * index are its locks minus its unlocks. (The kernel keeps them per CPU; here each is one shared
 * word, so a sum is one load. The order of the two loads still matters: see
 * srcu_readers_active_idx_check.)
 *
 * A reader can be held up for any time between its load of the index and its count (a scheduling
 * hook sits there, SITE_SRCU_READ_LOCK_IDX): "at any point in time there might well be readers
 * using both idx=0 and idx=1" (srcu_advance_state). So a grace period waits for both, as
 * srcu_advance_state does:
 *   SCAN1  wait until the index readers are not using now (1 ^ idx) has no readers,
 *          srcu_flip (idx + 1: new readers count on the other index),
 *   SCAN2  wait until the index readers used before the flip (1 ^ the new idx) has no readers.
 * A reader that loaded idx before a flip and counted after that grace period ended counts on the
 * index that is inactive now: the next grace period's SCAN1 waits for it. (Scanning only the old
 * index after the flip, as this file did before, let such a reader escape the next grace period.)
 *
 * Why every pre-existing reader is waited for: each index is scanned once, SCAN1's before the flip
 * and SCAN2's after it. A reader whose count came before the scan of its index is in the lock
 * count that scan reads, and the scan ends only after its unlock. A reader whose count came after
 * the scan of its index counted after synchronize_srcu began, so its srcu_read_lock had not
 * returned when synchronize_srcu was called: not a pre-existing reader.
 *
 * Ordering: every count, the index and the grace-period words are Atomics operations (sequentially
 * consistent), so each full barrier srcutree.c names (A in srcu_readers_active_idx_check, B in
 * __srcu_read_lock, C in __srcu_read_unlock, D and E in srcu_flip) is implied by the Atomics
 * operation it sits beside; the comments there say what it pairs with.
 *
 * The grace period runs in the task that calls synchronize_srcu (GP_OWNER; the kernel's
 * srcu_gp_mutex holder in process_srcu), sleeping on srcu_wq while readers remain; the last reader
 * out of the index it waits for wakes it (the kernel polls with a delay instead). Another caller
 * waits for the running grace period to end and then runs its own: that one starts after its call.
 */
import { G, SRCU_GP_OWNER, SRCU_GP_SEQ, SRCU_GP_STATE, SRCU_IDX, SRCU_LOCK_COUNT0, SRCU_UNLOCK_COUNT0, TASK } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { sched_hook } from '../sched/hook.js';
import { might_sleep } from '../locking/lockdep.js';
import { current, SLEEP, TASK_UNINTERRUPTIBLE, WCHAN_SRCU_GP } from '../sched/core.js';
import { finish_wait, prepare_to_wait, wake_up } from '../sched/wait.js';
import { tracing, trace_event_noclock, TR_GP_END, TR_GP_START, TRF_SRCU } from '../tracing/trace.js';

/** The one srcu_struct of the model: tasks_rcu_exit_srcu. */
export const srcu_exit = (): number => kg + G.srcu_exit;

/** Grace-period states (SRCU_GP_STATE; the kernel keeps them in the low bits of srcu_gp_seq). */
export const SRCU_STATE_IDLE = 0;
export const SRCU_STATE_SCAN1 = 1;
export const SRCU_STATE_SCAN2 = 2;

/** Scheduling-hook sites of this file. */
export const SITE_SRCU_READ_LOCK_IDX = 270; // between srcu_read_lock's load of idx and its count
export const SITE_SRCU_FLIP = 271; // after srcu_flip, before SCAN2

/** __srcu_read_lock: count this reader on the current index; returns the index for the unlock. */
export function srcu_read_lock(ssp: number, site = 0): number {
  sched_hook(site);
  // READ_ONCE(ssp->srcu_idx): a flip (and a whole grace period) may come between this load and
  // the count below; the reader then counts on the index that is inactive after the flip, and
  // the next grace period's SCAN1 waits for it.
  const idx = Atomics.load(mem, ssp + SRCU_IDX) & 1;
  sched_hook(SITE_SRCU_READ_LOCK_IDX);
  // this_cpu_inc(srcu_lock_count[idx]) + smp_mb() B: the count is sequentially consistent, so no
  // access of the read-side section moves above it. Pairs with A in srcu_readers_active_idx_check
  // (store buffering: either the updater's later load of the lock count sees this count, or this
  // section sees every store the updater made before synchronize_srcu), and with E in srcu_flip.
  Atomics.add(mem, ssp + SRCU_LOCK_COUNT0 + idx, 1);
  mem[current + TASK.srcu_idx] = idx + 1; // for reports and the wait-for graph only
  return idx;
}

/** __srcu_read_unlock: count the reader out of the index its srcu_read_lock returned. */
export function srcu_read_unlock(ssp: number, idx: number): void {
  mem[current + TASK.srcu_idx] = 0;
  // smp_mb() C + this_cpu_inc(srcu_unlock_count[idx]): the sequentially consistent add keeps every
  // access of the read-side section before the count. Pairs with A (an updater whose unlock-count
  // load sees this count runs its post-grace-period accesses after our section) and with D in
  // srcu_flip (a flip this count did not see is seen by our next srcu_read_lock's load of idx).
  const unlocks = (Atomics.add(mem, ssp + SRCU_UNLOCK_COUNT0 + idx, 1) + 1) | 0;
  // Last reader out of idx: wake a grace-period owner waiting for it to drain. Pairs with
  // srcu_check_zero, which queues the owner on srcu_wq (prepare_to_wait) before it loads the
  // counts: either its loads see our count, or our load of GP_OWNER (after our count) sees the
  // owner and wake_up's lock finds it queued. A reader that counts on idx after our load of the
  // lock count does its own unlock and look later.
  if (Atomics.load(mem, ssp + SRCU_LOCK_COUNT0 + idx) === unlocks && Atomics.load(mem, ssp + SRCU_GP_OWNER) !== 0) {
    wake_up(kg + G.srcu_wq);
  }
  sched_hook(0);
}

/**
 * srcu_readers_active_idx_check: true if idx had no readers at some point during the call. Unlocks
 * are loaded first, then locks: an unlock counted here has its lock counted too (the lock came
 * first in the reader, and the lock load comes after the unlock load), so equal counts mean that
 * every reader counted on idx before our lock load had left by our unlock load.
 */
function srcu_readers_active_idx_check(ssp: number, idx: number): boolean {
  const unlocks = Atomics.load(mem, ssp + SRCU_UNLOCK_COUNT0 + idx);
  // smp_mb() A, implied by the two sequentially consistent loads: "make sure that a lock is always
  // counted if the corresponding unlock is counted". Pairs with B (store buffering with a reader's
  // count vs. the updater's stores before synchronize_srcu) and with C (accesses after the grace
  // period cannot run before the unlocks it counted).
  return Atomics.load(mem, ssp + SRCU_LOCK_COUNT0 + idx) === unlocks;
}

/**
 * srcu_flip: from now on new readers count on the other index. smp_mb() E before the store (pairs
 * with B and C: the scan that found the index empty comes before the flip, so a reader that counts
 * on the new index was not seen by that scan) and smp_mb() D after it (pairs with C: a reader whose
 * unlock the next scan misses loads the new index at its next srcu_read_lock) are both implied by
 * this one sequentially consistent add.
 */
function srcu_flip(ssp: number): void {
  Atomics.add(mem, ssp + SRCU_IDX, 1);
}

/**
 * try_check_zero as a sleep: true when idx has no readers, false (SLEEP) after queueing the owner on
 * srcu_wq with wq_arg = idx (the wait-for graph reads it: the owner waits for idx's readers).
 */
function srcu_check_zero(ssp: number, idx: number): boolean {
  const wq = kg + G.srcu_wq;
  // On srcu_wq before the scan: pairs with the load of GP_OWNER in srcu_read_unlock.
  prepare_to_wait(wq, TASK_UNINTERRUPTIBLE, WCHAN_SRCU_GP, ssp, idx);
  if (!srcu_readers_active_idx_check(ssp, idx)) return false;
  finish_wait(wq);
  return true;
}

/** srcu_advance_state (the grace-period owner): 0 when its grace period ended, SLEEP while readers remain. */
function srcu_advance_state(ssp: number): number {
  // Only the owner writes SRCU_IDX and SRCU_GP_STATE, so its loads of them are exact ("the
  // caller must ensure that ->srcu_idx is not changed while checking", try_check_zero).
  if (Atomics.load(mem, ssp + SRCU_GP_STATE) === SRCU_STATE_SCAN1) {
    if (!srcu_check_zero(ssp, 1 ^ (Atomics.load(mem, ssp + SRCU_IDX) & 1))) return SLEEP;
    srcu_flip(ssp);
    Atomics.store(mem, ssp + SRCU_GP_STATE, SRCU_STATE_SCAN2);
    sched_hook(SITE_SRCU_FLIP);
  }
  if (!srcu_check_zero(ssp, 1 ^ (Atomics.load(mem, ssp + SRCU_IDX) & 1))) return SLEEP;
  srcu_gp_end(ssp);
  return 0;
}

/** srcu_gp_end: count the grace period, let the next owner in and wake everyone waiting. */
function srcu_gp_end(ssp: number): void {
  Atomics.add(mem, ssp + SRCU_GP_SEQ, 1);
  if (tracing) trace_event_noclock(TR_GP_END, TRF_SRCU, Atomics.load(mem, ssp + SRCU_GP_SEQ), current);
  Atomics.store(mem, ssp + SRCU_GP_STATE, SRCU_STATE_IDLE);
  // Release the grace period: pairs with the next owner's compareExchange of GP_OWNER and with a
  // waiter's load of it after prepare_to_wait (synchronize_srcu), so the waiter either sees 0 or
  // is on srcu_wq for the wake_up below.
  Atomics.store(mem, ssp + SRCU_GP_OWNER, 0);
  wake_up(kg + G.srcu_wq);
}

/** synchronize_srcu from task context: 0 when done, SLEEP while waiting (call again on resume). */
export function synchronize_srcu(ssp: number): number {
  const t = current;
  might_sleep();
  const wq = kg + G.srcu_wq;
  for (;;) {
    const owner = Atomics.load(mem, ssp + SRCU_GP_OWNER);
    if (owner === 0) {
      // srcu_gp_start: one owner at a time (the kernel's srcu_gp_mutex). The compareExchange pairs
      // with srcu_gp_end's store of 0 by the previous owner (its flips and state are visible).
      if (Atomics.compareExchange(mem, ssp + SRCU_GP_OWNER, 0, t) !== 0) continue;
      Atomics.store(mem, ssp + SRCU_GP_STATE, SRCU_STATE_SCAN1);
      if (tracing) trace_event_noclock(TR_GP_START, TRF_SRCU, Atomics.load(mem, ssp + SRCU_GP_SEQ) + 1, t);
    } else if (owner !== t) {
      // Another task runs a grace period that may have begun before our call: wait for it to
      // end, then run ours. Queued before the look at GP_OWNER (pairs with srcu_gp_end).
      prepare_to_wait(wq, TASK_UNINTERRUPTIBLE, WCHAN_SRCU_GP, ssp, -1);
      if (Atomics.load(mem, ssp + SRCU_GP_OWNER) === 0) { finish_wait(wq); continue; }
      return SLEEP;
    }
    return srcu_advance_state(ssp);
  }
}

/** Readers counted on idx now (locks - unlocks; for tests and reports). */
export function srcu_readers(ssp: number, idx: number): number {
  const unlocks = Atomics.load(mem, ssp + SRCU_UNLOCK_COUNT0 + idx);
  return (Atomics.load(mem, ssp + SRCU_LOCK_COUNT0 + idx) - unlocks) | 0;
}

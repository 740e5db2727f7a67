/**
 * spinlock_t (include/linux/spinlock.h), on one shared word.
 *
 * The word follows the three-state futex protocol (0 free, 1 locked, 2 locked with sleepers):
 * an uncontended lock/unlock is one compareExchange and one exchange. A contended CPU spins
 * briefly, then parks on the word with Atomics.wait; the unlocker notifies only when the word said
 * 2. This stands in for the kernel's qspinlock: a lock holder that the host OS deschedules (more
 * workers than cores) costs the waiters a park, not a collapse.
 *
 * Ordering: the acquiring compareExchange and the releasing exchange are sequentially consistent,
 * so the critical section's plain accesses cannot leak out of it (they pair with each other as
 * the kernel's acquire/release pair in queued_spin_lock / queued_spin_unlock).
 *
 * A machine with one CPU (G.ncpus === 1) has one thread taking locks: there the word is read and
 * written with plain accesses, as a uniprocessor kernel build takes its spinlocks without atomic
 * read-modify-writes. Everything else a lock does is the same on every machine: the scheduling
 * hook, the owner, the held-lock stack and lockdep, the per-CPU per-class statistics; a lock
 * found taken (a self-deadlock on one CPU) goes to the same slow path.
 */
import { CPU, SL_CLASS, SL_OWNER, SL_VAL, SPIN_CONTENDED, SPIN_LOCKED, SPIN_UNLOCKED } from '../mm/layout.js';
import { jiffies_tick, mem, STAT_ACQ, STAT_CONTENDED, STAT_WAIT_NS, STAT_WORDS, stats, this_cpu, this_cpu_id } from '../mm/memory.js';
import { MAX_LOCK_CLASSES } from '../mm/layout.js';
import { check_abort, is_controlled, sched_hook, spin_wait, WAIT_EQ } from '../sched/hook.js';
import { HELD_SPIN, lock_acquired, lock_released } from './lockdep.js';
import { up_boot } from './lock_flags.js';
import { tracing, trace_event, TR_LOCK_CONTENDED } from '../tracing/trace.js';
import { record_violation, V_BAD_UNLOCK } from './violations.js';

/** Initialise a spinlock_t at `lock` with a lockdep class. */
export function spin_lock_init(lock: number, cls: number): void {
  mem[lock + SL_VAL] = SPIN_UNLOCKED;
  mem[lock + SL_OWNER] = 0;
  mem[lock + SL_CLASS] = cls;
}

/** Statistics index of this CPU for a lock class (Float64 stats buffer). */
export function stat_index(cls: number): number {
  return (this_cpu_id * MAX_LOCK_CLASSES + cls) * STAT_WORDS;
}

/**
 * Looks at a taken word before parking on it: a running holder's critical section is far shorter
 * than the futex round trip a park costs (tens of microseconds on these machines), so spinning
 * a few microseconds first keeps two busy CPUs from parking on every collision.
 */
const SPIN_TRIES = 1024;
const PARK_SLICE_MS = 20;

export function spin_lock(lock: number, site = 0): void {
  sched_hook(site);
  const m = mem; // one load of the live binding; kernel code below only reads/writes through it
  const w = lock + SL_VAL;
  let busy: boolean;
  if (up_boot(m)) {
    busy = m[w] !== SPIN_UNLOCKED; // one CPU: nobody else writes the word
    if (!busy) m[w] = SPIN_LOCKED;
  } else {
    // ACQUIRE (queued_spin_lock's atomic_try_cmpxchg_acquire): pairs with the Atomics.exchange
    // to SPIN_UNLOCKED in spin_unlock. Seeing UNLOCKED here means the previous owner's plain stores
    // to the data this lock guards are visible, and ours below cannot move above the take.
    busy = Atomics.compareExchange(m, w, SPIN_UNLOCKED, SPIN_LOCKED) !== SPIN_UNLOCKED;
  }
  if (busy) spin_lock_slowpath(lock, m[lock + SL_CLASS]!);
  const cls = m[lock + SL_CLASS]!;
  const id = this_cpu_id;
  m[lock + SL_OWNER] = id + 1;
  m[this_cpu + CPU.preempt_count]!++;
  stats[(id * MAX_LOCK_CLASSES + cls) * STAT_WORDS + STAT_ACQ]!++;
  lock_acquired(lock, cls, HELD_SPIN, site);
}

function spin_lock_slowpath(lock: number, cls: number): void {
  const si = stat_index(cls);
  stats[si + STAT_CONTENDED]!++;
  if (tracing) trace_event(TR_LOCK_CONTENDED, HELD_SPIN | (cls << 8), lock, 0);
  const t0 = performance.now();
  const w = lock + SL_VAL;
  if (is_controlled()) {
    // One CPU runs at a time: wait (yielding the turn) until the word is free, then take it.
    // The compareExchange is the ACQUIRE, paired with spin_unlock's exchange as in the fast path;
    // spin_wait's look at the word only says when to try.
    do spin_wait(lock, HELD_SPIN, w, WAIT_EQ, SPIN_UNLOCKED, 0);
    while (Atomics.compareExchange(mem, w, SPIN_UNLOCKED, SPIN_LOCKED) !== SPIN_UNLOCKED);
  } else {
    let got = false;
    for (let i = 0; i < SPIN_TRIES && !got; i++) {
      // Test-and-test-and-set: the load only avoids bouncing the line with failed CASes; the
      // compareExchange is the ACQUIRE (pairs with spin_unlock's exchange).
      got = Atomics.load(mem, w) === SPIN_UNLOCKED && Atomics.compareExchange(mem, w, SPIN_UNLOCKED, SPIN_LOCKED) === SPIN_UNLOCKED;
    }
    if (!got) {
      const c = this_cpu;
      mem[c + CPU.wait_lock] = lock;
      mem[c + CPU.wait_mode] = HELD_SPIN;
      mem[c + CPU.wait_op] = WAIT_EQ;
      mem[c + CPU.wait_arg] = SPIN_UNLOCKED;
      // Publish the wait: the plain wait_lock/mode/op/arg stores above are ordered before it.
      // Pairs with the Atomics.load of wait_addr in cpu_enabled (hook.ts); the wait-for graph
      // (detect/waitfor.ts) reads it on the main thread with the CPUs frozen (G.freeze).
      Atomics.store(mem, c + CPU.wait_addr, w);
      try {
        // Take the lock as "contended" so our unlock notifies the next sleeper too. The exchange
        // that returns UNLOCKED is the ACQUIRE (pairs with spin_unlock's exchange). The wait
        // compares the word with CONTENDED atomically against spin_unlock's exchange + notify:
        // an unlock between our exchange and the wait makes the wait return at once (no lost
        // wake-up); the slice bounds it anyway.
        while (Atomics.exchange(mem, w, SPIN_CONTENDED) !== SPIN_UNLOCKED) {
          Atomics.wait(mem, w, SPIN_CONTENDED, PARK_SLICE_MS);
          check_abort();
        }
      } finally {
        // Unpublish (pairs with the wait-for graph's load of wait_addr, as above).
        Atomics.store(mem, c + CPU.wait_addr, 0);
        mem[c + CPU.wait_lock] = 0;
      }
    }
  }
  stats[si + STAT_WAIT_NS]! += (performance.now() - t0) * 1e6;
  jiffies_tick(); // the wait may have parked this thread: the clock moved on
}

export function spin_trylock(lock: number, site = 0): boolean {
  sched_hook(site);
  // ACQUIRE on success, paired with spin_unlock's exchange (as spin_lock's fast path).
  if (Atomics.compareExchange(mem, lock + SL_VAL, SPIN_UNLOCKED, SPIN_LOCKED) !== SPIN_UNLOCKED) return false;
  const cls = mem[lock + SL_CLASS]!;
  mem[lock + SL_OWNER] = this_cpu_id + 1;
  mem[this_cpu + CPU.preempt_count]!++;
  stats[stat_index(cls) + STAT_ACQ]!++;
  lock_acquired(lock, cls, HELD_SPIN, site);
  return true;
}

export function spin_unlock(lock: number): void {
  const m = mem;
  const me = this_cpu_id + 1;
  if (m[lock + SL_OWNER] !== me) record_violation(V_BAD_UNLOCK, lock, m[lock + SL_OWNER]!, me);
  m[lock + SL_OWNER] = 0;
  lock_released(lock);
  m[this_cpu + CPU.preempt_count]!--;
  const w = lock + SL_VAL;
  if (up_boot(m)) {
    const v = m[w];
    m[w] = SPIN_UNLOCKED;
    if (v === SPIN_CONTENDED) Atomics.notify(m, w, 1);
  } else if (Atomics.exchange(m, w, SPIN_UNLOCKED) === SPIN_CONTENDED) {
    // RELEASE (queued_spin_unlock's smp_store_release): pairs with the acquiring compareExchange
    // or exchange of the next owner. Every plain store of the critical section (and SL_OWNER = 0
    // above) is ordered before the word reads UNLOCKED. The notify pairs with the Atomics.wait of
    // a parked waiter; the exchange returned CONTENDED, so one may be parked on the word.
    Atomics.notify(m, w, 1);
  }
  sched_hook(0);
}

/** spin_lock_irq: interrupts off on this CPU for the critical section. */
export function spin_lock_irq(lock: number, site = 0): void {
  mem[this_cpu + CPU.irqs_off]!++;
  spin_lock(lock, site);
}

export function spin_unlock_irq(lock: number): void {
  spin_unlock(lock);
  mem[this_cpu + CPU.irqs_off]!--;
}

export function spin_is_locked(lock: number): boolean {
  // A snapshot, like the kernel's spin_is_locked: orders nothing, callers only assert with it.
  return Atomics.load(mem, lock + SL_VAL) !== SPIN_UNLOCKED;
}

/**
 * A deliberately broken spinlock (locktorture's lock_busted): it records the acquisition like the
 * real one but gives no mutual exclusion. Torture tests use it to prove their checks can fail.
 */
export function spin_lock_busted(lock: number, site = 0): void {
  sched_hook(site);
  const cls = mem[lock + SL_CLASS]!;
  mem[lock + SL_OWNER] = this_cpu_id + 1;
  mem[this_cpu + CPU.preempt_count]!++;
  stats[stat_index(cls) + STAT_ACQ]!++;
  lock_acquired(lock, cls, HELD_SPIN, site);
}

export function spin_unlock_busted(lock: number): void {
  mem[lock + SL_OWNER] = 0;
  lock_released(lock);
  mem[this_cpu + CPU.preempt_count]!--;
  sched_hook(0);
}

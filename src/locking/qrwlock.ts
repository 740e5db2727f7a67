/**
 * rwlock_t as the kernel's queued rwlock (kernel/locking/qrwlock.c, include/asm-generic/qrwlock.h).
 *
 * `cnts` = readers << _QR_SHIFT | _QW_WAITING | writer byte; `wait_lock` is a FIFO ticket lock.
 * - read_lock: add _QR_BIAS; if a writer holds or waits, the slow path backs the bias out and
 *   queues on wait_lock behind the writer, so a waiting writer blocks new readers (no writer
 *   starvation) - except for readers in interrupt context, which only wait for a writer that
 *   holds the lock and ignore a waiting one (the rule that lets read_lock nest in an interrupt on
 *   a CPU that already holds a read lock).
 * - write_lock: cmpxchg 0 -> _QW_LOCKED; otherwise queue on wait_lock, set _QW_WAITING, wait for
 *   the readers to drain, then cmpxchg _QW_WAITING -> _QW_LOCKED.
 * A bug switch (BUG_QRWLOCK_IRQ_FAIR) removes the interrupt-reader rule for the catalogued deadlock.
 *
 * On a machine with one CPU (G.ncpus === 1) the fast paths update `cnts` with plain accesses, as
 * spinlock.ts does there (one thread takes locks); the slow paths are the same on every machine.
 */
import {
  CPU, G, MAX_LOCK_CLASSES, QR_BIAS, QR_SHIFT, QW_LOCKED, QW_WAITING, QW_WMASK, RW_CLASS, RW_CNTS, RW_SLEEPERS,
  RW_WAIT_NEXT, RW_WAIT_OWNER, RW_WRITER, RWLOCK_WORDS,
} from '../mm/layout.js';
import {
  kg, mem, STAT_ACQ, STAT_CONTENDED, STAT_W_ACQ, STAT_W_CONTENDED, STAT_W_WAIT_NS, STAT_WAIT_NS, STAT_WORDS, stats, this_cpu, this_cpu_id,
} from '../mm/memory.js';
import { is_controlled, sched_hook, spin_wait, wait_cond, WAIT_EQ, WAIT_MASK_ZERO } from '../sched/hook.js';
import { HELD_READ, HELD_READ_IRQ, HELD_WRITE, lock_acquired, lock_released } from './lockdep.js';
import { stat_index } from './spinlock.js';
import { up_boot } from './lock_flags.js';
import { tracing, trace_event, TR_LOCK_CONTENDED } from '../tracing/trace.js';
import { BUG_QRWLOCK_IRQ_FAIR } from '../config/bugs.js';


export function rwlock_init(lock: number, cls: number): void {
  mem.fill(0, lock, lock + RWLOCK_WORDS);
  mem[lock + RW_CLASS] = cls;
}

function wake_sleepers(lock: number): void {
  // Pairs with the Atomics.add of RW_SLEEPERS in spin_wait before a waiter parks. Our caller's
  // release (the sub/and of cnts, the add of wait_owner) comes first and the waiter's add comes
  // before its re-check of the word: both are sequentially consistent, so either we see the
  // sleeper here and notify, or its re-check sees our release and it does not park.
  if (Atomics.load(mem, lock + RW_SLEEPERS) !== 0) notify_sleepers(lock);
}

function notify_sleepers(lock: number): void {
  Atomics.notify(mem, lock + RW_CNTS);
  Atomics.notify(mem, lock + RW_WAIT_OWNER);
}

/**
 * Free-running waits spin this many looks at the word before spin_wait (which publishes the wait
 * and, after a short spin of its own, parks on the word): a critical section of a running holder
 * is far shorter than the futex round trip a park costs (tens of microseconds on these machines).
 */
const PRESPIN = 1024;

/**
 * Then, when no lock holder can be off its core for lack of one (G.rwlock_spin_us non-zero: as
 * many threads run kernel code at once as the host has cores, or fewer), the waiter keeps spinning
 * for up to this long. tasklist_lock's read sections in the stress mix are often long: 16-256 µs
 * in ~2.5% of read acquisitions (session 15, an instrumented build: 2 CPUs, 10 s; not broken down
 * by call site), longer than PRESPIN's ~15 µs, and a writer that napped after PRESPIN came back
 * ~170 µs later on average (a 0.05 ms Atomics.wait oversleeps to ~0.12 ms here), a third of each
 * CPU's time in that run. The kernel's
 * rwlock waiters spin for as long as it takes; its paravirt spinlocks (whose holder's vCPU may be
 * preempted) spin SPIN_THRESHOLD loops, `(1 << 15)` in arch/x86/include/asm/spinlock.h ("How long
 * a lock should spin before we consider blocking", read with find_string), before they halt. The
 * bound keeps the cost of a holder the host did take away (another process's load) at this much.
 */
export const RWLOCK_SPIN_US = 200;
/** Looks at the word between two clock reads of that spin. */
const SPIN_CLOCK_EVERY = 256;

/**
 * Then a few short timed naps on the word (no notify needed: the waiter looks again when each
 * ends): a holder that the host descheduled (more workers than cores) gets the core back, and
 * unlockers pay no futex wake-up for waiters that would have been back in microseconds anyway.
 */
const NAPS = 8;
const NAP_MS = 0.05;

/** spin_wait with a longer spin first when CPUs run freely (controlled mode yields at once). */
function qrw_wait(lock: number, mode: number, addr: number, op: number, arg: number): void {
  if (!is_controlled()) {
    for (let i = 0; i < PRESPIN; i++) if (wait_cond(op, addr, arg)) return;
    const m = mem;
    const spin_us = m[kg + G.rwlock_spin_us]!;
    if (spin_us !== 0) {
      const until = performance.now() + spin_us / 1000;
      do {
        for (let i = 0; i < SPIN_CLOCK_EVERY; i++) if (wait_cond(op, addr, arg)) return;
      } while (performance.now() < until);
    }
    for (let n = 0; n < NAPS; n++) {
      // Load, test, then wait on the loaded value: a change in between makes the wait return at
      // once. No notify is needed (timed nap); the ACQUIRE is the caller's RMW after we return.
      const v = Atomics.load(m, addr);
      if (wait_cond(op, addr, arg)) return;
      Atomics.wait(m, addr, v, NAP_MS);
      if (wait_cond(op, addr, arg)) return;
    }
  }
  spin_wait(lock, mode, addr, op, arg, lock + RW_SLEEPERS);
}

function wait_lock_acquire(lock: number, mode: number): void {
  // arch_spin_lock(&lock->wait_lock) as a ticket lock: take a ticket, wait until wait_owner shows
  // it. The load that sees our ticket pairs with the add of wait_owner in wait_lock_release.
  const ticket = Atomics.add(mem, lock + RW_WAIT_NEXT, 1);
  qrw_wait(lock, mode, lock + RW_WAIT_OWNER, WAIT_EQ, ticket);
}

function wait_lock_release(lock: number): void {
  // arch_spin_unlock(&lock->wait_lock): RELEASE, pairs with the next ticket holder's load in
  // wait_lock_acquire (the queue head's cnts updates come before it is handed on).
  Atomics.add(mem, lock + RW_WAIT_OWNER, 1);
  wake_sleepers(lock);
}

export function read_lock(lock: number, site = 0): void {
  sched_hook(site);
  const m = mem;
  const c = this_cpu;
  const cls = m[lock + RW_CLASS]!;
  const w = lock + RW_CNTS;
  let cnts: number;
  if (up_boot(m)) m[w] = cnts = (m[w]! + QR_BIAS) | 0; // one CPU: plain (see above)
  // queued_read_lock's atomic_add_return_acquire: ACQUIRE, pairs with write_unlock's Atomics.and
  // clearing QW_LOCKED. No writer bits in the result means the last writer's stores are visible.
  else cnts = (Atomics.add(m, w, QR_BIAS) + QR_BIAS) | 0;
  const irq = m[c + CPU.in_irq]! > 0;
  if ((cnts & QW_WMASK) !== 0) queued_read_lock_slowpath(lock, cls, irq);
  m[c + CPU.preempt_count]!++;
  stats[(this_cpu_id * MAX_LOCK_CLASSES + cls) * STAT_WORDS + STAT_ACQ]!++;
  lock_acquired(lock, cls, irq ? HELD_READ_IRQ : HELD_READ, site);
}

function queued_read_lock_slowpath(lock: number, cls: number, irq: boolean): void {
  const si = stat_index(cls);
  stats[si + STAT_CONTENDED]!++;
  const t0 = performance.now();
  const mode = irq ? HELD_READ_IRQ : HELD_READ;
  if (tracing) trace_event(TR_LOCK_CONTENDED, mode | (cls << 8), lock, 0);
  if (irq && (mem[kg + G.bug_switches]! & BUG_QRWLOCK_IRQ_FAIR) === 0) {
    // Readers in interrupt context only wait for an active writer, never a waiting one. Our bias
    // stays in cnts, so the writer cannot take the lock meanwhile; the load that sees QW_LOCKED
    // clear is the ACQUIRE (atomic_cond_read_acquire), paired with write_unlock's Atomics.and.
    qrw_wait(lock, mode, lock + RW_CNTS, WAIT_MASK_ZERO, QW_LOCKED);
  } else {
    // Back our bias out (a waiting writer waits for cnts == _QW_WAITING), queue behind it on
    // wait_lock, then add the bias again: from here a writer cannot move WAITING -> LOCKED.
    Atomics.sub(mem, lock + RW_CNTS, QR_BIAS);
    wait_lock_acquire(lock, mode);
    Atomics.add(mem, lock + RW_CNTS, QR_BIAS);
    // "The ACQUIRE semantics of the following spinning code ensure that accesses can't leak
    // upwards" (qrwlock.c): the load that sees QW_LOCKED clear pairs with write_unlock's and.
    qrw_wait(lock, mode, lock + RW_CNTS, WAIT_MASK_ZERO, QW_LOCKED);
    wait_lock_release(lock);
  }
  stats[si + STAT_WAIT_NS]! += (performance.now() - t0) * 1e6;
}

export function read_unlock(lock: number): void {
  lock_released(lock);
  const m = mem;
  m[this_cpu + CPU.preempt_count]!--;
  if (up_boot(m)) {
    m[lock + RW_CNTS] = (m[lock + RW_CNTS]! - QR_BIAS) | 0;
    if (m[lock + RW_SLEEPERS] !== 0) notify_sleepers(lock);
  } else {
    // queued_read_unlock's atomic_sub_return_release: RELEASE, pairs with the writer's
    // compareExchange 0/_QW_WAITING -> _QW_LOCKED: the writer sees no readers only after every
    // reader's accesses inside the section are done.
    const old = Atomics.sub(m, lock + RW_CNTS, QR_BIAS);
    // The only waiter a reader's exit can let in is a writer waiting for the readers to drain,
    // and it set _QW_WAITING before it waits (queued_write_lock_slowpath): with the flag clear in
    // the value our sub replaced, nobody sleeps on cnts for us and the sleepers word is not
    // looked at (a writer that sets the flag later sees our sub in its own RMW). Sleepers on
    // wait_lock are woken by its release (wait_lock_release), not by us.
    if ((old & QW_WAITING) !== 0) wake_sleepers(lock);
  }
  sched_hook(0);
}

export function write_lock(lock: number, site = 0): void {
  sched_hook(site);
  const m = mem;
  const cls = m[lock + RW_CLASS]!;
  const w = lock + RW_CNTS;
  let busy: boolean;
  if (up_boot(m)) {
    busy = m[w] !== 0; // one CPU: plain (see above)
    if (!busy) m[w] = QW_LOCKED;
  } else {
    // queued_write_lock's atomic_try_cmpxchg_acquire: ACQUIRE, pairs with read_unlock's sub and
    // write_unlock's and (cnts == 0: no reader or writer inside, their accesses are visible).
    busy = Atomics.compareExchange(m, w, 0, QW_LOCKED) !== 0;
  }
  if (busy) queued_write_lock_slowpath(lock, cls);
  const id = this_cpu_id;
  m[lock + RW_WRITER] = id + 1;
  m[this_cpu + CPU.preempt_count]!++;
  const si = (id * MAX_LOCK_CLASSES + cls) * STAT_WORDS;
  stats[si + STAT_ACQ]!++;
  stats[si + STAT_W_ACQ]!++;
  lock_acquired(lock, cls, HELD_WRITE, site);
}

function queued_write_lock_slowpath(lock: number, cls: number): void {
  const si = stat_index(cls);
  stats[si + STAT_CONTENDED]!++;
  stats[si + STAT_W_CONTENDED]!++;
  if (tracing) trace_event(TR_LOCK_CONTENDED, HELD_WRITE | (cls << 8), lock, 0);
  const t0 = performance.now();
  wait_lock_acquire(lock, HELD_WRITE);
  // ACQUIRE as in the fast path (pairs with read_unlock's sub / write_unlock's and).
  if (Atomics.compareExchange(mem, lock + RW_CNTS, 0, QW_LOCKED) !== 0) {
    // Set the waiting flag: new readers' fast-path add sees it and they queue on wait_lock
    // (behind us, who hold it), so cnts can only drain to _QW_WAITING.
    Atomics.or(mem, lock + RW_CNTS, QW_WAITING);
    for (;;) {
      // atomic_cond_read_relaxed then atomic_try_cmpxchg_acquire: the wait only says when to try;
      // the compareExchange is the ACQUIRE, paired with the last reader's sub in read_unlock.
      qrw_wait(lock, HELD_WRITE, lock + RW_CNTS, WAIT_EQ, QW_WAITING);
      if (Atomics.compareExchange(mem, lock + RW_CNTS, QW_WAITING, QW_LOCKED) === QW_WAITING) break;
    }
  }
  wait_lock_release(lock);
  const waited = (performance.now() - t0) * 1e6;
  stats[si + STAT_WAIT_NS]! += waited;
  stats[si + STAT_W_WAIT_NS]! += waited;
}

export function write_unlock(lock: number): void {
  const m = mem;
  m[lock + RW_WRITER] = 0;
  lock_released(lock);
  m[this_cpu + CPU.preempt_count]!--;
  if (up_boot(m)) {
    m[lock + RW_CNTS] = m[lock + RW_CNTS]! & ~QW_LOCKED;
    if (m[lock + RW_SLEEPERS] !== 0) notify_sleepers(lock);
  } else {
    // smp_store_release(&lock->wlocked, 0): clear the writer byte only. RELEASE, pairs with the
    // readers' add (fast path) / load (slow path) and the next writer's compareExchange: the
    // critical section's plain stores (and RW_WRITER = 0 above) are visible to them.
    const old = Atomics.and(m, lock + RW_CNTS, ~QW_LOCKED);
    // Who can sleep on cnts for a writer's exit: readers whose bias is in cnts (the interrupt
    // reader's wait, the queued reader after wait_lock) and a writer that set _QW_WAITING. Each
    // added its bit before it waits, so with no bit but ours in the value our and replaced nobody
    // sleeps on cnts for us and the sleepers word is not looked at (a reader or writer that adds
    // its bit later sees QW_LOCKED clear in its own RMW). Sleepers on wait_lock are woken by its
    // release (wait_lock_release), not by us.
    if (old !== QW_LOCKED) wake_sleepers(lock);
  }
  sched_hook(0);
}

export function write_lock_irq(lock: number, site = 0): void {
  mem[this_cpu + CPU.irqs_off]!++;
  write_lock(lock, site);
}

export function write_unlock_irq(lock: number): void {
  write_unlock(lock);
  mem[this_cpu + CPU.irqs_off]!--;
}

/** Snapshots for assertions and reports: they order nothing. */
export function rwlock_readers(lock: number): number {
  return Atomics.load(mem, lock + RW_CNTS) >>> QR_SHIFT;
}

export function rwlock_write_locked(lock: number): boolean {
  return (Atomics.load(mem, lock + RW_CNTS) & QW_LOCKED) !== 0;
}

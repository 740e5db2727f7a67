/**
 * struct percpu_rw_semaphore (kernel/locking/percpu-rwsem.c, include/linux/percpu-rwsem.h) and the
 * struct rcu_sync it embeds (kernel/rcu/sync.c), as in Linux 6.18.
 *
 * Readers: while no writer is around (rcu_sync_is_idle: gp_state == GP_IDLE) a reader only
 * increments its CPU's read_count (the fast path; preemption is off in the kernel, so the test
 * and the increment are one RCU-sched read-side section: the model reports no quiescent state
 * between them). Otherwise the slow path: increment, full barrier, test sem->block; if a writer
 * set it, undo, prod the writer, and sleep in percpu_rwsem_wait until percpu_up_write's wake-up
 * takes the semaphore on the reader's behalf (percpu_rwsem_wake_function).
 *
 * The writer (percpu_down_write): rcu_sync_enter - the first writer moves gp_state GP_IDLE ->
 * GP_ENTER and waits a real grace period of the model's RCU (synchronize_rcu), after which every
 * reader sees the slow path; then it takes sem->block (writer-writer exclusion, new readers
 * block), sleeping in percpu_rwsem_wait if another writer has it; then it waits (rcuwait, no
 * queue: sem->writer) until the per-CPU counts sum to zero. percpu_up_write clears block, wakes
 * the waiters (readers until the first writer) and rcu_sync_exit queues rcu_sync_func with call_rcu:
 * readers get their fast path back a grace period later (GP_EXIT -> GP_IDLE; a writer that comes
 * back meanwhile finds GP_EXIT and needs no new grace period).
 *
 * Every wait returns SLEEP (the caller's system call is restarted when the task is woken); the
 * writer's restart point is TASK.percpu_rwsem_phase (PDW_*). A reader holds at most one
 * semaphore (percpu_down_read is not recursive); TASK.percpu_rwsem_read names it, for the wait-for
 * graph (src/detect/waitfor.ts: a writer waiting for readers -> every task holding it for read; a
 * task blocked by block -> sem.owner, the writer).
 *
 * Read in 6.18 (gregkh/linux v6.18.38 kernel/locking/percpu-rwsem.c as quoted on a stored page,
 * and LKML/stable diffs of the same file; see docs/catalog-sources.md): __percpu_down_read_trylock
 * ("smp_mb(); // A matches D ... atomic_read_acquire(&sem->block) ... this_cpu_dec ...
 * rcuwait_wake_up(&sem->writer)"), percpu_down_write (rcu_sync_enter, then
 * __percpu_down_write_trylock or percpu_rwsem_wait(sem, false), then rcuwait_wait_event(&sem->writer,
 * readers_active_check(sem))), kernel/rcu/sync.c rcu_sync_enter / rcu_sync_exit / rcu_sync_func.
 */
import { NR_CPUS, PERCPU_RWSEM, TASK, WQ_LOCK } from '../mm/layout.js';
import { mem, this_cpu_id } from '../mm/memory.js';
import { sched_hook } from '../sched/hook.js';
import { current, set_current_state, set_running, SLEEP, TASK_UNINTERRUPTIBLE, wake_up_process, WCHAN_PERCPU_RWSEM, WCHAN_WAITQ } from '../sched/core.js';
import { __add_wait_queue_entry_tail, finish_wait, init_waitqueue_head, prepare_to_wait, wake_up } from '../sched/wait.js';
import { call_rcu, register_rcu_callback, synchronize_rcu } from '../rcu/rcu.js';
import { HELD_READ, HELD_WRITE, LC_WAITQ, lock_acquire_check, lock_class_register, might_sleep } from './lockdep.js';
import { spin_lock_init, spin_lock_irq, spin_unlock_irq } from './spinlock.js';
import { record_violation, V_BAD_UNLOCK } from './violations.js';

/** rcu_sync gp_state (kernel/rcu/sync.c enum): readers take their fast path only in GP_IDLE. */
export const GP_IDLE = 0;
export const GP_ENTER = 1;
export const GP_PASSED = 2;
export const GP_EXIT = 3;
export const GP_REPLAY = 4;

/** wq_arg of a task asleep on a percpu_rw_semaphore (WCHAN_PERCPU_RWSEM). */
export const PRW_WAIT_READER = 1; // a reader in percpu_rwsem_wait (blocked by block)
export const PRW_WAIT_WRITER = 2; // a writer in percpu_rwsem_wait (another writer has block)
export const PRW_WAIT_READERS = 3; // the writer in rcuwait_wait_event(readers_active_check)

/** percpu_down_write restart phases (TASK.percpu_rwsem_phase). */
const PDW_NONE = 0;
/** rcu_sync_enter found GP_IDLE: waiting in synchronize_rcu, then rcu_sync_func. */
const PDW_SYNC_GP = 1;
/** rcu_sync_enter found a transition under way: wait_event(gp_wait, gp_state >= GP_PASSED). */
const PDW_SYNC_WAIT = 2;
/** rcu_sync done: take block (__percpu_down_write_trylock or percpu_rwsem_wait). */
const PDW_BLOCK = 3;
/** block is ours: rcuwait_wait_event(&sem->writer, readers_active_check(sem)). */
const PDW_READERS = 4;

/** call_rcu callback id of rcu_sync_func (one home: here). */
export const RCB_RCU_SYNC_FUNC = 40;

const P = PERCPU_RWSEM;

/** percpu_init_rwsem: a lockdep class name, as DEFINE_STATIC_PERCPU_RWSEM names it. */
export function percpu_init_rwsem(sem: number, cls: number): void {
  for (let i = 0; i < NR_CPUS; i++) mem[sem + P.read_count + i] = 0;
  mem[sem + P.block] = 0;
  mem[sem + P.writer] = 0;
  mem[sem + P.owner] = 0;
  mem[sem + P.class] = cls;
  init_waitqueue_head(sem + P.waiters, LC_WAITQ);
  spin_lock_init(sem + P.rss_lock, LC_RCU_SYNC);
  mem[sem + P.rss_gp_state] = GP_IDLE;
  mem[sem + P.rss_gp_count] = 0;
  init_waitqueue_head(sem + P.rss_gp_wait, LC_WAITQ);
}

export const LC_RCU_SYNC = lock_class_register('&rsp->rss_lock');

// ---- rcu_sync (kernel/rcu/sync.c) -----------------------------------------------------------------

/** rcu_sync_is_idle: READ_ONCE(rsp->gp_state) == GP_IDLE. */
export function rcu_sync_is_idle(sem: number): boolean {
  return Atomics.load(mem, sem + P.rss_gp_state) === GP_IDLE;
}

/**
 * rcu_sync_func: the grace period after GP_ENTER (-> GP_PASSED, wake rcu_sync_enter waiters) or
 * after the last rcu_sync_exit (GP_EXIT -> GP_IDLE: readers' fast path is back; GP_REPLAY: an
 * exit came meanwhile, wait one more).
 */
function rcu_sync_func(sem: number): void {
  spin_lock_irq(sem + P.rss_lock);
  if (mem[sem + P.rss_gp_count]! > 0) {
    // We're at least a GP after the GP_IDLE->GP_ENTER transition.
    Atomics.store(mem, sem + P.rss_gp_state, GP_PASSED);
    wake_up(sem + P.rss_gp_wait);
  } else if (mem[sem + P.rss_gp_state] === GP_REPLAY) {
    // A new rcu_sync_exit() has happened; requeue the callback to catch a later GP.
    Atomics.store(mem, sem + P.rss_gp_state, GP_EXIT);
    call_rcu(sem + P.rss_cb_head, RCB_RCU_SYNC_FUNC, sem);
  } else {
    // We're at least a GP after the last rcu_sync_exit(); everybody will now have observed the
    // write side critical section. Let 'em rip! (Pairs with the readers' rcu_sync_is_idle: a
    // reader that sees GP_IDLE here started after that grace period.)
    Atomics.store(mem, sem + P.rss_gp_state, GP_IDLE);
  }
  spin_unlock_irq(sem + P.rss_lock);
}
register_rcu_callback(RCB_RCU_SYNC_FUNC, rcu_sync_func);

/**
 * rcu_sync_enter, restartable (phase in TASK.percpu_rwsem_phase): force readers onto the slow
 * path; 0 once every later rcu_sync_is_idle() says false and every fast-path reader that saw it
 * idle is counted, SLEEP while the grace period (or another enterer's) runs.
 */
function rcu_sync_enter(sem: number): number {
  const t = current;
  let ph = mem[t + TASK.percpu_rwsem_phase]!;
  if (ph === PDW_NONE) {
    spin_lock_irq(sem + P.rss_lock);
    const gp_state = mem[sem + P.rss_gp_state]!;
    if (gp_state === GP_IDLE) Atomics.store(mem, sem + P.rss_gp_state, GP_ENTER);
    mem[sem + P.rss_gp_count]!++;
    spin_unlock_irq(sem + P.rss_lock);
    ph = gp_state === GP_IDLE ? PDW_SYNC_GP : PDW_SYNC_WAIT;
    mem[t + TASK.percpu_rwsem_phase] = ph;
  }
  if (ph === PDW_SYNC_GP) {
    // The "synchronous" call_rcu(rcu_sync_func), GP_ENTER -> GP_PASSED: a real grace period of
    // the model's RCU, so every reader that saw GP_IDLE (its test and increment are one
    // read-side section) has incremented before we go on.
    if (synchronize_rcu() === SLEEP) return SLEEP;
    rcu_sync_func(sem);
    return 0;
  }
  // wait_event(rsp->gp_wait, READ_ONCE(rsp->gp_state) >= GP_PASSED): queued before the test,
  // pairing with rcu_sync_func's store then wake_up (under the queue's lock).
  prepare_to_wait(sem + P.rss_gp_wait, TASK_UNINTERRUPTIBLE, WCHAN_WAITQ, sem + P.rss_gp_wait, 0);
  if (Atomics.load(mem, sem + P.rss_gp_state) >= GP_PASSED) {
    finish_wait(sem + P.rss_gp_wait);
    return 0;
  }
  return SLEEP;
}

/** rcu_sync_exit: the last exit queues rcu_sync_func (GP_PASSED -> GP_EXIT) or asks for a replay. */
function rcu_sync_exit(sem: number): void {
  spin_lock_irq(sem + P.rss_lock);
  const gpc = --mem[sem + P.rss_gp_count]!;
  if (gpc < 0) record_violation(V_BAD_UNLOCK, sem, gpc, current);
  if (gpc === 0) {
    if (mem[sem + P.rss_gp_state] === GP_PASSED) {
      Atomics.store(mem, sem + P.rss_gp_state, GP_EXIT);
      call_rcu(sem + P.rss_cb_head, RCB_RCU_SYNC_FUNC, sem);
    } else if (mem[sem + P.rss_gp_state] === GP_EXIT) {
      Atomics.store(mem, sem + P.rss_gp_state, GP_REPLAY);
    }
  }
  spin_unlock_irq(sem + P.rss_lock);
}

// ---- the semaphore --------------------------------------------------------------------------------

/** The reader count slot of the CPU we run on (this_cpu_ptr(sem->read_count)). */
const this_cpu_count = (sem: number): number => sem + P.read_count + this_cpu_id;

/** rcuwait_wake_up(&sem->writer): wake the writer waiting for readers, if any. */
function rcuwait_wake_up(sem: number): void {
  const w = Atomics.load(mem, sem + P.writer);
  if (w) wake_up_process(w);
}

/**
 * __percpu_down_read_trylock: increment, then test block. Sequentially consistent add and load:
 * "A matches D" - either this reader sees the writer's block (and backs out), or the writer's
 * readers_active_check (after its xchg of block) sees this increment and waits for it.
 */
function __percpu_down_read_trylock(sem: number, cpu_count: number): boolean {
  Atomics.add(mem, cpu_count, 1);
  if (Atomics.load(mem, sem + P.block) === 0) return true;
  Atomics.sub(mem, cpu_count, 1);
  // Prod writer to re-evaluate readers_active_check().
  rcuwait_wake_up(sem);
  return false;
}

/** __percpu_down_write_trylock: block 0 -> 1 (writer-writer exclusion; new readers block). */
function __percpu_down_write_trylock(sem: number): boolean {
  if (Atomics.load(mem, sem + P.block) !== 0) return false;
  // atomic_xchg: full barrier, "D matches A" (see __percpu_down_read_trylock).
  return Atomics.exchange(mem, sem + P.block, 1) === 0;
}

/**
 * percpu_rwsem_wait: under the waiters' lock, try once more, else queue at the tail (the wake-up
 * in percpu_up_write takes the same lock, so it sees us queued) and sleep uninterruptibly.
 * 0 when the semaphore was taken, SLEEP when queued.
 */
function percpu_rwsem_wait(sem: number, reader: boolean): number {
  const t = current;
  const wq = sem + P.waiters;
  spin_lock_irq(wq + WQ_LOCK);
  const got = reader ? __percpu_down_read_trylock(sem, this_cpu_count(sem)) : __percpu_down_write_trylock(sem);
  if (!got) {
    __add_wait_queue_entry_tail(wq, t);
    mem[t + TASK.wq_arg] = reader ? PRW_WAIT_READER : PRW_WAIT_WRITER;
    set_current_state(TASK_UNINTERRUPTIBLE, WCHAN_PERCPU_RWSEM, sem);
  }
  spin_unlock_irq(wq + WQ_LOCK);
  return got ? 0 : SLEEP;
}

/**
 * A task woken in percpu_rwsem_wait: the waker took it off the queue after taking the semaphore
 * for it (percpu_rwsem_wake_function). Still queued: not our wake-up; sleep on (state first, then
 * the queue test under the lock, against the waker's unlink under it).
 */
function percpu_rwsem_resume(sem: number): number {
  const t = current;
  const wq = sem + P.waiters;
  if (mem[t + TASK.wq_head] === wq) {
    spin_lock_irq(wq + WQ_LOCK);
    const queued = mem[t + TASK.wq_head] === wq;
    if (queued) set_current_state(TASK_UNINTERRUPTIBLE, WCHAN_PERCPU_RWSEM, sem);
    spin_unlock_irq(wq + WQ_LOCK);
    if (queued) return SLEEP;
  }
  set_running();
  return 0;
}

/** t sleeps on sem's wait queue (a wake-up from it is resumed by calling percpu_down_read/_write again). */
export const percpu_rwsem_asleep_on = (t: number, sem: number): boolean =>
  mem[t + TASK.wait_chan] === WCHAN_PERCPU_RWSEM && mem[t + TASK.wait_obj] === sem;
const asleep_on = percpu_rwsem_asleep_on;

/** percpu_down_read: 0 when current holds it for read, SLEEP when it waits (call again on wake). */
export function percpu_down_read(sem: number, site = 0): number {
  const t = current;
  if (asleep_on(t, sem)) {
    // The waker incremented a read_count for us and set TASK.percpu_rwsem_read.
    return percpu_rwsem_resume(sem);
  }
  might_sleep();
  lock_acquire_check(mem[sem + P.class]!, HELD_READ, site);
  sched_hook(site);
  if (mem[t + TASK.percpu_rwsem_read] !== 0) record_violation(V_BAD_UNLOCK, sem, mem[t + TASK.percpu_rwsem_read]!, t);
  // Fast path: no quiescent state between the test and the increment (the kernel's
  // preempt_disable()), so a writer's rcu_sync_enter grace period ends after both.
  if (rcu_sync_is_idle(sem)) {
    Atomics.add(mem, this_cpu_count(sem), 1);
    mem[t + TASK.percpu_rwsem_read] = sem;
    return 0;
  }
  // __percpu_down_read: the slow path. When it queues, the waker sets TASK.percpu_rwsem_read as
  // it takes the semaphore for us (so we must not write it after percpu_rwsem_wait queued us).
  if (__percpu_down_read_trylock(sem, this_cpu_count(sem)) || percpu_rwsem_wait(sem, true) === 0) {
    mem[t + TASK.percpu_rwsem_read] = sem;
    return 0;
  }
  return SLEEP;
}

/** percpu_up_read. */
export function percpu_up_read(sem: number): void {
  const t = current;
  if (mem[t + TASK.percpu_rwsem_read] !== sem) record_violation(V_BAD_UNLOCK, sem, mem[t + TASK.percpu_rwsem_read]!, t);
  mem[t + TASK.percpu_rwsem_read] = 0;
  if (rcu_sync_is_idle(sem)) {
    Atomics.sub(mem, this_cpu_count(sem), 1);
  } else {
    // Slowpath: the decrement (sequentially consistent, "B matches C": a writer that sees the
    // sum reach zero sees our critical section) then the wake of the writer waiting for it.
    Atomics.sub(mem, this_cpu_count(sem), 1);
    rcuwait_wake_up(sem);
  }
}

/** readers_active_check: the per-CPU counts sum to zero ("C matches B": Atomics loads). */
function readers_active_check(sem: number): boolean {
  let sum = 0;
  for (let i = 0; i < NR_CPUS; i++) sum += Atomics.load(mem, sem + P.read_count + i);
  return sum === 0;
}

/**
 * percpu_down_write: 0 when current holds it for write, SLEEP while it waits (call again on wake;
 * the phase is in TASK.percpu_rwsem_phase).
 */
export function percpu_down_write(sem: number, site = 0): number {
  const t = current;
  let ph = mem[t + TASK.percpu_rwsem_phase]!;
  if (ph === PDW_NONE) {
    might_sleep();
    lock_acquire_check(mem[sem + P.class]!, HELD_WRITE, site);
    sched_hook(site);
  }
  if (ph === PDW_NONE || ph === PDW_SYNC_GP || ph === PDW_SYNC_WAIT) {
    // Notify readers to take the slow path.
    if (rcu_sync_enter(sem) === SLEEP) return SLEEP;
    ph = PDW_BLOCK;
    mem[t + TASK.percpu_rwsem_phase] = ph;
    // Try set sem->block; this provides writer-writer exclusion. Having sem->block set makes new
    // readers block.
    if (__percpu_down_write_trylock(sem)) {
      mem[sem + P.owner] = t;
    } else if (percpu_rwsem_wait(sem, false) === SLEEP) {
      return SLEEP;
    } else {
      mem[sem + P.owner] = t;
    }
    ph = PDW_READERS;
    mem[t + TASK.percpu_rwsem_phase] = ph;
  } else if (ph === PDW_BLOCK) {
    // Woken in percpu_rwsem_wait: the waker set block and sem.owner for us, or this is not our wake.
    if (percpu_rwsem_resume(sem) === SLEEP) return SLEEP;
    ph = PDW_READERS;
    mem[t + TASK.percpu_rwsem_phase] = ph;
  }
  // rcuwait_wait_event(&sem->writer, readers_active_check(sem), TASK_UNINTERRUPTIBLE): publish the
  // waiter and the sleeping state, then test. If a reader missed our block it is counted; its
  // slow-path up_read decrements, then loads sem->writer: either it sees us and wakes us, or we
  // see its decrement here.
  Atomics.store(mem, sem + P.writer, t);
  mem[t + TASK.wq_arg] = PRW_WAIT_READERS;
  set_current_state(TASK_UNINTERRUPTIBLE, WCHAN_PERCPU_RWSEM, sem);
  if (!readers_active_check(sem)) return SLEEP;
  Atomics.store(mem, sem + P.writer, 0);
  set_running();
  mem[t + TASK.percpu_rwsem_phase] = PDW_NONE;
  return 0;
}

/**
 * percpu_rwsem_wake_function for each waiter, in queue order, under the waiters' lock: take the
 * semaphore on its behalf (a reader: an increment on this CPU's count; a writer: block). The
 * kernel stops at the first writer or failure; here a failure leaves the rest failing too (block
 * is set), so going on changes nothing.
 */
function wake_one(sem: number, x: number, arg: number): boolean {
  if (arg === PRW_WAIT_READER) {
    if (!__percpu_down_read_trylock(sem, this_cpu_count(sem))) return false;
    mem[x + TASK.percpu_rwsem_read] = sem;
    return true;
  }
  if (!__percpu_down_write_trylock(sem)) return false;
  mem[sem + P.owner] = x;
  return true;
}

/** percpu_up_write. */
export function percpu_up_write(sem: number): void {
  const t = current;
  if (mem[sem + P.owner] !== t) record_violation(V_BAD_UNLOCK, sem, mem[sem + P.owner]!, t);
  mem[sem + P.owner] = 0;
  // Signal the writer is done, no fast path yet (readers go through the slow path, whose acquire
  // of block pairs with this release, until rcu_sync_exit's grace period has passed).
  Atomics.store(mem, sem + P.block, 0);
  // Prod any pending reader/writer to make progress.
  wake_up(sem + P.waiters, 0, (x, arg) => wake_one(sem, x, arg));
  // Once this completes (at least one RCU grace period hence) the reader fast path will be
  // available again.
  rcu_sync_exit(sem);
}

/** Diagnostics (reports, audit): the sum of the per-CPU reader counts. Orders nothing. */
export function percpu_rwsem_readers(m: Int32Array, sem: number): number {
  let sum = 0;
  for (let i = 0; i < NR_CPUS; i++) sum += m[sem + P.read_count + i]!;
  return sum;
}


/**
 * Copies to user memory that can fault (include/linux/uaccess.h put_user / copy_to_user,
 * mm/memory.c __might_fault, the user-address page fault of arch/x86/mm/fault.c).
 *
 * A put_user() may find the user page not present: the page fault handler then takes mmap_lock
 * and may wait for I/O (a file page, swap) - the copying task SLEEPS in the middle of the system
 * call, with whatever it had not finished half done. Kernel code that copies to user memory
 * therefore must not hold a spinlock, an rwlock or an RCU read-side section, and drops locks it
 * holds before its copies (kernel/exit.c wait_task_stopped as of 3.16: "We don't want to keep
 * holding onto the tasklist_lock while we call getrusage and possibly take page faults for user
 * memory").
 *
 * The model has no user page tables. Its user memory is fields of the task record (a wait
 * status: TASK.last_status, a waitid siginfo: TASK.wait_si_*). What it keeps of a fault:
 * - might_fault(): the check of __might_fault (pagefault_disabled() aside, which the model has
 *   no caller of): a copy from atomic context - preempt_count (a spinlock or rwlock held), an RCU
 *   read-side section, interrupts off or an interrupt handler - is reported as the kernel's
 *   "BUG: sleeping function called from invalid context" (might_sleep, the one home of the check);
 * - a scheduling point at every copy (sched_hook(SITE_PUT_USER)) when faults are on;
 * - the fault itself, with a chance of G.uaccess_fault_permille per copy site: the task gives up
 *   its CPU in the middle of the call (the caller returns SLEEP and resumes where it stopped; see
 *   user_page_fault). The chance is a model parameter, not a measured fault rate. In controlled
 *   mode the draw is a decision of the run's strategy, recorded in the choice list like an
 *   interrupt (ctl_coin), so a replay takes the same faults; free-running it is a thread-local
 *   draw. The same code runs with and without bug switches.
 * In atomic context the fault is not taken (the kernel's faulthandler_disabled() path would
 * return -EFAULT instead of sleeping; might_fault has reported the caller already).
 */
import { CPU, G } from './layout.js';
import { kg, mem, this_cpu } from './memory.js';
import { might_sleep } from '../locking/lockdep.js';
import { ctl_coin, is_controlled, MODE_CONTROLLED, sched_hook } from '../sched/hook.js';
import { local_prng_state, prng_below, PRNG_STREAM_UACCESS } from '../lib/prng.js';

/** Scheduling-hook site of a copy to user memory (put_user, copy_to_user). */
export const SITE_PUT_USER = 300;

/**
 * The stress runs' chance (per mille) that a copy site finds its user page not present and the
 * task sleeps on the fault (G.uaccess_fault_permille; `pidrace stress --fault-user`; 0 for other
 * machines unless asked). A model parameter, not a measured rate: high enough that a path whose
 * copies sit inside a race window (wait_task_zombie's, catalog entry 14) is seen sleeping there.
 */
export const UACCESS_FAULT_PERMILLE = 250;

// Free-running fault draws are not reproducible anyway: a thread-local generator state.
const free_rng = local_prng_state(PRNG_STREAM_UACCESS);

/** in_atomic() || irqs_disabled() || an RCU reader: where a fault must not sleep. */
function faulthandler_disabled(): boolean {
  const c = this_cpu;
  return mem[c + CPU.preempt_count] !== 0 || mem[c + CPU.rcu_nesting] !== 0 || mem[c + CPU.irqs_off] !== 0 || mem[c + CPU.in_irq] !== 0;
}

/**
 * might_fault() (include/linux/kernel.h; mm/memory.c __might_fault): `__might_sleep`, since the
 * copy that follows may fault and sleep. (The kernel's might_lock_read(&mm->mmap_lock) has no
 * counterpart: the model has no mm lock.)
 */
export function might_fault(): void {
  might_sleep();
}

/**
 * A copy site's page fault: true when the task must sleep for it. The caller saves where it is
 * (its restart block), returns SLEEP with the task still TASK_RUNNING, and on resume finishes the
 * copy with plain stores (__put_user: the page is present now).
 *
 * The sleep: the handler's wait for the page (folio_lock / I/O completion) is modelled as a
 * wake-up that has already come by the time the task gives up its CPU - it stays runnable and
 * goes to the back of its CPU's runqueue (task_blocked requeues a TASK_RUNNING task; an idle CPU
 * may take it from there). So every other task queued on that CPU runs first, and the other CPUs
 * go on meanwhile: the same interleavings as a short I/O wait, with no timer to bound.
 */
export function user_page_fault(): boolean {
  might_fault();
  // With faults off (every machine but a stress run's, unless asked) a copy is no scheduling
  // point either, so the schedules of other runs stay as they were.
  // A controlled run's in-process setup and teardown (the main thread, outside the controller)
  // take no faults either: their draws would not be reproducible.
  const permille = mem[kg + G.uaccess_fault_permille]!;
  if (permille === 0 || (!is_controlled() && mem[kg + G.mode] === MODE_CONTROLLED)) return false;
  sched_hook(SITE_PUT_USER);
  if (faulthandler_disabled()) return false;
  return is_controlled() ? ctl_coin(permille) : prng_below(free_rng, 0, 1000) < permille;
}

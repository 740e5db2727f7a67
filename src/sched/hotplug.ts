/**
 * CPU hotplug at safe points (kernel/cpu.c, in miniature): a CPU the main thread asks to go
 * offline leaves its scheduling loop between two tasks, stops taking tasks (online = 0, so
 * activate_task sends wake-ups elsewhere), migrates whatever is queued on its runqueue to online
 * CPUs (migrate_tasks) and stays offline until asked back. For RCU an offline CPU is quiescent:
 * rcu_try_complete_gp skips it, as the kernel clears it from the grace-period masks. Its queued
 * callbacks are not migrated; it keeps invoking them while offline, as an rcuo offload kthread
 * would, so every callback still runs after its grace period.
 */
import { CPU, G, RCU_GP_STARTED } from '../mm/layout.js';
import { kg, mem, this_cpu } from '../mm/memory.js';
import { spin_lock_irq, spin_unlock_irq } from '../locking/spinlock.js';
import { kmem_cache_cpu_drain } from '../mm/slab.js';
import { rcu_cbs_ready, rcu_do_batch, rcu_idle_enter, rcu_try_complete_gp } from '../rcu/rcu.js';
import { run_token_get, run_token_put } from './run_token.js';
import { activate_task } from './core.js';
import { ABORT_HOTPLUG, RUN_RUNNING } from './hook.js';
import { TASK } from '../mm/layout.js';

/** CPU.hotplug requests written by the main thread. */
export const HP_NONE = 0;
export const HP_OFFLINE = 1;
export const HP_ONLINE = 2;

/** Take the first task off this CPU's runqueue (dequeue under the rq lock). */
function rq_pop(c: number): number {
  // Pairs with enqueue_task's Atomics.add of rq_nr: a waker that queued here after reading
  // online = 1 is seen by this load (or by the next pass of the offline loop).
  if (Atomics.load(mem, c + CPU.rq_nr) === 0) return 0;
  spin_lock_irq(c + CPU.rq_lock); // interrupts off: see enqueue_task (src/sched/core.ts)
  const p = mem[c + CPU.rq_first]!;
  if (p) {
    const n = mem[p + TASK.rq_next]!;
    mem[c + CPU.rq_first] = n;
    if (!n) mem[c + CPU.rq_last] = 0;
    mem[p + TASK.rq_next] = 0; // on_rq stays 1: it is requeued at once
    // Under rq_lock like every writer; atomic only because dequeue_first's peers peek lock-free.
    Atomics.sub(mem, c + CPU.rq_nr, 1);
  }
  spin_unlock_irq(c + CPU.rq_lock);
  return p;
}

/** migrate_tasks: move everything queued here to online CPUs (activate_task skips offline ones). */
function migrate_tasks(c: number): number {
  let n = 0;
  for (let p = rq_pop(c); p; p = rq_pop(c)) {
    activate_task(p);
    n++;
  }
  return n;
}

/** The CPU asked to go offline left cpu_loop with CPU.abort = ABORT_HOTPLUG: true if it should. */
export function hotplug_requested(): boolean {
  // Pairs with the main thread's Atomics.store of CPU.abort (Machine's hotplug request).
  return Atomics.load(mem, this_cpu + CPU.abort) === ABORT_HOTPLUG;
}

/**
 * Stay offline until the main thread asks the CPU back (or the run ends). Called between tasks,
 * holding nothing. Returns true when the CPU is online again and should re-enter cpu_loop.
 */
export function cpu_offline_until_online(): boolean {
  cpu_takedown();
  for (;;) {
    const r = cpu_offline_step();
    if (r !== HP_STEP_OFFLINE) return r === HP_STEP_ONLINE;
    // The main thread stores run_state / CPU.hotplug and then kicks CPU.park: the park word is
    // sampled after those loads (in cpu_offline_step), so a request made after them changes it
    // and the wait returns at once (else it ends after its 10 ms slice and loops).
    Atomics.wait(mem, this_cpu + CPU.park, offline_park_sample, 10);
  }
}

/** cpu_offline_step's results: still offline, back online, the run ended. */
export const HP_STEP_OFFLINE = 0;
export const HP_STEP_ONLINE = 1;
export const HP_STEP_RUN_END = 2;
/** The park word as cpu_offline_step last sampled it (after its looks at the requests). */
let offline_park_sample = 0;

/** takedown_cpu for this CPU (it left cpu_loop at a hotplug request, holding nothing). */
export function cpu_takedown(): void {
  const c = this_cpu;
  Atomics.store(mem, c + CPU.abort, 0); // the request is taken (main thread's store): orders nothing
  // takedown_cpu: no new tasks come here. Pairs with activate_task's read of online: a waker that
  // still read 1 queues here after this store at worst, and migrate_tasks below (which runs on
  // every pass of the loop) moves it on. rcu_idle_enter's store of CPU.idle comes after this one,
  // so a grace-period scan skips this CPU from then on (offline or idle).
  Atomics.store(mem, c + CPU.online, 0); // takedown_cpu: no new tasks come here
  mem[c + CPU.hotplugs]!++;
  kmem_cache_cpu_drain(); // this CPU's own slab lists go back to the caches (it allocates nothing offline)
  rcu_idle_enter(); // no readers from here on: an extended quiescent state
  rcu_try_complete_gp();
}

/**
 * One look of an offline CPU (this_cpu): move on what a late waker queued here, run its ready
 * callbacks, and come back online when asked. Several CPUs per host thread (src/sched/mux.ts):
 * the thread makes this look on each turn of the offline CPU instead of parking in
 * cpu_offline_until_online.
 */
export function cpu_offline_step(): number {
  const c = this_cpu;
  // A waker that read online = 1 just before the flip may still have queued a task here. That
  // and the callbacks are kernel code: they run with a run token (src/sched/run_token.ts).
  // rq_nr pairs with enqueue_task's Atomics.add (as in rq_pop).
  if ((Atomics.load(mem, c + CPU.rq_nr) !== 0 || rcu_cbs_ready()) && run_token_get()) {
    migrate_tasks(c);
    rcu_do_batch();
    run_token_put();
  }
  if (Atomics.load(mem, kg + G.run_state) !== RUN_RUNNING) return HP_STEP_RUN_END;
  if (Atomics.load(mem, c + CPU.hotplug) !== HP_ONLINE) {
    offline_park_sample = Atomics.load(mem, c + CPU.park);
    return HP_STEP_OFFLINE;
  }
  cpu_bringup();
  return HP_STEP_ONLINE;
}

/** This CPU comes back online (the main thread asked: CPU.hotplug == HP_ONLINE). */
function cpu_bringup(): void {
  const c = this_cpu;
  // Coming up: this CPU has no reader older than the running grace period, so it is quiescent
  // for it (rcu_cpu_starting). Order: the quiescent-state report, then idle = 0, then online = 1,
  // and readers only after that (cpu_loop). A grace-period scan (rcu_try_complete_gp) that sees
  // this CPU online and not idle therefore also sees rcu_qs_gp >= any grace period that started
  // before our load of RCU_GP_STARTED; one that started after it waits for our next quiescent
  // state, as it must (our readers may have begun before it).
  Atomics.store(mem, c + CPU.rcu_qs_gp, Atomics.load(mem, kg + G.rcu + RCU_GP_STARTED));
  Atomics.store(mem, c + CPU.hotplug, HP_NONE);
  Atomics.store(mem, c + CPU.idle, 0);
  Atomics.store(mem, c + CPU.online, 1);
}

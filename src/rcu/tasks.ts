/**
 * RCU Tasks (kernel/rcu/tasks.h) as far as the exit path needs it: exit_tasks_rcu_start / stop /
 * finish around exit_notify, and synchronize_rcu_tasks (SYS_SYNCHRONIZE_RCU_TASKS), in the two
 * designs of docs/catalog-sources.md entries 1-2:
 *
 * - BUG_RCU_TASKS_EXIT_SRCU (before 1612160b9127): exit_tasks_rcu_start is
 *   srcu_read_lock(&tasks_rcu_exit_srcu) (the index lives in TASK.srcu_idx), and
 *   rcu_tasks_postscan does synchronize_srcu(&tasks_rcu_exit_srcu): the grace period waits for every
 *   task between exit_tasks_rcu_start and _stop/_finish, whatever it is doing - sleeping in
 *   zap_pid_ns_processes included. That is the deadlock of entries 1 and 2.
 * - today (6b70399f9ef3 + 1612160b9127): exit_tasks_rcu_start puts the task on its CPU's list of
 *   exiting tasks (TASK.rcu_tasks_exiting = cpu + 1: the model keeps the membership in the task
 *   and walks the task records for the lists, so no per-CPU list head is needed), and postscan
 *   treats those tasks like any other: one that sleeps voluntarily is not a holdout.
 *
 * The grace period, as rcu_tasks_wait_gp: pregp (a normal grace period), the per-task scan
 * (rcu_tasks_pertask: a task other than current that is on a runqueue or running becomes a holdout,
 * with an nvcsw snapshot), postscan (SRCU or the exit lists), the holdout loop (check_holdout_task:
 * a holdout that switched voluntarily, went to sleep, returned to user mode (rcu_tasks_classic_qs
 * in exit_to_user_mode) or died is done), and postgp (a normal grace period: the non-preemptible
 * tail of do_exit after exit_tasks_rcu_finish). The kernel's holdout loop polls with
 * schedule_timeout_idle; the model polls once per normal grace period, sleeping with
 * WCHAN_RCU_TASKS and wait_obj = a remaining holdout, so a wait-for graph can name whom it waits for.
 *
 * Concurrent callers each run their own grace period (the kernel shares one kthread's). The
 * holdout flag is per task, so a caller also waits for holdouts another caller marked: longer, never
 * shorter than its own scan requires, except that a task marked by both keeps the first snapshot.
 *
 * Windows (checked for the SRCU index-flip kind of bug; see test/rcu_windows.test.ts):
 * - exit_tasks_rcu_start, today: the hook comes before the exit-list store, and the task is still
 *   on the tasklist and running there, so a scan at the hook makes it a holdout. The store comes
 *   before exit_notify unhashes the task under write_lock(tasklist_lock): a scan (under
 *   read_lock) that no longer finds it on the tasklist comes after that unlock, and postscan's
 *   load then sees the store.
 * - exit_tasks_rcu_start, SRCU design: srcu_read_lock's own window between the index load and the
 *   count (fixed in srcu.ts). Through rcu-tasks alone it needs two concurrent callers: pregp's
 *   synchronize_rcu waits for the step that holds the load and the count, but a second caller
 *   already past its pregp can flip in the window.
 * - check_all_holdouts tests "running" by state, not by on_rq as rcu_tasks_is_holdout does: a
 *   holdout caught between set_current_state and its switch (prepare_to_wait's hooks) is let go
 *   even if its condition then holds and it runs on. In the model that cannot let a reader
 *   escape: a task is preempted only between steps (user mode or a voluntary sleep), so its
 *   read-side section is within one step, and rcu_tasks_postgp's synchronize_rcu waits for every
 *   step in progress (pregp's for every step that began before the caller).
 */
import { G, POISON_LIVE, TASK } from '../mm/layout.js';
import { kg, mem, regions, SLAB_TASK, this_cpu_id } from '../mm/memory.js';
import { task_peek_begin, task_peek_valid } from '../mm/slab.js';
import { data_race } from '../lib/compiler.js';
import { read_lock, read_unlock } from '../locking/qrwlock.js';
import { current, SLEEP, TASK_RUNNING, TASK_UNINTERRUPTIBLE, WCHAN_RCU_TASKS } from '../sched/core.js';
import { finish_wait, prepare_to_wait } from '../sched/wait.js';
import { sched_hook } from '../sched/hook.js';
import { rcu_completed, rcu_gp_request, synchronize_rcu } from './rcu.js';
import { srcu_exit, srcu_read_lock, srcu_read_unlock, synchronize_srcu } from './srcu.js';
import { BUG_RCU_TASKS_EXIT_SRCU } from '../config/bugs.js';

/** synchronize_rcu_tasks restart phases (TASK.rcu_tasks_phase). */
export const RTP_IDLE = 0;
export const RTP_PREGP = 1;
export const RTP_SCAN = 2;
export const RTP_SRCU = 3;
export const RTP_HOLDOUT = 4;
export const RTP_POSTGP = 5;

/** Scheduling-hook sites of this file. */
export const SITE_RCU_TASKS_EXIT_START = 260;
export const SITE_RCU_TASKS_SCAN = 261;

const srcu_design = (): boolean => (mem[kg + G.bug_switches]! & BUG_RCU_TASKS_EXIT_SRCU) !== 0;

/**
 * exit_tasks_rcu_start (kernel/rcu/tasks.h), called by do_exit before exit_notify: take the
 * tasks_rcu_exit_srcu read side (SRCU design) or join this CPU's exit list (today). Idempotent:
 * a restarted caller that still holds it does nothing.
 */
export function exit_tasks_rcu_start(): void {
  const t = current;
  if (srcu_design()) {
    if (mem[t + TASK.srcu_idx] === 0) srcu_read_lock(srcu_exit(), SITE_RCU_TASKS_EXIT_START);
    return;
  }
  sched_hook(SITE_RCU_TASKS_EXIT_START);
  // Join the exit list (the plain test reads our own word). A plain store: it is ordered before
  // postscan's load by tasklist_lock, not by itself. It comes before exit_notify's write_unlock,
  // which the write_lock of our unhash (release_task) sees, whose write_unlock the scan's read_lock
  // sees (each a sequentially consistent RMW of the lock word reading the one before): a scan that
  // misses us on the tasklist came after our unhash, and so sees this store.
  if (mem[t + TASK.rcu_tasks_exiting] === 0) mem[t + TASK.rcu_tasks_exiting] = this_cpu_id + 1;
}

/**
 * exit_tasks_rcu_stop (kernel/rcu/tasks.h, 28319d6dc5e2 .. 9855c37edf00): drop what
 * exit_tasks_rcu_start took (zap_pid_ns_processes' "first fix" calls it around schedule()).
 * Idempotent.
 */
export function exit_tasks_rcu_stop(): void {
  const t = current;
  const idx = mem[t + TASK.srcu_idx]!;
  if (idx !== 0) srcu_read_unlock(srcu_exit(), idx - 1);
  // Leave the exit list. Orders nothing a grace period relies on (a plain store): a postscan that
  // still sees us only makes us a holdout, and check_all_holdouts lets us go at our next
  // voluntary switch.
  if (mem[t + TASK.rcu_tasks_exiting] !== 0) mem[t + TASK.rcu_tasks_exiting] = 0;
}

/** exit_tasks_rcu_finish (kernel/rcu/tasks.h): the end of the exit-path read side. */
export function exit_tasks_rcu_finish(): void {
  exit_tasks_rcu_stop();
}

/**
 * rcu_tasks_is_holdout (kernel/rcu/tasks.h): a task on a runqueue or running (not voluntarily
 * asleep) delays the grace period. The model's on_rq is "state TASK_RUNNING".
 */
function rcu_tasks_is_holdout(t: number): boolean {
  // A freed task record (poison, stored by kmem_cache_free) is no holdout.
  if (Atomics.load(mem, t + TASK.poison) !== POISON_LIVE) return false;
  // READ_ONCE(t->on_rq) in the kernel. Pairs with set_current_state's Atomics.store and
  // try_to_wake_up's CAS: a sleeping state seen here was stored by the task itself before it
  // tested its wait condition (see the window note above).
  const s = Atomics.load(mem, t + TASK.state);
  return s === TASK_RUNNING;
}

/** rcu_tasks_pertask: make t a holdout (snapshot its voluntary switches). */
function rcu_tasks_pertask(t: number): void {
  if (t === current || !rcu_tasks_is_holdout(t)) return;
  if (Atomics.load(mem, t + TASK.rcu_tasks_holdout) === 0) {
    // Snapshot first, then the flag (t->rcu_tasks_nvcsw = READ_ONCE(t->nvcsw); WRITE_ONCE(
    // t->rcu_tasks_holdout, true)): the store publishes the plain snapshot to check_all_holdouts
    // of another caller, whose load of the flag comes first. nvcsw is written plainly by the CPU
    // running t (run_slice's ++, __schedule's ++*switch_count), hence the marked load, as the
    // kernel's READ_ONCE; a stale value here or there only keeps t a holdout one poll longer.
    mem[t + TASK.rcu_tasks_nvcsw] = Atomics.load(mem, t + TASK.nvcsw);
    Atomics.store(mem, t + TASK.rcu_tasks_holdout, 1);
  }
}

/** The per-task scan of every process and thread (for_each_process_thread), then postscan. */
function rcu_tasks_scan(): void {
  const tl = kg + G.tasklist_lock;
  read_lock(tl, SITE_RCU_TASKS_SCAN);
  const head = mem[kg + G.init_task]!;
  if (head) {
    let p = head;
    do {
      let t = p;
      do {
        rcu_tasks_pertask(t);
        t = mem[t + TASK.thread_next]!;
      } while (t !== p && t !== 0);
      p = mem[p + TASK.tasks_next]!;
    } while (p !== head && p !== 0);
  }
  read_unlock(tl);
}

/**
 * rcu_tasks_postscan, today: walk the exit lists (tasks with rcu_tasks_exiting set; this also
 * finds tasks already unhashed by release_task that still run the tail of do_exit).
 */
function rcu_tasks_postscan_lists(): void {
  const r = regions.objects[SLAB_TASK]!;
  for (let i = 0; i < r.count; i++) {
    const t = r.base + i * r.stride;
    // The kernel walks its per-CPU exit lists under their locks, whose tasks cannot go while on
    // them; this walk of the records holds nothing, so it looks as task_peek_begin/valid say: the
    // record may be freed, or hold a new task, while we look (data_race until validated).
    const id = task_peek_begin(t);
    if (id === 0) continue;
    // exiting pairs with exit_tasks_rcu_start's store (through tasklist_lock, see there).
    const exiting = data_race(Atomics.load(mem, t + TASK.rcu_tasks_exiting)) !== 0 && data_race(Atomics.load(mem, t + TASK.rcu_tasks_holdout)) === 0;
    if (exiting && task_peek_valid(t, id)) rcu_tasks_pertask(t);
  }
}

/**
 * check_holdout_task over every holdout: done when it switched voluntarily since the snapshot,
 * is asleep, died, or had its flag cleared by a return to user mode. Returns a holdout that is
 * still running, or 0 when none is left.
 */
function check_all_holdouts(): number {
  const r = regions.objects[SLAB_TASK]!;
  let left = 0;
  for (let i = 0; i < r.count; i++) {
    const t = r.base + i * r.stride;
    // A freed record is no holdout. The kernel's holdout list pins its tasks with
    // get_task_struct; this walk of the records does not, so it looks as task_peek_begin/valid
    // say (the reads between are data_race: the task may be freed, or replaced, while we look).
    const id = task_peek_begin(t);
    if (id === 0) continue;
    // The flag's load is the ACQUIRE of the snapshot (pairs with rcu_tasks_pertask's store) and of
    // a clear by the task's return to user mode (rcu_tasks_classic_qs, kernel/signal.ts) or exit.
    if (data_race(Atomics.load(mem, t + TASK.rcu_tasks_holdout)) === 0) continue;
    // state pairs with do_exit's store of TASK_DEAD.
    const st = data_race(Atomics.load(mem, t + TASK.state));
    const switched = data_race(mem[t + TASK.rcu_tasks_nvcsw]) !== data_race(mem[t + TASK.nvcsw]);
    if (!task_peek_valid(t, id)) continue;
    // Dead or asleep (not rcu_tasks_is_holdout), or switched voluntarily since the snapshot.
    if (st !== TASK_RUNNING || switched) {
      // Done with t (WRITE_ONCE(t->rcu_tasks_holdout, false)): orders nothing, it is our own
      // bookkeeping; the wait-for graph reads it to name the holdouts.
      Atomics.store(mem, t + TASK.rcu_tasks_holdout, 0);
      continue;
    }
    if (!left) left = t;
  }
  return left;
}

/**
 * synchronize_rcu_tasks (kernel/rcu/tasks.h, rcu_tasks_wait_gp): 0 when a full RCU-tasks grace
 * period has elapsed, SLEEP while waiting (call again; the phase is in TASK.rcu_tasks_phase).
 */
export function synchronize_rcu_tasks(): number {
  const t = current;
  let phase = mem[t + TASK.rcu_tasks_phase]!;
  for (;;) {
    switch (phase) {
      case RTP_IDLE:
        phase = RTP_PREGP;
        mem[t + TASK.rcu_tasks_phase] = phase;
        continue;
      case RTP_PREGP:
        // rcu_tasks_pregp_step: synchronize_rcu().
        if (synchronize_rcu() === SLEEP) return SLEEP;
        phase = RTP_SCAN;
        mem[t + TASK.rcu_tasks_phase] = phase;
        continue;
      case RTP_SCAN:
        rcu_tasks_scan();
        if (srcu_design()) {
          phase = RTP_SRCU;
        } else {
          rcu_tasks_postscan_lists();
          phase = RTP_HOLDOUT;
        }
        mem[t + TASK.rcu_tasks_phase] = phase;
        continue;
      case RTP_SRCU:
        // rcu_tasks_postscan before 1612160b9127: wait for every exiting task's read side.
        if (synchronize_srcu(srcu_exit()) === SLEEP) return SLEEP;
        phase = RTP_HOLDOUT;
        mem[t + TASK.rcu_tasks_phase] = phase;
        continue;
      case RTP_HOLDOUT: {
        const wq = kg + G.rcu_gp_wq;
        if (mem[t + TASK.wait_chan] === WCHAN_RCU_TASKS) {
          // Resumed (or spuriously woken) while polling: wait out the grace period first.
          const target = mem[t + TASK.rcu_tasks_gp]!;
          if (rcu_completed() < target) {
            prepare_to_wait(wq, TASK_UNINTERRUPTIBLE, WCHAN_RCU_TASKS, mem[t + TASK.wait_obj]!, target);
            if (rcu_completed() < target) return SLEEP;
          }
          finish_wait(wq);
        }
        const h = check_all_holdouts();
        if (h !== 0) {
          // Poll again after one normal grace period (every CPU switched at least once).
          const target = rcu_gp_request();
          mem[t + TASK.rcu_tasks_gp] = target;
          prepare_to_wait(wq, TASK_UNINTERRUPTIBLE, WCHAN_RCU_TASKS, h, target);
          if (rcu_completed() < target) return SLEEP;
          finish_wait(wq);
          continue;
        }
        phase = RTP_POSTGP;
        mem[t + TASK.rcu_tasks_phase] = phase;
        continue;
      }
      case RTP_POSTGP:
        // rcu_tasks_postgp: synchronize_rcu() covers the tail of do_exit after exit_tasks_rcu_finish.
        if (synchronize_rcu() === SLEEP) return SLEEP;
        mem[t + TASK.rcu_tasks_phase] = RTP_IDLE;
        return 0;
      default:
        mem[t + TASK.rcu_tasks_phase] = RTP_IDLE;
        return 0;
    }
  }
}

/**
 * Tasks on CPUs: runqueues, try_to_wake_up, the CPU loop and context switches (kernel/sched/core.c).
 *
 * A task is a record; a CPU is a worker thread running `cpu_loop`. A kernel path that must sleep
 * sets its state and wait channel, saves where it is in its restart block and returns SLEEP; the
 * CPU then runs another task. try_to_wake_up moves the state back to TASK_RUNNING (one CAS, so a
 * wake-up and the sleeper's own "set state, then test the condition" cannot lose each other) and
 * queues the task on a runqueue; whichever CPU picks it resumes it at its restart point.
 */
import { CPU, G, TASK } from '../mm/layout.js';
import { cpu_addr, kg, mem, now_ms31, this_cpu, this_cpu_id } from '../mm/memory.js';
import { LC_RQ } from '../locking/lockdep.js';
import { spin_lock, spin_lock_init, spin_unlock } from '../locking/spinlock.js';
import { record_violation, V_SLEEP_IN_ATOMIC } from '../locking/violations.js';
import { check_abort, ctl_idle_wait, is_controlled, KernelAbort, RUN_RUNNING, sched_hook, spin_wait, WAIT_EQ } from './hook.js';
import { rcu_do_batch, rcu_idle_enter, rcu_idle_exit, rcu_note_context_switch } from '../rcu/rcu.js';

/** Task states (include/linux/sched.h). */
export const TASK_RUNNING = 0;
export const TASK_INTERRUPTIBLE = 1;
export const TASK_UNINTERRUPTIBLE = 2;
export const TASK_DEAD = 0x80;
export const TASK_NORMAL = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE;

/** What a sleeping task waits on (its wait channel, the model's wchan). */
export const WCHAN_NONE = 0;
export const WCHAN_MUTEX = 1;
export const WCHAN_WAIT4 = 2;
export const WCHAN_ZAP_PIDS = 3;
export const WCHAN_RCU_GP = 4;
export const WCHAN_SRCU_GP = 5;
export const WCHAN_PAUSE = 6;
export const WCHAN_WAITQ = 7;
export const WCHAN_RCU_TASKS = 8;
export const WCHAN_VFORK = 9;
export const WCHAN_NAMES = ['-', 'mutex_lock', 'do_wait', 'zap_pid_ns_processes', 'synchronize_rcu', 'synchronize_srcu', 'pause', 'wait_event', 'synchronize_rcu_tasks', 'wait_for_vfork_done'];

/** Returned by a kernel path that went to sleep; the CPU switches away and resumes it later. */
export const SLEEP = -0x10000;
/** Results of one step of a task (what the CPU loop does next). */
export const STEP_DONE = 0; // a syscall completed: back in user mode
export const STEP_SLEEP = 1; // went to sleep
export const STEP_DEAD = 2; // finished do_exit: never runs again
export const STEP_IDLE = 3; // a scripted task has nothing to do (it sleeps in pause)

/** The task running on this CPU (`current`). */
export let current = 0;

export function set_current(t: number): void {
  current = t;
}

/** The kernel's per-task step (entry code: run the pending call or the next user instruction). */
export interface TaskRunner {
  step(t: number): number;
  /** finish_task_switch for a dead task (drops the scheduler's reference). */
  task_dead(t: number): void;
}

// ---- runqueues ------------------------------------------------------------------------------

export function rq_init(cpu: number): void {
  spin_lock_init(cpu + CPU.rq_lock, LC_RQ);
  mem[cpu + CPU.rq_first] = 0;
  mem[cpu + CPU.rq_last] = 0;
  mem[cpu + CPU.rq_nr] = 0;
}

/** Append to a runqueue (enqueue_task). */
function enqueue_task(cpu: number, p: number): void {
  spin_lock(cpu + CPU.rq_lock);
  mem[p + TASK.rq_next] = 0;
  const last = mem[cpu + CPU.rq_last]!;
  if (last) mem[last + TASK.rq_next] = p;
  else mem[cpu + CPU.rq_first] = p;
  mem[cpu + CPU.rq_last] = p;
  mem[p + TASK.on_rq] = 1;
  mem[p + TASK.cpu] = mem[cpu + CPU.id]!;
  Atomics.add(mem, cpu + CPU.rq_nr, 1);
  spin_unlock(cpu + CPU.rq_lock);
}

function dequeue_first(cpu: number): number {
  if (Atomics.load(mem, cpu + CPU.rq_nr) === 0) return 0;
  spin_lock(cpu + CPU.rq_lock);
  const p = mem[cpu + CPU.rq_first]!;
  if (p) {
    const n = mem[p + TASK.rq_next]!;
    mem[cpu + CPU.rq_first] = n;
    if (!n) mem[cpu + CPU.rq_last] = 0;
    mem[p + TASK.rq_next] = 0;
    mem[p + TASK.on_rq] = 0;
    Atomics.sub(mem, cpu + CPU.rq_nr, 1);
  }
  spin_unlock(cpu + CPU.rq_lock);
  return p;
}

/** Kick a parked CPU (the model's reschedule IPI). */
export function kick_cpu(id: number): void {
  const c = cpu_addr(id);
  Atomics.add(mem, c + CPU.park, 1);
  Atomics.notify(mem, c + CPU.park);
}

/** Queue a runnable task: on the CPU it last ran on when that CPU is online, else on this one. */
export function activate_task(p: number): void {
  const n = mem[kg + G.ncpus]!;
  let target = mem[p + TASK.cpu]!;
  if (target < 0 || target >= n || mem[cpu_addr(target) + CPU.online] !== 1) target = this_cpu_id;
  if (mem[cpu_addr(target) + CPU.online] !== 1) {
    for (let i = 0; i < n; i++) if (mem[cpu_addr(i) + CPU.online] === 1) { target = i; break; }
  }
  enqueue_task(cpu_addr(target), p);
  if (is_controlled()) return;
  if (Atomics.load(mem, cpu_addr(target) + CPU.idle) === 1) kick_cpu(target);
  else {
    // The target is busy: let an idle CPU steal it rather than wait for the target.
    for (let i = 0; i < n; i++) {
      if (i !== target && Atomics.load(mem, cpu_addr(i) + CPU.idle) === 1) { kick_cpu(i); break; }
    }
  }
}

/**
 * try_to_wake_up: if p sleeps in one of `states`, make it TASK_RUNNING and queue it.
 * The CAS on `state` pairs with the sleeper's store of its sleeping state before it tests its
 * wait condition: either the sleeper sees the condition, or we see the sleeping state.
 */
export function try_to_wake_up(p: number, states: number): boolean {
  for (;;) {
    const s = Atomics.load(mem, p + TASK.state);
    if ((s & states) === 0 || s === TASK_DEAD) return false;
    if (Atomics.compareExchange(mem, p + TASK.state, s, TASK_RUNNING) === s) break;
  }
  activate_task(p);
  return true;
}

export function wake_up_process(p: number): boolean {
  return try_to_wake_up(p, TASK_NORMAL);
}

/**
 * set_current_state + the wait channel: call before testing the condition you wait for.
 * Returns SLEEP so callers can `return prepare_sleep(...)` after the test failed.
 */
export function set_current_state(state: number, wchan: number, obj: number): void {
  const t = current;
  mem[t + TASK.wait_chan] = wchan;
  mem[t + TASK.wait_obj] = obj;
  mem[t + TASK.sleep_since] = now_ms31();
  Atomics.store(mem, t + TASK.state, state);
}

/** __set_current_state(TASK_RUNNING) after the condition held: the wait is over. */
export function set_running(): void {
  const t = current;
  Atomics.store(mem, t + TASK.state, TASK_RUNNING);
  mem[t + TASK.wait_chan] = WCHAN_NONE;
  mem[t + TASK.wait_obj] = 0;
}

/** Pick the next task: this CPU's runqueue first, then steal from the busiest. */
function pick_next_task(): number {
  const own = dequeue_first(this_cpu);
  if (own) return own;
  const n = mem[kg + G.ncpus]!;
  let best = -1;
  let most = 0;
  for (let i = 0; i < n; i++) {
    if (i === this_cpu_id) continue;
    const nr = Atomics.load(mem, cpu_addr(i) + CPU.rq_nr);
    if (nr > most) { most = nr; best = i; }
  }
  return best >= 0 ? dequeue_first(cpu_addr(best)) : 0;
}

/** Steps a task may run before it goes to the back of the queue (a time slice, in syscalls). */
export const SLICE = 64;

/** Run one task until it sleeps, dies or uses up its slice. */
function run_task(runner: TaskRunner, p: number): void {
  const c = this_cpu;
  // A CPU that put p to sleep may still be switching away from it: wait until it let go
  // (try_to_wake_up's smp_cond_load_acquire(&p->on_cpu, !VAL)).
  if (Atomics.load(mem, p + TASK.on_cpu) !== 0) spin_wait(p, 0, p + TASK.on_cpu, WAIT_EQ, 0, 0);
  Atomics.store(mem, p + TASK.on_cpu, this_cpu_id + 1);
  Atomics.store(mem, c + CPU.curr, p);
  current = p;
  mem[c + CPU.switches]++;
  let requeue = false;
  let dead = false;
  try {
    for (let i = 0; i < SLICE; i++) {
      const r = runner.step(p);
      if (r === STEP_DONE) {
        Atomics.add(mem, kg + G.progress, 1);
        mem[c + CPU.syscalls]++;
        rcu_note_context_switch(); // return to user mode is a quiescent state
        if (i === SLICE - 1) requeue = true;
        continue;
      }
      if (r === STEP_SLEEP || r === STEP_IDLE) {
        if (mem[c + CPU.preempt_count] !== 0 || mem[c + CPU.rcu_nesting] !== 0) {
          record_violation(V_SLEEP_IN_ATOMIC, mem[c + CPU.preempt_count]!, mem[c + CPU.rcu_nesting]!, p);
        }
        mem[p + TASK.nvcsw]++;
        Atomics.add(mem, kg + G.progress, 1);
      }
      if (r === STEP_DEAD) dead = true;
      break;
    }
  } finally {
    current = 0;
    Atomics.store(mem, c + CPU.curr, 0);
    // Release: the next CPU to run p waits for this store (pairs with the spin_wait above).
    Atomics.store(mem, p + TASK.on_cpu, 0);
  }
  rcu_note_context_switch();
  if (dead) runner.task_dead(p);
  else if (requeue) activate_task(p);
}

export interface CpuLoopOptions {
  /** Return as soon as there is nothing to run (the in-process runner); workers park instead. */
  returnWhenIdle?: boolean;
}

/** The CPU's main loop (the idle loop and schedule()). Leaves when the run is no longer running. */
export function cpu_loop(runner: TaskRunner, opts: CpuLoopOptions = {}): void {
  const c = this_cpu;
  for (;;) {
    if (Atomics.load(mem, kg + G.run_state) !== RUN_RUNNING) return;
    if (Atomics.load(mem, c + CPU.abort) !== 0) return;
    sched_hook(1);
    rcu_do_batch();
    const p = pick_next_task();
    if (p) {
      run_task(runner, p);
      continue;
    }
    if (opts.returnWhenIdle) return;
    cpu_idle();
  }
}

/** Nothing to run: an extended quiescent state for RCU, parked until kicked (bounded slices). */
function cpu_idle(): void {
  const c = this_cpu;
  rcu_idle_enter();
  try {
    if (is_controlled()) {
      // Publish "idle": the controller only picks this CPU again when it has work.
      ctl_idle_wait(c + CPU.park);
      return;
    }
    const v = Atomics.load(mem, c + CPU.park);
    if (any_runnable()) return;
    Atomics.wait(mem, c + CPU.park, v, 10);
    check_abort();
  } catch (e) {
    if (!(e instanceof KernelAbort)) throw e;
  } finally {
    rcu_idle_exit();
  }
}

function any_runnable(): boolean {
  const n = mem[kg + G.ncpus]!;
  for (let i = 0; i < n; i++) if (Atomics.load(mem, cpu_addr(i) + CPU.rq_nr) > 0) return true;
  return false;
}

/**
 * Tasks on CPUs: runqueues, try_to_wake_up, the CPU loop and context switches (kernel/sched/core.c).
 *
 * A task is a record; a CPU is a worker thread running `cpu_loop`. A kernel path that must sleep
 * sets its state and wait channel, saves where it is in its restart block and returns SLEEP; the
 * CPU then runs another task. try_to_wake_up moves the state back to TASK_RUNNING (one CAS, so a
 * wake-up and the sleeper's own "set state, then test the condition" cannot lose each other) and
 * queues the task on a runqueue; whichever CPU picks it resumes it at its restart point.
 *
 * On a machine with one CPU (G.ncpus === 1) only one thread ever runs this code, so the words that
 * other CPUs would race on (task state, on_cpu, rq_nr, G.progress) are read and written with plain
 * accesses there, as a uniprocessor build does (see spinlock.ts); with more CPUs every pairing
 * described below is an Atomics operation.
 */
import { CPU, G, TASK } from '../mm/layout.js';
import { cpu_addr, jiffies, jiffies_switch, jiffies_tick, kg, mem, this_cpu, this_cpu_id } from '../mm/memory.js';
import { LC_RQ } from '../locking/lockdep.js';
import { spin_lock_init, spin_lock_irq, spin_unlock_irq } from '../locking/spinlock.js';
import { up_boot } from '../locking/lock_flags.js';
import { tracing, trace_event_noclock, trace_switch_in, TR_SLEEP, TR_SWITCH_OUT, TR_WAKEUP } from '../tracing/trace.js';
import { record_violation, V_SLEEP_IN_ATOMIC } from '../locking/violations.js';
import { check_abort, ctl_idle_wait, is_controlled, KernelAbort, RUN_RUNNING, sched_hook, spin_wait, stall_clock, WAIT_EQ } from './hook.js';
import { rcu_cbs_ready, rcu_do_batch, rcu_idle_enter, rcu_idle_exit, rcu_note_context_switch } from '../rcu/rcu.js';
import { run_token_attach, run_token_count_yield, run_token_get, run_token_held, run_token_put, run_token_should_yield, run_token_slice_start, run_tokens_busy, run_tokens_on } from './run_token.js';

/** Task states (include/linux/sched.h). */
export const TASK_RUNNING = 0;
export const TASK_INTERRUPTIBLE = 1;
export const TASK_UNINTERRUPTIBLE = 2;
export const __TASK_STOPPED = 4;
/** __TASK_TRACED: stopped in ptrace_stop; TASK_TRACED is __TASK_TRACED alone today (a fatal signal wakes it through signal_wake_up's state). */
export const __TASK_TRACED = 8;
export const TASK_TRACED = __TASK_TRACED;
export const TASK_DEAD = 0x80;
export const TASK_WAKEKILL = 0x100;
/** TASK_STOPPED = TASK_WAKEKILL | __TASK_STOPPED: SIGCONT (wake_up_state __TASK_STOPPED) or a fatal signal wakes it. */
export const TASK_STOPPED = TASK_WAKEKILL | __TASK_STOPPED;
/** TASK_NEW: a child copy_process built and wake_up_new_task has not woken yet; no waker matches it. */
export const TASK_NEW = 0x0800;
export const TASK_NORMAL = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE;
/** TASK_KILLABLE = TASK_WAKEKILL | TASK_UNINTERRUPTIBLE: only a fatal signal (or the waker) ends the sleep. */
export const TASK_KILLABLE = TASK_WAKEKILL | TASK_UNINTERRUPTIBLE;

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
export const WCHAN_SIGNAL_STOP = 10;
export const WCHAN_PIDFD_POLL = 11;
/** ptrace_stop (kernel/signal.c): TASK_TRACED, until the tracer resumes it (or SIGKILL, or the tracer goes). */
export const WCHAN_PTRACE_STOP = 12;
/** de_thread (fs/exec.c): execve waits for the other threads of its group to be released. */
export const WCHAN_DE_THREAD = 13;
/**
 * A percpu_rw_semaphore (src/locking/percpu_rwsem.ts): percpu_rwsem_wait (a reader or writer
 * blocked by sem->block; wq_arg PRW_WAIT_BLOCK) or the writer's rcuwait for readers to drain
 * (wq_arg PRW_WAIT_READERS). wait_obj is the semaphore.
 */
export const WCHAN_PERCPU_RWSEM = 14;
export const WCHAN_NAMES = ['-', 'mutex_lock', 'do_wait', 'zap_pid_ns_processes', 'synchronize_rcu', 'synchronize_srcu', 'pause', 'wait_event', 'synchronize_rcu_tasks', 'wait_for_vfork_done', 'do_signal_stop', 'pidfd_poll', 'ptrace_stop', 'de_thread', 'percpu_rwsem_wait'];

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

/** One CPU: no other thread touches shared memory while this one runs the kernel. */
function up(m: Int32Array): boolean {
  return up_boot(m);
}

/** Append to a runqueue (enqueue_task). */
function enqueue_task(cpu: number, p: number): void {
  // Interrupts off, as the kernel's rq locking always is (try_to_wake_up's irqsave, schedule()'s
  // local_irq_disable): a wake-up from an interrupt handler (a signal sent by kill_fasync or a
  // timer) takes the lock too, and lockdep's irq-safety rule reports it otherwise.
  spin_lock_irq(cpu + CPU.rq_lock);
  const m = mem;
  m[p + TASK.rq_next] = 0;
  const last = m[cpu + CPU.rq_last]!;
  if (last) m[last + TASK.rq_next] = p;
  else m[cpu + CPU.rq_first] = p;
  m[cpu + CPU.rq_last] = p;
  m[p + TASK.on_rq] = 1;
  m[p + TASK.cpu] = m[cpu + CPU.id]!;
  // Atomic: an idle CPU publishes CPU.idle and then peeks at rq_nr, we add here and then look at
  // its idle word (activate_task); both sides sequentially consistent, so one of us sees the other.
  if (up(m)) m[cpu + CPU.rq_nr]!++;
  else Atomics.add(m, cpu + CPU.rq_nr, 1);
  spin_unlock_irq(cpu + CPU.rq_lock);
}

function dequeue_first(cpu: number): number {
  return dequeue_first_to(cpu, -1);
}

/**
 * Take the first task off `cpu`'s runqueue; a CPU that steals it from another runqueue (`to` >= 0)
 * makes it its own (set_task_cpu on migration), so the task's next wake-up queues it where it
 * last ran instead of sending it back to the runqueue it was stolen from.
 */
function dequeue_first_to(cpu: number, to: number): number {
  // Lock-free peek: a stale non-zero costs a lock round trip, a stale zero is caught by the idle
  // path (it re-peeks every runqueue after publishing CPU.idle).
  if (mem[cpu + CPU.rq_nr] === 0) return 0;
  spin_lock_irq(cpu + CPU.rq_lock); // interrupts off: see enqueue_task
  const m = mem;
  const p = m[cpu + CPU.rq_first]!;
  if (p) {
    const n = m[p + TASK.rq_next]!;
    m[cpu + CPU.rq_first] = n;
    if (!n) m[cpu + CPU.rq_last] = 0;
    m[p + TASK.rq_next] = 0;
    if (to >= 0) m[p + TASK.cpu] = to;
    // on_rq stays 1: a running task is still "on the runqueue" for try_to_wake_up (Linux's
    // p->on_rq); the CPU clears it when the task blocks (run_task).
    // Every writer holds rq_lock, and taking work away needs no handshake with an idle CPU: a
    // plain store, published by the unlock.
    m[cpu + CPU.rq_nr] = m[cpu + CPU.rq_nr]! - 1;
  }
  spin_unlock_irq(cpu + CPU.rq_lock);
  return p;
}

/** Kick a parked CPU (the model's reschedule IPI). */
export function kick_cpu(id: number): void {
  const c = cpu_addr(id);
  // Pairs with cpu_idle's Atomics.load of CPU.park before it checks for work: if that load came
  // before this add, the Atomics.wait on the old value returns at once (or this notify wakes it);
  // if after, the work our caller published before kicking is seen by its checks.
  Atomics.add(mem, c + CPU.park, 1);
  Atomics.notify(mem, c + CPU.park);
  // Several CPUs per host thread (src/sched/mux.ts): any host thread may run this CPU's next
  // turn, and a thread with nothing to run sleeps on G.mux_park, sampled before it looks at the
  // CPUs for work (the same pairing). One thread is enough to take the work.
  if (mem[c + CPU.mux_lead] !== 0) mux_kick();
}

/** Wake one host thread parked with nothing to run (src/sched/mux.ts). */
export function mux_kick(): void {
  Atomics.add(mem, kg + G.mux_park, 1);
  Atomics.notify(mem, kg + G.mux_park, 1);
}

/** Wake flags (kernel/sched/sched.h): WF_FORK, a new task (wake_up_new_task); it maps to SD_BALANCE_FORK. */
export const WF_FORK = 0x04;

/**
 * available_idle_cpu (kernel/sched/core.c): nothing running and nothing queued (idle_cpu), and not
 * a preempted vCPU (vcpu_is_preempted) - here a CPU waiting for a run token or for its turn on its
 * host thread (CPU.tok_wait), which runs nothing until then. Plain peeks, as the kernel's are: in
 * controlled mode only one CPU runs, so they are exact there (no host timing in the placement).
 */
function available_idle_cpu(m: Int32Array, c: number): boolean {
  return m[c + CPU.curr] === 0 && m[c + CPU.rq_nr] === 0 && m[c + CPU.tok_wait] === 0;
}

/** cpu_load (kernel/sched/fair.c) in the model's units: the tasks queued on the CPU and the one running. */
function cpu_load(m: Int32Array, c: number): number {
  return m[c + CPU.rq_nr]! + (m[c + CPU.curr] !== 0 ? 1 : 0);
}

/**
 * select_task_rq (kernel/sched/core.c) for WF_FORK, the only wake flag the model balances on:
 * wake_up_new_task's `__set_task_cpu(p, select_task_rq(p, task_cpu(p), &wake_flags))` with
 * `wake_flags = WF_FORK`. select_task_rq_fair takes the slow path for it,
 * sched_balance_find_dst_cpu (find_idlest_cpu before v6.10) over the domains with SD_BALANCE_FORK,
 * whose sched_balance_find_dst_group_cpu returns an idle CPU if the group has one, else its least
 * loaded CPU. The model has one flat domain with a group per CPU, visited from the forking CPU's
 * own group on (sched_balance_find_dst_group walks sd->groups from the local group and keeps the
 * first of equals): the first idle online CPU after `cpu`, else the least loaded one, else `cpu`
 * itself - it stays unless another CPU has strictly fewer tasks (the kernel keeps the local group
 * unless the idlest is less loaded by its imbalance margin; the model has no PELT load, no
 * imbalance_pct and no idle-state exit latencies). Read in stored copies of kernel/sched/fair.c and
 * core.c (sources: docs/catalog-sources.md, "fork balancing"). `G.sched_fork_balance` off (the
 * default; `pidrace stress --fork-balance` turns it on): `cpu`, the parent's CPU.
 */
export function select_task_rq(_p: number, cpu: number, wake_flags: number): number {
  const m = mem;
  if (wake_flags !== WF_FORK || m[kg + G.sched_fork_balance] === 0) return cpu;
  const n = m[kg + G.ncpus]!;
  let best = cpu;
  let min_load = cpu_load(m, cpu_addr(cpu));
  for (let k = 1; k < n; k++) {
    const i = (cpu + k) % n;
    const c = cpu_addr(i);
    if (m[c + CPU.online] !== 1) continue;
    if (available_idle_cpu(m, c)) return i;
    const load = cpu_load(m, c);
    if (load < min_load) { min_load = load; best = i; }
  }
  return best;
}

/** Queue a runnable task: on the CPU it last ran on when that CPU is online, else on this one. */
export function activate_task(p: number): void {
  const m = mem;
  const n = m[kg + G.ncpus]!;
  let target = m[p + TASK.cpu]!;
  if (target < 0 || target >= n || m[cpu_addr(target) + CPU.online] !== 1) target = this_cpu_id;
  if (m[cpu_addr(target) + CPU.online] !== 1) {
    for (let i = 0; i < n; i++) if (m[cpu_addr(i) + CPU.online] === 1) { target = i; break; }
  }
  const tc = cpu_addr(target);
  enqueue_task(tc, p);
  if (n === 1 || is_controlled()) return; // nobody to kick: this CPU runs it next
  // Pairs with rcu_idle_enter's Atomics.store of CPU.idle = 1: we added rq_nr (enqueue_task) and
  // then load idle; the idle CPU stores idle and then loads rq_nr (any_runnable). Store-buffering
  // with sequentially consistent accesses on both sides: at least one sees the other, so the task
  // is never left queued behind a CPU that parks.
  // A CPU waiting for a run token (or for its turn on its host thread) is idle for RCU but not
  // parked in the idle loop: a kick does not help it (it runs its queue on its next turn), so an
  // idle CPU that can steal is kicked.
  if (Atomics.load(m, tc + CPU.idle) === 1 && m[tc + CPU.tok_wait] === 0) kick_cpu(target);
  else if (!run_tokens_busy()) {
    // The target is busy: let an idle CPU steal it rather than wait for the target. Not while
    // every run token is in use: the kicked CPU could only queue for a token (a futex wake that
    // takes a host core from a token holder for nothing); a token holder that runs dry steals it.
    for (let i = 0; i < n; i++) {
      const ic = cpu_addr(i);
      if (i !== target && Atomics.load(m, ic + CPU.idle) === 1 && m[ic + CPU.tok_wait] === 0) { kick_cpu(i); break; }
    }
  }
}

/**
 * try_to_wake_up: if p sleeps in one of `states`, make it TASK_RUNNING and queue it.
 * The CAS on `state` pairs with the sleeper's store of its sleeping state before it tests its
 * wait condition: either the sleeper sees the condition, or we see the sleeping state.
 */
export function try_to_wake_up(p: number, states: number): boolean {
  const m = mem;
  // Atomic load: it must not be satisfied before the caller's store of the wake condition (a stale
  // "running" here would lose the wake-up). A failed CAS hands back the current state.
  if (up(m)) {
    const s = m[p + TASK.state]!;
    if ((s & states) === 0 || s === TASK_DEAD) return false;
    m[p + TASK.state] = TASK_RUNNING;
  } else {
    let s = Atomics.load(m, p + TASK.state);
    for (;;) {
      if ((s & states) === 0 || s === TASK_DEAD) return false;
      const was = Atomics.compareExchange(m, p + TASK.state, s, TASK_RUNNING);
      if (was === s) break;
      s = was;
    }
  }
  // ttwu_runnable: a task still on a CPU (it set its state but has not blocked yet, or its
  // condition came true and it goes on) or already queued is not queued again; the CPU that
  // blocks it sees TASK_RUNNING and requeues it. Exactly one of us claims the enqueue (the CAS
  // pairs with the one in task_blocked).
  if (up(m)) {
    if (m[p + TASK.on_rq] !== 0) return true;
    m[p + TASK.on_rq] = 1;
  } else if (Atomics.compareExchange(m, p + TASK.on_rq, 0, 1) !== 0) return true; // vs task_blocked's CAS
  activate_task(p);
  if (tracing) trace_event_noclock(TR_WAKEUP, m[p + TASK.cpu]! & 0xff, p, current);
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
  const m = mem;
  m[t + TASK.wait_chan] = wchan;
  m[t + TASK.wait_obj] = obj;
  m[t + TASK.sleep_since] = jiffies; // the tick's clock (memory.ts), read at this task's switch-in
  // SMP: sequentially consistent, so the caller's later load of its wait condition cannot be
  // satisfied before this store (pairs with try_to_wake_up's CAS).
  if (up(m)) m[t + TASK.state] = state;
  else Atomics.store(m, t + TASK.state, state);
}

/** __set_current_state(TASK_RUNNING) after the condition held: the wait is over. */
export function set_running(): void {
  const t = current;
  const m = mem;
  if (up(m)) m[t + TASK.state] = TASK_RUNNING;
  else Atomics.store(m, t + TASK.state, TASK_RUNNING);
  m[t + TASK.wait_chan] = WCHAN_NONE;
  m[t + TASK.wait_obj] = 0;
}

/**
 * May this CPU steal from CPU i's runqueue? When i waits for a run token, only while it has more
 * than one task queued: it keeps one for its next turn. Stealing its last task would move that
 * task for good to whichever CPU ran dry first, leave CPU i nothing to do on its own turns
 * (per-CPU fairness) and cost the task a migration; a token holder that runs dry hands its token
 * on instead (cpu_idle). Plain reads: a stale value only moves one task or leaves it for its own
 * CPU, which runs it either way. The same with several CPUs per host thread (src/sched/mux.ts):
 * a CPU waiting for its turn keeps its last task, and a free thread runs that CPU's turn instead.
 */
function may_steal_from(m: Int32Array, ic: number): boolean {
  return !run_tokens_on() || m[ic + CPU.tok_wait] === 0 || m[ic + CPU.rq_nr]! > 1;
}

/** Pick the next task: this CPU's runqueue first, then steal from the busiest (exported for test/run_tokens.test.ts). */
export function pick_next_task(): number {
  const own = dequeue_first(this_cpu);
  if (own) return own;
  const m = mem;
  const n = m[kg + G.ncpus]!;
  let best = -1;
  let most = 0;
  for (let i = 0; i < n; i++) {
    if (i === this_cpu_id || !may_steal_from(m, cpu_addr(i))) continue;
    const nr = m[cpu_addr(i) + CPU.rq_nr]!; // a peek (see dequeue_first)
    if (nr > most) { most = nr; best = i; }
  }
  return best >= 0 ? dequeue_first_to(cpu_addr(best), this_cpu_id) : 0;
}

/** Bounds of the idle poll (idle_poll). */
const IDLE_POLL_MIN_NS = 10_000;
const IDLE_POLL_MAX_NS = 200_000;

/** Steps a task may run before it goes to the back of the queue (a time slice, in syscalls). */
export const SLICE = 64;

/** How run_slice ended (bits): the task died, or used its whole slice and goes to the back. */
const SLICE_DEAD = 1;
const SLICE_REQUEUE = 2;
const SLICE_BLOCKED = 4;

/** Run one task until it sleeps, dies or uses up its slice. */
function run_task(runner: TaskRunner, p: number): void {
  const m = mem;
  const c = this_cpu;
  // A CPU that put p to sleep may still be switching away from it: wait until it let go
  // (try_to_wake_up's smp_cond_load_acquire(&p->on_cpu, !VAL)).
  if ((up(m) ? m[p + TASK.on_cpu]! : Atomics.load(m, p + TASK.on_cpu)) !== 0) spin_wait(p, 0, p + TASK.on_cpu, WAIT_EQ, 0, 0);
  // Plain stores: on_cpu != 0 and CPU.curr are only looked at (reports, lockdep's current task);
  // the ordering that matters is the release of on_cpu below.
  m[p + TASK.on_cpu] = this_cpu_id + 1;
  m[c + CPU.curr] = p;
  current = p;
  m[c + CPU.switches]!++;
  jiffies_switch(); // a context switch is a tick point of the model's clock (memory.ts)
  m[c + CPU.switch_stamp] = stall_clock();
  if (tracing) trace_switch_in(p);
  let how: number;
  try {
    how = run_slice(runner, p, m, c);
  } catch (e) {
    switch_out(m, c, p);
    throw e;
  }
  switch_out(m, c, p);
  if (tracing) trace_event_noclock(TR_SWITCH_OUT, how, p, 0);
  rcu_note_context_switch();
  if ((how & SLICE_BLOCKED) !== 0) task_blocked(m, p);
  if ((how & SLICE_DEAD) !== 0) {
    // A dead task is never woken (try_to_wake_up refuses TASK_DEAD before it touches on_rq):
    // this store pairs with nothing, it only keeps on_rq meaningful for reports and audit.
    if (up(m)) m[p + TASK.on_rq] = 0;
    else Atomics.store(mem, p + TASK.on_rq, 0);
    runner.task_dead(p);
  }
  else if ((how & SLICE_REQUEUE) !== 0) activate_task(p);
}

/**
 * deactivate_task for a task that went to sleep: it leaves the runqueue (on_rq = 0) unless a
 * wake-up came while it was still running, in which case it goes straight back on one. The CAS
 * decides between us and a concurrent try_to_wake_up which one queues it.
 */
function task_blocked(m: Int32Array, p: number): void {
  if (up(m)) {
    if (m[p + TASK.state] === TASK_RUNNING) activate_task(p); // on_rq stays 1
    else m[p + TASK.on_rq] = 0;
    return;
  }
  // Store on_rq = 0, then look at state; try_to_wake_up CASes state to RUNNING, then CASes on_rq
  // 0 -> 1. Sequentially consistent both sides: if its on_rq CAS failed (saw our 1 still), our
  // load of state comes after its state CAS and sees RUNNING; then the on_rq CAS picks one of us.
  Atomics.store(mem, p + TASK.on_rq, 0);
  if (Atomics.load(mem, p + TASK.state) === TASK_RUNNING && Atomics.compareExchange(mem, p + TASK.on_rq, 0, 1) === 0) activate_task(p);
}

function switch_out(m: Int32Array, c: number, p: number): void {
  current = 0;
  m[c + CPU.curr] = 0;
  // Release: the next CPU to run p waits for this store (pairs with the spin_wait in run_task).
  if (up(m)) m[p + TASK.on_cpu] = 0;
  else Atomics.store(mem, p + TASK.on_cpu, 0);
}

/**
 * The steps of one time slice. The completed steps (and a sleep) are added to CPU.syscalls once,
 * at the end of the slice, and to G.progress through progress_add.
 */
function run_slice(runner: TaskRunner, p: number, m: Int32Array, c: number): number {
  let done = 0;
  let slept = 0;
  let how = 0;
  for (let i = 0; i < SLICE; i++) {
    const r = runner.step(p);
    if (r === STEP_DONE) {
      done++;
      rcu_note_context_switch(); // return to user mode is a quiescent state
      if (i === SLICE - 1) how = SLICE_REQUEUE;
      continue;
    }
    if (r === STEP_SLEEP || r === STEP_IDLE) {
      if (m[c + CPU.preempt_count] !== 0 || m[c + CPU.rcu_nesting] !== 0) {
        record_violation(V_SLEEP_IN_ATOMIC, m[c + CPU.preempt_count]!, m[c + CPU.rcu_nesting]!, p);
      }
      m[p + TASK.nvcsw]!++;
      if (tracing) trace_event_noclock(TR_SLEEP, m[p + TASK.wait_chan]!, p, m[p + TASK.wait_obj]!);
      slept = 1;
      how = SLICE_BLOCKED;
    } else if (r === STEP_DEAD) how = SLICE_DEAD;
    break;
  }
  if (done !== 0) m[c + CPU.syscalls]! += done;
  if (done + slept !== 0) progress_add(m, done + slept);
  return how;
}

/**
 * G.progress counts every completed step (the hung-task watchdog on the main thread reads it). It
 * shares a cache line with tasklist_lock and G.run_state, so with several CPUs each one adds its
 * steps in batches of PROGRESS_BATCH (and whatever is left when it goes idle or leaves the loop):
 * the count stays exact and a busy CPU still moves it every few microseconds.
 */
const PROGRESS_BATCH = 64;
let progress_pending = 0;
function progress_add(m: Int32Array, n: number): void {
  if (up(m)) {
    m[kg + G.progress]! += n;
    return;
  }
  progress_pending += n;
  if (progress_pending >= PROGRESS_BATCH) progress_flush(m);
}

function progress_flush(m: Int32Array): void {
  if (progress_pending === 0) return;
  // A counter (no lost update between CPUs); the hung-task watchdog only compares samples of it,
  // so it orders nothing.
  Atomics.add(m, kg + G.progress, progress_pending);
  progress_pending = 0;
}

export interface CpuLoopOptions {
  /** Return as soon as there is nothing to run (the in-process runner); workers park instead. */
  returnWhenIdle?: boolean;
  /**
   * This thread hosts this many CPUs (src/sched/mux.ts) and switches between them: one turn of
   * this CPU, which ends at the end of its slice (CPU_LOOP_YIELD) or when it finds nothing to run
   * (CPU_LOOP_IDLE) instead of parking. The CPU enters the turn in an extended quiescent state
   * (how the thread left it at its last turn) and leaves it in one.
   */
  hosted?: number;
}

/** How cpu_loop returned: the run ended, the CPU was told to leave, or hotplug (look at why). */
export const CPU_LOOP_LEFT = 0;
/** Several CPUs per thread: the turn's slice is over; the CPU has work and waits for its next turn. */
export const CPU_LOOP_YIELD = 1;
/** Several CPUs per thread: nothing to run; the CPU is idle (kickable) until its next turn. */
export const CPU_LOOP_IDLE = 2;

/** The CPU's main loop (the idle loop and schedule()). Leaves when the run is no longer running. */
export function cpu_loop(runner: TaskRunner, opts: CpuLoopOptions = {}): number {
  const c = this_cpu;
  const hosted = opts.hosted ?? 0;
  progress_pending = 0;
  // Kernel code runs only with a run token (src/sched/run_token.ts; off unless CPUs > cores), or
  // on its turn on the thread that hosts it.
  run_token_attach(!opts.returnWhenIdle, hosted); // in-process: one thread, no tokens
  if (hosted > 1) host_turn_start(c);
  else if (!token_wait_first()) return CPU_LOOP_LEFT;
  try {
    for (let n = 0; ; n++) {
      // Plain reads (a switch is the hot path): the loop calls out every time round, so they are
      // re-read each time. G.run_state shares its cache line with tasklist_lock, which every CPU
      // writes all the time: a busy CPU looks at it every 8th switch (and before it goes idle),
      // so a stop is seen a few switches late.
      if (((n & 7) === 0 || mem[c + CPU.rq_nr] === 0) && mem[kg + G.run_state] !== RUN_RUNNING) return CPU_LOOP_LEFT;
      if (mem[c + CPU.abort] !== 0) return CPU_LOOP_LEFT;
      // schedule() between two tasks: preempt_count 0, nothing held, no task on this CPU. Hand the
      // token on when the slice is over and another CPU waits (a quiescent state while waiting).
      if (run_token_should_yield()) {
        if (hosted > 1) return host_turn_end(c);
        if (!token_yield()) return CPU_LOOP_LEFT;
      }
      sched_hook(1);
      rcu_do_batch();
      const p = pick_next_task();
      if (p) {
        run_task(runner, p);
        continue;
      }
      if (mem[kg + G.run_state] !== RUN_RUNNING) return CPU_LOOP_LEFT;
      if (opts.returnWhenIdle) return CPU_LOOP_LEFT;
      progress_flush(mem);
      if (hosted > 1) {
        if (host_idle_enter()) continue;
        return CPU_LOOP_IDLE;
      }
      cpu_idle();
      if (!run_token_held()) return CPU_LOOP_LEFT; // the run ended while this CPU waited for a token
    }
  } finally {
    progress_flush(mem);
    run_token_put(true);
  }
}

/**
 * Several CPUs per thread: the thread switched to this CPU (this_cpu), which leaves the extended
 * quiescent state it waited in. rcu_idle_exit's store of CPU.idle = 0 comes before any reader of
 * the turn (the pairing is rcu_idle_exit's); tok_wait = 0 after it, so the wait-for graph never
 * sees the CPU neither idle nor waiting between two turns.
 */
function host_turn_start(c: number): void {
  jiffies_tick(); // the thread ran other CPUs, or parked: the clock moved on
  rcu_idle_exit();
  Atomics.store(mem, c + CPU.tok_wait, 0);
  run_token_slice_start();
}

/**
 * Several CPUs per thread: the end of this CPU's turn (its slice is over, preemption enabled,
 * nothing held, no task on it). It waits for its next turn runnable (tok_wait = 1, published
 * before the quiescent state so that activate_task never takes it for a parked CPU) and in an
 * extended quiescent state, as a CPU waiting for a run token does.
 */
function host_turn_end(c: number): number {
  run_token_count_yield();
  progress_flush(mem);
  Atomics.store(mem, c + CPU.tok_wait, 1);
  rcu_idle_enter();
  // It still has work: a host thread parked with nothing to run may take its next turn.
  if (Atomics.load(mem, c + CPU.rq_nr) !== 0) mux_kick();
  return CPU_LOOP_YIELD;
}

/**
 * Several CPUs per thread: this CPU found nothing to run. It publishes idle (rcu_idle_enter) and
 * then looks again, as cpu_idle does before it parks (the same pairings: CPU.idle against
 * activate_task's enqueue, RCU_GP_SEQ against rcu_gp_done's kick). True: work came, the turn goes
 * on (back out of the quiescent state). False: the CPU stays idle, kickable (tok_wait 0); a kick
 * wakes a parked host thread through G.mux_park (kick_cpu, mux_kick).
 */
function host_idle_enter(): boolean {
  rcu_idle_enter();
  if (any_runnable() || rcu_cbs_ready()) {
    rcu_idle_exit();
    return true;
  }
  return false;
}

/**
 * The first token of this pass through cpu_loop (at the start of a run, or back online): waited
 * for in an extended quiescent state, as every token wait is, so that CPUs queued behind the
 * first token holders do not hold up grace periods until their first turn. False: the run ended.
 */
function token_wait_first(): boolean {
  if (run_token_held()) return true; // tokens off
  rcu_idle_enter();
  const ok = run_token_get();
  jiffies_tick(); // the wait may have parked this thread: the clock moved on
  rcu_idle_exit();
  return ok;
}

/** The end of a time slice with others waiting: back of the token queue. False: the run ended. */
function token_yield(): boolean {
  run_token_count_yield();
  progress_flush(mem);
  rcu_idle_enter();
  run_token_put();
  const ok = run_token_get(); // at once if it kept its token (run_token_put)
  jiffies_tick(); // the wait may have parked this thread: the clock moved on
  rcu_idle_exit();
  return ok;
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
    // Sample the kick word BEFORE looking for work, and park only on that value: pairs with
    // kick_cpu's Atomics.add (a kick after the sample makes the wait return at once).
    const v = Atomics.load(mem, c + CPU.park);
    // After publishing idle (rcu_idle_enter): work queued, or callbacks whose grace period ended
    // meanwhile (rcu_gp_done kicks only CPUs it sees idle), means no parking.
    if (any_runnable() || rcu_cbs_ready()) return;
    // Idle: the run token goes to a CPU that has work. A CPU without a token does not poll while
    // every token is in use: it would take a host core from a CPU that holds locks.
    run_token_put();
    if (!run_tokens_busy() && idle_poll(c, c + CPU.park, v)) return;
    Atomics.wait(mem, c + CPU.park, v, 10);
    check_abort();
    if (run_tokens_on()) idle_wait_for_work(c);
  } catch (e) {
    if (!(e instanceof KernelAbort)) throw e;
  } finally {
    // Back to work only with a token (a no-op when this CPU kept it); cpu_loop sees the run end.
    run_token_get();
    jiffies_tick(); // the idle wait may have parked this thread: the clock moved on
    rcu_idle_exit();
  }
}

/**
 * Poll before parking (the guest haltpoll idle governor, drivers/cpuidle/governors/haltpoll.c):
 * waking a parked CPU costs a futex round trip (tens of microseconds on these machines), while the
 * work of a fork/exit/wait loop arrives a few microseconds after a CPU runs dry. The CPU stays
 * idle (an extended quiescent state) and watches its kick word and the runqueues for up to
 * `poll_ns`, which grows while polls find work and shrinks while they time out, so CPUs that
 * share a core with busy ones soon stop burning it. True when work came.
 */
let poll_ns = IDLE_POLL_MIN_NS;
/**
 * Several CPUs per thread (src/sched/mux.ts): the thread found nothing to run and polls before
 * it parks, on G.mux_park (`word`, sampled as `v` before its round), which every kick aimed at a
 * hosted CPU bumps. The runqueues are looked at as this_cpu (the last CPU whose turn it was)
 * would steal.
 */
export function host_idle_poll(word: number, v: number): boolean {
  return idle_poll(this_cpu, word, v);
}
function idle_poll(c: number, word: number, v: number): boolean {
  const budget = poll_ns;
  if (budget <= 0) return false;
  const m = mem;
  const t0 = performance.now();
  for (let i = 1; ; i++) {
    // Same pairings as cpu_idle: park word vs kick_cpu, rq_nr vs enqueue_task, RCU_GP_SEQ vs the
    // CAS that completes a grace period (rcu_cbs_ready).
    if (Atomics.load(m, word) !== v || any_runnable() || rcu_cbs_ready()) {
      poll_ns = Math.min(IDLE_POLL_MAX_NS, budget * 2);
      return true;
    }
    if ((i & 15) === 0) {
      if ((performance.now() - t0) * 1e6 >= budget) break;
      if (m[kg + G.run_state] !== RUN_RUNNING || m[c + CPU.abort] !== 0) return false;
    }
  }
  poll_ns = budget >= 2 * IDLE_POLL_MIN_NS ? budget / 2 : IDLE_POLL_MIN_NS;
  return false;
}

/** A task this CPU could run: on its own runqueue, or on one it may steal from (may_steal_from). */
function any_runnable(): boolean {
  const m = mem;
  const n = m[kg + G.ncpus]!;
  // Pairs with enqueue_task's Atomics.add of rq_nr (see activate_task: the idle side stored
  // CPU.idle before this load).
  for (let i = 0; i < n; i++) {
    const ic = cpu_addr(i);
    if (Atomics.load(m, ic + CPU.rq_nr) > 0 && (i === this_cpu_id || may_steal_from(m, ic))) return true;
  }
  return false;
}

/**
 * Run tokens: a CPU that gave its token back stays parked, without one, until it has work (a task
 * it could run, callbacks to run) or must leave, and only then queues for a token. A CPU that
 * queued after every timed park would take turns from CPUs with work and hand each one straight
 * back. Bounded: every park is TOKEN_IDLE_PARK_MS, and the run state and abort word are looked at
 * after each. Wakers kick this CPU as before (it is idle and not waiting for a token).
 */
const TOKEN_IDLE_PARK_MS = 10;
function idle_wait_for_work(c: number): void {
  const m = mem;
  for (;;) {
    // Sample the kick word before the looks, as in cpu_idle (pairs with kick_cpu's add).
    const v = Atomics.load(m, c + CPU.park);
    if (any_runnable() || rcu_cbs_ready()) return;
    if (Atomics.load(m, kg + G.run_state) !== RUN_RUNNING || Atomics.load(m, c + CPU.abort) !== 0) return;
    Atomics.wait(m, c + CPU.park, v, TOKEN_IDLE_PARK_MS);
    check_abort();
  }
}

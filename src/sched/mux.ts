/**
 * Several model CPUs per host thread (M:N), switched at run-token hand-offs.
 *
 * Why. With more model CPUs than host cores, the run tokens (src/sched/run_token.ts) keep at most
 * as many CPUs running kernel code as there are cores, but every model CPU is still a worker thread
 * with its own V8 isolate: N isolates each compile the kernel with TurboFan for themselves, on
 * threads that hold no token (41% of the CPU samples of a 4-CPU stress run on 2 cores, README issue
 * 15, "Session 5"), and each token hand-off is a futex wake of another thread. Here a run with N CPUs
 * and T < N host threads has T worker threads (isolates), and the threads are the run tokens: each
 * runs one CPU at a time (this_cpu) for a turn and then switches to the next CPU that no other
 * thread is running (CPU.mux_turn), a plain in-thread switch with no futex round trip. Any thread
 * runs any CPU, as any core runs any token holder, so a thread the host deschedules holds up only
 * the CPU whose turn it is in. Thread k starts with CPUs k, k+T, ... (its home: it reports them).
 *
 * Why that is safe. A switch happens only where a token hand-off would: at schedule() between two
 * tasks with preempt_count 0 (cpu_loop, run_token_should_yield), when the CPU finds nothing to run,
 * and at hotplug. There the CPU holds no spinlock, rwlock or RCU read side and runs no task: a
 * task that blocks returned SLEEP and its kernel stack unwound, so nothing of the CPU's lives on
 * the host thread's stack. What a CPU keeps is in its CPU record in shared memory (runqueue,
 * preempt and irq counts, lockdep's held locks, RCU nesting and callbacks, slab lists, trace
 * ring), addressed through this_cpu, which set_this_cpu switches. The thread-local variables of
 * the code a CPU worker runs (`grep -rn "^let \|^export let " src`), audited for the switch:
 * - switched: this_cpu / this_cpu_id (memory.ts, set_this_cpu);
 * - empty at a switch point: `current` (core.ts: 0 between tasks), the task being stepped
 *   (workers/cpu.ts), wake_stack/wake_sp (wait.ts: a wake-up's scratch), fork.ts req_* and
 *   exit.ts wo_* (one system call's arguments, consumed before any sleep), the scratch arrays of
 *   fork.ts/pid.ts/hook.ts;
 * - flushed or restarted at a switch: progress_pending (core.ts, flushed at the end of a turn),
 *   jiffies (memory.ts, read from the clock at the start of a turn), the slice start
 *   (run_token.ts since/since_syscalls, run_token_slice_start);
 * - per thread by design, whichever CPU runs: the run's mode and config read at attach (hook.ts
 *   controlled/delay_permille/ncpus, trace.ts tracing/ring_mask/clock_off_ms, lock_flags.ts,
 *   run_token.ts ntok), the free-running generators of delay injection and interrupt timing
 *   (hook.ts, irq.ts), counters between periodic looks (hook.ts free_hooks, checks.ts tree_tick,
 *   guard_check.ts sample_countdown, the idle poll budget core.ts poll_ns), the pid allocator's
 *   cursor hint (pid.ts idr_nextid), registered handlers and hooks (irq.ts, entry.ts, signal.ts,
 *   index.ts), the checked build's site tables (guard_check.ts, guard_report.ts).
 *
 * A CPU that waits for its turn is runnable: it publishes CPU.tok_wait = 1 (the wait-for graph shows
 * it as waiting, never as blocked, as it does a CPU waiting for a run token) and is in an extended
 * quiescent state for RCU, so grace periods do not wait for it. An idle CPU publishes CPU.idle = 1
 * and tok_wait = 0 as before; a kick aimed at it (kick_cpu: a wake-up onto its runqueue, RCU
 * callbacks ready, hotplug, the end of the run) also bumps G.mux_park and wakes one thread parked
 * there, as does a turn that ends with work left. An interrupt raised on a CPU that no thread runs
 * now stays pending in the CPU record and is taken at that CPU's next scheduling hook, on its next
 * turn (every CPU, idle or not, gets a turn in each round of a thread and passes the hook at its
 * start: a vCPU that is not scheduled takes its interrupts when it runs).
 *
 * Off in controlled mode (one CPU runs at a time there and the turn changes at every scheduling
 * hook, in the middle of kernel paths that hold locks, where a CPU's stack cannot unwind: each CPU
 * keeps a thread of its own), with --host-preemption, and with no more CPUs than host threads.
 */
import { CPU, G } from '../mm/layout.js';
import { cpu_addr, kg, mem, set_this_cpu, this_cpu } from '../mm/memory.js';
import { rcu_idle_enter } from '../rcu/rcu.js';
import { cpu_loop, CPU_LOOP_IDLE, CPU_LOOP_YIELD, host_idle_poll, type TaskRunner } from './core.js';
import { cpu_offline_step, cpu_takedown, hotplug_requested, HP_STEP_OFFLINE, HP_STEP_ONLINE } from './hotplug.js';
import { RUN_RUNNING } from './hook.js';

/** Longest single park of a host thread that found nothing to run: it looks again after it. */
const HOST_PARK_MS = 10;

/**
 * Main thread, before the CPUs start (after run_tokens_setup, which clears CPU.tok_wait): the home
 * thread of each CPU (CPU i on thread i % T, so every thread starts with the same number of CPUs,
 * give or take one: its home CPUs, which it reports and counts out at the end) and each CPU's
 * CPU.mux_lead. `threads` >= ncpus (or 0): one thread per CPU, mux_lead 0 everywhere.
 *
 * With several CPUs per thread every CPU waits for its first turn runnable (tok_wait = 1) and in an
 * extended quiescent state (idle = 1), as a CPU waiting for its first run token does
 * (token_wait_first), so grace periods do not wait for it. That is set here, before any thread
 * starts, and not by each thread for its home CPUs: any thread may take any CPU's turn, so a thread
 * that started late once marked idle a home CPU that another thread was already running, readers
 * and all (a use-after-free in the 8-CPU RCU torture test; rcu_read_lock's rcu_is_watching check
 * now reports that state itself). The supervisor starts the threads after its Atomics.store of
 * G.run_state, which orders these plain stores before them.
 */
export function mux_setup(m: Int32Array, ncpus: number, threads: number): number[][] {
  const t = threads > 0 && threads < ncpus ? threads : ncpus;
  const groups: number[][] = Array.from({ length: t }, () => []);
  for (let i = 0; i < ncpus; i++) groups[i % t]!.push(i);
  for (const g of groups) {
    for (const id of g) {
      const c = cpu_addr(id);
      m[c + CPU.mux_lead] = t < ncpus ? g[0]! + 1 : 0;
      m[c + CPU.mux_turn] = 0;
      if (t < ncpus) {
        m[c + CPU.tok_wait] = 1;
        m[c + CPU.idle] = 1;
      }
    }
  }
  Atomics.store(m, kg + G.mux_park, 0);
  return groups;
}

/**
 * The host thread's loop. Round after round it goes through every CPU of the machine, starting
 * after the last one it ran, and runs a turn of each that no other thread is running (CPU.mux_turn,
 * taken with a compareExchange): so any thread can run any CPU, as any host core can run any
 * token holder, and a thread the host deschedules holds up only the CPU whose turn it is in (the
 * others' turns go to the threads that run). It parks on G.mux_park when a whole round found
 * nothing to do. `me` is the thread's number (0 ..), `home` the CPUs it starts with. Returns when
 * the run ends; throws what cpu_loop throws, with this_cpu the CPU whose turn it was.
 */
export function mux_host_loop(runner: TaskRunner, me: number, home: readonly number[]): void {
  const n = Atomics.load(mem, kg + G.ncpus);
  const turn = me + 1;
  // Every CPU waits for its first turn runnable and in an extended quiescent state (mux_setup).
  let next = home[0]!;
  for (;;) {
    // Sample the park word before looking at any CPU for work: pairs with mux_kick's add (a kick
    // after the sample makes the wait below return at once; work published before it is seen by
    // the looks in this round).
    const v = Atomics.load(mem, kg + G.mux_park);
    let busy = false;
    for (let k = 0; k < n; k++) {
      const id = next;
      next = next + 1 === n ? 0 : next + 1;
      const c = cpu_addr(id);
      if (Atomics.load(mem, c + CPU.online) < 0) continue; // left for good
      // Take the turn. The compareExchange pairs with the store of 0 that ended the CPU's last
      // turn on whichever thread: what that turn wrote with plain stores is visible from here.
      if (Atomics.compareExchange(mem, c + CPU.mux_turn, 0, turn) !== 0) continue;
      let r: number;
      try {
        set_this_cpu(id);
        r = host_turn(runner, n);
      } finally {
        Atomics.store(mem, c + CPU.mux_turn, 0);
      }
      if (r === HOST_TURN_BUSY) busy = true;
      else if (r === HOST_TURN_RUN_END) return;
    }
    // Nothing to run: poll a while (haltpoll, as an idle CPU with a thread of its own does), then
    // park until a kick or HOST_PARK_MS.
    if (!busy && !host_idle_poll(kg + G.mux_park, v)) Atomics.wait(mem, kg + G.mux_park, v, HOST_PARK_MS);
  }
}

const HOST_TURN_IDLE = 0;
const HOST_TURN_BUSY = 1;
const HOST_TURN_RUN_END = 2;

/** One turn of this_cpu: an offline CPU's look, or cpu_loop until the slice ends or it idles. */
function host_turn(runner: TaskRunner, n: number): number {
  const c = this_cpu;
  if (Atomics.load(mem, c + CPU.online) === 0) {
    const r = cpu_offline_step();
    if (r === HP_STEP_OFFLINE) return HOST_TURN_IDLE;
    if (r !== HP_STEP_ONLINE) return HOST_TURN_RUN_END;
  }
  const r = cpu_loop(runner, { hosted: n });
  if (r === CPU_LOOP_YIELD) return HOST_TURN_BUSY;
  if (r === CPU_LOOP_IDLE) return HOST_TURN_IDLE;
  // CPU_LOOP_LEFT: the run ended, a hotplug request, or this CPU was told to leave.
  if (hotplug_requested()) {
    cpu_takedown(); // online = 0: its next turns are offline looks
    return HOST_TURN_IDLE;
  }
  if (Atomics.load(mem, kg + G.run_state) !== RUN_RUNNING) return HOST_TURN_RUN_END;
  // Told to leave (CPU.abort): out of every thread's rounds for good.
  rcu_idle_enter();
  Atomics.store(mem, c + CPU.online, -1);
  return HOST_TURN_IDLE;
}

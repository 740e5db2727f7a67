/**
 * The one scheduling hook, and the controlled-mode scheduler behind it.
 *
 * Every lock operation and each named race window in kernel code calls `sched_hook(site)`.
 * - Free-running mode: the hook is a store of the site, plus an optional injected delay that
 *   widens race windows (rcutorture's stutter).
 * - Controlled mode: exactly one CPU runs at a time. At each hook the running CPU picks, with the
 *   run's strategy (seeded uniform random, PCT, or a recorded list of choices), which enabled CPU
 *   runs next and hands it the turn. A CPU that waits (spinning on a lock word, idle) publishes the
 *   condition it waits for (wait_addr/op/arg), so the chooser knows who can make progress. When no
 *   CPU can, while tasks are still alive, the state is a deadlock: exact, and reported at once.
 *
 * The record: every decision with more than one enabled CPU is one choice, written to the choices
 * region as `cpu | CHOICE_PREEMPT` (the flag marks a switch away from a CPU that could have gone
 * on). Replaying the list (CTL_REPLAY) takes the same decisions; a choice may also be CHOICE_STAY
 * ("keep the running CPU if it can go on"), which is what the shrinker writes when it removes a
 * preemption. After the list, the run continues with the tail policy (G.ctl_tail).
 *
 * Spin waits (`spin_wait`) are the same in both modes from the caller's side: they return when
 * the condition holds. Free-running, they spin briefly and then sleep on the word with
 * Atomics.wait (bounded), so more workers than cores do not collapse.
 */
import { CPU, G, RW_CLASS, SL_CLASS } from '../mm/layout.js';
import { cpu_addr, jiffies, jiffies_tick, kg, mem, now_ms31, regions, this_cpu, this_cpu_id } from '../mm/memory.js';
import { HELD_SPIN, HELD_READ, HELD_READ_IRQ, HELD_WRITE, lock_acquire_check } from '../locking/lockdep.js';
import { trace_attach } from '../tracing/trace.js';
import { local_prng_state, prng_below, prng_next, prng_seed, PRNG_STREAM_CTL, PRNG_STREAM_DELAY } from '../lib/prng.js';

export const MODE_FREE = 0;
export const MODE_CONTROLLED = 1;

/**
 * The clock of the stall detectors (src/detect/stall.ts): scheduling hooks passed in controlled
 * mode (G.ctl_hooks: kernel work done, whoever runs), jiffies (milliseconds, low 31 bits, read at
 * the last tick point: see memory.ts) free-running. Read only at grace-period starts,
 * quiescent-state reports for a new grace period and context switches.
 */
export function stall_clock(): number {
  return mem[kg + G.mode] === MODE_CONTROLLED ? mem[kg + G.ctl_hooks]! : jiffies;
}

/** Controlled mode: hooks allowed per decision of the bound before a run is cut (a livelock guard). */
export const CTL_HOOKS_PER_DECISION = 64;

export const RUN_SETUP = 0;
export const RUN_RUNNING = 1;
export const RUN_STOPPING = 2;
export const RUN_STOPPED = 3;
export const RUN_DEADLOCK = 4;
export const RUN_CRASHED = 5;
export const RUN_HUNG = 6;
export const RUN_LIMIT = 7;
/** Controlled mode with CTL_STOP_ON_VIOLATION: the first recorded violation ended the run. */
export const RUN_VIOLATION = 8;
/** Names of the run states, by value (reports, RunResult.state). */
export const RUN_STATE_NAMES = ['setup', 'running', 'stopping', 'stopped', 'deadlock', 'crashed', 'hung', 'decision-limit', 'violation'];

/** Conditions a waiting CPU publishes. */
export const WAIT_EQ = 1; // mem[addr] === arg
export const WAIT_MASK_ZERO = 2; // (mem[addr] & arg) === 0
export const WAIT_NE = 3; // mem[addr] !== arg
export const WAIT_IDLE = 4; // idle: any runqueue non-empty, or own RCU callbacks ready

/** Strategies (G.ctl_flags bits 0-3) and flags. */
export const STRAT_RANDOM = 1;
export const STRAT_PCT = 2;
export const CTL_REPLAY = 0x10;
/** End the run (RUN_VIOLATION) at the first decision after a violation was recorded. */
export const CTL_STOP_ON_VIOLATION = 0x20;

/** G.ctl_tail: what a replay does once its recorded choices run out. */
export const CTL_TAIL_STRATEGY = 0; // go on with the run's strategy (seeded)
export const CTL_TAIL_NONPREEMPT = 1; // keep the running CPU while it can go on (no preemption)

/** A recorded choice: CPU id in bits 0-6, CHOICE_PREEMPT when the previous CPU could have gone on. */
export const CHOICE_CPU_MASK = 0x7f;
export const CHOICE_PREEMPT = 0x80;
/** Replay-only choice: keep the running CPU if it is enabled (written by the shrinker). */
export const CHOICE_STAY = 0x7f;

/** CPU.abort values: leave now (any wait throws), or go offline at the next safe point (hotplug). */
export const ABORT_LEAVE = 1;
export const ABORT_HOTPLUG = 2;

/** Thrown out of any wait when the run is being torn down; the CPU loop catches it and leaves. */
export class KernelAbort extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

/** Cached per thread at run start (read once: it does not change during a run). */
let controlled = false;
let delay_permille = 0;
let window_delay_permille = 0;

/**
 * The kernel's named race windows (the SITE_* constants of src/kernel and src/rcu: fork, exit,
 * wait, pid allocation, exec, ptrace, proc, cgroup, RCU-tasks and SRCU windows) use scheduling-hook
 * sites from here up; lock operations and the torture programs use smaller numbers. Free-running,
 * G.window_delay_permille widens those windows alone (KCSAN's delays at its watchpoints, rcutorture's
 * stutter, aimed): a race that needs another CPU to act inside a window a few instructions wide
 * gets the microseconds it needs, while lock hand-offs - most hooks - run at full speed.
 */
export const SITE_WINDOW_MIN = 200;
let ncpus = 1;

/**
 * Read the run's mode into this thread. `setup` is for the main thread, which sets the machine up
 * (and runs in-process) outside the controller: there the hook never hands the turn anywhere.
 */
export function hook_attach(setup = false): void {
  controlled = !setup && mem[kg + G.mode] === MODE_CONTROLLED;
  delay_permille = mem[kg + G.inject_delay_permille]!;
  window_delay_permille = mem[kg + G.window_delay_permille]!;
  ncpus = mem[kg + G.ncpus]!;
  jiffies_tick();
  trace_attach();
}

export function is_controlled(): boolean {
  return controlled;
}

// ---- free-running delay injection -----------------------------------------------------------

// Free-running delays are not reproducible anyway: a thread-local generator state.
const delay_rng = local_prng_state(PRNG_STREAM_DELAY);
function delay_rand(): number {
  return prng_below(delay_rng, 0, 1000);
}

/**
 * Interrupt entry (installed by src/sched/irq.ts, which owns the delivery decision): called at a
 * hook of a CPU that has an interrupt pending.
 */
let irq_entry: (c: number) => void = () => {};
export function set_irq_entry(f: (c: number) => void): void {
  irq_entry = f;
}

/** Free-running: hooks between two looks at the run state (check_abort) from sched_hook. */
const FREE_ABORT_CHECK = 4096;
let free_hooks = 0;

/** The scheduling hook: call it before every lock operation and in named race windows. */
export function sched_hook(site: number): void {
  const c = this_cpu;
  mem[c + CPU.site] = site;
  if (mem[c + CPU.irq_pending] !== 0) irq_entry(c);
  if (!controlled) {
    if (delay_permille !== 0 && delay_rand() < delay_permille) inject_delay();
    else if (window_delay_permille !== 0 && site >= SITE_WINDOW_MIN && delay_rand() < window_delay_permille) inject_window_delay();
    // A CPU livelocked in kernel code (no spin_wait, no sleep: catalog entry 10) must still park
    // when the main thread freezes a stopped run for its snapshot, as spinning CPUs do: look at
    // G.freeze every FREE_ABORT_CHECK hooks (a module-local count; pairs with stop()'s store of
    // freeze, made before it waits for the CPUs to park). In-process work never runs frozen.
    if (++free_hooks >= FREE_ABORT_CHECK) {
      free_hooks = 0;
      if (Atomics.load(mem, kg + G.freeze) !== 0) check_abort();
    }
    return;
  }
  ctl_schedule();
}

function inject_delay(): void {
  // A short busy delay (up to ~20 µs) or, rarely, a yield of the core with a 0-1 ms sleep.
  const r = delay_rand();
  if (r < 50) {
    // A timed sleep, nobody notifies: hook_seq never holds 0x7fffffff. Orders nothing.
    Atomics.wait(mem, this_cpu + CPU.hook_seq, 0x7fffffff, r % 2);
  } else {
    busy_delay(r);
  }
}

/**
 * A delay in a named race window: inject_delay's busy wait alone, never a sleep (the CPU stays
 * where it is, holding what it holds, as a CPU that took an interrupt would): the other CPUs get
 * the microseconds a race needs, and the run keeps most of its speed.
 */
function inject_window_delay(): void {
  busy_delay(delay_rand());
}

/** Spin for r / 50 µs (r = 0..999 from delay_rand: up to ~20 µs). */
function busy_delay(r: number): void {
  const until = performance.now() + r / 50_000;
  while (performance.now() < until) { /* spin */ }
}

// ---- spin waits -----------------------------------------------------------------------------

export function wait_cond(op: number, addr: number, arg: number): boolean {
  // The load that finds the condition true is the waiter's ACQUIRE (atomic_cond_read_acquire):
  // it pairs with the releasing Atomics RMW/store of whoever made it true (spin_unlock's exchange,
  // write_unlock's and, wait_lock_release's add, switch_out's store of on_cpu), so what that CPU
  // wrote before it is visible to the caller once this returns true.
  switch (op) {
    case WAIT_EQ: return Atomics.load(mem, addr) === arg;
    case WAIT_MASK_ZERO: return (Atomics.load(mem, addr) & arg) === 0;
    case WAIT_NE: return Atomics.load(mem, addr) !== arg;
    default: return true;
  }
}

const SPINS = 128;
/** Longest single Atomics.wait of a spinning CPU: it re-checks the run state after each. */
const SLEEP_SLICE_MS = 20;

/**
 * Wait until the condition holds. `lock`/`mode` say what is being acquired (for the wait-for graph),
 * `sleepers` is a word the releaser checks before Atomics.notify (0 when the lock notifies always).
 */
export function spin_wait(lock: number, mode: number, addr: number, op: number, arg: number, sleepers: number): void {
  if (wait_cond(op, addr, arg)) return;
  const c = this_cpu;
  // lockdep: a contended acquisition is checked before it waits (the wait may never end).
  if (lock && (mode === HELD_SPIN || mode === HELD_READ || mode === HELD_READ_IRQ || mode === HELD_WRITE)) {
    lock_acquire_check(mem[lock + (mode === HELD_SPIN ? SL_CLASS : RW_CLASS)]!, mode, mem[c + CPU.site]!);
  }
  mem[c + CPU.wait_lock] = lock;
  mem[c + CPU.wait_mode] = mode;
  mem[c + CPU.wait_op] = op;
  mem[c + CPU.wait_arg] = arg;
  mem[c + CPU.wait_since] = now_ms31();
  // Publish the wait after its plain details (lock/mode/op/arg/since): pairs with the
  // Atomics.load of wait_addr in cpu_enabled and any_cpu_spinning, which read the details after
  // it; the wait-for graph reads them with the CPUs frozen.
  Atomics.store(mem, c + CPU.wait_addr, addr);
  try {
    if (controlled) {
      while (!wait_cond(op, addr, arg)) ctl_schedule();
      return;
    }
    for (let i = 0; i < SPINS; i++) if (wait_cond(op, addr, arg)) return;
    for (;;) {
      // Announce the sleeper, THEN sample and test the word: pairs with the releaser's update of
      // the word followed by its load of `sleepers` (qrwlock's wake_sleepers). Both sides are
      // sequentially consistent (store-buffering): either the releaser sees us and notifies, or
      // our test sees its update. Waiting on the sampled value v closes the rest: a change after
      // the sample makes Atomics.wait return at once. The slice bounds it regardless.
      if (sleepers) Atomics.add(mem, sleepers, 1);
      const v = Atomics.load(mem, addr);
      const ok = wait_cond(op, addr, arg);
      if (!ok) Atomics.wait(mem, addr, v, SLEEP_SLICE_MS);
      if (sleepers) Atomics.sub(mem, sleepers, 1);
      if (ok || wait_cond(op, addr, arg)) return;
      check_abort();
      for (let i = 0; i < SPINS; i++) if (wait_cond(op, addr, arg)) return;
    }
  } finally {
    // Unpublish (pairs with cpu_enabled's load of wait_addr: 0 means "can run").
    Atomics.store(mem, c + CPU.wait_addr, 0);
    mem[c + CPU.wait_lock] = 0;
    jiffies_tick(); // the wait may have parked this thread: the clock moved on
  }
}

/** Bound on how long a CPU stays parked for a snapshot before it unwinds anyway. */
const FREEZE_MAX_MS = 30_000;

/**
 * Leave any wait when the run is over (stopped, deadlocked, hung, crashed) or this CPU is told to.
 * While the main thread snapshots a broken run (G.freeze), the CPU parks here first, so what it
 * holds and waits for is still in shared memory when the report is built.
 */
export function check_abort(): void {
  // Pairs with run_end's compareExchange of run_state (after its exchange of G.freeze), whoever
  // ends the run (a CPU or the supervisor): seeing the new state here, freeze_wait sees the freeze.
  const st = Atomics.load(mem, kg + G.run_state);
  if (st !== RUN_RUNNING) {
    freeze_wait();
    throw new KernelAbort(`run state ${st}`);
  }
  // Pairs with the main thread's Atomics.store of CPU.abort (a request; no data rides on it).
  if (Atomics.load(mem, this_cpu + CPU.abort) === ABORT_LEAVE) throw new KernelAbort('cpu abort');
}

/** Park while the main thread holds the world still (bounded). */
export function freeze_wait(): void {
  const until = Date.now() + FREEZE_MAX_MS;
  // Load, then wait on the value 1: the main thread's store of 0 + notify (after its snapshot)
  // either is seen by the load or makes the wait return; the slice bounds it anyway.
  while (Atomics.load(mem, kg + G.freeze) !== 0 && Date.now() < until) Atomics.wait(mem, kg + G.freeze, 1, 50);
}

// ---- controlled mode ------------------------------------------------------------------------

/** The strategy's draws: its generator state is G.ctl_rng, in shared memory for replay. */
export function ctl_rand(): number {
  return prng_next(mem, kg + G.ctl_rng);
}

export function ctl_seed(seed: number): void {
  mem[kg + G.ctl_rng] = prng_seed(seed, PRNG_STREAM_CTL);
}

/** Can CPU `id` make progress now? Reads only the published state of that CPU and the runqueues. */
export function cpu_enabled(id: number): boolean {
  const c = cpu_addr(id);
  if (mem[c + CPU.online]! < 0) return false; // left its loop
  // Pairs with spin_wait's / ctl_idle_wait's Atomics.store of wait_addr: the plain wait_op and
  // wait_arg read below were stored before it. In controlled mode that CPU also handed us the
  // turn since (ctl_turn), which orders them anyway.
  const addr = Atomics.load(mem, c + CPU.wait_addr);
  if (addr === 0) return true;
  const op = mem[c + CPU.wait_op]!;
  if (op === WAIT_IDLE) return idle_can_run(id);
  return wait_cond(op, addr, mem[c + CPU.wait_arg]!);
}

/** Idle hook for the RCU callback check (installed by rcu.ts to avoid an import cycle). */
export let idle_has_work: (id: number) => boolean = () => false;
export function set_idle_has_work(f: (id: number) => boolean): void {
  idle_has_work = f;
}

function idle_can_run(id: number): boolean {
  for (let i = 0; i < ncpus; i++) {
    const c = cpu_addr(i);
    // Pairs with enqueue_task's Atomics.add of rq_nr (written before the waker handed the turn on).
    if (mem[c + CPU.online] === 1 && Atomics.load(mem, c + CPU.rq_nr) > 0) return true;
  }
  return idle_has_work(id);
}

/**
 * Are tasks blocked in the kernel for good when no CPU can run? Installed by the kernel
 * (nr_blocked_tasks in src/kernel/sched_task.ts: a task idle in pause, a zombie or a dead task is
 * not); the main thread's supervisor reads the same count.
 */
export let blocked_tasks: () => number = () => 0;
export function set_blocked_tasks(f: () => number): void {
  blocked_tasks = f;
}

/** Any CPU spinning (not idle, not left): no CPU enabled then means CPUs wait on each other. */
function any_cpu_spinning(): boolean {
  for (let i = 0; i < ncpus; i++) {
    const c = cpu_addr(i);
    // wait_addr before wait_op, as in cpu_enabled.
    if (mem[c + CPU.online]! >= 0 && Atomics.load(mem, c + CPU.wait_addr) !== 0 && mem[c + CPU.wait_op] !== WAIT_IDLE) return true;
  }
  return false;
}

const enabled_buf: number[] = [];

/**
 * Pick who runs next and hand over the turn. Returns when this CPU holds the turn again (or throws
 * KernelAbort when the run ended meanwhile).
 */
export function ctl_schedule(): void {
  const me = this_cpu_id;
  // touch_softlockup_watchdog: the supervisor's controlled-mode watchdog reads these passes; a CPU
  // that holds the turn and stops passing hooks (a kernel loop with no hook in it) is stuck.
  Atomics.add(mem, this_cpu + CPU.hook_seq, 1);
  check_abort();
  const flags = mem[kg + G.ctl_flags]!;
  // Pairs with record_violation's Atomics update of G.violations (made by whoever held the turn).
  if ((flags & CTL_STOP_ON_VIOLATION) !== 0 && Atomics.load(mem, kg + G.violations) !== 0) {
    ctl_end(RUN_VIOLATION);
    freeze_wait();
    throw new KernelAbort('violation recorded');
  }
  // The stall clock (stall_clock): every hook counts, with or without a choice to make; a CPU that
  // livelocks alone takes no decisions, so the hooks are bounded too.
  const hooks = mem[kg + G.ctl_hooks]! + 1;
  mem[kg + G.ctl_hooks] = hooks;
  if (hooks >= mem[kg + G.ctl_max_decisions]! * CTL_HOOKS_PER_DECISION) {
    ctl_end(RUN_LIMIT);
    freeze_wait();
    throw new KernelAbort('hook bound reached');
  }
  enabled_buf.length = 0;
  let meEnabled = false;
  for (let i = 0; i < ncpus; i++) {
    if (cpu_enabled(i)) {
      enabled_buf.push(i);
      if (i === me) meEnabled = true;
    }
  }
  if (enabled_buf.length === 0) {
    ctl_end(any_cpu_spinning() || blocked_tasks() > 0 ? RUN_DEADLOCK : RUN_STOPPED);
    freeze_wait(); // the main thread snapshots a deadlock with this CPU's state intact
    throw new KernelAbort('controlled run ended');
  }
  let next: number;
  if (enabled_buf.length === 1) {
    next = enabled_buf[0]!;
  } else {
    const n = mem[kg + G.ctl_decisions]!;
    if (n >= mem[kg + G.ctl_max_decisions]!) {
      ctl_end(RUN_LIMIT);
      freeze_wait();
      throw new KernelAbort('decision bound reached');
    }
    next = ctl_choose(me, meEnabled, n, flags);
    if (!enabled_buf.includes(next)) next = enabled_buf[0]!; // a replayed choice no longer possible
    const preempt = meEnabled && next !== me;
    if (preempt) mem[kg + G.ctl_preemptions] = mem[kg + G.ctl_preemptions]! + 1;
    const rec = regions.choices;
    if (n < rec.words) mem[rec.base + n] = next | (preempt ? CHOICE_PREEMPT : 0);
    mem[kg + G.ctl_decisions] = n + 1;
  }
  if (next === me) return;
  mem[kg + G.ctl_switches] = mem[kg + G.ctl_switches]! + 1;
  // The turn hand-off is the RELEASE of everything this CPU wrote with plain stores while it held
  // the turn (kernel data, the ctl_* counters, the choice record): pairs with the Atomics.load of
  // ctl_turn in ctl_wait_turn that sees `next`, the ACQUIRE of the next CPU. This pairing is why
  // plain accesses in controlled mode see each other exactly as one thread would. The notify
  // wakes a CPU parked in that wait (which waits on the value it loaded, so none is lost).
  Atomics.store(mem, kg + G.ctl_turn, next);
  Atomics.notify(mem, kg + G.ctl_turn);
  ctl_wait_turn(me);
}

/** A recorded yes/no decision (ctl_coin): one byte in the choices region, like a CPU choice. */
export const COIN_YES = 1 | CHOICE_PREEMPT;
export const COIN_NO = 0;

/**
 * A yes/no decision of the run's strategy that is not a CPU choice (deliver a pending interrupt
 * now, take a page fault at a user copy): yes with `permille` chance from the strategy's RNG,
 * recorded in the choices region as COIN_YES (which carries CHOICE_PREEMPT: it preempts what runs,
 * so the shrinker may try to remove it) or COIN_NO, and taken from the list in a replay (a
 * replayed CHOICE_STAY, and the non-preemptive replay tail, mean no).
 */
export function ctl_coin(permille: number): boolean {
  const n = mem[kg + G.ctl_decisions]!;
  const flags = mem[kg + G.ctl_flags]!;
  let yes: boolean;
  if ((flags & CTL_REPLAY) !== 0 && n < mem[kg + G.ctl_replay_len]!) {
    yes = (mem[regions.choices.base + n]! & CHOICE_CPU_MASK) === (COIN_YES & CHOICE_CPU_MASK);
  } else if ((flags & CTL_REPLAY) !== 0 && mem[kg + G.ctl_tail] === CTL_TAIL_NONPREEMPT) {
    yes = false;
  } else {
    yes = ctl_rand() % 1000 < permille;
  }
  if (n < mem[kg + G.ctl_max_decisions]!) {
    if (n < regions.choices.words) mem[regions.choices.base + n] = yes ? COIN_YES : COIN_NO;
    mem[kg + G.ctl_decisions] = n + 1;
    if (yes) mem[kg + G.ctl_preemptions] = mem[kg + G.ctl_preemptions]! + 1;
  }
  return yes;
}

/**
 * The running task yielded its CPU (sched_yield) with nothing else on the CPU's runqueue: the yield
 * changes nothing there, and the program is most likely waiting for another task's progress (a
 * join, a retry). Under PCT the CPU then drops below every other CPU's priority, after the fair
 * scheduler of CHESS, which treats a yield as a sign that the thread waits for others (Musuvathi
 * and Qadeer, "Fair stateless model checking", PLDI 2008: its abstract was read; that its rule
 * lowers a yielding thread below the threads enabled at the yield is our reading, not checked
 * against the paper's text). Otherwise the highest-priority CPU spins in its loop and the task it
 * waits for, on a CPU of lower priority, gets only the fair tail's turns (PCT seed 25 of session
 * 12's campaign: the wait-threads caller's yields ran into the decision limit while the thread it
 * waited for sat on another CPU's runqueue). Deterministic, so a replay takes the same path; the
 * ctl_turn holder (the running CPU) is the only writer of pct_prio.
 */
export function pct_yield(): void {
  if (!controlled || (mem[kg + G.ctl_flags]! & 0xf) !== STRAT_PCT) return;
  const n = mem[kg + G.ncpus]!;
  let low = Infinity;
  for (let i = 0; i < n; i++) {
    const c = cpu_addr(i);
    if (c !== this_cpu) low = Math.min(low, mem[c + CPU.pct_prio]!);
  }
  if (low !== Infinity && mem[this_cpu + CPU.pct_prio]! >= low) mem[this_cpu + CPU.pct_prio] = low - 1;
}

/** Keep the running CPU when it can go on, else the next enabled CPU after it (cyclic order). */
function nonpreempt_choice(me: number, meEnabled: boolean): number {
  if (meEnabled) return me;
  for (const id of enabled_buf) if (id > me) return id;
  return enabled_buf[0]!;
}

/** The fair tail of PCT: one decision in this many picks a random enabled CPU. */
const PCT_FAIR_EVERY = 32;

function ctl_choose(me: number, meEnabled: boolean, n: number, flags: number): number {
  if ((flags & CTL_REPLAY) !== 0) {
    if (n < mem[kg + G.ctl_replay_len]!) {
      const c = mem[regions.choices.base + n]! & CHOICE_CPU_MASK;
      return c === CHOICE_STAY ? nonpreempt_choice(me, meEnabled) : c;
    }
    if (mem[kg + G.ctl_tail] === CTL_TAIL_NONPREEMPT) return nonpreempt_choice(me, meEnabled);
  }
  if ((flags & 0xf) === STRAT_PCT) {
    // The fair tail (Machine ControlOptions.pctFairAfter): past it, one decision in PCT_FAIR_EVERY
    // runs any enabled CPU, uniformly, so a starved CPU gets turns without a hand-off at every
    // decision (each one a futex round trip between workers).
    const fair = mem[kg + G.ctl_pct_fair_after]!;
    if (fair > 0 && n >= fair && ctl_rand() % PCT_FAIR_EVERY === 0) return enabled_buf[ctl_rand() % enabled_buf.length]!;
    // PCT: run the highest-priority enabled CPU; at each change point the running CPU drops to
    // a priority below every initial one (Burckhardt et al., ASPLOS 2010).
    const depth = mem[kg + G.ctl_pct_depth]!;
    for (let i = 0; i < Math.min(depth - 1, 8); i++) {
      if (mem[kg + G.ctl_pct_points + i] === n) mem[cpu_addr(me) + CPU.pct_prio] = i + 1 - 16;
    }
    let best = enabled_buf[0]!;
    for (const id of enabled_buf) if (mem[cpu_addr(id) + CPU.pct_prio]! > mem[cpu_addr(best) + CPU.pct_prio]!) best = id;
    return best;
  }
  return enabled_buf[ctl_rand() % enabled_buf.length]!;
}

/**
 * End the run: the one run-end protocol. The CPUs call it (a controlled-mode verdict, a crash),
 * and so does the main thread's supervisor (time up, a watchdog, Ctrl-C, a worker that died).
 * The first caller decides the state; later calls change nothing. `freeze` parks every CPU at its
 * next check (check_abort, freeze_wait) so the main thread copies what they hold and wait for
 * before they unwind. Returns true when this call ended the run.
 */
export function run_end(state: number, freeze: boolean): boolean {
  // Freeze before the state changes: a CPU that sees the new state then finds the freeze set
  // (the exchange is ordered before the compareExchange; check_abort loads state, then freeze).
  const had = freeze ? Atomics.exchange(mem, kg + G.freeze, 1) : 1;
  // One winner ends the run: the CAS makes concurrent run_end calls (CPUs, the supervisor) agree.
  if (Atomics.compareExchange(mem, kg + G.run_state, RUN_RUNNING, state) !== RUN_RUNNING) {
    // Somebody else ended the run first: do not leave our freeze behind.
    if (had === 0) Atomics.store(mem, kg + G.freeze, 0);
    return false;
  }
  // Wake everyone who sleeps on a word that will not change now: an idle CPU's park word, the
  // controlled turn (ctl_turn: -1 is nobody's), the start wait and the supervisor (run_state).
  // Each re-reads the run state (stored before these, seq-cst) in check_abort after it wakes, so
  // it sees the end. ctl_turn = -1 is the last store to kernel-visible state: the supervisor
  // copies a CPU-ended controlled run once it sees it.
  const n = mem[kg + G.ncpus]!;
  for (let i = 0; i < n; i++) {
    const c = cpu_addr(i);
    Atomics.add(mem, c + CPU.park, 1);
    Atomics.notify(mem, c + CPU.park);
  }
  Atomics.store(mem, kg + G.ctl_turn, -1);
  Atomics.notify(mem, kg + G.ctl_turn);
  Atomics.notify(mem, kg + G.run_state);
  return true;
}

/** A controlled-mode verdict: a stopped run needs no snapshot; every other end freezes the CPUs. */
function ctl_end(state: number): void {
  run_end(state, state !== RUN_STOPPED);
}

/** Spins on the turn word before parking: a hand-off between running threads costs ~0.1 µs spinning, ~60 µs through a futex. */
const TURN_SPINS = 4000;

/** Wait for the turn (bounded slices; the main thread's watchdog ends a stuck run). */
export function ctl_wait_turn(me: number): void {
  const w = kg + G.ctl_turn;
  // ACQUIRE of the turn: the load that sees `me` pairs with the Atomics.store of ctl_turn in
  // ctl_schedule of the CPU that handed it over, so its plain stores are visible from here on.
  for (let i = 0; i < TURN_SPINS; i++) if (Atomics.load(mem, w) === me) return;
  for (;;) {
    const t = Atomics.load(mem, w);
    if (t === me) {
      jiffies_tick(); // the turn wait may have parked this thread: the clock moved on
      return;
    }
    check_abort();
    if (t === -1) throw new KernelAbort('controlled run ended');
    // Waits on the value loaded above: a hand-off after that load makes it return at once.
    Atomics.wait(mem, w, t, SLEEP_SLICE_MS * 5);
  }
}

/** Controlled mode: this CPU is idle; give the turn away until it has work (or the run ends). */
export function ctl_idle_wait(parkAddr: number): void {
  const c = this_cpu;
  mem[c + CPU.wait_op] = WAIT_IDLE;
  mem[c + CPU.wait_lock] = 0;
  // Publish "idle" after wait_op (pairs with cpu_enabled's load of wait_addr, as in spin_wait).
  Atomics.store(mem, c + CPU.wait_addr, parkAddr);
  try {
    ctl_schedule();
  } finally {
    Atomics.store(mem, c + CPU.wait_addr, 0); // unpublish (as in spin_wait)
  }
}

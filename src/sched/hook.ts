/**
 * The one scheduling hook, and the controlled-mode scheduler behind it.
 *
 * Every lock operation and each named race window in kernel code calls `sched_hook(site)`.
 * - Free-running mode: the hook is a counter bump, plus an optional injected delay that widens
 *   race windows (rcutorture's stutter).
 * - Controlled mode: exactly one CPU runs at a time. At each hook the running CPU picks, with the
 *   run's strategy (seeded uniform random, PCT, or a recorded list of choices), which enabled CPU
 *   runs next and hands it the turn. A CPU that waits (spinning on a lock word, idle) publishes the
 *   condition it waits for (wait_addr/op/arg), so the chooser knows who can make progress. When no
 *   CPU can, while tasks are still alive, the state is a deadlock: exact, and reported at once.
 *
 * Spin waits (`spin_wait`) are the same in both modes from the caller's side: they return when
 * the condition holds. Free-running, they spin briefly and then sleep on the word with
 * Atomics.wait (bounded), so more workers than cores do not collapse.
 */
import { CPU, G } from '../mm/layout.js';
import { cpu_addr, kg, mem, now_ms31, regions, this_cpu, this_cpu_id } from '../mm/memory.js';

export const MODE_FREE = 0;
export const MODE_CONTROLLED = 1;

export const RUN_SETUP = 0;
export const RUN_RUNNING = 1;
export const RUN_STOPPING = 2;
export const RUN_STOPPED = 3;
export const RUN_DEADLOCK = 4;
export const RUN_CRASHED = 5;
export const RUN_HUNG = 6;
export const RUN_LIMIT = 7;

/** Conditions a waiting CPU publishes. */
export const WAIT_EQ = 1; // mem[addr] === arg
export const WAIT_MASK_ZERO = 2; // (mem[addr] & arg) === 0
export const WAIT_NE = 3; // mem[addr] !== arg
export const WAIT_IDLE = 4; // idle: any runqueue non-empty, or own RCU callbacks ready

/** Strategies (G.ctl_flags bits 0-3) and flags. */
export const STRAT_RANDOM = 1;
export const STRAT_PCT = 2;
export const CTL_REPLAY = 0x10;

/** Thrown out of any wait when the run is being torn down; the CPU loop catches it and leaves. */
export class KernelAbort extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

/** Cached per thread at run start (read once: it does not change during a run). */
let controlled = false;
let delay_permille = 0;
let ncpus = 1;

/**
 * Read the run's mode into this thread. `setup` is for the main thread, which sets the machine up
 * (and runs in-process) outside the controller: there the hook never hands the turn anywhere.
 */
export function hook_attach(setup = false): void {
  controlled = !setup && mem[kg + G.mode] === MODE_CONTROLLED;
  delay_permille = mem[kg + G.inject_delay_permille]!;
  ncpus = mem[kg + G.ncpus]!;
}

export function is_controlled(): boolean {
  return controlled;
}

// ---- free-running delay injection -----------------------------------------------------------

let delay_rng = 0x9e3779b9 ^ (Date.now() | 0);
function delay_rand(): number {
  delay_rng ^= delay_rng << 13;
  delay_rng ^= delay_rng >>> 17;
  delay_rng ^= delay_rng << 5;
  return (delay_rng >>> 0) % 1000;
}

/** The scheduling hook: call it before every lock operation and in named race windows. */
export function sched_hook(site: number): void {
  const c = this_cpu;
  mem[c + CPU.site] = site;
  if (!controlled) {
    if (delay_permille !== 0 && delay_rand() < delay_permille) inject_delay();
    return;
  }
  ctl_schedule();
}

function inject_delay(): void {
  // A short busy delay (up to ~20 µs) or, rarely, a yield of the core with a 0-1 ms sleep.
  const r = delay_rand();
  if (r < 50) {
    Atomics.wait(mem, this_cpu + CPU.hook_seq, 0x7fffffff, r % 2);
  } else {
    const until = performance.now() + r / 50_000;
    while (performance.now() < until) { /* spin */ }
  }
}

// ---- spin waits -----------------------------------------------------------------------------

export function wait_cond(op: number, addr: number, arg: number): boolean {
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
  mem[c + CPU.wait_lock] = lock;
  mem[c + CPU.wait_mode] = mode;
  mem[c + CPU.wait_op] = op;
  mem[c + CPU.wait_arg] = arg;
  mem[c + CPU.wait_since] = now_ms31();
  Atomics.store(mem, c + CPU.wait_addr, addr);
  try {
    if (controlled) {
      while (!wait_cond(op, addr, arg)) ctl_schedule();
      return;
    }
    for (let i = 0; i < SPINS; i++) if (wait_cond(op, addr, arg)) return;
    for (;;) {
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
    Atomics.store(mem, c + CPU.wait_addr, 0);
    mem[c + CPU.wait_lock] = 0;
  }
}

/** Leave any wait when the run is over (stopped, deadlocked, hung, crashed) or this CPU is told to. */
export function check_abort(): void {
  const st = Atomics.load(mem, kg + G.run_state);
  if (st !== RUN_RUNNING) throw new KernelAbort(`run state ${st}`);
  if (Atomics.load(mem, this_cpu + CPU.abort) !== 0) throw new KernelAbort('cpu abort');
}

// ---- controlled mode ------------------------------------------------------------------------

/** xorshift128 on four shared words: the strategy's state lives in shared memory for replay. */
export function ctl_rand(): number {
  const s = kg + G.ctl_rng;
  let t = mem[s]!;
  const w = mem[s + 3]!;
  t ^= t << 11;
  t ^= t >>> 8;
  mem[s] = mem[s + 1]!;
  mem[s + 1] = mem[s + 2]!;
  mem[s + 2] = w;
  const r = (w ^ (w >>> 19) ^ t ^ (t >>> 8)) | 0;
  mem[s + 3] = r;
  return r >>> 0;
}

export function ctl_seed(seed: number): void {
  const s = kg + G.ctl_rng;
  let x = (seed | 0) || 1;
  for (let i = 0; i < 4; i++) {
    x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) | 0;
    x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) | 0;
    mem[s + i] = (x ^ (x >>> 16)) || (i + 1);
  }
}

/** Can CPU `id` make progress now? Reads only the published state of that CPU and the runqueues. */
export function cpu_enabled(id: number): boolean {
  const c = cpu_addr(id);
  if (mem[c + CPU.online]! < 0) return false; // left its loop
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
    if (mem[c + CPU.online] === 1 && Atomics.load(mem, c + CPU.rq_nr) > 0) return true;
  }
  return idle_has_work(id);
}

/** What the run ends as when no CPU can go on (installed by the kernel: are tasks still alive?). */
export let live_tasks: () => number = () => 0;
export function set_live_tasks(f: () => number): void {
  live_tasks = f;
}

const enabled_buf: number[] = [];

/**
 * Pick who runs next and hand over the turn. Returns when this CPU holds the turn again (or throws
 * KernelAbort when the run ended meanwhile).
 */
export function ctl_schedule(): void {
  const me = this_cpu_id;
  check_abort();
  enabled_buf.length = 0;
  for (let i = 0; i < ncpus; i++) if (cpu_enabled(i)) enabled_buf.push(i);
  if (enabled_buf.length === 0) {
    ctl_end(live_tasks() > 0 ? RUN_DEADLOCK : RUN_STOPPED);
    throw new KernelAbort('controlled run ended');
  }
  const n = mem[kg + G.ctl_decisions]!;
  if (n >= mem[kg + G.ctl_max_decisions]!) {
    ctl_end(RUN_LIMIT);
    throw new KernelAbort('decision bound reached');
  }
  let next: number;
  if (enabled_buf.length === 1) {
    next = enabled_buf[0]!;
  } else {
    next = ctl_choose(me, n);
    if (!enabled_buf.includes(next)) next = enabled_buf[0]!; // a replayed choice no longer possible
    const rec = regions.choices;
    if (n < rec.words) mem[rec.base + n] = next;
    mem[kg + G.ctl_decisions] = n + 1;
  }
  if (next === me) return;
  mem[kg + G.ctl_switches] = mem[kg + G.ctl_switches]! + 1;
  Atomics.store(mem, kg + G.ctl_turn, next);
  Atomics.notify(mem, kg + G.ctl_turn);
  ctl_wait_turn(me);
}

function ctl_choose(me: number, n: number): number {
  const flags = mem[kg + G.ctl_flags]!;
  if ((flags & CTL_REPLAY) !== 0 && n < mem[kg + G.ctl_replay_len]!) return mem[regions.choices.base + n]!;
  if ((flags & 0xf) === STRAT_PCT) {
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

/** End a controlled run: everyone leaves at its next check. */
export function ctl_end(state: number): void {
  Atomics.compareExchange(mem, kg + G.run_state, RUN_RUNNING, state);
  Atomics.store(mem, kg + G.ctl_turn, -1);
  Atomics.notify(mem, kg + G.ctl_turn);
  Atomics.notify(mem, kg + G.run_state);
}

/** Wait for the turn (bounded slices; the main thread's watchdog ends a stuck run). */
export function ctl_wait_turn(me: number): void {
  for (;;) {
    const t = Atomics.load(mem, kg + G.ctl_turn);
    if (t === me) return;
    check_abort();
    if (t === -1) throw new KernelAbort('controlled run ended');
    Atomics.wait(mem, kg + G.ctl_turn, t, SLEEP_SLICE_MS * 5);
  }
}

/** Controlled mode: this CPU is idle; give the turn away until it has work (or the run ends). */
export function ctl_idle_wait(parkAddr: number): void {
  const c = this_cpu;
  mem[c + CPU.wait_op] = WAIT_IDLE;
  mem[c + CPU.wait_lock] = 0;
  Atomics.store(mem, c + CPU.wait_addr, parkAddr);
  try {
    ctl_schedule();
  } finally {
    Atomics.store(mem, c + CPU.wait_addr, 0);
  }
}

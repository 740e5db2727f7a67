/**
 * Run tokens: at most G.run_tokens model CPUs run kernel code at once, as many as the host has
 * cores (the Ps of Go's scheduler, GOMAXPROCS; in kernel terms, a guest that never has more vCPUs
 * runnable than it has physical CPUs).
 *
 * Why. A model CPU is a host thread. With more CPUs than cores the host deschedules threads at
 * arbitrary points, also while one holds a spinlock or tasklist_lock; its waiters then spin and
 * park in futexes, and each hand-off costs a futex round trip (tens of µs) against ~0.1 µs for a
 * spin hand-off. The kernel never lets that happen to itself: a CPU that holds a spinlock has
 * preemption disabled (preempt_count > 0). The model gets the same guarantee by construction: a CPU
 * gives its token back only at a preemption point with preempt_count == 0 and nothing held -
 * schedule() between two tasks (cpu_loop), when its time slice is over and somebody waits, and when
 * it goes idle - and a CPU without a token parks in a futex instead of competing for a core. So the
 * host has at most as many of our threads runnable as it has cores, and the threads it runs are the
 * ones holding the locks. (The kernel's own answer for a guest that is not given that guarantee is
 * paravirt spinlocks, kernel/locking/qspinlock_paravirt.h: a vCPU that spins too long halts and
 * the unlocker kicks it. That only makes waiting cheaper; the lock holder can still be the vCPU
 * the host took away, which is the case this avoids. `--host-preemption` turns tokens off for
 * those who want vCPU-style preemption.)
 *
 * The tokens are a ticket semaphore. A CPU takes ticket t = tok_tail++; it holds a token while
 * t - tok_head < run_tokens; giving a token back is tok_head++. Tickets are served in order, so
 * CPUs take turns fairly (a CPU that hands its token on at the end of a slice takes a new ticket at
 * the back). A waiter parks on its own CPU.tok_wake word after writing cpu+1 into
 * tok_ring[t % TOK_RING_WORDS]; a release looks up the one ticket it lets in and wakes that CPU
 * alone (no thundering herd on a shared word).
 *
 * Ordering: the waiter stores its ring slot and then loads tok_head; the releaser adds to tok_head
 * and then loads the ring slot. All four are sequentially consistent Atomics, so at least one side
 * sees the other: either the waiter sees itself let in, or the releaser sees the waiter and wakes
 * it (a store-buffering pattern, as in the futex wait/wake pairing).
 *
 * Detection: a CPU waiting for a token holds no lock, runs no task and is in an extended quiescent
 * state for RCU (the caller marks it idle), so it blocks nobody; CPU.tok_wait tells the wait-for
 * graph it is runnable, never part of a cycle. Every wait is bounded: the waiter re-checks the run
 * state every TOK_PARK_MS, and a run that ends lets every waiter go.
 *
 * Off (run_tokens == 0): controlled mode (one CPU runs at a time anyway), in-process runs, no more
 * CPUs than host cores, and --host-preemption. Then every function here is a test of one
 * thread-local boolean.
 */
import { CPU, G, TOK_RING_WORDS } from '../mm/layout.js';
import { cpu_addr, kg, mem, this_cpu, this_cpu_id } from '../mm/memory.js';
import { ABORT_LEAVE, freeze_wait, RUN_RUNNING } from './hook.js';

/**
 * A CPU keeps its token while others wait for this many completed syscalls (several milliseconds
 * of fork cycles), or at most TOKEN_SLICE_MS of wall time. Counting work rather than time keeps the
 * turns fair in syscalls even when the host takes a token holder's core away for a while (a
 * shared machine); the time bound covers a CPU that completes few syscalls. Each hand-off costs a
 * futex wake of the next CPU (tens of µs, milliseconds on a loaded host) during which its token
 * does no work, so slices are long enough to amortize that.
 */
export const TOKEN_SLICE_SYSCALLS = 2048;
/** Wall-clock bound of a slice: Go's forcePreemptNS (runtime/proc.go) is 10 ms. */
export const TOKEN_SLICE_MS = 10;

/** Longest single park of a waiter: it re-checks the run state after each. */
const TOK_PARK_MS = 20;
/** Polls of tok_head before parking (a release by a running CPU often comes within them). */
const TOK_SPINS = 64;

/** This thread's view: tokens in use this run (0: off), whether it holds one, since when. */
let ntok = 0;
let held = false;
let since = 0;
let since_syscalls = 0;
/**
 * Several CPUs on this thread (src/sched/mux.ts): how many it hosts (0: one CPU of its own). The
 * host thread is then the run token of the CPUs it hosts: the CPU it runs now holds it, and hands
 * it on at the end of its slice (run_token_should_yield) to the next CPU of the same thread, an
 * in-thread switch instead of a futex wake. `since`/`since_syscalls` time the slice of the CPU
 * the thread runs now (set by run_token_slice_start at each switch to a CPU).
 */
let hosted = 0;

/**
 * Main thread, before the CPUs start: how many tokens this run has (0: off). Resets the ticket
 * words, so what an earlier run left behind (a waiter that gave up when that run ended) is gone.
 */
export function run_tokens_setup(m: Int32Array, tokens: number, ncpus: number): void {
  Atomics.store(m, kg + G.run_tokens, tokens > 0 && tokens < ncpus ? tokens : 0);
  Atomics.store(m, kg + G.tok_tail, 0);
  Atomics.store(m, kg + G.tok_head, 0);
  for (let i = 0; i < TOK_RING_WORDS; i++) Atomics.store(m, kg + G.tok_ring + i, 0);
  for (let i = 0; i < ncpus; i++) {
    const c = cpu_addr(i);
    m[c + CPU.tok_wait] = 0;
    m[c + CPU.tok_wake] = 0;
    m[c + CPU.tok_yields] = 0;
  }
}

/**
 * A CPU worker, when it enters its loop: read the run's token count (write-once per run).
 * `nhosted` > 1: this thread hosts that many CPUs (src/sched/mux.ts; tokens are off then).
 */
export function run_token_attach(worker: boolean, nhosted = 0): void {
  ntok = worker ? Atomics.load(mem, kg + G.run_tokens) : 0;
  held = false;
  hosted = worker && nhosted > 1 ? nhosted : 0;
}

/** Several CPUs on this thread: the CPU it switched to starts its slice now. */
export function run_token_slice_start(): void {
  since = performance.now();
  since_syscalls = mem[this_cpu + CPU.syscalls]!;
}

/** Are tokens in use on this thread (or is the thread the token of the CPUs it hosts)? */
export function run_tokens_on(): boolean {
  return ntok !== 0 || hosted !== 0;
}

/** May this CPU run kernel code (it holds a token, or tokens are off)? */
export function run_token_held(): boolean {
  return ntok === 0 || held;
}

/**
 * Take a token (the CPU then may run kernel code). Returns false, without a token, when the run
 * ended or this CPU was told to leave while it waited.
 */
export function run_token_get(): boolean {
  if (ntok === 0 || held) return true;
  const m = mem;
  const head = kg + G.tok_head;
  const t = Atomics.add(m, kg + G.tok_tail, 1);
  if (((t - Atomics.load(m, head)) | 0) < ntok) return got();
  const c = this_cpu;
  const slot = kg + G.tok_ring + (t & (TOK_RING_WORDS - 1));
  Atomics.store(m, c + CPU.tok_wake, 0);
  Atomics.store(m, c + CPU.tok_wait, 1);
  // Publish the ticket, then look at tok_head (pairs with run_token_put: add, then load the slot).
  Atomics.store(m, slot, this_cpu_id + 1);
  try {
    for (let i = 0; ; i++) {
      if (((t - Atomics.load(m, head)) | 0) < ntok) return got();
      if (i < TOK_SPINS) continue;
      if (Atomics.load(m, kg + G.run_state) !== RUN_RUNNING) {
        freeze_wait(); // a broken run is snapshot with this CPU where it is
        return false;
      }
      if (Atomics.load(m, c + CPU.abort) === ABORT_LEAVE) return false;
      Atomics.wait(m, c + CPU.tok_wake, 0, TOK_PARK_MS);
      Atomics.store(m, c + CPU.tok_wake, 0);
    }
  } finally {
    // Our slot: nobody else can have ticket t + TOK_RING_WORDS while we hold ticket t (at most
    // ncpus <= TOK_RING_WORDS tickets are out at once).
    Atomics.compareExchange(m, slot, this_cpu_id + 1, 0);
    Atomics.store(m, c + CPU.tok_wait, 0);
  }
}

function got(): boolean {
  held = true;
  since = performance.now();
  since_syscalls = mem[this_cpu + CPU.syscalls]!;
  return true;
}

/**
 * Give the token back and wake the CPU it lets in, if any. Only where preemption is enabled: a CPU
 * whose preempt_count is not 0 (a task went back to user mode or to sleep holding a spinlock, a
 * bug the checks record) keeps its token, as the kernel keeps such a CPU, unless it leaves its loop.
 */
export function run_token_put(leaving = false): void {
  if (!held) return;
  const m = mem;
  if (!leaving && m[this_cpu + CPU.preempt_count] !== 0) return;
  held = false;
  const h = Atomics.add(m, kg + G.tok_head, 1) + 1;
  // The ticket this release lets in: h + ntok - 1, if somebody has it already.
  const t = (h + ntok - 1) | 0;
  if (((Atomics.load(m, kg + G.tok_tail) - t) | 0) <= 0) return;
  const w = Atomics.load(m, kg + G.tok_ring + (t & (TOK_RING_WORDS - 1)));
  if (w === 0) return; // not parked yet: it sees tok_head itself
  const wc = cpu_addr(w - 1);
  Atomics.store(m, wc + CPU.tok_wake, 1);
  Atomics.notify(m, wc + CPU.tok_wake, 1);
}

/**
 * At schedule() with preempt_count 0: is this CPU's slice over while another CPU waits for a token?
 * Two loads of words written only at token hand-offs, and when somebody waits this CPU's syscall
 * count and a clock read.
 */
export function run_token_should_yield(): boolean {
  if (ntok === 0) return hosted !== 0 && host_slice_over();
  const m = mem;
  if (((Atomics.load(m, kg + G.tok_tail) - Atomics.load(m, kg + G.tok_head)) | 0) <= ntok) return false;
  const c = this_cpu;
  if (m[c + CPU.preempt_count] !== 0) return false;
  return m[c + CPU.syscalls]! - since_syscalls >= TOKEN_SLICE_SYSCALLS || performance.now() - since >= TOKEN_SLICE_MS;
}

/** Does anybody wait for a token (every token in use)? Idle CPUs then do not poll. */
export function run_tokens_busy(): boolean {
  if (ntok === 0) return false;
  const m = mem;
  return ((Atomics.load(m, kg + G.tok_tail) - Atomics.load(m, kg + G.tok_head)) | 0) >= ntok;
}

/** Count a hand-off at the end of a slice (per-CPU statistics). */
export function run_token_count_yield(): void {
  mem[this_cpu + CPU.tok_yields]!++;
}

/**
 * Several CPUs on one thread: a CPU's turn lasts this many completed syscalls, or at most
 * TOKEN_SLICE_MS of wall time. Shorter than a token's slice: a switch inside the thread costs a few
 * stores and an RCU quiescent-state report (about a microsecond, against the ~1 ms of work in a
 * turn), not a futex wake, and short turns keep the CPUs' shares even within a stats window and a
 * task woken onto a CPU that waits for its turn from waiting long. The wall-clock bound stays a
 * token's: a turn counted in time would end early whenever the host takes the thread's core away
 * (a shared machine), and the CPUs' shares would follow the host's scheduling instead of the work.
 */
export const HOST_SLICE_SYSCALLS = 128;

/**
 * Several CPUs on this thread: the CPU it runs has used its slice and preemption is enabled. Its
 * thread then switches to the next CPU it hosts whether or not that one has work: an idle CPU's
 * turn is short (it finds nothing and hands on) and is where it takes a pending interrupt, runs
 * its ready RCU callbacks and sees a hotplug request. The clock is read every
 * HOST_SLICE_CLOCK_EVERY-th schedule().
 */
const HOST_SLICE_CLOCK_EVERY = 8;
let host_clock_countdown = 0;
function host_slice_over(): boolean {
  const m = mem;
  const c = this_cpu;
  if (m[c + CPU.preempt_count] !== 0) return false;
  if (m[c + CPU.syscalls]! - since_syscalls >= HOST_SLICE_SYSCALLS) return true;
  if (--host_clock_countdown > 0) return false;
  host_clock_countdown = HOST_SLICE_CLOCK_EVERY;
  return performance.now() - since >= TOKEN_SLICE_MS;
}

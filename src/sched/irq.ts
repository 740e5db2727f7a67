/**
 * Hard interrupts on the model's CPUs (kernel/irq, arch entry code in spirit).
 *
 * A device raises an interrupt on a CPU (`raise_irq`): the CPU's irq_pending word counts the
 * deliveries still owed (a line that fires `count` times), irq_vec/irq_arg say which handler runs
 * with what. Delivery happens at a scheduling hook of that CPU (src/sched/hook.ts calls
 * `irq_entry` when irq_pending is set) and only where the kernel would take it: interrupts enabled
 * (CPU.irqs_off == 0: not inside spin_lock_irq / write_lock_irq / *_irqsave) and not already in an
 * interrupt (CPU.in_irq == 0). The handler then runs ON TOP of the interrupted task, on the same
 * CPU and stack: `current` stays the interrupted task, everything that task holds stays held, and
 * in_irq > 0 while the handler runs (in_interrupt(), which the queued rwlock's reader rule tests).
 * A handler that spins on a lock keeps the CPU - and the interrupted task - where they are.
 *
 * Where between the eligible hooks the interrupt lands is a scheduling choice:
 * - controlled mode: the run's strategy decides at each eligible hook (random: the chance
 *   irq_permille; PCT: the same draw from the strategy's RNG, which PCT does not otherwise use;
 *   replay: the recorded choice). Each decision is recorded in the choices region like a CPU choice
 *   (G.ctl_decisions), as IRQ_CHOICE_DELIVER (which carries CHOICE_PREEMPT: an interrupt preempts the
 *   running context, so the shrinker may try to remove it) or IRQ_CHOICE_DEFER. A replayed
 *   CHOICE_STAY means "defer". So a replay token reproduces interrupt delivery exactly.
 * - free-running: the same chance, from a per-thread generator.
 * A pending interrupt that was deferred IRQ_MAX_DEFER times is delivered at the next eligible hook
 * without a decision (a device interrupt is never lost); deterministic, so replay agrees.
 */
import { CPU, G } from '../mm/layout.js';
import { cpu_addr, kg, mem, regions } from '../mm/memory.js';
import {
  COIN_NO, COIN_YES, ctl_coin, is_controlled, RUN_RUNNING, set_irq_entry,
} from './hook.js';
import { tracing, trace_event, TR_IRQ_ENTRY, TR_IRQ_EXIT } from '../tracing/trace.js';
import { rcu_irq_enter, rcu_irq_exit } from '../rcu/rcu.js';
import { local_prng_state, prng_below, PRNG_STREAM_IRQ } from '../lib/prng.js';

/** Handler ids (CPU.irq_vec). */
export const IRQV_NONE = 0;
/** kill_fasync(fa, SIGIO, POLL_IN) from a device interrupt (src/kernel/fasync.ts). */
export const IRQV_KILL_FASYNC = 1;
/** it_real_fn: an ITIMER_REAL expiry sends SIGALRM with kill_pid_info (src/kernel/itimer.ts). */
export const IRQV_IT_REAL = 2;

/** Recorded interrupt decisions (one byte in the choices region, like a CPU choice). */
/** (hook.ts ctl_coin's COIN_NO / COIN_YES, the one home of the recorded yes/no decision.) */
export const IRQ_CHOICE_DEFER = COIN_NO;
export const IRQ_CHOICE_DELIVER = COIN_YES;

/** Deferrals after which a pending interrupt is delivered at the next eligible hook. */
export const IRQ_MAX_DEFER = 64;
/** Default chance (per mille) per eligible hook. */
export const IRQ_DEFAULT_PERMILLE = 125;

export type IrqHandler = (arg: number) => void;
const handlers: Array<IrqHandler | undefined> = [];

/** Register an interrupt handler under a fixed id (identical on every thread: call at module load). */
export function register_irq_handler(vec: number, fn: IrqHandler): void {
  handlers[vec] = fn;
}

/**
 * A device raises interrupt `vec` on CPU `cpu` (`count` times; 0 clears the line). Called by the
 * main thread while setting a run up, or by kernel code. The vector and argument are written
 * before the pending count that publishes them.
 */
export function raise_irq(cpu: number, vec: number, arg: number, count = 1, permille = 0): void {
  const c = cpu_addr(cpu);
  mem[c + CPU.irq_vec] = vec;
  mem[c + CPU.irq_arg] = arg;
  mem[c + CPU.irq_permille] = permille;
  mem[c + CPU.irq_deferred] = 0;
  // Publishes the plain vec/arg/permille stores above: pairs with the target CPU's read of
  // irq_pending in sched_hook and do_IRQ's reads of vec/arg after it. That read is a plain peek
  // (the hook is the hot path): a late sight only delivers the interrupt at a later hook, and on
  // the hosts we run (x86-64/arm64 V8) a plain load does not pass the later plain loads of vec/arg.
  Atomics.store(mem, c + CPU.irq_pending, count);
}

// Free-running draws: a thread-local generator state (delivery timing is not reproducible there anyway).
const free_rng = local_prng_state(PRNG_STREAM_IRQ);
function free_rand1000(): number {
  return prng_below(free_rng, 0, 1000);
}

/**
 * irq_enter .. handler .. irq_exit: run the pending interrupt's handler on top of the current task.
 * Hard-interrupt context: in_irq > 0 for the handler's duration (in_interrupt()).
 */
function do_IRQ(c: number): void {
  // Not an atomic decrement: a raise_irq from another CPU between the read and this store is
  // overwritten, and its vec/arg (read below, after the store) are what the handler gets, so the
  // two raises coalesce into one delivery, as a level-triggered line raised twice before its
  // handler ran. The store orders nothing else.
  const left = mem[c + CPU.irq_pending]! - 1;
  Atomics.store(mem, c + CPU.irq_pending, left < 0 ? 0 : left);
  mem[c + CPU.irq_deferred] = 0;
  const fn = handlers[mem[c + CPU.irq_vec]!];
  const arg = mem[c + CPU.irq_arg]!;
  mem[c + CPU.irq_delivered]!++;
  mem[c + CPU.in_irq]!++;
  // Taken on the way into or out of idle (a hook of the idle path): RCU watches for the handler.
  const was_idle = rcu_irq_enter();
  if (tracing) trace_event(TR_IRQ_ENTRY, mem[c + CPU.irq_vec]!, arg, 0);
  try {
    if (fn) fn(arg);
  } finally {
    if (tracing) trace_event(TR_IRQ_EXIT, mem[c + CPU.irq_vec]!, arg, 0);
    mem[c + CPU.in_irq]!--;
    rcu_irq_exit(was_idle);
  }
}

/** Called by sched_hook when this CPU has an interrupt pending. */
function irq_entry(c: number): void {
  if (mem[c + CPU.in_irq] !== 0 || mem[c + CPU.irqs_off] !== 0) return; // masked: stays pending
  // An offline CPU takes no interrupts (takedown_cpu migrates its irqs away; here the interrupt
  // stays pending until the CPU is back). It still runs kernel code at times - cpu_offline_step
  // moves on late wake-ups and runs its ready callbacks - but grace periods skip it, so a
  // handler's RCU readers there would be unprotected (rcu_read_lock's rcu_is_watching check).
  // online is this CPU's own word (plain).
  if (mem[c + CPU.online] !== 1) return;
  // run_state is written by run_end (a CPU or the main thread) with Atomics: a stale RUNNING only delivers
  // one more interrupt before the CPU's next check_abort sees the end. Orders nothing.
  if (Atomics.load(mem, kg + G.run_state) !== RUN_RUNNING) return; // setup, or the run is over
  const permille = mem[c + CPU.irq_permille]! || IRQ_DEFAULT_PERMILLE;
  let deliver: boolean;
  if (mem[c + CPU.irq_deferred]! >= IRQ_MAX_DEFER) deliver = true;
  else if (is_controlled()) deliver = ctl_coin(permille); // the strategy's decision, recorded for replay
  else deliver = free_rand1000() < permille;
  if (!deliver) {
    mem[c + CPU.irq_deferred]!++;
    return;
  }
  do_IRQ(c);
}

set_irq_entry(irq_entry);

/** Is CPU `cpu` in an interrupt handler now (for reports; reads the shared state)? */
export function cpu_in_irq(m: Int32Array, cpu: number): boolean {
  return m[regions.cpus.base + cpu * regions.cpus.stride + CPU.in_irq]! > 0;
}

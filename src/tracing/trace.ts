/**
 * Trace events into per-CPU rings (kernel/trace/ring_buffer.c; the events are those of
 * include/trace/events/{syscalls,lock,sched,irq,rcu}.h).
 *
 * Each CPU owns a bounded ring of trace_event records (layout.ts TRACE_EVENT_SPEC, region
 * `trace`): it is the only writer, so a record is four plain stores and a bump of CPU.trace_head;
 * when the ring is full the oldest record is overwritten (the kernel's overwrite mode). The main
 * thread reads the rings only when the CPUs are frozen (deadlock, hang, crash: the snapshot) or
 * have left (end of run, Ctrl-C), so no ordering is needed between writer and reader.
 *
 * Off unless the machine was created with `traceEvents` > 0. Emission points are one line,
 * `if (tracing) trace_event(TR_X, arg, a, b);`: with tracing off that is one load of a
 * module-level boolean that never changes during a run (a predictable branch).
 *
 * The clock: ticks of 1/TRACE_TICKS_PER_MS ms since G.trace_epoch (Unix seconds), modulo 2^32
 * (the reader unwraps them against the time it reads the rings: records up to 2^32 ticks = 429 s
 * old place exactly). Every thread derives it from its own performance.timeOrigin, which Node sets
 * from the same wall clock in every thread.
 */
import { CPU, G, PID, TASK, TRACE_EV, UPID_NR } from '../mm/layout.js';
import { kg, mem, this_cpu } from '../mm/memory.js';

/** Event types (bits 0-7 of trace_event.info). The argument is bits 8-31; a and b as listed. */
/** syscall entered (or re-entered on resume): arg = syscall nr, a = task. */
export const TR_SYS_ENTER = 1;
/** syscall returned, slept or ended the task: arg = the call's nr now (a stress op's sub-call), a = task, b = return (SLEEP, EXITED, >= 0 or -errno). */
export const TR_SYS_EXIT = 2;
/** lock found taken, the CPU (or task, for a mutex) waits: arg = mode | class << 8 (HELD_* mode, as a held-lock entry packs them), a = lock. */
export const TR_LOCK_CONTENDED = 3;
/** lock acquired: arg = mode | class << 8, a = lock. */
export const TR_LOCK_ACQUIRED = 4;
/** lock released: a = lock (the reader pairs it with the CPU's or task's acquisition of a). */
export const TR_LOCK_RELEASED = 5;
/** the task blocked (sched_switch with a sleeping prev): arg = wchan (WCHAN_*), a = task, b = wait object. */
export const TR_SLEEP = 6;
/** try_to_wake_up queued a task (sched_wakeup): arg = CPU it was queued for (0xff: unknown), a = wakee, b = waker task (0 in an interrupt or idle). */
export const TR_WAKEUP = 7;
/** a CPU switched to a task: arg = task id (low 24 bits), a = task, b = its pid number in the initial namespace (0: none). */
export const TR_SWITCH_IN = 8;
/** the CPU switched away from a task: arg = how (SLICE_* bits of sched/core.ts), a = task. */
export const TR_SWITCH_OUT = 9;
/** hard interrupt entry: arg = vector (IRQV_*), a = handler argument. */
export const TR_IRQ_ENTRY = 10;
/** hard interrupt exit: arg = vector. */
export const TR_IRQ_EXIT = 11;
/** grace period started: arg = flavour (TRF_*), a = grace-period number. */
export const TR_GP_START = 12;
/** grace period completed: arg = flavour, a = grace-period number. */
export const TR_GP_END = 13;
/** a violation was recorded: arg = V_* kind, a, b = its first operands. */
export const TR_VIOLATION = 14;

export const TR_NAMES = [
  '-', 'sys_enter', 'sys_exit', 'lock_contended', 'lock_acquired', 'lock_released', 'sleep', 'wakeup',
  'switch_in', 'switch_out', 'irq_entry', 'irq_exit', 'gp_start', 'gp_end', 'violation',
];

/** Grace-period flavours (TR_GP_* argument). */
export const TRF_RCU = 0;
export const TRF_SRCU = 1;

/** Most time the reader puts between two records written without a clock read (µs). */
export const TRACE_NOCLOCK_STEP_US = 0.2;

/** Trace clock ticks per millisecond (0.1 µs ticks). */
export const TRACE_TICKS_PER_MS = 10_000;

/** Tracing is on for the machine this thread is attached to (read once per attach). */
export let tracing = false;
let ring_mask = 0;
/** performance.now() + clock_off_ms = ms since G.trace_epoch on this thread. */
let clock_off_ms = 0;

/** Read the machine's trace setup into this thread (called from hook_attach, once per attach). */
export function trace_attach(): void {
  const n = mem[kg + G.trace_events]!;
  tracing = n > 0;
  ring_mask = n - 1;
  clock_off_ms = performance.timeOrigin - (mem[kg + G.trace_epoch]! >>> 0) * 1000;
}

/** The trace clock now (ticks since G.trace_epoch, modulo 2^32 as an int32). */
export function trace_clock(): number {
  return ((clock_off_ms + performance.now()) * TRACE_TICKS_PER_MS) | 0;
}

/**
 * Bit of trace_event.info on a record written without reading the clock (trace_event_noclock):
 * the reader places it between the clocked records around it on the same CPU, by position.
 */
export const TR_NOCLOCK = 0x80;

/** Write one event to this CPU's ring (callers test `tracing` first). */
export function trace_event(type: number, arg: number, a: number, b: number): void {
  trace_record(type | (arg << 8), a, b, true);
}

/**
 * One record at this CPU's ring head: the timestamp only when `clocked` (a noclock record keeps
 * whatever the slot held; the reader ignores it because of TR_NOCLOCK in `info`).
 */
function trace_record(info: number, a: number, b: number, clocked: boolean): void {
  const m = mem;
  const c = this_cpu;
  const ring = m[c + CPU.trace_ring]!;
  if (ring === 0) return;
  const h = m[c + CPU.trace_head]!;
  const e = ring + (h & ring_mask) * TRACE_EV.SIZE;
  if (clocked) m[e + TRACE_EV.ts] = trace_clock();
  m[e + TRACE_EV.info] = info;
  m[e + TRACE_EV.a] = a;
  m[e + TRACE_EV.b] = b;
  m[c + CPU.trace_head] = (h + 1) | 0;
}

/**
 * The same without a clock read, for the frequent events (an uncontended lock taken and released
 * is 50 of the ~70 events of a fork cycle; wake-ups, sleeps, switches out and grace periods come
 * right before or after a clocked event). A clock read costs tens of nanoseconds or more, a record
 * without one a few stores. The reader places these records between the clocked ones around them
 * on the same CPU (system-call entry and exit, switches in, contention, interrupts), which bound
 * them exactly, spread by position (at most TRACE_NOCLOCK_STEP_US apart).
 */
export function trace_event_noclock(type: number, arg: number, a: number, b: number): void {
  trace_record(type | TR_NOCLOCK | (arg << 8), a, b, false);
}

/** sched_switch to `t`: its id and its pid number in the initial namespace name it in the trace. */
export function trace_switch_in(t: number): void {
  const m = mem;
  const pid = m[t + TASK.pid]!;
  trace_event(TR_SWITCH_IN, m[t + TASK.id]! & 0xffffff, t, pid !== 0 ? m[pid + PID.SIZE + UPID_NR]! : 0);
}

/**
 * Reading the per-CPU trace rings (src/tracing/trace.ts) on the main thread: once the CPUs are
 * frozen (the snapshot of a deadlock, hang or crash) or have left (end of run, Ctrl-C). The result
 * is plain data (JSON-safe): the events of every CPU in time order with absolute timestamps, and
 * the names of the tasks they mention, resolved from the state where the task is still alive.
 */
import { CPU, G, TRACE_EV, TASK, POISON_LIVE } from '../mm/layout.js';
import type { StateView } from '../detect/waitfor.js';
import { task_nspid } from '../detect/waitfor.js';
import { lock_class_name, LOCK_CLASS_NAMES } from '../locking/lockdep.js';
import { syscall_name } from '../kernel/entry.js';
import { TR_NOCLOCK, TRACE_NOCLOCK_STEP_US, TR_SWITCH_IN, TR_SYS_ENTER, TR_SYS_EXIT, TR_SLEEP, TR_SWITCH_OUT, TR_WAKEUP, TRACE_TICKS_PER_MS } from '../tracing/trace.js';

/** One event: [cpu, µs since the trace epoch, type, arg, a, b]. */
export type TraceRecord = [number, number, number, number, number, number];

export interface TraceTask {
  /** Program name (stress, reaper, init ...), kthreadN, or task. */
  name: string;
  /** Task serial number (TASK.id). */
  id: number;
  /** pid in every pid namespace from the initial one down, when known. */
  nspid: number[];
  /** Alive when the trace was read (its NSpid comes from the state then). */
  alive: boolean;
}

export interface TraceCapture {
  v: 1;
  ncpus: number;
  /** Unix time (ms) of the trace epoch; event times are µs after it. */
  epochMs: number;
  /** Time the rings were read (µs after the epoch): the freeze of a stuck run, or its end. */
  endUs: number;
  /** Events of all CPUs, each CPU's in the order it wrote them, merged by time. */
  events: TraceRecord[];
  /** Records each ring lost to overwriting (the ring keeps the most recent ones). */
  lost: number[];
  /** Task address -> what it is called ("addr" keys; a record reused by a later task keeps the newest name). */
  tasks: Record<string, TraceTask>;
  /** Lock class names by class id, and the names of the system calls the events mention. */
  classes: string[];
  syscalls: Record<string, string>;
}

/** Is tracing configured in this state? */
export function trace_configured(v: StateView): boolean {
  return v.m[v.kg + G.trace_events]! > 0;
}

/** The trace clock of this thread now, in ticks since the epoch (not wrapped). */
function clock_ticks_now(epochS: number): number {
  return (performance.timeOrigin + performance.now() - epochS * 1000) * TRACE_TICKS_PER_MS;
}

/**
 * Read every CPU's ring from `v` (a snapshot or the memory of CPUs that have left). `readAt`
 * (performance.now() of this thread when the state was frozen) dates the end of the trace.
 */
export function capture_trace(v: StateView, readAt = performance.now()): TraceCapture | undefined {
  const m = v.m;
  const n = m[v.kg + G.trace_events]!;
  if (n <= 0) return undefined;
  const ncpus = m[v.kg + G.ncpus]!;
  const epochS = m[v.kg + G.trace_epoch]! >>> 0;
  const nowTicks = clock_ticks_now(epochS) - (performance.now() - readAt) * TRACE_TICKS_PER_MS;
  const nowWrapped = nowTicks | 0;
  const events: TraceRecord[] = [];
  const lost: number[] = [];
  const tasks: Record<string, TraceTask> = {};
  const seen = new Map<number, { id: number; pid: number }>();
  const syscalls: Record<string, string> = {};
  const usPerTick = 1000 / TRACE_TICKS_PER_MS;
  for (let cpu = 0; cpu < ncpus; cpu++) {
    const c = v.r.cpus.base + cpu * v.r.cpus.stride;
    const ring = m[c + CPU.trace_ring]!;
    const head = m[c + CPU.trace_head]! >>> 0;
    if (!ring) { lost.push(0); continue; }
    const count = Math.min(head, n);
    lost.push(head - count);
    const mine: TraceRecord[] = [];
    for (let k = head - count; k < head; k++) {
      const e = ring + (k & (n - 1)) * TRACE_EV.SIZE;
      const info = m[e + TRACE_EV.info]!;
      const type = info & 0x7f;
      const arg = info >>> 8;
      const a = m[e + TRACE_EV.a]!;
      const b = m[e + TRACE_EV.b]!;
      // A record without a clock read gets its time below, from its clocked neighbours.
      const us = (info & TR_NOCLOCK) !== 0 ? NaN : (nowTicks - ((nowWrapped - m[e + TRACE_EV.ts]!) >>> 0)) * usPerTick;
      mine.push([cpu, us, type, arg, a, b]);
      if (type === TR_SYS_ENTER || type === TR_SYS_EXIT) syscalls[arg] ??= syscall_name(arg);
      if (type === TR_SWITCH_IN) seen.set(a, { id: arg, pid: b });
      else if ((type === TR_SYS_ENTER || type === TR_SYS_EXIT || type === TR_SLEEP || type === TR_SWITCH_OUT || type === TR_WAKEUP) && !seen.has(a)) seen.set(a, { id: -1, pid: 0 });
    }
    interpolate(mine, nowTicks * usPerTick);
    for (const r of mine) r[1] = Math.round(r[1] * 100) / 100;
    events.push(...mine);
  }
  // Each CPU's events are in its own order; merge by time, keeping that order for equal times.
  events.sort((x, y) => x[1] - y[1] || x[0] - y[0]);
  for (const [addr, s] of seen) {
    // The record still describes this task unless a later task reuses it (another id).
    const same = s.id < 0 || m[addr + TASK.id] === s.id;
    const live = same && m[addr + TASK.poison] === POISON_LIVE;
    const id = same ? m[addr + TASK.id]! : s.id;
    const nspid = live ? task_nspid(m, addr) : s.pid ? [s.pid] : [];
    tasks[String(addr)] = { name: (same ? v.nameOf?.(addr) : undefined) ?? 'task', id, nspid, alive: live };
  }
  return { v: 1, ncpus, epochMs: epochS * 1000, endUs: Math.round(nowTicks * usPerTick * 100) / 100, events, lost, tasks,
    classes: LOCK_CLASS_NAMES.map((_, i) => lock_class_name(i)), syscalls };
}

/**
 * Times of the records written without a clock read: spread evenly, by position, after the
 * clocked record before them and before the one after them on the same CPU, at most
 * TRACE_NOCLOCK_STEP_US apart (so a switch-out before a long idle stays next to the system call
 * that ended, not in the middle of the idle time). Leading ones take the first clocked time.
 */
function interpolate(r: TraceRecord[], endUs: number): void {
  let prev = -1;
  for (let i = 0; i <= r.length; i++) {
    if (i < r.length && Number.isNaN(r[i]![1])) continue;
    const t1 = i < r.length ? r[i]![1] : Math.max(endUs, prev >= 0 ? r[prev]![1] : endUs);
    const t0 = prev >= 0 ? r[prev]![1] : t1;
    const gap = i - prev;
    const step = Math.min((t1 - t0) / gap, TRACE_NOCLOCK_STEP_US);
    for (let k = prev + 1; k < i; k++) r[k]![1] = t0 + step * (k - prev);
    prev = i;
  }
}

/** A task's label in traces and reports: name:pid [NSpid ...] (or name:tN without a pid). */
export function task_label(t: TraceTask | undefined, addr: number): string {
  if (!t) return `task@${addr}`;
  const pid = t.nspid.length ? String(t.nspid[0]) : `t${t.id}`;
  const ns = t.nspid.length > 1 ? ` [NSpid ${t.nspid.join(' ')}]` : '';
  return `${t.name}:${pid}${ns}${t.alive ? '' : ' (exited)'}`;
}

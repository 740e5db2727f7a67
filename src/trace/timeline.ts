/**
 * From trace events to a timeline: per CPU, properly nested slices (task runs, system calls,
 * interrupts, lock holds, lock waits), instants (sleep, wake-up, violation, contention), flows
 * from a wake-up to the run it caused, and grace periods. The Chrome trace (chrome.ts) and the
 * HTML report (html.ts) both draw from this.
 *
 * Nesting: a CPU's slices form a stack. Lock releases need not be in acquisition order (the kernel
 * allows any order), so a release below the top closes the slices above it and opens them again
 * (same name, `cont` set): every slice is properly nested, as trace viewers want. A mutex belongs
 * to the task: its slice closes when the task is switched out and opens again when it runs.
 * Slices still open when the rings were read (a CPU spinning in a deadlock, a task in a syscall)
 * end at the end of the trace with `open` set.
 */
import {
  TR_GP_END, TR_GP_START, TR_IRQ_ENTRY, TR_IRQ_EXIT, TR_LOCK_ACQUIRED, TR_LOCK_CONTENDED, TR_LOCK_RELEASED, TR_SLEEP,
  TR_SWITCH_IN, TR_SWITCH_OUT, TR_SYS_ENTER, TR_SYS_EXIT, TR_VIOLATION, TR_WAKEUP, TRF_SRCU,
} from '../tracing/trace.js';
import { VIOLATION_NAMES } from '../locking/violations.js';
import { SLEEP, WCHAN_NAMES } from '../sched/core.js';
import { HELD_MODE_NAMES, hex } from '../detect/waitfor.js';
import { task_label, type TraceCapture } from './capture.js';
import { EXITED } from '../kernel/entry.js';
import { HELD_MUTEX } from '../locking/lockdep.js';


export type SliceCat = 'task' | 'syscall' | 'irq' | 'lock' | 'wait';

export interface Slice {
  name: string;
  cat: SliceCat;
  start: number;
  end: number;
  depth: number;
  args: Record<string, string | number | boolean>;
}

export interface Instant {
  name: string;
  cat: 'sleep' | 'wakeup' | 'violation' | 'contended';
  ts: number;
  args: Record<string, string | number | boolean>;
}

export interface Flow {
  id: number;
  fromCpu: number;
  fromTs: number;
  toCpu: number;
  toTs: number;
  name: string;
}

export interface GracePeriod {
  flavour: 'rcu' | 'srcu';
  gp: number;
  start: number;
  end: number;
  open: boolean;
}

export interface Timeline {
  startUs: number;
  endUs: number;
  cpus: Array<{ slices: Slice[]; instants: Instant[] }>;
  flows: Flow[];
  gps: GracePeriod[];
  /** Task address -> label. */
  labels: Map<number, string>;
  /** Records left out before the span every ring covers. */
  clipped: number;
}

interface Open {
  name: string;
  cat: SliceCat;
  start: number;
  key: string;
  args: Record<string, string | number | boolean>;
}

/** Build the timeline of a capture. */
export function build_timeline(cap: TraceCapture): Timeline {
  const labels = new Map<number, string>();
  const label = (t: number): string => {
    let l = labels.get(t);
    if (!l) { l = task_label(cap.tasks[String(t)], t); labels.set(t, l); }
    return l;
  };
  const cls = (arg: number): string => cap.classes[(arg >>> 8) & 0xff] ?? `class#${(arg >>> 8) & 0xff}`;
  const mode = (arg: number): string => HELD_MODE_NAMES[arg & 0xff] ?? '?';
  const sys = (nr: number): string => cap.syscalls[String(nr)] ?? `sys#${nr}`;
  // Rings that overwrote records cover different spans (a busy CPU's ring reaches back less far):
  // the timeline starts where every such ring has its records, so no CPU looks idle for want of
  // data (the kernel's trace-cmd shows the same "CPU n buffer started" edge).
  let coverFrom = -Infinity;
  for (let cpu = 0; cpu < cap.ncpus; cpu++) {
    if (!cap.lost[cpu]) continue;
    const first = cap.events.find((e) => e[0] === cpu);
    if (first && first[1] > coverFrom) coverFrom = first[1];
  }
  const events = coverFrom === -Infinity ? cap.events : cap.events.filter((e) => e[1] >= coverFrom);
  const startUs = events.length ? events[0]![1] : cap.endUs;
  const endUs = Math.max(cap.endUs, events.length ? events[events.length - 1]![1] : cap.endUs);
  const cpus = Array.from({ length: cap.ncpus }, () => ({ slices: [] as Slice[], instants: [] as Instant[] }));
  const stacks: Open[][] = Array.from({ length: cap.ncpus }, () => []);
  const running: number[] = new Array(cap.ncpus).fill(0);
  /** Mutexes each task holds (address -> class/mode arg), to reopen their slices when it runs. */
  const taskMutex = new Map<number, Map<number, number>>();
  const wakeups: Array<{ cpu: number; ts: number; task: number }> = [];
  const switchIns: Array<{ cpu: number; ts: number; task: number }> = [];
  const gpStart = new Map<string, { flavour: 'rcu' | 'srcu'; gp: number; ts: number }>();
  const gpEnd = new Map<string, number>();

  const close = (cpu: number, o: Open, ts: number, depth: number, extra?: Record<string, string | number | boolean>): void => {
    cpus[cpu]!.slices.push({ name: o.name, cat: o.cat, start: o.start, end: Math.max(ts, o.start), depth, args: extra ? { ...o.args, ...extra } : o.args });
  };
  const push = (cpu: number, o: Open): void => { stacks[cpu]!.push(o); };
  /** Close the slice with `key` (and re-open the ones above it). False when it is not open. */
  const closeKey = (cpu: number, key: string, ts: number, extra?: Record<string, string | number | boolean>): boolean => {
    const st = stacks[cpu]!;
    let i = st.length - 1;
    while (i >= 0 && st[i]!.key !== key) i--;
    if (i < 0) return false;
    const above = st.splice(i + 1);
    for (let k = above.length - 1; k >= 0; k--) close(cpu, above[k]!, ts, i + 1 + k, { cont: true });
    const o = st.pop()!;
    close(cpu, o, ts, i, extra);
    for (const a of above) push(cpu, { ...a, start: ts, args: { ...a.args, cont: true } });
    return true;
  };
  /** Close everything down to (and including) the slice of the running task. */
  const closeTask = (cpu: number, ts: number, extra?: Record<string, string | number | boolean>): void => {
    const st = stacks[cpu]!;
    while (st.length) {
      const o = st.pop()!;
      close(cpu, o, ts, st.length, o.cat === 'task' ? extra : o.cat === 'lock' ? { 'held on': true } : undefined);
      if (o.cat === 'task') break;
    }
    running[cpu] = 0;
  };
  const ensureTask = (cpu: number, t: number, ts: number): void => {
    if (running[cpu] === t || !t) return;
    if (running[cpu]) closeTask(cpu, ts);
    running[cpu] = t;
    stacks[cpu]!.unshift({ name: label(t), cat: 'task', start: ts, key: `task:${t}`, args: { task: label(t), note: 'was running when the ring begins' } });
  };

  for (const [cpu, ts, type, arg, a, b] of events) {
    const inst = cpus[cpu]!.instants;
    switch (type) {
      case TR_SWITCH_IN: {
        if (running[cpu]) closeTask(cpu, ts);
        running[cpu] = a;
        push(cpu, { name: label(a), cat: 'task', start: ts, key: `task:${a}`, args: { task: label(a) } });
        switchIns.push({ cpu, ts, task: a });
        const held = taskMutex.get(a);
        if (held) for (const [lock, la] of held) push(cpu, { name: `${cls(la)} (mutex)`, cat: 'lock', start: ts, key: `lock:${lock}`, args: { lock: hex(lock), class: cls(la), mode: 'mutex', cont: true } });
        break;
      }
      case TR_SWITCH_OUT:
        if (running[cpu] !== a) ensureTask(cpu, a, ts);
        closeTask(cpu, ts, { switched_out: (arg & 2) !== 0 ? 'time slice' : (arg & 4) !== 0 ? 'blocked' : (arg & 1) !== 0 ? 'dead' : 'switched' });
        break;
      case TR_SYS_ENTER:
        ensureTask(cpu, a, ts);
        push(cpu, { name: sys(arg), cat: 'syscall', start: ts, key: `sys:${a}`, args: { task: label(a), syscall: sys(arg) } });
        break;
      case TR_SYS_EXIT: {
        const ret = b === SLEEP ? 'sleeps' : b === EXITED ? 'task exited' : b;
        const st = stacks[cpu]!;
        const top = [...st].reverse().find((o) => o.key === `sys:${a}`);
        if (top && top.name !== sys(arg)) top.name = `${top.name}: ${sys(arg)}`;
        if (!closeKey(cpu, `sys:${a}`, ts, { ret, call: sys(arg) })) {
          // Entered before the ring begins: nothing to close.
        }
        break;
      }
      case TR_LOCK_CONTENDED:
        inst.push({ name: `contended: ${cls(arg)}`, cat: 'contended', ts, args: { lock: hex(a), class: cls(arg), mode: mode(arg) } });
        if ((arg & 0xff) !== HELD_MUTEX) push(cpu, { name: `waits for ${cls(arg)} {${mode(arg)}}`, cat: 'wait', start: ts, key: `wait:${a}`, args: { lock: hex(a), class: cls(arg), mode: mode(arg) } });
        break;
      case TR_LOCK_ACQUIRED:
        closeKey(cpu, `wait:${a}`, ts, { acquired: true });
        push(cpu, { name: `${cls(arg)} {${mode(arg)}}`, cat: 'lock', start: ts, key: `lock:${a}`, args: { lock: hex(a), class: cls(arg), mode: mode(arg) } });
        if ((arg & 0xff) === HELD_MUTEX && b) {
          let h = taskMutex.get(b);
          if (!h) taskMutex.set(b, (h = new Map()));
          h.set(a, arg);
        }
        break;
      case TR_LOCK_RELEASED:
        closeKey(cpu, `lock:${a}`, ts);
        if (b) taskMutex.get(b)?.delete(a);
        break;
      case TR_SLEEP:
        inst.push({ name: `sleep: ${WCHAN_NAMES[arg] ?? `wchan#${arg}`}`, cat: 'sleep', ts, args: { task: label(a), wchan: WCHAN_NAMES[arg] ?? arg, object: hex(b) } });
        break;
      case TR_WAKEUP:
        inst.push({ name: `wake_up ${label(a)}`, cat: 'wakeup', ts, args: { wakee: label(a), waker: b ? label(b) : '(interrupt or idle)' } });
        wakeups.push({ cpu, ts, task: a });
        break;
      case TR_IRQ_ENTRY:
        push(cpu, { name: `hardirq ${arg === 1 ? 'kill_fasync' : `vector ${arg}`}`, cat: 'irq', start: ts, key: 'irq', args: { vector: arg, arg: a } });
        break;
      case TR_IRQ_EXIT:
        closeKey(cpu, 'irq', ts);
        break;
      // Paired by number after the loop: a start and an end written on two CPUs without clock
      // reads may come out of the merge in either order.
      case TR_GP_START:
        gpStart.set(`${arg}:${a}`, { flavour: arg === TRF_SRCU ? 'srcu' : 'rcu', gp: a, ts });
        break;
      case TR_GP_END:
        gpEnd.set(`${arg}:${a}`, ts);
        break;
      case TR_VIOLATION:
        inst.push({ name: `violation: ${VIOLATION_NAMES[arg] ?? `kind ${arg}`}`, cat: 'violation', ts, args: { kind: VIOLATION_NAMES[arg] ?? arg, a, b } });
        break;
      default:
        break;
    }
  }
  for (let cpu = 0; cpu < cap.ncpus; cpu++) {
    const st = stacks[cpu]!;
    while (st.length) close(cpu, st.pop()!, endUs, st.length, { open: true });
    cpus[cpu]!.slices.sort((x, y) => x.start - y.start || x.depth - y.depth);
  }
  // A grace period whose start the rings no longer hold is left out rather than drawn from the
  // beginning of the trace; one that has not ended runs to the end of the trace.
  const gps: GracePeriod[] = [];
  for (const [key, s] of gpStart) {
    const end = gpEnd.get(key);
    gps.push({ flavour: s.flavour, gp: s.gp, start: end === undefined ? s.ts : Math.min(s.ts, end), end: end ?? endUs, open: end === undefined });
  }
  // A wake-up flows to the wakee's next switch-in (on whichever CPU took it).
  const flows: Flow[] = [];
  const nextIn = new Map<number, Array<{ cpu: number; ts: number }>>();
  for (const s of switchIns) {
    let l = nextIn.get(s.task);
    if (!l) nextIn.set(s.task, (l = []));
    l.push(s);
  }
  let id = 1;
  for (const w of wakeups) {
    const l = nextIn.get(w.task);
    const to = l?.find((s) => s.ts >= w.ts);
    if (!to) continue;
    flows.push({ id: id++, fromCpu: w.cpu, fromTs: w.ts, toCpu: to.cpu, toTs: to.ts, name: `wake_up ${label(w.task)}` });
  }
  return { startUs, endUs, cpus, flows, gps, labels, clipped: cap.events.length - events.length };
}

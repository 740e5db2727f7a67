/**
 * The Chrome trace-event format (the JSON Object Format of "Trace Event Format", which Perfetto's
 * UI and chrome://tracing open as they are): one process "pidrace CPUs" with a thread track per
 * model CPU; complete events (ph X) for task runs, system calls, interrupts, lock holds and lock
 * waits, properly nested; instant events (ph i) for sleeps, wake-ups, contention and violations;
 * flow events (ph s / f) from a wake-up to the run it caused; a second process with the RCU and
 * SRCU grace periods. Times are µs from the first event in the trace.
 */
import { build_timeline, type Timeline } from './timeline.js';
import type { TraceCapture } from './capture.js';

export interface ChromeEvent {
  ph: string;
  name: string;
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  s?: string;
  id?: number;
  bp?: string;
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: ChromeEvent[];
  displayTimeUnit: 'ns' | 'ms';
  otherData: Record<string, unknown>;
}

export const PID_CPUS = 1;
export const PID_GP = 2;

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The Chrome trace of a capture (or of a timeline already built from it). */
export function chrome_trace(cap: TraceCapture, meta: Record<string, unknown> = {}, tl: Timeline = build_timeline(cap)): ChromeTrace {
  const t0 = tl.startUs;
  const ev: ChromeEvent[] = [];
  const at = (us: number): number => r3(us - t0);
  ev.push({ ph: 'M', name: 'process_name', pid: PID_CPUS, tid: 0, args: { name: 'pidrace CPUs' } });
  ev.push({ ph: 'M', name: 'process_sort_index', pid: PID_CPUS, tid: 0, args: { sort_index: 0 } });
  for (let cpu = 0; cpu < cap.ncpus; cpu++) {
    ev.push({ ph: 'M', name: 'thread_name', pid: PID_CPUS, tid: cpu, args: { name: `CPU ${cpu}` } });
    ev.push({ ph: 'M', name: 'thread_sort_index', pid: PID_CPUS, tid: cpu, args: { sort_index: cpu } });
  }
  ev.push({ ph: 'M', name: 'process_name', pid: PID_GP, tid: 0, args: { name: 'grace periods' } });
  ev.push({ ph: 'M', name: 'process_sort_index', pid: PID_GP, tid: 0, args: { sort_index: 1 } });
  ev.push({ ph: 'M', name: 'thread_name', pid: PID_GP, tid: 0, args: { name: 'RCU' } });
  ev.push({ ph: 'M', name: 'thread_name', pid: PID_GP, tid: 1, args: { name: 'SRCU (tasks_rcu_exit_srcu)' } });
  tl.cpus.forEach((c, cpu) => {
    for (const s of c.slices) ev.push({ ph: 'X', name: s.name, cat: s.cat, pid: PID_CPUS, tid: cpu, ts: at(s.start), dur: r3(s.end - s.start), args: s.args });
    for (const i of c.instants) ev.push({ ph: 'i', s: 't', name: i.name, cat: i.cat, pid: PID_CPUS, tid: cpu, ts: at(i.ts), args: i.args });
  });
  for (const f of tl.flows) {
    ev.push({ ph: 's', id: f.id, name: 'wakeup', cat: 'wakeup', pid: PID_CPUS, tid: f.fromCpu, ts: at(f.fromTs) });
    ev.push({ ph: 'f', bp: 'e', id: f.id, name: 'wakeup', cat: 'wakeup', pid: PID_CPUS, tid: f.toCpu, ts: at(f.toTs) });
  }
  for (const g of tl.gps) {
    ev.push({ ph: 'X', name: `${g.flavour === 'rcu' ? 'RCU' : 'SRCU'} grace period ${g.gp}`, cat: 'gp', pid: PID_GP, tid: g.flavour === 'rcu' ? 0 : 1, ts: at(g.start), dur: r3(g.end - g.start), args: g.open ? { open: true } : {} });
  }
  return {
    traceEvents: ev,
    displayTimeUnit: 'ns',
    otherData: { tool: 'pidrace', epoch_ms: cap.epochMs, start_us_after_epoch: t0, lost_per_cpu: cap.lost, clipped_before_common_span: tl.clipped, ...meta },
  };
}

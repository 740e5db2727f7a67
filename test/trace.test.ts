/**
 * The per-CPU trace rings (src/tracing/trace.ts) and what is built from them: the capture, the
 * timeline, the Chrome trace-event JSON. Runs catalogued deadlocks on real CPU workers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { findScenario } from '../src/scenarios/catalog.js';
import { closePools, runOnce, searchSchedules, type RunRecord } from '../src/scenarios/runner.js';
import { chrome_trace, PID_CPUS, type ChromeTrace } from '../src/trace/chrome.js';
import { chrome_trace_problems } from './trace_support.js';
import { build_timeline } from '../src/trace/timeline.js';
import { Machine } from '../src/machine.js';
import { CPU } from '../src/mm/layout.js';
import { cpu_addr } from '../src/mm/memory.js';
import { TR_LOCK_ACQUIRED, TR_LOCK_RELEASED, TR_NAMES, TR_SWITCH_IN, TR_SWITCH_OUT, TR_SYS_ENTER, TR_SYS_EXIT, TR_WAKEUP } from '../src/tracing/trace.js';
import { capture_trace, type TraceCapture } from '../src/trace/capture.js';
import { SYS_EXIT, SYS_FORK, SYS_WAIT4 } from '../src/kernel/unistd.js';
import { OP_HALT, OP_LOOP } from '../src/kernel/entry.js';
import { launchProcess } from '../bench/forkrate.js';
import { run_stress } from '../src/stress/run.js';
import { default_config } from '../src/stress/config.js';

afterAll(async () => { await closePools(); });

async function tracedHit(id: string, trace = 1 << 14): Promise<RunRecord> {
  const s = findScenario(id)!;
  const v = s.variants.find((x) => x.name === s.defaultVariant)!;
  const r = await searchSchedules(s, v, { trace, schedules: 200 });
  expect(r.asExpected).toBe(true);
  return r.first!;
}

describe('trace rings', () => {
  it('catalog entry 1: every CPU writes its ring; the Chrome trace is well formed and names the cycle\'s tasks with NSpid', async () => {
    const rec = await tracedHit('1');
    const cap = rec.trace!;
    expect(cap.ncpus).toBe(2);
    for (let cpu = 0; cpu < cap.ncpus; cpu++) expect(cap.events.some((e) => e[0] === cpu)).toBe(true);
    // Times are in order and inside the trace.
    for (let i = 1; i < cap.events.length; i++) expect(cap.events[i]![1]).toBeGreaterThanOrEqual(cap.events[i - 1]![1]);
    expect(cap.endUs).toBeGreaterThanOrEqual(cap.events[cap.events.length - 1]![1]);
    const types = new Set(cap.events.map((e) => TR_NAMES[e[2]]));
    for (const t of ['sys_enter', 'sys_exit', 'lock_acquired', 'lock_released', 'switch_in', 'switch_out', 'sleep', 'wakeup', 'gp_start']) expect(types).toContain(t);
    const t = chrome_trace(cap);
    expect(chrome_trace_problems(t, cap.ncpus)).toEqual([]);
    // Round trip through JSON, as a file would be read.
    const back = JSON.parse(JSON.stringify(t)) as ChromeTrace;
    expect(back.traceEvents.length).toBe(t.traceEvents.length);
    for (let cpu = 0; cpu < cap.ncpus; cpu++) expect(t.traceEvents.some((e) => e.ph === 'X' && e.tid === cpu && e.pid === PID_CPUS)).toBe(true);
    const taskNames = t.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'task').map((e) => e.name);
    // B is pid 1 of the namespace it created: NSpid 3 1.
    expect(taskNames.some((n) => /^B:3 \[NSpid 3 1\]/.test(n))).toBe(true);
    // A wake-up whose task ran again afterwards has its flow arrow.
    const woken = cap.events.filter((e) => e[2] === TR_WAKEUP).some((w) => cap.events.some((e) => e[2] === TR_SWITCH_IN && e[4] === w[4] && e[1] >= w[1]));
    expect(t.traceEvents.some((e) => e.ph === 's')).toBe(woken);
  });

  it('a spinning deadlock leaves the spinning CPUs\' wait slices open at the freeze (entry 7a)', async () => {
    const rec = await tracedHit('7a');
    const tl = build_timeline(rec.trace!);
    const open = tl.cpus.flatMap((c) => c.slices.filter((s) => s.cat === 'wait' && s.args.open));
    expect(open.length).toBeGreaterThan(0);
    expect(open.every((s) => s.end === tl.endUs)).toBe(true);
    expect(open.some((s) => String(s.args.class) === 'tasklist_lock')).toBe(true);
    expect(chrome_trace_problems(chrome_trace(rec.trace!), rec.trace!.ncpus)).toEqual([]);
  });

  it('a violation is an instant event on the CPU that recorded it (entry 8: an RCU reader sees freed memory)', async () => {
    const rec = await tracedHit('8');
    const t = chrome_trace(rec.trace!);
    expect(chrome_trace_problems(t, rec.trace!.ncpus)).toEqual([]);
    const v = t.traceEvents.filter((e) => e.ph === 'i' && e.cat === 'violation');
    expect(v.length).toBeGreaterThan(0);
    expect(v[0]!.name).toBe('violation: RCU reader saw a freed object');
  });

  it('a small ring keeps the newest records, counts the lost ones, and still gives a well-formed trace', async () => {
    const s = findScenario('3')!;
    const v = s.variants.find((x) => x.name === s.defaultVariant)!;
    const rec = await runOnce(s, v, { mode: 'controlled', seed: 7, trace: 16 });
    const cap = rec.trace!;
    expect(cap.lost.some((n) => n > 0)).toBe(true);
    for (let cpu = 0; cpu < cap.ncpus; cpu++) expect(cap.events.filter((e) => e[0] === cpu).length).toBeLessThanOrEqual(16);
    expect(chrome_trace_problems(chrome_trace(cap), cap.ncpus)).toEqual([]);
  });

  it('in-process fork cycles: records without a clock read land between their clocked neighbours, inside their system call', async () => {
    const m = new Machine({ ncpus: 1, maxTasks: 256, traceEvents: 1 << 12 }, {});
    m.attach();
    const child = m.program([[SYS_EXIT, 0]]);
    const loop = m.program([[SYS_FORK, 0, child, 0], [SYS_WAIT4, -1, 0], [OP_LOOP, 0, 20], [OP_HALT]]);
    launchProcess(m, loop);
    m.runInProcess();
    const cap = capture_trace(m.view())!;
    // About 60 records a cycle (system calls, context switches, lock acquisitions); the bound only
    // says the ring saw every cycle, not how many locks a cycle takes (that moves with the fork path).
    expect(cap.events.length).toBeGreaterThan(20 * 40);
    expect(cap.events.every((e) => Number.isFinite(e[1]))).toBe(true);
    const t = chrome_trace(cap);
    expect(chrome_trace_problems(t, 1)).toEqual([]);
    // Locks taken inside a system call are placed inside it (the merge sorts by time: a record
    // placed outside its call would be counted outside).
    let enter = -1;
    let inside = 0;
    for (const e of cap.events) {
      if (e[2] === TR_SYS_ENTER) enter = e[1];
      else if (e[2] === TR_SYS_EXIT) enter = -1;
      else if (e[2] === TR_LOCK_ACQUIRED && enter >= 0) {
        inside++;
        expect(e[1]).toBeGreaterThanOrEqual(enter);
      }
    }
    expect(inside).toBeGreaterThan(20 * 15);
    expect(t.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'lock').length).toBeGreaterThan(20 * 20);
  });

  it('tracing is an observer: a controlled stress run traced and untraced takes the same decisions to the same state', async () => {
    const cfg = default_config({ cpus: 2, mode: 'controlled', ops: 120, seed: 5 });
    const plain = await run_stress(cfg);
    const traced = await run_stress(cfg, {}, { traceEvents: 1 << 12 });
    expect(plain.result.trace).toBeUndefined();
    expect(traced.result.trace!.events.length).toBeGreaterThan(100);
    expect(traced.hash).toBe(plain.hash);
    expect(Buffer.from(traced.choices!).equals(Buffer.from(plain.choices!))).toBe(true);
  }, 60_000);

  it('off unless asked: no ring, nothing written, no capture', async () => {
    const s = findScenario('1')!;
    const v = s.variants.find((x) => x.name === s.defaultVariant)!;
    const rec = await runOnce(s, v, { mode: 'controlled', seed: 3 });
    expect(rec.trace).toBeUndefined();
    const m = new Machine({ ncpus: 2 });
    m.attach();
    for (let i = 0; i < 2; i++) {
      expect(m.mem[cpu_addr(i) + CPU.trace_ring]).toBe(0);
      expect(m.mem[cpu_addr(i) + CPU.trace_head]).toBe(0);
    }
  });

  it('locks released out of order still give nested slices (the inner one is closed and re-opened)', () => {
    const ev = (ts: number, type: number, arg: number, a: number, b = 0): [number, number, number, number, number, number] => [0, ts, type, arg, a, b];
    const cap: TraceCapture = {
      v: 1, ncpus: 1, epochMs: 0, endUs: 100, lost: [0], classes: ['(none)', 'lock_a', 'lock_b'], syscalls: { 20: 'test_call' },
      tasks: { 1000: { name: 'T', id: 5, nspid: [7, 1], alive: true }, 2000: { name: 'U', id: 6, nspid: [8], alive: true } },
      events: [
        ev(1, TR_SWITCH_IN, 5, 1000, 7), ev(2, TR_SYS_ENTER, 20, 1000),
        ev(3, TR_LOCK_ACQUIRED, 1 | (1 << 8), 500), ev(4, TR_LOCK_ACQUIRED, 1 | (2 << 8), 600),
        ev(5, TR_LOCK_RELEASED, 0, 500), ev(6, TR_LOCK_RELEASED, 0, 600),
        ev(7, TR_SYS_EXIT, 20, 1000, 0), ev(7.5, TR_WAKEUP, 0, 2000, 1000), ev(8, TR_SWITCH_OUT, 0, 1000),
        ev(9, TR_SWITCH_IN, 6, 2000, 8),
      ],
    };
    const t = chrome_trace(cap);
    expect(chrome_trace_problems(t, 1)).toEqual([]);
    const b = t.traceEvents.filter((e) => e.ph === 'X' && e.name.startsWith('lock_b'));
    expect(b.map((e) => [e.ts, e.dur])).toEqual([[3, 1], [4, 1]]);
    expect(t.traceEvents.some((e) => e.name === 'T:7 [NSpid 7 1]')).toBe(true);
    // The wake-up at 7.5 flows to the switch-in at 9.
    expect(t.traceEvents.filter((e) => e.ph === 's' || e.ph === 'f').map((e) => [e.ph, e.ts])).toEqual([['s', 6.5], ['f', 8]]);
  });

  it('the nesting check catches overlapping slices on one track', () => {
    const t: ChromeTrace = {
      displayTimeUnit: 'ns', otherData: {},
      traceEvents: [
        { ph: 'M', name: 'thread_name', pid: PID_CPUS, tid: 0, args: { name: 'CPU 0' } },
        { ph: 'X', name: 'a', pid: PID_CPUS, tid: 0, ts: 0, dur: 10 },
        { ph: 'X', name: 'b', pid: PID_CPUS, tid: 0, ts: 5, dur: 10 },
      ],
    };
    expect(chrome_trace_problems(t, 1).length).toBe(1);
  });
});

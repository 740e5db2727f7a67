/** Checks shared by the trace tests. */
import { PID_CPUS, type ChromeEvent, type ChromeTrace } from '../src/trace/chrome.js';

/** Structural checks of a Chrome trace (the JSON Object Format), returning the problems found. */
export function chrome_trace_problems(t: ChromeTrace, ncpus: number): string[] {
  const bad: string[] = [];
  if (!Array.isArray(t.traceEvents)) return ['traceEvents is not an array'];
  const names = new Map<number, string>();
  const flows = new Map<number, string[]>();
  const xByTid = new Map<number, ChromeEvent[]>();
  for (const e of t.traceEvents) {
    if (typeof e.ph !== 'string' || typeof e.name !== 'string' || !Number.isInteger(e.pid) || !Number.isInteger(e.tid)) { bad.push(`malformed ${JSON.stringify(e)}`); continue; }
    if (e.ph === 'M') {
      if (e.name === 'thread_name' && e.pid === PID_CPUS) names.set(e.tid, String((e.args as { name?: string })?.name));
      continue;
    }
    if (typeof e.ts !== 'number' || !Number.isFinite(e.ts) || e.ts < 0) bad.push(`bad ts ${JSON.stringify(e)}`);
    if (e.ph === 'X') {
      if (typeof e.dur !== 'number' || e.dur < 0) bad.push(`bad dur ${JSON.stringify(e)}`);
      if (e.pid === PID_CPUS) {
        let l = xByTid.get(e.tid);
        if (!l) xByTid.set(e.tid, (l = []));
        l.push(e);
      }
    } else if (e.ph === 'i') {
      if (!['t', 'p', 'g'].includes(e.s ?? '')) bad.push(`instant without scope ${JSON.stringify(e)}`);
    } else if (e.ph === 's' || e.ph === 'f') {
      if (!Number.isInteger(e.id)) bad.push(`flow without id ${JSON.stringify(e)}`);
      const l = flows.get(e.id!) ?? [];
      l.push(e.ph);
      flows.set(e.id!, l);
    } else bad.push(`unexpected phase ${e.ph}`);
  }
  for (let cpu = 0; cpu < ncpus; cpu++) if (names.get(cpu) !== `CPU ${cpu}`) bad.push(`no thread_name for CPU ${cpu}`);
  for (const [id, l] of flows) if (l.join() !== 's,f') bad.push(`flow ${id}: ${l.join()}`);
  // Complete events on one thread must nest: each one ends before the enclosing one does.
  const eps = 1e-6;
  for (const [tid, l] of xByTid) {
    const sorted = [...l].sort((a, b) => a.ts! - b.ts! || b.dur! - a.dur!);
    const stack: ChromeEvent[] = [];
    for (const e of sorted) {
      while (stack.length && stack[stack.length - 1]!.ts! + stack[stack.length - 1]!.dur! <= e.ts! + eps) stack.pop();
      const top = stack[stack.length - 1];
      if (top && e.ts! + e.dur! > top.ts! + top.dur! + eps) bad.push(`tid ${tid}: "${e.name}" [${e.ts}, ${e.ts! + e.dur!}] overlaps "${top.name}" [${top.ts}, ${top.ts! + top.dur!}]`);
      stack.push(e);
    }
  }
  return bad;
}


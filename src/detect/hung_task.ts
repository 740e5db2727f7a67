/**
 * The hung-task watchdog (kernel/hung_task.c) for free-running mode. khungtaskd wakes up every
 * check interval and reports tasks in TASK_UNINTERRUPTIBLE that have not been scheduled for the
 * timeout; here the main thread watches G.progress (every completed system call and every context
 * switch bumps it): no progress for the bound means nobody can go on. The run is then frozen in
 * place (G.freeze) and the same wait-for report a controlled deadlock gives is built from the
 * frozen state.
 */
import { TASK } from '../mm/layout.js';
import { TASK_UNINTERRUPTIBLE } from '../sched/core.js';
import { live_tasks, type StateView } from './waitfor.js';
import { stuck_report, type StuckReport } from './report.js';

export interface HungCheck {
  /** Tasks in D state that went to sleep more than timeoutMs ago (by their sleep_since stamp). */
  hung: number[];
  report: StuckReport;
}

/** check_hung_uninterruptible_tasks over a state: which tasks are hung, plus the wait-for report. */
export function check_hung_tasks(v: StateView, timeoutMs: number, nowMs31 = Date.now() & 0x7fffffff): HungCheck {
  const hung: number[] = [];
  for (const t of live_tasks(v)) {
    const st = v.m[t + TASK.state]!;
    if ((st & TASK_UNINTERRUPTIBLE) === 0) continue;
    const since = v.m[t + TASK.sleep_since]!;
    const age = (nowMs31 - since + 0x80000000) % 0x80000000;
    if (age >= timeoutMs) hung.push(t);
  }
  return { hung, report: stuck_report(v, 'hung', timeoutMs) };
}

/** The watchdog's decision: no progress for at least the bound. */
export function watchdog_expired(lastProgressChangeMs: number, nowMs: number, hungMs: number): boolean {
  return nowMs - lastProgressChangeMs > hungMs;
}

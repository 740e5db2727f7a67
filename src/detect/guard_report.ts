/**
 * Kernel-style text of the checked build's guard violations (src/locking/guard_check.ts), read
 * from the violation log, the guard region and the site table the transform wrote
 * (dist-checked/guard_sites.json): lockdep_assert_held-style warnings, "WARNING: suspicious RCU
 * usage", use-after-free of a poisoned object, and "BUG: KCSAN: data-race in A / B" with both stacks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GUARD, GUARD_REPORT, GUARD_REPORTS, GUARD_STACK_FRAMES, KCSAN_WATCHPOINTS, WATCHPOINT } from '../mm/layout.js';
import type { Regions } from '../mm/memory.js';
import { GUARD_FIELDS, SITE_MARKED, SITE_WRITE } from '../locking/guard_check.js';
import { V_GUARD_LOCK, V_GUARD_RCU, V_GUARD_USE_AFTER_FREE, V_KCSAN_RACE, type Violation } from '../locking/violations.js';
import { guard_of, req_text } from '../mm/guard.js';

export interface GuardSite { file: string; fn: string; field: string; write: boolean; marked: boolean; line: number }
interface SiteTable { sites: GuardSite[]; fns: string[] }

let table: SiteTable | null | undefined;

/** The checked build's site table (null when there is no checked build). */
export function guard_sites(): SiteTable | null {
  if (table !== undefined) return table;
  let d = dirname(fileURLToPath(import.meta.url));
  table = null;
  for (let i = 0; i < 6; i++) {
    const p = join(d, 'dist-checked', 'guard_sites.json');
    if (existsSync(p)) {
      table = JSON.parse(readFileSync(p, 'utf8')) as SiteTable;
      break;
    }
    d = resolve(d, '..');
  }
  return table;
}

export const is_guard_violation = (k: number): boolean => k === V_GUARD_LOCK || k === V_GUARD_RCU || k === V_GUARD_USE_AFTER_FREE || k === V_KCSAN_RACE;

export function site_of(site: number): GuardSite | undefined {
  return guard_sites()?.sites[(site >>> 2) - 1];
}

function site_name(site: number): string {
  const s = site_of(site);
  return s ? s.fn : `site#${site >>> 2}`;
}

function access(site: number): string {
  return `${(site & SITE_WRITE) !== 0 ? 'write' : 'read'}${(site & SITE_MARKED) !== 0 ? ' (marked)' : ''}`;
}

function stack(m: Int32Array, at: number): string[] {
  const fns = guard_sites()?.fns ?? [];
  const out: string[] = [];
  for (let i = 0; i < GUARD_STACK_FRAMES; i++) {
    const id = m[at + i]!;
    if (id === 0) break;
    out.push(` ${fns[id - 1] ?? `fn#${id}`}`);
  }
  return out;
}

function field_name(fid: number): string {
  const f = GUARD_FIELDS[fid];
  return f ? `${f.struct}->${f.name}` : 'rcu_dereference';
}

/**
 * The functions of a guard violation's reporting stack, innermost first (the access's function
 * first): what a scenario's check reads to name the code that made the access. Empty without the
 * checked build's site table or a stored report.
 */
export function guard_violation_stack(m: Int32Array, regions: Regions, x: Violation): string[] {
  if (!(x.c > 0 && x.c <= GUARD_REPORTS)) return [];
  return stack(m, regions.guard + report_offset(x.c - 1) + GUARD_REPORT.stack).map((f) => f.trim());
}

/**
 * One report: `who` names the task, `m` is the memory view (live or snapshot) laid out as `regions`
 * (its machine's).
 */
export function guard_violation_text(m: Int32Array, regions: Regions, x: Violation, whoOf: (t: number) => string): string[] {
  const who = whoOf(x.task);
  const r = x.c > 0 && x.c <= GUARD_REPORTS ? regions.guard + report_offset(x.c - 1) : 0;
  const site = x.b;
  const s = site_of(site);
  const where = s ? `${s.fn} (${s.file}:${s.line})` : `site#${site >>> 2}`;
  const fid = r ? m[r + GUARD_REPORT.field]! : -1;
  const trace = r ? stack(m, r + GUARD_REPORT.stack) : [];
  const f = GUARD_FIELDS[fid];
  const g = f ? guard_of(f.guard) : undefined;
  const need = g ? ((site & SITE_WRITE) !== 0 ? g.write : g.read) : null;
  switch (x.kind) {
    case V_GUARD_LOCK:
      return [
        `WARNING: CPU: ${x.cpu} PID: ${who} at ${where}`,
        `${access(site)} of ${field_name(fid)} (object ${hex(x.a)}) without ${need ? need.map(req_text).join(' or ') : 'its lock'} (lockdep_assert_held)`,
        `${r ? m[r + GUARD_REPORT.held] : 0} spin/rw locks held`,
        'Call Trace:', ...trace, '',
      ];
    case V_GUARD_RCU:
      return [
        '=============================',
        'WARNING: suspicious RCU usage',
        '-----------------------------',
        `${s ? `${s.file}:${s.line}` : where} suspicious ${fid >= 0 ? `${field_name(fid)} ${access(site)}` : 'rcu_dereference_check()'} usage!`,
        '',
        'other info that might help us debug this:',
        '',
        `rcu_read_lock() not held, nor ${need ? need.filter((q) => q.k !== 'rcu').map(req_text).join(' or ') || 'the update lock' : 'tasklist_lock or pidmap_lock'}`,
        `${r ? m[r + GUARD_REPORT.held] : 0} locks held by ${who} on CPU ${x.cpu}`,
        '',
        'stack backtrace:', ...trace, '',
      ];
    case V_GUARD_USE_AFTER_FREE:
      return [
        '==================================================================',
        `BUG: KASAN: slab-use-after-free in ${site_name(site)}`,
        `${access(site)} of ${field_name(fid)} at object ${hex(x.a)} by task ${who} on CPU ${x.cpu}: the object's poison word says POISON_FREED`,
        '',
        'Call Trace:', ...trace, '',
      ];
    case V_KCSAN_RACE: {
      const other = r ? m[r + GUARD_REPORT.other_site]! : 0;
      const a = site_name(site);
      const b = other ? site_name(other) : '';
      const lines = [
        '==================================================================',
        `BUG: KCSAN: data-race in ${[a, b].filter(Boolean).sort().join(' / ')}`,
        '',
        `${access(site)} to ${field_name(fid)} of ${hex(x.a)} by task ${who} on cpu ${x.cpu}:`,
        ...trace,
        '',
      ];
      if (other) {
        lines.push(`${access(other)} to ${field_name(fid)} of ${hex(x.a)} by task ${whoOf(m[r + GUARD_REPORT.other_task]!)} on cpu ${m[r + GUARD_REPORT.other_cpu]}:`, ...stack(m, r + GUARD_REPORT.other_stack), '');
      } else lines.push('value changed while the watchpoint was out (race at unknown origin)', '');
      return lines;
    }
  }
  return [];
}

/** Offset of report i in the guard region (the layout guard_check.report_addr writes). */
function report_offset(i: number): number {
  return GUARD.SIZE + KCSAN_WATCHPOINTS * WATCHPOINT.SIZE + i * GUARD_REPORT.SIZE;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/**
 * The report of a catalogued run, read from the frozen state of the model:
 * - the generic wait-for graph of src/detect/waitfor.ts (the one pidrace stress uses; it has the
 *   exit-state edges too: delay_group_leader, exit_notify dead lists);
 * - the violation log (use-after-free, invariants);
 * - a header naming the documented cycle, then each node of the cycle found: the task with its pid
 *   at every pid-namespace level (NSpid), the kernel function it waits in, what it holds (spin and
 *   rw locks, mutexes, the tasks_rcu_exit_srcu read side, interrupt context), and whom it waits for;
 * - the kernel-style log of src/detect/report.ts (hung tasks, soft lockups, BUG lines).
 */
import { CPU, G } from '../mm/layout.js';
import { hex, type StateView, type WaitForGraph, type WaitNode } from '../detect/waitfor.js';
import { stuck_json, stuck_report, violations_report } from '../detect/report.js';
import { BUG_NAMES } from '../config/bugs.js';
import type { Expectation, RunView, Scenario, Variant } from './types.js';

/** Names of the BUG_* bits of a variant. */
export function bug_names(bits: number): string[] {
  return Object.entries(BUG_NAMES).filter(([, b]) => (bits & b) !== 0).map(([k]) => `BUG_${k.toUpperCase()}`);
}

function who(n: WaitNode): string {
  const t = n.task;
  if (!t) return `CPU#${n.cpu} (no task)`;
  const pid = t.pid > 0 ? String(t.pid) : `t${t.id}`;
  const ns = t.nspid.length > 1 ? ` NSpid ${t.nspid.join(' ')}` : '';
  return `${t.name}[pid ${pid}${ns}]${n.kind === 'cpu' ? ` on CPU#${n.cpu}` : ''}`;
}

function waits_in(v: StateView, n: WaitNode): string {
  if (n.kind === 'cpu') {
    const c = v.r.cpus.base + n.cpu! * v.r.cpus.stride;
    const irq = v.m[c + CPU.in_irq]! > 0 ? ' [in interrupt: handler running on top of the task]' : '';
    const sc = n.task?.syscall ? ` (in ${n.task.syscall})` : '';
    return `${n.waiting}${sc}${irq}`;
  }
  const t = n.task!;
  if (t.exitState === 'zombie') return 'zombie (EXIT_ZOMBIE), waiting to be reaped';
  if (t.exitState === 'dead') return 'EXIT_DEAD, waiting for release_task';
  return `${n.waiting}${t.syscall ? ` (in ${t.syscall})` : ''}`;
}

function holds(n: WaitNode): string {
  if (!n.holds.length) return 'nothing';
  return n.holds.map((h) => `${h.cls} ${h.mode === 'mutex' ? '(mutex)' : `{${h.mode}}`}`).join(', ');
}

/** The cycle (or chain) section: one block per node. */
export function cycle_lines(v: StateView, g: WaitForGraph, keys: string[], closed: boolean): string[] {
  const out: string[] = [];
  keys.forEach((k, j) => {
    const n = g.nodes.find((x) => x.key === k);
    if (!n) return;
    const next = j + 1 < keys.length ? keys[j + 1]! : closed ? keys[0]! : undefined;
    out.push(`  ${who(n)}`);
    out.push(`      waits in: ${waits_in(v, n)}`);
    out.push(`      holds:    ${holds(n)}`);
    if (next) {
      const e = g.edges.find((x) => x.from === k && x.to === next);
      const nn = g.nodes.find((x) => x.key === next);
      out.push(`      -> waits for ${nn ? who(nn) : next}: ${e?.why ?? '?'}`);
    }
  });
  return out;
}

export interface ScenarioReport {
  text: string;
  json: Record<string, unknown>;
}

/** The report of a failed run (header, the cycle or violation, the kernel log). */
export function scenario_report(sc: Scenario, v: Variant, r: RunView, outcome: Expectation | 'limit' | 'crash', crash?: string): ScenarioReport {
  const check = sc.check(r);
  const L: string[] = [];
  const ids = sc.commits.filter((c) => c.id).map((c) => `${c.id}${c.status === 'verified' ? '' : ` (${c.status})`}`).join(', ');
  L.push(`pidrace deadlock ${sc.id}: ${sc.title}`);
  L.push(`variant ${v.name}: ${v.summary}${v.bugs ? ` [${bug_names(v.bugs).join(' | ')}]` : ' [no bug switch: today\'s kernel]'}`);
  L.push(`upstream: ${ids}`);
  L.push(`documented: ${sc.expected}`);
  L.push(`observed: ${outcome}${check.matched ? ' - the documented failure' : ' - NOT the documented failure'}: ${check.detail}`);
  L.push('');
  const g = r.graph;
  if (g && (outcome === 'deadlock' || outcome === 'hang' || outcome === 'limit' || outcome === 'crash')) {
    const keys = check.keys ?? g.cycles[0] ?? [];
    if (keys.length) {
      L.push(check.keys && outcome === 'hang' ? 'blocked chain (from the model\'s wait-for graph):' : 'wait-for cycle (from the model\'s wait-for graph):');
      L.push(...cycle_lines(r.view, g, keys, outcome !== 'hang'));
      L.push('');
    }
  }
  if (r.stalls.length) {
    L.push('stall detector (src/detect/stall.ts, from the frozen state):', ...r.stalls, '');
  }
  if (r.violations.length) {
    L.push(violations_report(r.view, r.violations).text.trimEnd(), '');
  }
  if (r.audit.length) {
    L.push('leak audit at the quiescent end (src/kernel/audit.ts, RCU drained; as pidrace stress after its final reap):', ...r.audit.slice(0, 20).map((x) => `  ${x}`), '');
  }
  if (crash) L.push(`crash: ${crash}`, '');
  let stuckJson: Record<string, unknown> | undefined;
  if (g && r.state !== 'stopped' && r.state !== 'violation') {
    const reason = r.state === 'hung' ? 'hung' : r.state;
    const s = stuck_report(r.view, reason, 0);
    L.push('---- kernel log (pidrace wait-for graph over shared memory) ----', s.text);
    stuckJson = stuck_json(s);
  }
  const m = r.view.m;
  const json: Record<string, unknown> = {
    scenario: sc.id, title: sc.title, variant: v.name, bugs: bug_names(v.bugs), outcome,
    documented: sc.expected, matched: check.matched, detail: check.detail,
    cycle: g && (check.keys ?? g.cycles[0]) ? (check.keys ?? g.cycles[0]!).map((k) => {
      const n = g.nodes.find((x) => x.key === k)!;
      return { key: k, task: n.task ? { name: n.task.name, pid: n.task.pid, nspid: n.task.nspid, wchan: n.task.wchan, syscall: n.task.syscall } : null, cpu: n.cpu, waiting: waits_in(r.view, n), holds: n.holds.map((h) => ({ lock: hex(h.addr), class: h.cls, mode: h.mode })) };
    }) : undefined,
    violations: r.violations.length ? violations_report(r.view, r.violations).json : undefined,
    audit: r.audit.length ? r.audit : undefined,
    stalls: r.stalls.length ? r.stalls : undefined,
    stuck: stuckJson,
    rcu: { completed: m[r.view.kg + G.rcu]! },
  };
  return { text: L.join('\n'), json };
}

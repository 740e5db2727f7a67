/**
 * The report of a catalogued run, read from the frozen state of the model:
 * - the wait-for graph of src/detect/waitfor.ts, plus two exit-state edges the catalog needs
 *   (a zombie group leader waits for its live threads, delay_group_leader; an EXIT_DEAD task on
 *   an exiting task's local dead list waits for that task's release_task) when the graph does not
 *   have them already;
 * - the violation log (use-after-free, invariants);
 * - a header naming the documented cycle, then each node of the cycle found: the task with its pid
 *   at every pid-namespace level (NSpid), the kernel function it waits in, what it holds (spin and
 *   rw locks, mutexes, the tasks_rcu_exit_srcu read side, interrupt context), and whom it waits for;
 * - the kernel-style log of src/detect/report.ts (hung tasks, soft lockups, BUG lines).
 */
import { CPU, G, TASK } from '../mm/layout.js';
import { build_waitfor, find_cycles, hex, type StateView, type WaitEdge, type WaitForGraph, type WaitNode } from '../detect/waitfor.js';
import { stuck_json, stuck_report, violations_report } from '../detect/report.js';
import { BUG_NAMES } from '../kernel/bugs.js';
import type { Expectation, RunView, Scenario, Variant } from './types.js';

const EXIT_ZOMBIE = 0x20;
const EXIT_DEAD = 0x10;

function node_key_of_task(g: WaitForGraph, t: number): string | undefined {
  return g.nodes.find((n) => n.task?.addr === t)?.key;
}

/** The wait-for graph of a state, with the catalog's exit-state edges added (see the header). */
export function scenario_graph(v: StateView): WaitForGraph {
  const g = build_waitfor(v);
  const m = v.m;
  const extra: WaitEdge[] = [];
  const add = (from: string | undefined, to: string | undefined, why: string): void => {
    if (!from || !to) return;
    if (g.edges.some((e) => e.from === from && e.to === to)) return;
    extra.push({ from, to, why });
  };
  for (const n of g.nodes) {
    const t = n.task?.addr;
    if (!t) continue;
    const es = m[t + TASK.exit_state]!;
    if (es === EXIT_ZOMBIE && m[t + TASK.group_leader] === t) {
      // delay_group_leader: a zombie leader with live threads is not reaped before them.
      for (let th = m[t + TASK.thread_next]!, k = 0; th && th !== t && k < 1024; th = m[th + TASK.thread_next]!, k++) {
        add(n.key, node_key_of_task(g, th), 'thread group not empty: a zombie leader is reaped after its last thread (delay_group_leader)');
      }
    }
    // Tasks on t's exit_notify dead list (EXIT_DEAD, pid still allocated) wait for t's release_task.
    for (let d = m[t + TASK.exit_dead]!, k = 0; d && k < 1024; d = m[d + TASK.dead_next]!, k++) {
      if (d !== t && m[d + TASK.exit_state] === EXIT_DEAD) {
        add(node_key_of_task(g, d), n.key, 'EXIT_DEAD on the exiting task\'s local dead list: released by its release_task (after zap_pid_ns_processes returns)');
      }
    }
  }
  if (!extra.length) return g;
  const edges = [...g.edges, ...extra];
  for (const e of extra) {
    const from = g.nodes.find((x) => x.key === e.from);
    if (from) from.blocked = true;
  }
  const cycles = find_cycles(g.nodes.map((n) => n.key), edges);
  return { ...g, edges, cycles, blocked: g.nodes.filter((n) => n.blocked).map((n) => n.key) };
}

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
    const extra = g.edges.filter((e) => e.why.includes('delay_group_leader') || e.why.includes('dead list'));
    if (extra.length) L.push('(edges from the exit state added by the catalog: delay_group_leader, exit_notify dead lists)', '');
  }
  if (r.violations.length) {
    L.push(violations_report(r.view, r.violations).text.trimEnd(), '');
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
    stuck: stuckJson,
    rcu: { completed: m[r.view.kg + G.rcu]! },
  };
  return { text: L.join('\n'), json };
}

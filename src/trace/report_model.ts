/**
 * What the HTML report shows, as plain JSON-safe data: built from a run just finished (stress,
 * catalog entry, replay) or read back from a saved JSON report (`pidrace report RUN.json`). The
 * JSON reports of `pidrace stress/deadlock/replay --json` carry it as `report_model`; older
 * reports without it are converted from their own fields (no timeline then: it needs the trace).
 */
import type { TraceCapture } from './capture.js';
import { build_timeline } from './timeline.js';
import { TR_LOCK_ACQUIRED, TR_LOCK_CONTENDED } from '../tracing/trace.js';
import type { Scenario, Variant } from '../scenarios/types.js';
import type { RunRecord } from '../scenarios/runner.js';
import type { StressOutcome } from '../stress/run.js';

export interface GraphNode {
  key: string;
  /** "A:2" (name:pid), or "CPU#1 running A:2". */
  label: string;
  /** NSpid, waits-in line. */
  detail: string[];
  kind: 'cpu' | 'task';
  inCycle: boolean;
}

export interface GraphEdge { from: string; to: string; why: string; inCycle: boolean }

export interface GraphModel {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Node keys of the first cycle, in order (empty: blocked without a cycle). */
  cycle: string[];
}

export interface HeldRow { who: string; kind: 'cpu' | 'task'; locks: Array<{ cls: string; mode: string; lock: string }> }

export interface LockRow { cls: string; acquisitions: number; contended: number; wait_ms?: number }

export interface CommitRow { id: string; subject: string; role: string; status: string; year: number; author?: string }

export interface ReportModel {
  v: 1;
  kind: 'stress' | 'deadlock' | 'replay';
  title: string;
  verdict: string;
  ok: boolean;
  summary: string[];
  /** Command that reruns the run exactly (controlled runs), or how to rerun it. */
  replay?: string;
  commits?: CommitRow[];
  graph?: GraphModel;
  /** Where `held` comes from: the frozen state (a stuck run) or the end of the trace. */
  heldSource?: string;
  held: HeldRow[];
  locks: LockRow[];
  /** Where the lock figures come from (whole run, or the traced window). */
  locksSource?: string;
  ncpus: number;
  /** Kernel-style text report. */
  text?: string;
  trace?: TraceCapture;
}

interface StuckNodeJson {
  key: string;
  kind: 'cpu' | 'task';
  cpu?: number;
  task?: { name: string; pid: number; nspid: number[]; id: number; wchan?: string; syscall?: string; exit_state?: string };
  waiting?: string;
  holds?: Array<{ lock: string; class: string; mode: string }>;
}

/** The JSON of src/detect/report.ts stuck_json. */
export interface StuckJson {
  cycles?: Array<Array<StuckNodeJson & { waits_for?: string; why?: string }>>;
  blocked?: StuckNodeJson[];
  edges?: Array<{ from: string; to: string; why: string }>;
}

function comm(t: StuckNodeJson['task']): string {
  if (!t) return '?';
  return `${t.name}:${t.pid > 0 ? t.pid : `t${t.id}`}`;
}

function node_label(n: StuckNodeJson): string {
  if (n.kind === 'cpu') return n.task ? `CPU#${n.cpu} running ${comm(n.task)}` : `CPU#${n.cpu}`;
  return comm(n.task);
}

/** The wait-for graph of a stuck report, the first cycle marked. */
export function graph_from_stuck(s: StuckJson | undefined): GraphModel | undefined {
  if (!s) return undefined;
  const nodes = new Map<string, StuckNodeJson>();
  const cycle = (s.cycles?.[0] ?? []).map((n) => n.key);
  for (const c of s.cycles ?? []) for (const n of c) nodes.set(n.key, n);
  for (const n of s.blocked ?? []) if (!nodes.has(n.key)) nodes.set(n.key, n);
  if (!nodes.size) return undefined;
  const inCycle = new Set(cycle);
  const cycleEdge = new Set(cycle.map((k, i) => `${k}->${cycle[(i + 1) % cycle.length]}`));
  const edges: GraphEdge[] = [];
  for (const e of s.edges ?? []) {
    if (!nodes.has(e.from) || !nodes.has(e.to)) continue;
    edges.push({ from: e.from, to: e.to, why: e.why, inCycle: cycleEdge.has(`${e.from}->${e.to}`) });
  }
  return {
    cycle,
    edges,
    nodes: [...nodes.values()].map((n) => ({
      key: n.key,
      label: node_label(n),
      kind: n.kind,
      inCycle: inCycle.has(n.key),
      detail: [
        ...(n.task && n.task.nspid.length ? [`NSpid ${n.task.nspid.join(' ')}`] : []),
        ...(n.task?.exit_state ? [`exit state: ${n.task.exit_state}`] : []),
        ...(n.waiting ? [n.waiting] : []),
        ...(n.task?.syscall ? [`in ${n.task.syscall}`] : []),
      ],
    })),
  };
}

/** Held locks of the nodes of a stuck report (every CPU and task in the graph). */
export function held_from_stuck(s: StuckJson | undefined): HeldRow[] {
  const out: HeldRow[] = [];
  const seen = new Set<string>();
  for (const n of [...(s?.cycles ?? []).flat(), ...(s?.blocked ?? [])]) {
    if (seen.has(n.key)) continue;
    seen.add(n.key);
    out.push({ who: node_label(n), kind: n.kind, locks: (n.holds ?? []).map((h) => ({ cls: h.class, mode: h.mode, lock: h.lock })) });
  }
  return out;
}

/** Locks still held when the trace ends (open lock slices), per CPU. */
export function held_from_trace(cap: TraceCapture): HeldRow[] {
  const tl = build_timeline(cap);
  return tl.cpus.map((c, cpu) => {
    const open = c.slices.filter((s) => s.cat === 'lock' && s.args.open);
    const running = c.slices.find((s) => s.cat === 'task' && s.args.open);
    return {
      who: `CPU#${cpu}${running ? ` running ${running.name}` : ''}`, kind: 'cpu' as const,
      locks: open.map((s) => ({ cls: String(s.args.class), mode: String(s.args.mode), lock: String(s.args.lock) })),
    };
  });
}

/** Acquisitions and contention per lock class inside the traced window. */
export function locks_from_trace(cap: TraceCapture): LockRow[] {
  const by = new Map<string, LockRow>();
  for (const e of cap.events) {
    if (e[2] !== TR_LOCK_ACQUIRED && e[2] !== TR_LOCK_CONTENDED) continue;
    const cls = cap.classes[(e[3] >>> 8) & 0xff] ?? `class#${(e[3] >>> 8) & 0xff}`;
    let r = by.get(cls);
    if (!r) by.set(cls, (r = { cls, acquisitions: 0, contended: 0 }));
    if (e[2] === TR_LOCK_ACQUIRED) r.acquisitions++;
    else r.contended++;
  }
  return [...by.values()].sort((a, b) => b.contended - a.contended || b.acquisitions - a.acquisitions);
}

/** A saved JSON report (stress, deadlock, replay) as a report model. */
export function model_from_json(j: Record<string, unknown>): ReportModel {
  if (j.report_model && typeof j.report_model === 'object') return j.report_model as ReportModel;
  const cmd = String(j.command ?? '');
  if (cmd === 'deadlock' || cmd === 'deadlock replay') {
    const runs = (j.runs as Array<Record<string, unknown>> | undefined) ?? (j.run ? [{ first: j.run, variant: j.variant }] : []);
    const run = runs.find((r) => (r.first as { report?: unknown } | undefined)?.report) ?? runs[0];
    const first = run?.first as Record<string, unknown> | undefined;
    const rep = first?.report as Record<string, unknown> | undefined;
    const stuck = rep?.stuck as StuckJson | undefined;
    return {
      v: 1, kind: 'deadlock', title: `pidrace deadlock ${String(j.id)}: ${String(j.title ?? rep?.title ?? '')}`,
      verdict: String(j.verdict ?? (j.same ? 'REPRODUCED' : 'DIVERGED')), ok: j.verdict !== 'UNEXPECTED',
      summary: [rep?.detail ? String(rep.detail) : '', first ? `variant ${String(run?.variant)}: ${String(first.outcome)} (seed ${String(first.seed)}, ${String(first.strategy)})` : ''].filter(Boolean),
      commits: (j.commits as CommitRow[] | undefined)?.map((c) => ({ id: c.id, subject: c.subject, role: c.role, status: c.status, year: c.year, author: c.author })),
      graph: graph_from_stuck(stuck), held: held_from_stuck(stuck), heldSource: 'the frozen state', locks: [], ncpus: 0,
      text: first?.text ? String(first.text) : undefined,
    };
  }
  // A stress (or stress replay) report.
  const stuck = j.stuck as StuckJson | undefined;
  const stats = j.stats as { locks?: Array<{ class: string; acquisitions: number; contended: number; wait_ms: number }>; cpus?: unknown[]; ops?: number } | undefined;
  const replay = j.replay as { token?: string } | undefined;
  return {
    v: 1, kind: cmd === 'replay' ? 'replay' : 'stress', title: `pidrace ${cmd || 'stress'}`,
    verdict: String(j.verdict ?? '?'), ok: j.verdict === 'SUCCESS', summary: [`state ${String(j.state)}`, `${stats?.ops ?? 0} operations in ${Number(j.elapsed_ms ?? 0) / 1000} s`],
    replay: replay?.token ? `pidrace replay ${replay.token}` : undefined,
    graph: graph_from_stuck(stuck), held: held_from_stuck(stuck), heldSource: 'the frozen state',
    locks: (stats?.locks ?? []).map((l) => ({ cls: l.class, acquisitions: l.acquisitions, contended: l.contended, wait_ms: l.wait_ms })), locksSource: 'the whole run',
    ncpus: stats?.cpus?.length ?? 0,
  };
}

// ---- from runs just finished -----------------------------------------------------------------

/** A catalogued run (the first documented failure of a search, a free-running hit, a replay). */
export function model_from_scenario(s: Scenario, v: Variant, rec: RunRecord, token?: string): ReportModel {
  const stuck = rec.json?.stuck as StuckJson | undefined;
  const verdict = rec.asExpected ? (v.expect === 'clean' ? 'AS EXPECTED: clean' : 'REPRODUCED') : 'UNEXPECTED';
  return {
    v: 1, kind: 'deadlock', title: `pidrace deadlock ${s.id}: ${s.title}`, verdict, ok: rec.asExpected,
    summary: [
      `variant ${v.name}: ${v.summary}`,
      `expected ${v.expect}; observed ${rec.outcome}${rec.failed ? (rec.check.matched ? ' (the documented failure)' : ' (not the documented failure)') : ''}: ${rec.check.detail}`,
      `documented: ${s.expected}`,
      `${rec.mode === 'controlled' ? `controlled run, ${rec.strategy}, seed ${rec.seed}, ${rec.decisions} decisions, ${rec.preemptions} preemptions` : 'free-running'} on ${s.ncpus} CPUs, ${(rec.ms / 1000).toFixed(2)} s`,
    ],
    replay: token ? `pidrace deadlock replay ${token}` : undefined,
    commits: s.commits.map((c) => ({ id: c.id, subject: c.subject, role: c.role, status: c.idStatus && c.idStatus !== 'verified' ? `id ${c.idStatus}` : c.status, year: c.year, author: c.author })),
    graph: graph_from_stuck(stuck),
    held: stuck ? held_from_stuck(stuck) : rec.trace ? held_from_trace(rec.trace) : [],
    heldSource: stuck ? 'the frozen state' : 'the end of the trace',
    locks: rec.trace ? locks_from_trace(rec.trace) : [],
    locksSource: 'acquisitions in the traced window',
    ncpus: s.ncpus, text: rec.report, trace: rec.trace,
  };
}

/** A stress run (or a replayed one). */
export function model_from_stress(o: StressOutcome, kind: 'stress' | 'replay' = 'stress'): ReportModel {
  const stuck = o.report.stuck as StuckJson | undefined;
  const cfg = o.config;
  const s = o.stats;
  const trace = o.result.trace;
  return {
    v: 1, kind,
    title: `pidrace ${kind}: ${cfg.cpus} CPUs, ${cfg.mode === 'controlled' ? `controlled (${cfg.strategy})` : 'free-running'}, seed ${cfg.seed}`,
    verdict: o.verdict + (o.interrupted ? ' (interrupted)' : ''), ok: o.verdict === 'SUCCESS',
    summary: [
      `${o.state} after ${(o.result.elapsedMs / 1000).toFixed(2)} s: ${s.ops.toLocaleString('en-US')} operations (${Math.round(s.ops / Math.max(o.result.elapsedMs / 1000, 1e-3)).toLocaleString('en-US')}/s), ${s.forks.toLocaleString('en-US')} forks, ${s.namespaces_created} pid namespaces created (depth ${s.depth})`,
      `${s.rcu_gps} RCU and ${s.srcu_gps} SRCU grace periods, ${s.violations} violations`,
      `mix: ${cfg.mix.join(' ')}`,
      `CPUs (syscalls): ${s.cpus.map((c) => `${c.cpu}: ${c.syscalls.toLocaleString('en-US')}`).join(', ')}`,
      ...o.failures.map((f) => `FAILURE ${f.kind}: ${f.title}`),
    ],
    replay: o.token ? `pidrace replay ${o.token}` : `pidrace stress --cpus ${cfg.cpus} --seed ${cfg.seed}${cfg.ops ? ` --ops ${cfg.ops}` : ` --duration ${cfg.durationMs}ms`} (free-running: not replayable decision for decision)`,
    graph: graph_from_stuck(stuck),
    held: stuck ? held_from_stuck(stuck) : trace ? held_from_trace(trace) : [],
    heldSource: stuck ? 'the frozen state' : 'the end of the trace',
    locks: s.locks.map((l) => ({ cls: l.class, acquisitions: l.acquisitions, contended: l.contended, wait_ms: l.wait_ms })).sort((a, b) => b.contended - a.contended),
    locksSource: 'the whole run',
    ncpus: cfg.cpus, text: o.text, trace,
  };
}

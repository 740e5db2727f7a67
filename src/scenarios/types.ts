/**
 * The shape of a catalogued scenario: the upstream record (commits with their verification status,
 * docs/catalog-sources.md), its variants (which bug switches are on, and what the variant is
 * expected to do), the per-task programs it runs on a fresh machine, and the check that a failure
 * is the documented one (read from the model's state: the wait-for graph or the violation log).
 */
import type { Machine } from '../machine.js';
import type { StateView, WaitForGraph, WaitNode } from '../detect/waitfor.js';
import type { Violation } from '../locking/violations.js';
import type { KernelConfig } from '../mm/memory.js';

export type Verification = 'verified' | 'partial' | 'unverified';

export interface CommitRef {
  /** Abbreviated (12 hex digits) or full id; '' when there is no known id. */
  id: string;
  subject: string;
  author?: string;
  year: number;
  /** What the commit is to this entry. */
  role: CommitRole;
  /** How much of the record (id, subject, author, message) was read in a stored source (docs/catalog-sources.md). */
  status: Verification;
  /** Whether the id itself was read in a source (default: verified unless status is 'unverified'). */
  idStatus?: Verification;
  /** What was read, or what is missing. */
  note?: string;
  /** The stored source that was read (docs/catalog-sources.md has the quotes). */
  source?: string;
}

export type CommitRole = 'bug' | 'fix' | 'revert' | 'related' | 'report';

/**
 * An upstream bug with a merged fix; a study of a design (a proposal that was not merged); a
 * known-open upstream bug (reported, fixes proposed, none merged: today's kernel has it); or a
 * race found by pidrace in today's kernel code with no upstream report found (not confirmed on a
 * real kernel; its fixed variant is a proposal of our own).
 */
export type EntryKind = 'upstream-bug' | 'design-study' | 'known-open' | 'found';

/** What a variant is expected to do. */
export type Expectation =
  | 'deadlock' // a wait-for cycle (controlled: no CPU can run; free: all stuck)
  | 'hang' // tasks blocked for good without a cycle (a chain ending at a wait nobody ends)
  | 'violation' // an invariant / use-after-free caught by the model's checks
  | 'leak' // the run ended, but the kernel audit at the quiescent end finds references left (kmemleak-like)
  | 'stall' // a CPU spins in the kernel without a quiescent state: RCU CPU stall / soft lockup
  | 'clean'; // every schedule finishes, no violation

export interface Variant {
  name: string;
  /** BUG_* bits of src/config/bugs.ts. */
  bugs: number;
  expect: Expectation;
  /** One line: which code the variant runs (before any fix, first fix, ...). */
  summary: string;
}

/** The outcome of one run, as the checks see it. */
export interface RunView {
  /** Final run state: stopped, deadlock, hung, decision-limit, violation, crashed. */
  state: string;
  view: StateView;
  graph?: WaitForGraph;
  violations: Violation[];
  /** The kernel audit at the end of a run that stopped by itself (RCU drained first). */
  audit: string[];
  /** Stall reports (RCU CPU stall, soft lockup) of a run cut by the decision bound. */
  stalls: string[];
  /** Task address by role (program name), from the state. */
  roles: Map<string, number>;
}

export interface CheckResult {
  /** The failure is the documented one. */
  matched: boolean;
  /** One line for the verdict ("cycle A -> B -> C -> A as in 28319d6dc5e2"). */
  detail: string;
  /** The node keys of the cycle or chain that matched (for the report). */
  keys?: string[];
}

export interface Scenario {
  /** Catalog id: '1' .. '8', '7a', '9a' ... */
  id: string;
  /** Short name usable instead of the id. */
  slug: string;
  title: string;
  year: string;
  kind: EntryKind;
  commits: CommitRef[];
  variants: Variant[];
  /** The variant `pidrace deadlock ID` runs without --variant (a buggy one). */
  defaultVariant: string;
  /** Model CPUs of a run (the host may have fewer cores). */
  ncpus: number;
  config?: Partial<KernelConfig>;
  /** The documented interleaving, in a few lines. */
  interleaving: string[];
  /** The detector that reports the buggy variant, when not the default one of its expectation. */
  detector?: string;
  /** The documented cycle / symptom, one line (what the report must name). */
  expected: string;
  /** Controlled-mode tuning. */
  pctDepth?: number;
  pctSteps?: number;
  maxDecisions?: number;
  /** Stall bound (scheduling hooks) for the stall detector on runs cut by the bound (controlled). */
  stallHooks?: number;
  /** Share of a search's schedules run with PCT (the rest: seeded random); default 0.5. */
  pctShare?: number;
  /** Free-running delay injection (per mille of hooks). */
  freeDelayPermille?: number;
  /**
   * Run every variant on the checked build (as --check-guards does): the failure is a plain access
   * to freed memory that only the checked build's KASAN-style poison check sees.
   */
  checkGuards?: boolean;
  /** Lay the run out on a booted machine: programs, tasks, interrupts. */
  build(m: Machine, v: Variant, mode: 'controlled' | 'free'): void;
  /** Is a failed run the documented failure? */
  check(r: RunView): CheckResult;
}

/** Whether the commit's id itself was read in a source. */
export function idStatusOf(c: CommitRef): 'verified' | 'unverified' {
  if (!c.id) return 'unverified';
  return (c.idStatus ?? (c.status === 'unverified' ? 'unverified' : 'verified')) === 'verified' ? 'verified' : 'unverified';
}

/** The fix ids of an entry that were read in a source. */
export function verifiedFixIds(s: Scenario): string[] {
  return s.commits.filter((c) => c.role === 'fix' && c.id && idStatusOf(c) === 'verified').map((c) => c.id);
}

/** The entry's default buggy variant. */
export function buggyVariant(s: Scenario): Variant {
  return s.variants.find((v) => v.name === s.defaultVariant) ?? s.variants[0]!;
}

/** Today's kernel: the variant with no bug switch. */
export function fixedVariant(s: Scenario): Variant {
  const v = s.variants.find((x) => x.bugs === 0);
  if (!v) throw new Error(`catalog entry ${s.id} has no variant without bug switches`);
  return v;
}

/** A variant by name; "buggy" and "fixed" name the default buggy variant and today's kernel. */
export function findVariant(s: Scenario, name: string): Variant | undefined {
  if (name === 'buggy') return buggyVariant(s);
  if (name === 'fixed') return fixedVariant(s);
  return s.variants.find((v) => v.name === name);
}

/** Which generic detector reports a failure of this kind. */
export const DETECTOR_OF: Record<Expectation, string> = {
  deadlock: 'wait-for graph: cycle',
  hang: 'wait-for graph: blocked chain',
  violation: 'violation log',
  leak: 'leak audit',
  stall: 'stall detector',
  clean: '-',
};

/** Helpers for checks. */
export function nodeOfRole(r: RunView, role: string): WaitNode | undefined {
  const t = r.roles.get(role);
  if (!t || !r.graph) return undefined;
  return r.graph.nodes.find((n) => n.task?.addr === t);
}

/** What a role's node must show to count as the documented one. */
export interface RoleWant {
  role: string;
  /** Kernel function it sleeps in (TaskInfo.wchan: 'synchronize_srcu', 'do_wait', ...). */
  wchan?: RegExp;
  /** It is a zombie / EXIT_DEAD. */
  exit?: 'zombie' | 'dead';
  /** It holds a lock of this class (cls text, e.g. 'tasks_rcu_exit_srcu', 'kprobe_mutex'). */
  holds?: RegExp;
}

function node_matches(n: WaitNode, w: RoleWant): boolean {
  const t = n.task;
  if (!t) return false;
  if (w.wchan && !w.wchan.test(t.wchan)) return false;
  if (w.exit && t.exitState !== w.exit) return false;
  if (w.holds && !n.holds.some((h) => w.holds!.test(h.cls))) return false;
  return true;
}

/** A wait-for cycle through every wanted role, each in the wanted state; its keys, or undefined. */
export function cycle_with(r: RunView, want: RoleWant[]): string[] | undefined {
  const g = r.graph;
  if (!g) return undefined;
  for (const c of g.cycles) {
    const nodes = c.map((k) => g.nodes.find((n) => n.key === k)!);
    if (want.every((w) => nodes.some((n) => n.task?.addr === r.roles.get(w.role) && node_matches(n, w)))) return c;
  }
  return undefined;
}

/** A path (in the order given) of wait-for edges between the roles' nodes; its keys, or undefined. */
export function chain_with(r: RunView, want: RoleWant[]): string[] | undefined {
  const g = r.graph;
  if (!g) return undefined;
  const keys: string[] = [];
  for (const w of want) {
    const n = nodeOfRole(r, w.role);
    if (!n || !node_matches(n, w)) return undefined;
    keys.push(n.key);
  }
  for (let i = 0; i + 1 < keys.length; i++) {
    if (!g.edges.some((e) => e.from === keys[i] && e.to === keys[i + 1])) return undefined;
  }
  return keys;
}

/** "A -> B -> C -> A" from cycle keys, with role names. */
export function cycle_names(r: RunView, keys: string[], closed = true): string {
  const g = r.graph!;
  const names = keys.map((k) => {
    const n = g.nodes.find((x) => x.key === k);
    return n?.task ? `${n.task.name}(${n.task.pid > 0 ? n.task.pid : 't' + n.task.id})` : k;
  });
  return closed ? [...names, names[0]].join(' -> ') : names.join(' -> ');
}

// What is compared between the real kernel (native/pidns_driver.c) and the
// model (src/conformance/model.ts), and why.
//
// EVERY field of every result record is compared, exactly, because every
// number the driver prints is deterministic:
//  * pids.  The driver works inside a FRESH pid-namespace tree: task 0 is
//    pid 1 of a new namespace (relative level 0) and nothing outside the
//    script ever allocates a pid in it or below it.  So every pid in the
//    tree - fork return values, NSpid chains (printed from relative level 0
//    down, the host levels are cut off), getppid, wait4's return, ns_last_pid
//    - follows from the script alone.  HOST pids (the tree's pids in the
//    machine's initial namespace, level -1 relative) depend on everything
//    else running on the machine: the driver uses them internally (gpid) and
//    never prints them.  The only ways a script could make them observable
//    are kept out by construction: a clone3 set_tid array of exactly
//    (child level + 2) entries names a host pid (generate.ts never emits one;
//    the corpus neither), and task 0's parent is outside the tree (its
//    getppid is 0 and its "ppid" in `state` null, on both sides).
//  * errno names, exit statuses, what wait4 reaps and reports: semantics.
//  * "died"/"hung": which handles died during an exit/kill/reboot op.  The
//    driver observes them with pidfds and pings (a task that answers a ping
//    had no fatal signal pending); the model reads its task states after
//    running until idle.  "hung" = began exiting but not done within the
//    driver's 2 s settle bound: an init in zap_pid_ns_processes waiting for
//    a task whose parent is outside its namespace, which the model sees as a
//    task asleep in zap.
//  * "timeout" of a blocking wait4 (2 s on the driver, "blocked" on the model).
//  * fd identity (`samefile F G`): st_dev and st_ino are NOT printed - the
//    real nsfs/memfd inode numbers and the anon/shmem device depend on the
//    machine and its boot, the model's on its slab - only their RELATION
//    (both equal: "same" true) is, and that is semantics: one namespace is
//    one nsfs inode, each memfd its own.
//  * "error" texts for driver-level problems (op on a dead/unknown handle,
//    fd handle not open): model.ts reproduces the driver's bookkeeping.
//
// What the model side does NOT take from the model (src/conformance/model.ts
// emulates the driver's process around the model, as the driver's C code
// surrounds the real kernel):
//  * task 0's setsid(): the model has no setsid; the adapter makes task 0 the
//    leader of its own process group (kill(0) must not reach the driver).
//  * the SIGALRM that ends a blocking wait after 2 s: as the driver's task
//    does, the adapter installs a SIGALRM handler without SA_RESTART around
//    the wait and sends the task SIGALRM (wait4 returns -EINTR).
//  * the size of the pid bitmaps: the model keeps pid_max per namespace as
//    Linux >= 6.14 does, but every bitmap has the configured number of bits;
//    the adapter configures PID_MAX_LIMIT, the most any namespace allows, so
//    the bitmaps never bound a namespace of the tree before its pid_max does.
//
// Documented differences are kept as corpus cases whose header says
// `# model-differs: REASON` (test/conformance/): the real kernel must still
// give the file's results and the model must still disagree; random runs
// steer around them (generate.ts KNOWN_MODEL_GAPS).  KNOWN_DIFFERENCES below
// excuses field differences op by op; it is empty: nothing is excused in a
// comparison.
//
// The same module checks the namespace rules on any result list (real or
// model): no task enters a pid namespace that is not its active one or a
// descendant, and no task sees a pid outside its view (checkInvariants).
import type { Op, OpResult, TaskState } from './script.js';
import { normTarget } from './script.js';

export interface FieldDiff {
  /** op index */
  i: number;
  /** the op as a script line */
  line: string;
  field: string;
  real: unknown;
  model: unknown;
}

export interface Comparison {
  agree: boolean;
  diffs: FieldDiff[];
  /** differences excused by KNOWN_DIFFERENCES (with the reason) */
  excused: (FieldDiff & { reason: string })[];
}

/**
 * Deliberate differences, each with its reason.  `applies` sees the op and
 * both results; when it returns true for a field difference, that
 * difference is excused (reported, not failed).
 */
export interface KnownDifference {
  id: string;
  reason: string;
  applies: (op: Op, real: OpResult, model: OpResult, field: string) => boolean;
}

export const KNOWN_DIFFERENCES: KnownDifference[] = [];

function stableStringify(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(',')}}`;
}

export function sameValue(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}

/** Fields that carry no semantics (none today: the driver prints no host data). */
const IGNORED_FIELDS = new Set<string>(['warning']);

function fieldsOf(r: OpResult | undefined): string[] {
  return r === undefined ? [] : Object.keys(r).filter((k) => !IGNORED_FIELDS.has(k));
}

function compareState(i: number, line: string, real: TaskState[], model: TaskState[], out: FieldDiff[]): void {
  const byH = (xs: TaskState[]): Map<number, TaskState> => new Map(xs.map((x) => [x.h, x]));
  const a = byH(real);
  const b = byH(model);
  for (const h of [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => x - y)) {
    const x = a.get(h);
    const y = b.get(h);
    if (!sameValue(x, y)) out.push({ i, line, field: `tasks[h=${h}]`, real: x ?? null, model: y ?? null });
  }
}

/** Compare two result lists of the same script, field by field. */
export function compareResults(ops: readonly Op[], lines: readonly string[], real: readonly OpResult[], model: readonly OpResult[]): Comparison {
  const diffs: FieldDiff[] = [];
  const excused: (FieldDiff & { reason: string })[] = [];
  const n = Math.max(real.length, model.length, ops.length);
  for (let i = 0; i < n; i++) {
    const r = real[i];
    const m = model[i];
    const op = ops[i];
    const line = lines[i] ?? '';
    if (r === undefined || m === undefined) {
      diffs.push({ i, line, field: '(result)', real: r ?? null, model: m ?? null });
      continue;
    }
    const local: FieldDiff[] = [];
    for (const f of [...new Set([...fieldsOf(r), ...fieldsOf(m)])]) {
      const rv = (r as unknown as Record<string, unknown>)[f];
      const mv = (m as unknown as Record<string, unknown>)[f];
      if (sameValue(rv, mv)) continue;
      if (f === 'tasks' && Array.isArray(rv) && Array.isArray(mv)) {
        compareState(i, line, rv as TaskState[], mv as TaskState[], local);
        continue;
      }
      local.push({ i, line, field: f, real: rv ?? null, model: mv ?? null });
    }
    for (const d of local) {
      const k = op === undefined ? undefined : KNOWN_DIFFERENCES.find((kd) => kd.applies(op, r, m, d.field));
      if (k !== undefined) excused.push({ ...d, reason: `${k.id}: ${k.reason}` });
      else diffs.push(d);
    }
  }
  return { agree: diffs.length === 0, diffs, excused };
}

export function formatDiffs(c: Comparison, max = 20): string {
  const rows = c.diffs.slice(0, max).map(
    (d) => `  op ${d.i} \`${d.line}\` ${d.field}: real ${JSON.stringify(d.real)} model ${JSON.stringify(d.model)}`,
  );
  if (c.diffs.length > max) rows.push(`  ... ${c.diffs.length - max} more`);
  return rows.join('\n');
}

// ------------------------------------------------------------- invariants

export interface Violation {
  i: number;
  line: string;
  rule: 'enter-foreign-ns' | 'pid-outside-view' | 'shape';
  detail: string;
}

interface Known {
  /** pids from relative level 0 down to the task's own level */
  nspid: number[];
  level: number;
  reaped: boolean;
}

/**
 * The namespace rules, checked on one result list (works for the real kernel
 * and the model alike; pids are tracked from the fork/clone3 records):
 *  - enter-foreign-ns: a task only ever creates children in its active pid
 *    namespace or a descendant of it (setns/unshare may only move
 *    pid_for_children there): a child's level is >= its parent's and the
 *    fork return value (the child's pid in the parent's namespace) is the
 *    child's NSpid entry at the parent's level, and is > 0 (visible).
 *  - pid-outside-view: every pid a task reports is one it can see: getpid
 *    is its own innermost pid, its /proc view is [that pid]; an NSpid read
 *    of a handle is that task's chain from the reader's level down; a
 *    getppid is 0 or the parent's pid at the reader's level; a wait4 or
 *    fork return value belongs to a task of the tree visible to the caller.
 */
export function checkInvariants(ops: readonly Op[], lines: readonly string[], results: readonly OpResult[]): Violation[] {
  const v: Violation[] = [];
  const known = new Map<number, Known>([[0, { nspid: [1], level: 0, reaped: false }]]);
  const vpid = (t: Known, x: Known): number | undefined => {
    if (x.level < t.level) return undefined;
    // same namespace at t's level iff the chains agree above?  Without ns ids
    // we can only say: x's pid at t.level, if x is in t's subtree.  Callers
    // use this only as a consistency check together with other facts.
    return x.nspid[t.level];
  };
  results.forEach((r, i) => {
    const op = ops[i];
    const line = lines[i] ?? '';
    if (op === undefined || r.error !== undefined) return;
    const bad = (rule: Violation['rule'], detail: string): void => void v.push({ i, line, rule, detail });
    switch (op.op) {
      case 'fork':
      case 'clone3': {
        if (r.ret === null || r.ret <= 0) {
          if (r.ret === 0) bad('enter-foreign-ns', 'fork returned 0: child not visible to its parent');
          return;
        }
        const p = known.get(op.t);
        if (r.nspid === undefined || r.level === undefined) return bad('shape', 'fork without nspid/level');
        if (r.nspid.length !== r.level + 1) bad('shape', `nspid ${JSON.stringify(r.nspid)} vs level ${r.level}`);
        if (p !== undefined) {
          if (r.level < p.level) bad('enter-foreign-ns', `child level ${r.level} above parent level ${p.level}`);
          else if (r.nspid[p.level] !== r.ret)
            bad('enter-foreign-ns', `fork returned ${r.ret} but the child's pid at the parent's level ${p.level} is ${r.nspid[p.level]}`);
          for (let l = 0; l < p.level; l++)
            if (r.nspid[l] === undefined) bad('shape', 'child chain shorter than parent');
          if (op.op === 'fork' && op.newpid === true && r.nspid[r.level] !== 1) bad('shape', 'newpid child is not pid 1');
        }
        known.set(op.c, { nspid: r.nspid, level: r.level, reaped: false });
        return;
      }
      case 'getpid': {
        const t = known.get(op.t);
        if (r.nspid !== undefined && r.ret !== r.nspid[r.nspid.length - 1]) bad('pid-outside-view', `getpid ${r.ret} is not the innermost pid of ${JSON.stringify(r.nspid)}`);
        if (r.view !== undefined && r.view !== null && !(r.view.length === 1 && r.view[0] === r.ret))
          bad('pid-outside-view', `own /proc view ${JSON.stringify(r.view)} is not [${r.ret}]`);
        if (t !== undefined && r.nspid !== undefined && !sameValue(t.nspid, r.nspid)) bad('shape', 'getpid nspid differs from fork record');
        return;
      }
      case 'nspid': {
        const t = known.get(op.t);
        const tg = normTarget(op.target);
        if (r.ret !== 0 || r.nspid === undefined || t === undefined) return;
        if ('handle' in tg) {
          const x = known.get(tg.handle);
          if (x !== undefined && !x.reaped) {
            const want = x.nspid.slice(t.level);
            if (!sameValue(want, r.nspid)) bad('pid-outside-view', `NSpid of handle ${tg.handle} as seen by ${op.t}: ${JSON.stringify(r.nspid)}, expected ${JSON.stringify(want)}`);
          }
        } else if (r.nspid.length === 0 || r.nspid[0] !== r.pid) bad('pid-outside-view', `NSpid ${JSON.stringify(r.nspid)} does not start with the pid read (${r.pid})`);
        return;
      }
      case 'getppid': {
        const t = known.get(op.t);
        if (r.ret === null || r.ret === 0 || t === undefined) return;
        if (r.parent === null || r.parent === undefined) return bad('pid-outside-view', `getppid ${r.ret} names no task of the tree`);
        const p = known.get(r.parent);
        if (p !== undefined && vpid(t, p) !== r.ret) bad('pid-outside-view', `getppid ${r.ret} but parent ${r.parent} is ${vpid(t, p)} at level ${t.level}`);
        if (p !== undefined && p.level > t.level) bad('pid-outside-view', `parent ${r.parent} lives below the child`);
        return;
      }
      case 'wait': {
        if (r.ret !== null && r.ret > 0) {
          if (r.who === null || r.who === undefined) bad('pid-outside-view', `wait4 returned ${r.ret}, no task of the tree has that pid in the caller's view`);
          else {
            const t = known.get(op.t);
            const x = known.get(r.who);
            if (t !== undefined && x !== undefined && (x.level < t.level || x.nspid[t.level] !== r.ret))
              bad('pid-outside-view', `wait4 returned ${r.ret} for handle ${r.who} (chain ${JSON.stringify(x.nspid)}, caller level ${t.level})`);
          }
          if (r.reaped !== null && r.reaped !== undefined) {
            const x = known.get(r.reaped);
            if (x !== undefined) x.reaped = true;
          }
        }
        return;
      }
      case 'waitid': {
        if (r.reaped !== null && r.reaped !== undefined) {
          const x = known.get(r.reaped);
          if (x !== undefined) x.reaped = true;
        }
        return;
      }
      case 'state': {
        for (const ts of r.tasks ?? []) {
          const x = known.get(ts.h);
          if (x !== undefined && !sameValue(x.nspid, ts.nspid)) bad('shape', `state nspid of ${ts.h} differs from its fork record`);
        }
        return;
      }
      default:
        return;
    }
  });
  return v;
}

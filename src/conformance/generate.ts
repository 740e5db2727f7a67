// Seeded generator of random, mostly valid conformance scripts.
//
// fast-check generates a list of abstract STEPS (small records of integers);
// interpret() turns them into concrete script ops (src/conformance/script.ts)
// against a SHADOW: a deliberately rough picture of the tree (who is alive,
// parents, pid namespaces, user namespaces, capabilities, fds).  The shadow
// only steers choices towards ops that do something (actors that are alive,
// targets that exist, set_tid arrays of the right length); it is never the
// judge: the real kernel and the model are.  When the shadow is wrong the
// script still runs: an op on a dead handle is answered "task N is dead" by
// both sides, identically.
//
// What the generator AVOIDS, because it is slow or not deterministic on the
// real kernel (see compare.ts for the reasons):
//  * set_tid arrays that would reach the host level: the real tree's root is
//    one level below the machine's initial namespace, so an array of exactly
//    (child level + 2) entries would name a HOST pid.  Lengths are
//    1..level+1 (in the tree) or >= level+3 (EINVAL before any pid is looked
//    at); never level+2.
//  * blocking waits that would block (each costs the driver's 2 s bound):
//    a blocking wait is emitted only when the shadow is sure it returns at
//    once (a zombie child it knows of, or no eligible child: ECHILD).
//  * hangs: killing (or exiting, or rebooting) a namespace init whose
//    namespace holds a task with a parent outside it makes the init wait in
//    zap_pid_ns_processes (2 s per occurrence on the driver); only 1 in 10
//    such ops is kept.  SIGSTOP is rare and usually followed by SIGCONT
//    (a stopped task costs a 500 ms ping in every settle).
//  * core-dumping signals (QUIT, ABRT, SEGV, ...): they would write cores.
//
// Steps are plain integer records so fast-check shrinks them (shorter list,
// smaller numbers: kind 0 is the harmless getpid).  Dropping a step shifts
// the handles later steps resolve to; that is fine for shrinking (the
// property is "real and model agree", which any script can be checked for),
// and src/conformance/run.ts finishes with a greedy pass over concrete ops.
import fc from 'fast-check';
import type { Handle, NsFlag, NsKind, Op, RebootCmd, SaFlag, WaitidOption, WaitOption } from './script.js';
import { PID_MAX_DEFAULT, PID_MAX_LIMIT } from '../mm/memory.js';

/** One abstract step: `k` picks the op kind (by weight), a..e pick its arguments. */
export interface Step {
  k: number;
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
}

/**
 * Known disagreements of the model with the kernel, each kept as a fixed
 * corpus case marked `model-differs` (test/conformance/), which the generator
 * would steer around.  There are none left: job control, caught signals,
 * pid_max per namespace and uid maps are modelled and generated.
 */
export type KnownGap = never;
export const KNOWN_MODEL_GAPS: readonly KnownGap[] = [];

export interface GenOptions {
  /** Model gaps to steer around (default KNOWN_MODEL_GAPS; [] generates everything). */
  avoid?: readonly KnownGap[];
  /**
   * pid_max of the namespaces of the tree.  Since Linux 6.14 pid_max is per
   * pid namespace and every namespace but the initial one starts at
   * PID_MAX_LIMIT (create_pid_namespace: ns->pid_max = PID_MAX_LIMIT), so in
   * the driver's tree it is 4194304 whatever the host's sysctl says.
   * Values around the host's legacy 32768 are generated too.
   */
  pidMax?: number;
  /** Deepest relative level a new pid namespace may get without ENOSPC (31 on the real kernel: its tree root is level 1 of 32). */
  maxRelLevel?: number;
  /** Most task handles a script creates (handle numbers are never reused). Default 40. */
  maxHandles?: number;
  /** Most fd handles. Default 12. */
  maxFds?: number;
  /** Keep 1 in N ops that would hang an init in zap (default 10). 0 = never. */
  hangOneIn?: number;
  /** Always end the script with `state`. Default true. */
  finalState?: boolean;
}

export interface ArbOptions extends GenOptions {
  minSteps?: number;
  maxSteps?: number;
}

/** Weighted op kinds; index 0 (getpid) is what a shrunk `k` falls back to. */
const KINDS = [
  ['getpid', 3],
  ['getppid', 3],
  ['fork', 16],
  ['forknewpid', 6],
  ['clone3', 8],
  ['unshare', 6],
  ['dropcaps', 2],
  ['exit', 6],
  ['wait', 11],
  ['kill', 10],
  ['openns', 5],
  ['pidfd', 4],
  ['setns', 7],
  ['close', 1],
  ['lastpid_read', 2],
  ['lastpid_write', 4],
  ['nspid', 4],
  ['reboot', 1],
  ['state', 2],
  ['chain', 1],
  ['pidmax_read', 1],
  ['pidmax_write', 2],
  ['sigaction', 4],
  ['sigmask', 2],
  ['caught', 2],
  ['idmap', 1],
  ['setgroups', 1],
  ['pidfd_kill', 3],
  ['waitid', 2],
  ['memfd', 1],
  ['samefile', 1],
] as const;
type Kind = (typeof KINDS)[number][0];
const TOTAL_WEIGHT = KINDS.reduce((s, [, w]) => s + w, 0);

function kindOf(k: number): Kind {
  let x = k % TOTAL_WEIGHT;
  for (const [name, w] of KINDS) {
    if (x < w) return name;
    x -= w;
  }
  return 'getpid';
}

/** The fast-check arbitrary of step lists. */
export function stepsArb(opts: ArbOptions = {}): fc.Arbitrary<Step[]> {
  const n = fc.nat({ max: 0xffff });
  return fc.array(fc.record({ k: fc.nat({ max: TOTAL_WEIGHT - 1 }), a: n, b: n, c: n, d: n, e: n }), {
    minLength: opts.minSteps ?? 4,
    maxLength: opts.maxSteps ?? 40,
    size: 'max', // lengths spread over the whole range (fast-check's default keeps them near 10)
  });
}

/** The steps fast-check generates for `seed` (the same value fc.check(…, {seed, numRuns: 1}) starts from). */
export function sampleSteps(seed: number, opts: ArbOptions = {}): Step[] {
  const [s] = fc.sample(stepsArb(opts), { seed, numRuns: 1 });
  return s ?? [];
}

/** Script for `seed`: sampleSteps + interpret. */
export function generateScript(seed: number, opts: ArbOptions = {}): Op[] {
  return interpret(sampleSteps(seed, opts), opts);
}

// ------------------------------------------------------------------ shadow

type TStat = 'alive' | 'zombie' | 'reaped' | 'unknown';

interface STask {
  h: Handle;
  stat: TStat;
  parent: Handle | null;
  /** active pid namespace (shadow id) */
  ns: number;
  /** pid_ns_for_children */
  pfc: number;
  user: number;
  /** full capabilities in its own user namespace */
  caps: boolean;
  stopped: boolean;
  /** signals that do not kill it: caught, ignored or blocked (inherited at fork) */
  soft: Set<string>;
  /** created after setns: its parent lives in an ancestor namespace */
  outsideParent: boolean;
  /**
   * The shadow knows this task's namespaces EXACTLY (its active level and
   * pid_for_children).  Cleared after anything it cannot predict for sure
   * (user namespaces, setns through an fd whose open may have failed...).
   * clone3 set_tid arrays longer than 1 are only generated for sure tasks:
   * a wrong level could make an array reach the host level.
   */
  sure: boolean;
  /** its uid may be unmapped in its user namespace (unshared one without capabilities) */
  unmapped: boolean;
  children: Handle[];
}

interface SNs {
  id: number;
  parent: number | null;
  level: number;
  init: Handle | null;
  /** PIDNS_ADDING: false once its init died (forks: ENOMEM) */
  adding: boolean;
  user: number;
}

interface SUser {
  id: number;
  parent: number | null;
}

type SFd = ({ kind: 'ns'; nsKind: NsKind; ns: number | null; user: number | null } | { kind: 'pidfd'; target: Handle } | { kind: 'memfd' }) & {
  /** the open surely succeeded (else the driver's slot may hold an older fd) */
  sure: boolean;
};

const FATAL_SIGS = ['KILL', 'TERM', 'HUP', 'INT', 'USR1', 'USR2', 'ALRM', 'PIPE'];
const SIG_CHOICES: readonly (readonly [string, number])[] = [
  ['KILL', 30],
  ['TERM', 14],
  ['0', 10],
  ['HUP', 5],
  ['INT', 5],
  ['USR1', 5],
  ['USR2', 2],
  ['ALRM', 2],
  ['PIPE', 2],
  ['CHLD', 5],
  ['WINCH', 2],
  ['URG', 2],
  ['CONT', 5],
  ['STOP', 8],
  ['TSTP', 2],
];
const SIG_TOTAL = SIG_CHOICES.reduce((s, [, w]) => s + w, 0);

function pickWeighted<T>(xs: readonly (readonly [T, number])[], total: number, r: number): T {
  let x = r % total;
  for (const [v, w] of xs) {
    if (x < w) return v;
    x -= w;
  }
  return xs[0]![0];
}

const OTHER_NS_FLAGS: readonly NsFlag[] = ['newns', 'newnet', 'newuts', 'newipc', 'newcgroup', 'newtime'];
const NS_FLAG_OF_KIND: Partial<Record<NsKind, NsFlag>> = {
  pid: 'newpid',
  pid_for_children: 'newpid',
  user: 'newuser',
  mnt: 'newns',
  net: 'newnet',
  uts: 'newuts',
  ipc: 'newipc',
  cgroup: 'newcgroup',
  time: 'newtime',
  time_for_children: 'newtime',
};

class Shadow {
  readonly tasks = new Map<Handle, STask>();
  readonly ns = new Map<number, SNs>();
  readonly users = new Map<number, SUser>();
  readonly fds = new Map<number, SFd>();
  nextHandle = 1;
  private nextNs = 1;
  private nextUser = 1;

  constructor() {
    this.ns.set(0, { id: 0, parent: null, level: 0, init: 0, adding: true, user: 0 });
    this.users.set(0, { id: 0, parent: null });
    this.tasks.set(0, {
      h: 0,
      stat: 'alive',
      parent: null,
      ns: 0,
      pfc: 0,
      user: 0,
      caps: true,
      stopped: false,
      soft: new Set(),
      outsideParent: false,
      sure: true,
      unmapped: false,
      children: [],
    });
  }

  alive(): STask[] {
    return [...this.tasks.values()].filter((t) => t.stat === 'alive' && !t.stopped);
  }
  all(): STask[] {
    return [...this.tasks.values()];
  }
  task(h: Handle): STask | undefined {
    return this.tasks.get(h);
  }
  nsOf(id: number): SNs {
    return this.ns.get(id)!;
  }
  /** a is b or an ancestor of b (pid namespaces) */
  nsAncestorOrSelf(a: number, b: number): boolean {
    for (let x: number | null = b; x !== null; x = this.nsOf(x).parent) if (x === a) return true;
    return false;
  }
  userAncestorOrSelf(a: number, b: number): boolean {
    for (let x: number | null = b; x !== null; x = this.users.get(x)!.parent) if (x === a) return true;
    return false;
  }
  /** t has CAP_SYS_ADMIN-like power over user namespace u */
  capableIn(t: STask, u: number): boolean {
    if (t.caps && this.userAncestorOrSelf(t.user, u)) return true;
    // owner of a child user ns has all caps in it (same euid everywhere here)
    return t.user !== u && this.userAncestorOrSelf(t.user, u) && this.users.get(u)!.parent !== null;
  }
  /** root user namespace with all capabilities, and known for sure */
  privileged(t: STask): boolean {
    return t.sure && t.caps && t.user === 0;
  }
  visible(t: STask, x: STask): boolean {
    return this.nsAncestorOrSelf(t.ns, x.ns);
  }
  newNs(parent: number, user: number): SNs {
    const n: SNs = { id: this.nextNs++, parent, level: this.nsOf(parent).level + 1, init: null, adding: true, user };
    this.ns.set(n.id, n);
    return n;
  }
  newUser(parent: number): number {
    const id = this.nextUser++;
    this.users.set(id, { id, parent });
    return id;
  }
  /** every task whose active ns is n or a descendant */
  subtree(n: number): STask[] {
    return this.all().filter((t) => this.nsAncestorOrSelf(n, t.ns));
  }
  /** would killing/exiting init of ns n hang in zap (outside-parent task not reaped)? */
  wouldHang(n: number): boolean {
    return this.subtree(n).some((t) => t.outsideParent && t.stat !== 'reaped' && !this.nsAncestorOrSelfParentIn(t, n));
  }
  private nsAncestorOrSelfParentIn(t: STask, n: number): boolean {
    if (t.parent === null) return false;
    const p = this.task(t.parent);
    return p !== undefined && this.nsAncestorOrSelf(n, p.ns);
  }
  isInit(t: STask): boolean {
    return this.nsOf(t.ns).init === t.h;
  }

  spawn(parent: STask, newpid: boolean): STask | undefined {
    let ns = parent.pfc;
    const pfcNs = this.nsOf(parent.pfc);
    if (!pfcNs.adding) return undefined;
    if (newpid) {
      if (parent.pfc !== parent.ns) return undefined;
      if (pfcNs.level + 1 > MAX_REL_LEVEL_DEFAULT) return undefined;
      ns = this.newNs(parent.pfc, parent.user).id;
    }
    const n = this.nsOf(ns);
    const h = this.nextHandle++;
    const c: STask = {
      h,
      stat: 'alive',
      parent: parent.h,
      ns,
      pfc: ns,
      user: parent.user,
      caps: parent.caps,
      stopped: false,
      soft: new Set(parent.soft),
      outsideParent: ns !== parent.ns && !newpid,
      sure: parent.sure,
      unmapped: parent.unmapped,
      children: [],
    };
    if (n.init === null) n.init = h;
    this.tasks.set(h, c);
    parent.children.push(h);
    return c;
  }

  /** The task dies (exit or fatal signal). Rough: see the header. */
  die(x: STask): void {
    if (x.stat !== 'alive') return;
    x.stat = 'zombie';
    x.stopped = false;
    const myNs = this.nsOf(x.ns);
    if (myNs.init === x.h) {
      myNs.adding = false;
      // zap: everything in the namespace subtree dies; what the init (and
      // through reparenting, the init) is parent of is reaped by the zap.
      for (const y of this.subtree(x.ns)) {
        if (y === x || y.stat === 'reaped') continue;
        if (y.stat === 'alive') {
          y.stat = 'zombie';
          y.stopped = false;
          const yn = this.nsOf(y.ns);
          if (yn.init === y.h) yn.adding = false;
        }
        const parentInside = y.parent !== null && this.nsAncestorOrSelf(x.ns, this.task(y.parent)?.ns ?? -1);
        if (!y.outsideParent || parentInside) y.stat = 'reaped';
        else y.stat = 'unknown';
      }
    } else {
      // orphans go to the child reaper of x's active namespace
      const reaper = myNs.init !== null ? this.task(myNs.init) : undefined;
      for (const ch of x.children) {
        const c = this.task(ch);
        if (c === undefined || c.stat === 'reaped') continue;
        c.parent = reaper?.h ?? null;
        if (reaper !== undefined) reaper.children.push(ch);
      }
      x.children = [];
    }
    const p = x.parent === null ? undefined : this.task(x.parent);
    if (p !== undefined && p.stat !== 'alive') x.stat = 'unknown';
  }

  /** Children of t a wait for `target` (handle, or -1 for any) could report. */
  eligible(t: STask, target: Handle | -1, opts: readonly WaitOption[]): STask[] {
    if (opts.includes('wclone') && !opts.includes('wall')) return [];
    return t.children
      .map((h) => this.task(h)!)
      .filter((c) => c.parent === t.h && c.stat !== 'reaped' && (target === -1 || c.h === target));
  }
}

const MAX_REL_LEVEL_DEFAULT = 31;

// ------------------------------------------------------------- interpreter

/**
 * Turn abstract steps into concrete ops.  Deterministic: the same steps and
 * options give the same script.
 */
/** What the shadow believed when it emitted a clone3 (for the generator's own tests). */
export interface Clone3Note {
  /** index of the op in the script */
  i: number;
  /** the child's relative level as the shadow saw it */
  childLevel: number;
  /** the shadow was sure of the actor's namespaces */
  sure: boolean;
}

export function interpret(steps: readonly Step[], opts: GenOptions = {}, notes?: Clone3Note[]): Op[] {
  const pidMax = opts.pidMax ?? PID_MAX_LIMIT;
  const maxRel = opts.maxRelLevel ?? MAX_REL_LEVEL_DEFAULT;
  const maxHandles = opts.maxHandles ?? 40;
  const maxFds = opts.maxFds ?? 12;
  const hangOneIn = opts.hangOneIn ?? 10;
  const avoid = new Set(opts.avoid ?? KNOWN_MODEL_GAPS);
  const sh = new Shadow();
  const ops: Op[] = [];
  const pick = <T>(xs: readonly T[], r: number): T | undefined => (xs.length === 0 ? undefined : xs[r % xs.length]);
  const chance = (r: number, percent: number): boolean => r % 100 < percent;
  const allowHang = (r: number): boolean => hangOneIn > 0 && r % hangOneIn === 0;

  /** A pid number as seen from level L that is in use there (for EEXIST), or undefined. */
  const usedPidAt = (nsId: number, r: number): number | undefined => {
    // we do not track pid numbers exactly; pid 1 is used in every ns with an init
    const n = sh.nsOf(nsId);
    return n.init !== null ? (r % 3 === 0 ? 1 : undefined) : undefined;
  };
  const tidValue = (nsId: number, r: number, r2: number): number => {
    switch (r % 11) {
      case 10:
        return PID_MAX_DEFAULT + (r2 % 3) - 1;
      case 0:
        return 0;
      case 1:
        return -1 - (r2 % 3);
      case 2:
        return pidMax + (r2 % 2);
      case 3:
        return pidMax - 1;
      case 4:
        return usedPidAt(nsId, r2) ?? 1;
      case 5:
        return 1;
      default:
        return 2 + (r2 % 400);
    }
  };

  const chooseTarget = (t: STask, r: number, r2: number): { target: number | { raw: number }; task?: STask } => {
    const sel = r % 100;
    const visible = sh.all().filter((x) => x.stat !== 'reaped' && sh.visible(t, x));
    if (sel < 62) {
      const x = pick(visible, r2);
      if (x) return { target: x.h, task: x };
    }
    if (sel < 72) {
      const x = pick(sh.all(), r2); // may be invisible or reaped
      if (x) return { target: x.h, task: x };
    }
    if (sel < 80) return { target: t.h, task: t };
    if (sel < 86) return { target: { raw: -1 } };
    if (sel < 89) return { target: { raw: 0 } };
    if (sel < 92) return { target: { raw: -(1 + (r2 % 3)) } };
    return { target: { raw: [1, 2, 3, 300, 999, pidMax, pidMax + 5][r2 % 7]! } };
  };

  for (const s of steps) {
    const alive = sh.alive();
    const actor = pick(alive, s.a);
    if (actor === undefined) break; // everything is dead
    const kind = kindOf(s.k);
    switch (kind) {
      case 'getpid':
      case 'getppid':
      case 'dropcaps':
      case 'lastpid_read':
      case 'pidmax_read':
      case 'caught':
        ops.push({ op: kind, t: actor.h });
        if (kind === 'dropcaps') actor.caps = false;
        break;
      case 'state':
        ops.push({ op: 'state' });
        break;
      case 'fork':
      case 'forknewpid': {
        if (sh.nextHandle > maxHandles) break;
        const newpid = kind === 'forknewpid';
        const c = sh.nextHandle;
        ops.push(newpid ? { op: 'fork', t: actor.h, c, newpid: true } : { op: 'fork', t: actor.h, c });
        if (sh.spawn(actor, newpid) === undefined) sh.nextHandle = c + 1; // failed: keep the handle unused
        break;
      }
      case 'chain': {
        // a chain of nested CLONE_NEWPID forks, possibly to the depth limit
        let cur: STask | undefined = actor;
        const n = 2 + (s.b % 34);
        for (let j = 0; j < n && cur !== undefined && sh.nextHandle <= maxHandles; j++) {
          const lvl = sh.nsOf(cur.pfc).level + 1;
          const c = sh.nextHandle;
          ops.push({ op: 'fork', t: cur.h, c, newpid: true });
          if (lvl > maxRel) {
            sh.nextHandle = c + 1;
            break; // ENOSPC
          }
          cur = sh.spawn(cur, true);
          if (cur === undefined) sh.nextHandle = c + 1;
        }
        break;
      }
      case 'clone3': {
        if (sh.nextHandle > maxHandles) break;
        const newpid = chance(s.b, 25);
        const pfc = sh.nsOf(actor.pfc);
        const childLevel = pfc.level + (newpid ? 1 : 0);
        const c = sh.nextHandle;
        let setTid: number[] = [];
        const lenSel = s.c % 100;
        if (lenSel < 10) setTid = [];
        else if (lenSel < 15) setTid = Array.from({ length: 33 + (s.d % 2) }, (_, j) => 2 + j); // > MAX_PID_NS_LEVEL: EINVAL
        else if (lenSel < 19 && actor.sure) setTid = Array.from({ length: childLevel + 3 }, (_, j) => 2 + j); // > level+1: EINVAL
        else {
          // never exactly childLevel+2 (the host level); when the shadow is
          // not sure of the level, one entry only
          const len = actor.sure ? 1 + (s.d % (childLevel + 1)) : 1;
          // ns ids from the child's level upwards
          const chain: number[] = [];
          for (let x: number | null = pfc.id; x !== null; x = sh.nsOf(x).parent) chain.push(x);
          for (let j = 0; j < len; j++) {
            if (newpid && j === 0) {
              setTid.push(chance(s.e, 85) ? 1 : 2 + (s.e % 50));
              continue;
            }
            const nsId = chain[newpid ? j - 1 : j] ?? 0;
            const rr = (s.e >> (j % 8)) + j * 7 + s.d;
            setTid.push(tidValue(nsId, rr, s.e + j * 13));
          }
        }
        notes?.push({ i: ops.length, childLevel, sure: actor.sure });
        // CLONE_PIDFD now and then: the pidfd lands in an fd handle (only if the clone succeeds)
        const pidfd = chance(s.b >>> 7, 20) ? (s.e >>> 5) % maxFds : undefined;
        ops.push({ op: 'clone3', t: actor.h, c, setTid, ...(newpid ? { newpid: true } : {}), ...(pidfd !== undefined ? { pidfd } : {}) });
        const plausible =
          setTid.length <= childLevel + 1 && setTid.every((v, j) => (newpid && j === 0 ? v === 1 : v > 1 && v < pidMax));
        const child = plausible ? sh.spawn(actor, newpid) : undefined;
        if (child === undefined) sh.nextHandle = c + 1;
        if (pidfd !== undefined) {
          // a set_tid clone may still fail (EEXIST): the slot is then the old fd, so never sure
          if (child !== undefined) sh.fds.set(pidfd, { kind: 'pidfd', target: child.h, sure: false });
          else if (sh.fds.has(pidfd)) sh.fds.get(pidfd)!.sure = false;
        }
        break;
      }
      case 'unshare': {
        const flags: NsFlag[] = [];
        const sel = s.b % 100;
        if (sel < 45) flags.push('newpid');
        else if (sel < 60) flags.push('newuser');
        else if (sel < 75) flags.push('newuser', 'newpid');
        else if (sel < 85) flags.push(OTHER_NS_FLAGS[s.c % OTHER_NS_FLAGS.length]!);
        else if (sel < 92) flags.push('newpid', OTHER_NS_FLAGS[s.c % OTHER_NS_FLAGS.length]!);
        // else: 0 flags
        void avoid;
        ops.push({ op: 'unshare', t: actor.h, flags });
        const wasPrivileged = sh.privileged(actor);
        const wasSure = actor.sure;
        if (flags.includes('newuser')) {
          if (!actor.caps || !actor.sure) actor.unmapped = true; // uid_map "0 0 1" refused
          actor.user = sh.newUser(actor.user);
          actor.caps = true;
          actor.sure = false; // new user ns: capability questions get hard
        }
        if (flags.includes('newpid')) {
          const ok = actor.pfc === actor.ns && sh.nsOf(actor.ns).level < maxRel && (actor.caps || flags.includes('newuser'));
          if (ok) actor.pfc = sh.newNs(actor.ns, actor.user).id;
          // exact when root with caps (EINVAL/ENOSPC rules known) or surely without caps (EPERM)
          if (!(wasSure && (wasPrivileged || (!actor.caps && !flags.includes('newuser'))))) actor.sure = false;
        }
        break;
      }
      case 'exit': {
        if (sh.isInit(actor) && sh.wouldHang(actor.ns) && !allowHang(s.e)) break;
        if (actor.h === 0 && !chance(s.c, 15)) break; // the whole tree goes: rarely
        const code = [0, 1, 7, 42, 255, 256, 257, -1][s.b % 8]!;
        ops.push({ op: 'exit', t: actor.h, code });
        sh.die(actor);
        break;
      }
      case 'wait': {
        const kids = actor.children.map((h) => sh.task(h)!).filter((c) => c.parent === actor.h && c.stat !== 'reaped');
        let target: number | { raw: number };
        let th: Handle | -1 | undefined;
        const sel = s.b % 100;
        if (sel < 55 && kids.length > 0) {
          const k = pick(kids, s.c)!;
          target = k.h;
          th = k.h;
        } else if (sel < 80) {
          target = { raw: -1 };
          th = -1;
        } else if (sel < 88) {
          const x = pick(sh.all(), s.c)!;
          target = x.h;
          th = x.parent === actor.h ? x.h : undefined;
        } else {
          target = { raw: [0, -1, 1, 2, 999][s.c % 5]! };
          th = undefined;
        }
        const options: WaitOption[] = [];
        if (chance(s.d, 10)) options.push('wall');
        if (chance(s.d >> 4, 5)) options.push('wclone');
        if (chance(s.d >> 8, 6)) options.push('wuntraced');
        if (chance(s.d >> 12, 4)) options.push('wcontinued');
        // blocking only when the shadow is sure it does not block: a zombie
        // it knows of is eligible, or the actor has no children at all (ECHILD)
        let blocking = false;
        if (chance(s.e, 45) && th !== undefined) {
          const el = sh.eligible(actor, th, options);
          if (el.some((k) => k.stat === 'zombie')) blocking = true;
          else if (kids.length === 0) blocking = true;
          else if (options.includes('wclone') && !options.includes('wall')) blocking = true; // only SIGCHLD children: ECHILD
        }
        if (!blocking) options.unshift('wnohang');
        ops.push({ op: 'wait', t: actor.h, target, ...(options.length ? { options } : {}) });
        // shadow: a reaped zombie
        if (th !== undefined) {
          const el = sh.eligible(actor, th, options).filter((k) => k.stat === 'zombie' || k.stat === 'unknown');
          if (th !== -1) {
            const k = sh.task(th);
            if (k && k.stat === 'zombie' && el.includes(k)) k.stat = 'reaped';
          } else if (el.length > 0) {
            for (const k of el) k.stat = k === el[0] && el.length === 1 && k.stat === 'zombie' ? 'reaped' : 'unknown';
          }
        }
        break;
      }
      case 'kill': {
        const sig = pickWeighted(SIG_CHOICES, SIG_TOTAL, s.b);
        const { target, task: x } = chooseTarget(actor, s.c, s.d);
        const fatal = FATAL_SIGS.includes(sig);
        const killedBy = (y: STask): boolean => fatal && (sig === 'KILL' || !y.soft.has(sig));
        // victims (rough)
        let victims: STask[] = [];
        let tgt = target;
        const raw = typeof tgt === 'number' ? undefined : tgt.raw;
        if (x !== undefined) victims = sh.visible(actor, x) && x.stat === 'alive' ? [x] : [];
        else if (raw === -1)
          victims = sh.all().filter((y) => y !== actor && y.stat === 'alive' && sh.visible(actor, y) && !(sh.isInit(y) && y.ns === actor.ns));
        else if (raw === 0) victims = sh.all().filter((y) => y.stat === 'alive'); // our process group: the whole tree (task 0 did setsid)
        else if (raw !== undefined && raw > 1 && sig !== '0' && sig !== 'CHLD' && sig !== 'WINCH' && sig !== 'URG')
          tgt = { raw: [1, pidMax + 5][s.d % 2]! }; // unknown pid numbers only with harmless signals
        // raw < -1: process group 2, 3: none exists (ESRCH)
        const effective = victims.filter((y) => {
          if (!sh.isInit(y)) return true;
          // an init ignores signals from inside its namespace, and from
          // outside all but SIGKILL/SIGSTOP (SIGNAL_UNKILLABLE, sig_task_ignored)
          if (sh.nsAncestorOrSelf(y.ns, actor.ns)) return false;
          return sig === 'KILL' || sig === 'STOP';
        });
        if (effective.some((y) => killedBy(y) && sh.isInit(y) && sh.wouldHang(y.ns)) && !allowHang(s.e)) break;
        // rarer still, and only at another single task: a task that stops
        // itself never answers the driver (5 s RPC timeout) and nobody would
        // continue a whole stopped process group
        if ((sig === 'STOP' || sig === 'TSTP') && (!chance(s.e, 60) || x === undefined || x === actor)) break;
        ops.push({ op: 'kill', t: actor.h, target: tgt, sig });
        for (const y of effective) if (killedBy(y)) sh.die(y);
        if (sig === 'STOP') {
          for (const y of effective) y.stopped = true;
          // usually continue it right away (a stopped task slows the driver down)
          if (!chance(s.e >> 3, 15)) ops.push({ op: 'kill', t: actor.h, target: tgt, sig: 'CONT' });
          else for (const y of effective) y.stat = 'unknown';
          for (const y of effective) y.stopped = false;
        }
        if (sig === 'CONT') for (const y of effective) y.stopped = false;
        break;
      }
      case 'openns': {
        const kinds: NsKind[] = ['pid', 'pid', 'pid_for_children', 'pid_for_children', 'user', 'user', 'mnt', 'net', 'uts', 'ipc', 'cgroup', 'time', 'time_for_children'];
        const nsKind = kinds[s.b % kinds.length]!;
        const { target, task: x } = chooseTarget(actor, s.c, s.d);
        const f = s.e % maxFds;
        ops.push({ op: 'openns', t: actor.h, target, kind: nsKind, f });
        if (x !== undefined) {
          const sure =
            sh.privileged(actor) && x.sure && x.stat === 'alive' && sh.visible(actor, x) && (nsKind !== 'pid_for_children' || sh.nsOf(x.pfc).init !== null);
          const prev = sh.fds.get(f);
          sh.fds.set(f, {
            kind: 'ns',
            nsKind,
            ns: nsKind === 'pid' ? x.ns : nsKind === 'pid_for_children' ? x.pfc : null,
            user: nsKind === 'user' ? x.user : null,
            sure: sure || prev === undefined ? sure : false,
          });
        } else if (sh.fds.has(f)) sh.fds.get(f)!.sure = false; // a failed open keeps the old fd
        break;
      }
      case 'pidfd': {
        const { target, task: x } = chooseTarget(actor, s.c, s.d);
        const f = s.e % maxFds;
        ops.push({ op: 'pidfd', t: actor.h, target, f });
        if (x !== undefined) sh.fds.set(f, { kind: 'pidfd', target: x.h, sure: x.stat === 'alive' && sh.visible(actor, x) });
        else if (sh.fds.has(f)) sh.fds.get(f)!.sure = false;
        break;
      }
      case 'setns': {
        const open = [...sh.fds.entries()];
        const e = pick(open, s.b);
        if (e === undefined) break;
        const [f, fd] = e;
        if (fd.kind === 'memfd') {
          // neither an nsfs file nor a pidfd: EINVAL, nothing changes
          ops.push({ op: 'setns', t: actor.h, f, flags: s.c % 2 === 0 ? [] : ['newpid'] });
          break;
        }
        let flags: NsFlag[];
        const sel = s.c % 100;
        if (fd.kind === 'ns') {
          const own = NS_FLAG_OF_KIND[fd.nsKind]!;
          flags = sel < 25 ? [] : sel < 90 ? [own] : [own === 'newpid' ? 'newuser' : 'newpid'];
        } else if (sel < 50) flags = ['newpid'];
        else if (sel < 60) flags = [];
        else if (sel < 70) flags = ['newpid', 'newuser'];
        else if (sel < 80) flags = ['newpid', 'newuser', 'newnet'];
        else {
          flags = ['newpid'];
          for (let j = 0; j < OTHER_NS_FLAGS.length; j++) if ((s.d >> j) & 1) flags.push(OTHER_NS_FLAGS[j]!);
          if ((s.d >> 7) & 1) flags.push('newuser');
        }
        ops.push({ op: 'setns', t: actor.h, f, flags });
        // shadow: pid ns change when plausible
        let nsTarget: number | null = null;
        let userTarget: number | null = null;
        if (fd.kind === 'ns') {
          if (flags.length <= 1 && (flags.length === 0 || flags[0] === NS_FLAG_OF_KIND[fd.nsKind])) {
            nsTarget = fd.ns;
            userTarget = fd.user;
          }
        } else if (flags.length === 1 && flags[0] === 'newpid') {
          const x = sh.task(fd.target);
          if (x && x.stat === 'alive') nsTarget = x.ns;
        }
        const exact =
          actor.sure &&
          fd.sure &&
          (!actor.caps || (sh.privileged(actor) && (nsTarget === null || sh.nsOf(nsTarget).user === 0))) &&
          (fd.kind === 'ns' ? fd.nsKind === 'pid' || fd.nsKind === 'pid_for_children' || flags.length === 0 || !flags.includes('newpid') : flags.length === 1);
        if (fd.kind === 'pidfd' && (sh.task(fd.target)?.stat !== 'alive' || !sh.task(fd.target)?.sure)) actor.sure = false;
        if (!exact && (flags.includes('newpid') || flags.length === 0)) actor.sure = false;
        if (flags.includes('newuser') || (fd.kind === 'ns' && fd.nsKind === 'user' && flags.length === 0)) actor.sure = false;
        if (nsTarget !== null && actor.caps && sh.nsAncestorOrSelf(actor.ns, nsTarget) && sh.capableIn(actor, sh.nsOf(nsTarget).user))
          actor.pfc = nsTarget;
        if (userTarget !== null && userTarget !== actor.user && sh.capableIn(actor, userTarget)) {
          actor.user = userTarget;
          actor.caps = true;
        }
        break;
      }
      case 'memfd': {
        const f = s.e % maxFds;
        ops.push({ op: 'memfd', t: actor.h, f });
        sh.fds.set(f, { kind: 'memfd', sure: true });
        break;
      }
      case 'samefile': {
        // the st_dev/st_ino relation of two fd handles (a closed slot: the driver's error, both sides)
        const open = [...sh.fds.keys()];
        ops.push({ op: 'samefile', f: pick(open, s.b) ?? s.b % maxFds, g: pick(open, s.c) ?? s.c % maxFds });
        break;
      }
      case 'close': {
        const f = pick([...sh.fds.keys()], s.b) ?? s.b % maxFds;
        ops.push({ op: 'close', f });
        sh.fds.delete(f);
        break;
      }
      case 'lastpid_write': {
        const vals = [0, 1, 2, 50, 99, 299, 300, 1000, PID_MAX_DEFAULT - 1, PID_MAX_DEFAULT, PID_MAX_DEFAULT + 1, pidMax - 2, pidMax - 1, pidMax, pidMax + 1, -1];
        const value = chance(s.b, 30) ? 2 + (s.c % 500) : vals[s.c % vals.length]!;
        ops.push({ op: 'lastpid_write', t: actor.h, value });
        break;
      }
      case 'sigaction': {
        // dispositions of the signals the kill steps send (and SIGKILL/SIGSTOP: EINVAL)
        const sigs = ['TERM', 'USR1', 'CHLD', 'HUP', 'INT', 'USR2', 'PIPE', 'CONT', 'TSTP', 'KILL', 'STOP'];
        const sig = sigs[s.b % sigs.length]!;
        const handler = (['catch', 'catch', 'ign', 'dfl'] as const)[s.c % 4]!;
        const flags: SaFlag[] = [];
        if (chance(s.d, 40)) flags.push('restart');
        if (sig === 'CHLD' && chance(s.d >> 7, 40)) flags.push('nocldstop');
        if (sig === 'CHLD' && chance(s.d >> 10, 25)) flags.push('nocldwait');
        ops.push({ op: 'sigaction', t: actor.h, sig, handler, ...(flags.length ? { flags } : {}) });
        if (sig !== 'KILL' && sig !== 'STOP') {
          if (handler === 'dfl') actor.soft.delete(sig);
          else actor.soft.add(sig);
        }
        break;
      }
      case 'sigmask': {
        const hows = ['block', 'unblock', 'setmask'] as const;
        const how = hows[s.b % 3]!;
        const pool = ['TERM', 'USR1', 'HUP', 'CHLD', 'INT', 'KILL'];
        const sigs = pool.filter((_, j) => ((s.c >> j) & 1) !== 0 && chance(s.d >> j, 50));
        ops.push({ op: 'sigmask', t: actor.h, how, sigs });
        // unblocking may deliver a fatal pending signal: the shadow can no longer be sure of it
        if (how !== 'block') actor.stat = 'unknown';
        else for (const x of sigs) actor.soft.add(x);
        break;
      }
      case 'idmap': {
        // after the driver's own writes at unshare these are mostly EPERM (one write per map);
        // a task whose uid stayed unmapped, or one that never unshared, takes other paths
        const which = s.b % 2 === 0 ? 'uid' : 'gid';
        const vals = [0, 1, 1000, 65534];
        ops.push({ op: 'idmap', t: actor.h, which, first: vals[s.c % 4]!, lower: vals[(s.c >> 2) % 4]!, count: [1, 1, 0, 10][(s.c >> 4) % 4]! });
        break;
      }
      case 'setgroups':
        ops.push({ op: 'setgroups', t: actor.h, allow: s.b % 2 === 0 });
        break;
      case 'pidfd_kill': {
        // pidfd_send_signal through an open fd handle (a pidfd, or a namespace fd: EBADF). Never at
        // the actor itself or at an init (a zap could take the actor with it).
        const e = pick([...sh.fds.entries()], s.b);
        if (e === undefined) break;
        const [f, fd] = e;
        const x = fd.kind === 'pidfd' ? sh.task(fd.target) : undefined;
        if (x !== undefined && (x === actor || sh.isInit(x))) break;
        const sigs = ['0', 'USR1', 'CONT', 'TERM', 'KILL', 'CHLD'] as const;
        const sig = sigs[s.c % sigs.length]!;
        ops.push({ op: 'pidfd_kill', t: actor.h, f, sig, ...(chance(s.d, 15) ? { scope: 'thread' as const } : {}) });
        if (x !== undefined && x.stat === 'alive' && (sig === 'KILL' || (sig === 'TERM' && !x.soft.has('TERM')))) sh.die(x);
        break;
      }
      case 'waitid': {
        // waitid(P_PIDFD, WNOHANG) through an open fd handle (a pidfd, or a namespace fd: EBADF);
        // now and then without exited/stopped/continued (EINVAL).
        const e = pick([...sh.fds.entries()], s.b);
        if (e === undefined) break;
        const [f, fd] = e;
        const options: WaitidOption[] = [];
        if (!chance(s.c, 10)) options.push('exited');
        if (chance(s.c >> 8, 30)) options.push('stopped');
        if (chance(s.c >> 16, 30)) options.push('continued');
        if (chance(s.d, 20)) options.push('nowait');
        ops.push({ op: 'waitid', t: actor.h, f, options });
        // shadow: the pidfd's zombie, if it is the actor's child, is reaped
        if (fd.kind === 'pidfd' && options.includes('exited') && !options.includes('nowait')) {
          const x = sh.task(fd.target);
          if (x && x.stat === 'zombie' && sh.eligible(actor, x.h, []).includes(x)) x.stat = 'reaped';
        }
        break;
      }
      case 'pidmax_write': {
        // /proc/sys/kernel/pid_max of the actor's active namespace (per namespace since 6.14):
        // the bounds 301..PID_MAX_LIMIT and values that fill a level (a level whose cursor is past
        // RESERVED_PIDS allocates only between 300 and its pid_max).
        const vals = [0, -1, 300, 301, 302, 310, 1000, PID_MAX_DEFAULT, pidMax - 1, pidMax, pidMax + 1];
        const value = chance(s.b, 25) ? 301 + (s.c % 2000) : vals[s.c % vals.length]!;
        ops.push({ op: 'pidmax_write', t: actor.h, value });
        break;
      }
      case 'nspid': {
        const { target } = chooseTarget(actor, s.c, s.d);
        ops.push({ op: 'nspid', t: actor.h, target });
        break;
      }
      case 'reboot': {
        const cmds: RebootCmd[] = ['restart', 'poweroff', 'halt', 'restart2', 'cad_on', 'cad_off'];
        const cmd = cmds[s.b % cmds.length]!;
        const kills = cmd !== 'cad_on' && cmd !== 'cad_off' && actor.caps;
        if (kills) {
          const n = sh.nsOf(actor.ns);
          if (n.id === 0 && !chance(s.c, 20)) break; // the whole tree: rarely
          if (sh.wouldHang(actor.ns) && !allowHang(s.e)) break;
        }
        ops.push({ op: 'reboot', t: actor.h, cmd });
        if (kills && sh.capableIn(actor, sh.nsOf(actor.ns).user)) {
          const init = sh.nsOf(actor.ns).init;
          sh.die(actor);
          const it = init === null ? undefined : sh.task(init);
          if (it) {
            it.stat = it.stat === 'zombie' ? 'alive' : it.stat; // let die() run the zap
            sh.die(it);
          }
        }
        break;
      }
    }
  }
  if (opts.finalState ?? true) ops.push({ op: 'state' });
  return ops;
}

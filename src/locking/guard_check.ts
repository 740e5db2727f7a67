/**
 * The guard checker of the checked build (`--check-guards`): lockdep_assert_held(),
 * rcu_dereference_check() and KASAN-style poison checks made on every access to a schema field,
 * plus a KCSAN-style watchpoint sampler (kernel/kcsan/core.c in spirit).
 *
 * The normal build never imports this module. src/tools/build_checked.ts copies dist/ into
 * dist-checked/ and rewrites every `mem[B + STRUCT.field + k]` (and `Atomics.op(mem, B + ...)`) in
 * the kernel into `mem[__guard_access(B, FIELD_ID, SITE) + STRUCT.field + k]`: the call checks the
 * access and returns B, so the access itself is unchanged. Field ids number the fields of
 * GUARDED_STRUCTS in order; site ids come from the transform's site table (dist-checked/guard_sites.json).
 *
 * A check reads only shared memory: the acting CPU's held-lock stack (lockdep's, CPU.held), the
 * mutexes current holds (TASK.held), CPU.rcu_nesting and CPU.curr. What a CPU records goes to the
 * violation log like any other violation, with a guard report (both stacks where KCSAN prints two)
 * in the guard region.
 */
import {
  CPU, FASYNC, FASYNC_SPEC, FILE, FILE_SPEC, G, GLOBAL_SPEC, GUARD, GUARD_FRESH, GUARD_REPORT, GUARD_REPORTS,
  GUARD_STACK_FRAMES, HELD_LOCK, HELD_WORDS, KCSAN_WATCHPOINTS, MX_CLASS, NSCOMMON, NSCOMMON_SPEC, NSPROXY, NSPROXY_SPEC, PID,
  PID_SPEC, PIDNS, PIDNS_SPEC, POISON_FREED, SIG, SIGNAL_SPEC, TASK, TASK_SPEC, TORTURE, TORTURE_SPEC, USERNS, USERNS_SPEC, WATCHPOINT,
  type StructSpec,
} from '../mm/layout.js';
import { guard_of, type Guard, type GuardReq } from '../mm/guard.js';
import { kg, mem, regions, SLAB_TASK, this_cpu, this_cpu_id } from '../mm/memory.js';
import { HELD_READ, HELD_READ_IRQ, LOCK_CLASS_NAMES } from './lockdep.js';
import { record_violation, V_GUARD_LOCK, V_GUARD_RCU, V_GUARD_USE_AFTER_FREE, V_KCSAN_RACE } from './violations.js';

/**
 * The records whose accesses the checked build rewrites, by the name of their offsets constant.
 * Per-CPU, lock-word and run-control records are the machine's own (their fields are own-CPU or
 * Atomics words) and stay unchecked.
 */
export const GUARDED_STRUCTS: readonly { ident: string; spec: StructSpec; offsets: Record<string, number> }[] = [
  { ident: 'TASK', spec: TASK_SPEC, offsets: TASK },
  { ident: 'PID', spec: PID_SPEC, offsets: PID },
  { ident: 'PIDNS', spec: PIDNS_SPEC, offsets: PIDNS },
  { ident: 'USERNS', spec: USERNS_SPEC, offsets: USERNS },
  { ident: 'NSPROXY', spec: NSPROXY_SPEC, offsets: NSPROXY },
  { ident: 'NSCOMMON', spec: NSCOMMON_SPEC, offsets: NSCOMMON },
  { ident: 'SIG', spec: SIGNAL_SPEC, offsets: SIG },
  { ident: 'FILE', spec: FILE_SPEC, offsets: FILE },
  { ident: 'FASYNC', spec: FASYNC_SPEC, offsets: FASYNC },
  { ident: 'G', spec: GLOBAL_SPEC, offsets: G },
  { ident: 'TORTURE', spec: TORTURE_SPEC, offsets: TORTURE },
];

/** Fields of a record the poison check skips: the poison word itself, the slab link, the rcu_head. */
const POISON_EXEMPT = new Set(['poison', 'free_next', 'rcu']);

export interface GuardField {
  readonly id: number;
  readonly ident: string;
  readonly struct: string;
  readonly name: string;
  readonly off: number;
  readonly guard: Guard;
  /** Offset of the record's poison word, -1 if it has none or the field is exempt. */
  readonly poison: number;
}

/** The field table: id -> field, in GUARDED_STRUCTS order (the transform uses the same ids). */
export const GUARD_FIELDS: readonly GuardField[] = (() => {
  const out: GuardField[] = [];
  for (const s of GUARDED_STRUCTS) {
    const hasPoison = 'poison' in s.offsets;
    for (const f of s.spec.fields) {
      out.push({
        id: out.length, ident: s.ident, struct: s.spec.name, name: f.name, off: s.offsets[f.name]!, guard: guard_of(f.guard),
        poison: hasPoison && !POISON_EXEMPT.has(f.name) ? s.offsets.poison! : -1,
      });
    }
  }
  return out;
})();

// ---- compiled requirements -------------------------------------------------------------------

const RQ_LOCK = 1;
const RQ_RCU = 2;
const RQ_CURRENT = 3;
const RQ_OWN_CPU = 4;
const RQ_ALL = 5;
const RQ_MARKED = 6;

interface Req {
  k: number;
  cls: number;
  exclusive: boolean;
  /** Lock address: base + self (self >= 0), or mem[base + ptr] + field (ptr >= 0); else any instance. */
  self: number;
  ptr: number;
  field: number;
  of: Req[];
}

function offsets_of(struct: string): Record<string, number> {
  const s = GUARDED_STRUCTS.find((x) => x.spec.name === struct);
  if (!s) throw new Error(`guard: no record ${struct}`);
  return s.offsets;
}

function compile(r: GuardReq, own: Record<string, number>): Req {
  const q: Req = { k: 0, cls: 0, exclusive: false, self: -1, ptr: -1, field: -1, of: [] };
  switch (r.k) {
    case 'lock': {
      q.k = RQ_LOCK;
      q.cls = LOCK_CLASS_NAMES.indexOf(r.cls);
      if (q.cls <= 0) throw new Error(`guard: unknown lock class ${r.cls}`);
      q.exclusive = r.mode === 'write';
      if (r.at?.self) q.self = own[r.at.self]!;
      else if (r.at?.ptr) {
        q.ptr = own[r.at.ptr]!;
        q.field = offsets_of(r.at.struct!)[r.at.field!]!;
      }
      return q;
    }
    case 'rcu': q.k = RQ_RCU; return q;
    case 'current': q.k = RQ_CURRENT; return q;
    case 'own_cpu': q.k = RQ_OWN_CPU; return q;
    case 'marked': q.k = RQ_MARKED; return q;
    case 'all': q.k = RQ_ALL; q.of = r.of.map((x) => compile(x, own)); return q;
  }
}

const READ_REQS: (Req[] | null)[] = [];
const WRITE_REQS: (Req[] | null)[] = [];
/** Guard kind per field id (for the sampler: atomic words and lock words are racy by design). */
const RACY_OK: boolean[] = [];
/** Field offset per id and poison offset per id (-1: none). */
const OFF: number[] = [];
const POISON: number[] = [];
/** Offset of the record's reference count (task usage, other records' count), -1 if none. */
const REFS: number[] = [];
for (const f of GUARD_FIELDS) {
  const own = GUARDED_STRUCTS.find((s) => s.ident === f.ident)!.offsets;
  REFS.push('usage' in own ? own.usage! : 'count' in own ? own.count! : -1);
  READ_REQS.push(f.guard.read ? f.guard.read.map((r) => compile(r, own)) : null);
  WRITE_REQS.push(f.guard.write ? f.guard.write.map((r) => compile(r, own)) : null);
  RACY_OK.push(f.guard.kind === 'atomic' || f.guard.kind === 'lock_word');
  OFF.push(f.off);
  POISON.push(f.poison);
}

/** Is a lock of class `cls` (at `addr`, or any instance when addr is 0) held by this CPU or current? */
function lock_held(cls: number, exclusive: boolean, addr: number): boolean {
  const c = this_cpu;
  const d = mem[c + CPU.held_depth]!;
  for (let i = 0; i < d; i++) {
    const e = c + CPU.held + i * HELD_WORDS;
    const w = mem[e + HELD_LOCK.mode_class]!;
    if (((w >>> 8) & 0xff) !== cls) continue;
    if (addr !== 0 && mem[e + HELD_LOCK.lock] !== addr) continue;
    const mode = w & 0xff;
    if (exclusive && (mode === HELD_READ || mode === HELD_READ_IRQ)) continue;
    return true;
  }
  // Sleeping locks are held by the task (mutexes, in TASK.held).
  const t = mem[c + CPU.curr]!;
  if (t === 0) return false;
  const n = mem[t + TASK.held_depth]!;
  for (let i = 0; i < n; i++) {
    const m = mem[t + TASK.held + i]!;
    if (m !== 0 && mem[m + MX_CLASS] === cls && (addr === 0 || m === addr)) return true;
  }
  return false;
}

function req_ok(q: Req, base: number, site: number): boolean {
  switch (q.k) {
    case RQ_LOCK: {
      let addr = 0;
      if (q.self >= 0) addr = base + q.self;
      else if (q.ptr >= 0) {
        const p = mem[base + q.ptr]!;
        // No instance any more (__exit_signal cleared p->sighand): lock_task_sighand(p) fails, so
        // the releaser is the only one left to touch the fields it guarded (release_task's
        // lockless flush_sigqueue, fb3bbcfe344e).
        if (p === 0) return true;
        addr = p + q.field;
      }
      return lock_held(q.cls, q.exclusive, addr);
    }
    case RQ_RCU: return mem[this_cpu + CPU.rcu_nesting]! > 0;
    case RQ_CURRENT: {
      const t = mem[this_cpu + CPU.curr]!;
      return t !== 0 && (base === t || base === mem[t + TASK.signal]);
    }
    case RQ_OWN_CPU: return base === this_cpu;
    case RQ_MARKED: return (site & SITE_MARKED) !== 0;
    case RQ_ALL: {
      for (const x of q.of) if (!req_ok(x, base, site)) return false;
      return true;
    }
  }
  return false;
}

function any_ok(rs: Req[], base: number, site: number): boolean {
  for (const q of rs) if (req_ok(q, base, site)) return true;
  return false;
}

// ---- init before publication ----------------------------------------------------------------

/** The fresh list of the task in slot `t` (one per task slot of the guard region). */
function fresh_list(t: number): number {
  const tr = regions.objects[SLAB_TASK]!;
  const slot = ((t - tr.base) / tr.stride) | 0;
  return regions.guard + GUARD.SIZE + KCSAN_WATCHPOINTS * WATCHPOINT.SIZE + GUARD_REPORTS * GUARD_REPORT.SIZE + slot * GUARD_FRESH;
}

/**
 * kmem_cache_alloc in the checked build: the new object is current's until its system call
 * returns (it is being initialised before publication; the kernel needs no lock for that either).
 */
export function __guard_alloc(p: number): number {
  if (p === 0 || this_cpu === 0) return p;
  const tr = regions.objects[SLAB_TASK]!; // a new task starts with an empty list
  if (p >= tr.base && p < tr.base + tr.words) mem.fill(0, fresh_list(p), fresh_list(p) + GUARD_FRESH);
  const t = mem[this_cpu + CPU.curr]!;
  if (t === 0) return p;
  const l = fresh_list(t);
  for (let i = 0; i < GUARD_FRESH; i++) {
    if (mem[l + i] === 0) {
      mem[l + i] = p;
      return p;
    }
  }
  const newest = GUARD_FRESH - 1;
  mem[l + newest] = p; // full: the newest object wins (the oldest are published by now)
  return p;
}

/** A system call of `t` returned: what it allocated is published (or freed) by now. */
export function __guard_syscall_end(t: number): void {
  mem.fill(0, fresh_list(t), fresh_list(t) + GUARD_FRESH);
}

function is_fresh(base: number, fid: number): boolean {
  const t = mem[this_cpu + CPU.curr]!;
  if (t === 0) return true; // no task: boot, idle loop, RCU callbacks of freed objects
  // The last reference was dropped: its holder tears the record down alone (free_task).
  const refs = REFS[fid]!;
  if (refs >= 0 && Atomics.load(mem, base + refs) === 0) return true;
  if (base === t) return false;
  const l = fresh_list(t);
  for (let i = 0; i < GUARD_FRESH; i++) if (mem[l + i] === base) return true;
  // A fresh task's signal_struct is its own too.
  const tasks = regions.objects[SLAB_TASK]!;
  for (let i = 0; i < GUARD_FRESH; i++) {
    const o = mem[l + i]!;
    if (o !== 0 && o >= tasks.base && o < tasks.base + tasks.words && mem[o + TASK.signal] === base) return true;
  }
  return false;
}

// ---- the access check --------------------------------------------------------------------------

/** Sites: id * 4 + SITE_WRITE + SITE_MARKED (Atomics). */
export const SITE_WRITE = 1;
export const SITE_MARKED = 2;

let sample_countdown = 0;

/** Most loads of racer_site a watcher makes for a racer that claimed its watchpoint (a few stores away). */
const KCSAN_CLAIM_SPINS = 1 << 20;

/**
 * The checked build's accessor: check an access of field `fid` of the record at `base` from
 * `site`, then return `base` (the caller completes the access). Never throws.
 */
export function __guard_access(base: number, fid: number, site: number): number {
  const c = this_cpu;
  if (c === 0 || base === 0) return base;
  const poison = POISON[fid]!;
  if (poison >= 0 && mem[base + poison] === POISON_FREED) guard_report(V_GUARD_USE_AFTER_FREE, base, fid, site);
  const rs = (site & SITE_WRITE) !== 0 ? WRITE_REQS[fid]! : READ_REQS[fid]!;
  if (rs !== null && !any_ok(rs, base, site) && !is_fresh(base, fid)) {
    const rcuField = READ_REQS[fid]?.some((q) => q.k === RQ_RCU) === true;
    guard_report((site & SITE_WRITE) === 0 && rcuField ? V_GUARD_RCU : V_GUARD_LOCK, base, fid, site);
  }
  // KCSAN: another CPU's watchpoint on this word?
  const g = regions.guard;
  if (mem[g + GUARD.nwatch] !== 0) kcsan_check(base + OFF[fid]!, fid, site);
  else if (--sample_countdown <= 0 && (site & SITE_MARKED) === 0 && !RACY_OK[fid]) kcsan_sample(base + OFF[fid]!, fid, site);
  return base;
}

// ---- reports ----------------------------------------------------------------------------------

/** Function ids of the checked build's site table, loaded on the first report (worker-local). */
let fn_ids: Map<string, number> | null = null;
export function set_guard_fn_table(names: readonly string[]): void {
  fn_ids = new Map(names.map((n, i) => [n, i + 1]));
}

/** Record the calling stack as function ids (innermost first), GUARD_STACK_FRAMES of them. */
function save_stack(at: number): void {
  mem.fill(0, at, at + GUARD_STACK_FRAMES);
  if (!fn_ids) return;
  const frames = (new Error().stack ?? '').split('\n');
  let n = 0;
  for (const line of frames) {
    const m = /^\s*at (?:Object\.)?([\w$]+)/.exec(line);
    if (!m) continue;
    const name = m[1]!;
    if (name.startsWith('__guard') || name === 'guard_report' || name === 'save_stack' || name.startsWith('kcsan_')) continue;
    const id = fn_ids.get(name);
    if (id === undefined) continue;
    mem[at + n++] = id;
    if (n === GUARD_STACK_FRAMES) break;
  }
}

function new_report(kind: number, base: number, fid: number, site: number): number {
  const g = regions.guard;
  const i = Atomics.add(mem, g + GUARD.reports, 1);
  if (i >= GUARD_REPORTS) return -1;
  const r = g + GUARD.SIZE + KCSAN_WATCHPOINTS * WATCHPOINT.SIZE + i * GUARD_REPORT.SIZE;
  mem[r + GUARD_REPORT.kind] = kind;
  mem[r + GUARD_REPORT.site] = site;
  mem[r + GUARD_REPORT.field] = fid;
  mem[r + GUARD_REPORT.obj] = base;
  mem[r + GUARD_REPORT.held] = mem[this_cpu + CPU.held_depth]!;
  return i;
}

function guard_report(kind: number, base: number, fid: number, site: number): void {
  const i = new_report(kind, base, fid, site);
  if (i >= 0) save_stack(report_addr(i) + GUARD_REPORT.stack);
  record_violation(kind, base, site, i + 1);
}

export function report_addr(i: number): number {
  return regions.guard + GUARD.SIZE + KCSAN_WATCHPOINTS * WATCHPOINT.SIZE + i * GUARD_REPORT.SIZE;
}

// ---- KCSAN-style watchpoints ------------------------------------------------------------------

function watchpoint(i: number): number {
  return regions.guard + GUARD.SIZE + i * WATCHPOINT.SIZE;
}

const plain_read = (site: number): boolean => (site & (SITE_WRITE | SITE_MARKED)) === 0;

/**
 * Do two accesses of one word from two CPUs race? KCSAN's default rules
 * (CONFIG_KCSAN_ASSUME_PLAIN_WRITES_ATOMIC=y): aligned word writes, plain or marked, are atomic,
 * so only a plain read against a write is a data race; two reads never are.
 */
function kcsan_conflict(a: number, b: number): boolean {
  return (plain_read(a) && (b & SITE_WRITE) !== 0) || (plain_read(b) && (a & SITE_WRITE) !== 0);
}

/** An access while watchpoints are out: a conflicting one from another CPU is a race. */
function kcsan_check(addr: number, fid: number, site: number): void {
  if (RACY_OK[fid]) return;
  for (let i = 0; i < KCSAN_WATCHPOINTS; i++) {
    const w = watchpoint(i);
    if (mem[w + WATCHPOINT.addr] !== addr || mem[w + WATCHPOINT.cpu] === this_cpu_id + 1) continue;
    if (!kcsan_conflict(site, mem[w + WATCHPOINT.site]!)) continue;
    // Claim the watchpoint by its address word (addr -> -addr): only while it still watches this
    // word. Between the plain test above and here the watcher may have ended and another CPU
    // published a new watch in the slot; writing the racer fields then filled someone else's
    // report (seen, session 10: "exit_files / set_last_pid_vec", a file's owner word reported as
    // raced by a pid namespace's idr_next store). One racer claims; the watcher waits for its site.
    if (Atomics.compareExchange(mem, w + WATCHPOINT.addr, addr, -addr) !== addr) continue;
    mem[w + WATCHPOINT.racer_cpu] = this_cpu_id;
    mem[w + WATCHPOINT.racer_task] = mem[this_cpu + CPU.curr]!;
    save_stack(w + WATCHPOINT.racer_stack);
    // Pairs with the watcher's Atomics.load of racer_site: it reads the racer fields after it.
    Atomics.store(mem, w + WATCHPOINT.racer_site, site);
  }
}

/**
 * Sample this access (free-running mode, every GUARD.sample_every accesses of a CPU): publish a
 * watchpoint, keep it for GUARD.delay_us (the widened window), then report a racer or a value
 * that changed under a plain read.
 */
function kcsan_sample(addr: number, fid: number, site: number): void {
  const g = regions.guard;
  const every = mem[g + GUARD.sample_every]!;
  if (every === 0) {
    sample_countdown = 1 << 30;
    return;
  }
  sample_countdown = every;
  if (mem[kg + G.mode] !== 0 || mem[kg + G.ncpus]! < 2) return; // MODE_FREE with other CPUs only
  let w = 0;
  for (let i = 0; i < KCSAN_WATCHPOINTS; i++) {
    const x = watchpoint(i);
    if (mem[x + WATCHPOINT.addr] === 0 && mem[x + WATCHPOINT.cpu] === 0 && Atomics.compareExchange(mem, x + WATCHPOINT.cpu, 0, -1) === 0) {
      w = x;
      break;
    }
  }
  if (w === 0) return;
  mem[w + WATCHPOINT.site] = site;
  mem[w + WATCHPOINT.task] = mem[this_cpu + CPU.curr]!;
  mem[w + WATCHPOINT.racer_site] = 0;
  save_stack(w + WATCHPOINT.stack);
  mem[w + WATCHPOINT.cpu] = this_cpu_id + 1;
  const before = mem[addr]!;
  Atomics.store(mem, w + WATCHPOINT.addr, addr); // publish last: racers read the fields above
  Atomics.add(mem, g + GUARD.nwatch, 1);
  Atomics.add(mem, g + GUARD.samples, 1);
  // The widened window, busy-waited as KCSAN's udelay (a sleep would last a host timer tick on a
  // loaded machine); a racer that consumes the watchpoint ends it early.
  const until = performance.now() + mem[g + GUARD.delay_us]! / 1000;
  while (Atomics.load(mem, w + WATCHPOINT.addr) === addr && performance.now() < until) { /* udelay */ }
  // Unpublish; a racer that claimed the watchpoint (kcsan_check's CAS to -addr) stores its site
  // after its other fields: wait for it, bounded (it has nothing left to wait for itself).
  const claimed = Atomics.exchange(mem, w + WATCHPOINT.addr, 0) !== addr;
  Atomics.sub(mem, g + GUARD.nwatch, 1);
  let racer = Atomics.load(mem, w + WATCHPOINT.racer_site);
  for (let spins = 0; claimed && racer === 0 && spins < KCSAN_CLAIM_SPINS; spins++) racer = Atomics.load(mem, w + WATCHPOINT.racer_site);
  // A plain read whose word changed in the window raced a write (the access has not happened yet:
  // the check runs first). Racers record themselves only when they conflict.
  const changed = plain_read(site) && mem[addr] !== before;
  if (racer !== 0 || changed) {
    Atomics.add(mem, g + GUARD.races, 1);
    const i = new_report(V_KCSAN_RACE, addr - OFF[fid]!, fid, site);
    if (i >= 0) {
      const r = report_addr(i);
      mem.copyWithin(r + GUARD_REPORT.stack, w + WATCHPOINT.stack, w + WATCHPOINT.stack + GUARD_STACK_FRAMES);
      mem[r + GUARD_REPORT.other_site] = racer;
      mem[r + GUARD_REPORT.other_cpu] = racer !== 0 ? mem[w + WATCHPOINT.racer_cpu]! : -1;
      mem[r + GUARD_REPORT.other_task] = racer !== 0 ? mem[w + WATCHPOINT.racer_task]! : 0;
      mem.copyWithin(r + GUARD_REPORT.other_stack, w + WATCHPOINT.racer_stack, w + WATCHPOINT.racer_stack + GUARD_STACK_FRAMES);
    }
    record_violation(V_KCSAN_RACE, addr - OFF[fid]!, site, i + 1);
  }
  Atomics.store(mem, w + WATCHPOINT.cpu, 0); // the slot is free again
}

/**
 * rcu_dereference_check in the checked build, around its first argument (returned unchanged): the
 * caller must be an RCU reader, or hold tasklist_lock or pidmap_lock (the locks that keep a struct
 * pid and its task linked), or the object must be current's own struct pid (task_pid(current)
 * needs no RCU).
 */
export function __guard_rcu_dereference(obj: number, site: number): number {
  if (this_cpu === 0 || obj === 0) return obj;
  const t = mem[this_cpu + CPU.curr]!;
  if (t === 0 || mem[this_cpu + CPU.rcu_nesting]! > 0) return obj;
  if (obj === mem[t + TASK.pid] || obj === mem[t + TASK.tgid_pid]) return obj;
  // The update-side locks that make the read side unnecessary for the pid lookups.
  if (lock_held(LOCK_CLASS_NAMES.indexOf('tasklist_lock'), false, 0) || lock_held(LOCK_CLASS_NAMES.indexOf('pidmap_lock'), false, 0)) return obj;
  const i = new_report(V_GUARD_RCU, obj, -1, site);
  if (i >= 0) save_stack(report_addr(i) + GUARD_REPORT.stack);
  record_violation(V_GUARD_RCU, obj, site, i + 1);
  return obj;
}

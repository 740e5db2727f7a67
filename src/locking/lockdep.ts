/**
 * Lock classes, per-CPU held-lock stacks and the lock-order validator (kernel/locking/lockdep.c).
 *
 * Every lock word carries a class id. On each acquisition the CPU pushes (lock, mode, site) on its
 * held-lock stack in shared memory, so detection on any thread reads what every CPU holds. With
 * lockdep on, each acquisition also records the order edges held-class -> new-class in a shared
 * class-by-class matrix and looks for the reverse path: a possible circular dependency is then
 * reported even though this run did not hang.
 */
import { CPU, G, HELD_LOCK, HELD_WORDS, MAX_LOCK_CLASSES, MAX_LOCK_DEPTH, MAX_TASK_HELD, MX_CLASS, TASK } from '../mm/layout.js';
import { kg, mem, regions, this_cpu, this_cpu_id } from '../mm/memory.js';
import {
  record_violation, V_LOCKDEP_CYCLE, V_LOCKDEP_DEPTH, V_LOCKDEP_IRQ_INVERSION, V_RECURSIVE_LOCK, V_SLEEP_IN_ATOMIC,
} from './violations.js';
import { BUG_QRWLOCK_IRQ_FAIR } from '../config/bugs.js';
import { lockdep_enabled } from './lock_flags.js';
import { tracing, trace_event_noclock, TR_LOCK_ACQUIRED, TR_LOCK_RELEASED } from '../tracing/trace.js';

/** Held-lock modes (what lockdep calls read/write acquisitions). */
export const HELD_SPIN = 1;
export const HELD_READ = 2;
export const HELD_WRITE = 3;
/** A reader that took the lock in interrupt context (qrwlock ignores a waiting writer for it). */
export const HELD_READ_IRQ = 4;
export const HELD_MUTEX = 5;

/** Lock classes of the model; ids are what lock words carry in their class field. */
export const LOCK_CLASS_NAMES: string[] = [
  '(none)',
  'tasklist_lock',
  'pidmap_lock',
  '&sighand->siglock',
  '&rq->__lock',
  '&p->alloc_lock',
  'pid_caches_mutex',
  'ucounts_lock',
  '&cachep->list_lock',
  '&wq_head->lock',
  '&lock->wait_lock',
  'rcu_exit_list_lock',
  'userns_state_mutex',
];
export const LC_TASKLIST = 1;
export const LC_PIDMAP = 2;
export const LC_SIGLOCK = 3;
export const LC_RQ = 4;
export const LC_TASK_LOCK = 5;
export const LC_PID_CACHES_MUTEX = 6;
export const LC_UCOUNTS = 7;
export const LC_SLAB = 8;
export const LC_WAITQ = 9;
export const LC_MUTEX_WAIT = 10;
export const LC_RCU_EXIT_LIST = 11;
export const LC_USERNS_STATE_MUTEX = 12;

/** Classes registered by tests and scenarios ("lock_a", "lock_b", the torture locks ...). */
export function lock_class_register(name: string): number {
  const have = LOCK_CLASS_NAMES.indexOf(name);
  if (have > 0) return have;
  if (LOCK_CLASS_NAMES.length >= MAX_LOCK_CLASSES) throw new RangeError(`too many lock classes (max ${MAX_LOCK_CLASSES})`);
  LOCK_CLASS_NAMES.push(name);
  return LOCK_CLASS_NAMES.length - 1;
}

export function lock_class_name(c: number): string {
  return LOCK_CLASS_NAMES[c] ?? `class#${c}`;
}

/** Push a held lock: called by every lock primitive after it acquired the lock. */
export function lock_acquired(lock: number, cls: number, mode: number, site: number): void {
  if (tracing) trace_event_noclock(TR_LOCK_ACQUIRED, mode | (cls << 8), lock, 0);
  const c = this_cpu;
  const d = mem[c + CPU.held_depth]!;
  if (d >= MAX_LOCK_DEPTH) {
    record_violation(V_LOCKDEP_DEPTH, lock, d, 0);
    return;
  }
  if (lockdep_enabled(mem)) lockdep_check_order(cls, mode, site);
  const e = c + CPU.held + d * HELD_WORDS;
  mem[e + HELD_LOCK.lock] = lock;
  mem[e + HELD_LOCK.mode_class] = mode | (cls << 8);
  mem[e + HELD_LOCK.site] = site;
  mem[c + CPU.held_depth] = d + 1;
}

/** Pop a held lock (it need not be the innermost: unlock order is free, as in the kernel). */
export function lock_released(lock: number): void {
  if (tracing) trace_event_noclock(TR_LOCK_RELEASED, 0, lock, 0);
  const c = this_cpu;
  const d = mem[c + CPU.held_depth]!;
  // Fast path: the innermost lock goes first (the usual nesting order).
  if (d > 0 && mem[c + CPU.held + (d - 1) * HELD_WORDS + HELD_LOCK.lock] === lock) {
    mem[c + CPU.held_depth] = d - 1;
    return;
  }
  for (let i = d - 2; i >= 0; i--) {
    const e = c + CPU.held + i * HELD_WORDS;
    if (mem[e + HELD_LOCK.lock] === lock) {
      // Close the gap: move the entries above it down by one.
      const from = c + CPU.held + (i + 1) * HELD_WORDS;
      mem.copyWithin(e, from, c + CPU.held + d * HELD_WORDS);
      mem[c + CPU.held_depth] = d - 1;
      return;
    }
  }
}

/** A held-lock entry's mode word packs the HELD_* mode (bits 0-7) and the class (bits 8-15). */
export const held_mode = (w: number): number => w & 0xff;
export const held_class = (w: number): number => (w >>> 8) & 0xff;

/**
 * The order matrix: matrix[a * MAX + b] describes "b acquired while a held".
 * Bit 0: the edge was seen. Bits 1-4: its dependency types, as lockdep-design.rst names them:
 * -(EN)-> (a held exclusively: spinlock, writer or mutex; b taken non-recursively), -(ER)->,
 * -(SN)-> (a held as a reader), -(SR)-> (b taken as a recursive reader). Bits 8-15: the site of
 * the first acquisition that created the edge, bits 16-21: its CPU (for the report).
 * Column 0 of row c: bit 0 = class c was taken with interrupts enabled.
 */
const EDGE_SEEN = 1;
const DEP_EN = 2;
const DEP_ER = 4;
const DEP_SN = 8;
const DEP_SR = 16;

/**
 * Is an acquisition a recursive read? With queued rwlocks only a reader in interrupt context is
 * (read_lock_is_recursive(): it ignores a waiting writer); the catalogued BUG_QRWLOCK_IRQ_FAIR
 * takes that rule away, and with it the recursion.
 */
function acq_recursive(mode: number): boolean {
  return mode === HELD_READ_IRQ && (mem[kg + G.bug_switches]! & BUG_QRWLOCK_IRQ_FAIR) === 0;
}
const held_shared = (mode: number): boolean => mode === HELD_READ || mode === HELD_READ_IRQ;

function dep_type(heldMode: number, newMode: number): number {
  const s = held_shared(heldMode);
  const r = acq_recursive(newMode);
  return s ? (r ? DEP_SR : DEP_SN) : (r ? DEP_ER : DEP_EN);
}

/** The sleeping locks current holds are "held" too (mutexes live in TASK.held, not on the CPU). */
function task_held_mutexes(): number {
  const t = mem[this_cpu + CPU.curr]!;
  if (!t) return 0;
  return t;
}

/**
 * Check a new acquisition of class `newCls` against everything held: record the order edges and
 * report a strong cycle (a possible deadlock), or recursive locking of a class already held.
 */
function lockdep_check_order(newCls: number, mode: number, site: number): void {
  const c = this_cpu;
  const d = mem[c + CPU.held_depth]!;
  for (let i = 0; i < d; i++) {
    const e = c + CPU.held + i * HELD_WORDS;
    lockdep_add_edge(held_class(mem[e + HELD_LOCK.mode_class]!), held_mode(mem[e + HELD_LOCK.mode_class]!), newCls, mode, site);
  }
  const t = task_held_mutexes();
  if (t) {
    const n = Math.min(mem[t + TASK.held_depth]!, MAX_TASK_HELD);
    for (let i = 0; i < n; i++) {
      const mx = mem[t + TASK.held + i]!;
      if (mx) lockdep_add_edge(mem[mx + MX_CLASS]!, HELD_MUTEX, newCls, mode, site);
    }
  }
  // An irq-context acquisition of a lock also taken with irqs on in process context can deadlock
  // against itself on one CPU; the qrwlock reader exemption makes read_lock in irq safe.
  const base = regions.lockdep.base;
  if (mem[c + CPU.in_irq]! > 0 && mode !== HELD_READ_IRQ && mode !== HELD_READ) {
    const key = base + newCls * MAX_LOCK_CLASSES + 0; // column 0: "taken with irqs enabled"
    if ((mem[key]! & EDGE_SEEN) !== 0) record_violation(V_LOCKDEP_IRQ_INVERSION, newCls, 0, 0);
  } else if (mem[c + CPU.irqs_off]! === 0 && mem[c + CPU.in_irq]! === 0 && mode !== HELD_MUTEX) {
    const key = base + newCls * MAX_LOCK_CLASSES + 0;
    // An atomic OR, not a plain store: other CPUs OR other bits into the same word (no lost
    // update). The plain peek before it only skips the RMW; a stale 0 just ORs again.
    if ((mem[key]! & EDGE_SEEN) === 0) Atomics.or(mem, key, EDGE_SEEN);
  }
}

function lockdep_add_edge(heldCls: number, heldMode: number, newCls: number, mode: number, site: number): void {
  if (heldCls === 0 || newCls === 0) return;
  if (heldCls === newCls) {
    // check_deadlock(): the same class again is a self-deadlock unless both are reads and the
    // new one is a recursive read.
    if (!(held_shared(heldMode) && acq_recursive(mode))) {
      record_violation(V_RECURSIVE_LOCK, heldCls | (heldMode << 8), newCls | (mode << 8) | ((site & 0xffff) << 16), -1);
    }
    return;
  }
  const idx = regions.lockdep.base + heldCls * MAX_LOCK_CLASSES + newCls;
  const type = dep_type(heldMode, mode);
  const old = mem[idx]!;
  if ((old & EDGE_SEEN) !== 0 && (old & type) !== 0) return; // known dependency: nothing new
  const info = (old & EDGE_SEEN) !== 0 ? 0 : ((site & 0xff) << 8) | ((this_cpu_id & 0x3f) << 16);
  // Publish the edge before searching for the reverse path (the plain reads of find_strong_path).
  // Two CPUs adding A->B and B->A at once each OR first, then search: sequentially consistent
  // ORs give them a total order, so the later one's search sees the earlier one's edge and at
  // least one of them reports the cycle (store-buffering pattern: both cannot miss). Strictly the
  // JS memory model promises that only to Atomics.load; the search reads plainly, so a miss is
  // possible in principle and is caught at the next acquisition of either order.
  Atomics.or(mem, idx, EDGE_SEEN | type | info);
  // New dependency heldCls -(type)-> newCls: a strong path newCls ->* heldCls closes a cycle.
  const path = find_strong_path(newCls, heldCls, type);
  if (path) {
    const cycle = [heldCls, ...path.slice(0, -1)];
    record_violation(V_LOCKDEP_CYCLE, heldCls | (heldMode << 8), newCls | (mode << 8) | ((site & 0xffff) << 16), encode_path(cycle));
  }
}

const ends_r = (t: number): boolean => (t & (DEP_ER | DEP_SR)) !== 0;
const starts_s = (t: number): boolean => (t & (DEP_SN | DEP_SR)) !== 0;

/**
 * A strong dependency path from -> to (lockdep-design.rst: no -(*R)-> followed by -(S*)->), that
 * closes a strong cycle with the first edge `to -(first)-> from`. Breadth-first over
 * (class, arrived through an -(*R)-> edge). Returns [from, ..., to] or null.
 */
function find_strong_path(from: number, to: number, first: number): number[] | null {
  const base = regions.lockdep.base;
  const N = MAX_LOCK_CLASSES;
  const prev = new Int32Array(2 * N).fill(-1);
  const start = from * 2 + (ends_r(first) ? 1 : 0);
  prev[start] = start;
  const q = [start];
  for (let qi = 0; qi < q.length; qi++) {
    const st = q[qi]!;
    const a = st >> 1;
    const arrivedR = (st & 1) === 1;
    if (a === to) {
      // Closing: the last edge must not be -(*R)-> when the first edge starts shared.
      if (!(arrivedR && starts_s(first))) {
        const p: number[] = [];
        for (let x = st; ; x = prev[x]!) { p.push(x >> 1); if (x === start) break; }
        return p.reverse();
      }
      continue;
    }
    for (let b = 1; b < N; b++) {
      const v = mem[base + a * N + b]!;
      if ((v & EDGE_SEEN) === 0) continue;
      for (const t of [DEP_EN, DEP_SN, DEP_ER, DEP_SR]) {
        if ((v & t) === 0) continue;
        if (arrivedR && starts_s(t)) continue;
        const ns = b * 2 + (ends_r(t) ? 1 : 0);
        if (prev[ns] === -1) { prev[ns] = st; q.push(ns); }
      }
    }
  }
  return null;
}

/** Pack up to 4 class ids (8 bits each) for the violation log. */
function encode_path(p: number[]): number {
  let v = 0;
  for (let i = 0; i < Math.min(4, p.length); i++) v |= (p[i]! & 0xff) << (8 * i);
  return v;
}

export function decode_path(v: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 4; i++) {
    const c = (v >>> (8 * i)) & 0xff;
    if (c) out.push(c);
  }
  return out;
}

/**
 * might_sleep() (kernel/sched/core.c __might_sleep): a function that may sleep was called with a
 * spinlock held, interrupts off, or inside an RCU read-side section: "BUG: sleeping function
 * called from invalid context". Always on, like CONFIG_DEBUG_ATOMIC_SLEEP.
 */
export function might_sleep(): void {
  const c = this_cpu;
  if (mem[c + CPU.preempt_count]! !== 0 || mem[c + CPU.rcu_nesting]! !== 0 || mem[c + CPU.irqs_off]! !== 0 || mem[c + CPU.in_irq]! !== 0) {
    record_violation(V_SLEEP_IN_ATOMIC, mem[c + CPU.preempt_count]!, mem[c + CPU.rcu_nesting]!, mem[c + CPU.curr]!);
  }
}

/**
 * lock_acquire() before the lock is taken: order a mutex (or a contended spin/rw lock about to be
 * waited for) after everything current holds, so an inversion is reported even when this very
 * acquisition is the one that deadlocks (lockdep on only; known edges cost one load each).
 */
export function lock_acquire_check(cls: number, mode: number, site: number): void {
  if (mem[kg + G.lockdep_on] !== 0) lockdep_check_order(cls, mode, site);
}

/** mutex_lock's lock_acquire (before it may sleep). */
export function lock_acquired_mutex(_m: number, cls: number, site: number): void {
  lock_acquire_check(cls, HELD_MUTEX, site);
}

/** Edge details for a report: dependency types, first site and CPU. */
export function lockdep_edge_info(m: Int32Array, base: number, a: number, b: number): { types: string[]; site: number; cpu: number } | null {
  const v = m[base + a * MAX_LOCK_CLASSES + b]!;
  if ((v & EDGE_SEEN) === 0) return null;
  const types: string[] = [];
  if (v & DEP_EN) types.push('EN');
  if (v & DEP_ER) types.push('ER');
  if (v & DEP_SN) types.push('SN');
  if (v & DEP_SR) types.push('SR');
  return { types, site: (v >>> 8) & 0xff, cpu: (v >>> 16) & 0x3f };
}

/** Read the order graph (for reports): list of [from, to, involves-readers-only]. */
export function lockdep_edges(m: Int32Array = mem, base = regions.lockdep.base): Array<[number, number, boolean]> {
  const out: Array<[number, number, boolean]> = [];
  for (let a = 1; a < MAX_LOCK_CLASSES; a++) {
    for (let b = 1; b < MAX_LOCK_CLASSES; b++) {
      const v = m[base + a * MAX_LOCK_CLASSES + b]!;
      if (v & EDGE_SEEN) out.push([a, b, (v & (DEP_SN | DEP_SR | DEP_ER)) !== 0 && (v & DEP_EN) === 0]);
    }
  }
  return out;
}

/**
 * Lock classes, per-CPU held-lock stacks and the lock-order validator (kernel/locking/lockdep.c).
 *
 * Every lock word carries a class id. On each acquisition the CPU pushes (lock, mode, site) on its
 * held-lock stack in shared memory, so detection on any thread reads what every CPU holds. With
 * lockdep on, each acquisition also records the order edges held-class -> new-class in a shared
 * class-by-class matrix and looks for the reverse path: a possible circular dependency is then
 * reported even though this run did not hang.
 */
import { CPU, G, HELD_WORDS, MAX_LOCK_CLASSES, MAX_LOCK_DEPTH } from '../mm/layout.js';
import { kg, mem, regions, this_cpu } from '../mm/memory.js';
import { record_violation, V_LOCKDEP_CYCLE, V_LOCKDEP_DEPTH, V_LOCKDEP_IRQ_INVERSION } from './violations.js';

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

/**
 * Dependency kinds kept in the matrix: bit 0 = the edge was seen, bit 1 = the later lock was
 * taken as a reader, bit 2 = the earlier lock was held in interrupt context.
 */
const EDGE_SEEN = 1;
const EDGE_READ = 2;

/** Push a held lock: called by every lock primitive after it acquired the lock. */
export function lock_acquired(lock: number, cls: number, mode: number, site: number): void {
  const c = this_cpu;
  const d = mem[c + CPU.held_depth]!;
  if (d >= MAX_LOCK_DEPTH) {
    record_violation(V_LOCKDEP_DEPTH, lock, d, 0);
    return;
  }
  if (mem[kg + G.lockdep_on] !== 0) lockdep_check_order(cls, mode);
  const e = c + CPU.held + d * HELD_WORDS;
  mem[e] = lock;
  mem[e + 1] = mode | (cls << 8);
  mem[e + 2] = site;
  mem[c + CPU.held_depth] = d + 1;
}

/** Pop a held lock (it need not be the innermost: unlock order is free, as in the kernel). */
export function lock_released(lock: number): void {
  const c = this_cpu;
  const d = mem[c + CPU.held_depth]!;
  for (let i = d - 1; i >= 0; i--) {
    const e = c + CPU.held + i * HELD_WORDS;
    if (mem[e] === lock) {
      for (let j = i; j < d - 1; j++) {
        const a = c + CPU.held + j * HELD_WORDS;
        mem[a] = mem[a + HELD_WORDS]!;
        mem[a + 1] = mem[a + HELD_WORDS + 1]!;
        mem[a + 2] = mem[a + HELD_WORDS + 2]!;
      }
      mem[c + CPU.held_depth] = d - 1;
      return;
    }
  }
}

/** A held-lock entry's mode word packs the HELD_* mode (bits 0-7) and the class (bits 8-15). */
export const held_mode = (w: number): number => w & 0xff;
export const held_class = (w: number): number => (w >>> 8) & 0xff;

/** Order edges: matrix[a * MAX + b] holds EDGE_* bits for "b acquired while a held". */
function lockdep_check_order(newCls: number, mode: number): void {
  const c = this_cpu;
  const d = mem[c + CPU.held_depth]!;
  const base = regions.lockdep.base;
  for (let i = 0; i < d; i++) {
    const e = c + CPU.held + i * HELD_WORDS;
    const heldCls = held_class(mem[e + 1]!);
    if (heldCls === 0 || heldCls === newCls) continue;
    const idx = base + heldCls * MAX_LOCK_CLASSES + newCls;
    const bits = EDGE_SEEN | (mode === HELD_READ || mode === HELD_READ_IRQ ? EDGE_READ : 0);
    const old = Atomics.or(mem, idx, bits);
    if ((old & EDGE_SEEN) === 0) {
      // New edge heldCls -> newCls: a path newCls ->* heldCls closes a cycle.
      const path = find_path(newCls, heldCls);
      if (path) {
        // Recursive readers of a queued rwlock do not deadlock with each other: a cycle whose
        // every edge into the rwlock is a read acquisition is not reported (lockdep's rules).
        if (!cycle_is_read_only([heldCls, ...path])) {
          record_violation(V_LOCKDEP_CYCLE, heldCls, newCls, encode_path([heldCls, ...path]));
        }
      }
    }
  }
  // An irq-context acquisition of a lock also taken with irqs on in process context can deadlock
  // against itself on one CPU; the qrwlock reader exemption makes read_lock in irq safe.
  if (mem[c + CPU.in_irq]! > 0 && mode !== HELD_READ_IRQ && mode !== HELD_READ) {
    const key = base + newCls * MAX_LOCK_CLASSES + 0; // column 0: "taken with irqs enabled"
    if ((mem[key]! & EDGE_SEEN) !== 0) record_violation(V_LOCKDEP_IRQ_INVERSION, newCls, 0, 0);
  } else if (mem[c + CPU.irqs_off]! === 0 && mem[c + CPU.in_irq]! === 0) {
    const key = base + newCls * MAX_LOCK_CLASSES + 0;
    if ((mem[key]! & EDGE_SEEN) === 0) Atomics.or(mem, key, EDGE_SEEN);
  }
}

function find_path(from: number, to: number): number[] | null {
  // Breadth-first over classes; the matrix is small (MAX_LOCK_CLASSES^2).
  const base = regions.lockdep.base;
  const prev = new Int32Array(MAX_LOCK_CLASSES).fill(-1);
  const q = [from];
  prev[from] = from;
  while (q.length) {
    const a = q.shift()!;
    if (a === to) {
      const p: number[] = [];
      for (let x = to; x !== from; x = prev[x]!) p.push(x);
      p.push(from);
      return p.reverse();
    }
    for (let b = 1; b < MAX_LOCK_CLASSES; b++) {
      if (prev[b] === -1 && (mem[base + a * MAX_LOCK_CLASSES + b]! & EDGE_SEEN) !== 0) {
        prev[b] = a;
        q.push(b);
      }
    }
  }
  return null;
}

function cycle_is_read_only(cycle: number[]): boolean {
  const base = regions.lockdep.base;
  for (let i = 0; i < cycle.length; i++) {
    const a = cycle[i]!;
    const b = cycle[(i + 1) % cycle.length]!;
    if ((mem[base + a * MAX_LOCK_CLASSES + b]! & EDGE_READ) === 0) return false;
  }
  return true;
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

/** Read the order graph (for reports): list of [from, to, readOnly]. */
export function lockdep_edges(m: Int32Array = mem, base = regions.lockdep.base): Array<[number, number, boolean]> {
  const out: Array<[number, number, boolean]> = [];
  for (let a = 1; a < MAX_LOCK_CLASSES; a++) {
    for (let b = 1; b < MAX_LOCK_CLASSES; b++) {
      const v = m[base + a * MAX_LOCK_CLASSES + b]!;
      if (v & EDGE_SEEN) out.push([a, b, (v & EDGE_READ) !== 0]);
    }
  }
  return out;
}

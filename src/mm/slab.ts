/**
 * Slab-like object caches (mm/slab.c): each object type has a cache whose free list is threaded
 * through the objects' free_next field, under the cache's list lock, and each CPU keeps a short
 * list of its own (`cpu.slab_cpu`, mm/slab.c's per-CPU head array, struct array_cache).
 * Exhaustion returns 0 (the caller turns it into -ENOMEM, or -EAGAIN for pids where the kernel
 * says so), never a crash.
 *
 * The fast path, as ____cache_alloc and __cache_free: an allocation takes the object this CPU
 * freed last (LIFO, `ac->entry[--ac->avail]`), a free puts the object on this CPU's list while it
 * holds fewer than the cache's cpu_limit (`ac->avail < ac->limit`). Neither takes the list lock:
 * "the per-cpu arrays are never accessed from the wrong cpu, no locking, and local interrupts are
 * disabled" (mm/slab.c's header). Here only this CPU's thread touches its list, and no scheduling
 * hook (where an interrupt handler may run) lies between the reads and writes of it. The slow
 * path is the list-locked one, in batches of the cache's batchcount, (limit + 1) / 2 as
 * enable_cpucache sets it: an empty CPU list takes a batch from the cache's list and returns one of
 * it (cache_alloc_refill), a full one gives its oldest batch back before it takes the freed object
 * (cache_flusharray). With several CPUs the frees come in bursts, when a grace period ends and the
 * RCU callbacks run, so a CPU's list runs dry and overflows in turn: moving one object per lock
 * round trip took the list lock on every allocation and free of a task, pid and signal_struct
 * (6 times per fork cycle on 2 CPUs, none on 1).
 *
 * Both paths pass two scheduling hooks, where spin_lock and spin_unlock pass theirs, so a
 * controlled run has the same decision points whichever path an allocation takes.
 * SLAB.in_use counts the objects off the cache's list (allocated, or on some CPU's list):
 * kmem_cache_in_use is the number allocated.
 */
import { CPU, KMEM_CACHE_CPU, POISON_FREED, POISON_LIVE, RH_FUNC, SLAB, TASK } from './layout.js';
import { config, mem, regions, slab_addr, this_cpu, NR_SLABS, SLAB_NAMES, type Region } from './memory.js';
import { LC_SLAB } from '../locking/lockdep.js';
import { spin_lock, spin_lock_init, spin_unlock } from '../locking/spinlock.js';
import { up_boot } from '../locking/lock_flags.js';
import { sched_hook } from '../sched/hook.js';
import { record_violation, V_INVARIANT } from '../locking/violations.js';

/**
 * Most objects a CPU keeps on its own list of one cache (mm/slab.c's limit is 120 for small
 * objects; the model's caches hold a fixed number of objects, so it keeps few), and the least
 * share of the cache that must stay on the shared list: a CPU list only holds objects when the
 * cache has CPU_CACHE_SHARE objects per CPU for each one it may keep, so what the CPUs hold can
 * never make an allocation on another CPU fail that the cache as a whole could serve by more than
 * 1/CPU_CACHE_SHARE of its objects (small test machines keep no CPU lists at all).
 */
const CPU_CACHE_LIMIT = 8;
const CPU_CACHE_SHARE = 16;

/** A cache's cpu_limit for a machine: its share of CPU_CACHE_LIMIT (0 on small caches). */
function cpu_cache_limit(capacity: number, ncpus: number): number {
  return Math.min(CPU_CACHE_LIMIT, Math.floor(capacity / (CPU_CACHE_SHARE * ncpus)));
}

/** Objects a refill or a flush moves under the list lock: mm/slab.c's batchcount, at least one. */
function cache_batchcount(limit: number): number {
  return limit > 1 ? (limit + 1) >> 1 : 1;
}

/** Build every cache's free list (boot, main thread, before any CPU runs). */
export function kmem_cache_init_all(freeNextOffsets: readonly number[], rcuHeadOffsets: readonly number[]): void {
  for (let k = 0; k < NR_SLABS; k++) {
    const r = regions.objects[k]!;
    const s = slab_addr(k);
    spin_lock_init(s + SLAB.lock, LC_SLAB);
    mem[s + SLAB.base] = r.base;
    mem[s + SLAB.stride] = r.stride;
    mem[s + SLAB.capacity] = r.count;
    mem[s + SLAB.in_use] = 0;
    mem[s + SLAB.high_water] = 0;
    mem[s + SLAB.cpu_limit] = cpu_cache_limit(r.count, config.ncpus);
    const off = freeNextOffsets[k]!;
    mem[s + SLAB.next_free_off] = off;
    mem[s + SLAB.rcu_head_off] = rcuHeadOffsets[k]!;
    // Thread the free list from the end so objects are handed out in address order.
    let head = 0;
    for (let i = r.count - 1; i >= 0; i--) {
      const p = r.base + i * r.stride;
      mem[p + off] = head;
      head = p;
    }
    mem[s + SLAB.free] = head;
  }
}

/** kmem_cache_zalloc: a zeroed object, or 0 when the cache is exhausted. */
export function kmem_cache_alloc(kind: number): number {
  const s = regions.slabs + kind * SLAB.SIZE; // slab_addr(kind)
  const m = mem;
  const ac = this_cpu + CPU.slab_cpu + kind * KMEM_CACHE_CPU.SIZE;
  let p = 0;
  if (m[ac + KMEM_CACHE_CPU.avail] !== 0) {
    // ____cache_alloc: this CPU's own list. The hooks stand where spin_lock's and spin_unlock's
    // are on the slow path; between them nothing else runs on this CPU (no hook: "interrupts off").
    sched_hook(0);
    p = m[ac + KMEM_CACHE_CPU.freelist]!;
    if (p !== 0) {
      m[ac + KMEM_CACHE_CPU.freelist] = m[p + m[s + SLAB.next_free_off]!]!;
      m[ac + KMEM_CACHE_CPU.avail]!--;
      sched_hook(0);
    } else p = cache_alloc_slow(m, s, ac); // an interrupt at the hook took the last one
  } else p = cache_alloc_slow(m, s, ac);
  if (p) m.fill(0, p, p + m[s + SLAB.stride]!);
  return p;
}

/**
 * cache_alloc_refill: under the cache's list lock, one object for the caller and up to
 * batchcount - 1 more onto this CPU's (empty) list.
 */
function cache_alloc_slow(m: Int32Array, s: number, ac: number): number {
  const off = m[s + SLAB.next_free_off]!;
  spin_lock(s + SLAB.lock);
  const p = m[s + SLAB.free]!;
  if (p) {
    let q = m[p + off]!;
    let moved = 1;
    // An interrupt at the fast path's hook may have left this list non-empty: refill only an
    // empty one (cache_alloc_refill's BUG_ON(ac->avail > 0)).
    if (m[ac + KMEM_CACHE_CPU.avail] === 0) {
      const want = cache_batchcount(m[s + SLAB.cpu_limit]!) - 1;
      let last = 0;
      for (let i = 0; i < want && q !== 0; i++, moved++) { last = q; q = m[q + off]!; }
      if (last !== 0) {
        // The refilled objects, in list order: p's successors up to `last` (its link cut below).
        m[ac + KMEM_CACHE_CPU.freelist] = m[p + off]!;
        m[last + off] = 0;
        m[ac + KMEM_CACHE_CPU.avail] = moved - 1;
      }
    }
    m[s + SLAB.free] = q;
    const n = m[s + SLAB.in_use]! + moved;
    m[s + SLAB.in_use] = n;
    if (n > m[s + SLAB.high_water]!) m[s + SLAB.high_water] = n;
  }
  spin_unlock(s + SLAB.lock);
  return p;
}

/** kmem_cache_free of an object already freed (violation b = the object, c = the cache). */
export const INV_SLAB_DOUBLE_FREE = 0x5301;
/** kmem_cache_free of an object whose embedded rcu_head is queued (violation b = the object, c = the cache). */
export const INV_SLAB_FREE_RCU_QUEUED = 0x5302;

/** kmem_cache_free. `poisonOff` >= 0 writes POISON_FREED there first (readers check it). */
export function kmem_cache_free(kind: number, p: number, poisonOff = -1): void {
  const s = regions.slabs + kind * SLAB.SIZE; // slab_addr(kind)
  // The poison is published with a sequentially consistent store for RCU readers on other CPUs
  // (rcu_dereference_check); one CPU has no other reader thread, and a plain store does.
  if (poisonOff >= 0) {
    // KASAN's "BUG: KASAN: double-free": an object already poisoned is freed again (a reference
    // dropped once too often). Reported and refused: on the free list twice it would be handed to
    // two owners. One load on a word this CPU writes next anyway.
    if (Atomics.load(mem, p + poisonOff) === POISON_FREED) {
      record_violation(V_INVARIANT, INV_SLAB_DOUBLE_FREE, p, kind);
      return;
    }
    poison_store(p + poisonOff, POISON_FREED);
  }
  const m = mem;
  // debug_check_no_obj_freed (lib/debugobjects.c, CONFIG_DEBUG_OBJECTS_FREE; read with
  // find_string, session 10) for the rcu_head: an object freed while its rcu_head is still queued
  // (a reference dropped once too often while call_rcu holds one) would be zeroed by its next
  // allocation under the CPU's callback list. Reported; the free goes on.
  const rh = m[s + SLAB.rcu_head_off]!;
  if (rh >= 0 && m[p + rh + RH_FUNC] !== 0) record_violation(V_INVARIANT, INV_SLAB_FREE_RCU_QUEUED, p, kind);
  const ac = this_cpu + CPU.slab_cpu + kind * KMEM_CACHE_CPU.SIZE;
  const off = m[s + SLAB.next_free_off]!;
  if (m[ac + KMEM_CACHE_CPU.avail]! < m[s + SLAB.cpu_limit]!) {
    // __cache_free's `ac->avail < ac->limit`: onto this CPU's own list (hooks as in the alloc).
    sched_hook(0);
    m[p + off] = m[ac + KMEM_CACHE_CPU.freelist]!;
    m[ac + KMEM_CACHE_CPU.freelist] = p;
    m[ac + KMEM_CACHE_CPU.avail]!++;
    sched_hook(0);
    return;
  }
  cache_flusharray(m, s, ac, off, p);
}

/**
 * cache_flusharray + the free: this CPU's list is full (or the cache keeps none). Under the
 * cache's list lock, its oldest batchcount objects (the list's tail: it is LIFO) go back to the
 * cache's list; then p goes on this CPU's list, or to the cache's list when the cache keeps none.
 */
function cache_flusharray(m: Int32Array, s: number, ac: number, off: number, p: number): void {
  const limit = m[s + SLAB.cpu_limit]!;
  spin_lock(s + SLAB.lock);
  if (limit === 0) {
    m[p + off] = m[s + SLAB.free]!;
    m[s + SLAB.free] = p;
    m[s + SLAB.in_use]!--;
  } else {
    // Keep the avail - batch most recent objects (cache-warm), flush the rest.
    const avail = m[ac + KMEM_CACHE_CPU.avail]!;
    const keep = avail - cache_batchcount(limit);
    let cut = 0; // last object kept
    let q = m[ac + KMEM_CACHE_CPU.freelist]!;
    for (let i = 0; i < keep; i++) { cut = q; q = m[q + off]!; }
    let n = 0;
    for (let r = q; r !== 0;) {
      const next = m[r + off]!;
      m[r + off] = m[s + SLAB.free]!;
      m[s + SLAB.free] = r;
      n++;
      r = next;
    }
    if (cut !== 0) m[cut + off] = 0;
    else m[ac + KMEM_CACHE_CPU.freelist] = 0;
    m[s + SLAB.in_use] = m[s + SLAB.in_use]! - n;
    m[p + off] = m[ac + KMEM_CACHE_CPU.freelist]!;
    m[ac + KMEM_CACHE_CPU.freelist] = p;
    m[ac + KMEM_CACHE_CPU.avail] = avail - n + 1;
  }
  spin_unlock(s + SLAB.lock);
}

/**
 * Give every object on this CPU's own lists back to the caches' lists (a CPU going offline:
 * mm/slab.c's cpuhp teardown frees the dead CPU's array_cache the same way).
 */
export function kmem_cache_cpu_drain(): void {
  const m = mem;
  for (let k = 0; k < NR_SLABS; k++) {
    const ac = this_cpu + CPU.slab_cpu + k * KMEM_CACHE_CPU.SIZE;
    if (m[ac + KMEM_CACHE_CPU.avail] === 0) continue;
    const s = slab_addr(k);
    const off = m[s + SLAB.next_free_off]!;
    spin_lock(s + SLAB.lock);
    for (let p = m[ac + KMEM_CACHE_CPU.freelist]!; p !== 0;) {
      const next = m[p + off]!;
      m[p + off] = m[s + SLAB.free]!;
      m[s + SLAB.free] = p;
      m[s + SLAB.in_use]!--;
      p = next;
    }
    m[ac + KMEM_CACHE_CPU.freelist] = 0;
    m[ac + KMEM_CACHE_CPU.avail] = 0;
    spin_unlock(s + SLAB.lock);
  }
}

/**
 * Objects of cache `kind` allocated now: off the cache's list and on no CPU's own list. For
 * reports, leak checks and audits (reads every CPU's list length: exact when the CPUs are
 * stopped, a snapshot otherwise).
 */
export function kmem_cache_in_use(m: Int32Array, r: { readonly slabs: number; readonly cpus: Region }, kind: number): number {
  let n = m[r.slabs + kind * SLAB.SIZE + SLAB.in_use]!;
  for (let i = 0; i < r.cpus.count; i++) n -= m[r.cpus.base + i * r.cpus.stride + CPU.slab_cpu + kind * KMEM_CACHE_CPU.SIZE + KMEM_CACHE_CPU.avail]!;
  return n;
}

/**
 * POISON_LIVE in a fresh object: a plain store. Another CPU reaches the object only through its
 * publication after this (attach_pid's or rcu_assign_pointer's Atomics.store, a lock's release),
 * which orders this store before any load that found the object that way, as the kernel's
 * rcu_assign_pointer orders the initialisation of what it publishes.
 */
export function mark_live(p: number, poisonOff: number): void {
  mem[p + poisonOff] = POISON_LIVE;
}

/**
 * A look at task record t from a walk of the task cache that holds no reference on it (the
 * model's stand-in for the exit lists and holdout list of RCU Tasks, and the pids controller's
 * diagnostic): task_peek_begin returns t's serial number (TASK.id), or 0 when the record is free;
 * task_peek_valid then says whether it still holds the same live task, as a seqcount reader checks
 * its sequence. What is read in between must be marked data_race(): it may belong to a task being
 * freed, or to a new task in the same record, and only counts when the look is valid. The poison
 * loads pair with kmem_cache_free's store and mark_live's (published by the task's attach).
 */
export function task_peek_begin(t: number): number {
  return Atomics.load(mem, t + TASK.poison) === POISON_LIVE ? mem[t + TASK.id]! : 0;
}

export function task_peek_valid(t: number, id: number): boolean {
  return Atomics.load(mem, t + TASK.poison) === POISON_LIVE && mem[t + TASK.id] === id;
}

function poison_store(at: number, v: number): void {
  const m = mem;
  if (up_boot(m)) m[at] = v;
  else Atomics.store(m, at, v);
}

export interface SlabUsage { name: string; in_use: number; high_water: number; capacity: number }

export function slab_usage(m: Int32Array, r: { readonly slabs: number; readonly cpus: Region }): SlabUsage[] {
  const out: SlabUsage[] = [];
  for (let k = 0; k < NR_SLABS; k++) {
    const s = r.slabs + k * SLAB.SIZE;
    out.push({ name: SLAB_NAMES[k]!, in_use: kmem_cache_in_use(m, r, k), high_water: m[s + SLAB.high_water]!, capacity: m[s + SLAB.capacity]! });
  }
  return out;
}

/**
 * Slab-like object caches (mm/slub.c in spirit): each object type has a cache whose free list is
 * threaded through the objects' free_next field, under the cache's list lock. Exhaustion returns 0
 * (the caller turns it into -ENOMEM, or -EAGAIN for pids where the kernel says so), never a crash.
 */
import { POISON_FREED, POISON_LIVE, SLAB } from './layout.js';
import { mem, regions, slab_addr, NR_SLABS, SLAB_NAMES } from './memory.js';
import { LC_SLAB } from '../locking/lockdep.js';
import { spin_lock, spin_lock_init, spin_unlock } from '../locking/spinlock.js';
import { up_boot } from '../locking/lock_flags.js';

/** Build every cache's free list (boot, main thread, before any CPU runs). */
export function kmem_cache_init_all(freeNextOffsets: readonly number[]): void {
  for (let k = 0; k < NR_SLABS; k++) {
    const r = regions.objects[k]!;
    const s = slab_addr(k);
    spin_lock_init(s + SLAB.lock, LC_SLAB);
    mem[s + SLAB.base] = r.base;
    mem[s + SLAB.stride] = r.stride;
    mem[s + SLAB.capacity] = r.count;
    mem[s + SLAB.in_use] = 0;
    mem[s + SLAB.high_water] = 0;
    const off = freeNextOffsets[k]!;
    mem[s + SLAB.next_free_off] = off;
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
  spin_lock(s + SLAB.lock);
  const m = mem;
  const p = m[s + SLAB.free]!;
  if (p) {
    m[s + SLAB.free] = m[p + m[s + SLAB.next_free_off]!]!;
    const n = m[s + SLAB.in_use]! + 1;
    m[s + SLAB.in_use] = n;
    if (n > m[s + SLAB.high_water]!) m[s + SLAB.high_water] = n;
  }
  spin_unlock(s + SLAB.lock);
  if (p) m.fill(0, p, p + m[s + SLAB.stride]!);
  return p;
}

/** kmem_cache_free. `poisonOff` >= 0 writes POISON_FREED there first (readers check it). */
export function kmem_cache_free(kind: number, p: number, poisonOff = -1): void {
  const s = regions.slabs + kind * SLAB.SIZE; // slab_addr(kind)
  // The poison is published with a sequentially consistent store for RCU readers on other CPUs
  // (rcu_dereference_check); one CPU has no other reader thread, and a plain store does.
  if (poisonOff >= 0) poison_store(p + poisonOff, POISON_FREED);
  spin_lock(s + SLAB.lock);
  const m = mem;
  m[p + m[s + SLAB.next_free_off]!] = m[s + SLAB.free]!;
  m[s + SLAB.free] = p;
  m[s + SLAB.in_use]!--;
  spin_unlock(s + SLAB.lock);
}

export function mark_live(p: number, poisonOff: number): void {
  poison_store(p + poisonOff, POISON_LIVE);
}

function poison_store(at: number, v: number): void {
  const m = mem;
  if (up_boot(m)) m[at] = v;
  else Atomics.store(m, at, v);
}

export interface SlabUsage { name: string; in_use: number; high_water: number; capacity: number }

export function slab_usage(m: Int32Array, slabsBase: number): SlabUsage[] {
  const out: SlabUsage[] = [];
  for (let k = 0; k < NR_SLABS; k++) {
    const s = slabsBase + k * SLAB.SIZE;
    out.push({ name: SLAB_NAMES[k]!, in_use: m[s + SLAB.in_use]!, high_water: m[s + SLAB.high_water]!, capacity: m[s + SLAB.capacity]! });
  }
  return out;
}

/**
 * The kmem caches' per-CPU object lists (src/mm/slab.ts, mm/slab.c's array_cache): the fork cycle
 * allocates and frees without the list lock once the lists are warm, the objects a CPU holds are
 * not counted as allocated (leak checks and audits stay exact), a CPU going offline gives them
 * back, and small caches keep no CPU lists at all.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { Kernel } from '../src/api.js';
import { CPU, G, KMEM_CACHE_CPU, POISON_LIVE, SLAB, TASK } from '../src/mm/layout.js';
import {
  cpu_addr, kg, mem, NR_SLABS, regions, set_this_cpu, slab_addr, SLAB_PID, SLAB_SIGNAL, SLAB_TASK, STAT_ACQ, STAT_WORDS, stats,
} from '../src/mm/memory.js';
import { MAX_LOCK_CLASSES } from '../src/mm/layout.js';
import { kmem_cache_alloc, kmem_cache_cpu_drain, kmem_cache_free, kmem_cache_in_use } from '../src/mm/slab.js';
import { LC_SLAB } from '../src/locking/lockdep.js';
import { SYS_EXIT, SYS_FORK, SYS_WAIT4 } from '../src/kernel/unistd.js';
import { OP_HALT, OP_LOOP } from '../src/kernel/entry.js';
import { TASK_INTERRUPTIBLE, try_to_wake_up } from '../src/sched/core.js';
import { launchProcess } from '../bench/forkrate.js';

const avail = (cpu: number, kind: number): number => mem[cpu_addr(cpu) + CPU.slab_cpu + kind * KMEM_CACHE_CPU.SIZE + KMEM_CACHE_CPU.avail]!;
const slabAcquisitions = (): number => stats[(0 * MAX_LOCK_CLASSES + LC_SLAB) * STAT_WORDS + STAT_ACQ]!;
function liveTasks(): number {
  const r = regions.objects[SLAB_TASK]!;
  let n = 0;
  for (let i = 0; i < r.count; i++) if (mem[r.base + i * r.stride + TASK.poison] === POISON_LIVE) n++;
  return n;
}

/** A 1-CPU machine whose init runs `cycles` fork -> exit -> wait4 cycles per runInProcess. */
function forkLoop(cycles: number): { m: Machine; again: () => void } {
  const m = new Machine({ ncpus: 1, maxTasks: 1024 }, {});
  m.attach();
  const child = m.program([[SYS_EXIT, 0]]);
  const loop = m.program([[SYS_FORK, 0, child, 0], [SYS_WAIT4, -1, 0], [OP_LOOP, 0, cycles], [OP_HALT]]);
  const init = launchProcess(m, loop);
  m.runInProcess();
  return {
    m,
    again: () => {
      m.attach();
      mem[init + TASK.pc] = 0;
      mem[init + TASK.user_arg] = 0;
      try_to_wake_up(init, TASK_INTERRUPTIBLE);
      m.runInProcess();
    },
  };
}

describe('kmem caches: per-CPU object lists', () => {
  it('a warm fork cycle takes no slab list lock; the objects a CPU holds are free, not in use', () => {
    const { m, again } = forkLoop(200);
    m.attach();
    const forks0 = mem[kg + G.total_forks]!;
    const acq0 = slabAcquisitions();
    again();
    m.attach();
    expect(mem[kg + G.total_forks]! - forks0).toBe(200);
    // Every task_struct, pid and signal_struct of the 200 cycles came from and went back to CPU 0's
    // own lists (the list lock's statistics did not move).
    expect(slabAcquisitions() - acq0).toBe(0);
    for (const k of [SLAB_TASK, SLAB_PID, SLAB_SIGNAL]) expect(avail(0, k)).toBeGreaterThan(0);
    // The freed objects on the CPU list are off the cache's list but not in use.
    const raw = mem[slab_addr(SLAB_TASK) + SLAB.in_use]!;
    expect(raw).toBeGreaterThan(liveTasks());
    expect(kmem_cache_in_use(mem, regions, SLAB_TASK)).toBe(liveTasks());
    // A CPU going offline gives its objects back (kmem_cache_cpu_drain, run as that CPU).
    set_this_cpu(0);
    kmem_cache_cpu_drain();
    for (let k = 0; k < NR_SLABS; k++) expect(avail(0, k)).toBe(0);
    expect(mem[slab_addr(SLAB_TASK) + SLAB.in_use]!).toBe(liveTasks());
    expect(kmem_cache_in_use(mem, regions, SLAB_TASK)).toBe(liveTasks());
    // ... and the next cycles work from the cache's list again, then from the CPU's.
    again();
    m.attach();
    expect(mem[kg + G.total_forks]! - forks0).toBe(400);
    expect(kmem_cache_in_use(mem, regions, SLAB_TASK)).toBe(liveTasks());
  });

  it('leak checks count what the CPU lists hold as free (the API audit against the boot baseline)', () => {
    const k = Kernel.create();
    for (let i = 0; i < 40; i++) {
      const c = k.fork(k.init);
      k.exit(c, 0);
      k.wait4(k.init, -1);
    }
    k.machine.attach();
    expect(avail(0, SLAB_TASK) + avail(1, SLAB_TASK)).toBeGreaterThan(0);
    expect(k.audit()).toEqual([]);
  });

  it('an empty CPU list refills, and a full one flushes, a batch (mm/slab.c batchcount) per list-lock round trip', () => {
    // Objects allocated on one CPU and freed on another (as RCU callbacks free them in bursts with
    // several CPUs): one list-lock round trip per batch of (limit + 1) / 2 objects, not per object.
    const m = new Machine({ ncpus: 2, maxTasks: 4096 }, {});
    m.attach();
    const s = slab_addr(SLAB_TASK);
    const limit = mem[s + SLAB.cpu_limit]!;
    const batch = (limit + 1) >> 1;
    expect(limit).toBe(8);
    const acq = (cpu: number): number => stats[(cpu * MAX_LOCK_CLASSES + LC_SLAB) * STAT_WORDS + STAT_ACQ]!;
    try {
      // Start from empty CPU lists (boot may have left objects on them).
      for (const c of [1, 0]) { set_this_cpu(c); kmem_cache_cpu_drain(); }
      const a0 = acq(0);
      const inUse0 = kmem_cache_in_use(mem, regions, SLAB_TASK);
      const objs: number[] = [];
      for (let i = 0; i < 4 * batch; i++) objs.push(kmem_cache_alloc(SLAB_TASK));
      expect(new Set(objs).size).toBe(objs.length);
      expect(objs.every((p) => p !== 0)).toBe(true);
      expect(acq(0) - a0, 'one refill per batch').toBe(4);
      expect(avail(0, SLAB_TASK)).toBe(0);
      expect(kmem_cache_in_use(mem, regions, SLAB_TASK) - inUse0).toBe(objs.length);
      // Freed on CPU 1: its list fills to the limit, then each flush gives back a batch.
      set_this_cpu(1);
      const a1 = acq(1);
      for (const p of objs) kmem_cache_free(SLAB_TASK, p, TASK.poison);
      expect(acq(1) - a1, 'one flush per batch once the list is full').toBe((objs.length - limit) / batch);
      expect(avail(1, SLAB_TASK)).toBe(limit);
      expect(kmem_cache_in_use(mem, regions, SLAB_TASK)).toBe(inUse0);
      // The list keeps the most recently freed objects (cache-warm), LIFO.
      expect(kmem_cache_alloc(SLAB_TASK)).toBe(objs[objs.length - 1]);
      expect(kmem_cache_alloc(SLAB_TASK)).toBe(objs[objs.length - 2]);
      expect(kmem_cache_in_use(mem, regions, SLAB_TASK)).toBe(inUse0 + 2);
    } finally {
      set_this_cpu(0);
    }
  });

  it('a small cache keeps no CPU lists (what CPUs hold can not starve another CPU of a small cache)', () => {
    const m = new Machine({ ncpus: 2, maxTasks: 16 }, {});
    m.attach();
    expect(mem[slab_addr(SLAB_TASK) + SLAB.cpu_limit]).toBe(0);
    const big = new Machine({ ncpus: 2, maxTasks: 4096 }, {});
    big.attach();
    expect(mem[slab_addr(SLAB_TASK) + SLAB.cpu_limit]).toBe(8);
  });
});

describe('kmem_cache_free: a double free (KASAN: double-free) is reported and refused', () => {
  it('the second free of a task record is a violation, and the record is handed out once', async () => {
    const { INV_SLAB_DOUBLE_FREE } = await import('../src/mm/slab.js');
    const { V_INVARIANT } = await import('../src/locking/violations.js');
    const k = Kernel.create();
    k.machine.attach();
    const p = kmem_cache_alloc(SLAB_TASK);
    mem[p + TASK.poison] = POISON_LIVE;
    kmem_cache_free(SLAB_TASK, p, TASK.poison);
    expect(k.machine.violations().some((v) => v.kind === V_INVARIANT && v.a === INV_SLAB_DOUBLE_FREE)).toBe(false);
    kmem_cache_free(SLAB_TASK, p, TASK.poison);
    expect(k.machine.violations().some((v) => v.kind === V_INVARIANT && v.a === INV_SLAB_DOUBLE_FREE && v.b === p)).toBe(true);
    const a = kmem_cache_alloc(SLAB_TASK);
    const b = kmem_cache_alloc(SLAB_TASK);
    expect(a === p || b === p).toBe(true);
    expect(a).not.toBe(b);
  });
});

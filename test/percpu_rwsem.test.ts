/**
 * percpu_rw_semaphore (src/locking/percpu_rwsem.ts) on the model's cgroup_threadgroup_rwsem, with
 * scripted tasks (the in-process kernel API, real model code): the writer's rcu_sync_enter waits a
 * real grace period, then the writer waits for the readers; readers that come while a writer is
 * around wait for it; the wait-for graph shows both waits. (Fork's and exit_signals' read side and
 * the cgroup.procs write are on branch cgrp-integration, with their tests.)
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../src/api.js';
import { G, PERCPU_RWSEM } from '../src/mm/layout.js';
import { kg, mem } from '../src/mm/memory.js';
import { build_waitfor } from '../src/detect/waitfor.js';
import { GP_IDLE, percpu_rwsem_readers } from '../src/locking/percpu_rwsem.js';
import { rcu_completed } from '../src/rcu/rcu.js';
import { SYS_TEST_HOLD, SYS_TEST_RELEASE, TL_PRW_READ, TL_PRW_WRITE } from '../src/stress/stress_syscalls.js';

const SEM = (): number => kg + G.cgroup_threadgroup_rwsem;
const key = (t: { addr: number }): string => `task@${t.addr}`;

function edgesFrom(k: Kernel, t: { addr: number }): Array<[string, string]> {
  return build_waitfor(k.machine.view()).edges.filter((e) => e.from === key(t)).map((e) => [e.to, e.why]);
}

function wchan(k: Kernel, t: { addr: number }): string {
  return build_waitfor(k.machine.view()).nodes.find((n) => n.key === key(t))!.task!.wchan;
}

describe('percpu_rw_semaphore: cgroup_threadgroup_rwsem', () => {
  it('the writer waits a grace period, then for the reader; later readers wait for the writer', () => {
    const k = Kernel.create({ ncpus: 2, maxTasks: 32 });
    const r = k.fork(k.init);
    const w = k.fork(k.init);
    const r2 = k.fork(k.init);
    const r3 = k.fork(k.init);
    k.quiesce();
    // No writer around: the reader's fast path (one per-CPU count).
    expect(k.syscall(r, 'hold', SYS_TEST_HOLD, TL_PRW_READ)).toEqual({ value: 0 });
    expect(percpu_rwsem_readers(mem, SEM())).toBe(1);
    // The writer: rcu_sync_enter moves readers to the slow path and waits a real grace period
    // (the in-process CPUs pass their quiescent states as they go idle), then sets block and
    // waits for the reader.
    const gp = rcu_completed();
    expect(k.syscall(w, 'hold', SYS_TEST_HOLD, TL_PRW_WRITE)).toEqual({ blocked: true });
    expect(rcu_completed()).toBeGreaterThan(gp);
    expect(wchan(k, w)).toBe('percpu_rwsem_wait');
    expect(mem[SEM() + PERCPU_RWSEM.block]).toBe(1);
    expect(edgesFrom(k, w)).toEqual([[key(r), 'percpu_rw_semaphore cgroup_threadgroup_rwsem (read side)']]);
    // Readers that come now wait for the writer (the slow path: block is set).
    expect(k.syscall(r2, 'hold', SYS_TEST_HOLD, TL_PRW_READ)).toEqual({ blocked: true });
    expect(k.syscall(r3, 'hold', SYS_TEST_HOLD, TL_PRW_READ)).toEqual({ blocked: true });
    for (const t of [r2, r3]) {
      expect(wchan(k, t)).toBe('percpu_rwsem_wait');
      expect(edgesFrom(k, t)).toEqual([[key(w), 'percpu_rw_semaphore cgroup_threadgroup_rwsem (write side)']]);
    }
    // The reader leaves: the writer gets the semaphore; the others still wait.
    expect(k.syscall(r, 'release', SYS_TEST_RELEASE, TL_PRW_READ)).toEqual({ value: 0 });
    expect(k.result(w)).toEqual({ value: 0 });
    expect(mem[SEM() + PERCPU_RWSEM.owner]).toBe(w.addr);
    for (const t of [r2, r3]) expect(k.isBlocked(t)).toBe(true);
    // The writer leaves: percpu_up_write takes it for every waiting reader and wakes them.
    expect(k.syscall(w, 'release', SYS_TEST_RELEASE, TL_PRW_WRITE)).toEqual({ value: 0 });
    expect(k.result(r2)).toEqual({ value: 0 });
    expect(k.result(r3)).toEqual({ value: 0 });
    expect(percpu_rwsem_readers(mem, SEM())).toBe(2);
    expect(k.syscall(r2, 'release', SYS_TEST_RELEASE, TL_PRW_READ)).toEqual({ value: 0 });
    expect(k.syscall(r3, 'release', SYS_TEST_RELEASE, TL_PRW_READ)).toEqual({ value: 0 });
    // A grace period after rcu_sync_exit the readers' fast path is back, and nothing is held.
    k.quiesce();
    expect(mem[SEM() + PERCPU_RWSEM.rss_gp_state]).toBe(GP_IDLE);
    expect(percpu_rwsem_readers(mem, SEM())).toBe(0);
    expect(k.audit()).toEqual([]);
  });

  it('a second writer waits for the first (block) and needs no grace period of its own', () => {
    const k = Kernel.create({ ncpus: 2, maxTasks: 16 });
    const w1 = k.fork(k.init);
    const w2 = k.fork(k.init);
    const gp0 = rcu_completed();
    expect(k.syscall(w1, 'hold', SYS_TEST_HOLD, TL_PRW_WRITE)).toEqual({ value: 0 });
    expect(rcu_completed()).toBeGreaterThan(gp0); // rcu_sync_enter from GP_IDLE
    // w2: rcu_sync is past GP_PASSED (gp_count 1): no grace period, straight to block, held by w1.
    const gp1 = rcu_completed();
    expect(k.syscall(w2, 'hold', SYS_TEST_HOLD, TL_PRW_WRITE)).toEqual({ blocked: true });
    expect(rcu_completed()).toBe(gp1);
    expect(wchan(k, w2)).toBe('percpu_rwsem_wait');
    expect(edgesFrom(k, w2)).toEqual([[key(w1), 'percpu_rw_semaphore cgroup_threadgroup_rwsem (write side)']]);
    expect(k.syscall(w1, 'release', SYS_TEST_RELEASE, TL_PRW_WRITE)).toEqual({ value: 0 });
    expect(k.result(w2)).toEqual({ value: 0 });
    expect(mem[SEM() + PERCPU_RWSEM.owner]).toBe(w2.addr);
    expect(k.syscall(w2, 'release', SYS_TEST_RELEASE, TL_PRW_WRITE)).toEqual({ value: 0 });
    k.quiesce();
    expect(mem[SEM() + PERCPU_RWSEM.rss_gp_state]).toBe(GP_IDLE);
    expect(k.audit()).toEqual([]);
  });
});

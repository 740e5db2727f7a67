/** Helpers shared by the tests that drive the kernel through the scripting API (src/api.ts). */
import { expect } from 'vitest';
import { KernelError, type Kernel, type TaskHandle } from '../src/api.js';
import type { Machine } from '../src/machine.js';
import { mem, regions } from '../src/mm/memory.js';
import { slab_usage } from '../src/mm/slab.js';
import { rcu_callbacks_pending } from '../src/rcu/rcu.js';
import { SYS_LOG } from '../src/kernel/torture.js';

/** The errno name a kernel call failed with, or 'no error'. */
export function errCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
  return 'no error';
}

/** wait4 by the parent for one child; its status (throws if the wait would block). */
export function reapStatus(k: Kernel, p: TaskHandle, c: TaskHandle): number {
  const r = k.wait4(p, k.pidIn(p, c));
  if ('blocked' in r) throw new Error('reap blocked');
  return r.status;
}

/** Reap every child of `parent` that can be reaped now (WNOHANG, __WALL). */
export function reapAll(k: Kernel, parent: TaskHandle): void {
  for (let i = 0; i < 1000; i++) {
    let r;
    try {
      r = k.wait4(parent, -1, { nohang: true, all: true });
    } catch (e) {
      if (e instanceof KernelError && e.code === 'ECHILD') return;
      throw e;
    }
    if ('blocked' in r || r.pid <= 0) return;
  }
}

/** Let the tasks exit, reap them from init, and require a clean audit. */
export function finish(k: Kernel, tasks: TaskHandle[]): void {
  for (const t of tasks) if (k.alive(t)) k.exit(t);
  reapAll(k, k.init);
  expect(k.audit()).toEqual([]);
}

/** Run RCU callbacks: a kthread's context switch ends the grace period, the CPU loop runs them. */
export function flushRcu(m: Machine): void {
  const prog = m.program([[SYS_LOG, 0]]);
  for (let i = 0; i < 8 && (m.attach(), rcu_callbacks_pending() > 0); i++) {
    m.kthread(prog);
    m.runInProcess();
  }
  m.attach();
  expect(rcu_callbacks_pending()).toBe(0);
}

/** Objects of one slab cache in use now. */
export function inUse(m: Machine, kind: number): number {
  m.attach();
  return slab_usage(mem, regions)[kind]!.in_use;
}

/** The errno number a scripting-API call failed with (0 when it succeeded). */
export function errnoOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e.errno;
    throw e;
  }
  return 0;
}

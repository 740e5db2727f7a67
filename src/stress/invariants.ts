/**
 * End-of-run checks of a stress run (the continuous ones run on the CPUs: src/stress/checks.ts,
 * the lock and RCU checks in the kernel itself). Each failure names the invariant it broke.
 */
import { G, RCUOBJ, STRESS_TABLE, TORTURE } from '../mm/layout.js';
import { rcu_callbacks_queued } from '../rcu/rcu.js';
import { kmem_cache_free } from '../mm/slab.js';
import { kg, regions, SLAB_PID, SLAB_TASK, SLAB_TORTURE } from '../mm/memory.js';
import { cad_pid_pinned } from '../kernel/audit.js';
import { slab_usage, type SlabUsage } from '../mm/slab.js';
import { RES_TABLE_WORDS } from './ops.js';
import { CNT_MUTEX_ACQ, CNT_MUTEX_COUNTER, CNT_SPIN_ACQ, CNT_SPIN_COUNTER } from './stress_syscalls.js';
import { INV_CALLBACKS_LEFT, INV_LEAK, INV_TASKS_LEFT, INV_TORTURE_COUNTER, INVARIANT_NAMES } from './checks.js';
import type { Machine } from '../machine.js';

export interface Failure {
  /** run (deadlock, hang, crash ...), violation (recorded by the kernel), invariant (end check), audit, leak. */
  kind: string;
  title: string;
  detail: string;
}

export function signature_of(f: Failure[]): string {
  return f.length ? `${f[0]!.kind}: ${f[0]!.title}` : '';
}

/** Counters guarded by the stress spinlock and mutex equal their acquisitions. */
export function check_lock_counters(m: Machine): Failure[] {
  m.attach();
  const w = m.mem;
  const k = w[kg + G.stress + STRESS_TABLE]! + RES_TABLE_WORDS;
  const out: Failure[] = [];
  const pairs: Array<[string, number, number]> = [
    ['spinlock (torture_spinlock)', w[k + CNT_SPIN_COUNTER]!, w[k + CNT_SPIN_ACQ]!],
    ['mutex (torture_mutex)', w[k + CNT_MUTEX_COUNTER]!, w[k + CNT_MUTEX_ACQ]!],
  ];
  for (const [what, counter, acq] of pairs) {
    if (counter !== acq) {
      out.push({ kind: 'invariant', title: INVARIANT_NAMES[INV_TORTURE_COUNTER]!, detail: `${what}: counter ${counter}, acquisitions ${acq} (${acq - counter} lost updates)` });
    }
  }
  const ov = w[regions.torture + TORTURE.rw_overlap]!;
  if (ov) out.push({ kind: 'invariant', title: 'rwlock reader and writer inside together', detail: `${ov} overlaps` });
  return out;
}

/**
 * rcutorture's cleanup: unpublish and free the object the writer left published (no reader is
 * left: the CPUs have stopped), so the leak check expects nothing.
 */
export function torture_cleanup(m: Machine): void {
  m.attach();
  const w = m.mem;
  const p = Atomics.exchange(w, regions.torture + TORTURE.rcu_ptr, 0);
  if (p) {
    kmem_cache_free(SLAB_TORTURE, p, RCUOBJ.poison);
    Atomics.add(w, regions.torture + TORTURE.rcu_freed, 1);
  }
}

/**
 * Nothing left allocated beyond the baseline taken after boot (the init task, namespaces and the
 * objects the torture keeps published), and every RCU callback ran.
 */
export function check_leaks(m: Machine, baseline: SlabUsage[], _opts: { kthreadsOnly: boolean }): Failure[] {
  m.attach();
  const w = m.mem;
  const out: Failure[] = [];
  const now = slab_usage(w, regions);
  const pending = rcu_callbacks_queued(w, regions.cpus);
  if (pending) out.push({ kind: 'leak', title: INVARIANT_NAMES[INV_CALLBACKS_LEFT]!, detail: `${pending} callbacks queued` });
  for (let k = 0; k < now.length; k++) {
    const s = now[k]!;
    // A struct pid that cad_pid names keeps it allocated after its task is gone (src/kernel/reboot.ts).
    const allowed = baseline[k]!.in_use + (k === SLAB_PID ? cad_pid_pinned(w, kg) : 0);
    if (s.in_use > allowed) {
      const title = k === SLAB_TASK ? INVARIANT_NAMES[INV_TASKS_LEFT]! : INVARIANT_NAMES[INV_LEAK]!;
      out.push({ kind: 'leak', title, detail: `${s.name}: ${s.in_use} in use after the run, ${allowed} expected` });
    }
  }
  return out;
}

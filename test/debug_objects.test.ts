/**
 * Debug objects for rcu_head (kernel/rcu/tree.c's debug_rcu_head_queue, lib/debugobjects.c's
 * debug_check_no_obj_freed): call_rcu of a head that is still queued is reported and leaked, as
 * "__call_rcu(): Leaked duplicate callback" is, and a free of an object whose rcu_head is queued is
 * reported. Either, unchecked, corrupts the CPU's callback list: the second because the object's
 * next allocation zeroes the queued head (seen in 10-minute stress runs as "rcu callback 0 not
 * registered", and as double frees of struct pid from the callbacks). And the task references
 * whose merged count made the second kind happen: usage and rcu_users are two counters.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { PID, POISON_FREED, POISON_LIVE, TASK } from '../src/mm/layout.js';
import { mem, set_this_cpu, SLAB_PID } from '../src/mm/memory.js';
import { kmem_cache_alloc, kmem_cache_free, INV_SLAB_FREE_RCU_QUEUED } from '../src/mm/slab.js';
import { call_rcu, INV_RCU_HEAD_QUEUED_TWICE, rcu_callbacks_pending, rcu_do_batch, rcu_note_context_switch } from '../src/rcu/rcu.js';
import { RCB_DELAYED_PUT_PID } from '../src/kernel/pid_types.js';
import { V_INVARIANT } from '../src/locking/violations.js';
import { get_task_struct, put_task_struct, release_task } from '../src/kernel/exit.js';
import { EXIT_ZOMBIE } from '../src/kernel/sched_task.js';
import { SYS_EXIT, SYS_FORK } from '../src/kernel/unistd.js';
import { OP_HALT } from '../src/kernel/entry.js';
import { launchProcess } from '../bench/forkrate.js';

/** A 1-CPU machine, attached, running as its CPU, with a fresh struct pid record. */
function setup(): { m: Machine; pid: number; codes: () => number[] } {
  const m = new Machine({ ncpus: 1 });
  m.attach();
  const pid = kmem_cache_alloc(SLAB_PID);
  expect(pid).toBeGreaterThan(0);
  mem[pid + PID.poison] = POISON_LIVE;
  const codes = (): number[] => m.violations().filter((v) => v.kind === V_INVARIANT).map((v) => v.a);
  return { m, pid, codes };
}

describe('debug objects: rcu_head', () => {
  it('a second call_rcu of a queued head is reported and leaked; once the callback ran, the head may be queued again', () => {
    const { pid, codes } = setup();
    const n0 = rcu_callbacks_pending();
    // delayed_put_pid(0): put_pid(NULL) does nothing, so the callback is harmless to run.
    call_rcu(pid + PID.rcu, RCB_DELAYED_PUT_PID, 0);
    expect(codes()).toEqual([]);
    call_rcu(pid + PID.rcu, RCB_DELAYED_PUT_PID, 0);
    expect(codes()).toEqual([INV_RCU_HEAD_QUEUED_TWICE]);
    expect(rcu_callbacks_pending()).toBe(n0 + 1); // leaked: the list is intact
    rcu_note_context_switch();
    expect(rcu_do_batch()).toBe(1);
    expect(rcu_callbacks_pending()).toBe(n0);
    call_rcu(pid + PID.rcu, RCB_DELAYED_PUT_PID, 0);
    expect(codes()).toEqual([INV_RCU_HEAD_QUEUED_TWICE]);
    rcu_note_context_switch();
    expect(rcu_do_batch()).toBe(1);
  });

  it('freeing an object whose rcu_head is queued is reported; freeing it after the callback is not', () => {
    const { pid, codes } = setup();
    call_rcu(pid + PID.rcu, RCB_DELAYED_PUT_PID, 0);
    kmem_cache_free(SLAB_PID, pid, PID.poison);
    expect(codes()).toEqual([INV_SLAB_FREE_RCU_QUEUED]);
    rcu_note_context_switch();
    expect(rcu_do_batch()).toBe(1);

    const again = kmem_cache_alloc(SLAB_PID);
    mem[again + PID.poison] = POISON_LIVE;
    call_rcu(again + PID.rcu, RCB_DELAYED_PUT_PID, 0);
    rcu_note_context_switch();
    expect(rcu_do_batch()).toBe(1);
    kmem_cache_free(SLAB_PID, again, PID.poison);
    expect(codes()).toEqual([INV_SLAB_FREE_RCU_QUEUED]);
  });
});

describe('task references: usage and rcu_users', () => {
  it('a get_task_struct/put_task_struct under RCU after the last rcu_users reference went neither frees the task early nor queues its rcu_head again', () => {
    const m = new Machine({ ncpus: 1 });
    m.attach();
    const child = m.program([[SYS_EXIT, 0]]);
    const init = launchProcess(m, m.program([[SYS_FORK, 0, child, 0], [OP_HALT]])); // never reaps
    m.runInProcess();
    m.attach();
    const z = mem[init + TASK.children]!;
    expect(mem[z + TASK.exit_state]).toBe(EXIT_ZOMBIE);
    expect(mem[z + TASK.rcu_users]).toBe(1); // its CPU switched away from it for the last time
    set_this_cpu(0);
    release_task(z); // the other rcu_users reference: call_rcu(delayed_put_task_struct)
    const queued = rcu_callbacks_pending();
    // cgroup_procs_write's reference: found under rcu_read_lock before the release, taken after it.
    get_task_struct(z);
    put_task_struct(z);
    const codes = m.violations().filter((v) => v.kind === V_INVARIANT).map((v) => v.a);
    expect(codes).toEqual([]);
    expect(rcu_callbacks_pending()).toBe(queued);
    expect(mem[z + TASK.poison]).toBe(POISON_LIVE); // freed only after the grace period
    for (let i = 0; i < 4 && rcu_callbacks_pending() > 0; i++) {
      rcu_note_context_switch(); // the quiescent states that end the grace periods (one CPU)
      rcu_do_batch();
    }
    expect(mem[z + TASK.poison]).toBe(POISON_FREED);
    expect(m.violations()).toEqual([]);
  });
});

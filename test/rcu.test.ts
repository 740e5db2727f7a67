import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { TORTURE, G, RCU_GP_SEQ, RCU_STATE } from '../src/mm/layout.js';
import { srcu_readers } from '../src/rcu/srcu.js';
import { kg } from '../src/mm/memory.js';
import { call_rcu, rcu_callbacks_pending, rcu_do_batch, rcu_note_context_switch } from '../src/rcu/rcu.js';
import { RCB_DELAYED_PUT_PID } from '../src/kernel/pid_types.js';
import {
  SYS_LOG, SYS_SET_FLAG, SYS_SYNCHRONIZE_RCU, SYS_SYNCHRONIZE_SRCU, SYS_TORTURE_SRCU_READ_SLEEP,
} from '../src/kernel/torture.js';

function log(m: Machine): number[] {
  m.attach();
  const t = m.tortureBase();
  return Array.from({ length: m.mem[t + TORTURE.log_len]! }, (_, i) => m.mem[t + TORTURE.log + i]!);
}

describe('SRCU (tasks_rcu_exit_srcu)', () => {
  it('synchronize_srcu waits for a sleeping reader that began before it, not for one that began after', () => {
    const m = new Machine({ ncpus: 1 });
    m.kthread(m.program([[SYS_TORTURE_SRCU_READ_SLEEP, 0, 10]])); // R1: logs 10, sleeps holding the read side
    m.kthread(m.program([[SYS_SYNCHRONIZE_SRCU, 30]])); // S: logs 30 when its grace period ends
    m.kthread(m.program([[SYS_TORTURE_SRCU_READ_SLEEP, 1, 20]])); // R2: begins after S flipped
    m.runInProcess();
    expect(log(m)).toEqual([10, 20]); // S is still waiting for R1
    m.kthread(m.program([[SYS_SET_FLAG, 0, 5]])); // wake R1: it leaves (11), then S completes (30)
    m.runInProcess();
    expect(log(m)).toEqual([10, 20, 5, 11, 30]); // S did not wait for R2, which still sleeps
    m.attach();
    const ssp = kg + G.srcu_exit;
    expect(srcu_readers(ssp, 0) + srcu_readers(ssp, 1)).toBe(1);
    m.kthread(m.program([[SYS_SET_FLAG, 1, 7]]));
    m.runInProcess();
    expect(log(m)).toEqual([10, 20, 5, 11, 30, 7, 21]);
    expect(m.liveTasks()).toBe(m.bootTasks);
  });
});

describe('RCU grace periods', () => {
  it('synchronize_rcu sleeps until every CPU passed a quiescent state, and call_rcu callbacks run after it', () => {
    const m = new Machine({ ncpus: 1 });
    m.kthread(m.program([[SYS_LOG, 1], [SYS_SYNCHRONIZE_RCU, 3]]));
    m.kthread(m.program([[SYS_LOG, 2]]));
    m.runInProcess();
    // The synchronize_rcu caller slept (task 2 ran before it finished): the grace period needed the
    // CPU's context switch.
    expect(log(m)).toEqual([1, 2, 3]);
    m.attach();
    expect(m.mem[kg + G.rcu + RCU_GP_SEQ]).toBeGreaterThan(0); // grace periods completed
  });
});

describe('RCU callbacks', () => {
  it('queue and run on the CPU\'s own list: no word of rcu_state is counted per callback', () => {
    // rcu_state is one cache line that every CPU's grace-period requests and reports use; a count
    // of callbacks kept there was added to by each call_rcu and rcu_do_batch on every CPU (4 times
    // per fork cycle). The count is the CPUs' own RCU_CBLIST.len words now.
    const m = new Machine({ ncpus: 1 });
    m.attach();
    const r = kg + G.rcu;
    const gp = new Set([RCU_STATE.gp_seq, RCU_STATE.gp_started, RCU_STATE.gp_requested, RCU_STATE.gp_stamp]);
    const others = (): number[] => Array.from({ length: RCU_STATE.SIZE }, (_, i) => (gp.has(i) ? 0 : m.mem[r + i]!));
    const before = others();
    const head = m.tortureBase() + TORTURE.log; // four free words as the rcu_head
    const n0 = rcu_callbacks_pending();
    call_rcu(head, RCB_DELAYED_PUT_PID, 0); // delayed_put_pid(0): put_pid(NULL) does nothing
    expect(rcu_callbacks_pending()).toBe(n0 + 1);
    expect(others()).toEqual(before);
    rcu_note_context_switch(); // the quiescent state that ends the grace period (one CPU)
    expect(rcu_do_batch()).toBeGreaterThanOrEqual(1);
    expect(rcu_callbacks_pending()).toBe(n0);
    expect(others()).toEqual(before);
  });
});

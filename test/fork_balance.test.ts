/**
 * Fork balancing: select_task_rq(p, cpu, WF_FORK), which wake_up_new_task uses to place a new
 * task (src/sched/core.ts, after kernel/sched/fair.c's sched_balance_find_dst_group_cpu): the first
 * idle online CPU after the forking one, else a strictly less loaded one, else the forking CPU.
 * The CPU words are set by hand on a booted machine (the states a run passes through), and the
 * real function reads them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { CPU, G } from '../src/mm/layout.js';
import { cpu_addr, kg, mem } from '../src/mm/memory.js';
import { select_task_rq, WF_FORK } from '../src/sched/core.js';
import { build_stress_machine } from '../src/stress/run.js';
import { default_config } from '../src/stress/config.js';

const NCPUS = 4;
/** Any non-zero word stands for "a task runs here" (CPU.curr is only compared with 0). */
const BUSY = 1;

function machine(forkBalance: boolean): Machine {
  const m = new Machine({ ncpus: NCPUS, maxTasks: 16 }, { forkBalance });
  m.attach();
  return m;
}

/** CPU i runs a task (curr) and has queued[i] more on its runqueue; idle when both are 0. */
function set_cpus(running: boolean[], queued: number[]): void {
  for (let i = 0; i < NCPUS; i++) {
    const c = cpu_addr(i);
    mem[c + CPU.curr] = running[i] ? BUSY : 0;
    mem[c + CPU.rq_nr] = queued[i]!;
    mem[c + CPU.tok_wait] = 0;
    mem[c + CPU.online] = 1;
  }
}

afterEach(() => {
  // Leave the words as boot made them (no task running or queued) for whoever attaches next.
  set_cpus([false, false, false, false], [0, 0, 0, 0]);
});

describe('fork balancing: select_task_rq(WF_FORK)', () => {
  it('an idle CPU first: the first one after the forking CPU, wrapping around', () => {
    machine(true);
    set_cpus([true, false, false, true], [0, 0, 0, 0]);
    expect(select_task_rq(0, 0, WF_FORK)).toBe(1);
    expect(select_task_rq(0, 3, WF_FORK)).toBe(1); // 0 is busy: 3 -> 0 -> 1
    expect(select_task_rq(0, 1, WF_FORK)).toBe(2);
    // A CPU with nothing running but a task queued is not idle; the next idle one is taken.
    set_cpus([true, false, false, true], [0, 1, 0, 0]);
    expect(select_task_rq(0, 0, WF_FORK)).toBe(2);
  });

  it('no idle CPU: the least loaded (running + queued), and the forking CPU on a tie', () => {
    machine(true);
    set_cpus([true, true, true, true], [2, 1, 0, 1]);
    expect(select_task_rq(0, 0, WF_FORK)).toBe(2);
    set_cpus([true, true, true, true], [1, 1, 1, 1]);
    expect(select_task_rq(0, 2, WF_FORK)).toBe(2);
    set_cpus([true, true, true, true], [1, 0, 0, 1]);
    expect(select_task_rq(0, 3, WF_FORK)).toBe(1); // 1 and 2 tie below 3: the first after 3
  });

  it('an offline CPU, or one waiting for a run token (a preempted vCPU), is not taken as idle', () => {
    machine(true);
    set_cpus([true, false, true, true], [0, 0, 0, 0]);
    mem[cpu_addr(1) + CPU.online] = 0;
    expect(select_task_rq(0, 0, WF_FORK)).toBe(0); // the rest tie with the forking CPU
    mem[cpu_addr(1) + CPU.online] = 1;
    mem[cpu_addr(1) + CPU.tok_wait] = 1;
    expect(select_task_rq(0, 0, WF_FORK)).toBe(1); // not idle, but less loaded (0 tasks) than CPU 0
    set_cpus([true, false, false, true], [0, 0, 0, 0]);
    mem[cpu_addr(1) + CPU.tok_wait] = 1;
    expect(select_task_rq(0, 0, WF_FORK)).toBe(2); // the idle CPU after it
    set_cpus([true, false, true, true], [0, 0, 1, 0]);
    mem[cpu_addr(1) + CPU.tok_wait] = 1;
    mem[cpu_addr(1) + CPU.rq_nr] = 1;
    expect(select_task_rq(0, 2, WF_FORK)).toBe(3); // 3 (load 1) beats 2 (load 2); 1 has load 1 too but comes later
  });

  it('off (the default): the new task stays on the forking CPU', () => {
    machine(false);
    set_cpus([true, false, false, false], [3, 0, 0, 0]);
    expect(select_task_rq(0, 0, WF_FORK)).toBe(0);
  });

  it('stress runs leave it off unless asked (--fork-balance, forkBalance: true)', () => {
    build_stress_machine(default_config({ cpus: 2 }));
    expect(mem[kg + G.sched_fork_balance]).toBe(0);
    build_stress_machine(default_config({ cpus: 2, forkBalance: true }));
    expect(mem[kg + G.sched_fork_balance]).toBe(1);
  });
});

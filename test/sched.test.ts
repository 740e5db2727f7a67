import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine.js';
import { TORTURE } from '../src/mm/layout.js';
import { regions } from '../src/mm/memory.js';
import { SYS_LOG, SYS_SET_FLAG, SYS_WAIT_FLAG } from '../src/kernel/torture.js';

describe('CPUs and tasks', () => {
  it('one CPU runs two tasks where one sleeps until the other wakes it', () => {
    const m = new Machine({ ncpus: 1 });
    // A waits for flag 0 (logs 1 when woken); B logs 2 then sets flag 0 (logs 3 before setting).
    const a = m.program([[SYS_WAIT_FLAG, 0, 1]]);
    const b = m.program([[SYS_LOG, 2], [SYS_SET_FLAG, 0, 3]]);
    m.kthread(a);
    m.kthread(b);
    m.runInProcess();
    const mem = m.mem;
    const tt = regions.torture;
    const events = Array.from({ length: mem[tt + TORTURE.log_len]! }, (_, i) => mem[tt + TORTURE.log + i]);
    // A slept (it could not log 1 before B ran), B ran on the same CPU, then A resumed.
    expect(events).toEqual([2, 3, 1]);
    expect(m.liveTasks()).toBe(m.bootTasks);
  });
});

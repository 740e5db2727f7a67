/**
 * The raise-stop operation's rule (src/stress/kernel_ops.ts): a process stops itself only if its
 * parent's job control can continue it. A process with a tracee may not: a stopped debugger ends
 * no ptrace trap, and its tracee may be the very parent that would send the SIGCONT (the ptrace
 * operation attaches to random pids, its parent's too). Seen as a deadlock at the end of PCT seed 68
 * (20,000 operations, 4 CPUs): the parent in a group-stop trap traced by its child, the child
 * stopped by raise-stop, the stress reaper waiting for both.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../src/api.js';
import { PTRACE_ATTACH } from '../src/kernel/ptrace.js';
import { G, STRESS_ACTIVE_NS, TASK } from '../src/mm/layout.js';
import { kg, mem } from '../src/mm/memory.js';
import { set_current } from '../src/sched/core.js';
import { kernel_op } from '../src/stress/kernel_ops.js';
import { OP_IDS, SLOT_WORDS } from '../src/stress/ops.js';

const MAX_TASKS = 64;
const rand = (): number => 0;

describe('raise-stop', () => {
  it('is not drawn by a process that traces a task (its parent here)', () => {
    const k = Kernel.create({ maxTasks: MAX_TASKS });
    mem[kg + G.stress + STRESS_ACTIVE_NS] = k.machine.alloc(MAX_TASKS * SLOT_WORDS);
    const p = k.fork(k.init);
    const c = k.fork(p);
    const op = OP_IDS['raise-stop']!;
    set_current(c.addr);
    expect(kernel_op(c.addr, op, rand)).not.toBeNull(); // nothing traced: it may stop itself
    expect(k.ptrace(c, PTRACE_ATTACH, k.getpid(p))).toBe(0);
    expect(mem[p.addr + TASK.parent]).toBe(c.addr);
    set_current(c.addr);
    expect(kernel_op(c.addr, op, rand)).toBeNull();
  });
});

/**
 * The stress checker's spurious-ECHILD check after a wait that met a child being reaped
 * (src/stress/kernel_ops.ts echild_recheck): a wait of the real parent said ECHILD while its child
 * C was EXIT_DEAD. In today's kernel EXIT_DEAD is final (release_task follows; a tracer that hands
 * a zombie back to its real parent claims it as EXIT_TRACE, which the parent's wait does not take
 * for ECHILD), so C must never be the parent's child again. Before abd50b39e783 the tracer claimed
 * C as EXIT_DEAD and put it back to EXIT_ZOMBIE (catalog entry 14): the check looks again for a
 * few steps and reports C back as the parent's child. The states are planted (the window is one
 * scheduling point of the tracer's wait_task_zombie), then the operations' continuation runs as the
 * stress runs it, with the result the wait returned.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../src/api.js';
import { EXIT_DEAD, EXIT_ZOMBIE, PT_PTRACED } from '../src/kernel/sched_task.js';
import { ECHILD } from '../src/kernel/errno.js';
import { SYS_SCHED_YIELD } from '../src/kernel/unistd.js';
import { INV_WAIT_SPURIOUS_ECHILD } from '../src/kernel/user_assertions.js';
import { G, STRESS_ACTIVE_NS, TASK } from '../src/mm/layout.js';
import { kg, mem } from '../src/mm/memory.js';
import { set_current } from '../src/sched/core.js';
import { V_INVARIANT } from '../src/locking/violations.js';
import { kernel_op } from '../src/stress/kernel_ops.js';
import { task_slot } from '../src/stress/checks.js';
import { OP_IDS, SLOT_CONT, SLOT_CONT_ARG, SLOT_CONT_STEP, SLOT_SCRATCH, SLOT_WORDS } from '../src/stress/ops.js';

const MAX_TASKS = 64;

/** P with a zombie child C; the stress side table in place (as run.ts sets it up). */
function setup(): { k: Kernel; p: number; c: number; cnr: number } {
  const k = Kernel.create({ maxTasks: MAX_TASKS });
  mem[kg + G.stress + STRESS_ACTIVE_NS] = k.machine.alloc(MAX_TASKS * SLOT_WORDS);
  const p = k.fork(k.init);
  const c = k.fork(p);
  const cnr = k.getpid(c);
  k.exit(c, 0);
  expect(mem[c.addr + TASK.exit_state]).toBe(EXIT_ZOMBIE);
  return { k, p: p.addr, c: c.addr, cnr };
}

function found(k: Kernel): boolean {
  return k.machine.violations().some((v) => v.kind === V_INVARIANT && v.a === INV_WAIT_SPURIOUS_ECHILD);
}

const rand = (): number => 0;

/** P's wait returned -ECHILD while C was EXIT_DEAD; the continuation of operation `op` runs next. */
function echild_with_child_dead(p: number, c: number, op: string, cnr: number): void {
  mem[c + TASK.exit_state] = EXIT_DEAD; // a tracer's wait_task_zombie claimed C (still traced: the
  mem[c + TASK.ptrace] = PT_PTRACED; //   hand-back's __ptrace_unlink comes after the claim)
  const slot = task_slot(p);
  mem[slot + SLOT_CONT] = OP_IDS[op]! + 1;
  mem[slot + SLOT_CONT_STEP] = 0;
  mem[slot + SLOT_CONT_ARG] = cnr; // wait-pid: the child's number and task id
  mem[slot + SLOT_SCRATCH] = mem[c + TASK.id]!;
  mem[p + TASK.last_ret] = -ECHILD;
  set_current(p);
}

/** Run the continuation steps: each looks again; returns how many steps were looks (sched_yield between them). */
function run_steps(p: number, n: number, between: () => void): number {
  let looks = 0;
  for (let i = 0; i < n; i++) {
    const sc = kernel_op(p, -1, rand);
    if (!sc) break;
    if (sc.nr === SYS_SCHED_YIELD) looks++;
    mem[p + TASK.last_ret] = 0;
    between();
  }
  return looks;
}

describe('stress check: an ECHILD while a child was being reaped, and the child back as a zombie', () => {
  for (const op of ['wait-pid', 'wait']) {
    it(`${op}: the child stays EXIT_DEAD (released for good, today's kernel): it looks again, no violation`, () => {
      const { k, p, c, cnr } = setup();
      echild_with_child_dead(p, c, op, cnr);
      expect(run_steps(p, 10, () => {})).toBeGreaterThan(1);
      expect(found(k)).toBe(false);
    });

    it(`${op}: the child back to EXIT_ZOMBIE after the ECHILD (before abd50b39e783): a violation`, () => {
      const { k, p, c, cnr } = setup();
      echild_with_child_dead(p, c, op, cnr);
      // The tracer's write_lock block puts the zombie back after the first look.
      let step = 0;
      run_steps(p, 10, () => { if (++step === 1) mem[c + TASK.exit_state] = EXIT_ZOMBIE; });
      expect(found(k)).toBe(true);
    });
  }
});

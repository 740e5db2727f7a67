/**
 * Laying a scenario out on a booted machine: per-role programs (the role is the program's name,
 * which the reports print as the task's comm) and the init task that starts them.
 *
 * The model boots with init (pid 1 of init_pid_ns) asleep in pause(); a scenario gives it a
 * program (it forks the scenario's first tasks, in a fixed order, so their pids are the same in
 * every run) and wakes it. Nothing here touches kernel state beyond what a boot loader does to
 * start init: the tasks then run the same system calls as any other program.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { TASK } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { G } from '../mm/layout.js';
import type { Machine } from '../machine.js';
import { OP_HALT, OP_LOOP } from '../kernel/entry.js';
import { SYS_FORK, SYS_SET_SIGCHLD_IGN, SYS_WAIT4 } from '../kernel/unistd.js';
import { activate_task, TASK_RUNNING, WCHAN_NONE } from '../sched/core.js';

export type Insn = readonly number[];

/** A program (instructions [op, a, b, c]) named after its role. */
export function prog(m: Machine, role: string, insns: readonly Insn[]): number {
  return m.program(insns, role);
}

/** `body` repeated n times (body must not jump: OP_LOOP targets its first instruction). */
export function repeat(at: number, body: readonly Insn[], n: number): Insn[] {
  if (n <= 1) return [...body];
  return [...body, [OP_LOOP, at, n]];
}

export const halt: Insn = [OP_HALT];

/** Start init (pid 1) on `prog` from its first instruction. Call after the programs are written. */
export function start_init(m: Machine, program: number, _name = 'init'): number {
  m.attach();
  const t = mem[kg + G.init_task]!;
  if (!t) throw new Error('scenario: the machine has no init task (fork.ts boot)');
  mem[t + TASK.prog] = program;
  mem[t + TASK.pc] = 0;
  mem[t + TASK.ucall] = 0;
  mem[t + TASK.wait_chan] = WCHAN_NONE;
  mem[t + TASK.wait_obj] = 0;
  mem[t + TASK.cpu] = 0;
  Atomics.store(mem, t + TASK.state, TASK_RUNNING);
  activate_task(t);
  return t;
}

/**
 * init forks `children` in order, then reaps up to `reap` children, then idles. With reap < 0 init
 * ignores SIGCHLD instead (its children, and the orphans reparented to it, are reaped at once), so
 * it never waits for a child that lives on.
 */
export function init_program(children: number[], reap = 6): Insn[] {
  const out: Insn[] = reap < 0 ? [[SYS_SET_SIGCHLD_IGN, 1]] : [];
  out.push(...children.map((p): Insn => [SYS_FORK, 0, p, 0]));
  for (let i = 0; i < reap; i++) out.push([SYS_WAIT4, -1, 0]);
  out.push(halt);
  return out;
}

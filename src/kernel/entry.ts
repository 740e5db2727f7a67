/**
 * Kernel entry and exit for a task (kernel/entry/common.c in spirit) and the user programs tasks
 * run.
 *
 * A task's user mode is a small program in shared memory: instructions of four words
 * (op, a, b, c). A system call instruction is copied into the task's `ucall` slot and executed;
 * if it sleeps, the same ucall is run again when the task is resumed (the call's restart block
 * says where it was), and only when it completes does the program counter move on. Scripted tasks
 * (prog = 0, driven by the in-process API) get their ucall written by the API.
 */
import { INSN, TASK, UCALL } from '../mm/layout.js';
import { mem } from '../mm/memory.js';
import { tracing, trace_event, TR_SYS_ENTER, TR_SYS_EXIT } from '../tracing/trace.js';
import { ERESTARTNOHAND, ERESTARTSYS } from './errno.js';
import { SLEEP, STEP_DEAD, STEP_DONE, STEP_IDLE, STEP_SLEEP, TASK_DEAD, TASK_INTERRUPTIBLE, set_current_state, set_running, WCHAN_PAUSE } from '../sched/core.js';

export const INSN_WORDS = INSN.SIZE;

/** Control instructions handled by the interpreter itself. */
export const OP_NONE = 0;
export const OP_JMP = 1; // pc = a
export const OP_LOOP = 2; // if (++user_arg < b) pc = a else { user_arg = 0; pc++ }
export const OP_HALT = 3; // sleep in pause() forever (a task that keeps its pid)
/** First system-call number; kernel modules register theirs from here on. */
export const SYS_BASE = 16;

/** Value the call returned when it ended the task (do_exit never returns). */
export const EXITED = -0x10001;
/** TASK.last_ret of a call that has not completed yet (issued, or restarted by get_signal). */
export const RET_IN_PROGRESS = 0x7eadbeef;

export type SyscallFn = (a: number, b: number, c: number) => number;
const syscall_table: Array<SyscallFn | undefined> = [];
const syscall_names: string[] = [];
/** Calls that are the kernel's own work on the way to user mode (get_signal), not a user instruction. */
const entry_work: boolean[] = [];

/**
 * Register system call `nr`. `entry_work`: the call is exit-to-user-mode work the kernel queued
 * (get_signal), not a user instruction: its result is not the task's last_ret, the program counter
 * does not move, and it may re-arm ucall with a restarted call.
 */
export function register_syscall(nr: number, name: string, fn: SyscallFn, o: { entry_work?: boolean } = {}): void {
  if (nr < SYS_BASE) throw new RangeError(`syscall ${name}: number ${nr} below SYS_BASE`);
  if (syscall_table[nr] && syscall_names[nr] !== name) throw new Error(`syscall ${nr} registered twice (${syscall_names[nr]}, ${name})`);
  syscall_table[nr] = fn;
  syscall_names[nr] = name;
  entry_work[nr] = o.entry_work === true;
}

/** The handler of a system call (the stress mix dispatches its chosen operation as a sub-call). */
export function syscall_fn(nr: number): SyscallFn | undefined {
  return syscall_table[nr];
}

export function syscall_name(nr: number): string {
  return syscall_names[nr] ?? (nr === OP_JMP ? 'jmp' : nr === OP_LOOP ? 'loop' : nr === OP_HALT ? 'halt' : `sys#${nr}`);
}

/** Hooks the kernel installs: exit to user mode (signal delivery) and the end of a program. */
export interface EntryHooks {
  /** Called after each completed call; may set a new ucall (e.g. do_exit on a fatal signal). */
  exit_to_user_mode(t: number): void;
  /** Fill ucall when a program ran off its end (normally exit(0)); return false to die at once. */
  program_end(t: number): boolean;
}

let hooks: EntryHooks = {
  exit_to_user_mode: () => {},
  program_end: () => false,
};

export function set_entry_hooks(h: EntryHooks): void {
  hooks = h;
}

/** Program counter limit per step: a program that only jumps would never enter the kernel. */
const MAX_CONTROL_OPS = 64;

/** Run a task's pending call, or its next user instruction: the CPU loop's TaskRunner.step. */
export function task_step(t: number): number {
  const u = t + TASK.ucall;
  if (mem[u + UCALL.op] === OP_NONE) {
    if (!fetch(t)) return idle_or_dead(t);
  }
  const op = mem[u + UCALL.op]!;
  const fn = syscall_table[op];
  if (!fn) throw new Error(`task ${mem[t + TASK.id]}: no system call ${op}`);
  if (tracing) trace_event(TR_SYS_ENTER, op, t, 0);
  const r = fn(mem[u + UCALL.a]!, mem[u + UCALL.b]!, mem[u + UCALL.c]!);
  if (tracing) trace_event(TR_SYS_EXIT, mem[u + UCALL.op]!, t, r);
  if (r === SLEEP) return STEP_SLEEP;
  if (r === EXITED) return STEP_DEAD;
  if (entry_work[op]) {
    // get_signal may have re-armed ucall with the interrupted call (a restart): keep that.
    if (mem[u + UCALL.op] === op) mem[u + UCALL.op] = OP_NONE;
    hooks.exit_to_user_mode(t);
    return STEP_DONE;
  }
  /* @guard-hook syscall_end(t) */
  mem[u + UCALL.op] = OP_NONE;
  if (r <= -ERESTARTSYS && r >= -ERESTARTNOHAND) { // -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND
    // regs->orig_ax: kept for get_signal's restart decision (the slow path only).
    const o = t + TASK.orig_ucall;
    mem[o + UCALL.op] = op;
    mem[o + UCALL.a] = mem[u + UCALL.a]!;
    mem[o + UCALL.b] = mem[u + UCALL.b]!;
    mem[o + UCALL.c] = mem[u + UCALL.c]!;
  }
  mem[t + TASK.last_ret] = r;
  if (mem[t + TASK.prog] !== 0) mem[t + TASK.pc]!++;
  hooks.exit_to_user_mode(t);
  return STEP_DONE;
}

function idle_or_dead(t: number): number {
  if (Atomics.load(mem, t + TASK.state) === TASK_DEAD) return STEP_DEAD;
  // Scripted task with nothing to do, or a halted program: sleep in pause() until a signal or
  // the API gives it work (both wake it with try_to_wake_up).
  set_current_state(TASK_INTERRUPTIBLE, WCHAN_PAUSE, 0);
  // A signal that arrived after the last call returned found us still TASK_RUNNING, so its
  // signal_wake_up did not wake anybody: test for it after setting the sleeping state (pairs
  // with the sender's store of sigpending before its try_to_wake_up), as pause() does.
  if (Atomics.load(mem, t + TASK.sigpending) !== 0) {
    set_running();
    hooks.exit_to_user_mode(t);
    return STEP_DONE;
  }
  return STEP_IDLE;
}

/** Copy the next system-call instruction into ucall; false when there is none (halt/scripted). */
function fetch(t: number): boolean {
  const prog = mem[t + TASK.prog]!;
  if (prog === 0) return false;
  for (let n = 0; n < MAX_CONTROL_OPS; n++) {
    const pc = mem[t + TASK.pc]!;
    const i = prog + pc * INSN_WORDS;
    const op = mem[i + INSN.op]!;
    switch (op) {
      case OP_NONE:
        if (!hooks.program_end(t)) return false;
        return mem[t + TASK.ucall + UCALL.op] !== OP_NONE;
      case OP_JMP:
        mem[t + TASK.pc] = mem[i + INSN.a]!;
        continue;
      case OP_LOOP: {
        const k = mem[t + TASK.user_arg]! + 1;
        if (k < mem[i + INSN.b]!) { mem[t + TASK.user_arg] = k; mem[t + TASK.pc] = mem[i + INSN.a]!; }
        else { mem[t + TASK.user_arg] = 0; mem[t + TASK.pc] = pc + 1; }
        continue;
      }
      case OP_HALT:
        return false;
      default:
        set_ucall(t, op, mem[i + INSN.a]!, mem[i + INSN.b]!, mem[i + INSN.c]!);
        return true;
    }
  }
  return false;
}

/**
 * Set a task's pending call (fetch, the in-process API, entry hooks, stress sub-calls). The
 * arguments go first and `op` last: the task (or a report reading it) sees a complete call once op
 * is set.
 */
export function set_ucall(t: number, op: number, a: number, b: number, c: number): void {
  const u = t + TASK.ucall;
  mem[u + UCALL.a] = a;
  mem[u + UCALL.b] = b;
  mem[u + UCALL.c] = c;
  mem[u + UCALL.op] = op;
}

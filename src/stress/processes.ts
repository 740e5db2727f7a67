/**
 * Stress with the process model. Setup (in-process, before the CPUs start): init forks the stress
 * reaper, a child subreaper that forks the first stress processes and then reaps every process
 * that ends up its child (all orphans do, being below it) until none is left, and exits.
 * Teardown (in-process, after the run): whatever is left is killed (kill(-1, SIGKILL) from init)
 * and init reaps everything; RCU callbacks are drained; then the kernel audit (audit_kernel with
 * the boot baseline, which is also the leak check) runs.
 */
import { CPU, G, TASK } from '../mm/layout.js';
import { cpu_addr, kg, mem, NR_SLABS, regions, set_this_cpu } from '../mm/memory.js';
import { kmem_cache_in_use } from '../mm/slab.js';
import { OP_JMP, OP_LOOP, OP_NONE, set_ucall } from '../kernel/entry.js';
import { SYS_EXIT, SYS_FORK, SYS_KILL, SYS_PRCTL, SYS_UMOUNT_PROC, SYS_WAIT4 } from '../kernel/unistd.js';
import { PR_SET_CHILD_SUBREAPER } from '../kernel/fork.js';
import { SIGKILL, WNOHANG, __WALL } from '../kernel/sched_task.js';
import { ECHILD } from '../kernel/errno.js';
import { audit_kernel } from '../kernel/audit.js';
import { rcu_callbacks_pending, rcu_do_batch, rcu_note_context_switch, rcu_try_complete_gp } from '../rcu/rcu.js';
import { set_current, TASK_INTERRUPTIBLE, try_to_wake_up } from '../sched/core.js';
import { SYS_STRESS_REAP } from './stress_syscalls.js';
import type { Machine } from '../machine.js';
import type { Failure } from './invariants.js';

export interface ProcessSetup {
  init: number;
  reaper: number;
  /** Slab in_use per cache after boot (the leak baseline for audit_kernel). */
  baseline: number[];
}

const setups = new WeakMap<Machine, ProcessSetup>();

/** Run a call on init (a scripted task) in-process and return its result. */
function init_call(m: Machine, init: number, op: number, a = 0, b = 0, c = 0): number {
  m.attach();
  if (mem[init + TASK.ucall] !== OP_NONE) throw new Error('stress: init is busy');
  set_ucall(init, op, a, b, c);
  mem[init + TASK.last_ret] = -0x7fff;
  try_to_wake_up(init, TASK_INTERRUPTIBLE);
  m.runInProcess();
  return mem[init + TASK.last_ret]!;
}

export function process_setup(m: Machine, prog: number, n: number): void {
  m.attach();
  const init = mem[kg + G.init_task]!;
  if (!init) throw new Error('stress: no init task');
  const baseline: number[] = [];
  for (let k = 0; k < NR_SLABS; k++) baseline.push(kmem_cache_in_use(mem, regions, k));
  const reaperProg = m.program([
    [SYS_PRCTL, PR_SET_CHILD_SUBREAPER, 1],
    [SYS_FORK, 0, prog, 0],
    [OP_LOOP, 1, n],
    [SYS_STRESS_REAP],
    [OP_JMP, 3],
    [SYS_EXIT, 0],
  ], 'stress-reaper');
  // Fork the reaper as a scripted child (it sleeps in pause), then give it its program and queue
  // it: it starts when the CPUs do.
  const pid = init_call(m, init, SYS_FORK, 0, 0, 0);
  if (pid <= 0) throw new Error(`stress: init could not fork the reaper (${pid})`);
  const reaper = mem[init + TASK.fork_child]!;
  mem[reaper + TASK.prog] = reaperProg;
  mem[reaper + TASK.pc] = 0;
  if (!try_to_wake_up(reaper, TASK_INTERRUPTIBLE)) throw new Error('stress: the reaper can not be started');
  setups.set(m, { init, reaper, baseline });
}

/** The reaper exited (the stress is over): every stress process is gone. */
export function process_done(m: Machine): boolean {
  const s = setups.get(m);
  if (!s) return true;
  const w = m.mem;
  return w[s.reaper + TASK.exit_state] !== 0 || w[s.reaper + TASK.pid] === 0;
}

/** Drain RCU on every CPU (as Kernel.quiesce does). */
/** Run what is runnable in-process and drain RCU until nothing is left (the audit's quiescent point). */
export function quiesce(m: Machine): void {
  const n = m.config.ncpus;
  for (let round = 0; round < 64; round++) {
    m.runInProcess();
    set_current(0);
    for (let i = 0; i < n; i++) { set_this_cpu(i); rcu_note_context_switch(); }
    rcu_try_complete_gp();
    for (let i = 0; i < n; i++) { set_this_cpu(i); rcu_do_batch(); }
    set_this_cpu(0);
    let runnable = 0;
    for (let i = 0; i < n; i++) runnable += Atomics.load(mem, cpu_addr(i) + CPU.rq_nr);
    if (rcu_callbacks_pending() === 0 && runnable === 0) return;
  }
}

/** Kill and reap every task, drain RCU, audit. */
export async function process_teardown(m: Machine): Promise<Failure[]> {
  const s = setups.get(m);
  if (!s) return [];
  m.attach();
  const out: Failure[] = [];
  const left = Atomics.load(mem, kg + G.nr_threads) - 1;
  if (left > 0) init_call(m, s.init, SYS_KILL, -1, SIGKILL);
  for (let i = 0; i < 100_000; i++) {
    const r = init_call(m, s.init, SYS_WAIT4, -1, __WALL | WNOHANG);
    if (r === -ECHILD) break;
    if (r > 0) continue;
    if (r === 0) { quiesce(m); continue; } // children still exiting: let them
    out.push({ kind: 'audit', title: 'final reap failed', detail: `wait4 returned ${r}` });
    break;
  }
  // The run's /proc instance (the proc operation) goes with its tasks: umount -l, whose last
  // mntput puts the superblock's pid namespace (EINVAL when nothing is mounted).
  init_call(m, s.init, SYS_UMOUNT_PROC);
  quiesce(m);
  const problems = audit_kernel({ baseline: s.baseline });
  for (const p of problems.slice(0, 50)) out.push({ kind: 'audit', title: 'kernel audit failed', detail: p });
  const nr = Atomics.load(mem, kg + G.nr_threads);
  if (nr !== 1) out.push({ kind: 'leak', title: 'tasks left after the final kill and reap', detail: `${nr - 1} tasks besides init` });
  return out;
}

/** Slab usage right after boot (the process leak baseline). */
export function process_baseline(m: Machine): number[] | undefined {
  return setups.get(m)?.baseline;
}

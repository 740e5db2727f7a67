/**
 * Catalog entry 1 (28319d6dc5e2, "rcu-tasks: Fix synchronize_rcu_tasks() VS zap_pid_ns_processes()"):
 * A unshares CLONE_NEWPID and forks B (the namespace's init) and C; B exits inside the RCU-tasks
 * exit read side (exit_tasks_rcu_start), kills C, finds no child of its own to wait for and sleeps
 * in zap_pid_ns_processes until pid_allocated drops; C dies and stays a zombie only A can reap; A is
 * in synchronize_rcu_tasks, whose postscan waits for B's tasks_rcu_exit_srcu read side.
 * Three designs: src/scenarios/rcu_tasks_common.ts.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_PAUSE, SYS_SYNCHRONIZE_RCU_TASKS, SYS_UNSHARE, SYS_WAIT4 } from '../kernel/unistd.js';
import { CLONE_NEWPID } from '../kernel/sched_task.js';
import { init_program, prog, start_init } from './build.js';
import { COMMITS_RCU_TASKS, RCU_TASKS_BEFORE, RCU_TASKS_FIRST_FIX } from './rcu_tasks_common.js';
import { cycle_names, cycle_with, type CheckResult, type RunView, type Scenario, type Variant } from './types.js';

const VARIANTS_1: Variant[] = [
  { name: 'before-fix', bugs: RCU_TASKS_BEFORE, expect: 'deadlock', summary: 'tasks_rcu_exit_srcu held by the exiting reaper across zap_pid_ns_processes (before 28319d6dc5e2)' },
  { name: 'first-fix', bugs: RCU_TASKS_FIRST_FIX, expect: 'clean', summary: '28319d6dc5e2: the read side is dropped around the pid_allocated sleep' },
  { name: 'final-fix', bugs: 0, expect: 'clean', summary: '6b70399f9ef3 + 1612160b9127 (28319d6dc5e2 reverted by 9855c37edf00): per-CPU exit lists' },
];

function check_1(r: RunView): CheckResult {
  const keys = cycle_with(r, [
    { role: 'A', wchan: /synchronize_srcu|synchronize_rcu_tasks/ },
    { role: 'B', wchan: /zap_pid_ns_processes/, holds: /tasks_rcu_exit_srcu/ },
    { role: 'C', exit: 'zombie' },
  ]);
  if (!keys) return { matched: false, detail: `no A/B/C cycle (${r.graph?.cycles.length ?? 0} cycles)` };
  return {
    matched: true, keys,
    detail: `${cycle_names(r, keys)}: A waits in synchronize_rcu_tasks (postscan synchronize_srcu) for B's tasks_rcu_exit_srcu read side, B in zap_pid_ns_processes for C's pid, zombie C for A to reap it (28319d6dc5e2)`,
  };
}

export const E1: Scenario = {
  id: '1',
  slug: 'zap-vs-rcu-tasks',
  title: 'zap_pid_ns_processes() vs synchronize_rcu_tasks(): the reaper sleeps in the tasks_rcu_exit_srcu read side',
  year: '2023',
  kind: 'upstream-bug',
  commits: [COMMITS_RCU_TASKS.first!, COMMITS_RCU_TASKS.origin!, COMMITS_RCU_TASKS.lists!, COMMITS_RCU_TASKS.eliminate!, COMMITS_RCU_TASKS.revert!],
  variants: VARIANTS_1,
  defaultVariant: 'before-fix',
  ncpus: 2,
  interleaving: [
    'A: unshare(CLONE_NEWPID); fork B (init of the new namespace); fork C (in it, child of A)',
    'B: do_exit -> exit_tasks_rcu_start (srcu read lock) -> exit_notify -> zap_pid_ns_processes: SIGKILL C, kernel_wait4 -> -ECHILD, sleep until pid_allocated == 1',
    'A: synchronize_rcu_tasks -> rcu_tasks_postscan -> synchronize_srcu(&tasks_rcu_exit_srcu): waits for B',
    'C: dies, a zombie only its parent A can reap: pid_allocated stays 2',
  ],
  expected: 'A waits for B (SRCU grace period vs the read side B holds), B for C (pid_allocated; freed when C is reaped), C for A (reaping by its parent)',
  pctDepth: 3,
  pctSteps: 170,
  build(m) {
    const b = prog(m, 'B', [[SYS_GETPID], [SYS_EXIT, 0]]);
    const c = prog(m, 'C', [[SYS_PAUSE]]);
    const a = prog(m, 'A', [
      [SYS_UNSHARE, CLONE_NEWPID], [SYS_FORK, 0, b, 0], [SYS_FORK, 0, c, 0], [SYS_SYNCHRONIZE_RCU_TASKS],
      [SYS_WAIT4, -1, 0], [SYS_WAIT4, -1, 0], [SYS_EXIT, 0],
    ]);
    start_init(m, prog(m, 'init', init_program([a], 2)));
  },
  check: check_1,
};

/**
 * Catalog entries 1 and 2: an exiting pid-namespace init inside the RCU-tasks exit read side
 * (exit_tasks_rcu_start .. _finish in do_exit) while another task waits for an RCU-tasks grace
 * period (src/rcu/tasks.ts). Three designs, behind two switches:
 * - before any fix (BUG_RCU_TASKS_EXIT_SRCU | BUG_ZAP_HOLDS_SRCU): the exit read side is
 *   tasks_rcu_exit_srcu and rcu_tasks_postscan waits for it with synchronize_srcu; the reaper
 *   sleeps in zap_pid_ns_processes holding it;
 * - first fix, 28319d6dc5e2 (BUG_RCU_TASKS_EXIT_SRCU): zap_pid_ns_processes drops the read side
 *   around its pid_allocated sleep (exit_tasks_rcu_stop/start) - but not in its kernel_wait4 loop;
 * - final fix, 6b70399f9ef3 + 1612160b9127, with 28319d6dc5e2 reverted by 9855c37edf00 (no
 *   switch): exiting tasks are on per-CPU lists and an exiting task that sleeps voluntarily is
 *   in an RCU-tasks quiescent state.
 *
 * Entry 1 (the 28319d6dc5e2 message): A unshares CLONE_NEWPID and forks B (the namespace's init)
 * and C; B exits, kills C, finds no child of its own to wait for and sleeps until pid_allocated
 * drops; C dies and stays a zombie only A can reap; A is in synchronize_rcu_tasks.
 * Entry 2 (Chen Zhongjin's 2024 report; fixed by 1612160b9127): A is kprobe_optimizer holding
 * kprobe_mutex across synchronize_rcu_tasks; B is the exiting init of a namespace, in
 * kernel_wait4 for its child C; C is in perf_kprobe_init waiting for kprobe_mutex, an
 * uninterruptible sleep that B's SIGKILL does not end.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import {
  SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_KPROBE_OPTIMIZER, SYS_PAUSE, SYS_PERF_KPROBE_INIT, SYS_SYNCHRONIZE_RCU_TASKS,
  SYS_SET_SIGCHLD_IGN, SYS_UNSHARE, SYS_WAIT4,
} from '../kernel/syscalls.js';
import { BUG_RCU_TASKS_EXIT_SRCU, BUG_ZAP_HOLDS_SRCU } from '../kernel/bugs.js';
import { CLONE_NEWPID } from '../kernel/sched_task.js';
import { halt, prog, start_init, type Insn } from './build.js';
import { cycle_names, cycle_with, type CheckResult, type CommitRef, type RunView, type Scenario, type Variant } from './types.js';

const BEFORE = BUG_RCU_TASKS_EXIT_SRCU | BUG_ZAP_HOLDS_SRCU;
const FIRST = BUG_RCU_TASKS_EXIT_SRCU;

export const COMMITS_RCU_TASKS: Record<string, CommitRef> = {
  first: {
    id: '28319d6dc5e2', subject: 'rcu-tasks: Fix synchronize_rcu_tasks() VS zap_pid_ns_processes()', author: 'Frederic Weisbecker', year: 2023,
    role: 'fix', status: 'verified', note: '5.10 stable backport with [ Upstream commit 28319d6dc5e2ffefa452c2377dd0f71621b5bff0 ], message and diff; Fixes: 3f95aa81d265',
  },
  lists: {
    id: '6b70399f9ef3', subject: 'rcu-tasks: Maintain lists to eliminate RCU-tasks/do_exit() deadlocks', author: 'Paul E. McKenney', year: 2024,
    role: 'fix', status: 'verified', note: '6.1 AUTOSEL and 6.6 stable backports',
  },
  eliminate: {
    id: '1612160b9127', subject: 'rcu-tasks: Eliminate deadlocks involving do_exit() and RCU tasks', author: 'Paul E. McKenney', year: 2024,
    role: 'fix', status: 'verified', note: '6.6/6.7/6.8 backports; cited by the revert',
  },
  revert: {
    id: '9855c37edf00', subject: 'Revert "rcu-tasks: Fix synchronize_rcu_tasks() VS zap_pid_ns_processes()"', author: 'Frederic Weisbecker', year: 2024,
    role: 'revert', status: 'verified', note: '6.10 AUTOSEL backport and the original post',
  },
  rt: {
    id: '0bb11a372fc8', subject: 'rcu-tasks: Maintain real-time response in rcu_tasks_postscan()', author: 'Paul E. McKenney', year: 2024,
    role: 'related', status: 'verified', note: '6.8 AUTOSEL backport',
  },
  origin: {
    id: '3f95aa81d265', subject: 'rcu: Make TASKS_RCU handle tasks that are almost done exiting', year: 2014,
    role: 'bug', status: 'partial', idStatus: 'verified', note: 'id and subject from the Fixes: tag of 28319d6dc5e2; the commit itself was not read',
  },
  report: {
    id: '', subject: 'kprobes: Use synchronize_rcu_tasks_rude in kprobe_optimizer (report, not merged)', author: 'Chen Zhongjin', year: 2024,
    role: 'report', status: 'verified', note: 'the A/B/C diagram with kprobe_mutex (docs/catalog-sources.md entry 2)',
  },
};

const VARIANTS_1: Variant[] = [
  { name: 'before-fix', bugs: BEFORE, expect: 'deadlock', summary: 'tasks_rcu_exit_srcu held by the exiting reaper across zap_pid_ns_processes (before 28319d6dc5e2)' },
  { name: 'first-fix', bugs: FIRST, expect: 'clean', summary: '28319d6dc5e2: the read side is dropped around the pid_allocated sleep' },
  { name: 'final-fix', bugs: 0, expect: 'clean', summary: '6b70399f9ef3 + 1612160b9127 (28319d6dc5e2 reverted by 9855c37edf00): per-CPU exit lists' },
];

const VARIANTS_2: Variant[] = [
  { name: 'before-fix', bugs: BEFORE, expect: 'deadlock', summary: 'tasks_rcu_exit_srcu held by the exiting reaper across zap_pid_ns_processes (before 28319d6dc5e2)' },
  { name: 'first-fix', bugs: FIRST, expect: 'deadlock', summary: '28319d6dc5e2 only: the read side is still held in the kernel_wait4 loop' },
  { name: 'final-fix', bugs: 0, expect: 'clean', summary: '6b70399f9ef3 + 1612160b9127: a voluntarily sleeping exiting task is not a holdout' },
];

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

function check_2(r: RunView): CheckResult {
  const keys = cycle_with(r, [
    { role: 'A', wchan: /synchronize_srcu|synchronize_rcu_tasks/, holds: /kprobe_mutex/ },
    { role: 'B', wchan: /do_wait/, holds: /tasks_rcu_exit_srcu/ },
    { role: 'C', wchan: /mutex_lock/ },
  ]);
  if (!keys) return { matched: false, detail: `no kprobe_mutex A/B/C cycle (${r.graph?.cycles.length ?? 0} cycles)` };
  return {
    matched: true, keys,
    detail: `${cycle_names(r, keys)}: A holds kprobe_mutex across synchronize_rcu_tasks and waits for B's tasks_rcu_exit_srcu read side, B waits in zap_pid_ns_processes' kernel_wait4 for C, C waits for kprobe_mutex (report of 2024; fixed by 1612160b9127)`,
  };
}

export const E1: Scenario = {
  id: '1',
  slug: 'zap-vs-rcu-tasks',
  title: 'zap_pid_ns_processes() vs synchronize_rcu_tasks(): the reaper sleeps in the tasks_rcu_exit_srcu read side',
  year: '2023',
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

export const E2: Scenario = {
  id: '2',
  slug: 'kprobe-mutex-rcu-tasks',
  title: 'the hole left by 28319d6dc5e2: kprobe_mutex held across synchronize_rcu_tasks, the reaper in kernel_wait4',
  year: '2024',
  commits: [COMMITS_RCU_TASKS.eliminate!, COMMITS_RCU_TASKS.lists!, COMMITS_RCU_TASKS.revert!, COMMITS_RCU_TASKS.first!, COMMITS_RCU_TASKS.rt!, COMMITS_RCU_TASKS.report!],
  variants: VARIANTS_2,
  defaultVariant: 'first-fix',
  ncpus: 2,
  interleaving: [
    'A (kprobe_optimizer): mutex_lock(&kprobe_mutex); synchronize_rcu_tasks(): waits for tasks_rcu_exit_srcu readers',
    'B (exiting init): do_exit -> exit_tasks_rcu_start -> zap_pid_ns_processes: SIGKILL C; kernel_wait4() waits for C to exit',
    'C (perf_kprobe_init): mutex_lock(&kprobe_mutex): uninterruptible, SIGKILL pending',
  ],
  expected: 'A (holds kprobe_mutex) waits for B (SRCU read side), B waits in kernel_wait4 for C to exit, C waits for kprobe_mutex held by A',
  pctDepth: 3,
  pctSteps: 290,
  build(m) {
    const c = prog(m, 'C', [[SYS_PERF_KPROBE_INIT], [SYS_EXIT, 0]]);
    const b = prog(m, 'B', [[SYS_FORK, 0, c, 0], [SYS_GETPID], [SYS_EXIT, 0]]);
    const p = prog(m, 'P', [[SYS_UNSHARE, CLONE_NEWPID], [SYS_FORK, 0, b, 0], [SYS_WAIT4, -1, 0], [SYS_EXIT, 0]]);
    const a = prog(m, 'A', [[SYS_KPROBE_OPTIMIZER], [SYS_EXIT, 0]]);
    start_init(m, prog(m, 'init', init_program([a, p], 2)));
  },
  check: check_2,
};

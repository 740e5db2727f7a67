/**
 * Catalog entry 2: the hole 28319d6dc5e2 left (Chen Zhongjin's 2024 report, "kprobes: Use
 * synchronize_rcu_tasks_rude in kprobe_optimizer"; fixed in RCU Tasks by 6b70399f9ef3 +
 * 1612160b9127, which made 28319d6dc5e2 unnecessary: reverted by 9855c37edf00). A is
 * kprobe_optimizer holding kprobe_mutex across synchronize_rcu_tasks; B is the exiting init of a
 * namespace, in zap_pid_ns_processes' kernel_wait4 loop for its child C (the first fix dropped the
 * read side only in the later pid_allocated loop); C is in perf_kprobe_init waiting for
 * kprobe_mutex, an uninterruptible sleep that B's SIGKILL does not end (src/kernel/kprobes.ts).
 * Three designs: src/scenarios/rcu_tasks_common.ts.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_KPROBE_OPTIMIZER, SYS_PERF_KPROBE_INIT, SYS_UNSHARE, SYS_WAIT4 } from '../kernel/unistd.js';
import { CLONE_NEWPID } from '../kernel/sched_task.js';
import { init_program, prog, start_init } from './build.js';
import { COMMITS_RCU_TASKS, RCU_TASKS_BEFORE, RCU_TASKS_FIRST_FIX } from './rcu_tasks_common.js';
import { cycle_names, cycle_with, type CheckResult, type RunView, type Scenario, type Variant } from './types.js';

const VARIANTS_2: Variant[] = [
  { name: 'before-fix', bugs: RCU_TASKS_BEFORE, expect: 'deadlock', summary: 'tasks_rcu_exit_srcu held by the exiting reaper across zap_pid_ns_processes (before 28319d6dc5e2)' },
  { name: 'first-fix', bugs: RCU_TASKS_FIRST_FIX, expect: 'deadlock', summary: '28319d6dc5e2 only: the read side is still held in the kernel_wait4 loop' },
  { name: 'final-fix', bugs: 0, expect: 'clean', summary: '6b70399f9ef3 + 1612160b9127: a voluntarily sleeping exiting task is not a holdout' },
];

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

export const E2: Scenario = {
  id: '2',
  slug: 'kprobe-mutex-rcu-tasks',
  title: 'the hole left by 28319d6dc5e2: kprobe_mutex held across synchronize_rcu_tasks, the reaper in kernel_wait4',
  year: '2024',
  kind: 'upstream-bug',
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

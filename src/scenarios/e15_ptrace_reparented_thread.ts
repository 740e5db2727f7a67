/**
 * Catalog entry 15: ptrace_reparented() vs a tracer thread of the real parent's own group
 * (0347e1773909, "ptrace: ptrace_reparented() should check same_thread_group()", Oleg Nesterov).
 * "ptrace_reparented() naively does parent != real_parent, this means it returns true even if the
 * tracer _is_ the real parent." M forks C; M's thread Th attaches to C; M kills C and reaps it
 * (do_wait scans Th's ptraced list: wait_task_zombie sees a "reparented" tracee, reports it and
 * hands it back to its real parent M as a zombie), and a second wait4(C) reports the same death
 * again: "without the patch wait4(WEXITED) succeeds twice and reports WTERMSIG(stat) == SIGKILL".
 * The observation is user space's (SYS_ASSERT_WAIT_ECHILD), in the violation log.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_ASSERT_WAIT_ECHILD, SYS_EXIT, SYS_EXIT_GROUP, SYS_FORK, SYS_GETPID, SYS_KILL, SYS_PAUSE, SYS_PTRACE, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_PTRACE_REPARENTED_NAIVE } from '../config/bugs.js';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM } from '../kernel/clone_flags.js';
import { SIGKILL } from '../kernel/sched_task.js';
import { PTRACE_ATTACH } from '../kernel/ptrace.js';
import { INV_WAIT_REAPED_TWICE } from '../kernel/user_assertions.js';
import { V_INVARIANT } from '../locking/violations.js';
import { halt, prog, repeat, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';


/** init is pid 1, M pid 2, C pid 3 (M forks C before it creates the thread Th). */
const C_PID = 3;

function check_15(r: RunView): CheckResult {
  const v = r.violations.find((x) => x.kind === V_INVARIANT && x.a === INV_WAIT_REAPED_TWICE);
  if (!v) return { matched: false, detail: `no second report of a reaped child (${r.violations.length} violations)` };
  return {
    matched: true,
    detail: `M's second wait4(pid ${v.b}) reported the dead C again (status ${v.c}): traced by M's own thread Th, C was "reparented" for ptrace_reparented() (parent != real_parent), so wait_task_zombie handed it back to M as a zombie after reporting it`,
  };
}

export const E15: Scenario = {
  id: '15',
  slug: 'ptrace-reparented-thread',
  title: 'ptrace_reparented() vs a tracer thread of the real parent: one death reported twice by wait4',
  year: 'date not read',
  kind: 'upstream-bug',
  commits: [
    {
      id: '0347e1773909', subject: 'ptrace: ptrace_reparented() should check same_thread_group()', author: 'Oleg Nesterov', year: 0,
      role: 'fix', status: 'partial', idStatus: 'verified',
      note: 'id (full 0347e17739095c58c0194fed6a61aced3536d258), subject, author, message and the start of the include/linux/ptrace.h diff read on a gitiles commit page; Acked-by Tejun Heo; the date was not read (year 0 = unknown)',
      source: 'pages search: gerrit-public.fairphone.software/plugins/gitiles/kernel/msm-4.9/+/0347e17739095c58c0194fed6a61aced3536d258^!/include/linux/ptrace.h',
    },
  ],
  variants: [
    { name: 'parent-ne-real-parent', bugs: BUG_PTRACE_REPARENTED_NAIVE, expect: 'violation', summary: 'ptrace_reparented(): child->parent != child->real_parent' },
    { name: 'same-thread-group', bugs: 0, expect: 'clean', summary: '0347e1773909: !same_thread_group(child->parent, child->real_parent)' },
  ],
  defaultVariant: 'parent-ne-real-parent',
  ncpus: 2,
  interleaving: [
    'M: fork C (C pauses); clone(CLONE_THREAD) Th; Th: ptrace(PTRACE_ATTACH, C)',
    'M: kill(C, SIGKILL); C exits, a zombie traced by Th (M\'s group)',
    'M: wait4(-1): do_wait scans Th\'s ptraced list: wait_task_zombie reports C, and as ptrace_reparented(C) it unlinks C and hands it back to M as a zombie',
    'M: wait4(C): reports C a second time',
  ],
  expected: 'M\'s second wait4(C) returns C again (one death reported twice)',
  pctDepth: 3,
  pctSteps: 250,
  build(m) {
    const c = prog(m, 'C', [[SYS_PAUSE], [SYS_EXIT, 0]]);
    const th = prog(m, 'Th', [[SYS_PTRACE, PTRACE_ATTACH, C_PID], halt]);
    const mm = prog(m, 'M', [
      [SYS_FORK, 0, c, 0],
      [SYS_FORK, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, th, 0],
      ...repeat(2, [[SYS_GETPID]], 6), // Th attaches meanwhile (a kill before the attach is a clean run)
      [SYS_KILL, C_PID, SIGKILL],
      [SYS_WAIT4, -1, 0],
      [SYS_WAIT4, C_PID, 0],
      [SYS_ASSERT_WAIT_ECHILD, C_PID],
      [SYS_EXIT_GROUP, 0],
    ]);
    start_init(m, prog(m, 'init', [[SYS_FORK, 0, mm, 0], [SYS_WAIT4, -1, 0], halt]));
  },
  check: check_15,
};

/**
 * Catalog entry 5: the namespace's init must be reaped last ("pidns: guarantee that the pidns init
 * will be the last pidns process reaped", 2012; id unverified). Three designs: before the fix
 * (no wait after kernel_wait4), the fix as it was (v3.5: zap waits for its ->children list to empty,
 * __unhash_process wakes it) and today's (the pid_allocated count, free_pid wakes it). Without a
 * wait, zap_pid_ns_processes returns as soon as kernel_wait4 says -ECHILD, which it also says while
 * autoreaped (EXIT_DEAD) children are still being released: waitpid() on the init then returns
 * while pids of the namespace still exist. The observation is user space's (SYS_PIDNS_ASSERT_EMPTY,
 * src/kernel/user_assertions.ts, right after waitpid returned).
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_PAUSE, SYS_PIDNS_ASSERT_EMPTY, SYS_UNSHARE, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_ZAP_NO_PID_WAIT, BUG_ZAP_WAIT_CHILDREN } from '../config/bugs.js';
import { CLONE_NEWPID, INV_TASK_LIST_CORRUPTION, LD_RELEASE_WITH_CHILDREN } from '../kernel/sched_task.js';
import { G, LIST_DEBUG } from '../mm/layout.js';
import { INV_PIDNS_INIT_NOT_LAST } from '../kernel/user_assertions.js';
import { V_INVARIANT } from '../locking/violations.js';
import { init_program, prog, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';


function check_5(r: RunView): CheckResult {
  const v = r.violations.find((x) => x.kind === V_INVARIANT && x.a === INV_PIDNS_INIT_NOT_LAST);
  // The same event seen a step earlier, in the kernel: P's wait releases R while the autoreaped X
  // is still on R's children list (today's find_child_reaper leaves an exiting init's children
  // where they are, since zap_pid_ns_processes waited for every pid; X's later list_del_init would
  // write into the freed R). The task-list checks of src/kernel/sched_task.ts report it
  // (LD_RELEASE_WITH_CHILDREN: released task, then the child still listed), which stops the run
  // before user space's assertion after waitpid. Entry 11's check reads the same report.
  const rel = r.violations.find((x) => x.kind === V_INVARIANT && x.a === INV_TASK_LIST_CORRUPTION && x.b === r.roles.get('R'));
  if (!v && rel && r.view.m[r.view.kg + G.list_debug + LIST_DEBUG.check] === LD_RELEASE_WITH_CHILDREN) {
    return {
      matched: true,
      detail: 'P\'s waitpid() reaped the namespace\'s init R while its autoreaped EXIT_DEAD child X was still on R\'s children list, its pid still allocated (release_task of R with a child left: the task-list check saw it before user space could): the namespace\'s init was not the last process reaped',
    };
  }
  if (!v) return { matched: false, detail: `no "init reaped before its namespace emptied" observation (${r.violations.length} violations)` };
  return {
    matched: true,
    detail: `P's waitpid() returned the namespace's init R while ${v.c} pid(s) of the namespace were still allocated (an autoreaped EXIT_DEAD child, invisible to kernel_wait4): the namespace's init was not the last process reaped`,
  };
}

export const E5: Scenario = {
  id: '5',
  slug: 'init-reaped-last',
  title: 'the pid-namespace init must be reaped last: waitpid() returns while pids of the namespace remain',
  year: '2012',
  kind: 'upstream-bug',
  commits: [
    {
      id: '6347e9009104', subject: 'pidns: guarantee that the pidns init will be the last pidns process reaped', author: 'Eric W. Biederman', year: 2012,
      role: 'fix', status: 'partial', idStatus: 'unverified',
      note: 'subject and date verified: the patch pidns-guarantee-that-the-pidns-init-will-be-the-last-pidns-process-reaped.patch is in the -mm queue of 2012-06-19 (against 3.5-rc3, ahead of mm.patch), beside pidns-find_new_reaper-can-no-longer-switch-to-init_pid_nschild_reaper.patch; the id and the author were not found; the code it added (the ->children wait in zap_pid_ns_processes, the wake-up in __unhash_process) read in a v3.5 tree (garghub/TROVON linux_kernel/v3.5 pid_namespace.c, exit.c), absent from v3.4 (00c10bc13cdb)',
      source: 'mmotm 2012-06-19 series list (find_string id 35094551363); garghub/TROVON dataset/codebase_cleansed/linux_kernel/v3.5/{pid_namespace,exit}.c (read_file ids 24603113584, 25008923786)',
    },
  ],
  variants: [
    { name: 'no-pid-wait', bugs: BUG_ZAP_NO_PID_WAIT, expect: 'violation', summary: 'zap returns after kernel_wait4 says -ECHILD (no wait for pid_allocated)' },
    { name: 'children-wait', bugs: BUG_ZAP_WAIT_CHILDREN, expect: 'clean', summary: 'the cited fix (v3.5): zap sleeps until current->children is empty; __unhash_process wakes the exiting child_reaper' },
    { name: 'pid-wait', bugs: 0, expect: 'clean', summary: 'today: zap waits until pid_allocated == init_pids (free_pid wakes it)' },
  ],
  defaultVariant: 'no-pid-wait',
  ncpus: 2,
  interleaving: [
    'R (init) exits: zap sets SIGCHLD to SIG_IGN and kills its child X',
    'X exits: its parent ignores SIGCHLD, so it is autoreaped: EXIT_DEAD, then release_task -> free_pid later',
    'R\'s kernel_wait4 does not see EXIT_DEAD tasks: -ECHILD; without the pid wait R exits at once',
    'P\'s waitpid() returns R while X\'s pid is still allocated in the namespace',
  ],
  expected: 'waitpid() on the namespace\'s init returns while pids of the namespace are still allocated (init not reaped last)',
  pctDepth: 3,
  pctSteps: 160,
  build(m) {
    const x = prog(m, 'X', [[SYS_PAUSE]]);
    const r = prog(m, 'R', [[SYS_FORK, 0, x, 0], [SYS_GETPID], [SYS_EXIT, 0]]);
    const p = prog(m, 'P', [[SYS_UNSHARE, CLONE_NEWPID], [SYS_FORK, 0, r, 0], [SYS_WAIT4, -1, 0], [SYS_PIDNS_ASSERT_EMPTY], [SYS_EXIT, 0]]);
    start_init(m, prog(m, 'init', init_program([p], 2)));
  },
  check: check_5,
};

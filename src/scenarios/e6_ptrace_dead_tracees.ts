/**
 * Catalog entry 6: ptraced EXIT_DEAD children ("kernel/exit.c: release ptraced tasks before
 * zap_pid_ns_processes", 2019; id unverified). exit_ptrace puts the exiting reaper's dead zombie
 * tracees on exit_notify's local list, which was released only after zap_pid_ns_processes
 * returned - and zap waits for their pids: the reaper waits for itself.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_KILL, SYS_PAUSE, SYS_PTRACE, SYS_SET_SIGCHLD_IGN, SYS_UNSHARE, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_PTRACE_DEAD_LIST } from '../config/bugs.js';
import { CLONE_NEWPID, SIGKILL } from '../kernel/sched_task.js';
import { PTRACE_SEIZE } from '../kernel/ptrace.js';
import { init_program, prog, start_init } from './build.js';
import { cycle_names, cycle_with, type CheckResult, type RunView, type Scenario } from './types.js';

function check_6(r: RunView): CheckResult {
  const keys = cycle_with(r, [{ role: 'R', wchan: /zap_pid_ns_processes/ }, { role: 'X', exit: 'dead' }]);
  if (!keys) return { matched: false, detail: 'no cycle between the reaper R and its EXIT_DEAD tracee X' };
  return {
    matched: true, keys,
    detail: `${cycle_names(r, keys)}: R waits in zap_pid_ns_processes for the pid of its dead tracee X, which sits on R's own exit_notify dead list, released only after zap returns`,
  };
}

export const E6: Scenario = {
  id: '6',
  slug: 'ptrace-dead-tracees',
  title: 'ptraced EXIT_DEAD children on the exiting reaper\'s local list: zap_pid_ns_processes waits for itself',
  year: '2019',
  kind: 'upstream-bug',
  commits: [
    {
      id: '8fb335e07837', subject: 'kernel/exit.c: release ptraced tasks before zap_pid_ns_processes', author: 'Andrei Vagin', year: 2019,
      role: 'fix', status: 'partial', idStatus: 'unverified',
      note: 'subject and date verified: the patch (kernel-release-ptraced-tasks-before-zap_pid_ns_processes.patch) is in the -mm queue of 2019-01-07 (against 5.0-rc1) and of 2019-02-01 (against 5.0-rc4, ahead of mm.patch), and the subject is listed in openSUSE\'s update of Leap 42.3 to 4.4.175 (bnc#1012382, their stable-update bug); the id and the author were not found (the year was 2017 here before: wrong); the code change (release the dead list before zap) is verified',
      source: 'mmotm 2019-01-07 and 2019-02-01 series lists (find_string ids 23962783490, 25922798065); openSUSE-2019-274 / -203 kernel update texts (ids 10037584150, 10619373684)',
    },
    {
      id: '7c8bd2322c7f', subject: 'exit: ptrace: shift "reap dead" code from exit_ptrace() to forget_original_parent()', author: 'Oleg Nesterov', year: 2014,
      role: 'bug', status: 'partial', idStatus: 'verified',
      note: 'id, subject, message and sign-off read on a gitiles mirror; the year (believed 2014) was not read; that it introduced the bug is reasoned from the message ("pass dead_children list to exit_ptrace() and remove another release_task() loop"), no Fixes: tag naming it was read',
      source: 'gerrit-public.fairphone.software/plugins/gitiles/kernel/msm-4.9/+/7c8bd2322c7fd973d089b27de55e29c92c667a06 (pages corpus)',
    },
  ],
  variants: [
    { name: 'dead-list-after-zap', bugs: BUG_PTRACE_DEAD_LIST, expect: 'deadlock', summary: 'exit_notify releases its dead list after zap_pid_ns_processes returns' },
    { name: 'dead-list-before-zap', bugs: 0, expect: 'clean', summary: 'find_child_reaper releases the dead tracees before zap_pid_ns_processes' },
  ],
  defaultVariant: 'dead-list-after-zap',
  ncpus: 2,
  interleaving: [
    'R (init, ignoring SIGCHLD) forks X and PTRACE_SEIZEs it; X is killed and becomes a traced zombie',
    'R exits: exit_ptrace detaches X: nobody else will reap it, so EXIT_DEAD on exit_notify\'s local dead list',
    'find_child_reaper -> zap_pid_ns_processes waits for pid_allocated == 1: X\'s pid is freed only by the release of that list, after zap',
  ],
  expected: 'R waits in zap_pid_ns_processes for the pid of its own EXIT_DEAD tracee X, which only R releases, after zap returns: R waits for itself',
  pctDepth: 3,
  pctSteps: 170,
  build(m) {
    const x = prog(m, 'X', [[SYS_PAUSE]]);
    // X is pid 2 of the new namespace (R's first child there).
    const r = prog(m, 'R', [[SYS_SET_SIGCHLD_IGN, 1], [SYS_FORK, 0, x, 0], [SYS_PTRACE, PTRACE_SEIZE, 2], [SYS_KILL, 2, SIGKILL], [SYS_GETPID], [SYS_EXIT, 0]]);
    const p = prog(m, 'P', [[SYS_UNSHARE, CLONE_NEWPID], [SYS_FORK, 0, r, 0], [SYS_WAIT4, -1, 0], [SYS_EXIT, 0]]);
    start_init(m, prog(m, 'init', init_program([p], 2)));
  },
  check: check_6,
};

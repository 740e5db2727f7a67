/**
 * Catalog entry 4: multi-threaded init ("pid: Handle the exit of a multi-threaded init.", 2013).
 * find_child_reaper moves child_reaper to a live thread when init's group leader exits, so the last
 * thread of the group - maybe not the leader - runs zap_pid_ns_processes while the zombie leader's
 * pid stays allocated until that very thread is gone (delay_group_leader). Waiting for
 * pid_allocated == 1 is then a wait for itself; the fix waits for
 * init_pids = thread_group_leader(me) ? 1 : 2.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_UNSHARE, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_ZAP_INIT_PIDS_ONE } from '../config/bugs.js';
import { CLONE_NEWPID, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM } from '../kernel/sched_task.js';
import { init_program, prog, start_init } from './build.js';
import { cycle_names, cycle_with, type CheckResult, type RunView, type Scenario } from './types.js';

function check_4(r: RunView): CheckResult {
  const keys = cycle_with(r, [{ role: 'T', wchan: /zap_pid_ns_processes/ }, { role: 'R', exit: 'zombie' }]);
  if (!keys) return { matched: false, detail: 'no cycle between the zapping thread T and the zombie leader R' };
  return {
    matched: true, keys,
    detail: `${cycle_names(r, keys)}: T, the last thread of init's group, waits in zap_pid_ns_processes for pid_allocated == 1, but the zombie group leader R keeps pid 1 until T itself is gone (init_pids = thread_group_leader ? 1 : 2)`,
  };
}

export const E4: Scenario = {
  id: '4',
  slug: 'multithreaded-init',
  title: 'multi-threaded pid-namespace init: the last thread zaps while the zombie leader keeps pid 1',
  year: '2013',
  kind: 'upstream-bug',
  commits: [
    {
      id: '751c644b95bb', subject: 'pid: Handle the exit of a multi-threaded init.', author: 'Eric W. Biederman', year: 2013, role: 'fix', status: 'partial', idStatus: 'unverified',
      note: 'subject verified in the 3.8.6 stable shortlog (April 2013); the id 751c644b95bb and the author were not found: unverified (searches of the second edition listed in docs/catalog-sources.md)',
      source: 'Linux 3.8.6 change list, 2013-04-14 (find_string id 37816835824)',
    },
  ],
  variants: [
    { name: 'init-pids-one', bugs: BUG_ZAP_INIT_PIDS_ONE, expect: 'deadlock', summary: 'zap waits for pid_allocated == 1 whichever thread runs it' },
    { name: 'init-pids-leader', bugs: 0, expect: 'clean', summary: 'init_pids = thread_group_leader(me) ? 1 : 2' },
  ],
  defaultVariant: 'init-pids-one',
  ncpus: 2,
  interleaving: [
    'R (init of the namespace) creates a thread T, then R (the group leader) exits alone: child_reaper moves to T, R is a zombie (delay_group_leader)',
    'T exits: the last thread of the group runs zap_pid_ns_processes',
    'pid_allocated is 2 (T and the zombie leader R); waiting for 1 waits for R\'s release, which waits for T',
  ],
  expected: 'T (zap_pid_ns_processes) waits for the zombie leader R\'s pid; R is released only after its last thread T is gone: T waits for itself',
  pctDepth: 3,
  pctSteps: 140,
  build(m) {
    const t = prog(m, 'T', [[SYS_GETPID], [SYS_GETPID], [SYS_EXIT, 0]]);
    const r = prog(m, 'R', [[SYS_FORK, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, t, 0], [SYS_EXIT, 0]]);
    const p = prog(m, 'P', [[SYS_UNSHARE, CLONE_NEWPID], [SYS_FORK, 0, r, 0], [SYS_WAIT4, -1, 0], [SYS_EXIT, 0]]);
    start_init(m, prog(m, 'init', init_program([p], 2)));
  },
  check: check_4,
};

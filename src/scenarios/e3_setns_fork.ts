/**
 * Catalog entry 3: setns()+fork() into a dying namespace vs zap_pid_ns_processes() (3fd372262166,
 * Kirill Tkhai, 2017). A process outside the namespace whose pid_ns_for_children is the namespace
 * (setns through /proc/PID/ns/pid_for_children) allocates a pid before the reaper disables
 * allocation (alloc_pid sees PIDNS_ADDING) and attaches the child after the reaper's kill pass
 * (which skips pids without a task). The child lives on, unkilled, and the reaper waits for its pid
 * forever. Fixed by re-checking PIDNS_ADDING under tasklist_lock and siglock in copy_process
 * (-ENOMEM). init ignores SIGCHLD here, so it reaps orphans at once and waits for nobody.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_OPEN_NS, SYS_PAUSE, SYS_SETNS, SYS_UNSHARE, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_SETNS_FORK_NO_RECHECK } from '../config/bugs.js';
import { CLONE_NEWPID, SIGKILL } from '../kernel/sched_task.js';
import { FD_FIRST, NSK_PID_FOR_CHILDREN } from '../kernel/nsfs.js';
import { TASK } from '../mm/layout.js';
import { init_program, prog, repeat, start_init } from './build.js';
import { chain_with, nodeOfRole, type CheckResult, type RunView, type Scenario } from './types.js';

const SIGKILL_MASK = 1 << (SIGKILL - 1);
/** Forks S makes into the namespace (each one a chance to land in the window). */
const FORKS = 8;

function check_3(r: RunView): CheckResult {
  const keys = chain_with(r, [{ role: 'R', wchan: /zap_pid_ns_processes/ }, { role: 'X' }]);
  if (!keys) return { matched: false, detail: 'the reaper R is not waiting in zap_pid_ns_processes for X' };
  const x = r.roles.get('X')!;
  const m = r.view.m;
  const killed = (m[x + TASK.pending]! & SIGKILL_MASK) !== 0 || m[x + TASK.exit_state] !== 0;
  const xn = nodeOfRole(r, 'X')!;
  if (killed) return { matched: false, detail: 'R waits for X, but X was killed (it is exiting): not the setns+fork race' };
  return {
    matched: true, keys,
    detail: `R (init of the dying namespace) waits in zap_pid_ns_processes for the pid of X [NSpid ${xn.task!.nspid.join(' ')}], forked by S after setns into the namespace and attached after R's kill pass: never killed, it ${xn.task!.wchan === 'pause' ? 'sleeps in pause()' : 'runs on'} (3fd372262166)`,
  };
}

export const E3: Scenario = {
  id: '3',
  slug: 'setns-fork-dying-ns',
  title: 'setns()+fork() into a dying pid namespace vs zap_pid_ns_processes(): a child attached after the kill pass',
  year: '2017',
  kind: 'upstream-bug',
  commits: [
    {
      id: '3fd372262166', subject: "pid_ns: Fix race between setns'ed fork() and zap_pid_ns_processes()", author: 'Kirill Tkhai', year: 2017,
      role: 'fix', status: 'partial', note: 'id and author verified by a git blame of kernel/fork.c (2017-05-12); the subject was not found: unverified',
    },
    {
      id: 'e8cfbc245e24', subject: '(subject not read) the IDR conversion that renamed nr_hashed & PIDNS_HASH_ADDING to pid_allocated & PIDNS_ADDING', author: 'Gargi Sharma', year: 2017,
      role: 'related', status: 'partial', note: 'id, author and date from the same git blame; the subject was not read',
    },
  ],
  variants: [
    { name: 'no-recheck', bugs: BUG_SETNS_FORK_NO_RECHECK, expect: 'hang', summary: 'copy_process does not re-check PIDNS_ADDING under tasklist_lock + siglock' },
    { name: 'recheck', bugs: 0, expect: 'clean', summary: '3fd372262166: -ENOMEM when the namespace stopped adding pids' },
  ],
  defaultVariant: 'no-recheck',
  ncpus: 2,
  interleaving: [
    'S: setns(/proc/P/ns/pid_for_children): pid_ns_for_children = the namespace whose init is R; fork(): alloc_pid sees PIDNS_ADDING',
    'R: exits: zap_pid_ns_processes: disable_pid_allocation; kill pass over the idr: X has no task yet',
    'S: copy_process: write_lock_irq(&tasklist_lock), attach_pid: X lives in the dying namespace, unkilled',
    'R: kernel_wait4 -> -ECHILD (X is S\'s child), then waits for pid_allocated == 1 forever',
  ],
  expected: 'the reaper R waits in zap_pid_ns_processes for the pid of X, which was attached after the kill pass and never killed (no cycle: X does not know)',
  pctDepth: 3,
  pctSteps: 350,
  pctShare: 0.75,
  build(m) {
    const r = prog(m, 'R', [[SYS_GETPID], [SYS_GETPID], [SYS_EXIT, 0]]);
    const p = prog(m, 'P', [[SYS_UNSHARE, CLONE_NEWPID], [SYS_FORK, 0, r, 0], [SYS_WAIT4, -1, 0], [SYS_EXIT, 0]]);
    const x = prog(m, 'X', [[SYS_PAUSE]]);
    // S: open /proc/2/ns/pid_for_children (P is pid 2), setns into it, fork X (a few times), exit.
    const s = prog(m, 'S', [
      [SYS_OPEN_NS, 2, NSK_PID_FOR_CHILDREN], [SYS_SETNS, FD_FIRST, CLONE_NEWPID],
      ...repeat(2, [[SYS_FORK, 0, x, 0]], FORKS), [SYS_EXIT, 0],
    ]);
    start_init(m, prog(m, 'init', init_program([p, s], -1)));
  },
  check: check_3,
};

/**
 * Catalog entry 13: pidfd_poll vs exit_notify's late exit_state (b191d6491be6, "pidfd: fix a poll
 * race when setting exit_state", Suren Baghdasaryan, 2019). do_notify_parent wakes the pidfd
 * pollers (do_notify_pidfd) before exit_notify stores tsk->exit_state; pidfd_poll reads exit_state
 * without tasklist_lock. A poller woken by that wake re-polls at once, sees exit_state == 0 and
 * sleeps again, and nothing wakes it any more: "This causes a polling task to wait forever, since
 * poll blocks because exit_state is 0 and the waiting task is not notified again." Fixed by
 * setting exit_state = EXIT_ZOMBIE before do_notify_parent. The verdict is the generic detector's:
 * the poller P sleeps in pidfd_poll with no waker (a hang without a cycle), its child a zombie.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_PIDFD_OPEN, SYS_POLL_PIDFD, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_PIDFD_POLL_EXIT_STATE } from '../config/bugs.js';
import { EXIT_ZOMBIE } from '../kernel/sched_task.js';
import { FD_FIRST } from '../kernel/nsfs.js';
import { PID, TASK } from '../mm/layout.js';
import { halt, prog, repeat, start_init } from './build.js';
import { nodeOfRole, type CheckResult, type RunView, type Scenario } from './types.js';

/** Children P forks and polls (each exit a chance for the poll to straddle the window). */
const CHILDREN = 4;
/** init is pid 1 and forks P first (pid 2): P's children are pids 3 .. 2 + CHILDREN. */
const FIRST_CHILD_PID = 3;

function check_13(r: RunView): CheckResult {
  const n = nodeOfRole(r, 'P');
  if (!n?.task || !/pidfd_poll/.test(n.task.wchan)) return { matched: false, detail: 'P is not asleep in pidfd_poll' };
  if (!r.graph!.blocked.includes(n.key)) return { matched: false, detail: 'P sleeps in pidfd_poll but the detector does not call it blocked' };
  const m = r.view.m;
  const p = r.roles.get('P')!;
  const pid = m[p + TASK.wait_obj]!;
  const task = pid ? m[pid + PID.task_pid]! : 0;
  if (!task || m[task + TASK.exit_state] !== EXIT_ZOMBIE) return { matched: false, detail: 'P polls a pidfd whose task is not a zombie: not the lost pidfd wake-up' };
  return {
    matched: true,
    detail: `P sleeps in pidfd_poll on a child that is already a zombie: do_notify_pidfd woke it before exit_notify set exit_state, and its re-poll read 0 (b191d6491be6)`,
    keys: [n.key],
  };
}

export const E13: Scenario = {
  id: '13',
  slug: 'pidfd-poll-exit-state',
  title: 'pidfd_poll vs exit_notify: the pollers are woken before exit_state is set, and a poller sleeps forever',
  year: '2019',
  kind: 'upstream-bug',
  commits: [
    {
      id: 'b191d6491be6', subject: 'pidfd: fix a poll race when setting exit_state', author: 'Suren Baghdasaryan', year: 2019,
      role: 'fix', status: 'verified',
      note: 'id and subject cited by the stable backport of 30b692d3b390 ("Since commit b191d6491be6 (\\"pidfd: fix a poll race when setting exit_state\\")") and by Christian Brauner\'s core-process-v5.4 pull request; message and diff (exit_notify: tsk->exit_state = EXIT_ZOMBIE before do_notify_parent) in the LKML posting',
      source: 'stable mail (find_string id 36947587282), pull request (9781535478), LKML patch (38161186984), review thread (38222228908)',
    },
    {
      id: '30b692d3b390', subject: 'exit: make setting exit_state consistent', author: 'Christian Brauner', year: 2019,
      role: 'related', status: 'verified',
      note: 'the follow-up the model\'s fixed code already has (EXIT_DEAD only in the autoreap case); "[ Upstream commit 30b692d3b390c6fe78a5064be0c4bbd44a41be59 ]" in the AUTOSEL backports; id and subject in the for-linus-20190730 pull request',
      source: 'stable mail (find_string id 36947587282), pull request (45966707557)',
    },
  ],
  variants: [
    { name: 'exit-state-after-notify', bugs: BUG_PIDFD_POLL_EXIT_STATE, expect: 'hang', summary: 'tsk->exit_state = autoreap ? EXIT_DEAD : EXIT_ZOMBIE after do_notify_parent (do_notify_pidfd)' },
    { name: 'exit-state-before-notify', bugs: 0, expect: 'clean', summary: 'b191d6491be6: tsk->exit_state = EXIT_ZOMBIE before do_notify_parent' },
  ],
  defaultVariant: 'exit-state-after-notify',
  ncpus: 2,
  interleaving: [
    'P: fork C; pidfd_open(C); poll(pidfd): queued on pid->wait_pidfd, exit_state 0, sleeps',
    'C: exit_notify under write_lock_irq(&tasklist_lock): do_notify_parent -> do_notify_pidfd wakes P ...',
    'P: re-polls: pidfd_poll reads C->exit_state == 0 (no tasklist_lock), sleeps again',
    '... C: tsk->exit_state = EXIT_ZOMBIE: nobody wakes P again',
  ],
  expected: 'P sleeps in pidfd_poll forever on a child that is already a zombie (a hang: no task will wake it)',
  pctDepth: 3,
  pctSteps: 250,
  build(m) {
    const c = prog(m, 'C', [...repeat(0, [[SYS_GETPID]], 3), [SYS_EXIT, 0]]);
    const insns: Array<readonly number[]> = [];
    for (let i = 0; i < CHILDREN; i++) insns.push([SYS_FORK, 0, c, 0]);
    for (let i = 0; i < CHILDREN; i++) insns.push([SYS_PIDFD_OPEN, FIRST_CHILD_PID + i, 0]);
    for (let i = 0; i < CHILDREN; i++) insns.push([SYS_POLL_PIDFD, FD_FIRST + i]);
    for (let i = 0; i < CHILDREN; i++) insns.push([SYS_WAIT4, -1, 0]);
    insns.push([SYS_EXIT, 0]);
    const p = prog(m, 'P', insns);
    start_init(m, prog(m, 'init', [[SYS_FORK, 0, p, 0], [SYS_WAIT4, -1, 0], halt]));
  },
  check: check_13,
};

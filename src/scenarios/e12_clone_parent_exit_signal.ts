/**
 * Catalog entry 12: copy_process(CLONE_PARENT) races with the exiting ->real_parent (b4e00444cab4,
 * "fork: fix copy_process(CLONE_PARENT) race with the exiting ->real_parent", Eddy Wu, 2020;
 * CVE-2020-35508). "current->group_leader->exit_signal may change during copy_process() if
 * current->real_parent exits. Move the assignment inside tasklist_lock to avoid the race." C was
 * created by P with exit signal SIGKILL (clone's CSIGNAL byte); C clones D with CLONE_PARENT. If P
 * exits between D's copy of C's exit signal and D's attach under tasklist_lock, C has meanwhile
 * been reparented to the subreaper S (its exit signal reset to SIGCHLD), and D is attached as S's
 * child with exit signal SIGKILL: D's exit kills S. The observation is user space's: init's
 * wait4(S) says S was killed by SIGKILL, which nobody sent it (SYS_ASSERT_NOT_KILLED_BY, in the
 * violation log, like entry 5's).
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_ASSERT_NOT_KILLED_BY, SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_PRCTL, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_CLONE_PARENT_EXIT_SIGNAL } from '../config/bugs.js';
import { CLONE_PARENT, SIGKILL } from '../kernel/sched_task.js';
import { PR_SET_CHILD_SUBREAPER } from '../kernel/fork.js';
import { INV_KILLED_BY_EXIT_SIGNAL } from '../kernel/user_assertions.js';
import { V_INVARIANT } from '../locking/violations.js';
import { halt, prog, repeat, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';


/** CLONE_PARENT children C makes (each one a chance to straddle P's exit). */
const CLONES = 4;

function check_12(r: RunView): CheckResult {
  const v = r.violations.find((x) => x.kind === V_INVARIANT && x.a === INV_KILLED_BY_EXIT_SIGNAL);
  if (!v) return { matched: false, detail: `no "killed by a child's exit signal" observation (${r.violations.length} violations)` };
  return {
    matched: v.b === SIGKILL,
    detail: `init's wait4 reaped the subreaper S killed by signal ${v.b}: D, cloned by C with CLONE_PARENT while C's parent P exited, was attached to S with C's stale exit signal SIGKILL (copied before tasklist_lock)`,
  };
}

export const E12: Scenario = {
  id: '12',
  slug: 'clone-parent-exit-signal',
  title: 'copy_process(CLONE_PARENT) vs the exiting real_parent: a stale exit signal reaches the new parent (CVE-2020-35508)',
  year: '2020',
  kind: 'upstream-bug',
  commits: [
    {
      id: 'b4e00444cab4', subject: 'fork: fix copy_process(CLONE_PARENT) race with the exiting ->real_parent', author: 'Eddy Wu', year: 2020,
      role: 'fix', status: 'verified',
      note: 'message quoted in the stable backports ("commit b4e00444cab4c3f3fec876dc0cccc8cbb0d1a948 upstream"); Acked-by Oleg Nesterov; CVE-2020-35508',
      source: 'stable mails (find_string ids 28856362459, 28349780215), Linus on stable@ (29071645019), CVE advisory (68686817622), git blame of kernel/fork.c (43581709134)',
    },
  ],
  variants: [
    { name: 'signal-before-lock', bugs: BUG_CLONE_PARENT_EXIT_SIGNAL, expect: 'violation', summary: 'p->exit_signal = current->group_leader->exit_signal before write_lock_irq(&tasklist_lock)' },
    { name: 'signal-under-lock', bugs: 0, expect: 'clean', summary: 'b4e00444cab4: the assignment inside tasklist_lock, with p->real_parent' },
  ],
  defaultVariant: 'signal-before-lock',
  ncpus: 2,
  interleaving: [
    'S: prctl(PR_SET_CHILD_SUBREAPER), fork P; P: clone(SIGKILL) C (C\'s exit signal is SIGKILL), exit',
    'C: clone(CLONE_PARENT) D: copies C\'s exit signal (SIGKILL) ...',
    'P exits: C is reparented to S, its exit signal reset to SIGCHLD',
    '... D: write_lock_irq(&tasklist_lock): real_parent = C->real_parent = S, exit signal SIGKILL; D exits: S is killed',
  ],
  expected: 'the subreaper S, which created neither C nor D, is killed by SIGKILL: D\'s exit signal copied before tasklist_lock from a C that P\'s exit had already reparented',
  pctDepth: 3,
  pctSteps: 250,
  build(m) {
    const d = prog(m, 'D', [[SYS_EXIT, 0]]);
    const c = prog(m, 'C', [...repeat(0, [[SYS_FORK, CLONE_PARENT, d, 0]], CLONES), [SYS_EXIT, 0]]);
    const p = prog(m, 'P', [[SYS_FORK, SIGKILL, c, 0], [SYS_GETPID], [SYS_EXIT, 0]]);
    // S reaps whatever it gets (P, then C and the D's, reparented or CLONE_PARENT'ed to it).
    const s = prog(m, 'S', [[SYS_PRCTL, PR_SET_CHILD_SUBREAPER, 1], [SYS_FORK, 0, p, 0], ...repeat(2, [[SYS_WAIT4, -1, 0]], 2 + CLONES), [SYS_EXIT, 0]]);
    start_init(m, prog(m, 'init', [[SYS_FORK, 0, s, 0], [SYS_WAIT4, -1, 0], [SYS_ASSERT_NOT_KILLED_BY, SIGKILL], halt]));
  },
  check: check_12,
};

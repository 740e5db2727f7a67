/**
 * Catalog entry 11: ->child_reaper not changed when the namespace init's group leader exits
 * (950bbabb5a80, "pid_ns: (BUG 11391) change ->child_reaper when init->group_leader exits", 2008).
 * When the main thread of a multi-threaded namespace init exits first, orphans of the namespace
 * must go to a live thread of the init group, which becomes the child_reaper. Before the fix
 * child_reaper stayed the (zombie) main thread: orphans were reparented to it, and the last thread's
 * exit found child_reaper != itself, so the namespace was never zapped. The upstream symptom was an
 * oops on the zombie's cleared ->nsproxy in do_notify_parent; the model (today's do_notify_parent,
 * no nsproxy dereference) shows the root cause instead: an orphan left under a parent that exited
 * and was reaped, never killed, in a namespace whose init is gone - which the kernel audit at the
 * quiescent end reports (the task tree: real_parent not live), or, first, release_task of R with
 * X still on its children list (the task-list checks of src/kernel/sched_task.ts).
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_PAUSE, SYS_UNSHARE, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_CHILD_REAPER_NOT_MOVED } from '../config/bugs.js';
import { CLONE_NEWPID, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, INV_TASK_LIST_CORRUPTION, LD_RELEASE_WITH_CHILDREN } from '../kernel/sched_task.js';
import { G, LIST_DEBUG } from '../mm/layout.js';
import { V_INVARIANT } from '../locking/violations.js';
import { init_program, prog, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';

function check_11(r: RunView): CheckResult {
  // The same state seen earlier by the task-list checks (src/kernel/sched_task.ts): R released
  // with X still on its children list (LD_RELEASE_WITH_CHILDREN), which stops the run before the audit.
  const ld = r.violations.find((v) => v.kind === V_INVARIANT && v.a === INV_TASK_LIST_CORRUPTION) &&
    r.view.m[r.view.kg + G.list_debug + LIST_DEBUG.check] === LD_RELEASE_WITH_CHILDREN;
  if (ld) {
    return { matched: true, detail: 'release_task of the exited init leader R with the orphan X still on its children list - X went to R (still child_reaper) instead of R\'s live thread T' };
  }
  const line = r.audit.find((x) => /real_parent @\d+ is not live|real_parent .* has exited/.test(x));
  if (!line) return { matched: false, detail: `no orphan under an exited parent in the audit (${r.audit.length} audit lines, run ${r.state})` };
  return {
    matched: true,
    detail: `the audit at the end: ${line} - X, orphaned inside the namespace, went to the exiting init leader R (still child_reaper) instead of R's live thread T, and T's exit then skipped zap_pid_ns_processes`,
  };
}

export const E11: Scenario = {
  id: '11',
  slug: 'child-reaper-leader',
  title: 'child_reaper left on the exiting init group leader: orphans reparented to a zombie, the namespace never zapped',
  year: '2008',
  kind: 'upstream-bug',
  commits: [
    {
      id: '950bbabb5a80', subject: 'pid_ns: (BUG 11391) change ->child_reaper when init->group_leader exits', year: 2008,
      role: 'fix', status: 'partial',
      note: 'full id 950bbabb5a804690a0201190de5c22837f72f83f, subject and message read (find_new_reaper changes ->child_reaper; the zombie main thread\'s ->nsproxy is already cleared); author not read',
      source: 'gitweb commit page, err.no linux-2.6 (pages search)',
    },
  ],
  variants: [
    { name: 'reaper-stays', bugs: BUG_CHILD_REAPER_NOT_MOVED, expect: 'violation', summary: 'before 950bbabb5a80: ->child_reaper stays the exiting group leader' },
    { name: 'reaper-moves', bugs: 0, expect: 'clean', summary: '950bbabb5a80: a live thread of the init group becomes ->child_reaper' },
  ],
  defaultVariant: 'reaper-stays',
  detector: 'leak audit (task tree): violation',
  ncpus: 2,
  interleaving: [
    'R (init of a new namespace) forks C, clones a thread T, and exits alone: a zombie leader (delay_group_leader)',
    'C forks X and exits: X is an orphan of the namespace, reparented to ->child_reaper',
    'buggy: ->child_reaper is still R: X goes to the zombie R; T exits last, child_reaper != T: no zap_pid_ns_processes',
    'P reaps R: X is left with a real_parent that was freed, unkilled, in a namespace without init',
  ],
  expected: 'an orphan of the namespace ends up under the exited init leader (real_parent not live), never killed: the audit reports the broken task tree',
  pctDepth: 3,
  pctSteps: 200,
  build(m) {
    const x = prog(m, 'X', [[SYS_PAUSE]]);
    const c = prog(m, 'C', [[SYS_FORK, 0, x, 0], [SYS_GETPID], [SYS_EXIT, 0]]);
    const t = prog(m, 'T', [[SYS_GETPID], [SYS_GETPID], [SYS_GETPID], [SYS_GETPID], [SYS_EXIT, 0]]);
    const r = prog(m, 'R', [[SYS_FORK, 0, c, 0], [SYS_FORK, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, t, 0], [SYS_EXIT, 0]]);
    const p = prog(m, 'P', [[SYS_UNSHARE, CLONE_NEWPID], [SYS_FORK, 0, r, 0], [SYS_WAIT4, -1, 0], [SYS_EXIT, 0]]);
    start_init(m, prog(m, 'init', init_program([p], -1)));
  },
  check: check_11,
};

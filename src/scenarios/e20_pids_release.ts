/**
 * Catalog entry 20: the pids controller uncharged a task only when its task_struct was freed, an
 * RCU grace period after release_task() (51bee5abeab2, "cgroup/pids: turn cgroup_subsys->free()
 * into cgroup_subsys->release() to fix the accounting", Oleg Nesterov, 2019). "->free() is called
 * from __put_task_struct()->cgroup_free() and this is too late. Even the trivial program which does
 * for (;;) { int pid = fork(); assert(pid >= 0); if (pid) wait(NULL); else exit(0); } can run out
 * of limits because release_task()->call_rcu(delayed_put_task_struct) implies an RCU gp after the
 * task/pid goes away and before the final put()." The commit's test case: pids.max = 2, and a
 * process that forks a child and waits for it, again and again: "Without this patch the forking
 * process fails soon after migration."
 *
 * The program is that test case: init writes 2 to pids.max of cgroup 1; P moves itself there
 * (its tid to the tasks file), then forks C and waits for it, eight times; C exits at once. The
 * verdict is the model's refusal check in the violation log (src/kernel/cgroup_pids.ts): a fork
 * refused by pids.max while a released task still held the charge that made the difference.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_CGROUP_ATTACH, SYS_EXIT, SYS_FORK, SYS_PIDS_CURRENT_READ, SYS_PIDS_MAX_WRITE, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_PIDS_FREE_AFTER_GP } from '../config/bugs.js';
import { INV_PIDS_CHARGE_AFTER_RELEASE } from '../kernel/cgroup_pids.js';
import { V_INVARIANT } from '../locking/violations.js';
import { halt, prog, repeat, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';

/** The pids cgroup P moves into, and its pids.max (the commit's test case: 2). */
const CG = 1;
const PIDS_MAX = 2;
/** Rounds of fork + wait (the test case loops for ever). */
const ROUNDS = 8;

function check_20(r: RunView): CheckResult {
  const v = r.violations.find((x) => x.kind === V_INVARIANT && x.a === INV_PIDS_CHARGE_AFTER_RELEASE);
  if (!v) return { matched: false, detail: `no pids refusal with released tasks' charges (${r.violations.length} violations, run ${r.state})` };
  return {
    matched: v.b === CG,
    detail: `P's fork was refused by pids.max = ${PIDS_MAX} of cgroup ${v.b} while ${v.c} released child(ren) still held their charge: pids_free uncharges in __put_task_struct, a grace period after release_task (51bee5abeab2)`,
  };
}

export const E20: Scenario = {
  id: '20',
  slug: 'pids-release',
  title: 'the pids controller uncharges a task an RCU grace period after release_task: fork fails with EAGAIN though the children are gone',
  year: '2019',
  kind: 'upstream-bug',
  commits: [
    {
      id: '51bee5abeab2', subject: 'cgroup/pids: turn cgroup_subsys->free() into cgroup_subsys->release() to fix the accounting', author: 'Oleg Nesterov', year: 2019,
      role: 'fix', status: 'verified',
      note: 'full id 51bee5abeab2058ea5813c5615d6197a23dbf041, subject, message (with the test case) and author read on two commit pages; merged for 5.1 in Tejun Heo\'s cgroup for-5.1 pull ("Oleg\'s pids controller accounting update which gets rid of rcu delay in pids accounting updates", merge 1fc1cd8399ab of 2019-03-07, diffstat kernel/cgroup/pids.c 4 +-, kernel/exit.c 1 +); the diff itself was not read. Today\'s pids_release / pids_can_fork / pids_try_charge read in torvalds/linux kernel/cgroup/pids.c',
      source: 'commit pages review.shift-gmbh.com SHIFTPHONES/mainline/linux/+/51bee5abeab2... and infradead.org users/jedix/linux-maple.git (pages search); the for-5.1 merge quoted in a linux-xfs bisect (find_string id 46729516865); torvalds/linux kernel/cgroup/pids.c@1765a153d985 (read_file id 68489180606)',
    },
  ],
  variants: [
    { name: 'free-after-gp', bugs: BUG_PIDS_FREE_AFTER_GP, expect: 'violation', summary: 'before 51bee5abeab2: pids_free uncharges from __put_task_struct -> cgroup_free, after the RCU grace period' },
    { name: 'release', bugs: 0, expect: 'clean', summary: '51bee5abeab2: pids_release uncharges from release_task -> cgroup_release' },
  ],
  defaultVariant: 'free-after-gp',
  ncpus: 2,
  interleaving: [
    'init: echo 2 > pids.max of cgroup 1; P: echo $$ > tasks (P is charged there: 1)',
    'P: fork C (2), wait4: C exits, P reaps it: release_task, call_rcu(delayed_put_task_struct)',
    'buggy: C\'s charge stays until the grace period ends (pids_free in __put_task_struct)',
    'P: fork again before it ends: 1 + 1 (dead C) + 1 > 2: -EAGAIN, "fork failed"',
  ],
  expected: 'a fork in cgroup 1 refused by pids.max = 2 while the only other charge is held by a child already reaped',
  pctDepth: 2,
  pctSteps: 200,
  build(m) {
    const c = prog(m, 'C', [[SYS_EXIT, 0]]);
    const p = prog(m, 'P', [
      [SYS_CGROUP_ATTACH, CG],
      ...repeat(1, [[SYS_FORK, 0, c, 0], [SYS_WAIT4, -1, 0]], ROUNDS),
      [SYS_PIDS_CURRENT_READ, CG],
      [SYS_EXIT, 0],
    ]);
    start_init(m, prog(m, 'init', [[SYS_PIDS_MAX_WRITE, CG, PIDS_MAX], [SYS_FORK, 0, p, 0], [SYS_WAIT4, -1, 0], halt]));
  },
  check: check_20,
};

/**
 * Catalog entry 14: do_wait(WEXITED) vs the EXIT_DEAD -> EXIT_ZOMBIE transition (50b8d257486a,
 * "ptrace: partially fix the do_wait(WEXITED) vs EXIT_DEAD->EXIT_ZOMBIE race", Oleg Nesterov,
 * 2011; fixed for good by abd50b39e783, "wait: introduce EXIT_TRACE to avoid the racy
 * EXIT_DEAD->EXIT_ZOMBIE transition", 2014). A tracer T that is not C's real parent reaps the
 * traced zombie C: wait_task_zombie moves it EXIT_ZOMBIE -> EXIT_DEAD, drops tasklist_lock, and
 * only later, after ptrace_unlink and do_notify_parent, sets it back to EXIT_ZOMBIE for the real
 * parent P. A wait4 of P in between skips C as dead and, with no other candidate, returns ECHILD:
 * "It fails because ->real_parent sees its child in EXIT_DEAD state while the tracer is going to
 * change the state back to EXIT_ZOMBIE in wait_task_zombie()". The observation is user space's
 * (SYS_ASSERT_WAIT_NOT_ECHILD: ECHILD while C is still P's child), in the violation log.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_ASSERT_WAIT_NOT_ECHILD, SYS_EXIT, SYS_FORK, SYS_KILL, SYS_PAUSE, SYS_PTRACE, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_WAIT_DEAD_TO_ZOMBIE } from '../config/bugs.js';
import { CLONE_PARENT } from '../kernel/clone_flags.js';
import { __WALL, SIGKILL, WNOHANG } from '../kernel/sched_task.js';
import { PTRACE_ATTACH } from '../kernel/ptrace.js';
import { INV_WAIT_SPURIOUS_ECHILD } from '../kernel/user_assertions.js';
import { V_INVARIANT } from '../locking/violations.js';
import { halt, prog, repeat, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';


/** Children P forks (pids 3 .. 2 + CHILDREN: init is 1, P is 2) and T traces. */
const CHILDREN = 4;
const FIRST_CHILD_PID = 3;
/** WNOHANG polls of each child by P. */
const POLLS = 8;

function check_14(r: RunView): CheckResult {
  const v = r.violations.find((x) => x.kind === V_INVARIANT && x.a === INV_WAIT_SPURIOUS_ECHILD);
  if (!v) return { matched: false, detail: `no spurious ECHILD observed (${r.violations.length} violations)` };
  return {
    matched: true,
    detail: `P's wait4(pid ${v.b}) returned ECHILD while the child was still P's: the tracer T had moved it to EXIT_DEAD in wait_task_zombie and had not yet set it back to EXIT_ZOMBIE`,
  };
}

export const E14: Scenario = {
  id: '14',
  slug: 'wait-dead-to-zombie',
  title: 'do_wait(WEXITED) vs the tracer\'s EXIT_DEAD -> EXIT_ZOMBIE transition: the real parent gets a spurious ECHILD',
  year: '2011/2014',
  kind: 'upstream-bug',
  commits: [
    {
      id: 'abd50b39e783', subject: 'wait: introduce EXIT_TRACE to avoid the racy EXIT_DEAD->EXIT_ZOMBIE transition', author: 'Oleg Nesterov', year: 2014,
      role: 'fix', status: 'verified',
      note: 'message read on gitiles commit pages (full id abd50b39e783e1b6c75c7534c37f1eb2d94a89cd); id and subject cited by Eric W. Biederman on LKML; in the 3.15 merge shortlog',
      source: 'pages search: review.shift-gmbh.com and gerrit-public.fairphone.software gitiles …/+/abd50b39e783e1b6c75c7534c37f1eb2d94a89cd; find_string ids 23694836397 (LKML), 45497844782 (shortlog)',
    },
    {
      id: '50b8d257486a', subject: 'ptrace: partially fix the do_wait(WEXITED) vs EXIT_DEAD->EXIT_ZOMBIE race', author: 'Oleg Nesterov', year: 2011,
      role: 'fix', status: 'verified',
      note: 'the partial fix (the real parent clears notask_error for an EXIT_DEAD child that ptrace_reparented() says the tracer will hand back); message and the start of the diff read; not a variant here (its diff was not read whole). Reported-and-tested-by Denys Vlasenko',
      source: 'pages search: android-kvm.googlesource.com/linux/+/50b8d257486a45cba7b65ca978986ed216bbcc10; cited by abd50b39e783\'s message; Linux 3.0.16 changelog (find_string id 2540572679)',
    },
  ],
  variants: [
    { name: 'dead-to-zombie', bugs: BUG_WAIT_DEAD_TO_ZOMBIE, expect: 'violation', summary: 'wait_task_zombie: xchg(&p->exit_state, EXIT_DEAD), then p->exit_state = EXIT_ZOMBIE for the real parent; wait_consider_task skips EXIT_DEAD' },
    { name: 'exit-trace', bugs: 0, expect: 'clean', summary: 'abd50b39e783: EXIT_TRACE for a zombie the real parent will reap; wait_consider_task clears notask_error for it' },
  ],
  defaultVariant: 'dead-to-zombie',
  ncpus: 2,
  interleaving: [
    'P: fork C (the real parent; C pauses); T (clone(CLONE_PARENT) by P, so init\'s child): ptrace(PTRACE_ATTACH, C), kill(C, SIGKILL), wait4(__WALL)',
    'C exits: a zombie traced by T; T: wait_task_zombie: EXIT_ZOMBIE -> EXIT_DEAD, read_unlock(&tasklist_lock) ...',
    'P: wait4(C, WNOHANG): wait_consider_task skips the EXIT_DEAD C, no other candidate: -ECHILD',
    '... T: write_lock_irq(&tasklist_lock), __ptrace_unlink, do_notify_parent(P): C back to EXIT_ZOMBIE',
  ],
  expected: 'P\'s wait4(C) returns ECHILD although C is P\'s child (a zombie P reaps later)',
  pctDepth: 3,
  pctSteps: 250,
  build(m) {
    // C waits in pause() until the debugger kills it (SIGKILL), so T attaches to a live C.
    const c = prog(m, 'C', [[SYS_PAUSE], [SYS_EXIT, 0]]);
    const t = prog(m, 'T', [
      ...Array.from({ length: CHILDREN }, (_, i) => [SYS_PTRACE, PTRACE_ATTACH, FIRST_CHILD_PID + i]),
      ...Array.from({ length: CHILDREN }, (_, i) => [SYS_KILL, FIRST_CHILD_PID + i, SIGKILL]),
      ...Array.from({ length: CHILDREN }, () => [SYS_WAIT4, -1, __WALL]),
      [SYS_EXIT, 0],
    ]);
    const pInsns: Array<readonly number[]> = [];
    for (let i = 0; i < CHILDREN; i++) pInsns.push([SYS_FORK, 0, c, 0]);
    pInsns.push([SYS_FORK, CLONE_PARENT, t, 0]);
    // P polls each child with WNOHANG (0 while it lives, its pid once reaped, -ECHILD after: each
    // poll is a chance to land in T's window), then waits for it (ECHILD if a poll reaped it).
    for (let i = 0; i < CHILDREN; i++) {
      const nr = FIRST_CHILD_PID + i;
      pInsns.push(...repeat(pInsns.length, [[SYS_WAIT4, nr, WNOHANG], [SYS_ASSERT_WAIT_NOT_ECHILD, nr]], POLLS));
      pInsns.push([SYS_WAIT4, nr, 0], [SYS_ASSERT_WAIT_NOT_ECHILD, nr]);
    }
    pInsns.push([SYS_EXIT, 0]);
    const p = prog(m, 'P', pInsns);
    start_init(m, prog(m, 'init', [[SYS_FORK, 0, p, 0], ...repeat(1, [[SYS_WAIT4, -1, __WALL]], 2 + CHILDREN), halt]));
  },
  check: check_14,
};

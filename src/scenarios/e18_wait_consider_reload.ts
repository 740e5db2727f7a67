/**
 * Catalog entry 18: wait_consider_task() vs wait_task_zombie() from another thread (3245d6acab98,
 * "exit: fix race between wait_consider_task() and wait_task_zombie()", 2015). Two threads of one
 * process wait for the same children; both scan under read_lock(tasklist_lock), so both can see
 * the same zombie. Before the fix wait_consider_task() read p->exit_state again for each check: a
 * zombie seen as not EXIT_DEAD at the top, claimed (EXIT_ZOMBIE -> EXIT_DEAD) by the other
 * thread's wait_task_zombie() meanwhile, is neither EXIT_TRACE nor EXIT_ZOMBIE at the later
 * checks, falls through to the "alive, it's gonna stop, continue or exit" case and clears
 * ->notask_error: do_wait() goes to sleep instead of returning -ECHILD. It was the last child,
 * and a reap wakes nobody: the thread sleeps in do_wait for ever. The fix's comment (read in
 * today's code): "We can race with wait_task_zombie() from another thread. Ensure that
 * EXIT_ZOMBIE -> EXIT_DEAD/EXIT_TRACE transition can't confuse the checks below."
 *
 * The verdict is the generic detectors': do_wait's hung-task check reports the thread as it goes
 * to sleep with every child of its group EXIT_DEAD (V_HUNG_TASK, src/kernel/exit.ts), and the
 * wait-for graph of the stuck end finds it asleep in do_wait with no child or tracee left to wake
 * it - blocked, no waker (a hang without a cycle).
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_WAIT_CONSIDER_RELOAD } from '../config/bugs.js';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM } from '../kernel/sched_task.js';
import { TASK } from '../mm/layout.js';
import { V_HUNG_TASK } from '../locking/violations.js';
import { init_program, prog, repeat, start_init } from './build.js';
import { nodeOfRole, type CheckResult, type RunView, type Scenario } from './types.js';

/** Rounds: P's leader forks a child and both threads wait for it (each reap a chance to race). */
const ROUNDS = 8;

function check_18(r: RunView): CheckResult {
  // do_wait's hung-task check (src/kernel/exit.ts wait_wakers_gone): a thread of P went to sleep
  // with every child of its group EXIT_DEAD - the hang, found as it starts.
  for (const role of ['P', 'T']) {
    const t = r.roles.get(role);
    const h = t ? r.violations.find((x) => x.kind === V_HUNG_TASK && x.a === t) : undefined;
    if (!h) continue;
    return {
      matched: true,
      detail: `${role} went to sleep in do_wait with no child left in its thread group (${h.c} EXIT_DEAD): the other thread's wait_task_zombie claimed the zombie between ${role}'s exit_state checks, which cleared ->notask_error instead of returning -ECHILD (3245d6acab98)`,
    };
  }
  const g = r.graph;
  if (!g) return { matched: false, detail: `no wait-for graph and no hung-task report of P or T (run ${r.state})` };
  for (const role of ['P', 'T']) {
    const n = nodeOfRole(r, role);
    if (!n?.task || n.task.wchan !== 'do_wait') continue;
    if (!g.blocked.includes(n.key)) continue;
    if (g.edges.some((e) => e.from === n.key)) continue;
    const t = r.roles.get(role)!;
    const m = r.view.m;
    if (m[t + TASK.children] !== 0 || m[t + TASK.ptraced] !== 0) continue;
    // The other thread of the group must have no child either: the whole group has nothing to wait for.
    const other = r.roles.get(role === 'P' ? 'T' : 'P');
    if (other && m[other + TASK.children] !== 0 && m[other + TASK.exit_state] === 0) continue;
    return {
      matched: true,
      detail: `${role} sleeps in do_wait with no child left in its thread group: the other thread's wait_task_zombie claimed the zombie between ${role}'s exit_state checks, which cleared ->notask_error instead of returning -ECHILD (3245d6acab98)`,
      keys: [n.key],
    };
  }
  return { matched: false, detail: `no thread of P asleep in do_wait with nothing to wait for (run ${r.state}, ${g.blocked.length} blocked)` };
}

export const E18: Scenario = {
  id: '18',
  slug: 'wait-consider-reload',
  title: 'wait_consider_task() vs wait_task_zombie() in another thread: a reaped zombie clears notask_error and do_wait sleeps for ever',
  year: '2015',
  kind: 'upstream-bug',
  commits: [
    {
      id: '3245d6acab98', subject: 'exit: fix race between wait_consider_task() and wait_task_zombie()', author: 'Oleg Nesterov', year: 2015,
      role: 'fix', status: 'partial',
      note: 'full id 3245d6acab981a2388ffb877c7ecc97e763c59d4 with its subject in a git bisect log; id and subject cited by Christian Brauner and Oleg Nesterov on LKML (2019); Oleg Nesterov\'s in the 3.19 shortlog, backported to 3.18.3 (January 2015). The commit message was not read; the fixed code (int exit_state = ACCESS_ONCE(p->exit_state), with its comment "We can race with wait_task_zombie() from another thread") was read in v4.x copies of kernel/exit.c',
      source: 'bisect log (find_string id 16679587169), LKML (14195158629, 14468101230, 14261604249), 3.19 shortlog (16131792895), 3.18.3 stable log (25163235670), kernel/exit.c copies (24128208305, 13221846922)',
    },
  ],
  variants: [
    { name: 'reload', bugs: BUG_WAIT_CONSIDER_RELOAD, expect: 'hang', summary: 'before 3245d6acab98: each check of wait_consider_task reloads p->exit_state' },
    { name: 'read-once', bugs: 0, expect: 'clean', summary: '3245d6acab98: exit_state = ACCESS_ONCE(p->exit_state), one snapshot for every check' },
  ],
  defaultVariant: 'reload',
  detector: 'hung-task check in do_wait; wait-for graph: blocked, no waker',
  ncpus: 2,
  interleaving: [
    'P forks C and clones a thread T; C exits: a zombie; P and T both wait4(-1), both scan under read_lock(tasklist_lock)',
    'T: wait_consider_task(C): exit_state is EXIT_ZOMBIE, not EXIT_DEAD; security_task_wait ...',
    'P: wait_task_zombie(C): cmpxchg EXIT_ZOMBIE -> EXIT_DEAD, read_unlock, release_task(C)',
    '... T reloads exit_state: EXIT_DEAD is neither EXIT_TRACE nor EXIT_ZOMBIE: notask_error = 0; T sleeps in do_wait, no child left, nobody wakes it',
  ],
  expected: 'a thread of P asleep in do_wait while its thread group has no child left: the wait-for graph finds it blocked with no waker',
  pctDepth: 3,
  pctSteps: 300,
  build(m) {
    const c = prog(m, 'C', [[SYS_GETPID], [SYS_GETPID], [SYS_GETPID], [SYS_EXIT, 0]]);
    // T and P: wait for a child, ROUNDS times; -ECHILD (nothing left) just goes round again.
    const t = prog(m, 'T', [...repeat(0, [[SYS_WAIT4, -1, 0]], ROUNDS), [SYS_EXIT, 0]]);
    const p = prog(m, 'P', [
      [SYS_FORK, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, t, 0],
      ...repeat(1, [[SYS_FORK, 0, c, 0], [SYS_WAIT4, -1, 0]], ROUNDS),
      [SYS_EXIT, 0],
    ]);
    // init reaps P (an init that ignores SIGCHLD would pass SIG_IGN on to P, whose children would be autoreaped).
    start_init(m, prog(m, 'init', init_program([p], 1)));
  },
  check: check_18,
};

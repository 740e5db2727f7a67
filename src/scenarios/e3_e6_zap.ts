/**
 * Catalog entries 3-6: zap_pid_ns_processes() and what it must wait for before a pid namespace's
 * init may go (kernel/pid_namespace.c, kernel/exit.c, kernel/fork.c, kernel/ptrace.c).
 *
 * 3 - setns()+fork() into a dying namespace (3fd372262166, Kirill Tkhai, 2017): a process outside
 *     the namespace whose pid_ns_for_children is the namespace allocates a pid before the reaper
 *     disables allocation and attaches the child after the reaper's kill pass. The child lives on,
 *     unkilled, and the reaper waits for its pid forever. Fixed by re-checking PIDNS_ADDING under
 *     tasklist_lock and siglock in copy_process (-ENOMEM).
 * 4 - multi-threaded init (pid: Handle the exit of a multi-threaded init, 2013): the last thread of
 *     init's group runs the zap while the zombie group leader's pid stays allocated until that
 *     very thread is gone. Waiting for pid_allocated == 1 is a wait for itself; the fix waits for
 *     init_pids = thread_group_leader(me) ? 1 : 2.
 * 5 - init must be reaped last (pidns: guarantee that the pidns init will be the last pidns process
 *     reaped, 2012): without the wait for the pid count, zap returns as soon as kernel_wait4 says
 *     -ECHILD, which it also says while autoreaped (EXIT_DEAD) children are still being released:
 *     waitpid() on the init then returns while pids of the namespace still exist.
 * 6 - ptraced EXIT_DEAD children (kernel/exit.c: release ptraced tasks before zap_pid_ns_processes,
 *     2017): exit_ptrace puts the reaper's dead zombie tracees on exit_notify's local list, which is
 *     released only after zap_pid_ns_processes returns - and zap waits for their pids.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import {
  SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_KILL, SYS_OPEN_NS, SYS_PAUSE, SYS_PIDNS_ASSERT_EMPTY, SYS_PTRACE, SYS_SET_SIGCHLD_IGN,
  SYS_SETNS, SYS_UNSHARE, SYS_WAIT4,
} from '../kernel/syscalls.js';
import { BUG_PTRACE_DEAD_LIST, BUG_SETNS_FORK_NO_RECHECK, BUG_ZAP_INIT_PIDS_ONE, BUG_ZAP_NO_PID_WAIT } from '../kernel/bugs.js';
import { CLONE_NEWPID, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, SIGKILL } from '../kernel/sched_task.js';
import { NSK_PID_FOR_CHILDREN, FD_FIRST } from '../kernel/nsfs.js';
import { PTRACE_SEIZE } from '../kernel/ptrace.js';
import { INV_PIDNS_INIT_NOT_LAST } from '../kernel/catalog_user.js';
import { V_INVARIANT } from '../locking/violations.js';
import { register_invariant_names } from '../detect/report.js';
import { prog, repeat, start_init } from './build.js';
import { init_program } from './e1_e2_rcu_tasks.js';
import { chain_with, cycle_names, cycle_with, nodeOfRole, type CheckResult, type RunView, type Scenario } from './types.js';
import { TASK } from '../mm/layout.js';

register_invariant_names({ [INV_PIDNS_INIT_NOT_LAST]: 'pid namespace init reaped while pids of the namespace remain' });

const SIGKILL_MASK = 1 << (SIGKILL - 1);
/** Forks S makes into the namespace (each one a chance to land in the window). */
const FORKS = 8;

// ---- 3 ----------------------------------------------------------------------------------------

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

// ---- 4 ----------------------------------------------------------------------------------------

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
  commits: [
    {
      id: '751c644b95bb', subject: 'pid: Handle the exit of a multi-threaded init.', author: 'Eric W. Biederman', year: 2013, role: 'fix', status: 'partial', idStatus: 'unverified',
      note: 'subject verified in a 2013 stable shortlog; the id 751c644b95bb and the author were not found: unverified',
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

// ---- 5 ----------------------------------------------------------------------------------------

function check_5(r: RunView): CheckResult {
  const v = r.violations.find((x) => x.kind === V_INVARIANT && x.a === INV_PIDNS_INIT_NOT_LAST);
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
  commits: [
    {
      id: '6347e9009104', subject: 'pidns: guarantee that the pidns init will be the last pidns process reaped', author: 'Eric W. Biederman', year: 2012,
      role: 'fix', status: 'unverified', note: 'neither the id nor the subject was found in the stored sources; the mechanism (the pid-count wait) is verified from code',
    },
  ],
  variants: [
    { name: 'no-pid-wait', bugs: BUG_ZAP_NO_PID_WAIT, expect: 'violation', summary: 'zap returns after kernel_wait4 says -ECHILD (no wait for pid_allocated)' },
    { name: 'pid-wait', bugs: 0, expect: 'clean', summary: 'zap waits until pid_allocated == init_pids (free_pid wakes it)' },
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

// ---- 6 ----------------------------------------------------------------------------------------

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
  year: '2017',
  commits: [
    {
      id: '8fb335e07837', subject: 'kernel/exit.c: release ptraced tasks before zap_pid_ns_processes', author: 'Andrei Vagin', year: 2017,
      role: 'fix', status: 'unverified', note: 'neither the id nor the subject was found; the code change (release the dead list before zap) is verified',
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

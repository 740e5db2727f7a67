/**
 * Catalog entry 9: alloc_pid() leaks the pid namespace if its child_reaper is exiting (24c037ebf572,
 * "exit: pidns: alloc_pid() leaks pid_namespace if child_reaper is exiting", Oleg Nesterov, 2014).
 * alloc_pid takes get_pid_ns(ns) before it checks PIDNS_ADDING under pidmap_lock; once the
 * namespace's reaper ran disable_pid_allocation the check fails and alloc_pid returns -ENOMEM -
 * without the put_pid_ns the fix added to the out_unlock path. A process that entered the
 * namespace with setns(/proc/P/ns/pid_for_children) and forks while the namespace's init exits
 * leaks one reference per failed fork: the namespace is never freed.
 *
 * Nothing hangs and nothing is read after free: the run ends, and the detector is the kernel audit
 * at the quiescent end (every namespace's kref equals the references the audit can find), as
 * pidrace stress runs it after its final reap.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_OPEN_NS, SYS_SETNS, SYS_UNSHARE, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_ALLOC_PID_NS_LEAK } from '../config/bugs.js';
import { CLONE_NEWPID } from '../kernel/sched_task.js';
import { FD_FIRST, NSK_PID_FOR_CHILDREN } from '../kernel/nsfs.js';
import { init_program, prog, repeat, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';

/** Forks S makes into the namespace (the ones after the reaper's disable_pid_allocation fail). */
const FORKS = 10;

function check_9(r: RunView): CheckResult {
  const line = r.audit.find((x) => /^ns \d+: kref \d+, references found \d+/.test(x));
  if (!line) return { matched: false, detail: `no pid-namespace reference leak in the audit (${r.audit.length} audit lines, run ${r.state})` };
  const [, kref, found] = /kref (\d+), references found (\d+)/.exec(line)!;
  return {
    matched: Number(kref) > Number(found),
    detail: `the audit at the end finds a pid namespace with kref ${kref} but ${found} references anywhere (${line}): S's forks that failed with -ENOMEM after the reaper disabled allocation each kept alloc_pid's get_pid_ns`,
  };
}

export const E9: Scenario = {
  id: '9',
  slug: 'alloc-pid-ns-leak',
  title: 'alloc_pid() leaks the pid namespace when its child_reaper is exiting',
  year: '2014',
  kind: 'upstream-bug',
  commits: [
    {
      id: '24c037ebf572', subject: 'exit: pidns: alloc_pid() leaks pid_namespace if child_reaper is exiting', author: 'Oleg Nesterov', year: 2014,
      role: 'fix', status: 'verified',
      note: 'full id 24c037ebf5723d4d9ab0996433cee4f96c292a4d with its subject quoted in a linux-mm thread (Oleg replying); the fix is visible in today\'s alloc_pid (out_unlock: put_pid_ns)',
      source: 'linux-mm mails (find_string ids 46782793958, 46954230363), 3.19 pull shortlog (id 16131792895); torvalds/linux kernel/pid.c@006568ab4c5c',
    },
  ],
  variants: [
    { name: 'no-put', bugs: BUG_ALLOC_PID_NS_LEAK, expect: 'leak', summary: 'alloc_pid returns -ENOMEM on a cleared PIDNS_ADDING without put_pid_ns(ns)' },
    { name: 'put', bugs: 0, expect: 'clean', summary: '24c037ebf572: out_unlock drops the reference (put_pid_ns)' },
  ],
  defaultVariant: 'no-put',
  ncpus: 2,
  interleaving: [
    'P: unshare(CLONE_NEWPID), fork R (init of the namespace N); S: setns(/proc/P/ns/pid_for_children)',
    'R exits: zap_pid_ns_processes -> disable_pid_allocation(N)',
    'S: fork: alloc_pid(N): get_pid_ns(N), PIDNS_ADDING is clear -> -ENOMEM, the reference kept',
    'everyone exits; N\'s count never reaches 0: the audit finds kref > references',
  ],
  expected: 'after every task exited, the pid namespace N has more references (kref) than the audit can find: each fork S tried after N\'s reaper disabled allocation leaked one',
  pctDepth: 3,
  pctSteps: 300,
  build(m) {
    const r = prog(m, 'R', [[SYS_GETPID], [SYS_GETPID], [SYS_EXIT, 0]]);
    const p = prog(m, 'P', [[SYS_UNSHARE, CLONE_NEWPID], [SYS_FORK, 0, r, 0], [SYS_WAIT4, -1, 0], [SYS_EXIT, 0]]);
    const x = prog(m, 'X', [[SYS_EXIT, 0]]);
    // S: open /proc/2/ns/pid_for_children (P is pid 2), setns into it, fork X again and again, exit.
    const s = prog(m, 'S', [
      [SYS_OPEN_NS, 2, NSK_PID_FOR_CHILDREN], [SYS_SETNS, FD_FIRST, CLONE_NEWPID],
      ...repeat(2, [[SYS_FORK, 0, x, 0]], FORKS), [SYS_EXIT, 0],
    ]);
    start_init(m, prog(m, 'init', init_program([p, s], -1)));
  },
  check: check_9,
};

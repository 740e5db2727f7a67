/**
 * Catalog entry 19: cad_pid initialised without a reference (0711f0d7050b, "pid: take a reference
 * when initializing `cad_pid`", Mark Rutland, 2021). "During boot, kernel_init_freeable()
 * initializes `cad_pid` to the init task's struct pid. Later on, we may change `cad_pid` via a
 * sysctl, and when this happens proc_do_cad_pid() will increment the refcount on the new pid via
 * get_pid(), and will decrement the refcount on the old pid via put_pid(). As we never called
 * get_pid() when we initialized `cad_pid`, we decrement a reference we never incremented, can
 * therefore free the init task's struct pid early." Found by syzkaller (KASAN use-after-free in
 * task_active_pid_ns from do_notify_parent); the bug dates from 9ec52099e4b8 (v2.6.19).
 *
 * The program is the syzkaller reproducer's essence: a root process writes its own pid to
 * /proc/sys/kernel/cad_pid and exits. The model's struct pid also counts the process-group and
 * session links (init's pid is its own pgrp and session), so the put drops init's count one below
 * its references instead of to zero; the verdict is the kernel audit at the quiescent end, the
 * same audit pidrace stress runs: init's struct pid (nr 1) has a count below the references found
 * (a put with no get: a violation, not a leak).
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_CAD_PID_READ, SYS_CAD_PID_WRITE, SYS_EXIT, SYS_GETPID } from '../kernel/unistd.js';
import { BUG_CAD_PID_NO_REF } from '../config/bugs.js';
import { init_program, prog, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';

/** init forks X first: X is pid 2 of init_pid_ns. */
const X_PID = 2;

const UNDER = /^struct pid @\d+ \(nr 1\): count (\d+), references found (\d+)/;

function check_19(r: RunView): CheckResult {
  const line = r.audit.find((x) => UNDER.test(x));
  if (!line) return { matched: false, detail: `no audit line on init's struct pid (${r.audit.length} audit lines, run ${r.state})` };
  const [, count, found] = UNDER.exec(line)!;
  return {
    matched: Number(count) < Number(found),
    detail: `the audit at the end: ${line} - cad_pid was set to init's pid without get_pid at boot, and X's write of /proc/sys/kernel/cad_pid put a reference init's pid never had (0711f0d7050b)`,
  };
}

export const E19: Scenario = {
  id: '19',
  slug: 'cad-pid-ref',
  title: 'cad_pid set at boot without a reference: a write of /proc/sys/kernel/cad_pid puts a reference init\'s struct pid never had',
  year: '2021',
  kind: 'upstream-bug',
  commits: [
    {
      id: '0711f0d7050b', subject: 'pid: take a reference when initializing `cad_pid`', author: 'Mark Rutland', year: 2021,
      role: 'fix', status: 'verified',
      note: 'full id 0711f0d7050b9e07c44bc159bbc64ac0a1022c7f with its subject in mainline revision lists and in syzkaller\'s backport table ("KASAN: use-after-free in task_active_pid_ns"); the message (Mark Rutland, 2021-05-24, Cc stable, Acked-by Christian Brauner) quoted on LKML; the fixed line cad_pid = get_pid(task_pid(current)) read in init/main.c copies, proc_do_cad_pid in kernel/sysctl.c copies',
      source: 'revlists (find_string ids 66431645710, 67514970554), syzkaller backports (5814704545, 54762043319), LKML reply quoting the patch (12086439450), init/main.c (24076446810), kernel/sysctl.c (390002211)',
    },
    {
      id: '9ec52099e4b8', subject: '[PATCH] replace cad_pid by a struct pid', year: 2006,
      role: 'bug', status: 'partial',
      note: 'named by the fix\'s Fixes: tag ("Fixes: 9ec52099e4b8678a") in the patch as quoted on LKML; the commit itself was not read',
      source: 'LKML reply quoting the patch (find_string id 12086439450)',
    },
  ],
  variants: [
    { name: 'no-ref', bugs: BUG_CAD_PID_NO_REF, expect: 'violation', summary: 'before 0711f0d7050b: cad_pid = task_pid(current) at boot, no reference taken' },
    { name: 'get-pid', bugs: 0, expect: 'clean', summary: '0711f0d7050b: cad_pid = get_pid(task_pid(current))' },
  ],
  defaultVariant: 'no-ref',
  detector: 'leak audit (reference counts): violation',
  ncpus: 2,
  interleaving: [
    'boot: kernel_init_freeable: cad_pid = task_pid(init), no get_pid',
    'X (root): read /proc/sys/kernel/cad_pid (1), write its own pid: find_get_pid(X), put_pid(xchg(&cad_pid, X\'s pid))',
    'init\'s struct pid loses a reference it never had; X exits, init reaps it (cad_pid keeps X\'s pid)',
    'the audit at the quiescent end: init\'s struct pid has a count below its references',
  ],
  expected: 'init\'s struct pid (nr 1) ends with a count below the references the audit finds: cad_pid\'s put of a reference that was never taken',
  pctDepth: 2,
  pctSteps: 100,
  build(m) {
    const x = prog(m, 'X', [[SYS_CAD_PID_READ], [SYS_CAD_PID_WRITE, X_PID], [SYS_GETPID], [SYS_EXIT, 0]]);
    start_init(m, prog(m, 'init', init_program([x], 1)));
  },
  check: check_19,
};

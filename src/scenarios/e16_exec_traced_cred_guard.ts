/**
 * Catalog entry 16: a2a8474c3fff, "exec: do not sleep in TASK_TRACED under ->cred_guard_mutex"
 * (Oleg Nesterov, 2009). do_execve held current->cred_guard_mutex from prepare_exec_creds to the
 * end of exec, and tracehook_report_exec stopped the tracee (PT_TRACE_EXEC) in TASK_TRACED in
 * between: "The tracee must not sleep in TASK_TRACED holding this mutex. Even if we remove
 * ->cred_guard_mutex from mm_for_maps() and proc_pid_attr_write(), another task doing
 * PTRACE_ATTACH should not hang until it is killed or the tracee resumes." The fix drops the
 * mutex in install_exec_creds, after commit_creds, "and thus before tracehook_report_exec()->
 * ptrace_stop()" (today: setup_new_exec). The reported hang was the debugger's own read of
 * /proc/PID/maps (mm_for_maps took the mutex in 2.6.31; today that path takes exec_update_lock,
 * which the model does not have): here the debugger's access is a PTRACE_ATTACH of the pid it
 * traces, as a debugger that attaches to the thread ids it finds after an exec does (EPERM at
 * once today: the task is traced). Its own tracee holds the mutex and waits for it: a cycle.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXECVE, SYS_EXIT, SYS_FORK, SYS_KILL, SYS_PAUSE, SYS_PTRACE, SYS_RT_SIGACTION, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_EXEC_TRACED_CRED_GUARD } from '../config/bugs.js';
import { __WALL, PTRACE_O_TRACEEXEC, SIG_CAUGHT, SIGUSR1 } from '../kernel/sched_task.js';
import { PTRACE_ATTACH, PTRACE_CONT, PTRACE_SEIZE } from '../kernel/ptrace.js';
import { init_program, prog, start_init } from './build.js';
import { cycle_names, cycle_with, type CheckResult, type RunView, type Scenario } from './types.js';

/** X is pid 3 (init 1, T 2). */
const X_PID = 3;

function check_16(r: RunView): CheckResult {
  const keys = cycle_with(r, [
    { role: 'T', wchan: /mutex_lock/ },
    { role: 'X', wchan: /ptrace_stop/, holds: /cred_guard_mutex/ },
  ]);
  if (!keys) return { matched: false, detail: 'no cycle between the debugger T in mutex_lock and its tracee X stopped in ptrace_stop holding cred_guard_mutex' };
  return {
    matched: true, keys,
    detail: `${cycle_names(r, keys)}: X stopped for PTRACE_EVENT_EXEC in TASK_TRACED still holding its cred_guard_mutex; its tracer T waits for that mutex in ptrace_attach and never resumes X`,
  };
}

export const E16: Scenario = {
  id: '16',
  slug: 'exec-traced-cred-guard',
  title: 'execve stops for PTRACE_EVENT_EXEC in TASK_TRACED holding cred_guard_mutex: the debugger that touches it hangs',
  year: '2009',
  kind: 'upstream-bug',
  commits: [
    {
      id: 'a2a8474c3fff', subject: 'exec: do not sleep in TASK_TRACED under ->cred_guard_mutex', author: 'Oleg Nesterov', year: 2009,
      role: 'fix', status: 'verified',
      note: 'id and subject cited by Linus Torvalds on LKML (2020-04-02, "Re: [GIT PULL] Please pull proc and exec work for 5.7-rc1", quoted in Bernd Edlinger\'s replies); the full message and the fs/compat.c part of the diff read on a gitiles mirror (full id a2a8474c3fff88d8dd52d05cb450563fb26fd26c): prepare_bprm_creds locks the mutex, install_exec_creds drops it after commit_creds, before tracehook_report_exec()->ptrace_stop(), free_bprm drops it on failure. Reported-by Tom Horsley; the year 2009 is inferred from "this happens since ... 2.6.31" (the commit date was not read)',
      source: 'find_string ids 49782554654, 49668107582 (LKML); pages search: gerrit-public.fairphone.software/plugins/gitiles/kernel/msm-4.9/+/a2a8474c3fff88d8dd52d05cb450563fb26fd26c%5E%21/fs/compat.c and git.leafos.org/.../+/a2a8474c3fff88d8dd52d05cb450563fb26fd26c',
    },
    {
      id: '', subject: 'mm_for_maps: take ->cred_guard_mutex to fix the race with exec', year: 2009,
      role: 'bug', status: 'partial', idStatus: 'unverified',
      note: 'named by a2a8474c3fff\'s message as the change since which the debugger hangs; the message gives the id as "04b836cbf19e885f8366bccb2e4b0474346c02d" (39 hex digits: one is missing, so no id is claimed here); the commit itself was not read; the model\'s hang is the PTRACE_ATTACH case the message names, not this /proc path',
      source: 'a2a8474c3fff\'s message (gitiles mirror, as above)',
    },
  ],
  variants: [
    { name: 'held-across-stop', bugs: BUG_EXEC_TRACED_CRED_GUARD, expect: 'deadlock', summary: 'before a2a8474c3fff: do_execve drops cred_guard_mutex at its end, after the PTRACE_EVENT_EXEC stop' },
    { name: 'dropped-before-stop', bugs: 0, expect: 'clean', summary: 'a2a8474c3fff (today setup_new_exec): the mutex is dropped once the new creds are committed, before ptrace_event(PTRACE_EVENT_EXEC)' },
  ],
  defaultVariant: 'held-across-stop',
  ncpus: 2,
  interleaving: [
    'T (a debugger) forks X and PTRACE_SEIZEs it with PTRACE_O_TRACEEXEC, then lets it run (SIGUSR1 ends its pause)',
    'X: execve: prepare_bprm_creds locks cred_guard_mutex; ... ptrace_event(PTRACE_EVENT_EXEC): TASK_TRACED, the tracer is told',
    'T: wait4 sees the exec stop; PTRACE_ATTACH of X (the thread ids it finds after the exec): ptrace_attach -> mutex_lock_interruptible(&X->signal->cred_guard_mutex)',
    'buggy: X still holds the mutex in its stop and only T can resume it: T waits for X, X waits for T',
  ],
  expected: 'T sleeps in ptrace_attach on X\'s cred_guard_mutex, held by X stopped in ptrace_stop (PTRACE_EVENT_EXEC) until its tracer T resumes it',
  pctDepth: 3,
  pctSteps: 200,
  build(m) {
    // The new image X runs: exit(0).
    const image = prog(m, 'X', [[SYS_EXIT, 0]]);
    const x = prog(m, 'X', [[SYS_PAUSE], [SYS_EXECVE, image]]);
    const t = prog(m, 'T', [
      // A handler for SIGUSR1 (inherited by X): the kill ends X's pause, it does not kill X.
      [SYS_RT_SIGACTION, SIGUSR1, SIG_CAUGHT, 0],
      [SYS_FORK, 0, x, 0],
      [SYS_PTRACE, PTRACE_SEIZE, X_PID, PTRACE_O_TRACEEXEC],
      [SYS_KILL, X_PID, SIGUSR1],
      [SYS_WAIT4, X_PID, __WALL], // the PTRACE_EVENT_EXEC stop
      [SYS_PTRACE, PTRACE_ATTACH, X_PID], // -EPERM today (already traced), after the mutex
      [SYS_PTRACE, PTRACE_CONT, X_PID, 0],
      [SYS_WAIT4, X_PID, __WALL], // X's exit
      [SYS_EXIT, 0],
    ]);
    start_init(m, prog(m, 'init', init_program([t], 1)));
  },
  check: check_16,
};

/**
 * Catalog entry 17 (known open): a multi-threaded execve vs ptrace_attach on cred_guard_mutex.
 * de_thread waits, holding cred_guard_mutex, until every other thread was released; a thread
 * traced by a debugger becomes a zombie that only its tracer's wait4 releases; the tracer sleeps
 * in ptrace_attach of the exec'ing process, on the same mutex. tools/testing/selftests/ptrace/
 * vmaccess.c (attach) is the reproducer: a child whose thread did PTRACE_TRACEME and exited, an
 * execlp in the child, a PTRACE_ATTACH by the parent. Bernd Edlinger's "exec: Fix dead-lock in
 * de_thread with ptrace_attach" (v1 2020 .. v17 2025) and Oleg Nesterov's RFC "exec: don't wait
 * for zombie threads with cred_guard_mutex held" (November 2025) were posted; none was merged in
 * the sources read, so today's kernel (no switch) is the failing variant: "Not really that bad,
 * the tracer can be killed, but still this is a bug and people hit it in practice" (Oleg, 2025).
 * Not counted among the upstream bugs with a verified fix. The RFC is a second variant, a design
 * study of the proposal (PROPOSAL_EXEC_REAP_UNLOCKED): the same programs finish.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXECVE, SYS_EXIT, SYS_FORK, SYS_PTRACE, SYS_WAIT4 } from '../kernel/unistd.js';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM } from '../kernel/clone_flags.js';
import { __WALL } from '../kernel/sched_task.js';
import { PROPOSAL_EXEC_REAP_UNLOCKED } from '../config/bugs.js';
import { PTRACE_ATTACH, PTRACE_TRACEME } from '../kernel/ptrace.js';
import { halt, prog, repeat, start_init } from './build.js';
import { cycle_names, cycle_with, type CheckResult, type RunView, type Scenario } from './types.js';

/** P is pid 3 (init 1, T 2); its thread Z pid 4. */
const P_PID = 3;

function check_17(r: RunView): CheckResult {
  const keys = cycle_with(r, [
    { role: 'P', wchan: /de_thread/, holds: /cred_guard_mutex/ },
    { role: 'Z', exit: 'zombie' },
    { role: 'T', wchan: /mutex_lock/ },
  ]);
  if (!keys) return { matched: false, detail: 'no cycle P (de_thread, holding cred_guard_mutex) -> zombie thread Z -> its tracer T (mutex_lock)' };
  return {
    matched: true, keys,
    detail: `${cycle_names(r, keys)}: P's execve waits in de_thread for its traced zombie thread Z, which only Z's tracer T releases (wait4); T sleeps in ptrace_attach on P's cred_guard_mutex, held by P's execve`,
  };
}

export const E17: Scenario = {
  id: '17',
  slug: 'de-thread-ptrace-attach',
  title: 'multi-threaded execve vs ptrace_attach: de_thread waits for a traced zombie thread whose tracer sleeps on cred_guard_mutex',
  year: '2017-2025 (open)',
  kind: 'known-open',
  commits: [
    {
      id: '', subject: 'exec: Fix dead-lock in de_thread with ptrace_attach', author: 'Bernd Edlinger', year: 2020,
      role: 'report', status: 'partial', idStatus: 'unverified',
      note: 'a patch, not a commit: posted as v7 15/16 of the 2020 series (cited by Bernd to Linus, 2020-04-02), v8/v9 (2021-06), v14 (2024-01), v16 (2025-08-18, reviewed by Kees Cook), v17 (2025-08-21; Oleg Nesterov 2025-11-02: "I still think we need another approach"); its message describes the deadlock; no merged commit was found',
      source: 'find_string "dead-lock in de_thread with ptrace_attach": ids 49782554654, 33420322810, 33210011617, 10944522325, 12270618235, 1226851570, 18199173924',
    },
    {
      id: '', subject: 'exec: don\'t wait for zombie threads with cred_guard_mutex held (RFC PATCH 2/3)', author: 'Oleg Nesterov', year: 2025,
      role: 'related', status: 'partial', idStatus: 'unverified',
      note: 'an RFC (2025-11-09), not merged in the sources read: de_thread waits only until the sub-threads are zombies, setup_new_exec waits for them to be reaped after dropping cred_guard_mutex; its message has the reproducer and the diff shows today\'s de_thread (notify_count, TASK_KILLABLE, group_exec_task) that src/kernel/exec.ts models',
      source: 'find_string "while (sig->notify_count) {": id 48020823174',
    },
    {
      id: 'd1e7fd6462ca', subject: 'signal: Extend exec_id to 64bits', author: 'Eric W. Biederman', year: 2020,
      role: 'related', status: 'verified',
      note: 'named in the issue as the series to look at: it is from the same 2020 exec work (5.7) but does not touch this deadlock (it widens self_exec_id); its Fixes: tag is "2.3.23pre2". No Fixes: tag naming it and fixing this deadlock was found',
      source: 'stable 4.9 mail "[PATCH 4.9 033/125] signal: Extend exec_id to 64bits", "commit d1e7fd6462ca9fc76650fbe6ca800e35b24267da upstream" (read_file id 29261027821)',
    },
  ],
  variants: [
    { name: 'today', bugs: 0, expect: 'deadlock', summary: 'today\'s kernel: de_thread holds cred_guard_mutex while it waits for the traced zombie thread to be released' },
    { name: 'rfc-reap-unlocked', bugs: PROPOSAL_EXEC_REAP_UNLOCKED, expect: 'clean', summary: 'a proposal, not merged: Oleg Nesterov\'s RFC (2025-11-09): de_thread waits only until the threads passed exit_notify; setup_new_exec drops cred_guard_mutex, then waits for their reaping' },
  ],
  defaultVariant: 'today',
  ncpus: 2,
  interleaving: [
    'T forks P; P clones a thread Z, which does PTRACE_TRACEME (T traces it) and exits: a zombie only T releases (wait4)',
    'P: execve: prepare_bprm_creds locks cred_guard_mutex; de_thread: zap_other_threads, notify_count 1, sleeps until Z is released',
    'T: PTRACE_ATTACH of P: ptrace_attach -> mutex_lock_interruptible(&P->signal->cred_guard_mutex)',
    'P waits for Z, Z for its tracer T, T for P\'s mutex (a signal to T ends it: the mutex wait is interruptible)',
  ],
  expected: 'P in de_thread (holding cred_guard_mutex) -> traced zombie thread Z -> its tracer T in ptrace_attach\'s mutex_lock on P\'s cred_guard_mutex -> P',
  pctDepth: 3,
  pctSteps: 200,
  build(m) {
    const image = prog(m, 'P', [[SYS_EXIT, 1]]); // execlp("false")
    const z = prog(m, 'Z', [[SYS_PTRACE, PTRACE_TRACEME, 0], [SYS_EXIT, 0]]);
    const p = prog(m, 'P', [[SYS_FORK, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, z, 0], [SYS_EXECVE, image]]);
    const t = prog(m, 'T', [
      [SYS_FORK, 0, p, 0],
      [SYS_PTRACE, PTRACE_ATTACH, P_PID],
      ...repeat(2, [[SYS_WAIT4, -1, __WALL]], 3),
      [SYS_EXIT, 0],
    ]);
    start_init(m, prog(m, 'init', [[SYS_FORK, 0, t, 0], [SYS_WAIT4, -1, 0], [SYS_WAIT4, -1, 0], halt]));
  },
  check: check_17,
};

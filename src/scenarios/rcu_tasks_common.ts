/**
 * What catalog entries 1 and 2 share: the upstream record of the RCU-tasks / zap_pid_ns_processes
 * story (docs/catalog-sources.md entries 1-2) and the switch combinations of its three designs:
 * - before any fix (BUG_RCU_TASKS_EXIT_SRCU | BUG_ZAP_HOLDS_SRCU): the exit read side is
 *   tasks_rcu_exit_srcu and rcu_tasks_postscan waits for it with synchronize_srcu; the reaper
 *   sleeps in zap_pid_ns_processes holding it;
 * - first fix, 28319d6dc5e2 (BUG_RCU_TASKS_EXIT_SRCU): zap_pid_ns_processes drops the read side
 *   around its pid_allocated sleep (exit_tasks_rcu_stop/start) - but not in its kernel_wait4 loop;
 * - final fix, 6b70399f9ef3 + 1612160b9127, with 28319d6dc5e2 reverted by 9855c37edf00 (no
 *   switch): exiting tasks are on per-CPU lists and an exiting task that sleeps voluntarily is
 *   in an RCU-tasks quiescent state.
 */
import { BUG_RCU_TASKS_EXIT_SRCU, BUG_ZAP_HOLDS_SRCU } from '../config/bugs.js';
import type { CommitRef } from './types.js';

/** Before any fix. */
export const RCU_TASKS_BEFORE = BUG_RCU_TASKS_EXIT_SRCU | BUG_ZAP_HOLDS_SRCU;
/** 28319d6dc5e2 applied, the SRCU design still in place. */
export const RCU_TASKS_FIRST_FIX = BUG_RCU_TASKS_EXIT_SRCU;

export const COMMITS_RCU_TASKS: Record<string, CommitRef> = {
  first: {
    id: '28319d6dc5e2', subject: 'rcu-tasks: Fix synchronize_rcu_tasks() VS zap_pid_ns_processes()', author: 'Frederic Weisbecker', year: 2023,
    role: 'fix', status: 'verified', note: '5.10 stable backport with [ Upstream commit 28319d6dc5e2ffefa452c2377dd0f71621b5bff0 ], message and diff; Fixes: 3f95aa81d265',
  },
  lists: {
    id: '6b70399f9ef3', subject: 'rcu-tasks: Maintain lists to eliminate RCU-tasks/do_exit() deadlocks', author: 'Paul E. McKenney', year: 2024,
    role: 'fix', status: 'verified', note: '6.1 AUTOSEL and 6.6 stable backports',
  },
  eliminate: {
    id: '1612160b9127', subject: 'rcu-tasks: Eliminate deadlocks involving do_exit() and RCU tasks', author: 'Paul E. McKenney', year: 2024,
    role: 'fix', status: 'verified', note: '6.6/6.7/6.8 backports; cited by the revert',
  },
  revert: {
    id: '9855c37edf00', subject: 'Revert "rcu-tasks: Fix synchronize_rcu_tasks() VS zap_pid_ns_processes()"', author: 'Frederic Weisbecker', year: 2024,
    role: 'revert', status: 'verified', note: '6.10 AUTOSEL backport and the original post',
  },
  rt: {
    id: '0bb11a372fc8', subject: 'rcu-tasks: Maintain real-time response in rcu_tasks_postscan()', author: 'Paul E. McKenney', year: 2024,
    role: 'related', status: 'verified', note: '6.8 AUTOSEL backport',
  },
  origin: {
    id: '3f95aa81d265', subject: 'rcu: Make TASKS_RCU handle tasks that are almost done exiting', year: 2014,
    role: 'bug', status: 'partial', idStatus: 'verified', note: 'id and subject from the Fixes: tag of 28319d6dc5e2; the commit itself was not read',
  },
  report: {
    id: '', subject: 'kprobes: Use synchronize_rcu_tasks_rude in kprobe_optimizer (report, not merged)', author: 'Chen Zhongjin', year: 2024,
    role: 'report', status: 'verified', note: 'the A/B/C diagram with kprobe_mutex (docs/catalog-sources.md entry 2)',
  },
};


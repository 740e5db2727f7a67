/**
 * What the catalog's user programs observe (the checks a test program makes through /proc or
 * setns+fork after the fact), as system calls so the observation happens at a point of the
 * schedule and lands in the violation log. No kernel path calls these.
 */
import { NSPROXY, PIDNS, TASK } from '../mm/layout.js';
import { mem } from '../mm/memory.js';
import { record_violation, V_INVARIANT } from '../locking/violations.js';
import { current } from '../sched/core.js';
import { register_syscall } from './entry.js';
import { SYS_ASSERT_NOT_KILLED_BY, SYS_ASSERT_WAIT_ECHILD, SYS_ASSERT_WAIT_NOT_ECHILD, SYS_PIDNS_ASSERT_EMPTY } from './unistd.js';
import { ECHILD } from './errno.js';
import { find_task_by_vpid } from './pid.js';
import { same_thread_group } from './sched_task.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { PIDNS_ADDING } from './pid.js';

/** V_INVARIANT code: a pid namespace's init was reaped while pids of the namespace still existed. */
export const INV_PIDNS_INIT_NOT_LAST = 0x6e01;

/**
 * After waitpid() returned the init of the namespace the caller created (its pid_ns_for_children),
 * that namespace must be empty: "when the init process of a pid namespace is reaped all of the
 * processes in the pid namespace are gone" (kernel/pid_namespace.c). Returns the pids left.
 */
export function pidns_assert_empty(): number {
  const np = mem[current + TASK.nsproxy]!;
  const ns = np ? mem[np + NSPROXY.pid_ns_for_children]! : 0;
  if (!ns) return 0;
  const left = Atomics.load(mem, ns + PIDNS.pid_allocated) & ~PIDNS_ADDING;
  if (left !== 0) record_violation(V_INVARIANT, INV_PIDNS_INIT_NOT_LAST, ns, left);
  return left;
}

register_syscall(SYS_PIDNS_ASSERT_EMPTY, 'pidns_assert_empty', () => pidns_assert_empty());

/** V_INVARIANT code: a reaped child (the caller's, from its last wait4) was killed by a signal nobody sent it. */
export const INV_KILLED_BY_EXIT_SIGNAL = 0x6e02;

/**
 * After wait4 returned a child that no task ever signalled: its status (TASK.last_status) must not
 * say "killed by `sig`" - a child's exit signal that reached it (an orphan's parent gets SIGCHLD:
 * reparent_leader resets the exit signal). Returns the signal that killed it, 0 if none.
 */
export function assert_not_killed_by(sig: number): number {
  const st = mem[current + TASK.last_status]!;
  const termsig = st & 0x7f;
  if (termsig !== 0 && termsig !== 0x7f && termsig === sig) record_violation(V_INVARIANT, INV_KILLED_BY_EXIT_SIGNAL, sig, st);
  return termsig !== 0x7f ? termsig : 0;
}

register_syscall(SYS_ASSERT_NOT_KILLED_BY, 'assert_not_killed_by', (sig) => assert_not_killed_by(sig));

/** V_INVARIANT code: wait4(nr) said ECHILD while nr was still the caller's child. */
export const INV_WAIT_SPURIOUS_ECHILD = 0x6e03;

/**
 * After wait4(nr): if it returned -ECHILD ("no such child") although the task nr is still the
 * caller's child (its real_parent is in the caller's thread group, as a zombie or alive), the
 * ECHILD was spurious (50b8d257486a's "ERR!! wait: No child processes"). Returns 1 if so.
 */
export function assert_wait_not_echild(nr: number): number {
  if (mem[current + TASK.last_ret] !== -ECHILD) return 0;
  rcu_read_lock();
  const p = find_task_by_vpid(nr);
  const child = p !== 0 && same_thread_group(mem[p + TASK.real_parent]!, current);
  rcu_read_unlock();
  if (!child) return 0;
  record_violation(V_INVARIANT, INV_WAIT_SPURIOUS_ECHILD, nr, mem[p + TASK.exit_state]!);
  return 1;
}

register_syscall(SYS_ASSERT_WAIT_NOT_ECHILD, 'assert_wait_not_echild', (nr) => assert_wait_not_echild(nr));

/** V_INVARIANT code: wait4 reported a child the caller had already reaped. */
export const INV_WAIT_REAPED_TWICE = 0x6e04;

/**
 * After wait4(nr) for a child the program already reaped: it must fail (ECHILD). If it returned
 * nr again, one death was reported twice (0347e1773909's "WTF? %d is dead, but: wait=%d").
 * Returns 1 if so.
 */
export function assert_wait_echild(nr: number): number {
  if (mem[current + TASK.last_ret] !== nr) return 0;
  record_violation(V_INVARIANT, INV_WAIT_REAPED_TWICE, nr, mem[current + TASK.last_status]!);
  return 1;
}

register_syscall(SYS_ASSERT_WAIT_ECHILD, 'assert_wait_echild', (nr) => assert_wait_echild(nr));

/**
 * execve (fs/exec.c): the parts that touch the process model. The "binary" is a user program of
 * the model (an address in the program region); loading it replaces the task's program.
 *
 * bprm_execve -> prepare_bprm_creds: mutex_lock_interruptible(&signal->cred_guard_mutex) (a signal
 * makes execve return -ERESTARTNOINTR) -> exec_binprm -> load_elf_binary -> begin_new_exec: the
 * point of no return, de_thread (kill the other threads: zap_other_threads, group_exec_task,
 * notify_count; wait, TASK_KILLABLE, until __exit_signal released them all; a non-leader waits
 * for the old leader to become a zombie in exit_notify and takes its place under
 * write_lock_irq(&tasklist_lock): exchange_tids, transfer_pid of TGID/PGID/SID, list_replace of
 * ->tasks and ->sibling, then release_task of the old leader), flush_signal_handlers ->
 * setup_new_exec, which drops cred_guard_mutex -> start_thread (the new program) -> back in
 * exec_binprm, ptrace_event(PTRACE_EVENT_EXEC), which stops in TASK_TRACED for a tracer that asked
 * for it (PTRACE_O_TRACEEXEC).
 *
 * BUG_EXEC_TRACED_CRED_GUARD (before a2a8474c3fff, "exec: do not sleep in TASK_TRACED under
 * ->cred_guard_mutex", 2009): do_execve held cred_guard_mutex from the start to the end of exec,
 * across tracehook_report_exec's ptrace stop; a2a8474c3fff made install_exec_creds (today
 * setup_new_exec) drop it after commit_creds, "and thus before tracehook_report_exec()->
 * ptrace_stop()".
 *
 * The program's scratch word (TASK.user_arg) is left as it is: the stress mix keeps its accounting
 * there across the call. Not modelled: credentials and the files (commit_creds has nothing to compute: the model's exec
 * keeps the cred), the mm and exec_update_lock (today's exec_mmap takes it for write; nothing in
 * the model reads a task's mm), unshare_sighand (signal and sighand are one record, shared only
 * by a thread group), self_exec_id, the legacy SIGTRAP of a PTRACE_ATTACH tracee.
 *
 * Restartable: the phase is TASK.restart_phase (BPRM_*), the new program and "bprm->cred is set"
 * (cred_guard_mutex still held, free_bprm must drop it) are in TASK.restart.
 */
import { G, PID, SIG, TASK } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { spin_lock_irq, spin_unlock_irq } from '../locking/spinlock.js';
import { mutex_lock_interruptible, mutex_unlock, MUTEX_INTERRUPTED } from '../locking/mutex.js';
import { read_lock, read_unlock, write_lock_irq, write_unlock_irq } from '../locking/qrwlock.js';
import { sched_hook } from '../sched/hook.js';
import { current, set_current_state, set_running, SLEEP, TASK_KILLABLE, WCHAN_DE_THREAD } from '../sched/core.js';
import { BUG_EXEC_TRACED_CRED_GUARD, PROPOSAL_EXEC_REAP_UNLOCKED } from '../config/bugs.js';
import { register_syscall } from './entry.js';
import { EAGAIN, EFAULT, ERESTARTNOINTR } from './errno.js';
import { SYS_EXECVE } from './unistd.js';
import { release_task } from './exit.js';
import { cgroup_threadgroup_change_begin, cgroup_threadgroup_change_end, cgroup_threadgroup_change_waiting } from './cgroup_pids.js';
import { user_range_ok } from './fork.js';
import { ptrace_event } from './ptrace.js';
import { __fatal_signal_pending, zap_other_threads } from './signal.js';
import {
  __wake_up_parent, children_replace, EXIT_DEAD, EXIT_ZOMBIE, LD_DE_THREAD, LD_DE_THREAD_LEADER_STATE, sibling_list_corrupt, PTRACE_EVENT_EXEC, SIGCHLD, SIGNAL_GROUP_EXIT, tasks_replace, thread_group_empty,
  thread_group_leader,
} from './sched_task.js';

/** Scheduling-hook sites (race windows) of execve. */
export const SITE_EXEC_CRED_GUARD = 280; // prepare_bprm_creds: mutex_lock_interruptible(&sig->cred_guard_mutex)
export const SITE_EXEC_DE_THREAD = 281; // begin_new_exec: the point of no return, before de_thread
export const SITE_EXEC_LEADER = 282; // de_thread: write_lock_irq(&tasklist_lock) for the leader swap
export const SITE_EXEC_LEADER_CGROUP = 285; // de_thread: cgroup_threadgroup_change_begin before the leader swap
export const SITE_EXEC_COMMIT = 283; // setup_new_exec: the new image is in; today cred_guard_mutex goes here

/** execve restart phases (TASK.restart_phase). */
const BPRM_CREDS = 1; // asleep in prepare_bprm_creds's mutex_lock_interruptible
const BPRM_THREADS = 2; // de_thread: waiting for the other threads to be released (notify_count > 0)
const BPRM_LEADER = 3; // de_thread: waiting for the old leader to become a zombie (notify_count -1)
const BPRM_TRACE_STOP = 4; // stopped in ptrace_event(PTRACE_EVENT_EXEC)
const BPRM_NEW_IMAGE = 5; // (within one call) de_thread done: load the new image
const BPRM_REAP = 6; // PROPOSAL_EXEC_REAP_UNLOCKED: setup_new_exec waits for the zombie threads' reaping, unlocked
/** TASK.restart slots: the program to load; 1 while "bprm->cred" is set (cred_guard_mutex held). */
const BR_PROG = 0;
const BR_CRED = 1;

function cred_guard_mutex(t: number): number {
  return mem[t + TASK.signal]! + SIG.cred_guard_mutex;
}

/**
 * prepare_bprm_creds (fs/exec.c): lock the group's cred_guard_mutex ("bprm->cred" is set from now
 * on: free_bprm drops the mutex on failure). Returns 0, SLEEP or -ERESTARTNOINTR.
 */
function prepare_bprm_creds(me: number): number {
  const r = mutex_lock_interruptible(cred_guard_mutex(me), SITE_EXEC_CRED_GUARD);
  if (r === SLEEP) return SLEEP;
  if (r === MUTEX_INTERRUPTED) return -ERESTARTNOINTR;
  mem[me + TASK.restart + BR_CRED] = 1;
  return 0;
}

/** free_bprm's unlock: "bprm->cred" still set means cred_guard_mutex is still ours. */
function drop_cred_guard(me: number): void {
  if (mem[me + TASK.restart + BR_CRED] === 0) return;
  mem[me + TASK.restart + BR_CRED] = 0;
  mutex_unlock(cred_guard_mutex(me));
}

/**
 * de_thread, first part (fs/exec.c): with other threads, kill them (zap_other_threads, under the
 * siglock) and count the ones __exit_signal must release (all of them but a zombie leader, which
 * the swap releases). -EAGAIN when a group exit or another exec is in progress. Returns 0 (go on
 * to the wait), or -EAGAIN.
 */
function de_thread_zap(tsk: number): number {
  const s = mem[tsk + TASK.signal]!;
  const rfc = reap_unlocked();
  // The RFC's kill_sub_threads takes tasklist_lock for read around it: exit_notify counts
  // notify_count up under it held for write.
  if (rfc) read_lock(kg + G.tasklist_lock);
  spin_lock_irq(s + SIG.siglock);
  if ((mem[s + SIG.flags]! & SIGNAL_GROUP_EXIT) !== 0 || mem[s + SIG.group_exec_task] !== 0) {
    // Another group action in progress, just return so that the signal is processed.
    spin_unlock_irq(s + SIG.siglock);
    if (rfc) read_unlock(kg + G.tasklist_lock);
    return -EAGAIN;
  }
  mem[s + SIG.group_exec_task] = tsk;
  if (rfc) {
    // -(threads that have not exited yet): each one's exit_notify counts it up to 0 (the RFC's
    // zap_other_threads counts only those).
    let live = 0;
    for (let u = mem[tsk + TASK.thread_next]!; u !== tsk && u !== 0; u = mem[u + TASK.thread_next]!) if (mem[u + TASK.exit_state] === 0) live++;
    zap_other_threads(tsk);
    Atomics.store(mem, s + SIG.notify_count, -live);
  } else {
    let count = zap_other_threads(tsk);
    if (!thread_group_leader(tsk)) count--;
    Atomics.store(mem, s + SIG.notify_count, count);
  }
  spin_unlock_irq(s + SIG.siglock);
  if (rfc) read_unlock(kg + G.tasklist_lock);
  return 0;
}

/** PROPOSAL_EXEC_REAP_UNLOCKED: the unmerged 2025 RFC's de_thread / setup_new_exec. */
function reap_unlocked(): boolean {
  return (mem[kg + G.bug_switches]! & PROPOSAL_EXEC_REAP_UNLOCKED) !== 0;
}

/**
 * de_thread's wait for the other threads: `while (sig->notify_count)` under the siglock, asleep
 * TASK_KILLABLE between the tests (__exit_signal's last release wakes group_exec_task). Returns 0
 * when they are all gone, SLEEP, or -EAGAIN when a fatal signal came (killed:).
 */
function de_thread_wait_threads(tsk: number, resumed: boolean): number {
  const s = mem[tsk + TASK.signal]!;
  if (resumed) {
    set_running();
    if (__fatal_signal_pending(tsk)) return de_thread_killed(tsk);
  }
  spin_lock_irq(s + SIG.siglock);
  // The state before the test (set_current_state: sequentially consistent), paired with the
  // waker's count update before its wake_up_process: __exit_signal counts down under the siglock
  // too, the RFC's exit_notify counts up under tasklist_lock (Atomics.add).
  set_current_state(TASK_KILLABLE, WCHAN_DE_THREAD, s);
  if (Atomics.load(mem, s + SIG.notify_count) !== 0) {
    spin_unlock_irq(s + SIG.siglock);
    return SLEEP;
  }
  set_running();
  spin_unlock_irq(s + SIG.siglock);
  return 0;
}

/**
 * de_thread for a non-leader: wait for the old leader to become a zombie (notify_count -1, set
 * under tasklist_lock so that exit_notify cannot miss group_exec_task), then take its place: its
 * pid (exchange_tids), the group's TGID/PGID/SID pids, its place in the process list and in its
 * parent's children; it is EXIT_DEAD and released. Returns 0, SLEEP or -EAGAIN (killed).
 *
 * Each pass holds cgroup_threadgroup_rwsem for read around the test and the swap, as fs/exec.c's
 * de_thread does (`for (;;) { cgroup_threadgroup_change_begin(tsk); write_lock_irq(&tasklist_lock);
 * ... }`, then write_unlock_irq + cgroup_threadgroup_change_end before release_task(leader); read in
 * torvalds/linux fs/exec.c@0006ebb4cad2, read_file id 503138219, and in newer stored copies found
 * with find_string "cgroup_threadgroup_change_begin(tsk);"). It pairs
 * with cgroup_procs_write's write side (src/kernel/cgroup_pids.ts): a cgroup.procs writer that
 * read the group's leader sees it stay the leader, and in the thread ring, until it is done.
 * Without it the swap and release_task(leader) could run between the writer's read of
 * group_leader and its ring walk, which then starts at a task no longer on the ring and never
 * comes back to it (a soft lockup under read_lock(tasklist_lock): session 7's 10-minute run).
 */
function de_thread_leader(tsk: number, resumed: boolean): number {
  const s = mem[tsk + TASK.signal]!;
  const tl = kg + G.tasklist_lock;
  // A wake-up from the rwsem's wait queue resumes percpu_down_read below (the waker took the read
  // side for us); one from the TASK_KILLABLE sleep for the leader tests for a fatal signal.
  if (resumed && !cgroup_threadgroup_change_waiting(tsk)) {
    set_running();
    if (__fatal_signal_pending(tsk)) return de_thread_killed(tsk);
  }
  if (cgroup_threadgroup_change_begin(SITE_EXEC_LEADER_CGROUP) === SLEEP) return SLEEP;
  const leader = mem[tsk + TASK.group_leader]!;
  write_lock_irq(tl, SITE_EXEC_LEADER);
  // Do this under tasklist_lock to ensure that exit_notify() can't miss ->group_exec_task. (The
  // RFC counted the leader among the threads it waited for: it is a zombie already.)
  if (!reap_unlocked()) Atomics.store(mem, s + SIG.notify_count, -1);
  if (mem[leader + TASK.exit_state] === 0) {
    set_current_state(TASK_KILLABLE, WCHAN_DE_THREAD, leader);
    write_unlock_irq(tl);
    cgroup_threadgroup_change_end();
    return SLEEP;
  }
  // exchange_tids(tsk, leader): the pids of PIDTYPE_PID trade places.
  const lpid = mem[leader + TASK.pid]!;
  const tpid = mem[tsk + TASK.pid]!;
  mem[leader + TASK.pid] = tpid;
  mem[tsk + TASK.pid] = lpid;
  Atomics.store(mem, lpid + PID.task_pid, tsk);
  Atomics.store(mem, tpid + PID.task_pid, leader);
  // transfer_pid(leader, tsk, PIDTYPE_TGID / PGID / SID): the group's pids now lead to tsk.
  Atomics.store(mem, mem[leader + TASK.tgid_pid]! + PID.task_tgid, tsk);
  mem[tsk + TASK.pgrp] = mem[leader + TASK.pgrp]!;
  mem[leader + TASK.pgrp] = 0;
  mem[tsk + TASK.session] = mem[leader + TASK.session]!;
  mem[leader + TASK.session] = 0;
  tasks_replace(leader, tsk);
  const rp = mem[leader + TASK.real_parent]!;
  // Every thread of a group has the leader's real_parent (copy_process, forget_original_parent):
  // list_replace_init below does not set tsk's. The model's CONFIG_DEBUG_LIST check of it.
  if (mem[tsk + TASK.real_parent] !== rp) sibling_list_corrupt(LD_DE_THREAD, rp, tsk, leader);
  if (rp) children_replace(rp, leader, tsk);
  mem[tsk + TASK.group_leader] = tsk;
  mem[leader + TASK.group_leader] = tsk;
  if (reap_unlocked()) {
    // The RFC: the zombie threads still in the group get the new leader too (for_each_thread).
    for (let u = mem[tsk + TASK.thread_next]!; u !== tsk && u !== 0; u = mem[u + TASK.thread_next]!) mem[u + TASK.group_leader] = tsk;
  }
  mem[tsk + TASK.exit_signal] = SIGCHLD;
  mem[leader + TASK.exit_signal] = -1;
  if (mem[leader + TASK.exit_state] !== EXIT_ZOMBIE) sibling_list_corrupt(LD_DE_THREAD_LEADER_STATE, rp, leader, tsk);
  mem[leader + TASK.exit_state] = EXIT_DEAD;
  // We are going to release_task()->ptrace_unlink() silently, the tracer can sleep in do_wait().
  // EXIT_DEAD tells them to remove the leader from their ->ptraced list.
  if (mem[leader + TASK.ptrace] !== 0) __wake_up_parent(mem[leader + TASK.parent]!);
  write_unlock_irq(tl);
  cgroup_threadgroup_change_end();
  release_task(leader);
  return 0;
}

/** de_thread's killed: label: group_exec_task and notify_count cleared under tasklist_lock (read). */
function de_thread_killed(tsk: number): number {
  const s = mem[tsk + TASK.signal]!;
  // protects against exit_notify() and __exit_signal()
  read_lock(kg + G.tasklist_lock);
  mem[s + SIG.group_exec_task] = 0;
  mem[s + SIG.notify_count] = 0;
  read_unlock(kg + G.tasklist_lock);
  return -EAGAIN;
}

/**
 * flush_signal_handlers(me, 0) (kernel/signal.c): handlers back to SIG_DFL (SIG_IGN stays), all
 * sa_flags cleared.
 */
function flush_signal_handlers(me: number): void {
  const s = mem[me + TASK.sighand]!;
  spin_lock_irq(s + SIG.siglock);
  mem[s + SIG.action_caught] = 0;
  mem[s + SIG.action_restart] = 0;
  mem[s + SIG.chld_flags] = 0;
  spin_unlock_irq(s + SIG.siglock);
}

/** execve's end, successful or not: the restart block is free again. */
function bprm_done(me: number, ret: number): number {
  drop_cred_guard(me);
  mem[me + TASK.restart_phase] = 0;
  mem[me + TASK.restart + BR_PROG] = 0;
  return ret;
}

/**
 * execve(prog) (SYSCALL_DEFINE3(execve) -> do_execveat_common -> bprm_execve). Returns 0 with the
 * new program loaded (it starts at its first instruction), SLEEP, or -errno: -EFAULT for a
 * program outside the program region, -ERESTARTNOINTR when a signal interrupts the wait for
 * cred_guard_mutex, -EAGAIN when de_thread lost to a group exit, another exec, or a fatal signal
 * (past the point of no return the pending fatal signal ends the task on the way out).
 */
export function sys_execve(prog: number): number {
  const me = current;
  let phase = mem[me + TASK.restart_phase]!;
  if (phase === 0) {
    if (!user_range_ok(prog, 1)) return -EFAULT;
    mem[me + TASK.restart + BR_PROG] = prog;
    mem[me + TASK.restart + BR_CRED] = 0;
    phase = BPRM_CREDS;
    mem[me + TASK.restart_phase] = phase;
  }
  if (phase === BPRM_CREDS) {
    const r = prepare_bprm_creds(me);
    if (r === SLEEP) return SLEEP;
    if (r < 0) return bprm_done(me, r);
    // begin_new_exec: ensure all future errors are fatal (bprm->point_of_no_return).
    sched_hook(SITE_EXEC_DE_THREAD);
    // Make this the only thread in the thread group.
    if (!thread_group_empty(me)) {
      const z = de_thread_zap(me);
      if (z < 0) return bprm_done(me, z);
      phase = BPRM_THREADS;
      mem[me + TASK.restart_phase] = phase;
      const w = de_thread_wait_threads(me, reap_unlocked()); // the RFC tests for a fatal signal first
      if (w === SLEEP) return SLEEP;
      if (w < 0) return bprm_done(me, w);
    } else {
      phase = BPRM_NEW_IMAGE; // no_thread_group
    }
  } else if (phase === BPRM_THREADS) {
    const w = de_thread_wait_threads(me, true);
    if (w === SLEEP) return SLEEP;
    if (w < 0) return bprm_done(me, w);
  }
  if (phase === BPRM_THREADS || phase === BPRM_LEADER) {
    // At this point all other threads have exited, all we have to do is to wait for the thread
    // group leader to become inactive, and to assume its PID.
    if (!thread_group_leader(me)) {
      const resumed = phase === BPRM_LEADER;
      phase = BPRM_LEADER;
      mem[me + TASK.restart_phase] = phase;
      const r = de_thread_leader(me, resumed);
      if (r === SLEEP) return SLEEP;
      if (r < 0) return bprm_done(me, r);
    }
    // Alone in the group now: nobody else reads these (WRITE_ONCE, as the kernel's plain stores).
    // The RFC keeps group_exec_task until setup_new_exec has seen the zombies reaped.
    if (!reap_unlocked()) {
      const s = mem[me + TASK.signal]!;
      Atomics.store(mem, s + SIG.group_exec_task, 0);
      Atomics.store(mem, s + SIG.notify_count, 0);
    }
    phase = BPRM_NEW_IMAGE;
  }
  if (phase === BPRM_NEW_IMAGE) {
    // no_thread_group: we have changed execution domain (a lockless store of current's own).
    Atomics.store(mem, me + TASK.exit_signal, SIGCHLD);
    if (!reap_unlocked()) flush_signal_handlers(me); // the RFC moved it after the reap wait
    // setup_new_exec -> start_thread: the new image; it starts at instruction 0 once the call
    // completes (task_step moves pc past a completed call).
    mem[me + TASK.prog] = mem[me + TASK.restart + BR_PROG]!;
    mem[me + TASK.pc] = -1;
    sched_hook(SITE_EXEC_COMMIT);
    // a2a8474c3fff: install_exec_creds (today setup_new_exec) drops cred_guard_mutex here,
    // before the ptrace stop below; before it, do_execve kept it to its end.
    if ((mem[kg + G.bug_switches]! & BUG_EXEC_TRACED_CRED_GUARD) === 0) drop_cred_guard(me);
    if (reap_unlocked()) {
      // The RFC's setup_new_exec: with the mutex dropped, wait until __exit_signal released the
      // zombie threads (a traced one: by its tracer's wait4, which may now take the mutex).
      const s = mem[me + TASK.signal]!;
      if (mem[s + SIG.group_exec_task] !== 0) {
        spin_lock_irq(s + SIG.siglock);
        Atomics.store(mem, s + SIG.notify_count, mem[s + SIG.nr_threads]! - 1);
        spin_unlock_irq(s + SIG.siglock);
        phase = BPRM_REAP;
        mem[me + TASK.restart_phase] = phase;
      } else {
        flush_signal_handlers(me);
      }
    }
  }
  if (phase === BPRM_REAP) {
    // wait_for_notify_count tests for a fatal signal before every sleep, the first one too.
    const w = de_thread_wait_threads(me, true);
    if (w === SLEEP) return SLEEP;
    if (w >= 0) {
      // clear_group_exec_task
      const s = mem[me + TASK.signal]!;
      read_lock(kg + G.tasklist_lock);
      Atomics.store(mem, s + SIG.group_exec_task, 0);
      Atomics.store(mem, s + SIG.notify_count, 0);
      read_unlock(kg + G.tasklist_lock);
    }
    if (w < 0) return bprm_done(me, w); // de_thread_killed cleared them
    flush_signal_handlers(me);
    phase = BPRM_NEW_IMAGE;
  }
  if (phase === BPRM_NEW_IMAGE) {
    phase = BPRM_TRACE_STOP;
    mem[me + TASK.restart_phase] = phase;
    if (ptrace_event(PTRACE_EVENT_EXEC, false) === SLEEP) return SLEEP;
    return bprm_done(me, 0);
  }
  // phase === BPRM_TRACE_STOP: resumed in the ptrace stop of exec_binprm.
  if (ptrace_event(PTRACE_EVENT_EXEC, true) === SLEEP) return SLEEP;
  return bprm_done(me, 0);
}

register_syscall(SYS_EXECVE, 'execve', (prog) => sys_execve(prog));

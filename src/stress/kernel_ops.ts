/**
 * The process-model operations of the stress mix (fork, clone(CLONE_NEWPID), unshare, exit,
 * wait, kill, setns by nsfd and by pidfd, zap, ns_last_pid, the last-pid vector, clone_with_pids,
 * clone3 set_tid, reboot): each picks its arguments with the task's RNG and returns the sub-call
 * to run, or null to skip (the operation does not apply now). Compound operations (open a file,
 * use it, close it) keep their step in the task's side-table slot and continue on the task's next
 * SYS_STRESS_OP, before anything new starts.
 *
 * The targets are picked the way a fuzzer would: random pids of the caller's namespace (up to
 * its ns_last_pid), so most calls meet live tasks, zombies, dying tasks, other namespaces' inits
 * and no task at all. Only the stress reaper (pid 2 of the initial namespace) and init are spared.
 */
import { CLONE_ARGS, G, NSPROXY, STRESS_TABLE, PIDNS, STRESS_DAEMON_PROG, STRESS_EXEC_PROG, STRESS_WAITER_PROG, STRESS_MAX_DEPTH, STRESS_MAX_TASKS, STRESS_NS_INITS, STRESS_NS_INITS_NEXT, STRESS_NS_SEEN, STRESS_PROG, SIG, TARGET_PID_SET, TASK, NR_PIDS_CGROUPS } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { PIDS_MAX_ARG } from '../kernel/cgroup_pids.js';
import {
  SYS_CLONE3, SYS_CLONE_WITH_PIDS, SYS_CLOSE, SYS_EXIT, SYS_FORK, SYS_KILL, SYS_NS_LAST_PID_READ, SYS_NS_LAST_PID_WRITE,
  SYS_ALARM, SYS_EXECVE, SYS_OPEN_NS, SYS_PIDFD_OPEN, SYS_TASK_WORK_ADD, SYS_EXIT_GROUP, SYS_PTRACE, SYS_PRCTL, SYS_KILL_FASYNC, SYS_MM_UPDATE_NEXT_OWNER, SYS_RAISE_IRQ,
  SYS_KPROBE_OPTIMIZER, SYS_PERF_KPROBE_INIT, SYS_PIDNS_IOCTL_SET_LAST_PID_VEC, SYS_REBOOT, SYS_RT_SIGACTION, SYS_RT_SIGPROCMASK, SYS_SETNS, SYS_UNSHARE, SYS_WAIT4,
  SYS_POLL_PIDFD, SYS_CAD_PID_READ, SYS_SCHED_YIELD, SYS_CAD_PID_WRITE, SYS_CGROUP_ATTACH, SYS_CGROUP_PROCS_WRITE, SYS_PIDS_MAX_WRITE, SYS_WAITID, SYS_MOUNT_PROC, SYS_UMOUNT_PROC, SYS_PROC_NS_READLINK,
} from '../kernel/unistd.js';
import { PIDNS_ADDING } from '../kernel/pid_types.js';
import { find_task_by_vpid, find_vpid, is_child_reaper, pid_nr, pid_nr_ns, task_active_pid_ns } from '../kernel/pid.js';
import { same_thread_group } from '../kernel/sched_task.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import {
  CLONE_NEWPID, SA_NOCLDSTOP, SA_NOCLDWAIT, SA_RESTART, SIG_BLOCK, SIG_CAUGHT, SIG_DFL, SIG_IGN, SIG_UNBLOCK, SIGCHLD, SIGCONT, SIGKILL, SIGSTOP,
  SIGTERM, SIGURG, SIGUSR1, EXIT_DEAD, WCONTINUED, WEXITED, WNOHANG, WNOWAIT, WSTOPPED, WUNTRACED, __WALL, PTRACE_O_TRACEEXEC,
  CLD_CONTINUED, CLD_STOPPED, CLD_TRAPPED, PF_EXITING, EXIT_ZOMBIE, SIGNAL_GROUP_EXIT, SIGNAL_STOP_STOPPED,
} from '../kernel/sched_task.js';
import { ECHILD, EINTR } from '../kernel/errno.js';
import { INV_WAIT_REAPED_TWICE, INV_WAIT_SPURIOUS_ECHILD } from '../kernel/user_assertions.js';
import { record_violation, V_INVARIANT } from '../locking/violations.js';
import { read_lock, read_unlock } from '../locking/qrwlock.js';
import { __fatal_signal_pending } from '../kernel/signal.js';
import { P_ALL } from '../kernel/exit.js';
import { NSK_PID, NSK_PID_FOR_CHILDREN, NSK_TIME_FOR_CHILDREN } from '../kernel/nsfs.js';
import { LINUX_REBOOT_CMD_RESTART } from '../kernel/pid_namespace.js';
import { CLONE_ARGS_SIZE_VER2 } from '../kernel/fork.js';
import { CLONE_PARENT, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM } from '../kernel/clone_flags.js';
import { PTRACE_ATTACH, PTRACE_CONT, PTRACE_DETACH, PTRACE_SEIZE, PTRACE_TRACEME } from '../kernel/ptrace.js';
import { PR_SET_CHILD_SUBREAPER } from '../kernel/fork.js';
import { POLL_IN, SIGIO } from '../kernel/fasync.js';
import { IRQV_KILL_FASYNC } from '../sched/irq.js';
import { mutex_is_locked } from '../locking/mutex.js';
import { kprobe_mutex } from '../kernel/kprobes.js';
import { OP_IDS, OPS, STRESS_FASYNC_AT, SLOT_CONT, SLOT_CONT_ARG, SLOT_CONT_STEP, SLOT_NEWPID_CHILD, SLOT_SCRATCH } from './ops.js';
import { SYS_SYNCHRONIZE_RCU } from '../kernel/torture.js';
import { clone_parent_checks, exec_checks, same_process, some_task_slot, task_slot, task_slot_peek } from './checks.js';
import type { SubCall } from './stress_syscalls.js';

export type Rand = (t: number) => number;
export interface OpCall extends SubCall { op: number }

const S = (): number => kg + G.stress;
const call = (op: number, nr: number, a = 0, b = 0, c = 0): OpCall => ({ op, nr, a, b, c });

function ns_level(ns: number): number {
  return ns ? mem[ns + PIDNS.level]! : 0;
}

function children_ns_level(t: number): number {
  const np = mem[t + TASK.nsproxy]!;
  const ns = np ? mem[np + NSPROXY.pid_ns_for_children]! : 0;
  return ns ? ns_level(ns) : ns_level(task_active_pid_ns(t));
}

/** A random pid of the caller's namespace (2 .. ns_last_pid + 2), sparing init and the reaper. */
function random_pid(t: number, rand: Rand): number {
  const ns = task_active_pid_ns(t);
  const last = ns ? Math.max(2, mem[ns + PIDNS.idr_next]! - 1) : 2;
  const lo = ns_level(ns) === 0 ? 3 : 2;
  // Half the time one of the last 32 pids handed out (the tasks being born and dying now, where
  // the races are), else anywhere in the namespace's range.
  if (rand(t) & 1) return Math.max(lo, last + 1 - (rand(t) % 32));
  return lo + (rand(t) % Math.max(1, last - lo + 3));
}

/** Entries of G.stress ns_inits (the ring of recent namespace inits). */
const NS_INITS = 8;

/**
 * A namespace init the mix created lately (its number in init_pid_ns), for a caller of the initial
 * namespace, where those numbers mean something; 0 when there is none. Many tasks aim at the same
 * few namespaces this way: some setns and fork into one while another kills its init (or it
 * exits), so forks race with zap_pid_ns_processes.
 */
function recent_ns_init(t: number, rand: Rand): number {
  if (ns_level(task_active_pid_ns(t)) !== 0) return 0;
  return Atomics.load(mem, S() + STRESS_NS_INITS + (rand(t) % NS_INITS));
}

/** A target for setns: half the time a recent namespace init (when the caller can name one), else a random pid. */
function ns_target(t: number, rand: Rand): number {
  return (rand(t) & 1 ? recent_ns_init(t, rand) : 0) || random_pid(t, rand);
}

/**
 * Some thread of t's group (t, then its thread list: for_each_thread) satisfies pred. The walk is
 * bounded, as the stress reads the list without the locks that keep it whole.
 */
function some_thread(t: number, pred: (u: number) => boolean): boolean {
  let u = t;
  for (let k = 0; u && k < 1000; k++) {
    if (pred(u)) return true;
    u = mem[u + TASK.thread_next]!;
    if (u === t) break;
  }
  return false;
}

/**
 * Some thread of t's group has a child that is not a service (the daemon program), or a tracee:
 * what a blocking wait can count on to end. A service lives until a signal kills it: its
 * parent's wait for it is the wind-down's, made after the parent stopped the services of its own
 * namespace (those of other namespaces end with their namespace's init).
 */
function group_has_children(t: number): boolean {
  rcu_read_lock(); // the children lists are read without tasklist_lock: tasks are freed a grace period after release
  const found = some_thread(t, (u) => mem[u + TASK.ptraced] !== 0 || has_non_service_child(u));
  rcu_read_unlock();
  return found;
}

/**
 * u has a child that is not a live service (a service's exit is what a wait for it needs, and
 * only a kill brings that). The walk is bounded; the caller holds rcu_read_lock or is u itself
 * (which alone removes from its list).
 */
export function has_non_service_child(u: number): boolean {
  for (let c = mem[u + TASK.children]!, j = 0; c && j < 100_000; c = mem[c + TASK.sibling_next]!, j++) {
    if (!is_daemon(c) || mem[c + TASK.exit_state] !== 0) return true;
  }
  return false;
}

/**
 * t's children autoreap: its SIGCHLD disposition is SIG_IGN or has SA_NOCLDWAIT (the 'sigaction'
 * operation), what do_notify_parent tests on the parent's sighand (kernel/signal.c). A look at t's
 * own sighand, which only t's group writes (do_sigaction, under its siglock).
 */
function children_autoreap(t: number): boolean {
  const sh = mem[t + TASK.sighand]!;
  return sh !== 0 && ((mem[sh + SIG.action_ign]! & (1 << (SIGCHLD - 1))) !== 0 || (mem[sh + SIG.chld_flags]! & SA_NOCLDWAIT) !== 0);
}

/** Some thread of t's group traces a task. */
function group_traces(t: number): boolean {
  return some_thread(t, (u) => mem[u + TASK.ptraced] !== 0);
}

/**
 * A debugger that quits detaches first: PTRACE_DETACH of t's first tracee (its number in t's
 * namespace), or null. A tracee held in a group-stop trap goes back to the group stop
 * (__ptrace_unlink), a job its real parent's wait sees and continues.
 */
export function detach_first_tracee(t: number, op: number): OpCall | null {
  const p = mem[t + TASK.ptraced]!;
  if (!p) return null;
  rcu_read_lock();
  const nr = pid_nr_ns(mem[p + TASK.pid]!, task_active_pid_ns(t));
  rcu_read_unlock();
  return nr > 0 ? call(op, SYS_PTRACE, PTRACE_DETACH, nr) : null;
}

/**
 * A process whose group stop t's wait cannot see, by its number in t's namespace (0: none): its
 * zombie leader is t's tracee and t's child (PTRACE_TRACEME), its other threads not yet released,
 * and the group is stopped (SIGNAL_STOP_STOPPED). wait_consider_task then treats the zombie as
 * t's ptracee - "This also hides group stop state from real parent" (kernel/exit.c) - and looks
 * only at the leader's own ptrace stop, so no wait of t reports the stop and t, blocked in wait4,
 * would never continue the stopped thread (seen: the stress reaper asleep in wait4 for good, the
 * thread in do_signal_stop with zombie children of its own). A parent that can, looks the way a
 * shell reads /proc/PID/status (State: T): a peek, as every stress program's choice is.
 */
export function hidden_group_stop_of_tracee(t: number): number {
  // A plain peek first, with no scheduling point (rcu_read_lock is one): a reaper with nothing of
  // the kind takes the same decisions as before this look existed. Found, it looks again under RCU
  // (a tracee may be released meanwhile) for the number.
  if (!mem[t + TASK.ptraced] || !hidden_stop_tracee(t)) return 0;
  rcu_read_lock();
  const p = hidden_stop_tracee(t);
  const nr = p ? pid_nr_ns(mem[p + TASK.pid]!, task_active_pid_ns(t)) : 0;
  rcu_read_unlock();
  return Math.max(0, nr);
}

function hidden_stop_tracee(t: number): number {
  for (let p = mem[t + TASK.ptraced]!, k = 0; p && k < 100_000; p = mem[p + TASK.ptrace_next]!, k++) {
    if (mem[p + TASK.exit_state] !== EXIT_ZOMBIE || mem[p + TASK.group_leader] !== p || mem[p + TASK.thread_next] === p) continue;
    if (!same_thread_group(mem[p + TASK.real_parent]!, t)) continue;
    const sig = mem[p + TASK.signal]!;
    if (sig && (mem[sig + SIG.flags]! & SIGNAL_STOP_STOPPED) !== 0) return p;
  }
  return 0;
}

/**
 * t's process has one thread, no child and no tracee, and is no reaper (a subreaper or a
 * namespace init, which orphans are reparented to): while t blocks in something other than a
 * wait for its children (a poll, a debugger's wait for its tracee), nothing makes it a parent, so
 * no child of its waits to be reaped or continued (job control) meanwhile.
 */
function alone_without_children(t: number): boolean {
  if (mem[t + TASK.thread_next] !== t || mem[t + TASK.children] || mem[t + TASK.ptraced]) return false;
  return !mem[mem[t + TASK.signal]! + SIG.is_child_subreaper] && !is_child_reaper(mem[t + TASK.tgid_pid]!);
}

/** Another thread of t's group that has children (the first after t on the thread list), or 0. */
function other_thread_with_children(t: number): number {
  for (let u = mem[t + TASK.thread_next]!, k = 0; u && u !== t && k < 64; u = mem[u + TASK.thread_next]!, k++) {
    if (mem[u + TASK.children]) return u;
  }
  return 0;
}

/**
 * The number in t's namespace of one of the first four children of task `parent` (read under RCU:
 * tasks are freed a grace period after release_task), 0 if none.
 */
function child_nr(t: number, parent: number, rand: Rand): number {
  if (!parent) return 0;
  rcu_read_lock();
  let c = mem[parent + TASK.children]!;
  for (let k = rand(t) % 4; k > 0 && c && mem[c + TASK.sibling_next]; k--) c = mem[c + TASK.sibling_next]!;
  const nr = c ? pid_nr_ns(mem[c + TASK.pid]!, task_active_pid_ns(t)) : 0;
  rcu_read_unlock();
  return Math.max(0, nr);
}

function can_fork(): boolean {
  return Atomics.load(mem, kg + G.nr_threads) < mem[S() + STRESS_MAX_TASKS]!;
}

const O = (name: string): number => OP_IDS[name]!;

/** op >= 0: a new operation of that id; op = -1: the continuation of a compound one, if any. */
export function kernel_op(t: number, op: number, rand: Rand): OpCall | null {
  const slot = task_slot(t);
  if (!slot) return null;
  if (op < 0) return continue_op(t, slot, rand);
  const prog = mem[S() + STRESS_PROG]!;
  switch (OPS[op]!.name) {
    case 'fork': {
      // One fork in eight asks for SIGUSR1 as the child's exit signal, three in eight for SIGURG
      // (clone's CSIGNAL byte): a parent the child's death kills (SIGUSR1's default action, unless
      // the parent caught or ignored it), or one it only tells. Children the mix
      // makes with CLONE_PARENT inherit the signal (clone_parent_checks). SIGURG went from one in
      // eight to three (session 12): with clone-parent's weight doubled, a CLONE_PARENT fork by a
      // task whose exit signal is not SIGCHLD went from 45 to about 130 a second (4 CPUs, a
      // temporary count), and b4e00444cab4's race (such a fork straddling the reparent of its
      // creator) from 1 in a 20 s run to 4 and 6 (seeds 1, 2).
      if (!can_fork()) return null;
      const r = rand(t) % 8;
      return call(op, SYS_FORK, r === 0 ? SIGUSR1 : r <= 3 ? SIGURG : 0, prog, 0);
    }
    case 'clone-newpid':
      if (!can_fork() || children_ns_level(t) >= mem[S() + STRESS_MAX_DEPTH]!) return null;
      return call(op, SYS_FORK, CLONE_NEWPID, prog, 0);
    case 'unshare':
      if (children_ns_level(t) >= mem[S() + STRESS_MAX_DEPTH]!) return null;
      return call(op, SYS_UNSHARE, CLONE_NEWPID);
    case 'exit':
      return call(op, SYS_EXIT, rand(t) & 0x7f);
    case 'wait': {
      // Any thread of a process with children (not only services: group_has_children) blocks
      // three times in four (do_wait looks at the children of every thread of the group, so
      // threads of one process wait for the same children at once); else it polls, wait4(WNOHANG).
      // A debugger (a process that traces some task) polls instead: WNOHANG.
      // A process whose children autoreap polls too (WNOHANG): do_notify_parent releases an
      // exiting child at once and only wakes the parent, so a blocking wait reports no exit and
      // sleeps again while any child lives - for ever with a service among them, or adopted
      // meanwhile (the services' false positive of sessions 7-8: every stress process asleep
      // in this wait, with only services left). Its stopped children are still reported.
      if (!group_has_children(t) || (rand(t) & 3) === 0) return call(op, SYS_WAIT4, -1, __WALL | WNOHANG);
      const poll = group_traces(t) || children_autoreap(t);
      return job_control_wait(slot, op, (rand(t) & 1 ? WCONTINUED : 0) | (poll ? WNOHANG : 0));
    }
    case 'kill': {
      // A quarter of the signals come from a timer: alarm() armed for a random CPU, whose
      // interrupt handler (it_real_fn) sends the caller SIGALRM with kill_pid_info.
      if (rand(t) % 4 === 0) return call(op, SYS_ALARM, rand(t) % mem[kg + G.ncpus]!);
      const sigs = [SIGKILL, SIGTERM, SIGUSR1, SIGCHLD, 0];
      const nr = random_pid(t, rand);
      const sig = sigs[rand(t) % sigs.length]!;
      // A service of a namespace below ours is that namespace's to kill (foreign_service): probe it.
      return call(op, SYS_KILL, nr, sig === SIGKILL && foreign_service_nr(t, nr) ? 0 : sig);
    }
    case 'zap': {
      // SIGKILL to the namespace init the caller created last, else to one the mix created lately.
      const own = mem[slot + SLOT_NEWPID_CHILD]!;
      mem[slot + SLOT_NEWPID_CHILD] = 0;
      const init = own || recent_ns_init(t, rand);
      if (!init) return null;
      // The number may be another task's by now, a service of a namespace below ours among them.
      return call(op, SYS_KILL, init, foreign_service_nr(t, init) ? 0 : SIGKILL);
    }
    case 'setns-nsfd':
      // Step 0: open /proc/PID/ns/pid (or pid_for_children) of a task (0 = self).
      start_cont(slot, op);
      return call(op, SYS_OPEN_NS, rand(t) % 4 === 0 ? 0 : ns_target(t, rand), rand(t) & 1 ? NSK_PID : NSK_PID_FOR_CHILDREN);
    case 'setns-pidfd':
      start_cont(slot, op);
      return call(op, SYS_PIDFD_OPEN, ns_target(t, rand), 0);
    case 'ns-last-pid':
      return rand(t) & 1 ? call(op, SYS_NS_LAST_PID_READ) : call(op, SYS_NS_LAST_PID_WRITE, 1 + (rand(t) % 400));
    case 'last-pid-vec':
      start_cont(slot, op);
      return call(op, SYS_OPEN_NS, 0, NSK_PID_FOR_CHILDREN);
    case 'clone-with-pids': {
      if (!can_fork()) return null;
      const set = slot + SLOT_SCRATCH;
      mem[set + TARGET_PID_SET.num_pids] = 1;
      mem[set + TARGET_PID_SET.SIZE] = 2 + (rand(t) % 400);
      return call(op, SYS_CLONE_WITH_PIDS, 0, set, prog);
    }
    case 'set-tid': {
      if (!can_fork()) return null;
      // struct clone_args (one word per u64 field) in the task's scratch, set_tid[1] right after it.
      const a = slot + SLOT_SCRATCH;
      const set_tid = a + CLONE_ARGS.SIZE;
      mem.fill(0, a, set_tid + 1);
      mem[a + CLONE_ARGS.flags] = 0;
      mem[a + CLONE_ARGS.exit_signal] = SIGCHLD;
      mem[set_tid] = 2 + (rand(t) % 400);
      mem[a + CLONE_ARGS.set_tid] = set_tid;
      mem[a + CLONE_ARGS.set_tid_size] = 1;
      return call(op, SYS_CLONE3, a, CLONE_ARGS_SIZE_VER2, prog);
    }
    case 'stop-cont': {
      // Half the time a job of the caller's own (one of its first four children, unless it traces it):
      // SIGSTOP, and it stays stopped until the caller's job-control wait reports the stop and
      // continues it (kill -STOP %1, later bg). Else a random pid, SIGSTOP then SIGCONT at once.
      // Neither stops a debugger (a process a thread of which traces a task), as raise-stop does
      // not: a stopped debugger ends no trap of its tracees, and the one to continue it may be one
      // of them (seen, session 10, a 5-minute checked run: a child tracing its parent stopped by
      // that parent, the parent then in a group-stop trap only the child could end).
      let child = mem[t + TASK.children]!;
      for (let k = rand(t) % 4; k > 0 && child && mem[child + TASK.sibling_next]; k--) child = mem[child + TASK.sibling_next]!;
      if (rand(t) & 1 && child && !(mem[child + TASK.ptrace] && mem[child + TASK.parent] === t) && !group_traces(child)) {
        rcu_read_lock();
        const nr = pid_nr_ns(mem[child + TASK.pid]!, task_active_pid_ns(t));
        rcu_read_unlock();
        if (nr > 0) return call(op, SYS_KILL, nr, SIGSTOP);
      }
      const pid = random_pid(t, rand);
      // Not the caller's own process: a process that stops itself cannot send the SIGCONT that
      // follows (a job-control shell stops its jobs, not itself), and its stop would last until a
      // random signal or the wind-down ended it, holding up whoever waits for it.
      rcu_read_lock();
      const target = find_task_by_vpid(pid);
      // Nor a debugger (above).
      const skip = target !== 0 && (same_thread_group(target, t) || group_traces(target));
      rcu_read_unlock();
      if (skip) return null;
      start_cont(slot, op);
      mem[slot + SLOT_CONT_ARG] = pid;
      return call(op, SYS_KILL, pid, SIGSTOP);
    }
    case 'raise-stop': {
      // A program that suspends itself (raise(SIGSTOP), kill -STOP $$): the group stops, and its
      // parent's job control reports the stop and continues it (SIGCONT), as it does every stop
      // of a child (the wait operation, the wind-down, the stress reaper). Not while a live thread
      // of the process is traced: its group stop is a ptrace trap that only its tracer ends, and a
      // tracer that is itself trapped so (the mix's debuggers attach to random pids: two may trace
      // each other) would wait for ever (seen: a cycle of two tasks in ptrace_stop). Nor while a
      // zombie thread (the leader) is traced by the parent's own process (PTRACE_TRACEME): the
      // parent's wait then looks at it as its tracer and does not see the group stop - "This
      // also hides group stop state from real parent" (wait_consider_task) - so nobody would
      // continue it (seen: the parent asleep in its job-control wait, the stopped thread for ever).
      // A zombie leader traced by another process is the one allowed (catalog entry 21's state).
      // Nor while a thread of it traces a task: a stopped debugger ends no trap of its tracees, and
      // one of them may be the parent that would continue it (the ptrace operation attaches to
      // random pids, its parent's too; seen: the parent in a group-stop trap, the stopped child its
      // tracer, PCT seed 68 - a deadlock of the programs, as it would be on Linux). A parent in the
      // traced exec of the execve operation continues the stop itself (continue_exec).
      if (group_traces(t)) return null;
      if (some_thread(t, (u) => mem[u + TASK.ptrace] !== 0 && (mem[u + TASK.exit_state] === 0 || same_process(mem, mem[u + TASK.real_parent]!, mem[u + TASK.parent]!)))) return null;
      rcu_read_lock();
      const own = pid_nr_ns(mem[t + TASK.tgid_pid]!, task_active_pid_ns(t));
      rcu_read_unlock();
      return own > 0 ? call(op, SYS_KILL, own, SIGSTOP) : null;
    }
    case 'sigaction': {
      const sig = [SIGUSR1, SIGTERM, SIGCHLD][rand(t) % 3]!;
      const handler = [SIG_DFL, SIG_IGN, SIG_CAUGHT, SIG_CAUGHT][rand(t) % 4]!;
      const r = rand(t);
      const flags = (r & 1 ? SA_RESTART : 0) | (sig === SIGCHLD && r & 2 ? SA_NOCLDSTOP : 0) | (sig === SIGCHLD && (r & 12) === 12 ? SA_NOCLDWAIT : 0);
      return call(op, SYS_RT_SIGACTION, sig, handler, flags);
    }
    case 'sigmask': {
      const set = (rand(t) & 1 ? 1 << (SIGUSR1 - 1) : 0) | (rand(t) & 1 ? 1 << (SIGTERM - 1) : 0) | (rand(t) & 1 ? 1 << (SIGCHLD - 1) : 0);
      return call(op, SYS_RT_SIGPROCMASK, rand(t) & 1 ? SIG_BLOCK : SIG_UNBLOCK, set);
    }
    case 'clone-thread':
      if (!can_fork()) return null;
      return call(op, SYS_FORK, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, prog, 0);
    case 'exit-group':
      return call(op, SYS_EXIT_GROUP, rand(t) & 0x7f);
    case 'ptrace': {
      const r = rand(t) % 8;
      if (r === 0) return call(op, SYS_PTRACE, PTRACE_TRACEME, 0);
      if (r <= 2) return call(op, SYS_PTRACE, PTRACE_DETACH, random_pid(t, rand));
      // A debugger attaches to a random pid, or to a child of a process it knows: a child of
      // another thread of its own process (a debugger thread of the real parent) or its
      // parent's (a sibling: the tracer is not the tracee's parent, and both wait for it).
      const k = rand(t) % 4;
      const near = k === 0 ? child_nr(t, other_thread_with_children(t), rand) : k === 1 ? child_nr(t, mem[t + TASK.real_parent]!, rand) : 0;
      if (near && near !== pid_nr_ns(mem[t + TASK.pid]!, task_active_pid_ns(t)) && !foreign_service_nr(t, near)) {
        // Those debuggers then kill the tracee and wait for it (gdb's kill): see continue_ptrace_kill.
        // Not a service of a namespace below theirs (foreign_service): they only attach to it.
        start_cont(slot, op);
        mem[slot + SLOT_CONT_ARG] = near;
        mem[slot + SLOT_SCRATCH + WP_POLLS] = WAIT_PID_POLLS_TRACED;
      }
      return call(op, SYS_PTRACE, r & 1 ? PTRACE_ATTACH : PTRACE_SEIZE, near || random_pid(t, rand));
    }
    case 'wait-threads':
      // A process with a reaper thread: the thread forks a child and waits for it, and the process
      // waits for it too (3245d6acab98 fixed a race between two such waits). Only by a caller
      // alone (alone_without_children): the child is then the group's only one, so the wait that
      // does not reap it ends in ECHILD, never on some other child.
      if (!can_fork() || !alone_without_children(t)) return null;
      start_cont(slot, op);
      return call(op, SYS_FORK, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, mem[S() + STRESS_WAITER_PROG]!, 0);
    case 'daemon':
      // A service: a child that sleeps in pause() until a signal kills it (at most one of the
      // caller's at a time, so they do not crowd out the mix; a random kill, a zap of its
      // namespace, or the wind-down ends it). Never a namespace's init (children_have_init).
      if (!can_fork() || !children_have_init(t) || first_daemon_child(t, false)) return null;
      return call(op, SYS_FORK, 0, mem[S() + STRESS_DAEMON_PROG]!, 0);
    case 'clone-parent':
      if (!can_fork()) return null;
      return call(op, SYS_FORK, CLONE_PARENT, prog, 0);
    case 'subreaper':
      return call(op, SYS_PRCTL, PR_SET_CHILD_SUBREAPER, rand(t) & 1);
    case 'fasync': {
      // The run's O_ASYNC file (owned by init's process group, SIGURG: ignored by default).
      const fa = mem[S() + STRESS_TABLE]! + STRESS_FASYNC_AT;
      const r = rand(t) % 4;
      if (r === 0) return call(op, SYS_KILL_FASYNC, fa, SIGIO, POLL_IN);
      if (r === 1) return call(op, SYS_MM_UPDATE_NEXT_OWNER);
      // A device interrupt on a random CPU (this one too): its handler runs kill_fasync.
      return call(op, SYS_RAISE_IRQ, rand(t) % mem[kg + G.ncpus]!, IRQV_KILL_FASYNC, fa);
    }
    case 'kprobe-opt':
      // The kernel has one optimizer work item (kprobe_optimizer runs from one delayed work), and
      // perf_kprobe_init is a rare event: only when nobody holds kprobe_mutex, or the whole mix
      // piles up behind one synchronize_rcu_tasks.
      if (mutex_is_locked(kprobe_mutex())) return null;
      return call(op, rand(t) & 1 ? SYS_KPROBE_OPTIMIZER : SYS_PERF_KPROBE_INIT);
    case 'task-work':
      return call(op, SYS_TASK_WORK_ADD, ns_target(t, rand));
    case 'execve': {
      // Half the time the caller execs the stress program again (a multi-threaded exec when it
      // has threads: de_thread kills them, a non-leader takes the leader's pid), half the time it
      // forks a child that execs at once while the caller traces it with PTRACE_O_TRACEEXEC (the
      // exec stops for PTRACE_EVENT_EXEC; see continue_exec). A group with a traced thread does
      // not exec: its tracer's PTRACE_ATTACH of the group would meet de_thread's wait for that
      // thread (catalog entry 17, open upstream), which the mix leaves to the catalog.
      if (rand(t) & 1) {
        for (let u = mem[t + TASK.thread_next]!, k = 0; u && u !== t && k < 1000; u = mem[u + TASK.thread_next]!, k++) {
          if (mem[u + TASK.ptrace] !== 0) return null;
        }
        return call(op, SYS_EXECVE, prog);
      }
      // The tracer must be alone in its group: a wait4 of another thread of the group would take
      // the stop report meant for it (do_wait looks at every thread's tracees), and the tracee
      // would wait for a PTRACE_CONT that never comes. (Only the group itself adds threads to it.)
      if (!can_fork() || mem[t + TASK.thread_next] !== t) return null;
      start_cont(slot, op);
      return call(op, SYS_FORK, 0, mem[S() + STRESS_EXEC_PROG]!, 0);
    }
    case 'cad-pid': {
      // Writes only from the initial namespace, of init's pid or the caller's own: a pid of a
      // deeper namespace would pin that namespace past the run's end (cad_pid keeps its pid).
      if (ns_level(task_active_pid_ns(t)) !== 0 || (rand(t) % 3) === 0) return call(op, SYS_CAD_PID_READ);
      return call(op, SYS_CAD_PID_WRITE, rand(t) & 1 ? 1 : pid_nr(mem[t + TASK.tgid_pid]!));
    }
    case 'pids-cgroup': {
      if (rand(t) & 1) return call(op, SYS_CGROUP_ATTACH, rand(t) % NR_PIDS_CGROUPS);
      const cg = 1 + (rand(t) % (NR_PIDS_CGROUPS - 1));
      return call(op, SYS_PIDS_MAX_WRITE, cg, rand(t) % 4 === 0 ? PIDS_MAX_ARG : 2 + (rand(t) % 31));
    }
    case 'cgroup-procs': {
      // A supervisor sorting processes into cgroups: a random pid (what a fuzzer would write), or
      // the caller's own process or its parent's (a pid that is surely alive and busy forking).
      // Init and the stress reaper are spared, as random_pid spares them: the reaper's forks keep
      // the mix alive, and a pids.max of the cgroup it were moved to, filled by services (which
      // live until killed), would refuse them for good.
      const cg = rand(t) % NR_PIDS_CGROUPS;
      const k = rand(t) % 4;
      if (k === 0) return call(op, SYS_CGROUP_PROCS_WRITE, cg, pid_nr_ns(mem[t + TASK.tgid_pid]!, task_active_pid_ns(t)));
      if (k === 1) {
        rcu_read_lock();
        const rp = mem[t + TASK.real_parent]!;
        const ns = task_active_pid_ns(t);
        const nr = rp ? pid_nr_ns(mem[rp + TASK.tgid_pid]!, ns) : 0;
        rcu_read_unlock();
        if (nr >= (ns_level(ns) === 0 ? 3 : 2)) return call(op, SYS_CGROUP_PROCS_WRITE, cg, nr);
      }
      return call(op, SYS_CGROUP_PROCS_WRITE, cg, random_pid(t, rand));
    }
    case 'wait-pid': {
      // One child of the caller's process (of the caller or of its group leader, whose children
      // every thread of the process waits for): the first traced one of the first eight on the
      // list (a parent waits for the job a debugger holds), else one of the first four.
      const src = rand(t) & 1 ? t : mem[t + TASK.group_leader]! || t;
      const first = mem[src + TASK.children]! || mem[t + TASK.children]!;
      let child = first;
      for (let k = rand(t) % 4; k > 0 && child && mem[child + TASK.sibling_next]; k--) child = mem[child + TASK.sibling_next]!;
      for (let c = first, k = 0; c && k < 8; c = mem[c + TASK.sibling_next]!, k++) {
        if (mem[c + TASK.ptrace]) { child = c; break; }
      }
      if (!child) return null;
      rcu_read_lock();
      const nr = pid_nr_ns(mem[child + TASK.pid]!, task_active_pid_ns(t));
      const id = mem[child + TASK.id]!;
      const traced = mem[child + TASK.ptrace] !== 0;
      const by_pidfd = traced && pidfd_supervised(t, child);
      const foreign = foreign_service(t, child);
      rcu_read_unlock();
      if (nr <= 0) return null;
      start_cont(slot, op);
      mem[slot + SLOT_CONT_ARG] = nr;
      mem[slot + SLOT_SCRATCH + WP_ID] = id;
      mem[slot + SLOT_SCRATCH + WP_PIDFD] = by_pidfd ? 1 : 0;
      // A child a debugger holds is waited for longer (its debugger kills or lets it go).
      mem[slot + SLOT_SCRATCH + WP_POLLS] = (traced ? WAIT_PID_POLLS_TRACED : WAIT_PID_POLLS) - 1;
      // A traced child, or one in four: kill it first, then wait for it (kill -9 %1; wait %1).
      // Not a service of a namespace below ours (foreign_service): that one is only polled.
      if ((traced || rand(t) % 4 === 0) && !foreign) {
        mem[slot + SLOT_CONT_STEP] = WP_STEP_KILLED;
        return call(op, SYS_KILL, nr, SIGKILL);
      }
      return call(op, SYS_WAIT4, nr, __WALL | WNOHANG);
    }
    case 'pidfd-poll': {
      // poll(pidfd) of another process until it exits (a supervisor watching a process it did not
      // start). Not one whose exit may wait for the poller: its own process, an ancestor (a parent
      // reaps, at its end, the children the poller is one of), its tracer, a namespace init (zap
      // waits for every task of its namespace), a process with a traced thread (a traced zombie
      // waits for its tracer), with children (a parent waits for them at its end), with a tracee (a
      // ptrace-wait debugger waits for its tracee's process, which may wait for the poller) or polling a
      // pidfd itself (a cycle of pollers would wait for ever). The poller's own process has one
      // thread, no child and no tracee, so nothing of it waits for the poller meanwhile (seen: a
      // poller thread with a zombie child of its own, the target's exit waiting on its process),
      // and it is no reaper (seen: a subreaper poller that an orphan was reparented to, which
      // stopped itself and was never continued: its zombie child held up a zap).
      if (!alone_without_children(t)) return null;
      const nr = random_pid(t, rand);
      rcu_read_lock();
      const p = find_task_by_vpid(nr);
      // Nor a service (the daemon program): it lives until killed, at the wind-down at the latest,
      // by its parent, its namespace's init or the reaper's sweep, each of which may first wait
      // for the poller's own process (it may be their child).
      let ok = p !== 0 && mem[p + TASK.exit_state] === 0 && !same_thread_group(p, t) && !is_child_reaper(mem[p + TASK.pid]!) && !is_daemon(p);
      for (let a = mem[mem[t + TASK.group_leader]! + TASK.real_parent]!, k = 0; ok && a && k < 64; a = mem[mem[a + TASK.group_leader]! + TASK.real_parent]!, k++) {
        if (same_thread_group(a, p)) ok = false;
        if (a === mem[a + TASK.real_parent]) break;
      }
      if (ok && mem[t + TASK.ptrace] !== 0 && same_thread_group(mem[t + TASK.parent]!, p)) ok = false;
      if (ok && some_thread(p, (u) => {
        const us = task_slot_peek(u);
        return mem[u + TASK.ptrace] !== 0 || mem[u + TASK.children] !== 0 || mem[u + TASK.ptraced] !== 0 || (us !== 0 && mem[us + SLOT_CONT] === op + 1);
      })) ok = false;
      // The watched process, by task id, for ptrace-wait's rule below (its debugger is no process
      // that a poller watches).
      if (ok) mem[slot + SLOT_SCRATCH + WP_POLL_TARGET] = mem[p + TASK.id]!;
      rcu_read_unlock();
      if (!ok) return null;
      start_cont(slot, op);
      return call(op, SYS_PIDFD_OPEN, nr, 0);
    }
    case 'proc': {
      // The one /proc mount point (src/kernel/proc_root.ts): a task of a child namespace mounts
      // proc for its namespace when none is mounted (a container's /proc: the superblock holds a
      // reference on the namespace). A runtime unmounts lazily the /proc of a container whose
      // processes are all gone (no pid left in its namespace) one time in 16, and one that lives
      // on one time in 64 (umount -l: the last mntput puts the namespace, at once).
      const mnt_ns = Atomics.load(mem, kg + G.proc_mnt_ns);
      if (mnt_ns === 0) return ns_level(task_active_pid_ns(t)) > 0 ? call(op, SYS_MOUNT_PROC) : null;
      const gone = (Atomics.load(mem, mnt_ns + PIDNS.pid_allocated) & ~PIDNS_ADDING) === 0;
      if (rand(t) % (gone ? 16 : 64) === 0) return call(op, SYS_UMOUNT_PROC);
      // Else read the links of /proc/self/ns or /proc/NR/ns one by one, each readlink(2) a path
      // walk in RCU mode (continue_op reads the next entry).
      const nr = rand(t) & 1 ? 0 : random_pid(t, rand);
      start_cont(slot, op);
      mem[slot + SLOT_CONT_ARG] = nr;
      return call(op, SYS_PROC_NS_READLINK, nr, NSK_PID);
    }
    case 'ptrace-wait': {
      // A debugger that holds on (strace -p, gdb -p): PTRACE_ATTACH or SEIZE of a process it did
      // not start (a multi-threaded one: a server), then a blocking wait4(pid, __WALL) until the tracee's death (a trap is resumed
      // with PTRACE_CONT); see continue_ptrace_wait. The debugger blocks for as long as the tracee's
      // process lives, so nothing of that process may wait for the debugger meanwhile: the
      // debugger has one thread, no child and no tracee (nothing a zap could wait for it to reap)
      // and is no reaper (alone_without_children); the tracee is a group
      // leader, not the debugger's own process, an ancestor of it (a parent waits for its
      // children), a namespace init (zap waits for every task of its namespace) nor a process with
      // a tracee or a traced thread (a chain of debuggers is then ordered by attach time: no cycle).
      // Its other threads run on: a leader that exits alone is a zombie its debugger keeps until
      // the group is gone (delay_group_leader), while the real parent's job control sees the
      // group stop and continue (catalog entries 14 and 21 are races of that state).
      if (!alone_without_children(t)) return null;
      const nr = random_pid(t, rand);
      rcu_read_lock();
      const p = find_task_by_vpid(nr);
      let ok = p !== 0 && mem[p + TASK.group_leader] === p && mem[p + TASK.thread_next] !== p && mem[p + TASK.exit_state] === 0 && (mem[p + TASK.flags]! & PF_EXITING) === 0 &&
        !same_thread_group(p, t) && !is_child_reaper(mem[p + TASK.pid]!);
      for (let a = mem[mem[t + TASK.group_leader]! + TASK.real_parent]!, k = 0; ok && a && k < 64; a = mem[mem[a + TASK.group_leader]! + TASK.real_parent]!, k++) {
        if (same_thread_group(a, p)) ok = false;
        if (a === mem[a + TASK.real_parent]) break;
      }
      if (ok && some_thread(p, (u) => mem[u + TASK.ptrace] !== 0 || mem[u + TASK.ptraced] !== 0)) ok = false;
      // Nor may a pidfd-poll operation be watching the debugger: the poller may be a descendant of
      // the tracee (its waiting parent a thread of the tracee's process), and the poll's own rule
      // (no target with a tracee) was checked before the debugger had one (seen: PCT seed 33 of
      // the no-switch campaign, session 14 - the poller waits for the debugger, the debugger for
      // the tracee's group, whose thread waits in waitid for the poller).
      if (ok) {
        const id = mem[t + TASK.id]!;
        const poll = O('pidfd-poll') + 1;
        if (some_task_slot((e) => mem[e + SLOT_CONT] === poll && mem[e + SLOT_SCRATCH + WP_POLL_TARGET] === id)) ok = false;
      }
      rcu_read_unlock();
      if (!ok) return null;
      start_cont(slot, op);
      mem[slot + SLOT_CONT_ARG] = nr;
      return call(op, SYS_PTRACE, rand(t) & 1 ? PTRACE_ATTACH : PTRACE_SEIZE, nr);
    }
    case 'reboot':
      // reboot_pid_ns only inside a child namespace (in the initial one it would reboot the machine).
      if (ns_level(task_active_pid_ns(t)) === 0) return null;
      return call(op, SYS_REBOOT, LINUX_REBOOT_CMD_RESTART);
    default:
      return null;
  }
}

/**
 * A blocking wait as a shell's job control does it: waitid(P_ALL, WEXITED|WSTOPPED|WNOWAIT) looks
 * at the first child with news without consuming it; the next step (continue_job_wait) continues
 * a stopped child with SIGCONT, or reaps (consumes) what was reported. Looking first and consuming
 * after means a waiter that dies between the two steps leaves the report to the next parent, so a
 * stopped child is always seen by someone who continues it.
 */
function job_control_wait(slot: number, op: number, extra: number): OpCall {
  start_cont(slot, op);
  return call(op, SYS_WAITID, P_ALL, 0, WEXITED | WSTOPPED | WNOWAIT | __WALL | extra);
}

/** t itself traces the task numbered nr in its namespace (PTRACE_CONT needs the tracer itself: ptrace_check_attach). */
export function is_tracee_of(t: number, nr: number): boolean {
  rcu_read_lock();
  const p = find_task_by_vpid(nr);
  const ours = p !== 0 && mem[p + TASK.ptrace] !== 0 && mem[p + TASK.parent] === t;
  rcu_read_unlock();
  return ours;
}

/**
 * The step after job_control_wait's look (ret: waitid's result, the report in TASK.wait_si_*): a
 * stopped job is continued (SIGCONT); a ptrace stop of a tracee of the caller's own (a child that
 * asked PTRACE_TRACEME, whose group stop is a trap for its tracer) is resumed as a debugger does,
 * PTRACE_CONT - SIGCONT does not end a ptrace stop; what exited is reaped.
 */
function continue_job_wait(t: number, slot: number, op: number, step: number, ret: number): OpCall | null {
  if (step === STEP_ECHILD_RECHECK) return echild_recheck(t, slot, op);
  if (step === 0 && ret === -ECHILD) {
    // No child, says waitid: one of ours in EXIT_DEAD is being reaped; it must not come back.
    rcu_read_lock();
    const c = dead_child_of_group(t);
    const nr = c ? pid_nr_ns(mem[c + TASK.pid]!, task_active_pid_ns(t)) : 0;
    const id = c ? mem[c + TASK.id]! : 0;
    rcu_read_unlock();
    if (nr > 0) return echild_recheck_start(slot, op, nr, id);
  }
  mem[slot + SLOT_CONT_STEP] = step + 1;
  const pid = mem[t + TASK.wait_si_pid]!;
  if (step !== 0 || ret !== 0 || mem[t + TASK.wait_si_signo] === 0 || pid <= 0) { mem[slot + SLOT_CONT] = 0; return null; }
  switch (mem[t + TASK.wait_si_code]!) {
    case CLD_STOPPED: return call(op, SYS_KILL, pid, SIGCONT); // bg
    case CLD_CONTINUED: return call(op, SYS_WAIT4, pid, __WALL | WNOHANG | WCONTINUED);
    case CLD_TRAPPED:
      if (is_tracee_of(t, pid)) return call(op, SYS_PTRACE, PTRACE_CONT, pid, 0);
      return call(op, SYS_WAIT4, pid, __WALL | WNOHANG | WUNTRACED);
    default: return call(op, SYS_WAIT4, pid, __WALL | WNOHANG); // exited: reap it
  }
}

/** wait-threads' steps after the clone of the reaper thread (step 0): WT_WAIT, wait next; WT_WAITED, the wait returned; WT_JOIN, the join. */
const WT_WAIT = 1;
const WT_WAITED = 2;
const WT_JOIN = 3;
/**
 * wait-threads: system calls at most after the clone (waits again, SIGCONTs, yields and sleeps).
 * Large: the join waits for a thread that may sit on a busy runqueue (4,096 was too few on a loaded
 * host when every look was a sched_yield(), measured: about 3 give-ups a minute).
 */
const WAIT_THREADS_STEPS = 1 << 16;
/** wait-threads' scratch word: looks so far in the current wait for the thread (its fork, or its exit). */
const WT_LOOKS = 0;

/**
 * Between two looks for the thread (has it forked? has it exited?): the first time sched_yield()
 * (the thread is most often queued on the caller's CPU and runs at once), then a sleep of a grace
 * period each time (synchronize_rcu: the model's shortest blocking wait, which the stress reaper's
 * retry uses too; a real join sleeps in futex on the thread's tid, which the model does not have).
 * Looks that only yielded were a busy wait whenever the thread sat on another CPU's runqueue: at 2
 * CPUs, 22-24% of the mix's operations a second (350,758 wait-threads steps in a 10 s run, seed 1,
 * session 12), work the figures counted that a program's join does not do.
 */
function wt_pause(slot: number, op: number): OpCall {
  const k = mem[slot + SLOT_SCRATCH + WT_LOOKS]!;
  mem[slot + SLOT_SCRATCH + WT_LOOKS] = k + 1;
  return k === 0 ? call(op, SYS_SCHED_YIELD) : call(op, SYS_SYNCHRONIZE_RCU);
}

/**
 * The creator's side of wait-threads: wait for the thread's child as a shell does - a stop it
 * reports is continued (SIGCONT: a stop-cont of another process may leave the child stopped, and
 * the thread, which does no job control, would not), a signal only interrupts the wait - until
 * the wait reaps it or says ECHILD. An ECHILD while the thread has not forked yet (it is still at
 * its program's first instruction) is too early: pause (wt_pause) and wait again. Then, until the
 * thread is gone, pause and look again (a join): the process goes on with the mix only once the
 * thread has exited, so no child of the process is ever reparented to the thread (an exiting leader's
 * children go to its other threads). The thread waits with __WNOTHREAD, for its own child only,
 * never for the process's children and tracees (a tracee let go - PTRACE_DETACH, or the tracer's
 * exit - wakes none of the tracer's waiters, on Linux as here: an earlier version's thread,
 * waiting for the whole process's, slept for good). The thread that loses the race of
 * 3245d6acab98 is reported by do_wait's hung-task check as it goes to sleep; the join then gives up
 * at its bound.
 */
function continue_wait_threads(t: number, slot: number, op: number, step: number, ret: number): OpCall | null {
  const done = (): null => { mem[slot + SLOT_CONT] = 0; return null; };
  if (step === 0) {
    if (ret <= 0) return done(); // the clone failed
    mem[slot + SLOT_CONT_ARG] = 0;
    mem[slot + SLOT_SCRATCH + WT_LOOKS] = 0;
  }
  const n = mem[slot + SLOT_CONT_ARG]!;
  if (n >= WAIT_THREADS_STEPS) return done();
  mem[slot + SLOT_CONT_ARG] = n + 1;
  const u = mem[t + TASK.thread_next]!; // the thread, while it is there
  let next = step === WT_JOIN ? WT_JOIN : WT_WAIT;
  if (step === WT_WAITED) {
    mem[slot + SLOT_CONT_STEP] = WT_WAIT;
    if (ret > 0 && (mem[t + TASK.last_status]! & 0xff) === 0x7f) return call(op, SYS_KILL, ret, SIGCONT); // continued: wait again
    if (ret === -ECHILD && u !== t && mem[u + TASK.prog] === mem[S() + STRESS_WAITER_PROG] && mem[u + TASK.pc] === 0) return wt_pause(slot, op);
    if (ret !== -EINTR) {
      next = WT_JOIN; // reaped, or nothing left to wait for
      mem[slot + SLOT_SCRATCH + WT_LOOKS] = 0;
    }
  }
  if (next === WT_JOIN) {
    if (u === t) return done();
    mem[slot + SLOT_CONT_STEP] = WT_JOIN;
    return wt_pause(slot, op);
  }
  mem[slot + SLOT_CONT_STEP] = WT_WAITED; // after the clone, a SIGCONT, a yield or a signal
  return call(op, SYS_WAIT4, -1, __WALL | WUNTRACED);
}

function start_cont(slot: number, op: number): void {
  mem[slot + SLOT_CONT] = op + 1;
  mem[slot + SLOT_CONT_STEP] = 0;
}

/** The next step of a compound operation, using the result of the previous one (TASK.last_ret). */
function continue_op(t: number, slot: number, rand: Rand): OpCall | null {
  const c = mem[slot + SLOT_CONT]!;
  if (!c) return null;
  const op = c - 1;
  const step = mem[slot + SLOT_CONT_STEP]!;
  const ret = mem[t + TASK.last_ret]!;
  const done = (): null => { mem[slot + SLOT_CONT] = 0; return null; };
  if (op === O('execve')) return continue_exec(t, slot, step, ret);
  if (op === O('wait-pid')) return continue_wait_pid(t, slot, step, ret);
  // 0: pidfd_open returned the fd -> poll(fd) until POLLIN (a signal: poll again); then close(fd).
  if (op === O('pidfd-poll')) return pidfd_watch(slot, op, 0, step, ret) ?? done();
  if (op === O('proc')) {
    // The next entry of /proc/<self|NR>/ns, whatever the last readlink returned.
    const nsk = NSK_PID + step + 1;
    if (nsk > NSK_TIME_FOR_CHILDREN) return done();
    mem[slot + SLOT_CONT_STEP] = step + 1;
    return call(op, SYS_PROC_NS_READLINK, mem[slot + SLOT_CONT_ARG]!, nsk);
  }
  if (op === O('wait-threads')) return continue_wait_threads(t, slot, op, step, ret);
  if (op === O('ptrace')) return continue_ptrace_kill(t, slot, step, ret);
  if (op === O('ptrace-wait')) return continue_ptrace_wait(t, slot, step, ret);
  if (op === O('wait')) return continue_job_wait(t, slot, op, step, ret);
  if (op === O('stop-cont')) {
    // SIGCONT to the pid stopped in step 0 (whatever the kill returned: it may have stopped us).
    if (step !== 0) return done();
    mem[slot + SLOT_CONT_STEP] = 1;
    return call(op, SYS_KILL, mem[slot + SLOT_CONT_ARG]!, SIGCONT);
  }
  if (step === 0) {
    if (ret < 0) return done(); // open failed: nothing to use or close
    mem[slot + SLOT_CONT_ARG] = ret;
    mem[slot + SLOT_CONT_STEP] = 1;
    if (op === O('last-pid-vec')) {
      // "p" or "p2:p1" (as many numbers as levels are allowed; too many is EINVAL, as it should be).
      const a = slot + SLOT_SCRATCH;
      const parts = rand(t) & 1 ? [1 + (rand(t) % 300)] : [1 + (rand(t) % 300), 1 + (rand(t) % 300)];
      const str = parts.join(':');
      for (let i = 0; i < str.length && i < 16; i++) mem[a + i] = str.charCodeAt(i);
      return call(op, SYS_PIDNS_IOCTL_SET_LAST_PID_VEC, ret, a, Math.min(str.length, 16));
    }
    mem[slot + SLOT_SCRATCH] = 0; // forks made after the setns (step 1)
    return call(op, SYS_SETNS, ret, CLONE_NEWPID);
  }
  if (step === 1) {
    // setns(CLONE_NEWPID) succeeded: fork into the namespace at once, SETNS_FORKS times while the
    // forks succeed (its init may be dying: the PIDNS_ADDING re-check in copy_process), then close.
    // Half the children are services (the daemon program), as `nsenter -t PID -p` starts them in
    // a container: they live until killed, so one attached after the kill pass of a zap (catalog
    // entry 3) would keep the zap waiting.
    const forks = mem[slot + SLOT_SCRATCH]!;
    if (ret >= 0 && op !== O('last-pid-vec') && forks < SETNS_FORKS && can_fork()) {
      mem[slot + SLOT_SCRATCH] = forks + 1;
      const daemon = (rand(t) & 1) !== 0 && children_have_init(t);
      return call(op, SYS_FORK, 0, mem[S() + (daemon ? STRESS_DAEMON_PROG : STRESS_PROG)]!, 0);
    }
    mem[slot + SLOT_CONT_STEP] = 2;
  }
  if (step <= 2) {
    mem[slot + SLOT_CONT_STEP] = 3;
    return call(op, SYS_CLOSE, mem[slot + SLOT_CONT_ARG]!);
  }
  return done();
}

/** Forks into the namespace after a successful setns (setns-nsfd, setns-pidfd). */
const SETNS_FORKS = 3;

/** continue_exec: the SIGCONT to an untraced stopped C returned; wait again. */
const EXEC_STEP_CONTINUED = 5;

/**
 * The traced exec of the execve operation, one step per call (the child C runs
 * [execve(stress program)] as its first instruction):
 *   0: fork returned C's pid -> PTRACE_SEIZE(C, PTRACE_O_TRACEEXEC);
 *   1: seized -> wait4(C, __WALL | WUNTRACED): C's PTRACE_EVENT_EXEC stop, or its exit (it may
 *      have exec'd before the seize and stops only at a later exec of its mix, or never); a wait
 *      a signal interrupted is made again, so C is never left stopped behind us;
 *   2: a ptrace stop was reported -> PTRACE_ATTACH(C), as a debugger does for the thread ids it
 *      finds after an exec (EPERM: C is traced; before a2a8474c3fff the call sleeps on C's
 *      cred_guard_mutex, held by C in its stop: catalog entry 16);
 *   3: PTRACE_DETACH(C): C leaves its stop untraced and runs the mix.
 * C can stop being the tracee while the wait goes on: when a thread of C execs, de_thread releases
 * the traced leader and wakes the tracer, and pid C is then the exec'ing thread, untraced and
 * still our child, so the wait sleeps on. A group stop of that C (raise-stop, or a stop-cont whose
 * sender died before its SIGCONT) is reported by WUNTRACED and continued with SIGCONT, as a shell
 * continues a stopped job (EXEC_STEP_CONTINUED), and the wait goes on: without WUNTRACED the parent
 * slept for good beside a stopped child (the no-switch 10-minute free run at 4d455a7, session 9;
 * a 1 s free run of test/worker_exec_argv.test.ts under the full suite's load, session 12: the
 * parent in wait4(C) for C in a job-control stop, one live thread, not traced).
 */
function continue_exec(t: number, slot: number, step: number, ret: number): OpCall | null {
  const op = O('execve');
  const pid = mem[slot + SLOT_CONT_ARG]!;
  const next = (st: number, c: OpCall): OpCall => { mem[slot + SLOT_CONT_STEP] = st; return c; };
  const done = (): null => { mem[slot + SLOT_CONT] = 0; return null; };
  const wait = (): OpCall => call(op, SYS_WAIT4, pid, __WALL | WUNTRACED);
  switch (step) {
    case 0:
      if (ret <= 0) return done();
      mem[slot + SLOT_CONT_ARG] = ret;
      return next(1, call(op, SYS_PTRACE, PTRACE_SEIZE, ret, PTRACE_O_TRACEEXEC));
    case 1:
      if (ret < 0) return done(); // another tracer got C first, or C is gone
      return next(2, wait());
    case EXEC_STEP_CONTINUED:
      return next(2, wait());
    case 2: {
      if (ret === -EINTR) return next(2, wait());
      const stopped = ret === pid && (mem[t + TASK.last_status]! & 0xff) === 0x7f;
      if (!stopped) return done(); // C exited (reaped) or is not ours any more
      // A job-control stop of C untraced (after a de_thread in C): continue it, as a shell does.
      if (!is_tracee_of(t, pid)) return next(EXEC_STEP_CONTINUED, call(op, SYS_KILL, pid, SIGCONT));
      return next(3, call(op, SYS_PTRACE, PTRACE_ATTACH, pid));
    }
    case 3:
      return next(4, call(op, SYS_PTRACE, PTRACE_DETACH, pid));
    default:
      return done();
  }
}

/** wait-pid's words in the slot's scratch: the child's task id, polls left, the task id its pid named after the reap. */
const WP_ID = 0;
const WP_POLLS = 1;
const WP_AFTER = 2;
/** wait-pid through a pidfd: 1 while it is to be used (set at the pick), then the pidfd + 2. */
const WP_PIDFD = 3;
/** pidfd-poll: the task id of the process it watches (set at the pick; ptrace-wait reads it). */
const WP_POLL_TARGET = 4;
/** WNOHANG polls of one child per wait-pid operation. */
const WAIT_PID_POLLS = 8;
const WAIT_PID_POLLS_TRACED = 32;
/** wait-pid's WNOHANG polls after a pidfd watch said the child's group is gone. */
const WAIT_PID_POLLS_WATCHED = 256;
/** wait-pid's step after its SIGKILL to the child (then it polls as step 0). */
const WP_STEP_KILLED = 2;
/** wait-pid's steps through a pidfd after the SIGKILL: pidfd_open returned; poll returned; close returned. */
const WP_STEP_PIDFD_OPENED = 3;
const WP_STEP_CLOSED = WP_STEP_PIDFD_OPENED + 2;

/**
 * A parent that watches a killed child through a pidfd (as a service manager does: pidfd_open,
 * poll until POLLIN, then wait4(pid, WNOHANG) - systemd's pidfd event source) blocks in poll until
 * the child's thread group is empty. Only when that cannot wait for the parent: the child is
 * traced by another process (a debugger holding it: the parent's WNOHANG waits then find a zombie
 * its debugger reaps first, "debugger will notify us"), it is no namespace init (its zap waits for
 * every task of its namespace, zombies the parent has to reap among them), and no thread of it but
 * the leader is traced (a traced thread's zombie stays in the group until its tracer reaps it; a
 * zombie leader does not keep pidfd_poll from POLLIN). The SIGKILL sent first ends the rest of the
 * group. Called under rcu_read_lock.
 */
function pidfd_supervised(t: number, child: number): boolean {
  return !same_thread_group(mem[child + TASK.parent]!, t) && pidfd_watchable(child);
}

/**
 * The group of leader p, SIGKILLed, empties without the watcher: p is no namespace init and no
 * thread of it but p is traced (see pidfd_supervised). Called under rcu_read_lock.
 */
function pidfd_watchable(p: number): boolean {
  if (is_child_reaper(mem[p + TASK.pid]!)) return false;
  return !some_thread(p, (u) => u !== p && mem[u + TASK.ptrace] !== 0);
}

/**
 * The pidfd watch of a process (pidfd_open, poll until POLLIN - a signal: poll again -, close), as
 * steps base (pidfd_open returned), base + 1 (poll returned), base + 2 (close returned) of a
 * compound operation: the pidfd-poll operation's whole program (base 0), and wait-pid's and the
 * debugger's watch of a killed process. The fd waits in the scratch word WP_PIDFD. Returns the
 * next call, or null once the watch is over (or pidfd_open failed).
 */
function pidfd_watch(slot: number, op: number, base: number, step: number, ret: number): OpCall | null {
  if (step === base && ret >= 0) {
    mem[slot + SLOT_SCRATCH + WP_PIDFD] = ret + 2;
    mem[slot + SLOT_CONT_STEP] = base + 1;
    return call(op, SYS_POLL_PIDFD, ret);
  }
  if (step === base + 1) {
    const fd = mem[slot + SLOT_SCRATCH + WP_PIDFD]! - 2;
    if (ret === -EINTR) return call(op, SYS_POLL_PIDFD, fd); // a signal: poll again
    mem[slot + SLOT_CONT_STEP] = base + 2;
    return call(op, SYS_CLOSE, fd);
  }
  return null;
}
/**
 * The step of wait-pid and of the job-control wait after an ECHILD that met a child of the
 * caller's process being reaped (EXIT_DEAD): look again (ECHILD_RECHECKS times, a sched_yield()
 * apart, so the reaper - which may sleep in its copy-out, src/mm/uaccess.ts - runs in between
 * when it waits on the caller's CPU). Beyond the steps either operation uses.
 */
const STEP_ECHILD_RECHECK = 8;
const ECHILD_RECHECKS = 4;

/**
 * The task that pid nr names now (in t's namespace) if it is the child picked (task id `id`), still
 * a child of t's process and not EXIT_DEAD (being reaped: it is gone once its reaper is done); else 0.
 * A task id, not the number, names the child: a number can be handed out again.
 */
function still_our_child(t: number, nr: number, id: number): number {
  rcu_read_lock();
  const p = find_task_by_vpid(nr);
  const ours = p !== 0 && mem[p + TASK.id] === id && same_thread_group(mem[p + TASK.real_parent]!, t) && mem[p + TASK.exit_state] !== EXIT_DEAD;
  rcu_read_unlock();
  return ours ? p : 0;
}

/**
 * After a wait that said ECHILD while the child nr (task id `id`) of the caller's process was
 * EXIT_DEAD and traced: its tracer is reaping it - for good (a tracer of our own group, or the
 * parent does not want it), or to hand it back to us after it (EXIT_TRACE since
 * abd50b39e783, which our wait meets with 0 or a sleep, not ECHILD; before, EXIT_DEAD and back to
 * EXIT_ZOMBIE). Look again for a while (echild_recheck): the same task back as our child is an
 * ECHILD that was spurious, whose window had not closed yet when the wait returned.
 */
function echild_recheck_start(slot: number, op: number, nr: number, id: number): OpCall {
  start_cont(slot, op);
  mem[slot + SLOT_CONT_STEP] = STEP_ECHILD_RECHECK;
  mem[slot + SLOT_CONT_ARG] = nr;
  mem[slot + SLOT_SCRATCH + WP_ID] = id;
  mem[slot + SLOT_SCRATCH + WP_POLLS] = ECHILD_RECHECKS;
  return call(op, SYS_SCHED_YIELD);
}

function echild_recheck(t: number, slot: number, op: number): OpCall | null {
  const nr = mem[slot + SLOT_CONT_ARG]!;
  const id = mem[slot + SLOT_SCRATCH + WP_ID]!;
  const p = still_our_child(t, nr, id);
  if (p) record_violation(V_INVARIANT, INV_WAIT_SPURIOUS_ECHILD, nr, mem[p + TASK.exit_state]!);
  if (p || mem[slot + SLOT_SCRATCH + WP_POLLS]!-- <= 0 || !is_task_id(nr, id)) { mem[slot + SLOT_CONT] = 0; return null; }
  return call(op, SYS_SCHED_YIELD);
}

/**
 * A child of t's process (of any of its threads) that is EXIT_DEAD and still traced (a tracer's
 * wait_task_zombie is reaping it; only such a claim could hand it back), or 0.
 */
function dead_child_of_group(t: number): number {
  let found = 0;
  some_thread(t, (u) => {
    for (let c = mem[u + TASK.children]!, j = 0; c && j < 1000; c = mem[c + TASK.sibling_next]!, j++) {
      if (Atomics.load(mem, c + TASK.exit_state) === EXIT_DEAD && mem[c + TASK.ptrace] !== 0) { found = c; return true; }
    }
    return false;
  });
  return found;
}

/** Pid nr names (in the caller's namespace) the task with id `id`, EXIT_DEAD and still traced. */
function traced_dead_task(nr: number, id: number): boolean {
  rcu_read_lock();
  const p = find_task_by_vpid(nr);
  const yes = p !== 0 && mem[p + TASK.id] === id && Atomics.load(mem, p + TASK.exit_state) === EXIT_DEAD && mem[p + TASK.ptrace] !== 0;
  rcu_read_unlock();
  return yes;
}

/** Pid nr names (in the caller's namespace) the task with id `id`, in whatever state. */
function is_task_id(nr: number, id: number): boolean {
  rcu_read_lock();
  const p = find_task_by_vpid(nr);
  const same = p !== 0 && mem[p + TASK.id] === id;
  rcu_read_unlock();
  return same;
}

/**
 * The steps of wait-pid after its wait4(nr, __WALL|WNOHANG) (ret: what wait4 returned):
 * - ECHILD: the child must be gone (or being reaped, EXIT_DEAD). If the same task is still a child
 *   of the caller's process, alive or a zombie, the ECHILD was spurious (what the real parent saw
 *   in 50b8d257486a / abd50b39e783: the tracer had it in EXIT_DEAD on its way back to EXIT_ZOMBIE).
 * - nr with an exit status (the child reaped): wait4(nr) once more at once; it must not report the
 *   same death again (0347e1773909: a tracer thread of the real parent's own group made the first
 *   report, and the zombie went back to the real parent). Only when the task the number named just
 *   before the second wait4 was the child itself (so a number handed out again is not taken for it).
 * - 0 (the child runs): poll again, up to WAIT_PID_POLLS times.
 * (Step WP_STEP_KILLED: the SIGKILL sent before the first wait4.)
 */
function continue_wait_pid(t: number, slot: number, step: number, ret: number): OpCall | null {
  const op = O('wait-pid');
  const nr = mem[slot + SLOT_CONT_ARG]!;
  const id = mem[slot + SLOT_SCRATCH + WP_ID]!;
  const done = (): null => { mem[slot + SLOT_CONT] = 0; return null; };
  if (step === WP_STEP_KILLED && ret === 0 && mem[slot + SLOT_SCRATCH + WP_PIDFD] === 1) {
    // The child is a debugger's: watch it through a pidfd until its group is gone.
    mem[slot + SLOT_CONT_STEP] = WP_STEP_PIDFD_OPENED;
    return call(op, SYS_PIDFD_OPEN, nr, 0);
  }
  if (step >= WP_STEP_PIDFD_OPENED && step <= WP_STEP_CLOSED) {
    const next = pidfd_watch(slot, op, WP_STEP_PIDFD_OPENED, step, ret);
    if (next) return next;
  }
  if (step === WP_STEP_KILLED || step === WP_STEP_PIDFD_OPENED || step === WP_STEP_CLOSED) {
    // The group is gone (or the kill or pidfd_open failed): wait4 polls. After the watch, as an
    // event loop on a level-triggered pidfd does, until the child is reaped: the zombie is its
    // debugger's to reap first (wait4 says 0 meanwhile), which takes the debugger's time.
    if (step === WP_STEP_CLOSED) mem[slot + SLOT_SCRATCH + WP_POLLS] = WAIT_PID_POLLS_WATCHED;
    mem[slot + SLOT_CONT_STEP] = 0;
    return call(op, SYS_WAIT4, nr, __WALL | WNOHANG);
  }
  if (step === 1) {
    // The second wait4 after a reap.
    if (ret === nr && mem[slot + SLOT_SCRATCH + WP_AFTER] === id) record_violation(V_INVARIANT, INV_WAIT_REAPED_TWICE, nr, mem[t + TASK.last_status]!);
    return done();
  }
  if (step === STEP_ECHILD_RECHECK) return echild_recheck(t, slot, op);
  if (ret === -ECHILD) {
    const p = still_our_child(t, nr, id);
    if (p) record_violation(V_INVARIANT, INV_WAIT_SPURIOUS_ECHILD, nr, mem[p + TASK.exit_state]!);
    else if (traced_dead_task(nr, id)) return echild_recheck_start(slot, op, nr, id); // a tracer is reaping it
    return done();
  }
  const st = mem[t + TASK.last_status]!;
  if (ret === nr && (st & 0xff) !== 0x7f && st !== 0xffff) {
    const p = still_our_child(t, nr, id);
    mem[slot + SLOT_SCRATCH + WP_AFTER] = p ? id : 0;
    mem[slot + SLOT_CONT_STEP] = 1;
    return call(op, SYS_WAIT4, nr, __WALL | WNOHANG);
  }
  if (ret === 0 && mem[slot + SLOT_SCRATCH + WP_POLLS]! > 0) {
    mem[slot + SLOT_SCRATCH + WP_POLLS]!--;
    return call(op, SYS_WAIT4, nr, __WALL | WNOHANG);
  }
  return done();
}

/**
 * continue_ptrace_kill's first poll step (each poll is the next step, up to WAIT_PID_POLLS_TRACED);
 * its pidfd watch steps (after the kill, before the polls), beyond every poll step.
 */
const PK_STEP_POLL = 1;
const PK_STEP_PIDFD_OPENED = PK_STEP_POLL + WAIT_PID_POLLS_TRACED + 2;

/**
 * A debugger's kill of its tracee (the ptrace operation's attach to a child it knows): 0: the
 * attach returned -> kill(pid, SIGKILL) if it succeeded; 1..: wait4(pid, __WALL|WNOHANG) polls
 * (the tracer reaps its tracee; a stop report is polled past), at most WAIT_PID_POLLS_TRACED,
 * until it reports the death or fails. Polls, not a blocking wait4(pid): a tracer blocked on one
 * tracee reaps none of its children, and a child of its in the namespace of a zapping init the
 * tracee is keeps zap_pid_ns_processes waiting for ever (seen: a wait-for cycle with no switch).
 * The tracee's real parent may be waiting for it at the same time (wait-pid).
 */
function continue_ptrace_kill(t: number, slot: number, step: number, ret: number): OpCall | null {
  const op = O('ptrace');
  const nr = mem[slot + SLOT_CONT_ARG]!;
  const done = (): null => { mem[slot + SLOT_CONT] = 0; return null; };
  if (step >= PK_STEP_PIDFD_OPENED && step <= PK_STEP_PIDFD_OPENED + 2) {
    const next = pidfd_watch(slot, op, PK_STEP_PIDFD_OPENED, step, ret);
    if (next) return next;
    // The group is gone (or pidfd_open failed): the tracer's wait4 polls reap the leader.
    mem[slot + SLOT_CONT_STEP] = PK_STEP_POLL + 1;
    return call(op, SYS_WAIT4, nr, __WALL | WNOHANG);
  }
  mem[slot + SLOT_CONT_STEP] = step + 1;
  if (step === 0) return ret === 0 ? call(op, SYS_KILL, nr, SIGKILL) : done();
  if (step === 1 && ret === 0) {
    // The kill was sent: watch the tracee's group through a pidfd until it is gone when that
    // cannot wait for us (pidfd_watchable), then reap the leader, as a debugger's event loop does.
    rcu_read_lock();
    const p = find_task_by_vpid(nr);
    const watch = p !== 0 && mem[p + TASK.parent] === t && pidfd_watchable(p);
    rcu_read_unlock();
    if (watch) {
      mem[slot + SLOT_CONT_STEP] = PK_STEP_PIDFD_OPENED;
      return call(op, SYS_PIDFD_OPEN, nr, 0);
    }
  }
  const st = mem[t + TASK.last_status]!;
  const reported_death = step > 1 && ret === nr && (st & 0xff) !== 0x7f && st !== 0xffff;
  if (ret < 0 || reported_death || mem[slot + SLOT_SCRATCH + WP_POLLS]!-- <= 0) return done();
  return call(op, SYS_WAIT4, nr, __WALL | WNOHANG);
}

/**
 * The debugger of ptrace-wait, one step per call: 0: the attach returned -> wait4(pid, __WALL), the
 * blocking wait of a debugger's main loop, if it succeeded; then: a stop report (a group-stop trap)
 * -> PTRACE_CONT and wait again; a signal (EINTR) -> wait again; the tracee's death reported, or
 * an error (it is not our tracee any more) -> done. The wait is bounded by the tracee's process:
 * every stress process ends (the wind-down), and its tracer reaps the leader once the group is gone.
 */
/** ptrace-wait's steps after the attach (step 0): its wait4 returned; its PTRACE_CONT returned. */
const PW_STEP_WAITED = 1;
const PW_STEP_CONTINUED = 2;

function continue_ptrace_wait(t: number, slot: number, step: number, ret: number): OpCall | null {
  const op = O('ptrace-wait');
  const nr = mem[slot + SLOT_CONT_ARG]!;
  const done = (): null => { mem[slot + SLOT_CONT] = 0; return null; };
  const wait = (): OpCall => { mem[slot + SLOT_CONT_STEP] = PW_STEP_WAITED; return call(op, SYS_WAIT4, nr, __WALL); };
  if (step === 0) return ret === 0 ? wait() : done(); // the attach
  if (step === PW_STEP_CONTINUED || ret === -EINTR) return wait(); // whatever PTRACE_CONT said: wait4 tells
  const st = mem[t + TASK.last_status]!;
  if (ret === nr && (st & 0xff) === 0x7f) {
    // A stop report: resume the tracee as a debugger does, then wait again.
    mem[slot + SLOT_CONT_STEP] = PW_STEP_CONTINUED;
    return call(op, SYS_PTRACE, PTRACE_CONT, nr, 0);
  }
  return done();
}

/**
 * The namespace t's children are born in (pid_ns_for_children) has an init already (its
 * child_reaper is set when its first process is attached, and stays set), so a child would not be
 * its init. Services are never namespace inits: a service's parent stops only the services of
 * its own namespace, and the init of another namespace stops (zap_pid_ns_processes) those of that one.
 */
function children_have_init(t: number): boolean {
  const np = mem[t + TASK.nsproxy]!;
  const ns = np ? mem[np + NSPROXY.pid_ns_for_children]! : 0;
  return ns !== 0 && Atomics.load(mem, ns + PIDNS.child_reaper) !== 0;
}

/**
 * The first child of t running the daemon program that is alive, or 0. With `to_stop`, only one
 * that t's wind-down stops: not yet dying (no SIGKILL pending, not PF_EXITING) and in t's own
 * namespace. A service t started in another namespace (setns) is that namespace's: its init's
 * exit kills it (zap_pid_ns_processes), so t leaves it alone and waits for it. Under
 * read_lock(tasklist_lock): reapers add orphans to t's children list under the write lock.
 */
function first_daemon_child(t: number, to_stop: boolean): number {
  const dprog = mem[S() + STRESS_DAEMON_PROG]!;
  const tl = kg + G.tasklist_lock;
  let found = 0;
  read_lock(tl, 152);
  for (let c = mem[t + TASK.children]!, k = 0; c && k < 64; c = mem[c + TASK.sibling_next]!, k++) {
    if (mem[c + TASK.prog] !== dprog || mem[c + TASK.exit_state] !== 0) continue;
    if (!to_stop) { found = c; break; }
    if (service_dying(c)) continue;
    if (foreign_service(t, c)) continue;
    found = c;
    break;
  }
  read_unlock(tl);
  return found;
}

/**
 * A service child of t to stop before t's wind-down waits (kill(pid, SIGKILL), as a service
 * manager stops its units at shutdown), or null.
 */
export function stop_daemon_child(t: number, op: number): OpCall | null {
  const c = first_daemon_child(t, true);
  if (!c) return null;
  rcu_read_lock();
  const nr = pid_nr_ns(mem[c + TASK.pid]!, task_active_pid_ns(t));
  rcu_read_unlock();
  return nr > 0 ? call(op, SYS_KILL, nr, SIGKILL) : null;
}

/**
 * The shutdown sweep of the stress reaper (as init kills what is left at shutdown): the first
 * service of the whole process list (for_each_process, under RCU) that is alive, not yet dying,
 * and whose namespace's init is not exiting, as kill(pid, SIGKILL) by its number in t's namespace;
 * null when none is left. The services of a namespace whose init is exiting are the kernel's to
 * kill (zap_pid_ns_processes SIGKILLs every task of the namespace and waits for them): the sweep
 * does not do the kernel's work for it. It catches the services no parent stops: children of a
 * parent blocked in a wait for them alone, or orphans adopted after their new parent's own stop.
 */
export function sweep_daemons(t: number, op: number): OpCall | null {
  const dprog = mem[S() + STRESS_DAEMON_PROG]!;
  const head = mem[kg + G.init_task]!;
  const ns = task_active_pid_ns(t);
  let nr = 0;
  rcu_read_lock();
  for (let p = mem[head + TASK.tasks_next]!, k = 0; p && p !== head && k < 100_000; p = mem[p + TASK.tasks_next]!, k++) {
    if (mem[p + TASK.prog] !== dprog || mem[p + TASK.exit_state] !== 0) continue;
    if (service_dying(p)) continue;
    const reaper = mem[task_active_pid_ns(p) + PIDNS.child_reaper]!;
    if (reaper && (mem[reaper + TASK.flags]! & PF_EXITING) !== 0) continue;
    nr = pid_nr_ns(mem[p + TASK.pid]!, ns);
    if (nr > 0) break;
  }
  rcu_read_unlock();
  return nr > 0 ? call(op, SYS_KILL, nr, SIGKILL) : null;
}

/**
 * A service already on its way out, which a SIGKILL would not change: one pending (sent, not yet
 * dequeued), PF_EXITING set, or its group exiting (SIGNAL_GROUP_EXIT: prepare_signal drops every
 * signal to a group that is exiting, so kill() returns 0 and sends nothing: kernel/signal.c's
 * "The process is in the middle of dying, drop the signal.", read with find_string). The
 * last is the window between get_signal's dequeue of the SIGKILL (do_group_exit sets
 * SIGNAL_GROUP_EXIT) and exit_signals' PF_EXITING: a wind-down that kept killing such a service
 * looped on a kill that did nothing, never letting it run on its own CPU (controlled PCT seed 15
 * without a switch, session 8: every CPU in that loop, a decision-limit).
 */
function service_dying(p: number): boolean {
  return __fatal_signal_pending(p) || (mem[p + TASK.flags]! & PF_EXITING) !== 0 || (mem[mem[p + TASK.signal]! + SIG.flags]! & SIGNAL_GROUP_EXIT) !== 0;
}

/**
 * Is p a service (the daemon program) of another pid namespace than t's (one below it: t names it
 * by a number of its own namespace)? Such a service is that namespace's, as a container's services
 * are: its init's exit ends it (zap_pid_ns_processes). The one rule for the mix: t's wind-down
 * leaves it alone (first_daemon_child), and no operation SIGKILLs it while the run goes on - kill
 * and zap send it signal 0 instead, wait-pid only polls it, a ptrace debugger only attaches to it
 * (the shutdown sweep, sweep_daemons, is not the mix). So a service forked into a namespace after
 * its init's kill pass (catalog entry 3, setns_fork_no_recheck) keeps the zap waiting, as it
 * would in a container; free-running, the mix's stray SIGKILLs used to end each such service
 * soon enough for the zap to finish (session 16, README "Entry 3 is found again").
 */
function foreign_service(t: number, p: number): boolean {
  return p !== 0 && is_daemon(p) && task_active_pid_ns(p) !== task_active_pid_ns(t);
}

/** foreign_service of the task of number nr in t's namespace (a look under RCU). */
function foreign_service_nr(t: number, nr: number): boolean {
  rcu_read_lock();
  const f = foreign_service(t, find_task_by_vpid(nr));
  rcu_read_unlock();
  return f;
}

/** Is t running the daemon program (a service: the reaper does not count it among the stress processes)? */
export function is_daemon(t: number): boolean {
  return mem[t + TASK.prog] === mem[S() + STRESS_DAEMON_PROG];
}

/**
 * The task's last act when the run winds down: stop the services, reap its children, then exit.
 * Every winding-down task first sweeps the services of the whole run (sweep_daemons, as the
 * reaper does), as at a shutdown: a process can be asleep in a wait whose only children left are
 * services (another thread of its group reaped the last other child, or a thread that forked
 * them exited and they were reparented to it), and only a kill of those wakes it; the task that
 * ran the last operation sweeps at once, whatever else is asleep.
 */
export function kernel_wind_down(t: number): OpCall | null {
  const detach = detach_first_tracee(t, O('ptrace'));
  if (detach) return detach;
  const stop = sweep_daemons(t, O('daemon')) ?? stop_daemon_child(t, O('daemon'));
  if (stop) return stop;
  if (mem[t + TASK.children]) {
    // As a shell waits for its jobs: a stopped child is continued, so it can exit. The services of
    // other namespaces among them end when their namespace's init exits.
    const slot = task_slot(t);
    if (slot) return job_control_wait(slot, O('wait'), 0);
    return call(O('wait'), SYS_WAIT4, -1, __WALL);
  }
  return call(O('exit'), SYS_EXIT, 0);
}

/** Bookkeeping after an operation completed (called with its result): namespaces made, the init to zap. */
export function kernel_op_done(t: number, op: number, ret: number): void {
  // The caller's own execve (not a step of the traced exec, which runs as a continuation).
  if (op === O('execve') && ret === 0) {
    const slot = task_slot(t);
    if (slot && mem[slot + SLOT_CONT] !== op + 1) exec_checks(t);
  }
  if (ret <= 0) return;
  if (op === O('clone-parent')) clone_parent_checks(t, ret);
  if (op === O('unshare')) Atomics.add(mem, S() + STRESS_NS_SEEN, 1);
  if (op === O('clone-newpid')) {
    Atomics.add(mem, S() + STRESS_NS_SEEN, 1);
    const slot = task_slot(t);
    if (slot) mem[slot + SLOT_NEWPID_CHILD] = ret;
    // Publish the new init's number in init_pid_ns (ret is its number in the caller's namespace)
    // for the setns and zap targets of every task.
    rcu_read_lock();
    const nr = pid_nr(find_vpid(ret));
    rcu_read_unlock();
    if (nr) {
      const i = Atomics.add(mem, S() + STRESS_NS_INITS_NEXT, 1) % NS_INITS;
      Atomics.store(mem, S() + STRESS_NS_INITS + i, nr);
    }
  }
}


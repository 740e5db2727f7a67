/**
 * The stress operation mix: names, what each needs, and the per-operation result table layout.
 * Shared by the CPUs (src/stress/stress_syscalls.ts, which executes the operations) and the main side
 * (option parsing, stats, the verdict).
 */
import { FASYNC, STRESS_COUNTERS, STRESS_SLOT } from '../mm/layout.js';

export interface OpDef {
  readonly name: string;
  /** Needs the process model (fork/exit/wait ... from src/kernel): off for the torture-only mix. */
  readonly kernel: boolean;
  readonly doc: string;
  /**
   * How often a task picks it, relative to the others of the mix (a task draws an operation with
   * probability weight / sum of the mix's weights). The same for every run, with or without bug
   * switches. Operations that often do not apply (zap needs a namespace init the caller made,
   * kprobe-opt a free kprobe_mutex: the pick is then drawn again) or whose effect is rare per call
   * (an interrupt that must land inside another CPU's critical section) get more.
   */
  readonly weight: number;
}

/**
 * The one mix (issue 14): every operation below, with its weight. Index in this list = the op id
 * (result table row, weight table entry). At most MAX_OPS.
 */
export const OPS: readonly OpDef[] = [
  { name: 'spin', kernel: false, weight: 3, doc: 'locktorture spinlock critical section' },
  { name: 'rw-read', kernel: false, weight: 3, doc: 'locktorture read_lock section (queued rwlock)' },
  { name: 'rw-write', kernel: false, weight: 3, doc: 'locktorture write_lock section' },
  { name: 'mutex', kernel: false, weight: 3, doc: 'locktorture mutex section (sleeps when contended)' },
  { name: 'rcu-read', kernel: false, weight: 3, doc: 'rcutorture reader (checks the poison of what it dereferences)' },
  { name: 'rcu-write', kernel: false, weight: 3, doc: 'rcutorture writer (publish, retire with call_rcu)' },
  { name: 'sync-rcu', kernel: false, weight: 3, doc: 'synchronize_rcu' },
  { name: 'sync-srcu', kernel: false, weight: 3, doc: 'synchronize_srcu(tasks_rcu_exit_srcu)' },
  { name: 'fork', kernel: true, weight: 5, doc: 'fork a child running the mix (one time in eight with exit signal SIGUSR1, three in eight SIGURG: clone\'s CSIGNAL byte)' },
  { name: 'clone-newpid', kernel: true, weight: 5, doc: 'clone(CLONE_NEWPID): the child is init of a new namespace' },
  { name: 'unshare', kernel: true, weight: 3, doc: 'unshare(CLONE_NEWPID): the next child is init of a new namespace' },
  { name: 'exit', kernel: true, weight: 5, doc: 'exit' },
  { name: 'wait', kernel: true, weight: 5, doc: 'a thread of a process with children other than live services (any thread\'s: threads of one process wait for the same children) blocks three times in four (polls with WNOHANG when it traces a task or its children autoreap: SIGCHLD ignored or SA_NOCLDWAIT), as a shell\'s job control: waitid(P_ALL, WEXITED|WSTOPPED[|WCONTINUED]|WNOWAIT) looks, then a stopped child is continued (SIGCONT) or what was reported is reaped with wait4(pid); else wait4(-1, WNOHANG). An ECHILD of the look while a child of the process was EXIT_DEAD and traced (its tracer reaping it) is looked at again for a few steps, a sched_yield() apart: that child back as the process\'s child is a spurious ECHILD (a violation)' },
  { name: 'kill', kernel: true, weight: 5, doc: 'kill a random pid of the caller\'s namespace (a SIGKILL to a service of a namespace below the caller\'s is sent as signal 0: that namespace\'s init kills it), or alarm(): a timer interrupt on a random CPU whose handler (it_real_fn) sends the caller SIGALRM with kill_pid_info' },
  { name: 'setns-nsfd', kernel: true, weight: 4, doc: 'open /proc/PID/ns/pid or pid_for_children of a task (half the time a namespace init the mix created lately), setns(fd, CLONE_NEWPID), fork into it (half the time a service, the daemon program)' },
  { name: 'setns-pidfd', kernel: true, weight: 4, doc: 'pidfd_open(pid) (half the time a namespace init the mix created lately), setns(pidfd, CLONE_NEWPID), fork into it (half the time a service, the daemon program)' },
  { name: 'zap', kernel: true, weight: 6, doc: 'SIGKILL to a namespace init the caller created, or to one the mix created lately (zap_pid_ns_processes while others setns and fork into it)' },
  { name: 'ns-last-pid', kernel: true, weight: 2, doc: 'read or write /proc/sys/kernel/ns_last_pid' },
  { name: 'last-pid-vec', kernel: true, weight: 2, doc: 'PIDNS_REQ_SET_LAST_PID_VEC ioctl on the namespace file' },
  { name: 'clone-with-pids', kernel: true, weight: 2, doc: 'clone_with_pids with a target pid set' },
  { name: 'set-tid', kernel: true, weight: 2, doc: 'clone3 with set_tid' },
  { name: 'reboot', kernel: true, weight: 3, doc: 'reboot(LINUX_REBOOT_CMD_RESTART) inside a child namespace (reboot_pid_ns)' },
  { name: 'stop-cont', kernel: true, weight: 3, doc: 'half the time SIGSTOP to a child of the caller\'s (not one it traces), which stays stopped until the caller\'s job-control wait continues it; else SIGSTOP to a random pid of the caller\'s namespace, then SIGCONT to it (group stop, CLD_STOPPED/CLD_CONTINUED)' },
  { name: 'sigaction', kernel: true, weight: 2, doc: 'a disposition for SIGUSR1, SIGTERM or SIGCHLD: SIG_DFL, SIG_IGN or caught (SA_RESTART, SA_NOCLDSTOP, SA_NOCLDWAIT)' },
  { name: 'sigmask', kernel: true, weight: 2, doc: 'sigprocmask: block or unblock SIGUSR1, SIGTERM, SIGCHLD' },
  { name: 'clone-thread', kernel: true, weight: 5, doc: 'clone(CLONE_THREAD|CLONE_SIGHAND|CLONE_VM): a thread running the mix (threads of namespace inits, leaders that exit first)' },
  { name: 'exit-group', kernel: true, weight: 3, doc: 'exit_group: the whole thread group exits' },
  { name: 'ptrace', kernel: true, weight: 5, doc: 'ptrace TRACEME, ATTACH or SEIZE of a random pid or (one time in four each) of a child of another thread of the caller\'s process or of its parent, then SIGKILL to that tracee and wait4(pid, WNOHANG) polls by the tracer (after a pidfd watch - pidfd_open, poll until POLLIN, close - when the tracee is its own child whose group cannot wait for it); or DETACH (tracees and tracers exit whenever they like)' },
  { name: 'clone-parent', kernel: true, weight: 8, doc: 'clone(CLONE_PARENT): a sibling, child of the caller\'s parent, with the caller\'s exit signal (checked: a sibling\'s exit signal other than SIGCHLD that the caller does not have is a violation)' },
  { name: 'subreaper', kernel: true, weight: 3, doc: 'prctl(PR_SET_CHILD_SUBREAPER, 1 or 0)' },
  { name: 'fasync', kernel: true, weight: 15, doc: 'the run\'s O_ASYNC file: kill_fasync from task context, exit_mm\'s mm_update_next_owner (read_lock(tasklist_lock), interrupts on), or a device interrupt on a random CPU whose handler runs kill_fasync -> send_sigio' },
  { name: 'kprobe-opt', kernel: true, weight: 4, doc: 'kprobe_optimizer (kprobe_mutex held across synchronize_rcu_tasks) or perf_kprobe_init (takes kprobe_mutex)' },
  { name: 'task-work', kernel: true, weight: 3, doc: 'task_work_add(TWA_SIGNAL) on a task (half the time a namespace init the mix created lately), as io_uring queues a completion: TIF_NOTIFY_SIGNAL set and the task woken' },
  { name: 'execve', kernel: true, weight: 3, doc: 'execve(the stress program) by the caller (a multi-threaded exec when it has threads: de_thread, the leader\'s pid to a non-leader; not while a thread of its group is traced), or a child that execs at once traced with PTRACE_O_TRACEEXEC: its PTRACE_EVENT_EXEC stop, a PTRACE_ATTACH at the stop (EPERM), PTRACE_DETACH (the wait reports job-control stops too: once a thread of the child has exec\'d, de_thread, the child is no longer traced and a stop of it is continued with SIGCONT)' },
  { name: 'cad-pid', kernel: true, weight: 1, doc: 'read /proc/sys/kernel/cad_pid, or (a task of the initial namespace) write init\'s pid or its own to it: proc_do_cad_pid swaps the reference cad_pid holds' },
  { name: 'pids-cgroup', kernel: true, weight: 2, doc: 'the pids controller: move the caller to a random pids cgroup (its tid to the tasks file: pids_can_attach, under cgroup_mutex and cgroup_threadgroup_rwsem held for write), or write a random pids.max (2 .. 32, or max) of a child cgroup; forks past a limit fail with EAGAIN' },
  { name: 'wait-pid', kernel: true, weight: 4, doc: 'wait4(pid, __WALL|WNOHANG) for one child of the caller\'s process, a traced one first (SIGKILLed first when traced, else one time in four; polled up to 8 times while it runs; a child traced by another process is watched through a pidfd after the kill - pidfd_open, poll until POLLIN, close - and then polled up to 256 times), checking what wait4 says against the child: ECHILD while it is still the caller\'s child (alive or a zombie, the same task), or a death reported again by a second wait4 right after it was reaped, are violations; an ECHILD while the child was EXIT_DEAD and traced (its tracer reaping it) is looked at again for a few steps, a sched_yield() apart: the child back as the caller\'s is one too' },
  { name: 'pidfd-poll', kernel: true, weight: 20, doc: 'pidfd_open(a random pid of the caller\'s namespace), poll(pidfd) until POLLIN (its thread group exited; a signal: poll again), close, as a supervisor watches a process it did not start: by a single-threaded caller with no child and no tracee, no reaper; not the caller\'s own process, an ancestor, its tracer, a namespace init, a service (the daemon program: it lives until killed), a process with a traced thread, with children, with a tracee or polling itself (their exit may wait for the poller)' },
  { name: 'proc', kernel: true, weight: 12, doc: 'the one /proc mount point: a task of a child pid namespace mounts proc for its namespace when none is mounted (a container\'s /proc: the superblock holds a reference on the namespace); umount -l (the last mntput puts the namespace at once) one time in 16 once no pid is left in the namespace, one in 64 before; else readlink of each entry of /proc/self/ns or of /proc/NR/ns (a random pid) in turn, as lsns does, each readlink an RCU-mode path walk that reads the superblock\'s namespace holding only rcu_read_lock (src/kernel/proc_root.ts)' },
  { name: 'raise-stop', kernel: true, weight: 4, doc: 'a program that suspends itself: kill(getpid(), SIGSTOP), a group stop of the caller\'s process that its parent\'s job control reports and continues (not while a live thread of it is traced: a ptrace trap, which only its tracer ends; nor a zombie one by the parent\'s process, whose wait then does not see the group stop; nor by a process with a tracee: a stopped debugger ends no trap, and its tracee may be the parent that would continue it)' },
  { name: 'ptrace-wait', kernel: true, weight: 16, doc: 'a debugger that holds on (strace -p): PTRACE_ATTACH or SEIZE of the leader of a random multi-threaded process it did not start, then a blocking wait4(pid, __WALL) until the tracee dies (a stop is resumed with PTRACE_CONT): by a single-threaded caller with no child, no tracee, no reaper; not of an ancestor, a namespace init, a process with a tracee or a traced thread (their exit may wait for the debugger), nor by a caller that a pidfd-poll operation watches' },
  { name: 'daemon', kernel: true, weight: 2, doc: 'fork a service: a child that sleeps in pause() until a signal kills it (at most one child of the caller\'s at a time, never a namespace init); at the wind-down its parent SIGKILLs it when it is in the parent\'s namespace, else its namespace\'s init does (zap_pid_ns_processes). No operation SIGKILLs a service of a namespace below its own (kill and zap send it signal 0 instead, wait-pid only polls it, ptrace only attaches to it): that is its namespace\'s init\'s to do' },
  { name: 'cgroup-procs', kernel: true, weight: 4, doc: 'write a random pid of the caller\'s namespace (half the time the caller\'s own process or its parent\'s) to a random pids cgroup\'s cgroup.procs: its whole thread group moves under cgroup_mutex and cgroup_threadgroup_rwsem held for write (percpu_down_write: an RCU grace period, then it waits for the forks and exits holding the read side, while new ones sleep)' },
  { name: 'wait-threads', kernel: true, weight: 6, doc: 'a process with a reaper thread: a single-threaded caller with no child, no tracee and no reaper role clones a thread that forks a child (which yields its CPU four times and exits) and waits for its own children (wait4(-1, __WALL|__WNOTHREAD)), then exits; the caller waits for the child too, as a shell does (wait4(-1, __WALL|WUNTRACED): a stop it reports is continued with SIGCONT), then joins the thread (sched_yield() until it is gone, bounded): two threads of one process in do_wait for the same zombie at once, one of which reaps it and the other returns ECHILD (3245d6acab98\'s race)' },
];

/** Operations the result and weight tables have room for. */
export const MAX_OPS = 64;
if (OPS.length > MAX_OPS) throw new RangeError(`stress: ${OPS.length} operations, the tables hold ${MAX_OPS}`);

export const OP_IDS: Record<string, number> = Object.fromEntries(OPS.map((o, i) => [o.name, i]));
export const TORTURE_MIX = OPS.filter((o) => !o.kernel).map((o) => o.name);
export const KERNEL_MIX = OPS.filter((o) => o.kernel).map((o) => o.name);

/** Throws a RangeError naming the first unknown operation. */
export function check_mix(names: readonly string[]): void {
  for (const n of names) {
    if (OP_IDS[n] === undefined) throw new RangeError(`unknown operation "${n}" (known: ${OPS.map((o) => o.name).join(', ')})`);
  }
}

/**
 * The weight table of a mix (G.stress[STRESS_MIX] points at it): entry i is the sum of the weights
 * of operations 0..i that are in the mix, so a draw r in [0, last entry) picks the first i whose
 * entry exceeds r. Operations outside the mix add nothing.
 */
export function mix_weights(names: readonly string[]): Int32Array {
  check_mix(names);
  const on = new Set(names);
  const cum = new Int32Array(OPS.length);
  let sum = 0;
  OPS.forEach((o, i) => { if (on.has(o.name)) sum += o.weight; cum[i] = sum; });
  return cum;
}

/** Result table: per op, RES_BUCKETS counters: [0] successes, [e] errno e (capped), [RES_SKIPPED] skipped. */
export const RES_BUCKETS = 64;
export const RES_SKIPPED = 63;
export const RES_TABLE_WORDS = MAX_OPS * RES_BUCKETS;
/** The run's O_ASYNC file (struct fasync_struct) lives this many words after the result table (src/stress/run.ts). */
export const STRESS_FASYNC_AT = RES_TABLE_WORDS + STRESS_COUNTERS.SIZE;
/** The mix's weight table (MAX_OPS words, mix_weights) after the O_ASYNC file. */
export const STRESS_WEIGHTS_AT = STRESS_FASYNC_AT + FASYNC.SIZE;
/** Words of the stress table region: results, lock-section counters, the O_ASYNC file, the weights. */
export const STRESS_TABLE_REGION_WORDS = STRESS_WEIGHTS_AT + MAX_OPS;

/** Per-task-slot side table (program region): words per task slot. */
export const SLOT_WORDS = STRESS_SLOT.SIZE;
export const SLOT_ID = STRESS_SLOT.id;
export const SLOT_ACTIVE_NS = STRESS_SLOT.active_ns;
export const SLOT_CONT = STRESS_SLOT.cont;
export const SLOT_CONT_STEP = STRESS_SLOT.cont_step;
export const SLOT_CONT_ARG = STRESS_SLOT.cont_arg;
export const SLOT_NEWPID_CHILD = STRESS_SLOT.newpid_child;
export const SLOT_SCRATCH = STRESS_SLOT.scratch;

/** G.stress[STRESS_BUSTED] bits: planted bugs in the torture mix (the foundation's busted variants). */
export const STRESS_BUST_SPIN = 1; // locktorture lock_busted: no mutual exclusion
export const STRESS_BUST_RCU = 2; // rcutorture writer frees without a grace period
export const STRESS_BUST_CRASH = 4; // a stress op throws inside the kernel after 100 operations (worker-crash path)

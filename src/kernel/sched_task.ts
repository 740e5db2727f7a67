/**
 * Process-lifecycle helpers shared by fork.ts, exit.ts, signal.ts and ptrace.ts: task and signal
 * constants (include/linux/sched.h, include/linux/sched/signal.h, include/uapi/asm-generic/
 * signal.h), the task lists (children/sibling, the global task list through init_task, the
 * thread ring), pid attach/detach (kernel/pid.c attach_pid/detach_pid), task reference counts
 * (kernel/fork.c __put_task_struct, kernel/exit.c delayed_put_task_struct) and a wake-up of a whole
 * wait queue that allocates nothing (the fork/exit/wait fast path runs millions of times a second).
 *
 * Every list here is guarded by tasklist_lock held for write (the thread ring also by the group's
 * siglock, so walkers holding either see a consistent ring).
 */
import { G, LIST_DEBUG, PID, PIDNS, POISON_LIVE, SIBLING_HIST, SIG, TASK, UPID_NR, UPID_NS, UPID_WORDS, WQ_FIRST, WQ_LAST, WQ_LOCK } from '../mm/layout.js';
import { kg, mem, obj_index, regions, SLAB_TASK, this_cpu_id } from '../mm/memory.js';
import { record_violation, V_INVARIANT } from '../locking/violations.js';
import { BUG_PTRACE_REPARENTED_NAIVE } from '../config/bugs.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { data_race } from '../lib/compiler.js';
import { try_to_wake_up, TASK_DEAD, TASK_INTERRUPTIBLE, TASK_NORMAL, WCHAN_PAUSE } from '../sched/core.js';
export {
  CLONE_NEWTIME, CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND, CLONE_PIDFD, CLONE_PTRACE, CLONE_VFORK, CLONE_PARENT, CLONE_THREAD, CLONE_NEWNS, CLONE_SYSVSEM, CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_DETACHED, CLONE_UNTRACED, CLONE_CHILD_SETTID, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_IO, CLONE_LEGACY_FLAGS,
} from './clone_flags.js';

// ---- task flags and exit states (include/linux/sched.h) ----------------------------------------

export const EXIT_DEAD = 0x0010;
export const EXIT_ZOMBIE = 0x0020;
export const EXIT_TRACE = EXIT_ZOMBIE | EXIT_DEAD;

/**
 * Tasks blocked in the kernel (the hung-task view): alive, not running or runnable, not a zombie,
 * and not idle in pause (user space waiting for a signal). The one count: the controlled-mode
 * verdict (no CPU can run: deadlock or done) and the supervisor's free-running quiet check read it.
 */
export function nr_blocked_tasks(m: Int32Array = mem): number {
  const o = regions.objects[SLAB_TASK]!;
  let n = 0;
  for (let i = 0; i < o.count; i++) {
    const t = o.base + i * o.stride;
    if (m[t + TASK.poison] !== POISON_LIVE) continue;
    const st = m[t + TASK.state]!;
    if (st === 0 || st === TASK_DEAD) continue;
    if (m[t + TASK.exit_state] === EXIT_ZOMBIE) continue;
    if ((st & TASK_INTERRUPTIBLE) !== 0 && m[t + TASK.wait_chan] === WCHAN_PAUSE) continue;
    n++;
  }
  return n;
}

export const PF_EXITING = 0x00000004;
export const PF_SIGNALED = 0x00000400;
export const PF_KTHREAD = 0x00200000;
/** PT_PTRACED (include/linux/ptrace.h). */
export const PT_PTRACED = 0x00000001;
/** PT_SEIZED: attached with PTRACE_SEIZE (no legacy SIGTRAP after execve). */
export const PT_SEIZED = 0x00010000;
/** PT_OPT_FLAG_SHIFT: the PTRACE_O_* options live in task->ptrace from this bit on. */
export const PT_OPT_FLAG_SHIFT = 3;
/** PTRACE_O_TRACEEXEC (include/uapi/linux/ptrace.h) and its PT_TRACE_EXEC bit in task->ptrace. */
export const PTRACE_O_TRACEEXEC = 0x10;
export const PT_TRACE_EXEC = PTRACE_O_TRACEEXEC << PT_OPT_FLAG_SHIFT;
/** PTRACE_EVENT_EXEC: the event number in the stop's exit code (SIGTRAP | event << 8). */
export const PTRACE_EVENT_EXEC = 4;
/** PTRACE_EVENT_STOP: the group-stop (and INTERRUPT) trap of a PTRACE_SEIZE tracee (signr | event << 8). */
export const PTRACE_EVENT_STOP = 128;

// ---- signal_struct flags (include/linux/sched/signal.h) ----------------------------------------

export const SIGNAL_STOP_STOPPED = 0x00000001; // job control stop in effect
export const SIGNAL_STOP_CONTINUED = 0x00000002; // SIGCONT since WCONTINUED reap
export const SIGNAL_GROUP_EXIT = 0x00000004;
export const SIGNAL_CLD_STOPPED = 0x00000010; // pending notifications to the parent
export const SIGNAL_CLD_CONTINUED = 0x00000020;
export const SIGNAL_CLD_MASK = SIGNAL_CLD_STOPPED | SIGNAL_CLD_CONTINUED;
export const SIGNAL_UNKILLABLE = 0x00000040;
/** SIGNAL_STOP_MASK: the flags signal_set_stop_flags replaces. */
export const SIGNAL_STOP_MASK = SIGNAL_CLD_MASK | SIGNAL_STOP_STOPPED | SIGNAL_STOP_CONTINUED;

// ---- task->jobctl (include/linux/sched/jobctl.h) ------------------------------------------------

export const JOBCTL_STOP_SIGMASK = 0xffff; // signr of the last group stop
export const JOBCTL_STOP_DEQUEUED = 1 << 16; // stop signal dequeued
export const JOBCTL_STOP_PENDING = 1 << 17; // task should stop for group stop
export const JOBCTL_STOP_CONSUME = 1 << 18; // consume group stop count
export const JOBCTL_TRAP_STOP = 1 << 19; // trap for STOP
export const JOBCTL_TRAP_NOTIFY = 1 << 20; // trap for NOTIFY
export const JOBCTL_STOPPED = 1 << 26; // do_signal_stop()
export const JOBCTL_TRACED = 1 << 27; // ptrace_stop()
export const JOBCTL_TRAP_MASK = JOBCTL_TRAP_STOP | JOBCTL_TRAP_NOTIFY;
export const JOBCTL_PENDING_MASK = JOBCTL_STOP_PENDING | JOBCTL_TRAP_MASK;

// ---- si_code of SIGCHLD (include/uapi/asm-generic/siginfo.h) -------------------------------------

export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;
export const CLD_TRAPPED = 4;
export const CLD_STOPPED = 5;
export const CLD_CONTINUED = 6;

// ---- sigaction (include/uapi/asm-generic/signal-defs.h, x86 signal.h) ---------------------------

export const SA_NOCLDSTOP = 0x00000001;
export const SA_NOCLDWAIT = 0x00000002;
export const SA_RESTART = 0x10000000;
/** The handler values of struct sigaction the model distinguishes (a handler address is "caught"). */
export const SIG_DFL = 0;
export const SIG_IGN = 1;
export const SIG_CAUGHT = 2;
/** sigprocmask how (include/uapi/asm-generic/signal-defs.h). */
export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;
export const SIG_SETMASK = 2;

// ---- signals (include/uapi/asm-generic/signal.h, x86-64 numbering) -------------------------------

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGWINCH = 28;
export const _NSIG = 64;

/** sigmask(sig) for the signals the pending masks hold (1..31; real-time signals are fatal here). */
export const sigmask = (sig: number): number => (sig >= 1 && sig <= 31 ? 1 << (sig - 1) : 0);
/** valid_signal (include/linux/signal.h). */
export const valid_signal = (sig: number): boolean => sig >= 0 && sig <= _NSIG;
/** sig_kernel_only: SIGKILL and SIGSTOP. */
export const sig_kernel_only = (sig: number): boolean => sig === SIGKILL || sig === SIGSTOP;
const IGNORE_MASK = sigmask(SIGCHLD) | sigmask(SIGCONT) | sigmask(SIGURG) | sigmask(SIGWINCH);
const STOP_MASK = sigmask(SIGSTOP) | sigmask(SIGTSTP) | sigmask(SIGTTIN) | sigmask(SIGTTOU);
/** sig_kernel_ignore: default action "ignore". */
export const sig_kernel_ignore = (sig: number): boolean => (sigmask(sig) & IGNORE_MASK) !== 0;
/** sig_kernel_stop: default action "stop". */
export const sig_kernel_stop = (sig: number): boolean => (sigmask(sig) & STOP_MASK) !== 0;
/** SIG_KERNEL_STOP_MASK. */
export const SIG_KERNEL_STOP_MASK = STOP_MASK;

// ---- clone flags (include/uapi/linux/sched.h) ---------------------------------------------------

export const CSIGNAL = 0x000000ff;

// ---- wait options (include/uapi/linux/wait.h) ---------------------------------------------------

export const WNOHANG = 0x00000001;
export const WUNTRACED = 0x00000002;
export const WSTOPPED = WUNTRACED;
export const WEXITED = 0x00000004;
export const WCONTINUED = 0x00000008;
export const WNOWAIT = 0x01000000;
export const __WNOTHREAD = 0x20000000;
export const __WALL = 0x40000000;
export const __WCLONE = 0x80000000 | 0;

// ---- pid helpers that read struct pid directly (include/linux/pid.h) ----------------------------

export { PIDTYPE_MAX, PIDTYPE_PGID, PIDTYPE_PID, PIDTYPE_SID, PIDTYPE_TGID } from './pid_types.js';

/** The upid of `pid` at `level` (address of its first word). */
export const upid_at = (pid: number, level: number): number => pid + PID.SIZE + level * UPID_WORDS;

/** ns_of_pid: the namespace the pid was allocated in (its deepest level). */
export function ns_of_pid(pid: number): number {
  return pid ? mem[upid_at(pid, mem[pid + PID.level]!) + UPID_NS]! : 0;
}

/** is_child_reaper: pid number 1 in its own namespace. */
export function is_child_reaper(pid: number): boolean {
  return mem[upid_at(pid, mem[pid + PID.level]!) + UPID_NR] === 1;
}

/** pid_nr_ns (kernel/pid.c): the number of `pid` in `ns`, 0 when it has none there. */
export function pid_nr_ns_fast(pid: number, ns: number): number {
  if (!pid || !ns) return 0;
  const lvl = mem[ns + PIDNS.level]!;
  if (lvl > mem[pid + PID.level]!) return 0;
  const u = upid_at(pid, lvl);
  return mem[u + UPID_NS] === ns ? mem[u + UPID_NR]! : 0;
}

// ---- thread groups (include/linux/sched/signal.h) -----------------------------------------------

export const thread_group_leader = (p: number): boolean => mem[p + TASK.group_leader] === p;
/**
 * thread_group_empty (include/linux/sched/signal.h): no other thread in p's group. The model reads
 * signal->nr_threads (threads not yet released), which __exit_signal changes under the siglock.
 * Callers hold that lock or tasklist_lock, or none: pidfd_poll under RCU (delay_group_leader in
 * fs/pidfs.c) and do_group_exit's first look, where the kernel reads its thread list's pointers
 * racily. A marked load (READ_ONCE) so that the lockless callers do not race (a 10-minute checked
 * free run reported pidfd_poll's read, session 13), the locked ones keep their guard check.
 * The one definition: until session 13 ns_common.ts had this marked one, for pidfd_poll only, and
 * this file a plain copy that every other caller used (a later 10-minute checked run reported its
 * read from exit_signals).
 */
export function thread_group_empty(p: number): boolean {
  const sig = mem[p + TASK.signal]!;
  return sig === 0 || Atomics.load(mem, sig + SIG.nr_threads) <= 1;
}
/**
 * same_thread_group (include/linux/sched/signal.h): `p1->signal == p2->signal`. The one definition:
 * until session 15 ns_common.ts had a second, which also matched two tasks by their group_leader
 * words; on every call of the test suite both gave the same answer (checked with a build that
 * compared them), since ->signal is cleared only when a task record is freed (free_task).
 */
export const same_thread_group = (a: number, b: number): boolean => a !== 0 && b !== 0 && mem[a + TASK.signal] === mem[b + TASK.signal];
/** delay_group_leader: a zombie leader is not reaped while other threads live. */
export const delay_group_leader = (p: number): boolean => thread_group_leader(p) && !thread_group_empty(p);
/**
 * ptrace_reparented: traced by someone outside its real parent's thread group (0347e1773909:
 * "Change it to check !same_thread_group(parent, real_parent)"). Before it
 * (BUG_PTRACE_REPARENTED_NAIVE) it did "parent != real_parent", true for a tracer thread of the
 * real parent's own group.
 */
export const ptrace_reparented = (p: number): boolean => (mem[kg + G.bug_switches]! & BUG_PTRACE_REPARENTED_NAIVE) !== 0
  ? mem[p + TASK.parent] !== mem[p + TASK.real_parent]
  : !same_thread_group(mem[p + TASK.real_parent]!, mem[p + TASK.parent]!);

/**
 * find_alive_thread (kernel/exit.c): a thread of p's group that is not exiting, or 0. The kernel
 * reads t->flags plainly (`if (!(t->flags & PF_EXITING))`, read with find_string, session 13)
 * while t may be setting PF_EXITING in exit_signals: a race on purpose (data_race). The caller,
 * exit_notify, holds tasklist_lock for write, so a thread that has passed its own exit_notify is
 * seen exiting (its PF_EXITING store comes before its release of tasklist_lock, which our acquire
 * pairs with); a stale "alive" can only name a thread that has yet to take tasklist_lock in its
 * exit_notify, where forget_original_parent hands the children on again.
 */
export function find_alive_thread(p: number): number {
  let t = p;
  do {
    if ((data_race(mem[t + TASK.flags]!) & PF_EXITING) === 0) return t;
    t = mem[t + TASK.thread_next]!;
  } while (t !== p && t !== 0);
  return 0;
}

/** Link a new thread into its leader's ring (list_add_tail_rcu on signal->thread_head): O(1). */
export function thread_ring_add(leader: number, p: number): void {
  let last = mem[leader + TASK.thread_prev]!;
  if (!last) { // a ring built without back links (kernel threads of the foundation): walk it once
    last = leader;
    while (mem[last + TASK.thread_next] !== leader) last = mem[last + TASK.thread_next]!;
  }
  mem[p + TASK.thread_next] = leader;
  mem[p + TASK.thread_prev] = last;
  mem[leader + TASK.thread_prev] = p;
  mem[last + TASK.thread_next] = p; // publish last: a ring walker sees p fully linked
}

/**
 * Unlink p from its thread ring (list_del_rcu(&p->thread_node)): O(1). p keeps its next pointer so
 * a walker standing on p still gets back into the ring.
 */
export function thread_ring_del(p: number): void {
  let prev = mem[p + TASK.thread_prev]!;
  if (!prev) {
    prev = p;
    while (mem[prev + TASK.thread_next] !== p) {
      prev = mem[prev + TASK.thread_next]!;
      if (prev === 0) return;
    }
  }
  if (prev === p) return; // alone in its ring
  const next = mem[p + TASK.thread_next]!;
  mem[prev + TASK.thread_next] = next;
  mem[next + TASK.thread_prev] = prev;
  mem[p + TASK.thread_prev] = 0;
}

// ---- children / sibling lists -------------------------------------------------------------------
//
// The model's lists are NULL-terminated with a head and a tail word in the parent (children,
// children_last), not circular as the kernel's list_head: a node does not know its list, so a
// list_del on the wrong parent would quietly leave the real list's head or tail on a node that is
// gone. The checks below are CONFIG_DEBUG_LIST's (lib/list_debug.c __list_add_valid: "list_add
// double add"; __list_del_entry_valid: "list_del corruption. prev->next should be ..."): on every
// run, a few loads per call, and like the kernel's they refuse the change they found corrupt. A
// finding is a violation (INV_TASK_LIST_CORRUPTION) and the first one is kept with the task's
// history (TASK.sibling_hist) in G.list_debug for the report.

/** Task lists corrupt (CONFIG_DEBUG_LIST's report): violation b = the list's owner named, c = the task. */
export const INV_TASK_LIST_CORRUPTION = 0x7401;
/** de_thread: the exec'ing thread's real_parent is not its leader's (every thread of a group shares it), or the leader is not a zombie. */
export const INV_DE_THREAD_REAL_PARENT = 0x7402;

/** G.list_debug[1]: which check found the corruption. */
export const LD_DEL_HEAD = 1; // list_del: p has no prev but parent->children is not p
export const LD_DEL_TAIL = 2; // list_del: p has no next but parent->children_last is not p
export const LD_DEL_PREV = 3; // list_del: prev->next is not p
export const LD_DEL_NEXT = 4; // list_del: next->prev is not p
export const LD_ADD_LINKED = 5; // list_add: p is already linked (or heads a list)
export const LD_REPLACE_HEAD = 6; // list_replace: old has no prev but parent->children is not old
export const LD_REPLACE_TAIL = 7; // list_replace: old has no next but parent->children_last is not old
export const LD_REPARENT_OWNER = 8; // forget_original_parent: a thread of a child on father's list does not name father
export const LD_REPARENT_PTRACE = 9; // forget_original_parent: BUG_ON((!t->ptrace) != (t->parent == father))
export const LD_DE_THREAD = 10; // de_thread: tsk->real_parent != leader->real_parent
export const LD_PTRACE_UNLINK = 11; // __ptrace_unlink: the tracee is not on its tracer's ptraced list
export const LD_TASKS_DEL = 12; // __unhash_process: list_del_rcu(&p->tasks) of a task not on the process list
export const LD_RELEASE_WITH_CHILDREN = 13; // __exit_signal: a task released with children still on its list
export const LD_DE_THREAD_LEADER_STATE = 14; // de_thread: BUG_ON(leader->exit_state != EXIT_ZOMBIE)
export const LD_TREE_CHECK = 15; // the stress checker's task-tree walk (src/stress/checks.ts check_task_family) saw it first
export const LD_CHECK_NAMES: Record<number, string> = {
  [LD_DEL_HEAD]: 'list_del: the task has no prev but is not the head of its parent\'s children',
  [LD_DEL_TAIL]: 'list_del: the task has no next but is not the tail of its parent\'s children',
  [LD_DEL_PREV]: 'list_del: prev->next is not the task',
  [LD_DEL_NEXT]: 'list_del: next->prev is not the task',
  [LD_ADD_LINKED]: 'list_add: the task is already on a children list',
  [LD_REPLACE_HEAD]: 'list_replace: the old leader has no prev but is not the head of its parent\'s children',
  [LD_REPLACE_TAIL]: 'list_replace: the old leader has no next but is not the tail of its parent\'s children',
  [LD_REPARENT_OWNER]: 'forget_original_parent: a thread of a child on the exiting task\'s list names another real_parent',
  [LD_REPARENT_PTRACE]: 'forget_original_parent: BUG_ON((!t->ptrace) != (t->parent == father))',
  [LD_DE_THREAD]: 'de_thread: the exec\'ing thread\'s real_parent differs from its leader\'s',
  [LD_PTRACE_UNLINK]: '__ptrace_unlink: the tracee is not on its tracer\'s ptraced list',
  [LD_TASKS_DEL]: '__unhash_process: the leader is not on the process list (init_task.tasks)',
  [LD_RELEASE_WITH_CHILDREN]: 'release_task: the task still has children (exit_notify hands them all to a reaper)',
  [LD_DE_THREAD_LEADER_STATE]: 'de_thread: BUG_ON(leader->exit_state != EXIT_ZOMBIE)',
  [LD_TREE_CHECK]: 'the task-tree check: a live leader missing from its real parent\'s children list (or a child naming another parent)',
};

/** TASK.sibling_hist ops. */
export const SH_ADD = 1; // copy_process: list_add_tail(&p->sibling, &parent->children)
export const SH_DEL = 2; // __unhash_process: list_del_init(&p->sibling)
export const SH_REPLACE_OUT = 3; // de_thread: the old leader's sibling taken over
export const SH_REPLACE_IN = 4; // de_thread: the new leader takes the old one's sibling
export const SH_REPARENT = 5; // forget_original_parent: real_parent = the reaper (every thread)
export const SH_CLONE_THREAD = 6; // copy_process(CLONE_THREAD): real_parent = current->real_parent
export const SH_NAMES = ['?', 'add', 'del', 'replace-out', 'replace-in', 'reparent', 'clone-thread'];
const SH_NO_PARENT = 0x3fffff;

/** Record a change of p's sibling link or real_parent (to `parent`) in p's ring. Under tasklist_lock (write). */
export function sibling_hist_add(p: number, op: number, parent: number): void {
  const n = mem[p + TASK.sibling_hist_n]!;
  mem[p + TASK.sibling_hist + (n & (SIBLING_HIST - 1))] = op << 28 | this_cpu_id << 22 | (parent ? obj_index(SLAB_TASK, parent) : SH_NO_PARENT);
  mem[p + TASK.sibling_hist_n] = n + 1;
}

/** Decode one sibling_hist word: [op, cpu, parent slot or -1]; 0 words are empty slots. */
export function sibling_hist_decode(w: number): [number, number, number] {
  const slot = w & SH_NO_PARENT;
  return [w >>> 28, (w >>> 22) & 0x3f, slot === SH_NO_PARENT ? -1 : slot];
}

function copy_hist(p: number, at: number): void {
  const n = mem[p + TASK.sibling_hist_n]!;
  for (let i = 0; i < SIBLING_HIST; i++) mem[at + i] = n - SIBLING_HIST + i >= 0 ? mem[p + TASK.sibling_hist + ((n + i) & (SIBLING_HIST - 1))]! : 0;
}

/** The owner of the children list node p is on: walk to the head, then find the task whose list it heads (slow: only on a report). */
function sibling_list_owner(p: number): number {
  const o = regions.objects[SLAB_TASK]!;
  let h = p;
  for (let n = 0; mem[h + TASK.sibling_prev] && n <= o.count; n++) h = mem[h + TASK.sibling_prev]!;
  for (let i = 0; i < o.count; i++) {
    const t = o.base + i * o.stride;
    if (mem[t + TASK.children] === h && mem[t + TASK.poison] === POISON_LIVE) return t;
  }
  return 0;
}

/**
 * Keep the first corruption's snapshot (G.list_debug): the check, the tasks, their last list
 * changes and the owner of the list p is really on. Only the first caller writes it (seen is an
 * Atomics.add: a reader of the tree under read_lock may be the first). True when this one did.
 */
export function list_debug_snapshot(ld: number, parent: number, p: number, other: number): boolean {
  const d = kg + G.list_debug;
  if (Atomics.add(mem, d + LIST_DEBUG.seen, 1) !== 0) return false;
  mem[d + LIST_DEBUG.check] = ld;
  mem[d + LIST_DEBUG.parent] = parent;
  mem[d + LIST_DEBUG.task] = p;
  mem[d + LIST_DEBUG.real_parent] = mem[p + TASK.real_parent]!;
  mem[d + LIST_DEBUG.group_leader] = mem[p + TASK.group_leader]!;
  mem[d + LIST_DEBUG.cpu] = this_cpu_id;
  mem[d + LIST_DEBUG.id] = mem[p + TASK.id]!;
  copy_hist(p, d + LIST_DEBUG.hist);
  const owner = sibling_list_owner(p);
  mem[d + LIST_DEBUG.owner] = owner;
  mem[d + LIST_DEBUG.other] = other;
  if (other || owner) copy_hist(other || owner, d + LIST_DEBUG.other_hist);
  return true;
}

/** Report a corruption found by check `ld` (the first one with the tasks' histories). */
export function sibling_list_corrupt(ld: number, parent: number, p: number, other: number): void {
  const code = ld === LD_DE_THREAD || ld === LD_DE_THREAD_LEADER_STATE ? INV_DE_THREAD_REAL_PARENT : INV_TASK_LIST_CORRUPTION;
  list_debug_snapshot(ld, parent, p, other);
  record_violation(V_INVARIANT, code, parent, p);
}

/** list_add_tail(&p->sibling, &parent->children). */
export function children_add_tail(parent: number, p: number): void {
  if (mem[p + TASK.sibling_prev] || mem[p + TASK.sibling_next] || mem[parent + TASK.children] === p) {
    sibling_list_corrupt(LD_ADD_LINKED, parent, p, 0);
    return;
  }
  const last = mem[parent + TASK.children_last]!;
  mem[p + TASK.sibling_prev] = last;
  mem[p + TASK.sibling_next] = 0;
  if (last) mem[last + TASK.sibling_next] = p;
  else mem[parent + TASK.children] = p;
  mem[parent + TASK.children_last] = p;
  sibling_hist_add(p, SH_ADD, parent);
}

/** The list_del check of p on parent->children: 0, or the LD_* that fails. */
function sibling_del_check(parent: number, p: number): number {
  const prev = mem[p + TASK.sibling_prev]!;
  const next = mem[p + TASK.sibling_next]!;
  if (prev ? mem[prev + TASK.sibling_next] !== p : mem[parent + TASK.children] !== p) return prev ? LD_DEL_PREV : LD_DEL_HEAD;
  if (next ? mem[next + TASK.sibling_prev] !== p : mem[parent + TASK.children_last] !== p) return next ? LD_DEL_NEXT : LD_DEL_TAIL;
  return 0;
}

/** list_del_init(&p->sibling) from parent->children (refused, and reported, when p is not on it). */
export function children_del(parent: number, p: number): void {
  const bad = sibling_del_check(parent, p);
  if (bad) {
    sibling_list_corrupt(bad, parent, p, 0);
    return;
  }
  const prev = mem[p + TASK.sibling_prev]!;
  const next = mem[p + TASK.sibling_next]!;
  if (prev) mem[prev + TASK.sibling_next] = next;
  else mem[parent + TASK.children] = next;
  if (next) mem[next + TASK.sibling_prev] = prev;
  else mem[parent + TASK.children_last] = prev;
  mem[p + TASK.sibling_prev] = 0;
  mem[p + TASK.sibling_next] = 0;
  sibling_hist_add(p, SH_DEL, parent);
}

/** list_splice_tail_init(&from->children, &to->children). */
export function children_splice_tail(from: number, to: number): void {
  const first = mem[from + TASK.children]!;
  if (!first) return;
  const last = mem[from + TASK.children_last]!;
  const tail = mem[to + TASK.children_last]!;
  mem[first + TASK.sibling_prev] = tail;
  if (tail) mem[tail + TASK.sibling_next] = first;
  else mem[to + TASK.children] = first;
  mem[to + TASK.children_last] = last;
  mem[from + TASK.children] = 0;
  mem[from + TASK.children_last] = 0;
}

// ---- the global task list (init_task.tasks, thread-group leaders only) -------------------------

/** The head of the process list: the global init task. */
export const init_task = (): number => mem[kg + G.init_task]!;

/** list_add_tail_rcu(&p->tasks, &init_task.tasks). */
export function tasks_add_tail(p: number): void {
  const head = init_task();
  const last = mem[head + TASK.tasks_prev]!;
  mem[p + TASK.tasks_next] = head;
  mem[p + TASK.tasks_prev] = last;
  mem[last + TASK.tasks_next] = p; // publish last for RCU walkers
  mem[head + TASK.tasks_prev] = p;
}

/** list_replace_rcu(&old->tasks, &p->tasks): p takes old's place in the process list (de_thread). */
export function tasks_replace(old: number, p: number): void {
  const prev = mem[old + TASK.tasks_prev]!;
  const next = mem[old + TASK.tasks_next]!;
  mem[p + TASK.tasks_next] = next;
  mem[p + TASK.tasks_prev] = prev;
  mem[next + TASK.tasks_prev] = p;
  mem[prev + TASK.tasks_next] = p; // publish p for RCU walkers last
  mem[old + TASK.tasks_prev] = 0;
}

/** list_replace_init(&old->sibling, &p->sibling) in parent->children (de_thread; refused, and reported, when old is not on it). */
export function children_replace(parent: number, old: number, p: number): void {
  const bad = sibling_del_check(parent, old);
  if (bad) {
    sibling_list_corrupt(bad === LD_DEL_HEAD ? LD_REPLACE_HEAD : bad === LD_DEL_TAIL ? LD_REPLACE_TAIL : bad, parent, old, p);
    return;
  }
  const prev = mem[old + TASK.sibling_prev]!;
  const next = mem[old + TASK.sibling_next]!;
  mem[p + TASK.sibling_prev] = prev;
  mem[p + TASK.sibling_next] = next;
  if (prev) mem[prev + TASK.sibling_next] = p;
  else mem[parent + TASK.children] = p;
  if (next) mem[next + TASK.sibling_prev] = p;
  else mem[parent + TASK.children_last] = p;
  mem[old + TASK.sibling_prev] = 0;
  mem[old + TASK.sibling_next] = 0;
  sibling_hist_add(old, SH_REPLACE_OUT, parent);
  sibling_hist_add(p, SH_REPLACE_IN, parent);
}

/** list_del_rcu(&p->tasks): p keeps its next pointer for walkers standing on it (refused, and reported, when p is not on the list). */
export function tasks_del(p: number): void {
  const prev = mem[p + TASK.tasks_prev]!;
  const next = mem[p + TASK.tasks_next]!;
  if (!prev || !next || mem[prev + TASK.tasks_next] !== p || mem[next + TASK.tasks_prev] !== p) {
    sibling_list_corrupt(LD_TASKS_DEL, init_task(), p, 0);
    return;
  }
  mem[prev + TASK.tasks_next] = next;
  mem[next + TASK.tasks_prev] = prev;
  mem[p + TASK.tasks_prev] = 0;
}

// ---- wait queues --------------------------------------------------------------------------------

/**
 * __wake_up(wq, TASK_NORMAL, 0): wake every waiter, taking each off the queue first
 * (autoremove_wake_function), with the queue lock held as the kernel does. Allocates nothing.
 * Lock order: wq lock -> rq lock (try_to_wake_up enqueues); nothing takes them the other way.
 */
export function wake_up_all(wq: number, states = TASK_NORMAL): void {
  spin_lock(wq + WQ_LOCK);
  let x = mem[wq + WQ_FIRST]!;
  mem[wq + WQ_FIRST] = 0;
  mem[wq + WQ_LAST] = 0;
  while (x) {
    const next = mem[x + TASK.wq_next]!;
    mem[x + TASK.wq_next] = 0;
    mem[x + TASK.wq_head] = 0;
    try_to_wake_up(x, states);
    x = next;
  }
  spin_unlock(wq + WQ_LOCK);
}

/**
 * __wake_up_parent (kernel/exit.c): wake the parent group's do_wait sleepers. Every caller holds
 * tasklist_lock for write (exit_notify, reparent_leader, release_task, __ptrace_detach,
 * wait_task_zombie's EXIT_TRACE path), and do_wait queues itself BEFORE it takes tasklist_lock for
 * read to scan: a waiter not yet on the queue will scan after our write_unlock and see what we
 * did. That makes the lockless waitqueue_active() test safe here (not in general).
 */
export function __wake_up_parent(parent: number): void {
  const s = mem[parent + TASK.signal]!;
  // Count the event first (sequentially consistent, before the look at the queue): a do_wait that
  // scanned before it and queued itself since either sees the count move or is seen queued here.
  Atomics.add(mem, s + SIG.chld_events, 1);
  const wq = s + SIG.wait_chldexit;
  if (Atomics.load(mem, wq + WQ_FIRST) === 0) return;
  wake_up_all(wq, TASK_INTERRUPTIBLE);
}

// ---- misc ---------------------------------------------------------------------------------------

export const task_alive = (t: number): boolean => t !== 0 && Atomics.load(mem, t + TASK.poison) === POISON_LIVE;

/**
 * The stress operation mix: names, what each needs, and the per-operation result table layout.
 * Shared by the CPUs (src/stress/stress_syscalls.ts, which executes the operations) and the main side
 * (option parsing, stats, the verdict).
 */
import { STRESS_COUNTERS, STRESS_SLOT } from '../mm/layout.js';

export interface OpDef {
  readonly name: string;
  /** Needs the process model (fork/exit/wait ... from src/kernel): off for the torture-only mix. */
  readonly kernel: boolean;
  readonly doc: string;
  /**
   * Not in the default mix yet: `--mix wide` (or naming it) adds it. The issue-14 operations start
   * here until the plain run with them stays clean (see README "plain stress").
   */
  readonly wide?: boolean;
}

/** Index in this list = the op id (mix bit, result table row). At most 32. */
export const OPS: readonly OpDef[] = [
  { name: 'spin', kernel: false, doc: 'locktorture spinlock critical section' },
  { name: 'rw-read', kernel: false, doc: 'locktorture read_lock section (queued rwlock)' },
  { name: 'rw-write', kernel: false, doc: 'locktorture write_lock section' },
  { name: 'mutex', kernel: false, doc: 'locktorture mutex section (sleeps when contended)' },
  { name: 'rcu-read', kernel: false, doc: 'rcutorture reader (checks the poison of what it dereferences)' },
  { name: 'rcu-write', kernel: false, doc: 'rcutorture writer (publish, retire with call_rcu)' },
  { name: 'sync-rcu', kernel: false, doc: 'synchronize_rcu' },
  { name: 'sync-srcu', kernel: false, doc: 'synchronize_srcu(tasks_rcu_exit_srcu)' },
  { name: 'fork', kernel: true, doc: 'fork a child running the mix' },
  { name: 'clone-newpid', kernel: true, doc: 'clone(CLONE_NEWPID): the child is init of a new namespace' },
  { name: 'unshare', kernel: true, doc: 'unshare(CLONE_NEWPID): the next child is init of a new namespace' },
  { name: 'exit', kernel: true, doc: 'exit' },
  { name: 'wait', kernel: true, doc: 'wait4(-1) (blocking when there are children, else WNOHANG)' },
  { name: 'kill', kernel: true, doc: 'kill a random pid of the caller\'s namespace' },
  { name: 'setns-nsfd', kernel: true, doc: 'open /proc/PID/ns/pid_for_children of a task, setns(fd, CLONE_NEWPID)' },
  { name: 'setns-pidfd', kernel: true, doc: 'pidfd_open(pid), setns(pidfd, CLONE_NEWPID)' },
  { name: 'zap', kernel: true, doc: 'SIGKILL to a namespace init the caller created (zap_pid_ns_processes)' },
  { name: 'ns-last-pid', kernel: true, doc: 'read or write /proc/sys/kernel/ns_last_pid' },
  { name: 'last-pid-vec', kernel: true, doc: 'PIDNS_REQ_SET_LAST_PID_VEC ioctl on the namespace file' },
  { name: 'clone-with-pids', kernel: true, doc: 'clone_with_pids with a target pid set' },
  { name: 'set-tid', kernel: true, doc: 'clone3 with set_tid' },
  { name: 'reboot', kernel: true, doc: 'reboot(LINUX_REBOOT_CMD_RESTART) inside a child namespace (reboot_pid_ns)' },
  { name: 'stop-cont', kernel: true, doc: 'SIGSTOP to a random pid of the caller\'s namespace, then SIGCONT to it (job control: group stop, CLD_STOPPED/CLD_CONTINUED)' },
  { name: 'sigaction', kernel: true, doc: 'a disposition for SIGUSR1, SIGTERM or SIGCHLD: SIG_DFL, SIG_IGN or caught (SA_RESTART, SA_NOCLDSTOP, SA_NOCLDWAIT)' },
  { name: 'sigmask', kernel: true, doc: 'sigprocmask: block or unblock SIGUSR1, SIGTERM, SIGCHLD' },
  { name: 'clone-thread', kernel: true, wide: true, doc: 'clone(CLONE_THREAD|CLONE_SIGHAND|CLONE_VM): a thread running the mix (threads of namespace inits, leaders that exit first)' },
  { name: 'exit-group', kernel: true, wide: true, doc: 'exit_group: the whole thread group exits' },
  { name: 'ptrace', kernel: true, wide: true, doc: 'ptrace TRACEME, ATTACH or SEIZE of a random pid, or DETACH (tracees and tracers exit whenever they like)' },
  { name: 'clone-parent', kernel: true, wide: true, doc: 'clone(CLONE_PARENT): a sibling, child of the caller\'s parent' },
  { name: 'subreaper', kernel: true, wide: true, doc: 'prctl(PR_SET_CHILD_SUBREAPER, 1 or 0)' },
  { name: 'fasync', kernel: true, wide: true, doc: 'the run\'s O_ASYNC file: kill_fasync from task context, exit_mm\'s mm_update_next_owner (read_lock(tasklist_lock), interrupts on), or a device interrupt on a random CPU whose handler runs kill_fasync -> send_sigio' },
  { name: 'kprobe-opt', kernel: true, wide: true, doc: 'kprobe_optimizer (kprobe_mutex held across synchronize_rcu_tasks) or perf_kprobe_init (takes kprobe_mutex)' },
];

export const OP_IDS: Record<string, number> = Object.fromEntries(OPS.map((o, i) => [o.name, i]));
export const TORTURE_MIX = OPS.filter((o) => !o.kernel).map((o) => o.name);
export const KERNEL_MIX = OPS.filter((o) => o.kernel && !o.wide).map((o) => o.name);

export function mix_mask(names: readonly string[]): number {
  let m = 0;
  for (const n of names) {
    const i = OP_IDS[n];
    if (i === undefined) throw new RangeError(`unknown operation "${n}" (known: ${OPS.map((o) => o.name).join(', ')})`);
    m |= 1 << i;
  }
  return m;
}

export function mix_names(mask: number): string[] {
  return OPS.filter((_, i) => (mask & (1 << i)) !== 0).map((o) => o.name);
}

/** Result table: per op, RES_BUCKETS counters: [0] successes, [e] errno e (capped), [RES_SKIPPED] skipped. */
export const RES_BUCKETS = 64;
export const RES_SKIPPED = 63;
export const RES_TABLE_WORDS = 32 * RES_BUCKETS;
/** The run's O_ASYNC file (struct fasync_struct) lives this many words after the result table (src/stress/run.ts). */
export const STRESS_FASYNC_AT = RES_TABLE_WORDS + STRESS_COUNTERS.SIZE;

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

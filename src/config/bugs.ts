/**
 * Bug switches: each documented kernel bug keeps its buggy code path behind one bit of
 * G.bug_switches, as a kernel config option would. 0 everywhere is today's kernel.
 * The catalog (src/scenarios/catalog.ts) names the upstream commits.
 */
/** Readers in interrupt context queue behind a waiting writer (no qrwlock irq-reader rule). */
export const BUG_QRWLOCK_IRQ_FAIR = 1 << 0;
/** zap_pid_ns_processes sleeps holding tasks_rcu_exit_srcu (before 28319d6dc5e2). */
export const BUG_ZAP_HOLDS_SRCU = 1 << 1;
/** rcu-tasks waits for exiting tasks through tasks_rcu_exit_srcu (before 1612160b9127). */
export const BUG_RCU_TASKS_EXIT_SRCU = 1 << 2;
/** copy_process does not re-check PIDNS_ADDING under the locks (before the setns+fork fix). */
export const BUG_SETNS_FORK_NO_RECHECK = 1 << 3;
/** zap_pid_ns_processes waits for pid_allocated == 1 even in a non-leader thread (before 751c644b95bb). */
export const BUG_ZAP_INIT_PIDS_ONE = 1 << 4;
/** zap_pid_ns_processes does not wait after kernel_wait4's -ECHILD at all (before 6347e9009104). */
export const BUG_ZAP_NO_PID_WAIT = 1 << 5;
/**
 * zap_pid_ns_processes waits for its children list to empty, woken by __unhash_process (the design
 * of 6347e9009104, v3.5's kernel/pid_namespace.c and exit.c), not for the pid count (today's).
 */
export const BUG_ZAP_WAIT_CHILDREN = 1 << 9;
/** alloc_pid does not put_pid_ns(ns) when PIDNS_ADDING is cleared (before 24c037ebf572). */
export const BUG_ALLOC_PID_NS_LEAK = 1 << 10;
/** zap_pid_ns_processes clears TIF_SIGPENDING but not TIF_NOTIFY_SIGNAL in its kernel_wait4 loop (before 7fea700e04bd). */
export const BUG_ZAP_KEEPS_NOTIFY_SIGNAL = 1 << 11;
/** find_child_reaper leaves ->child_reaper on the exiting init group leader (before 950bbabb5a80). */
export const BUG_CHILD_REAPER_NOT_MOVED = 1 << 12;
/** copy_process(CLONE_PARENT) copies current->group_leader->exit_signal before taking tasklist_lock (before b4e00444cab4, CVE-2020-35508). */
export const BUG_CLONE_PARENT_EXIT_SIGNAL = 1 << 13;
/** Catalog 13 (b191d6491be6): exit_notify sets exit_state only after do_notify_parent's do_notify_pidfd woke the pidfd pollers. */
export const BUG_PIDFD_POLL_EXIT_STATE = 1 << 14;
/** Catalog 14 (before abd50b39e783 / 50b8d257486a): a tracer reaping a traced zombie it did not fork marks it EXIT_DEAD, then turns it back into EXIT_ZOMBIE for the real parent. */
export const BUG_WAIT_DEAD_TO_ZOMBIE = 1 << 15;
/** Catalog 15 (before 0347e1773909): ptrace_reparented() compares ->parent with ->real_parent, so a tracer thread of the real parent's own group counts as a foreign tracer. */
export const BUG_PTRACE_REPARENTED_NAIVE = 1 << 21;
/** Catalog 18 (before 3245d6acab98): wait_consider_task reloads p->exit_state for each check, so a zombie another thread reaps between them clears ->notask_error and do_wait sleeps for a child that is gone. */
export const BUG_WAIT_CONSIDER_RELOAD = 1 << 24;
/** Catalog 19 (before 0711f0d7050b): kernel_init_freeable sets cad_pid = task_pid(current) without get_pid, so proc_do_cad_pid's put_pid of the old cad_pid drops a reference init's struct pid never had. */
export const BUG_CAD_PID_NO_REF = 1 << 25;
/** Catalog 20 (before 51bee5abeab2): the pids controller uncharges a task in pids_free (__put_task_struct -> cgroup_free), an RCU grace period after release_task, not in pids_release (release_task -> cgroup_release). */
export const BUG_PIDS_FREE_AFTER_GP = 1 << 26;
/**
 * Catalog 16 (before a2a8474c3fff, "exec: do not sleep in TASK_TRACED under ->cred_guard_mutex"):
 * execve keeps signal->cred_guard_mutex to its end, across the PTRACE_EVENT_EXEC stop.
 */
export const BUG_EXEC_TRACED_CRED_GUARD = 1 << 22;
/** Catalog 21 (before 7c733eb3eac0): wait_consider_task returns at once for a zombie ptracee seen by its real parent, before the delay_group_leader test, so WSTOPPED/WCONTINUED never see a process whose zombie leader is traced by another task. */
export const BUG_WAIT_ZOMBIE_LEADER_TRACED = 1 << 27;
/**
 * Catalog 17 (known open), a proposal, not a bug: Oleg Nesterov's RFC "exec: don't wait for zombie
 * threads with cred_guard_mutex held" (2025-11-09, not merged). de_thread waits only until the
 * other threads passed exit_notify (notify_count counts up to 0 there); setup_new_exec drops
 * cred_guard_mutex and then waits for them to be reaped (__exit_signal counts down). 0 (today's
 * kernel) waits for the reaping with the mutex held.
 */
export const PROPOSAL_EXEC_REAP_UNLOCKED = 1 << 23;
/**
 * Catalog 22 (found by pidrace; no upstream report found), a proposal, not a bug: proc_do_cad_pid
 * reads cad_pid in an RCU read section (rcu_dereference) and a write waits for a grace period
 * (synchronize_rcu) between its xchg and the put_pid of the old pid. 0 (today's kernel): the read
 * is `pid_vnr(cad_pid)` with no RCU and no reference, and a concurrent write's put_pid can free
 * the pid under it.
 */
export const PROPOSAL_CAD_PID_SYNC_RCU = 1 << 28;
/** exit_notify keeps EXIT_DEAD tracees on a local list across zap (before 8fb335e07837). */
export const BUG_PTRACE_DEAD_LIST = 1 << 6;
/** struct pid_namespace freed at its last put, without a grace period (before 1adfcb03e31b). */
export const BUG_FREE_WITHOUT_GP = 1 << 7;
/** Planted for tests: reparenting without tasklist_lock held for write. */
export const BUG_PLANT_REPARENT_NO_LOCK = 1 << 8;
/**
 * Planted for the guard checks (--check-guards), one per class of locking mistake the plain run
 * misses: reparenting under tasklist_lock held for read (the kernel holds it for write); the last
 * task reference freed at once, without call_rcu (delayed_put_task_struct); kill(pid) looking the
 * pid and its task up outside rcu_read_lock; setns(pidfd) reading the target's nsproxy without
 * task_lock.
 */
export const BUG_PLANT_REPARENT_READ_LOCK = 1 << 16;
export const BUG_PLANT_TASK_FREE_NO_GP = 1 << 17;
export const BUG_PLANT_KILL_NO_RCU = 1 << 18;
export const BUG_PLANT_NSPROXY_NO_TASK_LOCK = 1 << 19;
/** kill_fasync takes fa->fa_lock as a spinlock, also from interrupt context (before 7a107c0f55a3). */
export const BUG_FASYNC_SPINLOCK = 1 << 20;

export const BUG_NAMES: Record<string, number> = {
  qrwlock_irq_fair: BUG_QRWLOCK_IRQ_FAIR,
  zap_holds_srcu: BUG_ZAP_HOLDS_SRCU,
  rcu_tasks_exit_srcu: BUG_RCU_TASKS_EXIT_SRCU,
  setns_fork_no_recheck: BUG_SETNS_FORK_NO_RECHECK,
  zap_init_pids_one: BUG_ZAP_INIT_PIDS_ONE,
  zap_no_pid_wait: BUG_ZAP_NO_PID_WAIT,
  zap_wait_children: BUG_ZAP_WAIT_CHILDREN,
  alloc_pid_ns_leak: BUG_ALLOC_PID_NS_LEAK,
  zap_keeps_notify_signal: BUG_ZAP_KEEPS_NOTIFY_SIGNAL,
  child_reaper_not_moved: BUG_CHILD_REAPER_NOT_MOVED,
  clone_parent_exit_signal: BUG_CLONE_PARENT_EXIT_SIGNAL,
  pidfd_poll_exit_state: BUG_PIDFD_POLL_EXIT_STATE,
  wait_dead_to_zombie: BUG_WAIT_DEAD_TO_ZOMBIE,
  ptrace_reparented_naive: BUG_PTRACE_REPARENTED_NAIVE,
  wait_consider_reload: BUG_WAIT_CONSIDER_RELOAD,
  cad_pid_no_ref: BUG_CAD_PID_NO_REF,
  pids_free_after_gp: BUG_PIDS_FREE_AFTER_GP,
  exec_traced_cred_guard: BUG_EXEC_TRACED_CRED_GUARD,
  wait_zombie_leader_traced: BUG_WAIT_ZOMBIE_LEADER_TRACED,
  exec_reap_unlocked: PROPOSAL_EXEC_REAP_UNLOCKED,
  cad_pid_sync_rcu: PROPOSAL_CAD_PID_SYNC_RCU,
  ptrace_dead_list: BUG_PTRACE_DEAD_LIST,
  free_without_gp: BUG_FREE_WITHOUT_GP,
  plant_reparent_no_lock: BUG_PLANT_REPARENT_NO_LOCK,
  plant_reparent_read_lock: BUG_PLANT_REPARENT_READ_LOCK,
  plant_task_free_no_gp: BUG_PLANT_TASK_FREE_NO_GP,
  plant_kill_no_rcu: BUG_PLANT_KILL_NO_RCU,
  plant_nsproxy_no_task_lock: BUG_PLANT_NSPROXY_NO_TASK_LOCK,
  fasync_spinlock: BUG_FASYNC_SPINLOCK,
};

/**
 * System-call numbers of the model (the instruction opcodes of user programs). One table so that
 * programs written by the stress mixes, scenarios and the API agree with the kernel. Numbers are
 * the model's own, not the x86-64 ABI's.
 */
// Process lifecycle (fork.ts, exit.ts, signal.ts)
export const SYS_FORK = 16; // (flags, prog, arg) -> child pid in caller's ns. a = clone flags (CLONE_*)
export const SYS_CLONE3 = 17; // (args address in program region, size, prog) set_tid etc.
export const SYS_EXIT = 18; // (code)
export const SYS_EXIT_GROUP = 19; // (code)
export const SYS_WAIT4 = 20; // (pid, options) -> reaped pid; status in TASK.last_status
export const SYS_WAITID = 39; // (idtype P_*, id, options) -> 0; siginfo in TASK.wait_si_*
export const SYS_KILL = 21; // (pid, sig)
export const SYS_UNSHARE = 22; // (flags)
export const SYS_GETPID = 23; // () -> tgid in own ns
export const SYS_GETPPID = 24;
export const SYS_PTRACE = 25; // (request, pid)
export const SYS_PRCTL = 26; // (option, arg) PR_SET_CHILD_SUBREAPER
export const SYS_SET_SIGCHLD_IGN = 27; // (on) sigaction(SIGCHLD, SIG_IGN)
export const SYS_REBOOT = 28; // (cmd)
export const SYS_SYNCHRONIZE_RCU_TASKS = 29; // ()
export const SYS_PAUSE = 30;
export const SYS_SETUID = 31; // (uid) drop to an unprivileged uid (and capabilities)
export const SYS_CAPSET = 32; // (caps) set effective capabilities
export const SYS_RT_SIGACTION = 34; // (sig, handler SIG_DFL/SIG_IGN/SIG_CAUGHT, sa_flags)
export const SYS_RT_SIGPROCMASK = 35; // (how, set) -> old mask
export const SYS_SIG_CAUGHT = 36; // () -> signals whose handler ran since the last call (cleared)
export const SYS_SETSID = 37; // () -> new session id
export const SYS_GETTID = 38; // () -> pid (thread id) in own ns
export const SYS_SCHED_YIELD = 62; // () -> 0: the caller goes to the back of its CPU's runqueue (src/kernel/sched_syscalls.ts)
export const SYS_EXECVE = 60; // (prog) replace the program (exec.ts): de_thread, cred_guard_mutex, PTRACE_EVENT_EXEC
export const SYS_ALARM = 97; // (cpu or -1): arm ITIMER_REAL; its timer interrupt fires on that CPU (itimer.ts)
// Pid namespaces and checkpoint/restore (pid.ts, pid_namespace.ts)
export const SYS_CLONE_WITH_PIDS = 40; // (flags, target pid set address, prog) seed 002
export const SYS_NS_LAST_PID_READ = 41; // () -> value
export const SYS_NS_LAST_PID_WRITE = 42; // (value)
export const SYS_PIDNS_IOCTL_SET_LAST_PID_VEC = 43; // (fd, string address, length)
export const SYS_PIDNS_GET_PARENT = 44; // (fd) NS_GET_PARENT ioctl -> new fd
export const SYS_PID_MAX_READ = 45; // () -> pid_max of the caller's active pid namespace
export const SYS_PID_MAX_WRITE = 46; // (value) /proc/sys/kernel/pid_max
// Other files (nsfs.ts)
export const SYS_MEMFD_CREATE = 47; // () -> fd of an anonymous file (no namespace, no pid)
export const SYS_FSTAT = 48; // (fd) -> 0; st_ino / st_dev in TASK.stat_ino / TASK.stat_dev
// Namespaces, nsfs and pidfds (nsproxy.ts, nsfs.ts, pidfd.ts, user_namespace.ts)
export const SYS_SETNS = 50; // (fd, nstype flags)
export const SYS_PIDFD_OPEN = 51; // (pid, flags) -> fd
export const SYS_PIDFD_SEND_SIGNAL = 58; // (pidfd, sig, flags)
export const SYS_POLL_PIDFD = 59; // (pidfd) poll(2) on one pidfd for POLLIN, no timeout -> revents
export const SYS_OPEN_NS = 52; // (pid, ns kind NSK_*) -> fd  (open /proc/PID/ns/KIND)
export const SYS_CLOSE = 53; // (fd)
export const SYS_UNSHARE_USER = 54; // () CLONE_NEWUSER
export const SYS_UID_MAP_WRITE = 55; // (first, lower, count) one extent to /proc/self/uid_map
export const SYS_GID_MAP_WRITE = 56; // (first, lower, count) /proc/self/gid_map
export const SYS_SETGROUPS_WRITE = 57; // (allow) "allow" / "deny" to /proc/self/setgroups
// Torture (torture.ts) uses 100..119. Stress helpers use 120..159.
// Catalog scenarios (src/kernel/fasync.ts, src/kernel/kprobes.ts; src/scenarios) use 160..199.
export const SYS_KILL_FASYNC = 160; // (fasync address, sig, band): kill_fasync from task context
export const SYS_MM_UPDATE_NEXT_OWNER = 161; // (): exit_mm's mm_update_next_owner walk under read_lock(tasklist_lock)
export const SYS_RAISE_IRQ = 162; // (cpu or -1 for this CPU, vector, arg): a device raises an interrupt
export const SYS_KPROBE_OPTIMIZER = 163; // (): kprobe_optimizer: kprobe_mutex held across synchronize_rcu_tasks
export const SYS_PERF_KPROBE_INIT = 164; // (): perf_kprobe_init: takes kprobe_mutex
export const SYS_ASSERT_WAIT_ECHILD = 175; // (nr): user-space check after wait4(nr) for a child already reaped: ECHILD, not nr again
export const SYS_ASSERT_WAIT_NOT_ECHILD = 174; // (nr): user-space check after wait4(nr): not ECHILD while nr is still the caller's child
export const SYS_ASSERT_NOT_KILLED_BY = 173; // (sig): user-space check after wait4: the child was not killed by sig
export const SYS_PIDNS_ASSERT_EMPTY = 165; // (): user-space check: pid_ns_for_children has no pids left
export const SYS_MOUNT_PROC = 166; // (): mount -t proc proc /proc (the caller's active pid namespace)
export const SYS_UMOUNT_PROC = 167; // (): umount -l /proc (the last mntput kills the superblock)
export const SYS_PROC_LOOKUP = 168; // (nr): RCU path walk of /proc/NR: proc_pid_permission + proc_pid_lookup
export const SYS_TASK_WORK_ADD = 169; // (nr): io_uring-style task_work_add(task of pid nr, TWA_SIGNAL)
export const SYS_CAD_PID_READ = 185; // () -> pid_vnr(cad_pid): read /proc/sys/kernel/cad_pid
export const SYS_CAD_PID_WRITE = 186; // (nr): write /proc/sys/kernel/cad_pid (proc_do_cad_pid)
export const SYS_PIDS_MAX_WRITE = 187; // (cgroup index, limit or -1 for "max"): write pids.max (src/kernel/cgroup_pids.ts)
export const SYS_PIDS_CURRENT_READ = 188; // (cgroup index) -> pids.current
export const SYS_CGROUP_ATTACH = 189; // (cgroup index): write the caller's tid to the cgroup's tasks file
export const SYS_PROC_NS_READLINK = 197; // (nr, NSK_* kind): readlink /proc/NR/ns/KIND (NR 0: /proc/self/ns/KIND) as an RCU-mode path walk (src/kernel/proc_root.ts) -> the length of "KIND:[inum]"
export const SYS_MEMBARRIER = 170; // (cmd): membarrier(MEMBARRIER_CMD_GLOBAL): synchronize_rcu
export const SYS_CGROUP_PROCS_WRITE = 198; // (cgroup index, pid): write a pid to the cgroup's cgroup.procs: its whole thread group moves (src/kernel/cgroup_pids.ts)

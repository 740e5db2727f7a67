// SPDX-License-Identifier: GPL-2.0-only
//
// pidns_driver.c - conformance oracle for the pidrace pid-namespace model.
//
// Runs a scripted sequence of operations on the REAL kernel inside a fresh
// pid-namespace tree and prints one JSON object per line (NDJSON) per op.
// The same script is run on the TypeScript model (src/conformance/), so the
// script grammar below is a contract; src/conformance/script.ts mirrors it.
//
// Build:  cc -O2 -pthread -o pidns_driver pidns_driver.c      (needs root to run)
// Usage:  pidns_driver [--timeout SEC] < script      run a script from stdin
//         pidns_driver --selftest                     built-in script + checks
//
// ---------------------------------------------------------------------------
// SCRIPT GRAMMAR (one op per line, tokens separated by blanks)
//
//   A line whose first non-blank character is '#' is a comment.  Inside a
//   line, a token starting with '#' followed by a digit or '-' is a RAW pid
//   ("#123", "#-1", "#0"); any other '#' starts a comment to end of line.
//
//   T, C     task handles, integers 0..255.  Handle 0 exists from the start:
//            the driver does unshare(CLONE_NEWPID)+fork, so task 0 is pid 1
//            ("init") of a fresh pid namespace, level L0 of the tree.
//   TARGET   a task handle (0..255)  -> that task's pid AS T SEES IT
//            "-1"                    -> the raw number -1
//            "#N"                    -> the raw number N (may be <= 0)
//            If a handle's task is not visible in T's pid namespace, the
//            syscall is NOT issued and the result has "visible":false.
//   F        fd handle, integer 0..255 (global; the driver keeps a copy of
//            every fd opened by openns/pidfd and hands it to the task that
//            uses it, so a fd opened by one task may be used by another).
//   SIG      number or name: 9, KILL, SIGKILL, 0 ...
//   NSFLAGS  "0" or a '|' list of: newpid newuser newns(=newmnt) newnet
//            newuts newipc newcgroup newtime
//
//   fork T C [newpid]            T forks (fork(); with newpid: clone3 with
//                                CLONE_NEWPID); the child is handle C.
//   clone3 T C TIDS [newpid]     clone3 with set_tid; TIDS is a comma list
//                                "tid0,tid1,..." (tid0 = innermost level, as
//                                the kernel defines set_tid) or "-" for none.
//   clone3 T C TIDS [newpid] pidfd F
//                                the same with CLONE_PIDFD: the pidfd the kernel
//                                wrote to args->pidfd goes to fd handle F.
//   unshare T NSFLAGS            unshare(); with newuser the task then writes
//                                setgroups=deny, uid_map "0 0 1",
//                                gid_map "0 0 1" for itself; the errno of
//                                each write is reported in "maps".
//   dropcaps T                   capset(): clear effective/permitted/
//                                inheritable, clear ambient.
//   exit T CODE                  T calls _exit(CODE).
//   wait T TARGET [wnohang] [wall] [wclone] [wnothread] [wuntraced]
//                 [wcontinued]   wait4(); blocking waits are bounded to
//                                2 s (SIGALRM), then "timeout":true.
//   kill T TARGET SIG            kill(pid as T sees it, SIG).
//   openns T TARGET KIND F       T opens <T's /proc>/<pid>/ns/KIND, KIND in
//                                pid pid_for_children user mnt net uts ipc
//                                cgroup time time_for_children.
//   pidfd T TARGET F             pidfd_open(pid as T sees it, 0).
//   setns T F NSFLAGS            setns(fd F, flags).
//   pidfd_kill T F SIG [thread|pgroup]
//   waitid T F [exited] [stopped] [continued] [nowait]   waitid(P_PIDFD, F, WNOHANG | ...)
//   memfd T F                    memfd_create("pidrace", MFD_CLOEXEC) as T into fd handle F.
//   samefile F1 F2               fstat both fd handles (in the driver): "same" is
//                                st_dev == st_dev && st_ino == st_ino. Only the
//                                relation is printed: raw st_dev/st_ino differ
//                                between machines (and from the model's).
//                                pidfd_send_signal(fd F, SIG, NULL, 0 or
//                                PIDFD_SIGNAL_THREAD / _PROCESS_GROUP); "died"
//                                and "hung" as for kill.
//   close F                      the driver drops fd handle F.
//   lastpid_read T               read  ns_last_pid as T (ret = value).
//   lastpid_write T VALUE        write ns_last_pid as T (ret = 0).
//   pidmax_read T                read  <T's /proc>/sys/kernel/pid_max (ret =
//                                value): the pid_max of T's active pid ns.
//   pidmax_write T VALUE         write it (ret = 0); EACCES when T may only
//                                read it, EINVAL outside 301..4194304.
//   sigaction T SIG dfl|ign|catch [restart] [nocldstop] [nocldwait]
//                                sigaction(SIG): SIG_DFL, SIG_IGN, or a handler
//                                that only records the delivery; sa_flags
//                                SA_RESTART, SA_NOCLDSTOP, SA_NOCLDWAIT.
//                                SIGALRM is the driver's (parse error).
//   sigmask T block|unblock|setmask SIGS
//                                sigprocmask(); SIGS: comma list of signals
//                                (names or numbers 1..31, not ALRM) or "-".
//   idmap T uid|gid FIRST LOWER COUNT
//                                write "FIRST LOWER COUNT" to /proc/self/uid_map
//                                or gid_map of T (ret 0, or the errno).
//   setgroups T allow|deny       write /proc/self/setgroups of T.
//   caught T                     the signals whose handler ran in T since the
//                                last "caught" (then forgotten): "caught":
//                                [sorted numbers].  A child starts with none.
//   getpid T                     getpid() in T; also T's NSpid.
//   getppid T                    getppid() in T, mapped to a handle.
//   nspid T TARGET               NSpid line of <T's /proc>/<pid>/status.
//   reboot T CMD                 reboot(); CMD in restart restart2 halt
//                                poweroff cad_on cad_off.  In a non-initial
//                                pid ns this kills that ns's init and T.
//   state                        (no task) every handle's state and parent.
//   sleep MS                     driver sleeps MS ms (0..5000).
//
// "T's /proc" is a proc instance for T's active pid namespace (fsopen("proc")
// + fsconfig "pidns" + fsmount, created by the driver and passed to T), so
// NSpid/ns paths are exactly what T would see in its own /proc.
//
// ---------------------------------------------------------------------------
// OUTPUT (one JSON object per line, flushed after every op)
//
//   common   "i": op index (0-based, counting op lines only), "op", "t"
//            (acting handle, absent for state/sleep/close), "ret" (number, or
//            null when the syscall did not return / was not issued),
//            "errno": null or a NAME ("EPERM","EINVAL","ESRCH","ECHILD",...).
//            "error": "..." only for driver-level problems (dead handle,
//            unresponsive task, parse error); then ret/errno are null.
//   fork/clone3  "c", "nspid": C's pids from L0 down ([pid at L0, ..., pid in
//                C's own ns]), "level" (C's level relative to L0).
//   wait     "pid" (pid passed), "who": handle whose state was reported
//            |null, "reaped": handle if it was reaped (exited/signaled)|null,
//            "status": {"exited":N} | {"signaled":N,"core":bool} |
//            {"stopped":N} | {"continued":true} | null, "timeout": bool (a
//            blocking wait still waiting after 2 s; then ret/errno null).
//   kill     "pid", "sig", "died", "hung"; "killed_self":true (ret null)
//            when T signalled itself fatally and never returned.
//   exit     "code", ret/errno null, "died", "hung".
//   reboot   "cmd", "returned" (false: T was killed inside reboot()),
//            "died", "hung".
//            "died": sorted handles that died during the op (zombie or
//            already reaped); "hung": handles whose exit did not finish
//            within 2 s, e.g. an init waiting in zap_pid_ns_processes for a
//            zombie whose parent lives outside its namespace.
//   any op with a handle TARGET not visible to T: "target", ret/errno null,
//            "visible": false (nothing was executed).
//   unshare  "flags"; with newuser also "maps": {"setgroups","uid_map",
//            "gid_map"} each null or the errno of that write.
//   openns/pidfd "pid", "f".  setns "f","flags".
//   nspid    "pid", "nspid": [...] (as T sees it, from T's /proc).
//   getpid   "ret", "nspid" (L0-relative chain), "view" (T's own NSpid).
//   getppid  "ret", "parent": handle|null.
//   state    "tasks": [{"h","state":"alive|zombie|stopped|reaped|dead",
//            "ppid": handle|null, "nspid": [...]}...]
//   last line: {"done":true}
//
// Bounds: every reply is awaited with poll() (5 s, wait ops 2 s + slack);
// --timeout (default 120 s) bounds the whole run.  At the end the driver
// SIGKILLs task 0 (zapping the whole tree) and reaps it; task 0 also has
// PR_SET_PDEATHSIG=SIGKILL and every task exits on EOF of its command channel.
// Task 0 calls setsid() so kill(0,...) inside the tree cannot reach the driver.
// ---------------------------------------------------------------------------
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/nsfs.h>
#include <linux/reboot.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXT 256
#define MAXF 256
#define MAXLV 40
#define MAXOPS 4096
#define RPC_MS 5000
#define WAIT_MS 2000
#define SETTLE_MS 2000

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef PROC_PID_INIT_INO
#define PROC_PID_INIT_INO 0xEFFFFFFCU
#endif

// ------------------------------------------------------------------ messages
enum {
	C_PING = 1, C_SETPROC, C_FORK, C_CLONE3, C_UNSHARE, C_DROPCAPS, C_EXIT,
	C_WAIT, C_KILL, C_OPENNS, C_PIDFD, C_SETNS, C_LPREAD, C_LPWRITE,
	C_GETPID, C_GETPPID, C_NSPID, C_REBOOT, C_PMREAD, C_PMWRITE, C_SIGACTION,
	C_SIGMASK, C_CAUGHT, C_IDMAP, C_SETGROUPS, C_PIDFDKILL, C_WAITID, C_MEMFD,
};
enum { R_NORMAL = 0, R_HELLO = 1, R_PRE = 2 };

struct cmd {
	uint32_t seq;
	int32_t op;
	int64_t a[4];
	int32_t ntid;
	int32_t tids[MAXLV];
	char s[64];
};
struct rep {
	uint32_t seq;
	int32_t kind;
	int64_t ret;
	int32_t err;
	int64_t x[4];
	char s[512];
};

struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
		stack_size, tls, set_tid, set_tid_size, cgroup;
};

static int send_msg(int fd, const void *buf, size_t len, int passfd)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (passfd >= 0) {
		memset(&u, 0, sizeof u);
		mh.msg_control = u.b;
		mh.msg_controllen = sizeof u.b;
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	ssize_t n;
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

// returns bytes, 0 on EOF, -1 on error; *gotfd = received fd or -1
static ssize_t recv_msg(int fd, void *buf, size_t len, int *gotfd)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.b, .msg_controllen = sizeof u.b };
	ssize_t n;
	if (gotfd)
		*gotfd = -1;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[4];
			memcpy(fds, CMSG_DATA(c), nfd * sizeof(int));
			for (int k = 0; k < nfd; k++) {
				if (gotfd && *gotfd < 0)
					*gotfd = fds[k];
				else
					close(fds[k]);
			}
		}
	}
	return n;
}

static const char *errname(int e)
{
	if (e == 0)
		return NULL;
	const char *s = strerrorname_np(e);
	return s ? s : "EUNKNOWN";
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

// Parse an "NSpid:" line out of a status/fdinfo text; returns count.
static int parse_nspid(const char *text, int *out, int max)
{
	const char *p = strstr(text, "NSpid:");
	if (!p)
		return -1;
	p += 6;
	int n = 0;
	while (*p && *p != '\n' && n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || !*p)
			break;
		out[n++] = (int)strtol(p, (char **)&p, 10);
	}
	return n;
}

static ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = 0;
	return n;
}

// ===================================================================== TASK
// A task is a real process that executes commands from the driver.

static int t_chan = -1;   // command channel (SOCK_SEQPACKET)
static int t_procfd = -1; // detached proc mount for our active pid ns
static volatile sig_atomic_t t_alarm;

static void t_on_alarm(int sig)
{
	(void)sig;
	t_alarm = 1;
}

// Signals whose (script-installed) handler ran: bit sig-1.
static volatile uint64_t t_caught;

static void t_on_sig(int sig)
{
	__atomic_or_fetch(&t_caught, 1ULL << (sig - 1), __ATOMIC_SEQ_CST);
}

static void t_reply(uint32_t seq, int kind, int64_t ret, int err, int passfd, struct rep *r)
{
	struct rep z;
	if (!r) {
		memset(&z, 0, sizeof z);
		r = &z;
	}
	r->seq = seq;
	r->kind = kind;
	r->ret = ret;
	r->err = err;
	send_msg(t_chan, r, sizeof *r, passfd);
}

static void t_hello(void)
{
	int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	struct rep r;
	memset(&r, 0, sizeof r);
	r.x[0] = getpid();
	t_reply(0, R_HELLO, getpid(), pfd < 0 ? errno : 0, pfd, &r);
	if (pfd >= 0)
		close(pfd);
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	ssize_t n = write(fd, s, strlen(s));
	int e = n < 0 ? errno : 0;
	close(fd);
	return e;
}

static const char *t_procpath(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return buf;
}

static int t_dirfd(void)
{
	return t_procfd >= 0 ? t_procfd : AT_FDCWD;
}

// Fork-like creation; returns in both parent (pid) and child (0). With
// c->a[1] (clone3 only), CLONE_PIDFD: *pidfd gets the parent's pidfd.
static pid_t t_create(const struct cmd *c, int *pidfd)
{
	int newpid = (int)c->a[0];
	*pidfd = -1;
	if (c->op == C_FORK && !newpid)
		return fork();
	struct clone_args_v2 ca;
	pid_t tids[MAXLV];
	memset(&ca, 0, sizeof ca);
	ca.flags = newpid ? CLONE_NEWPID : 0;
	ca.exit_signal = SIGCHLD;
	if (c->op == C_CLONE3 && c->a[1]) {
		ca.flags |= CLONE_PIDFD;
		ca.pidfd = (uint64_t)(uintptr_t)pidfd;
	}
	if (c->op == C_CLONE3 && c->ntid > 0) {
		for (int k = 0; k < c->ntid; k++)
			tids[k] = c->tids[k];
		ca.set_tid = (uint64_t)(uintptr_t)tids;
		ca.set_tid_size = (uint64_t)c->ntid;
	}
	return (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
}

static void task_loop(void) __attribute__((noreturn));
static void task_loop(void)
{
	for (;;) {
		struct cmd c;
		int fd = -1;
		ssize_t n = recv_msg(t_chan, &c, sizeof c, &fd);
		if (n <= 0)
			_exit(0); // driver gone
		if (n != sizeof c) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		struct rep r;
		memset(&r, 0, sizeof r);
		int64_t ret = 0;
		int err = 0;
		char path[256];
		switch (c.op) {
		case C_PING:
			break;
		case C_SETPROC:
			if (t_procfd >= 0)
				close(t_procfd);
			t_procfd = fd;
			fd = -1;
			break;
		case C_FORK:
		case C_CLONE3: {
			int newchan = fd;
			fd = -1;
			int pidfd;
			pid_t p = t_create(&c, &pidfd);
			if (p == 0) {
				// copy_process installs the pidfd in the parent's table only
				t_caught = 0; // the record is the parent's, not the child's
				close(t_chan);
				t_chan = newchan;
				t_hello();
				continue;
			}
			if (newchan >= 0)
				close(newchan);
			ret = p;
			err = p < 0 ? errno : 0;
			if (pidfd >= 0) {
				t_reply(c.seq, R_NORMAL, ret, err, pidfd, &r);
				close(pidfd);
				continue;
			}
			break;
		}
		case C_UNSHARE:
			ret = unshare((int)c.a[0]);
			err = ret < 0 ? errno : 0;
			if (ret == 0 && (c.a[0] & CLONE_NEWUSER)) {
				r.x[0] = write_str("/proc/self/setgroups", "deny");
				r.x[1] = write_str("/proc/self/uid_map", "0 0 1");
				r.x[2] = write_str("/proc/self/gid_map", "0 0 1");
			}
			break;
		case C_DROPCAPS: {
			struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
			struct __user_cap_data_struct d[2];
			memset(d, 0, sizeof d);
			ret = syscall(SYS_capset, &h, d);
			err = ret < 0 ? errno : 0;
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
			break;
		}
		case C_EXIT:
			t_reply(c.seq, R_PRE, 0, 0, -1, NULL);
			_exit((int)c.a[0]);
		case C_WAIT: {
			int st = 0;
			struct sigaction sa, old;
			memset(&sa, 0, sizeof sa);
			sa.sa_handler = t_on_alarm; // no SA_RESTART: wait4 gets EINTR
			sigaction(SIGALRM, &sa, &old);
			t_alarm = 0;
			struct itimerval it = { .it_value = { .tv_sec = c.a[2] / 1000, .tv_usec = (c.a[2] % 1000) * 1000 } };
			if (!(c.a[1] & WNOHANG))
				setitimer(ITIMER_REAL, &it, NULL);
			ret = wait4((pid_t)c.a[0], &st, (int)c.a[1], NULL);
			err = ret < 0 ? errno : 0;
			struct itimerval zero = { { 0, 0 }, { 0, 0 } };
			setitimer(ITIMER_REAL, &zero, NULL);
			sigaction(SIGALRM, &old, NULL);
			r.x[0] = st;
			r.x[1] = (ret < 0 && err == EINTR && t_alarm) ? 1 : 0;
			break;
		}
		case C_KILL:
			ret = kill((pid_t)c.a[0], (int)c.a[1]);
			err = ret < 0 ? errno : 0;
			break;
		case C_SIGACTION: {
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_handler = c.a[1] == 0 ? SIG_DFL : c.a[1] == 1 ? SIG_IGN : t_on_sig;
			sa.sa_flags = (int)c.a[2];
			ret = sigaction((int)c.a[0], &sa, NULL);
			err = ret < 0 ? errno : 0;
			break;
		}
		case C_SIGMASK: {
			sigset_t set;
			sigemptyset(&set);
			for (int k = 1; k <= 31; k++)
				if (c.a[1] & (1L << (k - 1)))
					sigaddset(&set, k);
			ret = sigprocmask((int)c.a[0], &set, NULL);
			err = ret < 0 ? errno : 0;
			break;
		}
		case C_CAUGHT:
			r.x[0] = (int64_t)__atomic_exchange_n(&t_caught, 0, __ATOMIC_SEQ_CST);
			break;
		case C_IDMAP: {
			char b[96];
			snprintf(b, sizeof b, "%ld %ld %ld", (long)c.a[1], (long)c.a[2], (long)c.a[3]);
			err = write_str(c.a[0] ? "/proc/self/gid_map" : "/proc/self/uid_map", b);
			ret = err ? -1 : 0;
			break;
		}
		case C_SETGROUPS:
			err = write_str("/proc/self/setgroups", c.a[0] ? "allow" : "deny");
			ret = err ? -1 : 0;
			break;
		case C_OPENNS: {
			int nfd = -1;
			if (t_procfd < 0)
				errno = ENOSYS; // no proc view of our namespace
			else
				nfd = openat(t_procfd, t_procpath(path, sizeof path, "%ld/ns/%s", (long)c.a[0], c.s),
					     O_RDONLY | O_CLOEXEC);
			ret = nfd < 0 ? -1 : 0;
			err = nfd < 0 ? errno : 0;
			t_reply(c.seq, R_NORMAL, ret, err, nfd, &r);
			if (nfd >= 0)
				close(nfd);
			continue;
		}
		case C_MEMFD: {
			int nfd = (int)syscall(SYS_memfd_create, "pidrace", 1U /* MFD_CLOEXEC */);
			ret = nfd < 0 ? -1 : 0;
			err = nfd < 0 ? errno : 0;
			t_reply(c.seq, R_NORMAL, ret, err, nfd, &r);
			if (nfd >= 0)
				close(nfd);
			continue;
		}
		case C_PIDFD: {
			int nfd = (int)syscall(SYS_pidfd_open, (pid_t)c.a[0], 0);
			ret = nfd < 0 ? -1 : 0;
			err = nfd < 0 ? errno : 0;
			t_reply(c.seq, R_NORMAL, ret, err, nfd, &r);
			if (nfd >= 0)
				close(nfd);
			continue;
		}
		case C_WAITID: {
			// waitid(P_PIDFD, fd, &si, options | WNOHANG, NULL): never blocks
			siginfo_t si;
			memset(&si, 0, sizeof si);
			ret = syscall(SYS_waitid, 3 /* P_PIDFD */, fd, &si, (int)c.a[0] | WNOHANG, NULL);
			err = ret < 0 ? errno : 0;
			r.x[0] = si.si_signo;
			r.x[1] = si.si_code;
			r.x[2] = si.si_status;
			r.x[3] = si.si_pid;
			break;
		}
		case C_PIDFDKILL:
			if (fd < 0) {
				ret = -1;
				err = EBADF;
			} else {
				ret = syscall(SYS_pidfd_send_signal, fd, (int)c.a[0], NULL, (unsigned)c.a[1]);
				err = ret < 0 ? errno : 0;
			}
			break;
		case C_SETNS:
			if (fd < 0) {
				ret = -1;
				err = EBADF;
			} else {
				ret = setns(fd, (int)c.a[0]);
				err = ret < 0 ? errno : 0;
			}
			break;
		case C_LPREAD:
		case C_LPWRITE:
		case C_PMREAD:
		case C_PMWRITE: {
			int pm = c.op == C_PMREAD || c.op == C_PMWRITE;
			int rd = c.op == C_LPREAD || c.op == C_PMREAD;
			const char *p = pm ? (t_procfd >= 0 ? "sys/kernel/pid_max" : "/proc/sys/kernel/pid_max")
					   : (t_procfd >= 0 ? "sys/kernel/ns_last_pid" : "/proc/sys/kernel/ns_last_pid");
			int lfd = openat(t_dirfd(), p, (rd ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
			if (lfd < 0) {
				ret = -1;
				err = errno;
				break;
			}
			if (rd) {
				char b[32];
				ssize_t k = read(lfd, b, sizeof b - 1);
				if (k < 0) {
					ret = -1;
					err = errno;
				} else {
					b[k] = 0;
					ret = strtol(b, NULL, 10);
				}
			} else {
				char b[32];
				snprintf(b, sizeof b, "%ld", (long)c.a[0]);
				ssize_t k = write(lfd, b, strlen(b));
				ret = k < 0 ? -1 : 0;
				err = k < 0 ? errno : 0;
			}
			close(lfd);
			break;
		}
		case C_GETPID: {
			ret = getpid();
			char b[4096];
			int ns[MAXLV];
			int k = -1;
			if (t_procfd >= 0 && read_file_at(t_procfd, "self/status", b, sizeof b) > 0)
				k = parse_nspid(b, ns, MAXLV);
			r.x[0] = k;
			for (int j = 0, o = 0; j < k && o < (int)sizeof r.s - 16; j++)
				o += snprintf(r.s + o, sizeof r.s - o, "%s%d", j ? "," : "", ns[j]);
			break;
		}
		case C_GETPPID:
			ret = getppid();
			break;
		case C_NSPID: {
			char b[4096];
			int ns[MAXLV];
			if (t_procfd < 0) {
				ret = -1;
				err = ENOSYS;
				break;
			}
			if (read_file_at(t_procfd, t_procpath(path, sizeof path, "%ld/status", (long)c.a[0]), b, sizeof b) < 0) {
				ret = -1;
				err = errno;
				break;
			}
			int k = parse_nspid(b, ns, MAXLV);
			r.x[0] = k;
			for (int j = 0, o = 0; j < k && o < (int)sizeof r.s - 16; j++)
				o += snprintf(r.s + o, sizeof r.s - o, "%s%d", j ? "," : "", ns[j]);
			break;
		}
		case C_REBOOT: {
			// Always announce first; then either reboot() kills us (no
			// further reply) or a normal reply carries its result.
			t_reply(c.seq, R_PRE, 0, 0, -1, NULL);
			// Guard: never call reboot() from the initial pid namespace.
			struct stat sb;
			if (stat("/proc/self/ns/pid", &sb) < 0 || sb.st_ino == PROC_PID_INIT_INO ||
			    (uint64_t)sb.st_ino == (uint64_t)c.a[1]) {
				ret = -1;
				err = EDEADLK;
				break;
			}
			ret = syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, (unsigned)c.a[0], NULL);
			err = ret < 0 ? errno : 0;
			break;
		}
		default:
			ret = -1;
			err = ENOSYS;
		}
		if (fd >= 0)
			close(fd);
		t_reply(c.seq, R_NORMAL, ret, err, -1, &r);
	}
}

// =================================================================== DRIVER

enum { S_NONE = 0, S_ALIVE, S_EXITED, S_REAPED };

struct task {
	int state;
	int chan;
	int pidfd;
	pid_t gpid;  // pid in the driver's /proc view
	int level;   // relative to L0
	int nspid[MAXLV];
	uint64_t nsino[MAXLV];
	int unresponsive;
};

static struct task T[MAXT];
static int F[MAXF];
static uint32_t g_seq = 1;
static int g_base; // number of NSpid entries of the driver itself
static uint64_t g_orig_pidns;
static volatile pid_t g_task0 = -1;
static struct {
	uint64_t ino;
	int fd;
} g_views[MAXT];
static int g_nviews;
static int g_view_err;

// --------------------------------------------------------------- JSON out
static char jb[65536];
static int jn;
static int jfirst;

static void jraw(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(jb + jn, sizeof jb - jn, fmt, ap);
	va_end(ap);
	if (k > 0)
		jn += k;
	if (jn >= (int)sizeof jb)
		jn = sizeof jb - 1;
}
static void jkey(const char *k)
{
	jraw("%s\"%s\":", jfirst ? "" : ",", k);
	jfirst = 0;
}
static void jint(const char *k, long v)
{
	jkey(k);
	jraw("%ld", v);
}
static void jnull(const char *k)
{
	jkey(k);
	jraw("null");
}
static void jbool(const char *k, int v)
{
	jkey(k);
	jraw(v ? "true" : "false");
}
static void jstr(const char *k, const char *s)
{
	jkey(k);
	if (!s) {
		jraw("null");
		return;
	}
	jraw("\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			jraw("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			jraw("\\u%04x", *s);
		else
			jraw("%c", *s);
	}
	jraw("\"");
}
static void jarr(const char *k, const int *v, int n)
{
	jkey(k);
	jraw("[");
	for (int j = 0; j < n; j++)
		jraw("%s%d", j ? "," : "", v[j]);
	jraw("]");
}
static void jbegin(void)
{
	jn = 0;
	jfirst = 1;
	jraw("{");
}
static void jend(void)
{
	jraw("}\n");
	fwrite(jb, 1, jn, stdout);
	fflush(stdout);
}

// ------------------------------------------------------------------ results
// Kept for --selftest checks.
struct result {
	int done;
	int has_ret;
	long ret;
	int err;
	int nsn;
	int ns[MAXLV];
	int reaped;
	int exited, signaled; // -1 if not
	int timeout;
	int visible;
	int error;
	int died[MAXT];
	int ndied;
	int parent;
};

// ------------------------------------------------------------------ ops
enum {
	O_FORK = 1, O_CLONE3, O_UNSHARE, O_DROPCAPS, O_EXIT, O_WAIT, O_KILL, O_OPENNS,
	O_PIDFD, O_SETNS, O_CLOSE, O_LPREAD, O_LPWRITE, O_GETPID, O_GETPPID, O_NSPID,
	O_REBOOT, O_STATE, O_SLEEP, O_PMREAD, O_PMWRITE, O_SIGACTION, O_SIGMASK, O_CAUGHT,
	O_IDMAP, O_SETGROUPS, O_PIDFDKILL, O_WAITID, O_MEMFD, O_SAMEFILE,
};
static const char *opnames[] = {
	"?", "fork", "clone3", "unshare", "dropcaps", "exit", "wait", "kill", "openns",
	"pidfd", "setns", "close", "lastpid_read", "lastpid_write", "getpid", "getppid",
	"nspid", "reboot", "state", "sleep", "pidmax_read", "pidmax_write", "sigaction",
	"sigmask", "caught", "idmap", "setgroups", "pidfd_kill", "waitid", "memfd", "samefile",
};

struct op {
	int kind;
	int line;
	int t, c, f;
	int tgt_is_raw;
	long tgt; // handle or raw
	long v;   // code, sig, value, flags, ms, reboot cmd
	long v2;  // sigaction: handler; sigmask: the set
	long v3;  // sigaction: sa_flags
	long v4;  // idmap: count
	int newpid;
	int ntid;
	int tids[MAXLV];
	char kind_s[32];
	char perr[160];
};

static struct op g_ops[MAXOPS];
static struct result g_res[MAXOPS];
static int g_nops;

// --------------------------------------------------------------- parsing
static const struct {
	const char *n;
	int v;
} sigtab[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
	{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "BUS", SIGBUS }, { "FPE", SIGFPE },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "STKFLT", SIGSTKFLT },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "TSTP", SIGTSTP },
	{ "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG }, { "XCPU", SIGXCPU },
	{ "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
	{ "IO", SIGIO }, { "PWR", SIGPWR }, { "SYS", SIGSYS },
};

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *e;
	if (!s || !*s)
		return -1;
	errno = 0;
	long v = strtol(s, &e, 10);
	if (*e || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_sig(const char *s, long *out)
{
	if (parse_int(s, 0, 64, out) == 0)
		return 0;
	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (size_t k = 0; k < sizeof sigtab / sizeof *sigtab; k++)
		if (!strcmp(s, sigtab[k].n)) {
			*out = sigtab[k].v;
			return 0;
		}
	return -1;
}

static int parse_nsflags(const char *s, long *out)
{
	static const struct {
		const char *n;
		long v;
	} tab[] = {
		{ "newpid", CLONE_NEWPID }, { "newuser", CLONE_NEWUSER }, { "newns", CLONE_NEWNS },
		{ "newmnt", CLONE_NEWNS }, { "newnet", CLONE_NEWNET }, { "newuts", CLONE_NEWUTS },
		{ "newipc", CLONE_NEWIPC }, { "newcgroup", CLONE_NEWCGROUP }, { "newtime", CLONE_NEWTIME },
	};
	if (!strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	char buf[256];
	snprintf(buf, sizeof buf, "%s", s);
	long v = 0;
	for (char *sv, *tok = strtok_r(buf, "|", &sv); tok; tok = strtok_r(NULL, "|", &sv)) {
		size_t k;
		for (k = 0; k < sizeof tab / sizeof *tab; k++)
			if (!strcmp(tok, tab[k].n))
				break;
		if (k == sizeof tab / sizeof *tab)
			return -1;
		v |= tab[k].v;
	}
	*out = v;
	return 0;
}

static int parse_target(const char *s, struct op *o)
{
	long v;
	if (!s)
		return -1;
	if (s[0] == '#') {
		if (parse_int(s + 1, -0x7fffffffL, 0x7fffffffL, &v))
			return -1;
		o->tgt_is_raw = 1;
		o->tgt = v;
		return 0;
	}
	if (!strcmp(s, "-1")) {
		o->tgt_is_raw = 1;
		o->tgt = -1;
		return 0;
	}
	if (parse_int(s, 0, MAXT - 1, &v))
		return -1;
	o->tgt_is_raw = 0;
	o->tgt = v;
	return 0;
}

static int kind_of(const char *s)
{
	for (int k = 1; k < (int)(sizeof opnames / sizeof *opnames); k++)
		if (!strcmp(s, opnames[k]))
			return k;
	return 0;
}

struct flag_word {
	const char *name;
	long flag;
};

/* OR into *v the flag named by each of tok[k..nt-1]; returns the first unknown word, or NULL. */
static const char *parse_flags(char **tok, int k, int nt, const struct flag_word *t, size_t n, long *v)
{
	for (; k < nt; k++) {
		size_t i = 0;
		while (i < n && strcmp(tok[k], t[i].name))
			i++;
		if (i == n)
			return tok[k];
		*v |= t[i].flag;
	}
	return NULL;
}
#define PARSE_FLAGS(k, table, v) parse_flags(tok, (k), nt, (table), sizeof(table) / sizeof *(table), (v))

static const struct flag_word wait_flags[] = {
	{ "wnohang", WNOHANG }, { "wall", __WALL }, { "wclone", __WCLONE }, { "wnothread", __WNOTHREAD },
	{ "wuntraced", WUNTRACED }, { "wcontinued", WCONTINUED },
};
static const struct flag_word waitid_flags[] = {
	{ "exited", WEXITED }, { "stopped", WSTOPPED }, { "continued", WCONTINUED }, { "nowait", WNOWAIT },
};
static const struct flag_word sa_flags[] = {
	{ "restart", SA_RESTART }, { "nocldstop", SA_NOCLDSTOP }, { "nocldwait", SA_NOCLDWAIT },
};

#define PERR(...) (snprintf(o->perr, sizeof o->perr, __VA_ARGS__), -1)

static int parse_line(char *line, struct op *o)
{
	char *tok[16];
	int nt = 0;
	// strip comments: '#' at token start not followed by digit or '-'
	for (char *sv, *p = strtok_r(line, " \t\r\n", &sv); p && nt < 16; p = strtok_r(NULL, " \t\r\n", &sv)) {
		if (p[0] == '#' && !(p[1] == '-' || (p[1] >= '0' && p[1] <= '9')))
			break;
		if (nt == 0 && p[0] == '#')
			break;
		tok[nt++] = p;
	}
	if (nt == 0)
		return 0; // blank/comment
	memset(o, 0, sizeof *o);
	o->t = -1;
	o->c = -1;
	o->f = -1;
	o->kind = kind_of(tok[0]);
	long v;
	const char *bad;
	if (!o->kind)
		return PERR("unknown op '%s'", tok[0]);
#define NEED(n)                                                              \
	do {                                                                 \
		if (nt < (n))                                                \
			return PERR("%s: expected at least %d args", tok[0], (n) - 1); \
	} while (0)
#define HANDLE(idx, field)                                                   \
	do {                                                                 \
		if (parse_int(tok[idx], 0, MAXT - 1, &v))                    \
			return PERR("%s: bad handle '%s'", tok[0], tok[idx]); \
		o->field = (int)v;                                           \
	} while (0)
#define FHANDLE(idx)                                                         \
	do {                                                                 \
		if (parse_int(tok[idx], 0, MAXF - 1, &v))                    \
			return PERR("%s: bad fd handle '%s'", tok[0], tok[idx]); \
		o->f = (int)v;                                               \
	} while (0)
	switch (o->kind) {
	case O_FORK:
		NEED(3);
		HANDLE(1, t);
		HANDLE(2, c);
		if (nt > 4 || (nt == 4 && strcmp(tok[3], "newpid")))
			return PERR("fork: trailing '%s'", tok[3]);
		o->newpid = nt == 4;
		break;
	case O_CLONE3:
		NEED(4);
		HANDLE(1, t);
		HANDLE(2, c);
		if (strcmp(tok[3], "-")) {
			char buf[512];
			snprintf(buf, sizeof buf, "%s", tok[3]);
			for (char *sv, *p = strtok_r(buf, ",", &sv); p; p = strtok_r(NULL, ",", &sv)) {
				if (o->ntid >= MAXLV || parse_int(p, -0x7fffffffL, 0x7fffffffL, &v))
					return PERR("clone3: bad set_tid list '%s'", tok[3]);
				o->tids[o->ntid++] = (int)v;
			}
		}
		for (int k = 4; k < nt; k++) {
			if (!strcmp(tok[k], "newpid") && !o->newpid) {
				o->newpid = 1;
			} else if (!strcmp(tok[k], "pidfd") && k + 1 < nt && o->f < 0) {
				k++;
				if (parse_int(tok[k], 0, MAXF - 1, &v))
					return PERR("clone3: bad fd handle '%s'", tok[k]);
				o->f = (int)v;
			} else {
				return PERR("clone3: trailing '%s'", tok[k]);
			}
		}
		break;
	case O_UNSHARE:
		NEED(3);
		HANDLE(1, t);
		if (parse_nsflags(tok[2], &o->v))
			return PERR("unshare: bad flags '%s'", tok[2]);
		snprintf(o->kind_s, sizeof o->kind_s, "%s", tok[2]);
		break;
	case O_DROPCAPS:
	case O_LPREAD:
	case O_PMREAD:
	case O_CAUGHT:
	case O_GETPID:
	case O_GETPPID:
		NEED(2);
		HANDLE(1, t);
		break;
	case O_EXIT:
		NEED(3);
		HANDLE(1, t);
		if (parse_int(tok[2], -0x7fffffffL, 0x7fffffffL, &o->v))
			return PERR("exit: bad code");
		break;
	case O_WAIT:
		NEED(3);
		HANDLE(1, t);
		if (parse_target(tok[2], o))
			return PERR("wait: bad target '%s'", tok[2]);
		if ((bad = PARSE_FLAGS(3, wait_flags, &o->v)))
			return PERR("wait: unknown option '%s'", bad);
		break;
	case O_KILL:
		NEED(4);
		HANDLE(1, t);
		if (parse_target(tok[2], o))
			return PERR("kill: bad target '%s'", tok[2]);
		if (parse_sig(tok[3], &o->v))
			return PERR("kill: bad signal '%s'", tok[3]);
		break;
	case O_OPENNS: {
		NEED(5);
		HANDLE(1, t);
		if (parse_target(tok[2], o))
			return PERR("openns: bad target '%s'", tok[2]);
		static const char *kinds[] = { "pid", "pid_for_children", "user", "mnt", "net", "uts",
					       "ipc", "cgroup", "time", "time_for_children" };
		size_t k;
		for (k = 0; k < sizeof kinds / sizeof *kinds; k++)
			if (!strcmp(tok[3], kinds[k]))
				break;
		if (k == sizeof kinds / sizeof *kinds)
			return PERR("openns: bad kind '%s'", tok[3]);
		snprintf(o->kind_s, sizeof o->kind_s, "%s", tok[3]);
		FHANDLE(4);
		break;
	}
	case O_PIDFD:
		NEED(4);
		HANDLE(1, t);
		if (parse_target(tok[2], o))
			return PERR("pidfd: bad target '%s'", tok[2]);
		FHANDLE(3);
		break;
	case O_PIDFDKILL:
		NEED(4);
		HANDLE(1, t);
		FHANDLE(2);
		if (parse_sig(tok[3], &o->v))
			return PERR("pidfd_kill: bad signal '%s'", tok[3]);
		if (nt > 5)
			return PERR("pidfd_kill: trailing '%s'", tok[5]);
		if (nt == 5) {
			if (!strcmp(tok[4], "thread"))
				o->v2 = 1; // PIDFD_SIGNAL_THREAD
			else if (!strcmp(tok[4], "pgroup"))
				o->v2 = 4; // PIDFD_SIGNAL_PROCESS_GROUP
			else
				return PERR("pidfd_kill: thread or pgroup, not '%s'", tok[4]);
		}
		break;
	case O_WAITID:
		NEED(3);
		HANDLE(1, t);
		FHANDLE(2);
		if ((bad = PARSE_FLAGS(3, waitid_flags, &o->v)))
			return PERR("waitid: bad option '%s'", bad);
		break;
	case O_SETNS:
		NEED(4);
		HANDLE(1, t);
		FHANDLE(2);
		if (parse_nsflags(tok[3], &o->v))
			return PERR("setns: bad flags '%s'", tok[3]);
		snprintf(o->kind_s, sizeof o->kind_s, "%s", tok[3]);
		break;
	case O_CLOSE:
		NEED(2);
		FHANDLE(1);
		break;
	case O_MEMFD:
		NEED(3);
		HANDLE(1, t);
		FHANDLE(2);
		break;
	case O_SAMEFILE:
		NEED(3);
		FHANDLE(1);
		if (parse_int(tok[2], 0, MAXF - 1, &v))
			return PERR("samefile: bad fd handle '%s'", tok[2]);
		o->v = v;
		break;
	case O_LPWRITE:
	case O_PMWRITE:
		NEED(3);
		HANDLE(1, t);
		if (parse_int(tok[2], -0x7fffffffL, 0x7fffffffL, &o->v))
			return PERR("%s: bad value", opnames[o->kind]);
		break;
	case O_NSPID:
		NEED(3);
		HANDLE(1, t);
		if (parse_target(tok[2], o))
			return PERR("nspid: bad target '%s'", tok[2]);
		break;
	case O_SIGACTION:
		NEED(4);
		HANDLE(1, t);
		if (parse_sig(tok[2], &o->v) || o->v < 1 || o->v > 31 || o->v == SIGALRM)
			return PERR("sigaction: bad signal '%s' (1..31, not ALRM)", tok[2]);
		if (!strcmp(tok[3], "dfl"))
			o->v2 = 0;
		else if (!strcmp(tok[3], "ign"))
			o->v2 = 1;
		else if (!strcmp(tok[3], "catch"))
			o->v2 = 2;
		else
			return PERR("sigaction: bad handler '%s'", tok[3]);
		if ((bad = PARSE_FLAGS(4, sa_flags, &o->v3)))
			return PERR("sigaction: unknown flag '%s'", bad);
		break;
	case O_IDMAP:
		NEED(6);
		HANDLE(1, t);
		if (!strcmp(tok[2], "uid"))
			o->v = 0;
		else if (!strcmp(tok[2], "gid"))
			o->v = 1;
		else
			return PERR("idmap: uid or gid, not '%s'", tok[2]);
		if (parse_int(tok[3], 0, 0xffffffffL, &o->v2) || parse_int(tok[4], 0, 0xffffffffL, &o->v3) ||
		    parse_int(tok[5], 0, 0xffffffffL, &o->v4))
			return PERR("idmap: bad extent");
		break;
	case O_SETGROUPS:
		NEED(3);
		HANDLE(1, t);
		if (!strcmp(tok[2], "allow"))
			o->v = 1;
		else if (!strcmp(tok[2], "deny"))
			o->v = 0;
		else
			return PERR("setgroups: allow or deny, not '%s'", tok[2]);
		break;
	case O_SIGMASK: {
		NEED(4);
		HANDLE(1, t);
		if (!strcmp(tok[2], "block"))
			o->v = SIG_BLOCK;
		else if (!strcmp(tok[2], "unblock"))
			o->v = SIG_UNBLOCK;
		else if (!strcmp(tok[2], "setmask"))
			o->v = SIG_SETMASK;
		else
			return PERR("sigmask: bad how '%s'", tok[2]);
		if (strcmp(tok[3], "-")) {
			char buf[256];
			snprintf(buf, sizeof buf, "%s", tok[3]);
			for (char *sv, *p = strtok_r(buf, ",", &sv); p; p = strtok_r(NULL, ",", &sv)) {
				long sg;
				if (parse_sig(p, &sg) || sg < 1 || sg > 31 || sg == SIGALRM)
					return PERR("sigmask: bad signal '%s' (1..31, not ALRM)", p);
				o->v2 |= 1L << (sg - 1);
			}
		}
		break;
	}
	case O_REBOOT: {
		NEED(3);
		HANDLE(1, t);
		static const struct {
			const char *n;
			unsigned v;
		} rt[] = {
			{ "restart", LINUX_REBOOT_CMD_RESTART }, { "restart2", LINUX_REBOOT_CMD_RESTART2 },
			{ "halt", LINUX_REBOOT_CMD_HALT }, { "poweroff", LINUX_REBOOT_CMD_POWER_OFF },
			{ "cad_on", LINUX_REBOOT_CMD_CAD_ON }, { "cad_off", LINUX_REBOOT_CMD_CAD_OFF },
		};
		size_t k;
		for (k = 0; k < sizeof rt / sizeof *rt; k++)
			if (!strcmp(tok[2], rt[k].n))
				break;
		if (k == sizeof rt / sizeof *rt)
			return PERR("reboot: bad cmd '%s'", tok[2]);
		o->v = rt[k].v;
		snprintf(o->kind_s, sizeof o->kind_s, "%s", tok[2]);
		break;
	}
	case O_STATE:
		break;
	case O_SLEEP:
		NEED(2);
		if (parse_int(tok[1], 0, 5000, &o->v))
			return PERR("sleep: bad ms (0..5000)");
		break;
	}
	return 1;
}

// ----------------------------------------------------------- driver core
static int rpc_send(int h, struct cmd *c, int passfd)
{
	c->seq = g_seq++;
	return send_msg(T[h].chan, c, sizeof *c, passfd);
}

// 0 = got reply, -1 = timeout, -2 = EOF / channel error
static int rpc_recv(int h, uint32_t seq, int kind, struct rep *r, int *gotfd, int ms)
{
	long deadline = now_ms() + ms;
	for (;;) {
		long left = deadline - now_ms();
		if (left < 0)
			return -1;
		struct pollfd p = { .fd = T[h].chan, .events = POLLIN };
		int k = poll(&p, 1, (int)left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0)
			return -1;
		int fd = -1;
		ssize_t n = recv_msg(T[h].chan, r, sizeof *r, &fd);
		if (n <= 0)
			return -2;
		if (r->seq == seq && r->kind == kind) {
			if (gotfd)
				*gotfd = fd;
			else if (fd >= 0)
				close(fd);
			return 0;
		}
		if (fd >= 0) // stale reply
			close(fd);
	}
}

static int rpc(int h, struct cmd *c, int passfd, struct rep *r, int *gotfd, int ms)
{
	if (rpc_send(h, c, passfd) < 0)
		return -2;
	return rpc_recv(h, c->seq, R_NORMAL, r, gotfd, ms);
}

// Pid of X as seen from T's active pid namespace; 0 if not visible.
static int vpid(int t, int x)
{
	if (T[x].state == S_NONE || T[t].state == S_NONE)
		return 0;
	int L = T[t].level;
	if (T[x].level < L || T[x].nsino[L] != T[t].nsino[L])
		return 0;
	return T[x].nspid[L];
}

static int handle_of_vpid(int t, long pid)
{
	int best = -1;
	if (pid <= 0)
		return -1;
	for (int x = 0; x < MAXT; x++) {
		if (T[x].state == S_NONE || vpid(t, x) != pid)
			continue;
		if (T[x].state != S_REAPED)
			return x;
		best = x;
	}
	return best;
}

static int handle_of_gpid(pid_t g)
{
	for (int x = 0; x < MAXT; x++)
		if (T[x].state != S_NONE && T[x].state != S_REAPED && T[x].gpid == g)
			return x;
	return -1;
}

static int proc_view_fd(uint64_t ino, pid_t gpid)
{
	for (int k = 0; k < g_nviews; k++)
		if (g_views[k].ino == ino)
			return g_views[k].fd;
	if (g_nviews >= MAXT)
		return -1;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/pid", gpid);
	int nsfd = open(path, O_RDONLY | O_CLOEXEC);
	int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
	int m = -1;
	if (nsfd >= 0 && fs >= 0 && syscall(SYS_fsconfig, fs, FSCONFIG_SET_FD, "pidns", NULL, nsfd) == 0 &&
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	if (m < 0)
		g_view_err = errno;
	if (nsfd >= 0)
		close(nsfd);
	if (fs >= 0)
		close(fs);
	if (m < 0)
		return -1;
	g_views[g_nviews].ino = ino;
	g_views[g_nviews].fd = m;
	g_nviews++;
	return m;
}

// Complete registration of a freshly created task h on channel chan:
// receive hello (with its pidfd), learn its pids/namespace chain, give it
// its proc view.  Returns 0 or -1 with *why.
static int register_task(int h, int chan, const char **why)
{
	T[h].chan = chan;
	T[h].state = S_ALIVE;
	T[h].pidfd = -1;
	T[h].unresponsive = 0;
	struct rep r;
	int pfd = -1;
	if (rpc_recv(h, 0, R_HELLO, &r, &pfd, RPC_MS) != 0 || pfd < 0) {
		*why = "no hello from new task";
		T[h].state = S_EXITED;
		return -1;
	}
	T[h].pidfd = pfd;
	char path[64], buf[4096];
	int ns[MAXLV + 8];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pfd);
	int n = read_file_at(AT_FDCWD, path, buf, sizeof buf) > 0 ? parse_nspid(buf, ns, MAXLV + 8) : -1;
	if (n <= g_base) {
		*why = "cannot read NSpid of new task";
		return -1;
	}
	T[h].gpid = ns[0];
	T[h].level = n - 1 - g_base;
	for (int k = g_base; k < n; k++)
		T[h].nspid[k - g_base] = ns[k];
	snprintf(path, sizeof path, "/proc/%d/ns/pid", T[h].gpid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	for (int lv = T[h].level; lv >= 0 && fd >= 0; lv--) {
		struct stat sb;
		fstat(fd, &sb);
		T[h].nsino[lv] = sb.st_ino;
		int p = lv > 0 ? ioctl(fd, NS_GET_PARENT) : -1;
		close(fd);
		fd = p;
		if (lv > 0 && p < 0) {
			*why = "NS_GET_PARENT failed";
			return -1;
		}
	}
	// Always (re)set the view: a child in a new pid ns must not keep the
	// inherited view of its parent's namespace.
	int view = proc_view_fd(T[h].nsino[T[h].level], T[h].gpid);
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.op = C_SETPROC;
	if (rpc(h, &c, view, &r, NULL, RPC_MS) != 0) {
		*why = "task did not ack proc view";
		return -1;
	}
	if (view < 0)
		*why = "no per-namespace proc view (needs proc 'pidns' mount option, Linux >= 6.17?)";
	return view < 0 ? 1 : 0;
}

static int fd_pid_of_pidfd(int pidfd)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
	if (read_file_at(AT_FDCWD, path, buf, sizeof buf) <= 0)
		return -1;
	char *p = strstr(buf, "\nPid:");
	return p ? atoi(p + 5) : -1;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

// After an op that may kill tasks: find out who died, deterministically.
//  * A task whose command channel reached EOF is dying; it is confirmed dead
//    once its pidfd polls readable (zombie or reaped).  If that does not
//    happen within SETTLE_MS it is reported as "hung" (e.g. an init waiting
//    in zap_pid_ns_processes for a zombie whose parent is outside its ns).
//  * A live task that answers a ping had no fatal signal pending when it
//    answered (signals are acted on at every return to user mode).
//  * Rounds repeat until a ping round finds no new deaths: an init's zap
//    kill pass has completed before that init becomes a zombie, so after we
//    confirmed (or timed out on) it, its namespace's victims cannot answer.
// actor: the task that exited / called reboot (confirmed first), or -1.
static void settle(struct result *res, int actor, int *hung, int *nhung)
{
	int dying[MAXT], ndying = 0;
	long confirm_deadline = now_ms() + SETTLE_MS;
	*nhung = 0;
	res->ndied = 0;
	if (actor >= 0 && T[actor].state == S_ALIVE) {
		T[actor].state = S_EXITED;
		dying[ndying++] = actor;
	}
	for (int round = 0; round < MAXT; round++) {
		// 1. confirm the dying ones (inits first so their zap pass is done)
		for (int pass = 0; pass < 2; pass++)
			for (int k = 0; k < ndying; k++) {
				int h = dying[k];
				if (h < 0 || (pass == 0) != (T[h].nspid[T[h].level] == 1))
					continue;
				long left = confirm_deadline - now_ms();
				struct pollfd p = { .fd = T[h].pidfd, .events = POLLIN };
				int r;
				do
					r = poll(&p, 1, left > 0 ? (int)left : 0);
				while (r < 0 && errno == EINTR);
				if (r > 0)
					res->died[res->ndied++] = h;
				else
					hung[(*nhung)++] = h;
				dying[k] = -1;
			}
		ndying = 0;
		// 2. ping every task still believed alive
		uint32_t seqs[MAXT];
		int pending[MAXT];
		for (int h = 0; h < MAXT; h++) {
			pending[h] = 0;
			if (T[h].state != S_ALIVE)
				continue;
			struct cmd c;
			memset(&c, 0, sizeof c);
			c.op = C_PING;
			pending[h] = rpc_send(h, &c, -1) == 0 ? 1 : 2; // 2: already gone
			seqs[h] = c.seq;
		}
		long ping_deadline = now_ms() + 500;
		for (int h = 0; h < MAXT; h++) {
			if (!pending[h])
				continue;
			if (pending[h] == 1) {
				struct rep r;
				long left = ping_deadline - now_ms();
				int k = rpc_recv(h, seqs[h], R_NORMAL, &r, NULL, left > 0 ? (int)left : 0);
				if (k == 0) {
					T[h].unresponsive = 0;
					continue;
				}
				if (k == -1) { // neither reply nor EOF: stopped?
					T[h].unresponsive = 1;
					continue;
				}
			}
			T[h].state = S_EXITED;
			dying[ndying++] = h;
		}
		if (!ndying)
			break;
		confirm_deadline = now_ms() + SETTLE_MS;
	}
	qsort(res->died, res->ndied, sizeof(int), cmp_int);
	qsort(hung, *nhung, sizeof(int), cmp_int);
}

static void emit_died(struct result *res, int *hung, int nhung)
{
	jarr("died", res->died, res->ndied);
	jarr("hung", hung, nhung);
}

static void jhead(int i, const struct op *o)
{
	jbegin();
	jint("i", i);
	jstr("op", opnames[o->kind]);
	if (o->t >= 0)
		jint("t", o->t);
}

static void jerror(int i, const struct op *o, struct result *res, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	jhead(i, o);
	jnull("ret");
	jnull("errno");
	jstr("error", msg);
	jend();
	res->error = 1;
}

static void jreterr(struct result *res, long ret, int err)
{
	res->has_ret = 1;
	res->ret = ret;
	res->err = err;
	jint("ret", ret);
	jstr("errno", errname(err));
}

static int check_task(int i, const struct op *o, struct result *res, int h)
{
	if (T[h].state == S_NONE) {
		jerror(i, o, res, "task %d does not exist", h);
		return -1;
	}
	if (T[h].state != S_ALIVE) {
		jerror(i, o, res, "task %d is dead", h);
		return -1;
	}
	if (T[h].unresponsive) {
		// maybe it was continued meanwhile: re-ping briefly
		struct cmd c;
		struct rep r;
		memset(&c, 0, sizeof c);
		c.op = C_PING;
		if (rpc(h, &c, -1, &r, NULL, 200) == 0) {
			T[h].unresponsive = 0;
		} else {
			jerror(i, o, res, "task %d is unresponsive (stopped?)", h);
			return -1;
		}
	}
	return 0;
}

// Resolve the op's target to a pid as task t sees it. Returns 0 ok, -1 invisible.
static int resolve_target(const struct op *o, long *pid)
{
	if (o->tgt_is_raw) {
		*pid = o->tgt;
		return 0;
	}
	int p = T[o->tgt].state == S_NONE ? 0 : vpid(o->t, (int)o->tgt);
	*pid = p;
	return p > 0 ? 0 : -1;
}

static void emit_invisible(int i, const struct op *o, struct result *res)
{
	jhead(i, o);
	jint("target", o->tgt);
	jnull("ret");
	jnull("errno");
	jbool("visible", 0);
	jend();
	res->visible = 0;
}

static void rpc_fail(int i, const struct op *o, struct result *res, int k)
{
	if (k == -2) {
		// channel closed under us: the task died during the op
		T[o->t].state = S_EXITED;
		jerror(i, o, res, "task %d died during the op", o->t);
	} else {
		T[o->t].unresponsive = 1;
		jerror(i, o, res, "task %d did not reply", o->t);
	}
}

static void run_op(int i, struct op *o)
{
	struct result *res = &g_res[i];
	struct cmd c;
	struct rep r;
	memset(res, 0, sizeof *res);
	res->reaped = -1;
	res->exited = res->signaled = -1;
	res->visible = 1;
	res->parent = -1;
	res->done = 1;
	memset(&c, 0, sizeof c);
	memset(&r, 0, sizeof r);
	int hung[MAXT], nhung = 0;
	long pid = 0;
	int k;

	if (o->kind == O_STATE) {
		jhead(i, o);
		jkey("tasks");
		jraw("[");
		int first = 1;
		for (int h = 0; h < MAXT; h++) {
			if (T[h].state == S_NONE)
				continue;
			const char *st = "dead";
			int ppid_h = -1;
			if (T[h].state == S_REAPED || fd_pid_of_pidfd(T[h].pidfd) <= 0) {
				st = "reaped";
			} else {
				char path[64], buf[4096];
				snprintf(path, sizeof path, "/proc/%d/status", T[h].gpid);
				if (read_file_at(AT_FDCWD, path, buf, sizeof buf) > 0) {
					char *s = strstr(buf, "State:");
					char *pp = strstr(buf, "PPid:");
					char ch = s ? s[7] : '?';
					st = ch == 'Z' ? "zombie" : ch == 'T' || ch == 't' ? "stopped" : ch == 'X' ? "dead" : "alive";
					if (pp)
						ppid_h = handle_of_gpid(atoi(pp + 5));
				}
			}
			jraw("%s{\"h\":%d,\"state\":\"%s\",\"ppid\":", first ? "" : ",", h, st);
			if (ppid_h >= 0)
				jraw("%d", ppid_h);
			else
				jraw("null");
			jraw(",\"nspid\":[");
			for (int j = 0; j <= T[h].level; j++)
				jraw("%s%d", j ? "," : "", T[h].nspid[j]);
			jraw("]}");
			first = 0;
		}
		jraw("]");
		jend();
		return;
	}
	if (o->kind == O_SLEEP) {
		usleep((useconds_t)o->v * 1000);
		jhead(i, o);
		jint("ms", o->v);
		jend();
		return;
	}
	if (o->kind == O_SAMEFILE) {
		struct stat a, b;
		if (F[o->f] < 0 || F[o->v] < 0) {
			jerror(i, o, res, "fd handle %d is not open", F[o->f] < 0 ? o->f : (int)o->v);
			return;
		}
		int ra = fstat(F[o->f], &a), rb = ra < 0 ? -1 : fstat(F[o->v], &b);
		jhead(i, o);
		jint("f", o->f);
		jint("g", (int)o->v);
		jreterr(res, rb < 0 ? -1 : 0, rb < 0 ? errno : 0);
		if (rb < 0)
			jnull("same");
		else
			jbool("same", a.st_dev == b.st_dev && a.st_ino == b.st_ino);
		jend();
		return;
	}
	if (o->kind == O_CLOSE) {
		jhead(i, o);
		jint("f", o->f);
		if (F[o->f] >= 0) {
			close(F[o->f]);
			F[o->f] = -1;
			jreterr(res, 0, 0);
		} else {
			jreterr(res, -1, EBADF);
		}
		jend();
		return;
	}
	if (check_task(i, o, res, o->t) < 0)
		return;

	switch (o->kind) {
	case O_FORK:
	case O_CLONE3: {
		if (T[o->c].state != S_NONE) {
			jerror(i, o, res, "handle %d already used", o->c);
			return;
		}
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
			jerror(i, o, res, "socketpair: %s", strerror(errno));
			return;
		}
		c.op = o->kind == O_FORK ? C_FORK : C_CLONE3;
		c.a[0] = o->newpid;
		c.a[1] = o->kind == O_CLONE3 && o->f >= 0;
		c.ntid = o->ntid;
		memcpy(c.tids, o->tids, sizeof c.tids);
		int got = -1;
		k = rpc(o->t, &c, sp[1], &r, &got, RPC_MS);
		close(sp[1]);
		if (k) {
			if (got >= 0)
				close(got);
			close(sp[0]);
			rpc_fail(i, o, res, k);
			return;
		}
		jhead(i, o);
		jint("c", o->c);
		if (c.a[1])
			jint("f", o->f);
		jreterr(res, r.ret, r.err);
		if (got >= 0) {
			if (F[o->f] >= 0)
				close(F[o->f]);
			F[o->f] = got;
		}
		if (r.ret > 0) {
			const char *why = NULL;
			int rk = register_task(o->c, sp[0], &why);
			if (rk < 0) {
				jstr("error", why);
				res->error = 1;
			} else {
				if (rk > 0)
					jstr("warning", why);
				jarr("nspid", T[o->c].nspid, T[o->c].level + 1);
				jint("level", T[o->c].level);
				res->nsn = T[o->c].level + 1;
				memcpy(res->ns, T[o->c].nspid, sizeof(int) * res->nsn);
			}
		} else {
			close(sp[0]);
		}
		jend();
		return;
	}
	case O_UNSHARE:
		c.op = C_UNSHARE;
		c.a[0] = o->v;
		if ((k = rpc(o->t, &c, -1, &r, NULL, RPC_MS))) {
			rpc_fail(i, o, res, k);
			return;
		}
		jhead(i, o);
		jstr("flags", o->kind_s);
		jreterr(res, r.ret, r.err);
		if ((o->v & CLONE_NEWUSER) && r.ret == 0) {
			jkey("maps");
			jfirst = 1;
			jraw("{");
			jstr("setgroups", errname((int)r.x[0]));
			jstr("uid_map", errname((int)r.x[1]));
			jstr("gid_map", errname((int)r.x[2]));
			jraw("}");
		}
		jend();
		return;
	case O_DROPCAPS:
	case O_GETPPID:
	case O_LPREAD:
	case O_LPWRITE:
	case O_PMREAD:
	case O_PMWRITE:
		c.op = o->kind == O_DROPCAPS ? C_DROPCAPS
		       : o->kind == O_GETPPID ? C_GETPPID
		       : o->kind == O_LPREAD  ? C_LPREAD
		       : o->kind == O_PMREAD  ? C_PMREAD
		       : o->kind == O_PMWRITE ? C_PMWRITE
					      : C_LPWRITE;
		c.a[0] = o->v;
		if ((k = rpc(o->t, &c, -1, &r, NULL, RPC_MS))) {
			rpc_fail(i, o, res, k);
			return;
		}
		jhead(i, o);
		if (o->kind == O_LPWRITE || o->kind == O_PMWRITE)
			jint("value", o->v);
		jreterr(res, r.ret, r.err);
		if (o->kind == O_GETPPID) {
			int ph = handle_of_vpid(o->t, r.ret);
			res->parent = ph;
			if (ph >= 0)
				jint("parent", ph);
			else
				jnull("parent");
		}
		jend();
		return;
	case O_GETPID: {
		c.op = C_GETPID;
		if ((k = rpc(o->t, &c, -1, &r, NULL, RPC_MS))) {
			rpc_fail(i, o, res, k);
			return;
		}
		jhead(i, o);
		jreterr(res, r.ret, r.err);
		jarr("nspid", T[o->t].nspid, T[o->t].level + 1);
		jkey("view");
		jraw(r.x[0] >= 0 ? "[%s]" : "null", r.s);
		res->nsn = T[o->t].level + 1;
		memcpy(res->ns, T[o->t].nspid, sizeof(int) * res->nsn);
		jend();
		return;
	}
	case O_EXIT:
	case O_REBOOT: {
		c.op = o->kind == O_EXIT ? C_EXIT : C_REBOOT;
		c.a[0] = o->v;
		c.a[1] = (int64_t)g_orig_pidns;
		if (rpc_send(o->t, &c, -1) < 0) {
			rpc_fail(i, o, res, -2);
			return;
		}
		// exit: R_PRE then death. reboot: R_PRE, then either a normal reply
		// (reboot returned an error) or death.  reboot guard: normal reply only.
		k = rpc_recv(o->t, c.seq, R_PRE, &r, NULL, RPC_MS);
		int returned = 0;
		struct rep r2;
		memset(&r2, 0, sizeof r2);
		if (o->kind == O_REBOOT) {
			int k2 = rpc_recv(o->t, c.seq, R_NORMAL, &r2, NULL, k == 0 ? SETTLE_MS : 1);
			returned = k2 == 0;
		}
		if (k != 0 && !returned) {
			rpc_fail(i, o, res, k);
			return;
		}
		settle(res, returned ? -1 : o->t, hung, &nhung);
		jhead(i, o);
		if (o->kind == O_EXIT) {
			jint("code", o->v);
			jnull("ret");
			jnull("errno");
		} else {
			jstr("cmd", o->kind_s);
			if (returned)
				jreterr(res, r2.ret, r2.err);
			else {
				jnull("ret");
				jnull("errno");
			}
			jbool("returned", returned);
		}
		emit_died(res, hung, nhung);
		jend();
		return;
	}
	case O_WAIT: {
		if (resolve_target(o, &pid) < 0) {
			emit_invisible(i, o, res);
			return;
		}
		c.op = C_WAIT;
		c.a[0] = pid;
		c.a[1] = o->v;
		c.a[2] = WAIT_MS;
		if ((k = rpc(o->t, &c, -1, &r, NULL, WAIT_MS + RPC_MS))) {
			rpc_fail(i, o, res, k);
			return;
		}
		jhead(i, o);
		jint("pid", pid);
		int timeout = (int)r.x[1];
		if (timeout) {
			jnull("ret");
			jnull("errno");
		} else {
			jreterr(res, r.ret, r.err);
		}
		res->timeout = timeout;
		jbool("timeout", timeout);
		int st = (int)r.x[0];
		if (r.ret > 0) {
			int h = handle_of_vpid(o->t, r.ret);
			int reaps = (WIFEXITED(st) || WIFSIGNALED(st)) && !(o->v & WNOWAIT);
			res->reaped = reaps ? h : -1;
			if (h >= 0)
				jint("who", h);
			else
				jnull("who");
			if (reaps && h >= 0)
				jint("reaped", h);
			else
				jnull("reaped");
			jkey("status");
			if (WIFEXITED(st)) {
				res->exited = WEXITSTATUS(st);
				jraw("{\"exited\":%d}", WEXITSTATUS(st));
			} else if (WIFSIGNALED(st)) {
				res->signaled = WTERMSIG(st);
				jraw("{\"signaled\":%d,\"core\":%s}", WTERMSIG(st), WCOREDUMP(st) ? "true" : "false");
			} else if (WIFSTOPPED(st)) {
				jraw("{\"stopped\":%d}", WSTOPSIG(st));
			} else if (WIFCONTINUED(st)) {
				jraw("{\"continued\":true}");
			} else {
				jraw("null");
			}
			if (reaps && h >= 0)
				T[h].state = S_REAPED;
		} else {
			jnull("who");
			jnull("reaped");
			jnull("status");
		}
		jend();
		return;
	}
	case O_KILL: {
		if (resolve_target(o, &pid) < 0) {
			emit_invisible(i, o, res);
			return;
		}
		c.op = C_KILL;
		c.a[0] = pid;
		c.a[1] = o->v;
		k = rpc(o->t, &c, -1, &r, NULL, RPC_MS);
		int self_killed = k == -2;
		if (k && !self_killed) {
			rpc_fail(i, o, res, k);
			return;
		}
		settle(res, self_killed ? o->t : -1, hung, &nhung);
		jhead(i, o);
		jint("pid", pid);
		jint("sig", o->v);
		if (self_killed) {
			jnull("ret");
			jnull("errno");
			jbool("killed_self", 1);
		} else {
			jreterr(res, r.ret, r.err);
		}
		emit_died(res, hung, nhung);
		jend();
		return;
	}
	case O_OPENNS:
	case O_PIDFD: {
		if (resolve_target(o, &pid) < 0) {
			emit_invisible(i, o, res);
			return;
		}
		c.op = o->kind == O_OPENNS ? C_OPENNS : C_PIDFD;
		c.a[0] = pid;
		snprintf(c.s, sizeof c.s, "%s", o->kind_s);
		int got = -1;
		if ((k = rpc(o->t, &c, -1, &r, &got, RPC_MS))) {
			rpc_fail(i, o, res, k);
			return;
		}
		jhead(i, o);
		jint("pid", pid);
		if (o->kind == O_OPENNS)
			jstr("kind", o->kind_s);
		jint("f", o->f);
		jreterr(res, r.ret, r.err);
		if (got >= 0) {
			if (F[o->f] >= 0)
				close(F[o->f]);
			F[o->f] = got;
		}
		jend();
		return;
	}
	case O_MEMFD: {
		c.op = C_MEMFD;
		int got = -1;
		if ((k = rpc(o->t, &c, -1, &r, &got, RPC_MS))) {
			rpc_fail(i, o, res, k);
			return;
		}
		jhead(i, o);
		jint("f", o->f);
		jreterr(res, r.ret, r.err);
		if (got >= 0) {
			if (F[o->f] >= 0)
				close(F[o->f]);
			F[o->f] = got;
		}
		jend();
		return;
	}
	case O_WAITID: {
		if (F[o->f] < 0) {
			jerror(i, o, res, "fd handle %d is not open", o->f);
			return;
		}
		c.op = C_WAITID;
		c.a[0] = o->v;
		if ((k = rpc(o->t, &c, F[o->f], &r, NULL, RPC_MS))) {
			rpc_fail(i, o, res, k);
			return;
		}
		jhead(i, o);
		jint("f", o->f);
		jreterr(res, r.ret, r.err);
		int code = (int)r.x[1];
		if (r.ret == 0 && r.x[0] == SIGCHLD) {
			int h = handle_of_vpid(o->t, (long)r.x[3]);
			int reaps = (code == CLD_EXITED || code == CLD_KILLED || code == CLD_DUMPED) && !(o->v & WNOWAIT);
			if (h >= 0)
				jint("who", h);
			else
				jnull("who");
			if (reaps && h >= 0)
				jint("reaped", h);
			else
				jnull("reaped");
			jkey("si");
			jraw("{\"signo\":%d,\"code\":%d,\"status\":%d}", (int)r.x[0], code, (int)r.x[2]);
			if (reaps && h >= 0)
				T[h].state = S_REAPED;
		} else {
			jnull("who");
			jnull("reaped");
			jnull("si");
		}
		jend();
		return;
	}
	case O_PIDFDKILL: {
		if (F[o->f] < 0) {
			jerror(i, o, res, "fd handle %d is not open", o->f);
			return;
		}
		c.op = C_PIDFDKILL;
		c.a[0] = o->v;
		c.a[1] = o->v2;
		k = rpc(o->t, &c, F[o->f], &r, NULL, RPC_MS);
		int self_killed = k == -2;
		if (k && !self_killed) {
			rpc_fail(i, o, res, k);
			return;
		}
		settle(res, self_killed ? o->t : -1, hung, &nhung);
		jhead(i, o);
		jint("f", o->f);
		jint("sig", o->v);
		if (self_killed) {
			jnull("ret");
			jnull("errno");
			jbool("killed_self", 1);
		} else {
			jreterr(res, r.ret, r.err);
		}
		emit_died(res, hung, nhung);
		jend();
		return;
	}
	case O_SETNS:
		if (F[o->f] < 0) {
			jerror(i, o, res, "fd handle %d is not open", o->f);
			return;
		}
		c.op = C_SETNS;
		c.a[0] = o->v;
		if ((k = rpc(o->t, &c, F[o->f], &r, NULL, RPC_MS))) {
			rpc_fail(i, o, res, k);
			return;
		}
		jhead(i, o);
		jint("f", o->f);
		jstr("flags", o->kind_s);
		jreterr(res, r.ret, r.err);
		jend();
		return;
	case O_SIGACTION:
	case O_SIGMASK:
	case O_CAUGHT:
	case O_IDMAP:
	case O_SETGROUPS:
		c.op = o->kind == O_SIGACTION ? C_SIGACTION : o->kind == O_SIGMASK ? C_SIGMASK : o->kind == O_CAUGHT ? C_CAUGHT
		       : o->kind == O_IDMAP ? C_IDMAP : C_SETGROUPS;
		c.a[0] = o->v;
		c.a[1] = o->v2;
		c.a[2] = o->v3;
		c.a[3] = o->v4;
		if ((k = rpc(o->t, &c, -1, &r, NULL, RPC_MS))) {
			rpc_fail(i, o, res, k);
			return;
		}
		jhead(i, o);
		if (o->kind == O_SIGACTION)
			jint("sig", o->v);
		jreterr(res, r.ret, r.err);
		if (o->kind == O_CAUGHT) {
			int sigs[32], n = 0;
			for (int sg = 1; sg <= 31; sg++)
				if ((uint64_t)r.x[0] & (1ULL << (sg - 1)))
					sigs[n++] = sg;
			jarr("caught", sigs, n);
		}
		jend();
		return;
	case O_NSPID: {
		if (resolve_target(o, &pid) < 0) {
			emit_invisible(i, o, res);
			return;
		}
		c.op = C_NSPID;
		c.a[0] = pid;
		if ((k = rpc(o->t, &c, -1, &r, NULL, RPC_MS))) {
			rpc_fail(i, o, res, k);
			return;
		}
		jhead(i, o);
		jint("pid", pid);
		jreterr(res, r.ret, r.err);
		if (r.ret == 0) {
			jkey("nspid");
			jraw("[%s]", r.s);
			res->nsn = 0;
			for (char *p = r.s; *p && res->nsn < MAXLV;) {
				res->ns[res->nsn++] = (int)strtol(p, &p, 10);
				if (*p == ',')
					p++;
			}
		}
		jend();
		return;
	}
	}
}

// ------------------------------------------------------------- lifecycle
static void cleanup(void)
{
	pid_t t0 = g_task0;
	if (t0 <= 0)
		return;
	if (T[0].pidfd >= 0)
		syscall(SYS_pidfd_send_signal, T[0].pidfd, SIGKILL, NULL, 0);
	else
		kill(t0, SIGKILL);
	for (int h = 0; h < MAXT; h++)
		if (T[h].state != S_NONE && T[h].chan >= 0) {
			close(T[h].chan);
			T[h].chan = -1;
		}
	long deadline = now_ms() + 5000;
	while (now_ms() < deadline) {
		pid_t w = waitpid(t0, NULL, WNOHANG | __WALL);
		if (w == t0 || (w < 0 && errno == ECHILD))
			break;
		usleep(2000);
	}
	g_task0 = -1;
}

static void on_deadline(int sig)
{
	(void)sig;
	static const char msg[] = "{\"error\":\"driver timeout\"}\n{\"done\":true}\n";
	pid_t t0 = g_task0;
	if (t0 > 0)
		kill(t0, SIGKILL);
	ssize_t w = write(1, msg, sizeof msg - 1);
	(void)w;
	_exit(0);
}

static int count_own_nspid(void)
{
	char buf[4096];
	int ns[MAXLV + 8];
	if (read_file_at(AT_FDCWD, "/proc/self/status", buf, sizeof buf) <= 0)
		return -1;
	return parse_nspid(buf, ns, MAXLV + 8);
}

static void fatal_json(const char *what, int e)
{
	jbegin();
	jstr("error", what);
	jstr("errno", errname(e));
	jend();
	cleanup();
	jbegin();
	jbool("done", 1);
	jend();
	exit(0);
}

static void start_tree(void)
{
	struct stat sb;
	if (stat("/proc/self/ns/pid", &sb) < 0)
		fatal_json("stat /proc/self/ns/pid", errno);
	g_orig_pidns = sb.st_ino;
	char self[32] = { 0 }, want[32];
	snprintf(want, sizeof want, "%d", getpid());
	if (readlink("/proc/self", self, sizeof self - 1) < 0 || strcmp(self, want))
		fatal_json("/proc is not mounted for the driver's pid namespace", EINVAL);
	g_base = count_own_nspid();
	if (g_base <= 0)
		fatal_json("cannot read own NSpid", errno);
	if (unshare(CLONE_NEWPID) < 0)
		fatal_json("unshare(CLONE_NEWPID)", errno);
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		fatal_json("socketpair", errno);
	fflush(stdout);
	pid_t p = fork();
	if (p < 0)
		fatal_json("fork task 0", errno);
	if (p == 0) {
		// task 0: init of the fresh pid namespace
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		for (int s = 1; s < 65; s++)
			if (s != SIGKILL && s != SIGSTOP)
				sigaction(s, &dfl, NULL);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		alarm(0);
		setsid();
		close(sp[0]);
		for (int f = 0; f < MAXF; f++)
			if (F[f] >= 0)
				close(F[f]);
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
			close(devnull);
		}
		t_chan = sp[1];
		t_hello();
		task_loop();
	}
	g_task0 = p;
	close(sp[1]);
	const char *why = NULL;
	int rk = register_task(0, sp[0], &why);
	if (rk < 0)
		fatal_json(why, errno);
	if (rk > 0) {
		jbegin();
		jstr("warning", why);
		jstr("errno", errname(g_view_err));
		jend();
	}
}

static void run_script(void)
{
	start_tree();
	for (int i = 0; i < g_nops; i++) {
		struct op *o = &g_ops[i];
		if (o->perr[0]) {
			jbegin();
			jint("i", i);
			if (o->kind)
				jstr("op", opnames[o->kind]);
			jint("line", o->line);
			jnull("ret");
			jnull("errno");
			jstr("error", o->perr);
			jend();
			g_res[i].error = 1;
			continue;
		}
		run_op(i, o);
	}
	cleanup();
}

static int load_script(char *text)
{
	int line = 0;
	g_nops = 0;
	for (char *l = text; l && *l;) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = 0;
		line++;
		if (g_nops >= MAXOPS)
			return -1;
		struct op *o = &g_ops[g_nops];
		char buf[1024];
		snprintf(buf, sizeof buf, "%s", l);
		if (parse_line(buf, o) != 0) {
			o->line = line;
			g_nops++;
		}
		l = nl ? nl + 1 : NULL;
	}
	return 0;
}

// ---------------------------------------------------------------- selftest
static const char selftest_script[] =
	"fork 0 1\n"                    // 0: pid 2
	"fork 1 2 newpid\n"             // 1: nspid [3,1]
	"getpid 2\n"                    // 2: ret 1
	"nspid 0 2\n"                   // 3: [3,1]
	"nspid 2 0\n"                   // 4: invisible
	"clone3 0 3 100\n"              // 5: ret 100
	"clone3 0 4 100\n"              // 6: EEXIST
	"clone3 0 4 7,7,7\n"            // 7: EINVAL: more tids than levels
	"lastpid_write 0 499\n"         // 8
	"fork 0 4\n"                    // 9: pid 500
	"openns 2 2 pid 0\n"            // 10
	"openns 0 0 pid 1\n"            // 11
	"setns 0 0 newpid\n"            // 12: descendant: ok
	"setns 2 1 newpid\n"            // 13: ancestor: EINVAL
	"fork 0 5\n"                    // 14: child in 2's ns: nspid [501,2]
	"exit 1 7\n"                    // 15
	"wait 0 1\n"                    // 16: reaped 1 exited 7
	"getppid 2\n"                   // 17: 0 (parent 0 not visible)
	"dropcaps 3\n"                  // 18
	"clone3 3 6 300\n"              // 19: EPERM
	"lastpid_write 3 200\n"         // 20: EPERM
	"kill 0 2 KILL\n"               // 21: 5 dies; 2 hangs in zap_pid_ns_processes
	"wait 0 5\n"                    //     until its outside parent 0 reaps 5
	"wait 0 2\n"                    // 23: now 2 can be reaped: SIGKILL
	"wait 0 -1 wnohang\n"           // 24: 0 (3,4 alive)
	"wait 3 -1\n"                   // 25: ECHILD
	"state\n";                      // 26

static int selftest(void)
{
	char *s = strdup(selftest_script);
	load_script(s);
	run_script();
	struct {
		int op;
		const char *what;
		int ok;
	} ck[32];
	int n = 0;
#define CK(i, cond, desc) (ck[n].op = (i), ck[n].what = (desc), ck[n].ok = (g_res[i].done && !g_res[i].error && (cond)), n++)
	CK(0, g_res[0].ret == 2 && g_res[0].nsn == 1 && g_res[0].ns[0] == 2, "first child of init is pid 2");
	CK(1, g_res[1].nsn == 2 && g_res[1].ns[1] == 1, "newpid child has nspid [x,1]");
	CK(1, g_res[1].ret == g_res[1].ns[0], "fork ret is the pid in the parent's ns");
	CK(2, g_res[2].ret == 1, "getpid in new ns is 1");
	CK(3, g_res[3].nsn == 2 && g_res[3].ns[1] == 1, "NSpid from parent ns view has 2 entries");
	CK(4, g_res[4].visible == 0, "ancestor task is invisible from a child ns");
	CK(5, g_res[5].ret == 100 && g_res[5].nsn == 1 && g_res[5].ns[0] == 100, "clone3 set_tid=100 gives pid 100");
	CK(6, g_res[6].ret == -1 && g_res[6].err == EEXIST, "clone3 set_tid taken -> EEXIST");
	CK(7, g_res[7].ret == -1 && g_res[7].err == EINVAL, "clone3 set_tid_size > levels -> EINVAL");
	CK(9, g_res[9].ret == 500, "ns_last_pid=499 -> next pid 500");
	CK(12, g_res[12].ret == 0, "setns(pid) to a descendant ns: ok");
	CK(13, g_res[13].ret == -1 && g_res[13].err == EINVAL, "setns(pid) to an ancestor ns: EINVAL");
	CK(14, g_res[14].nsn == 2 && g_res[14].ns[1] == 2, "fork after setns lands in the target ns");
	CK(16, g_res[16].reaped == 1 && g_res[16].exited == 7, "wait reaps exited child with code");
	CK(17, g_res[17].ret == 0, "getppid of ns init whose parent is outside: 0");
	CK(19, g_res[19].ret == -1 && g_res[19].err == EPERM, "clone3 set_tid without caps: EPERM");
	CK(20, g_res[20].ret == -1 && g_res[20].err == EPERM, "ns_last_pid write without caps: EPERM");
	CK(21, g_res[21].ret == 0 && g_res[21].ndied == 1 && g_res[21].died[0] == 5,
	   "killing a ns init kills the setns+fork child in its ns");
	CK(22, g_res[22].reaped == 5 && g_res[22].signaled == SIGKILL, "wait reaps the killed child");
	CK(23, g_res[23].reaped == 2 && g_res[23].signaled == SIGKILL, "ns init reaped after its ns emptied");
	CK(24, g_res[24].ret == 0, "WNOHANG with live children: 0");
	CK(25, g_res[25].ret == -1 && g_res[25].err == ECHILD, "wait without children: ECHILD");
	int failed = 0;
	for (int k = 0; k < n; k++)
		failed += !ck[k].ok;
	jbegin();
	jstr("selftest", failed ? "fail" : "pass");
	jint("checks", n);
	jkey("failed");
	jraw("[");
	for (int k = 0, f = 0; k < n; k++)
		if (!ck[k].ok)
			jraw("%s{\"i\":%d,\"what\":\"%s\"}", f++ ? "," : "", ck[k].op, ck[k].what);
	jraw("]");
	jend();
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	int timeout = 120, self = 0;
	for (int k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--selftest"))
			self = 1;
		else if (!strcmp(argv[k], "--timeout") && k + 1 < argc)
			timeout = atoi(argv[++k]);
		else {
			fprintf(stderr, "usage: %s [--timeout SEC] [--selftest] < script\n", argv[0]);
			return 2;
		}
	}
	for (int f = 0; f < MAXF; f++)
		F[f] = -1;
	for (int h = 0; h < MAXT; h++)
		T[h].chan = T[h].pidfd = -1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_deadline;
	sigaction(SIGALRM, &sa, NULL);
	alarm(timeout > 0 ? (unsigned)timeout : 120);
	int rc = 0;
	if (self) {
		rc = selftest();
	} else {
		size_t cap = 1 << 16, len = 0;
		char *text = malloc(cap);
		ssize_t n;
		while (text && (n = read(0, text + len, cap - len - 1)) > 0) {
			len += n;
			if (len + 1 >= cap) {
				cap *= 2;
				text = realloc(text, cap);
			}
		}
		if (!text)
			return 1;
		text[len] = 0;
		if (load_script(text) < 0) {
			jbegin();
			jstr("error", "script too long");
			jend();
		} else {
			run_script();
		}
	}
	jbegin();
	jbool("done", 1);
	jend();
	return rc;
}

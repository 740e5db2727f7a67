// SPDX-License-Identifier: GPL-2.0-only
//
// forkbench_native.c - real-kernel fork-rate benchmark for pidrace.
//
//   forkbench_native MODE DEPTH LOOPERS MILLIS
//
//   MODE     fork | vfork | thread
//   DEPTH    nested pid namespaces to create first (0..32; unshare(CLONE_NEWPID)
//            + fork per level).  The kernel refuses a level beyond
//            MAX_PID_NS_LEVEL (32) with ENOSPC; that is reported as JSON.
//   LOOPERS  processes started in the innermost namespace (1..64), each
//            looping { fork|vfork -> child _exit(0) -> waitpid } or
//            { pthread_create -> join } until MILLIS ms have passed.
//   MILLIS   duration of the measured loop (1..600000).
//
// Output (stdout, one line):
//   {"mode":"fork","depth":31,"loopers":1,"cycles":4321,"seconds":1.000,
//    "rate":4321.0,"level":31,"per_looper":[4321]}
//   "level" is the nesting actually reached, checked through the NSpid line.
//   On failure: {"error":"...","errno":"ENOSPC","level":N,...}, exit status 1.
//
// Bounds: alarm() kills the whole run after MILLIS + 30 s; every level sets
// PR_SET_PDEATHSIG=SIGKILL so killing the top process tears down the tree.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXLOOPERS 64

struct shared {
	atomic_int ready;     // loopers that reached the start line
	atomic_int go;        // released by the coordinator
	double t_start;
	long cycles[MAXLOOPERS];
	double t_end[MAXLOOPERS];
	int err[MAXLOOPERS];
};

static struct shared *sh;
static const char *g_mode;
static int g_depth, g_loopers;
static long g_millis;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *errname(int e)
{
	const char *s = strerrorname_np(e);
	return s ? s : "EUNKNOWN";
}

static void json_error(const char *what, int e, int level)
{
	printf("{\"error\":\"%s\",\"errno\":\"%s\",\"mode\":\"%s\",\"depth\":%d,\"loopers\":%d,\"level\":%d}\n",
	       what, errname(e), g_mode, g_depth, g_loopers, level);
	fflush(stdout);
}

static int nspid_levels(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[1024];
	int n = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		n = 0;
		for (char *sv, *p = strtok_r(line + 6, " \t\n", &sv); p; p = strtok_r(NULL, " \t\n", &sv))
			n++;
	}
	fclose(f);
	return n;
}

static void *thr(void *arg)
{
	return arg;
}

// The child of fork/vfork only calls _exit(), so vfork is safe here; kept in
// its own frame so the loop's locals are not shared with a vfork child.
static __attribute__((noinline)) pid_t spawn_once(int use_vfork)
{
	pid_t p = use_vfork ? vfork() : fork();
	if (p == 0)
		_exit(0);
	return p;
}

static void looper(int idx)
{
	atomic_fetch_add(&sh->ready, 1);
	while (!atomic_load(&sh->go))
		;
	double deadline = sh->t_start + g_millis / 1000.0;
	long n = 0;
	int err = 0;
	int fork_mode = !strcmp(g_mode, "fork"), vfork_mode = !strcmp(g_mode, "vfork");
	for (;;) {
		if ((n & 15) == 0 && now() >= deadline)
			break;
		if (fork_mode || vfork_mode) {
			pid_t p = spawn_once(vfork_mode);
			if (p < 0) {
				err = errno;
				break;
			}
			if (waitpid(p, NULL, 0) != p) {
				err = errno;
				break;
			}
		} else {
			pthread_t t;
			int e = pthread_create(&t, NULL, thr, NULL);
			if (e) {
				err = e;
				break;
			}
			pthread_join(t, NULL);
		}
		n++;
	}
	sh->cycles[idx] = n;
	sh->t_end[idx] = now();
	sh->err[idx] = err;
	_exit(err ? 1 : 0);
}

// Runs in the innermost namespace: start loopers, release them together,
// collect, print.
static int coordinate(int level)
{
	pid_t kids[MAXLOOPERS];
	int started = 0;
	for (int k = 0; k < g_loopers; k++) {
		pid_t p = fork();
		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			looper(k);
		}
		if (p < 0) {
			json_error("fork looper", errno, level);
			break;
		}
		kids[started++] = p;
	}
	if (started < g_loopers) {
		for (int k = 0; k < started; k++)
			kill(kids[k], SIGKILL);
		for (int k = 0; k < started; k++)
			waitpid(kids[k], NULL, 0);
		return 1;
	}
	while (atomic_load(&sh->ready) < g_loopers)
		usleep(100);
	sh->t_start = now();
	atomic_store(&sh->go, 1);
	for (int k = 0; k < started; k++)
		waitpid(kids[k], NULL, 0);
	long total = 0;
	double end = sh->t_start;
	int err = 0;
	for (int k = 0; k < g_loopers; k++) {
		total += sh->cycles[k];
		if (sh->t_end[k] > end)
			end = sh->t_end[k];
		if (sh->err[k] && !err)
			err = sh->err[k];
	}
	double secs = end - sh->t_start;
	if (err) {
		json_error(!strcmp(g_mode, "thread") ? "pthread_create" : g_mode, err, level);
		return 1;
	}
	printf("{\"mode\":\"%s\",\"depth\":%d,\"loopers\":%d,\"cycles\":%ld,\"seconds\":%.6f,\"rate\":%.1f,"
	       "\"level\":%d,\"per_looper\":[",
	       g_mode, g_depth, g_loopers, total, secs, secs > 0 ? total / secs : 0.0, level);
	for (int k = 0; k < g_loopers; k++)
		printf("%s%ld", k ? "," : "", sh->cycles[k]);
	printf("]}\n");
	fflush(stdout);
	return 0;
}

// Create one more level (or coordinate when deep enough). Returns exit code.
static int descend(int level, int base_levels)
{
	if (level == g_depth) {
		int got = nspid_levels() - base_levels;
		if (got != g_depth) {
			json_error("nesting check failed", EPROTO, got);
			return 1;
		}
		return coordinate(level);
	}
	if (unshare(CLONE_NEWPID) < 0) {
		json_error("unshare(CLONE_NEWPID)", errno, level + 1);
		return 1;
	}
	fflush(stdout);
	pid_t p = fork();
	if (p < 0) {
		json_error("fork into new pid ns", errno, level + 1);
		return 1;
	}
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(descend(level + 1, base_levels));
	}
	int st = 0;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s fork|vfork|thread DEPTH(0..32) LOOPERS(1..%d) MILLIS\n", argv0, MAXLOOPERS);
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc != 5)
		usage(argv[0]);
	g_mode = argv[1];
	if (strcmp(g_mode, "fork") && strcmp(g_mode, "vfork") && strcmp(g_mode, "thread"))
		usage(argv[0]);
	char *e1, *e2, *e3;
	g_depth = (int)strtol(argv[2], &e1, 10);
	g_loopers = (int)strtol(argv[3], &e2, 10);
	g_millis = strtol(argv[4], &e3, 10);
	if (*e1 || *e2 || *e3 || g_depth < 0 || g_depth > 64 || g_loopers < 1 || g_loopers > MAXLOOPERS ||
	    g_millis < 1 || g_millis > 600000)
		usage(argv[0]);
	alarm((unsigned)(g_millis / 1000 + 30)); // default action kills us; PDEATHSIG does the rest
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		json_error("mmap", errno, 0);
		return 1;
	}
	memset(sh, 0, sizeof *sh);
	int base = nspid_levels();
	if (base <= 0) {
		json_error("cannot read /proc/self/status NSpid", errno ? errno : ENOENT, 0);
		return 1;
	}
	return descend(0, base);
}

/* Fixture for restoring threads. Usage: restore_threads DIR NTHREADS.
 * Worker i is named "worker-i", blocks SIGRTMIN+i only and keeps its index
 * in a thread-local variable (found through fs_base). It counts in a loop
 * whose sleep keeps a tag in xmm8 across the nanosleep system call. So a
 * thread restored without its XSAVE area, TLS base, mask or name notices.
 * One more thread waits for a flag and exits, to check that pthread_join
 * still works (it needs the kernel's clear_child_tid).
 * After READY its stdio is /dev/null. Whenever DIR/check appears, the main
 * thread checks that every counter rises and no worker saw a fault, and
 * writes "pass C0 C1 ... tids T0 T1 ..." or "fail REASON" to DIR/result.
 * When DIR/join exists too, the check first joins the waiting thread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "restore_check.h"

#define MAX_THREADS 16

static const char *dir;
static int nthreads;
static volatile unsigned long counters[MAX_THREADS];
static volatile pid_t tids[MAX_THREADS];
static char faults[MAX_THREADS][128];
static volatile int leave;
static pthread_t waiter;
static __thread int my_index = -1;

/* Sleeps 2 ms with `tag` in xmm8 and returns the value of xmm8 after the
 * call. The kernel keeps vector registers across system calls, so only a
 * restore that loses the XSAVE area changes it. */
static uint64_t sleep_with_xmm8(uint64_t tag)
{
	struct timespec ts = { 0, 2000000 };
	uint64_t out;
	long ret;
	__asm__ volatile("movq %[tag], %%xmm8\n\t"
			 "syscall\n\t"
			 "movq %%xmm8, %[out]\n\t"
			 : "=a"(ret), [out] "=r"(out)
			 : "0"((long)SYS_nanosleep), "D"(&ts), "S"(0L), [tag] "r"(tag)
			 : "rcx", "r11", "memory", "xmm8");
	(void)ret;
	return out;
}

static void fault(int i, const char *what)
{
	if (!faults[i][0])
		snprintf(faults[i], sizeof(faults[i]), "thread %d: %s", i, what);
}

static void *worker(void *arg)
{
	int i = (int)(intptr_t)arg;
	char name[16], now[16];
	sigset_t mask, current;

	my_index = i;
	snprintf(name, sizeof(name), "worker-%d", i);
	prctl(PR_SET_NAME, name);
	sigemptyset(&mask);
	sigaddset(&mask, SIGRTMIN + i);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	tids[i] = (pid_t)syscall(SYS_gettid);

	for (;;) {
		uint64_t tag = 0x5a5a000000000000ull | ((uint64_t)i << 32) | (counters[i] & 0xffffffff);
		if (sleep_with_xmm8(tag) != tag)
			fault(i, "xmm8 changed across nanosleep");
		if (my_index != i)
			fault(i, "thread-local index changed");
		pthread_sigmask(SIG_SETMASK, NULL, &current);
		for (int s = 0; s < MAX_THREADS; s++)
			if (sigismember(&current, SIGRTMIN + s) != (s == i))
				fault(i, "signal mask changed");
		prctl(PR_GET_NAME, now);
		if (strcmp(now, name) != 0)
			fault(i, "name changed");
		tids[i] = (pid_t)syscall(SYS_gettid);
		counters[i]++;
	}
	return NULL;
}

static void *wait_to_leave(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "waiter");
	while (!leave)
		usleep(1000);
	return (void *)0x600d;
}

static int exists(const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void check(void)
{
	char text[4096];
	unsigned long before[MAX_THREADS];

	if (exists("join")) {
		void *value = NULL;
		struct timespec deadline;
		leave = 1;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 3;
		if (pthread_timedjoin_np(waiter, &value, &deadline) != 0 || value != (void *)0x600d) {
			write_result(dir, "fail pthread_join of the waiting thread timed out\n");
			return;
		}
	}
	for (int i = 0; i < nthreads; i++)
		before[i] = counters[i];
	usleep(50000);
	for (int i = 0; i < nthreads; i++) {
		if (faults[i][0]) {
			snprintf(text, sizeof(text), "fail %s\n", faults[i]);
			write_result(dir, text);
			return;
		}
		if (counters[i] == before[i]) {
			snprintf(text, sizeof(text), "fail thread %d counter stuck at %lu\n", i, before[i]);
			write_result(dir, text);
			return;
		}
	}
	int n = snprintf(text, sizeof(text), "pass");
	for (int i = 0; i < nthreads; i++)
		n += snprintf(text + n, sizeof(text) - n, " %lu", counters[i]);
	n += snprintf(text + n, sizeof(text) - n, " tids");
	for (int i = 0; i < nthreads; i++)
		n += snprintf(text + n, sizeof(text) - n, " %d", (int)tids[i]);
	snprintf(text + n, sizeof(text) - n, "\n");
	write_result(dir, text);
}

int main(int argc, char **argv)
{
	pthread_t thread;

	if (argc < 3) {
		fprintf(stderr, "usage: restore_threads DIR NTHREADS\n");
		return 2;
	}
	dir = argv[1];
	nthreads = atoi(argv[2]);
	if (nthreads < 1 || nthreads > MAX_THREADS) {
		fprintf(stderr, "NTHREADS must be 1 to %d\n", MAX_THREADS);
		return 2;
	}
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */

	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&thread, NULL, worker, (void *)(intptr_t)i) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	if (pthread_create(&waiter, NULL, wait_to_leave, NULL) != 0) {
		perror("pthread_create");
		return 1;
	}
	for (int i = 0; i < nthreads; i++)
		while (!tids[i])
			usleep(1000);

	printf("READY pid=%d threads=%d\n", getpid(), nthreads);
	fflush(stdout);
	if (!freopen("/dev/null", "r", stdin) || !freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
		return 1;

	char path[4096];
	snprintf(path, sizeof(path), "%s/check", dir);
	for (;;) {
		if (access(path, F_OK) == 0) {
			check();
			unlink(path);
		}
		usleep(5000);
	}
}

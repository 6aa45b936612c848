/* Fixture for restore of pending signals. Usage: restore_signals DIR [thread].
 * Blocks SIGRTMIN, SIGRTMIN+1, SIGUSR1 and SIGUSR2, each with a handler that
 * counts deliveries, and queues SIGRTMIN five times process-wide with values
 * 100-104, SIGRTMIN+1 with value 777 on the main thread only, SIGUSR1 with
 * kill() and SIGUSR2 with tgkill(). When DIR/check appears, it checks the
 * pending sets in /proc/self/status, then takes every signal with
 * rt_sigtimedwait() and checks order, codes, senders and values. The check
 * takes the signals, so only the first one can pass. With "thread", a
 * second thread with every signal blocked also has SIGRTMIN+2 with value 555
 * queued on it, and the check reads that thread's SigPnd. It writes
 * "pass COUNTER PID" or "fail REASON" to DIR/result. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "restore_check.h"

static char dir[2048];
static pid_t original_pid;
static uid_t original_uid;
static volatile sig_atomic_t delivered;
static volatile pid_t second_tid;
static volatile unsigned long counter;

static void count_delivery(int sig)
{
	(void)sig;
	delivered++;
}

/* Returns the hex mask of "Key:\t..." in /proc/self/task/TID/status, or ~0 when missing. */
static unsigned long long task_mask(pid_t tid, const char *key)
{
	char path[64], text[8192];
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
	if (fd >= 0) close(fd);
	if (n <= 0) return ~0ull;
	text[n] = 0;
	char *line = strstr(text, key);
	return line ? strtoull(line + strlen(key) + 2, NULL, 16) : ~0ull;
}

static unsigned long long status_mask(const char *key)
{
	return task_mask(getpid(), key);
}

static void *wait_forever(void *unused)
{
	(void)unused;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	second_tid = gettid();
	for (;;)
		pause();
	return NULL;
}

static int take(int sig, int code, int value, int has_value, char *why, size_t len)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	struct timespec none = { 0, 0 };
	siginfo_t info;
	/* The raw call, because glibc's sigtimedwait() reports SI_TKILL as SI_USER. */
	if (syscall(SYS_rt_sigtimedwait, &set, &info, &none, 8) != sig) { snprintf(why, len, "signal %d not pending", sig); return 0; }
	if (info.si_code != code) { snprintf(why, len, "signal %d code %d", sig, info.si_code); return 0; }
	if (info.si_pid != original_pid || info.si_uid != original_uid) {
		snprintf(why, len, "signal %d sender %d/%u", sig, info.si_pid, info.si_uid);
		return 0;
	}
	if (has_value && info.si_value.sival_int != value) {
		snprintf(why, len, "signal %d value %d, expected %d", sig, info.si_value.sival_int, value);
		return 0;
	}
	return 1;
}

static int check(char *why, size_t len)
{
	unsigned long long shared = status_mask("ShdPnd:"), own = status_mask("SigPnd:");
	unsigned long long want_shared = 1ull << (SIGRTMIN - 1) | 1ull << (SIGUSR1 - 1);
	unsigned long long want_own = 1ull << (SIGRTMIN + 1 - 1) | 1ull << (SIGUSR2 - 1);
	if (shared != want_shared) { snprintf(why, len, "ShdPnd %llx", shared); return 0; }
	if (own != want_own) { snprintf(why, len, "SigPnd %llx", own); return 0; }
	if (delivered) { snprintf(why, len, "%d signals delivered early", (int)delivered); return 0; }
	if (second_tid && task_mask(second_tid, "SigPnd:") != 1ull << (SIGRTMIN + 2 - 1)) {
		snprintf(why, len, "thread %d SigPnd %llx", second_tid, task_mask(second_tid, "SigPnd:"));
		return 0;
	}
	if (!take(SIGRTMIN + 1, SI_QUEUE, 777, 1, why, len)) return 0;
	for (int i = 0; i < 5; i++)
		if (!take(SIGRTMIN, SI_QUEUE, 100 + i, 1, why, len)) return 0;
	if (!take(SIGUSR1, SI_USER, 0, 0, why, len)) return 0;
	if (!take(SIGUSR2, SI_TKILL, 0, 0, why, len)) return 0;
	if (status_mask("ShdPnd:") != 0 || status_mask("SigPnd:") != 0) { snprintf(why, len, "signals left pending"); return 0; }
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) { fprintf(stderr, "usage: restore_signals DIR\n"); return 2; }
	snprintf(dir, sizeof(dir), "%.2000s", argv[1]);
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */
	original_pid = getpid();
	original_uid = getuid();

	int signals[] = { SIGRTMIN, SIGRTMIN + 1, SIGUSR1, SIGUSR2 };
	sigset_t set;
	sigemptyset(&set);
	for (int i = 0; i < 4; i++) {
		struct sigaction action = { .sa_handler = count_delivery };
		sigaction(signals[i], &action, NULL);
		sigaddset(&set, signals[i]);
	}
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (int i = 0; i < 5; i++) {
		union sigval value = { .sival_int = 100 + i };
		sigqueue(getpid(), SIGRTMIN, value);
	}
	siginfo_t info = { 0 };
	info.si_signo = SIGRTMIN + 1;
	info.si_code = SI_QUEUE;
	info.si_pid = getpid();
	info.si_uid = getuid();
	info.si_value.sival_int = 777;
	syscall(SYS_rt_tgsigqueueinfo, getpid(), getpid(), SIGRTMIN + 1, &info);
	kill(getpid(), SIGUSR1);
	syscall(SYS_tgkill, getpid(), getpid(), SIGUSR2);
	if (argc > 2 && strcmp(argv[2], "thread") == 0) {
		pthread_t thread;
		if (pthread_create(&thread, NULL, wait_forever, NULL) != 0) { perror("pthread_create"); return 1; }
		while (!second_tid)
			usleep(1000);
		siginfo_t other = { 0 };
		other.si_signo = SIGRTMIN + 2;
		other.si_code = SI_QUEUE;
		other.si_pid = getpid();
		other.si_uid = getuid();
		other.si_value.sival_int = 555;
		syscall(SYS_rt_tgsigqueueinfo, getpid(), second_tid, SIGRTMIN + 2, &other);
	}

	printf("READY pid=%d\n", getpid());
	fflush(stdout);
	detach_stdio();
	serve_checks(dir, &counter, check);
}

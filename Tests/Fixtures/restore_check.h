/*
 * The self-check protocols shared by the restore fixtures. With
 * serve_checks, the test creates DIR/check after restore, and the fixture
 * runs its check() and writes "pass COUNTER PID" or "fail REASON" to
 * DIR/result. With serve_signal_checks, the test sends SIGUSR1 instead, and
 * the fixture writes "pass" or "fail REASON". DIR/result is renamed into
 * place so the test never reads half a line.
 */
#ifndef RESTORE_CHECK_H
#define RESTORE_CHECK_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline void write_result(const char *dir, const char *text)
{
	char path[4096], final[4096];
	snprintf(path, sizeof(path), "%s/result.tmp", dir);
	snprintf(final, sizeof(final), "%s/result", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0) { }
	close(fd);
	rename(path, final);
}

/* Points stdin, stdout and stderr at /dev/null, so that nothing the fixture
 * prints after READY reaches the test. stdout goes last: a test that waits
 * for EOF on it can then rely on stdin and stderr being detached too. */
static inline void detach_stdio(void)
{
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 2);
	dup2(null, 1);
	close(null);
}

/* Counts every 2 ms and answers each DIR/check request with check(). */
static inline void serve_checks(const char *dir, volatile unsigned long *counter, int (*check)(char *why, size_t len))
{
	char check_path[4096];
	snprintf(check_path, sizeof(check_path), "%s/check", dir);
	for (;;) {
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		(*counter)++;
		nanosleep(&pause, NULL);
		if (access(check_path, F_OK) != 0)
			continue;

		char why[256], text[512];
		if (check(why, sizeof(why)))
			snprintf(text, sizeof(text), "pass %lu %d\n", *counter, getpid());
		else
			snprintf(text, sizeof(text), "fail %s\n", why);
		unlink(check_path);
		write_result(dir, text);
	}
}

/* Set by SIGUSR1 once request_checks_on_signal has installed its handler. */
static volatile sig_atomic_t check_requested __attribute__((unused));

static inline void on_check_signal(int sig) { (void)sig; check_requested = 1; }

/* Makes SIGUSR1 request a check. Call it before printing READY, because
 * SIGUSR1's default action ends the process. */
static inline void request_checks_on_signal(void)
{
	struct sigaction action = { .sa_handler = on_check_signal };
	sigaction(SIGUSR1, &action, NULL);
}

/* Looks every 2 ms for a SIGUSR1 request, runs check() for each and writes
 * the outcome to DIR/result. */
static inline void serve_signal_checks(const char *dir, int (*check)(char *why, size_t len))
{
	for (;;) {
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		nanosleep(&pause, NULL);
		if (!check_requested)
			continue;
		check_requested = 0;
		char why[256] = "", text[300];
		int ok = check(why, sizeof(why));
		snprintf(text, sizeof(text), ok ? "pass\n" : "fail %s\n", why);
		write_result(dir, text);
	}
}

#endif

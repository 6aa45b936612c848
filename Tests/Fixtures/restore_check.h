/*
 * The self-check protocol shared by the restore fixtures. After restore the
 * test creates DIR/check; the fixture then runs its check() and writes
 * "pass COUNTER PID" or "fail REASON" to DIR/result, renamed into place so
 * the test never reads half a line.
 */
#ifndef RESTORE_CHECK_H
#define RESTORE_CHECK_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void write_result(const char *dir, const char *text)
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

/* Points stdin, stdout and stderr at /dev/null once READY is printed. */
static void detach_stdio(void)
{
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	close(null);
}

/* Counts every 2 ms and answers each DIR/check request with check(). */
static void serve_checks(const char *dir, volatile unsigned long *counter, int (*check)(char *why, size_t len))
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

#endif

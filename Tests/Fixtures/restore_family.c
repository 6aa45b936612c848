/* Fixture for restoring a process family. Usage: restore_family DIR.
 * The parent has four children:
 * - a zombie that exited with status 3 and is not reaped;
 * - a child in its own process group, stopped by SIGTSTP;
 * - a worker that leads a new session and replies to "ping" on one pipe
 *   with "pong SID PGID PPID" on another (1 MiB capacity), and whose own
 *   child (the grandchild) sits in the worker's session and group;
 * - a child that exited and was reaped, of which only a pidfd remains.
 * The parent also holds a pidfd of the worker, and it and the worker hold
 * the write end of a pipe whose read end is closed.
 * It prints "READY pid=P zombie=Z stopped=S worker=W grandchild=G", then
 * all stdio is /dev/null. Whenever DIR/check appears, the parent checks the
 * whole family and writes "pass COUNTER" or "fail REASON" to DIR/result.
 * When DIR/reap exists too, the check reaps the zombie with waitpid(). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "restore_check.h"

static const char *dir;
static pid_t zombie, stopped, worker, grandchild;
static int request[2], reply[2], worker_pidfd, reaped_pidfd;
static volatile unsigned long counter;

static int exists(const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* Returns the "Pid:" line of a pidfd's fdinfo, or -2 when missing. */
static int pidfd_target(int fd)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	int info = open(path, O_RDONLY);
	ssize_t n = info >= 0 ? read(info, text, sizeof(text) - 1) : -1;
	if (info >= 0)
		close(info);
	text[n > 0 ? n : 0] = 0;
	char *line = strstr(text, "Pid:\t");
	return line ? atoi(line + 5) : -2;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], text[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	char *end = strrchr(text, ')');
	int ppid = -1;
	if (!end || sscanf(end + 2, "%*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

static int check(char *why, size_t len)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	if (waitid(P_PID, zombie, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != zombie
	    || info.si_code != CLD_EXITED || info.si_status != 3) {
		snprintf(why, len, "zombie %d not waitable with status 3 (pid %d code %d status %d)", zombie, info.si_pid,
			 info.si_code, info.si_status);
		return 0;
	}
	/* A restored child stops again shortly after it is released, so wait up to 2 s. */
	for (int i = 0; i < 200; i++) {
		memset(&info, 0, sizeof(info));
		if (waitid(P_PID, stopped, &info, WSTOPPED | WNOHANG | WNOWAIT) == 0 && info.si_pid == stopped)
			break;
		usleep(10000);
	}
	if (info.si_pid != stopped || info.si_status != SIGTSTP) {
		snprintf(why, len, "child %d not stopped by SIGTSTP (pid %d status %d)", stopped, info.si_pid, info.si_status);
		return 0;
	}
	if (getpgid(stopped) != stopped || getsid(stopped) != getsid(0)) {
		snprintf(why, len, "stopped child group %d session %d", getpgid(stopped), getsid(stopped));
		return 0;
	}

	if (write(request[1], "ping\n", 5) != 5) {
		snprintf(why, len, "writing ping: %s", strerror(errno));
		return 0;
	}
	struct pollfd ready = { .fd = reply[0], .events = POLLIN };
	char text[128] = { 0 };
	if (poll(&ready, 1, 3000) != 1 || read(reply[0], text, sizeof(text) - 1) <= 0) {
		snprintf(why, len, "no pong from the worker");
		return 0;
	}
	int sid = 0, pgid = 0, ppid = 0;
	if (sscanf(text, "pong %d %d %d", &sid, &pgid, &ppid) != 3 || sid != worker || pgid != worker || ppid != getpid()) {
		snprintf(why, len, "worker replied '%.60s'", text);
		return 0;
	}
	if (fcntl(reply[0], F_GETPIPE_SZ) != 1 << 20) {
		snprintf(why, len, "reply pipe capacity %d", fcntl(reply[0], F_GETPIPE_SZ));
		return 0;
	}
	if (getsid(grandchild) != worker || getpgid(grandchild) != worker || parent_of(grandchild) != worker) {
		snprintf(why, len, "grandchild session %d group %d parent %d", getsid(grandchild), getpgid(grandchild),
			 parent_of(grandchild));
		return 0;
	}
	if (pidfd_target(worker_pidfd) != worker || syscall(SYS_pidfd_send_signal, worker_pidfd, 0, NULL, 0) != 0) {
		snprintf(why, len, "worker pidfd points at %d", pidfd_target(worker_pidfd));
		return 0;
	}
	if (pidfd_target(reaped_pidfd) != -1) {
		snprintf(why, len, "reaped pidfd points at %d", pidfd_target(reaped_pidfd));
		return 0;
	}
	if (exists("reap")) {
		int status = 0;
		if (waitpid(zombie, &status, WNOHANG) != zombie || !WIFEXITED(status) || WEXITSTATUS(status) != 3) {
			snprintf(why, len, "waitpid of zombie %d gave status %#x", zombie, status);
			return 0;
		}
	}
	return 1;
}

static void run_worker(void)
{
	char text[128];
	setsid();
	grandchild = fork();
	if (grandchild == 0)
		for (;;)
			pause();
	close(request[1]);
	close(reply[0]);
	for (;;) {
		ssize_t n = read(request[0], text, sizeof(text));
		if (n <= 0)
			_exit(1);
		int len = snprintf(text, sizeof(text), "pong %d %d %d\n", getsid(0), getpgid(0), getppid());
		if (write(reply[1], text, len) != len)
			_exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: restore_family DIR\n");
		return 2;
	}
	dir = argv[1];
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */
	int out = dup(1);
	detach_stdio();

	if (pipe(request) != 0 || pipe(reply) != 0 || fcntl(reply[1], F_SETPIPE_SZ, 1 << 20) < 0)
		return 1;
	zombie = fork();
	if (zombie == 0)
		_exit(3);
	stopped = fork();
	if (stopped == 0) {
		close(out);
		setpgid(0, 0);
		for (;;)
			pause();
	}
	setpgid(stopped, stopped);

	/* A pipe whose read end every process has closed: restore must not
	 * leave a reader on it. */
	int readerless[2];
	if (pipe(readerless) != 0)
		return 1;
	close(readerless[0]);
	dup2(readerless[1], 40);	/* fd 9 and below are the tests' to alter */
	close(readerless[1]);

	worker = fork();
	if (worker == 0) {
		close(out);
		run_worker();
	}
	close(request[0]);
	close(reply[1]);

	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	worker_pidfd = syscall(SYS_pidfd_open, worker, 0);
	reaped_pidfd = syscall(SYS_pidfd_open, gone, 0);
	waitpid(gone, NULL, 0);

	/* One round trip, so the worker has forked its child before the search. */
	if (write(request[1], "ping\n", 5) != 5)
		return 1;
	char text[128] = { 0 };
	if (read(reply[0], text, sizeof(text) - 1) <= 0)
		return 1;
	for (int i = 0; i < 200; i++) {
		char path[64], children[64] = { 0 };
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", worker, worker);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(children, sizeof(children), f))
				grandchild = atoi(children);
			fclose(f);
		}
		if (grandchild > 0 && getsid(grandchild) == worker)
			break;
		usleep(10000);
	}
	usleep(100000);
	kill(stopped, SIGTSTP);
	for (int i = 0; i < 200; i++) {
		siginfo_t info = { 0 };
		if (waitid(P_PID, stopped, &info, WSTOPPED | WNOHANG | WNOWAIT) == 0 && info.si_pid == stopped)
			break;
		usleep(10000);
	}

	dprintf(out, "READY pid=%d zombie=%d stopped=%d worker=%d grandchild=%d\n", getpid(), zombie, stopped, worker,
		grandchild);
	close(out);

	char path[4096], why[512];
	snprintf(path, sizeof(path), "%s/check", dir);
	for (;;) {
		counter++;
		if (access(path, F_OK) == 0) {
			if (check(why, sizeof(why))) {
				char line[64];
				snprintf(line, sizeof(line), "pass %lu\n", counter);
				write_result(dir, line);
			} else {
				char line[600];
				snprintf(line, sizeof(line), "fail %s\n", why);
				write_result(dir, line);
			}
			unlink(path);
		}
		usleep(5000);
	}
}

#define _GNU_SOURCE
/* Where to run an injected system call, and the guardian process that
 * reaps snapshot copies when bpfcp dies (bpfcp_inject.h).
 *
 * The guardian is forked from a multi-threaded process, so it uses only
 * async-signal-safe calls: no malloc, no stdio. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include "bpfcp_inject.h"
#include "bpfcp_pagehash.h"

#define GUARDED_MAX 256
#define WAIT4_NR 61

enum { GUARD_ADD = 1, GUARD_FORGET = 2, GUARD_QUIT = 3 };

struct guard_message {
	int32_t op;
	int32_t target;
	int32_t copy;
	int32_t copy_in_target;
};

/* Writes "/proc/<pid>/<rest>" into buf without stdio. */
static void proc_path(char *buf, size_t len, pid_t pid, const char *rest)
{
	char digits[16];
	int n = 0;
	size_t at;

	do {
		digits[n++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0 && n < 15);
	memcpy(buf, "/proc/", 6);
	at = 6;
	while (n > 0 && at < len - 1)
		buf[at++] = digits[--n];
	if (at < len - 1)
		buf[at++] = '/';
	for (; *rest && at < len - 1; rest++)
		buf[at++] = *rest;
	buf[at] = 0;
}

static int read_memory(pid_t pid, uint64_t address, void *out, size_t count)
{
	char path[64];
	int fd;
	ssize_t n;

	proc_path(path, sizeof(path), pid, "mem");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, out, count, (off_t)address);
	close(fd);
	return n == (ssize_t)count ? 0 : -EIO;
}

static uint64_t parse_hex(const char **p)
{
	uint64_t value = 0;

	for (;; (*p)++) {
		char c = **p;
		if (c >= '0' && c <= '9')
			value = value * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			value = value * 16 + (uint64_t)(c - 'a' + 10);
		else
			return value;
	}
}

/* Finds the [vdso] line of /proc/PID/maps and a 0f 05 pair inside it. */
static int vdso_site(pid_t pid, uint64_t *site)
{
	static char maps[65536];
	unsigned char code[16384];
	char path[64];
	ssize_t n, total = 0;
	int fd;
	char *line;

	proc_path(path, sizeof(path), pid, "maps");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (total < (ssize_t)sizeof(maps) - 1 && (n = read(fd, maps + total, sizeof(maps) - 1 - (size_t)total)) > 0)
		total += n;
	close(fd);
	maps[total] = 0;
	line = strstr(maps, "[vdso]");
	if (!line)
		return -ENOENT;
	while (line > maps && line[-1] != '\n')
		line--;

	const char *p = line;
	uint64_t start = parse_hex(&p);
	p++;
	uint64_t end = parse_hex(&p);
	if (end <= start || end - start > sizeof(code) || read_memory(pid, start, code, end - start) != 0)
		return -EIO;
	for (uint64_t i = 0; i + 1 < end - start; i++) {
		if (code[i] == 0x0F && code[i + 1] == 0x05) {
			*site = start + i;
			return 0;
		}
	}
	return -ENOENT;
}

int bpfcp_find_syscall_site(pid_t pid, pid_t tid, uint64_t *site)
{
	struct user_regs_struct regs;
	unsigned char before[2];
	uint64_t rseq = 0, critical = 0;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) != 0)
		return -errno;
	if ((long long)regs.orig_rax >= 0 && regs.rip >= 2 && read_memory(pid, regs.rip - 2, before, 2) == 0 &&
	    before[0] == 0x0F && before[1] == 0x05) {
		*site = regs.rip - 2;
		return 0;
	}
	/* struct rseq: cpu_id_start and cpu_id (4 bytes each), then the critical-section pointer. */
	if (bpfcp_get_rseq_area(tid, &rseq) == 0 && rseq != 0 &&
	    (read_memory(pid, rseq + 8, &critical, 8) != 0 || critical != 0))
		return -EBUSY;
	return vdso_site(pid, site);
}

/* ---- the guardian ---- */

static void nap(long microseconds)
{
	struct timespec ts = { microseconds / 1000000, (microseconds % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

char bpfcp_task_state(pid_t pid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;
	char *close_paren;

	proc_path(path, sizeof(path), pid, "stat");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] && close_paren[2] ? close_paren[2] : 0;
}

/* Holds tid, makes it call wait4(copy, NULL, __WALL | WNOHANG, NULL) and lets it go. */
static int reap_through(pid_t target, pid_t tid, pid_t copy_in_target)
{
	struct bpfcp_injection out;
	uint64_t args[6] = { (uint64_t)(uint32_t)copy_in_target, 0, 0x40000000 | WNOHANG, 0, 0, 0 };
	uint64_t site;
	int status, rc;

	memset(&out, 0, sizeof(out));
	for (int attempt = 0; ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0; attempt++) {
		/* Until bpfcp's exit has detached it, the thread is still traced (EPERM). */
		if (errno != EPERM || attempt > 200)
			return -errno;
		nap(10000);
	}
	ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
	if (waitpid(tid, &status, __WALL) != tid || !WIFSTOPPED(status))
		return -ESRCH;
	if (status >> 16 != PTRACE_EVENT_STOP) {
		ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)WSTOPSIG(status));
		return -EAGAIN;
	}
	rc = bpfcp_find_syscall_site(target, tid, &site);
	if (rc == 0)
		rc = bpfcp_inject_syscall(tid, site, WAIT4_NR, args, &out);
	ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)out.signal);
	return rc;
}

static void reap_copy(const struct guard_message *job)
{
	char path[64];
	char entries[4096];
	int fd;
	long n;

	/* PTRACE_O_EXITKILL kills the copy as bpfcp's exit detaches it. */
	for (int i = 0; i < 500 && bpfcp_task_state(job->copy) != 'Z' && bpfcp_task_state(job->copy) != 0; i++)
		nap(10000);
	/* Gone already (bpfcp reaped it just before dying): its pid may be reused, so wait for nothing. */
	if (bpfcp_task_state(job->copy) != 'Z')
		return;
	if (reap_through(job->target, job->target, job->copy_in_target) == 0)
		return;

	proc_path(path, sizeof(path), job->target, "task");
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	while ((n = syscall(SYS_getdents64, fd, entries, sizeof(entries))) > 0) {
		for (long at = 0; at < n;) {
			struct dirent64 *entry = (struct dirent64 *)(entries + at);
			pid_t tid = 0;

			for (const char *c = entry->d_name; *c >= '0' && *c <= '9'; c++)
				tid = tid * 10 + (*c - '0');
			at += entry->d_reclen;
			if (tid > 0 && tid != job->target && reap_through(job->target, tid, job->copy_in_target) == 0) {
				close(fd);
				return;
			}
		}
	}
	close(fd);
}

static void guardian_main(int control)
{
	static struct guard_message jobs[GUARDED_MAX];
	struct guard_message message;
	struct sigaction ignore;
	int count = 0;

	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	for (int sig = 1; sig < 32; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD)
			sigaction(sig, &ignore, NULL);
	}
	if (control > 0)
		syscall(SYS_close_range, 0, control - 1, 0);
	syscall(SYS_close_range, control + 1, ~0U, 0);

	for (;;) {
		ssize_t n = read(control, &message, sizeof(message));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(message))
			break;
		if (message.op == GUARD_QUIT)
			_exit(0);
		if (message.op == GUARD_ADD && count < GUARDED_MAX)
			jobs[count++] = message;
		if (message.op == GUARD_FORGET) {
			for (int i = 0; i < count; i++) {
				if (jobs[i].copy == message.copy)
					jobs[i] = jobs[--count];
			}
		}
	}
	/* EOF: bpfcp died with copies alive. */
	for (int i = 0; i < count; i++)
		reap_copy(&jobs[i]);
	_exit(0);
}

pid_t bpfcp_guardian_start(int *control_fd)
{
	int fds[2];
	pid_t pid;

	/* A socket rather than a pipe, so that writing after the guardian died fails with EPIPE instead of raising SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = errno;
		close(fds[0]);
		close(fds[1]);
		return -err;
	}
	if (pid == 0)
		guardian_main(fds[0]);
	close(fds[0]);
	*control_fd = fds[1];
	return pid;
}

int bpfcp_guardian_watch(int control_fd, pid_t target, pid_t copy, pid_t copy_in_target, int add)
{
	struct guard_message message = { add ? GUARD_ADD : GUARD_FORGET, target, copy, copy_in_target };

	return send(control_fd, &message, sizeof(message), MSG_NOSIGNAL) == (ssize_t)sizeof(message) ? 0 : -errno;
}

void bpfcp_guardian_stop(int control_fd, pid_t guardian)
{
	struct guard_message message = { GUARD_QUIT, 0, 0, 0 };
	int status;

	/* A failed send means the guardian is gone already. */
	send(control_fd, &message, sizeof(message), MSG_NOSIGNAL);
	close(control_fd);
	while (waitpid(guardian, &status, 0) < 0 && errno == EINTR) {
	}
}

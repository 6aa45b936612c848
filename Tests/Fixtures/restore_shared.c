/* Fixture for restore of shared memory and shared open files. Usage:
 *   restore_shared memfd DIR
 *     A memfd "shared-map" of 3 pages, open at fd M, mapped three times.
 *     All 3 pages are MAP_SHARED read-write at 0x5a0000000000. Pages 1
 *     and 2 are MAP_PRIVATE read-write at 0x5a0000100000, where page 1 was
 *     written and so copied. Page 2 is MAP_SHARED read-only at 0x5a0000200000.
 *   restore_shared family DIR
 *     A parent and child that share, from before fork(): a MAP_SHARED|
 *     MAP_ANONYMOUS page at 0x5b0000000000, a memfd page mapped MAP_SHARED
 *     at 0x5b0000100000, one open file description on DIR/data (fd F in
 *     both, and a dup of it at fd G in the parent), and an eventfd with
 *     count 5. On each check the parent asks the child, through the
 *     anonymous page, to write to both pages, to lseek and read F and to
 *     add 1 to the eventfd, then checks what it sees.
 *   restore_shared unix DIR
 *     A parent listening on the unix stream socket DIR/sock and a child
 *     connected to it; the parent accepted the connection. Each side has
 *     unread bytes: "hello" for the parent, "back" for the child. The check
 *     (run once, after restore) reads "hello", asks the child through the
 *     connection (it replies 'P' once it has read "back"), and connects to
 *     the listener again.
 * When DIR/check appears, the parent checks and writes "pass COUNTER PID"
 * or "fail REASON" to DIR/result. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "restore_check.h"

#define PAGE 4096
#define SHARED_AT ((char *)0x5a0000000000UL)
#define PRIVATE_AT ((char *)0x5a0000100000UL)
#define READONLY_AT ((char *)0x5a0000200000UL)
#define ANON_AT ((char *)0x5b0000000000UL)
#define MEMFD_AT ((char *)0x5b0000100000UL)

static char dir[2048];
static int memfd, file_fd, dup_fd, event_fd, listener, connection;
static struct sockaddr_un address = { .sun_family = AF_UNIX };
static volatile unsigned long counter;

static unsigned char pattern(int i) { return (unsigned char)(i * 13 + 5); }

/* Finds the /proc/self/maps line of the area at `start`; returns 1 when its
 * permissions and path are as given. */
static int check_area(char *start, const char *perms, const char *path, char *why, size_t len)
{
	char line[4096], want[32];
	snprintf(want, sizeof(want), "%lx-", (unsigned long)start);
	FILE *maps = fopen("/proc/self/maps", "r");
	if (!maps) { snprintf(why, len, "no maps"); return 0; }
	int found = 0;
	while (fgets(line, sizeof(line), maps)) {
		if (strncmp(line, want, strlen(want)) != 0)
			continue;
		found = strstr(line, perms) != NULL && strstr(line, path) != NULL;
		if (!found) snprintf(why, len, "area %.300s", line);
		break;
	}
	fclose(maps);
	if (!found && strncmp(why, "area", 4) != 0) snprintf(why, len, "no area at %p", start);
	return found;
}

static int check_memfd(char *why, size_t len)
{
	unsigned char byte;
	if (!check_area(SHARED_AT, "rw-s 00000000", "/memfd:shared-map (deleted)", why, len)) return 0;
	if (!check_area(PRIVATE_AT, "rw-p 00001000", "/memfd:shared-map (deleted)", why, len)) return 0;
	if (!check_area(READONLY_AT, "r--s 00002000", "/memfd:shared-map (deleted)", why, len)) return 0;
	for (int i = 0; i < 3 * PAGE; i++) {
		if (i == 10 || i == 11) continue;
		if ((unsigned char)SHARED_AT[i] != pattern(i)) { snprintf(why, len, "shared byte %d", i); return 0; }
	}
	if (memcmp(SHARED_AT + 10, "mm", 2) != 0) { snprintf(why, len, "the write through the shared mapping is gone"); return 0; }
	if (memcmp(PRIVATE_AT, "private copy", 12) != 0) { snprintf(why, len, "the private page lost its copy"); return 0; }
	if (pread(memfd, &byte, 1, PAGE) != 1 || byte != pattern(PAGE)) { snprintf(why, len, "the private write reached the memfd"); return 0; }
	if ((unsigned char)PRIVATE_AT[PAGE + 7] != pattern(2 * PAGE + 7)) { snprintf(why, len, "private page 2"); return 0; }
	if ((unsigned char)READONLY_AT[9] != pattern(2 * PAGE + 9)) { snprintf(why, len, "read-only byte"); return 0; }

	/* One object: a write through the fd shows in every mapping of the page. */
	if (pwrite(memfd, "fd", 2, 2 * PAGE + 100) != 2) { snprintf(why, len, "pwrite"); return 0; }
	int seen = memcmp(SHARED_AT + 2 * PAGE + 100, "fd", 2) == 0 && memcmp(READONLY_AT + 100, "fd", 2) == 0
		&& memcmp(PRIVATE_AT + PAGE + 100, "fd", 2) == 0;
	unsigned char old[2] = { pattern(2 * PAGE + 100), pattern(2 * PAGE + 101) };
	if (pwrite(memfd, old, 2, 2 * PAGE + 100) != 2) { snprintf(why, len, "pwrite back"); return 0; }
	if (!seen) { snprintf(why, len, "a write through the fd is not seen in the mappings"); return 0; }
	SHARED_AT[200] = 'x';
	if (pread(memfd, &byte, 1, 200) != 1 || byte != 'x') { snprintf(why, len, "a write through the mapping is not seen through the fd"); return 0; }
	SHARED_AT[200] = (char)pattern(200);
	return 1;
}

static int setup_memfd(void)
{
	unsigned char data[3 * PAGE];
	for (int i = 0; i < (int)sizeof(data); i++)
		data[i] = pattern(i);
	memfd = memfd_create("shared-map", 0);
	if (memfd < 0 || write(memfd, data, sizeof(data)) != sizeof(data)) return -1;
	if (mmap(SHARED_AT, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, memfd, 0) != SHARED_AT) return -1;
	if (mmap(PRIVATE_AT, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED_NOREPLACE, memfd, PAGE) != PRIVATE_AT) return -1;
	if (mmap(READONLY_AT, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, memfd, 2 * PAGE) != READONLY_AT) return -1;
	memcpy(SHARED_AT + 10, "mm", 2);
	memcpy(PRIVATE_AT, "private copy", 12);
	return 0;
}

/* The anonymous page: request number at 0, reply number at 8, text from 64 on. */
static volatile unsigned long *request(void) { return (volatile unsigned long *)ANON_AT; }
static volatile unsigned long *reply(void) { return (volatile unsigned long *)(ANON_AT + 8); }

static void serve_child(void)
{
	unsigned long done = *reply();
	for (;;) {
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		nanosleep(&pause, NULL);
		unsigned long requested = *request();
		if (requested == done)
			continue;
		char buf[8];
		snprintf(ANON_AT + 64, 64, "child %lu", requested);
		snprintf(MEMFD_AT + 64, 64, "memfd %lu", requested);
		if (lseek(file_fd, (off_t)(100 + requested), SEEK_SET) < 0 || read(file_fd, buf, 5) != 5)
			snprintf(ANON_AT + 64, 64, "child read failed");
		if (eventfd_write(event_fd, 1) != 0)
			snprintf(ANON_AT + 64, 64, "child eventfd write failed");
		__atomic_store_n(reply(), requested, __ATOMIC_SEQ_CST);
		done = requested;
	}
}

/* Reads the eventfd's count from /proc/self/fdinfo without consuming it. */
static unsigned long long event_count(void)
{
	char path[64], line[256];
	unsigned long long count = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", event_fd);
	FILE *info = fopen(path, "r");
	while (info && fgets(line, sizeof(line), info))
		if (strncmp(line, "eventfd-count:", 14) == 0)
			count = strtoull(line + 14, NULL, 16);
	if (info) fclose(info);
	return count;
}

static int check_family(char *why, size_t len)
{
	char want[64];
	unsigned long long count = event_count();
	if (!check_area(ANON_AT, "rw-s 00000000", "/dev/zero (deleted)", why, len)) return 0;
	if (!check_area(MEMFD_AT, "rw-s 00000000", "/memfd:family (deleted)", why, len)) return 0;
	if (strcmp(ANON_AT + 128, "shared after fork") != 0 || strcmp(MEMFD_AT + 128, "memfd after fork") != 0) {
		snprintf(why, len, "the shared pages lost their content");
		return 0;
	}
	unsigned long requested = *request() + 1;
	__atomic_store_n(request(), requested, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 2500 && *reply() != requested; i++) {
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	if (*reply() != requested) { snprintf(why, len, "the child did not reply through the shared page"); return 0; }
	snprintf(want, sizeof(want), "child %lu", requested);
	if (strcmp(ANON_AT + 64, want) != 0) { snprintf(why, len, "anonymous page holds %.60s", ANON_AT + 64); return 0; }
	snprintf(want, sizeof(want), "memfd %lu", requested);
	if (strcmp(MEMFD_AT + 64, want) != 0) { snprintf(why, len, "memfd page holds %.60s", MEMFD_AT + 64); return 0; }
	if (count < 5 || event_count() != count + 1) { snprintf(why, len, "eventfd count %llu, then %llu", count, event_count()); return 0; }
	off_t position = lseek(file_fd, 0, SEEK_CUR);
	if (position != (off_t)(105 + requested)) { snprintf(why, len, "the child's read left the parent at %lld", (long long)position); return 0; }
	if (lseek(dup_fd, 7, SEEK_SET) != 7 || lseek(file_fd, 0, SEEK_CUR) != 7) { snprintf(why, len, "fd %d is no dup of fd %d", dup_fd, file_fd); return 0; }
	return 1;
}

static int setup_family(void)
{
	char path[4096], data[PAGE];
	snprintf(path, sizeof(path), "%s/data", dir);
	memset(data, 'd', sizeof(data));
	file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file_fd < 0 || write(file_fd, data, sizeof(data)) != sizeof(data)) return -1;
	dup_fd = dup(file_fd);
	event_fd = eventfd(5, 0);
	if (event_fd < 0) return -1;
	if (mmap(ANON_AT, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != ANON_AT) return -1;
	strcpy(ANON_AT + 128, "shared after fork");
	int fd = memfd_create("family", 0);
	if (fd < 0 || ftruncate(fd, PAGE) != 0) return -1;
	if (mmap(MEMFD_AT, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0) != MEMFD_AT) return -1;
	close(fd);
	strcpy(MEMFD_AT + 128, "memfd after fork");
	return 0;
}

static int queued(int fd)
{
	int bytes = 0;
	return ioctl(fd, FIONREAD, &bytes) == 0 ? bytes : -1;
}

/* Waits until the parent's 'p' follows "back", then replies 'P' to each 'p'. */
static void serve_unix_child(void)
{
	int saw_back = 0, first = 1;
	for (;;) {
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		nanosleep(&pause, NULL);
		if (queued(connection) < (first ? 5 : 1))
			continue;
		char buf[256];
		ssize_t n = recv(connection, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			continue;
		if (first) saw_back = n >= 4 && memcmp(buf, "back", 4) == 0;
		for (ssize_t i = first ? 4 : 0; i < n; i++)
			if (buf[i] == 'p' && send(connection, saw_back ? "P" : "F", 1, 0) != 1) { }
		first = 0;
	}
}

static int check_unix(char *why, size_t len)
{
	static int consumed;
	char buf[8] = { 0 };
	if (!consumed) {
		if (recv(connection, buf, 5, MSG_DONTWAIT) != 5 || memcmp(buf, "hello", 5) != 0) { snprintf(why, len, "no hello queued"); return 0; }
		consumed = 1;
	}
	struct sockaddr_un name;
	socklen_t size = sizeof(name);
	if (getsockname(connection, (struct sockaddr *)&name, &size) != 0 || strcmp(name.sun_path, address.sun_path) != 0) {
		snprintf(why, len, "the accepted socket is not named %.200s", address.sun_path);
		return 0;
	}
	if (send(connection, "p", 1, 0) != 1) { snprintf(why, len, "send p"); return 0; }
	for (int i = 0; i < 2500 && queued(connection) < 1; i++) {
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	if (recv(connection, buf, 1, MSG_DONTWAIT) != 1 || buf[0] != 'P') { snprintf(why, len, "the child replied %c", buf[0]); return 0; }

	int client = socket(AF_UNIX, SOCK_STREAM, 0);
	if (client < 0 || connect(client, (struct sockaddr *)&address, sizeof(address)) != 0) { snprintf(why, len, "connect again"); return 0; }
	int accepted = accept(listener, NULL, NULL);
	int ok = accepted >= 0 && send(client, "z", 1, 0) == 1 && recv(accepted, buf, 1, 0) == 1 && buf[0] == 'z';
	close(client);
	close(accepted);
	if (!ok) snprintf(why, len, "a new connection to the listener failed");
	return ok;
}

static int setup_unix(void)
{
	snprintf(address.sun_path, sizeof(address.sun_path), "%.100s/sock", dir);
	listener = socket(AF_UNIX, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(listener, 4) != 0) return -1;
	return 0;
}

/* Forks the client of the unix mode; returns in the parent once both sides hold their unread bytes. */
static pid_t fork_unix_child(void)
{
	pid_t child = fork();
	if (child == 0) {
		detach_stdio();
		close(listener);
		connection = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connection < 0 || connect(connection, (struct sockaddr *)&address, sizeof(address)) != 0 || send(connection, "hello", 5, 0) != 5)
			_exit(1);
		serve_unix_child();
	}
	connection = accept(listener, NULL, NULL);
	if (connection < 0 || send(connection, "back", 4, 0) != 4) return -1;
	while (queued(connection) < 5) {
		struct timespec pause = { 0, 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	return child;
}

int main(int argc, char **argv)
{
	if (argc < 3) { fprintf(stderr, "usage: restore_shared memfd|family|unix DIR\n"); return 2; }
	snprintf(dir, sizeof(dir), "%.2000s", argv[2]);
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */
	int family = strcmp(argv[1], "family") == 0, unix_mode = strcmp(argv[1], "unix") == 0;
	int (*check)(char *, size_t) = check_memfd;
	int ready = 0;
	if (family) {
		check = check_family;
		ready = setup_family();
	} else if (unix_mode) {
		check = check_unix;
		ready = setup_unix();
	} else {
		ready = setup_memfd();
	}
	if (ready != 0) { perror("setup"); return 1; }

	pid_t child = 0;
	if (unix_mode) {
		fflush(stdout);
		child = fork_unix_child();
		if (child < 0) { perror("unix"); return 1; }
	}
	if (family) {
		fflush(stdout);
		child = fork();
		if (child < 0) { perror("fork"); return 1; }
		if (child == 0) {
			detach_stdio();
			serve_child();
		}
	}
	printf("READY pid=%d child=%d memfd=%d file=%d\n", getpid(), child, memfd, file_fd);
	fflush(stdout);
	detach_stdio();
	serve_checks(dir, &counter, check);
}

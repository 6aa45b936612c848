/* Fixture for restore: patterned heap and anonymous memory, a read-only
 * page, and files open at known offsets. Usage: restore_basic DIR MIB NFILES
 * [events]. With "events" it also holds an eventfd at 42, an empty pipe, a
 * signalfd for SIGUSR2 and a timerfd ticking every millisecond.
 * After READY its stdio is /dev/null. It counts in a loop, and whenever
 * DIR/check appears it checks its whole state, writes "pass COUNTER PID" or
 * "fail REASON" to DIR/result and removes DIR/check, so a restored copy can
 * be asked how it is. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "restore_check.h"

#define FILE_SIZE 8192

static const char *dir;
static size_t size;
static int nfiles;
static uint64_t *heap, *anon;
static unsigned char *readonly;
static void *reserved;
static int *fds;
static volatile unsigned long counter;
static int events, efd = -1, sfd = -1, tfd = -1, pipefd[2] = { -1, -1 };

static int check_events(char *why, size_t len)
{
	uint64_t value = 0;
	if (read(efd, &value, 8) != 8 || value != 42) { snprintf(why, len, "eventfd holds %llu", (unsigned long long)value); return 0; }
	if (write(efd, &value, 8) != 8) { snprintf(why, len, "eventfd write"); return 0; }
	char byte = 'x';
	if (write(pipefd[1], &byte, 1) != 1 || read(pipefd[0], &byte, 1) != 1 || byte != 'x') { snprintf(why, len, "pipe"); return 0; }
	uint64_t ticks = 0;
	if (read(tfd, &ticks, 8) != 8 || ticks == 0) { snprintf(why, len, "timerfd ticks %llu", (unsigned long long)ticks); return 0; }
	char path[64], info[512];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", sfd);
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, info, sizeof(info) - 1) : -1;
	if (fd >= 0) close(fd);
	info[n > 0 ? n : 0] = 0;
	if (!strstr(info, "sigmask:\t0000000000000800")) { snprintf(why, len, "signalfd mask"); return 0; }
	return 1;
}

static off_t offset_of(int i) { return (off_t)(i * 37 + 11) % (FILE_SIZE - 16); }
static uint64_t pattern(uint64_t i, uint64_t salt) { return (i * 0x9E3779B97F4A7C15ull) ^ salt; }

static int check(char *why, size_t len)
{
	for (size_t i = 0; i < size / 8; i++) {
		if (heap[i] != pattern(i, 0x1111)) { snprintf(why, len, "heap word %zu", i); return 0; }
		if (anon[i] != pattern(i, 0x2222)) { snprintf(why, len, "anon word %zu", i); return 0; }
	}
	for (int i = 0; i < 4096; i++)
		if (readonly[i] != (unsigned char)(i * 7)) { snprintf(why, len, "read-only byte %d", i); return 0; }
	for (int i = 0; i < nfiles; i++) {
		off_t pos = lseek(fds[i], 0, SEEK_CUR);
		if (pos != offset_of(i)) { snprintf(why, len, "file %d at %lld, expected %lld", i, (long long)pos, (long long)offset_of(i)); return 0; }
		int flags = fcntl(fds[i], F_GETFL);
		int want = (i % 2 ? O_RDWR : O_RDONLY) | (i % 3 == 0 ? O_APPEND : 0);
		if ((flags & (O_ACCMODE | O_APPEND)) != want) { snprintf(why, len, "file %d flags %#o", i, flags); return 0; }
		int cloexec = fcntl(fds[i], F_GETFD) & FD_CLOEXEC;
		if (cloexec != (i % 5 == 0)) { snprintf(why, len, "file %d close-on-exec %d", i, cloexec); return 0; }
		unsigned char byte;
		if (pread(fds[i], &byte, 1, offset_of(i)) != 1 || byte != (unsigned char)(i + offset_of(i))) {
			snprintf(why, len, "file %d content", i); return 0;
		}
	}
	return !events || check_events(why, len);
}

int main(int argc, char **argv)
{
	if (argc < 4) { fprintf(stderr, "usage: restore_basic DIR MIB NFILES\n"); return 2; }
	dir = argv[1];
	size = (size_t)atoi(argv[2]) << 20;
	nfiles = atoi(argv[3]);
	events = argc > 4 && strcmp(argv[4], "events") == 0;
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */

	heap = malloc(size);
	anon = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	readonly = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* A reservation as glibc makes for a thread arena: PROT_NONE with MAP_NORESERVE. */
	reserved = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	fds = calloc(nfiles, sizeof(int));
	if (!heap || anon == MAP_FAILED || readonly == MAP_FAILED || reserved == MAP_FAILED || !fds) { perror("alloc"); return 1; }
	for (size_t i = 0; i < size / 8; i++) {
		heap[i] = pattern(i, 0x1111);
		anon[i] = pattern(i, 0x2222);
	}
	for (int i = 0; i < 4096; i++)
		readonly[i] = (unsigned char)(i * 7);
	mprotect(readonly, 4096, PROT_READ);

	for (int i = 0; i < nfiles; i++) {
		char path[4096];
		unsigned char content[FILE_SIZE];
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		for (int j = 0; j < FILE_SIZE; j++)
			content[j] = (unsigned char)(i + j);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, content, FILE_SIZE) != FILE_SIZE) { perror(path); return 1; }
		close(fd);
		int flags = (i % 2 ? O_RDWR : O_RDONLY) | (i % 3 == 0 ? O_APPEND : 0) | (i % 5 == 0 ? O_CLOEXEC : 0);
		fds[i] = open(path, flags);
		if (fds[i] < 0 || lseek(fds[i], offset_of(i), SEEK_SET) != offset_of(i)) { perror(path); return 1; }
	}

	if (events) {
		sigset_t mask;
		sigemptyset(&mask);
		sigaddset(&mask, SIGUSR2);
		sigprocmask(SIG_BLOCK, &mask, NULL);
		struct itimerspec every = { { 0, 1000000 }, { 0, 1000000 } };
		efd = eventfd(42, EFD_NONBLOCK);
		sfd = signalfd(-1, &mask, SFD_CLOEXEC);
		tfd = timerfd_create(CLOCK_MONOTONIC, 0);
		if (efd < 0 || sfd < 0 || tfd < 0 || pipe(pipefd) != 0 || timerfd_settime(tfd, 0, &every, NULL) != 0) {
			perror("events");
			return 1;
		}
	}

	printf("READY pid=%d heap=%p anon=%p readonly=%p fd0=%d\n", getpid(), (void *)heap, (void *)anon, (void *)readonly,
	       nfiles ? fds[0] : -1);
	fflush(stdout);
	detach_stdio();
	serve_checks(dir, &counter, check);
}

/* Fixture for restore of files that exist only in memory. Usage:
 * restore_files DIR SHMDIR. It holds:
 * - fd A: memfd "restore-memfd", 10000 patterned bytes, a hole, "tail" at
 *   1 MiB, mode 0751, seals F_SEAL_SHRINK|F_SEAL_GROW, position 1234;
 * - fd B: the same memfd reopened read-only through /proc/self/fd, position 77;
 * - fd C: memfd "plain" without MFD_ALLOW_SEALING, 5 bytes, position 5;
 * - fd D: SHMDIR/gone, 3000 bytes, mode 0640, opened O_RDWR|O_APPEND,
 *   position 2000, and then unlinked.
 * When DIR/check appears it checks all of it and writes "pass COUNTER PID"
 * or "fail REASON" to DIR/result. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "restore_check.h"

static char dir[2048], gone[2048];
static int fd_a, fd_b, fd_c, fd_d;
static volatile unsigned long counter;

static unsigned char pattern(int i) { return (unsigned char)(i * 7 + 3); }

static int check_link(int fd, const char *want, char *why, size_t len)
{
	char path[64], link[4096];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	if (strcmp(link, want) != 0) { snprintf(why, len, "fd %d links to %.200s", fd, link); return 0; }
	return 1;
}

static int check_file(int fd, off_t size, mode_t mode, off_t position, char *why, size_t len)
{
	struct stat info;
	if (fstat(fd, &info) != 0 || info.st_size != size || (info.st_mode & 07777) != mode || info.st_nlink != 0) {
		snprintf(why, len, "fd %d size %lld mode %o links %lu", fd, (long long)info.st_size, info.st_mode & 07777,
			 (unsigned long)info.st_nlink);
		return 0;
	}
	if (lseek(fd, 0, SEEK_CUR) != position) { snprintf(why, len, "fd %d position %lld", fd, (long long)lseek(fd, 0, SEEK_CUR)); return 0; }
	return 1;
}

static int check(char *why, size_t len)
{
	unsigned char data[10000], tail[4];
	if (!check_file(fd_a, (1 << 20) + 4, 0751, 1234, why, len)) return 0;
	if (pread(fd_b, data, sizeof(data), 0) != sizeof(data) || pread(fd_b, tail, 4, 1 << 20) != 4) { snprintf(why, len, "memfd read"); return 0; }
	for (int i = 0; i < (int)sizeof(data); i++)
		if (data[i] != pattern(i)) { snprintf(why, len, "memfd byte %d", i); return 0; }
	if (memcmp(tail, "tail", 4) != 0) { snprintf(why, len, "memfd tail"); return 0; }
	if (fcntl(fd_a, F_GET_SEALS) != (F_SEAL_SHRINK | F_SEAL_GROW)) { snprintf(why, len, "seals %#x", fcntl(fd_a, F_GET_SEALS)); return 0; }
	if (lseek(fd_b, 0, SEEK_CUR) != 77 || (fcntl(fd_b, F_GETFL) & O_ACCMODE) != O_RDONLY) { snprintf(why, len, "fd B"); return 0; }
	if (!check_link(fd_a, "/memfd:restore-memfd (deleted)", why, len)) return 0;

	if (!check_file(fd_c, 5, 0777, 5, why, len)) return 0;
	if (fcntl(fd_c, F_GET_SEALS) != F_SEAL_SEAL) { snprintf(why, len, "plain memfd seals %#x", fcntl(fd_c, F_GET_SEALS)); return 0; }
	if (!check_link(fd_c, "/memfd:plain (deleted)", why, len)) return 0;

	if (!check_file(fd_d, 3000, 0640, 2000, why, len)) return 0;
	if ((fcntl(fd_d, F_GETFL) & (O_ACCMODE | O_APPEND)) != (O_RDWR | O_APPEND)) { snprintf(why, len, "deleted file flags"); return 0; }
	char want[4200];
	snprintf(want, sizeof(want), "%s (deleted)", gone);
	if (!check_link(fd_d, want, why, len)) return 0;
	for (int i = 0; i < 3000; i += 500) {
		unsigned char byte;
		if (pread(fd_d, &byte, 1, i) != 1 || byte != pattern(i + 1)) { snprintf(why, len, "deleted file byte %d", i); return 0; }
	}
	if (access(gone, F_OK) == 0) { snprintf(why, len, "%.200s exists", gone); return 0; }
	return 1;
}

static int setup(void)
{
	unsigned char data[10000];
	for (int i = 0; i < (int)sizeof(data); i++)
		data[i] = pattern(i);
	fd_a = memfd_create("restore-memfd", MFD_ALLOW_SEALING);
	if (fd_a < 0 || write(fd_a, data, sizeof(data)) != sizeof(data) || pwrite(fd_a, "tail", 4, 1 << 20) != 4) return -1;
	if (fchmod(fd_a, 0751) != 0 || fcntl(fd_a, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0 || lseek(fd_a, 1234, SEEK_SET) != 1234) return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd_a);
	fd_b = open(path, O_RDONLY);
	if (fd_b < 0 || lseek(fd_b, 77, SEEK_SET) != 77) return -1;

	fd_c = memfd_create("plain", 0);
	if (fd_c < 0 || write(fd_c, "plain", 5) != 5) return -1;

	fd_d = open(gone, O_RDWR | O_CREAT | O_EXCL, 0600);
	for (int i = 0; i < 3000; i++)
		data[i] = pattern(i + 1);
	if (fd_d < 0 || write(fd_d, data, 3000) != 3000 || fchmod(fd_d, 0640) != 0) return -1;
	close(fd_d);
	fd_d = open(gone, O_RDWR | O_APPEND);
	if (fd_d < 0 || lseek(fd_d, 2000, SEEK_SET) != 2000) return -1;
	return unlink(gone);
}

int main(int argc, char **argv)
{
	if (argc < 3) { fprintf(stderr, "usage: restore_files DIR SHMDIR\n"); return 2; }
	snprintf(dir, sizeof(dir), "%.2000s", argv[1]);
	snprintf(gone, sizeof(gone), "%.2000s/gone", argv[2]);
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */
	if (setup() != 0) { perror("setup"); return 1; }

	printf("READY pid=%d a=%d b=%d c=%d d=%d\n", getpid(), fd_a, fd_b, fd_c, fd_d);
	fflush(stdout);
	detach_stdio();
	serve_checks(dir, &counter, check);
}

/* Fixture: regular files at set offsets with set flags, one close-on-exec,
 * a deleted file, a pipe, a mapping of known size and protection, and N
 * threads. Prints READY with the values a test asserts, then waits. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define THREADS 3

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int open_at(const char *path, int flags, off_t offset)
{
	char block[8192];
	int fill = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	int fd;

	memset(block, 'x', sizeof(block));
	if (fill < 0 || write(fill, block, sizeof(block)) != (ssize_t)sizeof(block)) {
		perror(path);
		exit(1);
	}
	close(fill);

	fd = open(path, flags);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	lseek(fd, offset, SEEK_SET);
	return fd;
}

int main(void)
{
	char dir[] = "/tmp/bpfcp-fixture-XXXXXX";
	char a[256], b[256], gone[256];
	pthread_t tids[THREADS];
	int fa, fb, fgone, pipefd[2];
	void *map;

	if (!mkdtemp(dir))
		return 1;
	snprintf(a, sizeof(a), "%s/alpha", dir);
	snprintf(b, sizeof(b), "%s/beta", dir);
	snprintf(gone, sizeof(gone), "%s/deleted", dir);

	fa = open_at(a, O_RDWR, 100);
	fb = open_at(b, O_WRONLY | O_APPEND | O_CLOEXEC, 4096);
	fgone = open_at(gone, O_RDONLY, 7);
	unlink(gone);
	if (pipe(pipefd) != 0)
		return 1;

	map = mmap(NULL, 5 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return 1;

	for (int i = 0; i < THREADS; i++)
		pthread_create(&tids[i], NULL, idle_thread, NULL);

	printf("READY dir=%s fd_alpha=%d fd_beta=%d fd_deleted=%d pipe_r=%d pipe_w=%d map=%lx threads=%d\n",
	       dir, fa, fb, fgone, pipefd[0], pipefd[1], (unsigned long)map, THREADS + 1);
	fflush(stdout);
	for (;;)
		pause();
}

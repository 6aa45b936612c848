/* Fixture: a FIFO opened for reading and writing in one fd, holding 5
 * bytes, and a 64 KiB pipe with 4096 + 100 bytes queued over two slots.
 * Prints READY with the fds, the FIFO path and the capacities that
 * F_GETPIPE_SZ reports, then waits. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	char dir[] = "/tmp/bpfcp-fifo-XXXXXX";
	char path[256], block[4096];
	int fifo, pipefd[2];

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/queue", dir);
	if (mkfifo(path, 0600) != 0 || (fifo = open(path, O_RDWR)) < 0 || write(fifo, "hello", 5) != 5) {
		perror(path);
		return 1;
	}

	memset(block, 'p', sizeof(block));
	if (pipe(pipefd) != 0 || write(pipefd[1], block, sizeof(block)) != (ssize_t)sizeof(block) ||
	    write(pipefd[1], block, 100) != 100) {
		perror("pipe");
		return 1;
	}

	printf("READY fifo=%d fifo_path=%s fifo_size=%d pipe_r=%d pipe_w=%d pipe_size=%d\n", fifo, path,
	       fcntl(fifo, F_GETPIPE_SZ), pipefd[0], pipefd[1], fcntl(pipefd[0], F_GETPIPE_SZ));
	fflush(stdout);
	for (;;)
		pause();
}

/* Benchmark target for checkpoints: 200 open files, a pipe, an eventfd, a
 * unix socket pair and MIB (argv[1], default 64) MiB of touched anonymous
 * memory. Prints its pid, then waits until killed. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t size = (argc > 1 ? strtoul(argv[1], NULL, 10) : 64) << 20;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	int pipefd[2], pair[2];
	char *memory;

	for (int i = 0; i < 200; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/bench-file-%d", dir, i);
		if (open(path, O_RDWR | O_CREAT, 0600) < 0) {
			perror(path);
			return 1;
		}
	}
	if (pipe(pipefd) != 0 || eventfd(7, 0) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
		perror("pipe, eventfd or socketpair");
		return 1;
	}
	memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (memory == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (size_t i = 0; i < size; i += 4096)
		memset(memory + i, (int)(i >> 12) | 1, 4096);

	printf("READY pid=%d\n", getpid());
	fflush(stdout);
	for (;;)
		pause();
}

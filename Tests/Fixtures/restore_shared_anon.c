/* Fixture for a family restore that must be rejected: a parent and child
 * that share one MAP_SHARED|MAP_ANONYMOUS page after fork(). Prints
 * "READY pid=P child=C", then both wait until killed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	strcpy(page, "shared after fork");
	int out = dup(1);
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	close(null);
	pid_t child = fork();
	if (child == 0) {
		close(out);
		for (;;)
			pause();
	}
	dprintf(out, "READY pid=%d child=%d\n", getpid(), child);
	close(out);
	for (;;)
		pause();
}

/* Target for snapshot copies that write their own pages: MIB (argv[1])
 * MiB of patterned anonymous memory, a pipe and a file opened at a known
 * offset, and / as its working directory. By MODE (argv[2]):
 *   plain    nothing more;
 *   protnone 4 more patterned pages, then made PROT_NONE, which the
 *            copy cannot write with pwrite64;
 *   nobody   the process switches to uid and gid 65534 once set up, so
 *            its copy cannot open bpfcp's scratch files.
 * Prints READY with the addresses, then waits until killed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HIDDEN_PAGES 4

static uint64_t pattern(uint64_t index)
{
	return (index * 0x9E3779B97F4A7C15ULL) ^ 0x5BD1E9955BD1E995ULL;
}

static void *patterned(size_t size, uint64_t first)
{
	uint64_t *area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (area == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	for (size_t i = 0; i < size / 8; i++)
		area[i] = pattern(first + i);
	return area;
}

int main(int argc, char **argv)
{
	size_t size = (argc > 1 ? strtoul(argv[1], NULL, 10) : 16) << 20;
	const char *mode = argc > 2 ? argv[2] : "plain";
	size_t hidden_size = HIDDEN_PAGES * 4096;
	void *region = patterned(size, 0);
	void *hidden = NULL;
	int pipefd[2], file;

	if (pipe(pipefd) != 0 || chdir("/") != 0) {
		perror("pipe or chdir");
		return 1;
	}
	file = open("/proc/self/exe", O_RDONLY);
	if (file < 0 || lseek(file, 100, SEEK_SET) != 100) {
		perror("/proc/self/exe");
		return 1;
	}
	if (strcmp(mode, "protnone") == 0) {
		hidden = patterned(hidden_size, 1000);
		if (mprotect(hidden, hidden_size, PROT_NONE) != 0) {
			perror("mprotect");
			return 1;
		}
	}
	if (strcmp(mode, "nobody") == 0 && (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
					    setresuid(65534, 65534, 65534) != 0)) {
		perror("dropping to uid 65534");
		return 1;
	}

	printf("READY region=%lu size=%zu hidden=%lu hidden_size=%zu\n", (unsigned long)region, size,
	       (unsigned long)hidden, hidden ? hidden_size : 0);
	fflush(stdout);
	for (;;)
		pause();
}

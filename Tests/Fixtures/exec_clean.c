/* Runs a program without the fds the test runner leaked: closes every fd
 * above 2, then execs argv[1] with the remaining arguments. Usage:
 * exec_clean PROGRAM [ARG...]. */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: exec_clean PROGRAM [ARG...]\n");
		return 2;
	}
	close_range(3, ~0U, 0);
	execv(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}

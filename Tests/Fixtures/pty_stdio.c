/* Fixture for verify tests. Opens a pty pair with posix_openpt and forks a
 * child whose stdin, stdout and stderr are the pty slave, with the file
 * argv[1] open read-only at fd 3 and read to its end, and not mapped. The
 * parent keeps the master open, so the pty stays usable, and prints READY
 * with the child's pid and the slave's path once the child wrote "ok" to the
 * pty. Both then wait. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void run_child(const char *slave_path, const char *file)
{
	char buffer[4096];
	int slave = open(slave_path, O_RDWR | O_NOCTTY);

	if (slave < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		_exit(1);
	/* Fds the test runner leaked into the fixture would be in the image too. */
	for (int fd = 3; fd < 4096; fd++)
		close(fd);
	if (open(file, O_RDONLY) != 3)
		_exit(1);
	while (read(3, buffer, sizeof(buffer)) > 0)
		;
	printf("ok\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	char line[64];
	size_t used = 0;
	const char *slave_path;
	pid_t child;
	int master;

	if (argc < 2)
		return 2;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || (slave_path = ptsname(master)) == NULL)
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(master);
		run_child(slave_path, argv[1]);
	}
	/* With SIGCHLD ignored, the kernel reaps the child once a dump with --kill ends it. */
	signal(SIGCHLD, SIG_IGN);
	while (used < sizeof(line) - 1 && (used == 0 || line[used - 1] != '\n')) {
		ssize_t n = read(master, line + used, 1);
		if (n <= 0)
			return 1;
		used += (size_t)n;
	}
	printf("READY pid=%d pts=%s\n", (int)child, slave_path);
	fflush(stdout);
	for (;;)
		pause();
}

/* Fixture for a process whose forked child shares its listening socket.
 * Usage: forked_listener [own-group].
 * The parent listens on 127.0.0.1 (a port the kernel picks, backlog 5) and
 * forks a child named "lchild" that keeps the listener and waits. The child
 * stays in the parent's process group, or with "own-group" moves to a group
 * of its own. The parent prints "READY child=C port=P fd=F", moves its
 * stdin, stdout and stderr to /dev/null (the child too) and waits. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void stdio_to_null(void)
{
	int null = open("/dev/null", O_RDWR);
	for (int fd = 0; fd <= 2; fd++)
		dup2(null, fd);
	if (null > 2)
		close(null);
}

int main(int argc, char **argv)
{
	int own_group = argc > 1 && strcmp(argv[1], "own-group") == 0;
	/* Fds the harness leaked (its unix sockets) would make the image unrestorable for another reason. */
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t length = sizeof(address);
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(listener, 5) != 0
	    || getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
		perror("listener");
		return 1;
	}

	int ready[2];
	if (pipe(ready) != 0)
		return 1;
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_NAME, "lchild");
		if (own_group)
			setpgid(0, 0);
		stdio_to_null();
		close(ready[0]);
		write(ready[1], "x", 1);
		close(ready[1]);
		for (;;)
			pause();
	}
	close(ready[1]);
	char byte;
	read(ready[0], &byte, 1);
	close(ready[0]);

	printf("READY child=%d port=%d fd=%d\n", child, ntohs(address.sin_port), listener);
	fflush(stdout);
	stdio_to_null();
	for (;;)
		pause();
}
